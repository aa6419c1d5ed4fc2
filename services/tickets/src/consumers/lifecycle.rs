//! The lifecycle's automatic parts: the auto-close scan (a RESOLVED ticket
//! is closed by the system once the tenant's auto-close delay has passed
//! since its resolution) and the anonymisation of an erased customer's
//! tickets (CustomerErased, customers service).

use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    context::TenantId,
    db::{begin_for_event, begin_for_tenant, begin_read_for_tenant, begin_read_platform},
    events::payload_as,
    inbox,
    service::ServiceContext,
};
use kefu_proto::v1::{CustomerErased, EventEnvelope, TicketAuditAction, TicketState};
use prost::Name;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    sea_query::{Alias, Query},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    api::{system_actor, tickets::auto_close},
    domain::ticket::{anonymise, anonymise_entry, id_of},
    error::{Result, TicketsError},
    store::{
        audit, comments, directory,
        tickets::{self, Prefilter},
    },
};
use kefu_kit::schedule::every;

/// How often the auto-close scan runs.
const SCAN_INTERVAL: StdDuration = StdDuration::from_secs(60);

/// Tickets closed per tenant and run.
const BATCH: u64 = 500;

/// The tenants with tickets (from the platform-readable numbers table).
async fn tenants_with_tickets(db: &DatabaseConnection) -> Result<Vec<TenantId>> {
    let txn = begin_read_platform(db).await?;
    let statement = Query::select()
        .column(Alias::new("tenant_id"))
        .from(Alias::new("ticket_numbers"))
        .to_owned();
    let tenants = txn
        .query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "tenant_id").map(TenantId))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    txn.commit().await?;
    Ok(tenants)
}

/// Closes, in every tenant, the RESOLVED tickets whose auto-close delay
/// (tenant settings, default 3 days) has passed at `now`; returns how many
/// (the caller wakes the relay). Tests call it with the time they choose.
pub async fn scan_auto_close(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let mut closed = 0;
    for tenant in tenants_with_tickets(db).await? {
        // Read first: most tenants have nothing to close, and a read does
        // not queue behind writers on SQLite.
        let txn = begin_read_for_tenant(db, tenant).await?;
        let delay = directory::tenant(&txn, tenant)
            .await?
            .and_then(|tenant| tenant.settings)
            .and_then(|settings| settings.auto_close_delay)
            .map_or_else(
                || Duration::days(3),
                |delay| Duration::seconds(delay.seconds),
            );
        let due = tickets::resolved_before(
            &txn,
            tenant,
            TicketState::Resolved as i32,
            now - delay,
            BATCH,
        )
        .await?;
        txn.commit().await?;
        if due.is_empty() {
            continue;
        }
        let txn = begin_for_tenant(db, tenant).await?;
        for ticket in &due {
            // Changed since it was read (reopened, closed by hand): skip it;
            // the next run sees it as it is.
            let before =
                match tickets::load_for_change(&txn, tenant, &ticket.name, "name", &ticket.etag)
                    .await
                {
                    Ok(before) => before,
                    Err(TicketsError::StaleEtag(_) | TicketsError::NotFound(..)) => continue,
                    Err(error) => return Err(error),
                };
            auto_close(&txn, tenant, &before, &system_actor(), now).await?;
            closed += 1;
        }
        txn.commit().await?;
    }
    Ok(closed)
}

/// Runs the auto-close scan every minute until `shutdown`.
pub fn spawn(context: &ServiceContext, shutdown: CancellationToken) -> JoinHandle<()> {
    every(
        context,
        SCAN_INTERVAL,
        shutdown,
        |db, now| async move { scan_auto_close(&db, now).await },
        |closed| tracing::info!(closed, "resolved tickets auto-closed"),
        |error| tracing::warn!(error = %error, "auto-close scan failed"),
    )
}

/// Anonymises the tickets of erased customers.
pub struct Erasure {
    group: String,
    db: DatabaseConnection,
    clock: SharedClock,
}

impl Erasure {
    /// The handler of consumer group `group`.
    pub fn new(group: String, context: &ServiceContext) -> Self {
        Self {
            group,
            db: context.db.clone(),
            clock: context.clock.clone(),
        }
    }

    async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if event.r#type != CustomerErased::full_name() || event.tenant_id.is_empty() {
            return Ok(());
        }
        let Some(erased) = payload_as::<CustomerErased>(event) else {
            return Ok(());
        };
        let tenant = event.tenant_id.parse::<TenantId>().map_err(|error| {
            TicketsError::Internal(format!("event {} tenant: {error}", event.id))
        })?;
        let now = self.clock.now();
        let txn = begin_for_event(&self.db, event).await?;
        if !inbox::claim(&txn, &self.group, event, now).await? {
            return Ok(());
        }
        anonymise_customer(&txn, tenant, &erased.customer, now).await?;
        txn.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Erasure {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}

/// Anonymises every ticket of `customer`, its comments and its audit
/// trail; returns how many tickets.
pub async fn anonymise_customer(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let prefilter = Prefilter {
        customer: Some(customer.to_owned()),
        ..Prefilter::default()
    };
    let found = tickets::candidates(txn, tenant, &prefilter).await?;
    for before in &found {
        let mut after = before.clone();
        anonymise(&mut after);
        tickets::save_change(
            txn,
            tenant,
            before,
            &mut after,
            &system_actor(),
            TicketAuditAction::Anonymised,
            "",
            now,
        )
        .await?;
        let Some(id) = id_of(&before.name) else {
            continue;
        };
        comments::anonymise(txn, tenant, id).await?;
        for mut entry in audit::list(txn, tenant, id).await? {
            if anonymise_entry(&mut entry) {
                audit::overwrite(txn, tenant, &entry).await?;
            }
        }
    }
    Ok(found.len())
}
