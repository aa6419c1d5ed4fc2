//! Who a caller is: resolving a presented secret (for the gateway) and
//! describing the caller of a call (GetCurrentPrincipal).

use chrono::{DateTime, Duration, Utc};
use kefu_kit::{
    context::{CallContext, PrincipalKind, TenantId},
    db::{
        PLATFORM_SETTING, TENANT_SETTING, begin_for_tenant, begin_read_for_tenant,
        begin_read_platform,
    },
    events::to_timestamp,
};
use kefu_proto::v1::{
    Actor, ActorKind, ApiKey, ApiKeyState, CurrentPrincipal, Tenant, User, UserState,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement};
use tonic::metadata::MetadataMap;
use uuid::Uuid;

use crate::{
    domain::{names, secrets, tenant as rules},
    error::{Result, TenantsError},
    store::{identity as users, tenants as tenant_store},
};

/// The services an API key scope may name (`ApiKeyScope.service`).
pub const SCOPE_SERVICES: &[&str] = &["tenants", "customers", "tickets", "callbacks", "analytics"];

/// How often an API key's or a session's last-used time is written at most.
const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

/// The team names of `user_name` (`users/{id}`).
pub(super) async fn teams_of(
    txn: &DatabaseTransaction,
    tenant: Uuid,
    user_name: &str,
) -> Result<Vec<String>> {
    let Some(user) = names::uuid_in(user_name, "users") else {
        return Ok(Vec::new());
    };
    Ok(users::teams_of_user(txn, tenant, user)
        .await?
        .into_iter()
        .map(|team| format!("teams/{team}"))
        .collect())
}

/// A last-used time to write after a resolution.
enum Touch {
    /// The key: its last-used time becomes now.
    Key,
    /// The session: its last-used time becomes now.
    Session,
}

/// Resolves and describes principals.
pub(super) struct Resolver<'a> {
    pub(super) db: &'a DatabaseConnection,
    pub(super) now: DateTime<Utc>,
}

fn expired_session() -> TenantsError {
    TenantsError::Unauthenticated(
        "the session expired or was revoked; log in again".into(),
        "SESSION_EXPIRED",
    )
}

fn invalid_key() -> TenantsError {
    TenantsError::Unauthenticated(
        "the API key is unknown, revoked or expired".into(),
        "API_KEY_INVALID",
    )
}

fn base(tenant: &Tenant) -> CurrentPrincipal {
    CurrentPrincipal {
        tenant: tenant.name.clone(),
        tenant_slug: tenant.slug.clone(),
        tenant_display_name: tenant.display_name.clone(),
        locale: tenant.locale.clone(),
        plan_tier: tenant.plan_tier,
        ..CurrentPrincipal::default()
    }
}

fn user_principal(tenant: &Tenant, user: &User, teams: Vec<String>) -> CurrentPrincipal {
    CurrentPrincipal {
        actor: Some(Actor {
            kind: ActorKind::User as i32,
            name: user.name.clone(),
            display_name: user.display_name.clone(),
        }),
        roles: user.roles.clone(),
        approval_level: user.approval_level,
        teams,
        locale: if user.locale.is_empty() {
            tenant.locale.clone()
        } else {
            user.locale.clone()
        },
        ..base(tenant)
    }
}

/// Turns the platform transaction of [`Resolver::resolve`] into one acting
/// for `tenant` alone (PostgreSQL; SQLite's stores filter by tenant
/// themselves): in one statement the tenant is set and the platform setting
/// cleared until the transaction ends, so the reads that follow see only
/// that tenant's rows, exactly as in a transaction of `begin_read_for_tenant`.
async fn act_for_tenant(txn: &DatabaseTransaction, tenant: TenantId) -> Result<()> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config($1, $2, true), set_config($3, '', true)",
            [
                TENANT_SETTING.into(),
                tenant.to_string().into(),
                PLATFORM_SETTING.into(),
            ],
        ))
        .await?;
    }
    Ok(())
}

impl Resolver<'_> {
    /// Who presents `bearer` (a session token or an API key secret), or why
    /// the secret is refused. For the gateway only: a user's teams are left
    /// empty (the gateway does not carry them; `describe` fills them).
    pub(super) async fn resolve(&self, bearer: &str) -> Result<CurrentPrincipal> {
        let digest = secrets::digest(bearer);
        // Every call through the gateway comes here: one read-only
        // transaction finds the secret on the platform table, then acts for
        // its tenant alone for the rest (one BEGIN and COMMIT fewer than a
        // transaction each); last-used times are written at most once a
        // minute, apart.
        let txn = begin_read_platform(self.db).await?;
        let lookup = tenant_store::find_lookup(&txn, &digest).await?;
        let Some(lookup) = lookup else {
            return Err(match secrets::classify(bearer) {
                secrets::SecretKind::ApiKey => invalid_key(),
                _ => expired_session(),
            });
        };
        let tenant_id = TenantId(lookup.tenant_id);
        act_for_tenant(&txn, tenant_id).await?;
        let tenant = tenant_store::get(&txn, lookup.tenant_id)
            .await?
            .ok_or_else(expired_session)?
            .tenant;
        let (principal, touch) = match lookup.kind.as_str() {
            "api_key" => {
                self.api_key(&txn, &tenant, lookup.tenant_id, lookup.subject)
                    .await?
            }
            "session" => {
                self.session(&txn, &tenant, lookup.tenant_id, lookup.subject)
                    .await?
            }
            _ => return Err(expired_session()),
        };
        // Refused only after the secret proved valid: a suspended tenant's
        // users learn why, strangers learn nothing.
        if let Some(refusal) = rules::refusal(&tenant) {
            return Err(refusal);
        }
        txn.commit().await?;
        if let Some(touch) = touch {
            let txn = begin_for_tenant(self.db, tenant_id).await?;
            match touch {
                Touch::Key => {
                    // Read again under the write: a revocation that landed
                    // since must not be overwritten by the key as it was.
                    if let Some(stored) =
                        users::get_api_key(&txn, lookup.tenant_id, lookup.subject).await?
                        && stored.api_key.state == ApiKeyState::Active as i32
                    {
                        let key = ApiKey {
                            last_used_time: Some(to_timestamp(self.now)),
                            ..stored.api_key
                        };
                        users::touch_api_key(&txn, lookup.tenant_id, lookup.subject, &key).await?;
                    }
                }
                Touch::Session => {
                    users::touch_session(&txn, lookup.tenant_id, lookup.subject, self.now).await?;
                }
            }
            txn.commit().await?;
        }
        Ok(principal)
    }

    async fn api_key(
        &self,
        txn: &DatabaseTransaction,
        tenant: &Tenant,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<(CurrentPrincipal, Option<Touch>)> {
        let stored = users::get_api_key(txn, tenant_id, id)
            .await?
            .ok_or_else(invalid_key)?;
        let key = super::identity::key_view(stored.api_key, self.now);
        if key.state != ApiKeyState::Active as i32 {
            return Err(invalid_key());
        }
        let stale = key
            .last_used_time
            .as_ref()
            .and_then(kefu_kit::events::from_timestamp)
            .is_none_or(|used| self.now - used >= LAST_USED_GRANULARITY);
        let principal = CurrentPrincipal {
            actor: Some(Actor {
                kind: ActorKind::ApiKey as i32,
                name: key.name.clone(),
                display_name: key.display_name.clone(),
            }),
            scopes: key.scopes.clone(),
            expire_time: key.expire_time,
            ..base(tenant)
        };
        Ok((principal, stale.then_some(Touch::Key)))
    }

    async fn session(
        &self,
        txn: &DatabaseTransaction,
        tenant: &Tenant,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<(CurrentPrincipal, Option<Touch>)> {
        let session = users::get_session(txn, tenant_id, id)
            .await?
            .ok_or_else(expired_session)?;
        let idle = tenant
            .settings
            .as_ref()
            .and_then(|settings| settings.session_idle_timeout)
            .map_or(Duration::hours(8), |d| Duration::seconds(d.seconds));
        if session.revoke_time.is_some()
            || session.expire_time <= self.now
            || session.last_used_time + idle <= self.now
        {
            return Err(expired_session());
        }
        let user = users::get_user(txn, tenant_id, session.user_id)
            .await?
            .ok_or_else(expired_session)?;
        if user.user.state != UserState::Active as i32 {
            return Err(expired_session());
        }
        // The gateway signs no teams (`gateway::resolver::authenticated`):
        // not looked up on this path, which every call through it takes.
        let principal = CurrentPrincipal {
            session: names::session(user.id, id),
            expire_time: Some(to_timestamp(session.expire_time)),
            ..user_principal(tenant, &user.user, Vec::new())
        };
        // The idle timeout is at least five minutes: a last-used time up to
        // a minute old ends no session early.
        let stale = self.now - session.last_used_time >= LAST_USED_GRANULARITY;
        Ok((principal, stale.then_some(Touch::Session)))
    }

    /// The caller of this call, as its credential names it.
    pub(super) async fn describe(
        &self,
        caller: &CallContext,
        _metadata: &MetadataMap,
    ) -> Result<CurrentPrincipal> {
        let Some(tenant_id) = caller.tenant_id else {
            return Ok(CurrentPrincipal {
                actor: Some(Actor {
                    kind: match caller.principal.kind {
                        PrincipalKind::PlatformOperator => ActorKind::PlatformOperator,
                        _ => ActorKind::System,
                    } as i32,
                    ..Actor::default()
                }),
                ..CurrentPrincipal::default()
            });
        };
        let txn = begin_read_for_tenant(self.db, tenant_id).await?;
        let tenant = tenant_store::get(&txn, tenant_id.0)
            .await?
            .ok_or_else(|| TenantsError::NotFound("tenant".into()))?
            .tenant;
        let id = Uuid::parse_str(&caller.principal.id)
            .map_err(|_| TenantsError::NotFound("caller".into()))?;
        match caller.principal.kind {
            PrincipalKind::User => {
                let user = users::get_user(&txn, tenant_id.0, id)
                    .await?
                    .ok_or_else(|| TenantsError::NotFound("caller".into()))?;
                let teams = teams_of(&txn, tenant_id.0, &user.user.name).await?;
                let session = caller
                    .principal
                    .session
                    .as_deref()
                    .and_then(|session| Uuid::parse_str(session).ok());
                let mut principal = user_principal(&tenant, &user.user, teams);
                if let Some(session) = session {
                    principal.session = names::session(id, session);
                    if let Some(model) = users::get_session(&txn, tenant_id.0, session).await? {
                        principal.expire_time = Some(to_timestamp(model.expire_time));
                    }
                }
                Ok(principal)
            }
            PrincipalKind::ApiKey => {
                let key = users::get_api_key(&txn, tenant_id.0, id)
                    .await?
                    .ok_or_else(|| TenantsError::NotFound("caller".into()))?;
                Ok(CurrentPrincipal {
                    actor: Some(Actor {
                        kind: ActorKind::ApiKey as i32,
                        name: key.api_key.name.clone(),
                        display_name: key.api_key.display_name.clone(),
                    }),
                    scopes: key.api_key.scopes.clone(),
                    expire_time: key.api_key.expire_time,
                    ..base(&tenant)
                })
            }
            _ => Err(TenantsError::NotFound("caller".into())),
        }
    }
}
