//! The rules of the tenant's ticket taxonomy: kinds (工单类型), the category
//! tree (分类, at most five levels; a child may only narrow the kinds its
//! parent allows) and custom-field definitions (自定义字段). Pure checks of
//! the resources; whether a reference exists is the caller's (it reads the
//! store).

use std::collections::{HashMap, HashSet};

use kefu_proto::v1::{
    LocalizedText, TicketBaseKind, TicketCategory, TicketFieldDefinition, TicketFieldType,
    TicketKind, TicketRouting,
};

use crate::{
    domain::custom_fields::full_match,
    error::{Result, TicketsError},
};

/// The collection of kind names (`ticketKinds/{kind}`).
pub const KINDS: &str = "ticketKinds";
/// The collection of category names (`ticketCategories/{category}`).
pub const CATEGORIES: &str = "ticketCategories";
/// The collection of field definition names
/// (`ticketFieldDefinitions/{field}`).
pub const FIELD_DEFINITIONS: &str = "ticketFieldDefinitions";

/// The deepest a category tree goes.
pub const MAX_DEPTH: usize = 5;
/// The most fields on a kind's form.
pub const MAX_KIND_FIELDS: usize = 100;
/// The most options of a select field.
pub const MAX_OPTIONS: usize = 500;
/// The most skills a routing requires.
pub const MAX_SKILLS: usize = 20;
/// The longest text value a field may allow.
pub const MAX_TEXT_LENGTH: i32 = 32_000;
/// The longest pattern.
pub const MAX_PATTERN: usize = 500;
/// The longest label per locale.
const MAX_LABEL: usize = 100;
/// The longest description per locale.
const MAX_DESCRIPTION: usize = 1_000;
/// The longest key.
const MAX_KEY: usize = 63;
/// The locales every label carries.
const LOCALES: [&str; 2] = ["zh-CN", "en"];

/// A kind or category key: lower-case letters, digits and hyphens, starting
/// with a letter, at most 63 characters (`repair-plumbing`).
pub fn is_key(key: &str) -> bool {
    key.len() <= MAX_KEY
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A field key: lower-case letters, digits and underscores, starting with a
/// letter, at most 63 characters (`order_no`).
pub fn is_field_key(key: &str) -> bool {
    key.len() <= MAX_KEY
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An option value: lower-case letters, digits, hyphens and underscores,
/// 1 to 63 characters.
pub fn is_option_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_KEY
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The key in `{collection}/{key}`, if `name` is one.
pub fn key_of<'a>(name: &'a str, collection: &str) -> Option<&'a str> {
    name.strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|key| !key.is_empty() && !key.contains('/'))
}

/// Labels: zh-CN and en at least, none empty or over 100 characters.
pub fn check_labels(field: &str, labels: Option<&LocalizedText>) -> Result<()> {
    let values = labels.map(|labels| &labels.values);
    for locale in LOCALES {
        if values
            .and_then(|values| values.get(locale))
            .is_none_or(|text| text.trim().is_empty())
        {
            return Err(TicketsError::invalid(
                field,
                format!("{field} needs a {locale} label"),
            ));
        }
    }
    check_texts(field, labels, MAX_LABEL)
}

/// Every text of `text` at most `limit` characters.
pub fn check_texts(field: &str, text: Option<&LocalizedText>, limit: usize) -> Result<()> {
    for (locale, value) in text.iter().flat_map(|text| text.values.iter()) {
        if value.chars().count() > limit {
            return Err(TicketsError::invalid(
                field,
                format!("{field} in {locale} is longer than {limit} characters"),
            ));
        }
    }
    Ok(())
}

fn check_routing(field: &str, routing: Option<&TicketRouting>) -> Result<()> {
    let Some(routing) = routing else {
        return Ok(());
    };
    for (name, team) in [
        ("front_line_team", &routing.front_line_team),
        ("specialist_team", &routing.specialist_team),
        ("management_team", &routing.management_team),
    ] {
        if !team.is_empty() && key_of(team, "teams").is_none() {
            return Err(TicketsError::invalid(
                &format!("{field}.{name}"),
                format!("{field}.{name} must be teams/{{team}}"),
            ));
        }
    }
    if routing.required_skills.len() > MAX_SKILLS {
        return Err(TicketsError::invalid(
            &format!("{field}.required_skills"),
            format!("at most {MAX_SKILLS} required skills"),
        ));
    }
    Ok(())
}

/// A kind as written by its admin (its references aside): key, labels,
/// base kind, texts, form size and shape, routing shape. Applies the
/// defaults of an unset default priority and requirement.
pub fn check_kind(kind: &mut TicketKind) -> Result<()> {
    if !is_key(&kind.key) {
        return Err(TicketsError::invalid(
            "ticket_kind.key",
            "ticket_kind.key is required: lower-case letters, digits and hyphens, starting with a letter, at most 63 characters",
        ));
    }
    check_labels("ticket_kind.labels", kind.labels.as_ref())?;
    check_texts(
        "ticket_kind.description",
        kind.description.as_ref(),
        MAX_DESCRIPTION,
    )?;
    match TicketBaseKind::try_from(kind.base_kind) {
        Ok(TicketBaseKind::Unspecified) | Err(_) => {
            return Err(TicketsError::invalid(
                "ticket_kind.base_kind",
                "ticket_kind.base_kind is required",
            ));
        }
        Ok(_) => {}
    }
    if kefu_proto::v1::Priority::try_from(kind.default_priority).is_err() {
        return Err(TicketsError::invalid(
            "ticket_kind.default_priority",
            "ticket_kind.default_priority is not a priority",
        ));
    }
    if kind.default_priority == kefu_proto::v1::Priority::Unspecified as i32 {
        kind.default_priority = kefu_proto::v1::Priority::Normal as i32;
    }
    if kefu_proto::v1::TriageClass::try_from(kind.default_triage_class).is_err() {
        return Err(TicketsError::invalid(
            "ticket_kind.default_triage_class",
            "ticket_kind.default_triage_class is not a triage class",
        ));
    }
    if kind.fields.len() > MAX_KIND_FIELDS {
        return Err(TicketsError::invalid(
            "ticket_kind.fields",
            format!("a kind's form has at most {MAX_KIND_FIELDS} fields"),
        ));
    }
    let mut seen = HashSet::new();
    for (index, field) in kind.fields.iter_mut().enumerate() {
        let path = format!("ticket_kind.fields[{index}].field_definition");
        if key_of(&field.field_definition, FIELD_DEFINITIONS).is_none() {
            return Err(TicketsError::invalid(
                &path,
                format!("{path} must be ticketFieldDefinitions/{{field}}"),
            ));
        }
        if !seen.insert(field.field_definition.clone()) {
            return Err(TicketsError::invalid(
                &path,
                format!("{} is on the form twice", field.field_definition),
            ));
        }
        match kefu_proto::v1::TicketFieldRequirement::try_from(field.requirement) {
            Ok(kefu_proto::v1::TicketFieldRequirement::Unspecified) => {
                field.requirement = kefu_proto::v1::TicketFieldRequirement::Optional as i32;
            }
            Ok(_) => {}
            Err(_) => {
                return Err(TicketsError::invalid(
                    &format!("ticket_kind.fields[{index}].requirement"),
                    "not a requirement",
                ));
            }
        }
    }
    if !kind.sla_policy.is_empty() && key_of(&kind.sla_policy, "slaPolicies").is_none() {
        return Err(TicketsError::invalid(
            "ticket_kind.sla_policy",
            "ticket_kind.sla_policy must be slaPolicies/{sla_policy}",
        ));
    }
    check_routing("ticket_kind.routing", kind.routing.as_ref())
}

/// A field definition as written by its admin: key, type, labels, texts,
/// options only and always for select types, length, pattern and range
/// only where the type uses them.
pub fn check_field_definition(field: &TicketFieldDefinition) -> Result<()> {
    if !is_field_key(&field.key) {
        return Err(TicketsError::invalid(
            "ticket_field_definition.key",
            "ticket_field_definition.key is required: lower-case letters, digits and underscores, starting with a letter, at most 63 characters",
        ));
    }
    let field_type = match TicketFieldType::try_from(field.r#type) {
        Ok(TicketFieldType::Unspecified) | Err(_) => {
            return Err(TicketsError::invalid(
                "ticket_field_definition.type",
                "ticket_field_definition.type is required",
            ));
        }
        Ok(field_type) => field_type,
    };
    check_labels("ticket_field_definition.labels", field.labels.as_ref())?;
    check_texts(
        "ticket_field_definition.description",
        field.description.as_ref(),
        MAX_DESCRIPTION,
    )?;
    let select = matches!(
        field_type,
        TicketFieldType::SingleSelect | TicketFieldType::MultiSelect
    );
    if select && field.options.is_empty() {
        return Err(TicketsError::invalid(
            "ticket_field_definition.options",
            "a select field needs at least one option",
        ));
    }
    if !select && !field.options.is_empty() {
        return Err(TicketsError::invalid(
            "ticket_field_definition.options",
            "only select fields have options",
        ));
    }
    if field.options.len() > MAX_OPTIONS {
        return Err(TicketsError::invalid(
            "ticket_field_definition.options",
            format!("at most {MAX_OPTIONS} options"),
        ));
    }
    let mut values = HashSet::new();
    for (index, option) in field.options.iter().enumerate() {
        let path = format!("ticket_field_definition.options[{index}]");
        if !is_option_value(&option.value) {
            return Err(TicketsError::invalid(
                &format!("{path}.value"),
                "an option value is 1 to 63 lower-case letters, digits, hyphens and underscores",
            ));
        }
        if !values.insert(option.value.as_str()) {
            return Err(TicketsError::invalid(
                &format!("{path}.value"),
                format!("option {:?} is listed twice", option.value),
            ));
        }
        check_labels(&format!("{path}.labels"), option.labels.as_ref())?;
    }
    let text = matches!(
        field_type,
        TicketFieldType::Text
            | TicketFieldType::LongText
            | TicketFieldType::Phone
            | TicketFieldType::Email
            | TicketFieldType::Url
    );
    if field.max_length < 0
        || field.max_length > MAX_TEXT_LENGTH
        || (!text && field.max_length != 0)
    {
        return Err(TicketsError::invalid(
            "ticket_field_definition.max_length",
            format!("max_length is 1 to {MAX_TEXT_LENGTH} for a text field, unset otherwise"),
        ));
    }
    if !field.pattern.is_empty() {
        if !text {
            return Err(TicketsError::invalid(
                "ticket_field_definition.pattern",
                "only text, phone, e-mail and URL fields have a pattern",
            ));
        }
        if field.pattern.chars().count() > MAX_PATTERN {
            return Err(TicketsError::invalid(
                "ticket_field_definition.pattern",
                format!("a pattern is at most {MAX_PATTERN} characters"),
            ));
        }
        if let Err(error) = full_match(&field.pattern) {
            return Err(TicketsError::invalid(
                "ticket_field_definition.pattern",
                format!("the pattern does not compile: {error}"),
            ));
        }
    }
    let ranged = matches!(
        field_type,
        TicketFieldType::Integer | TicketFieldType::Decimal | TicketFieldType::Money
    );
    for (name, bound) in [
        ("min_value", field.min_value),
        ("max_value", field.max_value),
    ] {
        if let Some(bound) = bound
            && (!ranged || !bound.is_finite())
        {
            return Err(TicketsError::invalid(
                &format!("ticket_field_definition.{name}"),
                format!("{name} is a finite number, for integer, decimal and money fields only"),
            ));
        }
    }
    if let (Some(min), Some(max)) = (field.min_value, field.max_value)
        && min > max
    {
        return Err(TicketsError::invalid(
            "ticket_field_definition.min_value",
            "min_value is above max_value",
        ));
    }
    Ok(())
}

/// Options may be added, relabelled or deactivated, never removed: stored
/// values keep their meaning.
pub fn check_options_kept(
    before: &TicketFieldDefinition,
    after: &TicketFieldDefinition,
) -> Result<()> {
    for option in &before.options {
        if !after.options.iter().any(|kept| kept.value == option.value) {
            return Err(TicketsError::invalid(
                "ticket_field_definition.options",
                format!(
                    "option {:?} cannot be removed (stored values use it): deactivate it instead",
                    option.value
                ),
            ));
        }
    }
    Ok(())
}

/// A category as written by its admin (its references and place in the
/// tree aside): key, labels, texts, kinds' shape, routing shape.
pub fn check_category(category: &TicketCategory) -> Result<()> {
    if !is_key(&category.key) {
        return Err(TicketsError::invalid(
            "ticket_category.key",
            "ticket_category.key is required: lower-case letters, digits and hyphens, starting with a letter, at most 63 characters",
        ));
    }
    check_labels("ticket_category.labels", category.labels.as_ref())?;
    check_texts(
        "ticket_category.description",
        category.description.as_ref(),
        MAX_DESCRIPTION,
    )?;
    if !category.parent.is_empty() && key_of(&category.parent, CATEGORIES).is_none() {
        return Err(TicketsError::invalid(
            "ticket_category.parent",
            "ticket_category.parent must be ticketCategories/{category}",
        ));
    }
    let mut seen = HashSet::new();
    for (index, kind) in category.kinds.iter().enumerate() {
        let path = format!("ticket_category.kinds[{index}]");
        if key_of(kind, KINDS).is_none() {
            return Err(TicketsError::invalid(
                &path,
                format!("{path} must be ticketKinds/{{kind}}"),
            ));
        }
        if !seen.insert(kind.as_str()) {
            return Err(TicketsError::invalid(
                &path,
                format!("{kind} is listed twice"),
            ));
        }
    }
    check_routing("ticket_category.routing", category.routing.as_ref())
}

/// The tenant's categories by name, for walking the tree.
pub fn by_name(all: &[TicketCategory]) -> HashMap<&str, &TicketCategory> {
    all.iter()
        .map(|category| (category.name.as_str(), category))
        .collect()
}

/// The categories from the root down to `name` (itself last); empty when
/// it does not exist. Stops at a broken link rather than loop.
pub fn chain<'a>(all: &HashMap<&str, &'a TicketCategory>, name: &str) -> Vec<&'a TicketCategory> {
    let mut chain = Vec::new();
    let mut next = name;
    while let Some(category) = all.get(next) {
        if chain.len() > MAX_DEPTH * 2
            || chain
                .iter()
                .any(|seen: &&TicketCategory| seen.name == category.name)
        {
            break;
        }
        chain.push(*category);
        if category.parent.is_empty() {
            break;
        }
        next = category.parent.as_str();
    }
    chain.reverse();
    chain
}

/// The kinds a category allows, narrowed down its chain: the nearest
/// non-empty list from the category up; empty means every kind.
pub fn allowed_kinds<'a>(chain: &[&'a TicketCategory]) -> &'a [String] {
    chain
        .iter()
        .rev()
        .find(|category| !category.kinds.is_empty())
        .map(|category| category.kinds.as_slice())
        .unwrap_or_default()
}

/// Whether a category with `chain` may be used with `kind`: every category
/// of the chain active, and the kind allowed.
pub fn allows(chain: &[&TicketCategory], kind: &str) -> bool {
    let allowed = allowed_kinds(chain);
    chain.iter().all(|category| category.active)
        && (allowed.is_empty() || allowed.iter().any(|name| name == kind))
}

/// The category `name` for a ticket of `kind`, or the error naming `field`:
/// unknown (`UNKNOWN_REFERENCE`), or inactive or not allowed for the kind
/// (`CATEGORY_KIND_MISMATCH`).
pub fn check_category_for_kind<'a>(
    all: &'a [TicketCategory],
    name: &str,
    kind: &str,
    field: &str,
) -> Result<&'a TicketCategory> {
    let index = by_name(all);
    let chain = chain(&index, name);
    let Some(category) = chain.last() else {
        return Err(TicketsError::invalid_because(
            field,
            format!("{field} {name:?} is not a ticket category of the tenant"),
            "UNKNOWN_REFERENCE",
        ));
    };
    if !chain.iter().all(|category| category.active) {
        return Err(TicketsError::invalid_because(
            field,
            format!("{name} (or a category above it) is inactive: new tickets cannot use it"),
            "CATEGORY_KIND_MISMATCH",
        ));
    }
    if !allows(&chain, kind) {
        return Err(TicketsError::invalid_because(
            field,
            format!("{name} is not allowed for {kind}"),
            "CATEGORY_KIND_MISMATCH",
        ));
    }
    // The chain borrows from `all` through the index.
    all.iter()
        .find(|found| found.name == category.name)
        .ok_or_else(|| TicketsError::Internal(format!("{name} vanished from its own list")))
}

/// The routing of a ticket of `kind` in the category `chain`: the nearest
/// category's non-empty team or skill list wins over the kind's.
pub fn routing(kind: &TicketKind, chain: &[&TicketCategory]) -> TicketRouting {
    let mut routing = kind.routing.clone().unwrap_or_default();
    for category in chain {
        let Some(over) = &category.routing else {
            continue;
        };
        if !over.front_line_team.is_empty() {
            routing.front_line_team.clone_from(&over.front_line_team);
        }
        if !over.specialist_team.is_empty() {
            routing.specialist_team.clone_from(&over.specialist_team);
        }
        if !over.management_team.is_empty() {
            routing.management_team.clone_from(&over.management_team);
        }
        if !over.required_skills.is_empty() {
            routing.required_skills.clone_from(&over.required_skills);
        }
    }
    routing
}

/// The height of the subtree under `name` (1: no children).
pub fn subtree_height(all: &[TicketCategory], name: &str) -> usize {
    let children: Vec<&TicketCategory> = all
        .iter()
        .filter(|category| category.parent == name)
        .collect();
    1 + children
        .iter()
        .map(|child| subtree_height(all, &child.name))
        .max()
        .unwrap_or(0)
}

/// The names under `name`, children before grandchildren.
pub fn descendants<'a>(all: &'a [TicketCategory], name: &str) -> Vec<&'a TicketCategory> {
    let mut found: Vec<&TicketCategory> = Vec::new();
    let mut frontier = vec![name.to_owned()];
    while let Some(parent) = frontier.pop() {
        for child in all.iter().filter(|category| category.parent == parent) {
            if found.iter().any(|seen| seen.name == child.name) || child.name == name {
                continue;
            }
            found.push(child);
            frontier.push(child.name.clone());
        }
    }
    found
}

/// Where `category` may sit with `parent` (None: a root) in the tree of
/// `all` (which may hold `category`'s previous version): the parent must
/// not be itself or below it (a cycle), the tree below it must stay within
/// five levels, its kinds must narrow the parent's, and the kinds listed
/// below it must narrow its own. Answers its path, root first.
pub fn place(
    all: &[TicketCategory],
    category: &TicketCategory,
    parent: Option<&TicketCategory>,
) -> Result<Vec<String>> {
    let index = by_name(all);
    let parent_chain = match parent {
        Some(parent) => chain(&index, &parent.name),
        None => Vec::new(),
    };
    if parent_chain.iter().any(|above| above.name == category.name) {
        return Err(TicketsError::invalid(
            "ticket_category.parent",
            format!(
                "{} cannot move under itself or its own subtree",
                category.name
            ),
        ));
    }
    let height = if category.name.is_empty() {
        1
    } else {
        subtree_height(all, &category.name)
    };
    if parent_chain.len() + height > MAX_DEPTH {
        return Err(TicketsError::invalid(
            "ticket_category.parent",
            format!("the category tree is at most {MAX_DEPTH} levels deep"),
        ));
    }
    let above = allowed_kinds(&parent_chain);
    if !above.is_empty() {
        for (index, kind) in category.kinds.iter().enumerate() {
            if !above.contains(kind) {
                let path = format!("ticket_category.kinds[{index}]");
                return Err(TicketsError::invalid(
                    &path,
                    format!(
                        "{kind} is not allowed by the parent: children may only narrow their parent's kinds"
                    ),
                ));
            }
        }
    }
    let own: &[String] = if category.kinds.is_empty() {
        above
    } else {
        &category.kinds
    };
    if !own.is_empty() && !category.name.is_empty() {
        for below in descendants(all, &category.name) {
            if let Some(kind) = below.kinds.iter().find(|kind| !own.contains(kind)) {
                return Err(TicketsError::invalid(
                    "ticket_category.kinds",
                    format!(
                        "{} below allows {kind}, which this category would not: children may only narrow their parent's kinds",
                        below.name
                    ),
                ));
            }
        }
    }
    let mut path: Vec<String> = parent_chain.iter().map(|above| above.key.clone()).collect();
    path.push(category.key.clone());
    Ok(path)
}

#[cfg(test)]
mod tests {
    use kefu_kit::error::ServiceError;
    use kefu_proto::v1::{TicketFieldOption, TicketKindField};

    use super::*;

    fn labels(zh: &str, en: &str) -> Option<LocalizedText> {
        Some(LocalizedText {
            values: [
                ("zh-CN".to_owned(), zh.to_owned()),
                ("en".to_owned(), en.to_owned()),
            ]
            .into_iter()
            .collect(),
        })
    }

    fn category(key: &str, parent: &str, kinds: &[&str]) -> TicketCategory {
        TicketCategory {
            name: format!("ticketCategories/{key}"),
            key: key.to_owned(),
            parent: if parent.is_empty() {
                String::new()
            } else {
                format!("ticketCategories/{parent}")
            },
            labels: labels("水暖", "Plumbing"),
            kinds: kinds
                .iter()
                .map(|kind| format!("ticketKinds/{kind}"))
                .collect(),
            active: true,
            ..Default::default()
        }
    }

    fn field(error: &TicketsError) -> String {
        error
            .field_violations()
            .first()
            .map(|violation| violation.field.clone())
            .unwrap_or_default()
    }

    /// repair › plumbing › leak › pipe; inquiry.
    fn tree() -> Vec<TicketCategory> {
        vec![
            category("repair", "", &["repair", "complaint"]),
            category("plumbing", "repair", &["repair"]),
            category("leak", "plumbing", &[]),
            category("pipe", "leak", &[]),
            category("inquiry", "", &[]),
        ]
    }

    #[test]
    fn keys_have_their_alphabets() {
        assert!(is_key("repair-plumbing"));
        assert!(!is_key("Repair"));
        assert!(!is_key("1repair"));
        assert!(!is_key("repair_plumbing"));
        assert!(!is_key(&"a".repeat(64)));
        assert!(is_field_key("order_no"));
        assert!(!is_field_key("order-no"));
        assert!(is_option_value("in-unit"));
        assert!(is_option_value("customer_caused"));
        assert!(!is_option_value(""));
    }

    #[test]
    fn a_category_is_allowed_for_the_kinds_its_nearest_list_names() {
        let all = tree();
        let index = by_name(&all);
        let pipe = chain(&index, "ticketCategories/pipe");
        assert_eq!(pipe.len(), 4);
        assert!(allows(&pipe, "ticketKinds/repair"));
        assert!(!allows(&pipe, "ticketKinds/complaint"));
        let repair = chain(&index, "ticketCategories/repair");
        assert!(allows(&repair, "ticketKinds/complaint"));
        let inquiry = chain(&index, "ticketCategories/inquiry");
        assert!(allows(&inquiry, "ticketKinds/anything"));
        assert!(
            check_category_for_kind(
                &all,
                "ticketCategories/pipe",
                "ticketKinds/repair",
                "ticket.category"
            )
            .is_ok()
        );
        let error = check_category_for_kind(
            &all,
            "ticketCategories/pipe",
            "ticketKinds/complaint",
            "ticket.category",
        )
        .unwrap_err();
        assert_eq!(error.specific_reason(), Some("CATEGORY_KIND_MISMATCH"));
        assert_eq!(field(&error), "ticket.category");
        let error = check_category_for_kind(
            &all,
            "ticketCategories/nope",
            "ticketKinds/repair",
            "ticket.category",
        )
        .unwrap_err();
        assert_eq!(error.specific_reason(), Some("UNKNOWN_REFERENCE"));
    }

    #[test]
    fn an_inactive_category_or_ancestor_is_refused() {
        let mut all = tree();
        all[1].active = false;
        let error = check_category_for_kind(
            &all,
            "ticketCategories/leak",
            "ticketKinds/repair",
            "ticket.category",
        )
        .unwrap_err();
        assert_eq!(error.specific_reason(), Some("CATEGORY_KIND_MISMATCH"));
    }

    #[test]
    fn the_tree_is_at_most_five_levels_deep() {
        let all = tree();
        let index = by_name(&all);
        // Under pipe (level 4) a fifth level fits, a sixth does not.
        let fifth = category("pipe-joint", "pipe", &[]);
        let path = place(&all, &fifth, index.get("ticketCategories/pipe").copied()).unwrap();
        assert_eq!(path, ["repair", "plumbing", "leak", "pipe", "pipe-joint"]);
        let mut deeper = all.clone();
        deeper.push(fifth.clone());
        let sixth = category("too-deep", "pipe-joint", &[]);
        let index = by_name(&deeper);
        let error = place(
            &deeper,
            &sixth,
            index.get("ticketCategories/pipe-joint").copied(),
        )
        .unwrap_err();
        assert_eq!(field(&error), "ticket_category.parent");
        // Moving plumbing (3 levels high) under inquiry makes 4: fine; under
        // pipe's sibling depth it would not be.
        let index = by_name(&all);
        let plumbing = index["ticketCategories/plumbing"].clone();
        let mut moved = plumbing.clone();
        moved.kinds.clear();
        assert!(place(&all, &moved, index.get("ticketCategories/inquiry").copied()).is_ok());
        let mut tall = all.clone();
        tall.push(category("a", "inquiry", &[]));
        tall.push(category("b", "a", &[]));
        tall.push(category("c", "b", &[]));
        let index = by_name(&tall);
        let error = place(&tall, &moved, index.get("ticketCategories/c").copied()).unwrap_err();
        assert_eq!(field(&error), "ticket_category.parent");
    }

    #[test]
    fn a_category_cannot_move_under_itself() {
        let all = tree();
        let index = by_name(&all);
        let repair = index["ticketCategories/repair"].clone();
        for below in ["ticketCategories/repair", "ticketCategories/leak"] {
            let error = place(&all, &repair, index.get(below).copied()).unwrap_err();
            assert_eq!(field(&error), "ticket_category.parent");
            assert!(error.to_string().contains("under itself"));
        }
    }

    #[test]
    fn children_may_only_narrow_their_parents_kinds() {
        let all = tree();
        let index = by_name(&all);
        let wider = category("valve", "plumbing", &["repair", "inquiry"]);
        let error = place(
            &all,
            &wider,
            index.get("ticketCategories/plumbing").copied(),
        )
        .unwrap_err();
        assert_eq!(field(&error), "ticket_category.kinds[1]");
        let narrower = category("valve", "repair", &["complaint"]);
        assert!(
            place(
                &all,
                &narrower,
                index.get("ticketCategories/repair").copied()
            )
            .is_ok()
        );
        // Narrowing repair to complaint only would leave plumbing (repair)
        // wider than its parent.
        let mut repair = index["ticketCategories/repair"].clone();
        repair.kinds = vec!["ticketKinds/complaint".to_owned()];
        let error = place(&all, &repair, None).unwrap_err();
        assert_eq!(field(&error), "ticket_category.kinds");
    }

    #[test]
    fn the_nearest_categorys_routing_wins() {
        let kind = TicketKind {
            routing: Some(TicketRouting {
                front_line_team: "teams/front-desk".to_owned(),
                specialist_team: "teams/maintenance".to_owned(),
                management_team: String::new(),
                required_skills: vec!["repair".to_owned()],
            }),
            ..Default::default()
        };
        let mut civil = category("civil", "", &[]);
        civil.routing = Some(TicketRouting {
            specialist_team: "teams/contractor-crew".to_owned(),
            ..Default::default()
        });
        let routing = routing(&kind, &[&civil]);
        assert_eq!(routing.front_line_team, "teams/front-desk");
        assert_eq!(routing.specialist_team, "teams/contractor-crew");
        assert_eq!(routing.required_skills, ["repair"]);
    }

    #[test]
    fn a_kind_needs_key_labels_and_base_kind() {
        let mut kind = TicketKind {
            key: "repair".to_owned(),
            labels: labels("报修", "Repair"),
            base_kind: TicketBaseKind::Repair as i32,
            fields: vec![TicketKindField {
                field_definition: "ticketFieldDefinitions/unit_number".to_owned(),
                requirement: 0,
            }],
            ..Default::default()
        };
        check_kind(&mut kind).unwrap();
        assert_eq!(
            kind.default_priority,
            kefu_proto::v1::Priority::Normal as i32
        );
        assert_eq!(
            kind.fields[0].requirement,
            kefu_proto::v1::TicketFieldRequirement::Optional as i32
        );
        let mut bad = kind.clone();
        bad.key = "Repair".to_owned();
        assert_eq!(field(&check_kind(&mut bad).unwrap_err()), "ticket_kind.key");
        let mut bad = kind.clone();
        bad.labels = labels("报修", "");
        assert_eq!(
            field(&check_kind(&mut bad).unwrap_err()),
            "ticket_kind.labels"
        );
        let mut bad = kind.clone();
        bad.base_kind = 0;
        assert_eq!(
            field(&check_kind(&mut bad).unwrap_err()),
            "ticket_kind.base_kind"
        );
        let mut bad = kind.clone();
        bad.fields.push(bad.fields[0].clone());
        assert_eq!(
            field(&check_kind(&mut bad).unwrap_err()),
            "ticket_kind.fields[1].field_definition"
        );
    }

    fn select() -> TicketFieldDefinition {
        TicketFieldDefinition {
            key: "repair_location".to_owned(),
            r#type: TicketFieldType::SingleSelect as i32,
            labels: labels("报修部位", "Where"),
            options: vec![TicketFieldOption {
                value: "in-unit".to_owned(),
                labels: labels("户内", "Inside"),
                active: true,
            }],
            active: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_field_definition_has_rules_its_type_uses() {
        check_field_definition(&select()).unwrap();
        let mut bad = select();
        bad.options.clear();
        assert_eq!(
            field(&check_field_definition(&bad).unwrap_err()),
            "ticket_field_definition.options"
        );
        let mut bad = select();
        bad.pattern = "[0-9]+".to_owned();
        assert_eq!(
            field(&check_field_definition(&bad).unwrap_err()),
            "ticket_field_definition.pattern"
        );
        let mut text = select();
        text.r#type = TicketFieldType::Text as i32;
        text.options.clear();
        text.pattern = "[0-9".to_owned();
        assert_eq!(
            field(&check_field_definition(&text).unwrap_err()),
            "ticket_field_definition.pattern"
        );
        text.pattern = "[0-9]{18}".to_owned();
        text.max_length = 32_001;
        assert_eq!(
            field(&check_field_definition(&text).unwrap_err()),
            "ticket_field_definition.max_length"
        );
        text.max_length = 18;
        check_field_definition(&text).unwrap();
        text.min_value = Some(1.0);
        assert_eq!(
            field(&check_field_definition(&text).unwrap_err()),
            "ticket_field_definition.min_value"
        );
        let mut number = text.clone();
        number.r#type = TicketFieldType::Integer as i32;
        number.pattern.clear();
        number.max_length = 0;
        number.min_value = Some(10.0);
        number.max_value = Some(1.0);
        assert_eq!(
            field(&check_field_definition(&number).unwrap_err()),
            "ticket_field_definition.min_value"
        );
        number.max_value = Some(100.0);
        check_field_definition(&number).unwrap();
        let mut bad = select();
        bad.key = "repair-location".to_owned();
        assert_eq!(
            field(&check_field_definition(&bad).unwrap_err()),
            "ticket_field_definition.key"
        );
    }

    #[test]
    fn options_are_never_removed() {
        let before = select();
        let mut after = select();
        after.options[0].active = false;
        after.options.push(TicketFieldOption {
            value: "garage".to_owned(),
            labels: labels("车库", "Garage"),
            active: true,
        });
        check_options_kept(&before, &after).unwrap();
        after.options.remove(0);
        assert_eq!(
            field(&check_options_kept(&before, &after).unwrap_err()),
            "ticket_field_definition.options"
        );
    }
}
