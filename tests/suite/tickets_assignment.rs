//! Assignment, escalation, priority and triage through the gateway on both
//! backends, as a supervisor and the agents notice it: an agent takes an
//! unassigned ticket of their team for themselves and nothing else; round
//! robin serves the present, skilled members in turn, least loaded the one
//! with the fewest open tickets; an absent agent or one without the
//! required skill is passed over and a team with nobody eligible answers
//! NO_ELIGIBLE_AGENT leaving the ticket as it was; escalation climbs front
//! line → specialists → management recording each hand-off and stops there
//! (ALREADY_TOP_TIER); priority and triage are the supervisor's, triage
//! URGENT routes to the specialists with priority URGENT; a CLOSED ticket
//! is not reassigned, a stale etag is ABORTED, and another tenant's ticket
//! is NOT_FOUND. Each change publishes its event.

use std::time::Duration;

use kefu_kit::{context::TenantId, db::begin_read_for_tenant, testing::Backend};
use kefu_proto::v1::{
    AssignTicketRequest, CloseTicketRequest, DeactivateUserRequest, EscalateTicketRequest,
    GetTicketRequest, Industry, InviteUserRequest, MergeCustomersRequest, Priority,
    ResolveTicketRequest, Role, SetTicketPriorityRequest, Ticket, TicketAssigned,
    TicketAssignmentStrategy, TicketEscalated, TicketEscalationTrigger, TicketPriorityChanged,
    TicketResolutionCode, TicketSupportTier, TriageClass, TriageTicketRequest,
    UndoCustomerMergeRequest, UpdateUserRequest, User, UserAvailability, UserSkill,
    ticket_service_client::TicketServiceClient,
};
use prost_types::FieldMask;
use sea_orm::{ConnectionTrait, Statement};
use tonic::{Code, Status};

use crate::{
    eventually::eventually,
    gateway::reason,
    stack::{Bearer, Stack},
    tenants::field_of,
    tickets_support::{join_invited, new_customer, new_ticket, person, wait_for_ticket},
};

const WAIT: Duration = Duration::from_secs(30);
const FRONT: &str = "teams/front-line";
const SPECIALISTS: &str = "teams/specialists";
const MANAGEMENT: &str = "teams/management";
const KNOWLEDGE: &str = "product-knowledge";

fn tenant_of(name: &str) -> TenantId {
    TenantId(
        name.strip_prefix("tenants/")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .expect("tenant name"),
    )
}

/// Invites `who` with `roles` into `teams` with `skills`, signs them in and
/// makes them PRESENT: (user name, session).
async fn member(
    stack: &Stack,
    admin: &str,
    slug: &str,
    who: &str,
    roles: &[Role],
    teams: &[&str],
    skills: &[(&str, i32)],
) -> (String, String) {
    let invitation = InviteUserRequest {
        user: Some(User {
            skills: skills
                .iter()
                .map(|(key, level)| UserSkill {
                    key: (*key).into(),
                    level: *level,
                })
                .collect(),
            ..person(slug, who, roles)
        }),
        teams: teams.iter().map(|team| (*team).to_owned()).collect(),
        ..InviteUserRequest::default()
    };
    let (name, session) = join_invited(stack, admin, slug, invitation).await;
    set_availability(stack, admin, &name, UserAvailability::Present).await;
    (name, session)
}

async fn set_availability(stack: &Stack, admin: &str, user: &str, availability: UserAvailability) {
    stack
        .identity(Some(admin))
        .update_user(UpdateUserRequest {
            user: Some(User {
                name: user.into(),
                availability: availability as i32,
                ..User::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["availability".into()],
            }),
        })
        .await
        .expect("availability");
}

/// Waits until the tickets service's copy knows `user` with
/// `availability`, in each of `teams`.
async fn wait_for_user(
    stack: &Stack,
    tenant: TenantId,
    user: &str,
    availability: UserAvailability,
    teams: &[&str],
) {
    let db = stack.service_connection("tickets").await;
    eventually(&format!("the tickets copy knows {user}"), WAIT, || {
        let db = db.clone();
        async move {
            let txn = begin_read_for_tenant(&db, tenant).await.expect("read");
            let known = kefu_tickets::store::directory::user(&txn, tenant, user)
                .await
                .expect("user");
            let mut ok = known.is_some_and(|known| known.availability == availability as i32);
            for team in teams {
                let team = kefu_tickets::store::directory::team(&txn, tenant, team)
                    .await
                    .expect("team");
                ok &= team.is_some_and(|team| team.members.iter().any(|m| m == user));
            }
            txn.commit().await.expect("commit");
            ok
        }
    })
    .await;
}

/// 刘女士, the customer most of the suite's tickets are for.
async fn regular_customer(stack: &Stack, session: &str) -> String {
    new_customer(stack, session, "刘女士", "13800138000").await
}

/// Waits until ticket `name` belongs to `customer`.
async fn wait_for_customer(client: &TicketServiceClient<Bearer>, name: &str, customer: &str) {
    let what = format!("{name} belongs to {customer}");
    wait_for_ticket(client, name, &what, |ticket| ticket.customer == customer).await;
}

/// A ticket of the seeded `kind` (`inquiry`) for `customer`.
async fn create(
    client: &mut TicketServiceClient<Bearer>,
    customer: &str,
    kind: &str,
    subject: &str,
) -> Ticket {
    new_ticket(client, &format!("ticketKinds/{kind}"), customer, subject).await
}

fn assign(
    name: &str,
    assignee: &str,
    team: &str,
    strategy: TicketAssignmentStrategy,
) -> AssignTicketRequest {
    AssignTicketRequest {
        name: name.into(),
        assignee: assignee.into(),
        team: team.into(),
        strategy: strategy as i32,
        reason: String::new(),
        etag: String::new(),
    }
}

async fn assigned(
    client: &mut TicketServiceClient<Bearer>,
    request: AssignTicketRequest,
) -> Result<Ticket, Status> {
    client
        .assign_ticket(request)
        .await
        .map(tonic::Response::into_inner)
}

fn escalate(name: &str, reason: &str) -> EscalateTicketRequest {
    EscalateTicketRequest {
        name: name.into(),
        reason: reason.into(),
        handling: "请专业组上门核查".into(),
        ..EscalateTicketRequest::default()
    }
}

/// The events of type `M` the tickets service wrote for `tenant`.
async fn events_of<M: prost::Message + prost::Name + Default>(
    stack: &Stack,
    tenant: TenantId,
) -> Vec<M> {
    use prost::Message as _;
    let db = stack.service_connection("tickets").await;
    let txn = begin_read_for_tenant(&db, tenant).await.expect("read");
    let rows = txn
        .query_all_raw(Statement::from_string(
            txn.get_database_backend(),
            format!(
                "SELECT payload FROM outbox WHERE event_type = '{}' ORDER BY seq",
                M::full_name()
            ),
        ))
        .await
        .expect("outbox");
    txn.commit().await.expect("commit");
    rows.iter()
        .map(|row| row.try_get::<Vec<u8>>("", "payload").expect("payload"))
        .map(|bytes| kefu_proto::v1::EventEnvelope::decode(bytes.as_slice()).expect("envelope"))
        .filter(|envelope| envelope.tenant_id == tenant.to_string())
        .map(|envelope| kefu_kit::events::payload_as::<M>(&envelope).expect("payload type"))
        .collect()
}

async fn assignment(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("asg", Industry::Generic).await;
    let b = stack.onboard("asg-other", Industry::Generic).await;
    let tenant = tenant_of(&a.tenant.name);
    let slug = a.tenant.slug.clone();
    let admin = a.admin_session.clone();
    let knows = [(KNOWLEDGE, 3)];
    let (lin, lin_session) = member(
        &stack,
        &admin,
        &slug,
        "lin",
        &[Role::Agent],
        &[FRONT],
        &knows,
    )
    .await;
    let (wang, wang_session) = member(
        &stack,
        &admin,
        &slug,
        "wang",
        &[Role::Agent],
        &[FRONT],
        &knows,
    )
    .await;
    // In the team, present, but without the skill inquiries need.
    let (zhao, _) = member(&stack, &admin, &slug, "zhao", &[Role::Agent], &[FRONT], &[]).await;
    let (qian, _) = member(
        &stack,
        &admin,
        &slug,
        "qian",
        &[Role::Agent],
        &[SPECIALISTS],
        &[(KNOWLEDGE, 4), ("complaints", 3)],
    )
    .await;
    let (_, sun_session) =
        member(&stack, &admin, &slug, "sun", &[Role::Supervisor], &[], &[]).await;
    for (user, team) in [
        (&lin, FRONT),
        (&wang, FRONT),
        (&zhao, FRONT),
        (&qian, SPECIALISTS),
    ] {
        wait_for_user(&stack, tenant, user, UserAvailability::Present, &[team]).await;
    }
    let customer = regular_customer(&stack, &admin).await;
    let mut supervisor = stack.tickets(Some(&sun_session));
    let mut agent_lin = stack.tickets(Some(&lin_session));
    let mut agent_wang = stack.tickets(Some(&wang_session));

    // A new inquiry waits in the front line's queue, needing product
    // knowledge.
    let first = create(&mut supervisor, &customer, "inquiry", "咨询保修期").await;
    assert_eq!(first.team, FRONT);
    assert_eq!(first.assignee, "");
    assert_eq!(first.tier, TicketSupportTier::FrontLine as i32);
    assert_eq!(first.required_skills, [KNOWLEDGE]);

    // An agent takes it for themselves, and only that.
    let denied = assigned(
        &mut agent_lin,
        assign(
            &first.name,
            &wang,
            "",
            TicketAssignmentStrategy::Unspecified,
        ),
    )
    .await
    .expect_err("agent assigns someone else");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let denied = assigned(
        &mut agent_lin,
        assign(&first.name, "", FRONT, TicketAssignmentStrategy::RoundRobin),
    )
    .await
    .expect_err("agent runs a strategy");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let mine = assigned(
        &mut agent_lin,
        assign(
            &first.name,
            "users/me",
            "",
            TicketAssignmentStrategy::Unspecified,
        ),
    )
    .await
    .expect("agent takes an unassigned ticket of their team");
    assert_eq!(mine.assignee, lin);
    assert_eq!(mine.team, FRONT);
    assert_ne!(mine.etag, first.etag);
    let denied = assigned(
        &mut agent_wang,
        assign(
            &first.name,
            "users/me",
            "",
            TicketAssignmentStrategy::Unspecified,
        ),
    )
    .await
    .expect_err("an assigned ticket is not up for grabs");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Bad assignments change nothing.
    let bad = assigned(
        &mut supervisor,
        assign(&first.name, "", "", TicketAssignmentStrategy::Unspecified),
    )
    .await
    .expect_err("nothing given");
    assert_eq!(bad.code(), Code::InvalidArgument);
    let bad = assigned(
        &mut supervisor,
        assign(
            &first.name,
            "users/nobody",
            "",
            TicketAssignmentStrategy::Unspecified,
        ),
    )
    .await
    .expect_err("unknown user");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(field_of(&bad), "assignee");
    let bad = assigned(
        &mut supervisor,
        assign(
            &first.name,
            &qian,
            FRONT,
            TicketAssignmentStrategy::Unspecified,
        ),
    )
    .await
    .expect_err("not a member of the team");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(field_of(&bad), "assignee");
    let stale = assigned(
        &mut supervisor,
        AssignTicketRequest {
            etag: first.etag.clone(),
            ..assign(
                &first.name,
                &wang,
                "",
                TicketAssignmentStrategy::Unspecified,
            )
        },
    )
    .await
    .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);

    // Round robin: the present members with the skill in turn (zhao lacks
    // it).
    let mut picks = Vec::new();
    let mut open = vec![mine.clone()];
    for subject in ["咨询一", "咨询二", "咨询三"] {
        let ticket = create(&mut supervisor, &customer, "inquiry", subject).await;
        let ticket = assigned(
            &mut supervisor,
            assign(&ticket.name, "", "", TicketAssignmentStrategy::RoundRobin),
        )
        .await
        .expect("round robin");
        picks.push(ticket.assignee.clone());
        open.push(ticket);
    }
    assert!(
        picks.iter().all(|pick| *pick == lin || *pick == wang),
        "{picks:?}"
    );
    assert_ne!(picks[0], picks[1]);
    assert_eq!(picks[0], picks[2]);

    // Least loaded: the one holding fewer open tickets (one more for lin
    // by hand makes sure lin holds more whoever round robin began with).
    let extra = create(&mut supervisor, &customer, "inquiry", "咨询加一").await;
    let extra = assigned(
        &mut supervisor,
        assign(&extra.name, &lin, "", TicketAssignmentStrategy::Unspecified),
    )
    .await
    .expect("assign by hand");
    assert_eq!(extra.team, FRONT);
    open.push(extra);
    let count = |who: &str| open.iter().filter(|t| t.assignee == who).count();
    assert!(count(&lin) > count(&wang));
    let ticket = create(&mut supervisor, &customer, "inquiry", "咨询四").await;
    let ticket = assigned(
        &mut supervisor,
        assign(&ticket.name, "", "", TicketAssignmentStrategy::LeastLoaded),
    )
    .await
    .expect("least loaded");
    assert_eq!(ticket.assignee, wang);

    // An absent agent is passed over.
    set_availability(&stack, &admin, &wang, UserAvailability::Away).await;
    wait_for_user(&stack, tenant, &wang, UserAvailability::Away, &[]).await;
    let mut lins = Vec::new();
    for subject in ["咨询五", "咨询六"] {
        let ticket = create(&mut supervisor, &customer, "inquiry", subject).await;
        let ticket = assigned(
            &mut supervisor,
            assign(&ticket.name, "", "", TicketAssignmentStrategy::RoundRobin),
        )
        .await
        .expect("round robin");
        assert_eq!(ticket.assignee, lin);
        lins.push(ticket.name);
    }
    // Nobody in the front line handles complaints: the ticket stays as it was.
    let complaint = create(&mut supervisor, &customer, "complaint", "投诉服务态度").await;
    let none = assigned(
        &mut supervisor,
        assign(
            &complaint.name,
            "",
            FRONT,
            TicketAssignmentStrategy::TeamDefault,
        ),
    )
    .await
    .expect_err("no eligible agent");
    assert_eq!(none.code(), Code::FailedPrecondition);
    assert_eq!(reason(&none), "NO_ELIGIBLE_AGENT");
    let unchanged = supervisor
        .get_ticket(GetTicketRequest {
            name: complaint.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(unchanged.etag, complaint.etag);
    assert_eq!(unchanged.assignee, "");

    // Escalation: front line → specialists → management, then no further.
    let missing = agent_lin
        .escalate_ticket(escalate(&first.name, ""))
        .await
        .expect_err("reason required");
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(field_of(&missing), "reason");
    let up = agent_lin
        .escalate_ticket(escalate(&first.name, "需要技术判断"))
        .await
        .expect("escalate")
        .into_inner();
    assert_eq!(up.tier, TicketSupportTier::Specialist as i32);
    assert_eq!(up.team, SPECIALISTS);
    assert_eq!(up.assignee, qian, "the specialists' strategy picks qian");
    let hand_off = &up.escalations[0];
    assert_eq!(hand_off.from_tier, TicketSupportTier::FrontLine as i32);
    assert_eq!(hand_off.to_tier, TicketSupportTier::Specialist as i32);
    assert_eq!(
        (hand_off.from_team.as_str(), hand_off.to_team.as_str()),
        (FRONT, SPECIALISTS)
    );
    assert_eq!(hand_off.from_assignee, lin);
    assert_eq!(hand_off.to_assignee, qian);
    assert_eq!(hand_off.reason, "需要技术判断");
    assert_eq!(hand_off.handling, "请专业组上门核查");
    assert_eq!(hand_off.trigger, TicketEscalationTrigger::Manual as i32);
    assert!(hand_off.escalate_time.is_some());
    let top = supervisor
        .escalate_ticket(escalate(&first.name, "客户要求主管处理"))
        .await
        .expect("escalate to management")
        .into_inner();
    assert_eq!(top.tier, TicketSupportTier::Management as i32);
    assert_eq!(top.team, MANAGEMENT);
    assert_eq!(top.assignee, "", "management assigns by hand: its queue");
    assert_eq!(top.escalations.len(), 2);
    let refused = supervisor
        .escalate_ticket(escalate(&first.name, "再升级"))
        .await
        .expect_err("top tier");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "ALREADY_TOP_TIER");

    // Priority: the supervisor's, with the SLA re-targeted.
    let denied = agent_lin
        .set_ticket_priority(SetTicketPriorityRequest {
            name: open[1].name.clone(),
            priority: Priority::High as i32,
            ..SetTicketPriorityRequest::default()
        })
        .await
        .expect_err("agents do not reprioritise");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let missing = supervisor
        .set_ticket_priority(SetTicketPriorityRequest {
            name: open[1].name.clone(),
            ..SetTicketPriorityRequest::default()
        })
        .await
        .expect_err("priority required");
    assert_eq!(field_of(&missing), "priority");
    let raised = supervisor
        .set_ticket_priority(SetTicketPriorityRequest {
            name: open[1].name.clone(),
            priority: Priority::High as i32,
            reason: "客户为VIP".into(),
            etag: String::new(),
        })
        .await
        .expect("priority")
        .into_inner();
    assert_eq!(raised.priority, Priority::High as i32);

    // Triage URGENT: to the specialists, priority URGENT.
    let urgent = create(&mut supervisor, &customer, "inquiry", "账户被盗").await;
    let denied = agent_lin
        .triage_ticket(TriageTicketRequest {
            name: urgent.name.clone(),
            triage_class: TriageClass::Urgent as i32,
            route: true,
            ..TriageTicketRequest::default()
        })
        .await
        .expect_err("agents do not triage");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let triaged = supervisor
        .triage_ticket(TriageTicketRequest {
            name: urgent.name.clone(),
            triage_class: TriageClass::Urgent as i32,
            route: true,
            reason: "账户安全".into(),
            ..TriageTicketRequest::default()
        })
        .await
        .expect("triage")
        .into_inner();
    assert_eq!(triaged.triage_class, TriageClass::Urgent as i32);
    assert_eq!(triaged.priority, Priority::Urgent as i32);
    assert_eq!(triaged.tier, TicketSupportTier::Specialist as i32);
    assert_eq!(triaged.team, SPECIALISTS);
    assert_eq!(triaged.assignee, qian);

    // A CLOSED ticket is not reassigned.
    let done = &open[2];
    supervisor
        .resolve_ticket(ResolveTicketRequest {
            name: done.name.clone(),
            code: TicketResolutionCode::Solved as i32,
            summary: "已答复".into(),
            ..ResolveTicketRequest::default()
        })
        .await
        .expect("resolve");
    supervisor
        .close_ticket(CloseTicketRequest {
            name: done.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("close");
    let closed = assigned(
        &mut supervisor,
        assign(&done.name, &lin, "", TicketAssignmentStrategy::Unspecified),
    )
    .await
    .expect_err("closed");
    assert_eq!(closed.code(), Code::FailedPrecondition);

    // Another tenant's ticket is not found, whatever the method.
    let mut other = stack.tickets(Some(&b.admin_session));
    let status = assigned(
        &mut other,
        assign(
            &open[1].name,
            &b.admin_user,
            "",
            TicketAssignmentStrategy::Unspecified,
        ),
    )
    .await
    .expect_err("other tenant");
    assert_eq!(status.code(), Code::NotFound);
    let status = other
        .escalate_ticket(escalate(&open[1].name, "越权"))
        .await
        .expect_err("other tenant");
    assert_eq!(status.code(), Code::NotFound);

    // A deactivated agent's open tickets go to the successor named.
    stack
        .identity(Some(&admin))
        .deactivate_user(DeactivateUserRequest {
            name: lin.clone(),
            successor: wang.clone(),
            reason: "离职".into(),
        })
        .await
        .expect("deactivate");
    for name in &lins {
        let what = format!("{name} moves to the successor");
        wait_for_ticket(&supervisor, name, &what, |ticket| ticket.assignee == wang).await;
    }

    // Tickets follow a customer merge, and only those go back on undo.
    let merged = new_customer(&stack, &admin, "陈先生", "13900139001").await;
    let survivor = new_customer(&stack, &admin, "陈生", "13900139002").await;
    let of_merged = create(&mut supervisor, &merged, "inquiry", "陈先生的咨询").await;
    let merge = stack
        .customers(Some(&sun_session))
        .merge_customers(MergeCustomersRequest {
            survivor: survivor.clone(),
            merged: merged.clone(),
            reason: "同一客户".into(),
            ..MergeCustomersRequest::default()
        })
        .await
        .expect("merge")
        .into_inner();
    wait_for_customer(&supervisor, &of_merged.name, &survivor).await;
    let of_survivor = create(&mut supervisor, &survivor, "inquiry", "合并后的咨询").await;
    stack
        .customers(Some(&sun_session))
        .undo_customer_merge(UndoCustomerMergeRequest {
            name: merge.name.clone(),
            reason: "合并有误".into(),
        })
        .await
        .expect("undo");
    wait_for_customer(&supervisor, &of_merged.name, &merged).await;
    wait_for_customer(&supervisor, &of_survivor.name, &survivor).await;

    // The events.
    let assigned_events = events_of::<TicketAssigned>(&stack, tenant).await;
    assert!(
        assigned_events
            .iter()
            .any(|event| event.ticket == first.name
                && event.assignee == lin
                && event.previous_assignee.is_empty())
    );
    assert!(
        assigned_events
            .iter()
            .any(|event| event.strategy == TicketAssignmentStrategy::RoundRobin as i32)
    );
    let escalated = events_of::<TicketEscalated>(&stack, tenant).await;
    assert_eq!(
        escalated
            .iter()
            .filter(|event| event.ticket == first.name)
            .map(|event| event.to_tier)
            .collect::<Vec<_>>(),
        [
            TicketSupportTier::Specialist as i32,
            TicketSupportTier::Management as i32
        ]
    );
    let priorities = events_of::<TicketPriorityChanged>(&stack, tenant).await;
    assert!(priorities.iter().any(|event| event.ticket == open[1].name
        && event.to_priority == Priority::High as i32
        && event.reason == "客户为VIP"));
    assert!(
        priorities.iter().any(
            |event| event.ticket == urgent.name && event.to_priority == Priority::Urgent as i32
        )
    );
}

#[tokio::test]
async fn sqlite_ticket_assignment() {
    assignment(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_ticket_assignment() {
    assignment(Backend::Postgres).await;
}
