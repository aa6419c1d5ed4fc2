//! The `kefu` binary's library: every command, so that tests can drive them
//! and `main` stays a thin shell.
//!
//! One binary, many targets (as Grafana Loki and Quickwit do): `kefu up` runs
//! the gateway and every service in one process on embedded storage, `kefu
//! serve --target <name>` runs one of them, `kefu migrate` prepares databases.
//! Both modes run the same code: services listen on real gRPC ports behind
//! the credential interceptor, and the gateway reaches them over the network.
#![forbid(unsafe_code)]

pub mod bench;
pub mod cli;
pub mod migrate;
pub mod processes;
pub mod targets;
