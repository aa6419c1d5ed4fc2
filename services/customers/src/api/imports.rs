//! CSV imports, processed in the background.

use kefu_proto::v1::{
    CancelCustomerImportRequest, CreateCustomerImportRequest, CustomerImport,
    GetCustomerImportRequest, ListCustomerImportErrorsRequest, ListCustomerImportErrorsResponse,
    ListCustomerImportsRequest, ListCustomerImportsResponse,
};
use tonic::{Request, Response, Status, Streaming};

use super::Shared;

/// CreateCustomerImport.
pub(super) async fn create_customer_import(
    _shared: &Shared,
    _request: Request<Streaming<CreateCustomerImportRequest>>,
) -> Result<Response<CustomerImport>, Status> {
    Err(Status::unimplemented(
        "CreateCustomerImport is not built yet",
    ))
}

/// GetCustomerImport.
pub(super) async fn get_customer_import(
    _shared: &Shared,
    _request: Request<GetCustomerImportRequest>,
) -> Result<Response<CustomerImport>, Status> {
    Err(Status::unimplemented("GetCustomerImport is not built yet"))
}

/// ListCustomerImports.
pub(super) async fn list_customer_imports(
    _shared: &Shared,
    _request: Request<ListCustomerImportsRequest>,
) -> Result<Response<ListCustomerImportsResponse>, Status> {
    Err(Status::unimplemented(
        "ListCustomerImports is not built yet",
    ))
}

/// CancelCustomerImport.
pub(super) async fn cancel_customer_import(
    _shared: &Shared,
    _request: Request<CancelCustomerImportRequest>,
) -> Result<Response<CustomerImport>, Status> {
    Err(Status::unimplemented(
        "CancelCustomerImport is not built yet",
    ))
}

/// ListCustomerImportErrors.
pub(super) async fn list_customer_import_errors(
    _shared: &Shared,
    _request: Request<ListCustomerImportErrorsRequest>,
) -> Result<Response<ListCustomerImportErrorsResponse>, Status> {
    Err(Status::unimplemented(
        "ListCustomerImportErrors is not built yet",
    ))
}
