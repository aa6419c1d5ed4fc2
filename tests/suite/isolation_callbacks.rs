//! The attack suite's part for the callbacks service (policies, scripts,
//! surveys, tasks and their attempts, survey responses, campaigns and
//! coverage): what B tries against each method, and A's resources it aims
//! at.

use std::collections::BTreeMap;

use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{
    CallbackOutcome, CallbackPolicy, CallbackScript, CallbackScriptBranch, CallbackScriptQuestion,
    CallbackTask, CallbackTrigger, Campaign, CampaignKind, Channel, CreateCallbackScriptRequest,
    CreateCampaignRequest, CreateSurveyRequest, Date, ListCallbackAttemptsRequest,
    RecordCallbackOutcomeRequest, SatisfactionLevel, Survey, SurveyAnswer, SurveyDimension,
};

use crate::{
    callbacks_support::{create_policy, localized, new_task, team_policy},
    isolation::{BAD_REFERENCE, NOT_FOUND, Treatment},
    stack::Stack,
};

/// Every method of CallbackService, and what the suite does with it.
pub const TREATMENTS: &[(&str, Treatment)] = &[
    // Policies
    (
        "CallbackService/CreateCallbackPolicy",
        Treatment::Probe(&[
            (
                r#"callback_policy { display_name { values { key: "zh-CN" value: "x" } } trigger: CALLBACK_TRIGGER_MANUAL assignment { mode: CALLBACK_ASSIGNMENT_MODE_TEAM_LEAST_LOADED team: "{b.team}" } script: "{a.callback_script}" } request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
            (
                r#"callback_policy { display_name { values { key: "zh-CN" value: "x" } } trigger: CALLBACK_TRIGGER_MANUAL assignment { mode: CALLBACK_ASSIGNMENT_MODE_TEAM_LEAST_LOADED team: "{b.team}" } script: "{b.callback_script}" survey: "{a.survey}" } request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
        ]),
    ),
    (
        "CallbackService/GetCallbackPolicy",
        Treatment::Probe(&[(r#"name: "{a.callback_policy}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/ListCallbackPolicies",
        Treatment::OwnTenant("lists the caller's policies; checked for A's ids"),
    ),
    (
        "CallbackService/UpdateCallbackPolicy",
        Treatment::Probe(&[(
            r#"callback_policy { name: "{a.callback_policy}" active: false } update_mask { paths: "active" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "CallbackService/DeleteCallbackPolicy",
        Treatment::Probe(&[(r#"name: "{a.callback_policy}""#, NOT_FOUND)]),
    ),
    // Scripts
    (
        "CallbackService/CreateCallbackScript",
        Treatment::OwnTenant("creates in the caller's tenant; no references"),
    ),
    (
        "CallbackService/GetCallbackScript",
        Treatment::Probe(&[(r#"name: "{a.callback_script}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/ListCallbackScripts",
        Treatment::OwnTenant("lists the caller's scripts; checked for A's ids"),
    ),
    (
        "CallbackService/UpdateCallbackScript",
        Treatment::Probe(&[(
            r#"callback_script { name: "{a.callback_script}" description: "hijacked" } update_mask { paths: "description" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "CallbackService/DeleteCallbackScript",
        Treatment::Probe(&[(r#"name: "{a.callback_script}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/RenderCallbackScript",
        Treatment::Probe(&[
            (r#"name: "{a.callback_task}""#, NOT_FOUND),
            (
                r#"name: "{b.callback_task}" script: "{a.callback_script}""#,
                BAD_REFERENCE,
            ),
        ]),
    ),
    // Surveys
    (
        "CallbackService/CreateSurvey",
        Treatment::OwnTenant("creates in the caller's tenant; no references"),
    ),
    (
        "CallbackService/GetSurvey",
        Treatment::Probe(&[(r#"name: "{a.survey}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/ListSurveys",
        Treatment::OwnTenant("lists the caller's surveys; checked for A's ids"),
    ),
    (
        "CallbackService/UpdateSurvey",
        Treatment::Probe(&[(
            r#"survey { name: "{a.survey}" description: "hijacked" } update_mask { paths: "description" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "CallbackService/DeleteSurvey",
        Treatment::Probe(&[(r#"name: "{a.survey}""#, NOT_FOUND)]),
    ),
    // Tasks and attempts
    (
        "CallbackService/ListCallbackTasks",
        Treatment::OwnTenant("lists the caller's tasks; checked for A's ids"),
    ),
    (
        "CallbackService/GetCallbackTask",
        Treatment::Probe(&[(r#"name: "{a.callback_task}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/CreateCallbackTask",
        Treatment::Probe(&[
            (
                r#"callback_task { policy: "{a.callback_policy}" customer: "{b.customer}" } request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
            (
                r#"callback_task { policy: "{b.callback_policy}" customer: "{a.customer}" } request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
            (
                r#"callback_task { policy: "{b.callback_policy}" customer: "{b.customer}" related_ticket: "{a.ticket}" assignee: "{a.agent}" } request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
        ]),
    ),
    (
        "CallbackService/StartCallbackAttempt",
        Treatment::Probe(&[(
            r#"name: "{a.callback_task}" request_id: "{fresh_uuid}""#,
            NOT_FOUND,
        )]),
    ),
    (
        "CallbackService/RecordCallbackOutcome",
        Treatment::Probe(&[
            (
                r#"name: "{a.callback_task}" outcome: CALLBACK_OUTCOME_REFUSED notes: "x" request_id: "{fresh_uuid}""#,
                NOT_FOUND,
            ),
            (
                r#"name: "{b.callback_task}" attempt: "{a.callback_attempt}" outcome: CALLBACK_OUTCOME_NO_ANSWER request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
        ]),
    ),
    (
        "CallbackService/GetCallbackAttempt",
        Treatment::Probe(&[(r#"name: "{a.callback_attempt}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/ListCallbackAttempts",
        Treatment::Probe(&[(r#"parent: "{a.callback_task}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/ReassignCallbackTask",
        Treatment::Probe(&[
            (
                r#"name: "{a.callback_task}" team: "{b.team}" reason: "x""#,
                NOT_FOUND,
            ),
            (
                r#"name: "{b.callback_task}" assignee: "{a.agent}" reason: "x""#,
                BAD_REFERENCE,
            ),
            (
                r#"name: "{b.callback_task}" team: "{a.team}" reason: "x""#,
                BAD_REFERENCE,
            ),
        ]),
    ),
    (
        "CallbackService/CancelCallbackTask",
        Treatment::Probe(&[(r#"name: "{a.callback_task}" note: "x""#, NOT_FOUND)]),
    ),
    // Survey responses and SMS
    (
        "CallbackService/SubmitSurveyResponse",
        Treatment::Probe(&[(
            r#"callback_task: "{a.callback_task}" answers { dimension: "attitude" level: SATISFACTION_LEVEL_POOR } request_id: "{fresh_uuid}""#,
            NOT_FOUND,
        )]),
    ),
    (
        "CallbackService/GetSurveyResponse",
        Treatment::Probe(&[(r#"name: "{a.survey_response}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/ListSurveyResponses",
        Treatment::OwnTenant("lists the caller's responses; checked for A's ids"),
    ),
    (
        "CallbackService/SendSurveyBySms",
        Treatment::Probe(&[(
            r#"name: "{a.callback_task}" request_id: "{fresh_uuid}""#,
            NOT_FOUND,
        )]),
    ),
    (
        "CallbackService/RecordSmsSurveyReply",
        Treatment::OwnTenant(
            "matches a reply to the caller's own SMS surveys by number; names nothing of A",
        ),
    ),
    // Campaigns and coverage
    (
        "CallbackService/CreateCampaign",
        Treatment::Probe(&[
            (
                r#"campaign { display_name: "x" kind: CAMPAIGN_KIND_HOLIDAY target_segment: "{a.segment}" start_date { year: 2030 month: 1 day: 1 } end_date { year: 2030 month: 1 day: 2 } policy: "{b.campaign_policy}" } request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
            (
                r#"campaign { display_name: "x" kind: CAMPAIGN_KIND_HOLIDAY target_segment: "{b.segment}" start_date { year: 2030 month: 1 day: 1 } end_date { year: 2030 month: 1 day: 2 } policy: "{a.campaign_policy}" } request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
        ]),
    ),
    (
        "CallbackService/GetCampaign",
        Treatment::Probe(&[(r#"name: "{a.campaign}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/ListCampaigns",
        Treatment::OwnTenant("lists the caller's campaigns; checked for A's ids"),
    ),
    (
        "CallbackService/UpdateCampaign",
        Treatment::Probe(&[(
            r#"campaign { name: "{a.campaign}" display_name: "hijacked" } update_mask { paths: "display_name" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "CallbackService/StartCampaign",
        Treatment::Probe(&[(r#"name: "{a.campaign}""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/CancelCampaign",
        Treatment::Probe(&[(r#"name: "{a.campaign}" note: "x""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/GetCampaignCoverage",
        Treatment::Probe(&[(r#"name: "{a.campaign}/coverage""#, NOT_FOUND)]),
    ),
    (
        "CallbackService/GetPolicyCoverage",
        Treatment::Probe(&[(
            r#"name: "{a.callback_policy}/coverage" start_time { seconds: 1000000000 }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "CallbackService/ListUncoveredCustomers",
        Treatment::Probe(&[
            (r#"parent: "{a.campaign}""#, NOT_FOUND),
            (
                r#"parent: "{a.callback_policy}" start_time { seconds: 1000000000 }"#,
                NOT_FOUND,
            ),
        ]),
    ),
];

/// The request each list is called with when checking it for leaks.
pub const LIST_REQUESTS: &[(&str, &str)] = &[
    ("CallbackService/ListCallbackPolicies", "page_size: 500"),
    ("CallbackService/ListCallbackScripts", "page_size: 500"),
    ("CallbackService/ListSurveys", "page_size: 500"),
    ("CallbackService/ListCallbackTasks", "page_size: 500"),
    ("CallbackService/ListSurveyResponses", "page_size: 500"),
    ("CallbackService/ListCampaigns", "page_size: 500"),
    (
        "CallbackService/ListCallbackAttempts",
        r#"parent: "{b.callback_task}""#,
    ),
    (
        "CallbackService/ListUncoveredCustomers",
        r#"parent: "{b.campaign}""#,
    ),
];

/// A's reads whose answers must not change during the attack: (method,
/// request, read as A's admin session rather than A's key).
pub const SNAPSHOT_READS: &[(&str, &str, bool)] = &[
    (
        "CallbackService/GetCallbackPolicy",
        r#"name: "{a.callback_policy}""#,
        false,
    ),
    (
        "CallbackService/GetCallbackScript",
        r#"name: "{a.callback_script}""#,
        false,
    ),
    ("CallbackService/GetSurvey", r#"name: "{a.survey}""#, false),
    (
        "CallbackService/GetCallbackTask",
        r#"name: "{a.callback_task}""#,
        false,
    ),
    (
        "CallbackService/ListCallbackAttempts",
        r#"parent: "{a.callback_task}""#,
        false,
    ),
    (
        "CallbackService/GetSurveyResponse",
        r#"name: "{a.survey_response}""#,
        false,
    ),
    (
        "CallbackService/GetCampaign",
        r#"name: "{a.campaign}""#,
        false,
    ),
];

/// A script with one question on `attitude`.
fn script() -> CallbackScript {
    CallbackScript {
        display_name: localized("维修回访话术"),
        default_locale: "zh-CN".into(),
        greeting: localized("您好,我是{{tenant.display_name}}的客服代表"),
        identity_check: localized("请问是{{customer.display_name}}吗?"),
        questions: vec![CallbackScriptQuestion {
            key: "attitude".into(),
            dimension: "attitude".into(),
            text: localized("您对师傅的服务态度满意吗?"),
        }],
        satisfied: Some(CallbackScriptBranch {
            follow_up_question: localized("您还有什么建议吗?"),
            closing: localized("感谢您的支持,再见!"),
        }),
        dissatisfied: Some(CallbackScriptBranch {
            follow_up_question: localized("能否告诉我您对哪方面不满意?"),
            closing: localized("我们会尽快改进,再见!"),
        }),
        ..CallbackScript::default()
    }
}

/// A policy of `trigger` called by `team`'s agents, with `script` and `survey`.
fn policy(trigger: CallbackTrigger, team: &str, script: &str, survey: &str) -> CallbackPolicy {
    CallbackPolicy {
        due_window: Some(prost_types::Duration {
            seconds: 3 * 86_400,
            nanos: 0,
        }),
        script: script.to_owned(),
        survey: survey.to_owned(),
        ..team_policy(trigger, Channel::Phone, team, "回访")
    }
}

/// A task of `policy` for `customer`, created once the callbacks service
/// knows the customer (its copy is fed by events).
async fn task_for(stack: &Stack, session: &str, policy: &str, customer: &str) -> CallbackTask {
    let task = CallbackTask {
        policy: policy.to_owned(),
        customer: customer.to_owned(),
        subject: "空调维修".into(),
        ..CallbackTask::default()
    };
    new_task(
        &stack.callbacks(Some(session)),
        task,
        &uuid::Uuid::now_v7().to_string(),
    )
    .await
}

/// Creates a tenant's callbacks-service resources and records their names
/// under `{prefix}.…` in `values` (which holds `{prefix}.team` and
/// `{prefix}.segment` already).
pub async fn set_up(
    stack: &Stack,
    session: &str,
    customer: &str,
    prefix: &str,
    values: &mut BTreeMap<String, String>,
) {
    let team = values[&format!("{prefix}.team")].clone();
    let segment = values[&format!("{prefix}.segment")].clone();
    let mut callbacks = stack.callbacks(Some(session));
    let script = callbacks
        .create_callback_script(CreateCallbackScriptRequest {
            callback_script: Some(script()),
            request_id: String::new(),
        })
        .await
        .expect("a script")
        .into_inner();
    let survey = callbacks
        .create_survey(CreateSurveyRequest {
            survey: Some(Survey {
                display_name: localized("售后服务满意度调查"),
                dimensions: vec![SurveyDimension {
                    key: "attitude".into(),
                    label: localized("服务态度"),
                    question: localized("您对服务态度满意吗?"),
                    required: true,
                }],
                ..Survey::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a survey")
        .into_inner();
    let manual = create_policy(
        &callbacks,
        policy(CallbackTrigger::Manual, &team, &script.name, &survey.name),
    )
    .await
    .expect("a policy");
    let campaign_policy = create_policy(
        &callbacks,
        policy(CallbackTrigger::Campaign, &team, &script.name, &survey.name),
    )
    .await
    .expect("a campaign policy");
    // One task attempted without answer, one reached with its survey.
    let task = task_for(stack, session, &manual.name, customer).await;
    let now = to_timestamp(chrono::Utc::now());
    callbacks
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: task.name.clone(),
            outcome: CallbackOutcome::NoAnswer as i32,
            notes: "无人接听".into(),
            end_time: Some(now),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect("an unanswered attempt");
    let attempt = callbacks
        .list_callback_attempts(ListCallbackAttemptsRequest {
            parent: task.name.clone(),
            ..ListCallbackAttemptsRequest::default()
        })
        .await
        .expect("the task's attempts")
        .into_inner()
        .callback_attempts
        .into_iter()
        .next()
        .expect("an attempt")
        .name;
    let reached = task_for(stack, session, &manual.name, customer).await;
    let reached = callbacks
        .record_callback_outcome(RecordCallbackOutcomeRequest {
            name: reached.name.clone(),
            outcome: CallbackOutcome::Reached as i32,
            notes: "客户表示满意".into(),
            end_time: Some(now),
            survey_answers: vec![SurveyAnswer {
                dimension: "attitude".into(),
                level: SatisfactionLevel::VerySatisfied as i32,
                ..SurveyAnswer::default()
            }],
            request_id: uuid::Uuid::now_v7().to_string(),
            ..RecordCallbackOutcomeRequest::default()
        })
        .await
        .expect("a reached callback with its survey")
        .into_inner();
    let campaign = callbacks
        .create_campaign(CreateCampaignRequest {
            campaign: Some(Campaign {
                display_name: "国庆会员回访".into(),
                kind: CampaignKind::MemberCoverage as i32,
                target_segment: segment,
                start_date: Some(Date {
                    year: 2030,
                    month: 10,
                    day: 1,
                }),
                end_date: Some(Date {
                    year: 2030,
                    month: 10,
                    day: 7,
                }),
                policy: campaign_policy.name.clone(),
                ..Campaign::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a campaign")
        .into_inner();
    values.insert(format!("{prefix}.callback_script"), script.name);
    values.insert(format!("{prefix}.survey"), survey.name);
    values.insert(format!("{prefix}.callback_policy"), manual.name);
    values.insert(format!("{prefix}.campaign_policy"), campaign_policy.name);
    values.insert(format!("{prefix}.callback_task"), task.name);
    values.insert(format!("{prefix}.callback_attempt"), attempt);
    values.insert(format!("{prefix}.survey_response"), reached.survey_response);
    values.insert(format!("{prefix}.campaign"), campaign.name);
}
