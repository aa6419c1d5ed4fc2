//! The complaint and proposal lists: AIP-160 filters evaluated over the
//! decoded resources after the indexed read of the tenant's rows.

use chrono::{DateTime, Utc};
use kefu_kit::events::from_timestamp;
use kefu_proto::v1::{
    ApprovalLevel, Channel, Complaint, ComplaintClassification, ComplaintNonQualitySubcategory,
    ComplaintRemedyType, ComplaintRootCauseCategory, ComplaintSeverity, ComplaintStage,
    ListComplaintsRequest, ListComplaintsResponse, ListOverdueComplaintsRequest,
    ListOverdueComplaintsResponse, ListProposalsRequest, ListProposalsResponse, Proposal,
    ProposalState,
};
use tonic::{Request, Response, Status};

use crate::{
    api::{Shared, caller, field_values, page_size},
    domain::{
        complaint::{ComplaintError, Result},
        record_filter::{
            self, FieldValue, Filter, FilterError, Kind, OrderKey, compare, page, page_offset,
            parse_order,
        },
    },
    error::TicketsError,
    store::complaints as store,
};

const BOOL: Kind = Kind::Enum("");

/// The fields ListComplaints filters on.
const COMPLAINT_FIELDS: &[(&str, Kind)] = &[
    ("stage", Kind::Enum("COMPLAINT_STAGE_")),
    ("severity", Kind::Enum("COMPLAINT_SEVERITY_")),
    ("overdue", BOOL),
    ("ticket", Kind::Text),
    ("customer", Kind::Text),
    ("owner", Kind::Text),
    ("round", Kind::Int),
    ("registration.channel", Kind::Enum("CHANNEL_")),
    ("judgement.valid", BOOL),
    ("judgement.responsible_department", Kind::Text),
    (
        "investigation.classification",
        Kind::Enum("COMPLAINT_CLASSIFICATION_"),
    ),
    (
        "investigation.non_quality_subcategory",
        Kind::Enum("COMPLAINT_NON_QUALITY_SUBCATEGORY_"),
    ),
    (
        "summary.root_cause_category",
        Kind::Enum("COMPLAINT_ROOT_CAUSE_CATEGORY_"),
    ),
    ("closed_within_deadline", BOOL),
    ("deadline_time", Kind::Time),
    ("create_time", Kind::Time),
    ("close_time", Kind::Time),
    ("registration.complaint_time", Kind::Time),
    ("registration.order_number", Kind::Text),
    ("investigation.investigator", Kind::Text),
    ("judgement.suspected_malicious", BOOL),
];

/// The fields ListComplaints orders by.
const COMPLAINT_ORDER: &[&str] = &[
    "create_time",
    "deadline_time",
    "update_time",
    "close_time",
    "severity",
];

fn invalid(field: &str) -> impl Fn(FilterError) -> ComplaintError + '_ {
    move |error| TicketsError::invalid(field, error.0).into()
}

fn flag(value: bool) -> FieldValue {
    FieldValue::Enum(if value { "TRUE" } else { "FALSE" }.to_owned())
}

fn name_of<E>(
    value: i32,
    name: impl Fn(i32) -> Option<E>,
    as_str: fn(&E) -> &str,
) -> Vec<FieldValue> {
    name(value)
        .map(|value| FieldValue::Enum(as_str(&value).to_owned()))
        .into_iter()
        .collect()
}

/// The values of a complaint's filter field.
fn complaint_values(complaint: &Complaint, field: &str) -> Vec<FieldValue> {
    let registration = complaint.registration.clone().unwrap_or_default();
    let judgement = complaint.judgement.clone().unwrap_or_default();
    let investigation = complaint.investigation.clone().unwrap_or_default();
    let summary = complaint.summary.clone().unwrap_or_default();
    match field {
        "stage" => name_of(
            complaint.stage,
            |v| ComplaintStage::try_from(v).ok(),
            |v| v.as_str_name(),
        ),
        "severity" => name_of(
            complaint.severity.max(ComplaintSeverity::Normal as i32),
            |v| ComplaintSeverity::try_from(v).ok(),
            |v| v.as_str_name(),
        ),
        "overdue" => vec![flag(complaint.overdue)],
        "ticket" => field_values::text(&complaint.ticket),
        "customer" => field_values::text(&complaint.customer),
        "owner" => field_values::text(&complaint.owner),
        "round" => vec![FieldValue::Int(i64::from(complaint.round))],
        "registration.channel" => name_of(
            registration.channel,
            |v| Channel::try_from(v).ok(),
            |v| v.as_str_name(),
        ),
        "judgement.valid" => vec![flag(judgement.valid)],
        "judgement.responsible_department" => field_values::text(&judgement.responsible_department),
        "investigation.classification" => name_of(
            investigation.classification,
            |v| ComplaintClassification::try_from(v).ok(),
            |v| v.as_str_name(),
        ),
        "investigation.non_quality_subcategory" => name_of(
            investigation.non_quality_subcategory,
            |v| ComplaintNonQualitySubcategory::try_from(v).ok(),
            |v| v.as_str_name(),
        ),
        "summary.root_cause_category" => name_of(
            summary.root_cause_category,
            |v| ComplaintRootCauseCategory::try_from(v).ok(),
            |v| v.as_str_name(),
        ),
        "closed_within_deadline" => vec![flag(complaint.closed_within_deadline)],
        "deadline_time" => field_values::time(complaint.deadline_time.as_ref()),
        "create_time" => field_values::time(complaint.create_time.as_ref()),
        "close_time" => field_values::time(complaint.close_time.as_ref()),
        "registration.complaint_time" => field_values::time(registration.complaint_time.as_ref()),
        "registration.order_number" => field_values::text(&registration.order_number),
        "investigation.investigator" => field_values::text(&investigation.investigator),
        "judgement.suspected_malicious" => vec![flag(judgement.suspected_malicious)],
        _ => Vec::new(),
    }
}

fn nanos(value: Option<&prost_types::Timestamp>) -> i64 {
    value
        .and_then(from_timestamp)
        .map(|time: DateTime<Utc>| time.timestamp_nanos_opt().unwrap_or(i64::MAX))
        .unwrap_or(i64::MIN)
}

fn complaint_key(complaint: &Complaint, field: &str) -> i64 {
    match field {
        "deadline_time" => nanos(complaint.deadline_time.as_ref()),
        "update_time" => nanos(complaint.update_time.as_ref()),
        "close_time" => nanos(complaint.close_time.as_ref()),
        "severity" => i64::from(complaint.severity.max(ComplaintSeverity::Normal as i32)),
        _ => nanos(complaint.create_time.as_ref()),
    }
}

fn parse_filter(text: &str, fields: &[(&'static str, Kind)], user: Option<&str>) -> Result<Filter> {
    let mut filter = record_filter::parse(text, fields).map_err(invalid("filter"))?;
    filter.resolve_me(user).map_err(invalid("filter"))?;
    Ok(filter)
}

/// A page of `complaints` matching `filter` in `order`, with the total.
fn complaint_page(
    complaints: Vec<Complaint>,
    filter: &Filter,
    order: &[OrderKey],
    token: &str,
    size: usize,
) -> Result<(Vec<Complaint>, String, i32)> {
    let mut matching: Vec<Complaint> = complaints
        .into_iter()
        .filter(|complaint| filter.matches(|field| complaint_values(complaint, field)))
        .collect();
    matching.sort_by(|left, right| {
        compare(left, right, order, complaint_key).then_with(|| left.name.cmp(&right.name))
    });
    let total = i32::try_from(matching.len()).unwrap_or(i32::MAX);
    let offset = page_offset(token).map_err(invalid("page_token"))?;
    let (page, next) = page(matching, offset, size);
    Ok((page, next, total))
}

fn user_of(context: &kefu_kit::context::CallContext) -> Option<String> {
    (context.principal.kind == kefu_kit::context::PrincipalKind::User)
        .then(|| format!("users/{}", context.principal.id))
}

/// What a complaint list asks for.
struct ComplaintQuery<'a> {
    page_size: i32,
    filter: &'a str,
    page_token: &'a str,
    /// Only the open complaints past their deadline.
    overdue_only: bool,
}

/// A page of the tenant's complaints for the caller, with the total: the
/// page size, the filter and then `order` checked before anything is read.
async fn complaints_for(
    shared: &Shared,
    context: &kefu_kit::context::CallContext,
    tenant: kefu_kit::context::TenantId,
    query: ComplaintQuery<'_>,
    order: impl FnOnce() -> Result<Vec<OrderKey>>,
) -> Result<(Vec<Complaint>, String, i32)> {
    let size = page_size(query.page_size)?;
    let filter = parse_filter(query.filter, COMPLAINT_FIELDS, user_of(context).as_deref())?;
    let order = order()?;
    let txn = shared.begin_read(tenant).await?;
    let complaints = store::all(&txn, tenant, query.overdue_only).await?;
    txn.commit().await.map_err(TicketsError::from)?;
    complaint_page(complaints, &filter, &order, query.page_token, size)
}

/// `ListComplaints`.
pub(in crate::api) async fn list_complaints(
    shared: &Shared,
    request: Request<ListComplaintsRequest>,
) -> Result<Response<ListComplaintsResponse>, Status> {
    let run = async {
        let (context, tenant) = caller(&request)?;
        let request = request.into_inner();
        let query = ComplaintQuery {
            page_size: request.page_size,
            filter: &request.filter,
            page_token: &request.page_token,
            overdue_only: false,
        };
        let (complaints, next_page_token, total_size) =
            complaints_for(shared, &context, tenant, query, || {
                parse_order(
                    &request.order_by,
                    COMPLAINT_ORDER,
                    OrderKey {
                        field: "create_time",
                        descending: true,
                    },
                )
                .map_err(invalid("order_by"))
            })
            .await?;
        Ok::<_, ComplaintError>(ListComplaintsResponse {
            complaints,
            next_page_token,
            total_size,
        })
    };
    Ok(Response::new(run.await?))
}

/// `ListOverdueComplaints`: the open complaints past their deadline, most
/// overdue first.
pub(in crate::api) async fn list_overdue_complaints(
    shared: &Shared,
    request: Request<ListOverdueComplaintsRequest>,
) -> Result<Response<ListOverdueComplaintsResponse>, Status> {
    let run = async {
        let (context, tenant) = caller(&request)?;
        let request = request.into_inner();
        let query = ComplaintQuery {
            page_size: request.page_size,
            filter: &request.filter,
            page_token: &request.page_token,
            overdue_only: true,
        };
        let (complaints, next_page_token, total_size) =
            complaints_for(shared, &context, tenant, query, || {
                Ok(vec![OrderKey {
                    field: "deadline_time",
                    descending: false,
                }])
            })
            .await?;
        Ok::<_, ComplaintError>(ListOverdueComplaintsResponse {
            complaints,
            next_page_token,
            total_size,
        })
    };
    Ok(Response::new(run.await?))
}

/// The fields ListProposals filters on.
const PROPOSAL_FIELDS: &[(&str, Kind)] = &[
    ("state", Kind::Enum("PROPOSAL_STATE_")),
    ("round", Kind::Int),
    ("required_approval_level", Kind::Enum("APPROVAL_LEVEL_")),
    ("remedies.type", Kind::Enum("COMPLAINT_REMEDY_TYPE_")),
];

/// The fields ListProposals orders by.
const PROPOSAL_ORDER: &[&str] = &["create_time", "round", "total_amount.amount_minor"];

fn proposal_values(proposal: &Proposal, field: &str) -> Vec<FieldValue> {
    match field {
        "state" => name_of(
            proposal.state,
            |v| ProposalState::try_from(v).ok(),
            |v| v.as_str_name(),
        ),
        "round" => vec![FieldValue::Int(i64::from(proposal.round))],
        "required_approval_level" => name_of(
            proposal.required_approval_level,
            |v| ApprovalLevel::try_from(v).ok(),
            |v| v.as_str_name(),
        ),
        "remedies.type" => proposal
            .remedies
            .iter()
            .flat_map(|remedy| {
                name_of(
                    remedy.r#type,
                    |v| ComplaintRemedyType::try_from(v).ok(),
                    |v| v.as_str_name(),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn proposal_key(proposal: &Proposal, field: &str) -> i64 {
    match field {
        "round" => i64::from(proposal.round),
        "total_amount.amount_minor" => proposal
            .total_amount
            .as_ref()
            .map_or(0, |amount| amount.amount_minor),
        _ => nanos(proposal.create_time.as_ref()),
    }
}

/// `ListProposals`: one complaint's (`complaints/{c}`) or every
/// complaint's (`complaints/-`) proposals.
pub(in crate::api) async fn list_proposals(
    shared: &Shared,
    request: Request<ListProposalsRequest>,
) -> Result<Response<ListProposalsResponse>, Status> {
    let run = async {
        let (_, tenant) = caller(&request)?;
        let request = request.into_inner();
        let size = page_size(request.page_size)?;
        let filter = parse_filter(&request.filter, PROPOSAL_FIELDS, None)?;
        let order = if request.order_by.trim().is_empty() {
            vec![
                OrderKey {
                    field: "round",
                    descending: false,
                },
                OrderKey {
                    field: "create_time",
                    descending: false,
                },
            ]
        } else {
            parse_order(
                &request.order_by,
                PROPOSAL_ORDER,
                OrderKey {
                    field: "round",
                    descending: false,
                },
            )
            .map_err(invalid("order_by"))?
        };
        let txn = shared.begin_read(tenant).await?;
        let complaint = if request.parent == "complaints/-" {
            None
        } else {
            let complaint = store::load(&txn, tenant, &request.parent, "parent", false).await?;
            store::complaint_id(&complaint.name)
        };
        let proposals = store::proposals(&txn, tenant, complaint).await?;
        txn.commit().await.map_err(TicketsError::from)?;
        let mut matching: Vec<Proposal> = proposals
            .into_iter()
            .filter(|proposal| filter.matches(|field| proposal_values(proposal, field)))
            .collect();
        matching.sort_by(|left, right| {
            compare(left, right, &order, proposal_key).then_with(|| left.name.cmp(&right.name))
        });
        let total_size = i32::try_from(matching.len()).unwrap_or(i32::MAX);
        let offset = page_offset(&request.page_token).map_err(invalid("page_token"))?;
        let (proposals, next_page_token) = page(matching, offset, size);
        Ok::<_, ComplaintError>(ListProposalsResponse {
            proposals,
            next_page_token,
            total_size,
        })
    };
    Ok(Response::new(run.await?))
}
