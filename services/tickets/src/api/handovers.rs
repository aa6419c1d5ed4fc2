//! Shift handovers (交接班): the open items of a shift handed to the next and acknowledged.
//!
//! A DRAFT is prepared (optionally filled with the outgoing user's and
//! team's open tickets), submitted to a user or team (the items' ticket
//! snapshots are taken then) and acknowledged by the receiver: every item's
//! ticket records the hand-over in its audit trail, and the items marked
//! `transfer_assignment` are assigned to the acknowledging user
//! (TicketAssigned each), with HandoverAcknowledged in the same
//! transaction.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, TenantId},
    events::to_timestamp,
    idempotency, resource,
};
use kefu_proto::v1::{
    AcknowledgeHandoverRequest, CreateHandoverRequest, GetHandoverRequest, Handover,
    HandoverAcknowledged, HandoverState, ListHandoversRequest, ListHandoversResponse, Role,
    SubmitHandoverRequest, Ticket, TicketAssigned, TicketAssignmentReason, TicketAuditAction,
    UpdateHandoverRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, actor_of, append_event, caller,
    comments::{caller_user, check_request_id, is_open},
    field_values, page_size, remember_request, required,
};
use crate::{
    domain::{
        comment::check_length,
        handover::{self as rules, Receiver},
        record_filter::{self, FieldValue, Kind, OrderKey},
        ticket::{self, event_context},
    },
    error::{Result, TicketsError},
    store::{directory, handovers, tickets},
};

/// The handover `name` of `tenant` with its revision, or NOT_FOUND naming
/// it (another tenant's included); locked with `lock`.
async fn load(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    field: &str,
    lock: bool,
) -> Result<(Handover, i64)> {
    if name.is_empty() {
        return Err(TicketsError::invalid(field, format!("{field} is required")));
    }
    let id = rules::id_of(name).ok_or_else(|| TicketsError::not_found(name))?;
    handovers::get(txn, tenant, id, lock)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))
}

/// Stores the changed `handover` (its update time now) over `revision`.
async fn save(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    handover: &mut Handover,
    revision: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = rules::id_of(&handover.name)
        .ok_or_else(|| TicketsError::Internal(format!("stored handover {}", handover.name)))?;
    handover.update_time = Some(to_timestamp(now));
    handovers::update(txn, tenant, id, handover, revision).await
}

/// INVALID_ARGUMENT (`UNKNOWN_REFERENCE`) naming `field` unless `check`
/// found the reference.
fn unknown(field: &str, name: &str) -> TicketsError {
    TicketsError::invalid_because(
        field,
        format!("{field} names {name}, which does not exist"),
        "UNKNOWN_REFERENCE",
    )
}

/// Checks that the users, teams and tickets `handover` names exist for
/// the tenant (`caller` itself, whose copy may lag, is taken as known).
async fn check_references(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    handover: &Handover,
    caller: Option<&str>,
) -> Result<()> {
    for (field, user) in [
        ("handover.from_user", &handover.from_user),
        ("handover.to_user", &handover.to_user),
    ] {
        if !user.is_empty()
            && Some(user.as_str()) != caller
            && directory::user(txn, tenant, user).await?.is_none()
        {
            return Err(unknown(field, user));
        }
    }
    for (field, team) in [
        ("handover.from_team", &handover.from_team),
        ("handover.to_team", &handover.to_team),
    ] {
        if !team.is_empty() && directory::team(txn, tenant, team).await?.is_none() {
            return Err(unknown(field, team));
        }
    }
    for (index, item) in handover.items.iter().enumerate() {
        let field = format!("handover.items[{index}].ticket");
        let id = ticket::id_of(&item.ticket).ok_or_else(|| unknown(&field, &item.ticket))?;
        if tickets::find(txn, tenant, id).await?.is_none() {
            return Err(unknown(&field, &item.ticket));
        }
    }
    Ok(())
}

/// The open tickets (neither RESOLVED nor CLOSED) of `from_user`, and the
/// unassigned ones in `from_team`'s queue, oldest first.
async fn open_tickets(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    from_user: &str,
    from_team: &str,
) -> Result<Vec<Ticket>> {
    let mut found = Vec::new();
    if !from_user.is_empty() {
        let prefilter = tickets::Prefilter {
            assignee: Some(from_user.to_owned()),
            ..Default::default()
        };
        found.extend(tickets::candidates(txn, tenant, &prefilter).await?);
    }
    if !from_team.is_empty() {
        let prefilter = tickets::Prefilter {
            assignee: Some(String::new()),
            team: Some(from_team.to_owned()),
            ..Default::default()
        };
        found.extend(tickets::candidates(txn, tenant, &prefilter).await?);
    }
    found.retain(|ticket| is_open(ticket::state_of(ticket)));
    found.sort_by_key(|ticket| {
        let time = ticket.create_time.unwrap_or_default();
        (time.seconds, time.nanos, ticket.name.clone())
    });
    found.dedup_by(|left, right| left.name == right.name);
    Ok(found)
}

/// CreateHandover.
pub(super) async fn create_handover(
    shared: &Shared,
    request: Request<CreateHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let mut handover = request.handover.unwrap_or_default();
    let user = caller_user(&context);
    rules::prepare_new(&mut handover, user.as_deref().unwrap_or_default());
    rules::check(&handover, "handover")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id)
            .await
            .map_err(TicketsError::from)?
    {
        let (handover, _) = load(&txn, tenant, &remembered.resource_name, "name", false).await?;
        return Ok(Response::new(handover));
    }
    check_references(&txn, tenant, &handover, user.as_deref()).await?;
    if request.include_open_tickets {
        let open = open_tickets(&txn, tenant, &handover.from_user, &handover.from_team).await?;
        rules::add_open_tickets(&mut handover, &open);
        rules::check_items("handover", &handover.items)?;
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let id = Uuid::now_v7();
    handover.name = rules::handover_name(id);
    handover.created_by = Some(actor);
    handover.create_time = Some(to_timestamp(now));
    handover.update_time = Some(to_timestamp(now));
    handovers::insert(&txn, tenant, id, &handover, now).await?;
    handover.etag = resource::etag(1);
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        "CreateHandover",
        &handover.name,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(handover))
}

/// GetHandover.
pub(super) async fn get_handover(
    shared: &Shared,
    request: Request<GetHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    let (_, tenant) = caller(&request)?;
    let txn = shared.begin_read(tenant).await?;
    let (handover, _) = load(&txn, tenant, &request.get_ref().name, "name", false).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(handover))
}

const FIELDS: &[(&str, Kind)] = &[
    ("state", Kind::Enum("HANDOVER_STATE_")),
    ("from_user", Kind::Text),
    ("from_team", Kind::Text),
    ("to_user", Kind::Text),
    ("to_team", Kind::Text),
    ("items.ticket", Kind::Text),
    ("create_time", Kind::Time),
    ("submit_time", Kind::Time),
    ("acknowledge_time", Kind::Time),
];

fn values(handover: &Handover, field: &str) -> Vec<FieldValue> {
    match field {
        "state" => vec![FieldValue::Enum(
            rules::state_of(handover).as_str_name().to_owned(),
        )],
        "from_user" => field_values::text(&handover.from_user),
        "from_team" => field_values::text(&handover.from_team),
        "to_user" => field_values::text(&handover.to_user),
        "to_team" => field_values::text(&handover.to_team),
        "items.ticket" => handover
            .items
            .iter()
            .map(|item| FieldValue::Text(item.ticket.clone()))
            .collect(),
        "create_time" => field_values::time(handover.create_time.as_ref()),
        "submit_time" => field_values::time(handover.submit_time.as_ref()),
        "acknowledge_time" => field_values::time(handover.acknowledge_time.as_ref()),
        _ => Vec::new(),
    }
}

fn sort_key(handover: &Handover, field: &str) -> (i64, i32) {
    let time = match field {
        "submit_time" => handover.submit_time.as_ref(),
        "acknowledge_time" => handover.acknowledge_time.as_ref(),
        _ => handover.create_time.as_ref(),
    };
    time.map_or((i64::MIN, 0), |time| (time.seconds, time.nanos))
}

/// ListHandovers.
pub(super) async fn list_handovers(
    shared: &Shared,
    request: Request<ListHandoversRequest>,
) -> Result<Response<ListHandoversResponse>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let size = page_size(request.page_size)?;
    let mut filter = record_filter::parse(&request.filter, FIELDS)
        .map_err(|error| TicketsError::invalid("filter", error.0))?;
    filter
        .resolve_me(caller_user(&context).as_deref())
        .map_err(|error| TicketsError::invalid("filter", error.0))?;
    let order = record_filter::parse_order(
        &request.order_by,
        &["create_time", "submit_time", "acknowledge_time"],
        OrderKey {
            field: "create_time",
            descending: true,
        },
    )
    .map_err(|error| TicketsError::invalid("order_by", error.0))?;
    let offset = record_filter::page_offset(&request.page_token)
        .map_err(|error| TicketsError::invalid("page_token", error.0))?;
    let txn = shared.begin_read(tenant).await?;
    let mut found: Vec<Handover> = handovers::all(&txn, tenant)
        .await?
        .into_iter()
        .filter(|handover| filter.matches(|field| values(handover, field)))
        .collect();
    txn.commit().await.map_err(TicketsError::from)?;
    found.sort_by(|left, right| {
        record_filter::compare(left, right, &order, sort_key)
            .then_with(|| right.name.cmp(&left.name))
    });
    let total_size = i32::try_from(found.len()).unwrap_or(i32::MAX);
    let (handovers, next_page_token) = record_filter::page(found, offset, size);
    Ok(Response::new(ListHandoversResponse {
        handovers,
        next_page_token,
        total_size,
    }))
}

/// Whether the caller holds one of `roles`.
fn holds(context: &CallContext, roles: &[Role]) -> bool {
    context
        .principal
        .roles
        .iter()
        .any(|held| roles.iter().any(|role| role.as_str_name() == held))
}

/// UpdateHandover.
pub(super) async fn update_handover(
    shared: &Shared,
    request: Request<UpdateHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let input = required(request.handover, "handover")?;
    let mask = required(request.update_mask, "update_mask")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (mut handover, revision) = load(&txn, tenant, &input.name, "handover.name", true).await?;
    if !resource::etag_matches(&input.etag, revision) {
        return Err(TicketsError::StaleEtag(input.name).into());
    }
    rules::ensure_state(&handover, HandoverState::Draft, "UpdateHandover")?;
    let creator = handover
        .created_by
        .as_ref()
        .map(|actor| actor.name.clone())
        .unwrap_or_default();
    let user = caller_user(&context);
    let is_creator = user.as_deref() == Some(creator.as_str());
    let is_key_creator =
        creator.starts_with("apiKeys/") && creator == format!("apiKeys/{}", context.principal.id);
    if !is_creator && !is_key_creator && !holds(&context, &[Role::Supervisor, Role::Manager]) {
        return Err(TicketsError::PermissionDenied(format!(
            "only the creator of {}, a supervisor or a manager may edit it",
            handover.name
        ))
        .into());
    }
    rules::apply_mask(&mut handover, &input, &mask.paths)?;
    rules::check(&handover, "handover")?;
    check_references(&txn, tenant, &handover, user.as_deref()).await?;
    save(&txn, tenant, &mut handover, revision, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(handover))
}

/// SubmitHandover.
pub(super) async fn submit_handover(
    shared: &Shared,
    request: Request<SubmitHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (mut handover, revision) = load(&txn, tenant, &request.name, "name", true).await?;
    if !resource::etag_matches(&request.etag, revision) {
        return Err(TicketsError::StaleEtag(request.name).into());
    }
    rules::ensure_state(&handover, HandoverState::Draft, "SubmitHandover")?;
    rules::check_submittable(&handover)?;
    for item in &mut handover.items {
        let id = ticket::id_of(&item.ticket)
            .ok_or_else(|| TicketsError::Internal(format!("handover item {}", item.ticket)))?;
        if let Some(ticket) = tickets::find(&txn, tenant, id).await? {
            item.snapshot = Some(rules::snapshot(&ticket));
        }
    }
    handover.state = HandoverState::Submitted as i32;
    handover.submit_time = Some(to_timestamp(now));
    save(&txn, tenant, &mut handover, revision, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(handover))
}

/// AcknowledgeHandover.
pub(super) async fn acknowledge_handover(
    shared: &Shared,
    request: Request<AcknowledgeHandoverRequest>,
) -> Result<Response<Handover>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_length("note", &request.note, 1_000)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (mut handover, revision) = load(&txn, tenant, &request.name, "name", true).await?;
    if !resource::etag_matches(&request.etag, revision) {
        return Err(TicketsError::StaleEtag(request.name).into());
    }
    rules::ensure_state(&handover, HandoverState::Submitted, "AcknowledgeHandover")?;
    let user = caller_user(&context);
    let teams = match user.as_deref() {
        Some(user) => directory::user(&txn, tenant, user)
            .await?
            .map(|user| user.teams)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let team = if handover.to_team.is_empty() {
        None
    } else {
        directory::team(&txn, tenant, &handover.to_team).await?
    };
    let member_of_team = match (user.as_deref(), team.as_ref()) {
        (Some(user), Some(team)) => team.members.iter().any(|member| member == user),
        _ => false,
    };
    let mut teams = teams;
    if member_of_team {
        teams.push(handover.to_team.clone());
    }
    let supervisor = team.map(|team| team.supervisor).unwrap_or_default();
    rules::ensure_receiver(
        &handover,
        &Receiver {
            user: user.as_deref(),
            teams: &teams,
            team_supervisor: &supervisor,
        },
    )?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut handed = Vec::with_capacity(handover.items.len());
    let mut transferred = Vec::new();
    for item in &handover.items {
        let before = tickets::load_for_change(&txn, tenant, &item.ticket, "name", "").await?;
        let mut after = before.clone();
        let transfer = item.transfer_assignment
            && is_open(ticket::state_of(&before))
            && user.as_deref().is_some_and(|user| before.assignee != user);
        if transfer {
            after.assignee = user.clone().unwrap_or_default();
        }
        tickets::save_change_related(
            &txn,
            tenant,
            &before,
            &mut after,
            &actor,
            TicketAuditAction::HandedOver,
            &item.note,
            &handover.name,
            now,
        )
        .await?;
        if transfer {
            let assigned = TicketAssigned {
                ticket: after.name.clone(),
                context: Some(event_context(&after)),
                previous_assignee: before.assignee.clone(),
                previous_team: before.team.clone(),
                assignee: after.assignee.clone(),
                team: after.team.clone(),
                reason: TicketAssignmentReason::Handover as i32,
                strategy: 0,
                handover: handover.name.clone(),
                actor: Some(actor.clone()),
            };
            append_event(&txn, tenant, &after.name, &assigned, now).await?;
            transferred.push(after.name.clone());
        }
        handed.push(after.name);
    }
    handover.state = HandoverState::Acknowledged as i32;
    handover.acknowledged_by = Some(actor.clone());
    handover.acknowledge_time = Some(to_timestamp(now));
    handover.acknowledge_note = request.note;
    save(&txn, tenant, &mut handover, revision, now).await?;
    let event = HandoverAcknowledged {
        handover: handover.name.clone(),
        from_user: handover.from_user.clone(),
        from_team: handover.from_team.clone(),
        from_shift: handover.from_shift.clone(),
        to_user: handover.to_user.clone(),
        to_team: handover.to_team.clone(),
        to_shift: handover.to_shift.clone(),
        tickets: handed,
        transferred_tickets: transferred,
        acknowledged_by: Some(actor),
        submit_time: handover.submit_time,
        acknowledge_time: handover.acknowledge_time,
    };
    append_event(&txn, tenant, &handover.name, &event, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(handover))
}
