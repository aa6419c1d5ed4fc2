//! What departments, teams and skills share as documents of the caller's
//! tenant: the create flow (once per `request_id`), the update flow (under a
//! field mask and the etag), the delete flow and the loading of one. Each
//! resource says in its `OrgDocument` implementation only what differs.

use std::future::Future;

use chrono::{DateTime, Utc};
use kefu_kit::{context::TenantId, db::is_unique_violation};
use prost::Message;
use sea_orm::DatabaseTransaction;

use super::{
    Shared, load_document,
    organisation::{remember, replayed},
};
use crate::{
    error::{Result, TenantsError},
    store::{
        self,
        documents::{self, Collection},
    },
};

/// An organisation resource stored as a document.
pub(super) trait OrgDocument: Message + Default + Clone + Send + Sync + 'static {
    /// Where the documents are kept.
    const COLLECTION: Collection;
    /// The create method, under which a create's `request_id` is remembered.
    const CREATE_METHOD: &'static str;

    /// NOT_FOUND for `name`.
    fn not_found(name: &str) -> TenantsError;

    /// The resource name.
    fn name(&self) -> &str;

    /// The etag a patch carries; `None` (the default) for resources without
    /// one, whose updates are last write wins.
    fn etag(&self) -> Option<&str> {
        None
    }

    /// The columns stored beside the document.
    fn columns(&self) -> Vec<(&'static str, sea_orm::Value)> {
        Vec::new()
    }

    /// The stored resource as callers see it at `revision` (by default as
    /// stored).
    fn view(
        self,
        _txn: &DatabaseTransaction,
        _tenant: TenantId,
        _revision: i64,
    ) -> impl Future<Output = Result<Self>> + Send {
        async { Ok(self) }
    }

    /// Checks that what the resource references exists, where it differs
    /// from `before`.
    fn check_references(
        &self,
        _txn: &DatabaseTransaction,
        _tenant: TenantId,
        _before: Option<&Self>,
    ) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Clears what depends on the document `id` before it is deleted, or
    /// refuses the delete.
    fn release(
        &self,
        txn: &DatabaseTransaction,
        tenant: TenantId,
        id: &str,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The answer when a foreign key refuses the delete; `None` leaves the
    /// database error as it is.
    fn in_use(&self) -> Option<TenantsError> {
        None
    }

    /// Appends the change event of `name` (`resource` is `None` once
    /// deleted); resources without events append nothing.
    fn publish(
        _txn: &DatabaseTransaction,
        _tenant: TenantId,
        _name: &str,
        _resource: Option<Self>,
        _now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

/// A loaded resource with its document id and revision.
pub(super) struct Stored<T> {
    pub(super) resource: T,
    pub(super) id: String,
    pub(super) revision: i64,
}

/// The resource `name` of `tenant` as callers see it; a malformed name, a
/// missing document and another tenant's are all NOT_FOUND.
pub(super) async fn load<T: OrgDocument>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
) -> Result<Stored<T>> {
    let document = load_document(txn, T::COLLECTION, tenant, name, T::not_found).await?;
    let resource = T::decode(document.resource.as_slice())?
        .view(txn, tenant, document.revision)
        .await?;
    Ok(Stored {
        resource,
        id: document.id,
        revision: document.revision,
    })
}

/// The tenant's resources as callers see them, those `keep` passes.
pub(super) async fn list<T: OrgDocument>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    keep: impl Fn(&T) -> bool,
) -> Result<Vec<T>> {
    let mut kept = Vec::new();
    for document in documents::list(txn, T::COLLECTION, tenant.0).await? {
        let resource = T::decode(document.resource.as_slice())?
            .view(txn, tenant, document.revision)
            .await?;
        if keep(&resource) {
            kept.push(resource);
        }
    }
    Ok(kept)
}

/// Stores `resource` (checked, output fields set) under `id`, or answers
/// what an earlier create with the same `request_id` made. ALREADY_EXISTS
/// when `id` is taken.
pub(super) async fn create<T: OrgDocument>(
    shared: &Shared,
    tenant: TenantId,
    request_id: Option<&str>,
    id: &str,
    resource: T,
    now: DateTime<Utc>,
) -> Result<T> {
    let txn = shared.begin_for_tenant(tenant).await?;
    if let Some(name) = replayed(&txn, tenant, request_id, T::CREATE_METHOD).await? {
        return Ok(load::<T>(&txn, tenant, &name).await?.resource);
    }
    resource.check_references(&txn, tenant, None).await?;
    documents::insert(
        &txn,
        T::COLLECTION,
        tenant.0,
        id,
        resource.encode_to_vec(),
        now,
        &resource.columns(),
    )
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            TenantsError::AlreadyExists(resource.name().to_owned())
        } else {
            error.into()
        }
    })?;
    remember(
        &txn,
        tenant,
        request_id,
        T::CREATE_METHOD,
        resource.name(),
        now,
    )
    .await?;
    let resource = resource.view(&txn, tenant, 1).await?;
    T::publish(&txn, tenant, resource.name(), Some(resource.clone()), now).await?;
    txn.commit().await?;
    shared.outbox.notify();
    Ok(resource)
}

/// Applies `patch` to the resource it names: `apply` takes the current
/// resource, the patch and the mask's `paths`. ABORTED when the patch's etag
/// is stale or another write came first.
pub(super) async fn update<T: OrgDocument>(
    shared: &Shared,
    tenant: TenantId,
    patch: T,
    paths: &[String],
    apply: fn(&T, &T, &[String], DateTime<Utc>) -> Result<T>,
) -> Result<T> {
    let now = shared.clock.now();
    let txn = shared.begin_for_tenant(tenant).await?;
    let current = load::<T>(&txn, tenant, patch.name()).await?;
    let stale = || TenantsError::StaleEtag(current.resource.name().to_owned());
    if let Some(etag) = patch.etag()
        && !store::etag_matches(etag, current.revision)
    {
        return Err(stale());
    }
    let updated = apply(&current.resource, &patch, paths, now)?;
    updated
        .check_references(&txn, tenant, Some(&current.resource))
        .await?;
    let replaced = documents::replace(
        &txn,
        T::COLLECTION,
        tenant.0,
        &current.id,
        current.revision,
        updated.encode_to_vec(),
        &updated.columns(),
    )
    .await?;
    if !replaced && patch.etag().is_some() {
        return Err(stale());
    }
    let updated = updated.view(&txn, tenant, current.revision + 1).await?;
    T::publish(&txn, tenant, updated.name(), Some(updated.clone()), now).await?;
    txn.commit().await?;
    shared.outbox.notify();
    Ok(updated)
}

/// Deletes the resource `name` once `release` has cleared what depends on
/// it.
pub(super) async fn delete<T: OrgDocument>(
    shared: &Shared,
    tenant: TenantId,
    name: &str,
) -> Result<()> {
    let now = shared.clock.now();
    let txn = shared.begin_for_tenant(tenant).await?;
    let Stored { resource, id, .. } = load::<T>(&txn, tenant, name).await?;
    resource.release(&txn, tenant, &id, now).await?;
    documents::delete(&txn, T::COLLECTION, tenant.0, &id)
        .await
        .map_err(|error| match (error.sql_err(), resource.in_use()) {
            (Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)), Some(in_use)) => in_use,
            _ => error.into(),
        })?;
    T::publish(&txn, tenant, resource.name(), None, now).await?;
    txn.commit().await?;
    shared.outbox.notify();
    Ok(())
}
