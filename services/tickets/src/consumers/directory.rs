//! The tickets service's copy of the tenant (profile, calendar, settings,
//! users, teams, departments, SLA policies, approval matrix) from the
//! tenants service's events, and of the customers' routing facts from the
//! customers service's events. Each event is applied once (inbox claim);
//! snapshots older than the copy change nothing.
//!
//! The tenants service publishes the departments, teams, SLA policies and
//! approval matrix it seeds for a new tenant in no event of their own: only
//! TenantCreated, naming the industry template and version. The copy seeds
//! them from the same template with the tenants service's own seeding
//! function, so a freshly onboarded tenant has its SLA policies and approval
//! matrix here at once; later changes arrive as their own events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    context::TenantId,
    db::begin_for_event,
    events::{from_timestamp, payload_as, to_timestamp},
    inbox,
    outbox::OutboxSignal,
    service::ServiceContext,
};
use kefu_proto::v1::{
    ApprovalMatrixChanged, BusinessCalendarChanged, CustomerCreated, CustomerErased,
    CustomerMergeUndone, CustomerOwnerAssigned, CustomerTierChanged, CustomerUpdated,
    CustomersMerged, DepartmentChanged, EventEnvelope, SlaPolicyChanged, TeamChanged,
    TeamMembershipChanged, TenantCreated, TenantUpdated, User, UserCreated, UserDeactivated,
    UserReactivated, UserState, UserUpdated,
};
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
    [
        TenantCreated::full_name(),
        TenantUpdated::full_name(),
        BusinessCalendarChanged::full_name(),
        UserCreated::full_name(),
        UserUpdated::full_name(),
        UserReactivated::full_name(),
        UserDeactivated::full_name(),
        TeamChanged::full_name(),
        TeamMembershipChanged::full_name(),
        DepartmentChanged::full_name(),
        SlaPolicyChanged::full_name(),
        ApprovalMatrixChanged::full_name(),
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

/// Applies a tenants service event, if `event` is one; true when tickets
/// moved (events were written).
async fn apply_tenants(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    event: &EventEnvelope,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut moved = false;
    if let Some(created) = payload_as::<TenantCreated>(event) {
        tenant_created(txn, tenant, &created, at).await?;
    } else if let Some(updated) = payload_as::<TenantUpdated>(event) {
        if let Some(snapshot) = updated.tenant {
            store::save_tenant(txn, tenant, &snapshot).await?;
        }
    } else if let Some(changed) = payload_as::<BusinessCalendarChanged>(event) {
        calendar_changed(txn, tenant, changed, at).await?;
    } else if let Some(created) = payload_as::<UserCreated>(event) {
        save_user(txn, tenant, created.user).await?;
    } else if let Some(updated) = payload_as::<UserUpdated>(event) {
        save_user(txn, tenant, updated.user).await?;
    } else if let Some(reactivated) = payload_as::<UserReactivated>(event) {
        save_user(txn, tenant, reactivated.user).await?;
    } else if let Some(deactivated) = payload_as::<UserDeactivated>(event) {
        deactivate(txn, tenant, &deactivated, at).await?;
        moved = reassign::user_deactivated(txn, tenant, &deactivated, now).await?;
    } else if let Some(changed) = payload_as::<TeamChanged>(event) {
        let known = store::team(txn, tenant, &changed.name).await?;
        let team = changed.team.filter(|_| !changed.deleted);
        store::save_team(txn, tenant, &changed.name, team.as_ref(), Some(at)).await?;
        if changed.deleted {
            moved = reassign::team_deleted(txn, tenant, &changed.name, known.as_ref(), now).await?;
        }
    } else if let Some(changed) = payload_as::<TeamMembershipChanged>(event) {
        store::save_members(txn, tenant, &changed.team, &changed.members, Some(at)).await?;
    } else if let Some(changed) = payload_as::<DepartmentChanged>(event) {
        let department = changed.department.filter(|_| !changed.deleted);
        store::save_department(txn, tenant, &changed.name, department.as_ref(), Some(at)).await?;
    } else if let Some(changed) = payload_as::<SlaPolicyChanged>(event) {
        let policy = changed.sla_policy.filter(|_| !changed.deleted);
        store::save_sla_policy(txn, tenant, &changed.name, policy.as_ref(), Some(at)).await?;
    } else if let Some(changed) = payload_as::<ApprovalMatrixChanged>(event)
        && let Some(matrix) = changed.approval_matrix
    {
        store::save_approval_matrix(txn, tenant, &matrix, Some(at)).await?;
    }
    Ok(moved)
}

/// The new tenant's profile, and what its template seeded in the tenants
/// service (departments, teams, SLA policies, approval matrix), with the
/// tenant's creation time as their snapshot time, so any later change wins.
async fn tenant_created(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    created: &TenantCreated,
    at: DateTime<Utc>,
) -> Result<()> {
    let Some(snapshot) = created.tenant.as_ref() else {
        return Ok(());
    };
    store::save_tenant(txn, tenant, snapshot).await?;
    let seeded_at = snapshot
        .create_time
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(at);
    let Some(template) =
        kefu_tenants::templates::catalogue().get(&created.template, created.template_version)
    else {
        tracing::warn!(
            template = %created.template,
            version = created.template_version,
            "unknown industry template: nothing seeded in the tickets directory"
        );
        return Ok(());
    };
    let locale = if created.locale.is_empty() {
        snapshot.locale.as_str()
    } else {
        created.locale.as_str()
    };
    let seed = kefu_tenants::domain::seed::seed(template, locale, seeded_at);
    let time = Some(seeded_at);
    for (_, department) in &seed.departments {
        store::save_department(txn, tenant, &department.name, Some(department), time).await?;
    }
    for (_, team) in &seed.teams {
        store::save_team(txn, tenant, &team.name, Some(team), time).await?;
    }
    for (_, policy) in &seed.sla_policies {
        store::save_sla_policy(txn, tenant, &policy.name, Some(policy), time).await?;
    }
    store::save_approval_matrix(txn, tenant, &seed.approval_matrix, time).await?;
    Ok(())
}

/// The calendar and time zone of the stored tenant, replaced.
async fn calendar_changed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    changed: BusinessCalendarChanged,
    at: DateTime<Utc>,
) -> Result<()> {
    let Some(mut snapshot) = store::tenant(txn, tenant).await? else {
        // TenantUpdated carries the calendar too; nothing to patch yet.
        return Ok(());
    };
    if let Some(known) = store::tenant_time(txn, tenant).await?
        && known > at
    {
        return Ok(());
    }
    snapshot.calendar = changed.calendar;
    if !changed.time_zone.is_empty() {
        snapshot.time_zone = changed.time_zone;
    }
    snapshot.update_time = Some(to_timestamp(at));
    store::save_tenant(txn, tenant, &snapshot).await?;
    Ok(())
}

async fn save_user(txn: &DatabaseTransaction, tenant: TenantId, user: Option<User>) -> Result<()> {
    if let Some(user) = user.filter(|user| kefu_kit::resource::id_in(&user.name, "users").is_some())
    {
        store::save_user(txn, tenant, &user).await?;
    }
    Ok(())
}

/// Marks the user deactivated in the copy (the event carries no snapshot).
async fn deactivate(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    deactivated: &UserDeactivated,
    at: DateTime<Utc>,
) -> Result<()> {
    let mut user = store::user(txn, tenant, &deactivated.user)
        .await?
        .unwrap_or_else(|| User {
            name: deactivated.user.clone(),
            display_name: deactivated.display_name.clone(),
            teams: deactivated.teams.clone(),
            ..User::default()
        });
    user.state = UserState::Deactivated as i32;
    user.deactivate_time = Some(to_timestamp(at));
    user.update_time = Some(to_timestamp(at));
    store::save_user(txn, tenant, &user).await?;
    Ok(())
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
        events::new_event,
        testing::{Backend, TestDatabase},
    };
    use kefu_proto::v1::{SlaPolicy, Team, Tenant};
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
