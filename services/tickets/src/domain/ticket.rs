//! A ticket (工单): its name, number, state machine, due time, the context
//! every ticket event carries, and the field changes an audit entry lists.

use std::sync::OnceLock;

use kefu_kit::{events::from_timestamp, resource};
use kefu_proto::v1::{
    Ticket, TicketEventContext, TicketFieldChange, TicketPromiseState, TicketSlaClock,
    TicketSlaClockState, TicketState,
};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use prost_types::Timestamp;
use uuid::Uuid;

/// The id in `tickets/{id}`, when `name` has that shape.
pub fn id_of(name: &str) -> Option<Uuid> {
    resource::id_in(name, "tickets").and_then(|id| Uuid::parse_str(id).ok())
}

/// `tickets/{id}`.
pub fn name_of(id: Uuid) -> String {
    format!("tickets/{id}")
}

/// The human-readable number of the tenant's `number`th ticket: `T-000123`
/// (at least six digits).
pub fn ticket_number(number: i64) -> String {
    format!("T-{number:06}")
}

/// The classification and routing every ticket event carries.
pub fn event_context(ticket: &Ticket) -> TicketEventContext {
    let category_path = resource::id_in(&ticket.category, "ticketCategories")
        .map(|key| vec![key.to_owned()])
        .unwrap_or_default();
    TicketEventContext {
        ticket_number: ticket.ticket_number.clone(),
        kind: ticket.kind.clone(),
        base_kind: ticket.base_kind,
        category: ticket.category.clone(),
        category_path,
        priority: ticket.priority,
        triage_class: ticket.triage_class,
        channel: ticket.channel,
        customer: ticket.customer.clone(),
        assignee: ticket.assignee.clone(),
        team: ticket.team.clone(),
        department: ticket.department.clone(),
        tier: ticket.tier,
        state: ticket.state,
        tags: ticket.tags.clone(),
        incident: ticket.incident.clone(),
        create_time: ticket.create_time,
    }
}

/// The transitions of the state machine (tickets.proto's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// NEW → OPEN.
    Open,
    /// NEW, OPEN, ON_HOLD → PENDING.
    Pend,
    /// NEW, OPEN, PENDING → ON_HOLD.
    Hold,
    /// PENDING, ON_HOLD → OPEN.
    Resume,
    /// NEW, OPEN, PENDING, ON_HOLD → RESOLVED.
    Resolve,
    /// RESOLVED → CLOSED.
    Close,
    /// RESOLVED, CLOSED → OPEN (within the reopen window).
    Reopen,
}

impl Transition {
    /// The state the transition leads to.
    pub fn target(self) -> TicketState {
        match self {
            Self::Open | Self::Resume | Self::Reopen => TicketState::Open,
            Self::Pend => TicketState::Pending,
            Self::Hold => TicketState::OnHold,
            Self::Resolve => TicketState::Resolved,
            Self::Close => TicketState::Closed,
        }
    }

    /// Whether the transition may start from `from`.
    pub fn allowed_from(self, from: TicketState) -> bool {
        use TicketState::{Closed, New, OnHold, Open, Pending, Resolved};
        match self {
            Self::Open => from == New,
            Self::Pend => matches!(from, New | Open | OnHold),
            Self::Hold => matches!(from, New | Open | Pending),
            Self::Resume => matches!(from, Pending | OnHold),
            Self::Resolve => matches!(from, New | Open | Pending | OnHold),
            Self::Close => from == Resolved,
            Self::Reopen => matches!(from, Resolved | Closed),
        }
    }

    /// The method's name, for messages.
    pub fn method(self) -> &'static str {
        match self {
            Self::Open => "OpenTicket",
            Self::Pend => "PendTicket",
            Self::Hold => "HoldTicket",
            Self::Resume => "ResumeTicket",
            Self::Resolve => "ResolveTicket",
            Self::Close => "CloseTicket",
            Self::Reopen => "ReopenTicket",
        }
    }
}

/// The state of `ticket` (UNSPECIFIED when unknown).
pub fn state_of(ticket: &Ticket) -> TicketState {
    TicketState::try_from(ticket.state).unwrap_or(TicketState::Unspecified)
}

/// Whether `state` is RESOLVED or CLOSED (no work left).
pub fn is_done(state: TicketState) -> bool {
    matches!(state, TicketState::Resolved | TicketState::Closed)
}

/// The due time of a clock that still counts (not paused, not stopped).
fn running_due(clock: Option<&TicketSlaClock>) -> Option<Timestamp> {
    let clock = clock?;
    let counting = matches!(
        TicketSlaClockState::try_from(clock.state).unwrap_or(TicketSlaClockState::Unspecified),
        TicketSlaClockState::Running | TicketSlaClockState::Warning | TicketSlaClockState::Breached
    );
    if counting && !clock.paused && clock.stop_time.is_none() {
        clock.due_time
    } else {
        None
    }
}

/// The next thing due on the ticket: the earliest of the running clocks'
/// due times, the open promise's follow-up time and the wait's expected
/// time; none for RESOLVED and CLOSED tickets.
pub fn due_time(ticket: &Ticket) -> Option<Timestamp> {
    if is_done(state_of(ticket)) {
        return None;
    }
    let promise = ticket.customer_promise.as_ref().and_then(|promise| {
        let open = matches!(
            TicketPromiseState::try_from(promise.state).unwrap_or(TicketPromiseState::Unspecified),
            TicketPromiseState::Open | TicketPromiseState::Unspecified
        );
        if open { promise.follow_up_time } else { None }
    });
    let wait = ticket
        .wait
        .as_ref()
        .and_then(|wait| wait.expected_time)
        .filter(|_| matches!(state_of(ticket), TicketState::Pending | TicketState::OnHold));
    [
        running_due(ticket.first_response_sla.as_ref()),
        running_due(ticket.resolution_sla.as_ref()),
        promise,
        wait,
    ]
    .into_iter()
    .flatten()
    .min_by_key(|time| (time.seconds, time.nanos))
}

/// Whether `time` is set and not after `now`.
pub fn is_past(time: Option<&Timestamp>, now: chrono::DateTime<chrono::Utc>) -> bool {
    time.and_then(from_timestamp)
        .is_some_and(|time| time <= now)
}

/// The contract's descriptors, to render tickets in the proto3 JSON form.
fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(kefu_proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// `ticket` in the proto3 JSON form with the proto field names, default
/// values left out.
fn to_json(ticket: &Ticket) -> serde_json::Map<String, serde_json::Value> {
    let Some(descriptor) = pool().and_then(|pool| pool.get_message_by_name("kefu.v1.Ticket"))
    else {
        return serde_json::Map::new();
    };
    let Ok(message) = DynamicMessage::decode(descriptor, ticket.encode_to_vec().as_slice()) else {
        return serde_json::Map::new();
    };
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(true);
    match message.serialize_with_options(serde_json::value::Serializer, &options) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// A JSON value as a `google.protobuf.Value`.
pub fn to_value(json: &serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match json {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(value) => Kind::BoolValue(*value),
        serde_json::Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(text) => Kind::StringValue(text.clone()),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        serde_json::Value::Object(fields) => Kind::StructValue(prost_types::Struct {
            fields: fields
                .iter()
                .map(|(key, value)| (key.clone(), to_value(value)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Paths never listed in an audit entry: they change with every write.
const UNAUDITED: &[&str] = &["update_time", "etag", "name"];

/// Every field that differs between `before` and `after`, with its values
/// in the proto3 JSON form (null when unset); custom fields one by one
/// (`custom_fields.<key>`).
pub fn changes(before: &Ticket, after: &Ticket) -> Vec<TicketFieldChange> {
    let before = to_json(before);
    let after = to_json(after);
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let null = serde_json::Value::Null;
    let mut changes = Vec::new();
    for key in keys {
        if UNAUDITED.contains(&key.as_str()) {
            continue;
        }
        let old = before.get(key).unwrap_or(&null);
        let new = after.get(key).unwrap_or(&null);
        if old == new {
            continue;
        }
        if key == "custom_fields" {
            let empty = serde_json::Map::new();
            let old_fields = old.as_object().unwrap_or(&empty);
            let new_fields = new.as_object().unwrap_or(&empty);
            let mut field_keys: Vec<&String> = old_fields.keys().chain(new_fields.keys()).collect();
            field_keys.sort();
            field_keys.dedup();
            for field in field_keys {
                let old = old_fields.get(field).unwrap_or(&null);
                let new = new_fields.get(field).unwrap_or(&null);
                if old != new {
                    changes.push(TicketFieldChange {
                        path: format!("custom_fields.{field}"),
                        before: Some(to_value(old)),
                        after: Some(to_value(new)),
                    });
                }
            }
            continue;
        }
        changes.push(TicketFieldChange {
            path: key.clone(),
            before: Some(to_value(old)),
            after: Some(to_value(new)),
        });
    }
    changes
}

/// What erased personal data reads as.
pub const ERASED: &str = "[erased]";

/// Whether a custom-field value is text (the kind that may hold personal
/// data).
fn is_text(value: &prost_types::Value) -> bool {
    matches!(value.kind, Some(prost_types::value::Kind::StringValue(_)))
}

/// Anonymises a ticket of an erased customer: `customer` and `contact`
/// cleared; the subject, description, attachments, flag texts and text
/// custom fields read `[erased]`; kind, category, states, times, clocks,
/// assignment and resolution code stay for the statistics.
pub fn anonymise(ticket: &mut Ticket) {
    ticket.customer.clear();
    ticket.contact = None;
    ticket.subject = ERASED.to_owned();
    if !ticket.description.is_empty() {
        ticket.description = ERASED.to_owned();
    }
    for attachment in &mut ticket.attachments {
        attachment.uri = ERASED.to_owned();
        attachment.file_name = ERASED.to_owned();
        attachment.sha256.clear();
    }
    for flag in &mut ticket.flags {
        flag.content = ERASED.to_owned();
        flag.handling = ERASED.to_owned();
    }
    for value in ticket.custom_fields.values_mut() {
        if is_text(value) {
            *value = to_value(&serde_json::Value::String(ERASED.to_owned()));
        }
    }
    ticket.customer_erased = true;
}

/// The audit paths whose values may hold the erased customer's data.
fn holds_personal_data(path: &str) -> bool {
    matches!(
        path,
        "customer" | "contact" | "subject" | "description" | "attachments" | "flags"
    ) || path.starts_with("custom_fields.")
}

/// Anonymises the values of an audit entry that held personal data; true
/// when anything changed.
pub fn anonymise_entry(entry: &mut kefu_proto::v1::TicketAuditEntry) -> bool {
    let erased = to_value(&serde_json::Value::String(ERASED.to_owned()));
    let mut changed = false;
    for change in &mut entry.changes {
        if !holds_personal_data(&change.path) {
            continue;
        }
        let custom = change.path.starts_with("custom_fields.");
        for value in [&mut change.before, &mut change.after] {
            let Some(held) = value.as_ref() else {
                continue;
            };
            let null = matches!(
                held.kind,
                None | Some(prost_types::value::Kind::NullValue(_))
            );
            if null || (custom && !is_text(held)) || *held == erased {
                continue;
            }
            *value = Some(erased.clone());
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{TicketCustomerPromise, TicketWait};

    use super::*;

    fn at(seconds: i64) -> Option<Timestamp> {
        Some(Timestamp { seconds, nanos: 0 })
    }

    #[test]
    fn names_and_numbers() {
        let id = Uuid::now_v7();
        assert_eq!(id_of(&name_of(id)), Some(id));
        assert_eq!(id_of("tickets/not-a-uuid"), None);
        assert_eq!(id_of(&format!("customers/{id}")), None);
        assert_eq!(ticket_number(123), "T-000123");
        assert_eq!(ticket_number(1_234_567), "T-1234567");
    }

    #[test]
    fn the_transition_table() {
        use TicketState::*;
        let all = [New, Open, Pending, OnHold, Resolved, Closed];
        let table = [
            (Transition::Open, vec![New]),
            (Transition::Pend, vec![New, Open, OnHold]),
            (Transition::Hold, vec![New, Open, Pending]),
            (Transition::Resume, vec![Pending, OnHold]),
            (Transition::Resolve, vec![New, Open, Pending, OnHold]),
            (Transition::Close, vec![Resolved]),
            (Transition::Reopen, vec![Resolved, Closed]),
        ];
        for (transition, allowed) in table {
            for from in all {
                assert_eq!(
                    transition.allowed_from(from),
                    allowed.contains(&from),
                    "{transition:?} from {from:?}"
                );
            }
        }
        assert_eq!(Transition::Reopen.target(), Open);
        assert_eq!(Transition::Pend.target(), Pending);
    }

    #[test]
    fn due_time_is_the_earliest_running_deadline() {
        let mut ticket = Ticket {
            state: TicketState::Open as i32,
            resolution_sla: Some(TicketSlaClock {
                state: TicketSlaClockState::Running as i32,
                due_time: at(500),
                ..TicketSlaClock::default()
            }),
            first_response_sla: Some(TicketSlaClock {
                state: TicketSlaClockState::Met as i32,
                due_time: at(100),
                stop_time: at(50),
                ..TicketSlaClock::default()
            }),
            customer_promise: Some(TicketCustomerPromise {
                follow_up_time: at(400),
                state: TicketPromiseState::Open as i32,
                ..TicketCustomerPromise::default()
            }),
            ..Ticket::default()
        };
        assert_eq!(due_time(&ticket), at(400));
        ticket.state = TicketState::Pending as i32;
        ticket.wait = Some(TicketWait {
            expected_time: at(300),
            ..TicketWait::default()
        });
        assert_eq!(due_time(&ticket), at(300));
        ticket.state = TicketState::Resolved as i32;
        assert_eq!(due_time(&ticket), None);
    }

    #[test]
    fn anonymising_keeps_the_statistics() {
        let mut ticket = Ticket {
            customer: "customers/c1".into(),
            subject: "张三 13800138000 漏水".into(),
            kind: "ticketKinds/repair".into(),
            state: TicketState::Resolved as i32,
            custom_fields: [
                ("note".to_owned(), to_value(&serde_json::json!("张三家"))),
                ("count".to_owned(), to_value(&serde_json::json!(3))),
            ]
            .into(),
            ..Ticket::default()
        };
        let before = ticket.clone();
        anonymise(&mut ticket);
        assert!(ticket.customer.is_empty());
        assert_eq!(ticket.subject, ERASED);
        assert_eq!(ticket.kind, "ticketKinds/repair");
        assert_eq!(ticket.state, TicketState::Resolved as i32);
        assert_eq!(
            ticket.custom_fields["count"],
            to_value(&serde_json::json!(3))
        );
        assert_eq!(
            ticket.custom_fields["note"],
            to_value(&serde_json::json!(ERASED))
        );
        assert!(ticket.customer_erased);
        let mut entry = kefu_proto::v1::TicketAuditEntry {
            changes: changes(&Ticket::default(), &before),
            ..Default::default()
        };
        assert!(anonymise_entry(&mut entry));
        for change in &entry.changes {
            if change.path == "subject" || change.path == "custom_fields.note" {
                assert_eq!(change.after, Some(to_value(&serde_json::json!(ERASED))));
            }
            if change.path == "kind" {
                assert_eq!(
                    change.after,
                    Some(to_value(&serde_json::json!("ticketKinds/repair")))
                );
            }
        }
        assert!(!anonymise_entry(&mut entry), "once is enough");
    }

    #[test]
    fn changes_list_each_field_and_custom_field() {
        let before = Ticket {
            subject: "漏水".into(),
            priority: 2,
            custom_fields: [("order_no".to_owned(), to_value(&serde_json::json!("A1")))].into(),
            ..Ticket::default()
        };
        let mut after = before.clone();
        after.subject = "厨房漏水".into();
        after.etag = "r2".into();
        after
            .custom_fields
            .insert("order_no".into(), to_value(&serde_json::json!("A2")));
        let changes = changes(&before, &after);
        let paths: Vec<&str> = changes.iter().map(|change| change.path.as_str()).collect();
        assert_eq!(paths, ["custom_fields.order_no", "subject"]);
        assert_eq!(
            changes[1].before,
            Some(to_value(&serde_json::json!("漏水")))
        );
    }
}
