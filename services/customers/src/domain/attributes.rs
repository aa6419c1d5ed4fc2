//! Custom attributes (自定义字段): the tenant's schema checked when an
//! admin replaces it, and customers' values checked against it.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use kefu_proto::v1::{
    AttributeType, CustomerAttributeDefinition, CustomerAttributeSchema, LocalizedText,
};
use prost_types::{Struct, value::Kind};

use crate::error::{CustomersError, Result};

/// Attributes a schema may define.
pub const MAX_ATTRIBUTES: usize = 100;
/// Options an ENUM attribute may have.
pub const MAX_OPTIONS: usize = 200;
/// The default and the largest `max_length` of a STRING attribute.
pub const DEFAULT_MAX_LENGTH: usize = 500;
const LARGEST_MAX_LENGTH: i32 = 5000;
/// Locales labels may be given in.
const LOCALES: &[&str] = &["zh-CN", "en"];

/// `[a-z][a-z0-9_]{0,49}`.
pub fn is_attribute_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && key.len() <= 50
        && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
}

/// `[a-z0-9_-]{1,50}`.
fn is_option_key(key: &str) -> bool {
    (1..=50).contains(&key.len())
        && key.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
        })
}

fn check_localized(
    field: &str,
    text: Option<&LocalizedText>,
    required: bool,
    max: usize,
) -> Result<()> {
    let values = text.map(|text| &text.values);
    if required && values.is_none_or(|values| values.values().all(|value| value.trim().is_empty()))
    {
        return Err(CustomersError::invalid(
            field,
            format!("{field} is required in at least one locale (zh-CN or en)"),
        ));
    }
    for (locale, value) in values.into_iter().flatten() {
        if !LOCALES.contains(&locale.as_str()) {
            return Err(CustomersError::invalid(
                field,
                format!("{field}: locale {locale:?} is not supported; use zh-CN or en"),
            ));
        }
        if value.chars().count() > max {
            return Err(CustomersError::invalid(
                field,
                format!("{field} is longer than {max} characters in {locale}"),
            ));
        }
    }
    Ok(())
}

/// Checks a whole new schema; errors name the field under `schema`.
pub fn check_schema(schema: &CustomerAttributeSchema) -> Result<()> {
    if schema.attributes.len() > MAX_ATTRIBUTES {
        return Err(CustomersError::invalid(
            "schema.attributes",
            format!("a schema defines at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    let mut keys = HashMap::new();
    for (index, definition) in schema.attributes.iter().enumerate() {
        let field = |name: &str| format!("schema.attributes[{index}].{name}");
        if !is_attribute_key(&definition.key) {
            return Err(CustomersError::invalid(
                &field("key"),
                format!(
                    "{} must match [a-z][a-z0-9_]{{0,49}}, not {:?}",
                    field("key"),
                    definition.key
                ),
            ));
        }
        if let Some(first) = keys.insert(definition.key.as_str(), index) {
            return Err(CustomersError::invalid(
                &field("key"),
                format!(
                    "{} repeats the key {:?} of schema.attributes[{first}]",
                    field("key"),
                    definition.key
                ),
            ));
        }
        check_localized(&field("label"), definition.label.as_ref(), true, 100)?;
        check_localized(
            &field("description"),
            definition.description.as_ref(),
            false,
            1000,
        )?;
        let kind = AttributeType::try_from(definition.r#type).unwrap_or(AttributeType::Unspecified);
        if kind == AttributeType::Unspecified {
            return Err(CustomersError::invalid(
                &field("type"),
                format!(
                    "{} is required: STRING, NUMBER, BOOL, DATE or ENUM",
                    field("type")
                ),
            ));
        }
        if !(0..=LARGEST_MAX_LENGTH).contains(&definition.max_length) {
            return Err(CustomersError::invalid(
                &field("max_length"),
                format!(
                    "{} must be 1 to {LARGEST_MAX_LENGTH} (0 means {DEFAULT_MAX_LENGTH})",
                    field("max_length")
                ),
            ));
        }
        if kind == AttributeType::Enum {
            if !(1..=MAX_OPTIONS).contains(&definition.options.len()) {
                return Err(CustomersError::invalid(
                    &field("options"),
                    format!(
                        "{} must list 1 to {MAX_OPTIONS} options for an ENUM",
                        field("options")
                    ),
                ));
            }
            let mut seen = HashSet::new();
            for (position, option) in definition.options.iter().enumerate() {
                let name = field(&format!("options[{position}].key"));
                if !is_option_key(&option.key) {
                    return Err(CustomersError::invalid(
                        &name,
                        format!("{name} must match [a-z0-9_-]{{1,50}}, not {:?}", option.key),
                    ));
                }
                if !seen.insert(option.key.as_str()) {
                    return Err(CustomersError::invalid(
                        &name,
                        format!("{name} repeats the option {:?}", option.key),
                    ));
                }
                check_localized(
                    &field(&format!("options[{position}].label")),
                    option.label.as_ref(),
                    false,
                    100,
                )?;
            }
        } else if !definition.options.is_empty() {
            return Err(CustomersError::invalid(
                &field("options"),
                format!("{} is only for ENUM attributes", field("options")),
            ));
        }
    }
    Ok(())
}

/// What is wrong with one attribute value of a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeProblem {
    /// The attribute's key.
    pub key: String,
    /// Why, after the field name.
    pub message: String,
}

/// The first problem of `attributes` against `definitions`: an unknown key,
/// a value of the wrong type, not an option, not a `YYYY-MM-DD` date, too
/// long, or (with `require`) a required key missing. A JSON null counts as
/// absent.
pub fn check_values(
    definitions: &[CustomerAttributeDefinition],
    attributes: Option<&Struct>,
    require: bool,
) -> Option<AttributeProblem> {
    let by_key: HashMap<&str, &CustomerAttributeDefinition> = definitions
        .iter()
        .map(|definition| (definition.key.as_str(), definition))
        .collect();
    let empty = Struct::default();
    let attributes = attributes.unwrap_or(&empty);
    let problem = |key: &str, message: String| {
        Some(AttributeProblem {
            key: key.to_owned(),
            message,
        })
    };
    let mut keys: Vec<&String> = attributes.fields.keys().collect();
    keys.sort();
    for key in keys {
        let Some(value) = attributes.fields[key]
            .kind
            .as_ref()
            .filter(|kind| !matches!(kind, Kind::NullValue(_)))
        else {
            continue;
        };
        let Some(definition) = by_key.get(key.as_str()) else {
            return problem(key, "is not an attribute of the tenant's schema".into());
        };
        let kind = AttributeType::try_from(definition.r#type).unwrap_or(AttributeType::Unspecified);
        match (kind, value) {
            (AttributeType::String, Kind::StringValue(text)) => {
                let max = match definition.max_length {
                    0 => DEFAULT_MAX_LENGTH,
                    max => usize::try_from(max).unwrap_or(DEFAULT_MAX_LENGTH),
                };
                if text.chars().count() > max {
                    return problem(key, format!("is longer than {max} characters"));
                }
            }
            (AttributeType::Number, Kind::NumberValue(number)) if number.is_finite() => {}
            (AttributeType::Bool, Kind::BoolValue(_)) => {}
            (AttributeType::Date, Kind::StringValue(text)) => {
                if text.len() != 10 || NaiveDate::parse_from_str(text, "%Y-%m-%d").is_err() {
                    return problem(key, format!("must be a YYYY-MM-DD date, not {text:?}"));
                }
            }
            (AttributeType::Enum, Kind::StringValue(text)) => {
                if !definition.options.iter().any(|option| option.key == *text) {
                    let options: Vec<&str> = definition
                        .options
                        .iter()
                        .map(|option| option.key.as_str())
                        .collect();
                    return problem(
                        key,
                        format!("{text:?} is not an option; options: {}", options.join(", ")),
                    );
                }
            }
            _ => {
                let wanted = match kind {
                    AttributeType::String => "a string",
                    AttributeType::Number => "a number",
                    AttributeType::Bool => "true or false",
                    AttributeType::Date => "a YYYY-MM-DD date string",
                    AttributeType::Enum => "an option key (string)",
                    AttributeType::Unspecified => "of a defined type",
                };
                return problem(key, format!("must be {wanted}"));
            }
        }
    }
    if require {
        for definition in definitions.iter().filter(|definition| definition.required) {
            let present = attributes
                .fields
                .get(&definition.key)
                .and_then(|value| value.kind.as_ref())
                .is_some_and(|kind| match kind {
                    Kind::NullValue(_) => false,
                    Kind::StringValue(text) => !text.trim().is_empty(),
                    _ => true,
                });
            if !present {
                return problem(&definition.key, "is required".into());
            }
        }
    }
    None
}

/// The problem as INVALID_ARGUMENT `ATTRIBUTE_INVALID` naming
/// `{prefix}.attributes.<key>`.
pub fn problem_error(problem: &AttributeProblem, prefix: &str) -> CustomersError {
    let field = format!("{prefix}.attributes.{}", problem.key);
    CustomersError::invalid_because(
        &field,
        format!("{field} {}", problem.message),
        "ATTRIBUTE_INVALID",
    )
}

/// The schema's keys and their types (for filters).
pub fn types(definitions: &[CustomerAttributeDefinition]) -> HashMap<String, AttributeType> {
    definitions
        .iter()
        .map(|definition| {
            (
                definition.key.clone(),
                AttributeType::try_from(definition.r#type).unwrap_or(AttributeType::Unspecified),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::CustomerAttributeOption;
    use prost_types::Value;

    use super::*;

    fn label(text: &str) -> Option<LocalizedText> {
        Some(LocalizedText {
            values: [("zh-CN".to_owned(), text.to_owned())].into(),
        })
    }

    fn definition(key: &str, kind: AttributeType) -> CustomerAttributeDefinition {
        CustomerAttributeDefinition {
            key: key.into(),
            label: label(key),
            r#type: kind as i32,
            ..CustomerAttributeDefinition::default()
        }
    }

    fn schema() -> Vec<CustomerAttributeDefinition> {
        vec![
            CustomerAttributeDefinition {
                options: vec![
                    CustomerAttributeOption {
                        key: "villa".into(),
                        label: label("别墅"),
                    },
                    CustomerAttributeOption {
                        key: "flat".into(),
                        label: label("公寓"),
                    },
                ],
                required: true,
                ..definition("house_type", AttributeType::Enum)
            },
            CustomerAttributeDefinition {
                max_length: 5,
                ..definition("nickname", AttributeType::String)
            },
            definition("floor_area", AttributeType::Number),
            definition("handover", AttributeType::Date),
            definition("pets", AttributeType::Bool),
        ]
    }

    fn values(pairs: &[(&str, Kind)]) -> Struct {
        Struct {
            fields: pairs
                .iter()
                .map(|(key, kind)| {
                    (
                        (*key).to_owned(),
                        Value {
                            kind: Some(kind.clone()),
                        },
                    )
                })
                .collect(),
        }
    }

    fn text(value: &str) -> Kind {
        Kind::StringValue(value.into())
    }

    #[test]
    fn values_of_the_defined_types_fit() {
        let good = values(&[
            ("house_type", text("villa")),
            ("nickname", text("老张")),
            ("floor_area", Kind::NumberValue(120.5)),
            ("handover", text("2024-02-29")),
            ("pets", Kind::BoolValue(true)),
            ("nickname", Kind::NullValue(0)),
        ]);
        assert_eq!(check_values(&schema(), Some(&good), true), None);
    }

    #[test]
    fn each_kind_of_misfit_names_its_key() {
        for (pairs, key, hint) in [
            (vec![("colour", text("red"))], "colour", "not an attribute"),
            (
                vec![("floor_area", text("120"))],
                "floor_area",
                "must be a number",
            ),
            (vec![("pets", text("yes"))], "pets", "true or false"),
            (
                vec![("handover", text("2024-02-30"))],
                "handover",
                "YYYY-MM-DD",
            ),
            (
                vec![("handover", text("2024-2-3"))],
                "handover",
                "YYYY-MM-DD",
            ),
            (
                vec![("house_type", text("castle"))],
                "house_type",
                "not an option",
            ),
            (
                vec![
                    ("house_type", text("villa")),
                    ("nickname", text("张三丰大师傅")),
                ],
                "nickname",
                "longer than 5",
            ),
        ] {
            let attributes = values(&pairs);
            let problem = check_values(&schema(), Some(&attributes), false).expect(hint);
            assert_eq!(problem.key, key);
            assert!(problem.message.contains(hint), "{problem:?}");
        }
    }

    #[test]
    fn required_keys_are_checked_only_when_asked() {
        let without = values(&[("pets", Kind::BoolValue(false))]);
        assert_eq!(check_values(&schema(), Some(&without), false), None);
        let problem = check_values(&schema(), Some(&without), true).expect("missing");
        assert_eq!(problem.key, "house_type");
        let blank = values(&[("house_type", text(" "))]);
        assert!(check_values(&schema(), Some(&blank), true).is_some());
        let error = problem_error(&problem, "customer");
        assert!(matches!(
            &error,
            CustomersError::Invalid(violation, Some("ATTRIBUTE_INVALID"))
                if violation.field == "customer.attributes.house_type"
        ));
    }

    #[test]
    fn schemas_are_checked_whole() {
        let good = CustomerAttributeSchema {
            attributes: schema(),
            ..CustomerAttributeSchema::default()
        };
        check_schema(&good).expect("valid");
        let broken = |change: &dyn Fn(&mut Vec<CustomerAttributeDefinition>)| {
            let mut attributes = schema();
            change(&mut attributes);
            match check_schema(&CustomerAttributeSchema {
                attributes,
                ..CustomerAttributeSchema::default()
            }) {
                Err(CustomersError::Invalid(violation, _)) => violation.field,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            broken(&|a| a[1].key = "Nick".into()),
            "schema.attributes[1].key"
        );
        assert_eq!(
            broken(&|a| a[2].key = "house_type".into()),
            "schema.attributes[2].key"
        );
        assert_eq!(broken(&|a| a[0].label = None), "schema.attributes[0].label");
        assert_eq!(broken(&|a| a[3].r#type = 0), "schema.attributes[3].type");
        assert_eq!(
            broken(&|a| a[0].options.clear()),
            "schema.attributes[0].options"
        );
        assert_eq!(
            broken(&|a| a[0].options[1].key = "Flat!".into()),
            "schema.attributes[0].options[1].key"
        );
        assert_eq!(
            broken(&|a| a[0].options[1].key = "villa".into()),
            "schema.attributes[0].options[1].key"
        );
        assert_eq!(
            broken(&|a| a[1].max_length = 5001),
            "schema.attributes[1].max_length"
        );
        assert_eq!(
            broken(&|a| a[2].options = a[0].options.clone()),
            "schema.attributes[2].options"
        );
        assert_eq!(
            broken(&|a| {
                *a = (0..101)
                    .map(|i| definition(&format!("k{i}"), AttributeType::Bool))
                    .collect()
            }),
            "schema.attributes"
        );
        assert!(is_attribute_key("a"));
        assert!(!is_attribute_key(&"a".repeat(51)));
        assert!(!is_attribute_key("1a"));
    }
}
