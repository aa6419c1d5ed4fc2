//! Callback scripts (话术): the encoded `kefu.v1.CallbackScript` with its
//! revision and template key.

use chrono::{DateTime, Utc};
use kefu_kit::context::TenantId;
use kefu_proto::v1::CallbackScript;
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use uuid::Uuid;

use super::policies::{Catalogue, Entry, Stored};
use crate::{domain::script::SCRIPTS, error::Result};

impl Entry for CallbackScript {
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// The scripts' table.
const TABLE: Catalogue = Catalogue {
    table: "callback_scripts",
    collection: SCRIPTS,
};

/// `callbackScripts/{id}`.
pub fn name_of(id: Uuid) -> String {
    format!("{SCRIPTS}/{id}")
}

/// The id of a script name, when it is one.
pub fn id_of(name: &str) -> Option<Uuid> {
    TABLE.id_of(name)
}

/// Inserts the new `script` (named, etag `r1`).
pub async fn insert(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    script: &CallbackScript,
    now: DateTime<Utc>,
) -> Result<()> {
    TABLE
        .insert(txn, tenant, script, &script.template_key, Vec::new(), now)
        .await
}

/// The script `name` with its revision; locked for a change with `lock`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    lock: bool,
) -> Result<Option<Stored<CallbackScript>>> {
    TABLE.get(db, tenant, name, lock).await
}

/// The script `name` (`callbackScripts/{id}`) of `tenant`, if it exists.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<CallbackScript>> {
    Ok(get(db, tenant, name, false)
        .await?
        .map(|stored| stored.resource))
}

/// Every script of `tenant`, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<CallbackScript>> {
    TABLE.all(db, tenant).await
}

/// Stores `script` over revision `expected`; false when it changed since.
pub async fn replace(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    script: &CallbackScript,
    expected: i64,
    now: DateTime<Utc>,
) -> Result<bool> {
    TABLE
        .replace(txn, tenant, script, expected, Vec::new(), now)
        .await
}

/// Deletes script `name` if still at revision `expected`.
pub async fn delete(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    expected: i64,
) -> Result<bool> {
    TABLE.delete(txn, tenant, name, expected).await
}
