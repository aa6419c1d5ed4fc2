//! Incidents (危机处理, crisis mode): many tickets with one cause, answered
//! with one response and resolved together.

use kefu_kit::resource;
use kefu_proto::v1::{Incident, IncidentState, Priority, TicketState};
use uuid::Uuid;

use super::comment::check_required_text;
use crate::error::{Result, TicketsError};

/// The most tickets one call links.
pub const LINK_LIMIT: usize = 500;

/// Paths `UpdateIncident` may change.
pub const MUTABLE: &[&str] = &[
    "title",
    "cause",
    "priority",
    "kind",
    "category",
    "owner",
    "team",
    "reply_to_new_links",
];

/// `incidents/{id}`.
pub fn incident_name(id: Uuid) -> String {
    format!("incidents/{id}")
}

/// The id in `incidents/{id}`.
pub fn id_of(name: &str) -> Option<Uuid> {
    resource::id_in(name, "incidents").and_then(|id| Uuid::parse_str(id).ok())
}

/// The state of `incident`.
pub fn state_of(incident: &Incident) -> IncidentState {
    IncidentState::try_from(incident.state).unwrap_or(IncidentState::Unspecified)
}

/// Checks the fields callers write (`prefix` names the message in errors):
/// title and cause required and within limits, references well formed.
pub fn check(incident: &Incident, prefix: &str) -> Result<()> {
    let field = |name: &str| format!("{prefix}.{name}");
    check_required_text(&field("title"), &incident.title, 200)?;
    check_required_text(&field("cause"), &incident.cause, 4_000)?;
    if Priority::try_from(incident.priority).is_err() {
        return Err(TicketsError::invalid(
            &field("priority"),
            "priority is not a Priority",
        ));
    }
    let references = [
        ("kind", &incident.kind, "ticketKinds"),
        ("category", &incident.category, "ticketCategories"),
        ("owner", &incident.owner, "users"),
        ("team", &incident.team, "teams"),
    ];
    for (name, value, collection) in references {
        if !value.is_empty() && resource::id_in(value, collection).is_none() {
            return Err(TicketsError::invalid(
                &field(name),
                format!("{prefix}.{name} must be {collection}/{{id}}"),
            ));
        }
    }
    Ok(())
}

/// Clears what callers may not write and applies the defaults: priority
/// HIGH, the creator as owner.
pub fn prepare_new(incident: &mut Incident, creator: &str) {
    let keep = Incident {
        title: std::mem::take(&mut incident.title),
        cause: std::mem::take(&mut incident.cause),
        priority: incident.priority,
        kind: std::mem::take(&mut incident.kind),
        category: std::mem::take(&mut incident.category),
        owner: std::mem::take(&mut incident.owner),
        team: std::mem::take(&mut incident.team),
        reply_to_new_links: incident.reply_to_new_links,
        ..Default::default()
    };
    *incident = keep;
    if incident.priority == Priority::Unspecified as i32 {
        incident.priority = Priority::High as i32;
    }
    if incident.owner.is_empty() {
        incident.owner = creator.to_owned();
    }
    incident.state = IncidentState::Open as i32;
}

/// Copies the `paths` of `input` onto `target`; INVALID_ARGUMENT naming
/// `update_mask` for a path that cannot change.
pub fn apply_mask(target: &mut Incident, input: &Incident, paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Err(TicketsError::invalid(
            "update_mask",
            "update_mask must list the paths to change",
        ));
    }
    for path in paths {
        match path.as_str() {
            "title" => target.title = input.title.clone(),
            "cause" => target.cause = input.cause.clone(),
            "priority" => {
                target.priority = if input.priority == Priority::Unspecified as i32 {
                    Priority::High as i32
                } else {
                    input.priority
                }
            }
            "kind" => target.kind = input.kind.clone(),
            "category" => target.category = input.category.clone(),
            "owner" => target.owner = input.owner.clone(),
            "team" => target.team = input.team.clone(),
            "reply_to_new_links" => target.reply_to_new_links = input.reply_to_new_links,
            other => {
                return Err(TicketsError::invalid(
                    "update_mask",
                    format!(
                        "update_mask names {other:?}, which UpdateIncident cannot change; mutable: {}",
                        MUTABLE.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// FAILED_PRECONDITION `INCIDENT_RESOLVED` unless the incident is open.
pub fn ensure_open(incident: &Incident) -> Result<()> {
    if state_of(incident) == IncidentState::Open {
        Ok(())
    } else {
        Err(TicketsError::FailedPrecondition(
            format!(
                "{} is resolved: it takes no more links, responses or changes",
                incident.name
            ),
            "INCIDENT_RESOLVED",
        ))
    }
}

/// The ticket ids of a link request (`field[i]` names a malformed one),
/// without duplicates, in request order; 1 to 500 unless `may_be_empty`.
pub fn ticket_ids(field: &str, tickets: &[String], may_be_empty: bool) -> Result<Vec<Uuid>> {
    if tickets.is_empty() && !may_be_empty {
        return Err(TicketsError::invalid(field, format!("{field} is required")));
    }
    if tickets.len() > LINK_LIMIT {
        return Err(TicketsError::invalid(
            field,
            format!("{field} holds more than {LINK_LIMIT} tickets"),
        ));
    }
    let mut ids = Vec::with_capacity(tickets.len());
    for (index, name) in tickets.iter().enumerate() {
        let id = super::ticket::id_of(name).ok_or_else(|| {
            TicketsError::invalid(
                &format!("{field}[{index}]"),
                format!("{field}[{index}] must be tickets/{{id}}"),
            )
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// What linking a ticket that is linked to `current` does: `Ok(false)` when
/// it is already linked to `incident` (skipped), `Ok(true)` when it is
/// free, FAILED_PRECONDITION `TICKET_IN_OTHER_INCIDENT` naming `field`
/// when another incident holds it.
pub fn may_link(current: &str, incident: &str, field: &str) -> Result<bool> {
    if current.is_empty() {
        Ok(true)
    } else if current == incident {
        Ok(false)
    } else {
        Err(TicketsError::FailedPrecondition(
            format!("{field} is linked to {current}; unlink it there first"),
            "TICKET_IN_OTHER_INCIDENT",
        ))
    }
}

/// Whether a linked ticket in `state` still takes the incident's replies
/// and resolution (neither RESOLVED nor CLOSED).
pub fn takes_part(state: TicketState) -> bool {
    !matches!(
        state,
        TicketState::Resolved | TicketState::Closed | TicketState::Unspecified
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident() -> Incident {
        Incident {
            title: "12月3日 3号楼停水".into(),
            cause: "市政管网维修".into(),
            ..Default::default()
        }
    }

    #[test]
    fn title_and_cause_are_required() {
        assert!(check(&incident(), "incident").is_ok());
        let mut untitled = incident();
        untitled.title.clear();
        let error = check(&untitled, "incident").err();
        assert!(format!("{error:?}").contains("incident.title"));
        let mut long = incident();
        long.cause = "x".repeat(4_001);
        assert!(check(&long, "incident").is_err());
        let mut bad_owner = incident();
        bad_owner.owner = "alice".into();
        assert!(check(&bad_owner, "incident").is_err());
    }

    #[test]
    fn defaults_are_high_priority_and_the_creator_as_owner() {
        let mut new = incident();
        new.linked_ticket_count = 9;
        new.name = "incidents/x".into();
        prepare_new(&mut new, "users/u1");
        assert_eq!(new.priority, Priority::High as i32);
        assert_eq!(new.owner, "users/u1");
        assert_eq!(new.state, IncidentState::Open as i32);
        assert_eq!((new.linked_ticket_count, new.name.as_str()), (0, ""));
    }

    #[test]
    fn only_documented_paths_update() {
        let mut target = incident();
        let input = Incident {
            title: "新标题".into(),
            reply_to_new_links: true,
            state: IncidentState::Resolved as i32,
            ..Default::default()
        };
        apply_mask(
            &mut target,
            &input,
            &["title".into(), "reply_to_new_links".into()],
        )
        .expect("mutable paths");
        assert_eq!(target.title, "新标题");
        assert!(target.reply_to_new_links);
        assert!(apply_mask(&mut target, &input, &["state".into()]).is_err());
        assert!(apply_mask(&mut target, &input, &[]).is_err());
    }

    #[test]
    fn a_resolved_incident_takes_nothing_more() {
        let mut resolved = incident();
        resolved.state = IncidentState::Resolved as i32;
        let error = ensure_open(&resolved).err();
        assert!(format!("{error:?}").contains("INCIDENT_RESOLVED"));
        let mut open = incident();
        open.state = IncidentState::Open as i32;
        assert!(ensure_open(&open).is_ok());
    }

    #[test]
    fn a_ticket_belongs_to_one_incident() {
        assert_eq!(may_link("", "incidents/a", "tickets[0]").ok(), Some(true));
        assert_eq!(
            may_link("incidents/a", "incidents/a", "tickets[0]").ok(),
            Some(false)
        );
        let error = may_link("incidents/b", "incidents/a", "tickets[1]").err();
        assert!(format!("{error:?}").contains("TICKET_IN_OTHER_INCIDENT"));
    }

    #[test]
    fn link_requests_are_bounded_and_well_formed() {
        let id = Uuid::now_v7();
        let name = format!("tickets/{id}");
        assert_eq!(
            ticket_ids("tickets", &[name.clone(), name.clone()], false).ok(),
            Some(vec![id])
        );
        assert!(ticket_ids("tickets", &[], false).is_err());
        assert!(ticket_ids("tickets", &[], true).is_ok());
        assert!(ticket_ids("tickets", &vec![name; 501], false).is_err());
        let error = ticket_ids("tickets", &["tickets/x".into()], false).err();
        assert!(format!("{error:?}").contains("tickets[0]"));
    }

    #[test]
    fn only_unfinished_tickets_take_part() {
        assert!(takes_part(TicketState::New));
        assert!(takes_part(TicketState::OnHold));
        assert!(!takes_part(TicketState::Resolved));
        assert!(!takes_part(TicketState::Closed));
    }
}
