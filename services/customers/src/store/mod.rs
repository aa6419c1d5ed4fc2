//! Persistence of the customers service. Every function takes the
//! transaction it runs in, opened by `kit::db::begin_for_tenant` (or the
//! read variant), and the tenant: there is no query without one.

pub mod activities;
pub mod agents;
pub mod bulk;
pub mod customers;
pub mod erasure;
pub mod imports;
pub mod merges;
pub mod ownership;
pub mod schema;
pub mod search;
pub mod segments;
pub mod tiers;

use sea_orm::sea_query::Alias;

/// A table or column name.
pub fn ident(name: &'static str) -> Alias {
    Alias::new(name)
}
