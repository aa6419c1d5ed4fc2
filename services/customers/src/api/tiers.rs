//! Tiers (客户等级) and their rules. Every change of a tier re-tiers the
//! tenant's customers that are not locked by hand, in the same transaction
//! (see `classify`), each move publishing `CustomerTierChanged`. A tier's
//! `customer_count` is counted from the customers when read, so it is never
//! out of step.

use kefu_kit::{
    context::TenantId, db::is_unique_violation, events::to_timestamp, idempotency, resource,
};
use kefu_proto::v1::{
    CreateTierRequest, DeleteTierRequest, GetTierRequest, ListTiersRequest, ListTiersResponse,
    Tier, UpdateTierRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};

use super::{Shared, caller, classify, page_size, records::check_request_id, required};
use crate::{
    domain::tiers::{check_tier, is_tier_id},
    error::{CustomersError, Result},
    store::tiers::{self, StoredTier},
};

/// The paths UpdateTier may change.
const MUTABLE: &[&str] = &["label", "rank", "rules", "dedicated_agent", "description"];

/// The tier id in `tiers/{id}`, or NOT_FOUND naming it.
fn tier_id(name: &str) -> Result<&str> {
    resource::id_in(name, "tiers").ok_or_else(|| CustomersError::not_found(name))
}

/// `stored` with its customer count.
async fn with_count(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    stored: StoredTier,
) -> Result<Tier> {
    let counts = tiers::customer_counts(txn, tenant.0, false).await?;
    let mut tier = stored.tier;
    let id = tier.name.strip_prefix("tiers/").unwrap_or_default();
    tier.customer_count = counts.get(id).copied().unwrap_or(0);
    Ok(tier)
}

/// ALREADY_EXISTS when another tier than `id` holds `rank`.
async fn check_rank_free(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    rank: i32,
    id: &str,
) -> Result<()> {
    match tiers::rank_holder(txn, tenant.0, rank, id).await? {
        Some(holder) => Err(CustomersError::AlreadyExists(
            format!("tier.rank {rank} is already the rank of tiers/{holder}"),
            None,
        )),
        None => Ok(()),
    }
}

/// CreateTier.
pub(super) async fn create_tier(
    shared: &Shared,
    request: Request<CreateTierRequest>,
) -> Result<Response<Tier>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let input = required(request.tier, "tier")?;
    if !is_tier_id(&request.tier_id) {
        return Err(CustomersError::invalid(
            "tier_id",
            "tier_id is required: 1 to 50 characters of [a-z0-9-], starting with a letter",
        )
        .into());
    }
    check_tier(&input)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id)
            .await
            .map_err(CustomersError::from)?
    {
        let id = tier_id(&remembered.resource_name)?;
        let stored = tiers::get(&txn, tenant.0, id, false)
            .await
            .map_err(CustomersError::from)?
            .ok_or_else(|| CustomersError::not_found(&remembered.resource_name))?;
        return Ok(Response::new(with_count(&txn, tenant, stored).await?));
    }
    let name = format!("tiers/{}", request.tier_id);
    if tiers::get(&txn, tenant.0, &request.tier_id, false)
        .await
        .map_err(CustomersError::from)?
        .is_some()
    {
        return Err(CustomersError::AlreadyExists(format!("{name} already exists"), None).into());
    }
    check_rank_free(&txn, tenant, input.rank, &request.tier_id).await?;
    let tier = Tier {
        name: name.clone(),
        label: input.label,
        rank: input.rank,
        rules: input.rules,
        dedicated_agent: input.dedicated_agent,
        description: input.description,
        customer_count: 0,
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        etag: String::new(),
    };
    match tiers::insert(&txn, tenant.0, &request.tier_id, &tier, now).await {
        Err(error) if is_unique_violation(&error) => {
            return Err(CustomersError::AlreadyExists(
                format!("{name} or its rank is taken"),
                None,
            )
            .into());
        }
        other => other.map_err(CustomersError::from)?,
    }
    classify::reclassify_all(&txn, tenant, now).await?;
    if !request.request_id.is_empty() {
        idempotency::remember(
            &txn,
            tenant.0,
            &request.request_id,
            "CreateTier",
            &name,
            now,
        )
        .await
        .map_err(CustomersError::from)?;
    }
    let created = with_count(
        &txn,
        tenant,
        StoredTier {
            tier: Tier {
                etag: resource::etag(1),
                ..tier
            },
            revision: 1,
        },
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(created))
}

/// GetTier.
pub(super) async fn get_tier(
    shared: &Shared,
    request: Request<GetTierRequest>,
) -> Result<Response<Tier>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = &request.get_ref().name;
    let id = tier_id(name)?;
    let txn = shared.begin_read(tenant).await?;
    let stored = tiers::get(&txn, tenant.0, id, false)
        .await
        .map_err(CustomersError::from)?
        .ok_or_else(|| CustomersError::not_found(name))?;
    let tier = with_count(&txn, tenant, stored).await?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(tier))
}

/// ListTiers: by rank; a tenant has a handful, so pages are offsets.
pub(super) async fn list_tiers(
    shared: &Shared,
    request: Request<ListTiersRequest>,
) -> Result<Response<ListTiersResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let offset = if request.page_token.is_empty() {
        0
    } else {
        request
            .page_token
            .strip_prefix('o')
            .and_then(|offset| offset.parse::<usize>().ok())
            .ok_or_else(|| {
                CustomersError::invalid("page_token", "page_token is not a token of this list")
            })?
    };
    let txn = shared.begin_read(tenant).await?;
    let all = tiers::list(&txn, tenant.0)
        .await
        .map_err(CustomersError::from)?;
    let counts = tiers::customer_counts(&txn, tenant.0, false)
        .await
        .map_err(CustomersError::from)?;
    txn.commit().await.map_err(CustomersError::from)?;
    let total = all.len();
    let page: Vec<Tier> = all
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|stored| {
            let mut tier = stored.tier;
            let id = tier.name.strip_prefix("tiers/").unwrap_or_default();
            tier.customer_count = counts.get(id).copied().unwrap_or(0);
            tier
        })
        .collect();
    let next = offset + page.len();
    Ok(Response::new(ListTiersResponse {
        tiers: page,
        next_page_token: if next < total {
            format!("o{next}")
        } else {
            String::new()
        },
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    }))
}

/// UpdateTier.
pub(super) async fn update_tier(
    shared: &Shared,
    request: Request<UpdateTierRequest>,
) -> Result<Response<Tier>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let input = required(request.tier, "tier")?;
    let mask = required(request.update_mask, "update_mask")?;
    if mask.paths.is_empty() {
        return Err(CustomersError::invalid(
            "update_mask",
            "update_mask must list the paths to change",
        )
        .into());
    }
    if let Some(path) = mask
        .paths
        .iter()
        .find(|path| !MUTABLE.contains(&path.as_str()))
    {
        return Err(CustomersError::invalid(
            "update_mask",
            format!(
                "update_mask names {path:?}, which UpdateTier cannot change; mutable: {}",
                MUTABLE.join(", ")
            ),
        )
        .into());
    }
    let id = tier_id(&input.name)?.to_owned();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = tiers::get(&txn, tenant.0, &id, true)
        .await
        .map_err(CustomersError::from)?
        .ok_or_else(|| CustomersError::not_found(&input.name))?;
    if !resource::etag_matches(&input.etag, stored.revision) {
        return Err(CustomersError::StaleEtag(input.name).into());
    }
    let mut tier = stored.tier.clone();
    for path in &mask.paths {
        match path.as_str() {
            "label" => tier.label = input.label.clone(),
            "rank" => tier.rank = input.rank,
            "rules" => tier.rules = input.rules.clone(),
            "dedicated_agent" => tier.dedicated_agent = input.dedicated_agent,
            _ => tier.description = input.description.clone(),
        }
    }
    check_tier(&tier)?;
    if tier.rank != stored.tier.rank {
        check_rank_free(&txn, tenant, tier.rank, &id).await?;
    }
    tier.update_time = Some(to_timestamp(now));
    tier.etag = resource::etag(stored.revision + 1);
    match tiers::replace(&txn, tenant.0, &id, stored.revision, &tier).await {
        Ok(true) => {}
        Ok(false) => return Err(CustomersError::StaleEtag(input.name).into()),
        Err(error) if is_unique_violation(&error) => {
            return Err(CustomersError::AlreadyExists(
                format!("tier.rank {} is taken", tier.rank),
                None,
            )
            .into());
        }
        Err(error) => return Err(CustomersError::from(error).into()),
    }
    if tier.rank != stored.tier.rank || tier.rules != stored.tier.rules {
        classify::reclassify_all(&txn, tenant, now).await?;
    }
    let updated = with_count(
        &txn,
        tenant,
        StoredTier {
            tier,
            revision: stored.revision + 1,
        },
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(updated))
}

/// DeleteTier.
pub(super) async fn delete_tier(
    shared: &Shared,
    request: Request<DeleteTierRequest>,
) -> Result<Response<()>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let id = tier_id(&request.name)?.to_owned();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = tiers::get(&txn, tenant.0, &id, true)
        .await
        .map_err(CustomersError::from)?
        .ok_or_else(|| CustomersError::not_found(&request.name))?;
    if !resource::etag_matches(&request.etag, stored.revision) {
        return Err(CustomersError::StaleEtag(request.name).into());
    }
    let locked = tiers::customer_counts(&txn, tenant.0, true)
        .await
        .map_err(CustomersError::from)?
        .get(&id)
        .copied()
        .unwrap_or(0);
    if locked > 0 {
        return Err(CustomersError::FailedPrecondition(
            format!(
                "{} is set by hand on {locked} customers; unlock them (tier_locked = false) or move them first",
                request.name
            ),
            "TIER_IN_USE",
        )
        .into());
    }
    tiers::delete(&txn, tenant.0, &id)
        .await
        .map_err(CustomersError::from)?;
    // Its customers fall to the next tier whose rules they match.
    classify::reclassify_all(&txn, tenant, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}
