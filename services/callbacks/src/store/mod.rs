//! Persistence of the callbacks service through sea-orm: each resource kept
//! whole (the encoded message) with a revision beside the columns its lists
//! and scans use; every function takes the tenant.

pub mod assignment;
pub mod attempts;
pub mod campaigns;
pub mod customers;
pub mod policies;
pub mod resources;
pub mod responses;
pub mod scripts;
pub mod segments;
pub mod sms;
pub mod surveys;
pub mod tasks;
