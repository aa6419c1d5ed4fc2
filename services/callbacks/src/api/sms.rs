//! The SMS channel: surveys sent as messages and the customers' replies.
//!
//! Until written, each method answers UNIMPLEMENTED.

use kefu_proto::v1::{
    CallbackAttempt, RecordSmsSurveyReplyRequest, RecordSmsSurveyReplyResponse,
    SendSurveyBySmsRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// SendSurveyBySms.
pub(super) async fn send_survey_by_sms(
    _shared: &Shared,
    _request: Request<SendSurveyBySmsRequest>,
) -> Result<Response<CallbackAttempt>, Status> {
    Err(Status::unimplemented("SendSurveyBySms is not written yet"))
}

/// RecordSmsSurveyReply.
pub(super) async fn record_sms_survey_reply(
    _shared: &Shared,
    _request: Request<RecordSmsSurveyReplyRequest>,
) -> Result<Response<RecordSmsSurveyReplyResponse>, Status> {
    Err(Status::unimplemented(
        "RecordSmsSurveyReply is not written yet",
    ))
}
