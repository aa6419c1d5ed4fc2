//! Callback outcomes and the satisfaction survey through the gateway on
//! both backends, the whole stack on a manual clock (Shanghai daytime,
//! outside the generic template's quiet hours 21:00–08:00 and 12:00–13:30).
//!
//! A resolved inquiry makes a task for the team's agent; the agent starts
//! the call and records REACHED with a POOR answer: the task is DONE, the
//! survey response asks for a follow-up and alerts the supervisor, the
//! tickets service opens the follow-up ticket under the original, and the
//! response learns its number. Another agent may not work the task, another
//! tenant does not find it, a level out of range names `answers[0].level`,
//! an appointment in quiet hours names `appointment_time` (QUIET_HOURS).
//! Unanswered calls are retried after the policy's spacing and fail the task
//! at the maximum (a call-back appointment does not count). A survey sent
//! by SMS is answered by text (`1123 …`, once: the provider's redelivery is
//! a DUPLICATE; unreadable, stray, second and late replies say so), one
//! left unanswered expires into a NO_ANSWER attempt, one asked for in the
//! lunch rest waits until 13:30, and a policy's SMS fallback texts the
//! survey when the calls are used up. Erasing the customer keeps the levels
//! and drops the person: the responses lose the customer and the
//! suggestion, the attempts and the texts are gone.

use kefu_kit::testing::Backend;
use kefu_proto::v1::{
    CallbackEscalationReason, CallbackOutcome, CallbackPolicy, CallbackRetryPolicy,
    CallbackSmsState, CallbackTask, CallbackTaskCompleted, CallbackTaskState, CallbackTrigger,
    Channel, ContactPreferences, CreateCallbackTaskRequest, CreateSurveyRequest, Customer,
    EraseCustomerRequest, ErasureRequester, GetCallbackAttemptRequest, GetSurveyResponseRequest,
    Industry, ListCallbackAttemptsRequest, ListCallbackScriptsRequest, ListTicketsRequest,
    RecordCallbackOutcomeRequest, RecordSmsSurveyReplyRequest, Role, SatisfactionLevel,
    SendSurveyBySmsRequest, SmsSurveyReplyStatus, StartCallbackAttemptRequest,
    SubmitSurveyResponseRequest, Survey, SurveyAnswer, SurveyDimension, SurveyFollowUpRequested,
    SurveyResponse, SurveyResponseRecorded, UpdateCustomerRequest,
    callback_service_client::CallbackServiceClient,
};
use tonic::Code;

use crate::{
    callbacks_support::{
        Desk, at, bilingual, count_events, create_policy, desk, get_task, inquiry_policy,
        resolved_task, shanghai, start_at, team_policy,
    },
    eventually::eventually,
    gateway::reason,
    stack::Bearer,
    tenants::field_of,
    tickets_support::{WAIT, join_as, new_customer, new_ticket, until_known},
};

const INQUIRY: &str = "ticketKinds/inquiry";

fn answer(dimension: &str, level: SatisfactionLevel) -> SurveyAnswer {
    SurveyAnswer {
        dimension: dimension.into(),
        level: level as i32,
        ..SurveyAnswer::default()
    }
}

/// The four standard dimensions; promises kept may be skipped.
fn survey() -> Survey {
    let dimension = |key: &str, zh: &str, en: &str, required: bool| SurveyDimension {
        key: key.into(),
        label: bilingual(zh, en),
        question: bilingual(
            &format!("您对{zh}满意吗?"),
            &format!("How satisfied were you with {en}?"),
        ),
        required,
    };
    Survey {
        display_name: bilingual("售后服务满意度调查", "After-sales survey"),
        dimensions: vec![
            dimension("attitude", "服务态度", "Attitude", true),
            dimension("skill", "业务技能", "Skill", true),
            dimension("timeliness", "及时性", "Timeliness", true),
            dimension("promises_kept", "承诺兑现", "Promises kept", false),
        ],
        sms_template: bilingual(
            "感谢您选择我们。{{survey.reply_instructions}}",
            "Thank you. {{survey.reply_instructions}}",
        ),
        ..Survey::default()
    }
}

async fn get_response(client: &CallbackServiceClient<Bearer>, name: &str) -> SurveyResponse {
    client
        .clone()
        .get_survey_response(GetSurveyResponseRequest { name: name.into() })
        .await
        .expect("get response")
        .into_inner()
}

/// A reply from `phone` with message id `id` and `body`.
fn sms_reply(id: &str, phone: &str, body: &str) -> RecordSmsSurveyReplyRequest {
    RecordSmsSurveyReplyRequest {
        provider: "log".into(),
        provider_message_id: id.into(),
        from_phone: phone.into(),
        body: body.into(),
        ..RecordSmsSurveyReplyRequest::default()
    }
}

async fn callbacks_survey(backend: Backend) {
    let Some((stack, clock)) = start_at(backend, "2026-12-01 10:00").await else {
        return;
    };
    let Desk {
        slug,
        admin,
        agent_user,
        agent,
        supervisor_user,
        team,
        callbacks_db,
        ..
    } = desk(&stack, "cbsurvey", "callbacks", "回访组", true).await;
    let (_, other_agent) = join_as(&stack, &admin, &slug, "other", &[Role::Agent]).await;

    let as_admin = stack.callbacks(Some(&admin));
    let as_agent = stack.callbacks(Some(&agent));
    let as_other = stack.callbacks(Some(&other_agent));
    let survey = as_admin
        .clone()
        .create_survey(CreateSurveyRequest {
            survey: Some(survey()),
            ..CreateSurveyRequest::default()
        })
        .await
        .expect("survey")
        .into_inner();
    create_policy(
        &as_admin,
        CallbackPolicy {
            display_name: bilingual("咨询回访", "Inquiry follow-up"),
            retry: Some(CallbackRetryPolicy {
                max_attempts: 2,
                retry_interval: Some(prost_types::Duration {
                    seconds: 600,
                    nanos: 0,
                }),
                ..CallbackRetryPolicy::default()
            }),
            survey: survey.name.clone(),
            ..inquiry_policy(&team.name)
        },
    )
    .await
    .expect("policy");

    let customer = new_customer(&stack, &admin, "王芳", "13800138000").await;
    let tickets = stack.tickets(Some(&admin));

    // --- Reached with a poor answer: the follow-up ticket -------------------
    let original = new_ticket(&tickets, INQUIRY, &customer, "送货时间查询").await;
    let task = resolved_task(&tickets, &as_admin, &original.name, "已处理").await;
    assert_eq!(task.assignee, agent_user);
    assert_eq!(task.survey, survey.name);

    // Another agent may neither call nor record.
    let status = as_other
        .clone()
        .start_callback_attempt(StartCallbackAttemptRequest {
            name: task.name.clone(),
            ..StartCallbackAttemptRequest::default()
        })
        .await
        .expect_err("another agent's task");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = as_other
        .clone()
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: task.name.clone(),
            outcome: CallbackOutcome::Reached as i32,
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect_err("another agent's task");
    assert_eq!(status.code(), Code::PermissionDenied);

    let attempt = as_agent
        .clone()
        .start_callback_attempt(StartCallbackAttemptRequest {
            name: task.name.clone(),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("the call starts")
        .into_inner();
    assert_eq!(attempt.attempt_number, 1);
    assert_eq!(attempt.agent, agent_user);
    assert_eq!(
        get_task(&as_agent, &task.name).await.state,
        CallbackTaskState::InProgress as i32
    );

    // A level out of range names the answer; nothing is written.
    let status = as_agent
        .clone()
        .submit_survey_response(SubmitSurveyResponseRequest {
            callback_task: task.name.clone(),
            answers: vec![
                SurveyAnswer {
                    dimension: "attitude".into(),
                    level: 9,
                    ..SurveyAnswer::default()
                },
                answer("skill", SatisfactionLevel::Satisfied),
                answer("timeliness", SatisfactionLevel::Satisfied),
            ],
            ..SubmitSurveyResponseRequest::default()
        })
        .await
        .expect_err("level 9");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_of(&status), "answers[0].level");
    let unchanged = get_task(&as_agent, &task.name).await;
    assert!(unchanged.survey_response.is_empty(), "nothing recorded");
    assert_eq!(unchanged.state, CallbackTaskState::InProgress as i32);

    clock.set(shanghai("2026-12-01 10:05"));
    let done = as_agent
        .clone()
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: task.name.clone(),
            attempt: attempt.name.clone(),
            outcome: CallbackOutcome::Reached as i32,
            notes: "客户对送货速度不满".into(),
            survey_answers: vec![
                answer("attitude", SatisfactionLevel::Poor),
                answer("skill", SatisfactionLevel::Satisfied),
                answer("timeliness", SatisfactionLevel::Average),
            ],
            survey_suggestion: "送货有点慢".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect("reached")
        .into_inner();
    assert_eq!(done.state, CallbackTaskState::Done as i32);
    assert_eq!(done.outcome, CallbackOutcome::Reached as i32);
    assert!(done.completed_within_window);
    assert_eq!(done.attempt_count, 1);
    assert!(!done.survey_response.is_empty());
    let escalation = done
        .escalations
        .iter()
        .find(|escalation| escalation.reason == CallbackEscalationReason::NegativeSurvey as i32)
        .expect("the supervisor is alerted");
    assert_eq!(escalation.escalated_to, vec![supervisor_user.clone()]);
    let response = get_response(&as_agent, &done.survey_response).await;
    assert!(response.follow_up_requested);
    assert_eq!(response.lowest_level, SatisfactionLevel::Poor as i32);
    assert_eq!(response.related_ticket, original.name);
    assert_eq!(response.suggestion, "送货有点慢");
    assert_eq!(response.answers.len(), 3);

    // The tickets service opens the follow-up under the original ticket.
    let follow_ups = || {
        let mut tickets = tickets.clone();
        let filter = format!("parent_ticket = \"{}\"", original.name);
        async move {
            tickets
                .list_tickets(ListTicketsRequest {
                    filter,
                    ..ListTicketsRequest::default()
                })
                .await
                .expect("list tickets")
                .into_inner()
                .tickets
        }
    };
    eventually("the follow-up ticket is opened", WAIT, || async {
        !follow_ups().await.is_empty()
    })
    .await;
    let opened = follow_ups().await;
    assert_eq!(opened.len(), 1, "one follow-up per response");
    let follow_up = &opened[0];
    assert_eq!(follow_up.source_survey_response, response.name);
    assert_eq!(follow_up.source_callback_task, task.name);
    assert_eq!(follow_up.customer, customer);
    assert!(
        follow_up.subject.contains("服务态度"),
        "{}",
        follow_up.subject
    );
    eventually("the response names its follow-up ticket", WAIT, || async {
        get_response(&as_agent, &response.name)
            .await
            .follow_up_ticket
            == follow_up.name
    })
    .await;

    assert_eq!(
        count_events::<SurveyFollowUpRequested>(&callbacks_db, &response.name).await,
        1
    );
    assert_eq!(
        count_events::<SurveyResponseRecorded>(&callbacks_db, &response.name).await,
        1
    );
    assert_eq!(
        count_events::<CallbackTaskCompleted>(&callbacks_db, &task.name).await,
        1
    );

    // Responses are never overwritten; ended tasks take no more outcomes.
    let status = as_agent
        .clone()
        .submit_survey_response(SubmitSurveyResponseRequest {
            callback_task: task.name.clone(),
            answers: vec![
                answer("attitude", SatisfactionLevel::Satisfied),
                answer("skill", SatisfactionLevel::Satisfied),
                answer("timeliness", SatisfactionLevel::Satisfied),
            ],
            ..SubmitSurveyResponseRequest::default()
        })
        .await
        .expect_err("a second response");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(reason(&status), "SURVEY_ALREADY_SUBMITTED");
    let status = as_agent
        .clone()
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: task.name.clone(),
            outcome: CallbackOutcome::NoAnswer as i32,
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect_err("a DONE task");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // Another tenant does not find the task.
    let b = stack.onboard("cbsurveyb", Industry::Generic).await;
    let status = stack
        .callbacks(Some(&b.admin_session))
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: task.name.clone(),
            outcome: CallbackOutcome::Reached as i32,
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect_err("another tenant's task");
    assert_eq!(status.code(), Code::NotFound);

    // --- No answer: retried after the spacing, failed at the maximum -------
    let second = new_ticket(&tickets, INQUIRY, &customer, "退货地址查询").await;
    let task = resolved_task(&tickets, &as_admin, &second.name, "已处理").await;
    let status = as_agent
        .clone()
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: task.name.clone(),
            outcome: CallbackOutcome::CallBackLater as i32,
            appointment_time: Some(kefu_kit::events::to_timestamp(shanghai("2026-12-01 22:00"))),
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect_err("an appointment in quiet hours");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_of(&status), "appointment_time");
    assert_eq!(reason(&status), "QUIET_HOURS");
    assert_eq!(get_task(&as_agent, &task.name).await.attempt_count, 0);

    let retried = as_agent
        .clone()
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: task.name.clone(),
            outcome: CallbackOutcome::NoAnswer as i32,
            notes: "无人接听".into(),
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect("no answer")
        .into_inner();
    assert_eq!(retried.state, CallbackTaskState::Pending as i32);
    assert_eq!(retried.attempt_count, 1);
    assert_eq!(
        at(retried.next_call_time.as_ref()),
        Some(shanghai("2026-12-01 10:15")),
        "retried after the policy's 10 minutes"
    );
    // The customer picks up and asks to be called at 15:00: an appointment,
    // not an unanswered call.
    let later_today = as_agent
        .clone()
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: task.name.clone(),
            outcome: CallbackOutcome::CallBackLater as i32,
            appointment_time: Some(kefu_kit::events::to_timestamp(shanghai("2026-12-01 15:00"))),
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect("call back later")
        .into_inner();
    assert_eq!(later_today.state, CallbackTaskState::Pending as i32);
    assert_eq!(
        at(later_today.appointment_time.as_ref()),
        Some(shanghai("2026-12-01 15:00"))
    );
    assert_eq!(
        at(later_today.next_call_time.as_ref()),
        Some(shanghai("2026-12-01 15:00"))
    );
    clock.set(shanghai("2026-12-01 10:20"));
    let failed = as_agent
        .clone()
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: task.name.clone(),
            outcome: CallbackOutcome::NoAnswer as i32,
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect("no answer again")
        .into_inner();
    assert_eq!(failed.state, CallbackTaskState::Failed as i32);
    assert_eq!(failed.outcome, CallbackOutcome::NoAnswer as i32);
    assert_eq!(
        failed.attempt_count, 3,
        "two unanswered calls and the appointment"
    );
    assert!(failed.next_call_time.is_none());
    let record = as_agent
        .clone()
        .list_callback_attempts(ListCallbackAttemptsRequest {
            parent: task.name.clone(),
            ..ListCallbackAttemptsRequest::default()
        })
        .await
        .expect("the record")
        .into_inner();
    assert_eq!(
        record
            .callback_attempts
            .iter()
            .map(|attempt| attempt.outcome)
            .collect::<Vec<_>>(),
        vec![
            CallbackOutcome::NoAnswer as i32,
            CallbackOutcome::CallBackLater as i32,
            CallbackOutcome::NoAnswer as i32,
        ]
    );
    assert_eq!(record.callback_attempts[0].notes, "无人接听");

    // --- The survey by SMS, answered by text --------------------------------
    let third = new_ticket(&tickets, INQUIRY, &customer, "安装预约").await;
    let task = resolved_task(&tickets, &as_admin, &third.name, "已处理").await;
    // No text goes to a customer who has not agreed to receive them.
    let refused = as_agent
        .clone()
        .send_survey_by_sms(SendSurveyBySmsRequest {
            name: task.name.clone(),
            ..SendSurveyBySmsRequest::default()
        })
        .await
        .expect_err("no consent, no text");
    assert_eq!(reason(&refused), "NO_CONTACT_PHONE", "{refused:?}");
    stack
        .customers(Some(&admin))
        .update_customer(UpdateCustomerRequest {
            customer: Some(Customer {
                name: customer.clone(),
                contact_preferences: Some(ContactPreferences {
                    sms_consent: true,
                    ..ContactPreferences::default()
                }),
                ..Customer::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["contact_preferences.sms_consent".into()],
            }),
        })
        .await
        .expect("the customer agrees to texts");
    // The survey goes out once the consent reaches the callbacks service's
    // copy of the customer.
    let sent = until_known(
        |status| status.code() == Code::FailedPrecondition && reason(status) == "NO_CONTACT_PHONE",
        || {
            let mut client = as_agent.clone();
            let name = task.name.clone();
            async move {
                client
                    .send_survey_by_sms(SendSurveyBySmsRequest {
                        name,
                        ..SendSurveyBySmsRequest::default()
                    })
                    .await
            }
        },
    )
    .await
    .expect("the survey is texted");
    let delivery = sent.sms.clone().expect("sms details");
    assert_eq!(delivery.state, CallbackSmsState::Sent as i32);
    assert_eq!(delivery.provider, "log");
    assert_eq!(delivery.to_phone, "+8613800138000");
    assert!(
        delivery.body.contains("1.服务态度") || delivery.body.contains("1.Attitude"),
        "the text says how to answer: {}",
        delivery.body
    );
    let unreadable = as_admin
        .clone()
        .record_sms_survey_reply(sms_reply("inbound-0", "13800138000", "挺好的"))
        .await
        .expect("an unreadable reply is no error")
        .into_inner();
    assert_eq!(unreadable.status, SmsSurveyReplyStatus::Unparseable as i32);
    assert_eq!(unreadable.callback_task, task.name);
    assert_eq!(
        unreadable.problems,
        vec!["expected 4 digits, got 0".to_owned()]
    );
    let stranger = as_admin
        .clone()
        .record_sms_survey_reply(sms_reply("inbound-x", "+8613900000000", "1111"))
        .await
        .expect("a stranger's text")
        .into_inner();
    assert_eq!(stranger.status, SmsSurveyReplyStatus::Unmatched as i32);
    let reply = sms_reply("inbound-1", "138 0013 8000", "１１２３ 送货有点慢");
    let recorded = as_admin
        .clone()
        .record_sms_survey_reply(reply.clone())
        .await
        .expect("reply")
        .into_inner();
    assert_eq!(recorded.status, SmsSurveyReplyStatus::Recorded as i32);
    assert_eq!(recorded.callback_task, task.name);
    let again = as_admin
        .clone()
        .record_sms_survey_reply(reply)
        .await
        .expect("redelivered reply")
        .into_inner();
    assert_eq!(again.status, SmsSurveyReplyStatus::Duplicate as i32);
    assert_eq!(again.survey_response, recorded.survey_response);
    let texted = get_task(&as_agent, &task.name).await;
    assert_eq!(texted.state, CallbackTaskState::Done as i32);
    let second_reply = as_admin
        .clone()
        .record_sms_survey_reply(sms_reply("inbound-2", "+8613800138000", "4444"))
        .await
        .expect("a second reply")
        .into_inner();
    assert_eq!(
        second_reply.status,
        SmsSurveyReplyStatus::AlreadyAnswered as i32
    );
    assert_eq!(second_reply.survey_response, recorded.survey_response);
    let response = get_response(&as_agent, &recorded.survey_response).await;
    assert_eq!(response.channel, Channel::Sms as i32);
    assert_eq!(response.suggestion, "送货有点慢");
    assert_eq!(
        response
            .answers
            .iter()
            .map(|answer| answer.level)
            .collect::<Vec<_>>(),
        vec![1, 1, 2, 3]
    );

    // --- An SMS policy texts by itself; an unanswered survey expires -------
    // The customer now agrees to texts: the SMS policy's next task queues
    // its survey by itself, and the SMS scan hands it to the provider.
    let fourth = new_ticket(&tickets, INQUIRY, &customer, "发票补寄").await;
    let task = resolved_task(&tickets, &as_admin, &fourth.name, "已处理").await;
    let queued = task
        .latest_attempt
        .clone()
        .expect("the survey queued by itself");
    assert_eq!(queued.channel, Channel::Sms as i32);
    let again = as_agent
        .clone()
        .send_survey_by_sms(SendSurveyBySmsRequest {
            name: task.name.clone(),
            ..SendSurveyBySmsRequest::default()
        })
        .await
        .expect_err("the survey is already under way");
    assert_eq!(reason(&again), "ATTEMPT_IN_PROGRESS", "{again:?}");
    kefu_callbacks::consumers::sms::scan_sms(&callbacks_db, shanghai("2026-12-01 10:21"))
        .await
        .expect("sms scan");
    let handed = get_task(&as_agent, &task.name).await;
    assert_eq!(
        handed
            .latest_attempt
            .and_then(|attempt| attempt.sms)
            .map(|sms| sms.state),
        Some(CallbackSmsState::Sent as i32)
    );
    // Two days later (the scan is given the time: sessions would expire if
    // the stack's clock jumped that far).
    let later = shanghai("2026-12-03 11:00");
    kefu_callbacks::consumers::sms::scan_sms(&callbacks_db, later)
        .await
        .expect("sms scan");
    let expired = get_task(&as_agent, &task.name).await;
    assert_eq!(
        expired.state,
        CallbackTaskState::Pending as i32,
        "one of two attempts used"
    );
    let latest = expired.latest_attempt.expect("the SMS attempt");
    assert_eq!(latest.outcome, CallbackOutcome::NoAnswer as i32);
    assert_eq!(
        latest.sms.map(|sms| sms.state),
        Some(CallbackSmsState::Expired as i32)
    );
    let late = as_admin
        .clone()
        .record_sms_survey_reply(RecordSmsSurveyReplyRequest {
            receive_time: Some(kefu_kit::events::to_timestamp(later)),
            ..sms_reply("inbound-3", "13800138000", "2222")
        })
        .await
        .expect("a late reply")
        .into_inner();
    assert_eq!(late.status, SmsSurveyReplyStatus::Expired as i32);
    assert_eq!(late.callback_task, task.name);

    // --- The SMS fallback: used-up calls send the survey by text -----------
    let script = as_admin
        .clone()
        .list_callback_scripts(ListCallbackScriptsRequest::default())
        .await
        .expect("the seeded scripts")
        .into_inner()
        .callback_scripts
        .into_iter()
        .next()
        .expect("a seeded script")
        .name;
    let fallback = create_policy(
        &as_admin,
        CallbackPolicy {
            display_name: bilingual("手工回访", "Manual follow-up"),
            retry: Some(CallbackRetryPolicy {
                max_attempts: 1,
                sms_fallback: true,
                ..CallbackRetryPolicy::default()
            }),
            survey: survey.name.clone(),
            script,
            // A phone policy: its calls come first, the text only after.
            ..team_policy(CallbackTrigger::Manual, Channel::Phone, &team.name, "")
        },
    )
    .await
    .expect("fallback policy");
    let by_hand = as_admin
        .clone()
        .create_callback_task(CreateCallbackTaskRequest {
            callback_task: Some(CallbackTask {
                policy: fallback.name.clone(),
                customer: customer.clone(),
                assignee: agent_user.clone(),
                subject: "安装满意度回访".into(),
                ..CallbackTask::default()
            }),
            ..CreateCallbackTaskRequest::default()
        })
        .await
        .expect("a task by hand")
        .into_inner();
    let fell_back = as_agent
        .clone()
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: by_hand.name.clone(),
            outcome: CallbackOutcome::NoAnswer as i32,
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect("the only call unanswered")
        .into_inner();
    assert_eq!(
        fell_back.state,
        CallbackTaskState::InProgress as i32,
        "not failed: the survey went by SMS"
    );
    assert_eq!(fell_back.attempt_count, 2);
    let texted = fell_back.latest_attempt.expect("the SMS attempt");
    assert_eq!(texted.channel, Channel::Sms as i32);
    assert_eq!(
        texted.sms.map(|sms| sms.state),
        Some(CallbackSmsState::Sent as i32)
    );

    // --- A survey due in the lunch rest waits until 13:30 ------------------
    clock.set(shanghai("2026-12-01 12:30"));
    let fifth = new_ticket(&tickets, INQUIRY, &customer, "配件咨询").await;
    let task = resolved_task(&tickets, &as_admin, &fifth.name, "已处理").await;
    let queued = task
        .latest_attempt
        .clone()
        .and_then(|attempt| attempt.sms)
        .expect("the survey queued by itself");
    assert_eq!(queued.state, CallbackSmsState::Queued as i32);
    assert_eq!(
        at(queued.scheduled_send_time.as_ref()),
        Some(shanghai("2026-12-01 13:30"))
    );
    kefu_callbacks::consumers::sms::scan_sms(&callbacks_db, shanghai("2026-12-01 13:31"))
        .await
        .expect("sms scan");
    let sent_later = get_task(&as_agent, &task.name)
        .await
        .latest_attempt
        .and_then(|attempt| attempt.sms)
        .expect("the SMS attempt");
    assert_eq!(sent_later.state, CallbackSmsState::Sent as i32);
    assert_eq!(
        at(sent_later.send_time.as_ref()),
        Some(shanghai("2026-12-01 13:31"))
    );

    // --- Erasure: the answers stay for the statistics, the person goes -----
    stack
        .customers(Some(&admin))
        .erase_customer(EraseCustomerRequest {
            name: customer.clone(),
            reason: "PIPL 删除请求".into(),
            requested_by: ErasureRequester::DataSubject as i32,
            ..EraseCustomerRequest::default()
        })
        .await
        .expect("erased");
    eventually(
        "the erased customer's responses are anonymised",
        WAIT,
        || async {
            get_response(&as_admin, &recorded.survey_response)
                .await
                .customer
                .is_empty()
        },
    )
    .await;
    let anonymous = get_response(&as_admin, &recorded.survey_response).await;
    assert!(
        anonymous.suggestion.is_empty(),
        "the suggestion is personal"
    );
    assert_eq!(anonymous.answers.len(), 4, "the levels stay");
    let status = as_admin
        .clone()
        .get_callback_attempt(GetCallbackAttemptRequest {
            name: sent.name.clone(),
        })
        .await
        .expect_err("the erased customer's attempt");
    assert_eq!(status.code(), Code::NotFound);
    // The text the customer sent is gone too: the provider's redelivery is
    // no longer recognised, and nothing awaits a reply from that number.
    let forgotten = as_admin
        .clone()
        .record_sms_survey_reply(sms_reply("inbound-1", "13800138000", "１１２３ 送货有点慢"))
        .await
        .expect("redelivered after the erasure")
        .into_inner();
    assert_eq!(forgotten.status, SmsSurveyReplyStatus::Unmatched as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callbacks_survey_sqlite() {
    callbacks_survey(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callbacks_survey_postgres() {
    callbacks_survey(Backend::Postgres).await;
}
