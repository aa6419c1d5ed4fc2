//! Likely duplicates (疑似重复客户): why two customers look like one person,
//! how likely it is (`1 − Π(1 − weight)` over the reasons, as the contract
//! says), the order candidates are listed in and the page token that
//! continues that order.

use std::{cmp::Ordering, collections::BTreeSet};

use chrono::{DateTime, Utc};
use kefu_kit::events::from_timestamp;
use kefu_proto::v1::{Customer, DuplicateCandidate, DuplicateReason, PostalAddress};

use super::customer::{IdentifierKey, lookup_keys};

/// The score a search asks for when it names none.
pub const DEFAULT_MIN_SCORE: f64 = 0.5;

/// The weight of a reason (the contract's table).
pub fn weight(reason: DuplicateReason) -> f64 {
    match reason {
        DuplicateReason::SamePhone => 0.9,
        DuplicateReason::SameEmail => 0.8,
        DuplicateReason::SameIdentifier => 0.95,
        DuplicateReason::SameNameAndAddress => 0.6,
        DuplicateReason::Unspecified => 0.0,
    }
}

/// The likelihood that reasons make: `1 − Π(1 − weight)`.
pub fn score(reasons: &[DuplicateReason]) -> f64 {
    1.0 - reasons
        .iter()
        .map(|reason| 1.0 - weight(*reason))
        .product::<f64>()
}

/// What comparing two customers needs of each, without the rest of the
/// record (a tenant-wide scan keeps thousands of these at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `customers/{customer}`.
    pub name: String,
    /// When created (the older of a pair is its `customer`).
    pub create_time: Option<DateTime<Utc>>,
    /// E.164 phones.
    pub phones: BTreeSet<String>,
    /// Lowercase e-mails.
    pub emails: BTreeSet<String>,
    /// Identifier keys.
    pub identifiers: BTreeSet<IdentifierKey>,
    /// The display name as compared: trimmed, lowercase, inner spaces
    /// collapsed.
    pub display_name: String,
    /// The primary (first) address as compared; empty when it has none.
    pub address: String,
}

impl Profile {
    /// The profile of a stored customer.
    pub fn of(customer: &Customer) -> Self {
        let keys = lookup_keys(customer);
        Self {
            name: customer.name.clone(),
            create_time: customer.create_time.as_ref().and_then(from_timestamp),
            phones: keys.phones.into_iter().filter(|p| !p.is_empty()).collect(),
            emails: keys.emails.into_iter().collect(),
            identifiers: keys.identifiers.into_iter().collect(),
            display_name: collapse(&customer.display_name),
            address: customer
                .addresses
                .first()
                .map(address_key)
                .unwrap_or_default(),
        }
    }
}

/// Lowercase, words separated by one space.
fn collapse(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// An address as compared: its parts lowercase with spaces collapsed, the
/// postal code left out (often missing on one of two copies of the same
/// address). Empty when the address says nothing.
pub fn address_key(address: &PostalAddress) -> String {
    let mut parts = vec![
        collapse(&address.region_code),
        collapse(&address.administrative_area),
        collapse(&address.locality),
        collapse(&address.sublocality),
    ];
    parts.extend(address.address_lines.iter().map(|line| collapse(line)));
    if parts.iter().all(String::is_empty) {
        return String::new();
    }
    parts.join("\u{1}")
}

/// Every reason `a` and `b` look like one person, in the contract's order.
pub fn reasons(a: &Profile, b: &Profile) -> Vec<DuplicateReason> {
    let mut found = Vec::new();
    if !a.phones.is_disjoint(&b.phones) {
        found.push(DuplicateReason::SamePhone);
    }
    if !a.emails.is_disjoint(&b.emails) {
        found.push(DuplicateReason::SameEmail);
    }
    if !a.identifiers.is_disjoint(&b.identifiers) {
        found.push(DuplicateReason::SameIdentifier);
    }
    if !a.display_name.is_empty()
        && a.display_name == b.display_name
        && !a.address.is_empty()
        && a.address == b.address
    {
        found.push(DuplicateReason::SameNameAndAddress);
    }
    found
}

/// The candidate `duplicate` is of `customer`, if it scores at least
/// `min_score`.
pub fn candidate(
    customer: &Profile,
    duplicate: &Profile,
    min_score: f64,
) -> Option<DuplicateCandidate> {
    let reasons = reasons(customer, duplicate);
    if reasons.is_empty() {
        return None;
    }
    let score = score(&reasons);
    (score >= min_score).then(|| DuplicateCandidate {
        customer: customer.name.clone(),
        duplicate: duplicate.name.clone(),
        reasons: reasons.into_iter().map(|reason| reason as i32).collect(),
        score,
    })
}

/// The pair `a`, `b` oriented as a tenant-wide scan lists it: the older one
/// (then the smaller name) first.
pub fn older_first<'a>(a: &'a Profile, b: &'a Profile) -> (&'a Profile, &'a Profile) {
    let a_first = match (a.create_time, b.create_time) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a.name < b.name,
    };
    if a_first { (a, b) } else { (b, a) }
}

/// The listing order: score descending, then the pair's names.
pub fn order(a: &DuplicateCandidate, b: &DuplicateCandidate) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| a.customer.cmp(&b.customer))
        .then_with(|| a.duplicate.cmp(&b.duplicate))
}

/// Where a page of candidates starts: after this one in [`order`].
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// The last candidate's score.
    pub score: f64,
    /// Its `customer`.
    pub customer: String,
    /// Its `duplicate`.
    pub duplicate: String,
}

impl Cursor {
    /// The cursor after `candidate`.
    pub fn after(candidate: &DuplicateCandidate) -> Self {
        Self {
            score: candidate.score,
            customer: candidate.customer.clone(),
            duplicate: candidate.duplicate.clone(),
        }
    }

    /// The page token: the exact score bits and both names, hex-encoded so
    /// the token is opaque and holds no separator ambiguity.
    pub fn token(&self) -> String {
        let hex = |text: &str| -> String { text.bytes().map(|b| format!("{b:02x}")).collect() };
        format!(
            "d{:016x}.{}.{}",
            self.score.to_bits(),
            hex(&self.customer),
            hex(&self.duplicate)
        )
    }

    /// The cursor in a token from [`Cursor::token`].
    pub fn from_token(token: &str) -> Option<Self> {
        let mut parts = token.strip_prefix('d')?.split('.');
        let bits = u64::from_str_radix(parts.next()?, 16).ok()?;
        let customer = unhex(parts.next()?)?;
        let duplicate = unhex(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        let score = f64::from_bits(bits);
        (0.0..=1.0).contains(&score).then_some(Self {
            score,
            customer,
            duplicate,
        })
    }

    /// Whether `candidate` comes after the cursor.
    pub fn precedes(&self, candidate: &DuplicateCandidate) -> bool {
        let last = DuplicateCandidate {
            customer: self.customer.clone(),
            duplicate: self.duplicate.clone(),
            reasons: Vec::new(),
            score: self.score,
        };
        order(&last, candidate) == Ordering::Less
    }
}

fn unhex(hex: &str) -> Option<String> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// One page of `candidates` (already filtered) in [`order`], after `after`;
/// the cursor of the next page when more remain.
pub fn page(
    mut candidates: Vec<DuplicateCandidate>,
    after: Option<&Cursor>,
    limit: usize,
) -> (Vec<DuplicateCandidate>, Option<Cursor>) {
    candidates.sort_by(order);
    let mut rest: Vec<DuplicateCandidate> = match after {
        Some(cursor) => candidates
            .into_iter()
            .filter(|candidate| cursor.precedes(candidate))
            .collect(),
        None => candidates,
    };
    if rest.len() > limit {
        rest.truncate(limit);
        let next = rest.last().map(Cursor::after);
        (rest, next)
    } else {
        (rest, None)
    }
}

#[cfg(test)]
mod tests {
    use kefu_kit::events::to_timestamp;
    use kefu_proto::v1::{
        CustomerEmail, CustomerIdentifier, CustomerIdentifierKind, CustomerPhone,
    };

    use super::*;

    fn customer(name: &str, display_name: &str) -> Customer {
        Customer {
            name: format!("customers/{name}"),
            display_name: display_name.into(),
            ..Customer::default()
        }
    }

    fn phone(e164: &str) -> CustomerPhone {
        CustomerPhone {
            raw: e164.into(),
            e164: e164.into(),
            ..CustomerPhone::default()
        }
    }

    fn address(line: &str) -> PostalAddress {
        PostalAddress {
            region_code: "CN".into(),
            locality: "上海市".into(),
            address_lines: vec![line.into()],
            ..PostalAddress::default()
        }
    }

    #[test]
    fn scores_combine_as_independent_evidence() {
        assert!((score(&[DuplicateReason::SamePhone]) - 0.9).abs() < 1e-12);
        assert!((score(&[DuplicateReason::SameNameAndAddress]) - 0.6).abs() < 1e-12);
        let both = score(&[DuplicateReason::SamePhone, DuplicateReason::SameEmail]);
        assert!((both - 0.98).abs() < 1e-12, "{both}");
        assert_eq!(score(&[]), 0.0);
    }

    #[test]
    fn the_same_phone_email_identifier_or_name_and_address_is_a_reason() {
        let mut a = customer("a", "张三");
        let mut b = customer("b", " 张三 ");
        assert!(reasons(&Profile::of(&a), &Profile::of(&b)).is_empty());

        a.phones = vec![phone("+8613800138000"), phone("+861088886666")];
        b.phones = vec![phone("+861088886666")];
        a.emails = vec![CustomerEmail {
            address: "Zhang@Example.com".into(),
            ..CustomerEmail::default()
        }];
        b.emails = vec![CustomerEmail {
            address: "zhang@example.COM".into(),
            ..CustomerEmail::default()
        }];
        let unit = |value: &str| CustomerIdentifier {
            kind: CustomerIdentifierKind::UnitNumber as i32,
            value: value.into(),
            label: String::new(),
        };
        a.identifiers = vec![unit("3-2-1502")];
        b.identifiers = vec![unit("3 2 1502")];
        a.addresses = vec![address("幸福路 1 号")];
        b.addresses = vec![address("幸福路  1 号")];
        assert_eq!(
            reasons(&Profile::of(&a), &Profile::of(&b)),
            [
                DuplicateReason::SamePhone,
                DuplicateReason::SameEmail,
                DuplicateReason::SameIdentifier,
                DuplicateReason::SameNameAndAddress,
            ]
        );

        // The same name alone, or the same address under another name, is
        // not a reason; neither is an address that says nothing.
        let mut c = customer("c", "张三");
        c.addresses = vec![address("幸福路 2 号")];
        assert!(reasons(&Profile::of(&a), &Profile::of(&c)).is_empty());
        let mut d = customer("d", "李四");
        d.addresses = vec![address("幸福路 1 号")];
        assert!(reasons(&Profile::of(&a), &Profile::of(&d)).is_empty());
        let mut e = customer("e", "王五");
        let mut f = customer("f", "王五");
        e.addresses = vec![PostalAddress::default()];
        f.addresses = vec![PostalAddress::default()];
        assert!(reasons(&Profile::of(&e), &Profile::of(&f)).is_empty());
    }

    #[test]
    fn candidates_below_the_minimum_are_left_out() {
        let mut a = customer("a", "张三");
        let mut b = customer("b", "张三");
        a.addresses = vec![address("幸福路 1 号")];
        b.addresses = vec![address("幸福路 1 号")];
        let (a, b) = (Profile::of(&a), Profile::of(&b));
        assert!(candidate(&a, &b, DEFAULT_MIN_SCORE).is_some());
        assert!(candidate(&a, &b, 0.7).is_none());
        let found = candidate(&a, &b, 0.0).expect("candidate");
        assert_eq!(found.customer, "customers/a");
        assert_eq!(found.duplicate, "customers/b");
        assert_eq!(found.reasons, [DuplicateReason::SameNameAndAddress as i32]);
    }

    #[test]
    fn the_older_customer_comes_first_in_a_pair() {
        let time = |seconds| {
            Some(to_timestamp(
                DateTime::from_timestamp(seconds, 0).expect("time"),
            ))
        };
        let mut young = customer("a", "x");
        young.create_time = time(200);
        let mut old = customer("b", "x");
        old.create_time = time(100);
        let (young, old) = (Profile::of(&young), Profile::of(&old));
        assert_eq!(older_first(&young, &old).0.name, "customers/b");
        assert_eq!(older_first(&old, &young).0.name, "customers/b");
    }

    #[test]
    fn pages_follow_score_then_names_and_continue_after_the_token() {
        let pair = |customer: &str, duplicate: &str, score: f64| DuplicateCandidate {
            customer: format!("customers/{customer}"),
            duplicate: format!("customers/{duplicate}"),
            reasons: Vec::new(),
            score,
        };
        let all = vec![
            pair("c", "d", 0.6),
            pair("a", "z", 0.9),
            pair("a", "b", 0.9),
            pair("b", "c", 0.98),
        ];
        let (first, next) = page(all.clone(), None, 2);
        let names: Vec<_> = first.iter().map(|c| c.duplicate.as_str()).collect();
        assert_eq!(names, ["customers/c", "customers/b"]);
        let token = next.expect("more").token();
        let cursor = Cursor::from_token(&token).expect("token reads back");
        let (second, next) = page(all, Some(&cursor), 2);
        let names: Vec<_> = second.iter().map(|c| c.duplicate.as_str()).collect();
        assert_eq!(names, ["customers/z", "customers/d"]);
        assert!(next.is_none());
        assert!(Cursor::from_token("nonsense").is_none());
        assert!(Cursor::from_token("d0.zz.00").is_none());
    }
}
