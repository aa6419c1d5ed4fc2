//! Changing a tenant's profile, calendar and settings with a field mask:
//! which paths each editor may name, and what a valid result is. The
//! masked values are copied onto a candidate which is then checked whole,
//! so nothing is stored unless every masked field is valid.

use chrono::{DateTime, Utc};
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{BusinessCalendar, PlanTier, Tenant, TenantSettings};
use prost_types::Duration;

use super::{calendar, mask::path_field, tenant as rules};
use crate::error::{Result, TenantsError};

/// Who edits: the platform operator (UpdateTenant) or the tenant's own
/// administrator (UpdateCurrentTenant), who may not change the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Editor {
    /// The platform operator.
    Operator,
    /// A ROLE_ADMIN user or a key with `tenants` write scope.
    TenantAdmin,
}

/// The settable fields of `TenantSettings`, as mask sub-paths.
pub const SETTINGS_FIELDS: &[&str] = &[
    "reopen_window",
    "auto_close_delay",
    "complaint_deadline_days",
    "investigation_report_days",
    "callback_due_window",
    "first_contact_days",
    "currency_code",
    "session_idle_timeout",
    "session_max_lifetime",
    "password_min_length",
];

const CALENDAR_FIELDS: &[&str] = &["business_hours", "holidays", "quiet_hours"];

const OUTPUT_ONLY: &[&str] = &[
    "name",
    "state",
    "template",
    "template_version",
    "placement",
    "suspend_reason",
    "suspend_time",
    "delete_time",
    "purge_time",
    "create_time",
    "update_time",
    "etag",
];

const MINUTE: i64 = 60;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// What an update changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Changes {
    /// The mask paths whose value differs afterwards.
    pub paths: Vec<String>,
    /// Whether business hours, holidays, quiet hours or the time zone
    /// changed (BusinessCalendarChanged).
    pub calendar: bool,
}

/// Checks every path of `paths` for `editor` before anything is read.
fn check_paths(paths: &[String], editor: Editor) -> Result<()> {
    for path in paths {
        let field = path_field(paths, path);
        let (head, tail) = match path.split_once('.') {
            Some((head, tail)) => (head, Some(tail)),
            None => (path.as_str(), None),
        };
        let refusal = match (head, tail) {
            ("display_name" | "time_zone" | "locale", None) => None,
            ("plan_tier", None) if editor == Editor::Operator => None,
            ("plan_tier", None) => Some("the plan is changed by the platform operator".to_owned()),
            ("calendar", None) => None,
            ("calendar", Some(sub)) if CALENDAR_FIELDS.contains(&sub) => None,
            ("settings", None) => None,
            ("settings", Some(sub)) if SETTINGS_FIELDS.contains(&sub) => None,
            ("slug" | "industry" | "isolation_tier", None) => Some(format!("{head} is immutable")),
            (head, None) if OUTPUT_ONLY.contains(&head) => Some(format!("{head} is output only")),
            _ => Some(format!("{path:?} is not a settable field of Tenant")),
        };
        if let Some(description) = refusal {
            return Err(TenantsError::invalid(&field, description));
        }
    }
    Ok(())
}

fn copy_setting(target: &mut TenantSettings, source: &TenantSettings, field: &str) {
    match field {
        "reopen_window" => target.reopen_window = source.reopen_window,
        "auto_close_delay" => target.auto_close_delay = source.auto_close_delay,
        "complaint_deadline_days" => {
            target.complaint_deadline_days = source.complaint_deadline_days
        }
        "investigation_report_days" => {
            target.investigation_report_days = source.investigation_report_days
        }
        "callback_due_window" => target.callback_due_window = source.callback_due_window,
        "first_contact_days" => target.first_contact_days = source.first_contact_days,
        "currency_code" => target.currency_code = source.currency_code.clone(),
        "session_idle_timeout" => target.session_idle_timeout = source.session_idle_timeout,
        "session_max_lifetime" => target.session_max_lifetime = source.session_max_lifetime,
        "password_min_length" => target.password_min_length = source.password_min_length,
        _ => {}
    }
}

fn copy_calendar_part(target: &mut BusinessCalendar, source: &BusinessCalendar, field: &str) {
    match field {
        "business_hours" => target.business_hours = source.business_hours.clone(),
        "holidays" => target.holidays = source.holidays.clone(),
        "quiet_hours" => target.quiet_hours = source.quiet_hours.clone(),
        _ => {}
    }
}

/// Applies the masked fields of `requested` to `current`; on error
/// `current` is unchanged. Returns what changed (nothing: store nothing).
pub fn apply_update(
    current: &mut Tenant,
    requested: &Tenant,
    paths: &[String],
    editor: Editor,
    now: DateTime<Utc>,
) -> Result<Changes> {
    check_paths(paths, editor)?;
    let mut candidate = current.clone();
    let requested_calendar = requested.calendar.clone().unwrap_or_default();
    let requested_settings = requested.settings.clone().unwrap_or_default();
    for path in paths {
        match path.split_once('.') {
            None => match path.as_str() {
                "display_name" => candidate.display_name = requested.display_name.clone(),
                "time_zone" => candidate.time_zone = requested.time_zone.clone(),
                "locale" => candidate.locale = requested.locale.clone(),
                "plan_tier" => candidate.plan_tier = requested.plan_tier,
                "calendar" => candidate.calendar = Some(requested_calendar.clone()),
                // Unset fields take their documented defaults below.
                "settings" => candidate.settings = Some(requested_settings.clone()),
                _ => {}
            },
            Some(("calendar", field)) => copy_calendar_part(
                candidate.calendar.get_or_insert_with(Default::default),
                &requested_calendar,
                field,
            ),
            Some((_, field)) => copy_setting(
                candidate.settings.get_or_insert_with(Default::default),
                &requested_settings,
                field,
            ),
        }
    }
    rules::check_length("tenant.display_name", &candidate.display_name, 1, 200)?;
    rules::check_time_zone("tenant.time_zone", &candidate.time_zone)?;
    rules::check_locale("tenant.locale", &candidate.locale)?;
    candidate.plan_tier = match PlanTier::try_from(candidate.plan_tier) {
        Ok(PlanTier::Unspecified) => PlanTier::Starter as i32,
        Ok(tier) => tier as i32,
        Err(_) => {
            return Err(TenantsError::invalid(
                "tenant.plan_tier",
                "is not a kefu.v1.PlanTier value",
            ));
        }
    };
    if let Some(calendar) = &candidate.calendar {
        calendar::check_calendar("tenant.calendar", calendar)?;
    }
    let settings = candidate.settings.clone().unwrap_or_default();
    check_settings("tenant.settings", &settings)?;
    candidate.settings = Some(rules::settings_with_defaults(Some(&settings), None));

    let mut changes = Changes::default();
    for path in paths {
        if value_at(current, path) != value_at(&candidate, path) {
            changes.calendar |= path.starts_with("calendar") || path == "time_zone";
            changes.paths.push(path.clone());
        }
    }
    if !changes.paths.is_empty() {
        candidate.update_time = Some(to_timestamp(now));
        *current = candidate;
    }
    Ok(changes)
}

/// The value at `path`, encoded, for comparing before and after.
fn value_at(tenant: &Tenant, path: &str) -> Vec<u8> {
    use prost::Message;
    let calendar = tenant.calendar.clone().unwrap_or_default();
    let settings = tenant.settings.clone().unwrap_or_default();
    match path.split_once('.') {
        None => match path {
            "display_name" => tenant.display_name.clone().into_bytes(),
            "time_zone" => tenant.time_zone.clone().into_bytes(),
            "locale" => tenant.locale.clone().into_bytes(),
            "plan_tier" => tenant.plan_tier.to_le_bytes().to_vec(),
            "calendar" => calendar.encode_to_vec(),
            _ => settings.encode_to_vec(),
        },
        Some(("calendar", field)) => {
            let mut part = BusinessCalendar::default();
            copy_calendar_part(&mut part, &calendar, field);
            part.encode_to_vec()
        }
        Some((_, field)) => {
            let mut part = TenantSettings::default();
            copy_setting(&mut part, &settings, field);
            part.encode_to_vec()
        }
    }
}

/// A duration field: unset or zero (the default), or within
/// `min..=max` seconds.
fn check_duration(field: &str, value: Option<&Duration>, min: i64, max: i64) -> Result<()> {
    let Some(value) = value else {
        return Ok(());
    };
    if value.seconds < 0 || value.nanos < 0 || value.nanos >= 1_000_000_000 {
        return Err(TenantsError::invalid(field, "must not be negative"));
    }
    if (value.seconds, value.nanos) == (0, 0) {
        return Ok(());
    }
    if value.seconds < min || value.seconds > max || (value.seconds == max && value.nanos > 0) {
        return Err(TenantsError::invalid(
            field,
            format!("must be between {} and {}", human(min), human(max)),
        ));
    }
    Ok(())
}

fn human(seconds: i64) -> String {
    match seconds {
        0 => "0".to_owned(),
        s if s % DAY == 0 => format!("{} days", s / DAY),
        s if s % HOUR == 0 => format!("{} hours", s / HOUR),
        s => format!("{} minutes", s / MINUTE),
    }
}

/// A whole-number field: zero (the default) or within `min..=max`.
fn check_count(field: &str, value: i32, min: i32, max: i32) -> Result<()> {
    if value == 0 || (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(TenantsError::invalid(
            field,
            format!("must be between {min} and {max}, not {value}"),
        ))
    }
}

/// Whether `code` has the shape of an ISO 4217 code (`CNY`).
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|byte| byte.is_ascii_uppercase())
}

/// Checks the ranges documented on `TenantSettings`; zero values are
/// allowed (they take the default).
pub fn check_settings(prefix: &str, settings: &TenantSettings) -> Result<()> {
    let field = |name: &str| format!("{prefix}.{name}");
    check_duration(
        &field("reopen_window"),
        settings.reopen_window.as_ref(),
        0,
        90 * DAY,
    )?;
    check_duration(
        &field("auto_close_delay"),
        settings.auto_close_delay.as_ref(),
        HOUR,
        30 * DAY,
    )?;
    check_count(
        &field("complaint_deadline_days"),
        settings.complaint_deadline_days,
        1,
        60,
    )?;
    check_count(
        &field("investigation_report_days"),
        settings.investigation_report_days,
        1,
        30,
    )?;
    check_duration(
        &field("callback_due_window"),
        settings.callback_due_window.as_ref(),
        HOUR,
        90 * DAY,
    )?;
    check_count(
        &field("first_contact_days"),
        settings.first_contact_days,
        1,
        90,
    )?;
    if !settings.currency_code.is_empty() && !is_currency_code(&settings.currency_code) {
        return Err(TenantsError::invalid(
            &field("currency_code"),
            format!(
                "{:?} is not an ISO 4217 code such as CNY",
                settings.currency_code
            ),
        ));
    }
    check_duration(
        &field("session_idle_timeout"),
        settings.session_idle_timeout.as_ref(),
        5 * MINUTE,
        7 * DAY,
    )?;
    check_duration(
        &field("session_max_lifetime"),
        settings.session_max_lifetime.as_ref(),
        HOUR,
        30 * DAY,
    )?;
    check_count(
        &field("password_min_length"),
        settings.password_min_length,
        12,
        128,
    )
}

/// The services a silo placement routes (`TenantPlacement.upstreams`).
pub const PLACEMENT_SERVICES: &[&str] =
    &["customers", "tickets", "callbacks", "analytics", "tenants"];

/// Refuses a placement for a POOL tenant (NOT_A_SILO).
pub fn check_silo(tenant: &Tenant) -> Result<()> {
    if tenant.isolation_tier == kefu_proto::v1::IsolationTier::Silo as i32 {
        Ok(())
    } else {
        Err(TenantsError::IllegalTransition(
            "the tenant is in the shared pool; only SILO tenants have a placement".into(),
            Some("NOT_A_SILO"),
        ))
    }
}

/// A checked placement, stamped `now`: a Kubernetes namespace name (a DNS
/// label) and an `http(s)://host[:port]` upstream per known service.
pub fn placement(
    requested: Option<&kefu_proto::v1::TenantPlacement>,
    now: DateTime<Utc>,
) -> Result<kefu_proto::v1::TenantPlacement> {
    let requested = requested.ok_or_else(|| TenantsError::invalid("placement", "is required"))?;
    let namespace = &requested.namespace;
    let label = (1..=63).contains(&namespace.len())
        && namespace.starts_with(|c: char| c.is_ascii_lowercase())
        && !namespace.ends_with('-')
        && namespace
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !label {
        return Err(TenantsError::invalid(
            "placement.namespace",
            format!("{namespace:?} is not a Kubernetes namespace name (a DNS label)"),
        ));
    }
    for (service, address) in &requested.upstreams {
        let field = format!("placement.upstreams[{service}]");
        if !PLACEMENT_SERVICES.contains(&service.as_str()) {
            return Err(TenantsError::invalid(
                &field,
                format!(
                    "{service:?} is not a service; use {}",
                    PLACEMENT_SERVICES.join(", ")
                ),
            ));
        }
        let host = address
            .strip_prefix("http://")
            .or_else(|| address.strip_prefix("https://"))
            .unwrap_or_default();
        let valid_host =
            !host.is_empty() && !host.contains(['/', ' ', '?', '#', '@']) && !host.starts_with(':');
        if !valid_host {
            return Err(TenantsError::invalid(
                &field,
                format!("{address:?} is not an http(s)://host[:port] address"),
            ));
        }
    }
    Ok(kefu_proto::v1::TenantPlacement {
        update_time: Some(to_timestamp(now)),
        ..requested.clone()
    })
}

#[cfg(test)]
mod placement_tests {
    use kefu_proto::v1::{IsolationTier, TenantPlacement};

    use super::*;

    #[test]
    fn a_placement_names_a_namespace_and_known_upstreams() {
        let now: DateTime<Utc> = "2026-11-24T08:00:00Z".parse().expect("instant");
        let mut requested = TenantPlacement {
            namespace: "kefu-t-acme".into(),
            ..TenantPlacement::default()
        };
        requested.upstreams.insert(
            "tickets".into(),
            "http://kefu-tickets.kefu-t-acme:50051".into(),
        );
        let placed = placement(Some(&requested), now).expect("valid");
        assert!(placed.update_time.is_some());
        let mut unknown = requested.clone();
        unknown
            .upstreams
            .insert("billing".into(), "http://b:1".into());
        assert!(placement(Some(&unknown), now).is_err());
        let mut bad_uri = requested.clone();
        bad_uri
            .upstreams
            .insert("tickets".into(), "kefu-tickets:50051".into());
        assert!(placement(Some(&bad_uri), now).is_err());
        let bad_namespace = TenantPlacement {
            namespace: "Kefu_Acme".into(),
            ..requested
        };
        assert!(placement(Some(&bad_namespace), now).is_err());
        assert!(placement(None, now).is_err());
        let pool = Tenant {
            isolation_tier: IsolationTier::Pool as i32,
            ..Tenant::default()
        };
        assert!(matches!(
            check_silo(&pool),
            Err(TenantsError::IllegalTransition(_, Some("NOT_A_SILO")))
        ));
    }
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::{DayHours, DayOfWeek, TimeOfDay, TimeSpan, WeeklySchedule};

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-24T08:00:00Z".parse().expect("instant")
    }

    fn tenant() -> Tenant {
        Tenant {
            name: "tenants/x".into(),
            slug: "acme".into(),
            display_name: "Acme".into(),
            plan_tier: PlanTier::Starter as i32,
            time_zone: "Asia/Shanghai".into(),
            locale: "zh-CN".into(),
            calendar: Some(BusinessCalendar::default()),
            settings: Some(rules::settings_with_defaults(None, None)),
            ..Tenant::default()
        }
    }

    fn paths(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|path| (*path).to_owned()).collect()
    }

    fn field(error: TenantsError) -> String {
        match error {
            TenantsError::Invalid(violation, _) => violation.field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn only_masked_fields_change() {
        let mut current = tenant();
        let requested = Tenant {
            display_name: "Acme 物业".into(),
            locale: "en".into(),
            settings: Some(TenantSettings {
                complaint_deadline_days: 5,
                ..TenantSettings::default()
            }),
            ..Tenant::default()
        };
        let changes = apply_update(
            &mut current,
            &requested,
            &paths(&["display_name", "settings.complaint_deadline_days"]),
            Editor::TenantAdmin,
            now(),
        )
        .expect("valid");
        assert_eq!(
            changes.paths,
            paths(&["display_name", "settings.complaint_deadline_days"])
        );
        assert!(!changes.calendar);
        assert_eq!(current.display_name, "Acme 物业");
        assert_eq!(current.locale, "zh-CN", "locale was not in the mask");
        let settings = current.settings.expect("settings");
        assert_eq!(settings.complaint_deadline_days, 5);
        assert_eq!(settings.first_contact_days, 7, "other settings kept");
    }

    #[test]
    fn an_unchanged_value_changes_nothing() {
        let mut current = tenant();
        let changes = apply_update(
            &mut current,
            &tenant(),
            &paths(&["display_name"]),
            Editor::Operator,
            now(),
        )
        .expect("valid");
        assert!(changes.paths.is_empty());
        assert_eq!(current, tenant());
    }

    #[test]
    fn calendar_changes_are_flagged() {
        let mut current = tenant();
        let requested = Tenant {
            calendar: Some(BusinessCalendar {
                quiet_hours: vec![TimeSpan {
                    start: Some(TimeOfDay {
                        hours: 21,
                        minutes: 0,
                    }),
                    end: Some(TimeOfDay {
                        hours: 8,
                        minutes: 0,
                    }),
                }],
                ..BusinessCalendar::default()
            }),
            ..Tenant::default()
        };
        let changes = apply_update(
            &mut current,
            &requested,
            &paths(&["calendar.quiet_hours"]),
            Editor::TenantAdmin,
            now(),
        )
        .expect("valid");
        assert!(changes.calendar);
        assert_eq!(current.calendar.expect("calendar").quiet_hours.len(), 1);
    }

    #[test]
    fn paths_are_checked_per_editor() {
        let refused = |path: &str, editor| {
            let mut current = tenant();
            let error = apply_update(&mut current, &tenant(), &paths(&[path]), editor, now())
                .expect_err("refused");
            assert_eq!(current, tenant(), "nothing applied");
            field(error)
        };
        assert_eq!(
            refused("plan_tier", Editor::TenantAdmin),
            "update_mask.paths[0]"
        );
        for path in [
            "slug",
            "industry",
            "isolation_tier",
            "state",
            "placement",
            "colour",
            "settings.nope",
            "calendar.business_hours.days",
        ] {
            assert_eq!(refused(path, Editor::Operator), "update_mask.paths[0]");
        }
    }

    #[test]
    fn invalid_values_name_their_field_and_change_nothing() {
        let check = |requested: Tenant, path: &str| {
            let mut current = tenant();
            let error = apply_update(
                &mut current,
                &requested,
                &paths(&[path]),
                Editor::Operator,
                now(),
            )
            .expect_err("invalid");
            assert_eq!(current, tenant());
            field(error)
        };
        assert_eq!(
            check(
                Tenant {
                    time_zone: "Asia/Beijing".into(),
                    ..tenant()
                },
                "time_zone"
            ),
            "tenant.time_zone"
        );
        assert_eq!(
            check(
                Tenant {
                    display_name: String::new(),
                    ..tenant()
                },
                "display_name"
            ),
            "tenant.display_name"
        );
        assert_eq!(
            check(
                Tenant {
                    locale: "de".into(),
                    ..tenant()
                },
                "locale"
            ),
            "tenant.locale"
        );
        assert_eq!(
            check(
                Tenant {
                    plan_tier: 42,
                    ..tenant()
                },
                "plan_tier"
            ),
            "tenant.plan_tier"
        );
        let hours = |start: i32, end: i32| TimeSpan {
            start: Some(TimeOfDay {
                hours: start,
                minutes: 0,
            }),
            end: Some(TimeOfDay {
                hours: end,
                minutes: 0,
            }),
        };
        assert_eq!(
            check(
                Tenant {
                    calendar: Some(BusinessCalendar {
                        business_hours: Some(WeeklySchedule {
                            days: vec![DayHours {
                                day: DayOfWeek::Monday as i32,
                                spans: vec![hours(8, 12), hours(11, 17)],
                            }],
                        }),
                        ..BusinessCalendar::default()
                    }),
                    ..tenant()
                },
                "calendar.business_hours"
            ),
            "tenant.calendar.business_hours.days[0].spans[1]"
        );
        let settings = |settings: TenantSettings| Tenant {
            settings: Some(settings),
            ..tenant()
        };
        assert_eq!(
            check(
                settings(TenantSettings {
                    complaint_deadline_days: 61,
                    ..TenantSettings::default()
                }),
                "settings.complaint_deadline_days"
            ),
            "tenant.settings.complaint_deadline_days"
        );
        assert_eq!(
            check(
                settings(TenantSettings {
                    password_min_length: 8,
                    ..TenantSettings::default()
                }),
                "settings"
            ),
            "tenant.settings.password_min_length"
        );
        assert_eq!(
            check(
                settings(TenantSettings {
                    session_idle_timeout: Some(Duration {
                        seconds: 60,
                        nanos: 0
                    }),
                    ..TenantSettings::default()
                }),
                "settings.session_idle_timeout"
            ),
            "tenant.settings.session_idle_timeout"
        );
        assert_eq!(
            check(
                settings(TenantSettings {
                    currency_code: "yuan".into(),
                    ..TenantSettings::default()
                }),
                "settings.currency_code"
            ),
            "tenant.settings.currency_code"
        );
    }

    #[test]
    fn a_zero_setting_returns_to_its_default() {
        let mut current = tenant();
        current
            .settings
            .as_mut()
            .expect("settings")
            .complaint_deadline_days = 9;
        apply_update(
            &mut current,
            &Tenant::default(),
            &paths(&["settings.complaint_deadline_days"]),
            Editor::Operator,
            now(),
        )
        .expect("valid");
        assert_eq!(
            current.settings.expect("settings").complaint_deadline_days,
            6
        );
    }
}
