//! What the assignment strategies read besides the directory copy: how many
//! open tickets each agent holds (least loaded, max open items); and the
//! pick itself, shared by the API and the event handlers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kefu_kit::context::TenantId;
use kefu_proto::v1::{Team, Ticket, TicketState};
use sea_orm::{
    ConnectionTrait, DatabaseTransaction,
    sea_query::{Alias, Expr, ExprTrait, Func, Query},
};

use super::directory;
use crate::{
    domain::assignment::{self as rules, Strategy},
    error::Result,
};

fn ident(name: &'static str) -> Alias {
    Alias::new(name)
}

/// The states in which a ticket counts as an agent's open work.
pub const OPEN: [TicketState; 4] = [
    TicketState::New,
    TicketState::Open,
    TicketState::Pending,
    TicketState::OnHold,
];

/// Open tickets assigned to each of `users` (`users/{user}`); a user with
/// none is absent.
pub async fn open_counts<C: ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    users: &[String],
) -> Result<HashMap<String, u32>> {
    let mut counts = HashMap::new();
    for chunk in users.chunks(500) {
        let statement = Query::select()
            .column(ident("assignee"))
            .expr_as(Func::count(Expr::col(ident("id"))), ident("open"))
            .from(ident("tickets"))
            .and_where(Expr::col(ident("tenant_id")).eq(tenant.0))
            .and_where(Expr::col(ident("state")).is_in(OPEN.iter().map(|state| *state as i32)))
            .and_where(Expr::col(ident("assignee")).is_in(chunk.iter().cloned()))
            .group_by_col(ident("assignee"))
            .to_owned();
        for row in db.query_all(&statement).await? {
            let assignee: String = row.try_get("", "assignee")?;
            let open: i64 = row.try_get("", "open")?;
            counts.insert(assignee, u32::try_from(open).unwrap_or(u32::MAX));
        }
    }
    Ok(counts)
}

/// The agent `strategy` picks in `team` for `ticket` (present members with
/// the ticket's required skills, their open tickets counted), the turn
/// recorded for round robin; None when nobody is eligible.
pub async fn pick_agent(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
    team: &Team,
    strategy: Strategy,
    now: DateTime<Utc>,
) -> Result<Option<String>> {
    let users = directory::users(txn, tenant).await?;
    let members: Vec<String> = users
        .iter()
        .filter(|user| rules::is_member(team, user))
        .map(|user| user.name.clone())
        .collect();
    let open = open_counts(txn, tenant, &members).await?;
    let candidates = rules::candidates(
        team,
        &users,
        &ticket.required_skills,
        &open,
        rules::is_urgent(ticket.priority),
    );
    let last = directory::last_turn(txn, tenant, &team.name).await?;
    let Some(picked) = rules::pick(strategy, &candidates, last.as_deref()) else {
        return Ok(None);
    };
    directory::record_turn(txn, tenant, &team.name, &picked, now).await?;
    Ok(Some(picked))
}
