//! Duplicates and merges (合并), reversible by record.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, PrincipalKind, TenantId},
    events::to_timestamp,
    idempotency,
};
use kefu_proto::v1::{
    Actor, ActorKind, CustomerMerge, CustomerMergeState, CustomerMergeUndone,
    CustomerOwnerAssigned, CustomerState, CustomersMerged, FindDuplicateCustomersRequest,
    FindDuplicateCustomersResponse, GetCustomerMergeRequest, ListCustomerMergesRequest,
    ListCustomerMergesResponse, MergeCustomersRequest, OwnershipChange, OwnershipChangeKind,
    UndoCustomerMergeRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, append_event, caller, classify, page_size,
    records::{REGION, check_request_id, load, replace_customer},
};
use crate::{
    domain::{
        customer::{lookup_keys, normalise, sort_key},
        duplicates::{self, Cursor, DEFAULT_MIN_SCORE, Profile},
        merge::{self, Condition, FieldKind, MergeSnapshot},
    },
    error::{CustomersError, Result},
    store::{
        customers::{self, Stored},
        merges::{self as store, After},
    },
};

/// The tables whose rows follow a customer through a merge (both keep
/// `customer_id` as a plain column for this).
pub(crate) const ACTIVITIES: &str = "customer_activities";
const OWNERSHIP_CHANGES: &str = "customer_ownership_changes";

/// Who did it, as records and events show it.
pub(super) fn actor_of(context: &CallContext) -> Actor {
    match context.principal.kind {
        PrincipalKind::User => Actor {
            kind: ActorKind::User as i32,
            name: format!("users/{}", context.principal.id),
            display_name: String::new(),
        },
        PrincipalKind::ApiKey => Actor {
            kind: ActorKind::ApiKey as i32,
            name: format!("apiKeys/{}", context.principal.id),
            display_name: String::new(),
        },
        _ => Actor {
            kind: ActorKind::System as i32,
            ..Actor::default()
        },
    }
}

/// A text of at most `max` characters, or INVALID_ARGUMENT naming `field`.
pub(super) fn at_most(value: &str, max: usize, field: &str) -> Result<()> {
    if value.chars().count() > max {
        return Err(CustomersError::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(())
}

fn merge_name(id: Uuid) -> String {
    format!("customerMerges/{id}")
}

/// The id in `customerMerges/{id}`; NOT_FOUND for anything else (it names
/// no record the caller could have).
fn merge_id(name: &str) -> Result<Uuid> {
    kefu_kit::resource::id_in(name, "customerMerges")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| CustomersError::not_found(name))
}

fn id_of(name: &str) -> Result<String> {
    customers::id_of(name)
        .map(str::to_owned)
        .ok_or_else(|| CustomersError::Internal(format!("stored customer named {name}")))
}

fn not_undoable(message: String) -> CustomersError {
    CustomersError::FailedPrecondition(message, "MERGE_NOT_UNDOABLE")
}

/// FindDuplicateCustomers.
pub(super) async fn find_duplicate_customers(
    shared: &Shared,
    request: Request<FindDuplicateCustomersRequest>,
) -> Result<Response<FindDuplicateCustomersResponse>, Status> {
    Ok(Response::new(
        find_duplicate_customers_in(shared, request).await?,
    ))
}

async fn find_duplicate_customers_in(
    shared: &Shared,
    request: Request<FindDuplicateCustomersRequest>,
) -> Result<FindDuplicateCustomersResponse> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let min_score = if request.min_score == 0.0 {
        DEFAULT_MIN_SCORE
    } else {
        request.min_score
    };
    if !(0.0..=1.0).contains(&min_score) {
        return Err(CustomersError::invalid(
            "min_score",
            "min_score must be 0 to 1",
        ));
    }
    let limit = page_size(request.page_size)?;
    let after = if request.page_token.is_empty() {
        None
    } else {
        Some(Cursor::from_token(&request.page_token).ok_or_else(|| {
            CustomersError::invalid("page_token", "page_token is not a token of this search")
        })?)
    };
    let txn = shared.begin_read(tenant).await?;
    let candidates = if request.customer.is_empty() {
        tenant_pairs(&txn, tenant, min_score).await?
    } else {
        duplicates_of(&txn, tenant, &request.customer, min_score).await?
    };
    txn.commit().await?;
    let (candidates, next) = duplicates::page(candidates, after.as_ref(), limit);
    Ok(FindDuplicateCustomersResponse {
        candidates,
        next_page_token: next.map(|cursor| cursor.token()).unwrap_or_default(),
    })
}

/// The likely duplicates of the ACTIVE customer `name`: the holders of its
/// phones, e-mails and identifiers and the customers with its sort key,
/// each found through an index, then compared whole.
async fn duplicates_of(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    min_score: f64,
) -> Result<Vec<kefu_proto::v1::DuplicateCandidate>> {
    let stored = load(txn, tenant, name, false).await?;
    if !customers::is_active(&stored.customer) {
        return Err(CustomersError::not_active(name));
    }
    let id = id_of(&stored.customer.name)?;
    let keys = lookup_keys(&stored.customer);
    let mut ids = BTreeSet::new();
    ids.extend(store::holders(txn, tenant.0, "customer_phones", "e164", &keys.phones, &id).await?);
    ids.extend(store::holders(txn, tenant.0, "customer_emails", "email", &keys.emails, &id).await?);
    ids.extend(
        customers::identifier_holders(txn, tenant.0, &keys.identifiers, &id)
            .await?
            .into_iter()
            .map(|(_, holder)| holder),
    );
    ids.extend(store::same_sort_key(txn, tenant.0, &sort_key(&stored.customer), &id).await?);
    let ids: Vec<String> = ids.into_iter().collect();
    let profile = Profile::of(&stored.customer);
    Ok(customers::get_many(txn, tenant.0, &ids)
        .await?
        .iter()
        .filter(|other| customers::is_active(&other.customer))
        .filter_map(|other| {
            duplicates::candidate(&profile, &Profile::of(&other.customer), min_score)
        })
        .collect())
}

/// Every likely duplicate pair of the tenant: groups of customers sharing
/// a phone, an e-mail or a sort key, read from the look-up indexes, then
/// each pair compared whole (so every reason of a pair counts, identifiers
/// included).
async fn tenant_pairs(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    min_score: f64,
) -> Result<Vec<kefu_proto::v1::DuplicateCandidate>> {
    let mut groups = store::shared_groups(txn, tenant.0, "customer_phones", "e164", false).await?;
    groups.extend(store::shared_groups(txn, tenant.0, "customer_emails", "email", false).await?);
    groups.extend(store::shared_groups(txn, tenant.0, "customers", "sort_key", true).await?);
    let mut pairs: BTreeSet<(String, String)> = BTreeSet::new();
    for group in &groups {
        for (index, first) in group.iter().enumerate() {
            for second in &group[index + 1..] {
                let pair = if first < second {
                    (first.clone(), second.clone())
                } else {
                    (second.clone(), first.clone())
                };
                pairs.insert(pair);
            }
        }
    }
    let ids: Vec<String> = pairs
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Only what comparing needs is kept of each customer.
    let mut profiles: HashMap<String, Profile> = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        for stored in customers::get_many(txn, tenant.0, chunk).await? {
            if customers::is_active(&stored.customer) {
                let id = id_of(&stored.customer.name)?;
                profiles.insert(id, Profile::of(&stored.customer));
            }
        }
    }
    Ok(pairs
        .iter()
        .filter_map(|(a, b)| {
            let (first, second) = duplicates::older_first(profiles.get(a)?, profiles.get(b)?);
            duplicates::candidate(first, second, min_score)
        })
        .collect())
}

/// Records, on the survivor, an owner change a merge or its undo made, and
/// publishes CustomerOwnerAssigned so other services move its obligations.
async fn owner_changed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &kefu_proto::v1::Customer,
    previous_owner: &str,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let id = Uuid::now_v7().to_string();
    let change = OwnershipChange {
        name: format!("{}/ownershipChanges/{id}", customer.name),
        previous_owner: previous_owner.to_owned(),
        new_owner: customer.owner.clone(),
        kind: OwnershipChangeKind::Merge as i32,
        reason: reason.to_owned(),
        actor: Some(actor.clone()),
        create_time: Some(to_timestamp(now)),
    };
    store::insert_ownership_change(txn, tenant.0, &id, &id_of(&customer.name)?, &change, now)
        .await?;
    let event = CustomerOwnerAssigned {
        customer: customer.name.clone(),
        previous_owner: previous_owner.to_owned(),
        new_owner: customer.owner.clone(),
        kind: OwnershipChangeKind::Merge as i32,
        reason: reason.to_owned(),
        ownership_change: change.name,
        first_contact_due_time: customer.first_contact_due_time,
    };
    append_event(txn, tenant, &customer.name, &event, now).await
}

/// The customers `first` and `second`, locked in name order so that two
/// merges of the same pair in opposite directions cannot deadlock.
async fn load_pair(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    first: &str,
    second: &str,
) -> Result<(Stored, Stored)> {
    let (a, b) = if first <= second {
        let a = load(txn, tenant, first, true).await;
        (a, load(txn, tenant, second, true).await)
    } else {
        let b = load(txn, tenant, second, true).await;
        (load(txn, tenant, first, true).await, b)
    };
    // Whatever the locking order, a missing `first` is the one named.
    Ok((a?, b?))
}

/// The merge record a request id was used for, when it was.
async fn recalled(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: &str,
) -> Result<Option<CustomerMerge>> {
    if request_id.is_empty() {
        return Ok(None);
    }
    let Some(remembered) = idempotency::recall(txn, tenant.0, request_id).await? else {
        return Ok(None);
    };
    if remembered.method != "MergeCustomers" {
        return Err(CustomersError::invalid(
            "request_id",
            format!("request_id was used for {}", remembered.method),
        ));
    }
    let id = merge_id(&remembered.resource_name)?;
    let (merge, _) = store::get(txn, tenant.0, id, false)
        .await?
        .ok_or_else(|| CustomersError::not_found(&remembered.resource_name))?;
    Ok(Some(merge))
}

/// MergeCustomers.
pub(super) async fn merge_customers(
    shared: &Shared,
    request: Request<MergeCustomersRequest>,
) -> Result<Response<CustomerMerge>, Status> {
    Ok(Response::new(merge_customers_in(shared, request).await?))
}

async fn merge_customers_in(
    shared: &Shared,
    request: Request<MergeCustomersRequest>,
) -> Result<CustomerMerge> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    if request.survivor.is_empty() {
        return Err(CustomersError::invalid("survivor", "survivor is required"));
    }
    if request.merged.is_empty() {
        return Err(CustomersError::invalid("merged", "merged is required"));
    }
    if request.survivor == request.merged {
        return Err(CustomersError::invalid_because(
            "merged",
            "merged names the survivor itself; a customer cannot be merged with itself",
            "SELF_MERGE",
        ));
    }
    let paths = merge::check_paths(&request.merged_field_paths)?;
    at_most(&request.reason, 500, "reason")?;
    check_request_id(&request.request_id)?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if let Some(merge) = recalled(&txn, tenant, &request.request_id).await? {
        return Ok(merge);
    }
    let (survivor, merged) = load_pair(&txn, tenant, &request.survivor, &request.merged).await?;
    for stored in [&survivor, &merged] {
        if !customers::is_active(&stored.customer) {
            return Err(CustomersError::not_active(&stored.customer.name));
        }
    }
    for (stored, etag) in [
        (&survivor, &request.survivor_etag),
        (&merged, &request.merged_etag),
    ] {
        if !kefu_kit::resource::etag_matches(etag, stored.revision) {
            return Err(CustomersError::StaleEtag(stored.customer.name.clone()));
        }
    }
    let survivor_id = id_of(&survivor.customer.name)?;
    let merged_id = id_of(&merged.customer.name)?;
    let mut outcome = merge::merge(&survivor.customer, &merged.customer, &paths)?;
    normalise(&mut outcome.survivor, REGION, "survivor")?;

    // The merged customer retires first: its look-up rows go, which frees
    // its identifiers (and external id, when moved) for the survivor.
    let mut retired = merge::retire(
        &merged.customer,
        &survivor.customer.name,
        outcome.external_id_moved,
    );
    retired.update_time = Some(to_timestamp(now));
    if !customers::replace(&txn, tenant.0, &merged_id, merged.revision, &retired).await? {
        return Err(CustomersError::StaleEtag(merged.customer.name.clone()));
    }
    customers::delete_lookups(&txn, tenant.0, &merged_id).await?;
    classify::before_delete(&txn, tenant, &merged_id).await?;
    let moved_activities =
        store::move_rows(&txn, tenant.0, ACTIVITIES, &merged_id, &survivor_id).await?;
    let moved_ownership_changes =
        store::move_rows(&txn, tenant.0, OWNERSHIP_CHANGES, &merged_id, &survivor_id).await?;

    let actor = actor_of(&context);
    let survivor_after = if outcome.changed_paths.is_empty() {
        survivor.customer.clone()
    } else {
        replace_customer(
            &txn,
            tenant,
            &survivor.customer,
            outcome.survivor.clone(),
            survivor.revision,
            outcome.changed_paths.clone(),
            now,
        )
        .await?
    };
    if survivor_after.owner != survivor.customer.owner {
        owner_changed(
            &txn,
            tenant,
            &survivor_after,
            &survivor.customer.owner,
            &request.reason,
            &actor,
            now,
        )
        .await?;
    }

    let id = Uuid::now_v7();
    let record = CustomerMerge {
        name: merge_name(id),
        survivor: survivor.customer.name.clone(),
        merged: merged.customer.name.clone(),
        merged_field_paths: paths,
        state: CustomerMergeState::Merged as i32,
        reason: request.reason.clone(),
        actor: Some(actor),
        create_time: Some(to_timestamp(now)),
        undo_actor: None,
        undo_time: None,
    };
    let snapshot = MergeSnapshot {
        survivor_before: Some(survivor.customer.clone()),
        survivor_after: Some(survivor_after.clone()),
        merged_before: Some(merged.customer.clone()),
        survivor_revision: survivor.revision,
        merged_revision: merged.revision,
        moved_identifiers: outcome.moved_identifiers,
        external_id_moved: outcome.external_id_moved,
        moved_activities,
        moved_ownership_changes,
    };
    store::insert(&txn, tenant.0, id, &record, &snapshot, now).await?;
    let event = CustomersMerged {
        customer_merge: record.name.clone(),
        survivor: record.survivor.clone(),
        merged: record.merged.clone(),
        survivor_member: survivor_after.member,
        survivor_owner: survivor_after.owner.clone(),
    };
    append_event(&txn, tenant, &record.survivor, &event, now).await?;
    if !request.request_id.is_empty() {
        idempotency::remember(
            &txn,
            tenant.0,
            &request.request_id,
            "MergeCustomers",
            &record.name,
            now,
        )
        .await?;
    }
    shared.commit(txn).await?;
    Ok(record)
}

/// GetCustomerMerge.
pub(super) async fn get_customer_merge(
    shared: &Shared,
    request: Request<GetCustomerMergeRequest>,
) -> Result<Response<CustomerMerge>, Status> {
    Ok(Response::new(get_customer_merge_in(shared, request).await?))
}

async fn get_customer_merge_in(
    shared: &Shared,
    request: Request<GetCustomerMergeRequest>,
) -> Result<CustomerMerge> {
    let (_, tenant) = caller(&request)?;
    let name = &request.get_ref().name;
    let id = merge_id(name)?;
    let txn = shared.begin_read(tenant).await?;
    let found = store::get(&txn, tenant.0, id, false).await?;
    txn.commit().await?;
    let (merge, _) = found.ok_or_else(|| CustomersError::not_found(name))?;
    Ok(merge)
}

/// The filter fields of ListCustomerMerges.
const MERGE_FILTER: &[(&str, FieldKind)] = &[
    ("survivor", FieldKind::Equality),
    ("merged", FieldKind::Equality),
    ("state", FieldKind::Equality),
    ("create_time", FieldKind::Time),
];

/// Checks the values of record-list conditions naming customers or enums,
/// so a typo answers INVALID_ARGUMENT instead of an empty page.
pub(super) fn check_conditions(
    conditions: &[Condition],
    enum_field: &str,
    known: impl Fn(&str) -> bool,
) -> Result<()> {
    for condition in conditions {
        let valid = match condition.field.as_str() {
            "create_time" => true,
            field if field == enum_field => known(&condition.value),
            _ => customers::id_of(&condition.value).is_some(),
        };
        if !valid {
            return Err(CustomersError::invalid(
                "filter",
                format!(
                    "{} compares with {}, not {:?}",
                    condition.field,
                    if condition.field == enum_field {
                        "one of its enum values"
                    } else {
                        "a customers/{customer} name"
                    },
                    condition.value
                ),
            ));
        }
    }
    Ok(())
}

/// A record list's page token, read.
pub(super) fn page_after(token: &str) -> Result<Option<After>> {
    if token.is_empty() {
        return Ok(None);
    }
    After::from_token(token).map(Some).ok_or_else(|| {
        CustomersError::invalid("page_token", "page_token is not a token of this list")
    })
}

/// ListCustomerMerges.
pub(super) async fn list_customer_merges(
    shared: &Shared,
    request: Request<ListCustomerMergesRequest>,
) -> Result<Response<ListCustomerMergesResponse>, Status> {
    Ok(Response::new(
        list_customer_merges_in(shared, request).await?,
    ))
}

async fn list_customer_merges_in(
    shared: &Shared,
    request: Request<ListCustomerMergesRequest>,
) -> Result<ListCustomerMergesResponse> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let after = page_after(&request.page_token)?;
    let conditions = merge::parse_filter(&request.filter, MERGE_FILTER)?;
    check_conditions(&conditions, "state", |value| {
        CustomerMergeState::from_str_name(value)
            .or_else(|| CustomerMergeState::from_str_name(&format!("CUSTOMER_MERGE_STATE_{value}")))
            .is_some()
    })?;
    let txn = shared.begin_read(tenant).await?;
    let (customer_merges, next, total) =
        store::list(&txn, tenant.0, &conditions, after.as_ref(), limit).await?;
    txn.commit().await?;
    Ok(ListCustomerMergesResponse {
        customer_merges,
        next_page_token: next.map(|after| after.token()).unwrap_or_default(),
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    })
}

/// UndoCustomerMerge.
pub(super) async fn undo_customer_merge(
    shared: &Shared,
    request: Request<UndoCustomerMergeRequest>,
) -> Result<Response<CustomerMerge>, Status> {
    Ok(Response::new(
        undo_customer_merge_in(shared, request).await?,
    ))
}

async fn undo_customer_merge_in(
    shared: &Shared,
    request: Request<UndoCustomerMergeRequest>,
) -> Result<CustomerMerge> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let id = merge_id(&request.name)?;
    at_most(&request.reason, 500, "reason")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let (mut record, snapshot) = store::get(&txn, tenant.0, id, true)
        .await?
        .ok_or_else(|| CustomersError::not_found(&request.name))?;
    if record.state == CustomerMergeState::Undone as i32 {
        return Err(not_undoable(format!("{} was undone already", record.name)));
    }
    let (survivor, merged) = load_pair(&txn, tenant, &record.survivor, &record.merged).await?;
    let erased = |stored: &Stored| stored.customer.state == CustomerState::Erased as i32;
    let snapshot = match snapshot {
        Some(snapshot) if !erased(&survivor) && !erased(&merged) => snapshot,
        _ => {
            return Err(not_undoable(format!(
                "a customer of {} was erased; its data is gone",
                record.name
            )));
        }
    };
    if survivor.customer.state == CustomerState::Merged as i32 {
        return Err(not_undoable(format!(
            "{} was merged into {} since; undo that merge first",
            survivor.customer.name, survivor.customer.merged_into
        )));
    }
    if merged.customer.state != CustomerState::Merged as i32
        || merged.customer.merged_into != survivor.customer.name
    {
        return Err(not_undoable(format!(
            "{} is no longer merged into {}",
            merged.customer.name, survivor.customer.name
        )));
    }
    let (Some(before), Some(after), Some(merged_before)) = (
        snapshot.survivor_before.as_ref(),
        snapshot.survivor_after.as_ref(),
        snapshot.merged_before.as_ref(),
    ) else {
        return Err(CustomersError::Internal(format!(
            "{} has an incomplete snapshot",
            record.name
        )));
    };
    let survivor_id = id_of(&survivor.customer.name)?;
    let merged_id = id_of(&merged.customer.name)?;
    let actor = actor_of(&context);

    // The survivor first: it gives back the identifiers (and external id)
    // the merged customer is about to take again.
    let (mut restored, changed) = merge::undo_survivor(
        before,
        after,
        &survivor.customer,
        &snapshot.moved_identifiers,
    );
    if !changed.is_empty() {
        normalise(&mut restored, REGION, "survivor")?;
        let restored = replace_customer(
            &txn,
            tenant,
            &survivor.customer,
            restored,
            survivor.revision,
            changed,
            now,
        )
        .await?;
        if restored.owner != survivor.customer.owner {
            owner_changed(
                &txn,
                tenant,
                &restored,
                &survivor.customer.owner,
                &request.reason,
                &actor,
                now,
            )
            .await?;
        }
    }
    let mut back = merge::undo_merged(merged_before);
    back.name = merged.customer.name.clone();
    back.create_time = merged.customer.create_time;
    let mut changed = merge::changed_paths(&merged.customer, &back);
    changed.push("state".to_owned());
    replace_customer(
        &txn,
        tenant,
        &merged.customer,
        back,
        merged.revision,
        changed,
        now,
    )
    .await?;
    store::move_back(
        &txn,
        tenant.0,
        ACTIVITIES,
        &snapshot.moved_activities,
        &survivor_id,
        &merged_id,
    )
    .await?;
    store::move_back(
        &txn,
        tenant.0,
        OWNERSHIP_CHANGES,
        &snapshot.moved_ownership_changes,
        &survivor_id,
        &merged_id,
    )
    .await?;

    record.state = CustomerMergeState::Undone as i32;
    record.undo_actor = Some(actor);
    record.undo_time = Some(to_timestamp(now));
    store::update(&txn, tenant.0, id, &record).await?;
    let event = CustomerMergeUndone {
        customer_merge: record.name.clone(),
        survivor: record.survivor.clone(),
        merged: record.merged.clone(),
        merge_time: record.create_time,
    };
    append_event(&txn, tenant, &record.survivor, &event, now).await?;
    shared.commit(txn).await?;
    Ok(record)
}
