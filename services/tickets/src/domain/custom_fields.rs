//! Custom-field values of a ticket (自定义字段) checked against the tenant's
//! field definitions and the kind's form: the encoding of each type is the
//! one `Ticket.custom_fields` gives (numbers, bools, `YYYY-MM-DD`, RFC 3339,
//! option values, `{"currency_code", "amount_minor"}` for money). Errors name
//! `ticket.custom_fields.<key>`, with reason `CUSTOM_FIELD_INVALID` for a
//! bad value and `REQUIRED_FIELD_MISSING` for a required empty one.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate};
use kefu_proto::v1::{TicketFieldDefinition, TicketFieldRequirement, TicketFieldType, TicketKind};
use prost_types::{Value, value::Kind};

use crate::{
    domain::taxonomy::FIELD_DEFINITIONS,
    error::{Result, TicketsError},
};

/// The most custom-field entries a ticket holds.
pub const MAX_ENTRIES: usize = 100;

/// Default maximum length of a TEXT (and PHONE, EMAIL, URL) value.
pub const DEFAULT_TEXT_LENGTH: usize = 255;

/// Default maximum length of a LONG_TEXT value.
pub const DEFAULT_LONG_TEXT_LENGTH: usize = 10_000;

/// The largest whole number a JSON number carries exactly (2^53).
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// When values are checked: the requirements that apply differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// On create and on every update: each value is checked against its
    /// definition, and the fields required on create must be filled
    /// (INVALID_ARGUMENT).
    OnCreate,
    /// Before resolving: the fields required on create or on resolve must be
    /// filled (FAILED_PRECONDITION); the values were checked when written.
    OnResolve,
}

/// The field path of custom field `key` in errors.
pub fn field_path(key: &str) -> String {
    format!("ticket.custom_fields.{key}")
}

/// Checks a ticket's `values` against the tenant's `definitions` and the
/// form of `kind`, as `when` says. A null value counts as empty (it clears
/// the field).
pub fn validate(
    definitions: &[TicketFieldDefinition],
    kind: &TicketKind,
    values: &HashMap<String, Value>,
    when: When,
) -> Result<()> {
    validate_change(definitions, kind, &HashMap::new(), values, when)
}

/// As [`validate`], for a ticket whose values were `before`: a value left
/// as it was is not checked again (definitions may have changed since it
/// was written; "new rules apply to values written afterwards"), but the
/// requirements of the kind apply to every value.
pub fn validate_change(
    definitions: &[TicketFieldDefinition],
    kind: &TicketKind,
    before: &HashMap<String, Value>,
    values: &HashMap<String, Value>,
    when: When,
) -> Result<()> {
    if when == When::OnCreate {
        if values.len() > MAX_ENTRIES {
            return Err(TicketsError::invalid_because(
                "ticket.custom_fields",
                format!("a ticket holds at most {MAX_ENTRIES} custom fields"),
                "CUSTOM_FIELD_INVALID",
            ));
        }
        let by_key: HashMap<&str, &TicketFieldDefinition> = definitions
            .iter()
            .map(|definition| (definition.key.as_str(), definition))
            .collect();
        // Sorted so the first error is the same on every call.
        let mut keys: Vec<&String> = values.keys().collect();
        keys.sort();
        for key in keys {
            let value = &values[key];
            if is_empty(value) || before.get(key) == Some(value) {
                continue;
            }
            let definition = by_key.get(key.as_str()).ok_or_else(|| {
                invalid(key, format!("{key:?} is not a custom field of the tenant"))
            })?;
            check_value(definition, key, value)?;
        }
    }
    for field in &kind.fields {
        let requirement = TicketFieldRequirement::try_from(field.requirement)
            .unwrap_or(TicketFieldRequirement::Optional);
        let required = match when {
            When::OnCreate => requirement == TicketFieldRequirement::RequiredOnCreate,
            When::OnResolve => matches!(
                requirement,
                TicketFieldRequirement::RequiredOnCreate
                    | TicketFieldRequirement::RequiredOnResolve
            ),
        };
        let Some(key) = field
            .field_definition
            .strip_prefix(FIELD_DEFINITIONS)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            continue;
        };
        if !required || values.get(key).is_some_and(|value| !is_empty(value)) {
            continue;
        }
        let path = field_path(key);
        return Err(match when {
            When::OnCreate => TicketsError::invalid_because(
                &path,
                format!("{path} is required for {}", kind.name),
                "REQUIRED_FIELD_MISSING",
            ),
            When::OnResolve => TicketsError::FailedPrecondition(
                format!(
                    "{path} is required to resolve a ticket of {}: fill it with UpdateTicket first",
                    kind.name
                ),
                "REQUIRED_FIELD_MISSING",
            ),
        });
    }
    Ok(())
}

/// Whether `value` is empty: null, an empty text or an empty list.
pub fn is_empty(value: &Value) -> bool {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => true,
        Some(Kind::StringValue(text)) => text.trim().is_empty(),
        Some(Kind::ListValue(list)) => list.values.is_empty(),
        _ => false,
    }
}

fn invalid(key: &str, description: impl Into<String>) -> TicketsError {
    TicketsError::invalid_because(&field_path(key), description, "CUSTOM_FIELD_INVALID")
}

/// Checks one non-empty value against its definition.
pub fn check_value(definition: &TicketFieldDefinition, key: &str, value: &Value) -> Result<()> {
    if !definition.active {
        return Err(invalid(
            key,
            format!("{key} is inactive: it takes no new values"),
        ));
    }
    let field_type =
        TicketFieldType::try_from(definition.r#type).unwrap_or(TicketFieldType::Unspecified);
    match field_type {
        TicketFieldType::Text
        | TicketFieldType::LongText
        | TicketFieldType::Phone
        | TicketFieldType::Email
        | TicketFieldType::Url => check_text(definition, field_type, key, value),
        TicketFieldType::Integer | TicketFieldType::Decimal => {
            let Some(Kind::NumberValue(number)) = value.kind else {
                return Err(invalid(key, format!("{key} must be a number")));
            };
            if !number.is_finite() {
                return Err(invalid(key, format!("{key} must be a finite number")));
            }
            if field_type == TicketFieldType::Integer
                && (number.fract() != 0.0 || number.abs() > MAX_EXACT_INTEGER)
            {
                return Err(invalid(key, format!("{key} must be a whole number")));
            }
            check_range(definition, key, number)
        }
        TicketFieldType::Boolean => match value.kind {
            Some(Kind::BoolValue(_)) => Ok(()),
            _ => Err(invalid(key, format!("{key} must be true or false"))),
        },
        TicketFieldType::Date => match &value.kind {
            Some(Kind::StringValue(text))
                if text.len() == 10 && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() =>
            {
                Ok(())
            }
            _ => Err(invalid(key, format!("{key} must be a date, YYYY-MM-DD"))),
        },
        TicketFieldType::DateTime => match &value.kind {
            Some(Kind::StringValue(text)) if DateTime::parse_from_rfc3339(text).is_ok() => Ok(()),
            _ => Err(invalid(
                key,
                format!("{key} must be an RFC 3339 time (2026-12-01T09:30:00+08:00)"),
            )),
        },
        TicketFieldType::SingleSelect => match &value.kind {
            Some(Kind::StringValue(option)) => check_option(definition, key, option),
            _ => Err(invalid(key, format!("{key} must be one option value"))),
        },
        TicketFieldType::MultiSelect => {
            let Some(Kind::ListValue(list)) = &value.kind else {
                return Err(invalid(
                    key,
                    format!("{key} must be a list of option values"),
                ));
            };
            let mut seen = HashSet::new();
            for item in &list.values {
                let Some(Kind::StringValue(option)) = &item.kind else {
                    return Err(invalid(key, format!("{key} must list option values")));
                };
                check_option(definition, key, option)?;
                if !seen.insert(option.as_str()) {
                    return Err(invalid(key, format!("{key} lists {option:?} twice")));
                }
            }
            Ok(())
        }
        TicketFieldType::Money => check_money(definition, key, value),
        TicketFieldType::Unspecified => Err(invalid(key, format!("{key} has no type"))),
    }
}

/// The maximum length of a text value of `definition`.
pub fn max_length(definition: &TicketFieldDefinition, field_type: TicketFieldType) -> usize {
    match usize::try_from(definition.max_length) {
        Ok(length) if length > 0 => length,
        _ if field_type == TicketFieldType::LongText => DEFAULT_LONG_TEXT_LENGTH,
        _ => DEFAULT_TEXT_LENGTH,
    }
}

fn check_text(
    definition: &TicketFieldDefinition,
    field_type: TicketFieldType,
    key: &str,
    value: &Value,
) -> Result<()> {
    let Some(Kind::StringValue(text)) = &value.kind else {
        return Err(invalid(key, format!("{key} must be a text")));
    };
    let limit = max_length(definition, field_type);
    if text.chars().count() > limit {
        return Err(invalid(
            key,
            format!("{key} is longer than {limit} characters"),
        ));
    }
    if field_type == TicketFieldType::Text && text.contains(['\n', '\r']) {
        return Err(invalid(key, format!("{key} must be one line")));
    }
    let well_formed = match field_type {
        TicketFieldType::Phone => is_phone(text),
        TicketFieldType::Email => is_email(text),
        TicketFieldType::Url => is_url(text),
        _ => true,
    };
    if !well_formed {
        return Err(invalid(
            key,
            format!("{key} is not a well-formed {}", type_word(field_type)),
        ));
    }
    if !definition.pattern.is_empty() {
        let pattern = full_match(&definition.pattern)
            .map_err(|_| invalid(key, format!("{key} has a pattern that does not compile")))?;
        if !pattern.is_match(text) {
            return Err(invalid(
                key,
                format!("{key} does not match {}", definition.pattern),
            ));
        }
    }
    Ok(())
}

/// `pattern` anchored to match a whole value.
pub fn full_match(pattern: &str) -> std::result::Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{pattern})$"))
}

fn type_word(field_type: TicketFieldType) -> &'static str {
    match field_type {
        TicketFieldType::Phone => "phone number",
        TicketFieldType::Email => "e-mail address",
        _ => "URL",
    }
}

/// A phone number: digits with an optional leading `+`, spaces, hyphens
/// and parentheses, 3 to 20 digits (extensions and short service numbers
/// included).
fn is_phone(text: &str) -> bool {
    let body = text.strip_prefix('+').unwrap_or(text);
    let digits = body.chars().filter(char::is_ascii_digit).count();
    (3..=20).contains(&digits)
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'))
}

/// An e-mail address: one `@`, a local part, a dotted domain, no spaces.
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(char::is_whitespace)
}

/// An http or https URL with a host.
fn is_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !text.chars().any(char::is_whitespace)
    })
}

fn check_range(definition: &TicketFieldDefinition, key: &str, number: f64) -> Result<()> {
    if let Some(min) = definition.min_value
        && number < min
    {
        return Err(invalid(key, format!("{key} must be at least {min}")));
    }
    if let Some(max) = definition.max_value
        && number > max
    {
        return Err(invalid(key, format!("{key} must be at most {max}")));
    }
    Ok(())
}

fn check_option(definition: &TicketFieldDefinition, key: &str, value: &str) -> Result<()> {
    match definition
        .options
        .iter()
        .find(|option| option.value == value)
    {
        Some(option) if option.active => Ok(()),
        Some(_) => Err(invalid(
            key,
            format!("option {value:?} of {key} is inactive"),
        )),
        None => Err(invalid(key, format!("{value:?} is not an option of {key}"))),
    }
}

fn check_money(definition: &TicketFieldDefinition, key: &str, value: &Value) -> Result<()> {
    let shape = || {
        invalid(
            key,
            format!(
                "{key} must be {{\"currency_code\": \"CNY\", \"amount_minor\": 10000}} (ISO 4217 code, whole minor units)"
            ),
        )
    };
    let Some(Kind::StructValue(money)) = &value.kind else {
        return Err(shape());
    };
    if money
        .fields
        .keys()
        .any(|name| name != "currency_code" && name != "amount_minor")
    {
        return Err(shape());
    }
    let currency = match money
        .fields
        .get("currency_code")
        .and_then(|v| v.kind.as_ref())
    {
        Some(Kind::StringValue(code)) => code,
        _ => return Err(shape()),
    };
    if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(shape());
    }
    let amount = match money
        .fields
        .get("amount_minor")
        .and_then(|v| v.kind.as_ref())
    {
        Some(Kind::NumberValue(amount)) => *amount,
        _ => return Err(shape()),
    };
    if !amount.is_finite() || amount.fract() != 0.0 || amount.abs() > MAX_EXACT_INTEGER {
        return Err(shape());
    }
    check_range(definition, key, amount)
}

#[cfg(test)]
mod tests {
    use kefu_kit::error::ServiceError;
    use kefu_proto::v1::{TicketFieldOption, TicketKindField};
    use prost_types::{ListValue, Struct};

    use super::*;

    fn definition(key: &str, field_type: TicketFieldType) -> TicketFieldDefinition {
        TicketFieldDefinition {
            name: format!("ticketFieldDefinitions/{key}"),
            key: key.to_owned(),
            r#type: field_type as i32,
            active: true,
            ..Default::default()
        }
    }

    fn option(value: &str, active: bool) -> TicketFieldOption {
        TicketFieldOption {
            value: value.to_owned(),
            labels: None,
            active,
        }
    }

    fn text(value: &str) -> Value {
        Value {
            kind: Some(Kind::StringValue(value.to_owned())),
        }
    }

    fn number(value: f64) -> Value {
        Value {
            kind: Some(Kind::NumberValue(value)),
        }
    }

    fn boolean(value: bool) -> Value {
        Value {
            kind: Some(Kind::BoolValue(value)),
        }
    }

    fn null() -> Value {
        Value {
            kind: Some(Kind::NullValue(0)),
        }
    }

    fn list(values: &[&str]) -> Value {
        Value {
            kind: Some(Kind::ListValue(ListValue {
                values: values.iter().map(|value| text(value)).collect(),
            })),
        }
    }

    fn money(currency: &str, amount: f64) -> Value {
        Value {
            kind: Some(Kind::StructValue(Struct {
                fields: [
                    ("currency_code".to_owned(), text(currency)),
                    ("amount_minor".to_owned(), number(amount)),
                ]
                .into_iter()
                .collect(),
            })),
        }
    }

    fn kind(fields: &[(&str, TicketFieldRequirement)]) -> TicketKind {
        TicketKind {
            name: "ticketKinds/repair".to_owned(),
            key: "repair".to_owned(),
            fields: fields
                .iter()
                .map(|(key, requirement)| TicketKindField {
                    field_definition: format!("ticketFieldDefinitions/{key}"),
                    requirement: *requirement as i32,
                })
                .collect(),
            active: true,
            ..Default::default()
        }
    }

    fn one(key: &str, value: Value) -> HashMap<String, Value> {
        [(key.to_owned(), value)].into_iter().collect()
    }

    /// The field and specific reason of an error.
    fn named(error: &TicketsError) -> (String, Option<&'static str>) {
        let field = error
            .field_violations()
            .first()
            .map(|violation| violation.field.clone())
            .unwrap_or_default();
        (field, error.specific_reason())
    }

    fn check(definition: &TicketFieldDefinition, value: Value) -> Result<()> {
        validate(
            std::slice::from_ref(definition),
            &kind(&[]),
            &one(&definition.key, value),
            When::OnCreate,
        )
    }

    fn rejects(definition: &TicketFieldDefinition, value: Value) {
        let error = check(definition, value.clone()).expect_err(&format!(
            "{value:?} should be rejected for {}",
            definition.key
        ));
        assert_eq!(
            named(&error),
            (
                format!("ticket.custom_fields.{}", definition.key),
                Some("CUSTOM_FIELD_INVALID")
            )
        );
    }

    #[test]
    fn text_takes_one_line_within_its_length() {
        let mut order = definition("order_no", TicketFieldType::Text);
        assert!(check(&order, text("E2026-0001")).is_ok());
        rejects(&order, number(1.0));
        rejects(&order, text("two\nlines"));
        rejects(&order, text(&"x".repeat(256)));
        assert!(check(&order, text(&"字".repeat(255))).is_ok());
        order.max_length = 5;
        rejects(&order, text("123456"));
    }

    #[test]
    fn long_text_defaults_to_ten_thousand_characters() {
        let notes = definition("notes", TicketFieldType::LongText);
        assert!(check(&notes, text(&"a\nb".repeat(3_000))).is_ok());
        rejects(&notes, text(&"x".repeat(10_001)));
    }

    #[test]
    fn a_pattern_must_match_the_whole_value() {
        let mut vin = definition("vin", TicketFieldType::Text);
        vin.pattern = "[A-HJ-NPR-Z0-9]{17}".to_owned();
        assert!(check(&vin, text("LSVAU2180N2183294")).is_ok());
        rejects(&vin, text("LSVAU2180N2183294X"));
        rejects(&vin, text("lsvau2180n2183294"));
        vin.pattern = "^[0-9]{18}$".to_owned();
        assert!(check(&vin, text("110101199003074518")).is_ok());
    }

    #[test]
    fn phone_email_and_url_are_checked_for_form() {
        let phone = definition("contact_phone", TicketFieldType::Phone);
        assert!(check(&phone, text("+86 138-0013-8000")).is_ok());
        assert!(check(&phone, text("95555")).is_ok());
        rejects(&phone, text("call me"));
        let email = definition("contact_email", TicketFieldType::Email);
        assert!(check(&email, text("li.lei@example.cn")).is_ok());
        rejects(&email, text("li.lei@example"));
        rejects(&email, text("li lei@example.cn"));
        let url = definition("photo_url", TicketFieldType::Url);
        assert!(check(&url, text("https://img.example.cn/a.jpg")).is_ok());
        rejects(&url, text("ftp://example.cn"));
        rejects(&url, text("https://"));
    }

    #[test]
    fn integers_are_whole_numbers_in_range() {
        let mut age = definition("patient_age", TicketFieldType::Integer);
        age.min_value = Some(0.0);
        age.max_value = Some(150.0);
        assert!(check(&age, number(42.0)).is_ok());
        assert!(check(&age, number(0.0)).is_ok());
        rejects(&age, number(42.5));
        rejects(&age, number(-1.0));
        rejects(&age, number(151.0));
        rejects(&age, text("42"));
        rejects(&age, number(f64::NAN));
    }

    #[test]
    fn decimals_take_fractions_in_range() {
        let mut mileage = definition("mileage", TicketFieldType::Decimal);
        mileage.max_value = Some(1_000_000.0);
        assert!(check(&mileage, number(12_345.6)).is_ok());
        rejects(&mileage, number(1_000_000.5));
        rejects(&mileage, boolean(true));
    }

    #[test]
    fn booleans_are_bools() {
        let rework = definition("is_rework", TicketFieldType::Boolean);
        assert!(check(&rework, boolean(false)).is_ok());
        rejects(&rework, text("true"));
        rejects(&rework, number(1.0));
    }

    #[test]
    fn dates_and_times_have_their_formats() {
        let date = definition("purchase_date", TicketFieldType::Date);
        assert!(check(&date, text("2026-02-28")).is_ok());
        rejects(&date, text("2026-02-30"));
        rejects(&date, text("2026-2-3"));
        rejects(&date, text("2026-02-28T10:00:00Z"));
        let time = definition("appointment_time", TicketFieldType::DateTime);
        assert!(check(&time, text("2026-12-02T09:30:00+08:00")).is_ok());
        assert!(check(&time, text("2026-12-02T01:30:00Z")).is_ok());
        rejects(&time, text("2026-12-02 09:30"));
        rejects(&time, text("2026-12-02"));
    }

    #[test]
    fn select_values_are_active_options() {
        let mut location = definition("repair_location", TicketFieldType::SingleSelect);
        location.options = vec![option("in-unit", true), option("garage", false)];
        assert!(check(&location, text("in-unit")).is_ok());
        rejects(&location, text("garage"));
        rejects(&location, text("roof"));
        rejects(&location, list(&["in-unit"]));
        let mut reasons = definition("return_reasons", TicketFieldType::MultiSelect);
        reasons.options = vec![
            option("dislike", true),
            option("quality", true),
            option("old", false),
        ];
        assert!(check(&reasons, list(&["dislike", "quality"])).is_ok());
        rejects(&reasons, list(&["dislike", "dislike"]));
        rejects(&reasons, list(&["dislike", "old"]));
        rejects(&reasons, list(&["nope"]));
        rejects(&reasons, text("dislike"));
    }

    #[test]
    fn money_is_a_currency_and_whole_minor_units() {
        let mut charge = definition("repair_charge", TicketFieldType::Money);
        charge.min_value = Some(0.0);
        assert!(check(&charge, money("CNY", 10_000.0)).is_ok());
        rejects(&charge, money("cny", 10_000.0));
        rejects(&charge, money("CNY", 100.5));
        rejects(&charge, money("CNY", -1.0));
        rejects(&charge, number(100.0));
        let Some(Kind::StructValue(mut extra)) = money("CNY", 1.0).kind else {
            unreachable!()
        };
        extra.fields.insert("note".to_owned(), text("x"));
        rejects(
            &charge,
            Value {
                kind: Some(Kind::StructValue(extra)),
            },
        );
    }

    #[test]
    fn unknown_and_inactive_fields_take_no_values() {
        let mut unit = definition("unit_number", TicketFieldType::Text);
        let error = validate(
            std::slice::from_ref(&unit),
            &kind(&[]),
            &one("vin", text("x")),
            When::OnCreate,
        )
        .unwrap_err();
        assert_eq!(
            named(&error),
            (
                "ticket.custom_fields.vin".to_owned(),
                Some("CUSTOM_FIELD_INVALID")
            )
        );
        unit.active = false;
        rejects(&unit, text("3-2-1501"));
        // Null clears a field, even an inactive one.
        assert!(check(&unit, null()).is_ok());
    }

    #[test]
    fn an_unchanged_value_is_not_checked_again() {
        let mut location = definition("repair_location", TicketFieldType::SingleSelect);
        location.options = vec![option("garage", false)];
        let values = one("repair_location", text("garage"));
        assert!(
            validate_change(
                std::slice::from_ref(&location),
                &kind(&[]),
                &values,
                &values,
                When::OnCreate
            )
            .is_ok()
        );
        assert!(
            validate_change(
                std::slice::from_ref(&location),
                &kind(&[]),
                &HashMap::new(),
                &values,
                When::OnCreate
            )
            .is_err()
        );
    }

    #[test]
    fn required_on_create_fields_must_be_filled_on_create() {
        let definitions = vec![
            definition("unit_number", TicketFieldType::Text),
            definition("work_done", TicketFieldType::LongText),
        ];
        let repair = kind(&[
            ("unit_number", TicketFieldRequirement::RequiredOnCreate),
            ("work_done", TicketFieldRequirement::RequiredOnResolve),
        ]);
        let filled = one("unit_number", text("3-2-1501"));
        assert!(validate(&definitions, &repair, &filled, When::OnCreate).is_ok());
        for empty in [
            HashMap::new(),
            one("unit_number", text("  ")),
            one("unit_number", null()),
        ] {
            let error = validate(&definitions, &repair, &empty, When::OnCreate).unwrap_err();
            assert_eq!(
                named(&error),
                (
                    "ticket.custom_fields.unit_number".to_owned(),
                    Some("REQUIRED_FIELD_MISSING")
                )
            );
            assert_eq!(
                error.reason(),
                kefu_kit::error::ErrorReason::InvalidArgument
            );
        }
    }

    #[test]
    fn required_on_resolve_fields_must_be_filled_before_resolving() {
        let definitions = vec![
            definition("unit_number", TicketFieldType::Text),
            definition("work_done", TicketFieldType::LongText),
        ];
        let repair = kind(&[
            ("unit_number", TicketFieldRequirement::RequiredOnCreate),
            ("work_done", TicketFieldRequirement::RequiredOnResolve),
        ]);
        let created = one("unit_number", text("3-2-1501"));
        let error = validate(&definitions, &repair, &created, When::OnResolve).unwrap_err();
        assert!(matches!(error, TicketsError::FailedPrecondition(..)));
        assert_eq!(error.specific_reason(), Some("REQUIRED_FIELD_MISSING"));
        assert!(error.to_string().contains("ticket.custom_fields.work_done"));
        let mut done = created.clone();
        done.insert("work_done".to_owned(), text("replaced the valve"));
        assert!(validate(&definitions, &repair, &done, When::OnResolve).is_ok());
        // Required on create is required on resolve too.
        done.remove("unit_number");
        let error = validate(&definitions, &repair, &done, When::OnResolve).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("ticket.custom_fields.unit_number")
        );
        // Optional fields and OPTIONAL-unspecified ones never are.
        let optional = kind(&[
            ("unit_number", TicketFieldRequirement::Optional),
            ("work_done", TicketFieldRequirement::Unspecified),
        ]);
        assert!(validate(&definitions, &optional, &HashMap::new(), When::OnResolve).is_ok());
        assert!(validate(&definitions, &optional, &HashMap::new(), When::OnCreate).is_ok());
    }

    #[test]
    fn more_than_a_hundred_entries_are_refused() {
        let definitions: Vec<_> = (0..101)
            .map(|n| definition(&format!("f{n}"), TicketFieldType::Text))
            .collect();
        let values: HashMap<String, Value> =
            (0..101).map(|n| (format!("f{n}"), text("x"))).collect();
        let error = validate(&definitions, &kind(&[]), &values, When::OnCreate).unwrap_err();
        assert_eq!(
            named(&error),
            (
                "ticket.custom_fields".to_owned(),
                Some("CUSTOM_FIELD_INVALID")
            )
        );
    }
}
