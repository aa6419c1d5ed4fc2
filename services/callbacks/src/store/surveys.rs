//! Satisfaction surveys: the encoded `kefu.v1.Survey` with its revision
//! and template key ([`super::policies::Entry`]).

use kefu_kit::context::TenantId;
use kefu_proto::v1::Survey;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

pub use super::policies::{insert, replace};
use super::{
    policies::Entry,
    resources::{self, Kept, Stored, Table},
};
use crate::{domain::survey::SURVEYS, error::Result};

impl Kept for Survey {
    const TABLE: Table = Table {
        table: "surveys",
        collection: SURVEYS,
    };
    fn name(&self) -> &str {
        &self.name
    }
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
}

impl Entry for Survey {
    fn template_key(&self) -> &str {
        &self.template_key
    }
}

/// `surveys/{id}`.
pub fn name_of(id: Uuid) -> String {
    resources::name_of::<Survey>(id)
}

/// The survey `name` with its revision; locked for a change with `lock`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    lock: bool,
) -> Result<Option<Stored<Survey>>> {
    resources::get(db, tenant, name, lock).await
}

/// Every survey of `tenant`, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<Survey>> {
    resources::list(db, tenant).await
}
