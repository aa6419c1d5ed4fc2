//! The filter of ListCustomerImports (AIP-160 subset): conditions on
//! `state` (`=`, `!=`; the value name with or without its
//! `CUSTOMER_IMPORT_STATE_` prefix) and `create_time` (`=`, `!=`, `<`,
//! `<=`, `>`, `>=` with an RFC 3339 time), joined by `AND`.

use chrono::{DateTime, Utc};
use kefu_proto::v1::CustomerImportState;

/// What ListCustomerImports selects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportFilter {
    /// States allowed (empty: every state).
    pub states: Vec<i32>,
    /// States refused.
    pub not_states: Vec<i32>,
    /// `create_time` conditions: (operator, time).
    pub create_time: Vec<(&'static str, DateTime<Utc>)>,
}

const OPERATORS: &[&str] = &["<=", ">=", "!=", "=", "<", ">"];

/// Reads `text`; the message for INVALID_ARGUMENT `filter` otherwise.
pub fn parse(text: &str) -> Result<ImportFilter, String> {
    let mut filter = ImportFilter::default();
    if text.trim().is_empty() {
        return Ok(filter);
    }
    for condition in split_and(text) {
        let condition = condition.trim();
        let (at, operator) = OPERATORS
            .iter()
            .filter_map(|op| condition.find(op).map(|at| (at, *op)))
            .min_by_key(|(at, op)| (*at, std::cmp::Reverse(op.len())))
            .ok_or_else(|| format!("filter condition {condition:?} has no operator"))?;
        let field = condition[..at].trim();
        let value = condition[at + operator.len()..].trim().trim_matches('"');
        match field {
            "state" => {
                let upper = value.to_ascii_uppercase();
                let name = upper
                    .strip_prefix("CUSTOMER_IMPORT_STATE_")
                    .unwrap_or(&upper);
                let state =
                    CustomerImportState::from_str_name(&format!("CUSTOMER_IMPORT_STATE_{name}"))
                        .filter(|state| *state != CustomerImportState::Unspecified)
                        .ok_or_else(|| {
                            "filter: state must be PENDING, RUNNING, SUCCEEDED, FAILED or CANCELLED"
                                .to_owned()
                        })?;
                match operator {
                    "=" => filter.states.push(state as i32),
                    "!=" => filter.not_states.push(state as i32),
                    _ => return Err("filter: state compares with = or != only".into()),
                }
            }
            "create_time" => {
                let time = DateTime::parse_from_rfc3339(value)
                    .map_err(|_| "filter: create_time needs an RFC 3339 time".to_owned())?
                    .with_timezone(&Utc);
                filter.create_time.push((operator, time));
            }
            other => {
                return Err(format!(
                    "filter: unknown field {other:?}; ListCustomerImports filters on state and create_time"
                ));
            }
        }
    }
    if filter.states.len() > 1 {
        // Two different `state =` conditions joined by AND match nothing.
        let first = filter.states[0];
        if filter.states.iter().any(|state| *state != first) {
            filter.states = vec![-1];
        }
    }
    Ok(filter)
}

/// The conditions of `text` joined by `AND` (any case), outside quotes.
fn split_and(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => quoted = !quoted,
            b' ' if !quoted
                && text
                    .get(at..at + 5)
                    .is_some_and(|word| word.eq_ignore_ascii_case(" and "))
                && text.is_char_boundary(at + 5) =>
            {
                parts.push(&text[start..at]);
                start = at + 5;
                at += 4;
            }
            _ => {}
        }
        at += 1;
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_times() {
        let filter = parse(
            r#"state = SUCCEEDED AND create_time >= "2026-12-01T00:00:00Z" and state != "CUSTOMER_IMPORT_STATE_FAILED""#,
        )
        .expect("valid");
        assert_eq!(filter.states, vec![CustomerImportState::Succeeded as i32]);
        assert_eq!(filter.not_states, vec![CustomerImportState::Failed as i32]);
        assert_eq!(filter.create_time.len(), 1);
        assert_eq!(filter.create_time[0].0, ">=");
        assert_eq!(parse("").expect("empty"), ImportFilter::default());
        assert!(parse("state = DONE").unwrap_err().contains("state"));
        assert!(parse("owner = x").unwrap_err().contains("owner"));
        assert!(parse("create_time > yesterday").is_err());
        assert!(parse("state > PENDING").is_err());
        assert_eq!(
            parse("state = PENDING AND state = RUNNING")
                .expect("valid")
                .states,
            vec![-1]
        );
    }
}
