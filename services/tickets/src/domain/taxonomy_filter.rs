//! The AIP-160 filters and orders of the taxonomy lists: conditions
//! `field = value`, `field != value` and `field:value` (has) joined by
//! `AND`, evaluated over the decoded resources (a tenant has tens of each).
//! Enum values match by their full name (`TICKET_BASE_KIND_REPAIR`) or
//! without the prefix (`REPAIR`).

use crate::error::{Result, TicketsError};

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `:` (has)
    Has,
}

/// One condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field path.
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The value, unquoted.
    pub value: String,
}

/// Conditions that must all hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter(pub Vec<Condition>);

/// A value a resource's field matches whatever the condition asks (a
/// category open to every kind).
pub const ANY: &str = "*";

fn invalid(description: impl Into<String>) -> TicketsError {
    TicketsError::invalid("filter", description)
}

/// Parses `text`, whose fields must be among `fields`.
pub fn parse(text: &str, fields: &[&str]) -> Result<Filter> {
    let chars: Vec<char> = text.chars().collect();
    let mut at = 0;
    let mut conditions = Vec::new();
    let skip = |at: &mut usize| {
        while *at < chars.len() && chars[*at].is_whitespace() {
            *at += 1;
        }
    };
    loop {
        skip(&mut at);
        if at >= chars.len() {
            break;
        }
        if !conditions.is_empty() {
            let word: String = chars[at..].iter().take(3).collect();
            if word != "AND" || chars.get(at + 3).is_some_and(|c| !c.is_whitespace()) {
                return Err(invalid(
                    "filter conditions are joined by AND (OR and parentheses are not supported here)",
                ));
            }
            at += 3;
            skip(&mut at);
        }
        let start = at;
        while at < chars.len() && (chars[at].is_alphanumeric() || matches!(chars[at], '_' | '.')) {
            at += 1;
        }
        let field: String = chars[start..at].iter().collect();
        if field.is_empty() {
            return Err(invalid(format!(
                "filter: a field name is expected at {start}"
            )));
        }
        if !fields.contains(&field.as_str()) {
            return Err(invalid(format!(
                "filter: {field:?} cannot be filtered on; use {}",
                fields.join(", ")
            )));
        }
        skip(&mut at);
        let op = match (chars.get(at), chars.get(at + 1)) {
            (Some('!'), Some('=')) => {
                at += 2;
                Op::Ne
            }
            (Some('='), _) => {
                at += 1;
                Op::Eq
            }
            (Some(':'), _) => {
                at += 1;
                Op::Has
            }
            _ => {
                return Err(invalid(format!(
                    "filter: =, != or : expected after {field}"
                )));
            }
        };
        skip(&mut at);
        let value = if chars.get(at) == Some(&'"') {
            at += 1;
            let mut value = String::new();
            loop {
                match chars.get(at) {
                    None => return Err(invalid("filter: a quoted value is not closed")),
                    Some('"') => {
                        at += 1;
                        break;
                    }
                    Some('\\') if at + 1 < chars.len() => {
                        value.push(chars[at + 1]);
                        at += 2;
                    }
                    Some(c) => {
                        value.push(*c);
                        at += 1;
                    }
                }
            }
            value
        } else {
            let start = at;
            while at < chars.len() && !chars[at].is_whitespace() {
                at += 1;
            }
            if start == at {
                return Err(invalid(format!(
                    "filter: a value is expected after {field}"
                )));
            }
            chars[start..at].iter().collect()
        };
        conditions.push(Condition { field, op, value });
    }
    Ok(Filter(conditions))
}

impl Filter {
    /// Whether a resource matches: `values(field)` answers the field's
    /// values (one for a scalar, any number for a list; enum names with
    /// and without prefix).
    pub fn matches(&self, values: impl Fn(&str) -> Vec<String>) -> bool {
        self.0.iter().all(|condition| {
            let found = values(&condition.field);
            let hit = found
                .iter()
                .any(|value| value == ANY || value == &condition.value);
            match condition.op {
                Op::Eq | Op::Has => hit,
                Op::Ne => !hit,
            }
        })
    }
}

/// An enum value's names: the full one and without `prefix`.
pub fn enum_names(full: &str, prefix: &str) -> Vec<String> {
    let mut names = vec![full.to_owned()];
    if let Some(short) = full.strip_prefix(prefix) {
        names.push(short.to_owned());
    }
    names
}

/// An order: one field, ascending unless `desc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The field.
    pub field: String,
    /// Descending.
    pub desc: bool,
}

/// Parses `order_by` (`key desc`), whose field must be among `fields`;
/// empty: `default` ascending.
pub fn parse_order(text: &str, fields: &[&str], default: &str) -> Result<Order> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (field, desc) = match words.as_slice() {
        [] => (default, false),
        [field] => (*field, false),
        [field, "asc"] => (*field, false),
        [field, "desc"] => (*field, true),
        _ => {
            return Err(TicketsError::invalid(
                "order_by",
                "order_by is one field, optionally followed by asc or desc",
            ));
        }
    };
    if !fields.contains(&field) {
        return Err(TicketsError::invalid(
            "order_by",
            format!(
                "order_by {field:?} is not supported; use {}",
                fields.join(", ")
            ),
        ));
    }
    Ok(Order {
        field: field.to_owned(),
        desc,
    })
}

/// The offset a page token carries (`o{offset}`); 0 for none.
pub fn page_offset(token: &str) -> Result<usize> {
    if token.is_empty() {
        return Ok(0);
    }
    token
        .strip_prefix('o')
        .and_then(|offset| offset.parse::<usize>().ok())
        .ok_or_else(|| {
            TicketsError::invalid("page_token", "page_token is not a token of this list")
        })
}

/// The page of `items` from `offset`, at most `limit`, with the next
/// token (empty on the last page) and the total.
pub fn page<T>(items: Vec<T>, offset: usize, limit: usize) -> (Vec<T>, String, i32) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let next = offset + page.len();
    let token = if next < total && !page.is_empty() {
        format!("o{next}")
    } else {
        String::new()
    };
    (page, token, i32::try_from(total).unwrap_or(i32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["base_kind", "active", "kinds", "parent"];

    fn lookup(field: &str) -> Vec<String> {
        match field {
            "base_kind" => enum_names("TICKET_BASE_KIND_REPAIR", "TICKET_BASE_KIND_"),
            "active" => vec!["true".to_owned()],
            "kinds" => vec![
                "ticketKinds/repair".to_owned(),
                "ticketKinds/move-in".to_owned(),
            ],
            _ => vec![String::new()],
        }
    }

    #[test]
    fn conditions_joined_by_and_all_hold() {
        let filter = parse(
            r#"base_kind = REPAIR AND active=true AND kinds:"ticketKinds/repair""#,
            FIELDS,
        )
        .unwrap();
        assert_eq!(filter.0.len(), 3);
        assert!(filter.matches(lookup));
        assert!(
            parse("base_kind = TICKET_BASE_KIND_REPAIR", FIELDS)
                .unwrap()
                .matches(lookup)
        );
        assert!(
            !parse("base_kind != REPAIR", FIELDS)
                .unwrap()
                .matches(lookup)
        );
        assert!(!parse("active = false", FIELDS).unwrap().matches(lookup));
        assert!(parse(r#"parent = """#, FIELDS).unwrap().matches(lookup));
        assert!(parse("", FIELDS).unwrap().matches(lookup));
    }

    #[test]
    fn a_wildcard_value_matches_any_condition() {
        let filter = parse(r#"kinds:"ticketKinds/complaint""#, FIELDS).unwrap();
        assert!(!filter.matches(lookup));
        assert!(filter.matches(|_| vec![ANY.to_owned()]));
    }

    #[test]
    fn unknown_fields_and_syntax_are_refused() {
        for bad in [
            "state = NEW",
            "active",
            "active = true OR active = false",
            r#"kinds:"x"#,
        ] {
            let error = parse(bad, FIELDS).unwrap_err();
            assert!(matches!(error, TicketsError::Invalid(..)), "{bad}");
        }
    }

    #[test]
    fn orders_and_pages() {
        assert_eq!(
            parse_order("", &["key", "create_time"], "key").unwrap(),
            Order {
                field: "key".to_owned(),
                desc: false
            }
        );
        assert!(
            parse_order("create_time desc", &["key", "create_time"], "key")
                .unwrap()
                .desc
        );
        assert!(parse_order("state", &["key"], "key").is_err());
        let (items, token, total) = page((0..5).collect(), 0, 2);
        assert_eq!((items, token.as_str(), total), (vec![0, 1], "o2", 5));
        let offset = page_offset("o4").unwrap();
        let (items, token, _) = page((0..5).collect(), offset, 2);
        assert_eq!((items, token.as_str()), (vec![4], ""));
        assert!(page_offset("x").is_err());
    }
}
