//! gRPC handlers of the customers service: they read the caller from the
//! internal credential, open the transaction for the caller's tenant, let
//! `domain` decide and `store` persist, and append the events to the outbox
//! in the same transaction. One module per part of the contract.

pub(crate) mod activities;
mod classify;
mod erasure;
mod export;
mod imports;
mod listing;
mod merges;
pub(crate) mod ownership;
mod records;
mod schema;
mod segments;
mod tiers;

use chrono::{DateTime, Utc};
use kefu_kit::{
    auth::InternalAuth,
    context::{CallContext, PrincipalKind, TenantId},
    events::new_event,
    outbox,
    service::ServiceContext,
};
use kefu_proto::v1::{
    AssignCustomerOwnerRequest, AutoAssignCustomersRequest, AutoAssignCustomersResponse,
    CancelCustomerImportRequest, CreateCustomerImportRequest, CreateCustomerRequest,
    CreateSegmentRequest, CreateTierRequest, Customer, CustomerAttributeSchema, CustomerImport,
    CustomerMerge, DeleteCustomerRequest, DeleteSegmentRequest, DeleteTierRequest,
    EraseCustomerRequest, ErasureRecord, ExportCustomersChunk, ExportCustomersRequest,
    FindDuplicateCustomersRequest, FindDuplicateCustomersResponse,
    GetCustomerAttributeSchemaRequest, GetCustomerImportRequest, GetCustomerMergeRequest,
    GetCustomerRequest, GetErasureRecordRequest, GetSegmentRequest, GetTierRequest,
    ListCustomerActivitiesRequest, ListCustomerActivitiesResponse, ListCustomerImportErrorsRequest,
    ListCustomerImportErrorsResponse, ListCustomerImportsRequest, ListCustomerImportsResponse,
    ListCustomerMergesRequest, ListCustomerMergesResponse, ListCustomersRequest,
    ListCustomersResponse, ListErasureRecordsRequest, ListErasureRecordsResponse,
    ListOverdueFirstContactsRequest, ListOverdueFirstContactsResponse, ListOwnershipHistoryRequest,
    ListOwnershipHistoryResponse, ListSegmentMembersRequest, ListSegmentMembersResponse,
    ListSegmentsRequest, ListSegmentsResponse, ListTiersRequest, ListTiersResponse,
    MergeCustomersRequest, PreviewSegmentRequest, PreviewSegmentResponse, ReassignCustomersRequest,
    ReassignCustomersResponse, RecordFirstContactRequest, SearchCustomersRequest,
    SearchCustomersResponse, Segment, Tier, UndoCustomerMergeRequest,
    UpdateCustomerAttributeSchemaRequest, UpdateCustomerRequest, UpdateSegmentRequest,
    UpdateTierRequest,
    customer_service_server::{CustomerService, CustomerServiceServer},
};
use prost::{Message, Name};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status, Streaming, service::RoutesBuilder};

use crate::{
    NAME,
    error::{CustomersError, Result},
};

/// The stream ExportCustomers answers with.
pub type ExportStream = tonic::codegen::BoxStream<ExportCustomersChunk>;

/// What the handlers share: the service's database, outbox signal and
/// clock, with the tenant-scoped transactions they open.
pub type Shared = ServiceContext;

/// Adds every gRPC service of this target, each behind `auth`.
pub fn add_routes(routes: &mut RoutesBuilder, auth: &InternalAuth, shared: Shared) {
    // Resumes imports a previous run left unfinished, then keeps sweeping.
    imports::spawn_worker(shared.clone());
    routes.add_service(CustomerServiceServer::with_interceptor(
        CustomerApi(shared),
        auth.clone(),
    ));
}

/// Appends the event `payload` about `subject` to the outbox, in `txn`.
async fn append_event<M: Message + Name>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    subject: impl Into<String>,
    payload: &M,
    now: DateTime<Utc>,
) -> Result<()> {
    let event = new_event(NAME, Some(tenant), subject, payload, now);
    Ok(outbox::append(txn, &event).await?)
}

/// A request's `field`, or INVALID_ARGUMENT naming it.
fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| CustomersError::invalid(field, format!("{field} is required")))
}

/// The caller of a request and its tenant: every method of this service
/// acts inside one tenant, as one of its users or keys.
fn caller<T>(request: &Request<T>) -> Result<(CallContext, TenantId)> {
    let context = kefu_kit::context::call_context(request)?.clone();
    match context.principal.kind {
        PrincipalKind::User | PrincipalKind::ApiKey | PrincipalKind::System => {
            let tenant = context.require_tenant()?;
            Ok((context, tenant))
        }
        _ => Err(CustomersError::PermissionDenied(
            "the customer archive is a tenant's: call as one of its users or keys".into(),
        )),
    }
}

/// The page size of a request, or INVALID_ARGUMENT naming `page_size`.
fn page_size(requested: i32) -> Result<usize> {
    kefu_kit::resource::page_size(requested)
        .ok_or_else(|| CustomersError::invalid("page_size", "page_size must not be negative"))
}

/// Handlers of `kefu.v1.CustomerService`.
#[derive(Clone)]
pub struct CustomerApi(Shared);

#[tonic::async_trait]
impl CustomerService for CustomerApi {
    async fn create_customer(
        &self,
        request: Request<CreateCustomerRequest>,
    ) -> Result<Response<Customer>, Status> {
        records::create_customer(&self.0, request).await
    }

    async fn get_customer(
        &self,
        request: Request<GetCustomerRequest>,
    ) -> Result<Response<Customer>, Status> {
        records::get_customer(&self.0, request).await
    }

    async fn list_customers(
        &self,
        request: Request<ListCustomersRequest>,
    ) -> Result<Response<ListCustomersResponse>, Status> {
        listing::list_customers(&self.0, request).await
    }

    async fn update_customer(
        &self,
        request: Request<UpdateCustomerRequest>,
    ) -> Result<Response<Customer>, Status> {
        records::update_customer(&self.0, request).await
    }

    async fn delete_customer(
        &self,
        request: Request<DeleteCustomerRequest>,
    ) -> Result<Response<()>, Status> {
        records::delete_customer(&self.0, request).await
    }

    async fn search_customers(
        &self,
        request: Request<SearchCustomersRequest>,
    ) -> Result<Response<SearchCustomersResponse>, Status> {
        records::search_customers(&self.0, request).await
    }

    async fn get_customer_attribute_schema(
        &self,
        request: Request<GetCustomerAttributeSchemaRequest>,
    ) -> Result<Response<CustomerAttributeSchema>, Status> {
        schema::get_customer_attribute_schema(&self.0, request).await
    }

    async fn update_customer_attribute_schema(
        &self,
        request: Request<UpdateCustomerAttributeSchemaRequest>,
    ) -> Result<Response<CustomerAttributeSchema>, Status> {
        schema::update_customer_attribute_schema(&self.0, request).await
    }

    async fn create_tier(
        &self,
        request: Request<CreateTierRequest>,
    ) -> Result<Response<Tier>, Status> {
        tiers::create_tier(&self.0, request).await
    }

    async fn get_tier(&self, request: Request<GetTierRequest>) -> Result<Response<Tier>, Status> {
        tiers::get_tier(&self.0, request).await
    }

    async fn list_tiers(
        &self,
        request: Request<ListTiersRequest>,
    ) -> Result<Response<ListTiersResponse>, Status> {
        tiers::list_tiers(&self.0, request).await
    }

    async fn update_tier(
        &self,
        request: Request<UpdateTierRequest>,
    ) -> Result<Response<Tier>, Status> {
        tiers::update_tier(&self.0, request).await
    }

    async fn delete_tier(
        &self,
        request: Request<DeleteTierRequest>,
    ) -> Result<Response<()>, Status> {
        tiers::delete_tier(&self.0, request).await
    }

    async fn create_segment(
        &self,
        request: Request<CreateSegmentRequest>,
    ) -> Result<Response<Segment>, Status> {
        segments::create_segment(&self.0, request).await
    }

    async fn get_segment(
        &self,
        request: Request<GetSegmentRequest>,
    ) -> Result<Response<Segment>, Status> {
        segments::get_segment(&self.0, request).await
    }

    async fn list_segments(
        &self,
        request: Request<ListSegmentsRequest>,
    ) -> Result<Response<ListSegmentsResponse>, Status> {
        segments::list_segments(&self.0, request).await
    }

    async fn update_segment(
        &self,
        request: Request<UpdateSegmentRequest>,
    ) -> Result<Response<Segment>, Status> {
        segments::update_segment(&self.0, request).await
    }

    async fn delete_segment(
        &self,
        request: Request<DeleteSegmentRequest>,
    ) -> Result<Response<()>, Status> {
        segments::delete_segment(&self.0, request).await
    }

    async fn list_segment_members(
        &self,
        request: Request<ListSegmentMembersRequest>,
    ) -> Result<Response<ListSegmentMembersResponse>, Status> {
        segments::list_segment_members(&self.0, request).await
    }

    async fn preview_segment(
        &self,
        request: Request<PreviewSegmentRequest>,
    ) -> Result<Response<PreviewSegmentResponse>, Status> {
        segments::preview_segment(&self.0, request).await
    }

    async fn assign_customer_owner(
        &self,
        request: Request<AssignCustomerOwnerRequest>,
    ) -> Result<Response<Customer>, Status> {
        ownership::assign_customer_owner(&self.0, request).await
    }

    async fn auto_assign_customers(
        &self,
        request: Request<AutoAssignCustomersRequest>,
    ) -> Result<Response<AutoAssignCustomersResponse>, Status> {
        ownership::auto_assign_customers(&self.0, request).await
    }

    async fn reassign_customers(
        &self,
        request: Request<ReassignCustomersRequest>,
    ) -> Result<Response<ReassignCustomersResponse>, Status> {
        ownership::reassign_customers(&self.0, request).await
    }

    async fn list_ownership_history(
        &self,
        request: Request<ListOwnershipHistoryRequest>,
    ) -> Result<Response<ListOwnershipHistoryResponse>, Status> {
        ownership::list_ownership_history(&self.0, request).await
    }

    async fn list_overdue_first_contacts(
        &self,
        request: Request<ListOverdueFirstContactsRequest>,
    ) -> Result<Response<ListOverdueFirstContactsResponse>, Status> {
        ownership::list_overdue_first_contacts(&self.0, request).await
    }

    async fn record_first_contact(
        &self,
        request: Request<RecordFirstContactRequest>,
    ) -> Result<Response<Customer>, Status> {
        ownership::record_first_contact(&self.0, request).await
    }

    async fn find_duplicate_customers(
        &self,
        request: Request<FindDuplicateCustomersRequest>,
    ) -> Result<Response<FindDuplicateCustomersResponse>, Status> {
        merges::find_duplicate_customers(&self.0, request).await
    }

    async fn merge_customers(
        &self,
        request: Request<MergeCustomersRequest>,
    ) -> Result<Response<CustomerMerge>, Status> {
        merges::merge_customers(&self.0, request).await
    }

    async fn get_customer_merge(
        &self,
        request: Request<GetCustomerMergeRequest>,
    ) -> Result<Response<CustomerMerge>, Status> {
        merges::get_customer_merge(&self.0, request).await
    }

    async fn list_customer_merges(
        &self,
        request: Request<ListCustomerMergesRequest>,
    ) -> Result<Response<ListCustomerMergesResponse>, Status> {
        merges::list_customer_merges(&self.0, request).await
    }

    async fn undo_customer_merge(
        &self,
        request: Request<UndoCustomerMergeRequest>,
    ) -> Result<Response<CustomerMerge>, Status> {
        merges::undo_customer_merge(&self.0, request).await
    }

    async fn list_customer_activities(
        &self,
        request: Request<ListCustomerActivitiesRequest>,
    ) -> Result<Response<ListCustomerActivitiesResponse>, Status> {
        activities::list_customer_activities(&self.0, request).await
    }

    async fn create_customer_import(
        &self,
        request: Request<Streaming<CreateCustomerImportRequest>>,
    ) -> Result<Response<CustomerImport>, Status> {
        imports::create_customer_import(&self.0, request).await
    }

    async fn get_customer_import(
        &self,
        request: Request<GetCustomerImportRequest>,
    ) -> Result<Response<CustomerImport>, Status> {
        imports::get_customer_import(&self.0, request).await
    }

    async fn list_customer_imports(
        &self,
        request: Request<ListCustomerImportsRequest>,
    ) -> Result<Response<ListCustomerImportsResponse>, Status> {
        imports::list_customer_imports(&self.0, request).await
    }

    async fn cancel_customer_import(
        &self,
        request: Request<CancelCustomerImportRequest>,
    ) -> Result<Response<CustomerImport>, Status> {
        imports::cancel_customer_import(&self.0, request).await
    }

    async fn list_customer_import_errors(
        &self,
        request: Request<ListCustomerImportErrorsRequest>,
    ) -> Result<Response<ListCustomerImportErrorsResponse>, Status> {
        imports::list_customer_import_errors(&self.0, request).await
    }

    async fn export_customers(
        &self,
        request: Request<ExportCustomersRequest>,
    ) -> Result<Response<ExportStream>, Status> {
        export::export_customers(&self.0, request).await
    }

    async fn erase_customer(
        &self,
        request: Request<EraseCustomerRequest>,
    ) -> Result<Response<ErasureRecord>, Status> {
        erasure::erase_customer(&self.0, request).await
    }

    async fn get_erasure_record(
        &self,
        request: Request<GetErasureRecordRequest>,
    ) -> Result<Response<ErasureRecord>, Status> {
        erasure::get_erasure_record(&self.0, request).await
    }

    async fn list_erasure_records(
        &self,
        request: Request<ListErasureRecordsRequest>,
    ) -> Result<Response<ListErasureRecordsResponse>, Status> {
        erasure::list_erasure_records(&self.0, request).await
    }
}
