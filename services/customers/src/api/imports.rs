//! CSV imports, processed in the background.
//!
//! CreateCustomerImport stores the streamed file in chunks (each in its own
//! short transaction, so a slow upload holds no lock; the import stays
//! hidden in an internal uploading state until its last chunk is stored),
//! checks it is text of its encoding and within the limits, and answers
//! PENDING. A worker task then reads the file back through a CSV parser on
//! a blocking thread, which reads, checks and normalises each row and
//! refuses rows repeating an earlier row's key; the worker matches each
//! batch of 1,000 rows to stored customers with a few `IN (…)` queries and
//! writes the batch (new customers with multi-row INSERTs, their events
//! with one outbox INSERT, updates one by one through
//! `records::replace_customer`), its row errors and the import's counts and
//! resume point in one transaction.
//!
//! Durability: a worker that dies leaves the import RUNNING with the resume
//! point of its last committed batch. Every process sweeps on start, and
//! then every 30 seconds takes over imports whose worker has written
//! nothing for 2 minutes; rows before the resume point are parsed again
//! only to remember their keys. Two workers on one import (replicas) cannot
//! both commit a batch: each batch locks the import row and checks the
//! resume point it started from, and the loser stops.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    io::Read,
    sync::{LazyLock, Mutex},
    time::Duration as StdDuration,
};

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId,
    db::{begin_read_platform, is_unique_violation},
    events::{new_event, to_timestamp},
    outbox, resource,
};
use kefu_proto::v1::{
    CancelCustomerImportRequest, CreateCustomerImportRequest, Customer, CustomerActivityKind,
    CustomerCreated, CustomerImport, CustomerImportCompleted, CustomerImportError,
    CustomerImportState, CustomerState, GetCustomerImportRequest, ListCustomerImportErrorsRequest,
    ListCustomerImportErrorsResponse, ListCustomerImportsRequest, ListCustomerImportsResponse,
    OwnershipChangeKind, create_customer_import_request::Part,
};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

use super::{
    Shared,
    activities::{self, Entry, OWN},
    caller,
    classify::{self, Classifier},
    ownership::{self, Attribution},
    page_size,
    records::{self, REGION, check_request_id, customer_name},
};
use crate::{
    NAME,
    domain::{
        attributes,
        csv_row::{
            self, AttributeTypes, BATCH_ROWS, Candidate, Decoded, FileEncoding, MAX_CHUNK_BYTES,
            MAX_KEPT_ERRORS, RowError, SeenKeys, UploadScanner,
        },
        customer::{date_of, lookup_keys, normalise},
        import_filter,
        ownership::is_active_agent,
        timeline::Happening,
    },
    error::{CustomersError, Result},
    store::{
        agents, bulk,
        customers::{self, Stored},
        imports::{self, ErrorCursor, ImportCursor, StoredImport, UPLOADING},
    },
};

/// Imports a tenant may have PENDING or RUNNING (uploading ones count).
const ACTIVE_LIMIT: i64 = 2;
/// Times a worker starts on an import before it is given up as FAILED.
const MAX_ATTEMPTS: i32 = 5;
/// Chunks read from the database per query (about 8 MiB).
const CHUNKS_PER_READ: u64 = 8;
/// How often a process looks for imports nobody works on.
const SWEEP_INTERVAL: StdDuration = StdDuration::from_secs(30);
/// How long a RUNNING import may go without a committed batch before
/// another worker takes it over.
const STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(2);
/// How long an upload may go without a chunk before it is deleted.
const UPLOAD_ABANDONED_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(1);

fn import_name(id: Uuid) -> String {
    format!("customerImports/{id}")
}

fn import_id(name: &str) -> Option<Uuid> {
    resource::id_in(name, "customerImports").and_then(|id| Uuid::parse_str(id).ok())
}

fn file_invalid(field: &str, message: impl Into<String>) -> CustomersError {
    CustomersError::invalid_because(field, message, "IMPORT_FILE_INVALID")
}

/// The import as callers see it.
fn view(stored: &StoredImport) -> CustomerImport {
    let mut import = stored.import.clone();
    if stored.state == UPLOADING {
        import.state = CustomerImportState::Pending as i32;
    }
    import
}

/// The visible import `name` of `tenant`, or NOT_FOUND naming it.
async fn load(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    for_update: bool,
) -> Result<StoredImport> {
    let id = import_id(name).ok_or_else(|| CustomersError::not_found(name))?;
    imports::get(txn, tenant.0, id, for_update)
        .await?
        .filter(|stored| stored.state != UPLOADING)
        .ok_or_else(|| CustomersError::not_found(name))
}

/// Serialises the tenant's import creations on PostgreSQL, so two at once
/// cannot both pass the limit (SQLite writers are serialised already).
async fn lock_tenant_imports(txn: &DatabaseTransaction, tenant: TenantId) -> Result<()> {
    if txn.get_database_backend() == DbBackend::Postgres {
        let bytes = tenant.0.as_u64_pair();
        // A key of its own beside other advisory locks of the service.
        let key = (bytes.0 ^ bytes.1 ^ 0x696d_706f_7274_7321) as i64;
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [key.into()],
        ))
        .await?;
    }
    Ok(())
}

/// CreateCustomerImport.
pub(super) async fn create_customer_import(
    shared: &Shared,
    request: Request<Streaming<CreateCustomerImportRequest>>,
) -> Result<Response<CustomerImport>, Status> {
    let (context, tenant) = caller(&request)?;
    let mut stream = request.into_inner();
    let first = stream.message().await?.ok_or_else(|| {
        CustomersError::invalid(
            "customer_import",
            "the stream is empty: send customer_import first",
        )
    })?;
    let Some(Part::CustomerImport(settings)) = first.part else {
        return Err(CustomersError::invalid(
            "customer_import",
            "the first message must carry customer_import (the file follows in csv_chunk messages)",
        )
        .into());
    };
    check_request_id(&first.request_id)?;
    let encoding = FileEncoding::parse(&settings.encoding).ok_or_else(|| {
        CustomersError::invalid(
            "customer_import.encoding",
            "customer_import.encoding must be UTF-8 or GB18030",
        )
    })?;
    if settings.display_name.chars().count() > 200 {
        return Err(CustomersError::invalid(
            "customer_import.display_name",
            "customer_import.display_name is longer than 200 characters",
        )
        .into());
    }
    if !settings.source_uri.is_empty() {
        // Fetching arbitrary URLs from inside the cluster is a server-side
        // request forgery risk this deployment does not take.
        return Err(CustomersError::invalid(
            "customer_import.source_uri",
            "customer_import.source_uri is not supported by this server: stream the file in csv_chunk messages",
        )
        .into());
    }
    let now = shared.now();
    let id = Uuid::now_v7();
    let txn = shared.begin(tenant).await?;
    lock_tenant_imports(&txn, tenant).await?;
    let request_id = (!first.request_id.is_empty()).then_some(first.request_id.as_str());
    if let Some(request_id) = request_id
        && let Some(existing) = imports::by_request(&txn, tenant.0, request_id)
            .await
            .map_err(CustomersError::from)?
    {
        return Ok(Response::new(view(&existing)));
    }
    let active = imports::count_in_states(
        &txn,
        tenant.0,
        &[
            UPLOADING,
            CustomerImportState::Pending as i32,
            CustomerImportState::Running as i32,
        ],
    )
    .await
    .map_err(CustomersError::from)?;
    if active >= ACTIVE_LIMIT {
        return Err(CustomersError::Exhausted(format!(
            "the tenant already has {ACTIVE_LIMIT} imports pending or running; wait for one to end or cancel it"
        ))
        .into());
    }
    let actor = ownership::actor_of(&txn, tenant, &context).await?;
    let import = CustomerImport {
        name: import_name(id),
        display_name: settings.display_name.trim().to_owned(),
        encoding: encoding.name().to_owned(),
        validate_only: settings.validate_only,
        state: CustomerImportState::Pending as i32,
        actor: Some(actor),
        create_time: Some(to_timestamp(now)),
        ..CustomerImport::default()
    };
    match imports::insert(&txn, tenant.0, id, request_id, &import, now).await {
        Ok(()) => shared.commit(txn).await?,
        Err(error) if is_unique_violation(&error) => {
            // The same request id, an instant earlier.
            drop(txn);
            let txn = shared.begin_read(tenant).await?;
            let existing = imports::by_request(&txn, tenant.0, request_id.unwrap_or_default())
                .await
                .map_err(CustomersError::from)?
                .ok_or_else(|| CustomersError::Internal("import request id vanished".into()))?;
            return Ok(Response::new(view(&existing)));
        }
        Err(error) => return Err(CustomersError::from(error).into()),
    }
    match receive(shared, tenant, id, &mut stream, encoding).await {
        Ok(file) => {
            let stored = finish_upload(shared, tenant, id, file).await?;
            tokio::spawn(run_import(shared.clone(), tenant, id));
            Ok(Response::new(view(&stored)))
        }
        Err(error) => {
            if let Err(cleanup) = delete_upload(shared, tenant, id).await {
                tracing::warn!(import = %id, error = %cleanup, "deleting a failed upload failed; the sweep retries");
            }
            Err(error)
        }
    }
}

/// What an upload received.
struct ReceivedFile {
    size: i64,
    sha256: String,
    rows: i64,
}

/// Receives and stores the file's chunks.
async fn receive(
    shared: &Shared,
    tenant: TenantId,
    id: Uuid,
    stream: &mut Streaming<CreateCustomerImportRequest>,
    encoding: FileEncoding,
) -> Result<ReceivedFile, Status> {
    let mut scanner = UploadScanner::new(encoding);
    let mut hasher = Sha256::new();
    let mut size = 0_i64;
    let mut seq = 0_i32;
    let mut pending: Vec<u8> = Vec::new();
    while let Some(message) = stream.message().await? {
        if !message.request_id.is_empty() {
            return Err(CustomersError::invalid(
                "request_id",
                "request_id belongs in the first message only",
            )
            .into());
        }
        match message.part {
            Some(Part::CsvChunk(bytes)) => {
                if bytes.len() > MAX_CHUNK_BYTES {
                    return Err(file_invalid(
                        "csv_chunk",
                        "csv_chunk holds more than 1 MiB; split the file into smaller messages",
                    )
                    .into());
                }
                scanner
                    .feed(&bytes)
                    .map_err(|message| file_invalid("csv_chunk", message))?;
                hasher.update(&bytes);
                size += i64::try_from(bytes.len()).unwrap_or(i64::MAX);
                pending.extend_from_slice(&bytes);
                // Small messages are gathered into chunks of about 1 MiB.
                if pending.len() >= MAX_CHUNK_BYTES {
                    store_chunk(shared, tenant, id, seq, std::mem::take(&mut pending)).await?;
                    seq += 1;
                }
            }
            Some(Part::CustomerImport(_)) => {
                return Err(CustomersError::invalid(
                    "customer_import",
                    "customer_import belongs in the first message only",
                )
                .into());
            }
            None => {}
        }
    }
    if !pending.is_empty() {
        store_chunk(shared, tenant, id, seq, pending).await?;
    }
    let rows = scanner
        .finish()
        .map_err(|message| file_invalid("csv_chunk", message))?;
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(ReceivedFile { size, sha256, rows })
}

async fn store_chunk(
    shared: &Shared,
    tenant: TenantId,
    id: Uuid,
    seq: i32,
    data: Vec<u8>,
) -> Result<()> {
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    imports::insert_chunk(&txn, tenant.0, id, seq, data).await?;
    // The heartbeat of the upload: the sweep deletes silent ones.
    if let Some(stored) = imports::get(&txn, tenant.0, id, false).await? {
        imports::save(&txn, &stored, now).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Makes a received upload PENDING.
async fn finish_upload(
    shared: &Shared,
    tenant: TenantId,
    id: Uuid,
    file: ReceivedFile,
) -> Result<StoredImport> {
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let mut stored = imports::get(&txn, tenant.0, id, true)
        .await?
        .ok_or_else(|| CustomersError::Internal(format!("upload {id} vanished")))?;
    stored.state = CustomerImportState::Pending as i32;
    stored.import.state = CustomerImportState::Pending as i32;
    stored.import.size_bytes = file.size;
    stored.import.sha256 = file.sha256;
    stored.rows_total = file.rows;
    imports::save(&txn, &stored, now).await?;
    shared.commit(txn).await?;
    Ok(stored)
}

async fn delete_upload(shared: &Shared, tenant: TenantId, id: Uuid) -> Result<()> {
    let txn = shared.begin(tenant).await?;
    imports::delete(&txn, tenant.0, id).await?;
    txn.commit().await?;
    Ok(())
}

/// GetCustomerImport.
pub(super) async fn get_customer_import(
    shared: &Shared,
    request: Request<GetCustomerImportRequest>,
) -> Result<Response<CustomerImport>, Status> {
    let (_, tenant) = caller(&request)?;
    let txn = shared.begin_read(tenant).await?;
    let stored = load(&txn, tenant, &request.get_ref().name, false).await?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(view(&stored)))
}

/// ListCustomerImports.
pub(super) async fn list_customer_imports(
    shared: &Shared,
    request: Request<ListCustomerImportsRequest>,
) -> Result<Response<ListCustomerImportsResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let filter = import_filter::parse(&request.filter)
        .map_err(|message| CustomersError::invalid("filter", message))?;
    let after = if request.page_token.is_empty() {
        None
    } else {
        Some(
            ImportCursor::from_token(&request.page_token).ok_or_else(|| {
                CustomersError::invalid("page_token", "page_token is not a token of this list")
            })?,
        )
    };
    let txn = shared.begin_read(tenant).await?;
    let (page, next) = imports::list(&txn, tenant.0, &filter, after.as_ref(), limit)
        .await
        .map_err(CustomersError::from)?;
    let total = imports::count(&txn, tenant.0, &filter)
        .await
        .map_err(CustomersError::from)?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(ListCustomerImportsResponse {
        customer_imports: page.iter().map(view).collect(),
        next_page_token: next.map(|cursor| cursor.token()).unwrap_or_default(),
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    }))
}

/// CancelCustomerImport.
pub(super) async fn cancel_customer_import(
    shared: &Shared,
    request: Request<CancelCustomerImportRequest>,
) -> Result<Response<CustomerImport>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = request.into_inner().name;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let mut stored = load(&txn, tenant, &name, true).await?;
    let state = CustomerImportState::try_from(stored.state).unwrap_or_default();
    if !matches!(
        state,
        CustomerImportState::Pending | CustomerImportState::Running
    ) {
        return Err(CustomersError::FailedPrecondition(
            format!(
                "{name} has ended ({}); only a PENDING or RUNNING import can be cancelled",
                state
                    .as_str_name()
                    .trim_start_matches("CUSTOMER_IMPORT_STATE_")
            ),
            "ILLEGAL_TRANSITION",
        )
        .into());
    }
    end(
        &txn,
        tenant,
        &mut stored,
        CustomerImportState::Cancelled,
        "",
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(view(&stored)))
}

/// ListCustomerImportErrors.
pub(super) async fn list_customer_import_errors(
    shared: &Shared,
    request: Request<ListCustomerImportErrorsRequest>,
) -> Result<Response<ListCustomerImportErrorsResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let after = if request.page_token.is_empty() {
        None
    } else {
        Some(ErrorCursor::from_token(&request.page_token).ok_or_else(|| {
            CustomersError::invalid("page_token", "page_token is not a token of this list")
        })?)
    };
    let txn = shared.begin_read(tenant).await?;
    let stored = load(&txn, tenant, &request.parent, false).await?;
    let (page, next) = imports::list_errors(&txn, tenant.0, stored.id, after.as_ref(), limit)
        .await
        .map_err(CustomersError::from)?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(ListCustomerImportErrorsResponse {
        errors: page
            .into_iter()
            .map(|error| CustomerImportError {
                line: error.line,
                field: error.field,
                message: error.message,
                reason: error.reason,
            })
            .collect(),
        next_page_token: next.map(|cursor| cursor.token()).unwrap_or_default(),
        total_size: i32::try_from(stored.errors_kept).unwrap_or(i32::MAX),
    }))
}

/// Ends `stored` in `state` (with `error` for FAILED) in `txn`: the end
/// time, the file deleted, CustomerImportCompleted appended.
async fn end(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    stored: &mut StoredImport,
    state: CustomerImportState,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    stored.state = state as i32;
    stored.import.state = state as i32;
    stored.import.error = error.to_owned();
    stored.import.end_time = Some(to_timestamp(now));
    imports::save(txn, stored, now).await?;
    imports::delete_chunks(txn, tenant.0, stored.id).await?;
    let import = &stored.import;
    let event = CustomerImportCompleted {
        customer_import: import.name.clone(),
        state: state as i32,
        rows_processed: import.rows_processed,
        created: import.created,
        updated: import.updated,
        unchanged: import.unchanged,
        failed: import.failed,
        actor: import.actor.clone(),
    };
    super::append_event(txn, tenant, &import.name, &event, now).await
}

// ---- The worker ----

/// Imports a worker of this process is on.
static RUNNING: LazyLock<Mutex<HashSet<Uuid>>> = LazyLock::new(Default::default);

/// This process's claim on an import, released when dropped.
struct Claim(Uuid);

impl Claim {
    fn take(id: Uuid) -> Option<Self> {
        let mut running = RUNNING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        running.insert(id).then_some(Self(id))
    }

    fn held(id: Uuid) -> bool {
        RUNNING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(&id)
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&self.0);
    }
}

/// Starts the sweep: at once (resuming what a previous run left), then
/// every [`SWEEP_INTERVAL`], for as long as the runtime.
pub(super) fn spawn_worker(shared: Shared) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut starting = true;
        loop {
            if let Err(error) = sweep(&shared, starting).await {
                tracing::warn!(error = %error, "customer import sweep failed");
            }
            starting = false;
            tokio::time::sleep(SWEEP_INTERVAL).await;
        }
    });
}

/// One pass: resumes unfinished imports nobody works on, deletes abandoned
/// uploads.
async fn sweep(shared: &Shared, starting: bool) -> Result<()> {
    let txn = begin_read_platform(&shared.db).await?;
    let unfinished = imports::in_states(
        &txn,
        &[
            UPLOADING,
            CustomerImportState::Pending as i32,
            CustomerImportState::Running as i32,
        ],
    )
    .await?;
    txn.commit().await?;
    let now = shared.now();
    for stored in unfinished {
        if Claim::held(stored.id) {
            continue;
        }
        let tenant = TenantId(stored.tenant);
        let silent = now - stored.update_time;
        if stored.state == UPLOADING {
            if silent > UPLOAD_ABANDONED_AFTER {
                delete_upload(shared, tenant, stored.id).await?;
            }
        } else if starting || silent > STALE_AFTER {
            tokio::spawn(run_import(shared.clone(), tenant, stored.id));
        }
    }
    Ok(())
}

/// Processes import `id` to its end, unless another worker has it.
async fn run_import(shared: Shared, tenant: TenantId, id: Uuid) {
    let Some(_claim) = Claim::take(id) else {
        return;
    };
    if let Err(error) = process(&shared, tenant, id).await {
        // Left RUNNING at its last committed batch: the sweep resumes it.
        tracing::error!(import = %id, error = %error, "customer import interrupted");
    }
}

/// What the parser thread hands the worker.
enum Parsed {
    /// The file cannot be imported at all (`IMPORT_FILE_INVALID`).
    Invalid(String),
    /// The next data rows, each read or refused.
    Batch(Vec<Result<Candidate, RowError>>),
    /// Every row was handed over.
    End,
}

/// What stays the same for every batch of one run.
struct Run {
    tenant: TenantId,
    id: Uuid,
    name: String,
    validate_only: bool,
    attribution: Attribution,
    /// Customers matched by earlier rows of this run, and the line.
    touched: HashMap<String, i64>,
    /// Tier ids looked up, and whether they exist.
    tiers: HashMap<String, bool>,
    /// Owner cells looked up: `users/{user}`, or why not.
    owners: HashMap<String, std::result::Result<String, String>>,
}

async fn process(shared: &Shared, tenant: TenantId, id: Uuid) -> Result<()> {
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let Some(mut stored) = imports::get(&txn, tenant.0, id, true).await? else {
        return Ok(());
    };
    let state = CustomerImportState::try_from(stored.state).unwrap_or_default();
    if !matches!(
        state,
        CustomerImportState::Pending | CustomerImportState::Running
    ) {
        return Ok(());
    }
    stored.attempts += 1;
    if stored.attempts > MAX_ATTEMPTS {
        let message = format!(
            "processing stopped after {MAX_ATTEMPTS} attempts failed at data row {}; the rows before it were imported",
            stored.rows_committed + 1
        );
        end(
            &txn,
            tenant,
            &mut stored,
            CustomerImportState::Failed,
            &message,
            now,
        )
        .await?;
        shared.commit(txn).await?;
        return Ok(());
    }
    if state == CustomerImportState::Pending {
        stored.state = CustomerImportState::Running as i32;
        stored.import.state = CustomerImportState::Running as i32;
        stored.import.start_time = Some(to_timestamp(now));
    }
    imports::save(&txn, &stored, now).await?;
    let definitions = classify::definitions(&txn, tenant).await?;
    shared.commit(txn).await?;

    let encoding = FileEncoding::parse(&stored.import.encoding).unwrap_or(FileEncoding::Utf8);
    let (chunk_sender, chunk_receiver) = mpsc::channel::<Vec<u8>>(4);
    let (batch_sender, mut batches) = mpsc::channel::<Parsed>(2);
    let feeder = tokio::spawn(feed_chunks(shared.clone(), tenant, id, chunk_sender));
    let types = attributes::types(&definitions);
    let skip = stored.rows_committed;
    let parser = tokio::task::spawn_blocking(move || {
        parse_file(
            ChannelReader::new(chunk_receiver),
            encoding,
            &types,
            skip,
            &batch_sender,
        );
    });
    let mut run = Run {
        tenant,
        id,
        name: import_name(id),
        validate_only: stored.import.validate_only,
        attribution: Attribution {
            kind: OwnershipChangeKind::Import,
            reason: format!("CSV import {}", import_name(id)),
            actor: stored.import.actor.clone().unwrap_or_default(),
        },
        touched: HashMap::new(),
        tiers: HashMap::new(),
        owners: HashMap::new(),
    };
    let mut position = stored.rows_committed;
    let mut ended = false;
    while let Some(parsed) = batches.recv().await {
        match parsed {
            Parsed::Invalid(message) => {
                finish(
                    shared,
                    &run,
                    position,
                    CustomerImportState::Failed,
                    &format!("IMPORT_FILE_INVALID: {message}"),
                )
                .await?;
                ended = true;
                break;
            }
            Parsed::Batch(rows) => match write_batch(shared, &mut run, position, rows).await? {
                Some(next) => position = next,
                // Cancelled, or another worker moved on: stop quietly.
                None => {
                    ended = true;
                    break;
                }
            },
            Parsed::End => {
                finish(shared, &run, position, CustomerImportState::Succeeded, "").await?;
                ended = true;
                break;
            }
        }
    }
    drop(batches);
    feeder.abort();
    let _ = parser.await;
    if ended {
        Ok(())
    } else {
        Err(CustomersError::Internal(
            "the import file could not be read back to its end".into(),
        ))
    }
}

/// Ends the run's import in `state`, if it is still RUNNING at `position`.
async fn finish(
    shared: &Shared,
    run: &Run,
    position: i64,
    state: CustomerImportState,
    error: &str,
) -> Result<()> {
    let now = shared.now();
    let txn = shared.begin(run.tenant).await?;
    let Some(mut stored) = imports::get(&txn, run.tenant.0, run.id, true).await? else {
        return Ok(());
    };
    if stored.state != CustomerImportState::Running as i32 || stored.rows_committed != position {
        return Ok(());
    }
    if state == CustomerImportState::Succeeded && stored.rows_total != position {
        tracing::warn!(import = %run.id, counted = stored.rows_total, processed = position, "import rows counted on upload and processed differ");
    }
    end(&txn, run.tenant, &mut stored, state, error, now).await?;
    Ok(shared.commit(txn).await?)
}

/// Sends the stored chunks of import `id` in order.
async fn feed_chunks(shared: Shared, tenant: TenantId, id: Uuid, sender: mpsc::Sender<Vec<u8>>) {
    let mut next = 0;
    loop {
        let read = async {
            let txn = shared.begin_read(tenant).await?;
            let chunks = imports::chunks(&txn, tenant.0, id, next, CHUNKS_PER_READ).await?;
            txn.commit().await?;
            Ok::<_, CustomersError>(chunks)
        };
        let chunks = match read.await {
            Ok(chunks) => chunks,
            Err(error) => {
                tracing::warn!(import = %id, error = %error, "reading an import file failed");
                return;
            }
        };
        if chunks.is_empty() {
            // Dropping the sender ends the file.
            return;
        }
        for (seq, data) in chunks {
            next = seq + 1;
            if sender.send(data).await.is_err() {
                return;
            }
        }
    }
}

/// Reads the chunks a channel delivers as one byte stream (on a blocking
/// thread).
struct ChannelReader {
    receiver: mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    fn new(receiver: mpsc::Receiver<Vec<u8>>) -> Self {
        Self {
            receiver,
            current: Vec::new(),
            at: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.current.len() {
            match self.receiver.blocking_recv() {
                Some(chunk) => {
                    self.current = chunk;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let count = (self.current.len() - self.at).min(buffer.len());
        buffer[..count].copy_from_slice(&self.current[self.at..self.at + count]);
        self.at += count;
        Ok(count)
    }
}

/// Parses the file on a blocking thread: the header, then every data row
/// (those before `skip` only to remember their keys), sent in batches.
fn parse_file(
    source: impl Read,
    encoding: FileEncoding,
    types: &AttributeTypes,
    skip: i64,
    sender: &mpsc::Sender<Parsed>,
) {
    let mut reader = csv_row::csv_reader(Decoded::new(source, encoding));
    let mut record = csv::ByteRecord::new();
    let read =
        |reader: &mut csv::Reader<_>, record: &mut csv::ByteRecord| reader.read_byte_record(record);
    let header = match read(&mut reader, &mut record) {
        Ok(true) => csv_row::record_fields(1, &record)
            .map_err(|_| "the header row is not readable text".to_owned())
            .and_then(|fields| csv_row::header(&fields)),
        Ok(false) => {
            Err("the file is empty: it needs a header row with a display_name column".into())
        }
        Err(error) => {
            tracing::warn!(error = %error, "reading an import file failed");
            return;
        }
    };
    let header = match header {
        Ok(header) => header,
        Err(message) => {
            let _ = sender.blocking_send(Parsed::Invalid(message));
            return;
        }
    };
    let mut seen = SeenKeys::default();
    let mut index = 0_i64;
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    loop {
        match read(&mut reader, &mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => {
                // The chunks stopped coming (cancelled, or the database
                // failed): the worker notices the missing end.
                tracing::warn!(error = %error, "reading an import file failed");
                return;
            }
        }
        let line = csv_row::record_line(&record, reader.position().line());
        let row = csv_row::record_fields(line, &record)
            .and_then(|fields| csv_row::candidate(&header, line, &fields, types, REGION))
            .and_then(
                |candidate| match seen.check_and_insert(line, &candidate.keys) {
                    Some((earlier, column)) => Err(csv_row::duplicate(line, earlier, column)),
                    None => Ok(candidate),
                },
            );
        index += 1;
        if index <= skip {
            continue;
        }
        batch.push(row);
        if batch.len() == BATCH_ROWS
            && sender
                .blocking_send(Parsed::Batch(std::mem::replace(
                    &mut batch,
                    Vec::with_capacity(BATCH_ROWS),
                )))
                .is_err()
        {
            return;
        }
    }
    if !batch.is_empty() && sender.blocking_send(Parsed::Batch(batch)).is_err() {
        return;
    }
    let _ = sender.blocking_send(Parsed::End);
}

/// Writes one batch in one transaction, if the import is still RUNNING at
/// `position`: the rows' customers, errors and the counts. The new
/// position, or `None` to stop.
async fn write_batch(
    shared: &Shared,
    run: &mut Run,
    position: i64,
    rows: Vec<Result<Candidate, RowError>>,
) -> Result<Option<i64>> {
    let now = shared.now();
    let txn = shared.begin(run.tenant).await?;
    let Some(mut stored) = imports::get(&txn, run.tenant.0, run.id, true).await? else {
        return Ok(None);
    };
    if stored.state != CustomerImportState::Running as i32 || stored.rows_committed != position {
        return Ok(None);
    }
    let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let outcome = apply_rows(&txn, run, rows, now).await?;
    let mut errors = outcome.errors;
    errors.sort_by_key(|error| error.line);
    let room = usize::try_from((MAX_KEPT_ERRORS - stored.errors_kept).max(0)).unwrap_or(0);
    let kept = &errors[..errors.len().min(room)];
    imports::insert_errors(&txn, run.tenant.0, run.id, kept).await?;
    stored.errors_kept += i64::try_from(kept.len()).unwrap_or(0);
    stored.rows_committed += count;
    let import = &mut stored.import;
    import.rows_processed = stored.rows_committed;
    import.created += outcome.created;
    import.updated += outcome.updated;
    import.unchanged += outcome.unchanged;
    import.failed += i64::try_from(errors.len()).unwrap_or(0);
    imports::save(&txn, &stored, now).await?;
    shared.commit(txn).await?;
    Ok(Some(stored.rows_committed))
}

/// What a batch did.
#[derive(Default)]
struct Outcome {
    created: i64,
    updated: i64,
    unchanged: i64,
    errors: Vec<RowError>,
}

/// A row that creates a customer.
struct Create {
    id: String,
    customer: Customer,
    owner: Option<String>,
}

/// A row that changes a stored customer.
struct Update {
    line: i64,
    stored: Stored,
    changed: Option<(Customer, Vec<String>)>,
    owner: Option<String>,
}

/// Matches, checks and (unless validate-only) writes `rows` in `txn`.
async fn apply_rows(
    txn: &DatabaseTransaction,
    run: &mut Run,
    rows: Vec<Result<Candidate, RowError>>,
    now: DateTime<Utc>,
) -> Result<Outcome> {
    let tenant = run.tenant;
    let mut outcome = Outcome::default();
    let mut candidates = Vec::with_capacity(rows.len());
    for row in rows {
        match row {
            Ok(candidate) => candidates.push(candidate),
            Err(error) => outcome.errors.push(error),
        }
    }
    let mut external_ids = BTreeSet::new();
    let mut identifiers = BTreeSet::new();
    let mut phones = BTreeSet::new();
    let mut emails = BTreeSet::new();
    for candidate in &candidates {
        let keys = &candidate.keys;
        external_ids.extend(keys.external_id.clone());
        identifiers.extend(keys.identifiers.iter().map(|(key, _)| key.clone()));
        phones.extend(keys.phone.clone());
        emails.extend(keys.email.clone());
    }
    let holders =
        bulk::holders(txn, tenant.0, &external_ids, &identifiers, &phones, &emails).await?;
    let mut ids: Vec<String> = holders
        .external_ids
        .values()
        .chain(holders.identifiers.values())
        .chain(holders.phones.values().flatten())
        .chain(holders.emails.values().flatten())
        .cloned()
        .collect();
    ids.sort();
    ids.dedup();
    let stored: HashMap<String, Stored> = customers::get_many(txn, tenant.0, &ids)
        .await?
        .into_iter()
        .filter_map(|stored| {
            customers::id_of(&stored.customer.name)
                .map(str::to_owned)
                .map(|id| (id, stored))
        })
        .collect();
    let definitions = classify::definitions(txn, tenant).await?;
    let today = now.date_naive();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    for candidate in candidates {
        let line = candidate.line;
        let target = match find_target(&candidate, &holders, &stored) {
            Ok(target) => target,
            Err(error) => {
                outcome.errors.push(error);
                continue;
            }
        };
        let Some((id, column)) = target else {
            match prepare_create(txn, run, candidate, &holders, &definitions, now).await? {
                Ok(create) => creates.push(create),
                Err(error) => outcome.errors.push(error),
            }
            continue;
        };
        if let Some(earlier) = run.touched.get(id) {
            outcome
                .errors
                .push(csv_row::duplicate(line, *earlier, column));
            continue;
        }
        match prepare_update(txn, run, &candidate, &stored[id], &holders, &definitions).await? {
            Ok(update) => {
                run.touched.insert(id.to_owned(), line);
                updates.push(update);
            }
            Err(error) => outcome.errors.push(error),
        }
    }
    outcome.created = i64::try_from(creates.len()).unwrap_or(0);
    for update in &updates {
        if update.changed.is_some() || update.owner.is_some() {
            outcome.updated += 1;
        } else {
            outcome.unchanged += 1;
        }
    }
    if run.validate_only {
        return Ok(outcome);
    }
    if !creates.is_empty() {
        // The tier, attribute validity and segments `classify::after_write`
        // would derive one customer at a time, from the tenant's rules read
        // once for the batch; a new customer has no memberships to compare
        // with, and its CustomerCreated carries its tier and segments.
        let classifier = Classifier::load(txn, tenant).await?;
        for create in &mut creates {
            classifier.derive(&mut create.customer, today);
        }
    }
    insert_created(txn, run, &creates, now).await?;
    for update in updates {
        let Some(error) = write_update(txn, run, update, now).await? else {
            continue;
        };
        outcome.updated -= 1;
        outcome.errors.push(error);
    }
    Ok(outcome)
}

/// The stored customer `candidate` updates (and the column it was matched
/// by), if any: by external id, else an identifier, else the primary
/// phone, else the first e-mail. A customer with another external id than
/// the row's is a different customer, whatever else they share.
fn find_target<'a>(
    candidate: &Candidate,
    holders: &'a bulk::Holders,
    stored: &'a HashMap<String, Stored>,
) -> std::result::Result<Option<(&'a str, &'static str)>, RowError> {
    let keys = &candidate.keys;
    let eligible = |id: &str| {
        stored.get(id).is_some_and(|found| {
            keys.external_id.is_none()
                || found.customer.external_id.is_empty()
                || keys.external_id.as_deref() == Some(found.customer.external_id.as_str())
        })
    };
    let mut found: Option<(&'a str, &'static str)> = None;
    if let Some(external_id) = &keys.external_id
        && let Some(id) = holders.external_ids.get(external_id)
        && stored.contains_key(id)
    {
        found = Some((id.as_str(), "external_id"));
    }
    if found.is_none() {
        found = keys.identifiers.iter().find_map(|(key, column)| {
            holders
                .identifiers
                .get(key)
                .filter(|id| eligible(id))
                .map(|id| (id.as_str(), *column))
        });
    }
    for (key, column, table) in [
        (&keys.phone, "phones", &holders.phones),
        (&keys.email, "emails", &holders.emails),
    ] {
        if found.is_some() {
            break;
        }
        found = key
            .as_ref()
            .and_then(|key| table.get(key))
            .and_then(|ids| ids.iter().find(|id| eligible(id)))
            .map(|id| (id.as_str(), column));
    }
    match found {
        Some((id, column)) if !customers::is_active(&stored[id].customer) => Err(RowError::new(
            candidate.line,
            column,
            "CUSTOMER_NOT_ACTIVE",
            format!(
                "{column} matches {}, which is merged or erased; only ACTIVE customers are updated",
                customer_name(id)
            ),
        )),
        other => Ok(other),
    }
}

/// Checks a row that creates a customer: the customer, ready to store
/// (derived fields still to come), or the row's error.
async fn prepare_create(
    txn: &DatabaseTransaction,
    run: &mut Run,
    candidate: Candidate,
    holders: &bulk::Holders,
    definitions: &[kefu_proto::v1::CustomerAttributeDefinition],
    now: DateTime<Utc>,
) -> Result<std::result::Result<Create, RowError>> {
    let line = candidate.line;
    if !candidate.named {
        return Ok(Err(RowError::new(
            line,
            "display_name",
            csv_row::INVALID_ARGUMENT,
            "display_name is required: no customer matches the row, so it would create one",
        )));
    }
    if let Some(error) = taken_identifier(&candidate, holders, None) {
        return Ok(Err(error));
    }
    if let Some(error) = check_tier(txn, run, &candidate).await? {
        return Ok(Err(error));
    }
    let mut customer = candidate.customer;
    if let Some(problem) = attributes::check_values(definitions, customer.attributes.as_ref(), true)
    {
        return Ok(Err(attribute_error(line, &problem)));
    }
    let owner = match owner_of(txn, run, line, &candidate.input, "").await? {
        Ok(owner) => owner,
        Err(error) => return Ok(Err(error)),
    };
    let id = Uuid::now_v7().to_string();
    if customer.customer_since.is_none() {
        customer.customer_since = Some(date_of(now));
    }
    customer.attributes_valid = true;
    customer.name = customer_name(&id);
    customer.state = CustomerState::Active as i32;
    customer.create_time = Some(to_timestamp(now));
    customer.update_time = Some(to_timestamp(now));
    Ok(Ok(Create {
        id,
        customer,
        owner,
    }))
}

/// Checks a row matched to `target`: what it changes, or the row's error.
async fn prepare_update(
    txn: &DatabaseTransaction,
    run: &mut Run,
    candidate: &Candidate,
    target: &Stored,
    holders: &bulk::Holders,
    definitions: &[kefu_proto::v1::CustomerAttributeDefinition],
) -> Result<std::result::Result<Update, RowError>> {
    let line = candidate.line;
    let mut changed = csv_row::overlay(&target.customer, &candidate.input);
    if let Err(error) = normalise(&mut changed, REGION, "customer") {
        let columns = csv_row::identifier_columns(&changed, &candidate.input);
        return Ok(Err(csv_row::row_error(line, &error, &columns)));
    }
    if let Some(error) = check_tier(txn, run, candidate).await? {
        return Ok(Err(error));
    }
    let owner = match owner_of(txn, run, line, &candidate.input, &target.customer.owner).await? {
        Ok(owner) => owner,
        Err(error) => return Ok(Err(error)),
    };
    let id = customers::id_of(&target.customer.name).unwrap_or_default();
    if changed == target.customer {
        return Ok(Ok(Update {
            line,
            stored: target.clone(),
            changed: None,
            owner,
        }));
    }
    if let Some(error) = taken_identifier(candidate, holders, Some(id)) {
        return Ok(Err(error));
    }
    if let Some(external_id) = &candidate.keys.external_id
        && let Some(holder) = holders.external_ids.get(external_id)
        && holder != id
    {
        return Ok(Err(RowError::new(
            line,
            "external_id",
            "EXTERNAL_ID_TAKEN",
            format!(
                "external_id is already the external id of {}",
                customer_name(holder)
            ),
        )));
    }
    if changed.attributes != target.customer.attributes
        && let Some(problem) =
            attributes::check_values(definitions, changed.attributes.as_ref(), true)
    {
        return Ok(Err(attribute_error(line, &problem)));
    }
    let paths = csv_row::changed_paths(&target.customer, &changed);
    Ok(Ok(Update {
        line,
        stored: target.clone(),
        changed: Some((changed, paths)),
        owner,
    }))
}

/// IDENTIFIER_TAKEN when an identifier of the row belongs to a customer
/// other than `own`.
fn taken_identifier(
    candidate: &Candidate,
    holders: &bulk::Holders,
    own: Option<&str>,
) -> Option<RowError> {
    candidate.keys.identifiers.iter().find_map(|(key, column)| {
        let holder = holders.identifiers.get(key)?;
        (Some(holder.as_str()) != own).then(|| {
            RowError::new(
                candidate.line,
                *column,
                "IDENTIFIER_TAKEN",
                format!(
                    "{column} is already the identifier of {}",
                    customer_name(holder)
                ),
            )
        })
    })
}

/// A custom attribute refused by the schema, without the cell's value.
fn attribute_error(line: i64, problem: &attributes::AttributeProblem) -> RowError {
    let column = format!("{}{}", csv_row::ATTRIBUTE_PREFIX, problem.key);
    // Some problems quote the value; a row error never does.
    let message = if problem.message.contains('"') {
        format!("{column} is not a value the attribute allows (its type or options)")
    } else {
        format!("{column} {}", problem.message)
    };
    RowError::new(line, column, "ATTRIBUTE_INVALID", message)
}

/// UNKNOWN_TIER when the row names a tier the tenant does not have.
async fn check_tier(
    txn: &DatabaseTransaction,
    run: &mut Run,
    candidate: &Candidate,
) -> Result<Option<RowError>> {
    let Some(tier) = &candidate.input.tier else {
        return Ok(None);
    };
    let exists = match run.tiers.get(tier) {
        Some(exists) => *exists,
        None => {
            let exists = classify::tier_exists(txn, run.tenant, tier).await?;
            run.tiers.insert(tier.clone(), exists);
            exists
        }
    };
    Ok((!exists).then(|| {
        RowError::new(
            candidate.line,
            "tier",
            "UNKNOWN_TIER",
            "tier names no tier of the tenant",
        )
    }))
}

/// The owner the row gives (`users/{user}`) when it differs from
/// `current`; the row's error when it names no active agent.
async fn owner_of(
    txn: &DatabaseTransaction,
    run: &mut Run,
    line: i64,
    input: &csv_row::RowInput,
    current: &str,
) -> Result<std::result::Result<Option<String>, RowError>> {
    let Some(cell) = &input.owner else {
        return Ok(Ok(None));
    };
    if cell == current {
        return Ok(Ok(None));
    }
    let resolved = match run.owners.get(cell) {
        Some(resolved) => resolved.clone(),
        None => {
            let user = if cell.starts_with("users/") {
                agents::get(txn, run.tenant.0, cell).await?
            } else {
                agents::by_email(txn, run.tenant.0, cell).await?
            };
            let resolved = match user {
                Some(user) if is_active_agent(&user) => Ok(user.name),
                Some(_) => Err("owner is not an active user with ROLE_AGENT".to_owned()),
                None => {
                    Err("owner names no user of the tenant (an e-mail or users/{user})".to_owned())
                }
            };
            run.owners.insert(cell.clone(), resolved.clone());
            resolved
        }
    };
    Ok(match resolved {
        Ok(name) if name == current => Ok(None),
        Ok(name) => Ok(Some(name)),
        Err(message) => Err(RowError::new(line, "owner", "OWNER_NOT_AGENT", message)),
    })
}

/// Stores the new customers of a batch with multi-row INSERTs: records,
/// look-up rows, segment memberships, and one CustomerCreated each; then
/// gives those with an owner column theirs.
async fn insert_created(
    txn: &DatabaseTransaction,
    run: &Run,
    creates: &[Create],
    now: DateTime<Utc>,
) -> Result<()> {
    if creates.is_empty() {
        return Ok(());
    }
    let tenant = run.tenant;
    let records: Vec<(String, Customer)> = creates
        .iter()
        .map(|create| (create.id.clone(), create.customer.clone()))
        .collect();
    bulk::insert_customers(txn, tenant.0, &records, now).await?;
    let keys: Vec<_> = creates
        .iter()
        .map(|create| (create.id.clone(), lookup_keys(&create.customer)))
        .collect();
    bulk::insert_lookups(txn, tenant.0, &keys).await?;
    let memberships: Vec<(String, String)> = creates
        .iter()
        .flat_map(|create| {
            create.customer.segments.iter().map(|segment| {
                (
                    segment
                        .strip_prefix("segments/")
                        .unwrap_or(segment)
                        .to_owned(),
                    create.id.clone(),
                )
            })
        })
        .collect();
    bulk::insert_memberships(txn, tenant.0, &memberships).await?;
    let events: Vec<_> = creates
        .iter()
        .map(|create| {
            let customer = &create.customer;
            let event = CustomerCreated {
                customer: customer.name.clone(),
                member: customer.member,
                tier: customer.tier.clone(),
                owner: String::new(),
                source_channel: customer.source_channel,
                contact_preferences: customer.contact_preferences.clone(),
                risk_profile: customer.risk_profile,
                segments: customer.segments.clone(),
                customer_import: run.name.clone(),
                customer_since: customer.customer_since,
                contact: Some(records::contact_of(customer)),
            };
            new_event(NAME, Some(tenant), &customer.name, &event, now)
        })
        .collect();
    outbox::append_many(txn, &events).await?;
    // Each new customer's timeline entry is written here, in the batch's
    // transaction, rather than by the timeline consumer from the event (which
    // skips imported CustomerCreated events): one multi-row INSERT instead of
    // a transaction per customer, and the entry exists as soon as the
    // customer does. The entry is the one the consumer would write.
    let entries = creates
        .iter()
        .map(|create| {
            let customer = &create.customer;
            let entry = Entry {
                kind: CustomerActivityKind::CustomerCreated,
                happening: Happening::Created { imported: true },
                source: run.name.clone(),
                channel: customer.source_channel,
                actor: None,
                occur_time: now,
            };
            (create.id.clone(), entry)
        })
        .collect();
    activities::record_many(txn, tenant, entries, OWN, now).await?;
    let mut days = None;
    for create in creates {
        let Some(owner) = &create.owner else {
            continue;
        };
        let days = match days {
            Some(days) => days,
            None => *days.insert(agents::profile(txn, tenant.0).await?.first_contact_days),
        };
        let stored = Stored {
            customer: create.customer.clone(),
            revision: 1,
        };
        ownership::change_owner(txn, tenant, &stored, owner, &run.attribution, days, now).await?;
    }
    Ok(())
}

/// Writes one matched row (through the records path, one customer at a
/// time: updates are the rare case of imports). A customer changed by
/// someone else meanwhile becomes the row's error.
async fn write_update(
    txn: &DatabaseTransaction,
    run: &Run,
    update: Update,
    now: DateTime<Utc>,
) -> Result<Option<RowError>> {
    let Update {
        line,
        stored,
        changed,
        owner,
    } = update;
    let mut current = stored;
    if let Some((customer, paths)) = changed {
        match records::replace_customer(
            txn,
            run.tenant,
            &current.customer,
            customer,
            current.revision,
            paths,
            now,
        )
        .await
        {
            Ok(customer) => {
                current = Stored {
                    customer,
                    revision: current.revision + 1,
                };
            }
            Err(CustomersError::StaleEtag(name)) => {
                return Ok(Some(RowError::new(
                    line,
                    "",
                    "STALE_ETAG",
                    format!("{name} was changed while the import ran; run the file again"),
                )));
            }
            Err(
                error @ (CustomersError::Invalid(..)
                | CustomersError::NotFound(..)
                | CustomersError::AlreadyExists(..)),
            ) => {
                return Ok(Some(csv_row::row_error(line, &error, &[])));
            }
            Err(error) => return Err(error),
        }
    }
    if let Some(owner) = owner {
        let days = agents::profile(txn, run.tenant.0).await?.first_contact_days;
        ownership::change_owner(
            txn,
            run.tenant,
            &current,
            &owner,
            &run.attribution,
            days,
            now,
        )
        .await?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kefu_kit::{
        clock::SystemClock, outbox::OutboxSignal, service::ServiceContext, testing::TestDatabase,
    };

    use super::*;

    /// An import a crashed worker left RUNNING after committing its first
    /// two rows is finished from the third: the first two are not written
    /// again, their keys still refuse a later duplicate, and the counts
    /// continue.
    #[tokio::test]
    async fn a_crashed_import_resumes_after_its_committed_rows() {
        let database = TestDatabase::sqlite("customers").await;
        let shared = ServiceContext {
            db: database.db.clone(),
            outbox: OutboxSignal::default(),
            clock: Arc::new(SystemClock),
        };
        let tenant = TenantId(Uuid::now_v7());
        let id = Uuid::now_v7();
        let file = "external_id,display_name,phones\n\
                    crm-1,张三,13800138001\n\
                    crm-2,李四,13800138002\n\
                    crm-3,王五,13800138003\n\
                    crm-1,张三重复,13800138009\n";
        let now = shared.now();
        let txn = shared.begin(tenant).await.expect("begin");
        let import = CustomerImport {
            name: import_name(id),
            state: CustomerImportState::Running as i32,
            rows_processed: 2,
            created: 2,
            ..CustomerImport::default()
        };
        imports::insert(&txn, tenant.0, id, None, &import, now)
            .await
            .expect("insert");
        imports::insert_chunk(&txn, tenant.0, id, 0, file.as_bytes().to_vec())
            .await
            .expect("chunk");
        let mut stored = imports::get(&txn, tenant.0, id, false)
            .await
            .expect("get")
            .expect("stored");
        stored.state = CustomerImportState::Running as i32;
        stored.rows_total = 4;
        stored.rows_committed = 2;
        imports::save(&txn, &stored, now).await.expect("save");
        txn.commit().await.expect("commit");

        run_import(shared.clone(), tenant, id).await;

        let txn = shared.begin_read(tenant).await.expect("begin");
        let ended = imports::get(&txn, tenant.0, id, false)
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(ended.import.state(), CustomerImportState::Succeeded);
        assert_eq!(
            (
                ended.import.rows_processed,
                ended.import.created,
                ended.import.failed
            ),
            (4, 3, 1)
        );
        let (errors, _) = imports::list_errors(&txn, tenant.0, id, None, 10)
            .await
            .expect("errors");
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].line, errors[0].reason.as_str()),
            (5, "DUPLICATE_ROW")
        );
        assert!(errors[0].message.contains("line 2"), "{:?}", errors[0]);
        let holders = bulk::holders(
            &txn,
            tenant.0,
            &["crm-1", "crm-2", "crm-3"].map(str::to_owned).into(),
            &BTreeSet::new(),
            &BTreeSet::new(),
            &BTreeSet::new(),
        )
        .await
        .expect("holders");
        // Only the row after the resume point was written by this run.
        assert_eq!(
            holders.external_ids.keys().collect::<Vec<_>>(),
            vec!["crm-3"]
        );
        assert!(
            imports::chunks(&txn, tenant.0, id, 0, 10)
                .await
                .expect("chunks")
                .is_empty(),
            "the file goes once the import ended"
        );
    }
}
