//! Users, sessions, API keys and failed logins (tenant tables).

use chrono::{DateTime, Utc};
use kefu_proto::v1::{ApiKey, ApiKeyState, User};
use prost::Message;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::entities::{api_key, login_failure, session, tenant, user};

/// Locks the tenant's row until the transaction ends, so that checks which
/// count the tenant's users before a write (a free seat, an active admin
/// left) run one at a time per tenant: under READ COMMITTED two such
/// transactions would otherwise both count the state before the other's
/// write. Call it before counting. On SQLite every write transaction holds
/// the database's write lock from its start (`BEGIN IMMEDIATE`), so there is
/// nothing to do.
pub async fn lock_tenant<C: ConnectionTrait>(db: &C, tenant: Uuid) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    // SELECT id FROM tenants WHERE id = $1 FOR UPDATE
    tenant::Entity::find_by_id(tenant)
        .select_only()
        .column(tenant::Column::Id)
        .lock_exclusive()
        .into_tuple::<Uuid>()
        .one(db)
        .await
        .map(|_| ())
}

/// A stored user with what only the store knows.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUser {
    /// The user id.
    pub id: Uuid,
    /// The resource, etag filled in (teams are filled by the caller).
    pub user: User,
    /// Its revision.
    pub revision: i64,
    /// The argon2id hash, once a password is set.
    pub password_hash: Option<String>,
    /// The pending invitation's digest and expiry.
    pub invitation: Option<(String, DateTime<Utc>)>,
}

fn decode_err(error: prost::DecodeError) -> DbErr {
    DbErr::Custom(error.to_string())
}

fn stored_user(model: user::Model) -> Result<StoredUser, DbErr> {
    let mut resource = User::decode(model.resource.as_slice()).map_err(decode_err)?;
    resource.etag = super::etag(model.revision);
    Ok(StoredUser {
        id: model.id,
        user: resource,
        revision: model.revision,
        password_hash: model.password_hash,
        invitation: model.invitation_digest.zip(model.invitation_expire_time),
    })
}

/// Inserts a user; a taken e-mail is a unique violation.
pub async fn insert_user<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    resource: &User,
    invitation: Option<(String, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let (digest, expire) = invitation.unzip();
    user::Entity::insert(user::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(id),
        email: Set(resource.email.clone()),
        state: Set(resource.state),
        department_id: Set(department_id(resource)),
        password_hash: Set(None),
        invitation_digest: Set(digest),
        invitation_expire_time: Set(expire),
        resource: Set(resource.encode_to_vec()),
        revision: Set(1),
        create_time: Set(now),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

fn department_id(resource: &User) -> Option<String> {
    resource
        .department
        .strip_prefix("departments/")
        .map(str::to_owned)
}

/// The user `id` of `tenant`.
pub async fn get_user<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<StoredUser>, DbErr> {
    user::Entity::find_by_id((tenant, id))
        .one(db)
        .await?
        .map(stored_user)
        .transpose()
}

/// The user of `tenant` with the normalised `email`.
pub async fn user_by_email<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    email: &str,
) -> Result<Option<StoredUser>, DbErr> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?
        .map(stored_user)
        .transpose()
}

/// Every user of `tenant`, oldest first.
pub async fn list_users<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
) -> Result<Vec<StoredUser>, DbErr> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .order_by_asc(user::Column::CreateTime)
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(stored_user)
        .collect()
}

/// Sets the user's `last_login_time` to `time` without moving its revision,
/// so a login never makes an etag an administrator holds stale. The row is
/// locked first (`FOR UPDATE` on PostgreSQL; SQLite's write transaction
/// already excludes other writers), so no concurrent write is lost between
/// the read and the write. Returns the user as now stored (etag unchanged),
/// or `None` when it is gone.
pub async fn record_last_login<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    time: DateTime<Utc>,
) -> Result<Option<StoredUser>, DbErr> {
    let Some(model) = user::Entity::find_by_id((tenant, id))
        .lock_exclusive()
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let mut stored = stored_user(model)?;
    stored.user.last_login_time = Some(kefu_kit::events::to_timestamp(time));
    let mut resource = stored.user.clone();
    resource.etag = String::new();
    user::Entity::update_many()
        .col_expr(user::Column::Resource, resource.encode_to_vec().into())
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(Some(stored))
}

/// How a user row changes besides its resource.
#[derive(Debug, Clone, Default)]
pub struct UserSecrets {
    /// A new password hash.
    pub password_hash: Option<String>,
    /// Clears the pending invitation.
    pub clear_invitation: bool,
    /// A new invitation.
    pub invitation: Option<(String, DateTime<Utc>)>,
}

/// Replaces a user if still at `expected`; false when stale.
pub async fn replace_user<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    expected: i64,
    resource: &User,
    secrets: UserSecrets,
) -> Result<bool, DbErr> {
    let mut update = user::Entity::update_many()
        .col_expr(user::Column::State, resource.state.into())
        .col_expr(user::Column::DepartmentId, department_id(resource).into())
        .col_expr(user::Column::Resource, resource.encode_to_vec().into())
        .col_expr(user::Column::Revision, (expected + 1).into());
    if let Some(hash) = secrets.password_hash {
        update = update.col_expr(user::Column::PasswordHash, Some(hash).into());
    }
    if secrets.clear_invitation {
        update = update
            .col_expr(
                user::Column::InvitationDigest,
                Option::<String>::None.into(),
            )
            .col_expr(
                user::Column::InvitationExpireTime,
                Option::<DateTime<Utc>>::None.into(),
            );
    }
    if let Some((digest, expire)) = secrets.invitation {
        update = update
            .col_expr(user::Column::InvitationDigest, Some(digest).into())
            .col_expr(user::Column::InvitationExpireTime, Some(expire).into());
    }
    let result = update
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::Revision.eq(expected))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records a failed login for `email`, and forgets the tenant's failures
/// from before `forget_before` (the start of the lock-out window): they
/// count for nothing any more, and failures for e-mails nobody has would
/// otherwise never be cleared by a successful login.
pub async fn record_login_failure<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    email: &str,
    now: DateTime<Utc>,
    forget_before: DateTime<Utc>,
) -> Result<(), DbErr> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::TenantId.eq(tenant))
        .filter(login_failure::Column::FailedAt.lt(forget_before))
        .exec(db)
        .await?;
    login_failure::Entity::insert(login_failure::ActiveModel {
        tenant_id: Set(tenant),
        email: Set(email.to_owned()),
        failed_at: Set(now),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// Failed logins for `email` since `since`, oldest first.
pub async fn login_failures_since<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    email: &str,
    since: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, DbErr> {
    Ok(login_failure::Entity::find()
        .filter(login_failure::Column::TenantId.eq(tenant))
        .filter(login_failure::Column::Email.eq(email))
        .filter(login_failure::Column::FailedAt.gte(since))
        .order_by_asc(login_failure::Column::FailedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|model| model.failed_at)
        .collect())
}

/// Forgets `email`'s failed logins (after a successful one).
pub async fn clear_login_failures<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    email: &str,
) -> Result<(), DbErr> {
    login_failure::Entity::delete_many()
        .filter(login_failure::Column::TenantId.eq(tenant))
        .filter(login_failure::Column::Email.eq(email))
        .exec(db)
        .await
        .map(|_| ())
}

/// Inserts a session.
pub async fn insert_session<C: ConnectionTrait>(
    db: &C,
    model: session::Model,
) -> Result<(), DbErr> {
    session::Entity::insert(session::ActiveModel::from(model))
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// The session `id` of `tenant`.
pub async fn get_session<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<session::Model>, DbErr> {
    session::Entity::find_by_id((tenant, id)).one(db).await
}

/// Marks a session used at `now`.
pub async fn touch_session<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    session::Entity::update_many()
        .col_expr(session::Column::LastUsedTime, now.into())
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// Revokes the given sessions of `user` (all when `only` is `None`) still
/// open; returns their digests so the look-ups can be forgotten.
pub async fn revoke_sessions<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    user: Uuid,
    only: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, DbErr> {
    Ok(revoke_user_sessions(db, tenant, user, only, now)
        .await?
        .into_iter()
        .map(|model| model.digest)
        .collect())
}

/// Revokes the given sessions of `user` (all when `only` is `None`) still
/// open; returns them as they were (their digests, for the look-ups to be
/// forgotten; their ids, for SessionsRevoked).
pub async fn revoke_user_sessions<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    user: Uuid,
    only: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<Vec<session::Model>, DbErr> {
    let mut query = session::Entity::find()
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::RevokeTime.is_null());
    if let Some(id) = only {
        query = query.filter(session::Column::Id.eq(id));
    }
    let open = query.all(db).await?;
    for model in &open {
        session::Entity::update_many()
            .col_expr(session::Column::RevokeTime, Some(now).into())
            .filter(session::Column::TenantId.eq(tenant))
            .filter(session::Column::Id.eq(model.id))
            .exec(db)
            .await?;
    }
    Ok(open)
}

/// Every session of `user` (ended ones included), newest first.
pub async fn sessions_of_user<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    user: Uuid,
) -> Result<Vec<session::Model>, DbErr> {
    session::Entity::find()
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::UserId.eq(user))
        .order_by_desc(session::Column::CreateTime)
        .order_by_desc(session::Column::Id)
        .all(db)
        .await
}

/// Revokes every open session of `user` but `keep`; returns the sessions
/// revoked (their digests, for the look-ups to be forgotten).
pub async fn revoke_other_sessions<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    user: Uuid,
    keep: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<session::Model>, DbErr> {
    let open = session::Entity::find()
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::RevokeTime.is_null())
        .filter(session::Column::Id.ne(keep))
        .all(db)
        .await?;
    session::Entity::update_many()
        .col_expr(session::Column::RevokeTime, Some(now).into())
        .filter(session::Column::TenantId.eq(tenant))
        .filter(session::Column::UserId.eq(user))
        .filter(session::Column::RevokeTime.is_null())
        .filter(session::Column::Id.ne(keep))
        .exec(db)
        .await?;
    Ok(open)
}

/// A stored API key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredApiKey {
    /// The key id.
    pub id: Uuid,
    /// The resource (state as stored).
    pub api_key: ApiKey,
    /// The secret's digest.
    pub digest: String,
}

fn stored_key(model: api_key::Model) -> Result<StoredApiKey, DbErr> {
    Ok(StoredApiKey {
        id: model.id,
        api_key: ApiKey::decode(model.resource.as_slice()).map_err(decode_err)?,
        digest: model.digest,
    })
}

/// Inserts an API key.
pub async fn insert_api_key<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    digest: &str,
    resource: &ApiKey,
    request_id: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    api_key::Entity::insert(api_key::ActiveModel {
        tenant_id: Set(tenant),
        id: Set(id),
        digest: Set(digest.to_owned()),
        state: Set(resource.state),
        request_id: Set(request_id),
        resource: Set(resource.encode_to_vec()),
        create_time: Set(now),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// The API key `id` of `tenant`.
pub async fn get_api_key<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<StoredApiKey>, DbErr> {
    api_key::Entity::find_by_id((tenant, id))
        .one(db)
        .await?
        .map(stored_key)
        .transpose()
}

/// The API key created with `request_id`.
pub async fn api_key_by_request<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    request_id: &str,
) -> Result<Option<StoredApiKey>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant))
        .filter(api_key::Column::RequestId.eq(request_id))
        .one(db)
        .await?
        .map(stored_key)
        .transpose()
}

/// Every API key of `tenant`, newest first.
pub async fn list_api_keys<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
) -> Result<Vec<StoredApiKey>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::TenantId.eq(tenant))
        .order_by_desc(api_key::Column::CreateTime)
        .order_by_desc(api_key::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(stored_key)
        .collect()
}

/// Replaces an API key's resource and state.
pub async fn replace_api_key<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    resource: &ApiKey,
) -> Result<(), DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::State, resource.state.into())
        .col_expr(api_key::Column::Resource, resource.encode_to_vec().into())
        .filter(api_key::Column::TenantId.eq(tenant))
        .filter(api_key::Column::Id.eq(id))
        .exec(db)
        .await
        .map(|_| ())
}

/// How many users of `tenant` are in `state`.
pub async fn count_users_in_state<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    state: i32,
) -> Result<u64, DbErr> {
    user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant))
        .filter(user::Column::State.eq(state))
        .count(db)
        .await
}

/// The team ids `user` belongs to, sorted.
pub async fn teams_of_user<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    user: Uuid,
) -> Result<Vec<String>, DbErr> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};
    let statement = Query::select()
        .column(Alias::new("team_id"))
        .from(Alias::new("team_members"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant))
        .and_where(Expr::col(Alias::new("user_id")).eq(user))
        .order_by(Alias::new("team_id"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get("", "team_id"))
        .collect()
}

/// Records that the still-ACTIVE key `id` was used: a key revoked meanwhile
/// keeps its revoked state (the guard is in the UPDATE, not in a read).
pub async fn touch_api_key<C: ConnectionTrait>(
    db: &C,
    tenant: Uuid,
    id: Uuid,
    resource: &ApiKey,
) -> Result<(), DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::Resource, resource.encode_to_vec().into())
        .filter(api_key::Column::TenantId.eq(tenant))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::State.eq(ApiKeyState::Active as i32))
        .exec(db)
        .await
        .map(|_| ())
}
