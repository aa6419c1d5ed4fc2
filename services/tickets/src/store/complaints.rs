//! Complaints (投诉) and their proposals (方案): each resource encoded whole
//! beside the columns the lists and the overdue scan filter on, a revision
//! for the etag, and the per-tenant complaint numbers (`C-000123`).

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, events::from_timestamp, resource};
use kefu_proto::v1::{Complaint, Proposal};
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, QueryResult, Value,
    sea_query::{Expr, ExprTrait, Order, Query, SelectStatement},
};
use uuid::Uuid;

use super::rows::{self, ident};
use crate::{
    domain::complaint::{is_final, proposal_state},
    error::{Result, TicketsError},
};

fn revision_of(etag: &str) -> Option<i64> {
    etag.strip_prefix('r')?.parse().ok()
}

fn time(timestamp: Option<&prost_types::Timestamp>) -> Value {
    timestamp.and_then(from_timestamp).into()
}

/// The id in `complaints/{id}`.
pub fn complaint_id(name: &str) -> Option<Uuid> {
    resource::id_in(name, "complaints").and_then(|id| Uuid::parse_str(id).ok())
}

/// `complaints/{id}`.
pub fn complaint_name(id: Uuid) -> String {
    format!("complaints/{id}")
}

/// The complaint and proposal ids in `complaints/{c}/proposals/{p}`.
pub fn proposal_ids(name: &str) -> Option<(Uuid, Uuid)> {
    let rest = name.strip_prefix("complaints/")?;
    let (complaint, proposal) = rest.split_once("/proposals/")?;
    Some((
        Uuid::parse_str(complaint).ok()?,
        Uuid::parse_str(proposal).ok()?,
    ))
}

/// `complaints/{c}/proposals/{p}`.
pub fn proposal_name(complaint: Uuid, proposal: Uuid) -> String {
    format!("complaints/{complaint}/proposals/{proposal}")
}

/// The next complaint number of `tenant` (`C-000123`), taken in the
/// caller's transaction.
pub async fn next_number(txn: &DatabaseTransaction, tenant: TenantId) -> Result<(i64, String)> {
    let number = rows::next_in_counter(
        txn,
        "complaint_numbers",
        tenant,
        &["last_number"],
        "last_number",
    )
    .await?
    .ok_or_else(|| TicketsError::Internal("no complaint number returned".into()))?;
    Ok((number, format!("C-{number:06}")))
}

fn complaint_columns(complaint: &Complaint) -> Vec<(&'static str, Value)> {
    vec![
        ("stage", complaint.stage.into()),
        ("is_open", i32::from(!is_final(complaint)).into()),
        ("overdue", i32::from(complaint.overdue).into()),
        ("deadline_time", time(complaint.deadline_time.as_ref())),
        ("update_time", time(complaint.update_time.as_ref())),
    ]
}

/// Inserts a new complaint at revision 1 and fills its etag.
pub async fn insert(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: Uuid,
    number: i64,
    ticket_id: &str,
    complaint: &mut Complaint,
) -> Result<()> {
    complaint.etag = String::new();
    let mut columns = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("complaint_number", number.into()),
        ("ticket_id", ticket_id.into()),
        ("customer_id", complaint.customer.clone().into()),
        ("create_time", time(complaint.create_time.as_ref())),
        ("revision", 1i64.into()),
        ("resource", complaint.encode_to_vec().into()),
    ];
    columns.extend(complaint_columns(complaint));
    rows::insert_row(txn, "complaints", columns).await?;
    complaint.etag = resource::etag(1);
    Ok(())
}

fn decode_complaint(row: &QueryResult) -> Result<Complaint> {
    let (mut complaint, revision) = rows::decode_revisioned::<Complaint>(row)?;
    complaint.etag = resource::etag(revision);
    Ok(complaint)
}

fn select_complaints(tenant: TenantId) -> SelectStatement {
    rows::select_resources("complaints", tenant)
}

/// The complaint `id` of `tenant`; locked on PostgreSQL with `for_update`.
pub async fn get<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    id: Uuid,
    for_update: bool,
) -> Result<Option<Complaint>> {
    let statement = select_complaints(tenant)
        .and_where(Expr::col(ident("id")).eq(id))
        .to_owned();
    rows::fetch_one(db, statement, for_update, decode_complaint).await
}

/// The complaint `name` (sent in `name_field`) for a change: INVALID_ARGUMENT
/// when malformed, NOT_FOUND when missing or another tenant's, ABORTED on a
/// stale non-empty etag. Locked on PostgreSQL.
pub async fn load_for_change(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    name_field: &str,
    etag: &str,
) -> Result<Complaint> {
    let complaint = load(txn, tenant, name, name_field, true).await?;
    if !etag.is_empty() && etag != complaint.etag {
        return Err(TicketsError::StaleEtag(name.to_owned()));
    }
    Ok(complaint)
}

/// The complaint `name` (sent in `name_field`) to read.
pub async fn load<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    name_field: &str,
    for_update: bool,
) -> Result<Complaint> {
    if name.is_empty() {
        return Err(TicketsError::invalid(
            name_field,
            format!("{name_field} is required"),
        ));
    }
    let id = complaint_id(name).ok_or_else(|| {
        TicketsError::invalid(
            name_field,
            format!("{name_field} must be complaints/{{id}}"),
        )
    })?;
    get(db, tenant, id, for_update)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))
}

/// Stores `complaint` as changed from the revision its etag names; bumps
/// the revision and etag. ABORTED when someone changed it meanwhile.
pub async fn save(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    complaint: &mut Complaint,
) -> Result<()> {
    let id = complaint_id(&complaint.name)
        .ok_or_else(|| TicketsError::Internal(format!("complaint named {}", complaint.name)))?;
    let expected = revision_of(&complaint.etag)
        .ok_or_else(|| TicketsError::Internal(format!("{} read without etag", complaint.name)))?;
    complaint.etag = String::new();
    let mut statement = Query::update();
    statement.table(ident("complaints"));
    for (column, value) in complaint_columns(complaint) {
        statement.value(ident(column), value);
    }
    statement.value(ident("resource"), complaint.encode_to_vec());
    let replaced = rows::replace_at_revision(txn, statement, tenant, id, expected).await?;
    complaint.etag = resource::etag(expected + 1);
    if !replaced {
        return Err(TicketsError::StaleEtag(complaint.name.clone()));
    }
    Ok(())
}

/// Every complaint of `tenant`; with `overdue_only` the open ones marked
/// overdue.
pub async fn all<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    overdue_only: bool,
) -> Result<Vec<Complaint>> {
    let mut statement = select_complaints(tenant);
    if overdue_only {
        statement
            .and_where(Expr::col(ident("is_open")).eq(1))
            .and_where(Expr::col(ident("overdue")).eq(1));
    }
    statement.order_by(ident("create_time"), Order::Asc);
    db.query_all(&statement)
        .await?
        .iter()
        .map(decode_complaint)
        .collect()
}

/// The open complaints of `tenant` past their deadline at `now` and not
/// yet marked overdue, locked on PostgreSQL.
pub async fn newly_overdue(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<Vec<Complaint>> {
    let mut statement = select_complaints(tenant)
        .and_where(Expr::col(ident("is_open")).eq(1))
        .and_where(Expr::col(ident("overdue")).eq(0))
        .and_where(Expr::col(ident("deadline_time")).lt(now))
        .order_by(ident("deadline_time"), Order::Asc)
        .to_owned();
    if txn.get_database_backend() == DbBackend::Postgres {
        statement.lock_exclusive();
    }
    txn.query_all(&statement)
        .await?
        .iter()
        .map(decode_complaint)
        .collect()
}

/// The tenants that have complaints (read across tenants from the
/// numbers, which hold nothing else), for the scan.
pub async fn tenants_with_complaints(db: &DatabaseConnection) -> Result<Vec<TenantId>> {
    Ok(rows::tenants_in(db, "complaint_numbers").await?)
}

/// Inserts a new proposal at revision 1 and fills its etag.
pub async fn insert_proposal(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    proposal: &mut Proposal,
) -> Result<()> {
    let (complaint, id) = proposal_ids(&proposal.name)
        .ok_or_else(|| TicketsError::Internal(format!("proposal named {}", proposal.name)))?;
    proposal.etag = String::new();
    let columns = vec![
        ("tenant_id", tenant.0.into()),
        ("id", id.into()),
        ("complaint_id", complaint.into()),
        ("round", proposal.round.into()),
        ("state", proposal.state.into()),
        ("create_time", time(proposal.create_time.as_ref())),
        ("revision", 1i64.into()),
        ("resource", proposal.encode_to_vec().into()),
    ];
    rows::insert_row(txn, "complaint_proposals", columns).await?;
    proposal.etag = resource::etag(1);
    Ok(())
}

fn decode_proposal(row: &QueryResult) -> Result<Proposal> {
    let (mut proposal, revision) = rows::decode_revisioned::<Proposal>(row)?;
    proposal.etag = resource::etag(revision);
    Ok(proposal)
}

fn select_proposals(tenant: TenantId) -> SelectStatement {
    rows::select_resources("complaint_proposals", tenant)
}

/// The proposal `name` (sent in `name_field`): INVALID_ARGUMENT when
/// malformed, NOT_FOUND when missing or another tenant's; locked on
/// PostgreSQL with `for_update`.
pub async fn load_proposal<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
    name_field: &str,
    for_update: bool,
) -> Result<Proposal> {
    if name.is_empty() {
        return Err(TicketsError::invalid(
            name_field,
            format!("{name_field} is required"),
        ));
    }
    let (complaint, id) = proposal_ids(name).ok_or_else(|| {
        TicketsError::invalid(
            name_field,
            format!("{name_field} must be complaints/{{c}}/proposals/{{p}}"),
        )
    })?;
    let statement = select_proposals(tenant)
        .and_where(Expr::col(ident("id")).eq(id))
        .and_where(Expr::col(ident("complaint_id")).eq(complaint))
        .to_owned();
    rows::fetch_one(db, statement, for_update, decode_proposal)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))
}

/// Stores a changed proposal; ABORTED when changed meanwhile.
pub async fn save_proposal(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    proposal: &mut Proposal,
) -> Result<()> {
    let (_, id) = proposal_ids(&proposal.name)
        .ok_or_else(|| TicketsError::Internal(format!("proposal named {}", proposal.name)))?;
    let expected = revision_of(&proposal.etag)
        .ok_or_else(|| TicketsError::Internal(format!("{} read without etag", proposal.name)))?;
    proposal.etag = String::new();
    let statement = Query::update()
        .table(ident("complaint_proposals"))
        .value(ident("state"), proposal.state)
        .value(ident("resource"), proposal.encode_to_vec())
        .to_owned();
    let replaced = rows::replace_at_revision(txn, statement, tenant, id, expected).await?;
    proposal.etag = resource::etag(expected + 1);
    if !replaced {
        return Err(TicketsError::StaleEtag(proposal.name.clone()));
    }
    Ok(())
}

/// The proposals of the complaint `complaint` (every complaint's when
/// `None`), by round then create time.
pub async fn proposals<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    complaint: Option<Uuid>,
) -> Result<Vec<Proposal>> {
    let mut statement = select_proposals(tenant);
    if let Some(complaint) = complaint {
        statement.and_where(Expr::col(ident("complaint_id")).eq(complaint));
    }
    statement
        .order_by(ident("round"), Order::Asc)
        .order_by(ident("create_time"), Order::Asc)
        .order_by(ident("id"), Order::Asc);
    db.query_all(&statement)
        .await?
        .iter()
        .map(decode_proposal)
        .collect()
}

/// The last proposal of `proposals` the customer did not accept.
pub fn last_not_accepted(proposals: &[Proposal]) -> Option<&Proposal> {
    proposals
        .iter()
        .rev()
        .find(|proposal| proposal_state(proposal) == kefu_proto::v1::ProposalState::NotAccepted)
}

/// The active users holding `level` (the directory copy), notified of an
/// escalation to it.
pub async fn holders_of<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    level: kefu_proto::v1::ApprovalLevel,
) -> Result<Vec<String>> {
    Ok(super::directory::users(db, tenant)
        .await?
        .into_iter()
        .filter(|user| user.approval_level == level as i32)
        .filter(|user| user.state != kefu_proto::v1::UserState::Deactivated as i32)
        .map(|user| user.name)
        .collect())
}
