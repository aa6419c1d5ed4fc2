//! The category tree (分类): `CreateTicketCategory`, `GetTicketCategory`,
//! `ListTicketCategories`, `UpdateTicketCategory` (a move carries the
//! subtree), `DeleteTicketCategory`.

use std::collections::HashMap;

use kefu_kit::{context::TenantId, events::to_timestamp, resource};
use kefu_proto::v1::{
    CreateTicketCategoryRequest, DeleteTicketCategoryRequest, GetTicketCategoryRequest, Industry,
    ListTicketCategoriesRequest, ListTicketCategoriesResponse, TicketCategory,
    UpdateTicketCategoryRequest,
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
        taxonomy::{self as rules, CATEGORIES},
        taxonomy_filter::{self as filter, ANY, enum_names},
    },
    error::{Result, TicketsError},
    store::taxonomy as store,
};

/// The paths `UpdateTicketCategory` may change.
const MUTABLE: &[&str] = &[
    "parent",
    "labels",
    "description",
    "kinds",
    "routing",
    "active",
    "display_order",
];

/// The fields `ListTicketCategories` filters on.
const FILTERS: &[&str] = &["parent", "kinds", "active", "template_industry", "path"];

/// The orders of `ListTicketCategories`.
const ORDERS: &[&str] = &["path", "key", "create_time"];

/// The parent `name` among `all`, or INVALID_ARGUMENT `UNKNOWN_REFERENCE`.
fn parent_in<'a>(all: &'a [TicketCategory], name: &str) -> Result<Option<&'a TicketCategory>> {
    if name.is_empty() {
        return Ok(None);
    }
    all.iter()
        .find(|category| category.name == name)
        .map(Some)
        .ok_or_else(|| {
            TicketsError::invalid_because(
                "ticket_category.parent",
                format!("{name} is not a category of the tenant"),
                "UNKNOWN_REFERENCE",
            )
        })
}

/// The kinds a category lists must be kinds of the tenant.
async fn check_kinds(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    category: &TicketCategory,
) -> Result<()> {
    if category.kinds.is_empty() {
        return Ok(());
    }
    let known = store::list_kinds(txn, tenant).await?;
    for (index, kind) in category.kinds.iter().enumerate() {
        if !known.iter().any(|stored| &stored.resource.name == kind) {
            let path = format!("ticket_category.kinds[{index}]");
            return Err(TicketsError::invalid_because(
                &path,
                format!("{kind} is not a ticket kind of the tenant"),
                "UNKNOWN_REFERENCE",
            ));
        }
    }
    Ok(())
}

/// `CreateTicketCategory`: admins add a category, a root or under a parent.
pub(crate) async fn create_ticket_category(
    shared: &Shared,
    request: Request<CreateTicketCategoryRequest>,
) -> Result<Response<TicketCategory>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let input = required(request.ticket_category, "ticket_category")?;
    let now = shared.now();
    let mut category = TicketCategory {
        name: format!("{CATEGORIES}/{}", input.key),
        key: input.key,
        parent: input.parent,
        labels: input.labels,
        description: input.description,
        kinds: input.kinds,
        routing: input.routing,
        // Default true on create: a new category is for use.
        active: true,
        display_order: input.display_order,
        path: Vec::new(),
        template_industry: Industry::Unspecified as i32,
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        etag: resource::etag(1),
    };
    rules::check_category(&category)?;
    let txn = shared.begin(tenant).await?;
    if let Some(name) = recall(&txn, tenant, &request.request_id).await? {
        let key = key_in(&name, CATEGORIES)?;
        let stored = store::get_category(&txn, tenant, key, false)
            .await?
            .ok_or_else(|| TicketsError::not_found(&name))?;
        return Ok(Response::new(stored.resource));
    }
    let all = store::categories(&txn, tenant).await?;
    if all.iter().any(|existing| existing.name == category.name) {
        return Err(already_exists(&category.name).into());
    }
    let parent = parent_in(&all, &category.parent)?;
    check_kinds(&txn, tenant, &category).await?;
    check_routing_teams(
        &txn,
        tenant,
        "ticket_category.routing",
        category.routing.as_ref(),
    )
    .await?;
    category.path = rules::place(&all, &category, parent)?;
    inserted(
        store::insert_category(&txn, tenant, &category, now).await,
        &category.name,
    )?;
    remember(
        &txn,
        tenant,
        &request.request_id,
        "CreateTicketCategory",
        &category.name,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(category))
}

/// `GetTicketCategory`.
pub(crate) async fn get_ticket_category(
    shared: &Shared,
    request: Request<GetTicketCategoryRequest>,
) -> Result<Response<TicketCategory>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = &request.get_ref().name;
    let key = key_in(name, CATEGORIES)?;
    let txn = shared.begin_read(tenant).await?;
    let stored = store::get_category(&txn, tenant, key, false)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(stored.resource))
}

/// A category's values for the list filter.
fn filter_values(category: &TicketCategory, field: &str) -> Vec<String> {
    match field {
        "parent" => vec![category.parent.clone()],
        // A category open to every kind matches any kind asked for.
        "kinds" if category.kinds.is_empty() => vec![ANY.to_owned()],
        "kinds" => category.kinds.clone(),
        "active" => vec![category.active.to_string()],
        "path" => category.path.clone(),
        _ => enum_names(
            Industry::try_from(category.template_industry)
                .unwrap_or_default()
                .as_str_name(),
            "INDUSTRY_",
        ),
    }
}

/// The depth-first order key of a category: each level's display order and
/// key from the root down.
fn tree_key(
    index: &HashMap<&str, &TicketCategory>,
    category: &TicketCategory,
) -> Vec<(i32, String)> {
    rules::chain(index, &category.name)
        .iter()
        .map(|level| (level.display_order, level.key.clone()))
        .collect()
}

/// `ListTicketCategories`: depth-first, siblings by display order, unless
/// asked otherwise.
pub(crate) async fn list_ticket_categories(
    shared: &Shared,
    request: Request<ListTicketCategoriesRequest>,
) -> Result<Response<ListTicketCategoriesResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let offset = filter::page_offset(&request.page_token)?;
    let conditions = filter::parse(&request.filter, FILTERS)?;
    let order = filter::parse_order(&request.order_by, ORDERS, "path")?;
    let txn = shared.begin_read(tenant).await?;
    let all = store::categories(&txn, tenant).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    let index = rules::by_name(&all);
    let mut keyed: Vec<(Vec<(i32, String)>, &TicketCategory)> = all
        .iter()
        .filter(|category| conditions.matches(|field| filter_values(category, field)))
        .map(|category| (tree_key(&index, category), category))
        .collect();
    keyed.sort_by(|(a_key, a), (b_key, b)| {
        let ordering = match order.field.as_str() {
            "path" => a_key.cmp(b_key),
            "create_time" => created(a.create_time.as_ref())
                .cmp(&created(b.create_time.as_ref()))
                .then(a.key.cmp(&b.key)),
            _ => a.key.cmp(&b.key),
        };
        directed(ordering, order.desc)
    });
    let categories: Vec<TicketCategory> = keyed.into_iter().map(|(_, c)| c.clone()).collect();
    let (ticket_categories, next_page_token, total_size) = filter::page(categories, offset, limit);
    Ok(Response::new(ListTicketCategoriesResponse {
        ticket_categories,
        next_page_token,
        total_size,
    }))
}

/// `UpdateTicketCategory`: a new parent moves the subtree (each moved
/// category's `path` is rewritten); the tree stays acyclic, within five
/// levels, and children keep narrowing their parents' kinds.
pub(crate) async fn update_ticket_category(
    shared: &Shared,
    request: Request<UpdateTicketCategoryRequest>,
) -> Result<Response<TicketCategory>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let input = required(request.ticket_category, "ticket_category")?;
    let paths = mask_paths(request.update_mask, MUTABLE, "UpdateTicketCategory")?;
    let key = key_in(&input.name, CATEGORIES)?.to_owned();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = store::get_category(&txn, tenant, &key, true).await?;
    let stored = at_etag(stored, &input.name, &input.etag)?;
    let mut category = stored.resource.clone();
    for path in &paths {
        match path.as_str() {
            "parent" => category.parent.clone_from(&input.parent),
            "labels" => category.labels.clone_from(&input.labels),
            "description" => category.description.clone_from(&input.description),
            "kinds" => category.kinds.clone_from(&input.kinds),
            "active" => category.active = input.active,
            "display_order" => category.display_order = input.display_order,
            routing => apply_routing(routing, &mut category.routing, input.routing.as_ref()),
        }
    }
    rules::check_category(&category)?;
    let mut all = store::categories(&txn, tenant).await?;
    let parent = parent_in(&all, &category.parent)?.cloned();
    if paths.iter().any(|path| path == "kinds") {
        check_kinds(&txn, tenant, &category).await?;
    }
    if paths.iter().any(|path| path.starts_with("routing")) {
        check_routing_teams(
            &txn,
            tenant,
            "ticket_category.routing",
            category.routing.as_ref(),
        )
        .await?;
    }
    category.path = rules::place(&all, &category, parent.as_ref())?;
    category.update_time = Some(to_timestamp(now));
    category.etag = resource::etag(stored.revision + 1);
    unless_stale(
        store::replace_category(&txn, tenant, &category, stored.revision).await?,
        &input.name,
    )?;
    if category.path != stored.resource.path {
        // The subtree moved with it: rewrite each descendant's path.
        if let Some(slot) = all.iter_mut().find(|c| c.name == category.name) {
            *slot = category.clone();
        }
        move_subtree(&txn, tenant, &all, &category, now).await?;
    }
    shared.commit(txn).await?;
    Ok(Response::new(category))
}

/// Rewrites the `path` of every category below `moved` in `all` (which
/// holds `moved` at its new place).
async fn move_subtree(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    all: &[TicketCategory],
    moved: &TicketCategory,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let index = rules::by_name(all);
    for below in rules::descendants(all, &moved.name) {
        let path: Vec<String> = rules::chain(&index, &below.name)
            .iter()
            .map(|level| level.key.clone())
            .collect();
        let key = below.key.as_str();
        let stored = store::get_category(txn, tenant, key, true)
            .await?
            .ok_or_else(|| {
                TicketsError::Internal(format!("{} vanished while moving", below.name))
            })?;
        let mut changed = stored.resource;
        changed.path = path;
        changed.update_time = Some(to_timestamp(now));
        if !store::replace_category(txn, tenant, &changed, stored.revision).await? {
            return Err(TicketsError::StaleEtag(below.name.clone()));
        }
    }
    Ok(())
}

/// `DeleteTicketCategory`: only a leaf no ticket or incident refers to.
pub(crate) async fn delete_ticket_category(
    shared: &Shared,
    request: Request<DeleteTicketCategoryRequest>,
) -> Result<Response<()>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let key = key_in(&request.name, CATEGORIES)?.to_owned();
    let txn = shared.begin(tenant).await?;
    let stored = store::get_category(&txn, tenant, &key, true).await?;
    let stored = at_etag(stored, &request.name, &request.etag)?;
    let name = stored.resource.name.as_str();
    if store::has_children(&txn, tenant, &key).await? {
        return Err(in_use(name, "its child categories").into());
    }
    if store::any_ticket_with(&txn, tenant, "category", name).await? {
        return Err(in_use(name, "tickets").into());
    }
    if store::any_incident_with(&txn, tenant, name).await? {
        return Err(in_use(name, "an incident").into());
    }
    unless_stale(
        store::delete_category(&txn, tenant, &key, stored.revision).await?,
        &request.name,
    )?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}
