//! The binary as an operator runs it: JSON log lines carrying request ids, startup errors that
//! name the setting, its value and the cause, and flags accepted before or after the
//! subcommand.

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

/// What the test receiver saw of one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The request arrived.
    Started,
    /// The receiver answered 200 after its delay.
    Completed,
    /// The client closed the connection before the answer.
    Aborted,
}

/// Events of the receiver: (fire key, attempt, what, when).
type Deliveries = std::sync::Arc<std::sync::Mutex<Vec<(String, i64, Seen, std::time::Instant)>>>;

/// Reads one HTTP/1.1 request (head and `Content-Length` body) from `stream`; `None` at the
/// end of the connection.
async fn read_request(
    stream: &mut tokio::io::BufReader<tokio::net::TcpStream>,
) -> Option<(Vec<String>, Vec<u8>)> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        head.push(line);
    }
    let length = head
        .iter()
        .find_map(|h| {
            let (name, value) = h.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    Some((head, body))
}

/// A receiver on loopback that holds attempt 1 of every delivery for a minute and answers
/// later attempts after a second, noting when each starts, completes or is cut off by the
/// client (it watches the connection while it waits).
async fn slow_first_attempt_receiver() -> (String, Deliveries) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen: Deliveries = Default::default();
    let recorded = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let seen = recorded.clone();
            tokio::spawn(async move {
                let mut stream = tokio::io::BufReader::new(stream);
                while let Some((head, body)) = read_request(&mut stream).await {
                    let key = head
                        .iter()
                        .find_map(|h| {
                            let (name, value) = h.split_once(':')?;
                            name.eq_ignore_ascii_case("idempotency-key")
                                .then(|| value.trim().to_string())
                        })
                        .unwrap_or_default();
                    let delivery: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let attempt = delivery["attempt"].as_i64().unwrap_or(0);
                    let note = |what| {
                        seen.lock().unwrap().push((
                            key.clone(),
                            attempt,
                            what,
                            std::time::Instant::now(),
                        ));
                    };
                    note(Seen::Started);
                    let delay = Duration::from_secs(if attempt == 1 { 60 } else { 1 });
                    let mut probe = [0u8; 1];
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        // The client closed (or sent something it should not have).
                        _ = stream.read(&mut probe) => {
                            note(Seen::Aborted);
                            return;
                        }
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if stream.get_mut().write_all(answer).await.is_err() {
                        note(Seen::Aborted);
                        return;
                    }
                    note(Seen::Completed);
                }
            });
        }
    });
    (url, seen)
}

/// Waits until the receiver noted `what` of `attempt` for three deliveries.
async fn wait_for_three(seen: &Deliveries, what: Seen, attempt: i64, bound: Duration) {
    let deadline = std::time::Instant::now() + bound;
    loop {
        let count = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, a, w, _)| *w == what && *a == attempt)
            .count();
        if count >= 3 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what:?} of attempt {attempt}: {:#?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A replica of the server on `url` with a 10 s lease and a 2 s shutdown grace.
fn replica_command(url: &str, worker: &str) -> Command {
    let mut command = server(&["serve"]);
    command
        .env("DATABASE_URL", url)
        .env("SCHEDULER_DISPATCHER", "on")
        .env("SCHEDULER_WORKER_ID", worker)
        .env("SCHEDULER_TARGET_ALLOW", "127.0.0.1")
        .env("SCHEDULER_TARGET_RESOLVE", "false")
        .env("SCHEDULER_LEASE_SECONDS", "10")
        .env("SCHEDULER_SHUTDOWN_GRACE_SECONDS", "2")
        .env("SCHEDULER_POLL_INTERVAL_MS", "200");
    command
}

/// The address a starting server logged it listens on.
fn listening_addr(running: &Running) -> String {
    let mut seen = Vec::new();
    let line = running.line_where(&mut seen, |l| l.contains("listening"));
    line.split("addr=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line}"))
        .to_string()
}

/// Creates three jobs through `addr` delivering to `hook` and runs each at once there (a
/// manual run executes on the replica that received it).
async fn three_runs_through(client: &reqwest::Client, addr: &str, hook: &str) {
    for n in 0..3 {
        let job: Value = client
            .post(format!("http://{addr}/scheduler/jobs/"))
            .json(
                &serde_json::json!({"name": format!("slow-{n}"), "cron_expression": "0 0 1 1 *",
                "timeout_seconds": 120, "target": {"type": "http", "url": hook}}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let started = client
            .post(format!("http://{addr}/scheduler/jobs/{}/run/", job["id"]))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202, "{:?}", started.text().await);
    }
}

/// The run list read through `addr` once no run is `running` (an outcome is recorded a
/// moment after the receiver answered), or as it is after 100 reads 50 ms apart.
async fn settled_runs(client: &reqwest::Client, addr: &str) -> Value {
    let mut runs = Value::Null;
    for _ in 0..100 {
        runs = client
            .get(format!("http://{addr}/scheduler/runs/?page_size=50"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let running = runs["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == "running");
        if !running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    runs
}

/// SIGTERM to a replica while it delivers: it heartbeats through the grace (no other replica
/// starts attempt 2 meanwhile), then cuts its requests off and releases the runs, and the
/// other replica runs attempt 2 at once — not a lease later — each fire delivered to
/// completion exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_unfinished_deliveries_over_at_once_and_never_twice() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let (hook, seen) = slow_first_attempt_receiver().await;
    let a = Running::start(replica_command(&pg.url, "replica-a"));
    let a_addr = listening_addr(&a);
    let client = reqwest::Client::new();
    three_runs_through(&client, &a_addr, &hook).await;
    wait_for_three(&seen, Seen::Started, 1, Duration::from_secs(20)).await;
    let b = Running::start(replica_command(&pg.url, "replica-b"));
    let b_addr = listening_addr(&b);
    let terminated = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &a.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for_three(&seen, Seen::Completed, 2, Duration::from_secs(30)).await;
    let events = seen.lock().unwrap().clone();
    let mut keys: Vec<&String> = events.iter().map(|(k, _, _, _)| k).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "{events:#?}");
    for key in keys {
        let at = |attempt: i64, what: Seen| {
            let hits: Vec<std::time::Instant> = events
                .iter()
                .filter(|(k, a, w, _)| k == key && *a == attempt && *w == what)
                .map(|(_, _, _, at)| *at)
                .collect();
            assert!(
                hits.len() <= 1,
                "{key}: {what:?} of attempt {attempt} twice"
            );
            hits.first().copied()
        };
        let aborted =
            at(1, Seen::Aborted).unwrap_or_else(|| panic!("{key}: attempt 1 not cut off"));
        let second = at(2, Seen::Started).unwrap_or_else(|| panic!("{key}: no attempt 2"));
        // Held through the grace: cut off no earlier than it, attempt 2 only after that.
        assert!(
            aborted - terminated >= Duration::from_millis(1_500),
            "{key}: cut off early"
        );
        assert!(
            second > aborted,
            "{key}: attempt 2 started while attempt 1 was in flight"
        );
        // Released at once: well before the 10 s lease would have run out.
        assert!(
            second - aborted < Duration::from_secs(4),
            "{key}: attempt 2 after {:?}",
            second - aborted
        );
        assert!(
            at(1, Seen::Completed).is_none(),
            "{key}: attempt 1 completed too"
        );
        assert!(
            at(2, Seen::Completed).is_some(),
            "{key}: attempt 2 not completed"
        );
        assert!(at(3, Seen::Started).is_none(), "{key}: a third attempt");
    }
    // The history says the same: attempt 1 abandoned, attempt 2 succeeded (once the
    // receiver answered, the outcome is recorded within a moment: read until it is).
    let runs = settled_runs(&client, &b_addr).await;
    let mut statuses: Vec<(i64, String)> = runs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["attempt"].as_i64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [1, 1, 1, 2, 2, 2]
            .iter()
            .zip([
                "abandoned",
                "abandoned",
                "abandoned",
                "succeeded",
                "succeeded",
                "succeeded"
            ])
            .map(|(a, s)| (*a, s.to_string()))
            .collect::<Vec<_>>()
    );
    drop(b);
    drop(a);
}

/// kill -9 of a replica while it delivers (PostgreSQL): its database session ends, the other
/// replica sees the worker lost and delivers each fire again as attempt 2 within 2 s — not
/// the 10 s lease later — exactly once, and the history says attempt 1 was abandoned because
/// the worker was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_deliveries_are_redelivered_within_two_seconds_once() {
    let Some(pg) = scheduler_test_support::postgres().await else {
        return;
    };
    let (hook, seen) = slow_first_attempt_receiver().await;
    let mut a = Running::start(replica_command(&pg.url, "replica-a"));
    let a_addr = listening_addr(&a);
    let b = Running::start(replica_command(&pg.url, "replica-b"));
    let b_addr = listening_addr(&b);
    let client = reqwest::Client::new();
    three_runs_through(&client, &a_addr, &hook).await;
    wait_for_three(&seen, Seen::Started, 1, Duration::from_secs(20)).await;
    a.child.kill().unwrap();
    let killed = std::time::Instant::now();
    a.child.wait().unwrap();
    wait_for_three(&seen, Seen::Completed, 2, Duration::from_secs(20)).await;
    let events = seen.lock().unwrap().clone();
    let mut keys: Vec<&String> = events.iter().map(|(k, _, _, _)| k).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 3, "{events:#?}");
    for key in keys {
        let hits = |attempt: i64, what: Seen| -> Vec<std::time::Instant> {
            events
                .iter()
                .filter(|(k, a, w, _)| k == key && *a == attempt && *w == what)
                .map(|(_, _, _, at)| *at)
                .collect()
        };
        let second = hits(2, Seen::Started);
        assert_eq!(second.len(), 1, "{key}: attempt 2 started {second:?}");
        let after = second[0] - killed;
        eprintln!("{key}: attempt 2 started {after:?} after the kill");
        assert!(
            after <= Duration::from_secs(2),
            "{key}: attempt 2 started {after:?} after the kill"
        );
        assert_eq!(hits(2, Seen::Completed).len(), 1, "{key}");
        assert!(
            hits(1, Seen::Completed).is_empty(),
            "{key}: attempt 1 completed"
        );
        assert!(hits(3, Seen::Started).is_empty(), "{key}: a third attempt");
    }
    let runs = settled_runs(&client, &b_addr).await;
    let mut history: Vec<(i64, String, bool)> = runs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["attempt"].as_i64().unwrap(),
                r["status"].as_str().unwrap().to_string(),
                r["error"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("worker lost: replica-a")),
            )
        })
        .collect();
    history.sort();
    let abandoned = (1, "abandoned".to_string(), true);
    let succeeded = (2, "succeeded".to_string(), false);
    assert_eq!(
        history,
        [
            abandoned.clone(),
            abandoned.clone(),
            abandoned,
            succeeded.clone(),
            succeeded.clone(),
            succeeded
        ],
        "{runs:#}"
    );
    drop(b);
}

/// A shutdown grace not shorter than the lease is refused at start, naming both settings.
#[test]
fn a_shutdown_grace_not_shorter_than_the_lease_is_refused_at_start() {
    let db = TestSqlite::new();
    let mut command = server(&["serve"]);
    command
        .env("DATABASE_URL", &db.url)
        .env("SCHEDULER_SHUTDOWN_GRACE_SECONDS", "30")
        .env("SCHEDULER_LEASE_SECONDS", "30");
    let printed = failed_start(command);
    assert!(
        printed.contains("SCHEDULER_SHUTDOWN_GRACE_SECONDS")
            && printed.contains("SCHEDULER_LEASE_SECONDS = 30")
            && printed.contains("must be shorter than the run lease"),
        "{printed}"
    );
}
