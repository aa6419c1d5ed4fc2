//! Saved segments (客户分群) and their members.

use kefu_proto::v1::{
    CreateSegmentRequest, DeleteSegmentRequest, GetSegmentRequest, ListSegmentMembersRequest,
    ListSegmentMembersResponse, ListSegmentsRequest, ListSegmentsResponse, PreviewSegmentRequest,
    PreviewSegmentResponse, Segment, UpdateSegmentRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// CreateSegment.
pub(super) async fn create_segment(
    _shared: &Shared,
    _request: Request<CreateSegmentRequest>,
) -> Result<Response<Segment>, Status> {
    Err(Status::unimplemented("CreateSegment is not built yet"))
}

/// GetSegment.
pub(super) async fn get_segment(
    _shared: &Shared,
    _request: Request<GetSegmentRequest>,
) -> Result<Response<Segment>, Status> {
    Err(Status::unimplemented("GetSegment is not built yet"))
}

/// ListSegments.
pub(super) async fn list_segments(
    _shared: &Shared,
    _request: Request<ListSegmentsRequest>,
) -> Result<Response<ListSegmentsResponse>, Status> {
    Err(Status::unimplemented("ListSegments is not built yet"))
}

/// UpdateSegment.
pub(super) async fn update_segment(
    _shared: &Shared,
    _request: Request<UpdateSegmentRequest>,
) -> Result<Response<Segment>, Status> {
    Err(Status::unimplemented("UpdateSegment is not built yet"))
}

/// DeleteSegment.
pub(super) async fn delete_segment(
    _shared: &Shared,
    _request: Request<DeleteSegmentRequest>,
) -> Result<Response<()>, Status> {
    Err(Status::unimplemented("DeleteSegment is not built yet"))
}

/// ListSegmentMembers.
pub(super) async fn list_segment_members(
    _shared: &Shared,
    _request: Request<ListSegmentMembersRequest>,
) -> Result<Response<ListSegmentMembersResponse>, Status> {
    Err(Status::unimplemented("ListSegmentMembers is not built yet"))
}

/// PreviewSegment.
pub(super) async fn preview_segment(
    _shared: &Shared,
    _request: Request<PreviewSegmentRequest>,
) -> Result<Response<PreviewSegmentResponse>, Status> {
    Err(Status::unimplemented("PreviewSegment is not built yet"))
}
