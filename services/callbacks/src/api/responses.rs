//! Survey responses: recording answers, the follow-up of a negative one.
//!
//! Until written, each method answers UNIMPLEMENTED.

use kefu_proto::v1::{
    GetSurveyResponseRequest, ListSurveyResponsesRequest, ListSurveyResponsesResponse,
    SubmitSurveyResponseRequest, SurveyResponse,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// SubmitSurveyResponse.
pub(super) async fn submit_survey_response(
    _shared: &Shared,
    _request: Request<SubmitSurveyResponseRequest>,
) -> Result<Response<SurveyResponse>, Status> {
    Err(Status::unimplemented(
        "SubmitSurveyResponse is not written yet",
    ))
}

/// GetSurveyResponse.
pub(super) async fn get_survey_response(
    _shared: &Shared,
    _request: Request<GetSurveyResponseRequest>,
) -> Result<Response<SurveyResponse>, Status> {
    Err(Status::unimplemented(
        "GetSurveyResponse is not written yet",
    ))
}

/// ListSurveyResponses.
pub(super) async fn list_survey_responses(
    _shared: &Shared,
    _request: Request<ListSurveyResponsesRequest>,
) -> Result<Response<ListSurveyResponsesResponse>, Status> {
    Err(Status::unimplemented(
        "ListSurveyResponses is not written yet",
    ))
}
