//! Users after they exist: who may change which fields (UpdateUser), what a
//! valid change is, and the state changes that are not the invitation's.

use chrono::{DateTime, Utc};
use kefu_kit::events::to_timestamp;
use kefu_proto::v1::{ApprovalLevel, Role, User, UserAvailability, UserSkill, UserState};

use super::{
    organisation::{MAX_SKILLS, check_reference},
    slug::check_resource_id,
    tenant::{check_length, check_locale},
};
use crate::error::{Result, TenantsError};

/// User paths an update may name.
pub const UPDATABLE: &[&str] = &[
    "display_name",
    "phone",
    "roles",
    "approval_level",
    "department",
    "skills",
    "availability",
    "locale",
    "title",
    "max_open_items",
];

/// User paths no update may name (`teams` changes with AddTeamMember,
/// `state` with the transitions).
pub const FIXED: &[&str] = &[
    "name",
    "email",
    "teams",
    "state",
    "last_login_time",
    "deactivate_time",
    "create_time",
    "update_time",
    "etag",
];

/// What every user may change on their own record.
const SELF_SERVICE: &[&str] = &["display_name", "phone", "locale", "availability"];

/// The skill level when none is given.
const DEFAULT_SKILL_LEVEL: i32 = 3;

/// Who is changing a user, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Editor {
    /// Holds ROLE_ADMIN (or is a key with write scope).
    pub admin: bool,
    /// Holds ROLE_MANAGER.
    pub manager: bool,
    /// Is the user being changed.
    pub own: bool,
}

/// Whether `editor` may change every one of `paths`; PERMISSION_DENIED
/// naming the first that is not theirs to change.
pub fn check_permitted(editor: Editor, paths: &[String]) -> Result<()> {
    if editor.admin {
        return Ok(());
    }
    for path in paths {
        let permitted = (editor.own && SELF_SERVICE.contains(&path.as_str()))
            || (editor.manager && path == "skills");
        if !permitted {
            return Err(TenantsError::PermissionDenied(
                format!("changing {path} of this user needs the tenant administrator role"),
                None,
            ));
        }
    }
    Ok(())
}

/// Checks an E.164 phone number (`+8613800138000`); empty is allowed.
pub fn check_phone(field: &str, phone: &str) -> Result<()> {
    let digits = phone.strip_prefix('+').unwrap_or_default();
    let valid = digits.len() >= 2
        && digits.len() <= 15
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    if phone.is_empty() || valid {
        Ok(())
    } else {
        Err(TenantsError::invalid(
            field,
            format!("{phone:?} is not an E.164 number such as +8613800138000"),
        ))
    }
}

fn check_roles(roles: &[i32]) -> Result<()> {
    if roles.is_empty() {
        return Err(TenantsError::invalid(
            "user.roles",
            "at least one role is required",
        ));
    }
    for (index, role) in roles.iter().enumerate() {
        if !matches!(Role::try_from(*role), Ok(role) if role != Role::Unspecified) {
            return Err(TenantsError::invalid(
                &format!("user.roles[{index}]"),
                format!("{role} is not a kefu.v1.Role"),
            ));
        }
        if roles[..index].contains(role) {
            return Err(TenantsError::invalid(
                &format!("user.roles[{index}]"),
                "is listed twice",
            ));
        }
    }
    Ok(())
}

/// Skills with the default level filled in, checked: at most 50, keys
/// unique, levels 1 to 5.
fn normalised_skills(skills: &[UserSkill]) -> Result<Vec<UserSkill>> {
    if skills.len() > MAX_SKILLS {
        return Err(TenantsError::invalid(
            "user.skills",
            format!("at most {MAX_SKILLS} skills, not {}", skills.len()),
        ));
    }
    let mut normalised: Vec<UserSkill> = Vec::with_capacity(skills.len());
    for (index, skill) in skills.iter().enumerate() {
        check_resource_id(&skill.key).map_err(|error| {
            TenantsError::invalid(&format!("user.skills[{index}].key"), error.to_string())
        })?;
        if normalised.iter().any(|seen| seen.key == skill.key) {
            return Err(TenantsError::invalid(
                &format!("user.skills[{index}].key"),
                format!("{:?} is listed twice", skill.key),
            ));
        }
        let level = match skill.level {
            0 => DEFAULT_SKILL_LEVEL,
            level @ 1..=5 => level,
            _ => {
                return Err(TenantsError::invalid(
                    &format!("user.skills[{index}].level"),
                    "must be 1 (basic) to 5 (expert)",
                ));
            }
        };
        normalised.push(UserSkill {
            key: skill.key.clone(),
            level,
        });
    }
    Ok(normalised)
}

/// `current` with the `paths` of `patch` applied, each changed field
/// checked. Whether referenced departments and skills exist is the
/// caller's to check.
pub fn updated_user(
    current: &User,
    patch: &User,
    paths: &[String],
    now: DateTime<Utc>,
) -> Result<User> {
    let mut user = current.clone();
    for path in paths {
        match path.as_str() {
            "display_name" => {
                check_length("user.display_name", &patch.display_name, 1, 100)?;
                user.display_name = patch.display_name.clone();
            }
            "phone" => {
                check_phone("user.phone", &patch.phone)?;
                user.phone = patch.phone.clone();
            }
            "roles" => {
                check_roles(&patch.roles)?;
                user.roles = patch.roles.clone();
            }
            "approval_level" => {
                if ApprovalLevel::try_from(patch.approval_level).is_err() {
                    return Err(TenantsError::invalid(
                        "user.approval_level",
                        "is not a kefu.v1.ApprovalLevel",
                    ));
                }
                user.approval_level = patch.approval_level;
            }
            "department" => {
                check_reference("user.department", &patch.department, "departments")?;
                user.department = patch.department.clone();
            }
            "skills" => user.skills = normalised_skills(&patch.skills)?,
            "availability" => {
                if UserAvailability::try_from(patch.availability).is_err() {
                    return Err(TenantsError::invalid(
                        "user.availability",
                        "is not a kefu.v1.UserAvailability",
                    ));
                }
                user.availability = patch.availability;
            }
            "locale" => {
                if !patch.locale.is_empty() {
                    check_locale("user.locale", &patch.locale)?;
                }
                user.locale = patch.locale.clone();
            }
            "title" => {
                check_length("user.title", &patch.title, 0, 100)?;
                user.title = patch.title.clone();
            }
            "max_open_items" => {
                if patch.max_open_items < 0 {
                    return Err(TenantsError::invalid(
                        "user.max_open_items",
                        "must not be negative (0 means no limit)",
                    ));
                }
                user.max_open_items = patch.max_open_items;
            }
            other => {
                return Err(TenantsError::invalid(
                    "update_mask",
                    format!("{other} cannot be changed with this method"),
                ));
            }
        }
    }
    user.update_time = Some(to_timestamp(now));
    Ok(user)
}

/// Whether `user` counts as an administrator who keeps the tenant managed.
pub fn is_active_admin(user: &User) -> bool {
    user.state == UserState::Active as i32 && user.roles.contains(&(Role::Admin as i32))
}

/// Whether going from `before` to `after` takes away an active admin.
pub fn removes_admin(before: &User, after: &User) -> bool {
    is_active_admin(before) && !is_active_admin(after)
}

/// The user after ReactivateUser: ACTIVE when a password was ever set,
/// otherwise INVITED again; FAILED_PRECONDITION unless DEACTIVATED.
pub fn reactivated(current: &User, has_password: bool, now: DateTime<Utc>) -> Result<User> {
    if current.state != UserState::Deactivated as i32 {
        return Err(TenantsError::IllegalTransition(
            "only a deactivated user can be reactivated".into(),
            None,
        ));
    }
    let mut user = current.clone();
    user.state = if has_password {
        UserState::Active
    } else {
        UserState::Invited
    } as i32;
    user.deactivate_time = None;
    user.availability = UserAvailability::Offline as i32;
    user.update_time = Some(to_timestamp(now));
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|path| (*path).to_owned()).collect()
    }

    fn agent() -> User {
        User {
            name: "users/1".into(),
            display_name: "王芳".into(),
            email: "wang@example.com".into(),
            roles: vec![Role::Agent as i32],
            state: UserState::Active as i32,
            ..User::default()
        }
    }

    #[test]
    fn users_change_their_own_profile_only() {
        let own = Editor {
            own: true,
            ..Editor::default()
        };
        assert!(check_permitted(own, &paths(&["display_name", "locale"])).is_ok());
        for privileged in ["roles", "approval_level", "department", "skills", "title"] {
            assert!(
                matches!(
                    check_permitted(own, &paths(&[privileged])),
                    Err(TenantsError::PermissionDenied(..))
                ),
                "{privileged}"
            );
        }
        let manager = Editor {
            manager: true,
            ..Editor::default()
        };
        assert!(check_permitted(manager, &paths(&["skills"])).is_ok());
        assert!(check_permitted(manager, &paths(&["display_name"])).is_err());
        let admin = Editor {
            admin: true,
            ..Editor::default()
        };
        assert!(check_permitted(admin, &paths(&["roles", "department"])).is_ok());
    }

    #[test]
    fn updates_check_what_they_change() {
        let now = Utc::now();
        let patch = User {
            display_name: "王芳芳".into(),
            phone: "+8613800138000".into(),
            skills: vec![UserSkill {
                key: "plumbing".into(),
                level: 0,
            }],
            roles: Vec::new(),
            ..User::default()
        };
        let updated = updated_user(
            &agent(),
            &patch,
            &paths(&["display_name", "phone", "skills"]),
            now,
        )
        .expect("valid");
        assert_eq!(updated.display_name, "王芳芳");
        assert_eq!(updated.roles, vec![Role::Agent as i32], "roles untouched");
        assert_eq!(updated.skills[0].level, 3, "default level");
        let no_roles = updated_user(&agent(), &patch, &paths(&["roles"]), now);
        assert!(
            matches!(no_roles, Err(TenantsError::Invalid(ref violation, _)) if violation.field == "user.roles")
        );
        let bad_phone = User {
            phone: "13800138000".into(),
            ..User::default()
        };
        assert!(updated_user(&agent(), &bad_phone, &paths(&["phone"]), now).is_err());
        let bad_level = User {
            skills: vec![UserSkill {
                key: "plumbing".into(),
                level: 6,
            }],
            ..User::default()
        };
        assert!(
            matches!(updated_user(&agent(), &bad_level, &paths(&["skills"]), now),
                Err(TenantsError::Invalid(ref violation, _)) if violation.field == "user.skills[0].level")
        );
    }

    #[test]
    fn losing_admin_is_noticed() {
        let admin = User {
            roles: vec![Role::Admin as i32],
            ..agent()
        };
        assert!(removes_admin(&admin, &agent()));
        assert!(!removes_admin(&agent(), &admin));
    }

    #[test]
    fn reactivation_returns_to_where_the_user_was() {
        let now = Utc::now();
        let deactivated = User {
            state: UserState::Deactivated as i32,
            deactivate_time: Some(to_timestamp(now)),
            ..agent()
        };
        let back = reactivated(&deactivated, true, now).expect("reactivates");
        assert_eq!(back.state, UserState::Active as i32);
        assert!(back.deactivate_time.is_none());
        assert_eq!(
            reactivated(&deactivated, false, now)
                .expect("reactivates")
                .state,
            UserState::Invited as i32
        );
        assert!(matches!(
            reactivated(&agent(), true, now),
            Err(TenantsError::IllegalTransition(..))
        ));
    }
}
