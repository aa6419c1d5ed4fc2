//! The copy of the customers (`store::customers`) and their segment
//! memberships (`store::segments`) from the customers service's events:
//! names and numbers to greet and call by, member flag, owner, tier,
//! contact preferences, merges and erasures. Each event is applied once
//! (inbox claim); a snapshot older than the copy changes nothing, and an
//! erased customer stays erased.
//!
//! SegmentChanged records which segments exist, so a campaign may target
//! one nobody is in yet.
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
    CustomersMerged, EventEnvelope, SegmentChanged,
};
use prost::Name;
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use super::campaigns;
use crate::{
    error::{CallbacksError, Result},
    store::{
        customers::{self as store, Fact, KnownCustomer},
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
        SegmentChanged::full_name(),
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
        // The creation tells every fact, each taken unless a later event
        // (arrived first) already told it.
        let mut customer = store::known(txn, tenant, &created.customer).await?;
        if customer.learns(Fact::Member, at) {
            customer.member = created.member;
        }
        if customer.learns(Fact::Tier, at) {
            customer.tier = created.tier;
        }
        if customer.learns(Fact::Owner, at) {
            customer.owner = created.owner;
        }
        if customer.learns(Fact::Contact, at) {
            customer.contact_preferences = created.contact_preferences;
            take_contact(&mut customer, created.contact);
        }
        if store::save(txn, tenant, &customer, at).await? && !created.segments.is_empty() {
            // A segment a later change (arrived first) named stays as that
            // change said; only a customer newly in a segment is owed its
            // campaigns' tasks.
            let entered =
                segments::enter(txn, tenant, &created.customer, &created.segments, at).await?;
            return campaigns::members_entered(txn, tenant, &created.customer, &entered, now).await;
        }
    } else if let Some(updated) = payload_as::<CustomerUpdated>(event) {
        let mut customer = store::known(txn, tenant, &updated.customer).await?;
        if customer.learns(Fact::Member, at) {
            customer.member = updated.member;
        }
        if customer.learns(Fact::Contact, at) {
            customer.contact_preferences = updated.contact_preferences;
            take_contact(&mut customer, updated.contact);
        }
        store::save(txn, tenant, &customer, at).await?;
    } else if let Some(assigned) = payload_as::<CustomerOwnerAssigned>(event) {
        let mut customer = store::known(txn, tenant, &assigned.customer).await?;
        if customer.learns(Fact::Owner, at) {
            customer.owner = assigned.new_owner;
            store::save(txn, tenant, &customer, at).await?;
        }
    } else if let Some(changed) = payload_as::<CustomerTierChanged>(event) {
        let mut customer = store::known(txn, tenant, &changed.customer).await?;
        if customer.learns(Fact::Tier, at) {
            customer.tier = changed.new_tier;
            store::save(txn, tenant, &customer, at).await?;
        }
    } else if let Some(changed) = payload_as::<CustomerSegmentMembershipChanged>(event) {
        let mut customer = store::known(txn, tenant, &changed.customer).await?;
        if customer.state != CustomerState::Active {
            return Ok(0);
        }
        if customer.learns(Fact::Member, at) {
            customer.member = changed.member;
        }
        if !store::save(txn, tenant, &customer, at).await? {
            return Ok(0);
        }
        // Per segment, a change older than the latest one naming it is
        // stale: it neither puts the customer back nor gives a campaign
        // task.
        segments::leave(txn, tenant, &changed.customer, &changed.left, at).await?;
        let entered = segments::enter(txn, tenant, &changed.customer, &changed.entered, at).await?;
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
    } else if let Some(changed) = payload_as::<SegmentChanged>(event) {
        if changed.deleted {
            segments::forget(txn, tenant, &changed.segment, at).await?;
        } else {
            segments::record(txn, tenant, &changed.segment, at).await?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use kefu_kit::{
        db::begin_for_tenant,
        events::{new_event, to_timestamp},
        testing::{Backend, TestDatabase},
    };
    use kefu_proto::v1::ContactPreferences;
    use prost::Message;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("time")
    }

    async fn deliver<M: Message + Name>(
        database: &TestDatabase,
        tenant: TenantId,
        payload: &M,
        when: DateTime<Utc>,
    ) {
        let event = new_event("customers", Some(tenant), "customers/x", payload, when);
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        apply(&txn, tenant, &event, when, when)
            .await
            .expect("apply");
        txn.commit().await.expect("commit");
    }

    async fn read(database: &TestDatabase, tenant: TenantId, name: &str) -> Option<KnownCustomer> {
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let found = store::find(&txn, tenant, name).await.expect("find");
        txn.commit().await.expect("commit");
        found
    }

    async fn members(database: &TestDatabase, tenant: TenantId, segment: &str) -> Vec<String> {
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let found = segments::members(&txn, tenant, segment)
            .await
            .expect("members");
        txn.commit().await.expect("commit");
        found
    }

    fn contact(phone: &str, mobile: &str) -> Option<CustomerContact> {
        Some(CustomerContact {
            display_name: "王芳".into(),
            family_name: "王".into(),
            given_name: "芳".into(),
            primary_phone: phone.into(),
            primary_mobile: mobile.into(),
        })
    }

    async fn scenario(backend: Backend) {
        let Some(database) = TestDatabase::new(backend, "callbacks").await else {
            return;
        };
        let tenant = TenantId::new();
        let other = TenantId::new();
        let wang = "customers/wang";
        deliver(
            &database,
            tenant,
            &CustomerCreated {
                customer: wang.into(),
                member: true,
                tier: "tiers/gold".into(),
                owner: "users/li".into(),
                contact_preferences: Some(ContactPreferences {
                    sms_consent: true,
                    ..ContactPreferences::default()
                }),
                segments: vec!["segments/vip".into()],
                contact: contact("+861088886666", "+8613800138000"),
                ..CustomerCreated::default()
            },
            at(0),
        )
        .await;
        let known = read(&database, tenant, wang).await.expect("copied");
        assert!(known.is_active());
        assert_eq!(
            (known.display_name.as_str(), known.family_name.as_str()),
            ("王芳", "王")
        );
        assert_eq!(
            (known.phone.as_str(), known.mobile.as_str()),
            ("+861088886666", "+8613800138000")
        );
        assert!(known.member && known.sms_consent());
        assert_eq!(known.owner, "users/li");
        assert_eq!(known.tier, "tiers/gold");
        assert_eq!(known.segments, vec!["segments/vip".to_owned()]);
        assert!(read(&database, other, wang).await.is_none(), "tenant apart");

        // A later update changes the numbers; an older update changes them
        // no more, but an older owner change is still news (no later event
        // told the owner).
        deliver(
            &database,
            tenant,
            &CustomerUpdated {
                customer: wang.into(),
                member: true,
                contact: contact("+8613900139000", "+8613900139000"),
                contact_preferences: Some(ContactPreferences {
                    do_not_disturb: true,
                    do_not_disturb_until: Some(to_timestamp(at(100))),
                    ..ContactPreferences::default()
                }),
                ..CustomerUpdated::default()
            },
            at(10),
        )
        .await;
        deliver(
            &database,
            tenant,
            &CustomerUpdated {
                customer: wang.into(),
                member: true,
                contact: contact("+8613600136000", "+8613600136000"),
                ..CustomerUpdated::default()
            },
            at(4),
        )
        .await;
        deliver(
            &database,
            tenant,
            &CustomerOwnerAssigned {
                customer: wang.into(),
                new_owner: "users/zhou".into(),
                ..CustomerOwnerAssigned::default()
            },
            at(5),
        )
        .await;
        let known = read(&database, tenant, wang).await.expect("copied");
        assert_eq!(known.phone, "+8613900139000", "an older contact is stale");
        assert_eq!(known.mobile, "+8613900139000");
        assert_eq!(known.owner, "users/zhou", "no later event told the owner");
        assert_eq!(known.do_not_disturb_at(at(50)), Some(Some(at(100))));
        assert_eq!(known.do_not_disturb_at(at(100)), None);
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let by_mobile = store::with_mobile(&txn, tenant, "+8613900139000")
            .await
            .expect("by mobile");
        txn.commit().await.expect("commit");
        assert_eq!(by_mobile.len(), 1);

        // Segments known by their creation, before anyone is in them.
        let known = |segment: &'static str| {
            let db = database.db.clone();
            async move {
                let txn = begin_for_tenant(&db, tenant).await.expect("begin");
                let known = segments::is_known(&txn, tenant, segment)
                    .await
                    .expect("known");
                txn.commit().await.expect("commit");
                known
            }
        };
        assert!(!known("segments/empty").await);
        let created = SegmentChanged {
            segment: "segments/empty".into(),
            display_name: "空分群".into(),
            deleted: false,
        };
        deliver(&database, tenant, &created, at(15)).await;
        assert!(known("segments/empty").await);
        assert!(
            members(&database, tenant, "segments/empty")
                .await
                .is_empty()
        );
        let deleted = SegmentChanged {
            deleted: true,
            ..created
        };
        deliver(&database, tenant, &deleted, at(16)).await;
        assert!(!known("segments/empty").await);

        // Segment moves.
        deliver(
            &database,
            tenant,
            &CustomerSegmentMembershipChanged {
                customer: wang.into(),
                entered: vec!["segments/new".into()],
                left: vec!["segments/vip".into()],
                member: true,
            },
            at(20),
        )
        .await;
        assert!(members(&database, tenant, "segments/vip").await.is_empty());
        assert_eq!(members(&database, tenant, "segments/new").await, vec![wang]);

        // Merged into li: the survivor takes member and owner, wang leaves
        // its segments; undone, wang is live again.
        let li = "customers/li";
        deliver(
            &database,
            tenant,
            &CustomerCreated {
                customer: li.into(),
                ..CustomerCreated::default()
            },
            at(21),
        )
        .await;
        deliver(
            &database,
            tenant,
            &CustomersMerged {
                survivor: li.into(),
                merged: wang.into(),
                survivor_member: true,
                survivor_owner: "users/zhao".into(),
                ..CustomersMerged::default()
            },
            at(30),
        )
        .await;
        let gone = read(&database, tenant, wang).await.expect("merged");
        assert_eq!(gone.state, CustomerState::Merged);
        assert_eq!(gone.merged_into, li);
        assert!(gone.segments.is_empty());
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let live = store::find_live(&txn, tenant, wang).await.expect("live");
        txn.commit().await.expect("commit");
        let live = live.expect("survivor");
        assert_eq!(live.name, li);
        assert!(live.member);
        assert_eq!(live.owner, "users/zhao");
        deliver(
            &database,
            tenant,
            &CustomerMergeUndone {
                survivor: li.into(),
                merged: wang.into(),
                ..CustomerMergeUndone::default()
            },
            at(40),
        )
        .await;
        assert!(
            read(&database, tenant, wang)
                .await
                .expect("back")
                .is_active()
        );

        // Erased: nothing personal stays, and nothing brings it back.
        deliver(
            &database,
            tenant,
            &CustomerErased {
                customer: wang.into(),
                ..CustomerErased::default()
            },
            at(50),
        )
        .await;
        deliver(
            &database,
            tenant,
            &CustomerUpdated {
                customer: wang.into(),
                contact: contact("+8613700137000", ""),
                ..CustomerUpdated::default()
            },
            at(60),
        )
        .await;
        let erased = read(&database, tenant, wang).await.expect("tombstone");
        assert_eq!(erased.state, CustomerState::Erased);
        assert!(erased.display_name.is_empty() && erased.phone.is_empty());
        assert!(erased.mobile.is_empty() && erased.owner.is_empty());
        assert!(erased.contact_preferences.is_none());
        assert!(erased.segments.is_empty());
    }

    /// Events arriving out of order: each fact, and each segment, is as
    /// the latest event telling it said.
    async fn out_of_order(backend: Backend) {
        let Some(database) = TestDatabase::new(backend, "callbacks").await else {
            return;
        };
        let tenant = TenantId::new();
        let zhang = "customers/zhang";
        // The owner change (t=20) arrives before an update of the contact
        // made earlier (t=10): both stay.
        deliver(
            &database,
            tenant,
            &CustomerCreated {
                customer: zhang.into(),
                owner: "users/li".into(),
                contact: contact("+861088886666", "+8613800138000"),
                ..CustomerCreated::default()
            },
            at(0),
        )
        .await;
        deliver(
            &database,
            tenant,
            &CustomerOwnerAssigned {
                customer: zhang.into(),
                new_owner: "users/zhao".into(),
                ..CustomerOwnerAssigned::default()
            },
            at(20),
        )
        .await;
        deliver(
            &database,
            tenant,
            &CustomerUpdated {
                customer: zhang.into(),
                contact: contact("+8613900139000", "+8613900139000"),
                ..CustomerUpdated::default()
            },
            at(10),
        )
        .await;
        let known = read(&database, tenant, zhang).await.expect("copied");
        assert_eq!(known.owner, "users/zhao");
        assert_eq!(known.mobile, "+8613900139000", "the older update is news");

        // A membership change (t=5) arrives before the creation (t=1): the
        // creation still brings the names and its other segment, and the
        // segment the change left stays left.
        let zhou = "customers/zhou";
        deliver(
            &database,
            tenant,
            &CustomerSegmentMembershipChanged {
                customer: zhou.into(),
                entered: vec!["segments/new".into()],
                left: vec!["segments/vip".into()],
                member: true,
            },
            at(5),
        )
        .await;
        deliver(
            &database,
            tenant,
            &CustomerCreated {
                customer: zhou.into(),
                segments: vec!["segments/vip".into(), "segments/city".into()],
                contact: contact("", "+8613700137000"),
                ..CustomerCreated::default()
            },
            at(1),
        )
        .await;
        let known = read(&database, tenant, zhou).await.expect("copied");
        assert_eq!(known.display_name, "王芳");
        assert_eq!(known.mobile, "+8613700137000");
        assert!(known.member, "the later change's member flag");
        assert_eq!(
            known.segments,
            vec!["segments/city".to_owned(), "segments/new".to_owned()]
        );

        // A stale change does not put the customer back into a segment.
        deliver(
            &database,
            tenant,
            &CustomerSegmentMembershipChanged {
                customer: zhou.into(),
                entered: vec![],
                left: vec!["segments/new".into()],
                member: true,
            },
            at(30),
        )
        .await;
        deliver(
            &database,
            tenant,
            &CustomerSegmentMembershipChanged {
                customer: zhou.into(),
                entered: vec!["segments/new".into()],
                left: vec![],
                member: false,
            },
            at(25),
        )
        .await;
        assert!(members(&database, tenant, "segments/new").await.is_empty());
        let known = read(&database, tenant, zhou).await.expect("copied");
        assert!(known.member, "the stale change's flag is not taken");
    }

    #[tokio::test]
    async fn out_of_order_events_keep_the_latest_of_each_fact_on_sqlite() {
        out_of_order(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn out_of_order_events_keep_the_latest_of_each_fact_on_postgres() {
        out_of_order(Backend::Postgres).await;
    }

    #[tokio::test]
    async fn the_copy_follows_the_customers_events_on_sqlite() {
        scenario(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn the_copy_follows_the_customers_events_on_postgres() {
        scenario(Backend::Postgres).await;
    }
}
