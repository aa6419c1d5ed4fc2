//! Remedy proposals (处理方案): drafting, submission for approval by amount
//! (审批权限), approval or rejection, and reads.

use kefu_kit::idempotency;
use kefu_proto::v1::{
    ApprovalLevel, ApproveProposalRequest, CreateProposalRequest, GetProposalRequest, Proposal,
    ProposalApproved, ProposalRejected, ProposalSubmitted, RejectProposalRequest,
    SubmitProposalRequest, UpdateProposalRequest,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{require_supervisor, save_changed, settings};
use crate::{
    api::{Shared, actor_of, append_event, caller, remember_request},
    domain::complaint::{self as rules, Approver, ComplaintError, Result, approval},
    error::TicketsError,
    store::{complaints as store, directory},
};

/// `CreateProposal`: a DRAFT proposal in the complaint's current round.
pub(in crate::api) async fn create_proposal(
    shared: &Shared,
    request: Request<CreateProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    let run = async {
        let (context, tenant) = caller(&request)?;
        require_supervisor(&context)?;
        let request = request.into_inner();
        let input = request
            .proposal
            .ok_or_else(|| TicketsError::invalid("proposal", "proposal is required"))?;
        let now = shared.now();
        let txn = shared.begin(tenant).await?;
        if !request.request_id.is_empty()
            && let Some(remembered) =
                idempotency::recall(&txn, tenant.0, &request.request_id).await?
        {
            return Ok(store::load_proposal(
                &txn,
                tenant,
                &remembered.resource_name,
                "name",
                false,
            )
            .await?);
        }
        let mut complaint =
            store::load_for_change(&txn, tenant, &request.parent, "parent", "").await?;
        let complaint_id = store::complaint_id(&complaint.name)
            .ok_or_else(|| TicketsError::Internal(format!("complaint {}", complaint.name)))?;
        let earlier = store::proposals(&txn, tenant, Some(complaint_id)).await?;
        let previous = store::last_not_accepted(&earlier).map(|proposal| proposal.name.clone());
        let actor = actor_of(&txn, tenant, &context).await?;
        let settings = settings(&txn, tenant).await?;
        let name = store::proposal_name(complaint_id, Uuid::now_v7());
        let from = rules::stage(&complaint);
        let mut proposal = rules::draft_proposal(
            &mut complaint,
            &input,
            name,
            previous,
            &actor,
            &settings,
            now,
        )?;
        store::insert_proposal(&txn, tenant, &mut proposal).await?;
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        remember_request(
            &txn,
            tenant,
            &request.request_id,
            "CreateProposal",
            &proposal.name,
            now,
        )
        .await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(proposal)
    };
    Ok(Response::new(run.await?))
}

/// `GetProposal`.
pub(in crate::api) async fn get_proposal(
    shared: &Shared,
    request: Request<GetProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    let run = async {
        let (_, tenant) = caller(&request)?;
        let txn = shared.begin_read(tenant).await?;
        let proposal =
            store::load_proposal(&txn, tenant, &request.get_ref().name, "name", false).await?;
        txn.commit().await.map_err(TicketsError::from)?;
        Ok::<_, ComplaintError>(proposal)
    };
    Ok(Response::new(run.await?))
}

/// `UpdateProposal`: remedies and description of a DRAFT.
pub(in crate::api) async fn update_proposal(
    shared: &Shared,
    request: Request<UpdateProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    let run = async {
        let (context, tenant) = caller(&request)?;
        require_supervisor(&context)?;
        let request = request.into_inner();
        let input = request
            .proposal
            .ok_or_else(|| TicketsError::invalid("proposal", "proposal is required"))?;
        let paths = request
            .update_mask
            .map(|mask| mask.paths)
            .unwrap_or_default();
        let now = shared.now();
        let txn = shared.begin(tenant).await?;
        let mut proposal =
            store::load_proposal(&txn, tenant, &input.name, "proposal.name", true).await?;
        if !input.etag.is_empty() && input.etag != proposal.etag {
            return Err(TicketsError::StaleEtag(input.name.clone()).into());
        }
        let settings = settings(&txn, tenant).await?;
        rules::update_proposal(&mut proposal, &input, &paths, &settings, now)?;
        store::save_proposal(&txn, tenant, &mut proposal).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(proposal)
    };
    Ok(Response::new(run.await?))
}

/// The complaint of a proposal name, for a change.
fn parent_of(name: &str) -> String {
    store::proposal_ids(name)
        .map(|(complaint, _)| store::complaint_name(complaint))
        .unwrap_or_default()
}

/// Proposal `name` read for a change (ABORTED when `etag` is given and
/// stale) and its complaint.
async fn proposal_for_change(
    txn: &sea_orm::DatabaseTransaction,
    tenant: kefu_kit::context::TenantId,
    name: &str,
    etag: &str,
) -> Result<(Proposal, kefu_proto::v1::Complaint)> {
    let proposal = store::load_proposal(txn, tenant, name, "name", true).await?;
    if !etag.is_empty() && etag != proposal.etag {
        return Err(TicketsError::StaleEtag(name.to_owned()).into());
    }
    let complaint =
        store::load_for_change(txn, tenant, &parent_of(&proposal.name), "name", "").await?;
    Ok((proposal, complaint))
}

/// `SubmitProposal`: PENDING_APPROVAL with the level the tenant's approval
/// matrix asks for its total; the complaint AWAITING_APPROVAL.
pub(in crate::api) async fn submit_proposal(
    shared: &Shared,
    request: Request<SubmitProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    let run = async {
        let (context, tenant) = caller(&request)?;
        require_supervisor(&context)?;
        let request = request.into_inner();
        let now = shared.now();
        let txn = shared.begin(tenant).await?;
        let (mut proposal, mut complaint) =
            proposal_for_change(&txn, tenant, &request.name, &request.etag).await?;
        let matrix = directory::approval_matrix(&txn, tenant).await?;
        let total = proposal.total_amount.clone().unwrap_or_default();
        let required = approval::required_level(matrix.as_ref(), &total);
        let actor = actor_of(&txn, tenant, &context).await?;
        let from = rules::stage(&complaint);
        rules::submit_proposal(&mut complaint, &mut proposal, required, now)?;
        store::save_proposal(&txn, tenant, &mut proposal).await?;
        let event = ProposalSubmitted {
            proposal: proposal.name.clone(),
            complaint: complaint.name.clone(),
            round: proposal.round,
            remedy_types: proposal
                .remedies
                .iter()
                .map(|remedy| remedy.r#type)
                .collect(),
            total_amount: proposal.total_amount.clone(),
            required_approval_level: proposal.required_approval_level,
            submitted_by: Some(actor.clone()),
        };
        append_event(&txn, tenant, complaint.name.clone(), &event, now).await?;
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(proposal)
    };
    Ok(Response::new(run.await?))
}

/// `ApproveProposal`.
pub(in crate::api) async fn approve_proposal(
    shared: &Shared,
    request: Request<ApproveProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    let (name, etag, comment) = {
        let inner = request.get_ref();
        (
            inner.name.clone(),
            inner.etag.clone(),
            inner.comment.clone(),
        )
    };
    Ok(Response::new(
        decide(shared, &request, &name, &etag, &comment, true).await?,
    ))
}

/// `RejectProposal`.
pub(in crate::api) async fn reject_proposal(
    shared: &Shared,
    request: Request<RejectProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    let (name, etag, comment) = {
        let inner = request.get_ref();
        (
            inner.name.clone(),
            inner.etag.clone(),
            inner.comment.clone(),
        )
    };
    Ok(Response::new(
        decide(shared, &request, &name, &etag, &comment, false).await?,
    ))
}

/// Approves or rejects a pending proposal when the caller's approval level
/// covers it; nothing is recorded otherwise.
async fn decide<T>(
    shared: &Shared,
    request: &Request<T>,
    name: &str,
    etag: &str,
    comment: &str,
    approve: bool,
) -> Result<Proposal> {
    let (context, tenant) = caller(request)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (mut proposal, mut complaint) = proposal_for_change(&txn, tenant, name, etag).await?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let approver = Approver {
        name: &actor.name,
        display_name: &actor.display_name,
        level: context.principal.approval_level,
    };
    let from = rules::stage(&complaint);
    rules::decide(
        &mut complaint,
        &mut proposal,
        &approver,
        approve,
        comment,
        now,
    )?;
    store::save_proposal(&txn, tenant, &mut proposal).await?;
    let approver_level = ApprovalLevel::try_from(context.principal.approval_level)
        .unwrap_or(ApprovalLevel::Unspecified) as i32;
    if approve {
        let event = ProposalApproved {
            proposal: proposal.name.clone(),
            complaint: complaint.name.clone(),
            round: proposal.round,
            total_amount: proposal.total_amount.clone(),
            required_approval_level: proposal.required_approval_level,
            approver: actor.name.clone(),
            approver_level,
            comment: comment.to_owned(),
        };
        append_event(&txn, tenant, complaint.name.clone(), &event, now).await?;
    } else {
        let event = ProposalRejected {
            proposal: proposal.name.clone(),
            complaint: complaint.name.clone(),
            round: proposal.round,
            total_amount: proposal.total_amount.clone(),
            approver: actor.name.clone(),
            approver_level,
            comment: comment.to_owned(),
        };
        append_event(&txn, tenant, complaint.name.clone(), &event, now).await?;
    }
    save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
    shared.commit(txn).await?;
    Ok(proposal)
}
