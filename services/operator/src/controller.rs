//! Reconciling a `Tenant` resource with the tenants service.
//!
//! Apply: add the finalizer; create the tenant (the resource's uid is the
//! `request_id`, so a create repeated after a lost answer or a failed status
//! write finds the same tenant); update the fields that differ from the
//! spec; for a silo, apply its namespace and record its placement; report
//! phase, conditions and observed generation, and Kubernetes Events.
//!
//! Cleanup (the resource is being deleted): export the tenant, wait for the
//! export, delete the tenant, tear the silo down, then release the
//! finalizer. Until every step succeeded the resource stays, so an
//! unreachable tenants service delays the offboarding but loses nothing.

use std::{collections::HashMap, sync::Arc, time::Duration};

use kefu_proto::v1::{TenantExportState, TenantState};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{
        controller::Action,
        events::{Event, EventType, Recorder, Reporter},
    },
};
use serde_json::json;
use tonic::Code;
use tracing::{Span, field, instrument};

use crate::{
    Error, Result,
    metrics::Metrics,
    resource::{IsolationTier, Offboarding, Phase, Tenant, TenantStatus, condition},
    silo::{self, SiloSettings, SiloState, SiloTenant},
    tenants::{self, TenantsClient},
};

/// The finalizer that holds a `Tenant` until it is offboarded.
pub const FINALIZER: &str = "tenants.kefu.io/offboard";

/// A ready tenant is looked at again this often, so a change made through
/// the API behind the operator's back is put back in line with the spec.
const RESYNC: Duration = Duration::from_secs(300);
/// While a silo's services start or an export runs.
const SHORT_WAIT: Duration = Duration::from_secs(5);
/// While something only a person can fix is missing (a database Secret).
const LONG_WAIT: Duration = Duration::from_secs(60);
/// First retry after a transient error; doubled per consecutive failure.
const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest retry interval.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// What every reconcile shares.
pub struct Context {
    /// The Kubernetes API.
    pub client: Client,
    /// The tenants service.
    pub tenants: TenantsClient,
    /// How silos are laid out.
    pub silo: SiloSettings,
    /// The counters.
    pub metrics: Arc<Metrics>,
    recorder: Recorder,
    /// Consecutive failures per resource uid, for the backoff.
    failures: std::sync::Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context reporting events as `kefu-operator` (instance: this pod).
    pub fn new(client: Client, tenants: TenantsClient, silo: SiloSettings) -> Self {
        let reporter = Reporter {
            controller: silo::FIELD_MANAGER.into(),
            instance: std::env::var("HOSTNAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            tenants,
            silo,
            metrics: Arc::new(Metrics::default()),
            failures: std::sync::Mutex::default(),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // The map only paces retries; a poisoned one is still good for that.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes an event about `tenant`. Events are for people reading
    /// `kubectl describe`; failing to write one never fails a reconcile.
    async fn event(
        &self,
        tenant: &Tenant,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, &tenant.object_ref(&())).await {
            tracing::warn!(error = %error, reason, "could not publish event");
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Reconciles one `Tenant`.
#[instrument(skip(tenant, ctx), fields(tenant = %tenant.name_any(), namespace = tenant.namespace().unwrap_or_default(), tenant_id = field::Empty))]
pub async fn reconcile(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action> {
    ctx.metrics.reconcile();
    let namespace = tenant.namespace().unwrap_or_default();
    let api: Api<Tenant> = Api::namespaced(ctx.client.clone(), &namespace);
    if let Some(id) = tenant
        .status
        .as_ref()
        .and_then(|status| status.tenant_id.as_deref())
    {
        Span::current().record("tenant_id", id);
    }
    let result = if tenant.meta().deletion_timestamp.is_some() {
        cleanup(&tenant, &ctx, &api).await
    } else {
        apply(&tenant, &ctx, &api).await
    };
    match &result {
        Ok(_) => {
            ctx.failures().remove(&tenant.uid().unwrap_or_default());
        }
        Err(error) => {
            ctx.metrics.failure(error.metric_label());
            tracing::warn!(error = %error, transient = error.is_transient(), "reconcile failed");
        }
    }
    result
}

/// When to look at a failed resource again: soon and then less often
/// (5 s, 10 s, 20 s … 5 min) while the failure may pass by itself; every
/// five minutes when the spec or configuration must change first.
pub fn error_policy(tenant: Arc<Tenant>, error: &Error, ctx: Arc<Context>) -> Action {
    if !error.is_transient() {
        return Action::requeue(BACKOFF_MAX);
    }
    let mut failures = ctx.failures();
    let count = failures
        .entry(tenant.uid().unwrap_or_default())
        .or_default();
    let delay = BACKOFF_BASE
        .saturating_mul(2_u32.saturating_pow(*count))
        .min(BACKOFF_MAX);
    *count = count.saturating_add(1);
    Action::requeue(delay)
}

async fn patch_status(api: &Api<Tenant>, tenant: &Tenant, status: &TenantStatus) -> Result<()> {
    let patch = json!({"status": status});
    api.patch_status(
        &tenant.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// Adds the finalizer, guarded by a test of the list it read, so a
/// concurrent change of the finalizers is never overwritten.
async fn add_finalizer(api: &Api<Tenant>, tenant: &Tenant) -> Result<()> {
    let finalizers = tenant.finalizers();
    let patch = if finalizers.is_empty() {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": finalizers},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ])
    };
    let patch: json_patch::Patch = serde_json::from_value(patch).map_err(Error::Serde)?;
    api.patch(
        &tenant.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await?;
    Ok(())
}

async fn remove_finalizer(api: &Api<Tenant>, tenant: &Tenant) -> Result<()> {
    let Some(index) = tenant
        .finalizers()
        .iter()
        .position(|name| name == FINALIZER)
    else {
        return Ok(());
    };
    let path = format!("/metadata/finalizers/{index}");
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": path, "value": FINALIZER},
        {"op": "remove", "path": path},
    ]))
    .map_err(Error::Serde)?;
    api.patch(
        &tenant.name_any(),
        &PatchParams::default(),
        &Patch::<()>::Json(patch),
    )
    .await?;
    Ok(())
}

/// Brings the tenants service in line with the spec, then writes the status
/// (also when a step failed, with the reason in the `Ready` condition).
async fn apply(tenant: &Tenant, ctx: &Context, api: &Api<Tenant>) -> Result<Action> {
    if !tenant.finalizers().iter().any(|name| name == FINALIZER) {
        add_finalizer(api, tenant).await?;
    }
    let generation = tenant.meta().generation;
    let mut status = tenant.status.clone().unwrap_or_default();
    let result = sync(tenant, ctx, api, &mut status).await;
    status.observed_generation = generation;
    let now = now();
    match result {
        Ok(action) => {
            // An unchanged status is not written: every write is a watch
            // event, and a resync that changed nothing should cost nothing.
            if tenant.status.as_ref() != Some(&status) {
                patch_status(api, tenant, &status).await?;
            }
            Ok(action)
        }
        Err(error) => {
            status.set_condition(
                condition::READY,
                false,
                error.reason(),
                error.to_string(),
                generation,
                &now,
            );
            if matches!(
                error,
                Error::Tenants { .. } | Error::TenantMissing(_) | Error::Immutable(_)
            ) {
                status.set_condition(
                    condition::SYNCED,
                    false,
                    error.reason(),
                    error.to_string(),
                    generation,
                    &now,
                );
            }
            if !error.is_transient() {
                status.phase = Phase::Failed;
            }
            // Best effort: the error is what the controller must see, and a
            // Kubernetes API that refused the status refuses the event too.
            if let Err(status_error) = patch_status(api, tenant, &status).await {
                tracing::warn!(error = %status_error, "could not write the failure into the status");
            }
            ctx.event(
                tenant,
                EventType::Warning,
                error.reason(),
                "Reconcile",
                error.to_string(),
            )
            .await;
            Err(error)
        }
    }
}

async fn sync(
    tenant: &Tenant,
    ctx: &Context,
    api: &Api<Tenant>,
    status: &mut TenantStatus,
) -> Result<Action> {
    let spec = &tenant.spec;
    let generation = tenant.meta().generation;
    let found = match status.tenant_id.clone() {
        Some(id) => ctx
            .tenants
            .get(&id)
            .await?
            .ok_or(Error::TenantMissing(id))?,
        None => {
            let uid = tenant
                .uid()
                .ok_or_else(|| Error::Config("the resource has no uid".into()))?;
            let created = ctx.tenants.create(spec, &uid).await?;
            let id = tenants::id_of(&created.name).to_owned();
            Span::current().record("tenant_id", id.as_str());
            status.tenant_id = Some(id.clone());
            status.phase = Phase::Provisioning;
            // Recorded at once: the later steps may fail, and the id must
            // survive them (a repeat create would find it anyway, by uid).
            patch_status(api, tenant, status).await?;
            ctx.metrics.created();
            tracing::info!(tenant_id = %id, slug = %spec.slug, "tenant created");
            ctx.event(
                tenant,
                EventType::Normal,
                "Created",
                "CreateTenant",
                format!("tenant {} created as {}", spec.slug, created.name),
            )
            .await;
            created
        }
    };
    let id = tenants::id_of(&found.name).to_owned();
    let now = now();

    let state = TenantState::try_from(found.state).unwrap_or(TenantState::Unspecified);
    if state == TenantState::Deleting {
        // Deleted through the API: the operator does not undo that.
        status.phase = Phase::Offboarding;
        status.set_condition(
            condition::READY,
            false,
            "TenantDeleting",
            "the tenant was deleted through the API; delete this resource",
            generation,
            &now,
        );
        return Ok(Action::requeue(RESYNC));
    }
    let immutable = tenants::immutable_differences(&found, spec);
    if !immutable.is_empty() {
        return Err(Error::Immutable(immutable.join(", ")));
    }
    let paths = tenants::changed_paths(&found, spec);
    let current = if paths.is_empty() {
        found
    } else {
        let updated = ctx.tenants.update(&found, spec, paths.clone()).await?;
        ctx.metrics.updated();
        tracing::info!(tenant_id = %id, paths = ?paths, "tenant updated");
        ctx.event(
            tenant,
            EventType::Normal,
            "Updated",
            "UpdateTenant",
            format!("changed {}", paths.join(", ")),
        )
        .await;
        updated
    };
    status.set_condition(
        condition::SYNCED,
        true,
        "Synced",
        "the tenant matches the spec",
        generation,
        &now,
    );

    let mut next = Action::requeue(RESYNC);
    if spec.isolation_tier == IsolationTier::Silo {
        let silo_tenant = SiloTenant {
            id: &id,
            slug: &spec.slug,
        };
        status.silo_namespace = Some(ctx.silo.namespace(&spec.slug));
        match silo::provision(&ctx.client, &ctx.silo, &silo_tenant).await? {
            SiloState::DatabaseSecretMissing => {
                let message = format!(
                    "create Secret {} (key {}) in namespace {}, or set operator.silo.database_url_template",
                    silo::DATABASE_SECRET,
                    silo::DATABASE_URL_KEY,
                    ctx.silo.namespace(&spec.slug)
                );
                status.set_condition(
                    condition::SILO_READY,
                    false,
                    "DatabaseSecretMissing",
                    message.clone(),
                    generation,
                    &now,
                );
                status.set_condition(
                    condition::READY,
                    false,
                    "DatabaseSecretMissing",
                    message,
                    generation,
                    &now,
                );
                status.phase = Phase::Provisioning;
                return Ok(Action::requeue(LONG_WAIT));
            }
            SiloState::Applied { ready } => {
                let wanted = silo::placement(&ctx.silo, &spec.slug, ready);
                if !silo::same_placement(current.placement.as_ref(), &wanted) {
                    ctx.tenants.set_placement(&id, wanted.clone()).await?;
                    if ready {
                        ctx.metrics.silo_provisioned();
                    }
                    ctx.event(
                        tenant,
                        EventType::Normal,
                        "PlacementRecorded",
                        "SetTenantPlacement",
                        format!(
                            "silo namespace {} recorded (ready: {ready})",
                            wanted.namespace
                        ),
                    )
                    .await;
                }
                if !ready {
                    let message = "waiting for the silo's services to serve";
                    status.set_condition(
                        condition::SILO_READY,
                        false,
                        "SiloStarting",
                        message,
                        generation,
                        &now,
                    );
                    status.set_condition(
                        condition::READY,
                        false,
                        "SiloStarting",
                        message,
                        generation,
                        &now,
                    );
                    status.phase = Phase::Provisioning;
                    return Ok(Action::requeue(SHORT_WAIT));
                }
                status.set_condition(
                    condition::SILO_READY,
                    true,
                    "SiloServing",
                    "every silo service serves",
                    generation,
                    &now,
                );
                next = Action::requeue(RESYNC);
            }
        }
    } else {
        status.remove_condition(condition::SILO_READY);
    }

    if state == TenantState::Suspended {
        // Suspending is a decision taken through the API (SuspendTenant);
        // the operator reports it and leaves it alone.
        status.phase = Phase::Suspended;
        status.set_condition(
            condition::READY,
            false,
            "Suspended",
            format!("the tenant is suspended: {}", current.suspend_reason),
            generation,
            &now,
        );
    } else {
        status.phase = Phase::Ready;
        status.set_condition(
            condition::READY,
            true,
            "Ready",
            "the tenant is in service as specified",
            generation,
            &now,
        );
    }
    Ok(next)
}

/// Whether a FAILED_PRECONDITION carries `reason` in its ErrorInfo.
fn has_reason(error: &Error, reason: &str) -> bool {
    use tonic_types::StatusExt;
    match error {
        Error::Tenants { status, .. } if status.code() == Code::FailedPrecondition => status
            .get_error_details()
            .error_info()
            .is_some_and(|info| info.reason == reason),
        _ => false,
    }
}

/// Offboards the tenant, step by step across reconciles: each step is
/// idempotent and the finalizer is released only after the last.
async fn cleanup(tenant: &Tenant, ctx: &Context, api: &Api<Tenant>) -> Result<Action> {
    if !tenant.finalizers().iter().any(|name| name == FINALIZER) {
        return Ok(Action::await_change());
    }
    let mut status = tenant.status.clone().unwrap_or_default();
    let spec = &tenant.spec;
    let Some(id) = status.tenant_id.clone() else {
        // The tenants service never answered a create for this resource:
        // nothing of it to offboard.
        ctx.event(
            tenant,
            EventType::Normal,
            "Released",
            "Offboard",
            "no tenant was created for this resource".into(),
        )
        .await;
        remove_finalizer(api, tenant).await?;
        return Ok(Action::await_change());
    };
    let generation = tenant.meta().generation;
    let result = offboard(tenant, ctx, api, &mut status, &id).await;
    match result {
        Ok(Some(action)) => {
            patch_status(api, tenant, &status).await?;
            Ok(action)
        }
        Ok(None) => {
            if spec.isolation_tier == IsolationTier::Silo {
                silo::teardown(&ctx.client, &ctx.silo, &spec.slug).await?;
            }
            ctx.metrics.offboarded();
            ctx.event(
                tenant,
                EventType::Normal,
                "Offboarded",
                "Offboard",
                format!("tenant {} exported and deleted", spec.slug),
            )
            .await;
            remove_finalizer(api, tenant).await?;
            Ok(Action::await_change())
        }
        Err(error) => {
            status.set_condition(
                condition::READY,
                false,
                error.reason(),
                error.to_string(),
                generation,
                &now(),
            );
            if let Err(status_error) = patch_status(api, tenant, &status).await {
                tracing::warn!(error = %status_error, "could not write the failure into the status");
            }
            ctx.event(
                tenant,
                EventType::Warning,
                error.reason(),
                "Offboard",
                error.to_string(),
            )
            .await;
            Err(error)
        }
    }
}

/// One offboarding step: `Some(action)` to come back later, `None` once
/// the tenant is deleted (or already gone).
async fn offboard(
    tenant: &Tenant,
    ctx: &Context,
    api: &Api<Tenant>,
    status: &mut TenantStatus,
    id: &str,
) -> Result<Option<Action>> {
    let generation = tenant.meta().generation;
    status.phase = Phase::Offboarding;
    let Some(current) = ctx.tenants.get(id).await? else {
        return Ok(None);
    };
    if TenantState::try_from(current.state) == Ok(TenantState::Deleting) {
        return Ok(None);
    }
    let request_id = match status.offboarding.as_ref() {
        Some(offboarding) => offboarding.export_request_id.clone(),
        None => {
            // Chosen once and written down before the export starts, so a
            // retry asks for the same export rather than another one.
            let request_id = uuid::Uuid::now_v7().to_string();
            status.offboarding = Some(Offboarding {
                export_request_id: request_id.clone(),
                ..Offboarding::default()
            });
            patch_status(api, tenant, status).await?;
            request_id
        }
    };
    let export = ctx.tenants.export(id, &request_id).await?;
    let offboarding = status.offboarding.get_or_insert_with(Offboarding::default);
    offboarding.export = Some(export.name.clone());
    match TenantExportState::try_from(export.state).unwrap_or(TenantExportState::Unspecified) {
        TenantExportState::Succeeded | TenantExportState::Expired => {
            if offboarding.download_uri.is_none() {
                offboarding.download_uri =
                    Some(export.download_uri.clone()).filter(|uri| !uri.is_empty());
                ctx.event(
                    tenant,
                    EventType::Normal,
                    "Exported",
                    "ExportTenantData",
                    format!(
                        "export {} ready ({} bytes) at {}",
                        export.name, export.size_bytes, export.download_uri
                    ),
                )
                .await;
            }
        }
        TenantExportState::Failed => {
            ctx.event(
                tenant,
                EventType::Warning,
                "ExportFailed",
                "ExportTenantData",
                format!(
                    "export {} failed: {}; starting another",
                    export.name, export.error
                ),
            )
            .await;
            status.offboarding = Some(Offboarding {
                export_request_id: uuid::Uuid::now_v7().to_string(),
                ..Offboarding::default()
            });
            return Ok(Some(Action::requeue(SHORT_WAIT)));
        }
        TenantExportState::Running | TenantExportState::Unspecified => {
            status.set_condition(
                condition::READY,
                false,
                "Exporting",
                format!("waiting for export {}", export.name),
                generation,
                &now(),
            );
            return Ok(Some(Action::requeue(SHORT_WAIT)));
        }
    }
    match ctx
        .tenants
        .delete(id, tenant.spec.deletion_grace_period_days)
        .await
    {
        Ok(()) => {}
        // Deleted meanwhile (a retry after a lost answer): done.
        Err(error) if has_reason(&error, "ILLEGAL_TRANSITION") => {}
        // The export is older than the service accepts: make a new one.
        Err(error) if has_reason(&error, "EXPORT_NOT_OFFERED") => {
            status.offboarding = Some(Offboarding {
                export_request_id: uuid::Uuid::now_v7().to_string(),
                ..Offboarding::default()
            });
            return Ok(Some(Action::requeue(SHORT_WAIT)));
        }
        Err(error) => return Err(error),
    }
    tracing::info!(tenant_id = %id, "tenant deleted");
    Ok(None)
}
