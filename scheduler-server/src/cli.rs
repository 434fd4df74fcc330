//! `scheduler-server keys ...` and `signing ...`: key and signing-secret management straight
//! on the database, for the first key and for operators (an admin key does the same over HTTP
//! at `/scheduler/keys/` and `/scheduler/signing-secrets/`).

use std::process::ExitCode;

use scheduler_core::{KeyService, Scope, ServiceError, SigningService, Tenant, WireEnum};

use crate::config::{KeysCommand, SigningCommand};

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
                    println!("{secret}");
                    ExitCode::SUCCESS
                }
                Err(error) => failed(error),
            }
        }
        KeysCommand::List { tenant } => {
            let tenant = match tenant.as_deref().map(Tenant::parse).transpose() {
                Ok(tenant) => tenant,
                Err(_) => {
                    eprintln!("scheduler-server keys list: --tenant: not a tenant name");
                    return ExitCode::from(2);
                }
            };
            match keys.list(tenant.as_ref()).await {
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
                            key.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                            key.revoked_at
                                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                                .unwrap_or_else(|| "-".into())
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

/// Runs a `signing` subcommand: the secrets on stdout, one per line, current first. Exit 0 on
/// success, 2 for a bad tenant, 1 when the database fails.
pub async fn signing(signing: &SigningService, command: SigningCommand) -> ExitCode {
    let (tenant, rotate) = match &command {
        SigningCommand::Show { tenant } => (tenant, None),
        SigningCommand::Rotate {
            tenant,
            overlap_hours,
        } => (tenant, Some(*overlap_hours)),
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
            for secret in secrets {
                println!("{}", secret.secret);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("scheduler-server signing: {error}");
            ExitCode::FAILURE
        }
    }
}
