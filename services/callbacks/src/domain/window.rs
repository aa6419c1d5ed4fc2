//! When a customer may be called (回访时间): outside the tenant's quiet
//! hours (休息时间, daily spans that may cross midnight, such as 21:00–08:00)
//! and holidays, inside the policy's calling hours, outside the customer's
//! do-not-disturb, and — when it can be had within the window — inside the
//! customer's preferred hours.
//!
//! Quiet hours, holidays and calling hours are in the tenant's time zone;
//! preferred hours in the customer's (the tenant's when the customer names
//! none). A holiday closes its whole day; a make-up working day (调休) is
//! open, with the calling hours of its weekday or, when its weekday has
//! none (a Saturday), those of the first weekday that has some. Without
//! calling hours every day is open outside quiet hours, so make-up days
//! change nothing then.
//!
//! The due window of a task: it opens at the trigger plus the policy's
//! start delay, moved to the first instant allowed (preferred hours if one
//! falls before the window ends, else any allowed instant), and closes at
//! the trigger plus the due window. When no instant of the window is
//! allowed at all (a one-hour window in the night), the window moves to
//! the first allowed span and ends no earlier than that span does.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use kefu_kit::wall_clock::{
    MINUTES_PER_DAY, WeekSpans, holiday_map, local_date, local_instant, minutes, week_spans,
    zone_or_default,
};
use kefu_proto::v1::{BusinessCalendar, ContactPreferences, WeeklySchedule};

/// How far ahead a search for an allowed instant looks before it gives up
/// (a calendar closed for more than this is treated as never open).
const SEARCH_DAYS: i64 = 400;

/// Why an instant is not allowed for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// The tenant's quiet hours, a holiday, or outside the policy's calling
    /// hours (`QUIET_HOURS`).
    QuietHours,
    /// The customer's do-not-disturb (`DO_NOT_DISTURB`).
    DoNotDisturb,
}

impl Blocked {
    /// The `CallbackErrorReason` name sent with a refusal.
    pub fn reason(self) -> &'static str {
        match self {
            Self::QuietHours => "QUIET_HOURS",
            Self::DoNotDisturb => "DO_NOT_DISTURB",
        }
    }
}

/// The customer's do-not-disturb as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DoNotDisturb {
    Off,
    Until(DateTime<Utc>),
    Always,
}

/// The rules of when one customer may be called under one policy.
#[derive(Debug, Clone)]
pub struct CallingRules {
    zone: Tz,
    /// Daily quiet spans, minutes since midnight, a crossing span split in
    /// its evening and morning parts.
    quiet: Vec<(u32, u32)>,
    holidays: HashMap<NaiveDate, bool>,
    /// The policy's calling hours; None: the whole day.
    calling: Option<WeekSpans>,
    /// The calling hours of a make-up working day on a weekday without any.
    make_up: Vec<(u32, u32)>,
    /// The customer's preferred hours and zone.
    preferred: Option<(WeekSpans, Tz)>,
    do_not_disturb: DoNotDisturb,
}

/// A task's due window and the first time to call in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueWindow {
    /// The first instant a call is allowed.
    pub start: DateTime<Utc>,
    /// When the task must be done by.
    pub end: DateTime<Utc>,
    /// The earliest allowed instant from now (preferred hours if possible);
    /// None when the customer may never be called (a standing
    /// do-not-disturb).
    pub next_call: Option<DateTime<Utc>>,
}

impl CallingRules {
    /// The tenant's rules: `calendar`'s quiet hours and holidays in
    /// `time_zone` (an unknown zone reads as Asia/Shanghai).
    pub fn new(calendar: Option<&BusinessCalendar>, time_zone: &str) -> Self {
        let mut quiet = Vec::new();
        for span in calendar
            .map(|calendar| calendar.quiet_hours.as_slice())
            .unwrap_or_default()
        {
            let (Some(start), Some(end)) =
                (minutes(span.start.as_ref()), minutes(span.end.as_ref()))
            else {
                continue;
            };
            if start < end {
                quiet.push((start, end));
            } else {
                // Not after its start: it crosses midnight.
                quiet.push((start, MINUTES_PER_DAY));
                if end > 0 {
                    quiet.push((0, end));
                }
            }
        }
        quiet.sort_unstable();
        Self {
            zone: zone_or_default(time_zone),
            quiet,
            holidays: calendar
                .map(|calendar| holiday_map(&calendar.holidays))
                .unwrap_or_default(),
            calling: None,
            make_up: Vec::new(),
            preferred: None,
            do_not_disturb: DoNotDisturb::Off,
        }
    }

    /// Narrowed to a policy's calling hours (none, or no day with hours:
    /// no narrowing).
    pub fn with_calling_hours(mut self, hours: Option<&WeeklySchedule>) -> Self {
        let Some(hours) = hours else {
            return self;
        };
        let week = week_spans(hours);
        if week.iter().all(Vec::is_empty) {
            return self;
        }
        self.make_up = week[..5]
            .iter()
            .find(|spans| !spans.is_empty())
            .cloned()
            .unwrap_or_default();
        self.calling = Some(week);
        self
    }

    /// With the customer's do-not-disturb (as it stands at `now`: one that
    /// has passed is off) and preferred hours.
    pub fn with_customer(
        mut self,
        preferences: Option<&ContactPreferences>,
        now: DateTime<Utc>,
    ) -> Self {
        let Some(preferences) = preferences else {
            return self;
        };
        self.do_not_disturb = if !preferences.do_not_disturb {
            DoNotDisturb::Off
        } else {
            match preferences
                .do_not_disturb_until
                .as_ref()
                .and_then(kefu_kit::events::from_timestamp)
            {
                Some(until) if until <= now => DoNotDisturb::Off,
                Some(until) => DoNotDisturb::Until(until),
                None => DoNotDisturb::Always,
            }
        };
        if let Some(hours) = &preferences.preferred_hours {
            let week = week_spans(hours);
            if week.iter().any(|spans| !spans.is_empty()) {
                let zone = if preferences.time_zone.is_empty() {
                    self.zone
                } else {
                    zone_or_default(&preferences.time_zone)
                };
                self.preferred = Some((week, zone));
            }
        }
        self
    }

    /// The tenant's zone.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Whether `instant` is allowed for a call, and why not. Preferred
    /// hours never refuse: they are a preference.
    pub fn blocked(&self, instant: DateTime<Utc>) -> Option<Blocked> {
        let open = self
            .tenant_intervals(local_date(self.zone, instant))
            .iter()
            .any(|&(from, to)| from <= instant && instant < to);
        if !open {
            return Some(Blocked::QuietHours);
        }
        match self.do_not_disturb {
            DoNotDisturb::Always => Some(Blocked::DoNotDisturb),
            DoNotDisturb::Until(until) if instant < until => Some(Blocked::DoNotDisturb),
            _ => None,
        }
    }

    /// The first allowed instant at or after `from` and before `horizon`,
    /// with the end of the allowed span it opens; with `prefer`, inside the
    /// customer's preferred hours too (when the customer has some).
    pub fn next_allowed(
        &self,
        from: DateTime<Utc>,
        prefer: bool,
        horizon: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let from = match self.do_not_disturb {
            DoNotDisturb::Off => from,
            DoNotDisturb::Until(until) => from.max(until),
            DoNotDisturb::Always => return None,
        };
        if from >= horizon {
            return None;
        }
        let last = local_date(self.zone, horizon.min(from + Duration::days(SEARCH_DAYS)));
        let mut date = local_date(self.zone, from);
        while date <= last {
            for (open, close) in self.tenant_intervals(date) {
                let open = open.max(from);
                if open >= close {
                    continue;
                }
                let spans = match (&self.preferred, prefer) {
                    (Some(preferred), true) => intersect(open, close, preferred),
                    _ => vec![(open, close)],
                };
                if let Some(&(start, end)) = spans.first() {
                    return (start < horizon).then_some((start, end));
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// The due window of a task triggered at `trigger`: it opens `delay`
    /// later, moved to an allowed instant, and closes `length` after the
    /// trigger (see the module comment); `next_call` from `now`.
    pub fn due_window(
        &self,
        trigger: DateTime<Utc>,
        delay: Duration,
        length: Duration,
        now: DateTime<Utc>,
    ) -> DueWindow {
        self.window_between(trigger + delay, trigger + length, now)
    }

    /// The due window opening at `earliest` (moved to an allowed instant)
    /// and closing at `end`, as [`Self::due_window`].
    pub fn window_between(
        &self,
        earliest: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DueWindow {
        let far = earliest + Duration::days(SEARCH_DAYS);
        let (start, end) = match self
            .next_allowed(earliest, true, end)
            .or_else(|| self.next_allowed(earliest, false, end))
        {
            Some((start, _)) => (start, end),
            None => match self.next_allowed(earliest, false, far) {
                Some((start, close)) => (start, end.max(close)),
                None => (earliest, end),
            },
        };
        DueWindow {
            start,
            end,
            next_call: self.next_call(start.max(now), end),
        }
    }

    /// The earliest allowed instant at or after `from`: in preferred hours
    /// when one falls before `deadline`, else any allowed instant.
    pub fn next_call(&self, from: DateTime<Utc>, deadline: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let far = from + Duration::days(SEARCH_DAYS);
        self.next_allowed(from, true, deadline.max(from))
            .or_else(|| self.next_allowed(from, false, far))
            .map(|(start, _)| start)
    }

    /// The spans of local `date` open for calls by the tenant's and the
    /// policy's rules, as UTC instants, in order.
    fn tenant_intervals(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let base: Vec<(u32, u32)> = match (self.holidays.get(&date), &self.calling) {
            (Some(false), _) => return Vec::new(),
            (_, None) => vec![(0, MINUTES_PER_DAY)],
            (holiday, Some(week)) => {
                let spans = &week[date.weekday().num_days_from_monday() as usize];
                if spans.is_empty() && holiday == Some(&true) {
                    self.make_up.clone()
                } else {
                    spans.clone()
                }
            }
        };
        subtract(&base, &self.quiet)
            .into_iter()
            .filter_map(|(start, end)| {
                let open = local_instant(self.zone, date, start)?;
                let close = local_instant(self.zone, date, end)?;
                (open < close).then_some((open, close))
            })
            .collect()
    }
}

/// `spans` minus `closed` (both sorted minute spans of one day).
fn subtract(spans: &[(u32, u32)], closed: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut result = Vec::new();
    for &(start, end) in spans {
        let mut cursor = start;
        for &(from, to) in closed {
            if to <= cursor || from >= end {
                continue;
            }
            if from > cursor {
                result.push((cursor, from));
            }
            cursor = cursor.max(to);
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            result.push((cursor, end));
        }
    }
    result
}

/// The parts of `[open, close)` inside the preferred hours `week` of
/// `zone`, in order.
fn intersect(
    open: DateTime<Utc>,
    close: DateTime<Utc>,
    (week, zone): &(WeekSpans, Tz),
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut result = Vec::new();
    let mut date = local_date(*zone, open);
    let last = local_date(*zone, close);
    while date <= last {
        for &(start, end) in &week[date.weekday().num_days_from_monday() as usize] {
            let (Some(from), Some(to)) = (
                local_instant(*zone, date, start),
                local_instant(*zone, date, end),
            ) else {
                continue;
            };
            let from = from.max(open);
            let to = to.min(close);
            if from < to {
                result.push((from, to));
            }
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use kefu_kit::events::to_timestamp;
    use kefu_proto::v1::{Date, DayHours, DayOfWeek, Holiday, TimeOfDay, TimeSpan};

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

    /// The seeds' rest time: nights 21:00–08:00 and lunch 12:00–13:30.
    fn calendar(holidays: Vec<Holiday>) -> BusinessCalendar {
        BusinessCalendar {
            business_hours: None,
            holidays,
            quiet_hours: vec![span((21, 0), (8, 0)), span((12, 0), (13, 30))],
        }
    }

    fn holiday(year: i32, month: i32, day: i32, working_day: bool) -> Holiday {
        Holiday {
            date: Some(Date { year, month, day }),
            name: None,
            working_day,
        }
    }

    /// A Shanghai wall time as UTC.
    fn sh(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(year, month, day, hour, minute, 0)
            .single()
            .expect("a Shanghai time")
            .with_timezone(&Utc)
    }

    fn rules() -> CallingRules {
        CallingRules::new(Some(&calendar(Vec::new())), "Asia/Shanghai")
    }

    fn days(days: &[DayOfWeek], spans: Vec<TimeSpan>) -> WeeklySchedule {
        WeeklySchedule {
            days: days
                .iter()
                .map(|day| DayHours {
                    day: *day as i32,
                    spans: spans.clone(),
                })
                .collect(),
        }
    }

    const WEEKDAYS: [DayOfWeek; 5] = [
        DayOfWeek::Monday,
        DayOfWeek::Tuesday,
        DayOfWeek::Wednesday,
        DayOfWeek::Thursday,
        DayOfWeek::Friday,
    ];

    const EVERY_DAY: [DayOfWeek; 7] = [
        DayOfWeek::Monday,
        DayOfWeek::Tuesday,
        DayOfWeek::Wednesday,
        DayOfWeek::Thursday,
        DayOfWeek::Friday,
        DayOfWeek::Saturday,
        DayOfWeek::Sunday,
    ];

    #[test]
    fn a_trigger_late_at_night_opens_the_window_next_morning() {
        // Tuesday 1 December 2026, 22:30: quiet until 08:00.
        let window = rules().due_window(
            sh(2026, 12, 1, 22, 30),
            Duration::zero(),
            Duration::days(3),
            sh(2026, 12, 1, 22, 30),
        );
        assert_eq!(window.start, sh(2026, 12, 2, 8, 0));
        assert_eq!(window.end, sh(2026, 12, 4, 22, 30));
        assert_eq!(window.next_call, Some(sh(2026, 12, 2, 8, 0)));
    }

    #[test]
    fn a_trigger_after_midnight_is_still_in_the_crossing_quiet_span() {
        let window = rules().due_window(
            sh(2026, 12, 2, 0, 15),
            Duration::zero(),
            Duration::days(3),
            sh(2026, 12, 2, 0, 15),
        );
        assert_eq!(window.start, sh(2026, 12, 2, 8, 0));
    }

    #[test]
    fn lunch_rest_moves_the_start_to_its_end_and_daytime_stays() {
        let rules = rules();
        let lunch = rules.due_window(
            sh(2026, 12, 1, 12, 10),
            Duration::zero(),
            Duration::days(3),
            sh(2026, 12, 1, 12, 10),
        );
        assert_eq!(lunch.start, sh(2026, 12, 1, 13, 30));
        let morning = rules.due_window(
            sh(2026, 12, 1, 9, 0),
            Duration::zero(),
            Duration::days(3),
            sh(2026, 12, 1, 9, 0),
        );
        assert_eq!(morning.start, sh(2026, 12, 1, 9, 0));
    }

    #[test]
    fn the_start_delay_counts_before_quiet_hours_are_skipped() {
        // 18:00 + 4 hours = 22:00, quiet: the next morning.
        let window = rules().due_window(
            sh(2026, 12, 1, 18, 0),
            Duration::hours(4),
            Duration::days(3),
            sh(2026, 12, 1, 18, 0),
        );
        assert_eq!(window.start, sh(2026, 12, 2, 8, 0));
        assert_eq!(window.end, sh(2026, 12, 4, 18, 0));
    }

    #[test]
    fn holidays_are_closed_all_day() {
        let rules = CallingRules::new(
            Some(&calendar(vec![
                holiday(2026, 10, 1, false),
                holiday(2026, 10, 2, false),
            ])),
            "Asia/Shanghai",
        );
        let window = rules.due_window(
            sh(2026, 9, 30, 20, 30),
            Duration::hours(1),
            Duration::days(3),
            sh(2026, 9, 30, 20, 30),
        );
        assert_eq!(window.start, sh(2026, 10, 3, 8, 0));
        assert_eq!(
            rules.blocked(sh(2026, 10, 1, 10, 0)),
            Some(Blocked::QuietHours)
        );
    }

    #[test]
    fn make_up_working_days_open_with_the_weekday_calling_hours() {
        // Calling hours Monday to Friday 09:00–17:00; Saturday 10 October
        // 2026 is a make-up working day, Sunday the 11th is not.
        let hours = days(&WEEKDAYS, vec![span((9, 0), (17, 0))]);
        let rules = CallingRules::new(
            Some(&calendar(vec![holiday(2026, 10, 10, true)])),
            "Asia/Shanghai",
        )
        .with_calling_hours(Some(&hours));
        let window = rules.due_window(
            sh(2026, 10, 9, 18, 0),
            Duration::zero(),
            Duration::days(3),
            sh(2026, 10, 9, 18, 0),
        );
        assert_eq!(window.start, sh(2026, 10, 10, 9, 0));
        assert_eq!(rules.blocked(sh(2026, 10, 10, 15, 0)), None);
        assert_eq!(
            rules.blocked(sh(2026, 10, 11, 15, 0)),
            Some(Blocked::QuietHours)
        );
        // Lunch rest still applies inside the calling hours.
        assert_eq!(
            rules.blocked(sh(2026, 10, 10, 12, 30)),
            Some(Blocked::QuietHours)
        );
    }

    #[test]
    fn calling_hours_narrow_the_day() {
        // E-commerce reminders only 18:00–20:00.
        let hours = days(&EVERY_DAY, vec![span((18, 0), (20, 0))]);
        let rules = rules().with_calling_hours(Some(&hours));
        let window = rules.due_window(
            sh(2026, 12, 1, 9, 0),
            Duration::zero(),
            Duration::days(1),
            sh(2026, 12, 1, 9, 0),
        );
        assert_eq!(window.start, sh(2026, 12, 1, 18, 0));
        assert_eq!(
            rules.blocked(sh(2026, 12, 1, 20, 0)),
            Some(Blocked::QuietHours)
        );
        // Calling hours never widen: a span reaching into quiet hours stops
        // at them.
        let late = days(&EVERY_DAY, vec![span((20, 0), (23, 0))]);
        let rules = CallingRules::new(Some(&calendar(Vec::new())), "Asia/Shanghai")
            .with_calling_hours(Some(&late));
        assert_eq!(rules.blocked(sh(2026, 12, 1, 20, 30)), None);
        assert_eq!(
            rules.blocked(sh(2026, 12, 1, 21, 30)),
            Some(Blocked::QuietHours)
        );
    }

    #[test]
    fn do_not_disturb_until_holds_the_start_and_passed_ones_are_off() {
        let now = sh(2026, 12, 1, 9, 0);
        let preferences = ContactPreferences {
            do_not_disturb: true,
            do_not_disturb_until: Some(to_timestamp(sh(2026, 12, 2, 10, 15))),
            ..ContactPreferences::default()
        };
        let rules = rules().with_customer(Some(&preferences), now);
        let window = rules.due_window(now, Duration::zero(), Duration::days(3), now);
        assert_eq!(window.start, sh(2026, 12, 2, 10, 15));
        assert_eq!(
            rules.blocked(sh(2026, 12, 1, 15, 0)),
            Some(Blocked::DoNotDisturb)
        );
        assert_eq!(rules.blocked(sh(2026, 12, 2, 10, 15)), None);

        // Read after it passed: off.
        let rules = self::rules().with_customer(Some(&preferences), sh(2026, 12, 3, 9, 0));
        assert_eq!(rules.blocked(sh(2026, 12, 3, 9, 0)), None);
    }

    #[test]
    fn a_standing_do_not_disturb_never_allows_a_call() {
        let now = sh(2026, 12, 1, 9, 0);
        let preferences = ContactPreferences {
            do_not_disturb: true,
            ..ContactPreferences::default()
        };
        let rules = rules().with_customer(Some(&preferences), now);
        let window = rules.due_window(now, Duration::zero(), Duration::days(3), now);
        assert_eq!(window.start, now);
        assert_eq!(window.next_call, None);
        assert_eq!(rules.blocked(now), Some(Blocked::DoNotDisturb));
    }

    #[test]
    fn preferred_hours_are_used_when_they_fit_in_the_window() {
        let now = sh(2026, 12, 1, 9, 0);
        let preferences = ContactPreferences {
            preferred_hours: Some(days(&EVERY_DAY, vec![span((19, 0), (20, 30))])),
            ..ContactPreferences::default()
        };
        let rules = rules().with_customer(Some(&preferences), now);
        let window = rules.due_window(now, Duration::zero(), Duration::days(3), now);
        assert_eq!(window.start, sh(2026, 12, 1, 19, 0));
        // A preference never refuses a call.
        assert_eq!(rules.blocked(sh(2026, 12, 1, 10, 0)), None);
        // A window too short for them: the first allowed instant instead.
        let short = rules.due_window(now, Duration::zero(), Duration::hours(2), now);
        assert_eq!(short.start, now);
    }

    #[test]
    fn preferred_hours_are_read_in_the_customers_zone() {
        // The customer lives in London (UTC+0 in December): 09:00–10:00
        // there is 17:00–18:00 in Shanghai.
        let now = sh(2026, 12, 1, 9, 0);
        let preferences = ContactPreferences {
            preferred_hours: Some(days(&EVERY_DAY, vec![span((9, 0), (10, 0))])),
            time_zone: "Europe/London".into(),
            ..ContactPreferences::default()
        };
        let rules = rules().with_customer(Some(&preferences), now);
        let window = rules.due_window(now, Duration::zero(), Duration::days(3), now);
        assert_eq!(window.start, sh(2026, 12, 1, 17, 0));
    }

    #[test]
    fn quiet_hours_are_read_in_the_tenants_zone() {
        let rules = CallingRules::new(Some(&calendar(Vec::new())), "Europe/Berlin");
        let berlin = |hour| {
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(2026, 12, 1, hour, 0, 0)
                .single()
                .expect("a Berlin time")
                .with_timezone(&Utc)
        };
        assert_eq!(rules.blocked(berlin(22)), Some(Blocked::QuietHours));
        assert_eq!(rules.blocked(berlin(10)), None);
        let window = rules.due_window(berlin(22), Duration::zero(), Duration::days(3), berlin(22));
        assert_eq!(
            window.start,
            chrono_tz::Europe::Berlin
                .with_ymd_and_hms(2026, 12, 2, 8, 0, 0)
                .single()
                .expect("a Berlin time")
                .with_timezone(&Utc)
        );
    }

    #[test]
    fn a_window_entirely_in_quiet_hours_moves_to_the_next_open_span() {
        // One hour from 22:00: nothing allowed in it.
        let window = rules().due_window(
            sh(2026, 12, 1, 22, 0),
            Duration::zero(),
            Duration::hours(1),
            sh(2026, 12, 1, 22, 0),
        );
        assert_eq!(window.start, sh(2026, 12, 2, 8, 0));
        assert_eq!(window.end, sh(2026, 12, 2, 12, 0));
    }

    #[test]
    fn next_call_is_from_now_when_the_window_is_already_open() {
        let window = rules().due_window(
            sh(2026, 12, 1, 9, 0),
            Duration::zero(),
            Duration::days(3),
            sh(2026, 12, 1, 21, 30),
        );
        assert_eq!(window.start, sh(2026, 12, 1, 9, 0));
        assert_eq!(window.next_call, Some(sh(2026, 12, 2, 8, 0)));
    }

    #[test]
    fn no_calendar_allows_any_time() {
        let rules = CallingRules::new(None, "");
        assert_eq!(rules.blocked(sh(2026, 12, 1, 3, 0)), None);
        assert_eq!(rules.zone(), chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn a_quiet_span_from_midnight_to_midnight_closes_the_day() {
        let calendar = BusinessCalendar {
            business_hours: None,
            holidays: Vec::new(),
            quiet_hours: vec![span((0, 0), (0, 0))],
        };
        let rules = CallingRules::new(Some(&calendar), "Asia/Shanghai");
        assert_eq!(
            rules.blocked(sh(2026, 12, 1, 10, 0)),
            Some(Blocked::QuietHours)
        );
        let window = rules.due_window(
            sh(2026, 12, 1, 10, 0),
            Duration::zero(),
            Duration::days(1),
            sh(2026, 12, 1, 10, 0),
        );
        assert_eq!(window.start, sh(2026, 12, 1, 10, 0));
        assert_eq!(window.next_call, None);
    }

    #[test]
    fn subtracting_spans() {
        assert_eq!(
            subtract(&[(0, 1440)], &[(0, 480), (720, 810), (1260, 1440)]),
            vec![(480, 720), (810, 1260)]
        );
        assert_eq!(subtract(&[(600, 700)], &[(0, 480)]), vec![(600, 700)]);
        assert_eq!(subtract(&[(600, 700)], &[(500, 800)]), Vec::new());
    }

    #[test]
    fn quiet_hours_follow_daylight_saving_in_the_tenants_zone() {
        // New York springs forward on Sunday 8 March 2026: 08:00 local is
        // 13:00 UTC on Saturday and 12:00 UTC on Sunday.
        let rules = CallingRules::new(Some(&calendar(Vec::new())), "America/New_York");
        let new_york = |day, hour| {
            chrono_tz::America::New_York
                .with_ymd_and_hms(2026, 3, day, hour, 0, 0)
                .single()
                .expect("a New York time")
                .with_timezone(&Utc)
        };
        let saturday = rules.due_window(
            new_york(6, 23),
            Duration::zero(),
            Duration::days(3),
            new_york(6, 23),
        );
        assert_eq!(saturday.start, new_york(7, 8));
        let sunday = rules.due_window(
            new_york(7, 22),
            Duration::zero(),
            Duration::days(3),
            new_york(7, 22),
        );
        assert_eq!(sunday.start, new_york(8, 8));
        assert_eq!(sunday.start.to_rfc3339(), "2026-03-08T12:00:00+00:00");
    }
}
