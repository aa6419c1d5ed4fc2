//! `ListTickets`: the agents' views (my open tickets, the team queue by
//! priority and due time, unassigned, overdue, pending on the customer, a
//! customer's history) as an AIP-160 filter, a free-text query and an
//! order, evaluated over the tickets an indexed prefilter returns.

use kefu_kit::context::PrincipalKind;
use kefu_proto::v1::{ListTicketsRequest, ListTicketsResponse, Ticket};
use tonic::{Request, Response, Status};

use super::{checks, refs};
use crate::{
    api::{Shared, caller, page_size},
    domain::ticket_filter::{self, Scope},
    error::{Result, TicketsError},
    store::tickets,
};

/// The offset a page token stands for (`o{offset}`).
fn offset_of(token: &str) -> Result<usize> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .strip_prefix('o')
        .and_then(|offset| offset.parse().ok())
        .ok_or_else(|| TicketsError::invalid("page_token", "page_token is not one this list gave"))
}

/// Whether `ticket` contains `query` (lower-cased) in its number, subject,
/// description or external id.
fn contains(ticket: &Ticket, query: &str) -> bool {
    [
        &ticket.ticket_number,
        &ticket.subject,
        &ticket.description,
        &ticket.external_id,
    ]
    .iter()
    .any(|text| text.to_lowercase().contains(query))
}

/// `ListTickets`.
pub(crate) async fn list_tickets(
    shared: &Shared,
    request: Request<ListTicketsRequest>,
) -> Result<Response<ListTicketsResponse>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let size = page_size(request.page_size)?;
    let offset = offset_of(&request.page_token)?;
    checks::at_most(&request.query, 200, "query")?;
    let me = match context.principal.kind {
        PrincipalKind::User => format!("users/{}", context.principal.id),
        _ => String::new(),
    };
    let filter = ticket_filter::parse(&request.filter, &me)
        .map_err(|error| TicketsError::invalid("filter", error.0))?;
    let order = ticket_filter::parse_order(&request.order_by)
        .map_err(|error| TicketsError::invalid("order_by", error.0))?;
    let query = request.query.trim().to_lowercase();
    let txn = shared.begin_read(tenant).await?;
    let candidates = tickets::candidates(&txn, tenant, &filter.prefilter()).await?;
    let paths = if request.filter.contains("category_tree") {
        refs::category_paths(&txn, tenant).await?
    } else {
        Default::default()
    };
    let category_path = |category: &str| -> Vec<String> {
        paths
            .get(category)
            .cloned()
            .unwrap_or_else(|| vec![category.to_owned()])
    };
    let scope = Scope {
        me: &me,
        category_path: &category_path,
    };
    let mut matching: Vec<Ticket> = candidates
        .into_iter()
        .filter(|ticket| filter.matches(ticket, &scope))
        .filter(|ticket| query.is_empty() || contains(ticket, &query))
        .collect();
    matching.sort_by(|a, b| ticket_filter::compare_tickets(a, b, &order));
    let total = matching.len();
    let mut page: Vec<Ticket> = matching.into_iter().skip(offset).take(size).collect();
    refs::present(&txn, tenant, &mut page, shared.now()).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    let next = offset + page.len();
    Ok(Response::new(ListTicketsResponse {
        tickets: page,
        next_page_token: if next < total {
            format!("o{next}")
        } else {
            String::new()
        },
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    }))
}
