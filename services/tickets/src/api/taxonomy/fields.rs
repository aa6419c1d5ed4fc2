//! Custom-field definitions (自定义字段): `CreateTicketFieldDefinition`,
//! `GetTicketFieldDefinition`, `ListTicketFieldDefinitions`,
//! `UpdateTicketFieldDefinition`, `DeleteTicketFieldDefinition`. A
//! definition's `usages` are read from the kinds' forms.

use kefu_kit::{events::to_timestamp, resource};
use kefu_proto::v1::{
    CreateTicketFieldDefinitionRequest, DeleteTicketFieldDefinitionRequest,
    GetTicketFieldDefinitionRequest, Industry, ListTicketFieldDefinitionsRequest,
    ListTicketFieldDefinitionsResponse, TicketFieldDefinition, TicketFieldType, TicketFieldUsage,
    TicketKind, UpdateTicketFieldDefinitionRequest,
};
use tonic::{Request, Response, Status};

use super::{
    already_exists, at_etag, check_request_id, created, directed, in_use, inserted, key_in,
    mask_paths, recall, remember, unless_stale,
};
use crate::{
    api::{Shared, caller, page_size, required},
    domain::{
        taxonomy::{self as rules, FIELD_DEFINITIONS},
        taxonomy_filter::{self as filter, enum_names},
    },
    error::{Result, TicketsError},
    store::taxonomy as store,
};

/// The paths `UpdateTicketFieldDefinition` may change.
const MUTABLE: &[&str] = &[
    "labels",
    "description",
    "options",
    "max_length",
    "pattern",
    "min_value",
    "max_value",
    "active",
];

/// The fields `ListTicketFieldDefinitions` filters on.
const FILTERS: &[&str] = &["type", "active", "usages.kind", "template_industry"];

/// The orders of `ListTicketFieldDefinitions`.
const ORDERS: &[&str] = &["key", "create_time"];

/// `field` with its usages on `kinds`' forms.
fn with_usages(mut field: TicketFieldDefinition, kinds: &[TicketKind]) -> TicketFieldDefinition {
    field.usages = kinds
        .iter()
        .filter_map(|kind| {
            kind.fields
                .iter()
                .find(|on_form| on_form.field_definition == field.name)
                .map(|on_form| TicketFieldUsage {
                    kind: kind.name.clone(),
                    requirement: on_form.requirement,
                })
        })
        .collect();
    field
}

async fn kinds(
    txn: &sea_orm::DatabaseTransaction,
    tenant: kefu_kit::context::TenantId,
) -> Result<Vec<TicketKind>> {
    Ok(store::list_kinds(txn, tenant)
        .await?
        .into_iter()
        .map(|stored| stored.resource)
        .collect())
}

/// `CreateTicketFieldDefinition`: admins add a custom field.
pub(crate) async fn create_ticket_field_definition(
    shared: &Shared,
    request: Request<CreateTicketFieldDefinitionRequest>,
) -> Result<Response<TicketFieldDefinition>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let input = required(request.ticket_field_definition, "ticket_field_definition")?;
    let now = shared.now();
    let field = TicketFieldDefinition {
        name: format!("{FIELD_DEFINITIONS}/{}", input.key),
        key: input.key,
        r#type: input.r#type,
        labels: input.labels,
        description: input.description,
        options: input.options,
        max_length: input.max_length,
        pattern: input.pattern,
        min_value: input.min_value,
        max_value: input.max_value,
        // Default true on create: a new field takes values.
        active: true,
        usages: Vec::new(),
        template_industry: Industry::Unspecified as i32,
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        etag: resource::etag(1),
    };
    rules::check_field_definition(&field)?;
    let txn = shared.begin(tenant).await?;
    if let Some(name) = recall(&txn, tenant, &request.request_id).await? {
        let key = key_in(&name, FIELD_DEFINITIONS)?;
        let stored = store::get_field(&txn, tenant, key, false)
            .await?
            .ok_or_else(|| TicketsError::not_found(&name))?;
        let kinds = kinds(&txn, tenant).await?;
        return Ok(Response::new(with_usages(stored.resource, &kinds)));
    }
    if store::get_field(&txn, tenant, &field.key, false)
        .await?
        .is_some()
    {
        return Err(already_exists(&field.name).into());
    }
    inserted(
        store::insert_field(&txn, tenant, &field, now).await,
        &field.name,
    )?;
    remember(
        &txn,
        tenant,
        &request.request_id,
        "CreateTicketFieldDefinition",
        &field.name,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(field))
}

/// `GetTicketFieldDefinition`.
pub(crate) async fn get_ticket_field_definition(
    shared: &Shared,
    request: Request<GetTicketFieldDefinitionRequest>,
) -> Result<Response<TicketFieldDefinition>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = &request.get_ref().name;
    let key = key_in(name, FIELD_DEFINITIONS)?;
    let txn = shared.begin_read(tenant).await?;
    let stored = store::get_field(&txn, tenant, key, false)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))?;
    let kinds = kinds(&txn, tenant).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(with_usages(stored.resource, &kinds)))
}

/// A field's values for the list filter.
fn filter_values(field: &TicketFieldDefinition, name: &str) -> Vec<String> {
    match name {
        "type" => enum_names(
            TicketFieldType::try_from(field.r#type)
                .unwrap_or_default()
                .as_str_name(),
            "TICKET_FIELD_TYPE_",
        ),
        "active" => vec![field.active.to_string()],
        "usages.kind" => field
            .usages
            .iter()
            .map(|usage| usage.kind.clone())
            .collect(),
        _ => enum_names(
            Industry::try_from(field.template_industry)
                .unwrap_or_default()
                .as_str_name(),
            "INDUSTRY_",
        ),
    }
}

/// `ListTicketFieldDefinitions`: by key unless asked otherwise.
pub(crate) async fn list_ticket_field_definitions(
    shared: &Shared,
    request: Request<ListTicketFieldDefinitionsRequest>,
) -> Result<Response<ListTicketFieldDefinitionsResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let offset = filter::page_offset(&request.page_token)?;
    let conditions = filter::parse(&request.filter, FILTERS)?;
    let order = filter::parse_order(&request.order_by, ORDERS, "key")?;
    let txn = shared.begin_read(tenant).await?;
    let all = store::list_fields(&txn, tenant).await?;
    let kinds = kinds(&txn, tenant).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    let mut fields: Vec<TicketFieldDefinition> = all
        .into_iter()
        .map(|stored| with_usages(stored.resource, &kinds))
        .filter(|field| conditions.matches(|name| filter_values(field, name)))
        .collect();
    fields.sort_by(|a, b| {
        let ordering = match order.field.as_str() {
            "create_time" => created(a.create_time.as_ref())
                .cmp(&created(b.create_time.as_ref()))
                .then(a.key.cmp(&b.key)),
            _ => a.key.cmp(&b.key),
        };
        directed(ordering, order.desc)
    });
    let (ticket_field_definitions, next_page_token, total_size) =
        filter::page(fields, offset, limit);
    Ok(Response::new(ListTicketFieldDefinitionsResponse {
        ticket_field_definitions,
        next_page_token,
        total_size,
    }))
}

/// `UpdateTicketFieldDefinition`: `key` and `type` are immutable; options
/// are never removed. New rules apply to values written afterwards.
pub(crate) async fn update_ticket_field_definition(
    shared: &Shared,
    request: Request<UpdateTicketFieldDefinitionRequest>,
) -> Result<Response<TicketFieldDefinition>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let input = required(request.ticket_field_definition, "ticket_field_definition")?;
    let paths = mask_paths(request.update_mask, MUTABLE, "UpdateTicketFieldDefinition")?;
    let key = key_in(&input.name, FIELD_DEFINITIONS)?.to_owned();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = store::get_field(&txn, tenant, &key, true).await?;
    let stored = at_etag(stored, &input.name, &input.etag)?;
    let mut field = stored.resource.clone();
    for path in &paths {
        match path.as_str() {
            "labels" => field.labels.clone_from(&input.labels),
            "description" => field.description.clone_from(&input.description),
            "options" => field.options.clone_from(&input.options),
            "max_length" => field.max_length = input.max_length,
            "pattern" => field.pattern.clone_from(&input.pattern),
            "min_value" => field.min_value = input.min_value,
            "max_value" => field.max_value = input.max_value,
            _ => field.active = input.active,
        }
    }
    rules::check_field_definition(&field)?;
    rules::check_options_kept(&stored.resource, &field)?;
    field.usages.clear();
    field.update_time = Some(to_timestamp(now));
    field.etag = resource::etag(stored.revision + 1);
    unless_stale(
        store::replace_field(&txn, tenant, &field, stored.revision).await?,
        &input.name,
    )?;
    let kinds = kinds(&txn, tenant).await?;
    shared.commit(txn).await?;
    Ok(Response::new(with_usages(field, &kinds)))
}

/// `DeleteTicketFieldDefinition`: only while no kind lists it and no
/// ticket holds a value for it.
pub(crate) async fn delete_ticket_field_definition(
    shared: &Shared,
    request: Request<DeleteTicketFieldDefinitionRequest>,
) -> Result<Response<()>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let key = key_in(&request.name, FIELD_DEFINITIONS)?.to_owned();
    let txn = shared.begin(tenant).await?;
    let stored = store::get_field(&txn, tenant, &key, true).await?;
    let stored = at_etag(stored, &request.name, &request.etag)?;
    let name = stored.resource.name.as_str();
    if let Some(kind) = kinds(&txn, tenant).await?.iter().find(|kind| {
        kind.fields
            .iter()
            .any(|field| field.field_definition == name)
    }) {
        return Err(in_use(name, &kind.name).into());
    }
    if store::any_ticket_with_field(&txn, tenant, &key).await? {
        return Err(in_use(name, "tickets").into());
    }
    unless_stale(
        store::delete_field(&txn, tenant, &key, stored.revision).await?,
        &request.name,
    )?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}
