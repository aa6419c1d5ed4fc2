//! Callback policies (回访制度): what a policy must hold to be saved, and
//! the defaults the contract promises (phone, least loaded, 3 attempts two
//! hours apart, active). An unset due window stays unset: the scheduler then
//! reads the tenant's `callback_due_window` (3 days by default).

use kefu_proto::v1::{
    CallbackAssignment, CallbackAssignmentMode, CallbackPolicy, CallbackRetryPolicy,
    CallbackTrigger, Channel, DayOfWeek, TimeOfDay, WeeklySchedule,
};
use prost_types::Duration;

use super::script::{MAX_DESCRIPTION, MAX_NAME, check_label, check_plain};
use crate::error::{CallbacksError, Result};

/// The collection of policies.
pub const POLICIES: &str = "callbackPolicies";

const HOUR: i64 = 3_600;
const DAY: i64 = 24 * HOUR;

/// The default of `retry.max_attempts`.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 3;
/// The default of `retry.retry_interval`: 2 hours.
pub const DEFAULT_RETRY_SECONDS: i64 = 2 * HOUR;
/// The default of `retry.sms_reply_window`: 48 hours.
pub const DEFAULT_SMS_REPLY_SECONDS: i64 = 48 * HOUR;

/// The most ticket kinds a filter lists.
const MAX_KINDS: usize = 50;
/// The most ticket categories a filter lists.
const MAX_CATEGORIES: usize = 100;

fn seconds(seconds: i64) -> Option<Duration> {
    Some(Duration { seconds, nanos: 0 })
}

/// A duration's length in whole and fractional seconds, for range checks.
fn length(duration: &Duration) -> f64 {
    duration.seconds as f64 + f64::from(duration.nanos) / 1e9
}

/// The duration at `path` within `min`..=`max` seconds.
fn check_range(path: &str, duration: &Duration, min: i64, max: i64, what: &str) -> Result<()> {
    let value = length(duration);
    if value < min as f64 || value > max as f64 {
        return Err(CallbacksError::invalid(
            path,
            format!("{path} must be {what}"),
        ));
    }
    Ok(())
}

/// Whether `name` is `{collection}/{id}`.
fn named_in(name: &str, collection: &str) -> bool {
    kefu_kit::resource::id_in(name, collection).is_some()
}

/// A resource name at `path`, empty or of `collection`.
fn check_name(path: &str, name: &str, collection: &str) -> Result<()> {
    if !name.is_empty() && !named_in(name, collection) {
        return Err(CallbacksError::invalid(
            path,
            format!("{path} {name:?} is not a {collection}/… name"),
        ));
    }
    Ok(())
}

fn check_time(path: &str, time: Option<&TimeOfDay>) -> Result<()> {
    let valid =
        time.is_some_and(|time| (0..24).contains(&time.hours) && (0..60).contains(&time.minutes));
    if !valid {
        return Err(CallbacksError::invalid(
            path,
            format!("{path} must be a time of day (hours 0–23, minutes 0–59)"),
        ));
    }
    Ok(())
}

/// A weekly schedule: known weekdays, each once, with valid spans.
pub fn check_schedule(path: &str, schedule: &WeeklySchedule) -> Result<()> {
    let mut seen = Vec::new();
    for (index, day) in schedule.days.iter().enumerate() {
        let at = format!("{path}.days[{index}]");
        let known =
            DayOfWeek::try_from(day.day).is_ok_and(|weekday| weekday != DayOfWeek::Unspecified);
        if !known || seen.contains(&day.day) {
            let field = format!("{at}.day");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} must be a weekday listed once"),
            ));
        }
        seen.push(day.day);
        for (span_index, span) in day.spans.iter().enumerate() {
            let span_at = format!("{at}.spans[{span_index}]");
            check_time(&format!("{span_at}.start"), span.start.as_ref())?;
            check_time(&format!("{span_at}.end"), span.end.as_ref())?;
        }
    }
    Ok(())
}

/// Checks a policy about to be saved (`prefix` is the request's field,
/// `callback_policy`) and fills its defaults. References to scripts and
/// surveys are checked against the store by the caller.
pub fn check_policy(policy: &mut CallbackPolicy, prefix: &str) -> Result<()> {
    let path = |field: &str| format!("{prefix}.{field}");
    check_label(
        &path("display_name"),
        policy.display_name.as_ref(),
        MAX_NAME,
    )?;
    check_plain(&path("description"), &policy.description, MAX_DESCRIPTION)?;
    let trigger = CallbackTrigger::try_from(policy.trigger).unwrap_or(CallbackTrigger::Unspecified);
    if trigger == CallbackTrigger::Unspecified {
        let field = path("trigger");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} is required"),
        ));
    }
    let filter = policy.trigger_filter.get_or_insert_with(Default::default);
    if filter.ticket_kinds.len() > MAX_KINDS {
        let field = path("trigger_filter.ticket_kinds");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} lists more than {MAX_KINDS} kinds"),
        ));
    }
    if filter.ticket_categories.len() > MAX_CATEGORIES {
        let field = path("trigger_filter.ticket_categories");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} lists more than {MAX_CATEGORIES} categories"),
        ));
    }
    for (index, kind) in filter.ticket_kinds.iter().enumerate() {
        if kind.trim().is_empty() {
            let field = path(&format!("trigger_filter.ticket_kinds[{index}]"));
            return Err(CallbacksError::invalid(&field, format!("{field} is empty")));
        }
    }
    for (index, category) in filter.ticket_categories.iter().enumerate() {
        if category.trim().is_empty() {
            let field = path(&format!("trigger_filter.ticket_categories[{index}]"));
            return Err(CallbacksError::invalid(&field, format!("{field} is empty")));
        }
    }
    check_name(
        &path("trigger_filter.customer_segment"),
        &filter.customer_segment,
        "segments",
    )?;
    match &policy.start_delay {
        None => policy.start_delay = seconds(0),
        Some(delay) => check_range(
            &path("start_delay"),
            delay,
            0,
            7 * DAY,
            "between 0 and 7 days",
        )?,
    }
    if let Some(window) = &policy.due_window {
        check_range(
            &path("due_window"),
            window,
            HOUR,
            90 * DAY,
            "between 1 hour and 90 days (a zero window is empty)",
        )?;
    }
    if let Some(hours) = &policy.calling_hours {
        check_schedule(&path("calling_hours"), hours)?;
    }
    match Channel::try_from(policy.channel) {
        Ok(Channel::Unspecified) => policy.channel = Channel::Phone as i32,
        Ok(Channel::Phone | Channel::Sms) => {}
        _ => {
            let field = path("channel");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} must be CHANNEL_PHONE or CHANNEL_SMS"),
            ));
        }
    }
    let assignment = policy
        .assignment
        .get_or_insert_with(CallbackAssignment::default);
    match CallbackAssignmentMode::try_from(assignment.mode) {
        Ok(CallbackAssignmentMode::Unspecified) => {
            assignment.mode = CallbackAssignmentMode::TeamLeastLoaded as i32;
        }
        Ok(_) => {}
        Err(_) => {
            let field = path("assignment.mode");
            return Err(CallbacksError::invalid(
                &field,
                format!("{field} is not an assignment mode"),
            ));
        }
    }
    if assignment.team.is_empty() {
        let field = path("assignment.team");
        return Err(CallbacksError::invalid(
            &field,
            format!(
                "{field} is required: the team whose agents call (the fallback of CUSTOMER_OWNER)"
            ),
        ));
    }
    check_name(&path("assignment.team"), &assignment.team, "teams")?;
    let retry = policy
        .retry
        .get_or_insert_with(CallbackRetryPolicy::default);
    if retry.max_attempts == 0 {
        retry.max_attempts = DEFAULT_MAX_ATTEMPTS;
    } else if !(1..=10).contains(&retry.max_attempts) {
        let field = path("retry.max_attempts");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} must be 1 to 10"),
        ));
    }
    match &retry.retry_interval {
        None => retry.retry_interval = seconds(DEFAULT_RETRY_SECONDS),
        Some(interval) => check_range(
            &path("retry.retry_interval"),
            interval,
            10 * 60,
            2 * DAY,
            "between 10 minutes and 2 days",
        )?,
    }
    match &retry.sms_reply_window {
        None => retry.sms_reply_window = seconds(DEFAULT_SMS_REPLY_SECONDS),
        Some(window) => check_range(
            &path("retry.sms_reply_window"),
            window,
            HOUR,
            7 * DAY,
            "between 1 hour and 7 days",
        )?,
    }
    if policy.channel == Channel::Phone as i32 && policy.script.is_empty() {
        let field = path("script");
        return Err(CallbacksError::invalid(
            &field,
            format!("{field} is required for the phone channel"),
        ));
    }
    check_name(&path("script"), &policy.script, super::script::SCRIPTS)?;
    check_name(&path("survey"), &policy.survey, super::survey::SURVEYS)?;
    check_name(
        &path("escalation_contact"),
        &policy.escalation_contact,
        "users",
    )?;
    if policy.active.is_none() {
        policy.active = Some(true);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{LocalizedText, TimeSpan};

    use super::*;

    /// A change that makes a valid policy invalid.
    type Change = Box<dyn Fn(&mut CallbackPolicy)>;

    fn policy() -> CallbackPolicy {
        CallbackPolicy {
            display_name: Some(LocalizedText {
                values: [("zh-CN".to_owned(), "维修回访".to_owned())].into(),
            }),
            trigger: CallbackTrigger::TicketResolved as i32,
            assignment: Some(CallbackAssignment {
                mode: 0,
                team: "teams/front-desk".into(),
            }),
            script: "callbackScripts/0193a0b0-0000-7000-8000-000000000001".into(),
            ..Default::default()
        }
    }

    fn field_of(result: Result<()>) -> String {
        match result {
            Err(CallbacksError::Invalid(violation, _)) => violation.field,
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_filled_and_the_window_left_to_the_tenant() {
        let mut checked = policy();
        check_policy(&mut checked, "callback_policy").expect("valid");
        assert_eq!(checked.channel, Channel::Phone as i32);
        assert_eq!(checked.active, Some(true));
        assert_eq!(checked.due_window, None);
        assert_eq!(
            checked.assignment.map(|a| a.mode),
            Some(CallbackAssignmentMode::TeamLeastLoaded as i32)
        );
        let retry = checked.retry.expect("retry");
        assert_eq!(retry.max_attempts, 3);
        assert_eq!(retry.retry_interval.map(|d| d.seconds), Some(7_200));
        assert_eq!(retry.sms_reply_window.map(|d| d.seconds), Some(172_800));
    }

    #[test]
    fn bad_policies_name_their_field() {
        let cases: Vec<(&str, Change)> = vec![
            (
                "callback_policy.due_window",
                Box::new(|p| p.due_window = seconds(0)),
            ),
            (
                "callback_policy.due_window",
                Box::new(|p| p.due_window = seconds(91 * DAY)),
            ),
            (
                "callback_policy.start_delay",
                Box::new(|p| p.start_delay = seconds(8 * DAY)),
            ),
            (
                "callback_policy.channel",
                Box::new(|p| p.channel = Channel::Email as i32),
            ),
            (
                "callback_policy.assignment.team",
                Box::new(|p| p.assignment = None),
            ),
            ("callback_policy.trigger", Box::new(|p| p.trigger = 0)),
            ("callback_policy.script", Box::new(|p| p.script.clear())),
            (
                "callback_policy.survey",
                Box::new(|p| p.survey = "after-repair".into()),
            ),
            (
                "callback_policy.retry.max_attempts",
                Box::new(|p| {
                    p.retry = Some(CallbackRetryPolicy {
                        max_attempts: 11,
                        ..Default::default()
                    });
                }),
            ),
            (
                "callback_policy.calling_hours.days[0].spans[0].end",
                Box::new(|p| {
                    p.calling_hours = Some(WeeklySchedule {
                        days: vec![kefu_proto::v1::DayHours {
                            day: DayOfWeek::Monday as i32,
                            spans: vec![TimeSpan {
                                start: Some(TimeOfDay {
                                    hours: 18,
                                    minutes: 0,
                                }),
                                end: Some(TimeOfDay {
                                    hours: 24,
                                    minutes: 0,
                                }),
                            }],
                        }],
                    });
                }),
            ),
            (
                "callback_policy.display_name",
                Box::new(|p| p.display_name = None),
            ),
        ];
        for (expected, change) in cases {
            let mut bad = policy();
            change(&mut bad);
            assert_eq!(
                field_of(check_policy(&mut bad, "callback_policy")),
                expected
            );
        }
        // An SMS policy needs no script.
        let mut sms = policy();
        sms.channel = Channel::Sms as i32;
        sms.script.clear();
        assert!(check_policy(&mut sms, "callback_policy").is_ok());
    }
}
