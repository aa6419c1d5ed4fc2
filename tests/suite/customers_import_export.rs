//! Bulk import and export of customers through the gateway on both
//! backends, as a supervisor notices them: a CSV with broken rows imports
//! the good ones and lists the broken ones by line and column, re-running
//! it creates no duplicate, a repeated request id answers the first
//! import, a file without its required column fails with nothing written,
//! validate-only writes nothing, a CSV export imports into another tenant
//! as the same customers, a JSON-lines export holds one `Customer` per
//! line, erased customers are not exported, and a tenant cannot run a third
//! import while two are open.

use std::time::Duration;

use futures::{StreamExt, channel::mpsc};
use kefu_kit::testing::Backend;
use kefu_proto::v1::{
    CancelCustomerImportRequest, CreateCustomerImportRequest, Customer, CustomerExportFormat,
    CustomerImport, CustomerImportState, EraseCustomerRequest, ErasureRequester,
    ExportCustomersRequest, GetCustomerImportRequest, Industry, ListCustomerActivitiesRequest,
    ListCustomerImportErrorsRequest, ListCustomerImportsRequest, ListCustomersRequest,
    SearchCustomersRequest, create_customer_import_request::Part,
    customer_service_client::CustomerServiceClient,
};
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::{
    eventually::eventually,
    gateway::reason,
    stack::{Bearer, Stack},
};

type Client = CustomerServiceClient<Bearer>;

/// Longest wait for events to be delivered.
const WAIT: Duration = Duration::from_secs(30);

/// Seven data rows: line 4 has a bad phone, line 7 repeats line 3's
/// external id; the other five are good.
const FILE: &str = "\u{feff}external_id,display_name,phones,emails,unit_number,tags,member,risk_profile,address_line\r\n\
crm-1,张三,138 0013 8000,zhang.san@example.com,3-2-1502,业主;VIP,是,稳健,\"浦东新区, 世纪大道 1 号\"\r\n\
crm-2,李四,139 0013 9000,,3-2-1503,,否,,\r\n\
crm-3,王五,12345,,,,,,\r\n\
crm-4,赵六,+86 137 0013 7000,zhao@example.com,,租户,true,aggressive,\r\n\
crm-5,Lily Wang,010-8888 6666,lily@example.com,5-1-101,,false,保守,\r\n\
crm-2,李四四,136 0013 6000,,,,,,\r\n\
crm-6,钱七,135 0013 5000,,,,,,\r\n";

fn settings(
    display_name: &str,
    request_id: &str,
    validate_only: bool,
) -> CreateCustomerImportRequest {
    CreateCustomerImportRequest {
        part: Some(Part::CustomerImport(CustomerImport {
            display_name: display_name.into(),
            validate_only,
            ..CustomerImport::default()
        })),
        request_id: request_id.into(),
    }
}

fn chunk(bytes: &[u8]) -> CreateCustomerImportRequest {
    CreateCustomerImportRequest {
        part: Some(Part::CsvChunk(bytes.to_vec())),
        request_id: String::new(),
    }
}

/// Streams `file` in small pieces (splitting rows and characters).
async fn start_import(
    client: &mut Client,
    file: &[u8],
    request_id: &str,
    validate_only: bool,
) -> Result<CustomerImport, tonic::Status> {
    let mut messages = vec![settings("客户.csv", request_id, validate_only)];
    messages.extend(file.chunks(7).map(chunk));
    client
        .create_customer_import(futures::stream::iter(messages))
        .await
        .map(tonic::Response::into_inner)
}

/// The import once it has ended.
async fn ended(client: &Client, name: &str) -> CustomerImport {
    let mut client = client.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let import = client
            .get_customer_import(GetCustomerImportRequest { name: name.into() })
            .await
            .expect("get import")
            .into_inner();
        if !matches!(
            import.state(),
            CustomerImportState::Pending | CustomerImportState::Running
        ) {
            return import;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the import did not end: {import:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn import(client: &mut Client, file: &[u8], request_id: &str) -> CustomerImport {
    let started = start_import(client, file, request_id, false)
        .await
        .expect("the import starts");
    ended(client, &started.name).await
}

fn counts(import: &CustomerImport) -> (CustomerImportState, i64, i64, i64, i64, i64) {
    (
        import.state(),
        import.rows_processed,
        import.created,
        import.updated,
        import.unchanged,
        import.failed,
    )
}

async fn all_customers(client: &mut Client) -> Vec<Customer> {
    let mut customers = client
        .list_customers(ListCustomersRequest {
            page_size: 500,
            ..ListCustomersRequest::default()
        })
        .await
        .expect("list customers")
        .into_inner()
        .customers;
    customers.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    customers
}

/// Waits until the customers service has published every event it wrote.
async fn outbox_delivered(stack: &Stack) {
    let database = stack.service_connection("customers").await;
    eventually("the customers outbox delivered", WAIT, || {
        let database = database.clone();
        async move {
            use sea_orm::ConnectionTrait;
            // The outbox holds every tenant's events: a platform read.
            let txn = kefu_kit::db::begin_read_platform(&database)
                .await
                .expect("begin");
            let row = txn
                .query_one_raw(sea_orm::Statement::from_string(
                    txn.get_database_backend(),
                    "SELECT COUNT(*) AS waiting FROM outbox WHERE published_at IS NULL",
                ))
                .await
                .expect("count")
                .expect("a row");
            row.try_get::<i64>("", "waiting").expect("count") == 0
        }
    })
    .await;
}

/// The CUSTOMER_CREATED entries of `customer`'s timeline: summary and
/// source.
async fn created_entries(client: &mut Client, customer: &str) -> Vec<(String, String)> {
    client
        .list_customer_activities(ListCustomerActivitiesRequest {
            parent: customer.into(),
            filter: "kind = CUSTOMER_CREATED".into(),
            ..ListCustomerActivitiesRequest::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .activities
        .into_iter()
        .map(|activity| (activity.summary, activity.source))
        .collect()
}

async fn search_phone(client: &mut Client, phone: &str) -> Vec<String> {
    client
        .search_customers(SearchCustomersRequest {
            phone: phone.into(),
            ..SearchCustomersRequest::default()
        })
        .await
        .expect("search")
        .into_inner()
        .customers
        .into_iter()
        .map(|customer| customer.display_name)
        .collect()
}

/// The export's bytes, checking the chunks' framing.
async fn export(client: &mut Client, format: CustomerExportFormat) -> (Vec<u8>, i64) {
    let mut stream = client
        .export_customers(ExportCustomersRequest {
            format: format as i32,
            filter: String::new(),
        })
        .await
        .expect("export starts")
        .into_inner();
    let mut data = Vec::new();
    let mut customers = 0;
    let mut saw_last = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("export chunk");
        assert!(!saw_last, "nothing follows the last chunk");
        data.extend(chunk.data);
        customers += chunk.customers;
        saw_last = chunk.last;
    }
    assert!(saw_last, "the last chunk says so");
    (data, customers)
}

/// A customer as it compares across tenants: without its name, times and
/// etag.
fn comparable(customer: &Customer) -> Customer {
    Customer {
        name: String::new(),
        create_time: None,
        update_time: None,
        etag: String::new(),
        ..customer.clone()
    }
}

async fn import_export(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("imp", Industry::PropertyManagement).await;
    let mut client = stack.customers(Some(&a.admin_session));

    // Five good rows are imported, two broken ones reported.
    let first = import(&mut client, FILE.as_bytes(), "imp-1").await;
    assert_eq!(
        counts(&first),
        (CustomerImportState::Succeeded, 7, 5, 0, 0, 2),
        "{first:?}"
    );
    assert_eq!(first.size_bytes, FILE.len() as i64);
    let digest: String = Sha256::digest(FILE.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(first.sha256, digest);
    assert_eq!(first.encoding, "UTF-8");
    assert!(first.start_time.is_some() && first.end_time.is_some());
    let errors = client
        .list_customer_import_errors(ListCustomerImportErrorsRequest {
            parent: first.name.clone(),
            ..ListCustomerImportErrorsRequest::default()
        })
        .await
        .expect("list errors")
        .into_inner();
    assert_eq!(errors.total_size, 2);
    let found: Vec<(i64, &str, &str)> = errors
        .errors
        .iter()
        .map(|error| (error.line, error.field.as_str(), error.reason.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            (4, "phones", "PHONE_INVALID"),
            (7, "external_id", "DUPLICATE_ROW")
        ]
    );
    assert!(
        errors.errors[1].message.contains("line 3"),
        "{:?}",
        errors.errors[1]
    );
    assert!(
        !errors.errors[0].message.contains("12345"),
        "row errors never quote a cell: {:?}",
        errors.errors[0]
    );
    assert_eq!(search_phone(&mut client, "13800138000").await, vec!["张三"]);
    assert_eq!(
        search_phone(&mut client, "+86 137 0013 7000").await,
        vec!["赵六"]
    );
    let imported = all_customers(&mut client).await;
    assert_eq!(imported.len(), 5);
    let zhang = &imported[0];
    assert_eq!(zhang.display_name, "张三");
    assert_eq!(zhang.phones[0].e164, "+8613800138000");
    assert_eq!(zhang.tags, vec!["业主", "VIP"]);
    assert!(zhang.member);
    assert_eq!(zhang.risk_profile(), kefu_proto::v1::RiskProfile::Balanced);
    assert_eq!(
        zhang.addresses[0].address_lines,
        vec!["浦东新区, 世纪大道 1 号"]
    );
    // Its timeline tells it was imported, and by which import, as soon as
    // the import has ended (the batch writes the entry with the customer).
    assert_eq!(
        created_entries(&mut client, &zhang.name).await,
        vec![("客户档案由导入创建".to_owned(), first.name.clone())]
    );

    // The same file again: nothing new, nothing duplicated.
    let again = import(&mut client, FILE.as_bytes(), "imp-2").await;
    assert_eq!(
        counts(&again),
        (CustomerImportState::Succeeded, 7, 0, 0, 5, 2)
    );
    assert_eq!(all_customers(&mut client).await, imported);
    // Still one creation entry once the first import's events were
    // delivered too (the timeline consumer adds none for imported ones).
    outbox_delivered(&stack).await;
    for customer in &imported {
        assert_eq!(
            created_entries(&mut client, &customer.name).await.len(),
            1,
            "{}",
            customer.display_name
        );
    }
    // The same request id answers the first import with that id.
    let repeated = start_import(&mut client, FILE.as_bytes(), "imp-2", false)
        .await
        .expect("a repeated request answers");
    assert_eq!(repeated.name, again.name);

    // A changed cell updates the matched customer, and only that.
    let fix = "external_id,display_name,phones,tags\ncrm-3,王五,150 0015 0000,\ncrm-1,,,业主\n";
    let fixed = import(&mut client, fix.as_bytes(), "imp-fix").await;
    assert_eq!(
        counts(&fixed),
        (CustomerImportState::Succeeded, 2, 1, 1, 0, 0),
        "{fixed:?}"
    );
    let after_fix = all_customers(&mut client).await;
    assert_eq!(after_fix.len(), 6);
    assert_eq!(after_fix[0].tags, vec!["业主"]);
    assert_eq!(after_fix[0].phones, imported[0].phones);

    // No display_name column: FAILED, nothing written.
    let headless = "external_id,phones\ncrm-9,13900001111\n";
    let failed = import(&mut client, headless.as_bytes(), "imp-3").await;
    assert_eq!(failed.state(), CustomerImportState::Failed);
    assert!(
        failed.error.contains("IMPORT_FILE_INVALID"),
        "{}",
        failed.error
    );
    assert!(failed.error.contains("display_name"), "{}", failed.error);
    assert_eq!((failed.created, failed.rows_processed), (0, 0));
    let unknown = "display_name,fax\n孙八,123\n";
    let refused = import(&mut client, unknown.as_bytes(), "imp-4").await;
    assert_eq!(refused.state(), CustomerImportState::Failed);
    assert!(refused.error.contains("fax"), "{}", refused.error);
    assert_eq!(all_customers(&mut client).await.len(), 6);

    // Validate only: the rows are checked and counted, nothing is written.
    let trial = "display_name,phones\n周九,133 0013 3000\n吴十,bad\n";
    let started = start_import(&mut client, trial.as_bytes(), "imp-5", true)
        .await
        .expect("starts");
    let checked = ended(&client, &started.name).await;
    assert_eq!(
        counts(&checked),
        (CustomerImportState::Succeeded, 2, 1, 0, 0, 1)
    );
    assert!(search_phone(&mut client, "13300133000").await.is_empty());
    assert_eq!(all_customers(&mut client).await.len(), 6);

    // Listed newest first, filtered by state; ended imports stay ended.
    let listed = client
        .list_customer_imports(ListCustomerImportsRequest::default())
        .await
        .expect("list imports")
        .into_inner();
    assert_eq!(listed.total_size, 6);
    assert_eq!(listed.customer_imports[0].name, checked.name);
    assert_eq!(listed.customer_imports[5].name, first.name);
    let failures = client
        .list_customer_imports(ListCustomerImportsRequest {
            filter: "state = FAILED".into(),
            ..ListCustomerImportsRequest::default()
        })
        .await
        .expect("filtered")
        .into_inner();
    assert_eq!(failures.total_size, 2);
    let cancel = client
        .cancel_customer_import(CancelCustomerImportRequest {
            name: first.name.clone(),
        })
        .await
        .expect_err("an ended import cannot be cancelled");
    assert_eq!(cancel.code(), Code::FailedPrecondition);
    assert_eq!(reason(&cancel), "ILLEGAL_TRANSITION");
    let bad_filter = client
        .list_customer_imports(ListCustomerImportsRequest {
            filter: "owner = x".into(),
            ..ListCustomerImportsRequest::default()
        })
        .await
        .expect_err("unknown filter field");
    assert_eq!(bad_filter.code(), Code::InvalidArgument);

    // A CSV export imports into another tenant as the same customers.
    let current = all_customers(&mut client).await;
    let (csv, exported) = export(&mut client, CustomerExportFormat::Csv).await;
    assert_eq!(exported, 6);
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    let b = stack.onboard("exp", Industry::PropertyManagement).await;
    let mut other = stack.customers(Some(&b.admin_session));
    let copied = import(&mut other, &csv, "copy-1").await;
    assert_eq!(
        counts(&copied),
        (CustomerImportState::Succeeded, 6, 6, 0, 0, 0),
        "{copied:?}"
    );
    let copies = all_customers(&mut other).await;
    assert_eq!(
        copies.iter().map(comparable).collect::<Vec<_>>(),
        current.iter().map(comparable).collect::<Vec<_>>()
    );
    // Imported again where they came from, they are unchanged.
    let home = import(&mut client, &csv, "copy-2").await;
    assert_eq!(
        counts(&home),
        (CustomerImportState::Succeeded, 6, 0, 0, 6, 0)
    );

    // JSON lines: one proto3-JSON Customer a line.
    let (lines, count) = export(&mut client, CustomerExportFormat::JsonLines).await;
    assert_eq!(count, 6);
    let pool = DescriptorPool::decode(kefu_proto::FILE_DESCRIPTOR_SET).expect("descriptors");
    let descriptor = pool
        .get_message_by_name("kefu.v1.Customer")
        .expect("Customer");
    let mut parsed = Vec::new();
    for line in String::from_utf8(lines).expect("utf-8").lines() {
        let mut json = serde_json::Deserializer::from_str(line);
        let message = DynamicMessage::deserialize(descriptor.clone(), &mut json)
            .expect("a line is a Customer in proto3 JSON");
        parsed.push(Customer::decode(message.encode_to_vec().as_slice()).expect("decodes"));
    }
    parsed.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    assert_eq!(parsed, current);

    // An erased customer is exported no more.
    let erased = client
        .erase_customer(EraseCustomerRequest {
            name: current[1].name.clone(),
            reason: "PIPL 删除请求".into(),
            requested_by: ErasureRequester::DataSubject as i32,
            ..EraseCustomerRequest::default()
        })
        .await;
    match erased {
        Ok(_) => {
            let (_, left) = export(&mut client, CustomerExportFormat::JsonLines).await;
            assert_eq!(left, 5);
        }
        Err(status) => assert_eq!(status.code(), Code::Unimplemented, "{status:?}"),
    }

    // Another tenant sees none of it.
    let foreign = other
        .get_customer_import(GetCustomerImportRequest {
            name: first.name.clone(),
        })
        .await
        .expect_err("another tenant's import");
    assert_eq!(foreign.code(), Code::NotFound);

    // Two open uploads are the limit; the third waits for one to end.
    let mut open = Vec::new();
    for index in 0..2 {
        let (sender, receiver) = mpsc::unbounded();
        sender
            .unbounded_send(settings("slow.csv", &format!("slow-{index}"), false))
            .expect("queued");
        sender
            .unbounded_send(chunk(b"display_name\n"))
            .expect("queued");
        let mut uploader = client.clone();
        let call = tokio::spawn(async move { uploader.create_customer_import(receiver).await });
        open.push((sender, call));
    }
    // Both uploads hold their slot before the third asks: a probe sent
    // earlier would hold a slot itself for a moment and could refuse one
    // of them (on SQLite the requests queue behind each other).
    let tenant = kefu_kit::context::TenantId(
        a.tenant
            .name
            .strip_prefix("tenants/")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .expect("tenant id"),
    );
    let database = stack.service_connection("customers").await;
    eventually("both uploads hold a slot", Duration::from_secs(10), || {
        let database = database.clone();
        async move {
            let txn = kefu_kit::db::begin_read_for_tenant(&database, tenant)
                .await
                .expect("begin");
            use sea_orm::ConnectionTrait;
            let row = txn
                .query_one_raw(sea_orm::Statement::from_string(
                    txn.get_database_backend(),
                    "SELECT COUNT(*) AS uploading FROM customer_imports WHERE state = 0",
                ))
                .await
                .expect("count")
                .expect("a row");
            row.try_get::<i64>("", "uploading").expect("count") == 2
        }
    })
    .await;
    for (index, (_, call)) in open.iter().enumerate() {
        assert!(
            !call.is_finished(),
            "upload {index} ended before its file did"
        );
    }
    let mut third = client.clone();
    // A probe that gets through anyway is refused at once for its oversized
    // chunk and leaves nothing that would count.
    let oversized = vec![b'x'; 1024 * 1024 + 1];
    eventually(
        "a third import is refused while two upload",
        Duration::from_secs(10),
        || {
            let mut third = third.clone();
            let messages = vec![settings("third.csv", "", false), chunk(&oversized)];
            async move {
                match third
                    .create_customer_import(futures::stream::iter(messages))
                    .await
                {
                    Err(status) if status.code() == Code::ResourceExhausted => true,
                    Err(status) if status.code() == Code::InvalidArgument => false,
                    other => panic!("the probe is refused either way: {other:?}"),
                }
            }
        },
    )
    .await;
    for (sender, call) in open {
        sender
            .unbounded_send(chunk("慢一\n".as_bytes()))
            .expect("queued");
        drop(sender);
        let import = call
            .await
            .expect("task")
            .expect("the upload completes")
            .into_inner();
        ended(&client, &import.name).await;
    }
    let after = start_import(&mut third, b"display_name\n", "", false).await;
    assert!(after.is_ok(), "{after:?}");
}

#[tokio::test]
async fn sqlite_customers_import_export() {
    import_export(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_customers_import_export() {
    import_export(Backend::Postgres).await;
}
