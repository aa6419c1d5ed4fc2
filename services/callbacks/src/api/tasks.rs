//! Callback tasks: the queues, creation by hand, reassignment, cancellation,
//! and [`schedule`], the one way a task comes to exist (triggers,
//! campaigns and CreateCallbackTask all go through it).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use kefu_kit::{
    context::{CallContext, TenantId},
    events::{from_timestamp, to_timestamp},
    filter::{self, FieldValue, Kind, OrderKey},
    idempotency,
};
use kefu_proto::v1::{
    Actor, CallbackAssignmentCause, CallbackAssignmentMode, CallbackCancelReason, CallbackPolicy,
    CallbackTask, CallbackTaskAssigned, CallbackTaskState, CallbackTrigger,
    CancelCallbackTaskRequest, Channel, CreateCallbackTaskRequest, GetCallbackTaskRequest,
    ListCallbackTasksRequest, ListCallbackTasksResponse, ReassignCallbackTaskRequest, Role, Tenant,
};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, append_event, caller, caller_user, holds, page_size, remember_request, required,
};
use crate::{
    domain::{
        assignment,
        task::{self, DEFAULT_DUE_WINDOW, Trigger},
        window::{Blocked, CallingRules},
    },
    error::{CallbacksError, Result},
    store::{self, customers::KnownCustomer, tasks},
};

/// The roles that manage other people's tasks (reassign, cancel).
const MANAGERS: &[Role] = &[Role::Supervisor, Role::Manager, Role::Admin];

/// The roles that work tasks or manage them.
const STAFF: &[Role] = &[Role::Agent, Role::Supervisor, Role::Manager, Role::Admin];

/// The roles that may read tasks.
const READERS: &[Role] = &[
    Role::Agent,
    Role::Supervisor,
    Role::Manager,
    Role::Admin,
    Role::Viewer,
];

/// The longest a due window given on create may reach ahead of now.
const MAX_WINDOW_AHEAD: Duration = Duration::days(90);

fn require(context: &CallContext, roles: &[Role], what: &str) -> Result<()> {
    if holds(context, roles) {
        Ok(())
    } else {
        Err(CallbacksError::PermissionDenied(format!(
            "your role may not {what}"
        )))
    }
}

pub(crate) use super::system_actor;

// ---------------------------------------------------------------------------
// What scheduling reads of other parts
// ---------------------------------------------------------------------------

/// The customer copy (`store::customers`, kept from the customers events).
pub(crate) async fn customer_of<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<KnownCustomer>> {
    store::customers::find(db, tenant, name).await
}

/// The policy `name` (`callbackPolicies/{id}`) of `tenant`, if it exists.
pub(crate) async fn policy_of<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<CallbackPolicy>> {
    store::policies::find(db, tenant, name).await
}

/// Every active policy of `tenant` with trigger `trigger`, oldest first
/// (the tie-break of the most specific policy).
pub(crate) async fn active_policies<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    trigger: CallbackTrigger,
) -> Result<Vec<CallbackPolicy>> {
    store::policies::active(db, tenant, trigger).await
}

/// A positive duration of the contract.
fn duration_of(duration: Option<&prost_types::Duration>) -> Option<Duration> {
    let duration = duration?;
    let total =
        Duration::seconds(duration.seconds) + Duration::nanoseconds(i64::from(duration.nanos));
    (total > Duration::zero()).then_some(total)
}

/// How long a task of `policy` may take: the policy's due window, else the
/// tenant's `callback_due_window`, else 3 days.
pub(crate) fn due_window_of(policy: &CallbackPolicy, tenant: Option<&Tenant>) -> Duration {
    duration_of(policy.due_window.as_ref())
        .or_else(|| {
            tenant
                .and_then(|tenant| tenant.settings.as_ref())
                .and_then(|settings| duration_of(settings.callback_due_window.as_ref()))
        })
        .unwrap_or(DEFAULT_DUE_WINDOW)
}

/// When `customer` may be called under `policy` in `tenant`'s calendar.
pub(crate) fn calling_rules(
    tenant: Option<&Tenant>,
    policy: &CallbackPolicy,
    customer: Option<&KnownCustomer>,
    now: DateTime<Utc>,
) -> CallingRules {
    CallingRules::new(
        tenant.and_then(|tenant| tenant.calendar.as_ref()),
        tenant
            .map(|tenant| tenant.time_zone.as_str())
            .unwrap_or_default(),
    )
    .with_calling_hours(policy.calling_hours.as_ref())
    .with_customer(
        customer.and_then(|customer| customer.contact_preferences.as_ref()),
        now,
    )
}

/// The rules of when task `task` may be called, from the tenant copy, its
/// policy and its customer's copy as they are now (for attempts and
/// appointments).
pub(crate) async fn calling_rules_of(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &CallbackTask,
    now: DateTime<Utc>,
) -> Result<CallingRules> {
    let tenant_copy = kefu_tenants::replica::tenant(txn, tenant).await?;
    let policy = policy_of(txn, tenant, &task.policy)
        .await?
        .unwrap_or_default();
    let customer = customer_of(txn, tenant, &task.customer).await?;
    Ok(calling_rules(
        tenant_copy.as_ref(),
        &policy,
        customer.as_ref(),
        now,
    ))
}

/// The agent the policy's assignment picks in `team` for `customer` (the
/// team's turn row locked until the transaction ends), never `excluded`
/// (an agent just deactivated whose copy may not say so yet), or None.
async fn pick_assignee(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    mode: CallbackAssignmentMode,
    team: &str,
    owner: Option<&str>,
    excluded: Option<&str>,
) -> Result<Option<String>> {
    let users: Vec<_> = kefu_tenants::replica::users(txn, tenant)
        .await?
        .into_iter()
        .filter(|user| Some(user.name.as_str()) != excluded)
        .collect();
    let owner_takes_tasks = owner.is_some_and(|owner| {
        users
            .iter()
            .any(|user| user.name == owner && assignment::takes_tasks(user))
    });
    let candidates = if team.is_empty() {
        Vec::new()
    } else {
        match kefu_tenants::replica::team(txn, tenant, team).await? {
            Some(team) => assignment::candidates(&team, &users),
            None => Vec::new(),
        }
    };
    let last = if team.is_empty() {
        None
    } else {
        store::assignment::last(txn, tenant, team).await?
    };
    let open = tasks::open_counts(txn, tenant, &candidates).await?;
    Ok(assignment::pick(
        mode,
        &candidates,
        &open,
        last.as_deref(),
        owner,
        owner_takes_tasks,
    ))
}

/// A local date in the tenant's zone, `YYYY-MM-DD`, for the render context.
fn local_day(rules: &CallingRules, instant: Option<&prost_types::Timestamp>) -> String {
    instant
        .and_then(from_timestamp)
        .map(|instant| {
            instant
                .with_timezone(&rules.zone())
                .date_naive()
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default()
}

/// The values the task's script renders, fixed at creation: the tenant's
/// and customer's fields, the task's, and those the trigger knows
/// (`ticket.subject`, `dispatch.technician_name`, …). Dates are local
/// dates of the tenant's zone, `YYYY-MM-DD`; the renderer formats them in
/// the render locale.
fn render_context(
    tenant: Option<&Tenant>,
    customer: Option<&KnownCustomer>,
    task: &CallbackTask,
    rules: &CallingRules,
    trigger_values: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let mut put = |field: &str, value: &str| {
        if !value.is_empty() {
            values.insert(field.to_owned(), value.to_owned());
        }
    };
    if let Some(tenant) = tenant {
        put("tenant.display_name", &tenant.display_name);
    }
    put("task.subject", &task.subject);
    put(
        "task.trigger_date",
        &local_day(rules, task.trigger_time.as_ref()),
    );
    put("task.due_date", &local_day(rules, task.due_end.as_ref()));
    for (field, value) in trigger_values {
        put(field, value);
    }
    with_customer_values(&mut values, customer, &task.contact_phone);
    values
}

/// Sets the `customer.*` values of a render context to those of
/// `customer` called at `contact_phone` (its last four digits), dropping
/// any left from another customer: at creation, and when a merge moves the
/// task to the survivor.
pub(crate) fn with_customer_values(
    values: &mut BTreeMap<String, String>,
    customer: Option<&KnownCustomer>,
    contact_phone: &str,
) {
    values.retain(|field, _| !field.starts_with("customer."));
    let mut put = |field: &str, value: &str| {
        if !value.is_empty() {
            values.insert(field.to_owned(), value.to_owned());
        }
    };
    if let Some(customer) = customer {
        put("customer.display_name", &customer.display_name);
        put("customer.family_name", &customer.family_name);
    }
    let digits: Vec<char> = contact_phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 4 {
        let last4: String = digits[digits.len() - 4..].iter().collect();
        put("customer.phone_last4", &last4);
    }
}

/// Schedules the task `trigger` owes, in `txn`: the due window from the
/// policy (out of quiet hours, holidays and the customer's do-not-disturb),
/// the assignee by the policy's assignment, CallbackTaskScheduled and
/// CallbackTaskAssigned in the outbox. None when the policy already has a
/// task for the trigger's event id (nothing written).
pub(crate) async fn schedule(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    trigger: Trigger,
    now: DateTime<Utc>,
) -> Result<Option<CallbackTask>> {
    let policy = &trigger.policy;
    // A redelivered trigger stops here, before reading anything else.
    if tasks::find_by_trigger(txn, tenant, &policy.name, &trigger.event_id)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    let tenant_copy = kefu_tenants::replica::tenant(txn, tenant).await?;
    let customer = customer_of(txn, tenant, &trigger.customer).await?;
    let rules = calling_rules(tenant_copy.as_ref(), policy, customer.as_ref(), now);
    let length = due_window_of(policy, tenant_copy.as_ref());
    let delay = duration_of(policy.start_delay.as_ref()).unwrap_or_else(Duration::zero);
    let window = match (trigger.due_start, trigger.due_end) {
        (Some(start), end) => rules.window_between(start, end.unwrap_or(start + length), now),
        (None, Some(end)) => rules.window_between(trigger.time + delay, end, now),
        (None, None) => rules.due_window(trigger.time, delay, length, now),
    };
    let assignment_mode = policy
        .assignment
        .as_ref()
        .map(|assignment| assignment.mode())
        .filter(|mode| *mode != CallbackAssignmentMode::Unspecified)
        .unwrap_or(CallbackAssignmentMode::TeamLeastLoaded);
    let team = policy
        .assignment
        .as_ref()
        .map(|assignment| assignment.team.clone())
        .unwrap_or_default();
    let assignee = if trigger.assignee.is_empty() {
        let owner = customer
            .as_ref()
            .map(|customer| customer.owner.as_str())
            .filter(|owner| !owner.is_empty());
        pick_assignee(txn, tenant, assignment_mode, &team, owner, None)
            .await?
            .unwrap_or_default()
    } else {
        trigger.assignee.clone()
    };
    let channel = match policy.channel() {
        Channel::Sms => Channel::Sms,
        _ => Channel::Phone,
    };
    let max_attempts = policy
        .retry
        .as_ref()
        .map(|retry| retry.max_attempts)
        .filter(|max| *max > 0)
        .unwrap_or(3);
    let mut task = CallbackTask {
        name: tasks::name_of(Uuid::now_v7()),
        policy: policy.name.clone(),
        campaign: trigger.campaign.clone(),
        trigger: trigger.trigger as i32,
        trigger_source: trigger.source.clone(),
        trigger_event_id: trigger.event_id.clone(),
        trigger_time: Some(to_timestamp(trigger.time)),
        subject: trigger.subject.clone(),
        customer: trigger.customer.clone(),
        customer_display_name: customer
            .as_ref()
            .map(|customer| customer.display_name.clone())
            .unwrap_or_default(),
        contact_phone: customer
            .as_ref()
            .map(|customer| {
                if customer.phone.is_empty() {
                    customer.mobile.clone()
                } else {
                    customer.phone.clone()
                }
            })
            .unwrap_or_default(),
        customer_is_member: customer.as_ref().is_some_and(|customer| customer.member),
        related_ticket: trigger.related_ticket.clone(),
        related_dispatch: trigger.related_dispatch.clone(),
        related_complaint: trigger.related_complaint.clone(),
        assignee: assignee.clone(),
        team: team.clone(),
        channel: channel as i32,
        script: if trigger.script.is_empty() {
            policy.script.clone()
        } else {
            trigger.script.clone()
        },
        survey: policy.survey.clone(),
        due_start: Some(to_timestamp(window.start)),
        due_end: Some(to_timestamp(window.end)),
        next_call_time: trigger.appointment.or(window.next_call).map(to_timestamp),
        appointment_time: trigger.appointment.map(to_timestamp),
        state: CallbackTaskState::Pending as i32,
        max_attempts,
        creator: Some(trigger.creator.clone()),
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        ..CallbackTask::default()
    };
    let context = render_context(
        tenant_copy.as_ref(),
        customer.as_ref(),
        &task,
        &rules,
        &trigger.render_values,
    );
    if !tasks::insert(txn, tenant, &mut task, &context).await? {
        return Ok(None);
    }
    append_event(
        txn,
        tenant,
        task.name.clone(),
        &task::scheduled_event(&task),
        now,
    )
    .await?;
    if !assignee.is_empty() {
        if !team.is_empty() && trigger.assignee.is_empty() {
            store::assignment::record(txn, tenant, &team, &assignee, now).await?;
        }
        let assigned = CallbackTaskAssigned {
            callback_task: task.name.clone(),
            customer: task.customer.clone(),
            assignee: assignee.clone(),
            previous_assignee: String::new(),
            team: team.clone(),
            cause: CallbackAssignmentCause::Initial as i32,
            reason: String::new(),
            due_end: task.due_end,
            actor: Some(trigger.creator.clone()),
        };
        append_event(txn, tenant, task.name.clone(), &assigned, now).await?;
    }
    if channel == Channel::Sms {
        send_survey_by_itself(txn, tenant, &mut task, &trigger.creator, now).await?;
    }
    Ok(Some(task))
}

/// The survey of an SMS policy's new task, queued to go out by itself when
/// the window opens (the SMS scan hands it to the provider). A customer who
/// cannot be texted (no mobile, no consent, a standing do-not-disturb)
/// leaves the task PENDING in the agents' queue instead: the callback is
/// still owed.
async fn send_survey_by_itself(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &mut CallbackTask,
    creator: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(survey) = super::responses::survey_of(txn, tenant, &task.survey).await? else {
        return Ok(());
    };
    let before = task.clone();
    match super::sms::queue_survey(txn, tenant, task, &survey, "", creator, now).await {
        Ok(_) => tasks::save(txn, tenant, &before, task, now).await,
        Err(CallbacksError::FailedPrecondition(why, reason)) => {
            tracing::info!(task = %task.name, reason, "SMS survey not sent by itself: {why}");
            *task = before;
            Ok(())
        }
        Err(error) => Err(error),
    }
}

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

/// The fields ListCallbackTasks filters on.
const FILTER_FIELDS: &[(&str, Kind)] = &[
    ("assignee", Kind::Text),
    ("team", Kind::Text),
    ("state", Kind::Enum("CALLBACK_TASK_STATE_")),
    ("overdue", Kind::Bool),
    ("policy", Kind::Text),
    ("campaign", Kind::Text),
    ("customer", Kind::Text),
    ("trigger", Kind::Enum("CALLBACK_TRIGGER_")),
    ("channel", Kind::Enum("CHANNEL_")),
    ("related_ticket", Kind::Text),
    ("customer_is_member", Kind::Bool),
    ("due_start", Kind::Time),
    ("due_end", Kind::Time),
    ("next_call_time", Kind::Time),
    ("appointment_time", Kind::Time),
    ("create_time", Kind::Time),
];

/// The fields ListCallbackTasks orders by.
const ORDER_FIELDS: &[&str] = &[
    "due_end",
    "due_start",
    "next_call_time",
    "appointment_time",
    "create_time",
    "update_time",
];

fn time_value(timestamp: Option<&prost_types::Timestamp>) -> Vec<FieldValue> {
    timestamp
        .and_then(from_timestamp)
        .map(FieldValue::Time)
        .into_iter()
        .collect()
}

fn enum_value(name: Option<&str>) -> Vec<FieldValue> {
    name.map(|name| FieldValue::Enum(name.to_owned()))
        .into_iter()
        .collect()
}

/// Whether `task` is overdue for the `overdue` filter, as the contract
/// says: OVERDUE, or open (PENDING, IN_PROGRESS) past its due end — even
/// with an appointment still ahead, which only holds the scan back from
/// escalating it.
fn overdue_now(task: &CallbackTask, now: DateTime<Utc>) -> bool {
    let open = matches!(
        CallbackTaskState::try_from(task.state),
        Ok(CallbackTaskState::Pending | CallbackTaskState::InProgress)
    );
    task.state == CallbackTaskState::Overdue as i32
        || open
            && task
                .due_end
                .as_ref()
                .and_then(from_timestamp)
                .is_some_and(|due_end| due_end < now)
}

/// The values of `field` of `task` for the filter.
fn field_values(task: &CallbackTask, field: &str, now: DateTime<Utc>) -> Vec<FieldValue> {
    let text = |value: &str| vec![FieldValue::Text(value.to_owned())];
    match field {
        "assignee" => text(&task.assignee),
        "team" => text(&task.team),
        "state" => enum_value(
            CallbackTaskState::try_from(task.state)
                .ok()
                .map(|state| state.as_str_name()),
        ),
        "overdue" => vec![FieldValue::Bool(overdue_now(task, now))],
        "policy" => text(&task.policy),
        "campaign" => text(&task.campaign),
        "customer" => text(&task.customer),
        "trigger" => enum_value(
            CallbackTrigger::try_from(task.trigger)
                .ok()
                .map(|trigger| trigger.as_str_name()),
        ),
        "channel" => enum_value(
            Channel::try_from(task.channel)
                .ok()
                .map(|channel| channel.as_str_name()),
        ),
        "related_ticket" => text(&task.related_ticket),
        "customer_is_member" => vec![FieldValue::Bool(task.customer_is_member)],
        "due_start" => time_value(task.due_start.as_ref()),
        "due_end" => time_value(task.due_end.as_ref()),
        "next_call_time" => time_value(task.next_call_time.as_ref()),
        "appointment_time" => time_value(task.appointment_time.as_ref()),
        "create_time" => time_value(task.create_time.as_ref()),
        _ => Vec::new(),
    }
}

/// The sort key of `field` (unset times last).
fn order_value(task: &CallbackTask, field: &str) -> (bool, Option<DateTime<Utc>>) {
    let time = match field {
        "due_start" => task.due_start.as_ref(),
        "next_call_time" => task.next_call_time.as_ref(),
        "appointment_time" => task.appointment_time.as_ref(),
        "create_time" => task.create_time.as_ref(),
        "update_time" => task.update_time.as_ref(),
        _ => task.due_end.as_ref(),
    }
    .and_then(from_timestamp);
    (time.is_none(), time)
}

/// The filter with parentheses around OR-groups dropped: OR binds tighter
/// than AND, so `a AND (b OR c)` means `a AND b OR c`, which the list's
/// filter reads. Parentheses holding an AND would change the meaning and
/// are left for the parser to refuse.
fn without_or_parentheses(text: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut group = String::new();
    let mut depth = 0;
    for character in text.chars() {
        let target = if depth > 0 { &mut group } else { &mut result };
        match (quote, character) {
            (Some(open), _) if character == open => {
                quote = None;
                target.push(character);
            }
            (Some(_), _) => target.push(character),
            (None, '"' | '\'') => {
                quote = Some(character);
                target.push(character);
            }
            (None, '(') if depth == 0 => depth = 1,
            (None, ')') if depth == 1 => {
                depth = 0;
                if group.split_whitespace().any(|word| word == "AND") {
                    result.push('(');
                    result.push_str(&group);
                    result.push(')');
                } else {
                    result.push_str(&group);
                }
                group.clear();
            }
            (None, _) => target.push(character),
        }
    }
    if depth > 0 {
        result.push('(');
        result.push_str(&group);
    }
    result
}

/// The rows a filter can only match, read in the database before the
/// filter reads the decoded tasks: each top-level AND part that is a single
/// `field = "value"` on an indexed text field narrows the read (the queue's
/// `assignee = "users/me"` reads one agent's rows). Anything else narrows
/// nothing; the filter still decides.
fn prefilter_of(text: &str, caller: Option<&str>) -> tasks::Prefilter {
    let mut prefilter = tasks::Prefilter::default();
    for part in split_and(&without_or_parentheses(text)) {
        let Some((field, value)) = part.split_once('=') else {
            continue;
        };
        let field = field.trim();
        let value = value.trim();
        if field.ends_with(['!', '<', '>']) || value.contains(char::is_whitespace) {
            continue;
        }
        let Some(value) = value
            .strip_prefix('"')
            .and_then(|value| value.strip_suffix('"'))
            .filter(|value| !value.contains('"'))
        else {
            continue;
        };
        let value = match (value, caller) {
            ("users/me", Some(user)) => user.to_owned(),
            ("users/me", None) => continue,
            (value, _) => value.to_owned(),
        };
        let slot = match field {
            "assignee" => &mut prefilter.assignee,
            "customer" => &mut prefilter.customer,
            "related_ticket" => &mut prefilter.related_ticket,
            "campaign" => &mut prefilter.campaign,
            "policy" => &mut prefilter.policy,
            _ => continue,
        };
        *slot = Some(value);
    }
    prefilter
}

/// The top-level ` AND ` parts of a filter, quotes respected.
fn split_and(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for word in text.split(' ') {
        if quote.is_none() && depth == 0 && word == "AND" {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        for character in word.chars() {
            match (quote, character) {
                (Some(open), _) if character == open => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(character),
                (None, '(') => depth += 1,
                (None, ')') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    parts.push(current);
    // A part holding an OR is no single condition.
    parts
        .into_iter()
        .filter(|part| !part.split_whitespace().any(|word| word == "OR"))
        .collect()
}

/// ListCallbackTasks.
pub(super) async fn list_callback_tasks(
    shared: &Shared,
    request: Request<ListCallbackTasksRequest>,
) -> Result<Response<ListCallbackTasksResponse>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, READERS, "read callback tasks")?;
    let request = request.into_inner();
    let size = page_size(request.page_size)?;
    let invalid = |field: &'static str| {
        move |error: filter::FilterError| CallbacksError::invalid(field, error.0)
    };
    let mut parsed = filter::parse(&without_or_parentheses(&request.filter), FILTER_FIELDS)
        .map_err(invalid("filter"))?;
    parsed
        .resolve_me(caller_user(&context).as_deref())
        .map_err(invalid("filter"))?;
    let mut order = filter::parse_order(
        &request.order_by,
        ORDER_FIELDS,
        OrderKey {
            field: "due_end",
            descending: false,
        },
    )
    .map_err(invalid("order_by"))?;
    order.push(OrderKey {
        field: "name",
        descending: false,
    });
    let offset = filter::page_offset(&request.page_token).map_err(invalid("page_token"))?;
    let now = shared.now();
    let txn = shared
        .begin_read(tenant)
        .await
        .map_err(CallbacksError::from)?;
    let prefilter = prefilter_of(&request.filter, caller_user(&context).as_deref());
    let all = tasks::list(&txn, tenant, &prefilter).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    let mut matching: Vec<CallbackTask> = all
        .into_iter()
        .filter(|task| parsed.matches(|field| field_values(task, field, now)))
        .collect();
    matching.sort_by(|left, right| {
        filter::compare(left, right, &order, |task, field| {
            if field == "name" {
                ((false, None), task.name.clone())
            } else {
                (order_value(task, field), String::new())
            }
        })
    });
    let total_size = i32::try_from(matching.len()).unwrap_or(i32::MAX);
    let (callback_tasks, next_page_token) = filter::page(matching, offset, size);
    Ok(Response::new(ListCallbackTasksResponse {
        callback_tasks,
        next_page_token,
        total_size,
    }))
}

/// GetCallbackTask.
pub(super) async fn get_callback_task(
    shared: &Shared,
    request: Request<GetCallbackTaskRequest>,
) -> Result<Response<CallbackTask>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, READERS, "read callback tasks")?;
    let name = request.into_inner().name;
    if name.is_empty() {
        return Err(CallbacksError::invalid("name", "name is required").into());
    }
    if kefu_kit::resource::id_in(&name, tasks::COLLECTION).is_none() {
        return Err(CallbacksError::invalid("name", "name must be callbackTasks/{id}").into());
    }
    let txn = shared
        .begin_read(tenant)
        .await
        .map_err(CallbacksError::from)?;
    let task = tasks::find(&txn, tenant, &name).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    Ok(Response::new(
        task.ok_or_else(|| CallbacksError::not_found(&name))?,
    ))
}

// ---------------------------------------------------------------------------
// Changes
// ---------------------------------------------------------------------------

fn at_most(value: &str, limit: usize, field: &str) -> Result<()> {
    if value.chars().count() > limit {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} is at most {limit} characters"),
        ));
    }
    Ok(())
}

/// The user `name` when it is an active user of the tenant (the copy).
async fn active_user(txn: &DatabaseTransaction, tenant: TenantId, name: &str) -> Result<bool> {
    Ok(kefu_tenants::replica::user(txn, tenant, name)
        .await?
        .is_some_and(|user| user.state == kefu_proto::v1::UserState::Active as i32))
}

/// Why an appointment given on create is refused: only the tenant's quiet
/// hours (QUIET_HOURS), as the contract says. The customer's own
/// do-not-disturb does not refuse it: the customer chose the time.
fn appointment_refused(rules: &CallingRules, appointment: DateTime<Utc>) -> Option<Blocked> {
    rules
        .blocked(appointment)
        .filter(|blocked| *blocked == Blocked::QuietHours)
}

/// The task a CreateCallbackTask with `request_id` already created, if
/// any; INVALID_ARGUMENT naming request_id when the id was used by another
/// method.
async fn replayed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: &str,
) -> Result<Option<CallbackTask>> {
    if request_id.is_empty() {
        return Ok(None);
    }
    let Some(remembered) = idempotency::recall(txn, tenant.0, request_id).await? else {
        return Ok(None);
    };
    if remembered.method != CREATE {
        return Err(CallbacksError::invalid(
            "request_id",
            format!("request_id was used for {}", remembered.method),
        ));
    }
    let task = tasks::find(txn, tenant, &remembered.resource_name)
        .await?
        .ok_or_else(|| CallbacksError::not_found(&remembered.resource_name))?;
    Ok(Some(task))
}

/// The method name remembered with a CreateCallbackTask's request id.
const CREATE: &str = "CreateCallbackTask";

/// CreateCallbackTask.
pub(super) async fn create_callback_task(
    shared: &Shared,
    request: Request<CreateCallbackTaskRequest>,
) -> Result<Response<CallbackTask>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, STAFF, "create callback tasks")?;
    let request = request.into_inner();
    let given = required(request.callback_task, "callback_task")?;
    if given.policy.is_empty() {
        return Err(
            CallbacksError::invalid("callback_task.policy", "the policy is required").into(),
        );
    }
    if given.customer.is_empty() {
        return Err(
            CallbacksError::invalid("callback_task.customer", "the customer is required").into(),
        );
    }
    at_most(&given.subject, 200, "callback_task.subject")?;
    at_most(&given.trigger_source, 256, "callback_task.trigger_source")?;
    at_most(
        &given.trigger_event_id,
        128,
        "callback_task.trigger_event_id",
    )?;
    let now = shared.now();
    // A retry is answered before the checks against the clock: by then the
    // due end or appointment it gave may have passed.
    let txn = shared.begin(tenant).await.map_err(CallbacksError::from)?;
    if let Some(task) = replayed(&txn, tenant, &request.request_id).await? {
        return Ok(Response::new(task));
    }
    let due_start = given.due_start.as_ref().and_then(from_timestamp);
    let due_end = given.due_end.as_ref().and_then(from_timestamp);
    if let Some(end) = due_end {
        if due_start.is_some_and(|start| end <= start) {
            return Err(CallbacksError::invalid(
                "callback_task.due_end",
                "due_end must be after due_start",
            )
            .into());
        }
        if end <= now || end > now + MAX_WINDOW_AHEAD {
            return Err(CallbacksError::invalid(
                "callback_task.due_end",
                "due_end must be in the next 90 days",
            )
            .into());
        }
    }
    let appointment = given.appointment_time.as_ref().and_then(from_timestamp);
    if appointment.is_some_and(|appointment| appointment <= now) {
        return Err(CallbacksError::invalid(
            "callback_task.appointment_time",
            "the appointment must be in the future",
        )
        .into());
    }
    let policy = policy_of(&txn, tenant, &given.policy)
        .await?
        .ok_or_else(|| {
            CallbacksError::invalid(
                "callback_task.policy",
                format!("{} does not exist", given.policy),
            )
        })?;
    if policy.active == Some(false) {
        return Err(CallbacksError::invalid(
            "callback_task.policy",
            format!("{} is not active", given.policy),
        )
        .into());
    }
    let customer = customer_of(&txn, tenant, &given.customer).await?;
    if !customer.as_ref().is_some_and(KnownCustomer::is_active) {
        return Err(CallbacksError::invalid(
            "callback_task.customer",
            format!("{} is not a customer of the tenant", given.customer),
        )
        .into());
    }
    if !given.assignee.is_empty() && !active_user(&txn, tenant, &given.assignee).await? {
        return Err(CallbacksError::invalid(
            "callback_task.assignee",
            format!("{} is not an active agent of the tenant", given.assignee),
        )
        .into());
    }
    if let Some(appointment) = appointment {
        let tenant_copy = kefu_tenants::replica::tenant(&txn, tenant).await?;
        let rules = calling_rules(tenant_copy.as_ref(), &policy, customer.as_ref(), now);
        if let Some(blocked) = appointment_refused(&rules, appointment) {
            return Err(CallbacksError::invalid_because(
                "callback_task.appointment_time",
                "the appointment falls in the tenant's quiet hours",
                blocked.reason(),
            )
            .into());
        }
    }
    let actor = super::actor_of(&txn, tenant, &context).await?;
    let reported = !given.trigger_event_id.is_empty() || !given.trigger_source.is_empty();
    let event_id = if !given.trigger_event_id.is_empty() {
        given.trigger_event_id.clone()
    } else if !request.request_id.is_empty() {
        format!("requests/{}", request.request_id)
    } else {
        format!("manual/{}", Uuid::now_v7())
    };
    let trigger = Trigger {
        trigger: if reported {
            policy.trigger()
        } else {
            CallbackTrigger::Manual
        },
        event_id: event_id.clone(),
        source: given.trigger_source.clone(),
        time: given
            .trigger_time
            .as_ref()
            .and_then(from_timestamp)
            .unwrap_or(now),
        customer: given.customer.clone(),
        subject: given.subject.clone(),
        related_ticket: given.related_ticket.clone(),
        related_dispatch: given.related_dispatch.clone(),
        related_complaint: given.related_complaint.clone(),
        campaign: String::new(),
        script: String::new(),
        assignee: given.assignee.clone(),
        due_start: due_start.or(due_end.map(|_| now)),
        due_end,
        appointment,
        render_values: BTreeMap::new(),
        creator: actor,
        policy,
    };
    let Some(task) = schedule(&txn, tenant, trigger, now).await? else {
        return Err(CallbacksError::AlreadyExists(
            format!(
                "{} already has a task for trigger event {event_id}",
                given.policy
            ),
            Some("DUPLICATE_TRIGGER"),
        )
        .into());
    };
    remember_request(&txn, tenant, &request.request_id, CREATE, &task.name, now).await?;
    shared.commit(txn).await.map_err(CallbacksError::from)?;
    Ok(Response::new(task))
}

/// FAILED_PRECONDITION for a task that has ended.
fn still_open(task: &CallbackTask) -> Result<()> {
    if task::is_open(task.state) {
        Ok(())
    } else {
        Err(CallbacksError::precondition(
            format!("{} has ended and can no longer change", task.name),
            "ILLEGAL_TRANSITION",
        ))
    }
}

/// ReassignCallbackTask.
pub(super) async fn reassign_callback_task(
    shared: &Shared,
    request: Request<ReassignCallbackTaskRequest>,
) -> Result<Response<CallbackTask>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, MANAGERS, "reassign callback tasks")?;
    let request = request.into_inner();
    if request.assignee.is_empty() && request.team.is_empty() {
        return Err(
            CallbacksError::invalid("assignee", "an assignee or a team is required").into(),
        );
    }
    at_most(&request.reason, 500, "reason")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await.map_err(CallbacksError::from)?;
    let before = tasks::find_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    still_open(&before)?;
    let team = if request.team.is_empty() {
        before.team.clone()
    } else {
        if kefu_tenants::replica::team(&txn, tenant, &request.team)
            .await?
            .is_none()
        {
            return Err(CallbacksError::invalid(
                "team",
                format!("{} is not a team of the tenant", request.team),
            )
            .into());
        }
        request.team.clone()
    };
    let assignee = if request.assignee.is_empty() {
        pick_in_team(&txn, tenant, &before, &team, None, now)
            .await?
            .ok_or_else(|| {
                CallbacksError::invalid("team", format!("{team} has no active agent to take it"))
            })?
    } else {
        if !active_user(&txn, tenant, &request.assignee).await? {
            return Err(CallbacksError::invalid(
                "assignee",
                format!("{} is not an active agent of the tenant", request.assignee),
            )
            .into());
        }
        request.assignee.clone()
    };
    let actor = super::actor_of(&txn, tenant, &context).await?;
    let after = assign(
        &txn,
        tenant,
        &before,
        &assignee,
        &team,
        CallbackAssignmentCause::Reassigned,
        &request.reason,
        &actor,
        now,
    )
    .await?;
    shared.commit(txn).await.map_err(CallbacksError::from)?;
    Ok(Response::new(after))
}

/// The agent `team` gives `task` to by its policy's team mode (round robin
/// or least loaded; the owner mode spreads as least loaded), never
/// `excluded`; the team's turn recorded. None when nobody can take it.
pub(crate) async fn pick_in_team(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &CallbackTask,
    team: &str,
    excluded: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let policy = policy_of(txn, tenant, &task.policy)
        .await?
        .unwrap_or_default();
    let mode = policy
        .assignment
        .as_ref()
        .map(|assignment| assignment.mode())
        .filter(|mode| *mode == CallbackAssignmentMode::TeamRoundRobin)
        .unwrap_or(CallbackAssignmentMode::TeamLeastLoaded);
    let picked = pick_assignee(txn, tenant, mode, team, None, excluded).await?;
    if let Some(picked) = &picked {
        store::assignment::record(txn, tenant, team, picked, now).await?;
    }
    Ok(picked)
}

/// Gives `before` (read for change) to `assignee` in `team` for `cause`,
/// with its CallbackTaskAssigned.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn assign(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &CallbackTask,
    assignee: &str,
    team: &str,
    cause: CallbackAssignmentCause,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<CallbackTask> {
    let mut after = before.clone();
    after.assignee = assignee.to_owned();
    after.team = team.to_owned();
    tasks::save(txn, tenant, before, &mut after, now).await?;
    let assigned = CallbackTaskAssigned {
        callback_task: after.name.clone(),
        customer: after.customer.clone(),
        assignee: assignee.to_owned(),
        previous_assignee: before.assignee.clone(),
        team: team.to_owned(),
        cause: cause as i32,
        reason: reason.to_owned(),
        due_end: after.due_end,
        actor: Some(actor.clone()),
    };
    append_event(txn, tenant, after.name.clone(), &assigned, now).await?;
    Ok(after)
}

/// Cancels `before` (read for change) for `reason`, with its event. An
/// attempt still open closes with it: a queued SMS survey is never sent,
/// and no later reply is taken for it.
pub(crate) async fn cancel_task(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &CallbackTask,
    reason: CallbackCancelReason,
    note: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<CallbackTask> {
    let mut after = task::cancel(before, reason, note, now).map_err(|ended| {
        CallbacksError::precondition(format!("{}: {ended}", before.name), "ILLEGAL_TRANSITION")
    })?;
    super::attempts::close_open_attempt(txn, tenant, &mut after, now).await?;
    tasks::save(txn, tenant, before, &mut after, now).await?;
    append_event(
        txn,
        tenant,
        after.name.clone(),
        &task::cancelled_event(&after, actor),
        now,
    )
    .await?;
    Ok(after)
}

/// CancelCallbackTask.
pub(super) async fn cancel_callback_task(
    shared: &Shared,
    request: Request<CancelCallbackTaskRequest>,
) -> Result<Response<CallbackTask>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, MANAGERS, "cancel callback tasks")?;
    let request = request.into_inner();
    if request.note.trim().is_empty() {
        return Err(CallbacksError::invalid("note", "note is required").into());
    }
    at_most(&request.note, 500, "note")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await.map_err(CallbacksError::from)?;
    let before = tasks::find_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    still_open(&before)?;
    let reason = if request.customer_opted_out {
        CallbackCancelReason::CustomerOptedOut
    } else {
        CallbackCancelReason::Manual
    };
    let actor = super::actor_of(&txn, tenant, &context).await?;
    let after = cancel_task(&txn, tenant, &before, reason, &request.note, &actor, now).await?;
    shared.commit(txn).await.map_err(CallbacksError::from)?;
    Ok(Response::new(after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parentheses_around_or_groups_are_dropped() {
        assert_eq!(
            without_or_parentheses(
                r#"assignee = "users/me" AND (state = PENDING OR state = OVERDUE)"#
            ),
            r#"assignee = "users/me" AND state = PENDING OR state = OVERDUE"#
        );
        assert_eq!(
            without_or_parentheses(r#"subject = "(a AND b)""#),
            r#"subject = "(a AND b)""#
        );
        assert_eq!(
            without_or_parentheses("(a = 1 AND b = 2)"),
            "(a = 1 AND b = 2)"
        );
    }

    #[test]
    fn the_queue_filter_reads_and_matches() {
        let now = Utc::now();
        let mut filter = filter::parse(
            &without_or_parentheses(
                r#"assignee = "users/me" AND (state = PENDING OR state = IN_PROGRESS OR state = OVERDUE)"#,
            ),
            FILTER_FIELDS,
        )
        .expect("the contract's example reads");
        filter.resolve_me(Some("users/u1")).expect("a user");
        let mut task = CallbackTask {
            assignee: "users/u1".into(),
            state: CallbackTaskState::Pending as i32,
            ..CallbackTask::default()
        };
        assert!(filter.matches(|field| field_values(&task, field, now)));
        task.state = CallbackTaskState::Done as i32;
        assert!(!filter.matches(|field| field_values(&task, field, now)));
        let overdue = filter::parse("overdue", FILTER_FIELDS).expect("bare boolean");
        task.state = CallbackTaskState::Overdue as i32;
        assert!(overdue.matches(|field| field_values(&task, field, now)));
    }

    #[test]
    fn an_appointment_is_refused_in_quiet_hours_not_in_the_customers_do_not_disturb() {
        use chrono::TimeZone;
        use kefu_proto::v1::{BusinessCalendar, ContactPreferences, TimeOfDay, TimeSpan};
        let at = |hours| TimeOfDay { hours, minutes: 0 };
        let calendar = BusinessCalendar {
            quiet_hours: vec![TimeSpan {
                start: Some(at(21)),
                end: Some(at(8)),
            }],
            ..BusinessCalendar::default()
        };
        let sh = |hour| {
            chrono_tz::Asia::Shanghai
                .with_ymd_and_hms(2026, 12, 2, hour, 0, 0)
                .single()
                .expect("a Shanghai time")
                .with_timezone(&Utc)
        };
        let preferences = ContactPreferences {
            do_not_disturb: true,
            ..ContactPreferences::default()
        };
        let rules = CallingRules::new(Some(&calendar), "Asia/Shanghai")
            .with_customer(Some(&preferences), sh(9));
        assert_eq!(rules.blocked(sh(10)), Some(Blocked::DoNotDisturb));
        assert_eq!(appointment_refused(&rules, sh(10)), None);
        assert_eq!(
            appointment_refused(&rules, sh(22)),
            Some(Blocked::QuietHours)
        );
    }

    #[test]
    fn a_task_moved_to_a_survivor_greets_the_survivor() {
        let loser = KnownCustomer {
            display_name: "王芳".into(),
            family_name: "王".into(),
            ..KnownCustomer::new("customers/wang")
        };
        let mut values = BTreeMap::from([("ticket.subject".to_owned(), "送货".to_owned())]);
        with_customer_values(&mut values, Some(&loser), "+8613800138000");
        assert_eq!(values["customer.family_name"], "王");
        assert_eq!(values["customer.phone_last4"], "8000");
        let survivor = KnownCustomer {
            display_name: "李强".into(),
            ..KnownCustomer::new("customers/li")
        };
        with_customer_values(&mut values, Some(&survivor), "+8613900139111");
        assert_eq!(values["customer.display_name"], "李强");
        assert_eq!(values["customer.phone_last4"], "9111");
        assert!(
            !values.contains_key("customer.family_name"),
            "nothing of the merged record stays"
        );
        assert_eq!(values["ticket.subject"], "送货");
    }

    async fn request_id_of_another_method(backend: kefu_kit::testing::Backend) {
        use kefu_kit::{db::begin_for_tenant, testing::TestDatabase};
        let Some(database) = TestDatabase::new(backend, "callbacks").await else {
            return;
        };
        let tenant = TenantId::new();
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        assert!(replayed(&txn, tenant, "").await.expect("none").is_none());
        assert!(replayed(&txn, tenant, "r1").await.expect("none").is_none());
        remember_request(
            &txn,
            tenant,
            "r1",
            "CancelCallbackTask",
            "callbackTasks/0190d2a4-0000-7000-8000-000000000001",
            Utc::now(),
        )
        .await
        .expect("remember");
        match replayed(&txn, tenant, "r1").await {
            Err(CallbacksError::Invalid(violation, _)) => {
                assert_eq!(violation.field, "request_id");
            }
            other => panic!("another method's request id answered {other:?}"),
        }
        txn.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn a_request_id_used_by_another_method_is_refused_on_sqlite() {
        request_id_of_another_method(kefu_kit::testing::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_request_id_used_by_another_method_is_refused_on_postgres() {
        request_id_of_another_method(kefu_kit::testing::Backend::Postgres).await;
    }

    #[test]
    fn an_open_task_past_due_end_is_overdue_even_with_an_appointment_ahead() {
        let now = Utc::now();
        let overdue = filter::parse("overdue", FILTER_FIELDS).expect("bare boolean");
        let mut task = CallbackTask {
            state: CallbackTaskState::Pending as i32,
            due_end: Some(to_timestamp(now - Duration::hours(1))),
            appointment_time: Some(to_timestamp(now + Duration::hours(2))),
            ..CallbackTask::default()
        };
        assert!(overdue.matches(|field| field_values(&task, field, now)));
        task.state = CallbackTaskState::InProgress as i32;
        assert!(overdue.matches(|field| field_values(&task, field, now)));
        task.due_end = Some(to_timestamp(now + Duration::hours(1)));
        assert!(!overdue.matches(|field| field_values(&task, field, now)));
        task.due_end = Some(to_timestamp(now - Duration::hours(1)));
        task.state = CallbackTaskState::Done as i32;
        assert!(!overdue.matches(|field| field_values(&task, field, now)));
    }

    #[test]
    fn due_windows_come_from_the_policy_then_the_tenant_then_three_days() {
        let mut policy = CallbackPolicy::default();
        assert_eq!(due_window_of(&policy, None), Duration::days(3));
        let tenant = Tenant {
            settings: Some(kefu_proto::v1::TenantSettings {
                callback_due_window: Some(prost_types::Duration {
                    seconds: 86_400,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            ..Tenant::default()
        };
        assert_eq!(due_window_of(&policy, Some(&tenant)), Duration::days(1));
        policy.due_window = Some(prost_types::Duration {
            seconds: 7_200,
            nanos: 0,
        });
        assert_eq!(due_window_of(&policy, Some(&tenant)), Duration::hours(2));
    }

    #[test]
    fn single_equalities_on_indexed_fields_narrow_the_read() {
        let queue = prefilter_of(
            r#"assignee = "users/me" AND (state = PENDING OR state = OVERDUE)"#,
            Some("users/u1"),
        );
        assert_eq!(queue.assignee.as_deref(), Some("users/u1"));
        let ticket = prefilter_of(r#"related_ticket = "tickets/t1""#, None);
        assert_eq!(ticket.related_ticket.as_deref(), Some("tickets/t1"));
        // An OR, an inequality, a quoted AND or users/me without a user:
        // nothing narrowed.
        for text in [
            r#"assignee = "users/a" OR assignee = "users/b""#,
            r#"assignee != "users/a""#,
            r#"customer = "customers/a AND b""#,
            r#"assignee = "users/me""#,
        ] {
            let prefilter = prefilter_of(text, None);
            assert!(prefilter.assignee.is_none(), "{text}");
            assert!(prefilter.customer.is_none(), "{text}");
        }
    }
}
