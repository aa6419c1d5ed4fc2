//! SLA policies: valid targets per priority, the documented defaults, and
//! field-mask updates (`targets` replaced whole).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{Priority, SlaPolicy, SlaTimeBasis};
use prost_types::Duration;

use super::{mask::path_field, tenant::check_length};
use crate::error::{Result, TenantsError};

const MINUTE: i64 = 60;
const DAY: i64 = 86_400;

/// The warning threshold when none is given.
pub const DEFAULT_WARNING_PERCENT: i32 = 80;

const SETTABLE: &[&str] = &[
    "display_name",
    "description",
    "targets",
    "time_basis",
    "pause_while_pending",
    "warning_percent",
    "escalate_on_breach",
    "raise_priority_on_breach",
];

const OUTPUT_ONLY: &[&str] = &["name", "template_key", "create_time", "update_time", "etag"];

/// Checks a chosen policy id: lower-case letters, digits and `-`, starting
/// with a letter, at most 63 characters.
pub fn check_policy_id(field: &str, id: &str) -> Result<()> {
    let valid = (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(TenantsError::invalid(
            field,
            format!(
                "{id:?} is not an id: lower-case letters, digits and '-', starting with a \
                 letter, at most 63 characters"
            ),
        ))
    }
}

/// Seconds of a duration, or why it is not a positive one.
fn positive_seconds(field: &str, value: Option<&Duration>) -> Result<i64> {
    let value = value.ok_or_else(|| TenantsError::invalid(field, "is required"))?;
    if value.seconds < 0 || value.nanos < 0 || (value.seconds == 0 && value.nanos == 0) {
        return Err(TenantsError::invalid(field, "must be positive"));
    }
    Ok(value.seconds)
}

/// Checks `policy` and fills in the documented defaults; `prefix` is its
/// field path (`sla_policy`).
pub fn normalise(prefix: &str, policy: &mut SlaPolicy) -> Result<()> {
    check_length(
        &format!("{prefix}.display_name"),
        &policy.display_name,
        1,
        200,
    )?;
    check_length(
        &format!("{prefix}.description"),
        &policy.description,
        0,
        1000,
    )?;
    if policy.targets.is_empty() {
        return Err(TenantsError::invalid(
            &format!("{prefix}.targets"),
            "needs at least one target",
        ));
    }
    let mut priorities = HashSet::new();
    for (index, target) in policy.targets.iter().enumerate() {
        let field = |name: &str| format!("{prefix}.targets[{index}].{name}");
        let priority = Priority::try_from(target.priority)
            .map_err(|_| TenantsError::invalid(&field("priority"), "is not a kefu.v1.Priority"))?;
        if !priorities.insert(priority) {
            return Err(TenantsError::invalid(
                &field("priority"),
                format!(
                    "{} has two targets; give each priority one row",
                    priority.as_str_name()
                ),
            ));
        }
        let first = positive_seconds(
            &field("first_response_target"),
            target.first_response_target.as_ref(),
        )?;
        if !(MINUTE..=30 * DAY).contains(&first) {
            return Err(TenantsError::invalid(
                &field("first_response_target"),
                "must be between 1 minute and 30 days",
            ));
        }
        let resolution = positive_seconds(
            &field("resolution_target"),
            target.resolution_target.as_ref(),
        )?;
        let first_exact = target.first_response_target.map(|d| (d.seconds, d.nanos));
        let resolution_exact = target.resolution_target.map(|d| (d.seconds, d.nanos));
        if resolution_exact < first_exact {
            return Err(TenantsError::invalid(
                &field("resolution_target"),
                "must be at least the first-response target",
            ));
        }
        if resolution > 365 * DAY {
            return Err(TenantsError::invalid(
                &field("resolution_target"),
                "must be at most 365 days",
            ));
        }
    }
    policy.time_basis = match SlaTimeBasis::try_from(policy.time_basis) {
        Ok(SlaTimeBasis::Unspecified) => SlaTimeBasis::BusinessHours as i32,
        Ok(basis) => basis as i32,
        Err(_) => {
            return Err(TenantsError::invalid(
                &format!("{prefix}.time_basis"),
                "is not a kefu.v1.SlaTimeBasis",
            ));
        }
    };
    policy.pause_while_pending = Some(policy.pause_while_pending.unwrap_or(true));
    policy.warning_percent = match policy.warning_percent {
        0 => DEFAULT_WARNING_PERCENT,
        percent if (1..=99).contains(&percent) => percent,
        percent => {
            return Err(TenantsError::invalid(
                &format!("{prefix}.warning_percent"),
                format!("must be between 1 and 99, not {percent}"),
            ));
        }
    };
    Ok(())
}

/// A new tenant-created policy `id` from a create request's policy.
pub fn new_policy(requested: &SlaPolicy, id: &str, now: DateTime<Utc>) -> Result<SlaPolicy> {
    let mut policy = SlaPolicy {
        name: format!("slaPolicies/{id}"),
        template_key: String::new(),
        create_time: Some(to_timestamp(now)),
        update_time: Some(to_timestamp(now)),
        etag: String::new(),
        ..requested.clone()
    };
    normalise("sla_policy", &mut policy)?;
    Ok(policy)
}

/// Applies the masked fields of `requested` to `current`; on error
/// `current` is unchanged.
pub fn apply_update(
    current: &mut SlaPolicy,
    requested: &SlaPolicy,
    paths: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut candidate = current.clone();
    for path in paths {
        match path.as_str() {
            "display_name" => candidate.display_name = requested.display_name.clone(),
            "description" => candidate.description = requested.description.clone(),
            "targets" => candidate.targets = requested.targets.clone(),
            "time_basis" => candidate.time_basis = requested.time_basis,
            "pause_while_pending" => candidate.pause_while_pending = requested.pause_while_pending,
            "warning_percent" => candidate.warning_percent = requested.warning_percent,
            "escalate_on_breach" => candidate.escalate_on_breach = requested.escalate_on_breach,
            "raise_priority_on_breach" => {
                candidate.raise_priority_on_breach = requested.raise_priority_on_breach
            }
            other => {
                let description = if OUTPUT_ONLY.contains(&other) {
                    format!("{other} is output only")
                } else {
                    format!(
                        "{other:?} is not a settable field of SlaPolicy; use one of {}",
                        SETTABLE.join(", ")
                    )
                };
                return Err(TenantsError::invalid(&path_field(paths, path), description));
            }
        }
    }
    normalise("sla_policy", &mut candidate)?;
    candidate.update_time = Some(to_timestamp(now));
    candidate.etag = String::new();
    *current = candidate;
    Ok(())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::SlaTarget;

    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-24T08:00:00Z".parse().expect("instant")
    }

    fn hours(hours: i64) -> Option<Duration> {
        Some(Duration {
            seconds: hours * 3_600,
            nanos: 0,
        })
    }

    fn target(priority: Priority, first: i64, resolution: i64) -> SlaTarget {
        SlaTarget {
            priority: priority as i32,
            first_response_target: hours(first),
            resolution_target: hours(resolution),
        }
    }

    fn policy() -> SlaPolicy {
        SlaPolicy {
            display_name: "Repairs".into(),
            targets: vec![
                target(Priority::Unspecified, 4, 48),
                target(Priority::Urgent, 1, 8),
            ],
            ..SlaPolicy::default()
        }
    }

    fn field(error: TenantsError) -> String {
        match error {
            TenantsError::Invalid(violation, _) => violation.field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_new_policy_takes_the_documented_defaults() {
        let created = new_policy(&policy(), "repair-standard", now()).expect("valid");
        assert_eq!(created.name, "slaPolicies/repair-standard");
        assert_eq!(created.time_basis, SlaTimeBasis::BusinessHours as i32);
        assert_eq!(created.pause_while_pending, Some(true));
        assert_eq!(created.warning_percent, 80);
    }

    #[test]
    fn invalid_targets_are_named() {
        let invalid = |policy: SlaPolicy| field(new_policy(&policy, "p", now()).expect_err("bad"));
        assert_eq!(
            invalid(SlaPolicy {
                targets: vec![target(Priority::High, 1, 8), target(Priority::High, 2, 8)],
                ..policy()
            }),
            "sla_policy.targets[1].priority"
        );
        assert_eq!(
            invalid(SlaPolicy {
                targets: vec![target(Priority::High, 8, 4)],
                ..policy()
            }),
            "sla_policy.targets[0].resolution_target"
        );
        assert_eq!(
            invalid(SlaPolicy {
                targets: vec![target(Priority::High, 0, 4)],
                ..policy()
            }),
            "sla_policy.targets[0].first_response_target"
        );
        assert_eq!(
            invalid(SlaPolicy {
                targets: vec![target(Priority::High, -1, 4)],
                ..policy()
            }),
            "sla_policy.targets[0].first_response_target"
        );
        assert_eq!(
            invalid(SlaPolicy {
                targets: vec![target(Priority::High, 1, 24 * 366)],
                ..policy()
            }),
            "sla_policy.targets[0].resolution_target"
        );
        assert_eq!(
            invalid(SlaPolicy {
                targets: vec![],
                ..policy()
            }),
            "sla_policy.targets"
        );
        assert_eq!(
            invalid(SlaPolicy {
                warning_percent: 100,
                ..policy()
            }),
            "sla_policy.warning_percent"
        );
        assert_eq!(
            invalid(SlaPolicy {
                display_name: String::new(),
                ..policy()
            }),
            "sla_policy.display_name"
        );
        assert!(check_policy_id("sla_policy_id", "Repair").is_err());
        assert!(check_policy_id("sla_policy_id", "1st").is_err());
        assert!(check_policy_id("sla_policy_id", &"a".repeat(64)).is_err());
        check_policy_id("sla_policy_id", "repair-standard").expect("valid id");
    }

    #[test]
    fn updates_change_only_masked_fields() {
        let mut current = new_policy(&policy(), "p", now()).expect("valid");
        let requested = SlaPolicy {
            display_name: "ignored".into(),
            warning_percent: 90,
            ..SlaPolicy::default()
        };
        apply_update(
            &mut current,
            &requested,
            &["warning_percent".to_owned()],
            now(),
        )
        .expect("valid");
        assert_eq!(current.warning_percent, 90);
        assert_eq!(current.display_name, "Repairs");
        let before = current.clone();
        let error = apply_update(
            &mut current,
            &requested,
            &["template_key".to_owned()],
            now(),
        )
        .expect_err("output only");
        assert_eq!(field(error), "update_mask.paths[0]");
        assert_eq!(current, before);
    }
}
