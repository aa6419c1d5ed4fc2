//! Tasks from the tickets events, and the tasks' side of the customers
//! events.
//!
//! [`Triggers`] schedules one task per trigger event — a ticket resolved
//! (TICKET_RESOLVED, or CAR_DELIVERY / MAINTENANCE_VISIT for the template's
//! delivery and maintenance kinds), a dispatch completed, a complaint
//! closed — with the one most specific active policy that applies, and
//! cancels the open tasks of a reopened ticket (TRIGGER_REVERSED).
//! [`TaskCustomers`] deletes an erased customer's tasks and attempts (and
//! anonymises the survey responses), and on a merge cancels the merged
//! customer's tasks the survivor already has (CUSTOMER_MERGED) and moves
//! the others to the survivor.
//!
//! Both are idempotent twice over: the inbox skips an event id seen before
//! by the group, and tasks are unique per policy and event id, so a second
//! group, replica or delivery that gets past the inbox still makes no
//! second task.

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_kit::rows::ident;
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    context::TenantId,
    db::begin_for_event,
    events::{from_timestamp, payload_as},
    inbox,
    service::{ServiceContext, ServiceSubscription},
};
use kefu_proto::v1::{
    CallbackAssignmentCause, CallbackAssignmentMode, CallbackCancelReason, CallbackTask,
    CallbackTrigger, ComplaintClosed, CustomerErased, CustomerOwnerAssigned, CustomerState,
    CustomersMerged, DispatchCompleted, EventEnvelope, TicketReopened, TicketResolved,
    UserDeactivated,
};
use prost::Name;
use sea_orm::{
    ConnectionTrait, DatabaseTransaction,
    sea_query::{Expr, ExprTrait, Query},
};

use crate::{
    api::tasks::{
        active_policies, assign, cancel_task, customer_of, pick_in_team, policy_of, schedule,
        system_actor, with_customer_values,
    },
    domain::{
        assignment,
        task::{self, Trigger, TriggerFacts},
    },
    error::{CallbacksError, Result},
    store::{self, customers::KnownCustomer, tasks},
};

/// The consumer group scheduling tasks from the tickets events.
pub const GROUP: &str = "callbacks.triggers";

/// The render-context key of a dispatch task's technician (`users/{user}`).
pub const TECHNICIAN_KEY: &str = "_dispatch.technician";

/// The consumer group applying the customers events to tasks.
pub const CUSTOMERS_GROUP: &str = "callbacks.task_customers";

/// The subscription scheduling tasks from the tickets service's events.
pub fn subscription(context: &ServiceContext) -> ServiceSubscription {
    ServiceSubscription {
        group: GROUP.to_owned(),
        producers: vec!["tickets".to_owned()],
        handler: Arc::new(Triggers::new(GROUP, context)),
    }
}

/// The consumer group moving tasks when their assignee leaves or the
/// customer's owner changes.
pub const REASSIGN_GROUP: &str = "callbacks.task_reassign";

/// The subscription moving the tasks of deactivated agents and of
/// customers whose owner changed.
pub fn reassign_subscription(context: &ServiceContext) -> ServiceSubscription {
    ServiceSubscription {
        group: REASSIGN_GROUP.to_owned(),
        producers: vec!["tenants".to_owned(), "customers".to_owned()],
        handler: Arc::new(Reassignments::new(REASSIGN_GROUP, context)),
    }
}

/// The subscription applying erasures and merges to tasks.
pub fn customers_subscription(context: &ServiceContext) -> ServiceSubscription {
    ServiceSubscription {
        group: CUSTOMERS_GROUP.to_owned(),
        producers: vec!["customers".to_owned()],
        handler: Arc::new(TaskCustomers::new(CUSTOMERS_GROUP, context)),
    }
}

fn tenant_of(event: &EventEnvelope) -> Result<TenantId> {
    event
        .tenant_id
        .parse::<TenantId>()
        .map_err(|error| CallbacksError::Internal(format!("event {} tenant: {error}", event.id)))
}

fn time_of(timestamp: Option<&prost_types::Timestamp>, fallback: DateTime<Utc>) -> DateTime<Utc> {
    timestamp.and_then(from_timestamp).unwrap_or(fallback)
}

fn rfc3339(timestamp: Option<&prost_types::Timestamp>) -> String {
    timestamp
        .and_then(from_timestamp)
        .map(|time| time.to_rfc3339())
        .unwrap_or_default()
}

/// What a trigger event owes, before the policy is chosen.
struct Owed {
    triggers: &'static [CallbackTrigger],
    ticket_kind: String,
    ticket_categories: Vec<String>,
    source: String,
    time: DateTime<Utc>,
    customer: String,
    subject: String,
    related_ticket: String,
    related_dispatch: String,
    related_complaint: String,
    render_values: BTreeMap<String, String>,
}

fn values(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(field, value)| ((*field).to_owned(), value.clone()))
        .collect()
}

/// What `event` owes, if it is a trigger event (a time the payload lacks
/// is the event's, else `now`).
fn owed(event: &EventEnvelope, now: DateTime<Utc>) -> Option<Owed> {
    let fallback = time_of(event.occurred_at.as_ref(), now);
    if event.r#type == TicketResolved::full_name() {
        let resolved = payload_as::<TicketResolved>(event)?;
        let context = resolved.context.clone().unwrap_or_default();
        // Policies name kinds and categories by key: the last segment of
        // `ticketKinds/{kind}` and `ticketCategories/{category}`.
        let key = |name: &str| name.rsplit('/').next().unwrap_or_default().to_owned();
        let kind = key(&context.kind);
        let mut categories = context.category_path.clone();
        if !context.category.is_empty() {
            categories.push(key(&context.category));
        }
        return Some(Owed {
            triggers: &[
                CallbackTrigger::TicketResolved,
                CallbackTrigger::CarDelivery,
                CallbackTrigger::MaintenanceVisit,
            ],
            ticket_kind: kind.clone(),
            ticket_categories: categories,
            source: resolved.ticket.clone(),
            time: time_of(resolved.resolve_time.as_ref(), fallback),
            customer: context.customer.clone(),
            subject: resolved.subject.clone(),
            related_ticket: resolved.ticket.clone(),
            related_dispatch: String::new(),
            related_complaint: resolved.complaint.clone(),
            render_values: values(&[
                ("ticket.subject", resolved.subject.clone()),
                ("ticket.kind", kind),
                ("ticket.category", key(&context.category)),
                ("ticket.created_date", rfc3339(context.create_time.as_ref())),
                (
                    "ticket.resolved_date",
                    rfc3339(resolved.resolve_time.as_ref()),
                ),
            ]),
        });
    }
    if event.r#type == DispatchCompleted::full_name() {
        let completed = payload_as::<DispatchCompleted>(event)?;
        // Another visit is queued: the work is not finished, the callback
        // follows the last visit.
        if completed.follow_up_required {
            return None;
        }
        let service_type = kefu_proto::v1::ServiceType::try_from(completed.service_type)
            .map(|kind| kind.as_str_name().to_owned())
            .unwrap_or_default();
        return Some(Owed {
            triggers: &[CallbackTrigger::DispatchCompleted],
            ticket_kind: String::new(),
            ticket_categories: Vec::new(),
            source: completed.dispatch.clone(),
            time: time_of(completed.work_end_time.as_ref(), fallback),
            customer: completed.customer.clone(),
            subject: completed.product_model.clone(),
            related_ticket: completed.ticket.clone(),
            related_dispatch: completed.dispatch.clone(),
            related_complaint: String::new(),
            render_values: values(&[
                (
                    "dispatch.technician_name",
                    completed.technician_display_name.clone(),
                ),
                // Not a script field: whose on-site work the survey rates
                // (SurveyResponseRecorded.related_technician).
                (TECHNICIAN_KEY, completed.technician.clone()),
                ("dispatch.service_type", service_type),
                ("dispatch.product_model", completed.product_model.clone()),
                (
                    "dispatch.completed_date",
                    rfc3339(completed.work_end_time.as_ref()),
                ),
            ]),
        });
    }
    if event.r#type == ComplaintClosed::full_name() {
        let closed = payload_as::<ComplaintClosed>(event)?;
        return Some(Owed {
            triggers: &[CallbackTrigger::ComplaintClosed],
            ticket_kind: String::new(),
            ticket_categories: Vec::new(),
            source: closed.complaint.clone(),
            time: time_of(closed.close_time.as_ref(), fallback),
            customer: closed.customer.clone(),
            subject: closed.subject.clone(),
            related_ticket: closed.ticket.clone(),
            related_dispatch: String::new(),
            related_complaint: closed.complaint.clone(),
            render_values: values(&[
                ("complaint.subject", closed.subject.clone()),
                (
                    "complaint.registered_date",
                    rfc3339(closed.register_time.as_ref()),
                ),
                ("complaint.closed_date", rfc3339(closed.close_time.as_ref())),
            ]),
        });
    }
    None
}

/// Schedules the task `owed` by event `event_id`, if a policy applies and
/// the customer may be called; the task, or None.
async fn schedule_owed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    event_id: &str,
    owed: Owed,
    now: DateTime<Utc>,
) -> Result<Option<CallbackTask>> {
    if owed.customer.is_empty() {
        return Ok(None);
    }
    // A merged customer is called as the survivor; an erased one never.
    let customer = store::customers::find_live(txn, tenant, &owed.customer).await?;
    if customer
        .as_ref()
        .is_some_and(|customer| customer.state == CustomerState::Erased)
    {
        return Ok(None);
    }
    let customer_name = customer
        .as_ref()
        .map(|customer| customer.name.clone())
        .unwrap_or_else(|| owed.customer.clone());
    let facts = TriggerFacts {
        ticket_kind: owed.ticket_kind.clone(),
        ticket_categories: owed.ticket_categories.clone(),
        member: customer.as_ref().is_some_and(|customer| customer.member),
        segments: customer
            .as_ref()
            .map(|customer| customer.segments.clone())
            .unwrap_or_default(),
    };
    let mut policies = Vec::new();
    for trigger in owed.triggers {
        policies.extend(active_policies(txn, tenant, *trigger).await?);
    }
    // Oldest first across the triggers: the tie-break.
    policies.sort_by(|left, right| {
        let key = |policy: &kefu_proto::v1::CallbackPolicy| {
            (
                policy.create_time.as_ref().and_then(from_timestamp),
                policy.name.clone(),
            )
        };
        key(left).cmp(&key(right))
    });
    let Some(policy) = task::most_specific(&policies, &facts).cloned() else {
        return Ok(None);
    };
    let trigger = Trigger {
        trigger: policy.trigger(),
        policy,
        event_id: event_id.to_owned(),
        source: owed.source,
        time: owed.time,
        customer: customer_name,
        subject: owed.subject,
        related_ticket: owed.related_ticket,
        related_dispatch: owed.related_dispatch,
        related_complaint: owed.related_complaint,
        campaign: String::new(),
        script: String::new(),
        assignee: String::new(),
        due_start: None,
        due_end: None,
        appointment: None,
        render_values: owed.render_values,
        creator: system_actor(),
    };
    schedule(txn, tenant, trigger, now).await
}

/// Cancels the open tasks a resolution of `ticket` made (TRIGGER_REVERSED);
/// returns how many.
async fn reverse(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let prefilter = tasks::Prefilter {
        related_ticket: Some(ticket.to_owned()),
        states: tasks::OPEN_STATES.to_vec(),
        ..tasks::Prefilter::default()
    };
    let mut cancelled = 0;
    for found in tasks::list(txn, tenant, &prefilter).await? {
        // Only the resolution's tasks: a dispatch's or a complaint's stays.
        if found.trigger_source != ticket {
            continue;
        }
        let before = tasks::find_for_change(txn, tenant, &found.name, "name", "").await?;
        if !task::is_open(before.state) {
            continue;
        }
        let note = if reason.is_empty() {
            "the ticket was reopened".to_owned()
        } else {
            format!("the ticket was reopened: {reason}")
        };
        cancel_task(
            txn,
            tenant,
            &before,
            CallbackCancelReason::TriggerReversed,
            &note,
            &system_actor(),
            now,
        )
        .await?;
        cancelled += 1;
    }
    Ok(cancelled)
}

/// Schedules tasks from the tickets events.
pub struct Triggers {
    group: String,
    context: ServiceContext,
}

impl Triggers {
    /// The handler of consumer group `group`.
    pub fn new(group: &str, context: &ServiceContext) -> Self {
        Self {
            group: group.to_owned(),
            context: context.clone(),
        }
    }

    /// Applies one event (anything but a trigger or a reopen is ignored).
    pub async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if event.tenant_id.is_empty() {
            return Ok(());
        }
        let reopened = (event.r#type == TicketReopened::full_name())
            .then(|| payload_as::<TicketReopened>(event))
            .flatten();
        let now = self.context.now();
        let owed = if reopened.is_none() {
            owed(event, now)
        } else {
            None
        };
        if reopened.is_none() && owed.is_none() {
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let txn = begin_for_event(&self.context.db, event).await?;
        if !inbox::claim(&txn, &self.group, event, now).await? {
            return Ok(());
        }
        if let Some(reopened) = reopened {
            reverse(&txn, tenant, &reopened.ticket, &reopened.reason, now).await?;
        } else if let Some(owed) = owed {
            schedule_owed(&txn, tenant, &event.id, owed, now).await?;
        }
        self.context.commit(txn).await?;
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Triggers {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}

/// Applies erasures and merges of customers to their tasks.
pub struct TaskCustomers {
    group: String,
    context: ServiceContext,
}

impl TaskCustomers {
    /// The handler of consumer group `group`.
    pub fn new(group: &str, context: &ServiceContext) -> Self {
        Self {
            group: group.to_owned(),
            context: context.clone(),
        }
    }

    /// Applies one event (anything but an erasure or a merge is ignored).
    pub async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if event.tenant_id.is_empty() {
            return Ok(());
        }
        let erased = (event.r#type == CustomerErased::full_name())
            .then(|| payload_as::<CustomerErased>(event))
            .flatten();
        let merged = (event.r#type == CustomersMerged::full_name())
            .then(|| payload_as::<CustomersMerged>(event))
            .flatten();
        if erased.is_none() && merged.is_none() {
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let now = self.context.now();
        let txn = begin_for_event(&self.context.db, event).await?;
        if !inbox::claim(&txn, &self.group, event, now).await? {
            return Ok(());
        }
        if let Some(erased) = erased {
            let at = event
                .occurred_at
                .as_ref()
                .and_then(from_timestamp)
                .unwrap_or(now);
            erase(&txn, tenant, &erased.customer, at).await?;
        }
        if let Some(merged) = merged {
            merge(&txn, tenant, &merged, now).await?;
        }
        self.context.commit(txn).await?;
        Ok(())
    }
}

#[async_trait]
impl EventHandler for TaskCustomers {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}

/// Erases `customer` (at `at`, the event's time) from the callbacks: the
/// tasks and attempts deleted, the survey responses anonymised, the SMS
/// replies matched to those tasks deleted — and the copy of the customer
/// tombstoned in the same transaction (the customers group does it too, on
/// its own time), so a trigger handled in between finds the customer
/// erased and schedules nothing.
async fn erase(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    store::customers::erase(txn, tenant, customer, at).await?;
    let erased_tasks = tasks::erase_customer(txn, tenant, customer).await?;
    store::responses::anonymise_customer(txn, tenant, customer).await?;
    // Texts the customer sent that answered nothing usable belong to
    // no response: they go with the tasks they were matched to.
    store::sms::erase_for_tasks(txn, tenant, &erased_tasks).await?;
    Ok(())
}

/// The merged customer's open tasks: those whose policy the survivor
/// already has an open task of are cancelled (CUSTOMER_MERGED: the
/// survivor's remains); the others now call the survivor.
async fn merge(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    merged: &CustomersMerged,
    now: DateTime<Utc>,
) -> Result<()> {
    let open = |customer: &str| tasks::Prefilter {
        customer: Some(customer.to_owned()),
        states: tasks::OPEN_STATES.to_vec(),
        ..tasks::Prefilter::default()
    };
    let survivors = tasks::list(txn, tenant, &open(&merged.survivor)).await?;
    let survivor: Option<KnownCustomer> = customer_of(txn, tenant, &merged.survivor).await?;
    for found in tasks::list(txn, tenant, &open(&merged.merged)).await? {
        let before = tasks::find_for_change(txn, tenant, &found.name, "name", "").await?;
        if !task::is_open(before.state) {
            continue;
        }
        if survivors.iter().any(|task| task.policy == before.policy) {
            cancel_task(
                txn,
                tenant,
                &before,
                CallbackCancelReason::CustomerMerged,
                &format!("{} was merged into {}", merged.merged, merged.survivor),
                &system_actor(),
                now,
            )
            .await?;
        } else {
            let mut after = before.clone();
            after.customer = merged.survivor.clone();
            after.customer_is_member = merged.survivor_member;
            if let Some(survivor) = &survivor {
                after.customer_display_name = survivor.display_name.clone();
                let phone = if survivor.phone.is_empty() {
                    &survivor.mobile
                } else {
                    &survivor.phone
                };
                if !phone.is_empty() {
                    after.contact_phone = phone.clone();
                }
            }
            tasks::save(txn, tenant, &before, &mut after, now).await?;
            // The script greets the survivor, not the merged record.
            if let Some(mut values) = tasks::render_context(txn, tenant, &after.name).await? {
                with_customer_values(&mut values, survivor.as_ref(), &after.contact_phone);
                replace_render_context(txn, tenant, &after.name, &values).await?;
            }
        }
    }
    Ok(())
}

/// Replaces the values task `name`'s script renders (a merge moved it to
/// another customer).
async fn replace_render_context(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    values: &BTreeMap<String, String>,
) -> Result<()> {
    let id = tasks::id_of(name)
        .ok_or_else(|| CallbacksError::Internal(format!("stored task named {name}")))?;
    let bytes = serde_json::to_vec(values)
        .map_err(|error| CallbacksError::Internal(format!("render context: {error}")))?;
    let statement = Query::update()
        .table(ident("callback_tasks"))
        .value(ident("render_context"), bytes)
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    txn.execute(&statement).await?;
    Ok(())
}

/// Moves open tasks when their assignee is deactivated (to the successor,
/// or spread again over the successor team or the task's team:
/// ASSIGNEE_DEACTIVATED) or when the customer's owner changes (a task that
/// followed the owner goes to the new one: OWNER_CHANGED).
pub struct Reassignments {
    group: String,
    context: ServiceContext,
}

impl Reassignments {
    /// The handler of consumer group `group`.
    pub fn new(group: &str, context: &ServiceContext) -> Self {
        Self {
            group: group.to_owned(),
            context: context.clone(),
        }
    }

    /// Applies one event (anything but a deactivation or an owner change
    /// is ignored).
    pub async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if event.tenant_id.is_empty() {
            return Ok(());
        }
        let deactivated = (event.r#type == UserDeactivated::full_name())
            .then(|| payload_as::<UserDeactivated>(event))
            .flatten();
        let owner = (event.r#type == CustomerOwnerAssigned::full_name())
            .then(|| payload_as::<CustomerOwnerAssigned>(event))
            .flatten();
        if deactivated.is_none() && owner.is_none() {
            return Ok(());
        }
        let tenant = tenant_of(event)?;
        let now = self.context.now();
        let txn = begin_for_event(&self.context.db, event).await?;
        if !inbox::claim(&txn, &self.group, event, now).await? {
            return Ok(());
        }
        if let Some(deactivated) = deactivated {
            away_from(&txn, tenant, &deactivated, now).await?;
        }
        if let Some(owner) = owner {
            follow_owner(&txn, tenant, &owner, now).await?;
        }
        self.context.commit(txn).await?;
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Reassignments {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}

/// The open tasks of `tenant` matching `prefilter`, each read for change
/// and still open.
async fn open_tasks(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    prefilter: tasks::Prefilter,
) -> Result<Vec<CallbackTask>> {
    let prefilter = tasks::Prefilter {
        states: tasks::OPEN_STATES.to_vec(),
        ..prefilter
    };
    let mut found = Vec::new();
    for listed in tasks::list(txn, tenant, &prefilter).await? {
        let task = tasks::find_for_change(txn, tenant, &listed.name, "name", "").await?;
        if task::is_open(task.state) {
            found.push(task);
        }
    }
    Ok(found)
}

/// Moves the open tasks of a deactivated agent.
async fn away_from(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    deactivated: &UserDeactivated,
    now: DateTime<Utc>,
) -> Result<()> {
    let held = open_tasks(
        txn,
        tenant,
        tasks::Prefilter {
            assignee: Some(deactivated.user.clone()),
            ..tasks::Prefilter::default()
        },
    )
    .await?;
    for before in held {
        let (assignee, team) = if deactivated.successor.starts_with("users/") {
            (Some(deactivated.successor.clone()), before.team.clone())
        } else {
            let team = if deactivated.successor.starts_with("teams/") {
                deactivated.successor.clone()
            } else {
                before.team.clone()
            };
            let picked =
                pick_in_team(txn, tenant, &before, &team, Some(&deactivated.user), now).await?;
            (picked, team)
        };
        // Nobody to take it: it stays, visible in the team's queue.
        let Some(assignee) = assignee else {
            continue;
        };
        assign(
            txn,
            tenant,
            &before,
            &assignee,
            &team,
            CallbackAssignmentCause::AssigneeDeactivated,
            &format!("{} was deactivated", deactivated.user),
            &system_actor(),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Who takes `task`, which followed its customer's owner, now that the
/// owner is `new_owner`: the new owner when they take tasks; else (an
/// inactive or away owner) the agent the task's team gives it to, if any.
async fn owner_successor(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &CallbackTask,
    new_owner: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let takes_tasks = kefu_tenants::replica::user(txn, tenant, new_owner)
        .await?
        .is_some_and(|user| assignment::takes_tasks(&user));
    if takes_tasks {
        return Ok(Some(new_owner.to_owned()));
    }
    pick_in_team(txn, tenant, task, &task.team, None, now).await
}

/// Gives the new owner the open tasks of `owner.customer` that followed
/// the previous owner under a CUSTOMER_OWNER policy.
async fn follow_owner(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    owner: &CustomerOwnerAssigned,
    now: DateTime<Utc>,
) -> Result<()> {
    if owner.new_owner.is_empty() || owner.previous_owner.is_empty() {
        return Ok(());
    }
    let open = open_tasks(
        txn,
        tenant,
        tasks::Prefilter {
            customer: Some(owner.customer.clone()),
            assignee: Some(owner.previous_owner.clone()),
            ..tasks::Prefilter::default()
        },
    )
    .await?;
    for before in open {
        let follows_owner = policy_of(txn, tenant, &before.policy)
            .await?
            .and_then(|policy| policy.assignment)
            .is_some_and(|assignment| assignment.mode() == CallbackAssignmentMode::CustomerOwner);
        if !follows_owner {
            continue;
        }
        let team = before.team.clone();
        // Nobody to take it: it stays, visible in the team's queue.
        let Some(assignee) = owner_successor(txn, tenant, &before, &owner.new_owner, now).await?
        else {
            continue;
        };
        assign(
            txn,
            tenant,
            &before,
            &assignee,
            &team,
            CallbackAssignmentCause::OwnerChanged,
            &owner.reason,
            &system_actor(),
            now,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use kefu_kit::events::{new_event, to_timestamp};
    use kefu_proto::v1::TicketEventContext;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0)
            .single()
            .expect("a time")
    }

    #[test]
    fn a_resolution_owes_by_kind_and_category_keys() {
        let resolved = TicketResolved {
            ticket: "tickets/t1".into(),
            context: Some(TicketEventContext {
                kind: "ticketKinds/sales-delivery".into(),
                category: "ticketCategories/new-car".into(),
                category_path: vec!["sales".into()],
                customer: "customers/c1".into(),
                create_time: Some(to_timestamp(at(1))),
                ..TicketEventContext::default()
            }),
            subject: "2026款 轿车交付".into(),
            resolve_time: Some(to_timestamp(at(3))),
            ..TicketResolved::default()
        };
        let event = new_event("tickets", None, "tickets/t1", &resolved, at(4));
        let owed = owed(&event, at(5)).expect("a trigger");
        assert_eq!(owed.ticket_kind, "sales-delivery");
        assert_eq!(owed.ticket_categories, vec!["sales", "new-car"]);
        assert_eq!(owed.time, at(3));
        assert_eq!(owed.customer, "customers/c1");
        assert_eq!(owed.related_ticket, "tickets/t1");
        assert!(owed.triggers.contains(&CallbackTrigger::CarDelivery));
        assert_eq!(
            owed.render_values.get("ticket.subject").map(String::as_str),
            Some("2026款 轿车交付")
        );
        assert_eq!(
            owed.render_values.get("ticket.kind").map(String::as_str),
            Some("sales-delivery")
        );
    }

    #[test]
    fn a_dispatch_with_another_visit_queued_owes_nothing_yet() {
        let mut completed = DispatchCompleted {
            dispatch: "serviceRequests/s1/dispatches/d1".into(),
            ticket: "tickets/t1".into(),
            customer: "customers/c1".into(),
            technician_display_name: "李师傅".into(),
            work_end_time: Some(to_timestamp(at(2))),
            follow_up_required: true,
            ..DispatchCompleted::default()
        };
        let event = new_event("tickets", None, "d1", &completed, at(3));
        assert!(owed(&event, at(3)).is_none());
        completed.follow_up_required = false;
        let event = new_event("tickets", None, "d1", &completed, at(3));
        let owed = owed(&event, at(3)).expect("a trigger");
        assert_eq!(owed.triggers, &[CallbackTrigger::DispatchCompleted]);
        assert_eq!(owed.source, "serviceRequests/s1/dispatches/d1");
        assert_eq!(owed.related_dispatch, "serviceRequests/s1/dispatches/d1");
        assert_eq!(owed.time, at(2));
        assert_eq!(
            owed.render_values
                .get("dispatch.technician_name")
                .map(String::as_str),
            Some("李师傅")
        );
    }

    async fn new_owner_away(backend: kefu_kit::testing::Backend) {
        use kefu_kit::{db::begin_for_tenant, testing::TestDatabase};
        use kefu_proto::v1::{Team, User, UserAvailability, UserState};
        let Some(database) = TestDatabase::new(backend, "callbacks").await else {
            return;
        };
        let tenant = TenantId::new();
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let user = |name: &str, availability: UserAvailability| User {
            name: name.into(),
            state: UserState::Active as i32,
            availability: availability as i32,
            teams: vec!["teams/care".into()],
            ..User::default()
        };
        for agent in [
            user("users/away", UserAvailability::Away),
            user("users/on", UserAvailability::Present),
        ] {
            kefu_tenants::replica::save_user(&txn, tenant, &agent)
                .await
                .expect("user");
        }
        let team = Team {
            name: "teams/care".into(),
            ..Team::default()
        };
        kefu_tenants::replica::save_team(&txn, tenant, &team.name, Some(&team), None)
            .await
            .expect("team");
        let task = CallbackTask {
            name: "callbackTasks/0190d2a4-0000-7000-8000-000000000001".into(),
            team: "teams/care".into(),
            assignee: "users/old-owner".into(),
            ..CallbackTask::default()
        };
        let picked = owner_successor(&txn, tenant, &task, "users/away", at(1))
            .await
            .expect("successor");
        assert_eq!(
            picked.as_deref(),
            Some("users/on"),
            "an away owner is skipped"
        );
        let picked = owner_successor(&txn, tenant, &task, "users/on", at(1))
            .await
            .expect("successor");
        assert_eq!(picked.as_deref(), Some("users/on"));
        txn.commit().await.expect("commit");
    }

    async fn erasure_tombstones_the_copy(backend: kefu_kit::testing::Backend) {
        use kefu_kit::{db::begin_for_tenant, testing::TestDatabase};
        let Some(database) = TestDatabase::new(backend, "callbacks").await else {
            return;
        };
        let tenant = TenantId::new();
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        let wang = KnownCustomer {
            display_name: "王芳".into(),
            mobile: "+8613800138000".into(),
            ..KnownCustomer::new("customers/wang")
        };
        store::customers::save(&txn, tenant, &wang, at(1))
            .await
            .expect("copy");
        erase(&txn, tenant, &wang.name, at(2)).await.expect("erase");
        let copy = store::customers::find(&txn, tenant, &wang.name)
            .await
            .expect("find")
            .expect("a tombstone");
        txn.commit().await.expect("commit");
        assert_eq!(
            copy.state,
            CustomerState::Erased,
            "a trigger after the tasks' erasure finds the customer erased"
        );
        assert!(copy.display_name.is_empty() && copy.mobile.is_empty());
    }

    #[tokio::test]
    async fn erasing_the_tasks_tombstones_the_copy_on_sqlite() {
        erasure_tombstones_the_copy(kefu_kit::testing::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn erasing_the_tasks_tombstones_the_copy_on_postgres() {
        erasure_tombstones_the_copy(kefu_kit::testing::Backend::Postgres).await;
    }

    #[tokio::test]
    async fn a_new_owner_away_does_not_get_the_task_on_sqlite() {
        new_owner_away(kefu_kit::testing::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_new_owner_away_does_not_get_the_task_on_postgres() {
        new_owner_away(kefu_kit::testing::Backend::Postgres).await;
    }

    #[test]
    fn a_closed_complaint_owes_its_callback_and_other_events_nothing() {
        let closed = ComplaintClosed {
            complaint: "complaints/k1".into(),
            ticket: "tickets/t1".into(),
            customer: "customers/c1".into(),
            subject: "送货延迟".into(),
            ..ComplaintClosed::default()
        };
        let event = new_event("tickets", None, "complaints/k1", &closed, at(6));
        let owed = owed(&event, at(7)).expect("a trigger");
        assert_eq!(owed.triggers, &[CallbackTrigger::ComplaintClosed]);
        assert_eq!(owed.related_complaint, "complaints/k1");
        assert_eq!(
            owed.time,
            at(6),
            "the event's time when the close time is unset"
        );
        let reopened = TicketReopened::default();
        let event = new_event("tickets", None, "tickets/t1", &reopened, at(6));
        assert!(super::owed(&event, at(7)).is_none());
    }
}
