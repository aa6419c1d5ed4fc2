//! The `kefu.v1` API contract compiled to Rust: messages, clients, servers,
//! and the descriptor set that server reflection serves.
#![forbid(unsafe_code)]

/// Everything in the `kefu.v1` protobuf package.
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("kefu.v1");
}

/// The encoded `FileDescriptorSet` of every `kefu.v1` file (and the
/// well-known types they import), for server reflection and for tests that
/// enumerate the API's methods.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("kefu_descriptor");

/// The gRPC services of the contract and the Kefu service (deployment target)
/// that serves each. The gateway routes on this table and health checks are
/// answered per service name.
pub const SERVICES: &[(&str, &str)] = &[
    ("kefu.v1.TenantService", "tenants"),
    ("kefu.v1.IdentityService", "tenants"),
    ("kefu.v1.CustomerService", "customers"),
    ("kefu.v1.TicketService", "tickets"),
    ("kefu.v1.ComplaintService", "tickets"),
    ("kefu.v1.DispatchService", "tickets"),
    ("kefu.v1.CallbackService", "callbacks"),
    ("kefu.v1.AnalyticsService", "analytics"),
];

/// The target that serves `service` (a full service name such as
/// `kefu.v1.TicketService`), if it is part of the contract.
pub fn target_of(service: &str) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, target)| *target)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn every_service_in_the_descriptors_has_a_target_and_back() {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let mut declared: Vec<String> = set
            .file
            .iter()
            .filter(|file| file.package() == "kefu.v1")
            .flat_map(|file| {
                file.service
                    .iter()
                    .map(|service| format!("kefu.v1.{}", service.name()))
            })
            .collect();
        declared.sort();
        let mut routed: Vec<String> = SERVICES.iter().map(|(name, _)| name.to_string()).collect();
        routed.sort();
        assert_eq!(
            declared, routed,
            "SERVICES must list exactly the services of proto/kefu/v1"
        );
    }

    /// Every element a partner reads: message, field, oneof, enum, enum
    /// value, service and method of `kefu.v1` has a leading comment.
    #[test]
    fn every_element_of_the_contract_is_documented() {
        use std::collections::HashMap;

        use prost_types::{DescriptorProto, EnumDescriptorProto};

        fn enum_paths(
            path: Vec<i32>,
            name: String,
            descriptor: &EnumDescriptorProto,
            out: &mut Vec<(Vec<i32>, String)>,
        ) {
            for (index, value) in descriptor.value.iter().enumerate() {
                out.push((
                    [path.clone(), vec![2, index as i32]].concat(),
                    format!("{name}.{}", value.name()),
                ));
            }
            out.push((path, name));
        }

        fn message_paths(
            path: Vec<i32>,
            name: String,
            descriptor: &DescriptorProto,
            out: &mut Vec<(Vec<i32>, String)>,
        ) {
            if descriptor
                .options
                .as_ref()
                .is_some_and(|options| options.map_entry())
            {
                return;
            }
            for (index, field) in descriptor.field.iter().enumerate() {
                // proto3 `optional` fields sit in synthetic oneofs, documented by the field.
                out.push((
                    [path.clone(), vec![2, index as i32]].concat(),
                    format!("{name}.{}", field.name()),
                ));
            }
            for (index, oneof) in descriptor.oneof_decl.iter().enumerate() {
                let synthetic = descriptor.field.iter().any(|field| {
                    field.proto3_optional() && field.oneof_index == Some(index as i32)
                });
                if !synthetic {
                    out.push((
                        [path.clone(), vec![8, index as i32]].concat(),
                        format!("{name}.{}", oneof.name()),
                    ));
                }
            }
            for (index, nested) in descriptor.nested_type.iter().enumerate() {
                message_paths(
                    [path.clone(), vec![3, index as i32]].concat(),
                    format!("{name}.{}", nested.name()),
                    nested,
                    out,
                );
            }
            for (index, nested) in descriptor.enum_type.iter().enumerate() {
                enum_paths(
                    [path.clone(), vec![4, index as i32]].concat(),
                    format!("{name}.{}", nested.name()),
                    nested,
                    out,
                );
            }
            out.push((path, name));
        }

        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
            .expect("descriptor set decodes");
        let mut undocumented = Vec::new();
        for file in set.file.iter().filter(|file| file.package() == "kefu.v1") {
            let comments: HashMap<Vec<i32>, String> = file
                .source_code_info
                .as_ref()
                .expect("source info compiled in")
                .location
                .iter()
                .map(|location| {
                    (
                        location.path.clone(),
                        location.leading_comments().trim().to_owned(),
                    )
                })
                .collect();
            let mut elements = Vec::new();
            for (index, message) in file.message_type.iter().enumerate() {
                message_paths(
                    vec![4, index as i32],
                    message.name().to_owned(),
                    message,
                    &mut elements,
                );
            }
            for (index, descriptor) in file.enum_type.iter().enumerate() {
                enum_paths(
                    vec![5, index as i32],
                    descriptor.name().to_owned(),
                    descriptor,
                    &mut elements,
                );
            }
            for (index, service) in file.service.iter().enumerate() {
                for (method_index, method) in service.method.iter().enumerate() {
                    elements.push((
                        vec![6, index as i32, 2, method_index as i32],
                        format!("{}.{}", service.name(), method.name()),
                    ));
                }
                elements.push((vec![6, index as i32], service.name().to_owned()));
            }
            for (path, name) in elements {
                if comments.get(&path).is_none_or(String::is_empty) {
                    undocumented.push(format!("{}: {name}", file.name()));
                }
            }
        }
        assert!(
            undocumented.is_empty(),
            "undocumented elements of kefu.v1:\n{}",
            undocumented.join("\n")
        );
    }
}
