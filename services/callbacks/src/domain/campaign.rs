//! Campaigns (特色回访): what a campaign must hold, its period in the
//! tenant's time zone, and its life (DRAFT → ACTIVE → COMPLETED, or
//! CANCELLED from DRAFT or ACTIVE). Pure: the time and zone passed in.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{Campaign, CampaignKind, CampaignState, Date};

use crate::error::{CallbacksError, Result};

/// The longest `display_name`.
pub const MAX_DISPLAY_NAME: usize = 200;
/// The longest `description`.
pub const MAX_DESCRIPTION: usize = 2_000;
/// The longest cancellation note.
pub const MAX_NOTE: usize = 500;

/// The paths UpdateCampaign may change while DRAFT.
pub const DRAFT_PATHS: &[&str] = &[
    "display_name",
    "description",
    "kind",
    "target_segment",
    "include_new_members",
    "start_date",
    "end_date",
    "policy",
    "script",
];

/// The paths UpdateCampaign may change while ACTIVE (`end_date` only to a
/// later day).
pub const ACTIVE_PATHS: &[&str] = &["display_name", "description", "script", "end_date"];

/// The day a `Date` names, if it is a real one.
pub fn day_of(date: Option<&Date>) -> Option<NaiveDate> {
    let date = date?;
    NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )
}

/// A day as a `Date`.
pub fn date(day: NaiveDate) -> Date {
    use chrono::Datelike;
    Date {
        year: day.year(),
        month: i32::try_from(day.month()).unwrap_or_default(),
        day: i32::try_from(day.day()).unwrap_or_default(),
    }
}

/// The first instant of `day` in `zone` (the earliest one when a time change
/// skips midnight).
pub fn start_of_day(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match zone.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(time) | chrono::LocalResult::Ambiguous(time, _) => {
            time.with_timezone(&Utc)
        }
        // Midnight skipped by a time change: the day starts an hour later.
        chrono::LocalResult::None => zone
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map(|time| time.with_timezone(&Utc))
            .unwrap_or_else(|| midnight.and_utc()),
    }
}

/// The campaign's period in `zone`: from the start of `start_date` to the
/// end of `end_date` (exclusive: the start of the next day). None when a
/// date is missing or not a real day.
pub fn period(campaign: &Campaign, zone: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let first = day_of(campaign.start_date.as_ref())?;
    let last = day_of(campaign.end_date.as_ref())?;
    let after = last.checked_add_days(Days::new(1))?;
    Some((start_of_day(zone, first), start_of_day(zone, after)))
}

fn text(field: &str, value: &str, max: usize, required: bool) -> Result<()> {
    if required && value.trim().is_empty() {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} is required"),
        ));
    }
    if value.chars().count() > max {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(())
}

fn named(field: &str, value: &str, collection: &str, required: bool) -> Result<()> {
    if value.is_empty() {
        if required {
            return Err(CallbacksError::invalid(
                field,
                format!("{field} is required"),
            ));
        }
        return Ok(());
    }
    match kefu_kit::resource::id_in(value, collection) {
        Some(id) if !id.is_empty() && !id.contains('/') => Ok(()),
        _ => Err(CallbacksError::invalid(
            field,
            format!("{field} must be {collection}/{{id}}, not {value:?}"),
        )),
    }
}

/// Checks what a campaign holds (`prefix` is the request's field,
/// `campaign`): the names and texts, the kind, and a period whose end is
/// not before its start. The segment's and policy's existence is the
/// caller's to check.
pub fn check(campaign: &Campaign, prefix: &str) -> Result<()> {
    let path = |field: &str| format!("{prefix}.{field}");
    text(
        &path("display_name"),
        &campaign.display_name,
        MAX_DISPLAY_NAME,
        true,
    )?;
    text(
        &path("description"),
        &campaign.description,
        MAX_DESCRIPTION,
        false,
    )?;
    match CampaignKind::try_from(campaign.kind) {
        Ok(CampaignKind::Unspecified) | Err(_) => {
            return Err(CallbacksError::invalid(
                &path("kind"),
                format!("{} is required", path("kind")),
            ));
        }
        Ok(_) => {}
    }
    named(
        &path("target_segment"),
        &campaign.target_segment,
        "segments",
        true,
    )?;
    let start = required_day(&path("start_date"), campaign.start_date.as_ref())?;
    let end = required_day(&path("end_date"), campaign.end_date.as_ref())?;
    if end < start {
        return Err(CallbacksError::invalid(
            &path("end_date"),
            format!("end_date {end} is before start_date {start}"),
        ));
    }
    named(&path("policy"), &campaign.policy, "callbackPolicies", true)?;
    named(&path("script"), &campaign.script, "callbackScripts", false)?;
    Ok(())
}

fn required_day(field: &str, date: Option<&Date>) -> Result<NaiveDate> {
    if date.is_none() {
        return Err(CallbacksError::invalid(
            field,
            format!("{field} is required"),
        ));
    }
    day_of(date).ok_or_else(|| CallbacksError::invalid(field, format!("{field} is not a real day")))
}

/// A new campaign from the request's: output-only fields cleared, DRAFT,
/// named `name`, created at `now`.
pub fn new_draft(request: &Campaign, name: String, now: DateTime<Utc>) -> Campaign {
    Campaign {
        name,
        display_name: request.display_name.trim().to_owned(),
        description: request.description.clone(),
        kind: request.kind,
        target_segment: request.target_segment.clone(),
        include_new_members: request.include_new_members,
        start_date: request.start_date,
        end_date: request.end_date,
        policy: request.policy.clone(),
        script: request.script.clone(),
        state: CampaignState::Draft as i32,
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        ..Campaign::default()
    }
}

fn state_name(campaign: &Campaign) -> &'static str {
    match CampaignState::try_from(campaign.state) {
        Ok(CampaignState::Draft) => "DRAFT",
        Ok(CampaignState::Active) => "ACTIVE",
        Ok(CampaignState::Completed) => "COMPLETED",
        Ok(CampaignState::Cancelled) => "CANCELLED",
        _ => "UNSPECIFIED",
    }
}

fn illegal(campaign: &Campaign, what: &str) -> CallbacksError {
    CallbacksError::precondition(
        format!("{} is {}: {what}", campaign.name, state_name(campaign)),
        "ILLEGAL_TRANSITION",
    )
}

/// `before` with the `paths` of `patch` applied (paths relative to the
/// campaign): every path while DRAFT; while ACTIVE only the texts, the
/// script and a later `end_date`. INVALID_ARGUMENT for an unknown path,
/// FAILED_PRECONDITION for a path the state does not allow. The result is
/// checked again with [`check`] by the caller.
pub fn apply_update(before: &Campaign, patch: &Campaign, paths: &[String]) -> Result<Campaign> {
    if paths.is_empty() {
        return Err(CallbacksError::invalid(
            "update_mask",
            "update_mask must name the fields to change",
        ));
    }
    let allowed = match CampaignState::try_from(before.state) {
        Ok(CampaignState::Draft) => DRAFT_PATHS,
        Ok(CampaignState::Active) => ACTIVE_PATHS,
        _ => return Err(illegal(before, "only DRAFT and ACTIVE campaigns change")),
    };
    let mut after = before.clone();
    for path in paths {
        let path = path.as_str();
        if !DRAFT_PATHS.contains(&path) {
            return Err(CallbacksError::invalid(
                "update_mask",
                format!("update_mask names {path:?}, which cannot be changed"),
            ));
        }
        if !allowed.contains(&path) {
            return Err(illegal(before, &format!("{path} changes only while DRAFT")));
        }
        match path {
            "display_name" => after.display_name = patch.display_name.trim().to_owned(),
            "description" => after.description = patch.description.clone(),
            "kind" => after.kind = patch.kind,
            "target_segment" => after.target_segment = patch.target_segment.clone(),
            "include_new_members" => after.include_new_members = patch.include_new_members,
            "start_date" => after.start_date = patch.start_date,
            "end_date" => after.end_date = patch.end_date,
            "policy" => after.policy = patch.policy.clone(),
            "script" => after.script = patch.script.clone(),
            _ => {}
        }
    }
    if before.state == CampaignState::Active as i32
        && paths.iter().any(|path| path == "end_date")
        && day_of(after.end_date.as_ref()) <= day_of(before.end_date.as_ref())
    {
        return Err(illegal(
            before,
            "an ACTIVE campaign's end_date may only move later",
        ));
    }
    Ok(after)
}

/// `campaign` started at `now` (ACTIVE), the period ending at `period_end`:
/// FAILED_PRECONDITION unless DRAFT with its end still ahead.
pub fn start(
    campaign: &Campaign,
    period_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Campaign> {
    if campaign.state != CampaignState::Draft as i32 {
        return Err(illegal(campaign, "only a DRAFT campaign starts"));
    }
    if period_end <= now {
        return Err(CallbacksError::precondition(
            format!("{}: its end date has passed", campaign.name),
            "ILLEGAL_TRANSITION",
        ));
    }
    let mut started = campaign.clone();
    started.state = CampaignState::Active as i32;
    started.start_time = Some(to_timestamp(now));
    started.targeted_customer_count = 0;
    started.targeting_complete = false;
    Ok(started)
}

/// `campaign` cancelled at `now` with `note`: FAILED_PRECONDITION unless
/// DRAFT or ACTIVE.
pub fn cancel(campaign: &Campaign, note: &str, now: DateTime<Utc>) -> Result<Campaign> {
    match CampaignState::try_from(campaign.state) {
        Ok(CampaignState::Draft | CampaignState::Active) => {}
        _ => return Err(illegal(campaign, "only DRAFT and ACTIVE campaigns cancel")),
    }
    let mut cancelled = campaign.clone();
    cancelled.state = CampaignState::Cancelled as i32;
    cancelled.cancel_note = note.trim().to_owned();
    cancelled.end_time = Some(to_timestamp(now));
    Ok(cancelled)
}

/// Whether an ACTIVE campaign's period (ending at `period_end`) is over at
/// `now`.
pub fn is_due_to_complete(
    campaign: &Campaign,
    period_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    campaign.state == CampaignState::Active as i32 && period_end <= now
}

/// `campaign` completed at `now` (its period over).
pub fn complete(campaign: &Campaign, now: DateTime<Utc>) -> Campaign {
    let mut completed = campaign.clone();
    completed.state = CampaignState::Completed as i32;
    completed.end_time = Some(to_timestamp(now));
    completed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(year: i32, month: i32, day: i32) -> Option<Date> {
        Some(Date { year, month, day })
    }

    fn campaign() -> Campaign {
        Campaign {
            name: "campaigns/c".into(),
            display_name: "2026 国庆会员回访".into(),
            kind: CampaignKind::MemberCoverage as i32,
            target_segment: "segments/vip".into(),
            start_date: day(2026, 10, 1),
            end_date: day(2026, 10, 7),
            policy: "callbackPolicies/p".into(),
            state: CampaignState::Draft as i32,
            ..Campaign::default()
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn field(error: CallbacksError) -> String {
        match error {
            CallbacksError::Invalid(violation, _) => violation.field,
            other => panic!("not invalid: {other:?}"),
        }
    }

    #[test]
    fn a_complete_campaign_passes() {
        assert!(check(&campaign(), "campaign").is_ok());
    }

    #[test]
    fn an_end_before_the_start_names_end_date() {
        let mut backwards = campaign();
        backwards.end_date = day(2026, 9, 30);
        assert_eq!(
            field(check(&backwards, "campaign").expect_err("refused")),
            "campaign.end_date"
        );
        let mut one_day = campaign();
        one_day.end_date = one_day.start_date;
        assert!(check(&one_day, "campaign").is_ok());
    }

    #[test]
    fn missing_or_malformed_fields_are_named() {
        type Change = Box<dyn Fn(&mut Campaign)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|c| c.display_name = " ".into()),
                "campaign.display_name",
            ),
            (Box::new(|c| c.kind = 0), "campaign.kind"),
            (
                Box::new(|c| c.target_segment = "vip".into()),
                "campaign.target_segment",
            ),
            (Box::new(|c| c.start_date = None), "campaign.start_date"),
            (
                Box::new(|c| c.end_date = day(2026, 2, 30)),
                "campaign.end_date",
            ),
            (Box::new(|c| c.policy.clear()), "campaign.policy"),
            (
                Box::new(|c| c.script = "scripts/x".into()),
                "campaign.script",
            ),
            (
                Box::new(|c| c.description = "长".repeat(MAX_DESCRIPTION + 1)),
                "campaign.description",
            ),
        ];
        for (change, expected) in cases {
            let mut bad = campaign();
            change(&mut bad);
            assert_eq!(
                field(check(&bad, "campaign").expect_err(expected)),
                expected
            );
        }
    }

    #[test]
    fn the_period_covers_whole_days_in_the_zone() {
        let (start, end) = period(&campaign(), chrono_tz::Asia::Shanghai).expect("period");
        assert_eq!(start, at("2026-09-30T16:00:00Z"));
        assert_eq!(end, at("2026-10-07T16:00:00Z"));
    }

    #[test]
    fn a_draft_starts_once_and_not_after_its_end() {
        let end = at("2026-10-07T16:00:00Z");
        let started = start(&campaign(), end, at("2026-10-02T00:00:00Z")).expect("starts");
        assert_eq!(started.state, CampaignState::Active as i32);
        assert!(started.start_time.is_some());
        assert!(start(&started, end, at("2026-10-02T00:00:00Z")).is_err());
        assert!(start(&campaign(), end, at("2026-10-08T00:00:00Z")).is_err());
    }

    #[test]
    fn cancel_and_complete_end_it() {
        let now = at("2026-10-03T00:00:00Z");
        let cancelled = cancel(&campaign(), " 改期 ", now).expect("cancels");
        assert_eq!(cancelled.state, CampaignState::Cancelled as i32);
        assert_eq!(cancelled.cancel_note, "改期");
        assert!(cancel(&cancelled, "again", now).is_err());
        let end = at("2026-10-07T16:00:00Z");
        let active = start(&campaign(), end, now).expect("starts");
        assert!(!is_due_to_complete(&active, end, now));
        assert!(is_due_to_complete(&active, end, end));
        let completed = complete(&active, end);
        assert_eq!(completed.state, CampaignState::Completed as i32);
        assert!(cancel(&completed, "late", end).is_err());
        assert!(!is_due_to_complete(&completed, end, end));
    }

    #[test]
    fn an_active_campaign_changes_only_texts_script_and_a_later_end() {
        let active = start(
            &campaign(),
            at("2026-10-07T16:00:00Z"),
            at("2026-10-02T00:00:00Z"),
        )
        .expect("starts");
        let mut patch = active.clone();
        patch.display_name = "新名字".into();
        patch.end_date = day(2026, 10, 10);
        patch.target_segment = "segments/other".into();
        let paths = |names: &[&str]| {
            names
                .iter()
                .map(|name| (*name).to_owned())
                .collect::<Vec<_>>()
        };
        let updated =
            apply_update(&active, &patch, &paths(&["display_name", "end_date"])).expect("updates");
        assert_eq!(updated.display_name, "新名字");
        assert_eq!(updated.end_date, day(2026, 10, 10));
        assert!(matches!(
            apply_update(&active, &patch, &paths(&["target_segment"])),
            Err(CallbacksError::FailedPrecondition(..))
        ));
        patch.end_date = day(2026, 10, 5);
        assert!(apply_update(&active, &patch, &paths(&["end_date"])).is_err());
        assert!(matches!(
            apply_update(&campaign(), &patch, &paths(&["state"])),
            Err(CallbacksError::Invalid(..))
        ));
        let draft = apply_update(&campaign(), &patch, &paths(&["target_segment"])).expect("draft");
        assert_eq!(draft.target_segment, "segments/other");
    }
}
