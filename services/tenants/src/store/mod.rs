//! Persistence of the tenants service. Every function takes the transaction
//! it runs in: tenant data only inside `kit::db::begin_for_tenant`, the
//! platform tables inside `kit::db::begin_platform` (or the tenant's own
//! transaction for its own row).

pub mod documents;
pub mod entities;
pub mod exports;
pub mod identity;
pub mod organisation;
pub mod tenants;

pub use kefu_kit::{
    idempotency,
    resource::{etag, etag_matches},
};
