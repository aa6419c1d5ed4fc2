//! Setup the callbacks suites share: a tenant with a callback team the
//! callbacks service's copy knows, policies spread over it, tasks made by
//! hand or by a resolved ticket, lists of the tenant's callbacks
//! configuration, and the events the callbacks service wrote.
//!
//! The callbacks service learns tenants, teams and customers from events,
//! so the helpers here wait for the copies (people, customers and tickets
//! come from [`crate::tickets_support`]).

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use kefu_kit::{
    clock::ManualClock,
    context::TenantId,
    db::{begin_for_tenant, begin_read_platform},
    events::from_timestamp,
    outbox,
    testing::Backend,
};
use kefu_proto::v1::{
    AddTeamMemberRequest, CallbackAssignment, CallbackAssignmentMode, CallbackPolicy,
    CallbackScript, CallbackTask, CallbackTrigger, CallbackTriggerFilter, Channel,
    CreateCallbackPolicyRequest, CreateCallbackTaskRequest, CreateTeamRequest, EventEnvelope,
    GetCallbackTaskRequest, Industry, ListCallbackPoliciesRequest, ListCallbackScriptsRequest,
    ListCallbackTasksRequest, ListSurveysRequest, LocalizedText, ResolveTicketRequest, Role,
    Survey, Team, TicketResolutionCode, callback_service_client::CallbackServiceClient,
    ticket_service_client::TicketServiceClient,
};
use prost::{Message, Name};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tonic::{Code, Status};

use crate::{
    eventually::eventually,
    stack::{Bearer, Onboarded, Stack},
    tickets_support::{WAIT, join_as, retry, until_known},
};

/// A client of the callbacks service.
pub(super) type Callbacks = CallbackServiceClient<Bearer>;

/// A wall time in Shanghai (UTC+8 all year) as UTC.
pub(super) fn shanghai(text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time");
    FixedOffset::east_opt(8 * 3600)
        .expect("offset")
        .from_local_datetime(&naive)
        .single()
        .expect("exists")
        .with_timezone(&Utc)
}

/// The stack, without rate limits, on a manual clock set to `time` in
/// Shanghai; None when the backend's server is not configured.
pub(super) async fn start_at(backend: Backend, time: &str) -> Option<(Stack, ManualClock)> {
    let clock = ManualClock::new(shanghai(time));
    let stack = Stack::start_with_clock(backend, Arc::new(clock.clone()), |config| {
        config.limits.enabled = false;
    })
    .await?;
    Some((stack, clock))
}

/// A timestamp of a resource as a time.
pub(super) fn at(time: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    time.and_then(from_timestamp)
}

/// The id of the tenant `tenants/{id}`.
pub(super) fn tenant_id(name: &str) -> TenantId {
    TenantId(
        name.strip_prefix("tenants/")
            .and_then(|id| id.parse().ok())
            .expect("tenant id"),
    )
}

/// `zh` in Simplified Chinese only.
pub(super) fn localized(zh: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        values: [("zh-CN".to_owned(), zh.to_owned())].into(),
    })
}

/// `zh` in Simplified Chinese and `en` in English.
pub(super) fn bilingual(zh: &str, en: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        values: [
            ("zh-CN".to_owned(), zh.to_owned()),
            ("en".to_owned(), en.to_owned()),
        ]
        .into(),
    })
}

/// A generic tenant whose callback team of one agent (led by a supervisor
/// or not) the callbacks service's copy knows, with the tenant's calendar.
pub(super) struct Desk {
    pub(super) a: Onboarded,
    pub(super) tenant: TenantId,
    pub(super) slug: String,
    /// The administrator's session.
    pub(super) admin: String,
    pub(super) agent_user: String,
    /// The agent's session.
    pub(super) agent: String,
    /// The team's supervisor, empty when the team has none.
    pub(super) supervisor_user: String,
    pub(super) team: Team,
    pub(super) callbacks_db: DatabaseConnection,
}

/// Onboards a generic tenant (`prefix`) with an agent (and a supervisor
/// leading the team when `supervised`) and the team `team_id` named
/// `team_name` of that agent; returns once the callbacks service's copy
/// knows the team's agent and the tenant's quiet hours.
pub(super) async fn desk(
    stack: &Stack,
    prefix: &str,
    team_id: &str,
    team_name: &str,
    supervised: bool,
) -> Desk {
    let a = stack.onboard(prefix, Industry::Generic).await;
    let tenant = tenant_id(&a.tenant.name);
    let slug = a.tenant.slug.clone();
    let admin = a.admin_session.clone();
    let (agent_user, agent) = join_as(stack, &admin, &slug, "agent", &[Role::Agent]).await;
    let supervisor_user = if supervised {
        join_as(stack, &admin, &slug, "supervisor", &[Role::Supervisor])
            .await
            .0
    } else {
        String::new()
    };
    let team = stack
        .identity(Some(&admin))
        .create_team(CreateTeamRequest {
            team: Some(Team {
                display_name: team_name.into(),
                supervisor: supervisor_user.clone(),
                ..Team::default()
            }),
            team_id: team_id.into(),
            ..CreateTeamRequest::default()
        })
        .await
        .expect("team")
        .into_inner();
    let callbacks_db = stack.service_connection("callbacks").await;
    add_member(stack, &admin, &team.name, &agent_user).await;
    // The callbacks service's copy knows the team's agent and the quiet
    // hours before the first trigger.
    until_member_copied(&callbacks_db, tenant, &team.name, &agent_user, true).await;
    Desk {
        a,
        tenant,
        slug,
        admin,
        agent_user,
        agent,
        supervisor_user,
        team,
        callbacks_db,
    }
}

/// Adds `user` to `team`.
pub(super) async fn add_member(stack: &Stack, admin: &str, team: &str, user: &str) {
    stack
        .identity(Some(admin))
        .add_team_member(AddTeamMemberRequest {
            name: team.into(),
            user: user.into(),
        })
        .await
        .expect("member");
}

/// Waits until the callbacks service's copy has `member` in `team` (and,
/// when `calendar`, the tenant's quiet hours).
pub(super) async fn until_member_copied(
    db: &DatabaseConnection,
    tenant: TenantId,
    team: &str,
    member: &str,
    calendar: bool,
) {
    eventually(
        &format!("the callbacks copy knows {member} in {team}"),
        WAIT,
        || {
            let db = db.clone();
            let (team, member) = (team.to_owned(), member.to_owned());
            async move {
                let txn = begin_for_tenant(&db, tenant).await.expect("begin");
                let known = kefu_tenants::replica::team(&txn, tenant, &team)
                    .await
                    .expect("team copy")
                    .is_some_and(|team| team.members.contains(&member))
                    && (!calendar
                        || kefu_tenants::replica::tenant(&txn, tenant)
                            .await
                            .expect("tenant copy")
                            .and_then(|tenant| tenant.calendar)
                            .is_some_and(|calendar| !calendar.quiet_hours.is_empty()));
                txn.commit().await.expect("commit");
                known
            }
        },
    )
    .await;
}

/// A policy of `trigger` by `channel` named `name` (in Chinese), its tasks
/// spread over `team` by least load.
pub(super) fn team_policy(
    trigger: CallbackTrigger,
    channel: Channel,
    team: &str,
    name: &str,
) -> CallbackPolicy {
    CallbackPolicy {
        display_name: localized(name),
        trigger: trigger as i32,
        channel: channel as i32,
        assignment: Some(CallbackAssignment {
            mode: CallbackAssignmentMode::TeamLeastLoaded as i32,
            team: team.into(),
        }),
        ..CallbackPolicy::default()
    }
}

/// The SMS policy calling back resolved inquiries (咨询回访) over `team`.
pub(super) fn inquiry_policy(team: &str) -> CallbackPolicy {
    CallbackPolicy {
        trigger_filter: Some(CallbackTriggerFilter {
            ticket_kinds: vec!["inquiry".into()],
            ..CallbackTriggerFilter::default()
        }),
        ..team_policy(
            CallbackTrigger::TicketResolved,
            Channel::Sms,
            team,
            "咨询回访",
        )
    }
}

/// Creates `policy` without a request id.
pub(super) async fn create_policy(
    client: &Callbacks,
    policy: CallbackPolicy,
) -> Result<CallbackPolicy, Status> {
    client
        .clone()
        .create_callback_policy(CreateCallbackPolicyRequest {
            callback_policy: Some(policy),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

/// The tenant's policies `filter` selects (one page of 500).
pub(super) async fn list_policies(client: &Callbacks, filter: &str) -> Vec<CallbackPolicy> {
    client
        .clone()
        .list_callback_policies(ListCallbackPoliciesRequest {
            filter: filter.into(),
            page_size: 500,
            ..ListCallbackPoliciesRequest::default()
        })
        .await
        .expect("list policies")
        .into_inner()
        .callback_policies
}

/// The tenant's scripts `filter` selects (one page of 500).
pub(super) async fn list_scripts(client: &Callbacks, filter: &str) -> Vec<CallbackScript> {
    client
        .clone()
        .list_callback_scripts(ListCallbackScriptsRequest {
            filter: filter.into(),
            page_size: 500,
            ..ListCallbackScriptsRequest::default()
        })
        .await
        .expect("list scripts")
        .into_inner()
        .callback_scripts
}

/// The tenant's surveys `filter` selects (one page of 500).
pub(super) async fn list_surveys(client: &Callbacks, filter: &str) -> Vec<Survey> {
    client
        .clone()
        .list_surveys(ListSurveysRequest {
            filter: filter.into(),
            page_size: 500,
            ..ListSurveysRequest::default()
        })
        .await
        .expect("list surveys")
        .into_inner()
        .surveys
}

/// The tasks `filter` lists for the caller of `client`.
pub(super) async fn list_tasks(client: &Callbacks, filter: &str) -> Vec<CallbackTask> {
    client
        .clone()
        .list_callback_tasks(ListCallbackTasksRequest {
            filter: filter.into(),
            ..ListCallbackTasksRequest::default()
        })
        .await
        .expect("list callback tasks")
        .into_inner()
        .callback_tasks
}

/// Waits until the tasks `filter` lists read as `expected` says; returns
/// them.
pub(super) async fn tasks_where(
    client: &Callbacks,
    filter: &str,
    what: &str,
    expected: impl Fn(&[CallbackTask]) -> bool,
) -> Vec<CallbackTask> {
    let expected = &expected;
    eventually(what, WAIT, || async move {
        expected(&list_tasks(client, filter).await)
    })
    .await;
    list_tasks(client, filter).await
}

/// Waits for the first task `filter` lists and checks it is the only one.
pub(super) async fn only_task(client: &Callbacks, filter: &str, what: &str) -> CallbackTask {
    let tasks = tasks_where(client, filter, what, |tasks| !tasks.is_empty()).await;
    assert_eq!(tasks.len(), 1, "one trigger, one task: {tasks:?}");
    tasks[0].clone()
}

/// The task `name`.
pub(super) async fn get_task(client: &Callbacks, name: &str) -> CallbackTask {
    client
        .clone()
        .get_callback_task(GetCallbackTaskRequest { name: name.into() })
        .await
        .expect("get task")
        .into_inner()
}

/// Resolves `ticket` (SOLVED, with `summary`) once the tickets service
/// takes it, and waits for its one task.
pub(super) async fn resolved_task(
    tickets: &TicketServiceClient<Bearer>,
    callbacks: &Callbacks,
    ticket: &str,
    summary: &str,
) -> CallbackTask {
    retry("the ticket is resolved", || {
        let mut tickets = tickets.clone();
        let request = ResolveTicketRequest {
            name: ticket.into(),
            code: TicketResolutionCode::Solved as i32,
            summary: summary.into(),
            ..ResolveTicketRequest::default()
        };
        async move { tickets.resolve_ticket(request).await }
    })
    .await;
    only_task(
        callbacks,
        &format!("related_ticket = \"{ticket}\""),
        "the resolved ticket's task is scheduled",
    )
    .await
}

/// Creates `task` with `request_id` once the callbacks service's copies
/// know what it names (the customer, the assignee).
pub(super) async fn new_task(
    client: &Callbacks,
    task: CallbackTask,
    request_id: &str,
) -> CallbackTask {
    let request = CreateCallbackTaskRequest {
        callback_task: Some(task),
        request_id: request_id.into(),
    };
    until_known(
        |status| matches!(status.code(), Code::InvalidArgument | Code::NotFound),
        || {
            let mut client = client.clone();
            let request = request.clone();
            async move { client.create_callback_task(request).await }
        },
    )
    .await
    .unwrap_or_else(|status| panic!("a callback task is created: {status:?}"))
}

/// The envelopes of `M` in `db`'s outbox about `subject`.
pub(super) async fn envelopes<M: Name>(
    db: &DatabaseConnection,
    subject: &str,
) -> Vec<EventEnvelope> {
    let txn = begin_read_platform(db).await.expect("begin");
    let rows = outbox::entity::Entity::find()
        .filter(outbox::entity::Column::EventType.eq(M::full_name()))
        .filter(outbox::entity::Column::Subject.eq(subject))
        .all(&txn)
        .await
        .expect("outbox");
    txn.commit().await.expect("commit");
    rows.iter()
        .map(|row| EventEnvelope::decode(row.payload.as_slice()).expect("envelope"))
        .collect()
}

/// How many events of `M` `db`'s outbox holds about `subject`.
pub(super) async fn count_events<M: Name>(db: &DatabaseConnection, subject: &str) -> usize {
    envelopes::<M>(db, subject).await.len()
}
