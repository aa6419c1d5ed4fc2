//! Satisfaction surveys: the encoded `kefu.v1.Survey` with its
//! revision and template key.

use chrono::{DateTime, Utc};
use kefu_kit::context::TenantId;
use kefu_proto::v1::Survey;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use uuid::Uuid;

use super::policies::{Catalogue, Entry, Stored};
use crate::{domain::survey::SURVEYS, error::Result};

impl Entry for Survey {
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// The surveys' table.
const TABLE: Catalogue = Catalogue {
    table: "surveys",
    collection: SURVEYS,
};

/// `surveys/{id}`.
pub fn name_of(id: Uuid) -> String {
    format!("{SURVEYS}/{id}")
}

/// The id of a survey name, when it is one.
pub fn id_of(name: &str) -> Option<Uuid> {
    TABLE.id_of(name)
}

/// Inserts the new `survey` (named, etag `r1`).
pub async fn insert(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    survey: &Survey,
    now: DateTime<Utc>,
) -> Result<()> {
    TABLE
        .insert(txn, tenant, survey, &survey.template_key, Vec::new(), now)
        .await
}

/// The survey `name` with its revision; locked for a change with `lock`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    lock: bool,
) -> Result<Option<Stored<Survey>>> {
    TABLE.get(db, tenant, name, lock).await
}

/// The survey `name` (`surveys/{id}`) of `tenant`, if it exists.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Survey>> {
    Ok(get(db, tenant, name, false)
        .await?
        .map(|stored| stored.resource))
}

/// Every survey of `tenant`, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<Survey>> {
    TABLE.all(db, tenant).await
}

/// Stores `survey` over revision `expected`; false when it changed since.
pub async fn replace(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    survey: &Survey,
    expected: i64,
    now: DateTime<Utc>,
) -> Result<bool> {
    TABLE
        .replace(txn, tenant, survey, expected, Vec::new(), now)
        .await
}

/// Deletes survey `name` if still at revision `expected`.
pub async fn delete(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    expected: i64,
) -> Result<bool> {
    TABLE.delete(txn, tenant, name, expected).await
}
