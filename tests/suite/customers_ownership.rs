//! Owner agents (专属客服) and the activity timeline through the gateway on
//! both backends, as a supervisor notices them: only active agents own
//! customers, a new owner has 7 days for first contact, automatic
//! assignment follows skill levels and answers a repeated request the
//! same, a leaving agent's customers move with their history kept, a
//! deactivated owner's customers fall back unowned, overdue first contacts
//! are listed (and raised once) until the first contact is recorded, and
//! the timeline shows the customer's creation and tickets, which then keep
//! the customer from being deleted.
//!
//! The copy of users the customers service keeps is fed by the tenants
//! service's events, so the suite waits for it. Overdue is a matter of
//! days: instead of moving the stack's clock (which also governs sessions
//! and credentials), one assignment is moved 8 days into the past in the
//! customers database, and the scan is run with the time the test chooses.

use std::time::Duration;

use chrono::Utc;
use kefu_kit::{
    context::TenantId,
    db::{begin_for_tenant, begin_read_platform},
    events::{new_event, to_timestamp},
    outbox,
    testing::Backend,
};
use kefu_proto::v1::{
    AddTeamMemberRequest, AssignCustomerOwnerRequest, AutoAssignCustomersRequest,
    AutoAssignCustomersResponse, CreateCustomerRequest, CreateSkillRequest, CreateTeamRequest,
    Customer, CustomerActivityKind, CustomerOwnerPool, DeactivateUserRequest,
    DeleteCustomerRequest, GetCustomerRequest, Industry, InviteUserRequest,
    ListCustomerActivitiesRequest, ListOverdueFirstContactsRequest, ListOwnershipHistoryRequest,
    LocalizedText, OwnershipChangeKind, ReassignCustomersRequest, RecordFirstContactRequest, Role,
    Skill, Team, TeamTier, TicketCreated, TicketEventContext, TicketResolved, User, UserSkill,
    customer_service_client::CustomerServiceClient,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tonic::Code;

use crate::{
    eventually::eventually,
    gateway::reason,
    stack::{Bearer, Stack},
};

const WAIT: Duration = Duration::from_secs(20);
const SKILL: &str = "owner-care";

async fn create(client: &mut CustomerServiceClient<Bearer>, name: &str) -> Customer {
    client
        .create_customer(CreateCustomerRequest {
            customer: Some(Customer {
                display_name: name.into(),
                ..Customer::default()
            }),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect("create customer")
        .into_inner()
}

async fn get(client: &mut CustomerServiceClient<Bearer>, name: &str) -> Customer {
    client
        .get_customer(GetCustomerRequest { name: name.into() })
        .await
        .expect("get customer")
        .into_inner()
}

fn field_of(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .and_then(|bad| bad.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

fn seconds(timestamp: &Option<prost_types::Timestamp>) -> i64 {
    timestamp.as_ref().map_or(0, |time| time.seconds)
}

/// Invites a user with `roles` and `level` of the skill, and signs them in:
/// (user name, session).
async fn member(
    stack: &Stack,
    admin: &str,
    slug: &str,
    who: &str,
    roles: &[Role],
    level: i32,
) -> (String, String) {
    let email = format!("{who}@{slug}.example");
    stack
        .identity(Some(admin))
        .invite_user(InviteUserRequest {
            user: Some(User {
                display_name: who.into(),
                email: email.clone(),
                roles: roles.iter().map(|role| *role as i32).collect(),
                skills: vec![UserSkill {
                    key: SKILL.into(),
                    level,
                }],
                ..User::default()
            }),
            ..InviteUserRequest::default()
        })
        .await
        .expect("invite");
    stack.join(slug, &email).await
}

/// Waits until the customers service's copy knows `agent` as an active
/// agent (a dry run of automatic assignment to it succeeds).
async fn wait_for_agent(client: &CustomerServiceClient<Bearer>, customer: &str, agent: &str) {
    eventually(&format!("{agent} known as an active agent"), WAIT, || {
        let mut client = client.clone();
        let request = AutoAssignCustomersRequest {
            customers: vec![customer.to_owned()],
            pool: Some(CustomerOwnerPool {
                agents: vec![agent.to_owned()],
                skill: String::new(),
            }),
            validate_only: true,
            ..AutoAssignCustomersRequest::default()
        };
        async move { client.auto_assign_customers(request).await.is_ok() }
    })
    .await;
}

async fn history(
    client: &mut CustomerServiceClient<Bearer>,
    parent: &str,
    filter: &str,
) -> Vec<kefu_proto::v1::OwnershipChange> {
    client
        .list_ownership_history(ListOwnershipHistoryRequest {
            parent: parent.into(),
            filter: filter.into(),
            page_size: 500,
            ..ListOwnershipHistoryRequest::default()
        })
        .await
        .expect("history")
        .into_inner()
        .ownership_changes
}

async fn overdue(
    client: &mut CustomerServiceClient<Bearer>,
    owner: &str,
    team: &str,
) -> Vec<String> {
    client
        .list_overdue_first_contacts(ListOverdueFirstContactsRequest {
            owner: owner.into(),
            team: team.into(),
            ..ListOverdueFirstContactsRequest::default()
        })
        .await
        .expect("overdue")
        .into_inner()
        .customers
        .into_iter()
        .map(|customer| customer.name)
        .collect()
}

async fn kinds(
    client: &CustomerServiceClient<Bearer>,
    customer: &str,
    filter: &str,
) -> Vec<(i32, String)> {
    client
        .clone()
        .list_customer_activities(ListCustomerActivitiesRequest {
            parent: customer.into(),
            filter: filter.into(),
            ..ListCustomerActivitiesRequest::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .activities
        .into_iter()
        .map(|activity| (activity.kind, activity.summary))
        .collect()
}

/// Moves `customer`'s assignment `days` into the past in the customers
/// database, as if the owner had been assigned then.
async fn backdate(stack: &Stack, tenant: TenantId, customer: &str, days: i64) {
    let db = stack.service_connection("customers").await;
    let txn = begin_for_tenant(&db, tenant).await.expect("begin");
    let id = customer.trim_start_matches("customers/");
    let stored = kefu_customers::store::customers::get(&txn, tenant.0, id, true)
        .await
        .expect("read")
        .expect("customer");
    let mut moved = stored.customer.clone();
    let shift = |time: &Option<prost_types::Timestamp>| {
        time.as_ref().map(|time| prost_types::Timestamp {
            seconds: time.seconds - days * 86_400,
            nanos: time.nanos,
        })
    };
    moved.owner_assign_time = shift(&moved.owner_assign_time);
    moved.first_contact_due_time = shift(&moved.first_contact_due_time);
    assert!(
        kefu_customers::store::customers::replace(&txn, tenant.0, id, stored.revision, &moved)
            .await
            .expect("write")
    );
    txn.commit().await.expect("commit");
}

/// The overdue events of `customer` in the customers outbox.
async fn overdue_events(stack: &Stack, customer: &str) -> usize {
    let db = stack.service_connection("customers").await;
    let txn = begin_read_platform(&db).await.expect("begin");
    let rows = outbox::entity::Entity::find()
        .filter(outbox::entity::Column::EventType.eq("kefu.v1.CustomerFirstContactOverdue"))
        .filter(outbox::entity::Column::Subject.eq(customer))
        .all(&txn)
        .await
        .expect("outbox");
    txn.commit().await.expect("commit");
    rows.len()
}

async fn ownership_and_timeline(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("own", Industry::PropertyManagement).await;
    let slug = a.tenant.slug.clone();
    let tenant: TenantId = a
        .tenant
        .name
        .trim_start_matches("tenants/")
        .parse()
        .expect("tenant id");
    let admin = a.admin_session.clone();
    let mut client = stack.customers(Some(&admin));
    stack
        .identity(Some(&admin))
        .create_skill(CreateSkillRequest {
            skill: Some(Skill {
                key: SKILL.into(),
                label: Some(LocalizedText {
                    values: [
                        ("zh-CN".to_owned(), "专属服务".to_owned()),
                        ("en".to_owned(), "Care".to_owned()),
                    ]
                    .into(),
                }),
                ..Skill::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("skill");
    let (lin, lin_session) = member(&stack, &admin, &slug, "lin", &[Role::Agent], 1).await;
    let (wang, _) = member(&stack, &admin, &slug, "wang", &[Role::Agent], 3).await;
    let (zhao, _) = member(&stack, &admin, &slug, "zhao", &[Role::Agent], 3).await;
    let (sun, _) = member(&stack, &admin, &slug, "sun", &[Role::Supervisor], 3).await;

    // An assignment starts a 7-day first-contact clock.
    let first = create(&mut client, "赵先生").await;
    for agent in [&lin, &wang, &zhao] {
        wait_for_agent(&client, &first.name, agent).await;
    }
    let owned = client
        .assign_customer_owner(AssignCustomerOwnerRequest {
            name: first.name.clone(),
            owner: lin.clone(),
            reason: "新客户".into(),
            etag: first.etag.clone(),
        })
        .await
        .expect("assign")
        .into_inner();
    assert_eq!(owned.owner, lin);
    let assigned = seconds(&owned.owner_assign_time);
    assert!(
        (assigned - Utc::now().timestamp()).abs() < 120,
        "assigned now"
    );
    assert_eq!(
        seconds(&owned.first_contact_due_time),
        assigned + 7 * 86_400
    );
    assert!(owned.first_contact_time.is_none());
    assert_ne!(owned.etag, first.etag);
    let again = client
        .assign_customer_owner(AssignCustomerOwnerRequest {
            name: first.name.clone(),
            owner: lin.clone(),
            ..AssignCustomerOwnerRequest::default()
        })
        .await
        .expect("same owner again")
        .into_inner();
    assert_eq!(
        again.etag, owned.etag,
        "the same owner again changes nothing"
    );
    let stale = client
        .assign_customer_owner(AssignCustomerOwnerRequest {
            name: first.name.clone(),
            owner: wang.clone(),
            etag: first.etag.clone(),
            ..AssignCustomerOwnerRequest::default()
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    for not_agent in [
        &sun,
        &"users/00000000-0000-7000-8000-000000000000".to_owned(),
    ] {
        let refused = client
            .assign_customer_owner(AssignCustomerOwnerRequest {
                name: first.name.clone(),
                owner: not_agent.clone(),
                ..AssignCustomerOwnerRequest::default()
            })
            .await
            .expect_err("not an agent");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{not_agent}");
        assert_eq!(reason(&refused), "OWNER_NOT_AGENT");
    }
    assert_eq!(get(&mut client, &first.name).await.owner, lin, "unchanged");

    // Automatic assignment over agents of levels 1 and 3: lin already owns
    // one, so of ten more lin gets 2 and wang 8 (3 : 8 after the call, the
    // closest to 1 : 3 whole customers allow).
    let mut batch = Vec::new();
    for index in 0..10 {
        batch.push(create(&mut client, &format!("客户{index}")).await.name);
    }
    let request = AutoAssignCustomersRequest {
        customers: batch.clone(),
        pool: Some(CustomerOwnerPool {
            agents: vec![lin.clone(), wang.clone()],
            skill: SKILL.into(),
        }),
        reason: "每日分配".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..AutoAssignCustomersRequest::default()
    };
    let answer = client
        .auto_assign_customers(request.clone())
        .await
        .expect("auto assign")
        .into_inner();
    assert_eq!(answer.assigned, 10);
    let load = |answer: &AutoAssignCustomersResponse, owner: &str| {
        answer
            .loads
            .iter()
            .find(|load| load.owner == owner)
            .map(|load| (load.weight, load.assigned, load.owned_after))
            .expect("a load per agent")
    };
    assert_eq!(load(&answer, &lin), (1.0, 2, 3));
    assert_eq!(load(&answer, &wang), (3.0, 8, 8));
    let mut owners = std::collections::BTreeMap::new();
    for name in &batch {
        *owners
            .entry(get(&mut client, name).await.owner)
            .or_insert(0) += 1;
    }
    assert_eq!(owners.get(&lin), Some(&2));
    assert_eq!(owners.get(&wang), Some(&8));

    // The same request again answers the first result and assigns nothing,
    // even with new unowned customers around.
    let late = create(&mut client, "晚到客户").await;
    let repeated = client
        .auto_assign_customers(AutoAssignCustomersRequest {
            customers: vec![late.name.clone()],
            ..request.clone()
        })
        .await
        .expect("repeat")
        .into_inner();
    assert_eq!(repeated, answer);
    assert!(get(&mut client, &late.name).await.owner.is_empty());
    let dry = client
        .auto_assign_customers(AutoAssignCustomersRequest {
            all_unowned: true,
            validate_only: true,
            ..AutoAssignCustomersRequest::default()
        })
        .await
        .expect("dry run")
        .into_inner();
    assert_eq!((dry.assigned, dry.remaining), (1, 0));
    assert!(
        get(&mut client, &late.name).await.owner.is_empty(),
        "a dry run assigns nothing"
    );
    let nobody = client
        .auto_assign_customers(AutoAssignCustomersRequest {
            all_unowned: true,
            pool: Some(CustomerOwnerPool {
                agents: Vec::new(),
                skill: "no-such-skill".into(),
            }),
            ..AutoAssignCustomersRequest::default()
        })
        .await
        .expect_err("nobody has the skill");
    assert_eq!(reason(&nobody), "NO_ELIGIBLE_AGENT");
    let neither = client
        .auto_assign_customers(AutoAssignCustomersRequest::default())
        .await
        .expect_err("nothing to assign");
    assert_eq!(field_of(&neither), "customers");

    // wang leaves: the 8 customers move to lin and zhao (1 : 3), the
    // history keeps both the automatic assignment and the move.
    let handover = ReassignCustomersRequest {
        from_owner: wang.clone(),
        to: Some(CustomerOwnerPool {
            agents: vec![lin.clone(), zhao.clone()],
            skill: SKILL.into(),
        }),
        reason: "离职交接".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..ReassignCustomersRequest::default()
    };
    let moved = client
        .reassign_customers(handover.clone())
        .await
        .expect("reassign")
        .into_inner();
    assert_eq!((moved.reassigned, moved.remaining), (8, 0));
    let moved_to: i64 = moved.loads.iter().map(|load| load.assigned).sum();
    assert_eq!(moved_to, 8);
    assert!(moved.loads.iter().all(|load| load.owner != wang));
    assert_eq!(
        client
            .reassign_customers(handover)
            .await
            .expect("repeat")
            .into_inner(),
        moved
    );
    let wangs = history(
        &mut client,
        "customers/-",
        &format!("previous_owner = \"{wang}\""),
    )
    .await;
    assert_eq!(wangs.len(), 8);
    assert!(wangs.iter().all(
        |change| change.kind == OwnershipChangeKind::Reassigned as i32
            && change.reason == "离职交接"
    ));
    let one = wangs[0]
        .name
        .split("/ownershipChanges/")
        .next()
        .expect("customer")
        .to_owned();
    let kept = history(&mut client, &one, "").await;
    assert_eq!(
        kept.iter().map(|change| change.kind).collect::<Vec<_>>(),
        [
            OwnershipChangeKind::Reassigned as i32,
            OwnershipChangeKind::Auto as i32
        ],
        "newest first, the automatic assignment kept"
    );
    let moved_customer = get(&mut client, &one).await;
    assert_ne!(moved_customer.owner, wang);
    assert!(
        seconds(&moved_customer.owner_assign_time) >= assigned,
        "the clock restarted for the new owner"
    );
    let auto = history(&mut client, "customers/-", "kind = AUTO").await;
    assert_eq!(auto.len(), 10);
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_ownership_history(ListOwnershipHistoryRequest {
                parent: "customers/-".into(),
                filter: "kind = AUTO".into(),
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .expect("history page")
            .into_inner();
        assert_eq!(page.total_size, 10);
        paged.extend(page.ownership_changes.into_iter().map(|change| change.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        paged,
        auto.iter()
            .map(|change| change.name.clone())
            .collect::<Vec<_>>(),
        "pages of 3 read the same changes in the same order"
    );
    let bad = client
        .list_ownership_history(ListOwnershipHistoryRequest {
            parent: "customers/-".into(),
            filter: "owner = \"x\"".into(),
            ..ListOwnershipHistoryRequest::default()
        })
        .await
        .expect_err("unknown field");
    assert_eq!(field_of(&bad), "filter");

    // zhao is deactivated without successor: the customers become unowned.
    let zhaos: Vec<String> = history(
        &mut client,
        "customers/-",
        &format!("new_owner = \"{zhao}\""),
    )
    .await
    .into_iter()
    .filter_map(|change| {
        change
            .name
            .split("/ownershipChanges/")
            .next()
            .map(str::to_owned)
    })
    .collect();
    assert!(!zhaos.is_empty());
    stack
        .identity(Some(&admin))
        .deactivate_user(DeactivateUserRequest {
            name: zhao.clone(),
            ..DeactivateUserRequest::default()
        })
        .await
        .expect("deactivate");
    eventually("zhao's customers are unowned", WAIT, || {
        let mut client = client.clone();
        let zhaos = zhaos.clone();
        async move {
            for name in &zhaos {
                if !get(&mut client, name).await.owner.is_empty() {
                    return false;
                }
            }
            true
        }
    })
    .await;
    let fallen = history(&mut client, "customers/-", "kind = OWNER_DEACTIVATED").await;
    assert_eq!(fallen.len(), zhaos.len());
    assert!(
        fallen
            .iter()
            .all(|change| change.previous_owner == zhao && change.new_owner.is_empty())
    );

    // Overdue first contact: nothing is due yet; one assignment 8 days old
    // is, for its owner, for users/me, and for the owner's team.
    assert!(overdue(&mut client, "", "").await.is_empty());
    let team = stack
        .identity(Some(&admin))
        .create_team(CreateTeamRequest {
            team: Some(Team {
                display_name: "专属客服组".into(),
                tier: TeamTier::FrontLine as i32,
                ..Team::default()
            }),
            team_id: "owners".into(),
            ..CreateTeamRequest::default()
        })
        .await
        .expect("team")
        .into_inner();
    stack
        .identity(Some(&admin))
        .add_team_member(AddTeamMemberRequest {
            name: team.name.clone(),
            user: lin.clone(),
        })
        .await
        .expect("member");
    backdate(&stack, tenant, &first.name, 8).await;
    assert_eq!(
        overdue(&mut client, &lin, "").await,
        vec![first.name.clone()]
    );
    assert_eq!(
        overdue(&mut stack.customers(Some(&lin_session)), "users/me", "").await,
        vec![first.name.clone()]
    );
    assert!(overdue(&mut client, &wang, "").await.is_empty());
    eventually("the team's overdue customers", WAIT, || {
        let mut client = client.clone();
        let team = team.name.clone();
        let expected = first.name.clone();
        async move { overdue(&mut client, "", &team).await == [expected] }
    })
    .await;
    let total = client
        .list_overdue_first_contacts(ListOverdueFirstContactsRequest::default())
        .await
        .expect("overdue")
        .into_inner()
        .total_size;
    assert_eq!(total, 1);

    // The scan raises it once per assignment, with the time it is given.
    let db = stack.service_connection("customers").await;
    kefu_customers::consumers::scan_overdue(&db, Utc::now())
        .await
        .expect("scan");
    assert_eq!(
        kefu_customers::consumers::scan_overdue(&db, Utc::now())
            .await
            .expect("scan again"),
        0
    );
    assert_eq!(overdue_events(&stack, &first.name).await, 1);
    let later = Utc::now() + chrono::Duration::days(8);
    let raised = kefu_customers::consumers::scan_overdue(&db, later)
        .await
        .expect("scan later");
    assert!(
        raised > 0,
        "every other owned customer is overdue in 8 days"
    );
    assert_eq!(
        kefu_customers::consumers::scan_overdue(&db, later)
            .await
            .expect("again"),
        0
    );
    assert_eq!(overdue_events(&stack, &first.name).await, 1);

    // First contact stops the clock; recording it again changes nothing.
    let future = client
        .record_first_contact(RecordFirstContactRequest {
            name: first.name.clone(),
            contact_time: Some(to_timestamp(Utc::now() + chrono::Duration::hours(1))),
            ..RecordFirstContactRequest::default()
        })
        .await
        .expect_err("future contact");
    assert_eq!(field_of(&future), "contact_time");
    let unowned = client
        .record_first_contact(RecordFirstContactRequest {
            name: late.name.clone(),
            ..RecordFirstContactRequest::default()
        })
        .await
        .expect_err("no owner");
    assert_eq!(reason(&unowned), "NO_OWNER");
    let contacted = stack
        .customers(Some(&lin_session))
        .record_first_contact(RecordFirstContactRequest {
            name: first.name.clone(),
            channel: kefu_proto::v1::Channel::Phone as i32,
            notes: "约好周六上门".into(),
            ..RecordFirstContactRequest::default()
        })
        .await
        .expect("first contact")
        .into_inner();
    assert!(contacted.first_contact_time.is_some());
    let twice = client
        .record_first_contact(RecordFirstContactRequest {
            name: first.name.clone(),
            ..RecordFirstContactRequest::default()
        })
        .await
        .expect("again")
        .into_inner();
    assert_eq!(twice.etag, contacted.etag);
    assert!(overdue(&mut client, "", "").await.is_empty());

    // The timeline: created, owner changes, first contact, and the tickets
    // service's events (appended to its outbox, published by its relay); an
    // event about a customer the tenant does not have adds nothing.
    let tickets_db = stack.service_connection("tickets").await;
    let txn = begin_for_tenant(&tickets_db, tenant).await.expect("begin");
    let context = |customer: &str| TicketEventContext {
        ticket_number: "T-1024".into(),
        customer: customer.into(),
        channel: kefu_proto::v1::Channel::Phone as i32,
        ..TicketEventContext::default()
    };
    let events = [
        new_event(
            "tickets",
            Some(tenant),
            "tickets/t-0",
            &TicketCreated {
                ticket: "tickets/t-0".into(),
                context: Some(context("customers/nobody")),
                subject: "无主".into(),
                ..TicketCreated::default()
            },
            Utc::now(),
        ),
        new_event(
            "tickets",
            Some(tenant),
            "tickets/t-1024",
            &TicketCreated {
                ticket: "tickets/t-1024".into(),
                context: Some(context(&first.name)),
                subject: "漏水维修".into(),
                ..TicketCreated::default()
            },
            Utc::now(),
        ),
        new_event(
            "tickets",
            Some(tenant),
            "tickets/t-1024",
            &TicketResolved {
                ticket: "tickets/t-1024".into(),
                context: Some(context(&first.name)),
                subject: "漏水维修".into(),
                ..TicketResolved::default()
            },
            Utc::now(),
        ),
    ];
    for event in &events {
        outbox::append(&txn, event).await.expect("append");
    }
    txn.commit().await.expect("commit");
    eventually("the ticket in the timeline", WAIT, || {
        let client = client.clone();
        let name = first.name.clone();
        async move {
            kinds(&client, &name, "")
                .await
                .iter()
                .any(|(kind, _)| *kind == CustomerActivityKind::TicketResolved as i32)
        }
    })
    .await;
    let timeline = kinds(&client, &first.name, "").await;
    assert_eq!(
        timeline.first(),
        Some(&(
            CustomerActivityKind::TicketResolved as i32,
            "工单 T-1024 已解决：漏水维修".to_owned()
        )),
        "newest first"
    );
    for kind in [
        CustomerActivityKind::CustomerCreated,
        CustomerActivityKind::OwnershipChanged,
        CustomerActivityKind::FirstContact,
        CustomerActivityKind::TicketCreated,
    ] {
        assert!(
            timeline.iter().any(|(found, _)| *found == kind as i32),
            "{kind:?} in {timeline:?}"
        );
    }
    assert!(
        timeline
            .iter()
            .any(|(_, summary)| summary == "专属客服变更：无 → lin")
    );
    assert_eq!(
        kinds(&client, &first.name, "source = \"tickets/*\"")
            .await
            .len(),
        2
    );
    assert_eq!(
        kinds(&client, &first.name, "kind = TICKET_CREATED")
            .await
            .len(),
        1
    );
    let bad = client
        .list_customer_activities(ListCustomerActivitiesRequest {
            parent: first.name.clone(),
            filter: "kind > TICKET_CREATED".into(),
            ..ListCustomerActivitiesRequest::default()
        })
        .await
        .expect_err("bad filter");
    assert_eq!(field_of(&bad), "filter");

    // A customer tickets refer to cannot be deleted; one nobody referred to
    // can.
    let in_use = client
        .delete_customer(DeleteCustomerRequest {
            name: first.name.clone(),
            ..DeleteCustomerRequest::default()
        })
        .await
        .expect_err("referenced");
    assert_eq!(in_use.code(), Code::FailedPrecondition);
    assert_eq!(reason(&in_use), "CUSTOMER_IN_USE");
    eventually("the late customer's creation in its timeline", WAIT, || {
        let client = client.clone();
        let name = late.name.clone();
        async move { !kinds(&client, &name, "").await.is_empty() }
    })
    .await;
    client
        .delete_customer(DeleteCustomerRequest {
            name: late.name.clone(),
            ..DeleteCustomerRequest::default()
        })
        .await
        .expect("never referenced: deleted");
}

#[tokio::test]
async fn sqlite_ownership_and_timeline() {
    ownership_and_timeline(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_ownership_and_timeline() {
    ownership_and_timeline(Backend::Postgres).await;
}
