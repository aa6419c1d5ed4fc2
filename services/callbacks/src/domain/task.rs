//! Callback tasks: what a trigger owes (one task of one policy for one
//! customer), the task's states and their legal moves.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kefu_proto::v1::{Actor, CallbackPolicy, CallbackTrigger};

/// A return visit owed: one task of `policy` for `customer`, unique per
/// policy and `event_id` (a trigger delivered twice, or seen by two
/// replicas, makes one task).
#[derive(Debug, Clone)]
pub struct Trigger {
    /// The policy the task follows (its window, channel, assignment,
    /// retries, script and survey).
    pub policy: CallbackPolicy,
    /// What made it owed (MANUAL for a task created by hand).
    pub trigger: CallbackTrigger,
    /// The triggering event's id (bus envelope id), a partner's id, or
    /// `campaigns/{campaign}/customers/{customer}` for a campaign.
    pub event_id: String,
    /// What caused it: `tickets/{ticket}`, a dispatch, a complaint, a
    /// campaign, or a partner's reference.
    pub source: String,
    /// When the trigger happened.
    pub time: DateTime<Utc>,
    /// The customer to call (`customers/{customer}`).
    pub customer: String,
    /// What the callback is about (`task.subject`).
    pub subject: String,
    /// The related ticket (`tickets/{ticket}`), if any.
    pub related_ticket: String,
    /// The related dispatch, if any.
    pub related_dispatch: String,
    /// The related complaint, if any.
    pub related_complaint: String,
    /// The campaign scheduling it (`campaigns/{campaign}`), if any.
    pub campaign: String,
    /// A script overriding the policy's (a campaign's), if any.
    pub script: String,
    /// The assignee asked for on create, if any (else the policy's
    /// assignment).
    pub assignee: String,
    /// Given due window start (on create), else computed from the policy.
    pub due_start: Option<DateTime<Utc>>,
    /// Given due window end (on create; a campaign's period end), else the
    /// trigger time plus the policy's due window.
    pub due_end: Option<DateTime<Utc>>,
    /// An appointment given on create, if any.
    pub appointment: Option<DateTime<Utc>>,
    /// Values the script renders that only the trigger knows
    /// (`ticket.subject`, `dispatch.technician_name`, …), by field.
    pub render_values: BTreeMap<String, String>,
    /// Who made it (the system for events and campaigns).
    pub creator: Actor,
}
