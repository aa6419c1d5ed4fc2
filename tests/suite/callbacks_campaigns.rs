//! Callback campaigns and coverage through the gateway on both backends,
//! on a manual clock (Tuesday 2026-12-01, 10:00 in Shanghai, outside the
//! generic tenant's quiet hours). A segment of VIP members (three of them,
//! one without a phone) is visited by a MEMBER_COVERAGE campaign for a
//! week: starting it schedules one task per member, due by the end of the
//! last day, in the team agent's queue; while it runs its name and a later
//! end change but not its segment, and a stale etag is refused. The agent
//! reaches one customer and
//! finds another's number wrong; the campaign's coverage then shows one in
//! three reached (in the window), one failed, one open, and the uncovered
//! list says why each missing customer is missing (wrong number, no phone).
//! A second campaign that includes new members gives a customer entering
//! the segment later a task too. Cancelling the first cancels its open
//! task; when the week is over, two completion scans at once complete the
//! other once. An end date before the start is refused naming `end_date` with
//! nothing written; another tenant's campaign answers NOT_FOUND; an agent
//! may not run campaigns.

use kefu_callbacks::consumers::campaigns::complete_ended;
use kefu_kit::{context::TenantId, db::begin_for_tenant, events::from_timestamp, testing::Backend};
use kefu_proto::v1::{
    CallbackCancelReason, CallbackCoverage, CallbackOutcome, CallbackPolicy, CallbackTask,
    CallbackTaskState, CallbackTrigger, Campaign, CampaignCancelled, CampaignCompleted,
    CampaignKind, CampaignState, CancelCampaignRequest, Channel, CreateCampaignRequest,
    CreateCustomerRequest, CreateSegmentRequest, Customer, CustomerPhone, Date,
    GetCampaignCoverageRequest, GetCampaignRequest, GetPolicyCoverageRequest, Industry,
    ListCampaignsRequest, ListUncoveredCustomersRequest, RecordCallbackOutcomeRequest, Segment,
    StartCampaignRequest, UncoveredReason, UpdateCampaignRequest,
};
use tonic::Code;

use crate::{
    callbacks_support::{
        Callbacks, Desk, count_events, create_policy, desk, list_scripts, list_tasks, shanghai,
        start_at, team_policy,
    },
    eventually::eventually,
    stack::Stack,
    tenants::field_of,
    tickets_support::WAIT,
};

const SEGMENT: &str = "segments/vip-members";

fn day(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

/// Creates a customer: a member or not, tagged vip or not, with a mobile
/// phone or none.
async fn customer(stack: &Stack, session: &str, name: &str, vip: bool, phone: &str) -> String {
    stack
        .customers(Some(session))
        .create_customer(CreateCustomerRequest {
            customer: Some(Customer {
                display_name: name.into(),
                family_name: name.chars().take(1).collect(),
                member: true,
                tags: if vip { vec!["vip".into()] } else { Vec::new() },
                phones: if phone.is_empty() {
                    Vec::new()
                } else {
                    vec![CustomerPhone {
                        raw: phone.into(),
                        ..CustomerPhone::default()
                    }]
                },
                ..Customer::default()
            }),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect("customer created")
        .into_inner()
        .name
}

/// Waits until the callbacks service's copy counts `count` live customers
/// in the segment.
async fn until_segment_has(stack: &Stack, tenant: TenantId, count: usize) {
    let db = stack.service_connection("callbacks").await;
    eventually(
        &format!("the callbacks copy has {count} customers in the segment"),
        WAIT,
        || {
            let db = db.clone();
            async move {
                let txn = begin_for_tenant(&db, tenant).await.expect("begin");
                let members = kefu_callbacks::store::segments::members(&txn, tenant, SEGMENT)
                    .await
                    .expect("members");
                txn.commit().await.expect("commit");
                members.len() == count
            }
        },
    )
    .await;
}

/// The tasks of `campaign`, as the caller of `client` lists them.
async fn tasks_of(client: &Callbacks, campaign: &str) -> Vec<CallbackTask> {
    list_tasks(client, &format!("campaign = \"{campaign}\"")).await
}

async fn coverage(client: &Callbacks, campaign: &str) -> CallbackCoverage {
    client
        .clone()
        .get_campaign_coverage(GetCampaignCoverageRequest {
            name: format!("{campaign}/coverage"),
        })
        .await
        .expect("campaign coverage")
        .into_inner()
}

fn week(display_name: &str, policy: &str, include_new_members: bool) -> Campaign {
    Campaign {
        display_name: display_name.into(),
        kind: CampaignKind::MemberCoverage as i32,
        target_segment: SEGMENT.into(),
        include_new_members,
        start_date: day(2026, 12, 1),
        end_date: day(2026, 12, 7),
        policy: policy.into(),
        ..Campaign::default()
    }
}

async fn create(client: &Callbacks, campaign: Campaign) -> Campaign {
    client
        .clone()
        .create_campaign(CreateCampaignRequest {
            campaign: Some(campaign),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("campaign created")
        .into_inner()
}

async fn start(client: &Callbacks, name: &str) -> Campaign {
    client
        .clone()
        .start_campaign(StartCampaignRequest {
            name: name.into(),
            ..StartCampaignRequest::default()
        })
        .await
        .expect("campaign started")
        .into_inner()
}

async fn campaigns_and_coverage(backend: Backend) {
    let Some((stack, _clock)) = start_at(backend, "2026-12-01 10:00").await else {
        return;
    };
    let Desk {
        tenant,
        admin,
        agent_user,
        agent,
        team,
        callbacks_db,
        ..
    } = desk(&stack, "cbcamp", "members", "会员回访组", false).await;

    // Three VIP members (张伟 without a phone) and a member who is not VIP.
    let wang = customer(&stack, &admin, "王芳", true, "13800138001").await;
    let li = customer(&stack, &admin, "李雷", true, "13800138002").await;
    let zhang = customer(&stack, &admin, "张伟", true, "").await;
    customer(&stack, &admin, "陈晨", false, "13800138004").await;
    stack
        .customers(Some(&admin))
        .create_segment(CreateSegmentRequest {
            segment: Some(Segment {
                display_name: "VIP 会员".into(),
                filter: r#"member = true AND tags:"vip""#.into(),
                ..Segment::default()
            }),
            segment_id: "vip-members".into(),
            ..CreateSegmentRequest::default()
        })
        .await
        .expect("segment");
    until_segment_has(&stack, tenant, 3).await;

    let as_admin = stack.callbacks(Some(&admin));
    let as_agent = stack.callbacks(Some(&agent));
    // A phone policy needs a script: the first the tenant's template seeded.
    eventually("the template's scripts are seeded", WAIT, || async {
        !list_scripts(&as_admin, "").await.is_empty()
    })
    .await;
    let script = list_scripts(&as_admin, "").await[0].name.clone();
    let policy = create_policy(
        &as_admin,
        CallbackPolicy {
            script,
            ..team_policy(
                CallbackTrigger::Campaign,
                Channel::Phone,
                &team.name,
                "会员回访",
            )
        },
    )
    .await
    .expect("policy");

    // An end before the start is refused, naming end_date; nothing is kept.
    let mut backwards = week("倒序", &policy.name, false);
    backwards.end_date = day(2026, 11, 30);
    let refused = as_admin
        .clone()
        .create_campaign(CreateCampaignRequest {
            campaign: Some(backwards),
            ..CreateCampaignRequest::default()
        })
        .await
        .expect_err("an end before the start");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(field_of(&refused), "campaign.end_date");
    let listed = as_admin
        .clone()
        .list_campaigns(ListCampaignsRequest::default())
        .await
        .expect("list campaigns")
        .into_inner();
    assert_eq!(listed.total_size, 0, "nothing written");

    // An agent may not run campaigns.
    let denied = as_agent
        .clone()
        .create_campaign(CreateCampaignRequest {
            campaign: Some(week("越权", &policy.name, false)),
            ..CreateCampaignRequest::default()
        })
        .await
        .expect_err("an agent");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Created as a draft, started: one task per member of the segment.
    let draft = create(&as_admin, week("2026 会员月度回访", &policy.name, false)).await;
    assert_eq!(draft.state, CampaignState::Draft as i32);
    assert!(tasks_of(&as_admin, &draft.name).await.is_empty());
    let started = start(&as_admin, &draft.name).await;
    assert_eq!(started.state, CampaignState::Active as i32);
    assert_eq!(started.targeted_customer_count, 3);
    assert!(started.targeting_complete);
    let again = as_admin
        .clone()
        .start_campaign(StartCampaignRequest {
            name: draft.name.clone(),
            ..StartCampaignRequest::default()
        })
        .await
        .expect_err("started twice");
    assert_eq!(again.code(), Code::FailedPrecondition);
    // While ACTIVE the texts and a later end change, the segment does not;
    // a stale etag is refused.
    let update = |campaign: Campaign, paths: &[&str]| {
        let client = as_admin.clone();
        let paths = paths.iter().map(|path| (*path).to_owned()).collect();
        async move {
            client
                .clone()
                .update_campaign(UpdateCampaignRequest {
                    campaign: Some(campaign),
                    update_mask: Some(prost_types::FieldMask { paths }),
                })
                .await
        }
    };
    let renamed = update(
        Campaign {
            name: draft.name.clone(),
            display_name: "2026 会员月度回访(延长)".into(),
            end_date: day(2026, 12, 10),
            etag: started.etag.clone(),
            ..Campaign::default()
        },
        &["display_name", "end_date"],
    )
    .await
    .expect("renamed and extended")
    .into_inner();
    assert_eq!(renamed.display_name, "2026 会员月度回访(延长)");
    assert_eq!(renamed.end_date, day(2026, 12, 10));
    let stale = update(
        Campaign {
            name: draft.name.clone(),
            display_name: "旧的".into(),
            etag: started.etag.clone(),
            ..Campaign::default()
        },
        &["display_name"],
    )
    .await
    .expect_err("a stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    let moved = update(
        Campaign {
            name: draft.name.clone(),
            target_segment: "segments/other".into(),
            ..Campaign::default()
        },
        &["target_segment"],
    )
    .await
    .expect_err("an active campaign's segment");
    assert_eq!(moved.code(), Code::FailedPrecondition);
    let active = as_admin
        .clone()
        .list_campaigns(ListCampaignsRequest {
            filter: "state = ACTIVE AND kind = MEMBER_COVERAGE".into(),
            ..ListCampaignsRequest::default()
        })
        .await
        .expect("list active campaigns")
        .into_inner();
    assert_eq!(active.total_size, 1);
    assert_eq!(active.campaigns[0].name, draft.name);

    let tasks = tasks_of(&as_admin, &draft.name).await;
    let mut customers: Vec<&str> = tasks.iter().map(|task| task.customer.as_str()).collect();
    customers.sort_unstable();
    let mut expected = vec![wang.as_str(), li.as_str(), zhang.as_str()];
    expected.sort_unstable();
    assert_eq!(customers, expected, "one task per member of the segment");
    for task in &tasks {
        assert_eq!(task.campaign, draft.name);
        assert_eq!(task.trigger, CallbackTrigger::Campaign as i32);
        assert_eq!(task.assignee, agent_user);
        assert!(task.customer_is_member);
        assert_eq!(
            task.due_end.as_ref().and_then(from_timestamp),
            Some(shanghai("2026-12-08 00:00")),
            "due by the end of the last day"
        );
    }
    let task_of = |customer: &str| {
        tasks
            .iter()
            .find(|task| task.customer == customer)
            .expect("a task")
            .name
            .clone()
    };
    let figures = coverage(&as_admin, &draft.name).await;
    assert_eq!(figures.name, format!("{}/coverage", draft.name));
    assert_eq!(
        (
            figures.targeted_count,
            figures.open_count,
            figures.reached_count
        ),
        (3, 3, 0)
    );
    assert_eq!(figures.member_targeted_count, 3);
    assert_eq!(figures.reached_share, 0.0);
    assert_eq!(
        figures.start_time.as_ref().and_then(from_timestamp),
        Some(shanghai("2026-12-01 00:00"))
    );

    // The agent reaches 王芳 and finds 李雷's number wrong.
    for (customer, outcome) in [
        (&wang, CallbackOutcome::Reached),
        (&li, CallbackOutcome::WrongNumber),
    ] {
        as_agent
            .clone()
            .record_callback_outcome(RecordCallbackOutcomeRequest {
                name: task_of(customer),
                outcome: outcome as i32,
                notes: "会员回访".into(),
                ..RecordCallbackOutcomeRequest::default()
            })
            .await
            .expect("outcome recorded");
    }
    let figures = coverage(&as_admin, &draft.name).await;
    assert_eq!(figures.targeted_count, 3);
    assert_eq!(figures.reached_count, 1);
    assert!((figures.reached_share - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(figures.within_window_count, 1);
    assert_eq!(figures.failed_count, 1);
    assert_eq!(figures.open_count, 1);
    assert_eq!(figures.member_reached_count, 1);
    assert_eq!(figures.by_agent.len(), 1);
    assert_eq!(figures.by_agent[0].agent, agent_user);
    assert_eq!(figures.by_agent[0].agent_display_name, "agent");
    assert_eq!(
        (
            figures.by_agent[0].assigned_count,
            figures.by_agent[0].reached_count
        ),
        (3, 1)
    );
    let policy_figures = as_admin
        .clone()
        .get_policy_coverage(GetPolicyCoverageRequest {
            name: format!("{}/coverage", policy.name),
            start_time: Some(kefu_kit::events::to_timestamp(shanghai("2026-12-01 00:00"))),
            end_time: Some(kefu_kit::events::to_timestamp(shanghai("2026-12-02 00:00"))),
        })
        .await
        .expect("policy coverage")
        .into_inner();
    assert_eq!(
        (policy_figures.targeted_count, policy_figures.reached_count),
        (3, 1)
    );

    // Who is missing, and why.
    let uncovered = as_admin
        .clone()
        .list_uncovered_customers(ListUncoveredCustomersRequest {
            parent: draft.name.clone(),
            order_by: "customer_display_name".into(),
            ..ListUncoveredCustomersRequest::default()
        })
        .await
        .expect("uncovered")
        .into_inner();
    let missing: Vec<(&str, UncoveredReason)> = uncovered
        .uncovered_customers
        .iter()
        .map(|missing| {
            (
                missing.customer_display_name.as_str(),
                UncoveredReason::try_from(missing.reason).expect("reason"),
            )
        })
        .collect();
    assert_eq!(
        missing,
        vec![
            ("张伟", UncoveredReason::NoContactPhone),
            ("李雷", UncoveredReason::WrongNumber),
        ]
    );
    let wrong_only = as_admin
        .clone()
        .list_uncovered_customers(ListUncoveredCustomersRequest {
            parent: draft.name.clone(),
            filter: "reason = WRONG_NUMBER".into(),
            ..ListUncoveredCustomersRequest::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    assert_eq!(wrong_only.total_size, 1);
    assert_eq!(wrong_only.uncovered_customers[0].customer, li);
    assert_eq!(
        wrong_only.uncovered_customers[0].last_outcome,
        CallbackOutcome::WrongNumber as i32
    );

    // A campaign including new members gives a later VIP member a task too.
    let open_ended = create(&as_admin, week("新会员欢迎回访", &policy.name, true)).await;
    start(&as_admin, &open_ended.name).await;
    let sun = customer(&stack, &admin, "孙丽", true, "13800138005").await;
    eventually("the new member gets a task", WAIT, || {
        let (client, campaign, sun) = (as_admin.clone(), open_ended.name.clone(), sun.clone());
        async move {
            tasks_of(&client, &campaign)
                .await
                .iter()
                .any(|task| task.customer == sun)
        }
    })
    .await;
    let grown = as_admin
        .clone()
        .get_campaign(GetCampaignRequest {
            name: open_ended.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(grown.targeted_customer_count, 4);
    assert!(
        !tasks_of(&as_admin, &draft.name)
            .await
            .iter()
            .any(|task| task.customer == sun),
        "a campaign resolved at start takes no newcomer"
    );

    // Another tenant sees none of it.
    let b = stack.onboard("cbcampb", Industry::Generic).await;
    let other = stack.callbacks(Some(&b.admin_session));
    let hidden = other
        .clone()
        .get_campaign(GetCampaignRequest {
            name: draft.name.clone(),
        })
        .await
        .expect_err("another tenant's campaign");
    assert_eq!(hidden.code(), Code::NotFound);
    let hidden = other
        .clone()
        .get_campaign_coverage(GetCampaignCoverageRequest {
            name: format!("{}/coverage", draft.name),
        })
        .await
        .expect_err("another tenant's coverage");
    assert_eq!(hidden.code(), Code::NotFound);
    let hidden = other
        .clone()
        .cancel_campaign(CancelCampaignRequest {
            name: draft.name.clone(),
            note: "不是我的".into(),
            ..CancelCampaignRequest::default()
        })
        .await
        .expect_err("another tenant's cancellation");
    assert_eq!(hidden.code(), Code::NotFound);

    // Cancelling cancels the open task; the ended ones stay as they were.
    let cancelled = as_admin
        .clone()
        .cancel_campaign(CancelCampaignRequest {
            name: draft.name.clone(),
            note: "活动改期".into(),
            ..CancelCampaignRequest::default()
        })
        .await
        .expect("cancelled")
        .into_inner();
    assert_eq!(cancelled.state, CampaignState::Cancelled as i32);
    let after: Vec<(String, i32, i32)> = tasks_of(&as_admin, &draft.name)
        .await
        .into_iter()
        .map(|task| (task.customer, task.state, task.cancel_reason))
        .collect();
    assert!(after.contains(&(
        zhang.clone(),
        CallbackTaskState::Cancelled as i32,
        CallbackCancelReason::CampaignCancelled as i32
    )));
    assert!(after.contains(&(wang.clone(), CallbackTaskState::Done as i32, 0)));
    let figures = coverage(&as_admin, &draft.name).await;
    assert_eq!((figures.targeted_count, figures.cancelled_count), (2, 1));
    assert_eq!(
        count_events::<CampaignCancelled>(&callbacks_db, &draft.name).await,
        1
    );

    // The week over, two completion scans at once complete the ACTIVE
    // campaign once, with its coverage; the cancelled one stays cancelled.
    // (The scans are given the time: the clock stays, so the sessions do.)
    let end = shanghai("2026-12-08 00:00");
    let (first, second) = tokio::join!(
        complete_ended(callbacks_db.clone(), end),
        complete_ended(callbacks_db.clone(), end)
    );
    assert_eq!(
        first.expect("scan") + second.expect("scan"),
        1,
        "completed once"
    );
    let completed = as_admin
        .clone()
        .get_campaign(GetCampaignRequest {
            name: open_ended.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(completed.state, CampaignState::Completed as i32);
    assert_eq!(
        completed.end_time.as_ref().and_then(from_timestamp),
        Some(end)
    );
    assert_eq!(
        count_events::<CampaignCompleted>(&callbacks_db, &open_ended.name).await,
        1
    );
    let still = as_admin
        .clone()
        .get_campaign(GetCampaignRequest {
            name: draft.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(still.state, CampaignState::Cancelled as i32);
}

#[tokio::test]
async fn sqlite_campaigns_and_coverage() {
    campaigns_and_coverage(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_campaigns_and_coverage() {
    campaigns_and_coverage(Backend::Postgres).await;
}
