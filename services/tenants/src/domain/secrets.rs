//! The bearer secrets the tenants service issues. Only their SHA-256 digest
//! is stored: the secrets are long random strings, so a fast hash is enough
//! (passwords, chosen by people, use argon2id instead).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};

/// The prefix that marks an API key secret.
pub const API_KEY_PREFIX: &str = "kefu_ak_";

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A portal session token: 32 random bytes, base64url, 43 characters.
pub fn session_token() -> String {
    random_token()
}

/// An invitation token: 32 random bytes, base64url, 43 characters.
pub fn invitation_token() -> String {
    random_token()
}

/// An API key secret: `kefu_ak_` and 40 characters of `[A-Za-z0-9]`.
pub fn api_key_secret() -> String {
    let mut rng = rand::rng();
    let tail: String = (0..40)
        .map(|_| ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())] as char)
        .collect();
    format!("{API_KEY_PREFIX}{tail}")
}

/// The first 12 characters of a key, shown to recognise it.
pub fn api_key_prefix(secret: &str) -> String {
    secret.chars().take(12).collect()
}

/// Lower-case hex SHA-256 of a secret: what is stored and looked up.
pub fn digest(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What a bearer token looks like, without looking it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `kefu_ak_` and 40 alphanumerics.
    ApiKey,
    /// 43 base64url characters.
    Session,
    /// Neither.
    Unknown,
}

/// Classifies a bearer token by its shape.
pub fn classify(bearer: &str) -> SecretKind {
    if let Some(tail) = bearer.strip_prefix(API_KEY_PREFIX)
        && tail.len() == 40
        && tail.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return SecretKind::ApiKey;
    }
    if bearer.len() == 43
        && bearer
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return SecretKind::Session;
    }
    SecretKind::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_their_documented_shapes_and_never_repeat() {
        let key = api_key_secret();
        assert_eq!(key.len(), 48);
        assert_eq!(classify(&key), SecretKind::ApiKey);
        assert_eq!(api_key_prefix(&key).len(), 12);
        let session = session_token();
        assert_eq!(session.len(), 43);
        assert_eq!(classify(&session), SecretKind::Session);
        assert_ne!(session, session_token());
        assert_ne!(key, api_key_secret());
        assert_eq!(classify("operator-token"), SecretKind::Unknown);
    }

    #[test]
    fn digests_are_stable_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
