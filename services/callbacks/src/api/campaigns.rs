//! Campaigns (特色回访): a segment visited once in a period. Started, a
//! campaign schedules one task per customer of its segment through
//! [`super::tasks::schedule`] (trigger event id
//! `campaigns/{campaign}/customers/{customer}`, so a customer gets one task
//! however often it is targeted), due by the end of its last day in the
//! tenant's time zone; cancelled, its open tasks are cancelled.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use kefu_kit::{
    context::{CallContext, TenantId},
    filter::{self, FieldValue, Kind, OrderKey},
};
use kefu_proto::v1::{
    Actor, CallbackCancelReason, CallbackPolicy, CallbackScript, CallbackTask, CallbackTrigger,
    Campaign, CampaignCancelled, CampaignCompleted, CampaignKind, CampaignStarted, CampaignState,
    CancelCampaignRequest, CreateCampaignRequest, GetCampaignRequest, ListCampaignsRequest,
    ListCampaignsResponse, Role, StartCampaignRequest, UpdateCampaignRequest,
};
use sea_orm::{ConnectionTrait, DatabaseTransaction};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{
    Shared, actor_of, append_event, caller, holds, page_size,
    policies::{page_of, page_offset, parse_filter, parse_order_of, recalled},
    remember_request, required, system_actor,
};
use crate::{
    domain::{
        campaign::{self, day_of},
        coverage,
        task::Trigger,
    },
    error::{CallbacksError, Result},
    store::{campaigns, resources, segments, tasks},
};

/// The roles that run campaigns.
pub(crate) const MANAGERS: &[Role] = &[Role::Supervisor, Role::Manager, Role::Admin];

/// The roles that read campaigns.
pub(crate) const READERS: &[Role] = &[
    Role::Agent,
    Role::Supervisor,
    Role::Manager,
    Role::Admin,
    Role::Viewer,
];

const CREATE_METHOD: &str = "kefu.v1.CallbackService/CreateCampaign";

pub(crate) fn require(context: &CallContext, roles: &[Role], what: &str) -> Result<()> {
    if holds(context, roles) {
        Ok(())
    } else {
        Err(CallbacksError::PermissionDenied(format!(
            "your role may not {what}"
        )))
    }
}

/// The tenant's time zone (the copy's), Asia/Shanghai when unknown.
pub(crate) async fn tenant_zone<C: ConnectionTrait>(db: &C, tenant: TenantId) -> Result<Tz> {
    Ok(kefu_tenants::replica::tenant(db, tenant)
        .await?
        .and_then(|tenant| tenant.time_zone.parse::<Tz>().ok())
        .unwrap_or(chrono_tz::Asia::Shanghai))
}

/// The campaign's period in `zone`, or INTERNAL for a stored campaign
/// without one (every stored campaign was checked).
fn period_of(campaign: &Campaign, zone: Tz) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    campaign::period(campaign, zone)
        .ok_or_else(|| CallbacksError::Internal(format!("{} has no period", campaign.name)))
}

/// The policy `name` for campaign tasks: INVALID_ARGUMENT naming `field`
/// unless it exists with the CAMPAIGN trigger.
async fn campaign_policy(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    field: &str,
) -> Result<CallbackPolicy> {
    let policy = super::tasks::policy_of(txn, tenant, name)
        .await?
        .ok_or_else(|| CallbacksError::invalid(field, format!("{name} is not a policy")))?;
    if policy.trigger != CallbackTrigger::Campaign as i32 {
        return Err(CallbacksError::invalid(
            field,
            format!("{name} is not triggered by campaigns (trigger CAMPAIGN)"),
        ));
    }
    Ok(policy)
}

/// INVALID_ARGUMENT naming `field` unless `segment` is known here (its
/// creation or a customer in it was seen).
async fn known_segment(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    segment: &str,
    field: &str,
) -> Result<()> {
    if segments::is_known(txn, tenant, segment).await? {
        Ok(())
    } else {
        Err(CallbacksError::invalid(
            field,
            format!("{segment} is not a segment of this tenant"),
        ))
    }
}

/// INVALID_ARGUMENT naming `field` unless `script` is empty (the
/// policy's) or one of the tenant's scripts.
async fn known_script(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    script: &str,
    field: &str,
) -> Result<()> {
    if script.is_empty()
        || resources::find::<CallbackScript, _>(txn, tenant, script)
            .await?
            .is_some()
    {
        Ok(())
    } else {
        Err(CallbacksError::invalid(
            field,
            format!("{script} is not a script of this tenant"),
        ))
    }
}

/// CreateCampaign.
pub(super) async fn create_campaign(
    shared: &Shared,
    request: Request<CreateCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, MANAGERS, "run campaigns")?;
    let request = request.into_inner();
    let given = required(request.campaign, "campaign")?;
    campaign::check(&given, "campaign")?;
    let now = shared.now();
    let txn = shared.begin(tenant).await.map_err(CallbacksError::from)?;
    if let Some(earlier) = recalled(&txn, tenant, &request.request_id).await? {
        return Ok(Response::new(earlier));
    }
    campaign_policy(&txn, tenant, &given.policy, "campaign.policy").await?;
    known_segment(
        &txn,
        tenant,
        &given.target_segment,
        "campaign.target_segment",
    )
    .await?;
    known_script(&txn, tenant, &given.script, "campaign.script").await?;
    let zone = tenant_zone(&txn, tenant).await?;
    let mut created = campaign::new_draft(&given, campaigns::name_of(Uuid::now_v7()), now);
    created.creator = Some(actor_of(&txn, tenant, &context).await?);
    let (_, period_end) = period_of(&created, zone)?;
    campaigns::insert(&txn, tenant, &mut created, period_end, now).await?;
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        CREATE_METHOD,
        &created.name,
        now,
    )
    .await?;
    shared.commit(txn).await.map_err(CallbacksError::from)?;
    Ok(Response::new(created))
}

/// GetCampaign.
pub(super) async fn get_campaign(
    shared: &Shared,
    request: Request<GetCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, READERS, "read campaigns")?;
    let name = request.into_inner().name;
    if name.is_empty() {
        return Err(CallbacksError::invalid("name", "name is required").into());
    }
    let txn = shared
        .begin_read(tenant)
        .await
        .map_err(CallbacksError::from)?;
    let found = campaigns::find(&txn, tenant, &name).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    Ok(Response::new(
        found.ok_or_else(|| CallbacksError::not_found(&name))?,
    ))
}

const LIST_FIELDS: &[(&str, Kind)] = &[
    ("kind", Kind::Enum("CAMPAIGN_KIND_")),
    ("state", Kind::Enum("CAMPAIGN_STATE_")),
    ("policy", Kind::Text),
    ("target_segment", Kind::Text),
    ("start_date", Kind::Time),
    ("end_date", Kind::Time),
];

fn day_value(date: Option<&kefu_proto::v1::Date>) -> Vec<FieldValue> {
    day_of(date)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|time| vec![FieldValue::Time(time.and_utc())])
        .unwrap_or_default()
}

fn field_values(campaign: &Campaign, field: &str) -> Vec<FieldValue> {
    match field {
        "kind" => vec![FieldValue::Enum(
            CampaignKind::try_from(campaign.kind)
                .unwrap_or(CampaignKind::Unspecified)
                .as_str_name()
                .to_owned(),
        )],
        "state" => vec![FieldValue::Enum(
            CampaignState::try_from(campaign.state)
                .unwrap_or(CampaignState::Unspecified)
                .as_str_name()
                .to_owned(),
        )],
        "policy" => vec![FieldValue::Text(campaign.policy.clone())],
        "target_segment" => vec![FieldValue::Text(campaign.target_segment.clone())],
        "start_date" => day_value(campaign.start_date.as_ref()),
        "end_date" => day_value(campaign.end_date.as_ref()),
        _ => Vec::new(),
    }
}

fn order_key(campaign: &Campaign, field: &str) -> (i64, String) {
    let day = |date: Option<&kefu_proto::v1::Date>| {
        day_of(date)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .map_or(0, |time| time.and_utc().timestamp())
    };
    let key = match field {
        "end_date" => day(campaign.end_date.as_ref()),
        "create_time" => campaign.create_time.as_ref().map_or(0, |time| time.seconds),
        _ => day(campaign.start_date.as_ref()),
    };
    (key, campaign.name.clone())
}

/// ListCampaigns.
pub(super) async fn list_campaigns(
    shared: &Shared,
    request: Request<ListCampaignsRequest>,
) -> Result<Response<ListCampaignsResponse>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, READERS, "read campaigns")?;
    let request = request.into_inner();
    let size = page_size(request.page_size)?;
    let parsed = parse_filter(&request.filter, LIST_FIELDS)?;
    let order = parse_order_of(
        &request.order_by,
        &["start_date", "end_date", "create_time"],
        OrderKey {
            field: "start_date",
            descending: true,
        },
    )?;
    let offset = page_offset(&request.page_token)?;
    let txn = shared
        .begin_read(tenant)
        .await
        .map_err(CallbacksError::from)?;
    let all = campaigns::list(&txn, tenant).await?;
    txn.commit().await.map_err(CallbacksError::from)?;
    let (campaigns, next_page_token, total_size) = page_of(
        all,
        |campaign| parsed.matches(|field| field_values(campaign, field)),
        |left, right| filter::compare(left, right, &order, order_key),
        offset,
        size,
    );
    Ok(Response::new(ListCampaignsResponse {
        campaigns,
        next_page_token,
        total_size,
    }))
}

/// UpdateCampaign.
pub(super) async fn update_campaign(
    shared: &Shared,
    request: Request<UpdateCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, MANAGERS, "run campaigns")?;
    let request = request.into_inner();
    let patch = required(request.campaign, "campaign")?;
    let paths = required(request.update_mask, "update_mask")?.paths;
    let now = shared.now();
    let txn = shared.begin(tenant).await.map_err(CallbacksError::from)?;
    let before =
        campaigns::find_for_change(&txn, tenant, &patch.name, "campaign.name", &patch.etag).await?;
    let mut after = campaign::apply_update(&before, &patch, &paths)?;
    campaign::check(&after, "campaign")?;
    if after.policy != before.policy {
        campaign_policy(&txn, tenant, &after.policy, "campaign.policy").await?;
    }
    if after.target_segment != before.target_segment {
        known_segment(
            &txn,
            tenant,
            &after.target_segment,
            "campaign.target_segment",
        )
        .await?;
    }
    if after.script != before.script {
        known_script(&txn, tenant, &after.script, "campaign.script").await?;
    }
    let zone = tenant_zone(&txn, tenant).await?;
    let (_, period_end) = period_of(&after, zone)?;
    campaigns::save(&txn, tenant, &before, &mut after, period_end, now).await?;
    shared.commit(txn).await.map_err(CallbacksError::from)?;
    Ok(Response::new(after))
}

/// The trigger of `campaign`'s task for `customer`: the campaign's policy
/// and script, one per customer (`campaigns/{campaign}/customers/{id}`),
/// from the start of the period (or now, if later) to its end.
fn campaign_trigger(
    campaign: &Campaign,
    policy: &CallbackPolicy,
    customer: &str,
    period: (DateTime<Utc>, DateTime<Utc>),
    creator: &Actor,
    now: DateTime<Utc>,
) -> Trigger {
    let customer_id = customer.strip_prefix("customers/").unwrap_or(customer);
    Trigger {
        policy: policy.clone(),
        trigger: CallbackTrigger::Campaign,
        event_id: format!("{}/customers/{customer_id}", campaign.name),
        source: campaign.name.clone(),
        time: period.0.max(now),
        customer: customer.to_owned(),
        subject: campaign.display_name.clone(),
        related_ticket: String::new(),
        related_dispatch: String::new(),
        related_complaint: String::new(),
        campaign: campaign.name.clone(),
        script: campaign.script.clone(),
        assignee: String::new(),
        due_start: None,
        due_end: Some(period.1),
        appointment: None,
        render_values: BTreeMap::from([(
            "campaign.display_name".to_owned(),
            campaign.display_name.clone(),
        )]),
        creator: creator.clone(),
    }
}

/// The policy of a campaign being started or extended to new members:
/// FAILED_PRECONDITION when it is gone or inactive.
async fn usable_policy(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    campaign: &Campaign,
) -> Result<CallbackPolicy> {
    let policy = super::tasks::policy_of(txn, tenant, &campaign.policy)
        .await?
        .ok_or_else(|| {
            CallbacksError::precondition(
                format!(
                    "{}: its policy {} no longer exists",
                    campaign.name, campaign.policy
                ),
                "ILLEGAL_TRANSITION",
            )
        })?;
    if policy.active == Some(false) {
        return Err(CallbacksError::precondition(
            format!(
                "{}: its policy {} is inactive",
                campaign.name, campaign.policy
            ),
            "ILLEGAL_TRANSITION",
        ));
    }
    Ok(policy)
}

/// StartCampaign.
pub(super) async fn start_campaign(
    shared: &Shared,
    request: Request<StartCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, MANAGERS, "run campaigns")?;
    let request = request.into_inner();
    let now = shared.now();
    let txn = shared.begin(tenant).await.map_err(CallbacksError::from)?;
    let before =
        campaigns::find_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    let zone = tenant_zone(&txn, tenant).await?;
    let period = period_of(&before, zone)?;
    let mut after = campaign::start(&before, period.1, now)?;
    let policy = usable_policy(&txn, tenant, &before).await?;
    let starter = actor_of(&txn, tenant, &context).await?;
    let system = system_actor();
    let members = segments::members(&txn, tenant, &before.target_segment).await?;
    let mut targeted = 0_i32;
    for customer in &members {
        let trigger = campaign_trigger(&after, &policy, customer, period, &system, now);
        super::tasks::schedule(&txn, tenant, trigger, now).await?;
        targeted += 1;
    }
    after.targeted_customer_count = targeted;
    after.targeting_complete = true;
    campaigns::save(&txn, tenant, &before, &mut after, period.1, now).await?;
    let started = CampaignStarted {
        campaign: after.name.clone(),
        kind: after.kind,
        display_name: after.display_name.clone(),
        target_segment: after.target_segment.clone(),
        start_date: after.start_date,
        end_date: after.end_date,
        policy: after.policy.clone(),
        actor: Some(starter),
    };
    append_event(&txn, tenant, after.name.clone(), &started, now).await?;
    shared.commit(txn).await.map_err(CallbacksError::from)?;
    Ok(Response::new(after))
}

/// The open tasks of `campaign`.
async fn open_tasks(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    campaign: &str,
) -> Result<Vec<CallbackTask>> {
    tasks::list(
        txn,
        tenant,
        &tasks::Prefilter {
            campaign: Some(campaign.to_owned()),
            states: tasks::OPEN_STATES.to_vec(),
            ..tasks::Prefilter::default()
        },
    )
    .await
}

/// CancelCampaign.
pub(super) async fn cancel_campaign(
    shared: &Shared,
    request: Request<CancelCampaignRequest>,
) -> Result<Response<Campaign>, Status> {
    let (context, tenant) = caller(&request)?;
    require(&context, MANAGERS, "run campaigns")?;
    let request = request.into_inner();
    if request.note.trim().is_empty() {
        return Err(CallbacksError::invalid("note", "note is required").into());
    }
    if request.note.chars().count() > campaign::MAX_NOTE {
        return Err(CallbacksError::invalid(
            "note",
            format!("note is longer than {} characters", campaign::MAX_NOTE),
        )
        .into());
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await.map_err(CallbacksError::from)?;
    let before =
        campaigns::find_for_change(&txn, tenant, &request.name, "name", &request.etag).await?;
    let mut after = campaign::cancel(&before, &request.note, now)?;
    let canceller = actor_of(&txn, tenant, &context).await?;
    let mut cancelled = 0_i32;
    for task in open_tasks(&txn, tenant, &before.name).await? {
        super::tasks::cancel_task(
            &txn,
            tenant,
            &task,
            CallbackCancelReason::CampaignCancelled,
            &after.cancel_note,
            &canceller,
            now,
        )
        .await?;
        cancelled += 1;
    }
    let zone = tenant_zone(&txn, tenant).await?;
    let (_, period_end) = period_of(&after, zone)?;
    campaigns::save(&txn, tenant, &before, &mut after, period_end, now).await?;
    let event = CampaignCancelled {
        campaign: after.name.clone(),
        kind: after.kind,
        note: after.cancel_note.clone(),
        cancelled_task_count: cancelled,
        actor: Some(canceller),
    };
    append_event(&txn, tenant, after.name.clone(), &event, now).await?;
    shared.commit(txn).await.map_err(CallbacksError::from)?;
    Ok(Response::new(after))
}

/// Completes, in `txn`, the ACTIVE campaigns of `tenant` whose period has
/// ended by `now`, each with CampaignCompleted carrying its coverage; the
/// number completed.
pub(crate) async fn complete_due(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Result<usize> {
    let due = campaigns::due_to_complete(txn, tenant, now).await?;
    let zone = tenant_zone(txn, tenant).await?;
    let mut completed = 0;
    for before in due {
        let (_, period_end) = period_of(&before, zone)?;
        let campaign_tasks = tasks::list(
            txn,
            tenant,
            &tasks::Prefilter {
                campaign: Some(before.name.clone()),
                ..tasks::Prefilter::default()
            },
        )
        .await?;
        let figures = coverage::compute(&campaign_tasks, &BTreeMap::new(), now);
        let mut after = campaign::complete(&before, now);
        campaigns::save(txn, tenant, &before, &mut after, period_end, now).await?;
        let event = CampaignCompleted {
            campaign: after.name.clone(),
            kind: after.kind,
            policy: after.policy.clone(),
            targeted_count: figures.targeted_count,
            reached_count: figures.reached_count,
            within_window_count: figures.within_window_count,
            member_targeted_count: figures.member_targeted_count,
            member_reached_count: figures.member_reached_count,
            open_count: figures.open_count + figures.overdue_count,
            end_time: after.end_time,
        };
        append_event(txn, tenant, after.name.clone(), &event, now).await?;
        completed += 1;
    }
    Ok(completed)
}

/// Schedules, in `txn`, the task each ACTIVE campaign over one of
/// `segments` that includes new members owes `customer`, who just entered
/// them; the number scheduled. A customer already targeted by a campaign
/// gets no second task (one per campaign and customer).
pub(crate) async fn members_entered(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    customer: &str,
    entered: &[String],
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut scheduled = 0;
    let mut zone = None;
    for segment in entered {
        for listed in campaigns::active_over(txn, tenant, segment).await? {
            if !listed.include_new_members {
                continue;
            }
            // Locked and read again before scheduling: a campaign cancelled
            // or completed since the unlocked list owes no more tasks.
            let found = campaigns::find_for_change(txn, tenant, &listed.name, "name", "").await?;
            if found.state != CampaignState::Active as i32 || !found.include_new_members {
                continue;
            }
            let zone = match zone {
                Some(zone) => zone,
                None => {
                    let read = tenant_zone(txn, tenant).await?;
                    zone = Some(read);
                    read
                }
            };
            let period = period_of(&found, zone)?;
            if period.1 <= now {
                continue;
            }
            // A campaign whose policy was deactivated or removed since it
            // started schedules no more tasks; other campaigns still do.
            let policy = match usable_policy(txn, tenant, &found).await {
                Ok(policy) => policy,
                Err(CallbacksError::FailedPrecondition(..)) => continue,
                Err(error) => return Err(error),
            };
            let trigger = campaign_trigger(&found, &policy, customer, period, &system_actor(), now);
            if super::tasks::schedule(txn, tenant, trigger, now)
                .await?
                .is_none()
            {
                continue;
            }
            let mut after = found.clone();
            after.targeted_customer_count += 1;
            campaigns::save(txn, tenant, &found, &mut after, period.1, now).await?;
            scheduled += 1;
        }
    }
    Ok(scheduled)
}
