//! Tickets: create, read, list (the agents' views), update, the state
//! transitions and flags.

mod checks;
mod list;
pub(crate) mod refs;
mod transitions;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kefu_kit::{events::to_timestamp, idempotency, resource};
use kefu_proto::v1::{
    Actor, CreateTicketRequest, FlagTicketRequest, GetTicketRequest, Priority, Ticket,
    TicketAuditAction, TicketAuditEntry, TicketCreated, TicketKind, TicketState, TicketSupportTier,
    UpdateTicketRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub(super) use list::list_tickets;
pub(crate) use transitions::{auto_close, promise_outcome, resolved_event};
pub(super) use transitions::{
    close_ticket, hold_ticket, open_ticket, pend_ticket, reopen_ticket, resolve_ticket,
    resume_ticket,
};

use self::refs::FieldsWhen;
use super::{Shared, actor_of, append_event, caller, remember_request, required};
use crate::{
    domain::ticket::{self as rules, event_context, id_of, name_of},
    error::{Result, TicketsError},
    store::{audit, tickets},
};

/// The method name idempotency keys remember.
const CREATE: &str = "CreateTicket";

/// The paths `UpdateTicket` may change (besides `custom_fields.<key>`).
const MUTABLE: &[&str] = &[
    "subject",
    "description",
    "kind",
    "category",
    "channel",
    "customer",
    "contact",
    "custom_fields",
    "tags",
    "attachments",
    "department",
    "required_skills",
    "customer_promise",
    "external_id",
];

/// A request id: at most 100 characters.
fn check_request_id(request_id: &str) -> Result<()> {
    checks::at_most(request_id, 100, "request_id")
}

/// The ticket `name` of `tenant` for reading: NOT_FOUND when missing or
/// another tenant's.
async fn read(
    txn: &DatabaseTransaction,
    tenant: kefu_kit::context::TenantId,
    name: &str,
) -> Result<Ticket> {
    if name.is_empty() {
        return Err(TicketsError::invalid("name", "name is required"));
    }
    if resource::id_in(name, "tickets").is_none() {
        return Err(TicketsError::invalid("name", "name must be tickets/{id}"));
    }
    let id = id_of(name).ok_or_else(|| TicketsError::not_found(name))?;
    tickets::find(txn, tenant, id)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))
}

/// `GetTicket`.
pub(super) async fn get_ticket(
    shared: &Shared,
    request: Request<GetTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    let (_, tenant) = caller(&request)?;
    let txn = shared.begin_read(tenant).await?;
    let mut ticket = read(&txn, tenant, &request.get_ref().name).await?;
    refs::present(
        &txn,
        tenant,
        std::slice::from_mut(&mut ticket),
        shared.now(),
    )
    .await?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(ticket))
}

/// Clears what callers may not write on create.
fn clear_output_only(ticket: &mut Ticket) {
    ticket.name.clear();
    ticket.ticket_number.clear();
    ticket.base_kind = 0;
    ticket.state = 0;
    ticket.wait = None;
    ticket.tier = 0;
    ticket.first_response_sla = None;
    ticket.resolution_sla = None;
    ticket.due_time = None;
    ticket.complaint.clear();
    ticket.service_request.clear();
    ticket.escalations.clear();
    ticket.reopen_count = 0;
    ticket.reopen_deadline = None;
    ticket.resolution = None;
    ticket.customer_erased = false;
    ticket.created_by = None;
    ticket.create_time = None;
    ticket.update_time = None;
    ticket.first_response_time = None;
    ticket.resolve_time = None;
    ticket.close_time = None;
    ticket.etag.clear();
}

/// The fields a create requires.
fn check_required(ticket: &Ticket) -> Result<()> {
    if ticket.kind.is_empty() {
        return Err(TicketsError::invalid(
            "ticket.kind",
            "ticket.kind is required",
        ));
    }
    if ticket.channel == 0 {
        return Err(TicketsError::invalid(
            "ticket.channel",
            "ticket.channel is required",
        ));
    }
    if ticket.customer.is_empty() {
        return Err(TicketsError::invalid(
            "ticket.customer",
            "ticket.customer is required",
        ));
    }
    checks::required_text(&ticket.subject, 200, "ticket.subject")
}

/// The defaults a new ticket takes from its kind and category.
fn apply_defaults(ticket: &mut Ticket, kind: Option<&TicketKind>) {
    if let Some(kind) = kind {
        ticket.base_kind = kind.base_kind;
        if ticket.priority == 0 {
            ticket.priority = kind.default_priority;
        }
        if ticket.triage_class == 0 {
            ticket.triage_class = kind.default_triage_class;
        }
    }
    if ticket.priority == 0 {
        ticket.priority = Priority::Normal as i32;
    }
    ticket.tier = TicketSupportTier::FrontLine as i32;
    ticket.state = TicketState::New as i32;
}

/// `CreateTicket`: idempotent on `request_id`.
pub(super) async fn create_ticket(
    shared: &Shared,
    request: Request<CreateTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let mut ticket = required(request.ticket, "ticket")?;
    clear_output_only(&mut ticket);
    check_required(&ticket)?;
    checks::check_writable(&ticket)?;
    ticket.tags = checks::normalise_tags(&ticket.tags)?;
    if ticket.flags.len() > 100 {
        return Err(TicketsError::invalid("ticket.flags", "a ticket has at most 100 flags").into());
    }
    for (index, flag) in ticket.flags.iter().enumerate() {
        checks::check_flag(flag, &format!("ticket.flags[{index}]"))?;
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id)
            .await
            .map_err(TicketsError::from)?
    {
        if remembered.method != CREATE {
            return Err(TicketsError::invalid(
                "request_id",
                format!("request_id was used for {}", remembered.method),
            )
            .into());
        }
        let ticket = read(&txn, tenant, &remembered.resource_name).await?;
        txn.commit().await.map_err(TicketsError::from)?;
        return Ok(Response::new(ticket));
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let remember = Some(request.request_id.as_str()).filter(|id| !id.is_empty());
    let ticket = insert_ticket(
        &txn,
        tenant,
        ticket,
        &actor,
        now,
        remember.map(|id| (id, CREATE)),
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(ticket))
}

/// Validates, numbers and stores a new `ticket` (output-only fields
/// cleared, required ones checked), with its SLA due check, its CREATED
/// audit entry and its TicketCreated event; with `remember` (`request_id`,
/// method) the idempotency key too. Shared with follow-up tickets made by
/// other areas.
pub(crate) async fn insert_ticket(
    txn: &DatabaseTransaction,
    tenant: kefu_kit::context::TenantId,
    mut ticket: Ticket,
    actor: &Actor,
    now: DateTime<Utc>,
    remember: Option<(&str, &str)>,
) -> Result<Ticket> {
    let (kind, category) =
        refs::check_kind_and_category(txn, tenant, &ticket.kind, &ticket.category).await?;
    ticket.customer =
        refs::check_customer(txn, tenant, &ticket.customer, "ticket.customer").await?;
    refs::check_custom_fields(
        txn,
        tenant,
        kind.as_ref(),
        &Ticket::default(),
        &ticket,
        FieldsWhen::OnCreate,
    )
    .await?;
    if !ticket.parent_ticket.is_empty() {
        let parent = id_of(&ticket.parent_ticket);
        let exists = match parent {
            Some(id) => tickets::find(txn, tenant, id).await?.is_some(),
            None => false,
        };
        if !exists {
            return Err(TicketsError::invalid_because(
                "ticket.parent_ticket",
                format!("{} is not a ticket of the tenant", ticket.parent_ticket),
                "UNKNOWN_REFERENCE",
            ));
        }
    }
    ticket.customer_promise = checks::promise(ticket.customer_promise.as_ref(), actor, now)?;
    ticket.flags = ticket
        .flags
        .iter()
        .map(|flag| checks::stamped_flag(flag, actor, now))
        .collect();
    apply_defaults(&mut ticket, kind.as_ref());
    refs::route(txn, tenant, &mut ticket, kind.as_ref(), category.as_ref()).await?;
    let id = Uuid::now_v7();
    ticket.name = name_of(id);
    ticket.created_by = Some(actor.clone());
    ticket.create_time = Some(to_timestamp(now));
    ticket.update_time = Some(to_timestamp(now));
    refs::start_clocks(txn, tenant, kind.as_ref(), &mut ticket, now).await?;
    ticket.due_time = rules::due_time(&ticket);
    // The number row stays locked until commit and every creation of the
    // tenant waits for it: everything that does not carry the number (the
    // SLA due check the scan finds the ticket by, the idempotency key) is
    // written first, and the number is taken as late as possible.
    crate::store::sla::sync(txn, tenant, &ticket).await?;
    if let Some((request_id, method)) = remember {
        remember_request(txn, tenant, request_id, method, &ticket.name, now).await?;
    }
    ticket.ticket_number = tickets::next_number(txn, tenant).await?;
    tickets::insert(txn, tenant, &ticket).await?;
    ticket.etag = resource::etag(1);
    audit::append(
        txn,
        tenant,
        id,
        TicketAuditEntry {
            action: TicketAuditAction::Created as i32,
            actor: Some(actor.clone()),
            create_time: Some(to_timestamp(now)),
            changes: rules::changes(&Ticket::default(), &ticket),
            ..TicketAuditEntry::default()
        },
    )
    .await?;
    let event = TicketCreated {
        ticket: ticket.name.clone(),
        context: Some(event_context(&ticket)),
        subject: ticket.subject.clone(),
        created_by: Some(actor.clone()),
        parent_ticket: ticket.parent_ticket.clone(),
        source_callback_task: ticket.source_callback_task.clone(),
        source_survey_response: ticket.source_survey_response.clone(),
        external_id: ticket.external_id.clone(),
        first_response_due_time: ticket
            .first_response_sla
            .as_ref()
            .and_then(|clock| clock.due_time),
        resolution_due_time: ticket
            .resolution_sla
            .as_ref()
            .and_then(|clock| clock.due_time),
    };
    append_event(txn, tenant, &ticket.name, &event, now).await?;
    Ok(ticket)
}

/// `UpdateTicket`: the fields named in the mask, ABORTED on a stale etag.
pub(super) async fn update_ticket(
    shared: &Shared,
    request: Request<UpdateTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let patch = required(request.ticket, "ticket")?;
    let paths = request
        .update_mask
        .map(|mask| mask.paths)
        .unwrap_or_default();
    if paths.is_empty() {
        return Err(TicketsError::invalid("update_mask", "update_mask is required").into());
    }
    for path in &paths {
        let custom = path
            .strip_prefix("custom_fields.")
            .is_some_and(|key| !key.is_empty());
        if !custom && !MUTABLE.contains(&path.as_str()) {
            return Err(TicketsError::invalid(
                "update_mask",
                format!("{path} cannot be changed with UpdateTicket"),
            )
            .into());
        }
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let before =
        tickets::load_for_change(&txn, tenant, &patch.name, "ticket.name", &patch.etag).await?;
    if rules::state_of(&before) == TicketState::Closed {
        return Err(TicketsError::illegal_transition(format!(
            "{} is CLOSED: it cannot be updated",
            before.name
        ))
        .into());
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut after = before.clone();
    for path in &paths {
        apply_path(&mut after, &patch, path, &actor, now)?;
    }
    checks::check_writable(&after)?;
    checks::required_text(&after.subject, 200, "ticket.subject")?;
    if after.channel == 0 {
        return Err(TicketsError::invalid("ticket.channel", "ticket.channel is required").into());
    }
    let kind_changed = after.kind != before.kind;
    if kind_changed || after.category != before.category {
        if after.kind.is_empty() {
            return Err(TicketsError::invalid("ticket.kind", "ticket.kind is required").into());
        }
        let (kind, _) =
            refs::check_kind_and_category(&txn, tenant, &after.kind, &after.category).await?;
        if let Some(kind) = &kind {
            after.base_kind = kind.base_kind;
        }
    }
    if after.customer != before.customer {
        if after.customer.is_empty() {
            return Err(
                TicketsError::invalid("ticket.customer", "ticket.customer is required").into(),
            );
        }
        after.customer =
            refs::check_customer(&txn, tenant, &after.customer, "ticket.customer").await?;
    }
    if kind_changed || after.custom_fields != before.custom_fields {
        let kind = refs::kind_of(&txn, tenant, &after.kind).await?;
        refs::check_custom_fields(
            &txn,
            tenant,
            kind.as_ref(),
            &before,
            &after,
            FieldsWhen::OnCreate,
        )
        .await?;
    }
    refs::follow_clocks(&txn, tenant, &before, &mut after, now).await?;
    tickets::save_change(
        &txn,
        tenant,
        &before,
        &mut after,
        &actor,
        TicketAuditAction::Updated,
        "",
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(after))
}

/// Copies `path` from `patch` into `ticket`, normalised.
fn apply_path(
    ticket: &mut Ticket,
    patch: &Ticket,
    path: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    match path {
        "subject" => ticket.subject = patch.subject.clone(),
        "description" => ticket.description = patch.description.clone(),
        "kind" => ticket.kind = patch.kind.clone(),
        "category" => ticket.category = patch.category.clone(),
        "channel" => ticket.channel = patch.channel,
        "customer" => ticket.customer = patch.customer.clone(),
        "contact" => ticket.contact = patch.contact.clone(),
        "custom_fields" => ticket.custom_fields = non_null(&patch.custom_fields),
        "tags" => ticket.tags = checks::normalise_tags(&patch.tags)?,
        "attachments" => ticket.attachments = patch.attachments.clone(),
        "department" => ticket.department = patch.department.clone(),
        "required_skills" => ticket.required_skills = patch.required_skills.clone(),
        "customer_promise" => {
            ticket.customer_promise = checks::promise(patch.customer_promise.as_ref(), actor, now)?;
        }
        "external_id" => ticket.external_id = patch.external_id.clone(),
        _ => {
            let key = path.strip_prefix("custom_fields.").unwrap_or(path);
            match patch.custom_fields.get(key) {
                Some(value) if !is_null(value) => {
                    ticket.custom_fields.insert(key.to_owned(), value.clone());
                }
                _ => {
                    ticket.custom_fields.remove(key);
                }
            }
        }
    }
    Ok(())
}

/// Whether a value is null (it clears the field).
fn is_null(value: &prost_types::Value) -> bool {
    matches!(
        value.kind,
        None | Some(prost_types::value::Kind::NullValue(_))
    )
}

/// The map without its null values.
fn non_null(values: &HashMap<String, prost_types::Value>) -> HashMap<String, prost_types::Value> {
    values
        .iter()
        .filter(|(_, value)| !is_null(value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// `FlagTicket`: adds a flag note stamped with the caller and the time.
pub(super) async fn flag_ticket(
    shared: &Shared,
    request: Request<FlagTicketRequest>,
) -> Result<Response<Ticket>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let flag = request.flag.unwrap_or_default();
    checks::check_flag(&flag, "flag")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let before =
        tickets::load_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    if before.flags.len() >= 100 {
        return Err(TicketsError::invalid(
            "flag",
            format!("{} already has 100 flags", before.name),
        )
        .into());
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut after = before.clone();
    after.flags.push(checks::stamped_flag(&flag, &actor, now));
    tickets::save_change(
        &txn,
        tenant,
        &before,
        &mut after,
        &actor,
        TicketAuditAction::Flagged,
        "",
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(after))
}
