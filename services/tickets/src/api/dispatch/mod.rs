//! Service requests (服务登记) and dispatch (派工): technicians,
//! appointments, sign-off, countersignature. `requests` holds the request
//! methods, `visits` the dispatch transitions, `lists` the reads; this
//! module the loading and saving they share.

mod lists;
mod requests;
mod visits;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kefu_kit::{
    context::{CallContext, PrincipalKind, TenantId},
    events::to_timestamp,
};
use kefu_proto::v1::{Dispatch, Role, ServiceRequest};
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

pub(super) use self::{lists::*, requests::*, visits::*};
use crate::{
    domain::dispatch::{
        self as rules, DEFAULT_CURRENCY, DispatchError, Result, dispatch_id_of, local_day,
        order_queue, request_id_of,
    },
    error::TicketsError,
    store::{
        directory,
        dispatch::{self as store, Stored},
    },
};

/// A request id: at most 100 characters.
fn check_request_id(request_id: &str) -> Result<()> {
    if request_id.chars().count() > 100 {
        return Err(TicketsError::invalid(
            "request_id",
            "request_id is longer than 100 characters",
        )
        .into());
    }
    Ok(())
}

fn not_found(name: &str) -> DispatchError {
    TicketsError::not_found(name).into()
}

/// The request `name` of `tenant` (NOT_FOUND when missing, malformed or
/// another tenant's: the same answer); locked with `for_update`.
async fn load_request(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    field: &str,
    for_update: bool,
) -> Result<(Uuid, Stored<ServiceRequest>)> {
    if name.is_empty() {
        return Err(TicketsError::invalid(field, format!("{field} is required")).into());
    }
    let id = request_id_of(name).ok_or_else(|| not_found(name))?;
    let stored = store::get_request(txn, tenant, id, for_update)
        .await?
        .ok_or_else(|| not_found(name))?;
    Ok((id, stored))
}

/// The dispatch `name` of `tenant`, locked with `for_update`, after
/// checking `etag` (ABORTED when stale).
async fn load_dispatch(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    etag: &str,
    for_update: bool,
) -> Result<(Uuid, Uuid, Stored<Dispatch>)> {
    if name.is_empty() {
        return Err(TicketsError::invalid("name", "name is required").into());
    }
    let (request, id) = dispatch_id_of(name).ok_or_else(|| not_found(name))?;
    let stored = store::get_dispatch(txn, tenant, request, id, for_update)
        .await?
        .ok_or_else(|| not_found(name))?;
    if !stored.etag_matches(etag) {
        return Err(TicketsError::StaleEtag(name.to_owned()).into());
    }
    Ok((request, id, stored))
}

/// Stores `request` over its stored revision; ABORTED when stale.
async fn save_request(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: Uuid,
    stored: &Stored<ServiceRequest>,
    request: &mut ServiceRequest,
    now: DateTime<Utc>,
) -> Result<()> {
    request.update_time = Some(to_timestamp(now));
    if !store::replace_request(txn, tenant, id, stored.revision, request).await? {
        return Err(TicketsError::StaleEtag(request.name.clone()).into());
    }
    request.etag = kefu_kit::resource::etag(stored.revision + 1);
    Ok(())
}

/// Stores `dispatch` over its stored revision; ABORTED when stale,
/// ALREADY_EXISTS (`VOUCHER_NUMBER_IN_USE`) when its voucher was taken
/// meanwhile.
async fn save_dispatch(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: Uuid,
    stored: &Stored<Dispatch>,
    dispatch: &mut Dispatch,
) -> Result<()> {
    match store::replace_dispatch(txn, tenant, id, stored.revision, dispatch).await {
        Ok(true) => {}
        Ok(false) => return Err(TicketsError::StaleEtag(dispatch.name.clone()).into()),
        Err(error) if kefu_kit::db::is_unique_violation(&error) => {
            return Err(voucher_in_use(&dispatch.voucher_number));
        }
        Err(error) => return Err(error.into()),
    }
    dispatch.etag = kefu_kit::resource::etag(stored.revision + 1);
    Ok(())
}

fn voucher_in_use(number: &str) -> DispatchError {
    TicketsError::AlreadyExists(
        format!("voucher number {number} is already used by another dispatch"),
        Some("VOUCHER_NUMBER_IN_USE"),
    )
    .into()
}

/// Recomputes the state of request `id` from its dispatches and stores it
/// when it changed; returns the request as stored.
async fn refresh_request(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<ServiceRequest> {
    let stored = store::get_request(txn, tenant, id, true)
        .await?
        .ok_or_else(|| not_found(&rules::request_name(id)))?;
    let dispatches: Vec<Dispatch> = store::dispatches_of(txn, tenant, id)
        .await?
        .into_iter()
        .map(|stored| stored.resource)
        .collect();
    let state = rules::request_state(&dispatches) as i32;
    let mut request = stored.resource.clone();
    if request.state != state {
        request.state = state;
        save_request(txn, tenant, id, &stored, &mut request, now).await?;
    }
    Ok(request)
}

/// What the dispatch rules read of the tenant: its time zone and currency.
struct Profile {
    time_zone: String,
    currency: String,
}

async fn profile(txn: &DatabaseTransaction, tenant: TenantId) -> Result<Profile> {
    let known = directory::tenant(txn, tenant).await?;
    let time_zone = known
        .as_ref()
        .map(|tenant| tenant.time_zone.clone())
        .unwrap_or_default();
    let currency = known
        .as_ref()
        .and_then(|tenant| tenant.settings.as_ref())
        .map(|settings| settings.currency_code.clone())
        .filter(|code| !code.is_empty())
        .unwrap_or_else(|| DEFAULT_CURRENCY.to_owned());
    Ok(Profile {
        time_zone,
        currency,
    })
}

/// The tenant-local day of `now`.
async fn today(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<NaiveDate> {
    Ok(local_day(now, &profile(txn, tenant).await?.time_zone))
}

/// The tenant's dispatch queue in order, positions numbered.
async fn queue(txn: &DatabaseTransaction, tenant: TenantId) -> Result<Vec<Dispatch>> {
    let mut queue: Vec<Dispatch> = store::queued(txn, tenant)
        .await?
        .into_iter()
        .map(|stored| stored.resource)
        .collect();
    order_queue(&mut queue);
    Ok(queue)
}

/// Fills `queue_position` of the QUEUED dispatches among `dispatches`.
async fn fill_positions(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    dispatches: &mut [Dispatch],
) -> Result<()> {
    if !dispatches
        .iter()
        .any(|d| d.state == kefu_proto::v1::DispatchState::Queued as i32)
    {
        return Ok(());
    }
    let positions: HashMap<String, i32> = queue(txn, tenant)
        .await?
        .into_iter()
        .map(|d| (d.name, d.queue_position))
        .collect();
    for dispatch in dispatches {
        dispatch.queue_position = positions.get(&dispatch.name).copied().unwrap_or(0);
    }
    Ok(())
}

/// A technician records only the visits dispatched to them; staff (agents,
/// supervisors, managers, admins) and keys record any.
fn check_field_caller(context: &CallContext, dispatch: &Dispatch) -> Result<()> {
    if context.principal.kind != PrincipalKind::User {
        return Ok(());
    }
    let holds = |role: Role| {
        context
            .principal
            .roles
            .iter()
            .any(|held| held == role.as_str_name())
    };
    let staff = [Role::Agent, Role::Supervisor, Role::Manager, Role::Admin]
        .into_iter()
        .any(holds);
    let own = dispatch.technician == format!("users/{}", context.principal.id);
    if staff || own {
        Ok(())
    } else {
        Err(TicketsError::PermissionDenied(format!(
            "{} is dispatched to another technician",
            dispatch.name
        ))
        .into())
    }
}

/// Offsets as page tokens: the lists are filtered and ordered in memory.
fn page_offset(token: &str) -> Result<usize> {
    if token.is_empty() {
        return Ok(0);
    }
    token.parse().map_err(|_| {
        TicketsError::invalid("page_token", "page_token is not one this list gave").into()
    })
}

/// The page of `items` from `token`, and the next token.
fn paginate<T>(items: Vec<T>, token: &str, requested: i32) -> Result<(Vec<T>, String, i32)> {
    let size = super::page_size(requested)?;
    let offset = page_offset(token)?;
    let total = i32::try_from(items.len()).unwrap_or(i32::MAX);
    let end = offset.saturating_add(size).min(items.len());
    let next = if end < items.len() {
        end.to_string()
    } else {
        String::new()
    };
    let page = items.into_iter().skip(offset).take(size).collect();
    Ok((page, next, total))
}

#[cfg(test)]
mod tests {
    use kefu_kit::context::Principal;

    use super::*;

    fn user(id: &str, roles: &[Role]) -> CallContext {
        CallContext {
            tenant_id: Some(TenantId::new()),
            principal: Principal {
                kind: PrincipalKind::User,
                id: id.into(),
                roles: roles
                    .iter()
                    .map(|role| role.as_str_name().to_owned())
                    .collect(),
                session: None,
                approval_level: 0,
            },
        }
    }

    #[test]
    fn a_technician_records_only_their_own_visits() {
        let dispatch = Dispatch {
            name: "serviceRequests/r/dispatches/d".into(),
            technician: "users/t1".into(),
            ..Dispatch::default()
        };
        assert!(check_field_caller(&user("t1", &[Role::Technician]), &dispatch).is_ok());
        let error = check_field_caller(&user("t2", &[Role::Technician]), &dispatch)
            .expect_err("another technician");
        assert!(matches!(
            error,
            DispatchError::Tickets(TicketsError::PermissionDenied(_))
        ));
        assert!(check_field_caller(&user("m1", &[Role::Manager]), &dispatch).is_ok());
        assert!(check_field_caller(&user("a1", &[Role::Agent]), &dispatch).is_ok());
    }

    #[test]
    fn pages_are_offsets_into_the_filtered_list() {
        let (page, next, total) = paginate((1..=5).collect::<Vec<_>>(), "", 2).expect("page");
        assert_eq!((page, next.as_str(), total), (vec![1, 2], "2", 5));
        let (page, next, _) = paginate((1..=5).collect::<Vec<_>>(), "4", 2).expect("page");
        assert_eq!((page, next.as_str()), (vec![5], ""));
        assert!(paginate(vec![1], "x", 2).is_err());
        assert!(paginate(vec![1], "", -1).is_err());
    }
}
