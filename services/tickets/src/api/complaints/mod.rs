//! The complaint workflow (投诉处理流程): register, judge, investigate,
//! propose, approve by amount, execute, summarize. This module holds the
//! complaint resource's own methods (register, read, list, update,
//! escalate, overdue list) and what the stage and proposal handlers share.

mod events;
mod listing;
mod proposals;
mod stages;

use chrono::{DateTime, Utc};
use kefu_kit::{
    context::{CallContext, PrincipalKind, TenantId},
    idempotency,
};
use kefu_proto::v1::{
    Actor, ApprovalLevel, Complaint, ComplaintEscalationTrigger, ComplaintSeverity, ComplaintStage,
    EscalateComplaintRequest, GetComplaintRequest, RegisterComplaintRequest, Role, Ticket,
    TicketAuditAction, TicketBaseKind, TicketKind, UpdateComplaintRequest,
};
use sea_orm::DatabaseTransaction;
use tonic::{Request, Response, Status};
use uuid::Uuid;

pub(super) use self::{listing::*, proposals::*, stages::*};
use super::{Shared, actor_of, caller, remember_request, system_actor, tickets::insert_ticket};
use crate::{
    domain::{
        complaint::{self as rules, ComplaintError, Result, Settings},
        ticket,
    },
    error::TicketsError,
    store::{complaints as store, directory, taxonomy, tickets},
};

/// The method names of the idempotency keys.
const REGISTER: &str = "RegisterComplaint";

/// Refuses a user who is not a supervisor, manager or admin: judging,
/// investigating, proposing, executing, summarizing, closing and escalating
/// are theirs (the gateway lets agents through for most of these verbs).
/// API keys passed the gateway's scope check; the system acts freely.
fn require_supervisor(context: &CallContext) -> Result<()> {
    if context.principal.kind != PrincipalKind::User {
        return Ok(());
    }
    let allowed = [Role::Supervisor, Role::Manager, Role::Admin];
    let holds = context
        .principal
        .roles
        .iter()
        .any(|held| allowed.iter().any(|role| role.as_str_name() == held));
    if holds {
        Ok(())
    } else {
        Err(TicketsError::PermissionDenied(
            "this step of the complaint workflow needs a supervisor, manager or admin".into(),
        )
        .into())
    }
}

/// The tenant's complaint settings from the directory copy.
async fn settings(txn: &DatabaseTransaction, tenant: TenantId) -> Result<Settings> {
    Ok(Settings::of(directory::tenant(txn, tenant).await?.as_ref()))
}

/// INVALID_ARGUMENT `UNKNOWN_REFERENCE` naming `field`.
fn unknown_reference(field: &str, name: &str) -> ComplaintError {
    TicketsError::invalid_because(field, format!("{name} does not exist"), "UNKNOWN_REFERENCE")
        .into()
}

/// Checks that `name` is a user of the tenant (the directory copy).
async fn known_user(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
    field: &str,
) -> Result<()> {
    match directory::user(txn, tenant, name).await? {
        Some(_) => Ok(()),
        None => Err(unknown_reference(field, name)),
    }
}

/// Escalates `complaint` (SEVERE, OVERDUE or by hand) to `level`, notifying
/// its holders, and publishes ComplaintEscalated.
#[allow(clippy::too_many_arguments)]
async fn escalate_to(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    complaint: &mut Complaint,
    trigger: ComplaintEscalationTrigger,
    level: ApprovalLevel,
    reason: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let notified = store::holders_of(txn, tenant, level).await?;
    let escalation = rules::escalate(complaint, trigger, level, notified, reason, actor, now)?;
    events::escalated(txn, tenant, complaint, &escalation, now).await?;
    Ok(())
}

/// Stores a changed complaint (update time set) and publishes the stage
/// change from `from`, if any.
async fn save_changed(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    complaint: &mut Complaint,
    from: ComplaintStage,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    let to = rules::stage(complaint);
    if from != to {
        events::stage_changed(txn, tenant, complaint, from, to, actor, now).await?;
    }
    complaint.update_time = Some(kefu_kit::events::to_timestamp(now));
    store::save(txn, tenant, complaint).await?;
    Ok(())
}

/// `RegisterComplaint`: stage REGISTERED, linked to its ticket, with its
/// deadline; a SEVERE complaint escalates to the vice president at once.
pub(super) async fn register_complaint(
    shared: &Shared,
    request: Request<RegisterComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    Ok(Response::new(register(shared, request).await?))
}

async fn register(
    shared: &Shared,
    request: Request<RegisterComplaintRequest>,
) -> Result<Complaint> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let mut complaint = request
        .complaint
        .ok_or_else(|| TicketsError::invalid("complaint", "complaint is required"))?;
    let now = shared.now();
    let registration = complaint.registration.as_ref().ok_or_else(|| {
        TicketsError::invalid("complaint.registration", "registration is required")
    })?;
    rules::validate_registration(registration, now, "complaint.registration")?;
    rules::limit(&complaint.subject, 200, "complaint.subject")?;
    if ComplaintSeverity::try_from(complaint.severity).is_err() {
        return Err(TicketsError::invalid("complaint.severity", "unknown severity").into());
    }
    if request.request_id.chars().count() > 100 {
        return Err(TicketsError::invalid("request_id", "request_id is too long").into());
    }
    let txn = shared.begin(tenant).await?;
    if !request.request_id.is_empty()
        && let Some(remembered) = idempotency::recall(&txn, tenant.0, &request.request_id).await?
    {
        let stored = store::load(&txn, tenant, &remembered.resource_name, "name", false).await?;
        return Ok(stored);
    }
    let customer = &registration.customer;
    match directory::customer(&txn, tenant, customer).await? {
        Some(known) if known.state != directory::KnownCustomerState::Erased => {}
        _ => {
            return Err(unknown_reference(
                "complaint.registration.customer",
                customer,
            ));
        }
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let ticket = if complaint.ticket.is_empty() {
        open_ticket(&txn, tenant, &complaint, &actor, now).await?
    } else {
        tickets::load_for_change(&txn, tenant, &complaint.ticket, "complaint.ticket", "")
            .await
            .map_err(|error| match error {
                TicketsError::NotFound(..) | TicketsError::Invalid(..) => {
                    unknown_reference("complaint.ticket", &complaint.ticket)
                }
                other => other.into(),
            })?
    };
    if ticket.base_kind != TicketBaseKind::Complaint as i32 {
        return Err(TicketsError::FailedPrecondition(
            format!("{} is not of a complaint kind", ticket.name),
            "TICKET_NOT_COMPLAINT",
        )
        .into());
    }
    if !ticket.complaint.is_empty() {
        return Err(TicketsError::AlreadyExists(
            format!(
                "{} already has the complaint {}",
                ticket.name, ticket.complaint
            ),
            None,
        )
        .into());
    }
    if !complaint.owner.is_empty() {
        known_user(&txn, tenant, &complaint.owner, "complaint.owner").await?;
    }
    if complaint.subject.is_empty() {
        complaint.subject = ticket.subject.chars().take(200).collect();
    }
    let settings = settings(&txn, tenant).await?;
    let id = Uuid::now_v7();
    let (number, number_text) = store::next_number(&txn, tenant).await?;
    complaint.ticket = ticket.name.clone();
    rules::register(
        &mut complaint,
        store::complaint_name(id),
        number_text,
        &actor,
        &settings,
        now,
    );
    events::registered(&txn, tenant, &complaint, now).await?;
    if rules::is_severe(&complaint) {
        escalate_to(
            &txn,
            tenant,
            &mut complaint,
            ComplaintEscalationTrigger::Severe,
            ApprovalLevel::VicePresident,
            "",
            &system_actor(),
            now,
        )
        .await?;
    }
    let ticket_id = ticket::id_of(&ticket.name)
        .ok_or_else(|| TicketsError::Internal(format!("stored ticket named {}", ticket.name)))?;
    store::insert(
        &txn,
        tenant,
        id,
        number,
        &ticket_id.to_string(),
        &mut complaint,
    )
    .await?;
    let mut linked = ticket.clone();
    linked.complaint = complaint.name.clone();
    tickets::save_change(
        &txn,
        tenant,
        &ticket,
        &mut linked,
        &actor,
        TicketAuditAction::Linked,
        &format!("complaint {} registered", complaint.number),
        now,
    )
    .await?;
    remember_request(
        &txn,
        tenant,
        &request.request_id,
        REGISTER,
        &complaint.name,
        now,
    )
    .await?;
    shared.commit(txn).await?;
    Ok(complaint)
}

/// Opens the ticket of a complaint registered without one: the tenant's
/// default complaint kind (the active kind based on COMPLAINT keyed
/// `complaint`, else the first by display order) for the customer, through
/// the channel, about the content.
async fn open_ticket(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    complaint: &Complaint,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Ticket> {
    let mut kinds: Vec<TicketKind> = taxonomy::list_kinds(txn, tenant)
        .await?
        .into_iter()
        .map(|stored| stored.resource)
        .filter(|kind| kind.active && kind.base_kind == TicketBaseKind::Complaint as i32)
        .collect();
    kinds.sort_by_key(|kind| {
        (
            kind.key != "complaint",
            kind.display_order,
            kind.key.clone(),
        )
    });
    let Some(kind) = kinds.first() else {
        return Err(TicketsError::invalid(
            "complaint.ticket",
            "the tenant has no complaint kind to open a ticket of; name the ticket",
        )
        .into());
    };
    let registration = complaint.registration.clone().unwrap_or_default();
    let subject = if complaint.subject.trim().is_empty() {
        registration.content.trim()
    } else {
        complaint.subject.trim()
    };
    let ticket = Ticket {
        kind: kind.name.clone(),
        channel: registration.channel,
        customer: registration.customer.clone(),
        subject: subject.chars().take(200).collect(),
        description: registration.content.clone(),
        ..Ticket::default()
    };
    Ok(insert_ticket(txn, tenant, ticket, actor, now, None).await?)
}

/// `GetComplaint`.
pub(super) async fn get_complaint(
    shared: &Shared,
    request: Request<GetComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (_, tenant) = caller(&request)?;
        let txn = shared.begin_read(tenant).await?;
        let complaint = store::load(&txn, tenant, &request.get_ref().name, "name", false).await?;
        txn.commit().await.map_err(TicketsError::from)?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}

/// The registration paths UpdateComplaint may change.
const SUPPLEMENTARY: &[&str] = &[
    "complainant_name",
    "complainant_phone",
    "customer_demand",
    "evidence_uris",
    "order_number",
    "product_model",
    "specification",
    "batch_number",
    "shipment_date",
    "quantity",
    "defective_quantity",
];

/// `UpdateComplaint`: subject, severity, owner and the registration's
/// supplementary fields; raising the severity to SEVERE escalates at once.
pub(super) async fn update_complaint(
    shared: &Shared,
    request: Request<UpdateComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    Ok(Response::new(update(shared, request).await?))
}

async fn update(shared: &Shared, request: Request<UpdateComplaintRequest>) -> Result<Complaint> {
    let (context, tenant) = caller(&request)?;
    let request = request.into_inner();
    let input = request
        .complaint
        .ok_or_else(|| TicketsError::invalid("complaint", "complaint is required"))?;
    let paths = request
        .update_mask
        .map(|mask| mask.paths)
        .unwrap_or_default();
    if paths.is_empty() {
        return Err(TicketsError::invalid("update_mask", "update_mask is required").into());
    }
    let now = shared.now();
    let txn = shared.begin(tenant).await?;
    let mut complaint =
        store::load_for_change(&txn, tenant, &input.name, "complaint.name", &input.etag).await?;
    if rules::is_final(&complaint) {
        return Err(TicketsError::illegal_transition(
            "a closed or rejected complaint does not change",
        )
        .into());
    }
    let was_severe = rules::is_severe(&complaint);
    let given = input.registration.clone().unwrap_or_default();
    for path in &paths {
        match path.as_str() {
            "subject" => {
                rules::limit(&input.subject, 200, "complaint.subject")?;
                complaint.subject = input.subject.clone();
            }
            "severity" => {
                let severity = ComplaintSeverity::try_from(input.severity)
                    .ok()
                    .filter(|severity| *severity != ComplaintSeverity::Unspecified)
                    .ok_or_else(|| {
                        TicketsError::invalid("complaint.severity", "unknown severity")
                    })?;
                complaint.severity = severity as i32;
            }
            "owner" => {
                if input.owner.is_empty() {
                    return Err(
                        TicketsError::invalid("complaint.owner", "the owner is required").into(),
                    );
                }
                known_user(&txn, tenant, &input.owner, "complaint.owner").await?;
                complaint.owner = input.owner.clone();
            }
            other => {
                let Some(field) = other
                    .strip_prefix("registration.")
                    .filter(|field| SUPPLEMENTARY.contains(field))
                else {
                    return Err(TicketsError::invalid(
                        "update_mask",
                        format!("{other} cannot be updated"),
                    )
                    .into());
                };
                let registration = complaint.registration.get_or_insert_default();
                match field {
                    "complainant_name" => {
                        registration.complainant_name = given.complainant_name.clone();
                    }
                    "complainant_phone" => {
                        registration.complainant_phone = given.complainant_phone.clone();
                    }
                    "customer_demand" => {
                        registration.customer_demand = given.customer_demand.clone();
                    }
                    "evidence_uris" => registration.evidence_uris = given.evidence_uris.clone(),
                    "order_number" => registration.order_number = given.order_number.clone(),
                    "product_model" => registration.product_model = given.product_model.clone(),
                    "specification" => registration.specification = given.specification.clone(),
                    "batch_number" => registration.batch_number = given.batch_number.clone(),
                    "shipment_date" => registration.shipment_date = given.shipment_date,
                    "quantity" => registration.quantity = given.quantity,
                    _ => registration.defective_quantity = given.defective_quantity,
                }
            }
        }
    }
    if let Some(registration) = complaint.registration.as_ref() {
        rules::supplementary(registration, "complaint.registration")?;
    }
    if !was_severe && rules::is_severe(&complaint) {
        let actor = system_actor();
        escalate_to(
            &txn,
            tenant,
            &mut complaint,
            ComplaintEscalationTrigger::Severe,
            ApprovalLevel::VicePresident,
            "",
            &actor,
            now,
        )
        .await?;
    }
    let actor = actor_of(&txn, tenant, &context).await?;
    let from = rules::stage(&complaint);
    save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
    shared.commit(txn).await?;
    Ok(complaint)
}

/// `EscalateComplaint`: by hand (trigger MANUAL) to a level of management.
pub(super) async fn escalate_complaint(
    shared: &Shared,
    request: Request<EscalateComplaintRequest>,
) -> Result<Response<Complaint>, Status> {
    let run = async {
        let (context, tenant) = caller(&request)?;
        require_supervisor(&context)?;
        let request = request.into_inner();
        let level = ApprovalLevel::try_from(request.level)
            .ok()
            .filter(|level| *level != ApprovalLevel::Unspecified)
            .ok_or_else(|| TicketsError::invalid("level", "the level is required"))?;
        if request.reason.trim().is_empty() {
            return Err(TicketsError::invalid("reason", "the reason is required").into());
        }
        let now = shared.now();
        let txn = shared.begin(tenant).await?;
        let mut complaint = store::load_for_change(&txn, tenant, &request.name, "name", "").await?;
        let actor = actor_of(&txn, tenant, &context).await?;
        escalate_to(
            &txn,
            tenant,
            &mut complaint,
            ComplaintEscalationTrigger::Manual,
            level,
            &request.reason,
            &actor,
            now,
        )
        .await?;
        let from = rules::stage(&complaint);
        save_changed(&txn, tenant, &mut complaint, from, &actor, now).await?;
        shared.commit(txn).await?;
        Ok::<_, ComplaintError>(complaint)
    };
    Ok(Response::new(run.await?))
}
