//! Inbound SMS replies, one row per provider message: the key that makes
//! `RecordSmsSurveyReply` idempotent, and the note of every reply (what the
//! customer wrote and what became of it), recorded or not.

use kefu_kit::{
    context::TenantId,
    rows::{self, ident},
};
use kefu_proto::v1::{RecordSmsSurveyReplyRequest, RecordSmsSurveyReplyResponse};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction, Value,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use crate::error::{CallbacksError, Result};

const TABLE: &str = "sms_replies";

/// What is kept of one inbound message: the message as received and the
/// answer given for it (repeated to a redelivery).
#[derive(Clone, PartialEq, Message)]
pub struct StoredReply {
    /// The message as the provider delivered it.
    #[prost(message, optional, tag = "1")]
    pub request: Option<RecordSmsSurveyReplyRequest>,
    /// What became of it.
    #[prost(message, optional, tag = "2")]
    pub response: Option<RecordSmsSurveyReplyResponse>,
}

/// Claims (`provider`, `message_id`) for `reply`: true when this is the
/// first time the message is recorded, false (nothing written) when it was
/// recorded before. Two deliveries racing: PostgreSQL makes the second wait
/// for the first's commit, then do nothing.
pub async fn claim(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    reply: &StoredReply,
) -> Result<bool> {
    let request = reply
        .request
        .as_ref()
        .ok_or_else(|| CallbacksError::Internal("sms reply without its message".into()))?;
    let receive_time = request
        .receive_time
        .as_ref()
        .and_then(kefu_kit::events::from_timestamp);
    let values: Vec<(&'static str, Value)> = vec![
        ("tenant_id", tenant.0.into()),
        ("provider", request.provider.clone().into()),
        (
            "provider_message_id",
            request.provider_message_id.clone().into(),
        ),
        ("resource", reply.encode_to_vec().into()),
        ("receive_time", receive_time.into()),
    ];
    let (names, values): (Vec<_>, Vec<_>) = values.into_iter().unzip();
    let statement = Query::insert()
        .into_table(ident(TABLE))
        .columns(names.into_iter().map(ident))
        .values(values.into_iter().map(Expr::val))
        .map_err(|error| CallbacksError::Internal(error.to_string()))?
        .on_conflict(
            OnConflict::columns([
                ident("tenant_id"),
                ident("provider"),
                ident("provider_message_id"),
            ])
            .do_nothing()
            .to_owned(),
        )
        .to_owned();
    Ok(txn.execute(&statement).await?.rows_affected() == 1)
}

/// The reply recorded for (`provider`, `message_id`), if any.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    provider: &str,
    message_id: &str,
) -> Result<Option<StoredReply>> {
    let statement = Query::select()
        .column(ident("resource"))
        .from(ident(TABLE))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("provider")).eq(provider))
        .and_where(Expr::col(ident("provider_message_id")).eq(message_id))
        .to_owned();
    rows::fetch_one(db, statement, false, |row| {
        Ok::<_, CallbacksError>(rows::decode_resource::<StoredReply>(row)?)
    })
    .await
}

/// Replaces the answer kept for the reply (once its fate is known, in the
/// transaction that claimed it).
pub async fn settle(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    reply: &StoredReply,
) -> Result<()> {
    let request = reply
        .request
        .as_ref()
        .ok_or_else(|| CallbacksError::Internal("sms reply without its message".into()))?;
    let statement = Query::update()
        .table(ident(TABLE))
        .value(ident("resource"), reply.encode_to_vec())
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("provider")).eq(request.provider.clone()))
        .and_where(Expr::col(ident("provider_message_id")).eq(request.provider_message_id.clone()))
        .to_owned();
    txn.execute(&statement).await?;
    Ok(())
}

/// Deletes the replies concerning `tasks` (`callbackTasks/{id}`, an erased
/// customer's) and every other reply from the numbers they came from: what
/// a customer wrote goes with the customer. Answers how many were deleted.
pub async fn erase_for_tasks(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    tasks: &[String],
) -> Result<usize> {
    if tasks.is_empty() {
        return Ok(0);
    }
    let statement = Query::select()
        .columns([
            ident("provider"),
            ident("provider_message_id"),
            ident("resource"),
        ])
        .from(ident(TABLE))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .to_owned();
    let mut replies = Vec::new();
    for row in txn.query_all(&statement).await? {
        let provider: String = row.try_get("", "provider")?;
        let message_id: String = row.try_get("", "provider_message_id")?;
        let reply = rows::decode_resource::<StoredReply>(&row)?;
        replies.push((provider, message_id, reply));
    }
    let task_of = |reply: &StoredReply| {
        reply
            .response
            .as_ref()
            .map(|response| response.callback_task.clone())
            .unwrap_or_default()
    };
    let phone_of = |reply: &StoredReply| {
        reply
            .request
            .as_ref()
            .map(|request| request.from_phone.clone())
            .unwrap_or_default()
    };
    let phones: std::collections::BTreeSet<String> = replies
        .iter()
        .filter(|(_, _, reply)| tasks.contains(&task_of(reply)))
        .map(|(_, _, reply)| phone_of(reply))
        .filter(|phone| !phone.is_empty())
        .collect();
    let mut erased = 0;
    for (provider, message_id, reply) in &replies {
        if !tasks.contains(&task_of(reply)) && !phones.contains(&phone_of(reply)) {
            continue;
        }
        let delete = Query::delete()
            .from_table(ident(TABLE))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
            .and_where(Expr::col(ident("provider")).eq(provider.clone()))
            .and_where(Expr::col(ident("provider_message_id")).eq(message_id.clone()))
            .to_owned();
        txn.execute(&delete).await?;
        erased += 1;
    }
    Ok(erased)
}
