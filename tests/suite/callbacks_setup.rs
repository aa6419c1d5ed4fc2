//! The callbacks setup through the gateway on both backends, as an admin and
//! an agent notice it: a new property-management tenant finds its
//! template's callback policies, scripts and surveys (the repair callback
//! within 3 days, the four satisfaction dimensions); the admin writes their
//! own (request ids, update masks, etags), is told which text of a script
//! names an unknown placeholder or is malformed, cannot delete what is in
//! use; an agent reads but cannot write, and sees a task's script rendered
//! with the customer's, the task's and their own values; another tenant
//! finds none of it.

use chrono::Datelike;

use kefu_kit::{events::to_timestamp, testing::Backend};
use kefu_proto::v1::{
    CallbackAssignment, CallbackAssignmentMode, CallbackPolicy, CallbackRetryPolicy,
    CallbackScript, CallbackScriptBranch, CallbackScriptQuestion, CallbackTask, CallbackTrigger,
    Channel, CreateCallbackPolicyRequest, CreateCallbackScriptRequest, CreateSurveyRequest,
    DeleteCallbackPolicyRequest, DeleteCallbackScriptRequest, DeleteSurveyRequest,
    GetCallbackPolicyRequest, GetCallbackScriptRequest, GetSurveyRequest, Industry,
    InviteUserRequest, ListCallbackPoliciesRequest, LocalizedText, RenderCallbackScriptRequest,
    Role, Survey, SurveyDimension, UpdateCallbackPolicyRequest, UpdateCallbackScriptRequest,
    UpdateSurveyRequest, User,
};
use prost_types::FieldMask;
use tonic::{Code, Status};

use crate::{
    callbacks_support::{
        Callbacks, bilingual, create_policy, list_policies, list_scripts, list_surveys, new_task,
    },
    eventually::eventually,
    gateway::reason,
    stack::Stack,
    tenants::field_of,
    tickets_support::{WAIT, join_invited, new_customer, person, until_known},
};

fn zh(text: Option<&LocalizedText>) -> String {
    text.and_then(|text| text.values.get("zh-CN").cloned())
        .unwrap_or_default()
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|path| (*path).to_owned()).collect(),
    })
}

/// The code, reason and field of a refusal.
fn refusal(status: &Status) -> (Code, String, String) {
    (status.code(), reason(status), field_of(status))
}

async fn create_script(
    client: &mut Callbacks,
    script: CallbackScript,
    request_id: &str,
) -> Result<CallbackScript, Status> {
    client
        .create_callback_script(CreateCallbackScriptRequest {
            callback_script: Some(script),
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// A resort's script (the seeds' 度假区回访话术).
fn resort_script() -> CallbackScript {
    CallbackScript {
        display_name: bilingual("度假区回访话术", "Resort follow-up script"),
        default_locale: "zh-CN".into(),
        greeting: bilingual(
            "您好,我是{{tenant.display_name}}的客服代表{{agent.display_name}}",
            "Hello, this is {{agent.display_name}} from {{tenant.display_name}}",
        ),
        identity_check: bilingual(
            r#"请问您是{{customer.family_name | "尊敬的客户"}}{{customer.honorific}}吗?打扰您了。"#,
            r#"Am I speaking with {{customer.display_name | "our guest"}}?"#,
        ),
        introduction: bilingual(
            "感谢您在{{task.trigger_date}}到我们度假区体验{{task.subject}}",
            "Thank you for enjoying {{task.subject}} with us on {{task.trigger_date}}",
        ),
        questions: vec![CallbackScriptQuestion {
            key: "attitude".into(),
            dimension: "attitude".into(),
            text: bilingual(
                "请问您对{{task.subject}}服务项目满意吗?",
                "Were you satisfied with {{task.subject}}?",
            ),
        }],
        satisfied: Some(CallbackScriptBranch {
            follow_up_question: bilingual("您对我们的服务有什么建议吗?", "Any suggestions?"),
            closing: bilingual(
                "感谢您的答复,祝您{{season.greeting}},再见!",
                "Thank you, we wish you {{season.greeting}}. Goodbye!",
            ),
        }),
        dissatisfied: Some(CallbackScriptBranch {
            follow_up_question: bilingual("能否告诉我您对哪方面不满意?", "What should we improve?"),
            closing: bilingual(
                "非常感谢您的反馈,祝您{{season.greeting}},再见!",
                "Thank you for telling us. We wish you {{season.greeting}}. Goodbye!",
            ),
        }),
        off_season_greeting: bilingual("生活愉快", "a nice day"),
        ..CallbackScript::default()
    }
}

fn resort_survey() -> Survey {
    Survey {
        display_name: bilingual("度假区满意度调查", "Resort satisfaction survey"),
        dimensions: vec![
            SurveyDimension {
                key: "attitude".into(),
                label: bilingual("服务态度", "Attitude"),
                question: bilingual("您对我们的服务态度满意吗?", "Were we courteous?"),
                required: true,
            },
            SurveyDimension {
                key: "rafting".into(),
                label: bilingual("漂流体验", "Rafting"),
                question: bilingual("您对漂流项目满意吗?", "Did you enjoy the rafting?"),
                required: false,
            },
        ],
        ..Survey::default()
    }
}

async fn setup(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("cbs", Industry::PropertyManagement).await;
    let b = stack.onboard("cbs-other", Industry::Generic).await;
    let mut admin = stack.callbacks(Some(&a.admin_session));
    let mut other = stack.callbacks(Some(&b.admin_session));

    // The template's callbacks arrive with TenantCreated.
    eventually(
        "the property template's callback policies are seeded",
        WAIT,
        || async { list_policies(&admin, "").await.len() >= 3 },
    )
    .await;
    let seeded = list_policies(&admin, r#"template_key = "property-management@1""#).await;
    assert_eq!(seeded.len(), 3);
    let repair = seeded
        .iter()
        .find(|policy| zh(policy.display_name.as_ref()) == "维修回访")
        .expect("the repair callback")
        .clone();
    assert_eq!(repair.trigger, CallbackTrigger::DispatchCompleted as i32);
    assert_eq!(
        repair.due_window.map(|window| window.seconds),
        Some(3 * 86_400)
    );
    assert_eq!(repair.channel, Channel::Phone as i32);
    assert_eq!(repair.active, Some(true));
    assert_eq!(
        repair.assignment.as_ref().map(|a| a.team.as_str()),
        Some("teams/front-desk")
    );
    assert_eq!(
        list_policies(&admin, "trigger = COMPLAINT_CLOSED AND active")
            .await
            .len(),
        1
    );
    assert!(list_policies(&admin, "active = false").await.is_empty());
    let refused = admin
        .list_callback_policies(ListCallbackPoliciesRequest {
            filter: "colour = red".into(),
            ..ListCallbackPoliciesRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), field_of(&refused)),
        (Code::InvalidArgument, "filter".to_owned())
    );
    let repair_script = admin
        .get_callback_script(GetCallbackScriptRequest {
            name: repair.script.clone(),
        })
        .await
        .expect("the repair script")
        .into_inner();
    assert_eq!(zh(repair_script.display_name.as_ref()), "维修回访话术");
    assert!(zh(repair_script.greeting.as_ref()).contains("{{tenant.display_name}}"));
    let repair_survey = admin
        .get_survey(GetSurveyRequest {
            name: repair.survey.clone(),
        })
        .await
        .expect("the repair survey")
        .into_inner();
    let keys: Vec<&str> = repair_survey
        .dimensions
        .iter()
        .map(|dimension| dimension.key.as_str())
        .collect();
    assert_eq!(keys, ["attitude", "skill", "timeliness", "promises_kept"]);
    assert_eq!(zh(repair_survey.dimensions[0].label.as_ref()), "服务态度");
    assert_eq!(list_scripts(&admin, "").await.len(), 3);
    assert_eq!(
        list_surveys(&admin, r#"dimensions.key = "promises_kept""#)
            .await
            .len(),
        2
    );

    // Surveys: created once per request id, checked.
    let survey = admin
        .create_survey(CreateSurveyRequest {
            survey: Some(resort_survey()),
            request_id: "6a1f0c1e-3d7b-4c55-9a43-2f0d6f0e7a01".into(),
        })
        .await
        .expect("survey")
        .into_inner();
    assert_eq!(survey.suggestion_enabled, Some(true));
    assert!(survey.name.starts_with("surveys/"));
    let again = admin
        .create_survey(CreateSurveyRequest {
            survey: Some(resort_survey()),
            request_id: "6a1f0c1e-3d7b-4c55-9a43-2f0d6f0e7a01".into(),
        })
        .await
        .expect("survey again")
        .into_inner();
    assert_eq!(again.name, survey.name);
    let mut twice = resort_survey();
    twice.dimensions[1].key = "attitude".into();
    let refused = admin
        .create_survey(CreateSurveyRequest {
            survey: Some(twice),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), field_of(&refused)),
        (Code::InvalidArgument, "survey.dimensions[1].key".to_owned())
    );
    assert_eq!(list_surveys(&admin, "").await.len(), 3);
    // Dimensions are added and relabelled, never renamed.
    let mut renamed = survey.clone();
    renamed.dimensions[1].key = "drifting".into();
    let refused = admin
        .update_survey(UpdateSurveyRequest {
            survey: Some(renamed),
            update_mask: mask(&["dimensions"]),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), field_of(&refused)),
        (Code::InvalidArgument, "survey.dimensions[1].key".to_owned())
    );
    let mut grown = survey.clone();
    grown.dimensions.push(SurveyDimension {
        key: "timeliness".into(),
        label: bilingual("及时性", "Timeliness"),
        question: bilingual("我们到得及时吗?", "Were we on time?"),
        required: true,
    });
    let survey = admin
        .update_survey(UpdateSurveyRequest {
            survey: Some(grown.clone()),
            update_mask: mask(&["dimensions"]),
        })
        .await
        .expect("a dimension added")
        .into_inner();
    assert_eq!(survey.dimensions.len(), 3);
    let stale = admin
        .update_survey(UpdateSurveyRequest {
            survey: Some(grown),
            update_mask: mask(&["description"]),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);

    // Scripts: an unknown placeholder or a malformed one names the text.
    let mut unknown = resort_script();
    unknown.greeting = bilingual("您好{{customer.nickname}}", "Hello");
    let refused = create_script(&mut admin, unknown, "").await.unwrap_err();
    assert_eq!(
        refusal(&refused),
        (
            Code::InvalidArgument,
            "UNKNOWN_PLACEHOLDER".to_owned(),
            r#"callback_script.greeting.values["zh-CN"]"#.to_owned()
        )
    );
    let mut malformed = resort_script();
    malformed.questions[0].text = bilingual("满意吗?", "Satisfied with {{task.subject?");
    let refused = create_script(&mut admin, malformed, "").await.unwrap_err();
    assert_eq!(
        refusal(&refused),
        (
            Code::InvalidArgument,
            "INVALID_TEMPLATE".to_owned(),
            r#"callback_script.questions[0].text.values["en"]"#.to_owned()
        )
    );
    assert_eq!(list_scripts(&admin, "").await.len(), 3, "nothing written");
    let script = create_script(&mut admin, resort_script(), "")
        .await
        .expect("script");
    assert_eq!(script.target_duration.map(|d| d.seconds), Some(180));
    let mut edited = script.clone();
    edited.off_season_greeting = bilingual("万事如意", "all the best");
    let edited = admin
        .update_callback_script(UpdateCallbackScriptRequest {
            callback_script: Some(edited),
            update_mask: mask(&["off_season_greeting"]),
        })
        .await
        .expect("script edited")
        .into_inner();
    assert_ne!(edited.etag, script.etag);
    let mut broken = edited.clone();
    broken.greeting = bilingual("{{ticket.subject | 未加引号}}", "Hello");
    let refused = admin
        .update_callback_script(UpdateCallbackScriptRequest {
            callback_script: Some(broken),
            update_mask: mask(&["greeting"]),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "INVALID_TEMPLATE");

    // Policies: checked, their references the tenant's own.
    let policy = CallbackPolicy {
        display_name: bilingual("度假区回访", "Resort follow-up"),
        trigger: CallbackTrigger::TicketResolved as i32,
        assignment: Some(CallbackAssignment {
            mode: CallbackAssignmentMode::TeamRoundRobin as i32,
            team: "teams/front-desk".into(),
        }),
        script: script.name.clone(),
        survey: survey.name.clone(),
        ..CallbackPolicy::default()
    };
    for (change, field) in [
        (
            CallbackPolicy {
                due_window: Some(prost_types::Duration::default()),
                ..policy.clone()
            },
            "callback_policy.due_window",
        ),
        (
            CallbackPolicy {
                channel: Channel::Email as i32,
                ..policy.clone()
            },
            "callback_policy.channel",
        ),
        (
            CallbackPolicy {
                assignment: None,
                ..policy.clone()
            },
            "callback_policy.assignment.team",
        ),
        (
            CallbackPolicy {
                script: "callbackScripts/0193a0b0-0000-7000-8000-000000000001".into(),
                ..policy.clone()
            },
            "callback_policy.script",
        ),
    ] {
        let refused = create_policy(&admin, change).await.unwrap_err();
        assert_eq!(
            (refused.code(), field_of(&refused)),
            (Code::InvalidArgument, field.to_owned())
        );
    }
    // The team is read from the copy of the tenant, which may still be on
    // its way.
    let client = admin.clone();
    let created = until_known(
        |status| {
            status.code() == Code::InvalidArgument
                && field_of(status) == "callback_policy.assignment.team"
        },
        || {
            let mut client = client.clone();
            let request = CreateCallbackPolicyRequest {
                callback_policy: Some(policy.clone()),
                request_id: String::new(),
            };
            async move { client.create_callback_policy(request).await }
        },
    )
    .await
    .expect("policy");
    let refused = create_policy(
        &admin,
        CallbackPolicy {
            assignment: Some(CallbackAssignment {
                mode: 0,
                team: "teams/no-such-team".into(),
            }),
            ..policy.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (refused.code(), field_of(&refused)),
        (
            Code::InvalidArgument,
            "callback_policy.assignment.team".to_owned()
        )
    );
    assert_eq!(created.active, Some(true));
    assert_eq!(created.due_window, None, "the tenant's window applies");
    assert_eq!(created.retry.as_ref().map(|r| r.max_attempts), Some(3));
    assert_eq!(created.template_key, "");
    let updated = admin
        .update_callback_policy(UpdateCallbackPolicyRequest {
            callback_policy: Some(CallbackPolicy {
                retry: Some(CallbackRetryPolicy {
                    max_attempts: 5,
                    ..CallbackRetryPolicy::default()
                }),
                ..created.clone()
            }),
            update_mask: mask(&["retry.max_attempts"]),
        })
        .await
        .expect("max attempts changed")
        .into_inner();
    assert_eq!(updated.retry.as_ref().map(|r| r.max_attempts), Some(5));
    assert_eq!(
        updated
            .retry
            .as_ref()
            .and_then(|r| r.retry_interval)
            .map(|d| d.seconds),
        Some(7_200),
        "the other retry settings kept"
    );
    let stale = admin
        .update_callback_policy(UpdateCallbackPolicyRequest {
            callback_policy: Some(CallbackPolicy {
                active: Some(false),
                ..created.clone()
            }),
            update_mask: mask(&["active"]),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let immutable = admin
        .update_callback_policy(UpdateCallbackPolicyRequest {
            callback_policy: Some(updated.clone()),
            update_mask: mask(&["trigger"]),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (immutable.code(), field_of(&immutable)),
        (Code::InvalidArgument, "update_mask".to_owned())
    );

    // An agent reads but cannot write.
    let invitation = InviteUserRequest {
        user: Some(User {
            display_name: "客服小王".into(),
            ..person(&a.tenant.slug, "agent", &[Role::Agent])
        }),
        ..InviteUserRequest::default()
    };
    let (agent_user, agent_session) =
        join_invited(&stack, &a.admin_session, &a.tenant.slug, invitation).await;
    let mut agent = stack.callbacks(Some(&agent_session));
    assert_eq!(list_policies(&agent, "").await.len(), 4);
    let denied = create_script(&mut agent, resort_script(), "")
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = agent
        .update_survey(UpdateSurveyRequest {
            survey: Some(survey.clone()),
            update_mask: mask(&["display_name"]),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = agent
        .delete_callback_policy(DeleteCallbackPolicyRequest {
            name: updated.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Another tenant finds none of it.
    let hidden = other
        .get_callback_policy(GetCallbackPolicyRequest {
            name: repair.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert!(
        !list_policies(&other, "")
            .await
            .iter()
            .any(|policy| policy.name == updated.name)
    );
    let hidden = other
        .get_callback_script(GetCallbackScriptRequest {
            name: script.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);

    // A task's script, rendered for the agent about to call.
    let customer = new_customer(&stack, &a.admin_session, "张伟", "+8613800138000").await;
    // The visit an hour ago, as the resort's booking system reports it.
    let trigger_time = chrono::Utc::now() - chrono::Duration::hours(1);
    let visit_day = trigger_time
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3_600).expect("UTC+8"))
        .date_naive();
    let task = new_task(
        &admin,
        CallbackTask {
            policy: updated.name.clone(),
            customer: customer.clone(),
            assignee: agent_user.clone(),
            subject: "漂流".into(),
            trigger_source: "resort-booking-42".into(),
            trigger_event_id: "resort-booking-42".into(),
            trigger_time: Some(to_timestamp(trigger_time)),
            ..CallbackTask::default()
        },
        "",
    )
    .await;
    let national_day = chrono::DateTime::parse_from_rfc3339("2026-10-02T10:00:00+08:00")
        .expect("time")
        .with_timezone(&chrono::Utc);
    let rendered = agent
        .render_callback_script(RenderCallbackScriptRequest {
            name: task.name.clone(),
            script: String::new(),
            locale: String::new(),
            call_time: Some(to_timestamp(national_day)),
        })
        .await
        .expect("rendered")
        .into_inner();
    assert_eq!(rendered.locale, "zh-CN");
    assert_eq!(rendered.script, script.name);
    assert_eq!(rendered.greeting, "您好,我是cbs 客服部的客服代表客服小王");
    assert_eq!(
        rendered.introduction,
        format!(
            "感谢您在{}年{}月{}日到我们度假区体验漂流",
            visit_day.year(),
            visit_day.month(),
            visit_day.day()
        )
    );
    assert_eq!(rendered.questions[0].text, "请问您对漂流服务项目满意吗?");
    assert_eq!(
        rendered.satisfied.map(|branch| branch.closing),
        Some("感谢您的答复,祝您万事如意,再见!".to_owned())
    );
    assert!(
        rendered
            .missing_fields
            .contains(&"customer.honorific".to_owned())
    );
    // A preview of the seeded repair script, in English.
    let preview = agent
        .render_callback_script(RenderCallbackScriptRequest {
            name: task.name.clone(),
            script: repair.script.clone(),
            locale: "en".into(),
            call_time: Some(to_timestamp(national_day)),
        })
        .await
        .expect("preview")
        .into_inner();
    assert_eq!(preview.locale, "en");
    assert_eq!(preview.seasonal_greeting, "national_day");
    assert!(
        preview.greeting.contains("cbs 客服部"),
        "{}",
        preview.greeting
    );
    assert!(
        preview
            .satisfied
            .is_some_and(|branch| branch.closing.contains("a happy National Day holiday"))
    );
    let hidden = other
        .render_callback_script(RenderCallbackScriptRequest {
            name: task.name.clone(),
            ..RenderCallbackScriptRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);

    // Nothing in use can be deleted.
    let in_use = admin
        .delete_callback_script(DeleteCallbackScriptRequest {
            name: script.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition);
    let in_use = admin
        .delete_callback_policy(DeleteCallbackPolicyRequest {
            name: updated.name.clone(),
            etag: updated.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        in_use.code(),
        Code::FailedPrecondition,
        "an open task uses it"
    );
    let in_use = admin
        .delete_survey(DeleteSurveyRequest {
            name: survey.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition);
    // A seeded policy no task uses goes; a stale etag does not.
    let complaint = list_policies(&admin, "trigger = COMPLAINT_CLOSED").await;
    let stale = admin
        .delete_callback_policy(DeleteCallbackPolicyRequest {
            name: complaint[0].name.clone(),
            etag: "r99".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    admin
        .delete_callback_policy(DeleteCallbackPolicyRequest {
            name: complaint[0].name.clone(),
            etag: complaint[0].etag.clone(),
        })
        .await
        .expect("deleted");
    let gone = admin
        .get_callback_policy(GetCallbackPolicyRequest {
            name: complaint[0].name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn sqlite_callbacks_setup() {
    setup(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_callbacks_setup() {
    setup(Backend::Postgres).await;
}
