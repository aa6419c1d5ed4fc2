//! The stage methods of a complaint: judge (判断), investigate (调查),
//! execute (实施) and new rounds, summarize (总结), close, and the
//! preventive action's follow-up.

use chrono::{DateTime, Utc};
use kefu_kit::context::{CallContext, TenantId};
use kefu_proto::v1::{
    CloseComplaintRequest, Complaint, ComplaintPreventiveActionCompleted, ComplaintStage,
    CompletePreventiveActionRequest, JudgeComplaintRequest, ProposalState, RecordExecutionRequest,
    RecordInvestigationRequest, StartInvestigationRequest, StartNewRoundRequest,
    SummarizeComplaintRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};

use super::{events, known_user, require_supervisor, save_changed, settings, unknown_reference};
use crate::{
    api::{
        Shared, actor_of, append_event, caller,
        target::{EtagTarget, etag_targets},
    },
    domain::complaint::{self as rules, ComplaintError, Judgement, Result},
    error::TicketsError,
    store::{complaints as store, directory},
};

etag_targets!(
    JudgeComplaintRequest,
    StartInvestigationRequest,
    RecordInvestigationRequest,
    RecordExecutionRequest,
    StartNewRoundRequest,
    SummarizeComplaintRequest,
    CloseComplaintRequest,
    CompletePreventiveActionRequest,
);

/// What a stage method works on: the caller, the tenant, the request, the
/// time, the transaction and the complaint the request names, read for the
/// change.
type StageChange<R> = (
    CallContext,
    TenantId,
    R,
    DateTime<Utc>,
    DatabaseTransaction,
    Complaint,
);

/// Starts a stage method: the caller must supervise and `check` accept the
/// request before anything is read; then the complaint is loaded for the
/// change (its etag checked).
async fn begin_stage<R: EtagTarget>(
    shared: &Shared,
    request: Request<R>,
    check: impl FnOnce(&R) -> Result<()>,
) -> Result<StageChange<R>> {
    let (context, tenant) = caller(&request)?;
    require_supervisor(&context)?;
    let request = request.into_inner();
    check(&request)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let complaint =
        store::load_for_change(&txn, tenant, request.name(), "name", request.etag()).await?;
    Ok((context, tenant, request, now, txn, complaint))
}

/// `JudgeComplaint`: valid → JUDGED with the responsible department; not
/// valid → REJECTED (final, ComplaintClosed).
pub(in crate::api) async fn judge_complaint(
    shared: &Shared,
    request: Request<JudgeComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (context, tenant, request, now, txn, mut complaint) =
            begin_stage(shared, request, |_| Ok(())).await?;
        let from = rules::stage(&complaint);
        if request.valid
            && from == ComplaintStage::Registered
            && !request.responsible_department.is_empty()
            && directory::department(&txn, tenant, &request.responsible_department)
                .await?
                .is_none()
        {
            return Err(unknown_reference(
                "responsible_department",
                &request.responsible_department,
            ));
        }
        let actor = actor_of(&txn, tenant, &context).await?;
        let settings = settings(&txn, tenant).await?;
        rules::judge(
            &mut complaint,
            Judgement {
                valid: request.valid,
                rejection_reason: &request.rejection_reason,
                responsible_department: &request.responsible_department,
                customer_time_requested: request.customer_time_requested,
            },
            &actor,
            &settings,
            now,
        )?;
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        if rules::is_final(&complaint) {
            events::closed(&txn, tenant, &complaint, None, now).await?;
        }
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}

/// `StartInvestigation`: JUDGED → INVESTIGATING, led by the investigator
/// (default: the caller).
pub(in crate::api) async fn start_investigation(
    shared: &Shared,
    request: Request<StartInvestigationRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (context, tenant, request, now, txn, mut complaint) =
            begin_stage(shared, request, |_| Ok(())).await?;
        let actor = actor_of(&txn, tenant, &context).await?;
        let investigator = if request.investigator.is_empty() {
            actor.name.clone()
        } else {
            known_user(&txn, tenant, &request.investigator, "investigator").await?;
            request.investigator.clone()
        };
        let from = rules::stage(&complaint);
        rules::start_investigation(&mut complaint, &investigator, now)?;
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}

/// `RecordInvestigation`: writes the investigation; with `submit_report`
/// the complete report moves the complaint to PROPOSING.
pub(in crate::api) async fn record_investigation(
    shared: &Shared,
    request: Request<RecordInvestigationRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (context, tenant, request, now, txn, mut complaint) =
            begin_stage(shared, request, |_| Ok(())).await?;
        let input = request.investigation.unwrap_or_default();
        let paths = request
            .update_mask
            .map(|mask| mask.paths)
            .unwrap_or_default();
        for (user, field) in [
            (&input.investigator, "investigation.investigator"),
            (&input.responsible_user, "investigation.responsible_user"),
        ] {
            if !user.is_empty() {
                known_user(&txn, tenant, user, field).await?;
            }
        }
        let actor = actor_of(&txn, tenant, &context).await?;
        let from = rules::stage(&complaint);
        rules::record_investigation(
            &mut complaint,
            &input,
            &paths,
            request.submit_report,
            &actor,
            now,
        )?;
        // Every transition is its own event: JUDGED → INVESTIGATING →
        // PROPOSING when one call starts and completes the investigation.
        let mut from = from;
        if from == ComplaintStage::Judged && rules::stage(&complaint) == ComplaintStage::Proposing {
            events::stage_changed(
                &txn,
                tenant,
                &complaint,
                from,
                ComplaintStage::Investigating,
                &actor,
                now,
            )
            .await?;
            from = ComplaintStage::Investigating;
        }
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}

/// `RecordExecution`: the execution of the current approved proposal and,
/// when known, the customer's acceptance.
pub(in crate::api) async fn record_execution(
    shared: &Shared,
    request: Request<RecordExecutionRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (context, tenant, request, now, txn, mut complaint) =
            begin_stage(shared, request, |_| Ok(())).await?;
        let input = request.execution.unwrap_or_default();
        if rules::stage(&complaint) != ComplaintStage::Executing {
            return Err(TicketsError::illegal_transition(
                "RecordExecution needs a complaint in stage EXECUTING",
            )
            .into());
        }
        let mut proposal =
            store::load_proposal(&txn, tenant, &complaint.current_proposal, "name", true).await?;
        if !input.executed_by.is_empty() {
            known_user(&txn, tenant, &input.executed_by, "execution.executed_by").await?;
        }
        let actor = actor_of(&txn, tenant, &context).await?;
        let from = rules::stage(&complaint);
        rules::record_execution(&mut complaint, &mut proposal, &input, &actor, now)?;
        store::save_proposal(&txn, tenant, &mut proposal).await?;
        events::execution_recorded(&txn, tenant, &complaint, &proposal, now).await?;
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}

/// `StartNewRound`: after a remedy the customer did not accept, the round
/// increases and the complaint returns to PROPOSING.
pub(in crate::api) async fn start_new_round(
    shared: &Shared,
    request: Request<StartNewRoundRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (context, tenant, _, now, txn, mut complaint) =
            begin_stage(shared, request, |request| {
                rules::limit(&request.reason, 2_000, "reason")
            })
            .await?;
        let current = if complaint.current_proposal.is_empty() {
            None
        } else {
            Some(
                store::load_proposal(&txn, tenant, &complaint.current_proposal, "name", false)
                    .await?,
            )
        };
        let actor = actor_of(&txn, tenant, &context).await?;
        let from = rules::stage(&complaint);
        rules::start_new_round(&mut complaint, current.as_ref())?;
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}

/// `SummarizeComplaint`: records (replaces) the summary.
pub(in crate::api) async fn summarize_complaint(
    shared: &Shared,
    request: Request<SummarizeComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (context, tenant, request, now, txn, mut complaint) =
            begin_stage(shared, request, |_| Ok(())).await?;
        let input = request.summary.unwrap_or_default();
        if !input.preventive_action_owner.is_empty() {
            known_user(
                &txn,
                tenant,
                &input.preventive_action_owner,
                "summary.preventive_action_owner",
            )
            .await?;
        }
        let actor = actor_of(&txn, tenant, &context).await?;
        let from = rules::stage(&complaint);
        rules::summarize(&mut complaint, &input, &actor, now)?;
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}

/// `CloseComplaint`: SUMMARIZING → CLOSED with a complete summary;
/// publishes ComplaintClosed.
pub(in crate::api) async fn close_complaint(
    shared: &Shared,
    request: Request<CloseComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (context, tenant, _, now, txn, mut complaint) =
            begin_stage(shared, request, |_| Ok(())).await?;
        let actor = actor_of(&txn, tenant, &context).await?;
        let from = rules::stage(&complaint);
        rules::close(&mut complaint, &actor, now)?;
        let remedy_amount = accepted_amount(&txn, tenant, &complaint).await?;
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        events::closed(&txn, tenant, &complaint, remedy_amount, now).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}

/// The total of the proposal the customer accepted, if any.
async fn accepted_amount(
    txn: &sea_orm::DatabaseTransaction,
    tenant: kefu_kit::context::TenantId,
    complaint: &Complaint,
) -> Result<Option<kefu_proto::v1::Money>> {
    let id = store::complaint_id(&complaint.name);
    Ok(store::proposals(txn, tenant, id)
        .await?
        .into_iter()
        .rev()
        .find(|proposal| proposal.state == ProposalState::Accepted as i32)
        .and_then(|proposal| proposal.total_amount))
}

/// `CompletePreventiveAction`: the improvement measure of a CLOSED
/// complaint was carried out.
pub(in crate::api) async fn complete_preventive_action(
    shared: &Shared,
    request: Request<CompletePreventiveActionRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (context, tenant, request, now, txn, mut complaint) =
            begin_stage(shared, request, |_| Ok(())).await?;
        let actor = actor_of(&txn, tenant, &context).await?;
        let from = rules::stage(&complaint);
        rules::complete_preventive_action(
            &mut complaint,
            &request.preventive_action_result,
            request.done_time,
            now,
        )?;
        let summary = complaint.summary.clone().unwrap_or_default();
        let event = ComplaintPreventiveActionCompleted {
            complaint: complaint.name.clone(),
            responsible_department: complaint
                .judgement
                .as_ref()
                .map(|judgement| judgement.responsible_department.clone())
                .unwrap_or_default(),
            improvement_measure: summary.improvement_measure,
            preventive_action_owner: summary.preventive_action_owner,
            preventive_action_due_date: summary.preventive_action_due_date,
            preventive_action_result: summary.preventive_action_result,
            done_time: summary.preventive_action_done_time,
            completed_by: Some(actor.clone()),
        };
        append_event(&txn, tenant, complaint.name.clone(), &event, now).await?;
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}
