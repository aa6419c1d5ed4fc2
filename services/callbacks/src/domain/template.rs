//! The template language of scripts (话术) and SMS surveys, as the
//! `CallbackScript` comment defines it:
//!
//! ```text
//! template    = { text | placeholder | "\{{" }
//! placeholder = "{{" ws field ws [ "|" ws fallback ws ] "}}"
//! field       = object "." attribute      (lower_snake_case ASCII)
//! fallback    = '"' { char | '\"' | '\\' } '"'
//! ```
//!
//! Texts are parsed when a script or survey is saved, so an unknown field or
//! a malformed placeholder is refused there (reasons `UNKNOWN_PLACEHOLDER`
//! and `INVALID_TEMPLATE`) rather than surprising an agent mid-call; the
//! rendering then never fails: a field without a value renders its fallback,
//! or nothing, and is reported missing so the agent can adapt.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

/// The fields a script template may name (the `CallbackScript` comment).
pub const FIELDS: &[&str] = &[
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

/// The field only a survey's SMS template adds: each dimension's question
/// with its reply digits (`Survey.sms_template`).
pub const REPLY_INSTRUCTIONS: &str = "survey.reply_instructions";

/// Why a template cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A well-formed placeholder names a field that does not exist.
    #[error("the placeholder {{{{{0}}}}} names no known field")]
    UnknownField(String),
    /// The text is not a template (unclosed braces, a bad fallback).
    #[error("{0}")]
    Malformed(String),
}

impl TemplateError {
    /// The `CallbackErrorReason` (without prefix) the error is sent with.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnknownField(_) => "UNKNOWN_PLACEHOLDER",
            Self::Malformed(_) => "INVALID_TEMPLATE",
        }
    }
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Literal text, escapes already resolved.
    Text(String),
    /// A placeholder: the field and its fallback, if any.
    Field {
        field: String,
        fallback: Option<String>,
    },
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    parts: Vec<Part>,
}

/// A value a field renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Plain text, inserted as is.
    Text(String),
    /// An instant, rendered as its date in the tenant's zone.
    Time(DateTime<Utc>),
    /// A calendar date.
    Date(NaiveDate),
}

impl Value {
    /// A value as the task's render context keeps it (text): a `*_date`
    /// field holding an RFC 3339 instant or a `YYYY-MM-DD` date is a date,
    /// anything else is text.
    pub fn from_stored(field: &str, text: &str) -> Self {
        if field.ends_with("_date") {
            if let Ok(time) = DateTime::parse_from_rfc3339(text) {
                return Self::Time(time.with_timezone(&Utc));
            }
            if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                return Self::Date(date);
            }
        }
        Self::Text(text.to_owned())
    }
}

/// How dates render: the render locale and the tenant's time zone.
#[derive(Debug, Clone, Copy)]
pub struct DateStyle<'a> {
    /// BCP 47 locale of the rendering.
    pub locale: &'a str,
    /// The zone instants are read in.
    pub zone: Tz,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `date` in `locale`'s long form: `2024年10月1日` for Chinese and Japanese,
/// `1 October 2024` otherwise.
pub fn long_date(date: NaiveDate, locale: &str) -> String {
    let language = locale
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if language == "zh" || language == "ja" {
        format!("{}年{}月{}日", date.year(), date.month(), date.day())
    } else {
        let month = MONTHS[date.month0() as usize];
        format!("{} {month} {}", date.day(), date.year())
    }
}

/// Whether `name` is `object.attribute`, both lower_snake_case ASCII.
fn well_formed_field(name: &str) -> bool {
    let mut pieces = name.split('.');
    let (Some(object), Some(attribute), None) = (pieces.next(), pieces.next(), pieces.next())
    else {
        return false;
    };
    [object, attribute].iter().all(|piece| {
        piece.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
            && piece
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_')
    })
}

/// Reads templates, one character at a time.
struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Reader<'_> {
    fn skip_spaces(&mut self) {
        while self.chars.next_if(|next| next.is_whitespace()).is_some() {}
    }

    /// Reads a placeholder after its `{{`.
    fn placeholder(&mut self) -> Result<Part, TemplateError> {
        let malformed = |what: &str| Err(TemplateError::Malformed(what.to_owned()));
        self.skip_spaces();
        let mut field = String::new();
        while let Some(next) = self
            .chars
            .next_if(|next| next.is_ascii_alphanumeric() || matches!(next, '_' | '.'))
        {
            field.push(next);
        }
        if field.is_empty() {
            return malformed("a placeholder names no field (write \\{{ for literal braces)");
        }
        if !well_formed_field(&field) {
            return Err(TemplateError::Malformed(format!(
                "the placeholder {field:?} is not object.attribute in lower_snake_case"
            )));
        }
        self.skip_spaces();
        let mut fallback = None;
        if self.chars.next_if_eq(&'|').is_some() {
            self.skip_spaces();
            if self.chars.next_if_eq(&'"').is_none() {
                return Err(TemplateError::Malformed(format!(
                    "the fallback of {{{{{field}}}}} must be a quoted string"
                )));
            }
            let mut text = String::new();
            loop {
                match self.chars.next() {
                    None => {
                        return Err(TemplateError::Malformed(format!(
                            "the fallback of {{{{{field}}}}} is not closed"
                        )));
                    }
                    Some('"') => break,
                    Some('\\') => match self.chars.next() {
                        Some(escaped @ ('"' | '\\')) => text.push(escaped),
                        _ => {
                            return Err(TemplateError::Malformed(format!(
                                "the fallback of {{{{{field}}}}} has a backslash not before \" or \\"
                            )));
                        }
                    },
                    Some(other) => text.push(other),
                }
            }
            fallback = Some(text);
            self.skip_spaces();
        }
        if self.chars.next_if_eq(&'}').is_none() || self.chars.next_if_eq(&'}').is_none() {
            return Err(TemplateError::Malformed(format!(
                "the placeholder {{{{{field} is not closed with }}}}"
            )));
        }
        Ok(Part::Field { field, fallback })
    }
}

/// Parses `text`, accepting the script fields and `extra` ones.
pub fn parse(text: &str, extra: &[&str]) -> Result<Template, TemplateError> {
    let mut reader = Reader {
        chars: text.chars().peekable(),
    };
    let mut parts = Vec::new();
    let mut literal = String::new();
    while let Some(next) = reader.chars.next() {
        match next {
            '\\' if reader.chars.peek() == Some(&'{') => {
                // `\{{` is a literal `{{`; a backslash before one brace is
                // kept, as is every other backslash.
                let mut ahead = reader.chars.clone();
                ahead.next();
                if ahead.peek() == Some(&'{') {
                    reader.chars.next();
                    reader.chars.next();
                    literal.push_str("{{");
                } else {
                    literal.push('\\');
                }
            }
            '{' if reader.chars.peek() == Some(&'{') => {
                reader.chars.next();
                let part = reader.placeholder()?;
                if let Part::Field { field, .. } = &part
                    && !FIELDS.contains(&field.as_str())
                    && !extra.contains(&field.as_str())
                {
                    return Err(TemplateError::UnknownField(field.clone()));
                }
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(part);
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(Template { parts })
}

impl Template {
    /// The fields the template names, in order, each once.
    pub fn fields(&self) -> Vec<&str> {
        let mut seen = Vec::new();
        for part in &self.parts {
            if let Part::Field { field, .. } = part
                && !seen.contains(&field.as_str())
            {
                seen.push(field.as_str());
            }
        }
        seen
    }

    /// The text with every placeholder replaced by `value(field)`; a field
    /// without a value (or with an empty one) renders its fallback or
    /// nothing and is added to `missing`.
    pub fn render(
        &self,
        value: impl Fn(&str) -> Option<Value>,
        style: DateStyle<'_>,
        missing: &mut BTreeSet<String>,
    ) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field { field, fallback } => {
                    let rendered = match value(field) {
                        Some(Value::Text(text)) => text,
                        Some(Value::Time(time)) => {
                            long_date(time.with_timezone(&style.zone).date_naive(), style.locale)
                        }
                        Some(Value::Date(date)) => long_date(date, style.locale),
                        None => String::new(),
                    };
                    if rendered.is_empty() {
                        missing.insert(field.clone());
                        out.push_str(fallback.as_deref().unwrap_or_default());
                    } else {
                        out.push_str(&rendered);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn zh() -> DateStyle<'static> {
        DateStyle {
            locale: "zh-CN",
            zone: chrono_tz::Asia::Shanghai,
        }
    }

    fn render_with(text: &str, values: &[(&str, Value)]) -> (String, BTreeSet<String>) {
        let values: BTreeMap<&str, Value> = values.iter().cloned().collect();
        let template = parse(text, &[]).expect(text);
        let mut missing = BTreeSet::new();
        let out = template.render(|field| values.get(field).cloned(), zh(), &mut missing);
        (out, missing)
    }

    fn text(value: &str) -> Value {
        Value::Text(value.to_owned())
    }

    #[test]
    fn placeholders_render_their_values_with_spaces_allowed() {
        let (out, missing) = render_with(
            "您好,我是{{tenant.display_name}}的客服{{ agent.display_name }}",
            &[
                ("tenant.display_name", text("穆家寨生态旅游度假区")),
                ("agent.display_name", text("小王")),
            ],
        );
        assert_eq!(out, "您好,我是穆家寨生态旅游度假区的客服小王");
        assert!(missing.is_empty());
    }

    #[test]
    fn a_missing_value_renders_its_fallback_or_nothing_and_is_reported() {
        let (out, missing) = render_with(
            r#"请问您是{{customer.family_name | "这位客户"}}{{customer.honorific}}吗?"#,
            &[("customer.family_name", text(""))],
        );
        assert_eq!(out, "请问您是这位客户吗?");
        assert_eq!(
            missing.into_iter().collect::<Vec<_>>(),
            ["customer.family_name", "customer.honorific"]
        );
    }

    #[test]
    fn fallbacks_unescape_quotes_and_backslashes() {
        let (out, _) = render_with(r#"{{customer.tier | "a \"gold\" \\ tier"}}"#, &[]);
        assert_eq!(out, r#"a "gold" \ tier"#);
    }

    #[test]
    fn an_escaped_opening_renders_literal_braces() {
        let (out, missing) = render_with(r"type \{{customer.display_name}} or \{x} \n", &[]);
        assert_eq!(out, r"type {{customer.display_name}} or \{x} \n");
        assert!(missing.is_empty());
        // A single brace and a stray closing are plain text.
        let (out, _) = render_with("a { b }} c", &[]);
        assert_eq!(out, "a { b }} c");
    }

    #[test]
    fn dates_render_in_the_locale_long_form_in_the_tenant_zone() {
        // 2024-09-30T17:00Z is 1 October in Shanghai.
        let time = DateTime::parse_from_rfc3339("2024-09-30T17:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let (out, _) = render_with(
            "感谢您在{{task.trigger_date}}体验",
            &[("task.trigger_date", Value::Time(time))],
        );
        assert_eq!(out, "感谢您在2024年10月1日体验");
        let template = parse("on {{task.trigger_date}}", &[]).expect("parses");
        let english = template.render(
            |_| Some(Value::Time(time)),
            DateStyle {
                locale: "en",
                zone: chrono_tz::Asia::Shanghai,
            },
            &mut BTreeSet::new(),
        );
        assert_eq!(english, "on 1 October 2024");
        assert_eq!(
            Value::from_stored("ticket.resolved_date", "2024-10-01"),
            Value::Date(NaiveDate::from_ymd_opt(2024, 10, 1).expect("date"))
        );
        assert_eq!(
            Value::from_stored("ticket.subject", "2024-10-01"),
            text("2024-10-01")
        );
    }

    #[test]
    fn unknown_fields_are_refused_as_unknown_placeholders() {
        let error = parse("您好{{customer.nickname}}", &[]).unwrap_err();
        assert_eq!(
            error,
            TemplateError::UnknownField("customer.nickname".into())
        );
        assert_eq!(error.reason(), "UNKNOWN_PLACEHOLDER");
        assert!(parse("{{survey.reply_instructions}}", &[]).is_err());
        assert!(parse("{{survey.reply_instructions}}", &[REPLY_INSTRUCTIONS]).is_ok());
    }

    #[test]
    fn malformed_placeholders_are_invalid_templates() {
        for text in [
            "您好{{customer.display_name",
            "您好{{customer.display_name}",
            "{{}}",
            "{{ customer }}",
            "{{Customer.display_name}}",
            "{{customer.display_name.x}}",
            "{{customer.display_name | 先生}}",
            r#"{{customer.display_name | "先生}}"#,
            r#"{{customer.display_name | "a\b"}}"#,
            r#"{{customer.display_name | "a" "b"}}"#,
        ] {
            let error = parse(text, &[]).expect_err(text);
            assert_eq!(error.reason(), "INVALID_TEMPLATE", "{text}: {error}");
        }
    }

    #[test]
    fn every_documented_field_parses_and_is_listed_once() {
        let text: String = FIELDS
            .iter()
            .map(|field| format!("{{{{{field}}}}}"))
            .collect();
        let template = parse(&text, &[]).expect("every field");
        assert_eq!(template.fields(), FIELDS);
    }
}
