//! The first-contact scan: for every tenant, each owned customer whose due
//! time has passed without a first contact raises
//! `CustomerFirstContactOverdue` once per assignment (a new owner, or the
//! same owner assigned again, is a new assignment with its own alert).

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, db::begin_for_tenant, events::new_event, outbox};
use kefu_proto::v1::CustomerFirstContactOverdue;
use sea_orm::DatabaseConnection;

use crate::{
    NAME,
    api::ownership::assignment_key,
    error::Result,
    store::{
        agents, customers,
        ownership::{self as store, Cursor, OverdueScope},
    },
};

/// Customers read per page of the scan.
const PAGE: usize = 500;

/// Raises the first contacts overdue at `now` in every tenant the service
/// knows; returns how many events it wrote (the caller wakes the relay).
/// The service runs it on a timer with its clock; tests call it with the
/// time they choose.
pub async fn scan_overdue(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let mut published = 0;
    for tenant in agents::known_tenants(db).await? {
        published += scan_tenant(db, TenantId(tenant), now).await?;
    }
    Ok(published)
}

async fn scan_tenant(
    db: &DatabaseConnection,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<usize> {
    let txn = begin_for_tenant(db, tenant).await?;
    let mut published = 0;
    let mut after: Option<Cursor> = None;
    loop {
        let (page, next) = store::overdue(
            &txn,
            tenant.0,
            now,
            &OverdueScope::default(),
            after.as_ref(),
            PAGE,
        )
        .await?;
        let ids: Vec<String> = page
            .iter()
            .filter_map(|stored| customers::id_of(&stored.customer.name).map(str::to_owned))
            .collect();
        let alerted = store::alerted(&txn, tenant.0, &ids).await?;
        for (stored, id) in page.iter().zip(&ids) {
            let customer = &stored.customer;
            let key = assignment_key(customer);
            if alerted.get(id) == Some(&key) {
                continue;
            }
            store::record_alert(&txn, tenant.0, id, &key, now).await?;
            let event = CustomerFirstContactOverdue {
                customer: customer.name.clone(),
                owner: customer.owner.clone(),
                owner_assign_time: customer.owner_assign_time,
                first_contact_due_time: customer.first_contact_due_time,
            };
            let envelope = new_event(NAME, Some(tenant), customer.name.clone(), &event, now);
            outbox::append(&txn, &envelope).await?;
            published += 1;
        }
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    txn.commit().await?;
    Ok(published)
}
