//! Coverage (回访覆盖率) of campaigns and policies, and who is missing:
//! computed on request from the tasks by `domain::coverage`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use kefu_kit::{
    context::TenantId,
    events::{from_timestamp, to_timestamp},
    filter::{self, FieldValue, Kind, OrderKey},
};
use kefu_proto::v1::{
    CallbackCoverage, CallbackTask, CallbackTaskState, GetCampaignCoverageRequest,
    GetPolicyCoverageRequest, ListUncoveredCustomersRequest, ListUncoveredCustomersResponse, Role,
    UncoveredCustomer, UncoveredReason,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};

use super::{
    Shared, caller,
    campaigns::{require, tenant_zone},
    page_size,
    policies::{page_of, page_offset, parse_filter, parse_order_of},
};
use crate::{
    domain::{campaign, coverage},
    error::{CallbacksError, Result},
    store::{campaigns, tasks},
};

/// The roles that read coverage.
const READERS: &[Role] = &[Role::Supervisor, Role::Manager, Role::Admin, Role::Viewer];

/// The longest interval of a policy's coverage.
const MAX_INTERVAL: Duration = Duration::days(400);

/// The agents' display names from the copy of the tenant, by user name.
async fn agent_names(
    txn: &DatabaseTransaction,
    tenant: TenantId,
) -> Result<BTreeMap<String, String>> {
    Ok(kefu_tenants::replica::users(txn, tenant)
        .await?
        .into_iter()
        .map(|user| (user.name, user.display_name))
        .collect())
}

/// The tasks of campaign `name` with its period, or NOT_FOUND.
async fn campaign_tasks(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
) -> Result<(Vec<CallbackTask>, Option<(DateTime<Utc>, DateTime<Utc>)>)> {
    let found = campaigns::find(txn, tenant, name)
        .await?
        .ok_or_else(|| CallbacksError::not_found(name))?;
    let zone = tenant_zone(txn, tenant).await?;
    let listed = tasks::list(
        txn,
        tenant,
        &tasks::Prefilter {
            campaign: Some(found.name.clone()),
            ..tasks::Prefilter::default()
        },
    )
    .await?;
    Ok((listed, campaign::period(&found, zone)))
}

/// The interval asked of a policy: `start_time` required, `end_time` after
/// it (default now), at most 400 days apart.
fn interval(
    start: Option<&prost_types::Timestamp>,
    end: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let start =
        start.ok_or_else(|| CallbacksError::invalid("start_time", "start_time is required"))?;
    let start = from_timestamp(start)
        .ok_or_else(|| CallbacksError::invalid("start_time", "start_time is not a valid time"))?;
    let end = match end {
        Some(end) => from_timestamp(end)
            .ok_or_else(|| CallbacksError::invalid("end_time", "end_time is not a valid time"))?,
        None => now,
    };
    if end <= start {
        return Err(CallbacksError::invalid(
            "end_time",
            "end_time must be after start_time",
        ));
    }
    if end - start > MAX_INTERVAL {
        return Err(CallbacksError::invalid(
            "end_time",
            "the interval is at most 400 days",
        ));
    }
    Ok((start, end))
}

/// NOT_FOUND unless policy `name` exists (checked before the interval, so
/// another tenant's policy answers NOT_FOUND whatever the interval).
async fn existing_policy(txn: &DatabaseTransaction, tenant: TenantId, name: &str) -> Result<()> {
    super::tasks::policy_of(txn, tenant, name)
        .await?
        .map(|_| ())
        .ok_or_else(|| CallbacksError::not_found(name))
}

/// The tasks of policy `name` whose trigger time falls in `[start, end)`.
async fn policy_tasks(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<CallbackTask>> {
    let listed = tasks::list(
        txn,
        tenant,
        &tasks::Prefilter {
            policy: Some(name.to_owned()),
            ..tasks::Prefilter::default()
        },
    )
    .await?;
    Ok(listed
        .into_iter()
        .filter(|task| {
            task.trigger_time
                .as_ref()
                .and_then(from_timestamp)
                .is_some_and(|time| start <= time && time < end)
        })
        .collect())
}

/// The resource a coverage name (`{parent}/coverage`) is of, or
/// INVALID_ARGUMENT naming `name`.
fn covered(name: &str, collection: &str) -> Result<String> {
    name.strip_suffix("/coverage")
        .filter(|parent| kefu_kit::resource::id_in(parent, collection).is_some())
        .map(str::to_owned)
        .ok_or_else(|| {
            CallbacksError::invalid("name", format!("name must be {collection}/{{id}}/coverage"))
        })
}

/// GetCampaignCoverage.
pub(super) async fn get_campaign_coverage(
    shared: &Shared,
    request: Request<GetCampaignCoverageRequest>,
) -> Result<Response<CallbackCoverage>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, READERS, "read coverage")?;
    let name = request.into_inner().name;
    let parent = covered(&name, campaigns::COLLECTION)?;
    let now = shared.now();
    let txn = shared
        .begin_read(tenant)
        .await
        .map_err(CallbacksError::from)?;
    let (listed, period) = campaign_tasks(&txn, tenant, &parent).await?;
    let names = agent_names(&txn, tenant).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    let mut figures = coverage::compute(&listed, &names, now);
    figures.name = name;
    if let Some((start, end)) = period {
        figures.start_time = Some(to_timestamp(start));
        figures.end_time = Some(to_timestamp(end));
    }
    Ok(Response::new(figures))
}

/// GetPolicyCoverage.
pub(super) async fn get_policy_coverage(
    shared: &Shared,
    request: Request<GetPolicyCoverageRequest>,
) -> Result<Response<CallbackCoverage>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, READERS, "read coverage")?;
    let request = request.into_inner();
    let parent = covered(&request.name, "callbackPolicies")?;
    let now = shared.now();
    let txn = shared
        .begin_read(tenant)
        .await
        .map_err(CallbacksError::from)?;
    existing_policy(&txn, tenant, &parent).await?;
    let (start, end) = interval(request.start_time.as_ref(), request.end_time.as_ref(), now)?;
    let listed = policy_tasks(&txn, tenant, &parent, (start, end)).await?;
    let names = agent_names(&txn, tenant).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    let mut figures = coverage::compute(&listed, &names, now);
    figures.name = request.name;
    figures.start_time = Some(to_timestamp(start));
    figures.end_time = Some(to_timestamp(end));
    Ok(Response::new(figures))
}

const UNCOVERED_FIELDS: &[(&str, Kind)] = &[
    ("assignee", Kind::Text),
    ("reason", Kind::Enum("UNCOVERED_REASON_")),
    ("customer_is_member", Kind::Bool),
    ("task_state", Kind::Enum("CALLBACK_TASK_STATE_")),
];

fn uncovered_values(missing: &UncoveredCustomer, field: &str) -> Vec<FieldValue> {
    match field {
        "assignee" => vec![FieldValue::Text(missing.assignee.clone())],
        "reason" => vec![FieldValue::Enum(
            UncoveredReason::try_from(missing.reason)
                .unwrap_or(UncoveredReason::Unspecified)
                .as_str_name()
                .to_owned(),
        )],
        "customer_is_member" => vec![FieldValue::Bool(missing.customer_is_member)],
        "task_state" => vec![FieldValue::Enum(
            CallbackTaskState::try_from(missing.task_state)
                .unwrap_or(CallbackTaskState::Unspecified)
                .as_str_name()
                .to_owned(),
        )],
        _ => Vec::new(),
    }
}

fn uncovered_key(missing: &UncoveredCustomer, field: &str) -> (String, i64, String) {
    let due = missing
        .due_end
        .as_ref()
        .map_or(i64::MAX, |time| time.seconds);
    match field {
        "customer_display_name" => (
            missing.customer_display_name.clone(),
            due,
            missing.customer.clone(),
        ),
        _ => (String::new(), due, missing.customer.clone()),
    }
}

/// ListUncoveredCustomers.
pub(super) async fn list_uncovered_customers(
    shared: &Shared,
    request: Request<ListUncoveredCustomersRequest>,
) -> Result<Response<ListUncoveredCustomersResponse>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, READERS, "read coverage")?;
    let request = request.into_inner();
    if request.parent.is_empty() {
        return Err(CallbacksError::invalid("parent", "parent is required").into());
    }
    let is_campaign = kefu_kit::resource::id_in(&request.parent, campaigns::COLLECTION).is_some();
    let is_policy = kefu_kit::resource::id_in(&request.parent, "callbackPolicies").is_some();
    if !is_campaign && !is_policy {
        return Err(CallbacksError::invalid(
            "parent",
            "parent must be campaigns/{id} or callbackPolicies/{id}",
        )
        .into());
    }
    let size = page_size(request.page_size)?;
    let mut parsed = parse_filter(&request.filter, UNCOVERED_FIELDS)?;
    parsed
        .resolve_me(super::caller_user(&context).as_deref())
        .map_err(|error| CallbacksError::invalid("filter", error.0))?;
    let order = parse_order_of(
        &request.order_by,
        &["due_end", "customer_display_name"],
        OrderKey {
            field: "due_end",
            descending: false,
        },
    )?;
    let offset = page_offset(&request.page_token)?;
    let now = shared.now();
    let txn = shared
        .begin_read(tenant)
        .await
        .map_err(CallbacksError::from)?;
    let listed = if is_policy {
        existing_policy(&txn, tenant, &request.parent).await?;
        let asked = interval(request.start_time.as_ref(), request.end_time.as_ref(), now)?;
        policy_tasks(&txn, tenant, &request.parent, asked).await?
    } else {
        campaign_tasks(&txn, tenant, &request.parent).await?.0
    };
    txn.commit().await.map_err(CallbacksError::from)?;
    let (uncovered_customers, next_page_token, total_size) = page_of(
        coverage::uncovered(&listed, now),
        |missing| parsed.matches(|field| uncovered_values(missing, field)),
        |left, right| filter::compare(left, right, &order, uncovered_key),
        offset,
        size,
    );
    Ok(Response::new(ListUncoveredCustomersResponse {
        uncovered_customers,
        next_page_token,
        total_size,
    }))
}
