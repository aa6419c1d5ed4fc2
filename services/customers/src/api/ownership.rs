//! Owner agents (专属客服): assignment, balancing, history, first contact.
//!
//! Every owner change goes through [`change_owner`]: the customer's owner
//! fields and first-contact clock, a row of the ownership history and a
//! `CustomerOwnerAssigned` event (not `CustomerUpdated`: consumers move the
//! customer's open obligations on it), in the caller's transaction. Imports
//! and merges call it too, so the history stays complete.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, PrincipalKind, TenantId},
    events::{from_timestamp, to_timestamp},
    resource,
};
use kefu_proto::v1::{
    Actor, ActorKind, AssignCustomerOwnerRequest, AutoAssignCustomersRequest,
    AutoAssignCustomersResponse, Channel, Customer, CustomerActivityKind, CustomerOwnerAssigned,
    CustomerOwnerLoad, CustomerOwnerPool, CustomerUpdated, ListOverdueFirstContactsRequest,
    ListOverdueFirstContactsResponse, ListOwnershipHistoryRequest, ListOwnershipHistoryResponse,
    OwnershipChange, OwnershipChangeKind, ReassignCustomersRequest, ReassignCustomersResponse,
    RecordFirstContactRequest, User,
};
use prost::Message;
use sea_orm::{DatabaseTransaction, Value};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, activities, append_event, caller, classify, page_size,
    records::{check_request_id, customer_name, load, load_active},
};
use crate::{
    domain::{
        ownership::{
            self as rules, Candidate, Item, Plan, check_contact_time, first_contact_due,
            is_active_agent, weight_of,
        },
        timeline::{self, FieldKind, Happening, Operand, Operator},
    },
    error::{CustomersError, Result},
    store::{
        agents,
        customers::{self, Stored},
        ownership::{self as store, Clause, Compare, Cursor, OverdueScope},
    },
};

/// Customers one AutoAssignCustomers or ReassignCustomers call names at most.
const MAX_NAMED: usize = 1_000;
/// Customers one call moves at most when it names none.
const MAX_PER_CALL: usize = 10_000;
/// Entries of a pool at most.
const MAX_POOL: usize = 200;

/// An instant as stored: microseconds, the precision both backends keep,
/// so page cursors and stored values compare equal.
pub(crate) fn micros(instant: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(instant.timestamp_micros()).unwrap_or(instant)
}

/// How an owner change came about, for the history and the event.
#[derive(Debug, Clone)]
pub(crate) struct Attribution {
    /// The kind of change.
    pub kind: OwnershipChangeKind,
    /// Why, as given.
    pub reason: String,
    /// Who changed it.
    pub actor: Actor,
}

/// Who is calling, as the history records it (a user with the display name
/// the copy of users knows).
pub(crate) async fn actor_of(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    context: &CallContext,
) -> Result<Actor> {
    Ok(match context.principal.kind {
        PrincipalKind::User => {
            let name = format!("users/{}", context.principal.id);
            let display_name = agents::get(txn, tenant.0, &name)
                .await?
                .map(|user| user.display_name)
                .unwrap_or_default();
            Actor {
                kind: ActorKind::User as i32,
                name,
                display_name,
            }
        }
        PrincipalKind::ApiKey => Actor {
            kind: ActorKind::ApiKey as i32,
            name: format!("apiKeys/{}", context.principal.id),
            display_name: String::new(),
        },
        _ => system_actor(),
    })
}

/// Kefu itself (event handlers, scans).
pub(crate) fn system_actor() -> Actor {
    Actor {
        kind: ActorKind::System as i32,
        ..Actor::default()
    }
}

/// The key of one assignment of a customer: its owner and assignment time.
/// The first-contact alert is published once per key.
pub(crate) fn assignment_key(customer: &Customer) -> String {
    let time = customer
        .owner_assign_time
        .as_ref()
        .map(|time| format!("{}.{:09}", time.seconds, time.nanos))
        .unwrap_or_default();
    format!("{}@{time}", customer.owner)
}

/// Gives `stored` the owner `new_owner` (empty: none) in `txn`: the owner
/// fields and a new first-contact clock (`first_contact_days` from now),
/// the history row and `CustomerOwnerAssigned`. The caller checked that the
/// owner is an eligible agent and that it differs from the current one.
/// Returns the customer as stored.
pub(crate) async fn change_owner(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    stored: &Stored,
    new_owner: &str,
    attribution: &Attribution,
    first_contact_days: i32,
    now: DateTime<Utc>,
) -> Result<Customer> {
    let now = micros(now);
    let previous = stored.customer.clone();
    let id = customers::id_of(&previous.name)
        .ok_or_else(|| {
            CustomersError::Internal(format!("stored customer named {}", previous.name))
        })?
        .to_owned();
    let mut customer = previous.clone();
    customer.owner = new_owner.to_owned();
    customer.first_contact_time = None;
    if new_owner.is_empty() {
        customer.owner_assign_time = None;
        customer.first_contact_due_time = None;
    } else {
        customer.owner_assign_time = Some(to_timestamp(now));
        customer.first_contact_due_time =
            Some(to_timestamp(first_contact_due(now, first_contact_days)));
    }
    customer.update_time = Some(to_timestamp(now));
    if !customers::replace(txn, tenant.0, &id, stored.revision, &customer).await? {
        return Err(CustomersError::StaleEtag(previous.name.clone()));
    }
    // Segments may select on the owner.
    classify::after_write(txn, tenant, &mut customer, Some(&previous)).await?;
    agents::ensure_profile(txn, tenant.0).await?;
    let change_id = Uuid::now_v7().to_string();
    let change = OwnershipChange {
        name: format!("{}/ownershipChanges/{change_id}", previous.name),
        previous_owner: previous.owner.clone(),
        new_owner: new_owner.to_owned(),
        kind: attribution.kind as i32,
        reason: attribution.reason.clone(),
        actor: Some(attribution.actor.clone()),
        create_time: Some(to_timestamp(now)),
    };
    store::insert_change(txn, tenant.0, &id, &change_id, &change, now).await?;
    let event = CustomerOwnerAssigned {
        customer: previous.name.clone(),
        previous_owner: previous.owner.clone(),
        new_owner: new_owner.to_owned(),
        kind: attribution.kind as i32,
        reason: attribution.reason.clone(),
        ownership_change: change.name.clone(),
        first_contact_due_time: customer.first_contact_due_time,
    };
    append_event(txn, tenant, &previous.name, &event, now).await?;
    customer.etag = resource::etag(stored.revision + 1);
    Ok(customer)
}

/// Records the owner's first contact with `stored` at `contact_time` in
/// `txn` (the caller checked the customer has an owner and no first
/// contact yet): stops the clock, publishes `CustomerUpdated` naming
/// `first_contact_time`, and adds the FIRST_CONTACT entry to the timeline.
pub(crate) async fn record_contact(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    stored: &Stored,
    contact: &Contact,
    now: DateTime<Utc>,
) -> Result<Customer> {
    let now = micros(now);
    let previous = stored.customer.clone();
    let id = customers::id_of(&previous.name)
        .ok_or_else(|| {
            CustomersError::Internal(format!("stored customer named {}", previous.name))
        })?
        .to_owned();
    let mut customer = previous.clone();
    customer.first_contact_time = Some(to_timestamp(micros(contact.time)));
    customer.update_time = Some(to_timestamp(now));
    if !customers::replace(txn, tenant.0, &id, stored.revision, &customer).await? {
        return Err(CustomersError::StaleEtag(previous.name.clone()));
    }
    classify::after_write(txn, tenant, &mut customer, Some(&previous)).await?;
    let event = CustomerUpdated {
        customer: customer.name.clone(),
        changed_paths: vec!["first_contact_time".into()],
        member: customer.member,
        contact_preferences: customer.contact_preferences.clone(),
        risk_profile: customer.risk_profile,
        contact: Some(super::records::contact_of(&customer)),
    };
    append_event(txn, tenant, &customer.name, &event, now).await?;
    let owner_name = agents::get(txn, tenant.0, &customer.owner)
        .await?
        .map(|user| user.display_name)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| customer.owner.clone());
    let channel = Channel::try_from(contact.channel)
        .ok()
        .filter(|channel| *channel != Channel::Unspecified)
        .map(|channel| {
            channel
                .as_str_name()
                .trim_start_matches("CHANNEL_")
                .to_owned()
        })
        .unwrap_or_default();
    activities::record(
        txn,
        tenant,
        &id,
        activities::Entry {
            kind: CustomerActivityKind::FirstContact,
            happening: Happening::FirstContact {
                owner: owner_name,
                channel,
                notes: contact.notes.clone(),
            },
            source: contact.source.clone(),
            channel: contact.channel,
            actor: Some(contact.actor.clone()),
            occur_time: micros(contact.time),
        },
        activities::OWN,
        now,
    )
    .await?;
    customer.etag = resource::etag(stored.revision + 1);
    Ok(customer)
}

/// A first contact to record.
#[derive(Debug, Clone)]
pub(crate) struct Contact {
    /// When it happened.
    pub time: DateTime<Utc>,
    /// How (`kefu.v1.Channel`).
    pub channel: i32,
    /// The resource recording it, if any.
    pub source: String,
    /// Notes for the timeline.
    pub notes: String,
    /// Who recorded it.
    pub actor: Actor,
}

fn check_text(value: &str, field: &str, limit: usize) -> Result<()> {
    if value.chars().count() > limit {
        return Err(CustomersError::invalid(
            field,
            format!("{field} is longer than {limit} characters"),
        ));
    }
    Ok(())
}

fn not_agent(field: &str, user: &str) -> CustomersError {
    CustomersError::FailedPrecondition(
        format!("{field}: {user} is not an active user with ROLE_AGENT"),
        "OWNER_NOT_AGENT",
    )
}

/// The agents of `pool` (`field` is its path in the request) with their
/// weights and current counts, `exclude` left out; FAILED_PRECONDITION
/// `NO_ELIGIBLE_AGENT` when nobody remains.
pub(crate) async fn candidates(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    pool: &CustomerOwnerPool,
    field: &str,
    exclude: Option<&str>,
) -> Result<Vec<Candidate>> {
    if pool.agents.len() > MAX_POOL {
        return Err(CustomersError::invalid(
            &format!("{field}.agents"),
            format!("{field}.agents holds more than {MAX_POOL} entries"),
        ));
    }
    check_text(&pool.skill, &format!("{field}.skill"), 63)?;
    let mut users: Vec<User> = Vec::new();
    if pool.agents.is_empty() {
        users = agents::active_agents(txn, tenant.0).await?;
    } else {
        for (index, entry) in pool.agents.iter().enumerate() {
            let path = format!("{field}.agents[{index}]");
            if resource::id_in(entry, "users").is_some() {
                match agents::get(txn, tenant.0, entry).await? {
                    Some(user) if is_active_agent(&user) => users.push(user),
                    _ => return Err(not_agent(&path, entry)),
                }
            } else if resource::id_in(entry, "teams").is_some() {
                let members = agents::team_members(txn, tenant.0, entry).await?;
                let known = agents::get_many(txn, tenant.0, &members).await?;
                users.extend(known.into_values().filter(is_active_agent));
            } else {
                return Err(CustomersError::invalid(
                    &path,
                    format!("{path} must be users/{{user}} or teams/{{team}}"),
                ));
            }
        }
    }
    let mut seen = HashSet::new();
    let mut weighted = Vec::new();
    for user in users {
        if Some(user.name.as_str()) == exclude || !seen.insert(user.name.clone()) {
            continue;
        }
        if let Some(weight) = weight_of(&user, &pool.skill) {
            weighted.push((user.name, weight));
        }
    }
    if weighted.is_empty() {
        return Err(CustomersError::FailedPrecondition(
            format!(
                "no active agent in {field} can take customers (with the skill, if one is named)"
            ),
            "NO_ELIGIBLE_AGENT",
        ));
    }
    let names: Vec<String> = weighted.iter().map(|(name, _)| name.clone()).collect();
    let counts = store::owned_counts(txn, tenant.0, &names).await?;
    Ok(weighted
        .into_iter()
        .map(|(owner, weight)| Candidate {
            owned: counts.get(&owner).copied().unwrap_or(0),
            owner,
            weight,
        })
        .collect())
}

/// The balancing items of `customers`, dedicated tiers marked.
async fn items(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customers: &[Stored],
) -> Result<Vec<Item>> {
    let dedicated = store::dedicated_tiers(txn, tenant.0).await?;
    Ok(customers
        .iter()
        .filter_map(|stored| {
            let id = customers::id_of(&stored.customer.name)?.to_owned();
            let tier = stored.customer.tier.strip_prefix("tiers/").unwrap_or("");
            Some(Item {
                id,
                dedicated: dedicated.contains(tier),
            })
        })
        .collect())
}

/// Carries out `plan` over `customers` (by id).
async fn carry_out(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    plan: &Plan,
    customers: &[Stored],
    attribution: &Attribution,
    now: DateTime<Utc>,
) -> Result<()> {
    let days = agents::profile(txn, tenant.0).await?.first_contact_days;
    let by_id: HashMap<&str, &Stored> = customers
        .iter()
        .filter_map(|stored| Some((customers::id_of(&stored.customer.name)?, stored)))
        .collect();
    for (id, owner) in &plan.assignments {
        if let Some(stored) = by_id.get(id.as_str()) {
            change_owner(txn, tenant, stored, owner, attribution, days, now).await?;
        }
    }
    Ok(())
}

fn loads(plan: &Plan) -> Vec<CustomerOwnerLoad> {
    plan.shares
        .iter()
        .map(|share| CustomerOwnerLoad {
            owner: share.owner.clone(),
            weight: share.weight,
            assigned: share.assigned,
            owned_after: share.owned_after,
        })
        .collect()
}

/// The customers a request names (`field[i]`), deduplicated in order; each
/// must exist in the tenant and be ACTIVE. Locked.
async fn named(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    names: &[String],
    field: &str,
) -> Result<Vec<Stored>> {
    if names.len() > MAX_NAMED {
        return Err(CustomersError::invalid(
            field,
            format!("{field} names more than {MAX_NAMED} customers"),
        ));
    }
    let mut ids = Vec::with_capacity(names.len());
    let mut seen = HashSet::new();
    for (index, name) in names.iter().enumerate() {
        let id = customers::id_of(name).ok_or_else(|| {
            CustomersError::invalid(
                &format!("{field}[{index}]"),
                format!("{field}[{index}] must be customers/{{customer}}"),
            )
        })?;
        if seen.insert(id.to_owned()) {
            ids.push(id.to_owned());
        }
    }
    let found = store::get_locked(txn, tenant.0, &ids).await?;
    let mut by_id: HashMap<String, Stored> = found
        .into_iter()
        .filter_map(|stored| {
            let id = customers::id_of(&stored.customer.name)?.to_owned();
            Some((id, stored))
        })
        .collect();
    let mut ordered = Vec::with_capacity(ids.len());
    for id in ids {
        let name = customer_name(&id);
        let stored = by_id
            .remove(&id)
            .ok_or_else(|| CustomersError::not_found(&name))?;
        if !customers::is_active(&stored.customer) {
            return Err(CustomersError::not_active(&name));
        }
        ordered.push(stored);
    }
    Ok(ordered)
}

/// The answer remembered for `request_id` if `method` was called with it
/// before; INVALID_ARGUMENT when another method used it.
async fn recalled<M: Message + Default>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: &str,
    method: &str,
) -> Result<Option<M>> {
    if request_id.is_empty() {
        return Ok(None);
    }
    match store::recall_request(txn, tenant.0, request_id).await? {
        Some((used_by, _)) if used_by != method => Err(CustomersError::invalid(
            "request_id",
            format!("request_id was used for {used_by}"),
        )),
        Some((_, bytes)) => Ok(Some(M::decode(bytes.as_slice())?)),
        None => Ok(None),
    }
}

/// AssignCustomerOwner.
pub(super) async fn assign_customer_owner(
    shared: &Shared,
    request: Request<AssignCustomerOwnerRequest>,
) -> Result<Response<Customer>, Status> {
    Ok(assign_customer_owner_in(shared, request).await?)
}

async fn assign_customer_owner_in(
    shared: &Shared,
    request: Request<AssignCustomerOwnerRequest>,
) -> Result<Response<Customer>> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_text(&request.reason, "reason", 500)?;
    if !request.owner.is_empty() && resource::id_in(&request.owner, "users").is_none() {
        return Err(CustomersError::invalid(
            "owner",
            "owner must be users/{user} or empty",
        ));
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = load_active(&txn, tenant, &request.name, &request.etag).await?;
    if stored.customer.owner == request.owner {
        return Ok(Response::new(stored.customer));
    }
    if !request.owner.is_empty() {
        match agents::get(&txn, tenant.0, &request.owner).await? {
            Some(user) if is_active_agent(&user) => {}
            _ => return Err(not_agent("owner", &request.owner)),
        }
    }
    let attribution = Attribution {
        kind: OwnershipChangeKind::Manual,
        reason: request.reason,
        actor: actor_of(&txn, tenant, &context).await?,
    };
    let days = agents::profile(&txn, tenant.0).await?.first_contact_days;
    let customer = change_owner(
        &txn,
        tenant,
        &stored,
        &request.owner,
        &attribution,
        days,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(customer))
}

/// AutoAssignCustomers.
pub(super) async fn auto_assign_customers(
    shared: &Shared,
    request: Request<AutoAssignCustomersRequest>,
) -> Result<Response<AutoAssignCustomersResponse>, Status> {
    Ok(auto_assign_customers_in(shared, request).await?)
}

async fn auto_assign_customers_in(
    shared: &Shared,
    request: Request<AutoAssignCustomersRequest>,
) -> Result<Response<AutoAssignCustomersResponse>> {
    const METHOD: &str = "AutoAssignCustomers";
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    check_text(&request.reason, "reason", 500)?;
    if request.customers.is_empty() && !request.all_unowned {
        return Err(CustomersError::invalid(
            "customers",
            "name the customers to assign, or set all_unowned",
        ));
    }
    if !request.customers.is_empty() && request.all_unowned {
        return Err(CustomersError::invalid(
            "all_unowned",
            "all_unowned assigns every unowned customer: name no customers with it",
        ));
    }
    let limit = match request.max_customers {
        0 => MAX_PER_CALL,
        size if (1..=MAX_PER_CALL as i32).contains(&size) => size as usize,
        _ => {
            return Err(CustomersError::invalid(
                "max_customers",
                format!("max_customers must be 1 to {MAX_PER_CALL}"),
            ));
        }
    };
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if let Some(answer) = recalled(&txn, tenant, &request.request_id, METHOD).await? {
        return Ok(Response::new(answer));
    }
    let pool = request.pool.clone().unwrap_or_default();
    let chosen: Vec<Stored> = if request.all_unowned {
        store::unowned(&txn, tenant.0, limit).await?
    } else {
        named(&txn, tenant, &request.customers, "customers")
            .await?
            .into_iter()
            .filter(|stored| stored.customer.owner.is_empty())
            .collect()
    };
    let candidates = candidates(&txn, tenant, &pool, "pool", None).await?;
    let plan = rules::balance(&candidates, &items(&txn, tenant, &chosen).await?);
    let assigned = plan.assignments.len() as i64;
    if !request.validate_only {
        let attribution = Attribution {
            kind: OwnershipChangeKind::Auto,
            reason: request.reason.clone(),
            actor: actor_of(&txn, tenant, &context).await?,
        };
        carry_out(&txn, tenant, &plan, &chosen, &attribution, now).await?;
    }
    let remaining = if request.all_unowned {
        let unowned = store::count_unowned(&txn, tenant.0).await?;
        if request.validate_only {
            unowned - assigned
        } else {
            unowned
        }
    } else {
        0
    };
    let response = AutoAssignCustomersResponse {
        loads: loads(&plan),
        assigned,
        remaining,
    };
    if request.validate_only {
        txn.commit().await.map_err(CustomersError::from)?;
        return Ok(Response::new(response));
    }
    if !request.request_id.is_empty() {
        store::remember_request(
            &txn,
            tenant.0,
            &request.request_id,
            METHOD,
            response.encode_to_vec(),
            now,
        )
        .await
        .map_err(CustomersError::from)?;
    }
    shared.commit(txn).await?;
    Ok(Response::new(response))
}

/// ReassignCustomers.
pub(super) async fn reassign_customers(
    shared: &Shared,
    request: Request<ReassignCustomersRequest>,
) -> Result<Response<ReassignCustomersResponse>, Status> {
    Ok(reassign_customers_in(shared, request).await?)
}

async fn reassign_customers_in(
    shared: &Shared,
    request: Request<ReassignCustomersRequest>,
) -> Result<Response<ReassignCustomersResponse>> {
    const METHOD: &str = "ReassignCustomers";
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    check_text(&request.reason, "reason", 500)?;
    if resource::id_in(&request.from_owner, "users").is_none() {
        return Err(CustomersError::invalid(
            "from_owner",
            "from_owner must be users/{user}",
        ));
    }
    let pool = request.to.clone().unwrap_or_default();
    if pool.agents.is_empty() {
        return Err(CustomersError::invalid(
            "to.agents",
            "to.agents must name at least one agent or team",
        ));
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if let Some(answer) = recalled(&txn, tenant, &request.request_id, METHOD).await? {
        return Ok(Response::new(answer));
    }
    let moving: Vec<Stored> = if request.customers.is_empty() {
        store::owned_by(&txn, tenant.0, &request.from_owner, MAX_PER_CALL).await?
    } else {
        let chosen = named(&txn, tenant, &request.customers, "customers").await?;
        for (index, stored) in chosen.iter().enumerate() {
            if stored.customer.owner != request.from_owner {
                return Err(CustomersError::invalid(
                    &format!("customers[{index}]"),
                    format!(
                        "{} is not owned by {}",
                        stored.customer.name, request.from_owner
                    ),
                ));
            }
        }
        chosen
    };
    let candidates = candidates(&txn, tenant, &pool, "to", Some(&request.from_owner)).await?;
    let plan = rules::balance(&candidates, &items(&txn, tenant, &moving).await?);
    let attribution = Attribution {
        kind: OwnershipChangeKind::Reassigned,
        reason: request.reason.clone(),
        actor: actor_of(&txn, tenant, &context).await?,
    };
    carry_out(&txn, tenant, &plan, &moving, &attribution, now).await?;
    let remaining = store::owned_counts(&txn, tenant.0, std::slice::from_ref(&request.from_owner))
        .await?
        .get(&request.from_owner)
        .copied()
        .unwrap_or(0);
    let response = ReassignCustomersResponse {
        loads: loads(&plan),
        reassigned: plan.assignments.len() as i64,
        remaining,
    };
    if !request.request_id.is_empty() {
        store::remember_request(
            &txn,
            tenant.0,
            &request.request_id,
            METHOD,
            response.encode_to_vec(),
            now,
        )
        .await
        .map_err(CustomersError::from)?;
    }
    shared.commit(txn).await?;
    Ok(Response::new(response))
}

/// The SQL clauses of a list's parsed filter; `columns` maps each documented
/// field to its column, `enum_value` reads an enum value's full name.
pub(crate) fn clauses(
    conditions: Vec<timeline::Condition>,
    columns: &[(&str, &'static str)],
    enum_value: fn(&str) -> Option<i32>,
) -> Result<Vec<Clause>> {
    conditions
        .into_iter()
        .map(|condition| {
            let column = columns
                .iter()
                .find(|(field, _)| *field == condition.field)
                .map(|(_, column)| *column)
                .ok_or_else(|| {
                    CustomersError::invalid(
                        "filter",
                        format!("cannot filter on {}", condition.field),
                    )
                })?;
            let compare = match condition.operator {
                Operator::Equal => Compare::Equal,
                Operator::NotEqual => Compare::NotEqual,
                Operator::Less => Compare::Less,
                Operator::LessOrEqual => Compare::LessOrEqual,
                Operator::Greater => Compare::Greater,
                Operator::GreaterOrEqual => Compare::GreaterOrEqual,
            };
            let (compare, value): (Compare, Value) = match condition.operand {
                Operand::Text(text) => (compare, text.into()),
                Operand::Prefix(prefix) => (
                    if compare == Compare::NotEqual {
                        Compare::NotPrefix
                    } else {
                        Compare::Prefix
                    },
                    prefix.into(),
                ),
                Operand::Enum(name) => {
                    let number = enum_value(&name).ok_or_else(|| {
                        CustomersError::invalid(
                            "filter",
                            format!("{} is not a value of {}", name, condition.field),
                        )
                    })?;
                    (compare, number.into())
                }
                Operand::Time(time) => (compare, time.into()),
            };
            Ok(Clause {
                column,
                compare,
                value,
            })
        })
        .collect()
}

/// A page token of a newest-first or oldest-first list.
pub(crate) fn cursor(token: &str) -> Result<Option<Cursor>> {
    if token.is_empty() {
        return Ok(None);
    }
    Cursor::from_token(token).map(Some).ok_or_else(|| {
        CustomersError::invalid("page_token", "page_token is not a token of this list")
    })
}

/// ListOwnershipHistory.
pub(super) async fn list_ownership_history(
    shared: &Shared,
    request: Request<ListOwnershipHistoryRequest>,
) -> Result<Response<ListOwnershipHistoryResponse>, Status> {
    Ok(list_ownership_history_in(shared, request).await?)
}

async fn list_ownership_history_in(
    shared: &Shared,
    request: Request<ListOwnershipHistoryRequest>,
) -> Result<Response<ListOwnershipHistoryResponse>> {
    const FIELDS: &[(&str, FieldKind)] = &[
        ("previous_owner", FieldKind::Text),
        ("new_owner", FieldKind::Text),
        ("kind", FieldKind::Enum("OWNERSHIP_CHANGE_KIND_")),
        ("create_time", FieldKind::Time),
    ];
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let after = cursor(&request.page_token)?;
    let clauses = clauses(
        timeline::parse_filter(&request.filter, FIELDS)?,
        &[
            ("previous_owner", "previous_owner"),
            ("new_owner", "new_owner"),
            ("kind", "kind"),
            ("create_time", "create_time"),
        ],
        |name| OwnershipChangeKind::from_str_name(name).map(|kind| kind as i32),
    )?;
    let txn = shared.begin_read(tenant).await?;
    let customer_id = if request.parent == "customers/-" {
        None
    } else if customers::id_of(&request.parent).is_some() {
        // The history outlives erasure: any state answers.
        let stored = load(&txn, tenant, &request.parent, false).await?;
        customers::id_of(&stored.customer.name).map(str::to_owned)
    } else {
        return Err(CustomersError::invalid(
            "parent",
            "parent must be customers/{customer} or customers/-",
        ));
    };
    let (changes, next) = store::list_changes(
        &txn,
        tenant.0,
        customer_id.as_deref(),
        &clauses,
        after.as_ref(),
        limit,
    )
    .await
    .map_err(CustomersError::from)?;
    let total = store::count_changes(&txn, tenant.0, customer_id.as_deref(), &clauses)
        .await
        .map_err(CustomersError::from)?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(ListOwnershipHistoryResponse {
        ownership_changes: changes,
        next_page_token: next.map(|cursor| cursor.token()).unwrap_or_default(),
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    }))
}

/// ListOverdueFirstContacts.
pub(super) async fn list_overdue_first_contacts(
    shared: &Shared,
    request: Request<ListOverdueFirstContactsRequest>,
) -> Result<Response<ListOverdueFirstContactsResponse>, Status> {
    Ok(list_overdue_first_contacts_in(shared, request).await?)
}

async fn list_overdue_first_contacts_in(
    shared: &Shared,
    request: Request<ListOverdueFirstContactsRequest>,
) -> Result<Response<ListOverdueFirstContactsResponse>> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let after = cursor(&request.page_token)?;
    let mut scope = OverdueScope::default();
    match request.owner.as_str() {
        "" => {}
        "users/me" if context.principal.kind == PrincipalKind::User => {
            scope.owner = Some(format!("users/{}", context.principal.id));
        }
        "users/me" => {
            return Err(CustomersError::invalid(
                "owner",
                "users/me needs a signed-in user",
            ));
        }
        owner if resource::id_in(owner, "users").is_some() => scope.owner = Some(owner.to_owned()),
        _ => {
            return Err(CustomersError::invalid(
                "owner",
                "owner must be users/{user}, users/me or empty",
            ));
        }
    }
    if !request.team.is_empty() {
        if resource::id_in(&request.team, "teams").is_none() {
            return Err(CustomersError::invalid("team", "team must be teams/{team}"));
        }
        scope.team = Some(request.team.clone());
    }
    let now = shared.now();
    let txn = shared.begin_read(tenant).await?;
    let (page, next) = store::overdue(&txn, tenant.0, now, &scope, after.as_ref(), limit)
        .await
        .map_err(CustomersError::from)?;
    let total = store::count_overdue(&txn, tenant.0, now, &scope)
        .await
        .map_err(CustomersError::from)?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(ListOverdueFirstContactsResponse {
        customers: page.into_iter().map(|stored| stored.customer).collect(),
        next_page_token: next.map(|cursor| cursor.token()).unwrap_or_default(),
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    }))
}

/// RecordFirstContact.
pub(super) async fn record_first_contact(
    shared: &Shared,
    request: Request<RecordFirstContactRequest>,
) -> Result<Response<Customer>, Status> {
    Ok(record_first_contact_in(shared, request).await?)
}

async fn record_first_contact_in(
    shared: &Shared,
    request: Request<RecordFirstContactRequest>,
) -> Result<Response<Customer>> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_text(&request.notes, "notes", 2_000)?;
    check_text(&request.source, "source", 200)?;
    if Channel::try_from(request.channel).is_err() {
        return Err(CustomersError::invalid(
            "channel",
            "channel is not a kefu.v1.Channel",
        ));
    }
    let now = shared.now();
    let time = match &request.contact_time {
        Some(timestamp) => from_timestamp(timestamp).ok_or_else(|| {
            CustomersError::invalid("contact_time", "contact_time is out of range")
        })?,
        None => now,
    };
    let txn = shared.begin(tenant).await?;
    let stored = load_active(&txn, tenant, &request.name, "").await?;
    if stored.customer.owner.is_empty() {
        return Err(CustomersError::FailedPrecondition(
            format!("{} has no owner", request.name),
            "NO_OWNER",
        ));
    }
    if stored.customer.first_contact_time.is_some() {
        return Ok(Response::new(stored.customer));
    }
    let assigned = stored
        .customer
        .owner_assign_time
        .as_ref()
        .and_then(from_timestamp);
    check_contact_time(time, assigned, now)
        .map_err(|why| CustomersError::invalid("contact_time", why))?;
    let contact = Contact {
        time,
        channel: request.channel,
        source: request.source,
        notes: request.notes,
        actor: actor_of(&txn, tenant, &context).await?,
    };
    let customer = record_contact(&txn, tenant, &stored, &contact, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(customer))
}
