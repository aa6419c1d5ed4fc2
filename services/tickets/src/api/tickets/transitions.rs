//! The state transitions: Open, Pend, Hold, Resume, Resolve, Close and
//! Reopen. Each checks the table of tickets.proto (ILLEGAL_TRANSITION
//! otherwise, nothing changed), records one audit entry and publishes
//! TicketStateChanged, with TicketResolved, TicketClosed or TicketReopened
//! in the same transaction.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, TenantId},
    events::{from_timestamp, to_timestamp},
};
use kefu_proto::v1::{
    Actor, CloseTicketRequest, HoldTicketRequest, OpenTicketRequest, PendTicketRequest,
    ReopenTicketRequest, ResolveTicketRequest, ResumeTicketRequest, Ticket, TicketAuditAction,
    TicketClosed, TicketComment, TicketCommentVisibility, TicketPromiseState, TicketReopened,
    TicketResolution, TicketResolutionCode, TicketResolved, TicketSlaClock, TicketSlaClockState,
    TicketStateChanged, TicketWait,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};

use super::{checks, refs};
use crate::{
    api::{
        Shared, actor_of, append_event, caller, comments,
        target::{EtagTarget, etag_targets},
    },
    domain::{
        comment as comment_rules,
        ticket::{Transition, event_context, state_of},
    },
    error::{Result, TicketsError},
    store::tickets,
};

/// What a transition carries besides the ticket.
#[derive(Debug, Clone, Default)]
struct Details {
    reason: String,
    expected_time: Option<prost_types::Timestamp>,
    code: i32,
    summary: String,
    public_reply: String,
}

/// The audit action of a transition.
fn action(transition: Transition) -> TicketAuditAction {
    match transition {
        Transition::Open => TicketAuditAction::Opened,
        Transition::Pend => TicketAuditAction::Pended,
        Transition::Hold => TicketAuditAction::Held,
        Transition::Resume => TicketAuditAction::Resumed,
        Transition::Resolve => TicketAuditAction::Resolved,
        Transition::Close => TicketAuditAction::Closed,
        Transition::Reopen => TicketAuditAction::Reopened,
    }
}

/// Whether the promise was kept by `now` (a resolution through the ticket
/// or through its incident).
pub(crate) fn promise_outcome(ticket: &mut Ticket, now: DateTime<Utc>) {
    if let Some(promise) = ticket.customer_promise.as_mut()
        && promise.state == TicketPromiseState::Open as i32
    {
        let kept = promise
            .deadline
            .as_ref()
            .and_then(from_timestamp)
            .is_none_or(|deadline| now <= deadline);
        promise.state = if kept {
            TicketPromiseState::Kept
        } else {
            TicketPromiseState::Missed
        } as i32;
    }
}

/// Applies `transition` to `after` (a copy of the stored ticket) at `now`.
async fn apply(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    transition: Transition,
    after: &mut Ticket,
    details: &Details,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let from = state_of(after);
    if !transition.allowed_from(from) {
        return Err(TicketsError::illegal_transition(format!(
            "{} cannot move {} from {}",
            transition.method(),
            after.name,
            from.as_str_name()
        )));
    }
    after.state = transition.target() as i32;
    match transition {
        Transition::Open => {}
        Transition::Pend | Transition::Hold => {
            after.wait = Some(TicketWait {
                reason: details.reason.clone(),
                expected_time: details.expected_time,
                start_time: Some(to_timestamp(now)),
                actor: Some(actor.clone()),
            });
        }
        Transition::Resume => after.wait = None,
        Transition::Resolve => {
            refs::check_resolve_fields(txn, tenant, after).await?;
            after.wait = None;
            after.resolution = Some(TicketResolution {
                code: details.code,
                summary: details.summary.clone(),
                resolved_by: Some(actor.clone()),
                incident: String::new(),
            });
            after.resolve_time = Some(to_timestamp(now));
            after.close_time = None;
            let window = refs::reopen_window(txn, tenant).await?;
            after.reopen_deadline = Some(to_timestamp(now + window));
            promise_outcome(after, now);
        }
        Transition::Close => after.close_time = Some(to_timestamp(now)),
        Transition::Reopen => {
            let deadline = after.reopen_deadline.as_ref().and_then(from_timestamp);
            if deadline.is_none_or(|deadline| now > deadline) {
                return Err(TicketsError::FailedPrecondition(
                    format!(
                        "the reopen window of {} has passed: create a follow-up ticket with parent_ticket instead",
                        after.name
                    ),
                    "REOPEN_WINDOW_EXPIRED",
                ));
            }
            after.reopen_count += 1;
            after.resolution = None;
            after.resolve_time = None;
            after.close_time = None;
            after.reopen_deadline = None;
            after.wait = None;
        }
    }
    Ok(())
}

/// Runs `transition` on ticket `name` for the caller: load (etag checked),
/// apply, move the clocks, save with one audit entry, publish.
async fn run(
    shared: &Shared,
    context: &CallContext,
    tenant: TenantId,
    name: &str,
    etag: &str,
    transition: Transition,
    details: Details,
) -> Result<Ticket> {
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let actor = actor_of(&txn, tenant, context).await?;
    let ticket = change_state(&txn, tenant, name, etag, transition, details, &actor, now).await?;
    shared.commit(txn).await?;
    Ok(ticket)
}

/// The transition inside the caller's transaction, for callers other than
/// the API methods too (the auto-close scan).
#[allow(clippy::too_many_arguments)]
async fn change_state(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    etag: &str,
    transition: Transition,
    details: Details,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Ticket> {
    let mut before = tickets::load_for_change(txn, tenant, name, "name", etag).await?;
    if !details.public_reply.is_empty() {
        // The reply goes out in the same transaction, before the ticket
        // moves (an illegal move sends nothing: the transaction rolls back).
        let from = state_of(&before);
        if !transition.allowed_from(from) {
            return Err(TicketsError::illegal_transition(format!(
                "{} cannot move {} from {}",
                transition.method(),
                before.name,
                from.as_str_name()
            )));
        }
        let mut comment = TicketComment {
            visibility: TicketCommentVisibility::Public as i32,
            body: details.public_reply.clone(),
            ..TicketComment::default()
        };
        let author = comment_rules::prepare(&mut comment, before.channel)?;
        let (_, replied) =
            comments::add_comment(txn, tenant, before, comment, author, actor, "", now).await?;
        before = replied;
    }
    let audit_reason = details.reason.clone();
    let change = Change {
        transition,
        details,
        audit_reason: &audit_reason,
        auto_closed: false,
    };
    move_ticket(txn, tenant, &before, &change, actor, now).await
}

/// One move of a ticket, as recorded and published.
struct Change<'a> {
    transition: Transition,
    details: Details,
    /// The reason of the audit entry.
    audit_reason: &'a str,
    /// Whether the system closed the ticket after the tenant's delay.
    auto_closed: bool,
}

/// Moves `before` (read with `load_for_change`) as `change` says: applies
/// the transition, moves the clocks, saves with one audit entry and
/// publishes, inside the caller's transaction.
async fn move_ticket(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    change: &Change<'_>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Ticket> {
    let mut after = before.clone();
    apply(
        txn,
        tenant,
        change.transition,
        &mut after,
        &change.details,
        actor,
        now,
    )
    .await?;
    refs::follow_clocks(txn, tenant, before, &mut after, now).await?;
    tickets::save_change(
        txn,
        tenant,
        before,
        &mut after,
        actor,
        action(change.transition),
        change.audit_reason,
        now,
    )
    .await?;
    publish(
        txn,
        tenant,
        before,
        &after,
        change.transition,
        &change.details,
        actor,
        change.auto_closed,
        now,
    )
    .await?;
    Ok(after)
}

/// Closes a RESOLVED ticket whose auto-close delay has passed, as the
/// system (TicketClosed with `auto_closed`).
pub(crate) async fn auto_close(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Ticket> {
    let change = Change {
        transition: Transition::Close,
        details: Details::default(),
        audit_reason: "auto-close after the tenant's delay",
        auto_closed: true,
    };
    move_ticket(txn, tenant, before, &change, actor, now).await
}

/// TicketResolved for `after` just resolved, as its resolution says; the
/// references a resolution through the ticket leaves empty.
pub(crate) fn resolved_event(
    after: &Ticket,
    code: i32,
    summary: &str,
    resolved_by: Option<Actor>,
) -> TicketResolved {
    let clock_state = |clock: Option<&TicketSlaClock>| {
        clock.map_or(TicketSlaClockState::Unspecified as i32, |clock| clock.state)
    };
    TicketResolved {
        ticket: after.name.clone(),
        context: Some(event_context(after)),
        subject: after.subject.clone(),
        resolution_code: code,
        resolution_summary: summary.to_owned(),
        resolved_by,
        resolve_time: after.resolve_time,
        first_response_time: after.first_response_time,
        first_response_sla_state: clock_state(after.first_response_sla.as_ref()),
        first_response_elapsed: after
            .first_response_sla
            .as_ref()
            .and_then(|clock| clock.elapsed),
        resolution_sla_state: clock_state(after.resolution_sla.as_ref()),
        resolution_elapsed: after
            .resolution_sla
            .as_ref()
            .and_then(|clock| clock.elapsed),
        promise_state: after
            .customer_promise
            .as_ref()
            .map_or(0, |promise| promise.state),
        reopen_count: after.reopen_count,
        ..TicketResolved::default()
    }
}

/// The events of a transition.
#[allow(clippy::too_many_arguments)]
async fn publish(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    after: &Ticket,
    transition: Transition,
    details: &Details,
    actor: &Actor,
    auto_closed: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let context = event_context(after);
    let changed = TicketStateChanged {
        ticket: after.name.clone(),
        context: Some(context.clone()),
        from_state: before.state,
        to_state: after.state,
        actor: Some(actor.clone()),
        reason: details.reason.clone(),
        expected_time: details.expected_time,
    };
    append_event(txn, tenant, &after.name, &changed, now).await?;
    match transition {
        Transition::Resolve => {
            let event = resolved_event(after, details.code, &details.summary, Some(actor.clone()));
            append_event(txn, tenant, &after.name, &event, now).await?;
        }
        Transition::Close => {
            let event = TicketClosed {
                ticket: after.name.clone(),
                context: Some(context),
                resolve_time: after.resolve_time,
                close_time: after.close_time,
                auto_closed,
                actor: Some(actor.clone()),
            };
            append_event(txn, tenant, &after.name, &event, now).await?;
        }
        Transition::Reopen => {
            let event = TicketReopened {
                ticket: after.name.clone(),
                context: Some(context),
                reason: details.reason.clone(),
                from_state: before.state,
                previous_resolve_time: before.resolve_time,
                reopen_count: after.reopen_count,
                actor: Some(actor.clone()),
            };
            append_event(txn, tenant, &after.name, &event, now).await?;
        }
        _ => {}
    }
    Ok(())
}

etag_targets!(
    OpenTicketRequest,
    PendTicketRequest,
    HoldTicketRequest,
    ResumeTicketRequest,
    ResolveTicketRequest,
    CloseTicketRequest,
    ReopenTicketRequest,
);

/// A transition method: the caller, the details `details` checks and reads
/// from the request (at the service's time), then [`run`].
async fn transition_method<R: EtagTarget>(
    shared: &Shared,
    request: Request<R>,
    transition: Transition,
    details: impl FnOnce(R, DateTime<Utc>) -> Result<Details>,
) -> Result<Response<Ticket>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let (name, etag) = (request.name().to_owned(), request.etag().to_owned());
    let details = details(request, shared.now())?;
    let ticket = run(shared, &context, tenant, &name, &etag, transition, details).await?;
    Ok(Response::new(ticket))
}

/// `OpenTicket`: NEW → OPEN.
pub(crate) async fn open_ticket(
    shared: &Shared,
    request: Request<OpenTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    transition_method(shared, request, Transition::Open, |_, _| {
        Ok(Details::default())
    })
    .await
}

/// The reason and expected time of a wait, checked.
fn wait_details(
    reason: String,
    expected_time: Option<prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Result<Details> {
    checks::required_text(&reason, 500, "reason")?;
    checks::future(expected_time.as_ref(), now, "expected_time")?;
    Ok(Details {
        reason,
        expected_time,
        ..Details::default()
    })
}

/// `PendTicket`: → PENDING (waiting on the customer).
pub(crate) async fn pend_ticket(
    shared: &Shared,
    request: Request<PendTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    transition_method(shared, request, Transition::Pend, |request, now| {
        wait_details(request.reason, request.expected_time, now)
    })
    .await
}

/// `HoldTicket`: → ON_HOLD (waiting on a third party).
pub(crate) async fn hold_ticket(
    shared: &Shared,
    request: Request<HoldTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    transition_method(shared, request, Transition::Hold, |request, now| {
        wait_details(request.reason, request.expected_time, now)
    })
    .await
}

/// `ResumeTicket`: PENDING or ON_HOLD → OPEN.
pub(crate) async fn resume_ticket(
    shared: &Shared,
    request: Request<ResumeTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    transition_method(shared, request, Transition::Resume, |request, _| {
        checks::at_most(&request.reason, 500, "reason")?;
        Ok(Details {
            reason: request.reason,
            ..Details::default()
        })
    })
    .await
}

/// `ResolveTicket`: → RESOLVED with a resolution code and summary.
pub(crate) async fn resolve_ticket(
    shared: &Shared,
    request: Request<ResolveTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    transition_method(shared, request, Transition::Resolve, |request, _| {
        let code = TicketResolutionCode::try_from(request.code).unwrap_or_default();
        if code == TicketResolutionCode::Unspecified {
            return Err(TicketsError::invalid("code", "code is required"));
        }
        if code == TicketResolutionCode::IncidentResolved {
            return Err(TicketsError::invalid(
                "code",
                "INCIDENT_RESOLVED is reserved for ResolveIncident",
            ));
        }
        checks::required_text(&request.summary, 2_000, "summary")?;
        checks::at_most(&request.public_reply, 32_000, "public_reply")?;
        Ok(Details {
            code: request.code,
            summary: request.summary,
            public_reply: request.public_reply,
            ..Details::default()
        })
    })
    .await
}

/// `CloseTicket`: RESOLVED → CLOSED.
pub(crate) async fn close_ticket(
    shared: &Shared,
    request: Request<CloseTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    transition_method(shared, request, Transition::Close, |_, _| {
        Ok(Details::default())
    })
    .await
}

/// `ReopenTicket`: RESOLVED or CLOSED → OPEN within the reopen window.
pub(crate) async fn reopen_ticket(
    shared: &Shared,
    request: Request<ReopenTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    transition_method(shared, request, Transition::Reopen, |request, _| {
        checks::required_text(&request.reason, 500, "reason")?;
        Ok(Details {
            reason: request.reason,
            ..Details::default()
        })
    })
    .await
}
