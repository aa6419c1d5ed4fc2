//! Callback attempts (回访记录): the encoded `kefu.v1.CallbackAttempt` of
//! each call or SMS survey, beside the columns the record lists, the SMS
//! reply matching and the SMS scans read. An attempt is written when it
//! starts (or whole, when recorded in one call) and rewritten once when its
//! outcome is settled, always in the transaction that also saves its task
//! over the task's revision, so the task's lock orders the writers.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    events::from_timestamp,
    rows::{self, ident},
};
use kefu_proto::v1::{CallbackAttempt, CallbackOutcome, CallbackSmsState, CallbackTaskState};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, QueryResult, Value,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use crate::{
    domain::attempt::attempt_ids,
    error::{CallbacksError, Result},
};

const TABLE: &str = "callback_attempts";

fn select() -> SelectStatement {
    Query::select()
        .column(ident("resource"))
        .from(ident(TABLE))
        .to_owned()
}

fn from_row(row: &QueryResult) -> Result<CallbackAttempt> {
    Ok(rows::decode_resource::<CallbackAttempt>(row)?)
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

/// The columns `attempt` sets (all but the keys and `create_time`).
fn columns(attempt: &CallbackAttempt) -> Vec<(&'static str, Value)> {
    let sms = attempt.sms.as_ref();
    let sms_text = |read: fn(&kefu_proto::v1::CallbackSmsDelivery) -> &str| {
        non_empty(sms.map(read).unwrap_or_default())
    };
    // While queued, the send time column holds when it is due to be sent,
    // so the scan that sends it finds it.
    let send_time = sms.and_then(|sms| {
        if sms.state == CallbackSmsState::Queued as i32 {
            sms.scheduled_send_time.as_ref()
        } else {
            sms.send_time.as_ref()
        }
    });
    vec![
        ("attempt_number", attempt.attempt_number.into()),
        ("agent", non_empty(&attempt.agent)),
        ("channel", attempt.channel.into()),
        ("outcome", attempt.outcome.into()),
        ("start_time", time(attempt.start_time.as_ref())),
        ("end_time", time(attempt.end_time.as_ref())),
        ("sms_to_phone", sms_text(|sms| sms.to_phone.as_str())),
        ("sms_provider", sms_text(|sms| sms.provider.as_str())),
        (
            "sms_message_id",
            sms_text(|sms| sms.provider_message_id.as_str()),
        ),
        ("sms_state", sms.map(|sms| sms.state).into()),
        ("sms_send_time", time(send_time)),
        (
            "reply_deadline",
            time(sms.and_then(|sms| sms.reply_deadline.as_ref())),
        ),
        ("resource", attempt.encode_to_vec().into()),
    ]
}

fn ids(attempt: &CallbackAttempt) -> Result<(Uuid, Uuid)> {
    attempt_ids(&attempt.name)
        .ok_or_else(|| CallbacksError::Internal(format!("attempt named {}", attempt.name)))
}

/// Inserts the new `attempt` (named, numbered).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    attempt: &CallbackAttempt,
) -> Result<()> {
    let (task, id) = ids(attempt)?;
    let mut values: Vec<(&'static str, Value)> = vec![
        ("tenant_id", tenant.0.into()),
        ("task_id", task.into()),
        ("id", id.into()),
        ("create_time", time(attempt.create_time.as_ref())),
    ];
    values.extend(columns(attempt));
    rows::insert_row(db, TABLE, values).await?;
    Ok(())
}

/// Rewrites `attempt` (its outcome settled, its SMS state moved on).
pub async fn update<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    attempt: &CallbackAttempt,
) -> Result<()> {
    let (task, id) = ids(attempt)?;
    let mut statement = Query::update();
    statement.table(ident(TABLE));
    for (column, value) in columns(attempt) {
        statement.value(ident(column), value);
    }
    statement
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("task_id")).eq(task))
        .and_where(Expr::col(ident("id")).eq(id));
    if db.execute(&statement).await?.rows_affected() != 1 {
        return Err(CallbacksError::Internal(format!(
            "attempt {} vanished",
            attempt.name
        )));
    }
    Ok(())
}

/// The attempt `name` (`callbackTasks/{task}/attempts/{attempt}`) of
/// `tenant`, if it exists; a malformed name finds nothing.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<CallbackAttempt>> {
    let Some((task, id)) = attempt_ids(name) else {
        return Ok(None);
    };
    let statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("task_id")).eq(task))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, false, from_row).await
}

/// The attempts of task `task` (its id), oldest first; of every task of
/// the tenant when None.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    task: Option<Uuid>,
) -> Result<Vec<CallbackAttempt>> {
    let mut statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .to_owned();
    if let Some(task) = task {
        statement.and_where(Expr::col(ident("task_id")).eq(task));
    }
    statement
        .order_by(ident("start_time"), Order::Asc)
        .order_by(ident("attempt_number"), Order::Asc);
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The SMS attempts a reply from `phone` may concern, latest reply
/// deadline first: those written to `phone`, or with `quoted` (provider,
/// message id) only the one that outbound message was — and only when it
/// was written to `phone` too, so a stranger quoting someone else's
/// message id answers nobody's survey.
pub async fn sms_to<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    phone: &str,
    quoted: Option<(&str, &str)>,
) -> Result<Vec<CallbackAttempt>> {
    let mut statement = select()
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("sms_state")).is_not_null())
        .and_where(Expr::col(ident("sms_to_phone")).eq(phone))
        .to_owned();
    if let Some((provider, message_id)) = quoted {
        statement
            .and_where(Expr::col(ident("sms_provider")).eq(provider))
            .and_where(Expr::col(ident("sms_message_id")).eq(message_id));
    }
    statement
        .order_by(ident("reply_deadline"), Order::Desc)
        .order_by(ident("start_time"), Order::Desc);
    db.query_all(&statement)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// What the SMS scan has to do in a tenant at `now`: queued messages due
/// to be sent, and sent ones whose reply window has passed. At most
/// `limit` each, oldest first.
pub async fn sms_due<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<(Vec<CallbackAttempt>, Vec<CallbackAttempt>)> {
    let open = || {
        select()
            .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
            .and_where(Expr::col(ident("outcome")).eq(CallbackOutcome::Unspecified as i32))
            .to_owned()
    };
    let to_send = open()
        .and_where(Expr::col(ident("sms_state")).eq(CallbackSmsState::Queued as i32))
        .and_where(Expr::col(ident("sms_send_time")).lte(now))
        .order_by(ident("sms_send_time"), Order::Asc)
        .limit(limit)
        .to_owned();
    let expired = open()
        .and_where(Expr::col(ident("sms_state")).is_in([
            CallbackSmsState::Sent as i32,
            CallbackSmsState::Delivered as i32,
        ]))
        .and_where(Expr::col(ident("reply_deadline")).lt(now))
        .order_by(ident("reply_deadline"), Order::Asc)
        .limit(limit)
        .to_owned();
    let to_send = db
        .query_all(&to_send)
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    let expired = db
        .query_all(&expired)
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<Vec<_>>>()?;
    Ok((to_send, expired))
}

/// Every tenant with a task IN_PROGRESS or OVERDUE: the tenants where an
/// SMS attempt may wait to be sent or for its reply (a task with an open
/// attempt is IN_PROGRESS, or OVERDUE once its window passed). Read across
/// tenants from `callback_tasks`, the callbacks table a platform
/// transaction may read (tenant ids only); each tenant's own transaction
/// then finds its due attempts.
pub async fn tenants_with_open_tasks(db: &DatabaseConnection) -> Result<Vec<TenantId>> {
    let txn = kefu_kit::db::begin_read_platform(db).await?;
    let statement = Query::select()
        .distinct()
        .column(ident("tenant_id"))
        .from(ident("callback_tasks"))
        .and_where(Expr::col(ident("state")).is_in([
            CallbackTaskState::InProgress as i32,
            CallbackTaskState::Overdue as i32,
        ]))
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

#[cfg(test)]
mod tests {
    use kefu_kit::{
        db::begin_for_tenant,
        events::to_timestamp,
        testing::{Backend, TestDatabase},
    };
    use kefu_proto::v1::{CallbackSmsDelivery, Channel};

    use super::*;
    use crate::domain::attempt::attempt_name;

    fn sent_to(phone: &str, message_id: &str) -> CallbackAttempt {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
        let task = format!("callbackTasks/{}", Uuid::now_v7());
        CallbackAttempt {
            name: attempt_name(&task, Uuid::now_v7()),
            attempt_number: 1,
            channel: Channel::Sms as i32,
            start_time: Some(to_timestamp(now)),
            create_time: Some(to_timestamp(now)),
            sms: Some(CallbackSmsDelivery {
                to_phone: phone.into(),
                provider: "log".into(),
                provider_message_id: message_id.into(),
                state: CallbackSmsState::Sent as i32,
                send_time: Some(to_timestamp(now)),
                ..CallbackSmsDelivery::default()
            }),
            ..CallbackAttempt::default()
        }
    }

    async fn a_quoted_message_id_matches_only_from_its_own_number(backend: Backend) {
        let Some(database) = TestDatabase::new(backend, "callbacks").await else {
            return;
        };
        let tenant = TenantId::new();
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let survey = sent_to("+8613800000001", "m-1");
        insert(&txn, tenant, &survey).await.expect("insert");
        let names = |found: Vec<CallbackAttempt>| {
            found
                .into_iter()
                .map(|attempt| attempt.name)
                .collect::<Vec<_>>()
        };
        let quoted = Some(("log", "m-1"));
        assert_eq!(
            names(
                sms_to(&txn, tenant, "+8613800000001", quoted)
                    .await
                    .expect("own")
            ),
            vec![survey.name.clone()]
        );
        assert!(
            sms_to(&txn, tenant, "+8613900000002", quoted)
                .await
                .expect("stranger")
                .is_empty(),
            "a stranger quoting the message id matches nothing"
        );
        assert_eq!(
            names(
                sms_to(&txn, tenant, "+8613800000001", None)
                    .await
                    .expect("unquoted")
            ),
            vec![survey.name.clone()]
        );
        txn.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn quoted_replies_check_the_sender_on_sqlite() {
        a_quoted_message_id_matches_only_from_its_own_number(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn quoted_replies_check_the_sender_on_postgres() {
        a_quoted_message_id_matches_only_from_its_own_number(Backend::Postgres).await;
    }
}
