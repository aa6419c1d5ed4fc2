//! The callbacks service's copy of the tenant (profile, calendar with quiet
//! hours and holidays, settings, users, teams and their members: the tenants
//! service's [`replica`]), kept in this service's `directory_entries`. Each
//! event is applied once (inbox claim); snapshots older than the copy
//! change nothing.

use std::sync::Arc;

use async_trait::async_trait;
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    db::begin_for_event,
    events::from_timestamp,
    inbox,
    service::{ServiceContext, ServiceSubscription},
};
use kefu_proto::v1::EventEnvelope;
use kefu_tenants::replica;
use sea_orm::DatabaseConnection;

use crate::error::{CallbacksError, Result};

/// The consumer group of the copy.
const GROUP: &str = "callbacks.directory";

/// The subscription keeping the copy of the tenant.
pub fn subscription(context: &ServiceContext) -> ServiceSubscription {
    ServiceSubscription {
        group: GROUP.to_owned(),
        producers: vec!["tenants".to_owned()],
        handler: Arc::new(Directory {
            db: context.db.clone(),
            clock: context.clock.clone(),
        }),
    }
}

/// Keeps the copy of the tenant.
struct Directory {
    db: DatabaseConnection,
    clock: SharedClock,
}

impl Directory {
    async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if !replica::relevant(&event.r#type) || event.tenant_id.is_empty() {
            return Ok(());
        }
        let tenant = event.tenant_id.parse().map_err(|error| {
            CallbacksError::Internal(format!("event {} tenant: {error}", event.id))
        })?;
        let now = self.clock.now();
        let at = event
            .occurred_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(now);
        let txn = begin_for_event(&self.db, event).await?;
        if !inbox::claim(&txn, GROUP, event, now).await? {
            return Ok(());
        }
        replica::apply(&txn, tenant, event, at).await?;
        txn.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Directory {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}
