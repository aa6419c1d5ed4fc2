//! A customer as written by a caller, checked and normalised into what is
//! stored: E.164 phones, lowercase e-mail and identifier keys, derived
//! pinyin, de-duplicated tags, the primary flags, and the look-up keys the
//! search tables hold.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use kefu_proto::v1::{
    ContactPreferences, Customer, CustomerIdentifierKind, CustomerPhoneType, Date,
};

use super::{email, identifier, names, phone};
use crate::error::{CustomersError, Result};

/// Limits of the contract (`customers.proto`).
pub mod limits {
    /// Phones per customer.
    pub const PHONES: usize = 20;
    /// E-mails per customer.
    pub const EMAILS: usize = 20;
    /// Postal addresses per customer.
    pub const ADDRESSES: usize = 10;
    /// Identifiers per customer.
    pub const IDENTIFIERS: usize = 50;
    /// Tags per customer.
    pub const TAGS: usize = 100;
    /// Custom attribute keys per customer.
    pub const ATTRIBUTES: usize = 100;
    /// Custom attributes' size in JSON.
    pub const ATTRIBUTE_BYTES: usize = 16 * 1024;
}

/// One identifier's uniqueness key, with its position for error messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentifierKey {
    /// `CustomerIdentifierKind` as its number.
    pub kind: i32,
    /// The label for OTHER, lowercase; empty otherwise.
    pub label_key: String,
    /// The normalised value.
    pub value_key: String,
}

/// What the look-up tables hold for one ACTIVE customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupKeys {
    /// Name-prefix search keys.
    pub names: Vec<String>,
    /// E.164 phones.
    pub phones: Vec<String>,
    /// Lowercase e-mails.
    pub emails: Vec<String>,
    /// Identifiers, in the customer's order.
    pub identifiers: Vec<IdentifierKey>,
    /// Lowercase tags.
    pub tags: Vec<String>,
}

/// The look-up keys of a stored (already normalised) customer.
pub fn lookup_keys(customer: &Customer) -> LookupKeys {
    LookupKeys {
        names: names::search_keys(
            &customer.display_name,
            &customer.family_name,
            &customer.given_name,
            &customer.pinyin,
        ),
        phones: customer
            .phones
            .iter()
            .map(|phone| phone.e164.clone())
            .collect(),
        emails: customer
            .emails
            .iter()
            .map(|email| email.address.to_lowercase())
            .collect(),
        identifiers: customer
            .identifiers
            .iter()
            .map(|id| IdentifierKey {
                kind: id.kind,
                label_key: identifier::label_key(id.kind(), &id.label),
                value_key: identifier::value_key(&id.value),
            })
            .collect(),
        tags: customer.tags.iter().map(|tag| tag.to_lowercase()).collect(),
    }
}

/// The key customers are ordered by.
pub fn sort_key(customer: &Customer) -> String {
    names::sort_key(&customer.display_name, &customer.pinyin)
}

/// Checks and normalises the caller-writable fields of `customer` in place
/// (output-only fields are the caller's to set or clear). `region` reads
/// phones without a country code. Errors name the field under `prefix`
/// (`customer`).
pub fn normalise(customer: &mut Customer, region: &str, prefix: &str) -> Result<()> {
    let field = |name: &str| format!("{prefix}.{name}");
    text(&customer.display_name, &field("display_name"), 1, 200)?;
    customer.display_name = customer.display_name.trim().to_owned();
    text(&customer.family_name, &field("family_name"), 0, 100)?;
    text(&customer.given_name, &field("given_name"), 0, 100)?;
    text(&customer.pinyin, &field("pinyin"), 0, 200)?;
    customer.pinyin = if customer.pinyin.trim().is_empty() {
        names::pinyin_of(&customer.display_name)
    } else {
        customer.pinyin.trim().to_lowercase()
    };
    text(&customer.external_id, &field("external_id"), 0, 100)?;
    customer.external_id = customer.external_id.trim().to_owned();

    at_most(customer.phones.len(), limits::PHONES, &field("phones"))?;
    let mut seen = HashMap::new();
    for (index, entry) in customer.phones.iter_mut().enumerate() {
        let name = field(&format!("phones[{index}].raw"));
        text(&entry.raw, &name, 1, 40)?;
        let normalised = phone::normalise(&entry.raw, region).map_err(|error| {
            CustomersError::invalid_because(&name, format!("{name} {error}"), "PHONE_INVALID")
        })?;
        if let Some(first) = seen.insert(normalised.e164.clone(), index) {
            return Err(CustomersError::invalid(
                &name,
                format!("{name} is the same number as phones[{first}]"),
            ));
        }
        entry.e164 = normalised.e164;
        if entry.r#type == CustomerPhoneType::Unspecified as i32 {
            entry.r#type = normalised.kind as i32;
        }
    }
    let primaries = customer.phones.iter().filter(|p| p.primary).count();
    if primaries > 1 {
        return Err(CustomersError::invalid(
            &field("phones"),
            "at most one phone is primary",
        ));
    }
    if primaries == 0
        && let Some(first) = customer.phones.first_mut()
    {
        first.primary = true;
    }

    at_most(customer.emails.len(), limits::EMAILS, &field("emails"))?;
    let mut seen = HashMap::new();
    for (index, entry) in customer.emails.iter_mut().enumerate() {
        let name = field(&format!("emails[{index}].address"));
        let key = email::key(&entry.address).map_err(|error| {
            CustomersError::invalid_because(&name, format!("{name} {error}"), "EMAIL_INVALID")
        })?;
        if let Some(first) = seen.insert(key, index) {
            return Err(CustomersError::invalid(
                &name,
                format!("{name} is the same address as emails[{first}]"),
            ));
        }
        entry.address = entry.address.trim().to_owned();
    }
    let primaries = customer.emails.iter().filter(|e| e.primary).count();
    if primaries > 1 {
        return Err(CustomersError::invalid(
            &field("emails"),
            "at most one e-mail is primary",
        ));
    }
    if primaries == 0
        && let Some(first) = customer.emails.first_mut()
    {
        first.primary = true;
    }

    at_most(
        customer.addresses.len(),
        limits::ADDRESSES,
        &field("addresses"),
    )?;
    for (index, address) in customer.addresses.iter().enumerate() {
        let name = |part: &str| field(&format!("addresses[{index}].{part}"));
        text(&address.region_code, &name("region_code"), 0, 2)?;
        text(
            &address.administrative_area,
            &name("administrative_area"),
            0,
            100,
        )?;
        text(&address.locality, &name("locality"), 0, 100)?;
        text(&address.sublocality, &name("sublocality"), 0, 100)?;
        text(&address.postal_code, &name("postal_code"), 0, 20)?;
        at_most(address.address_lines.len(), 5, &name("address_lines"))?;
        for (line, value) in address.address_lines.iter().enumerate() {
            text(value, &name(&format!("address_lines[{line}]")), 0, 200)?;
        }
    }

    at_most(
        customer.identifiers.len(),
        limits::IDENTIFIERS,
        &field("identifiers"),
    )?;
    let mut seen = HashMap::new();
    for (index, entry) in customer.identifiers.iter_mut().enumerate() {
        let name = |part: &str| field(&format!("identifiers[{index}].{part}"));
        let kind = CustomerIdentifierKind::try_from(entry.kind).map_err(|_| {
            CustomersError::invalid(
                &name("kind"),
                format!("{} is not a known kind", name("kind")),
            )
        })?;
        if kind == CustomerIdentifierKind::Unspecified {
            return Err(CustomersError::invalid(
                &name("kind"),
                format!("{} is required", name("kind")),
            ));
        }
        text(&entry.value, &name("value"), 1, 100)?;
        text(&entry.label, &name("label"), 0, 50)?;
        if kind == CustomerIdentifierKind::Other && entry.label.trim().is_empty() {
            return Err(CustomersError::invalid(
                &name("label"),
                format!("{} is required for an OTHER identifier", name("label")),
            ));
        }
        entry.value = entry.value.trim().to_owned();
        let key = IdentifierKey {
            kind: entry.kind,
            label_key: identifier::label_key(kind, &entry.label),
            value_key: identifier::value_key(&entry.value),
        };
        if key.value_key.is_empty() {
            return Err(CustomersError::invalid(
                &name("value"),
                format!("{} is required", name("value")),
            ));
        }
        if let Some(problem) = identifier::check(kind, &key.value_key) {
            return Err(CustomersError::invalid(
                &name("value"),
                format!("{} {problem}", name("value")),
            ));
        }
        if let Some(first) = seen.insert(key, index) {
            return Err(CustomersError::invalid(
                &name("value"),
                format!("{} repeats identifiers[{first}]", name("value")),
            ));
        }
    }

    at_most(customer.tags.len(), limits::TAGS, &field("tags"))?;
    let mut seen = BTreeSet::new();
    let mut tags = Vec::with_capacity(customer.tags.len());
    for (index, tag) in customer.tags.iter().enumerate() {
        let tag = tag.trim();
        text(tag, &field(&format!("tags[{index}]")), 1, 50)?;
        if seen.insert(tag.to_lowercase()) {
            tags.push(tag.to_owned());
        }
    }
    customer.tags = tags;

    if let Some(attributes) = &customer.attributes {
        at_most(
            attributes.fields.len(),
            limits::ATTRIBUTES,
            &field("attributes"),
        )?;
        let size = attributes
            .fields
            .iter()
            .map(|(key, value)| key.len() + approximate_json_size(value))
            .sum::<usize>();
        if size > limits::ATTRIBUTE_BYTES {
            return Err(CustomersError::invalid(
                &field("attributes"),
                format!("{} holds more than 16 KiB", field("attributes")),
            ));
        }
    }

    if !customer.member {
        customer.member_since = None;
    }
    for (date, name) in [
        (&customer.member_since, "member_since"),
        (&customer.customer_since, "customer_since"),
    ] {
        if let Some(date) = date
            && naive_date(date).is_none()
        {
            return Err(CustomersError::invalid(
                &field(name),
                format!("{} is not a calendar date", field(name)),
            ));
        }
    }
    for (money, name) in [
        (&customer.contribution, "contribution"),
        (&customer.asset_size, "asset_size"),
    ] {
        if let Some(money) = money {
            let code = &money.currency_code;
            if !(code.is_empty() || code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()))
            {
                return Err(CustomersError::invalid(
                    &field(&format!("{name}.currency_code")),
                    format!("{prefix}.{name}.currency_code is not an ISO 4217 code"),
                ));
            }
            if money.amount_minor < 0 {
                return Err(CustomersError::invalid(
                    &field(&format!("{name}.amount_minor")),
                    format!("{prefix}.{name}.amount_minor must not be negative"),
                ));
            }
        }
    }
    if let Some(preferences) = &mut customer.contact_preferences {
        contact_preferences(preferences, &field("contact_preferences"))?;
    }
    Ok(())
}

fn contact_preferences(preferences: &mut ContactPreferences, prefix: &str) -> Result<()> {
    if !preferences.time_zone.is_empty() && preferences.time_zone.parse::<chrono_tz::Tz>().is_err()
    {
        let name = format!("{prefix}.time_zone");
        return Err(CustomersError::invalid(
            &name,
            format!("{name} is not an IANA time zone"),
        ));
    }
    if !preferences.do_not_disturb {
        preferences.do_not_disturb_until = None;
    }
    Ok(())
}

/// Today's date as a `Date` (defaults of `customer_since`).
pub fn date_of(instant: DateTime<Utc>) -> Date {
    Date {
        year: instant.year(),
        month: instant.month() as i32,
        day: instant.day() as i32,
    }
}

/// A `Date` as a calendar date, when it is one.
pub fn naive_date(date: &Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )
}

fn text(value: &str, field: &str, min: usize, max: usize) -> Result<()> {
    let length = value.trim().chars().count();
    if length < min {
        return Err(CustomersError::invalid(
            field,
            format!("{field} is required"),
        ));
    }
    if value.chars().count() > max {
        return Err(CustomersError::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(())
}

fn at_most(count: usize, max: usize, field: &str) -> Result<()> {
    if count > max {
        return Err(CustomersError::invalid(
            field,
            format!("{field} holds more than {max} entries"),
        ));
    }
    Ok(())
}

fn approximate_json_size(value: &prost_types::Value) -> usize {
    use prost_types::value::Kind;
    match &value.kind {
        Some(Kind::StringValue(text)) => text.len() + 2,
        Some(Kind::NumberValue(_)) => 24,
        Some(Kind::BoolValue(_)) | Some(Kind::NullValue(_)) | None => 5,
        Some(Kind::ListValue(list)) => {
            list.values.iter().map(approximate_json_size).sum::<usize>() + 2
        }
        Some(Kind::StructValue(object)) => {
            object
                .fields
                .iter()
                .map(|(key, value)| key.len() + 3 + approximate_json_size(value))
                .sum::<usize>()
                + 2
        }
    }
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{CustomerEmail, CustomerIdentifier, CustomerPhone};

    use super::*;

    fn customer() -> Customer {
        Customer {
            display_name: " 张三 ".into(),
            phones: vec![
                CustomerPhone {
                    raw: "138 0013 8000".into(),
                    ..Default::default()
                },
                CustomerPhone {
                    raw: "010-8888 6666".into(),
                    ..Default::default()
                },
            ],
            emails: vec![CustomerEmail {
                address: "Zhang@Example.com".into(),
                ..Default::default()
            }],
            identifiers: vec![CustomerIdentifier {
                kind: CustomerIdentifierKind::UnitNumber as i32,
                value: "3-2-1502".into(),
                label: String::new(),
            }],
            tags: vec!["VIP".into(), "vip".into(), "业主".into()],
            ..Default::default()
        }
    }

    fn reason_and_field(error: CustomersError) -> (Option<&'static str>, String) {
        match error {
            CustomersError::Invalid(violation, reason) => (reason, violation.field),
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn a_customer_is_normalised() {
        let mut c = customer();
        normalise(&mut c, "CN", "customer").expect("valid");
        assert_eq!(c.display_name, "张三");
        assert_eq!(c.pinyin, "zhang san");
        assert_eq!(c.phones[0].e164, "+8613800138000");
        assert!(c.phones[0].primary && !c.phones[1].primary);
        assert_eq!(c.phones[1].r#type, CustomerPhoneType::Landline as i32);
        assert!(c.emails[0].primary);
        assert_eq!(c.tags, ["VIP", "业主"]);
        let keys = lookup_keys(&c);
        assert_eq!(keys.emails, ["zhang@example.com"]);
        assert_eq!(keys.identifiers[0].value_key, "321502");
    }

    #[test]
    fn bad_entries_are_named() {
        let mut c = customer();
        c.phones[1].raw = "8888 6666".into();
        let (reason, field) = reason_and_field(normalise(&mut c, "CN", "customer").unwrap_err());
        assert_eq!(
            (reason, field.as_str()),
            (Some("PHONE_INVALID"), "customer.phones[1].raw")
        );

        let mut c = customer();
        c.emails[0].address = "zhang@".into();
        let (reason, field) = reason_and_field(normalise(&mut c, "CN", "customer").unwrap_err());
        assert_eq!(
            (reason, field.as_str()),
            (Some("EMAIL_INVALID"), "customer.emails[0].address")
        );

        let mut c = customer();
        c.display_name = "名".repeat(201);
        let (_, field) = reason_and_field(normalise(&mut c, "CN", "customer").unwrap_err());
        assert_eq!(field, "customer.display_name");

        let mut c = customer();
        c.phones.push(CustomerPhone {
            raw: "+86 13800138000".into(),
            ..Default::default()
        });
        let (_, field) = reason_and_field(normalise(&mut c, "CN", "customer").unwrap_err());
        assert_eq!(field, "customer.phones[2].raw");

        let mut c = customer();
        c.identifiers.push(CustomerIdentifier {
            kind: CustomerIdentifierKind::UnitNumber as i32,
            value: "3 2 1502".into(),
            label: String::new(),
        });
        let (_, field) = reason_and_field(normalise(&mut c, "CN", "customer").unwrap_err());
        assert_eq!(field, "customer.identifiers[1].value");

        let mut c = customer();
        c.contact_preferences = Some(ContactPreferences {
            time_zone: "Mars/Olympus".into(),
            ..Default::default()
        });
        let (_, field) = reason_and_field(normalise(&mut c, "CN", "customer").unwrap_err());
        assert_eq!(field, "customer.contact_preferences.time_zone");
    }
}
