//! Approval authority by amount (审批权限): which `ApprovalLevel` a
//! proposal's total needs under the tenant's approval matrix, and whether a
//! caller's level covers it.

use kefu_proto::v1::{ApprovalLevel, ApprovalMatrix, ApprovalThreshold, Money};

/// The default matrix (in minor units, any currency the tenant's matrix
/// does not name): up to 999.99 → department manager, up to 5,000.00 →
/// vice president, above → general manager.
const DEFAULT: &[(Option<i64>, ApprovalLevel)] = &[
    (Some(99_999), ApprovalLevel::DepartmentManager),
    (Some(500_000), ApprovalLevel::VicePresident),
    (None, ApprovalLevel::GeneralManager),
];

/// The lowest level that may approve `amount` under `matrix` (the default
/// thresholds when the tenant has none for the amount's currency).
pub fn required_level(matrix: Option<&ApprovalMatrix>, amount: &Money) -> ApprovalLevel {
    let thresholds: Vec<&ApprovalThreshold> = matrix
        .map(|matrix| {
            matrix
                .thresholds
                .iter()
                .filter(|threshold| threshold.currency_code == amount.currency_code)
                .collect()
        })
        .unwrap_or_default();
    if thresholds.is_empty() {
        return DEFAULT
            .iter()
            .find(|(bound, _)| bound.is_none_or(|bound| amount.amount_minor <= bound))
            .map_or(ApprovalLevel::GeneralManager, |(_, level)| *level);
    }
    let mut sorted = thresholds;
    // Bounded thresholds by bound, the unbounded one last.
    sorted.sort_by_key(|threshold| {
        threshold
            .upper_bound
            .as_ref()
            .map_or(i64::MAX, |bound| bound.amount_minor)
    });
    sorted
        .iter()
        .find(|threshold| {
            threshold
                .upper_bound
                .as_ref()
                .is_none_or(|bound| amount.amount_minor <= bound.amount_minor)
        })
        .and_then(|threshold| ApprovalLevel::try_from(threshold.level).ok())
        // Above the last bounded threshold with no unbounded one: only the
        // highest level may approve.
        .unwrap_or(ApprovalLevel::GeneralManager)
}

/// Whether a caller holding `held` (the principal's `approval_level`) may
/// approve what needs `required`.
pub fn covers(held: i32, required: ApprovalLevel) -> bool {
    held > 0 && held >= required as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cny(amount_minor: i64) -> Money {
        Money {
            currency_code: "CNY".into(),
            amount_minor,
        }
    }

    fn threshold(bound: Option<i64>, level: ApprovalLevel) -> ApprovalThreshold {
        ApprovalThreshold {
            currency_code: "CNY".into(),
            upper_bound: bound.map(cny),
            level: level as i32,
        }
    }

    #[test]
    fn the_default_matrix_asks_a_manager_below_1000_a_vp_to_5000_then_the_gm() {
        assert_eq!(
            required_level(None, &cny(0)),
            ApprovalLevel::DepartmentManager
        );
        assert_eq!(
            required_level(None, &cny(99_999)),
            ApprovalLevel::DepartmentManager
        );
        assert_eq!(
            required_level(None, &cny(100_000)),
            ApprovalLevel::VicePresident
        );
        assert_eq!(
            required_level(None, &cny(500_000)),
            ApprovalLevel::VicePresident
        );
        assert_eq!(
            required_level(None, &cny(500_001)),
            ApprovalLevel::GeneralManager
        );
    }

    #[test]
    fn a_tenant_matrix_sets_its_own_thresholds() {
        let matrix = ApprovalMatrix {
            thresholds: vec![
                threshold(None, ApprovalLevel::GeneralManager),
                threshold(Some(20_000), ApprovalLevel::DepartmentManager),
                threshold(Some(200_000), ApprovalLevel::VicePresident),
            ],
            ..ApprovalMatrix::default()
        };
        let level = |amount| required_level(Some(&matrix), &cny(amount));
        assert_eq!(level(20_000), ApprovalLevel::DepartmentManager);
        assert_eq!(level(20_001), ApprovalLevel::VicePresident);
        assert_eq!(level(200_000), ApprovalLevel::VicePresident);
        assert_eq!(level(200_001), ApprovalLevel::GeneralManager);
    }

    #[test]
    fn a_matrix_without_the_currency_falls_back_to_the_defaults() {
        let matrix = ApprovalMatrix {
            thresholds: vec![threshold(None, ApprovalLevel::GeneralManager)],
            ..ApprovalMatrix::default()
        };
        let usd = Money {
            currency_code: "USD".into(),
            amount_minor: 50_000,
        };
        assert_eq!(
            required_level(Some(&matrix), &usd),
            ApprovalLevel::DepartmentManager
        );
    }

    #[test]
    fn above_the_last_bound_only_the_general_manager_approves() {
        let matrix = ApprovalMatrix {
            thresholds: vec![threshold(Some(10_000), ApprovalLevel::DepartmentManager)],
            ..ApprovalMatrix::default()
        };
        assert_eq!(
            required_level(Some(&matrix), &cny(10_001)),
            ApprovalLevel::GeneralManager
        );
    }

    #[test]
    fn a_level_covers_its_own_and_lower_requirements_only() {
        let vp = ApprovalLevel::VicePresident as i32;
        assert!(covers(vp, ApprovalLevel::DepartmentManager));
        assert!(covers(vp, ApprovalLevel::VicePresident));
        assert!(!covers(vp, ApprovalLevel::GeneralManager));
        assert!(!covers(0, ApprovalLevel::Unspecified));
    }
}
