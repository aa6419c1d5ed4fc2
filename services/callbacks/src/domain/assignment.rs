//! Who calls (分配到各客服专员): the tasks of a policy spread evenly over the
//! active agents of its team — in turn, or to the one with the fewest open
//! tasks (ties in turn) — or given to the customer's owner.
//!
//! Callbacks are worked over days, not minutes: an agent who is offline
//! now still receives tasks; one who is away (not taking new work) or
//! deactivated does not.

use std::collections::BTreeMap;

use kefu_proto::v1::{CallbackAssignmentMode, Team, User, UserAvailability, UserState};

/// Whether `user` may receive new callback tasks.
pub fn takes_tasks(user: &User) -> bool {
    user.state == UserState::Active as i32 && user.availability != UserAvailability::Away as i32
}

/// The members of `team` who take tasks (`users` is the tenant's copy),
/// by name.
pub fn candidates(team: &Team, users: &[User]) -> Vec<String> {
    let mut names: Vec<String> = users
        .iter()
        .filter(|user| takes_tasks(user))
        .filter(|user| team.members.contains(&user.name) || user.teams.contains(&team.name))
        .map(|user| user.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The candidates in turn after `last` (the team's last assignee): the
/// one after it first, wrapping around.
fn in_turn<'a>(candidates: &'a [String], last: Option<&str>) -> Vec<&'a String> {
    let start = last
        .and_then(|last| candidates.iter().position(|name| name.as_str() > last))
        .unwrap_or(0);
    candidates[start..]
        .iter()
        .chain(candidates[..start].iter())
        .collect()
}

/// The agent `mode` picks among `candidates` (sorted names), given each
/// one's open tasks and the team's last assignee; the customer's `owner`
/// when the mode is CUSTOMER_OWNER and the owner takes tasks
/// (`owner_takes_tasks`). None when nobody can take it.
pub fn pick(
    mode: CallbackAssignmentMode,
    candidates: &[String],
    open: &BTreeMap<String, i64>,
    last: Option<&str>,
    owner: Option<&str>,
    owner_takes_tasks: bool,
) -> Option<String> {
    if mode == CallbackAssignmentMode::CustomerOwner
        && owner_takes_tasks
        && let Some(owner) = owner.filter(|owner| !owner.is_empty())
    {
        return Some(owner.to_owned());
    }
    let turn = in_turn(candidates, last);
    match mode {
        CallbackAssignmentMode::TeamRoundRobin => turn.first().map(|name| (*name).clone()),
        _ => turn
            .iter()
            .min_by_key(|name| open.get(name.as_str()).copied().unwrap_or(0))
            .map(|name| (*name).clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    fn user(name: &str, state: UserState, availability: UserAvailability) -> User {
        User {
            name: name.into(),
            state: state as i32,
            availability: availability as i32,
            teams: vec!["teams/callbacks".into()],
            ..User::default()
        }
    }

    #[test]
    fn round_robin_goes_in_turn_and_wraps() {
        let agents = names(&["users/a", "users/b", "users/c"]);
        let open = BTreeMap::new();
        let mode = CallbackAssignmentMode::TeamRoundRobin;
        assert_eq!(
            pick(mode, &agents, &open, None, None, false).as_deref(),
            Some("users/a")
        );
        assert_eq!(
            pick(mode, &agents, &open, Some("users/a"), None, false).as_deref(),
            Some("users/b")
        );
        assert_eq!(
            pick(mode, &agents, &open, Some("users/c"), None, false).as_deref(),
            Some("users/a")
        );
        // The last assignee left the team: the next name after it.
        assert_eq!(
            pick(mode, &agents, &open, Some("users/bb"), None, false).as_deref(),
            Some("users/c")
        );
    }

    #[test]
    fn least_loaded_picks_the_fewest_open_tasks_ties_in_turn() {
        let agents = names(&["users/a", "users/b", "users/c"]);
        let open: BTreeMap<String, i64> =
            [("users/a".to_owned(), 2), ("users/b".to_owned(), 1)].into();
        let mode = CallbackAssignmentMode::TeamLeastLoaded;
        assert_eq!(
            pick(mode, &agents, &open, None, None, false).as_deref(),
            Some("users/c")
        );
        let even: BTreeMap<String, i64> = [
            ("users/a".to_owned(), 1),
            ("users/b".to_owned(), 1),
            ("users/c".to_owned(), 1),
        ]
        .into();
        assert_eq!(
            pick(mode, &agents, &even, Some("users/a"), None, false).as_deref(),
            Some("users/b")
        );
        assert_eq!(pick(mode, &[], &open, None, None, false), None);
    }

    #[test]
    fn the_owner_takes_the_task_unless_unable() {
        let agents = names(&["users/a", "users/b"]);
        let open: BTreeMap<String, i64> = [("users/a".to_owned(), 3)].into();
        let mode = CallbackAssignmentMode::CustomerOwner;
        assert_eq!(
            pick(mode, &agents, &open, None, Some("users/owner"), true).as_deref(),
            Some("users/owner")
        );
        // A deactivated owner: least loaded over the team.
        assert_eq!(
            pick(mode, &agents, &open, None, Some("users/owner"), false).as_deref(),
            Some("users/b")
        );
        assert_eq!(
            pick(mode, &agents, &open, None, None, true).as_deref(),
            Some("users/b")
        );
    }

    #[test]
    fn only_active_members_who_are_not_away_are_candidates() {
        let team = Team {
            name: "teams/callbacks".into(),
            members: vec!["users/d".into()],
            ..Team::default()
        };
        let users = vec![
            user("users/b", UserState::Active, UserAvailability::Offline),
            user("users/a", UserState::Active, UserAvailability::Present),
            user("users/c", UserState::Active, UserAvailability::Away),
            user("users/e", UserState::Deactivated, UserAvailability::Present),
            User {
                name: "users/d".into(),
                state: UserState::Active as i32,
                ..User::default()
            },
            User {
                name: "users/x".into(),
                state: UserState::Active as i32,
                teams: vec!["teams/other".into()],
                ..User::default()
            },
        ];
        assert_eq!(
            candidates(&team, &users),
            names(&["users/a", "users/b", "users/d"])
        );
    }
}
