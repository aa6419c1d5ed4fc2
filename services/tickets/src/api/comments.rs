//! Public replies and internal notes, and the read side of the immutable audit trail.
//!
//! A comment is added in the transaction of its ticket's change: the
//! ticket's `update_time`, its state (an agent's first public reply opens a
//! NEW ticket, a customer's public comment resumes a PENDING one), its
//! first-response clock and one audit entry naming the comment move
//! together, with TicketReplied or TicketInternalNoteAdded (and
//! TicketStateChanged when the state moved). Incidents post their responses
//! through the same path ([`add_comment`]).

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{PrincipalKind, TenantId},
    events::to_timestamp,
    idempotency,
};
use kefu_proto::v1::{
    Actor, ActorKind, CreateTicketCommentRequest, GetTicketAuditEntryRequest,
    GetTicketCommentRequest, ListTicketAuditEntriesRequest, ListTicketAuditEntriesResponse,
    ListTicketCommentsRequest, ListTicketCommentsResponse, Ticket, TicketAuditAction,
    TicketAuditEntry, TicketComment, TicketCommentVisibility, TicketInternalNoteAdded,
    TicketReplied, TicketState, TicketStateChanged,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{Shared, actor_of, append_event, caller, field_values, remember_request, required};
use crate::{
    domain::{
        comment::{self as rules, Author},
        record_filter::{self, FieldValue, Kind, OrderKey},
        ticket::{self, event_context},
    },
    error::{Result, TicketsError},
    store::{self, audit, comments, tickets},
};

/// A request id: at most 100 characters.
pub(super) fn check_request_id(request_id: &str) -> Result<()> {
    if request_id.chars().count() > 100 {
        return Err(TicketsError::invalid(
            "request_id",
            "request_id is longer than 100 characters",
        ));
    }
    Ok(())
}

/// Who wrote a comment: the caller, or the ticket's customer for a relayed
/// customer message.
fn author_of(author: Author, caller: &Actor, ticket: &Ticket) -> Actor {
    match author {
        Author::Agent => caller.clone(),
        Author::Customer => Actor {
            kind: ActorKind::Customer as i32,
            name: ticket.customer.clone(),
            display_name: String::new(),
        },
    }
}

/// Adds the checked `comment` (see [`rules::prepare`]) by `author` to
/// `ticket` (read with `load_for_change`), as `caller` did it, for
/// `incident` (empty when not an incident response): stores the comment,
/// changes and saves the ticket with one audit entry and appends the
/// events. Returns the comment and the ticket as saved.
#[allow(clippy::too_many_arguments)]
pub(super) async fn add_comment(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    ticket: Ticket,
    mut comment: TicketComment,
    author: Author,
    caller: &Actor,
    incident: &str,
    now: DateTime<Utc>,
) -> Result<(TicketComment, Ticket)> {
    let ticket_id = ticket::id_of(&ticket.name)
        .ok_or_else(|| TicketsError::Internal(format!("stored ticket named {}", ticket.name)))?;
    let visibility = TicketCommentVisibility::try_from(comment.visibility)
        .unwrap_or(TicketCommentVisibility::Unspecified);
    let state = ticket::state_of(&ticket);
    let effect = rules::effect(
        state,
        ticket.first_response_time.is_some(),
        visibility,
        author,
    )?;
    let id = Uuid::now_v7();
    comment.name = rules::comment_name(ticket_id, id);
    comment.author = Some(author_of(author, caller, &ticket));
    comment.incident = incident.to_owned();
    comment.create_time = Some(to_timestamp(now));
    comments::insert(txn, tenant, ticket_id, id, &comment, now).await?;

    let mut after = ticket.clone();
    if effect.first_response {
        after.first_response_time = Some(to_timestamp(now));
    }
    if let Some(to) = effect.to_state {
        after.state = to as i32;
        after.wait = None;
    }
    store::sla::apply(txn, tenant, Some(&ticket), &mut after, now).await?;
    let action = if visibility == TicketCommentVisibility::Public {
        TicketAuditAction::PublicCommentAdded
    } else {
        TicketAuditAction::InternalNoteAdded
    };
    let actor = comment.author.clone().unwrap_or_default();
    tickets::save_change_related(
        txn,
        tenant,
        &ticket,
        &mut after,
        &actor,
        action,
        "",
        &comment.name,
        now,
    )
    .await?;

    if let Some(to) = effect.to_state {
        let reason = if author == Author::Customer {
            "the customer answered"
        } else {
            "first public reply"
        };
        let changed = TicketStateChanged {
            ticket: after.name.clone(),
            context: Some(event_context(&after)),
            from_state: state as i32,
            to_state: to as i32,
            actor: Some(actor.clone()),
            reason: reason.into(),
            expected_time: None,
        };
        append_event(txn, tenant, &after.name, &changed, now).await?;
    }
    let attachment_count = i32::try_from(comment.attachments.len()).unwrap_or(i32::MAX);
    if visibility == TicketCommentVisibility::Public {
        let first_response_elapsed = if effect.first_response {
            after
                .first_response_sla
                .as_ref()
                .and_then(|clock| clock.elapsed)
        } else {
            None
        };
        let replied = TicketReplied {
            ticket: after.name.clone(),
            context: Some(event_context(&after)),
            comment: comment.name.clone(),
            author: Some(actor),
            channel: comment.channel,
            first_response: effect.first_response,
            first_response_elapsed,
            incident: incident.to_owned(),
            attachment_count,
        };
        append_event(txn, tenant, &after.name, &replied, now).await?;
    } else {
        let noted = TicketInternalNoteAdded {
            ticket: after.name.clone(),
            context: Some(event_context(&after)),
            comment: comment.name.clone(),
            author: Some(actor),
            attachment_count,
        };
        append_event(txn, tenant, &after.name, &noted, now).await?;
    }
    Ok((comment, after))
}

/// The comment `name` of `tenant`, or NOT_FOUND naming it (another tenant's
/// included).
async fn load_comment(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
) -> Result<TicketComment> {
    let (ticket, id) = rules::ids_of(name).ok_or_else(|| TicketsError::not_found(name))?;
    comments::find(txn, tenant, ticket, id)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))
}

/// CreateTicketComment.
pub(super) async fn create_ticket_comment(
    shared: &Shared,
    request: Request<CreateTicketCommentRequest>,
) -> Result<Response<TicketComment>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let mut comment = required(request.comment, "comment")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id)
            .await
            .map_err(TicketsError::from)?
    {
        let comment = load_comment(&txn, tenant, &remembered.resource_name).await?;
        return Ok(Response::new(comment));
    }
    let ticket = tickets::load_for_change(&txn, tenant, &request.parent, "parent", "").await?;
    let author = rules::prepare(&mut comment, ticket.channel)?;
    let actor = actor_of(&txn, tenant, &context).await?;
    let (comment, _) = add_comment(&txn, tenant, ticket, comment, author, &actor, "", now).await?;
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        "CreateTicketComment",
        &comment.name,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(comment))
}

/// GetTicketComment.
pub(super) async fn get_ticket_comment(
    shared: &Shared,
    request: Request<GetTicketCommentRequest>,
) -> Result<Response<TicketComment>, Status> {
    let (_, tenant) = caller(&request)?;
    let txn = shared.begin_read(tenant).await?;
    let comment = load_comment(&txn, tenant, &request.get_ref().name).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(comment))
}

/// The ticket id of a list's `parent`, after checking the ticket exists for
/// the caller's tenant (NOT_FOUND otherwise, as for a missing one).
async fn parent_ticket(txn: &DatabaseTransaction, tenant: TenantId, parent: &str) -> Result<Uuid> {
    if parent.is_empty() {
        return Err(TicketsError::invalid("parent", "parent is required"));
    }
    let id = ticket::id_of(parent).ok_or_else(|| TicketsError::not_found(parent))?;
    tickets::find(txn, tenant, id)
        .await?
        .ok_or_else(|| TicketsError::not_found(parent))?;
    Ok(id)
}

fn invalid_filter(field: &str) -> impl Fn(record_filter::FilterError) -> TicketsError + '_ {
    move |error| TicketsError::invalid(field, error.0)
}

fn enum_value(name: &str) -> Vec<FieldValue> {
    vec![FieldValue::Enum(name.to_owned())]
}

fn actor_kind(actor: Option<&Actor>) -> Vec<FieldValue> {
    let kind =
        ActorKind::try_from(actor.map_or(0, |actor| actor.kind)).unwrap_or(ActorKind::Unspecified);
    enum_value(kind.as_str_name())
}

const COMMENT_FIELDS: &[(&str, Kind)] = &[
    ("visibility", Kind::Enum("TICKET_COMMENT_VISIBILITY_")),
    ("author.kind", Kind::Enum("ACTOR_KIND_")),
    ("author.name", Kind::Text),
    ("channel", Kind::Enum("CHANNEL_")),
    ("incident", Kind::Text),
    ("create_time", Kind::Time),
];

fn comment_values(comment: &TicketComment, field: &str) -> Vec<FieldValue> {
    match field {
        "visibility" => enum_value(
            TicketCommentVisibility::try_from(comment.visibility)
                .unwrap_or(TicketCommentVisibility::Unspecified)
                .as_str_name(),
        ),
        "author.kind" => actor_kind(comment.author.as_ref()),
        "author.name" => {
            field_values::text(comment.author.as_ref().map_or("", |author| &author.name))
        }
        "channel" => enum_value(
            kefu_proto::v1::Channel::try_from(comment.channel)
                .unwrap_or(kefu_proto::v1::Channel::Unspecified)
                .as_str_name(),
        ),
        "incident" => field_values::text(&comment.incident),
        "create_time" => field_values::time(comment.create_time.as_ref()),
        _ => Vec::new(),
    }
}

/// The sort key of a comment or audit entry: its time, then its name (ids
/// are time-ordered).
fn time_key(time: Option<&prost_types::Timestamp>, name: &str) -> (i64, i32, String) {
    let time = time.cloned().unwrap_or_default();
    (time.seconds, time.nanos, name.to_owned())
}

const OLDEST_FIRST: OrderKey = OrderKey {
    field: "create_time",
    descending: false,
};

/// What a list of one ticket's records (its comments or its audit
/// entries) asks for, checked before anything is read.
struct RecordPage {
    size: usize,
    filter: record_filter::Filter,
    order: Vec<OrderKey>,
    offset: usize,
}

impl RecordPage {
    /// INVALID_ARGUMENT naming the request field that cannot be read.
    fn parse(
        page_size: i32,
        filter: &str,
        order_by: &str,
        page_token: &str,
        fields: &[(&'static str, Kind)],
    ) -> Result<Self> {
        let size = super::page_size(page_size)?;
        let filter = record_filter::parse(filter, fields).map_err(invalid_filter("filter"))?;
        let order = record_filter::parse_order(order_by, &["create_time"], OLDEST_FIRST)
            .map_err(invalid_filter("order_by"))?;
        let offset =
            record_filter::page_offset(page_token).map_err(invalid_filter("page_token"))?;
        Ok(Self {
            size,
            filter,
            order,
            offset,
        })
    }

    /// The records the filter keeps, ordered by time then name, paged: the
    /// page, the next page's token and how many matched.
    fn take<T>(
        &self,
        records: Vec<T>,
        values: impl Fn(&T, &str) -> Vec<FieldValue>,
        create_time: impl Fn(&T) -> (Option<&prost_types::Timestamp>, &str),
    ) -> (Vec<T>, String, i32) {
        let mut found: Vec<T> = records
            .into_iter()
            .filter(|record| self.filter.matches(|field| values(record, field)))
            .collect();
        found.sort_by(|left, right| {
            record_filter::compare(left, right, &self.order, |record, _| {
                let (time, name) = create_time(record);
                time_key(time, name)
            })
        });
        let total_size = i32::try_from(found.len()).unwrap_or(i32::MAX);
        let (page, next_page_token) = record_filter::page(found, self.offset, self.size);
        (page, next_page_token, total_size)
    }
}

/// ListTicketComments.
pub(super) async fn list_ticket_comments(
    shared: &Shared,
    request: Request<ListTicketCommentsRequest>,
) -> Result<Response<ListTicketCommentsResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let page = RecordPage::parse(
        request.page_size,
        &request.filter,
        &request.order_by,
        &request.page_token,
        COMMENT_FIELDS,
    )?;
    let txn = shared.begin_read(tenant).await?;
    let ticket = parent_ticket(&txn, tenant, &request.parent).await?;
    let found = comments::list(&txn, tenant, ticket).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    let (comments, next_page_token, total_size) = page.take(found, comment_values, |comment| {
        (comment.create_time.as_ref(), &comment.name)
    });
    Ok(Response::new(ListTicketCommentsResponse {
        comments,
        next_page_token,
        total_size,
    }))
}

/// GetTicketAuditEntry.
pub(super) async fn get_ticket_audit_entry(
    shared: &Shared,
    request: Request<GetTicketAuditEntryRequest>,
) -> Result<Response<TicketAuditEntry>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = &request.get_ref().name;
    let (ticket, entry) = audit::ids_of(name).ok_or_else(|| TicketsError::not_found(name))?;
    let txn = shared.begin_read(tenant).await?;
    let found = audit::find(&txn, tenant, ticket, entry)
        .await?
        .ok_or_else(|| TicketsError::not_found(name))?;
    txn.commit().await.map_err(TicketsError::from)?;
    Ok(Response::new(found))
}

const AUDIT_FIELDS: &[(&str, Kind)] = &[
    ("action", Kind::Enum("TICKET_AUDIT_ACTION_")),
    ("actor.kind", Kind::Enum("ACTOR_KIND_")),
    ("actor.name", Kind::Text),
    ("changes.path", Kind::Text),
    ("create_time", Kind::Time),
];

fn audit_values(entry: &TicketAuditEntry, field: &str) -> Vec<FieldValue> {
    match field {
        "action" => enum_value(
            TicketAuditAction::try_from(entry.action)
                .unwrap_or(TicketAuditAction::Unspecified)
                .as_str_name(),
        ),
        "actor.kind" => actor_kind(entry.actor.as_ref()),
        "actor.name" => field_values::text(entry.actor.as_ref().map_or("", |actor| &actor.name)),
        "changes.path" => entry
            .changes
            .iter()
            .map(|change| FieldValue::Text(change.path.clone()))
            .collect(),
        "create_time" => field_values::time(entry.create_time.as_ref()),
        _ => Vec::new(),
    }
}

/// ListTicketAuditEntries.
pub(super) async fn list_ticket_audit_entries(
    shared: &Shared,
    request: Request<ListTicketAuditEntriesRequest>,
) -> Result<Response<ListTicketAuditEntriesResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let page = RecordPage::parse(
        request.page_size,
        &request.filter,
        &request.order_by,
        &request.page_token,
        AUDIT_FIELDS,
    )?;
    let txn = shared.begin_read(tenant).await?;
    let ticket = parent_ticket(&txn, tenant, &request.parent).await?;
    let found = audit::list(&txn, tenant, ticket).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    let (audit_entries, next_page_token, total_size) = page.take(found, audit_values, |entry| {
        (entry.create_time.as_ref(), &entry.name)
    });
    Ok(Response::new(ListTicketAuditEntriesResponse {
        audit_entries,
        next_page_token,
        total_size,
    }))
}

/// Whether the caller is a user (not a key or Kefu itself).
pub(super) fn caller_user(context: &kefu_kit::context::CallContext) -> Option<String> {
    (context.principal.kind == PrincipalKind::User)
        .then(|| format!("users/{}", context.principal.id))
}

/// Whether `state` leaves a ticket open to more work.
pub(super) fn is_open(state: TicketState) -> bool {
    !ticket::is_done(state)
}
