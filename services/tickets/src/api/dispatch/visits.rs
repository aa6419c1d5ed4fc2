//! The dispatch transitions: queue another visit, dispatch a technician
//! (派工), arrival, work, sign-off (签字), completion, countersignature
//! (签核) and cancellation.

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, events::to_timestamp, idempotency};
use kefu_proto::v1::{
    CancelDispatchRequest, CompleteDispatchRequest, CountersignDispatchRequest,
    CreateDispatchRequest, Dispatch, DispatchCompleted, DispatchCountersigned,
    DispatchTechnicianRequest, RecordArrivalRequest, RecordCustomerSignOffRequest,
    RecordWorkRequest, ServiceRequest, ServiceRequestState, TechnicianDispatched,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    check_field_caller, check_request_id, fill_positions, load_dispatch, load_request, profile,
    refresh_request, save_dispatch, today, voucher_in_use,
};
use crate::{
    api::{
        Shared, actor_of, append_event, caller, remember_request,
        target::{EtagTarget, etag_targets},
    },
    domain::dispatch::{
        self as rules, Assignment, DispatchError, Result, Work, dispatch_name, request_name,
    },
    error::TicketsError,
    store::{directory, dispatch as store},
};

/// Queues a new visit of request `id` (`request`) with `instructions`.
async fn queue_visit(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: Uuid,
    request: &ServiceRequest,
    instructions: &str,
    now: DateTime<Utc>,
) -> Result<Dispatch> {
    let dispatch_id = Uuid::now_v7();
    let today = today(txn, tenant, now).await?;
    let mut dispatch = rules::new_dispatch(
        request,
        dispatch_name(id, dispatch_id),
        instructions,
        today,
        now,
    )?;
    store::insert_dispatch(txn, tenant, id, dispatch_id, &dispatch).await?;
    dispatch.etag = kefu_kit::resource::etag(1);
    Ok(dispatch)
}

/// CreateDispatch.
pub(in crate::api) async fn create_dispatch(
    shared: &Shared,
    request: Request<CreateDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let instructions = request
        .dispatch
        .map(|dispatch| dispatch.instructions)
        .unwrap_or_default();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id)
            .await
            .map_err(TicketsError::from)?
    {
        let (_, _, stored) =
            load_dispatch(&txn, tenant, &remembered.resource_name, "", false).await?;
        let mut dispatch = stored.resource;
        fill_positions(&txn, tenant, std::slice::from_mut(&mut dispatch)).await?;
        return Ok(Response::new(dispatch));
    }
    let (id, stored) = load_request(&txn, tenant, &request.parent, "parent", true).await?;
    if stored.resource.state == ServiceRequestState::Cancelled as i32 {
        return Err(TicketsError::illegal_transition(format!(
            "{} is cancelled; register a new service request",
            request.parent
        ))
        .into());
    }
    let mut dispatch = queue_visit(&txn, tenant, id, &stored.resource, &instructions, now).await?;
    refresh_request(&txn, tenant, id, now).await?;
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        "CreateDispatch",
        &dispatch.name,
        now,
    )
    .await?;
    fill_positions(&txn, tenant, std::slice::from_mut(&mut dispatch)).await?;
    shared.commit(txn).await?;
    Ok(Response::new(dispatch))
}

/// The voucher number of a new dispatch: the one sent (unique per tenant)
/// or the next generated `SV-000123` not taken by a paper voucher.
async fn voucher(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    sent: &str,
    dispatch: Uuid,
) -> Result<String> {
    let sent = sent.trim();
    if !sent.is_empty() {
        if store::voucher_in_use(txn, tenant, sent, dispatch).await? {
            return Err(voucher_in_use(sent));
        }
        return Ok(sent.to_owned());
    }
    loop {
        let number = rules::voucher_number(store::next_voucher_number(txn, tenant).await?);
        if !store::voucher_in_use(txn, tenant, &number, dispatch).await? {
            return Ok(number);
        }
    }
}

/// DispatchTechnician.
pub(in crate::api) async fn dispatch_technician(
    shared: &Shared,
    request: Request<DispatchTechnicianRequest>,
) -> Result<Response<Dispatch>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    if request.technician.is_empty() {
        return Err(TicketsError::invalid("technician", "technician is required").into());
    }
    let window = rules::check_window(request.appointment_window.as_ref())?;
    if request.voucher_number.chars().count() > 64 {
        return Err(TicketsError::invalid(
            "voucher_number",
            "voucher_number is longer than 64 characters",
        )
        .into());
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (request_id, id, stored) =
        load_dispatch(&txn, tenant, &request.name, &request.etag, true).await?;
    let (_, service_request) =
        load_request(&txn, tenant, &request_name(request_id), "name", false).await?;
    let mut dispatch = stored.resource.clone();
    let queued = dispatch.state == kefu_proto::v1::DispatchState::Queued as i32;
    if queued || dispatch.state == kefu_proto::v1::DispatchState::Dispatched as i32 {
        rules::check_dispatchable(&service_request.resource)?;
    }
    let technician = directory::user(&txn, tenant, &request.technician)
        .await?
        .ok_or_else(|| {
            TicketsError::invalid_because(
                "technician",
                format!("{} is not a user of the tenant", request.technician),
                "UNKNOWN_REFERENCE",
            )
        })?;
    let voucher_number = if queued && rules::is_technician(&technician) {
        voucher(&txn, tenant, &request.voucher_number, id).await?
    } else {
        String::new()
    };
    let actor = actor_of(&txn, tenant, &context).await?;
    rules::dispatch_technician(
        &mut dispatch,
        Assignment {
            technician: &technician,
            window,
            voucher_number,
            instructions: &request.instructions,
            dispatched_by: actor.clone(),
        },
        now,
    )?;
    save_dispatch(&txn, tenant, id, &stored, &mut dispatch).await?;
    refresh_request(&txn, tenant, request_id, now).await?;
    let window = dispatch.appointment_window.unwrap_or_default();
    let event = TechnicianDispatched {
        dispatch: dispatch.name.clone(),
        technician: dispatch.technician.clone(),
        appointment_start_time: window.start_time,
        appointment_end_time: window.end_time,
        service_request: request_name(request_id),
        customer: dispatch.customer.clone(),
        service_type: dispatch.service_type,
        voucher_number: dispatch.voucher_number.clone(),
        carried_over: dispatch.carried_over,
        dispatched_by: Some(actor),
    };
    append_event(&txn, tenant, request_name(request_id), &event, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(dispatch))
}

etag_targets!(
    RecordArrivalRequest,
    RecordWorkRequest,
    RecordCustomerSignOffRequest,
);

/// A field method: loads the dispatch the request names for a change by
/// the technician or staff, applies `change` (with the request, the
/// tenant's currency and the time), stores it and refreshes the request's
/// state.
async fn field_change<R: EtagTarget>(
    shared: &Shared,
    request: Request<R>,
    change: impl FnOnce(R, &mut Dispatch, &str, DateTime<Utc>) -> Result<()>,
) -> Result<Response<Dispatch>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let run = async {
        let now = shared.now();
        let txn = shared.begin(tenant).await?;
        let (request_id, id, stored) =
            load_dispatch(&txn, tenant, request.name(), request.etag(), true).await?;
        check_field_caller(&context, &stored.resource)?;
        let currency = profile(&txn, tenant).await?.currency;
        let mut dispatch = stored.resource.clone();
        change(request, &mut dispatch, &currency, now)?;
        save_dispatch(&txn, tenant, id, &stored, &mut dispatch).await?;
        refresh_request(&txn, tenant, request_id, now).await?;
        shared.commit(txn).await?;
        Ok::<_, DispatchError>(dispatch)
    };
    Ok(Response::new(run.await?))
}

/// RecordArrival.
pub(in crate::api) async fn record_arrival(
    shared: &Shared,
    request: Request<RecordArrivalRequest>,
) -> Result<Response<Dispatch>, Status> {
    field_change(shared, request, |request, d, _, now| {
        rules::arrive(d, request.arrival_time, now)
    })
    .await
}

/// RecordWork.
pub(in crate::api) async fn record_work(
    shared: &Shared,
    request: Request<RecordWorkRequest>,
) -> Result<Response<Dispatch>, Status> {
    field_change(shared, request, |request, d, currency, now| {
        let work = Work {
            actual_start_time: request.actual_start_time,
            actual_end_time: request.actual_end_time,
            work_done: request.work_done,
            parts: request.parts,
            fee: request.fee,
            charged: request.charged,
            invoiced: request.invoiced,
            invoice_number: request.invoice_number,
            travel_cost: request.travel_cost,
        };
        rules::record_work(d, work, currency, now)
    })
    .await
}

/// RecordCustomerSignOff.
pub(in crate::api) async fn record_customer_sign_off(
    shared: &Shared,
    request: Request<RecordCustomerSignOffRequest>,
) -> Result<Response<Dispatch>, Status> {
    field_change(shared, request, |request, d, _, now| {
        rules::sign_off(d, request.sign_off, now)
    })
    .await
}

/// CompleteDispatch.
pub(in crate::api) async fn complete_dispatch(
    shared: &Shared,
    request: Request<CompleteDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (request_id, id, stored) =
        load_dispatch(&txn, tenant, &request.name, &request.etag, true).await?;
    check_field_caller(&context, &stored.resource)?;
    let (_, service_request) =
        load_request(&txn, tenant, &request_name(request_id), "name", false).await?;
    let mut dispatch = stored.resource.clone();
    rules::complete(&mut dispatch, now)?;
    save_dispatch(&txn, tenant, id, &stored, &mut dispatch).await?;
    if request.follow_up_required {
        queue_visit(&txn, tenant, request_id, &service_request.resource, "", now).await?;
    }
    refresh_request(&txn, tenant, request_id, now).await?;
    let window = dispatch.appointment_window.unwrap_or_default();
    let event = DispatchCompleted {
        dispatch: dispatch.name.clone(),
        service_request: request_name(request_id),
        ticket: dispatch.ticket.clone(),
        customer: dispatch.customer.clone(),
        service_type: dispatch.service_type,
        technician: dispatch.technician.clone(),
        fee: dispatch.fee.clone(),
        work_end_time: dispatch.actual_end_time,
        work_start_time: dispatch.actual_start_time,
        arrival_time: dispatch.arrival_time,
        appointment_start_time: window.start_time,
        charged: dispatch.charged,
        invoiced: dispatch.invoiced,
        product_model: service_request.resource.product_model.clone(),
        technician_display_name: dispatch.technician_display_name.clone(),
        follow_up_required: request.follow_up_required,
        voucher_number: dispatch.voucher_number.clone(),
        travel_cost: dispatch.travel_cost.clone(),
        signed_name: dispatch
            .customer_sign_off
            .as_ref()
            .map(|sign_off| sign_off.signed_name.clone())
            .unwrap_or_default(),
    };
    append_event(&txn, tenant, request_name(request_id), &event, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(dispatch))
}

/// CountersignDispatch.
pub(in crate::api) async fn countersign_dispatch(
    shared: &Shared,
    request: Request<CountersignDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (request_id, id, stored) =
        load_dispatch(&txn, tenant, &request.name, &request.etag, true).await?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut dispatch = stored.resource.clone();
    rules::countersign(&mut dispatch, actor.clone(), &request.comment, now)?;
    save_dispatch(&txn, tenant, id, &stored, &mut dispatch).await?;
    refresh_request(&txn, tenant, request_id, now).await?;
    let event = DispatchCountersigned {
        dispatch: dispatch.name.clone(),
        countersigned_by: Some(actor),
        service_request: request_name(request_id),
        technician: dispatch.technician.clone(),
        service_type: dispatch.service_type,
        fee: dispatch.fee.clone(),
        countersign_time: Some(to_timestamp(now)),
    };
    append_event(&txn, tenant, request_name(request_id), &event, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(dispatch))
}

/// CancelDispatch.
pub(in crate::api) async fn cancel_dispatch(
    shared: &Shared,
    request: Request<CancelDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (request_id, id, stored) =
        load_dispatch(&txn, tenant, &request.name, &request.etag, true).await?;
    let mut dispatch = stored.resource.clone();
    rules::cancel(&mut dispatch, &request.reason, now)?;
    save_dispatch(&txn, tenant, id, &stored, &mut dispatch).await?;
    refresh_request(&txn, tenant, request_id, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(dispatch))
}
