//! The tenant list and the credential look-up (platform tables).

use chrono::{DateTime, Utc};
use kefu_proto::v1::Tenant;
use prost::Message;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::entities::{credential_lookup, tenant};

/// A stored tenant: the resource and what only the store knows.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTenant {
    /// The tenant id.
    pub id: Uuid,
    /// The resource, with `etag` filled in.
    pub tenant: Tenant,
    /// Its revision.
    pub revision: i64,
}

fn stored(model: tenant::Model) -> Result<StoredTenant, DbErr> {
    let mut resource = Tenant::decode(model.resource.as_slice())
        .map_err(|error| DbErr::Custom(error.to_string()))?;
    resource.etag = super::etag(model.revision);
    Ok(StoredTenant {
        id: model.id,
        tenant: resource,
        revision: model.revision,
    })
}

/// Inserts a new tenant (revision 1).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    resource: &Tenant,
    request_id: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    tenant::Entity::insert(tenant::ActiveModel {
        id: Set(id),
        slug: Set(resource.slug.clone()),
        state: Set(resource.state),
        request_id: Set(request_id),
        resource: Set(resource.encode_to_vec()),
        revision: Set(1),
        create_time: Set(now),
        purge_time: Set(None),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// The tenant `id`, if visible in this transaction.
pub async fn get<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<Option<StoredTenant>, DbErr> {
    tenant::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(stored)
        .transpose()
}

/// The tenant with `slug`.
pub async fn by_slug<C: ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<StoredTenant>, DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug))
        .one(db)
        .await?
        .map(stored)
        .transpose()
}

/// The tenant created with `request_id`.
pub async fn by_request_id<C: ConnectionTrait>(
    db: &C,
    request_id: &str,
) -> Result<Option<StoredTenant>, DbErr> {
    tenant::Entity::find()
        .filter(tenant::Column::RequestId.eq(request_id))
        .one(db)
        .await?
        .map(stored)
        .transpose()
}

/// Every tenant, newest first (platform transactions only).
pub async fn list<C: ConnectionTrait>(db: &C) -> Result<Vec<StoredTenant>, DbErr> {
    tenant::Entity::find()
        .order_by_desc(tenant::Column::CreateTime)
        .order_by_desc(tenant::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(stored)
        .collect()
}

/// Replaces the tenant if still at `expected`; false when stale.
pub async fn replace<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    expected: i64,
    resource: &Tenant,
    purge_time: Option<DateTime<Utc>>,
) -> Result<bool, DbErr> {
    let result = tenant::Entity::update_many()
        .col_expr(tenant::Column::State, resource.state.into())
        .col_expr(tenant::Column::Resource, resource.encode_to_vec().into())
        .col_expr(tenant::Column::Revision, (expected + 1).into())
        .col_expr(tenant::Column::PurgeTime, purge_time.into())
        .filter(tenant::Column::Id.eq(id))
        .filter(tenant::Column::Revision.eq(expected))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Tenants whose purge time has come (platform transactions only).
pub async fn due_for_purge<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbErr> {
    Ok(tenant::Entity::find()
        .filter(tenant::Column::PurgeTime.lte(now))
        .all(db)
        .await?
        .into_iter()
        .map(|model| model.id)
        .collect())
}

/// Removes the tenant row; its tenant tables go with it (ON DELETE CASCADE).
pub async fn purge<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<(), DbErr> {
    tenant::Entity::delete_by_id(id).exec(db).await.map(|_| ())
}

/// What a secret's digest resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// Its tenant.
    pub tenant_id: Uuid,
    /// `session`, `api_key` or `invitation`.
    pub kind: String,
    /// The session, key or user.
    pub subject: Uuid,
}

/// Records a secret's digest.
pub async fn record_lookup<C: ConnectionTrait>(
    db: &C,
    digest: &str,
    lookup: Lookup,
) -> Result<(), DbErr> {
    credential_lookup::Entity::insert(credential_lookup::ActiveModel {
        digest: Set(digest.to_owned()),
        tenant_id: Set(lookup.tenant_id),
        kind: Set(lookup.kind),
        subject: Set(lookup.subject),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// The secret with `digest` (platform transactions).
pub async fn find_lookup<C: ConnectionTrait>(
    db: &C,
    digest: &str,
) -> Result<Option<Lookup>, DbErr> {
    Ok(credential_lookup::Entity::find_by_id(digest.to_owned())
        .one(db)
        .await?
        .map(|model| Lookup {
            tenant_id: model.tenant_id,
            kind: model.kind,
            subject: model.subject,
        }))
}

/// Forgets a secret (invitation used, session ended).
pub async fn forget_lookup<C: ConnectionTrait>(db: &C, digest: &str) -> Result<(), DbErr> {
    credential_lookup::Entity::delete_by_id(digest.to_owned())
        .exec(db)
        .await
        .map(|_| ())
}
