//! The complaint workflow (投诉处理流程): register, judge, investigate, propose, approve by amount, execute, summarize.

use kefu_proto::v1::{
    ApproveProposalRequest, CloseComplaintRequest, Complaint, CompletePreventiveActionRequest,
    CreateProposalRequest, EscalateComplaintRequest, GetComplaintRequest, GetProposalRequest,
    JudgeComplaintRequest, ListComplaintsRequest, ListComplaintsResponse,
    ListOverdueComplaintsRequest, ListOverdueComplaintsResponse, ListProposalsRequest,
    ListProposalsResponse, Proposal, RecordExecutionRequest, RecordInvestigationRequest,
    RegisterComplaintRequest, RejectProposalRequest, StartInvestigationRequest,
    StartNewRoundRequest, SubmitProposalRequest, SummarizeComplaintRequest, UpdateComplaintRequest,
    UpdateProposalRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// `RegisterComplaint`: not built yet.
pub(super) async fn register_complaint(
    _shared: &Shared,
    _request: Request<RegisterComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("RegisterComplaint is not built yet"))
}

/// `GetComplaint`: not built yet.
pub(super) async fn get_complaint(
    _shared: &Shared,
    _request: Request<GetComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("GetComplaint is not built yet"))
}

/// `ListComplaints`: not built yet.
pub(super) async fn list_complaints(
    _shared: &Shared,
    _request: Request<ListComplaintsRequest>,
) -> Result<Response<ListComplaintsResponse>, Status> {
    Err(Status::unimplemented("ListComplaints is not built yet"))
}

/// `UpdateComplaint`: not built yet.
pub(super) async fn update_complaint(
    _shared: &Shared,
    _request: Request<UpdateComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("UpdateComplaint is not built yet"))
}

/// `JudgeComplaint`: not built yet.
pub(super) async fn judge_complaint(
    _shared: &Shared,
    _request: Request<JudgeComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("JudgeComplaint is not built yet"))
}

/// `StartInvestigation`: not built yet.
pub(super) async fn start_investigation(
    _shared: &Shared,
    _request: Request<StartInvestigationRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("StartInvestigation is not built yet"))
}

/// `RecordInvestigation`: not built yet.
pub(super) async fn record_investigation(
    _shared: &Shared,
    _request: Request<RecordInvestigationRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented(
        "RecordInvestigation is not built yet",
    ))
}

/// `CreateProposal`: not built yet.
pub(super) async fn create_proposal(
    _shared: &Shared,
    _request: Request<CreateProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    Err(Status::unimplemented("CreateProposal is not built yet"))
}

/// `GetProposal`: not built yet.
pub(super) async fn get_proposal(
    _shared: &Shared,
    _request: Request<GetProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    Err(Status::unimplemented("GetProposal is not built yet"))
}

/// `ListProposals`: not built yet.
pub(super) async fn list_proposals(
    _shared: &Shared,
    _request: Request<ListProposalsRequest>,
) -> Result<Response<ListProposalsResponse>, Status> {
    Err(Status::unimplemented("ListProposals is not built yet"))
}

/// `UpdateProposal`: not built yet.
pub(super) async fn update_proposal(
    _shared: &Shared,
    _request: Request<UpdateProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    Err(Status::unimplemented("UpdateProposal is not built yet"))
}

/// `SubmitProposal`: not built yet.
pub(super) async fn submit_proposal(
    _shared: &Shared,
    _request: Request<SubmitProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    Err(Status::unimplemented("SubmitProposal is not built yet"))
}

/// `ApproveProposal`: not built yet.
pub(super) async fn approve_proposal(
    _shared: &Shared,
    _request: Request<ApproveProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    Err(Status::unimplemented("ApproveProposal is not built yet"))
}

/// `RejectProposal`: not built yet.
pub(super) async fn reject_proposal(
    _shared: &Shared,
    _request: Request<RejectProposalRequest>,
) -> Result<Response<Proposal>, Status> {
    Err(Status::unimplemented("RejectProposal is not built yet"))
}

/// `RecordExecution`: not built yet.
pub(super) async fn record_execution(
    _shared: &Shared,
    _request: Request<RecordExecutionRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("RecordExecution is not built yet"))
}

/// `StartNewRound`: not built yet.
pub(super) async fn start_new_round(
    _shared: &Shared,
    _request: Request<StartNewRoundRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("StartNewRound is not built yet"))
}

/// `SummarizeComplaint`: not built yet.
pub(super) async fn summarize_complaint(
    _shared: &Shared,
    _request: Request<SummarizeComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("SummarizeComplaint is not built yet"))
}

/// `CloseComplaint`: not built yet.
pub(super) async fn close_complaint(
    _shared: &Shared,
    _request: Request<CloseComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("CloseComplaint is not built yet"))
}

/// `CompletePreventiveAction`: not built yet.
pub(super) async fn complete_preventive_action(
    _shared: &Shared,
    _request: Request<CompletePreventiveActionRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented(
        "CompletePreventiveAction is not built yet",
    ))
}

/// `EscalateComplaint`: not built yet.
pub(super) async fn escalate_complaint(
    _shared: &Shared,
    _request: Request<EscalateComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    Err(Status::unimplemented("EscalateComplaint is not built yet"))
}

/// `ListOverdueComplaints`: not built yet.
pub(super) async fn list_overdue_complaints(
    _shared: &Shared,
    _request: Request<ListOverdueComplaintsRequest>,
) -> Result<Response<ListOverdueComplaintsResponse>, Status> {
    Err(Status::unimplemented(
        "ListOverdueComplaints is not built yet",
    ))
}
