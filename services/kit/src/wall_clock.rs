//! Wall-clock calendars the services share (the tickets' business time, the
//! callbacks' calling windows): weekly schedules read as minute spans per
//! weekday, holidays and make-up working days by date, and local wall times
//! turned into UTC instants in an IANA zone, daylight saving included.
//!
//! Input comes validated from the tenants and customers services; a span or
//! date this module cannot read is skipped rather than refused, so one bad
//! entry never stops a scan.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use kefu_proto::v1::{DayOfWeek, Holiday, TimeOfDay, WeeklySchedule};

/// The zone when a tenant names none (or one this build does not know).
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// Minutes in a day: a span ending at 00:00 ends at midnight.
pub const MINUTES_PER_DAY: u32 = 24 * 60;

/// Open (or closed) spans per weekday, Monday first, in minutes since
/// midnight, sorted, each `[start, end)` within the day.
pub type WeekSpans = [Vec<(u32, u32)>; 7];

/// The zone `name` names, or [`DEFAULT_TIME_ZONE`].
pub fn zone_or_default(name: &str) -> Tz {
    name.parse::<Tz>().unwrap_or(DEFAULT_TIME_ZONE)
}

/// Monday = 0 … Sunday = 6, from a `kefu.v1.DayOfWeek` value.
pub fn weekday_index(day: i32) -> Option<usize> {
    match DayOfWeek::try_from(day).ok()? {
        DayOfWeek::Unspecified => None,
        known => usize::try_from(known as i32 - 1).ok(),
    }
}

/// Minutes since midnight of a valid wall-clock time.
pub fn minutes(time: Option<&TimeOfDay>) -> Option<u32> {
    let time = time?;
    let hours = u32::try_from(time.hours).ok().filter(|hours| *hours < 24)?;
    let minutes = u32::try_from(time.minutes)
        .ok()
        .filter(|minutes| *minutes < 60)?;
    Some(hours * 60 + minutes)
}

/// The spans of `schedule` per weekday. A span ending at 00:00 runs to
/// midnight; one whose end is before its start (an opening span, not a
/// quiet one) is skipped.
pub fn week_spans(schedule: &WeeklySchedule) -> WeekSpans {
    let mut week: WeekSpans = Default::default();
    for day in &schedule.days {
        let Some(index) = weekday_index(day.day) else {
            continue;
        };
        for span in &day.spans {
            let (Some(start), Some(end)) = (
                minutes(span.start.as_ref()),
                minutes(span.end.as_ref()).map(|end| if end == 0 { MINUTES_PER_DAY } else { end }),
            ) else {
                continue;
            };
            if start < end {
                week[index].push((start, end));
            }
        }
        week[index].sort_unstable();
    }
    week
}

/// A date of the contract as a calendar date, if valid.
pub fn date_of(date: Option<&kefu_proto::v1::Date>) -> Option<NaiveDate> {
    let date = date?;
    NaiveDate::from_ymd_opt(
        date.year,
        u32::try_from(date.month).ok()?,
        u32::try_from(date.day).ok()?,
    )
}

/// Holidays by date: `true` for a make-up working day (调休), `false` for a
/// closed day.
pub fn holiday_map(holidays: &[Holiday]) -> HashMap<NaiveDate, bool> {
    holidays
        .iter()
        .filter_map(|holiday| Some((date_of(holiday.date.as_ref())?, holiday.working_day)))
        .collect()
}

/// The UTC instant of local `date` at `minute` since midnight (up to
/// [`MINUTES_PER_DAY`], the next midnight) in `zone`. A wall time skipped by
/// a daylight-saving jump reads as the first instant after the jump; a
/// repeated one as its first occurrence.
pub fn local_instant(zone: Tz, date: NaiveDate, minute: u32) -> Option<DateTime<Utc>> {
    let midnight = NaiveDateTime::new(date, NaiveTime::MIN);
    let local = midnight + Duration::minutes(i64::from(minute));
    (0..=180)
        .find_map(|shift| {
            zone.from_local_datetime(&(local + Duration::minutes(shift)))
                .earliest()
        })
        .map(|instant| instant.with_timezone(&Utc))
}

/// The local date of `instant` in `zone`.
pub fn local_date(zone: Tz, instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&zone).date_naive()
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{DayHours, TimeSpan};

    use super::*;

    fn at(hours: i32, minutes: i32) -> Option<TimeOfDay> {
        Some(TimeOfDay { hours, minutes })
    }

    #[test]
    fn spans_read_per_weekday_and_midnight_ends_the_day() {
        let schedule = WeeklySchedule {
            days: vec![DayHours {
                day: DayOfWeek::Tuesday as i32,
                spans: vec![
                    TimeSpan {
                        start: at(18, 0),
                        end: at(0, 0),
                    },
                    TimeSpan {
                        start: at(9, 0),
                        end: at(12, 0),
                    },
                    TimeSpan {
                        start: at(25, 0),
                        end: at(26, 0),
                    },
                ],
            }],
        };
        let week = week_spans(&schedule);
        assert_eq!(week[1], vec![(540, 720), (1080, MINUTES_PER_DAY)]);
        assert!(week[0].is_empty());
    }

    #[test]
    fn a_skipped_wall_time_reads_as_the_first_instant_after_the_jump() {
        let zone: Tz = "America/New_York".parse().expect("zone");
        let date = NaiveDate::from_ymd_opt(2026, 3, 8).expect("date");
        // 02:30 does not exist that day; 03:00 EDT is 07:00 UTC.
        let instant = local_instant(zone, date, 150).expect("instant");
        assert_eq!(instant.to_rfc3339(), "2026-03-08T07:00:00+00:00");
    }

    #[test]
    fn unknown_zones_fall_back_to_shanghai() {
        assert_eq!(zone_or_default("Mars/Olympus"), DEFAULT_TIME_ZONE);
        assert_eq!(zone_or_default("Europe/Paris"), chrono_tz::Europe::Paris);
    }
}
