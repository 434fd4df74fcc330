//! The entropy port: where the core gets random bytes, the one shape of the random tokens
//! it issues (API keys, signing secrets), and a seeded source that makes them reproducible
//! in tests. The operating system's generator is an adapter (`scheduler_adapters::OsEntropy`).

use std::sync::Mutex;

use crate::error::ServiceError;

/// Where the core gets random bytes: API keys, signing secrets, cursor keys. The core never
/// asks the operating system itself, so tests can make every secret reproducible
/// ([`SeededEntropy`]).
pub trait Entropy: Send + Sync {
    /// Fills `bytes` with random bytes. Production adapters MUST be unpredictable (the
    /// operating system's generator).
    ///
    /// # Errors
    /// Why no random bytes could be had (the generator is unavailable).
    fn fill(&self, bytes: &mut [u8]) -> Result<(), String>;
}

/// `prefix` followed by `bytes` random bytes as lowercase hex: the one shape of every token
/// the scheduler issues (`sk_…` keys, `whsec_…` secrets).
///
/// # Errors
/// `Unavailable` when the entropy source fails.
pub fn random_token(
    entropy: &dyn Entropy,
    prefix: &str,
    bytes: usize,
) -> Result<String, ServiceError> {
    let mut random = vec![0u8; bytes];
    entropy
        .fill(&mut random)
        .map_err(|why| ServiceError::Unavailable(format!("no random numbers: {why}")))?;
    Ok(format!("{prefix}{}", hex::encode(random)))
}

/// A deterministic [`Entropy`] for tests: the same seed gives the same bytes, in the same
/// order (SplitMix64). Never for production: its output is predictable by design.
#[derive(Debug)]
pub struct SeededEntropy {
    /// The generator's state.
    state: Mutex<u64>,
}

impl SeededEntropy {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: Mutex::new(seed),
        }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, bytes: &mut [u8]) -> Result<(), String> {
        let mut state = crate::sync::lock(&self.state);
        for chunk in bytes.chunks_mut(8) {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_tokens_and_another_seed_others() {
        let a = SeededEntropy::new(7);
        let b = SeededEntropy::new(7);
        let first = random_token(&a, "sk_", 32).unwrap();
        assert_eq!(first, random_token(&b, "sk_", 32).unwrap());
        assert_ne!(
            first,
            random_token(&a, "sk_", 32).unwrap(),
            "the next one differs"
        );
        assert_ne!(
            first,
            random_token(&SeededEntropy::new(8), "sk_", 32).unwrap()
        );
        assert!(first.starts_with("sk_") && first.len() == 3 + 64);
    }

    /// An entropy source that has none.
    struct Broken;

    impl Entropy for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), String> {
            Err("no generator".into())
        }
    }

    #[test]
    fn a_failing_source_is_unavailable_not_a_weak_token() {
        assert!(matches!(
            random_token(&Broken, "x", 8),
            Err(ServiceError::Unavailable(why)) if why.contains("no generator")
        ));
    }
}
