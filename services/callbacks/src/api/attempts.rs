//! Attempts and outcomes (回访记录): starting a call, recording its outcome.
//!
//! Until written, each method answers UNIMPLEMENTED.

use kefu_proto::v1::{
    CallbackAttempt, CallbackTask, GetCallbackAttemptRequest, ListCallbackAttemptsRequest,
    ListCallbackAttemptsResponse, RecordCallbackOutcomeRequest, StartCallbackAttemptRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// StartCallbackAttempt.
pub(super) async fn start_callback_attempt(
    _shared: &Shared,
    _request: Request<StartCallbackAttemptRequest>,
) -> Result<Response<CallbackAttempt>, Status> {
    Err(Status::unimplemented(
        "StartCallbackAttempt is not written yet",
    ))
}

/// RecordCallbackOutcome.
pub(super) async fn record_callback_outcome(
    _shared: &Shared,
    _request: Request<RecordCallbackOutcomeRequest>,
) -> Result<Response<CallbackTask>, Status> {
    Err(Status::unimplemented(
        "RecordCallbackOutcome is not written yet",
    ))
}

/// GetCallbackAttempt.
pub(super) async fn get_callback_attempt(
    _shared: &Shared,
    _request: Request<GetCallbackAttemptRequest>,
) -> Result<Response<CallbackAttempt>, Status> {
    Err(Status::unimplemented(
        "GetCallbackAttempt is not written yet",
    ))
}

/// ListCallbackAttempts.
pub(super) async fn list_callback_attempts(
    _shared: &Shared,
    _request: Request<ListCallbackAttemptsRequest>,
) -> Result<Response<ListCallbackAttemptsResponse>, Status> {
    Err(Status::unimplemented(
        "ListCallbackAttempts is not written yet",
    ))
}
