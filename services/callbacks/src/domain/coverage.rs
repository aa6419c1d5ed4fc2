//! Coverage (回访覆盖率): the figures of a campaign's or a policy's tasks —
//! targeted, reached, reached within the due window, open, overdue,
//! failed, members reached, by agent — and why each customer not reached
//! yet is missing. Pure: computed from the tasks and the time passed in.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kefu_kit::events::{from_timestamp, to_timestamp};
use kefu_proto::v1::{
    CallbackAgentCoverage, CallbackCoverage, CallbackOutcome, CallbackTask, CallbackTaskState,
    Channel, UncoveredCustomer, UncoveredReason,
};

fn state(task: &CallbackTask) -> CallbackTaskState {
    CallbackTaskState::try_from(task.state).unwrap_or(CallbackTaskState::Unspecified)
}

fn share(part: i32, whole: i32) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

/// Whether `task` counts as overdue at `now`: OVERDUE, or still open
/// (PENDING or IN_PROGRESS) past its due end before the overdue scan has
/// marked it. The contract's open count is "open and not overdue".
fn is_overdue(task: &CallbackTask, now: DateTime<Utc>) -> bool {
    match state(task) {
        CallbackTaskState::Overdue => true,
        CallbackTaskState::Pending | CallbackTaskState::InProgress => task
            .due_end
            .as_ref()
            .and_then(from_timestamp)
            .is_some_and(|due_end| due_end < now),
        _ => false,
    }
}

/// Whether `task` counts as reached within its window: DONE, and done by
/// its due end.
fn within_window(task: &CallbackTask) -> bool {
    state(task) == CallbackTaskState::Done && task.completed_within_window
}

/// The figures of `tasks` (one per targeted customer for a campaign; the
/// tasks of the interval for a policy). `agent_names` gives the agents'
/// display names (`users/{user}` → name), by which `by_agent` is ordered;
/// the caller fills `name` and the interval.
pub fn compute(
    tasks: &[CallbackTask],
    agent_names: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> CallbackCoverage {
    let mut coverage = CallbackCoverage {
        compute_time: Some(to_timestamp(now)),
        ..CallbackCoverage::default()
    };
    let mut agents: BTreeMap<String, CallbackAgentCoverage> = BTreeMap::new();
    for task in tasks {
        let task_state = state(task);
        if task_state == CallbackTaskState::Cancelled {
            coverage.cancelled_count += 1;
            continue;
        }
        coverage.targeted_count += 1;
        let reached = task_state == CallbackTaskState::Done;
        let in_window = within_window(task);
        let overdue = is_overdue(task, now);
        match task_state {
            CallbackTaskState::Done => coverage.reached_count += 1,
            CallbackTaskState::Failed => coverage.failed_count += 1,
            _ if overdue => coverage.overdue_count += 1,
            _ => coverage.open_count += 1,
        }
        if in_window {
            coverage.within_window_count += 1;
        }
        if task.customer_is_member {
            coverage.member_targeted_count += 1;
            if reached {
                coverage.member_reached_count += 1;
            }
        }
        if !task.assignee.is_empty() {
            let agent =
                agents
                    .entry(task.assignee.clone())
                    .or_insert_with(|| CallbackAgentCoverage {
                        agent: task.assignee.clone(),
                        agent_display_name: agent_names
                            .get(&task.assignee)
                            .cloned()
                            .unwrap_or_default(),
                        ..CallbackAgentCoverage::default()
                    });
            agent.assigned_count += 1;
            if reached {
                agent.reached_count += 1;
            }
            if in_window {
                agent.within_window_count += 1;
            }
            if overdue {
                agent.overdue_count += 1;
            }
        }
    }
    coverage.reached_share = share(coverage.reached_count, coverage.targeted_count);
    coverage.within_window_share = share(coverage.within_window_count, coverage.targeted_count);
    coverage.member_reached_share = share(
        coverage.member_reached_count,
        coverage.member_targeted_count,
    );
    let mut by_agent: Vec<CallbackAgentCoverage> = agents
        .into_values()
        .map(|mut agent| {
            agent.reached_share = share(agent.reached_count, agent.assigned_count);
            agent.within_window_share = share(agent.within_window_count, agent.assigned_count);
            agent
        })
        .collect();
    by_agent.sort_by(|left, right| {
        (&left.agent_display_name, &left.agent).cmp(&(&right.agent_display_name, &right.agent))
    });
    coverage.by_agent = by_agent;
    coverage
}

/// Why the customer of `task` is not covered yet at `now`, or None when
/// the task is DONE (covered) or CANCELLED (not targeted).
pub fn uncovered_reason(task: &CallbackTask, now: DateTime<Utc>) -> Option<UncoveredReason> {
    let last_outcome = task
        .latest_attempt
        .as_ref()
        .map_or(CallbackOutcome::Unspecified as i32, |attempt| {
            attempt.outcome
        });
    match state(task) {
        CallbackTaskState::Done | CallbackTaskState::Cancelled => None,
        _ if is_overdue(task, now) => Some(UncoveredReason::Overdue),
        CallbackTaskState::Failed => {
            let outcome = if task.outcome != CallbackOutcome::Unspecified as i32 {
                task.outcome
            } else {
                last_outcome
            };
            Some(match CallbackOutcome::try_from(outcome) {
                Ok(CallbackOutcome::WrongNumber) => UncoveredReason::WrongNumber,
                Ok(CallbackOutcome::Refused) => UncoveredReason::Refused,
                _ => UncoveredReason::Unreachable,
            })
        }
        _ => {
            let phone_channel = task.channel == Channel::Phone as i32
                || task.channel == Channel::Sms as i32
                || task.channel == Channel::Unspecified as i32;
            if phone_channel && task.contact_phone.is_empty() {
                Some(UncoveredReason::NoContactPhone)
            } else if task
                .appointment_time
                .as_ref()
                .and_then(from_timestamp)
                .is_some_and(|appointment| appointment > now)
            {
                Some(UncoveredReason::Appointment)
            } else if task.attempt_count == 0 {
                Some(UncoveredReason::NotAttempted)
            } else {
                Some(UncoveredReason::Retrying)
            }
        }
    }
}

/// The customers of `tasks` not covered yet at `now`, one per task, in the
/// tasks' order; `is_member` and `display_name` come from the task.
pub fn uncovered(tasks: &[CallbackTask], now: DateTime<Utc>) -> Vec<UncoveredCustomer> {
    tasks
        .iter()
        .filter_map(|task| {
            let reason = uncovered_reason(task, now)?;
            Some(UncoveredCustomer {
                customer: task.customer.clone(),
                customer_display_name: task.customer_display_name.clone(),
                customer_is_member: task.customer_is_member,
                callback_task: task.name.clone(),
                task_state: task.state,
                assignee: task.assignee.clone(),
                attempt_count: task.attempt_count,
                last_outcome: task
                    .latest_attempt
                    .as_ref()
                    .map_or(CallbackOutcome::Unspecified as i32, |attempt| {
                        attempt.outcome
                    }),
                due_end: task.due_end,
                reason: reason as i32,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::CallbackAttempt;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn task(name: &str, state: CallbackTaskState, member: bool, assignee: &str) -> CallbackTask {
        CallbackTask {
            name: format!("callbackTasks/{name}"),
            customer: format!("customers/{name}"),
            customer_is_member: member,
            assignee: assignee.into(),
            state: state as i32,
            channel: Channel::Phone as i32,
            contact_phone: "+8613800138000".into(),
            due_end: Some(to_timestamp(at("2026-10-08T00:00:00Z"))),
            ..CallbackTask::default()
        }
    }

    fn with_attempts(mut task: CallbackTask, count: i32, outcome: CallbackOutcome) -> CallbackTask {
        task.attempt_count = count;
        task.latest_attempt = Some(CallbackAttempt {
            outcome: outcome as i32,
            ..CallbackAttempt::default()
        });
        task
    }

    fn done(name: &str, member: bool, assignee: &str, in_window: bool) -> CallbackTask {
        let mut task = with_attempts(
            task(name, CallbackTaskState::Done, member, assignee),
            1,
            CallbackOutcome::Reached,
        );
        task.outcome = CallbackOutcome::Reached as i32;
        task.completed_within_window = in_window;
        task
    }

    fn now() -> DateTime<Utc> {
        at("2026-10-03T00:00:00Z")
    }

    #[test]
    fn shares_count_targeted_customers_and_leave_cancelled_out() {
        let tasks = vec![
            done("a", true, "users/wang", true),
            done("b", true, "users/li", false),
            task("c", CallbackTaskState::Pending, true, "users/wang"),
            task("d", CallbackTaskState::Overdue, false, "users/li"),
            task("e", CallbackTaskState::Cancelled, true, "users/li"),
        ];
        let names = BTreeMap::from([
            ("users/wang".to_owned(), "王芳".to_owned()),
            ("users/li".to_owned(), "李雷".to_owned()),
        ]);
        let coverage = compute(&tasks, &names, now());
        assert_eq!(coverage.targeted_count, 4);
        assert_eq!(coverage.reached_count, 2);
        assert_eq!(coverage.reached_share, 0.5);
        assert_eq!(coverage.within_window_count, 1);
        assert_eq!(coverage.within_window_share, 0.25);
        assert_eq!(coverage.open_count, 1);
        assert_eq!(coverage.overdue_count, 1);
        assert_eq!(coverage.cancelled_count, 1);
        assert_eq!(coverage.member_targeted_count, 3);
        assert_eq!(coverage.member_reached_count, 2);
        assert!((coverage.member_reached_share - 2.0 / 3.0).abs() < 1e-9);
        let agents: Vec<(&str, i32, i32, i32)> = coverage
            .by_agent
            .iter()
            .map(|agent| {
                (
                    agent.agent_display_name.as_str(),
                    agent.assigned_count,
                    agent.reached_count,
                    agent.overdue_count,
                )
            })
            .collect();
        // Ordered by display name (李 before 王 in code point order).
        assert_eq!(agents, vec![("李雷", 2, 1, 1), ("王芳", 2, 1, 0)]);
        assert_eq!(coverage.by_agent[0].reached_share, 0.5);
    }

    #[test]
    fn open_tasks_past_their_window_count_as_overdue() {
        // Past due_end (2026-10-08) but not yet marked by the overdue scan.
        let later = at("2026-10-09T00:00:00Z");
        let tasks = vec![
            task("pending", CallbackTaskState::Pending, false, "users/wang"),
            task(
                "working",
                CallbackTaskState::InProgress,
                false,
                "users/wang",
            ),
            task("marked", CallbackTaskState::Overdue, false, "users/wang"),
            task("failed", CallbackTaskState::Failed, false, "users/wang"),
        ];
        let coverage = compute(&tasks, &BTreeMap::new(), later);
        assert_eq!(coverage.open_count, 0);
        assert_eq!(coverage.overdue_count, 3);
        assert_eq!(coverage.failed_count, 1);
        assert_eq!(coverage.by_agent[0].overdue_count, 3);
        assert_eq!(
            uncovered_reason(&tasks[0], later),
            Some(UncoveredReason::Overdue)
        );
        // Within the window they are still open.
        let coverage = compute(&tasks, &BTreeMap::new(), now());
        assert_eq!(coverage.open_count, 2);
        assert_eq!(coverage.overdue_count, 1);
    }

    #[test]
    fn nothing_targeted_gives_zero_shares() {
        let coverage = compute(&[], &BTreeMap::new(), now());
        assert_eq!(coverage.targeted_count, 0);
        assert_eq!(coverage.reached_share, 0.0);
        assert_eq!(coverage.member_reached_share, 0.0);
        assert!(coverage.compute_time.is_some());
    }

    #[test]
    fn each_missing_customer_has_its_reason() {
        let mut appointment = with_attempts(
            task("appointment", CallbackTaskState::Pending, false, ""),
            1,
            CallbackOutcome::CallBackLater,
        );
        appointment.appointment_time = Some(to_timestamp(at("2026-10-04T02:00:00Z")));
        let mut no_phone = task("no-phone", CallbackTaskState::Pending, false, "");
        no_phone.contact_phone.clear();
        let mut wrong = with_attempts(
            task("wrong", CallbackTaskState::Failed, false, ""),
            1,
            CallbackOutcome::WrongNumber,
        );
        wrong.outcome = CallbackOutcome::WrongNumber as i32;
        let refused = with_attempts(
            task("refused", CallbackTaskState::Failed, false, ""),
            1,
            CallbackOutcome::Refused,
        );
        let mut unreachable = with_attempts(
            task("unreachable", CallbackTaskState::Failed, false, ""),
            3,
            CallbackOutcome::NoAnswer,
        );
        unreachable.outcome = CallbackOutcome::NoAnswer as i32;
        let tasks = vec![
            done("reached", true, "", true),
            task("fresh", CallbackTaskState::Pending, true, ""),
            with_attempts(
                task("retrying", CallbackTaskState::Pending, false, ""),
                1,
                CallbackOutcome::NoAnswer,
            ),
            appointment,
            task("late", CallbackTaskState::Overdue, false, ""),
            unreachable,
            wrong,
            refused,
            no_phone,
            task("gone", CallbackTaskState::Cancelled, false, ""),
        ];
        let reasons: Vec<(String, UncoveredReason)> = uncovered(&tasks, now())
            .into_iter()
            .map(|missing| {
                (
                    missing.customer.trim_start_matches("customers/").to_owned(),
                    UncoveredReason::try_from(missing.reason).expect("reason"),
                )
            })
            .collect();
        let expected = vec![
            ("fresh", UncoveredReason::NotAttempted),
            ("retrying", UncoveredReason::Retrying),
            ("appointment", UncoveredReason::Appointment),
            ("late", UncoveredReason::Overdue),
            ("unreachable", UncoveredReason::Unreachable),
            ("wrong", UncoveredReason::WrongNumber),
            ("refused", UncoveredReason::Refused),
            ("no-phone", UncoveredReason::NoContactPhone),
        ];
        assert_eq!(
            reasons,
            expected
                .into_iter()
                .map(|(name, reason)| (name.to_owned(), reason))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_appointment_passed_is_no_longer_the_reason() {
        let mut task = with_attempts(
            task("a", CallbackTaskState::Pending, false, ""),
            1,
            CallbackOutcome::CallBackLater,
        );
        task.appointment_time = Some(to_timestamp(at("2026-10-02T00:00:00Z")));
        assert_eq!(
            uncovered_reason(&task, now()),
            Some(UncoveredReason::Retrying)
        );
        let uncovered = uncovered(&[task], now());
        assert_eq!(
            uncovered[0].last_outcome,
            CallbackOutcome::CallBackLater as i32
        );
    }
}
