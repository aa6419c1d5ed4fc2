//! The customers service's decisions: pure functions of their inputs and
//! the time they are given.

pub mod attributes;
pub mod csv_row;
pub mod customer;
pub mod duplicates;
pub mod email;
pub mod erasure;
pub mod export_format;
pub mod filter;
pub mod identifier;
pub mod import_filter;
pub mod merge;
pub mod names;
pub mod ownership;
pub mod phone;
pub mod tiers;
pub mod timeline;
