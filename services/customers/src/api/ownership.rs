//! Owner agents (专属客服): assignment, balancing, history, first contact.

use kefu_proto::v1::{
    AssignCustomerOwnerRequest, AutoAssignCustomersRequest, AutoAssignCustomersResponse, Customer,
    ListOverdueFirstContactsRequest, ListOverdueFirstContactsResponse, ListOwnershipHistoryRequest,
    ListOwnershipHistoryResponse, ReassignCustomersRequest, ReassignCustomersResponse,
    RecordFirstContactRequest,
};
use tonic::{Request, Response, Status};

use super::Shared;

/// AssignCustomerOwner.
pub(super) async fn assign_customer_owner(
    _shared: &Shared,
    _request: Request<AssignCustomerOwnerRequest>,
) -> Result<Response<Customer>, Status> {
    Err(Status::unimplemented(
        "AssignCustomerOwner is not built yet",
    ))
}

/// AutoAssignCustomers.
pub(super) async fn auto_assign_customers(
    _shared: &Shared,
    _request: Request<AutoAssignCustomersRequest>,
) -> Result<Response<AutoAssignCustomersResponse>, Status> {
    Err(Status::unimplemented(
        "AutoAssignCustomers is not built yet",
    ))
}

/// ReassignCustomers.
pub(super) async fn reassign_customers(
    _shared: &Shared,
    _request: Request<ReassignCustomersRequest>,
) -> Result<Response<ReassignCustomersResponse>, Status> {
    Err(Status::unimplemented("ReassignCustomers is not built yet"))
}

/// ListOwnershipHistory.
pub(super) async fn list_ownership_history(
    _shared: &Shared,
    _request: Request<ListOwnershipHistoryRequest>,
) -> Result<Response<ListOwnershipHistoryResponse>, Status> {
    Err(Status::unimplemented(
        "ListOwnershipHistory is not built yet",
    ))
}

/// ListOverdueFirstContacts.
pub(super) async fn list_overdue_first_contacts(
    _shared: &Shared,
    _request: Request<ListOverdueFirstContactsRequest>,
) -> Result<Response<ListOverdueFirstContactsResponse>, Status> {
    Err(Status::unimplemented(
        "ListOverdueFirstContacts is not built yet",
    ))
}

/// RecordFirstContact.
pub(super) async fn record_first_contact(
    _shared: &Shared,
    _request: Request<RecordFirstContactRequest>,
) -> Result<Response<Customer>, Status> {
    Err(Status::unimplemented("RecordFirstContact is not built yet"))
}
