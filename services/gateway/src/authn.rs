//! Authentication of callers at the edge.
//!
//! The platform operator's token is checked here (it exists before any
//! tenant does); partner API keys and portal sessions are resolved by the
//! tenants service ([`crate::resolver::TenantsAuthenticator`]).

use async_trait::async_trait;
use kefu_kit::context::{Principal, TenantId};
use kefu_proto::v1::PlanTier;
use sha2::{Digest, Sha256};

use crate::GatewayError;

/// The caller, as authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The tenant the caller acts in; `None` for the platform operator.
    pub tenant_id: Option<TenantId>,
    /// Who the caller is.
    pub principal: Principal,
    /// The tenant's plan, which sets its rate limits; unspecified for the
    /// platform operator.
    pub plan_tier: PlanTier,
}

/// Decides who a caller is from its `authorization` header.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// The caller of a request carrying `bearer` (the token after `Bearer `),
    /// or why it is refused.
    async fn authenticate(&self, bearer: &str) -> Result<Authenticated, GatewayError>;
}

/// Accepts the platform operator's token and nothing else.
#[derive(Clone)]
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

impl OperatorToken {
    /// Whether `bearer` is the operator's token.
    pub fn matches(&self, bearer: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(bearer.as_bytes()).into();
        // Comparing digests of fixed length, byte by byte without early exit,
        // reveals nothing about the token through timing.
        let difference = presented
            .iter()
            .zip(self.digest.iter())
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b));
        difference == 0
    }

    /// The operator, as authenticated.
    pub fn operator() -> Authenticated {
        Authenticated {
            tenant_id: None,
            principal: Principal::platform_operator(),
            plan_tier: PlanTier::Unspecified,
        }
    }
}

#[async_trait]
impl Authenticator for OperatorToken {
    async fn authenticate(&self, bearer: &str) -> Result<Authenticated, GatewayError> {
        if self.matches(bearer) {
            Ok(Self::operator())
        } else {
            Err(GatewayError::Unauthenticated("unknown bearer token"))
        }
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
