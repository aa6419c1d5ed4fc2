//! Streaming export as CSV or JSON lines.

use kefu_proto::v1::ExportCustomersRequest;
use tonic::{Request, Response, Status};

use super::{ExportStream, Shared};

/// ExportCustomers.
pub(super) async fn export_customers(
    _shared: &Shared,
    _request: Request<ExportCustomersRequest>,
) -> Result<Response<ExportStream>, Status> {
    Err(Status::unimplemented("ExportCustomers is not built yet"))
}
