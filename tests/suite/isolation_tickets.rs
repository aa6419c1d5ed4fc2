//! The attack suite's part for the tickets service (tickets, taxonomy,
//! comments and audit, incidents, handovers, complaints, dispatch): what B
//! tries against each method, and A's resources it aims at.

use std::{collections::BTreeMap, time::Duration};

use kefu_proto::v1::{
    Channel, Complaint, ComplaintClassification, ComplaintInvestigation,
    ComplaintNonQualitySubcategory, ComplaintRegistration, ComplaintRemedy, ComplaintRemedyType,
    CreateDispatchRequest, CreateHandoverRequest, CreateIncidentRequest, CreateProposalRequest,
    CreateServiceRequestRequest, CreateTicketCategoryRequest, CreateTicketCommentRequest,
    CreateTicketFieldDefinitionRequest, CreateTicketKindRequest, CreateTicketRequest, Dispatch,
    Handover, Incident, JudgeComplaintRequest, ListDepartmentsRequest,
    ListTicketAuditEntriesRequest, ListTicketKindsRequest, LocalizedText, Money, PostalAddress,
    Proposal, RecordInvestigationRequest, RegisterComplaintRequest, ServiceRequest, ServiceType,
    Ticket, TicketBaseKind, TicketCategory, TicketComment, TicketCommentVisibility,
    TicketFieldDefinition, TicketFieldType, TicketKind,
};

use tonic::Code;

use crate::{
    isolation::{BAD_REFERENCE, NOT_FOUND, Treatment},
    stack::Stack,
};

/// Every method of TicketService, ComplaintService and DispatchService, and
/// what the suite does with it.
pub const TREATMENTS: &[(&str, Treatment)] = &[
    // Tickets
    (
        "TicketService/CreateTicket",
        Treatment::Probe(&[
            (
                r#"ticket { kind: "{a.ticket_kind}" channel: CHANNEL_PHONE customer: "{b.customer}" subject: "x" } request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
            (
                r#"ticket { kind: "{b-seeded.complaint_kind}" channel: CHANNEL_PHONE customer: "{a.customer}" subject: "x" } request_id: "{fresh_uuid}""#,
                BAD_REFERENCE,
            ),
        ]),
    ),
    (
        "TicketService/GetTicket",
        Treatment::Probe(&[(r#"name: "{a.ticket}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ListTickets",
        Treatment::OwnTenant("lists the caller's tickets; checked for A's ids"),
    ),
    (
        "TicketService/UpdateTicket",
        Treatment::Probe(&[(
            r#"ticket { name: "{a.ticket}" subject: "hijacked" } update_mask { paths: "subject" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/OpenTicket",
        Treatment::Probe(&[(r#"name: "{a.ticket}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/PendTicket",
        Treatment::Probe(&[(r#"name: "{a.ticket}" reason: "x""#, NOT_FOUND)]),
    ),
    (
        "TicketService/HoldTicket",
        Treatment::Probe(&[(r#"name: "{a.ticket}" reason: "x""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ResumeTicket",
        Treatment::Probe(&[(r#"name: "{a.ticket}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ResolveTicket",
        Treatment::Probe(&[(
            r#"name: "{a.ticket}" code: TICKET_RESOLUTION_CODE_SOLVED summary: "x""#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/CloseTicket",
        Treatment::Probe(&[(r#"name: "{a.ticket}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ReopenTicket",
        Treatment::Probe(&[(r#"name: "{a.ticket}" reason: "x""#, NOT_FOUND)]),
    ),
    (
        "TicketService/AssignTicket",
        Treatment::Probe(&[
            (r#"name: "{a.ticket}" assignee: "{b.admin}""#, NOT_FOUND),
            (r#"name: "{b.ticket}" assignee: "{a.agent}""#, BAD_REFERENCE),
            (r#"name: "{b.ticket}" team: "{a.team}""#, BAD_REFERENCE),
        ]),
    ),
    (
        "TicketService/EscalateTicket",
        Treatment::Probe(&[(r#"name: "{a.ticket}" reason: "x" handling: "x""#, NOT_FOUND)]),
    ),
    (
        "TicketService/SetTicketPriority",
        Treatment::Probe(&[(
            r#"name: "{a.ticket}" priority: PRIORITY_URGENT reason: "x""#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/TriageTicket",
        Treatment::Probe(&[(
            r#"name: "{a.ticket}" triage_class: TRIAGE_CLASS_URGENT reason: "x""#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/FlagTicket",
        Treatment::Probe(&[(
            r#"name: "{a.ticket}" flag { color: TICKET_FLAG_COLOR_RED content: "x" handling: "x" }"#,
            NOT_FOUND,
        )]),
    ),
    // Comments and the audit trail
    (
        "TicketService/CreateTicketComment",
        Treatment::Probe(&[(
            r#"parent: "{a.ticket}" comment { visibility: TICKET_COMMENT_VISIBILITY_PUBLIC body: "x" } request_id: "{fresh_uuid}""#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/GetTicketComment",
        Treatment::Probe(&[(r#"name: "{a.ticket_comment}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ListTicketComments",
        Treatment::Probe(&[(r#"parent: "{a.ticket}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/GetTicketAuditEntry",
        Treatment::Probe(&[(r#"name: "{a.ticket_audit_entry}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ListTicketAuditEntries",
        Treatment::Probe(&[(r#"parent: "{a.ticket}""#, NOT_FOUND)]),
    ),
    // Taxonomy
    (
        "TicketService/CreateTicketKind",
        Treatment::OwnTenant("creates in the caller's tenant; no references"),
    ),
    (
        "TicketService/GetTicketKind",
        Treatment::Probe(&[(r#"name: "{a.ticket_kind}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ListTicketKinds",
        Treatment::OwnTenant("lists the caller's kinds; checked for A's ids"),
    ),
    (
        "TicketService/UpdateTicketKind",
        Treatment::Probe(&[(
            r#"ticket_kind { name: "{a.ticket_kind}" active: false } update_mask { paths: "active" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/DeleteTicketKind",
        Treatment::Probe(&[(r#"name: "{a.ticket_kind}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/CreateTicketCategory",
        Treatment::Probe(&[(
            r#"ticket_category { key: "x-{fresh}" labels { values { key: "zh-CN" value: "x" } values { key: "en" value: "x" } } parent: "{a.ticket_category}" } request_id: "{fresh_uuid}""#,
            BAD_REFERENCE,
        )]),
    ),
    (
        "TicketService/GetTicketCategory",
        Treatment::Probe(&[(r#"name: "{a.ticket_category}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ListTicketCategories",
        Treatment::OwnTenant("lists the caller's categories; checked for A's ids"),
    ),
    (
        "TicketService/UpdateTicketCategory",
        Treatment::Probe(&[(
            r#"ticket_category { name: "{a.ticket_category}" active: false } update_mask { paths: "active" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/DeleteTicketCategory",
        Treatment::Probe(&[(r#"name: "{a.ticket_category}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/CreateTicketFieldDefinition",
        Treatment::OwnTenant("creates in the caller's tenant; no references"),
    ),
    (
        "TicketService/GetTicketFieldDefinition",
        Treatment::Probe(&[(r#"name: "{a.ticket_field}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ListTicketFieldDefinitions",
        Treatment::OwnTenant("lists the caller's fields; checked for A's ids"),
    ),
    (
        "TicketService/UpdateTicketFieldDefinition",
        Treatment::Probe(&[(
            r#"ticket_field_definition { name: "{a.ticket_field}" active: false } update_mask { paths: "active" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/DeleteTicketFieldDefinition",
        Treatment::Probe(&[(r#"name: "{a.ticket_field}""#, NOT_FOUND)]),
    ),
    // Incidents
    (
        "TicketService/CreateIncident",
        Treatment::Probe(&[(
            r#"incident { title: "x" cause: "x" } tickets: "{a.ticket}" request_id: "{fresh_uuid}""#,
            BAD_REFERENCE,
        )]),
    ),
    (
        "TicketService/GetIncident",
        Treatment::Probe(&[(r#"name: "{a.incident}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ListIncidents",
        Treatment::OwnTenant("lists the caller's incidents; checked for A's ids"),
    ),
    (
        "TicketService/UpdateIncident",
        Treatment::Probe(&[(
            r#"incident { name: "{a.incident}" title: "hijacked" } update_mask { paths: "title" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/LinkTicketsToIncident",
        Treatment::Probe(&[
            (
                r#"incident: "{a.incident}" tickets: "{b.ticket}""#,
                NOT_FOUND,
            ),
            (
                r#"incident: "{b.incident}" tickets: "{a.ticket}""#,
                BAD_REFERENCE,
            ),
        ]),
    ),
    (
        "TicketService/UnlinkTicketFromIncident",
        Treatment::Probe(&[(
            r#"incident: "{a.incident}" ticket: "{a.ticket}" reason: "x""#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/PostIncidentResponse",
        Treatment::Probe(&[(
            r#"name: "{a.incident}" body: "x" request_id: "{fresh_uuid}""#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/ResolveIncident",
        Treatment::Probe(&[(r#"name: "{a.incident}" summary: "x""#, NOT_FOUND)]),
    ),
    // Handovers
    (
        "TicketService/CreateHandover",
        Treatment::Probe(&[(
            r#"handover { to_user: "{a.agent}" note: "x" } request_id: "{fresh_uuid}""#,
            BAD_REFERENCE,
        )]),
    ),
    (
        "TicketService/GetHandover",
        Treatment::Probe(&[(r#"name: "{a.handover}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/ListHandovers",
        Treatment::OwnTenant("lists the caller's handovers; checked for A's ids"),
    ),
    (
        "TicketService/UpdateHandover",
        Treatment::Probe(&[(
            r#"handover { name: "{a.handover}" note: "hijacked" } update_mask { paths: "note" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "TicketService/SubmitHandover",
        Treatment::Probe(&[(r#"name: "{a.handover}""#, NOT_FOUND)]),
    ),
    (
        "TicketService/AcknowledgeHandover",
        Treatment::Probe(&[(r#"name: "{a.handover}" note: "x""#, NOT_FOUND)]),
    ),
    // Complaints
    (
        "ComplaintService/RegisterComplaint",
        Treatment::Probe(&[(
            r#"complaint { ticket: "{a.ticket}" } request_id: "{fresh_uuid}""#,
            BAD_REFERENCE,
        )]),
    ),
    (
        "ComplaintService/GetComplaint",
        Treatment::Probe(&[(r#"name: "{a.complaint}""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/ListComplaints",
        Treatment::OwnTenant("lists the caller's complaints; checked for A's ids"),
    ),
    (
        "ComplaintService/UpdateComplaint",
        Treatment::Probe(&[(
            r#"complaint { name: "{a.complaint}" subject: "hijacked" } update_mask { paths: "subject" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "ComplaintService/JudgeComplaint",
        Treatment::Probe(&[(
            r#"name: "{a.complaint}" valid: false rejection_reason: "x""#,
            NOT_FOUND,
        )]),
    ),
    (
        "ComplaintService/StartInvestigation",
        Treatment::Probe(&[(r#"name: "{a.complaint}""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/RecordInvestigation",
        Treatment::Probe(&[(
            r#"name: "{a.complaint}" investigation { root_cause: "x" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "ComplaintService/CreateProposal",
        Treatment::Probe(&[(
            r#"parent: "{a.complaint}" proposal { remedies { type: COMPLAINT_REMEDY_TYPE_COMPENSATION amount { currency_code: "CNY" amount_minor: 100 } description: "x" } } request_id: "{fresh_uuid}""#,
            NOT_FOUND,
        )]),
    ),
    (
        "ComplaintService/GetProposal",
        Treatment::Probe(&[(r#"name: "{a.proposal}""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/ListProposals",
        Treatment::Probe(&[(r#"parent: "{a.complaint}""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/UpdateProposal",
        Treatment::Probe(&[(
            r#"proposal { name: "{a.proposal}" description: "hijacked" } update_mask { paths: "description" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "ComplaintService/SubmitProposal",
        Treatment::Probe(&[(r#"name: "{a.proposal}""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/ApproveProposal",
        Treatment::Probe(&[(r#"name: "{a.proposal}" comment: "x""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/RejectProposal",
        Treatment::Probe(&[(r#"name: "{a.proposal}" comment: "x""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/RecordExecution",
        Treatment::Probe(&[(r#"name: "{a.complaint}""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/StartNewRound",
        Treatment::Probe(&[(r#"name: "{a.complaint}" reason: "x""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/SummarizeComplaint",
        Treatment::Probe(&[(r#"name: "{a.complaint}""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/CloseComplaint",
        Treatment::Probe(&[(r#"name: "{a.complaint}""#, NOT_FOUND)]),
    ),
    (
        "ComplaintService/CompletePreventiveAction",
        Treatment::Probe(&[(
            r#"name: "{a.complaint}" preventive_action_result: "x""#,
            NOT_FOUND,
        )]),
    ),
    (
        "ComplaintService/EscalateComplaint",
        Treatment::Probe(&[(
            r#"name: "{a.complaint}" level: APPROVAL_LEVEL_GENERAL_MANAGER reason: "x""#,
            NOT_FOUND,
        )]),
    ),
    (
        "ComplaintService/ListOverdueComplaints",
        Treatment::OwnTenant("lists the caller's overdue complaints; checked for A's ids"),
    ),
    // Service requests and dispatch
    (
        "DispatchService/CreateServiceRequest",
        Treatment::Probe(&[(
            r#"service_request { customer: "{b.customer}" ticket: "{a.ticket}" address { region_code: "CN" locality: "x" address_lines: "x" } phone: "+8613800000001" product_model: "x" fault_description: "x" service_type: SERVICE_TYPE_C_FREE } request_id: "{fresh_uuid}""#,
            BAD_REFERENCE,
        )]),
    ),
    (
        "DispatchService/GetServiceRequest",
        Treatment::Probe(&[(r#"name: "{a.service_request}""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/ListServiceRequests",
        Treatment::OwnTenant("lists the caller's service requests; checked for A's ids"),
    ),
    (
        "DispatchService/UpdateServiceRequest",
        Treatment::Probe(&[(
            r#"service_request { name: "{a.service_request}" product_model: "hijacked" } update_mask { paths: "product_model" }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "DispatchService/DeleteServiceRequest",
        Treatment::Probe(&[(r#"name: "{a.service_request}""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/ApproveOutOfTownDispatch",
        Treatment::Probe(&[(r#"name: "{a.service_request}" comment: "x""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/RejectOutOfTownDispatch",
        Treatment::Probe(&[(r#"name: "{a.service_request}" comment: "x""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/ListDispatchQueue",
        Treatment::OwnTenant("lists the caller's queue; checked for A's ids"),
    ),
    (
        "DispatchService/CreateDispatch",
        Treatment::Probe(&[(
            r#"parent: "{a.service_request}" request_id: "{fresh_uuid}""#,
            NOT_FOUND,
        )]),
    ),
    (
        "DispatchService/DispatchTechnician",
        Treatment::Probe(&[(
            r#"name: "{a.dispatch}" technician: "{b.admin}" appointment_window { start_time { seconds: 4102444800 } end_time { seconds: 4102452000 } }"#,
            NOT_FOUND,
        )]),
    ),
    (
        "DispatchService/RecordArrival",
        Treatment::Probe(&[(r#"name: "{a.dispatch}""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/RecordWork",
        Treatment::Probe(&[(r#"name: "{a.dispatch}" work_done: "x""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/RecordCustomerSignOff",
        Treatment::Probe(&[(r#"name: "{a.dispatch}""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/CompleteDispatch",
        Treatment::Probe(&[(r#"name: "{a.dispatch}""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/CountersignDispatch",
        Treatment::Probe(&[(r#"name: "{a.dispatch}" comment: "x""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/CancelDispatch",
        Treatment::Probe(&[(r#"name: "{a.dispatch}" reason: "x""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/GetDispatch",
        Treatment::Probe(&[(r#"name: "{a.dispatch}""#, NOT_FOUND)]),
    ),
    (
        "DispatchService/ListDispatches",
        Treatment::Probe(&[(r#"parent: "{a.service_request}""#, NOT_FOUND)]),
    ),
];

/// The request each List is called with when B's answers are checked.
pub const LIST_REQUESTS: &[(&str, &str)] = &[
    (
        "TicketService/ListTicketComments",
        r#"parent: "{b.ticket}""#,
    ),
    (
        "TicketService/ListTicketAuditEntries",
        r#"parent: "{b.ticket}""#,
    ),
    (
        "TicketService/ListTickets",
        r#"filter: "customer = \"{a.customer}\"""#,
    ),
    (
        "ComplaintService/ListProposals",
        r#"parent: "{b.complaint}""#,
    ),
    (
        "DispatchService/ListDispatches",
        r#"parent: "{b.service_request}""#,
    ),
];

/// A's reads whose answers must not change during the attack: (method,
/// request, read as A's admin session rather than A's key). A ticket is
/// read through its audit trail, which every change adds to: GetTicket
/// itself shows the running SLA clocks' elapsed time, which moves.
pub const SNAPSHOT_READS: &[(&str, &str, bool)] = &[
    (
        "TicketService/ListTicketComments",
        r#"parent: "{a.ticket}""#,
        false,
    ),
    (
        "TicketService/ListTicketAuditEntries",
        r#"parent: "{a.ticket}""#,
        false,
    ),
    ("TicketService/ListTicketKinds", "page_size: 500", false),
    (
        "TicketService/ListTicketCategories",
        "page_size: 500",
        false,
    ),
    (
        "TicketService/ListTicketFieldDefinitions",
        "page_size: 500",
        false,
    ),
    (
        "TicketService/GetIncident",
        r#"name: "{a.incident}""#,
        false,
    ),
    (
        "TicketService/GetHandover",
        r#"name: "{a.handover}""#,
        false,
    ),
    (
        "ComplaintService/GetComplaint",
        r#"name: "{a.complaint}""#,
        false,
    ),
    (
        "ComplaintService/ListProposals",
        r#"parent: "{a.complaint}""#,
        false,
    ),
    (
        "DispatchService/GetServiceRequest",
        r#"name: "{a.service_request}""#,
        false,
    ),
    (
        "DispatchService/ListDispatches",
        r#"parent: "{a.service_request}""#,
        false,
    ),
];

/// A tenant's first active ticket kind of `base`, as seeded by its template.
async fn kind_of(stack: &Stack, session: &str, base: TicketBaseKind) -> TicketKind {
    stack
        .tickets(Some(session))
        .list_ticket_kinds(ListTicketKindsRequest {
            page_size: 500,
            ..ListTicketKindsRequest::default()
        })
        .await
        .expect("the tenant lists its ticket kinds")
        .into_inner()
        .ticket_kinds
        .into_iter()
        .find(|kind| kind.active && kind.base_kind == base as i32)
        .unwrap_or_else(|| panic!("no seeded {base:?} kind"))
}

fn labels(text: &str) -> Option<LocalizedText> {
    Some(LocalizedText {
        values: [
            ("zh-CN".to_owned(), text.to_owned()),
            ("en".to_owned(), text.to_owned()),
        ]
        .into(),
    })
}

/// A ticket of `kind` for `customer`, created once the tickets service
/// knows the customer (its copy is fed by events).
pub async fn ticket_for(stack: &Stack, session: &str, kind: &str, customer: &str) -> Ticket {
    let request = CreateTicketRequest {
        ticket: Some(Ticket {
            kind: kind.to_owned(),
            channel: Channel::Phone as i32,
            customer: customer.to_owned(),
            subject: "3号楼1单元 投诉物业维修不及时".into(),
            description: "业主来电".into(),
            ..Ticket::default()
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let mut waited = Duration::ZERO;
    loop {
        match stack
            .tickets(Some(session))
            .create_ticket(request.clone())
            .await
        {
            Ok(ticket) => return ticket.into_inner(),
            Err(status)
                if status.message().contains("customers/") && waited < Duration::from_secs(20) =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
                waited += Duration::from_millis(100);
            }
            Err(status) => panic!("creating a ticket for {customer}: {status:?}"),
        }
    }
}

/// Creates a tenant's tickets-service resources and records their names
/// under `{prefix}.…` in `values`. Seeded resources have the same name in
/// every tenant (`ticketKinds/complaint`): they go under `{prefix}-seeded.…`,
/// which are neither A's ids nor swapped for absent ones.
pub async fn set_up(
    stack: &Stack,
    session: &str,
    customer: &str,
    prefix: &str,
    values: &mut BTreeMap<String, String>,
) {
    let sfx = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
    let mut tickets = stack.tickets(Some(session));
    let seeded = kind_of(stack, session, TicketBaseKind::Complaint).await;
    let field = tickets
        .create_ticket_field_definition(CreateTicketFieldDefinitionRequest {
            ticket_field_definition: Some(TicketFieldDefinition {
                key: format!("{prefix}_order_{sfx}"),
                r#type: TicketFieldType::Text as i32,
                labels: labels("订单号"),
                ..TicketFieldDefinition::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a custom field")
        .into_inner();
    let kind = tickets
        .create_ticket_kind(CreateTicketKindRequest {
            ticket_kind: Some(TicketKind {
                key: format!("{prefix}-kind-{sfx}"),
                labels: labels("专属工单"),
                base_kind: TicketBaseKind::Inquiry as i32,
                active: true,
                ..TicketKind::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a ticket kind")
        .into_inner();
    let category = tickets
        .create_ticket_category(CreateTicketCategoryRequest {
            ticket_category: Some(TicketCategory {
                key: format!("{prefix}-cat-{sfx}"),
                labels: labels("电梯"),
                kinds: vec![kind.name.clone()],
                ..TicketCategory::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a ticket category")
        .into_inner();
    let ticket = ticket_for(stack, session, &seeded.name, customer).await;
    let comment = tickets
        .create_ticket_comment(CreateTicketCommentRequest {
            parent: ticket.name.clone(),
            comment: Some(TicketComment {
                visibility: TicketCommentVisibility::Public as i32,
                body: "已安排师傅明天上午上门".into(),
                ..TicketComment::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("a reply")
        .into_inner();
    let audit_entry = tickets
        .list_ticket_audit_entries(ListTicketAuditEntriesRequest {
            parent: ticket.name.clone(),
            ..ListTicketAuditEntriesRequest::default()
        })
        .await
        .expect("the audit trail")
        .into_inner()
        .audit_entries
        .into_iter()
        .next()
        .expect("an audit entry")
        .name;
    let incident = tickets
        .create_incident(CreateIncidentRequest {
            incident: Some(Incident {
                title: "3号楼停水".into(),
                cause: "市政管网抢修".into(),
                ..Incident::default()
            }),
            tickets: vec![ticket.name.clone()],
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("an incident")
        .into_inner();
    let handover = tickets
        .create_handover(CreateHandoverRequest {
            handover: Some(Handover {
                note: "夜班交接".into(),
                ..Handover::default()
            }),
            include_open_tickets: true,
            request_id: String::new(),
        })
        .await
        .expect("a handover")
        .into_inner();
    let mut complaints = stack.complaints(Some(session));
    let complaint = complaints
        .register_complaint(RegisterComplaintRequest {
            complaint: Some(Complaint {
                ticket: ticket.name.clone(),
                registration: Some(ComplaintRegistration {
                    customer: customer.to_owned(),
                    channel: Channel::Phone as i32,
                    content: "维修拖了一周".into(),
                    customer_demand: "尽快维修".into(),
                    ..ComplaintRegistration::default()
                }),
                ..Complaint::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("a complaint")
        .into_inner();
    // To propose, the complaint is judged (once the tickets service knows
    // the department) and its investigation reported.
    let department = stack
        .identity(Some(session))
        .list_departments(ListDepartmentsRequest::default())
        .await
        .expect("departments")
        .into_inner()
        .departments
        .into_iter()
        .next()
        .expect("a seeded department")
        .name;
    let mut waited = Duration::ZERO;
    loop {
        let judged = complaints
            .judge_complaint(JudgeComplaintRequest {
                name: complaint.name.clone(),
                valid: true,
                responsible_department: department.clone(),
                ..JudgeComplaintRequest::default()
            })
            .await;
        match judged {
            Ok(_) => break,
            Err(status)
                if status.code() == Code::InvalidArgument && waited < Duration::from_secs(20) =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
                waited += Duration::from_millis(100);
            }
            Err(status) => panic!("judging the complaint: {status:?}"),
        }
    }
    complaints
        .record_investigation(RecordInvestigationRequest {
            name: complaint.name.clone(),
            investigation: Some(ComplaintInvestigation {
                root_cause: "维修排班不足".into(),
                classification: ComplaintClassification::NonQuality as i32,
                non_quality_subcategory: ComplaintNonQualitySubcategory::ServiceAttitude as i32,
                responsible_person: "维修主管 王工".into(),
                report: "报修单积压三天未派工".into(),
                ..ComplaintInvestigation::default()
            }),
            submit_report: true,
            ..RecordInvestigationRequest::default()
        })
        .await
        .expect("the investigation reported");
    let proposal = complaints
        .create_proposal(CreateProposalRequest {
            parent: complaint.name.clone(),
            proposal: Some(Proposal {
                remedies: vec![ComplaintRemedy {
                    r#type: ComplaintRemedyType::Compensation as i32,
                    amount: Some(Money {
                        currency_code: "CNY".into(),
                        amount_minor: 50_000,
                    }),
                    description: "减免一个月物业费".into(),
                    quantity: 0,
                }],
                ..Proposal::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("a proposal")
        .into_inner();
    let mut dispatch = stack.dispatch(Some(session));
    let service_request = dispatch
        .create_service_request(CreateServiceRequestRequest {
            service_request: Some(ServiceRequest {
                customer: customer.to_owned(),
                address: Some(PostalAddress {
                    region_code: "CN".into(),
                    locality: "杭州市".into(),
                    address_lines: vec!["文三路 1 号".into()],
                    ..PostalAddress::default()
                }),
                phone: "+8613800000001".into(),
                product_model: "KFR-35GW".into(),
                specification: "1.5 匹".into(),
                fault_description: "空调不制冷".into(),
                service_type: ServiceType::CFree as i32,
                out_of_town: true,
                out_of_town_note: "宁波 外埠服务".into(),
                ..ServiceRequest::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("a service request")
        .into_inner();
    let visit = dispatch
        .create_dispatch(CreateDispatchRequest {
            parent: service_request.name.clone(),
            dispatch: Some(Dispatch {
                instructions: "带上冷媒".into(),
                ..Dispatch::default()
            }),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("a dispatch")
        .into_inner();
    values.insert(format!("{prefix}.service_request"), service_request.name);
    values.insert(format!("{prefix}.dispatch"), visit.name);
    values.insert(format!("{prefix}-seeded.complaint_kind"), seeded.name);
    values.insert(format!("{prefix}.ticket_field"), field.name);
    values.insert(format!("{prefix}.ticket_kind"), kind.name);
    values.insert(format!("{prefix}.ticket_category"), category.name);
    values.insert(format!("{prefix}.ticket"), ticket.name);
    values.insert(format!("{prefix}.ticket_comment"), comment.name);
    values.insert(format!("{prefix}.ticket_audit_entry"), audit_entry);
    values.insert(format!("{prefix}.incident"), incident.name);
    values.insert(format!("{prefix}.handover"), handover.name);
    values.insert(format!("{prefix}.complaint"), complaint.name);
    values.insert(format!("{prefix}.proposal"), proposal.name);
}
