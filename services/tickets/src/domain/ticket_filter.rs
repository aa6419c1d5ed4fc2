//! The AIP-160 filter and `order_by` of `ListTickets`, evaluated over
//! decoded tickets after the store's indexed prefilter.
//!
//! The subset: conditions `field op value` with `=`, `!=`, `<`, `<=`, `>`,
//! `>=` and `:` (has: an element of a repeated field; `:*` is "is set"),
//! the bare boolean shortcuts (`mine`, `unassigned`, `overdue`,
//! `pending_on_customer`, `customer_erased`), joined by `AND` (or a space)
//! and `OR` (`OR` binds tighter, as AIP-160 says), negated with `NOT` or
//! `-`, grouped with parentheses. Enum names are read with or without their
//! prefix, case-insensitively; times are RFC 3339 (or `YYYY-MM-DD`,
//! midnight UTC). `users/me` is the caller. An unknown field or a
//! malformed value is refused rather than matching nothing.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};
use kefu_kit::events::from_timestamp;
use kefu_proto::v1::{
    Channel, Priority, Ticket, TicketBaseKind, TicketFlagColor, TicketPromiseState, TicketSlaClock,
    TicketSlaClockState, TicketState, TicketSupportTier, TriageClass,
};
use prost_types::{Timestamp, value::Kind as ValueKind};

/// Why a filter or order cannot be read; the message is for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

type Result<T> = std::result::Result<T, FilterError>;

fn error<T>(message: impl Into<String>) -> Result<T> {
    Err(FilterError(message.into()))
}

/// How a field's values compare.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Text,
    Enum(&'static str, fn(&str) -> Option<i32>),
    Time,
    Int,
    Bool,
    /// A custom field: text, number or bool as the value reads.
    Any,
}

/// A value in a condition or on a ticket.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Text(String),
    Int(i64),
    Num(f64),
    Bool(bool),
    Time(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches everything (an empty filter).
    All,
    /// `field op value`; `value` None for `:*`.
    Condition(String, Op2, Option<ValueBox>),
    /// A bare boolean field.
    Flag(String),
    /// Every part matches.
    And(Vec<Filter>),
    /// Some part matches.
    Or(Vec<Filter>),
    /// The part does not match.
    Not(Box<Filter>),
}

/// An operator (opaque outside this module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op2(Op);

/// A value (opaque outside this module).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueBox(Val);

fn enum_number<E: Into<i32>>(
    name: &str,
    prefix: &str,
    lookup: fn(&str) -> Option<E>,
) -> Option<i32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with(prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    };
    lookup(&full).map(Into::into)
}

fn state_of(name: &str) -> Option<i32> {
    enum_number(name, "TICKET_STATE_", TicketState::from_str_name)
}
fn priority_of(name: &str) -> Option<i32> {
    enum_number(name, "PRIORITY_", Priority::from_str_name)
}
fn tier_of(name: &str) -> Option<i32> {
    enum_number(
        name,
        "TICKET_SUPPORT_TIER_",
        TicketSupportTier::from_str_name,
    )
}
fn triage_of(name: &str) -> Option<i32> {
    enum_number(name, "TRIAGE_CLASS_", TriageClass::from_str_name)
}
fn base_kind_of(name: &str) -> Option<i32> {
    enum_number(name, "TICKET_BASE_KIND_", TicketBaseKind::from_str_name)
}
fn channel_of(name: &str) -> Option<i32> {
    enum_number(name, "CHANNEL_", Channel::from_str_name)
}
fn color_of(name: &str) -> Option<i32> {
    enum_number(name, "TICKET_FLAG_COLOR_", TicketFlagColor::from_str_name)
}
fn clock_state_of(name: &str) -> Option<i32> {
    enum_number(
        name,
        "TICKET_SLA_CLOCK_STATE_",
        TicketSlaClockState::from_str_name,
    )
}
fn promise_state_of(name: &str) -> Option<i32> {
    enum_number(
        name,
        "TICKET_PROMISE_STATE_",
        TicketPromiseState::from_str_name,
    )
}

/// The kind of a documented field, or None when the field is unknown.
fn kind_of(field: &str) -> Option<Kind> {
    Some(match field {
        "state" => Kind::Enum("state", state_of),
        "priority" => Kind::Enum("priority", priority_of),
        "tier" => Kind::Enum("tier", tier_of),
        "triage_class" => Kind::Enum("triage_class", triage_of),
        "base_kind" => Kind::Enum("base_kind", base_kind_of),
        "channel" => Kind::Enum("channel", channel_of),
        "flags.color" => Kind::Enum("flags.color", color_of),
        "first_response_sla.state" | "resolution_sla.state" => {
            Kind::Enum("sla state", clock_state_of)
        }
        "customer_promise.state" => Kind::Enum("customer_promise.state", promise_state_of),
        "assignee"
        | "team"
        | "department"
        | "kind"
        | "category"
        | "category_tree"
        | "customer"
        | "tags"
        | "ticket_number"
        | "external_id"
        | "incident"
        | "complaint"
        | "service_request"
        | "parent_ticket"
        | "source_callback_task" => Kind::Text,
        "reopen_count" => Kind::Int,
        "unassigned" | "overdue" | "pending_on_customer" | "mine" | "customer_erased" => Kind::Bool,
        "due_time"
        | "first_response_sla.due_time"
        | "resolution_sla.due_time"
        | "customer_promise.deadline"
        | "create_time"
        | "update_time"
        | "resolve_time"
        | "close_time" => Kind::Time,
        _ if field.starts_with("custom_fields.") && field.len() > "custom_fields.".len() => {
            Kind::Any
        }
        _ => return None,
    })
}

// --- Lexer --------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(Op),
    Open,
    Close,
    Minus,
}

fn lex(text: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '"' | '\'' => {
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return error("the filter has an unterminated string"),
                        Some('\\') => {
                            if let Some(next) = chars.get(i + 1) {
                                value.push(*next);
                            }
                            i += 2;
                        }
                        Some(end) if *end == c => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            value.push(*other);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            '=' => {
                tokens.push(Token::Op(Op::Eq));
                i += 1;
            }
            ':' => {
                tokens.push(Token::Op(Op::Has));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op(Op::Ne));
                i += 2;
            }
            '<' | '>' => {
                let equal = chars.get(i + 1) == Some(&'=');
                tokens.push(Token::Op(match (c, equal) {
                    ('<', true) => Op::Le,
                    ('<', false) => Op::Lt,
                    (_, true) => Op::Ge,
                    _ => Op::Gt,
                }));
                i += if equal { 2 } else { 1 };
            }
            '-' if tokens
                .last()
                .is_none_or(|last| !matches!(last, Token::Op(_))) =>
            {
                tokens.push(Token::Minus);
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(
                        chars[i],
                        '(' | ')' | '=' | ':' | '<' | '>' | '!' | '"' | '\''
                    )
                {
                    i += 1;
                }
                if start == i {
                    return error(format!("unexpected {c:?} in the filter"));
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

// --- Parser -------------------------------------------------------------------

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    me: String,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w == word)
    }

    fn expression(&mut self) -> Result<Filter> {
        let mut parts = vec![self.disjunction()?];
        loop {
            if self.is_word("AND") {
                self.at += 1;
            } else if matches!(self.peek(), None | Some(Token::Close)) {
                break;
            }
            parts.push(self.disjunction()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn disjunction(&mut self) -> Result<Filter> {
        let mut parts = vec![self.unary()?];
        while self.is_word("OR") {
            self.at += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn unary(&mut self) -> Result<Filter> {
        if self.is_word("NOT") || matches!(self.peek(), Some(Token::Minus)) {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Token::Open) => {
                let inner = self.expression()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => error("the filter lacks a closing parenthesis"),
                }
            }
            Some(Token::Word(field)) => self.condition(field),
            Some(other) => error(format!("unexpected {other:?} in the filter")),
            None => error("the filter ends too early"),
        }
    }

    fn condition(&mut self, field: String) -> Result<Filter> {
        let Some(kind) = kind_of(&field) else {
            return error(format!("{field} is not a field the filter knows"));
        };
        let Some(Token::Op(op)) = self.peek().cloned() else {
            if matches!(kind, Kind::Bool) {
                return Ok(Filter::Flag(field));
            }
            return error(format!("{field} needs an operator and a value"));
        };
        self.at += 1;
        let (raw, quoted) = match self.next() {
            Some(Token::Word(word)) => (word, false),
            Some(Token::Quoted(text)) => (text, true),
            _ => return error(format!("{field} needs a value")),
        };
        if op == Op::Has && raw == "*" && !quoted {
            return Ok(Filter::Condition(field, Op2(op), None));
        }
        let value = self.value(&field, kind, &raw, quoted)?;
        Ok(Filter::Condition(field, Op2(op), Some(ValueBox(value))))
    }

    fn value(&self, field: &str, kind: Kind, raw: &str, quoted: bool) -> Result<Val> {
        match kind {
            Kind::Text => {
                if field == "assignee" && raw == "users/me" {
                    Ok(Val::Text(self.me.clone()))
                } else {
                    Ok(Val::Text(raw.to_owned()))
                }
            }
            Kind::Enum(label, lookup) => lookup(raw)
                .map(|number| Val::Int(number.into()))
                .ok_or_else(|| FilterError(format!("{raw} is not a value of {label}"))),
            Kind::Int => raw
                .parse()
                .map(Val::Int)
                .map_err(|_| FilterError(format!("{field} needs a whole number"))),
            Kind::Bool => match raw.to_ascii_lowercase().as_str() {
                "true" => Ok(Val::Bool(true)),
                "false" => Ok(Val::Bool(false)),
                _ => error(format!("{field} needs true or false")),
            },
            Kind::Time => time_value(raw)
                .map(Val::Time)
                .ok_or_else(|| FilterError(format!("{field} needs an RFC 3339 time"))),
            Kind::Any => {
                if quoted {
                    return Ok(Val::Text(raw.to_owned()));
                }
                if let Ok(number) = raw.parse::<f64>() {
                    return Ok(Val::Num(number));
                }
                match raw {
                    "true" => Ok(Val::Bool(true)),
                    "false" => Ok(Val::Bool(false)),
                    _ => Ok(Val::Text(raw.to_owned())),
                }
            }
        }
    }
}

fn time_value(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Some(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
}

/// Parses `text`; `me` is the caller (`users/{id}`, empty for keys) that
/// `users/me` and `mine` stand for.
pub fn parse(text: &str, me: &str) -> Result<Filter> {
    let tokens = lex(text)?;
    if tokens.is_empty() {
        return Ok(Filter::All);
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        me: me.to_owned(),
    };
    let filter = parser.expression()?;
    if parser.at < parser.tokens.len() {
        return error("the filter has an unmatched closing parenthesis");
    }
    Ok(filter)
}

// --- Evaluation ---------------------------------------------------------------

/// What a ticket's fields are compared with: the caller and the category
/// tree (`category_tree` matches the category or any descendant).
pub struct Scope<'a> {
    /// The caller (`users/{id}`), empty for keys.
    pub me: &'a str,
    /// The ancestors of a category, itself included (`ticketCategories/…`).
    pub category_path: &'a (dyn Fn(&str) -> Vec<String> + Sync),
}

fn time(timestamp: Option<&Timestamp>) -> Vec<Val> {
    timestamp
        .and_then(from_timestamp)
        .map(Val::Time)
        .into_iter()
        .collect()
}

fn text(value: &str) -> Vec<Val> {
    if value.is_empty() {
        Vec::new()
    } else {
        vec![Val::Text(value.to_owned())]
    }
}

fn clock_state(clock: Option<&TicketSlaClock>) -> i32 {
    clock.map_or(0, |clock| clock.state)
}

/// Whether `ticket` is overdue: not RESOLVED or CLOSED, and a clock
/// BREACHED or the promise MISSED.
pub fn is_overdue(ticket: &Ticket) -> bool {
    let breached = TicketSlaClockState::Breached as i32;
    let done = matches!(
        TicketState::try_from(ticket.state),
        Ok(TicketState::Resolved | TicketState::Closed)
    );
    !done
        && (clock_state(ticket.first_response_sla.as_ref()) == breached
            || clock_state(ticket.resolution_sla.as_ref()) == breached
            || ticket
                .customer_promise
                .as_ref()
                .is_some_and(|promise| promise.state == TicketPromiseState::Missed as i32))
}

/// The values of `field` on `ticket` (none when unset; several for lists).
fn values(ticket: &Ticket, field: &str, scope: &Scope<'_>) -> Vec<Val> {
    let int = |value: i32| vec![Val::Int(value.into())];
    match field {
        "state" => int(ticket.state),
        "priority" => int(ticket.priority),
        "tier" => int(ticket.tier),
        "triage_class" => int(ticket.triage_class),
        "base_kind" => int(ticket.base_kind),
        "channel" => int(ticket.channel),
        "flags.color" => ticket
            .flags
            .iter()
            .map(|flag| Val::Int(flag.color.into()))
            .collect(),
        "first_response_sla.state" => int(clock_state(ticket.first_response_sla.as_ref())),
        "resolution_sla.state" => int(clock_state(ticket.resolution_sla.as_ref())),
        "customer_promise.state" => int(ticket
            .customer_promise
            .as_ref()
            .map_or(0, |promise| promise.state)),
        "assignee" => text(&ticket.assignee),
        "team" => text(&ticket.team),
        "department" => text(&ticket.department),
        "kind" => text(&ticket.kind),
        "category" => text(&ticket.category),
        "category_tree" => {
            if ticket.category.is_empty() {
                Vec::new()
            } else {
                (scope.category_path)(&ticket.category)
                    .into_iter()
                    .map(Val::Text)
                    .collect()
            }
        }
        "customer" => text(&ticket.customer),
        "tags" => ticket
            .tags
            .iter()
            .map(|tag| Val::Text(tag.clone()))
            .collect(),
        "ticket_number" => text(&ticket.ticket_number),
        "external_id" => text(&ticket.external_id),
        "incident" => text(&ticket.incident),
        "complaint" => text(&ticket.complaint),
        "service_request" => text(&ticket.service_request),
        "parent_ticket" => text(&ticket.parent_ticket),
        "source_callback_task" => text(&ticket.source_callback_task),
        "reopen_count" => vec![Val::Int(ticket.reopen_count.into())],
        "unassigned" => vec![Val::Bool(ticket.assignee.is_empty())],
        "overdue" => vec![Val::Bool(is_overdue(ticket))],
        "pending_on_customer" => vec![Val::Bool(ticket.state == TicketState::Pending as i32)],
        "mine" => vec![Val::Bool(
            !scope.me.is_empty() && ticket.assignee == scope.me,
        )],
        "customer_erased" => vec![Val::Bool(ticket.customer_erased)],
        "due_time" => time(ticket.due_time.as_ref()),
        "first_response_sla.due_time" => time(
            ticket
                .first_response_sla
                .as_ref()
                .and_then(|clock| clock.due_time.as_ref()),
        ),
        "resolution_sla.due_time" => time(
            ticket
                .resolution_sla
                .as_ref()
                .and_then(|clock| clock.due_time.as_ref()),
        ),
        "customer_promise.deadline" => time(
            ticket
                .customer_promise
                .as_ref()
                .and_then(|promise| promise.deadline.as_ref()),
        ),
        "create_time" => time(ticket.create_time.as_ref()),
        "update_time" => time(ticket.update_time.as_ref()),
        "resolve_time" => time(ticket.resolve_time.as_ref()),
        "close_time" => time(ticket.close_time.as_ref()),
        _ => match field.strip_prefix("custom_fields.") {
            Some(key) => ticket
                .custom_fields
                .get(key)
                .map(custom_values)
                .unwrap_or_default(),
            None => Vec::new(),
        },
    }
}

fn custom_values(value: &prost_types::Value) -> Vec<Val> {
    match &value.kind {
        Some(ValueKind::StringValue(text)) => vec![Val::Text(text.clone())],
        Some(ValueKind::NumberValue(number)) => vec![Val::Num(*number)],
        Some(ValueKind::BoolValue(flag)) => vec![Val::Bool(*flag)],
        Some(ValueKind::ListValue(list)) => list.values.iter().flat_map(custom_values).collect(),
        Some(ValueKind::StructValue(fields)) => fields
            .fields
            .get("amount_minor")
            .map(custom_values)
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn compare(actual: &Val, wanted: &Val) -> Option<Ordering> {
    match (actual, wanted) {
        (Val::Text(a), Val::Text(b)) => Some(a.cmp(b)),
        (Val::Int(a), Val::Int(b)) => Some(a.cmp(b)),
        (Val::Num(a), Val::Num(b)) => a.partial_cmp(b),
        (Val::Int(a), Val::Num(b)) => (*a as f64).partial_cmp(b),
        (Val::Num(a), Val::Int(b)) => a.partial_cmp(&(*b as f64)),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        (Val::Time(a), Val::Time(b)) => Some(a.cmp(b)),
        (Val::Text(a), Val::Num(b)) => a.parse::<f64>().ok()?.partial_cmp(b),
        _ => None,
    }
}

fn holds(op: Op, ordering: Option<Ordering>) -> bool {
    matches!(
        (op, ordering),
        (Op::Eq | Op::Has, Some(Ordering::Equal))
            | (Op::Lt, Some(Ordering::Less))
            | (Op::Le, Some(Ordering::Less | Ordering::Equal))
            | (Op::Gt, Some(Ordering::Greater))
            | (Op::Ge, Some(Ordering::Greater | Ordering::Equal))
    )
}

impl Filter {
    /// Whether `ticket` matches.
    pub fn matches(&self, ticket: &Ticket, scope: &Scope<'_>) -> bool {
        match self {
            Self::All => true,
            Self::Flag(field) => values(ticket, field, scope) == vec![Val::Bool(true)],
            Self::And(parts) => parts.iter().all(|part| part.matches(ticket, scope)),
            Self::Or(parts) => parts.iter().any(|part| part.matches(ticket, scope)),
            Self::Not(part) => !part.matches(ticket, scope),
            Self::Condition(field, Op2(op), value) => {
                let actual = values(ticket, field, scope);
                let Some(ValueBox(wanted)) = value else {
                    return !actual.is_empty();
                };
                if *op == Op::Ne {
                    return !actual
                        .iter()
                        .any(|value| compare(value, wanted) == Some(Ordering::Equal));
                }
                if actual.is_empty() {
                    // An unset text equals "".
                    return *op == Op::Eq && *wanted == Val::Text(String::new());
                }
                actual
                    .iter()
                    .any(|value| holds(*op, compare(value, wanted)))
            }
        }
    }

    /// Conditions every match must meet that the store's indexes can use:
    /// (states, assignee, team, customer, incident).
    pub fn prefilter(&self) -> Prefilter {
        let mut prefilter = Prefilter::default();
        let parts: Vec<&Filter> = match self {
            Self::And(parts) => parts.iter().collect(),
            other => vec![other],
        };
        for part in parts {
            match part {
                Self::Condition(field, Op2(Op::Eq), Some(ValueBox(value))) => {
                    match (field.as_str(), value) {
                        ("state", Val::Int(state)) => {
                            prefilter.states = vec![i32::try_from(*state).unwrap_or(0)];
                        }
                        ("assignee", Val::Text(text)) => prefilter.assignee = Some(text.clone()),
                        ("team", Val::Text(text)) => prefilter.team = Some(text.clone()),
                        ("customer", Val::Text(text)) => prefilter.customer = Some(text.clone()),
                        ("incident", Val::Text(text)) => prefilter.incident = Some(text.clone()),
                        _ => {}
                    }
                }
                Self::Or(options) => {
                    let states: Option<Vec<i32>> = options
                        .iter()
                        .map(|option| match option {
                            Self::Condition(
                                field,
                                Op2(Op::Eq),
                                Some(ValueBox(Val::Int(state))),
                            ) if field == "state" => i32::try_from(*state).ok(),
                            _ => None,
                        })
                        .collect();
                    if let Some(states) = states {
                        prefilter.states = states;
                    }
                }
                _ => {}
            }
        }
        prefilter
    }
}

/// What the indexes narrow a listing to (see `store::tickets::Prefilter`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prefilter {
    /// Only these states (any when empty).
    pub states: Vec<i32>,
    /// Only this assignee.
    pub assignee: Option<String>,
    /// Only this team.
    pub team: Option<String>,
    /// Only this customer.
    pub customer: Option<String>,
    /// Only this incident.
    pub incident: Option<String>,
}

// --- Order ------------------------------------------------------------------

/// One key of `order_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    field: &'static str,
    descending: bool,
}

const ORDER_FIELDS: &[&str] = &[
    "priority",
    "due_time",
    "first_response_sla.due_time",
    "resolution_sla.due_time",
    "create_time",
    "update_time",
    "resolve_time",
    "ticket_number",
];

/// Parses `order_by`; empty is the queue order (`priority desc, due_time,
/// create_time`).
pub fn parse_order(order_by: &str) -> Result<Vec<OrderKey>> {
    let order_by = if order_by.trim().is_empty() {
        "priority desc, due_time, create_time"
    } else {
        order_by
    };
    let mut keys = Vec::new();
    for part in order_by.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (field, descending) = match words.as_slice() {
            [field] => (*field, false),
            [field, direction] if direction.eq_ignore_ascii_case("desc") => (*field, true),
            [field, direction] if direction.eq_ignore_ascii_case("asc") => (*field, false),
            _ => return error(format!("cannot order by {:?}", part.trim())),
        };
        let Some(field) = ORDER_FIELDS.iter().find(|known| **known == field) else {
            return error(format!("cannot order by {field}"));
        };
        keys.push(OrderKey { field, descending });
    }
    Ok(keys)
}

/// A sort value; `None` (unset) sorts last whatever the direction.
fn sort_value(ticket: &Ticket, field: &str) -> Option<(i64, i64)> {
    let time = |timestamp: Option<&Timestamp>| timestamp.map(|t| (t.seconds, i64::from(t.nanos)));
    match field {
        "priority" => Some((ticket.priority.into(), 0)),
        "due_time" => time(ticket.due_time.as_ref()),
        "first_response_sla.due_time" => time(
            ticket
                .first_response_sla
                .as_ref()
                .and_then(|clock| clock.due_time.as_ref()),
        ),
        "resolution_sla.due_time" => time(
            ticket
                .resolution_sla
                .as_ref()
                .and_then(|clock| clock.due_time.as_ref()),
        ),
        "create_time" => time(ticket.create_time.as_ref()),
        "update_time" => time(ticket.update_time.as_ref()),
        "resolve_time" => time(ticket.resolve_time.as_ref()),
        "ticket_number" => ticket
            .ticket_number
            .trim_start_matches("T-")
            .parse()
            .ok()
            .map(|number| (number, 0)),
        _ => None,
    }
}

/// How `a` and `b` compare in `order`, ties broken by name.
pub fn compare_tickets(a: &Ticket, b: &Ticket, order: &[OrderKey]) -> Ordering {
    for key in order {
        let ordering = match (sort_value(a, key.field), sort_value(b, key.field)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) if key.descending => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.name.cmp(&b.name)
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::TicketFlag;

    use super::*;

    fn no_tree(category: &str) -> Vec<String> {
        vec![category.to_owned()]
    }

    fn check(filter: &str, ticket: &Ticket) -> bool {
        let scope = Scope {
            me: "users/u1",
            category_path: &no_tree,
        };
        parse(filter, "users/u1")
            .expect("filter parses")
            .matches(ticket, &scope)
    }

    fn ticket() -> Ticket {
        Ticket {
            name: "tickets/a".into(),
            state: TicketState::Open as i32,
            priority: Priority::High as i32,
            assignee: "users/u1".into(),
            team: "teams/t1".into(),
            tags: vec!["vip".into()],
            flags: vec![TicketFlag {
                color: TicketFlagColor::Red as i32,
                ..TicketFlag::default()
            }],
            create_time: Some(Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            ..Ticket::default()
        }
    }

    #[test]
    fn views_of_the_contract() {
        let t = ticket();
        assert!(check("mine AND state != RESOLVED AND state != CLOSED", &t));
        assert!(check(
            r#"team = "teams/t1" AND (state = NEW OR state = OPEN)"#,
            &t
        ));
        assert!(!check("unassigned AND state = NEW", &t));
        assert!(check(r#"assignee = "users/me""#, &t));
        assert!(!check("overdue", &t));
        assert!(!check("pending_on_customer", &t));
        assert!(check(r#"tags:"vip" flags.color = red"#, &t));
        assert!(check("priority = PRIORITY_HIGH", &t));
        assert!(check("NOT state = new", &t));
        assert!(check("-unassigned", &t));
        assert!(check(r#"create_time < "2024-01-01T00:00:00Z""#, &t));
        assert!(check("external_id = \"\"", &t));
        assert!(!check("incident:*", &t));
    }

    #[test]
    fn bad_filters_are_refused() {
        assert!(parse("colour = red", "").is_err());
        assert!(parse("state = SHINY", "").is_err());
        assert!(parse("create_time < yesterday", "").is_err());
        assert!(parse("(state = NEW", "").is_err());
        assert!(parse("state = NEW)", "").is_err());
    }

    #[test]
    fn the_prefilter_uses_indexed_equalities() {
        let filter =
            parse(r#"team = "teams/t1" AND (state = NEW OR state = OPEN)"#, "").expect("parses");
        let prefilter = filter.prefilter();
        assert_eq!(prefilter.team.as_deref(), Some("teams/t1"));
        assert_eq!(prefilter.states, vec![1, 2]);
    }

    #[test]
    fn the_queue_order() {
        let order = parse_order("").expect("default order");
        let mut urgent = ticket();
        urgent.priority = Priority::Urgent as i32;
        urgent.name = "tickets/b".into();
        let mut due = ticket();
        due.due_time = Some(Timestamp {
            seconds: 5,
            nanos: 0,
        });
        due.name = "tickets/c".into();
        let plain = ticket();
        let mut all = [plain.clone(), due.clone(), urgent.clone()];
        all.sort_by(|a, b| compare_tickets(a, b, &order));
        let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["tickets/b", "tickets/c", "tickets/a"]);
        assert!(parse_order("colour").is_err());
    }
}
