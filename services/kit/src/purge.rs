//! Forgetting a deleted tenant: when the tenants service publishes
//! TenantDeleted, every other service deletes every row of that tenant from
//! its own database, in one transaction with the processed-event record.
//!
//! The tables are found in the database itself (every table of the
//! service's schema, or SQLite file, with a `tenant_id` column), so a table
//! a later migration adds is purged without anyone remembering to list it.
//! Foreign keys between a service's tables may force an order; deletes that
//! a reference still blocks are retried after the others, each inside a
//! savepoint so one refusal does not abort the whole purge.

use std::sync::Arc;

use async_trait::async_trait;
use kefu_proto::v1::{EventEnvelope, TenantDeleted};
use prost::Name;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement,
    TransactionTrait,
};

use crate::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    context::TenantId,
    db::begin_for_event,
    inbox,
    service::ServiceSubscription,
};

/// The subscription that purges `service`'s rows of deleted tenants.
pub fn subscription(
    service: &str,
    db: DatabaseConnection,
    clock: SharedClock,
) -> ServiceSubscription {
    let group = format!("{service}.tenant-purge");
    ServiceSubscription {
        group: group.clone(),
        producers: vec!["tenants".to_owned()],
        handler: Arc::new(TenantPurge { group, db, clock }),
    }
}

/// Deletes a deleted tenant's rows.
pub struct TenantPurge {
    group: String,
    db: DatabaseConnection,
    clock: SharedClock,
}

/// The tables of the connection's schema (or SQLite file) that hold a
/// `tenant_id` column.
pub async fn tenant_tables<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name = 'tenant_id' \
             ORDER BY table_name"
        }
        _ => {
            "SELECT m.name AS name FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND c.name = 'tenant_id' ORDER BY m.name"
        }
    };
    db.query_all_raw(Statement::from_string(backend, sql))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "name"))
        .collect()
}

/// Deletes every row of `tenant` from `tables` inside `txn`, except those
/// of the event `event_id` (its processed record, its outbox entry).
/// Returns how many rows went.
pub async fn purge_tenant(
    txn: &DatabaseTransaction,
    tables: &[String],
    tenant: TenantId,
    event_id: &str,
) -> Result<u64, DbErr> {
    let backend = txn.get_database_backend();
    let placeholder = |index: usize| match backend {
        DbBackend::Postgres => format!("${index}"),
        _ => "?".to_owned(),
    };
    let event_id = uuid::Uuid::parse_str(event_id)
        .map_err(|error| DbErr::Custom(format!("event id {event_id}: {error}")))?;
    let mut pending: Vec<&String> = tables.iter().collect();
    let mut removed = 0;
    let mut last_error = None;
    // Each pass deletes what no remaining reference blocks; a chain of n
    // tables needs at most n passes.
    for _ in 0..=tables.len() {
        if pending.is_empty() {
            return Ok(removed);
        }
        let mut blocked = Vec::new();
        for table in pending {
            let mut sql = format!(
                "DELETE FROM \"{table}\" WHERE tenant_id = {}",
                placeholder(1)
            );
            let mut values: Vec<sea_orm::Value> = vec![tenant.0.into()];
            // The event being handled survives: its processed record keeps a
            // redelivery a no-op, and in the producer's own outbox it is the
            // TenantDeleted still to be published.
            let event_column = match table.as_str() {
                "processed_events" => Some("event_id"),
                "outbox" => Some("id"),
                _ => None,
            };
            if let Some(column) = event_column {
                sql.push_str(&format!(" AND {column} <> {}", placeholder(2)));
                values.push(event_id.into());
            }
            let statement = Statement::from_sql_and_values(backend, sql, values);
            let savepoint = txn.begin().await?;
            match savepoint.execute_raw(statement).await {
                Ok(result) => {
                    savepoint.commit().await?;
                    removed += result.rows_affected();
                }
                Err(error) => {
                    savepoint.rollback().await?;
                    last_error = Some(error);
                    blocked.push(table);
                }
            }
        }
        pending = blocked;
    }
    Err(last_error.unwrap_or_else(|| DbErr::Custom("tenant purge made no progress".into())))
}

#[async_trait]
impl EventHandler for TenantPurge {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        if event.r#type != TenantDeleted::full_name() {
            return Ok(());
        }
        let tenant: TenantId = event.tenant_id.parse().map_err(HandlerError::from_error)?;
        let txn = begin_for_event(&self.db, event)
            .await
            .map_err(HandlerError::from_error)?;
        if !inbox::claim(&txn, &self.group, event, self.clock.now())
            .await
            .map_err(HandlerError::from_error)?
        {
            return Ok(());
        }
        let tables = tenant_tables(&txn)
            .await
            .map_err(HandlerError::from_error)?;
        let removed = purge_tenant(&txn, &tables, tenant, &event.id)
            .await
            .map_err(HandlerError::from_error)?;
        txn.commit().await.map_err(HandlerError::from_error)?;
        tracing::info!(group = %self.group, tenant_id = %tenant, rows = removed, "deleted tenant purged");
        Ok(())
    }
}
