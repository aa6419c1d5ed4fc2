//! The internal credential: a short-lived token the gateway signs after it has
//! authenticated a caller, carrying the tenant and principal to the service.
//!
//! Services trust nothing else about who is calling. The format is
//! `kefu1.<claims>.<mac>`: base64url (no padding) of the JSON claims and of
//! their HMAC-SHA256 under a key shared by the gateway and the services. The
//! verifier accepts several keys so the key can be rotated without downtime.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::context::{CallContext, Principal, TenantId};

/// The metadata key that carries the credential on every gRPC hop.
pub const CREDENTIAL_HEADER: &str = "x-kefu-credential";

const VERSION_PREFIX: &str = "kefu1";
const MIN_KEY_BYTES: usize = 32;

/// Why a credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// Not three dot-separated base64url parts of the known version.
    #[error("malformed credential")]
    Malformed,
    /// The MAC does not match under any accepted key: forged or tampered.
    #[error("credential signature does not verify")]
    BadSignature,
    /// The credential's lifetime is over.
    #[error("credential expired")]
    Expired,
    /// The key is too short or not base64.
    #[error("internal credential key must be at least {MIN_KEY_BYTES} bytes of base64")]
    WeakKey,
}

/// A secret key for signing and verifying credentials.
#[derive(Clone)]
pub struct CredentialKey(Vec<u8>);

impl std::fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialKey(..)")
    }
}

impl CredentialKey {
    /// A key from raw bytes; at least 32.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CredentialError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(CredentialError::WeakKey);
        }
        Ok(Self(bytes))
    }

    /// A key from its base64 (standard or url-safe) text, as configured.
    pub fn from_base64(text: &str) -> Result<Self, CredentialError> {
        let trimmed = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(trimmed)
            .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed.trim_end_matches('=')))
            .map_err(|_| CredentialError::WeakKey)?;
        Self::from_bytes(bytes)
    }

    /// A fresh random key, for a single process (`kefu up`) or a new install.
    pub fn generate() -> Self {
        let mut bytes = vec![0_u8; MIN_KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The key as standard base64, the configured form.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }

    fn mac(&self, message: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("hmac accepts any key length");
        mac.update(message);
        mac
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    #[serde(rename = "tid", default, skip_serializing_if = "Option::is_none")]
    tenant_id: Option<TenantId>,
    #[serde(rename = "sub")]
    principal: Principal,
    #[serde(rename = "iat")]
    issued_at: i64,
    #[serde(rename = "exp")]
    expires_at: i64,
}

/// Mints credentials (the gateway, and services calling each other as the system).
#[derive(Debug, Clone)]
pub struct CredentialSigner {
    key: CredentialKey,
    ttl: Duration,
}

impl CredentialSigner {
    /// A signer whose credentials live for `ttl`.
    pub fn new(key: CredentialKey, ttl: Duration) -> Self {
        Self { key, ttl }
    }

    /// A credential for `principal` acting in `tenant_id`, valid from `now`.
    pub fn mint(
        &self,
        tenant_id: Option<TenantId>,
        principal: Principal,
        now: DateTime<Utc>,
    ) -> String {
        let claims = Claims {
            tenant_id,
            principal,
            issued_at: now.timestamp_millis(),
            expires_at: (now + self.ttl).timestamp_millis(),
        };
        let json = serde_json::to_vec(&claims).expect("claims always serialize");
        let signed_part = format!("{VERSION_PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
        let tag = self.key.mac(signed_part.as_bytes()).finalize().into_bytes();
        format!("{signed_part}.{}", URL_SAFE_NO_PAD.encode(tag))
    }
}

/// Verifies credentials (every service).
#[derive(Debug, Clone)]
pub struct CredentialVerifier {
    /// The current key first, then keys being rotated out.
    keys: Vec<CredentialKey>,
}

impl CredentialVerifier {
    /// A verifier accepting any of `keys`.
    pub fn new(keys: Vec<CredentialKey>) -> Self {
        Self { keys }
    }

    /// The verified context of `token` at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<CallContext, CredentialError> {
        let (signed_part, tag_text) = token.rsplit_once('.').ok_or(CredentialError::Malformed)?;
        let (version, claims_text) = signed_part
            .split_once('.')
            .ok_or(CredentialError::Malformed)?;
        if version != VERSION_PREFIX {
            return Err(CredentialError::Malformed);
        }
        let tag = URL_SAFE_NO_PAD
            .decode(tag_text)
            .map_err(|_| CredentialError::Malformed)?;
        // Constant-time comparison inside `verify_slice`.
        let authentic = self
            .keys
            .iter()
            .any(|key| key.mac(signed_part.as_bytes()).verify_slice(&tag).is_ok());
        if !authentic {
            return Err(CredentialError::BadSignature);
        }
        let json = URL_SAFE_NO_PAD
            .decode(claims_text)
            .map_err(|_| CredentialError::Malformed)?;
        let claims: Claims =
            serde_json::from_slice(&json).map_err(|_| CredentialError::Malformed)?;
        if now.timestamp_millis() >= claims.expires_at {
            return Err(CredentialError::Expired);
        }
        Ok(CallContext {
            tenant_id: claims.tenant_id,
            principal: claims.principal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::PrincipalKind;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid time")
            .with_timezone(&Utc)
    }

    fn agent() -> Principal {
        Principal {
            kind: PrincipalKind::User,
            id: "0194f1c2-user".into(),
            roles: vec!["agent".into()],
            session: None,
            approval_level: 0,
        }
    }

    #[test]
    fn a_minted_credential_verifies_to_its_tenant_and_principal() {
        let key = CredentialKey::generate();
        let tenant = TenantId::new();
        let token = CredentialSigner::new(key.clone(), Duration::seconds(60)).mint(
            Some(tenant),
            agent(),
            at("2026-11-23T08:00:00Z"),
        );
        let context = CredentialVerifier::new(vec![key])
            .verify(&token, at("2026-11-23T08:00:30Z"))
            .expect("verifies");
        assert_eq!(context.tenant_id, Some(tenant));
        assert_eq!(context.principal, agent());
    }

    #[test]
    fn a_credential_is_refused_once_expired() {
        let key = CredentialKey::generate();
        let token = CredentialSigner::new(key.clone(), Duration::seconds(60)).mint(
            None,
            agent(),
            at("2026-11-23T08:00:00Z"),
        );
        let verifier = CredentialVerifier::new(vec![key]);
        assert_eq!(
            verifier.verify(&token, at("2026-11-23T08:01:00Z")),
            Err(CredentialError::Expired)
        );
    }

    #[test]
    fn a_tampered_tenant_is_refused() {
        let key = CredentialKey::generate();
        let victim = TenantId::new();
        let token = CredentialSigner::new(key.clone(), Duration::seconds(60)).mint(
            Some(TenantId::new()),
            agent(),
            at("2026-11-23T08:00:00Z"),
        );
        // Rewrite the claims to name another tenant, keeping the original MAC.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        claims["tid"] = serde_json::Value::String(victim.to_string());
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        let verifier = CredentialVerifier::new(vec![key]);
        assert_eq!(
            verifier.verify(&forged, at("2026-11-23T08:00:01Z")),
            Err(CredentialError::BadSignature)
        );
    }

    #[test]
    fn a_credential_signed_with_another_key_is_refused() {
        let token = CredentialSigner::new(CredentialKey::generate(), Duration::seconds(60)).mint(
            None,
            agent(),
            at("2026-11-23T08:00:00Z"),
        );
        let verifier = CredentialVerifier::new(vec![CredentialKey::generate()]);
        assert_eq!(
            verifier.verify(&token, at("2026-11-23T08:00:01Z")),
            Err(CredentialError::BadSignature)
        );
    }

    #[test]
    fn a_rotated_out_key_still_verifies_while_listed() {
        let old = CredentialKey::generate();
        let token = CredentialSigner::new(old.clone(), Duration::seconds(60)).mint(
            None,
            agent(),
            at("2026-11-23T08:00:00Z"),
        );
        let verifier = CredentialVerifier::new(vec![CredentialKey::generate(), old]);
        assert!(verifier.verify(&token, at("2026-11-23T08:00:01Z")).is_ok());
    }

    #[test]
    fn garbage_is_malformed_and_short_keys_are_weak() {
        let verifier = CredentialVerifier::new(vec![CredentialKey::generate()]);
        assert_eq!(
            verifier.verify("tenant=acme", at("2026-11-23T08:00:00Z")),
            Err(CredentialError::Malformed)
        );
        assert_eq!(
            verifier.verify("jwt.abc.def", at("2026-11-23T08:00:00Z")),
            Err(CredentialError::Malformed)
        );
        assert_eq!(
            CredentialKey::from_base64("c2hvcnQ=").err(),
            Some(CredentialError::WeakKey)
        );
        let key = CredentialKey::generate();
        assert!(CredentialKey::from_base64(&key.to_base64()).is_ok());
    }
}
