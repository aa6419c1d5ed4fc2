//! The tenant's ticket taxonomy: kinds, the category tree and custom-field definitions.

use kefu_proto::v1::{
    CreateTicketCategoryRequest, CreateTicketFieldDefinitionRequest, CreateTicketKindRequest,
    DeleteTicketCategoryRequest, DeleteTicketFieldDefinitionRequest, DeleteTicketKindRequest,
    GetTicketCategoryRequest, GetTicketFieldDefinitionRequest, GetTicketKindRequest,
    ListTicketCategoriesRequest, ListTicketCategoriesResponse, ListTicketFieldDefinitionsRequest,
    ListTicketFieldDefinitionsResponse, ListTicketKindsRequest, ListTicketKindsResponse,
    TicketCategory, TicketFieldDefinition, TicketKind, UpdateTicketCategoryRequest,
    UpdateTicketFieldDefinitionRequest, UpdateTicketKindRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// `CreateTicketKind`: not built yet.
pub(super) async fn create_ticket_kind(
    _shared: &Shared,
    _request: Request<CreateTicketKindRequest>,
) -> Result<Response<TicketKind>, Status> {
    Err(Status::unimplemented("CreateTicketKind is not built yet"))
}

/// `GetTicketKind`: not built yet.
pub(super) async fn get_ticket_kind(
    _shared: &Shared,
    _request: Request<GetTicketKindRequest>,
) -> Result<Response<TicketKind>, Status> {
    Err(Status::unimplemented("GetTicketKind is not built yet"))
}

/// `ListTicketKinds`: not built yet.
pub(super) async fn list_ticket_kinds(
    _shared: &Shared,
    _request: Request<ListTicketKindsRequest>,
) -> Result<Response<ListTicketKindsResponse>, Status> {
    Err(Status::unimplemented("ListTicketKinds is not built yet"))
}

/// `UpdateTicketKind`: not built yet.
pub(super) async fn update_ticket_kind(
    _shared: &Shared,
    _request: Request<UpdateTicketKindRequest>,
) -> Result<Response<TicketKind>, Status> {
    Err(Status::unimplemented("UpdateTicketKind is not built yet"))
}

/// `DeleteTicketKind`: not built yet.
pub(super) async fn delete_ticket_kind(
    _shared: &Shared,
    _request: Request<DeleteTicketKindRequest>,
) -> Result<Response<()>, Status> {
    Err(Status::unimplemented("DeleteTicketKind is not built yet"))
}

/// `CreateTicketCategory`: not built yet.
pub(super) async fn create_ticket_category(
    _shared: &Shared,
    _request: Request<CreateTicketCategoryRequest>,
) -> Result<Response<TicketCategory>, Status> {
    Err(Status::unimplemented(
        "CreateTicketCategory is not built yet",
    ))
}

/// `GetTicketCategory`: not built yet.
pub(super) async fn get_ticket_category(
    _shared: &Shared,
    _request: Request<GetTicketCategoryRequest>,
) -> Result<Response<TicketCategory>, Status> {
    Err(Status::unimplemented("GetTicketCategory is not built yet"))
}

/// `ListTicketCategories`: not built yet.
pub(super) async fn list_ticket_categories(
    _shared: &Shared,
    _request: Request<ListTicketCategoriesRequest>,
) -> Result<Response<ListTicketCategoriesResponse>, Status> {
    Err(Status::unimplemented(
        "ListTicketCategories is not built yet",
    ))
}

/// `UpdateTicketCategory`: not built yet.
pub(super) async fn update_ticket_category(
    _shared: &Shared,
    _request: Request<UpdateTicketCategoryRequest>,
) -> Result<Response<TicketCategory>, Status> {
    Err(Status::unimplemented(
        "UpdateTicketCategory is not built yet",
    ))
}

/// `DeleteTicketCategory`: not built yet.
pub(super) async fn delete_ticket_category(
    _shared: &Shared,
    _request: Request<DeleteTicketCategoryRequest>,
) -> Result<Response<()>, Status> {
    Err(Status::unimplemented(
        "DeleteTicketCategory is not built yet",
    ))
}

/// `CreateTicketFieldDefinition`: not built yet.
pub(super) async fn create_ticket_field_definition(
    _shared: &Shared,
    _request: Request<CreateTicketFieldDefinitionRequest>,
) -> Result<Response<TicketFieldDefinition>, Status> {
    Err(Status::unimplemented(
        "CreateTicketFieldDefinition is not built yet",
    ))
}

/// `GetTicketFieldDefinition`: not built yet.
pub(super) async fn get_ticket_field_definition(
    _shared: &Shared,
    _request: Request<GetTicketFieldDefinitionRequest>,
) -> Result<Response<TicketFieldDefinition>, Status> {
    Err(Status::unimplemented(
        "GetTicketFieldDefinition is not built yet",
    ))
}

/// `ListTicketFieldDefinitions`: not built yet.
pub(super) async fn list_ticket_field_definitions(
    _shared: &Shared,
    _request: Request<ListTicketFieldDefinitionsRequest>,
) -> Result<Response<ListTicketFieldDefinitionsResponse>, Status> {
    Err(Status::unimplemented(
        "ListTicketFieldDefinitions is not built yet",
    ))
}

/// `UpdateTicketFieldDefinition`: not built yet.
pub(super) async fn update_ticket_field_definition(
    _shared: &Shared,
    _request: Request<UpdateTicketFieldDefinitionRequest>,
) -> Result<Response<TicketFieldDefinition>, Status> {
    Err(Status::unimplemented(
        "UpdateTicketFieldDefinition is not built yet",
    ))
}

/// `DeleteTicketFieldDefinition`: not built yet.
pub(super) async fn delete_ticket_field_definition(
    _shared: &Shared,
    _request: Request<DeleteTicketFieldDefinitionRequest>,
) -> Result<Response<()>, Status> {
    Err(Status::unimplemented(
        "DeleteTicketFieldDefinition is not built yet",
    ))
}
