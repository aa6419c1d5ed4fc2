//! UpdateTenant (the operator), UpdateCurrentTenant (the tenant's admin)
//! and SetTenantPlacement: profile, calendar, settings and placement of a
//! tenant, each change and its events in one transaction.

use kefu_kit::{
    context::{CallContext, PrincipalKind, TenantId},
    db::begin_platform,
    events::{from_timestamp, new_event},
    outbox,
};
use kefu_proto::v1::{
    Actor, BusinessCalendarChanged, SetTenantPlacementRequest, Tenant, TenantPlacementChanged,
    TenantState, TenantUpdated, UpdateCurrentTenantRequest, UpdateTenantRequest,
};
use sea_orm::DatabaseTransaction;

use super::{identity::actor_of, require_admin, require_operator, tenant::TenantApi};
use crate::{
    NAME,
    domain::{mask, names, settings as rules},
    error::{Result, TenantsError},
    store::{self, identity as users, tenants::StoredTenant},
};

/// Who did it, as history shows it: a user's display name is read now so
/// it survives a later rename.
pub(super) async fn actor(txn: &DatabaseTransaction, caller: &CallContext) -> Result<Actor> {
    let mut actor = actor_of(caller);
    if caller.principal.kind == PrincipalKind::User
        && let (Some(tenant), Ok(user)) =
            (caller.tenant_id, caller.principal.id.parse::<uuid::Uuid>())
        && let Some(stored) = users::get_user(txn, tenant.0, user).await?
    {
        actor.display_name = stored.user.display_name;
    }
    Ok(actor)
}

pub(super) fn tenant_not_found(name: &str) -> TenantsError {
    TenantsError::NotFound(format!("tenant {name:?}"))
}

fn purge_time_of(tenant: &Tenant) -> Option<chrono::DateTime<chrono::Utc>> {
    tenant.purge_time.as_ref().and_then(from_timestamp)
}

/// Stores `stored.tenant` over revision `stored.revision`, or ABORTED.
pub(super) async fn replace_tenant(txn: &DatabaseTransaction, stored: &StoredTenant) -> Result<()> {
    let replaced = store::tenants::replace(
        txn,
        stored.id,
        stored.revision,
        &stored.tenant,
        purge_time_of(&stored.tenant),
    )
    .await?;
    if replaced {
        Ok(())
    } else {
        Err(TenantsError::StaleEtag(stored.tenant.name.clone()))
    }
}

impl TenantApi {
    /// Applies a masked update to `stored` in `txn` and commits it with
    /// TenantUpdated (and BusinessCalendarChanged for calendar paths).
    async fn apply_tenant_update(
        &self,
        txn: DatabaseTransaction,
        mut stored: StoredTenant,
        requested: &Tenant,
        mask: Option<&prost_types::FieldMask>,
        editor: rules::Editor,
        actor: Actor,
    ) -> Result<Tenant> {
        let paths = mask::required_paths(mask)?;
        if !store::etag_matches(&requested.etag, stored.revision) {
            return Err(TenantsError::StaleEtag(stored.tenant.name.clone()));
        }
        if stored.tenant.state == TenantState::Deleting as i32 {
            return Err(TenantsError::IllegalTransition(
                "the tenant is being deleted; its settings no longer change".into(),
                None,
            ));
        }
        let now = self.0.clock.now();
        let changes = rules::apply_update(&mut stored.tenant, requested, &paths, editor, now)?;
        if changes.paths.is_empty() {
            // Nothing differs: no new revision, no event to wake every
            // service for.
            txn.commit().await?;
            return Ok(stored.tenant);
        }
        replace_tenant(&txn, &stored).await?;
        let tenant_id = Some(TenantId(stored.id));
        let name = stored.tenant.name.clone();
        let updated = TenantUpdated {
            tenant: Some(Tenant {
                placement: None,
                etag: store::etag(stored.revision + 1),
                ..stored.tenant.clone()
            }),
            changed_paths: changes.paths.clone(),
            actor: Some(actor.clone()),
        };
        outbox::append(&txn, &new_event(NAME, tenant_id, &name, &updated, now)).await?;
        if changes.calendar {
            let calendar = BusinessCalendarChanged {
                calendar: stored.tenant.calendar.clone(),
                time_zone: stored.tenant.time_zone.clone(),
                tenant: name.clone(),
                actor: Some(actor),
            };
            outbox::append(&txn, &new_event(NAME, tenant_id, &name, &calendar, now)).await?;
        }
        txn.commit().await?;
        self.0.outbox.notify();
        stored.tenant.etag = store::etag(stored.revision + 1);
        Ok(stored.tenant)
    }

    /// UpdateTenant.
    pub(super) async fn update_tenant_as_operator(
        &self,
        caller: &CallContext,
        request: UpdateTenantRequest,
    ) -> Result<Tenant> {
        require_operator(caller)?;
        let requested = request
            .tenant
            .ok_or_else(|| TenantsError::invalid("tenant", "is required"))?;
        if requested.name.is_empty() {
            return Err(TenantsError::invalid("tenant.name", "is required"));
        }
        let id = names::uuid_in(&requested.name, "tenants")
            .ok_or_else(|| tenant_not_found(&requested.name))?;
        let txn = begin_platform(&self.0.db).await?;
        let stored = store::tenants::get(&txn, id)
            .await?
            .ok_or_else(|| tenant_not_found(&requested.name))?;
        let actor = actor(&txn, caller).await?;
        self.apply_tenant_update(
            txn,
            stored,
            &requested,
            request.update_mask.as_ref(),
            rules::Editor::Operator,
            actor,
        )
        .await
    }

    /// UpdateCurrentTenant.
    pub(super) async fn update_current(
        &self,
        caller: &CallContext,
        request: UpdateCurrentTenantRequest,
    ) -> Result<Tenant> {
        let tenant = require_admin(caller)?;
        let requested = request
            .tenant
            .ok_or_else(|| TenantsError::invalid("tenant", "is required"))?;
        let own_name = names::tenant(tenant.0);
        if !requested.name.is_empty() && requested.name != own_name {
            return Err(tenant_not_found(&requested.name));
        }
        let txn = self.0.begin_for_tenant(tenant).await?;
        let stored = store::tenants::get(&txn, tenant.0)
            .await?
            .ok_or_else(|| tenant_not_found("current tenant"))?;
        let actor = actor(&txn, caller).await?;
        let updated = self
            .apply_tenant_update(
                txn,
                stored,
                &requested,
                request.update_mask.as_ref(),
                rules::Editor::TenantAdmin,
                actor,
            )
            .await?;
        Ok(Tenant {
            placement: None,
            ..updated
        })
    }

    /// SetTenantPlacement.
    pub(super) async fn set_placement(
        &self,
        caller: &CallContext,
        request: SetTenantPlacementRequest,
    ) -> Result<Tenant> {
        require_operator(caller)?;
        let id = names::uuid_in(&request.name, "tenants")
            .ok_or_else(|| tenant_not_found(&request.name))?;
        let now = self.0.clock.now();
        let placement = rules::placement(request.placement.as_ref(), now)?;
        let txn = begin_platform(&self.0.db).await?;
        let mut stored = store::tenants::get(&txn, id)
            .await?
            .ok_or_else(|| tenant_not_found(&request.name))?;
        rules::check_silo(&stored.tenant)?;
        stored.tenant.placement = Some(placement.clone());
        stored.tenant.update_time = placement.update_time;
        replace_tenant(&txn, &stored).await?;
        let event = TenantPlacementChanged {
            tenant: stored.tenant.name.clone(),
            placement: Some(placement),
        };
        outbox::append(
            &txn,
            &new_event(NAME, Some(TenantId(id)), &stored.tenant.name, &event, now),
        )
        .await?;
        txn.commit().await?;
        self.0.outbox.notify();
        stored.tenant.etag = store::etag(stored.revision + 1);
        Ok(stored.tenant)
    }
}
