//! Departments, teams and the skills catalogue: what a valid one is, what a
//! create fills in, and what an update with a mask produces. References to
//! other resources are checked here for their shape only; whether they exist
//! is for `api` to ask the store.

use chrono::{DateTime, Utc};
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{
    Department, DepartmentKind, LocalizedText, Skill, Team, TeamAssignmentStrategy, TeamTier,
};

use super::{
    mask::has,
    names,
    slug::check_resource_id,
    tenant::{LOCALES, check_length},
};
use crate::error::{Result, TenantsError};

/// Most skills a team covers (and a user holds).
pub const MAX_SKILLS: usize = 50;
/// Most members of a team.
pub const MAX_TEAM_MEMBERS: usize = 500;

/// Department paths an update may name.
pub const DEPARTMENT_UPDATABLE: &[&str] = &["display_name", "kind", "head", "description"];
/// Department paths no update may name.
pub const DEPARTMENT_FIXED: &[&str] =
    &["name", "template_key", "create_time", "update_time", "etag"];
/// Team paths an update may name.
pub const TEAM_UPDATABLE: &[&str] = &[
    "display_name",
    "tier",
    "department",
    "supervisor",
    "assignment_strategy",
    "skills",
    "description",
];
/// Team paths no update may name (`members` changes with AddTeamMember).
pub const TEAM_FIXED: &[&str] = &[
    "name",
    "members",
    "template_key",
    "create_time",
    "update_time",
    "etag",
];
/// Skill paths an update may name.
pub const SKILL_UPDATABLE: &[&str] = &["label", "description"];
/// Skill paths no update may name (`key` is immutable).
pub const SKILL_FIXED: &[&str] = &["name", "key", "create_time", "update_time"];

/// The id a create uses: the caller's, checked, or a new UUIDv7.
pub fn new_id(field: &str, requested: &str) -> Result<String> {
    if requested.is_empty() {
        return Ok(uuid::Uuid::now_v7().to_string());
    }
    check_resource_id(requested)
        .map_err(|error| TenantsError::invalid(field, error.to_string()))?;
    Ok(requested.to_owned())
}

/// Checks that `value` is empty or `{collection}/{id}`.
pub fn check_reference(field: &str, value: &str, collection: &str) -> Result<()> {
    let valid = match collection {
        "users" => names::uuid_in(value, collection).is_some(),
        _ => names::id_in(value, collection).is_some(),
    };
    if value.is_empty() || valid {
        Ok(())
    } else {
        Err(TenantsError::invalid(
            field,
            format!("{value:?} is not a {collection}/{{id}} name"),
        ))
    }
}

fn check_localized(
    field: &str,
    text: Option<&LocalizedText>,
    required: bool,
    max: usize,
) -> Result<()> {
    let values = text.map(|text| &text.values);
    if required && values.is_none_or(|values| values.values().all(|value| value.trim().is_empty()))
    {
        return Err(TenantsError::invalid(
            field,
            "is required in at least one locale (zh-CN or en)",
        ));
    }
    for (locale, value) in values.into_iter().flatten() {
        if !LOCALES.contains(&locale.as_str()) {
            return Err(TenantsError::invalid(
                field,
                format!(
                    "{locale:?} is not supported; use one of {}",
                    LOCALES.join(", ")
                ),
            ));
        }
        check_length(&format!("{field}.values[{locale}]"), value, 0, max)?;
    }
    Ok(())
}

fn check_department(department: &Department) -> Result<()> {
    check_length("department.display_name", &department.display_name, 1, 100)?;
    if !matches!(DepartmentKind::try_from(department.kind), Ok(kind) if kind != DepartmentKind::Unspecified)
    {
        return Err(TenantsError::invalid(
            "department.kind",
            "is required: one of kefu.v1.DepartmentKind",
        ));
    }
    check_reference("department.head", &department.head, "users")?;
    check_length("department.description", &department.description, 0, 1000)
}

/// A department ready to store from a create's `department`: output fields
/// set, inputs checked.
pub fn new_department(requested: &Department, id: &str, now: DateTime<Utc>) -> Result<Department> {
    check_department(requested)?;
    let time = Some(to_timestamp(now));
    Ok(Department {
        name: format!("departments/{id}"),
        display_name: requested.display_name.clone(),
        kind: requested.kind,
        head: requested.head.clone(),
        description: requested.description.clone(),
        template_key: String::new(),
        create_time: time,
        update_time: time,
        etag: String::new(),
    })
}

/// `current` with the `paths` of `patch` applied, checked.
pub fn updated_department(
    current: &Department,
    patch: &Department,
    paths: &[String],
    now: DateTime<Utc>,
) -> Result<Department> {
    let mut department = current.clone();
    if has(paths, "display_name") {
        department.display_name = patch.display_name.clone();
    }
    if has(paths, "kind") {
        department.kind = patch.kind;
    }
    if has(paths, "head") {
        department.head = patch.head.clone();
    }
    if has(paths, "description") {
        department.description = patch.description.clone();
    }
    check_department(&department)?;
    department.update_time = Some(to_timestamp(now));
    department.etag = String::new();
    Ok(department)
}

/// Checks a list of skill keys: at most 50, each a key, none twice.
pub fn check_skill_keys(field: &str, keys: &[String]) -> Result<()> {
    if keys.len() > MAX_SKILLS {
        return Err(TenantsError::invalid(
            field,
            format!("at most {MAX_SKILLS} skills, not {}", keys.len()),
        ));
    }
    for (index, key) in keys.iter().enumerate() {
        check_resource_id(key).map_err(|error| {
            TenantsError::invalid(&format!("{field}[{index}]"), error.to_string())
        })?;
        if keys[..index].contains(key) {
            return Err(TenantsError::invalid(
                &format!("{field}[{index}]"),
                format!("{key:?} is listed twice"),
            ));
        }
    }
    Ok(())
}

fn check_team(team: &Team) -> Result<()> {
    check_length("team.display_name", &team.display_name, 1, 100)?;
    if TeamTier::try_from(team.tier).is_err() {
        return Err(TenantsError::invalid(
            "team.tier",
            "is not a kefu.v1.TeamTier",
        ));
    }
    if TeamAssignmentStrategy::try_from(team.assignment_strategy).is_err() {
        return Err(TenantsError::invalid(
            "team.assignment_strategy",
            "is not a kefu.v1.TeamAssignmentStrategy",
        ));
    }
    check_reference("team.department", &team.department, "departments")?;
    check_reference("team.supervisor", &team.supervisor, "users")?;
    check_skill_keys("team.skills", &team.skills)?;
    check_length("team.description", &team.description, 0, 1000)
}

/// The documented defaults for unset enums.
fn with_team_defaults(mut team: Team) -> Team {
    if team.tier == TeamTier::Unspecified as i32 {
        team.tier = TeamTier::FrontLine as i32;
    }
    if team.assignment_strategy == TeamAssignmentStrategy::Unspecified as i32 {
        team.assignment_strategy = TeamAssignmentStrategy::RoundRobin as i32;
    }
    team
}

/// A team ready to store from a create's `team` (members are output only
/// and start empty).
pub fn new_team(requested: &Team, id: &str, now: DateTime<Utc>) -> Result<Team> {
    check_team(requested)?;
    let time = Some(to_timestamp(now));
    Ok(with_team_defaults(Team {
        name: format!("teams/{id}"),
        display_name: requested.display_name.clone(),
        tier: requested.tier,
        department: requested.department.clone(),
        supervisor: requested.supervisor.clone(),
        members: Vec::new(),
        assignment_strategy: requested.assignment_strategy,
        skills: requested.skills.clone(),
        description: requested.description.clone(),
        template_key: String::new(),
        create_time: time,
        update_time: time,
        etag: String::new(),
    }))
}

/// `current` with the `paths` of `patch` applied, checked.
pub fn updated_team(
    current: &Team,
    patch: &Team,
    paths: &[String],
    now: DateTime<Utc>,
) -> Result<Team> {
    let mut team = current.clone();
    if has(paths, "display_name") {
        team.display_name = patch.display_name.clone();
    }
    if has(paths, "tier") {
        team.tier = patch.tier;
    }
    if has(paths, "department") {
        team.department = patch.department.clone();
    }
    if has(paths, "supervisor") {
        team.supervisor = patch.supervisor.clone();
    }
    if has(paths, "assignment_strategy") {
        team.assignment_strategy = patch.assignment_strategy;
    }
    if has(paths, "skills") {
        team.skills = patch.skills.clone();
    }
    if has(paths, "description") {
        team.description = patch.description.clone();
    }
    check_team(&team)?;
    let mut team = with_team_defaults(team);
    team.members = Vec::new();
    team.update_time = Some(to_timestamp(now));
    team.etag = String::new();
    Ok(team)
}

fn check_skill(skill: &Skill) -> Result<()> {
    check_localized("skill.label", skill.label.as_ref(), true, 100)?;
    check_localized("skill.description", skill.description.as_ref(), false, 1000)
}

/// A skill ready to store from a create's `skill`.
pub fn new_skill(requested: &Skill, now: DateTime<Utc>) -> Result<Skill> {
    if requested.key.is_empty() {
        return Err(TenantsError::invalid("skill.key", "is required"));
    }
    check_resource_id(&requested.key)
        .map_err(|error| TenantsError::invalid("skill.key", error.to_string()))?;
    check_skill(requested)?;
    let time = Some(to_timestamp(now));
    Ok(Skill {
        name: format!("skills/{}", requested.key),
        key: requested.key.clone(),
        label: requested.label.clone(),
        description: requested.description.clone(),
        create_time: time,
        update_time: time,
    })
}

/// `current` with the `paths` of `patch` applied, checked.
pub fn updated_skill(
    current: &Skill,
    patch: &Skill,
    paths: &[String],
    now: DateTime<Utc>,
) -> Result<Skill> {
    let mut skill = current.clone();
    if has(paths, "label") {
        skill.label = patch.label.clone();
    }
    if has(paths, "description") {
        skill.description = patch.description.clone();
    }
    check_skill(&skill)?;
    skill.update_time = Some(to_timestamp(now));
    Ok(skill)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: TenantsError) -> String {
        match error {
            TenantsError::Invalid(violation, _) => violation.field,
            other => panic!("not invalid input: {other:?}"),
        }
    }

    fn department() -> Department {
        Department {
            display_name: "售后服务部".into(),
            kind: DepartmentKind::AfterSales as i32,
            ..Department::default()
        }
    }

    #[test]
    fn departments_need_a_name_and_a_kind() {
        let now = Utc::now();
        let created = new_department(&department(), "after-sales", now).expect("valid");
        assert_eq!(created.name, "departments/after-sales");
        assert!(created.create_time.is_some());
        let no_kind = Department {
            kind: 0,
            ..department()
        };
        assert_eq!(
            field_of(new_department(&no_kind, "x", now).expect_err("no kind")),
            "department.kind"
        );
        let bad_head = Department {
            head: "people/1".into(),
            ..department()
        };
        assert_eq!(
            field_of(new_department(&bad_head, "x", now).expect_err("bad head")),
            "department.head"
        );
        assert_eq!(
            field_of(new_id("department_id", "Not An Id").expect_err("id")),
            "department_id"
        );
        assert_eq!(new_id("department_id", "").expect("uuid").len(), 36);
    }

    #[test]
    fn a_mask_changes_only_its_paths() {
        let now = Utc::now();
        let current = new_department(&department(), "after-sales", now).expect("valid");
        let patch = Department {
            display_name: "客服部".into(),
            kind: DepartmentKind::Sales as i32,
            description: "ignored".into(),
            ..Department::default()
        };
        let updated =
            updated_department(&current, &patch, &["display_name".into()], now).expect("valid");
        assert_eq!(updated.display_name, "客服部");
        assert_eq!(updated.kind, DepartmentKind::AfterSales as i32);
        assert_eq!(updated.description, "");
        let emptied = updated_department(&current, &patch, &["kind".into()], now);
        assert!(emptied.is_ok());
        let cleared = updated_department(
            &current,
            &Department::default(),
            &["display_name".into()],
            now,
        );
        assert_eq!(
            field_of(cleared.expect_err("required")),
            "department.display_name"
        );
    }

    #[test]
    fn teams_get_defaults_and_unique_skills() {
        let now = Utc::now();
        let team = new_team(
            &Team {
                display_name: "一线".into(),
                members: vec!["users/x".into()],
                skills: vec!["plumbing".into()],
                ..Team::default()
            },
            "front-line",
            now,
        )
        .expect("valid");
        assert_eq!(team.tier, TeamTier::FrontLine as i32);
        assert_eq!(
            team.assignment_strategy,
            TeamAssignmentStrategy::RoundRobin as i32
        );
        assert!(team.members.is_empty(), "members are output only");
        let twice = Team {
            skills: vec!["plumbing".into(), "plumbing".into()],
            ..team.clone()
        };
        assert_eq!(
            field_of(updated_team(&team, &twice, &["skills".into()], now).expect_err("twice")),
            "team.skills[1]"
        );
        let bad_department = Team {
            department: "teams/x".into(),
            ..team.clone()
        };
        assert_eq!(
            field_of(
                updated_team(&team, &bad_department, &["department".into()], now)
                    .expect_err("department")
            ),
            "team.department"
        );
    }

    #[test]
    fn skills_need_a_key_and_a_label() {
        let now = Utc::now();
        let label = |locale: &str, text: &str| {
            Some(LocalizedText {
                values: [(locale.to_owned(), text.to_owned())].into_iter().collect(),
            })
        };
        let skill = new_skill(
            &Skill {
                key: "plumbing".into(),
                label: label("zh-CN", "水暖"),
                ..Skill::default()
            },
            now,
        )
        .expect("valid");
        assert_eq!(skill.name, "skills/plumbing");
        let no_label = Skill {
            label: None,
            ..skill.clone()
        };
        assert_eq!(
            field_of(new_skill(&no_label, now).expect_err("label")),
            "skill.label"
        );
        let klingon = Skill {
            label: label("tlh", "x"),
            ..skill.clone()
        };
        assert_eq!(
            field_of(new_skill(&klingon, now).expect_err("locale")),
            "skill.label"
        );
        let no_key = Skill {
            key: String::new(),
            ..skill.clone()
        };
        assert_eq!(
            field_of(new_skill(&no_key, now).expect_err("key")),
            "skill.key"
        );
    }
}
