//! Ticket kinds (工单类型): `CreateTicketKind`, `GetTicketKind`,
//! `ListTicketKinds`, `UpdateTicketKind`, `DeleteTicketKind`.

use kefu_kit::{context::TenantId, events::to_timestamp, resource};
use kefu_proto::v1::{
    CreateTicketKindRequest, DeleteTicketKindRequest, GetTicketKindRequest, Industry,
    ListTicketKindsRequest, ListTicketKindsResponse, TicketBaseKind, TicketKind,
    UpdateTicketKindRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};

use super::{
    already_exists, apply_routing, at_etag, check_request_id, check_routing_teams, created,
    directed, in_use, inserted, key_in, mask_paths, recall, remember, unless_stale,
};
use crate::{
    api::{Shared, caller, page_size, required},
    domain::{
        taxonomy::{self as rules, KINDS},
        taxonomy_filter::{self as filter, enum_names},
    },
    error::{Result, TicketsError},
    store::{directory, taxonomy as store},
};

/// The paths `UpdateTicketKind` may change.
const MUTABLE: &[&str] = &[
    "labels",
    "description",
    "default_priority",
    "default_triage_class",
    "fields",
    "sla_policy",
    "routing",
    "active",
    "display_order",
];

/// The fields `ListTicketKinds` filters on.
const FILTERS: &[&str] = &["base_kind", "active", "sla_policy", "template_industry"];

/// The orders of `ListTicketKinds`.
const ORDERS: &[&str] = &["display_order", "key", "create_time"];

/// The references of a kind must exist for the tenant: its form's field
/// definitions, its SLA policy and its routing's teams (INVALID_ARGUMENT
/// `UNKNOWN_REFERENCE` naming the field).
async fn check_references(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    kind: &TicketKind,
    paths: Option<&[String]>,
) -> Result<()> {
    let changed = |path: &str| {
        paths.is_none_or(|paths| {
            paths
                .iter()
                .any(|changed| changed == path || changed.starts_with(&format!("{path}.")))
        })
    };
    if changed("fields") {
        let known = store::list_fields(txn, tenant).await?;
        for (index, field) in kind.fields.iter().enumerate() {
            if !known
                .iter()
                .any(|stored| stored.resource.name == field.field_definition)
            {
                let path = format!("ticket_kind.fields[{index}].field_definition");
                return Err(TicketsError::invalid_because(
                    &path,
                    format!(
                        "{} is not a field definition of the tenant",
                        field.field_definition
                    ),
                    "UNKNOWN_REFERENCE",
                ));
            }
        }
    }
    if changed("sla_policy")
        && !kind.sla_policy.is_empty()
        && !directory::sla_policies(txn, tenant)
            .await?
            .iter()
            .any(|policy| policy.name == kind.sla_policy)
    {
        return Err(TicketsError::invalid_because(
            "ticket_kind.sla_policy",
            format!("{} is not an SLA policy of the tenant", kind.sla_policy),
            "UNKNOWN_REFERENCE",
        ));
    }
    if changed("routing") {
        check_routing_teams(txn, tenant, "ticket_kind.routing", kind.routing.as_ref()).await?;
    }
    Ok(())
}

/// `CreateTicketKind`: admins add a kind to the taxonomy.
pub(crate) async fn create_ticket_kind(
    shared: &Shared,
    request: Request<CreateTicketKindRequest>,
) -> Result<Response<TicketKind>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let input = required(request.ticket_kind, "ticket_kind")?;
    let now = shared.now();
    let mut kind = TicketKind {
        name: format!("{KINDS}/{}", input.key),
        key: input.key,
        labels: input.labels,
        description: input.description,
        base_kind: input.base_kind,
        default_priority: input.default_priority,
        default_triage_class: input.default_triage_class,
        fields: input.fields,
        sla_policy: input.sla_policy,
        routing: input.routing,
        // Default true on create: a new kind is for use.
        active: true,
        display_order: input.display_order,
        template_industry: Industry::Unspecified as i32,
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        etag: resource::etag(1),
    };
    rules::check_kind(&mut kind)?;
    let txn = shared.begin(tenant).await?;
    if let Some(name) = recall(&txn, tenant, &request.request_id).await? {
        let key = key_in(&name, KINDS)?;
        let stored = store::get_kind(&txn, tenant, key, false)
            .await?
            .ok_or_else(|| TicketsError::not_found(&name))?;
        return Ok(Response::new(stored.resource));
    }
    if store::get_kind(&txn, tenant, &kind.key, false)
        .await?
        .is_some()
    {
        return Err(already_exists(&kind.name).into());
    }
    check_references(&txn, tenant, &kind, None).await?;
    inserted(
        store::insert_kind(&txn, tenant, &kind, now).await,
        &kind.name,
    )?;
    remember(
        &txn,
        tenant,
        &request.request_id,
        "CreateTicketKind",
        &kind.name,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(kind))
}

/// `GetTicketKind`.
pub(crate) async fn get_ticket_kind(
    shared: &Shared,
    request: Request<GetTicketKindRequest>,
) -> Result<Response<TicketKind>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = &request.get_ref().name;
    let key = key_in(name, KINDS)?;
    let txn = shared.begin_read(tenant).await?;
    let stored = store::get_kind(&txn, tenant, key, false)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(stored.resource))
}

/// A kind's values for the list filter.
fn filter_values(kind: &TicketKind, field: &str) -> Vec<String> {
    match field {
        "base_kind" => enum_names(
            TicketBaseKind::try_from(kind.base_kind)
                .unwrap_or_default()
                .as_str_name(),
            "TICKET_BASE_KIND_",
        ),
        "active" => vec![kind.active.to_string()],
        "sla_policy" => vec![kind.sla_policy.clone()],
        _ => enum_names(
            Industry::try_from(kind.template_industry)
                .unwrap_or_default()
                .as_str_name(),
            "INDUSTRY_",
        ),
    }
}

/// `ListTicketKinds`: by display order (then key) unless asked otherwise.
pub(crate) async fn list_ticket_kinds(
    shared: &Shared,
    request: Request<ListTicketKindsRequest>,
) -> Result<Response<ListTicketKindsResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let offset = filter::page_offset(&request.page_token)?;
    let conditions = filter::parse(&request.filter, FILTERS)?;
    let order = filter::parse_order(&request.order_by, ORDERS, "display_order")?;
    let txn = shared.begin_read(tenant).await?;
    let all = store::list_kinds(&txn, tenant).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    let mut kinds: Vec<TicketKind> = all
        .into_iter()
        .map(|stored| stored.resource)
        .filter(|kind| conditions.matches(|field| filter_values(kind, field)))
        .collect();
    kinds.sort_by(|a, b| {
        let ordering = match order.field.as_str() {
            "display_order" => a
                .display_order
                .cmp(&b.display_order)
                .then(a.key.cmp(&b.key)),
            "create_time" => created(a.create_time.as_ref())
                .cmp(&created(b.create_time.as_ref()))
                .then(a.key.cmp(&b.key)),
            _ => a.key.cmp(&b.key),
        };
        directed(ordering, order.desc)
    });
    let (ticket_kinds, next_page_token, total_size) = filter::page(kinds, offset, limit);
    Ok(Response::new(ListTicketKindsResponse {
        ticket_kinds,
        next_page_token,
        total_size,
    }))
}

/// `UpdateTicketKind`: `key` and `base_kind` are immutable.
pub(crate) async fn update_ticket_kind(
    shared: &Shared,
    request: Request<UpdateTicketKindRequest>,
) -> Result<Response<TicketKind>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let input = required(request.ticket_kind, "ticket_kind")?;
    let paths = mask_paths(request.update_mask, MUTABLE, "UpdateTicketKind")?;
    let key = key_in(&input.name, KINDS)?.to_owned();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = store::get_kind(&txn, tenant, &key, true).await?;
    let stored = at_etag(stored, &input.name, &input.etag)?;
    let mut kind = stored.resource.clone();
    for path in &paths {
        match path.as_str() {
            "labels" => kind.labels.clone_from(&input.labels),
            "description" => kind.description.clone_from(&input.description),
            "default_priority" => kind.default_priority = input.default_priority,
            "default_triage_class" => kind.default_triage_class = input.default_triage_class,
            "fields" => kind.fields.clone_from(&input.fields),
            "sla_policy" => kind.sla_policy.clone_from(&input.sla_policy),
            "active" => kind.active = input.active,
            "display_order" => kind.display_order = input.display_order,
            routing => apply_routing(routing, &mut kind.routing, input.routing.as_ref()),
        }
    }
    rules::check_kind(&mut kind)?;
    check_references(&txn, tenant, &kind, Some(&paths)).await?;
    kind.update_time = Some(to_timestamp(now));
    kind.etag = resource::etag(stored.revision + 1);
    unless_stale(
        store::replace_kind(&txn, tenant, &kind, stored.revision).await?,
        &input.name,
    )?;
    shared.commit(txn).await?;
    Ok(Response::new(kind))
}

/// `DeleteTicketKind`: only while no ticket, category or incident refers
/// to it.
pub(crate) async fn delete_ticket_kind(
    shared: &Shared,
    request: Request<DeleteTicketKindRequest>,
) -> Result<Response<()>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let key = key_in(&request.name, KINDS)?.to_owned();
    let txn = shared.begin(tenant).await?;
    let stored = store::get_kind(&txn, tenant, &key, true).await?;
    let stored = at_etag(stored, &request.name, &request.etag)?;
    let name = stored.resource.name.as_str();
    if store::any_ticket_with(&txn, tenant, "kind", name).await? {
        return Err(in_use(name, "tickets").into());
    }
    if let Some(category) = store::categories(&txn, tenant)
        .await?
        .iter()
        .find(|category| category.kinds.iter().any(|kind| kind == name))
    {
        return Err(in_use(name, &category.name).into());
    }
    if store::any_incident_with(&txn, tenant, name).await? {
        return Err(in_use(name, "an incident").into());
    }
    unless_stale(
        store::delete_kind(&txn, tenant, &key, stored.revision).await?,
        &request.name,
    )?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}
