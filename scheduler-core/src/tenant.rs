//! Tenants: the teams whose jobs, runs and keys are invisible to one another.

use crate::error::Invalid;

/// A tenant: a team whose jobs and keys are invisible to every other tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant(String);

impl Tenant {
    /// The tenant of jobs written before tenants existed, of embedded programs, and of the
    /// requests served without a key (loopback in `auto` mode, or `off`).
    pub const DEFAULT: &'static str = "default";

    /// Longest tenant name.
    pub const MAX_CHARS: usize = 64;

    /// Parses a tenant name: 1-64 characters of `a-z`, `0-9`, `-`, `_`, starting with a
    /// letter or digit.
    ///
    /// # Errors
    /// [`Invalid::TenantName`].
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_CHARS
            && raw.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if valid {
            Ok(Self(raw.to_string()))
        } else {
            Err(Invalid::TenantName)
        }
    }

    /// The `default` tenant.
    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_string())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_checked() {
        for good in ["default", "team-a", "a_1", "9lives"] {
            assert!(Tenant::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "Team", "-a", "a b", "ä", &"a".repeat(65)] {
            assert_eq!(Tenant::parse(bad), Err(Invalid::TenantName), "{bad}");
        }
    }
}
