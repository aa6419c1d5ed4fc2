//! The resolution of one linked ticket by its incident's resolution: the
//! same change `ResolveTicket` makes (RESOLVED, the resolution with code
//! INCIDENT_RESOLVED and the incident named, the reopen deadline, the
//! promise's outcome, the clocks stopped), recorded with one audit entry
//! naming the incident and published as TicketStateChanged and
//! TicketResolved (so each customer gets a return visit).

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, events::to_timestamp};
use kefu_proto::v1::{
    Actor, Ticket, TicketAuditAction, TicketResolution, TicketResolved, TicketState,
    TicketStateChanged,
};
use sea_orm::DatabaseTransaction;

use super::super::append_event;
use crate::{
    api::tickets::{promise_outcome, resolved_event},
    domain::{
        custom_fields::{self, When},
        ticket::event_context,
    },
    error::{Result, TicketsError},
    store::{self, taxonomy, tickets},
};

/// FAILED_PRECONDITION `REQUIRED_FIELD_MISSING` naming the ticket and the
/// field when its kind requires a field on resolve that is empty.
async fn check_resolve_fields(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
) -> Result<()> {
    let Some(kind) = taxonomy::kind(txn, tenant, &ticket.kind).await? else {
        return Ok(());
    };
    let definitions = taxonomy::field_definitions(txn, tenant).await?;
    custom_fields::validate(&definitions, &kind, &ticket.custom_fields, When::OnResolve).map_err(
        |error| match error {
            TicketsError::FailedPrecondition(message, reason) => {
                TicketsError::FailedPrecondition(format!("{}: {message}", ticket.name), reason)
            }
            TicketsError::Invalid(violation, reason) => TicketsError::FailedPrecondition(
                format!("{}: {}", ticket.name, violation.description),
                reason.unwrap_or("REQUIRED_FIELD_MISSING"),
            ),
            other => other,
        },
    )
}

/// Resolves `before` (read with `load_for_change`, neither RESOLVED nor
/// CLOSED) with `resolution`, as `actor` did it through the incident.
pub(super) async fn resolve_linked(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: Ticket,
    resolution: TicketResolution,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Ticket> {
    check_resolve_fields(txn, tenant, &before).await?;
    let mut after = before.clone();
    after.state = TicketState::Resolved as i32;
    after.wait = None;
    after.resolution = Some(resolution.clone());
    after.resolve_time = Some(to_timestamp(now));
    after.close_time = None;
    after.reopen_deadline = Some(to_timestamp(
        now + crate::api::tickets::refs::reopen_window(txn, tenant).await?,
    ));
    promise_outcome(&mut after, now);
    store::sla::apply(txn, tenant, Some(&before), &mut after, now).await?;
    tickets::save_change_related(
        txn,
        tenant,
        &before,
        &mut after,
        actor,
        TicketAuditAction::Resolved,
        &resolution.summary,
        &resolution.incident,
        now,
    )
    .await?;
    let context = event_context(&after);
    let changed = TicketStateChanged {
        ticket: after.name.clone(),
        context: Some(context),
        from_state: before.state,
        to_state: after.state,
        actor: Some(actor.clone()),
        reason: resolution.summary.clone(),
        expected_time: None,
    };
    append_event(txn, tenant, &after.name, &changed, now).await?;
    let resolved = TicketResolved {
        escalation_count: i32::try_from(after.escalations.len()).unwrap_or(i32::MAX),
        complaint: after.complaint.clone(),
        service_request: after.service_request.clone(),
        parent_ticket: after.parent_ticket.clone(),
        source_callback_task: after.source_callback_task.clone(),
        ..resolved_event(
            &after,
            resolution.code,
            &resolution.summary,
            resolution.resolved_by.clone(),
        )
    };
    append_event(txn, tenant, &after.name, &resolved, now).await?;
    Ok(after)
}
