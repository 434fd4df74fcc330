//! `schedulerctl cron preview`: the server's reading of an expression and its next fires.

use super::print::show;
use crate::cli::CronCommand;
use crate::client::Client;
use crate::failure::Failure;
use crate::output::Format;
use crate::tables;

/// Runs `command`.
pub(crate) async fn run(
    client: &Client,
    format: Format,
    command: CronCommand,
) -> Result<(), Failure> {
    let CronCommand::Preview(args) = command;
    let mut query = vec![("expression".to_string(), args.expression.join(" "))];
    if let Some(timezone) = args.timezone {
        query.push(("timezone".into(), timezone));
    }
    if let Some(after) = args.after {
        query.push(("after".into(), after));
    }
    if let Some(count) = args.count {
        query.push(("count".into(), count.to_string()));
    }
    let answer = client.get("/scheduler/cron/preview/", &query).await?;
    show(format, &answer, tables::preview)
}
