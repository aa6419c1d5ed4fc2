//! The reads: a dispatch, the lists of requests and dispatches, and the
//! manager's dispatch board (ListDispatchQueue).

use std::{cmp::Ordering, collections::HashMap};

use chrono::{DateTime, Utc};
use kefu_kit::events::from_timestamp;
use kefu_proto::v1::{
    Dispatch, DispatchState, GetDispatchRequest, ListDispatchQueueRequest,
    ListDispatchQueueResponse, ListDispatchesRequest, ListDispatchesResponse,
    ListServiceRequestsRequest, ListServiceRequestsResponse, OutOfTownApproval, ServiceRequest,
    ServiceRequestState, ServiceType,
};
use prost_types::Timestamp;
use tonic::{Request, Response, Status};

use super::{fill_positions, load_dispatch, load_request, paginate, queue};
use crate::{
    api::{Shared, caller},
    domain::{
        dispatch::{Result, day_of, request_id_of},
        dispatch_filter::{self as filter, OrderKey, Value},
    },
    error::TicketsError,
    store::dispatch as store,
};

fn time(timestamp: Option<&Timestamp>) -> Value {
    Value::Time(timestamp.and_then(from_timestamp))
}

fn service_type(value: i32) -> Value {
    Value::Enum(
        ServiceType::try_from(value)
            .unwrap_or_default()
            .as_str_name(),
        "SERVICE_TYPE_",
    )
}

fn request_field(request: &ServiceRequest, field: &str) -> Value {
    let address = request.address.clone().unwrap_or_default();
    match field {
        "state" => Value::Enum(
            ServiceRequestState::try_from(request.state)
                .unwrap_or_default()
                .as_str_name(),
            "SERVICE_REQUEST_STATE_",
        ),
        "service_type" => service_type(request.service_type),
        "customer" => Value::Text(request.customer.clone()),
        "ticket" => Value::Text(request.ticket.clone()),
        "out_of_town" => Value::Bool(request.out_of_town),
        "out_of_town_approval" => Value::Enum(
            OutOfTownApproval::try_from(request.out_of_town_approval)
                .unwrap_or_default()
                .as_str_name(),
            "OUT_OF_TOWN_APPROVAL_",
        ),
        "product_model" => Value::Text(request.product_model.clone()),
        "serial_number" => Value::Text(request.serial_number.clone()),
        "address.locality" => Value::Text(address.locality),
        "address.sublocality" => Value::Text(address.sublocality),
        "create_time" => time(request.create_time.as_ref()),
        "update_time" => time(request.update_time.as_ref()),
        _ => Value::Text(String::new()),
    }
}

fn dispatch_field(dispatch: &Dispatch, field: &str) -> Value {
    match field {
        "state" => Value::Enum(
            DispatchState::try_from(dispatch.state)
                .unwrap_or_default()
                .as_str_name(),
            "DISPATCH_STATE_",
        ),
        "technician" => Value::Text(dispatch.technician.clone()),
        "service_type" => service_type(dispatch.service_type),
        "customer" => Value::Text(dispatch.customer.clone()),
        "ticket" => Value::Text(dispatch.ticket.clone()),
        "carried_over" => Value::Bool(dispatch.carried_over),
        "carried_over_days" => Value::Number(i64::from(dispatch.carried_over_days)),
        "queue_date" => Value::Day(dispatch.queue_date.as_ref().and_then(day_of)),
        "charged" => Value::Bool(dispatch.charged),
        "invoiced" => Value::Bool(dispatch.invoiced),
        "voucher_number" => Value::Text(dispatch.voucher_number.clone()),
        "appointment_window.start_time" => time(
            dispatch
                .appointment_window
                .as_ref()
                .and_then(|window| window.start_time.as_ref()),
        ),
        "complete_time" => time(dispatch.complete_time.as_ref()),
        "create_time" => time(dispatch.create_time.as_ref()),
        _ => Value::Text(String::new()),
    }
}

fn sort_time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Time(time) => *time,
        _ => None,
    }
}

/// Orders by time keys; unset times last whatever the direction.
fn order_by<T>(items: &mut [T], keys: &[OrderKey], field: impl Fn(&T, &str) -> Value) {
    items.sort_by(|a, b| {
        for key in keys {
            let (x, y) = (
                sort_time(&field(a, &key.field)),
                sort_time(&field(b, &key.field)),
            );
            let ordering = match (x, y) {
                (Some(x), Some(y)) if key.descending => y.cmp(&x),
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
}

const REQUEST_FILTER: &[&str] = &[
    "state",
    "service_type",
    "customer",
    "ticket",
    "out_of_town",
    "out_of_town_approval",
    "product_model",
    "serial_number",
    "address.locality",
    "create_time",
];

/// ListServiceRequests.
pub(in crate::api) async fn list_service_requests(
    shared: &Shared,
    request: Request<ListServiceRequestsRequest>,
) -> Result<Response<ListServiceRequestsResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let filter = filter::parse(&request.filter, REQUEST_FILTER)?;
    let order = filter::parse_order(
        &request.order_by,
        &["create_time", "update_time"],
        "create_time",
    )?;
    let txn = shared.begin_read(tenant).await?;
    let mut requests: Vec<ServiceRequest> = store::requests(&txn, tenant)
        .await
        .map_err(TicketsError::from)?
        .into_iter()
        .filter(|request| filter.matches(|field| request_field(request, field)))
        .collect();
    txn.commit().await.map_err(TicketsError::from)?;
    order_by(&mut requests, &order, request_field);
    let (service_requests, next_page_token, total_size) =
        paginate(requests, &request.page_token, request.page_size)?;
    Ok(Response::new(ListServiceRequestsResponse {
        service_requests,
        next_page_token,
        total_size,
    }))
}

const QUEUE_FILTER: &[&str] = &[
    "service_type",
    "carried_over",
    "out_of_town",
    "out_of_town_approval",
    "address.locality",
    "address.sublocality",
];

/// ListDispatchQueue: every QUEUED dispatch in the queue's order (carried
/// over first), positions counted over the whole queue.
pub(in crate::api) async fn list_dispatch_queue(
    shared: &Shared,
    request: Request<ListDispatchQueueRequest>,
) -> Result<Response<ListDispatchQueueResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let filter = filter::parse(&request.filter, QUEUE_FILTER)?;
    let txn = shared.begin_read(tenant).await?;
    let queue = queue(&txn, tenant).await?;
    let mut requests: HashMap<String, ServiceRequest> = HashMap::new();
    let mut dispatches = Vec::with_capacity(queue.len());
    for dispatch in queue {
        let parent = crate::domain::dispatch::parent_of(&dispatch.name).unwrap_or_default();
        if !requests.contains_key(&parent) {
            let (_, stored) = load_request(&txn, tenant, &parent, "parent", false).await?;
            requests.insert(parent.clone(), stored.resource);
        }
        let owner = &requests[&parent];
        let matches = filter.matches(|field| match field {
            "service_type" | "carried_over" => dispatch_field(&dispatch, field),
            _ => request_field(owner, field),
        });
        if matches {
            dispatches.push(dispatch);
        }
    }
    txn.commit().await.map_err(TicketsError::from)?;
    let (dispatches, next_page_token, total_size) =
        paginate(dispatches, &request.page_token, request.page_size)?;
    Ok(Response::new(ListDispatchQueueResponse {
        dispatches,
        next_page_token,
        total_size,
    }))
}

/// GetDispatch.
pub(in crate::api) async fn get_dispatch(
    shared: &Shared,
    request: Request<GetDispatchRequest>,
) -> Result<Response<Dispatch>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = request.into_inner().name;
    let txn = shared.begin_read(tenant).await?;
    let (_, _, stored) = load_dispatch(&txn, tenant, &name, "", false).await?;
    let mut dispatch = stored.resource;
    fill_positions(&txn, tenant, std::slice::from_mut(&mut dispatch)).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(dispatch))
}

const DISPATCH_FILTER: &[&str] = &[
    "state",
    "technician",
    "service_type",
    "customer",
    "ticket",
    "carried_over",
    "carried_over_days",
    "queue_date",
    "charged",
    "invoiced",
    "voucher_number",
    "appointment_window.start_time",
    "complete_time",
    "create_time",
];

/// ListDispatches: of one request, or of all with `serviceRequests/-`.
pub(in crate::api) async fn list_dispatches(
    shared: &Shared,
    request: Request<ListDispatchesRequest>,
) -> Result<Response<ListDispatchesResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let filter = filter::parse(&request.filter, DISPATCH_FILTER)?;
    let order = filter::parse_order(
        &request.order_by,
        &[
            "create_time",
            "appointment_window.start_time",
            "complete_time",
        ],
        "create_time",
    )?;
    let txn = shared.begin_read(tenant).await?;
    let stored = if request.parent == "serviceRequests/-" {
        store::dispatches(&txn, tenant)
            .await
            .map_err(TicketsError::from)?
    } else {
        let (id, _) = load_request(&txn, tenant, &request.parent, "parent", false).await?;
        debug_assert_eq!(request_id_of(&request.parent), Some(id));
        store::dispatches_of(&txn, tenant, id)
            .await
            .map_err(TicketsError::from)?
    };
    let mut dispatches: Vec<Dispatch> = stored
        .into_iter()
        .map(|stored| stored.resource)
        .filter(|dispatch| filter.matches(|field| dispatch_field(dispatch, field)))
        .collect();
    order_by(&mut dispatches, &order, dispatch_field);
    let (mut dispatches, next_page_token, total_size) =
        paginate(dispatches, &request.page_token, request.page_size)?;
    fill_positions(&txn, tenant, &mut dispatches).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(ListDispatchesResponse {
        dispatches,
        next_page_token,
        total_size,
    }))
}
