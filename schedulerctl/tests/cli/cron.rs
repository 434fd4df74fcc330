//! `cron preview`.

use crate::support;

#[tokio::test]
async fn cron_preview_shows_the_reading_and_the_next_fires() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let preview = ctl
        .json(&[
            "cron",
            "preview",
            "0 9 * * 1",
            "--timezone",
            "Europe/Paris",
            "--after",
            "2025-06-23T00:00:00Z",
            "-n",
            "3",
        ])
        .await;
    assert_eq!(preview["timezone"], "Europe/Paris");
    assert_eq!(
        preview["next_runs"],
        serde_json::json!([
            "2025-06-23T07:00:00Z",
            "2025-06-30T07:00:00Z",
            "2025-07-07T07:00:00Z"
        ])
    );
    // Words are joined, so an unquoted expression works too (quoting only keeps * from the
    // shell).
    let table = ctl
        .run(&[
            "cron",
            "preview",
            "0",
            "9",
            "*",
            "*",
            "1",
            "--after",
            "2025-06-23T00:00:00Z",
        ])
        .await;
    let text = table.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3 + 5, "{text}");
    assert!(
        lines[0].starts_with("expression") && lines[0].ends_with("0 9 * * 1"),
        "{text}"
    );
    assert!(
        lines[2].contains("09:00") && lines[2].contains("Monday"),
        "{text}"
    );
    assert!(lines[3].starts_with("next_runs") && lines[3].ends_with("2025-06-23T09:00:00Z"));
}

#[tokio::test]
async fn an_invalid_expression_or_zone_exits_5_naming_the_parameter() {
    let server = support::sqlite_server().await.unwrap();
    let ctl = server.ctl();
    let bad = ctl.run(&["cron", "preview", "61 * * * *"]).await;
    let stderr = bad.fails(5);
    assert!(stderr.contains("\n  expression: "), "{stderr}");
    let bad = ctl
        .run(&["cron", "preview", "@daily", "--timezone", "Mars/Olympus"])
        .await;
    assert!(bad.fails(5).contains("\n  timezone: "), "{bad:#?}");
    let missing = ctl.run(&["cron", "preview"]).await;
    missing.fails(2);
}
