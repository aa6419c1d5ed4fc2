//! Incidents (crisis mode): many tickets with one cause, one response, one resolution.
//!
//! The link of a ticket to its incident is the ticket's own `incident`
//! field (changed here only, each change with its audit entry), so a ticket
//! belongs to at most one incident and the counts are read from the
//! tickets. A response reaches every linked ticket that is neither RESOLVED
//! nor CLOSED as a public reply in one transaction; the resolution resolves
//! them all in one transaction, or none.

mod resolve;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, PrincipalKind, TenantId},
    events::to_timestamp,
    idempotency,
};
use kefu_proto::v1::{
    Actor, CreateIncidentRequest, GetIncidentRequest, Incident, IncidentOpened, IncidentResolved,
    IncidentResponse, IncidentState, LinkTicketsToIncidentRequest, ListIncidentsRequest,
    ListIncidentsResponse, PostIncidentResponseRequest, Priority, ResolveIncidentRequest, Role,
    Ticket, TicketAttachment, TicketAuditAction, TicketComment, TicketCommentVisibility,
    TicketResolution, TicketResolutionCode, UnlinkTicketFromIncidentRequest, UpdateIncidentRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, actor_of, append_event, caller,
    comments::{add_comment, check_request_id},
    field_values, page_size, remember_request, required, system_actor,
};
use crate::{
    domain::{
        comment::{self as comment_rules, Author, check_attachments, check_body, check_length},
        incident::{self as rules, takes_part},
        record_filter::{self, FieldValue, Kind, OrderKey},
        ticket,
    },
    error::{Result, TicketsError},
    store::{incidents, tickets},
};

/// Supervisors and managers (and admins) run incidents; a partner's key
/// passes (the gateway checked its scope). PERMISSION_DENIED for other
/// users.
fn ensure_runs_incidents(context: &CallContext) -> Result<()> {
    if context.principal.kind != PrincipalKind::User {
        return Ok(());
    }
    let allowed = [Role::Supervisor, Role::Manager, Role::Admin];
    let holds = context
        .principal
        .roles
        .iter()
        .any(|held| allowed.iter().any(|role| role.as_str_name() == held));
    if holds {
        Ok(())
    } else {
        Err(TicketsError::PermissionDenied(
            "incidents are run by supervisors and managers".into(),
        ))
    }
}

/// The tickets linked to incident `name`, in name order (the order rows
/// are locked in).
async fn linked_tickets<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    name: &str,
) -> Result<Vec<Ticket>> {
    let prefilter = tickets::Prefilter {
        incident: Some(name.to_owned()),
        ..Default::default()
    };
    let mut linked = tickets::candidates(db, tenant, &prefilter).await?;
    linked.sort_by(|left, right| left.name.cmp(&right.name));
    Ok(linked)
}

/// Fills the counts of `incident` from its linked tickets.
async fn with_counts<C: sea_orm::ConnectionTrait>(
    db: &C,
    tenant: TenantId,
    mut incident: Incident,
) -> Result<Incident> {
    let linked = linked_tickets(db, tenant, &incident.name).await?;
    let open = linked
        .iter()
        .filter(|ticket| takes_part(ticket::state_of(ticket)))
        .count();
    incident.linked_ticket_count = i32::try_from(linked.len()).unwrap_or(i32::MAX);
    incident.open_ticket_count = i32::try_from(open).unwrap_or(i32::MAX);
    Ok(incident)
}

/// Commits a change of `incident` and answers with it, its counts filled.
async fn answer(
    shared: &Shared,
    txn: DatabaseTransaction,
    tenant: TenantId,
    incident: Incident,
) -> Result<Response<Incident>, Status> {
    let incident = with_counts(&txn, tenant, incident).await?;
    shared.commit(txn).await?;
    Ok(Response::new(incident))
}

/// The incident `name` of `tenant` with its revision, or NOT_FOUND naming
/// it (another tenant's included); locked with `lock`.
async fn load(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    field: &str,
    lock: bool,
) -> Result<(Incident, i64)> {
    if name.is_empty() {
        return Err(TicketsError::invalid(field, format!("{field} is required")));
    }
    let id = rules::id_of(name).ok_or_else(|| TicketsError::not_found(name))?;
    incidents::get(txn, tenant, id, lock)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))
}

/// Stores the changed `incident` (its update time now) over `revision`.
async fn save(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    incident: &mut Incident,
    revision: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = rules::id_of(&incident.name)
        .ok_or_else(|| TicketsError::Internal(format!("stored incident {}", incident.name)))?;
    incident.update_time = Some(to_timestamp(now));
    incidents::update(txn, tenant, id, incident, revision).await
}

/// A public reply carrying `body` and `attachments` (the incident's
/// response), ready for [`add_comment`].
fn reply(body: &str, attachments: &[TicketAttachment], ticket: &Ticket) -> Result<TicketComment> {
    let mut comment = TicketComment {
        visibility: TicketCommentVisibility::Public as i32,
        body: body.to_owned(),
        attachments: attachments.to_vec(),
        ..Default::default()
    };
    comment_rules::prepare(&mut comment, ticket.channel)?;
    Ok(comment)
}

/// Links the tickets `names` (sent in `field`) to `incident`, all or
/// nothing; those already linked to it are skipped. With
/// `reply_to_new_links` and a response posted, each newly linked open
/// ticket receives the latest response (its reach grows). Returns how many
/// were linked.
async fn link(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    incident: &mut Incident,
    names: &[String],
    field: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<usize> {
    rules::ticket_ids(field, names, true)?;
    let mut seen = HashSet::new();
    let mut linked = 0;
    for (index, name) in names.iter().enumerate() {
        if !seen.insert(name.as_str()) {
            continue;
        }
        let at = format!("{field}[{index}]");
        let ticket = match tickets::load_for_change(txn, tenant, name, &at, "").await {
            Err(TicketsError::NotFound(..)) => {
                return Err(TicketsError::invalid_because(
                    &at,
                    format!("{at} names {name}, which does not exist"),
                    "UNKNOWN_REFERENCE",
                ));
            }
            other => other?,
        };
        if !rules::may_link(&ticket.incident, &incident.name, &at)? {
            continue;
        }
        let mut after = ticket.clone();
        after.incident = incident.name.clone();
        tickets::save_change_related(
            txn,
            tenant,
            &ticket,
            &mut after,
            actor,
            TicketAuditAction::IncidentLinked,
            "",
            &incident.name,
            now,
        )
        .await?;
        linked += 1;
        let open = takes_part(ticket::state_of(&after));
        if incident.reply_to_new_links
            && open
            && let Some(latest) = incident.responses.last_mut()
        {
            let comment = reply(&latest.body, &latest.attachments, &after)?;
            let author = latest.author.clone().unwrap_or_else(|| actor.clone());
            add_comment(
                txn,
                tenant,
                after,
                comment,
                Author::Agent,
                &author,
                &incident.name,
                now,
            )
            .await?;
            latest.reached_ticket_count += 1;
        }
    }
    Ok(linked)
}

/// CreateIncident.
pub(super) async fn create_incident(
    shared: &Shared,
    request: Request<CreateIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    let (context, tenant) = caller(&request)?;
    ensure_runs_incidents(&context)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let mut incident = required(request.incident, "incident")?;
    rules::check(&incident, "incident")?;
    rules::ticket_ids("tickets", &request.tickets, true)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id)
            .await
            .map_err(TicketsError::from)?
    {
        let (incident, _) = load(&txn, tenant, &remembered.resource_name, "name", false).await?;
        let incident = with_counts(&txn, tenant, incident).await?;
        return Ok(Response::new(incident));
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let creator = if actor.name.starts_with("users/") {
        actor.name.clone()
    } else {
        String::new()
    };
    rules::prepare_new(&mut incident, &creator);
    let id = Uuid::now_v7();
    incident.name = rules::incident_name(id);
    incident.created_by = Some(actor.clone());
    incident.create_time = Some(to_timestamp(now));
    incident.update_time = Some(to_timestamp(now));
    incidents::insert(&txn, tenant, id, &incident, now).await?;
    incident.etag = kefu_kit::resource::etag(1);
    let linked = link(
        &txn,
        tenant,
        &mut incident,
        &request.tickets,
        "tickets",
        &actor,
        now,
    )
    .await?;
    let opened = IncidentOpened {
        incident: incident.name.clone(),
        title: incident.title.clone(),
        cause: incident.cause.clone(),
        priority: incident.priority,
        kind: incident.kind.clone(),
        category: incident.category.clone(),
        owner: incident.owner.clone(),
        team: incident.team.clone(),
        linked_ticket_count: i32::try_from(linked).unwrap_or(i32::MAX),
        created_by: Some(actor),
        create_time: incident.create_time,
    };
    append_event(&txn, tenant, &incident.name, &opened, now).await?;
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        "CreateIncident",
        &incident.name,
        now,
    )
    .await?;
    answer(shared, txn, tenant, incident).await
}

/// GetIncident.
pub(super) async fn get_incident(
    shared: &Shared,
    request: Request<GetIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    let (_, tenant) = caller(&request)?;
    let txn = shared.begin_read(tenant).await?;
    let (incident, _) = load(&txn, tenant, &request.get_ref().name, "name", false).await?;
    let incident = with_counts(&txn, tenant, incident).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(incident))
}

const FIELDS: &[(&str, Kind)] = &[
    ("state", Kind::Enum("INCIDENT_STATE_")),
    ("priority", Kind::Enum("PRIORITY_")),
    ("kind", Kind::Text),
    ("category", Kind::Text),
    ("owner", Kind::Text),
    ("team", Kind::Text),
    ("create_time", Kind::Time),
    ("resolve_time", Kind::Time),
];

fn values(incident: &Incident, field: &str) -> Vec<FieldValue> {
    match field {
        "state" => vec![FieldValue::Enum(
            rules::state_of(incident).as_str_name().to_owned(),
        )],
        "priority" => vec![FieldValue::Enum(
            Priority::try_from(incident.priority)
                .unwrap_or(Priority::Unspecified)
                .as_str_name()
                .to_owned(),
        )],
        "kind" => field_values::text(&incident.kind),
        "category" => field_values::text(&incident.category),
        "owner" => field_values::text(&incident.owner),
        "team" => field_values::text(&incident.team),
        "create_time" => field_values::time(incident.create_time.as_ref()),
        "resolve_time" => field_values::time(incident.resolve_time.as_ref()),
        _ => Vec::new(),
    }
}

fn sort_key(incident: &Incident, field: &str) -> (i64, i64) {
    let time = |time: Option<&prost_types::Timestamp>| {
        time.map_or((i64::MIN, 0), |time| (time.seconds, i64::from(time.nanos)))
    };
    match field {
        "update_time" => time(incident.update_time.as_ref()),
        "resolve_time" => time(incident.resolve_time.as_ref()),
        "priority" => (i64::from(incident.priority), 0),
        "linked_ticket_count" => (i64::from(incident.linked_ticket_count), 0),
        _ => time(incident.create_time.as_ref()),
    }
}

/// ListIncidents.
pub(super) async fn list_incidents(
    shared: &Shared,
    request: Request<ListIncidentsRequest>,
) -> Result<Response<ListIncidentsResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let size = page_size(request.page_size)?;
    let filter = record_filter::parse(&request.filter, FIELDS)
        .map_err(|error| TicketsError::invalid("filter", error.0))?;
    let order = record_filter::parse_order(
        &request.order_by,
        &[
            "create_time",
            "update_time",
            "resolve_time",
            "priority",
            "linked_ticket_count",
        ],
        OrderKey {
            field: "create_time",
            descending: true,
        },
    )
    .map_err(|error| TicketsError::invalid("order_by", error.0))?;
    let offset = record_filter::page_offset(&request.page_token)
        .map_err(|error| TicketsError::invalid("page_token", error.0))?;
    let txn = shared.begin_read(tenant).await?;
    let mut found = Vec::new();
    for incident in incidents::all(&txn, tenant).await? {
        if filter.matches(|field| values(&incident, field)) {
            found.push(with_counts(&txn, tenant, incident).await?);
        }
    }
    txn.commit().await.map_err(TicketsError::from)?;
    found.sort_by(|left, right| {
        record_filter::compare(left, right, &order, sort_key)
            .then_with(|| right.name.cmp(&left.name))
    });
    let total_size = i32::try_from(found.len()).unwrap_or(i32::MAX);
    let (incidents, next_page_token) = record_filter::page(found, offset, size);
    Ok(Response::new(ListIncidentsResponse {
        incidents,
        next_page_token,
        total_size,
    }))
}

/// UpdateIncident.
pub(super) async fn update_incident(
    shared: &Shared,
    request: Request<UpdateIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    let (context, tenant) = caller(&request)?;
    ensure_runs_incidents(&context)?;
    let request = request.into_inner();
    let input = required(request.incident, "incident")?;
    let mask = required(request.update_mask, "update_mask")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (mut incident, revision) = load(&txn, tenant, &input.name, "incident.name", true).await?;
    if !kefu_kit::resource::etag_matches(&input.etag, revision) {
        return Err(TicketsError::StaleEtag(input.name).into());
    }
    rules::ensure_open(&incident)?;
    rules::apply_mask(&mut incident, &input, &mask.paths)?;
    rules::check(&incident, "incident")?;
    save(&txn, tenant, &mut incident, revision, now).await?;
    answer(shared, txn, tenant, incident).await
}

/// LinkTicketsToIncident.
pub(super) async fn link_tickets_to_incident(
    shared: &Shared,
    request: Request<LinkTicketsToIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    let (context, tenant) = caller(&request)?;
    ensure_runs_incidents(&context)?;
    let request = request.into_inner();
    rules::ticket_ids("tickets", &request.tickets, false)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (mut incident, revision) = load(&txn, tenant, &request.incident, "incident", true).await?;
    rules::ensure_open(&incident)?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let linked = link(
        &txn,
        tenant,
        &mut incident,
        &request.tickets,
        "tickets",
        &actor,
        now,
    )
    .await?;
    if linked > 0 {
        save(&txn, tenant, &mut incident, revision, now).await?;
    }
    answer(shared, txn, tenant, incident).await
}

/// UnlinkTicketFromIncident.
pub(super) async fn unlink_ticket_from_incident(
    shared: &Shared,
    request: Request<UnlinkTicketFromIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    let (context, tenant) = caller(&request)?;
    ensure_runs_incidents(&context)?;
    let request = request.into_inner();
    check_length("reason", &request.reason, 500)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (mut incident, revision) = load(&txn, tenant, &request.incident, "incident", true).await?;
    let ticket = tickets::load_for_change(&txn, tenant, &request.ticket, "ticket", "").await?;
    if ticket.incident != incident.name {
        return Err(TicketsError::not_found(format!(
            "{} linked to {}",
            request.ticket, incident.name
        ))
        .into());
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut after = ticket.clone();
    after.incident.clear();
    tickets::save_change_related(
        &txn,
        tenant,
        &ticket,
        &mut after,
        &actor,
        TicketAuditAction::IncidentUnlinked,
        &request.reason,
        &incident.name,
        now,
    )
    .await?;
    save(&txn, tenant, &mut incident, revision, now).await?;
    answer(shared, txn, tenant, incident).await
}

/// PostIncidentResponse.
pub(super) async fn post_incident_response(
    shared: &Shared,
    request: Request<PostIncidentResponseRequest>,
) -> Result<Response<Incident>, Status> {
    let (context, tenant) = caller(&request)?;
    ensure_runs_incidents(&context)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    check_body("body", &request.body)?;
    check_attachments("attachments", &request.attachments)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id)
            .await
            .map_err(TicketsError::from)?
    {
        let (incident, _) = load(&txn, tenant, &remembered.resource_name, "name", false).await?;
        let incident = with_counts(&txn, tenant, incident).await?;
        return Ok(Response::new(incident));
    }
    let (mut incident, revision) = load(&txn, tenant, &request.name, "name", true).await?;
    rules::ensure_open(&incident)?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let mut reached = 0;
    for linked in linked_tickets(&txn, tenant, &incident.name).await? {
        if !takes_part(ticket::state_of(&linked)) {
            continue;
        }
        let ticket = tickets::load_for_change(&txn, tenant, &linked.name, "name", "").await?;
        let comment = reply(&request.body, &request.attachments, &ticket)?;
        add_comment(
            &txn,
            tenant,
            ticket,
            comment,
            Author::Agent,
            &actor,
            &incident.name,
            now,
        )
        .await?;
        reached += 1;
    }
    incident.responses.push(IncidentResponse {
        body: request.body,
        attachments: request.attachments,
        author: Some(actor),
        post_time: Some(to_timestamp(now)),
        reached_ticket_count: reached,
    });
    save(&txn, tenant, &mut incident, revision, now).await?;
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        "PostIncidentResponse",
        &incident.name,
        now,
    )
    .await?;
    answer(shared, txn, tenant, incident).await
}

/// ResolveIncident.
pub(super) async fn resolve_incident(
    shared: &Shared,
    request: Request<ResolveIncidentRequest>,
) -> Result<Response<Incident>, Status> {
    let (context, tenant) = caller(&request)?;
    ensure_runs_incidents(&context)?;
    let request = request.into_inner();
    comment_rules::check_required_text("summary", &request.summary, 2_000)?;
    check_length(
        "public_reply",
        &request.public_reply,
        comment_rules::BODY_LIMIT,
    )?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (mut incident, revision) = load(&txn, tenant, &request.name, "name", true).await?;
    if !kefu_kit::resource::etag_matches(&request.etag, revision) {
        return Err(TicketsError::StaleEtag(request.name).into());
    }
    if rules::state_of(&incident) != IncidentState::Open {
        return Err(TicketsError::illegal_transition(format!(
            "{} is already resolved",
            incident.name
        ))
        .into());
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let linked = linked_tickets(&txn, tenant, &incident.name).await?;
    let linked_count = linked.len();
    let mut resolved = 0;
    for linked in linked {
        if !takes_part(ticket::state_of(&linked)) {
            continue;
        }
        let mut ticket = tickets::load_for_change(&txn, tenant, &linked.name, "name", "").await?;
        if !request.public_reply.trim().is_empty() {
            let comment = reply(&request.public_reply, &[], &ticket)?;
            let (_, after) = add_comment(
                &txn,
                tenant,
                ticket,
                comment,
                Author::Agent,
                &actor,
                &incident.name,
                now,
            )
            .await?;
            ticket = after;
        }
        let resolution = TicketResolution {
            code: TicketResolutionCode::IncidentResolved as i32,
            summary: request.summary.clone(),
            resolved_by: Some(system_actor()),
            incident: incident.name.clone(),
        };
        resolve::resolve_linked(&txn, tenant, ticket, resolution, &actor, now).await?;
        resolved += 1;
    }
    incident.state = IncidentState::Resolved as i32;
    incident.resolve_time = Some(to_timestamp(now));
    incident.resolution = Some(TicketResolution {
        code: TicketResolutionCode::IncidentResolved as i32,
        summary: request.summary.clone(),
        resolved_by: Some(actor.clone()),
        incident: incident.name.clone(),
    });
    save(&txn, tenant, &mut incident, revision, now).await?;
    let event = IncidentResolved {
        incident: incident.name.clone(),
        title: incident.title.clone(),
        priority: incident.priority,
        kind: incident.kind.clone(),
        category: incident.category.clone(),
        resolution_summary: request.summary,
        linked_ticket_count: i32::try_from(linked_count).unwrap_or(i32::MAX),
        resolved_ticket_count: resolved,
        response_count: i32::try_from(incident.responses.len()).unwrap_or(i32::MAX),
        resolved_by: Some(actor),
        create_time: incident.create_time,
        resolve_time: incident.resolve_time,
    };
    append_event(&txn, tenant, &incident.name, &event, now).await?;
    answer(shared, txn, tenant, incident).await
}
