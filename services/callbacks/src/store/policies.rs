//! Callback policies: the encoded `kefu.v1.CallbackPolicy` with its
//! revision beside the trigger and `active` (the scheduler's look-up) and
//! the template key. Also what the scripts' and surveys' tables share with
//! this one ([`Entry`]: the template key, written on insert), and the
//! look-ups of what still uses a policy, script or survey (open tasks,
//! draft or active campaigns).

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    rows::{self, ident},
};
use kefu_proto::v1::{CallbackPolicy, CallbackTrigger, Campaign, CampaignState};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, Value,
    sea_query::{Expr, ExprTrait, Order, Query},
};
use uuid::Uuid;

use super::{
    resources::{self, Kept, Stored, Table},
    tasks::OPEN_STATES,
};
use crate::{domain::policy::POLICIES, error::Result};

impl Kept for CallbackPolicy {
    const TABLE: Table = Table {
        table: "callback_policies",
        collection: POLICIES,
    };
    fn name(&self) -> &str {
        &self.name
    }
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
}

/// A resource of the tables of this part (policies, scripts, surveys),
/// kept with the `template_key` it was seeded from (written on insert)
/// and the index columns of its own.
pub trait Entry: Kept {
    /// The key of the template it was seeded from (empty: the tenant's own).
    fn template_key(&self) -> &str;
    /// Its index columns, written on insert and on every replace.
    fn columns(&self) -> Vec<(&'static str, Value)> {
        Vec::new()
    }
}

impl Entry for CallbackPolicy {
    fn template_key(&self) -> &str {
        &self.template_key
    }
    fn columns(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("trigger_kind", self.trigger.into()),
            ("active", self.active.unwrap_or(true).into()),
        ]
    }
}

/// Inserts the new `entry` (named, etag `r1`).
pub async fn insert<M: Entry>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    entry: &M,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut columns = vec![("template_key", entry.template_key().to_owned().into())];
    columns.extend(entry.columns());
    resources::insert(txn, tenant, entry, columns, now).await
}

/// Stores `entry` over revision `expected`; false when it changed since.
pub async fn replace<M: Entry>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    entry: &M,
    expected: i64,
    now: DateTime<Utc>,
) -> Result<bool> {
    resources::replace(txn, tenant, entry, expected, entry.columns(), now).await
}

/// `callbackPolicies/{id}`.
pub fn name_of(id: Uuid) -> String {
    resources::name_of::<CallbackPolicy>(id)
}

/// The policy `name` with its revision; locked for a change with `lock`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    lock: bool,
) -> Result<Option<Stored<CallbackPolicy>>> {
    resources::get(db, tenant, name, lock).await
}

/// The policy `name` (`callbackPolicies/{id}`) of `tenant`, if it exists,
/// with its etag. A malformed name finds nothing.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<CallbackPolicy>> {
    resources::find(db, tenant, name).await
}

/// Every policy of `tenant`, oldest first.
pub async fn list<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Vec<CallbackPolicy>> {
    resources::list(db, tenant).await
}

/// Every active policy of `tenant` with `trigger`, oldest first (the
/// tie-break of the most specific policy).
pub async fn active<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    trigger: CallbackTrigger,
) -> Result<Vec<CallbackPolicy>> {
    let statement = resources::select::<CallbackPolicy>(tenant)
        .and_where(Expr::col(ident("trigger_kind")).eq(trigger as i32))
        .and_where(Expr::col(ident("active")).eq(true))
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .to_owned();
    resources::fetch_all(db, &statement).await
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
