//! What a new tenant starts with from its industry template: the resources
//! the tenants service owns (departments, skills, teams, SLA policies, the
//! approval matrix). Keys of the template become the resource ids, so
//! seeding twice finds the same ids.

use chrono::{DateTime, Utc};
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{
    ApprovalMatrix, Department, DepartmentKind, IndustryTemplate, LocalizedText, Skill, SlaPolicy,
    Team, TeamAssignmentStrategy, TeamTier,
};

/// The label of `text` in `locale`, falling back to zh-CN then any.
pub fn label(text: Option<&LocalizedText>, locale: &str) -> String {
    let Some(text) = text else {
        return String::new();
    };
    text.values
        .get(locale)
        .or_else(|| text.values.get("zh-CN"))
        .or_else(|| text.values.values().next())
        .cloned()
        .unwrap_or_default()
}

/// The resources seeded for a tenant.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seed {
    /// `departments/{key}`.
    pub departments: Vec<(String, Department)>,
    /// `skills/{key}`.
    pub skills: Vec<(String, Skill)>,
    /// `teams/{key}`.
    pub teams: Vec<(String, Team)>,
    /// `slaPolicies/{key}`.
    pub sla_policies: Vec<(String, SlaPolicy)>,
    /// `approvalMatrix`.
    pub approval_matrix: ApprovalMatrix,
}

/// The seed of `template` for a tenant in `locale`, created at `now`.
pub fn seed(template: &IndustryTemplate, locale: &str, now: DateTime<Utc>) -> Seed {
    let time = Some(to_timestamp(now));
    let departments = template
        .departments
        .iter()
        .map(|department| {
            let kind =
                DepartmentKind::from_str_name(&format!("DEPARTMENT_KIND_{}", department.kind))
                    .unwrap_or(DepartmentKind::Other);
            (
                department.key.clone(),
                Department {
                    name: format!("departments/{}", department.key),
                    display_name: label(department.label.as_ref(), locale),
                    kind: kind as i32,
                    template_key: department.key.clone(),
                    create_time: time,
                    update_time: time,
                    ..Department::default()
                },
            )
        })
        .collect();
    let skills = template
        .skills
        .iter()
        .map(|skill| {
            (
                skill.key.clone(),
                Skill {
                    name: format!("skills/{}", skill.key),
                    key: skill.key.clone(),
                    label: skill.label.clone(),
                    description: None,
                    create_time: time,
                    update_time: time,
                },
            )
        })
        .collect();
    let teams = template
        .teams
        .iter()
        .map(|team| {
            let tier = TeamTier::from_str_name(&format!("TEAM_TIER_{}", team.tier))
                .unwrap_or(TeamTier::FrontLine);
            let strategy = TeamAssignmentStrategy::from_str_name(&format!(
                "TEAM_ASSIGNMENT_STRATEGY_{}",
                team.assignment_strategy
            ))
            .unwrap_or(TeamAssignmentStrategy::RoundRobin);
            (
                team.key.clone(),
                Team {
                    name: format!("teams/{}", team.key),
                    display_name: label(team.label.as_ref(), locale),
                    tier: tier as i32,
                    department: if team.department.is_empty() {
                        String::new()
                    } else {
                        format!("departments/{}", team.department)
                    },
                    assignment_strategy: strategy as i32,
                    skills: team.skills.clone(),
                    template_key: team.key.clone(),
                    create_time: time,
                    update_time: time,
                    ..Team::default()
                },
            )
        })
        .collect();
    let sla_policies = template
        .sla_policies
        .iter()
        .map(|policy| {
            let key = policy
                .name
                .strip_prefix("slaPolicies/")
                .unwrap_or(&policy.name)
                .to_owned();
            (
                key.clone(),
                SlaPolicy {
                    name: format!("slaPolicies/{key}"),
                    template_key: key,
                    create_time: time,
                    update_time: time,
                    etag: String::new(),
                    ..policy.clone()
                },
            )
        })
        .collect();
    let approval_matrix = ApprovalMatrix {
        name: "approvalMatrix".into(),
        thresholds: template
            .approval_matrix
            .as_ref()
            .map(|matrix| matrix.thresholds.clone())
            .unwrap_or_default(),
        update_time: time,
        updater: None,
        etag: String::new(),
    };
    Seed {
        departments,
        skills,
        teams,
        sla_policies,
        approval_matrix,
    }
}
