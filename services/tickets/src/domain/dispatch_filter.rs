//! The AIP-160 filters of the dispatch lists (ListServiceRequests,
//! ListDispatches, ListDispatchQueue) and their `order_by`, evaluated over
//! decoded resources.
//!
//! The subset: conditions `field op value` with `=`, `!=`, `<`, `<=`, `>`,
//! `>=` and `:` joined by `AND`. Values are quoted strings, bare words,
//! numbers, `true`/`false`, enum names with or without their prefix
//! (`A_PAID`, `SERVICE_TYPE_A_PAID`, case-insensitive), `YYYY-MM-DD` dates
//! and RFC 3339 times. A field outside the documented ones is refused.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::TicketsError;

/// A field's value in a resource, as compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text (names, numbers like `S-000123`).
    Text(String),
    /// An enum value: its full name (`SERVICE_TYPE_A_PAID`) and prefix.
    Enum(&'static str, &'static str),
    /// A number.
    Number(i64),
    /// A boolean.
    Bool(bool),
    /// A time.
    Time(Option<DateTime<Utc>>),
    /// A calendar day.
    Day(Option<NaiveDate>),
}

/// A comparison operator.
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

/// One condition.
#[derive(Debug, Clone, PartialEq)]
struct Condition {
    field: String,
    op: Op,
    value: String,
}

/// A parsed filter: every condition must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter(Vec<Condition>);

fn bad(message: impl Into<String>) -> TicketsError {
    TicketsError::invalid("filter", message)
}

fn tokens(text: &str) -> Result<Vec<String>, TicketsError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut quoted = String::from("\"");
            let mut closed = false;
            while let Some(next) = chars.next() {
                if next == '\\' {
                    if let Some(escaped) = chars.next() {
                        quoted.push(escaped);
                    }
                } else if next == c {
                    closed = true;
                    break;
                } else {
                    quoted.push(next);
                }
            }
            if !closed {
                return Err(bad("a quoted value is not closed"));
            }
            tokens.push(quoted);
        } else if "=!<>:".contains(c) {
            chars.next();
            let mut op = c.to_string();
            if chars.peek() == Some(&'=') && c != '=' && c != ':' {
                chars.next();
                op.push('=');
            }
            tokens.push(op);
        } else {
            let mut word = String::new();
            while let Some(&next) = chars.peek() {
                if next.is_whitespace() || "=!<>:\"'".contains(next) {
                    break;
                }
                word.push(next);
                chars.next();
            }
            tokens.push(word);
        }
    }
    Ok(tokens)
}

/// Parses `text` over the `fields` a list documents.
pub fn parse(text: &str, fields: &[&str]) -> Result<Filter, TicketsError> {
    let tokens = tokens(text)?;
    let mut conditions = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        if !conditions.is_empty() {
            if !tokens[index].eq_ignore_ascii_case("AND") {
                return Err(bad(format!(
                    "expected AND before {:?}; only AND joins conditions here",
                    tokens[index]
                )));
            }
            index += 1;
        }
        let (Some(field), Some(op), Some(value)) = (
            tokens.get(index),
            tokens.get(index + 1),
            tokens.get(index + 2),
        ) else {
            return Err(bad("expected `field operator value`"));
        };
        if !fields.contains(&field.as_str()) {
            return Err(bad(format!(
                "{field} cannot be filtered on; allowed: {}",
                fields.join(", ")
            )));
        }
        let op = match op.as_str() {
            "=" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            ":" => Op::Has,
            other => return Err(bad(format!("unknown operator {other:?}"))),
        };
        conditions.push(Condition {
            field: field.clone(),
            op,
            value: value.trim_start_matches('"').to_owned(),
        });
        index += 3;
    }
    Ok(Filter(conditions))
}

fn compare(actual: &Value, wanted: &str) -> Option<Ordering> {
    match actual {
        Value::Text(text) => Some(text.as_str().cmp(wanted)),
        Value::Enum(name, prefix) => {
            let wanted = wanted.to_ascii_uppercase();
            let short = name.strip_prefix(prefix).unwrap_or(name);
            (wanted == *name || wanted == short).then_some(Ordering::Equal)
        }
        Value::Number(number) => wanted.parse::<i64>().ok().map(|w| number.cmp(&w)),
        Value::Bool(flag) => wanted
            .to_ascii_lowercase()
            .parse::<bool>()
            .ok()
            .map(|w| flag.cmp(&w)),
        Value::Time(time) => {
            let wanted = DateTime::parse_from_rfc3339(wanted)
                .ok()?
                .with_timezone(&Utc);
            time.map(|time| time.cmp(&wanted))
        }
        Value::Day(day) => {
            let wanted = NaiveDate::parse_from_str(wanted, "%Y-%m-%d").ok()?;
            day.map(|day| day.cmp(&wanted))
        }
    }
}

impl Filter {
    /// Whether every condition holds for the resource whose fields
    /// `lookup` reads.
    pub fn matches(&self, lookup: impl Fn(&str) -> Value) -> bool {
        self.0.iter().all(|condition| {
            let actual = lookup(&condition.field);
            if condition.op == Op::Has
                && let Value::Text(text) = &actual
            {
                return text.contains(&condition.value);
            }
            let Some(ordering) = compare(&actual, &condition.value) else {
                // An enum that differs, a value of the wrong type: only
                // "not equal" holds.
                return condition.op == Op::Ne;
            };
            match condition.op {
                Op::Eq | Op::Has => ordering == Ordering::Equal,
                Op::Ne => ordering != Ordering::Equal,
                Op::Lt => ordering == Ordering::Less,
                Op::Le => ordering != Ordering::Greater,
                Op::Gt => ordering == Ordering::Greater,
                Op::Ge => ordering != Ordering::Less,
            }
        })
    }
}

/// One key of an `order_by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    /// The field.
    pub field: String,
    /// Descending.
    pub descending: bool,
}

/// Parses `order_by` over `fields`; empty gives `default` descending.
pub fn parse_order(
    order_by: &str,
    fields: &[&str],
    default: &str,
) -> Result<Vec<OrderKey>, TicketsError> {
    if order_by.trim().is_empty() {
        return Ok(vec![OrderKey {
            field: default.to_owned(),
            descending: true,
        }]);
    }
    order_by
        .split(',')
        .map(|part| {
            let mut words = part.split_whitespace();
            let field = words.next().unwrap_or_default();
            if !fields.contains(&field) {
                return Err(TicketsError::invalid(
                    "order_by",
                    format!("cannot order by {field:?}; allowed: {}", fields.join(", ")),
                ));
            }
            let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(TicketsError::invalid(
                        "order_by",
                        format!("unknown direction {other:?}"),
                    ));
                }
            };
            Ok(OrderKey {
                field: field.to_owned(),
                descending,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(field: &str) -> Value {
        match field {
            "technician" => Value::Text("users/42".into()),
            "state" => Value::Enum("DISPATCH_STATE_DISPATCHED", "DISPATCH_STATE_"),
            "charged" => Value::Bool(true),
            "carried_over_days" => Value::Number(2),
            "queue_date" => Value::Day(NaiveDate::from_ymd_opt(2026, 12, 1)),
            _ => Value::Time(None),
        }
    }

    const FIELDS: &[&str] = &[
        "technician",
        "state",
        "charged",
        "carried_over_days",
        "queue_date",
        "complete_time",
    ];

    fn holds(text: &str) -> bool {
        parse(text, FIELDS).expect(text).matches(lookup)
    }

    #[test]
    fn conditions_joined_by_and() {
        assert!(holds(""));
        assert!(holds("technician = \"users/42\" AND state = DISPATCHED"));
        assert!(holds("state = DISPATCH_STATE_DISPATCHED"));
        assert!(!holds("state = queued"));
        assert!(holds("state != QUEUED"));
        assert!(holds("charged = true AND carried_over_days >= 2"));
        assert!(!holds("carried_over_days > 2"));
        assert!(holds("queue_date = 2026-12-01"));
        assert!(holds("queue_date < \"2026-12-02\""));
        assert!(!holds("complete_time > \"2026-12-01T00:00:00Z\""));
        assert!(holds("technician : \"42\""));
    }

    #[test]
    fn unknown_fields_and_bad_syntax_are_refused() {
        assert!(parse("voucher = 1", FIELDS).is_err());
        assert!(parse("state =", FIELDS).is_err());
        assert!(parse("state = QUEUED OR charged = true", FIELDS).is_err());
        assert!(parse("technician = \"users/42", FIELDS).is_err());
    }

    #[test]
    fn order_by_names_documented_fields() {
        let default = parse_order("", &["create_time"], "create_time").expect("default");
        assert!(default[0].descending);
        let keys = parse_order(
            "complete_time desc, create_time",
            &["create_time", "complete_time"],
            "create_time",
        )
        .expect("keys");
        assert_eq!(keys.len(), 2);
        assert!(keys[0].descending && !keys[1].descending);
        assert!(parse_order("name", &["create_time"], "create_time").is_err());
    }
}
