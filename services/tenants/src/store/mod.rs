//! Persistence of the tenants service. Every function takes the transaction
//! it runs in: tenant data only inside `kit::db::begin_for_tenant`, the
//! platform tables inside `kit::db::begin_platform` (or the tenant's own
//! transaction for its own row).

pub mod documents;
pub mod entities;
pub mod exports;
pub mod idempotency;
pub mod identity;
pub mod organisation;
pub mod tenants;

/// An etag from a revision (AIP-154): opaque to callers.
pub fn etag(revision: i64) -> String {
    format!("r{revision}")
}

/// Whether `sent` (possibly empty: no check) matches `revision`.
pub fn etag_matches(sent: &str, revision: i64) -> bool {
    sent.is_empty() || sent == etag(revision)
}
