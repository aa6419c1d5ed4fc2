//! Callback policies (回访制度): CRUD and validation. Everyone of the tenant
//! reads them; only admins write (the gateway checks, and so do we: a
//! service reached without the gateway keeps the rule). Also the helpers
//! the scripts' and surveys' handlers share with these: admin checks,
//! request ids, update masks, etags, list filters and orders.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, TenantId},
    events::{from_timestamp, to_timestamp},
    filter::{self, FieldValue, Filter, Kind, OrderKey},
    idempotency, resource,
};
use kefu_proto::v1::{
    CallbackPolicy, CallbackScript, CallbackTrigger, Campaign, Channel,
    CreateCallbackPolicyRequest, DeleteCallbackPolicyRequest, GetCallbackPolicyRequest,
    ListCallbackPoliciesRequest, ListCallbackPoliciesResponse, Role, Survey,
    UpdateCallbackPolicyRequest,
};
use prost_types::{FieldMask, Timestamp};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{Shared, caller, holds, page_size, remember_request, required};
use crate::{
    domain::policy::check_policy,
    error::{CallbacksError, Result},
    store::{
        policies::{self as store, Entry},
        resources::{self, Kept, Stored},
    },
};

// ---------------------------------------------------------------------------
// Shared by the policies', scripts' and surveys' handlers
// ---------------------------------------------------------------------------

/// PERMISSION_DENIED unless the caller is an admin (keys and Kefu itself
/// hold what their scopes allowed at the gateway).
pub(super) fn admin_only(context: &CallContext, what: &str) -> Result<()> {
    if holds(context, &[Role::Admin]) {
        Ok(())
    } else {
        Err(CallbacksError::PermissionDenied(format!(
            "only admins edit {what}"
        )))
    }
}

/// A request id: at most 100 characters (empty: not idempotent).
pub(super) fn check_request_id(request_id: &str) -> Result<()> {
    if request_id.chars().count() > 100 {
        return Err(CallbacksError::invalid(
            "request_id",
            "request_id is longer than 100 characters",
        ));
    }
    Ok(())
}

/// What the policies', scripts' and surveys' handlers read of their
/// resource beyond how it is kept: what its list filters on, and its times.
pub(super) trait Catalogued: Entry {
    /// The fields its list filters on.
    const FILTERS: &'static [(&'static str, Kind)];
    /// Its values of filter `field`.
    fn filter_values(&self, field: &str) -> Vec<FieldValue>;
    /// When it was created and last updated.
    fn times(&self) -> (Option<&Timestamp>, Option<&Timestamp>);
}

/// The resource an earlier create with `request_id` made, if the request
/// repeats one (NOT_FOUND when it is gone since).
pub(super) async fn recalled<M: Kept>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    request_id: &str,
) -> Result<Option<M>> {
    if request_id.is_empty() {
        return Ok(None);
    }
    let Some(remembered) = idempotency::recall(txn, tenant.0, request_id).await? else {
        return Ok(None);
    };
    let name = remembered.resource_name;
    match resources::find(txn, tenant, &name).await? {
        Some(earlier) => Ok(Some(earlier)),
        None => Err(CallbacksError::not_found(&name)),
    }
}

/// Inserts the new `entry` and remembers `request_id` (when given) as the
/// create `method` that made it, in `txn`.
pub(super) async fn insert_remembered<M: Entry>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    entry: &M,
    request_id: &str,
    method: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    store::insert(txn, tenant, entry, now).await?;
    remember_request(txn, tenant, request_id, method, entry.name(), now).await
}

/// Get: the resource named by the request, NOT_FOUND when missing or
/// another tenant's.
pub(super) async fn get_entry<M: Kept>(
    shared: &Shared,
    request: Request<String>,
) -> Result<Response<M>, Status> {
    let (_, tenant) = caller(&request)?;
    let name = request.into_inner();
    let txn = shared.begin_read(tenant).await?;
    let found = resources::find(&txn, tenant, &name)
        .await?
        .ok_or_else(|| CallbacksError::not_found(&name))?;
    txn.commit().await.map_err(CallbacksError::from)?;
    Ok(Response::new(found))
}

/// List: the page of the tenant's resources a list request asks for
/// (oldest first unless asked otherwise), the next page token and the
/// total.
pub(super) async fn list_entries<M: Catalogued>(
    shared: &Shared,
    tenant: TenantId,
    filter: &str,
    order_by: &str,
    page_token: &str,
    page_size: i32,
) -> Result<(Vec<M>, String, i32)> {
    let conditions = parse_filter(filter, M::FILTERS)?;
    let order = parse_order(order_by)?;
    let txn = shared.begin_read(tenant).await?;
    let all = resources::list(&txn, tenant).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    listed(all, &conditions, &order, page_token, page_size)
}

/// The resource `name` an update or delete sent with `etag` acts on,
/// locked: NOT_FOUND when missing, ABORTED when it changed since `etag`.
pub(super) async fn for_change<M: Kept>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    etag: &str,
) -> Result<Stored<M>> {
    let stored = resources::get(txn, tenant, name, true)
        .await?
        .ok_or_else(|| CallbacksError::not_found(name))?;
    if !resource::etag_matches(etag, stored.revision) {
        return Err(CallbacksError::StaleEtag(name.to_owned()));
    }
    Ok(stored)
}

/// Stores the changed `entry` over `revision` (read by [`for_change`] for
/// `name`) with the next etag; ABORTED naming `name` when someone changed
/// it since.
pub(super) async fn replace_at<M: Entry>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    entry: &mut M,
    revision: i64,
    name: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    entry.set_etag(resource::etag(revision + 1));
    unless_stale(
        store::replace(txn, tenant, entry, revision, now).await?,
        name,
    )
}

/// Deletes `stored` (read by [`for_change`] for `name`) at its revision;
/// ABORTED naming `name` when someone changed it since.
pub(super) async fn delete_at<M: Kept>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    stored: &Stored<M>,
    name: &str,
) -> Result<()> {
    unless_stale(
        resources::delete::<M>(txn, tenant, stored.resource.name(), stored.revision).await?,
        name,
    )
}

/// FAILED_PRECONDITION while a policy of the tenant names `name` (read by
/// `uses`: its script or survey).
pub(super) async fn unused_by_policies(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    uses: fn(&CallbackPolicy) -> &str,
) -> Result<()> {
    match store::list(txn, tenant)
        .await?
        .iter()
        .find(|policy| uses(policy) == name)
    {
        Some(policy) => Err(in_use(name, &policy.name, "")),
        None => Ok(()),
    }
}

/// FAILED_PRECONDITION (saying what to do `instead`) while a draft or
/// active campaign names `name` (read by `uses`: its policy or script).
pub(super) async fn unused_by_campaigns(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    uses: fn(&Campaign) -> &str,
    instead: &str,
) -> Result<()> {
    match store::live_campaigns(txn, tenant)
        .await?
        .iter()
        .find(|campaign| uses(campaign) == name)
    {
        Some(campaign) => Err(in_use(name, &campaign.name, instead)),
        None => Ok(()),
    }
}

/// FAILED_PRECONDITION (saying what to do `instead`) while an open task
/// has the id of `name` in `column` (`policy_id`, `script_id`,
/// `survey_id`).
pub(super) async fn unused_by_open_tasks<M: Kept>(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    column: &'static str,
    instead: &str,
) -> Result<()> {
    if let Some(id) = resources::id_of::<M>(name)
        && store::open_task_uses(txn, tenant, column, id).await?
    {
        return Err(in_use(name, "open callback tasks", instead));
    }
    Ok(())
}

/// The paths of `mask`, each among `mutable` or a subfield of one of
/// `nested` (`retry.max_attempts`); `immutable` paths are named as such.
pub(super) fn mask_paths(
    mask: Option<FieldMask>,
    mutable: &[&str],
    nested: &[&str],
    immutable: &[&str],
) -> Result<Vec<String>> {
    let mask =
        mask.ok_or_else(|| CallbacksError::invalid("update_mask", "update_mask is required"))?;
    if mask.paths.is_empty() {
        return Err(CallbacksError::invalid(
            "update_mask",
            "update_mask must list the paths to change",
        ));
    }
    for path in &mask.paths {
        let top = path.split('.').next().unwrap_or_default();
        if immutable.contains(&path.as_str()) {
            return Err(CallbacksError::invalid(
                "update_mask",
                format!("update_mask names {path:?}, which is immutable"),
            ));
        }
        if !(mutable.contains(&path.as_str()) || (path != top && nested.contains(&top))) {
            return Err(CallbacksError::invalid(
                "update_mask",
                format!(
                    "update_mask names {path:?}, which cannot be changed; the paths: {}",
                    mutable.join(", ")
                ),
            ));
        }
    }
    Ok(mask.paths)
}

/// ABORTED naming `name` unless the revision-checked write `written` took.
fn unless_stale(written: bool, name: &str) -> Result<()> {
    if written {
        Ok(())
    } else {
        Err(CallbacksError::StaleEtag(name.to_owned()))
    }
}

/// FAILED_PRECONDITION: `name` is still used by `what`.
fn in_use(name: &str, what: &str, instead: &str) -> CallbacksError {
    CallbacksError::precondition(
        format!("{name} is still used by {what}{instead}"),
        "ILLEGAL_TRANSITION",
    )
}

/// The filter of a list request, or INVALID_ARGUMENT naming `filter`.
pub(super) fn parse_filter(text: &str, fields: &[(&'static str, Kind)]) -> Result<Filter> {
    filter::parse(text, fields).map_err(|error| CallbacksError::invalid("filter", error.0))
}

/// The order of a list request (`create_time`, the default, or
/// `update_time`), or INVALID_ARGUMENT naming `order_by`.
pub(super) fn parse_order(order_by: &str) -> Result<Vec<OrderKey>> {
    parse_order_of(
        order_by,
        &["create_time", "update_time"],
        OrderKey {
            field: "create_time",
            descending: false,
        },
    )
}

/// The order of a list request among `fields` (`default` when none is
/// asked), or INVALID_ARGUMENT naming `order_by`.
pub(super) fn parse_order_of(
    order_by: &str,
    fields: &[&'static str],
    default: OrderKey,
) -> Result<Vec<OrderKey>> {
    filter::parse_order(order_by, fields, default)
        .map_err(|error| CallbacksError::invalid("order_by", error.0))
}

/// The offset a page token carries, or INVALID_ARGUMENT naming
/// `page_token`.
pub(super) fn page_offset(token: &str) -> Result<usize> {
    filter::page_offset(token).map_err(|error| CallbacksError::invalid("page_token", error.0))
}

/// A time as the lists order it (none first).
fn when(time: Option<&Timestamp>) -> Option<DateTime<Utc>> {
    time.and_then(from_timestamp)
}

/// Filters, orders and pages `items`: the matching ones by `order` (ties
/// by name), the page from `token`, the next token and the total.
pub(super) fn listed<M: Catalogued>(
    items: Vec<M>,
    conditions: &Filter,
    order: &[OrderKey],
    token: &str,
    size: i32,
) -> Result<(Vec<M>, String, i32)> {
    let size = page_size(size)?;
    let offset = page_offset(token)?;
    Ok(page_of(
        items,
        |item| conditions.matches(|field| item.filter_values(field)),
        |left, right| {
            filter::compare(left, right, order, |item, field| {
                let (created, updated) = item.times();
                if field == "update_time" {
                    when(updated)
                } else {
                    when(created)
                }
            })
            .then_with(|| left.name().cmp(right.name()))
        },
        offset,
        size,
    ))
}

/// The `items` that `matches` lets through, sorted by `compare`: the page
/// of `size` from `offset`, the next page token and the total.
pub(super) fn page_of<T>(
    items: Vec<T>,
    matches: impl Fn(&T) -> bool,
    compare: impl Fn(&T, &T) -> Ordering,
    offset: usize,
    size: usize,
) -> (Vec<T>, String, i32) {
    let mut items: Vec<T> = items.into_iter().filter(|item| matches(item)).collect();
    items.sort_by(|left, right| compare(left, right));
    let total = i32::try_from(items.len()).unwrap_or(i32::MAX);
    let (page, next) = filter::page(items, offset, size);
    (page, next, total)
}

/// A text filter value.
pub(super) fn text(value: &str) -> Vec<FieldValue> {
    vec![FieldValue::Text(value.to_owned())]
}

/// An enum filter value, by its full name.
pub(super) fn enum_value(name: &str) -> Vec<FieldValue> {
    vec![FieldValue::Enum(name.to_owned())]
}

/// A timestamp of now.
pub(super) fn stamp(now: DateTime<Utc>) -> Option<Timestamp> {
    Some(to_timestamp(now))
}

// ---------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------

/// The paths `UpdateCallbackPolicy` may change (and whose subfields it may
/// name: `retry.max_attempts`).
const MUTABLE: &[&str] = &[
    "display_name",
    "description",
    "trigger_filter",
    "start_delay",
    "due_window",
    "calling_hours",
    "channel",
    "assignment",
    "retry",
    "script",
    "survey",
    "escalation_contact",
    "active",
];

/// The messages whose subfields a mask may name.
const NESTED: &[&str] = &["trigger_filter", "assignment", "retry"];

/// The fields `ListCallbackPolicies` filters on.
const FILTERS: &[(&str, Kind)] = &[
    ("trigger", Kind::Enum("CALLBACK_TRIGGER_")),
    ("active", Kind::Bool),
    ("channel", Kind::Enum("CHANNEL_")),
    ("script", Kind::Text),
    ("survey", Kind::Text),
    ("assignment.team", Kind::Text),
    ("template_key", Kind::Text),
];

/// What a policy names must be the tenant's: its script and survey, its
/// team (the copy of the tenant's teams) and its escalation contact
/// (INVALID_ARGUMENT naming the field). On update only the references the
/// mask changes are read, so a policy whose team was since deleted can
/// still be deactivated.
async fn check_references(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    policy: &CallbackPolicy,
    paths: Option<&[String]>,
) -> Result<()> {
    let changed = |field: &str| {
        paths.is_none_or(|paths| {
            paths
                .iter()
                .any(|path| path == field || path.starts_with(&format!("{field}.")))
        })
    };
    if changed("script")
        && !policy.script.is_empty()
        && resources::find::<CallbackScript, _>(txn, tenant, &policy.script)
            .await?
            .is_none()
    {
        return Err(CallbacksError::invalid(
            "callback_policy.script",
            format!("{} is not a script of the tenant", policy.script),
        ));
    }
    if changed("survey")
        && !policy.survey.is_empty()
        && resources::find::<Survey, _>(txn, tenant, &policy.survey)
            .await?
            .is_none()
    {
        return Err(CallbacksError::invalid(
            "callback_policy.survey",
            format!("{} is not a survey of the tenant", policy.survey),
        ));
    }
    let team = policy
        .assignment
        .as_ref()
        .map_or("", |assignment| assignment.team.as_str());
    if changed("assignment")
        && !team.is_empty()
        && kefu_tenants::replica::team(txn, tenant, team)
            .await?
            .is_none()
    {
        return Err(CallbacksError::invalid(
            "callback_policy.assignment.team",
            format!("{team} is not a team of the tenant"),
        ));
    }
    if changed("escalation_contact")
        && !policy.escalation_contact.is_empty()
        && kefu_tenants::replica::user(txn, tenant, &policy.escalation_contact)
            .await?
            .is_none()
    {
        return Err(CallbacksError::invalid(
            "callback_policy.escalation_contact",
            format!("{} is not a user of the tenant", policy.escalation_contact),
        ));
    }
    Ok(())
}

/// CreateCallbackPolicy.
pub(super) async fn create_callback_policy(
    shared: &Shared,
    request: Request<CreateCallbackPolicyRequest>,
) -> Result<Response<CallbackPolicy>, Status> {
    let (context, tenant) = caller(&request)?;
    admin_only(&context, "callback policies")?;
    let request = request.into_inner();
    check_request_id(&request.request_id)?;
    let input = required(request.callback_policy, "callback_policy")?;
    let now = shared.now();
    let mut policy = CallbackPolicy {
        name: store::name_of(Uuid::now_v7()),
        template_key: String::new(),
        create_time: stamp(now),
        update_time: stamp(now),
        etag: resource::etag(1),
        ..input
    };
    check_policy(&mut policy, "callback_policy")?;
    let txn = shared.begin(tenant).await?;
    if let Some(earlier) = recalled(&txn, tenant, &request.request_id).await? {
        return Ok(Response::new(earlier));
    }
    check_references(&txn, tenant, &policy, None).await?;
    let method = "CreateCallbackPolicy";
    insert_remembered(&txn, tenant, &policy, &request.request_id, method, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(policy))
}

/// GetCallbackPolicy.
pub(super) async fn get_callback_policy(
    shared: &Shared,
    request: Request<GetCallbackPolicyRequest>,
) -> Result<Response<CallbackPolicy>, Status> {
    get_entry(shared, request.map(|request| request.name)).await
}

impl Catalogued for CallbackPolicy {
    const FILTERS: &'static [(&'static str, Kind)] = FILTERS;

    fn filter_values(&self, field: &str) -> Vec<FieldValue> {
        match field {
            "trigger" => enum_value(
                CallbackTrigger::try_from(self.trigger)
                    .unwrap_or_default()
                    .as_str_name(),
            ),
            "active" => vec![FieldValue::Bool(self.active.unwrap_or(true))],
            "channel" => enum_value(
                Channel::try_from(self.channel)
                    .unwrap_or_default()
                    .as_str_name(),
            ),
            "script" => text(&self.script),
            "survey" => text(&self.survey),
            "assignment.team" => text(
                self.assignment
                    .as_ref()
                    .map_or("", |assignment| assignment.team.as_str()),
            ),
            "template_key" => text(&self.template_key),
            _ => Vec::new(),
        }
    }

    fn times(&self) -> (Option<&Timestamp>, Option<&Timestamp>) {
        (self.create_time.as_ref(), self.update_time.as_ref())
    }
}

/// ListCallbackPolicies: oldest first unless asked otherwise.
pub(super) async fn list_callback_policies(
    shared: &Shared,
    request: Request<ListCallbackPoliciesRequest>,
) -> Result<Response<ListCallbackPoliciesResponse>, Status> {
    let (_, tenant) = caller(&request)?;
    let request = request.into_inner();
    let (callback_policies, next_page_token, total_size) = list_entries(
        shared,
        tenant,
        &request.filter,
        &request.order_by,
        &request.page_token,
        request.page_size,
    )
    .await?;
    Ok(Response::new(ListCallbackPoliciesResponse {
        callback_policies,
        next_page_token,
        total_size,
    }))
}

/// Copies `path` of `input` onto `policy`.
fn apply_path(policy: &mut CallbackPolicy, input: &CallbackPolicy, path: &str) {
    let filter = || input.trigger_filter.clone().unwrap_or_default();
    let assignment = || input.assignment.clone().unwrap_or_default();
    let retry = || input.retry.unwrap_or_default();
    match path {
        "display_name" => policy.display_name.clone_from(&input.display_name),
        "description" => policy.description.clone_from(&input.description),
        "trigger_filter" => policy.trigger_filter.clone_from(&input.trigger_filter),
        "start_delay" => policy.start_delay = input.start_delay,
        "due_window" => policy.due_window = input.due_window,
        "calling_hours" => policy.calling_hours.clone_from(&input.calling_hours),
        "channel" => policy.channel = input.channel,
        "assignment" => policy.assignment.clone_from(&input.assignment),
        "retry" => policy.retry.clone_from(&input.retry),
        "script" => policy.script.clone_from(&input.script),
        "survey" => policy.survey.clone_from(&input.survey),
        "escalation_contact" => policy
            .escalation_contact
            .clone_from(&input.escalation_contact),
        "active" => policy.active = Some(input.active.unwrap_or(true)),
        "trigger_filter.ticket_kinds" => {
            policy.trigger_filter.get_or_insert_default().ticket_kinds = filter().ticket_kinds;
        }
        "trigger_filter.ticket_categories" => {
            policy
                .trigger_filter
                .get_or_insert_default()
                .ticket_categories = filter().ticket_categories;
        }
        "trigger_filter.members_only" => {
            policy.trigger_filter.get_or_insert_default().members_only = filter().members_only;
        }
        "trigger_filter.customer_segment" => {
            policy
                .trigger_filter
                .get_or_insert_default()
                .customer_segment = filter().customer_segment;
        }
        "assignment.mode" => policy.assignment.get_or_insert_default().mode = assignment().mode,
        "assignment.team" => policy.assignment.get_or_insert_default().team = assignment().team,
        "retry.max_attempts" => {
            policy.retry.get_or_insert_default().max_attempts = retry().max_attempts;
        }
        "retry.retry_interval" => {
            policy.retry.get_or_insert_default().retry_interval = retry().retry_interval;
        }
        "retry.sms_fallback" => {
            policy.retry.get_or_insert_default().sms_fallback = retry().sms_fallback;
        }
        "retry.sms_reply_window" => {
            policy.retry.get_or_insert_default().sms_reply_window = retry().sms_reply_window;
        }
        _ => {}
    }
}

/// The subfield paths a mask may name.
const SUBFIELDS: &[&str] = &[
    "trigger_filter.ticket_kinds",
    "trigger_filter.ticket_categories",
    "trigger_filter.members_only",
    "trigger_filter.customer_segment",
    "assignment.mode",
    "assignment.team",
    "retry.max_attempts",
    "retry.retry_interval",
    "retry.sms_fallback",
    "retry.sms_reply_window",
];

/// UpdateCallbackPolicy: tasks already created keep what they copied.
pub(super) async fn update_callback_policy(
    shared: &Shared,
    request: Request<UpdateCallbackPolicyRequest>,
) -> Result<Response<CallbackPolicy>, Status> {
    let (context, tenant) = caller(&request)?;
    admin_only(&context, "callback policies")?;
    let request = request.into_inner();
    let input = required(request.callback_policy, "callback_policy")?;
    let paths = mask_paths(request.update_mask, MUTABLE, NESTED, &["trigger"])?;
    if let Some(path) = paths
        .iter()
        .find(|path| path.contains('.') && !SUBFIELDS.contains(&path.as_str()))
    {
        return Err(CallbacksError::invalid(
            "update_mask",
            format!("update_mask names {path:?}, which is not a field of the policy"),
        )
        .into());
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let stored = for_change::<CallbackPolicy>(&txn, tenant, &input.name, &input.etag).await?;
    let mut policy = stored.resource.clone();
    for path in &paths {
        apply_path(&mut policy, &input, path);
    }
    check_policy(&mut policy, "callback_policy")?;
    check_references(&txn, tenant, &policy, Some(&paths)).await?;
    policy.update_time = stamp(now);
    replace_at(&txn, tenant, &mut policy, stored.revision, &input.name, now).await?;
    shared.commit(txn).await?;
    Ok(Response::new(policy))
}

/// DeleteCallbackPolicy: refused while open tasks or a draft or active
/// campaign use the policy.
pub(super) async fn delete_callback_policy(
    shared: &Shared,
    request: Request<DeleteCallbackPolicyRequest>,
) -> Result<Response<()>, Status> {
    let (context, tenant) = caller(&request)?;
    admin_only(&context, "callback policies")?;
    let request = request.into_inner();
    let txn = shared.begin(tenant).await?;
    let stored = for_change::<CallbackPolicy>(&txn, tenant, &request.name, &request.etag).await?;
    let name = stored.resource.name.as_str();
    let instead = " (deactivate it instead: active = false)";
    unused_by_open_tasks::<CallbackPolicy>(&txn, tenant, name, "policy_id", instead).await?;
    unused_by_campaigns(&txn, tenant, name, |campaign| &campaign.policy, instead).await?;
    delete_at(&txn, tenant, &stored, &request.name).await?;
    shared.commit(txn).await?;
    Ok(Response::new(()))
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::CallbackAssignment;

    use super::*;

    fn policy(id: u8, created: i64, updated: i64, active: bool) -> CallbackPolicy {
        CallbackPolicy {
            name: format!("callbackPolicies/{id}"),
            trigger: CallbackTrigger::TicketResolved as i32,
            active: Some(active),
            assignment: Some(CallbackAssignment {
                mode: 0,
                team: format!("teams/t{}", id % 2),
            }),
            create_time: Some(Timestamp {
                seconds: created,
                nanos: 0,
            }),
            update_time: Some(Timestamp {
                seconds: updated,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    fn names(
        filter: &str,
        order: &str,
        token: &str,
        size: i32,
    ) -> Result<(Vec<String>, String, i32)> {
        let all = vec![
            policy(1, 30, 40, true),
            policy(2, 10, 90, true),
            policy(3, 20, 20, false),
            policy(4, 20, 50, true),
        ];
        let conditions = parse_filter(filter, FILTERS)?;
        let order = parse_order(order)?;
        let (page, next, total) = listed(all, &conditions, &order, token, size)?;
        Ok((
            page.into_iter().map(|policy| policy.name).collect(),
            next,
            total,
        ))
    }

    #[test]
    fn lists_filter_order_by_time_then_name_and_page() {
        let (first, next, total) = names("", "", "", 2).expect("listed");
        assert_eq!(first, ["callbackPolicies/2", "callbackPolicies/3"]);
        assert_eq!(total, 4);
        let (rest, last, _) = names("", "", &next, 2).expect("next page");
        assert_eq!(rest, ["callbackPolicies/4", "callbackPolicies/1"]);
        assert_eq!(last, "");
        let (active, _, total) = names(
            "active AND trigger = TICKET_RESOLVED",
            "update_time desc",
            "",
            50,
        )
        .expect("filtered");
        assert_eq!(
            active,
            [
                "callbackPolicies/2",
                "callbackPolicies/4",
                "callbackPolicies/1"
            ]
        );
        assert_eq!(total, 3);
        let (team, _, _) = names(r#"assignment.team = "teams/t1""#, "", "", 50).expect("team");
        assert_eq!(team, ["callbackPolicies/3", "callbackPolicies/1"]);
    }

    #[test]
    fn bad_list_requests_name_their_field() {
        for (filter, order, token, size, field) in [
            ("colour = red", "", "", 0, "filter"),
            ("", "priority", "", 0, "order_by"),
            ("", "", "x", 0, "page_token"),
            ("", "", "", -1, "page_size"),
        ] {
            match names(filter, order, token, size) {
                Err(CallbacksError::Invalid(violation, _)) => assert_eq!(violation.field, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
