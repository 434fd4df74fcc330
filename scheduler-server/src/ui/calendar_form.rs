//! The create/replace form of a calendar: its name, time zone, description and dates, the
//! dates typed one per line and read into the core's JSON entries:
//!
//! | line | entry |
//! |---|---|
//! | `2026-12-25 Christmas Day` | `{"from": "2026-12-25", "to": "2026-12-25", "yearly": false, "label": "Christmas Day"}` |
//! | `2026-08-03..2026-08-14 Summer shutdown` | a range, both ends included |
//! | `yearly 2026-01-01 New Year` | the same day every year |
//!
//! Blank lines are left out. What a line means is the core's to decide
//! (`CalendarDraft::validate`): a line that is not a date goes to it as written, and its
//! error, named `dates[<index>]` as the API names it, is shown beside the dates with the
//! line it came from.

use maud::{Markup, html};
use scheduler_core::{Calendar, CalendarDraft, CalendarEntry, Timezone};
use serde_json::{Value, json};

use super::cookies::CSRF_FIELD;
use super::form::FormFields;
use super::viewer::Viewer;
use crate::error::FieldErrors;

/// The values a calendar form shows: a new calendar's defaults, a stored calendar, or what
/// was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarForm {
    /// The calendar's name.
    pub name: String,
    /// Its time zone (empty: UTC).
    pub timezone: String,
    /// Its description.
    pub description: String,
    /// Its dates, one per line.
    pub dates: String,
}

/// A word and the rest of `text` after the whitespace that follows it.
fn first_word(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (text, ""),
    }
}

/// The JSON entry of one (non-blank) line: `[yearly ]FROM[..TO][ LABEL]`. Spaces around
/// `..` are allowed; what is not a date is passed on as written, for the core to refuse.
pub fn entry_of_line(line: &str) -> Value {
    let line = line.trim();
    let (yearly, rest) = match first_word(line) {
        (word, rest) if word.eq_ignore_ascii_case("yearly") => (true, rest),
        _ => (false, line),
    };
    let (first, after) = first_word(rest);
    let (from, to, label) = match first.split_once("..") {
        Some((from, "")) => {
            let (to, label) = first_word(after);
            (from, to, label)
        }
        Some((from, to)) => (from, to, after),
        None => match after.strip_prefix("..") {
            Some(tail) => {
                let (to, label) = first_word(tail.trim_start());
                (first, to, label)
            }
            None => (first, first, after),
        },
    };
    let label = label.trim();
    json!({
        "from": from,
        "to": to,
        "yearly": yearly,
        "label": (!label.is_empty()).then_some(label),
    })
}

/// The line a stored entry is written as in the form (the inverse of [`entry_of_line`]).
pub fn line_of_entry(entry: &CalendarEntry) -> String {
    let mut line = String::new();
    if entry.yearly {
        line.push_str("yearly ");
    }
    line.push_str(&entry.from.format("%Y-%m-%d").to_string());
    if entry.to != entry.from {
        line.push_str("..");
        line.push_str(&entry.to.format("%Y-%m-%d").to_string());
    }
    if let Some(label) = &entry.label {
        // A label given through the API may hold a line break; the form keeps one line.
        let flat: String = label
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        line.push(' ');
        line.push_str(&flat);
    }
    line
}

impl CalendarForm {
    /// The form of a new calendar: in UTC, no dates.
    pub fn new_calendar() -> Self {
        Self {
            name: String::new(),
            timezone: Timezone::default().name().to_string(),
            description: String::new(),
            dates: String::new(),
        }
    }

    /// The form of a stored calendar.
    pub fn of_calendar(calendar: &Calendar) -> Self {
        let def = &calendar.def;
        Self {
            name: def.name.as_str().to_string(),
            timezone: def.timezone.name().to_string(),
            description: def.description.as_str().to_string(),
            dates: def
                .entries
                .iter()
                .map(line_of_entry)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// The form as posted.
    pub fn posted(fields: &FormFields) -> Self {
        let text = |field: &str| fields.get(field).unwrap_or_default().to_string();
        Self {
            name: text("name"),
            timezone: text("timezone"),
            description: text("description"),
            dates: text("dates"),
        }
    }

    /// The non-blank lines of the dates, with their line numbers (from 1): entry `i` of the
    /// draft is line `date_lines()[i]`.
    pub fn date_lines(&self) -> Vec<(usize, &str)> {
        self.dates
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty())
            .collect()
    }

    /// The draft handed to `save_calendar`: `name` (a replace's, from its URL) or the typed
    /// one; an empty time zone leaves the core's default (UTC).
    pub fn to_draft(&self, name: Option<&str>) -> CalendarDraft {
        let timezone = self.timezone.trim();
        let entries = self
            .date_lines()
            .into_iter()
            .map(|(_, line)| entry_of_line(line))
            .collect();
        CalendarDraft {
            name: Some(name.unwrap_or(&self.name).to_string()),
            timezone: (!timezone.is_empty()).then(|| timezone.to_string()),
            description: Some(self.description.clone()),
            dates: Some(Value::Array(entries)),
            ..CalendarDraft::default()
        }
    }
}

/// The errors of one field.
fn errors_for<'e>(errors: &'e FieldErrors, field: &str) -> &'e [String] {
    errors.get(field).map_or(&[], Vec::as_slice)
}

/// A field's error list (`<field>-error`), when it has errors.
fn field_error(field: &str, problems: &[String]) -> Markup {
    html! {
        @if !problems.is_empty() {
            ul.field-error id={(field) "-error"} role="alert" {
                @for problem in problems { li { (problem) } }
            }
        }
    }
}

/// The dates' errors: the list's own, then each entry's (`dates[<index>]`) with its line.
fn date_errors(form: &CalendarForm, errors: &FieldErrors) -> Markup {
    let lines = form.date_lines();
    let mut entries: Vec<(usize, &str, &[String])> = errors
        .iter()
        .filter_map(|(key, problems)| {
            let index = key
                .strip_prefix("dates[")?
                .strip_suffix(']')?
                .parse()
                .ok()?;
            Some((index, key.as_str(), problems.as_slice()))
        })
        .collect();
    entries.sort_by_key(|(index, _, _)| *index);
    let own = errors_for(errors, "dates");
    html! {
        @if !own.is_empty() || !entries.is_empty() {
            ul.field-error #dates-error role="alert" {
                @for problem in own { li { (problem) } }
                @for (index, key, problems) in &entries {
                    li {
                        code { (key) }
                        @if let Some((number, line)) = lines.get(*index) {
                            " (line " (number) ": " code { (line) } ")"
                        }
                        ": " (problems.join(" "))
                    }
                }
            }
        }
    }
}

/// The ids a field is described by: its help and, when invalid, its errors.
fn described(help: &str, field: &str, invalid: bool) -> String {
    if invalid {
        format!("{help} {field}-error")
    } else {
        help.to_string()
    }
}

/// Whether the dates have an error (the list's or an entry's).
fn dates_invalid(errors: &FieldErrors) -> bool {
    errors
        .keys()
        .any(|key| key == "dates" || key.starts_with("dates["))
}

/// The calendar form: `action` is where it posts; `editing` shows the name fixed (a replace
/// keeps the calendar of its URL).
pub fn render(
    viewer: &Viewer,
    form: &CalendarForm,
    errors: &FieldErrors,
    action: &str,
    editing: bool,
) -> Markup {
    let name_errors = errors_for(errors, "name");
    let zone_errors = errors_for(errors, "timezone");
    let description_errors = errors_for(errors, "description");
    let dates_invalid = dates_invalid(errors);
    html! {
        form.calendar-form method="post" action=(action) novalidate {
            input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf);
            @if !errors.is_empty() {
                p.error role="alert" #calendar-form-errors {
                    "The calendar was not saved: correct the fields marked below."
                }
            }
            @for problem in errors_for(errors, "non_field_errors") { p.error { (problem) } }
            div.schedule-row {
                div.field.invalid[!name_errors.is_empty()] {
                    label for="calendar-name" { "Name" }
                    input #calendar-name name="name" type="text" value=(form.name)
                        readonly[editing] autocomplete="off" spellcheck="false" maxlength="64"
                        aria-invalid=[(!name_errors.is_empty()).then_some("true")]
                        aria-describedby=(described("calendar-name-help", "name", !name_errors.is_empty()));
                    p.help #calendar-name-help {
                        @if editing { "Saving replaces this calendar's dates; every job listing it follows them." }
                        @else { "1-64 letters, digits, -, _ and .; jobs list it by this name." }
                    }
                    (field_error("name", name_errors))
                }
                div.field.invalid[!zone_errors.is_empty()] {
                    label for="calendar-timezone" { "Time zone" }
                    input #calendar-timezone name="timezone" type="text" list="timezones"
                        value=(form.timezone) autocomplete="off"
                        aria-invalid=[(!zone_errors.is_empty()).then_some("true")]
                        aria-describedby=(described("calendar-timezone-help", "timezone", !zone_errors.is_empty()));
                    p.help #calendar-timezone-help { "The dates are days in this zone; empty: UTC." }
                    (field_error("timezone", zone_errors))
                    datalist #timezones {
                        @for zone in Timezone::names() { option value=(zone) {} }
                    }
                }
            }
            div.field.invalid[!description_errors.is_empty()] {
                label for="calendar-description" { "Description" }
                textarea #calendar-description name="description" rows="2" { (form.description) }
                (field_error("description", description_errors))
            }
            div.field.invalid[dates_invalid] {
                label for="calendar-dates" { "Dates (one per line)" }
                textarea #calendar-dates name="dates" rows="8" spellcheck="false"
                    aria-invalid=[dates_invalid.then_some("true")]
                    aria-describedby=(described("calendar-dates-help", "dates", dates_invalid)) {
                    (form.dates)
                }
                p.help #calendar-dates-help {
                    "A date, a range or a yearly day, then an optional label: "
                    code { "2026-12-25 Christmas Day" } ", "
                    code { "2026-08-03..2026-08-14 Summer shutdown" } ", "
                    code { "yearly 2026-01-01 New Year" } "."
                }
                (date_errors(form, errors))
            }
            div.actions {
                button.primary type="submit" #save-calendar {
                    @if editing { "Save calendar" } @else { "Create calendar" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_dates_ranges_and_yearly_days_with_labels() {
        assert_eq!(
            entry_of_line("2026-12-25 Christmas Day"),
            json!({"from": "2026-12-25", "to": "2026-12-25", "yearly": false,
                   "label": "Christmas Day"})
        );
        for range in [
            "2026-08-03..2026-08-14 Summer shutdown",
            "2026-08-03 .. 2026-08-14 Summer shutdown",
            "2026-08-03.. 2026-08-14  Summer shutdown",
            "2026-08-03 ..2026-08-14 Summer shutdown ",
        ] {
            assert_eq!(
                entry_of_line(range),
                json!({"from": "2026-08-03", "to": "2026-08-14", "yearly": false,
                       "label": "Summer shutdown"}),
                "{range}"
            );
        }
        assert_eq!(
            entry_of_line("  YEARLY 2026-01-01 New Year"),
            json!({"from": "2026-01-01", "to": "2026-01-01", "yearly": true,
                   "label": "New Year"})
        );
        assert_eq!(
            entry_of_line("2026-05-01"),
            json!({"from": "2026-05-01", "to": "2026-05-01", "yearly": false, "label": null})
        );
        // Not a date: passed on as written for the core to refuse.
        assert_eq!(entry_of_line("Christmas 2026-12-25")["from"], "Christmas");
    }

    #[test]
    fn a_draft_leaves_blank_lines_out_and_entries_read_back_as_lines() {
        let fields = FormFields::parse(
            "name=uk&timezone=&description=Bank+holidays\
             &dates=2026-12-25+Christmas+Day%0D%0A%0D%0Ayearly+2026-01-01..2026-01-02",
        );
        let form = CalendarForm::posted(&fields);
        assert_eq!(
            form.date_lines(),
            [
                (1, "2026-12-25 Christmas Day"),
                (3, "yearly 2026-01-01..2026-01-02")
            ]
        );
        let draft = form.to_draft(None);
        assert_eq!(draft.timezone, None);
        let def = draft.validate().unwrap();
        assert_eq!(def.name.as_str(), "uk");
        let lines: Vec<String> = def.entries.iter().map(line_of_entry).collect();
        assert_eq!(
            lines,
            ["2026-12-25 Christmas Day", "yearly 2026-01-01..2026-01-02"]
        );
        assert_eq!(form.to_draft(Some("other")).name.as_deref(), Some("other"));
    }

    #[test]
    fn an_entrys_error_is_shown_with_its_line() {
        let form = CalendarForm {
            dates: "2026-12-25\n\n2026-02-30 Nope".into(),
            ..CalendarForm::new_calendar()
        };
        let errors = FieldErrors::from([(
            "dates[1]".to_string(),
            vec!["Enter a real date as YYYY-MM-DD.".to_string()],
        )]);
        let html = date_errors(&form, &errors).into_string();
        assert!(
            html.contains(
                "<code>dates[1]</code> (line 3: <code>2026-02-30 Nope</code>): Enter a real date"
            ),
            "{html}"
        );
    }
}
