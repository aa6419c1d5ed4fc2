//! Merging two customers (合并) and undoing it, as pure rules.
//!
//! Merge: the survivor keeps its own values; repeated fields (phones,
//! e-mails, addresses, identifiers, tags) become the union within the
//! contract's limits; empty survivor fields take the merged customer's;
//! `member` is true if either is, with the earlier `member_since` and
//! `customer_since`; `contribution` and `asset_size` stay the survivor's;
//! every path in `merged_field_paths` takes the merged customer's value.
//!
//! Undo: the survivor loses what the merge gave it, field by field, except
//! where it was edited since (a field that no longer equals what the merge
//! wrote stays as it is now); the identifiers that moved always go back,
//! since the merged customer needs them and identifiers are unique.

use std::collections::{BTreeSet, HashSet};

use kefu_proto::v1::{Customer, CustomerIdentifier, PostalAddress};

use super::{
    customer::{IdentifierKey, limits, naive_date},
    duplicates::address_key,
    identifier,
};
use crate::error::{CustomersError, Result};

/// What undo needs, kept with the merge record (`customer_merges.snapshot`).
/// Holds personal data: an erasure of either customer clears it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MergeSnapshot {
    /// The survivor before the merge.
    #[prost(message, optional, tag = "1")]
    pub survivor_before: Option<Customer>,
    /// The survivor as the merge wrote it (to tell later edits from it).
    #[prost(message, optional, tag = "2")]
    pub survivor_after: Option<Customer>,
    /// The merged customer before the merge.
    #[prost(message, optional, tag = "3")]
    pub merged_before: Option<Customer>,
    /// The survivor's revision before the merge.
    #[prost(int64, tag = "4")]
    pub survivor_revision: i64,
    /// The merged customer's revision before the merge.
    #[prost(int64, tag = "5")]
    pub merged_revision: i64,
    /// The merged customer's identifiers the survivor received.
    #[prost(message, repeated, tag = "6")]
    pub moved_identifiers: Vec<CustomerIdentifier>,
    /// Whether the survivor received the merged customer's external id.
    #[prost(bool, tag = "7")]
    pub external_id_moved: bool,
    /// Ids of the merged customer's activities moved to the survivor.
    #[prost(string, repeated, tag = "8")]
    pub moved_activities: Vec<String>,
    /// Ids of the merged customer's ownership changes moved to the survivor.
    #[prost(string, repeated, tag = "9")]
    pub moved_ownership_changes: Vec<String>,
}

/// Singular paths a merge may take from the merged customer.
const SINGULAR: &[&str] = &[
    "display_name",
    "family_name",
    "given_name",
    "pinyin",
    "member",
    "member_since",
    "attributes",
    "contact_preferences",
    "risk_profile",
    "contribution",
    "asset_size",
    "customer_since",
    "tier",
    "external_id",
    "owner",
    "source_channel",
];

/// Sub-fields of `contact_preferences` a path may name.
const PREFERENCES: &[&str] = &[
    "do_not_disturb",
    "do_not_disturb_until",
    "preferred_hours",
    "preferred_channel",
    "sms_consent",
    "time_zone",
];

/// Repeated paths: always the union, never taken whole.
const REPEATED: &[&str] = &[
    "phones",
    "emails",
    "addresses",
    "identifiers",
    "tags",
    "segments",
];

/// Checks `merged_field_paths` (singular Customer paths only); the paths
/// without repeats. Errors name `merged_field_paths[i]`.
pub fn check_paths(paths: &[String]) -> Result<Vec<String>> {
    let mut checked: Vec<String> = Vec::with_capacity(paths.len());
    for (index, path) in paths.iter().enumerate() {
        let field = format!("merged_field_paths[{index}]");
        let path = path.trim();
        let known = SINGULAR.contains(&path)
            || path
                .strip_prefix("attributes.")
                .is_some_and(|key| !key.is_empty() && !key.contains('.'))
            || path
                .strip_prefix("contact_preferences.")
                .is_some_and(|sub| PREFERENCES.contains(&sub));
        if !known {
            let why = if REPEATED.contains(&path) {
                format!(
                    "{field} names {path:?}, a repeated field: a merge always takes the union of both customers' {path}"
                )
            } else {
                format!(
                    "{field} names {path:?}, which a merge cannot take; singular paths: {}, attributes.<key>, contact_preferences.<field>",
                    SINGULAR.join(", ")
                )
            };
            return Err(CustomersError::invalid(&field, why));
        }
        if !checked.iter().any(|seen| seen == path) {
            checked.push(path.to_owned());
        }
    }
    Ok(checked)
}

/// One field of a customer as merge and undo compare and copy it (some
/// paths carry companions: `tier` with `tier_locked`, `owner` with its
/// clock).
struct Field {
    path: &'static str,
    same: fn(&Customer, &Customer) -> bool,
    take: fn(&mut Customer, &Customer),
}

macro_rules! field {
    ($path:literal, $($member:ident),+) => {
        Field {
            path: $path,
            same: |a, b| true $(&& a.$member == b.$member)+,
            take: |to, from| {
                $(to.$member = from.$member.clone();)+
            },
        }
    };
}

/// Every field of a customer's data, in the contract's order.
const FIELDS: &[Field] = &[
    field!("display_name", display_name),
    field!("family_name", family_name),
    field!("given_name", given_name),
    field!("pinyin", pinyin),
    field!("phones", phones),
    field!("emails", emails),
    field!("addresses", addresses),
    field!("identifiers", identifiers),
    field!("tags", tags),
    field!("member", member),
    field!("member_since", member_since),
    field!("attributes", attributes),
    field!("contact_preferences", contact_preferences),
    field!("risk_profile", risk_profile),
    field!("contribution", contribution),
    field!("asset_size", asset_size),
    field!("customer_since", customer_since),
    field!("tier", tier, tier_locked),
    field!(
        "owner",
        owner,
        owner_assign_time,
        first_contact_due_time,
        first_contact_time
    ),
    field!("source_channel", source_channel),
    field!("external_id", external_id),
];

fn field(path: &str) -> &'static Field {
    FIELDS
        .iter()
        .find(|field| field.path == path)
        .unwrap_or_else(|| unreachable!("{path} is in FIELDS"))
}

/// The paths whose values differ between `a` and `b`.
pub fn changed_paths(a: &Customer, b: &Customer) -> Vec<String> {
    FIELDS
        .iter()
        .filter(|field| !(field.same)(a, b))
        .map(|field| field.path.to_owned())
        .collect()
}

/// What a merge makes of the survivor.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    /// The survivor after the merge (not yet normalised or stored).
    pub survivor: Customer,
    /// The paths of the survivor that changed.
    pub changed_paths: Vec<String>,
    /// The merged customer's identifiers the survivor received.
    pub moved_identifiers: Vec<CustomerIdentifier>,
    /// Whether the survivor took the merged customer's external id (the
    /// merged customer must then give it up: external ids are unique).
    pub external_id_moved: bool,
}

/// Whether a singular field of `customer` is empty (unset, zero, blank).
fn is_empty(path: &str, customer: &Customer) -> bool {
    match path {
        "family_name" => customer.family_name.trim().is_empty(),
        "given_name" => customer.given_name.trim().is_empty(),
        "risk_profile" => customer.risk_profile == 0,
        "tier" => customer.tier.is_empty(),
        "owner" => customer.owner.is_empty(),
        "source_channel" => customer.source_channel == 0,
        "external_id" => customer.external_id.is_empty(),
        "contact_preferences" => customer
            .contact_preferences
            .as_ref()
            .is_none_or(|preferences| *preferences == Default::default()),
        _ => false,
    }
}

/// The earlier of two optional dates (an invalid date counts as absent).
fn earlier(
    a: Option<kefu_proto::v1::Date>,
    b: Option<kefu_proto::v1::Date>,
) -> Option<kefu_proto::v1::Date> {
    let valid = |date: Option<kefu_proto::v1::Date>| date.filter(|d| naive_date(d).is_some());
    match (valid(a), valid(b)) {
        (Some(x), Some(y)) => {
            if naive_date(&y) < naive_date(&x) {
                Some(y)
            } else {
                Some(x)
            }
        }
        (x, y) => x.or(y),
    }
}

/// The union of `own` and `other` by `key`, `own` first, at most `limit`
/// entries; `other`'s entries pass through `adopt` (to drop their primary
/// flag).
fn union<T: Clone, K: Eq + std::hash::Hash>(
    own: &[T],
    other: &[T],
    limit: usize,
    key: impl Fn(&T) -> K,
    adopt: impl Fn(&mut T),
) -> Vec<T> {
    let mut seen: HashSet<K> = own.iter().map(&key).collect();
    let mut out: Vec<T> = own.to_vec();
    for entry in other {
        if out.len() >= limit {
            break;
        }
        if seen.insert(key(entry)) {
            let mut entry = entry.clone();
            adopt(&mut entry);
            out.push(entry);
        }
    }
    out
}

fn identifier_key(id: &CustomerIdentifier) -> IdentifierKey {
    IdentifierKey {
        kind: id.kind,
        label_key: identifier::label_key(id.kind(), &id.label),
        value_key: identifier::value_key(&id.value),
    }
}

fn postal_key(address: &PostalAddress) -> (String, String) {
    (address_key(address), address.postal_code.trim().to_owned())
}

/// Merges `merged` into `survivor` (both stored, normalised), taking the
/// values of `paths` (checked by [`check_paths`]) from `merged`.
pub fn merge(survivor: &Customer, merged: &Customer, paths: &[String]) -> Result<Merged> {
    let listed = |path: &str| paths.iter().any(|listed| listed == path);
    let mut out = survivor.clone();

    // Singular fields: listed ones come from `merged`; empty ones too.
    for path in [
        "display_name",
        "family_name",
        "given_name",
        "pinyin",
        "risk_profile",
        "tier",
        "owner",
        "source_channel",
        "external_id",
        "contact_preferences",
    ] {
        if listed(path) || is_empty(path, survivor) {
            (field(path).take)(&mut out, merged);
        }
    }
    // The pinyin is derived from the display name: it follows the name
    // unless the caller chose which pinyin to keep.
    if listed("display_name") && !listed("pinyin") {
        out.pinyin = merged.pinyin.clone();
    }
    for path in ["contribution", "asset_size", "customer_since"] {
        if listed(path) {
            (field(path).take)(&mut out, merged);
        }
    }
    if !listed("customer_since") {
        out.customer_since = earlier(survivor.customer_since, merged.customer_since);
    }
    if listed("member") {
        out.member = merged.member;
        out.member_since = merged.member_since;
    } else {
        out.member = survivor.member || merged.member;
        out.member_since = earlier(
            survivor.member_since.filter(|_| survivor.member),
            merged.member_since.filter(|_| merged.member),
        );
    }
    if listed("member_since") {
        out.member_since = merged.member_since;
    }

    // Attributes: whole when listed, else the survivor's keys win and the
    // merged customer fills the keys the survivor lacks.
    if listed("attributes") {
        out.attributes = merged.attributes.clone();
    } else if let Some(theirs) = &merged.attributes {
        let ours = &mut out.attributes.get_or_insert_with(Default::default).fields;
        for (key, value) in &theirs.fields {
            ours.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    for path in paths {
        if let Some(key) = path.strip_prefix("attributes.") {
            let value = merged
                .attributes
                .as_ref()
                .and_then(|attributes| attributes.fields.get(key))
                .cloned();
            let fields = &mut out.attributes.get_or_insert_with(Default::default).fields;
            match value {
                Some(value) => fields.insert(key.to_owned(), value),
                None => fields.remove(key),
            };
        }
        if let Some(sub) = path.strip_prefix("contact_preferences.") {
            let from = merged.contact_preferences.clone().unwrap_or_default();
            let to = out.contact_preferences.get_or_insert_with(Default::default);
            match sub {
                "do_not_disturb" => to.do_not_disturb = from.do_not_disturb,
                "do_not_disturb_until" => to.do_not_disturb_until = from.do_not_disturb_until,
                "preferred_hours" => to.preferred_hours = from.preferred_hours,
                "preferred_channel" => to.preferred_channel = from.preferred_channel,
                "sms_consent" => to.sms_consent = from.sms_consent,
                "time_zone" => to.time_zone = from.time_zone,
                _ => {}
            }
        }
    }
    if out
        .attributes
        .as_ref()
        .is_some_and(|attributes| attributes.fields.is_empty())
        && survivor.attributes.is_none()
    {
        out.attributes = None;
    }

    // Repeated fields: the union, the survivor's entries (and primaries)
    // first.
    out.phones = union(
        &survivor.phones,
        &merged.phones,
        limits::PHONES,
        |phone| phone.e164.clone(),
        |phone| phone.primary = false,
    );
    out.emails = union(
        &survivor.emails,
        &merged.emails,
        limits::EMAILS,
        |email| email.address.to_lowercase(),
        |email| email.primary = false,
    );
    out.addresses = union(
        &survivor.addresses,
        &merged.addresses,
        limits::ADDRESSES,
        postal_key,
        |_| {},
    );
    out.tags = union(
        &survivor.tags,
        &merged.tags,
        limits::TAGS,
        |tag| tag.to_lowercase(),
        |_| {},
    );
    // Identifiers are unique in the tenant: one left out would belong to no
    // active customer, so too many is refused rather than cut.
    let own: BTreeSet<IdentifierKey> = survivor.identifiers.iter().map(identifier_key).collect();
    let moved_identifiers: Vec<CustomerIdentifier> = merged
        .identifiers
        .iter()
        .filter(|id| !own.contains(&identifier_key(id)))
        .cloned()
        .collect();
    if survivor.identifiers.len() + moved_identifiers.len() > limits::IDENTIFIERS {
        return Err(CustomersError::invalid(
            "merged",
            format!(
                "together the customers hold more than {} identifiers; remove some from one of them first",
                limits::IDENTIFIERS
            ),
        ));
    }
    out.identifiers = survivor.identifiers.clone();
    out.identifiers.extend(moved_identifiers.iter().cloned());

    let external_id_moved = !merged.external_id.is_empty()
        && out.external_id == merged.external_id
        && survivor.external_id != merged.external_id;
    Ok(Merged {
        changed_paths: changed_paths(survivor, &out),
        survivor: out,
        moved_identifiers,
        external_id_moved,
    })
}

/// The merged customer as the merge leaves it: MERGED into `survivor`,
/// without the external id when the survivor took it; otherwise as it was,
/// so stale references still read its data.
pub fn retire(merged: &Customer, survivor_name: &str, external_id_moved: bool) -> Customer {
    let mut retired = merged.clone();
    retired.state = kefu_proto::v1::CustomerState::Merged as i32;
    retired.merged_into = survivor_name.to_owned();
    if external_id_moved {
        retired.external_id.clear();
    }
    retired
}

/// The survivor after an undo: each field still as the merge wrote it
/// (`after`) goes back to its value before the merge (`before`); a field
/// edited since stays as it is now (`current`). The moved identifiers leave
/// in every case. Returns the survivor and the paths that changed.
pub fn undo_survivor(
    before: &Customer,
    after: &Customer,
    current: &Customer,
    moved_identifiers: &[CustomerIdentifier],
) -> (Customer, Vec<String>) {
    let mut restored = current.clone();
    for field in FIELDS {
        if (field.same)(current, after) {
            (field.take)(&mut restored, before);
        }
    }
    let moved: HashSet<IdentifierKey> = moved_identifiers.iter().map(identifier_key).collect();
    restored
        .identifiers
        .retain(|id| !moved.contains(&identifier_key(id)));
    // One primary at most: an edit since may have left a restored list
    // without one, which normalisation marks again.
    let changed = changed_paths(current, &restored);
    (restored, changed)
}

/// The merged customer after an undo: its data of the time of the merge,
/// ACTIVE again.
pub fn undo_merged(before: &Customer) -> Customer {
    let mut restored = before.clone();
    restored.state = kefu_proto::v1::CustomerState::Active as i32;
    restored.merged_into.clear();
    restored.erase_time = None;
    restored
}

/// A condition of the merge and erasure record lists' AIP-160 filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The field as documented (`survivor`, `state`, `create_time`).
    pub field: String,
    /// `=`, `!=`, `<`, `<=`, `>`, `>=`.
    pub operator: &'static str,
    /// The value, unquoted (a time normalised to RFC 3339).
    pub value: String,
    /// The value as a time, for `create_time`.
    pub time: Option<chrono::DateTime<chrono::Utc>>,
}

/// The kinds of fields record lists filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A resource name or enum: `=` and `!=`.
    Equality,
    /// A timestamp in RFC 3339: every comparison.
    Time,
}

/// Parses a list filter: conditions `field op value` joined by `AND`.
/// Errors name `filter`.
pub fn parse_filter(filter: &str, fields: &[(&str, FieldKind)]) -> Result<Vec<Condition>> {
    let bad = |why: String| CustomersError::invalid("filter", why);
    let filter = filter.trim();
    if filter.is_empty() {
        return Ok(Vec::new());
    }
    let mut conditions = Vec::new();
    for term in filter.split(" AND ") {
        let term = term.trim();
        let end = term
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(term.len());
        let (name, rest) = term.split_at(end);
        let Some((_, kind)) = fields.iter().find(|(field, _)| *field == name) else {
            let names: Vec<&str> = fields.iter().map(|(field, _)| *field).collect();
            return Err(bad(format!(
                "cannot filter on {name:?}; filter fields: {}",
                names.join(", ")
            )));
        };
        let rest = rest.trim_start();
        let Some(operator) = ["<=", ">=", "!=", "=", "<", ">"]
            .into_iter()
            .find(|operator| rest.starts_with(operator))
        else {
            return Err(bad(format!(
                "{term:?} is not a condition; write field = \"value\" and join conditions with AND"
            )));
        };
        let value = rest[operator.len()..].trim();
        let value = value
            .strip_prefix('"')
            .and_then(|inner| inner.strip_suffix('"'))
            .unwrap_or(value)
            .to_owned();
        if value.is_empty() {
            return Err(bad(format!("{name} needs a value")));
        }
        let time = match kind {
            FieldKind::Equality if !matches!(operator, "=" | "!=") => {
                return Err(bad(format!("{name} compares only with = and !=")));
            }
            FieldKind::Equality => None,
            FieldKind::Time => Some(
                chrono::DateTime::parse_from_rfc3339(&value)
                    .map_err(|_| {
                        bad(format!(
                            "{name} compares with an RFC 3339 time such as \"2026-12-01T08:00:00Z\""
                        ))
                    })?
                    .with_timezone(&chrono::Utc),
            ),
        };
        conditions.push(Condition {
            field: name.to_owned(),
            operator,
            value,
            time,
        });
    }
    Ok(conditions)
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{
        ContactPreferences, CustomerEmail, CustomerIdentifierKind, CustomerPhone, Date, Money,
    };

    use super::*;

    fn phone(e164: &str, primary: bool) -> CustomerPhone {
        CustomerPhone {
            raw: e164.into(),
            e164: e164.into(),
            primary,
            ..CustomerPhone::default()
        }
    }

    fn unit(value: &str) -> CustomerIdentifier {
        CustomerIdentifier {
            kind: CustomerIdentifierKind::UnitNumber as i32,
            value: value.into(),
            label: String::new(),
        }
    }

    fn date(year: i32, month: i32, day: i32) -> Option<Date> {
        Some(Date { year, month, day })
    }

    fn yuan(amount: i64) -> Option<Money> {
        Some(Money {
            currency_code: "CNY".into(),
            amount_minor: amount,
        })
    }

    fn survivor() -> Customer {
        Customer {
            name: "customers/s".into(),
            display_name: "张三".into(),
            pinyin: "zhang san".into(),
            phones: vec![phone("+8613800138000", true)],
            emails: vec![CustomerEmail {
                address: "Zhang@Example.com".into(),
                primary: true,
                verified: false,
            }],
            identifiers: vec![unit("3-2-1502")],
            tags: vec!["VIP".into()],
            member: false,
            customer_since: date(2020, 5, 1),
            contribution: yuan(100),
            ..Customer::default()
        }
    }

    fn merged() -> Customer {
        Customer {
            name: "customers/m".into(),
            display_name: "张三丰".into(),
            pinyin: "zhang san feng".into(),
            family_name: "张".into(),
            phones: vec![
                phone("+8613800138000", true),
                phone("+8613900139000", false),
            ],
            emails: vec![CustomerEmail {
                address: "zhang@example.COM".into(),
                primary: true,
                verified: true,
            }],
            identifiers: vec![unit("5-1-101")],
            tags: vec!["vip".into(), "业主".into()],
            member: true,
            member_since: date(2019, 1, 1),
            customer_since: date(2018, 3, 1),
            contribution: yuan(900),
            asset_size: yuan(5000),
            external_id: "ERP-7".into(),
            contact_preferences: Some(ContactPreferences {
                do_not_disturb: true,
                ..ContactPreferences::default()
            }),
            ..Customer::default()
        }
    }

    #[test]
    fn the_survivor_keeps_its_values_and_gains_the_union() {
        let outcome = merge(&survivor(), &merged(), &[]).expect("merges");
        let s = &outcome.survivor;
        assert_eq!(s.display_name, "张三");
        assert_eq!(s.pinyin, "zhang san");
        let phones: Vec<_> = s
            .phones
            .iter()
            .map(|p| (p.e164.as_str(), p.primary))
            .collect();
        assert_eq!(
            phones,
            [("+8613800138000", true), ("+8613900139000", false)]
        );
        assert_eq!(s.emails.len(), 1, "e-mails compare case-insensitively");
        assert_eq!(s.tags, ["VIP", "业主"], "tags compare case-insensitively");
        let units: Vec<_> = s.identifiers.iter().map(|i| i.value.as_str()).collect();
        assert_eq!(units, ["3-2-1502", "5-1-101"]);
        assert_eq!(outcome.moved_identifiers, [unit("5-1-101")]);
        // Empty survivor fields take the merged customer's.
        assert_eq!(s.family_name, "张");
        assert_eq!(s.external_id, "ERP-7");
        assert!(outcome.external_id_moved);
        assert!(
            s.contact_preferences
                .as_ref()
                .is_some_and(|p| p.do_not_disturb)
        );
        // A member if either is, with the earlier dates.
        assert!(s.member);
        assert_eq!(s.member_since, date(2019, 1, 1));
        assert_eq!(s.customer_since, date(2018, 3, 1));
        // Money stays the survivor's unless asked for.
        assert_eq!(s.contribution, yuan(100));
        assert_eq!(s.asset_size, None);
        for path in ["phones", "identifiers", "tags", "member", "external_id"] {
            assert!(outcome.changed_paths.iter().any(|p| p == path), "{path}");
        }
        assert!(!outcome.changed_paths.iter().any(|p| p == "display_name"));
    }

    #[test]
    fn listed_paths_come_from_the_merged_customer() {
        let paths = check_paths(&[
            "display_name".into(),
            "contribution".into(),
            "asset_size".into(),
            "contribution".into(),
        ])
        .expect("singular paths");
        assert_eq!(paths.len(), 3, "repeats are dropped");
        let outcome = merge(&survivor(), &merged(), &paths).expect("merges");
        assert_eq!(outcome.survivor.display_name, "张三丰");
        assert_eq!(
            outcome.survivor.pinyin, "zhang san feng",
            "pinyin follows the name"
        );
        assert_eq!(outcome.survivor.contribution, yuan(900));
        assert_eq!(outcome.survivor.asset_size, yuan(5000));
    }

    #[test]
    fn only_singular_paths_may_be_listed() {
        for (paths, field) in [
            (vec!["phones"], "merged_field_paths[0]"),
            (vec!["display_name", "tags"], "merged_field_paths[1]"),
            (vec!["name"], "merged_field_paths[0]"),
            (vec!["contact_preferences.colour"], "merged_field_paths[0]"),
            (vec!["attributes."], "merged_field_paths[0]"),
        ] {
            let paths: Vec<String> = paths.into_iter().map(String::from).collect();
            match check_paths(&paths) {
                Err(CustomersError::Invalid(violation, _)) => {
                    assert_eq!(violation.field, field, "{paths:?}")
                }
                other => panic!("{paths:?}: {other:?}"),
            }
        }
        assert!(
            check_paths(&[
                "attributes.level".into(),
                "contact_preferences.sms_consent".into(),
                "owner".into()
            ])
            .is_ok()
        );
    }

    #[test]
    fn unions_stay_within_the_limits() {
        let mut s = survivor();
        let mut m = merged();
        s.phones = (0..15)
            .map(|n| phone(&format!("+86138000000{n:02}"), n == 0))
            .collect();
        m.phones = (10..25)
            .map(|n| phone(&format!("+86138000000{n:02}"), false))
            .collect();
        let outcome = merge(&s, &m, &[]).expect("merges");
        assert_eq!(outcome.survivor.phones.len(), limits::PHONES);
        assert_eq!(
            outcome.survivor.phones.iter().filter(|p| p.primary).count(),
            1
        );

        s.identifiers = (0..30).map(|n| unit(&format!("1-{n}"))).collect();
        m.identifiers = (0..30).map(|n| unit(&format!("2-{n}"))).collect();
        assert!(matches!(
            merge(&s, &m, &[]),
            Err(CustomersError::Invalid(violation, _)) if violation.field == "merged"
        ));
    }

    #[test]
    fn the_survivors_own_values_win_over_empty_merged_ones() {
        let mut m = merged();
        m.family_name.clear();
        m.external_id.clear();
        let mut s = survivor();
        s.family_name = "章".into();
        s.external_id = "CRM-1".into();
        let outcome = merge(&s, &m, &[]).expect("merges");
        assert_eq!(outcome.survivor.family_name, "章");
        assert_eq!(outcome.survivor.external_id, "CRM-1");
        assert!(!outcome.external_id_moved);
        let retired = retire(&m, "customers/s", outcome.external_id_moved);
        assert_eq!(retired.merged_into, "customers/s");
    }

    #[test]
    fn undo_restores_what_the_merge_gave_unless_edited_since() {
        let before = survivor();
        let outcome = merge(&before, &merged(), &[]).expect("merges");
        let after = outcome.survivor.clone();

        // Untouched since the merge: exactly the survivor of before.
        let (restored, changed) =
            undo_survivor(&before, &after, &after, &outcome.moved_identifiers);
        assert_eq!(restored, before);
        assert!(changed.iter().any(|path| path == "phones"));

        // Tags and the display name edited since: they stay; the rest goes
        // back; the moved unit number leaves even though identifiers were
        // edited too.
        let mut current = after.clone();
        current.tags.push("投诉".into());
        current.display_name = "张三 (VIP)".into();
        current.identifiers.push(unit("9-9-909"));
        let (restored, changed) =
            undo_survivor(&before, &after, &current, &outcome.moved_identifiers);
        assert_eq!(restored.tags, ["VIP", "业主", "投诉"]);
        assert_eq!(restored.display_name, "张三 (VIP)");
        assert_eq!(restored.phones, before.phones);
        assert!(!restored.member);
        assert_eq!(restored.external_id, "");
        let units: Vec<_> = restored
            .identifiers
            .iter()
            .map(|i| i.value.as_str())
            .collect();
        assert_eq!(units, ["3-2-1502", "9-9-909"]);
        assert!(
            !changed
                .iter()
                .any(|path| path == "tags" || path == "display_name")
        );

        let back = undo_merged(&retire(&merged(), "customers/s", true));
        assert_eq!(back.state, kefu_proto::v1::CustomerState::Active as i32);
        assert!(back.merged_into.is_empty());
    }

    #[test]
    fn the_snapshot_round_trips() {
        use prost::Message;
        let snapshot = MergeSnapshot {
            survivor_before: Some(survivor()),
            merged_before: Some(merged()),
            moved_activities: vec!["a1".into()],
            external_id_moved: true,
            ..MergeSnapshot::default()
        };
        let decoded = MergeSnapshot::decode(snapshot.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(decoded, snapshot);
    }

    #[test]
    fn record_filters_parse_and_name_the_filter() {
        let fields = [
            ("survivor", FieldKind::Equality),
            ("create_time", FieldKind::Time),
        ];
        let conditions = parse_filter(
            r#"survivor = "customers/a" AND create_time >= "2026-12-01T00:00:00Z""#,
            &fields,
        )
        .expect("parses");
        assert_eq!(conditions[0].value, "customers/a");
        assert_eq!(conditions[1].operator, ">=");
        assert!(conditions[1].time.is_some());
        for bad in [
            "colour = red",
            "survivor < x",
            "create_time > yesterday",
            "survivor",
            "survivor = ",
        ] {
            assert!(
                matches!(parse_filter(bad, &fields), Err(CustomersError::Invalid(v, _)) if v.field == "filter"),
                "{bad}"
            );
        }
    }
}
