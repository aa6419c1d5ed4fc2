//! The SLA scan (逾期预警): for every tenant, each ticket whose due check
//! (`ticket_sla_checks`) has come turns its clocks WARNING or BREACHED,
//! publishes `TicketSlaWarning` / `TicketSlaBreached` (the team's
//! supervisor is alerted from them: the event carries the ticket's team)
//! and, on a breach, raises the priority one step and escalates the ticket
//! to the next tier as the policy says (`TicketPriorityChanged`,
//! `TicketEscalated`). Each crossing is published once: the ticket's clock
//! records it in the same transaction as the event.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    db::{begin_for_tenant, begin_read_for_tenant},
    events::{new_event, to_timestamp},
    outbox,
};
use kefu_proto::v1::{
    Priority, Team, Ticket, TicketAssignmentStrategy, TicketAuditAction, TicketEscalated,
    TicketEscalation, TicketEscalationTrigger, TicketPriorityChanged, TicketSlaBreached,
    TicketSlaClockKind, TicketSlaWarning, TicketSupportTier,
};
use prost::{Message, Name};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use uuid::Uuid;

use crate::{
    NAME,
    api::system_actor,
    domain::{
        assignment,
        sla::{self, Crossing, SlaContext, Threshold},
        ticket::{event_context, name_of},
    },
    error::{Result, TicketsError},
    store::{self, taxonomy, tickets},
};

/// Tickets read per page of a tenant's due checks.
const PAGE: u64 = 200;

/// Pages per tenant and scan at most: a ticket that fails every time
/// cannot keep the scan in a loop.
const MAX_PAGES: usize = 50;

/// Moves the SLA clocks due at `now` in every tenant; returns how many
/// events it wrote (the caller wakes the relay). The service runs it on a
/// timer with its clock; tests call it with the time they choose.
pub async fn scan_sla(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize> {
    let mut published = 0;
    for tenant in store::sla::due_tenants(db, now).await? {
        published += scan_tenant(db, TenantId(tenant), now).await?;
    }
    Ok(published)
}

async fn scan_tenant(
    db: &DatabaseConnection,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut published = 0;
    for _ in 0..MAX_PAGES {
        let txn = begin_read_for_tenant(db, tenant).await?;
        let due = store::sla::due(&txn, tenant, now, PAGE).await?;
        txn.commit().await?;
        for &id in &due {
            // One transaction per ticket: a ticket that fails (and is
            // retried at the next scan) holds up no other.
            let txn = begin_for_tenant(db, tenant).await?;
            match check(&txn, tenant, id, now).await {
                Ok(events) => {
                    txn.commit().await?;
                    published += events;
                }
                Err(error) => {
                    tracing::warn!(%error, ticket = %id, "SLA check failed");
                    txn.rollback().await?;
                }
            }
        }
        if (due.len() as u64) < PAGE {
            break;
        }
    }
    Ok(published)
}

/// Appends the event `payload` about `ticket` to the outbox.
async fn publish<M: Message + Name>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
    payload: &M,
    now: DateTime<Utc>,
) -> Result<()> {
    let event = new_event(NAME, Some(tenant), ticket.name.clone(), payload, now);
    Ok(outbox::append(txn, &event).await?)
}

fn clock_label(clock: TicketSlaClockKind) -> &'static str {
    match clock {
        TicketSlaClockKind::FirstResponse => "first response",
        _ => "resolution",
    }
}

/// Checks the clocks of ticket `id`; returns how many events it wrote.
async fn check(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<usize> {
    // Locked from here on (PostgreSQL): an agent's change waits for us.
    let before = match tickets::load_for_change(txn, tenant, &name_of(id), "name", "").await {
        Ok(ticket) => ticket,
        Err(TicketsError::NotFound(..)) => {
            store::sla::forget(txn, tenant, id).await?;
            return Ok(0);
        }
        Err(error) => return Err(error),
    };
    let context = store::sla::context(txn, tenant, &before.kind).await?;
    let mut after = before.clone();
    // The policy as it is now applies at this evaluation.
    sla::on_change(&before, &mut after, &context, now);
    let crossings = sla::advance(&mut after, &context.time, now);
    if crossings.is_empty() {
        store::sla::sync(txn, tenant, &after).await?;
        return Ok(0);
    }
    let breached = crossings
        .iter()
        .any(|crossing| crossing.threshold == Threshold::Breach);
    let note = crossings
        .iter()
        .map(|crossing| {
            let what = match crossing.threshold {
                Threshold::Warning => "warning",
                Threshold::Breach => "breached",
            };
            format!("{} SLA {what}", clock_label(crossing.clock))
        })
        .collect::<Vec<_>>()
        .join("; ");
    let action = if breached {
        TicketAuditAction::SlaBreached
    } else {
        TicketAuditAction::SlaWarning
    };
    let actor = system_actor();
    tickets::save_change(txn, tenant, &before, &mut after, &actor, action, &note, now).await?;
    let context_at_crossing = event_context(&after);
    let mut published = 0;
    for crossing in &crossings {
        publish_crossing(txn, tenant, &after, crossing, &context_at_crossing, now).await?;
        published += 1;
    }
    if breached {
        let breaches: Vec<&str> = crossings
            .iter()
            .filter(|crossing| crossing.threshold == Threshold::Breach)
            .map(|crossing| clock_label(crossing.clock))
            .collect();
        let reason = format!("SLA breach ({})", breaches.join(", "));
        if context.raises_priority_on_breach() {
            published += raise_priority(txn, tenant, &mut after, &context, &reason, now).await?;
        }
        if context.escalates_on_breach() {
            published += escalate(txn, tenant, &mut after, &reason, now).await?;
        }
    }
    store::sla::sync(txn, tenant, &after).await?;
    Ok(published)
}

async fn publish_crossing(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
    crossing: &Crossing,
    context: &kefu_proto::v1::TicketEventContext,
    now: DateTime<Utc>,
) -> Result<()> {
    let clock = &crossing.snapshot;
    match crossing.threshold {
        Threshold::Warning => {
            let event = TicketSlaWarning {
                ticket: ticket.name.clone(),
                context: Some(context.clone()),
                clock: crossing.clock as i32,
                percent: clock.warning_percent,
                sla_policy: clock.sla_policy.clone(),
                target: clock.target,
                basis: clock.basis,
                elapsed: clock.elapsed,
                due_time: clock.due_time,
            };
            publish(txn, tenant, ticket, &event, now).await
        }
        Threshold::Breach => {
            let event = TicketSlaBreached {
                ticket: ticket.name.clone(),
                context: Some(context.clone()),
                clock: crossing.clock as i32,
                sla_policy: clock.sla_policy.clone(),
                target: clock.target,
                basis: clock.basis,
                due_time: clock.breach_time,
                breach_time: Some(to_timestamp(now)),
            };
            publish(txn, tenant, ticket, &event, now).await
        }
    }
}

/// Raises the priority of `ticket` one step (URGENT stays), re-targeting
/// its clocks for the new priority; returns the events written.
async fn raise_priority(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &mut Ticket,
    context: &SlaContext,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let from = Priority::try_from(ticket.priority).unwrap_or_default();
    let to = sla::raised(ticket.priority);
    if to == from {
        return Ok(0);
    }
    let before = ticket.clone();
    ticket.priority = to as i32;
    sla::on_change(&before, ticket, context, now);
    let actor = system_actor();
    tickets::save_change(
        txn,
        tenant,
        &before,
        ticket,
        &actor,
        TicketAuditAction::PriorityChanged,
        reason,
        now,
    )
    .await?;
    let event = TicketPriorityChanged {
        ticket: ticket.name.clone(),
        context: Some(event_context(ticket)),
        from_priority: from as i32,
        to_priority: to as i32,
        reason: "SLA breach".to_owned(),
        actor: Some(actor),
    };
    publish(txn, tenant, ticket, &event, now).await?;
    Ok(1)
}

/// The team handling `tier` for `ticket`: its category's routing, else
/// its kind's, else the tenant's team of that tier (as `EscalateTicket`
/// without a target).
async fn team_for_tier(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
    tier: TicketSupportTier,
) -> Result<Option<Team>> {
    let category = if ticket.category.is_empty() {
        None
    } else {
        taxonomy::category(txn, tenant, &ticket.category).await?
    };
    let kind = taxonomy::kind(txn, tenant, &ticket.kind).await?;
    let teams = store::directory::teams(txn, tenant).await?;
    let Some(name) = assignment::team_for_tier(
        tier,
        category
            .as_ref()
            .and_then(|category| category.routing.as_ref()),
        kind.as_ref().and_then(|kind| kind.routing.as_ref()),
        &ticket.department,
        &teams,
    ) else {
        return Ok(None);
    };
    Ok(Some(
        teams
            .into_iter()
            .find(|team| team.name == name)
            // Routing may name a team the copy has not heard of yet.
            .unwrap_or(Team {
                name,
                ..Team::default()
            }),
    ))
}

/// Escalates `ticket` to the next tier (none above MANAGEMENT), to that
/// tier's team, assigned by the team's strategy (else in its queue), as
/// `EscalateTicket` without a target does; returns the events written.
async fn escalate(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &mut Ticket,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let from_tier = assignment::tier_of(ticket.tier);
    let Some(to_tier) = assignment::next_tier(from_tier) else {
        return Ok(0);
    };
    let before = ticket.clone();
    ticket.tier = to_tier as i32;
    if let Some(team) = team_for_tier(txn, tenant, &before, to_tier).await? {
        assignment::move_to_team(ticket, &team);
        ticket.assignee =
            match assignment::strategy_for(TicketAssignmentStrategy::TeamDefault, &team) {
                Some(strategy) => {
                    store::assignment::pick_agent(txn, tenant, ticket, &team, strategy, now)
                        .await?
                        .unwrap_or_default()
                }
                None => String::new(),
            };
    }
    let actor = system_actor();
    let escalation = TicketEscalation {
        from_tier: from_tier as i32,
        to_tier: to_tier as i32,
        from_team: before.team.clone(),
        to_team: ticket.team.clone(),
        from_assignee: before.assignee.clone(),
        to_assignee: ticket.assignee.clone(),
        reason: reason.to_owned(),
        handling: String::new(),
        trigger: TicketEscalationTrigger::SlaBreach as i32,
        actor: Some(actor.clone()),
        escalate_time: Some(to_timestamp(now)),
    };
    ticket.escalations.push(escalation.clone());
    tickets::save_change(
        txn,
        tenant,
        &before,
        ticket,
        &actor,
        TicketAuditAction::Escalated,
        reason,
        now,
    )
    .await?;
    let event = TicketEscalated {
        ticket: ticket.name.clone(),
        context: Some(event_context(ticket)),
        from_tier: escalation.from_tier,
        to_tier: escalation.to_tier,
        from_team: escalation.from_team,
        to_team: escalation.to_team,
        from_assignee: escalation.from_assignee,
        to_assignee: escalation.to_assignee,
        reason: escalation.reason,
        handling: escalation.handling,
        trigger: escalation.trigger,
        actor: Some(actor),
    };
    publish(txn, tenant, ticket, &event, now).await?;
    Ok(1)
}

/// How often the SLA scan runs.
const SCAN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The SLA scan, every [`SCAN_INTERVAL`] until `shutdown`.
pub fn spawn(
    context: &kefu_kit::service::ServiceContext,
    shutdown: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    kefu_kit::schedule::every(
        context,
        SCAN_INTERVAL,
        shutdown,
        |db, now| async move { scan_sla(&db, now).await },
        |published| tracing::info!(published, "SLA warnings and breaches raised"),
        |error| tracing::warn!(error = %error, "SLA scan failed"),
    )
}
