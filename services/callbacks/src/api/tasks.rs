//! Callback tasks: the queues, creation by hand, reassignment, cancellation.
//!
//! Until written, each method answers UNIMPLEMENTED.

use kefu_proto::v1::{
    CallbackTask, CancelCallbackTaskRequest, CreateCallbackTaskRequest, GetCallbackTaskRequest,
    ListCallbackTasksRequest, ListCallbackTasksResponse, ReassignCallbackTaskRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// ListCallbackTasks.
pub(super) async fn list_callback_tasks(
    _shared: &Shared,
    _request: Request<ListCallbackTasksRequest>,
) -> Result<Response<ListCallbackTasksResponse>, Status> {
    Err(Status::unimplemented(
        "ListCallbackTasks is not written yet",
    ))
}

/// GetCallbackTask.
pub(super) async fn get_callback_task(
    _shared: &Shared,
    _request: Request<GetCallbackTaskRequest>,
) -> Result<Response<CallbackTask>, Status> {
    Err(Status::unimplemented("GetCallbackTask is not written yet"))
}

/// CreateCallbackTask.
pub(super) async fn create_callback_task(
    _shared: &Shared,
    _request: Request<CreateCallbackTaskRequest>,
) -> Result<Response<CallbackTask>, Status> {
    Err(Status::unimplemented(
        "CreateCallbackTask is not written yet",
    ))
}

/// ReassignCallbackTask.
pub(super) async fn reassign_callback_task(
    _shared: &Shared,
    _request: Request<ReassignCallbackTaskRequest>,
) -> Result<Response<CallbackTask>, Status> {
    Err(Status::unimplemented(
        "ReassignCallbackTask is not written yet",
    ))
}

/// CancelCallbackTask.
pub(super) async fn cancel_callback_task(
    _shared: &Shared,
    _request: Request<CancelCallbackTaskRequest>,
) -> Result<Response<CallbackTask>, Status> {
    Err(Status::unimplemented(
        "CancelCallbackTask is not written yet",
    ))
}

/// Schedules the task `trigger` owes, in `txn`: the due window from the
/// policy (out of quiet hours, holidays and the customer's do-not-disturb),
/// the assignee by the policy's assignment, CallbackTaskScheduled and
/// CallbackTaskAssigned in the outbox. None when the policy already has a
/// task for the trigger's event id (nothing written).
pub(crate) async fn schedule(
    _txn: &sea_orm::DatabaseTransaction,
    _tenant: kefu_kit::context::TenantId,
    _trigger: crate::domain::task::Trigger,
    _now: chrono::DateTime<chrono::Utc>,
) -> crate::error::Result<Option<kefu_proto::v1::CallbackTask>> {
    Err(crate::error::CallbacksError::Internal(
        "scheduling is not written yet".into(),
    ))
}
