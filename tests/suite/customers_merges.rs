//! Duplicates, merges and erasure through the gateway on both backends, as
//! a supervisor and a data-protection officer notice them: two customers
//! with one phone are found as duplicates (score 0.9); merging them leaves
//! one customer with the union of their data, found alone by that phone;
//! a self-merge, another tenant's customer or a stale etag change nothing;
//! a repeated request id answers the same merge; undo gives each customer
//! its own data back while an edit made since stays; an erased customer is
//! a tombstone no search finds, its record holds no personal data, its
//! identifier can be used again, and CustomerErased is published.

use kefu_kit::{context::TenantId, testing::Backend};
use std::time::Duration;

use kefu_proto::v1::{
    CreateCustomerRequest, Customer, CustomerActivityKind, CustomerErased, CustomerIdentifier,
    CustomerIdentifierKind, CustomerMergeState, CustomerPhone, CustomerState, CustomersMerged,
    DuplicateReason, EraseCustomerRequest, ErasureRequester, FindDuplicateCustomersRequest,
    GetCustomerMergeRequest, GetCustomerRequest, GetErasureRecordRequest, Industry,
    ListCustomerActivitiesRequest, ListCustomerMergesRequest, ListErasureRecordsRequest,
    MergeCustomersRequest, SearchCustomersRequest, UndoCustomerMergeRequest, UpdateCustomerRequest,
    customer_service_client::CustomerServiceClient,
};
use prost_types::FieldMask;
use sea_orm::{ConnectionTrait, Statement};
use tonic::Code;

use crate::{
    eventually::eventually,
    gateway::reason,
    stack::{Bearer, Stack},
    tenants::field_of,
};

type Client = CustomerServiceClient<Bearer>;

fn unit(value: &str) -> CustomerIdentifier {
    CustomerIdentifier {
        kind: CustomerIdentifierKind::UnitNumber as i32,
        value: value.into(),
        label: String::new(),
    }
}

fn person(name: &str, phones: &[&str], unit_number: &str) -> Customer {
    Customer {
        display_name: name.into(),
        phones: phones
            .iter()
            .map(|raw| CustomerPhone {
                raw: (*raw).into(),
                ..CustomerPhone::default()
            })
            .collect(),
        identifiers: vec![unit(unit_number)],
        ..Customer::default()
    }
}

async fn create(client: &mut Client, customer: Customer) -> Customer {
    client
        .create_customer(CreateCustomerRequest {
            customer: Some(customer),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect("create")
        .into_inner()
}

async fn get(client: &mut Client, name: &str) -> Customer {
    client
        .get_customer(GetCustomerRequest { name: name.into() })
        .await
        .expect("get")
        .into_inner()
}

/// The names SearchCustomers answers.
async fn search(client: &mut Client, request: SearchCustomersRequest) -> Vec<String> {
    client
        .search_customers(request)
        .await
        .expect("search")
        .into_inner()
        .customers
        .into_iter()
        .map(|customer| customer.name)
        .collect()
}

fn by_phone(phone: &str) -> SearchCustomersRequest {
    SearchCustomersRequest {
        phone: phone.into(),
        ..SearchCustomersRequest::default()
    }
}

fn merge_request(survivor: &Customer, merged: &Customer) -> MergeCustomersRequest {
    MergeCustomersRequest {
        survivor: survivor.name.clone(),
        merged: merged.name.clone(),
        reason: "同一业主两次登记".into(),
        ..MergeCustomersRequest::default()
    }
}

fn phones_of(customer: &Customer) -> Vec<String> {
    customer.phones.iter().map(|p| p.e164.clone()).collect()
}

fn units_of(customer: &Customer) -> Vec<String> {
    customer
        .identifiers
        .iter()
        .map(|i| i.value.clone())
        .collect()
}

fn tenant_of(name: &str) -> TenantId {
    TenantId(
        name.strip_prefix("tenants/")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .expect("tenant name"),
    )
}

/// Rows of `sql` (one bytes column `bytes`) in `tenant`'s customers
/// database, read as the service reads it.
async fn bytes_of(stack: &Stack, tenant: TenantId, sql: &str) -> Vec<Vec<u8>> {
    let db = stack.service_connection("customers").await;
    let txn = kefu_kit::db::begin_read_for_tenant(&db, tenant)
        .await
        .expect("read transaction");
    txn.query_all_raw(Statement::from_string(
        txn.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .expect("query")
    .iter()
    .map(|row| row.try_get::<Vec<u8>>("", "bytes").expect("bytes"))
    .collect()
}

/// The events of type `M` the customers service wrote for `tenant`.
async fn events_of<M: prost::Message + prost::Name + Default>(
    stack: &Stack,
    tenant: TenantId,
) -> Vec<M> {
    use prost::Message as _;
    let sql = format!(
        "SELECT payload AS bytes FROM outbox WHERE event_type = '{}' ORDER BY seq",
        M::full_name()
    );
    bytes_of(stack, tenant, &sql)
        .await
        .iter()
        .map(|payload| kefu_proto::v1::EventEnvelope::decode(payload.as_slice()).expect("envelope"))
        .filter(|envelope| envelope.tenant_id == tenant.to_string())
        .map(|envelope| kefu_kit::events::payload_as::<M>(&envelope).expect("payload type"))
        .collect()
}

/// The (kind, source) entries of a customer's timeline.
async fn timeline(stack: &Stack, session: &str, name: &str) -> Vec<(i32, String)> {
    stack
        .customers(Some(session))
        .list_customer_activities(ListCustomerActivitiesRequest {
            parent: name.into(),
            page_size: 500,
            ..ListCustomerActivitiesRequest::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .activities
        .into_iter()
        .map(|activity| (activity.kind, activity.source))
        .collect()
}

/// Waits until `name`'s timeline holds `entry` (timelines are fed by events).
async fn wait_for(stack: &Stack, session: &str, name: &str, entry: (CustomerActivityKind, &str)) {
    let wanted = (entry.0 as i32, entry.1.to_owned());
    eventually(
        &format!("{name}'s timeline shows {entry:?}"),
        Duration::from_secs(10),
        || {
            let wanted = wanted.clone();
            async move { timeline(stack, session, name).await.contains(&wanted) }
        },
    )
    .await;
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

async fn duplicates_merges_and_erasure(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("merge", Industry::PropertyManagement).await;
    let tenant = tenant_of(&a.tenant.name);
    let mut client = stack.customers(Some(&a.admin_session));

    // One owner registered twice: the same mobile typed two ways.
    let mut first = person("张三", &["138 0013 8000"], "3-2-1502");
    first.tags = vec!["业主".into()];
    let zhang = create(&mut client, first).await;
    let mut second = person("张三丰", &["+86-138-0013-8000", "13900139000"], "5-1-101");
    second.tags = vec!["VIP".into(), "业主".into()];
    second.member = true;
    let feng = create(&mut client, second).await;
    let other = create(&mut client, person("李四", &["13700137000"], "9-9-909")).await;
    let session = a.admin_session.as_str();
    let created = CustomerActivityKind::CustomerCreated;
    wait_for(&stack, session, &feng.name, (created, &feng.name)).await;

    // Found as duplicates of each other, with the phone's weight.
    let found = client
        .find_duplicate_customers(FindDuplicateCustomersRequest {
            customer: zhang.name.clone(),
            ..FindDuplicateCustomersRequest::default()
        })
        .await
        .expect("duplicates of one customer")
        .into_inner()
        .candidates;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].customer, zhang.name);
    assert_eq!(found[0].duplicate, feng.name);
    assert_eq!(found[0].reasons, [DuplicateReason::SamePhone as i32]);
    assert!((found[0].score - 0.9).abs() < 1e-9, "{}", found[0].score);
    let pairs = client
        .find_duplicate_customers(FindDuplicateCustomersRequest::default())
        .await
        .expect("tenant-wide pairs")
        .into_inner()
        .candidates;
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert_eq!(
        (pairs[0].customer.as_str(), pairs[0].duplicate.as_str()),
        (zhang.name.as_str(), feng.name.as_str()),
        "the older customer comes first"
    );
    let strict = client
        .find_duplicate_customers(FindDuplicateCustomersRequest {
            min_score: 0.95,
            ..FindDuplicateCustomersRequest::default()
        })
        .await
        .expect("strict search")
        .into_inner()
        .candidates;
    assert!(strict.is_empty(), "{strict:?}");

    // A customer merged with itself: refused, nothing changed.
    let refused = client
        .merge_customers(merge_request(&zhang, &zhang))
        .await
        .expect_err("self-merge");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "SELF_MERGE");
    assert_eq!(field_of(&refused), "merged");
    assert_eq!(get(&mut client, &zhang.name).await.etag, zhang.etag);

    // Another tenant's customer is not found, and stays as it was.
    let b = stack.onboard("other", Industry::Ecommerce).await;
    let mut b_client = stack.customers(Some(&b.admin_session));
    let theirs = create(&mut b_client, person("王五", &["13600136000"], "1-1-101")).await;
    let refused = client
        .merge_customers(merge_request(&zhang, &theirs))
        .await
        .expect_err("cross-tenant merge");
    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(get(&mut b_client, &theirs.name).await, theirs);
    let refused = client
        .find_duplicate_customers(FindDuplicateCustomersRequest {
            customer: theirs.name.clone(),
            ..FindDuplicateCustomersRequest::default()
        })
        .await
        .expect_err("another tenant's duplicates");
    assert_eq!(refused.code(), Code::NotFound);

    // A stale etag: ABORTED.
    let stale = client
        .merge_customers(MergeCustomersRequest {
            survivor_etag: "r0".into(),
            ..merge_request(&zhang, &feng)
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    assert_eq!(
        get(&mut client, &feng.name).await.state,
        CustomerState::Active as i32
    );

    // The merge: the survivor has the union; the merged one points to it.
    let request = MergeCustomersRequest {
        survivor_etag: zhang.etag.clone(),
        merged_etag: feng.etag.clone(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..merge_request(&zhang, &feng)
    };
    let merge = client
        .merge_customers(request.clone())
        .await
        .expect("merge")
        .into_inner();
    assert_eq!(merge.state, CustomerMergeState::Merged as i32);
    assert_eq!(
        (merge.survivor.as_str(), merge.merged.as_str()),
        (zhang.name.as_str(), feng.name.as_str())
    );
    assert!(merge.actor.is_some());
    let again = client
        .merge_customers(request)
        .await
        .expect("repeated request id")
        .into_inner();
    assert_eq!(again, merge, "the same request id answers the same merge");
    let survivor = get(&mut client, &zhang.name).await;
    assert_eq!(survivor.display_name, "张三", "the survivor keeps its name");
    assert_eq!(phones_of(&survivor), ["+8613800138000", "+8613900139000"]);
    assert_eq!(units_of(&survivor), ["3-2-1502", "5-1-101"]);
    assert_eq!(survivor.tags, ["业主", "VIP"]);
    assert!(survivor.member, "a member if either was");
    let merged = get(&mut client, &feng.name).await;
    assert_eq!(merged.state, CustomerState::Merged as i32);
    assert_eq!(merged.merged_into, zhang.name);
    assert_eq!(
        search(&mut client, by_phone("13900139000")).await,
        [zhang.name.as_str()]
    );
    assert_eq!(
        search(&mut client, by_phone("13800138000")).await,
        [zhang.name.as_str()]
    );
    let by_unit = SearchCustomersRequest {
        identifier: Some(unit("5 1 101")),
        ..SearchCustomersRequest::default()
    };
    assert_eq!(
        search(&mut client, by_unit.clone()).await,
        [zhang.name.as_str()]
    );
    let not_active = client
        .merge_customers(merge_request(&other, &feng))
        .await
        .expect_err("a merged customer merges no more");
    assert_eq!(not_active.code(), Code::FailedPrecondition);
    assert_eq!(reason(&not_active), "CUSTOMER_NOT_ACTIVE");
    // The merged customer's history now reads on the survivor.
    let feng_created = (created as i32, feng.name.clone());
    assert!(
        timeline(&stack, session, &zhang.name)
            .await
            .contains(&feng_created)
    );
    wait_for(
        &stack,
        session,
        &zhang.name,
        (CustomerActivityKind::Merged, &merge.name),
    )
    .await;
    let merged_events = events_of::<CustomersMerged>(&stack, tenant).await;
    assert_eq!(merged_events.len(), 1, "one merge, one event");
    assert_eq!(merged_events[0].customer_merge, merge.name);

    // The record is readable and listed.
    let read = client
        .get_customer_merge(GetCustomerMergeRequest {
            name: merge.name.clone(),
        })
        .await
        .expect("get merge")
        .into_inner();
    assert_eq!(read, merge);
    let listed = client
        .list_customer_merges(ListCustomerMergesRequest {
            filter: format!(r#"survivor = "{}" AND state = MERGED"#, zhang.name),
            ..ListCustomerMergesRequest::default()
        })
        .await
        .expect("list merges")
        .into_inner();
    assert_eq!(listed.customer_merges, std::slice::from_ref(&merge));
    assert_eq!(listed.total_size, 1);
    let bad = client
        .list_customer_merges(ListCustomerMergesRequest {
            filter: "colour = red".into(),
            ..ListCustomerMergesRequest::default()
        })
        .await
        .expect_err("bad filter");
    assert_eq!(field_of(&bad), "filter");

    // An agent edits the survivor's tags after the merge.
    let edited = client
        .update_customer(UpdateCustomerRequest {
            customer: Some(Customer {
                name: zhang.name.clone(),
                tags: vec!["业主".into(), "VIP".into(), "投诉".into()],
                ..Customer::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["tags".into()],
            }),
        })
        .await
        .expect("edit the survivor")
        .into_inner();

    // Undo: each is itself again; the edit made since stays.
    let undone = client
        .undo_customer_merge(UndoCustomerMergeRequest {
            name: merge.name.clone(),
            reason: "不是同一人".into(),
        })
        .await
        .expect("undo")
        .into_inner();
    assert_eq!(undone.state, CustomerMergeState::Undone as i32);
    assert!(undone.undo_time.is_some() && undone.undo_actor.is_some());
    let survivor = get(&mut client, &zhang.name).await;
    assert_eq!(survivor.state, CustomerState::Active as i32);
    assert_eq!(phones_of(&survivor), ["+8613800138000"]);
    assert_eq!(units_of(&survivor), ["3-2-1502"]);
    assert!(!survivor.member);
    assert_eq!(
        survivor.tags, edited.tags,
        "an edit made after the merge stays"
    );
    let restored = get(&mut client, &feng.name).await;
    assert_eq!(restored.state, CustomerState::Active as i32);
    assert!(restored.merged_into.is_empty());
    assert_eq!(restored.display_name, "张三丰");
    assert_eq!(phones_of(&restored), ["+8613800138000", "+8613900139000"]);
    assert_eq!(units_of(&restored), ["5-1-101"]);
    assert!(restored.member);
    assert_eq!(
        search(&mut client, by_phone("13900139000")).await,
        [feng.name.as_str()]
    );
    assert_eq!(
        search(&mut client, by_unit.clone()).await,
        [feng.name.as_str()]
    );
    // History from before the merge went back; the merge's own entry stays.
    assert!(
        timeline(&stack, session, &feng.name)
            .await
            .contains(&feng_created)
    );
    let survivor_timeline = timeline(&stack, session, &zhang.name).await;
    assert!(
        !survivor_timeline.contains(&feng_created),
        "{survivor_timeline:?}"
    );
    assert!(survivor_timeline.contains(&(CustomerActivityKind::Merged as i32, merge.name.clone())));
    let twice = client
        .undo_customer_merge(UndoCustomerMergeRequest {
            name: merge.name.clone(),
            ..UndoCustomerMergeRequest::default()
        })
        .await
        .expect_err("undo twice");
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert_eq!(reason(&twice), "MERGE_NOT_UNDOABLE");

    // Merged again, then the survivor is erased: both go, and the merge
    // can no longer be undone.
    let merge = client
        .merge_customers(merge_request(&zhang, &feng))
        .await
        .expect("merge again")
        .into_inner();
    wait_for(
        &stack,
        session,
        &zhang.name,
        (CustomerActivityKind::Merged, &merge.name),
    )
    .await;
    let erase = EraseCustomerRequest {
        name: zhang.name.clone(),
        reason: "PIPL 第47条 删除请求".into(),
        requested_by: ErasureRequester::DataSubject as i32,
        request_reference: "信函 2026-118".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let missing_reason = client
        .erase_customer(EraseCustomerRequest {
            reason: String::new(),
            ..erase.clone()
        })
        .await
        .expect_err("no reason");
    assert_eq!(field_of(&missing_reason), "reason");
    let record = client
        .erase_customer(erase.clone())
        .await
        .expect("erase")
        .into_inner();
    assert_eq!(record.customer, zhang.name);
    assert_eq!(record.merged_customers, [feng.name.as_str()]);
    assert_eq!(record.requested_by, ErasureRequester::DataSubject as i32);
    let tombstone = get(&mut client, &zhang.name).await;
    assert_eq!(tombstone.state, CustomerState::Erased as i32);
    assert!(tombstone.erase_time.is_some());
    assert!(tombstone.display_name.is_empty() && tombstone.phones.is_empty());
    assert!(tombstone.identifiers.is_empty() && tombstone.tags.is_empty());
    assert_eq!(tombstone.create_time, zhang.create_time);
    assert_eq!(
        get(&mut client, &feng.name).await.state,
        CustomerState::Erased as i32
    );
    assert!(
        search(&mut client, by_phone("13800138000"))
            .await
            .is_empty()
    );
    assert!(
        search(&mut client, by_phone("13900139000"))
            .await
            .is_empty()
    );
    let by_name = SearchCustomersRequest {
        name_prefix: "张三".into(),
        ..SearchCustomersRequest::default()
    };
    assert!(search(&mut client, by_name).await.is_empty());
    let not_undoable = client
        .undo_customer_merge(UndoCustomerMergeRequest {
            name: merge.name.clone(),
            ..UndoCustomerMergeRequest::default()
        })
        .await
        .expect_err("an erased customer's merge");
    assert_eq!(reason(&not_undoable), "MERGE_NOT_UNDOABLE");

    // Erasing again, with or without the request id, answers the record.
    let again = client
        .erase_customer(erase.clone())
        .await
        .expect("repeat")
        .into_inner();
    assert_eq!(again, record);
    let again = client
        .erase_customer(EraseCustomerRequest {
            name: feng.name.clone(),
            request_id: String::new(),
            ..erase
        })
        .await
        .expect("erase the erased")
        .into_inner();
    assert_eq!(again, record);
    assert_eq!(
        client
            .get_erasure_record(GetErasureRecordRequest {
                name: record.name.clone(),
            })
            .await
            .expect("get record")
            .into_inner(),
        record
    );
    let listed = client
        .list_erasure_records(ListErasureRecordsRequest {
            filter: format!(
                r#"customer = "{}" AND requested_by = DATA_SUBJECT"#,
                zhang.name
            ),
            ..ListErasureRecordsRequest::default()
        })
        .await
        .expect("list records")
        .into_inner();
    assert_eq!(listed.erasure_records, std::slice::from_ref(&record));

    // Nothing personal is kept: not in the record, not in the merge
    // records, not in the customer rows.
    let stored = bytes_of(
        &stack,
        tenant,
        "SELECT resource AS bytes FROM erasure_records",
    )
    .await;
    assert_eq!(stored.len(), 1);
    let merges = bytes_of(
        &stack,
        tenant,
        "SELECT COALESCE(snapshot, resource) AS bytes FROM customer_merges",
    )
    .await;
    let customers = bytes_of(
        &stack,
        tenant,
        &format!(
            "SELECT resource AS bytes FROM customers WHERE id IN ('{}', '{}')",
            zhang.name.trim_start_matches("customers/"),
            feng.name.trim_start_matches("customers/")
        ),
    )
    .await;
    assert_eq!(customers.len(), 2);
    for bytes in stored.iter().chain(&merges).chain(&customers) {
        for personal in ["13800138000", "13900139000", "张三", "5-1-101"] {
            assert!(!contains(bytes, personal), "{personal} is still stored");
        }
    }

    // The timeline is gone with the rest.
    let activities = bytes_of(
        &stack,
        tenant,
        &format!(
            "SELECT resource AS bytes FROM customer_activities WHERE customer_id IN ('{}', '{}')",
            zhang.name.trim_start_matches("customers/"),
            feng.name.trim_start_matches("customers/")
        ),
    )
    .await;
    assert!(
        activities.is_empty(),
        "{} activities left",
        activities.len()
    );

    // The identifier is free again: a new customer may hold it.
    let newcomer = create(&mut client, person("新业主", &["13500135000"], "5-1-101")).await;
    assert_eq!(search(&mut client, by_unit).await, [newcomer.name.as_str()]);

    // Every erased customer's event is in the outbox.
    let erased: Vec<(String, String)> = events_of::<CustomerErased>(&stack, tenant)
        .await
        .into_iter()
        .map(|event| (event.customer, event.erasure_record))
        .collect();
    assert_eq!(
        erased,
        [
            (zhang.name.clone(), record.name.clone()),
            (feng.name.clone(), record.name.clone())
        ]
    );
}

#[tokio::test]
async fn sqlite_duplicates_merges_and_erasure() {
    duplicates_merges_and_erasure(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_duplicates_merges_and_erasure() {
    duplicates_merges_and_erasure(Backend::Postgres).await;
}
