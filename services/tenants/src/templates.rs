//! The industry templates (DOMAIN.md §6): data shipped with Kefu, one
//! text-format `kefu.v1.IndustryTemplate` per file and version under
//! `templates/`, parsed against the contract's own descriptors so a file
//! that drifts from the contract fails the tests, not a tenant's creation.
//!
//! [`validate`] checks what the descriptors cannot: unique keys, references
//! between the parts of a template, SLA targets, the approval matrix and
//! that every text is given in zh-CN and en.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use kefu_proto::v1::{
    ApprovalLevel, AttributeType, CallbackTrigger, Channel, DayOfWeek, DepartmentKind, Industry,
    IndustryTemplate, LocalizedText, SlaTimeBasis, TeamAssignmentStrategy, TeamTier,
    TemplateCategory, TicketBaseKind, TicketFieldRequirement, TicketFieldType, TimeOfDay,
    WeeklySchedule,
};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};

/// Every shipped template file, `<template>.v<version>.textproto`.
const FILES: &[(&str, &str)] = &[
    (
        "car-dealership.v1.textproto",
        include_str!("../templates/car-dealership.v1.textproto"),
    ),
    (
        "ecommerce.v1.textproto",
        include_str!("../templates/ecommerce.v1.textproto"),
    ),
    (
        "generic.v1.textproto",
        include_str!("../templates/generic.v1.textproto"),
    ),
    (
        "healthcare-consulting.v1.textproto",
        include_str!("../templates/healthcare-consulting.v1.textproto"),
    ),
    (
        "hospitality.v1.textproto",
        include_str!("../templates/hospitality.v1.textproto"),
    ),
    (
        "property-management.v1.textproto",
        include_str!("../templates/property-management.v1.textproto"),
    ),
    (
        "securities-brokerage.v1.textproto",
        include_str!("../templates/securities-brokerage.v1.textproto"),
    ),
];

/// The prefix of template names.
const NAME_PREFIX: &str = "industryTemplates/";

/// The locales every text of a template carries.
const LOCALES: [&str; 2] = ["zh-CN", "en"];

/// The survey dimensions every tenant has.
const STANDARD_DIMENSIONS: [&str; 4] = ["attitude", "skill", "timeliness", "promises_kept"];

/// The report keys the analytics service knows (`IndustryTemplate.reports`).
const REPORTS: &[&str] = &[
    "repairs_by_category",
    "repair_completion_rate",
    "rework_rate",
    "return_reasons",
    "bad_review_rate",
    "payment_recovery",
    "retention",
    "tier_mix",
    "advisor_load",
    "css",
    "service_satisfaction",
    "complaints",
    "consult_conversion",
    "satisfaction",
];

/// The fields a callback script may use (`kefu.v1.CallbackScript`).
const SCRIPT_FIELDS: &[&str] = &[
    "tenant.display_name",
    "agent.display_name",
    "customer.display_name",
    "customer.family_name",
    "customer.honorific",
    "customer.phone_last4",
    "customer.tier",
    "task.subject",
    "task.trigger_date",
    "task.due_date",
    "ticket.subject",
    "ticket.kind",
    "ticket.category",
    "ticket.created_date",
    "ticket.resolved_date",
    "dispatch.technician_name",
    "dispatch.service_type",
    "dispatch.product_model",
    "dispatch.completed_date",
    "complaint.subject",
    "complaint.registered_date",
    "complaint.closed_date",
    "campaign.display_name",
    "season.greeting",
];

/// The deepest category tree a kind may have.
const MAX_CATEGORY_DEPTH: usize = 5;

/// Every version of every template.
#[derive(Debug)]
pub struct Catalogue {
    /// By name, then version.
    templates: Vec<IndustryTemplate>,
}

/// Every shipped version of every template, parsed once.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let mut templates: Vec<IndustryTemplate> = FILES
            .iter()
            .map(|(file, text)| {
                // Shipped data, checked by the tests below: a parse failure
                // is a build defect, not an input error.
                parse(text).unwrap_or_else(|error| panic!("template {file}: {error}"))
            })
            .collect();
        templates.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
        Catalogue { templates }
    })
}

/// The contract's descriptors, decoded once.
fn pool() -> Result<&'static DescriptorPool, String> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(kefu_proto::FILE_DESCRIPTOR_SET).map_err(|error| error.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The descriptor of `kefu.v1.IndustryTemplate`.
fn template_descriptor() -> Result<MessageDescriptor, String> {
    pool()?
        .get_message_by_name("kefu.v1.IndustryTemplate")
        .ok_or_else(|| "kefu.v1.IndustryTemplate is not in the contract".to_owned())
}

/// Parses one template file (protobuf text format).
pub fn parse(text: &str) -> Result<IndustryTemplate, String> {
    DynamicMessage::parse_text_format(template_descriptor()?, text)
        .map_err(|error| error.to_string())?
        .transcode_to::<IndustryTemplate>()
        .map_err(|error| error.to_string())
}

impl Catalogue {
    /// Every version of every template, by name then version.
    pub fn all(&self) -> &[IndustryTemplate] {
        &self.templates
    }

    /// The latest version of each template, by name.
    pub fn latest(&self) -> Vec<&IndustryTemplate> {
        let mut latest: Vec<&IndustryTemplate> = Vec::new();
        for template in &self.templates {
            match latest.last_mut() {
                Some(last) if last.name == template.name => *last = template,
                _ => latest.push(template),
            }
        }
        latest
    }

    /// Version `version` (0: the latest) of the template `name`
    /// (`industryTemplates/{template}`).
    pub fn get(&self, name: &str, version: i32) -> Option<&IndustryTemplate> {
        self.templates
            .iter()
            .filter(|template| template.name == name)
            .filter(|template| version == 0 || template.version == version)
            .max_by_key(|template| template.version)
    }

    /// The latest template of `industry`; industries without their own
    /// template start from the generic one. None for UNSPECIFIED.
    pub fn for_industry(&self, industry: Industry) -> Option<&IndustryTemplate> {
        if industry == Industry::Unspecified {
            return None;
        }
        let latest = self.latest();
        latest
            .iter()
            .find(|template| template.industry == industry as i32)
            .or_else(|| {
                latest
                    .iter()
                    .find(|template| template.industry == Industry::Generic as i32)
            })
            .copied()
    }
}

/// Checks what the descriptors cannot check: keys unique within their list
/// (category keys across the template), references between the parts,
/// enum-valued strings, SLA targets, the approval matrix, and zh-CN and en
/// in every text. Answers every problem found.
pub fn validate(template: &IndustryTemplate) -> Result<(), Vec<String>> {
    let mut check = Check::default();
    check.header(template);
    check.texts(template);

    let departments = check.keys(
        "departments",
        template.departments.iter().map(|d| d.key.as_str()),
        is_id,
    );
    for (index, department) in template.departments.iter().enumerate() {
        let path = format!("departments[{index}]");
        check.label(&path, "label", department.label.as_ref());
        check.enum_name::<DepartmentKind>(&path, "kind", "DEPARTMENT_KIND_", &department.kind);
    }

    let skills = check.keys(
        "skills",
        template.skills.iter().map(|s| s.key.as_str()),
        is_id,
    );
    for (index, skill) in template.skills.iter().enumerate() {
        check.label(&format!("skills[{index}]"), "label", skill.label.as_ref());
    }

    let teams = check.keys(
        "teams",
        template.teams.iter().map(|t| t.key.as_str()),
        is_id,
    );
    let mut tiers: HashMap<&str, &str> = HashMap::new();
    for (index, team) in template.teams.iter().enumerate() {
        let path = format!("teams[{index}]");
        check.label(&path, "label", team.label.as_ref());
        check.enum_name::<TeamTier>(&path, "tier", "TEAM_TIER_", &team.tier);
        check.enum_name::<TeamAssignmentStrategy>(
            &path,
            "assignment_strategy",
            "TEAM_ASSIGNMENT_STRATEGY_",
            &team.assignment_strategy,
        );
        check.reference(&path, "department", &team.department, &departments, true);
        check.references(&path, "skills", &team.skills, &skills);
        tiers.insert(team.key.as_str(), team.tier.as_str());
    }

    let policies = check.keys(
        "sla_policies",
        template
            .sla_policies
            .iter()
            .map(|p| p.name.strip_prefix("slaPolicies/").unwrap_or("")),
        is_id,
    );
    for (index, policy) in template.sla_policies.iter().enumerate() {
        check.sla_policy(&format!("sla_policies[{index}]"), policy);
    }

    let fields = check.custom_fields(template);

    let kinds = check.keys(
        "ticket_kinds",
        template.ticket_kinds.iter().map(|k| k.key.as_str()),
        is_id,
    );
    let mut categories: HashSet<&str> = HashSet::new();
    for (index, kind) in template.ticket_kinds.iter().enumerate() {
        let path = format!("ticket_kinds[{index}]");
        check.label(&path, "label", kind.label.as_ref());
        check.enum_name::<TicketBaseKind>(&path, "base_kind", "TICKET_BASE_KIND_", &kind.base_kind);
        check.reference(&path, "sla_policy", &kind.sla_policy, &policies, false);
        check.reference(
            &path,
            "front_line_team",
            &kind.front_line_team,
            &teams,
            true,
        );
        check.reference(
            &path,
            "specialist_team",
            &kind.specialist_team,
            &teams,
            false,
        );
        if let Some(tier) = tiers.get(kind.front_line_team.as_str())
            && *tier != "FRONT_LINE"
        {
            check.error(format!(
                "{path}.front_line_team: {tier} is not a front-line team"
            ));
        }
        if let Some(tier) = tiers.get(kind.specialist_team.as_str())
            && *tier == "FRONT_LINE"
        {
            check.error(format!(
                "{path}.specialist_team: a front-line team is no specialist team"
            ));
        }
        check.references(&path, "required_skills", &kind.required_skills, &skills);
        let mut seen = HashSet::new();
        for (position, field) in kind.fields.iter().enumerate() {
            let field_path = format!("{path}.fields[{position}]");
            check.reference(&field_path, "field", &field.field, &fields, true);
            if !seen.insert(field.field.as_str()) {
                check.error(format!(
                    "{field_path}.field: {:?} listed twice",
                    field.field
                ));
            }
            check.enum_name::<TicketFieldRequirement>(
                &field_path,
                "requirement",
                "TICKET_FIELD_REQUIREMENT_",
                &field.requirement,
            );
        }
        for (position, category) in kind.categories.iter().enumerate() {
            check.category(
                &format!("{path}.categories[{position}]"),
                category,
                1,
                &mut categories,
                &teams,
            );
        }
    }

    let dimensions = check.keys(
        "survey_dimensions",
        template.survey_dimensions.iter().map(|d| d.key.as_str()),
        is_snake,
    );
    for (index, dimension) in template.survey_dimensions.iter().enumerate() {
        let path = format!("survey_dimensions[{index}]");
        check.label(&path, "label", dimension.label.as_ref());
        let standard = STANDARD_DIMENSIONS.contains(&dimension.key.as_str());
        if dimension.standard != standard {
            check.error(format!(
                "{path}.standard: {} is {}a standard dimension",
                dimension.key,
                if standard { "" } else { "not " }
            ));
        }
    }
    for key in STANDARD_DIMENSIONS {
        if !dimensions.contains(key) {
            check.error(format!(
                "survey_dimensions: the standard {key:?} is missing"
            ));
        }
    }

    let surveys = check.keys(
        "surveys",
        template.surveys.iter().map(|s| s.key.as_str()),
        is_id,
    );
    for (index, survey) in template.surveys.iter().enumerate() {
        let path = format!("surveys[{index}]");
        check.label(&path, "title", survey.title.as_ref());
        if survey.dimensions.is_empty() {
            check.error(format!("{path}.dimensions: at least one is required"));
        }
        check.references(&path, "dimensions", &survey.dimensions, &dimensions);
    }

    let scripts = check.keys(
        "callback_scripts",
        template.callback_scripts.iter().map(|s| s.key.as_str()),
        is_id,
    );
    for (index, script) in template.callback_scripts.iter().enumerate() {
        let path = format!("callback_scripts[{index}]");
        check.label(&path, "title", script.title.as_ref());
        check.label(&path, "greeting", script.greeting.as_ref());
        check.label(&path, "closing", script.closing.as_ref());
        check.reference(&path, "survey", &script.survey, &surveys, false);
        let texts = [
            ("greeting", script.greeting.as_ref()),
            ("closing", script.closing.as_ref()),
        ]
        .into_iter()
        .map(|(name, text)| (name.to_owned(), text))
        .chain(
            script
                .questions
                .iter()
                .enumerate()
                .map(|(position, text)| (format!("questions[{position}]"), Some(text))),
        );
        for (name, text) in texts {
            for (locale, value) in text.into_iter().flat_map(|text| &text.values) {
                if let Err(problem) = check_placeholders(value) {
                    check.error(format!("{path}.{name}[{locale}]: {problem}"));
                }
            }
        }
    }

    check.keys(
        "callback_policies",
        template.callback_policies.iter().map(|p| p.key.as_str()),
        is_id,
    );
    for (index, policy) in template.callback_policies.iter().enumerate() {
        let path = format!("callback_policies[{index}]");
        check.label(&path, "label", policy.label.as_ref());
        check.enum_name::<CallbackTrigger>(&path, "trigger", "CALLBACK_TRIGGER_", &policy.trigger);
        check.references(&path, "ticket_kinds", &policy.ticket_kinds, &kinds);
        check.reference(&path, "script", &policy.script, &scripts, true);
        check.reference(&path, "team", &policy.team, &teams, false);
        if !matches!(
            Channel::try_from(policy.channel),
            Ok(Channel::Unspecified | Channel::Phone | Channel::Sms)
        ) {
            check.error(format!("{path}.channel: only PHONE or SMS"));
        }
        check.positive(&path, "start_delay", policy.start_delay.as_ref(), true);
        check.positive(&path, "due_window", policy.due_window.as_ref(), false);
        if let Some(hours) = &policy.calling_hours {
            check.schedule(&format!("{path}.calling_hours"), hours);
        }
    }

    check.keys(
        "customer_tiers",
        template.customer_tiers.iter().map(|t| t.key.as_str()),
        |key| is_id(key) && key.len() <= 50,
    );
    let mut ranks = HashSet::new();
    for (index, tier) in template.customer_tiers.iter().enumerate() {
        let path = format!("customer_tiers[{index}]");
        check.label(&path, "label", tier.label.as_ref());
        check.label(&path, "criteria", tier.criteria.as_ref());
        if tier.rank < 1 || !ranks.insert(tier.rank) {
            check.error(format!(
                "{path}.rank: {} is not a unique rank from 1",
                tier.rank
            ));
        }
    }

    check.keys(
        "rules",
        template.rules.iter().map(|r| r.key.as_str()),
        is_id,
    );
    for (index, rule) in template.rules.iter().enumerate() {
        let path = format!("rules[{index}]");
        check.label(&path, "label", rule.label.as_ref());
        check.label(&path, "description", rule.description.as_ref());
        check.references(&path, "ticket_kinds", &rule.ticket_kinds, &kinds);
        check.positive(&path, "deadline", rule.deadline.as_ref(), false);
        if SlaTimeBasis::try_from(rule.time_basis).is_err() {
            check.error(format!(
                "{path}.time_basis: unknown value {}",
                rule.time_basis
            ));
        }
        if Channel::try_from(rule.channel).is_err() {
            check.error(format!("{path}.channel: unknown value {}", rule.channel));
        }
        if let Some(hours) = &rule.hours {
            check.schedule(&format!("{path}.hours"), hours);
        }
    }

    check.keys(
        "reports",
        template.reports.iter().map(String::as_str),
        |key| REPORTS.contains(&key),
    );

    check.approval_matrix(template);

    if check.errors.is_empty() {
        Ok(())
    } else {
        Err(check.errors)
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
struct Check {
    errors: Vec<String>,
}

impl Check {
    fn error(&mut self, error: String) {
        self.errors.push(error);
    }

    /// Name, version, industry, title, description, calendar, settings.
    fn header(&mut self, template: &IndustryTemplate) {
        match template.name.strip_prefix(NAME_PREFIX) {
            Some(key) if is_id(key) => {}
            _ => self.error(format!(
                "name: {:?} is not industryTemplates/{{template}}",
                template.name
            )),
        }
        if template.version < 1 {
            self.error(format!("version: {} is not 1 or more", template.version));
        }
        match Industry::try_from(template.industry) {
            Ok(Industry::Unspecified) | Err(_) => {
                self.error("industry: is required".to_owned());
            }
            Ok(_) => {}
        }
        self.label("", "title", template.title.as_ref());
        self.label("", "description", template.description.as_ref());
        match &template.default_calendar {
            None => self.error("default_calendar: is required".to_owned()),
            Some(calendar) => {
                match &calendar.business_hours {
                    None => self.error("default_calendar.business_hours: is required".to_owned()),
                    Some(hours) => self.schedule("default_calendar.business_hours", hours),
                }
                if calendar.quiet_hours.len() > 10 {
                    self.error("default_calendar.quiet_hours: at most 10".to_owned());
                }
                for (index, span) in calendar.quiet_hours.iter().enumerate() {
                    let path = format!("default_calendar.quiet_hours[{index}]");
                    self.time(&path, "start", span.start.as_ref());
                    self.time(&path, "end", span.end.as_ref());
                }
            }
        }
        match &template.default_settings {
            None => self.error("default_settings: is required".to_owned()),
            Some(settings) => {
                let code = &settings.currency_code;
                if !(code.is_empty()
                    || code.len() == 3 && code.bytes().all(|byte| byte.is_ascii_uppercase()))
                {
                    self.error(format!(
                        "default_settings.currency_code: {code:?} is no ISO 4217 code"
                    ));
                }
            }
        }
    }

    /// Every LocalizedText set anywhere in the template has zh-CN and en.
    fn texts(&mut self, template: &IndustryTemplate) {
        let message = template_descriptor().and_then(|descriptor| {
            let mut message = DynamicMessage::new(descriptor);
            message
                .transcode_from(template)
                .map_err(|error| error.to_string())?;
            Ok(message)
        });
        match message {
            Ok(message) => self.texts_in(&message, ""),
            Err(error) => self.error(format!("template: {error}")),
        }
    }

    fn texts_in(&mut self, message: &DynamicMessage, path: &str) {
        for (field, value) in message.fields() {
            let path = if path.is_empty() {
                field.name().to_owned()
            } else {
                format!("{path}.{}", field.name())
            };
            match value {
                Value::Message(child) => self.text_or_message(child, &path),
                Value::List(items) => {
                    for (index, item) in items.iter().enumerate() {
                        if let Value::Message(child) = item {
                            self.text_or_message(child, &format!("{path}[{index}]"));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn text_or_message(&mut self, message: &DynamicMessage, path: &str) {
        if message.descriptor().full_name() != "kefu.v1.LocalizedText" {
            self.texts_in(message, path);
            return;
        }
        match message.transcode_to::<LocalizedText>() {
            Ok(text) => {
                for locale in LOCALES {
                    if text
                        .values
                        .get(locale)
                        .is_none_or(|value| value.trim().is_empty())
                    {
                        self.error(format!("{path}: no {locale} text"));
                    }
                }
            }
            Err(error) => self.error(format!("{path}: {error}")),
        }
    }

    /// A required text (the locales themselves are checked by `texts`).
    fn label(&mut self, path: &str, field: &str, text: Option<&LocalizedText>) {
        if text.is_none() {
            let dot = if path.is_empty() { "" } else { "." };
            self.error(format!("{path}{dot}{field}: is required"));
        }
    }

    /// Keys of one list: well-formed and unique. Answers the set of keys.
    fn keys<'a>(
        &mut self,
        list: &str,
        keys: impl Iterator<Item = &'a str>,
        well_formed: impl Fn(&str) -> bool,
    ) -> HashSet<&'a str> {
        let mut seen = HashSet::new();
        for (index, key) in keys.enumerate() {
            if !well_formed(key) {
                self.error(format!("{list}[{index}]: key {key:?} is malformed"));
            }
            if !seen.insert(key) {
                self.error(format!("{list}[{index}]: key {key:?} is not unique"));
            }
        }
        seen
    }

    /// `value` names a key of `known` (or is empty when not `required`).
    fn reference(
        &mut self,
        path: &str,
        field: &str,
        value: &str,
        known: &HashSet<&str>,
        required: bool,
    ) {
        if value.is_empty() {
            if required {
                self.error(format!("{path}.{field}: is required"));
            }
        } else if !known.contains(value) {
            self.error(format!("{path}.{field}: {value:?} does not exist"));
        }
    }

    /// Every value names a key of `known`, once.
    fn references(&mut self, path: &str, field: &str, values: &[String], known: &HashSet<&str>) {
        let mut seen = HashSet::new();
        for (index, value) in values.iter().enumerate() {
            self.reference(path, &format!("{field}[{index}]"), value, known, true);
            if !seen.insert(value.as_str()) {
                self.error(format!("{path}.{field}[{index}]: {value:?} listed twice"));
            }
        }
    }

    /// `value` is a value of the enum `E` without `prefix` (not UNSPECIFIED).
    fn enum_name<E: EnumName>(&mut self, path: &str, field: &str, prefix: &str, value: &str) {
        if value == "UNSPECIFIED" || E::from_name(&format!("{prefix}{value}")).is_none() {
            self.error(format!("{path}.{field}: {value:?} is no {prefix}* value"));
        }
    }

    /// A duration that, when set (or always, unless `optional`), is positive.
    fn positive(
        &mut self,
        path: &str,
        field: &str,
        duration: Option<&prost_types::Duration>,
        optional: bool,
    ) {
        match duration {
            Some(duration) if duration.seconds < 0 || duration.nanos < 0 => {
                self.error(format!("{path}.{field}: is negative"));
            }
            Some(duration) if !optional && duration.seconds == 0 && duration.nanos == 0 => {
                self.error(format!("{path}.{field}: is zero"));
            }
            _ => {}
        }
    }

    fn time(&mut self, path: &str, field: &str, time: Option<&TimeOfDay>) {
        match time {
            None => self.error(format!("{path}.{field}: is required")),
            Some(time) if !(0..24).contains(&time.hours) || !(0..60).contains(&time.minutes) => {
                self.error(format!(
                    "{path}.{field}: {:02}:{:02} is no time of day",
                    time.hours, time.minutes
                ));
            }
            Some(_) => {}
        }
    }

    /// Days known and unique, spans well-formed.
    fn schedule(&mut self, path: &str, schedule: &WeeklySchedule) {
        let mut days = HashSet::new();
        for (index, day) in schedule.days.iter().enumerate() {
            let day_path = format!("{path}.days[{index}]");
            if matches!(
                DayOfWeek::try_from(day.day),
                Ok(DayOfWeek::Unspecified) | Err(_)
            ) || !days.insert(day.day)
            {
                self.error(format!("{day_path}.day: missing, unknown or repeated"));
            }
            for (position, span) in day.spans.iter().enumerate() {
                let span_path = format!("{day_path}.spans[{position}]");
                self.time(&span_path, "start", span.start.as_ref());
                self.time(&span_path, "end", span.end.as_ref());
            }
        }
    }

    /// Name, targets (one per priority, resolution after first response).
    fn sla_policy(&mut self, path: &str, policy: &kefu_proto::v1::SlaPolicy) {
        if !policy.name.starts_with("slaPolicies/") {
            self.error(format!(
                "{path}.name: {:?} is not slaPolicies/{{key}}",
                policy.name
            ));
        }
        if policy.display_name.trim().is_empty() {
            self.error(format!("{path}.display_name: is required"));
        }
        if policy.targets.is_empty() {
            self.error(format!("{path}.targets: at least one is required"));
        }
        if SlaTimeBasis::try_from(policy.time_basis).is_err() {
            self.error(format!(
                "{path}.time_basis: unknown value {}",
                policy.time_basis
            ));
        }
        if !(0..100).contains(&policy.warning_percent) {
            self.error(format!(
                "{path}.warning_percent: {} is not 1 to 99",
                policy.warning_percent
            ));
        }
        let mut priorities = HashSet::new();
        for (index, target) in policy.targets.iter().enumerate() {
            let target_path = format!("{path}.targets[{index}]");
            if !priorities.insert(target.priority) {
                self.error(format!(
                    "{target_path}.priority: a second row for the priority"
                ));
            }
            let first = target.first_response_target.as_ref();
            let resolution = target.resolution_target.as_ref();
            self.positive(&target_path, "first_response_target", first, false);
            self.positive(&target_path, "resolution_target", resolution, false);
            match (first, resolution) {
                (Some(first), Some(resolution)) => {
                    if (resolution.seconds, resolution.nanos) < (first.seconds, first.nanos) {
                        self.error(format!(
                            "{target_path}: resolution target before first-response target"
                        ));
                    }
                }
                _ => self.error(format!("{target_path}: both targets are required")),
            }
        }
    }

    /// A category and its children: key unique across the template, team
    /// known, tree not too deep.
    fn category<'a>(
        &mut self,
        path: &str,
        category: &'a TemplateCategory,
        depth: usize,
        seen: &mut HashSet<&'a str>,
        teams: &HashSet<&str>,
    ) {
        if !is_id(&category.key) {
            self.error(format!("{path}.key: {:?} is malformed", category.key));
        }
        if !seen.insert(category.key.as_str()) {
            self.error(format!(
                "{path}.key: {:?} is not unique in the template",
                category.key
            ));
        }
        if depth > MAX_CATEGORY_DEPTH {
            self.error(format!("{path}: deeper than {MAX_CATEGORY_DEPTH} levels"));
        }
        self.label(path, "label", category.label.as_ref());
        self.reference(path, "team", &category.team, teams, false);
        for (index, child) in category.children.iter().enumerate() {
            self.category(
                &format!("{path}.children[{index}]"),
                child,
                depth + 1,
                seen,
                teams,
            );
        }
    }

    /// Custom fields: entity, key, type, options. Answers the keys of the
    /// ticket fields.
    fn custom_fields<'a>(&mut self, template: &'a IndustryTemplate) -> HashSet<&'a str> {
        let mut seen = HashSet::new();
        let mut ticket_fields = HashSet::new();
        for (index, field) in template.custom_fields.iter().enumerate() {
            let path = format!("custom_fields[{index}]");
            self.label(&path, "label", field.label.as_ref());
            let selects = match field.entity.as_str() {
                "ticket" => {
                    if !(is_snake(&field.key)) {
                        self.error(format!("{path}.key: {:?} is malformed", field.key));
                    }
                    ticket_fields.insert(field.key.as_str());
                    self.enum_name::<TicketFieldType>(
                        &path,
                        "type",
                        "TICKET_FIELD_TYPE_",
                        &field.r#type,
                    );
                    matches!(field.r#type.as_str(), "SINGLE_SELECT" | "MULTI_SELECT")
                }
                "customer" => {
                    if !(is_snake(&field.key) && field.key.len() <= 50) {
                        self.error(format!("{path}.key: {:?} is malformed", field.key));
                    }
                    self.enum_name::<AttributeType>(
                        &path,
                        "type",
                        "ATTRIBUTE_TYPE_",
                        &field.r#type,
                    );
                    field.r#type == "ENUM"
                }
                other => {
                    self.error(format!(
                        "{path}.entity: {other:?} is not ticket or customer"
                    ));
                    false
                }
            };
            if !seen.insert((field.entity.as_str(), field.key.as_str())) {
                self.error(format!("{path}.key: {:?} is not unique", field.key));
            }
            if selects == field.options.is_empty() {
                self.error(format!(
                    "{path}.options: {}",
                    if selects {
                        "a select needs options"
                    } else {
                        "only selects have options"
                    }
                ));
            }
            let mut options = HashSet::new();
            for (position, option) in field.options.iter().enumerate() {
                let option_path = format!("{path}.options[{position}]");
                let well_formed = !option.key.is_empty()
                    && option.key.len() <= 50
                    && option
                        .key
                        .bytes()
                        .all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
                if !well_formed || !options.insert(option.key.as_str()) {
                    self.error(format!(
                        "{option_path}.key: {:?} malformed or repeated",
                        option.key
                    ));
                }
                self.label(&option_path, "label", option.label.as_ref());
            }
        }
        ticket_fields
    }

    /// The thresholds of each currency: increasing bounds, ascending levels,
    /// the last one unbounded.
    fn approval_matrix(&mut self, template: &IndustryTemplate) {
        let Some(matrix) = &template.approval_matrix else {
            self.error("approval_matrix: is required".to_owned());
            return;
        };
        if matrix.thresholds.is_empty() {
            self.error("approval_matrix.thresholds: at least one is required".to_owned());
        }
        let mut finished: HashSet<&str> = HashSet::new();
        // Per currency: the last bound and level seen.
        let mut open: Option<(&str, i64, i32)> = None;
        for (index, threshold) in matrix.thresholds.iter().enumerate() {
            let path = format!("approval_matrix.thresholds[{index}]");
            let currency = threshold.currency_code.as_str();
            if currency.len() != 3 || !currency.bytes().all(|byte| byte.is_ascii_uppercase()) {
                self.error(format!(
                    "{path}.currency_code: {currency:?} is no ISO 4217 code"
                ));
            }
            if finished.contains(currency) {
                self.error(format!(
                    "{path}: {currency} already ended with an unbounded threshold"
                ));
            }
            if matches!(
                ApprovalLevel::try_from(threshold.level),
                Ok(ApprovalLevel::Unspecified) | Err(_)
            ) {
                self.error(format!("{path}.level: is required"));
            }
            let (previous_bound, previous_level) = match open {
                Some((open_currency, bound, level)) if open_currency == currency => (bound, level),
                Some((open_currency, _, _)) => {
                    self.error(format!(
                        "{path}: {open_currency} has no unbounded last threshold"
                    ));
                    (-1, 0)
                }
                None => (-1, 0),
            };
            if threshold.level <= previous_level {
                self.error(format!("{path}.level: not above the previous threshold's"));
            }
            match &threshold.upper_bound {
                Some(bound) => {
                    if bound.currency_code != currency {
                        self.error(format!(
                            "{path}.upper_bound.currency_code: {:?} is not {currency}",
                            bound.currency_code
                        ));
                    }
                    if bound.amount_minor <= previous_bound {
                        self.error(format!("{path}.upper_bound: not above the previous bound"));
                    }
                    open = Some((currency, bound.amount_minor, threshold.level));
                }
                None => {
                    finished.insert(currency);
                    open = None;
                }
            }
        }
        if let Some((currency, _, _)) = open {
            self.error(format!(
                "approval_matrix.thresholds: {currency} has no unbounded last threshold"
            ));
        }
    }
}

/// The `from_str_name` of the contract's enums.
trait EnumName: Sized {
    fn from_name(name: &str) -> Option<Self>;
}

macro_rules! enum_name {
    ($($enum:ty),*) => {
        $(impl EnumName for $enum {
            fn from_name(name: &str) -> Option<Self> {
                <$enum>::from_str_name(name)
            }
        })*
    };
}

enum_name!(
    DepartmentKind,
    TeamTier,
    TeamAssignmentStrategy,
    TicketBaseKind,
    TicketFieldRequirement,
    TicketFieldType,
    AttributeType,
    CallbackTrigger
);

/// A resource id: `[a-z][a-z0-9-]{0,62}`.
fn is_id(key: &str) -> bool {
    well_formed(key, b'-')
}

/// A snake-case key: `[a-z][a-z0-9_]{0,62}`.
fn is_snake(key: &str) -> bool {
    well_formed(key, b'_')
}

fn well_formed(key: &str, separator: u8) -> bool {
    let bytes = key.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|&byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == separator)
}

/// Every `{{field | "fallback"}}` of a script text names a known field.
fn check_placeholders(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let escaped = rest[..start].ends_with('\\');
        rest = &rest[start + 2..];
        if escaped {
            continue;
        }
        let end = rest
            .find("}}")
            .ok_or_else(|| "a placeholder is not closed".to_owned())?;
        let field = rest[..end].split('|').next().unwrap_or_default().trim();
        if !SCRIPT_FIELDS.contains(&field) {
            return Err(format!("unknown placeholder {field:?}"));
        }
        rest = &rest[end + 2..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::Priority;

    use super::*;

    const DAYS_3: i64 = 3 * 86_400;

    /// Currency, upper bound (currency, amount), level.
    type Threshold<'a> = (&'a str, Option<(&'a str, i64)>, i32);

    fn template(name: &str) -> &'static IndustryTemplate {
        catalogue()
            .get(&format!("industryTemplates/{name}"), 0)
            .unwrap_or_else(|| panic!("{name} is in the catalogue"))
    }

    fn zh_cn(text: Option<&LocalizedText>) -> &str {
        text.and_then(|text| text.values.get("zh-CN"))
            .map_or("", String::as_str)
    }

    #[test]
    fn all_seven_templates_load_sorted_by_name_and_version() {
        let catalogue = catalogue();
        assert_eq!(catalogue.all().len(), FILES.len());
        let names: Vec<&str> = catalogue.latest().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "industryTemplates/car-dealership",
                "industryTemplates/ecommerce",
                "industryTemplates/generic",
                "industryTemplates/healthcare-consulting",
                "industryTemplates/hospitality",
                "industryTemplates/property-management",
                "industryTemplates/securities-brokerage",
            ]
        );
        assert!(catalogue.get("industryTemplates/generic", 1).is_some());
        assert!(catalogue.get("industryTemplates/generic", 99).is_none());
        assert!(catalogue.get("industryTemplates/nothing", 0).is_none());
    }

    #[test]
    fn every_file_is_named_after_its_template_and_version() {
        for (file, text) in FILES {
            let template = parse(text).unwrap_or_else(|error| panic!("{file}: {error}"));
            let key = template.name.strip_prefix(NAME_PREFIX).unwrap_or_default();
            assert_eq!(*file, format!("{key}.v{}.textproto", template.version));
        }
    }

    #[test]
    fn every_template_validates() {
        for template in catalogue().all() {
            assert_eq!(validate(template), Ok(()), "{}", template.name);
        }
    }

    #[test]
    fn every_industry_finds_its_own_template() {
        for industry in [
            Industry::PropertyManagement,
            Industry::Ecommerce,
            Industry::SecuritiesBrokerage,
            Industry::CarDealership,
            Industry::HealthcareConsulting,
            Industry::Hospitality,
            Industry::Generic,
        ] {
            let template = catalogue()
                .for_industry(industry)
                .unwrap_or_else(|| panic!("{industry:?}"));
            assert_eq!(template.industry, industry as i32, "{industry:?}");
        }
        assert!(catalogue().for_industry(Industry::Unspecified).is_none());
    }

    #[test]
    fn every_template_has_the_common_parts() {
        for template in catalogue().all() {
            let name = &template.name;
            let settings = template.default_settings.as_ref().expect("settings");
            assert_eq!(settings.complaint_deadline_days, 6, "{name}");
            assert_eq!(settings.investigation_report_days, 3, "{name}");
            assert_eq!(
                settings.callback_due_window.map(|d| d.seconds),
                Some(DAYS_3),
                "{name}"
            );
            assert_eq!(settings.first_contact_days, 7, "{name}");
            assert_eq!(settings.currency_code, "CNY", "{name}");

            let calendar = template.default_calendar.as_ref().expect("calendar");
            assert_eq!(calendar.quiet_hours.len(), 2, "{name}");

            let complaint = template
                .ticket_kinds
                .iter()
                .find(|kind| kind.key == "complaint")
                .unwrap_or_else(|| panic!("{name} has a complaint kind"));
            assert_eq!(complaint.base_kind, "COMPLAINT", "{name}");
            let policy = template
                .sla_policies
                .iter()
                .find(|policy| policy.name == format!("slaPolicies/{}", complaint.sla_policy))
                .unwrap_or_else(|| panic!("{name} has a complaint SLA policy"));
            assert_eq!(policy.time_basis, SlaTimeBasis::Calendar as i32, "{name}");
            assert!(
                policy
                    .targets
                    .iter()
                    .all(|t| t.resolution_target.map(|d| d.seconds) == Some(6 * 86_400)),
                "{name}: complaints resolve within 6 days"
            );

            let standard: Vec<&str> = template
                .survey_dimensions
                .iter()
                .filter(|dimension| dimension.standard)
                .map(|dimension| dimension.key.as_str())
                .collect();
            assert_eq!(standard, STANDARD_DIMENSIONS, "{name}");

            for tier in ["FRONT_LINE", "SPECIALIST", "MANAGEMENT"] {
                assert!(
                    template.teams.iter().any(|team| team.tier == tier),
                    "{name} has a {tier} team"
                );
            }
            for script in &template.callback_scripts {
                for locale in LOCALES {
                    let greeting = &script.greeting.as_ref().expect("greeting").values[locale];
                    for field in ["customer", "agent", "tenant"] {
                        assert!(
                            greeting.contains(&format!("{{{{{field}.display_name}}}}")),
                            "{name} {} {locale} greets with {field}",
                            script.key
                        );
                    }
                }
            }
            for policy in &template.callback_policies {
                assert!(
                    policy
                        .due_window
                        .is_none_or(|window| window.seconds <= DAYS_3),
                    "{name} {}: callbacks within 3 days",
                    policy.key
                );
            }
            assert!(!template.reports.is_empty(), "{name}");
            assert!(template.change_note.is_some(), "{name}");
        }
    }

    #[test]
    fn the_default_approval_matrix_is_the_three_cny_thresholds() {
        for template in catalogue().all() {
            let thresholds = &template
                .approval_matrix
                .as_ref()
                .expect("approval matrix")
                .thresholds;
            let rows: Vec<Threshold<'_>> = thresholds
                .iter()
                .map(|t| {
                    (
                        t.currency_code.as_str(),
                        t.upper_bound
                            .as_ref()
                            .map(|m| (m.currency_code.as_str(), m.amount_minor)),
                        t.level,
                    )
                })
                .collect();
            assert_eq!(
                rows,
                [
                    (
                        "CNY",
                        Some(("CNY", 99_999)),
                        ApprovalLevel::DepartmentManager as i32
                    ),
                    (
                        "CNY",
                        Some(("CNY", 500_000)),
                        ApprovalLevel::VicePresident as i32
                    ),
                    ("CNY", None, ApprovalLevel::GeneralManager as i32),
                ],
                "{}",
                template.name
            );
        }
    }

    #[test]
    fn property_management_has_the_ten_repair_categories() {
        let template = template("property-management");
        let repair = template
            .ticket_kinds
            .iter()
            .find(|kind| kind.key == "repair")
            .expect("repair kind");
        assert_eq!(repair.base_kind, "REPAIR");
        let labels: Vec<&str> = repair
            .categories
            .iter()
            .map(|category| zh_cn(category.label.as_ref()))
            .collect();
        assert_eq!(
            labels,
            [
                "土建",
                "水暖",
                "进户门",
                "车库门",
                "可视对讲",
                "电",
                "路灯声控灯",
                "天窗",
                "窗户",
                "漏水"
            ]
        );
        let civil_works = &repair.categories[0];
        let contractor = template
            .teams
            .iter()
            .find(|team| team.key == civil_works.team)
            .expect("civil works go to a team of their own");
        let department = template
            .departments
            .iter()
            .find(|department| department.key == contractor.department)
            .expect("the contractor team's department");
        assert_eq!(department.kind, "CONSTRUCTION_CONTRACTOR");
        for kind in ["move-in", "notice"] {
            assert!(
                template.ticket_kinds.iter().any(|k| k.key == kind),
                "{kind}"
            );
        }
    }

    #[test]
    fn the_car_dealership_surveys_sales_satisfaction() {
        let template = template("car-dealership");
        assert!(
            template
                .survey_dimensions
                .iter()
                .any(|dimension| dimension.key == "sales_satisfaction" && !dimension.standard)
        );
        let css = template
            .surveys
            .iter()
            .find(|survey| survey.key == "css")
            .expect("css survey");
        assert!(css.dimensions.iter().any(|d| d == "sales_satisfaction"));
        let triggers: Vec<&str> = template
            .callback_policies
            .iter()
            .map(|policy| policy.trigger.as_str())
            .collect();
        assert!(triggers.contains(&"CAR_DELIVERY"));
        assert!(triggers.contains(&"MAINTENANCE_VISIT"));
    }

    #[test]
    fn ecommerce_ships_within_72_calendar_hours_of_payment() {
        let template = template("ecommerce");
        let rule = template
            .rules
            .iter()
            .find(|rule| rule.key == "ship-within")
            .expect("ship-within rule");
        assert_eq!(rule.deadline.map(|d| d.seconds), Some(72 * 3_600));
        assert_eq!(rule.time_basis, SlaTimeBasis::Calendar as i32);
        let rule = |key: &str| {
            template
                .rules
                .iter()
                .find(|rule| rule.key == key)
                .unwrap_or_else(|| panic!("{key}"))
        };
        assert_eq!(
            rule("hard-to-deliver-contact").deadline.map(|d| d.seconds),
            Some(4 * 86_400)
        );
        assert_eq!(
            rule("cash-back-within").deadline.map(|d| d.seconds),
            Some(72 * 3_600)
        );
        assert_eq!(rule("payment-reminder-im").channel, Channel::Im as i32);
        assert_eq!(
            rule("payment-reminder-phone").channel,
            Channel::Phone as i32
        );
    }

    #[test]
    fn validate_reports_broken_references_and_texts() {
        let mut broken = template("generic").clone();
        broken.teams[0].department = "nowhere".into();
        broken.ticket_kinds[0].sla_policy = "missing".into();
        broken.ticket_kinds[1].categories[0].key = "inquiry-product".into();
        broken.departments.push(broken.departments[0].clone());
        broken.sla_policies[0].targets[0].priority = Priority::Low as i32;
        broken.sla_policies[0].targets[0].resolution_target = Some(prost_types::Duration {
            seconds: 60,
            nanos: 0,
        });
        broken.title.as_mut().expect("title").values.remove("en");
        broken
            .approval_matrix
            .as_mut()
            .expect("matrix")
            .thresholds
            .swap(0, 1);
        broken.industry = Industry::Unspecified as i32;
        broken.ticket_kinds[1].categories[1].children[0]
            .label
            .as_mut()
            .expect("label")
            .values
            .insert("en".into(), " ".into());
        let errors = validate(&broken).expect_err("broken");
        for expected in [
            "teams[0].department",
            "ticket_kinds[0].sla_policy",
            "is not unique in the template",
            "departments[5]: key",
            "a second row for the priority",
            "resolution target before first-response target",
            "title: no en text",
            "approval_matrix.thresholds[1]",
            "industry: is required",
            "ticket_kinds[1].categories[1].children[0].label: no en text",
        ] {
            assert!(
                errors.iter().any(|error| error.contains(expected)),
                "{expected} in {errors:#?}"
            );
        }
    }

    #[test]
    fn placeholders_must_be_known() {
        assert!(
            check_placeholders("您好{{customer.display_name}},{{ season.greeting | \"再见\" }}")
                .is_ok()
        );
        assert!(check_placeholders("\\{{ literal").is_ok());
        assert!(check_placeholders("{{customer.password}}").is_err());
        assert!(check_placeholders("{{agent.display_name").is_err());
    }
}
