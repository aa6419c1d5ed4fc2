//! SLA clocks (服务时限): the first-response and resolution clocks of a
//! ticket, driven by its state and its kind's SLA policy (tenants service).
//!
//! A clock is kept in the ticket itself (`TicketSlaClock`). While it counts,
//! its `due_time` is the anchor: the time counted at any instant is the
//! target minus the `basis` time left until `due_time` (or plus the time
//! since, once overdue), so a pause, a resume or a new target only moves
//! `due_time`, and `elapsed` is stored only when the clock stops counting.
//! A clock turns WARNING at its threshold and BREACHED at its target once,
//! through [`advance`] (the scan), which reports the crossing so that its
//! event is published exactly once: a clock not yet warned keeps a
//! `warning_time`, even while paused, and a breach is never undone.
//!
//! The API calls [`start_clocks`] when a ticket is created and
//! [`on_change`] after every change of a ticket (state, first response,
//! priority, kind), with the [`SlaContext`] of the ticket's (new) kind.

use chrono::{DateTime, Utc};
use kefu_kit::events::{from_timestamp, to_timestamp};
use kefu_proto::v1::{
    BusinessCalendar, Priority, SlaPolicy, SlaTarget, SlaTimeBasis, Ticket, TicketSlaClock,
    TicketSlaClockKind, TicketSlaClockState, TicketSlaTimeBasis, TicketState,
};

use super::business_time::{Basis, BusinessTime};

/// The warning threshold when the policy sets none.
pub const DEFAULT_WARNING_PERCENT: i32 = 80;

/// What the clocks of one ticket need from its tenant: the SLA policy of
/// the ticket's kind (none: no clocks) and the business calendar in the
/// tenant's zone.
#[derive(Debug, Clone)]
pub struct SlaContext {
    /// The policy named by the ticket's kind, if any (and still known).
    pub policy: Option<SlaPolicy>,
    /// The tenant's working time.
    pub time: BusinessTime,
    /// The policy the kind names (`slaPolicies/{id}`), empty for none: a
    /// kind naming a deleted policy keeps running clocks as they are.
    kind_policy: String,
}

impl SlaContext {
    /// The context of `policy` over `calendar` in `time_zone`.
    pub fn new(
        policy: Option<SlaPolicy>,
        calendar: Option<&BusinessCalendar>,
        time_zone: &str,
    ) -> Self {
        Self {
            kind_policy: policy
                .as_ref()
                .map(|policy| policy.name.clone())
                .unwrap_or_default(),
            policy,
            time: BusinessTime::new(calendar, time_zone),
        }
    }

    /// The context of a kind whose `sla_policy` is `kind_policy`
    /// (`slaPolicies/{id}`, empty for none), picked from the tenant's
    /// `policies`.
    pub fn for_kind(
        kind_policy: &str,
        policies: &[SlaPolicy],
        calendar: Option<&BusinessCalendar>,
        time_zone: &str,
    ) -> Self {
        let policy = (!kind_policy.is_empty())
            .then(|| policies.iter().find(|policy| policy.name == kind_policy))
            .flatten()
            .cloned();
        Self {
            kind_policy: kind_policy.to_owned(),
            ..Self::new(policy, calendar, time_zone)
        }
    }

    /// Whether a breach escalates the ticket to the next tier.
    pub fn escalates_on_breach(&self) -> bool {
        self.policy
            .as_ref()
            .is_some_and(|policy| policy.escalate_on_breach)
    }

    /// Whether a breach raises the ticket's priority one step.
    pub fn raises_priority_on_breach(&self) -> bool {
        self.policy
            .as_ref()
            .is_some_and(|policy| policy.raise_priority_on_breach)
    }

    fn pauses_while_pending(&self) -> bool {
        self.policy
            .as_ref()
            .and_then(|policy| policy.pause_while_pending)
            .unwrap_or(true)
    }
}

/// The terms of one clock, read from the policy.
#[derive(Debug, Clone, PartialEq)]
struct Terms {
    policy: String,
    target: chrono::Duration,
    basis: TicketSlaTimeBasis,
    warning_percent: i32,
}

impl Terms {
    /// The time counted when the clock turns WARNING.
    fn warning_at(&self) -> chrono::Duration {
        self.target * self.warning_percent / 100
    }
}

/// The policy's row for `priority`: its own, else the default row
/// (UNSPECIFIED).
pub fn target_for(policy: &SlaPolicy, priority: i32) -> Option<&SlaTarget> {
    policy
        .targets
        .iter()
        .find(|target| target.priority == priority && priority != Priority::Unspecified as i32)
        .or_else(|| {
            policy
                .targets
                .iter()
                .find(|target| target.priority == Priority::Unspecified as i32)
        })
}

/// The terms of clock `kind` for a ticket of `priority` under `sla`.
fn terms(sla: &SlaContext, priority: i32, kind: TicketSlaClockKind) -> Option<Terms> {
    let policy = sla.policy.as_ref()?;
    let row = target_for(policy, priority)?;
    let target = match kind {
        TicketSlaClockKind::FirstResponse => row.first_response_target.as_ref(),
        TicketSlaClockKind::Resolution => row.resolution_target.as_ref(),
        TicketSlaClockKind::Unspecified => None,
    }
    .map(from_duration)
    .filter(|target| *target > chrono::Duration::zero())?;
    let basis = match SlaTimeBasis::try_from(policy.time_basis).unwrap_or_default() {
        SlaTimeBasis::Calendar => TicketSlaTimeBasis::Calendar,
        _ => TicketSlaTimeBasis::BusinessHours,
    };
    let warning_percent = if (1..=99).contains(&policy.warning_percent) {
        policy.warning_percent
    } else {
        DEFAULT_WARNING_PERCENT
    };
    Some(Terms {
        policy: policy.name.clone(),
        target,
        basis,
        warning_percent,
    })
}

/// A chrono duration from a protobuf one.
pub fn from_duration(duration: &prost_types::Duration) -> chrono::Duration {
    chrono::Duration::seconds(duration.seconds)
        + chrono::Duration::nanoseconds(duration.nanos.into())
}

/// A protobuf duration from a chrono one (whole microseconds).
pub fn to_duration(duration: chrono::Duration) -> prost_types::Duration {
    let micros = duration.num_microseconds().unwrap_or(i64::MAX);
    prost_types::Duration {
        seconds: micros.div_euclid(1_000_000),
        nanos: i32::try_from(micros.rem_euclid(1_000_000) * 1_000).unwrap_or(0),
    }
}

fn time_of(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    timestamp.and_then(from_timestamp)
}

fn basis_of(clock: &TicketSlaClock) -> Basis {
    match TicketSlaTimeBasis::try_from(clock.basis).unwrap_or_default() {
        TicketSlaTimeBasis::Calendar => Basis::Calendar,
        _ => Basis::BusinessHours,
    }
}

fn state_of(clock: &TicketSlaClock) -> TicketSlaClockState {
    TicketSlaClockState::try_from(clock.state).unwrap_or_default()
}

fn target_of(clock: &TicketSlaClock) -> chrono::Duration {
    clock
        .target
        .as_ref()
        .map(from_duration)
        .unwrap_or_else(chrono::Duration::zero)
}

fn warning_at(clock: &TicketSlaClock) -> chrono::Duration {
    target_of(clock) * clock.warning_percent / 100
}

/// Whether `clock` exists and has not stopped.
fn is_live(clock: &TicketSlaClock) -> bool {
    state_of(clock) != TicketSlaClockState::Unspecified && clock.stop_time.is_none()
}

/// Whether `clock` counts now (live and not paused).
pub fn is_counting(clock: &TicketSlaClock) -> bool {
    is_live(clock) && !clock.paused
}

/// A clock started at `now` with `terms`.
fn started(time: &BusinessTime, terms: &Terms, now: DateTime<Utc>) -> TicketSlaClock {
    let mut clock = TicketSlaClock {
        state: TicketSlaClockState::Running as i32,
        sla_policy: terms.policy.clone(),
        target: Some(to_duration(terms.target)),
        basis: terms.basis as i32,
        warning_percent: terms.warning_percent,
        start_time: Some(to_timestamp(now)),
        elapsed: Some(to_duration(chrono::Duration::zero())),
        ..TicketSlaClock::default()
    };
    let basis = basis_of(&clock);
    clock.due_time = Some(to_timestamp(time.add(basis, now, terms.target)));
    clock.warning_time = Some(to_timestamp(time.add(basis, now, terms.warning_at())));
    clock
}

/// The time `clock` has counted at `now`, excluding pauses.
pub fn elapsed_at(
    clock: &TicketSlaClock,
    time: &BusinessTime,
    now: DateTime<Utc>,
) -> chrono::Duration {
    let stored = clock
        .elapsed
        .as_ref()
        .map(from_duration)
        .unwrap_or_else(chrono::Duration::zero);
    if !is_counting(clock) {
        return stored;
    }
    let Some(due) = time_of(clock.due_time.as_ref()) else {
        return stored;
    };
    let basis = basis_of(clock);
    let target = target_of(clock);
    if now <= due {
        target - time.between(basis, now, due)
    } else {
        target + time.between(basis, due, now)
    }
}

/// Points `clock` (counting, with `elapsed` counted at `now`) at its due
/// and warning instants.
fn aim(
    clock: &mut TicketSlaClock,
    time: &BusinessTime,
    elapsed: chrono::Duration,
    now: DateTime<Utc>,
) {
    let basis = basis_of(clock);
    clock.elapsed = Some(to_duration(elapsed));
    clock.due_time = Some(to_timestamp(time.add(
        basis,
        now,
        target_of(clock) - elapsed,
    )));
    if clock.warning_time.is_some() {
        clock.warning_time = Some(to_timestamp(time.add(
            basis,
            now,
            warning_at(clock) - elapsed,
        )));
    }
}

/// Pauses a live clock at `now` (the ticket waits on the customer).
fn pause(clock: &mut TicketSlaClock, time: &BusinessTime, now: DateTime<Utc>) {
    if !is_counting(clock) {
        return;
    }
    clock.elapsed = Some(to_duration(elapsed_at(clock, time, now)));
    clock.paused = true;
    clock.pause_time = Some(to_timestamp(now));
    clock.due_time = None;
    // A clock not yet warned keeps its `warning_time` as that mark.
    if state_of(clock) != TicketSlaClockState::Breached {
        clock.state = TicketSlaClockState::Paused as i32;
    }
}

/// Resumes a paused clock at `now`, its paused time not counted.
fn resume(clock: &mut TicketSlaClock, time: &BusinessTime, now: DateTime<Utc>) {
    if !is_live(clock) || !clock.paused {
        return;
    }
    let elapsed = clock
        .elapsed
        .as_ref()
        .map(from_duration)
        .unwrap_or_else(chrono::Duration::zero);
    clock.paused = false;
    clock.pause_time = None;
    aim(clock, time, elapsed, now);
    if state_of(clock) != TicketSlaClockState::Breached {
        clock.state = if clock.warning_time.is_some() {
            TicketSlaClockState::Running
        } else {
            TicketSlaClockState::Warning
        } as i32;
    }
}

/// Stops a live clock at `at`: MET within the target, BREACHED past it.
fn stop(clock: &mut TicketSlaClock, time: &BusinessTime, at: DateTime<Utc>) {
    if !is_live(clock) {
        return;
    }
    let elapsed = elapsed_at(clock, time, at);
    let due = time_of(clock.due_time.as_ref());
    clock.elapsed = Some(to_duration(elapsed));
    clock.stop_time = Some(to_timestamp(at));
    clock.paused = false;
    clock.pause_time = None;
    clock.due_time = None;
    clock.warning_time = None;
    if state_of(clock) == TicketSlaClockState::Breached {
        return;
    }
    if elapsed > target_of(clock) {
        // Past the target before the scan saw it.
        clock.state = TicketSlaClockState::Breached as i32;
        clock.breach_time = Some(to_timestamp(due.filter(|due| *due <= at).unwrap_or(at)));
    } else {
        clock.state = TicketSlaClockState::Met as i32;
    }
}

/// Gives a live `clock` new `terms`, keeping the time it counted: a new
/// priority or kind. A breach or warning already reached stays.
fn retarget(clock: &mut TicketSlaClock, time: &BusinessTime, terms: &Terms, now: DateTime<Utc>) {
    let elapsed = elapsed_at(clock, time, now);
    clock.sla_policy = terms.policy.clone();
    clock.target = Some(to_duration(terms.target));
    clock.basis = terms.basis as i32;
    clock.warning_percent = terms.warning_percent;
    if clock.paused {
        clock.elapsed = Some(to_duration(elapsed));
    } else {
        aim(clock, time, elapsed, now);
    }
}

fn terms_of(clock: &TicketSlaClock) -> Terms {
    Terms {
        policy: clock.sla_policy.clone(),
        target: target_of(clock),
        basis: TicketSlaTimeBasis::try_from(clock.basis).unwrap_or_default(),
        warning_percent: clock.warning_percent,
    }
}

fn clock_mut(ticket: &mut Ticket, kind: TicketSlaClockKind) -> &mut Option<TicketSlaClock> {
    match kind {
        TicketSlaClockKind::FirstResponse | TicketSlaClockKind::Unspecified => {
            &mut ticket.first_response_sla
        }
        TicketSlaClockKind::Resolution => &mut ticket.resolution_sla,
    }
}

const KINDS: [TicketSlaClockKind; 2] = [
    TicketSlaClockKind::FirstResponse,
    TicketSlaClockKind::Resolution,
];

fn ticket_state(ticket: &Ticket) -> TicketState {
    TicketState::try_from(ticket.state).unwrap_or_default()
}

fn is_done(state: TicketState) -> bool {
    matches!(state, TicketState::Resolved | TicketState::Closed)
}

/// Starts the clocks of a new `ticket` at `now` from the policy of its
/// kind for its priority; without a policy (or a row for the priority)
/// the clocks stay empty (UNSPECIFIED).
pub fn start_clocks(ticket: &mut Ticket, sla: &SlaContext, now: DateTime<Utc>) {
    for kind in KINDS {
        *clock_mut(ticket, kind) =
            terms(sla, ticket.priority, kind).map(|terms| started(&sla.time, &terms, now));
    }
    let before = ticket.clone();
    follow(&before, ticket, sla, now);
}

/// Moves the clocks of `after` for a change from `before` at `now`:
/// resolving (or closing) stops both clocks; reopening restarts the
/// resolution clock with its full target; the first public reply
/// (`first_response_time`) stops the first-response clock; PENDING pauses
/// the resolution clock (unless the policy says not to) and leaving it
/// resumes the clock; a new priority, kind or policy re-targets the live
/// clocks keeping their elapsed time. `sla` is the context of `after`'s
/// kind. Call it after every change; an unchanged ticket is left as is.
pub fn on_change(before: &Ticket, after: &mut Ticket, sla: &SlaContext, now: DateTime<Utc>) {
    let was_done = is_done(ticket_state(before));
    let is_now_done = is_done(ticket_state(after));
    if was_done && !is_now_done {
        // Reopened (返修): a fresh resolution clock from now.
        after.resolution_sla = terms(sla, after.priority, TicketSlaClockKind::Resolution)
            .map(|terms| started(&sla.time, &terms, now));
    }
    follow(before, after, sla, now);
}

/// The rules that hold whatever the change: stops, pauses and targets.
fn follow(before: &Ticket, after: &mut Ticket, sla: &SlaContext, now: DateTime<Utc>) {
    let state = ticket_state(after);
    let time = &sla.time;
    if is_done(state) {
        let at = if is_done(ticket_state(before)) {
            now
        } else {
            time_of(after.resolve_time.as_ref()).unwrap_or(now)
        };
        for kind in KINDS {
            if let Some(clock) = clock_mut(after, kind) {
                stop(clock, time, at);
            }
        }
        return;
    }
    if let (Some(replied), Some(clock)) = (
        time_of(after.first_response_time.as_ref()),
        after.first_response_sla.as_mut(),
    ) {
        stop(clock, time, replied.min(now));
    }
    // Targets are read again for a new priority and when the kind names
    // another policy (a new kind, the kind's policy changed); an edit of
    // the policy itself applies to new clocks only, and a deleted policy
    // leaves running clocks as they are. Clocks that stopped keep theirs.
    let new_priority = before.priority != after.priority;
    for kind in KINDS {
        let wanted = terms(sla, after.priority, kind);
        let first_response_given = after.first_response_time.is_some();
        let slot = clock_mut(after, kind);
        match (slot.as_mut(), wanted) {
            (Some(clock), Some(wanted))
                if is_live(clock)
                    && (new_priority || clock.sla_policy != wanted.policy)
                    && terms_of(clock) != wanted =>
            {
                retarget(clock, time, &wanted, now);
            }
            (Some(clock), None) if is_live(clock) && sla.kind_policy.is_empty() => *slot = None,
            (None, Some(wanted)) => {
                let needed = kind == TicketSlaClockKind::Resolution || !first_response_given;
                if needed {
                    let mut clock = started(time, &wanted, now);
                    if let Some(created) = time_of(before.create_time.as_ref()) {
                        // A kind that gains a policy counts from creation.
                        let counted = time.between(Basis::from(wanted.basis), created, now);
                        clock.start_time = Some(to_timestamp(created));
                        aim(&mut clock, time, counted, now);
                    }
                    *slot = Some(clock);
                }
            }
            _ => {}
        }
    }
    let pausing = state == TicketState::Pending && sla.pauses_while_pending();
    if let Some(clock) = after.resolution_sla.as_mut() {
        if pausing {
            pause(clock, time, now);
        } else {
            resume(clock, time, now);
        }
    }
}

impl From<TicketSlaTimeBasis> for Basis {
    fn from(basis: TicketSlaTimeBasis) -> Self {
        match basis {
            TicketSlaTimeBasis::Calendar => Basis::Calendar,
            _ => Basis::BusinessHours,
        }
    }
}

/// A threshold a clock passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// The warning threshold (WARNING).
    Warning,
    /// The target (BREACHED).
    Breach,
}

/// A clock that passed a threshold in [`advance`], with the clock as it
/// is afterwards.
#[derive(Debug, Clone, PartialEq)]
pub struct Crossing {
    /// Which clock.
    pub clock: TicketSlaClockKind,
    /// Which threshold.
    pub threshold: Threshold,
    /// The clock after the crossing (its `due_time` is the breach instant).
    pub snapshot: TicketSlaClock,
}

/// Turns the counting clocks of `ticket` WARNING and BREACHED as `now`
/// passes their thresholds, and reports each crossing once (a clock past
/// both at once reports both, warning first).
pub fn advance(ticket: &mut Ticket, time: &BusinessTime, now: DateTime<Utc>) -> Vec<Crossing> {
    let mut crossings = Vec::new();
    for kind in KINDS {
        let Some(clock) = clock_mut(ticket, kind).as_mut() else {
            continue;
        };
        if !is_counting(clock) {
            continue;
        }
        let mut crossed = Vec::new();
        if time_of(clock.warning_time.as_ref()).is_some_and(|warning| warning <= now) {
            clock.warning_time = None;
            if state_of(clock) == TicketSlaClockState::Running {
                clock.state = TicketSlaClockState::Warning as i32;
            }
            crossed.push(Threshold::Warning);
        }
        let due = time_of(clock.due_time.as_ref());
        if state_of(clock) != TicketSlaClockState::Breached && due.is_some_and(|due| due <= now) {
            clock.state = TicketSlaClockState::Breached as i32;
            clock.breach_time = clock.due_time;
            clock.warning_time = None;
            crossed.push(Threshold::Breach);
        }
        if crossed.is_empty() {
            continue;
        }
        clock.elapsed = Some(to_duration(elapsed_at(clock, time, now)));
        for threshold in crossed {
            crossings.push(Crossing {
                clock: kind,
                threshold,
                snapshot: clock.clone(),
            });
        }
    }
    crossings
}

/// When the scan should look at `ticket` next: the earliest warning or
/// due instant of a counting clock still ahead of its threshold.
pub fn next_check(ticket: &Ticket) -> Option<DateTime<Utc>> {
    [
        ticket.first_response_sla.as_ref(),
        ticket.resolution_sla.as_ref(),
    ]
    .into_iter()
    .flatten()
    .filter(|clock| is_counting(clock))
    .flat_map(|clock| {
        let due = (state_of(clock) != TicketSlaClockState::Breached)
            .then(|| time_of(clock.due_time.as_ref()))
            .flatten();
        [time_of(clock.warning_time.as_ref()), due]
    })
    .flatten()
    .min()
}

/// Fills each clock's `elapsed` as of `now`, for a ticket being read.
pub fn present(ticket: &mut Ticket, time: &BusinessTime, now: DateTime<Utc>) {
    for kind in KINDS {
        if let Some(clock) = clock_mut(ticket, kind)
            .as_mut()
            .filter(|clock| is_counting(clock))
        {
            clock.elapsed = Some(to_duration(
                elapsed_at(clock, time, now).max(chrono::Duration::zero()),
            ));
        }
    }
}

/// The priority one step above `priority` (URGENT stays URGENT; an unset
/// priority reads as NORMAL).
pub fn raised(priority: i32) -> Priority {
    match Priority::try_from(priority).unwrap_or_default() {
        Priority::Low => Priority::Normal,
        Priority::Unspecified | Priority::Normal => Priority::High,
        Priority::High | Priority::Urgent => Priority::Urgent,
    }
}

#[cfg(test)]
mod tests;
