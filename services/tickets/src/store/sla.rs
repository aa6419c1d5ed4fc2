//! The SLA clocks' persistence: what the clocks of a ticket need to know
//! (its kind's policy, the tenant's calendar and zone, from the taxonomy
//! and the directory copy), and the due-check table the scan reads
//! (`ticket_sla_checks`: one row per ticket with a clock still ahead of a
//! threshold, at the next instant to look).

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, db::begin_read_platform};
use kefu_proto::v1::{Ticket, TicketKind};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr,
    sea_query::{Alias, Expr, ExprTrait, OnConflict, Order, Query},
};
use uuid::Uuid;

use super::{directory, taxonomy};
use crate::{
    domain::{
        sla::{self, SlaContext},
        ticket::id_of,
    },
    error::{Result, TicketsError},
};

/// A table or column name.
fn ident(name: &'static str) -> Alias {
    Alias::new(name)
}

/// The clocks' context of a ticket of `kind` (already read, when the
/// caller has it).
pub async fn context_of_kind<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    kind: Option<&TicketKind>,
) -> Result<SlaContext> {
    let policy = kind.map_or("", |kind| kind.sla_policy.as_str());
    // One statement for the tenant and its policies when both are needed.
    let (profile, policies) = if policy.is_empty() {
        (directory::tenant(db, tenant).await?, Vec::new())
    } else {
        directory::tenant_and_sla_policies(db, tenant).await?
    };
    Ok(SlaContext::for_kind(
        policy,
        &policies,
        profile.as_ref().and_then(|tenant| tenant.calendar.as_ref()),
        profile
            .as_ref()
            .map_or("", |tenant| tenant.time_zone.as_str()),
    ))
}

/// The clocks' context of a ticket of kind `kind` (`ticketKinds/{kind}`).
pub async fn context<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    kind: &str,
) -> Result<SlaContext> {
    let kind = taxonomy::kind(db, tenant, kind).await?;
    context_of_kind(db, tenant, kind.as_ref()).await
}

/// Moves the clocks of `after` at `now`: started for a new ticket
/// (`before` = None), else moved for its change from `before`
/// ([`sla::on_change`]). Call before storing the ticket.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    before: Option<&Ticket>,
    after: &mut Ticket,
    now: DateTime<Utc>,
) -> Result<()> {
    let context = context(db, tenant, &after.kind).await?;
    match before {
        None => sla::start_clocks(after, &context, now),
        Some(before) => sla::on_change(before, after, &context, now),
    }
    Ok(())
}

/// Records when the scan must next look at `ticket` (none: its row goes).
/// Call whenever a ticket is stored.
pub async fn sync<C: ConnectionTrait>(db: &C, tenant: TenantId, ticket: &Ticket) -> Result<()> {
    let id = id_of(&ticket.name)
        .ok_or_else(|| TicketsError::Internal(format!("ticket named {}", ticket.name)))?;
    match sla::next_check(ticket) {
        Some(check) => {
            let statement = Query::insert()
                .into_table(ident("ticket_sla_checks"))
                .columns([ident("tenant_id"), ident("ticket_id"), ident("check_time")])
                .values([tenant.0.into(), id.into(), check.into()])
                .map_err(|error| DbErr::Custom(error.to_string()))?
                .on_conflict(
                    OnConflict::columns([ident("tenant_id"), ident("ticket_id")])
                        .update_column(ident("check_time"))
                        .to_owned(),
                )
                .to_owned();
            db.execute(&statement).await?;
        }
        None => forget(db, tenant, id).await?,
    }
    Ok(())
}

/// The tenants with a check due at `now` (a platform read across tenants).
pub async fn due_tenants(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<Vec<Uuid>> {
    let txn = begin_read_platform(db).await?;
    let statement = Query::select()
        .distinct()
        .column(ident("tenant_id"))
        .from(ident("ticket_sla_checks"))
        .and_where(Expr::col(ident("check_time")).lte(now))
        .to_owned();
    let tenants = txn
        .query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "tenant_id"))
        .collect::<Result<Vec<_>, _>>()?;
    txn.commit().await?;
    Ok(tenants)
}

/// Up to `limit` tickets of `tenant` with a check due at `now`, the most
/// overdue first.
pub async fn due<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Uuid>> {
    let statement = Query::select()
        .column(ident("ticket_id"))
        .from(ident("ticket_sla_checks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("check_time")).lte(now))
        .order_by(ident("check_time"), Order::Asc)
        .order_by(ident("ticket_id"), Order::Asc)
        .limit(limit)
        .to_owned();
    Ok(db
        .query_all(&statement)
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "ticket_id"))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Drops the check of ticket `id` (the ticket is gone or has nothing due).
pub async fn forget<C: ConnectionTrait>(db: &C, tenant: TenantId, id: Uuid) -> Result<()> {
    let statement = Query::delete()
        .from_table(ident("ticket_sla_checks"))
        .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(ident("ticket_id")).eq(id))
        .to_owned();
    db.execute(&statement).await?;
    Ok(())
}
