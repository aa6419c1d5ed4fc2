//! The rows of an import CSV (RFC 4180 with a header row): the columns the
//! contract lists, each cell read into the field it fills, the customer a
//! row creates or the changes it makes to a matched one, the keys a row is
//! matched and de-duplicated by, and the row errors, which name the column
//! and never quote a cell (files hold personal data; errors are listed to
//! anyone who may read the import).
//!
//! Empty cells mean "no value": a new customer leaves the field unset, a
//! matched one keeps what it has. Multi-valued cells (`phones`, `emails`,
//! `tags`, identifiers, `address_line`) are `;`-separated.

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    io::Read,
};

use kefu_proto::v1::{
    AttributeType, Channel, ContactPreferences, Customer, CustomerEmail, CustomerIdentifier,
    CustomerIdentifierKind, CustomerPhone, Date, Money, PostalAddress, RiskProfile,
};

use super::{
    customer::{IdentifierKey, naive_date, normalise},
    export_format::unescape_cell,
    identifier, names,
};
use kefu_kit::error::ServiceError;

use crate::error::CustomersError;

/// What separates the values of a multi-valued cell.
pub const SEPARATOR: char = ';';

/// Row errors kept per import; further failed rows are only counted.
pub const MAX_KEPT_ERRORS: i64 = 100_000;

/// Data rows a file may hold.
pub const MAX_ROWS: i64 = 5_000_000;

/// Bytes a file may hold (2 GiB).
pub const MAX_FILE_BYTES: i64 = 2 * 1024 * 1024 * 1024;

/// Bytes one `csv_chunk` may hold (1 MiB).
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;

/// Rows written per transaction.
pub const BATCH_ROWS: usize = 1000;

/// `DUPLICATE_ROW`: the row's key repeats an earlier row of the file.
pub const DUPLICATE_ROW: &str = "DUPLICATE_ROW";
/// `MALFORMED_ROW`: the row cannot be read (field count, encoding).
pub const MALFORMED_ROW: &str = "MALFORMED_ROW";
/// A cell that is not a value of its column, with no reason of its own: the
/// API-wide reason the same value would get from CreateCustomer.
pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";

/// The reason a row error carries for `error`: the one the API would send
/// in `ErrorInfo.reason` (`PHONE_INVALID`, else `INVALID_ARGUMENT`, …).
pub fn reason_of(error: &CustomersError) -> String {
    error
        .specific_reason()
        .unwrap_or_else(|| error.reason().as_str())
        .to_owned()
}

/// The identifier columns, by kind.
pub const IDENTIFIER_COLUMNS: &[(&str, CustomerIdentifierKind)] = &[
    ("unit_number", CustomerIdentifierKind::UnitNumber),
    ("order_account", CustomerIdentifierKind::OrderAccount),
    ("car_vin", CustomerIdentifierKind::CarVin),
    (
        "securities_account",
        CustomerIdentifierKind::SecuritiesAccount,
    ),
    ("patient_number", CustomerIdentifierKind::PatientNumber),
    ("member_card", CustomerIdentifierKind::MemberCard),
];

/// Every column but `attr.<key>`, in the order exports write them.
pub const COLUMNS: &[&str] = &[
    "external_id",
    "display_name",
    "family_name",
    "given_name",
    "pinyin",
    "phones",
    "emails",
    "region_code",
    "administrative_area",
    "locality",
    "sublocality",
    "address_line",
    "postal_code",
    "unit_number",
    "order_account",
    "car_vin",
    "securities_account",
    "patient_number",
    "member_card",
    "tags",
    "member",
    "member_since",
    "customer_since",
    "risk_profile",
    "contribution",
    "asset_size",
    "tier",
    "owner",
    "source_channel",
    "do_not_disturb",
    "sms_consent",
    "preferred_channel",
];

/// The prefix of custom attribute columns.
pub const ATTRIBUTE_PREFIX: &str = "attr.";

/// One column of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A column of [`COLUMNS`].
    Field(&'static str),
    /// `attr.<key>`.
    Attribute(String),
}

impl Column {
    /// The header of the column.
    pub fn header(&self) -> String {
        match self {
            Self::Field(name) => (*name).to_owned(),
            Self::Attribute(key) => format!("{ATTRIBUTE_PREFIX}{key}"),
        }
    }
}

/// The header row, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The columns in file order.
    pub columns: Vec<Column>,
}

/// Reads the header row; the reason the file is unusable otherwise
/// (`IMPORT_FILE_INVALID`), naming the column at fault.
pub fn header(fields: &[String]) -> Result<Header, String> {
    let mut columns = Vec::with_capacity(fields.len());
    for (index, field) in fields.iter().enumerate() {
        let name = field.trim().trim_start_matches('\u{feff}').trim();
        let lower = name.to_ascii_lowercase();
        let column = if let Some(&known) = COLUMNS.iter().find(|known| **known == lower) {
            Column::Field(known)
        } else if lower.starts_with(ATTRIBUTE_PREFIX) && name.len() > ATTRIBUTE_PREFIX.len() {
            Column::Attribute(name[ATTRIBUTE_PREFIX.len()..].to_owned())
        } else if name.is_empty() {
            return Err(format!(
                "column {} of the header row has no name",
                index + 1
            ));
        } else {
            return Err(format!(
                "the header row names an unknown column {name:?}; columns: {}, attr.<key>",
                COLUMNS.join(", ")
            ));
        };
        if columns.contains(&column) {
            return Err(format!(
                "the header row names the column {:?} twice",
                column.header()
            ));
        }
        columns.push(column);
    }
    if !columns.contains(&Column::Field("display_name")) {
        return Err("the header row has no display_name column (the one required column)".into());
    }
    Ok(Header { columns })
}

/// Why a row was refused, by line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The file line the row starts on (1 is the header).
    pub line: i64,
    /// The column at fault; empty for the whole row.
    pub field: String,
    /// `PHONE_INVALID`, `DUPLICATE_ROW`, …
    pub reason: String,
    /// What is wrong, without the cell's value.
    pub message: String,
}

impl RowError {
    /// A row error.
    pub fn new(
        line: i64,
        field: impl Into<String>,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            line,
            field: field.into(),
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// The non-empty cells of a row, read into their types.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowInput {
    /// `external_id`.
    pub external_id: Option<String>,
    /// `display_name`.
    pub display_name: Option<String>,
    /// `family_name`.
    pub family_name: Option<String>,
    /// `given_name`.
    pub given_name: Option<String>,
    /// `pinyin`.
    pub pinyin: Option<String>,
    /// `phones`, first the primary.
    pub phones: Option<Vec<String>>,
    /// `emails`, first the primary.
    pub emails: Option<Vec<String>>,
    /// `region_code`.
    pub region_code: Option<String>,
    /// `administrative_area`.
    pub administrative_area: Option<String>,
    /// `locality`.
    pub locality: Option<String>,
    /// `sublocality`.
    pub sublocality: Option<String>,
    /// `address_line` (`;`-separated lines).
    pub address_lines: Option<Vec<String>>,
    /// `postal_code`.
    pub postal_code: Option<String>,
    /// Identifier columns with values, in file order.
    pub identifiers: Vec<(&'static str, CustomerIdentifierKind, Vec<String>)>,
    /// `tags`.
    pub tags: Option<Vec<String>>,
    /// `member`.
    pub member: Option<bool>,
    /// `member_since`.
    pub member_since: Option<Date>,
    /// `customer_since`.
    pub customer_since: Option<Date>,
    /// `risk_profile`.
    pub risk_profile: Option<RiskProfile>,
    /// `contribution`, in minor units.
    pub contribution: Option<i64>,
    /// `asset_size`, in minor units.
    pub asset_size: Option<i64>,
    /// `tier`: the tier id.
    pub tier: Option<String>,
    /// `owner`: as written (an e-mail or `users/{user}`).
    pub owner: Option<String>,
    /// `source_channel`.
    pub source_channel: Option<Channel>,
    /// `do_not_disturb`.
    pub do_not_disturb: Option<bool>,
    /// `sms_consent`.
    pub sms_consent: Option<bool>,
    /// `preferred_channel`.
    pub preferred_channel: Option<Channel>,
    /// `attr.<key>` cells, typed by the tenant's schema.
    pub attributes: Vec<(String, prost_types::Value)>,
}

/// The types of the tenant's custom attributes, by key; a key not in it is
/// read as text (and then refused by the schema check).
pub type AttributeTypes = HashMap<String, AttributeType>;

/// Reads the cells of the row on `line` (`fields` in header order).
pub fn read_row(
    header: &Header,
    line: i64,
    fields: &[String],
    attribute_types: &AttributeTypes,
) -> Result<RowInput, RowError> {
    if fields.len() != header.columns.len() {
        return Err(RowError::new(
            line,
            "",
            MALFORMED_ROW,
            format!(
                "the row has {} fields where the header has {}",
                fields.len(),
                header.columns.len()
            ),
        ));
    }
    let mut row = RowInput::default();
    for (column, cell) in header.columns.iter().zip(fields) {
        let cell = unescape_cell(cell.trim()).trim();
        if cell.is_empty() {
            continue;
        }
        let bad = |what: &str| {
            RowError::new(
                line,
                column.header(),
                INVALID_ARGUMENT,
                format!("{} {what}", column.header()),
            )
        };
        let text = || Some(cell.to_owned());
        match column {
            Column::Attribute(key) => {
                let value = attribute_value(cell, attribute_types.get(key).copied())
                    .ok_or_else(|| bad("is not a value of the attribute's type"))?;
                row.attributes.push((key.clone(), value));
            }
            Column::Field(name) => match *name {
                "external_id" => row.external_id = text(),
                "display_name" => row.display_name = text(),
                "family_name" => row.family_name = text(),
                "given_name" => row.given_name = text(),
                "pinyin" => row.pinyin = text(),
                "phones" => row.phones = Some(values(cell)),
                "emails" => row.emails = Some(values(cell)),
                "region_code" => row.region_code = Some(cell.to_ascii_uppercase()),
                "administrative_area" => row.administrative_area = text(),
                "locality" => row.locality = text(),
                "sublocality" => row.sublocality = text(),
                "address_line" => row.address_lines = Some(values(cell)),
                "postal_code" => row.postal_code = text(),
                "tags" => row.tags = Some(values(cell)),
                "member" => {
                    row.member = Some(boolean(cell).ok_or_else(|| bad(BOOLEAN_HINT))?);
                }
                "member_since" => {
                    row.member_since = Some(date(cell).ok_or_else(|| bad(DATE_HINT))?);
                }
                "customer_since" => {
                    row.customer_since = Some(date(cell).ok_or_else(|| bad(DATE_HINT))?);
                }
                "risk_profile" => {
                    row.risk_profile = Some(risk_profile(cell).ok_or_else(|| {
                        bad("must be conservative, balanced or aggressive (保守, 稳健, 积极)")
                    })?);
                }
                "contribution" => {
                    row.contribution = Some(amount(cell).ok_or_else(|| bad(AMOUNT_HINT))?);
                }
                "asset_size" => {
                    row.asset_size = Some(amount(cell).ok_or_else(|| bad(AMOUNT_HINT))?);
                }
                "tier" => {
                    let id = cell.strip_prefix("tiers/").unwrap_or(cell);
                    if id.is_empty() || id.contains('/') {
                        return Err(bad("must be a tier id (gold) or tiers/{tier}"));
                    }
                    row.tier = Some(id.to_owned());
                }
                "owner" => row.owner = text(),
                "source_channel" => {
                    row.source_channel = Some(channel(cell).ok_or_else(|| bad(CHANNEL_HINT))?);
                }
                "preferred_channel" => {
                    row.preferred_channel = Some(channel(cell).ok_or_else(|| bad(CHANNEL_HINT))?);
                }
                "do_not_disturb" => {
                    row.do_not_disturb = Some(boolean(cell).ok_or_else(|| bad(BOOLEAN_HINT))?);
                }
                "sms_consent" => {
                    row.sms_consent = Some(boolean(cell).ok_or_else(|| bad(BOOLEAN_HINT))?);
                }
                other => {
                    if let Some((header, kind)) = IDENTIFIER_COLUMNS
                        .iter()
                        .find(|(header, _)| *header == other)
                    {
                        row.identifiers.push((header, *kind, values(cell)));
                    }
                }
            },
        }
    }
    Ok(row)
}

const BOOLEAN_HINT: &str = "must be true or false (是 or 否)";
const DATE_HINT: &str = "must be a date written YYYY-MM-DD";
const AMOUNT_HINT: &str = "must be a non-negative decimal amount with at most 2 decimals";
const CHANNEL_HINT: &str =
    "must be a channel: phone, web, email, im, social, walk_in, letter, forwarded, sms or api";

/// The values of a multi-valued cell, trimmed, empty ones dropped.
fn values(cell: &str) -> Vec<String> {
    cell.split(SEPARATOR)
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `true`/`false` (any case), `是`/`否`.
pub fn boolean(cell: &str) -> Option<bool> {
    match cell.trim() {
        "是" => Some(true),
        "否" => Some(false),
        other if other.eq_ignore_ascii_case("true") => Some(true),
        other if other.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// `YYYY-MM-DD`, a calendar date.
pub fn date(cell: &str) -> Option<Date> {
    let parsed = chrono::NaiveDate::parse_from_str(cell.trim(), "%Y-%m-%d").ok()?;
    let date = super::customer::date_of(parsed.and_hms_opt(0, 0, 0)?.and_utc());
    naive_date(&date).map(|_| date)
}

/// A risk profile by its English word (or value name) or Chinese label.
pub fn risk_profile(cell: &str) -> Option<RiskProfile> {
    let word = cell.trim();
    match word {
        "保守" => return Some(RiskProfile::Conservative),
        "稳健" => return Some(RiskProfile::Balanced),
        "积极" => return Some(RiskProfile::Aggressive),
        _ => {}
    }
    let upper = word.to_ascii_uppercase();
    let name = upper.strip_prefix("RISK_PROFILE_").unwrap_or(&upper);
    match name {
        "CONSERVATIVE" => Some(RiskProfile::Conservative),
        "BALANCED" => Some(RiskProfile::Balanced),
        "AGGRESSIVE" => Some(RiskProfile::Aggressive),
        _ => None,
    }
}

/// A risk profile as exports write it.
pub fn risk_profile_word(profile: RiskProfile) -> &'static str {
    match profile {
        RiskProfile::Conservative => "conservative",
        RiskProfile::Balanced => "balanced",
        RiskProfile::Aggressive => "aggressive",
        RiskProfile::Unspecified => "",
    }
}

/// A channel by its value name without the `CHANNEL_` prefix, any case.
pub fn channel(cell: &str) -> Option<Channel> {
    let upper = cell.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("CHANNEL_").unwrap_or(&upper);
    Channel::from_str_name(&format!("CHANNEL_{name}")).filter(|c| *c != Channel::Unspecified)
}

/// A channel as exports write it (`phone`), empty when unspecified.
pub fn channel_word(channel: Channel) -> String {
    if channel == Channel::Unspecified {
        return String::new();
    }
    channel
        .as_str_name()
        .trim_start_matches("CHANNEL_")
        .to_ascii_lowercase()
}

/// A decimal amount (`1234.5`, `1,234.50`) in minor units (2 decimals).
pub fn amount(cell: &str) -> Option<i64> {
    let text: String = cell.trim().chars().filter(|c| *c != ',').collect();
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || fraction.len() > 2
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let cents: i64 = format!("{fraction:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(cents)
}

/// An amount in minor units as exports write it (`1234.50`).
pub fn amount_text(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let minor = minor.unsigned_abs();
    format!("{sign}{}.{:02}", minor / 100, minor % 100)
}

/// The value of an attribute cell for its type (text when the type is not
/// known).
fn attribute_value(cell: &str, kind: Option<AttributeType>) -> Option<prost_types::Value> {
    use prost_types::value::Kind;
    let kind = match kind {
        Some(AttributeType::Number) => Kind::NumberValue(
            cell.parse::<f64>()
                .ok()
                .filter(|number| number.is_finite())?,
        ),
        Some(AttributeType::Bool) => Kind::BoolValue(boolean(cell)?),
        _ => Kind::StringValue(cell.to_owned()),
    };
    Some(prost_types::Value { kind: Some(kind) })
}

/// An attribute value as a cell.
pub fn attribute_text(value: &prost_types::Value) -> String {
    use prost_types::value::Kind;
    match &value.kind {
        Some(Kind::StringValue(text)) => text.clone(),
        Some(Kind::NumberValue(number)) => number.to_string(),
        Some(Kind::BoolValue(flag)) => flag.to_string(),
        _ => String::new(),
    }
}

/// The customer an unmatched row creates (before normalisation).
pub fn new_customer(row: &RowInput) -> Customer {
    apply(Customer::default(), row)
}

/// `stored` with the non-empty cells of `row` written over it (before
/// normalisation). Entries that stay (same number, same address) keep their
/// flags (`verified`).
pub fn overlay(stored: &Customer, row: &RowInput) -> Customer {
    let mut customer = stored.clone();
    let renamed = row
        .display_name
        .as_deref()
        .is_some_and(|name| name != stored.display_name);
    // A pinyin the server derived follows a new display name; one written
    // by hand stays unless the row gives another.
    if renamed && row.pinyin.is_none() && stored.pinyin == names::pinyin_of(&stored.display_name) {
        customer.pinyin.clear();
    }
    customer = apply(customer, row);
    if let Some(phones) = &row.phones {
        for (phone, raw) in customer.phones.iter_mut().zip(phones) {
            if let Some(kept) = stored
                .phones
                .iter()
                .find(|old| old.raw.trim() == raw.trim())
            {
                phone.verified = kept.verified;
                phone.r#type = kept.r#type;
            }
        }
    }
    if let Some(emails) = &row.emails {
        for (email, address) in customer.emails.iter_mut().zip(emails) {
            if let Some(kept) = stored
                .emails
                .iter()
                .find(|old| old.address.eq_ignore_ascii_case(address.trim()))
            {
                email.verified = kept.verified;
            }
        }
    }
    customer
}

/// Writes the cells of `row` into `customer`.
fn apply(mut customer: Customer, row: &RowInput) -> Customer {
    let set = |target: &mut String, value: &Option<String>| {
        if let Some(value) = value {
            target.clone_from(value);
        }
    };
    set(&mut customer.external_id, &row.external_id);
    set(&mut customer.display_name, &row.display_name);
    set(&mut customer.family_name, &row.family_name);
    set(&mut customer.given_name, &row.given_name);
    set(&mut customer.pinyin, &row.pinyin);
    if let Some(phones) = &row.phones {
        customer.phones = phones
            .iter()
            .enumerate()
            .map(|(index, raw)| CustomerPhone {
                raw: raw.clone(),
                primary: index == 0,
                ..CustomerPhone::default()
            })
            .collect();
    }
    if let Some(emails) = &row.emails {
        customer.emails = emails
            .iter()
            .enumerate()
            .map(|(index, address)| CustomerEmail {
                address: address.clone(),
                primary: index == 0,
                ..CustomerEmail::default()
            })
            .collect();
    }
    let address_cells = [
        &row.region_code,
        &row.administrative_area,
        &row.locality,
        &row.sublocality,
        &row.postal_code,
    ];
    if address_cells.iter().any(|cell| cell.is_some()) || row.address_lines.is_some() {
        if customer.addresses.is_empty() {
            customer.addresses.push(PostalAddress::default());
        }
        let address = &mut customer.addresses[0];
        set(&mut address.region_code, &row.region_code);
        set(&mut address.administrative_area, &row.administrative_area);
        set(&mut address.locality, &row.locality);
        set(&mut address.sublocality, &row.sublocality);
        set(&mut address.postal_code, &row.postal_code);
        if let Some(lines) = &row.address_lines {
            address.address_lines.clone_from(lines);
        }
    }
    for (_, kind, values) in &row.identifiers {
        // The identifiers of a kind the row names are replaced, in place
        // when the kind was there, so an unchanged row compares equal.
        let kind = *kind as i32;
        let at = customer
            .identifiers
            .iter()
            .position(|id| id.kind == kind)
            .unwrap_or(customer.identifiers.len());
        let labels: Vec<String> = customer
            .identifiers
            .iter()
            .filter(|id| id.kind == kind)
            .map(|id| id.label.clone())
            .collect();
        customer.identifiers.retain(|id| id.kind != kind);
        let fresh = values
            .iter()
            .enumerate()
            .map(|(index, value)| CustomerIdentifier {
                kind,
                value: value.clone(),
                label: labels.get(index).cloned().unwrap_or_default(),
            });
        let tail = customer
            .identifiers
            .split_off(at.min(customer.identifiers.len()));
        customer.identifiers.extend(fresh);
        customer.identifiers.extend(tail);
    }
    if let Some(tags) = &row.tags {
        customer.tags.clone_from(tags);
    }
    if let Some(member) = row.member {
        customer.member = member;
    }
    if row.member_since.is_some() {
        customer.member_since = row.member_since;
    }
    if row.customer_since.is_some() {
        customer.customer_since = row.customer_since;
    }
    if let Some(profile) = row.risk_profile {
        customer.risk_profile = profile as i32;
    }
    for (target, amount) in [
        (&mut customer.contribution, row.contribution),
        (&mut customer.asset_size, row.asset_size),
    ] {
        if let Some(amount) = amount {
            // The tenant's currency: a stored code stays.
            let currency_code = target
                .as_ref()
                .map(|money| money.currency_code.clone())
                .unwrap_or_default();
            *target = Some(Money {
                currency_code,
                amount_minor: amount,
            });
        }
    }
    if let Some(tier) = &row.tier {
        customer.tier = format!("tiers/{tier}");
        customer.tier_locked = true;
    }
    // Immutable once set: a matched customer keeps the channel it came by.
    if let Some(channel) = row.source_channel
        && customer.source_channel == Channel::Unspecified as i32
    {
        customer.source_channel = channel as i32;
    }
    if row.do_not_disturb.is_some() || row.sms_consent.is_some() || row.preferred_channel.is_some()
    {
        let preferences = customer
            .contact_preferences
            .get_or_insert_with(ContactPreferences::default);
        if let Some(flag) = row.do_not_disturb {
            preferences.do_not_disturb = flag;
        }
        if let Some(flag) = row.sms_consent {
            preferences.sms_consent = flag;
        }
        if let Some(channel) = row.preferred_channel {
            preferences.preferred_channel = channel as i32;
        }
    }
    if !row.attributes.is_empty() {
        let fields = &mut customer
            .attributes
            .get_or_insert_with(Default::default)
            .fields;
        for (key, value) in &row.attributes {
            fields.insert(key.clone(), value.clone());
        }
    }
    customer
}

/// The keys a row is matched and de-duplicated by, from its own cells
/// (normalised), each with the column it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowKeys {
    /// `external_id`.
    pub external_id: Option<String>,
    /// Identifiers, with their column.
    pub identifiers: Vec<(IdentifierKey, &'static str)>,
    /// The primary phone, E.164.
    pub phone: Option<String>,
    /// The first e-mail, lowercase.
    pub email: Option<String>,
}

/// A row read and checked on its own: what it would create, and its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The line it starts on.
    pub line: i64,
    /// Its cells.
    pub input: RowInput,
    /// The customer it would create, normalised (`display_name` may be a
    /// placeholder when the cell is empty: see `named`).
    pub customer: Customer,
    /// Whether the row gives a display name (required to create).
    pub named: bool,
    /// Its keys.
    pub keys: RowKeys,
}

/// Stands in for an empty display name while a row that may update a
/// matched customer is checked.
const PLACEHOLDER_NAME: &str = "-";

/// Reads, checks and normalises the row on `line`: the candidate, or the
/// row's error.
pub fn candidate(
    header: &Header,
    line: i64,
    fields: &[String],
    attribute_types: &AttributeTypes,
    region: &str,
) -> Result<Candidate, RowError> {
    let input = read_row(header, line, fields, attribute_types)?;
    let mut customer = new_customer(&input);
    let named = input.display_name.is_some();
    if !named {
        customer.display_name = PLACEHOLDER_NAME.to_owned();
    }
    let identifier_columns: Vec<&'static str> = input
        .identifiers
        .iter()
        .flat_map(|(column, _, values)| values.iter().map(move |_| *column))
        .collect();
    normalise(&mut customer, region, "customer")
        .map_err(|error| row_error(line, &error, &identifier_columns))?;
    let keys = RowKeys {
        external_id: (!customer.external_id.is_empty()).then(|| customer.external_id.clone()),
        identifiers: customer
            .identifiers
            .iter()
            .zip(&identifier_columns)
            .map(|(id, column)| {
                (
                    IdentifierKey {
                        kind: id.kind,
                        label_key: identifier::label_key(id.kind(), &id.label),
                        value_key: identifier::value_key(&id.value),
                    },
                    *column,
                )
            })
            .collect(),
        phone: customer.phones.first().map(|phone| phone.e164.clone()),
        email: customer
            .emails
            .first()
            .map(|email| email.address.to_lowercase()),
    };
    Ok(Candidate {
        line,
        input,
        customer,
        named,
        keys,
    })
}

/// The identifier columns of a customer built from `row`, one per
/// identifier, in the customer's order (for naming errors).
pub fn identifier_columns(customer: &Customer, row: &RowInput) -> Vec<&'static str> {
    customer
        .identifiers
        .iter()
        .map(|id| {
            IDENTIFIER_COLUMNS
                .iter()
                .find(|(_, kind)| *kind as i32 == id.kind)
                .map(|(column, _)| *column)
                .or_else(|| row.identifiers.first().map(|(column, _, _)| *column))
                .unwrap_or("")
        })
        .collect()
}

/// The column a field path of `Customer` (`customer.phones[0].raw`) was
/// read from; `identifier_columns` names the column of each identifier.
pub fn column_of(path: &str, identifier_columns: &[&'static str]) -> String {
    let path = path.strip_prefix("customer.").unwrap_or(path);
    let (head, rest) = match path.find(['.', '[']) {
        Some(at) => (&path[..at], &path[at..]),
        None => (path, ""),
    };
    let index = rest
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(index, _)| index.parse::<usize>().ok());
    match head {
        "addresses" => {
            let part = rest.rsplit_once('.').map_or("", |(_, part)| part);
            let part = part.split('[').next().unwrap_or_default();
            match part {
                "address_lines" => "address_line".to_owned(),
                "region_code"
                | "administrative_area"
                | "locality"
                | "sublocality"
                | "postal_code" => part.to_owned(),
                _ => "address_line".to_owned(),
            }
        }
        "identifiers" => index
            .and_then(|index| identifier_columns.get(index))
            .map_or_else(
                || identifier_columns.first().copied().unwrap_or("").to_owned(),
                |c| (*c).to_owned(),
            ),
        "attributes" => rest
            .strip_prefix('.')
            .map(|key| format!("{ATTRIBUTE_PREFIX}{key}"))
            .unwrap_or_default(),
        "contact_preferences" => match rest.trim_start_matches('.') {
            column @ ("do_not_disturb" | "sms_consent" | "preferred_channel") => column.to_owned(),
            _ => String::new(),
        },
        other if COLUMNS.contains(&other) => other.to_owned(),
        _ => String::new(),
    }
}

/// A validation error of the customer built from the row on `line` as the
/// row's error: the field path becomes the column, and the message names
/// the column (and which value of a multi-valued cell) instead of the path.
pub fn row_error(
    line: i64,
    error: &CustomersError,
    identifier_columns: &[&'static str],
) -> RowError {
    let reason = reason_of(error);
    match error {
        CustomersError::Invalid(violation, _) => {
            let column = column_of(&violation.field, identifier_columns);
            let label = label_of(&violation.field, &column);
            let message = violation.description.replace(&violation.field, &label);
            RowError::new(line, column, reason, message)
        }
        other => RowError::new(line, "", reason, other.to_string()),
    }
}

/// How a message names the path `path` read from `column`: the column, and
/// for a multi-valued cell which value (`phones value 2`).
fn label_of(path: &str, column: &str) -> String {
    let index = path
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .and_then(|(index, _)| index.parse::<usize>().ok());
    let multi = ["phones", "emails", "tags", "address_line"].contains(&column)
        || IDENTIFIER_COLUMNS.iter().any(|(name, _)| *name == column);
    match index {
        Some(index)
            if multi && !path.contains("addresses[")
                || column == "address_line" && path.matches('[').count() > 1 =>
        {
            let index = if column == "address_line" {
                path.rsplit_once('[')
                    .and_then(|(_, rest)| rest.split_once(']'))
                    .and_then(|(index, _)| index.parse::<usize>().ok())
                    .unwrap_or(index)
            } else {
                index
            };
            format!("{column} value {}", index + 1)
        }
        _ if column.is_empty() => "the row".to_owned(),
        _ => column.to_owned(),
    }
}

/// The names of the keys that decide whether two rows are the same
/// customer, as a compact hash of each: a file of 5,000,000 rows is
/// de-duplicated in memory without keeping its text. (Two different keys
/// share a 64-bit hash with odds far below one in a million for such a
/// file; the row would then be refused as a duplicate, never merged.)
#[derive(Debug, Default)]
pub struct SeenKeys {
    lines: HashMap<u64, u32>,
}

impl SeenKeys {
    /// The earlier line and column holding one of `keys`, if any; else the
    /// keys are remembered as the row on `line`'s.
    pub fn check_and_insert(&mut self, line: i64, keys: &RowKeys) -> Option<(i64, &'static str)> {
        let hashed = key_hashes(keys);
        for (hash, column) in &hashed {
            if let Some(&earlier) = self.lines.get(hash) {
                return Some((i64::from(earlier), column));
            }
        }
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        for (hash, _) in hashed {
            self.lines.entry(hash).or_insert(line);
        }
        None
    }
}

fn key_hashes(keys: &RowKeys) -> Vec<(u64, &'static str)> {
    // SipHash with fixed keys: the same key hashes alike in every run.
    let hash = |kind: u8, parts: &[&str]| {
        let mut hasher = std::hash::DefaultHasher::new();
        kind.hash(&mut hasher);
        parts.hash(&mut hasher);
        hasher.finish()
    };
    let mut hashed = Vec::with_capacity(3 + keys.identifiers.len());
    if let Some(external_id) = &keys.external_id {
        hashed.push((hash(0, &[external_id]), "external_id"));
    }
    for (key, column) in &keys.identifiers {
        let kind = key.kind.to_string();
        hashed.push((hash(1, &[&kind, &key.label_key, &key.value_key]), *column));
    }
    if let Some(phone) = &keys.phone {
        hashed.push((hash(2, &[phone]), "phones"));
    }
    if let Some(email) = &keys.email {
        hashed.push((hash(3, &[email]), "emails"));
    }
    hashed
}

/// The DUPLICATE_ROW error of the row on `line` repeating `earlier`'s key.
pub fn duplicate(line: i64, earlier: i64, column: &str) -> RowError {
    RowError::new(
        line,
        column,
        DUPLICATE_ROW,
        format!(
            "{column} repeats the key of line {earlier}; each customer may appear once in a file"
        ),
    )
}

/// The paths of `Customer` whose values differ between `before` and
/// `after` (CustomerUpdated.changed_paths).
pub fn changed_paths(before: &Customer, after: &Customer) -> Vec<String> {
    let mut paths = Vec::new();
    let mut check = |path: &str, differs: bool| {
        if differs {
            paths.push(path.to_owned());
        }
    };
    check("display_name", before.display_name != after.display_name);
    check("family_name", before.family_name != after.family_name);
    check("given_name", before.given_name != after.given_name);
    check("pinyin", before.pinyin != after.pinyin);
    check("phones", before.phones != after.phones);
    check("emails", before.emails != after.emails);
    check("addresses", before.addresses != after.addresses);
    check("identifiers", before.identifiers != after.identifiers);
    check("tags", before.tags != after.tags);
    check("member", before.member != after.member);
    check("member_since", before.member_since != after.member_since);
    check("attributes", before.attributes != after.attributes);
    check(
        "contact_preferences",
        before.contact_preferences != after.contact_preferences,
    );
    check("risk_profile", before.risk_profile != after.risk_profile);
    check("contribution", before.contribution != after.contribution);
    check("asset_size", before.asset_size != after.asset_size);
    check(
        "customer_since",
        before.customer_since != after.customer_since,
    );
    check("tier", before.tier != after.tier);
    check("tier_locked", before.tier_locked != after.tier_locked);
    check(
        "source_channel",
        before.source_channel != after.source_channel,
    );
    check("external_id", before.external_id != after.external_id);
    paths
}

/// A text encoding of import files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileEncoding {
    /// UTF-8, with or without BOM.
    Utf8,
    /// GB18030 (GBK), as Excel saves CSV in China.
    Gb18030,
}

impl FileEncoding {
    /// The encoding named by `CustomerImport.encoding` (empty: UTF-8).
    pub fn parse(name: &str) -> Option<Self> {
        let upper = name.trim().to_ascii_uppercase().replace(['-', '_'], "");
        match upper.as_str() {
            "" | "UTF8" => Some(Self::Utf8),
            "GB18030" | "GBK" | "GB2312" => Some(Self::Gb18030),
            _ => None,
        }
    }

    /// The name stored in the import.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Gb18030 => "GB18030",
        }
    }

    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            Self::Utf8 => encoding_rs::UTF_8,
            Self::Gb18030 => encoding_rs::GB18030,
        }
    }
}

/// Checks a file as it is received: its text is of the encoding (a BOM is
/// skipped), and it holds at most [`MAX_ROWS`] data rows (records counted
/// as RFC 4180 reads them: a newline inside quotes continues the record,
/// blank lines are none).
pub struct UploadScanner {
    decoder: encoding_rs::Decoder,
    encoding: FileEncoding,
    decoded: String,
    in_quotes: bool,
    has_content: bool,
    records: i64,
    bytes: i64,
}

impl UploadScanner {
    /// A scanner for a file in `encoding`.
    pub fn new(encoding: FileEncoding) -> Self {
        Self {
            decoder: encoding.encoding().new_decoder(),
            encoding,
            decoded: String::new(),
            in_quotes: false,
            has_content: false,
            records: 0,
            bytes: 0,
        }
    }

    /// Scans the next bytes; why the file is refused otherwise.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.bytes += i64::try_from(bytes.len()).unwrap_or(i64::MAX);
        if self.bytes > MAX_FILE_BYTES {
            return Err("the file is larger than 2 GiB".into());
        }
        self.decode(bytes, false)
    }

    /// Ends the file: its data rows.
    pub fn finish(mut self) -> Result<i64, String> {
        self.decode(&[], true)?;
        if self.has_content {
            self.records += 1;
        }
        self.check_rows()?;
        Ok((self.records - 1).max(0))
    }

    fn decode(&mut self, mut bytes: &[u8], last: bool) -> Result<(), String> {
        loop {
            self.decoded.clear();
            let room = self
                .decoder
                .max_utf8_buffer_length_without_replacement(bytes.len())
                .unwrap_or(bytes.len() * 3 + 16);
            self.decoded.reserve(room.max(16));
            let (result, read) =
                self.decoder
                    .decode_to_string_without_replacement(bytes, &mut self.decoded, last);
            self.count();
            bytes = &bytes[read..];
            match result {
                encoding_rs::DecoderResult::InputEmpty => return self.check_rows(),
                encoding_rs::DecoderResult::OutputFull => continue,
                encoding_rs::DecoderResult::Malformed(_, _) => {
                    return Err(format!(
                        "the file is not {} text (data row {} or near it){}",
                        self.encoding.name(),
                        self.records,
                        match self.encoding {
                            FileEncoding::Utf8 =>
                                "; Excel in China saves CSV as GB18030: set encoding GB18030",
                            FileEncoding::Gb18030 => "",
                        }
                    ));
                }
            }
        }
    }

    fn count(&mut self) {
        for byte in self.decoded.bytes() {
            match byte {
                b'"' => {
                    self.in_quotes = !self.in_quotes;
                    self.has_content = true;
                }
                b'\n' | b'\r' if !self.in_quotes => {
                    if self.has_content {
                        self.records += 1;
                    }
                    self.has_content = false;
                }
                _ => self.has_content = true,
            }
        }
    }

    fn check_rows(&self) -> Result<(), String> {
        if self.records - 1 > MAX_ROWS {
            return Err(format!("the file holds more than {MAX_ROWS} data rows"));
        }
        Ok(())
    }
}

/// Reads `source` (bytes in `encoding`) as UTF-8 text for the CSV reader:
/// a BOM is dropped, GB18030 decoded, and CRLF line ends read as LF (the
/// CSV reader reports a record after CRLF as starting on the line before;
/// a quoted multi-line cell keeps LF line breaks).
pub struct Decoded<R> {
    source: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    input_start: usize,
    output: Vec<u8>,
    output_start: usize,
    ended: bool,
    /// A CR ended the last decoded piece: dropped if an LF follows.
    pending_cr: bool,
    /// Whether the text so far ends with LF (or is empty).
    at_line_start: bool,
}

impl<R: Read> Decoded<R> {
    /// Decodes `source`.
    pub fn new(source: R, encoding: FileEncoding) -> Self {
        Self {
            source,
            decoder: encoding.encoding().new_decoder(),
            input: vec![0; 64 * 1024],
            input_start: 0,
            output: Vec::new(),
            output_start: 0,
            ended: false,
            pending_cr: false,
            at_line_start: true,
        }
    }

    /// `text` with each CRLF as LF, a CR at its end kept for the next piece.
    fn crlf_to_lf(&mut self, text: &[u8], last: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() + 1);
        if self.pending_cr && (!text.is_empty() || last) {
            self.pending_cr = false;
            if text.first() != Some(&b'\n') {
                out.push(b'\r');
            }
        }
        let mut bytes = text.iter().peekable();
        while let Some(&byte) = bytes.next() {
            if byte != b'\r' {
                out.push(byte);
                continue;
            }
            match bytes.peek() {
                Some(b'\n') => {}
                Some(_) => out.push(byte),
                None if last => out.push(byte),
                None => self.pending_cr = true,
            }
        }
        out
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.output_start < self.output.len() {
                let available = &self.output[self.output_start..];
                let count = available.len().min(buffer.len());
                buffer[..count].copy_from_slice(&available[..count]);
                self.output_start += count;
                return Ok(count);
            }
            if self.ended {
                return Ok(0);
            }
            let read = self.source.read(&mut self.input[self.input_start..])?;
            let filled = self.input_start + read;
            let last = read == 0;
            let mut text = String::with_capacity(filled * 3 + 16);
            let (_, consumed, _) =
                self.decoder
                    .decode_to_string(&self.input[..filled], &mut text, last);
            self.input.copy_within(consumed..filled, 0);
            self.input_start = filled - consumed;
            self.output = self.crlf_to_lf(text.as_bytes(), last);
            if let Some(&end) = self.output.last() {
                self.at_line_start = end == b'\n';
            }
            // Every record ends with a line end, so `record_line` holds
            // for the last one too.
            if last && !self.at_line_start {
                self.output.push(b'\n');
                self.at_line_start = true;
            }
            self.output_start = 0;
            self.ended = last;
        }
    }
}

/// The line a record starts on, from the reader's line after reading it
/// (past the record's line end): a quoted multi-line record counts from its
/// first line, blank lines before it are not its own. The CSV reader's own
/// record position would count the skipped blank lines.
pub fn record_line(record: &csv::ByteRecord, line_after: u64) -> i64 {
    let inner = record
        .as_slice()
        .iter()
        .filter(|byte| **byte == b'\n')
        .count() as u64;
    i64::try_from(line_after.saturating_sub(1 + inner)).unwrap_or(i64::MAX)
}

/// Reads the records of a decoded file: (line, fields), the header first.
pub fn csv_reader<R: Read>(source: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(source)
}

/// The fields of a record as text, or MALFORMED_ROW (a decoded file is
/// UTF-8 throughout, so this only refuses what decoding replaced).
pub fn record_fields(line: i64, record: &csv::ByteRecord) -> Result<Vec<String>, RowError> {
    record
        .iter()
        .map(|field| {
            std::str::from_utf8(field)
                .map(str::to_owned)
                .map_err(|_| RowError::new(line, "", MALFORMED_ROW, "the row is not readable text"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|cell| (*cell).to_owned()).collect()
    }

    fn head(cells: &[&str]) -> Header {
        header(&fields(cells)).expect("valid header")
    }

    /// Hands out one byte per read, as a network might.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buffer.first_mut()) {
                (Some((byte, rest)), Some(slot)) => {
                    *slot = *byte;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// Every record of `bytes` in `encoding`: (line, fields).
    fn records(bytes: &[u8], encoding: FileEncoding) -> Vec<(i64, Vec<String>)> {
        let whole = records_of(bytes, encoding);
        assert_eq!(
            records_of(Trickle(bytes), encoding),
            whole,
            "read a byte at a time"
        );
        whole
    }

    fn records_of(bytes: impl Read, encoding: FileEncoding) -> Vec<(i64, Vec<String>)> {
        let mut reader = csv_reader(Decoded::new(bytes, encoding));
        let mut record = csv::ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut record).expect("readable") {
            let line = record_line(&record, reader.position().line());
            out.push((line, record_fields(line, &record).expect("text")));
        }
        out
    }

    #[test]
    fn headers_need_display_name_and_refuse_unknown_columns() {
        let read = head(&["\u{feff}Display_Name ", "phones", "attr.house_type"]);
        assert_eq!(
            read.columns,
            vec![
                Column::Field("display_name"),
                Column::Field("phones"),
                Column::Attribute("house_type".into())
            ]
        );
        let missing = header(&fields(&["phones", "emails"])).unwrap_err();
        assert!(missing.contains("display_name"), "{missing}");
        let unknown = header(&fields(&["display_name", "fax"])).unwrap_err();
        assert!(unknown.contains("\"fax\""), "{unknown}");
        let twice = header(&fields(&["display_name", "phones", "PHONES"])).unwrap_err();
        assert!(twice.contains("twice"), "{twice}");
    }

    #[test]
    fn a_bom_quoted_multi_line_rows_and_semicolon_cells_are_read() {
        let file = "\u{feff}display_name,phones,address_line\r\n\
                    张三,138 0013 8000;010-8888 6666,\"朝阳区\n建国路 1 号\"\r\n\
                    \r\n\
                    \"李, 四\",13900139000,\"他说 \"\"你好\"\"\"\r\n";
        let rows = records(file.as_bytes(), FileEncoding::Utf8);
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert_eq!(rows[0].1[0], "display_name");
        assert_eq!(rows[1].0, 2);
        assert_eq!(rows[1].1[2], "朝阳区\n建国路 1 号");
        assert_eq!(rows[2].0, 5, "a multi-line row counts from its first line");
        assert_eq!(rows[2].1[0], "李, 四");
        assert_eq!(rows[2].1[2], "他说 \"你好\"");
        let header = head(&rows[0].1.iter().map(String::as_str).collect::<Vec<_>>());
        let row = read_row(&header, 2, &rows[1].1, &AttributeTypes::new()).expect("row");
        assert_eq!(
            row.phones,
            Some(vec!["138 0013 8000".into(), "010-8888 6666".into()])
        );
    }

    #[test]
    fn gb18030_files_are_decoded() {
        let text = "display_name,tags\r\n王小明,会员;业主\r\n";
        let (bytes, _, _) = encoding_rs::GB18030.encode(text);
        assert_ne!(bytes.as_ref(), text.as_bytes());
        let rows = records(&bytes, FileEncoding::Gb18030);
        assert_eq!(rows[1].1, fields(&["王小明", "会员;业主"]));
        // Read as UTF-8, the same bytes are refused on upload.
        let mut scanner = UploadScanner::new(FileEncoding::Utf8);
        let refused = scanner.feed(&bytes).unwrap_err();
        assert!(refused.contains("GB18030"), "{refused}");
        let mut scanner = UploadScanner::new(FileEncoding::Gb18030);
        scanner.feed(&bytes).expect("GB18030 text");
        assert_eq!(scanner.finish(), Ok(1));
    }

    #[test]
    fn uploads_count_data_rows_across_chunks() {
        let mut scanner = UploadScanner::new(FileEncoding::Utf8);
        for chunk in [
            "\u{feff}display_name,no",
            "te\r\n张三,\"a\nb\"\r\n\r\n李",
            "四,x",
        ] {
            scanner.feed(chunk.as_bytes()).expect("text");
        }
        assert_eq!(scanner.finish(), Ok(2));
        // A multi-byte character split across chunks is still text.
        let bytes = "display_name\n张三\n".as_bytes();
        let mut scanner = UploadScanner::new(FileEncoding::Utf8);
        scanner.feed(&bytes[..14]).expect("first half");
        scanner.feed(&bytes[14..]).expect("second half");
        assert_eq!(scanner.finish(), Ok(1));
        assert_eq!(UploadScanner::new(FileEncoding::Utf8).finish(), Ok(0));
    }

    #[test]
    fn cells_are_read_into_their_types() {
        let header = head(&[
            "display_name",
            "member",
            "member_since",
            "risk_profile",
            "contribution",
            "source_channel",
            "tier",
            "unit_number",
            "do_not_disturb",
        ]);
        let row = read_row(
            &header,
            2,
            &fields(&[
                "张三",
                "是",
                "2020-02-29",
                "稳健",
                "1,234.5",
                "phone",
                "tiers/gold",
                "3-2-1502; 3-2-1503",
                "否",
            ]),
            &AttributeTypes::new(),
        )
        .expect("row");
        assert_eq!(row.member, Some(true));
        assert_eq!(
            row.member_since,
            Some(Date {
                year: 2020,
                month: 2,
                day: 29
            })
        );
        assert_eq!(row.risk_profile, Some(RiskProfile::Balanced));
        assert_eq!(row.contribution, Some(123_450));
        assert_eq!(row.source_channel, Some(Channel::Phone));
        assert_eq!(row.tier.as_deref(), Some("gold"));
        assert_eq!(row.do_not_disturb, Some(false));
        assert_eq!(
            row.identifiers,
            vec![(
                "unit_number",
                CustomerIdentifierKind::UnitNumber,
                vec!["3-2-1502".to_owned(), "3-2-1503".to_owned()]
            )]
        );
        for (word, profile) in [
            ("conservative", RiskProfile::Conservative),
            ("保守", RiskProfile::Conservative),
            ("BALANCED", RiskProfile::Balanced),
            ("积极", RiskProfile::Aggressive),
            ("RISK_PROFILE_AGGRESSIVE", RiskProfile::Aggressive),
        ] {
            assert_eq!(risk_profile(word), Some(profile), "{word}");
        }
        assert_eq!(risk_profile("reckless"), None);
        assert_eq!(boolean("TRUE"), Some(true));
        assert_eq!(boolean("否"), Some(false));
        assert_eq!(boolean("maybe"), None);
        assert_eq!(amount("12"), Some(1200));
        assert_eq!(amount("0.05"), Some(5));
        assert_eq!(amount("1.234"), None);
        assert_eq!(amount("-1"), None);
        assert_eq!(amount_text(123_450), "1234.50");
        assert_eq!(date("2021-02-29"), None);
    }

    #[test]
    fn bad_cells_name_their_column_without_the_value() {
        let header = head(&["display_name", "member", "member_since"]);
        let error = read_row(
            &header,
            4,
            &fields(&["张三", "secret-yes", ""]),
            &AttributeTypes::new(),
        )
        .unwrap_err();
        assert_eq!(error.line, 4);
        assert_eq!(error.field, "member");
        assert_eq!(error.reason, "INVALID_ARGUMENT");
        assert!(!error.message.contains("secret"), "{}", error.message);
        let short = read_row(&header, 5, &fields(&["张三"]), &AttributeTypes::new()).unwrap_err();
        assert_eq!(
            (short.field.as_str(), short.reason.as_str()),
            ("", MALFORMED_ROW)
        );
    }

    #[test]
    fn normalisation_errors_map_to_columns() {
        let header = head(&["display_name", "phones", "emails", "car_vin"]);
        let types = AttributeTypes::new();
        let phone = candidate(
            &header,
            4,
            &fields(&["张三", "13800138000;12345", "", ""]),
            &types,
            "CN",
        )
        .unwrap_err();
        assert_eq!(phone.line, 4);
        assert_eq!(phone.field, "phones");
        assert_eq!(phone.reason, "PHONE_INVALID");
        assert!(
            phone.message.starts_with("phones value 2 "),
            "{}",
            phone.message
        );
        assert!(!phone.message.contains("12345"), "{}", phone.message);
        let email = candidate(
            &header,
            5,
            &fields(&["张三", "", "no-at-sign", ""]),
            &types,
            "CN",
        )
        .unwrap_err();
        assert_eq!(
            (email.field.as_str(), email.reason.as_str()),
            ("emails", "EMAIL_INVALID")
        );
        let vin = candidate(
            &header,
            6,
            &fields(&["张三", "", "", "short"]),
            &types,
            "CN",
        )
        .unwrap_err();
        assert_eq!(vin.field, "car_vin");
        assert_eq!(
            column_of("customer.addresses[0].address_lines[1]", &[]),
            "address_line"
        );
        assert_eq!(column_of("customer.attributes.level", &[]), "attr.level");
        assert_eq!(
            column_of("customer.contact_preferences.sms_consent", &[]),
            "sms_consent"
        );
        assert_eq!(
            column_of(
                "customer.identifiers[1].value",
                &["unit_number", "member_card"]
            ),
            "member_card"
        );
    }

    #[test]
    fn keys_and_duplicates() {
        let header = head(&[
            "external_id",
            "display_name",
            "phones",
            "emails",
            "unit_number",
        ]);
        let types = AttributeTypes::new();
        let row = |line, cells: &[&str]| {
            candidate(&header, line, &fields(cells), &types, "CN").expect("valid")
        };
        let first = row(
            2,
            &["", "张三", "138 0013 8000", "Zhang@Example.com", "3-2-1502"],
        );
        assert_eq!(first.keys.phone.as_deref(), Some("+8613800138000"));
        assert_eq!(first.keys.email.as_deref(), Some("zhang@example.com"));
        assert_eq!(first.keys.identifiers[0].0.value_key, "321502");
        let mut seen = SeenKeys::default();
        assert_eq!(seen.check_and_insert(2, &first.keys), None);
        let other = row(3, &["crm-2", "李四", "13900139000", "", ""]);
        assert_eq!(seen.check_and_insert(3, &other.keys), None);
        let same_unit = row(4, &["", "张三丰", "", "", "3 2 1502"]);
        assert_eq!(
            seen.check_and_insert(4, &same_unit.keys),
            Some((2, "unit_number"))
        );
        let same_phone = row(5, &["", "王五", "+86 139 0013 9000", "", ""]);
        assert_eq!(
            seen.check_and_insert(5, &same_phone.keys),
            Some((3, "phones"))
        );
        let same_crm = row(6, &["crm-2", "", "", "", ""]);
        assert!(!same_crm.named);
        assert_eq!(
            seen.check_and_insert(6, &same_crm.keys),
            Some((3, "external_id"))
        );
        let error = duplicate(7, 3, "external_id");
        assert_eq!(error.reason, DUPLICATE_ROW);
        assert!(error.message.contains("line 3"));
    }

    #[test]
    fn a_matched_row_changes_only_its_non_empty_cells() {
        let header = head(&["display_name", "phones", "tags", "member", "contribution"]);
        let types = AttributeTypes::new();
        let created = candidate(
            &header,
            2,
            &fields(&["张三", "138 0013 8000", "业主;VIP", "true", "10"]),
            &types,
            "CN",
        )
        .expect("valid");
        let mut stored = created.customer.clone();
        stored.phones[0].verified = true;
        stored.contribution.as_mut().expect("set").currency_code = "CNY".into();
        // The same row again: nothing differs.
        let mut again = overlay(&stored, &created.input);
        normalise(&mut again, "CN", "customer").expect("valid");
        assert_eq!(again, stored);
        // Only the tags: the rest stays, the new name's pinyin follows.
        let update =
            read_row(&header, 3, &fields(&["张三丰", "", "业主", "", ""]), &types).expect("row");
        let mut changed = overlay(&stored, &update);
        normalise(&mut changed, "CN", "customer").expect("valid");
        assert_eq!(changed.tags, vec!["业主".to_owned()]);
        assert_eq!(changed.phones, stored.phones);
        assert!(changed.member);
        assert_eq!(changed.pinyin, "zhang san feng");
        assert_eq!(
            changed_paths(&stored, &changed),
            vec!["display_name", "pinyin", "tags"]
        );
    }
}
