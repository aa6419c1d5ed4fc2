//! What the assignment strategies read besides the directory copy: how many
//! open tickets each agent holds (least loaded, max open items).

use std::collections::HashMap;

use kefu_kit::context::TenantId;
use kefu_proto::v1::TicketState;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Alias, Expr, ExprTrait, Func, Query},
};

use crate::error::Result;

fn ident(name: &'static str) -> Alias {
    Alias::new(name)
}

/// The states in which a ticket counts as an agent's open work.
const OPEN: [TicketState; 4] = [
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
