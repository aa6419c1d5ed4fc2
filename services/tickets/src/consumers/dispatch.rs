//! The carry-over scan of the dispatch queue (派工优先): at each tenant's
//! day boundary, every dispatch still QUEUED from an earlier day moves to
//! the head of today's queue (`carried_over`, its days counted) and
//! DispatchCarriedOver is published with its new position.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, db::begin_for_tenant, events::new_event, outbox};
use kefu_proto::v1::{Dispatch, DispatchCarriedOver, OutOfTownApproval};
use sea_orm::DatabaseConnection;

use crate::{
    NAME,
    domain::dispatch::{self as rules, DEFAULT_TIME_ZONE, Result},
    error::TicketsError,
    store::{directory, dispatch as store},
};

/// Carries the queued work of earlier days over in every tenant that has
/// service requests, as of `now`; returns how many events it wrote (the
/// caller wakes the relay). The service runs it on a timer with its clock;
/// tests call it with the time they choose.
pub async fn carry_over(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let mut published = 0;
    for tenant in store::known_tenants(db).await? {
        published += carry_over_tenant(db, tenant, now).await?;
    }
    Ok(published)
}

async fn carry_over_tenant(
    db: &DatabaseConnection,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<usize> {
    let txn = begin_for_tenant(db, tenant).await?;
    let time_zone = directory::tenant(&txn, tenant)
        .await?
        .map(|tenant| tenant.time_zone)
        .filter(|zone| !zone.is_empty())
        .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
    let today = rules::local_day(now, &time_zone);
    let late = store::queued_before(&txn, tenant, &rules::day_key(today)).await?;
    if late.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let mut carried: Vec<Dispatch> = Vec::with_capacity(late.len());
    for stored in late {
        let mut dispatch = stored.resource.clone();
        if !rules::carry_over(&mut dispatch, today, now) {
            continue;
        }
        let id = rules::dispatch_id_of(&dispatch.name)
            .map(|(_, id)| id)
            .ok_or_else(|| TicketsError::Internal(format!("stored dispatch {}", dispatch.name)))?;
        if !store::replace_dispatch(&txn, tenant, id, stored.revision, &dispatch).await? {
            return Err(TicketsError::StaleEtag(dispatch.name.clone()).into());
        }
        carried.push(dispatch);
    }
    // Positions in the new day's queue, carried-over work first.
    let mut queue: Vec<Dispatch> = store::queued(&txn, tenant)
        .await?
        .into_iter()
        .map(|stored| stored.resource)
        .collect();
    rules::order_queue(&mut queue);
    let positions: HashMap<&str, i32> = queue
        .iter()
        .map(|d| (d.name.as_str(), d.queue_position))
        .collect();
    let mut published = 0;
    for dispatch in &carried {
        let service_request = rules::parent_of(&dispatch.name).unwrap_or_default();
        let awaiting = match rules::request_id_of(&service_request) {
            Some(id) => store::get_request(&txn, tenant, id, false)
                .await?
                .is_some_and(|stored| {
                    stored.resource.out_of_town
                        && stored.resource.out_of_town_approval
                            != OutOfTownApproval::Approved as i32
                }),
            None => false,
        };
        let event = DispatchCarriedOver {
            service_request: service_request.clone(),
            carried_over_days: dispatch.carried_over_days,
            dispatch: dispatch.name.clone(),
            service_type: dispatch.service_type,
            awaiting_out_of_town_approval: awaiting,
            queue_position: positions.get(dispatch.name.as_str()).copied().unwrap_or(0),
            queue_date: Some(rules::date_of(today)),
        };
        let envelope = new_event(NAME, Some(tenant), service_request, &event, now);
        outbox::append(&txn, &envelope).await?;
        published += 1;
    }
    txn.commit().await?;
    Ok(published)
}

/// How often the carry-over scan looks for a passed day boundary.
const SCAN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The carry-over scan, every [`SCAN_INTERVAL`] until `shutdown`.
pub fn spawn(
    context: &kefu_kit::service::ServiceContext,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    kefu_kit::schedule::every(
        context,
        SCAN_INTERVAL,
        shutdown,
        |db, now| async move { carry_over(&db, now).await },
        |published| tracing::info!(published, "queued dispatches carried over"),
        |error| tracing::warn!(error = %error, "dispatch carry-over scan failed"),
    )
}
