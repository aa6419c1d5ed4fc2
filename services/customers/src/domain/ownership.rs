//! Owner agents (专属客服): who is eligible, how much each agent weighs, how
//! customers are spread so that counts stay proportional to the weights,
//! and the first-contact clock.

use std::cmp::Ordering;

use chrono::{DateTime, Duration, Utc};
use kefu_proto::v1::{Role, User, UserState};

/// Days an owner has for first contact when the tenant set none.
pub const DEFAULT_FIRST_CONTACT_DAYS: i32 = 7;

/// The level a skill without one counts as (the contract's default).
const DEFAULT_LEVEL: i64 = 3;

/// Whether `user` may own customers: ACTIVE (an invited user cannot work
/// yet, a deactivated one no longer can) and holding ROLE_AGENT.
pub fn is_active_agent(user: &User) -> bool {
    user.state == UserState::Active as i32 && user.roles.contains(&(Role::Agent as i32))
}

/// An agent's weight as an exact fraction (`sum / count`), so that ratios
/// compare without rounding: a mean of levels such as 10/3 stays exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weight {
    sum: i64,
    count: i64,
}

impl Weight {
    /// A weight of one skill level (1 to 5; 0 reads as the default 3).
    pub fn level(level: i32) -> Self {
        Self {
            sum: level_or_default(level),
            count: 1,
        }
    }

    /// The weight as a number, for the response.
    pub fn value(&self) -> f64 {
        self.sum as f64 / self.count as f64
    }
}

fn level_or_default(level: i32) -> i64 {
    if level <= 0 {
        DEFAULT_LEVEL
    } else {
        i64::from(level.min(5))
    }
}

/// How `user` weighs in a pool: the level of `skill` when one is named
/// (`None`: the agent lacks it and is left out), otherwise the mean of the
/// agent's skill levels, 3 without skills.
pub fn weight_of(user: &User, skill: &str) -> Option<Weight> {
    if !skill.is_empty() {
        return user
            .skills
            .iter()
            .find(|held| held.key == skill)
            .map(|held| Weight::level(held.level));
    }
    if user.skills.is_empty() {
        return Some(Weight::level(0));
    }
    Some(Weight {
        sum: user
            .skills
            .iter()
            .map(|held| level_or_default(held.level))
            .sum(),
        count: user.skills.len() as i64,
    })
}

/// An agent customers may go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `users/{user}`.
    pub owner: String,
    /// Its weight.
    pub weight: Weight,
    /// ACTIVE customers it owns before the call.
    pub owned: i64,
}

/// A customer to give an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The customer's id.
    pub id: String,
    /// Whether its tier has `dedicated_agent`: such customers go first.
    pub dedicated: bool,
}

/// One agent's share of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    /// `users/{user}`.
    pub owner: String,
    /// The weight used.
    pub weight: f64,
    /// Customers given by this call.
    pub assigned: i64,
    /// Customers owned after this call.
    pub owned_after: i64,
}

/// The outcome of [`balance`].
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// (customer id, new owner), in the order they were decided.
    pub assignments: Vec<(String, String)>,
    /// Per candidate, by owner name.
    pub shares: Vec<Share>,
}

/// Spreads `items` over `candidates`: customers of dedicated tiers first,
/// otherwise in the order given; each goes to the agent with the lowest
/// owned-to-weight ratio (counting what this call gave), ties to the agent
/// given the fewest in this call, then to the smaller name. Over many
/// customers every agent's count approaches its weight's share.
pub fn balance(candidates: &[Candidate], items: &[Item]) -> Plan {
    let mut owned: Vec<i64> = candidates.iter().map(|c| c.owned).collect();
    let mut given: Vec<i64> = vec![0; candidates.len()];
    let mut ordered: Vec<&Item> = items.iter().collect();
    // A stable sort keeps the given order within each group.
    ordered.sort_by_key(|item| !item.dedicated);
    let mut assignments = Vec::with_capacity(items.len());
    if !candidates.is_empty() {
        for item in ordered {
            let best = (0..candidates.len())
                .min_by(|&a, &b| {
                    compare_ratio(
                        owned[a],
                        candidates[a].weight,
                        owned[b],
                        candidates[b].weight,
                    )
                    .then(given[a].cmp(&given[b]))
                    .then(candidates[a].owner.cmp(&candidates[b].owner))
                })
                .unwrap_or(0);
            owned[best] += 1;
            given[best] += 1;
            assignments.push((item.id.clone(), candidates[best].owner.clone()));
        }
    }
    let mut shares: Vec<Share> = candidates
        .iter()
        .enumerate()
        .map(|(index, candidate)| Share {
            owner: candidate.owner.clone(),
            weight: candidate.weight.value(),
            assigned: given[index],
            owned_after: owned[index],
        })
        .collect();
    shares.sort_by(|a, b| a.owner.cmp(&b.owner));
    Plan {
        assignments,
        shares,
    }
}

/// `owned_a / weight_a` against `owned_b / weight_b`, exactly:
/// `owned_a * count_a * sum_b` against `owned_b * count_b * sum_a`.
fn compare_ratio(owned_a: i64, weight_a: Weight, owned_b: i64, weight_b: Weight) -> Ordering {
    let left = i128::from(owned_a) * i128::from(weight_a.count) * i128::from(weight_b.sum);
    let right = i128::from(owned_b) * i128::from(weight_b.count) * i128::from(weight_a.sum);
    left.cmp(&right)
}

/// When an owner assigned at `assigned` must have made first contact.
pub fn first_contact_due(assigned: DateTime<Utc>, days: i32) -> DateTime<Utc> {
    let days = if days <= 0 {
        DEFAULT_FIRST_CONTACT_DAYS
    } else {
        days
    };
    assigned + Duration::days(i64::from(days))
}

/// Whether the first contact of a customer is overdue at `now`: owned, not
/// contacted, and the due time passed.
pub fn is_overdue(
    owner: &str,
    due: Option<DateTime<Utc>>,
    contacted: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    !owner.is_empty() && contacted.is_none() && due.is_some_and(|due| due <= now)
}

/// Why a recorded first-contact time is refused, if it is.
pub fn check_contact_time(
    contact: DateTime<Utc>,
    assigned: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), &'static str> {
    if contact > now {
        return Err("contact_time is in the future");
    }
    if assigned.is_some_and(|assigned| contact < assigned) {
        return Err("contact_time is before the owner was assigned");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::UserSkill;

    use super::*;

    fn candidate(owner: &str, level: i32, owned: i64) -> Candidate {
        Candidate {
            owner: owner.into(),
            weight: Weight::level(level),
            owned,
        }
    }

    fn items(count: usize) -> Vec<Item> {
        (0..count)
            .map(|index| Item {
                id: format!("c{index:02}"),
                dedicated: false,
            })
            .collect()
    }

    fn assigned(plan: &Plan, owner: &str) -> i64 {
        plan.shares
            .iter()
            .find(|share| share.owner == owner)
            .map_or(0, |share| share.assigned)
    }

    #[test]
    fn shares_follow_the_weights() {
        let plan = balance(
            &[candidate("users/a", 1, 0), candidate("users/b", 3, 0)],
            &items(10),
        );
        assert_eq!(plan.assignments.len(), 10);
        assert_eq!(assigned(&plan, "users/a"), 3);
        assert_eq!(assigned(&plan, "users/b"), 7);
        let plan = balance(
            &[candidate("users/a", 1, 0), candidate("users/b", 3, 0)],
            &items(400),
        );
        assert_eq!(assigned(&plan, "users/a"), 100);
        assert_eq!(assigned(&plan, "users/b"), 300);
    }

    #[test]
    fn customers_already_owned_count() {
        // b already holds 6 at weight 3 (ratio 2): a catches up to 2 first.
        let plan = balance(
            &[candidate("users/a", 1, 0), candidate("users/b", 3, 6)],
            &items(2),
        );
        assert_eq!(assigned(&plan, "users/a"), 2);
        assert_eq!(assigned(&plan, "users/b"), 0);
        let share = &plan.shares[1];
        assert_eq!((share.owner.as_str(), share.owned_after), ("users/b", 6));
    }

    #[test]
    fn ties_go_to_the_fewest_given_then_the_name() {
        let plan = balance(
            &[candidate("users/b", 3, 0), candidate("users/a", 3, 0)],
            &items(3),
        );
        let owners: Vec<&str> = plan
            .assignments
            .iter()
            .map(|(_, owner)| owner.as_str())
            .collect();
        assert_eq!(owners, ["users/a", "users/b", "users/a"]);
        // Equal ratios after unequal gifts: the one given fewer wins.
        let plan = balance(
            &[candidate("users/a", 1, 1), candidate("users/b", 2, 0)],
            &items(2),
        );
        assert_eq!(plan.assignments[0].1, "users/b", "0/2 beats 1/1");
        assert_eq!(
            plan.assignments[1].1, "users/b",
            "1/2 beats 1/1 (ratio first)"
        );
    }

    #[test]
    fn dedicated_tiers_go_first() {
        let mut batch = items(3);
        batch[2].dedicated = true;
        let plan = balance(
            &[candidate("users/a", 3, 0), candidate("users/b", 3, 0)],
            &batch,
        );
        assert_eq!(plan.assignments[0], ("c02".into(), "users/a".into()));
        assert_eq!(plan.assignments[1].0, "c00");
        assert_eq!(plan.assignments[2].0, "c01");
    }

    #[test]
    fn no_candidates_assign_nothing() {
        let plan = balance(&[], &items(3));
        assert!(plan.assignments.is_empty());
        assert!(plan.shares.is_empty());
    }

    #[test]
    fn weights_come_from_the_skill_or_the_mean() {
        let user = User {
            skills: vec![
                UserSkill {
                    key: "plumbing".into(),
                    level: 5,
                },
                UserSkill {
                    key: "billing".into(),
                    level: 0,
                },
            ],
            ..User::default()
        };
        assert_eq!(weight_of(&user, "plumbing").map(|w| w.value()), Some(5.0));
        assert_eq!(weight_of(&user, "billing").map(|w| w.value()), Some(3.0));
        assert_eq!(weight_of(&user, "lifts"), None, "without the skill: out");
        assert_eq!(weight_of(&user, "").map(|w| w.value()), Some(4.0));
        assert_eq!(
            weight_of(&User::default(), "").map(|w| w.value()),
            Some(3.0)
        );
    }

    #[test]
    fn only_active_agents_own_customers() {
        let agent = User {
            roles: vec![Role::Agent as i32],
            state: UserState::Active as i32,
            ..User::default()
        };
        assert!(is_active_agent(&agent));
        let invited = User {
            state: UserState::Invited as i32,
            ..agent.clone()
        };
        assert!(!is_active_agent(&invited));
        let supervisor = User {
            roles: vec![Role::Supervisor as i32],
            ..agent
        };
        assert!(!is_active_agent(&supervisor));
    }

    #[test]
    fn the_clock_runs_for_the_tenants_days() {
        let assigned = DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let due = first_contact_due(assigned, 0);
        assert_eq!(due, assigned + Duration::days(7));
        assert_eq!(first_contact_due(assigned, 2), assigned + Duration::days(2));
        assert!(!is_overdue(
            "users/a",
            Some(due),
            None,
            due - Duration::seconds(1)
        ));
        assert!(is_overdue("users/a", Some(due), None, due));
        assert!(!is_overdue("users/a", Some(due), Some(assigned), due));
        assert!(!is_overdue("", Some(due), None, due));
    }

    #[test]
    fn contact_times_lie_between_assignment_and_now() {
        let now = DateTime::parse_from_rfc3339("2026-12-05T09:00:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let assigned = Some(now - Duration::days(2));
        assert!(check_contact_time(now, assigned, now).is_ok());
        assert!(check_contact_time(now + Duration::seconds(1), assigned, now).is_err());
        assert!(check_contact_time(now - Duration::days(3), assigned, now).is_err());
    }
}
