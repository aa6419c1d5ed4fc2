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
//!
//! The other triggers, on the real clock: a complaint taken through
//! ComplaintService to CLOSED makes exactly one task of the generic
//! template's COMPLAINT_CLOSED policy naming the complaint, and a dispatch
//! completed through DispatchService exactly one of its DISPATCH_COMPLETED
//! policy naming the dispatch.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kefu_kit::{
    events::{payload_as, to_timestamp},
    outbox::OutboxSignal,
    service::ServiceContext,
    testing::Backend,
};
use kefu_proto::v1::{
    ApprovalLevel, ApproveProposalRequest, CallbackCancelReason, CallbackPolicy, CallbackTask,
    CallbackTaskOverdue, CallbackTaskState, CallbackTrigger, CancelCallbackTaskRequest, Channel,
    CloseComplaintRequest, Complaint, ComplaintClassification, ComplaintClosed,
    ComplaintCustomerAcceptance, ComplaintExecution, ComplaintInvestigation,
    ComplaintNonQualitySubcategory, ComplaintRegistration, ComplaintRemedy, ComplaintRemedyType,
    ComplaintRootCauseCategory, ComplaintSeverity, ComplaintStage, ComplaintSummary,
    CompleteDispatchRequest, CreateCallbackTaskRequest, CreateProposalRequest,
    CreateServiceRequestRequest, DeactivateUserRequest, Dispatch, DispatchAppointmentWindow,
    DispatchCompleted, DispatchCustomerSignOff, DispatchState, DispatchTechnicianRequest,
    EraseCustomerRequest, ErasureRequester, GetCallbackTaskRequest, Industry, InviteUserRequest,
    JudgeComplaintRequest, ListDepartmentsRequest, ListDispatchesRequest, LoginRequest,
    MergeCustomersRequest, Money, PostalAddress, Proposal, ReassignCallbackTaskRequest,
    RecordArrivalRequest, RecordCustomerSignOffRequest, RecordExecutionRequest,
    RecordInvestigationRequest, RecordWorkRequest, RegisterComplaintRequest, ReopenTicketRequest,
    Role, ServiceRequest, ServiceType, SubmitProposalRequest, SummarizeComplaintRequest,
    TicketResolved, User, complaint_service_client::ComplaintServiceClient,
};
use tonic::Code;

use crate::{
    callbacks_support::{
        Callbacks, Desk, add_member, at, count_events, create_policy, desk, envelopes, get_task,
        inquiry_policy, list_policies, list_tasks, new_task, only_task, resolved_task, shanghai,
        start_at, tasks_where, until_member_copied,
    },
    eventually::eventually,
    gateway::reason,
    stack::{Bearer, PASSWORD, Stack},
    tickets_support::{
        WAIT, join_as, join_invited, new_customer, new_ticket, person, retry, until_known,
    },
};

const INQUIRY: &str = "ticketKinds/inquiry";

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

/// The filter of the tasks of `ticket`.
fn of_ticket(ticket: &str) -> String {
    format!("related_ticket = \"{ticket}\"")
}

async fn callback_tasks(backend: Backend) {
    let Some((stack, clock)) = start_at(backend, "2026-12-01 10:00").await else {
        return;
    };
    let Desk {
        a,
        tenant,
        slug,
        admin,
        agent_user,
        team,
        callbacks_db,
        ..
    } = desk(&stack, "cbtasks", "callbacks", "回访组", false).await;

    let agent_email = format!("agent@{slug}.example");
    let as_admin = stack.callbacks(Some(&admin));
    let policy = create_policy(&as_admin, inquiry_policy(&team.name))
        .await
        .expect("policy");

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
    let task = resolved_task(&tickets, &as_admin, &ticket.name, "已告知发票抬头").await;
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
    let queue = list_tasks(
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
        list_tasks(&as_admin, &of_ticket(&ticket.name)).await.len(),
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
        list_tasks(&stack.callbacks(Some(&b.admin_session)), "")
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
    let read = get_task(&as_agent, &task.name).await;
    assert_eq!(read.state, CallbackTaskState::Overdue as i32);
    assert_eq!(read.escalations.len(), 1);
    assert_eq!(
        list_tasks(&as_admin, &format!("team = \"{}\" AND overdue", team.name))
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
    let scheduled = resolved_task(&tickets, &as_admin, &second.name, "已告知地址").await;
    assert_eq!(
        at(scheduled.due_start.as_ref()),
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
    let reversed = tasks_where(
        &as_admin,
        &of_ticket(&second.name),
        "the task is cancelled",
        |tasks| {
            tasks
                .iter()
                .all(|task| task.state == CallbackTaskState::Cancelled as i32)
        },
    )
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
    let made = new_task(
        &as_admin,
        by_hand(None, "dms-0001").callback_task.expect("a task"),
        "",
    )
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
        list_tasks(&as_admin, &format!("customer = \"{asked}\""))
            .await
            .is_empty()
    );

    // Two records of one person, each with a task of the policy: merged,
    // the merged record's task is cancelled, the survivor's remains.
    let survivor = new_customer(&stack, &admin, "赵敏", "13600136000").await;
    let merged = new_customer(&stack, &admin, "赵敏(重复)", "13600136001").await;
    let mut owed = Vec::new();
    for customer in [&survivor, &merged] {
        let task = CallbackTask {
            policy: policy.name.clone(),
            customer: customer.clone(),
            subject: "回访".into(),
            ..CallbackTask::default()
        };
        owed.push(new_task(&as_admin, task, "").await);
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
    let kept = get_task(&as_admin, &owed[0].name).await;
    assert_eq!(kept.state, CallbackTaskState::Pending as i32);

    // The agent leaves: the open task goes to the team's other agent.
    let (second_agent, _) = join_as(&stack, &admin, &slug, "agent2", &[Role::Agent]).await;
    add_member(&stack, &admin, &team.name, &second_agent).await;
    until_member_copied(&callbacks_db, tenant, &team.name, &second_agent, false).await;
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

/// The one policy of the template's `trigger` (`COMPLAINT_CLOSED`), once
/// the seeded policies have arrived with TenantCreated.
async fn seeded_policy(client: &Callbacks, trigger: &str) -> CallbackPolicy {
    let filter = format!("trigger = {trigger}");
    eventually(&format!("the {trigger} policy is seeded"), WAIT, || async {
        !list_policies(client, &filter).await.is_empty()
    })
    .await;
    let seeded = list_policies(client, &filter).await;
    assert_eq!(seeded.len(), 1, "the template's one {trigger} policy");
    assert_eq!(seeded[0].active, Some(true));
    seeded[0].clone()
}

/// Waits for the one task of `trigger` and checks it is `customer`'s and
/// still PENDING.
async fn triggered(client: &Callbacks, trigger: CallbackTrigger, customer: &str) -> CallbackTask {
    let name = trigger
        .as_str_name()
        .trim_start_matches("CALLBACK_TRIGGER_");
    let task = only_task(
        client,
        &format!("trigger = {name}"),
        &format!("the {name} task is scheduled"),
    )
    .await;
    assert_eq!(task.trigger, trigger as i32);
    assert_eq!(task.customer, customer);
    assert_eq!(task.state, CallbackTaskState::Pending as i32);
    task
}

/// What a task names: its policy, trigger source, ticket, dispatch and
/// complaint.
fn references(task: &CallbackTask) -> [&str; 5] {
    [
        task.policy.as_str(),
        task.trigger_source.as_str(),
        task.related_ticket.as_str(),
        task.related_dispatch.as_str(),
        task.related_complaint.as_str(),
    ]
}

/// Takes `complaint` (registered) through every stage to CLOSED as `lead`
/// (a department manager) does it.
async fn close_complaint(
    complaints: &ComplaintServiceClient<Bearer>,
    complaint: &Complaint,
    department: &str,
) -> Complaint {
    let name = complaint.name.clone();
    retry("the complaint is judged", || {
        let mut client = complaints.clone();
        let request = JudgeComplaintRequest {
            name: name.clone(),
            valid: true,
            responsible_department: department.into(),
            ..JudgeComplaintRequest::default()
        };
        async move { client.judge_complaint(request).await }
    })
    .await;
    let mut client = complaints.clone();
    client
        .record_investigation(RecordInvestigationRequest {
            name: name.clone(),
            investigation: Some(ComplaintInvestigation {
                root_cause: "承运商装卸时跌落".into(),
                classification: ComplaintClassification::NonQuality as i32,
                non_quality_subcategory: ComplaintNonQualitySubcategory::Transport as i32,
                responsible_person: "承运商 李师傅".into(),
                report: "外箱有撞击痕迹".into(),
                ..ComplaintInvestigation::default()
            }),
            submit_report: true,
            ..RecordInvestigationRequest::default()
        })
        .await
        .expect("investigated");
    let proposal = client
        .create_proposal(CreateProposalRequest {
            parent: name.clone(),
            proposal: Some(Proposal {
                remedies: vec![ComplaintRemedy {
                    r#type: ComplaintRemedyType::Compensation as i32,
                    amount: Some(Money {
                        currency_code: "CNY".into(),
                        amount_minor: 30_000,
                    }),
                    description: "赔偿".into(),
                    quantity: 0,
                }],
                description: "赔偿 300 元".into(),
                ..Proposal::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("proposal created")
        .into_inner();
    let proposal = client
        .submit_proposal(SubmitProposalRequest {
            name: proposal.name.clone(),
            etag: proposal.etag.clone(),
        })
        .await
        .expect("proposal submitted")
        .into_inner();
    client
        .approve_proposal(ApproveProposalRequest {
            name: proposal.name.clone(),
            comment: "同意".into(),
            ..ApproveProposalRequest::default()
        })
        .await
        .expect("approved by the department manager");
    client
        .record_execution(RecordExecutionRequest {
            name: name.clone(),
            execution: Some(ComplaintExecution {
                notes: "已赔偿".into(),
                acceptance: Some(ComplaintCustomerAcceptance {
                    accepted: true,
                    signed_name: "张三".into(),
                    ..ComplaintCustomerAcceptance::default()
                }),
                ..ComplaintExecution::default()
            }),
            ..RecordExecutionRequest::default()
        })
        .await
        .expect("executed and accepted");
    client
        .summarize_complaint(SummarizeComplaintRequest {
            name: name.clone(),
            summary: Some(ComplaintSummary {
                root_cause_category: ComplaintRootCauseCategory::Logistics as i32,
                improvement_measure: "大件商品加装护角".into(),
                ..ComplaintSummary::default()
            }),
            ..SummarizeComplaintRequest::default()
        })
        .await
        .expect("summarized");
    client
        .close_complaint(CloseComplaintRequest {
            name,
            ..CloseComplaintRequest::default()
        })
        .await
        .expect("closed")
        .into_inner()
}

/// Takes the first visit of a free service request on `ticket` for
/// `customer` to COMPLETED: the manager dispatches `technician_user`, who
/// arrives, works and has the customer sign. Returns the request and the
/// completed dispatch.
async fn complete_visit(
    stack: &Stack,
    manager: &str,
    technician: &str,
    technician_user: &str,
    customer: &str,
    ticket: &str,
) -> (ServiceRequest, Dispatch) {
    let unknown_reference = |status: &tonic::Status| reason(status) == "UNKNOWN_REFERENCE";
    let as_manager = stack.dispatch(Some(manager));
    let mut as_technician = stack.dispatch(Some(technician));
    let request = CreateServiceRequestRequest {
        service_request: Some(ServiceRequest {
            customer: customer.into(),
            ticket: ticket.into(),
            address: Some(PostalAddress {
                region_code: "CN".into(),
                locality: "杭州市".into(),
                sublocality: "西湖区".into(),
                address_lines: vec!["文三路 1 号".into()],
                ..PostalAddress::default()
            }),
            phone: "+8613800000001".into(),
            product_model: "KFR-35GW".into(),
            specification: "1.5 匹".into(),
            fault_description: "空调不制冷".into(),
            service_type: ServiceType::CFree as i32,
            ..ServiceRequest::default()
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let service_request = until_known(unknown_reference, || {
        let mut client = as_manager.clone();
        let request = request.clone();
        async move { client.create_service_request(request).await }
    })
    .await
    .expect("service request");
    let visit = as_manager
        .clone()
        .list_dispatches(ListDispatchesRequest {
            parent: service_request.name.clone(),
            ..ListDispatchesRequest::default()
        })
        .await
        .expect("list dispatches")
        .into_inner()
        .dispatches
        .first()
        .map(|visit| visit.name.clone())
        .expect("the first visit is queued");
    let start = Utc::now() + chrono::Duration::hours(4);
    let dispatch = DispatchTechnicianRequest {
        name: visit.clone(),
        technician: technician_user.into(),
        appointment_window: Some(DispatchAppointmentWindow {
            start_time: Some(to_timestamp(start)),
            end_time: Some(to_timestamp(start + chrono::Duration::hours(2))),
        }),
        ..DispatchTechnicianRequest::default()
    };
    until_known(unknown_reference, || {
        let mut client = as_manager.clone();
        let request = dispatch.clone();
        async move { client.dispatch_technician(request).await }
    })
    .await
    .expect("dispatched");
    as_technician
        .record_arrival(RecordArrivalRequest {
            name: visit.clone(),
            ..RecordArrivalRequest::default()
        })
        .await
        .expect("arrived");
    let worked = Utc::now();
    as_technician
        .record_work(RecordWorkRequest {
            name: visit.clone(),
            actual_start_time: Some(to_timestamp(worked)),
            actual_end_time: Some(to_timestamp(worked + chrono::Duration::minutes(50))),
            work_done: "更换启动电容".into(),
            ..RecordWorkRequest::default()
        })
        .await
        .expect("work");
    as_technician
        .record_customer_sign_off(RecordCustomerSignOffRequest {
            name: visit.clone(),
            sign_off: Some(DispatchCustomerSignOff {
                signed_name: "张三".into(),
                signature_uri: "https://files.example/sign/1.png".into(),
                ..DispatchCustomerSignOff::default()
            }),
            ..RecordCustomerSignOffRequest::default()
        })
        .await
        .expect("signed");
    let completed = as_technician
        .complete_dispatch(CompleteDispatchRequest {
            name: visit,
            ..CompleteDispatchRequest::default()
        })
        .await
        .expect("completed")
        .into_inner();
    (service_request, completed)
}

/// A generic tenant's complaint closed through ComplaintService, and a
/// dispatch completed through DispatchService, each make exactly one task
/// of the template's policy for its trigger (COMPLAINT_CLOSED, naming the
/// complaint; DISPATCH_COMPLETED, naming the dispatch), and nothing else.
async fn triggered_tasks(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("cbtrig", Industry::Generic).await;
    let slug = a.tenant.slug.clone();
    let admin = a.admin_session.clone();
    let as_admin = stack.callbacks(Some(&admin));
    let complaint_policy = seeded_policy(&as_admin, "COMPLAINT_CLOSED").await;
    let dispatch_policy = seeded_policy(&as_admin, "DISPATCH_COMPLETED").await;
    let customer = new_customer(&stack, &admin, "张三", "13800138000").await;

    // A complaint, from registration to its close.
    let invitation = InviteUserRequest {
        user: Some(User {
            approval_level: ApprovalLevel::DepartmentManager as i32,
            ..person(&slug, "lead", &[Role::Supervisor])
        }),
        ..InviteUserRequest::default()
    };
    let (_, lead) = join_invited(&stack, &admin, &slug, invitation).await;
    let department = stack
        .identity(Some(&admin))
        .list_departments(ListDepartmentsRequest::default())
        .await
        .expect("departments")
        .into_inner()
        .departments
        .first()
        .map(|department| department.name.clone())
        .expect("the template seeds departments");
    let ticket = new_ticket(
        &stack.tickets(Some(&admin)),
        "ticketKinds/complaint",
        &customer,
        "冰箱到货外壳凹陷",
    )
    .await;
    let complaints = stack.complaints(Some(&lead));
    let complaint = complaints
        .clone()
        .register_complaint(RegisterComplaintRequest {
            complaint: Some(Complaint {
                ticket: ticket.name.clone(),
                severity: ComplaintSeverity::Normal as i32,
                registration: Some(ComplaintRegistration {
                    customer: customer.clone(),
                    channel: Channel::Phone as i32,
                    content: "冰箱到货外壳凹陷，要求退货".into(),
                    customer_demand: "退货并赔偿".into(),
                    ..ComplaintRegistration::default()
                }),
                ..Complaint::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("registered")
        .into_inner();
    let closed = close_complaint(&complaints, &complaint, &department).await;
    assert_eq!(closed.stage, ComplaintStage::Closed as i32);
    let tickets_db = stack.service_connection("tickets").await;
    assert_eq!(
        count_events::<ComplaintClosed>(&tickets_db, &complaint.name).await,
        1
    );
    let task = triggered(&as_admin, CallbackTrigger::ComplaintClosed, &customer).await;
    assert_eq!(
        references(&task),
        [
            complaint_policy.name.as_str(),
            complaint.name.as_str(),
            ticket.name.as_str(),
            "",
            complaint.name.as_str(),
        ],
        "policy, source, ticket, dispatch, complaint"
    );
    assert_eq!(task.subject, complaint.subject);
    assert_eq!(task.state, CallbackTaskState::Pending as i32);

    // A visit, from the service request to its completion.
    let (_, manager) = join_as(&stack, &admin, &slug, "manager", &[Role::Manager]).await;
    let (technician_user, technician) =
        join_as(&stack, &admin, &slug, "technician", &[Role::Technician]).await;
    let repair = new_ticket(
        &stack.tickets(Some(&admin)),
        INQUIRY,
        &customer,
        "空调不制冷",
    )
    .await;
    let (service_request, visit) = complete_visit(
        &stack,
        &manager,
        &technician,
        &technician_user,
        &customer,
        &repair.name,
    )
    .await;
    assert_eq!(visit.state, DispatchState::Completed as i32);
    assert_eq!(
        count_events::<DispatchCompleted>(&tickets_db, &service_request.name).await,
        1
    );
    let task = triggered(&as_admin, CallbackTrigger::DispatchCompleted, &customer).await;
    assert_eq!(
        references(&task),
        [
            dispatch_policy.name.as_str(),
            visit.name.as_str(),
            repair.name.as_str(),
            visit.name.as_str(),
            "",
        ],
        "policy, source, ticket, dispatch, complaint"
    );
    assert_eq!(task.subject, "KFR-35GW", "the product model");

    // Nothing else was scheduled for the customer.
    let all = list_tasks(&as_admin, &format!("customer = \"{customer}\"")).await;
    assert_eq!(all.len(), 2, "one task per trigger: {all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callback_tasks_triggered_sqlite() {
    triggered_tasks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callback_tasks_triggered_postgres() {
    triggered_tasks(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callback_tasks_sqlite() {
    callback_tasks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callback_tasks_postgres() {
    callback_tasks(Backend::Postgres).await;
}
