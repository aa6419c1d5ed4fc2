//! Business time (工作时间): the tenant's weekly opening hours, minus its
//! public holidays, plus its make-up working days (调休), in its IANA time
//! zone. SLA targets in business hours are added to and measured over this
//! time; targets in calendar time count around the clock.
//!
//! Every open span is turned into UTC instants day by day, so a daylight
//! saving change in the tenant's zone shortens or lengthens only the span it
//! falls in. The calendar was validated by the tenants service; a span this
//! module cannot read is skipped rather than refused.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use kefu_proto::v1::{BusinessCalendar, DayOfWeek, TimeOfDay, WeeklySchedule};

/// The zone when the tenant names none (or one this build does not know).
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// Minutes in a day: a span ending at 00:00 ends at midnight.
const MINUTES_PER_DAY: u32 = 24 * 60;

/// How far a walk over the calendar goes before it gives up and counts
/// calendar time (a target of 365 business days at an hour a week).
const MAX_DAYS: i64 = 366 * 40;

/// What time a duration counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Only the tenant's business hours.
    BusinessHours,
    /// Around the clock.
    Calendar,
}

/// A tenant's working time.
#[derive(Debug, Clone)]
pub struct BusinessTime {
    zone: Tz,
    /// Open spans per weekday (Monday first), minutes since midnight,
    /// sorted, `[start, end)`.
    week: [Vec<(u32, u32)>; 7],
    /// Holidays by date: `true` for a make-up working day, `false` closed.
    holidays: HashMap<NaiveDate, bool>,
    /// The hours of a make-up working day that falls on a closed weekday:
    /// the first weekday's (Monday to Friday) with hours.
    make_up: Vec<(u32, u32)>,
    /// Whether any instant is ever open; without, business time would
    /// never pass, and calendar time is counted instead.
    ever_open: bool,
}

impl BusinessTime {
    /// The working time of `calendar` in `time_zone`. No calendar, or one
    /// without business hours, means the template's Monday–Friday
    /// 08:30–17:30; an unknown zone means [`DEFAULT_TIME_ZONE`].
    pub fn new(calendar: Option<&BusinessCalendar>, time_zone: &str) -> Self {
        let zone = time_zone.parse::<Tz>().unwrap_or(DEFAULT_TIME_ZONE);
        let schedule = calendar
            .and_then(|calendar| calendar.business_hours.clone())
            .unwrap_or_else(default_schedule);
        let mut week: [Vec<(u32, u32)>; 7] = Default::default();
        for day in &schedule.days {
            let Some(index) = weekday_index(day.day) else {
                continue;
            };
            for span in &day.spans {
                let (Some(start), Some(end)) = (
                    minutes(span.start.as_ref()),
                    minutes(span.end.as_ref())
                        .map(|end| if end == 0 { MINUTES_PER_DAY } else { end }),
                ) else {
                    continue;
                };
                if start < end {
                    week[index].push((start, end));
                }
            }
            week[index].sort_unstable();
        }
        let holidays: HashMap<NaiveDate, bool> = calendar
            .map(|calendar| calendar.holidays.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|holiday| {
                let date = holiday.date.as_ref()?;
                let date = NaiveDate::from_ymd_opt(
                    date.year,
                    u32::try_from(date.month).ok()?,
                    u32::try_from(date.day).ok()?,
                )?;
                Some((date, holiday.working_day))
            })
            .collect();
        let make_up = week[..5]
            .iter()
            .find(|spans| !spans.is_empty())
            .cloned()
            .unwrap_or_default();
        let ever_open = week.iter().any(|spans| !spans.is_empty())
            || (!make_up.is_empty() && holidays.values().any(|working| *working));
        Self {
            zone,
            week,
            holidays,
            make_up,
            ever_open,
        }
    }

    /// The tenant's zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The open spans of local `date` (minutes since midnight): none on a
    /// holiday; a make-up working day keeps its weekday's hours, or those
    /// of the first working weekday when its weekday is closed.
    fn spans_of(&self, date: NaiveDate) -> &[(u32, u32)] {
        let weekday = &self.week[date.weekday().num_days_from_monday() as usize];
        match self.holidays.get(&date) {
            Some(false) => &[],
            Some(true) if weekday.is_empty() => &self.make_up,
            _ => weekday,
        }
    }

    /// The open intervals of local `date` as UTC instants, in order.
    fn open_intervals(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        self.spans_of(date)
            .iter()
            .filter_map(|&(start, end)| {
                let open = self.instant(date, start)?;
                let close = self.instant(date, end)?;
                (open < close).then_some((open, close))
            })
            .collect()
    }

    /// The UTC instant of local `date` at `minute` since midnight. A wall
    /// time skipped by a daylight-saving jump reads as the first instant
    /// after the jump; a repeated one as its first occurrence.
    fn instant(&self, date: NaiveDate, minute: u32) -> Option<DateTime<Utc>> {
        let midnight = NaiveDateTime::new(date, NaiveTime::MIN);
        let local = midnight + Duration::minutes(i64::from(minute));
        (0..=180)
            .find_map(|shift| {
                self.zone
                    .from_local_datetime(&(local + Duration::minutes(shift)))
                    .earliest()
            })
            .map(|instant| instant.with_timezone(&Utc))
    }

    fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.zone).date_naive()
    }

    fn counts_calendar(&self, basis: Basis) -> bool {
        basis == Basis::Calendar || !self.ever_open
    }

    /// The instant `amount` of `basis` time after `start` (before it for a
    /// negative amount). In business time the result is the instant the
    /// amount is used up: a target that ends exactly at closing time is due
    /// at closing time, not the next morning.
    pub fn add(&self, basis: Basis, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        if amount < Duration::zero() {
            return self.subtract(basis, start, -amount);
        }
        if self.counts_calendar(basis) || amount.is_zero() {
            return start + amount;
        }
        let mut remaining = amount;
        let mut date = self.local_date(start);
        for _ in 0..MAX_DAYS {
            for (open, close) in self.open_intervals(date) {
                let from = open.max(start);
                if from >= close {
                    continue;
                }
                let available = close - from;
                if remaining <= available {
                    return from + remaining;
                }
                remaining -= available;
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        start + amount
    }

    /// The instant `amount` of `basis` time before `end`: the latest
    /// instant from which `amount` of that time reaches `end`.
    pub fn subtract(&self, basis: Basis, end: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        if amount < Duration::zero() {
            return self.add(basis, end, -amount);
        }
        if self.counts_calendar(basis) || amount.is_zero() {
            return end - amount;
        }
        let mut remaining = amount;
        let mut date = self.local_date(end);
        for _ in 0..MAX_DAYS {
            for (open, close) in self.open_intervals(date).into_iter().rev() {
                let to = close.min(end);
                if to <= open {
                    continue;
                }
                let available = to - open;
                if remaining <= available {
                    return to - remaining;
                }
                remaining -= available;
            }
            match date.pred_opt() {
                Some(previous) => date = previous,
                None => break,
            }
        }
        end - amount
    }

    /// The `basis` time between `from` and `to`; zero when `to` is not
    /// after `from`.
    pub fn between(&self, basis: Basis, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        if self.counts_calendar(basis) {
            return to - from;
        }
        let mut total = Duration::zero();
        let mut date = self.local_date(from);
        let last = self.local_date(to);
        while date <= last {
            for (open, close) in self.open_intervals(date) {
                let start = open.max(from);
                let end = close.min(to);
                if start < end {
                    total += end - start;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        total
    }

    /// Whether `instant` falls in business hours.
    pub fn is_open(&self, instant: DateTime<Utc>) -> bool {
        self.open_intervals(self.local_date(instant))
            .iter()
            .any(|&(open, close)| open <= instant && instant < close)
    }
}

/// The template's hours: Monday to Friday 08:30–17:30.
fn default_schedule() -> WeeklySchedule {
    use kefu_proto::v1::{DayHours, TimeSpan};
    let days = [
        DayOfWeek::Monday,
        DayOfWeek::Tuesday,
        DayOfWeek::Wednesday,
        DayOfWeek::Thursday,
        DayOfWeek::Friday,
    ]
    .into_iter()
    .map(|day| DayHours {
        day: day as i32,
        spans: vec![TimeSpan {
            start: Some(TimeOfDay {
                hours: 8,
                minutes: 30,
            }),
            end: Some(TimeOfDay {
                hours: 17,
                minutes: 30,
            }),
        }],
    })
    .collect();
    WeeklySchedule { days }
}

/// Monday = 0 … Sunday = 6, from a `kefu.v1.DayOfWeek` value.
fn weekday_index(day: i32) -> Option<usize> {
    match DayOfWeek::try_from(day).ok()? {
        DayOfWeek::Unspecified => None,
        known => usize::try_from(known as i32 - 1).ok(),
    }
}

/// Minutes since midnight of a valid wall-clock time.
fn minutes(time: Option<&TimeOfDay>) -> Option<u32> {
    let time = time?;
    let hours = u32::try_from(time.hours).ok().filter(|hours| *hours < 24)?;
    let minutes = u32::try_from(time.minutes)
        .ok()
        .filter(|minutes| *minutes < 60)?;
    Some(hours * 60 + minutes)
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{Date, DayHours, Holiday, TimeSpan};

    use super::*;

    fn span(start: (i32, i32), end: (i32, i32)) -> TimeSpan {
        TimeSpan {
            start: Some(TimeOfDay {
                hours: start.0,
                minutes: start.1,
            }),
            end: Some(TimeOfDay {
                hours: end.0,
                minutes: end.1,
            }),
        }
    }

    fn weekdays(spans: Vec<TimeSpan>) -> WeeklySchedule {
        WeeklySchedule {
            days: (1..=5)
                .map(|day| DayHours {
                    day,
                    spans: spans.clone(),
                })
                .collect(),
        }
    }

    fn holiday(year: i32, month: i32, day: i32, working_day: bool) -> Holiday {
        Holiday {
            date: Some(Date { year, month, day }),
            name: None,
            working_day,
        }
    }

    /// A local wall time in `zone` as UTC.
    fn local(zone: &str, text: &str) -> DateTime<Utc> {
        let zone: Tz = zone.parse().expect("zone");
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("time");
        zone.from_local_datetime(&naive)
            .earliest()
            .expect("exists")
            .with_timezone(&Utc)
    }

    fn shanghai(text: &str) -> DateTime<Utc> {
        local("Asia/Shanghai", text)
    }

    /// Monday–Friday 09:00–18:00 in Shanghai, with `holidays`.
    fn office(holidays: Vec<Holiday>) -> BusinessTime {
        let calendar = BusinessCalendar {
            business_hours: Some(weekdays(vec![span((9, 0), (18, 0))])),
            holidays,
            quiet_hours: Vec::new(),
        };
        BusinessTime::new(Some(&calendar), "Asia/Shanghai")
    }

    const B: Basis = Basis::BusinessHours;

    #[test]
    fn within_one_day() {
        let time = office(Vec::new());
        // Tuesday 2026-12-01 10:00 + 2 h = 12:00.
        let start = shanghai("2026-12-01 10:00");
        assert_eq!(
            time.add(B, start, Duration::hours(2)),
            shanghai("2026-12-01 12:00")
        );
        assert_eq!(
            time.between(B, start, shanghai("2026-12-01 12:00")),
            Duration::hours(2)
        );
    }

    #[test]
    fn overnight_carries_to_the_next_morning() {
        let time = office(Vec::new());
        // Tuesday 16:00 + 4 h: 2 h today, 2 h from Wednesday 09:00.
        let start = shanghai("2026-12-01 16:00");
        let due = time.add(B, start, Duration::hours(4));
        assert_eq!(due, shanghai("2026-12-02 11:00"));
        assert_eq!(time.between(B, start, due), Duration::hours(4));
        assert_eq!(time.subtract(B, due, Duration::hours(4)), start);
    }

    #[test]
    fn ends_at_closing_time_rather_than_next_morning() {
        let time = office(Vec::new());
        let start = shanghai("2026-12-01 14:00");
        assert_eq!(
            time.add(B, start, Duration::hours(4)),
            shanghai("2026-12-01 18:00")
        );
    }

    #[test]
    fn a_start_outside_hours_counts_from_the_next_opening() {
        let time = office(Vec::new());
        // Tuesday 20:00 (closed) + 1 h = Wednesday 10:00; Tuesday 07:00 +
        // 30 min = 09:30.
        assert_eq!(
            time.add(B, shanghai("2026-12-01 20:00"), Duration::hours(1)),
            shanghai("2026-12-02 10:00")
        );
        assert_eq!(
            time.add(B, shanghai("2026-12-01 07:00"), Duration::minutes(30)),
            shanghai("2026-12-01 09:30")
        );
        assert_eq!(
            time.between(
                B,
                shanghai("2026-12-01 18:00"),
                shanghai("2026-12-02 09:00")
            ),
            Duration::zero()
        );
    }

    #[test]
    fn friday_afternoon_runs_over_the_weekend() {
        let time = office(Vec::new());
        // Friday 2026-12-04 17:00 + 4 h: 1 h Friday, 3 h Monday → 12:00.
        let start = shanghai("2026-12-04 17:00");
        let due = time.add(B, start, Duration::hours(4));
        assert_eq!(due, shanghai("2026-12-07 12:00"));
        assert_eq!(time.between(B, start, due), Duration::hours(4));
        // Saturday counts nothing.
        assert_eq!(
            time.between(
                B,
                shanghai("2026-12-05 09:00"),
                shanghai("2026-12-05 18:00")
            ),
            Duration::zero()
        );
        // 80 % of 4 h = 3 h 12 min: Monday 11:12.
        assert_eq!(
            time.add(B, start, Duration::minutes(192)),
            shanghai("2026-12-07 11:12")
        );
    }

    #[test]
    fn holidays_are_skipped_and_make_up_days_count() {
        // National Day week: 2026-10-01 (Thu) to 10-07 (Wed) closed;
        // Saturday 10-10 is a make-up working day (调休).
        let mut holidays: Vec<Holiday> = (1..=7).map(|day| holiday(2026, 10, day, false)).collect();
        holidays.push(holiday(2026, 10, 10, true));
        let time = office(holidays);
        // Wednesday 2026-09-30 17:00 + 2 h: 1 h then Thursday 10-08 10:00.
        assert_eq!(
            time.add(B, shanghai("2026-09-30 17:00"), Duration::hours(2)),
            shanghai("2026-10-08 10:00")
        );
        // Friday 10-09 17:00 + 2 h: 1 h then Saturday 10-10 (make-up) 10:00.
        assert_eq!(
            time.add(B, shanghai("2026-10-09 17:00"), Duration::hours(2)),
            shanghai("2026-10-10 10:00")
        );
        assert_eq!(
            time.between(
                B,
                shanghai("2026-10-01 00:00"),
                shanghai("2026-10-08 00:00")
            ),
            Duration::zero()
        );
        assert!(time.is_open(shanghai("2026-10-10 09:30")));
        assert!(!time.is_open(shanghai("2026-10-02 09:30")));
    }

    #[test]
    fn split_days_skip_the_lunch_break() {
        let calendar = BusinessCalendar {
            business_hours: Some(weekdays(vec![
                span((8, 30), (12, 0)),
                span((13, 30), (17, 30)),
            ])),
            ..BusinessCalendar::default()
        };
        let time = BusinessTime::new(Some(&calendar), "Asia/Shanghai");
        // Tuesday 11:00 + 2 h: 1 h before lunch, 1 h from 13:30.
        assert_eq!(
            time.add(B, shanghai("2026-12-01 11:00"), Duration::hours(2)),
            shanghai("2026-12-01 14:30")
        );
        assert_eq!(
            time.between(
                B,
                shanghai("2026-12-01 00:00"),
                shanghai("2026-12-02 00:00")
            ),
            Duration::hours(7) + Duration::minutes(30)
        );
    }

    #[test]
    fn calendar_basis_counts_around_the_clock() {
        let time = office(Vec::new());
        let start = shanghai("2026-12-04 17:00");
        assert_eq!(
            time.add(Basis::Calendar, start, Duration::hours(72)),
            shanghai("2026-12-07 17:00")
        );
        assert_eq!(
            time.between(Basis::Calendar, start, shanghai("2026-12-05 17:00")),
            Duration::hours(24)
        );
    }

    #[test]
    fn around_the_clock_and_default_hours() {
        let calendar = BusinessCalendar {
            business_hours: Some(WeeklySchedule {
                days: (1..=7)
                    .map(|day| DayHours {
                        day,
                        spans: vec![span((0, 0), (0, 0))],
                    })
                    .collect(),
            }),
            ..BusinessCalendar::default()
        };
        let always = BusinessTime::new(Some(&calendar), "Asia/Shanghai");
        let start = shanghai("2026-12-05 23:00");
        assert_eq!(
            always.add(B, start, Duration::hours(3)),
            start + Duration::hours(3)
        );
        // No calendar: Monday–Friday 08:30–17:30 in Shanghai; an unknown
        // zone reads as Shanghai.
        let default = BusinessTime::new(None, "Mars/Olympus");
        assert_eq!(default.zone(), DEFAULT_TIME_ZONE);
        assert_eq!(
            default.add(B, shanghai("2026-12-04 17:00"), Duration::hours(1)),
            shanghai("2026-12-07 09:00")
        );
    }

    #[test]
    fn a_closed_week_counts_calendar_time() {
        let calendar = BusinessCalendar {
            business_hours: Some(WeeklySchedule { days: Vec::new() }),
            ..BusinessCalendar::default()
        };
        let never = BusinessTime::new(Some(&calendar), "Asia/Shanghai");
        let start = shanghai("2026-12-05 23:00");
        assert_eq!(
            never.add(B, start, Duration::hours(3)),
            start + Duration::hours(3)
        );
    }

    #[test]
    fn daylight_saving_in_new_york() {
        // Clocks go forward on Sunday 2026-03-08 02:00 and back on Sunday
        // 2026-11-01 02:00 in America/New_York; business hours are local
        // wall time, so a Friday 17:00 + 2 h target is Monday 10:00 local
        // both times although 64 and 66 real hours pass.
        let calendar = BusinessCalendar {
            business_hours: Some(weekdays(vec![span((9, 0), (18, 0))])),
            ..BusinessCalendar::default()
        };
        let time = BusinessTime::new(Some(&calendar), "America/New_York");
        let ny = |text| local("America/New_York", text);
        let spring = ny("2026-03-06 17:00");
        let due = time.add(B, spring, Duration::hours(2));
        assert_eq!(due, ny("2026-03-09 10:00"));
        assert_eq!(due - spring, Duration::hours(64));
        let autumn = ny("2026-10-30 17:00");
        let due = time.add(B, autumn, Duration::hours(2));
        assert_eq!(due, ny("2026-11-02 10:00"));
        assert_eq!(due - autumn, Duration::hours(66));
        assert_eq!(time.between(B, autumn, due), Duration::hours(2));

        // A 24-hour business day on the spring-forward Sunday holds 23 real
        // hours; the autumn one 25.
        let sundays = BusinessCalendar {
            business_hours: Some(WeeklySchedule {
                days: vec![DayHours {
                    day: DayOfWeek::Sunday as i32,
                    spans: vec![span((0, 0), (0, 0))],
                }],
            }),
            ..BusinessCalendar::default()
        };
        let sundays = BusinessTime::new(Some(&sundays), "America/New_York");
        assert_eq!(
            sundays.between(B, ny("2026-03-07 12:00"), ny("2026-03-09 12:00")),
            Duration::hours(23)
        );
        assert_eq!(
            sundays.between(B, ny("2026-10-31 12:00"), ny("2026-11-02 12:00")),
            Duration::hours(25)
        );
    }

    #[test]
    fn a_span_starting_in_the_skipped_hour_opens_after_the_jump() {
        // Sunday 2026-03-08 02:30 does not exist in New York.
        let calendar = BusinessCalendar {
            business_hours: Some(WeeklySchedule {
                days: vec![DayHours {
                    day: DayOfWeek::Sunday as i32,
                    spans: vec![span((2, 30), (4, 0))],
                }],
            }),
            ..BusinessCalendar::default()
        };
        let time = BusinessTime::new(Some(&calendar), "America/New_York");
        let ny = |text| local("America/New_York", text);
        assert_eq!(
            time.between(B, ny("2026-03-08 00:00"), ny("2026-03-09 00:00")),
            Duration::hours(1)
        );
    }

    #[test]
    fn subtract_and_negative_amounts_mirror_add() {
        let time = office(Vec::new());
        let due = shanghai("2026-12-07 12:00");
        assert_eq!(
            time.subtract(B, due, Duration::hours(4)),
            shanghai("2026-12-04 17:00")
        );
        assert_eq!(
            time.add(B, due, Duration::hours(-4)),
            shanghai("2026-12-04 17:00")
        );
        assert_eq!(
            time.subtract(B, due, Duration::hours(-1)),
            shanghai("2026-12-07 13:00")
        );
    }
}
