//! SLA clocks through the gateway on both backends, the whole stack
//! standing on a manual clock: a generic tenant's inquiry created on Friday
//! 2026-11-27 at 17:00 in Shanghai with the template's 4 business hours to
//! the first reply (business hours Monday–Friday 08:30–17:30) is due on
//! Monday at 12:00 and warns at 11:12 (80 %); PENDING pauses the
//! resolution clock and the paused time is added on resume; the scan,
//! called with the instants the test chooses, publishes the warning and
//! the breach once each, and on breach raises the priority one step and
//! escalates to the specialists as the (edited) policy says; a resolved
//! ticket's clocks stop MET and the scan leaves it alone.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use kefu_kit::{
    clock::ManualClock,
    context::TenantId,
    db::{begin_for_tenant, begin_read_platform},
    events::{from_timestamp, payload_as},
    outbox,
    testing::Backend,
};
use kefu_proto::v1::{
    CreateTicketCommentRequest, EventEnvelope, GetSlaPolicyRequest, GetTicketRequest, Industry,
    PendTicketRequest, Priority, ResolveTicketRequest, ResumeTicketRequest, Ticket, TicketComment,
    TicketCommentVisibility, TicketEscalated, TicketEscalationTrigger, TicketPriorityChanged,
    TicketResolutionCode, TicketSlaBreached, TicketSlaClock, TicketSlaClockKind,
    TicketSlaClockState, TicketSlaTimeBasis, TicketSlaWarning, TicketSupportTier,
    UpdateSlaPolicyRequest, ticket_service_client::TicketServiceClient,
};
use prost::{Message, Name};
use prost_types::FieldMask;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    eventually::eventually,
    stack::{Bearer, Stack},
    tickets_support::{new_customer, new_ticket},
};

const WAIT: Duration = Duration::from_secs(20);

const INQUIRY: &str = "ticketKinds/inquiry";

/// A wall time in Shanghai (UTC+8 all year) as UTC.
fn shanghai(text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time");
    FixedOffset::east_opt(8 * 3600)
        .expect("offset")
        .from_local_datetime(&naive)
        .single()
        .expect("exists")
        .with_timezone(&Utc)
}

fn at(time: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    time.and_then(from_timestamp)
}

fn state(clock: Option<&TicketSlaClock>) -> TicketSlaClockState {
    clock
        .map(|clock| TicketSlaClockState::try_from(clock.state).expect("state"))
        .unwrap_or_default()
}

fn minutes(duration: Option<&prost_types::Duration>) -> i64 {
    duration.map_or(0, |duration| duration.seconds / 60)
}

async fn get(client: &mut TicketServiceClient<Bearer>, name: &str) -> Ticket {
    client
        .get_ticket(GetTicketRequest { name: name.into() })
        .await
        .expect("get ticket")
        .into_inner()
}

/// The events of `event_type` about `ticket` in the tickets outbox, oldest
/// first.
async fn events<M: Message + Name + Default>(db: &DatabaseConnection, ticket: &str) -> Vec<M> {
    let txn = begin_read_platform(db).await.expect("begin");
    let rows = outbox::entity::Entity::find()
        .filter(outbox::entity::Column::EventType.eq(M::full_name()))
        .filter(outbox::entity::Column::Subject.eq(ticket))
        .order_by_asc(outbox::entity::Column::Seq)
        .all(&txn)
        .await
        .expect("outbox");
    txn.commit().await.expect("commit");
    rows.iter()
        .map(|row| {
            let envelope = EventEnvelope::decode(row.payload.as_slice()).expect("envelope");
            payload_as::<M>(&envelope).expect("payload")
        })
        .collect()
}

async fn scan(db: &DatabaseConnection, now: DateTime<Utc>) -> usize {
    kefu_tickets::consumers::sla::scan_sla(db, now)
        .await
        .expect("SLA scan")
}

async fn sla_clocks(backend: Backend) {
    let friday = shanghai("2026-11-27 17:00");
    let clock = ManualClock::new(friday);
    let Some(stack) = Stack::start_with_clock(backend, Arc::new(clock.clone()), |config| {
        config.limits.enabled = false;
    })
    .await
    else {
        return;
    };
    let a = stack.onboard("sla", Industry::Generic).await;
    let tenant = TenantId(
        a.tenant
            .name
            .strip_prefix("tenants/")
            .and_then(|id| id.parse().ok())
            .expect("tenant id"),
    );
    let db = stack.service_connection("tickets").await;

    // The template's `standard` policy (inquiries): a breach shall raise
    // the priority and escalate; the tickets service's copy follows.
    let mut tenants = stack.tenants(Some(&a.admin_session));
    let mut policy = tenants
        .get_sla_policy(GetSlaPolicyRequest {
            name: "slaPolicies/standard".into(),
        })
        .await
        .expect("the template's policy")
        .into_inner();
    policy.raise_priority_on_breach = true;
    policy.escalate_on_breach = true;
    tenants
        .update_sla_policy(UpdateSlaPolicyRequest {
            sla_policy: Some(policy),
            update_mask: Some(FieldMask {
                paths: vec![
                    "raise_priority_on_breach".into(),
                    "escalate_on_breach".into(),
                ],
            }),
        })
        .await
        .expect("policy updated");
    eventually("the copy of the policy is updated", WAIT, || {
        let db = db.clone();
        async move {
            let txn = begin_for_tenant(&db, tenant).await.expect("begin");
            let policies = kefu_tickets::store::directory::sla_policies(&txn, tenant)
                .await
                .expect("policies");
            txn.commit().await.expect("commit");
            policies.iter().any(|policy| {
                policy.name == "slaPolicies/standard"
                    && policy.raise_priority_on_breach
                    && policy.escalate_on_breach
            })
        }
    })
    .await;

    let customer = new_customer(&stack, &a.admin_session, "王五", "13700137000").await;
    let mut client = stack.tickets(Some(&a.admin_session));

    // Friday 17:00: half an hour of business left, then Monday from 08:30.
    let ticket = new_ticket(&client, INQUIRY, &customer, "热水器不出热水").await;
    assert_eq!(ticket.priority, Priority::Normal as i32);
    let first = ticket
        .first_response_sla
        .clone()
        .expect("first-response clock");
    assert_eq!(state(Some(&first)), TicketSlaClockState::Running);
    assert_eq!(first.sla_policy, "slaPolicies/standard");
    assert_eq!(first.basis, TicketSlaTimeBasis::BusinessHours as i32);
    assert_eq!(first.warning_percent, 80);
    assert_eq!(minutes(first.target.as_ref()), 4 * 60);
    assert_eq!(at(first.start_time.as_ref()), Some(friday));
    assert_eq!(
        at(first.due_time.as_ref()),
        Some(shanghai("2026-11-30 12:00"))
    );
    assert_eq!(
        at(first.warning_time.as_ref()),
        Some(shanghai("2026-11-30 11:12"))
    );
    // 48 business hours: 0.5 Friday, 45 the next week, 2.5 a week Monday.
    let resolution = ticket.resolution_sla.clone().expect("resolution clock");
    assert_eq!(
        at(resolution.due_time.as_ref()),
        Some(shanghai("2026-12-07 11:00"))
    );
    assert_eq!(
        at(ticket.due_time.as_ref()),
        Some(shanghai("2026-11-30 12:00")),
        "the ticket's due time is its earliest clock"
    );

    // PENDING at 17:10 pauses the resolution clock (not the first reply's);
    // resumed at 17:20, its due time moves by the 10 paused minutes.
    clock.advance(chrono::Duration::minutes(10));
    let pended = client
        .pend_ticket(PendTicketRequest {
            name: ticket.name.clone(),
            reason: "等待顾客提供型号".into(),
            ..PendTicketRequest::default()
        })
        .await
        .expect("pend")
        .into_inner();
    let paused = pended.resolution_sla.clone().expect("resolution clock");
    assert_eq!(state(Some(&paused)), TicketSlaClockState::Paused);
    assert!(paused.paused);
    assert!(paused.due_time.is_none());
    assert_eq!(
        at(paused.pause_time.as_ref()),
        Some(shanghai("2026-11-27 17:10"))
    );
    assert_eq!(minutes(paused.elapsed.as_ref()), 10);
    assert_eq!(
        state(pended.first_response_sla.as_ref()),
        TicketSlaClockState::Running
    );
    clock.advance(chrono::Duration::minutes(10));
    let read = get(&mut client, &ticket.name).await;
    assert_eq!(
        minutes(
            read.resolution_sla
                .as_ref()
                .and_then(|c| c.elapsed.as_ref())
        ),
        10,
        "a paused clock does not count"
    );
    let resumed = client
        .resume_ticket(ResumeTicketRequest {
            name: ticket.name.clone(),
            reason: "顾客已提供型号".into(),
            ..ResumeTicketRequest::default()
        })
        .await
        .expect("resume")
        .into_inner();
    let running = resumed.resolution_sla.clone().expect("resolution clock");
    assert_eq!(state(Some(&running)), TicketSlaClockState::Running);
    assert!(!running.paused);
    assert_eq!(
        at(running.due_time.as_ref()),
        Some(shanghai("2026-12-07 11:10"))
    );

    // A second ticket, resolved at once: both clocks stop MET and the scan
    // never looks at it again.
    let quick = new_ticket(&client, INQUIRY, &customer, "发票抬头查询").await;
    clock.advance(chrono::Duration::minutes(5));
    let solved = client
        .resolve_ticket(ResolveTicketRequest {
            name: quick.name.clone(),
            code: TicketResolutionCode::Solved as i32,
            summary: "已告知发票抬头".into(),
            ..ResolveTicketRequest::default()
        })
        .await
        .expect("resolve")
        .into_inner();
    for clock in [&solved.first_response_sla, &solved.resolution_sla] {
        let clock = clock.as_ref().expect("clock");
        assert_eq!(state(Some(clock)), TicketSlaClockState::Met);
        assert_eq!(
            at(clock.stop_time.as_ref()),
            Some(shanghai("2026-11-27 17:25"))
        );
        assert_eq!(minutes(clock.elapsed.as_ref()), 5);
    }

    // A complaint counts calendar time (the template's 6-day policy): 24 h
    // to the first reply, 6 days to resolution, warning at 80 %; the first
    // public reply stops the first-response clock MET.
    let complaint = new_ticket(
        &client,
        "ticketKinds/complaint",
        &customer,
        "安装师傅迟到两小时",
    )
    .await;
    let first = complaint.first_response_sla.clone().expect("clock");
    assert_eq!(first.basis, TicketSlaTimeBasis::Calendar as i32);
    assert_eq!(
        at(first.due_time.as_ref()),
        Some(shanghai("2026-11-28 17:25"))
    );
    assert_eq!(
        at(first.warning_time.as_ref()),
        Some(shanghai("2026-11-28 12:37"))
    );
    assert_eq!(
        at(complaint
            .resolution_sla
            .as_ref()
            .and_then(|clock| clock.due_time.as_ref())),
        Some(shanghai("2026-12-03 17:25"))
    );
    clock.advance(chrono::Duration::minutes(1));
    client
        .create_ticket_comment(CreateTicketCommentRequest {
            parent: complaint.name.clone(),
            comment: Some(TicketComment {
                visibility: TicketCommentVisibility::Public as i32,
                body: "您好,已安排主管今天回电致歉。".into(),
                ..TicketComment::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("first reply");
    let replied = get(&mut client, &complaint.name).await;
    let first = replied.first_response_sla.clone().expect("clock");
    assert_eq!(state(Some(&first)), TicketSlaClockState::Met);
    assert_eq!(
        at(first.stop_time.as_ref()),
        Some(shanghai("2026-11-27 17:26"))
    );
    assert_eq!(minutes(first.elapsed.as_ref()), 1);
    assert_eq!(
        state(replied.resolution_sla.as_ref()),
        TicketSlaClockState::Running
    );

    // Monday: nothing before 11:12; the warning once at 11:12.
    assert_eq!(scan(&db, shanghai("2026-11-30 11:11")).await, 0);
    assert_eq!(scan(&db, shanghai("2026-11-30 11:12")).await, 1);
    assert_eq!(scan(&db, shanghai("2026-11-30 11:30")).await, 0);
    let warnings = events::<TicketSlaWarning>(&db, &ticket.name).await;
    assert_eq!(warnings.len(), 1);
    let warning = &warnings[0];
    assert_eq!(warning.clock, TicketSlaClockKind::FirstResponse as i32);
    assert_eq!(warning.percent, 80);
    assert_eq!(warning.sla_policy, "slaPolicies/standard");
    assert_eq!(minutes(warning.elapsed.as_ref()), 3 * 60 + 12);
    assert_eq!(
        at(warning.due_time.as_ref()),
        Some(shanghai("2026-11-30 12:00"))
    );
    let team = warning
        .context
        .as_ref()
        .map(|context| context.team.clone())
        .unwrap_or_default();
    assert_eq!(
        team, ticket.team,
        "the supervisor of the ticket's team is alerted"
    );
    let warned = get(&mut client, &ticket.name).await;
    let first = warned.first_response_sla.clone().expect("clock");
    assert_eq!(state(Some(&first)), TicketSlaClockState::Warning);
    assert!(first.warning_time.is_none());

    // 12:00: breached once; the priority rises one step and the ticket goes
    // to the specialists.
    assert_eq!(scan(&db, shanghai("2026-11-30 12:00")).await, 3);
    assert_eq!(scan(&db, shanghai("2026-11-30 12:05")).await, 0);
    let breaches = events::<TicketSlaBreached>(&db, &ticket.name).await;
    assert_eq!(breaches.len(), 1);
    let breach = &breaches[0];
    assert_eq!(breach.clock, TicketSlaClockKind::FirstResponse as i32);
    assert_eq!(
        at(breach.due_time.as_ref()),
        Some(shanghai("2026-11-30 12:00"))
    );
    assert_eq!(
        at(breach.breach_time.as_ref()),
        Some(shanghai("2026-11-30 12:00"))
    );
    let at_breach = breach.context.clone().expect("context");
    assert_eq!(
        at_breach.priority,
        Priority::Normal as i32,
        "before the raise"
    );
    assert_eq!(at_breach.team, ticket.team);
    let raised = events::<TicketPriorityChanged>(&db, &ticket.name).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].from_priority, Priority::Normal as i32);
    assert_eq!(raised[0].to_priority, Priority::High as i32);
    let escalated = events::<TicketEscalated>(&db, &ticket.name).await;
    assert_eq!(escalated.len(), 1);
    assert_eq!(escalated[0].from_tier, TicketSupportTier::FrontLine as i32);
    assert_eq!(escalated[0].to_tier, TicketSupportTier::Specialist as i32);
    assert_eq!(
        escalated[0].trigger,
        TicketEscalationTrigger::SlaBreach as i32
    );
    assert_eq!(escalated[0].to_team, "teams/specialists");

    let breached = get(&mut client, &ticket.name).await;
    assert_eq!(breached.priority, Priority::High as i32);
    assert_eq!(breached.tier, TicketSupportTier::Specialist as i32);
    assert_eq!(breached.team, "teams/specialists");
    assert_eq!(breached.escalations.len(), 1);
    let first = breached.first_response_sla.clone().expect("clock");
    assert_eq!(state(Some(&first)), TicketSlaClockState::Breached);
    assert_eq!(
        at(first.breach_time.as_ref()),
        Some(shanghai("2026-11-30 12:00"))
    );
    // The resolution clock now runs to HIGH's 24 hours, keeping its 3 h 50
    // min: 20 h 10 min from Monday 12:00 is Wednesday 14:10.
    let resolution = breached.resolution_sla.clone().expect("clock");
    assert_eq!(minutes(resolution.target.as_ref()), 24 * 60);
    assert_eq!(
        at(resolution.due_time.as_ref()),
        Some(shanghai("2026-12-02 14:10"))
    );
    assert!(
        events::<TicketSlaBreached>(&db, &quick.name)
            .await
            .is_empty()
    );
    assert!(
        events::<TicketSlaWarning>(&db, &quick.name)
            .await
            .is_empty()
    );
    // The complaint's first reply came in time: nothing about it.
    assert!(
        events::<TicketSlaWarning>(&db, &complaint.name)
            .await
            .is_empty()
    );
    assert!(
        events::<TicketSlaBreached>(&db, &complaint.name)
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sla_clocks_sqlite() {
    sla_clocks(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sla_clocks_postgres() {
    sla_clocks(Backend::Postgres).await;
}
