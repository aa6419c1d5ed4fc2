//! Erasure on request (PIPL / GDPR): the customer becomes a tombstone, its
//! look-up rows, timeline and segment memberships go, the snapshots of its
//! merges are cleared, and `CustomerErased` tells every other service to
//! purge its copy. The `ErasureRecord` keeps the fact, never the data.

use std::collections::BTreeSet;

use kefu_kit::{events::to_timestamp, idempotency};
use kefu_proto::v1::{
    CustomerErased, CustomerState, EraseCustomerRequest, ErasureRecord, ErasureRequester,
    GetErasureRecordRequest, ListErasureRecordsRequest, ListErasureRecordsResponse,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, append_event, caller, classify,
    merges::{ACTIVITIES, actor_of, check_conditions, page_after},
    page_size,
    records::{check_request_id, customer_name, load},
};
use crate::{
    domain::{
        erasure::{check_request, tombstone},
        merge::{FieldKind, parse_filter},
    },
    error::{CustomersError, Result},
    store::{customers, erasure as store, merges},
};

fn record_name(id: Uuid) -> String {
    format!("erasureRecords/{id}")
}

/// The id in `erasureRecords/{id}`; NOT_FOUND for anything else.
fn record_id(name: &str) -> Result<Uuid> {
    kefu_kit::resource::id_in(name, "erasureRecords")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| CustomersError::not_found(name))
}

/// EraseCustomer.
pub(super) async fn erase_customer(
    shared: &Shared,
    request: Request<EraseCustomerRequest>,
) -> Result<Response<ErasureRecord>, Status> {
    Ok(Response::new(erase_customer_in(shared, request).await?))
}

async fn erase_customer_in(
    shared: &Shared,
    request: Request<EraseCustomerRequest>,
) -> Result<ErasureRecord> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    if request.name.is_empty() {
        return Err(CustomersError::invalid("name", "name is required"));
    }
    check_request(&request)?;
    check_request_id(&request.request_id)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id).await?
    {
        if remembered.method != "EraseCustomer" {
            return Err(CustomersError::invalid(
                "request_id",
                format!("request_id was used for {}", remembered.method),
            ));
        }
        let record = store::get(&txn, tenant.0, record_id(&remembered.resource_name)?)
            .await?
            .ok_or_else(|| CustomersError::not_found(&remembered.resource_name))?;
        return Ok(record);
    }
    let stored = load(&txn, tenant, &request.name, true).await?;
    let id = customers::id_of(&stored.customer.name)
        .unwrap_or_default()
        .to_owned();
    if stored.customer.state == CustomerState::Erased as i32 {
        let record = store::of_customer(&txn, tenant.0, &id)
            .await?
            .ok_or_else(|| {
                CustomersError::Internal(format!("{} is erased without a record", request.name))
            })?;
        return Ok(record);
    }

    // An ACTIVE customer takes along every customer merged into it, and
    // theirs in turn: their data is the same person's. A MERGED one is
    // erased alone (its survivor is another record).
    let mut erased = vec![id.clone()];
    if customers::is_active(&stored.customer) {
        let mut seen: BTreeSet<String> = erased.iter().cloned().collect();
        let mut index = 0;
        while index < erased.len() {
            for merged in merges::merged_into(&txn, tenant.0, &erased[index]).await? {
                if seen.insert(merged.clone()) {
                    erased.push(merged);
                }
            }
            index += 1;
        }
    }

    let record_uuid = Uuid::now_v7();
    let record = ErasureRecord {
        name: record_name(record_uuid),
        customer: stored.customer.name.clone(),
        merged_customers: erased[1..].iter().map(|id| customer_name(id)).collect(),
        reason: request.reason.trim().to_owned(),
        requested_by: request.requested_by,
        request_reference: request.request_reference.trim().to_owned(),
        actor: Some(actor_of(&context)),
        create_time: Some(to_timestamp(now)),
    };
    for customer_id in &erased {
        let current = if *customer_id == id {
            stored.clone()
        } else {
            load(&txn, tenant, &customer_name(customer_id), true).await?
        };
        let mut erased_customer = tombstone(&current.customer, now);
        // The row's update time is required; it says nothing about the person.
        erased_customer.update_time = erased_customer.erase_time;
        if !customers::replace(
            &txn,
            tenant.0,
            customer_id,
            current.revision,
            &erased_customer,
        )
        .await?
        {
            return Err(CustomersError::StaleEtag(current.customer.name));
        }
        customers::delete_lookups(&txn, tenant.0, customer_id).await?;
        classify::before_delete(&txn, tenant, customer_id).await?;
        merges::delete_rows(&txn, tenant.0, ACTIVITIES, customer_id).await?;
        merges::clear_snapshots(&txn, tenant.0, customer_id).await?;
        let event = CustomerErased {
            customer: current.customer.name.clone(),
            erasure_record: record.name.clone(),
        };
        append_event(&txn, tenant, &current.customer.name, &event, now).await?;
    }
    store::insert(&txn, tenant.0, record_uuid, &id, &record, &erased, now).await?;
    if !request.request_id.is_empty() {
        idempotency::remember(
            &txn,
            tenant.0,
            &request.request_id,
            "EraseCustomer",
            &record.name,
            now,
        )
        .await?;
    }
    shared.commit(txn).await?;
    Ok(record)
}

/// GetErasureRecord.
pub(super) async fn get_erasure_record(
    shared: &Shared,
    request: Request<GetErasureRecordRequest>,
) -> Result<Response<ErasureRecord>, Status> {
    Ok(Response::new(get_erasure_record_in(shared, request).await?))
}

async fn get_erasure_record_in(
    shared: &Shared,
    request: Request<GetErasureRecordRequest>,
) -> Result<ErasureRecord> {
    let (_, tenant) = caller(&request)?;
    let name = &request.get_ref().name;
    let id = record_id(name)?;
    let txn = shared.begin_read(tenant).await?;
    let record = store::get(&txn, tenant.0, id).await?;
    txn.commit().await?;
    record.ok_or_else(|| CustomersError::not_found(name))
}

/// The filter fields of ListErasureRecords.
const FILTER: &[(&str, FieldKind)] = &[
    ("customer", FieldKind::Equality),
    ("requested_by", FieldKind::Equality),
    ("create_time", FieldKind::Time),
];

/// ListErasureRecords.
pub(super) async fn list_erasure_records(
    shared: &Shared,
    request: Request<ListErasureRecordsRequest>,
) -> Result<Response<ListErasureRecordsResponse>, Status> {
    Ok(Response::new(
        list_erasure_records_in(shared, request).await?,
    ))
}

async fn list_erasure_records_in(
    shared: &Shared,
    request: Request<ListErasureRecordsRequest>,
) -> Result<ListErasureRecordsResponse> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let after = page_after(&request.page_token)?;
    let conditions = parse_filter(&request.filter, FILTER)?;
    check_conditions(&conditions, "requested_by", |value| {
        ErasureRequester::from_str_name(value)
            .or_else(|| ErasureRequester::from_str_name(&format!("ERASURE_REQUESTER_{value}")))
            .is_some()
    })?;
    let txn = shared.begin_read(tenant).await?;
    let (erasure_records, next, total) =
        store::list(&txn, tenant.0, &conditions, after.as_ref(), limit).await?;
    txn.commit().await?;
    Ok(ListErasureRecordsResponse {
        erasure_records,
        next_page_token: next.map(|after| after.token()).unwrap_or_default(),
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    })
}
