//! `schedulerctl audit list` over `/scheduler/audit/` (an admin key's tenant): who changed
//! which job, calendar, channel or key, newest first, in cursor pages.

use super::print::show_list;
use crate::cli::{AuditCommand, AuditListArgs};
use crate::client::Client;
use crate::failure::Failure;
use crate::listing;
use crate::output::Format;
use crate::tables;

/// Runs `command`.
pub(crate) async fn run(
    client: &Client,
    format: Format,
    command: AuditCommand,
) -> Result<(), Failure> {
    match command {
        AuditCommand::List(args) => list(client, format, &args).await,
    }
}

/// `audit list`.
async fn list(client: &Client, format: Format, args: &AuditListArgs) -> Result<(), Failure> {
    let given = [
        ("kind", &args.kind),
        ("subject", &args.subject),
        ("actor", &args.actor),
        ("since", &args.since),
        ("until", &args.until),
    ];
    let filters = given
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|value| (name.to_string(), value)))
        .collect();
    let listing = listing::fetch(client, "/scheduler/audit/", filters, &args.pages.pages()).await?;
    show_list(format, &listing, tables::audit, "entries", None)
}
