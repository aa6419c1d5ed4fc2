//! Callback scripts (话术): the encoded `kefu.v1.CallbackScript` with its
//! revision and template key ([`super::policies::Entry`]).

use kefu_kit::context::TenantId;
use kefu_proto::v1::CallbackScript;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

pub use super::policies::{insert, replace};
use super::{
    policies::Entry,
    resources::{self, Kept, Stored, Table},
};
use crate::{domain::script::SCRIPTS, error::Result};

impl Kept for CallbackScript {
    const TABLE: Table = Table {
        table: "callback_scripts",
        collection: SCRIPTS,
    };
    fn name(&self) -> &str {
        &self.name
    }
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
}

impl Entry for CallbackScript {
    fn template_key(&self) -> &str {
        &self.template_key
    }
}

/// `callbackScripts/{id}`.
pub fn name_of(id: Uuid) -> String {
    resources::name_of::<CallbackScript>(id)
}

/// The script `name` with its revision; locked for a change with `lock`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    lock: bool,
) -> Result<Option<Stored<CallbackScript>>> {
    resources::get(db, tenant, name, lock).await
}

/// Every script of `tenant`, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<CallbackScript>> {
    resources::list(db, tenant).await
}
