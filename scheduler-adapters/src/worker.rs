//! The name a replica writes on the runs it executes: given by the operator, or made from the
//! host name and process id. Both the server and the embedding builder use these.

/// The longest worker name a run can store.
pub const MAX_WORKER_CHARS: usize = 255;

/// A worker name a run can store: 1 to 255 characters, no control characters (trimmed).
///
/// # Errors
/// The rule, worded for the operator who set it.
pub fn worker_name(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > MAX_WORKER_CHARS
        || trimmed.chars().any(char::is_control)
    {
        return Err(format!(
            "a worker id is 1 to {MAX_WORKER_CHARS} characters without control characters"
        ));
    }
    Ok(trimmed.to_string())
}

/// `<host>-<pid>` from `HOSTNAME` (or `scheduler` when it is unset or not a storable name),
/// cut so that it always fits [`MAX_WORKER_CHARS`].
pub fn default_worker_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .and_then(|host| worker_name(&host).ok())
        .unwrap_or_else(|| "scheduler".into());
    // A host name is at most 253 characters: room for the process id is kept.
    let host: String = host.chars().take(MAX_WORKER_CHARS - 11).collect();
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_the_default_always_fits() {
        assert_eq!(worker_name("  replica-a ").unwrap(), "replica-a");
        assert!(worker_name("").is_err());
        assert!(worker_name("bad\nname").is_err());
        assert!(worker_name(&"x".repeat(MAX_WORKER_CHARS + 1)).is_err());
        let default = default_worker_name();
        assert!(worker_name(&default).is_ok(), "{default}");
        assert!(default.ends_with(&format!("-{}", std::process::id())));
    }
}
