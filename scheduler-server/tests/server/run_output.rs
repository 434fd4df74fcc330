//! What a run's target answered is kept on the run (`GET /scheduler/runs/{id}/output/`, the
//! run page, `schedulerctl runs get`): the first 64 KiB of a text answer of any status with
//! its type and size, a binary answer by type and size only, header values echoed back
//! masked; nothing for an empty answer (204). On both backends.

use poem::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, run_now, serve_hook, settled};

/// A receiver answering `status` with `body` of `content_type`, echoing the `X-Token`
/// header it got at the end.
async fn answering(status: u16, content_type: &'static str, body: Vec<u8>) -> String {
    let hook = poem::endpoint::make(move |request: poem::Request| {
        let mut body = body.clone();
        async move {
            if let Some(token) = request.headers().get("x-token") {
                body.extend_from_slice(b" token=");
                body.extend_from_slice(token.as_bytes());
            }
            poem::Response::builder()
                .status(StatusCode::from_u16(status).unwrap())
                .content_type(content_type)
                .body(body)
        }
    });
    serve_hook(hook).await
}

async fn output_of(
    app: &TestApp,
    url: &str,
    name: &str,
) -> (u16, serde_json::Value, serde_json::Value) {
    let job = app
        .create_job(&json!({"name": name, "cron_expression": "0 0 1 1 *",
            "target": {"type": "http", "url": url, "headers": {"X-Token": "s3cret-value"}}}))
        .await;
    let run = run_now(app, &job["id"]).await;
    let run = settled(app, &run["id"]).await;
    let reply = app
        .client
        .get(app.url(&format!("/scheduler/runs/{}/output/", run["id"])))
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let body = if status == 200 {
        reply.json().await.unwrap()
    } else {
        serde_json::Value::Null
    };
    (status, run, body)
}

async fn the_answer_is_kept_with_the_run(app: TestApp) {
    // A failing receiver's JSON problem: kept whole, beyond the error's 1 KiB excerpt.
    let problem = format!("{{\"detail\": \"{}\"}}", "x".repeat(3_000));
    let url = answering(
        500,
        "application/problem+json",
        problem.clone().into_bytes(),
    )
    .await;
    let (status, run, output) = output_of(&app, &url, "problem").await;
    assert_eq!((status, run["status"].as_str()), (200, Some("failed")));
    assert_eq!(output["content_type"], "application/problem+json");
    assert_eq!(output["truncated"], false);
    let body = output["body"].as_str().unwrap();
    assert!(body.starts_with(&problem), "{body}");
    // The echoed header value is masked, as in the error.
    assert!(body.ends_with("token=***"), "{body}");
    assert!(run["error"].as_str().unwrap().len() < 1_200);

    // A large text answer: the first 64 KiB.
    let big = "line of text\n".repeat(10_000);
    let url = answering(200, "text/plain; charset=utf-8", big.into_bytes()).await;
    let (status, run, output) = output_of(&app, &url, "big").await;
    assert_eq!((status, run["status"].as_str()), (200, Some("succeeded")));
    assert_eq!(output["truncated"], true);
    assert_eq!(output["body"].as_str().unwrap().len(), 65_536);
    assert!(output["size"].as_u64().unwrap() > 65_536);

    // A binary answer: its type and size only.
    let url = answering(200, "application/octet-stream", vec![0, 159, 146, 150]).await;
    let (status, _, output) = output_of(&app, &url, "binary").await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            &output["body"],
            &output["truncated"],
            &output["content_type"]
        ),
        (&json!(""), &json!(true), &json!("application/octet-stream"))
    );

    // Nothing answered: nothing kept.
    let url = answering(204, "text/plain", Vec::new()).await;
    let (status, run, _) = output_of(&app, &url, "empty").await;
    assert_eq!((status, run["status"].as_str()), (204, Some("succeeded")));

    // The run page shows it.
    let (_, run, _) = output_of(
        &app,
        &answering(200, "application/json", b"{\"rows\": 12}".to_vec()).await,
        "page",
    )
    .await;
    let page = app
        .client
        .get(app.url(&format!("/ui/runs/{}", run["id"])))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"run-output\""), "{page}");
    assert!(page.contains("{&quot;rows&quot;: 12} token=***"), "{page}");
    // An unknown run is 404.
    let (status, _) = app.get_json("/scheduler/runs/999999/output/").await;
    assert_eq!(status, 404);
}

scheduler_test_support::backend_tests! {
    attribute: tokio::test(flavor = "multi_thread", worker_threads = 2),
    setups: {
        sqlite => crate::support::sqlite_app,
        postgres => crate::support::postgres_app
    },
    tests: [the_answer_is_kept_with_the_run],
}
