//! Callback tasks: what a trigger owes (one task of one policy for one
//! customer), the task's states and their legal moves.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{
    Actor, CallbackCancelReason, CallbackEscalation, CallbackEscalationReason, CallbackPolicy,
    CallbackTask, CallbackTaskCancelled, CallbackTaskOverdue, CallbackTaskScheduled,
    CallbackTaskState, CallbackTrigger,
};

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

/// The default due window when neither the policy nor the tenant sets one
/// (the seeds' "within 3 days", 三天之内回访).
pub const DEFAULT_DUE_WINDOW: chrono::Duration = chrono::Duration::days(3);

/// Whether a task in `state` is still owed (PENDING, IN_PROGRESS, OVERDUE).
pub fn is_open(state: i32) -> bool {
    matches!(
        CallbackTaskState::try_from(state),
        Ok(CallbackTaskState::Pending | CallbackTaskState::InProgress | CallbackTaskState::Overdue)
    )
}

/// Why a task cannot change: it has ended (DONE, FAILED, CANCELLED).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the callback task is {0} and can no longer change")]
pub struct Ended(pub &'static str);

fn ended(task: &CallbackTask) -> Result<(), Ended> {
    if is_open(task.state) {
        Ok(())
    } else {
        Err(Ended(
            CallbackTaskState::try_from(task.state)
                .map(|state| state.as_str_name())
                .unwrap_or("ended"),
        ))
    }
}

/// `task` cancelled at `now` for `reason` with `note`.
pub fn cancel(
    task: &CallbackTask,
    reason: CallbackCancelReason,
    note: &str,
    now: DateTime<Utc>,
) -> Result<CallbackTask, Ended> {
    ended(task)?;
    let mut after = task.clone();
    after.state = CallbackTaskState::Cancelled as i32;
    after.cancel_reason = reason as i32;
    after.cancel_note = note.to_owned();
    after.end_time = Some(to_timestamp(now));
    after.next_call_time = None;
    Ok(after)
}

/// Whether `task` is overdue at `now`: open (PENDING or IN_PROGRESS) past
/// its due end, and past its appointment when one is set (an appointment
/// after the window holds it off until then).
pub fn is_overdue_at(task: &CallbackTask, now: DateTime<Utc>) -> bool {
    let open = matches!(
        CallbackTaskState::try_from(task.state),
        Ok(CallbackTaskState::Pending | CallbackTaskState::InProgress)
    );
    let past = |time: Option<&prost_types::Timestamp>| {
        time.and_then(kefu_kit::events::from_timestamp)
            .is_some_and(|time| time < now)
    };
    open && past(task.due_end.as_ref())
        && task
            .appointment_time
            .as_ref()
            .is_none_or(|appointment| past(Some(appointment)))
}

/// `task` turned OVERDUE at `now` and escalated to `escalated_to`; None
/// when it is not overdue (someone else already moved it).
pub fn mark_overdue(
    task: &CallbackTask,
    escalated_to: Vec<String>,
    now: DateTime<Utc>,
) -> Option<CallbackTask> {
    if !is_overdue_at(task, now) {
        return None;
    }
    let mut after = task.clone();
    after.state = CallbackTaskState::Overdue as i32;
    after.escalations.push(CallbackEscalation {
        reason: CallbackEscalationReason::Overdue as i32,
        escalate_time: Some(to_timestamp(now)),
        escalated_to,
    });
    Some(after)
}

/// The CallbackTaskScheduled event of a new task.
pub fn scheduled_event(task: &CallbackTask) -> CallbackTaskScheduled {
    CallbackTaskScheduled {
        callback_task: task.name.clone(),
        policy: task.policy.clone(),
        campaign: task.campaign.clone(),
        trigger: task.trigger,
        trigger_source: task.trigger_source.clone(),
        trigger_event_id: task.trigger_event_id.clone(),
        trigger_time: task.trigger_time,
        customer: task.customer.clone(),
        customer_is_member: task.customer_is_member,
        related_ticket: task.related_ticket.clone(),
        related_dispatch: task.related_dispatch.clone(),
        related_complaint: task.related_complaint.clone(),
        assignee: task.assignee.clone(),
        team: task.team.clone(),
        channel: task.channel,
        due_start: task.due_start,
        due_end: task.due_end,
        appointment_time: task.appointment_time,
        creator: task.creator.clone(),
    }
}

/// The CallbackTaskCancelled event of a cancelled task.
pub fn cancelled_event(task: &CallbackTask, actor: &Actor) -> CallbackTaskCancelled {
    CallbackTaskCancelled {
        callback_task: task.name.clone(),
        policy: task.policy.clone(),
        campaign: task.campaign.clone(),
        customer: task.customer.clone(),
        assignee: task.assignee.clone(),
        reason: task.cancel_reason,
        note: task.cancel_note.clone(),
        actor: Some(actor.clone()),
    }
}

/// The CallbackTaskOverdue event of a task just turned OVERDUE.
pub fn overdue_event(task: &CallbackTask) -> CallbackTaskOverdue {
    CallbackTaskOverdue {
        callback_task: task.name.clone(),
        policy: task.policy.clone(),
        campaign: task.campaign.clone(),
        customer: task.customer.clone(),
        customer_is_member: task.customer_is_member,
        assignee: task.assignee.clone(),
        team: task.team.clone(),
        due_end: task.due_end,
        attempt_count: task.attempt_count,
        last_outcome: task
            .latest_attempt
            .as_ref()
            .map(|attempt| attempt.outcome)
            .unwrap_or_default(),
        escalated_to: task
            .escalations
            .last()
            .map(|escalation| escalation.escalated_to.clone())
            .unwrap_or_default(),
    }
}

/// What a trigger event tells about the matter and the customer, for
/// choosing the policy.
#[derive(Debug, Clone, Default)]
pub struct TriggerFacts {
    /// The ticket kind key (`repair`), empty when the event has none.
    pub ticket_kind: String,
    /// The ticket category key and its ancestors' keys.
    pub ticket_categories: Vec<String>,
    /// Whether the customer is a member (会员).
    pub member: bool,
    /// The customer's segments (`segments/{segment}`).
    pub segments: Vec<String>,
}

/// The ticket kinds a CAR_DELIVERY or MAINTENANCE_VISIT policy without
/// kinds applies to: the industry templates' delivery kinds (keys naming a
/// delivery, such as `sales-delivery`) and maintenance kinds
/// (`maintenance-repair`).
pub fn template_marks(trigger: CallbackTrigger, kind: &str) -> bool {
    match trigger {
        CallbackTrigger::CarDelivery => kind.contains("delivery"),
        CallbackTrigger::MaintenanceVisit => kind.contains("maintenance"),
        _ => false,
    }
}

/// Whether `policy` applies to an event with `facts`: every criterion it
/// sets holds.
pub fn applies(policy: &CallbackPolicy, facts: &TriggerFacts) -> bool {
    let filter = policy.trigger_filter.clone().unwrap_or_default();
    let trigger = policy.trigger();
    let by_ticket = matches!(
        trigger,
        CallbackTrigger::TicketResolved
            | CallbackTrigger::CarDelivery
            | CallbackTrigger::MaintenanceVisit
    );
    if by_ticket {
        let kind_ok = if filter.ticket_kinds.is_empty() {
            trigger == CallbackTrigger::TicketResolved
                || template_marks(trigger, &facts.ticket_kind)
        } else {
            filter.ticket_kinds.contains(&facts.ticket_kind)
        };
        if !kind_ok {
            return false;
        }
        if !filter.ticket_categories.is_empty()
            && !facts
                .ticket_categories
                .iter()
                .any(|category| filter.ticket_categories.contains(category))
        {
            return false;
        }
    }
    if filter.members_only && !facts.member {
        return false;
    }
    filter.customer_segment.is_empty() || facts.segments.contains(&filter.customer_segment)
}

/// The one policy of `policies` (active, oldest first) that schedules a
/// task for an event with `facts`: of those that apply, one with ticket
/// kinds (its own, or the template's for a delivery or maintenance policy)
/// beats one without, then one with categories beats one without, then the
/// oldest wins. So one trigger never makes two callbacks.
pub fn most_specific<'a>(
    policies: &'a [CallbackPolicy],
    facts: &TriggerFacts,
) -> Option<&'a CallbackPolicy> {
    let rank = |policy: &CallbackPolicy| {
        let filter = policy.trigger_filter.clone().unwrap_or_default();
        let kinds = !filter.ticket_kinds.is_empty()
            || matches!(
                policy.trigger(),
                CallbackTrigger::CarDelivery | CallbackTrigger::MaintenanceVisit
            );
        (kinds, !filter.ticket_categories.is_empty())
    };
    let mut best: Option<&CallbackPolicy> = None;
    for policy in policies.iter().filter(|policy| applies(policy, facts)) {
        // Strictly better only: on a tie the earlier (older) one stays.
        if best.is_none_or(|best| rank(policy) > rank(best)) {
            best = Some(policy);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0)
            .single()
            .expect("a time")
    }

    fn task(state: CallbackTaskState, due_end: u32) -> CallbackTask {
        CallbackTask {
            name: "callbackTasks/t".into(),
            state: state as i32,
            due_end: Some(to_timestamp(at(due_end))),
            ..CallbackTask::default()
        }
    }

    #[test]
    fn open_tasks_past_their_window_turn_overdue_once() {
        let pending = task(CallbackTaskState::Pending, 10);
        assert!(mark_overdue(&pending, vec![], at(9)).is_none());
        let overdue = mark_overdue(&pending, vec!["users/boss".into()], at(11)).expect("overdue");
        assert_eq!(overdue.state, CallbackTaskState::Overdue as i32);
        assert_eq!(overdue.escalations.len(), 1);
        assert_eq!(overdue_event(&overdue).escalated_to, vec!["users/boss"]);
        // Already OVERDUE: nothing more.
        assert!(mark_overdue(&overdue, vec![], at(12)).is_none());
        assert!(mark_overdue(&task(CallbackTaskState::Done, 10), vec![], at(11)).is_none());
    }

    #[test]
    fn an_appointment_after_the_window_holds_off_overdue() {
        let mut pending = task(CallbackTaskState::Pending, 10);
        pending.appointment_time = Some(to_timestamp(at(14)));
        assert!(!is_overdue_at(&pending, at(12)));
        assert!(is_overdue_at(&pending, at(15)));
    }

    #[test]
    fn only_open_tasks_cancel() {
        let pending = task(CallbackTaskState::Pending, 10);
        let cancelled =
            cancel(&pending, CallbackCancelReason::Manual, "mistake", at(9)).expect("cancelled");
        assert_eq!(cancelled.state, CallbackTaskState::Cancelled as i32);
        assert_eq!(cancelled.cancel_note, "mistake");
        assert!(cancelled.end_time.is_some());
        assert_eq!(
            cancel(&cancelled, CallbackCancelReason::Manual, "", at(9)),
            Err(Ended("CALLBACK_TASK_STATE_CANCELLED"))
        );
    }

    fn policy(
        name: &str,
        trigger: CallbackTrigger,
        kinds: &[&str],
        categories: &[&str],
    ) -> CallbackPolicy {
        CallbackPolicy {
            name: name.into(),
            trigger: trigger as i32,
            trigger_filter: Some(kefu_proto::v1::CallbackTriggerFilter {
                ticket_kinds: kinds.iter().map(|kind| (*kind).to_owned()).collect(),
                ticket_categories: categories.iter().map(|c| (*c).to_owned()).collect(),
                ..Default::default()
            }),
            ..CallbackPolicy::default()
        }
    }

    fn resolved(kind: &str, categories: &[&str]) -> TriggerFacts {
        TriggerFacts {
            ticket_kind: kind.into(),
            ticket_categories: categories.iter().map(|c| (*c).to_owned()).collect(),
            ..TriggerFacts::default()
        }
    }

    #[test]
    fn the_most_specific_policy_wins_then_the_oldest() {
        let policies = vec![
            policy(
                "callbackPolicies/any",
                CallbackTrigger::TicketResolved,
                &[],
                &[],
            ),
            policy(
                "callbackPolicies/repair",
                CallbackTrigger::TicketResolved,
                &["repair"],
                &[],
            ),
            policy(
                "callbackPolicies/repair-ac",
                CallbackTrigger::TicketResolved,
                &["repair"],
                &["air-conditioner"],
            ),
            policy(
                "callbackPolicies/repair-2",
                CallbackTrigger::TicketResolved,
                &["repair"],
                &[],
            ),
        ];
        let pick = |facts: &TriggerFacts| most_specific(&policies, facts).map(|p| p.name.clone());
        assert_eq!(
            pick(&resolved("inquiry", &[])).as_deref(),
            Some("callbackPolicies/any")
        );
        assert_eq!(
            pick(&resolved("repair", &["tv"])).as_deref(),
            Some("callbackPolicies/repair")
        );
        assert_eq!(
            pick(&resolved("repair", &["appliances", "air-conditioner"])).as_deref(),
            Some("callbackPolicies/repair-ac")
        );
    }

    #[test]
    fn delivery_and_maintenance_policies_take_the_templates_kinds() {
        let policies = vec![
            policy(
                "callbackPolicies/any",
                CallbackTrigger::TicketResolved,
                &[],
                &[],
            ),
            policy(
                "callbackPolicies/css",
                CallbackTrigger::CarDelivery,
                &[],
                &[],
            ),
            policy(
                "callbackPolicies/service",
                CallbackTrigger::MaintenanceVisit,
                &[],
                &[],
            ),
        ];
        let pick =
            |kind: &str| most_specific(&policies, &resolved(kind, &[])).map(|p| p.name.clone());
        assert_eq!(
            pick("sales-delivery").as_deref(),
            Some("callbackPolicies/css")
        );
        assert_eq!(
            pick("maintenance-repair").as_deref(),
            Some("callbackPolicies/service")
        );
        assert_eq!(pick("inquiry").as_deref(), Some("callbackPolicies/any"));
    }

    #[test]
    fn members_only_and_segment_filters_must_hold() {
        let mut members = policy(
            "callbackPolicies/members",
            CallbackTrigger::ComplaintClosed,
            &[],
            &[],
        );
        if let Some(filter) = members.trigger_filter.as_mut() {
            filter.members_only = true;
            filter.customer_segment = "segments/vip".into();
        }
        let mut facts = TriggerFacts::default();
        assert!(!applies(&members, &facts));
        facts.member = true;
        assert!(!applies(&members, &facts));
        facts.segments = vec!["segments/vip".into()];
        assert!(applies(&members, &facts));
        assert!(most_specific(&[], &facts).is_none());
    }
}
