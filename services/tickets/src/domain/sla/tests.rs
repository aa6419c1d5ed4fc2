//! The SLA clocks' rules over a Monday–Friday 09:00–18:00 calendar in
//! Shanghai, with a policy of 4 business hours to the first reply and 16
//! to resolution for NORMAL tickets.

use chrono::{Duration, NaiveDateTime, TimeZone};
use kefu_proto::v1::{DayHours, TicketSupportTier, TimeOfDay, TimeSpan, WeeklySchedule};

use super::*;

fn shanghai(text: &str) -> DateTime<Utc> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time");
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&naive)
        .earliest()
        .expect("exists")
        .with_timezone(&Utc)
}

fn hours(n: i64) -> Option<prost_types::Duration> {
    Some(to_duration(Duration::hours(n)))
}

fn row(priority: Priority, first: i64, resolution: i64) -> SlaTarget {
    SlaTarget {
        priority: priority as i32,
        first_response_target: hours(first),
        resolution_target: hours(resolution),
    }
}

fn policy() -> SlaPolicy {
    SlaPolicy {
        name: "slaPolicies/repair-standard".into(),
        display_name: "Repairs".into(),
        targets: vec![
            row(Priority::Normal, 4, 16),
            row(Priority::High, 1, 8),
            row(Priority::Unspecified, 8, 40),
        ],
        raise_priority_on_breach: true,
        escalate_on_breach: true,
        ..SlaPolicy::default()
    }
}

fn calendar() -> BusinessCalendar {
    BusinessCalendar {
        business_hours: Some(WeeklySchedule {
            days: (1..=5)
                .map(|day| DayHours {
                    day,
                    spans: vec![TimeSpan {
                        start: Some(TimeOfDay {
                            hours: 9,
                            minutes: 0,
                        }),
                        end: Some(TimeOfDay {
                            hours: 18,
                            minutes: 0,
                        }),
                    }],
                })
                .collect(),
        }),
        ..BusinessCalendar::default()
    }
}

fn context(policy: Option<SlaPolicy>) -> SlaContext {
    SlaContext::new(policy, Some(&calendar()), "Asia/Shanghai")
}

/// A NORMAL ticket created (and its clocks started) at `now`.
fn created(sla: &SlaContext, now: DateTime<Utc>) -> Ticket {
    let mut ticket = Ticket {
        name: "tickets/0193a0a0-0000-7000-8000-000000000001".into(),
        state: TicketState::New as i32,
        priority: Priority::Normal as i32,
        tier: TicketSupportTier::FrontLine as i32,
        create_time: Some(to_timestamp(now)),
        ..Ticket::default()
    };
    start_clocks(&mut ticket, sla, now);
    ticket
}

/// `ticket` changed by `change` at `now`, its clocks moved.
fn changed(
    ticket: &Ticket,
    sla: &SlaContext,
    now: DateTime<Utc>,
    change: impl FnOnce(&mut Ticket),
) -> Ticket {
    let mut after = ticket.clone();
    change(&mut after);
    on_change(ticket, &mut after, sla, now);
    after
}

fn first(ticket: &Ticket) -> &TicketSlaClock {
    ticket
        .first_response_sla
        .as_ref()
        .expect("first-response clock")
}

fn resolution(ticket: &Ticket) -> &TicketSlaClock {
    ticket.resolution_sla.as_ref().expect("resolution clock")
}

fn at(clock_time: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    clock_time.and_then(from_timestamp)
}

fn state(clock: &TicketSlaClock) -> TicketSlaClockState {
    TicketSlaClockState::try_from(clock.state).expect("state")
}

fn elapsed(clock: &TicketSlaClock) -> Duration {
    from_duration(clock.elapsed.as_ref().expect("elapsed"))
}

fn thresholds(crossings: &[Crossing]) -> Vec<(TicketSlaClockKind, Threshold)> {
    crossings
        .iter()
        .map(|crossing| (crossing.clock, crossing.threshold))
        .collect()
}

const FRIDAY_FIVE: &str = "2026-12-04 17:00";

#[test]
fn the_policy_row_follows_the_priority_else_the_default_row() {
    let policy = policy();
    let normal = target_for(&policy, Priority::Normal as i32).expect("normal");
    assert_eq!(normal.first_response_target, hours(4));
    let low = target_for(&policy, Priority::Low as i32).expect("default row");
    assert_eq!(low.first_response_target, hours(8));
    let mut without_default = policy.clone();
    without_default
        .targets
        .retain(|target| target.priority != Priority::Unspecified as i32);
    assert!(target_for(&without_default, Priority::Low as i32).is_none());
}

#[test]
fn the_kind_names_the_policy() {
    let policies = vec![policy()];
    let chosen = SlaContext::for_kind(
        "slaPolicies/repair-standard",
        &policies,
        Some(&calendar()),
        "Asia/Shanghai",
    );
    assert_eq!(chosen.policy, Some(policy()));
    let none = SlaContext::for_kind("", &policies, None, "Asia/Shanghai");
    assert!(none.policy.is_none());
    let unknown = SlaContext::for_kind("slaPolicies/gone", &policies, None, "");
    assert!(unknown.policy.is_none());
}

#[test]
fn no_policy_no_clocks() {
    let sla = context(None);
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    assert!(ticket.first_response_sla.is_none());
    assert!(ticket.resolution_sla.is_none());
    assert!(next_check(&ticket).is_none());
}

#[test]
fn friday_five_pm_with_four_business_hours_is_due_monday_noon() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let clock = first(&ticket);
    assert_eq!(state(clock), TicketSlaClockState::Running);
    assert_eq!(clock.sla_policy, "slaPolicies/repair-standard");
    assert_eq!(clock.basis, TicketSlaTimeBasis::BusinessHours as i32);
    assert_eq!(clock.warning_percent, 80);
    assert_eq!(at(clock.start_time.as_ref()), Some(shanghai(FRIDAY_FIVE)));
    assert_eq!(
        at(clock.due_time.as_ref()),
        Some(shanghai("2026-12-07 12:00"))
    );
    // 80 % of 4 h = 3 h 12 min.
    assert_eq!(
        at(clock.warning_time.as_ref()),
        Some(shanghai("2026-12-07 11:12"))
    );
    // 16 h: 1 Friday, 9 Monday, 6 Tuesday.
    assert_eq!(
        at(resolution(&ticket).due_time.as_ref()),
        Some(shanghai("2026-12-08 15:00"))
    );
    assert_eq!(next_check(&ticket), Some(shanghai("2026-12-07 11:12")));
}

#[test]
fn warning_then_breach_each_once() {
    let sla = context(Some(policy()));
    let mut ticket = created(&sla, shanghai(FRIDAY_FIVE));
    assert!(advance(&mut ticket, &sla.time, shanghai("2026-12-07 11:11")).is_empty());
    let warned = advance(&mut ticket, &sla.time, shanghai("2026-12-07 11:12"));
    assert_eq!(
        thresholds(&warned),
        vec![(TicketSlaClockKind::FirstResponse, Threshold::Warning)]
    );
    assert_eq!(state(first(&ticket)), TicketSlaClockState::Warning);
    assert!(first(&ticket).warning_time.is_none());
    assert_eq!(elapsed(&warned[0].snapshot), Duration::minutes(192));
    assert!(advance(&mut ticket, &sla.time, shanghai("2026-12-07 11:30")).is_empty());
    assert_eq!(next_check(&ticket), Some(shanghai("2026-12-07 12:00")));
    let breached = advance(&mut ticket, &sla.time, shanghai("2026-12-07 12:01"));
    assert_eq!(
        thresholds(&breached),
        vec![(TicketSlaClockKind::FirstResponse, Threshold::Breach)]
    );
    let clock = first(&ticket);
    assert_eq!(state(clock), TicketSlaClockState::Breached);
    assert_eq!(
        at(clock.breach_time.as_ref()),
        Some(shanghai("2026-12-07 12:00"))
    );
    assert_eq!(elapsed(clock), Duration::hours(4) + Duration::minutes(1));
    assert!(advance(&mut ticket, &sla.time, shanghai("2026-12-07 13:00")).is_empty());
    // Only the resolution clock is left to check.
    assert_eq!(
        next_check(&ticket),
        at(resolution(&ticket).warning_time.as_ref())
    );
}

#[test]
fn a_late_scan_reports_warning_and_breach_together() {
    let sla = context(Some(policy()));
    let mut ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let crossings = advance(&mut ticket, &sla.time, shanghai("2026-12-07 13:00"));
    assert_eq!(
        thresholds(&crossings),
        vec![
            (TicketSlaClockKind::FirstResponse, Threshold::Warning),
            (TicketSlaClockKind::FirstResponse, Threshold::Breach),
        ]
    );
}

#[test]
fn the_first_public_reply_stops_the_first_response_clock() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let replied = shanghai("2026-12-07 10:00");
    let after = changed(&ticket, &sla, replied, |ticket| {
        ticket.state = TicketState::Open as i32;
        ticket.first_response_time = Some(to_timestamp(replied));
    });
    let clock = first(&after);
    assert_eq!(state(clock), TicketSlaClockState::Met);
    assert_eq!(at(clock.stop_time.as_ref()), Some(replied));
    assert_eq!(elapsed(clock), Duration::hours(2));
    assert!(clock.due_time.is_none());
    // The resolution clock runs on.
    assert_eq!(state(resolution(&after)), TicketSlaClockState::Running);
    // A reply after the breach leaves it BREACHED, stopped.
    let mut late = ticket.clone();
    advance(&mut late, &sla.time, shanghai("2026-12-07 12:30"));
    let replied = shanghai("2026-12-07 13:00");
    let after = changed(&late, &sla, replied, |ticket| {
        ticket.first_response_time = Some(to_timestamp(replied));
    });
    assert_eq!(state(first(&after)), TicketSlaClockState::Breached);
    assert_eq!(at(first(&after).stop_time.as_ref()), Some(replied));
}

#[test]
fn pending_pauses_the_resolution_clock_and_resume_adds_the_pause() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let pended = changed(&ticket, &sla, shanghai("2026-12-07 10:00"), |ticket| {
        ticket.state = TicketState::Pending as i32;
    });
    let clock = resolution(&pended);
    assert_eq!(state(clock), TicketSlaClockState::Paused);
    assert!(clock.paused);
    assert!(clock.due_time.is_none());
    assert_eq!(
        at(clock.pause_time.as_ref()),
        Some(shanghai("2026-12-07 10:00"))
    );
    assert_eq!(elapsed(clock), Duration::hours(2));
    // The first-response clock does not pause.
    assert_eq!(state(first(&pended)), TicketSlaClockState::Running);
    // A day waiting on the customer is not counted: 14 h left from
    // Tuesday 10:00 is Wednesday 15:00.
    let mut paused = pended.clone();
    assert!(
        advance(&mut paused, &sla.time, shanghai("2026-12-09 10:00"))
            .iter()
            .all(|crossing| crossing.clock == TicketSlaClockKind::FirstResponse)
    );
    let resumed = changed(&pended, &sla, shanghai("2026-12-08 10:00"), |ticket| {
        ticket.state = TicketState::Open as i32;
    });
    let clock = resolution(&resumed);
    assert_eq!(state(clock), TicketSlaClockState::Running);
    assert!(!clock.paused);
    assert!(clock.pause_time.is_none());
    assert_eq!(
        at(clock.due_time.as_ref()),
        Some(shanghai("2026-12-09 15:00"))
    );
    assert_eq!(
        elapsed_at(clock, &sla.time, shanghai("2026-12-08 12:00")),
        Duration::hours(4)
    );
}

#[test]
fn a_policy_may_keep_the_clock_running_while_pending() {
    let mut policy = policy();
    policy.pause_while_pending = Some(false);
    let sla = context(Some(policy));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let pended = changed(&ticket, &sla, shanghai("2026-12-07 10:00"), |ticket| {
        ticket.state = TicketState::Pending as i32;
    });
    assert_eq!(state(resolution(&pended)), TicketSlaClockState::Running);
}

#[test]
fn a_warning_missed_before_a_pause_is_reported_after_the_resume() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    // Resolution warns at 12 h 48 min: Tuesday 11:48. Pended at 12:00
    // before any scan saw it.
    let pended = changed(&ticket, &sla, shanghai("2026-12-08 12:00"), |ticket| {
        ticket.state = TicketState::Pending as i32;
    });
    assert_eq!(state(resolution(&pended)), TicketSlaClockState::Paused);
    assert!(resolution(&pended).warning_time.is_some());
    let mut resumed = changed(&pended, &sla, shanghai("2026-12-09 09:00"), |ticket| {
        ticket.state = TicketState::Open as i32;
    });
    let crossings = advance(&mut resumed, &sla.time, shanghai("2026-12-09 09:00"));
    assert!(thresholds(&crossings).contains(&(TicketSlaClockKind::Resolution, Threshold::Warning)));
    assert_eq!(state(resolution(&resumed)), TicketSlaClockState::Warning);
}

#[test]
fn a_warned_clock_resumes_warned_without_a_second_warning() {
    let sla = context(Some(policy()));
    let mut ticket = created(&sla, shanghai(FRIDAY_FIVE));
    advance(&mut ticket, &sla.time, shanghai("2026-12-08 12:00"));
    assert_eq!(state(resolution(&ticket)), TicketSlaClockState::Warning);
    let pended = changed(&ticket, &sla, shanghai("2026-12-08 12:00"), |ticket| {
        ticket.state = TicketState::Pending as i32;
    });
    assert_eq!(state(resolution(&pended)), TicketSlaClockState::Paused);
    let mut resumed = changed(&pended, &sla, shanghai("2026-12-09 09:00"), |ticket| {
        ticket.state = TicketState::Open as i32;
    });
    assert_eq!(state(resolution(&resumed)), TicketSlaClockState::Warning);
    assert!(advance(&mut resumed, &sla.time, shanghai("2026-12-09 09:01")).is_empty());
}

#[test]
fn a_breached_clock_stays_breached_while_paused() {
    let sla = context(Some(policy()));
    let mut ticket = created(&sla, shanghai(FRIDAY_FIVE));
    advance(&mut ticket, &sla.time, shanghai("2026-12-09 09:00"));
    assert_eq!(state(resolution(&ticket)), TicketSlaClockState::Breached);
    let pended = changed(&ticket, &sla, shanghai("2026-12-09 10:00"), |ticket| {
        ticket.state = TicketState::Pending as i32;
    });
    let clock = resolution(&pended);
    assert_eq!(state(clock), TicketSlaClockState::Breached);
    assert!(clock.paused);
    // 1 h Friday, 9 Monday, 9 Tuesday, 1 Wednesday.
    assert_eq!(elapsed(clock), Duration::hours(20));
    let resumed = changed(&pended, &sla, shanghai("2026-12-10 09:00"), |ticket| {
        ticket.state = TicketState::Open as i32;
    });
    let clock = resolution(&resumed);
    assert_eq!(state(clock), TicketSlaClockState::Breached);
    assert_eq!(
        elapsed_at(clock, &sla.time, shanghai("2026-12-10 10:00")),
        Duration::hours(21)
    );
    assert_eq!(next_check(&resumed), None);
}

#[test]
fn resolving_stops_both_clocks_and_reopening_restarts_resolution() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let resolved_at = shanghai("2026-12-07 11:00");
    let resolved = changed(&ticket, &sla, resolved_at, |ticket| {
        ticket.state = TicketState::Resolved as i32;
        ticket.resolve_time = Some(to_timestamp(resolved_at));
    });
    for clock in [first(&resolved), resolution(&resolved)] {
        assert_eq!(state(clock), TicketSlaClockState::Met);
        assert_eq!(at(clock.stop_time.as_ref()), Some(resolved_at));
        assert_eq!(elapsed(clock), Duration::hours(3));
    }
    assert_eq!(next_check(&resolved), None);
    let closed = changed(&resolved, &sla, shanghai("2026-12-10 11:00"), |ticket| {
        ticket.state = TicketState::Closed as i32;
    });
    assert_eq!(closed.resolution_sla, resolved.resolution_sla);
    let reopened_at = shanghai("2026-12-10 11:00");
    let reopened = changed(&closed, &sla, reopened_at, |ticket| {
        ticket.state = TicketState::Open as i32;
    });
    let clock = resolution(&reopened);
    assert_eq!(state(clock), TicketSlaClockState::Running);
    assert_eq!(at(clock.start_time.as_ref()), Some(reopened_at));
    assert!(clock.stop_time.is_none());
    // 16 h from Thursday 11:00: 7 Thursday, 9 Friday.
    assert_eq!(
        at(clock.due_time.as_ref()),
        Some(shanghai("2026-12-11 18:00"))
    );
    // The first-response clock keeps its result.
    assert_eq!(state(first(&reopened)), TicketSlaClockState::Met);
}

#[test]
fn a_resolution_past_the_target_before_the_scan_is_breached() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let resolved_at = shanghai("2026-12-07 13:00");
    let resolved = changed(&ticket, &sla, resolved_at, |ticket| {
        ticket.state = TicketState::Resolved as i32;
        ticket.resolve_time = Some(to_timestamp(resolved_at));
    });
    let clock = first(&resolved);
    assert_eq!(state(clock), TicketSlaClockState::Breached);
    assert_eq!(
        at(clock.breach_time.as_ref()),
        Some(shanghai("2026-12-07 12:00"))
    );
    assert_eq!(state(resolution(&resolved)), TicketSlaClockState::Met);
}

#[test]
fn a_new_priority_retargets_keeping_the_elapsed_time() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    // Monday 09:30: 1 h 30 min counted; HIGH allows 1 h to reply, 8 h to
    // resolve.
    let now = shanghai("2026-12-07 09:30");
    let mut high = changed(&ticket, &sla, now, |ticket| {
        ticket.priority = Priority::High as i32;
    });
    let clock = first(&high);
    assert_eq!(clock.target, hours(1));
    // Half an hour over: the target was reached at Friday's close, which
    // is the same business instant as Monday's opening.
    assert_eq!(
        at(clock.due_time.as_ref()),
        Some(shanghai("2026-12-07 09:00"))
    );
    assert_eq!(
        at(resolution(&high).due_time.as_ref()),
        Some(shanghai("2026-12-07 16:00"))
    );
    let crossings = advance(&mut high, &sla.time, now);
    assert_eq!(
        thresholds(&crossings),
        vec![
            (TicketSlaClockKind::FirstResponse, Threshold::Warning),
            (TicketSlaClockKind::FirstResponse, Threshold::Breach),
        ]
    );
    // Unchanged terms leave the clocks as they are.
    let same = changed(&ticket, &sla, now, |ticket| ticket.subject = "x".into());
    assert_eq!(same.first_response_sla, ticket.first_response_sla);
}

#[test]
fn a_kind_without_policy_clears_live_clocks_and_one_with_counts_from_creation() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let none = context(None);
    let cleared = changed(&ticket, &none, shanghai("2026-12-07 10:00"), |_| {});
    assert!(cleared.first_response_sla.is_none());
    assert!(cleared.resolution_sla.is_none());
    let regained = changed(&cleared, &sla, shanghai("2026-12-07 10:00"), |_| {});
    let clock = first(&regained);
    assert_eq!(at(clock.start_time.as_ref()), Some(shanghai(FRIDAY_FIVE)));
    assert_eq!(
        at(clock.due_time.as_ref()),
        Some(shanghai("2026-12-07 12:00"))
    );
}

#[test]
fn calendar_time_policies_count_around_the_clock() {
    let mut policy = policy();
    policy.time_basis = SlaTimeBasis::Calendar as i32;
    policy.targets = vec![row(Priority::Unspecified, 24, 72)];
    policy.warning_percent = 50;
    let sla = context(Some(policy));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let clock = resolution(&ticket);
    assert_eq!(clock.basis, TicketSlaTimeBasis::Calendar as i32);
    assert_eq!(clock.warning_percent, 50);
    assert_eq!(
        at(clock.due_time.as_ref()),
        Some(shanghai("2026-12-07 17:00"))
    );
    assert_eq!(
        at(clock.warning_time.as_ref()),
        Some(shanghai("2026-12-06 05:00"))
    );
}

#[test]
fn present_fills_the_elapsed_time_of_counting_clocks() {
    let sla = context(Some(policy()));
    let mut ticket = created(&sla, shanghai(FRIDAY_FIVE));
    present(&mut ticket, &sla.time, shanghai("2026-12-07 10:30"));
    assert_eq!(elapsed(first(&ticket)), Duration::minutes(150));
}

#[test]
fn priorities_step_up() {
    assert_eq!(raised(Priority::Low as i32), Priority::Normal);
    assert_eq!(raised(Priority::Normal as i32), Priority::High);
    assert_eq!(raised(Priority::High as i32), Priority::Urgent);
    assert_eq!(raised(Priority::Urgent as i32), Priority::Urgent);
}

#[test]
fn durations_round_trip() {
    let duration = Duration::minutes(192) + Duration::milliseconds(5);
    assert_eq!(from_duration(&to_duration(duration)), duration);
    assert_eq!(
        to_duration(Duration::seconds(-1)),
        prost_types::Duration {
            seconds: -1,
            nanos: 0
        }
    );
}

#[test]
fn an_edited_policy_applies_to_new_clocks_and_a_new_priority_only() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let mut edited = policy();
    edited.targets = vec![
        row(Priority::Unspecified, 2, 20),
        row(Priority::High, 1, 10),
    ];
    let edited = context(Some(edited));
    let now = shanghai("2026-12-07 09:30");
    let same = changed(&ticket, &edited, now, |ticket| ticket.subject = "x".into());
    assert_eq!(same.first_response_sla, ticket.first_response_sla);
    assert_eq!(same.resolution_sla, ticket.resolution_sla);
    let high = changed(&ticket, &edited, now, |ticket| {
        ticket.priority = Priority::High as i32;
    });
    assert_eq!(resolution(&high).target, hours(10));
}

#[test]
fn a_deleted_policy_keeps_running_clocks() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let deleted = SlaContext::for_kind(
        "slaPolicies/repair-standard",
        &[],
        Some(&calendar()),
        "Asia/Shanghai",
    );
    let after = changed(&ticket, &deleted, shanghai("2026-12-07 09:30"), |ticket| {
        ticket.priority = Priority::High as i32;
    });
    assert_eq!(after.first_response_sla, ticket.first_response_sla);
    assert_eq!(after.resolution_sla, ticket.resolution_sla);
}

#[test]
fn a_kind_naming_another_policy_retargets_at_the_next_evaluation() {
    let sla = context(Some(policy()));
    let ticket = created(&sla, shanghai(FRIDAY_FIVE));
    let mut other = policy();
    other.name = "slaPolicies/express".into();
    other.targets = vec![row(Priority::Unspecified, 2, 8)];
    let other = context(Some(other));
    let now = shanghai("2026-12-07 09:00");
    let after = changed(&ticket, &other, now, |_| {});
    let clock = first(&after);
    assert_eq!(clock.sla_policy, "slaPolicies/express");
    // 1 h counted (Friday 17:00–18:00) of 2 h: due Monday 10:00.
    assert_eq!(
        at(clock.due_time.as_ref()),
        Some(shanghai("2026-12-07 10:00"))
    );
    assert_eq!(at(clock.start_time.as_ref()), Some(shanghai(FRIDAY_FIVE)));
}
