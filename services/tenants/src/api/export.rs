//! Tenant exports and deletion (platform operator).
//!
//! ExportTenantData answers at once with a RUNNING export and publishes
//! TenantExportRequested; the tenants service then writes its own part (its
//! records as JSON lines in a `.tar.gz`) into `tenant_exports` and marks
//! the export SUCCEEDED. The other services hold no tenant data yet, so the
//! tenants service's part is the whole archive; once they do, they answer
//! TenantExportRequested with TenantExportPartCompleted and the export
//! waits for every part. A maintenance sweep retries exports left RUNNING
//! by a process that died, and purges tenants whose grace period is over.
//!
//! DeleteTenant marks the tenant DELETING; at `purge_time` (at once for a
//! zero grace period, in the same transaction) TenantDeleted is published
//! and the tenant row is deleted, taking every tenant table with it
//! (ON DELETE CASCADE, which PostgreSQL applies past row-level security).

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, TenantId},
    db::begin_platform,
    events::{new_event, to_timestamp},
    outbox,
};
use kefu_proto::v1::{
    Actor, ActorKind, ApiKey, ApprovalMatrix, DeleteTenantRequest, Department,
    DownloadTenantExportRequest, ExportTenantDataRequest, GetTenantExportRequest,
    ListTenantExportsRequest, ListTenantExportsResponse, Skill, SlaPolicy, Team, TenantDeleted,
    TenantDeletionRequested, TenantExport, TenantExportChunk, TenantExportPartCompleted,
    TenantExportRequested, TenantExportState,
};
use prost::Message;
use sea_orm::DatabaseTransaction;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    Shared, page, require_operator,
    settings::{replace_tenant, tenant_not_found},
    tenant::{TenantApi, equality_filter},
};
use crate::{
    NAME,
    domain::{export as rules, names, tenant as tenant_rules},
    error::{Result, TenantsError},
    store::{self, documents, documents::Collection, exports, identity as users},
};

/// How often the maintenance sweep runs.
const SWEEP_INTERVAL: StdDuration = StdDuration::from_secs(60);

/// The largest chunk DownloadTenantExport sends (the contract's 1 MiB).
pub const DOWNLOAD_CHUNK_BYTES: usize = 1024 * 1024;

fn export_not_found(name: &str) -> TenantsError {
    TenantsError::NotFound(format!("tenant export {name:?}"))
}

/// `(tenant, export)` of `tenants/{tenant}/exports/{export}`.
fn export_ids(name: &str) -> Option<(Uuid, Uuid)> {
    let (tenant, export) = name.split_once("/exports/")?;
    Some((
        names::uuid_in(tenant, "tenants")?,
        Uuid::parse_str(export).ok()?,
    ))
}

fn export_name(tenant: Uuid, export: Uuid) -> String {
    format!("tenants/{tenant}/exports/{export}")
}

fn operator_actor() -> Actor {
    Actor {
        kind: ActorKind::PlatformOperator as i32,
        ..Actor::default()
    }
}

/// The records of each resource type the tenants service holds for a
/// tenant, as archive files. Secrets never leave: password hashes, session
/// and key digests are not part of the resources. Sessions and failed
/// logins are short-lived security records, not the tenant's data.
async fn export_files(txn: &DatabaseTransaction, tenant: Uuid) -> Result<Vec<(String, Vec<Json>)>> {
    fn json_of<M: Message + prost::Name>(message: &M) -> Json {
        rules::to_json(message).unwrap_or(Json::Null)
    }
    async fn collection<M: Message + prost::Name + Default>(
        txn: &DatabaseTransaction,
        collection: Collection,
        tenant: Uuid,
    ) -> Result<Vec<Json>> {
        let mut records = Vec::new();
        for document in documents::list(txn, collection, tenant).await? {
            records.push(json_of(&M::decode(document.resource.as_slice())?));
        }
        Ok(records)
    }
    let mut files = Vec::new();
    if let Some(stored) = store::tenants::get(txn, tenant).await? {
        files.push(("tenant.jsonl".to_owned(), vec![json_of(&stored.tenant)]));
    }
    let users = users::list_users(txn, tenant).await?;
    files.push((
        "users.jsonl".to_owned(),
        users.iter().map(|stored| json_of(&stored.user)).collect(),
    ));
    let keys = users::list_api_keys(txn, tenant).await?;
    files.push((
        "api_keys.jsonl".to_owned(),
        keys.iter()
            .map(|stored| json_of::<ApiKey>(&stored.api_key))
            .collect(),
    ));
    files.push((
        "departments.jsonl".to_owned(),
        collection::<Department>(txn, Collection::Departments, tenant).await?,
    ));
    files.push((
        "teams.jsonl".to_owned(),
        collection::<Team>(txn, Collection::Teams, tenant).await?,
    ));
    files.push((
        "skills.jsonl".to_owned(),
        collection::<Skill>(txn, Collection::Skills, tenant).await?,
    ));
    files.push((
        "sla_policies.jsonl".to_owned(),
        collection::<SlaPolicy>(txn, Collection::SlaPolicies, tenant).await?,
    ));
    if let Some((resource, _)) = documents::approval_matrix(txn, tenant).await? {
        files.push((
            "approval_matrix.jsonl".to_owned(),
            vec![json_of(&ApprovalMatrix::decode(resource.as_slice())?)],
        ));
    }
    Ok(files)
}

/// Writes the tenants service's part of a RUNNING export and completes it;
/// nothing when it is no longer RUNNING.
async fn build_export(shared: &Shared, tenant: Uuid, id: Uuid) -> Result<()> {
    let txn = shared.begin_for_tenant(TenantId(tenant)).await?;
    let Some(mut export) = exports::get(&txn, tenant, id).await? else {
        return Ok(());
    };
    if export.state != TenantExportState::Running as i32 {
        return Ok(());
    }
    let now = shared.clock.now();
    let name = export_name(tenant, id);
    let files = export_files(&txn, tenant).await?;
    let record_count: usize = files.iter().map(|(_, records)| records.len()).sum();
    let manifest = json!({
        "export": name,
        "tenant": names::tenant(tenant),
        "createTime": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "services": [NAME],
        "files": files.iter().map(|(path, records)| json!({
            "path": format!("{NAME}/{path}"),
            "records": records.len(),
        })).collect::<Vec<_>>(),
    });
    let mut entries = vec![(
        "manifest.json".to_owned(),
        manifest.to_string().into_bytes(),
    )];
    for (path, records) in &files {
        entries.push((format!("{NAME}/{path}"), rules::json_lines(records)));
    }
    let archive = rules::gzip(&rules::tar(&entries, now));
    let digest = Sha256::digest(&archive)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<String>();
    // Served by the gateway from `store::exports::archive`, behind the
    // operator's credential; the host is the gateway's own.
    let download_uri = format!("/v1/{name}:download");
    rules::succeed(
        &mut export,
        i64::try_from(archive.len()).unwrap_or(i64::MAX),
        digest,
        download_uri,
        NAME,
        now,
    );
    if !exports::complete(&txn, tenant, id, &export, Some(archive)).await? {
        return Ok(());
    }
    let part = TenantExportPartCompleted {
        export: name.clone(),
        service: NAME.to_owned(),
        location: format!("{name}/{NAME}"),
        record_count: i64::try_from(record_count).unwrap_or(i64::MAX),
        error: String::new(),
    };
    outbox::append(
        &txn,
        &new_event(NAME, Some(TenantId(tenant)), &name, &part, now),
    )
    .await?;
    txn.commit().await?;
    shared.outbox.notify();
    Ok(())
}

/// `archive` as DownloadTenantExport sends it: in order, at most
/// [`DOWNLOAD_CHUNK_BYTES`] each (one empty chunk for an empty archive).
fn chunks(archive: &[u8]) -> Vec<TenantExportChunk> {
    if archive.is_empty() {
        return vec![TenantExportChunk::default()];
    }
    archive
        .chunks(DOWNLOAD_CHUNK_BYTES)
        .enumerate()
        .map(|(index, data)| TenantExportChunk {
            data: data.to_vec(),
            offset: i64::try_from(index * DOWNLOAD_CHUNK_BYTES).unwrap_or(i64::MAX),
        })
        .collect()
}

/// Builds an export, or records why it failed.
async fn run_export(shared: Shared, tenant: Uuid, id: Uuid) {
    let Err(error) = build_export(&shared, tenant, id).await else {
        return;
    };
    tracing::error!(tenant = %tenant, export = %id, error = %error, "tenant export failed");
    let failed = async {
        let txn = shared.begin_for_tenant(TenantId(tenant)).await?;
        if let Some(mut export) = exports::get(&txn, tenant, id).await? {
            export.state = TenantExportState::Failed as i32;
            export.error = "the export could not be written; start a new one".to_owned();
            export.complete_time = Some(to_timestamp(shared.clock.now()));
            exports::complete(&txn, tenant, id, &export, None).await?;
        }
        txn.commit().await?;
        Ok::<_, TenantsError>(())
    };
    if let Err(error) = failed.await {
        tracing::error!(tenant = %tenant, export = %id, error = %error, "recording a failed export failed");
    }
}

/// Publishes TenantDeleted and deletes the tenant with every row of it.
async fn purge(txn: &DatabaseTransaction, tenant: Uuid, now: DateTime<Utc>) -> Result<()> {
    let name = names::tenant(tenant);
    let event = TenantDeleted {
        tenant: name.clone(),
    };
    let event = new_event(NAME, Some(TenantId(tenant)), &name, &event, now);
    outbox::append(txn, &event).await?;
    // The tenant tables go by cascade with the tenant row. The outbox and
    // processed events have no foreign key to it, and the events kept there
    // carry its people's names and e-mails: they go as in every other
    // service's purge, all but the TenantDeleted just appended.
    let by_hand = ["outbox".to_owned(), "processed_events".to_owned()];
    kefu_kit::purge::purge_tenant(txn, &by_hand, TenantId(tenant), &event.id).await?;
    store::tenants::purge(txn, tenant).await?;
    Ok(())
}

/// One maintenance pass: purges tenants past their grace period, retries
/// exports left RUNNING.
pub async fn sweep(shared: &Shared) -> Result<()> {
    let now = shared.clock.now();
    let txn = begin_platform(&shared.db).await?;
    let due = store::tenants::due_for_purge(&txn, now).await?;
    let running = exports::running(&txn).await?;
    txn.commit().await?;
    for tenant in due {
        let txn = begin_platform(&shared.db).await?;
        // Checked again inside the transaction: another replica may have
        // purged it meanwhile.
        if store::tenants::due_for_purge(&txn, now)
            .await?
            .contains(&tenant)
        {
            purge(&txn, tenant, now).await?;
            txn.commit().await?;
            shared.outbox.notify();
            tracing::info!(tenant = %tenant, "tenant purged");
        }
    }
    for (tenant, id) in running {
        run_export(shared.clone(), tenant, id).await;
    }
    Ok(())
}

/// Runs [`sweep`] now and then every minute, for as long as the runtime.
pub(super) fn spawn_maintenance(shared: Shared) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        loop {
            if let Err(error) = sweep(&shared).await {
                tracing::warn!(error = %error, "tenants maintenance failed");
            }
            tokio::time::sleep(SWEEP_INTERVAL).await;
        }
    });
}

impl TenantApi {
    /// ExportTenantData.
    pub(super) async fn start_export(
        &self,
        caller: &CallContext,
        request: ExportTenantDataRequest,
    ) -> Result<TenantExport> {
        require_operator(caller)?;
        let tenant = names::uuid_in(&request.name, "tenants")
            .ok_or_else(|| tenant_not_found(&request.name))?;
        let request_id = super::organisation::request_id(&request.request_id)?.map(str::to_owned);
        let now = self.0.clock.now();
        let txn = self.0.begin_for_tenant(TenantId(tenant)).await?;
        if store::tenants::get(&txn, tenant).await?.is_none() {
            return Err(tenant_not_found(&request.name));
        }
        if let Some(request_id) = &request_id
            && let Some(existing) = exports::by_request(&txn, tenant, request_id).await?
        {
            return Ok(rules::view(existing, now));
        }
        let id = Uuid::now_v7();
        let name = export_name(tenant, id);
        let export = TenantExport {
            name: name.clone(),
            state: TenantExportState::Running as i32,
            requested_by: Some(operator_actor()),
            create_time: Some(to_timestamp(now)),
            ..TenantExport::default()
        };
        exports::insert(&txn, tenant, id, request_id, &export, now).await?;
        let event = TenantExportRequested {
            export: name.clone(),
            tenant: names::tenant(tenant),
        };
        outbox::append(
            &txn,
            &new_event(NAME, Some(TenantId(tenant)), &name, &event, now),
        )
        .await?;
        txn.commit().await?;
        self.0.outbox.notify();
        tokio::spawn(run_export(self.0.clone(), tenant, id));
        Ok(export)
    }

    /// GetTenantExport.
    pub(super) async fn read_export(
        &self,
        caller: &CallContext,
        request: GetTenantExportRequest,
    ) -> Result<TenantExport> {
        require_operator(caller)?;
        let (tenant, id) =
            export_ids(&request.name).ok_or_else(|| export_not_found(&request.name))?;
        let txn = self.0.begin_read(TenantId(tenant)).await?;
        let export = exports::get(&txn, tenant, id)
            .await?
            .ok_or_else(|| export_not_found(&request.name))?;
        txn.commit().await?;
        Ok(rules::view(export, self.0.clock.now()))
    }

    /// DownloadTenantExport: the archive of a SUCCEEDED export, in chunks
    /// of at most [`DOWNLOAD_CHUNK_BYTES`]. Once the download has lapsed the
    /// archive is deleted, so the data does not outlive its promise.
    pub(super) async fn download_export(
        &self,
        caller: &CallContext,
        request: DownloadTenantExportRequest,
    ) -> Result<Vec<TenantExportChunk>> {
        require_operator(caller)?;
        let (tenant, id) =
            export_ids(&request.name).ok_or_else(|| export_not_found(&request.name))?;
        let txn = self.0.begin_read(TenantId(tenant)).await?;
        let export = exports::get(&txn, tenant, id)
            .await?
            .ok_or_else(|| export_not_found(&request.name))?;
        let export = rules::view(export, self.0.clock.now());
        let state = TenantExportState::try_from(export.state).unwrap_or_default();
        if state != TenantExportState::Succeeded {
            txn.commit().await?;
            if state == TenantExportState::Expired {
                let txn = self.0.begin_for_tenant(TenantId(tenant)).await?;
                if exports::clear_archive(&txn, tenant, id).await? {
                    tracing::info!(tenant = %tenant, export = %id, "expired export archive deleted");
                }
                txn.commit().await?;
                return Err(TenantsError::IllegalTransition(
                    format!(
                        "tenant export {:?} has expired; start a new one",
                        request.name
                    ),
                    Some("EXPORT_EXPIRED"),
                ));
            }
            return Err(TenantsError::IllegalTransition(
                format!(
                    "tenant export {:?} is {}, not SUCCEEDED",
                    request.name,
                    state
                        .as_str_name()
                        .trim_start_matches("TENANT_EXPORT_STATE_")
                ),
                Some("EXPORT_NOT_READY"),
            ));
        }
        let archive = exports::archive(&txn, tenant, id).await?.ok_or_else(|| {
            TenantsError::Internal(format!("tenant export {:?} has no archive", request.name))
        })?;
        txn.commit().await?;
        Ok(chunks(&archive))
    }

    /// ListTenantExports.
    pub(super) async fn list_exports(
        &self,
        caller: &CallContext,
        request: ListTenantExportsRequest,
    ) -> Result<ListTenantExportsResponse> {
        require_operator(caller)?;
        let tenant = names::uuid_in(&request.parent, "tenants")
            .ok_or_else(|| tenant_not_found(&request.parent))?;
        let filter = equality_filter(&request.filter, &["state"])?;
        let by_completion = match request.order_by.trim() {
            "" | "create_time desc" => None,
            "create_time" => Some(false),
            "complete_time" => Some(true),
            "complete_time desc" => Some(true),
            other => {
                return Err(TenantsError::invalid(
                    "order_by",
                    format!("cannot order by {other:?}; use create_time or complete_time"),
                ));
            }
        };
        let txn = self.0.begin_read(TenantId(tenant)).await?;
        if store::tenants::get(&txn, tenant).await?.is_none() {
            return Err(tenant_not_found(&request.parent));
        }
        let now = self.0.clock.now();
        let mut items: Vec<TenantExport> = exports::list(&txn, tenant)
            .await?
            .into_iter()
            .map(|export| rules::view(export, now))
            .filter(|export| match filter {
                None => true,
                Some((_, state)) => TenantExportState::try_from(export.state).is_ok_and(|s| {
                    s.as_str_name() == state
                        || s.as_str_name().strip_prefix("TENANT_EXPORT_STATE_") == Some(state)
                }),
            })
            .collect();
        txn.commit().await?;
        let key = |export: &TenantExport, completion: bool| {
            let time = if completion {
                export.complete_time
            } else {
                export.create_time
            };
            time.map(|t| (t.seconds, t.nanos))
        };
        match (by_completion, request.order_by.trim().ends_with("desc")) {
            (None, _) => {}
            (Some(completion), descending) => items.sort_by(|a, b| {
                let order = key(a, completion).cmp(&key(b, completion));
                if descending { order.reverse() } else { order }
            }),
        }
        let (tenant_exports, next_page_token, total_size) =
            page(items, request.page_size, &request.page_token)?;
        Ok(ListTenantExportsResponse {
            tenant_exports,
            next_page_token,
            total_size,
        })
    }

    /// DeleteTenant.
    pub(super) async fn delete_tenant_as_operator(
        &self,
        caller: &CallContext,
        request: DeleteTenantRequest,
    ) -> Result<()> {
        require_operator(caller)?;
        let id = names::uuid_in(&request.name, "tenants")
            .ok_or_else(|| tenant_not_found(&request.name))?;
        let txn = begin_platform(&self.0.db).await?;
        let mut stored = store::tenants::get(&txn, id)
            .await?
            .ok_or_else(|| tenant_not_found(&request.name))?;
        if !store::etag_matches(&request.etag, stored.revision) {
            return Err(TenantsError::StaleEtag(request.name.clone()));
        }
        let now = self.0.clock.now();
        let offered = request.skip_export || rules::offered(&exports::list(&txn, id).await?, now);
        let purge_time = tenant_rules::request_deletion(
            &mut stored.tenant,
            offered,
            request.grace_period.as_ref(),
            now,
        )?;
        replace_tenant(&txn, &stored).await?;
        let event = TenantDeletionRequested {
            tenant: stored.tenant.name.clone(),
            actor: Some(operator_actor()),
            purge_time: stored.tenant.purge_time,
            slug: stored.tenant.slug.clone(),
        };
        outbox::append(
            &txn,
            &new_event(NAME, Some(TenantId(id)), &request.name, &event, now),
        )
        .await?;
        if purge_time <= now {
            purge(&txn, id, now).await?;
        }
        txn.commit().await?;
        self.0.outbox.notify();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archive_is_sent_in_ordered_chunks_of_at_most_one_mebibyte() {
        let archive: Vec<u8> = (0..DOWNLOAD_CHUNK_BYTES * 2 + 10)
            .map(|index| (index % 251) as u8)
            .collect();
        let sent = chunks(&archive);
        assert_eq!(sent.len(), 3);
        assert!(
            sent.iter()
                .all(|chunk| chunk.data.len() <= DOWNLOAD_CHUNK_BYTES)
        );
        let offsets: Vec<i64> = sent.iter().map(|chunk| chunk.offset).collect();
        assert_eq!(offsets, [0, 1024 * 1024, 2 * 1024 * 1024]);
        let joined: Vec<u8> = sent.into_iter().flat_map(|chunk| chunk.data).collect();
        assert_eq!(joined, archive);
        assert_eq!(chunks(&[]).len(), 1);
    }
}
