//! [`Calendar`]: a calendar of excluded days a program declares in code (bank holidays, a
//! freeze), reconciled with the store at every start before the schedules that list it.

use chrono::NaiveDate;
use scheduler_core::CalendarDraft;
use serde_json::{Value, json};

/// A named calendar of days jobs do not fire on, read in its time zone. Declared with
/// [`crate::SchedulerBuilder::calendar`]; a [`crate::Schedule`] lists it with
/// [`crate::Schedule::exclude`]. Changing it changes every job that lists it (their next run
/// is recomputed).
#[derive(Debug, Clone)]
pub struct Calendar {
    pub(crate) name: String,
    timezone: String,
    description: Option<String>,
    dates: Vec<Value>,
}

impl Calendar {
    /// An empty calendar named `name` (unique in the tenant: letters, digits, `-`, `_`, `.`)
    /// whose dates are read in the IANA zone `timezone`.
    pub fn new(name: impl Into<String>, timezone: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            timezone: timezone.into(),
            description: None,
            dates: Vec::new(),
        }
    }

    /// Free text describing it.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Excludes one day.
    #[must_use]
    pub fn date(self, day: NaiveDate, label: &str) -> Self {
        self.entry(day, day, false, label)
    }

    /// Excludes `from` to `to`, both included.
    #[must_use]
    pub fn range(self, from: NaiveDate, to: NaiveDate, label: &str) -> Self {
        self.entry(from, to, false, label)
    }

    /// Excludes this month and day every year (a fixed holiday; its year is ignored).
    #[must_use]
    pub fn yearly(self, day: NaiveDate, label: &str) -> Self {
        self.entry(day, day, true, label)
    }

    fn entry(mut self, from: NaiveDate, to: NaiveDate, yearly: bool, label: &str) -> Self {
        self.dates.push(json!({
            "from": from.to_string(),
            "to": to.to_string(),
            "yearly": yearly,
            "label": label,
        }));
        self
    }

    /// The draft the job service validates.
    pub(crate) fn draft(&self) -> CalendarDraft {
        CalendarDraft {
            name: Some(self.name.clone()),
            timezone: Some(self.timezone.clone()),
            description: self.description.clone(),
            dates: Some(Value::Array(self.dates.clone())),
            ..CalendarDraft::default()
        }
    }
}
