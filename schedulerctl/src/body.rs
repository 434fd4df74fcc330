//! The JSON body of `jobs create` and `jobs update`: a `--file` (or standard input) to start
//! from, then each flag given sets its field; and that of `channels create`, from its flags.
//! Values are not checked here beyond being JSON: the server validates every field at once
//! and its errors are printed as they come. Also the reading of any `--file` (a calendar's
//! too): [`read_object`], [`read_text`].

use std::io::Read as _;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::cli::{ChannelCreateArgs, JobFields};
use crate::failure::Failure;

/// The body `fields` describe: the file's object with each given flag's field set.
pub(crate) fn job_body(fields: &JobFields) -> Result<Map<String, Value>, Failure> {
    let mut body = match &fields.file {
        Some(path) => read_object(path, "the job's fields")?,
        None => Map::new(),
    };
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            body.insert(key.to_string(), value);
        }
    };
    let text = |value: &Option<String>| value.clone().map(Value::String);
    set("name", text(&fields.name));
    set("cron_expression", text(&fields.cron));
    set("interval_seconds", fields.every.map(Value::from));
    set("run_at", text(&fields.run_at));
    set("jitter_seconds", fields.jitter.map(Value::from));
    // 0 lifts the limit (null); the server refuses 0 itself as out of range.
    set(
        "max_runs",
        fields
            .max_runs
            .map(|n| if n == 0 { Value::Null } else { Value::from(n) }),
    );
    set("timezone", text(&fields.timezone));
    set("description", text(&fields.description));
    set("start_time", text(&fields.start_time));
    set("end_time", text(&fields.end_time));
    set(
        "misfire_policy",
        fields.misfire_policy.map(|p| json!(p.as_str())),
    );
    set(
        "concurrency_policy",
        fields.concurrency_policy.map(|p| json!(p.as_str())),
    );
    set(
        "misfire_grace_seconds",
        fields.misfire_grace_seconds.map(Value::from),
    );
    set(
        "catch_up_window_seconds",
        fields.catch_up_window_seconds.map(Value::from),
    );
    set("max_retries", fields.max_retries.map(Value::from));
    set(
        "retry_backoff_seconds",
        fields.retry_backoff_seconds.map(Value::from),
    );
    set("timeout_seconds", fields.timeout_seconds.map(Value::from));
    set(
        "pause_after_failures",
        fields.pause_after_failures.map(Value::from),
    );
    set("dst_overlap", fields.dst_overlap.clone().map(Value::from));
    set(
        "calendars",
        (!fields.calendars.is_empty()).then(|| json!(fields.calendars)),
    );
    set("on_excluded", fields.on_excluded.clone().map(Value::from));
    if let Some(params) = &fields.params {
        let params: Value = serde_json::from_str(params)
            .map_err(|error| Failure::Usage(format!("--params is not JSON: {error}")))?;
        set("parameters", Some(params));
    }
    if let Some(url) = &fields.target_url {
        set("target", Some(target(url, fields)?));
    }
    // A schedule flag replaces the file's schedule, whatever its kind (a job has one).
    let flag = [
        ("cron_expression", fields.cron.is_some()),
        ("interval_seconds", fields.every.is_some()),
        ("run_at", fields.run_at.is_some()),
    ];
    if flag.iter().any(|(_, given)| *given) {
        for (field, given) in flag {
            if !given {
                body.remove(field);
            }
        }
    }
    Ok(body)
}

/// `{"type": "http", "url", "method"?, "headers"?}` from the `--target-*` flags.
fn target(url: &str, fields: &JobFields) -> Result<Value, Failure> {
    let mut target = Map::new();
    target.insert("type".into(), json!("http"));
    target.insert("url".into(), json!(url));
    if let Some(method) = &fields.target_method {
        target.insert("method".into(), json!(method));
    }
    if !fields.target_header.is_empty() {
        let headers = header_map("--target-header", &fields.target_header)?;
        target.insert("headers".into(), Value::Object(headers));
    }
    Ok(Value::Object(target))
}

/// The body of `channels create`: the fields its flags give, the server's defaults for the
/// others (every event, every job, enabled).
pub(crate) fn channel_body(args: &ChannelCreateArgs) -> Result<Map<String, Value>, Failure> {
    let mut body = Map::new();
    body.insert("name".into(), json!(args.name));
    body.insert("kind".into(), json!(args.kind.as_str()));
    if let Some(url) = &args.target_url {
        body.insert("url".into(), json!(url));
    }
    if !args.header.is_empty() {
        let headers = header_map("--header", &args.header)?;
        body.insert("headers".into(), Value::Object(headers));
    }
    if !args.to.is_empty() {
        body.insert("to".into(), json!(args.to));
    }
    if !args.event.is_empty() {
        body.insert("events".into(), json!(args.event));
    }
    if !args.job.is_empty() {
        body.insert("jobs".into(), json!(args.job));
    }
    if args.disabled {
        body.insert("enabled".into(), Value::Bool(false));
    }
    Ok(body)
}

/// Headers given as `Name: value` (by the repeatable `flag`) as a JSON object.
fn header_map(flag: &str, headers: &[String]) -> Result<Map<String, Value>, Failure> {
    let mut map = Map::new();
    for header in headers {
        // The text is not echoed: a header is often a credential.
        let Some((name, value)) = header.split_once(':') else {
            return Err(Failure::Usage(format!(
                "each {flag} must read \"Name: value\""
            )));
        };
        map.insert(name.trim().to_string(), json!(value.trim()));
    }
    Ok(map)
}

/// The text of `path` (`-`: standard input), which must be UTF-8.
pub(crate) fn read_text(path: &Path) -> Result<String, Failure> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| Failure::Usage(format!("cannot read standard input: {error}")))?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
            .map_err(|error| Failure::Usage(format!("cannot read {}: {error}", path.display())))
    }
}

/// How a `--file` is named in a message: its path, or "standard input" for `-`.
pub(crate) fn source(path: &Path) -> String {
    if path == Path::new("-") {
        "standard input".into()
    } else {
        path.display().to_string()
    }
}

/// The JSON object in `path` (`-`: standard input); `what` says what it holds, for the error
/// when it is not an object ("the job's fields").
pub(crate) fn read_object(path: &Path, what: &str) -> Result<Map<String, Value>, Failure> {
    let shown = path.display();
    let text = read_text(path)?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Failure::Usage(format!(
            "{shown} must hold a JSON object ({what})"
        ))),
        Err(error) => Err(Failure::Usage(format!("{shown} is not JSON: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command, JobsCommand};
    use clap::Parser;

    fn fields(args: &[&str]) -> JobFields {
        let mut argv = vec!["schedulerctl", "jobs", "create"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Jobs(JobsCommand::Create(create)) => create.fields,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn jitter_is_sent_as_jitter_seconds() {
        let body = job_body(&fields(&["--cron", "@daily", "--jitter", "60"])).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"cron_expression": "@daily", "jitter_seconds": 60})
        );
    }

    #[test]
    fn a_schedule_flag_replaces_the_files_kind_and_zero_lifts_the_limit() {
        let file = std::env::temp_dir().join(format!("ctl-kinds-{}.json", std::process::id()));
        std::fs::write(
            &file,
            r#"{"name": "f", "cron_expression": "@daily", "max_runs": 4}"#,
        )
        .unwrap();
        let path = file.to_str().unwrap().to_string();
        let body = job_body(&fields(&[
            "--file",
            &path,
            "--every",
            "5400",
            "--max-runs",
            "0",
        ]));
        std::fs::remove_file(&file).ok();
        assert_eq!(
            Value::Object(body.unwrap()),
            json!({"name": "f", "interval_seconds": 5400, "max_runs": null})
        );
        let once = job_body(&fields(&[
            "--run-at",
            "2030-01-01T00:00:00Z",
            "--max-runs",
            "3",
        ]));
        assert_eq!(
            Value::Object(once.unwrap()),
            json!({"run_at": "2030-01-01T00:00:00Z", "max_runs": 3})
        );
        let argv = [
            "schedulerctl",
            "jobs",
            "create",
            "--cron",
            "@daily",
            "--every",
            "60",
        ];
        assert!(
            Cli::try_parse_from(argv).is_err(),
            "two kinds are refused before any request"
        );
    }

    #[test]
    fn flags_become_the_apis_fields() {
        let body = job_body(&fields(&[
            "--name",
            "r",
            "--cron",
            "0 9 * * 1",
            "--params",
            r#"{"n": 12345678901234567890}"#,
            "--max-retries",
            "2",
            "--misfire-policy",
            "fire-once",
            "--target-url",
            "https://hooks.example/x",
            "--target-header",
            "Authorization: Bearer t:1",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "name": "r",
                "cron_expression": "0 9 * * 1",
                "parameters": {"n": 12345678901234567890_u64},
                "max_retries": 2,
                "misfire_policy": "fire_once",
                "target": {"type": "http", "url": "https://hooks.example/x",
                           "headers": {"Authorization": "Bearer t:1"}},
            })
        );
    }

    #[test]
    fn calendars_are_sent_as_a_list_only_when_given() {
        let body = job_body(&fields(&[
            "--calendar",
            "uk",
            "--calendar",
            "freeze",
            "--on-excluded",
            "move",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"calendars": ["uk", "freeze"], "on_excluded": "move"})
        );
        let none = job_body(&fields(&["--cron", "@daily"])).unwrap();
        assert!(!none.contains_key("calendars"), "{none:?}");
        let argv = ["schedulerctl", "jobs", "create", "--on-excluded", "later"];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn params_that_are_not_json_are_a_usage_error() {
        let error = job_body(&fields(&["--params", "{nope"])).unwrap_err();
        assert!(
            error.to_string().starts_with("--params is not JSON"),
            "{error}"
        );
    }

    #[test]
    fn a_header_without_a_colon_is_a_usage_error() {
        let error = job_body(&fields(&[
            "--target-url",
            "https://h/",
            "--target-header",
            "X",
        ]))
        .unwrap_err();
        assert!(matches!(error, Failure::Usage(_)));
    }

    #[test]
    fn channel_flags_become_the_apis_fields() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["schedulerctl", "channels", "create"];
            argv.extend_from_slice(args);
            match Cli::try_parse_from(argv).unwrap().command {
                Command::Channels(crate::cli::ChannelsCommand::Create(args)) => args,
                other => panic!("{other:?}"),
            }
        };
        let body = channel_body(&parse(&[
            "ops",
            "--kind",
            "webhook",
            "--target-url",
            "https://hooks.example/x",
            "--header",
            "Authorization: Bearer t:1",
            "--event",
            "failed",
            "--event",
            "recovered",
            "--job",
            "4",
            "--disabled",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(body),
            json!({
                "name": "ops", "kind": "webhook", "url": "https://hooks.example/x",
                "headers": {"Authorization": "Bearer t:1"},
                "events": ["failed", "recovered"], "jobs": [4], "enabled": false,
            })
        );
        let mail = channel_body(&parse(&["m", "--kind", "email", "--to", "a@example.com"]));
        assert_eq!(
            Value::Object(mail.unwrap()),
            json!({"name": "m", "kind": "email", "to": ["a@example.com"]})
        );
        let error =
            channel_body(&parse(&["h", "--kind", "webhook", "--header", "secret"])).unwrap_err();
        assert_eq!(error.to_string(), "each --header must read \"Name: value\"");
        let argv = ["schedulerctl", "channels", "create", "x", "--kind", "pager"];
        assert!(Cli::try_parse_from(argv).is_err());
        let argv = [
            "schedulerctl",
            "channels",
            "create",
            "x",
            "--kind",
            "slack",
            "--event",
            "boom",
        ];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn flags_override_the_file() {
        let dir = std::env::temp_dir().join(format!("schedulerctl-body-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("job.json");
        std::fs::write(
            &file,
            r#"{"name": "from-file", "cron_expression": "@daily"}"#,
        )
        .unwrap();
        let body = job_body(&fields(&[
            "--file",
            file.to_str().unwrap(),
            "--name",
            "flag",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"name": "flag", "cron_expression": "@daily"})
        );
        std::fs::write(&file, "[1]").unwrap();
        let error = job_body(&fields(&["--file", file.to_str().unwrap()])).unwrap_err();
        assert!(
            error.to_string().contains("must hold a JSON object"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
