//! Tenants: what a valid new tenant is, what it starts with, and its
//! lifecycle (ACTIVE ⇄ SUSPENDED → DELETING).

use chrono::{DateTime, Duration, Utc};
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{
    Industry, IndustryTemplate, IsolationTier, PlanTier, Tenant, TenantSettings, TenantState,
};

use crate::error::{Result, TenantsError};

/// Locales the portal and scripts are written in.
pub const LOCALES: &[&str] = &["zh-CN", "en"];

/// The default time zone of a tenant.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// The longest grace period before a deleted tenant is purged.
pub const MAX_GRACE: Duration = Duration::days(90);

/// The default grace period.
pub const DEFAULT_GRACE: Duration = Duration::days(7);

/// Checks a text field's length in characters.
pub fn check_length(field: &str, value: &str, min: usize, max: usize) -> Result<()> {
    let length = value.chars().count();
    if length < min || length > max {
        let description = if min > 0 && length == 0 {
            "is required".to_owned()
        } else {
            format!("must be {min} to {max} characters, not {length}")
        };
        return Err(TenantsError::invalid(field, description));
    }
    Ok(())
}

/// Checks an IANA time zone name.
pub fn check_time_zone(field: &str, zone: &str) -> Result<()> {
    zone.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| {
        TenantsError::invalid_because(
            field,
            format!("{zone:?} is not an IANA time zone such as Asia/Shanghai"),
            "INVALID_TIME_ZONE",
        )
    })
}

/// Checks a locale.
pub fn check_locale(field: &str, locale: &str) -> Result<()> {
    if LOCALES.contains(&locale) {
        Ok(())
    } else {
        Err(TenantsError::invalid(
            field,
            format!(
                "{locale:?} is not supported; use one of {}",
                LOCALES.join(", ")
            ),
        ))
    }
}

/// A tenant ready to store, from a create request's `tenant` and the
/// template of its industry: defaults applied, output fields set.
pub fn new_tenant(
    requested: &Tenant,
    template: &IndustryTemplate,
    name: String,
    now: DateTime<Utc>,
) -> Result<Tenant> {
    super::slug::check_slug(&requested.slug).map_err(|error| {
        TenantsError::invalid_because("tenant.slug", error.to_string(), "INVALID_SLUG")
    })?;
    check_length("tenant.display_name", &requested.display_name, 1, 200)?;
    let industry = Industry::try_from(requested.industry)
        .ok()
        .filter(|industry| *industry != Industry::Unspecified)
        .ok_or_else(|| {
            TenantsError::invalid(
                "tenant.industry",
                "is required: one of the kefu.v1.Industry values",
            )
        })?;
    let plan_tier = match PlanTier::try_from(requested.plan_tier) {
        Ok(PlanTier::Unspecified) => PlanTier::Starter,
        Ok(tier) => tier,
        Err(_) => {
            return Err(TenantsError::invalid(
                "tenant.plan_tier",
                "unknown plan tier",
            ));
        }
    };
    let isolation_tier = match IsolationTier::try_from(requested.isolation_tier) {
        Ok(IsolationTier::Unspecified) => IsolationTier::Pool,
        Ok(tier) => tier,
        Err(_) => {
            return Err(TenantsError::invalid(
                "tenant.isolation_tier",
                "unknown isolation tier",
            ));
        }
    };
    let time_zone = non_empty(&requested.time_zone, DEFAULT_TIME_ZONE);
    check_time_zone("tenant.time_zone", &time_zone)?;
    let locale = non_empty(&requested.locale, "zh-CN");
    check_locale("tenant.locale", &locale)?;
    let now = Some(to_timestamp(now));
    Ok(Tenant {
        name,
        slug: requested.slug.clone(),
        display_name: requested.display_name.clone(),
        industry: industry as i32,
        plan_tier: plan_tier as i32,
        isolation_tier: isolation_tier as i32,
        state: TenantState::Active as i32,
        time_zone,
        locale,
        calendar: requested
            .calendar
            .clone()
            .or_else(|| template.default_calendar.clone()),
        settings: Some(settings_with_defaults(
            requested.settings.as_ref(),
            template.default_settings.as_ref(),
        )),
        template: template.name.clone(),
        template_version: template.version,
        placement: None,
        suspend_reason: String::new(),
        suspend_time: None,
        delete_time: None,
        purge_time: None,
        create_time: now,
        update_time: now,
        etag: String::new(),
    })
}

fn non_empty(value: &str, default: &str) -> String {
    if value.is_empty() {
        default.to_owned()
    } else {
        value.to_owned()
    }
}

/// Settings where every unset field takes the template's value, then the
/// documented default.
pub fn settings_with_defaults(
    requested: Option<&TenantSettings>,
    template: Option<&TenantSettings>,
) -> TenantSettings {
    let requested = requested.cloned().unwrap_or_default();
    let template = template.cloned().unwrap_or_default();
    let duration = |seconds: i64| Some(prost_types::Duration { seconds, nanos: 0 });
    let pick_duration =
        |a: Option<prost_types::Duration>, b: Option<prost_types::Duration>, default: i64| {
            a.filter(|d| d.seconds > 0)
                .or(b.filter(|d| d.seconds > 0))
                .or(duration(default))
        };
    let pick_int = |a: i32, b: i32, default: i32| {
        if a > 0 {
            a
        } else if b > 0 {
            b
        } else {
            default
        }
    };
    const DAY: i64 = 86_400;
    TenantSettings {
        reopen_window: pick_duration(requested.reopen_window, template.reopen_window, 7 * DAY),
        auto_close_delay: pick_duration(
            requested.auto_close_delay,
            template.auto_close_delay,
            3 * DAY,
        ),
        complaint_deadline_days: pick_int(
            requested.complaint_deadline_days,
            template.complaint_deadline_days,
            6,
        ),
        investigation_report_days: pick_int(
            requested.investigation_report_days,
            template.investigation_report_days,
            3,
        ),
        callback_due_window: pick_duration(
            requested.callback_due_window,
            template.callback_due_window,
            3 * DAY,
        ),
        first_contact_days: pick_int(requested.first_contact_days, template.first_contact_days, 7),
        currency_code: [requested.currency_code, template.currency_code]
            .into_iter()
            .find(|code| !code.is_empty())
            .unwrap_or_else(|| "CNY".to_owned()),
        session_idle_timeout: pick_duration(
            requested.session_idle_timeout,
            template.session_idle_timeout,
            8 * 3_600,
        ),
        session_max_lifetime: pick_duration(
            requested.session_max_lifetime,
            template.session_max_lifetime,
            7 * DAY,
        ),
        password_min_length: pick_int(
            requested.password_min_length,
            template.password_min_length,
            12,
        ),
    }
}

fn state_of(tenant: &Tenant) -> TenantState {
    TenantState::try_from(tenant.state).unwrap_or(TenantState::Unspecified)
}

fn illegal(tenant: &Tenant, action: &str) -> TenantsError {
    TenantsError::IllegalTransition(
        format!(
            "cannot {action} a tenant in state {}",
            state_of(tenant).as_str_name()
        ),
        None,
    )
}

/// Suspends an ACTIVE tenant.
pub fn suspend(tenant: &mut Tenant, reason: &str, now: DateTime<Utc>) -> Result<()> {
    check_length("reason", reason, 1, 500)?;
    if state_of(tenant) != TenantState::Active {
        return Err(illegal(tenant, "suspend"));
    }
    tenant.state = TenantState::Suspended as i32;
    tenant.suspend_reason = reason.to_owned();
    tenant.suspend_time = Some(to_timestamp(now));
    tenant.update_time = Some(to_timestamp(now));
    Ok(())
}

/// Resumes a SUSPENDED tenant.
pub fn resume(tenant: &mut Tenant, now: DateTime<Utc>) -> Result<()> {
    if state_of(tenant) != TenantState::Suspended {
        return Err(illegal(tenant, "resume"));
    }
    tenant.state = TenantState::Active as i32;
    tenant.suspend_reason.clear();
    tenant.suspend_time = None;
    tenant.update_time = Some(to_timestamp(now));
    Ok(())
}

/// Marks a tenant DELETING; returns its purge time.
pub fn request_deletion(
    tenant: &mut Tenant,
    export_offered: bool,
    grace: Option<&prost_types::Duration>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    if state_of(tenant) == TenantState::Deleting {
        return Err(illegal(tenant, "delete"));
    }
    if !export_offered {
        return Err(TenantsError::IllegalTransition(
            "export the tenant's data first (ExportTenantData), or set skip_export when the \
             tenant declined an export"
                .to_owned(),
            Some("EXPORT_NOT_OFFERED"),
        ));
    }
    let grace = match grace {
        None => DEFAULT_GRACE,
        Some(duration) => {
            let grace = Duration::seconds(duration.seconds);
            if duration.seconds < 0 || duration.nanos < 0 || grace > MAX_GRACE {
                return Err(TenantsError::invalid(
                    "grace_period",
                    "must be between 0 and 90 days",
                ));
            }
            grace
        }
    };
    let purge = now + grace;
    tenant.state = TenantState::Deleting as i32;
    tenant.delete_time = Some(to_timestamp(now));
    tenant.purge_time = Some(to_timestamp(purge));
    tenant.update_time = Some(to_timestamp(now));
    Ok(purge)
}

/// Why a tenant's users and keys are refused now, if they are.
pub fn refusal(tenant: &Tenant) -> Option<TenantsError> {
    match state_of(tenant) {
        TenantState::Suspended => Some(TenantsError::PermissionDenied(
            format!("the tenant is suspended: {}", tenant.suspend_reason),
            Some("TENANT_SUSPENDED"),
        )),
        TenantState::Deleting => Some(TenantsError::PermissionDenied(
            "the tenant is being deleted".to_owned(),
            Some("TENANT_DELETING"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("instant")
    }

    fn requested() -> Tenant {
        Tenant {
            slug: "acme-property".into(),
            display_name: "Acme 物业".into(),
            industry: Industry::PropertyManagement as i32,
            ..Tenant::default()
        }
    }

    fn template() -> IndustryTemplate {
        IndustryTemplate {
            name: "industryTemplates/property-management".into(),
            version: 2,
            default_settings: Some(TenantSettings {
                complaint_deadline_days: 5,
                ..TenantSettings::default()
            }),
            ..IndustryTemplate::default()
        }
    }

    #[test]
    fn a_new_tenant_takes_defaults_from_its_template_and_the_contract() {
        let now = at("2026-11-23T08:00:00Z");
        let tenant = new_tenant(&requested(), &template(), "tenants/x".into(), now).expect("valid");
        assert_eq!(tenant.state, TenantState::Active as i32);
        assert_eq!(tenant.plan_tier, PlanTier::Starter as i32);
        assert_eq!(tenant.isolation_tier, IsolationTier::Pool as i32);
        assert_eq!(tenant.time_zone, "Asia/Shanghai");
        assert_eq!(tenant.locale, "zh-CN");
        assert_eq!(tenant.template_version, 2);
        let settings = tenant.settings.expect("settings");
        assert_eq!(
            settings.complaint_deadline_days, 5,
            "template wins over default"
        );
        assert_eq!(settings.investigation_report_days, 3, "documented default");
        assert_eq!(settings.currency_code, "CNY");
        assert_eq!(settings.password_min_length, 12);
    }

    #[test]
    fn invalid_fields_are_named() {
        let now = at("2026-11-23T08:00:00Z");
        let field_of = |tenant: Tenant| {
            let error = new_tenant(&tenant, &template(), String::new(), now).expect_err("invalid");
            match error {
                TenantsError::Invalid(violation, _) => violation.field,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(
            field_of(Tenant {
                slug: "Bad Slug".into(),
                ..requested()
            }),
            "tenant.slug"
        );
        assert_eq!(
            field_of(Tenant {
                display_name: String::new(),
                ..requested()
            }),
            "tenant.display_name"
        );
        assert_eq!(
            field_of(Tenant {
                display_name: "x".repeat(201),
                ..requested()
            }),
            "tenant.display_name"
        );
        assert_eq!(
            field_of(Tenant {
                industry: 0,
                ..requested()
            }),
            "tenant.industry"
        );
        assert_eq!(
            field_of(Tenant {
                industry: 99,
                ..requested()
            }),
            "tenant.industry"
        );
        assert_eq!(
            field_of(Tenant {
                time_zone: "Mars/Olympus".into(),
                ..requested()
            }),
            "tenant.time_zone"
        );
        assert_eq!(
            field_of(Tenant {
                locale: "fr".into(),
                ..requested()
            }),
            "tenant.locale"
        );
    }

    #[test]
    fn the_lifecycle_allows_only_its_transitions() {
        let now = at("2026-11-23T08:00:00Z");
        let mut tenant = new_tenant(&requested(), &template(), String::new(), now).expect("valid");
        assert!(
            resume(&mut tenant, now).is_err(),
            "an active tenant cannot resume"
        );
        suspend(&mut tenant, "unpaid invoice", now).expect("suspend");
        assert!(matches!(
            refusal(&tenant),
            Some(TenantsError::PermissionDenied(_, Some("TENANT_SUSPENDED")))
        ));
        assert!(suspend(&mut tenant, "again", now).is_err());
        resume(&mut tenant, now).expect("resume");
        assert!(refusal(&tenant).is_none());
        assert!(matches!(
            request_deletion(&mut tenant, false, None, now),
            Err(TenantsError::IllegalTransition(
                _,
                Some("EXPORT_NOT_OFFERED")
            ))
        ));
        let purge = request_deletion(&mut tenant, true, None, now).expect("delete");
        assert_eq!(purge, at("2026-11-30T08:00:00Z"));
        assert!(request_deletion(&mut tenant, true, None, now).is_err());
    }
}
