//! Callback policies: the encoded `kefu.v1.CallbackPolicy` with its
//! revision beside the trigger and `active` (the scheduler's look-up) and
//! the template key. Also the row shape the scripts' and surveys' tables
//! share with this one ([`Catalogue`]), and the look-ups of what still uses
//! a policy, script or survey (open tasks, draft or active campaigns).

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    resource,
    rows::{self, ident},
};
use kefu_proto::v1::{CallbackPolicy, CallbackTrigger, Campaign, CampaignState};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, Value,
    sea_query::{Expr, ExprTrait, Order, Query},
};
use uuid::Uuid;

use super::tasks::OPEN_STATES;
use crate::{domain::policy::POLICIES, error::Result};

/// A resource as stored, with the revision its etag stands for.
#[derive(Debug, Clone)]
pub struct Stored<M> {
    /// The resource, its etag filled.
    pub resource: M,
    /// Its revision.
    pub revision: i64,
}

/// One of the tables of named, revisioned resources of this part
/// (policies, scripts, surveys): `tenant_id`, `id` (UUID), `template_key`,
/// `resource`, `revision`, `create_time`, `update_time`, and its own index
/// columns.
pub(super) struct Catalogue {
    /// The table.
    pub table: &'static str,
    /// The collection of its names (`callbackPolicies`).
    pub collection: &'static str,
}

/// A resource of a catalogue: its etag is filled on read.
pub(super) trait Entry: Message + Default + Clone {
    /// Sets the etag.
    fn set_etag(&mut self, etag: String);
    /// The name.
    fn name(&self) -> &str;
}

impl Entry for CallbackPolicy {
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl Catalogue {
    /// The UUID of `name` when it is one of this catalogue's.
    pub fn id_of(&self, name: &str) -> Option<Uuid> {
        resource::id_in(name, self.collection).and_then(|id| Uuid::parse_str(id).ok())
    }

    fn decode<M: Entry>(row: &sea_orm::QueryResult) -> Result<Stored<M>> {
        let (mut resource, revision) = rows::decode_revisioned::<M>(row)?;
        resource.set_etag(resource::etag(revision));
        Ok(Stored { resource, revision })
    }

    /// Inserts `resource` at revision 1 with its index `columns`.
    pub async fn insert<M: Entry>(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        resource: &M,
        template_key: &str,
        columns: Vec<(&'static str, Value)>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let id = self.id_of(resource.name()).ok_or_else(|| {
            crate::error::CallbacksError::Internal(format!("new resource {}", resource.name()))
        })?;
        let mut stored = resource.clone();
        stored.set_etag(String::new());
        let mut values: Vec<(&'static str, Value)> = vec![
            ("tenant_id", tenant.0.into()),
            ("id", id.into()),
            ("template_key", template_key.to_owned().into()),
            ("resource", stored.encode_to_vec().into()),
            ("revision", 1_i64.into()),
            ("create_time", now.into()),
            ("update_time", now.into()),
        ];
        values.extend(columns);
        rows::insert_row(txn, self.table, values).await?;
        Ok(())
    }

    /// The resource `name` of `tenant`, locked for a change with `lock`.
    pub async fn get<M: Entry, C: ConnectionTrait>(
        &self,
        db: &C,
        tenant: TenantId,
        name: &str,
        lock: bool,
    ) -> Result<Option<Stored<M>>> {
        let Some(id) = self.id_of(name) else {
            return Ok(None);
        };
        let statement = rows::select_resources(self.table, tenant)
            .and_where(Expr::col(ident("id")).eq(id))
            .to_owned();
        rows::fetch_one(db, statement, lock, Self::decode).await
    }

    /// Every resource of `tenant`, oldest first.
    pub async fn all<M: Entry, C: ConnectionTrait>(
        &self,
        db: &C,
        tenant: TenantId,
    ) -> Result<Vec<M>> {
        let statement = rows::select_resources(self.table, tenant)
            .order_by(ident("create_time"), Order::Asc)
            .order_by(ident("id"), Order::Asc)
            .to_owned();
        db.query_all(&statement)
            .await?
            .iter()
            .map(|row| Self::decode(row).map(|stored: Stored<M>| stored.resource))
            .collect()
    }

    /// Stores `resource` over revision `expected` with its index `columns`;
    /// false when someone changed it since.
    pub async fn replace<M: Entry>(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        resource: &M,
        expected: i64,
        columns: Vec<(&'static str, Value)>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let Some(id) = self.id_of(resource.name()) else {
            return Ok(false);
        };
        let mut stored = resource.clone();
        stored.set_etag(String::new());
        let mut statement = Query::update();
        statement
            .table(ident(self.table))
            .value(ident("resource"), stored.encode_to_vec())
            .value(ident("update_time"), now);
        for (column, value) in columns {
            statement.value(ident(column), value);
        }
        Ok(rows::replace_at_revision(txn, statement, tenant, id, expected).await?)
    }

    /// Deletes `name` if still at revision `expected`; false otherwise.
    pub async fn delete(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        name: &str,
        expected: i64,
    ) -> Result<bool> {
        let Some(id) = self.id_of(name) else {
            return Ok(false);
        };
        let statement = Query::delete()
            .from_table(ident(self.table))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
            .and_where(Expr::col(ident("id")).eq(id))
            .and_where(Expr::col(ident("revision")).eq(expected))
            .to_owned();
        Ok(txn.execute(&statement).await?.rows_affected() == 1)
    }
}

/// The policies' table.
const TABLE: Catalogue = Catalogue {
    table: "callback_policies",
    collection: POLICIES,
};

/// `callbackPolicies/{id}`.
pub fn name_of(id: Uuid) -> String {
    format!("{POLICIES}/{id}")
}

fn columns(policy: &CallbackPolicy) -> Vec<(&'static str, Value)> {
    vec![
        ("trigger_kind", policy.trigger.into()),
        ("active", policy.active.unwrap_or(true).into()),
    ]
}

/// Inserts the new `policy` (named, etag `r1`).
pub async fn insert(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    policy: &CallbackPolicy,
    now: DateTime<Utc>,
) -> Result<()> {
    TABLE
        .insert(
            txn,
            tenant,
            policy,
            &policy.template_key,
            columns(policy),
            now,
        )
        .await
}

/// The policy `name` with its revision; locked for a change with `lock`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    lock: bool,
) -> Result<Option<Stored<CallbackPolicy>>> {
    TABLE.get(db, tenant, name, lock).await
}

/// The policy `name` (`callbackPolicies/{id}`) of `tenant`, if it exists,
/// with its etag. A malformed name finds nothing.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<CallbackPolicy>> {
    Ok(get(db, tenant, name, false)
        .await?
        .map(|stored| stored.resource))
}

/// Every policy of `tenant`, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<CallbackPolicy>> {
    TABLE.all(db, tenant).await
}

/// Every active policy of `tenant` with `trigger`, oldest first (the
/// tie-break of the most specific policy).
pub async fn active<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    trigger: CallbackTrigger,
) -> Result<Vec<CallbackPolicy>> {
    let statement = rows::select_resources(TABLE.table, tenant)
        .and_where(Expr::col(ident("trigger_kind")).eq(trigger as i32))
        .and_where(Expr::col(ident("active")).eq(true))
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| Catalogue::decode(row).map(|stored: Stored<CallbackPolicy>| stored.resource))
        .collect()
}

/// Stores `policy` over revision `expected`; false when it changed since.
pub async fn replace(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    policy: &CallbackPolicy,
    expected: i64,
    now: DateTime<Utc>,
) -> Result<bool> {
    TABLE
        .replace(txn, tenant, policy, expected, columns(policy), now)
        .await
}

/// Deletes policy `name` if still at revision `expected`.
pub async fn delete(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    expected: i64,
) -> Result<bool> {
    TABLE.delete(txn, tenant, name, expected).await
}

/// Whether an open task (pending, in progress, overdue) of `tenant` has
/// `id` in `column` (`policy_id`, `script_id`, `survey_id`).
pub(crate) async fn open_task_uses<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    column: &'static str,
    id: Uuid,
) -> Result<bool> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident("callback_tasks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident(column)).eq(id))
        .and_where(Expr::col(ident("state")).is_in(OPEN_STATES.iter().map(|state| *state as i32)))
        .limit(1)
        .to_owned();
    Ok(db.query_one(&statement).await?.is_some())
}

/// The draft and active campaigns of `tenant` (few: they are what a
/// policy or script cannot be deleted under).
pub(crate) async fn live_campaigns<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<Campaign>> {
    let statement = Query::select()
        .column(ident("resource"))
        .from(ident("campaigns"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(
            Expr::col(ident("state"))
                .is_in([CampaignState::Draft as i32, CampaignState::Active as i32]),
        )
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| Ok(rows::decode_resource::<Campaign>(row)?))
        .collect()
}
