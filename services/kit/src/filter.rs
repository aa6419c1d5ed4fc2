//! The AIP-160 filters and `order_by` of lists over decoded resources (the
//! tickets' comments, audit entries, incidents and handovers; the callbacks
//! service's lists): parsed once against the list's documented fields, then
//! evaluated over decoded resources.
//!
//! The subset: conditions `field op value` with `=`, `!=`, `<`, `<=`, `>`,
//! `>=` and `:` (has: an element of a repeated field, `:*` for "is set"),
//! joined by `AND` and `OR` (`OR` binds tighter, as in AIP-160:
//! `a AND b OR c` is `a AND (b OR c)`), each optionally negated with `NOT`
//! or `-`. Values are quoted strings or bare words; enum names are read with
//! or without their prefix, case-insensitively; times are RFC 3339 or
//! `YYYY-MM-DD` (midnight UTC); booleans are `true` or `false`, and a bare
//! boolean field (`active`, `NOT overdue`) reads as `= true`. An unknown
//! field or a malformed value is refused rather than silently matching
//! nothing.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, Utc};

/// Why a filter or order cannot be read; the message is for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text, compared exactly (a resource name, a label).
    Text,
    /// An enum, named with or without this prefix (`TICKET_STATE_`).
    Enum(&'static str),
    /// An instant.
    Time,
    /// An integer.
    Int,
    /// A boolean (`active = false`, or the bare field for `= true`).
    Bool,
}

/// One value of a resource's field, as the list reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A text.
    Text(String),
    /// An enum value's full name (`TICKET_COMMENT_VISIBILITY_PUBLIC`).
    Enum(String),
    /// An instant.
    Time(DateTime<Utc>),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
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

impl Op {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Self::Eq | Self::Has => ordering == Ordering::Equal,
            Self::Ne => ordering != Ordering::Equal,
            Self::Lt => ordering == Ordering::Less,
            Self::Le => ordering != Ordering::Greater,
            Self::Gt => ordering == Ordering::Greater,
            Self::Ge => ordering != Ordering::Less,
        }
    }
}

/// The literal a condition compares with, read for the field's kind.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Present,
    Text(String),
    Enum(String),
    Time(DateTime<Utc>),
    Int(i64),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    field: &'static str,
    op: Op,
    literal: Literal,
    negated: bool,
}

/// A parsed filter: every group holds, a group when one of its conditions
/// holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    groups: Vec<Vec<Condition>>,
}

/// How many conditions one filter may hold.
const MAX_CONDITIONS: usize = 100;

fn error<T>(message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(message.into()))
}

/// Splits a filter into words, operators and quoted strings (kept with their
/// quotes so that `"AND"` stays a value).
fn tokens(text: &str) -> Result<Vec<String>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&next) = chars.peek() {
        if next.is_whitespace() {
            chars.next();
        } else if next == '"' || next == '\'' {
            chars.next();
            let mut quoted = String::from('"');
            let mut closed = false;
            while let Some(inner) = chars.next() {
                if inner == '\\' {
                    if let Some(escaped) = chars.next() {
                        quoted.push(escaped);
                    }
                } else if inner == next {
                    closed = true;
                    break;
                } else {
                    quoted.push(inner);
                }
            }
            if !closed {
                return error("filter has an unclosed quote");
            }
            tokens.push(quoted);
        } else if matches!(next, '=' | '!' | '<' | '>' | ':') {
            chars.next();
            let mut op = String::from(next);
            if chars.peek() == Some(&'=') {
                chars.next();
                op.push('=');
            }
            tokens.push(op);
        } else if next == '(' || next == ')' {
            return error("filter parentheses are not supported here; use AND and OR");
        } else {
            let mut word = String::new();
            while let Some(&inner) = chars.peek() {
                if inner.is_whitespace() || matches!(inner, '=' | '!' | '<' | '>' | ':' | '"') {
                    break;
                }
                word.push(inner);
                chars.next();
            }
            tokens.push(word);
        }
    }
    Ok(tokens)
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
}

fn literal(field: &str, kind: Kind, raw: &str) -> Result<Literal, FilterError> {
    let text = raw.strip_prefix('"').unwrap_or(raw);
    match kind {
        Kind::Text => Ok(Literal::Text(text.to_owned())),
        Kind::Enum(prefix) => {
            let upper = text.to_ascii_uppercase();
            let full = if upper.starts_with(prefix) {
                upper
            } else {
                format!("{prefix}{upper}")
            };
            Ok(Literal::Enum(full))
        }
        Kind::Time => parse_time(text).map(Literal::Time).ok_or_else(|| {
            FilterError(format!(
                "filter compares {field} with {text:?}, which is not an RFC 3339 time or a date"
            ))
        }),
        Kind::Int => text.parse().map(Literal::Int).map_err(|_| {
            FilterError(format!(
                "filter compares {field} with {text:?}, which is not an integer"
            ))
        }),
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" => Ok(Literal::Bool(true)),
            "false" => Ok(Literal::Bool(false)),
            _ => error(format!(
                "filter compares {field} with {text:?}, which is not true or false"
            )),
        },
    }
}

/// Parses `text` against the list's `fields` (name and kind).
pub fn parse(text: &str, fields: &[(&'static str, Kind)]) -> Result<Filter, FilterError> {
    let tokens = tokens(text)?;
    let mut filter = Filter::default();
    let mut group: Vec<Condition> = Vec::new();
    let mut index = 0;
    let mut count = 0;
    let mut expect_condition = true;
    while index < tokens.len() {
        let token = tokens[index].as_str();
        if !expect_condition {
            match token {
                "AND" => filter.groups.push(std::mem::take(&mut group)),
                "OR" => {}
                other => return error(format!("filter expects AND or OR before {other:?}")),
            }
            index += 1;
            expect_condition = true;
            continue;
        }
        let mut negated = false;
        let mut name = token;
        if name == "NOT" {
            negated = true;
            index += 1;
            name = tokens.get(index).map(String::as_str).unwrap_or_default();
        } else if let Some(rest) = name.strip_prefix('-') {
            negated = true;
            name = rest;
        }
        let Some(&(field, kind)) = fields.iter().find(|(known, _)| *known == name) else {
            let known: Vec<&str> = fields.iter().map(|(known, _)| *known).collect();
            return error(format!(
                "filter names {name:?}, which cannot be filtered on; the fields: {}",
                known.join(", ")
            ));
        };
        let next = tokens.get(index + 1).map(String::as_str);
        let is_op = |token: &str| matches!(token, "=" | "!=" | "<" | "<=" | ">" | ">=" | ":");
        if kind == Kind::Bool && !next.is_some_and(is_op) {
            // A bare boolean field (`overdue`, `NOT active`) holds when true.
            count += 1;
            if count > MAX_CONDITIONS {
                return error(format!(
                    "filter holds more than {MAX_CONDITIONS} conditions"
                ));
            }
            group.push(Condition {
                field,
                op: Op::Eq,
                literal: Literal::Bool(true),
                negated,
            });
            index += 1;
            expect_condition = false;
            continue;
        }
        let op = match next {
            Some("=") => Op::Eq,
            Some("!=") => Op::Ne,
            Some("<") => Op::Lt,
            Some("<=") => Op::Le,
            Some(">") => Op::Gt,
            Some(">=") => Op::Ge,
            Some(":") => Op::Has,
            _ => return error(format!("filter expects an operator after {field}")),
        };
        let Some(raw) = tokens.get(index + 2) else {
            return error(format!("filter expects a value after {field}"));
        };
        let literal = if op == Op::Has && raw == "*" {
            Literal::Present
        } else {
            literal(field, kind, raw)?
        };
        count += 1;
        if count > MAX_CONDITIONS {
            return error(format!(
                "filter holds more than {MAX_CONDITIONS} conditions"
            ));
        }
        group.push(Condition {
            field,
            op,
            literal,
            negated,
        });
        index += 3;
        expect_condition = false;
    }
    if expect_condition && !tokens.is_empty() {
        return error("filter ends with AND or OR");
    }
    if !group.is_empty() {
        filter.groups.push(group);
    }
    Ok(filter)
}

fn holds(condition: &Condition, values: &[FieldValue]) -> bool {
    let compare = |value: &FieldValue| -> Option<Ordering> {
        match (value, &condition.literal) {
            (FieldValue::Text(actual), Literal::Text(wanted)) => Some(actual.cmp(wanted)),
            (FieldValue::Enum(actual), Literal::Enum(wanted)) => Some(actual.cmp(wanted)),
            (FieldValue::Time(actual), Literal::Time(wanted)) => Some(actual.cmp(wanted)),
            (FieldValue::Int(actual), Literal::Int(wanted)) => Some(actual.cmp(wanted)),
            (FieldValue::Bool(actual), Literal::Bool(wanted)) => Some(actual.cmp(wanted)),
            _ => None,
        }
    };
    let result = if condition.literal == Literal::Present {
        values.iter().any(|value| match value {
            FieldValue::Text(text) => !text.is_empty(),
            _ => true,
        })
    } else if condition.op == Op::Ne {
        // `!=` holds when no value equals the literal (an unset field too).
        !values
            .iter()
            .any(|value| compare(value) == Some(Ordering::Equal))
    } else {
        values
            .iter()
            .any(|value| compare(value).is_some_and(|ordering| condition.op.accepts(ordering)))
    };
    result != condition.negated
}

impl Filter {
    /// Whether a resource matches; `values` reads a field's values (none
    /// when unset, several for a repeated field).
    pub fn matches(&self, values: impl Fn(&str) -> Vec<FieldValue>) -> bool {
        self.groups.iter().all(|group| {
            group
                .iter()
                .any(|condition| holds(condition, &values(condition.field)))
        })
    }

    /// Replaces the text `users/me` by `user` (the caller), or refuses it
    /// when the caller is not a user.
    pub fn resolve_me(&mut self, user: Option<&str>) -> Result<(), FilterError> {
        for condition in self.groups.iter_mut().flatten() {
            if condition.literal == Literal::Text("users/me".into()) {
                match user {
                    Some(user) => condition.literal = Literal::Text(user.to_owned()),
                    None => return error("users/me names no one: the caller is not a user"),
                }
            }
        }
        Ok(())
    }
}

/// One key of an order: the field and whether it descends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    /// The field.
    pub field: &'static str,
    /// True for `desc`.
    pub descending: bool,
}

/// Parses `order_by` (`create_time desc, priority`) against the fields the
/// list orders by; empty gives `default`.
pub fn parse_order(
    order_by: &str,
    fields: &[&'static str],
    default: OrderKey,
) -> Result<Vec<OrderKey>, FilterError> {
    if order_by.trim().is_empty() {
        return Ok(vec![default]);
    }
    order_by
        .split(',')
        .map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            let (name, descending) = match words.as_slice() {
                [name] => (*name, false),
                [name, direction] if direction.eq_ignore_ascii_case("desc") => (*name, true),
                [name, direction] if direction.eq_ignore_ascii_case("asc") => (*name, false),
                _ => return error(format!("order_by cannot read {part:?}")),
            };
            let field = fields.iter().find(|field| **field == name).ok_or_else(|| {
                FilterError(format!(
                    "order_by names {name:?}; the list orders by {}",
                    fields.join(", ")
                ))
            })?;
            Ok(OrderKey { field, descending })
        })
        .collect()
}

/// Compares two resources by `order`, reading each key with `key`.
pub fn compare<T, K: Ord>(
    left: &T,
    right: &T,
    order: &[OrderKey],
    key: impl Fn(&T, &str) -> K,
) -> Ordering {
    for order_key in order {
        let ordering = key(left, order_key.field).cmp(&key(right, order_key.field));
        let ordering = if order_key.descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// The offset a page token carries (`o{offset}`); empty is the first page.
pub fn page_offset(token: &str) -> Result<usize, FilterError> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .strip_prefix('o')
        .and_then(|offset| offset.parse().ok())
        .ok_or_else(|| FilterError("page_token is not a token this list gave".into()))
}

/// One page of `items` from `offset`, and the next page's token.
pub fn page<T>(items: Vec<T>, offset: usize, size: usize) -> (Vec<T>, String) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(size).collect();
    let next = offset + page.len();
    let token = if next < total && !page.is_empty() {
        format!("o{next}")
    } else {
        String::new()
    };
    (page, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[(&str, Kind)] = &[
        ("visibility", Kind::Enum("TICKET_COMMENT_VISIBILITY_")),
        ("author.name", Kind::Text),
        ("changes.path", Kind::Text),
        ("create_time", Kind::Time),
        ("count", Kind::Int),
        ("active", Kind::Bool),
    ];

    fn values(field: &str) -> Vec<FieldValue> {
        match field {
            "visibility" => vec![FieldValue::Enum("TICKET_COMMENT_VISIBILITY_PUBLIC".into())],
            "author.name" => vec![FieldValue::Text("users/a".into())],
            "changes.path" => vec![
                FieldValue::Text("state".into()),
                FieldValue::Text("priority".into()),
            ],
            "create_time" => vec![FieldValue::Time(
                parse_time("2026-12-01T10:00:00Z").unwrap_or_default(),
            )],
            "count" => vec![FieldValue::Int(3)],
            "active" => vec![FieldValue::Bool(true)],
            _ => Vec::new(),
        }
    }

    fn check(text: &str) -> bool {
        parse(text, FIELDS).expect(text).matches(values)
    }

    #[test]
    fn enums_read_with_or_without_prefix() {
        assert!(check("visibility = PUBLIC"));
        assert!(check("visibility = public"));
        assert!(check("visibility = TICKET_COMMENT_VISIBILITY_PUBLIC"));
        assert!(!check("visibility = INTERNAL"));
        assert!(check("visibility != INTERNAL"));
    }

    #[test]
    fn has_matches_an_element_and_presence() {
        assert!(check(r#"changes.path:"priority""#));
        assert!(!check(r#"changes.path:"assignee""#));
        assert!(check("author.name:*"));
    }

    #[test]
    fn or_binds_tighter_than_and() {
        assert!(check(
            r#"visibility = INTERNAL OR count = 3 AND author.name = "users/a""#
        ));
        assert!(!check(
            r#"visibility = INTERNAL OR count = 4 AND author.name = "users/a""#
        ));
        assert!(check("NOT visibility = INTERNAL"));
        assert!(check("-count > 5"));
    }

    #[test]
    fn times_and_numbers_compare_in_order() {
        assert!(check("create_time >= 2026-12-01"));
        assert!(check(
            r#"create_time < "2026-12-01T11:00:00+01:00" OR count < 4"#
        ));
        assert!(!check("create_time > 2026-12-02"));
    }

    #[test]
    fn booleans_compare_or_stand_alone() {
        assert!(check("active = true"));
        assert!(check("active = TRUE AND count = 3"));
        assert!(!check("active = false"));
        assert!(check("active"));
        assert!(!check("NOT active"));
        assert!(check("active AND count = 3"));
        assert!(!check("-active OR count = 4"));
        assert!(parse("active = maybe", FIELDS).is_err());
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(parse("body = x", FIELDS).is_err());
        assert!(parse("create_time > soon", FIELDS).is_err());
        assert!(parse("count = 3 AND", FIELDS).is_err());
        assert!(parse("(count = 3)", FIELDS).is_err());
        assert_eq!(parse("", FIELDS), Ok(Filter::default()));
    }

    #[test]
    fn users_me_becomes_the_caller() {
        let mut filter = parse(r#"author.name = "users/me""#, FIELDS).expect("parses");
        assert!(!filter.matches(values));
        filter.resolve_me(Some("users/a")).expect("a user");
        assert!(filter.matches(values));
        assert!(filter.resolve_me(None).is_ok());
        let mut other = parse(r#"author.name = "users/me""#, FIELDS).expect("parses");
        assert!(other.resolve_me(None).is_err());
    }

    #[test]
    fn orders_and_pages() {
        let order = parse_order(
            "create_time desc",
            &["create_time"],
            OrderKey {
                field: "create_time",
                descending: false,
            },
        )
        .expect("parses");
        assert!(order[0].descending);
        assert!(parse_order("body", &["create_time"], order[0].clone()).is_err());
        let mut items = vec![1, 3, 2];
        items.sort_by(|a, b| compare(a, b, &order, |item, _| *item));
        assert_eq!(items, vec![3, 2, 1]);
        let (first, token) = page(items.clone(), 0, 2);
        assert_eq!((first, token.as_str()), (vec![3, 2], "o2"));
        let (last, token) = page(items, page_offset("o2").expect("token"), 2);
        assert_eq!((last, token.as_str()), (vec![1], ""));
        assert!(page_offset("x").is_err());
    }
}
