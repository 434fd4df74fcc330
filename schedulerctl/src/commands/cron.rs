//! `schedulerctl cron preview`: the server's reading of an expression and its next fires,
//! marked by the calendars given (`--calendar`).

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
    if !args.calendars.is_empty() {
        query.push(("calendars".into(), args.calendars.join(",")));
    }
    if let Some(choice) = args.on_excluded {
        query.push(("on_excluded".into(), choice));
    }
    let answer = client.get("/scheduler/cron/preview/", &query).await?;
    show(format, &answer, tables::preview)
}
