//! Tiers (客户等级): the checks of a tier as an admin writes it, and which
//! tier a customer's data qualifies for.
//!
//! Money criteria compare `amount_minor`. Amounts in different currencies
//! cannot be compared, so a rule with a currency does not match a customer
//! whose amount carries another one; an amount without a currency is read
//! in the tenant's currency and compared as it is. An unset amount is zero.

use chrono::{Datelike, NaiveDate};
use kefu_proto::v1::{Customer, Money, RiskProfile, Tier, TierRule};

use super::customer::naive_date;
use crate::error::{CustomersError, Result};

/// Rules a tier may have.
pub const MAX_RULES: usize = 20;
/// Regions one rule may list.
const MAX_REGIONS: usize = 100;

/// `[a-z][a-z0-9-]{0,49}`.
pub fn is_tier_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_lowercase())
        && id.len() <= 50
        && bytes.all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
}

fn check_money(money: Option<&Money>, field: &str) -> Result<()> {
    let Some(money) = money else {
        return Ok(());
    };
    if money.amount_minor < 0 {
        return Err(CustomersError::invalid(
            field,
            format!("{field}.amount_minor must not be negative"),
        ));
    }
    let code = &money.currency_code;
    let iso = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
    if !code.is_empty() && !iso {
        return Err(CustomersError::invalid(
            field,
            format!("{field}.currency_code must be an ISO 4217 code such as CNY"),
        ));
    }
    Ok(())
}

/// Checks the caller-writable fields of `tier`; errors name the field
/// under `tier`.
pub fn check_tier(tier: &Tier) -> Result<()> {
    let values = tier.label.as_ref().map(|label| &label.values);
    if values.is_none_or(|values| values.values().all(|value| value.trim().is_empty())) {
        return Err(CustomersError::invalid(
            "tier.label",
            "tier.label is required in at least one locale (zh-CN or en)",
        ));
    }
    for (locale, value) in values.into_iter().flatten() {
        if !["zh-CN", "en"].contains(&locale.as_str()) || value.chars().count() > 100 {
            return Err(CustomersError::invalid(
                "tier.label",
                format!("tier.label: {locale:?} must be zh-CN or en, at most 100 characters"),
            ));
        }
    }
    if tier.rank < 1 {
        return Err(CustomersError::invalid(
            "tier.rank",
            "tier.rank is required: 1 is the highest",
        ));
    }
    if tier.description.chars().count() > 1000 {
        return Err(CustomersError::invalid(
            "tier.description",
            "tier.description is longer than 1000 characters",
        ));
    }
    if tier.rules.len() > MAX_RULES {
        return Err(CustomersError::invalid(
            "tier.rules",
            format!("a tier has at most {MAX_RULES} rules"),
        ));
    }
    for (index, rule) in tier.rules.iter().enumerate() {
        let field = |name: &str| format!("tier.rules[{index}].{name}");
        check_money(rule.min_contribution.as_ref(), &field("min_contribution"))?;
        check_money(rule.min_asset_size.as_ref(), &field("min_asset_size"))?;
        if rule.regions.len() > MAX_REGIONS
            || rule
                .regions
                .iter()
                .any(|region| region.trim().is_empty() || region.chars().count() > 100)
        {
            return Err(CustomersError::invalid(
                &field("regions"),
                format!(
                    "{} lists at most {MAX_REGIONS} regions, each 1 to 100 characters",
                    field("regions")
                ),
            ));
        }
        if rule.min_tenure_months < 0 {
            return Err(CustomersError::invalid(
                &field("min_tenure_months"),
                format!("{} must not be negative", field("min_tenure_months")),
            ));
        }
        if rule.risk_profiles.iter().any(|profile| {
            !matches!(RiskProfile::try_from(*profile), Ok(p) if p != RiskProfile::Unspecified)
        }) {
            return Err(CustomersError::invalid(
                &field("risk_profiles"),
                format!(
                    "{} lists CONSERVATIVE, BALANCED or AGGRESSIVE",
                    field("risk_profiles")
                ),
            ));
        }
    }
    Ok(())
}

/// Whether the customer's amount reaches the rule's minimum.
fn reaches(actual: Option<&Money>, minimum: Option<&Money>) -> bool {
    let Some(minimum) = minimum else {
        return true;
    };
    let actual_currency = actual.map_or("", |money| money.currency_code.as_str());
    if !minimum.currency_code.is_empty()
        && !actual_currency.is_empty()
        && actual_currency != minimum.currency_code
    {
        return false;
    }
    actual.map_or(0, |money| money.amount_minor) >= minimum.amount_minor
}

/// Whole months from `since` to `today` (0 when `since` is later).
pub fn tenure_months(since: NaiveDate, today: NaiveDate) -> i32 {
    let months = (today.year() - since.year()) * 12 + today.month() as i32 - since.month() as i32;
    let months = if today.day() < since.day() {
        months - 1
    } else {
        months
    };
    months.max(0)
}

/// Whether `customer` satisfies every criterion `rule` sets, on `today`.
pub fn rule_matches(rule: &TierRule, customer: &Customer, today: NaiveDate) -> bool {
    if rule.members_only && !customer.member {
        return false;
    }
    if !reaches(
        customer.contribution.as_ref(),
        rule.min_contribution.as_ref(),
    ) || !reaches(customer.asset_size.as_ref(), rule.min_asset_size.as_ref())
    {
        return false;
    }
    if !rule.regions.is_empty() {
        // The primary address is the first; its province or its city may be
        // named (`广东省` or `深圳市`).
        let Some(address) = customer.addresses.first() else {
            return false;
        };
        let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
        let inside = rule.regions.iter().any(|region| {
            (!address.administrative_area.trim().is_empty()
                && same(region, &address.administrative_area))
                || (!address.locality.trim().is_empty() && same(region, &address.locality))
        });
        if !inside {
            return false;
        }
    }
    if rule.min_tenure_months > 0 {
        let since = customer.customer_since.as_ref().and_then(naive_date);
        if since.is_none_or(|since| tenure_months(since, today) < rule.min_tenure_months) {
            return false;
        }
    }
    if !rule.risk_profiles.is_empty() && !rule.risk_profiles.contains(&customer.risk_profile) {
        return false;
    }
    true
}

/// The name of the highest-ranked tier (lowest `rank`) of `tiers` any of
/// whose rules `customer` matches on `today`; tiers without rules are only
/// set by hand.
pub fn qualifying_tier<'a>(
    tiers: &'a [Tier],
    customer: &Customer,
    today: NaiveDate,
) -> Option<&'a str> {
    tiers
        .iter()
        .filter(|tier| {
            tier.rules
                .iter()
                .any(|rule| rule_matches(rule, customer, today))
        })
        .min_by_key(|tier| tier.rank)
        .map(|tier| tier.name.as_str())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{Date, LocalizedText, PostalAddress};

    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    fn cny(amount_minor: i64) -> Option<Money> {
        Some(Money {
            currency_code: "CNY".into(),
            amount_minor,
        })
    }

    fn tier(id: &str, rank: i32, rules: Vec<TierRule>) -> Tier {
        Tier {
            name: format!("tiers/{id}"),
            label: Some(LocalizedText {
                values: [("zh-CN".to_owned(), id.to_owned())].into(),
            }),
            rank,
            rules,
            ..Tier::default()
        }
    }

    fn tiers() -> Vec<Tier> {
        vec![
            tier(
                "silver",
                3,
                vec![TierRule {
                    min_contribution: cny(100_000),
                    ..TierRule::default()
                }],
            ),
            tier(
                "vip",
                1,
                vec![
                    TierRule {
                        min_asset_size: cny(1_000_000_000),
                        ..TierRule::default()
                    },
                    TierRule {
                        min_contribution: cny(10_000_000),
                        members_only: true,
                        ..TierRule::default()
                    },
                ],
            ),
            tier(
                "gold",
                2,
                vec![TierRule {
                    min_contribution: cny(1_000_000),
                    ..TierRule::default()
                }],
            ),
            tier("handpicked", 4, Vec::new()),
        ]
    }

    fn customer(contribution: i64) -> Customer {
        Customer {
            contribution: cny(contribution),
            customer_since: Some(Date {
                year: 2020,
                month: 1,
                day: 31,
            }),
            ..Customer::default()
        }
    }

    #[test]
    fn the_highest_ranked_matching_tier_wins() {
        let today = day("2026-12-01");
        let tiers = tiers();
        assert_eq!(qualifying_tier(&tiers, &customer(0), today), None);
        assert_eq!(
            qualifying_tier(&tiers, &customer(100_000), today),
            Some("tiers/silver")
        );
        assert_eq!(
            qualifying_tier(&tiers, &customer(99_999), today),
            None,
            "the minimum is inclusive, one fen below is not enough"
        );
        assert_eq!(
            qualifying_tier(&tiers, &customer(20_000_000), today),
            Some("tiers/gold"),
            "the VIP contribution rule is for members only"
        );
        let member = Customer {
            member: true,
            ..customer(20_000_000)
        };
        assert_eq!(qualifying_tier(&tiers, &member, today), Some("tiers/vip"));
        let rich = Customer {
            asset_size: cny(1_000_000_000),
            ..customer(0)
        };
        assert_eq!(qualifying_tier(&tiers, &rich, today), Some("tiers/vip"));
    }

    #[test]
    fn other_currencies_do_not_compare_and_missing_amounts_are_zero() {
        let rule = TierRule {
            min_contribution: cny(100),
            ..TierRule::default()
        };
        let today = day("2026-12-01");
        let usd = Customer {
            contribution: Some(Money {
                currency_code: "USD".into(),
                amount_minor: 1_000_000,
            }),
            ..Customer::default()
        };
        assert!(!rule_matches(&rule, &usd, today));
        let plain = Customer {
            contribution: Some(Money {
                currency_code: String::new(),
                amount_minor: 100,
            }),
            ..Customer::default()
        };
        assert!(rule_matches(&rule, &plain, today));
        assert!(!rule_matches(&rule, &Customer::default(), today));
        assert!(rule_matches(
            &TierRule::default(),
            &Customer::default(),
            today
        ));
    }

    #[test]
    fn regions_read_the_primary_address() {
        let rule = TierRule {
            regions: vec!["上海市".into(), "广东省".into()],
            ..TierRule::default()
        };
        let today = day("2026-12-01");
        let at = |area: &str, city: &str| Customer {
            addresses: vec![
                PostalAddress {
                    administrative_area: area.into(),
                    locality: city.into(),
                    ..PostalAddress::default()
                },
                PostalAddress {
                    administrative_area: "上海市".into(),
                    ..PostalAddress::default()
                },
            ],
            ..Customer::default()
        };
        assert!(rule_matches(&rule, &at("广东省", "深圳市"), today));
        assert!(rule_matches(&rule, &at("", "上海市"), today));
        assert!(
            !rule_matches(&rule, &at("浙江省", "杭州市"), today),
            "only the first address counts"
        );
        assert!(!rule_matches(&rule, &Customer::default(), today));
    }

    #[test]
    fn tenure_counts_whole_months_from_customer_since() {
        assert_eq!(tenure_months(day("2020-01-31"), day("2020-02-29")), 0);
        assert_eq!(tenure_months(day("2020-01-31"), day("2020-03-31")), 2);
        assert_eq!(tenure_months(day("2024-06-15"), day("2026-06-14")), 23);
        assert_eq!(tenure_months(day("2024-06-15"), day("2026-06-15")), 24);
        assert_eq!(tenure_months(day("2027-01-01"), day("2026-06-15")), 0);
        let rule = TierRule {
            min_tenure_months: 24,
            ..TierRule::default()
        };
        let since = |date: Date| Customer {
            customer_since: Some(date),
            ..Customer::default()
        };
        let june = Date {
            year: 2024,
            month: 6,
            day: 15,
        };
        assert!(!rule_matches(&rule, &since(june), day("2026-06-14")));
        assert!(rule_matches(&rule, &since(june), day("2026-06-15")));
        assert!(!rule_matches(
            &rule,
            &Customer::default(),
            day("2026-06-15")
        ));
    }

    #[test]
    fn risk_profiles_and_membership() {
        let rule = TierRule {
            risk_profiles: vec![RiskProfile::Aggressive as i32],
            members_only: true,
            ..TierRule::default()
        };
        let today = day("2026-12-01");
        let mut customer = Customer {
            member: true,
            risk_profile: RiskProfile::Aggressive as i32,
            ..Customer::default()
        };
        assert!(rule_matches(&rule, &customer, today));
        customer.risk_profile = RiskProfile::Conservative as i32;
        assert!(!rule_matches(&rule, &customer, today));
        customer.risk_profile = RiskProfile::Aggressive as i32;
        customer.member = false;
        assert!(!rule_matches(&rule, &customer, today));
    }

    #[test]
    fn tiers_are_checked() {
        for good in tiers() {
            check_tier(&good).expect("valid");
        }
        let field = |tier: Tier| match check_tier(&tier) {
            Err(CustomersError::Invalid(violation, _)) => violation.field,
            other => panic!("{other:?}"),
        };
        let base = || tiers().remove(0);
        assert_eq!(
            field(Tier {
                label: None,
                ..base()
            }),
            "tier.label"
        );
        assert_eq!(field(Tier { rank: 0, ..base() }), "tier.rank");
        assert_eq!(
            field(Tier {
                rules: vec![TierRule::default(); 21],
                ..base()
            }),
            "tier.rules"
        );
        assert_eq!(
            field(Tier {
                rules: vec![
                    TierRule::default(),
                    TierRule {
                        min_contribution: cny(-1),
                        ..TierRule::default()
                    }
                ],
                ..base()
            }),
            "tier.rules[1].min_contribution"
        );
        assert_eq!(
            field(Tier {
                rules: vec![TierRule {
                    risk_profiles: vec![0],
                    ..TierRule::default()
                }],
                ..base()
            }),
            "tier.rules[0].risk_profiles"
        );
        assert!(is_tier_id("gold"));
        assert!(is_tier_id("vip-2"));
        assert!(!is_tier_id("Gold"));
        assert!(!is_tier_id("2vip"));
        assert!(!is_tier_id(&"a".repeat(51)));
    }
}
