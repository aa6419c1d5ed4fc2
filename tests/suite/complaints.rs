//! The complaint workflow (投诉处理流程) through the gateway on both
//! backends, as a complaints supervisor notices it: a complaint is
//! registered on a complaint ticket (never on an inquiry), judged, investigated,
//! proposed, approved by the level its amount needs (a lower level is
//! refused and the proposal stays as it was), executed, re-proposed in a
//! new round when the customer does not accept, summarized and closed; each
//! stage refuses to move without its data, naming the field; an invalid
//! complaint is rejected for good; a severe one escalates at once; one past
//! its deadline is escalated by the scan and listed as overdue; another
//! tenant sees none of it.
//!
//! The deadline is a matter of days: instead of moving the stack's clock
//! (which also governs sessions and credentials), the overdue scan is run
//! with the time the test chooses, as the customers suite does.

use chrono::Utc;
use kefu_kit::{events::from_timestamp, testing::Backend};
use kefu_proto::v1::{
    ApprovalLevel, ApproveProposalRequest, Channel, CloseComplaintRequest, Complaint,
    ComplaintClassification, ComplaintCustomerAcceptance, ComplaintEscalationTrigger,
    ComplaintExecution, ComplaintInvestigation, ComplaintNonQualitySubcategory,
    ComplaintRegistration, ComplaintRemedy, ComplaintRemedyType, ComplaintRootCauseCategory,
    ComplaintSeverity, ComplaintStage, ComplaintSummary, CompletePreventiveActionRequest,
    CreateProposalRequest, EscalateComplaintRequest, GetComplaintRequest, GetProposalRequest,
    GetTicketRequest, Industry, InviteUserRequest, JudgeComplaintRequest, ListComplaintsRequest,
    ListDepartmentsRequest, ListOverdueComplaintsRequest, ListProposalsRequest, Money, Proposal,
    ProposalState, RecordExecutionRequest, RecordInvestigationRequest, RegisterComplaintRequest,
    RejectProposalRequest, Role, StartNewRoundRequest, SubmitProposalRequest,
    SummarizeComplaintRequest, TicketBaseKind, UpdateComplaintRequest, User,
    complaint_service_client::ComplaintServiceClient,
};
use prost_types::FieldMask;
use tonic::{Code, Status};

use crate::{
    gateway::reason as reason_of,
    stack::{Bearer, Stack},
    tenants::field_of,
    tickets_support::{event_counts, join_invited, new_customer, new_ticket, person, retry},
};

/// FAILED_PRECONDITION `STAGE_DATA_MISSING` naming `field`.
fn assert_missing(status: &Status, field: &str) {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason_of(status), "STAGE_DATA_MISSING", "{status:?}");
    assert_eq!(field_of(status), field, "{status:?}");
    let metadata = status
        .get_details_error_info()
        .map(|info| info.metadata)
        .unwrap_or_default();
    assert_eq!(metadata.get("field").map(String::as_str), Some(field));
}

/// Invites `who` with `role` and approval `level` and signs them in.
async fn member(
    stack: &Stack,
    admin: &str,
    slug: &str,
    who: &str,
    role: Role,
    level: ApprovalLevel,
) -> (String, String) {
    let invitation = InviteUserRequest {
        user: Some(User {
            approval_level: level as i32,
            ..person(slug, who, &[role])
        }),
        ..InviteUserRequest::default()
    };
    join_invited(stack, admin, slug, invitation).await
}

fn registration(customer: &str, content: &str) -> ComplaintRegistration {
    ComplaintRegistration {
        customer: customer.into(),
        channel: Channel::Phone as i32,
        content: content.into(),
        customer_demand: "退货并赔偿".into(),
        ..ComplaintRegistration::default()
    }
}

async fn register(
    client: &mut ComplaintServiceClient<Bearer>,
    ticket: &str,
    registration: ComplaintRegistration,
    severity: ComplaintSeverity,
    request_id: &str,
) -> Result<Complaint, Status> {
    client
        .register_complaint(RegisterComplaintRequest {
            complaint: Some(Complaint {
                ticket: ticket.into(),
                severity: severity as i32,
                registration: Some(registration),
                ..Complaint::default()
            }),
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn get(client: &mut ComplaintServiceClient<Bearer>, name: &str) -> Complaint {
    client
        .get_complaint(GetComplaintRequest { name: name.into() })
        .await
        .expect("get complaint")
        .into_inner()
}

fn judge_valid(name: &str, department: &str) -> JudgeComplaintRequest {
    JudgeComplaintRequest {
        name: name.into(),
        valid: true,
        responsible_department: department.into(),
        ..JudgeComplaintRequest::default()
    }
}

/// Judges `name` valid once the department's copy has arrived.
async fn judge(client: &ComplaintServiceClient<Bearer>, name: &str, department: &str) -> Complaint {
    retry("the complaint is judged", || {
        let mut client = client.clone();
        let request = judge_valid(name, department);
        async move { client.judge_complaint(request).await }
    })
    .await
}

fn report() -> ComplaintInvestigation {
    ComplaintInvestigation {
        root_cause: "承运商装卸时跌落".into(),
        classification: ComplaintClassification::NonQuality as i32,
        non_quality_subcategory: ComplaintNonQualitySubcategory::Transport as i32,
        responsible_person: "承运商 李师傅".into(),
        report: "外箱有撞击痕迹，内部无缓冲材料损坏记录".into(),
        ..ComplaintInvestigation::default()
    }
}

fn yuan(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "CNY".into(),
        amount_minor,
    })
}

async fn propose(
    client: &mut ComplaintServiceClient<Bearer>,
    complaint: &str,
    amount_minor: i64,
) -> Proposal {
    let proposal = client
        .create_proposal(CreateProposalRequest {
            parent: complaint.into(),
            proposal: Some(Proposal {
                remedies: vec![ComplaintRemedy {
                    r#type: ComplaintRemedyType::Compensation as i32,
                    amount: yuan(amount_minor),
                    description: "赔偿".into(),
                    quantity: 0,
                }],
                description: "按金额审批".into(),
                ..Proposal::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("proposal created")
        .into_inner();
    client
        .submit_proposal(SubmitProposalRequest {
            name: proposal.name.clone(),
            etag: proposal.etag.clone(),
        })
        .await
        .expect("proposal submitted")
        .into_inner()
}

fn execution(accepted: Option<bool>, signed_name: &str) -> RecordExecutionRequest {
    RecordExecutionRequest {
        execution: Some(ComplaintExecution {
            notes: "已赔偿".into(),
            acceptance: accepted.map(|accepted| ComplaintCustomerAcceptance {
                accepted,
                signed_name: signed_name.into(),
                ..ComplaintCustomerAcceptance::default()
            }),
            ..ComplaintExecution::default()
        }),
        ..RecordExecutionRequest::default()
    }
}

async fn complaint_workflow(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("cmp", Industry::Generic).await;
    let b = stack.onboard("cmp-other", Industry::Generic).await;
    let slug = a.tenant.slug.clone();
    let admin = a.admin_session.clone();
    let (_, lead) = member(
        &stack,
        &admin,
        &slug,
        "lead",
        Role::Supervisor,
        ApprovalLevel::DepartmentManager,
    )
    .await;
    let (_, vp) = member(
        &stack,
        &admin,
        &slug,
        "vp",
        Role::Manager,
        ApprovalLevel::VicePresident,
    )
    .await;
    let (_, gm) = member(
        &stack,
        &admin,
        &slug,
        "gm",
        Role::Manager,
        ApprovalLevel::GeneralManager,
    )
    .await;
    let (_, agent) = member(
        &stack,
        &admin,
        &slug,
        "agent",
        Role::Agent,
        ApprovalLevel::Unspecified,
    )
    .await;
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
    let zhang = new_customer(&stack, &admin, "张三", "13800138000").await;
    let inquiry = new_ticket(
        &stack.tickets(Some(&admin)),
        "ticketKinds/inquiry",
        &zhang,
        "咨询保修",
    )
    .await;
    let ticket = new_ticket(
        &stack.tickets(Some(&admin)),
        "ticketKinds/complaint",
        &zhang,
        "冰箱到货外壳凹陷",
    )
    .await;
    let mut client = stack.complaints(Some(&lead));

    // Registration: only on a complaint ticket, with its data, once.
    let refused = register(
        &mut client,
        &inquiry.name,
        registration(&zhang, "外壳凹陷"),
        ComplaintSeverity::Normal,
        "",
    )
    .await
    .expect_err("an inquiry");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&refused), "TICKET_NOT_COMPLAINT");
    let refused = register(
        &mut client,
        &ticket.name,
        registration(&zhang, ""),
        ComplaintSeverity::Normal,
        "",
    )
    .await
    .expect_err("no content");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(field_of(&refused), "complaint.registration.content");
    let refused = register(
        &mut client,
        "tickets/0190f000-0000-7000-8000-000000000000",
        registration(&zhang, "x"),
        ComplaintSeverity::Normal,
        "",
    )
    .await
    .expect_err("unknown ticket");
    assert_eq!(reason_of(&refused), "UNKNOWN_REFERENCE");
    assert_eq!(field_of(&refused), "complaint.ticket");
    let request_id = uuid::Uuid::now_v7().to_string();
    let complaint = register(
        &mut client,
        &ticket.name,
        registration(&zhang, "冰箱到货外壳凹陷，要求退货"),
        ComplaintSeverity::Normal,
        &request_id,
    )
    .await
    .expect("registered");
    assert_eq!(complaint.stage, ComplaintStage::Registered as i32);
    assert!(complaint.number.starts_with("C-"), "{}", complaint.number);
    assert_eq!(
        complaint.subject, "冰箱到货外壳凹陷",
        "the ticket's subject"
    );
    assert_eq!(complaint.customer, zhang);
    let created = complaint
        .create_time
        .as_ref()
        .and_then(from_timestamp)
        .expect("created");
    let deadline = complaint
        .deadline_time
        .as_ref()
        .and_then(from_timestamp)
        .expect("deadline");
    assert_eq!(deadline - created, chrono::Duration::days(6));
    let again = register(
        &mut client,
        &ticket.name,
        registration(&zhang, "again"),
        ComplaintSeverity::Normal,
        &request_id,
    )
    .await
    .expect("the same request");
    assert_eq!(again.name, complaint.name);
    let twice = register(
        &mut client,
        &ticket.name,
        registration(&zhang, "again"),
        ComplaintSeverity::Normal,
        "",
    )
    .await
    .expect_err("a second complaint on the ticket");
    assert_eq!(twice.code(), Code::AlreadyExists);
    let linked = stack
        .tickets(Some(&lead))
        .get_ticket(GetTicketRequest {
            name: ticket.name.clone(),
        })
        .await
        .expect("ticket")
        .into_inner();
    assert_eq!(linked.complaint, complaint.name);

    // Raising the severity escalates to the vice president at once; a
    // supervisor escalates by hand; a stale etag changes nothing.
    let raised = client
        .update_complaint(UpdateComplaintRequest {
            complaint: Some(Complaint {
                name: complaint.name.clone(),
                etag: complaint.etag.clone(),
                severity: ComplaintSeverity::Severe as i32,
                ..Complaint::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["severity".into()],
            }),
        })
        .await
        .expect("severity raised")
        .into_inner();
    assert_eq!(raised.escalations.len(), 1);
    assert_eq!(
        raised.escalations[0].trigger,
        ComplaintEscalationTrigger::Severe as i32
    );
    let stale = client
        .judge_complaint(JudgeComplaintRequest {
            etag: complaint.etag.clone(),
            ..judge_valid(&complaint.name, &department)
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    let by_hand = client
        .escalate_complaint(EscalateComplaintRequest {
            name: complaint.name.clone(),
            level: ApprovalLevel::GeneralManager as i32,
            reason: "顾客要求总经理回复".into(),
        })
        .await
        .expect("escalated by hand")
        .into_inner();
    assert_eq!(
        by_hand.escalations.last().map(|e| (e.trigger, e.level)),
        Some((
            ComplaintEscalationTrigger::Manual as i32,
            ApprovalLevel::GeneralManager as i32
        ))
    );
    assert_eq!(by_hand.stage, ComplaintStage::Registered as i32);

    // Judgement: an agent may not judge; a valid judgement needs its department.
    let denied = stack
        .complaints(Some(&agent))
        .judge_complaint(judge_valid(&complaint.name, &department))
        .await
        .expect_err("an agent");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let missing = client
        .judge_complaint(judge_valid(&complaint.name, ""))
        .await
        .expect_err("no department");
    assert_missing(&missing, "responsible_department");
    assert_eq!(
        get(&mut client, &complaint.name).await.stage,
        ComplaintStage::Registered as i32
    );
    let judged = judge(&client, &complaint.name, &department).await;
    let agent_refused = stack
        .complaints(Some(&agent))
        .record_investigation(RecordInvestigationRequest {
            name: complaint.name.clone(),
            investigation: Some(report()),
            ..RecordInvestigationRequest::default()
        })
        .await
        .expect_err("an agent investigates nothing");
    assert_eq!(agent_refused.code(), Code::PermissionDenied);
    assert_eq!(judged.stage, ComplaintStage::Judged as i32);

    // Investigation: the report names its first missing field.
    let incomplete = client
        .record_investigation(RecordInvestigationRequest {
            name: complaint.name.clone(),
            investigation: Some(ComplaintInvestigation {
                responsible_person: String::new(),
                ..report()
            }),
            submit_report: true,
            ..RecordInvestigationRequest::default()
        })
        .await
        .expect_err("no responsible person");
    assert_missing(&incomplete, "investigation.responsible_person");
    assert_eq!(
        get(&mut client, &complaint.name).await.stage,
        ComplaintStage::Judged as i32
    );
    let investigated = client
        .record_investigation(RecordInvestigationRequest {
            name: complaint.name.clone(),
            investigation: Some(report()),
            submit_report: true,
            ..RecordInvestigationRequest::default()
        })
        .await
        .expect("reported")
        .into_inner();
    assert_eq!(investigated.stage, ComplaintStage::Proposing as i32);
    assert_eq!(investigated.round, 1);

    // Approval by amount: 6,000.00 needs the general manager; the vice
    // president is refused and nothing changes.
    let big = propose(&mut client, &complaint.name, 600_000).await;
    assert_eq!(big.state, ProposalState::PendingApproval as i32);
    assert_eq!(
        big.required_approval_level,
        ApprovalLevel::GeneralManager as i32
    );
    let low = stack
        .complaints(Some(&vp))
        .approve_proposal(ApproveProposalRequest {
            name: big.name.clone(),
            ..ApproveProposalRequest::default()
        })
        .await
        .expect_err("a vice president");
    assert_eq!(low.code(), Code::PermissionDenied);
    assert_eq!(reason_of(&low), "APPROVAL_LEVEL_INSUFFICIENT");
    let unchanged = client
        .get_proposal(GetProposalRequest {
            name: big.name.clone(),
        })
        .await
        .expect("proposal")
        .into_inner();
    assert_eq!(unchanged, big);
    assert_eq!(
        get(&mut client, &complaint.name).await.stage,
        ComplaintStage::AwaitingApproval as i32
    );
    let rejected = stack
        .complaints(Some(&gm))
        .reject_proposal(RejectProposalRequest {
            name: big.name.clone(),
            comment: "金额过高".into(),
            ..RejectProposalRequest::default()
        })
        .await
        .expect("the general manager rejects")
        .into_inner();
    assert_eq!(rejected.state, ProposalState::Rejected as i32);
    assert_eq!(
        get(&mut client, &complaint.name).await.stage,
        ComplaintStage::Proposing as i32
    );

    // 300.00 needs a department manager: the supervisor approves it.
    let first = propose(&mut client, &complaint.name, 30_000).await;
    assert_eq!(
        first.required_approval_level,
        ApprovalLevel::DepartmentManager as i32
    );
    let approved = client
        .approve_proposal(ApproveProposalRequest {
            name: first.name.clone(),
            comment: "同意".into(),
            ..ApproveProposalRequest::default()
        })
        .await
        .expect("approved")
        .into_inner();
    assert_eq!(approved.state, ProposalState::Approved as i32);
    assert_eq!(approved.approvals.len(), 1);

    // Not accepted → a new round linked to the first; nothing overwritten.
    let not_accepted = client
        .record_execution(RecordExecutionRequest {
            name: complaint.name.clone(),
            ..execution(Some(false), "张三")
        })
        .await
        .expect("not accepted")
        .into_inner();
    assert_eq!(not_accepted.stage, ComplaintStage::Executing as i32);
    let round = client
        .start_new_round(StartNewRoundRequest {
            name: complaint.name.clone(),
            reason: "顾客不接受赔偿金额".into(),
            ..StartNewRoundRequest::default()
        })
        .await
        .expect("new round")
        .into_inner();
    assert_eq!(round.round, 2);
    assert_eq!(round.stage, ComplaintStage::Proposing as i32);
    let second = propose(&mut client, &complaint.name, 45_000).await;
    assert_eq!(second.round, 2);
    assert_eq!(second.previous_proposal, first.name);
    stack
        .complaints(Some(&vp))
        .approve_proposal(ApproveProposalRequest {
            name: second.name.clone(),
            ..ApproveProposalRequest::default()
        })
        .await
        .expect("a higher level approves a lower need");
    let unsigned = client
        .record_execution(RecordExecutionRequest {
            name: complaint.name.clone(),
            ..execution(Some(true), "")
        })
        .await
        .expect_err("no signature");
    assert_missing(&unsigned, "execution.acceptance.signed_name");
    let accepted = client
        .record_execution(RecordExecutionRequest {
            name: complaint.name.clone(),
            ..execution(Some(true), "张三")
        })
        .await
        .expect("accepted")
        .into_inner();
    assert_eq!(accepted.stage, ComplaintStage::Summarizing as i32);
    assert_eq!(accepted.executions.len(), 2, "one execution per round");
    let listed = client
        .list_proposals(ListProposalsRequest {
            parent: complaint.name.clone(),
            ..ListProposalsRequest::default()
        })
        .await
        .expect("proposals")
        .into_inner();
    let states: Vec<(i32, i32)> = listed
        .proposals
        .iter()
        .map(|p| (p.round, p.state))
        .collect();
    assert_eq!(
        states,
        [
            (1, ProposalState::Rejected as i32),
            (1, ProposalState::NotAccepted as i32),
            (2, ProposalState::Accepted as i32),
        ]
    );

    let accepted_anywhere = client
        .list_proposals(ListProposalsRequest {
            parent: "complaints/-".into(),
            filter: "state = ACCEPTED AND remedies.type = COMPENSATION".into(),
            ..ListProposalsRequest::default()
        })
        .await
        .expect("proposals across complaints")
        .into_inner();
    assert_eq!(accepted_anywhere.total_size, 1);
    assert_eq!(accepted_anywhere.proposals[0].name, second.name);

    // Summary and close: the close needs the summary's category and measure.
    let unsummarized = client
        .close_complaint(CloseComplaintRequest {
            name: complaint.name.clone(),
            ..CloseComplaintRequest::default()
        })
        .await
        .expect_err("no summary");
    assert_missing(&unsummarized, "summary.root_cause_category");
    client
        .summarize_complaint(SummarizeComplaintRequest {
            name: complaint.name.clone(),
            summary: Some(ComplaintSummary {
                root_cause_category: ComplaintRootCauseCategory::Logistics as i32,
                improvement_measure: "大件商品加装护角，更换承运商".into(),
                ..ComplaintSummary::default()
            }),
            ..SummarizeComplaintRequest::default()
        })
        .await
        .expect("summarized");
    let closed = client
        .close_complaint(CloseComplaintRequest {
            name: complaint.name.clone(),
            ..CloseComplaintRequest::default()
        })
        .await
        .expect("closed")
        .into_inner();
    assert_eq!(closed.stage, ComplaintStage::Closed as i32);
    assert!(closed.closed_within_deadline);
    let done = client
        .complete_preventive_action(CompletePreventiveActionRequest {
            name: complaint.name.clone(),
            preventive_action_result: "已更换承运商，大件加装护角".into(),
            ..CompletePreventiveActionRequest::default()
        })
        .await
        .expect("preventive action done")
        .into_inner();
    assert!(
        done.summary
            .as_ref()
            .is_some_and(|summary| summary.preventive_action_done_time.is_some())
    );
    let twice = client
        .complete_preventive_action(CompletePreventiveActionRequest {
            name: complaint.name.clone(),
            preventive_action_result: "again".into(),
            ..CompletePreventiveActionRequest::default()
        })
        .await
        .expect_err("recorded already");
    assert_eq!(reason_of(&twice), "ILLEGAL_TRANSITION");

    // Every change was published through the outbox, in the transaction.
    let published = event_counts(&stack, &complaint.name).await;
    let expected: std::collections::BTreeMap<String, usize> = [
        ("ComplaintRegistered", 1),
        ("ComplaintEscalated", 2),
        ("ComplaintStageChanged", 12),
        ("ProposalSubmitted", 3),
        ("ProposalRejected", 1),
        ("ProposalApproved", 2),
        ("ComplaintExecutionRecorded", 2),
        ("ComplaintClosed", 1),
        ("ComplaintPreventiveActionCompleted", 1),
    ]
    .into_iter()
    .map(|(name, count)| (name.to_owned(), count))
    .collect();
    assert_eq!(published, expected);

    // An invalid complaint is rejected with its reason, for good.
    let ticket2 = new_ticket(
        &stack.tickets(Some(&admin)),
        "ticketKinds/complaint",
        &zhang,
        "服务态度差",
    )
    .await;
    let invalid = register(
        &mut client,
        &ticket2.name,
        registration(&zhang, "客服态度差"),
        ComplaintSeverity::Normal,
        "",
    )
    .await
    .expect("registered");
    let no_reason = client
        .judge_complaint(JudgeComplaintRequest {
            name: invalid.name.clone(),
            valid: false,
            ..JudgeComplaintRequest::default()
        })
        .await
        .expect_err("no reason");
    assert_missing(&no_reason, "rejection_reason");
    let rejected = client
        .judge_complaint(JudgeComplaintRequest {
            name: invalid.name.clone(),
            valid: false,
            rejection_reason: "经核实通话录音，服务用语规范".into(),
            ..JudgeComplaintRequest::default()
        })
        .await
        .expect("rejected")
        .into_inner();
    assert_eq!(rejected.stage, ComplaintStage::Rejected as i32);
    let after = client
        .judge_complaint(judge_valid(&invalid.name, &department))
        .await
        .expect_err("final");
    assert_eq!(after.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&after), "ILLEGAL_TRANSITION");

    // A severe complaint registered without a ticket opens one of the
    // complaint kind and escalates at once; past its deadline the scan
    // escalates it again, once, and lists it as overdue.
    let severe = register(
        &mut client,
        "",
        registration(&zhang, "燃气灶漏气"),
        ComplaintSeverity::Severe,
        "",
    )
    .await
    .expect("registered");
    let opened = stack
        .tickets(Some(&lead))
        .get_ticket(GetTicketRequest {
            name: severe.ticket.clone(),
        })
        .await
        .expect("the ticket opened for it")
        .into_inner();
    assert_eq!(opened.base_kind, TicketBaseKind::Complaint as i32);
    assert_eq!(opened.complaint, severe.name);
    assert_eq!(opened.customer, zhang);
    assert_eq!(severe.subject, "燃气灶漏气");
    assert_eq!(severe.escalations.len(), 1);
    assert_eq!(
        severe.escalations[0].trigger,
        ComplaintEscalationTrigger::Severe as i32
    );
    assert_eq!(
        severe.escalations[0].level,
        ApprovalLevel::VicePresident as i32
    );
    let db = stack.service_connection("tickets").await;
    let later = Utc::now() + chrono::Duration::days(7);
    let marked = kefu_tickets::consumers::complaints::scan_overdue(&db, later)
        .await
        .expect("scan");
    assert_eq!(marked, 1, "only the open complaint is overdue");
    assert_eq!(
        kefu_tickets::consumers::complaints::scan_overdue(&db, later)
            .await
            .expect("scan again"),
        0
    );
    let overdue = client
        .list_overdue_complaints(ListOverdueComplaintsRequest::default())
        .await
        .expect("overdue")
        .into_inner();
    assert_eq!(overdue.total_size, 1);
    let listed = &overdue.complaints[0];
    assert_eq!(listed.name, severe.name);
    assert!(listed.overdue);
    assert_eq!(
        listed
            .escalations
            .last()
            .map(|escalation| escalation.trigger),
        Some(ComplaintEscalationTrigger::Overdue as i32)
    );
    let filtered = client
        .list_complaints(ListComplaintsRequest {
            filter: "stage = REGISTERED AND severity = SEVERE".into(),
            ..ListComplaintsRequest::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(filtered.total_size, 1);
    let all = client
        .list_complaints(ListComplaintsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.total_size, 3);
    let first_page = client
        .list_complaints(ListComplaintsRequest {
            page_size: 2,
            order_by: "create_time".into(),
            ..ListComplaintsRequest::default()
        })
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first_page.complaints.len(), 2);
    assert_eq!(
        first_page.complaints[0].name, complaint.name,
        "oldest first"
    );
    let second_page = client
        .list_complaints(ListComplaintsRequest {
            page_size: 2,
            order_by: "create_time".into(),
            page_token: first_page.next_page_token.clone(),
            ..ListComplaintsRequest::default()
        })
        .await
        .expect("second page")
        .into_inner();
    assert_eq!(second_page.complaints.len(), 1);
    assert_eq!(second_page.complaints[0].name, severe.name);
    assert!(second_page.next_page_token.is_empty());
    let severe_events = event_counts(&stack, &severe.name).await;
    assert_eq!(severe_events.get("ComplaintOverdue"), Some(&1));
    assert_eq!(
        severe_events.get("ComplaintEscalated"),
        Some(&2),
        "SEVERE at once, OVERDUE once"
    );

    // Another tenant sees none of it: NOT_FOUND like a missing complaint.
    let mut other = stack.complaints(Some(&b.admin_session));
    let hidden = other
        .get_complaint(GetComplaintRequest {
            name: complaint.name.clone(),
        })
        .await
        .expect_err("another tenant's");
    assert_eq!(hidden.code(), Code::NotFound);
    let missing = other
        .get_complaint(GetComplaintRequest {
            name: "complaints/0190f000-0000-7000-8000-000000000000".into(),
        })
        .await
        .expect_err("missing");
    assert_eq!(missing.code(), Code::NotFound);
    let hidden = other
        .get_proposal(GetProposalRequest {
            name: first.name.clone(),
        })
        .await
        .expect_err("another tenant's proposal");
    assert_eq!(hidden.code(), Code::NotFound);
    let hidden = other
        .list_proposals(ListProposalsRequest {
            parent: complaint.name.clone(),
            ..ListProposalsRequest::default()
        })
        .await
        .expect_err("another tenant's proposals");
    assert_eq!(hidden.code(), Code::NotFound);
    let none = other
        .list_complaints(ListComplaintsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(none.total_size, 0);
    assert_eq!(
        get(&mut client, &complaint.name).await.stage,
        ComplaintStage::Closed as i32
    );
}

#[tokio::test]
async fn complaint_workflow_on_sqlite() {
    complaint_workflow(Backend::Sqlite).await;
}

#[tokio::test]
async fn complaint_workflow_on_postgres() {
    complaint_workflow(Backend::Postgres).await;
}
