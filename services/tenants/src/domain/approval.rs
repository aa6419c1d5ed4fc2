//! The approval matrix (审批权限): who may approve which amounts. Within a
//! currency, thresholds ascend strictly in bound and level, and the last one
//! is unbounded, so every amount of the currency falls into exactly one
//! contiguous range.

use chrono::{DateTime, Utc};
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{Actor, ApprovalLevel, ApprovalMatrix, ApprovalThreshold};

use super::settings::is_currency_code;
use crate::error::{Result, TenantsError};

/// At most this many thresholds (the contract's limit).
pub const MAX_THRESHOLDS: usize = 30;

const REASON: &str = "INVALID_APPROVAL_THRESHOLDS";

fn refuse(field: String, description: impl Into<String>) -> TenantsError {
    TenantsError::invalid_because(&field, description, REASON)
}

/// Checks the thresholds and fills each bound's currency; `prefix` is their
/// field path (`approval_matrix.thresholds`).
pub fn normalise_thresholds(prefix: &str, thresholds: &mut [ApprovalThreshold]) -> Result<()> {
    if thresholds.is_empty() {
        // Without thresholds no amount could be approved anywhere.
        return Err(refuse(
            prefix.to_owned(),
            "needs at least one threshold per currency used",
        ));
    }
    if thresholds.len() > MAX_THRESHOLDS {
        return Err(refuse(
            prefix.to_owned(),
            format!(
                "has {} thresholds; at most {MAX_THRESHOLDS}",
                thresholds.len()
            ),
        ));
    }
    let mut finished: Vec<String> = Vec::new();
    // The currency being read, its last bound and level.
    let mut open: Option<(String, Option<i64>, i32)> = None;
    for (index, threshold) in thresholds.iter_mut().enumerate() {
        let field = |name: &str| format!("{prefix}[{index}].{name}");
        let currency = threshold.currency_code.clone();
        if !is_currency_code(&currency) {
            return Err(TenantsError::invalid(
                &field("currency_code"),
                format!("{currency:?} is not an ISO 4217 code such as CNY"),
            ));
        }
        let level = ApprovalLevel::try_from(threshold.level)
            .ok()
            .filter(|level| *level != ApprovalLevel::Unspecified)
            .ok_or_else(|| {
                TenantsError::invalid(&field("level"), "is required: a kefu.v1.ApprovalLevel")
            })? as i32;
        let bound = match threshold.upper_bound.as_mut() {
            None => None,
            Some(bound) => {
                if bound.currency_code.is_empty() {
                    bound.currency_code = currency.clone();
                } else if bound.currency_code != currency {
                    return Err(refuse(
                        field("upper_bound.currency_code"),
                        format!("must equal the threshold's currency {currency}"),
                    ));
                }
                if bound.amount_minor < 0 {
                    return Err(refuse(field("upper_bound"), "must not be negative"));
                }
                Some(bound.amount_minor)
            }
        };
        match open.take() {
            Some((open_currency, previous_bound, previous_level)) if open_currency == currency => {
                let Some(previous_bound) = previous_bound else {
                    return Err(refuse(
                        format!("{prefix}[{}].upper_bound", index - 1),
                        format!("is required: only the last {currency} threshold is unbounded"),
                    ));
                };
                if bound.is_some_and(|bound| bound <= previous_bound) {
                    return Err(refuse(
                        field("upper_bound"),
                        "must be greater than the previous bound of the currency",
                    ));
                }
                if level <= previous_level {
                    return Err(refuse(
                        field("level"),
                        "must be higher than the previous level of the currency",
                    ));
                }
            }
            Some((open_currency, previous_bound, _)) => {
                if previous_bound.is_some() {
                    return Err(refuse(
                        format!("{prefix}[{}].upper_bound", index - 1),
                        format!(
                            "must be unset: the last {open_currency} threshold covers every \
                             larger amount"
                        ),
                    ));
                }
                finished.push(open_currency);
            }
            None => {}
        }
        if finished.contains(&currency) {
            return Err(refuse(
                field("currency_code"),
                format!("the {currency} thresholds must be listed together"),
            ));
        }
        open = Some((currency, bound, level));
    }
    if let Some((currency, Some(_), _)) = open {
        return Err(refuse(
            format!("{prefix}[{}].upper_bound", thresholds.len() - 1),
            format!("must be unset: the last {currency} threshold covers every larger amount"),
        ));
    }
    Ok(())
}

/// Replaces the matrix's thresholds.
pub fn replace_thresholds(
    matrix: &mut ApprovalMatrix,
    mut thresholds: Vec<ApprovalThreshold>,
    updater: Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    normalise_thresholds("approval_matrix.thresholds", &mut thresholds)?;
    matrix.name = "approvalMatrix".to_owned();
    matrix.thresholds = thresholds;
    matrix.updater = Some(updater);
    matrix.update_time = Some(to_timestamp(now));
    matrix.etag = String::new();
    Ok(())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::Money;

    use super::*;

    fn threshold(currency: &str, bound: Option<i64>, level: ApprovalLevel) -> ApprovalThreshold {
        ApprovalThreshold {
            currency_code: currency.into(),
            upper_bound: bound.map(|amount_minor| Money {
                currency_code: String::new(),
                amount_minor,
            }),
            level: level as i32,
        }
    }

    fn default() -> Vec<ApprovalThreshold> {
        vec![
            threshold("CNY", Some(99_999), ApprovalLevel::DepartmentManager),
            threshold("CNY", Some(500_000), ApprovalLevel::VicePresident),
            threshold("CNY", None, ApprovalLevel::GeneralManager),
        ]
    }

    fn check(mut thresholds: Vec<ApprovalThreshold>) -> Result<Vec<ApprovalThreshold>> {
        normalise_thresholds("t", &mut thresholds).map(|()| thresholds)
    }

    fn field(error: TenantsError) -> String {
        match error {
            TenantsError::Invalid(violation, _) => violation.field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_default_matrix_and_several_currencies_are_valid() {
        let normalised = check(default()).expect("valid");
        assert_eq!(
            normalised[0]
                .upper_bound
                .as_ref()
                .expect("bound")
                .currency_code,
            "CNY"
        );
        let mut two = default();
        two.push(threshold("USD", Some(10_000), ApprovalLevel::VicePresident));
        two.push(threshold("USD", None, ApprovalLevel::GeneralManager));
        check(two).expect("valid");
    }

    #[test]
    fn broken_orders_are_refused_with_the_reason() {
        let mut not_increasing = default();
        not_increasing[1].upper_bound = Some(Money {
            currency_code: "CNY".into(),
            amount_minor: 99_999,
        });
        let error = check(not_increasing).expect_err("not increasing");
        assert!(matches!(
            &error,
            TenantsError::Invalid(_, Some("INVALID_APPROVAL_THRESHOLDS"))
        ));
        assert_eq!(field(error), "t[1].upper_bound");

        let mut levels = default();
        levels[1].level = ApprovalLevel::DepartmentManager as i32;
        assert_eq!(field(check(levels).expect_err("levels")), "t[1].level");

        let mut bounded_last = default();
        bounded_last[2].upper_bound = Some(Money {
            currency_code: "CNY".into(),
            amount_minor: 1_000_000,
        });
        assert_eq!(
            field(check(bounded_last).expect_err("bounded last")),
            "t[2].upper_bound"
        );

        let mut unbounded_middle = default();
        unbounded_middle[1].upper_bound = None;
        assert_eq!(
            field(check(unbounded_middle).expect_err("unbounded middle")),
            "t[1].upper_bound"
        );

        let mut negative = default();
        negative[0].upper_bound = Some(Money {
            currency_code: "CNY".into(),
            amount_minor: -1,
        });
        assert_eq!(
            field(check(negative).expect_err("negative")),
            "t[0].upper_bound"
        );

        let interleaved = vec![
            threshold("CNY", None, ApprovalLevel::DepartmentManager),
            threshold("USD", None, ApprovalLevel::DepartmentManager),
            threshold("CNY", None, ApprovalLevel::GeneralManager),
        ];
        assert_eq!(
            field(check(interleaved).expect_err("interleaved")),
            "t[2].currency_code"
        );
        assert_eq!(field(check(vec![]).expect_err("empty")), "t");
        let mut mismatched = default();
        mismatched[0].upper_bound = Some(Money {
            currency_code: "USD".into(),
            amount_minor: 1,
        });
        assert_eq!(
            field(check(mismatched).expect_err("currency")),
            "t[0].upper_bound.currency_code"
        );
    }
}
