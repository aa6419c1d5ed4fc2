//! Surveys (满意度调查): CRUD and dimension rules.
//!
//! Until written, each method answers UNIMPLEMENTED.

use kefu_proto::v1::{
    CreateSurveyRequest, DeleteSurveyRequest, GetSurveyRequest, ListSurveysRequest,
    ListSurveysResponse, Survey, UpdateSurveyRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// CreateSurvey.
pub(super) async fn create_survey(
    _shared: &Shared,
    _request: Request<CreateSurveyRequest>,
) -> Result<Response<Survey>, Status> {
    Err(Status::unimplemented("CreateSurvey is not written yet"))
}

/// GetSurvey.
pub(super) async fn get_survey(
    _shared: &Shared,
    _request: Request<GetSurveyRequest>,
) -> Result<Response<Survey>, Status> {
    Err(Status::unimplemented("GetSurvey is not written yet"))
}

/// ListSurveys.
pub(super) async fn list_surveys(
    _shared: &Shared,
    _request: Request<ListSurveysRequest>,
) -> Result<Response<ListSurveysResponse>, Status> {
    Err(Status::unimplemented("ListSurveys is not written yet"))
}

/// UpdateSurvey.
pub(super) async fn update_survey(
    _shared: &Shared,
    _request: Request<UpdateSurveyRequest>,
) -> Result<Response<Survey>, Status> {
    Err(Status::unimplemented("UpdateSurvey is not written yet"))
}

/// DeleteSurvey.
pub(super) async fn delete_survey(
    _shared: &Shared,
    _request: Request<DeleteSurveyRequest>,
) -> Result<Response<()>, Status> {
    Err(Status::unimplemented("DeleteSurvey is not written yet"))
}
