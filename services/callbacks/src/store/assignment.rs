//! Whose turn it is in each team (`callback_assignment_turns`): the last
//! agent given a task, so round robin (and least-loaded ties) go on from
//! there across tasks, restarts and replicas.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    rows::{self, ident},
};
use sea_orm::{
    DatabaseTransaction,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};

use crate::error::{CallbacksError, Result};

/// The last agent `team` gave a task to, if any. The row stays locked
/// until the transaction ends (PostgreSQL), so two schedulers picking for
/// the same team take turns rather than both picking the same agent.
pub async fn last(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    team: &str,
) -> Result<Option<String>> {
    let statement = Query::select()
        .column(ident("last_user"))
        .from(ident("callback_assignment_turns"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("team")).eq(team))
        .to_owned();
    rows::fetch_one(txn, statement, true, |row| {
        row.try_get::<String>("", "last_user")
            .map_err(CallbacksError::from)
    })
    .await
}

/// Records that `team` just gave a task to `user`.
pub async fn record(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    team: &str,
    user: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let statement = Query::insert()
        .into_table(ident("callback_assignment_turns"))
        .columns([
            ident("tenant_id"),
            ident("team"),
            ident("last_user"),
            ident("update_time"),
        ])
        .values([tenant.0.into(), team.into(), user.into(), now.into()])
        .map_err(|error| CallbacksError::Internal(error.to_string()))?
        .on_conflict(
            OnConflict::columns([ident("tenant_id"), ident("team")])
                .update_columns([ident("last_user"), ident("update_time")])
                .to_owned(),
        )
        .to_owned();
    sea_orm::ConnectionTrait::execute(txn, &statement).await?;
    Ok(())
}
