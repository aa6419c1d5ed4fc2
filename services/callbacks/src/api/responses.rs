//! Survey responses: recording answers (by phone, keyed in, or from an SMS
//! reply), the follow-up ticket and supervisor alert of a negative one,
//! reading them back.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    events::{from_timestamp, to_timestamp},
    filter::{self, FieldValue, Kind, OrderKey},
    idempotency, resource,
    rows::{self, ident},
};
use kefu_proto::v1::{
    Actor, CallbackAttempt, CallbackEscalation, CallbackEscalationReason, CallbackOutcome,
    CallbackPolicy, CallbackTask, CallbackTaskState, Channel, GetSurveyResponseRequest,
    ListSurveyResponsesRequest, ListSurveyResponsesResponse, Role, SatisfactionLevel,
    SubmitSurveyResponseRequest, Survey, SurveyAnswer, SurveyFollowUpRequested, SurveyResponse,
    SurveyResponseRecorded,
};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction,
    sea_query::{Expr, ExprTrait},
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, append_event,
    attempts::{actor_of, check_may_work},
    caller, caller_user, holds, page_size, remember_request,
    tasks::policy_of,
};
use crate::{
    domain::answers,
    error::{CallbacksError, Result},
    store::{attempts, responses, tasks},
};

const SUBMIT: &str = "SubmitSurveyResponse";

/// The roles that record answers.
const STAFF: &[Role] = &[Role::Agent, Role::Supervisor, Role::Manager, Role::Admin];

/// The roles that read responses.
const READERS: &[Role] = &[
    Role::Agent,
    Role::Supervisor,
    Role::Manager,
    Role::Admin,
    Role::Viewer,
];

/// The survey `name` (`surveys/{id}`) of `tenant`, if it exists.
///
/// Reads the row itself: the surveys store answers whole resources, and a
/// response only needs the dimensions and follow-up settings.
pub(crate) async fn survey_of<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Survey>> {
    let Some(id) = resource::id_in(name, "surveys").and_then(|id| Uuid::parse_str(id).ok()) else {
        return Ok(None);
    };
    let statement = rows::select_resources("surveys", tenant)
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, false, |row| {
        let (mut survey, revision) = rows::decode_revisioned::<Survey>(row)?;
        survey.etag = resource::etag(revision);
        Ok::<_, CallbacksError>(survey)
    })
    .await
}

/// Who is alerted of a task's escalation: the policy's escalation contact,
/// else the supervisor of the task's team (from the copy of the tenant).
pub(crate) async fn escalation_targets(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    policy: Option<&CallbackPolicy>,
    team: &str,
) -> Result<Vec<String>> {
    if let Some(contact) = policy
        .map(|policy| policy.escalation_contact.as_str())
        .filter(|contact| !contact.is_empty())
    {
        return Ok(vec![contact.to_owned()]);
    }
    if team.is_empty() {
        return Ok(Vec::new());
    }
    Ok(kefu_tenants::replica::team(txn, tenant, team)
        .await?
        .map(|team| team.supervisor)
        .filter(|supervisor| !supervisor.is_empty())
        .into_iter()
        .collect())
}

/// The answers being recorded and where they came from.
pub(crate) struct Recorded<'a> {
    /// The answers as sent.
    pub answers: &'a [SurveyAnswer],
    /// The request's name of the answers (`answers`, `survey_answers`).
    pub answers_field: &'a str,
    /// The suggestion as sent.
    pub suggestion: &'a str,
    /// The request's name of the suggestion.
    pub suggestion_field: &'a str,
    /// The attempt during which they were given (may be unnamed: none).
    pub attempt: &'a CallbackAttempt,
    /// How they were given.
    pub channel: Channel,
    /// Who records them.
    pub recorder: &'a Actor,
    /// When the customer answered.
    pub respond_time: DateTime<Utc>,
}

/// Records the survey response of `task` (changed in place: its response
/// and, for a negative answer, the NEGATIVE_SURVEY escalation; the caller
/// saves it): checks the answers against the task's survey, stores the
/// response (ALREADY_EXISTS `SURVEY_ALREADY_SUBMITTED` when the task has
/// one), and appends SurveyResponseRecorded and, for an average or poor
/// answer, SurveyFollowUpRequested. Shared by RecordCallbackOutcome,
/// SubmitSurveyResponse and the SMS replies.
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    task: &mut CallbackTask,
    recorded: Recorded<'_>,
    policy: Option<&CallbackPolicy>,
    now: DateTime<Utc>,
) -> Result<SurveyResponse> {
    if task.survey.is_empty() {
        return Err(CallbacksError::precondition(
            format!("{} has no survey", task.name),
            "ILLEGAL_TRANSITION",
        ));
    }
    let survey = survey_of(txn, tenant, &task.survey).await?.ok_or_else(|| {
        CallbacksError::precondition(
            format!(
                "the survey {} of {} no longer exists",
                task.survey, task.name
            ),
            "ILLEGAL_TRANSITION",
        )
    })?;
    let checked = answers::validate(&survey, recorded.answers, recorded.answers_field)?;
    let suggestion = answers::suggestion(recorded.suggestion, recorded.suggestion_field)?;
    if !task.survey_response.is_empty()
        || responses::find_by_task(txn, tenant, &task.name)
            .await?
            .is_some()
    {
        return Err(already_submitted(task));
    }
    let lowest = answers::lowest_level(&checked);
    let negative = answers::negative_answers(&checked);
    let follow_up_requested = !negative.is_empty();
    // The answers feed the evaluation of the agent who collected them: the
    // caller of a phone attempt, the task's assignee for an SMS reply.
    let agent = if recorded.attempt.agent.is_empty() || recorded.channel == Channel::Sms {
        task.assignee.clone()
    } else {
        recorded.attempt.agent.clone()
    };
    let response = SurveyResponse {
        name: responses::name_of(Uuid::now_v7()),
        survey: survey.name.clone(),
        callback_task: task.name.clone(),
        attempt: recorded.attempt.name.clone(),
        policy: task.policy.clone(),
        campaign: task.campaign.clone(),
        customer: task.customer.clone(),
        agent: agent.clone(),
        team: task.team.clone(),
        channel: recorded.channel as i32,
        answers: checked.clone(),
        suggestion: suggestion.clone(),
        lowest_level: lowest as i32,
        follow_up_requested,
        follow_up_ticket: String::new(),
        related_ticket: task.related_ticket.clone(),
        related_dispatch: task.related_dispatch.clone(),
        related_complaint: task.related_complaint.clone(),
        respond_time: Some(to_timestamp(recorded.respond_time)),
        recorder: Some(recorded.recorder.clone()),
        create_time: Some(to_timestamp(now)),
    };
    if !responses::insert(txn, tenant, &response).await? {
        return Err(already_submitted(task));
    }
    task.survey_response = response.name.clone();
    let event = SurveyResponseRecorded {
        survey_response: response.name.clone(),
        survey: response.survey.clone(),
        callback_task: task.name.clone(),
        policy: task.policy.clone(),
        campaign: task.campaign.clone(),
        trigger: task.trigger,
        customer: task.customer.clone(),
        agent: agent.clone(),
        team: task.team.clone(),
        related_ticket: task.related_ticket.clone(),
        related_dispatch: task.related_dispatch.clone(),
        related_complaint: task.related_complaint.clone(),
        related_technician: tasks::render_context(txn, tenant, &task.name)
            .await?
            .and_then(|mut context| context.remove(crate::consumers::triggers::TECHNICIAN_KEY))
            .unwrap_or_default(),
        channel: response.channel,
        answers: checked.clone(),
        suggestion: suggestion.clone(),
        lowest_level: response.lowest_level,
        follow_up_requested,
        respond_time: response.respond_time,
    };
    append_event(txn, tenant, &response.name, &event, now).await?;
    if follow_up_requested {
        let notify_users = escalation_targets(txn, tenant, policy, &task.team).await?;
        task.escalations.push(CallbackEscalation {
            reason: CallbackEscalationReason::NegativeSurvey as i32,
            escalate_time: Some(to_timestamp(now)),
            escalated_to: notify_users.clone(),
        });
        let locale = kefu_tenants::replica::tenant(txn, tenant)
            .await?
            .map(|tenant| tenant.locale)
            .unwrap_or_default();
        let follow_up = SurveyFollowUpRequested {
            survey_response: response.name.clone(),
            callback_task: task.name.clone(),
            customer: task.customer.clone(),
            related_ticket: task.related_ticket.clone(),
            related_dispatch: task.related_dispatch.clone(),
            related_complaint: task.related_complaint.clone(),
            ticket_kind: survey.follow_up_ticket_kind.clone(),
            priority: answers::follow_up_priority(&survey, &checked) as i32,
            subject: Some(answers::follow_up_subject(&negative, &locale)),
            description: Some(answers::follow_up_description(
                &negative,
                &suggestion,
                &recorded.attempt.notes,
                &locale,
            )),
            negative_answers: negative,
            suggestion,
            attempt_notes: recorded.attempt.notes.clone(),
            channel: recorded.channel as i32,
            agent,
            team: task.team.clone(),
            notify_users,
        };
        append_event(txn, tenant, &response.name, &follow_up, now).await?;
    }
    Ok(response)
}

fn already_submitted(task: &CallbackTask) -> CallbacksError {
    CallbacksError::AlreadyExists(
        format!(
            "{} already has a survey response; responses are never overwritten",
            task.name
        ),
        Some("SURVEY_ALREADY_SUBMITTED"),
    )
}

/// SubmitSurveyResponse.
pub(super) async fn submit_survey_response(
    shared: &Shared,
    request: Request<SubmitSurveyResponseRequest>,
) -> Result<Response<SurveyResponse>, Status> {
    Ok(Response::new(submit(shared, request).await?))
}

async fn submit(
    shared: &Shared,
    request: Request<SubmitSurveyResponseRequest>,
) -> Result<SurveyResponse> {
    let (context, tenant) = caller(&request)?;
    if !holds(&context, STAFF) {
        return Err(CallbacksError::PermissionDenied(
            "your role may not record survey responses".into(),
        ));
    }
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id).await?
    {
        if remembered.method != SUBMIT {
            return Err(CallbacksError::invalid(
                "request_id",
                format!("request_id was used for {}", remembered.method),
            ));
        }
        let response = responses::find(&txn, tenant, &remembered.resource_name, false)
            .await?
            .ok_or_else(|| CallbacksError::not_found(&remembered.resource_name))?;
        txn.commit().await?;
        return Ok(response);
    }
    let before =
        tasks::find_for_change(&txn, tenant, &request.callback_task, "callback_task", "").await?;
    check_may_work(&context, &before)?;
    let state = CallbackTaskState::try_from(before.state).unwrap_or_default();
    if matches!(
        state,
        CallbackTaskState::Cancelled | CallbackTaskState::Failed
    ) {
        return Err(CallbacksError::precondition(
            format!(
                "{} is {}: it takes no survey response",
                before.name,
                state
                    .as_str_name()
                    .trim_start_matches("CALLBACK_TASK_STATE_")
            ),
            "ILLEGAL_TRANSITION",
        ));
    }
    let task_id = tasks::id_of(&before.name)
        .ok_or_else(|| CallbacksError::Internal(format!("task named {}", before.name)))?;
    let history = attempts::list(&txn, tenant, Some(task_id)).await?;
    let attempt = if request.attempt.is_empty() {
        history
            .iter()
            .rev()
            .find(|attempt| attempt.outcome == CallbackOutcome::Reached as i32)
            .cloned()
            .unwrap_or_default()
    } else {
        history
            .iter()
            .find(|attempt| attempt.name == request.attempt)
            .cloned()
            .ok_or_else(|| {
                CallbacksError::invalid(
                    "attempt",
                    format!("{} is not an attempt of {}", request.attempt, before.name),
                )
            })?
    };
    let actor = actor_of(&txn, tenant, &context).await?;
    let channel = if attempt.channel == Channel::Sms as i32 {
        Channel::Sms
    } else {
        Channel::Phone
    };
    let policy = policy_of(&txn, tenant, &before.policy).await?;
    let mut after = before.clone();
    let response = record(
        &txn,
        tenant,
        &mut after,
        Recorded {
            answers: &request.answers,
            answers_field: "answers",
            suggestion: &request.suggestion,
            suggestion_field: "suggestion",
            attempt: &attempt,
            channel,
            recorder: &actor,
            respond_time: attempt
                .end_time
                .as_ref()
                .and_then(from_timestamp)
                .unwrap_or(now),
        },
        policy.as_ref(),
        now,
    )
    .await?;
    tasks::save(&txn, tenant, &before, &mut after, now).await?;
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        SUBMIT,
        &response.name,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(response)
}

/// GetSurveyResponse.
pub(super) async fn get_survey_response(
    shared: &Shared,
    request: Request<GetSurveyResponseRequest>,
) -> Result<Response<SurveyResponse>, Status> {
    let (context, tenant) = caller(&request)?;
    if !holds(&context, READERS) {
        return Err(CallbacksError::PermissionDenied(
            "your role may not read survey responses".into(),
        )
        .into());
    }
    let name = request.into_inner().name;
    if name.is_empty() {
        return Err(CallbacksError::invalid("name", "name is required").into());
    }
    if resource::id_in(&name, responses::COLLECTION).is_none() {
        return Err(CallbacksError::invalid("name", "name must be surveyResponses/{id}").into());
    }
    let txn = shared
        .begin_read(tenant)
        .await
        .map_err(CallbacksError::from)?;
    let found = responses::find(&txn, tenant, &name, false).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    Ok(Response::new(
        found.ok_or_else(|| CallbacksError::not_found(&name))?,
    ))
}

/// The fields ListSurveyResponses filters on.
const FILTER_FIELDS: &[(&str, Kind)] = &[
    ("survey", Kind::Text),
    ("policy", Kind::Text),
    ("campaign", Kind::Text),
    ("customer", Kind::Text),
    ("agent", Kind::Text),
    ("team", Kind::Text),
    ("channel", Kind::Enum("CHANNEL_")),
    ("lowest_level", Kind::Enum("SATISFACTION_LEVEL_")),
    ("follow_up_requested", Kind::Bool),
    ("related_ticket", Kind::Text),
    ("respond_time", Kind::Time),
];

fn field_values(response: &SurveyResponse, field: &str) -> Vec<FieldValue> {
    let text = |value: &str| vec![FieldValue::Text(value.to_owned())];
    match field {
        "survey" => text(&response.survey),
        "policy" => text(&response.policy),
        "campaign" => text(&response.campaign),
        "customer" => text(&response.customer),
        "agent" => text(&response.agent),
        "team" => text(&response.team),
        "related_ticket" => text(&response.related_ticket),
        "channel" => Channel::try_from(response.channel)
            .map(|channel| vec![FieldValue::Enum(channel.as_str_name().to_owned())])
            .unwrap_or_default(),
        "lowest_level" => SatisfactionLevel::try_from(response.lowest_level)
            .map(|level| vec![FieldValue::Enum(level.as_str_name().to_owned())])
            .unwrap_or_default(),
        "follow_up_requested" => vec![FieldValue::Bool(response.follow_up_requested)],
        "respond_time" => response
            .respond_time
            .as_ref()
            .and_then(from_timestamp)
            .map(|time| vec![FieldValue::Time(time)])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// ListSurveyResponses.
pub(super) async fn list_survey_responses(
    shared: &Shared,
    request: Request<ListSurveyResponsesRequest>,
) -> Result<Response<ListSurveyResponsesResponse>, Status> {
    Ok(Response::new(list(shared, request).await?))
}

async fn list(
    shared: &Shared,
    request: Request<ListSurveyResponsesRequest>,
) -> Result<ListSurveyResponsesResponse> {
    let (context, tenant) = caller(&request)?;
    if !holds(&context, READERS) {
        return Err(CallbacksError::PermissionDenied(
            "your role may not read survey responses".into(),
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
        &["respond_time", "create_time"],
        OrderKey {
            field: "respond_time",
            descending: true,
        },
    )
    .map_err(invalid("order_by"))?;
    let offset = filter::page_offset(&request.page_token).map_err(invalid("page_token"))?;
    let txn = shared.begin_read(tenant).await?;
    let mut found: Vec<SurveyResponse> = responses::list(&txn, tenant)
        .await?
        .into_iter()
        .filter(|response| wanted.matches(|field| field_values(response, field)))
        .collect();
    txn.commit().await?;
    found.sort_by(|left, right| {
        filter::compare(left, right, &order, |response, field| match field {
            "create_time" => response.create_time.as_ref().and_then(from_timestamp),
            _ => response.respond_time.as_ref().and_then(from_timestamp),
        })
        .then_with(|| right.name.cmp(&left.name))
    });
    let total_size = i32::try_from(found.len()).unwrap_or(i32::MAX);
    let (page, next_page_token) = filter::page(found, offset, size);
    Ok(ListSurveyResponsesResponse {
        survey_responses: page,
        next_page_token,
        total_size,
    })
}
