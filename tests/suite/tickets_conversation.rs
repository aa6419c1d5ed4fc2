//! The conversation around tickets through the gateway on both backends, as
//! agents notice it: an internal note changes nothing and stays internal,
//! the first public reply opens a NEW ticket and stamps the first response,
//! the customer's answer resumes a PENDING ticket, comments are idempotent
//! and refused when empty; the audit trail lists every change, has no
//! method to edit it and survives later changes unchanged; an incident
//! groups three tickets (a fourth held by another incident is refused), one
//! response reaches each as a public reply and its resolution resolves all
//! three; a shift handover is submitted, refused to a stranger and
//! acknowledged by its receiver, who gets the ticket; another tenant sees
//! none of it (NOT_FOUND, like missing resources).

use kefu_kit::testing::Backend;
use kefu_proto::v1::{
    AcknowledgeHandoverRequest, ActorKind, Channel, CreateHandoverRequest, CreateIncidentRequest,
    CreateTicketCommentRequest, CreateTicketFieldDefinitionRequest, CreateTicketKindRequest,
    GetHandoverRequest, GetIncidentRequest, GetTicketAuditEntryRequest, GetTicketCommentRequest,
    GetTicketRequest, Handover, HandoverItem, HandoverState, Incident, IncidentState, Industry,
    LinkTicketsToIncidentRequest, ListHandoversRequest, ListIncidentsRequest,
    ListTicketAuditEntriesRequest, ListTicketCommentsRequest, LocalizedText, PendTicketRequest,
    PostIncidentResponseRequest, ResolveIncidentRequest, Role, SubmitHandoverRequest, Ticket,
    TicketAttachment, TicketAuditAction, TicketAuditEntry, TicketBaseKind, TicketComment,
    TicketCommentVisibility, TicketFieldDefinition, TicketFieldRequirement, TicketFieldType,
    TicketKind, TicketKindField, TicketResolutionCode, TicketState,
    UnlinkTicketFromIncidentRequest, UpdateIncidentRequest,
    ticket_service_client::TicketServiceClient,
};
use prost_types::FieldMask;
use tonic::{Code, Status};

use crate::{
    gateway::reason as reason_of,
    stack::{Bearer, Stack},
    tenants::field_of,
    tickets_support::{count_events, join_as, new_customer, new_ticket, retry},
};

/// Creates an inquiry once the copies it needs (taxonomy, customer) arrived.
async fn new_inquiry(
    client: &TicketServiceClient<Bearer>,
    customer: &str,
    subject: &str,
) -> Ticket {
    new_ticket(client, "ticketKinds/inquiry", customer, subject).await
}

async fn get(client: &mut TicketServiceClient<Bearer>, name: &str) -> Ticket {
    client
        .get_ticket(GetTicketRequest { name: name.into() })
        .await
        .expect("get ticket")
        .into_inner()
}

fn comment(visibility: TicketCommentVisibility, body: &str) -> TicketComment {
    TicketComment {
        visibility: visibility as i32,
        body: body.into(),
        ..TicketComment::default()
    }
}

async fn add(
    client: &mut TicketServiceClient<Bearer>,
    parent: &str,
    comment: TicketComment,
    request_id: &str,
) -> Result<TicketComment, Status> {
    client
        .create_ticket_comment(CreateTicketCommentRequest {
            parent: parent.into(),
            comment: Some(comment),
            request_id: request_id.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn comments(
    client: &mut TicketServiceClient<Bearer>,
    parent: &str,
    filter: &str,
) -> Vec<TicketComment> {
    client
        .list_ticket_comments(ListTicketCommentsRequest {
            parent: parent.into(),
            filter: filter.into(),
            ..ListTicketCommentsRequest::default()
        })
        .await
        .expect("list comments")
        .into_inner()
        .comments
}

async fn trail(
    client: &mut TicketServiceClient<Bearer>,
    parent: &str,
    filter: &str,
) -> Vec<TicketAuditEntry> {
    client
        .list_ticket_audit_entries(ListTicketAuditEntriesRequest {
            parent: parent.into(),
            filter: filter.into(),
            page_size: 500,
            ..ListTicketAuditEntriesRequest::default()
        })
        .await
        .expect("list audit entries")
        .into_inner()
        .audit_entries
}

fn actions(entries: &[TicketAuditEntry]) -> Vec<TicketAuditAction> {
    entries
        .iter()
        .map(|entry| TicketAuditAction::try_from(entry.action).expect("known action"))
        .collect()
}

async fn conversation(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let a = stack.onboard("conv", Industry::Generic).await;
    let b = stack.onboard("conv-other", Industry::Generic).await;
    let zhang = new_customer(&stack, &a.admin_session, "张三", "13800138000").await;
    let mut client = stack.tickets(Some(&a.admin_session));
    let mut other = stack.tickets(Some(&b.admin_session));

    // Replies and notes.
    let ticket = new_inquiry(&client, &zhang, "3号楼1单元 厨房漏水").await;
    assert_eq!(ticket.state, TicketState::New as i32);
    let note = add(
        &mut client,
        &ticket.name,
        comment(TicketCommentVisibility::Internal, "先查一下物业维修记录"),
        "",
    )
    .await
    .expect("internal note");
    assert_eq!(note.channel, Channel::Unspecified as i32);
    assert_eq!(
        note.author.as_ref().map(|author| author.name.as_str()),
        Some(a.admin_user.as_str())
    );
    let after_note = get(&mut client, &ticket.name).await;
    assert_eq!(
        after_note.state,
        TicketState::New as i32,
        "a note opens nothing"
    );
    assert!(after_note.first_response_time.is_none());

    for (bad, field) in [
        (
            comment(TicketCommentVisibility::Public, "  "),
            "comment.body",
        ),
        (
            comment(TicketCommentVisibility::Unspecified, "您好"),
            "comment.visibility",
        ),
        (
            comment(TicketCommentVisibility::Public, &"长".repeat(32_001)),
            "comment.body",
        ),
    ] {
        let status = add(&mut client, &ticket.name, bad, "")
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(field_of(&status), field);
    }

    let request_id = uuid::Uuid::now_v7().to_string();
    let mut public = comment(
        TicketCommentVisibility::Public,
        "您好,维修师傅今天下午三点上门。",
    );
    public.attachments = vec![TicketAttachment {
        uri: "s3://kefu/photos/leak-1.jpg".into(),
        file_name: "漏水照片1.jpg".into(),
        content_type: "image/jpeg".into(),
        size_bytes: 20_480,
        sha256: "ab".repeat(32),
    }];
    let reply = add(&mut client, &ticket.name, public.clone(), &request_id)
        .await
        .expect("public reply");
    assert_eq!(reply.channel, Channel::Phone as i32, "the ticket's channel");
    assert_eq!(reply.attachments.len(), 1);
    let again = add(&mut client, &ticket.name, public, &request_id)
        .await
        .expect("the same request again");
    assert_eq!(
        again.name, reply.name,
        "a retried reply is not posted twice"
    );
    let opened = get(&mut client, &ticket.name).await;
    assert_eq!(
        opened.state,
        TicketState::Open as i32,
        "the first reply opens it"
    );
    assert!(opened.first_response_time.is_some());
    let first_response = opened.first_response_time;

    client
        .pend_ticket(PendTicketRequest {
            name: ticket.name.clone(),
            reason: "等待顾客提供漏水照片".into(),
            ..PendTicketRequest::default()
        })
        .await
        .expect("pend");
    let mut answer = comment(TicketCommentVisibility::Public, "照片已发,请查收。");
    answer.author = Some(kefu_proto::v1::Actor {
        kind: ActorKind::Customer as i32,
        ..Default::default()
    });
    let answer = add(&mut client, &ticket.name, answer, "")
        .await
        .expect("the customer's message");
    assert_eq!(
        answer
            .author
            .as_ref()
            .map(|author| (author.kind, author.name.as_str())),
        Some((ActorKind::Customer as i32, zhang.as_str()))
    );
    let resumed = get(&mut client, &ticket.name).await;
    assert_eq!(
        resumed.state,
        TicketState::Open as i32,
        "the answer resumes it"
    );
    assert_eq!(resumed.first_response_time, first_response);

    let all = comments(&mut client, &ticket.name, "").await;
    assert_eq!(
        all.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        [&note.name, &reply.name, &answer.name],
        "oldest first"
    );
    let conversation = comments(&mut client, &ticket.name, "visibility = PUBLIC").await;
    assert_eq!(conversation.len(), 2);
    assert!(
        conversation.iter().all(|c| c.name != note.name),
        "the note is not public"
    );
    let notes = comments(&mut client, &ticket.name, "visibility = INTERNAL").await;
    assert_eq!(notes.len(), 1);
    let read = client
        .get_ticket_comment(GetTicketCommentRequest {
            name: reply.name.clone(),
        })
        .await
        .expect("get comment")
        .into_inner();
    assert_eq!(read, reply);

    // The audit trail: every change, oldest first, no method to edit it.
    let entries = trail(&mut client, &ticket.name, "").await;
    assert_eq!(
        actions(&entries),
        [
            TicketAuditAction::Created,
            TicketAuditAction::InternalNoteAdded,
            TicketAuditAction::PublicCommentAdded,
            TicketAuditAction::Pended,
            TicketAuditAction::PublicCommentAdded,
        ]
    );
    assert_eq!(entries[1].related_resource, note.name);
    assert_eq!(entries[2].related_resource, reply.name);
    assert!(
        entries[2]
            .changes
            .iter()
            .any(|change| change.path == "state"),
        "the reply's entry shows NEW → OPEN: {:?}",
        entries[2].changes
    );
    let state_changes = trail(&mut client, &ticket.name, r#"changes.path:"state""#).await;
    assert_eq!(
        actions(&state_changes),
        [
            TicketAuditAction::Created,
            TicketAuditAction::PublicCommentAdded,
            TicketAuditAction::Pended,
            TicketAuditAction::PublicCommentAdded,
        ]
    );
    let newest = client
        .list_ticket_audit_entries(ListTicketAuditEntriesRequest {
            parent: ticket.name.clone(),
            order_by: "create_time desc".into(),
            page_size: 2,
            ..ListTicketAuditEntriesRequest::default()
        })
        .await
        .expect("newest first")
        .into_inner();
    assert_eq!(newest.total_size, 5);
    assert_eq!(newest.audit_entries[0], entries[4]);
    assert!(!newest.next_page_token.is_empty());
    let one = client
        .get_ticket_audit_entry(GetTicketAuditEntryRequest {
            name: entries[0].name.clone(),
        })
        .await
        .expect("get audit entry")
        .into_inner();
    assert_eq!(one, entries[0]);
    for method in [
        "UpdateTicketAuditEntry",
        "DeleteTicketAuditEntry",
        "CreateTicketAuditEntry",
        "UpdateTicketComment",
        "DeleteTicketComment",
    ] {
        let status = stack
            .raw_call(
                &format!("kefu.v1.TicketService/{method}"),
                Vec::new(),
                Some(&a.admin_session),
            )
            .await
            .expect_err("no such method");
        assert_eq!(status.code(), Code::Unimplemented, "{method}: {status:?}");
    }

    // Each comment was published with its change.
    assert_eq!(
        count_events(&stack, &ticket.name, "TicketInternalNoteAdded").await,
        1
    );
    assert_eq!(count_events(&stack, &ticket.name, "TicketReplied").await, 2);
    assert_eq!(
        count_events(&stack, &ticket.name, "TicketStateChanged").await,
        3,
        "opened by the reply, pended, resumed by the customer"
    );

    // An incident of three tickets: one response, one resolution.
    let leaks = [
        new_inquiry(&client, &zhang, "停水:1单元").await,
        new_inquiry(&client, &zhang, "停水:2单元").await,
        new_inquiry(&client, &zhang, "停水:3单元").await,
    ];
    let incident = client
        .create_incident(CreateIncidentRequest {
            incident: Some(Incident {
                title: "12月3日 3号楼停水".into(),
                cause: "市政管网抢修".into(),
                ..Incident::default()
            }),
            tickets: vec![leaks[0].name.clone(), leaks[1].name.clone()],
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("incident opened")
        .into_inner();
    assert_eq!(incident.state, IncidentState::Open as i32);
    assert_eq!(incident.linked_ticket_count, 2);
    assert_eq!(
        incident.owner, a.admin_user,
        "the creator coordinates by default"
    );
    let incident = client
        .link_tickets_to_incident(LinkTicketsToIncidentRequest {
            incident: incident.name.clone(),
            tickets: vec![leaks[2].name.clone(), leaks[0].name.clone()],
        })
        .await
        .expect("third linked, first skipped")
        .into_inner();
    assert_eq!(
        (incident.linked_ticket_count, incident.open_ticket_count),
        (3, 3)
    );
    let status = client
        .create_incident(CreateIncidentRequest {
            incident: Some(Incident {
                title: "另一事件".into(),
                cause: "误操作".into(),
                ..Incident::default()
            }),
            tickets: vec![ticket.name.clone(), leaks[1].name.clone()],
            request_id: String::new(),
        })
        .await
        .expect_err("a ticket belongs to one incident");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason_of(&status), "TICKET_IN_OTHER_INCIDENT");
    assert!(
        get(&mut client, &ticket.name).await.incident.is_empty(),
        "all or nothing"
    );
    let status = client
        .link_tickets_to_incident(LinkTicketsToIncidentRequest {
            incident: incident.name.clone(),
            tickets: vec![format!("tickets/{}", uuid::Uuid::now_v7())],
        })
        .await
        .expect_err("unknown ticket");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        (field_of(&status).as_str(), reason_of(&status).as_str()),
        ("tickets[0]", "UNKNOWN_REFERENCE")
    );

    let responded = client
        .post_incident_response(PostIncidentResponseRequest {
            name: incident.name.clone(),
            body: "3号楼因市政管网抢修停水,预计今晚20:00恢复。".into(),
            request_id: "11111111-1111-7111-8111-111111111111".into(),
            ..PostIncidentResponseRequest::default()
        })
        .await
        .expect("response posted")
        .into_inner();
    assert_eq!(responded.responses.len(), 1);
    assert_eq!(responded.responses[0].reached_ticket_count, 3);
    let retried = client
        .post_incident_response(PostIncidentResponseRequest {
            name: incident.name.clone(),
            body: "3号楼因市政管网抢修停水,预计今晚20:00恢复。".into(),
            request_id: "11111111-1111-7111-8111-111111111111".into(),
            ..PostIncidentResponseRequest::default()
        })
        .await
        .expect("retried")
        .into_inner();
    assert_eq!(retried.responses.len(), 1, "a retry posts nothing twice");
    for leak in &leaks {
        let replies = comments(&mut client, &leak.name, "visibility = PUBLIC").await;
        assert_eq!(replies.len(), 1, "{}", leak.name);
        assert_eq!(replies[0].incident, incident.name);
        let now = get(&mut client, &leak.name).await;
        assert_eq!(now.state, TicketState::Open as i32, "the response opens it");
        assert!(now.first_response_time.is_some());
        assert_eq!(now.incident, incident.name);
    }

    let resolved = client
        .resolve_incident(ResolveIncidentRequest {
            name: incident.name.clone(),
            summary: "管网修复,供水恢复".into(),
            public_reply: "供水已恢复,感谢您的耐心。".into(),
            etag: String::new(),
        })
        .await
        .expect("incident resolved")
        .into_inner();
    assert_eq!(resolved.state, IncidentState::Resolved as i32);
    assert_eq!(
        (resolved.linked_ticket_count, resolved.open_ticket_count),
        (3, 0)
    );
    for leak in &leaks {
        let now = get(&mut client, &leak.name).await;
        assert_eq!(now.state, TicketState::Resolved as i32, "{}", leak.name);
        let resolution = now.resolution.expect("resolution");
        assert_eq!(
            resolution.code,
            TicketResolutionCode::IncidentResolved as i32
        );
        assert_eq!(resolution.incident, incident.name);
        assert_eq!(
            comments(&mut client, &leak.name, "visibility = PUBLIC")
                .await
                .len(),
            2
        );
    }
    for leak in &leaks {
        assert_eq!(count_events(&stack, &leak.name, "TicketReplied").await, 2);
        assert_eq!(count_events(&stack, &leak.name, "TicketResolved").await, 1);
    }
    assert_eq!(
        count_events(&stack, &incident.name, "IncidentOpened").await,
        1
    );
    assert_eq!(
        count_events(&stack, &incident.name, "IncidentResolved").await,
        1
    );
    let status = client
        .post_incident_response(PostIncidentResponseRequest {
            name: incident.name.clone(),
            body: "再次通知".into(),
            ..PostIncidentResponseRequest::default()
        })
        .await
        .expect_err("resolved");
    assert_eq!(reason_of(&status), "INCIDENT_RESOLVED");
    let status = client
        .link_tickets_to_incident(LinkTicketsToIncidentRequest {
            incident: incident.name.clone(),
            tickets: vec![ticket.name.clone()],
        })
        .await
        .expect_err("resolved");
    assert_eq!(reason_of(&status), "INCIDENT_RESOLVED");
    let status = client
        .resolve_incident(ResolveIncidentRequest {
            name: incident.name.clone(),
            summary: "again".into(),
            ..ResolveIncidentRequest::default()
        })
        .await
        .expect_err("already resolved");
    assert_eq!(
        (status.code(), reason_of(&status).as_str()),
        (Code::FailedPrecondition, "ILLEGAL_TRANSITION")
    );

    // A ticket grouped by mistake is unlinked and keeps its replies.
    let mistaken = client
        .create_incident(CreateIncidentRequest {
            incident: Some(Incident {
                title: "电梯故障".into(),
                cause: "待查".into(),
                ..Incident::default()
            }),
            tickets: vec![ticket.name.clone()],
            request_id: String::new(),
        })
        .await
        .expect("second incident")
        .into_inner();
    assert_eq!(get(&mut client, &ticket.name).await.incident, mistaken.name);
    let unlinked = client
        .unlink_ticket_from_incident(UnlinkTicketFromIncidentRequest {
            incident: mistaken.name.clone(),
            ticket: ticket.name.clone(),
            reason: "归错了".into(),
        })
        .await
        .expect("unlinked")
        .into_inner();
    assert_eq!(unlinked.linked_ticket_count, 0);
    assert!(get(&mut client, &ticket.name).await.incident.is_empty());
    let status = client
        .unlink_ticket_from_incident(UnlinkTicketFromIncidentRequest {
            incident: mistaken.name.clone(),
            ticket: ticket.name.clone(),
            reason: String::new(),
        })
        .await
        .expect_err("not linked any more");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let listed = client
        .list_incidents(ListIncidentsRequest {
            filter: "state = OPEN".into(),
            ..ListIncidentsRequest::default()
        })
        .await
        .expect("list incidents")
        .into_inner();
    assert_eq!(
        listed.incidents.iter().map(|i| &i.name).collect::<Vec<_>>(),
        [&mistaken.name]
    );

    // The trail survives: the earlier entries read exactly as before.
    let later = trail(&mut client, &ticket.name, "").await;
    assert_eq!(later[..entries.len()], entries[..]);
    assert_eq!(
        actions(&later[entries.len()..]),
        [
            TicketAuditAction::IncidentLinked,
            TicketAuditAction::IncidentUnlinked
        ]
    );

    // With reply_to_new_links, a ticket linked later gets the latest response.
    let posted = client
        .post_incident_response(PostIncidentResponseRequest {
            name: mistaken.name.clone(),
            body: "电梯维修中,预计明早恢复。".into(),
            ..PostIncidentResponseRequest::default()
        })
        .await
        .expect("response to no ticket yet")
        .into_inner();
    assert_eq!(posted.responses[0].reached_ticket_count, 0);
    let updated = client
        .update_incident(UpdateIncidentRequest {
            incident: Some(Incident {
                name: mistaken.name.clone(),
                reply_to_new_links: true,
                etag: posted.etag.clone(),
                ..Incident::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["reply_to_new_links".into()],
            }),
        })
        .await
        .expect("updated")
        .into_inner();
    assert!(updated.reply_to_new_links);
    assert_eq!(updated.title, "电梯故障", "only the masked field changes");
    let status = client
        .update_incident(UpdateIncidentRequest {
            incident: Some(Incident {
                name: mistaken.name.clone(),
                title: "x".into(),
                etag: posted.etag.clone(),
                ..Incident::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .expect_err("stale etag");
    assert_eq!(status.code(), Code::Aborted, "{status:?}");
    let relinked = client
        .link_tickets_to_incident(LinkTicketsToIncidentRequest {
            incident: mistaken.name.clone(),
            tickets: vec![ticket.name.clone()],
        })
        .await
        .expect("linked again")
        .into_inner();
    assert_eq!(relinked.responses[0].reached_ticket_count, 1);
    let latest = comments(
        &mut client,
        &ticket.name,
        &format!(r#"incident = "{}""#, mistaken.name),
    )
    .await;
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].body, "电梯维修中,预计明早恢复。");

    // A shift handover to the night shift's agent.
    let slug = &a.tenant.slug;
    let (night, night_session) =
        join_as(&stack, &a.admin_session, slug, "night", &[Role::Agent]).await;
    let (stranger, stranger_session) =
        join_as(&stack, &a.admin_session, slug, "stranger", &[Role::Agent]).await;
    let request = CreateHandoverRequest {
        handover: Some(Handover {
            from_shift: "早班".into(),
            to_user: night.clone(),
            to_shift: "夜班".into(),
            note: "3号楼停水已恢复,注意回访".into(),
            items: vec![HandoverItem {
                ticket: ticket.name.clone(),
                note: "顾客18:00前回电确认上门时间".into(),
                transfer_assignment: true,
                snapshot: None,
            }],
            ..Handover::default()
        }),
        include_open_tickets: false,
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let draft = retry("the handover created once the night agent is known", || {
        let mut client = client.clone();
        let request = request.clone();
        async move { client.create_handover(request).await }
    })
    .await;
    assert_eq!(draft.state, HandoverState::Draft as i32);
    assert_eq!(draft.from_user, a.admin_user);
    let status = client
        .acknowledge_handover(AcknowledgeHandoverRequest {
            name: draft.name.clone(),
            ..AcknowledgeHandoverRequest::default()
        })
        .await
        .expect_err("a draft is not acknowledged");
    assert_eq!(reason_of(&status), "ILLEGAL_TRANSITION");
    let submitted = client
        .submit_handover(SubmitHandoverRequest {
            name: draft.name.clone(),
            etag: draft.etag.clone(),
        })
        .await
        .expect("submitted")
        .into_inner();
    assert_eq!(submitted.state, HandoverState::Submitted as i32);
    let snapshot = submitted.items[0].snapshot.clone().expect("snapshot");
    assert_eq!(snapshot.ticket_number, ticket.ticket_number);
    assert_eq!(snapshot.state, TicketState::Open as i32);
    let status = stack
        .tickets(Some(&stranger_session))
        .acknowledge_handover(AcknowledgeHandoverRequest {
            name: draft.name.clone(),
            ..AcknowledgeHandoverRequest::default()
        })
        .await
        .expect_err("not the receiver");
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{stranger}: {status:?}"
    );
    let mut night_client = stack.tickets(Some(&night_session));
    let status = night_client
        .post_incident_response(PostIncidentResponseRequest {
            name: mistaken.name.clone(),
            body: "x".into(),
            ..PostIncidentResponseRequest::default()
        })
        .await
        .expect_err("agents do not run incidents");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let mine = night_client
        .list_handovers(ListHandoversRequest {
            filter: r#"to_user = "users/me" AND state = SUBMITTED"#.into(),
            ..ListHandoversRequest::default()
        })
        .await
        .expect("what I must acknowledge")
        .into_inner();
    assert_eq!(mine.handovers.len(), 1);
    let assigned_before = count_events(&stack, &ticket.name, "TicketAssigned").await;
    let acknowledged = night_client
        .acknowledge_handover(AcknowledgeHandoverRequest {
            name: draft.name.clone(),
            note: "已当面交接".into(),
            etag: String::new(),
        })
        .await
        .expect("acknowledged")
        .into_inner();
    assert_eq!(acknowledged.state, HandoverState::Acknowledged as i32);
    assert_eq!(
        acknowledged
            .acknowledged_by
            .as_ref()
            .map(|actor| actor.name.as_str()),
        Some(night.as_str())
    );
    assert_eq!(get(&mut client, &ticket.name).await.assignee, night);
    assert_eq!(
        count_events(&stack, &ticket.name, "TicketAssigned").await,
        assigned_before + 1
    );
    assert_eq!(
        count_events(&stack, &draft.name, "HandoverAcknowledged").await,
        1
    );
    let handed = trail(&mut client, &ticket.name, "action = HANDED_OVER").await;
    assert_eq!(handed.len(), 1);
    assert_eq!(handed[0].related_resource, draft.name);
    let status = night_client
        .acknowledge_handover(AcknowledgeHandoverRequest {
            name: draft.name.clone(),
            ..AcknowledgeHandoverRequest::default()
        })
        .await
        .expect_err("acknowledged once");
    assert_eq!(reason_of(&status), "ILLEGAL_TRANSITION");

    // The night shift hands its open tickets back, notes to fill in first.
    let back = night_client
        .create_handover(CreateHandoverRequest {
            handover: Some(Handover {
                to_user: a.admin_user.clone(),
                ..Handover::default()
            }),
            include_open_tickets: true,
            request_id: String::new(),
        })
        .await
        .expect("handover with the open tickets")
        .into_inner();
    assert_eq!(back.from_user, night);
    assert_eq!(
        back.items
            .iter()
            .map(|item| item.ticket.as_str())
            .collect::<Vec<_>>(),
        [ticket.name.as_str()]
    );
    let status = night_client
        .submit_handover(SubmitHandoverRequest {
            name: back.name.clone(),
            etag: String::new(),
        })
        .await
        .expect_err("the item's note is empty");
    assert_eq!(
        (status.code(), field_of(&status).as_str()),
        (Code::InvalidArgument, "handover.items[0].note")
    );

    // A linked ticket whose kind requires a field on resolve holds the
    // incident back: nothing is resolved.
    let text = |zh: &str, en: &str| {
        Some(LocalizedText {
            values: [
                ("zh-CN".to_owned(), zh.to_owned()),
                ("en".to_owned(), en.to_owned()),
            ]
            .into_iter()
            .collect(),
        })
    };
    client
        .create_ticket_field_definition(CreateTicketFieldDefinitionRequest {
            ticket_field_definition: Some(TicketFieldDefinition {
                key: "root_cause".into(),
                r#type: TicketFieldType::Text as i32,
                labels: text("故障原因", "Root cause"),
                ..TicketFieldDefinition::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("field definition");
    client
        .create_ticket_kind(CreateTicketKindRequest {
            ticket_kind: Some(TicketKind {
                key: "outage".into(),
                labels: text("停电", "Outage"),
                base_kind: TicketBaseKind::Other as i32,
                fields: vec![TicketKindField {
                    field_definition: "ticketFieldDefinitions/root_cause".into(),
                    requirement: TicketFieldRequirement::RequiredOnResolve as i32,
                }],
                ..TicketKind::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("kind");
    let plain = new_inquiry(&client, &zhang, "停电:1单元").await;
    let strict = new_ticket(&client, "ticketKinds/outage", &zhang, "停电:2单元").await;
    let blackout = client
        .create_incident(CreateIncidentRequest {
            incident: Some(Incident {
                title: "3号楼停电".into(),
                cause: "变压器故障".into(),
                ..Incident::default()
            }),
            tickets: vec![plain.name.clone(), strict.name.clone()],
            request_id: String::new(),
        })
        .await
        .expect("blackout")
        .into_inner();
    let status = client
        .resolve_incident(ResolveIncidentRequest {
            name: blackout.name.clone(),
            summary: "变压器已更换".into(),
            ..ResolveIncidentRequest::default()
        })
        .await
        .expect_err("a field is missing");
    assert_eq!(
        (status.code(), reason_of(&status).as_str()),
        (Code::FailedPrecondition, "REQUIRED_FIELD_MISSING")
    );
    assert!(status.message().contains(&strict.name), "{status:?}");
    for held in [&plain, &strict] {
        assert_eq!(
            get(&mut client, &held.name).await.state,
            TicketState::New as i32
        );
    }
    let still = client
        .get_incident(GetIncidentRequest {
            name: blackout.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(still.state, IncidentState::Open as i32);

    // Another tenant finds none of it.
    let foreign_incident = other
        .create_incident(CreateIncidentRequest {
            incident: Some(Incident {
                title: "别家的事件".into(),
                cause: "x".into(),
                ..Incident::default()
            }),
            ..CreateIncidentRequest::default()
        })
        .await
        .expect("B's incident")
        .into_inner();
    let not_found = |result: Result<(), Status>, what: &str| {
        let status = result.expect_err(what);
        assert_eq!(status.code(), Code::NotFound, "{what}: {status:?}");
    };
    not_found(
        add(
            &mut other,
            &ticket.name,
            comment(TicketCommentVisibility::Public, "hi"),
            "",
        )
        .await
        .map(drop),
        "comment on A's ticket",
    );
    not_found(
        other
            .get_ticket_comment(GetTicketCommentRequest {
                name: reply.name.clone(),
            })
            .await
            .map(drop),
        "A's comment",
    );
    not_found(
        other
            .list_ticket_comments(ListTicketCommentsRequest {
                parent: ticket.name.clone(),
                ..ListTicketCommentsRequest::default()
            })
            .await
            .map(drop),
        "A's comments",
    );
    not_found(
        other
            .get_ticket_audit_entry(GetTicketAuditEntryRequest {
                name: entries[0].name.clone(),
            })
            .await
            .map(drop),
        "A's audit entry",
    );
    not_found(
        other
            .list_ticket_audit_entries(ListTicketAuditEntriesRequest {
                parent: ticket.name.clone(),
                ..ListTicketAuditEntriesRequest::default()
            })
            .await
            .map(drop),
        "A's audit trail",
    );
    not_found(
        other
            .get_incident(GetIncidentRequest {
                name: incident.name.clone(),
            })
            .await
            .map(drop),
        "A's incident",
    );
    not_found(
        other
            .post_incident_response(PostIncidentResponseRequest {
                name: mistaken.name.clone(),
                body: "x".into(),
                ..PostIncidentResponseRequest::default()
            })
            .await
            .map(drop),
        "responding to A's incident",
    );
    not_found(
        other
            .get_handover(GetHandoverRequest {
                name: draft.name.clone(),
            })
            .await
            .map(drop),
        "A's handover",
    );
    let status = other
        .link_tickets_to_incident(LinkTicketsToIncidentRequest {
            incident: foreign_incident.name.clone(),
            tickets: vec![ticket.name.clone()],
        })
        .await
        .expect_err("A's ticket is unknown to B");
    assert_eq!(
        (status.code(), reason_of(&status).as_str()),
        (Code::InvalidArgument, "UNKNOWN_REFERENCE")
    );
    let theirs = other
        .list_incidents(ListIncidentsRequest::default())
        .await
        .expect("B's incidents")
        .into_inner();
    assert_eq!(
        theirs.incidents.iter().map(|i| &i.name).collect::<Vec<_>>(),
        [&foreign_incident.name]
    );
    let theirs = other
        .list_handovers(ListHandoversRequest::default())
        .await
        .expect("B's handovers")
        .into_inner();
    assert!(theirs.handovers.is_empty());
    assert_eq!(
        get(&mut client, &ticket.name).await.assignee,
        night,
        "A's ticket unchanged"
    );
}

#[tokio::test]
async fn sqlite_ticket_conversation() {
    conversation(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_ticket_conversation() {
    conversation(Backend::Postgres).await;
}
