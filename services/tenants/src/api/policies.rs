//! Writes of SLA policies and the approval matrix (ROLE_ADMIN): each change
//! and its event in one tenant transaction. Another tenant's policy is
//! simply absent from the caller's tenant, so it answers NOT_FOUND.

use kefu_kit::{
    context::{CallContext, TenantId},
    db::is_unique_violation,
    events::new_event,
    outbox,
};
use kefu_proto::v1::{
    ApprovalMatrix, ApprovalMatrixChanged, CreateSlaPolicyRequest, DeleteSlaPolicyRequest,
    SlaPolicy, SlaPolicyChanged, UpdateApprovalMatrixRequest, UpdateSlaPolicyRequest,
};
use prost::Message;
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use super::{
    load_document,
    organisation::{replayed, request_id},
    require_admin,
    settings::actor,
    tenant::TenantApi,
};
use crate::{
    NAME,
    domain::{approval, mask, sla},
    error::{Result, TenantsError},
    store::{self, documents, documents::Collection, idempotency},
};

const CREATE_METHOD: &str = "CreateSlaPolicy";

fn policy_not_found(name: &str) -> TenantsError {
    TenantsError::NotFound(format!("SLA policy {name:?}"))
}

/// The stored policy `name` of `tenant` and its revision.
async fn load_policy(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
) -> Result<(String, SlaPolicy, i64)> {
    let document =
        load_document(txn, Collection::SlaPolicies, tenant, name, policy_not_found).await?;
    let policy = SlaPolicy::decode(document.resource.as_slice())?;
    Ok((document.id, policy, document.revision))
}

async fn append_policy_event(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    event: &SlaPolicyChanged,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let envelope = new_event(NAME, Some(tenant), &event.name, event, now);
    Ok(outbox::append(txn, &envelope).await?)
}

impl TenantApi {
    /// CreateSlaPolicy.
    pub(super) async fn create_policy(
        &self,
        caller: &CallContext,
        request: CreateSlaPolicyRequest,
    ) -> Result<SlaPolicy> {
        let tenant = require_admin(caller)?;
        let requested = request
            .sla_policy
            .ok_or_else(|| TenantsError::invalid("sla_policy", "is required"))?;
        let request_id = request_id(&request.request_id)?;
        let id = if request.sla_policy_id.is_empty() {
            Uuid::now_v7().to_string()
        } else {
            sla::check_policy_id("sla_policy_id", &request.sla_policy_id)?;
            request.sla_policy_id.clone()
        };
        let now = self.0.clock.now();
        let policy = sla::new_policy(&requested, &id, now)?;
        let txn = self.0.begin_for_tenant(tenant).await?;
        if let Some(created) = replayed(&txn, tenant, request_id, CREATE_METHOD).await? {
            let (_, mut existing, revision) = load_policy(&txn, tenant, &created).await?;
            existing.etag = store::etag(revision);
            return Ok(existing);
        }
        if let Err(error) = documents::insert(
            &txn,
            Collection::SlaPolicies,
            tenant.0,
            &id,
            policy.encode_to_vec(),
            now,
            &[],
        )
        .await
        {
            return Err(if is_unique_violation(&error) {
                TenantsError::AlreadyExists(format!("SLA policy {:?}", policy.name))
            } else {
                error.into()
            });
        }
        if let Some(request_id) = request_id {
            idempotency::remember(&txn, tenant.0, request_id, CREATE_METHOD, &policy.name, now)
                .await?;
        }
        let event = SlaPolicyChanged {
            sla_policy: Some(SlaPolicy {
                etag: store::etag(1),
                ..policy.clone()
            }),
            name: policy.name.clone(),
            deleted: false,
        };
        append_policy_event(&txn, tenant, &event, now).await?;
        txn.commit().await?;
        self.0.outbox.notify();
        Ok(SlaPolicy {
            etag: store::etag(1),
            ..policy
        })
    }

    /// UpdateSlaPolicy.
    pub(super) async fn change_policy(
        &self,
        caller: &CallContext,
        request: UpdateSlaPolicyRequest,
    ) -> Result<SlaPolicy> {
        let tenant = require_admin(caller)?;
        let requested = request
            .sla_policy
            .ok_or_else(|| TenantsError::invalid("sla_policy", "is required"))?;
        let paths = mask::required_paths(request.update_mask.as_ref())?;
        let txn = self.0.begin_for_tenant(tenant).await?;
        let (id, mut policy, revision) = load_policy(&txn, tenant, &requested.name).await?;
        if !store::etag_matches(&requested.etag, revision) {
            return Err(TenantsError::StaleEtag(requested.name.clone()));
        }
        let now = self.0.clock.now();
        sla::apply_update(&mut policy, &requested, &paths, now)?;
        let replaced = documents::replace(
            &txn,
            Collection::SlaPolicies,
            tenant.0,
            &id,
            revision,
            policy.encode_to_vec(),
            &[],
        )
        .await?;
        if !replaced {
            return Err(TenantsError::StaleEtag(requested.name.clone()));
        }
        policy.etag = store::etag(revision + 1);
        let event = SlaPolicyChanged {
            sla_policy: Some(policy.clone()),
            name: policy.name.clone(),
            deleted: false,
        };
        append_policy_event(&txn, tenant, &event, now).await?;
        txn.commit().await?;
        self.0.outbox.notify();
        Ok(policy)
    }

    /// DeleteSlaPolicy.
    pub(super) async fn remove_policy(
        &self,
        caller: &CallContext,
        request: DeleteSlaPolicyRequest,
    ) -> Result<()> {
        let tenant = require_admin(caller)?;
        let txn = self.0.begin_for_tenant(tenant).await?;
        let (id, policy, revision) = load_policy(&txn, tenant, &request.name).await?;
        if !store::etag_matches(&request.etag, revision) {
            return Err(TenantsError::StaleEtag(request.name.clone()));
        }
        if !documents::delete(&txn, Collection::SlaPolicies, tenant.0, &id).await? {
            return Err(policy_not_found(&request.name));
        }
        let event = SlaPolicyChanged {
            sla_policy: None,
            name: policy.name,
            deleted: true,
        };
        append_policy_event(&txn, tenant, &event, self.0.clock.now()).await?;
        txn.commit().await?;
        self.0.outbox.notify();
        Ok(())
    }

    /// UpdateApprovalMatrix.
    pub(super) async fn replace_matrix(
        &self,
        caller: &CallContext,
        request: UpdateApprovalMatrixRequest,
    ) -> Result<ApprovalMatrix> {
        let tenant = require_admin(caller)?;
        let requested = request
            .approval_matrix
            .ok_or_else(|| TenantsError::invalid("approval_matrix", "is required"))?;
        if !requested.name.is_empty() && requested.name != "approvalMatrix" {
            return Err(TenantsError::NotFound(format!(
                "approval matrix {:?}",
                requested.name
            )));
        }
        let paths = request
            .update_mask
            .as_ref()
            .map(|mask| mask.paths.as_slice())
            .unwrap_or_default();
        if let Some(index) = paths.iter().position(|path| path.trim() != "thresholds") {
            return Err(TenantsError::invalid(
                &format!("update_mask.paths[{index}]"),
                "only `thresholds` may change",
            ));
        }
        let txn = self.0.begin_for_tenant(tenant).await?;
        let (resource, revision) = documents::approval_matrix(&txn, tenant.0)
            .await?
            .ok_or_else(|| TenantsError::NotFound("approval matrix".into()))?;
        if !store::etag_matches(&requested.etag, revision) {
            return Err(TenantsError::StaleEtag("approval matrix".into()));
        }
        let mut matrix = ApprovalMatrix::decode(resource.as_slice())?;
        let updater = actor(&txn, caller).await?;
        let now = self.0.clock.now();
        approval::replace_thresholds(&mut matrix, requested.thresholds, updater.clone(), now)?;
        if !documents::replace_approval_matrix(&txn, tenant.0, revision, matrix.encode_to_vec())
            .await?
        {
            return Err(TenantsError::StaleEtag("approval matrix".into()));
        }
        matrix.etag = store::etag(revision + 1);
        let event = ApprovalMatrixChanged {
            approval_matrix: Some(matrix.clone()),
            actor: Some(updater),
        };
        outbox::append(
            &txn,
            &new_event(NAME, Some(tenant), "approvalMatrix", &event, now),
        )
        .await?;
        txn.commit().await?;
        self.0.outbox.notify();
        Ok(matrix)
    }
}
