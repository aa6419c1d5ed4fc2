//! The SMS channel: surveys sent as messages and the customers' replies.
//!
//! A survey goes out in two steps: `SendSurveyBySms` writes the SMS attempt
//! QUEUED (due now, or at the next allowed time when now is quiet or the
//! customer's do-not-disturb), and [`deliver`] hands a due message to the
//! provider and marks it SENT with its reply deadline — right after the
//! request commits when it is due at once, else from the SMS scan
//! (`consumers::sms`), which also settles unanswered surveys as NO_ANSWER
//! once their reply window passes ([`expire`]).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    db::begin_for_tenant,
    events::{from_timestamp, to_timestamp},
    idempotency,
};
use kefu_proto::v1::{
    Actor, ActorKind, CallbackAttempt, CallbackOutcome, CallbackSmsDelivery, CallbackSmsState,
    CallbackTask, CallbackTaskState, Channel, RecordSmsSurveyReplyRequest,
    RecordSmsSurveyReplyResponse, Role, SendSurveyBySmsRequest, SmsSurveyReplyStatus,
};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared,
    attempts::{actor_of, append_attempt_events, check_may_work, retry_of},
    caller, holds, remember_request,
    responses::{self, Recorded, survey_of},
    tasks::{calling_rules_of, policy_of},
};
use crate::{
    domain::{
        attempt::{self, attempt_name},
        sms_reply,
        template::{self, DateStyle, REPLY_INSTRUCTIONS, Value},
    },
    error::{CallbacksError, Result},
    sms::{self, OutboundSms},
    store::{attempts, customers, sms as replies, tasks},
};

const SEND: &str = "SendSurveyBySms";

/// The roles that send surveys by SMS (a partner system or Kefu itself
/// holds what its key allows).
const STAFF: &[Role] = &[Role::Agent, Role::Supervisor, Role::Manager, Role::Admin];

/// The longest text message sent, in characters.
const MAX_BODY: usize = 500;

/// The longest inbound message kept, in characters.
const MAX_REPLY: usize = 1_000;

/// The text of `text` in `locale`, else the locale's language, else
/// `zh-CN`, else any.
fn text_in(text: Option<&kefu_proto::v1::LocalizedText>, locale: &str) -> String {
    let Some(text) = text else {
        return String::new();
    };
    let language = locale.split('-').next().unwrap_or_default();
    text.values
        .get(locale)
        .or_else(|| {
            text.values
                .iter()
                .find(|(tag, _)| !language.is_empty() && tag.starts_with(language))
                .map(|(_, value)| value)
        })
        .or_else(|| text.values.get("zh-CN"))
        .or_else(|| text.values.values().next())
        .cloned()
        .unwrap_or_default()
}

/// The message of `task`'s survey in `locale`: the survey's SMS template
/// rendered with the task's values and `survey.reply_instructions` (the
/// instructions alone when the survey has no template).
async fn body_of(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &CallbackTask,
    survey: &kefu_proto::v1::Survey,
    locale: &str,
    zone: chrono_tz::Tz,
) -> Result<String> {
    let instructions = sms_reply::reply_instructions(&survey.dimensions, locale);
    let source = text_in(survey.sms_template.as_ref(), locale);
    if source.is_empty() {
        return Ok(instructions.chars().take(MAX_BODY).collect());
    }
    let parsed = template::parse(&source, &[REPLY_INSTRUCTIONS]).map_err(|error| {
        CallbacksError::precondition(
            format!(
                "the SMS template of {} cannot be read: {error:?}",
                survey.name
            ),
            "INVALID_TEMPLATE",
        )
    })?;
    let values = tasks::render_context(txn, tenant, &task.name)
        .await?
        .unwrap_or_default();
    let mut missing = BTreeSet::new();
    let rendered = parsed.render(
        |field| {
            if field == REPLY_INSTRUCTIONS {
                return Some(Value::Text(instructions.clone()));
            }
            values
                .get(field)
                .map(|text| Value::from_stored(field, text))
        },
        DateStyle { locale, zone },
        &mut missing,
    );
    Ok(rendered.chars().take(MAX_BODY).collect())
}

/// SendSurveyBySms.
pub(super) async fn send_survey_by_sms(
    shared: &Shared,
    request: Request<SendSurveyBySmsRequest>,
) -> Result<Response<CallbackAttempt>, Status> {
    Ok(Response::new(send(shared, request).await?))
}

async fn send(
    shared: &Shared,
    request: Request<SendSurveyBySmsRequest>,
) -> Result<CallbackAttempt> {
    let (context, tenant) = caller(&request)?;
    if !holds(&context, STAFF) {
        return Err(CallbacksError::PermissionDenied(
            "your role may not send surveys".into(),
        ));
    }
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id).await?
    {
        if remembered.method != SEND {
            return Err(CallbacksError::invalid(
                "request_id",
                format!("request_id was used for {}", remembered.method),
            ));
        }
        let attempt = attempts::find(&txn, tenant, &remembered.resource_name)
            .await?
            .ok_or_else(|| CallbacksError::not_found(&remembered.resource_name))?;
        txn.commit().await?;
        return Ok(attempt);
    }
    let before = tasks::find_for_change(&txn, tenant, &request.name, "name", "").await?;
    check_may_work(&context, &before)?;
    attempt::check_workable(&before)?;
    if before.survey.is_empty() {
        return Err(CallbacksError::precondition(
            format!("{} has no survey to send", before.name),
            "ILLEGAL_TRANSITION",
        ));
    }
    if !before.survey_response.is_empty() {
        return Err(CallbacksError::precondition(
            format!("{} already has its survey response", before.name),
            "SURVEY_ALREADY_SUBMITTED",
        ));
    }
    attempt::check_no_open_attempt(&before)?;
    let survey = survey_of(&txn, tenant, &before.survey)
        .await?
        .ok_or_else(|| {
            CallbacksError::precondition(
                format!("the survey {} no longer exists", before.survey),
                "ILLEGAL_TRANSITION",
            )
        })?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut after = before.clone();
    let queued = queue_survey(
        &txn,
        tenant,
        &mut after,
        &survey,
        &request.locale,
        &actor,
        now,
    )
    .await?;
    tasks::save(&txn, tenant, &before, &mut after, now).await?;
    remember_request(&txn, tenant, &request.request_id, SEND, &queued.name, now).await?;
    shared.commit(txn).await?;
    Ok(hand_over(&shared.db, tenant, queued, now).await)
}

/// Writes a QUEUED SMS attempt sending `survey` to the customer of `task`
/// (changed in place: IN_PROGRESS, one more attempt, its latest; the
/// caller saves it): due now (or when the task's due window opens), or at
/// the next allowed time in quiet hours or the customer's do-not-disturb.
/// FAILED_PRECONDITION `NO_CONTACT_PHONE` without a mobile number or the
/// customer's consent to texts, `DO_NOT_DISTURB` when the customer may
/// never be contacted. `locale` empty: the tenant's.
pub(crate) async fn queue_survey(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &mut CallbackTask,
    survey: &kefu_proto::v1::Survey,
    locale: &str,
    requester: &Actor,
    now: DateTime<Utc>,
) -> Result<CallbackAttempt> {
    let customer = customers::find(txn, tenant, &task.customer).await?;
    // The customer record promises that no text goes to a customer who has
    // not agreed to receive them: such a number is not usable for SMS.
    if customer
        .as_ref()
        .is_some_and(|customer| !customer.sms_consent())
    {
        return Err(CallbacksError::precondition(
            format!("{} has not agreed to receive text messages", task.customer),
            "NO_CONTACT_PHONE",
        ));
    }
    let mobile = customer
        .map(|customer| customer.mobile)
        .filter(|mobile| !mobile.is_empty())
        .unwrap_or_default();
    if mobile.is_empty() {
        return Err(CallbacksError::precondition(
            format!("{} has no mobile number to text", task.customer),
            "NO_CONTACT_PHONE",
        ));
    }
    let locale = if locale.is_empty() {
        kefu_tenants::replica::tenant(txn, tenant)
            .await?
            .map(|tenant| tenant.locale)
            .filter(|locale| !locale.is_empty())
            .unwrap_or_else(|| "zh-CN".to_owned())
    } else {
        locale.to_owned()
    };
    let rules = calling_rules_of(txn, tenant, task, now).await?;
    let due_end = task
        .due_end
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(now);
    // Not before the due window opens (the policy's start delay), then at
    // the first allowed time.
    let earliest = task
        .due_start
        .as_ref()
        .and_then(from_timestamp)
        .map_or(now, |start| start.max(now));
    let send_at = match rules.blocked(earliest) {
        None => earliest,
        Some(blocked) => rules
            .next_call(earliest, due_end.max(earliest))
            .ok_or_else(|| {
                CallbacksError::precondition(
                    "the customer may never be contacted now (a standing do-not-disturb)",
                    blocked.reason(),
                )
            })?,
    };
    let body = body_of(txn, tenant, task, survey, &locale, rules.zone()).await?;
    let retry = retry_of(txn, tenant, task, None).await?;
    let is_user = requester.kind == ActorKind::User as i32;
    let queued = CallbackAttempt {
        name: attempt_name(&task.name, Uuid::now_v7()),
        attempt_number: task.attempt_count + 1,
        agent: if is_user {
            requester.name.clone()
        } else {
            String::new()
        },
        agent_display_name: if is_user {
            requester.display_name.clone()
        } else {
            String::new()
        },
        channel: Channel::Sms as i32,
        start_time: Some(to_timestamp(now)),
        sms: Some(CallbackSmsDelivery {
            to_phone: mobile,
            body,
            provider: sms::provider().name().to_owned(),
            state: CallbackSmsState::Queued as i32,
            scheduled_send_time: Some(to_timestamp(send_at)),
            // Until sent, the deadline keeps the reply window after the
            // scheduled time; sending moves it to the window after sending.
            reply_deadline: Some(to_timestamp(send_at + retry.sms_reply_window)),
            ..CallbackSmsDelivery::default()
        }),
        create_time: Some(to_timestamp(now)),
        ..CallbackAttempt::default()
    };
    attempts::insert(txn, tenant, &queued).await?;
    task.state = attempt::working_state(task) as i32;
    task.attempt_count += 1;
    task.next_call_time = None;
    task.latest_attempt = Some(queued.clone());
    Ok(queued)
}

/// After the commit that queued it: hands `queued` to the provider when it
/// is due now, answering the attempt as it then stands. Should that fail,
/// the SMS scan tries again and the attempt is answered QUEUED.
pub(crate) async fn hand_over(
    db: &DatabaseConnection,
    tenant: TenantId,
    queued: CallbackAttempt,
    now: DateTime<Utc>,
) -> CallbackAttempt {
    let due = queued
        .sms
        .as_ref()
        .and_then(|sms| sms.scheduled_send_time.as_ref())
        .and_then(from_timestamp)
        .is_none_or(|send_at| send_at <= now);
    if !due {
        return queued;
    }
    match deliver(db, tenant, &queued.name, now).await {
        Ok(Some(sent)) => sent,
        Ok(None) => queued,
        Err(error) => {
            tracing::warn!(attempt = %queued.name, %error, "sms survey not handed over yet");
            queued
        }
    }
}

/// Hands the queued SMS attempt `name` to the provider (its task locked,
/// so two replicas never send it twice) and marks it SENT with its reply
/// deadline, or settles it NO_ANSWER when the provider refuses it. None
/// when the attempt is no longer queued, or its task has ended (the
/// attempt is then closed unsent).
pub(crate) async fn deliver(
    db: &DatabaseConnection,
    tenant: TenantId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<CallbackAttempt>> {
    let Some((task_id, _)) = attempt::attempt_ids(name) else {
        return Ok(None);
    };
    let txn = begin_for_tenant(db, tenant).await?;
    let task_name = tasks::name_of(task_id);
    let before = tasks::find_for_change(&txn, tenant, &task_name, "name", "").await?;
    let Some(mut queued) = attempts::find(&txn, tenant, name).await? else {
        return Ok(None);
    };
    let Some(mut delivery) = queued.sms.clone() else {
        return Ok(None);
    };
    if delivery.state != CallbackSmsState::Queued as i32 || !attempt::is_open(&queued) {
        return Ok(None);
    }
    if attempt::is_terminal(attempt::state_of(&before)) {
        // The task ended (cancelled) while its survey waited: nothing is
        // sent, and the attempt closes so no later reply is taken for it.
        attempt::close_with_task(&mut queued, attempt::state_of(&before), now);
        attempts::update(&txn, tenant, &queued).await?;
        if before
            .latest_attempt
            .as_ref()
            .is_some_and(|latest| latest.name == queued.name)
        {
            let mut after = before.clone();
            after.latest_attempt = Some(queued);
            tasks::save(&txn, tenant, &before, &mut after, now).await?;
        }
        txn.commit().await?;
        return Ok(None);
    }
    let scheduled = delivery
        .scheduled_send_time
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(now);
    let window = delivery
        .reply_deadline
        .as_ref()
        .and_then(from_timestamp)
        .map_or(attempt::DEFAULT_SMS_REPLY_WINDOW, |deadline| {
            deadline - scheduled
        });
    let provider = sms::provider();
    let message = OutboundSms {
        tenant: tenant.to_string(),
        to_phone: delivery.to_phone.clone(),
        body: delivery.body.clone(),
        reference: queued.name.clone(),
    };
    match provider.send(&message).await {
        Ok(message_id) => {
            delivery.provider = provider.name().to_owned();
            delivery.provider_message_id = message_id;
            delivery.state = CallbackSmsState::Sent as i32;
            delivery.send_time = Some(to_timestamp(now));
            delivery.reply_deadline = Some(to_timestamp(now + window));
            queued.sms = Some(delivery);
            attempts::update(&txn, tenant, &queued).await?;
            let mut after = before.clone();
            if after
                .latest_attempt
                .as_ref()
                .is_some_and(|latest| latest.name == queued.name)
            {
                after.latest_attempt = Some(queued.clone());
            }
            tasks::save(&txn, tenant, &before, &mut after, now).await?;
            txn.commit().await?;
            Ok(Some(queued))
        }
        Err(error) => {
            delivery.state = CallbackSmsState::Failed as i32;
            delivery.failure_reason = error.0;
            queued.sms = Some(delivery);
            let settled = settle_no_answer(&txn, tenant, &before, queued, now).await?;
            txn.commit().await?;
            Ok(Some(settled))
        }
    }
}

/// Settles the open SMS attempt `open` of task `before` as NO_ANSWER (its
/// SMS state already set): the retry rules move the task on, the events
/// are appended. The caller commits.
async fn settle_no_answer(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &CallbackTask,
    mut open: CallbackAttempt,
    now: DateTime<Utc>,
) -> Result<CallbackAttempt> {
    let task_id = tasks::id_of(&before.name)
        .ok_or_else(|| CallbacksError::Internal(format!("task named {}", before.name)))?;
    let history = attempts::list(txn, tenant, Some(task_id)).await?;
    let retry = retry_of(txn, tenant, before, None).await?;
    let rules = calling_rules_of(txn, tenant, before, now).await?;
    let due_end = before
        .due_end
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(now);
    let mut after = before.clone();
    let settled = if attempt::is_terminal(attempt::state_of(before)) {
        // The task ended meanwhile (cancelled): only the attempt closes.
        None
    } else {
        Some(attempt::settle(
            &mut after,
            CallbackOutcome::NoAnswer,
            None,
            attempt::counting(&history),
            &retry,
            now,
            now,
            |instant| {
                rules
                    .next_call(instant, due_end.max(instant))
                    .unwrap_or(instant)
            },
        ))
    };
    open.outcome = CallbackOutcome::NoAnswer as i32;
    open.end_time = Some(to_timestamp(now));
    open.recorder = Some(Actor {
        kind: ActorKind::System as i32,
        ..Actor::default()
    });
    attempts::update(txn, tenant, &open).await?;
    if after
        .latest_attempt
        .as_ref()
        .is_some_and(|latest| latest.name == open.name)
    {
        after.latest_attempt = Some(open.clone());
    }
    tasks::save(txn, tenant, before, &mut after, now).await?;
    if let Some(settled) = settled {
        append_attempt_events(txn, tenant, &after, &open, settled.ended, now).await?;
    }
    Ok(open)
}

/// Settles the SMS attempt `name` as NO_ANSWER (state EXPIRED) when its
/// reply window has passed at `now` without a usable reply. False when it
/// was answered or settled meanwhile.
pub(crate) async fn expire(
    db: &DatabaseConnection,
    tenant: TenantId,
    name: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let Some((task_id, _)) = attempt::attempt_ids(name) else {
        return Ok(false);
    };
    let txn = begin_for_tenant(db, tenant).await?;
    let before = tasks::find_for_change(&txn, tenant, &tasks::name_of(task_id), "name", "").await?;
    let Some(mut open) = attempts::find(&txn, tenant, name).await? else {
        return Ok(false);
    };
    let Some(mut delivery) = open.sms.clone() else {
        return Ok(false);
    };
    let waiting = delivery.state == CallbackSmsState::Sent as i32
        || delivery.state == CallbackSmsState::Delivered as i32;
    let passed = delivery
        .reply_deadline
        .as_ref()
        .and_then(from_timestamp)
        .is_some_and(|deadline| deadline < now);
    if !waiting || !passed || !attempt::is_open(&open) {
        return Ok(false);
    }
    delivery.state = CallbackSmsState::Expired as i32;
    open.sms = Some(delivery);
    settle_no_answer(&txn, tenant, &before, open, now).await?;
    txn.commit().await?;
    Ok(true)
}

/// RecordSmsSurveyReply.
pub(super) async fn record_sms_survey_reply(
    shared: &Shared,
    request: Request<RecordSmsSurveyReplyRequest>,
) -> Result<Response<RecordSmsSurveyReplyResponse>, Status> {
    Ok(Response::new(reply(shared, request).await?))
}

/// A phone number as received, normalised to E.164: separators dropped,
/// `00` read as `+`, an 11-digit mainland mobile given its `+86`. None when
/// it is no phone number.
pub(crate) fn normalise_phone(raw: &str) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|character| !matches!(character, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let international = if let Some(rest) = compact.strip_prefix("00") {
        format!("+{rest}")
    } else if compact.starts_with('+') {
        compact
    } else if compact.len() == 11 && compact.starts_with('1') {
        format!("+86{compact}")
    } else {
        format!("+{compact}")
    };
    let digits = &international[1..];
    (digits.len() >= 6 && digits.len() <= 15 && digits.chars().all(|c| c.is_ascii_digit()))
        .then_some(international)
}

/// The checked message: provider, message id and sender required, the
/// body cut to [`MAX_REPLY`], the receive time defaulted to `now`.
fn checked(
    mut request: RecordSmsSurveyReplyRequest,
    now: DateTime<Utc>,
) -> Result<RecordSmsSurveyReplyRequest> {
    let required = |value: &str, field: &str, limit: usize| {
        if value.is_empty() {
            return Err(CallbacksError::invalid(
                field,
                format!("{field} is required"),
            ));
        }
        if value.chars().count() > limit {
            return Err(CallbacksError::invalid(
                field,
                format!("{field} is at most {limit} characters"),
            ));
        }
        Ok(())
    };
    required(&request.provider, "provider", 50)?;
    required(&request.provider_message_id, "provider_message_id", 128)?;
    required(&request.from_phone, "from_phone", 32)?;
    if request.in_reply_to.chars().count() > 200 {
        return Err(CallbacksError::invalid(
            "in_reply_to",
            "in_reply_to is at most 200 characters",
        ));
    }
    request.from_phone = normalise_phone(&request.from_phone)
        .ok_or_else(|| CallbacksError::invalid("from_phone", "from_phone is not a phone number"))?;
    request.body = request.body.chars().take(MAX_REPLY).collect();
    if request.receive_time.is_none() {
        request.receive_time = Some(to_timestamp(now));
    }
    Ok(request)
}

fn answer(
    status: SmsSurveyReplyStatus,
    task: &str,
    response: &str,
    problems: Vec<String>,
) -> RecordSmsSurveyReplyResponse {
    RecordSmsSurveyReplyResponse {
        status: status as i32,
        callback_task: task.to_owned(),
        survey_response: response.to_owned(),
        problems,
    }
}

async fn reply(
    shared: &Shared,
    request: Request<RecordSmsSurveyReplyRequest>,
) -> Result<RecordSmsSurveyReplyResponse> {
    let (context, tenant) = caller(&request)?;
    if !holds(&context, STAFF) {
        return Err(CallbacksError::PermissionDenied(
            "your role may not record SMS replies".into(),
        ));
    }
    let now = shared.now();
    let message = checked(request.into_inner(), now)?;
    let txn = shared.begin(tenant).await?;
    let mut stored = replies::StoredReply {
        request: Some(message.clone()),
        response: None,
    };
    if !replies::claim(&txn, tenant, &stored).await? {
        let earlier = replies::find(
            &txn,
            tenant,
            &message.provider,
            &message.provider_message_id,
        )
        .await?
        .and_then(|earlier| earlier.response)
        .unwrap_or_default();
        txn.commit().await?;
        return Ok(RecordSmsSurveyReplyResponse {
            status: SmsSurveyReplyStatus::Duplicate as i32,
            problems: Vec::new(),
            ..earlier
        });
    }
    let outcome = match_and_record(&txn, tenant, &message, now).await?;
    stored.response = Some(outcome.clone());
    replies::settle(&txn, tenant, &stored).await?;
    shared.commit(txn).await?;
    Ok(outcome)
}

/// What becomes of `message`: matched to the SMS survey it answers and,
/// when readable, recorded as the task's response (the task DONE).
async fn match_and_record(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    message: &RecordSmsSurveyReplyRequest,
    now: DateTime<Utc>,
) -> Result<RecordSmsSurveyReplyResponse> {
    let received = message
        .receive_time
        .as_ref()
        .and_then(from_timestamp)
        .unwrap_or(now);
    let quoted = (!message.in_reply_to.is_empty())
        .then_some((message.provider.as_str(), message.in_reply_to.as_str()));
    let candidates = attempts::sms_to(txn, tenant, &message.from_phone, quoted).await?;
    let waiting = |attempt: &CallbackAttempt| {
        let delivery = attempt.sms.as_ref();
        let state = delivery.map(|sms| sms.state).unwrap_or_default();
        let in_time = delivery
            .and_then(|sms| sms.reply_deadline.as_ref())
            .and_then(from_timestamp)
            .is_none_or(|deadline| received <= deadline);
        attempt::is_open(attempt)
            && in_time
            && [
                CallbackSmsState::Queued as i32,
                CallbackSmsState::Sent as i32,
                CallbackSmsState::Delivered as i32,
            ]
            .contains(&state)
    };
    // The first survey waiting whose task is still open: an attempt left
    // open by a task that ended (cancelled) waits for nothing.
    let mut open = None;
    for attempt in candidates.iter().filter(|attempt| waiting(attempt)) {
        let task = tasks::find(txn, tenant, &task_of(attempt)).await?;
        if task.is_some_and(|task| !attempt::is_terminal(attempt::state_of(&task))) {
            open = Some(attempt.clone());
            break;
        }
    }
    let Some(open) = open else {
        // Nothing waits: a late reply to the latest survey to this number
        // is EXPIRED, a second reply to an answered one ALREADY_ANSWERED,
        // one to a cancelled task's survey UNMATCHED.
        let Some(latest) = candidates.first() else {
            return Ok(answer(SmsSurveyReplyStatus::Unmatched, "", "", Vec::new()));
        };
        let task = task_of(latest);
        let answered = match tasks::find(txn, tenant, &task).await? {
            Some(found)
                if found.survey_response.is_empty()
                    && attempt::state_of(&found) == CallbackTaskState::Cancelled =>
            {
                return Ok(answer(SmsSurveyReplyStatus::Unmatched, "", "", Vec::new()));
            }
            Some(found) => found.survey_response,
            None => return Ok(answer(SmsSurveyReplyStatus::Unmatched, "", "", Vec::new())),
        };
        let status = if answered.is_empty() {
            SmsSurveyReplyStatus::Expired
        } else {
            SmsSurveyReplyStatus::AlreadyAnswered
        };
        return Ok(answer(status, &task, &answered, Vec::new()));
    };
    let task_name = task_of(&open);
    let before = tasks::find_for_change(txn, tenant, &task_name, "callback_task", "").await?;
    if !before.survey_response.is_empty() {
        return Ok(answer(
            SmsSurveyReplyStatus::AlreadyAnswered,
            &before.name,
            &before.survey_response,
            Vec::new(),
        ));
    }
    if attempt::check_workable(&before).is_err() {
        return Ok(answer(SmsSurveyReplyStatus::Unmatched, "", "", Vec::new()));
    }
    let Some(survey) = survey_of(txn, tenant, &before.survey).await? else {
        return Ok(answer(SmsSurveyReplyStatus::Unmatched, "", "", Vec::new()));
    };
    let parsed = match sms_reply::parse(&message.body, &survey.dimensions) {
        Ok(parsed) => parsed,
        Err(problems) => {
            return Ok(answer(
                SmsSurveyReplyStatus::Unparseable,
                &before.name,
                "",
                problems,
            ));
        }
    };
    let customer = Actor {
        kind: ActorKind::Customer as i32,
        name: before.customer.clone(),
        display_name: before.customer_display_name.clone(),
    };
    let mut settled = open.clone();
    settled.outcome = CallbackOutcome::Reached as i32;
    settled.end_time = Some(to_timestamp(received.min(now)));
    settled.recorder = Some(customer.clone());
    if let Some(delivery) = settled.sms.as_mut() {
        delivery.state = CallbackSmsState::Replied as i32;
        delivery.reply_time = Some(to_timestamp(received));
    }
    let policy = policy_of(txn, tenant, &before.policy).await?;
    let mut after = before.clone();
    let recorded = responses::record(
        txn,
        tenant,
        &mut after,
        Recorded {
            answers: &parsed.answers,
            answers_field: "body",
            suggestion: &parsed.suggestion,
            suggestion_field: "body",
            attempt: &settled,
            channel: Channel::Sms,
            recorder: &customer,
            respond_time: received,
        },
        policy.as_ref(),
        now,
    )
    .await;
    let response = match recorded {
        Ok(response) => response,
        // What the customer typed never fails the call: an answer the
        // survey refuses leaves the attempt waiting.
        Err(CallbacksError::Invalid(violation, _)) => {
            return Ok(answer(
                SmsSurveyReplyStatus::Unparseable,
                &before.name,
                "",
                vec![violation.description],
            ));
        }
        Err(error) => return Err(error),
    };
    let retry = retry_of(txn, tenant, &before, policy.as_ref()).await?;
    let result = attempt::settle(
        &mut after,
        CallbackOutcome::Reached,
        None,
        0,
        &retry,
        received.min(now),
        now,
        |instant| instant,
    );
    attempts::update(txn, tenant, &settled).await?;
    if after
        .latest_attempt
        .as_ref()
        .is_some_and(|latest| latest.name == settled.name)
    {
        after.latest_attempt = Some(settled.clone());
    }
    tasks::save(txn, tenant, &before, &mut after, now).await?;
    append_attempt_events(txn, tenant, &after, &settled, result.ended, now).await?;
    Ok(answer(
        SmsSurveyReplyStatus::Recorded,
        &after.name,
        &response.name,
        Vec::new(),
    ))
}

/// The task an attempt belongs to.
fn task_of(attempt: &CallbackAttempt) -> String {
    attempt::attempt_ids(&attempt.name)
        .map(|(task, _)| tasks::name_of(task))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_read_as_e164() {
        assert_eq!(
            normalise_phone("138 0013 8000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            normalise_phone("+86-138-0013-8000").as_deref(),
            Some("+8613800138000")
        );
        assert_eq!(
            normalise_phone("0044 20 7946 0000").as_deref(),
            Some("+442079460000")
        );
        assert_eq!(normalise_phone("hello"), None);
        assert_eq!(normalise_phone("+"), None);
    }
}
