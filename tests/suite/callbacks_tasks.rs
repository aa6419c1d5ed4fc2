//! Callback tasks through the gateway on both backends, the whole stack on
//! a manual clock. A generic tenant (quiet hours 21:00–08:00 and
//! 12:00–13:30 in Shanghai, callbacks due within 3 days) gets a policy
//! calling back resolved inquiries, spread over a team of one agent.
//! Resolving an inquiry at 22:30 makes exactly one task, due from 08:00 the
//! next morning to 3 days after the resolution, in the agent's queue; the
//! same TicketResolved delivered again, and to a second handler at the same
//! time, still makes one. Two overdue scans running at once past the
//! window turn it OVERDUE with one CallbackTaskOverdue. A reopened ticket
//! cancels its task (TRIGGER_REVERSED). Another tenant's task answers
//! NOT_FOUND; an agent may not cancel; a cancellation needs its note.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use kefu_kit::{
    clock::ManualClock,
    context::TenantId,
    db::{begin_for_tenant, begin_read_platform},
    events::{from_timestamp, payload_as},
    outbox::{self, OutboxSignal},
    service::ServiceContext,
    testing::Backend,
};
use kefu_proto::v1::{
    AddTeamMemberRequest, CallbackAssignment, CallbackAssignmentMode, CallbackCancelReason,
    CallbackPolicy, CallbackTask, CallbackTaskOverdue, CallbackTaskState, CallbackTrigger,
    CallbackTriggerFilter, CancelCallbackTaskRequest, Channel, CreateCallbackPolicyRequest,
    CreateCallbackTaskRequest, CreateTeamRequest, DeactivateUserRequest, EraseCustomerRequest,
    ErasureRequester, EventEnvelope, GetCallbackTaskRequest, Industry, ListCallbackTasksRequest,
    LocalizedText, LoginRequest, MergeCustomersRequest, ReassignCallbackTaskRequest,
    ReopenTicketRequest, ResolveTicketRequest, Role, Team, TicketResolutionCode, TicketResolved,
    callback_service_client::CallbackServiceClient,
};
use prost::{Message, Name};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tonic::Code;

use crate::{
    eventually::eventually,
    stack::{Bearer, PASSWORD, Stack},
    tickets_support::{join_as, new_customer, new_ticket, retry},
};

const WAIT: Duration = Duration::from_secs(30);

const INQUIRY: &str = "ticketKinds/inquiry";

/// A wall time in Shanghai (UTC+8 all year) as UTC.
fn shanghai(text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time");
    FixedOffset::east_opt(8 * 3600)
        .expect("offset")
        .from_local_datetime(&naive)
        .single()
        .expect("exists")
        .with_timezone(&Utc)
}

fn at(time: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    time.and_then(from_timestamp)
}

/// Logs `email` of tenant `slug` in again (a jump of the manual clock
/// outlives the sessions): the session token.
async fn login(stack: &Stack, slug: &str, email: &str) -> String {
    stack
        .identity(None)
        .login(LoginRequest {
            tenant_slug: slug.into(),
            email: email.into(),
            password: PASSWORD.into(),
        })
        .await
        .expect("login")
        .into_inner()
        .session_token
}

/// The tasks `filter` lists for the caller of `client`.
async fn list(client: &CallbackServiceClient<Bearer>, filter: &str) -> Vec<CallbackTask> {
    client
        .clone()
        .list_callback_tasks(ListCallbackTasksRequest {
            filter: filter.into(),
            ..ListCallbackTasksRequest::default()
        })
        .await
        .expect("list callback tasks")
        .into_inner()
        .callback_tasks
}

/// Waits until the tasks of `ticket` read as `expected` says; returns them.
async fn tasks_of(
    client: &CallbackServiceClient<Bearer>,
    ticket: &str,
    what: &str,
    expected: impl Fn(&[CallbackTask]) -> bool,
) -> Vec<CallbackTask> {
    let filter = format!("related_ticket = \"{ticket}\"");
    let expected = &expected;
    eventually(what, WAIT, || {
        let filter = filter.clone();
        async move { expected(&list(client, &filter).await) }
    })
    .await;
    list(client, &filter).await
}

/// The envelopes of `M` in `db`'s outbox with `subject`.
async fn envelopes<M: Name>(db: &DatabaseConnection, subject: &str) -> Vec<EventEnvelope> {
    let txn = begin_read_platform(db).await.expect("begin");
    let rows = outbox::entity::Entity::find()
        .filter(outbox::entity::Column::EventType.eq(M::full_name()))
        .filter(outbox::entity::Column::Subject.eq(subject))
        .all(&txn)
        .await
        .expect("outbox");
    txn.commit().await.expect("commit");
    rows.iter()
        .map(|row| EventEnvelope::decode(row.payload.as_slice()).expect("envelope"))
        .collect()
}

async fn callback_tasks(backend: Backend) {
    let clock = ManualClock::new(shanghai("2026-12-01 10:00"));
    let Some(stack) = Stack::start_with_clock(backend, Arc::new(clock.clone()), |config| {
        config.limits.enabled = false;
    })
    .await
    else {
        return;
    };
    let a = stack.onboard("cbtasks", Industry::Generic).await;
    let tenant = TenantId(
        a.tenant
            .name
            .strip_prefix("tenants/")
            .and_then(|id| id.parse().ok())
            .expect("tenant id"),
    );
    let slug = a.tenant.slug.clone();
    let admin = a.admin_session.clone();
    let (agent_user, _) = join_as(&stack, &admin, &slug, "agent", &[Role::Agent]).await;
    let team = stack
        .identity(Some(&admin))
        .create_team(CreateTeamRequest {
            team: Some(Team {
                display_name: "回访组".into(),
                ..Team::default()
            }),
            team_id: "callbacks".into(),
            ..CreateTeamRequest::default()
        })
        .await
        .expect("team")
        .into_inner();
    stack
        .identity(Some(&admin))
        .add_team_member(AddTeamMemberRequest {
            name: team.name.clone(),
            user: agent_user.clone(),
        })
        .await
        .expect("member");
    let callbacks_db = stack.service_connection("callbacks").await;
    // The callbacks service's copy knows the team's agent and the quiet
    // hours before the first trigger.
    eventually("the callbacks copy knows the team", WAIT, || {
        let db = callbacks_db.clone();
        let (team, agent) = (team.name.clone(), agent_user.clone());
        async move {
            let txn = begin_for_tenant(&db, tenant).await.expect("begin");
            let known = kefu_tenants::replica::team(&txn, tenant, &team)
                .await
                .expect("team copy")
                .is_some_and(|team| team.members.contains(&agent))
                && kefu_tenants::replica::tenant(&txn, tenant)
                    .await
                    .expect("tenant copy")
                    .is_some_and(|tenant| {
                        tenant
                            .calendar
                            .is_some_and(|calendar| !calendar.quiet_hours.is_empty())
                    });
            txn.commit().await.expect("commit");
            known
        }
    })
    .await;

    let agent_email = format!("agent@{slug}.example");
    let as_admin = stack.callbacks(Some(&admin));
    let policy = as_admin
        .clone()
        .create_callback_policy(CreateCallbackPolicyRequest {
            callback_policy: Some(CallbackPolicy {
                display_name: Some(LocalizedText {
                    values: [("zh-CN".to_owned(), "咨询回访".to_owned())].into(),
                }),
                trigger: CallbackTrigger::TicketResolved as i32,
                trigger_filter: Some(CallbackTriggerFilter {
                    ticket_kinds: vec!["inquiry".into()],
                    ..CallbackTriggerFilter::default()
                }),
                channel: Channel::Sms as i32,
                assignment: Some(CallbackAssignment {
                    mode: CallbackAssignmentMode::TeamLeastLoaded as i32,
                    team: team.name.clone(),
                }),
                ..CallbackPolicy::default()
            }),
            ..CreateCallbackPolicyRequest::default()
        })
        .await
        .expect("policy")
        .into_inner();

    // Resolved at 22:30, in the quiet hours: one task, from 08:00.
    let customer = new_customer(&stack, &admin, "王芳", "13800138000").await;
    let ticket = new_ticket(
        &stack.tickets(Some(&admin)),
        INQUIRY,
        &customer,
        "发票抬头查询",
    )
    .await;
    clock.set(shanghai("2026-12-01 22:30"));
    let admin = login(&stack, &slug, &a.admin_email).await;
    let agent = login(&stack, &slug, &agent_email).await;
    let tickets = stack.tickets(Some(&admin));
    let as_admin = stack.callbacks(Some(&admin));
    let as_agent = stack.callbacks(Some(&agent));
    retry("the ticket is resolved", || {
        let mut tickets = tickets.clone();
        let name = ticket.name.clone();
        async move {
            tickets
                .resolve_ticket(ResolveTicketRequest {
                    name,
                    code: TicketResolutionCode::Solved as i32,
                    summary: "已告知发票抬头".into(),
                    ..ResolveTicketRequest::default()
                })
                .await
        }
    })
    .await;
    let found = tasks_of(&as_admin, &ticket.name, "one task is scheduled", |tasks| {
        !tasks.is_empty()
    })
    .await;
    assert_eq!(found.len(), 1, "one trigger, one task");
    let task = found[0].clone();
    assert_eq!(task.policy, policy.name);
    assert_eq!(task.customer, customer);
    assert_eq!(task.trigger, CallbackTrigger::TicketResolved as i32);
    assert_eq!(task.state, CallbackTaskState::Pending as i32);
    assert_eq!(task.assignee, agent_user, "the team's only agent");
    assert_eq!(task.team, team.name);
    assert_eq!(
        at(task.due_start.as_ref()),
        Some(shanghai("2026-12-02 08:00")),
        "the window opens after the quiet hours"
    );
    assert_eq!(
        at(task.due_end.as_ref()),
        Some(shanghai("2026-12-04 22:30")),
        "due within the tenant's 3 days"
    );
    assert_eq!(
        at(task.next_call_time.as_ref()),
        Some(shanghai("2026-12-02 08:00"))
    );

    // The agent's queue.
    let queue = list(
        &as_agent,
        "assignee = \"users/me\" AND (state = PENDING OR state = IN_PROGRESS OR state = OVERDUE)",
    )
    .await;
    assert_eq!(
        queue
            .iter()
            .map(|task| task.name.clone())
            .collect::<Vec<_>>(),
        vec![task.name.clone()]
    );

    // The same TicketResolved again, and to a second handler at once: no
    // second task.
    let tickets_db = stack.service_connection("tickets").await;
    let resolved = envelopes::<TicketResolved>(&tickets_db, &ticket.name).await;
    assert_eq!(resolved.len(), 1);
    let envelope = resolved[0].clone();
    let context = ServiceContext {
        db: callbacks_db.clone(),
        outbox: OutboxSignal::default(),
        clock: Arc::new(clock.clone()),
    };
    let replica =
        kefu_callbacks::consumers::triggers::Triggers::new("callbacks.triggers", &context);
    let other =
        kefu_callbacks::consumers::triggers::Triggers::new("callbacks.triggers.b", &context);
    replica.apply(&envelope).await.expect("redelivered");
    let (first, second) = tokio::join!(other.apply(&envelope), replica.apply(&envelope));
    first.expect("second handler");
    second.expect("third delivery");
    assert_eq!(
        list(&as_admin, &format!("related_ticket = \"{}\"", ticket.name))
            .await
            .len(),
        1,
        "redeliveries make no second task"
    );
    assert!(payload_as::<TicketResolved>(&envelope).is_some());

    // Another tenant sees nothing of it.
    let b = stack.onboard("cbother", Industry::Generic).await;
    let status = stack
        .callbacks(Some(&b.admin_session))
        .get_callback_task(GetCallbackTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect_err("another tenant's task");
    assert_eq!(status.code(), Code::NotFound);
    assert!(
        list(&stack.callbacks(Some(&b.admin_session)), "")
            .await
            .is_empty(),
        "another tenant lists none of them"
    );

    // Two schedulers scan at once past the window: OVERDUE once.
    let past = shanghai("2026-12-04 22:31");
    clock.set(past);
    let admin = login(&stack, &slug, &a.admin_email).await;
    let agent = login(&stack, &slug, &agent_email).await;
    let as_admin = stack.callbacks(Some(&admin));
    let as_agent = stack.callbacks(Some(&agent));
    let second_db = stack.service_connection("callbacks").await;
    let (one, two) = tokio::join!(
        kefu_callbacks::consumers::overdue::scan_overdue(&callbacks_db, past),
        kefu_callbacks::consumers::overdue::scan_overdue(&second_db, past),
    );
    let turned = one.expect("first scan") + two.expect("second scan");
    assert_eq!(turned, 1, "one task turned overdue, by one of the scans");
    let overdue = envelopes::<CallbackTaskOverdue>(&callbacks_db, &task.name).await;
    assert_eq!(overdue.len(), 1, "one CallbackTaskOverdue");
    assert_eq!(
        kefu_callbacks::consumers::overdue::scan_overdue(&callbacks_db, past)
            .await
            .expect("third scan"),
        0
    );
    let read = as_agent
        .clone()
        .get_callback_task(GetCallbackTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(read.state, CallbackTaskState::Overdue as i32);
    assert_eq!(read.escalations.len(), 1);
    assert_eq!(
        list(&as_admin, &format!("team = \"{}\" AND overdue", team.name))
            .await
            .len(),
        1
    );

    // Cancelling: not an agent's to do, and only with a note.
    let status = as_agent
        .clone()
        .cancel_callback_task(CancelCallbackTaskRequest {
            name: task.name.clone(),
            note: "客户要求".into(),
            ..CancelCallbackTaskRequest::default()
        })
        .await
        .expect_err("an agent may not cancel");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = as_admin
        .clone()
        .cancel_callback_task(CancelCallbackTaskRequest {
            name: task.name.clone(),
            ..CancelCallbackTaskRequest::default()
        })
        .await
        .expect_err("a note is required");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(crate::tenants::field_of(&status), "note");
    let cancelled = as_admin
        .clone()
        .cancel_callback_task(CancelCallbackTaskRequest {
            name: task.name.clone(),
            note: "客户要求不再回访".into(),
            customer_opted_out: true,
            etag: read.etag.clone(),
        })
        .await
        .expect("cancelled")
        .into_inner();
    assert_eq!(cancelled.state, CallbackTaskState::Cancelled as i32);
    assert_eq!(
        cancelled.cancel_reason,
        CallbackCancelReason::CustomerOptedOut as i32
    );
    let status = as_admin
        .clone()
        .cancel_callback_task(CancelCallbackTaskRequest {
            name: task.name.clone(),
            note: "again".into(),
            ..CancelCallbackTaskRequest::default()
        })
        .await
        .expect_err("already cancelled");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // A reopened ticket takes its callback back.
    clock.set(shanghai("2026-12-05 10:00"));
    let admin = login(&stack, &slug, &a.admin_email).await;
    let tickets = stack.tickets(Some(&admin));
    let as_admin = stack.callbacks(Some(&admin));
    let second = new_ticket(&tickets, INQUIRY, &customer, "退货地址查询").await;
    tickets
        .clone()
        .resolve_ticket(ResolveTicketRequest {
            name: second.name.clone(),
            code: TicketResolutionCode::Solved as i32,
            summary: "已告知地址".into(),
            ..ResolveTicketRequest::default()
        })
        .await
        .expect("resolve");
    let scheduled = tasks_of(&as_admin, &second.name, "the second task", |tasks| {
        tasks.len() == 1
    })
    .await;
    assert_eq!(
        at(scheduled[0].due_start.as_ref()),
        Some(shanghai("2026-12-05 10:00")),
        "daytime: the window opens at once"
    );
    tickets
        .clone()
        .reopen_ticket(ReopenTicketRequest {
            name: second.name.clone(),
            reason: "客户说问题没解决".into(),
            ..ReopenTicketRequest::default()
        })
        .await
        .expect("reopen");
    let reversed = tasks_of(&as_admin, &second.name, "the task is cancelled", |tasks| {
        tasks
            .iter()
            .all(|task| task.state == CallbackTaskState::Cancelled as i32)
    })
    .await;
    assert_eq!(reversed.len(), 1);
    assert_eq!(
        reversed[0].cancel_reason,
        CallbackCancelReason::TriggerReversed as i32
    );

    // By hand: a customer asked to be called. An appointment in the quiet
    // hours is refused, naming it; a partner's trigger id is used once.
    let asked = new_customer(&stack, &admin, "李雷", "13900139000").await;
    let by_hand = |appointment: Option<DateTime<Utc>>, event_id: &str| CreateCallbackTaskRequest {
        callback_task: Some(CallbackTask {
            policy: policy.name.clone(),
            customer: asked.clone(),
            subject: "客户来电要求回访".into(),
            trigger_event_id: event_id.into(),
            appointment_time: appointment.map(kefu_kit::events::to_timestamp),
            ..CallbackTask::default()
        }),
        request_id: String::new(),
    };
    let made = retry("a task is created by hand", || {
        let mut client = as_admin.clone();
        let request = by_hand(None, "dms-0001");
        async move { client.create_callback_task(request).await }
    })
    .await;
    assert_eq!(made.trigger, CallbackTrigger::TicketResolved as i32);
    assert_eq!(made.assignee, agent_user, "the policy's assignment");
    let status = as_admin
        .clone()
        .create_callback_task(by_hand(None, "dms-0001"))
        .await
        .expect_err("the same partner trigger again");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(crate::gateway::reason(&status), "DUPLICATE_TRIGGER");
    let status = as_admin
        .clone()
        .create_callback_task(by_hand(Some(shanghai("2026-12-05 23:00")), ""))
        .await
        .expect_err("an appointment at night");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        crate::tenants::field_of(&status),
        "callback_task.appointment_time"
    );
    assert_eq!(crate::gateway::reason(&status), "QUIET_HOURS");
    let manual = as_admin
        .clone()
        .create_callback_task(by_hand(Some(shanghai("2026-12-05 15:00")), ""))
        .await
        .expect("an appointment in the afternoon")
        .into_inner();
    assert_eq!(manual.trigger, CallbackTrigger::Manual as i32);
    assert_eq!(
        at(manual.next_call_time.as_ref()),
        Some(shanghai("2026-12-05 15:00"))
    );

    // A retry with the same request id answers the same task.
    let keyed = CreateCallbackTaskRequest {
        request_id: uuid::Uuid::now_v7().to_string(),
        ..by_hand(None, "")
    };
    let first = as_admin
        .clone()
        .create_callback_task(keyed.clone())
        .await
        .expect("created with a request id")
        .into_inner();
    let again = as_admin
        .clone()
        .create_callback_task(keyed)
        .await
        .expect("the retry")
        .into_inner();
    assert_eq!(first.name, again.name);

    // Reassigned to the administrator, then back to the team.
    let moved = as_admin
        .clone()
        .reassign_callback_task(ReassignCallbackTaskRequest {
            name: manual.name.clone(),
            assignee: a.admin_user.clone(),
            reason: "agent on leave".into(),
            ..ReassignCallbackTaskRequest::default()
        })
        .await
        .expect("reassigned")
        .into_inner();
    assert_eq!(moved.assignee, a.admin_user);
    let back = as_admin
        .clone()
        .reassign_callback_task(ReassignCallbackTaskRequest {
            name: manual.name.clone(),
            team: team.name.clone(),
            etag: moved.etag.clone(),
            ..ReassignCallbackTaskRequest::default()
        })
        .await
        .expect("back to the team")
        .into_inner();
    assert_eq!(back.assignee, agent_user);
    let status = as_admin
        .clone()
        .reassign_callback_task(ReassignCallbackTaskRequest {
            name: manual.name.clone(),
            assignee: "users/nobody".into(),
            ..ReassignCallbackTaskRequest::default()
        })
        .await
        .expect_err("not a user of the tenant");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(crate::tenants::field_of(&status), "assignee");

    // The customer is erased: the tasks are gone.
    stack
        .customers(Some(&admin))
        .erase_customer(EraseCustomerRequest {
            name: asked.clone(),
            reason: "PIPL 删除请求".into(),
            requested_by: ErasureRequester::DataSubject as i32,
            ..EraseCustomerRequest::default()
        })
        .await
        .expect("erased");
    eventually("the erased customer's tasks are gone", WAIT, || {
        let client = as_admin.clone();
        let names = [made.name.clone(), manual.name.clone()];
        async move {
            let mut gone = true;
            for name in names {
                let answer = client
                    .clone()
                    .get_callback_task(GetCallbackTaskRequest { name })
                    .await;
                gone &= answer.is_err_and(|status| status.code() == Code::NotFound);
            }
            gone
        }
    })
    .await;
    assert!(
        list(&as_admin, &format!("customer = \"{asked}\""))
            .await
            .is_empty()
    );

    // Two records of one person, each with a task of the policy: merged,
    // the merged record's task is cancelled, the survivor's remains.
    let survivor = new_customer(&stack, &admin, "赵敏", "13600136000").await;
    let merged = new_customer(&stack, &admin, "赵敏(重复)", "13600136001").await;
    let mut owed = Vec::new();
    for customer in [&survivor, &merged] {
        let request = CreateCallbackTaskRequest {
            callback_task: Some(CallbackTask {
                policy: policy.name.clone(),
                customer: customer.clone(),
                subject: "回访".into(),
                ..CallbackTask::default()
            }),
            request_id: String::new(),
        };
        owed.push(
            retry("a task for each record", || {
                let mut client = as_admin.clone();
                let request = request.clone();
                async move { client.create_callback_task(request).await }
            })
            .await,
        );
    }
    stack
        .customers(Some(&admin))
        .merge_customers(MergeCustomersRequest {
            survivor: survivor.clone(),
            merged: merged.clone(),
            reason: "同一客户两次登记".into(),
            ..MergeCustomersRequest::default()
        })
        .await
        .expect("merged");
    eventually("the merged record's task is cancelled", WAIT, || {
        let mut client = as_admin.clone();
        let name = owed[1].name.clone();
        async move {
            client
                .get_callback_task(GetCallbackTaskRequest { name })
                .await
                .is_ok_and(|task| {
                    task.get_ref().cancel_reason == CallbackCancelReason::CustomerMerged as i32
                })
        }
    })
    .await;
    let kept = as_admin
        .clone()
        .get_callback_task(GetCallbackTaskRequest {
            name: owed[0].name.clone(),
        })
        .await
        .expect("the survivor's task")
        .into_inner();
    assert_eq!(kept.state, CallbackTaskState::Pending as i32);

    // The agent leaves: the open task goes to the team's other agent.
    let (second_agent, _) = join_as(&stack, &admin, &slug, "agent2", &[Role::Agent]).await;
    stack
        .identity(Some(&admin))
        .add_team_member(AddTeamMemberRequest {
            name: team.name.clone(),
            user: second_agent.clone(),
        })
        .await
        .expect("second member");
    eventually("the callbacks copy knows the second agent", WAIT, || {
        let db = callbacks_db.clone();
        let (team, agent) = (team.name.clone(), second_agent.clone());
        async move {
            let txn = begin_for_tenant(&db, tenant).await.expect("begin");
            let known = kefu_tenants::replica::team(&txn, tenant, &team)
                .await
                .expect("team copy")
                .is_some_and(|team| team.members.contains(&agent));
            txn.commit().await.expect("commit");
            known
        }
    })
    .await;
    stack
        .identity(Some(&admin))
        .deactivate_user(DeactivateUserRequest {
            name: agent_user.clone(),
            reason: "离职".into(),
            ..DeactivateUserRequest::default()
        })
        .await
        .expect("deactivated");
    eventually("the task moves to the second agent", WAIT, || {
        let mut client = as_admin.clone();
        let (name, agent) = (owed[0].name.clone(), second_agent.clone());
        async move {
            client
                .get_callback_task(GetCallbackTaskRequest { name })
                .await
                .is_ok_and(|task| task.get_ref().assignee == agent)
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callback_tasks_sqlite() {
    callback_tasks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callback_tasks_postgres() {
    callback_tasks(Backend::Postgres).await;
}
