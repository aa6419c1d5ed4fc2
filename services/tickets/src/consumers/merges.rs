//! Tickets follow customer merges (customers service): on CustomersMerged
//! every ticket of the merged customer is repointed to the survivor (one
//! customer = one history) and remembered; on CustomerMergeUndone exactly
//! those tickets go back to the restored customer, while tickets created
//! for the survivor since stay. Each repoint is an audited change.

use chrono::{DateTime, Utc};
use kefu_kit::context::TenantId;
use kefu_proto::v1::{CustomerMergeUndone, CustomersMerged, TicketAuditAction};
use sea_orm::DatabaseTransaction;

use crate::{
    api::system_actor,
    domain::ticket::id_of,
    error::Result,
    store::{
        directory,
        tickets::{self, Prefilter},
    },
};

/// Repoints the merged customer's tickets to the survivor.
pub(super) async fn customers_merged(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    merged: &CustomersMerged,
    now: DateTime<Utc>,
) -> Result<()> {
    if merged.merged.is_empty() || merged.survivor.is_empty() || merged.merged == merged.survivor {
        return Ok(());
    }
    let prefilter = Prefilter {
        customer: Some(merged.merged.clone()),
        ..Prefilter::default()
    };
    let actor = system_actor();
    let note = format!("{} 合并入 / merged into {}", merged.merged, merged.survivor);
    for before in tickets::candidates(txn, tenant, &prefilter).await? {
        let Some(id) = id_of(&before.name) else {
            continue;
        };
        let mut after = before.clone();
        after.customer = merged.survivor.clone();
        tickets::save_change_related(
            txn,
            tenant,
            &before,
            &mut after,
            &actor,
            TicketAuditAction::Updated,
            &note,
            &merged.customer_merge,
            now,
        )
        .await?;
        directory::record_repoint(txn, tenant, &merged.customer_merge, id, &merged.merged).await?;
    }
    Ok(())
}

/// Moves back the tickets the undone merge had repointed (those still on
/// the survivor).
pub(super) async fn merge_undone(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    undone: &CustomerMergeUndone,
    now: DateTime<Utc>,
) -> Result<()> {
    let actor = system_actor();
    let note = format!("{} 合并撤销 / merge undone", undone.merged);
    for (id, merged) in directory::repointed(txn, tenant, &undone.customer_merge).await? {
        let Some(before) = tickets::find(txn, tenant, id).await? else {
            continue;
        };
        if before.customer != undone.survivor {
            continue;
        }
        let mut after = before.clone();
        after.customer = merged;
        tickets::save_change_related(
            txn,
            tenant,
            &before,
            &mut after,
            &actor,
            TicketAuditAction::Updated,
            &note,
            &undone.customer_merge,
            now,
        )
        .await?;
    }
    directory::forget_repoints(txn, tenant, &undone.customer_merge).await
}
