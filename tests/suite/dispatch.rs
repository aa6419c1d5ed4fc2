//! Service requests and technician dispatch (服务登记 / 派工) through the
//! gateway on both backends, as a manager and a technician notice them: an
//! agent registers a request and its first visit waits in the queue; the
//! manager dispatches a technician (not an agent) with a voucher and a
//! window; on site the technician records arrival, work and the customer's
//! sign-off, and completion names what is still missing (paid work needs a
//! fee and its collection); the manager countersigns. Out-of-town work
//! waits for approval, voucher numbers are unique, yesterday's undispatched
//! work heads today's queue after the carry-over scan (run with a time one
//! day ahead, as the service's clock would reach it), and another tenant's
//! requests and dispatches answer NOT_FOUND like missing ones.
//!
//! The tickets service learns customers and users from events, so the
//! suite waits for its copy before relying on it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kefu_kit::{
    clock::{Clock, ManualClock},
    events::to_timestamp,
    testing::Backend,
};
use kefu_proto::v1::{
    ApproveOutOfTownDispatchRequest, CancelDispatchRequest, CompleteDispatchRequest,
    CountersignDispatchRequest, CreateCustomerRequest, CreateDispatchRequest,
    CreateServiceRequestRequest, Customer, DeleteServiceRequestRequest, Dispatch,
    DispatchAppointmentWindow, DispatchCustomerSignOff, DispatchState, DispatchTechnicianRequest,
    GetDispatchRequest, GetServiceRequestRequest, GetTicketRequest, Industry,
    ListDispatchQueueRequest, ListDispatchesRequest, ListServiceRequestsRequest, Money,
    OutOfTownApproval, PostalAddress, RecordArrivalRequest, RecordCustomerSignOffRequest,
    RecordWorkRequest, Role, ServiceRequest, ServiceRequestState, ServiceType,
    UpdateServiceRequestRequest, dispatch_service_client::DispatchServiceClient,
};
use prost_types::FieldMask;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::{
    gateway::reason,
    stack::{Bearer, Stack},
    tenants::field_of,
    tickets_support::{count_events, join_as, new_ticket, until_known},
};

fn metadata_field(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .and_then(|info| info.metadata.get("field").cloned())
        .unwrap_or_default()
}

fn request(customer: &str, kind: ServiceType, out_of_town: bool) -> ServiceRequest {
    ServiceRequest {
        customer: customer.into(),
        address: Some(PostalAddress {
            region_code: "CN".into(),
            locality: "杭州市".into(),
            sublocality: "西湖区".into(),
            address_lines: vec!["文三路 1 号".into()],
            ..PostalAddress::default()
        }),
        phone: "+8613800000001".into(),
        product_model: "KFR-35GW".into(),
        specification: "1.5 匹".into(),
        fault_description: "空调不制冷".into(),
        service_type: kind as i32,
        out_of_town,
        out_of_town_note: if out_of_town {
            "宁波 外埠服务, 差旅费约 300 元".into()
        } else {
            String::new()
        },
        ..ServiceRequest::default()
    }
}

/// Creates a request, waiting until the tickets service knows the customer
/// (the same request id answers the same request).
async fn create(client: &DispatchServiceClient<Bearer>, body: ServiceRequest) -> ServiceRequest {
    let request = CreateServiceRequestRequest {
        service_request: Some(body),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    until_known(unknown_reference, || {
        let mut client = client.clone();
        let request = request.clone();
        async move { client.create_service_request(request).await }
    })
    .await
    .unwrap_or_else(|status| panic!("create service request: {status:?}"))
}

/// Whether the tickets service refused a reference it does not know (yet).
fn unknown_reference(status: &Status) -> bool {
    reason(status) == "UNKNOWN_REFERENCE"
}

async fn dispatches_of(client: &mut DispatchServiceClient<Bearer>, parent: &str) -> Vec<Dispatch> {
    client
        .list_dispatches(ListDispatchesRequest {
            parent: parent.into(),
            ..ListDispatchesRequest::default()
        })
        .await
        .expect("list dispatches")
        .into_inner()
        .dispatches
}

fn window(hours_from_now: i64) -> DispatchAppointmentWindow {
    let start = Utc::now() + chrono::Duration::hours(hours_from_now);
    DispatchAppointmentWindow {
        start_time: Some(to_timestamp(start)),
        end_time: Some(to_timestamp(start + chrono::Duration::hours(2))),
    }
}

fn dispatch_to(name: &str, technician: &str, voucher: &str) -> DispatchTechnicianRequest {
    DispatchTechnicianRequest {
        name: name.into(),
        technician: technician.into(),
        appointment_window: Some(window(4)),
        voucher_number: voucher.into(),
        ..DispatchTechnicianRequest::default()
    }
}

/// Dispatches, waiting until the tickets service knows the user.
async fn dispatch_when_known(
    client: &DispatchServiceClient<Bearer>,
    request: DispatchTechnicianRequest,
) -> Result<Dispatch, Status> {
    until_known(unknown_reference, || {
        let mut client = client.clone();
        let request = request.clone();
        async move { client.dispatch_technician(request).await }
    })
    .await
}

fn money(amount_minor: i64) -> Option<Money> {
    Some(Money {
        currency_code: "CNY".into(),
        amount_minor,
    })
}

async fn dispatch_lifecycle(backend: Backend) {
    // 17:30 in Shanghai: the day's queue closes in six and a half hours.
    let start = DateTime::parse_from_rfc3339("2026-12-01T09:30:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let clock = ManualClock::new(start);
    let Some(stack) = Stack::start_with_clock(backend, Arc::new(clock.clone()), |config| {
        config.limits.enabled = false;
    })
    .await
    else {
        return;
    };
    let a = stack.onboard("dispatch", Industry::Generic).await;
    let slug = a.tenant.slug.clone();
    let admin = a.admin_session.clone();
    let (_, agent) = join_as(&stack, &admin, &slug, "agent", &[Role::Agent]).await;
    let (manager_user, manager) = join_as(&stack, &admin, &slug, "manager", &[Role::Manager]).await;
    let (technician_user, technician) =
        join_as(&stack, &admin, &slug, "technician", &[Role::Technician]).await;
    let customer = stack
        .customers(Some(&admin))
        .create_customer(CreateCustomerRequest {
            customer: Some(Customer {
                display_name: "张三".into(),
                ..Customer::default()
            }),
            ..CreateCustomerRequest::default()
        })
        .await
        .expect("customer")
        .into_inner()
        .name;
    let as_agent = stack.dispatch(Some(&agent));
    let mut as_manager = stack.dispatch(Some(&manager));
    let mut as_technician = stack.dispatch(Some(&technician));

    // Registration: required fields, unknown references.
    let mut incomplete = request(&customer, ServiceType::APaid, false);
    incomplete.phone.clear();
    let status = as_agent
        .clone()
        .create_service_request(CreateServiceRequestRequest {
            service_request: Some(incomplete),
            ..CreateServiceRequestRequest::default()
        })
        .await
        .expect_err("phone missing");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_of(&status), "service_request.phone");
    // Registered on a ticket (once the tickets service knows the customer
    // and the taxonomy): the ticket names the request.
    let ticket = new_ticket(
        &stack.tickets(Some(&agent)),
        "ticketKinds/inquiry",
        &customer,
        "空调不制冷, 需上门",
    )
    .await
    .name;
    let mut on_ticket = request(&customer, ServiceType::APaid, false);
    on_ticket.ticket = ticket.clone();
    let paid = create(&as_agent, on_ticket).await;
    assert_eq!(paid.ticket, ticket);
    let linked = stack
        .tickets(Some(&agent))
        .get_ticket(GetTicketRequest {
            name: ticket.clone(),
        })
        .await
        .expect("ticket")
        .into_inner();
    assert_eq!(linked.service_request, paid.name);
    let mut orphan = request(&customer, ServiceType::APaid, false);
    orphan.ticket = format!("tickets/{}", uuid::Uuid::now_v7());
    let status = as_agent
        .clone()
        .create_service_request(CreateServiceRequestRequest {
            service_request: Some(orphan),
            ..CreateServiceRequestRequest::default()
        })
        .await
        .expect_err("unknown ticket");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "UNKNOWN_REFERENCE");
    assert!(paid.number.starts_with("S-"), "{}", paid.number);
    assert_eq!(paid.state, ServiceRequestState::Open as i32);
    assert_eq!(
        paid.out_of_town_approval,
        OutOfTownApproval::NotRequired as i32
    );
    let queued = dispatches_of(&mut as_manager, &paid.name).await;
    assert_eq!(queued.len(), 1, "the first visit is queued");
    let visit = queued[0].name.clone();
    assert_eq!(queued[0].state, DispatchState::Queued as i32);
    assert!(queued[0].queue_position >= 1);
    assert_eq!(
        count_events(&stack, &paid.name, "ServiceRequestCreated").await,
        1
    );

    // Dispatch (派工): managers only, a technician only, a window that ends
    // after it starts.
    let status = as_agent
        .clone()
        .dispatch_technician(dispatch_to(&visit, &technician_user, ""))
        .await
        .expect_err("agents do not dispatch");
    assert_eq!(status.code(), Code::PermissionDenied);
    let mut backwards = dispatch_to(&visit, &technician_user, "");
    backwards.appointment_window = Some(DispatchAppointmentWindow {
        start_time: window(4).end_time,
        end_time: window(4).start_time,
    });
    let status = as_manager
        .dispatch_technician(backwards)
        .await
        .expect_err("window backwards");
    assert_eq!(field_of(&status), "appointment_window.end_time");
    let status = dispatch_when_known(&as_manager, dispatch_to(&visit, &manager_user, ""))
        .await
        .expect_err("a manager is no technician");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "NOT_A_TECHNICIAN");
    assert_eq!(field_of(&status), "technician");
    let dispatched = dispatch_when_known(&as_manager, dispatch_to(&visit, &technician_user, ""))
        .await
        .expect("dispatched");
    assert_eq!(dispatched.state, DispatchState::Dispatched as i32);
    assert_eq!(dispatched.technician, technician_user);
    assert!(dispatched.voucher_number.starts_with("SV-"));
    assert_eq!(dispatched.queue_position, 0);
    let in_progress = as_manager
        .get_service_request(GetServiceRequestRequest {
            name: paid.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(in_progress.state, ServiceRequestState::InProgress as i32);

    // On site: arrival, then completion names what is missing.
    let status = as_technician
        .complete_dispatch(CompleteDispatchRequest {
            name: visit.clone(),
            ..CompleteDispatchRequest::default()
        })
        .await
        .expect_err("not on site yet");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "ILLEGAL_TRANSITION");
    let arrived = as_technician
        .record_arrival(RecordArrivalRequest {
            name: visit.clone(),
            ..RecordArrivalRequest::default()
        })
        .await
        .expect("arrived")
        .into_inner();
    assert_eq!(arrived.state, DispatchState::OnSite as i32);
    let complete = || CompleteDispatchRequest {
        name: visit.clone(),
        ..CompleteDispatchRequest::default()
    };
    let status = as_technician
        .complete_dispatch(complete())
        .await
        .expect_err("no work recorded");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "STAGE_DATA_MISSING");
    assert_eq!(metadata_field(&status), "actual_start_time");
    let start = Utc::now();
    let work = |charged: bool| RecordWorkRequest {
        name: visit.clone(),
        actual_start_time: Some(to_timestamp(start)),
        actual_end_time: Some(to_timestamp(start + chrono::Duration::minutes(50))),
        work_done: "更换启动电容, 加注冷媒".into(),
        fee: money(12_000),
        charged,
        ..RecordWorkRequest::default()
    };
    let mut dollars = work(true);
    dollars.fee = Some(Money {
        currency_code: "USD".into(),
        amount_minor: 100,
    });
    let status = as_technician
        .record_work(dollars)
        .await
        .expect_err("not the tenant's currency");
    assert_eq!(field_of(&status), "fee");
    as_technician.record_work(work(false)).await.expect("work");
    let status = as_technician
        .complete_dispatch(complete())
        .await
        .expect_err("no sign-off");
    assert_eq!(metadata_field(&status), "customer_sign_off");
    as_technician
        .record_customer_sign_off(RecordCustomerSignOffRequest {
            name: visit.clone(),
            sign_off: Some(DispatchCustomerSignOff {
                signed_name: "张三".into(),
                signature_uri: "https://files.example/sign/1.png".into(),
                ..DispatchCustomerSignOff::default()
            }),
            ..RecordCustomerSignOffRequest::default()
        })
        .await
        .expect("signed");
    let status = as_technician
        .complete_dispatch(complete())
        .await
        .expect_err("paid work not charged");
    assert_eq!(reason(&status), "STAGE_DATA_MISSING");
    assert_eq!(metadata_field(&status), "charged");
    as_technician
        .record_work(work(true))
        .await
        .expect("charged");
    let completed = as_technician
        .complete_dispatch(complete())
        .await
        .expect("completed")
        .into_inner();
    assert_eq!(completed.state, DispatchState::Completed as i32);
    assert_eq!(
        count_events(&stack, &paid.name, "DispatchCompleted").await,
        1
    );

    // The manager countersigns (签核); a technician cannot.
    let countersign = CountersignDispatchRequest {
        name: visit.clone(),
        comment: "已核".into(),
        ..CountersignDispatchRequest::default()
    };
    let status = as_technician
        .countersign_dispatch(countersign.clone())
        .await
        .expect_err("technicians do not countersign");
    assert_eq!(status.code(), Code::PermissionDenied);
    let countersigned = as_manager
        .countersign_dispatch(countersign)
        .await
        .expect("countersigned")
        .into_inner();
    assert_eq!(countersigned.state, DispatchState::Countersigned as i32);
    assert_eq!(
        countersigned
            .countersigned_by
            .as_ref()
            .map(|actor| actor.name.as_str()),
        Some(manager_user.as_str())
    );
    let done = as_manager
        .get_service_request(GetServiceRequestRequest {
            name: paid.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(done.state, ServiceRequestState::Completed as i32);

    // A revisit reopens the request; cancelling it (with a reason) leaves
    // the request completed. Updates follow the etag.
    let revisit = as_manager
        .create_dispatch(CreateDispatchRequest {
            parent: paid.name.clone(),
            dispatch: Some(Dispatch {
                instructions: "复查冷媒压力".into(),
                ..Dispatch::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("revisit queued")
        .into_inner();
    assert_eq!(revisit.state, DispatchState::Queued as i32);
    assert_eq!(revisit.ticket, ticket);
    let reopened = as_manager
        .get_service_request(GetServiceRequestRequest {
            name: paid.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(reopened.state, ServiceRequestState::Open as i32);
    let status = as_manager
        .cancel_dispatch(CancelDispatchRequest {
            name: revisit.name.clone(),
            ..CancelDispatchRequest::default()
        })
        .await
        .expect_err("no reason");
    assert_eq!(field_of(&status), "reason");
    as_manager
        .cancel_dispatch(CancelDispatchRequest {
            name: revisit.name.clone(),
            reason: "客户已自行处理".into(),
            ..CancelDispatchRequest::default()
        })
        .await
        .expect("cancelled");
    let closed = as_manager
        .get_service_request(GetServiceRequestRequest {
            name: paid.name.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(closed.state, ServiceRequestState::Completed as i32);
    let status = as_agent
        .clone()
        .update_service_request(UpdateServiceRequestRequest {
            service_request: Some(ServiceRequest {
                phone: "+8613900000002".into(),
                ..closed.clone()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["phone".into()],
            }),
        })
        .await
        .expect_err("a completed request no longer changes");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = as_agent
        .clone()
        .delete_service_request(DeleteServiceRequestRequest {
            name: paid.name.clone(),
            ..DeleteServiceRequestRequest::default()
        })
        .await
        .expect_err("visits done: not deleted");
    assert_eq!(status.code(), Code::FailedPrecondition);

    // Out-of-town work waits for approval; vouchers are unique.
    let far = create(&as_agent, request(&customer, ServiceType::CFree, true)).await;
    assert_eq!(far.out_of_town_approval, OutOfTownApproval::Pending as i32);
    let far_visit = dispatches_of(&mut as_manager, &far.name).await[0]
        .name
        .clone();
    let status = as_manager
        .dispatch_technician(dispatch_to(&far_visit, &technician_user, ""))
        .await
        .expect_err("not approved");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "OUT_OF_TOWN_NOT_APPROVED");
    let approved = as_manager
        .approve_out_of_town_dispatch(ApproveOutOfTownDispatchRequest {
            name: far.name.clone(),
            comment: "同意".into(),
        })
        .await
        .expect("approved")
        .into_inner();
    assert_eq!(
        approved.out_of_town_approval,
        OutOfTownApproval::Approved as i32
    );
    let status = as_manager
        .dispatch_technician(dispatch_to(
            &far_visit,
            &technician_user,
            &dispatched.voucher_number,
        ))
        .await
        .expect_err("voucher taken");
    assert_eq!(status.code(), Code::AlreadyExists);
    assert_eq!(reason(&status), "VOUCHER_NUMBER_IN_USE");
    as_manager
        .dispatch_technician(dispatch_to(&far_visit, &technician_user, "纸质-0001"))
        .await
        .expect("dispatched with a paper voucher");

    // Yesterday's undispatched work heads today's queue.
    let yesterday = create(&as_agent, request(&customer, ServiceType::BContract, false)).await;
    // Past midnight in Shanghai: the scan (the service's own, or this one
    // with the moved clock; each visit is carried once a day) moves it to
    // the head of the new day's queue.
    clock.advance(chrono::Duration::hours(7));
    let db = stack.service_connection("tickets").await;
    kefu_tickets::consumers::dispatch::carry_over(&db, clock.now())
        .await
        .expect("carry-over scan");
    let today = create(&as_agent, request(&customer, ServiceType::BContract, false)).await;
    let queue = as_manager
        .list_dispatch_queue(ListDispatchQueueRequest::default())
        .await
        .expect("queue")
        .into_inner()
        .dispatches;
    let position = |parent: &str| {
        queue
            .iter()
            .find(|d| d.name.starts_with(parent))
            .unwrap_or_else(|| panic!("{parent} queued"))
            .clone()
    };
    let old = position(&yesterday.name);
    let new = position(&today.name);
    assert!(old.carried_over);
    assert_eq!(old.carried_over_days, 1);
    assert!(!new.carried_over);
    assert_eq!(old.queue_position, 1, "carried-over work first");
    assert!(new.queue_position > old.queue_position);
    assert!(
        queue.iter().take_while(|d| d.carried_over).count()
            == queue.iter().filter(|d| d.carried_over).count(),
        "every carried-over visit before today's"
    );
    assert_eq!(
        count_events(&stack, &yesterday.name, "DispatchCarriedOver").await,
        1
    );
    let carried_only = as_manager
        .list_dispatch_queue(ListDispatchQueueRequest {
            filter: "carried_over = true".into(),
            ..ListDispatchQueueRequest::default()
        })
        .await
        .expect("filtered queue")
        .into_inner();
    assert!(carried_only.dispatches.iter().all(|d| d.carried_over));

    // A queued request is changed with its etag, and deleted while all its
    // visits wait in the queue.
    let mut update = UpdateServiceRequestRequest {
        service_request: Some(ServiceRequest {
            phone: "+8613900000003".into(),
            ..today.clone()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["phone".into()],
        }),
    };
    let updated = as_agent
        .clone()
        .update_service_request(update.clone())
        .await
        .expect("updated")
        .into_inner();
    assert_eq!(updated.phone, "+8613900000003");
    assert_ne!(updated.etag, today.etag);
    let status = as_agent
        .clone()
        .update_service_request(update.clone())
        .await
        .expect_err("stale etag");
    assert_eq!(status.code(), Code::Aborted);
    update.update_mask = Some(FieldMask {
        paths: vec!["number".into()],
    });
    update.service_request = Some(updated.clone());
    let status = as_agent
        .clone()
        .update_service_request(update)
        .await
        .expect_err("output only");
    assert_eq!(status.code(), Code::InvalidArgument);
    as_agent
        .clone()
        .delete_service_request(DeleteServiceRequestRequest {
            name: today.name.clone(),
            etag: updated.etag.clone(),
        })
        .await
        .expect("deleted while queued");
    let status = as_agent
        .clone()
        .get_service_request(GetServiceRequestRequest {
            name: today.name.clone(),
        })
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);

    // Another tenant sees none of it: NOT_FOUND like a missing one.
    let b = stack.onboard("other", Industry::Ecommerce).await;
    let mut as_b = stack.dispatch(Some(&b.admin_session));
    let status = as_b
        .get_service_request(GetServiceRequestRequest {
            name: paid.name.clone(),
        })
        .await
        .expect_err("A's request");
    assert_eq!(status.code(), Code::NotFound);
    let missing = as_b
        .get_service_request(GetServiceRequestRequest {
            name: format!("serviceRequests/{}", uuid::Uuid::now_v7()),
        })
        .await
        .expect_err("missing request");
    assert_eq!(missing.code(), Code::NotFound);
    let status = as_b
        .get_dispatch(GetDispatchRequest {
            name: visit.clone(),
        })
        .await
        .expect_err("A's dispatch");
    assert_eq!(status.code(), Code::NotFound);
    let status = as_b
        .list_dispatches(ListDispatchesRequest {
            parent: paid.name.clone(),
            ..ListDispatchesRequest::default()
        })
        .await
        .expect_err("A's dispatches");
    assert_eq!(status.code(), Code::NotFound);
    let status = as_b
        .dispatch_technician(dispatch_to(&old.name, &technician_user, ""))
        .await
        .expect_err("A's queued visit");
    assert_eq!(status.code(), Code::NotFound);
    let listed = as_b
        .list_service_requests(ListServiceRequestsRequest::default())
        .await
        .expect("B's list")
        .into_inner();
    assert_eq!(listed.total_size, 0);
    assert!(
        as_b.list_dispatch_queue(ListDispatchQueueRequest::default())
            .await
            .expect("B's queue")
            .into_inner()
            .dispatches
            .is_empty()
    );
}

#[tokio::test]
async fn sqlite_dispatch_lifecycle() {
    dispatch_lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_dispatch_lifecycle() {
    dispatch_lifecycle(Backend::Postgres).await;
}
