//! The ticket taxonomy through the gateway on both backends, as an admin
//! notices it: a new property-management tenant finds its template's repair
//! kind, its ten repair categories (土建, 水暖, …) and its custom fields; the
//! admin adds, edits and removes kinds, categories and fields (keys, labels,
//! references, the tree's depth, cycles and narrowing kinds, options never
//! removed, stale etags, repeated requests); an agent reads but cannot
//! write; nothing in use can be deleted; another tenant finds none of it.

use std::time::Duration;

use kefu_kit::testing::Backend;
use kefu_proto::v1::{
    Channel, CreateCustomerRequest, CreateTicketCategoryRequest,
    CreateTicketFieldDefinitionRequest, CreateTicketKindRequest, CreateTicketRequest, Customer,
    CustomerPhone, DeleteTicketCategoryRequest, DeleteTicketFieldDefinitionRequest,
    DeleteTicketKindRequest, GetTicketCategoryRequest, GetTicketFieldDefinitionRequest,
    GetTicketKindRequest, Industry, InviteUserRequest, ListTicketCategoriesRequest,
    ListTicketFieldDefinitionsRequest, ListTicketKindsRequest, LocalizedText, Role, Ticket,
    TicketBaseKind, TicketCategory, TicketFieldDefinition, TicketFieldOption,
    TicketFieldRequirement, TicketFieldType, TicketKind, TicketKindField,
    UpdateTicketCategoryRequest, UpdateTicketFieldDefinitionRequest, UpdateTicketKindRequest, User,
    ticket_service_client::TicketServiceClient,
};
use prost_types::{FieldMask, Value, value::Kind};
use tonic::{Code, Status};

use crate::{
    eventually::eventually,
    gateway::reason,
    stack::{Bearer, Stack},
    tenants::field_of,
    tickets_support::{join_invited, person},
};

type Client = TicketServiceClient<Bearer>;

fn labels(zh: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        values: [
            ("zh-CN".to_owned(), zh.to_owned()),
            ("en".to_owned(), en.to_owned()),
        ]
        .into_iter()
        .collect(),
    })
}

fn zh(labels: Option<&LocalizedText>) -> String {
    labels
        .and_then(|labels| labels.values.get("zh-CN").cloned())
        .unwrap_or_default()
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|path| (*path).to_owned()).collect(),
    })
}

fn text(value: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    }
}

/// The code, reason and field of a refusal.
fn refusal(status: &Status) -> (Code, String, String) {
    (status.code(), reason(status), field_of(status))
}

async fn kinds(client: &mut Client, filter: &str) -> Vec<TicketKind> {
    client
        .list_ticket_kinds(ListTicketKindsRequest {
            filter: filter.into(),
            page_size: 500,
            ..ListTicketKindsRequest::default()
        })
        .await
        .expect("list kinds")
        .into_inner()
        .ticket_kinds
}

async fn categories(client: &mut Client, filter: &str) -> Vec<TicketCategory> {
    client
        .list_ticket_categories(ListTicketCategoriesRequest {
            filter: filter.into(),
            page_size: 500,
            ..ListTicketCategoriesRequest::default()
        })
        .await
        .expect("list categories")
        .into_inner()
        .ticket_categories
}

async fn create_field(
    client: &mut Client,
    field: TicketFieldDefinition,
) -> Result<TicketFieldDefinition, Status> {
    client
        .create_ticket_field_definition(CreateTicketFieldDefinitionRequest {
            ticket_field_definition: Some(field),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn create_kind(
    client: &mut Client,
    kind: TicketKind,
    request_id: &str,
) -> Result<TicketKind, Status> {
    client
        .create_ticket_kind(CreateTicketKindRequest {
            ticket_kind: Some(kind),
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn category(key: &str, parent: &str, kinds: &[&str]) -> TicketCategory {
    TicketCategory {
        key: key.into(),
        parent: if parent.is_empty() {
            String::new()
        } else {
            format!("ticketCategories/{parent}")
        },
        labels: labels(key, key),
        kinds: kinds
            .iter()
            .map(|kind| format!("ticketKinds/{kind}"))
            .collect(),
        ..TicketCategory::default()
    }
}

async fn create_category(
    client: &mut Client,
    category: TicketCategory,
) -> Result<TicketCategory, Status> {
    client
        .create_ticket_category(CreateTicketCategoryRequest {
            ticket_category: Some(category),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// Invites an agent and signs them in: the session.
async fn agent(stack: &Stack, admin: &str, slug: &str) -> String {
    let invitation = InviteUserRequest {
        user: Some(User {
            display_name: "客服小王".into(),
            ..person(slug, "agent", &[Role::Agent])
        }),
        ..InviteUserRequest::default()
    };
    join_invited(stack, admin, slug, invitation).await.1
}

async fn taxonomy(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("tax", Industry::PropertyManagement).await;
    let b = stack.onboard("tax-other", Industry::Generic).await;
    let mut admin = stack.tickets(Some(&a.admin_session));

    // The template's taxonomy arrives with TenantCreated.
    let probe = admin.clone();
    eventually(
        "the property template's kinds are seeded",
        Duration::from_secs(30),
        || {
            let mut client = probe.clone();
            async move {
                let seeded = kinds(&mut client, "").await;
                seeded.iter().any(|kind| kind.key == "repair")
                    && categories(&mut client, "").await.len() >= 10
            }
        },
    )
    .await;
    let repair = admin
        .get_ticket_kind(GetTicketKindRequest {
            name: "ticketKinds/repair".into(),
        })
        .await
        .expect("repair kind")
        .into_inner();
    assert_eq!(zh(repair.labels.as_ref()), "报修");
    assert_eq!(repair.base_kind, TicketBaseKind::Repair as i32);
    assert_eq!(
        repair.template_industry,
        Industry::PropertyManagement as i32
    );
    assert!(repair.active);
    assert_eq!(repair.sla_policy, "slaPolicies/repair");
    assert_eq!(
        kinds(&mut admin, "base_kind = REPAIR")
            .await
            .iter()
            .map(|kind| kind.key.as_str())
            .collect::<Vec<_>>(),
        ["repair"]
    );
    let repair_categories: Vec<String> = categories(&mut admin, r#"kinds:"ticketKinds/repair""#)
        .await
        .iter()
        .map(|category| zh(category.labels.as_ref()))
        .collect();
    assert_eq!(
        repair_categories,
        [
            "土建",
            "水暖",
            "进户门",
            "车库门",
            "可视对讲",
            "电",
            "路灯声控灯",
            "天窗",
            "窗户",
            "漏水"
        ]
    );
    let unit = admin
        .get_ticket_field_definition(GetTicketFieldDefinitionRequest {
            name: "ticketFieldDefinitions/unit_number".into(),
        })
        .await
        .expect("unit_number field")
        .into_inner();
    assert_eq!(unit.r#type, TicketFieldType::Text as i32);
    assert!(
        unit.usages
            .iter()
            .any(|usage| usage.kind == "ticketKinds/repair"
                && usage.requirement == TicketFieldRequirement::RequiredOnCreate as i32)
    );

    // Custom fields: created, refused when malformed or taken.
    let order_no = TicketFieldDefinition {
        key: "order_no".into(),
        r#type: TicketFieldType::Text as i32,
        labels: labels("订单号", "Order number"),
        pattern: "E[0-9]{4}".into(),
        ..TicketFieldDefinition::default()
    };
    let created = create_field(&mut admin, order_no.clone())
        .await
        .expect("order_no");
    assert_eq!(created.name, "ticketFieldDefinitions/order_no");
    assert!(created.active && !created.etag.is_empty());
    let taken = create_field(&mut admin, order_no.clone())
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    let malformed = create_field(
        &mut admin,
        TicketFieldDefinition {
            key: "Order-No".into(),
            ..order_no.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (malformed.code(), field_of(&malformed)),
        (
            Code::InvalidArgument,
            "ticket_field_definition.key".to_owned()
        )
    );
    let optionless = create_field(
        &mut admin,
        TicketFieldDefinition {
            key: "reason".into(),
            r#type: TicketFieldType::SingleSelect as i32,
            pattern: String::new(),
            ..order_no.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&optionless), "ticket_field_definition.options");
    let bad_pattern = create_field(
        &mut admin,
        TicketFieldDefinition {
            key: "vin".into(),
            pattern: "[A-Z".into(),
            ..order_no.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&bad_pattern), "ticket_field_definition.pattern");
    let reason_field = create_field(
        &mut admin,
        TicketFieldDefinition {
            key: "lost_reason".into(),
            r#type: TicketFieldType::SingleSelect as i32,
            pattern: String::new(),
            options: vec![TicketFieldOption {
                value: "courier".into(),
                labels: labels("快递丢失", "Lost by the courier"),
                active: true,
            }],
            ..order_no.clone()
        },
    )
    .await
    .expect("select field");
    // Options are never removed; deactivating one is fine.
    let mut without = reason_field.clone();
    without.options.clear();
    let removed = admin
        .update_ticket_field_definition(UpdateTicketFieldDefinitionRequest {
            ticket_field_definition: Some(without),
            update_mask: mask(&["options"]),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&removed), "ticket_field_definition.options");
    let mut deactivated = reason_field.clone();
    deactivated.options[0].active = false;
    let updated = admin
        .update_ticket_field_definition(UpdateTicketFieldDefinitionRequest {
            ticket_field_definition: Some(deactivated.clone()),
            update_mask: mask(&["options"]),
        })
        .await
        .expect("option deactivated")
        .into_inner();
    assert!(!updated.options[0].active);
    assert_ne!(updated.etag, reason_field.etag);
    let stale = admin
        .update_ticket_field_definition(UpdateTicketFieldDefinitionRequest {
            ticket_field_definition: Some(deactivated),
            update_mask: mask(&["options"]),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let immutable = admin
        .update_ticket_field_definition(UpdateTicketFieldDefinitionRequest {
            ticket_field_definition: Some(updated.clone()),
            update_mask: mask(&["type"]),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&immutable), "update_mask");

    // Kinds: references checked, idempotent on the request id.
    let parcel = TicketKind {
        key: "parcel-exception".into(),
        labels: labels("快递异常", "Parcel exception"),
        base_kind: TicketBaseKind::OrderIssue as i32,
        fields: vec![TicketKindField {
            field_definition: "ticketFieldDefinitions/order_no".into(),
            requirement: TicketFieldRequirement::RequiredOnCreate as i32,
        }],
        ..TicketKind::default()
    };
    let unknown_field = create_kind(
        &mut admin,
        TicketKind {
            fields: vec![TicketKindField {
                field_definition: "ticketFieldDefinitions/nope".into(),
                requirement: 0,
            }],
            ..parcel.clone()
        },
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(
        refusal(&unknown_field),
        (
            Code::InvalidArgument,
            "UNKNOWN_REFERENCE".to_owned(),
            "ticket_kind.fields[0].field_definition".to_owned()
        )
    );
    let no_base = create_kind(
        &mut admin,
        TicketKind {
            base_kind: 0,
            ..parcel.clone()
        },
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&no_base), "ticket_kind.base_kind");
    let request_id = uuid::Uuid::now_v7().to_string();
    let kind = create_kind(&mut admin, parcel.clone(), &request_id)
        .await
        .expect("kind created");
    assert_eq!(kind.name, "ticketKinds/parcel-exception");
    assert_eq!(
        kind.default_priority,
        kefu_proto::v1::Priority::Normal as i32
    );
    let again = create_kind(&mut admin, parcel.clone(), &request_id)
        .await
        .expect("same request, same kind");
    assert_eq!(again, kind);
    let taken = create_kind(&mut admin, parcel.clone(), "")
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Code::AlreadyExists);
    let mut relabelled = kind.clone();
    relabelled.labels = labels("快递异常件", "Parcel exception");
    relabelled.base_kind = TicketBaseKind::Inquiry as i32;
    let updated_kind = admin
        .update_ticket_kind(UpdateTicketKindRequest {
            ticket_kind: Some(relabelled.clone()),
            update_mask: mask(&["labels"]),
        })
        .await
        .expect("kind relabelled")
        .into_inner();
    assert_eq!(zh(updated_kind.labels.as_ref()), "快递异常件");
    assert_eq!(updated_kind.base_kind, TicketBaseKind::OrderIssue as i32);
    let stale = admin
        .update_ticket_kind(UpdateTicketKindRequest {
            ticket_kind: Some(relabelled.clone()),
            update_mask: mask(&["labels"]),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let immutable = admin
        .update_ticket_kind(UpdateTicketKindRequest {
            ticket_kind: Some(updated_kind.clone()),
            update_mask: mask(&["base_kind"]),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&immutable), "update_mask");
    let order_usage = admin
        .list_ticket_field_definitions(ListTicketFieldDefinitionsRequest {
            filter: r#"usages.kind:"ticketKinds/parcel-exception""#.into(),
            ..ListTicketFieldDefinitionsRequest::default()
        })
        .await
        .expect("fields of the kind")
        .into_inner()
        .ticket_field_definitions;
    assert_eq!(
        order_usage
            .iter()
            .map(|f| f.key.as_str())
            .collect::<Vec<_>>(),
        ["order_no"]
    );

    // The category tree: five levels at most, no cycles, children narrow
    // their parent's kinds, a move carries the subtree.
    let lost = create_category(
        &mut admin,
        category("parcel-lost", "", &["parcel-exception"]),
    )
    .await
    .expect("root category");
    assert_eq!(lost.path, ["parcel-lost"]);
    let wider = create_category(
        &mut admin,
        category("parcel-broken", "parcel-lost", &["repair"]),
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&wider), "ticket_category.kinds[0]");
    let unknown_parent = create_category(&mut admin, category("orphan", "nowhere", &[]))
        .await
        .unwrap_err();
    assert_eq!(
        refusal(&unknown_parent),
        (
            Code::InvalidArgument,
            "UNKNOWN_REFERENCE".to_owned(),
            "ticket_category.parent".to_owned()
        )
    );
    let mut parent = "parcel-lost".to_owned();
    for level in 2..=5 {
        let key = format!("lost-level-{level}");
        let created = create_category(&mut admin, category(&key, &parent, &[]))
            .await
            .expect("a level within five");
        assert_eq!(created.path.len(), level);
        parent = key;
    }
    let sixth = create_category(&mut admin, category("lost-level-6", &parent, &[]))
        .await
        .unwrap_err();
    assert_eq!(
        (sixth.code(), field_of(&sixth)),
        (Code::InvalidArgument, "ticket_category.parent".to_owned())
    );
    let level_two = admin
        .get_ticket_category(GetTicketCategoryRequest {
            name: "ticketCategories/lost-level-2".into(),
        })
        .await
        .expect("level 2")
        .into_inner();
    let mut cycle = level_two.clone();
    cycle.parent = "ticketCategories/lost-level-4".into();
    let refused = admin
        .update_ticket_category(UpdateTicketCategoryRequest {
            ticket_category: Some(cycle),
            update_mask: mask(&["parent"]),
        })
        .await
        .unwrap_err();
    assert_eq!(field_of(&refused), "ticket_category.parent");
    // lost-level-4 (with 5 below) moves to the root: its subtree's paths
    // follow.
    let level_four = admin
        .get_ticket_category(GetTicketCategoryRequest {
            name: "ticketCategories/lost-level-4".into(),
        })
        .await
        .expect("level 4")
        .into_inner();
    let mut moved = level_four.clone();
    moved.parent = String::new();
    let moved = admin
        .update_ticket_category(UpdateTicketCategoryRequest {
            ticket_category: Some(moved),
            update_mask: mask(&["parent"]),
        })
        .await
        .expect("moved to the root")
        .into_inner();
    assert_eq!(moved.path, ["lost-level-4"]);
    let five = admin
        .get_ticket_category(GetTicketCategoryRequest {
            name: "ticketCategories/lost-level-5".into(),
        })
        .await
        .expect("level 5")
        .into_inner();
    assert_eq!(five.path, ["lost-level-4", "lost-level-5"]);
    let roots = categories(&mut admin, r#"parent = """#).await;
    assert!(roots.iter().any(|root| root.key == "lost-level-4"));
    assert!(roots.iter().all(|root| root.parent.is_empty()));

    // An agent reads the taxonomy but cannot change it.
    let agent_session = agent(&stack, &a.admin_session, &a.tenant.slug).await;
    let mut as_agent = stack.tickets(Some(&agent_session));
    assert!(
        kinds(&mut as_agent, "")
            .await
            .iter()
            .any(|k| k.key == "repair")
    );
    let denied = create_kind(
        &mut as_agent,
        TicketKind {
            key: "agent-kind".into(),
            ..parcel.clone()
        },
        "",
    )
    .await
    .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = as_agent
        .delete_ticket_category(DeleteTicketCategoryRequest {
            name: "ticketCategories/lost-level-5".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = create_field(
        &mut as_agent,
        TicketFieldDefinition {
            key: "agent_field".into(),
            ..order_no.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Nothing in use is deleted.
    let in_use = admin
        .delete_ticket_field_definition(DeleteTicketFieldDefinitionRequest {
            name: "ticketFieldDefinitions/order_no".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (in_use.code(), reason(&in_use)),
        (Code::FailedPrecondition, "IN_USE".to_owned())
    );
    let in_use = admin
        .delete_ticket_kind(DeleteTicketKindRequest {
            name: "ticketKinds/parcel-exception".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&in_use), "IN_USE", "parcel-lost lists the kind");
    let in_use = admin
        .delete_ticket_category(DeleteTicketCategoryRequest {
            name: "ticketCategories/lost-level-4".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&in_use), "IN_USE", "lost-level-4 has a child");
    // A repair ticket in 水暖 keeps the category and the kind.
    let customer = stack
        .customers(Some(&a.admin_session))
        .create_customer(CreateCustomerRequest {
            customer: Some(Customer {
                display_name: "业主张三".into(),
                phones: vec![CustomerPhone {
                    raw: "13800138000".into(),
                    ..CustomerPhone::default()
                }],
                ..Customer::default()
            }),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect("customer")
        .into_inner()
        .name;
    let ticket = Ticket {
        kind: "ticketKinds/repair".into(),
        category: "ticketCategories/repair-plumbing".into(),
        channel: Channel::Phone as i32,
        customer,
        subject: "3号楼1单元 厨房漏水".into(),
        custom_fields: [
            ("unit_number".to_owned(), text("3-1-1501")),
            ("repair_location".to_owned(), text("in-unit")),
        ]
        .into_iter()
        .collect(),
        ..Ticket::default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match admin
            .create_ticket(CreateTicketRequest {
                ticket: Some(ticket.clone()),
                request_id: String::new(),
            })
            .await
        {
            Ok(_) => break,
            Err(status) => {
                assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
                assert!(
                    std::time::Instant::now() < deadline,
                    "the customer copy never arrived: {status:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let in_use = admin
        .delete_ticket_category(DeleteTicketCategoryRequest {
            name: "ticketCategories/repair-plumbing".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&in_use), "IN_USE", "a ticket is in 水暖");
    let in_use = admin
        .delete_ticket_field_definition(DeleteTicketFieldDefinitionRequest {
            name: "ticketFieldDefinitions/repair_location".into(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&in_use), "IN_USE");

    // Unused ones go: a leaf with a stale etag is refused, then deleted.
    let stale = admin
        .delete_ticket_category(DeleteTicketCategoryRequest {
            name: "ticketCategories/lost-level-5".into(),
            etag: level_four.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    admin
        .delete_ticket_category(DeleteTicketCategoryRequest {
            name: "ticketCategories/lost-level-5".into(),
            etag: five.etag.clone(),
        })
        .await
        .expect("leaf deleted");
    let gone = admin
        .get_ticket_category(GetTicketCategoryRequest {
            name: "ticketCategories/lost-level-5".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    admin
        .delete_ticket_field_definition(DeleteTicketFieldDefinitionRequest {
            name: "ticketFieldDefinitions/lost_reason".into(),
            etag: String::new(),
        })
        .await
        .expect("unused field deleted");

    // Another tenant finds none of it, as if it did not exist.
    let mut other = stack.tickets(Some(&b.admin_session));
    let not_found = |result: Result<(), Status>| {
        let status = result.expect_err("another tenant's taxonomy is hidden");
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    };
    not_found(
        other
            .get_ticket_kind(GetTicketKindRequest {
                name: "ticketKinds/parcel-exception".into(),
            })
            .await
            .map(|_| ()),
    );
    not_found(
        other
            .get_ticket_category(GetTicketCategoryRequest {
                name: "ticketCategories/parcel-lost".into(),
            })
            .await
            .map(|_| ()),
    );
    not_found(
        other
            .get_ticket_field_definition(GetTicketFieldDefinitionRequest {
                name: "ticketFieldDefinitions/order_no".into(),
            })
            .await
            .map(|_| ()),
    );
    not_found(
        other
            .delete_ticket_kind(DeleteTicketKindRequest {
                name: "ticketKinds/parcel-exception".into(),
                etag: String::new(),
            })
            .await
            .map(|_| ()),
    );
    not_found(
        other
            .update_ticket_category(UpdateTicketCategoryRequest {
                ticket_category: Some(lost.clone()),
                update_mask: mask(&["labels"]),
            })
            .await
            .map(|_| ()),
    );
    assert!(
        kinds(&mut other, "")
            .await
            .iter()
            .all(|kind| kind.key != "parcel-exception")
    );
    assert!(
        categories(&mut other, "")
            .await
            .iter()
            .all(|category| !category.key.starts_with("parcel-")
                && !category.key.starts_with("lost-"))
    );
    // A's are all still there.
    admin
        .get_ticket_kind(GetTicketKindRequest {
            name: "ticketKinds/parcel-exception".into(),
        })
        .await
        .expect("A's kind untouched");
}

#[tokio::test]
async fn sqlite_ticket_taxonomy() {
    taxonomy(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_ticket_taxonomy() {
    taxonomy(Backend::Postgres).await;
}
