//! The copy of the customers (`store::customers`) and their segment
//! memberships (`store::segments`) from the customers service's events:
//! names and numbers to greet and call by, member flag, owner, tier,
//! contact preferences, merges and erasures. Each event is applied once
//! (inbox claim); a snapshot older than the copy changes nothing, and an
//! erased customer stays erased.
//!
//! A customer entering a segment also gets a task from each ACTIVE
//! campaign over that segment that includes new members
//! (`consumers::campaigns::members_entered`), in the same transaction.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    context::TenantId,
    db::begin_for_event,
    events::{from_timestamp, payload_as},
    inbox,
    outbox::OutboxSignal,
    service::{ServiceContext, ServiceSubscription},
};
use kefu_proto::v1::{
    CustomerContact, CustomerCreated, CustomerErased, CustomerMergeUndone, CustomerOwnerAssigned,
    CustomerSegmentMembershipChanged, CustomerState, CustomerTierChanged, CustomerUpdated,
    CustomersMerged, EventEnvelope,
};
use prost::Name;
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use super::campaigns;
use crate::{
    error::{CallbacksError, Result},
    store::{
        customers::{self as store, KnownCustomer},
        segments,
    },
};

/// The consumer group.
const GROUP: &str = "callbacks.customers";

/// The subscription keeping the copy of the customers.
pub fn subscription(context: &ServiceContext) -> ServiceSubscription {
    ServiceSubscription {
        group: GROUP.to_owned(),
        producers: vec!["customers".to_owned()],
        handler: Arc::new(Customers {
            db: context.db.clone(),
            outbox: context.outbox.clone(),
            clock: context.clock.clone(),
        }),
    }
}

/// The event types the copy follows.
fn relevant(kind: &str) -> bool {
    [
        CustomerCreated::full_name(),
        CustomerUpdated::full_name(),
        CustomerOwnerAssigned::full_name(),
        CustomerTierChanged::full_name(),
        CustomerSegmentMembershipChanged::full_name(),
        CustomersMerged::full_name(),
        CustomerMergeUndone::full_name(),
        CustomerErased::full_name(),
    ]
    .iter()
    .any(|name| name == kind)
}

/// Keeps the copy of the customers.
struct Customers {
    db: DatabaseConnection,
    outbox: OutboxSignal,
    clock: SharedClock,
}

impl Customers {
    async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if !relevant(&event.r#type) || event.tenant_id.is_empty() {
            return Ok(());
        }
        let tenant = event.tenant_id.parse::<TenantId>().map_err(|error| {
            CallbacksError::Internal(format!("event {} tenant: {error}", event.id))
        })?;
        let now = self.clock.now();
        let txn = begin_for_event(&self.db, event).await?;
        if !inbox::claim(&txn, GROUP, event, now).await? {
            return Ok(());
        }
        let at = event
            .occurred_at
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(now);
        let scheduled = apply(&txn, tenant, event, at, now).await?;
        txn.commit().await?;
        if scheduled > 0 {
            self.outbox.notify();
        }
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Customers {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}

/// Copies `contact` (when the event carries one) into `customer`.
fn take_contact(customer: &mut KnownCustomer, contact: Option<CustomerContact>) {
    if let Some(contact) = contact {
        customer.display_name = contact.display_name;
        customer.family_name = contact.family_name;
        customer.given_name = contact.given_name;
        customer.phone = contact.primary_phone;
        customer.mobile = contact.primary_mobile;
    }
}

/// Applies one customers event at `at` (its time); the number of campaign
/// tasks scheduled for segment entries.
pub(crate) async fn apply(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    event: &EventEnvelope,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<usize> {
    if let Some(created) = payload_as::<CustomerCreated>(event) {
        let mut customer = store::known(txn, tenant, &created.customer).await?;
        customer.member = created.member;
        customer.tier = created.tier;
        customer.owner = created.owner;
        customer.contact_preferences = created.contact_preferences;
        take_contact(&mut customer, created.contact);
        if store::save(txn, tenant, &customer, at).await? && !created.segments.is_empty() {
            segments::enter(txn, tenant, &created.customer, &created.segments).await?;
            return campaigns::members_entered(
                txn,
                tenant,
                &created.customer,
                &created.segments,
                now,
            )
            .await;
        }
    } else if let Some(updated) = payload_as::<CustomerUpdated>(event) {
        let mut customer = store::known(txn, tenant, &updated.customer).await?;
        customer.member = updated.member;
        customer.contact_preferences = updated.contact_preferences;
        take_contact(&mut customer, updated.contact);
        store::save(txn, tenant, &customer, at).await?;
    } else if let Some(assigned) = payload_as::<CustomerOwnerAssigned>(event) {
        let mut customer = store::known(txn, tenant, &assigned.customer).await?;
        customer.owner = assigned.new_owner;
        store::save(txn, tenant, &customer, at).await?;
    } else if let Some(changed) = payload_as::<CustomerTierChanged>(event) {
        let mut customer = store::known(txn, tenant, &changed.customer).await?;
        customer.tier = changed.new_tier;
        store::save(txn, tenant, &customer, at).await?;
    } else if let Some(changed) = payload_as::<CustomerSegmentMembershipChanged>(event) {
        let mut customer = store::known(txn, tenant, &changed.customer).await?;
        if customer.state != CustomerState::Active {
            return Ok(0);
        }
        customer.member = changed.member;
        store::save(txn, tenant, &customer, at).await?;
        segments::leave(txn, tenant, &changed.customer, &changed.left).await?;
        let before = segments::of_customer(txn, tenant, &changed.customer).await?;
        let entered: Vec<String> = changed
            .entered
            .into_iter()
            .filter(|segment| !before.contains(segment))
            .collect();
        segments::enter(txn, tenant, &changed.customer, &entered).await?;
        return campaigns::members_entered(txn, tenant, &changed.customer, &entered, now).await;
    } else if let Some(merged) = payload_as::<CustomersMerged>(event) {
        store::merge(
            txn,
            tenant,
            &merged.merged,
            &merged.survivor,
            merged.survivor_member,
            &merged.survivor_owner,
            at,
        )
        .await?;
    } else if let Some(undone) = payload_as::<CustomerMergeUndone>(event) {
        store::undo_merge(txn, tenant, &undone.merged, &undone.survivor, at).await?;
    } else if let Some(erased) = payload_as::<CustomerErased>(event) {
        store::erase(txn, tenant, &erased.customer, at).await?;
    }
    Ok(0)
}
