//! Partner API keys and portal sessions, resolved by the tenants service.
//!
//! The gateway keeps no copy of users, keys or sessions: for each call it
//! asks the tenants service who presents the secret (GetCurrentPrincipal
//! with the secret in [`RESOLVE_BEARER_HEADER`], called as the system
//! principal, which only the gateway can sign). A revoked key, an ended
//! session or a suspended tenant is therefore refused on the very next call.
//!
//! That costs every call a gRPC hop and one read-only transaction in the
//! tenants service (the secret's look-up, the tenant, the key or the session
//! and its user). Nothing is cached, on purpose: a per-replica cache emptied
//! by the tenants events (ApiKeyRevoked, SessionEnded, UserDeactivated,
//! TenantSuspended, …) would go on accepting a revoked secret for as long
//! as the outbox relay takes to deliver the event, which breaks the promise
//! above. A cache that stays correct needs a per-tenant credential revision
//! the tenants service bumps in the same transaction as every change of who
//! may call, checked with one indexed read per call instead of the whole
//! resolution; it is not built yet (see README, Benchmarks › Tickets).

use std::sync::Arc;

use async_trait::async_trait;
use kefu_kit::{
    auth::RESOLVE_BEARER_HEADER,
    clock::SharedClock,
    context::{Principal, PrincipalKind, TenantId},
    credential::{CREDENTIAL_HEADER, CredentialSigner},
};
use kefu_proto::v1::{
    ActorKind, CurrentPrincipal, GetCurrentPrincipalRequest, PlanTier, Role,
    identity_service_client::IdentityServiceClient,
};
use tonic::{Code, transport::Channel};

use crate::{
    GatewayError,
    access::scopes_granted,
    authn::{Authenticated, Authenticator, OperatorToken},
};

/// Accepts the operator's token, and API keys and sessions the tenants
/// service vouches for.
pub struct TenantsAuthenticator {
    operator: OperatorToken,
    identity: IdentityServiceClient<Channel>,
    signer: Arc<CredentialSigner>,
    clock: SharedClock,
}

impl TenantsAuthenticator {
    /// Resolves through the tenants service at `tenants`, calling it with
    /// credentials `signer` mints.
    pub fn new(
        operator: OperatorToken,
        tenants: Channel,
        signer: Arc<CredentialSigner>,
        clock: SharedClock,
    ) -> Self {
        Self {
            operator,
            identity: IdentityServiceClient::new(tenants),
            signer,
            clock,
        }
    }

    async fn resolve(&self, bearer: &str) -> Result<CurrentPrincipal, GatewayError> {
        let mut request = tonic::Request::new(GetCurrentPrincipalRequest::default());
        let credential = self
            .signer
            .mint(None, Principal::system(), self.clock.now());
        let metadata = request.metadata_mut();
        metadata.insert(
            CREDENTIAL_HEADER,
            credential
                .parse()
                .map_err(|_| GatewayError::Upstream("tenants".into()))?,
        );
        metadata.insert(
            RESOLVE_BEARER_HEADER,
            bearer
                .parse()
                .map_err(|_| GatewayError::Unauthenticated("bearer token is not valid text"))?,
        );
        kefu_kit::telemetry::inject_trace_context(metadata);
        match self.identity.clone().get_current_principal(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) if refuses_the_caller(&status) => Err(GatewayError::Refused(status)),
            Err(status) => {
                tracing::warn!(status = %status, "tenants service could not resolve a credential");
                Err(GatewayError::Upstream("tenants".into()))
            }
        }
    }
}

/// Whether the tenants service refused the presented secret (unknown,
/// expired, revoked, tenant suspended or being deleted): that answer goes to
/// the caller. Anything else (say, the gateway's own credential refused) is
/// the gateway's problem, answered as UNAVAILABLE without detail.
fn refuses_the_caller(status: &tonic::Status) -> bool {
    use tonic_types::StatusExt;
    match status.code() {
        Code::Unauthenticated => true,
        Code::PermissionDenied => status
            .get_error_details()
            .error_info()
            .is_some_and(|info| info.reason.starts_with("TENANT_")),
        _ => false,
    }
}

#[async_trait]
impl Authenticator for TenantsAuthenticator {
    async fn authenticate(&self, bearer: &str) -> Result<Authenticated, GatewayError> {
        if self.operator.matches(bearer) {
            return Ok(OperatorToken::operator());
        }
        let resolved = self.resolve(bearer).await?;
        authenticated(&resolved)
    }
}

/// The last segment of a resource name (`users/{id}` → `{id}`).
fn last_segment(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or_default()
}

/// What the gateway signs for a principal the tenants service described.
pub fn authenticated(resolved: &CurrentPrincipal) -> Result<Authenticated, GatewayError> {
    let malformed = || {
        tracing::error!(tenant = %resolved.tenant, "tenants service described a principal the gateway cannot read");
        GatewayError::Upstream("tenants".into())
    };
    let tenant_id: TenantId = resolved
        .tenant
        .strip_prefix("tenants/")
        .and_then(|id| id.parse().ok())
        .ok_or_else(malformed)?;
    let actor = resolved.actor.as_ref().ok_or_else(malformed)?;
    let principal = match ActorKind::try_from(actor.kind) {
        Ok(ActorKind::User) => Principal {
            kind: PrincipalKind::User,
            id: last_segment(&actor.name).to_owned(),
            roles: resolved
                .roles
                .iter()
                .filter_map(|role| Role::try_from(*role).ok())
                .map(|role| role.as_str_name().to_owned())
                .collect(),
            session: Some(resolved.session.as_str())
                .filter(|session| !session.is_empty())
                .map(|session| last_segment(session).to_owned()),
            approval_level: resolved.approval_level,
        },
        Ok(ActorKind::ApiKey) => Principal {
            kind: PrincipalKind::ApiKey,
            id: last_segment(&actor.name).to_owned(),
            roles: scopes_granted(&resolved.scopes),
            session: None,
            approval_level: 0,
        },
        _ => return Err(malformed()),
    };
    Ok(Authenticated {
        tenant_id: Some(tenant_id),
        principal,
        plan_tier: PlanTier::try_from(resolved.plan_tier).unwrap_or(PlanTier::Unspecified),
    })
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{Actor, ApiKeyAccess, ApiKeyScope};

    use super::*;

    #[test]
    fn a_user_principal_carries_roles_session_and_approval_level() {
        let tenant = TenantId::new();
        let resolved = CurrentPrincipal {
            actor: Some(Actor {
                kind: ActorKind::User as i32,
                name: "users/0194-u".into(),
                display_name: "王芳".into(),
            }),
            tenant: format!("tenants/{tenant}"),
            roles: vec![Role::Agent as i32, Role::Supervisor as i32],
            approval_level: 2,
            session: "users/0194-u/sessions/0194-s".into(),
            plan_tier: PlanTier::Professional as i32,
            ..CurrentPrincipal::default()
        };
        let caller = authenticated(&resolved).expect("readable");
        assert_eq!(caller.tenant_id, Some(tenant));
        assert_eq!(caller.principal.kind, PrincipalKind::User);
        assert_eq!(caller.principal.id, "0194-u");
        assert_eq!(caller.principal.roles, ["ROLE_AGENT", "ROLE_SUPERVISOR"]);
        assert_eq!(caller.principal.session.as_deref(), Some("0194-s"));
        assert_eq!(caller.principal.approval_level, 2);
        assert_eq!(caller.plan_tier, PlanTier::Professional);
    }

    #[test]
    fn an_api_key_principal_carries_its_scopes() {
        let resolved = CurrentPrincipal {
            actor: Some(Actor {
                kind: ActorKind::ApiKey as i32,
                name: "apiKeys/k1".into(),
                display_name: "ERP".into(),
            }),
            tenant: format!("tenants/{}", TenantId::new()),
            scopes: vec![ApiKeyScope {
                service: "customers".into(),
                access: ApiKeyAccess::Read as i32,
            }],
            ..CurrentPrincipal::default()
        };
        let caller = authenticated(&resolved).expect("readable");
        assert_eq!(caller.principal.kind, PrincipalKind::ApiKey);
        assert_eq!(caller.principal.roles, ["customers:read"]);
    }

    #[test]
    fn a_principal_without_tenant_is_not_signed() {
        let resolved = CurrentPrincipal {
            actor: Some(Actor {
                kind: ActorKind::User as i32,
                ..Actor::default()
            }),
            ..CurrentPrincipal::default()
        };
        assert!(authenticated(&resolved).is_err());
    }
}
