//! What every command shares: completions, help, --url, and exit codes for servers that are
//! absent or answer what the API never does (a stand-in server for 409, 429 and non-JSON).

use std::io::{Read as _, Write as _};
use std::net::TcpListener;

use crate::support;

#[tokio::test]
async fn completions_are_generated_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "_schedulerctl()"),
        ("zsh", "#compdef schedulerctl"),
        ("fish", "complete -c schedulerctl"),
    ] {
        // No server: completions need none, even with a URL that is not one.
        let mut command = support::command();
        command
            .args(["completions", shell])
            .env("SCHEDULER_URL", "not a url");
        let outcome = support::output(command).await;
        let script = outcome.ok();
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["jobs", "runs", "tail", "preview", "revoke", "output"] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
    }
    let mut command = support::command();
    command.args(["completions", "tcsh"]);
    support::output(command).await.fails(2);
}

#[tokio::test]
async fn help_lists_the_commands_exit_codes_and_environment() {
    let mut command = support::command();
    command.arg("--help");
    let outcome = support::output(command).await;
    let help = outcome.ok();
    for text in [
        "jobs",
        "runs",
        "cron",
        "keys",
        "completions",
        "[env: SCHEDULER_URL=]",
        "[default: http://127.0.0.1:8000]",
        "[env: SCHEDULER_KEY]",
        "Exit codes:",
        "  3  not found (404)",
        "  4  authentication or permission (401, 403)",
        "  5  invalid input (400, 413, 415)",
    ] {
        assert!(help.contains(text), "{text:?} in {help}");
    }
    let mut command = support::command();
    command.args(["jobs", "frobnicate"]);
    support::output(command).await.fails(2);
}

#[tokio::test]
async fn an_unreachable_server_exits_1_and_a_bad_url_exits_2() {
    let mut command = support::command();
    command.args(["jobs", "list", "--url", "http://127.0.0.1:1"]);
    let outcome = support::output(command).await;
    let stderr = outcome.fails(1);
    assert!(
        stderr.starts_with("error: GET http://127.0.0.1:1/scheduler/jobs/: cannot connect"),
        "{stderr}"
    );
    let mut command = support::command();
    command
        .args(["jobs", "list"])
        .env("SCHEDULER_URL", "127.0.0.1:8000");
    let outcome = support::output(command).await;
    assert!(
        outcome
            .fails(2)
            .contains("must be an http:// or https:// URL"),
        "{outcome:#?}"
    );
}

#[tokio::test]
async fn the_url_flag_wins_over_the_environment() {
    let server = support::sqlite_server().await.unwrap();
    let mut command = support::command();
    command
        .args(["jobs", "list", "--url", &server.base, "-o", "json"])
        .env("SCHEDULER_URL", "http://127.0.0.1:1");
    assert_eq!(support::output(command).await.json()["count"], 0);
}

/// Serves `answers` (whole HTTP responses) to one connection each, in order, on a random
/// loopback port; returns `http://127.0.0.1:<port>`.
fn stand_in(answers: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for answer in answers {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    base
}

fn answer(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn odd_answers_end_with_their_exit_code_and_never_a_panic() {
    let cases = [
        (
            answer(
                "409 Conflict",
                "",
                r#"{"detail": "A run of this job was started at the same instant; try again."}"#,
            ),
            6,
            "conflict (409 Conflict): A run of this job",
        ),
        (
            answer(
                "429 Too Many Requests",
                "Retry-After: 3\r\n",
                r#"{"detail": "Request was throttled. Expected available in 3 seconds."}"#,
            ),
            7,
            "retry after 3 s",
        ),
        (
            answer("200 OK", "", "<html>hello</html>"),
            1,
            "a 200 answer that is not JSON",
        ),
        (
            answer("200 OK", "", r#"{"count": 1}"#),
            1,
            "a list page without \"results\"",
        ),
        (
            answer("502 Bad Gateway", "", "<html>\u{1b}[31mbad gateway</html>"),
            1,
            "the server failed (502 Bad Gateway): <html> [31mbad gateway</html>",
        ),
        (
            answer("302 Found", "Location: http://127.0.0.1:1/\r\n", ""),
            1,
            "unexpected answer from the server (302 Found)",
        ),
        ("garbage\r\n\r\n".to_string(), 1, "error: GET "),
    ];
    for (reply, code, expected) in cases {
        let base = stand_in(vec![reply]);
        let mut command = support::command();
        command.args(["jobs", "list", "--url", &base, "--timeout", "5s"]);
        let outcome = support::output(command).await;
        let stderr = outcome.fails(code);
        assert!(stderr.contains(expected), "{expected:?} in {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains('\u{1b}'),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn runs_tail_keeps_following_through_a_server_that_is_briefly_unavailable() {
    let page = |runs: &str| {
        answer(
            "200 OK",
            "Content-Type: application/json\r\n",
            &format!(r#"{{"count": 1, "next": null, "previous": null, "results": [{runs}]}}"#),
        )
    };
    let run = r#"{"id": 7, "job_id": 1, "status": "succeeded", "trigger": "manual", "attempt": 1,
                  "scheduled_for": "2026-01-01T00:00:00Z", "duration_ms": 5, "error": null}"#;
    let base = stand_in(vec![
        page(""),
        answer("503 Service Unavailable", "", r#"{"detail": "down"}"#),
        page(run),
    ]);
    let mut command = support::command();
    command.args([
        "runs",
        "tail",
        "--url",
        &base,
        "--interval",
        "50ms",
        "--for",
        "20s",
        "--count",
        "1",
        "-o",
        "json",
    ]);
    let outcome = support::output(command).await;
    let printed: serde_json::Value = serde_json::from_str(outcome.ok().trim()).unwrap();
    assert_eq!(printed["id"], 7);
    assert!(
        outcome
            .stderr
            .contains("warning: the server failed (503 Service Unavailable): down; retrying"),
        "{outcome:#?}"
    );
    assert!(outcome.stderr.contains("reconnected"), "{outcome:#?}");
}
