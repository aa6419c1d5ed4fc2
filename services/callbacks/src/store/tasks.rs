//! Callback tasks: the encoded `kefu.v1.CallbackTask` beside the columns the
//! queues, lists and scans filter and order on, and the values its script
//! renders (`render_context`, JSON of field → value, fixed at creation) and
//! the retry settings of its policy at creation (`retry`, see [`retry`]).
//!
//! A task is unique per policy and trigger event id: [`insert`] does
//! nothing (and says so) when the trigger already has its task, so a
//! redelivered event or two replicas scheduling at once make one task, and
//! the losing transaction is not aborted by a key violation (PostgreSQL
//! would refuse every later statement in it).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    events::{from_timestamp, to_timestamp},
    resource,
    rows::{self, ident},
};
use kefu_proto::v1::{CallbackRetryPolicy, CallbackTask, CallbackTaskState};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, QueryResult, Value,
    sea_query::{Expr, ExprTrait, OnConflict, Order, Query, SelectStatement},
};
use uuid::Uuid;

use crate::error::{CallbacksError, Result};

/// The collection of task names.
pub const COLLECTION: &str = "callbackTasks";

/// `callbackTasks/{id}`.
pub fn name_of(id: Uuid) -> String {
    format!("{COLLECTION}/{id}")
}

/// The id of a task name, when it is one of ours.
pub fn id_of(name: &str) -> Option<Uuid> {
    resource::id_in(name, COLLECTION).and_then(|id| Uuid::parse_str(id).ok())
}

/// The id in `{collection}/{id}` as a UUID (policies, campaigns, scripts
/// and surveys are named by UUID).
fn uuid_in(name: &str, collection: &str) -> Option<Uuid> {
    resource::id_in(name, collection).and_then(|id| Uuid::parse_str(id).ok())
}

/// The revision an etag (`r{n}`) stands for.
fn revision_of(etag: &str) -> Option<i64> {
    etag.strip_prefix('r')?.parse().ok()
}

/// The open states: a task in one of them is still owed.
pub const OPEN_STATES: [CallbackTaskState; 3] = [
    CallbackTaskState::Pending,
    CallbackTaskState::InProgress,
    CallbackTaskState::Overdue,
];

fn select() -> SelectStatement {
    Query::select()
        .columns([ident("resource"), ident("revision")])
        .from(ident("callback_tasks"))
        .to_owned()
}

fn from_row(row: &QueryResult) -> Result<CallbackTask> {
    let (mut task, revision) = rows::decode_revisioned::<CallbackTask>(row)?;
    task.etag = resource::etag(revision);
    Ok(task)
}

/// A text column, NULL when empty.
fn non_empty(text: &str) -> Value {
    if text.is_empty() {
        Option::<String>::None.into()
    } else {
        Some(text.to_owned()).into()
    }
}

fn time(timestamp: Option<&prost_types::Timestamp>) -> Value {
    timestamp.and_then(from_timestamp).into()
}

/// The column values derived from `task` (its etag left out of the stored
/// resource).
fn columns(task: &CallbackTask, revision: i64) -> Vec<(&'static str, Value)> {
    let mut stored = task.clone();
    stored.etag = String::new();
    vec![
        ("campaign_id", uuid_in(&task.campaign, "campaigns").into()),
        ("customer", task.customer.clone().into()),
        ("customer_is_member", task.customer_is_member.into()),
        ("assignee", non_empty(&task.assignee)),
        ("team", non_empty(&task.team)),
        ("state", task.state.into()),
        ("channel", task.channel.into()),
        ("due_start", time(task.due_start.as_ref())),
        ("due_end", time(task.due_end.as_ref())),
        ("next_call_time", time(task.next_call_time.as_ref())),
        ("appointment_time", time(task.appointment_time.as_ref())),
        ("end_time", time(task.end_time.as_ref())),
        ("resource", stored.encode_to_vec().into()),
        ("revision", revision.into()),
        ("update_time", time(task.update_time.as_ref())),
    ]
}

/// Inserts the new `task` (named, its times and due window set) at
/// revision 1 with the values its script renders and its policy's retry
/// settings as they are now; fills its etag. False, with nothing written,
/// when its policy already has a task for its `trigger_event_id`.
pub async fn insert(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &mut CallbackTask,
    render_context: &BTreeMap<String, String>,
) -> Result<bool> {
    let id = id_of(&task.name)
        .ok_or_else(|| CallbacksError::Internal(format!("new task named {}", task.name)))?;
    let policy = uuid_in(&task.policy, "callbackPolicies")
        .ok_or_else(|| CallbacksError::Internal(format!("task policy {}", task.policy)))?;
    let context = serde_json::to_vec(render_context)
        .map_err(|error| CallbacksError::Internal(format!("render context: {error}")))?;
    // The policy's update promises that existing tasks keep their retry
    // spacing, SMS fallback and reply window: the task keeps a copy (the
    // policy's defaults when it sets none).
    let retry: Option<Vec<u8>> = super::policies::find(txn, tenant, &task.policy)
        .await?
        .map(|policy| policy.retry.unwrap_or_default().encode_to_vec());
    let mut values: Vec<(&'static str, Value)> = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("policy_id", policy.into()),
        ("trigger_kind", task.trigger.into()),
        ("trigger_event_id", task.trigger_event_id.clone().into()),
        ("trigger_time", time(task.trigger_time.as_ref())),
        ("related_ticket", non_empty(&task.related_ticket)),
        ("script_id", uuid_in(&task.script, "callbackScripts").into()),
        ("survey_id", uuid_in(&task.survey, "surveys").into()),
        ("render_context", context.into()),
        ("retry", retry.into()),
        ("create_time", time(task.create_time.as_ref())),
    ];
    values.extend(columns(task, 1));
    let (names, values): (Vec<_>, Vec<_>) = values.into_iter().unzip();
    let statement = Query::insert()
        .into_table(ident("callback_tasks"))
        .columns(names.into_iter().map(ident))
        .values(values.into_iter().map(Expr::val))
        .map_err(|error| CallbacksError::Internal(error.to_string()))?
        .on_conflict(
            OnConflict::columns([
                ident("tenant_id"),
                ident("policy_id"),
                ident("trigger_event_id"),
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned();
    let inserted = txn.execute(&statement).await?.rows_affected() == 1;
    if inserted {
        task.etag = resource::etag(1);
    }
    Ok(inserted)
}

async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    lock: bool,
) -> Result<Option<CallbackTask>> {
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, lock, from_row).await
}

/// The task `name` (`callbackTasks/{id}`) of `tenant`, if it exists, with
/// its etag. A malformed name finds nothing.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<CallbackTask>> {
    match id_of(name) {
        Some(id) => get(db, tenant, id, false).await,
        None => Ok(None),
    }
}

/// The task a trigger made: the task of `policy` for `trigger_event_id`.
pub async fn find_by_trigger<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    policy: &str,
    trigger_event_id: &str,
) -> Result<Option<CallbackTask>> {
    let Some(policy) = uuid_in(policy, "callbackPolicies") else {
        return Ok(None);
    };
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("policy_id")).eq(policy))
        .and_where(Expr::col(ident("trigger_event_id")).eq(trigger_event_id))
        .to_owned();
    rows::fetch_one(db, statement, false, from_row).await
}

/// The task `name` for a change: INVALID_ARGUMENT naming `name_field` when
/// empty or malformed, NOT_FOUND when missing or another tenant's (the same
/// answer), ABORTED when `etag` is set and stale. Locks the row until the
/// transaction ends (PostgreSQL; SQLite serialises writers itself).
pub async fn find_for_change(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    name_field: &str,
    etag: &str,
) -> Result<CallbackTask> {
    if name.is_empty() {
        return Err(CallbacksError::invalid(
            name_field,
            format!("{name_field} is required"),
        ));
    }
    if resource::id_in(name, COLLECTION).is_none() {
        return Err(CallbacksError::invalid(
            name_field,
            format!("{name_field} must be {COLLECTION}/{{id}}"),
        ));
    }
    let id = id_of(name).ok_or_else(|| CallbacksError::not_found(name))?;
    let task = get(txn, tenant, id, true)
        .await?
        .ok_or_else(|| CallbacksError::not_found(name))?;
    if !etag.is_empty() && etag != task.etag {
        return Err(CallbacksError::StaleEtag(name.to_owned()));
    }
    Ok(task)
}

/// Stores `after` over `before` (as read by [`find_for_change`]): the next
/// revision and etag, `update_time` = `now`, the index columns. ABORTED
/// when someone changed the task since `before` was read.
pub async fn save(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &CallbackTask,
    after: &mut CallbackTask,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = id_of(&before.name)
        .ok_or_else(|| CallbacksError::Internal(format!("stored task named {}", before.name)))?;
    let expected = revision_of(&before.etag).ok_or_else(|| {
        CallbacksError::Internal(format!("task read without etag: {}", before.name))
    })?;
    after.name = before.name.clone();
    after.update_time = Some(to_timestamp(now));
    let mut statement = Query::update();
    statement.table(ident("callback_tasks"));
    for (column, value) in columns(after, expected + 1) {
        if column != "revision" {
            statement.value(ident(column), value);
        }
    }
    if !rows::replace_at_revision(txn, statement, tenant, id, expected).await? {
        return Err(CallbacksError::StaleEtag(before.name.clone()));
    }
    after.etag = resource::etag(expected + 1);
    Ok(())
}

/// What a list may narrow on in the database before the AIP-160 filter
/// reads the decoded tasks.
#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    /// Only this assignee's (`users/{user}`).
    pub assignee: Option<String>,
    /// Only this customer's.
    pub customer: Option<String>,
    /// Only tasks following up this ticket.
    pub related_ticket: Option<String>,
    /// Only this campaign's (`campaigns/{campaign}`).
    pub campaign: Option<String>,
    /// Only this policy's (`callbackPolicies/{policy}`).
    pub policy: Option<String>,
    /// Only tasks in these states (empty: every state).
    pub states: Vec<CallbackTaskState>,
}

/// The tasks of `tenant` the prefilter lets through, by due end then name.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    prefilter: &Prefilter,
) -> Result<Vec<CallbackTask>> {
    let mut statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .to_owned();
    if let Some(assignee) = &prefilter.assignee {
        statement.and_where(Expr::col(ident("assignee")).eq(assignee.clone()));
    }
    if let Some(customer) = &prefilter.customer {
        statement.and_where(Expr::col(ident("customer")).eq(customer.clone()));
    }
    if let Some(ticket) = &prefilter.related_ticket {
        statement.and_where(Expr::col(ident("related_ticket")).eq(ticket.clone()));
    }
    if let Some(campaign) = &prefilter.campaign {
        match uuid_in(campaign, "campaigns") {
            Some(id) => statement.and_where(Expr::col(ident("campaign_id")).eq(id)),
            None => return Ok(Vec::new()),
        };
    }
    if let Some(policy) = &prefilter.policy {
        match uuid_in(policy, "callbackPolicies") {
            Some(id) => statement.and_where(Expr::col(ident("policy_id")).eq(id)),
            None => return Ok(Vec::new()),
        };
    }
    if !prefilter.states.is_empty() {
        statement.and_where(
            Expr::col(ident("state")).is_in(prefilter.states.iter().map(|state| *state as i32)),
        );
    }
    statement
        .order_by(ident("due_end"), Order::Asc)
        .order_by(ident("id"), Order::Asc);
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The values the script of task `name` renders (`customer.display_name`,
/// `ticket.subject`, …), fixed when the task was created; None when the
/// task does not exist.
pub async fn render_context<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<BTreeMap<String, String>>> {
    let Some(id) = id_of(name) else {
        return Ok(None);
    };
    let statement = Query::select()
        .column(ident("render_context"))
        .from(ident("callback_tasks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    let Some(row) = db.query_one(&statement).await? else {
        return Ok(None);
    };
    let bytes: Option<Vec<u8>> = row.try_get("", "render_context")?;
    match bytes {
        None => Ok(Some(BTreeMap::new())),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|error| {
            CallbacksError::Internal(format!("render context of {name}: {error}"))
        }),
    }
}

/// The retry settings task `name` was scheduled with (its policy's at the
/// time); None when the task does not exist or was stored without them
/// (before they were kept), when the policy's current ones apply.
pub async fn retry<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<CallbackRetryPolicy>> {
    let Some(id) = id_of(name) else {
        return Ok(None);
    };
    let statement = Query::select()
        .column(ident("retry"))
        .from(ident("callback_tasks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    let Some(row) = db.query_one(&statement).await? else {
        return Ok(None);
    };
    let bytes: Option<Vec<u8>> = row.try_get("", "retry")?;
    bytes
        .map(|bytes| {
            CallbackRetryPolicy::decode(bytes.as_slice()).map_err(|error| {
                CallbacksError::Internal(format!("retry settings of {name}: {error}"))
            })
        })
        .transpose()
}

/// How many open tasks each of `agents` holds (the least-loaded
/// assignment's measure); agents without any are absent.
pub async fn open_counts<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    agents: &[String],
) -> Result<BTreeMap<String, i64>> {
    if agents.is_empty() {
        return Ok(BTreeMap::new());
    }
    let statement = Query::select()
        .column(ident("assignee"))
        .expr_as(Expr::col(ident("id")).count(), ident("open_count"))
        .from(ident("callback_tasks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("assignee")).is_in(agents.iter().cloned()))
        .and_where(Expr::col(ident("state")).is_in(OPEN_STATES.iter().map(|state| *state as i32)))
        .group_by_col(ident("assignee"))
        .to_owned();
    let mut counts = BTreeMap::new();
    for row in db.query_all(&statement).await? {
        let assignee: String = row.try_get("", "assignee")?;
        let count: i64 = row.try_get("", "open_count")?;
        counts.insert(assignee, count);
    }
    Ok(counts)
}

/// The names of `tenant`'s tasks open (PENDING or IN_PROGRESS) past their
/// due end at `now`, at most `limit`, oldest due first. On PostgreSQL rows
/// another scan holds are skipped (`FOR UPDATE SKIP LOCKED`), so two
/// schedulers share the work instead of queueing on it; each task is still
/// re-read and checked under its lock before it changes.
pub async fn overdue_candidates(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<String>> {
    let mut statement = Query::select()
        .column(ident("id"))
        .from(ident("callback_tasks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("state")).is_in([
            CallbackTaskState::Pending as i32,
            CallbackTaskState::InProgress as i32,
        ]))
        .and_where(Expr::col(ident("due_end")).lt(now))
        .and_where(
            Expr::col(ident("appointment_time"))
                .is_null()
                .or(Expr::col(ident("appointment_time")).lt(now)),
        )
        .order_by(ident("due_end"), Order::Asc)
        .limit(limit)
        .to_owned();
    if txn.get_database_backend() == DbBackend::Postgres {
        statement.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    txn.query_all(&statement)
        .await?
        .iter()
        .map(|row| Ok(name_of(row.try_get::<Uuid>("", "id")?)))
        .collect()
}

/// Every tenant with a task open past its due end at `now` (read across
/// tenants, for the overdue scan).
pub async fn tenants_with_overdue(
    db: &sea_orm::DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Vec<TenantId>> {
    let txn = kefu_kit::db::begin_read_platform(db).await?;
    let statement = Query::select()
        .distinct()
        .column(ident("tenant_id"))
        .from(ident("callback_tasks"))
        .and_where(Expr::col(ident("state")).is_in([
            CallbackTaskState::Pending as i32,
            CallbackTaskState::InProgress as i32,
        ]))
        .and_where(Expr::col(ident("due_end")).lt(now))
        .order_by(ident("tenant_id"), Order::Asc)
        .to_owned();
    let tenants = txn
        .query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "tenant_id").map(TenantId))
        .collect::<Result<Vec<_>, _>>()?;
    txn.commit().await?;
    Ok(tenants)
}

/// Deletes every task of `customer` and their attempts (an erased
/// customer's tasks answer NOT_FOUND afterwards); returns the names of the
/// tasks deleted, so their survey responses can be anonymised.
pub async fn erase_customer(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &str,
) -> Result<Vec<String>> {
    let found = Query::select()
        .column(ident("id"))
        .from(ident("callback_tasks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("customer")).eq(customer))
        .to_owned();
    let ids = txn
        .query_all(&found)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let attempts = Query::delete()
        .from_table(ident("callback_attempts"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("task_id")).is_in(ids.iter().copied()))
        .to_owned();
    txn.execute(&attempts).await?;
    let tasks = Query::delete()
        .from_table(ident("callback_tasks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).is_in(ids.iter().copied()))
        .to_owned();
    txn.execute(&tasks).await?;
    Ok(ids.into_iter().map(name_of).collect())
}

#[cfg(test)]
mod tests {
    use kefu_kit::{
        db::begin_for_tenant,
        testing::{Backend, TestDatabase},
    };
    use kefu_proto::v1::CallbackPolicy;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("time")
    }

    fn hours(hours: i64) -> Option<prost_types::Duration> {
        Some(prost_types::Duration {
            seconds: hours * 3_600,
            nanos: 0,
        })
    }

    /// Writes `policy` (id `id`) as the policy row, at `revision`.
    async fn put_policy(
        txn: &DatabaseTransaction,
        tenant: TenantId,
        id: Uuid,
        policy: &CallbackPolicy,
        revision: i64,
    ) {
        let delete = Query::delete()
            .from_table(ident("callback_policies"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
            .and_where(Expr::col(ident("id")).eq(id))
            .to_owned();
        txn.execute(&delete).await.expect("delete policy");
        rows::insert_row(
            txn,
            "callback_policies",
            vec![
                ("tenant_id", tenant.0.into()),
                ("id", id.into()),
                ("trigger_kind", policy.trigger.into()),
                ("active", true.into()),
                ("template_key", String::new().into()),
                ("resource", policy.encode_to_vec().into()),
                ("revision", revision.into()),
                ("create_time", at(0).into()),
                ("update_time", at(0).into()),
            ],
        )
        .await
        .expect("policy row");
    }

    async fn a_task_keeps_the_retry_settings_it_was_scheduled_with(backend: Backend) {
        let Some(database) = TestDatabase::new(backend, "callbacks").await else {
            return;
        };
        let tenant = TenantId::new();
        let policy_id = Uuid::now_v7();
        let mut policy = CallbackPolicy {
            name: format!("callbackPolicies/{policy_id}"),
            retry: Some(CallbackRetryPolicy {
                max_attempts: 3,
                retry_interval: hours(2),
                sms_fallback: true,
                sms_reply_window: hours(48),
            }),
            ..CallbackPolicy::default()
        };
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        put_policy(&txn, tenant, policy_id, &policy, 1).await;
        let mut task = CallbackTask {
            name: name_of(Uuid::now_v7()),
            policy: policy.name.clone(),
            trigger_event_id: "tickets/1/resolved".into(),
            trigger_time: Some(to_timestamp(at(0))),
            customer: "customers/c1".into(),
            state: CallbackTaskState::Pending as i32,
            due_start: Some(to_timestamp(at(0))),
            due_end: Some(to_timestamp(at(86_400))),
            create_time: Some(to_timestamp(at(0))),
            update_time: Some(to_timestamp(at(0))),
            ..CallbackTask::default()
        };
        assert!(
            insert(&txn, tenant, &mut task, &BTreeMap::new())
                .await
                .expect("insert")
        );
        // The policy changes after the task was scheduled.
        policy.retry = Some(CallbackRetryPolicy {
            max_attempts: 5,
            retry_interval: hours(6),
            sms_fallback: false,
            sms_reply_window: hours(4),
        });
        put_policy(&txn, tenant, policy_id, &policy, 2).await;
        let kept = retry(&txn, tenant, &task.name)
            .await
            .expect("retry")
            .expect("kept");
        assert_eq!(kept.retry_interval, hours(2));
        assert!(kept.sms_fallback);
        assert_eq!(kept.sms_reply_window, hours(48));
        // Another tenant's, or a task that does not exist, has none.
        assert_eq!(
            retry(&txn, tenant, &name_of(Uuid::now_v7()))
                .await
                .expect("missing"),
            None
        );
        txn.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn retry_settings_are_kept_on_sqlite() {
        a_task_keeps_the_retry_settings_it_was_scheduled_with(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn retry_settings_are_kept_on_postgres() {
        a_task_keeps_the_retry_settings_it_was_scheduled_with(Backend::Postgres).await;
    }
}
