//! Service requests (服务登记) and dispatches (派工): the pure rules.
//!
//! A request records what a customer needs done on site and its service
//! type — A paid (有偿), B contract (合同), C free (免费), D internal (内务).
//! Each visit is a dispatch moving QUEUED → DISPATCHED (the manager sends a
//! technician with a voucher and an appointment window) → ON_SITE →
//! COMPLETED (work recorded, customer signed) → COUNTERSIGNED (签核 by the
//! manager); QUEUED, DISPATCHED and ON_SITE may be cancelled. Work not
//! dispatched on its day is carried over and heads the next day's queue
//! (当天未派修工作次日优先派工). Out-of-town work (外埠) waits for approval.

use std::{cmp::Ordering, collections::HashMap};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use kefu_kit::{
    KitError,
    error::{ErrorReason, FieldViolation, ServiceError},
    events::{from_timestamp, to_timestamp},
};
use kefu_proto::v1::{
    Actor, Date, Dispatch, DispatchAppointmentWindow, DispatchCustomerSignOff, DispatchPart,
    DispatchState, Money, OutOfTownApproval, Role, ServiceRequest, ServiceRequestState,
    ServiceType, User, UserState,
};
use prost_types::Timestamp;
use uuid::Uuid;

use crate::error::TicketsError;

/// The collection of service requests.
pub const REQUESTS: &str = "serviceRequests";
/// The time zone of a tenant that names none (the contract's default).
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";
/// The currency of a tenant that names none (the contract's default).
pub const DEFAULT_CURRENCY: &str = "CNY";

/// Why a dispatch call is refused: the service's errors, and a transition
/// refused because data it needs is missing (STAGE_DATA_MISSING, naming the
/// field in the ErrorInfo metadata `field` and in a field violation).
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// Any error of the tickets service.
    #[error(transparent)]
    Tickets(#[from] TicketsError),
    /// `field` must be recorded before the transition.
    #[error("{0} must be recorded first")]
    StageDataMissing(&'static str),
}

impl From<sea_orm::DbErr> for DispatchError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Tickets(error.into())
    }
}

impl From<KitError> for DispatchError {
    fn from(error: KitError) -> Self {
        Self::Tickets(error.into())
    }
}

impl ServiceError for DispatchError {
    fn reason(&self) -> ErrorReason {
        match self {
            Self::Tickets(error) => error.reason(),
            Self::StageDataMissing(_) => ErrorReason::IllegalTransition,
        }
    }

    fn specific_reason(&self) -> Option<&'static str> {
        match self {
            Self::Tickets(error) => error.specific_reason(),
            Self::StageDataMissing(_) => Some("STAGE_DATA_MISSING"),
        }
    }

    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::Tickets(error) => error.field_violations(),
            Self::StageDataMissing(field) => {
                vec![FieldViolation::new(*field, format!("{field} is missing"))]
            }
        }
    }

    fn metadata(&self) -> HashMap<String, String> {
        match self {
            Self::Tickets(error) => error.metadata(),
            Self::StageDataMissing(field) => {
                HashMap::from([("field".to_owned(), (*field).to_owned())])
            }
        }
    }
}

impl From<DispatchError> for tonic::Status {
    fn from(error: DispatchError) -> Self {
        kefu_kit::error::to_status(&error)
    }
}

/// The result of dispatch rules.
pub type Result<T, E = DispatchError> = std::result::Result<T, E>;

fn invalid(field: &str, message: impl Into<String>) -> DispatchError {
    TicketsError::invalid(field, message).into()
}

fn illegal(message: impl Into<String>) -> DispatchError {
    TicketsError::illegal_transition(message).into()
}

// ---------------------------------------------------------------------------
// Names and numbers
// ---------------------------------------------------------------------------

/// `serviceRequests/{id}`.
pub fn request_name(id: Uuid) -> String {
    format!("{REQUESTS}/{id}")
}

/// `serviceRequests/{request}/dispatches/{id}`.
pub fn dispatch_name(request: Uuid, id: Uuid) -> String {
    format!("{REQUESTS}/{request}/dispatches/{id}")
}

/// The id in `serviceRequests/{id}`.
pub fn request_id_of(name: &str) -> Option<Uuid> {
    let id = name.strip_prefix("serviceRequests/")?;
    Uuid::parse_str(id).ok()
}

/// The request id and dispatch id in a dispatch name.
pub fn dispatch_id_of(name: &str) -> Option<(Uuid, Uuid)> {
    let rest = name.strip_prefix("serviceRequests/")?;
    let (request, dispatch) = rest.split_once("/dispatches/")?;
    Some((
        Uuid::parse_str(request).ok()?,
        Uuid::parse_str(dispatch).ok()?,
    ))
}

/// The request a dispatch belongs to, from the dispatch's name.
pub fn parent_of(dispatch: &str) -> Option<String> {
    dispatch_id_of(dispatch).map(|(request, _)| request_name(request))
}

/// The human number of the `n`th request of a tenant: `S-000123`.
pub fn request_number(n: i64) -> String {
    format!("S-{n:06}")
}

/// The generated voucher number `n`: `SV-000123`.
pub fn voucher_number(n: i64) -> String {
    format!("SV-{n:06}")
}

// ---------------------------------------------------------------------------
// Days
// ---------------------------------------------------------------------------

/// The tenant-local day of `now` in `time_zone` (the default zone when
/// empty or unknown).
pub fn local_day(now: DateTime<Utc>, time_zone: &str) -> NaiveDate {
    let zone: chrono_tz::Tz = time_zone
        .parse()
        .or_else(|_| DEFAULT_TIME_ZONE.parse())
        .unwrap_or(chrono_tz::Asia::Shanghai);
    now.with_timezone(&zone).date_naive()
}

/// A day as the contract's `Date`.
pub fn date_of(day: NaiveDate) -> Date {
    Date {
        year: day.year(),
        month: day.month() as i32,
        day: day.day() as i32,
    }
}

/// A contract `Date` as a day, when valid.
pub fn day_of(date: &Date) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )
}

/// The stored key of a day: `YYYY-MM-DD` (orders as text).
pub fn day_key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

// ---------------------------------------------------------------------------
// Service requests
// ---------------------------------------------------------------------------

/// Clears what callers may not write on a request.
pub fn clear_request_output_only(request: &mut ServiceRequest) {
    request.name.clear();
    request.number.clear();
    request.out_of_town_approval = OutOfTownApproval::Unspecified as i32;
    request.out_of_town_decided_by = None;
    request.out_of_town_comment.clear();
    request.out_of_town_decide_time = None;
    request.state = ServiceRequestState::Unspecified as i32;
    request.created_by = None;
    request.create_time = None;
    request.update_time = None;
    request.etag.clear();
}

fn at_most(field: &str, text: &str, limit: usize) -> Result<()> {
    if text.chars().count() > limit {
        return Err(invalid(
            field,
            format!("{field} is longer than {limit} characters"),
        ));
    }
    Ok(())
}

fn required_text(field: &str, text: &str, limit: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(invalid(field, format!("{field} is required")));
    }
    at_most(field, text, limit)
}

fn address_is_empty(request: &ServiceRequest) -> bool {
    request.address.as_ref().is_none_or(|address| {
        address.locality.trim().is_empty()
            && address.sublocality.trim().is_empty()
            && address.administrative_area.trim().is_empty()
            && address
                .address_lines
                .iter()
                .all(|line| line.trim().is_empty())
    })
}

/// Checks a request's fields (required ones, limits) as the caller sent
/// them; `prefix` is the request field (`service_request`).
pub fn validate_request(request: &ServiceRequest, prefix: &str) -> Result<()> {
    let field = |name: &str| format!("{prefix}.{name}");
    if request.customer.trim().is_empty() {
        return Err(invalid(&field("customer"), "customer is required"));
    }
    if address_is_empty(request) {
        return Err(invalid(&field("address"), "address is required"));
    }
    required_text(&field("phone"), &request.phone, 32)?;
    if ServiceType::try_from(request.service_type)
        .map_or(true, |kind| kind == ServiceType::Unspecified)
    {
        return Err(invalid(
            &field("service_type"),
            "service_type is required: A_PAID, B_CONTRACT, C_FREE or D_INTERNAL",
        ));
    }
    required_text(
        &field("fault_description"),
        &request.fault_description,
        5000,
    )?;
    at_most(&field("contact_name"), &request.contact_name, 100)?;
    at_most(&field("product_model"), &request.product_model, 128)?;
    at_most(&field("specification"), &request.specification, 128)?;
    at_most(&field("serial_number"), &request.serial_number, 128)?;
    at_most(&field("purchase_place"), &request.purchase_place, 200)?;
    if let Some(date) = &request.purchase_date
        && day_of(date).is_none()
    {
        return Err(invalid(
            &field("purchase_date"),
            "purchase_date is not a valid date",
        ));
    }
    if request.out_of_town {
        required_text(&field("out_of_town_note"), &request.out_of_town_note, 2000)?;
    } else {
        at_most(&field("out_of_town_note"), &request.out_of_town_note, 2000)?;
    }
    Ok(())
}

/// The approval a request starts with (or returns to when `out_of_town` is
/// set again).
pub fn initial_approval(out_of_town: bool) -> OutOfTownApproval {
    if out_of_town {
        OutOfTownApproval::Pending
    } else {
        OutOfTownApproval::NotRequired
    }
}

/// The paths UpdateServiceRequest may change.
pub const MUTABLE_PATHS: &[&str] = &[
    "contact_name",
    "address",
    "phone",
    "product_model",
    "specification",
    "serial_number",
    "purchase_date",
    "purchase_place",
    "fault_description",
    "service_type",
    "out_of_town",
    "out_of_town_note",
    "preferred_hours",
];

/// Applies the masked `paths` of `patch` to `request`: FAILED_PRECONDITION
/// on a COMPLETED or CANCELLED request, INVALID_ARGUMENT for an unknown
/// path or a result that breaks a rule. Setting `out_of_town` puts the
/// approval back to PENDING (or NOT_REQUIRED).
pub fn apply_update(
    request: &mut ServiceRequest,
    patch: &ServiceRequest,
    paths: &[String],
) -> Result<()> {
    let state = ServiceRequestState::try_from(request.state).unwrap_or_default();
    if matches!(
        state,
        ServiceRequestState::Completed | ServiceRequestState::Cancelled
    ) {
        return Err(illegal(format!(
            "{} is {} and can no longer change",
            request.name,
            state.as_str_name()
        )));
    }
    if paths.is_empty() {
        return Err(invalid("update_mask", "update_mask is required"));
    }
    for path in paths {
        match path.as_str() {
            "contact_name" => request.contact_name.clone_from(&patch.contact_name),
            "address" => request.address.clone_from(&patch.address),
            "phone" => request.phone.clone_from(&patch.phone),
            "product_model" => request.product_model.clone_from(&patch.product_model),
            "specification" => request.specification.clone_from(&patch.specification),
            "serial_number" => request.serial_number.clone_from(&patch.serial_number),
            "purchase_date" => request.purchase_date = patch.purchase_date,
            "purchase_place" => request.purchase_place.clone_from(&patch.purchase_place),
            "fault_description" => {
                request
                    .fault_description
                    .clone_from(&patch.fault_description);
            }
            "service_type" => request.service_type = patch.service_type,
            "out_of_town" => {
                request.out_of_town = patch.out_of_town;
                request.out_of_town_approval = initial_approval(patch.out_of_town) as i32;
                request.out_of_town_decided_by = None;
                request.out_of_town_decide_time = None;
                request.out_of_town_comment.clear();
            }
            "out_of_town_note" => request.out_of_town_note.clone_from(&patch.out_of_town_note),
            "preferred_hours" => request.preferred_hours.clone_from(&patch.preferred_hours),
            other => {
                return Err(invalid(
                    "update_mask",
                    format!(
                        "{other} cannot be updated; allowed: {}",
                        MUTABLE_PATHS.join(", ")
                    ),
                ));
            }
        }
    }
    validate_request(request, "service_request")
}

/// Decides the out-of-town work of `request`: APPROVED or REJECTED with
/// who, when and why. FAILED_PRECONDITION unless out of town and PENDING.
pub fn decide_out_of_town(
    request: &mut ServiceRequest,
    approve: bool,
    comment: &str,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<()> {
    if approve {
        at_most("comment", comment, 2000)?;
    } else {
        required_text("comment", comment, 2000)?;
    }
    if !request.out_of_town || request.out_of_town_approval != OutOfTownApproval::Pending as i32 {
        return Err(illegal(format!(
            "{} has no out-of-town work waiting for approval",
            request.name
        )));
    }
    request.out_of_town_approval = if approve {
        OutOfTownApproval::Approved
    } else {
        OutOfTownApproval::Rejected
    } as i32;
    request.out_of_town_decided_by = Some(actor);
    request.out_of_town_comment = comment.to_owned();
    request.out_of_town_decide_time = Some(to_timestamp(now));
    Ok(())
}

/// The state of a request from its dispatches: IN_PROGRESS while a
/// technician is dispatched or on site, OPEN while one waits in the queue,
/// CANCELLED when every dispatch was cancelled, COMPLETED otherwise.
pub fn request_state(dispatches: &[Dispatch]) -> ServiceRequestState {
    let has = |state: DispatchState| dispatches.iter().any(|d| d.state == state as i32);
    if has(DispatchState::Dispatched) || has(DispatchState::OnSite) {
        ServiceRequestState::InProgress
    } else if has(DispatchState::Queued) {
        ServiceRequestState::Open
    } else if has(DispatchState::Completed) || has(DispatchState::Countersigned) {
        ServiceRequestState::Completed
    } else if dispatches.is_empty() {
        ServiceRequestState::Open
    } else {
        ServiceRequestState::Cancelled
    }
}

/// Whether a request may be deleted: none of its dispatches left QUEUED.
pub fn deletable(dispatches: &[Dispatch]) -> bool {
    dispatches
        .iter()
        .all(|dispatch| dispatch.state == DispatchState::Queued as i32)
}

// ---------------------------------------------------------------------------
// Dispatches
// ---------------------------------------------------------------------------

/// A new QUEUED dispatch `name` of `request`, in the queue of `today`.
pub fn new_dispatch(
    request: &ServiceRequest,
    name: String,
    instructions: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Dispatch> {
    at_most("dispatch.instructions", instructions, 2000)?;
    Ok(Dispatch {
        name,
        state: DispatchState::Queued as i32,
        service_type: request.service_type,
        customer: request.customer.clone(),
        ticket: request.ticket.clone(),
        instructions: instructions.to_owned(),
        queue_date: Some(date_of(today)),
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        ..Dispatch::default()
    })
}

fn state_of(dispatch: &Dispatch) -> DispatchState {
    DispatchState::try_from(dispatch.state).unwrap_or_default()
}

fn expect_state(dispatch: &Dispatch, allowed: &[DispatchState], what: &str) -> Result<()> {
    let state = state_of(dispatch);
    if allowed.contains(&state) {
        Ok(())
    } else {
        Err(illegal(format!(
            "{what} is not allowed on a {} dispatch",
            state.as_str_name()
        )))
    }
}

/// Whether `user` is an active technician of the tenant.
pub fn is_technician(user: &User) -> bool {
    user.state == UserState::Active as i32 && user.roles.contains(&(Role::Technician as i32))
}

/// FAILED_PRECONDITION `OUT_OF_TOWN_NOT_APPROVED` while the request's
/// out-of-town work is not approved.
pub fn check_dispatchable(request: &ServiceRequest) -> Result<()> {
    if request.out_of_town && request.out_of_town_approval != OutOfTownApproval::Approved as i32 {
        return Err(TicketsError::FailedPrecondition(
            format!(
                "{} is out-of-town work not approved yet; approve it first",
                request.name
            ),
            "OUT_OF_TOWN_NOT_APPROVED",
        )
        .into());
    }
    Ok(())
}

/// The checked appointment window: both ends set, the end after the start.
pub fn check_window(
    window: Option<&DispatchAppointmentWindow>,
) -> Result<DispatchAppointmentWindow> {
    let window =
        window.ok_or_else(|| invalid("appointment_window", "appointment_window is required"))?;
    let start = window
        .start_time
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| {
            invalid(
                "appointment_window.start_time",
                "appointment_window.start_time is required",
            )
        })?;
    let end = window
        .end_time
        .as_ref()
        .and_then(from_timestamp)
        .ok_or_else(|| {
            invalid(
                "appointment_window.end_time",
                "appointment_window.end_time is required",
            )
        })?;
    if end <= start {
        return Err(invalid(
            "appointment_window.end_time",
            "appointment_window.end_time must be after its start_time",
        ));
    }
    Ok(*window)
}

/// What DispatchTechnician sets.
#[derive(Debug, Clone)]
pub struct Assignment<'a> {
    /// The technician (checked with [`is_technician`]).
    pub technician: &'a User,
    /// The checked window.
    pub window: DispatchAppointmentWindow,
    /// The voucher number to give a QUEUED dispatch (generated or sent).
    pub voucher_number: String,
    /// Instructions; empty keeps the current ones.
    pub instructions: &'a str,
    /// Who dispatched.
    pub dispatched_by: Actor,
}

/// Dispatches a technician (派工): QUEUED → DISPATCHED, or on a DISPATCHED
/// dispatch reassigns the technician or reschedules (the voucher stays).
pub fn dispatch_technician(
    dispatch: &mut Dispatch,
    assignment: Assignment<'_>,
    now: DateTime<Utc>,
) -> Result<()> {
    expect_state(
        dispatch,
        &[DispatchState::Queued, DispatchState::Dispatched],
        "DispatchTechnician",
    )?;
    at_most("instructions", assignment.instructions, 2000)?;
    if !is_technician(assignment.technician) {
        return Err(TicketsError::invalid_because(
            "technician",
            format!(
                "{} is not an active technician of the tenant",
                assignment.technician.name
            ),
            "NOT_A_TECHNICIAN",
        )
        .into());
    }
    if dispatch.state == DispatchState::Queued as i32 {
        dispatch.voucher_number = assignment.voucher_number;
    }
    dispatch.state = DispatchState::Dispatched as i32;
    dispatch.technician.clone_from(&assignment.technician.name);
    dispatch
        .technician_display_name
        .clone_from(&assignment.technician.display_name);
    dispatch.appointment_window = Some(assignment.window);
    dispatch.dispatched_by = Some(assignment.dispatched_by);
    dispatch.dispatch_time = Some(to_timestamp(now));
    if !assignment.instructions.is_empty() {
        dispatch.instructions = assignment.instructions.to_owned();
    }
    dispatch.queue_date = None;
    dispatch.queue_position = 0;
    dispatch.update_time = Some(to_timestamp(now));
    Ok(())
}

/// Records the arrival: DISPATCHED → ON_SITE at `arrival` (default `now`).
pub fn arrive(
    dispatch: &mut Dispatch,
    arrival: Option<Timestamp>,
    now: DateTime<Utc>,
) -> Result<()> {
    expect_state(dispatch, &[DispatchState::Dispatched], "RecordArrival")?;
    dispatch.state = DispatchState::OnSite as i32;
    dispatch.arrival_time = Some(arrival.unwrap_or_else(|| to_timestamp(now)));
    dispatch.update_time = Some(to_timestamp(now));
    Ok(())
}

/// The work of a visit, as RecordWork sends it.
#[derive(Debug, Clone, Default)]
pub struct Work {
    /// Actual start.
    pub actual_start_time: Option<Timestamp>,
    /// Actual end.
    pub actual_end_time: Option<Timestamp>,
    /// Work done.
    pub work_done: String,
    /// Parts used.
    pub parts: Vec<DispatchPart>,
    /// The fee.
    pub fee: Option<Money>,
    /// Collected.
    pub charged: bool,
    /// Invoiced.
    pub invoiced: bool,
    /// The invoice number.
    pub invoice_number: String,
    /// Travel and allowance costs.
    pub travel_cost: Option<Money>,
}

/// Money in the tenant's `currency` (an empty code reads as it), not
/// negative; INVALID_ARGUMENT naming `field` otherwise.
fn check_money(field: &str, money: &mut Money, currency: &str) -> Result<()> {
    if money.currency_code.is_empty() {
        money.currency_code = currency.to_owned();
    }
    if !money.currency_code.eq_ignore_ascii_case(currency) {
        return Err(invalid(
            field,
            format!(
                "{field} is in {}, not the tenant's currency {currency}",
                money.currency_code
            ),
        ));
    }
    money.currency_code = currency.to_owned();
    if money.amount_minor < 0 {
        return Err(invalid(field, format!("{field} must not be negative")));
    }
    Ok(())
}

/// Records (replaces) the work of an ON_SITE dispatch. INVALID_ARGUMENT
/// when the end precedes the start, a text is too long, a part lacks its
/// description or quantity, an amount is not in the tenant's `currency`,
/// or an invoiced fee has no invoice number.
pub fn record_work(
    dispatch: &mut Dispatch,
    mut work: Work,
    currency: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    expect_state(dispatch, &[DispatchState::OnSite], "RecordWork")?;
    if let (Some(start), Some(end)) = (
        work.actual_start_time.as_ref().and_then(from_timestamp),
        work.actual_end_time.as_ref().and_then(from_timestamp),
    ) && end < start
    {
        return Err(invalid(
            "actual_end_time",
            "actual_end_time precedes actual_start_time",
        ));
    }
    at_most("work_done", &work.work_done, 5000)?;
    if work.parts.len() > 50 {
        return Err(invalid("parts", "at most 50 parts"));
    }
    for (index, part) in work.parts.iter_mut().enumerate() {
        at_most(
            &format!("parts[{index}].part_number"),
            &part.part_number,
            64,
        )?;
        required_text(
            &format!("parts[{index}].description"),
            &part.description,
            200,
        )?;
        if part.quantity < 1 {
            return Err(invalid(
                &format!("parts[{index}].quantity"),
                "quantity must be at least 1",
            ));
        }
        if let Some(price) = part.unit_price.as_mut() {
            check_money(&format!("parts[{index}].unit_price"), price, currency)?;
        }
    }
    if let Some(fee) = work.fee.as_mut() {
        check_money("fee", fee, currency)?;
    }
    if let Some(cost) = work.travel_cost.as_mut() {
        check_money("travel_cost", cost, currency)?;
    }
    at_most("invoice_number", &work.invoice_number, 64)?;
    if work.invoiced && work.invoice_number.trim().is_empty() {
        return Err(invalid(
            "invoice_number",
            "invoice_number is required when invoiced",
        ));
    }
    dispatch.actual_start_time = work.actual_start_time;
    dispatch.actual_end_time = work.actual_end_time;
    dispatch.work_done = work.work_done;
    dispatch.parts = work.parts;
    dispatch.fee = work.fee;
    dispatch.charged = work.charged;
    dispatch.invoiced = work.invoiced;
    dispatch.invoice_number = work.invoice_number;
    dispatch.travel_cost = work.travel_cost;
    dispatch.update_time = Some(to_timestamp(now));
    Ok(())
}

/// Records the customer's sign-off (签字) of an ON_SITE dispatch; the sign
/// time defaults to `now`.
pub fn sign_off(
    dispatch: &mut Dispatch,
    sign_off: Option<DispatchCustomerSignOff>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut sign_off = sign_off.ok_or_else(|| invalid("sign_off", "sign_off is required"))?;
    required_text("sign_off.signed_name", &sign_off.signed_name, 100)?;
    at_most("sign_off.signature_uri", &sign_off.signature_uri, 2048)?;
    at_most("sign_off.comment", &sign_off.comment, 2000)?;
    expect_state(dispatch, &[DispatchState::OnSite], "RecordCustomerSignOff")?;
    if sign_off.sign_time.is_none() {
        sign_off.sign_time = Some(to_timestamp(now));
    }
    dispatch.customer_sign_off = Some(sign_off);
    dispatch.update_time = Some(to_timestamp(now));
    Ok(())
}

/// The first datum completion still lacks, by the service type's rules:
/// every visit needs its actual times, the work done and the customer's
/// sign-off; paid work (A) also a fee and its collection or invoice.
pub fn missing_for_completion(dispatch: &Dispatch) -> Option<&'static str> {
    if dispatch.actual_start_time.is_none() {
        return Some("actual_start_time");
    }
    if dispatch.actual_end_time.is_none() {
        return Some("actual_end_time");
    }
    if dispatch.work_done.trim().is_empty() {
        return Some("work_done");
    }
    if dispatch.customer_sign_off.is_none() {
        return Some("customer_sign_off");
    }
    if dispatch.service_type == ServiceType::APaid as i32 {
        if dispatch
            .fee
            .as_ref()
            .is_none_or(|fee| fee.amount_minor <= 0)
        {
            return Some("fee");
        }
        if !dispatch.charged && !dispatch.invoiced {
            return Some("charged");
        }
    }
    None
}

/// Completes an ON_SITE dispatch: ON_SITE → COMPLETED, or
/// STAGE_DATA_MISSING naming what is missing.
pub fn complete(dispatch: &mut Dispatch, now: DateTime<Utc>) -> Result<()> {
    expect_state(dispatch, &[DispatchState::OnSite], "CompleteDispatch")?;
    if let Some(field) = missing_for_completion(dispatch) {
        return Err(DispatchError::StageDataMissing(field));
    }
    dispatch.state = DispatchState::Completed as i32;
    dispatch.complete_time = Some(to_timestamp(now));
    dispatch.update_time = Some(to_timestamp(now));
    Ok(())
}

/// The manager countersigns (签核) a COMPLETED dispatch.
pub fn countersign(
    dispatch: &mut Dispatch,
    actor: Actor,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    at_most("comment", comment, 2000)?;
    expect_state(dispatch, &[DispatchState::Completed], "CountersignDispatch")?;
    dispatch.state = DispatchState::Countersigned as i32;
    dispatch.countersigned_by = Some(actor);
    dispatch.countersign_time = Some(to_timestamp(now));
    dispatch.countersign_comment = comment.to_owned();
    dispatch.update_time = Some(to_timestamp(now));
    Ok(())
}

/// Cancels a QUEUED, DISPATCHED or ON_SITE dispatch with a reason.
pub fn cancel(dispatch: &mut Dispatch, reason: &str, now: DateTime<Utc>) -> Result<()> {
    required_text("reason", reason, 2000)?;
    expect_state(
        dispatch,
        &[
            DispatchState::Queued,
            DispatchState::Dispatched,
            DispatchState::OnSite,
        ],
        "CancelDispatch",
    )?;
    dispatch.state = DispatchState::Cancelled as i32;
    dispatch.cancel_reason = reason.to_owned();
    dispatch.queue_date = None;
    dispatch.queue_position = 0;
    dispatch.update_time = Some(to_timestamp(now));
    Ok(())
}

// ---------------------------------------------------------------------------
// The dispatch queue
// ---------------------------------------------------------------------------

/// The queue order (派工优先): carried over most days first, then in the
/// order queued (create time, then name).
pub fn queue_order(a: &Dispatch, b: &Dispatch) -> Ordering {
    let time = |d: &Dispatch| {
        d.create_time
            .as_ref()
            .map_or((0, 0), |t| (t.seconds, t.nanos))
    };
    b.carried_over_days
        .cmp(&a.carried_over_days)
        .then_with(|| time(a).cmp(&time(b)))
        .then_with(|| a.name.cmp(&b.name))
}

/// Sorts the QUEUED dispatches of a tenant into the queue and numbers
/// their `queue_position` from 1.
pub fn order_queue(queue: &mut [Dispatch]) {
    queue.sort_by(queue_order);
    for (index, dispatch) in queue.iter_mut().enumerate() {
        dispatch.queue_position = i32::try_from(index + 1).unwrap_or(i32::MAX);
    }
}

/// Carries a QUEUED dispatch whose queue day is before `today` over to
/// `today`: `carried_over` set, the days added. False when it is in
/// today's queue already (or not QUEUED).
pub fn carry_over(dispatch: &mut Dispatch, today: NaiveDate, now: DateTime<Utc>) -> bool {
    if dispatch.state != DispatchState::Queued as i32 {
        return false;
    }
    let Some(day) = dispatch.queue_date.as_ref().and_then(day_of) else {
        dispatch.queue_date = Some(date_of(today));
        return false;
    };
    let days = (today - day).num_days();
    if days <= 0 {
        return false;
    }
    dispatch.carried_over = true;
    dispatch.carried_over_days = dispatch
        .carried_over_days
        .saturating_add(i32::try_from(days).unwrap_or(i32::MAX));
    dispatch.queue_date = Some(date_of(today));
    dispatch.update_time = Some(to_timestamp(now));
    true
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{ActorKind, PostalAddress};

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn request() -> ServiceRequest {
        ServiceRequest {
            name: request_name(Uuid::now_v7()),
            customer: "customers/c1".into(),
            address: Some(PostalAddress {
                locality: "杭州市".into(),
                address_lines: vec!["西湖区文三路 1 号".into()],
                ..PostalAddress::default()
            }),
            phone: "+8613800000000".into(),
            fault_description: "空调不制冷".into(),
            service_type: ServiceType::APaid as i32,
            ..ServiceRequest::default()
        }
    }

    fn technician() -> User {
        User {
            name: "users/t1".into(),
            display_name: "王师傅".into(),
            roles: vec![Role::Technician as i32],
            state: UserState::Active as i32,
            ..User::default()
        }
    }

    fn manager() -> Actor {
        Actor {
            kind: ActorKind::User as i32,
            name: "users/m1".into(),
            display_name: "经理".into(),
        }
    }

    fn window(start: &str, end: &str) -> DispatchAppointmentWindow {
        DispatchAppointmentWindow {
            start_time: Some(to_timestamp(at(start))),
            end_time: Some(to_timestamp(at(end))),
        }
    }

    fn field(error: &DispatchError) -> String {
        error
            .field_violations()
            .first()
            .map(|v| v.field.clone())
            .unwrap_or_default()
    }

    fn queued() -> Dispatch {
        let now = at("2026-12-01T02:00:00Z");
        let request = request();
        new_dispatch(
            &request,
            dispatch_name(Uuid::now_v7(), Uuid::now_v7()),
            "",
            local_day(now, ""),
            now,
        )
        .expect("queued")
    }

    fn dispatched() -> Dispatch {
        let mut dispatch = queued();
        let tech = technician();
        dispatch_technician(
            &mut dispatch,
            Assignment {
                technician: &tech,
                window: window("2026-12-01T06:00:00Z", "2026-12-01T08:00:00Z"),
                voucher_number: "SV-000001".into(),
                instructions: "",
                dispatched_by: manager(),
            },
            at("2026-12-01T03:00:00Z"),
        )
        .expect("dispatched");
        dispatch
    }

    fn on_site() -> Dispatch {
        let mut dispatch = dispatched();
        arrive(&mut dispatch, None, at("2026-12-01T06:10:00Z")).expect("arrived");
        dispatch
    }

    fn work(fee: i64, charged: bool) -> Work {
        Work {
            actual_start_time: Some(to_timestamp(at("2026-12-01T06:15:00Z"))),
            actual_end_time: Some(to_timestamp(at("2026-12-01T07:15:00Z"))),
            work_done: "更换压缩机电容".into(),
            fee: (fee > 0).then(|| Money {
                currency_code: String::new(),
                amount_minor: fee,
            }),
            charged,
            ..Work::default()
        }
    }

    fn signed() -> Option<DispatchCustomerSignOff> {
        Some(DispatchCustomerSignOff {
            signed_name: "张三".into(),
            ..DispatchCustomerSignOff::default()
        })
    }

    #[test]
    fn names_round_trip() {
        let (request, dispatch) = (Uuid::now_v7(), Uuid::now_v7());
        let name = dispatch_name(request, dispatch);
        assert_eq!(dispatch_id_of(&name), Some((request, dispatch)));
        assert_eq!(parent_of(&name), Some(request_name(request)));
        assert_eq!(request_id_of(&request_name(request)), Some(request));
        assert_eq!(request_id_of("serviceRequests/x"), None);
        assert_eq!(request_number(123), "S-000123");
        assert_eq!(voucher_number(7), "SV-000007");
    }

    #[test]
    fn a_request_needs_customer_address_phone_type_and_fault() {
        assert!(validate_request(&request(), "service_request").is_ok());
        for (path, change) in [
            (
                "service_request.customer",
                (|r: &mut ServiceRequest| r.customer.clear()) as fn(&mut ServiceRequest),
            ),
            ("service_request.address", |r| r.address = None),
            ("service_request.phone", |r| r.phone.clear()),
            ("service_request.service_type", |r| r.service_type = 0),
            ("service_request.fault_description", |r| {
                r.fault_description.clear();
            }),
            ("service_request.product_model", |r| {
                r.product_model = "x".repeat(129);
            }),
            ("service_request.out_of_town_note", |r| r.out_of_town = true),
        ] {
            let mut request = request();
            change(&mut request);
            let error = validate_request(&request, "service_request").expect_err(path);
            assert_eq!(field(&error), path);
        }
    }

    #[test]
    fn out_of_town_work_waits_for_approval() {
        let mut request = request();
        request.out_of_town = true;
        request.out_of_town_note = "外埠 宁波, 差旅 300 元".into();
        request.out_of_town_approval = initial_approval(true) as i32;
        let error = check_dispatchable(&request).expect_err("pending");
        assert_eq!(error.specific_reason(), Some("OUT_OF_TOWN_NOT_APPROVED"));
        let now = at("2026-12-01T03:00:00Z");
        decide_out_of_town(&mut request, true, "同意", manager(), now).expect("approved");
        assert!(check_dispatchable(&request).is_ok());
        assert_eq!(
            request.out_of_town_approval,
            OutOfTownApproval::Approved as i32
        );
        // Deciding again is refused; changing out_of_town asks again.
        assert!(decide_out_of_town(&mut request, false, "no", manager(), now).is_err());
        let patch = ServiceRequest {
            out_of_town: true,
            ..request.clone()
        };
        apply_update(&mut request, &patch, &["out_of_town".into()]).expect("updated");
        assert_eq!(
            request.out_of_town_approval,
            OutOfTownApproval::Pending as i32
        );
        assert!(check_dispatchable(&request).is_err());
        // A rejection needs a reason and keeps the work from dispatch.
        assert!(decide_out_of_town(&mut request, false, "", manager(), now).is_err());
        decide_out_of_town(&mut request, false, "太远", manager(), now).expect("rejected");
        assert!(check_dispatchable(&request).is_err());
        // In town needs nothing.
        assert!(check_dispatchable(&self::request()).is_ok());
    }

    #[test]
    fn updates_follow_the_mask_and_stop_when_finished() {
        let mut request = request();
        let patch = ServiceRequest {
            phone: "+8613900000000".into(),
            product_model: "KFR-35GW".into(),
            ..ServiceRequest::default()
        };
        apply_update(&mut request, &patch, &["phone".into()]).expect("updated");
        assert_eq!(request.phone, "+8613900000000");
        assert!(request.product_model.is_empty());
        assert!(apply_update(&mut request, &patch, &["number".into()]).is_err());
        assert!(apply_update(&mut request, &patch, &[]).is_err());
        request.state = ServiceRequestState::Completed as i32;
        let error = apply_update(&mut request, &patch, &["phone".into()]).expect_err("done");
        assert_eq!(error.specific_reason(), Some("ILLEGAL_TRANSITION"));
    }

    #[test]
    fn only_an_active_technician_is_dispatched() {
        let mut dispatch = queued();
        let mut agent = technician();
        agent.roles = vec![Role::Agent as i32];
        let error = dispatch_technician(
            &mut dispatch,
            Assignment {
                technician: &agent,
                window: window("2026-12-01T06:00:00Z", "2026-12-01T08:00:00Z"),
                voucher_number: "SV-1".into(),
                instructions: "",
                dispatched_by: manager(),
            },
            at("2026-12-01T03:00:00Z"),
        )
        .expect_err("not a technician");
        assert_eq!(error.specific_reason(), Some("NOT_A_TECHNICIAN"));
        assert_eq!(field(&error), "technician");
        let mut gone = technician();
        gone.state = UserState::Deactivated as i32;
        assert!(!is_technician(&gone));
        assert!(is_technician(&technician()));
        assert_eq!(dispatch.state, DispatchState::Queued as i32);
    }

    #[test]
    fn the_window_must_end_after_it_starts() {
        assert_eq!(
            field(&check_window(None).expect_err("none")),
            "appointment_window"
        );
        let backwards = window("2026-12-01T08:00:00Z", "2026-12-01T06:00:00Z");
        assert_eq!(
            field(&check_window(Some(&backwards)).expect_err("backwards")),
            "appointment_window.end_time"
        );
        let open = DispatchAppointmentWindow {
            start_time: None,
            ..backwards
        };
        assert_eq!(
            field(&check_window(Some(&open)).expect_err("no start")),
            "appointment_window.start_time"
        );
    }

    #[test]
    fn a_visit_runs_from_queue_to_countersign() {
        let mut dispatch = dispatched();
        assert_eq!(dispatch.voucher_number, "SV-000001");
        assert_eq!(dispatch.technician, "users/t1");
        assert!(dispatch.queue_date.is_none());
        // Reassigning keeps the voucher.
        let other = User {
            name: "users/t2".into(),
            ..technician()
        };
        dispatch_technician(
            &mut dispatch,
            Assignment {
                technician: &other,
                window: window("2026-12-02T06:00:00Z", "2026-12-02T08:00:00Z"),
                voucher_number: "SV-000009".into(),
                instructions: "带梯子",
                dispatched_by: manager(),
            },
            at("2026-12-01T04:00:00Z"),
        )
        .expect("reassigned");
        assert_eq!(dispatch.voucher_number, "SV-000001");
        assert_eq!(dispatch.technician, "users/t2");
        assert_eq!(dispatch.instructions, "带梯子");
        // Work and sign-off only on site.
        assert!(
            record_work(
                &mut dispatch,
                work(5000, true),
                "CNY",
                at("2026-12-01T05:00:00Z")
            )
            .is_err()
        );
        arrive(&mut dispatch, None, at("2026-12-02T06:05:00Z")).expect("arrived");
        assert!(arrive(&mut dispatch, None, at("2026-12-02T06:05:00Z")).is_err());
        record_work(
            &mut dispatch,
            work(5000, true),
            "CNY",
            at("2026-12-02T07:00:00Z"),
        )
        .expect("work");
        assert_eq!(
            dispatch.fee.as_ref().map(|f| f.currency_code.as_str()),
            Some("CNY")
        );
        sign_off(&mut dispatch, signed(), at("2026-12-02T07:20:00Z")).expect("signed");
        assert!(
            dispatch
                .customer_sign_off
                .as_ref()
                .is_some_and(|s| s.sign_time.is_some())
        );
        assert!(countersign(&mut dispatch, manager(), "", at("2026-12-02T08:00:00Z")).is_err());
        complete(&mut dispatch, at("2026-12-02T07:30:00Z")).expect("completed");
        assert!(cancel(&mut dispatch, "late", at("2026-12-02T07:40:00Z")).is_err());
        countersign(&mut dispatch, manager(), "好", at("2026-12-02T08:00:00Z"))
            .expect("countersigned");
        assert_eq!(dispatch.state, DispatchState::Countersigned as i32);
        assert_eq!(dispatch.countersign_comment, "好");
    }

    #[test]
    fn completion_names_the_missing_stage_data() {
        let mut dispatch = on_site();
        let error = complete(&mut dispatch, at("2026-12-01T07:00:00Z")).expect_err("bare");
        assert_eq!(error.specific_reason(), Some("STAGE_DATA_MISSING"));
        assert_eq!(
            error.metadata().get("field").map(String::as_str),
            Some("actual_start_time")
        );
        let mut partial = work(0, false);
        partial.work_done.clear();
        record_work(&mut dispatch, partial, "CNY", at("2026-12-01T07:00:00Z")).expect("work");
        assert_eq!(missing_for_completion(&dispatch), Some("work_done"));
        record_work(
            &mut dispatch,
            work(0, false),
            "CNY",
            at("2026-12-01T07:00:00Z"),
        )
        .expect("work");
        assert_eq!(missing_for_completion(&dispatch), Some("customer_sign_off"));
        sign_off(&mut dispatch, signed(), at("2026-12-01T07:00:00Z")).expect("signed");
        // Paid work (A) needs a fee, then its collection or invoice.
        assert_eq!(missing_for_completion(&dispatch), Some("fee"));
        record_work(
            &mut dispatch,
            work(8000, false),
            "CNY",
            at("2026-12-01T07:00:00Z"),
        )
        .expect("work");
        assert_eq!(missing_for_completion(&dispatch), Some("charged"));
        let mut invoiced = work(8000, false);
        invoiced.invoiced = true;
        invoiced.invoice_number = "FP-1".into();
        record_work(&mut dispatch, invoiced, "CNY", at("2026-12-01T07:00:00Z")).expect("work");
        assert_eq!(missing_for_completion(&dispatch), None);
        complete(&mut dispatch, at("2026-12-01T07:30:00Z")).expect("completed");
    }

    #[test]
    fn free_contract_and_internal_work_need_no_fee() {
        for kind in [
            ServiceType::BContract,
            ServiceType::CFree,
            ServiceType::DInternal,
        ] {
            let mut dispatch = on_site();
            dispatch.service_type = kind as i32;
            record_work(
                &mut dispatch,
                work(0, false),
                "CNY",
                at("2026-12-01T07:00:00Z"),
            )
            .expect("work");
            sign_off(&mut dispatch, signed(), at("2026-12-01T07:00:00Z")).expect("signed");
            complete(&mut dispatch, at("2026-12-01T07:30:00Z")).expect("completed");
        }
    }

    #[test]
    fn work_is_checked() {
        let mut dispatch = on_site();
        let now = at("2026-12-01T07:00:00Z");
        let mut backwards = work(100, true);
        std::mem::swap(
            &mut backwards.actual_start_time,
            &mut backwards.actual_end_time,
        );
        let error = record_work(&mut dispatch, backwards, "CNY", now).expect_err("backwards");
        assert_eq!(field(&error), "actual_end_time");
        let mut dollars = work(100, true);
        dollars.fee = Some(Money {
            currency_code: "USD".into(),
            amount_minor: 100,
        });
        assert_eq!(
            field(&record_work(&mut dispatch, dollars, "CNY", now).expect_err("usd")),
            "fee"
        );
        let mut no_number = work(100, false);
        no_number.invoiced = true;
        assert_eq!(
            field(&record_work(&mut dispatch, no_number, "CNY", now).expect_err("invoice")),
            "invoice_number"
        );
        let mut part = work(100, true);
        part.parts = vec![DispatchPart {
            description: "电容".into(),
            quantity: 0,
            ..DispatchPart::default()
        }];
        assert_eq!(
            field(&record_work(&mut dispatch, part, "CNY", now).expect_err("quantity")),
            "parts[0].quantity"
        );
        let error = sign_off(&mut dispatch, None, now).expect_err("no sign-off");
        assert_eq!(field(&error), "sign_off");
        let nameless = Some(DispatchCustomerSignOff::default());
        assert_eq!(
            field(&sign_off(&mut dispatch, nameless, now).expect_err("nameless")),
            "sign_off.signed_name"
        );
    }

    #[test]
    fn cancelling_needs_a_reason_and_an_open_visit() {
        let now = at("2026-12-01T07:00:00Z");
        let mut dispatch = queued();
        assert_eq!(
            field(&cancel(&mut dispatch, " ", now).expect_err("reason")),
            "reason"
        );
        cancel(&mut dispatch, "客户取消", now).expect("cancelled");
        assert!(dispatch.queue_date.is_none());
        assert!(cancel(&mut dispatch, "again", now).is_err());
        let mut on_site = on_site();
        cancel(&mut on_site, "缺件", now).expect("cancelled on site");
    }

    #[test]
    fn the_request_state_follows_its_dispatches() {
        let state = |states: &[DispatchState]| {
            let dispatches: Vec<Dispatch> = states
                .iter()
                .map(|state| Dispatch {
                    state: *state as i32,
                    ..Dispatch::default()
                })
                .collect();
            request_state(&dispatches)
        };
        use DispatchState as D;
        assert_eq!(state(&[D::Queued]), ServiceRequestState::Open);
        assert_eq!(
            state(&[D::Queued, D::OnSite]),
            ServiceRequestState::InProgress
        );
        assert_eq!(state(&[D::Completed, D::Queued]), ServiceRequestState::Open);
        assert_eq!(
            state(&[D::Completed, D::Cancelled]),
            ServiceRequestState::Completed
        );
        assert_eq!(state(&[D::Countersigned]), ServiceRequestState::Completed);
        assert_eq!(
            state(&[D::Cancelled, D::Cancelled]),
            ServiceRequestState::Cancelled
        );
        assert!(deletable(&[queued(), queued()]));
        assert!(!deletable(&[queued(), dispatched()]));
    }

    #[test]
    fn yesterdays_work_heads_todays_queue() {
        let monday = at("2026-11-30T09:00:00Z");
        let tuesday = at("2026-12-01T01:00:00Z");
        let mut old = queued();
        old.create_time = Some(to_timestamp(monday));
        old.queue_date = Some(date_of(local_day(monday, "Asia/Shanghai")));
        let mut new = queued();
        new.create_time = Some(to_timestamp(tuesday - chrono::Duration::minutes(30)));
        new.queue_date = Some(date_of(local_day(tuesday, "Asia/Shanghai")));
        let today = local_day(tuesday, "Asia/Shanghai");
        assert!(carry_over(&mut old, today, tuesday));
        assert!(!carry_over(&mut new, today, tuesday));
        assert!(!carry_over(&mut old, today, tuesday), "once per day");
        assert!(old.carried_over);
        assert_eq!(old.carried_over_days, 1);
        assert_eq!(old.queue_date, Some(date_of(today)));
        // Most days carried first, then in the order queued.
        let mut older = queued();
        older.carried_over = true;
        older.carried_over_days = 3;
        older.create_time = Some(to_timestamp(tuesday));
        let mut queue = vec![new.clone(), old.clone(), older.clone()];
        order_queue(&mut queue);
        let names: Vec<&str> = queue.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, [&older.name, &old.name, &new.name]);
        assert_eq!(
            queue.iter().map(|d| d.queue_position).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        // Days skipped by the scan count too.
        let friday = NaiveDate::from_ymd_opt(2026, 12, 4).expect("day");
        assert!(carry_over(&mut new, friday, tuesday));
        assert_eq!(new.carried_over_days, 3);
    }

    #[test]
    fn the_local_day_is_the_tenants() {
        // 23:30 UTC is already the next morning in Shanghai.
        let late = at("2026-11-30T23:30:00Z");
        assert_eq!(
            local_day(late, "Asia/Shanghai"),
            NaiveDate::from_ymd_opt(2026, 12, 1).expect("d")
        );
        assert_eq!(
            local_day(late, "Europe/London"),
            NaiveDate::from_ymd_opt(2026, 11, 30).expect("d")
        );
        assert_eq!(
            local_day(late, ""),
            NaiveDate::from_ymd_opt(2026, 12, 1).expect("d")
        );
        assert_eq!(day_key(local_day(late, "")), "2026-12-01");
    }
}
