//! Attempts and outcomes (回访结果): which tasks may be worked, what an
//! outcome does to its task (REACHED completes it; NO_ANSWER retries after
//! the policy's spacing until the maximum of counting attempts, then fails
//! it; WRONG_NUMBER and REFUSED fail it; CALL_BACK_LATER sets the new
//! appointment), and which appointments are acceptable.
//!
//! The tenant's calendar is passed in as a predicate (is this instant in
//! quiet hours or on a holiday?) and a pusher (the first allowed instant
//! from then), so the rules stay pure and the window arithmetic lives in
//! one place (`domain::window`).

use chrono::{DateTime, Duration, Utc};
use kefu_kit::events::{from_timestamp, to_timestamp};
use kefu_proto::v1::{
    Actor, ActorKind, CallbackAttempt, CallbackOutcome, CallbackRetryPolicy, CallbackSmsState,
    CallbackTask, CallbackTaskState,
};

use crate::error::{CallbacksError, Result};

/// The collection under a task naming its attempts.
pub const ATTEMPTS: &str = "attempts";

/// Counting attempts when the policy sets none.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;

/// The retry spacing when the policy sets none.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::hours(2);

/// How long an SMS survey waits for its reply when the policy sets nothing.
pub const DEFAULT_SMS_REPLY_WINDOW: Duration = Duration::hours(48);

/// How far ahead an appointment may be set.
pub const APPOINTMENT_HORIZON: Duration = Duration::days(30);

/// How close to an appointment a call counts as keeping it: the customer
/// chose the time, so their own do-not-disturb does not block it.
pub const APPOINTMENT_GRACE: Duration = Duration::minutes(30);

/// The longest record of a call, in characters.
pub const MAX_NOTES: usize = 4_000;

/// The retry settings of a policy with the contract's defaults applied and
/// its bounds enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Counting attempts (NO_ANSWER) before the task fails: 1 to 10.
    pub max_attempts: i32,
    /// The least time between an unanswered attempt's end and the next
    /// call: 10 minutes to 2 days.
    pub interval: Duration,
    /// Whether used-up phone attempts send the survey by SMS.
    pub sms_fallback: bool,
    /// How long an SMS survey waits for its reply: 1 hour to 7 days.
    pub sms_reply_window: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            interval: DEFAULT_RETRY_INTERVAL,
            sms_fallback: false,
            sms_reply_window: DEFAULT_SMS_REPLY_WINDOW,
        }
    }
}

/// A protobuf duration as chrono's, when set and positive.
fn duration_of(duration: Option<&prost_types::Duration>) -> Option<Duration> {
    let duration = duration?;
    let total = Duration::seconds(duration.seconds) + Duration::nanoseconds(duration.nanos.into());
    (total > Duration::zero()).then_some(total)
}

impl Retry {
    /// The settings of `retry` (a policy's), defaults for what is unset and
    /// values clamped into the contract's bounds.
    pub fn of(retry: Option<&CallbackRetryPolicy>) -> Self {
        let defaults = Self::default();
        let Some(retry) = retry else {
            return defaults;
        };
        let max_attempts = if retry.max_attempts <= 0 {
            defaults.max_attempts
        } else {
            retry.max_attempts.min(10)
        };
        let interval = duration_of(retry.retry_interval.as_ref())
            .unwrap_or(defaults.interval)
            .clamp(Duration::minutes(10), Duration::days(2));
        let sms_reply_window = duration_of(retry.sms_reply_window.as_ref())
            .unwrap_or(defaults.sms_reply_window)
            .clamp(Duration::hours(1), Duration::days(7));
        Self {
            max_attempts,
            interval,
            sms_fallback: retry.sms_fallback,
            sms_reply_window,
        }
    }
}

/// The state of `task`.
pub fn state_of(task: &CallbackTask) -> CallbackTaskState {
    CallbackTaskState::try_from(task.state).unwrap_or(CallbackTaskState::Unspecified)
}

/// True for the states a task ends in.
pub fn is_terminal(state: CallbackTaskState) -> bool {
    matches!(
        state,
        CallbackTaskState::Done | CallbackTaskState::Failed | CallbackTaskState::Cancelled
    )
}

/// FAILED_PRECONDITION (`ILLEGAL_TRANSITION`) for a task that has ended:
/// DONE, FAILED and CANCELLED tasks take no more attempts.
pub fn check_workable(task: &CallbackTask) -> Result<()> {
    let state = state_of(task);
    if is_terminal(state) {
        return Err(CallbacksError::precondition(
            format!(
                "{} is {}: it takes no more attempts",
                task.name,
                state
                    .as_str_name()
                    .trim_start_matches("CALLBACK_TASK_STATE_")
            ),
            "ILLEGAL_TRANSITION",
        ));
    }
    Ok(())
}

/// The state of `task` while an attempt is open: IN_PROGRESS, but an
/// OVERDUE task stays OVERDUE (it was escalated once and stays so until it
/// ends).
pub fn working_state(task: &CallbackTask) -> CallbackTaskState {
    if state_of(task) == CallbackTaskState::Overdue {
        CallbackTaskState::Overdue
    } else {
        CallbackTaskState::InProgress
    }
}

/// True while an attempt waits for its outcome.
pub fn is_open(attempt: &CallbackAttempt) -> bool {
    attempt.outcome == CallbackOutcome::Unspecified as i32 && attempt.end_time.is_none()
}

/// Closes `attempt`, still open when its task ended in `task_state`
/// (cancelled): it ends `now` without an outcome, recorded by the system.
/// A queued SMS is FAILED with `failure_reason` "task cancelled" (or "task
/// ended"), so it is never sent; one already sent is EXPIRED, so no later
/// reply is taken for it. False, with nothing changed, when it was closed
/// already.
pub fn close_with_task(
    attempt: &mut CallbackAttempt,
    task_state: CallbackTaskState,
    now: DateTime<Utc>,
) -> bool {
    if !is_open(attempt) {
        return false;
    }
    attempt.end_time = Some(to_timestamp(now));
    attempt.recorder = Some(Actor {
        kind: ActorKind::System as i32,
        ..Actor::default()
    });
    if let Some(sms) = attempt.sms.as_mut() {
        if sms.state == CallbackSmsState::Queued as i32 {
            sms.state = CallbackSmsState::Failed as i32;
            sms.failure_reason = if task_state == CallbackTaskState::Cancelled {
                "task cancelled".to_owned()
            } else {
                "task ended".to_owned()
            };
        } else if sms.state == CallbackSmsState::Sent as i32
            || sms.state == CallbackSmsState::Delivered as i32
        {
            sms.state = CallbackSmsState::Expired as i32;
        }
    }
    true
}

/// FAILED_PRECONDITION (`ATTEMPT_IN_PROGRESS`) when the task's latest
/// attempt is still open.
pub fn check_no_open_attempt(task: &CallbackTask) -> Result<()> {
    if let Some(latest) = &task.latest_attempt
        && is_open(latest)
    {
        return Err(CallbacksError::precondition(
            format!("{} is still open: record its outcome first", latest.name),
            "ATTEMPT_IN_PROGRESS",
        ));
    }
    Ok(())
}

/// Whether a call may start at `now`: FAILED_PRECONDITION `QUIET_HOURS` in
/// the tenant's quiet hours or holidays, always (an appointment is never in
/// them, and the grace around one does not reach into them);
/// `DO_NOT_DISTURB` in the customer's do-not-disturb, unless the task's
/// appointment covers now (the customer chose that time).
pub fn check_may_call(
    task: &CallbackTask,
    now: DateTime<Utc>,
    quiet: bool,
    do_not_disturb: bool,
) -> Result<()> {
    if quiet {
        return Err(CallbacksError::precondition(
            "now is in the tenant's quiet hours or a holiday: call at the task's next_call_time",
            "QUIET_HOURS",
        ));
    }
    let appointment_covers_now = task
        .appointment_time
        .as_ref()
        .and_then(from_timestamp)
        .is_some_and(|appointment| (now - appointment).abs() <= APPOINTMENT_GRACE);
    if appointment_covers_now {
        return Ok(());
    }
    if do_not_disturb {
        return Err(CallbacksError::precondition(
            "the customer asked not to be disturbed now: call at the task's next_call_time",
            "DO_NOT_DISTURB",
        ));
    }
    Ok(())
}

/// The appointment of a CALL_BACK_LATER outcome: required, in the future,
/// within [`APPOINTMENT_HORIZON`], outside the tenant's quiet hours and
/// holidays (`quiet`). INVALID_ARGUMENT naming `field` otherwise, with
/// reason `QUIET_HOURS` for a quiet time.
pub fn check_appointment(
    appointment: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
    quiet: impl Fn(DateTime<Utc>) -> bool,
    field: &str,
) -> Result<DateTime<Utc>> {
    let Some(timestamp) = appointment else {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} is required with CALL_BACK_LATER"),
        ));
    };
    let appointment = from_timestamp(timestamp)
        .ok_or_else(|| CallbacksError::invalid(field, format!("{field} is not a valid time")))?;
    if appointment <= now {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} must be in the future"),
        ));
    }
    if appointment > now + APPOINTMENT_HORIZON {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} must be within 30 days"),
        ));
    }
    if quiet(appointment) {
        return Err(CallbacksError::invalid_because(
            field,
            format!("{field} falls in the tenant's quiet hours or on a holiday"),
            "QUIET_HOURS",
        ));
    }
    Ok(appointment)
}

/// How many of `attempts` count toward the maximum: the unanswered ones
/// (CALL_BACK_LATER does not count, and the other outcomes end the task).
pub fn counting(attempts: &[CallbackAttempt]) -> i32 {
    let count = attempts
        .iter()
        .filter(|attempt| attempt.outcome == CallbackOutcome::NoAnswer as i32)
        .count();
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// What an outcome did to its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// The task's new state.
    pub state: CallbackTaskState,
    /// True when the task ended (DONE or FAILED).
    pub ended: bool,
    /// True when the attempts ran out without reaching the customer.
    pub exhausted: bool,
}

/// Applies `outcome` (of an attempt ending at `end`) to `task`, given
/// `counted_before` counting attempts before this one and the policy's
/// `retry`; `next_allowed` pushes an instant to the first one a call is
/// allowed (out of quiet hours, holidays and do-not-disturb). Sets the
/// task's state, outcome, appointment, next call time, end time and
/// `completed_within_window`. The caller has checked the task is workable
/// and, for CALL_BACK_LATER, the `appointment`.
#[allow(clippy::too_many_arguments)]
pub fn settle(
    task: &mut CallbackTask,
    outcome: CallbackOutcome,
    appointment: Option<DateTime<Utc>>,
    counted_before: i32,
    retry: &Retry,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    next_allowed: impl Fn(DateTime<Utc>) -> DateTime<Utc>,
) -> Settled {
    let overdue = state_of(task) == CallbackTaskState::Overdue;
    let waiting = if overdue {
        CallbackTaskState::Overdue
    } else {
        CallbackTaskState::Pending
    };
    let max_attempts = if task.max_attempts > 0 {
        task.max_attempts
    } else {
        retry.max_attempts
    };
    let (state, exhausted) = match outcome {
        CallbackOutcome::Reached => (CallbackTaskState::Done, false),
        CallbackOutcome::WrongNumber | CallbackOutcome::Refused => {
            (CallbackTaskState::Failed, false)
        }
        CallbackOutcome::NoAnswer if counted_before + 1 >= max_attempts => {
            (CallbackTaskState::Failed, true)
        }
        CallbackOutcome::NoAnswer
        | CallbackOutcome::CallBackLater
        | CallbackOutcome::Unspecified => (waiting, false),
    };
    task.state = state as i32;
    let ended = is_terminal(state);
    if ended {
        task.outcome = outcome as i32;
        task.end_time = Some(to_timestamp(now));
        task.next_call_time = None;
        let due_end = task.due_end.as_ref().and_then(from_timestamp);
        task.completed_within_window =
            state == CallbackTaskState::Done && due_end.is_none_or(|due_end| end <= due_end);
    } else if outcome == CallbackOutcome::CallBackLater {
        task.appointment_time = appointment.map(to_timestamp);
        task.next_call_time = appointment.map(to_timestamp);
    } else {
        // The spacing runs from the end of the unanswered call; a pending
        // appointment still ahead wins over the retry time.
        let retry_at = next_allowed((end + retry.interval).max(now));
        let ahead = task
            .appointment_time
            .as_ref()
            .and_then(from_timestamp)
            .filter(|appointment| *appointment > now);
        task.next_call_time = Some(to_timestamp(ahead.map_or(retry_at, |a| a.max(retry_at))));
    }
    Settled {
        state,
        ended,
        exhausted,
    }
}

/// The attempt's name, `callbackTasks/{task}/attempts/{attempt}`.
pub fn attempt_name(task: &str, attempt: uuid::Uuid) -> String {
    format!("{task}/{ATTEMPTS}/{attempt}")
}

/// The task and attempt ids of an attempt name, when it is one.
pub fn attempt_ids(name: &str) -> Option<(uuid::Uuid, uuid::Uuid)> {
    let mut parts = name.split('/');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (Some("callbackTasks"), Some(task), Some(ATTEMPTS), Some(attempt), None) => Some((
            uuid::Uuid::parse_str(task).ok()?,
            uuid::Uuid::parse_str(attempt).ok()?,
        )),
        _ => None,
    }
}

/// `text` as the record of a call: at most [`MAX_NOTES`] characters, or
/// INVALID_ARGUMENT naming `field`.
pub fn notes(text: &str, field: &str) -> Result<String> {
    if text.chars().count() > MAX_NOTES {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} holds at most {MAX_NOTES} characters"),
        ));
    }
    Ok(text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use kefu_kit::error::ServiceError;

    use super::*;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, minute, 0)
            .single()
            .expect("a valid time")
    }

    fn task(state: CallbackTaskState) -> CallbackTask {
        CallbackTask {
            name: "callbackTasks/0190d0a0-0000-7000-8000-000000000001".into(),
            state: state as i32,
            max_attempts: 3,
            due_end: Some(to_timestamp(at(20, 0))),
            ..CallbackTask::default()
        }
    }

    fn anytime(instant: DateTime<Utc>) -> DateTime<Utc> {
        instant
    }

    #[test]
    fn reached_completes_the_task_within_its_window() {
        let mut task = task(CallbackTaskState::InProgress);
        let settled = settle(
            &mut task,
            CallbackOutcome::Reached,
            None,
            0,
            &Retry::default(),
            at(10, 5),
            at(10, 6),
            anytime,
        );
        assert_eq!(settled.state, CallbackTaskState::Done);
        assert!(settled.ended);
        assert_eq!(task.outcome, CallbackOutcome::Reached as i32);
        assert!(task.completed_within_window);
        assert_eq!(task.end_time, Some(to_timestamp(at(10, 6))));
        assert_eq!(task.next_call_time, None);
    }

    #[test]
    fn reached_after_the_window_is_not_within_it() {
        let mut task = task(CallbackTaskState::Overdue);
        settle(
            &mut task,
            CallbackOutcome::Reached,
            None,
            0,
            &Retry::default(),
            at(21, 0),
            at(21, 0),
            anytime,
        );
        assert_eq!(task.state, CallbackTaskState::Done as i32);
        assert!(!task.completed_within_window);
    }

    #[test]
    fn no_answer_retries_after_the_spacing_then_fails_at_the_maximum() {
        let retry = Retry::default();
        let mut task = task(CallbackTaskState::InProgress);
        let first = settle(
            &mut task,
            CallbackOutcome::NoAnswer,
            None,
            0,
            &retry,
            at(9, 0),
            at(9, 0),
            anytime,
        );
        assert_eq!(first.state, CallbackTaskState::Pending);
        assert_eq!(task.next_call_time, Some(to_timestamp(at(11, 0))));
        let second = settle(
            &mut task,
            CallbackOutcome::NoAnswer,
            None,
            1,
            &retry,
            at(11, 0),
            at(11, 0),
            anytime,
        );
        assert_eq!(second.state, CallbackTaskState::Pending);
        let third = settle(
            &mut task,
            CallbackOutcome::NoAnswer,
            None,
            2,
            &retry,
            at(13, 0),
            at(13, 0),
            anytime,
        );
        assert_eq!(third.state, CallbackTaskState::Failed);
        assert!(third.exhausted);
        assert_eq!(task.outcome, CallbackOutcome::NoAnswer as i32);
        assert!(!task.completed_within_window);
    }

    #[test]
    fn the_retry_is_pushed_out_of_quiet_hours() {
        let mut task = task(CallbackTaskState::InProgress);
        // Quiet from 21:00: a retry due at 21:30 moves to 08:00 next day.
        let next_morning = Utc
            .with_ymd_and_hms(2026, 12, 2, 8, 0, 0)
            .single()
            .expect("a valid time");
        let push = |instant: DateTime<Utc>| {
            if instant >= at(21, 0) {
                next_morning
            } else {
                instant
            }
        };
        settle(
            &mut task,
            CallbackOutcome::NoAnswer,
            None,
            0,
            &Retry::default(),
            at(19, 30),
            at(19, 31),
            push,
        );
        assert_eq!(task.next_call_time, Some(to_timestamp(next_morning)));
    }

    #[test]
    fn an_overdue_task_stays_overdue_while_retried() {
        let mut task = task(CallbackTaskState::Overdue);
        let settled = settle(
            &mut task,
            CallbackOutcome::NoAnswer,
            None,
            0,
            &Retry::default(),
            at(9, 0),
            at(9, 0),
            anytime,
        );
        assert_eq!(settled.state, CallbackTaskState::Overdue);
    }

    #[test]
    fn wrong_number_and_refused_fail_the_task_at_once() {
        for outcome in [CallbackOutcome::WrongNumber, CallbackOutcome::Refused] {
            let mut task = task(CallbackTaskState::InProgress);
            let settled = settle(
                &mut task,
                outcome,
                None,
                0,
                &Retry::default(),
                at(9, 0),
                at(9, 0),
                anytime,
            );
            assert_eq!(settled.state, CallbackTaskState::Failed);
            assert!(!settled.exhausted);
            assert_eq!(task.outcome, outcome as i32);
        }
    }

    #[test]
    fn call_back_later_sets_the_appointment_and_does_not_count() {
        let mut task = task(CallbackTaskState::InProgress);
        let settled = settle(
            &mut task,
            CallbackOutcome::CallBackLater,
            Some(at(15, 0)),
            2,
            &Retry::default(),
            at(9, 0),
            at(9, 0),
            anytime,
        );
        assert_eq!(settled.state, CallbackTaskState::Pending);
        assert_eq!(task.appointment_time, Some(to_timestamp(at(15, 0))));
        assert_eq!(task.next_call_time, Some(to_timestamp(at(15, 0))));
        let attempts = [
            CallbackAttempt {
                outcome: CallbackOutcome::NoAnswer as i32,
                ..CallbackAttempt::default()
            },
            CallbackAttempt {
                outcome: CallbackOutcome::CallBackLater as i32,
                ..CallbackAttempt::default()
            },
        ];
        assert_eq!(counting(&attempts), 1);
    }

    #[test]
    fn appointments_must_be_ahead_within_30_days_and_not_quiet() {
        let now = at(9, 0);
        let quiet = |instant: DateTime<Utc>| instant >= at(21, 0);
        let field = "appointment_time";
        assert_eq!(
            check_appointment(Some(&to_timestamp(at(15, 0))), now, quiet, field).expect("fine"),
            at(15, 0)
        );
        let reason = |error: CallbacksError| {
            (
                error.field_violations()[0].field.clone(),
                error.specific_reason(),
            )
        };
        assert_eq!(
            reason(check_appointment(None, now, quiet, field).expect_err("missing")),
            (field.to_owned(), None)
        );
        assert_eq!(
            reason(
                check_appointment(Some(&to_timestamp(at(8, 0))), now, quiet, field)
                    .expect_err("past")
            ),
            (field.to_owned(), None)
        );
        assert_eq!(
            reason(
                check_appointment(Some(&to_timestamp(at(22, 0))), now, quiet, field)
                    .expect_err("quiet")
            ),
            (field.to_owned(), Some("QUIET_HOURS"))
        );
        let far = now + Duration::days(31);
        assert!(check_appointment(Some(&to_timestamp(far)), now, |_| false, field).is_err());
    }

    #[test]
    fn ended_tasks_and_open_attempts_are_refused() {
        for state in [
            CallbackTaskState::Done,
            CallbackTaskState::Failed,
            CallbackTaskState::Cancelled,
        ] {
            let error = check_workable(&task(state)).expect_err("ended");
            assert_eq!(error.specific_reason(), Some("ILLEGAL_TRANSITION"));
        }
        assert!(check_workable(&task(CallbackTaskState::Overdue)).is_ok());
        assert_eq!(
            working_state(&task(CallbackTaskState::Overdue)),
            CallbackTaskState::Overdue
        );
        assert_eq!(
            working_state(&task(CallbackTaskState::Pending)),
            CallbackTaskState::InProgress
        );
        let mut open = task(CallbackTaskState::InProgress);
        open.latest_attempt = Some(CallbackAttempt {
            name: "callbackTasks/x/attempts/y".into(),
            ..CallbackAttempt::default()
        });
        assert_eq!(
            check_no_open_attempt(&open)
                .expect_err("open")
                .specific_reason(),
            Some("ATTEMPT_IN_PROGRESS")
        );
    }

    #[test]
    fn quiet_hours_block_a_call_unless_an_appointment_covers_now() {
        let mut pending = task(CallbackTaskState::Pending);
        assert_eq!(
            check_may_call(&pending, at(22, 0), true, false)
                .expect_err("quiet")
                .specific_reason(),
            Some("QUIET_HOURS")
        );
        assert_eq!(
            check_may_call(&pending, at(12, 0), false, true)
                .expect_err("dnd")
                .specific_reason(),
            Some("DO_NOT_DISTURB")
        );
        pending.appointment_time = Some(to_timestamp(at(12, 10)));
        assert!(check_may_call(&pending, at(12, 0), false, true).is_ok());
    }

    #[test]
    fn the_grace_around_an_appointment_does_not_reach_into_quiet_hours() {
        // An appointment at 20:50 with quiet hours from 21:00: a call at
        // 21:10 is still refused, only the customer's own do-not-disturb
        // gives way.
        let mut pending = task(CallbackTaskState::Pending);
        pending.appointment_time = Some(to_timestamp(at(20, 50)));
        assert_eq!(
            check_may_call(&pending, at(21, 10), true, false)
                .expect_err("quiet")
                .specific_reason(),
            Some("QUIET_HOURS")
        );
        assert!(check_may_call(&pending, at(20, 55), false, true).is_ok());
    }

    #[test]
    fn an_attempt_open_when_its_task_is_cancelled_is_closed_unsent() {
        let queued = || CallbackAttempt {
            name: "callbackTasks/x/attempts/y".into(),
            channel: kefu_proto::v1::Channel::Sms as i32,
            sms: Some(kefu_proto::v1::CallbackSmsDelivery {
                state: CallbackSmsState::Queued as i32,
                ..Default::default()
            }),
            ..CallbackAttempt::default()
        };
        let mut attempt = queued();
        assert!(close_with_task(
            &mut attempt,
            CallbackTaskState::Cancelled,
            at(9, 0)
        ));
        assert!(!is_open(&attempt));
        assert_eq!(attempt.end_time, Some(to_timestamp(at(9, 0))));
        assert_eq!(attempt.outcome, CallbackOutcome::Unspecified as i32);
        let sms = attempt.sms.clone().expect("sms");
        assert_eq!(sms.state, CallbackSmsState::Failed as i32);
        assert_eq!(sms.failure_reason, "task cancelled");
        // Closed once: a second close changes nothing.
        assert!(!close_with_task(
            &mut attempt,
            CallbackTaskState::Cancelled,
            at(10, 0)
        ));
        assert_eq!(attempt.end_time, Some(to_timestamp(at(9, 0))));
        // One already sent takes no reply any more.
        let mut sent = queued();
        if let Some(sms) = sent.sms.as_mut() {
            sms.state = CallbackSmsState::Sent as i32;
        }
        assert!(close_with_task(
            &mut sent,
            CallbackTaskState::Failed,
            at(9, 0)
        ));
        assert_eq!(
            sent.sms.map(|sms| sms.state),
            Some(CallbackSmsState::Expired as i32)
        );
        // An open call just ends.
        let mut call = CallbackAttempt::default();
        assert!(close_with_task(
            &mut call,
            CallbackTaskState::Cancelled,
            at(9, 0)
        ));
        assert!(!is_open(&call));
    }

    #[test]
    fn retry_settings_take_defaults_and_bounds() {
        assert_eq!(Retry::of(None), Retry::default());
        let retry = Retry::of(Some(&CallbackRetryPolicy {
            max_attempts: 50,
            retry_interval: Some(prost_types::Duration {
                seconds: 60,
                nanos: 0,
            }),
            ..CallbackRetryPolicy::default()
        }));
        assert_eq!(retry.max_attempts, 10);
        assert_eq!(retry.interval, Duration::minutes(10));
        assert_eq!(retry.sms_reply_window, DEFAULT_SMS_REPLY_WINDOW);
    }

    #[test]
    fn attempt_names_round_trip() {
        let task = uuid::Uuid::now_v7();
        let attempt = uuid::Uuid::now_v7();
        let name = attempt_name(&format!("callbackTasks/{task}"), attempt);
        assert_eq!(attempt_ids(&name), Some((task, attempt)));
        assert_eq!(attempt_ids("callbackTasks/x/attempts/y"), None);
    }
}
