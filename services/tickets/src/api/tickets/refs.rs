//! What the lifecycle needs from the other parts of the service: the
//! taxonomy (kinds, categories, custom fields), the directory copies (the
//! tenant's settings, users, customers) and the SLA clocks. Kept in one
//! place so each call is a small function.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use kefu_kit::{context::TenantId, resource};
use kefu_proto::v1::{Ticket, TicketCategory, TicketKind, UserState};
use sea_orm::DatabaseTransaction;

use crate::{
    domain::{
        business_time::BusinessTime,
        custom_fields::{self, When},
        sla::{self, SlaContext},
    },
    error::{Result, TicketsError},
    store::{
        directory::{self, KnownCustomerState},
        taxonomy,
    },
};

/// When custom fields are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldsWhen {
    /// Values checked, create requirements enforced (INVALID_ARGUMENT).
    OnCreate,
    /// Resolve requirements enforced (FAILED_PRECONDITION).
    OnResolve,
}

/// The kind `kind` and category `category` of a ticket, checked: unknown or
/// inactive kind, unknown category or one not allowed for the kind.
pub(super) async fn check_kind_and_category(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    kind: &str,
    category: &str,
) -> Result<(Option<TicketKind>, Option<TicketCategory>)> {
    let (kind, category) = taxonomy::check_kind_and_category(
        txn,
        tenant,
        kind,
        category,
        "ticket.kind",
        "ticket.category",
    )
    .await?;
    Ok((Some(kind), category))
}

/// Routes a new ticket: the given assignee must be an active user of the
/// tenant and the given team one of its teams (the assignee a member of it
/// when both are given); the team defaults to the assignee's team, else the
/// category's (else the kind's) front-line team; the required skills to the
/// category's (else the kind's); the department to the team's.
pub(super) async fn route(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &mut Ticket,
    kind: Option<&TicketKind>,
    category: Option<&TicketCategory>,
) -> Result<()> {
    let unknown = |field: &str, name: &str, what: &str| {
        TicketsError::invalid_because(
            field,
            format!("{field} {name:?} is not {what} of the tenant"),
            "UNKNOWN_REFERENCE",
        )
    };
    let routing = category
        .and_then(|category| category.routing.as_ref())
        .filter(|routing| {
            !routing.front_line_team.is_empty() || !routing.required_skills.is_empty()
        });
    let kind_routing = kind.and_then(|kind| kind.routing.as_ref());
    let mut assignee_teams = Vec::new();
    if !ticket.assignee.is_empty() {
        let user = directory::user(txn, tenant, &ticket.assignee)
            .await?
            .filter(|user| user.state == UserState::Active as i32)
            .ok_or_else(|| unknown("ticket.assignee", &ticket.assignee, "an active user"))?;
        assignee_teams = user.teams;
    }
    if !ticket.team.is_empty() {
        let team = directory::team(txn, tenant, &ticket.team)
            .await?
            .ok_or_else(|| unknown("ticket.team", &ticket.team, "a team"))?;
        if !ticket.assignee.is_empty()
            && !team.members.contains(&ticket.assignee)
            && !assignee_teams.contains(&ticket.team)
        {
            return Err(TicketsError::invalid(
                "ticket.assignee",
                format!("{} is not a member of {}", ticket.assignee, ticket.team),
            ));
        }
    } else if let Some(team) = assignee_teams.first() {
        ticket.team = team.clone();
    } else if let Some(team) = routing
        .or(kind_routing)
        .map(|routing| routing.front_line_team.clone())
    {
        ticket.team = team;
    }
    if ticket.required_skills.is_empty()
        && let Some(routing) = routing.or(kind_routing)
    {
        ticket.required_skills = routing.required_skills.clone();
    }
    // The department is the team's own field: its members are not needed.
    if ticket.department.is_empty()
        && !ticket.team.is_empty()
        && let Some(team) = directory::team_profile(txn, tenant, &ticket.team).await?
    {
        ticket.department = team.department;
    }
    Ok(())
}

/// The custom-field values of `after` (they were `before`) checked against
/// the tenant's definitions and the form of `kind`.
pub(super) async fn check_custom_fields(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    kind: Option<&TicketKind>,
    before: &Ticket,
    after: &Ticket,
    when: FieldsWhen,
) -> Result<()> {
    let Some(kind) = kind else {
        return Ok(());
    };
    let definitions = taxonomy::field_definitions(txn, tenant).await?;
    let when = match when {
        FieldsWhen::OnCreate => When::OnCreate,
        FieldsWhen::OnResolve => When::OnResolve,
    };
    custom_fields::validate_change(
        &definitions,
        kind,
        &before.custom_fields,
        &after.custom_fields,
        when,
    )
}

/// The custom fields the ticket's kind requires on resolve must be filled
/// (FAILED_PRECONDITION `REQUIRED_FIELD_MISSING`).
pub(super) async fn check_resolve_fields(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: &Ticket,
) -> Result<()> {
    let kind = kind_of(txn, tenant, &ticket.kind).await?;
    check_custom_fields(
        txn,
        tenant,
        kind.as_ref(),
        ticket,
        ticket,
        FieldsWhen::OnResolve,
    )
    .await
}

/// The kind `kind` of the tenant, if it exists (active or not).
pub(super) async fn kind_of(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    kind: &str,
) -> Result<Option<TicketKind>> {
    taxonomy::kind(txn, tenant, kind).await
}

/// The customer `customer` must exist for the tenant (another tenant's
/// counts as missing, an erased one too): INVALID_ARGUMENT
/// `UNKNOWN_REFERENCE` naming `field`. A merged customer reads as the
/// survivor. Returns the name to store.
pub(super) async fn check_customer(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &str,
    field: &str,
) -> Result<String> {
    let unknown = || {
        TicketsError::invalid_because(
            field,
            format!("{field} {customer:?} is not a customer of the tenant"),
            "UNKNOWN_REFERENCE",
        )
    };
    if resource::id_in(customer, "customers").is_none() {
        return Err(unknown());
    }
    match directory::customer(txn, tenant, customer).await? {
        Some(known) => match known.state {
            KnownCustomerState::Active => Ok(customer.to_owned()),
            KnownCustomerState::Merged { into } => Ok(into),
            KnownCustomerState::Erased => Err(unknown()),
        },
        None => Err(unknown()),
    }
}

/// The reopen window when the tenant's settings name none.
const DEFAULT_REOPEN_WINDOW: Duration = Duration::days(7);

/// The tenant's reopen window (its settings', else 7 days): how long after
/// a resolution the ticket may be reopened.
pub(crate) async fn reopen_window(txn: &DatabaseTransaction, tenant: TenantId) -> Result<Duration> {
    let window = directory::tenant(txn, tenant)
        .await?
        .and_then(|tenant| tenant.settings)
        .and_then(|settings| settings.reopen_window)
        .map(|window| Duration::seconds(window.seconds))
        .filter(|window| *window > Duration::zero());
    Ok(window.unwrap_or(DEFAULT_REOPEN_WINDOW))
}

/// The SLA context of a ticket of kind `kind`: the kind's policy from the
/// tenant's policies, the tenant's calendar and zone.
async fn sla_context(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    kind: Option<&TicketKind>,
) -> Result<SlaContext> {
    crate::store::sla::context_of_kind(txn, tenant, kind).await
}

/// Starts the SLA clocks of a new ticket.
pub(super) async fn start_clocks(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    kind: Option<&TicketKind>,
    ticket: &mut Ticket,
    now: DateTime<Utc>,
) -> Result<()> {
    let context = sla_context(txn, tenant, kind).await?;
    sla::start_clocks(ticket, &context, now);
    Ok(())
}

/// Moves the SLA clocks of `after` for its change from `before`.
pub(super) async fn follow_clocks(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    before: &Ticket,
    after: &mut Ticket,
    now: DateTime<Utc>,
) -> Result<()> {
    let kind = kind_of(txn, tenant, &after.kind).await?;
    let context = sla_context(txn, tenant, kind.as_ref()).await?;
    sla::on_change(before, after, &context, now);
    Ok(())
}

/// Fills the clocks' `elapsed` for tickets being read.
pub(super) async fn present(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    tickets: &mut [Ticket],
    now: DateTime<Utc>,
) -> Result<()> {
    if tickets.is_empty() {
        return Ok(());
    }
    let profile = directory::tenant(txn, tenant).await?;
    let time = BusinessTime::new(
        profile
            .as_ref()
            .and_then(|profile| profile.calendar.as_ref()),
        profile
            .as_ref()
            .map_or("", |profile| profile.time_zone.as_str()),
    );
    for ticket in tickets {
        sla::present(ticket, &time, now);
    }
    Ok(())
}

/// The ancestors of each category, itself included (`ticketCategories/…`),
/// for `category_tree`.
pub(super) async fn category_paths(
    txn: &DatabaseTransaction,
    tenant: TenantId,
) -> Result<HashMap<String, Vec<String>>> {
    Ok(taxonomy::categories(txn, tenant)
        .await?
        .into_iter()
        .map(|category| {
            let path = category
                .path
                .iter()
                .map(|key| format!("ticketCategories/{key}"))
                .collect();
            (category.name, path)
        })
        .collect())
}
