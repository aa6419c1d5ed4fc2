//! The payloads of the complaint events both the handlers and the overdue
//! scan publish.

use kefu_proto::v1::{Complaint, ComplaintEscalated, ComplaintEscalation, ComplaintOverdue};

/// The responsible department once judged.
pub fn department(complaint: &Complaint) -> String {
    complaint
        .judgement
        .as_ref()
        .map(|judgement| judgement.responsible_department.clone())
        .unwrap_or_default()
}

/// ComplaintEscalated for `escalation` of `complaint`.
pub fn escalated(complaint: &Complaint, escalation: &ComplaintEscalation) -> ComplaintEscalated {
    ComplaintEscalated {
        complaint: complaint.name.clone(),
        ticket: complaint.ticket.clone(),
        customer: complaint.customer.clone(),
        trigger: escalation.trigger,
        level: escalation.level,
        notified_users: escalation.notified_users.clone(),
        stage: complaint.stage,
        severity: complaint.severity,
        deadline_time: complaint.deadline_time,
        reason: escalation.reason.clone(),
        escalated_by: escalation.escalated_by.clone(),
    }
}

/// ComplaintOverdue of `complaint`.
pub fn overdue(complaint: &Complaint) -> ComplaintOverdue {
    ComplaintOverdue {
        complaint: complaint.name.clone(),
        ticket: complaint.ticket.clone(),
        stage: complaint.stage,
        owner: complaint.owner.clone(),
        responsible_department: department(complaint),
        deadline_time: complaint.deadline_time,
    }
}
