//! A user's portal sessions, for `kefu.v1.IdentityService`: ListSessions
//! and RevokeSession. Users see and end their own; admins anyone's.

use chrono::{DateTime, Duration, Utc};
use kefu_kit::{
    context::{CallContext, PrincipalKind, TenantId},
    events::new_event,
    outbox,
};
use kefu_proto::v1::{
    ListSessionsRequest, ListSessionsResponse, RevokeSessionRequest, Role, SessionsRevoked, Tenant,
};
use uuid::Uuid;

use super::{
    identity::{IdentityApi, session_resource, user_id_of, user_not_found},
    page, require_tenant, user_has_role,
};
use crate::{
    NAME,
    domain::{
        listing::{self, FieldKind},
        names,
    },
    error::{Result, TenantsError},
    store::{entities::session, identity as users, tenants as tenant_store},
};

/// How long an unused session lives (the tenant's `session_idle_timeout`).
fn idle_timeout(tenant: &Tenant) -> Duration {
    tenant
        .settings
        .as_ref()
        .and_then(|settings| settings.session_idle_timeout)
        .map_or(Duration::hours(8), |timeout| {
            Duration::seconds(timeout.seconds)
        })
}

fn is_open(model: &session::Model, idle: Duration, now: DateTime<Utc>) -> bool {
    model.revoke_time.is_none() && model.expire_time > now && model.last_used_time + idle > now
}

/// The user whose sessions the caller addresses, once the caller may:
/// their own, or anyone's for admins. Others are refused before the user is
/// looked up, so the answer tells them nothing about who exists.
fn addressed_user(caller: &CallContext, user_part: &str) -> Result<Uuid> {
    if caller.principal.kind != PrincipalKind::User {
        // A key has no account; and no scope of a key may reach into the
        // portal sessions of the tenant's people.
        return Err(TenantsError::IllegalTransition(
            "sessions belong to portal users: call this from a portal session".into(),
            None,
        ));
    }
    let name = format!("users/{user_part}");
    let user = user_id_of(caller, &name).ok_or_else(|| user_not_found(&name))?;
    let own =
        caller.principal.kind == PrincipalKind::User && caller.principal.id == user.to_string();
    if own || user_has_role(caller, Role::Admin) {
        Ok(user)
    } else {
        Err(TenantsError::PermissionDenied(
            "only administrators see and end other users' sessions".into(),
            None,
        ))
    }
}

fn current_session(caller: &CallContext) -> Option<Uuid> {
    caller
        .principal
        .session
        .as_deref()
        .and_then(|session| Uuid::parse_str(session).ok())
}

pub(super) async fn list_sessions(
    api: &IdentityApi,
    caller: &CallContext,
    request: ListSessionsRequest,
) -> Result<ListSessionsResponse> {
    let tenant = require_tenant(caller)?;
    let user_part =
        names::id_in(&request.parent, "users").ok_or_else(|| user_not_found(&request.parent))?;
    let user = addressed_user(caller, user_part)?;
    let conditions = listing::parse_filter(
        &request.filter,
        &[
            ("create_time", FieldKind::Time),
            ("last_used_time", FieldKind::Time),
            ("expire_time", FieldKind::Time),
        ],
    )?;
    let order = listing::parse_order_by(
        &request.order_by,
        &["create_time", "last_used_time"],
        "create_time desc",
    )?;
    let now = api.0.clock.now();
    let txn = api.0.begin_read(tenant).await?;
    users::get_user(&txn, tenant.0, user)
        .await?
        .ok_or_else(|| user_not_found(&request.parent))?;
    let idle = idle_timeout(&api.tenant_row(&txn, tenant.0).await?);
    let mut sessions: Vec<session::Model> = users::sessions_of_user(&txn, tenant.0, user)
        .await?
        .into_iter()
        .filter(|model| is_open(model, idle, now))
        .filter(|model| {
            conditions.iter().all(|condition| {
                condition.matches_time(Some(match condition.field.as_str() {
                    "create_time" => model.create_time,
                    "last_used_time" => model.last_used_time,
                    _ => model.expire_time,
                }))
            })
        })
        .collect();
    listing::sort_by_order(
        &mut sessions,
        &order,
        |a, b, field| match field {
            "last_used_time" => a.last_used_time.cmp(&b.last_used_time),
            _ => a.create_time.cmp(&b.create_time),
        },
        |a, b| b.id.cmp(&a.id),
    );
    let current = current_session(caller);
    let sessions = sessions
        .iter()
        .map(|model| session_resource(model, Some(model.id) == current))
        .collect();
    let (sessions, next_page_token, total_size) =
        page(sessions, request.page_size, &request.page_token)?;
    Ok(ListSessionsResponse {
        sessions,
        next_page_token,
        total_size,
    })
}

pub(super) async fn revoke_session(
    api: &IdentityApi,
    caller: &CallContext,
    request: RevokeSessionRequest,
) -> Result<()> {
    let tenant = require_tenant(caller)?;
    let not_found = || TenantsError::NotFound(format!("session {:?}", request.name));
    let (user_part, session_id) = names::session_in(&request.name).ok_or_else(not_found)?;
    let user = addressed_user(caller, user_part)?;
    let now = api.0.clock.now();
    let txn = api.0.begin_for_tenant(tenant).await?;
    let model = users::get_session(&txn, tenant.0, session_id)
        .await?
        .filter(|model| model.user_id == user)
        .ok_or_else(not_found)?;
    let idle = idle_timeout(&api.tenant_row(&txn, tenant.0).await?);
    if !is_open(&model, idle, now) {
        return Ok(());
    }
    revoke(&txn, tenant, user, session_id, now).await?;
    txn.commit().await?;
    api.0.outbox.notify();
    Ok(())
}

/// Ends one session of `user`: the look-up is forgotten, so the token stops
/// resolving at once, and the gateway hears of it through the outbox.
async fn revoke(
    txn: &sea_orm::DatabaseTransaction,
    tenant: TenantId,
    user: Uuid,
    session: Uuid,
    now: DateTime<Utc>,
) -> Result<()> {
    for digest in users::revoke_sessions(txn, tenant.0, user, Some(session), now).await? {
        tenant_store::forget_lookup(txn, &digest).await?;
    }
    let user_name = names::user(user);
    let event = new_event(
        NAME,
        Some(tenant),
        user_name.clone(),
        &SessionsRevoked {
            user: user_name,
            sessions: vec![names::session(user, session)],
        },
        now,
    );
    Ok(outbox::append(txn, &event).await?)
}
