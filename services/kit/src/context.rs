//! Who is calling, on behalf of which tenant.
//!
//! A service learns both only from the internal credential the gateway signs
//! (see [`crate::credential`]); the interceptor in [`crate::auth`] puts the
//! verified [`CallContext`] into the request's extensions.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A tenant's id (UUIDv7). Every tenant-owned row and every store call carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl TenantId {
    /// A new, time-ordered tenant id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for TenantId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for TenantId {
    type Err = uuid::Error;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(value).map(Self)
    }
}

/// What kind of principal is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A user of a tenant, through a portal session.
    User,
    /// A partner system, through an API key.
    ApiKey,
    /// The platform operator: manages tenants, sees nothing inside them.
    PlatformOperator,
    /// Kefu itself: schedulers and event handlers calling another service.
    System,
    /// A caller of a tenant-free method (Login, AcceptInvitation) that has
    /// no credential yet.
    Anonymous,
}

/// The authenticated caller, as the gateway resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// What kind of caller this is.
    pub kind: PrincipalKind,
    /// The caller's id: a user id, an API key id; empty for the system.
    pub id: String,
    /// Role names (`agent`, `supervisor`, …) for users; scopes for API keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The portal session a user calls through (its id), so the session can
    /// be ended or marked current; `None` for API keys and the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// A user's approval authority (`kefu.v1.ApprovalLevel` as its number;
    /// 0 approves nothing). Carried so a service can check an approval
    /// against the amount without asking the tenants service again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub approval_level: i32,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

impl Principal {
    /// Kefu itself, acting without a human caller.
    pub fn system() -> Self {
        Self {
            kind: PrincipalKind::System,
            id: String::new(),
            roles: Vec::new(),
            session: None,
            approval_level: 0,
        }
    }

    /// A caller without credential, for the tenant-free methods.
    pub fn anonymous() -> Self {
        Self {
            kind: PrincipalKind::Anonymous,
            id: String::new(),
            roles: Vec::new(),
            session: None,
            approval_level: 0,
        }
    }

    /// The platform operator.
    pub fn platform_operator() -> Self {
        Self {
            kind: PrincipalKind::PlatformOperator,
            id: String::new(),
            roles: Vec::new(),
            session: None,
            approval_level: 0,
        }
    }
}

/// The verified context of one call to a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    /// The tenant the call acts for; `None` only for platform-operator calls
    /// that address tenants themselves.
    pub tenant_id: Option<TenantId>,
    /// Who is calling.
    pub principal: Principal,
}

impl CallContext {
    /// The tenant of a call that must act inside one.
    pub fn require_tenant(&self) -> Result<TenantId, crate::KitError> {
        self.tenant_id.ok_or(crate::KitError::TenantRequired)
    }
}

/// Reads the verified context the interceptor stored on a request.
pub fn call_context<T>(request: &tonic::Request<T>) -> Result<&CallContext, crate::KitError> {
    request
        .extensions()
        .get::<CallContext>()
        .ok_or(crate::KitError::MissingCredential)
}
