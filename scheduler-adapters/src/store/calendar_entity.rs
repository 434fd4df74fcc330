//! The sea-orm entity of the `calendars` table and its conversion to and from the core
//! `Calendar`.

use scheduler_core::{
    Calendar, CalendarDef, CalendarName, Description, RepositoryError, Tenant, Timezone,
    ValidationErrors,
};
use sea_orm::entity::prelude::*;

use super::micros;

/// One row of `calendars`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "calendars")]
pub(crate) struct Model {
    /// Identity.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Owning tenant.
    pub tenant: String,
    /// Unique in the tenant.
    pub name: String,
    /// IANA zone its dates are read in.
    pub timezone: String,
    /// Free text.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// The entries, a JSON array as text (`CalendarDef::entries_text`).
    #[sea_orm(column_type = "Text")]
    pub dates: String,
    /// Creation instant.
    pub created_at: DateTimeUtc,
    /// Last change instant.
    pub updated_at: DateTimeUtc,
    /// The key that created it.
    pub created_by: Option<String>,
    /// The key that last changed it.
    pub updated_by: Option<String>,
}

/// `calendars` has no relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub(crate) enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A stored row that no longer validates is reported, not trusted.
fn corrupt(id: i64, field: &str, problem: impl std::fmt::Debug) -> RepositoryError {
    RepositoryError::Unavailable(format!(
        "calendar {id} has an invalid stored {field}: {problem:?}"
    ))
}

impl Model {
    /// The core calendar this row stores, every value validated again.
    pub(crate) fn into_calendar(self) -> Result<Calendar, RepositoryError> {
        let id = self.id;
        let dates: serde_json::Value =
            serde_json::from_str(&self.dates).map_err(|e| corrupt(id, "dates", e))?;
        let mut errors = ValidationErrors::new();
        let entries = CalendarDef::read_entries(&dates, &mut errors)
            .ok_or_else(|| corrupt(id, "dates", errors.to_string()))?;
        Ok(Calendar {
            def: CalendarDef {
                name: CalendarName::parse(&self.name).map_err(|e| corrupt(id, "name", e))?,
                timezone: Timezone::parse(&self.timezone)
                    .map_err(|e| corrupt(id, "timezone", e))?,
                description: Description::parse(&self.description)
                    .map_err(|e| corrupt(id, "description", e))?,
                entries,
            },
            tenant: Tenant::parse(&self.tenant).map_err(|e| corrupt(id, "tenant", e))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            created_by: self.created_by,
            updated_by: self.updated_by,
        })
    }

    /// The row storing `calendar` (without an id).
    pub(crate) fn from_calendar(calendar: &Calendar) -> Self {
        Self {
            id: 0,
            tenant: calendar.tenant.as_str().to_string(),
            name: calendar.def.name.as_str().to_string(),
            timezone: calendar.def.timezone.name().to_string(),
            description: calendar.def.description.as_str().to_string(),
            dates: calendar.def.entries_text(),
            created_at: micros(calendar.created_at),
            updated_at: micros(calendar.updated_at),
            created_by: calendar.created_by.clone(),
            updated_by: calendar.updated_by.clone(),
        }
    }
}
