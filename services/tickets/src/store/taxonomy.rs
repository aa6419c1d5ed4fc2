//! The tenant's ticket taxonomy: kinds (`ticket_kinds`), the category tree
//! (`ticket_categories`) and custom-field definitions
//! (`ticket_field_definitions`), each row the encoded resource beside its
//! key and revision. A tenant has tens of each, so lists read them all.
//!
//! The look-ups other areas use: [`kind`], [`category`], [`categories`],
//! [`field_definitions`]; and [`check_kind_and_category`], which answers a
//! ticket's kind and category or the `CreateTicket` error naming the field.

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, resource};
use kefu_proto::v1::{Incident, Ticket, TicketCategory, TicketFieldDefinition, TicketKind};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DbErr, QueryResult,
    sea_query::{Expr, ExprTrait, Query},
};

use super::rows::{self, ident};
use crate::{
    domain::taxonomy::{self as rules, CATEGORIES, FIELD_DEFINITIONS, KINDS},
    error::{Result, TicketsError},
};

/// The three taxonomy tables and the name collection of their rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Kinds,
    Categories,
    Fields,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Self::Kinds => "ticket_kinds",
            Self::Categories => "ticket_categories",
            Self::Fields => "ticket_field_definitions",
        }
    }
}

/// A stored resource with the revision its etag is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<M> {
    /// The resource, etag filled in.
    pub resource: M,
    /// Its revision.
    pub revision: i64,
}

/// A resource whose etag the store keeps out of the stored bytes.
pub trait Versioned: Message + Default + Clone {
    /// Sets the etag.
    fn set_etag(&mut self, etag: String);
}

impl Versioned for TicketKind {
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
}

impl Versioned for TicketCategory {
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
}

impl Versioned for TicketFieldDefinition {
    fn set_etag(&mut self, etag: String) {
        self.etag = etag;
    }
}

fn decode<M: Versioned>(row: &QueryResult) -> Result<Stored<M>> {
    let (mut resource, revision) = rows::decode_revisioned::<M>(row)?;
    resource.set_etag(resource::etag(revision));
    Ok(Stored { resource, revision })
}

fn encode<M: Versioned>(resource: &M) -> Vec<u8> {
    let mut stored = resource.clone();
    stored.set_etag(String::new());
    stored.encode_to_vec()
}

async fn get<C: ConnectionTrait, M: Versioned>(
    db: &C,
    table: Table,
    tenant: TenantId,
    id: &str,
    for_update: bool,
) -> Result<Option<Stored<M>>> {
    let statement = rows::select_resources(table.name(), tenant)
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, for_update, decode).await
}

async fn all<C: ConnectionTrait, M: Versioned>(
    db: &C,
    table: Table,
    tenant: TenantId,
) -> Result<Vec<Stored<M>>> {
    let statement = rows::select_resources(table.name(), tenant)
        .order_by(ident("id"), sea_orm::sea_query::Order::Asc)
        .to_owned();
    db.query_all(&statement).await?.iter().map(decode).collect()
}

async fn insert<C: ConnectionTrait, M: Versioned>(
    db: &C,
    table: Table,
    tenant: TenantId,
    id: &str,
    parent: Option<&str>,
    resource: &M,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let mut columns = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("resource", encode(resource).into()),
        ("revision", 1_i64.into()),
        ("create_time", now.into()),
    ];
    if let Some(parent) = parent {
        columns.push(("parent", parent.into()));
    }
    rows::insert_row(db, table.name(), columns).await
}

async fn replace<C: ConnectionTrait, M: Versioned>(
    db: &C,
    table: Table,
    tenant: TenantId,
    id: &str,
    parent: Option<&str>,
    expected: i64,
    resource: &M,
) -> Result<bool> {
    let mut statement = Query::update()
        .table(ident(table.name()))
        .value(ident("resource"), encode(resource))
        .to_owned();
    if let Some(parent) = parent {
        statement.value(ident("parent"), parent);
    }
    Ok(rows::replace_at_revision(db, statement, tenant, id, expected).await?)
}

async fn delete<C: ConnectionTrait>(
    db: &C,
    table: Table,
    tenant: TenantId,
    id: &str,
    expected: i64,
) -> Result<bool> {
    let statement = Query::delete()
        .from_table(ident(table.name()))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("id")).eq(id))
        .and_where(Expr::col(ident("revision")).eq(expected))
        .to_owned();
    Ok(db.execute(&statement).await?.rows_affected() == 1)
}

// --- The look-ups other areas use -------------------------------------------

/// The kind `name` (`ticketKinds/{kind}`) of `tenant`, if it exists.
pub async fn kind<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<TicketKind>> {
    let Some(id) = resource::id_in(name, KINDS) else {
        return Ok(None);
    };
    Ok(get_kind(db, tenant, id, false)
        .await?
        .map(|stored| stored.resource))
}

/// The category `name` (`ticketCategories/{category}`) of `tenant`, if it
/// exists.
pub async fn category<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Option<TicketCategory>> {
    let Some(id) = resource::id_in(name, CATEGORIES) else {
        return Ok(None);
    };
    Ok(get_category(db, tenant, id, false)
        .await?
        .map(|stored| stored.resource))
}

/// Every category of `tenant`, by key.
pub async fn categories<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<TicketCategory>> {
    Ok(list_categories(db, tenant)
        .await?
        .into_iter()
        .map(|stored| stored.resource)
        .collect())
}

/// Every custom-field definition of `tenant`, by key (usages not filled).
pub async fn field_definitions<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<TicketFieldDefinition>> {
    Ok(list_fields(db, tenant)
        .await?
        .into_iter()
        .map(|stored| stored.resource)
        .collect())
}

/// A ticket's kind and category, checked as `CreateTicket`, `UpdateTicket`
/// and `TriageTicket` need: the kind must exist and be active
/// (`ticket.kind`, reason `KIND_INACTIVE` when inactive); the category, when
/// given, must exist (else reason `UNKNOWN_REFERENCE`, as an unknown kind), be active and be allowed for the kind
/// (`ticket.category`, reason `CATEGORY_KIND_MISMATCH`). `kind_field` and
/// `category_field` name the fields in the errors (`ticket.kind`).
pub async fn check_kind_and_category<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    kind_name: &str,
    category_name: &str,
    kind_field: &str,
    category_field: &str,
) -> Result<(TicketKind, Option<TicketCategory>)> {
    let found = kind(db, tenant, kind_name).await?.ok_or_else(|| {
        TicketsError::invalid_because(
            kind_field,
            format!("{kind_field} {kind_name:?} is not a ticket kind of the tenant"),
            "UNKNOWN_REFERENCE",
        )
    })?;
    if !found.active {
        return Err(TicketsError::invalid_because(
            kind_field,
            format!("{kind_name} is inactive: new tickets cannot use it"),
            "KIND_INACTIVE",
        ));
    }
    if category_name.is_empty() {
        return Ok((found, None));
    }
    let all = categories(db, tenant).await?;
    rules::check_category_for_kind(&all, category_name, kind_name, category_field)
        .map(|category| (found, Some(category.clone())))
}

// --- Kinds -------------------------------------------------------------------

/// The kind `id` of `tenant` (locked with `for_update` on PostgreSQL).
pub async fn get_kind<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: &str,
    for_update: bool,
) -> Result<Option<Stored<TicketKind>>> {
    get(db, Table::Kinds, tenant, id, for_update).await
}

/// Every kind of `tenant`, by key.
pub async fn list_kinds<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<Stored<TicketKind>>> {
    all(db, Table::Kinds, tenant).await
}

/// Inserts `kind` at revision 1; a taken key is a unique violation.
pub async fn insert_kind<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    kind: &TicketKind,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    insert(db, Table::Kinds, tenant, &kind.key, None, kind, now).await
}

/// Replaces `kind` if its revision is still `expected`; false otherwise.
pub async fn replace_kind<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    kind: &TicketKind,
    expected: i64,
) -> Result<bool> {
    replace(db, Table::Kinds, tenant, &kind.key, None, expected, kind).await
}

/// Deletes kind `id` if its revision is still `expected`.
pub async fn delete_kind<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: &str,
    expected: i64,
) -> Result<bool> {
    delete(db, Table::Kinds, tenant, id, expected).await
}

// --- Categories --------------------------------------------------------------

/// The category `id` of `tenant` (locked with `for_update` on PostgreSQL).
pub async fn get_category<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: &str,
    for_update: bool,
) -> Result<Option<Stored<TicketCategory>>> {
    get(db, Table::Categories, tenant, id, for_update).await
}

/// Every category of `tenant`, by key.
pub async fn list_categories<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<Stored<TicketCategory>>> {
    all(db, Table::Categories, tenant).await
}

/// The key of a category's parent, '' for a root.
fn parent_key(category: &TicketCategory) -> &str {
    resource::id_in(&category.parent, CATEGORIES).unwrap_or_default()
}

/// Inserts `category` at revision 1; a taken key is a unique violation.
pub async fn insert_category<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    category: &TicketCategory,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let parent = parent_key(category);
    insert(
        db,
        Table::Categories,
        tenant,
        &category.key,
        Some(parent),
        category,
        now,
    )
    .await
}

/// Replaces `category` if its revision is still `expected`; false otherwise.
pub async fn replace_category<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    category: &TicketCategory,
    expected: i64,
) -> Result<bool> {
    let parent = parent_key(category);
    replace(
        db,
        Table::Categories,
        tenant,
        &category.key,
        Some(parent),
        expected,
        category,
    )
    .await
}

/// Deletes category `id` if its revision is still `expected`.
pub async fn delete_category<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: &str,
    expected: i64,
) -> Result<bool> {
    delete(db, Table::Categories, tenant, id, expected).await
}

/// Whether category `id` has children.
pub async fn has_children<C: ConnectionTrait>(db: &C, tenant: TenantId, id: &str) -> Result<bool> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident(Table::Categories.name()))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("parent")).eq(id))
        .limit(1)
        .to_owned();
    Ok(db.query_one(&statement).await?.is_some())
}

// --- Field definitions ---------------------------------------------------------

/// The field definition `id` of `tenant` (locked with `for_update` on
/// PostgreSQL).
pub async fn get_field<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: &str,
    for_update: bool,
) -> Result<Option<Stored<TicketFieldDefinition>>> {
    get(db, Table::Fields, tenant, id, for_update).await
}

/// Every field definition of `tenant`, by key.
pub async fn list_fields<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
) -> Result<Vec<Stored<TicketFieldDefinition>>> {
    all(db, Table::Fields, tenant).await
}

/// Inserts `field` at revision 1; a taken key is a unique violation.
pub async fn insert_field<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    field: &TicketFieldDefinition,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    insert(db, Table::Fields, tenant, &field.key, None, field, now).await
}

/// Replaces `field` if its revision is still `expected`; false otherwise.
pub async fn replace_field<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    field: &TicketFieldDefinition,
    expected: i64,
) -> Result<bool> {
    replace(db, Table::Fields, tenant, &field.key, None, expected, field).await
}

/// Deletes field definition `id` if its revision is still `expected`.
pub async fn delete_field<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: &str,
    expected: i64,
) -> Result<bool> {
    delete(db, Table::Fields, tenant, id, expected).await
}

// --- What refers to the taxonomy (lifecycle's and incidents' tables) ------------

/// Whether any ticket of `tenant` has `column` (`kind`, `category`) equal to
/// `name` (`ticketKinds/repair`).
pub async fn any_ticket_with<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    column: &'static str,
    name: &str,
) -> Result<bool> {
    let statement = Query::select()
        .column(ident("id"))
        .from(ident("tickets"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident(column)).eq(name))
        .limit(1)
        .to_owned();
    Ok(db.query_one(&statement).await?.is_some())
}

/// Tickets decoded per round when looking for a custom-field value.
const ROUND: u64 = 500;

/// Whether any ticket of `tenant` holds a value for custom field `key`: the
/// values live in the encoded tickets, so this reads them in rounds (a rare
/// admin's delete pays for it, not the ticket writes).
pub async fn any_ticket_with_field<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    key: &str,
) -> Result<bool> {
    let mut offset = 0;
    loop {
        let statement = Query::select()
            .column(ident("resource"))
            .from(ident("tickets"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
            .order_by(ident("id"), sea_orm::sea_query::Order::Asc)
            .limit(ROUND)
            .offset(offset)
            .to_owned();
        let rows = db.query_all(&statement).await?;
        for row in &rows {
            let bytes: Vec<u8> = row.try_get("", "resource")?;
            let ticket = Ticket::decode(bytes.as_slice())?;
            if ticket.custom_fields.contains_key(key) {
                return Ok(true);
            }
        }
        if (rows.len() as u64) < ROUND {
            return Ok(false);
        }
        offset += ROUND;
    }
}

/// Whether any incident of `tenant` names `name` as its kind or category.
pub async fn any_incident_with<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<bool> {
    let statement = Query::select()
        .column(ident("resource"))
        .from(ident("incidents"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .to_owned();
    for row in db.query_all(&statement).await? {
        let bytes: Vec<u8> = row.try_get("", "resource")?;
        let incident = Incident::decode(bytes.as_slice())?;
        if incident.kind == name || incident.category == name {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The collection of field definition names, for callers building one.
pub fn field_name(key: &str) -> String {
    format!("{FIELD_DEFINITIONS}/{key}")
}
