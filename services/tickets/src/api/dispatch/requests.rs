//! The service request methods: create (with its first queued dispatch and
//! the link on its ticket), get, update, delete, out-of-town decisions.

use kefu_kit::{events::to_timestamp, idempotency};
use kefu_proto::v1::{
    ApproveOutOfTownDispatchRequest, CreateServiceRequestRequest, DeleteServiceRequestRequest,
    DispatchState, GetServiceRequestRequest, RejectOutOfTownDispatchRequest, ServiceRequest,
    ServiceRequestCreated, ServiceRequestState, TicketAuditAction, UpdateServiceRequestRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{check_request_id, load_request, profile, save_dispatch, save_request};
use crate::{
    api::{Shared, actor_of, append_event, caller, remember_request, required},
    domain::dispatch::{
        self as rules, DispatchError, Result, dispatch_name, local_day, request_name,
        request_number,
    },
    error::TicketsError,
    store::{
        directory::{self, KnownCustomerState},
        dispatch as store, tickets,
    },
};
use kefu_kit::context::{CallContext, TenantId};

fn unknown(field: &str, name: &str) -> DispatchError {
    TicketsError::invalid_because(
        field,
        format!("{name} does not exist for the tenant"),
        "UNKNOWN_REFERENCE",
    )
    .into()
}

/// Links the ticket of a new request to it (Ticket.service_request, with
/// one audit entry); INVALID_ARGUMENT `UNKNOWN_REFERENCE` for a ticket the
/// tenant does not have.
async fn link_ticket(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    context: &CallContext,
    request: &ServiceRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let field = "service_request.ticket";
    let before = match tickets::load_for_change(txn, tenant, &request.ticket, field, "").await {
        Ok(ticket) => ticket,
        Err(TicketsError::NotFound(..) | TicketsError::Invalid(..)) => {
            return Err(unknown(field, &request.ticket));
        }
        Err(error) => return Err(error.into()),
    };
    let mut after = before.clone();
    after.service_request.clone_from(&request.name);
    let actor = actor_of(txn, tenant, context).await?;
    let note = format!("service request {} registered", request.number);
    tickets::save_change(
        txn,
        tenant,
        &before,
        &mut after,
        &actor,
        TicketAuditAction::Linked,
        &note,
        now,
    )
    .await?;
    Ok(())
}

/// CreateServiceRequest.
pub(in crate::api) async fn create_service_request(
    shared: &Shared,
    request: Request<CreateServiceRequestRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    Ok(Response::new(create(shared, request).await?))
}

async fn create(
    shared: &Shared,
    request: Request<CreateServiceRequestRequest>,
) -> Result<ServiceRequest> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let mut service_request = required(request.service_request, "service_request")?;
    rules::clear_request_output_only(&mut service_request);
    rules::validate_request(&service_request, "service_request")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id).await?
    {
        let (_, stored) =
            load_request(&txn, tenant, &remembered.resource_name, "request_id", false).await?;
        return Ok(stored.resource);
    }
    // A merged customer's work goes to the survivor, as tickets do.
    match directory::customer(&txn, tenant, &service_request.customer)
        .await?
        .map(|known| known.state)
    {
        Some(KnownCustomerState::Active) => {}
        Some(KnownCustomerState::Merged { into }) => service_request.customer = into,
        Some(KnownCustomerState::Erased) | None => {
            return Err(unknown(
                "service_request.customer",
                &service_request.customer,
            ));
        }
    }
    let id = Uuid::now_v7();
    let actor = actor_of(&txn, tenant, &context).await?;
    service_request.name = request_name(id);
    service_request.number = request_number(store::next_request_number(&txn, tenant).await?);
    service_request.out_of_town_approval =
        rules::initial_approval(service_request.out_of_town) as i32;
    service_request.state = ServiceRequestState::Open as i32;
    service_request.created_by = Some(actor.clone());
    service_request.create_time = Some(to_timestamp(now));
    service_request.update_time = Some(to_timestamp(now));
    if !service_request.ticket.is_empty() {
        link_ticket(&txn, tenant, &context, &service_request, now).await?;
    }
    store::insert_request(&txn, tenant, id, &service_request).await?;
    let today = local_day(now, &profile(&txn, tenant).await?.time_zone);
    let dispatch_id = Uuid::now_v7();
    let first = rules::new_dispatch(
        &service_request,
        dispatch_name(id, dispatch_id),
        "",
        today,
        now,
    )?;
    store::insert_dispatch(&txn, tenant, id, dispatch_id, &first).await?;
    let event = ServiceRequestCreated {
        service_request: service_request.name.clone(),
        ticket: service_request.ticket.clone(),
        customer: service_request.customer.clone(),
        service_type: service_request.service_type,
        out_of_town: service_request.out_of_town,
        first_dispatch: first.name.clone(),
        product_model: service_request.product_model.clone(),
        created_by: Some(actor),
    };
    append_event(&txn, tenant, &service_request.name, &event, now).await?;
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        "CreateServiceRequest",
        &service_request.name,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    service_request.etag = kefu_kit::resource::etag(1);
    Ok(service_request)
}

/// GetServiceRequest.
pub(in crate::api) async fn get_service_request(
    shared: &Shared,
    request: Request<GetServiceRequestRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = request.into_inner().name;
    let txn = shared.begin_read(tenant).await?;
    let (_, stored) = load_request(&txn, tenant, &name, "name", false).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(stored.resource))
}

/// UpdateServiceRequest.
pub(in crate::api) async fn update_service_request(
    shared: &Shared,
    request: Request<UpdateServiceRequestRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    Ok(Response::new(update(shared, request).await?))
}

async fn update(
    shared: &Shared,
    request: Request<UpdateServiceRequestRequest>,
) -> Result<ServiceRequest> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let patch = required(request.service_request, "service_request")?;
    let paths = request
        .update_mask
        .map(|mask| mask.paths)
        .unwrap_or_default();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (id, stored) =
        load_request(&txn, tenant, &patch.name, "service_request.name", true).await?;
    if !stored.etag_matches(&patch.etag) {
        return Err(TicketsError::StaleEtag(patch.name.clone()).into());
    }
    let mut service_request = stored.resource.clone();
    rules::apply_update(&mut service_request, &patch, &paths)?;
    save_request(&txn, tenant, id, &stored, &mut service_request, now).await?;
    // The queued visits follow the request's type; visits under way keep
    // the type they were dispatched with.
    if service_request.service_type != stored.resource.service_type {
        for queued in store::dispatches_of(&txn, tenant, id).await? {
            if queued.resource.state != DispatchState::Queued as i32 {
                continue;
            }
            let dispatch_id = rules::dispatch_id_of(&queued.resource.name)
                .map(|(_, dispatch)| dispatch)
                .ok_or_else(|| TicketsError::Internal(queued.resource.name.clone()))?;
            let mut dispatch = queued.resource.clone();
            dispatch.service_type = service_request.service_type;
            dispatch.update_time = Some(to_timestamp(now));
            save_dispatch(&txn, tenant, dispatch_id, &queued, &mut dispatch).await?;
        }
    }
    shared.commit(txn).await?;
    Ok(service_request)
}

/// DeleteServiceRequest.
pub(in crate::api) async fn delete_service_request(
    shared: &Shared,
    request: Request<DeleteServiceRequestRequest>,
) -> Result<Response<()>, Status> {
    delete(shared, request).await?;
    Ok(Response::new(()))
}

async fn delete(shared: &Shared, request: Request<DeleteServiceRequestRequest>) -> Result<()> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (id, stored) = load_request(&txn, tenant, &request.name, "name", true).await?;
    if !stored.etag_matches(&request.etag) {
        return Err(TicketsError::StaleEtag(request.name.clone()).into());
    }
    let dispatches: Vec<_> = store::dispatches_of(&txn, tenant, id)
        .await?
        .into_iter()
        .map(|stored| stored.resource)
        .collect();
    if !rules::deletable(&dispatches) {
        return Err(TicketsError::illegal_transition(format!(
            "{} has visits under way or done; cancel them instead of deleting",
            request.name
        ))
        .into());
    }
    store::delete_request(&txn, tenant, id).await?;
    let service_request = stored.resource;
    if !service_request.ticket.is_empty()
        && let Ok(before) =
            tickets::load_for_change(&txn, tenant, &service_request.ticket, "ticket", "").await
        && before.service_request == service_request.name
    {
        let mut after = before.clone();
        after.service_request.clear();
        let actor = actor_of(&txn, tenant, &context).await?;
        let note = format!("service request {} deleted", service_request.number);
        tickets::save_change(
            &txn,
            tenant,
            &before,
            &mut after,
            &actor,
            TicketAuditAction::Updated,
            &note,
            now,
        )
        .await?;
    }
    shared.commit(txn).await?;
    Ok(())
}

async fn decide(
    shared: &Shared,
    context: &CallContext,
    tenant: TenantId,
    name: &str,
    approve: bool,
    comment: &str,
) -> Result<ServiceRequest> {
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (id, stored) = load_request(&txn, tenant, name, "name", true).await?;
    let actor = actor_of(&txn, tenant, context).await?;
    let mut service_request = stored.resource.clone();
    rules::decide_out_of_town(&mut service_request, approve, comment, actor, now)?;
    save_request(&txn, tenant, id, &stored, &mut service_request, now).await?;
    shared.commit(txn).await?;
    Ok(service_request)
}

/// ApproveOutOfTownDispatch.
pub(in crate::api) async fn approve_out_of_town_dispatch(
    shared: &Shared,
    request: Request<ApproveOutOfTownDispatchRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let decided = decide(
        shared,
        &context,
        tenant,
        &request.name,
        true,
        &request.comment,
    )
    .await?;
    Ok(Response::new(decided))
}

/// RejectOutOfTownDispatch.
pub(in crate::api) async fn reject_out_of_town_dispatch(
    shared: &Shared,
    request: Request<RejectOutOfTownDispatchRequest>,
) -> Result<Response<ServiceRequest>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let decided = decide(
        shared,
        &context,
        tenant,
        &request.name,
        false,
        &request.comment,
    )
    .await?;
    Ok(Response::new(decided))
}
