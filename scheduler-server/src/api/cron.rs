//! `/scheduler/cron/preview/`: validate an expression and list its next fire instants.

use poem_openapi::param::Query;
use poem_openapi::{ApiResponse, OpenApi};
use std::sync::Arc;

use scheduler_core::{Clock, PreviewRequest};

use super::body::ParamReader;
use super::choices::{OneOf, Timezones};
use super::docs::{IntRange, RawParam, RequiredParam, raw};
use super::output::{FastJson, PreviewOut};
use super::tags::ApiTags;
use crate::auth::{Caller, Read};
use crate::error::{OpError, errors};

/// 200 with the preview.
#[derive(Debug, ApiResponse)]
pub enum Previewed {
    /// The expression is valid.
    #[oai(status = 200)]
    Preview(FastJson<PreviewOut>),
}

/// The cron tools.
pub struct CronApi {
    /// "Now", the default start of a preview.
    pub clock: Arc<dyn Clock>,
    /// Resolves the calendars a preview marks fires by (the caller's tenant's).
    pub service: scheduler_core::JobService,
}

#[OpenApi]
impl CronApi {
    /// Preview a cron expression: its reading and next fire instants.
    ///
    /// Invalid input answers 400 `{"<param>": ["<message>"]}` naming each bad parameter.
    #[oai(
        path = "/scheduler/cron/preview",
        method = "get",
        tag = "ApiTags::Cron",
        operation_id = "previewCron"
    )]
    #[allow(clippy::too_many_arguments)] // one argument per documented query parameter
    async fn preview(
        &self,
        caller: Caller<Read>,
        /// Standard 5-field expression or macro, e.g. `0 9 * * 1` or `@daily`.
        expression: Query<RequiredParam<String>>,
        /// IANA time zone (default `UTC`).
        timezone: Query<Option<RawParam<OneOf<Timezones>>>>,
        /// List fires at or after this RFC 3339 instant (default now).
        after: Query<Option<RawParam<chrono::DateTime<chrono::Utc>>>>,
        /// How many fires to list, 1-100 (default 5).
        count: Query<Option<RawParam<IntRange<1, 100>>>>,
        /// A local time that occurs twice when clocks go back fires `once` (default) or
        /// `twice`, as the job's `dst_overlap`.
        dst_overlap: Query<Option<RawParam<OneOf<scheduler_core::DstOverlap>>>>,
        /// Comma-separated names of your tenant's calendars: each fire on a day one of them
        /// excludes is listed in `excluded` with the calendar (and, with `on_excluded=move`,
        /// its new instant in `moved_to`).
        calendars: Query<Option<RawParam<String>>>,
        /// `skip` (default) or `move`, as the job's `on_excluded`.
        on_excluded: Query<Option<RawParam<OneOf<scheduler_core::OnExcluded>>>>,
    ) -> Result<Previewed, OpError<errors::Preview>> {
        let names: Vec<String> = raw(&calendars.0)
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let mut calendars = self
            .service
            .acting_as(caller.into_principal())
            .calendar_rules(&names)
            .await?;
        let mut params = ParamReader::default();
        if let Some(choice) = raw(&on_excluded.0) {
            match <scheduler_core::OnExcluded as scheduler_core::WireEnum>::parse(choice) {
                Ok(choice) => calendars.on_excluded = choice,
                Err(problem) => params.errors.add("on_excluded", problem),
            }
        }
        let request = PreviewRequest {
            after: params.instant("after", raw(&after.0)),
            count: params.integer("count", raw(&count.0)),
            expression: expression.0.raw,
            timezone: raw(&timezone.0).map(str::to_string),
            dst_overlap: raw(&dst_overlap.0).map(str::to_string),
            calendars,
            input_errors: params.errors,
        };
        let preview = request.evaluate(self.clock.now())?;
        Ok(Previewed::Preview(FastJson(preview.into())))
    }
}
