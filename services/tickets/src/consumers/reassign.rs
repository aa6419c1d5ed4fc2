//! Where open tickets go when the tenants service says their holder is
//! gone: a deactivated user's tickets move to the successor (a user, or a
//! team whose strategy picks the agent) or back to their team's queue; a
//! deleted team's tickets return to the front-line queue of its department.
//! Each move is an audited change published as TicketAssigned, in the
//! transaction of the event.

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, events::new_event, outbox, resource};
use kefu_proto::v1::{
    Actor, Team, Ticket, TicketAssigned, TicketAssignmentReason, TicketAssignmentStrategy,
    TicketAuditAction, TicketSupportTier, UserDeactivated,
};
use sea_orm::DatabaseTransaction;

use crate::{
    api::system_actor,
    domain::{
        assignment::{self as rules},
        ticket::event_context,
    },
    error::Result,
    store::{
        self,
        assignment::OPEN,
        directory,
        tickets::{Prefilter, candidates},
    },
};

/// Who takes a leaving user's tickets.
enum Successor {
    /// An active user.
    User(kefu_proto::v1::User),
    /// A team: its strategy picks, else its queue.
    Team(Team),
    /// Nobody named: each ticket waits in its team's queue.
    Queue,
}

/// Moves the open tickets of the deactivated user; true when any moved.
pub(super) async fn user_deactivated(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    deactivated: &UserDeactivated,
    now: DateTime<Utc>,
) -> Result<bool> {
    let prefilter = Prefilter {
        states: OPEN.iter().map(|state| *state as i32).collect(),
        assignee: Some(deactivated.user.clone()),
        ..Prefilter::default()
    };
    let held = candidates(txn, tenant, &prefilter).await?;
    if held.is_empty() {
        return Ok(false);
    }
    let successor = successor(txn, tenant, deactivated).await?;
    let teams = directory::teams(txn, tenant).await?;
    let actor = deactivated.actor.clone().unwrap_or_else(system_actor);
    let note = format!("{} 已停用 / deactivated", deactivated.user);
    for before in held {
        let mut after = before.clone();
        let mut reason = TicketAssignmentReason::Manual;
        let mut strategy_used = TicketAssignmentStrategy::Unspecified;
        match &successor {
            Successor::User(user) => {
                after.assignee = user.name.clone();
                let current = teams.iter().find(|team| team.name == before.team);
                if let Some(name) = rules::team_of_user(user, current, &teams)
                    && let Some(team) = teams.iter().find(|team| team.name == name)
                {
                    rules::move_to_team(&mut after, team);
                }
            }
            Successor::Team(team) => {
                rules::move_to_team(&mut after, team);
                after.assignee.clear();
                if let Some(strategy) =
                    rules::strategy_for(TicketAssignmentStrategy::TeamDefault, team)
                    && let Some(picked) =
                        store::assignment::pick_agent(txn, tenant, &after, team, strategy, now)
                            .await?
                {
                    after.assignee = picked;
                    reason = TicketAssignmentReason::Strategy;
                    strategy_used = strategy.as_contract();
                }
            }
            Successor::Queue => after.assignee.clear(),
        }
        let moved = Moved {
            reason,
            strategy: strategy_used,
            actor: &actor,
            note: &note,
        };
        save(txn, tenant, &before, &mut after, &moved, now).await?;
    }
    Ok(true)
}

async fn successor(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    deactivated: &UserDeactivated,
) -> Result<Successor> {
    let named = deactivated.successor.as_str();
    if resource::id_in(named, "users").is_some() && named != deactivated.user {
        return Ok(match directory::user(txn, tenant, named).await? {
            Some(user) if rules::is_active(&user) => Successor::User(user),
            _ => Successor::Queue,
        });
    }
    if resource::id_in(named, "teams").is_some()
        && let Some(team) = directory::team(txn, tenant, named).await?
    {
        return Ok(Successor::Team(team));
    }
    Ok(Successor::Queue)
}

/// Returns the open tickets of the deleted team `name` (as the copy knew it:
/// `known`) to the front-line queue of its department; true when any moved.
pub(super) async fn team_deleted(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    known: Option<&Team>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let prefilter = Prefilter {
        states: OPEN.iter().map(|state| *state as i32).collect(),
        team: Some(name.to_owned()),
        ..Prefilter::default()
    };
    let held = candidates(txn, tenant, &prefilter).await?;
    if held.is_empty() {
        return Ok(false);
    }
    let department = known.map(|team| team.department.as_str()).unwrap_or("");
    let teams: Vec<Team> = directory::teams(txn, tenant)
        .await?
        .into_iter()
        .filter(|team| team.name != name)
        .collect();
    let Some(front) =
        rules::team_for_tier(TicketSupportTier::FrontLine, None, None, department, &teams)
            .and_then(|front| teams.iter().find(|team| team.name == front))
    else {
        tracing::warn!(
            team = name,
            "no front-line team left for a deleted team's tickets"
        );
        return Ok(false);
    };
    let actor = system_actor();
    let note = format!("{name} 已删除 / deleted");
    for before in held {
        let mut after = before.clone();
        rules::move_to_team(&mut after, front);
        after.assignee.clear();
        after.tier = TicketSupportTier::FrontLine as i32;
        let moved = Moved {
            reason: TicketAssignmentReason::Manual,
            strategy: TicketAssignmentStrategy::Unspecified,
            actor: &actor,
            note: &note,
        };
        save(txn, tenant, &before, &mut after, &moved, now).await?;
    }
    Ok(true)
}

/// How a ticket moved.
struct Moved<'a> {
    reason: TicketAssignmentReason,
    strategy: TicketAssignmentStrategy,
    actor: &'a Actor,
    note: &'a str,
}

/// Saves the move (one audit entry) and publishes TicketAssigned.
async fn save(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    after: &mut Ticket,
    moved: &Moved<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    if before.assignee == after.assignee && before.team == after.team {
        return Ok(());
    }
    store::tickets::save_change(
        txn,
        tenant,
        before,
        after,
        moved.actor,
        TicketAuditAction::Assigned,
        moved.note,
        now,
    )
    .await?;
    let event = TicketAssigned {
        ticket: after.name.clone(),
        context: Some(event_context(after)),
        previous_assignee: before.assignee.clone(),
        previous_team: before.team.clone(),
        assignee: after.assignee.clone(),
        team: after.team.clone(),
        reason: moved.reason as i32,
        strategy: moved.strategy as i32,
        handover: String::new(),
        actor: Some(moved.actor.clone()),
    };
    let envelope = new_event(crate::NAME, Some(tenant), after.name.clone(), &event, now);
    outbox::append(txn, &envelope).await?;
    Ok(())
}
