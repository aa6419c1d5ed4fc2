//! Campaigns over time: customers entering a segment while a campaign over
//! it is ACTIVE with `include_new_members` get their task, and the scan
//! completes campaigns whose period has ended.

use chrono::{DateTime, Utc};
use kefu_kit::context::TenantId;
use sea_orm::DatabaseTransaction;

use crate::error::Result;

/// Schedules, in `txn`, the task each ACTIVE campaign including new
/// members owes `customer`, who just entered `segments`; the number
/// scheduled.
pub(crate) async fn members_entered(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    _customer: &str,
    _segments: &[String],
    _now: DateTime<Utc>,
) -> Result<usize> {
    Ok(0)
}
