//! The events of the complaint workflow (complaints_events.proto), built
//! from the complaint as it is after the change and appended to the outbox
//! under the subject `complaints/{complaint}`.

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, events::to_timestamp};
use kefu_proto::v1::{
    Actor, Complaint, ComplaintClosed, ComplaintEscalation, ComplaintExecutionRecorded,
    ComplaintRegistered, ComplaintStage, ComplaintStageChanged, Money, Proposal,
};
use sea_orm::DatabaseTransaction;

use super::super::append_event;
use crate::error::Result;

use crate::domain::complaint::events::{self as payloads, department};

/// ComplaintRegistered.
pub async fn registered(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    complaint: &Complaint,
    now: DateTime<Utc>,
) -> Result<()> {
    let registration = complaint.registration.clone().unwrap_or_default();
    let event = ComplaintRegistered {
        complaint: complaint.name.clone(),
        number: complaint.number.clone(),
        ticket: complaint.ticket.clone(),
        customer: complaint.customer.clone(),
        channel: registration.channel,
        severity: complaint.severity,
        subject: complaint.subject.clone(),
        complaint_time: registration.complaint_time,
        deadline_time: complaint.deadline_time,
        registered_by: registration.registered_by,
    };
    append_event(txn, tenant, complaint.name.clone(), &event, now).await
}

/// ComplaintStageChanged from `from` to the complaint's stage.
pub async fn stage_changed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    complaint: &Complaint,
    from: ComplaintStage,
    to: ComplaintStage,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let event = ComplaintStageChanged {
        complaint: complaint.name.clone(),
        ticket: complaint.ticket.clone(),
        from_stage: from as i32,
        to_stage: to as i32,
        round: complaint.round,
        responsible_department: department(complaint),
        actor: Some(actor.clone()),
    };
    append_event(txn, tenant, complaint.name.clone(), &event, now).await
}

/// ComplaintEscalated for `escalation`.
pub async fn escalated(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    complaint: &Complaint,
    escalation: &ComplaintEscalation,
    now: DateTime<Utc>,
) -> Result<()> {
    let event = payloads::escalated(complaint, escalation);
    append_event(txn, tenant, complaint.name.clone(), &event, now).await
}

/// ComplaintExecutionRecorded for the latest execution of `proposal`.
pub async fn execution_recorded(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    complaint: &Complaint,
    proposal: &Proposal,
    now: DateTime<Utc>,
) -> Result<()> {
    let execution = complaint
        .executions
        .iter()
        .rev()
        .find(|execution| execution.proposal == proposal.name)
        .cloned()
        .unwrap_or_default();
    let event = ComplaintExecutionRecorded {
        complaint: complaint.name.clone(),
        proposal: proposal.name.clone(),
        round: proposal.round,
        remedy_types: proposal
            .remedies
            .iter()
            .map(|remedy| remedy.r#type)
            .collect(),
        total_amount: proposal.total_amount.clone(),
        executed_by: execution.executed_by,
        execution_time: execution.execution_time,
        acceptance_recorded: execution.acceptance.is_some(),
        accepted: execution
            .acceptance
            .as_ref()
            .is_some_and(|acceptance| acceptance.accepted),
    };
    append_event(txn, tenant, complaint.name.clone(), &event, now).await
}

/// ComplaintClosed (closed or rejected); `remedy_amount` is the accepted
/// proposal's total.
pub async fn closed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    complaint: &Complaint,
    remedy_amount: Option<Money>,
    now: DateTime<Utc>,
) -> Result<()> {
    let investigation = complaint.investigation.clone().unwrap_or_default();
    let summary = complaint.summary.clone().unwrap_or_default();
    let registration = complaint.registration.clone().unwrap_or_default();
    let event = ComplaintClosed {
        complaint: complaint.name.clone(),
        ticket: complaint.ticket.clone(),
        customer: complaint.customer.clone(),
        final_stage: complaint.stage,
        classification: investigation.classification,
        non_quality_subcategory: investigation.non_quality_subcategory,
        responsible_department: department(complaint),
        root_cause_category: summary.root_cause_category,
        severity: complaint.severity,
        channel: registration.channel,
        rounds: complaint.round,
        remedy_amount,
        register_time: complaint.create_time,
        close_time: complaint.close_time.or_else(|| Some(to_timestamp(now))),
        within_deadline: complaint.closed_within_deadline,
        subject: complaint.subject.clone(),
        closed_by: complaint.closed_by.clone(),
        number: complaint.number.clone(),
        improvement_measure: summary.improvement_measure,
        preventive_action_owner: summary.preventive_action_owner,
        preventive_action_due_date: summary.preventive_action_due_date,
        tracking_required: summary.tracking_required,
        owner: complaint.owner.clone(),
        deadline_time: complaint.deadline_time,
    };
    append_event(txn, tenant, complaint.name.clone(), &event, now).await
}
