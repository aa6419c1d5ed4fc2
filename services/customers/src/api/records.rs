//! Customers themselves: create, read, update, delete, search.

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::TenantId, db::is_unique_violation, events::to_timestamp, idempotency, resource,
};
use kefu_proto::v1::{
    CreateCustomerRequest, Customer, CustomerContact, CustomerCreated, CustomerErased,
    CustomerIdentifierKind, CustomerPhoneType, CustomerState, CustomerUpdated,
    DeleteCustomerRequest, GetCustomerRequest, SearchCustomersRequest, SearchCustomersResponse,
    UpdateCustomerRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{Shared, activities, append_event, caller, classify, page_size, required};
use crate::{
    domain::{
        customer::{self as rules, IdentifierKey, LookupKeys},
        identifier, names, phone,
    },
    error::{CustomersError, Result},
    store::{
        customers::{self, Stored},
        search::{self, After, Criteria},
    },
};

/// The region phones without a country code are read in. Tenant settings
/// carry no region yet; every industry template is mainland Chinese.
pub(crate) const REGION: &str = "CN";

/// Paths UpdateCustomer may change (besides `attributes.<key>` and
/// `contact_preferences.<field>`).
const MUTABLE: &[&str] = &[
    "display_name",
    "family_name",
    "given_name",
    "pinyin",
    "phones",
    "emails",
    "addresses",
    "identifiers",
    "tags",
    "member",
    "member_since",
    "attributes",
    "contact_preferences",
    "risk_profile",
    "contribution",
    "asset_size",
    "customer_since",
    "tier",
    "tier_locked",
    "external_id",
];

/// `customers/{id}`.
pub(crate) fn customer_name(id: &str) -> String {
    format!("customers/{id}")
}

/// Clears what callers may not write (output-only fields).
fn clear_output_only(customer: &mut Customer) {
    customer.name.clear();
    customer.attributes_valid = false;
    customer.segments.clear();
    customer.owner.clear();
    customer.owner_assign_time = None;
    customer.first_contact_due_time = None;
    customer.first_contact_time = None;
    customer.state = CustomerState::Unspecified as i32;
    customer.merged_into.clear();
    customer.erase_time = None;
    customer.create_time = None;
    customer.update_time = None;
    customer.etag.clear();
}

/// A customer id chosen by the caller: `[a-z0-9-]{1,63}`.
fn check_customer_id(id: &str) -> Result<()> {
    let valid = (1..=63).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(CustomersError::invalid(
            "customer_id",
            "customer_id must be 1 to 63 characters of a-z, 0-9 and -",
        ))
    }
}

/// A request id: at most 100 characters.
pub(crate) fn check_request_id(request_id: &str) -> Result<()> {
    if request_id.chars().count() > 100 {
        return Err(CustomersError::invalid(
            "request_id",
            "request_id is longer than 100 characters",
        ));
    }
    Ok(())
}

/// The tier id in a `tiers/{tier}` reference, or NOT_FOUND `UNKNOWN_TIER`.
async fn resolve_tier(txn: &DatabaseTransaction, tenant: TenantId, tier: &str) -> Result<String> {
    let unknown = || CustomersError::NotFound(tier.to_owned(), Some("UNKNOWN_TIER"));
    let id = resource::id_in(tier, "tiers").ok_or_else(unknown)?;
    if classify::tier_exists(txn, tenant, id).await? {
        Ok(id.to_owned())
    } else {
        Err(unknown())
    }
}

/// ALREADY_EXISTS when an identifier or the external id of `customer`
/// belongs to a customer other than `id`.
pub(crate) async fn check_unique(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: &str,
    customer: &Customer,
    keys: &LookupKeys,
    prefix: &str,
) -> Result<()> {
    let held = customers::identifier_holders(txn, tenant.0, &keys.identifiers, id).await?;
    if let Some((key, holder)) = held.first() {
        let index = keys
            .identifiers
            .iter()
            .position(|own| own == key)
            .unwrap_or(0);
        return Err(CustomersError::AlreadyExists(
            format!(
                "{prefix}.identifiers[{index}].value is already the identifier of {}",
                customer_name(holder)
            ),
            Some("IDENTIFIER_TAKEN"),
        ));
    }
    if !customer.external_id.is_empty()
        && let Some(holder) =
            customers::external_id_holder(txn, tenant.0, &customer.external_id, id).await?
    {
        return Err(CustomersError::AlreadyExists(
            format!(
                "{prefix}.external_id is already the external id of {}",
                customer_name(&holder)
            ),
            Some("EXTERNAL_ID_TAKEN"),
        ));
    }
    Ok(())
}

/// Stores a new, normalised `customer` as `id`, with its look-up rows, its
/// derived fields and its CustomerCreated event; returns it as stored.
/// `customer_import` names the import that created it, if one did. Shared
/// with imports.
pub(crate) async fn insert_customer(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    id: &str,
    mut customer: Customer,
    now: DateTime<Utc>,
    customer_import: &str,
) -> Result<Customer> {
    if customer.customer_since.is_none() {
        customer.customer_since = Some(rules::date_of(now));
    }
    if !customer.tier.is_empty() {
        customer.tier = format!("tiers/{}", resolve_tier(txn, tenant, &customer.tier).await?);
        customer.tier_locked = true;
    }
    classify::before_write(txn, tenant, &mut customer, "customer").await?;
    let keys = rules::lookup_keys(&customer);
    check_unique(txn, tenant, id, &customer, &keys, "customer").await?;
    customer.name = customer_name(id);
    customer.state = CustomerState::Active as i32;
    customer.create_time = Some(to_timestamp(now));
    customer.update_time = Some(to_timestamp(now));
    match customers::insert(txn, tenant.0, id, &customer, now).await {
        Err(error) if is_unique_violation(&error) => {
            return Err(CustomersError::AlreadyExists(
                format!("{} already exists", customer.name),
                None,
            ));
        }
        other => other?,
    }
    customers::replace_lookups(txn, tenant.0, id, &keys).await?;
    classify::after_write(txn, tenant, &mut customer, None).await?;
    let event = CustomerCreated {
        customer: customer.name.clone(),
        member: customer.member,
        tier: customer.tier.clone(),
        owner: customer.owner.clone(),
        source_channel: customer.source_channel,
        contact_preferences: customer.contact_preferences.clone(),
        risk_profile: customer.risk_profile,
        segments: customer.segments.clone(),
        customer_import: customer_import.to_owned(),
        customer_since: customer.customer_since,
        contact: Some(contact_of(&customer)),
    };
    append_event(txn, tenant, &customer.name, &event, now).await?;
    customer.etag = resource::etag(1);
    Ok(customer)
}

/// How to address and reach `customer`, for CustomerCreated and
/// CustomerUpdated: the callbacks service greets, calls and texts from its
/// copy of it instead of asking this service for every task.
pub(crate) fn contact_of(customer: &Customer) -> CustomerContact {
    let primary = customer
        .phones
        .iter()
        .find(|phone| phone.primary)
        .or_else(|| customer.phones.first());
    let is_mobile =
        |phone: &&kefu_proto::v1::CustomerPhone| phone.r#type == CustomerPhoneType::Mobile as i32;
    let mobile = primary
        .filter(is_mobile)
        .or_else(|| customer.phones.iter().find(is_mobile));
    CustomerContact {
        display_name: customer.display_name.clone(),
        family_name: customer.family_name.clone(),
        given_name: customer.given_name.clone(),
        primary_phone: primary.map(|phone| phone.e164.clone()).unwrap_or_default(),
        primary_mobile: mobile.map(|phone| phone.e164.clone()).unwrap_or_default(),
    }
}

/// Stores `customer` (already changed and normalised) over its stored
/// revision `expected`, with its look-up rows and derived fields, and
/// appends CustomerUpdated naming `changed_paths`. Shared with imports and
/// merges.
pub(crate) async fn replace_customer(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    previous: &Customer,
    mut customer: Customer,
    expected: i64,
    changed_paths: Vec<String>,
    now: DateTime<Utc>,
) -> Result<Customer> {
    let id = customers::id_of(&previous.name)
        .ok_or_else(|| {
            CustomersError::Internal(format!("stored customer named {}", previous.name))
        })?
        .to_owned();
    classify::before_write(txn, tenant, &mut customer, "customer").await?;
    let keys = rules::lookup_keys(&customer);
    check_unique(txn, tenant, &id, &customer, &keys, "customer").await?;
    customer.update_time = Some(to_timestamp(now));
    if !customers::replace(txn, tenant.0, &id, expected, &customer).await? {
        return Err(CustomersError::StaleEtag(previous.name.clone()));
    }
    customers::replace_lookups(txn, tenant.0, &id, &keys).await?;
    classify::after_write(txn, tenant, &mut customer, Some(previous)).await?;
    let event = CustomerUpdated {
        customer: customer.name.clone(),
        changed_paths,
        member: customer.member,
        contact_preferences: customer.contact_preferences.clone(),
        risk_profile: customer.risk_profile,
        contact: Some(contact_of(&customer)),
    };
    append_event(txn, tenant, &customer.name, &event, now).await?;
    customer.etag = resource::etag(expected + 1);
    Ok(customer)
}

/// The customer `name` of `tenant` (any state), or NOT_FOUND naming it.
pub(crate) async fn load(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    for_update: bool,
) -> Result<Stored> {
    let id = customers::id_of(name).ok_or_else(|| CustomersError::not_found(name))?;
    customers::get(txn, tenant.0, id, for_update)
        .await?
        .ok_or_else(|| CustomersError::not_found(name))
}

/// The ACTIVE customer `name`, locked for the update, after checking `etag`.
pub(crate) async fn load_active(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    etag: &str,
) -> Result<Stored> {
    let stored = load(txn, tenant, name, true).await?;
    if !customers::is_active(&stored.customer) {
        return Err(CustomersError::not_active(name));
    }
    if !resource::etag_matches(etag, stored.revision) {
        return Err(CustomersError::StaleEtag(name.to_owned()));
    }
    Ok(stored)
}

/// CreateCustomer.
pub(super) async fn create_customer(
    shared: &Shared,
    request: Request<CreateCustomerRequest>,
) -> Result<Response<Customer>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let mut customer = required(request.customer, "customer")?;
    let id = if request.customer_id.is_empty() {
        Uuid::now_v7().to_string()
    } else {
        check_customer_id(&request.customer_id)?;
        request.customer_id
    };
    clear_output_only(&mut customer);
    rules::normalise(&mut customer, REGION, "customer")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id)
            .await
            .map_err(CustomersError::from)?
    {
        let stored = load(&txn, tenant, &remembered.resource_name, false).await?;
        return Ok(Response::new(stored.customer));
    }
    let created = insert_customer(&txn, tenant, &id, customer, now, "").await?;
    if !request.request_id.is_empty() {
        idempotency::remember(
            &txn,
            tenant.0,
            &request.request_id,
            "CreateCustomer",
            &created.name,
            now,
        )
        .await
        .map_err(CustomersError::from)?;
    }
    shared.commit(txn).await?;
    Ok(Response::new(created))
}

/// GetCustomer.
pub(super) async fn get_customer(
    shared: &Shared,
    request: Request<GetCustomerRequest>,
) -> Result<Response<Customer>, Status> {
    let (_, tenant) = caller(&request)?;
    let txn = shared.begin_read(tenant).await?;
    let stored = load(&txn, tenant, &request.get_ref().name, false).await?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(stored.customer))
}

/// Copies the paths of `mask` from `input` onto `target`; INVALID_ARGUMENT
/// naming `update_mask` for a path that is not mutable.
fn apply_mask(target: &mut Customer, input: &Customer, paths: &[String]) -> Result<()> {
    for path in paths {
        match path.as_str() {
            "display_name" => target.display_name = input.display_name.clone(),
            "family_name" => target.family_name = input.family_name.clone(),
            "given_name" => target.given_name = input.given_name.clone(),
            "pinyin" => target.pinyin = input.pinyin.clone(),
            "phones" => target.phones = input.phones.clone(),
            "emails" => target.emails = input.emails.clone(),
            "addresses" => target.addresses = input.addresses.clone(),
            "identifiers" => target.identifiers = input.identifiers.clone(),
            "tags" => target.tags = input.tags.clone(),
            "member" => target.member = input.member,
            "member_since" => target.member_since = input.member_since,
            "attributes" => target.attributes = input.attributes.clone(),
            "contact_preferences" => target.contact_preferences = input.contact_preferences.clone(),
            "risk_profile" => target.risk_profile = input.risk_profile,
            "contribution" => target.contribution = input.contribution.clone(),
            "asset_size" => target.asset_size = input.asset_size.clone(),
            "customer_since" => target.customer_since = input.customer_since,
            "tier" => {
                target.tier = input.tier.clone();
                target.tier_locked = !input.tier.is_empty();
            }
            "tier_locked" => target.tier_locked = input.tier_locked,
            "external_id" => target.external_id = input.external_id.clone(),
            other => {
                if let Some(key) = other.strip_prefix("attributes.") {
                    let value = input
                        .attributes
                        .as_ref()
                        .and_then(|a| a.fields.get(key))
                        .cloned();
                    let fields = &mut target
                        .attributes
                        .get_or_insert_with(Default::default)
                        .fields;
                    match value {
                        Some(value) => fields.insert(key.to_owned(), value),
                        None => fields.remove(key),
                    };
                } else if let Some(sub) = other.strip_prefix("contact_preferences.") {
                    let from = input.contact_preferences.clone().unwrap_or_default();
                    let to = target
                        .contact_preferences
                        .get_or_insert_with(Default::default);
                    match sub {
                        "do_not_disturb" => to.do_not_disturb = from.do_not_disturb,
                        "do_not_disturb_until" => {
                            to.do_not_disturb_until = from.do_not_disturb_until
                        }
                        "preferred_hours" => to.preferred_hours = from.preferred_hours,
                        "preferred_channel" => to.preferred_channel = from.preferred_channel,
                        "sms_consent" => to.sms_consent = from.sms_consent,
                        "time_zone" => to.time_zone = from.time_zone,
                        _ => return Err(not_mutable(other)),
                    }
                } else {
                    return Err(not_mutable(other));
                }
            }
        }
    }
    Ok(())
}

fn not_mutable(path: &str) -> CustomersError {
    CustomersError::invalid(
        "update_mask",
        format!(
            "update_mask names {path:?}, which UpdateCustomer cannot change; mutable: {}, attributes.<key>, contact_preferences.<field>",
            MUTABLE.join(", ")
        ),
    )
}

/// UpdateCustomer.
pub(super) async fn update_customer(
    shared: &Shared,
    request: Request<UpdateCustomerRequest>,
) -> Result<Response<Customer>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let input = required(request.customer, "customer")?;
    let mask = required(request.update_mask, "update_mask")?;
    if mask.paths.is_empty() || mask.paths.iter().any(|path| path == "*") {
        return Err(CustomersError::invalid(
            "update_mask",
            "update_mask must list the paths to change (`*` is not accepted)",
        )
        .into());
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = load_active(&txn, tenant, &input.name, &input.etag).await?;
    let mut changed = stored.customer.clone();
    apply_mask(&mut changed, &input, &mask.paths)?;
    let renamed = mask.paths.iter().any(|path| path == "display_name");
    if renamed && !mask.paths.iter().any(|path| path == "pinyin") {
        // The old name's pinyin would keep finding the customer by a name
        // it no longer has.
        changed.pinyin.clear();
    }
    if mask.paths.iter().any(|path| path == "tier") && !changed.tier.is_empty() {
        changed.tier = format!("tiers/{}", resolve_tier(&txn, tenant, &changed.tier).await?);
    }
    rules::normalise(&mut changed, REGION, "customer")?;
    let updated = replace_customer(
        &txn,
        tenant,
        &stored.customer,
        changed,
        stored.revision,
        mask.paths,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(Response::new(updated))
}

/// DeleteCustomer.
pub(super) async fn delete_customer(
    shared: &Shared,
    request: Request<DeleteCustomerRequest>,
) -> Result<Response<()>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = load(&txn, tenant, &request.name, true).await?;
    if !resource::etag_matches(&request.etag, stored.revision) {
        return Err(CustomersError::StaleEtag(request.name).into());
    }
    let id = customers::id_of(&request.name)
        .unwrap_or_default()
        .to_owned();
    if activities::referenced(&txn, tenant, &id).await? {
        return Err(CustomersError::FailedPrecondition(
            format!(
                "{} is referenced by tickets, callbacks or other records; erase it instead",
                request.name
            ),
            "CUSTOMER_IN_USE",
        )
        .into());
    }
    classify::before_delete(&txn, tenant, &id).await?;
    customers::delete(&txn, tenant.0, &id)
        .await
        .map_err(CustomersError::from)?;
    let event = CustomerErased {
        customer: stored.customer.name.clone(),
        erasure_record: String::new(),
    };
    append_event(&txn, tenant, &stored.customer.name, &event, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}

/// The search criteria of a request, checked.
async fn criteria(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    caller_user: Option<&str>,
    request: &SearchCustomersRequest,
) -> Result<Criteria> {
    let mut criteria = Criteria::default();
    if !request.name_prefix.is_empty() {
        let length = request.name_prefix.trim().chars().count();
        if !(1..=50).contains(&length) {
            return Err(CustomersError::invalid(
                "name_prefix",
                "name_prefix must be 1 to 50 characters",
            ));
        }
        let squashed = names::squash(&request.name_prefix);
        if squashed.is_empty() {
            return Err(CustomersError::invalid(
                "name_prefix",
                "name_prefix holds no letters",
            ));
        }
        criteria.name_prefix = Some(squashed);
    }
    if !request.phone.is_empty() {
        let normalised = phone::normalise(&request.phone, REGION).map_err(|error| {
            CustomersError::invalid_because("phone", format!("phone {error}"), "PHONE_INVALID")
        })?;
        criteria.phone = Some(normalised.e164);
    }
    if !request.email.is_empty() {
        criteria.email = Some(request.email.trim().to_lowercase());
    }
    if let Some(id) = &request.identifier {
        let kind = CustomerIdentifierKind::try_from(id.kind)
            .unwrap_or(CustomerIdentifierKind::Unspecified);
        if kind == CustomerIdentifierKind::Unspecified {
            return Err(CustomersError::invalid(
                "identifier.kind",
                "identifier.kind is required",
            ));
        }
        let value_key = identifier::value_key(&id.value);
        if value_key.is_empty() {
            return Err(CustomersError::invalid(
                "identifier.value",
                "identifier.value is required",
            ));
        }
        criteria.identifier = Some(IdentifierKey {
            kind: id.kind,
            label_key: identifier::label_key(kind, &id.label),
            value_key,
        });
    }
    if !request.tag.is_empty() {
        criteria.tag = Some(request.tag.trim().to_lowercase());
    }
    if !request.tier.is_empty() {
        criteria.tier = Some(resolve_tier(txn, tenant, &request.tier).await?);
    }
    if !request.segment.is_empty() {
        let unknown = || CustomersError::NotFound(request.segment.clone(), Some("UNKNOWN_SEGMENT"));
        let id = resource::id_in(&request.segment, "segments").ok_or_else(unknown)?;
        if !classify::segment_exists(txn, tenant, id).await? {
            return Err(unknown());
        }
        criteria.segment = Some(id.to_owned());
    }
    if !request.owner.is_empty() {
        criteria.owner = Some(match (request.owner.as_str(), caller_user) {
            ("users/me", Some(user)) => format!("users/{user}"),
            ("users/me", None) => {
                return Err(CustomersError::invalid(
                    "owner",
                    "users/me needs a signed-in user",
                ));
            }
            (owner, _) => owner.to_owned(),
        });
    }
    if criteria == Criteria::default() {
        return Err(CustomersError::invalid(
            "name_prefix",
            "give at least one criterion: name_prefix, phone, email, identifier, tag, tier, segment or owner",
        ));
    }
    Ok(criteria)
}

/// SearchCustomers.
pub(super) async fn search_customers(
    shared: &Shared,
    request: Request<SearchCustomersRequest>,
) -> Result<Response<SearchCustomersResponse>, Status> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let limit = page_size(request.page_size)?;
    let after = if request.page_token.is_empty() {
        None
    } else {
        Some(After::from_token(&request.page_token).ok_or_else(|| {
            CustomersError::invalid("page_token", "page_token is not a token of this search")
        })?)
    };
    let user = (context.principal.kind == kefu_kit::context::PrincipalKind::User)
        .then_some(context.principal.id.as_str());
    let txn = shared.begin_read(tenant).await?;
    let criteria = criteria(&txn, tenant, user, &request).await?;
    let (page, next) = search::search(&txn, tenant.0, &criteria, after.as_ref(), limit)
        .await
        .map_err(CustomersError::from)?;
    txn.commit().await.map_err(CustomersError::from)?;
    Ok(Response::new(SearchCustomersResponse {
        customers: page.into_iter().map(|stored| stored.customer).collect(),
        next_page_token: next.map(|after| after.token()).unwrap_or_default(),
    }))
}
