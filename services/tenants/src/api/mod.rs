//! gRPC handlers of the tenants service: they read the caller from the
//! internal credential, open the transaction for the caller's tenant (or the
//! platform), let `domain` decide and `store` persist, and append the events
//! to the outbox in the same transaction.
//!
//! Methods not written yet answer UNIMPLEMENTED (the generated default).

mod account;
mod export;
mod identity;
mod org_document;
mod organisation;
mod policies;
mod principal;
mod sessions;
mod settings;
mod teams;
mod tenant;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kefu_kit::{
    auth::InternalAuth,
    clock::SharedClock,
    context::{CallContext, PrincipalKind, TenantId},
    events::new_event,
    outbox::{self, OutboxSignal},
    service::ServiceContext,
};
use kefu_proto::v1::{
    Role, identity_service_server::IdentityServiceServer,
    tenant_service_server::TenantServiceServer,
};
use prost::{Message, Name};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tonic::service::RoutesBuilder;

use crate::{
    NAME,
    domain::names,
    error::{Result, TenantsError},
    mail::Mailer,
    store::documents::{self, Collection, Document},
};

pub use identity::IdentityApi;
pub use tenant::TenantApi;

/// What the handlers share.
#[derive(Clone)]
pub struct Shared {
    db: DatabaseConnection,
    outbox: OutboxSignal,
    clock: SharedClock,
    mailer: Arc<dyn Mailer>,
}

impl Shared {
    /// Handlers' state from the service context.
    pub fn new(context: &ServiceContext, mailer: Arc<dyn Mailer>) -> Self {
        Self {
            db: context.db.clone(),
            outbox: context.outbox.clone(),
            clock: context.clock.clone(),
            mailer,
        }
    }

    /// A transaction scoped to `tenant`: every handler's reads and writes
    /// of tenant rows go through one (on PostgreSQL it sets the row-level
    /// security tenant).
    async fn begin_for_tenant(&self, tenant: TenantId) -> Result<DatabaseTransaction> {
        Ok(kefu_kit::db::begin_for_tenant(&self.db, tenant).await?)
    }

    /// A transaction scoped to `tenant` that only reads: on SQLite it does
    /// not queue behind writers.
    async fn begin_read(&self, tenant: TenantId) -> Result<DatabaseTransaction> {
        Ok(kefu_kit::db::begin_read_for_tenant(&self.db, tenant).await?)
    }
}

/// Adds every gRPC service of this target, each behind `auth`.
pub fn add_routes(routes: &mut RoutesBuilder, auth: &InternalAuth, shared: Shared) {
    export::spawn_maintenance(shared.clone());
    routes.add_service(TenantServiceServer::with_interceptor(
        TenantApi(shared.clone()),
        auth.clone(),
    ));
    routes.add_service(IdentityServiceServer::with_interceptor(
        IdentityApi(shared),
        auth.clone(),
    ));
}

/// The document `name` (`{collection}/{id}`) of `tenant`; a malformed name,
/// a missing document and another tenant's are all `not_found(name)`.
async fn load_document(
    txn: &DatabaseTransaction,
    collection: Collection,
    tenant: TenantId,
    name: &str,
    not_found: fn(&str) -> TenantsError,
) -> Result<Document> {
    let id = names::id_in(name, collection.name_segment()).ok_or_else(|| not_found(name))?;
    documents::get(txn, collection, tenant.0, id)
        .await?
        .ok_or_else(|| not_found(name))
}

/// Appends the event `payload` about `subject` to the outbox, in `txn`.
async fn append_event<M: Message + Name>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    subject: impl Into<String>,
    payload: &M,
    now: DateTime<Utc>,
) -> Result<()> {
    let event = new_event(NAME, Some(tenant), subject, payload, now);
    Ok(outbox::append(txn, &event).await?)
}

/// A request's `field`, or INVALID_ARGUMENT naming it.
fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| TenantsError::invalid(field, "is required"))
}

/// The caller of a request.
fn caller<T>(request: &tonic::Request<T>) -> Result<CallContext> {
    Ok(kefu_kit::context::call_context(request)?.clone())
}

/// The platform operator, or PERMISSION_DENIED.
fn require_operator(caller: &CallContext) -> Result<()> {
    if caller.principal.kind == PrincipalKind::PlatformOperator {
        Ok(())
    } else {
        Err(TenantsError::PermissionDenied(
            "only the platform operator manages tenants".into(),
            None,
        ))
    }
}

/// The caller's tenant; the operator and anonymous callers have none.
fn require_tenant(caller: &CallContext) -> Result<TenantId> {
    match caller.principal.kind {
        PrincipalKind::User | PrincipalKind::ApiKey => Ok(caller.require_tenant()?),
        _ => Err(TenantsError::PermissionDenied(
            "this method acts inside a tenant: call it as one of the tenant's users or keys".into(),
            None,
        )),
    }
}

/// Whether the caller holds `role` (API keys pass: the gateway checked
/// their scope before forwarding).
fn has_role(caller: &CallContext, role: Role) -> bool {
    caller.principal.kind == PrincipalKind::ApiKey
        || caller
            .principal
            .roles
            .iter()
            .any(|held| held == role.as_str_name())
}

/// ROLE_ADMIN (or a key), or PERMISSION_DENIED.
fn require_admin(caller: &CallContext) -> Result<TenantId> {
    let tenant = require_tenant(caller)?;
    if has_role(caller, Role::Admin) {
        Ok(tenant)
    } else {
        Err(TenantsError::PermissionDenied(
            "this needs the tenant administrator role".into(),
            None,
        ))
    }
}

/// Whether the caller is a signed-in user holding `role`; API keys never
/// count, whatever their scope.
fn user_has_role(caller: &CallContext, role: Role) -> bool {
    caller.principal.kind == PrincipalKind::User && has_role(caller, role)
}

/// ROLE_ADMIN held by a signed-in user, or PERMISSION_DENIED. For what a
/// key could otherwise grant itself or others (a user, an invitation token,
/// another key, a role): those decisions stay with people.
fn require_admin_user(caller: &CallContext) -> Result<TenantId> {
    let tenant = require_admin(caller)?;
    if caller.principal.kind == PrincipalKind::User {
        Ok(tenant)
    } else {
        Err(TenantsError::PermissionDenied(
            "user and key administration needs an administrator signed in to the portal".into(),
            None,
        ))
    }
}

/// A page of `items` after the offset in `token`, and the next token.
fn page<T>(items: Vec<T>, page_size: i32, token: &str) -> Result<(Vec<T>, String, i32)> {
    if page_size < 0 {
        return Err(TenantsError::invalid("page_size", "must not be negative"));
    }
    let size = match page_size {
        0 => 50,
        size => size.min(500),
    } as usize;
    let offset = if token.is_empty() {
        0
    } else {
        token
            .strip_prefix("o")
            .and_then(|offset| offset.parse::<usize>().ok())
            .ok_or_else(|| TenantsError::invalid("page_token", "is not a token of this list"))?
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(size).collect();
    let next = if offset + page.len() < total {
        format!("o{}", offset + page.len())
    } else {
        String::new()
    };
    Ok((page, next, i32::try_from(total).unwrap_or(i32::MAX)))
}
