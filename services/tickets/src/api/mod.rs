//! gRPC handlers of the tickets service: they read the caller from the
//! internal credential, open the transaction for the caller's tenant, let
//! `domain` decide and `store` persist, and append the events to the outbox
//! in the same transaction. One module per part of the contract; the trait
//! implementations below only route.

mod assignment;
mod comments;
mod complaints;
mod dispatch;
mod field_values;
mod handovers;
mod incidents;
mod target;
mod taxonomy;
pub(crate) mod tickets;

use chrono::{DateTime, Utc};
use kefu_kit::{
    auth::InternalAuth,
    context::{CallContext, PrincipalKind, TenantId},
    events::new_event,
    outbox,
    service::ServiceContext,
};
use kefu_proto::v1::{
    AcknowledgeHandoverRequest, Actor, ActorKind, ApproveOutOfTownDispatchRequest,
    ApproveProposalRequest, AssignTicketRequest, CancelDispatchRequest, CloseComplaintRequest,
    CloseTicketRequest, Complaint, CompleteDispatchRequest, CompletePreventiveActionRequest,
    CountersignDispatchRequest, CreateDispatchRequest, CreateHandoverRequest,
    CreateIncidentRequest, CreateProposalRequest, CreateServiceRequestRequest,
    CreateTicketCategoryRequest, CreateTicketCommentRequest, CreateTicketFieldDefinitionRequest,
    CreateTicketKindRequest, CreateTicketRequest, DeleteServiceRequestRequest,
    DeleteTicketCategoryRequest, DeleteTicketFieldDefinitionRequest, DeleteTicketKindRequest,
    Dispatch, DispatchTechnicianRequest, EscalateComplaintRequest, EscalateTicketRequest,
    FlagTicketRequest, GetComplaintRequest, GetDispatchRequest, GetHandoverRequest,
    GetIncidentRequest, GetProposalRequest, GetServiceRequestRequest, GetTicketAuditEntryRequest,
    GetTicketCategoryRequest, GetTicketCommentRequest, GetTicketFieldDefinitionRequest,
    GetTicketKindRequest, GetTicketRequest, Handover, HoldTicketRequest, Incident,
    JudgeComplaintRequest, LinkTicketsToIncidentRequest, ListComplaintsRequest,
    ListComplaintsResponse, ListDispatchQueueRequest, ListDispatchQueueResponse,
    ListDispatchesRequest, ListDispatchesResponse, ListHandoversRequest, ListHandoversResponse,
    ListIncidentsRequest, ListIncidentsResponse, ListOverdueComplaintsRequest,
    ListOverdueComplaintsResponse, ListProposalsRequest, ListProposalsResponse,
    ListServiceRequestsRequest, ListServiceRequestsResponse, ListTicketAuditEntriesRequest,
    ListTicketAuditEntriesResponse, ListTicketCategoriesRequest, ListTicketCategoriesResponse,
    ListTicketCommentsRequest, ListTicketCommentsResponse, ListTicketFieldDefinitionsRequest,
    ListTicketFieldDefinitionsResponse, ListTicketKindsRequest, ListTicketKindsResponse,
    ListTicketsRequest, ListTicketsResponse, OpenTicketRequest, PendTicketRequest,
    PostIncidentResponseRequest, Proposal, RecordArrivalRequest, RecordCustomerSignOffRequest,
    RecordExecutionRequest, RecordInvestigationRequest, RecordWorkRequest,
    RegisterComplaintRequest, RejectOutOfTownDispatchRequest, RejectProposalRequest,
    ReopenTicketRequest, ResolveIncidentRequest, ResolveTicketRequest, ResumeTicketRequest,
    ServiceRequest, SetTicketPriorityRequest, StartInvestigationRequest, StartNewRoundRequest,
    SubmitHandoverRequest, SubmitProposalRequest, SummarizeComplaintRequest, Ticket,
    TicketAuditEntry, TicketCategory, TicketComment, TicketFieldDefinition, TicketKind,
    TriageTicketRequest, UnlinkTicketFromIncidentRequest, UpdateComplaintRequest,
    UpdateHandoverRequest, UpdateIncidentRequest, UpdateProposalRequest,
    UpdateServiceRequestRequest, UpdateTicketCategoryRequest, UpdateTicketFieldDefinitionRequest,
    UpdateTicketKindRequest, UpdateTicketRequest,
    complaint_service_server::{ComplaintService, ComplaintServiceServer},
    dispatch_service_server::{DispatchService, DispatchServiceServer},
    ticket_service_server::{TicketService, TicketServiceServer},
};
use prost::{Message, Name};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status, service::RoutesBuilder};

use crate::{
    NAME,
    error::{Result, TicketsError},
};

/// What the handlers share: the service's database, outbox signal and
/// clock, with the tenant-scoped transactions they open.
pub type Shared = ServiceContext;

/// Adds every gRPC service of this target, each behind `auth`.
pub fn add_routes(routes: &mut RoutesBuilder, auth: &InternalAuth, shared: Shared) {
    routes.add_service(TicketServiceServer::with_interceptor(
        TicketApi(shared.clone()),
        auth.clone(),
    ));
    routes.add_service(ComplaintServiceServer::with_interceptor(
        ComplaintApi(shared.clone()),
        auth.clone(),
    ));
    routes.add_service(DispatchServiceServer::with_interceptor(
        DispatchApi(shared),
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

/// Who is calling, as audit entries and events record it: a user with the
/// display name the directory copy knows (kept so history reads right
/// after a rename), a partner's API key, or Kefu itself.
pub(crate) async fn actor_of(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    context: &CallContext,
) -> Result<Actor> {
    Ok(match context.principal.kind {
        PrincipalKind::User => {
            let name = format!("users/{}", context.principal.id);
            let display_name = user_display_name(txn, tenant, &name).await?;
            Actor {
                kind: ActorKind::User as i32,
                name,
                display_name,
            }
        }
        PrincipalKind::ApiKey => Actor {
            kind: ActorKind::ApiKey as i32,
            name: format!("apiKeys/{}", context.principal.id),
            display_name: String::new(),
        },
        _ => system_actor(),
    })
}

/// Kefu itself (scans, event handlers).
pub(crate) fn system_actor() -> Actor {
    Actor {
        kind: ActorKind::System as i32,
        ..Actor::default()
    }
}

/// The display name of user `name` in the directory copy; empty when the
/// copy does not know the user (yet).
async fn user_display_name(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
) -> Result<String> {
    Ok(crate::store::directory::user(txn, tenant, name)
        .await?
        .map(|user| user.display_name)
        .unwrap_or_default())
}

/// A request's `field`, or INVALID_ARGUMENT naming it.
fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| TicketsError::invalid(field, format!("{field} is required")))
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
        _ => Err(TicketsError::PermissionDenied(
            "tickets are a tenant's: call as one of its users or keys".into(),
        )),
    }
}

/// Remembers `request_id` (when the caller gave one) as naming `resource`,
/// created by `method`, in the creating transaction: a retry with the same
/// id answers with that resource.
async fn remember_request(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: &str,
    method: &str,
    resource: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if !request_id.is_empty() {
        kefu_kit::idempotency::remember(txn, tenant.0, request_id, method, resource, now).await?;
    }
    Ok(())
}

/// The page size of a request, or INVALID_ARGUMENT naming `page_size`.
fn page_size(requested: i32) -> Result<usize> {
    kefu_kit::resource::page_size(requested)
        .ok_or_else(|| TicketsError::invalid("page_size", "page_size must not be negative"))
}

/// Handlers of `kefu.v1.TicketService`.
#[derive(Clone)]
pub struct TicketApi(Shared);

/// Handlers of `kefu.v1.ComplaintService`.
#[derive(Clone)]
pub struct ComplaintApi(Shared);

/// Handlers of `kefu.v1.DispatchService`.
#[derive(Clone)]
pub struct DispatchApi(Shared);

#[tonic::async_trait]
impl TicketService for TicketApi {
    async fn get_ticket(
        &self,
        request: Request<GetTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::get_ticket(&self.0, request).await
    }

    async fn list_tickets(
        &self,
        request: Request<ListTicketsRequest>,
    ) -> Result<Response<ListTicketsResponse>, Status> {
        tickets::list_tickets(&self.0, request).await
    }

    async fn create_ticket(
        &self,
        request: Request<CreateTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::create_ticket(&self.0, request).await
    }

    async fn update_ticket(
        &self,
        request: Request<UpdateTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::update_ticket(&self.0, request).await
    }

    async fn open_ticket(
        &self,
        request: Request<OpenTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::open_ticket(&self.0, request).await
    }

    async fn pend_ticket(
        &self,
        request: Request<PendTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::pend_ticket(&self.0, request).await
    }

    async fn hold_ticket(
        &self,
        request: Request<HoldTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::hold_ticket(&self.0, request).await
    }

    async fn resume_ticket(
        &self,
        request: Request<ResumeTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::resume_ticket(&self.0, request).await
    }

    async fn resolve_ticket(
        &self,
        request: Request<ResolveTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::resolve_ticket(&self.0, request).await
    }

    async fn close_ticket(
        &self,
        request: Request<CloseTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::close_ticket(&self.0, request).await
    }

    async fn reopen_ticket(
        &self,
        request: Request<ReopenTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::reopen_ticket(&self.0, request).await
    }

    async fn flag_ticket(
        &self,
        request: Request<FlagTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        tickets::flag_ticket(&self.0, request).await
    }

    async fn assign_ticket(
        &self,
        request: Request<AssignTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        assignment::assign_ticket(&self.0, request).await
    }

    async fn escalate_ticket(
        &self,
        request: Request<EscalateTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        assignment::escalate_ticket(&self.0, request).await
    }

    async fn set_ticket_priority(
        &self,
        request: Request<SetTicketPriorityRequest>,
    ) -> Result<Response<Ticket>, Status> {
        assignment::set_ticket_priority(&self.0, request).await
    }

    async fn triage_ticket(
        &self,
        request: Request<TriageTicketRequest>,
    ) -> Result<Response<Ticket>, Status> {
        assignment::triage_ticket(&self.0, request).await
    }

    async fn create_ticket_comment(
        &self,
        request: Request<CreateTicketCommentRequest>,
    ) -> Result<Response<TicketComment>, Status> {
        comments::create_ticket_comment(&self.0, request).await
    }

    async fn get_ticket_comment(
        &self,
        request: Request<GetTicketCommentRequest>,
    ) -> Result<Response<TicketComment>, Status> {
        comments::get_ticket_comment(&self.0, request).await
    }

    async fn list_ticket_comments(
        &self,
        request: Request<ListTicketCommentsRequest>,
    ) -> Result<Response<ListTicketCommentsResponse>, Status> {
        comments::list_ticket_comments(&self.0, request).await
    }

    async fn get_ticket_audit_entry(
        &self,
        request: Request<GetTicketAuditEntryRequest>,
    ) -> Result<Response<TicketAuditEntry>, Status> {
        comments::get_ticket_audit_entry(&self.0, request).await
    }

    async fn list_ticket_audit_entries(
        &self,
        request: Request<ListTicketAuditEntriesRequest>,
    ) -> Result<Response<ListTicketAuditEntriesResponse>, Status> {
        comments::list_ticket_audit_entries(&self.0, request).await
    }

    async fn create_ticket_kind(
        &self,
        request: Request<CreateTicketKindRequest>,
    ) -> Result<Response<TicketKind>, Status> {
        taxonomy::create_ticket_kind(&self.0, request).await
    }

    async fn get_ticket_kind(
        &self,
        request: Request<GetTicketKindRequest>,
    ) -> Result<Response<TicketKind>, Status> {
        taxonomy::get_ticket_kind(&self.0, request).await
    }

    async fn list_ticket_kinds(
        &self,
        request: Request<ListTicketKindsRequest>,
    ) -> Result<Response<ListTicketKindsResponse>, Status> {
        taxonomy::list_ticket_kinds(&self.0, request).await
    }

    async fn update_ticket_kind(
        &self,
        request: Request<UpdateTicketKindRequest>,
    ) -> Result<Response<TicketKind>, Status> {
        taxonomy::update_ticket_kind(&self.0, request).await
    }

    async fn delete_ticket_kind(
        &self,
        request: Request<DeleteTicketKindRequest>,
    ) -> Result<Response<()>, Status> {
        taxonomy::delete_ticket_kind(&self.0, request).await
    }

    async fn create_ticket_category(
        &self,
        request: Request<CreateTicketCategoryRequest>,
    ) -> Result<Response<TicketCategory>, Status> {
        taxonomy::create_ticket_category(&self.0, request).await
    }

    async fn get_ticket_category(
        &self,
        request: Request<GetTicketCategoryRequest>,
    ) -> Result<Response<TicketCategory>, Status> {
        taxonomy::get_ticket_category(&self.0, request).await
    }

    async fn list_ticket_categories(
        &self,
        request: Request<ListTicketCategoriesRequest>,
    ) -> Result<Response<ListTicketCategoriesResponse>, Status> {
        taxonomy::list_ticket_categories(&self.0, request).await
    }

    async fn update_ticket_category(
        &self,
        request: Request<UpdateTicketCategoryRequest>,
    ) -> Result<Response<TicketCategory>, Status> {
        taxonomy::update_ticket_category(&self.0, request).await
    }

    async fn delete_ticket_category(
        &self,
        request: Request<DeleteTicketCategoryRequest>,
    ) -> Result<Response<()>, Status> {
        taxonomy::delete_ticket_category(&self.0, request).await
    }

    async fn create_ticket_field_definition(
        &self,
        request: Request<CreateTicketFieldDefinitionRequest>,
    ) -> Result<Response<TicketFieldDefinition>, Status> {
        taxonomy::create_ticket_field_definition(&self.0, request).await
    }

    async fn get_ticket_field_definition(
        &self,
        request: Request<GetTicketFieldDefinitionRequest>,
    ) -> Result<Response<TicketFieldDefinition>, Status> {
        taxonomy::get_ticket_field_definition(&self.0, request).await
    }

    async fn list_ticket_field_definitions(
        &self,
        request: Request<ListTicketFieldDefinitionsRequest>,
    ) -> Result<Response<ListTicketFieldDefinitionsResponse>, Status> {
        taxonomy::list_ticket_field_definitions(&self.0, request).await
    }

    async fn update_ticket_field_definition(
        &self,
        request: Request<UpdateTicketFieldDefinitionRequest>,
    ) -> Result<Response<TicketFieldDefinition>, Status> {
        taxonomy::update_ticket_field_definition(&self.0, request).await
    }

    async fn delete_ticket_field_definition(
        &self,
        request: Request<DeleteTicketFieldDefinitionRequest>,
    ) -> Result<Response<()>, Status> {
        taxonomy::delete_ticket_field_definition(&self.0, request).await
    }

    async fn create_incident(
        &self,
        request: Request<CreateIncidentRequest>,
    ) -> Result<Response<Incident>, Status> {
        incidents::create_incident(&self.0, request).await
    }

    async fn get_incident(
        &self,
        request: Request<GetIncidentRequest>,
    ) -> Result<Response<Incident>, Status> {
        incidents::get_incident(&self.0, request).await
    }

    async fn list_incidents(
        &self,
        request: Request<ListIncidentsRequest>,
    ) -> Result<Response<ListIncidentsResponse>, Status> {
        incidents::list_incidents(&self.0, request).await
    }

    async fn update_incident(
        &self,
        request: Request<UpdateIncidentRequest>,
    ) -> Result<Response<Incident>, Status> {
        incidents::update_incident(&self.0, request).await
    }

    async fn link_tickets_to_incident(
        &self,
        request: Request<LinkTicketsToIncidentRequest>,
    ) -> Result<Response<Incident>, Status> {
        incidents::link_tickets_to_incident(&self.0, request).await
    }

    async fn unlink_ticket_from_incident(
        &self,
        request: Request<UnlinkTicketFromIncidentRequest>,
    ) -> Result<Response<Incident>, Status> {
        incidents::unlink_ticket_from_incident(&self.0, request).await
    }

    async fn post_incident_response(
        &self,
        request: Request<PostIncidentResponseRequest>,
    ) -> Result<Response<Incident>, Status> {
        incidents::post_incident_response(&self.0, request).await
    }

    async fn resolve_incident(
        &self,
        request: Request<ResolveIncidentRequest>,
    ) -> Result<Response<Incident>, Status> {
        incidents::resolve_incident(&self.0, request).await
    }

    async fn create_handover(
        &self,
        request: Request<CreateHandoverRequest>,
    ) -> Result<Response<Handover>, Status> {
        handovers::create_handover(&self.0, request).await
    }

    async fn get_handover(
        &self,
        request: Request<GetHandoverRequest>,
    ) -> Result<Response<Handover>, Status> {
        handovers::get_handover(&self.0, request).await
    }

    async fn list_handovers(
        &self,
        request: Request<ListHandoversRequest>,
    ) -> Result<Response<ListHandoversResponse>, Status> {
        handovers::list_handovers(&self.0, request).await
    }

    async fn update_handover(
        &self,
        request: Request<UpdateHandoverRequest>,
    ) -> Result<Response<Handover>, Status> {
        handovers::update_handover(&self.0, request).await
    }

    async fn submit_handover(
        &self,
        request: Request<SubmitHandoverRequest>,
    ) -> Result<Response<Handover>, Status> {
        handovers::submit_handover(&self.0, request).await
    }

    async fn acknowledge_handover(
        &self,
        request: Request<AcknowledgeHandoverRequest>,
    ) -> Result<Response<Handover>, Status> {
        handovers::acknowledge_handover(&self.0, request).await
    }
}

#[tonic::async_trait]
impl ComplaintService for ComplaintApi {
    async fn register_complaint(
        &self,
        request: Request<RegisterComplaintRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::register_complaint(&self.0, request).await
    }

    async fn get_complaint(
        &self,
        request: Request<GetComplaintRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::get_complaint(&self.0, request).await
    }

    async fn list_complaints(
        &self,
        request: Request<ListComplaintsRequest>,
    ) -> Result<Response<ListComplaintsResponse>, Status> {
        complaints::list_complaints(&self.0, request).await
    }

    async fn update_complaint(
        &self,
        request: Request<UpdateComplaintRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::update_complaint(&self.0, request).await
    }

    async fn judge_complaint(
        &self,
        request: Request<JudgeComplaintRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::judge_complaint(&self.0, request).await
    }

    async fn start_investigation(
        &self,
        request: Request<StartInvestigationRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::start_investigation(&self.0, request).await
    }

    async fn record_investigation(
        &self,
        request: Request<RecordInvestigationRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::record_investigation(&self.0, request).await
    }

    async fn create_proposal(
        &self,
        request: Request<CreateProposalRequest>,
    ) -> Result<Response<Proposal>, Status> {
        complaints::create_proposal(&self.0, request).await
    }

    async fn get_proposal(
        &self,
        request: Request<GetProposalRequest>,
    ) -> Result<Response<Proposal>, Status> {
        complaints::get_proposal(&self.0, request).await
    }

    async fn list_proposals(
        &self,
        request: Request<ListProposalsRequest>,
    ) -> Result<Response<ListProposalsResponse>, Status> {
        complaints::list_proposals(&self.0, request).await
    }

    async fn update_proposal(
        &self,
        request: Request<UpdateProposalRequest>,
    ) -> Result<Response<Proposal>, Status> {
        complaints::update_proposal(&self.0, request).await
    }

    async fn submit_proposal(
        &self,
        request: Request<SubmitProposalRequest>,
    ) -> Result<Response<Proposal>, Status> {
        complaints::submit_proposal(&self.0, request).await
    }

    async fn approve_proposal(
        &self,
        request: Request<ApproveProposalRequest>,
    ) -> Result<Response<Proposal>, Status> {
        complaints::approve_proposal(&self.0, request).await
    }

    async fn reject_proposal(
        &self,
        request: Request<RejectProposalRequest>,
    ) -> Result<Response<Proposal>, Status> {
        complaints::reject_proposal(&self.0, request).await
    }

    async fn record_execution(
        &self,
        request: Request<RecordExecutionRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::record_execution(&self.0, request).await
    }

    async fn start_new_round(
        &self,
        request: Request<StartNewRoundRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::start_new_round(&self.0, request).await
    }

    async fn summarize_complaint(
        &self,
        request: Request<SummarizeComplaintRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::summarize_complaint(&self.0, request).await
    }

    async fn close_complaint(
        &self,
        request: Request<CloseComplaintRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::close_complaint(&self.0, request).await
    }

    async fn complete_preventive_action(
        &self,
        request: Request<CompletePreventiveActionRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::complete_preventive_action(&self.0, request).await
    }

    async fn escalate_complaint(
        &self,
        request: Request<EscalateComplaintRequest>,
    ) -> Result<Response<Complaint>, Status> {
        complaints::escalate_complaint(&self.0, request).await
    }

    async fn list_overdue_complaints(
        &self,
        request: Request<ListOverdueComplaintsRequest>,
    ) -> Result<Response<ListOverdueComplaintsResponse>, Status> {
        complaints::list_overdue_complaints(&self.0, request).await
    }
}

#[tonic::async_trait]
impl DispatchService for DispatchApi {
    async fn create_service_request(
        &self,
        request: Request<CreateServiceRequestRequest>,
    ) -> Result<Response<ServiceRequest>, Status> {
        dispatch::create_service_request(&self.0, request).await
    }

    async fn get_service_request(
        &self,
        request: Request<GetServiceRequestRequest>,
    ) -> Result<Response<ServiceRequest>, Status> {
        dispatch::get_service_request(&self.0, request).await
    }

    async fn list_service_requests(
        &self,
        request: Request<ListServiceRequestsRequest>,
    ) -> Result<Response<ListServiceRequestsResponse>, Status> {
        dispatch::list_service_requests(&self.0, request).await
    }

    async fn update_service_request(
        &self,
        request: Request<UpdateServiceRequestRequest>,
    ) -> Result<Response<ServiceRequest>, Status> {
        dispatch::update_service_request(&self.0, request).await
    }

    async fn delete_service_request(
        &self,
        request: Request<DeleteServiceRequestRequest>,
    ) -> Result<Response<()>, Status> {
        dispatch::delete_service_request(&self.0, request).await
    }

    async fn approve_out_of_town_dispatch(
        &self,
        request: Request<ApproveOutOfTownDispatchRequest>,
    ) -> Result<Response<ServiceRequest>, Status> {
        dispatch::approve_out_of_town_dispatch(&self.0, request).await
    }

    async fn reject_out_of_town_dispatch(
        &self,
        request: Request<RejectOutOfTownDispatchRequest>,
    ) -> Result<Response<ServiceRequest>, Status> {
        dispatch::reject_out_of_town_dispatch(&self.0, request).await
    }

    async fn list_dispatch_queue(
        &self,
        request: Request<ListDispatchQueueRequest>,
    ) -> Result<Response<ListDispatchQueueResponse>, Status> {
        dispatch::list_dispatch_queue(&self.0, request).await
    }

    async fn create_dispatch(
        &self,
        request: Request<CreateDispatchRequest>,
    ) -> Result<Response<Dispatch>, Status> {
        dispatch::create_dispatch(&self.0, request).await
    }

    async fn dispatch_technician(
        &self,
        request: Request<DispatchTechnicianRequest>,
    ) -> Result<Response<Dispatch>, Status> {
        dispatch::dispatch_technician(&self.0, request).await
    }

    async fn record_arrival(
        &self,
        request: Request<RecordArrivalRequest>,
    ) -> Result<Response<Dispatch>, Status> {
        dispatch::record_arrival(&self.0, request).await
    }

    async fn record_work(
        &self,
        request: Request<RecordWorkRequest>,
    ) -> Result<Response<Dispatch>, Status> {
        dispatch::record_work(&self.0, request).await
    }

    async fn record_customer_sign_off(
        &self,
        request: Request<RecordCustomerSignOffRequest>,
    ) -> Result<Response<Dispatch>, Status> {
        dispatch::record_customer_sign_off(&self.0, request).await
    }

    async fn complete_dispatch(
        &self,
        request: Request<CompleteDispatchRequest>,
    ) -> Result<Response<Dispatch>, Status> {
        dispatch::complete_dispatch(&self.0, request).await
    }

    async fn countersign_dispatch(
        &self,
        request: Request<CountersignDispatchRequest>,
    ) -> Result<Response<Dispatch>, Status> {
        dispatch::countersign_dispatch(&self.0, request).await
    }

    async fn cancel_dispatch(
        &self,
        request: Request<CancelDispatchRequest>,
    ) -> Result<Response<Dispatch>, Status> {
        dispatch::cancel_dispatch(&self.0, request).await
    }

    async fn get_dispatch(
        &self,
        request: Request<GetDispatchRequest>,
    ) -> Result<Response<Dispatch>, Status> {
        dispatch::get_dispatch(&self.0, request).await
    }

    async fn list_dispatches(
        &self,
        request: Request<ListDispatchesRequest>,
    ) -> Result<Response<ListDispatchesResponse>, Status> {
        dispatch::list_dispatches(&self.0, request).await
    }
}
