//! What the archive derives from a customer when it is written: the custom
//! attributes checked against the tenant's schema, the tier from the rules
//! (unless locked by hand), and segment membership; and the events when a
//! write moves a customer between tiers or segments.
//!
//! The derived fields live in the stored customer (`tier`, `segments`,
//! `attributes_valid`), so every read (Get, List, Search, export) shows
//! them without a join; `segment_members` mirrors `segments` for the
//! searches by segment. A customer's own write derives them in its
//! transaction. A change of the rules (a tier, a segment, the schema)
//! re-derives every ACTIVE customer of the tenant in the transaction of
//! that change, in batches: the change and every move it causes, with their
//! events, commit together or not at all. That holds the writing
//! transaction for a moment per thousand customers; tenants of hundreds of
//! thousands of customers would want it moved to a background worker.
//! Derived fields are written in place without a new revision: they are
//! not the caller's edits, so they do not make a caller's etag stale.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use kefu_kit::{context::TenantId, events::from_timestamp};
use kefu_proto::v1::{
    Customer, CustomerAttributeDefinition, CustomerSegmentMembershipChanged, CustomerTierChanged,
    Tier,
};
use sea_orm::DatabaseTransaction;

use super::append_event;
use crate::{
    domain::{
        attributes,
        filter::{self, Filter, Vocabulary},
        tiers,
    },
    error::{CustomersError, Result},
    store::{
        customers::{self, Stored},
        schema, segments, tiers as tier_store,
    },
};

/// Customers read per batch when a rule change re-derives them all.
const BATCH: usize = 500;

/// The tenant's rules, read once per transaction.
pub(crate) struct Classifier {
    definitions: Vec<CustomerAttributeDefinition>,
    tiers: Vec<Tier>,
    segments: Vec<(String, Filter)>,
}

/// The attribute definitions of the tenant's schema (none when never set).
pub(crate) async fn definitions(
    txn: &DatabaseTransaction,
    tenant: TenantId,
) -> Result<Vec<CustomerAttributeDefinition>> {
    Ok(schema::get(txn, tenant.0, false)
        .await?
        .map(|(schema, _)| schema.attributes)
        .unwrap_or_default())
}

/// The filter vocabulary of the tenant: its attribute keys and types.
pub(crate) fn vocabulary(
    definitions: &[CustomerAttributeDefinition],
    without_segments: bool,
) -> Vocabulary {
    Vocabulary {
        attributes: attributes::types(definitions),
        without_segments,
    }
}

impl Classifier {
    /// The tenant's schema, tiers and segments as they are in `txn`.
    pub(crate) async fn load(txn: &DatabaseTransaction, tenant: TenantId) -> Result<Self> {
        let definitions = definitions(txn, tenant).await?;
        let tiers = tier_store::list(txn, tenant.0)
            .await?
            .into_iter()
            .map(|stored| stored.tier)
            .collect();
        let vocabulary = vocabulary(&definitions, true);
        let mut parsed = Vec::new();
        for stored in segments::list(txn, tenant.0).await? {
            let id = stored
                .segment
                .name
                .strip_prefix("segments/")
                .unwrap_or_default()
                .to_owned();
            match filter::parse(&stored.segment.filter, &vocabulary) {
                Ok(filter) => parsed.push((id, filter)),
                // A schema change can remove an attribute a saved filter
                // names: the segment then matches nobody until its filter
                // is fixed, rather than failing every customer write.
                Err(error) => tracing::warn!(
                    segment = %stored.segment.name,
                    error = %error,
                    "segment filter no longer parses; it matches no customer"
                ),
            }
        }
        Ok(Self {
            definitions,
            tiers,
            segments: parsed,
        })
    }

    /// Sets the derived fields of an ACTIVE `customer` for `today`: its tier
    /// (unless locked), whether its attributes fit the schema, and the
    /// segments whose filters it matches.
    pub(crate) fn derive(&self, customer: &mut Customer, today: NaiveDate) {
        if !customer.tier_locked {
            customer.tier = tiers::qualifying_tier(&self.tiers, customer, today)
                .unwrap_or_default()
                .to_owned();
        }
        customer.attributes_valid =
            attributes::check_values(&self.definitions, customer.attributes.as_ref(), true)
                .is_none();
        // Filters never read `segments`, so the order does not matter.
        customer.segments = self
            .segments
            .iter()
            .filter(|(_, filter)| filter.matches(customer))
            .map(|(id, _)| format!("segments/{id}"))
            .collect();
    }
}

/// The segment ids of `segments/{id}` names.
fn ids(names: &[String]) -> BTreeSet<String> {
    names
        .iter()
        .filter_map(|name| name.strip_prefix("segments/"))
        .map(str::to_owned)
        .collect()
}

/// Appends the events of a move from `before` to `after` (derived fields
/// already set), and brings `segment_members` in line.
async fn record_moves(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: &str,
    (before_tier, before_segments): (&str, &BTreeSet<String>),
    after: &Customer,
    now: DateTime<Utc>,
    publish: bool,
) -> Result<()> {
    let after_segments = ids(&after.segments);
    let entered: Vec<String> = after_segments
        .difference(before_segments)
        .cloned()
        .collect();
    let left: Vec<String> = before_segments
        .difference(&after_segments)
        .cloned()
        .collect();
    if !entered.is_empty() || !left.is_empty() {
        // Entering rows are deleted first, so a row left over from an
        // earlier write cannot make the insert collide.
        let mut stale = left.clone();
        stale.extend(entered.iter().cloned());
        segments::move_member(txn, tenant.0, id, &entered, &stale).await?;
    }
    if !publish {
        return Ok(());
    }
    if before_tier != after.tier {
        let event = CustomerTierChanged {
            customer: after.name.clone(),
            previous_tier: before_tier.to_owned(),
            new_tier: after.tier.clone(),
            manual: after.tier_locked,
        };
        append_event(txn, tenant, &after.name, &event, now).await?;
    }
    if !entered.is_empty() || !left.is_empty() {
        let name = |segment: &String| format!("segments/{segment}");
        let event = CustomerSegmentMembershipChanged {
            customer: after.name.clone(),
            entered: entered.iter().map(name).collect(),
            left: left.iter().map(name).collect(),
            member: after.member,
        };
        append_event(txn, tenant, &after.name, &event, now).await?;
    }
    Ok(())
}

/// Checks the custom attributes of `customer` against the tenant's schema
/// (`prefix`: the field path of the customer in the request) and sets its
/// derived fields (`attributes_valid`; the tier and segments follow in
/// [`after_write`]), before it is stored. A hand-set tier must exist
/// (NOT_FOUND `UNKNOWN_TIER`).
///
/// The attributes are checked strictly (every value, and required keys
/// present) on create and when the write changes them; a write that leaves
/// them as they were only re-reads whether they still fit, so a schema
/// change never blocks unrelated edits of customers it invalidated.
pub async fn before_write(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &mut Customer,
    prefix: &str,
) -> Result<()> {
    let definitions = definitions(txn, tenant).await?;
    let unchanged = match customers::id_of(&customer.name) {
        Some(id) => customers::get(txn, tenant.0, id, false)
            .await?
            .is_some_and(|stored| stored.customer.attributes == customer.attributes),
        None => false,
    };
    let problem = attributes::check_values(&definitions, customer.attributes.as_ref(), true);
    match problem {
        Some(problem) if !unchanged => return Err(attributes::problem_error(&problem, prefix)),
        problem => customer.attributes_valid = problem.is_none(),
    }
    if customer.tier_locked && !customer.tier.is_empty() {
        let known = match kefu_kit::resource::id_in(&customer.tier, "tiers") {
            Some(id) => tier_exists(txn, tenant, id).await?,
            None => false,
        };
        if !known {
            return Err(CustomersError::NotFound(
                customer.tier.clone(),
                Some("UNKNOWN_TIER"),
            ));
        }
    }
    Ok(())
}

/// After `customer` was stored (`previous`: before the write, `None` when
/// created): its tier (unless locked) and segment membership are brought
/// up to date, stored in place, and `CustomerTierChanged` /
/// `CustomerSegmentMembershipChanged` appended when it moved (a new
/// customer's CustomerCreated carries both). Fills `customer.segments`.
/// A MERGED or ERASED customer leaves every segment.
pub async fn after_write(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &mut Customer,
    previous: Option<&Customer>,
) -> Result<()> {
    let id = customers::id_of(&customer.name)
        .ok_or_else(|| {
            CustomersError::Internal(format!("stored customer named {}", customer.name))
        })?
        .to_owned();
    let stored_tier = customer.tier.clone();
    let stored_segments = customer.segments.clone();
    let recorded: BTreeSet<String> = segments::memberships(txn, tenant.0, &id)
        .await?
        .into_iter()
        .collect();
    // Records set the update time to the transaction's clock reading.
    let now = customer
        .update_time
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| CustomersError::Internal(format!("{} has no update time", customer.name)))?;
    if customers::is_active(customer) {
        Classifier::load(txn, tenant)
            .await?
            .derive(customer, now.date_naive());
    } else {
        customer.segments.clear();
    }
    let before_tier = previous.map_or(stored_tier.as_str(), |previous| previous.tier.as_str());
    record_moves(
        txn,
        tenant,
        &id,
        (before_tier, &recorded),
        customer,
        now,
        previous.is_some(),
    )
    .await?;
    if customer.tier != stored_tier || customer.segments != stored_segments {
        segments::write_derived(txn, tenant.0, &id, None, customer).await?;
    }
    Ok(())
}

/// Re-derives every ACTIVE customer of the tenant after its rules changed
/// (a tier, a segment or the schema), in `txn`: each customer whose tier
/// or segments move is stored in place with its events. Returns how many
/// moved.
pub(crate) async fn reclassify_all(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<u64> {
    let classifier = Classifier::load(txn, tenant).await?;
    let today = now.date_naive();
    let mut after: Option<String> = None;
    let mut moved = 0;
    loop {
        let batch = segments::active_batch(txn, tenant.0, after.as_deref(), BATCH, &[]).await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = customers::id_of(&last.customer.name).map(str::to_owned);
        for Stored { customer, revision } in batch {
            let mut derived = customer.clone();
            classifier.derive(&mut derived, today);
            if derived.tier == customer.tier
                && derived.segments == customer.segments
                && derived.attributes_valid == customer.attributes_valid
            {
                continue;
            }
            let Some(id) = customers::id_of(&customer.name) else {
                continue;
            };
            if !segments::write_derived(txn, tenant.0, id, Some(revision), &derived).await? {
                // Changed by a concurrent write, which derived its fields
                // itself.
                continue;
            }
            record_moves(
                txn,
                tenant,
                id,
                (&customer.tier, &ids(&customer.segments)),
                &derived,
                now,
                true,
            )
            .await?;
            moved += 1;
        }
        if after.is_none() {
            break;
        }
    }
    Ok(moved)
}

/// Whether `tiers/{id}` exists in the tenant.
pub async fn tier_exists(txn: &DatabaseTransaction, tenant: TenantId, id: &str) -> Result<bool> {
    Ok(tier_store::get(txn, tenant.0, id, false).await?.is_some())
}

/// Whether `segments/{id}` exists in the tenant.
pub async fn segment_exists(txn: &DatabaseTransaction, tenant: TenantId, id: &str) -> Result<bool> {
    Ok(segments::exists(txn, tenant.0, id).await?)
}

/// Before customer `id` is deleted: its segment memberships go.
pub async fn before_delete(txn: &DatabaseTransaction, tenant: TenantId, id: &str) -> Result<()> {
    Ok(segments::remove_customer(txn, tenant.0, id).await?)
}
