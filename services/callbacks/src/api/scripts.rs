//! Scripts (话术): CRUD, template validation, rendering for a task.
//!
//! Until written, each method answers UNIMPLEMENTED.

use kefu_proto::v1::{
    CallbackScript, CreateCallbackScriptRequest, DeleteCallbackScriptRequest,
    GetCallbackScriptRequest, ListCallbackScriptsRequest, ListCallbackScriptsResponse,
    RenderCallbackScriptRequest, RenderedCallbackScript, UpdateCallbackScriptRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// CreateCallbackScript.
pub(super) async fn create_callback_script(
    _shared: &Shared,
    _request: Request<CreateCallbackScriptRequest>,
) -> Result<Response<CallbackScript>, Status> {
    Err(Status::unimplemented(
        "CreateCallbackScript is not written yet",
    ))
}

/// GetCallbackScript.
pub(super) async fn get_callback_script(
    _shared: &Shared,
    _request: Request<GetCallbackScriptRequest>,
) -> Result<Response<CallbackScript>, Status> {
    Err(Status::unimplemented(
        "GetCallbackScript is not written yet",
    ))
}

/// ListCallbackScripts.
pub(super) async fn list_callback_scripts(
    _shared: &Shared,
    _request: Request<ListCallbackScriptsRequest>,
) -> Result<Response<ListCallbackScriptsResponse>, Status> {
    Err(Status::unimplemented(
        "ListCallbackScripts is not written yet",
    ))
}

/// UpdateCallbackScript.
pub(super) async fn update_callback_script(
    _shared: &Shared,
    _request: Request<UpdateCallbackScriptRequest>,
) -> Result<Response<CallbackScript>, Status> {
    Err(Status::unimplemented(
        "UpdateCallbackScript is not written yet",
    ))
}

/// DeleteCallbackScript.
pub(super) async fn delete_callback_script(
    _shared: &Shared,
    _request: Request<DeleteCallbackScriptRequest>,
) -> Result<Response<()>, Status> {
    Err(Status::unimplemented(
        "DeleteCallbackScript is not written yet",
    ))
}

/// RenderCallbackScript.
pub(super) async fn render_callback_script(
    _shared: &Shared,
    _request: Request<RenderCallbackScriptRequest>,
) -> Result<Response<RenderedCallbackScript>, Status> {
    Err(Status::unimplemented(
        "RenderCallbackScript is not written yet",
    ))
}
