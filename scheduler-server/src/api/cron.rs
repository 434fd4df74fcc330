//! `/scheduler/cron/preview/`: validate an expression and list its next fire instants.

use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::{CronSchedule, Timezone, ValidationErrors};

use super::ApiTags;
use super::dto::{DATETIME_FORMAT, RawParam, UtcInstant, parse_instant};
use crate::error::ApiError;

/// The preview of an expression.
#[derive(Debug, Clone, Object)]
pub struct CronPreview {
    /// The expression as sent (trimmed).
    pub expression: String,
    /// The IANA zone it was read in.
    pub timezone: String,
    /// A short English reading, e.g. "At 09:00 on Monday".
    pub description: String,
    /// The first `count` fire instants at or after `after`, RFC 3339 in UTC.
    pub next_runs: Vec<UtcInstant>,
}

/// 200 with the preview.
#[derive(Debug, ApiResponse)]
pub enum Previewed {
    /// The expression is valid.
    #[oai(status = 200)]
    Preview(Json<CronPreview>),
}

/// Most instants one preview lists.
pub const MAX_COUNT: usize = 100;

/// The cron tools.
pub struct CronApi;

#[OpenApi]
impl CronApi {
    /// Preview a cron expression: its reading and next fire instants.
    ///
    /// Invalid input answers 400 `{"<param>": ["<message>"]}` naming each bad parameter.
    #[oai(
        path = "/scheduler/cron/preview",
        method = "get",
        tag = "ApiTags::Cron"
    )]
    async fn preview(
        &self,
        /// Standard 5-field expression or macro, e.g. `0 9 * * 1` or `@daily`.
        expression: Query<Option<RawParam<String>>>,
        /// IANA time zone (default `UTC`).
        timezone: Query<Option<RawParam<String>>>,
        /// List fires at or after this RFC 3339 instant (default now).
        after: Query<Option<RawParam<chrono::DateTime<chrono::Utc>>>>,
        /// How many fires to list, 1-100 (default 5).
        count: Query<Option<RawParam<u32>>>,
    ) -> Result<Previewed, ApiError> {
        let mut errors = ValidationErrors::new();
        let schedule = match expression.0.as_ref().map(|e| e.raw.as_str()) {
            None => {
                errors.add("expression", "This parameter is required.");
                None
            }
            Some(raw) => CronSchedule::parse(raw)
                .map_err(|e| errors.add("expression", format!("Invalid CRON expression: {e}")))
                .ok(),
        };
        let zone = match timezone.0.as_ref() {
            None => Some(Timezone::default()),
            Some(raw) => Timezone::parse(&raw.raw)
                .map_err(|message| errors.add("timezone", message))
                .ok(),
        };
        let after = match after.0.as_ref() {
            None => Some(chrono::Utc::now()),
            Some(raw) => {
                let parsed = parse_instant(&raw.raw);
                if parsed.is_none() {
                    errors.add("after", DATETIME_FORMAT);
                }
                parsed
            }
        };
        let count = match count.0.as_ref() {
            None => Some(5),
            Some(raw) => match raw.raw.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_COUNT).contains(&n) => Some(n),
                _ => {
                    errors.add(
                        "count",
                        format!("Ensure this value is an integer between 1 and {MAX_COUNT}."),
                    );
                    None
                }
            },
        };
        match (schedule, zone, after, count) {
            (Some(schedule), Some(zone), Some(after), Some(count)) if errors.is_empty() => {
                let next_runs = schedule
                    .upcoming(after, zone.tz(), count)
                    .into_iter()
                    .map(UtcInstant)
                    .collect();
                Ok(Previewed::Preview(Json(CronPreview {
                    expression: schedule.expression().to_string(),
                    timezone: zone.name().to_string(),
                    description: schedule.describe(),
                    next_runs,
                })))
            }
            _ => Err(errors.into()),
        }
    }
}
