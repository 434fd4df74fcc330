//! `scheduler-server keys ...` and `signing ...`: key and signing-secret management straight
//! on the database, for the first key and for operators (an admin key does the same over HTTP
//! at `/scheduler/keys/` and `/scheduler/signing-secrets/`).
//!
//! stdout carries the result only — the new key alone (so `KEY=$(scheduler-server keys
//! create ...)` captures exactly it), a table, or with `--output json` one JSON document —
//! while messages and every log line go to stderr (`logging::init` with
//! [`crate::logging::LogOutput::Stderr`] for these commands).

use std::process::ExitCode;

use scheduler_core::{
    ApiKey, KeyService, Scope, ServiceError, SigningSecret, SigningService, Tenant, WireEnum,
};
use serde_json::{Value, json};

use crate::config::{KeysCommand, OutputFormat, SigningCommand};

/// An instant as the API writes it.
fn instant(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A key's record as `--output json` prints it (never its secret).
fn key_json(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "tenant": key.tenant.as_str(),
        "name": key.name,
        "scope": key.scope.as_str(),
        "prefix": key.prefix,
        "created_at": instant(key.created_at),
        "revoked_at": key.revoked_at.map(instant),
    })
}

/// A signing secret as `--output json` prints it.
fn secret_json(secret: &SigningSecret) -> Value {
    json!({
        "id": secret.id,
        "secret": secret.secret,
        "created_at": instant(secret.created_at),
        "expires_at": secret.expires_at.map(instant),
    })
}

/// Runs a `keys` subcommand: the new key on stdout (alone, for `KEY=$(...)`), everything
/// else on stderr or as a table on stdout. Exit 0 on success, 2 for bad arguments, 1 when the
/// database fails or the key does not exist.
pub async fn keys(keys: &KeyService, command: KeysCommand) -> ExitCode {
    let failed = |error: ServiceError| {
        eprintln!("scheduler-server keys: {error}");
        ExitCode::FAILURE
    };
    match command {
        KeysCommand::Create {
            tenant,
            scope,
            name,
            output,
        } => {
            let Ok(tenant) = Tenant::parse(&tenant) else {
                eprintln!(
                    "scheduler-server keys create: --tenant {tenant:?}: use 1-64 characters of \
                     a-z, 0-9, - and _"
                );
                return ExitCode::from(2);
            };
            let Ok(scope) = Scope::parse(&scope) else {
                eprintln!(
                    "scheduler-server keys create: --scope {scope:?}: use read, write or admin"
                );
                return ExitCode::from(2);
            };
            match keys.create(tenant, &name, scope).await {
                Ok((key, secret)) => {
                    eprintln!(
                        "created key {} ({}, tenant {}, scope {}); it is shown once:",
                        key.id,
                        key.name,
                        key.tenant,
                        key.scope.as_str()
                    );
                    match output {
                        OutputFormat::Text => println!("{secret}"),
                        OutputFormat::Json => {
                            let mut record = key_json(&key);
                            record["key"] = Value::String(secret);
                            println!("{record}");
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => failed(error),
            }
        }
        KeysCommand::List { tenant, output } => {
            let tenant = match tenant.as_deref().map(Tenant::parse).transpose() {
                Ok(tenant) => tenant,
                Err(_) => {
                    eprintln!("scheduler-server keys list: --tenant: not a tenant name");
                    return ExitCode::from(2);
                }
            };
            match keys.list(tenant.as_ref()).await {
                Ok(list) if output == OutputFormat::Json => {
                    println!("{}", Value::Array(list.iter().map(key_json).collect()));
                    ExitCode::SUCCESS
                }
                Ok(list) => {
                    println!(
                        "{:>6}  {:<16}  {:<24}  {:<6}  {:<12}  {:<20}  REVOKED",
                        "ID", "TENANT", "NAME", "SCOPE", "PREFIX", "CREATED"
                    );
                    for key in list {
                        println!(
                            "{:>6}  {:<16}  {:<24}  {:<6}  {:<12}  {:<20}  {}",
                            key.id,
                            key.tenant,
                            key.name,
                            key.scope.as_str(),
                            key.prefix,
                            instant(key.created_at),
                            key.revoked_at.map_or_else(|| "-".into(), instant)
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => failed(error),
            }
        }
        KeysCommand::Revoke { id } => match keys.revoke(id, None).await {
            Ok(()) => {
                eprintln!("revoked key {id}");
                ExitCode::SUCCESS
            }
            Err(error) => failed(error),
        },
    }
}

/// Runs a `signing` subcommand: the secrets on stdout, one per line, current first (or a JSON
/// array). Exit 0 on success, 2 for a bad tenant, 1 when the database fails.
pub async fn signing(signing: &SigningService, command: SigningCommand) -> ExitCode {
    let (tenant, rotate, output) = match &command {
        SigningCommand::Show { tenant, output } => (tenant, None, *output),
        SigningCommand::Rotate {
            tenant,
            overlap_hours,
            output,
        } => (tenant, Some(*overlap_hours), *output),
    };
    let Ok(tenant) = Tenant::parse(tenant) else {
        eprintln!("scheduler-server signing: --tenant {tenant:?}: not a tenant name");
        return ExitCode::from(2);
    };
    if let Some(hours) = rotate {
        match signing
            .rotate(&tenant, chrono::Duration::hours(i64::from(hours)))
            .await
        {
            Ok(secret) => eprintln!(
                "new current secret {} for tenant {tenant}; the previous ones stay valid for \
                 {hours} h",
                secret.id
            ),
            Err(error) => {
                eprintln!("scheduler-server signing: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    match signing.secrets(&tenant).await {
        Ok(secrets) => {
            match output {
                OutputFormat::Text => {
                    for secret in secrets {
                        println!("{}", secret.secret);
                    }
                }
                OutputFormat::Json => {
                    println!(
                        "{}",
                        Value::Array(secrets.iter().map(secret_json).collect())
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("scheduler-server signing: {error}");
            ExitCode::FAILURE
        }
    }
}
