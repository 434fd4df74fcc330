//! `/scheduler/calendars/`: a tenant's named calendars of excluded days — list, create, read,
//! replace (every job using one is recomputed in the same transaction) and delete (refused
//! while a job lists it).

use poem_openapi::param::Path;
use poem_openapi::{ApiResponse, Object, OpenApi};
use scheduler_core::{Calendar, CalendarDraft, JobService};
use serde_json::Value;

use super::body::{as_object, name_from_path};
use super::docs::{CalendarInputDoc, LooseBody, RawParam};
use super::output::FastJson;
use super::tags::ApiTags;
use super::wire_time::UtcInstant;
use crate::auth::{Caller, NeededScope, Read, Write};
use crate::error::{OpError, errors};

/// One excluded date or range, as stored.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "CalendarDateOut")]
pub struct CalendarDateOut {
    /// The first excluded day.
    pub from: chrono::NaiveDate,
    /// The last excluded day (included).
    pub to: chrono::NaiveDate,
    /// True: the same days every year.
    pub yearly: bool,
    /// What the days are.
    #[oai(nullable)]
    pub label: Option<String>,
}

/// A calendar.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "Calendar")]
pub struct CalendarOut {
    /// Unique in the tenant.
    pub name: String,
    /// The zone its dates are read in.
    pub timezone: String,
    /// Free text.
    pub description: String,
    /// The excluded days.
    pub dates: Vec<CalendarDateOut>,
    /// Creation instant.
    pub created_at: UtcInstant,
    /// Last change instant.
    pub updated_at: UtcInstant,
    /// The key that created it.
    #[oai(nullable)]
    pub created_by: Option<String>,
    /// The key that last changed it.
    #[oai(nullable)]
    pub updated_by: Option<String>,
}

impl From<Calendar> for CalendarOut {
    fn from(calendar: Calendar) -> Self {
        Self {
            name: calendar.def.name.to_string(),
            timezone: calendar.def.timezone.name().to_string(),
            description: calendar.def.description.as_str().to_string(),
            dates: calendar
                .def
                .entries
                .into_iter()
                .map(|entry| CalendarDateOut {
                    from: entry.from,
                    to: entry.to,
                    yearly: entry.yearly,
                    label: entry.label,
                })
                .collect(),
            created_at: UtcInstant(calendar.created_at),
            updated_at: UtcInstant(calendar.updated_at),
            created_by: calendar.created_by,
            updated_by: calendar.updated_by,
        }
    }
}

/// A calendar written, with the jobs it changed.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "CalendarSaved")]
pub struct CalendarSavedOut {
    /// The calendar as stored.
    pub calendar: CalendarOut,
    /// The jobs that list it, rewritten with its new days (their `next_run` recomputed),
    /// ascending.
    pub job_ids: Vec<i64>,
}

/// The tenant's calendars.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(rename = "CalendarList")]
pub struct CalendarListOut {
    /// How many.
    pub count: usize,
    /// By name.
    pub results: Vec<CalendarOut>,
}

/// 201 or 200 with the calendar written.
#[derive(Debug, ApiResponse)]
pub enum Saved {
    /// Created; `Location` is its URL.
    #[oai(status = 201)]
    Created(
        FastJson<CalendarSavedOut>,
        #[oai(header = "Location")] String,
    ),
    /// Replaced.
    #[oai(status = 200)]
    Replaced(FastJson<CalendarSavedOut>),
}

/// 200 with one calendar.
#[derive(Debug, ApiResponse)]
pub enum Found {
    /// The calendar.
    #[oai(status = 200)]
    Calendar(FastJson<CalendarOut>),
}

/// 200 with the list.
#[derive(Debug, ApiResponse)]
pub enum Listed {
    /// Every calendar of the tenant.
    #[oai(status = 200)]
    Calendars(FastJson<CalendarListOut>),
}

/// 204 after a delete.
#[derive(Debug, ApiResponse)]
pub enum Deleted {
    /// The calendar is gone.
    #[oai(status = 204)]
    Gone,
}

/// The calendar endpoints.
pub struct CalendarsApi {
    /// The use cases.
    pub service: JobService,
}

/// The URL path of a calendar.
pub fn calendar_path(name: &str) -> String {
    format!("/scheduler/calendars/{name}/")
}

/// Reads a calendar body; `path_name` (a PUT's) is the name when the body has none, and must
/// match it when it has one.
fn read_calendar(
    body: &Value,
    path_name: Option<&str>,
) -> Result<CalendarDraft, scheduler_core::ValidationErrors> {
    let object = as_object(body)?;
    let mut draft = CalendarDraft::default();
    let text = |field: &str, errors: &mut scheduler_core::ValidationErrors| match object.get(field)
    {
        None | Some(Value::Null) => None,
        Some(Value::String(value)) => Some(value.clone()),
        Some(_) => {
            errors.add(field, scheduler_core::Invalid::NotAString);
            None
        }
    };
    let mut errors = scheduler_core::ValidationErrors::new();
    draft.name = text("name", &mut errors);
    draft.timezone = text("timezone", &mut errors);
    draft.description = text("description", &mut errors);
    draft.dates = object.get("dates").filter(|v| !v.is_null()).cloned();
    name_from_path(&mut draft.name, path_name, &mut errors);
    draft.input_errors = errors;
    Ok(draft)
}

impl CalendarsApi {
    fn service<S: NeededScope>(&self, caller: Caller<S>) -> JobService {
        self.service.acting_as(caller.into_principal())
    }
}

fn saved_out(saved: scheduler_core::CalendarSaved) -> CalendarSavedOut {
    CalendarSavedOut {
        calendar: saved.calendar.into(),
        job_ids: saved.jobs.into_iter().map(|id| id.0).collect(),
    }
}

#[OpenApi]
impl CalendarsApi {
    /// List your tenant's calendars.
    #[oai(
        path = "/scheduler/calendars",
        method = "get",
        tag = "ApiTags::Calendars",
        operation_id = "listCalendars"
    )]
    async fn list(&self, caller: Caller<Read>) -> Result<Listed, OpError<errors::ListCalendars>> {
        let calendars = self.service(caller).list_calendars().await?;
        Ok(Listed::Calendars(FastJson(CalendarListOut {
            count: calendars.len(),
            results: calendars.into_iter().map(CalendarOut::from).collect(),
        })))
    }

    /// Create a calendar: dates and date ranges (optionally yearly) read in its time zone.
    /// Jobs list it by name in `calendars` to skip (or move) their fires on those days.
    ///
    /// A taken name answers 400 `{"name": ["calendar with this name already exists."]}`.
    #[oai(
        path = "/scheduler/calendars",
        method = "post",
        tag = "ApiTags::Calendars",
        operation_id = "createCalendar"
    )]
    async fn create(
        &self,
        caller: Caller<Write>,
        body: poem_openapi::payload::Json<LooseBody<CalendarInputDoc>>,
    ) -> Result<Saved, OpError<errors::SaveCalendar>> {
        let draft = read_calendar(&body.0.raw, None)?;
        let saved = self.service(caller).save_calendar(draft, false).await?;
        let location = calendar_path(saved.calendar.def.name.as_str());
        Ok(Saved::Created(FastJson(saved_out(saved)), location))
    }

    /// Get one calendar.
    #[oai(
        path = "/scheduler/calendars/:name",
        method = "get",
        tag = "ApiTags::Calendars",
        operation_id = "getCalendar"
    )]
    async fn get(
        &self,
        caller: Caller<Read>,
        name: Path<RawParam<String>>,
    ) -> Result<Found, OpError<errors::OneCalendar>> {
        let calendar = self.service(caller).get_calendar(&name.0.raw).await?;
        Ok(Found::Calendar(FastJson(calendar.into())))
    }

    /// Create or replace the calendar of this name (201 when new, 200 when replaced). Every
    /// job listing it gets its new days in the same transaction, its `next_run` recomputed;
    /// `job_ids` names them.
    #[oai(
        path = "/scheduler/calendars/:name",
        method = "put",
        tag = "ApiTags::Calendars",
        operation_id = "putCalendar"
    )]
    async fn put(
        &self,
        caller: Caller<Write>,
        name: Path<RawParam<String>>,
        body: poem_openapi::payload::Json<LooseBody<CalendarInputDoc>>,
    ) -> Result<Saved, OpError<errors::SaveCalendar>> {
        let draft = read_calendar(&body.0.raw, Some(name.0.raw.trim()))?;
        let saved = self.service(caller).save_calendar(draft, true).await?;
        if saved.created {
            let location = calendar_path(saved.calendar.def.name.as_str());
            Ok(Saved::Created(FastJson(saved_out(saved)), location))
        } else {
            Ok(Saved::Replaced(FastJson(saved_out(saved))))
        }
    }

    /// Delete a calendar; refused with 409 while a job lists it.
    #[oai(
        path = "/scheduler/calendars/:name",
        method = "delete",
        tag = "ApiTags::Calendars",
        operation_id = "deleteCalendar"
    )]
    async fn delete(
        &self,
        caller: Caller<Write>,
        name: Path<RawParam<String>>,
    ) -> Result<Deleted, OpError<errors::DeleteCalendar>> {
        self.service(caller).delete_calendar(&name.0.raw).await?;
        Ok(Deleted::Gone)
    }
}
