//! The tenant's custom attribute schema.

use kefu_proto::v1::{
    CustomerAttributeSchema, GetCustomerAttributeSchemaRequest,
    UpdateCustomerAttributeSchemaRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// GetCustomerAttributeSchema.
pub(super) async fn get_customer_attribute_schema(
    _shared: &Shared,
    _request: Request<GetCustomerAttributeSchemaRequest>,
) -> Result<Response<CustomerAttributeSchema>, Status> {
    Err(Status::unimplemented(
        "GetCustomerAttributeSchema is not built yet",
    ))
}

/// UpdateCustomerAttributeSchema.
pub(super) async fn update_customer_attribute_schema(
    _shared: &Shared,
    _request: Request<UpdateCustomerAttributeSchemaRequest>,
) -> Result<Response<CustomerAttributeSchema>, Status> {
    Err(Status::unimplemented(
        "UpdateCustomerAttributeSchema is not built yet",
    ))
}
