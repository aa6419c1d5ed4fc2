//! Persistence through sea-orm. Every function takes the tenant; on
//! PostgreSQL row-level security checks it again.
pub mod audit;
pub mod complaints;
pub mod directory;
pub mod tickets;
pub mod taxonomy;
pub mod sla;
