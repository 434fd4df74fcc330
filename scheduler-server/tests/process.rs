//! The binary as an operator runs it: JSON log lines carrying request ids, startup errors that
//! name the setting, its value and the cause, and flags accepted before or after the
//! subcommand.
// Tests: a broken expectation is a failure, and their numbers are small.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use scheduler_test_support::TestSqlite;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_scheduler-server");

/// The server command with a clean environment for its settings.
fn server(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("SCHEDULER_BIND", "127.0.0.1:0")
        .env("SCHEDULER_DISPATCHER", "off")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the server until it exits (it must, within 30 s) and returns its exit success and
/// everything it printed.
fn failed_start(mut command: Command) -> String {
    let output = command.output().expect("the binary runs");
    assert!(!output.status.success(), "it should not have started");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A running server whose stdout lines arrive on a channel; killed when dropped.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command.spawn().expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Running { child, lines }
    }

    /// The next line satisfying `wanted` (others are returned in `seen`), within 20 s.
    fn line_where(&self, seen: &mut Vec<String>, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        panic!("no such line; seen: {seen:#?}");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn json_log_lines_parse_and_carry_the_request_id() {
    let db = TestSqlite::new();
    let mut command = server(&["serve"]);
    command
        .env("DATABASE_URL", &db.url)
        .env("SCHEDULER_LOG_FORMAT", "json");
    let running = Running::start(command);
    let mut seen = Vec::new();
    let listening = running.line_where(&mut seen, |l| l.contains("\"listening\""));
    let listening: Value = serde_json::from_str(&listening).expect("JSON");
    let addr = listening["addr"].as_str().expect("the bound address");
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/scheduler/jobs/"))
        .header("X-Request-Id", "req-from-test-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-from-test-7");
    let request = running.line_where(&mut seen, |l| l.contains("req-from-test-7"));
    let request: Value = serde_json::from_str(&request).expect("JSON");
    assert_eq!(request["span"]["request_id"], "req-from-test-7");
    assert_eq!(request["message"], "request");
    assert_eq!(request["path"], "/scheduler/jobs/");
    assert_eq!(request["status"], 200);
    for line in &seen {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn an_unreachable_postgres_is_named_with_its_cause() {
    // Nothing listens on port 1; the password must not be printed.
    let mut command = server(&["serve"]);
    command.env(
        "DATABASE_URL",
        "postgres://scheduler:hunter2@127.0.0.1:1/scheduler",
    );
    let printed = failed_start(command);
    for expected in [
        "DATABASE_URL",
        "--database-url",
        "postgres://scheduler:***@127.0.0.1:1/scheduler",
        "cannot connect to 127.0.0.1:1",
        "refused",
    ] {
        assert!(printed.contains(expected), "{expected}: {printed}");
    }
    assert!(!printed.contains("hunter2"), "{printed}");
}

#[test]
fn a_database_url_with_a_bad_scheme_is_named() {
    let mut command = server(&["serve"]);
    command.env("DATABASE_URL", "mysql://root@127.0.0.1:3306/scheduler");
    let printed = failed_start(command);
    for expected in [
        "DATABASE_URL",
        "--database-url",
        "unsupported scheme mysql://",
    ] {
        assert!(printed.contains(expected), "{expected}: {printed}");
    }
}

#[test]
fn a_missing_sqlite_directory_is_named() {
    let mut command = server(&["migrate"]);
    command.env(
        "DATABASE_URL",
        "sqlite:///nonexistent-scheduler-dir/jobs.db?mode=rwc",
    );
    let printed = failed_start(command);
    for expected in [
        "DATABASE_URL",
        "the directory /nonexistent-scheduler-dir does not exist",
    ] {
        assert!(printed.contains(expected), "{expected}: {printed}");
    }
}

#[test]
fn a_bind_address_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let db = TestSqlite::new();
    let mut command = server(&["serve"]);
    command
        .env("DATABASE_URL", &db.url)
        .env("SCHEDULER_BIND", &addr);
    let printed = failed_start(command);
    for expected in [
        "SCHEDULER_BIND",
        "--bind",
        addr.as_str(),
        "cannot listen",
        "in use",
    ] {
        assert!(printed.contains(expected), "{expected}: {printed}");
    }
}

#[test]
fn flags_are_accepted_before_and_after_the_subcommand() {
    for args in [
        ["migrate", "--database-url", "PLACEHOLDER"],
        ["--database-url", "PLACEHOLDER", "migrate"],
    ] {
        let db = TestSqlite::new();
        let args = args.map(|a| {
            if a == "PLACEHOLDER" {
                db.url.as_str()
            } else {
                a
            }
        });
        let output = server(&args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(db.path.exists(), "{args:?}: the database was created");
    }
}
