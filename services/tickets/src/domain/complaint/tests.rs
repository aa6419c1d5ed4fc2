//! Every stage rule of the complaint workflow.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kefu_kit::events::{from_timestamp, to_timestamp};
use kefu_proto::v1::{
    Actor, ActorKind, ApprovalLevel, Channel, Complaint, ComplaintClassification,
    ComplaintCustomerAcceptance, ComplaintEscalationTrigger, ComplaintExecution,
    ComplaintInvestigation, ComplaintNonQualitySubcategory, ComplaintRegistration, ComplaintRemedy,
    ComplaintRemedyType, ComplaintRootCauseCategory, ComplaintSeverity, ComplaintStage,
    ComplaintSummary, Money, Proposal, ProposalState, Tenant, TenantSettings,
};

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .expect("valid")
}

fn actor() -> Actor {
    Actor {
        kind: ActorKind::User as i32,
        name: "users/u1".into(),
        display_name: "Wang".into(),
    }
}

fn field_of(error: &ComplaintError) -> String {
    match error {
        ComplaintError::StageDataMissing(field) => field.clone(),
        ComplaintError::Tickets(TicketsError::Invalid(violation, _)) => violation.field.clone(),
        other => panic!("no field in {other:?}"),
    }
}

fn is_illegal(error: &ComplaintError) -> bool {
    matches!(
        error,
        ComplaintError::Tickets(TicketsError::FailedPrecondition(_, "ILLEGAL_TRANSITION"))
    )
}

fn registered() -> Complaint {
    let mut complaint = Complaint {
        registration: Some(ComplaintRegistration {
            customer: "customers/c1".into(),
            channel: Channel::Phone as i32,
            content: "冰箱到货外壳凹陷".into(),
            ..ComplaintRegistration::default()
        }),
        ..Complaint::default()
    };
    register(
        &mut complaint,
        "complaints/x".into(),
        "C-000001".into(),
        &actor(),
        &Settings::default(),
        now(),
    );
    complaint
}

fn judged() -> Complaint {
    let mut complaint = registered();
    judge(
        &mut complaint,
        Judgement {
            valid: true,
            rejection_reason: "",
            responsible_department: "departments/logistics",
            customer_time_requested: None,
        },
        &actor(),
        &Settings::default(),
        now(),
    )
    .expect("judged");
    complaint
}

fn full_report() -> ComplaintInvestigation {
    ComplaintInvestigation {
        root_cause: "carrier dropped it".into(),
        classification: ComplaintClassification::NonQuality as i32,
        non_quality_subcategory: ComplaintNonQualitySubcategory::Transport as i32,
        responsible_person: "Carrier Li".into(),
        report: "report".into(),
        ..ComplaintInvestigation::default()
    }
}

fn proposing() -> Complaint {
    let mut complaint = judged();
    record_investigation(&mut complaint, &full_report(), &[], true, &actor(), now())
        .expect("reported");
    complaint
}

fn remedy(amount_minor: i64) -> ComplaintRemedy {
    ComplaintRemedy {
        r#type: ComplaintRemedyType::Refund as i32,
        amount: Some(Money {
            currency_code: "CNY".into(),
            amount_minor,
        }),
        description: "refund".into(),
        quantity: 0,
    }
}

fn drafted(complaint: &mut Complaint, amount_minor: i64, name: &str) -> Proposal {
    let input = Proposal {
        remedies: vec![remedy(amount_minor)],
        ..Proposal::default()
    };
    draft_proposal(
        complaint,
        &input,
        name.into(),
        None,
        &actor(),
        &Settings::default(),
        now(),
    )
    .expect("drafted")
}

fn approved() -> (Complaint, Proposal) {
    let mut complaint = proposing();
    let mut proposal = drafted(&mut complaint, 30_000, "complaints/x/proposals/p1");
    submit_proposal(
        &mut complaint,
        &mut proposal,
        ApprovalLevel::DepartmentManager,
        now(),
    )
    .expect("submitted");
    let approver = Approver {
        name: "users/m",
        display_name: "M",
        level: ApprovalLevel::DepartmentManager as i32,
    };
    decide(&mut complaint, &mut proposal, &approver, true, "", now()).expect("approved");
    (complaint, proposal)
}

fn execution(accepted: Option<bool>) -> ComplaintExecution {
    ComplaintExecution {
        notes: "已退款 ¥300".into(),
        acceptance: accepted.map(|accepted| ComplaintCustomerAcceptance {
            accepted,
            signed_name: "张三".into(),
            ..ComplaintCustomerAcceptance::default()
        }),
        ..ComplaintExecution::default()
    }
}

#[test]
fn registration_sets_the_stage_deadline_owner_and_defaults() {
    let complaint = registered();
    assert_eq!(stage(&complaint), ComplaintStage::Registered);
    assert_eq!(complaint.severity, ComplaintSeverity::Normal as i32);
    assert_eq!(complaint.owner, "users/u1");
    assert_eq!(complaint.customer, "customers/c1");
    assert_eq!(
        complaint.deadline_time.as_ref().and_then(from_timestamp),
        Some(now() + Duration::days(6))
    );
}

#[test]
fn the_deadline_and_report_days_come_from_the_tenant() {
    let tenant = Tenant {
        settings: Some(TenantSettings {
            complaint_deadline_days: 4,
            investigation_report_days: 2,
            ..TenantSettings::default()
        }),
        ..Tenant::default()
    };
    let settings = Settings::of(Some(&tenant));
    assert_eq!(settings.deadline_days, 4);
    assert_eq!(settings.report_days, 2);
    assert_eq!(deadline(now(), &settings), now() + Duration::days(4));
    assert_eq!(Settings::of(None), Settings::default());
}

#[test]
fn registration_requires_customer_channel_and_content() {
    let base = registered().registration.expect("registration");
    let check = |change: fn(&mut ComplaintRegistration)| {
        let mut registration = base.clone();
        change(&mut registration);
        validate_registration(&registration, now(), "complaint.registration")
            .map_err(|error| field_of(&error))
    };
    assert_eq!(check(|_| {}), Ok(()));
    assert_eq!(
        check(|r| r.customer.clear()),
        Err("complaint.registration.customer".into())
    );
    assert_eq!(
        check(|r| r.channel = 0),
        Err("complaint.registration.channel".into())
    );
    assert_eq!(
        check(|r| r.content.clear()),
        Err("complaint.registration.content".into())
    );
    assert_eq!(
        check(|r| r.content = "字".repeat(10_001)),
        Err("complaint.registration.content".into())
    );
    assert_eq!(
        check(|r| {
            r.quantity = 2;
            r.defective_quantity = 3;
        }),
        Err("complaint.registration.defective_quantity".into())
    );
}

#[test]
fn a_complaint_in_the_future_is_refused() {
    let mut registration = registered().registration.expect("registration");
    registration.complaint_time = Some(to_timestamp(now() + Duration::hours(1)));
    let error =
        validate_registration(&registration, now(), "complaint.registration").expect_err("future");
    assert_eq!(field_of(&error), "complaint.registration.complaint_time");
}

#[test]
fn a_valid_judgement_needs_the_department_and_sets_the_report_due_time() {
    let mut complaint = registered();
    let error = judge(
        &mut complaint,
        Judgement {
            valid: true,
            rejection_reason: "",
            responsible_department: "",
            customer_time_requested: None,
        },
        &actor(),
        &Settings::default(),
        now(),
    )
    .expect_err("no department");
    assert_eq!(field_of(&error), "responsible_department");
    assert_eq!(stage(&complaint), ComplaintStage::Registered);
    let complaint = judged();
    assert_eq!(stage(&complaint), ComplaintStage::Judged);
    let due = complaint
        .investigation
        .and_then(|investigation| investigation.report_due_time)
        .as_ref()
        .and_then(from_timestamp);
    assert_eq!(due, Some(now() + Duration::days(3)));
}

#[test]
fn an_invalid_judgement_needs_the_reason_and_rejects_for_good() {
    let mut complaint = registered();
    let mut judgement = Judgement {
        valid: false,
        rejection_reason: " ",
        responsible_department: "",
        customer_time_requested: Some(prost_types::Duration {
            seconds: 86_400,
            nanos: 0,
        }),
    };
    let error = judge(
        &mut complaint,
        Judgement {
            customer_time_requested: None,
            ..judgement
        },
        &actor(),
        &Settings::default(),
        now(),
    )
    .expect_err("no reason");
    assert_eq!(field_of(&error), "rejection_reason");
    judgement = Judgement {
        valid: false,
        rejection_reason: "使用不当",
        responsible_department: "",
        customer_time_requested: None,
    };
    judge(
        &mut complaint,
        judgement,
        &actor(),
        &Settings::default(),
        now(),
    )
    .expect("rejected");
    assert_eq!(stage(&complaint), ComplaintStage::Rejected);
    assert!(complaint.closed_within_deadline);
    assert!(is_final(&complaint));
    let again = start_investigation(&mut complaint, "users/u1", now()).expect_err("final");
    assert!(is_illegal(&again));
}

#[test]
fn the_investigation_starts_only_from_judged() {
    let mut complaint = registered();
    assert!(is_illegal(
        &start_investigation(&mut complaint, "users/u1", now()).expect_err("not judged")
    ));
    let mut complaint = judged();
    start_investigation(&mut complaint, "users/i", now()).expect("started");
    assert_eq!(stage(&complaint), ComplaintStage::Investigating);
    assert_eq!(
        complaint.investigation.expect("investigation").investigator,
        "users/i"
    );
}

#[test]
fn recording_on_a_judged_complaint_starts_the_investigation() {
    let mut complaint = judged();
    let partial = ComplaintInvestigation {
        root_cause: "unknown yet".into(),
        ..ComplaintInvestigation::default()
    };
    record_investigation(&mut complaint, &partial, &[], false, &actor(), now()).expect("recorded");
    assert_eq!(stage(&complaint), ComplaintStage::Investigating);
    let investigation = complaint.investigation.expect("investigation");
    assert_eq!(investigation.investigator, "users/u1");
    assert_eq!(investigation.root_cause, "unknown yet");
}

#[test]
fn the_report_names_its_first_missing_field_and_changes_nothing() {
    type Change = fn(&mut ComplaintInvestigation);
    let cases: [(Change, &str); 5] = [
        (|i| i.root_cause.clear(), "investigation.root_cause"),
        (|i| i.classification = 0, "investigation.classification"),
        (
            |i| i.non_quality_subcategory = 0,
            "investigation.non_quality_subcategory",
        ),
        (
            |i| i.responsible_person.clear(),
            "investigation.responsible_person",
        ),
        (|i| i.report.clear(), "investigation.report"),
    ];
    for (change, field) in cases {
        let mut complaint = judged();
        complaint.stage = ComplaintStage::Investigating as i32;
        let mut report = full_report();
        change(&mut report);
        let mask: Vec<String> = [
            "root_cause",
            "classification",
            "non_quality_subcategory",
            "responsible_person",
            "report",
        ]
        .map(str::to_owned)
        .to_vec();
        let error = record_investigation(&mut complaint, &report, &mask, true, &actor(), now())
            .expect_err("incomplete");
        assert_eq!(field_of(&error), field);
    }
}

#[test]
fn a_quality_complaint_needs_no_subcategory_and_a_late_report_is_marked() {
    let mut complaint = judged();
    let report = ComplaintInvestigation {
        classification: ComplaintClassification::Quality as i32,
        non_quality_subcategory: 0,
        ..full_report()
    };
    let late = now() + Duration::days(4);
    record_investigation(&mut complaint, &report, &[], true, &actor(), late).expect("reported");
    assert_eq!(stage(&complaint), ComplaintStage::Proposing);
    assert_eq!(complaint.round, 1);
    assert!(complaint.investigation.expect("investigation").report_late);
}

#[test]
fn proposals_need_remedies_with_types_descriptions_and_one_currency() {
    let mut complaint = proposing();
    let settings = Settings::default();
    let field = |remedies: Vec<ComplaintRemedy>| {
        remedies_total(&remedies, "", &settings, "proposal")
            .map(|money| money.amount_minor)
            .map_err(|error| field_of(&error))
    };
    assert_eq!(field(vec![]), Err("proposal.remedies".into()));
    let mut untyped = remedy(1);
    untyped.r#type = 0;
    assert_eq!(
        field(vec![untyped]),
        Err("proposal.remedies[0].type".into())
    );
    let mut undescribed = remedy(1);
    undescribed.description.clear();
    assert_eq!(
        field(vec![undescribed]),
        Err("proposal.remedies[0].description".into())
    );
    let mut dollars = remedy(1);
    dollars.amount = Some(Money {
        currency_code: "USD".into(),
        amount_minor: 1,
    });
    let mixed = remedies_total(&[remedy(1), dollars], "", &settings, "proposal")
        .expect_err("mixed currencies");
    assert!(matches!(
        mixed,
        ComplaintError::Tickets(TicketsError::Invalid(_, Some("CURRENCY_MISMATCH")))
    ));
    assert_eq!(field(vec![remedy(100), remedy(250)]), Ok(350));
    let proposal = drafted(&mut complaint, 100, "complaints/x/proposals/p1");
    assert_eq!(proposal_state(&proposal), ProposalState::Draft);
    assert_eq!(proposal.round, 1);
    assert_eq!(complaint.current_proposal, proposal.name);
}

#[test]
fn the_tenants_currency_is_required() {
    let settings = Settings {
        currency_code: "USD".into(),
        ..Settings::default()
    };
    let error = remedies_total(&[remedy(1)], "", &settings, "proposal").expect_err("CNY");
    assert!(matches!(
        error,
        ComplaintError::Tickets(TicketsError::Invalid(_, Some("CURRENCY_MISMATCH")))
    ));
}

#[test]
fn proposals_are_drafted_only_while_proposing() {
    let mut complaint = judged();
    let input = Proposal {
        remedies: vec![remedy(1)],
        ..Proposal::default()
    };
    let error = draft_proposal(
        &mut complaint,
        &input,
        "complaints/x/proposals/p".into(),
        None,
        &actor(),
        &Settings::default(),
        now(),
    )
    .expect_err("not proposing");
    assert!(is_illegal(&error));
}

#[test]
fn only_the_current_draft_is_submitted_and_only_one_at_a_time() {
    let mut complaint = proposing();
    let mut first = drafted(&mut complaint, 100, "complaints/x/proposals/p1");
    let mut second = drafted(&mut complaint, 200, "complaints/x/proposals/p2");
    let error = submit_proposal(
        &mut complaint,
        &mut first,
        ApprovalLevel::DepartmentManager,
        now(),
    )
    .expect_err("not current");
    assert!(matches!(
        error,
        ComplaintError::Tickets(TicketsError::FailedPrecondition(_, "PROPOSAL_NOT_CURRENT"))
    ));
    submit_proposal(
        &mut complaint,
        &mut second,
        ApprovalLevel::VicePresident,
        now(),
    )
    .expect("submitted");
    assert_eq!(stage(&complaint), ComplaintStage::AwaitingApproval);
    assert_eq!(
        second.required_approval_level,
        ApprovalLevel::VicePresident as i32
    );
    let error = submit_proposal(
        &mut complaint,
        &mut first,
        ApprovalLevel::DepartmentManager,
        now(),
    )
    .expect_err("pending");
    assert!(matches!(
        error,
        ComplaintError::Tickets(TicketsError::FailedPrecondition(_, "PROPOSAL_PENDING"))
    ));
}

#[test]
fn an_approver_below_the_required_level_changes_nothing() {
    let mut complaint = proposing();
    let mut proposal = drafted(&mut complaint, 600_000, "complaints/x/proposals/p1");
    let required = approval::required_level(None, proposal.total_amount.as_ref().expect("total"));
    submit_proposal(&mut complaint, &mut proposal, required, now()).expect("submitted");
    assert_eq!(
        proposal.required_approval_level,
        ApprovalLevel::GeneralManager as i32
    );
    let (before_complaint, before_proposal) = (complaint.clone(), proposal.clone());
    let vp = Approver {
        name: "users/vp",
        display_name: "VP",
        level: ApprovalLevel::VicePresident as i32,
    };
    let error = decide(&mut complaint, &mut proposal, &vp, true, "", now()).expect_err("too low");
    assert!(matches!(
        error,
        ComplaintError::ApprovalLevelInsufficient(_)
    ));
    let error =
        decide(&mut complaint, &mut proposal, &vp, false, "no", now()).expect_err("too low");
    assert!(matches!(
        error,
        ComplaintError::ApprovalLevelInsufficient(_)
    ));
    assert_eq!(complaint, before_complaint);
    assert_eq!(proposal, before_proposal);
    let gm = Approver {
        name: "users/gm",
        display_name: "GM",
        level: ApprovalLevel::GeneralManager as i32,
    };
    decide(&mut complaint, &mut proposal, &gm, true, "ok", now()).expect("approved");
    assert_eq!(proposal_state(&proposal), ProposalState::Approved);
    assert_eq!(stage(&complaint), ComplaintStage::Executing);
    assert_eq!(proposal.approvals.len(), 1);
}

#[test]
fn a_rejected_proposal_needs_a_comment_and_returns_to_proposing() {
    let mut complaint = proposing();
    let mut proposal = drafted(&mut complaint, 100, "complaints/x/proposals/p1");
    submit_proposal(
        &mut complaint,
        &mut proposal,
        ApprovalLevel::DepartmentManager,
        now(),
    )
    .expect("submitted");
    let manager = Approver {
        name: "users/m",
        display_name: "M",
        level: ApprovalLevel::DepartmentManager as i32,
    };
    let error =
        decide(&mut complaint, &mut proposal, &manager, false, "", now()).expect_err("comment");
    assert_eq!(field_of(&error), "comment");
    decide(
        &mut complaint,
        &mut proposal,
        &manager,
        false,
        "too much",
        now(),
    )
    .expect("rejected");
    assert_eq!(proposal_state(&proposal), ProposalState::Rejected);
    assert_eq!(stage(&complaint), ComplaintStage::Proposing);
    let mut next = drafted(&mut complaint, 50, "complaints/x/proposals/p2");
    assert_eq!(next.round, 1);
    submit_proposal(
        &mut complaint,
        &mut next,
        ApprovalLevel::DepartmentManager,
        now(),
    )
    .expect("resubmitted");
}

#[test]
fn drafts_change_until_submitted() {
    let mut complaint = proposing();
    let mut proposal = drafted(&mut complaint, 100, "complaints/x/proposals/p1");
    let input = Proposal {
        remedies: vec![remedy(100), remedy(900)],
        ..Proposal::default()
    };
    let paths = vec!["remedies".to_owned()];
    update_proposal(&mut proposal, &input, &paths, &Settings::default(), now()).expect("updated");
    assert_eq!(
        proposal.total_amount.as_ref().map(|m| m.amount_minor),
        Some(1_000)
    );
    submit_proposal(
        &mut complaint,
        &mut proposal,
        ApprovalLevel::DepartmentManager,
        now(),
    )
    .expect("submitted");
    let error = update_proposal(&mut proposal, &input, &paths, &Settings::default(), now())
        .expect_err("submitted");
    assert!(is_illegal(&error));
}

#[test]
fn execution_then_acceptance_moves_to_summarizing() {
    let (mut complaint, mut proposal) = approved();
    record_execution(
        &mut complaint,
        &mut proposal,
        &execution(None),
        &actor(),
        now(),
    )
    .expect("executed");
    assert_eq!(proposal_state(&proposal), ProposalState::Executed);
    assert_eq!(stage(&complaint), ComplaintStage::Executing);
    assert_eq!(complaint.executions.len(), 1);
    assert_eq!(complaint.executions[0].executed_by, "users/u1");
    record_execution(
        &mut complaint,
        &mut proposal,
        &execution(Some(true)),
        &actor(),
        now(),
    )
    .expect("accepted");
    assert_eq!(proposal_state(&proposal), ProposalState::Accepted);
    assert_eq!(stage(&complaint), ComplaintStage::Summarizing);
    assert_eq!(complaint.executions.len(), 1);
    assert!(complaint.executions[0].acceptance.is_some());
}

#[test]
fn an_acceptance_needs_the_signed_name() {
    let (mut complaint, mut proposal) = approved();
    let mut unsigned = execution(Some(true));
    if let Some(acceptance) = unsigned.acceptance.as_mut() {
        acceptance.signed_name.clear();
    }
    let before = complaint.clone();
    let error = record_execution(&mut complaint, &mut proposal, &unsigned, &actor(), now())
        .expect_err("unsigned");
    assert_eq!(field_of(&error), "execution.acceptance.signed_name");
    assert_eq!(complaint, before);
}

#[test]
fn not_accepted_opens_a_new_round_that_keeps_the_first() {
    let (mut complaint, mut proposal) = approved();
    assert!(is_illegal(
        &start_new_round(&mut complaint, Some(&proposal)).expect_err("not yet answered")
    ));
    record_execution(
        &mut complaint,
        &mut proposal,
        &execution(Some(false)),
        &actor(),
        now(),
    )
    .expect("not accepted");
    assert_eq!(proposal_state(&proposal), ProposalState::NotAccepted);
    assert_eq!(stage(&complaint), ComplaintStage::Executing);
    start_new_round(&mut complaint, Some(&proposal)).expect("new round");
    assert_eq!(complaint.round, 2);
    assert_eq!(stage(&complaint), ComplaintStage::Proposing);
    let input = Proposal {
        remedies: vec![remedy(500)],
        ..Proposal::default()
    };
    let second = draft_proposal(
        &mut complaint,
        &input,
        "complaints/x/proposals/p2".into(),
        Some(proposal.name.clone()),
        &actor(),
        &Settings::default(),
        now(),
    )
    .expect("second round");
    assert_eq!(second.round, 2);
    assert_eq!(second.previous_proposal, proposal.name);
    assert_eq!(complaint.executions.len(), 1);
}

#[test]
fn closing_needs_the_summary_category_and_measure() {
    let (mut complaint, mut proposal) = approved();
    record_execution(
        &mut complaint,
        &mut proposal,
        &execution(Some(true)),
        &actor(),
        now(),
    )
    .expect("accepted");
    let error = close(&mut complaint, &actor(), now()).expect_err("no summary");
    assert_eq!(field_of(&error), "summary.root_cause_category");
    let summary = ComplaintSummary {
        root_cause_category: ComplaintRootCauseCategory::Logistics as i32,
        ..ComplaintSummary::default()
    };
    summarize(&mut complaint, &summary, &actor(), now()).expect("summarized");
    let error = close(&mut complaint, &actor(), now()).expect_err("no measure");
    assert_eq!(field_of(&error), "summary.improvement_measure");
    let summary = ComplaintSummary {
        improvement_measure: "padding".into(),
        ..summary
    };
    summarize(&mut complaint, &summary, &actor(), now()).expect("summarized");
    assert_eq!(stage(&complaint), ComplaintStage::Summarizing);
    close(&mut complaint, &actor(), now() + Duration::days(7)).expect("closed");
    assert_eq!(stage(&complaint), ComplaintStage::Closed);
    assert!(!complaint.closed_within_deadline);
    let error = complete_preventive_action(&mut complaint, "", None, now()).expect_err("empty");
    assert_eq!(field_of(&error), "preventive_action_result");
    complete_preventive_action(&mut complaint, "new packing", None, now()).expect("done");
    assert!(is_illegal(
        &complete_preventive_action(&mut complaint, "again", None, now()).expect_err("twice")
    ));
}

#[test]
fn transitions_outside_the_table_are_illegal() {
    let mut complaint = registered();
    assert!(is_illegal(
        &summarize(
            &mut complaint,
            &ComplaintSummary::default(),
            &actor(),
            now()
        )
        .expect_err("summarize")
    ));
    assert!(is_illegal(
        &close(&mut complaint, &actor(), now()).expect_err("close")
    ));
    let mut proposal = Proposal::default();
    assert!(is_illegal(
        &record_execution(
            &mut complaint,
            &mut proposal,
            &execution(None),
            &actor(),
            now()
        )
        .expect_err("execute")
    ));
}

#[test]
fn overdue_is_marked_once_past_the_deadline_of_an_open_complaint() {
    let mut complaint = registered();
    assert!(!mark_overdue(&mut complaint, now() + Duration::days(6)));
    assert!(mark_overdue(
        &mut complaint,
        now() + Duration::days(6) + Duration::seconds(1)
    ));
    assert!(complaint.overdue);
    assert!(!mark_overdue(&mut complaint, now() + Duration::days(7)));
    assert_eq!(overdue_level(&complaint), ApprovalLevel::DepartmentManager);
    complaint.severity = ComplaintSeverity::Severe as i32;
    assert_eq!(overdue_level(&complaint), ApprovalLevel::GeneralManager);
}

#[test]
fn escalations_are_recorded_until_final() {
    let mut complaint = registered();
    escalate(
        &mut complaint,
        ComplaintEscalationTrigger::Severe,
        ApprovalLevel::VicePresident,
        vec!["users/vp".into()],
        "",
        &actor(),
        now(),
    )
    .expect("escalated");
    assert_eq!(complaint.escalations.len(), 1);
    complaint.stage = ComplaintStage::Closed as i32;
    let error = escalate(
        &mut complaint,
        ComplaintEscalationTrigger::Manual,
        ApprovalLevel::VicePresident,
        Vec::new(),
        "why",
        &actor(),
        now(),
    )
    .expect_err("closed");
    assert!(is_illegal(&error));
}
