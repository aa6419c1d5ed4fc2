//! Assignment (派单: round robin, least loaded, skills, availability),
//! escalation by tier (一线 → 专业组 → 主管), priority and triage (分诊).
//! Each change goes through `store::tickets::save_change` (one audit entry)
//! and publishes its events in the same transaction.

use chrono::{DateTime, Utc};
use kefu_kit::context::{CallContext, PrincipalKind, TenantId};
use kefu_proto::v1::{
    Actor, AssignTicketRequest, EscalateTicketRequest, Priority, Role, SetTicketPriorityRequest,
    Team, Ticket, TicketAssigned, TicketAssignmentReason, TicketAssignmentStrategy,
    TicketAuditAction, TicketEscalated, TicketEscalation, TicketEscalationTrigger,
    TicketPriorityChanged, TicketRouting, TicketState, TicketSupportTier, TriageClass,
    TriageTicketRequest, User,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};

use super::{Shared, actor_of, append_event, caller};
use crate::{
    domain::{
        assignment::{self as rules, EscalationRefusal},
        sla,
        ticket::event_context,
    },
    error::{Result, TicketsError},
    store,
};

/// The longest reason or handling text, in characters.
const MAX_REASON: usize = 500;

/// AssignTicket.
pub(super) async fn assign_ticket(
    shared: &Shared,
    request: Request<AssignTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Ok(Response::new(assign(shared, request).await?))
}

/// EscalateTicket.
pub(super) async fn escalate_ticket(
    shared: &Shared,
    request: Request<EscalateTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Ok(Response::new(escalate(shared, request).await?))
}

/// SetTicketPriority.
pub(super) async fn set_ticket_priority(
    shared: &Shared,
    request: Request<SetTicketPriorityRequest>,
) -> Result<Response<Ticket>, Status> {
    Ok(Response::new(set_priority(shared, request).await?))
}

/// TriageTicket.
pub(super) async fn triage_ticket(
    shared: &Shared,
    request: Request<TriageTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    Ok(Response::new(triage(shared, request).await?))
}

// --- Who may --------------------------------------------------------------

fn holds(context: &CallContext, roles: &[Role]) -> bool {
    context
        .principal
        .roles
        .iter()
        .any(|held| roles.iter().any(|role| role.as_str_name() == held))
}

/// Supervisors, managers, admins, and the tenant's keys and Kefu itself
/// (integrations act for the organisation).
fn supervises(context: &CallContext) -> bool {
    match context.principal.kind {
        PrincipalKind::User => holds(context, &[Role::Supervisor, Role::Manager, Role::Admin]),
        _ => true,
    }
}

/// Those who work tickets: agents and those who supervise.
fn works_tickets(context: &CallContext) -> bool {
    supervises(context) || holds(context, &[Role::Agent])
}

fn needs_supervisor(what: &str) -> TicketsError {
    TicketsError::PermissionDenied(format!("{what} needs a supervisor, manager or admin"))
}

/// The calling user's name (`users/{id}`), for a user caller.
fn me(context: &CallContext) -> Option<String> {
    (context.principal.kind == PrincipalKind::User)
        .then(|| format!("users/{}", context.principal.id))
}

// --- Checks -----------------------------------------------------------------

fn at_most(value: &str, max: usize, field: &str) -> Result<()> {
    if value.chars().count() > max {
        return Err(TicketsError::invalid(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(())
}

fn state_of(ticket: &Ticket) -> TicketState {
    TicketState::try_from(ticket.state).unwrap_or_default()
}

fn refuse_closed(ticket: &Ticket, what: &str) -> Result<()> {
    if state_of(ticket) == TicketState::Closed {
        return Err(TicketsError::illegal_transition(format!(
            "{} is CLOSED: it cannot be {what}",
            ticket.name
        )));
    }
    Ok(())
}

fn refuse_done(ticket: &Ticket, what: &str) -> Result<()> {
    if matches!(
        state_of(ticket),
        TicketState::Resolved | TicketState::Closed
    ) {
        return Err(TicketsError::illegal_transition(format!(
            "{} is {}: it cannot be {what}",
            ticket.name,
            state_of(ticket).as_str_name()
        )));
    }
    Ok(())
}

fn no_eligible_agent(team: &str) -> TicketsError {
    TicketsError::FailedPrecondition(
        format!("{team} has no available agent with the required skills"),
        "NO_ELIGIBLE_AGENT",
    )
}

/// The team `name` of the directory copy, or INVALID_ARGUMENT naming
/// `field` (UNKNOWN_REFERENCE).
async fn known_team(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    field: &str,
) -> Result<Team> {
    store::directory::team(txn, tenant, name)
        .await?
        .ok_or_else(|| {
            TicketsError::invalid_because(
                field,
                format!("{field} {name:?} is not a team of the tenant"),
                "UNKNOWN_REFERENCE",
            )
        })
}

/// The active user `name`, or INVALID_ARGUMENT naming `field`.
async fn active_user(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    field: &str,
) -> Result<User> {
    match store::directory::user(txn, tenant, name).await? {
        Some(user) if rules::is_active(&user) => Ok(user),
        Some(_) => Err(TicketsError::invalid(
            field,
            format!("{field} {name} is not an active user of the tenant"),
        )),
        None => Err(TicketsError::invalid_because(
            field,
            format!("{field} {name:?} is not a user of the tenant"),
            "UNKNOWN_REFERENCE",
        )),
    }
}

// --- Shared steps -------------------------------------------------------------

/// The routings of the ticket's category and kind (taxonomy).
async fn routings(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
) -> Result<(Option<TicketRouting>, Option<TicketRouting>)> {
    let category = if ticket.category.is_empty() {
        None
    } else {
        store::taxonomy::category(txn, tenant, &ticket.category)
            .await?
            .and_then(|category| category.routing)
    };
    let kind = store::taxonomy::kind(txn, tenant, &ticket.kind)
        .await?
        .and_then(|kind| kind.routing);
    Ok((category, kind))
}

/// The team handling `tier` for `ticket`, from its routing or the tenant's
/// teams at that tier.
async fn team_for_tier(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
    tier: TicketSupportTier,
) -> Result<Option<Team>> {
    let (category, kind) = routings(txn, tenant, ticket).await?;
    let teams = store::directory::teams(txn, tenant).await?;
    let Some(name) = rules::team_for_tier(
        tier,
        category.as_ref(),
        kind.as_ref(),
        &ticket.department,
        &teams,
    ) else {
        return Ok(None);
    };
    Ok(match teams.into_iter().find(|team| team.name == name) {
        Some(team) => Some(team),
        // Routing may name a team the copy has not heard of yet.
        None => Some(Team {
            name,
            ..Team::default()
        }),
    })
}

/// FAILED_PRECONDITION `NO_ELIGIBLE_AGENT`: no team handles `tier` for
/// `ticket`.
fn no_team_for_tier(tier: TicketSupportTier, ticket: &str) -> TicketsError {
    TicketsError::FailedPrecondition(
        format!(
            "no team handles the {} tier for {ticket}",
            tier.as_str_name()
        ),
        "NO_ELIGIBLE_AGENT",
    )
}

/// The agent `team`'s own strategy picks for `ticket` and the strategy
/// that picked; nobody picked (or a team that assigns only by hand): the
/// team's queue (empty) and no strategy.
async fn pick_by_team_default(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
    team: &Team,
    now: DateTime<Utc>,
) -> Result<(String, TicketAssignmentStrategy)> {
    let Some(strategy) = rules::strategy_for(TicketAssignmentStrategy::TeamDefault, team) else {
        return Ok((String::new(), TicketAssignmentStrategy::Unspecified));
    };
    Ok(
        match store::assignment::pick_agent(txn, tenant, ticket, team, strategy, now).await? {
            Some(picked) => (picked, strategy.as_contract()),
            None => (String::new(), TicketAssignmentStrategy::Unspecified),
        },
    )
}

/// Moves the SLA clocks for a new priority (or kind) and saves the change
/// with its audit entry, publishing TicketPriorityChanged when it moved.
#[allow(clippy::too_many_arguments)]
async fn save_reprioritised(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    after: &mut Ticket,
    actor: &Actor,
    action: TicketAuditAction,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let sla = sla_context(txn, tenant, after).await?;
    sla::on_change(before, after, &sla, now);
    store::tickets::save_change(txn, tenant, before, after, actor, action, reason, now).await?;
    publish_priority(txn, tenant, before, after, reason, actor, now).await
}

/// The SLA context of `ticket`'s kind from the copies this service keeps.
async fn sla_context(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
) -> Result<sla::SlaContext> {
    let kind_policy = store::taxonomy::kind(txn, tenant, &ticket.kind)
        .await?
        .map(|kind| kind.sla_policy)
        .unwrap_or_default();
    let policies = store::directory::sla_policies(txn, tenant).await?;
    let profile = store::directory::tenant(txn, tenant).await?;
    let calendar = profile.as_ref().and_then(|tenant| tenant.calendar.as_ref());
    let zone = profile
        .as_ref()
        .map(|tenant| tenant.time_zone.as_str())
        .filter(|zone| !zone.is_empty())
        .unwrap_or("Asia/Shanghai");
    Ok(sla::SlaContext::for_kind(
        &kind_policy,
        &policies,
        calendar,
        zone,
    ))
}

/// Publishes TicketAssigned when the assignee or team changed.
#[allow(clippy::too_many_arguments)]
async fn publish_assigned(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    after: &Ticket,
    reason: TicketAssignmentReason,
    strategy: TicketAssignmentStrategy,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    if before.assignee == after.assignee && before.team == after.team {
        return Ok(());
    }
    let event = TicketAssigned {
        ticket: after.name.clone(),
        context: Some(event_context(after)),
        previous_assignee: before.assignee.clone(),
        previous_team: before.team.clone(),
        assignee: after.assignee.clone(),
        team: after.team.clone(),
        reason: reason as i32,
        strategy: strategy as i32,
        handover: String::new(),
        actor: Some(actor.clone()),
    };
    append_event(txn, tenant, after.name.clone(), &event, now).await
}

/// Publishes TicketPriorityChanged when the priority changed.
async fn publish_priority(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    after: &Ticket,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    if before.priority == after.priority {
        return Ok(());
    }
    let event = TicketPriorityChanged {
        ticket: after.name.clone(),
        context: Some(event_context(after)),
        from_priority: before.priority,
        to_priority: after.priority,
        reason: reason.to_owned(),
        actor: Some(actor.clone()),
    };
    append_event(txn, tenant, after.name.clone(), &event, now).await
}

// --- AssignTicket -------------------------------------------------------------

async fn assign(shared: &Shared, request: Request<AssignTicketRequest>) -> Result<Ticket> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    if !works_tickets(&context) {
        return Err(TicketsError::PermissionDenied(
            "assigning tickets needs an agent, supervisor, manager or admin".into(),
        ));
    }
    at_most(&request.reason, MAX_REASON, "reason")?;
    let strategy_asked = TicketAssignmentStrategy::try_from(request.strategy).unwrap_or_default();
    let assignee_asked = if request.assignee == "users/me" {
        me(&context)
            .ok_or_else(|| TicketsError::invalid("assignee", "users/me needs a user caller"))?
    } else {
        request.assignee.clone()
    };
    if assignee_asked.is_empty()
        && request.team.is_empty()
        && strategy_asked == TicketAssignmentStrategy::Unspecified
    {
        return Err(TicketsError::invalid(
            "assignee",
            "give an assignee, a team or a strategy",
        ));
    }
    if !assignee_asked.is_empty() && kefu_kit::resource::id_in(&assignee_asked, "users").is_none() {
        return Err(TicketsError::invalid(
            "assignee",
            "assignee must be users/{user} or users/me",
        ));
    }
    if !request.team.is_empty() && kefu_kit::resource::id_in(&request.team, "teams").is_none() {
        return Err(TicketsError::invalid("team", "team must be teams/{team}"));
    }

    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let before =
        store::tickets::load_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    refuse_closed(&before, "assigned")?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut after = before.clone();
    let (reason, strategy_used) = if !assignee_asked.is_empty() {
        let user = active_user(&txn, tenant, &assignee_asked, "assignee").await?;
        let team = if request.team.is_empty() {
            let current = if before.team.is_empty() {
                None
            } else {
                store::directory::team(&txn, tenant, &before.team).await?
            };
            let teams = store::directory::teams(&txn, tenant).await?;
            match rules::team_of_user(&user, current.as_ref(), &teams) {
                Some(name) => teams.into_iter().find(|team| team.name == name),
                None => None,
            }
        } else {
            let team = known_team(&txn, tenant, &request.team, "team").await?;
            if !rules::is_member(&team, &user) {
                return Err(TicketsError::invalid(
                    "assignee",
                    format!("{} is not a member of {}", user.name, team.name),
                ));
            }
            Some(team)
        };
        if !supervises(&context) {
            check_self_assignment(&context, &before, &user, team.as_ref())?;
        }
        after.assignee = user.name.clone();
        if let Some(team) = &team {
            rules::move_to_team(&mut after, team);
        }
        (
            TicketAssignmentReason::Manual,
            TicketAssignmentStrategy::Unspecified,
        )
    } else {
        if !supervises(&context) {
            return Err(needs_supervisor("assigning to a team or by a strategy"));
        }
        let team_name = if request.team.is_empty() {
            before.team.clone()
        } else {
            request.team.clone()
        };
        if team_name.is_empty() {
            return Err(TicketsError::invalid(
                "team",
                "the ticket has no team: name the team the strategy picks from",
            ));
        }
        let team = known_team(&txn, tenant, &team_name, "team").await?;
        rules::move_to_team(&mut after, &team);
        match rules::strategy_for(strategy_asked, &team) {
            Some(strategy) => {
                let picked =
                    store::assignment::pick_agent(&txn, tenant, &after, &team, strategy, now)
                        .await?
                        .ok_or_else(|| no_eligible_agent(&team.name))?;
                after.assignee = picked;
                (TicketAssignmentReason::Strategy, strategy.as_contract())
            }
            None => {
                // The team's queue: a team alone, or a team that assigns
                // only by hand.
                after.assignee.clear();
                (
                    TicketAssignmentReason::Manual,
                    TicketAssignmentStrategy::Unspecified,
                )
            }
        }
    };
    if after.assignee == before.assignee && after.team == before.team {
        txn.commit().await?;
        return Ok(before);
    }
    store::tickets::save_change(
        &txn,
        tenant,
        &before,
        &mut after,
        &actor,
        TicketAuditAction::Assigned,
        &request.reason,
        now,
    )
    .await?;
    publish_assigned(
        &txn,
        tenant,
        &before,
        &after,
        reason,
        strategy_used,
        &actor,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(after)
}

/// An agent may only take an unassigned ticket of one of their teams for
/// themselves.
fn check_self_assignment(
    context: &CallContext,
    ticket: &Ticket,
    user: &User,
    team: Option<&Team>,
) -> Result<()> {
    let denied = |why: &str| {
        TicketsError::PermissionDenied(format!(
            "an agent may only assign an unassigned ticket of their team to themselves: {why}"
        ))
    };
    if me(context).as_deref() != Some(user.name.as_str()) {
        return Err(denied("the assignee is someone else"));
    }
    if !ticket.assignee.is_empty() {
        return Err(denied("the ticket is assigned already"));
    }
    match team {
        Some(team) if team.name == ticket.team && rules::is_member(team, user) => Ok(()),
        _ => Err(denied("the ticket is not in one of your teams")),
    }
}

// --- EscalateTicket -----------------------------------------------------------

async fn escalate(shared: &Shared, request: Request<EscalateTicketRequest>) -> Result<Ticket> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    if !works_tickets(&context) {
        return Err(TicketsError::PermissionDenied(
            "escalating tickets needs an agent, supervisor, manager or admin".into(),
        ));
    }
    if request.reason.trim().is_empty() {
        return Err(TicketsError::invalid("reason", "reason is required"));
    }
    at_most(&request.reason, MAX_REASON, "reason")?;
    at_most(&request.handling, MAX_REASON, "handling")?;
    if !request.to_team.is_empty() && kefu_kit::resource::id_in(&request.to_team, "teams").is_none()
    {
        return Err(TicketsError::invalid(
            "to_team",
            "to_team must be teams/{team}",
        ));
    }
    if !request.to_assignee.is_empty()
        && kefu_kit::resource::id_in(&request.to_assignee, "users").is_none()
    {
        return Err(TicketsError::invalid(
            "to_assignee",
            "to_assignee must be users/{user}",
        ));
    }
    let requested_tier = TicketSupportTier::try_from(request.to_tier).unwrap_or_default();

    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let before =
        store::tickets::load_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    refuse_done(&before, "escalated")?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let current = rules::tier_of(before.tier);
    let named = !request.to_team.is_empty() || !request.to_assignee.is_empty();
    let tier = match rules::escalation_tier(current, requested_tier, named) {
        Ok(tier) => tier,
        Err(EscalationRefusal::AlreadyTopTier) => {
            return Err(TicketsError::FailedPrecondition(
                format!(
                    "{} is at the MANAGEMENT tier: there is no tier above it",
                    before.name
                ),
                "ALREADY_TOP_TIER",
            ));
        }
        Err(EscalationRefusal::Downward) => {
            return Err(TicketsError::invalid(
                "to_tier",
                format!(
                    "to_tier must be above the ticket's tier {}",
                    current.as_str_name()
                ),
            ));
        }
    };
    let mut after = before.clone();
    after.tier = tier as i32;

    let named_user = if request.to_assignee.is_empty() {
        None
    } else {
        Some(active_user(&txn, tenant, &request.to_assignee, "to_assignee").await?)
    };
    let team = if !request.to_team.is_empty() {
        let team = known_team(&txn, tenant, &request.to_team, "to_team").await?;
        if let Some(user) = &named_user
            && !rules::is_member(&team, user)
        {
            return Err(TicketsError::invalid(
                "to_assignee",
                format!("{} is not a member of {}", user.name, team.name),
            ));
        }
        Some(team)
    } else if let Some(user) = &named_user {
        let teams = store::directory::teams(&txn, tenant).await?;
        let routed = team_for_tier(&txn, tenant, &before, tier).await?;
        match routed.filter(|team| rules::is_member(team, user)) {
            Some(team) => Some(team),
            None => rules::team_of_user(user, None, &teams)
                .and_then(|name| teams.into_iter().find(|team| team.name == name)),
        }
    } else {
        Some(
            team_for_tier(&txn, tenant, &before, tier)
                .await?
                .ok_or_else(|| no_team_for_tier(tier, &before.name))?,
        )
    };
    if let Some(team) = &team {
        rules::move_to_team(&mut after, team);
    }
    let (assignee, strategy_used) = match (&named_user, &team) {
        (Some(user), _) => (user.name.clone(), TicketAssignmentStrategy::Unspecified),
        // The receiving team's own strategy; nobody present: its queue.
        (None, Some(team)) => pick_by_team_default(&txn, tenant, &after, team, now).await?,
        (None, None) => (String::new(), TicketAssignmentStrategy::Unspecified),
    };
    after.assignee = assignee;
    let record = TicketEscalation {
        from_tier: current as i32,
        to_tier: tier as i32,
        from_team: before.team.clone(),
        to_team: after.team.clone(),
        from_assignee: before.assignee.clone(),
        to_assignee: after.assignee.clone(),
        reason: request.reason.clone(),
        handling: request.handling.clone(),
        trigger: TicketEscalationTrigger::Manual as i32,
        actor: Some(actor.clone()),
        escalate_time: Some(kefu_kit::events::to_timestamp(now)),
    };
    after.escalations.push(record);
    store::tickets::save_change(
        &txn,
        tenant,
        &before,
        &mut after,
        &actor,
        TicketAuditAction::Escalated,
        &request.reason,
        now,
    )
    .await?;
    let event = TicketEscalated {
        ticket: after.name.clone(),
        context: Some(event_context(&after)),
        from_tier: current as i32,
        to_tier: tier as i32,
        from_team: before.team.clone(),
        to_team: after.team.clone(),
        from_assignee: before.assignee.clone(),
        to_assignee: after.assignee.clone(),
        reason: request.reason.clone(),
        handling: request.handling.clone(),
        trigger: TicketEscalationTrigger::Manual as i32,
        actor: Some(actor.clone()),
    };
    append_event(&txn, tenant, after.name.clone(), &event, now).await?;
    publish_assigned(
        &txn,
        tenant,
        &before,
        &after,
        TicketAssignmentReason::Escalation,
        strategy_used,
        &actor,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(after)
}

// --- SetTicketPriority --------------------------------------------------------

async fn set_priority(
    shared: &Shared,
    request: Request<SetTicketPriorityRequest>,
) -> Result<Ticket> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    if !supervises(&context) {
        return Err(needs_supervisor("changing a ticket's priority"));
    }
    let priority = Priority::try_from(request.priority).unwrap_or_default();
    if priority == Priority::Unspecified {
        return Err(TicketsError::invalid("priority", "priority is required"));
    }
    at_most(&request.reason, MAX_REASON, "reason")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let before =
        store::tickets::load_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    refuse_closed(&before, "reprioritised")?;
    if before.priority == priority as i32 {
        txn.commit().await?;
        return Ok(before);
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut after = before.clone();
    after.priority = priority as i32;
    save_reprioritised(
        &txn,
        tenant,
        &before,
        &mut after,
        &actor,
        TicketAuditAction::PriorityChanged,
        &request.reason,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(after)
}

// --- TriageTicket -------------------------------------------------------------

async fn triage(shared: &Shared, request: Request<TriageTicketRequest>) -> Result<Ticket> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    if !supervises(&context) {
        return Err(needs_supervisor("triaging a ticket"));
    }
    let class = TriageClass::try_from(request.triage_class).unwrap_or_default();
    if class == TriageClass::Unspecified {
        return Err(TicketsError::invalid(
            "triage_class",
            "triage_class is required",
        ));
    }
    let priority = Priority::try_from(request.priority).unwrap_or_default();
    at_most(&request.reason, MAX_REASON, "reason")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let before =
        store::tickets::load_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    refuse_done(&before, "triaged")?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut after = before.clone();
    after.triage_class = class as i32;
    after.priority = rules::triaged_priority(class, priority, before.priority);
    if !request.kind.is_empty() || !request.category.is_empty() {
        let kind = if request.kind.is_empty() {
            before.kind.clone()
        } else {
            request.kind.clone()
        };
        // A new kind without a category named keeps no category of the
        // old kind that the new one does not allow.
        let category = if request.category.is_empty() {
            before.category.clone()
        } else {
            request.category.clone()
        };
        let (kind_found, category_found) = match store::taxonomy::check_kind_and_category(
            &txn, tenant, &kind, &category, "kind", "category",
        )
        .await
        {
            Err(TicketsError::Invalid(_, Some("CATEGORY_KIND_MISMATCH")))
                if request.category.is_empty() =>
            {
                store::taxonomy::check_kind_and_category(
                    &txn, tenant, &kind, "", "kind", "category",
                )
                .await?
            }
            other => other?,
        };
        after.kind = kind_found.name.clone();
        after.base_kind = kind_found.base_kind;
        after.category = category_found
            .as_ref()
            .map(|category| category.name.clone())
            .unwrap_or_default();
        let skills = category_found
            .as_ref()
            .and_then(|category| category.routing.as_ref())
            .map(|routing| routing.required_skills.clone())
            .filter(|skills| !skills.is_empty())
            .or_else(|| {
                kind_found
                    .routing
                    .as_ref()
                    .map(|routing| routing.required_skills.clone())
            })
            .unwrap_or_default();
        if after.kind != before.kind || after.category != before.category {
            after.required_skills = skills;
        }
    }
    let mut strategy_used = TicketAssignmentStrategy::Unspecified;
    if request.route {
        let tier = rules::tier_for_class(class);
        let team = team_for_tier(&txn, tenant, &after, tier)
            .await?
            .ok_or_else(|| no_team_for_tier(tier, &after.name))?;
        after.tier = tier as i32;
        if after.team != team.name || after.assignee.is_empty() {
            rules::move_to_team(&mut after, &team);
            let (assignee, strategy) =
                pick_by_team_default(&txn, tenant, &after, &team, now).await?;
            after.assignee = assignee;
            strategy_used = strategy;
        }
    }
    save_reprioritised(
        &txn,
        tenant,
        &before,
        &mut after,
        &actor,
        TicketAuditAction::Triaged,
        &request.reason,
        now,
    )
    .await?;
    publish_assigned(
        &txn,
        tenant,
        &before,
        &after,
        TicketAssignmentReason::Triage,
        strategy_used,
        &actor,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(after)
}
