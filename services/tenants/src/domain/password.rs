//! The portal password policy and argon2id hashing.

use std::sync::OnceLock;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
};

/// Passwords people pick first; refused whatever their length.
const COMMON: &[&str] = &[
    "password1234",
    "password12345",
    "123456789012",
    "1234567890123",
    "qwertyuiop123",
    "iloveyou1234",
    "admin1234567",
    "woaini1314520",
    "aa123456789",
    "qq123456789",
    "abc123456789",
    "qwerty123456",
    "1q2w3e4r5t6y",
    "passw0rd1234",
    "welcome12345",
    "letmein12345",
    "11111111111111",
    "000000000000",
    "asdfghjkl123",
    "zxcvbnm12345",
    "p@ssw0rd1234",
    "changeme1234",
    "woaini520520",
    "5201314520",
    "iloveyou520",
];

/// The tenant's password rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (the tenant's `password_min_length`, 12 to 128).
    pub min_length: usize,
}

/// What a password must not contain.
#[derive(Debug, Clone, Copy)]
pub struct PasswordContext<'a> {
    /// The user's e-mail.
    pub email: &'a str,
    /// The tenant's slug.
    pub tenant_slug: &'a str,
}

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Too short.
    #[error("must be at least {min} characters")]
    TooShort {
        /// The minimum.
        min: usize,
    },
    /// Longer than 128 characters.
    #[error("must be at most 128 characters")]
    TooLong,
    /// Contains the e-mail or its name part.
    #[error("must not contain your e-mail address")]
    ContainsEmail,
    /// Contains the tenant's slug.
    #[error("must not contain the company's login name")]
    ContainsTenant,
    /// On the common-password list.
    #[error("is too common; choose a less guessable one")]
    Common,
    /// One character repeated.
    #[error("must not be one character repeated")]
    Repetitive,
}

impl PasswordPolicy {
    /// Checks `password` against the policy.
    pub fn check(&self, password: &str, context: &PasswordContext) -> Result<(), WeakPassword> {
        let length = password.chars().count();
        if length < self.min_length.max(12) {
            return Err(WeakPassword::TooShort {
                min: self.min_length.max(12),
            });
        }
        if length > 128 {
            return Err(WeakPassword::TooLong);
        }
        let lower = password.to_lowercase();
        let email = context.email.to_lowercase();
        let local = email.split('@').next().unwrap_or_default();
        if (!email.is_empty() && lower.contains(&email))
            || (local.chars().count() >= 3 && lower.contains(local))
        {
            return Err(WeakPassword::ContainsEmail);
        }
        if !context.tenant_slug.is_empty() && lower.contains(&context.tenant_slug.to_lowercase()) {
            return Err(WeakPassword::ContainsTenant);
        }
        if COMMON.contains(&lower.as_str()) {
            return Err(WeakPassword::Common);
        }
        let mut chars = password.chars();
        if let Some(first) = chars.next()
            && chars.all(|c| c == first)
        {
            return Err(WeakPassword::Repetitive);
        }
        Ok(())
    }
}

/// A stored hash that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("password hash: {0}")]
pub struct PasswordHashError(String);

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id parameters: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The argon2id PHC string of `password`, with a random salt.
pub fn hash(password: &str) -> Result<String, PasswordHashError> {
    let mut bytes = [0_u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let salt =
        SaltString::encode_b64(&bytes).map_err(|error| PasswordHashError(error.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordHashError(error.to_string()))
}

/// Whether `password` matches the stored `phc` (constant time).
pub fn verify(password: &str, phc: &str) -> Result<bool, PasswordHashError> {
    let parsed = PasswordHash::new(phc).map_err(|error| PasswordHashError(error.to_string()))?;
    Ok(argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A hash to verify against when there is no user, so a login for an
/// unknown e-mail takes as long as one with a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash("no user has this password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: PasswordContext<'static> = PasswordContext {
        email: "li.lei@example.com",
        tenant_slug: "acme",
    };

    #[test]
    fn the_policy_refuses_weak_passwords_with_the_reason() {
        let policy = PasswordPolicy { min_length: 12 };
        assert_eq!(
            policy.check("short-pass1", &CONTEXT),
            Err(WeakPassword::TooShort { min: 12 })
        );
        assert!(policy.check("long-enough1", &CONTEXT).is_ok());
        assert!(
            policy
                .check("春眠不觉晓处处闻啼鸟夜来风雨", &CONTEXT)
                .is_ok(),
            "counted in characters"
        );
        assert_eq!(
            policy.check(&"ab".repeat(65), &CONTEXT),
            Err(WeakPassword::TooLong)
        );
        assert_eq!(
            policy.check("my-li.lei-secret", &CONTEXT),
            Err(WeakPassword::ContainsEmail)
        );
        assert_eq!(
            policy.check("welcome-to-ACME!", &CONTEXT),
            Err(WeakPassword::ContainsTenant)
        );
        assert_eq!(
            policy.check("WoAiNi1314520", &CONTEXT),
            Err(WeakPassword::Common)
        );
        assert_eq!(
            policy.check("zzzzzzzzzzzzzz", &CONTEXT),
            Err(WeakPassword::Repetitive)
        );
        let strict = PasswordPolicy { min_length: 16 };
        assert_eq!(
            strict.check("long-enough1", &CONTEXT),
            Err(WeakPassword::TooShort { min: 16 })
        );
    }

    #[test]
    fn hashes_verify_only_their_password_and_are_salted() {
        let first = hash("correct horse battery").expect("hash");
        assert!(first.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &first).expect("verify"));
        assert!(!verify("correct horse battery!", &first).expect("verify"));
        assert_ne!(first, hash("correct horse battery").expect("hash"));
        assert!(verify("x", "not a hash").is_err());
    }
}
