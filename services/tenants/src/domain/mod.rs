//! The tenants service's rules: pure functions and values, no I/O, the clock
//! passed in. `api` translates calls into these, `store` persists the result.

pub mod approval;
pub mod calendar;
pub mod export;
pub mod listing;
pub mod mask;
pub mod names;
pub mod organisation;
pub mod password;
pub mod quota;
pub mod secrets;
pub mod seed;
pub mod settings;
pub mod sla;
pub mod slug;
pub mod tenant;
pub mod user;
