//! Classifying customers through the gateway on both backends, as an admin
//! and a supervisor notice it: the custom attribute schema refuses values
//! that do not fit (naming the attribute, storing nothing) and marks the
//! customers a schema change invalidates; tiers follow the contribution as
//! it changes, keep a tier set by hand, and refuse to go while locked
//! customers use them; segments list exactly the customers matching their
//! filter and follow updates; ListCustomers filters, orders and pages.

use kefu_kit::{context::TenantId, testing::Backend};
use kefu_proto::v1::{
    AttributeType, CreateCustomerRequest, CreateSegmentRequest, CreateTierRequest, Customer,
    CustomerAttributeDefinition, CustomerAttributeOption, CustomerAttributeSchema,
    CustomerSegmentMembershipChanged, CustomerTierChanged, DeleteSegmentRequest, DeleteTierRequest,
    GetCustomerAttributeSchemaRequest, GetCustomerRequest, GetSegmentRequest, GetTierRequest,
    Industry, ListCustomersRequest, ListSegmentMembersRequest, ListSegmentsRequest,
    ListTiersRequest, LocalizedText, Money, PreviewSegmentRequest, SearchCustomersRequest, Segment,
    Tier, TierRule, UpdateCustomerAttributeSchemaRequest, UpdateCustomerRequest,
    UpdateSegmentRequest, UpdateTierRequest, customer_service_client::CustomerServiceClient,
};
use prost_types::{Struct, Value, value::Kind};
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::stack::{Bearer, Stack};

type Client = CustomerServiceClient<Bearer>;

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|path| (*path).to_owned()).collect(),
    })
}

fn label(text: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        values: [("zh-CN".to_owned(), text.to_owned())].into(),
    })
}

fn cny(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "CNY".into(),
        amount_minor,
    })
}

fn attributes(pairs: &[(&str, Kind)]) -> Option<Struct> {
    Some(Struct {
        fields: pairs
            .iter()
            .map(|(key, kind)| {
                (
                    (*key).to_owned(),
                    Value {
                        kind: Some(kind.clone()),
                    },
                )
            })
            .collect(),
    })
}

fn text(value: &str) -> Kind {
    Kind::StringValue(value.into())
}

fn field_of(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .and_then(|bad| bad.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

fn reason_of(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .map(|info| info.reason)
        .unwrap_or_default()
}

fn tenant_of(name: &str) -> TenantId {
    TenantId(
        name.strip_prefix("tenants/")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .expect("tenant name"),
    )
}

/// The events of type `M` the customers service wrote for `tenant`, oldest
/// first.
async fn events_of<M: prost::Message + prost::Name + Default>(
    stack: &Stack,
    tenant: TenantId,
) -> Vec<M> {
    use prost::Message as _;
    let db = stack.service_connection("customers").await;
    let txn = kefu_kit::db::begin_read_for_tenant(&db, tenant)
        .await
        .expect("read transaction");
    let rows = txn
        .query_all_raw(Statement::from_string(
            txn.get_database_backend(),
            format!(
                "SELECT payload FROM outbox WHERE event_type = '{}' ORDER BY seq",
                M::full_name()
            ),
        ))
        .await
        .expect("read the outbox");
    rows.iter()
        .map(|row| {
            let payload: Vec<u8> = row.try_get("", "payload").expect("payload");
            kefu_proto::v1::EventEnvelope::decode(payload.as_slice()).expect("envelope")
        })
        .filter(|envelope| envelope.tenant_id == tenant.to_string())
        .map(|envelope| kefu_kit::events::payload_as::<M>(&envelope).expect("payload type"))
        .collect()
}

async fn create(client: &mut Client, customer: Customer) -> Result<Customer, tonic::Status> {
    client
        .create_customer(CreateCustomerRequest {
            customer: Some(customer),
            ..CreateCustomerRequest::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn get(client: &mut Client, name: &str) -> Customer {
    client
        .get_customer(GetCustomerRequest { name: name.into() })
        .await
        .expect("get customer")
        .into_inner()
}

async fn update(
    client: &mut Client,
    customer: Customer,
    paths: &[&str],
) -> Result<Customer, tonic::Status> {
    client
        .update_customer(UpdateCustomerRequest {
            customer: Some(customer),
            update_mask: mask(paths),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn list(client: &mut Client, filter: &str, order_by: &str) -> Vec<String> {
    client
        .list_customers(ListCustomersRequest {
            filter: filter.into(),
            order_by: order_by.into(),
            page_size: 500,
            ..ListCustomersRequest::default()
        })
        .await
        .unwrap_or_else(|status| panic!("list {filter:?}: {status:?}"))
        .into_inner()
        .customers
        .into_iter()
        .map(|customer| customer.display_name)
        .collect()
}

async fn tier_of(client: &mut Client, name: &str) -> String {
    get(client, name).await.tier
}

fn schema_attributes(required_handover: bool) -> Vec<CustomerAttributeDefinition> {
    let mut definitions = vec![
        CustomerAttributeDefinition {
            key: "house_type".into(),
            label: label("户型"),
            r#type: AttributeType::Enum as i32,
            options: vec![
                CustomerAttributeOption {
                    key: "villa".into(),
                    label: label("别墅"),
                },
                CustomerAttributeOption {
                    key: "flat".into(),
                    label: label("公寓"),
                },
            ],
            required: true,
            ..CustomerAttributeDefinition::default()
        },
        CustomerAttributeDefinition {
            key: "floor_area".into(),
            label: label("面积"),
            r#type: AttributeType::Number as i32,
            ..CustomerAttributeDefinition::default()
        },
    ];
    if required_handover {
        definitions.push(CustomerAttributeDefinition {
            key: "handover".into(),
            label: label("交房日期"),
            r#type: AttributeType::Date as i32,
            required: true,
            ..CustomerAttributeDefinition::default()
        });
    }
    definitions
}

async fn attributes_and_tiers(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let acme = stack.onboard("attrs", Industry::PropertyManagement).await;
    let tenant = tenant_of(&acme.tenant.name);
    let mut client = stack.customers(Some(&acme.admin_session));

    // The schema starts empty and is replaced whole, with its etag.
    let empty = client
        .get_customer_attribute_schema(GetCustomerAttributeSchemaRequest::default())
        .await
        .expect("get schema")
        .into_inner();
    assert!(empty.attributes.is_empty());
    let bad_schema = client
        .update_customer_attribute_schema(UpdateCustomerAttributeSchemaRequest {
            schema: Some(CustomerAttributeSchema {
                attributes: vec![CustomerAttributeDefinition {
                    key: "House Type".into(),
                    ..schema_attributes(false)[0].clone()
                }],
                etag: empty.etag.clone(),
                ..CustomerAttributeSchema::default()
            }),
        })
        .await
        .expect_err("a bad key is refused");
    assert_eq!(bad_schema.code(), Code::InvalidArgument);
    assert_eq!(field_of(&bad_schema), "schema.attributes[0].key");
    let schema = client
        .update_customer_attribute_schema(UpdateCustomerAttributeSchemaRequest {
            schema: Some(CustomerAttributeSchema {
                attributes: schema_attributes(false),
                etag: empty.etag.clone(),
                ..CustomerAttributeSchema::default()
            }),
        })
        .await
        .expect("the admin defines attributes")
        .into_inner();
    assert_eq!(schema.attributes.len(), 2);
    let stale = client
        .update_customer_attribute_schema(UpdateCustomerAttributeSchemaRequest {
            schema: Some(CustomerAttributeSchema {
                attributes: Vec::new(),
                etag: empty.etag.clone(),
                ..CustomerAttributeSchema::default()
            }),
        })
        .await
        .expect_err("a stale etag");
    assert_eq!(stale.code(), Code::Aborted);

    // Values that do not fit name the attribute and store nothing.
    for (values, key) in [
        (vec![("house_type", text("castle"))], "house_type"),
        (
            vec![("house_type", text("villa")), ("colour", text("red"))],
            "colour",
        ),
        (
            vec![("house_type", text("flat")), ("floor_area", text("big"))],
            "floor_area",
        ),
        (vec![("floor_area", Kind::NumberValue(90.0))], "house_type"),
    ] {
        let refused = create(
            &mut client,
            Customer {
                display_name: "错误属性".into(),
                attributes: attributes(&values),
                ..Customer::default()
            },
        )
        .await
        .expect_err("misfit attributes are refused");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(reason_of(&refused), "ATTRIBUTE_INVALID");
        assert_eq!(field_of(&refused), format!("customer.attributes.{key}"));
    }
    assert!(
        list(&mut client, "", "").await.is_empty(),
        "a refused customer is not stored"
    );
    let owner = create(
        &mut client,
        Customer {
            display_name: "王业主".into(),
            attributes: attributes(&[
                ("house_type", text("villa")),
                ("floor_area", Kind::NumberValue(180.0)),
            ]),
            contribution: cny(50_000),
            ..Customer::default()
        },
    )
    .await
    .expect("fitting attributes are stored");
    assert!(owner.attributes_valid);

    // A new required attribute invalidates existing customers without
    // deleting their values; unrelated edits still go through, an edit of
    // the attributes must make them fit.
    client
        .update_customer_attribute_schema(UpdateCustomerAttributeSchemaRequest {
            schema: Some(CustomerAttributeSchema {
                attributes: schema_attributes(true),
                etag: schema.etag.clone(),
                ..CustomerAttributeSchema::default()
            }),
        })
        .await
        .expect("the admin adds a required attribute");
    let invalid = get(&mut client, &owner.name).await;
    assert!(!invalid.attributes_valid);
    assert_eq!(
        invalid.attributes, owner.attributes,
        "values are never deleted"
    );
    assert_eq!(
        list(&mut client, "attributes_valid = false", "").await,
        vec!["王业主"]
    );
    let renamed = update(
        &mut client,
        Customer {
            name: owner.name.clone(),
            display_name: "王先生".into(),
            ..Customer::default()
        },
        &["display_name"],
    )
    .await
    .expect("an unrelated edit goes through");
    assert!(!renamed.attributes_valid);
    let bad_date = update(
        &mut client,
        Customer {
            name: owner.name.clone(),
            attributes: attributes(&[("handover", text("2024-13-01"))]),
            ..Customer::default()
        },
        &["attributes.handover"],
    )
    .await
    .expect_err("a bad date");
    assert_eq!(field_of(&bad_date), "customer.attributes.handover");
    assert_eq!(reason_of(&bad_date), "ATTRIBUTE_INVALID");
    let fixed = update(
        &mut client,
        Customer {
            name: owner.name.clone(),
            attributes: attributes(&[("handover", text("2024-06-30"))]),
            ..Customer::default()
        },
        &["attributes.handover"],
    )
    .await
    .expect("the missing attribute is filled in");
    assert!(fixed.attributes_valid);
    assert_eq!(
        list(
            &mut client,
            "attributes.handover < 2025-01-01 AND attributes.house_type = villa",
            ""
        )
        .await,
        vec!["王先生"]
    );

    // Tiers by contribution (fen): silver from 1,000 yuan, gold from
    // 10,000 yuan.
    let tier = |id: &str, rank: i32, minimum: i64| CreateTierRequest {
        tier: Some(Tier {
            label: label(id),
            rank,
            rules: vec![TierRule {
                min_contribution: cny(minimum),
                ..TierRule::default()
            }],
            ..Tier::default()
        }),
        tier_id: id.into(),
        request_id: format!("create-{id}-{}", uuid::Uuid::now_v7()),
    };
    let gold_request = tier("gold", 1, 1_000_000);
    let gold = client
        .create_tier(gold_request.clone())
        .await
        .expect("create gold")
        .into_inner();
    assert_eq!(gold.name, "tiers/gold");
    let again = client
        .create_tier(gold_request)
        .await
        .expect("the same request id answers the first tier")
        .into_inner();
    assert_eq!(again.name, gold.name);
    client
        .create_tier(tier("silver", 2, 100_000))
        .await
        .expect("create silver");
    let taken = client
        .create_tier(tier("bronze", 2, 10_000))
        .await
        .expect_err("rank 2 is taken");
    assert_eq!(taken.code(), Code::AlreadyExists);
    let bad_id = client
        .create_tier(tier("Bronze!", 3, 10_000))
        .await
        .expect_err("a bad id");
    assert_eq!(field_of(&bad_id), "tier_id");
    assert_eq!(
        tier_of(&mut client, &owner.name).await,
        "",
        "50 yuan is no tier"
    );

    // Crossing a threshold on update moves the customer and says so.
    let silver_owner = update(
        &mut client,
        Customer {
            name: owner.name.clone(),
            contribution: cny(200_000),
            ..Customer::default()
        },
        &["contribution"],
    )
    .await
    .expect("contribution grows");
    assert_eq!(silver_owner.tier, "tiers/silver");
    assert!(!silver_owner.tier_locked);
    let moves = events_of::<CustomerTierChanged>(&stack, tenant).await;
    assert_eq!(
        moves.last(),
        Some(&CustomerTierChanged {
            customer: owner.name.clone(),
            previous_tier: String::new(),
            new_tier: "tiers/silver".into(),
            manual: false,
        })
    );
    let gold_owner = update(
        &mut client,
        Customer {
            name: owner.name.clone(),
            contribution: cny(2_000_000),
            ..Customer::default()
        },
        &["contribution"],
    )
    .await
    .expect("contribution grows again");
    assert_eq!(gold_owner.tier, "tiers/gold");
    assert_eq!(list(&mut client, "tier = gold", "").await, vec!["王先生"]);

    // A tier set by hand is kept whatever the rules say.
    let handpicked = create(
        &mut client,
        Customer {
            display_name: "李总".into(),
            attributes: attributes(&[
                ("house_type", text("flat")),
                ("handover", text("2025-01-01")),
            ]),
            tier: "tiers/silver".into(),
            contribution: cny(5_000_000),
            ..Customer::default()
        },
    )
    .await
    .expect("a customer with a hand-set tier");
    assert_eq!(handpicked.tier, "tiers/silver");
    assert!(handpicked.tier_locked);
    let unknown = create(
        &mut client,
        Customer {
            display_name: "无等级".into(),
            attributes: attributes(&[
                ("house_type", text("flat")),
                ("handover", text("2025-01-01")),
            ]),
            tier: "tiers/platinum".into(),
            ..Customer::default()
        },
    )
    .await
    .expect_err("an unknown tier");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(reason_of(&unknown), "UNKNOWN_TIER");
    let counted = client
        .get_tier(GetTierRequest {
            name: "tiers/silver".into(),
        })
        .await
        .expect("get silver")
        .into_inner();
    assert_eq!(counted.customer_count, 1);

    // Raising gold's bar re-tiers the customers the rules hold.
    let raised = client
        .update_tier(UpdateTierRequest {
            tier: Some(Tier {
                name: gold.name.clone(),
                etag: gold.etag.clone(),
                rules: vec![TierRule {
                    min_contribution: cny(3_000_000),
                    ..TierRule::default()
                }],
                ..Tier::default()
            }),
            update_mask: mask(&["rules"]),
        })
        .await
        .expect("raise gold")
        .into_inner();
    assert_eq!(tier_of(&mut client, &owner.name).await, "tiers/silver");
    assert_eq!(tier_of(&mut client, &handpicked.name).await, "tiers/silver");
    assert_eq!(
        events_of::<CustomerTierChanged>(&stack, tenant)
            .await
            .last(),
        Some(&CustomerTierChanged {
            customer: owner.name.clone(),
            previous_tier: "tiers/gold".into(),
            new_tier: "tiers/silver".into(),
            manual: false,
        })
    );
    let tiers = client
        .list_tiers(ListTiersRequest::default())
        .await
        .expect("list tiers")
        .into_inner();
    let ranked: Vec<(&str, i64)> = tiers
        .tiers
        .iter()
        .map(|tier| (tier.name.as_str(), tier.customer_count))
        .collect();
    assert_eq!(ranked, vec![("tiers/gold", 0), ("tiers/silver", 2)]);

    // A tier locked customers use cannot go until they are unlocked.
    let in_use = client
        .delete_tier(DeleteTierRequest {
            name: "tiers/silver".into(),
            ..DeleteTierRequest::default()
        })
        .await
        .expect_err("locked customers use silver");
    assert_eq!(in_use.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&in_use), "TIER_IN_USE");
    let unlocked = update(
        &mut client,
        Customer {
            name: handpicked.name.clone(),
            tier_locked: false,
            ..Customer::default()
        },
        &["tier_locked"],
    )
    .await
    .expect("hand the customer back to the rules");
    assert_eq!(unlocked.tier, "tiers/gold", "5,000,000 fen reach gold");
    client
        .delete_tier(DeleteTierRequest {
            name: "tiers/silver".into(),
            ..DeleteTierRequest::default()
        })
        .await
        .expect("silver goes");
    assert_eq!(
        tier_of(&mut client, &owner.name).await,
        "",
        "below gold and silver gone: no tier"
    );
    let missing = client
        .get_tier(GetTierRequest {
            name: "tiers/silver".into(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(raised.rank, 1);
}

#[tokio::test]
async fn sqlite_attributes_and_tiers() {
    attributes_and_tiers(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_attributes_and_tiers() {
    attributes_and_tiers(Backend::Postgres).await;
}

async fn segments_and_listing(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let acme = stack.onboard("segs", Industry::Ecommerce).await;
    let tenant = tenant_of(&acme.tenant.name);
    let mut client = stack.customers(Some(&acme.admin_session));
    let mut names = Vec::new();
    for (display_name, member, tags, contribution) in [
        ("Alice", true, vec!["VIP"], 300),
        ("Bob", true, vec!["new"], 100),
        ("Carol", false, vec!["vip"], 200),
        ("Dave", true, vec!["vip", "wholesale"], 400),
    ] {
        let customer = create(
            &mut client,
            Customer {
                display_name: display_name.into(),
                member,
                tags: tags.into_iter().map(str::to_owned).collect(),
                contribution: cny(contribution),
                ..Customer::default()
            },
        )
        .await
        .expect("create customer");
        names.push(customer.name);
    }
    let (alice, bob, carol, dave) = (&names[0], &names[1], &names[2], &names[3]);

    // A segment lists exactly the members tagged vip (tags compare
    // case-insensitively).
    let bad = client
        .create_segment(CreateSegmentRequest {
            segment: Some(Segment {
                display_name: "循环".into(),
                filter: r#"segments:"segments/x""#.into(),
                ..Segment::default()
            }),
            ..CreateSegmentRequest::default()
        })
        .await
        .expect_err("a segment cannot use segments");
    assert_eq!(field_of(&bad), "segment.filter");
    let broken = client
        .create_segment(CreateSegmentRequest {
            segment: Some(Segment {
                display_name: "坏的".into(),
                filter: "member = true AND".into(),
                ..Segment::default()
            }),
            ..CreateSegmentRequest::default()
        })
        .await
        .expect_err("a broken filter");
    assert_eq!(broken.code(), Code::InvalidArgument);
    assert_eq!(field_of(&broken), "segment.filter");
    let vip = client
        .create_segment(CreateSegmentRequest {
            segment: Some(Segment {
                display_name: "VIP 会员".into(),
                filter: r#"member = true AND tags:"vip""#.into(),
                ..Segment::default()
            }),
            segment_id: "vip-members".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("create segment")
        .into_inner();
    assert_eq!(vip.name, "segments/vip-members");
    assert_eq!(vip.member_count, 2);
    let members = |client: &mut Client| {
        let mut client = client.clone();
        async move {
            let mut found = Vec::new();
            let mut token = String::new();
            loop {
                let page = client
                    .list_segment_members(ListSegmentMembersRequest {
                        segment: "segments/vip-members".into(),
                        page_size: 1,
                        page_token: token,
                    })
                    .await
                    .expect("list members")
                    .into_inner();
                found.extend(page.customers.into_iter().map(|c| c.name));
                if page.next_page_token.is_empty() {
                    return found;
                }
                token = page.next_page_token;
            }
        }
    };
    let mut expected = vec![alice.clone(), dave.clone()];
    expected.sort();
    assert_eq!(members(&mut client).await, expected);
    assert_eq!(
        get(&mut client, alice).await.segments,
        vec!["segments/vip-members"]
    );
    assert!(get(&mut client, carol).await.segments.is_empty());
    let searched = client
        .search_customers(SearchCustomersRequest {
            segment: "segments/vip-members".into(),
            ..SearchCustomersRequest::default()
        })
        .await
        .expect("search by segment")
        .into_inner();
    let found: Vec<&str> = searched
        .customers
        .iter()
        .map(|c| c.display_name.as_str())
        .collect();
    assert_eq!(found, vec!["Alice", "Dave"]);
    let unknown = client
        .search_customers(SearchCustomersRequest {
            segment: "segments/nobody".into(),
            ..SearchCustomersRequest::default()
        })
        .await
        .expect_err("unknown segment");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(reason_of(&unknown), "UNKNOWN_SEGMENT");

    // Membership follows updates, with events.
    let bob_now = get(&mut client, bob).await;
    let entered = update(
        &mut client,
        Customer {
            name: bob.clone(),
            tags: vec!["new".into(), "VIP".into()],
            etag: bob_now.etag,
            ..Customer::default()
        },
        &["tags"],
    )
    .await
    .expect("Bob becomes vip");
    assert_eq!(entered.segments, vec!["segments/vip-members"]);
    update(
        &mut client,
        Customer {
            name: alice.clone(),
            member: false,
            ..Customer::default()
        },
        &["member"],
    )
    .await
    .expect("Alice leaves the membership");
    let mut expected = vec![bob.clone(), dave.clone()];
    expected.sort();
    assert_eq!(members(&mut client).await, expected);
    let changes = events_of::<CustomerSegmentMembershipChanged>(&stack, tenant).await;
    assert!(changes.contains(&CustomerSegmentMembershipChanged {
        customer: bob.clone(),
        entered: vec!["segments/vip-members".into()],
        left: Vec::new(),
        member: true,
    }));
    assert!(changes.contains(&CustomerSegmentMembershipChanged {
        customer: alice.clone(),
        entered: Vec::new(),
        left: vec!["segments/vip-members".into()],
        member: false,
    }));
    let counted = client
        .get_segment(GetSegmentRequest {
            name: vip.name.clone(),
        })
        .await
        .expect("get segment")
        .into_inner();
    assert_eq!(counted.member_count, 2);
    assert!(counted.member_count_time.is_some());

    // Preview without saving; a new filter recomputes membership.
    let preview = client
        .preview_segment(PreviewSegmentRequest {
            filter: "tags:vip".into(),
            sample_size: 2,
        })
        .await
        .expect("preview")
        .into_inner();
    assert_eq!(preview.member_count, 4);
    assert_eq!(preview.sample.len(), 2);
    let too_many = client
        .preview_segment(PreviewSegmentRequest {
            filter: "tags:vip".into(),
            sample_size: 51,
        })
        .await
        .expect_err("sample too large");
    assert_eq!(field_of(&too_many), "sample_size");
    let refiltered = client
        .update_segment(UpdateSegmentRequest {
            segment: Some(Segment {
                name: vip.name.clone(),
                filter: "contribution.amount_minor >= 300".into(),
                etag: counted.etag.clone(),
                ..Segment::default()
            }),
            update_mask: mask(&["filter"]),
        })
        .await
        .expect("new filter")
        .into_inner();
    assert_eq!(refiltered.member_count, 2);
    let mut expected = vec![alice.clone(), dave.clone()];
    expected.sort();
    assert_eq!(members(&mut client).await, expected);
    assert!(get(&mut client, bob).await.segments.is_empty());
    let listed = client
        .list_segments(ListSegmentsRequest {
            filter: r#"display_name = "VIP*""#.into(),
            ..ListSegmentsRequest::default()
        })
        .await
        .expect("list segments")
        .into_inner();
    assert_eq!(listed.segments.len(), 1);
    assert_eq!(listed.segments[0].member_count, 2);

    // ListCustomers: filter, order, pages, total.
    assert_eq!(
        list(
            &mut client,
            "member = true",
            "contribution.amount_minor desc"
        )
        .await,
        vec!["Dave", "Bob"]
    );
    assert_eq!(
        list(
            &mut client,
            "tags:vip OR member = true",
            "display_name desc"
        )
        .await,
        vec!["Dave", "Carol", "Bob", "Alice"]
    );
    assert_eq!(
        list(&mut client, "NOT tags:wholesale", "").await,
        vec!["Alice", "Bob", "Carol"],
        "default order: create_time"
    );
    assert_eq!(
        list(
            &mut client,
            r#"segments:"segments/vip-members""#,
            "display_name"
        )
        .await,
        vec!["Alice", "Dave"]
    );
    assert!(
        list(&mut client, r#"owner = "users/me""#, "")
            .await
            .is_empty(),
        "the admin owns none of them"
    );
    assert_eq!(
        list(&mut client, r#"owner = """#, "display_name").await,
        vec!["Alice", "Bob", "Carol", "Dave"],
        "an empty owner is unowned"
    );
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_customers(ListCustomersRequest {
                page_size: 3,
                page_token: token,
                order_by: "contribution.amount_minor".into(),
                ..ListCustomersRequest::default()
            })
            .await
            .expect("page")
            .into_inner();
        assert_eq!(page.total_size, 4);
        seen.extend(page.customers.into_iter().map(|c| c.display_name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, vec!["Bob", "Carol", "Alice", "Dave"]);
    for (filter, order_by, field) in [
        ("colour = red", "", "filter"),
        ("member = true AND", "", "filter"),
        ("", "shoe_size", "order_by"),
    ] {
        let refused = client
            .list_customers(ListCustomersRequest {
                filter: filter.into(),
                order_by: order_by.into(),
                ..ListCustomersRequest::default()
            })
            .await
            .expect_err("a bad query");
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(field_of(&refused), field);
    }

    // A deleted segment leaves its customers.
    client
        .delete_segment(DeleteSegmentRequest {
            name: vip.name.clone(),
            ..DeleteSegmentRequest::default()
        })
        .await
        .expect("delete segment");
    assert!(get(&mut client, dave).await.segments.is_empty());
    let gone = client
        .get_segment(GetSegmentRequest {
            name: vip.name.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn sqlite_segments_and_listing() {
    segments_and_listing(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_segments_and_listing() {
    segments_and_listing(Backend::Postgres).await;
}
