//! `keys list|create|revoke`, and the exit code of every kind of authentication failure.

use crate::support;

#[tokio::test]
async fn keys_are_created_listed_and_revoked_and_bad_keys_exit_4() {
    let server = support::sqlite_server().await.unwrap();
    // The first key, from loopback before any key exists: the key alone on stdout.
    let created = server
        .ctl()
        .run(&["keys", "create", "--name", "ops", "--scope", "admin"])
        .await;
    let admin_key = created.ok().trim_end().to_string();
    assert_eq!(created.stdout, format!("{admin_key}\n"));
    assert!(
        admin_key.starts_with("sk_") && admin_key.len() == 67,
        "{admin_key}"
    );
    assert!(
        created
            .stderr
            .contains("\"ops\" (scope admin, tenant default)"),
        "{created:#?}"
    );
    assert!(!created.stderr.contains(&admin_key[12..]), "{created:#?}");

    // Now a key is needed: none, a wrong one.
    let anonymous = server.ctl().run(&["jobs", "list"]).await;
    let stderr = anonymous.fails(4);
    assert!(
        stderr.contains("authentication failed (401 Unauthorized)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no key was sent: set SCHEDULER_KEY or pass --key"),
        "{stderr}"
    );
    let wrong = "sk_0000000000000000000000000000000000000000000000000000000000000000";
    let refused = server.ctl().with_key(wrong).run(&["jobs", "list"]).await;
    let stderr = refused.fails(4);
    assert!(stderr.contains("Invalid token."), "{stderr}");
    assert!(
        !stderr.contains(wrong),
        "the key is never printed: {stderr}"
    );

    let admin = server.ctl().with_key(&admin_key);
    let reader_key = admin
        .run(&["keys", "create", "--name", "dashboard", "--scope", "read"])
        .await
        .ok()
        .trim_end()
        .to_string();
    let as_json = admin
        .json(&["keys", "create", "--name", "ci", "--scope", "write"])
        .await;
    assert!(as_json["key"].as_str().unwrap().starts_with("sk_"));
    assert_eq!(as_json["scope"], "write");

    // A read key reads, and may not write or manage keys: 403 is exit 4 too.
    let reader = server.ctl().with_key(&reader_key);
    assert_eq!(reader.json(&["jobs", "list"]).await["count"], 0);
    let denied = reader
        .run(&["jobs", "create", "--name", "x", "--cron", "@daily"])
        .await;
    let stderr = denied.fails(4);
    assert!(
        stderr.contains("permission denied (403 Forbidden): You do not have permission"),
        "{stderr}"
    );
    reader.run(&["keys", "list"]).await.fails(4);
    reader
        .run(&["keys", "create", "--name", "escalate", "--scope", "admin"])
        .await
        .fails(4);
    admin.run(&["keys", "create"]).await.fails(2);

    // The list: every key, never a secret.
    let listed = admin.run(&["keys", "list"]).await;
    let table = listed.ok();
    assert!(table.starts_with("ID  TENANT"), "{table}");
    for name in ["ops", "dashboard", "ci"] {
        assert!(table.contains(name), "{name} in {table}");
    }
    for secret in [&admin_key, &reader_key] {
        assert!(!table.contains(&secret[12..]), "{table}");
    }
    let keys = admin.json(&["keys", "list"]).await;
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 3);
    let dashboard = keys.iter().find(|k| k["name"] == "dashboard").unwrap();
    let id = dashboard["id"].to_string();

    // Revoked: refused at once; a second revocation is not found.
    let revoked = admin.run(&["keys", "revoke", &id]).await;
    assert_eq!(revoked.ok().trim(), format!("Revoked key {id}."));
    let stderr = reader.run(&["jobs", "list"]).await;
    assert!(stderr.fails(4).contains("Invalid token."), "{stderr:#?}");
    let again = admin.run(&["keys", "revoke", &id]).await;
    again.fails(3);
    let json = admin
        .json(&["keys", "revoke", &as_json["id"].to_string()])
        .await;
    assert_eq!(
        json,
        serde_json::json!({"id": as_json["id"], "revoked": true})
    );

    // --key works as well as SCHEDULER_KEY.
    let by_flag = server
        .ctl()
        .run(&["jobs", "list", "--key", &admin_key, "--output", "json"])
        .await;
    assert_eq!(by_flag.json()["count"], 0);
}

#[tokio::test]
async fn a_key_in_the_environment_is_never_printed_by_help_or_errors() {
    let server = support::sqlite_server().await.unwrap();
    let admin_key = support::first_admin_key(&server).await;
    let ctl = server.ctl().with_key(&admin_key);
    let help = ctl.run(&["--help"]).await;
    assert!(help.ok().contains("[env: SCHEDULER_KEY]"), "{help:#?}");
    assert!(!help.stdout.contains(&admin_key[3..]), "{help:#?}");
    let help = ctl.run(&["jobs", "list", "--help"]).await;
    assert!(!help.ok().contains(&admin_key[3..]), "{help:#?}");
    for args in [
        &["jobs", "get", "77"][..],
        &["jobs", "create", "--cron", "nope"],
        &["runs", "get", "x"],
    ] {
        let failed = ctl.run(args).await;
        assert_ne!(failed.code, 0);
        assert!(!failed.stderr.contains(&admin_key[3..]), "{failed:#?}");
    }
    let unreachable = support::command()
        .args(["jobs", "list", "--url", "http://127.0.0.1:1"])
        .env("SCHEDULER_KEY", &admin_key)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&unreachable.stderr).contains(&admin_key[3..]));
}
