//! Authentication of callers at the edge.
//!
//! The tenants issue adds partner API keys and portal sessions; the platform
//! operator's token exists from the start so an installation can be managed
//! before it has any tenant.

use async_trait::async_trait;
use kefu_kit::context::{Principal, TenantId};
use sha2::{Digest, Sha256};

use crate::GatewayError;

/// The caller, as authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The tenant the caller acts in; `None` for the platform operator.
    pub tenant_id: Option<TenantId>,
    /// Who the caller is.
    pub principal: Principal,
}

/// Decides who a caller is from its `authorization` header.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The caller of a request carrying `bearer` (the token after `Bearer `),
    /// or why it is refused.
    async fn authenticate(&self, bearer: &str) -> Result<Authenticated, GatewayError>;
}

/// Accepts the platform operator's token and nothing else.
pub struct OperatorToken {
    digest: [u8; 32],
}

impl OperatorToken {
    /// An authenticator for `token`. Only its digest is kept in memory.
    pub fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }
}

#[async_trait]
impl Authenticator for OperatorToken {
    async fn authenticate(&self, bearer: &str) -> Result<Authenticated, GatewayError> {
        let presented: [u8; 32] = Sha256::digest(bearer.as_bytes()).into();
        // Comparing digests of fixed length, byte by byte without early exit,
        // reveals nothing about the token through timing.
        let difference = presented
            .iter()
            .zip(self.digest.iter())
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b));
        if difference != 0 {
            return Err(GatewayError::Unauthenticated("unknown bearer token"));
        }
        Ok(Authenticated {
            tenant_id: None,
            principal: Principal::platform_operator(),
        })
    }
}

/// The bearer token of an `authorization` header value.
pub fn bearer_token(header: Option<&http::HeaderValue>) -> Result<&str, GatewayError> {
    let value = header
        .ok_or(GatewayError::Unauthenticated(
            "missing authorization: Bearer <token>",
        ))?
        .to_str()
        .map_err(|_| GatewayError::Unauthenticated("authorization header is not text"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(GatewayError::Unauthenticated(
            "authorization must be Bearer <token>",
        ))?
        .trim();
    if token.is_empty() {
        return Err(GatewayError::Unauthenticated("empty bearer token"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_operator_token_authenticates_the_operator_and_nothing_else() {
        let authenticator = OperatorToken::new("s3cret-operator-token");
        let caller = authenticator
            .authenticate("s3cret-operator-token")
            .await
            .expect("accepted");
        assert_eq!(caller.tenant_id, None);
        assert_eq!(caller.principal, Principal::platform_operator());
        assert!(
            authenticator
                .authenticate("s3cret-operator-tokeN")
                .await
                .is_err()
        );
        assert!(authenticator.authenticate("").await.is_err());
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        let header = http::HeaderValue::from_static("Bearer abc");
        assert_eq!(bearer_token(Some(&header)).expect("bearer"), "abc");
        assert!(bearer_token(None).is_err());
        assert!(bearer_token(Some(&http::HeaderValue::from_static("Basic abc"))).is_err());
        assert!(bearer_token(Some(&http::HeaderValue::from_static("Bearer  "))).is_err());
    }
}
