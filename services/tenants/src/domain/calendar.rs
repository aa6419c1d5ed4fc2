//! The business calendar: opening hours per weekday, holidays and make-up
//! working days, and quiet hours (休息时间) when nobody is called. Every
//! check names the offending field so the portal can point at it.

use std::collections::HashSet;

use chrono::NaiveDate;
use kefu_proto::v1::{BusinessCalendar, DayOfWeek, TimeOfDay, TimeSpan, WeeklySchedule};

use crate::error::{Result, TenantsError};

/// At most this many holidays (the contract's limit).
pub const MAX_HOLIDAYS: usize = 100;

/// At most this many quiet-hour spans (the contract's limit).
pub const MAX_QUIET_SPANS: usize = 10;

const MINUTES_PER_DAY: i32 = 24 * 60;

/// Minutes since midnight of a wall-clock time, or why it is not one.
fn minutes(field: &str, time: Option<&TimeOfDay>) -> Result<i32> {
    let time = time.ok_or_else(|| TenantsError::invalid(field, "is required"))?;
    if !(0..24).contains(&time.hours) || !(0..60).contains(&time.minutes) {
        return Err(TenantsError::invalid(
            field,
            format!(
                "{:02}:{:02} is not a time of day (hours 0 to 23, minutes 0 to 59)",
                time.hours, time.minutes
            ),
        ));
    }
    Ok(time.hours * 60 + time.minutes)
}

/// Checks every part of a calendar; `prefix` is its field path
/// (`tenant.calendar`).
pub fn check_calendar(prefix: &str, calendar: &BusinessCalendar) -> Result<()> {
    if let Some(hours) = &calendar.business_hours {
        check_business_hours(&format!("{prefix}.business_hours"), hours)?;
    }
    check_holidays(prefix, calendar)?;
    check_quiet_hours(&format!("{prefix}.quiet_hours"), &calendar.quiet_hours)
}

/// Opening hours: a known weekday at most once, each span starting before
/// it ends, spans of a day not overlapping. A business day cannot cross
/// midnight; an end of 00:00 means the end of the day, so 00:00–00:00 is
/// open around the clock.
pub fn check_business_hours(prefix: &str, schedule: &WeeklySchedule) -> Result<()> {
    let mut seen = HashSet::new();
    for (day_index, day) in schedule.days.iter().enumerate() {
        let day_field = format!("{prefix}.days[{day_index}]");
        let weekday = DayOfWeek::try_from(day.day)
            .ok()
            .filter(|weekday| *weekday != DayOfWeek::Unspecified)
            .ok_or_else(|| {
                TenantsError::invalid(
                    &format!("{day_field}.day"),
                    "is required: a kefu.v1.DayOfWeek value",
                )
            })?;
        if !seen.insert(weekday) {
            return Err(TenantsError::invalid(
                &format!("{day_field}.day"),
                format!(
                    "{} appears twice; give each weekday one entry with all its spans",
                    weekday.as_str_name()
                ),
            ));
        }
        let mut spans: Vec<(i32, i32, usize)> = Vec::with_capacity(day.spans.len());
        for (span_index, span) in day.spans.iter().enumerate() {
            let span_field = format!("{day_field}.spans[{span_index}]");
            let start = minutes(&format!("{span_field}.start"), span.start.as_ref())?;
            let mut end = minutes(&format!("{span_field}.end"), span.end.as_ref())?;
            if end == 0 {
                end = MINUTES_PER_DAY;
            }
            if start >= end {
                return Err(TenantsError::invalid(
                    &format!("{span_field}.end"),
                    "must be after the start (business hours cannot cross midnight; \
                     split them over two days)",
                ));
            }
            spans.push((start, end, span_index));
        }
        spans.sort_unstable();
        for pair in spans.windows(2) {
            let (_, previous_end, previous_index) = pair[0];
            let (start, _, index) = pair[1];
            if start < previous_end {
                return Err(TenantsError::invalid(
                    &format!("{day_field}.spans[{index}]"),
                    format!("overlaps spans[{previous_index}] of the same day"),
                ));
            }
        }
    }
    Ok(())
}

fn check_holidays(prefix: &str, calendar: &BusinessCalendar) -> Result<()> {
    if calendar.holidays.len() > MAX_HOLIDAYS {
        return Err(TenantsError::invalid(
            &format!("{prefix}.holidays"),
            format!(
                "has {} entries; at most {MAX_HOLIDAYS}",
                calendar.holidays.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    for (index, holiday) in calendar.holidays.iter().enumerate() {
        let field = format!("{prefix}.holidays[{index}].date");
        let date = holiday
            .date
            .as_ref()
            .ok_or_else(|| TenantsError::invalid(&field, "is required"))?;
        let parsed = u32::try_from(date.month)
            .ok()
            .zip(u32::try_from(date.day).ok())
            .filter(|_| (1..=9999).contains(&date.year))
            .and_then(|(month, day)| NaiveDate::from_ymd_opt(date.year, month, day))
            .ok_or_else(|| {
                TenantsError::invalid(
                    &field,
                    format!(
                        "{:04}-{:02}-{:02} is not a calendar date",
                        date.year, date.month, date.day
                    ),
                )
            })?;
        if !seen.insert(parsed) {
            return Err(TenantsError::invalid(
                &field,
                format!("{parsed} is listed twice; dates must be unique"),
            ));
        }
    }
    Ok(())
}

/// Quiet hours: spans of rest time every day; a span whose end is not after
/// its start crosses midnight (21:00–08:00). Empty and overlapping spans
/// are refused: both are almost always a typing mistake.
pub fn check_quiet_hours(prefix: &str, spans: &[TimeSpan]) -> Result<()> {
    if spans.len() > MAX_QUIET_SPANS {
        return Err(TenantsError::invalid(
            prefix,
            format!("has {} spans; at most {MAX_QUIET_SPANS}", spans.len()),
        ));
    }
    // Each span as half-open minute ranges within one day, midnight
    // crossings split in two.
    let mut ranges: Vec<(i32, i32, usize)> = Vec::new();
    for (index, span) in spans.iter().enumerate() {
        let field = format!("{prefix}[{index}]");
        let start = minutes(&format!("{field}.start"), span.start.as_ref())?;
        let end = minutes(&format!("{field}.end"), span.end.as_ref())?;
        if start == end {
            return Err(TenantsError::invalid(
                &format!("{field}.end"),
                "equals the start; a quiet span must have a length",
            ));
        }
        if start < end {
            ranges.push((start, end, index));
        } else {
            ranges.push((start, MINUTES_PER_DAY, index));
            if end > 0 {
                ranges.push((0, end, index));
            }
        }
    }
    ranges.sort_unstable();
    for pair in ranges.windows(2) {
        let (_, previous_end, previous_index) = pair[0];
        let (start, _, index) = pair[1];
        if start < previous_end {
            let (first, second) = (previous_index.min(index), previous_index.max(index));
            return Err(TenantsError::invalid(
                &format!("{prefix}[{second}]"),
                format!("overlaps quiet span [{first}]"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{Date, DayHours, Holiday};

    use super::*;

    fn at(hours: i32, minutes: i32) -> Option<TimeOfDay> {
        Some(TimeOfDay { hours, minutes })
    }

    fn span(start: (i32, i32), end: (i32, i32)) -> TimeSpan {
        TimeSpan {
            start: at(start.0, start.1),
            end: at(end.0, end.1),
        }
    }

    fn field(error: TenantsError) -> String {
        match error {
            TenantsError::Invalid(violation, _) => violation.field,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn week(days: Vec<DayHours>) -> BusinessCalendar {
        BusinessCalendar {
            business_hours: Some(WeeklySchedule { days }),
            ..BusinessCalendar::default()
        }
    }

    fn day(day: DayOfWeek, spans: Vec<TimeSpan>) -> DayHours {
        DayHours {
            day: day as i32,
            spans,
        }
    }

    #[test]
    fn business_hours_accept_split_days_and_around_the_clock() {
        let calendar = week(vec![
            day(
                DayOfWeek::Monday,
                vec![span((13, 30), (17, 30)), span((8, 30), (12, 0))],
            ),
            day(DayOfWeek::Saturday, vec![span((0, 0), (0, 0))]),
        ]);
        check_calendar("calendar", &calendar).expect("valid");
    }

    #[test]
    fn business_hours_refuse_overlaps_reversed_spans_and_repeated_days() {
        let overlapping = week(vec![day(
            DayOfWeek::Monday,
            vec![span((8, 30), (12, 0)), span((11, 0), (17, 30))],
        )]);
        assert_eq!(
            field(check_calendar("calendar", &overlapping).expect_err("overlap")),
            "calendar.business_hours.days[0].spans[1]"
        );
        let reversed = week(vec![day(DayOfWeek::Monday, vec![span((17, 0), (9, 0))])]);
        assert_eq!(
            field(check_calendar("calendar", &reversed).expect_err("reversed")),
            "calendar.business_hours.days[0].spans[0].end"
        );
        let twice = week(vec![
            day(DayOfWeek::Monday, vec![]),
            day(DayOfWeek::Monday, vec![]),
        ]);
        assert_eq!(
            field(check_calendar("calendar", &twice).expect_err("twice")),
            "calendar.business_hours.days[1].day"
        );
        let bad_time = week(vec![day(DayOfWeek::Monday, vec![span((24, 0), (25, 0))])]);
        assert_eq!(
            field(check_calendar("calendar", &bad_time).expect_err("time")),
            "calendar.business_hours.days[0].spans[0].start"
        );
        let no_day = week(vec![day(DayOfWeek::Unspecified, vec![])]);
        assert_eq!(
            field(check_calendar("calendar", &no_day).expect_err("day")),
            "calendar.business_hours.days[0].day"
        );
    }

    #[test]
    fn holidays_must_be_real_and_unique_dates() {
        let holiday = |year, month, day| Holiday {
            date: Some(Date { year, month, day }),
            ..Holiday::default()
        };
        let calendar = |holidays| BusinessCalendar {
            holidays,
            ..BusinessCalendar::default()
        };
        check_calendar(
            "c",
            &calendar(vec![holiday(2026, 10, 1), holiday(2026, 10, 2)]),
        )
        .expect("valid");
        assert_eq!(
            field(check_calendar("c", &calendar(vec![holiday(2026, 2, 30)])).expect_err("date")),
            "c.holidays[0].date"
        );
        assert_eq!(
            field(
                check_calendar(
                    "c",
                    &calendar(vec![holiday(2026, 10, 1), holiday(2026, 10, 1)])
                )
                .expect_err("twice")
            ),
            "c.holidays[1].date"
        );
        let many = (0..=MAX_HOLIDAYS as u32)
            .map(|offset| {
                let date = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date")
                    + chrono::Days::new(u64::from(offset));
                holiday(
                    chrono::Datelike::year(&date),
                    chrono::Datelike::month(&date) as i32,
                    chrono::Datelike::day(&date) as i32,
                )
            })
            .collect();
        assert_eq!(
            field(check_calendar("c", &calendar(many)).expect_err("too many")),
            "c.holidays"
        );
    }

    #[test]
    fn quiet_hours_may_cross_midnight_but_not_overlap() {
        check_quiet_hours("q", &[span((21, 0), (8, 0)), span((12, 0), (13, 30))]).expect("valid");
        check_quiet_hours("q", &[span((22, 0), (0, 0))]).expect("until midnight");
        assert_eq!(
            field(
                check_quiet_hours("q", &[span((21, 0), (8, 0)), span((7, 0), (9, 0))])
                    .expect_err("overlap across midnight")
            ),
            "q[1]"
        );
        assert_eq!(
            field(check_quiet_hours("q", &[span((9, 0), (9, 0))]).expect_err("empty")),
            "q[0].end"
        );
        let many: Vec<TimeSpan> = (0..11).map(|hour| span((hour, 0), (hour, 30))).collect();
        assert_eq!(
            field(check_quiet_hours("q", &many).expect_err("too many")),
            "q"
        );
    }
}
