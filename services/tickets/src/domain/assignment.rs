//! Who works a ticket (派单): the team strategies (round robin, least loaded)
//! over the team's present members who hold the ticket's required skills,
//! the tiers (一线 front line → 专业组 specialists → 主管 management) and
//! the routing of a kind or category to the team of each tier. Pure
//! functions; the directory copy and the open-ticket counts are passed in.

use std::collections::HashMap;

use kefu_proto::v1::{
    Priority, Team, TeamAssignmentStrategy, TeamTier, Ticket, TicketAssignmentStrategy,
    TicketRouting, TicketSupportTier, TriageClass, User, UserAvailability, UserState,
};

/// How an agent is picked within a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// In turn, after the member who was given the last ticket.
    RoundRobin,
    /// The member with the fewest open tickets, weighted by skill level;
    /// ties in round-robin order.
    LeastLoaded,
}

impl Strategy {
    /// The contract's name of the strategy, for TicketAssigned.
    pub fn as_contract(self) -> TicketAssignmentStrategy {
        match self {
            Self::RoundRobin => TicketAssignmentStrategy::RoundRobin,
            Self::LeastLoaded => TicketAssignmentStrategy::LeastLoaded,
        }
    }
}

/// The strategy `requested` for `team`: `TEAM_DEFAULT` reads the team's
/// own (ROUND_ROBIN when unset). None: no strategy (`UNSPECIFIED`) or a
/// team that assigns only by hand (MANUAL): the ticket waits in the queue.
pub fn strategy_for(requested: TicketAssignmentStrategy, team: &Team) -> Option<Strategy> {
    match requested {
        TicketAssignmentStrategy::Unspecified => None,
        TicketAssignmentStrategy::RoundRobin => Some(Strategy::RoundRobin),
        TicketAssignmentStrategy::LeastLoaded => Some(Strategy::LeastLoaded),
        TicketAssignmentStrategy::TeamDefault => {
            match TeamAssignmentStrategy::try_from(team.assignment_strategy).unwrap_or_default() {
                TeamAssignmentStrategy::Manual => None,
                TeamAssignmentStrategy::LeastLoaded => Some(Strategy::LeastLoaded),
                TeamAssignmentStrategy::Unspecified | TeamAssignmentStrategy::RoundRobin => {
                    Some(Strategy::RoundRobin)
                }
            }
        }
    }
}

/// Whether `user` is a member of `team`. The team's member list decides:
/// TeamMembershipChanged keeps it current, while a user snapshot's `teams`
/// may predate a removal.
pub fn is_member(team: &Team, user: &User) -> bool {
    team.members.contains(&user.name)
}

/// Whether `user` is an active user of the tenant.
pub fn is_active(user: &User) -> bool {
    user.state == UserState::Active as i32
}

/// Whether `user` takes work now: active and PRESENT.
pub fn is_available(user: &User) -> bool {
    is_active(user) && user.availability == UserAvailability::Present as i32
}

/// The user's level in each of `required` skills, or None when one is
/// missing.
fn skill_levels(user: &User, required: &[String]) -> Option<Vec<i32>> {
    required
        .iter()
        .map(|key| {
            user.skills
                .iter()
                .find(|skill| skill.key == *key)
                // The contract's default level is 3.
                .map(|skill| if skill.level > 0 { skill.level } else { 3 })
        })
        .collect()
}

/// A member the strategy may pick.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// `users/{user}`.
    pub name: String,
    /// Open tickets assigned to the member now.
    pub open: u32,
    /// Mean level (1–5) of the required skills; 3 when none are required.
    pub skill_level: f64,
}

/// The members of `team` who may take a ticket needing `required` skills:
/// active, PRESENT, holding every required skill and, unless the ticket is
/// `urgent`, below their `max_open_items` (urgent work jumps the queue: a
/// full agent still takes it). Ordered by name, the round-robin order.
pub fn candidates(
    team: &Team,
    users: &[User],
    required: &[String],
    open: &HashMap<String, u32>,
    urgent: bool,
) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = users
        .iter()
        .filter(|user| is_member(team, user) && is_available(user))
        .filter_map(|user| {
            let levels = skill_levels(user, required)?;
            let open = open.get(&user.name).copied().unwrap_or(0);
            let limit = u32::try_from(user.max_open_items).unwrap_or(0);
            if !urgent && limit > 0 && open >= limit {
                return None;
            }
            let skill_level = if levels.is_empty() {
                3.0
            } else {
                f64::from(levels.iter().sum::<i32>()) / levels.len() as f64
            };
            Some(Candidate {
                name: user.name.clone(),
                open,
                skill_level,
            })
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found.dedup_by(|a, b| a.name == b.name);
    found
}

/// `candidates` (ordered by name) starting after `last`, the member given
/// the previous ticket, wrapping around.
fn in_turn<'a>(candidates: &'a [Candidate], last: Option<&str>) -> Vec<&'a Candidate> {
    let start = last
        .map(|last| {
            candidates
                .iter()
                .position(|candidate| candidate.name.as_str() > last)
                .unwrap_or(0)
        })
        .unwrap_or(0);
    candidates[start..]
        .iter()
        .chain(candidates[..start].iter())
        .collect()
}

/// The member `strategy` picks among `candidates`; `last` is the member the
/// team's previous automatic assignment went to. None when there is no
/// candidate (NO_ELIGIBLE_AGENT).
pub fn pick(strategy: Strategy, candidates: &[Candidate], last: Option<&str>) -> Option<String> {
    let turn = in_turn(candidates, last);
    let chosen = match strategy {
        Strategy::RoundRobin => turn.first().copied(),
        Strategy::LeastLoaded => {
            // A more skilled agent carries proportionally more: the load is
            // the open count per level; the first in turn wins a tie.
            let load = |candidate: &Candidate| f64::from(candidate.open) / candidate.skill_level;
            turn.iter()
                .copied()
                .fold(None, |best: Option<&Candidate>, next| match best {
                    Some(best) if load(best) <= load(next) => Some(best),
                    _ => Some(next),
                })
        }
    };
    chosen.map(|candidate| candidate.name.clone())
}

/// The tier of a team (FRONT_LINE when unset).
pub fn tier_of_team(team: &Team) -> TicketSupportTier {
    match TeamTier::try_from(team.tier).unwrap_or_default() {
        TeamTier::Specialist => TicketSupportTier::Specialist,
        TeamTier::Management => TicketSupportTier::Management,
        TeamTier::Unspecified | TeamTier::FrontLine => TicketSupportTier::FrontLine,
    }
}

/// The tier a ticket is at (FRONT_LINE when unset).
pub fn tier_of(tier: i32) -> TicketSupportTier {
    match TicketSupportTier::try_from(tier).unwrap_or_default() {
        TicketSupportTier::Unspecified => TicketSupportTier::FrontLine,
        other => other,
    }
}

/// The tier above `tier`; None above MANAGEMENT.
pub fn next_tier(tier: TicketSupportTier) -> Option<TicketSupportTier> {
    match tier {
        TicketSupportTier::Unspecified | TicketSupportTier::FrontLine => {
            Some(TicketSupportTier::Specialist)
        }
        TicketSupportTier::Specialist => Some(TicketSupportTier::Management),
        TicketSupportTier::Management => None,
    }
}

/// Why an escalation cannot go anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationRefusal {
    /// At MANAGEMENT without a named team or user (ALREADY_TOP_TIER).
    AlreadyTopTier,
    /// The requested tier is below the ticket's (INVALID_ARGUMENT).
    Downward,
}

/// The tier an escalation goes to: the requested one, else the next above
/// `current`. A named team or user may receive the ticket at the same tier
/// (a hand-off sideways); without one the tier must rise.
pub fn escalation_tier(
    current: TicketSupportTier,
    requested: TicketSupportTier,
    named_target: bool,
) -> Result<TicketSupportTier, EscalationRefusal> {
    if requested == TicketSupportTier::Unspecified {
        return match next_tier(current) {
            Some(next) => Ok(next),
            None if named_target => Ok(current),
            None => Err(EscalationRefusal::AlreadyTopTier),
        };
    }
    if (requested as i32) < (current as i32) {
        return Err(EscalationRefusal::Downward);
    }
    if requested == current && !named_target {
        return match next_tier(current) {
            Some(_) => Err(EscalationRefusal::Downward),
            None => Err(EscalationRefusal::AlreadyTopTier),
        };
    }
    Ok(requested)
}

/// The team of `tier` in a routing, if it names one.
fn routing_team(routing: Option<&TicketRouting>, tier: TicketSupportTier) -> Option<&str> {
    let routing = routing?;
    let team = match tier {
        TicketSupportTier::Unspecified | TicketSupportTier::FrontLine => &routing.front_line_team,
        TicketSupportTier::Specialist => &routing.specialist_team,
        TicketSupportTier::Management => &routing.management_team,
    };
    (!team.is_empty()).then_some(team.as_str())
}

/// The team that handles `tier` for a ticket: the category's routing, else
/// the kind's, else a team of the tenant at that tier (one of the ticket's
/// `department` first, then by name). None when the tenant has none.
pub fn team_for_tier(
    tier: TicketSupportTier,
    category: Option<&TicketRouting>,
    kind: Option<&TicketRouting>,
    department: &str,
    teams: &[Team],
) -> Option<String> {
    if let Some(team) = routing_team(category, tier).or_else(|| routing_team(kind, tier)) {
        return Some(team.to_owned());
    }
    let mut at_tier: Vec<&Team> = teams
        .iter()
        .filter(|team| tier_of_team(team) == tier)
        .collect();
    at_tier.sort_by_key(|team| {
        (
            department.is_empty() || team.department != department,
            &team.name,
        )
    });
    at_tier.first().map(|team| team.name.clone())
}

/// The tier a triage class sends a ticket to: SIMPLE → FRONT_LINE;
/// COMPLEX and URGENT → SPECIALIST.
pub fn tier_for_class(class: TriageClass) -> TicketSupportTier {
    match class {
        TriageClass::Complex | TriageClass::Urgent => TicketSupportTier::Specialist,
        TriageClass::Unspecified | TriageClass::Simple => TicketSupportTier::FrontLine,
    }
}

/// The priority after a triage: the one given, else URGENT for the URGENT
/// class, else `current`.
pub fn triaged_priority(class: TriageClass, given: Priority, current: i32) -> i32 {
    if given != Priority::Unspecified {
        given as i32
    } else if class == TriageClass::Urgent {
        Priority::Urgent as i32
    } else {
        current
    }
}

/// Whether a ticket of `priority` is urgent (it jumps the queue).
pub fn is_urgent(priority: i32) -> bool {
    priority == Priority::Urgent as i32
}

/// Puts `ticket` in `team`'s queue or hands; its department follows the
/// team's.
pub fn move_to_team(ticket: &mut Ticket, team: &Team) {
    ticket.team = team.name.clone();
    if !team.department.is_empty() {
        ticket.department = team.department.clone();
    }
}

/// The team `user` works in for a hand-off without a named team: `current`
/// when the user is a member of it, else the first of the user's teams.
pub fn team_of_user(user: &User, current: Option<&Team>, teams: &[Team]) -> Option<String> {
    if let Some(current) = current
        && is_member(current, user)
    {
        return Some(current.name.clone());
    }
    let mut own: Vec<&Team> = teams.iter().filter(|team| is_member(team, user)).collect();
    own.sort_by(|a, b| a.name.cmp(&b.name));
    own.first().map(|team| team.name.clone())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::UserSkill;

    use super::*;

    fn agent(name: &str, skills: &[(&str, i32)]) -> User {
        User {
            name: format!("users/{name}"),
            state: UserState::Active as i32,
            availability: UserAvailability::Present as i32,
            skills: skills
                .iter()
                .map(|(key, level)| UserSkill {
                    key: (*key).to_owned(),
                    level: *level,
                })
                .collect(),
            ..User::default()
        }
    }

    fn team(members: &[&str]) -> Team {
        Team {
            name: "teams/front".into(),
            members: members.iter().map(|m| format!("users/{m}")).collect(),
            ..Team::default()
        }
    }

    fn names(candidates: &[Candidate]) -> Vec<&str> {
        candidates.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn only_present_active_members_with_every_required_skill_are_candidates() {
        let mut away = agent("away", &[("plumbing", 3)]);
        away.availability = UserAvailability::Away as i32;
        let mut gone = agent("gone", &[("plumbing", 3)]);
        gone.state = UserState::Deactivated as i32;
        let users = vec![
            agent("b", &[("plumbing", 3), ("electric", 2)]),
            agent("a", &[("plumbing", 1)]),
            agent("outsider", &[("plumbing", 5)]),
            away,
            gone,
        ];
        let team = team(&["a", "b", "away", "gone"]);
        let open = HashMap::new();
        let all = candidates(&team, &users, &[], &open, false);
        assert_eq!(names(&all), ["users/a", "users/b"]);
        let skilled = candidates(&team, &users, &["electric".into()], &open, false);
        assert_eq!(names(&skilled), ["users/b"]);
        let none = candidates(&team, &users, &["gas".into()], &open, false);
        assert!(none.is_empty());
    }

    #[test]
    fn a_full_agent_takes_only_urgent_work() {
        let mut full = agent("full", &[]);
        full.max_open_items = 2;
        let users = vec![full, agent("free", &[])];
        let team = team(&["full", "free"]);
        let open = HashMap::from([("users/full".to_owned(), 2)]);
        assert_eq!(
            names(&candidates(&team, &users, &[], &open, false)),
            ["users/free"]
        );
        assert_eq!(
            names(&candidates(&team, &users, &[], &open, true)),
            ["users/free", "users/full"]
        );
    }

    #[test]
    fn round_robin_goes_in_turn_and_wraps() {
        let users = vec![agent("a", &[]), agent("b", &[]), agent("c", &[])];
        let pool = candidates(&team(&["a", "b", "c"]), &users, &[], &HashMap::new(), false);
        let mut last: Option<String> = None;
        let mut picks = Vec::new();
        for _ in 0..4 {
            let next = pick(Strategy::RoundRobin, &pool, last.as_deref()).expect("pick");
            picks.push(next.clone());
            last = Some(next);
        }
        assert_eq!(picks, ["users/a", "users/b", "users/c", "users/a"]);
        // The last one left the team: the next after it by name.
        assert_eq!(
            pick(Strategy::RoundRobin, &pool, Some("users/bb")).as_deref(),
            Some("users/c")
        );
        assert_eq!(pick(Strategy::RoundRobin, &[], None), None);
    }

    #[test]
    fn least_loaded_weighs_open_tickets_by_skill_level_and_breaks_ties_in_turn() {
        let users = vec![
            agent("a", &[("plumbing", 1)]),
            agent("b", &[("plumbing", 4)]),
            agent("c", &[("plumbing", 2)]),
        ];
        let team = team(&["a", "b", "c"]);
        let open = HashMap::from([
            ("users/a".to_owned(), 1),
            ("users/b".to_owned(), 2),
            ("users/c".to_owned(), 2),
        ]);
        let pool = candidates(&team, &users, &["plumbing".into()], &open, false);
        // Loads: a 1/1 = 1.0, b 2/4 = 0.5, c 2/2 = 1.0.
        assert_eq!(
            pick(Strategy::LeastLoaded, &pool, None).as_deref(),
            Some("users/b")
        );
        let even = candidates(&team, &users, &[], &HashMap::new(), false);
        assert_eq!(
            pick(Strategy::LeastLoaded, &even, Some("users/a")).as_deref(),
            Some("users/b")
        );
    }

    #[test]
    fn team_default_reads_the_team_and_manual_picks_nobody() {
        let mut team = team(&[]);
        assert_eq!(
            strategy_for(TicketAssignmentStrategy::TeamDefault, &team),
            Some(Strategy::RoundRobin)
        );
        team.assignment_strategy = TeamAssignmentStrategy::LeastLoaded as i32;
        assert_eq!(
            strategy_for(TicketAssignmentStrategy::TeamDefault, &team),
            Some(Strategy::LeastLoaded)
        );
        team.assignment_strategy = TeamAssignmentStrategy::Manual as i32;
        assert_eq!(
            strategy_for(TicketAssignmentStrategy::TeamDefault, &team),
            None
        );
        assert_eq!(
            strategy_for(TicketAssignmentStrategy::RoundRobin, &team),
            Some(Strategy::RoundRobin)
        );
        assert_eq!(
            strategy_for(TicketAssignmentStrategy::Unspecified, &team),
            None
        );
    }

    #[test]
    fn escalation_climbs_one_tier_and_stops_at_management() {
        use TicketSupportTier::{FrontLine, Management, Specialist, Unspecified};
        assert_eq!(
            escalation_tier(FrontLine, Unspecified, false),
            Ok(Specialist)
        );
        assert_eq!(
            escalation_tier(Specialist, Unspecified, false),
            Ok(Management)
        );
        assert_eq!(
            escalation_tier(Management, Unspecified, false),
            Err(EscalationRefusal::AlreadyTopTier)
        );
        assert_eq!(
            escalation_tier(Management, Unspecified, true),
            Ok(Management)
        );
        assert_eq!(
            escalation_tier(FrontLine, Management, false),
            Ok(Management)
        );
        assert_eq!(
            escalation_tier(Specialist, FrontLine, true),
            Err(EscalationRefusal::Downward)
        );
        assert_eq!(
            escalation_tier(Specialist, Specialist, true),
            Ok(Specialist)
        );
        assert_eq!(
            escalation_tier(Management, Management, false),
            Err(EscalationRefusal::AlreadyTopTier)
        );
    }

    #[test]
    fn the_team_of_a_tier_comes_from_the_category_then_the_kind_then_the_tenant() {
        let category = TicketRouting {
            specialist_team: "teams/plumbers".into(),
            ..TicketRouting::default()
        };
        let kind = TicketRouting {
            front_line_team: "teams/desk".into(),
            specialist_team: "teams/tech".into(),
            ..TicketRouting::default()
        };
        let teams = vec![
            Team {
                name: "teams/bosses-b".into(),
                tier: TeamTier::Management as i32,
                department: "departments/b".into(),
                ..Team::default()
            },
            Team {
                name: "teams/bosses-z".into(),
                tier: TeamTier::Management as i32,
                department: "departments/z".into(),
                ..Team::default()
            },
        ];
        let tier = |t| team_for_tier(t, Some(&category), Some(&kind), "departments/z", &teams);
        assert_eq!(
            tier(TicketSupportTier::Specialist).as_deref(),
            Some("teams/plumbers")
        );
        assert_eq!(
            tier(TicketSupportTier::FrontLine).as_deref(),
            Some("teams/desk")
        );
        assert_eq!(
            tier(TicketSupportTier::Management).as_deref(),
            Some("teams/bosses-z")
        );
        assert_eq!(
            team_for_tier(TicketSupportTier::Management, None, None, "", &teams).as_deref(),
            Some("teams/bosses-b")
        );
        assert_eq!(
            team_for_tier(TicketSupportTier::Specialist, None, None, "", &teams),
            None
        );
    }

    #[test]
    fn triage_routes_by_class_and_urgent_raises_the_priority() {
        assert_eq!(
            tier_for_class(TriageClass::Simple),
            TicketSupportTier::FrontLine
        );
        assert_eq!(
            tier_for_class(TriageClass::Complex),
            TicketSupportTier::Specialist
        );
        assert_eq!(
            tier_for_class(TriageClass::Urgent),
            TicketSupportTier::Specialist
        );
        let normal = Priority::Normal as i32;
        assert_eq!(
            triaged_priority(TriageClass::Urgent, Priority::Unspecified, normal),
            Priority::Urgent as i32
        );
        assert_eq!(
            triaged_priority(TriageClass::Urgent, Priority::High, normal),
            Priority::High as i32
        );
        assert_eq!(
            triaged_priority(TriageClass::Complex, Priority::Unspecified, normal),
            normal
        );
    }

    #[test]
    fn a_user_without_a_named_team_works_in_the_current_one_or_their_first() {
        let user = User {
            name: "users/a".into(),
            // Stale: the team's list says the user left teams/c.
            teams: vec!["teams/c".into()],
            ..User::default()
        };
        let team = |name: &str, members: &[&str]| Team {
            name: name.into(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            ..Team::default()
        };
        let teams = vec![
            team("teams/z", &["users/a"]),
            team("teams/b", &["users/a"]),
            team("teams/c", &[]),
        ];
        assert_eq!(
            team_of_user(&user, Some(&teams[0]), &teams).as_deref(),
            Some("teams/z")
        );
        assert_eq!(
            team_of_user(&user, Some(&teams[2]), &teams).as_deref(),
            Some("teams/b")
        );
        assert_eq!(
            team_of_user(&user, None, &teams).as_deref(),
            Some("teams/b")
        );
        assert!(!is_member(&teams[2], &user));
    }
}
