//! Kefu's shared runtime, used by every service and by the `kefu` binary.
//!
//! Services depend on this crate for everything that is not their domain:
//! configuration, telemetry, the tenant and principal of a call, the internal
//! credential the gateway signs, the one mapping from errors to gRPC status,
//! database connections with tenant-scoped transactions, the transactional
//! outbox with its relay and the event bus, and graceful shutdown.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bus;
pub mod clock;
pub mod config;
pub mod context;
pub mod credential;
pub mod db;
pub mod error;
pub mod events;
pub mod filter;
pub mod idempotency;
pub mod inbox;
pub mod outbox;
pub mod purge;
pub mod relay;
pub mod resource;
pub mod rows;
pub mod schedule;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wall_clock;

pub use error::{ErrorReason, FieldViolation, KitError, ServiceError};
