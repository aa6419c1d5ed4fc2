//! The complaint workflow (投诉处理流程) as pure rules over the contract's
//! messages: register (受理) → judge (判断) → investigate (调查) → propose
//! (方案) and approve by amount → execute (实施) with the customer's
//! acceptance, a new round when not accepted → summarize (总结) → close.
//! Each stage requires its data; a refused step leaves the complaint as it
//! was (the handlers change a copy and store it only on success).

pub mod approval;
pub mod error;
pub mod events;

use chrono::{DateTime, Duration, Utc};
use kefu_kit::events::{from_timestamp, to_timestamp};
use kefu_proto::v1::{
    Actor, ApprovalLevel, Complaint, ComplaintClassification, ComplaintCustomerAcceptance,
    ComplaintEscalation, ComplaintEscalationTrigger, ComplaintExecution, ComplaintInvestigation,
    ComplaintJudgement, ComplaintRegistration, ComplaintRemedy, ComplaintSeverity, ComplaintStage,
    ComplaintSummary, Money, Proposal, ProposalApproval, ProposalDecision, ProposalState, Tenant,
};

pub use self::error::{ComplaintError, Result};
use crate::error::TicketsError;

/// Calendar days from registration to the deadline when the tenant sets none.
pub const DEFAULT_DEADLINE_DAYS: i64 = 6;
/// Days from the judgement to the investigation report when the tenant sets none.
pub const DEFAULT_REPORT_DAYS: i64 = 3;

/// The tenant's complaint settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Calendar days from registration to the deadline (default 6).
    pub deadline_days: i64,
    /// Days from the judgement to the report (default 3).
    pub report_days: i64,
    /// The tenant's currency, when set; remedies must use it.
    pub currency_code: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            deadline_days: DEFAULT_DEADLINE_DAYS,
            report_days: DEFAULT_REPORT_DAYS,
            currency_code: String::new(),
        }
    }
}

impl Settings {
    /// The settings of `tenant` (the directory copy), defaults where unset.
    pub fn of(tenant: Option<&Tenant>) -> Self {
        let Some(settings) = tenant.and_then(|tenant| tenant.settings.as_ref()) else {
            return Self::default();
        };
        let positive = |days: i32, default: i64| {
            if days > 0 { i64::from(days) } else { default }
        };
        Self {
            deadline_days: positive(settings.complaint_deadline_days, DEFAULT_DEADLINE_DAYS),
            report_days: positive(settings.investigation_report_days, DEFAULT_REPORT_DAYS),
            currency_code: settings.currency_code.clone(),
        }
    }
}

/// The stage of `complaint`.
pub fn stage(complaint: &Complaint) -> ComplaintStage {
    ComplaintStage::try_from(complaint.stage).unwrap_or(ComplaintStage::Unspecified)
}

/// Whether `complaint` is closed or rejected (final).
pub fn is_final(complaint: &Complaint) -> bool {
    matches!(
        stage(complaint),
        ComplaintStage::Closed | ComplaintStage::Rejected
    )
}

/// Whether `complaint` is SEVERE.
pub fn is_severe(complaint: &Complaint) -> bool {
    complaint.severity == ComplaintSeverity::Severe as i32
}

fn time(value: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    value.and_then(from_timestamp)
}

fn illegal(what: impl Into<String>) -> ComplaintError {
    TicketsError::illegal_transition(what).into()
}

fn expect_stage(complaint: &Complaint, allowed: &[ComplaintStage], what: &str) -> Result<()> {
    let current = stage(complaint);
    if allowed.contains(&current) {
        Ok(())
    } else {
        Err(illegal(format!(
            "{what} is not allowed on a complaint in stage {}",
            current.as_str_name()
        )))
    }
}

/// INVALID_ARGUMENT naming `field` when `text` is longer than `limit`
/// Unicode characters.
pub fn limit(text: &str, limit: usize, field: &str) -> Result<()> {
    if text.chars().count() > limit {
        return Err(
            TicketsError::invalid(field, format!("{field} exceeds {limit} characters")).into(),
        );
    }
    Ok(())
}

fn uris(uris: &[String], field: &str) -> Result<()> {
    if uris.len() > 20 {
        return Err(TicketsError::invalid(field, format!("{field} holds at most 20 URIs")).into());
    }
    for uri in uris {
        limit(uri, 2048, field)?;
        if !(uri.starts_with("https://") || uri.starts_with("s3://")) {
            return Err(TicketsError::invalid(
                field,
                format!("{field} takes https:// or s3:// URIs"),
            )
            .into());
        }
    }
    Ok(())
}

/// Checks a registration's own fields (the customer's existence is the
/// caller's to check); `prefix` is `complaint.registration`.
pub fn validate_registration(
    registration: &ComplaintRegistration,
    now: DateTime<Utc>,
    prefix: &str,
) -> Result<()> {
    let field = |name: &str| format!("{prefix}.{name}");
    if registration.customer.is_empty() {
        return Err(TicketsError::invalid(&field("customer"), "the customer is required").into());
    }
    if registration.channel == 0 {
        return Err(TicketsError::invalid(&field("channel"), "the channel is required").into());
    }
    if registration.content.trim().is_empty() {
        return Err(TicketsError::invalid(&field("content"), "the content is required").into());
    }
    limit(&registration.content, 10_000, &field("content"))?;
    supplementary(registration, prefix)?;
    if let Some(at) = time(registration.complaint_time.as_ref())
        && at > now
    {
        return Err(TicketsError::invalid(
            &field("complaint_time"),
            "the complaint time must not be in the future",
        )
        .into());
    }
    Ok(())
}

/// Checks the supplementary fields of a registration (those UpdateComplaint
/// may change).
pub fn supplementary(registration: &ComplaintRegistration, prefix: &str) -> Result<()> {
    let field = |name: &str| format!("{prefix}.{name}");
    limit(
        &registration.complainant_name,
        100,
        &field("complainant_name"),
    )?;
    limit(
        &registration.complainant_phone,
        32,
        &field("complainant_phone"),
    )?;
    limit(
        &registration.customer_demand,
        2_000,
        &field("customer_demand"),
    )?;
    limit(&registration.order_number, 64, &field("order_number"))?;
    limit(&registration.product_model, 128, &field("product_model"))?;
    limit(&registration.specification, 128, &field("specification"))?;
    limit(&registration.batch_number, 64, &field("batch_number"))?;
    uris(&registration.evidence_uris, &field("evidence_uris"))?;
    if registration.quantity < 0 || registration.defective_quantity < 0 {
        return Err(
            TicketsError::invalid(&field("quantity"), "quantities must not be negative").into(),
        );
    }
    if registration.quantity > 0 && registration.defective_quantity > registration.quantity {
        return Err(TicketsError::invalid(
            &field("defective_quantity"),
            "the defective quantity must not exceed the quantity",
        )
        .into());
    }
    Ok(())
}

/// The deadline of a complaint registered at `registered`.
pub fn deadline(registered: DateTime<Utc>, settings: &Settings) -> DateTime<Utc> {
    registered + Duration::days(settings.deadline_days)
}

/// Fills a new complaint's stage-1 data: stage REGISTERED, round 0, the
/// deadline, defaults for the owner, severity and complaint time.
pub fn register(
    complaint: &mut Complaint,
    name: String,
    number: String,
    actor: &Actor,
    settings: &Settings,
    now: DateTime<Utc>,
) {
    complaint.name = name;
    complaint.number = number;
    complaint.stage = ComplaintStage::Registered as i32;
    if complaint.severity == ComplaintSeverity::Unspecified as i32 {
        complaint.severity = ComplaintSeverity::Normal as i32;
    }
    if complaint.owner.is_empty() && actor.name.starts_with("users/") {
        complaint.owner = actor.name.clone();
    }
    let registration = complaint.registration.get_or_insert_default();
    if registration.complaint_time.is_none() {
        registration.complaint_time = Some(to_timestamp(now));
    }
    registration.registered_by = Some(actor.clone());
    complaint.customer = registration.customer.clone();
    complaint.judgement = None;
    complaint.investigation = None;
    complaint.round = 0;
    complaint.current_proposal.clear();
    complaint.executions.clear();
    complaint.summary = None;
    complaint.deadline_time = Some(to_timestamp(deadline(now, settings)));
    complaint.overdue = false;
    complaint.escalations.clear();
    complaint.close_time = None;
    complaint.closed_within_deadline = false;
    complaint.closed_by = None;
    complaint.create_time = Some(to_timestamp(now));
    complaint.update_time = Some(to_timestamp(now));
}

/// Records an escalation of `complaint`.
pub fn escalate(
    complaint: &mut Complaint,
    trigger: ComplaintEscalationTrigger,
    level: ApprovalLevel,
    notified_users: Vec<String>,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<ComplaintEscalation> {
    if is_final(complaint) {
        return Err(illegal("a closed or rejected complaint is not escalated"));
    }
    if level == ApprovalLevel::Unspecified {
        return Err(TicketsError::invalid("level", "the level is required").into());
    }
    limit(reason, 2_000, "reason")?;
    let escalation = ComplaintEscalation {
        trigger: trigger as i32,
        level: level as i32,
        notified_users,
        reason: reason.to_owned(),
        escalated_by: Some(actor.clone()),
        escalate_time: Some(to_timestamp(now)),
    };
    complaint.escalations.push(escalation.clone());
    Ok(escalation)
}

/// The level an overdue complaint is escalated to: the department manager,
/// the general manager for a severe one (already with the vice president).
pub fn overdue_level(complaint: &Complaint) -> ApprovalLevel {
    if is_severe(complaint) {
        ApprovalLevel::GeneralManager
    } else {
        ApprovalLevel::DepartmentManager
    }
}

/// Marks `complaint` overdue when it is open past its deadline at `now` and
/// not yet marked; true when it changed.
pub fn mark_overdue(complaint: &mut Complaint, now: DateTime<Utc>) -> bool {
    if is_final(complaint) || complaint.overdue {
        return false;
    }
    match time(complaint.deadline_time.as_ref()) {
        Some(deadline) if now > deadline => {
            complaint.overdue = true;
            true
        }
        _ => false,
    }
}

/// Judges a REGISTERED complaint (判断): valid → JUDGED with the responsible
/// department and the report due time; not valid → REJECTED (final).
pub struct Judgement<'a> {
    /// Whether valid and reasonable.
    pub valid: bool,
    /// Why not valid.
    pub rejection_reason: &'a str,
    /// The responsible department (`departments/{d}`), when valid.
    pub responsible_department: &'a str,
    /// The handling time asked of the customer.
    pub customer_time_requested: Option<prost_types::Duration>,
}

/// Applies `judgement` to `complaint`.
pub fn judge(
    complaint: &mut Complaint,
    judgement: Judgement<'_>,
    actor: &Actor,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<()> {
    expect_stage(complaint, &[ComplaintStage::Registered], "JudgeComplaint")?;
    limit(judgement.rejection_reason, 2_000, "rejection_reason")?;
    let mut record = ComplaintJudgement {
        valid: judgement.valid,
        judged_by: Some(actor.clone()),
        judge_time: Some(to_timestamp(now)),
        ..ComplaintJudgement::default()
    };
    if let Some(requested) = judgement.customer_time_requested {
        if requested.seconds < 0 || requested.nanos < 0 {
            return Err(TicketsError::invalid(
                "customer_time_requested",
                "the time asked must not be negative",
            )
            .into());
        }
        record.customer_promise_time = Some(to_timestamp(
            now + Duration::seconds(requested.seconds.min(10 * 365 * 86_400)),
        ));
        record.customer_time_requested = Some(requested);
    }
    if judgement.valid {
        if judgement.responsible_department.is_empty() {
            return Err(ComplaintError::missing("responsible_department"));
        }
        record.responsible_department = judgement.responsible_department.to_owned();
        complaint.judgement = Some(record);
        complaint.stage = ComplaintStage::Judged as i32;
        complaint.investigation = Some(ComplaintInvestigation {
            report_due_time: Some(to_timestamp(now + Duration::days(settings.report_days))),
            ..ComplaintInvestigation::default()
        });
    } else {
        if judgement.rejection_reason.trim().is_empty() {
            return Err(ComplaintError::missing("rejection_reason"));
        }
        record.rejection_reason = judgement.rejection_reason.to_owned();
        complaint.judgement = Some(record);
        complaint.stage = ComplaintStage::Rejected as i32;
        finish(complaint, actor, now);
    }
    Ok(())
}

fn finish(complaint: &mut Complaint, actor: &Actor, now: DateTime<Utc>) {
    complaint.close_time = Some(to_timestamp(now));
    complaint.closed_within_deadline =
        time(complaint.deadline_time.as_ref()).is_none_or(|deadline| now <= deadline);
    complaint.closed_by = Some(actor.clone());
    complaint.overdue = false;
}

/// Starts the investigation of a JUDGED complaint, led by `investigator`.
pub fn start_investigation(
    complaint: &mut Complaint,
    investigator: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    expect_stage(complaint, &[ComplaintStage::Judged], "StartInvestigation")?;
    let investigation = complaint.investigation.get_or_insert_default();
    investigation.investigator = investigator.to_owned();
    investigation.start_time = Some(to_timestamp(now));
    complaint.stage = ComplaintStage::Investigating as i32;
    Ok(())
}

/// The writable paths of an investigation.
const INVESTIGATION_PATHS: &[&str] = &[
    "root_cause",
    "classification",
    "non_quality_subcategory",
    "responsible_person",
    "responsible_user",
    "report",
    "report_uris",
    "investigator",
    "loss_amount",
];

/// Records the investigation (调查) of a JUDGED or INVESTIGATING complaint:
/// writes the masked fields of `input` (every non-empty one when `paths` is
/// empty); with `submit` the report is checked complete and the complaint
/// moves to PROPOSING in round 1. `caller` leads an investigation this
/// call starts.
pub fn record_investigation(
    complaint: &mut Complaint,
    input: &ComplaintInvestigation,
    paths: &[String],
    submit: bool,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    expect_stage(
        complaint,
        &[ComplaintStage::Judged, ComplaintStage::Investigating],
        "RecordInvestigation",
    )?;
    for path in paths {
        let path = path.strip_prefix("investigation.").unwrap_or(path);
        if !INVESTIGATION_PATHS.contains(&path) {
            return Err(TicketsError::invalid(
                "update_mask",
                format!("{path} cannot be written by RecordInvestigation"),
            )
            .into());
        }
    }
    limit(&input.root_cause, 5_000, "investigation.root_cause")?;
    limit(
        &input.responsible_person,
        100,
        "investigation.responsible_person",
    )?;
    limit(&input.report, 20_000, "investigation.report")?;
    uris(&input.report_uris, "investigation.report_uris")?;
    if stage(complaint) == ComplaintStage::Judged {
        let investigator = if input.investigator.is_empty() {
            actor.name.clone()
        } else {
            input.investigator.clone()
        };
        start_investigation(complaint, &investigator, now)?;
    }
    let investigation = complaint.investigation.get_or_insert_default();
    let wants = |path: &str, non_empty: bool| {
        if paths.is_empty() {
            non_empty
        } else {
            paths
                .iter()
                .any(|p| p.strip_prefix("investigation.").unwrap_or(p) == path)
        }
    };
    if wants("root_cause", !input.root_cause.is_empty()) {
        investigation.root_cause = input.root_cause.clone();
    }
    if wants("classification", input.classification != 0) {
        investigation.classification = input.classification;
    }
    if wants(
        "non_quality_subcategory",
        input.non_quality_subcategory != 0,
    ) {
        investigation.non_quality_subcategory = input.non_quality_subcategory;
    }
    if wants("responsible_person", !input.responsible_person.is_empty()) {
        investigation.responsible_person = input.responsible_person.clone();
    }
    if wants("responsible_user", !input.responsible_user.is_empty()) {
        investigation.responsible_user = input.responsible_user.clone();
    }
    if wants("report", !input.report.is_empty()) {
        investigation.report = input.report.clone();
    }
    if wants("report_uris", !input.report_uris.is_empty()) {
        investigation.report_uris = input.report_uris.clone();
    }
    if wants("investigator", !input.investigator.is_empty()) {
        investigation.investigator = input.investigator.clone();
    }
    if wants("loss_amount", input.loss_amount.is_some()) {
        investigation.loss_amount = input.loss_amount.clone();
    }
    if investigation.classification == ComplaintClassification::Quality as i32 {
        // A quality complaint has no non-quality subcategory.
        investigation.non_quality_subcategory = 0;
    }
    investigation.investigated_by = Some(actor.clone());
    if submit {
        report_complete(investigation)?;
        investigation.report_time = Some(to_timestamp(now));
        investigation.report_late =
            time(investigation.report_due_time.as_ref()).is_some_and(|due| now > due);
        complaint.stage = ComplaintStage::Proposing as i32;
        complaint.round = complaint.round.max(1);
    }
    Ok(())
}

/// The first field a final investigation report lacks, as an error.
pub fn report_complete(investigation: &ComplaintInvestigation) -> Result<()> {
    if investigation.root_cause.trim().is_empty() {
        return Err(ComplaintError::missing("investigation.root_cause"));
    }
    if investigation.classification == 0 {
        return Err(ComplaintError::missing("investigation.classification"));
    }
    if investigation.classification == ComplaintClassification::NonQuality as i32
        && investigation.non_quality_subcategory == 0
    {
        return Err(ComplaintError::missing(
            "investigation.non_quality_subcategory",
        ));
    }
    if investigation.responsible_person.trim().is_empty() {
        return Err(ComplaintError::missing("investigation.responsible_person"));
    }
    if investigation.report.trim().is_empty() {
        return Err(ComplaintError::missing("investigation.report"));
    }
    Ok(())
}

/// Checks a proposal's remedies (1 to 20, each typed and described, one
/// currency, the tenant's when it has one) and returns their total.
pub fn remedies_total(
    remedies: &[ComplaintRemedy],
    description: &str,
    settings: &Settings,
    prefix: &str,
) -> Result<Money> {
    if remedies.is_empty() {
        return Err(TicketsError::invalid(
            &format!("{prefix}.remedies"),
            "a proposal needs at least one remedy",
        )
        .into());
    }
    if remedies.len() > 20 {
        return Err(TicketsError::invalid(
            &format!("{prefix}.remedies"),
            "a proposal holds at most 20 remedies",
        )
        .into());
    }
    limit(description, 5_000, &format!("{prefix}.description"))?;
    let mut currency: Option<&str> = None;
    let mut total: i64 = 0;
    for (index, remedy) in remedies.iter().enumerate() {
        let field = |name: &str| format!("{prefix}.remedies[{index}].{name}");
        if remedy.r#type == 0 {
            return Err(
                TicketsError::invalid(&field("type"), "the remedy type is required").into(),
            );
        }
        if remedy.description.trim().is_empty() {
            return Err(TicketsError::invalid(
                &field("description"),
                "the remedy description is required",
            )
            .into());
        }
        limit(&remedy.description, 2_000, &field("description"))?;
        if remedy.quantity < 0 {
            return Err(
                TicketsError::invalid(&field("quantity"), "quantity must not be negative").into(),
            );
        }
        let Some(amount) = remedy.amount.as_ref() else {
            continue;
        };
        if amount.amount_minor < 0 {
            return Err(
                TicketsError::invalid(&field("amount"), "the amount must not be negative").into(),
            );
        }
        if amount.currency_code.is_empty() {
            return Err(TicketsError::invalid(
                &field("amount.currency_code"),
                "the amount needs its currency",
            )
            .into());
        }
        let mismatch = currency.is_some_and(|seen| seen != amount.currency_code)
            || (!settings.currency_code.is_empty()
                && settings.currency_code != amount.currency_code);
        if mismatch {
            return Err(TicketsError::invalid_because(
                &field("amount.currency_code"),
                "all remedies share the tenant's currency",
                "CURRENCY_MISMATCH",
            )
            .into());
        }
        currency = Some(&amount.currency_code);
        total = total.checked_add(amount.amount_minor).ok_or_else(|| {
            TicketsError::invalid(&field("amount"), "the amounts' total is too large")
        })?;
    }
    let currency_code = currency
        .map(str::to_owned)
        .or_else(|| (!settings.currency_code.is_empty()).then(|| settings.currency_code.clone()))
        .unwrap_or_else(|| "CNY".to_owned());
    Ok(Money {
        currency_code,
        amount_minor: total,
    })
}

/// A new DRAFT proposal of the complaint's current round; the complaint
/// must be PROPOSING. `previous` is the last proposal the customer did not
/// accept (rounds after the first).
pub fn draft_proposal(
    complaint: &mut Complaint,
    input: &Proposal,
    name: String,
    previous: Option<String>,
    actor: &Actor,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Proposal> {
    expect_stage(complaint, &[ComplaintStage::Proposing], "CreateProposal")?;
    let total = remedies_total(&input.remedies, &input.description, settings, "proposal")?;
    let proposal = Proposal {
        name: name.clone(),
        round: complaint.round.max(1),
        previous_proposal: if complaint.round > 1 {
            previous.unwrap_or_default()
        } else {
            String::new()
        },
        remedies: input.remedies.clone(),
        description: input.description.clone(),
        total_amount: Some(total),
        state: ProposalState::Draft as i32,
        required_approval_level: 0,
        approvals: Vec::new(),
        created_by: Some(actor.clone()),
        submit_time: None,
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        etag: String::new(),
    };
    complaint.current_proposal = name;
    Ok(proposal)
}

/// The state of `proposal`.
pub fn proposal_state(proposal: &Proposal) -> ProposalState {
    ProposalState::try_from(proposal.state).unwrap_or(ProposalState::Unspecified)
}

/// Updates a DRAFT proposal's remedies and description (the masked paths).
pub fn update_proposal(
    proposal: &mut Proposal,
    input: &Proposal,
    paths: &[String],
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<()> {
    if proposal_state(proposal) != ProposalState::Draft {
        return Err(illegal("only a DRAFT proposal can be changed"));
    }
    if paths.is_empty() {
        return Err(TicketsError::invalid("update_mask", "update_mask is required").into());
    }
    for path in paths {
        match path.as_str() {
            "remedies" => proposal.remedies = input.remedies.clone(),
            "description" => proposal.description = input.description.clone(),
            other => {
                return Err(TicketsError::invalid(
                    "update_mask",
                    format!("{other} cannot be updated"),
                )
                .into());
            }
        }
    }
    proposal.total_amount = Some(remedies_total(
        &proposal.remedies,
        &proposal.description,
        settings,
        "proposal",
    )?);
    proposal.update_time = Some(to_timestamp(now));
    Ok(())
}

/// Submits a DRAFT proposal: PENDING_APPROVAL with the level `required`,
/// the complaint AWAITING_APPROVAL.
pub fn submit_proposal(
    complaint: &mut Complaint,
    proposal: &mut Proposal,
    required: ApprovalLevel,
    now: DateTime<Utc>,
) -> Result<()> {
    if stage(complaint) == ComplaintStage::AwaitingApproval {
        return Err(TicketsError::FailedPrecondition(
            "another proposal of the complaint is pending approval".into(),
            "PROPOSAL_PENDING",
        )
        .into());
    }
    if proposal_state(proposal) != ProposalState::Draft {
        return Err(illegal("only a DRAFT proposal can be submitted"));
    }
    expect_stage(complaint, &[ComplaintStage::Proposing], "SubmitProposal")?;
    if proposal.round != complaint.round || proposal.name != complaint.current_proposal {
        return Err(TicketsError::FailedPrecondition(
            "the proposal is not the current one of the complaint's round".into(),
            "PROPOSAL_NOT_CURRENT",
        )
        .into());
    }
    proposal.state = ProposalState::PendingApproval as i32;
    proposal.required_approval_level = required as i32;
    proposal.submit_time = Some(to_timestamp(now));
    proposal.update_time = Some(to_timestamp(now));
    complaint.stage = ComplaintStage::AwaitingApproval as i32;
    Ok(())
}

/// Who decides on a proposal.
pub struct Approver<'a> {
    /// `users/{user}`.
    pub name: &'a str,
    /// The display name at the time.
    pub display_name: &'a str,
    /// The principal's approval level.
    pub level: i32,
}

/// Approves (or with `approve` false rejects) a PENDING_APPROVAL proposal:
/// the approver's level must cover the required one; nothing changes
/// otherwise.
pub fn decide(
    complaint: &mut Complaint,
    proposal: &mut Proposal,
    approver: &Approver<'_>,
    approve: bool,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    limit(comment, 2_000, "comment")?;
    if !approve && comment.trim().is_empty() {
        return Err(TicketsError::invalid("comment", "a rejection needs its comment").into());
    }
    if proposal_state(proposal) != ProposalState::PendingApproval {
        return Err(illegal("only a proposal pending approval is decided"));
    }
    let required = ApprovalLevel::try_from(proposal.required_approval_level)
        .unwrap_or(ApprovalLevel::GeneralManager);
    if !approval::covers(approver.level, required) {
        return Err(ComplaintError::ApprovalLevelInsufficient(format!(
            "this proposal needs an approver of level {} or higher",
            required.as_str_name()
        )));
    }
    expect_stage(
        complaint,
        &[ComplaintStage::AwaitingApproval],
        if approve {
            "ApproveProposal"
        } else {
            "RejectProposal"
        },
    )?;
    proposal.approvals.push(ProposalApproval {
        approver: approver.name.to_owned(),
        approver_display_name: approver.display_name.to_owned(),
        level: approver.level,
        decision: if approve {
            ProposalDecision::Approved
        } else {
            ProposalDecision::Rejected
        } as i32,
        comment: comment.to_owned(),
        decide_time: Some(to_timestamp(now)),
    });
    proposal.update_time = Some(to_timestamp(now));
    if approve {
        proposal.state = ProposalState::Approved as i32;
        complaint.stage = ComplaintStage::Executing as i32;
        complaint.current_proposal = proposal.name.clone();
    } else {
        proposal.state = ProposalState::Rejected as i32;
        complaint.stage = ComplaintStage::Proposing as i32;
    }
    Ok(())
}

/// Records the execution (实施) of the current proposal and, when given,
/// the customer's acceptance: APPROVED → EXECUTED → ACCEPTED (complaint
/// SUMMARIZING) or NOT_ACCEPTED (a new round may follow). Executions are
/// appended, never overwritten.
pub fn record_execution(
    complaint: &mut Complaint,
    proposal: &mut Proposal,
    input: &ComplaintExecution,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    expect_stage(complaint, &[ComplaintStage::Executing], "RecordExecution")?;
    limit(&input.notes, 2_000, "execution.notes")?;
    if let Some(acceptance) = input.acceptance.as_ref() {
        check_acceptance(acceptance, now)?;
    }
    match proposal_state(proposal) {
        ProposalState::Approved => {
            let executed_by = if input.executed_by.is_empty() {
                actor.name.clone()
            } else {
                input.executed_by.clone()
            };
            complaint.executions.push(ComplaintExecution {
                proposal: proposal.name.clone(),
                round: proposal.round,
                executed_by,
                execution_time: input.execution_time.or_else(|| Some(to_timestamp(now))),
                notes: input.notes.clone(),
                acceptance: None,
            });
            proposal.state = ProposalState::Executed as i32;
        }
        ProposalState::Executed => {}
        _ => {
            return Err(illegal(
                "the current proposal is not approved or awaiting the customer's answer",
            ));
        }
    }
    proposal.update_time = Some(to_timestamp(now));
    let Some(acceptance) = input.acceptance.as_ref() else {
        return Ok(());
    };
    let Some(execution) = complaint
        .executions
        .iter_mut()
        .rev()
        .find(|execution| execution.proposal == proposal.name)
    else {
        return Err(
            TicketsError::Internal("an executed proposal without its execution".into()).into(),
        );
    };
    if execution.notes.is_empty() {
        execution.notes = input.notes.clone();
    }
    let mut acceptance = acceptance.clone();
    if acceptance.sign_time.is_none() {
        acceptance.sign_time = Some(to_timestamp(now));
    }
    let accepted = acceptance.accepted;
    execution.acceptance = Some(acceptance);
    if accepted {
        proposal.state = ProposalState::Accepted as i32;
        complaint.stage = ComplaintStage::Summarizing as i32;
    } else {
        proposal.state = ProposalState::NotAccepted as i32;
    }
    Ok(())
}

fn check_acceptance(acceptance: &ComplaintCustomerAcceptance, now: DateTime<Utc>) -> Result<()> {
    if acceptance.signed_name.trim().is_empty() {
        return Err(ComplaintError::missing("execution.acceptance.signed_name"));
    }
    limit(
        &acceptance.signed_name,
        100,
        "execution.acceptance.signed_name",
    )?;
    limit(
        &acceptance.signature_uri,
        2_048,
        "execution.acceptance.signature_uri",
    )?;
    limit(&acceptance.comment, 2_000, "execution.acceptance.comment")?;
    if time(acceptance.sign_time.as_ref()).is_some_and(|at| at > now) {
        return Err(TicketsError::invalid(
            "execution.acceptance.sign_time",
            "the sign time must not be in the future",
        )
        .into());
    }
    Ok(())
}

/// Opens a new round after the customer did not accept `current`: the
/// round increases, the complaint returns to PROPOSING; nothing earlier
/// changes.
pub fn start_new_round(complaint: &mut Complaint, current: Option<&Proposal>) -> Result<()> {
    let not_accepted =
        current.is_some_and(|proposal| proposal_state(proposal) == ProposalState::NotAccepted);
    if stage(complaint) != ComplaintStage::Executing || !not_accepted {
        return Err(illegal(
            "a new round follows only a proposal the customer did not accept",
        ));
    }
    complaint.round += 1;
    complaint.stage = ComplaintStage::Proposing as i32;
    Ok(())
}

/// Records (replaces) the summary (总结) of a SUMMARIZING complaint.
pub fn summarize(
    complaint: &mut Complaint,
    input: &ComplaintSummary,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    expect_stage(
        complaint,
        &[ComplaintStage::Summarizing],
        "SummarizeComplaint",
    )?;
    limit(
        &input.improvement_measure,
        5_000,
        "summary.improvement_measure",
    )?;
    limit(&input.evaluation, 5_000, "summary.evaluation")?;
    if input.penalties.len() > 20 {
        return Err(TicketsError::invalid(
            "summary.penalties",
            "a summary holds at most 20 penalties",
        )
        .into());
    }
    for (index, penalty) in input.penalties.iter().enumerate() {
        let field = |name: &str| format!("summary.penalties[{index}].{name}");
        if penalty.kind == 0 {
            return Err(TicketsError::invalid(&field("kind"), "the kind is required").into());
        }
        if penalty.subject_name.trim().is_empty() {
            return Err(
                TicketsError::invalid(&field("subject_name"), "the name is required").into(),
            );
        }
        limit(&penalty.subject_name, 100, &field("subject_name"))?;
        limit(&penalty.description, 2_000, &field("description"))?;
    }
    complaint.summary = Some(ComplaintSummary {
        root_cause_category: input.root_cause_category,
        improvement_measure: input.improvement_measure.clone(),
        preventive_action_owner: input.preventive_action_owner.clone(),
        preventive_action_due_date: input.preventive_action_due_date,
        summarized_by: Some(actor.clone()),
        summary_time: Some(to_timestamp(now)),
        evaluation: input.evaluation.clone(),
        tracking_required: input.tracking_required,
        penalties: input.penalties.clone(),
        preventive_action_result: String::new(),
        preventive_action_done_time: None,
    });
    Ok(())
}

/// Closes a SUMMARIZING complaint whose summary names its root-cause
/// category and improvement measure.
pub fn close(complaint: &mut Complaint, actor: &Actor, now: DateTime<Utc>) -> Result<()> {
    expect_stage(complaint, &[ComplaintStage::Summarizing], "CloseComplaint")?;
    let summary = complaint.summary.clone().unwrap_or_default();
    if summary.root_cause_category == 0 {
        return Err(ComplaintError::missing("summary.root_cause_category"));
    }
    if summary.improvement_measure.trim().is_empty() {
        return Err(ComplaintError::missing("summary.improvement_measure"));
    }
    complaint.stage = ComplaintStage::Closed as i32;
    finish(complaint, actor, now);
    Ok(())
}

/// Records the preventive action of a CLOSED complaint as done.
pub fn complete_preventive_action(
    complaint: &mut Complaint,
    result: &str,
    done_time: Option<prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Result<()> {
    let open_action = complaint.summary.as_ref().is_some_and(|summary| {
        !summary.improvement_measure.is_empty() && summary.preventive_action_done_time.is_none()
    });
    if stage(complaint) != ComplaintStage::Closed || !open_action {
        return Err(illegal(
            "only a closed complaint with an open improvement measure completes it",
        ));
    }
    if result.trim().is_empty() {
        return Err(ComplaintError::missing("preventive_action_result"));
    }
    limit(result, 5_000, "preventive_action_result")?;
    if time(done_time.as_ref()).is_some_and(|at| at > now) {
        return Err(
            TicketsError::invalid("done_time", "the done time must not be in the future").into(),
        );
    }
    if let Some(summary) = complaint.summary.as_mut() {
        summary.preventive_action_result = result.to_owned();
        summary.preventive_action_done_time = done_time.or_else(|| Some(to_timestamp(now)));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
