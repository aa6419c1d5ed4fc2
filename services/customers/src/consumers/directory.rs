//! The copy of the tenant's users, team memberships and settings, from the
//! tenants service's events; and what a deactivated owner's customers
//! become: their successor's (a user, or balanced over a team's agents) or
//! unowned, each change in the ownership history and published.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    context::TenantId,
    db::begin_for_event,
    events::{payload_as, to_timestamp},
    inbox,
    outbox::OutboxSignal,
    resource,
    service::ServiceContext,
};
use kefu_proto::v1::{
    CustomerOwnerPool, EventEnvelope, OwnershipChangeKind, TeamChanged, TeamMembershipChanged,
    Tenant, TenantCreated, TenantUpdated, User, UserCreated, UserDeactivated, UserReactivated,
    UserState, UserUpdated,
};
use prost::Name;
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use super::{occurred, tenant_of};
use crate::{
    api::ownership::{Attribution, candidates, change_owner, system_actor},
    domain::ownership::{self as rules, is_active_agent},
    error::{CustomersError, Result},
    store::{
        agents::{self, Profile},
        customers::Stored,
        ownership as store,
    },
};

/// Customers moved per round when an owner leaves; rounds repeat until the
/// owner holds none.
const ROUND: usize = 1_000;

/// Keeps the copy of users, teams and settings.
pub struct Directory {
    group: String,
    db: DatabaseConnection,
    outbox: OutboxSignal,
    clock: SharedClock,
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
        let kind = event.r#type.as_str();
        let relevant = [
            TenantCreated::full_name(),
            TenantUpdated::full_name(),
            UserCreated::full_name(),
            UserUpdated::full_name(),
            UserReactivated::full_name(),
            UserDeactivated::full_name(),
            TeamMembershipChanged::full_name(),
            TeamChanged::full_name(),
        ];
        if !relevant.iter().any(|name| name == kind) {
            return Ok(());
        }
        let Some(tenant) = tenant_of(event)? else {
            return Ok(());
        };
        let now = self.clock.now();
        let txn = begin_for_event(&self.db, event).await?;
        if !inbox::claim(&txn, &self.group, event, now).await? {
            return Ok(());
        }
        let mut moved = false;
        if let Some(created) = payload_as::<TenantCreated>(event) {
            save_profile(&txn, tenant, created.tenant).await?;
        } else if let Some(updated) = payload_as::<TenantUpdated>(event) {
            save_profile(&txn, tenant, updated.tenant).await?;
        } else if let Some(created) = payload_as::<UserCreated>(event) {
            save_user(&txn, tenant, created.user).await?;
        } else if let Some(updated) = payload_as::<UserUpdated>(event) {
            save_user(&txn, tenant, updated.user).await?;
        } else if let Some(reactivated) = payload_as::<UserReactivated>(event) {
            save_user(&txn, tenant, reactivated.user).await?;
        } else if let Some(deactivated) = payload_as::<UserDeactivated>(event) {
            moved = deactivate(&txn, tenant, &deactivated, occurred(event, now), now).await?;
        } else if let Some(changed) = payload_as::<TeamMembershipChanged>(event) {
            agents::replace_team(&txn, tenant.0, &changed.team, &changed.members).await?;
        } else if let Some(changed) = payload_as::<TeamChanged>(event)
            && changed.deleted
        {
            agents::delete_team(&txn, tenant.0, &changed.name).await?;
        }
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

async fn save_profile(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    snapshot: Option<Tenant>,
) -> Result<()> {
    let Some(snapshot) = snapshot else {
        return Ok(());
    };
    let defaults = Profile::default();
    let profile = Profile {
        locale: if snapshot.locale.is_empty() {
            defaults.locale
        } else {
            snapshot.locale.clone()
        },
        first_contact_days: snapshot
            .settings
            .as_ref()
            .map(|settings| settings.first_contact_days)
            .filter(|days| *days > 0)
            .unwrap_or(defaults.first_contact_days),
    };
    let update_time = snapshot
        .update_time
        .as_ref()
        .and_then(kefu_kit::events::from_timestamp);
    agents::save_profile(txn, tenant.0, &profile, update_time).await?;
    Ok(())
}

async fn save_user(txn: &DatabaseTransaction, tenant: TenantId, user: Option<User>) -> Result<()> {
    if let Some(user) = user.filter(|user| resource::id_in(&user.name, "users").is_some()) {
        agents::save(txn, tenant.0, &user).await?;
    }
    Ok(())
}

/// Marks the user deactivated in the copy and moves its customers; true
/// when customers moved (events were written).
async fn deactivate(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    deactivated: &UserDeactivated,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut user = agents::get(txn, tenant.0, &deactivated.user)
        .await?
        .unwrap_or_else(|| User {
            name: deactivated.user.clone(),
            display_name: deactivated.display_name.clone(),
            ..User::default()
        });
    user.state = UserState::Deactivated as i32;
    user.deactivate_time = Some(to_timestamp(at));
    user.update_time = Some(to_timestamp(at));
    agents::save(txn, tenant.0, &user).await?;

    let actor = deactivated.actor.clone().unwrap_or_else(system_actor);
    let reason = format!("{} 已停用 / deactivated", deactivated.user);
    let successor = &deactivated.successor;
    let days = agents::profile(txn, tenant.0).await?.first_contact_days;
    let mut moved = false;
    let mut rounds = 0;
    loop {
        let owned = store::owned_by(txn, tenant.0, &deactivated.user, ROUND).await?;
        if owned.is_empty() {
            break;
        }
        rounds += 1;
        if rounds > 1_000 {
            return Err(CustomersError::Internal(format!(
                "{} still owns customers after {} rounds",
                deactivated.user,
                rounds - 1
            )));
        }
        moved = true;
        let targets = successors(txn, tenant, &deactivated.user, successor, &owned).await?;
        for (stored, owner) in owned.iter().zip(targets) {
            let kind = if owner.is_empty() {
                OwnershipChangeKind::OwnerDeactivated
            } else {
                OwnershipChangeKind::Reassigned
            };
            let attribution = Attribution {
                kind,
                reason: reason.clone(),
                actor: actor.clone(),
            };
            change_owner(txn, tenant, stored, &owner, &attribution, days, now).await?;
        }
    }
    Ok(moved)
}

/// The new owner of each of `owned` (empty: unowned): the successor user
/// when it is an active agent, the successor team's agents balanced, or
/// nobody.
async fn successors(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    leaving: &str,
    successor: &str,
    owned: &[Stored],
) -> Result<Vec<String>> {
    let nobody = || vec![String::new(); owned.len()];
    if resource::id_in(successor, "users").is_some() && successor != leaving {
        return Ok(match agents::get(txn, tenant.0, successor).await? {
            Some(user) if is_active_agent(&user) => vec![successor.to_owned(); owned.len()],
            _ => nobody(),
        });
    }
    if resource::id_in(successor, "teams").is_none() {
        return Ok(nobody());
    }
    let pool = CustomerOwnerPool {
        agents: vec![successor.to_owned()],
        skill: String::new(),
    };
    let candidates = match candidates(txn, tenant, &pool, "successor", Some(leaving)).await {
        Ok(candidates) => candidates,
        Err(CustomersError::FailedPrecondition(..)) => return Ok(nobody()),
        Err(error) => return Err(error),
    };
    let items: Vec<rules::Item> = owned
        .iter()
        .map(|stored| rules::Item {
            id: stored.customer.name.clone(),
            dedicated: false,
        })
        .collect();
    let plan = rules::balance(&candidates, &items);
    // The plan keeps no order for non-dedicated items but the given one.
    Ok(plan
        .assignments
        .into_iter()
        .map(|(_, owner)| owner)
        .collect())
}
