//! The AIP-160 filters of ListCustomers, segments and PreviewSegment, and
//! the `order_by` of ListCustomers: parsed once into an expression over the
//! documented fields, then evaluated over decoded customers.
//!
//! The subset: conditions `field op value` with `=`, `!=`, `<`, `<=`, `>`,
//! `>=` and `:` (has: an element of a repeated field, a substring of a text,
//! `:*` for "is set"), joined by `AND`, `OR` and `NOT` (or `-`) with
//! parentheses. As in AIP-160, `OR` binds tighter than `AND`:
//! `a AND b OR c` is `a AND (b OR c)`. Values are quoted strings, numbers,
//! `true`/`false`, enum names with or without their prefix
//! (`CONSERVATIVE`, `RISK_PROFILE_CONSERVATIVE`, case-insensitive),
//! `YYYY-MM-DD` dates and RFC 3339 times; a trailing `*` in a text value
//! matches a prefix (`display_name = "张*"`). `attributes.<key>` compares by
//! the type the tenant's schema gives the key, so a typo is refused instead
//! of silently matching nothing.

use std::{cmp::Ordering, collections::HashMap};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use kefu_kit::events::from_timestamp;
use kefu_proto::v1::{AttributeType, Channel, Customer, CustomerIdentifierKind, RiskProfile};
use prost_types::value::Kind as JsonKind;

use super::customer::{naive_date, sort_key};

/// Why a filter or order cannot be read; the message is for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

fn error<T>(message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError(message.into()))
}

/// How deep parentheses and NOTs may nest.
const MAX_DEPTH: usize = 32;
/// How many conditions one filter may hold.
const MAX_CONDITIONS: usize = 200;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `:`.
    Has,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Has => ":",
        }
    }

    fn is_ordering(self) -> bool {
        matches!(self, Self::Lt | Self::Le | Self::Gt | Self::Ge)
    }

    /// Whether `ordering` (actual compared with wanted) satisfies the operator.
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

/// A filterable field of a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `display_name`.
    DisplayName,
    /// `tags`.
    Tags,
    /// `member`.
    Member,
    /// `member_since`.
    MemberSince,
    /// `tier`.
    Tier,
    /// `tier_locked`.
    TierLocked,
    /// `segments`.
    Segments,
    /// `owner`.
    Owner,
    /// `risk_profile`.
    RiskProfile,
    /// `source_channel`.
    SourceChannel,
    /// `contribution.amount_minor`.
    Contribution,
    /// `asset_size.amount_minor`.
    AssetSize,
    /// `customer_since`.
    CustomerSince,
    /// `addresses.region_code`.
    RegionCode,
    /// `addresses.administrative_area`.
    AdministrativeArea,
    /// `addresses.locality`.
    Locality,
    /// `identifiers.kind`.
    IdentifierKind,
    /// `contact_preferences.do_not_disturb`.
    DoNotDisturb,
    /// `contact_preferences.sms_consent`.
    SmsConsent,
    /// `contact_preferences.preferred_channel`.
    PreferredChannel,
    /// `first_contact_time`.
    FirstContactTime,
    /// `attributes_valid`.
    AttributesValid,
    /// `attributes.<key>` of the schema's type.
    Attribute(String, AttributeType),
    /// `create_time`.
    CreateTime,
    /// `update_time`.
    UpdateTime,
}

/// How a field's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    TextList,
    Bool,
    Int,
    Number,
    Date,
    Time,
    Enum(EnumKind),
    EnumList(EnumKind),
    /// A name in a collection (`tiers`), or empty for none.
    Reference(&'static str),
    ReferenceList(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EnumKind {
    RiskProfile,
    Channel,
    IdentifierKind,
}

impl EnumKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::RiskProfile => "RISK_PROFILE_",
            Self::Channel => "CHANNEL_",
            Self::IdentifierKind => "CUSTOMER_IDENTIFIER_KIND_",
        }
    }

    fn number(self, name: &str) -> Option<i32> {
        let upper = name.to_ascii_uppercase();
        let full = if upper.starts_with(self.prefix()) {
            upper
        } else {
            format!("{}{upper}", self.prefix())
        };
        match self {
            Self::RiskProfile => RiskProfile::from_str_name(&full).map(|v| v as i32),
            Self::Channel => Channel::from_str_name(&full).map(|v| v as i32),
            Self::IdentifierKind => CustomerIdentifierKind::from_str_name(&full).map(|v| v as i32),
        }
    }
}

/// The documented fields (`ListCustomersRequest.filter`).
const FIELDS: &[(&str, Field, Kind)] = &[
    ("display_name", Field::DisplayName, Kind::Text),
    ("tags", Field::Tags, Kind::TextList),
    ("member", Field::Member, Kind::Bool),
    ("member_since", Field::MemberSince, Kind::Date),
    ("tier", Field::Tier, Kind::Reference("tiers")),
    ("tier_locked", Field::TierLocked, Kind::Bool),
    ("segments", Field::Segments, Kind::ReferenceList("segments")),
    ("owner", Field::Owner, Kind::Reference("users")),
    (
        "risk_profile",
        Field::RiskProfile,
        Kind::Enum(EnumKind::RiskProfile),
    ),
    (
        "source_channel",
        Field::SourceChannel,
        Kind::Enum(EnumKind::Channel),
    ),
    ("contribution.amount_minor", Field::Contribution, Kind::Int),
    ("asset_size.amount_minor", Field::AssetSize, Kind::Int),
    ("customer_since", Field::CustomerSince, Kind::Date),
    ("addresses.region_code", Field::RegionCode, Kind::TextList),
    (
        "addresses.administrative_area",
        Field::AdministrativeArea,
        Kind::TextList,
    ),
    ("addresses.locality", Field::Locality, Kind::TextList),
    (
        "identifiers.kind",
        Field::IdentifierKind,
        Kind::EnumList(EnumKind::IdentifierKind),
    ),
    (
        "contact_preferences.do_not_disturb",
        Field::DoNotDisturb,
        Kind::Bool,
    ),
    (
        "contact_preferences.sms_consent",
        Field::SmsConsent,
        Kind::Bool,
    ),
    (
        "contact_preferences.preferred_channel",
        Field::PreferredChannel,
        Kind::Enum(EnumKind::Channel),
    ),
    ("first_contact_time", Field::FirstContactTime, Kind::Time),
    ("attributes_valid", Field::AttributesValid, Kind::Bool),
    ("create_time", Field::CreateTime, Kind::Time),
    ("update_time", Field::UpdateTime, Kind::Time),
];

/// A value to compare with, read for the field's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `:*`: the field is set.
    Present,
    /// A text (compared exactly, tags case-insensitively).
    Text(String),
    /// A text ending in `*`: the prefix before it.
    Prefix(String),
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A JSON number (attributes).
    Number(f64),
    /// A calendar date.
    Date(NaiveDate),
    /// An instant.
    Time(DateTime<Utc>),
    /// An enum value's number.
    Enum(i32),
}

/// One condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The field.
    pub field: Field,
    /// The operator.
    pub op: Op,
    /// The value.
    pub value: Value,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches every customer (an empty filter).
    All,
    /// Every part holds.
    And(Vec<Filter>),
    /// Some part holds.
    Or(Vec<Filter>),
    /// The part does not hold.
    Not(Box<Filter>),
    /// A condition holds.
    Condition(Condition),
}

/// What the parser needs to know besides the text: the tenant's attribute
/// keys and types, and whether `segments` may be used (not in a segment's
/// own filter).
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Attribute key → type, from the tenant's schema.
    pub attributes: HashMap<String, AttributeType>,
    /// Whether `segments` is refused.
    pub without_segments: bool,
}

/// Parses `text` into a filter; empty text matches everything.
pub fn parse(text: &str, vocabulary: &Vocabulary) -> Result<Filter, FilterError> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        at: 0,
        vocabulary,
        conditions: 0,
    };
    parser.skip_space();
    if parser.at == parser.chars.len() {
        return Ok(Filter::All);
    }
    let filter = parser.and(0)?;
    parser.skip_space();
    if parser.at < parser.chars.len() {
        return error(format!(
            "unexpected {:?} at character {}; join conditions with AND or OR",
            parser.rest_preview(),
            parser.at + 1
        ));
    }
    Ok(filter)
}

struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    vocabulary: &'a Vocabulary,
    conditions: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.chars.get(self.at).is_some_and(|c| c.is_whitespace()) {
            self.at += 1;
        }
    }

    fn rest_preview(&self) -> String {
        self.chars[self.at..].iter().take(20).collect()
    }

    /// Whether the keyword `word` is next (followed by a space or `(`);
    /// consumes it if so.
    fn keyword(&mut self, word: &str) -> bool {
        self.skip_space();
        let end = self.at + word.chars().count();
        if end > self.chars.len() {
            return false;
        }
        let found: String = self.chars[self.at..end].iter().collect();
        let boundary = self
            .chars
            .get(end)
            .is_none_or(|c| c.is_whitespace() || *c == '(');
        if found == word && boundary {
            self.at = end;
            true
        } else {
            false
        }
    }

    fn and(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut parts = vec![self.or(depth)?];
        while self.keyword("AND") {
            parts.push(self.or(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn or(&mut self, depth: usize) -> Result<Filter, FilterError> {
        let mut parts = vec![self.term(depth)?];
        while self.keyword("OR") {
            parts.push(self.term(depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn term(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if depth > MAX_DEPTH {
            return error(format!("the filter nests deeper than {MAX_DEPTH} levels"));
        }
        self.skip_space();
        if self.keyword("NOT") {
            return Ok(Filter::Not(Box::new(self.term(depth + 1)?)));
        }
        match self.chars.get(self.at) {
            None => error("the filter ends where a condition should follow"),
            Some('-') => {
                self.at += 1;
                Ok(Filter::Not(Box::new(self.term(depth + 1)?)))
            }
            Some('(') => {
                self.at += 1;
                let inner = self.and(depth + 1)?;
                self.skip_space();
                if self.chars.get(self.at) != Some(&')') {
                    return error("a parenthesis is not closed");
                }
                self.at += 1;
                Ok(inner)
            }
            Some(_) => self.condition().map(Filter::Condition),
        }
    }

    fn condition(&mut self) -> Result<Condition, FilterError> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return error(format!(
                "the filter holds more than {MAX_CONDITIONS} conditions"
            ));
        }
        let start = self.at;
        while self
            .chars
            .get(self.at)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        {
            self.at += 1;
        }
        let path: String = self.chars[start..self.at].iter().collect();
        if path.is_empty() {
            return error(format!(
                "expected a field name at character {}, found {:?}",
                self.at + 1,
                self.rest_preview()
            ));
        }
        let (field, kind) = self.field(&path)?;
        self.skip_space();
        let op = self.operator().ok_or_else(|| {
            FilterError(format!(
                "{path} must be followed by an operator (=, !=, <, <=, >, >=, :)"
            ))
        })?;
        self.skip_space();
        let (raw, quoted) = self.value(&path)?;
        let value = read_value(&path, kind, op, &raw, quoted)?;
        Ok(Condition { field, op, value })
    }

    fn field(&self, path: &str) -> Result<(Field, Kind), FilterError> {
        if let Some(key) = path.strip_prefix("attributes.") {
            let Some(kind) = self.vocabulary.attributes.get(key) else {
                return error(format!(
                    "{path}: {key:?} is not an attribute of the tenant's schema"
                ));
            };
            let compare = match kind {
                AttributeType::Number => Kind::Number,
                AttributeType::Bool => Kind::Bool,
                AttributeType::Date => Kind::Date,
                _ => Kind::Text,
            };
            return Ok((Field::Attribute(key.to_owned(), *kind), compare));
        }
        if path == "segments" && self.vocabulary.without_segments {
            return error("a segment's filter cannot use segments");
        }
        FIELDS
            .iter()
            .find(|(name, _, _)| *name == path)
            .map(|(_, field, kind)| (field.clone(), *kind))
            .ok_or_else(|| {
                let names: Vec<&str> = FIELDS
                    .iter()
                    .map(|(name, _, _)| *name)
                    .filter(|name| !(self.vocabulary.without_segments && *name == "segments"))
                    .collect();
                FilterError(format!(
                    "cannot filter on {path:?}; filter fields: {}, attributes.<key>",
                    names.join(", ")
                ))
            })
    }

    fn operator(&mut self) -> Option<Op> {
        let next: String = self.chars[self.at..].iter().take(2).collect();
        let (op, width) = if next.starts_with("<=") {
            (Op::Le, 2)
        } else if next.starts_with(">=") {
            (Op::Ge, 2)
        } else if next.starts_with("!=") {
            (Op::Ne, 2)
        } else if next.starts_with('=') {
            (Op::Eq, 1)
        } else if next.starts_with('<') {
            (Op::Lt, 1)
        } else if next.starts_with('>') {
            (Op::Gt, 1)
        } else if next.starts_with(':') {
            (Op::Has, 1)
        } else {
            return None;
        };
        self.at += width;
        Some(op)
    }

    /// The value text and whether it was quoted.
    fn value(&mut self, path: &str) -> Result<(String, bool), FilterError> {
        match self.chars.get(self.at).copied() {
            Some(quote @ ('"' | '\'')) => {
                self.at += 1;
                let mut text = String::new();
                loop {
                    match self.chars.get(self.at).copied() {
                        None => return error(format!("the quoted value of {path} is not closed")),
                        Some('\\') => {
                            let escaped =
                                self.chars.get(self.at + 1).copied().ok_or_else(|| {
                                    FilterError(format!("the quoted value of {path} is not closed"))
                                })?;
                            text.push(escaped);
                            self.at += 2;
                        }
                        Some(c) if c == quote => {
                            self.at += 1;
                            return Ok((text, true));
                        }
                        Some(c) => {
                            text.push(c);
                            self.at += 1;
                        }
                    }
                }
            }
            _ => {
                let start = self.at;
                while self
                    .chars
                    .get(self.at)
                    .is_some_and(|c| !c.is_whitespace() && *c != '(' && *c != ')')
                {
                    self.at += 1;
                }
                let text: String = self.chars[start..self.at].iter().collect();
                if text.is_empty() {
                    return error(format!("{path} needs a value"));
                }
                Ok((text, false))
            }
        }
    }
}

fn read_value(
    path: &str,
    kind: Kind,
    op: Op,
    raw: &str,
    quoted: bool,
) -> Result<Value, FilterError> {
    if op == Op::Has && raw == "*" && !quoted {
        return Ok(Value::Present);
    }
    let refuse = || {
        error(format!(
            "the operator {} does not apply to {path}",
            op.symbol()
        ))
    };
    match kind {
        Kind::Text => {
            if op.is_ordering() {
                return refuse();
            }
            Ok(text_value(raw))
        }
        Kind::TextList | Kind::ReferenceList(_) | Kind::EnumList(_) => {
            if op.is_ordering() {
                return refuse();
            }
            match kind {
                Kind::EnumList(enum_kind) => enum_value(path, enum_kind, raw),
                Kind::ReferenceList(collection) => Ok(Value::Text(reference(collection, raw))),
                _ => Ok(Value::Text(raw.to_owned())),
            }
        }
        Kind::Reference(collection) => {
            if !matches!(op, Op::Eq | Op::Ne) {
                return refuse();
            }
            Ok(Value::Text(reference(collection, raw)))
        }
        Kind::Bool => {
            if !matches!(op, Op::Eq | Op::Ne) {
                return refuse();
            }
            match raw.to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => error(format!("{path} compares with true or false, not {raw:?}")),
            }
        }
        Kind::Int => {
            if op == Op::Has {
                return refuse();
            }
            raw.parse::<i64>()
                .map(Value::Int)
                .map_err(|_| FilterError(format!("{path} compares with an integer, not {raw:?}")))
        }
        Kind::Number => {
            if op == Op::Has {
                return refuse();
            }
            raw.parse::<f64>()
                .ok()
                .filter(|number| number.is_finite())
                .map(Value::Number)
                .ok_or_else(|| FilterError(format!("{path} compares with a number, not {raw:?}")))
        }
        Kind::Date => {
            if op == Op::Has {
                return refuse();
            }
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map(Value::Date)
                .map_err(|_| {
                    FilterError(format!(
                        "{path} compares with a date such as \"2026-12-01\", not {raw:?}"
                    ))
                })
        }
        Kind::Time => {
            if op == Op::Has {
                return refuse();
            }
            time_value(raw).map(Value::Time).ok_or_else(|| {
                FilterError(format!(
                    "{path} compares with an RFC 3339 time such as \"2026-12-01T08:00:00Z\" or a date, not {raw:?}"
                ))
            })
        }
        Kind::Enum(enum_kind) => {
            if !matches!(op, Op::Eq | Op::Ne) {
                return refuse();
            }
            enum_value(path, enum_kind, raw)
        }
    }
}

fn text_value(raw: &str) -> Value {
    match raw.strip_suffix('*') {
        Some(prefix) => Value::Prefix(prefix.to_owned()),
        None => Value::Text(raw.to_owned()),
    }
}

/// A reference as stored in the resource: `tiers/gold` for `gold` or
/// `tiers/gold`; empty stays empty (none).
fn reference(collection: &str, raw: &str) -> String {
    if raw.is_empty() || raw.starts_with(&format!("{collection}/")) {
        raw.to_owned()
    } else {
        format!("{collection}/{raw}")
    }
}

fn enum_value(path: &str, kind: EnumKind, raw: &str) -> Result<Value, FilterError> {
    kind.number(raw).map(Value::Enum).ok_or_else(|| {
        FilterError(format!(
            "{raw:?} is not a value of {path} (write it with or without {})",
            kind.prefix()
        ))
    })
}

fn time_value(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(raw) {
        return Some(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .map(|date| date.and_time(NaiveTime::MIN).and_utc())
}

impl Filter {
    /// Whether `customer` satisfies the filter.
    pub fn matches(&self, customer: &Customer) -> bool {
        match self {
            Self::All => true,
            Self::And(parts) => parts.iter().all(|part| part.matches(customer)),
            Self::Or(parts) => parts.iter().any(|part| part.matches(customer)),
            Self::Not(part) => !part.matches(customer),
            Self::Condition(condition) => condition.matches(customer),
        }
    }

    /// Reads `owner = "users/me"` as the caller `user` (`users/{id}`), or
    /// tells which condition cannot be read when the caller is no user.
    pub fn resolve_me(&mut self, user: Option<&str>) -> Result<(), FilterError> {
        match self {
            Self::All => Ok(()),
            Self::And(parts) | Self::Or(parts) => {
                parts.iter_mut().try_for_each(|part| part.resolve_me(user))
            }
            Self::Not(part) => part.resolve_me(user),
            Self::Condition(Condition {
                field: Field::Owner,
                value: Value::Text(owner),
                ..
            }) if owner == "users/me" => match user {
                Some(user) => {
                    *owner = user.to_owned();
                    Ok(())
                }
                None => error("owner = \"users/me\" needs a signed-in user"),
            },
            Self::Condition(_) => Ok(()),
        }
    }

    /// Every condition of the filter, wherever it stands.
    pub fn conditions(&self) -> Vec<&Condition> {
        match self {
            Self::All => Vec::new(),
            Self::And(parts) | Self::Or(parts) => {
                parts.iter().flat_map(|part| part.conditions()).collect()
            }
            Self::Not(part) => part.conditions(),
            Self::Condition(condition) => vec![condition],
        }
    }

    /// The conditions every match must satisfy (the top-level conjuncts),
    /// for narrowing a query before evaluation.
    pub fn required_conditions(&self) -> Vec<&Condition> {
        match self {
            Self::Condition(condition) => vec![condition],
            Self::And(parts) => parts
                .iter()
                .flat_map(|part| part.required_conditions())
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn compare_text(actual: &str, op: Op, value: &Value, ignore_case: bool) -> bool {
    let fold = |text: &str| {
        if ignore_case {
            text.to_lowercase()
        } else {
            text.to_owned()
        }
    };
    match value {
        Value::Present => !actual.is_empty(),
        Value::Prefix(prefix) => {
            let found = fold(actual).starts_with(&fold(prefix));
            if op == Op::Ne { !found } else { found }
        }
        Value::Text(wanted) => match op {
            Op::Has => fold(actual).contains(&fold(wanted)),
            _ => op.accepts(fold(actual).cmp(&fold(wanted))),
        },
        _ => false,
    }
}

/// An element of a repeated field equals the value (`:` and `=`), or none
/// does (`!=`).
fn compare_list<'a>(
    mut actual: impl Iterator<Item = &'a str>,
    op: Op,
    value: &Value,
    ignore_case: bool,
) -> bool {
    match value {
        Value::Present => actual.next().is_some(),
        Value::Text(_) | Value::Prefix(_) => {
            let any = actual.any(|item| compare_text(item, Op::Eq, value, ignore_case));
            if op == Op::Ne { !any } else { any }
        }
        _ => false,
    }
}

/// An unset value is not equal to anything and orders against nothing.
fn compare_ordered<T: PartialOrd>(actual: Option<T>, op: Op, wanted: Option<T>) -> bool {
    match (actual, wanted) {
        (Some(actual), Some(wanted)) => actual
            .partial_cmp(&wanted)
            .is_some_and(|ordering| op.accepts(ordering)),
        _ => op == Op::Ne,
    }
}

impl Condition {
    fn matches(&self, customer: &Customer) -> bool {
        let op = self.op;
        let value = &self.value;
        let present = *value == Value::Present;
        let boolean = |actual: bool| match value {
            Value::Present => actual,
            Value::Bool(wanted) => op.accepts(actual.cmp(wanted)),
            _ => false,
        };
        let integer = |actual: i64| match value {
            Value::Present => actual != 0,
            Value::Int(wanted) => op.accepts(actual.cmp(wanted)),
            _ => false,
        };
        let date = |actual: Option<NaiveDate>| match value {
            Value::Present => actual.is_some(),
            Value::Date(wanted) => compare_ordered(actual, op, Some(*wanted)),
            _ => false,
        };
        let time = |actual: Option<&prost_types::Timestamp>| {
            let actual = actual.and_then(from_timestamp);
            match value {
                Value::Present => actual.is_some(),
                Value::Time(wanted) => compare_ordered(actual, op, Some(*wanted)),
                _ => false,
            }
        };
        let enumeration = |actual: i32| match value {
            Value::Present => actual != 0,
            Value::Enum(wanted) => op.accepts(actual.cmp(wanted)),
            _ => false,
        };
        let preferences = customer.contact_preferences.clone().unwrap_or_default();
        match &self.field {
            Field::DisplayName => compare_text(&customer.display_name, op, value, false),
            Field::Tags => compare_list(customer.tags.iter().map(String::as_str), op, value, true),
            Field::Member => boolean(customer.member),
            Field::MemberSince => date(customer.member_since.as_ref().and_then(naive_date)),
            Field::Tier => compare_text(&customer.tier, op, value, false),
            Field::TierLocked => boolean(customer.tier_locked),
            Field::Segments => compare_list(
                customer.segments.iter().map(String::as_str),
                op,
                value,
                false,
            ),
            Field::Owner => compare_text(&customer.owner, op, value, false),
            Field::RiskProfile => enumeration(customer.risk_profile),
            Field::SourceChannel => enumeration(customer.source_channel),
            Field::Contribution => integer(
                customer
                    .contribution
                    .as_ref()
                    .map_or(0, |money| money.amount_minor),
            ),
            Field::AssetSize => integer(
                customer
                    .asset_size
                    .as_ref()
                    .map_or(0, |money| money.amount_minor),
            ),
            Field::CustomerSince => date(customer.customer_since.as_ref().and_then(naive_date)),
            Field::RegionCode => compare_list(
                customer.addresses.iter().map(|a| a.region_code.as_str()),
                op,
                value,
                true,
            ),
            Field::AdministrativeArea => compare_list(
                customer
                    .addresses
                    .iter()
                    .map(|a| a.administrative_area.as_str()),
                op,
                value,
                false,
            ),
            Field::Locality => compare_list(
                customer.addresses.iter().map(|a| a.locality.as_str()),
                op,
                value,
                false,
            ),
            Field::IdentifierKind => {
                let Value::Enum(wanted) = value else {
                    return present && !customer.identifiers.is_empty();
                };
                let any = customer.identifiers.iter().any(|id| id.kind == *wanted);
                if op == Op::Ne { !any } else { any }
            }
            Field::DoNotDisturb => boolean(preferences.do_not_disturb),
            Field::SmsConsent => boolean(preferences.sms_consent),
            Field::PreferredChannel => enumeration(preferences.preferred_channel),
            Field::FirstContactTime => time(customer.first_contact_time.as_ref()),
            Field::AttributesValid => boolean(customer.attributes_valid),
            Field::CreateTime => time(customer.create_time.as_ref()),
            Field::UpdateTime => time(customer.update_time.as_ref()),
            Field::Attribute(key, _) => {
                let actual = customer
                    .attributes
                    .as_ref()
                    .and_then(|attributes| attributes.fields.get(key))
                    .and_then(|value| value.kind.as_ref())
                    .filter(|kind| !matches!(kind, JsonKind::NullValue(_)));
                let Some(actual) = actual else {
                    // An absent attribute satisfies only `!=`: it is not
                    // the value asked for.
                    return op == Op::Ne && !present;
                };
                match (actual, value) {
                    (_, Value::Present) => true,
                    (JsonKind::StringValue(text), Value::Text(_) | Value::Prefix(_)) => {
                        compare_text(text, op, value, false)
                    }
                    (JsonKind::StringValue(text), Value::Date(wanted)) => compare_ordered(
                        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
                        op,
                        Some(*wanted),
                    ),
                    (JsonKind::NumberValue(number), Value::Number(wanted)) => {
                        compare_ordered(Some(*number), op, Some(*wanted))
                    }
                    (JsonKind::BoolValue(flag), Value::Bool(wanted)) => {
                        op.accepts(flag.cmp(wanted))
                    }
                    // A value of another type than the schema's (left from
                    // an older schema) equals nothing.
                    _ => op == Op::Ne,
                }
            }
        }
    }
}

/// A field ListCustomers can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderField {
    /// `create_time`.
    CreateTime,
    /// `update_time`.
    UpdateTime,
    /// `display_name` (pinyin collation).
    DisplayName,
    /// `contribution.amount_minor`.
    Contribution,
    /// `asset_size.amount_minor`.
    AssetSize,
}

const ORDER_FIELDS: &[(&str, OrderField)] = &[
    ("create_time", OrderField::CreateTime),
    ("update_time", OrderField::UpdateTime),
    ("display_name", OrderField::DisplayName),
    ("contribution.amount_minor", OrderField::Contribution),
    ("asset_size.amount_minor", OrderField::AssetSize),
];

/// One key of an order and whether it is descending.
pub type OrderKey = (OrderField, bool);

/// Parses an AIP-132 `order_by`; empty is `create_time`.
pub fn parse_order(order_by: &str) -> Result<Vec<OrderKey>, FilterError> {
    if order_by.trim().is_empty() {
        return Ok(vec![(OrderField::CreateTime, false)]);
    }
    let mut keys = Vec::new();
    for part in order_by.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (name, descending) = match words.as_slice() {
            [name] => (*name, false),
            [name, direction] if direction.eq_ignore_ascii_case("desc") => (*name, true),
            [name, direction] if direction.eq_ignore_ascii_case("asc") => (*name, false),
            _ => return error(format!("{:?} is not `field` or `field desc`", part.trim())),
        };
        let Some((_, field)) = ORDER_FIELDS.iter().find(|(known, _)| *known == name) else {
            let names: Vec<&str> = ORDER_FIELDS.iter().map(|(known, _)| *known).collect();
            return error(format!(
                "cannot order by {name:?}; order fields: {}",
                names.join(", ")
            ));
        };
        if keys.iter().any(|(known, _)| known == field) {
            return error(format!("{name} appears twice in order_by"));
        }
        keys.push((*field, descending));
    }
    Ok(keys)
}

/// A value a customer is ordered by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    /// Amounts and times (nanoseconds since the epoch).
    Int(i64),
    /// Texts (the pinyin sort key of the name).
    Text(String),
}

/// The values of `customer` for `order`, in its order.
pub fn sort_values(customer: &Customer, order: &[OrderKey]) -> Vec<SortValue> {
    let nanos = |timestamp: &Option<prost_types::Timestamp>| {
        timestamp.as_ref().map_or(i64::MIN, |t| {
            t.seconds
                .saturating_mul(1_000_000_000)
                .saturating_add(i64::from(t.nanos))
        })
    };
    order
        .iter()
        .map(|(field, _)| match field {
            OrderField::CreateTime => SortValue::Int(nanos(&customer.create_time)),
            OrderField::UpdateTime => SortValue::Int(nanos(&customer.update_time)),
            OrderField::DisplayName => SortValue::Text(sort_key(customer)),
            OrderField::Contribution => SortValue::Int(
                customer
                    .contribution
                    .as_ref()
                    .map_or(0, |money| money.amount_minor),
            ),
            OrderField::AssetSize => SortValue::Int(
                customer
                    .asset_size
                    .as_ref()
                    .map_or(0, |money| money.amount_minor),
            ),
        })
        .collect()
}

/// Compares two customers' keys (values then name) under `order`.
pub fn compare_keys(
    order: &[OrderKey],
    a: &(Vec<SortValue>, String),
    b: &(Vec<SortValue>, String),
) -> Ordering {
    order
        .iter()
        .zip(a.0.iter().zip(b.0.iter()))
        .map(|((_, descending), (x, y))| {
            let ordering = x.cmp(y);
            if *descending {
                ordering.reverse()
            } else {
                ordering
            }
        })
        .find(|ordering| ordering.is_ne())
        .unwrap_or_else(|| a.1.cmp(&b.1))
}

#[cfg(test)]
mod tests {
    use kefu_kit::events::to_timestamp;
    use kefu_proto::v1::{ContactPreferences, CustomerIdentifier, Date, Money, PostalAddress};
    use prost_types::{Struct, Value as Json};

    use super::*;

    fn vocabulary() -> Vocabulary {
        Vocabulary {
            attributes: [
                ("house_type".to_owned(), AttributeType::Enum),
                ("floor_area".to_owned(), AttributeType::Number),
                ("handover".to_owned(), AttributeType::Date),
                ("vip".to_owned(), AttributeType::Bool),
            ]
            .into(),
            without_segments: false,
        }
    }

    fn customer() -> Customer {
        Customer {
            name: "customers/c-1".into(),
            display_name: "张三".into(),
            pinyin: "zhang san".into(),
            tags: vec!["VIP".into(), "业主".into()],
            member: true,
            member_since: Some(Date {
                year: 2024,
                month: 3,
                day: 1,
            }),
            tier: "tiers/gold".into(),
            segments: vec!["segments/members".into()],
            risk_profile: RiskProfile::Conservative as i32,
            source_channel: Channel::Phone as i32,
            contribution: Some(Money {
                currency_code: "CNY".into(),
                amount_minor: 500_000,
            }),
            addresses: vec![PostalAddress {
                region_code: "CN".into(),
                administrative_area: "上海市".into(),
                locality: "上海市".into(),
                ..PostalAddress::default()
            }],
            identifiers: vec![CustomerIdentifier {
                kind: CustomerIdentifierKind::UnitNumber as i32,
                value: "3-2-1502".into(),
                label: String::new(),
            }],
            contact_preferences: Some(ContactPreferences {
                sms_consent: true,
                preferred_channel: Channel::Sms as i32,
                ..ContactPreferences::default()
            }),
            attributes: Some(Struct {
                fields: [
                    (
                        "house_type".to_owned(),
                        Json {
                            kind: Some(JsonKind::StringValue("villa".into())),
                        },
                    ),
                    (
                        "floor_area".to_owned(),
                        Json {
                            kind: Some(JsonKind::NumberValue(180.5)),
                        },
                    ),
                    (
                        "handover".to_owned(),
                        Json {
                            kind: Some(JsonKind::StringValue("2023-06-30".into())),
                        },
                    ),
                ]
                .into(),
            }),
            attributes_valid: true,
            create_time: Some(to_timestamp(
                DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
                    .expect("time")
                    .with_timezone(&Utc),
            )),
            ..Customer::default()
        }
    }

    fn holds(filter: &str) -> bool {
        parse(filter, &vocabulary())
            .unwrap_or_else(|error| panic!("{filter}: {error}"))
            .matches(&customer())
    }

    #[test]
    fn conditions_on_each_kind_of_field() {
        for filter in [
            "",
            "member = true",
            "member != false",
            r#"display_name = "张三""#,
            r#"display_name = "张*""#,
            "display_name:三",
            r#"tags:"vip""#,
            "tags = 业主",
            "tags != blacklist",
            "tier = gold",
            r#"tier = "tiers/gold""#,
            "tier_locked = false",
            r#"segments:"segments/members""#,
            "segments:members",
            r#"owner = """#,
            "risk_profile = CONSERVATIVE",
            "risk_profile = RISK_PROFILE_CONSERVATIVE",
            "risk_profile = conservative",
            "risk_profile != AGGRESSIVE",
            "source_channel = PHONE",
            "contribution.amount_minor >= 500000",
            "contribution.amount_minor < 500001",
            "asset_size.amount_minor = 0",
            "member_since < 2024-03-02",
            "member_since >= 2024-03-01",
            "addresses.locality = 上海市",
            "addresses.region_code = cn",
            r#"addresses.administrative_area != "广东省""#,
            "identifiers.kind:UNIT_NUMBER",
            "identifiers.kind != CAR_VIN",
            "contact_preferences.sms_consent = true",
            "contact_preferences.do_not_disturb = false",
            "contact_preferences.preferred_channel = SMS",
            "attributes_valid = true",
            "create_time >= 2026-12-01T08:00:00Z",
            r#"create_time < "2026-12-01T08:00:01+00:00""#,
            "create_time > 2026-11-30",
            "update_time != 2026-12-01T08:00:00Z",
            "attributes.house_type = villa",
            "attributes.floor_area > 100",
            "attributes.handover < 2024-01-01",
            "attributes.vip != true",
            "attributes.house_type:*",
            "first_contact_time != 2026-12-01T08:00:00Z",
        ] {
            assert!(holds(filter), "{filter} should hold");
        }
        for filter in [
            "member = false",
            "tags:blacklist",
            "tags != vip",
            "tier = silver",
            r#"tier = """#,
            "owner:*",
            "risk_profile = BALANCED",
            "contribution.amount_minor > 500000",
            "addresses.locality = 北京市",
            "identifiers.kind = CAR_VIN",
            "first_contact_time:*",
            "first_contact_time < 2030-01-01",
            "attributes.vip = true",
            "attributes.vip:*",
            "attributes.floor_area <= 180",
            r#"display_name = "张""#,
        ] {
            assert!(!holds(filter), "{filter} should not hold");
        }
    }

    #[test]
    fn and_or_not_and_parentheses() {
        assert!(holds("member = true AND tags:vip"));
        assert!(!holds("member = true AND tags:blacklist"));
        assert!(holds("tags:blacklist OR tags:vip"));
        assert!(holds("NOT tags:blacklist"));
        assert!(holds("-tags:blacklist"));
        assert!(!holds("NOT (member = true AND tags:vip)"));
        // OR binds tighter than AND (AIP-160): false AND (false OR true).
        assert!(!holds("member = false AND tags:x OR tags:vip"));
        assert!(holds("(member = false AND tags:x) OR tags:vip"));
        assert!(holds(
            r#"member = true AND tier = "tiers/gold" AND addresses.locality = "上海市""#
        ));
        assert!(holds("((member = true))"));
    }

    #[test]
    fn quoted_values_keep_spaces_and_escapes() {
        let filter = parse(r#"display_name = "Zhang \"San\" Ltd""#, &vocabulary()).expect("parses");
        let mut zhang = customer();
        zhang.display_name = r#"Zhang "San" Ltd"#.into();
        assert!(filter.matches(&zhang));
        assert!(!filter.matches(&customer()));
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        for (filter, hint) in [
            ("colour = red", "cannot filter on \"colour\""),
            ("member", "must be followed by an operator"),
            ("member = maybe", "true or false"),
            ("member = ", "needs a value"),
            ("tier < gold", "does not apply"),
            ("contribution.amount_minor = lots", "integer"),
            ("create_time > yesterday", "RFC 3339"),
            ("member_since = 2024-13-01", "date"),
            ("risk_profile = BOLD", "not a value of risk_profile"),
            ("(member = true", "not closed"),
            ("member = true tags:vip", "AND or OR"),
            ("member = true AND", "ends where a condition"),
            (r#"display_name = "open"#, "not closed"),
            ("attributes.colour = red", "not an attribute"),
            ("attributes.floor_area = big", "number"),
            ("tags < vip", "does not apply"),
        ] {
            let error = parse(filter, &vocabulary()).expect_err(filter);
            assert!(error.0.contains(hint), "{filter}: {error}");
        }
        let segment = Vocabulary {
            without_segments: true,
            ..vocabulary()
        };
        assert!(parse("segments:x", &segment).is_err());
        let deep = format!("{}member = true{}", "(".repeat(40), ")".repeat(40));
        assert!(parse(&deep, &vocabulary()).is_err());
    }

    #[test]
    fn users_me_reads_as_the_caller() {
        let mut mine =
            parse(r#"owner = "users/me" OR member = true"#, &vocabulary()).expect("parses");
        mine.resolve_me(Some("users/u-1")).expect("a user");
        let owned = Customer {
            owner: "users/u-1".into(),
            ..Customer::default()
        };
        assert!(mine.matches(&owned));
        assert!(!mine.matches(&Customer::default()));
        let mut keyed = parse("owner = users/me", &vocabulary()).expect("parses");
        assert!(keyed.resolve_me(None).is_err());
    }

    #[test]
    fn required_conditions_are_the_top_level_conjuncts() {
        let filter = parse(
            "member = true AND (tags:a OR tags:b) AND tier = gold",
            &vocabulary(),
        )
        .expect("parses");
        let fields: Vec<&Field> = filter
            .required_conditions()
            .into_iter()
            .map(|condition| &condition.field)
            .collect();
        assert_eq!(fields, vec![&Field::Member, &Field::Tier]);
        let either = parse("member = true OR tier = gold", &vocabulary()).expect("parses");
        assert!(either.required_conditions().is_empty());
    }

    #[test]
    fn orders_read_fields_and_directions() {
        assert_eq!(
            parse_order("").expect("default"),
            vec![(OrderField::CreateTime, false)]
        );
        assert_eq!(
            parse_order("contribution.amount_minor desc, display_name").expect("parses"),
            vec![
                (OrderField::Contribution, true),
                (OrderField::DisplayName, false)
            ]
        );
        assert!(parse_order("name").is_err());
        assert!(parse_order("display_name upward").is_err());
        assert!(parse_order("display_name, display_name desc").is_err());
    }

    #[test]
    fn keys_compare_by_order_then_name() {
        let order = parse_order("contribution.amount_minor desc").expect("parses");
        let rich = (vec![SortValue::Int(10)], "customers/b".to_owned());
        let poor = (vec![SortValue::Int(1)], "customers/a".to_owned());
        let poor_too = (vec![SortValue::Int(1)], "customers/c".to_owned());
        assert_eq!(compare_keys(&order, &rich, &poor), Ordering::Less);
        assert_eq!(compare_keys(&order, &poor, &poor_too), Ordering::Less);
        let values = sort_values(&customer(), &order);
        assert_eq!(values, vec![SortValue::Int(500_000)]);
    }
}
