//! The ticket lifecycle through the gateway on both backends, as an agent
//! notices it: a ticket is created numbered and NEW with its kind's
//! defaults, a repeated request creates nothing more, bad input is refused
//! naming the field with nothing stored (unknown kind, another tenant's
//! customer, an over-long subject, an unknown custom field, an incomplete
//! flag), a stale etag is ABORTED, every legal transition moves the ticket
//! and an illegal one changes nothing, a reopen after the window is refused,
//! and the views (mine, unassigned, pending on the customer, the team queue
//! by priority, overdue, search) list what they should, page by page.

use std::time::Duration;

use chrono::Utc;
use kefu_kit::{context::TenantId, db::begin_for_tenant, events::to_timestamp, testing::Backend};
use kefu_proto::v1::{
    Channel, CloseTicketRequest, CreateTicketRequest, FlagTicketRequest, GetTicketRequest,
    HoldTicketRequest, Industry, ListTicketsRequest, OpenTicketRequest, PendTicketRequest,
    Priority, ReopenTicketRequest, ResolveTicketRequest, ResumeTicketRequest, Ticket,
    TicketBaseKind, TicketFlag, TicketFlagColor, TicketResolutionCode, TicketState,
    TicketSupportTier, UpdateTicketRequest, ticket_service_client::TicketServiceClient,
};
use prost::Message;
use prost_types::FieldMask;
use sea_orm::{
    ConnectionTrait,
    sea_query::{Alias, Expr, ExprTrait, Query},
};
use tonic::{Code, Status};

use crate::{
    gateway::reason as reason_of,
    stack::{Bearer, Stack},
    tenants::field_of,
    tickets_support::{new_customer, retry},
};

fn inquiry(customer: &str, subject: &str) -> Ticket {
    Ticket {
        kind: "ticketKinds/inquiry".into(),
        channel: Channel::Phone as i32,
        customer: customer.into(),
        subject: subject.into(),
        ..Ticket::default()
    }
}

/// An inquiry of `priority`, for the queue ordered by priority.
fn inquiry_at(priority: Priority, customer: &str, subject: &str) -> Ticket {
    Ticket {
        priority: priority as i32,
        ..inquiry(customer, subject)
    }
}

async fn create(
    client: &mut TicketServiceClient<Bearer>,
    ticket: Ticket,
) -> Result<Ticket, Status> {
    client
        .create_ticket(CreateTicketRequest {
            ticket: Some(ticket),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn list(
    client: &mut TicketServiceClient<Bearer>,
    filter: &str,
    order_by: &str,
) -> Vec<Ticket> {
    client
        .list_tickets(ListTicketsRequest {
            filter: filter.into(),
            order_by: order_by.into(),
            page_size: 500,
            ..ListTicketsRequest::default()
        })
        .await
        .expect("list")
        .into_inner()
        .tickets
}

fn subjects(tickets: &[Ticket]) -> Vec<&str> {
    tickets.iter().map(|t| t.subject.as_str()).collect()
}

/// Moves the reopen deadline of `name` into the past, as if the window had
/// passed (the stack's clock is the system's).
async fn expire_reopen_window(stack: &Stack, tenant: TenantId, name: &str) {
    let id: uuid::Uuid = name
        .strip_prefix("tickets/")
        .and_then(|id| id.parse().ok())
        .expect("ticket id");
    let db = stack.service_connection("tickets").await;
    let txn = begin_for_tenant(&db, tenant).await.expect("begin");
    let select = Query::select()
        .column(Alias::new("resource"))
        .from(Alias::new("tickets"))
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    let row = txn.query_one(&select).await.expect("read").expect("row");
    let bytes: Vec<u8> = row.try_get("", "resource").expect("resource");
    let mut ticket = Ticket::decode(bytes.as_slice()).expect("decodes");
    ticket.reopen_deadline = Some(to_timestamp(Utc::now() - chrono::Duration::hours(1)));
    let update = Query::update()
        .table(Alias::new("tickets"))
        .value(Alias::new("resource"), ticket.encode_to_vec())
        .and_where(Expr::col(Alias::new("tenant_id")).eq(tenant.0))
        .and_where(Expr::col(Alias::new("id")).eq(id))
        .to_owned();
    txn.execute(&update).await.expect("update");
    txn.commit().await.expect("commit");
}

async fn ticket_lifecycle(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("tkt", Industry::Generic).await;
    let b = stack.onboard("tkt-other", Industry::Generic).await;
    let tenant = TenantId(
        a.tenant
            .name
            .strip_prefix("tenants/")
            .and_then(|id| id.parse().ok())
            .expect("tenant id"),
    );
    let zhang = new_customer(&stack, &a.admin_session, "张三", "13800138000").await;
    let foreign = new_customer(&stack, &b.admin_session, "李四", "13900139000").await;
    let mut client = stack.tickets(Some(&a.admin_session));

    // The first ticket, once the copies of the taxonomy and the customer
    // have arrived; the same request again answers the same ticket.
    let request_id = uuid::Uuid::now_v7().to_string();
    let mut first = inquiry(&zhang, "3号楼1单元 厨房漏水");
    first.description = "顾客来电:厨房水管漏水".into();
    first.tags = vec![" VIP ".into(), "vip".into(), "双11".into()];
    let request = CreateTicketRequest {
        ticket: Some(first.clone()),
        request_id: request_id.clone(),
    };
    let created = retry("the taxonomy and customer copies arrived", || {
        let mut client = client.clone();
        let request = request.clone();
        async move { client.create_ticket(request).await }
    })
    .await;
    assert!(created.name.starts_with("tickets/"));
    assert!(
        created.ticket_number.starts_with("T-"),
        "{}",
        created.ticket_number
    );
    assert!(
        created.ticket_number.len() >= 8,
        "{}",
        created.ticket_number
    );
    assert_eq!(created.state, TicketState::New as i32);
    assert_eq!(
        created.priority,
        Priority::Normal as i32,
        "the kind's default"
    );
    assert_eq!(created.base_kind, TicketBaseKind::Inquiry as i32);
    assert_eq!(created.tier, TicketSupportTier::FrontLine as i32);
    assert_eq!(created.tags, ["vip", "双11"]);
    assert_eq!(
        created.created_by.as_ref().map(|actor| actor.name.as_str()),
        Some(a.admin_user.as_str())
    );
    assert!(!created.etag.is_empty());
    let again = client
        .create_ticket(request)
        .await
        .expect("the same request again")
        .into_inner();
    assert_eq!(again.name, created.name);
    assert_eq!(list(&mut client, "", "").await.len(), 1);
    let read = client
        .get_ticket(GetTicketRequest {
            name: created.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(read.subject, created.subject);
    assert_eq!(read.etag, created.etag);

    // Bad input is refused naming the field, and nothing is created.
    let refusals: Vec<(Ticket, &str, &str)> = vec![
        (inquiry(&zhang, ""), "ticket.subject", ""),
        (inquiry(&zhang, &"漏".repeat(201)), "ticket.subject", ""),
        (
            Ticket {
                kind: "ticketKinds/no-such-kind".into(),
                ..inquiry(&zhang, "未知类型")
            },
            "ticket.kind",
            "UNKNOWN_REFERENCE",
        ),
        (
            Ticket {
                kind: String::new(),
                ..inquiry(&zhang, "无类型")
            },
            "ticket.kind",
            "",
        ),
        (
            inquiry(&foreign, "别家的顾客"),
            "ticket.customer",
            "UNKNOWN_REFERENCE",
        ),
        (
            Ticket {
                custom_fields: [(
                    "no_such_field".to_owned(),
                    prost_types::Value {
                        kind: Some(prost_types::value::Kind::StringValue("x".into())),
                    },
                )]
                .into(),
                ..inquiry(&zhang, "未知字段")
            },
            "ticket.custom_fields.no_such_field",
            "CUSTOM_FIELD_INVALID",
        ),
        (
            Ticket {
                kind: "ticketKinds/service-request".into(),
                ..inquiry(&zhang, "缺型号")
            },
            "ticket.custom_fields.product_model",
            "REQUIRED_FIELD_MISSING",
        ),
        (
            Ticket {
                assignee: "users/nobody".into(),
                ..inquiry(&zhang, "没有这个人")
            },
            "ticket.assignee",
            "UNKNOWN_REFERENCE",
        ),
        (
            Ticket {
                flags: vec![TicketFlag {
                    color: TicketFlagColor::Red as i32,
                    content: "换37码".into(),
                    ..TicketFlag::default()
                }],
                ..inquiry(&zhang, "旗帜不全")
            },
            "ticket.flags[0].handling",
            "FLAG_INCOMPLETE",
        ),
    ];
    for (ticket, field, reason) in refusals {
        let status = create(&mut client, ticket).await.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(field_of(&status), field, "{status:?}");
        if !reason.is_empty() {
            assert_eq!(reason_of(&status), reason, "{field}");
        }
    }
    assert_eq!(list(&mut client, "", "").await.len(), 1, "nothing created");

    // Update with the etag read; a stale etag is ABORTED; state is not a
    // field UpdateTicket changes.
    let mask = |paths: &[&str]| {
        Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        })
    };
    let updated = client
        .update_ticket(UpdateTicketRequest {
            ticket: Some(Ticket {
                name: created.name.clone(),
                subject: "3号楼1单元 厨房水管漏水".into(),
                etag: created.etag.clone(),
                ..Ticket::default()
            }),
            update_mask: mask(&["subject"]),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.subject, "3号楼1单元 厨房水管漏水");
    assert_eq!(updated.description, created.description, "outside the mask");
    assert_ne!(updated.etag, created.etag);
    let stale = client
        .update_ticket(UpdateTicketRequest {
            ticket: Some(Ticket {
                name: created.name.clone(),
                subject: "旧的".into(),
                etag: created.etag.clone(),
                ..Ticket::default()
            }),
            update_mask: mask(&["subject"]),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    let state = client
        .update_ticket(UpdateTicketRequest {
            ticket: Some(Ticket {
                name: created.name.clone(),
                state: TicketState::Closed as i32,
                ..Ticket::default()
            }),
            update_mask: mask(&["state"]),
        })
        .await
        .expect_err("state is not updatable");
    assert_eq!(state.code(), Code::InvalidArgument);
    assert_eq!(field_of(&state), "update_mask");

    // Every legal transition, in turn; an illegal one changes nothing.
    let name = created.name.clone();
    let illegal = |status: Status| {
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert_eq!(reason_of(&status), "ILLEGAL_TRANSITION");
    };
    let closing = client
        .close_ticket(CloseTicketRequest {
            name: name.clone(),
            etag: String::new(),
        })
        .await
        .expect_err("NEW cannot close");
    illegal(closing);
    let opened = client
        .open_ticket(OpenTicketRequest {
            name: name.clone(),
            etag: updated.etag.clone(),
        })
        .await
        .expect("open")
        .into_inner();
    assert_eq!(opened.state, TicketState::Open as i32);
    illegal(
        client
            .open_ticket(OpenTicketRequest {
                name: name.clone(),
                etag: String::new(),
            })
            .await
            .expect_err("OPEN cannot open"),
    );
    let no_reason = client
        .pend_ticket(PendTicketRequest {
            name: name.clone(),
            ..PendTicketRequest::default()
        })
        .await
        .expect_err("pend needs a reason");
    assert_eq!(no_reason.code(), Code::InvalidArgument);
    assert_eq!(field_of(&no_reason), "reason");
    let pended = client
        .pend_ticket(PendTicketRequest {
            name: name.clone(),
            reason: "等待顾客提供漏水照片".into(),
            expected_time: Some(to_timestamp(Utc::now() + chrono::Duration::days(1))),
            etag: String::new(),
        })
        .await
        .expect("pend")
        .into_inner();
    assert_eq!(pended.state, TicketState::Pending as i32);
    assert_eq!(
        pended.wait.as_ref().map(|wait| wait.reason.as_str()),
        Some("等待顾客提供漏水照片")
    );
    assert!(pended.due_time.is_some(), "the expected answer is due");
    let held = client
        .hold_ticket(HoldTicketRequest {
            name: name.clone(),
            reason: "等待厂家配件".into(),
            ..HoldTicketRequest::default()
        })
        .await
        .expect("hold")
        .into_inner();
    assert_eq!(held.state, TicketState::OnHold as i32);
    let resumed = client
        .resume_ticket(ResumeTicketRequest {
            name: name.clone(),
            reason: "配件已到".into(),
            etag: held.etag.clone(),
        })
        .await
        .expect("resume")
        .into_inner();
    assert_eq!(resumed.state, TicketState::Open as i32);
    assert!(resumed.wait.is_none());
    illegal(
        client
            .reopen_ticket(ReopenTicketRequest {
                name: name.clone(),
                reason: "还漏".into(),
                etag: String::new(),
            })
            .await
            .expect_err("OPEN cannot reopen"),
    );
    let resolved = client
        .resolve_ticket(ResolveTicketRequest {
            name: name.clone(),
            code: TicketResolutionCode::Solved as i32,
            summary: "更换水管接头,顾客已确认".into(),
            ..ResolveTicketRequest::default()
        })
        .await
        .expect("resolve")
        .into_inner();
    assert_eq!(resolved.state, TicketState::Resolved as i32);
    assert!(resolved.resolve_time.is_some());
    assert!(resolved.reopen_deadline.is_some());
    assert!(resolved.due_time.is_none());
    assert_eq!(
        resolved.resolution.as_ref().map(|r| r.code),
        Some(TicketResolutionCode::Solved as i32)
    );
    illegal(
        client
            .hold_ticket(HoldTicketRequest {
                name: name.clone(),
                reason: "不行".into(),
                ..HoldTicketRequest::default()
            })
            .await
            .expect_err("RESOLVED cannot hold"),
    );
    let closed = client
        .close_ticket(CloseTicketRequest {
            name: name.clone(),
            etag: String::new(),
        })
        .await
        .expect("close")
        .into_inner();
    assert_eq!(closed.state, TicketState::Closed as i32);
    assert!(closed.close_time.is_some());
    illegal(
        client
            .update_ticket(UpdateTicketRequest {
                ticket: Some(Ticket {
                    name: name.clone(),
                    subject: "关了还改".into(),
                    ..Ticket::default()
                }),
                update_mask: mask(&["subject"]),
            })
            .await
            .expect_err("CLOSED is read-only"),
    );
    let reopened = client
        .reopen_ticket(ReopenTicketRequest {
            name: name.clone(),
            reason: "漏水复发".into(),
            etag: String::new(),
        })
        .await
        .expect("reopen within the window")
        .into_inner();
    assert_eq!(reopened.state, TicketState::Open as i32);
    assert_eq!(reopened.reopen_count, 1);
    assert!(reopened.resolution.is_none());

    // After the window a reopen is refused: a follow-up ticket instead.
    let resolved = client
        .resolve_ticket(ResolveTicketRequest {
            name: name.clone(),
            code: TicketResolutionCode::Solved as i32,
            summary: "返修完成".into(),
            ..ResolveTicketRequest::default()
        })
        .await
        .expect("resolve again")
        .into_inner();
    expire_reopen_window(&stack, tenant, &resolved.name).await;
    let expired = client
        .reopen_ticket(ReopenTicketRequest {
            name: name.clone(),
            reason: "又漏了".into(),
            etag: String::new(),
        })
        .await
        .expect_err("the window has passed");
    assert_eq!(expired.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&expired), "REOPEN_WINDOW_EXPIRED");
    let follow_up = create(
        &mut client,
        Ticket {
            parent_ticket: name.clone(),
            ..inquiry(&zhang, "又漏了(跟进)")
        },
    )
    .await
    .expect("a follow-up ticket");
    assert_eq!(follow_up.parent_ticket, name);

    // Flags: all parts or refused.
    let flagged = client
        .flag_ticket(FlagTicketRequest {
            name: follow_up.name.clone(),
            flag: Some(TicketFlag {
                color: TicketFlagColor::Blue as i32,
                content: "顾客要求上午上门".into(),
                handling: "已约周六上午".into(),
                ..TicketFlag::default()
            }),
            etag: String::new(),
        })
        .await
        .expect("flag")
        .into_inner();
    assert_eq!(flagged.flags.len(), 1);
    assert!(flagged.flags[0].flag_time.is_some());
    assert!(flagged.flags[0].flagged_by.is_some());
    let incomplete = client
        .flag_ticket(FlagTicketRequest {
            name: follow_up.name.clone(),
            flag: Some(TicketFlag {
                color: TicketFlagColor::Blue as i32,
                handling: "已约".into(),
                ..TicketFlag::default()
            }),
            etag: String::new(),
        })
        .await
        .expect_err("no content");
    assert_eq!(reason_of(&incomplete), "FLAG_INCOMPLETE");
    assert_eq!(field_of(&incomplete), "flag.content");

    // The views. Tickets of the team queue with their priorities; one mine,
    // one pending on the customer.
    let team = created.team.clone();
    let urgent = create(&mut client, inquiry_at(Priority::Urgent, &zhang, "停电 急"))
        .await
        .expect("urgent");
    let low = create(&mut client, inquiry_at(Priority::Low, &zhang, "路灯咨询"))
        .await
        .expect("low");
    // The assignee must be an active user in the copy of users.
    let mine = first_ticket(
        &mut client,
        Ticket {
            assignee: a.admin_user.clone(),
            ..inquiry(&zhang, "我的工单")
        },
    )
    .await;
    let waiting = create(&mut client, inquiry(&zhang, "等顾客回复"))
        .await
        .expect("waiting");
    client
        .pend_ticket(PendTicketRequest {
            name: waiting.name.clone(),
            reason: "等待顾客确认".into(),
            ..PendTicketRequest::default()
        })
        .await
        .expect("pend");

    let my_open = list(
        &mut client,
        "mine AND state != RESOLVED AND state != CLOSED",
        "",
    )
    .await;
    assert_eq!(subjects(&my_open), ["我的工单"]);
    let me = list(&mut client, r#"assignee = "users/me""#, "").await;
    assert_eq!(subjects(&me), ["我的工单"]);
    let pending = list(&mut client, "pending_on_customer", "").await;
    assert_eq!(subjects(&pending), ["等顾客回复"]);
    let unassigned = list(&mut client, "unassigned AND state = NEW", "").await;
    assert_eq!(unassigned.len(), 3, "{:?}", subjects(&unassigned));
    assert!(list(&mut client, "overdue", "").await.is_empty());
    let queue_filter = if team.is_empty() {
        "state = NEW OR state = OPEN".to_owned()
    } else {
        format!(r#"team = "{team}" AND (state = NEW OR state = OPEN)"#)
    };
    let queue = list(&mut client, &queue_filter, "").await;
    assert_eq!(
        queue.first().map(|t| t.name.as_str()),
        Some(urgent.name.as_str())
    );
    assert_eq!(
        queue.last().map(|t| t.name.as_str()),
        Some(low.name.as_str())
    );
    let by_number = list(&mut client, "", "ticket_number").await;
    assert_eq!(by_number.len(), 6);
    assert_eq!(by_number[0].name, created.name);
    assert_eq!(by_number[5].name, waiting.name);
    let _ = mine;

    // Search and pages.
    let found = client
        .list_tickets(ListTicketsRequest {
            query: "漏".into(),
            ..ListTicketsRequest::default()
        })
        .await
        .expect("query")
        .into_inner();
    assert_eq!(found.total_size, 2, "{:?}", subjects(&found.tickets));
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_tickets(ListTicketsRequest {
                page_size: 4,
                page_token: token.clone(),
                order_by: "create_time desc".into(),
                ..ListTicketsRequest::default()
            })
            .await
            .expect("page")
            .into_inner();
        assert_eq!(page.total_size, 6);
        seen.extend(page.tickets.into_iter().map(|t| t.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(seen.first(), Some(&waiting.name));
    let bad = client
        .list_tickets(ListTicketsRequest {
            filter: "colour = red".into(),
            ..ListTicketsRequest::default()
        })
        .await
        .expect_err("unknown field");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(field_of(&bad), "filter");

    // Another tenant's ticket is not found, as a missing one.
    let mut other = stack.tickets(Some(&b.admin_session));
    let hidden = other
        .get_ticket(GetTicketRequest { name: name.clone() })
        .await
        .expect_err("another tenant's");
    assert_eq!(hidden.code(), Code::NotFound);
    assert!(list(&mut other, "", "").await.is_empty());
}

/// Creates `ticket` once the taxonomy and customer copies have arrived.
async fn first_ticket(client: &mut TicketServiceClient<Bearer>, ticket: Ticket) -> Ticket {
    retry("the taxonomy and customer copies arrived", || {
        let mut client = client.clone();
        let ticket = ticket.clone();
        async move { create(&mut client, ticket).await.map(tonic::Response::new) }
    })
    .await
}

/// The automatic parts: a RESOLVED ticket is closed by the system after the
/// tenant's auto-close delay (3 days by default), and an erased customer's
/// tickets are anonymised, keeping what the statistics need.
async fn automatic_parts(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("tkt-auto", Industry::Generic).await;
    let zhang = new_customer(&stack, &a.admin_session, "张三", "13800138000").await;
    let mut client = stack.tickets(Some(&a.admin_session));
    let done = first_ticket(&mut client, inquiry(&zhang, "物业费咨询")).await;
    client
        .resolve_ticket(ResolveTicketRequest {
            name: done.name.clone(),
            code: TicketResolutionCode::Solved as i32,
            summary: "已解答".into(),
            public_reply: "您好,物业费按季度收取,详见缴费通知。".into(),
            ..ResolveTicketRequest::default()
        })
        .await
        .expect("resolve with a public reply");
    // The reply went out in the same transaction: the conversation holds
    // it, and it was the first response.
    let conversation = client
        .list_ticket_comments(kefu_proto::v1::ListTicketCommentsRequest {
            parent: done.name.clone(),
            ..kefu_proto::v1::ListTicketCommentsRequest::default()
        })
        .await
        .expect("comments")
        .into_inner()
        .comments;
    assert_eq!(conversation.len(), 1);
    assert_eq!(
        conversation[0].visibility,
        kefu_proto::v1::TicketCommentVisibility::Public as i32
    );
    let db = stack.service_connection("tickets").await;
    let closed = kefu_tickets::consumers::lifecycle::scan_auto_close(&db, Utc::now())
        .await
        .expect("scan");
    assert_eq!(closed, 0, "the delay has not passed");
    let closed = kefu_tickets::consumers::lifecycle::scan_auto_close(
        &db,
        Utc::now() + chrono::Duration::days(4),
    )
    .await
    .expect("scan");
    assert_eq!(closed, 1);
    let read = client
        .get_ticket(GetTicketRequest {
            name: done.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(read.state, TicketState::Closed as i32);
    assert!(read.close_time.is_some());

    // The tenant shortens its reopen window to one day: once the tickets
    // service's copy of the tenant has it, a resolution may be reopened for
    // one day only.
    stack
        .tenants(Some(&a.admin_session))
        .update_current_tenant(kefu_proto::v1::UpdateCurrentTenantRequest {
            tenant: Some(kefu_proto::v1::Tenant {
                settings: Some(kefu_proto::v1::TenantSettings {
                    reopen_window: Some(prost_types::Duration {
                        seconds: 86_400,
                        nanos: 0,
                    }),
                    ..kefu_proto::v1::TenantSettings::default()
                }),
                ..kefu_proto::v1::Tenant::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["settings.reopen_window".into()],
            }),
        })
        .await
        .expect("the admin sets the reopen window");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ticket = create(&mut client, inquiry(&zhang, "停车位咨询"))
            .await
            .expect("create");
        let resolved = client
            .resolve_ticket(ResolveTicketRequest {
                name: ticket.name.clone(),
                code: TicketResolutionCode::Solved as i32,
                summary: "已解答".into(),
                ..ResolveTicketRequest::default()
            })
            .await
            .expect("resolve")
            .into_inner();
        let window = resolved.reopen_deadline.expect("deadline").seconds
            - resolved.resolve_time.expect("resolve time").seconds;
        if window == 86_400 {
            break;
        }
        assert_eq!(
            window,
            7 * 86_400,
            "the default window until the copy has the change"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the tenant's reopen window never reached the tickets service"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The customer's erasure anonymises their tickets.
    let personal = create(
        &mut client,
        Ticket {
            description: "张三 13800138000 家里漏水".into(),
            flags: vec![TicketFlag {
                color: TicketFlagColor::Red as i32,
                content: "张三要求上午来".into(),
                handling: "已约".into(),
                ..TicketFlag::default()
            }],
            ..inquiry(&zhang, "张三家漏水")
        },
    )
    .await
    .expect("create");
    let erased = stack
        .customers(Some(&a.admin_session))
        .erase_customer(kefu_proto::v1::EraseCustomerRequest {
            name: zhang.clone(),
            reason: "PIPL 删除请求".into(),
            requested_by: kefu_proto::v1::ErasureRequester::DataSubject as i32,
            ..kefu_proto::v1::EraseCustomerRequest::default()
        })
        .await;
    if let Err(status) = erased {
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let anonymised = loop {
        let read = client
            .get_ticket(GetTicketRequest {
                name: personal.name.clone(),
            })
            .await
            .expect("get")
            .into_inner();
        if read.customer_erased {
            break read;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the ticket was never anonymised"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(anonymised.customer.is_empty());
    assert_eq!(anonymised.subject, "[erased]");
    assert_eq!(anonymised.description, "[erased]");
    assert_eq!(anonymised.flags[0].content, "[erased]");
    assert_eq!(anonymised.kind, personal.kind, "kept for the statistics");
    assert_eq!(anonymised.state, personal.state);
    assert_eq!(anonymised.ticket_number, personal.ticket_number);
    // The conversation of the customer's other ticket reads [erased] too.
    let conversation = client
        .list_ticket_comments(kefu_proto::v1::ListTicketCommentsRequest {
            parent: done.name.clone(),
            ..kefu_proto::v1::ListTicketCommentsRequest::default()
        })
        .await
        .expect("comments")
        .into_inner()
        .comments;
    assert_eq!(conversation.len(), 1);
    assert_eq!(conversation[0].body, "[erased]");
}

#[tokio::test]
async fn sqlite_ticket_automatic_parts() {
    automatic_parts(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_ticket_automatic_parts() {
    automatic_parts(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_ticket_lifecycle() {
    ticket_lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_ticket_lifecycle() {
    ticket_lifecycle(Backend::Postgres).await;
}
