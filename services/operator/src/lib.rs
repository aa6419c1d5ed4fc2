//! The Kefu operator: a kube-rs controller that reconciles `Tenant` custom
//! resources with the tenants service, provisions silo-tier tenants, and
//! offboards tenants through a finalizer.
//!
//! Not built yet: the deployment issue (container image, Helm chart,
//! operator) fills this crate. It exists now so that the workspace layout of
//! DESIGN.md is fixed from the start.
#![forbid(unsafe_code)]
