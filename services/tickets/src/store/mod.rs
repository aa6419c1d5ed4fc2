//! Persistence through sea-orm. Every function takes the tenant; on
//! PostgreSQL row-level security checks it again.
pub mod assignment;
pub mod audit;
pub mod comments;
pub mod complaints;
pub mod directory;
pub mod dispatch;
pub mod handovers;
pub mod incidents;
pub mod rows;
pub mod sla;
pub mod taxonomy;
pub mod tickets;
