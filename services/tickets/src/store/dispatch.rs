//! Service requests and dispatches: each kept whole as encoded protobuf
//! beside the columns the lists and the carry-over scan filter on, and the
//! per-tenant counters of request and voucher numbers.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    events::from_timestamp,
    resource::{etag, etag_matches},
};
use kefu_proto::v1::{Dispatch, DispatchState, ServiceRequest};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryResult, Value,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::rows::{self, ident};
use crate::domain::dispatch::{day_key, day_of};

fn custom(error: impl ToString) -> DbErr {
    DbErr::Custom(error.to_string())
}

/// A stored resource and its revision (the etag filled in).
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<T> {
    /// The resource as the API returns it.
    pub resource: T,
    /// Its revision.
    pub revision: i64,
}

impl<T> Stored<T> {
    /// Whether `sent` (empty: no check) is the current etag.
    pub fn etag_matches(&self, sent: &str) -> bool {
        etag_matches(sent, self.revision)
    }
}

fn decode<T: Message + Default>(row: &QueryResult) -> Result<(T, i64), DbErr> {
    let bytes: Vec<u8> = row.try_get("", "resource")?;
    let revision: i64 = row.try_get("", "revision")?;
    Ok((T::decode(bytes.as_slice()).map_err(custom)?, revision))
}

fn time(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    timestamp.and_then(from_timestamp)
}

fn non_empty(text: &str) -> Value {
    if text.is_empty() {
        Option::<String>::None.into()
    } else {
        Some(text.to_owned()).into()
    }
}

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

/// Takes the tenant's next number of `column` (`last_request_number` or
/// `last_voucher_number`), creating the tenant's counters at the first.
async fn next_number<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    column: &'static str,
) -> Result<i64, DbErr> {
    let counters = ["last_request_number", "last_voucher_number"];
    rows::next_in_counter(db, "dispatch_counters", tenant, &counters, column)
        .await?
        .ok_or_else(|| custom("the counter returned no row"))
}

/// The tenant's next request number (1, 2, …).
pub async fn next_request_number<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<i64, DbErr> {
    next_number(db, tenant, "last_request_number").await
}

/// The tenant's next generated voucher number (1, 2, …).
pub async fn next_voucher_number<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<i64, DbErr> {
    next_number(db, tenant, "last_voucher_number").await
}

/// Every tenant that ever created a service request (across tenants, for
/// the carry-over scan).
pub async fn known_tenants(db: &sea_orm::DatabaseConnection) -> Result<Vec<TenantId>, DbErr> {
    rows::tenants_in(db, "dispatch_counters").await
}

// ---------------------------------------------------------------------------
// Service requests
// ---------------------------------------------------------------------------

/// The columns of `request` an update rewrites (the revision aside).
fn request_columns(request: &ServiceRequest) -> Vec<(&'static str, Value)> {
    let mut stored = request.clone();
    stored.etag.clear();
    vec![
        ("state", request.state.into()),
        ("customer", request.customer.clone().into()),
        ("ticket", non_empty(&request.ticket)),
        ("resource", stored.encode_to_vec().into()),
        ("update_time", time(request.update_time.as_ref()).into()),
    ]
}

/// Inserts request `id` at revision 1.
pub async fn insert_request<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    request: &ServiceRequest,
) -> Result<(), DbErr> {
    let mut columns = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("request_number", request.number.clone().into()),
        ("create_time", time(request.create_time.as_ref()).into()),
        ("revision", 1i64.into()),
    ];
    columns.extend(request_columns(request));
    rows::insert_row(db, "service_requests", columns).await
}

fn select_requests(tenant: TenantId) -> SelectStatement {
    rows::select_resources("service_requests", tenant)
}

fn stored_request(row: &QueryResult) -> Result<Stored<ServiceRequest>, DbErr> {
    let (mut request, revision): (ServiceRequest, i64) = decode(row)?;
    request.etag = etag(revision);
    Ok(Stored {
        resource: request,
        revision,
    })
}

/// Request `id` of `tenant`, if it exists; with `for_update` locked until
/// the transaction ends (PostgreSQL; SQLite serialises writers).
pub async fn get_request<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    for_update: bool,
) -> Result<Option<Stored<ServiceRequest>>, DbErr> {
    let statement = select_requests(tenant)
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, for_update, stored_request).await
}

/// Every request of `tenant` (the lists filter and order in memory).
pub async fn requests<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<ServiceRequest>, DbErr> {
    let statement = select_requests(tenant)
        .order_by(ident("create_time"), Order::Asc)
        .to_owned();
    db.query_all(&statement)
        .await?
        .iter()
        .map(|row| stored_request(row).map(|stored| stored.resource))
        .collect()
}

/// Replaces request `id` if still at revision `expected`; false when stale.
pub async fn replace_request<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    expected: i64,
    request: &ServiceRequest,
) -> Result<bool, DbErr> {
    let mut statement = Query::update();
    statement.table(ident("service_requests"));
    for (column, value) in request_columns(request) {
        statement.value(ident(column), value);
    }
    rows::replace_at_revision(db, statement, tenant, id, expected).await
}

/// Deletes request `id` and its dispatches.
pub async fn delete_request<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
) -> Result<(), DbErr> {
    let dispatches = Query::delete()
        .from_table(ident("dispatches"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("service_request_id")).eq(id))
        .to_owned();
    db.execute(&dispatches).await?;
    let request = Query::delete()
        .from_table(ident("service_requests"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    db.execute(&request).await.map(|_| ())
}

// ---------------------------------------------------------------------------
// Dispatches
// ---------------------------------------------------------------------------

/// The columns of `dispatch` an update rewrites (the revision aside).
fn dispatch_columns(dispatch: &Dispatch) -> Vec<(&'static str, Value)> {
    let mut stored = dispatch.clone();
    stored.etag.clear();
    stored.queue_position = 0;
    let queued = dispatch.state == DispatchState::Queued as i32;
    let queue_date: Option<String> = dispatch
        .queue_date
        .as_ref()
        .and_then(day_of)
        .filter(|_| queued)
        .map(day_key);
    vec![
        ("state", dispatch.state.into()),
        ("technician", non_empty(&dispatch.technician)),
        ("voucher_number", non_empty(&dispatch.voucher_number)),
        ("queue_date", queue_date.into()),
        ("resource", stored.encode_to_vec().into()),
        ("update_time", time(dispatch.update_time.as_ref()).into()),
    ]
}

/// Inserts dispatch `id` of request `request` at revision 1; a voucher
/// number in use is a unique violation.
pub async fn insert_dispatch<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    request: Uuid,
    id: Uuid,
    dispatch: &Dispatch,
) -> Result<(), DbErr> {
    let mut columns = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("service_request_id", request.into()),
        ("create_time", time(dispatch.create_time.as_ref()).into()),
        ("revision", 1i64.into()),
    ];
    columns.extend(dispatch_columns(dispatch));
    rows::insert_row(db, "dispatches", columns).await
}

fn select_dispatches(tenant: TenantId) -> SelectStatement {
    rows::select_resources("dispatches", tenant)
}

fn stored_dispatch(row: &QueryResult) -> Result<Stored<Dispatch>, DbErr> {
    let (mut dispatch, revision): (Dispatch, i64) = decode(row)?;
    dispatch.etag = etag(revision);
    Ok(Stored {
        resource: dispatch,
        revision,
    })
}

async fn all<C: ConnectionTrait>(
    db: &C,
    statement: SelectStatement,
) -> Result<Vec<Stored<Dispatch>>, DbErr> {
    db.query_all(&statement)
        .await?
        .iter()
        .map(stored_dispatch)
        .collect()
}

/// Dispatch `id` of request `request` in `tenant`, if it exists; with
/// `for_update` locked (PostgreSQL).
pub async fn get_dispatch<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    request: Uuid,
    id: Uuid,
    for_update: bool,
) -> Result<Option<Stored<Dispatch>>, DbErr> {
    let statement = select_dispatches(tenant)
        .and_where(Expr::col(ident("service_request_id")).eq(request))
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, for_update, stored_dispatch).await
}

/// The dispatches of request `request`, in the order created.
pub async fn dispatches_of<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    request: Uuid,
) -> Result<Vec<Stored<Dispatch>>, DbErr> {
    let statement = select_dispatches(tenant)
        .and_where(Expr::col(ident("service_request_id")).eq(request))
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .to_owned();
    all(db, statement).await
}

/// Every dispatch of `tenant`, in the order created.
pub async fn dispatches<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<Stored<Dispatch>>, DbErr> {
    let statement = select_dispatches(tenant)
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc)
        .to_owned();
    all(db, statement).await
}

/// The QUEUED dispatches of `tenant` (the dispatch queue, unordered).
pub async fn queued<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<Stored<Dispatch>>, DbErr> {
    let statement = select_dispatches(tenant)
        .and_where(Expr::col(ident("state")).eq(DispatchState::Queued as i32))
        .to_owned();
    all(db, statement).await
}

/// The QUEUED dispatches of `tenant` queued on a day before `today`
/// (`YYYY-MM-DD`), for the carry-over; locked on PostgreSQL.
pub async fn queued_before<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    today: &str,
) -> Result<Vec<Stored<Dispatch>>, DbErr> {
    let mut statement = select_dispatches(tenant)
        .and_where(Expr::col(ident("state")).eq(DispatchState::Queued as i32))
        .and_where(Expr::col(ident("queue_date")).lt(today))
        .to_owned();
    if db.get_database_backend() == DbBackend::Postgres {
        statement.lock_exclusive();
    }
    all(db, statement).await
}

/// Whether voucher `number` is used by a dispatch of `tenant` other than
/// `except`.
pub async fn voucher_in_use<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    number: &str,
    except: Uuid,
) -> Result<bool, DbErr> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident("dispatches"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("voucher_number")).eq(number))
        .and_where(Expr::col(ident("id")).ne(except))
        .to_owned();
    Ok(db.query_one(&statement).await?.is_some())
}

/// Replaces dispatch `id` if still at revision `expected`; false when
/// stale. A voucher number in use is a unique violation.
pub async fn replace_dispatch<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    expected: i64,
    dispatch: &Dispatch,
) -> Result<bool, DbErr> {
    let mut statement = Query::update();
    statement.table(ident("dispatches"));
    for (column, value) in dispatch_columns(dispatch) {
        statement.value(ident(column), value);
    }
    rows::replace_at_revision(db, statement, tenant, id, expected).await
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use kefu_kit::{
        db::begin_for_tenant,
        events::to_timestamp,
        testing::{Backend, TestDatabase},
    };
    use kefu_proto::v1::{ServiceRequestState, ServiceType};

    use super::*;
    use crate::domain::dispatch::{date_of, dispatch_name, request_name, request_number};

    async fn round_trip(backend: Backend) {
        let Some(database) = TestDatabase::new(backend, "tickets").await else {
            return;
        };
        let tenant = TenantId::new();
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        assert_eq!(next_request_number(&txn, tenant).await.expect("number"), 1);
        assert_eq!(next_request_number(&txn, tenant).await.expect("number"), 2);
        assert_eq!(next_voucher_number(&txn, tenant).await.expect("voucher"), 1);
        let now = Utc::now();
        let id = Uuid::now_v7();
        let request = ServiceRequest {
            name: request_name(id),
            number: request_number(1),
            customer: "customers/c1".into(),
            service_type: ServiceType::APaid as i32,
            state: ServiceRequestState::Open as i32,
            create_time: Some(to_timestamp(now)),
            update_time: Some(to_timestamp(now)),
            ..ServiceRequest::default()
        };
        insert_request(&txn, tenant, id, &request)
            .await
            .expect("insert request");
        let stored = get_request(&txn, tenant, id, true)
            .await
            .expect("get")
            .expect("found");
        assert_eq!(stored.revision, 1);
        assert!(
            get_request(&txn, TenantId::new(), id, false)
                .await
                .expect("get")
                .is_none()
        );
        let monday = NaiveDate::from_ymd_opt(2026, 11, 30).expect("day");
        let mut ids = Vec::new();
        for voucher in ["SV-1", ""] {
            let dispatch_id = Uuid::now_v7();
            let dispatch = Dispatch {
                name: dispatch_name(id, dispatch_id),
                state: DispatchState::Queued as i32,
                voucher_number: voucher.into(),
                queue_date: Some(date_of(monday)),
                create_time: Some(to_timestamp(now)),
                update_time: Some(to_timestamp(now)),
                ..Dispatch::default()
            };
            insert_dispatch(&txn, tenant, id, dispatch_id, &dispatch)
                .await
                .expect("insert dispatch");
            ids.push(dispatch_id);
        }
        assert!(
            voucher_in_use(&txn, tenant, "SV-1", ids[1])
                .await
                .expect("in use")
        );
        assert!(
            !voucher_in_use(&txn, tenant, "SV-1", ids[0])
                .await
                .expect("own")
        );
        assert_eq!(dispatches_of(&txn, tenant, id).await.expect("of").len(), 2);
        assert_eq!(
            queued_before(&txn, tenant, "2026-12-01")
                .await
                .expect("late")
                .len(),
            2
        );
        assert!(
            queued_before(&txn, tenant, "2026-11-30")
                .await
                .expect("late")
                .is_empty()
        );
        let mut second = get_dispatch(&txn, tenant, id, ids[1], true)
            .await
            .expect("get")
            .expect("found");
        second.resource.voucher_number = "SV-1".into();
        let taken = replace_dispatch(&txn, tenant, ids[1], second.revision, &second.resource).await;
        assert!(taken.is_err_and(|error| kefu_kit::db::is_unique_violation(&error)));
        txn.rollback().await.expect("rollback");
        let txn = begin_for_tenant(&database.db, tenant).await.expect("begin");
        next_request_number(&txn, tenant).await.expect("number");
        txn.commit().await.expect("commit");
        assert!(
            known_tenants(&database.db)
                .await
                .expect("tenants")
                .contains(&tenant)
        );
    }

    #[tokio::test]
    async fn sqlite_round_trip() {
        round_trip(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_round_trip() {
        round_trip(Backend::Postgres).await;
    }
}
