//! Quotas that follow from a tenant's plan (`kefu.v1.PlanTier`): how many
//! users (seats) it may have. Rate limits, the other half of a plan, are the
//! gateway's.

use kefu_proto::v1::PlanTier;

use crate::error::{Result, TenantsError};

/// The seats of `plan`: users not deactivated, invited ones included (an
/// invitation holds its seat until it is accepted or the user deactivated).
/// `None`: agreed per contract, not limited here.
pub fn seats(plan: PlanTier) -> Option<usize> {
    match plan {
        PlanTier::Starter | PlanTier::Unspecified => Some(20),
        PlanTier::Professional => Some(200),
        PlanTier::Enterprise => None,
    }
}

/// Whether one more seat may be taken when `used` are.
pub fn check_one_more_seat(plan: PlanTier, used: usize) -> Result<()> {
    match seats(plan) {
        Some(limit) if used >= limit => Err(TenantsError::QuotaExceeded(
            format!(
                "the {} plan includes {limit} users and all are taken; deactivate a user or change the plan",
                plan.as_str_name()
                    .trim_start_matches("PLAN_TIER_")
                    .to_lowercase()
            ),
            "USER_QUOTA_EXCEEDED",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_plan_has_its_seats() {
        assert!(check_one_more_seat(PlanTier::Starter, 19).is_ok());
        let full = check_one_more_seat(PlanTier::Starter, 20).expect_err("full");
        assert!(full.to_string().contains("20 users"), "{full}");
        assert!(check_one_more_seat(PlanTier::Unspecified, 20).is_err());
        assert!(check_one_more_seat(PlanTier::Professional, 199).is_ok());
        assert!(check_one_more_seat(PlanTier::Professional, 200).is_err());
        assert!(check_one_more_seat(PlanTier::Enterprise, 100_000).is_ok());
    }
}
