//! The subset of AIP-160 filters and AIP-132 `order_by` the identity lists
//! accept: conditions joined by `AND`, each `field op value`, and a
//! comma-separated order with optional ` desc`. Each list names its fields
//! and their kinds, so an unknown field or an operator that makes no sense
//! for it is INVALID_ARGUMENT naming `filter` or `order_by`.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use crate::error::{Result, TenantsError};

/// How a filterable field compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A single text or enum value: `=` and `!=`.
    Text,
    /// A repeated value: `:` (has), and `=` read as has.
    Repeated,
    /// A timestamp (RFC 3339 values): `=`, `!=`, `<`, `<=`, `>`, `>=`.
    Time,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `=`.
    Equal,
    /// `!=`.
    NotEqual,
    /// `<`.
    Less,
    /// `<=`.
    LessOrEqual,
    /// `>`.
    Greater,
    /// `>=`.
    GreaterOrEqual,
    /// `:`.
    Has,
}

/// One condition of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field, as documented (`kind`, `skills.key`).
    pub field: String,
    /// The operator.
    pub operator: Operator,
    /// The value, unquoted.
    pub value: String,
    /// The value as a time, for time fields.
    pub time: Option<DateTime<Utc>>,
}

impl Condition {
    /// Whether a single text value satisfies the condition.
    pub fn matches_text(&self, actual: &str) -> bool {
        match self.operator {
            Operator::NotEqual => actual != self.value,
            _ => actual == self.value,
        }
    }

    /// Whether an enum value, known by its full name (`TEAM_TIER_SPECIALIST`)
    /// and read with or without `prefix` (`TEAM_TIER_`), satisfies it.
    pub fn matches_enum(&self, full_name: &str, prefix: &str) -> bool {
        let equal = full_name == self.value || full_name.strip_prefix(prefix) == Some(&self.value);
        match self.operator {
            Operator::NotEqual => !equal,
            _ => equal,
        }
    }

    /// Whether one of `values` equals the condition's value.
    pub fn matches_any<'a>(&self, mut values: impl Iterator<Item = &'a str>) -> bool {
        values.any(|value| value == self.value)
    }

    /// Whether a time satisfies the condition; an absent time satisfies
    /// nothing.
    pub fn matches_time(&self, actual: Option<DateTime<Utc>>) -> bool {
        let (Some(actual), Some(wanted)) = (actual, self.time) else {
            return false;
        };
        match self.operator {
            Operator::Equal | Operator::Has => actual == wanted,
            Operator::NotEqual => actual != wanted,
            Operator::Less => actual < wanted,
            Operator::LessOrEqual => actual <= wanted,
            Operator::Greater => actual > wanted,
            Operator::GreaterOrEqual => actual >= wanted,
        }
    }
}

fn bad_filter(description: impl Into<String>) -> TenantsError {
    TenantsError::invalid("filter", description)
}

/// Parses `filter` over the `fields` a list documents.
pub fn parse_filter(filter: &str, fields: &[(&str, FieldKind)]) -> Result<Vec<Condition>> {
    let filter = filter.trim();
    if filter.is_empty() {
        return Ok(Vec::new());
    }
    filter
        .split(" AND ")
        .map(|term| parse_condition(term.trim(), fields))
        .collect()
}

fn parse_condition(term: &str, fields: &[(&str, FieldKind)]) -> Result<Condition> {
    let field_end = term
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(term.len());
    let field = &term[..field_end];
    let rest = term[field_end..].trim_start();
    let (operator, value) = [
        ("<=", Operator::LessOrEqual),
        (">=", Operator::GreaterOrEqual),
        ("!=", Operator::NotEqual),
        ("=", Operator::Equal),
        ("<", Operator::Less),
        (">", Operator::Greater),
        (":", Operator::Has),
    ]
    .into_iter()
    .find_map(|(symbol, operator)| rest.strip_prefix(symbol).map(|value| (operator, value)))
    .ok_or_else(|| {
        bad_filter(format!(
            "{term:?} is not a condition; write field = \"value\" and join conditions with AND"
        ))
    })?;
    let Some((_, kind)) = fields.iter().find(|(name, _)| *name == field) else {
        let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
        return Err(bad_filter(format!(
            "cannot filter on {field:?}; filter fields: {}",
            names.join(", ")
        )));
    };
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
        .to_owned();
    if value.is_empty() {
        return Err(bad_filter(format!("{field} needs a value")));
    }
    let allowed = match kind {
        FieldKind::Text => matches!(operator, Operator::Equal | Operator::NotEqual),
        FieldKind::Repeated => matches!(operator, Operator::Equal | Operator::Has),
        FieldKind::Time => operator != Operator::Has,
    };
    if !allowed {
        return Err(bad_filter(format!(
            "this operator does not apply to {field}"
        )));
    }
    let time = if *kind == FieldKind::Time {
        Some(
            DateTime::parse_from_rfc3339(&value)
                .map_err(|_| {
                    bad_filter(format!(
                        "{field} compares with an RFC 3339 time such as \"2026-11-23T08:00:00Z\""
                    ))
                })?
                .with_timezone(&Utc),
        )
    } else {
        None
    };
    Ok(Condition {
        field: field.to_owned(),
        operator,
        value,
        time,
    })
}

/// One key of an order: the field and whether descending.
pub type OrderKey = (String, bool);

/// Parses `order_by` over the `fields` a list can be ordered by; empty
/// gives `default`.
pub fn parse_order_by(order_by: &str, fields: &[&str], default: &str) -> Result<Vec<OrderKey>> {
    let order_by = if order_by.trim().is_empty() {
        default
    } else {
        order_by
    };
    order_by
        .split(',')
        .map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            let (field, descending) = match words.as_slice() {
                [field] => (*field, false),
                [field, direction] if direction.eq_ignore_ascii_case("desc") => (*field, true),
                [field, direction] if direction.eq_ignore_ascii_case("asc") => (*field, false),
                _ => {
                    return Err(TenantsError::invalid(
                        "order_by",
                        format!("{part:?} is not `field` or `field desc`"),
                    ));
                }
            };
            if !fields.contains(&field) {
                return Err(TenantsError::invalid(
                    "order_by",
                    format!(
                        "cannot order by {field:?}; order fields: {}",
                        fields.join(", ")
                    ),
                ));
            }
            Ok((field.to_owned(), descending))
        })
        .collect()
}

/// Sorts `items` by `order`, comparing one field with `compare`, and then by
/// `tie` so pages are stable.
pub fn sort_by_order<T>(
    items: &mut [T],
    order: &[OrderKey],
    compare: impl Fn(&T, &T, &str) -> Ordering,
    tie: impl Fn(&T, &T) -> Ordering,
) {
    items.sort_by(|a, b| {
        order
            .iter()
            .map(|(field, descending)| {
                let ordering = compare(a, b, field);
                if *descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or_else(|| tie(a, b))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[(&str, FieldKind)] = &[
        ("kind", FieldKind::Text),
        ("members", FieldKind::Repeated),
        ("create_time", FieldKind::Time),
    ];

    #[test]
    fn conditions_join_with_and() {
        let conditions = parse_filter(
            r#"kind = "DEPARTMENT_KIND_SALES" AND members:users/1 AND create_time >= "2026-11-23T00:00:00Z""#,
            FIELDS,
        )
        .expect("parses");
        assert_eq!(conditions.len(), 3);
        assert!(conditions[0].matches_enum("DEPARTMENT_KIND_SALES", "DEPARTMENT_KIND_"));
        assert!(conditions[1].matches_any(["users/2", "users/1"].into_iter()));
        let day = DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        assert!(conditions[2].matches_time(Some(day)));
        assert!(!conditions[2].matches_time(Some(day - chrono::Duration::seconds(1))));
        assert!(!conditions[2].matches_time(None));
    }

    #[test]
    fn enums_read_with_or_without_prefix() {
        let short = parse_filter("kind = SALES", FIELDS).expect("parses");
        assert!(short[0].matches_enum("DEPARTMENT_KIND_SALES", "DEPARTMENT_KIND_"));
        let not = parse_filter("kind != SALES", FIELDS).expect("parses");
        assert!(!not[0].matches_enum("DEPARTMENT_KIND_SALES", "DEPARTMENT_KIND_"));
    }

    #[test]
    fn bad_filters_name_the_filter() {
        for filter in [
            "colour = red",
            "kind",
            "kind < SALES",
            "members != users/1",
            "create_time > yesterday",
            "kind = ",
        ] {
            let error = parse_filter(filter, FIELDS).expect_err(filter);
            assert!(
                matches!(&error, TenantsError::Invalid(violation, _) if violation.field == "filter"),
                "{filter}: {error:?}"
            );
        }
        assert!(parse_filter("  ", FIELDS).expect("empty").is_empty());
    }

    #[test]
    fn order_by_reads_fields_and_directions() {
        assert_eq!(
            parse_order_by("", &["display_name"], "display_name").expect("default"),
            vec![("display_name".to_owned(), false)]
        );
        assert_eq!(
            parse_order_by(
                "create_time desc, display_name",
                &["display_name", "create_time"],
                ""
            )
            .expect("parses"),
            vec![
                ("create_time".to_owned(), true),
                ("display_name".to_owned(), false)
            ]
        );
        assert!(parse_order_by("colour", &["display_name"], "display_name").is_err());
        assert!(parse_order_by("display_name up", &["display_name"], "display_name").is_err());
    }

    #[test]
    fn sorting_follows_the_order_then_the_tie() {
        let mut items = vec![("b", 1), ("a", 2), ("a", 1)];
        sort_by_order(
            &mut items,
            &[("letter".to_owned(), true)],
            |x, y, _| x.0.cmp(y.0),
            |x, y| x.1.cmp(&y.1),
        );
        assert_eq!(items, vec![("b", 1), ("a", 1), ("a", 2)]);
    }
}
