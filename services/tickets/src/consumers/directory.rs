//! The tickets service's copy of the tenant (profile, calendar, settings,
//! users, teams, departments, SLA policies, approval matrix: the tenants
//! service's [`replica`]) and of the customers' routing facts from the
//! customers service's events. Each event is applied once (inbox claim);
//! snapshots older than the copy change nothing. A deactivated user's or a
//! deleted team's tickets move on in the same transaction.

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
    service::ServiceContext,
};
use kefu_proto::v1::{
    CustomerCreated, CustomerErased, CustomerMergeUndone, CustomerOwnerAssigned,
    CustomerTierChanged, CustomerUpdated, CustomersMerged, EventEnvelope,
};
use kefu_tenants::replica::{self, Applied};
use prost::Name;
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use super::{merges, reassign};
use crate::{
    error::{Result, TicketsError},
    store::directory::{self as store, KnownCustomer, KnownCustomerState},
};

/// Keeps the copy of the tenant and of the customers.
pub struct Directory {
    group: String,
    db: DatabaseConnection,
    outbox: OutboxSignal,
    clock: SharedClock,
}

/// The event types the copy follows.
fn relevant(kind: &str) -> bool {
    replica::relevant(kind)
        || [
            CustomerCreated::full_name(),
            CustomerUpdated::full_name(),
            CustomerOwnerAssigned::full_name(),
            CustomerTierChanged::full_name(),
            CustomersMerged::full_name(),
            CustomerMergeUndone::full_name(),
            CustomerErased::full_name(),
        ]
        .iter()
        .any(|name| name == kind)
}

impl Directory {
    /// The handler of consumer group `group`.
    pub fn new(group: String, context: &ServiceContext) -> Self {
        Self {
            group,
            db: context.db.clone(),
            outbox: context.outbox.clone(),
            clock: context.clock.clone(),
        }
    }

    async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if !relevant(&event.r#type) || event.tenant_id.is_empty() {
            return Ok(());
        }
        let tenant = event.tenant_id.parse::<TenantId>().map_err(|error| {
            TicketsError::Internal(format!("event {} tenant: {error}", event.id))
        })?;
        let now = self.clock.now();
        let txn = begin_for_event(&self.db, event).await?;
        if !inbox::claim(&txn, &self.group, event, now).await? {
            return Ok(());
        }
        let at = occurred(event, now);
        let moved = apply_tenants(&txn, tenant, event, at, now).await?;
        apply_customers(&txn, tenant, event, at, now).await?;
        txn.commit().await?;
        if moved {
            self.outbox.notify();
        }
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Directory {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}

/// When an event happened (its envelope time), else `fallback`.
fn occurred(event: &EventEnvelope, fallback: DateTime<Utc>) -> DateTime<Utc> {
    event
        .occurred_at
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(fallback)
}

/// Applies a tenants service event, if `event` is one, to the copy of the
/// tenant; true when tickets moved (events were written) because a user
/// was deactivated or a team deleted.
async fn apply_tenants(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    event: &EventEnvelope,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    Ok(match replica::apply(txn, tenant, event, at).await? {
        Applied::UserDeactivated(deactivated) => {
            reassign::user_deactivated(txn, tenant, &deactivated, now).await?
        }
        Applied::TeamDeleted { name, known } => {
            reassign::team_deleted(txn, tenant, &name, known.as_ref(), now).await?
        }
        Applied::Nothing | Applied::Stored => false,
    })
}

/// Applies a customers service event, if `event` is one.
async fn apply_customers(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    event: &EventEnvelope,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    let time = Some(at);
    if let Some(created) = payload_as::<CustomerCreated>(event) {
        let customer = KnownCustomer {
            owner: created.owner,
            member: created.member,
            tier: created.tier,
            ..KnownCustomer::new(&created.customer)
        };
        store::save_customer(txn, tenant, &customer, time).await?;
    } else if let Some(updated) = payload_as::<CustomerUpdated>(event) {
        let mut customer = known(txn, tenant, &updated.customer).await?;
        customer.member = updated.member;
        store::save_customer(txn, tenant, &customer, time).await?;
    } else if let Some(assigned) = payload_as::<CustomerOwnerAssigned>(event) {
        let mut customer = known(txn, tenant, &assigned.customer).await?;
        customer.owner = assigned.new_owner;
        store::save_customer(txn, tenant, &customer, time).await?;
    } else if let Some(changed) = payload_as::<CustomerTierChanged>(event) {
        let mut customer = known(txn, tenant, &changed.customer).await?;
        customer.tier = changed.new_tier;
        store::save_customer(txn, tenant, &customer, time).await?;
    } else if let Some(merged) = payload_as::<CustomersMerged>(event) {
        merges::customers_merged(txn, tenant, &merged, now).await?;
        let mut gone = known(txn, tenant, &merged.merged).await?;
        gone.state = KnownCustomerState::Merged {
            into: merged.survivor.clone(),
        };
        store::save_customer(txn, tenant, &gone, time).await?;
        let mut survivor = known(txn, tenant, &merged.survivor).await?;
        survivor.member = merged.survivor_member;
        survivor.owner = merged.survivor_owner;
        store::save_customer(txn, tenant, &survivor, time).await?;
    } else if let Some(undone) = payload_as::<CustomerMergeUndone>(event) {
        merges::merge_undone(txn, tenant, &undone, now).await?;
        let mut restored = known(txn, tenant, &undone.merged).await?;
        if restored.state
            == (KnownCustomerState::Merged {
                into: undone.survivor.clone(),
            })
        {
            restored.state = KnownCustomerState::Active;
            store::save_customer(txn, tenant, &restored, time).await?;
        }
    } else if let Some(erased) = payload_as::<CustomerErased>(event) {
        let mut customer = known(txn, tenant, &erased.customer).await?;
        customer.state = KnownCustomerState::Erased;
        customer.owner.clear();
        customer.tier.clear();
        store::save_customer(txn, tenant, &customer, time).await?;
    }
    Ok(())
}

/// The stored customer `name`, or a live one with nothing known.
async fn known(txn: &DatabaseTransaction, tenant: TenantId, name: &str) -> Result<KnownCustomer> {
    Ok(store::customer(txn, tenant, name)
        .await?
        .unwrap_or_else(|| KnownCustomer::new(name)))
}

#[cfg(test)]
mod tests {
    use kefu_kit::{
        db::begin_for_tenant,
        events::{new_event, to_timestamp},
        testing::{Backend, TestDatabase},
    };
    use kefu_proto::v1::{
        SlaPolicy, SlaPolicyChanged, Team, TeamChanged, TeamMembershipChanged, Tenant,
        TenantCreated, User, UserCreated, UserDeactivated, UserState,
    };
    use prost::Message;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("time")
    }

    async fn deliver<M: Message + Name>(
        database: &TestDatabase,
        tenant: TenantId,
        subject: &str,
        payload: &M,
        when: DateTime<Utc>,
    ) {
        let event = new_event("tenants", Some(tenant), subject, payload, when);
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        apply_tenants(&txn, tenant, &event, when, when)
            .await
            .expect("tenants");
        apply_customers(&txn, tenant, &event, when, when)
            .await
            .expect("customers");
        txn.commit().await.expect("commit");
    }

    fn created(tenant: TenantId, when: DateTime<Utc>) -> TenantCreated {
        let template = kefu_tenants::templates::catalogue()
            .latest()
            .into_iter()
            .find(|template| !template.sla_policies.is_empty())
            .expect("a template with SLA policies")
            .clone();
        TenantCreated {
            tenant: Some(Tenant {
                name: format!("tenants/{}", tenant.0),
                locale: "zh-CN".into(),
                time_zone: "Asia/Shanghai".into(),
                create_time: Some(to_timestamp(when)),
                update_time: Some(to_timestamp(when)),
                ..Tenant::default()
            }),
            template: template.name.clone(),
            template_version: template.version,
            locale: "zh-CN".into(),
            time_zone: "Asia/Shanghai".into(),
            ..TenantCreated::default()
        }
    }

    async fn scenario(backend: Backend) {
        let Some(database) = TestDatabase::new(backend, "tickets").await else {
            return;
        };
        let tenant = TenantId::new();
        let other = TenantId::new();
        deliver(
            &database,
            tenant,
            "tenants/x",
            &created(tenant, at(0)),
            at(0),
        )
        .await;

        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let policies = store::sla_policies(&txn, tenant).await.expect("policies");
        assert!(
            !policies.is_empty(),
            "the template's SLA policies are seeded"
        );
        let matrix = store::approval_matrix(&txn, tenant).await.expect("matrix");
        assert!(matrix.is_some_and(|matrix| !matrix.thresholds.is_empty()));
        let teams = store::teams(&txn, tenant).await.expect("teams");
        assert!(!teams.is_empty(), "the template's teams are seeded");
        assert_eq!(
            store::tenant(&txn, tenant)
                .await
                .expect("tenant")
                .map(|t| t.time_zone),
            Some("Asia/Shanghai".to_owned())
        );
        txn.commit().await.expect("commit");

        // A changed policy replaces the seeded one; a late older snapshot
        // and a deleted policy's late snapshot change nothing.
        let mut policy = policies[0].clone();
        policy.display_name = "changed".into();
        policy.update_time = Some(to_timestamp(at(20)));
        let changed = SlaPolicyChanged {
            sla_policy: Some(policy.clone()),
            name: policy.name.clone(),
            deleted: false,
        };
        deliver(&database, tenant, &policy.name, &changed, at(20)).await;
        let mut older = policy.clone();
        older.display_name = "older".into();
        older.update_time = Some(to_timestamp(at(10)));
        let late = SlaPolicyChanged {
            sla_policy: Some(older),
            ..changed.clone()
        };
        deliver(&database, tenant, &policy.name, &late, at(10)).await;
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let now = store::sla_policies(&txn, tenant).await.expect("policies");
        let found: Vec<&SlaPolicy> = now.iter().filter(|p| p.name == policy.name).collect();
        assert_eq!(found[0].display_name, "changed");
        txn.commit().await.expect("commit");
        let deleted = SlaPolicyChanged {
            sla_policy: None,
            name: policy.name.clone(),
            deleted: true,
        };
        deliver(&database, tenant, &policy.name, &deleted, at(30)).await;
        deliver(&database, tenant, &policy.name, &changed, at(20)).await;
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let now = store::sla_policies(&txn, tenant).await.expect("policies");
        assert!(
            now.iter().all(|p| p.name != policy.name),
            "deleted stays deleted"
        );

        // Membership events set a team's members; the other tenant sees none.
        txn.commit().await.expect("commit");
        let team = teams[0].name.clone();
        let membership = TeamMembershipChanged {
            team: team.clone(),
            members: vec!["users/b".into(), "users/a".into()],
            ..TeamMembershipChanged::default()
        };
        deliver(&database, tenant, &team, &membership, at(40)).await;
        let renamed = TeamChanged {
            name: team.clone(),
            team: Some(Team {
                display_name: "renamed".into(),
                update_time: Some(to_timestamp(at(50))),
                ..teams[0].clone()
            }),
            deleted: false,
        };
        deliver(&database, tenant, &team, &renamed, at(50)).await;
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let stored = store::team(&txn, tenant, &team)
            .await
            .expect("team")
            .expect("known");
        assert_eq!(stored.display_name, "renamed");
        assert_eq!(
            stored.members,
            vec!["users/a".to_owned(), "users/b".to_owned()]
        );
        txn.commit().await.expect("commit");
        let txn = begin_for_tenant(&database.db, other).await.expect("begin");
        assert!(
            store::team(&txn, other, &team)
                .await
                .expect("team")
                .is_none()
        );
        assert!(
            store::sla_policies(&txn, other)
                .await
                .expect("none")
                .is_empty()
        );
        txn.commit().await.expect("commit");

        // Users: created, then deactivated.
        let user = User {
            name: "users/a".into(),
            display_name: "张三".into(),
            state: UserState::Active as i32,
            update_time: Some(to_timestamp(at(60))),
            ..User::default()
        };
        let created_user = UserCreated {
            user: Some(user.clone()),
            actor: None,
        };
        deliver(&database, tenant, "users/a", &created_user, at(60)).await;
        let gone = UserDeactivated {
            user: "users/a".into(),
            ..UserDeactivated::default()
        };
        deliver(&database, tenant, "users/a", &gone, at(70)).await;
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let stored = store::user(&txn, tenant, "users/a")
            .await
            .expect("user")
            .expect("known");
        assert_eq!(stored.state, UserState::Deactivated as i32);
        assert_eq!(stored.display_name, "张三");
        assert_eq!(store::users(&txn, tenant).await.expect("users").len(), 1);
        txn.commit().await.expect("commit");

        // Customers: created, merged, undone, erased (final).
        let customer = CustomerCreated {
            customer: "customers/c1".into(),
            owner: "users/a".into(),
            member: true,
            ..CustomerCreated::default()
        };
        deliver(&database, tenant, "customers/c1", &customer, at(80)).await;
        let merged = CustomersMerged {
            survivor: "customers/c2".into(),
            merged: "customers/c1".into(),
            survivor_owner: "users/b".into(),
            ..CustomersMerged::default()
        };
        deliver(&database, tenant, "customers/c2", &merged, at(90)).await;
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let c1 = store::customer(&txn, tenant, "customers/c1")
            .await
            .expect("c1")
            .expect("known");
        assert_eq!(
            c1.state,
            KnownCustomerState::Merged {
                into: "customers/c2".into()
            }
        );
        assert_eq!(
            store::merged_into(&txn, tenant, "customers/c2")
                .await
                .expect("merged"),
            vec!["customers/c1".to_owned()]
        );
        txn.commit().await.expect("commit");
        let undone = CustomerMergeUndone {
            survivor: "customers/c2".into(),
            merged: "customers/c1".into(),
            ..CustomerMergeUndone::default()
        };
        deliver(&database, tenant, "customers/c1", &undone, at(100)).await;
        let erased = CustomerErased {
            customer: "customers/c1".into(),
            erasure_record: String::new(),
        };
        deliver(&database, tenant, "customers/c1", &erased, at(110)).await;
        deliver(&database, tenant, "customers/c1", &customer, at(120)).await;
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let c1 = store::customer(&txn, tenant, "customers/c1")
            .await
            .expect("c1")
            .expect("known");
        assert_eq!(c1.state, KnownCustomerState::Erased);
        assert!(c1.owner.is_empty());
        txn.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn the_copy_follows_the_events_on_sqlite() {
        scenario(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn the_copy_follows_the_events_on_postgres() {
        scenario(Backend::Postgres).await;
    }
}
