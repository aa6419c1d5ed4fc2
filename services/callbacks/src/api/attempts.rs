//! Attempts and outcomes (回访记录): starting a call, recording its outcome
//! (REACHED completes the task, NO_ANSWER retries after the policy's
//! spacing until the maximum, WRONG_NUMBER and REFUSED fail it,
//! CALL_BACK_LATER sets the appointment), reading the record.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, TenantId},
    events::{from_timestamp, to_timestamp},
    filter::{self, FieldValue, Kind, OrderKey},
    idempotency,
};
use kefu_proto::v1::{
    Actor, ActorKind, CallbackAttempt, CallbackAttemptRecorded, CallbackOutcome, CallbackPolicy,
    CallbackTask, CallbackTaskCompleted, Channel, GetCallbackAttemptRequest,
    ListCallbackAttemptsRequest, ListCallbackAttemptsResponse, RecordCallbackOutcomeRequest, Role,
    StartCallbackAttemptRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, append_event, caller, caller_user, holds, page_size, remember_request,
    responses::{self, Recorded, survey_of},
    sms::{hand_over, queue_survey},
    tasks::{calling_rules_of, policy_of},
};
use crate::{
    domain::{
        attempt::{self, Retry, attempt_ids, attempt_name},
        window::Blocked,
    },
    error::{CallbacksError, Result},
    store::{attempts, tasks},
};

/// The roles that may work or record for any task.
pub(super) const MANAGERS: &[Role] = &[Role::Supervisor, Role::Manager, Role::Admin];

/// The roles that may read the record.
const READERS: &[Role] = &[
    Role::Agent,
    Role::Supervisor,
    Role::Manager,
    Role::Admin,
    Role::Viewer,
];

const START: &str = "StartCallbackAttempt";
const RECORD: &str = "RecordCallbackOutcome";

/// PERMISSION_DENIED unless the caller may work `task`: its assignee (an
/// agent), a supervisor, manager or admin, or a key or Kefu itself.
pub(super) fn check_may_work(context: &CallContext, task: &CallbackTask) -> Result<()> {
    if holds(context, MANAGERS) {
        return Ok(());
    }
    let own =
        caller_user(context).is_some_and(|user| !task.assignee.is_empty() && user == task.assignee);
    if own && holds(context, &[Role::Agent]) {
        return Ok(());
    }
    Err(CallbacksError::PermissionDenied(format!(
        "{} is assigned to someone else: only its assignee or a supervisor may work it",
        task.name
    )))
}

pub(super) use super::actor_of;

/// The agent an attempt is made by: the calling user, else the task's
/// assignee (a partner system recording for the agent).
fn agent_of(actor: &Actor, task: &CallbackTask) -> (String, String) {
    if actor.kind == ActorKind::User as i32 {
        (actor.name.clone(), actor.display_name.clone())
    } else {
        (task.assignee.clone(), String::new())
    }
}

/// What a repeated `request_id` names, checked to be of `method`.
async fn recalled(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: &str,
    method: &str,
) -> Result<Option<String>> {
    if request_id.is_empty() {
        return Ok(None);
    }
    if request_id.chars().count() > 100 {
        return Err(CallbacksError::invalid(
            "request_id",
            "request_id is at most 100 characters",
        ));
    }
    match idempotency::recall(txn, tenant.0, request_id).await? {
        Some(remembered) if remembered.method != method => Err(CallbacksError::invalid(
            "request_id",
            format!("request_id was used for {}", remembered.method),
        )),
        Some(remembered) => Ok(Some(remembered.resource_name)),
        None => Ok(None),
    }
}

/// StartCallbackAttempt.
pub(super) async fn start_callback_attempt(
    shared: &Shared,
    request: Request<StartCallbackAttemptRequest>,
) -> Result<Response<CallbackAttempt>, Status> {
    Ok(Response::new(start(shared, request).await?))
}

async fn start(
    shared: &Shared,
    request: Request<StartCallbackAttemptRequest>,
) -> Result<CallbackAttempt> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if let Some(name) = recalled(&txn, tenant, &request.request_id, START).await? {
        let attempt = attempts::find(&txn, tenant, &name)
            .await?
            .ok_or_else(|| CallbacksError::not_found(&name))?;
        txn.commit().await?;
        return Ok(attempt);
    }
    let before = tasks::find_for_change(&txn, tenant, &request.name, "name", "").await?;
    check_may_work(&context, &before)?;
    attempt::check_workable(&before)?;
    attempt::check_no_open_attempt(&before)?;
    let rules = calling_rules_of(&txn, tenant, &before, now).await?;
    let blocked = rules.blocked(now);
    attempt::check_may_call(
        &before,
        now,
        blocked == Some(Blocked::QuietHours),
        blocked == Some(Blocked::DoNotDisturb),
    )?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let (agent, agent_display_name) = agent_of(&actor, &before);
    let started = CallbackAttempt {
        name: attempt_name(&before.name, Uuid::now_v7()),
        attempt_number: before.attempt_count + 1,
        agent,
        agent_display_name,
        channel: Channel::Phone as i32,
        start_time: Some(to_timestamp(now)),
        create_time: Some(to_timestamp(now)),
        ..CallbackAttempt::default()
    };
    attempts::insert(&txn, tenant, &started).await?;
    let mut after = before.clone();
    after.state = attempt::working_state(&before) as i32;
    after.attempt_count += 1;
    after.latest_attempt = Some(started.clone());
    tasks::save(&txn, tenant, &before, &mut after, now).await?;
    remember_request(&txn, tenant, &request.request_id, START, &started.name, now).await?;
    shared.commit(txn).await?;
    Ok(started)
}

/// The outcome a request names, or INVALID_ARGUMENT naming `outcome`.
fn outcome_of(value: i32) -> Result<CallbackOutcome> {
    match CallbackOutcome::try_from(value) {
        Ok(CallbackOutcome::Unspecified) => {
            Err(CallbacksError::invalid("outcome", "outcome is required"))
        }
        Ok(outcome) => Ok(outcome),
        Err(_) => Err(CallbacksError::invalid(
            "outcome",
            format!("outcome {value} is not a CallbackOutcome"),
        )),
    }
}

/// The start and end of a call recorded whole: the end defaults to now and
/// may not be in the future; the start defaults to the end and may not be
/// after it.
fn call_times(
    request: &RecordCallbackOutcomeRequest,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let read = |timestamp: Option<&prost_types::Timestamp>, field: &str| {
        timestamp
            .map(|timestamp| {
                from_timestamp(timestamp).ok_or_else(|| {
                    CallbacksError::invalid(field, format!("{field} is not a valid time"))
                })
            })
            .transpose()
    };
    let end = read(request.end_time.as_ref(), "end_time")?.unwrap_or(now);
    if end > now {
        return Err(CallbacksError::invalid(
            "end_time",
            "end_time must not be in the future",
        ));
    }
    let start = read(request.start_time.as_ref(), "start_time")?.unwrap_or(end);
    if start > end {
        return Err(CallbacksError::invalid(
            "start_time",
            "start_time must not be after end_time",
        ));
    }
    Ok((start, end))
}

/// INVALID_ARGUMENT naming `request_id` when a repeated RecordCallbackOutcome
/// `request_id` was used for another task than the one now named: a replay
/// answers only the same request.
fn check_replay_of(remembered: &str, requested: &str) -> Result<()> {
    if remembered == requested {
        return Ok(());
    }
    Err(CallbacksError::invalid(
        "request_id",
        format!("request_id was used for {remembered}, not {requested}"),
    ))
}

/// The retry settings of `task`: those it was scheduled with, else (a task
/// stored before they were kept) its policy's as they are now (`policy`,
/// already read, else read here).
pub(crate) async fn retry_of(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &CallbackTask,
    policy: Option<&CallbackPolicy>,
) -> Result<Retry> {
    if let Some(kept) = tasks::retry(txn, tenant, &task.name).await? {
        return Ok(Retry::of(Some(&kept)));
    }
    let current = match policy {
        Some(policy) => policy.retry,
        None => policy_of(txn, tenant, &task.policy)
            .await?
            .and_then(|policy| policy.retry),
    };
    Ok(Retry::of(current.as_ref()))
}

/// Closes the attempt of `task` (just ended: cancelled) still open, so a
/// queued SMS is never sent and no later reply is taken for it (see
/// `attempt::close_with_task`); `task.latest_attempt` follows. The caller
/// saves the task.
pub(crate) async fn close_open_attempt(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &mut CallbackTask,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(latest) = task.latest_attempt.as_ref() else {
        return Ok(());
    };
    let Some(mut open) = attempts::find(txn, tenant, &latest.name).await? else {
        return Ok(());
    };
    if attempt::close_with_task(&mut open, attempt::state_of(task), now) {
        attempts::update(txn, tenant, &open).await?;
        task.latest_attempt = Some(open);
    }
    Ok(())
}

/// RecordCallbackOutcome.
pub(super) async fn record_callback_outcome(
    shared: &Shared,
    request: Request<RecordCallbackOutcomeRequest>,
) -> Result<Response<CallbackTask>, Status> {
    Ok(Response::new(record(shared, request).await?))
}

async fn record(
    shared: &Shared,
    request: Request<RecordCallbackOutcomeRequest>,
) -> Result<CallbackTask> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let outcome = outcome_of(request.outcome)?;
    let notes = attempt::notes(&request.notes, "notes")?;
    if outcome != CallbackOutcome::Reached && !request.survey_answers.is_empty() {
        return Err(CallbacksError::invalid(
            "survey_answers",
            "survey answers are recorded only with a REACHED outcome",
        ));
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if let Some(name) = recalled(&txn, tenant, &request.request_id, RECORD).await? {
        check_replay_of(&name, &request.name)?;
        let task = tasks::find(&txn, tenant, &name)
            .await?
            .ok_or_else(|| CallbacksError::not_found(&name))?;
        txn.commit().await?;
        return Ok(task);
    }
    let before = tasks::find_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    check_may_work(&context, &before)?;
    attempt::check_workable(&before)?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let task_id = tasks::id_of(&before.name)
        .ok_or_else(|| CallbacksError::Internal(format!("task named {}", before.name)))?;
    let history = attempts::list(&txn, tenant, Some(task_id)).await?;
    // The attempt settled: the open one named, or a new whole phone call.
    let (mut settled, is_new, end) = if request.attempt.is_empty() {
        attempt::check_no_open_attempt(&before)?;
        let (start, end) = call_times(&request, now)?;
        let (agent, agent_display_name) = agent_of(&actor, &before);
        let whole = CallbackAttempt {
            name: attempt_name(&before.name, Uuid::now_v7()),
            attempt_number: before.attempt_count + 1,
            agent,
            agent_display_name,
            channel: Channel::Phone as i32,
            start_time: Some(to_timestamp(start)),
            create_time: Some(to_timestamp(now)),
            ..CallbackAttempt::default()
        };
        (whole, true, end)
    } else {
        match attempt_ids(&request.attempt) {
            Some((of_task, _)) if of_task == task_id => {}
            _ => {
                return Err(CallbacksError::invalid(
                    "attempt",
                    format!("attempt must be an attempt of {}", before.name),
                ));
            }
        }
        let open = history
            .iter()
            .find(|attempt| attempt.name == request.attempt)
            .cloned()
            .ok_or_else(|| CallbacksError::not_found(&request.attempt))?;
        if !attempt::is_open(&open) {
            return Err(CallbacksError::precondition(
                format!("{} already has its outcome", open.name),
                "ILLEGAL_TRANSITION",
            ));
        }
        (open, false, now)
    };
    let rules = calling_rules_of(&txn, tenant, &before, now).await?;
    let appointment = if outcome == CallbackOutcome::CallBackLater {
        Some(attempt::check_appointment(
            request.appointment_time.as_ref(),
            now,
            |instant| rules.blocked(instant) == Some(Blocked::QuietHours),
            "appointment_time",
        )?)
    } else {
        None
    };
    let policy = policy_of(&txn, tenant, &before.policy).await?;
    let retry = retry_of(&txn, tenant, &before, policy.as_ref()).await?;
    let due_end = before
        .due_end
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(now);
    let mut after = before.clone();
    let result = attempt::settle(
        &mut after,
        outcome,
        appointment,
        attempt::counting(&history),
        &retry,
        end,
        now,
        |instant| {
            rules
                .next_call(instant, due_end.max(instant))
                .unwrap_or(instant)
        },
    );
    settled.outcome = outcome as i32;
    settled.end_time = Some(to_timestamp(end));
    settled.appointment_time = appointment.map(to_timestamp);
    settled.notes = notes.clone();
    settled.recorder = Some(actor.clone());
    if is_new {
        attempts::insert(&txn, tenant, &settled).await?;
        after.attempt_count += 1;
    } else {
        attempts::update(&txn, tenant, &settled).await?;
    }
    after.latest_attempt = Some(settled.clone());
    if outcome == CallbackOutcome::Reached && !request.survey_answers.is_empty() {
        responses::record(
            &txn,
            tenant,
            &mut after,
            Recorded {
                answers: &request.survey_answers,
                answers_field: "survey_answers",
                suggestion: &request.survey_suggestion,
                suggestion_field: "survey_suggestion",
                attempt: &settled,
                channel: Channel::Phone,
                recorder: &actor,
                respond_time: end,
            },
            policy.as_ref(),
            now,
        )
        .await?;
    }
    let mut ended = result.ended;
    let fallback = if result.exhausted && retry.sms_fallback {
        sms_fallback(&txn, tenant, &mut after, before.state, &actor, now).await?
    } else {
        None
    };
    if fallback.is_some() {
        ended = false;
    }
    tasks::save(&txn, tenant, &before, &mut after, now).await?;
    append_attempt_events(&txn, tenant, &after, &settled, ended, now).await?;
    remember_request(&txn, tenant, &request.request_id, RECORD, &after.name, now).await?;
    shared.commit(txn).await?;
    if let Some(queued) = fallback {
        hand_over(&shared.db, tenant, queued, now).await;
        let txn = shared.begin_read(tenant).await?;
        if let Some(current) = tasks::find(&txn, tenant, &after.name).await? {
            after = current;
        }
        txn.commit().await?;
    }
    Ok(after)
}

/// The policy's SMS fallback: a phone task whose attempts ran out (just
/// settled FAILED in `task`) sends its survey by SMS instead, when it has
/// a survey and the customer a mobile number; the task goes back to
/// IN_PROGRESS with the queued SMS attempt. None (the task stays FAILED)
/// otherwise.
async fn sms_fallback(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &mut CallbackTask,
    state_before: i32,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Option<CallbackAttempt>> {
    if task.survey.is_empty() || !task.survey_response.is_empty() {
        return Ok(None);
    }
    let Some(survey) = survey_of(txn, tenant, &task.survey).await? else {
        return Ok(None);
    };
    let mut reopened = task.clone();
    reopened.state = state_before;
    reopened.outcome = CallbackOutcome::Unspecified as i32;
    reopened.end_time = None;
    reopened.completed_within_window = false;
    match queue_survey(txn, tenant, &mut reopened, &survey, "", actor, now).await {
        Ok(queued) => {
            *task = reopened;
            Ok(Some(queued))
        }
        // No mobile number, or a customer never to be contacted: the task
        // fails as it would without the fallback.
        Err(CallbacksError::FailedPrecondition(..)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// CallbackAttemptRecorded for `attempt` of `task` (as left by it), and
/// CallbackTaskCompleted when the task `ended`.
pub(super) async fn append_attempt_events(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &CallbackTask,
    attempt: &CallbackAttempt,
    ended: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    let wrong_number = attempt.outcome == CallbackOutcome::WrongNumber as i32;
    let recorded = CallbackAttemptRecorded {
        attempt: attempt.name.clone(),
        callback_task: task.name.clone(),
        attempt_number: attempt.attempt_number,
        policy: task.policy.clone(),
        campaign: task.campaign.clone(),
        customer: task.customer.clone(),
        agent: attempt.agent.clone(),
        team: task.team.clone(),
        channel: attempt.channel,
        outcome: attempt.outcome,
        appointment_time: attempt.appointment_time,
        start_time: attempt.start_time,
        end_time: attempt.end_time,
        task_state: task.state,
        wrong_phone: if wrong_number {
            attempt
                .sms
                .as_ref()
                .map(|sms| sms.to_phone.clone())
                .unwrap_or_else(|| task.contact_phone.clone())
        } else {
            String::new()
        },
    };
    append_event(txn, tenant, &task.name, &recorded, now).await?;
    if ended {
        let completed = CallbackTaskCompleted {
            callback_task: task.name.clone(),
            policy: task.policy.clone(),
            campaign: task.campaign.clone(),
            trigger: task.trigger,
            customer: task.customer.clone(),
            customer_is_member: task.customer_is_member,
            related_ticket: task.related_ticket.clone(),
            assignee: task.assignee.clone(),
            team: task.team.clone(),
            state: task.state,
            outcome: task.outcome,
            attempt_count: task.attempt_count,
            due_start: task.due_start,
            due_end: task.due_end,
            end_time: task.end_time,
            completed_within_window: task.completed_within_window,
            survey_response: task.survey_response.clone(),
        };
        append_event(txn, tenant, &task.name, &completed, now).await?;
    }
    Ok(())
}

/// GetCallbackAttempt.
pub(super) async fn get_callback_attempt(
    shared: &Shared,
    request: Request<GetCallbackAttemptRequest>,
) -> Result<Response<CallbackAttempt>, Status> {
    let (context, tenant) = caller(&request)?;
    if !holds(&context, READERS) {
        return Err(CallbacksError::PermissionDenied(
            "your role may not read callback attempts".into(),
        )
        .into());
    }
    let name = request.into_inner().name;
    if name.is_empty() {
        return Err(CallbacksError::invalid("name", "name is required").into());
    }
    if attempt_ids(&name).is_none() {
        return Err(CallbacksError::invalid(
            "name",
            "name must be callbackTasks/{task}/attempts/{attempt}",
        )
        .into());
    }
    let txn = shared
        .begin_read(tenant)
        .await
        .map_err(CallbacksError::from)?;
    let found = attempts::find(&txn, tenant, &name).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    Ok(Response::new(
        found.ok_or_else(|| CallbacksError::not_found(&name))?,
    ))
}

/// The fields ListCallbackAttempts filters on.
const FILTER_FIELDS: &[(&str, Kind)] = &[
    ("agent", Kind::Text),
    ("channel", Kind::Enum("CHANNEL_")),
    ("outcome", Kind::Enum("CALLBACK_OUTCOME_")),
    ("start_time", Kind::Time),
];

fn field_values(attempt: &CallbackAttempt, field: &str) -> Vec<FieldValue> {
    match field {
        "agent" => vec![FieldValue::Text(attempt.agent.clone())],
        "channel" => Channel::try_from(attempt.channel)
            .map(|channel| vec![FieldValue::Enum(channel.as_str_name().to_owned())])
            .unwrap_or_default(),
        "outcome" => CallbackOutcome::try_from(attempt.outcome)
            .map(|outcome| vec![FieldValue::Enum(outcome.as_str_name().to_owned())])
            .unwrap_or_default(),
        "start_time" => attempt
            .start_time
            .as_ref()
            .and_then(from_timestamp)
            .map(|time| vec![FieldValue::Time(time)])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// ListCallbackAttempts.
pub(super) async fn list_callback_attempts(
    shared: &Shared,
    request: Request<ListCallbackAttemptsRequest>,
) -> Result<Response<ListCallbackAttemptsResponse>, Status> {
    Ok(Response::new(list(shared, request).await?))
}

async fn list(
    shared: &Shared,
    request: Request<ListCallbackAttemptsRequest>,
) -> Result<ListCallbackAttemptsResponse> {
    let (context, tenant) = caller(&request)?;
    if !holds(&context, READERS) {
        return Err(CallbacksError::PermissionDenied(
            "your role may not read callback attempts".into(),
        ));
    }
    let request = request.into_inner();
    let size = page_size(request.page_size)?;
    let invalid = |field: &'static str| {
        move |error: filter::FilterError| CallbacksError::invalid(field, error.0)
    };
    let mut wanted = filter::parse(&request.filter, FILTER_FIELDS).map_err(invalid("filter"))?;
    wanted
        .resolve_me(caller_user(&context).as_deref())
        .map_err(invalid("filter"))?;
    let order = filter::parse_order(
        &request.order_by,
        &["start_time", "attempt_number"],
        OrderKey {
            field: "start_time",
            descending: false,
        },
    )
    .map_err(invalid("order_by"))?;
    let offset = filter::page_offset(&request.page_token).map_err(invalid("page_token"))?;
    if request.parent.is_empty() {
        return Err(CallbacksError::invalid("parent", "parent is required"));
    }
    let txn = shared.begin_read(tenant).await?;
    let task = if request.parent == "callbackTasks/-" {
        None
    } else {
        let Some(id) = tasks::id_of(&request.parent) else {
            return Err(CallbacksError::invalid(
                "parent",
                "parent must be callbackTasks/{task} or callbackTasks/-",
            ));
        };
        if tasks::find(&txn, tenant, &request.parent).await?.is_none() {
            return Err(CallbacksError::not_found(&request.parent));
        }
        Some(id)
    };
    let mut found: Vec<CallbackAttempt> = attempts::list(&txn, tenant, task)
        .await?
        .into_iter()
        .filter(|attempt| wanted.matches(|field| field_values(attempt, field)))
        .collect();
    txn.commit().await?;
    found.sort_by(|left, right| {
        filter::compare(left, right, &order, |attempt, field| match field {
            "attempt_number" => (i64::from(attempt.attempt_number), None),
            _ => (0, attempt.start_time.as_ref().and_then(from_timestamp)),
        })
        .then_with(|| left.name.cmp(&right.name))
    });
    let total_size = i32::try_from(found.len()).unwrap_or(i32::MAX);
    let (page, next_page_token) = filter::page(found, offset, size);
    Ok(ListCallbackAttemptsResponse {
        callback_attempts: page,
        next_page_token,
        total_size,
    })
}

#[cfg(test)]
mod tests {
    use kefu_kit::error::ServiceError;

    use super::*;

    #[test]
    fn a_replayed_outcome_answers_only_for_the_same_task() {
        assert!(check_replay_of("callbackTasks/a", "callbackTasks/a").is_ok());
        let error = check_replay_of("callbackTasks/a", "callbackTasks/b").expect_err("another");
        assert_eq!(error.field_violations()[0].field, "request_id");
    }
}
