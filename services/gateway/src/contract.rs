//! The `kefu.v1` contract as the gateway reads it at run time: its
//! descriptors, decoded once, for the access rules (which methods exist)
//! and for REST (the message types of a method).

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, MethodDescriptor};

/// The contract's descriptors. They are compiled into the binary; failing
/// to decode them is a build defect, answered by refusing every call.
pub(crate) fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(kefu_proto::FILE_DESCRIPTOR_SET).ok())
        .as_ref()
}

/// The method `service`/`method` of `kefu.v1` (`TicketService`, `GetTicket`).
pub(crate) fn method(service: &str, method: &str) -> Option<MethodDescriptor> {
    pool()?
        .get_service_by_name(&format!("kefu.v1.{service}"))?
        .methods()
        .find(|candidate| candidate.name() == method)
}
