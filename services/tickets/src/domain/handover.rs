//! Shift handovers (交接班): the open items of one shift handed explicitly to
//! the next (DRAFT → SUBMITTED) and acknowledged by it, face to face
//! (SUBMITTED → ACKNOWLEDGED, 当面履行交接手续).

use kefu_kit::resource;
use kefu_proto::v1::{Handover, HandoverItem, HandoverState, HandoverTicketSnapshot, Ticket};
use uuid::Uuid;

use super::comment::{check_length, check_required_text};
use crate::error::{Result, TicketsError};

/// The most items one handover holds.
pub const ITEM_LIMIT: usize = 500;

/// Paths `UpdateHandover` may change.
pub const MUTABLE: &[&str] = &["to_user", "to_team", "to_shift", "note", "items"];

/// `handovers/{id}`.
pub fn handover_name(id: Uuid) -> String {
    format!("handovers/{id}")
}

/// The id in `handovers/{id}`.
pub fn id_of(name: &str) -> Option<Uuid> {
    resource::id_in(name, "handovers").and_then(|id| Uuid::parse_str(id).ok())
}

/// The state of `handover`.
pub fn state_of(handover: &Handover) -> HandoverState {
    HandoverState::try_from(handover.state).unwrap_or(HandoverState::Unspecified)
}

fn check_reference(field: &str, value: &str, collection: &str) -> Result<()> {
    if !value.is_empty() && resource::id_in(value, collection).is_none() {
        return Err(TicketsError::invalid(
            field,
            format!("{field} must be {collection}/{{id}}"),
        ));
    }
    Ok(())
}

/// Checks the items: at most 500, each naming a ticket once, notes within
/// 1,000 characters (empty notes are filled in before submission).
pub fn check_items(prefix: &str, items: &[HandoverItem]) -> Result<()> {
    if items.len() > ITEM_LIMIT {
        return Err(TicketsError::invalid(
            &format!("{prefix}.items"),
            format!("{prefix}.items holds more than {ITEM_LIMIT} items"),
        ));
    }
    let mut seen = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = format!("{prefix}.items[{index}].ticket");
        let id = super::ticket::id_of(&item.ticket).ok_or_else(|| {
            TicketsError::invalid(&field, format!("{field} must be tickets/{{id}}"))
        })?;
        if seen.contains(&id) {
            return Err(TicketsError::invalid(
                &field,
                format!("{field} names {} twice", item.ticket),
            ));
        }
        seen.push(id);
        check_length(&format!("{prefix}.items[{index}].note"), &item.note, 1_000)?;
    }
    Ok(())
}

/// Checks the fields callers write.
pub fn check(handover: &Handover, prefix: &str) -> Result<()> {
    let field = |name: &str| format!("{prefix}.{name}");
    check_reference(&field("from_user"), &handover.from_user, "users")?;
    check_reference(&field("from_team"), &handover.from_team, "teams")?;
    check_reference(&field("to_user"), &handover.to_user, "users")?;
    check_reference(&field("to_team"), &handover.to_team, "teams")?;
    check_length(&field("from_shift"), &handover.from_shift, 100)?;
    check_length(&field("to_shift"), &handover.to_shift, 100)?;
    check_length(&field("note"), &handover.note, 4_000)?;
    check_items(prefix, &handover.items)
}

/// Keeps only what callers write on create, with the caller as the default
/// outgoing user; the new handover is a DRAFT.
pub fn prepare_new(handover: &mut Handover, creator: &str) {
    let items = std::mem::take(&mut handover.items)
        .into_iter()
        .map(|item| HandoverItem {
            snapshot: None,
            ..item
        })
        .collect();
    let keep = Handover {
        from_user: std::mem::take(&mut handover.from_user),
        from_team: std::mem::take(&mut handover.from_team),
        from_shift: std::mem::take(&mut handover.from_shift),
        to_user: std::mem::take(&mut handover.to_user),
        to_team: std::mem::take(&mut handover.to_team),
        to_shift: std::mem::take(&mut handover.to_shift),
        note: std::mem::take(&mut handover.note),
        items,
        state: HandoverState::Draft as i32,
        ..Default::default()
    };
    *handover = keep;
    if handover.from_user.is_empty() {
        handover.from_user = creator.to_owned();
    }
}

/// Adds an item with an empty note for every ticket of `open` not yet
/// among the items (`include_open_tickets`).
pub fn add_open_tickets(handover: &mut Handover, open: &[Ticket]) {
    for ticket in open {
        if !handover.items.iter().any(|item| item.ticket == ticket.name) {
            handover.items.push(HandoverItem {
                ticket: ticket.name.clone(),
                ..Default::default()
            });
        }
    }
}

/// FAILED_PRECONDITION (`ILLEGAL_TRANSITION`) unless `handover` is in
/// `state`; `what` names the method.
pub fn ensure_state(handover: &Handover, state: HandoverState, what: &str) -> Result<()> {
    let current = state_of(handover);
    if current == state {
        Ok(())
    } else {
        Err(TicketsError::illegal_transition(format!(
            "{what} needs a {} handover; {} is {}",
            state.as_str_name().trim_start_matches("HANDOVER_STATE_"),
            handover.name,
            current.as_str_name().trim_start_matches("HANDOVER_STATE_")
        )))
    }
}

/// Copies the `paths` of `input` onto a DRAFT `target`.
pub fn apply_mask(target: &mut Handover, input: &Handover, paths: &[String]) -> Result<()> {
    if paths.is_empty() {
        return Err(TicketsError::invalid(
            "update_mask",
            "update_mask must list the paths to change",
        ));
    }
    for path in paths {
        match path.as_str() {
            "to_user" => target.to_user = input.to_user.clone(),
            "to_team" => target.to_team = input.to_team.clone(),
            "to_shift" => target.to_shift = input.to_shift.clone(),
            "note" => target.note = input.note.clone(),
            "items" => {
                target.items = input
                    .items
                    .iter()
                    .map(|item| HandoverItem {
                        snapshot: None,
                        ..item.clone()
                    })
                    .collect();
            }
            other => {
                return Err(TicketsError::invalid(
                    "update_mask",
                    format!(
                        "update_mask names {other:?}, which UpdateHandover cannot change; mutable: {}",
                        MUTABLE.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// What submission needs: a receiving user or team, and every item's note
/// filled in (what the next shift must know or do).
pub fn check_submittable(handover: &Handover) -> Result<()> {
    if handover.to_user.is_empty() && handover.to_team.is_empty() {
        return Err(TicketsError::invalid(
            "handover.to_user",
            "a handover goes to a user or a team: set to_user or to_team first",
        ));
    }
    for (index, item) in handover.items.iter().enumerate() {
        check_required_text(&format!("handover.items[{index}].note"), &item.note, 1_000)?;
    }
    Ok(())
}

/// The ticket as it stands, for the item's snapshot.
pub fn snapshot(ticket: &Ticket) -> HandoverTicketSnapshot {
    HandoverTicketSnapshot {
        ticket_number: ticket.ticket_number.clone(),
        subject: ticket.subject.clone(),
        state: ticket.state,
        priority: ticket.priority,
        assignee: ticket.assignee.clone(),
        due_time: ticket.due_time,
    }
}

/// Who is acknowledging, as far as the rule needs to know.
#[derive(Debug, Clone, Default)]
pub struct Receiver<'a> {
    /// The caller's user name (`users/{id}`); none for a key.
    pub user: Option<&'a str>,
    /// The teams the caller is a member of.
    pub teams: &'a [String],
    /// The supervisor of `to_team` (`users/{id}`), if known.
    pub team_supervisor: &'a str,
}

/// Only `to_user`, or a member or the supervisor of `to_team`, may
/// acknowledge (PERMISSION_DENIED otherwise).
pub fn ensure_receiver(handover: &Handover, receiver: &Receiver<'_>) -> Result<()> {
    let Some(user) = receiver.user else {
        return Err(TicketsError::PermissionDenied(
            "a handover is acknowledged by a person of the next shift, not by a key".into(),
        ));
    };
    let named = !handover.to_user.is_empty() && handover.to_user == user;
    let of_team = !handover.to_team.is_empty()
        && (receiver.teams.contains(&handover.to_team) || receiver.team_supervisor == user);
    if named || of_team {
        Ok(())
    } else {
        Err(TicketsError::PermissionDenied(format!(
            "{} is handed to {}; only they may acknowledge it",
            handover.name,
            [handover.to_user.as_str(), handover.to_team.as_str()]
                .iter()
                .filter(|name| !name.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" or ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: Uuid, note: &str) -> HandoverItem {
        HandoverItem {
            ticket: format!("tickets/{id}"),
            note: note.into(),
            ..Default::default()
        }
    }

    #[test]
    fn items_are_bounded_unique_and_well_formed() {
        let id = Uuid::now_v7();
        let one = Handover {
            items: vec![item(id, "顾客18:00前回电确认上门时间")],
            ..Default::default()
        };
        assert!(check(&one, "handover").is_ok());
        let twice = Handover {
            items: vec![item(id, "a"), item(id, "b")],
            ..Default::default()
        };
        assert!(format!("{:?}", check(&twice, "handover").err()).contains("items[1].ticket"));
        let many: Vec<HandoverItem> = (0..501).map(|_| item(Uuid::now_v7(), "")).collect();
        let too_many = Handover {
            items: many,
            ..Default::default()
        };
        assert!(check(&too_many, "handover").is_err());
        let bad = Handover {
            to_user: "bob".into(),
            ..Default::default()
        };
        assert!(format!("{:?}", check(&bad, "handover").err()).contains("handover.to_user"));
    }

    #[test]
    fn a_new_handover_is_a_draft_from_the_creator() {
        let mut new = Handover {
            state: HandoverState::Acknowledged as i32,
            acknowledge_note: "x".into(),
            items: vec![HandoverItem {
                snapshot: Some(HandoverTicketSnapshot::default()),
                ..item(Uuid::now_v7(), "n")
            }],
            ..Default::default()
        };
        prepare_new(&mut new, "users/a");
        assert_eq!(new.state, HandoverState::Draft as i32);
        assert_eq!(new.from_user, "users/a");
        assert!(new.acknowledge_note.is_empty());
        assert!(new.items[0].snapshot.is_none());
    }

    #[test]
    fn open_tickets_are_added_once() {
        let id = Uuid::now_v7();
        let mut handover = Handover {
            items: vec![item(id, "given")],
            ..Default::default()
        };
        let tickets = [
            Ticket {
                name: format!("tickets/{id}"),
                ..Default::default()
            },
            Ticket {
                name: format!("tickets/{}", Uuid::now_v7()),
                ..Default::default()
            },
        ];
        add_open_tickets(&mut handover, &tickets);
        assert_eq!(handover.items.len(), 2);
        assert_eq!(handover.items[0].note, "given");
        assert!(handover.items[1].note.is_empty());
    }

    #[test]
    fn submission_needs_a_receiver_and_filled_notes() {
        let mut handover = Handover {
            items: vec![item(Uuid::now_v7(), "")],
            ..Default::default()
        };
        assert!(format!("{:?}", check_submittable(&handover).err()).contains("to_user"));
        handover.to_team = "teams/t".into();
        assert!(format!("{:?}", check_submittable(&handover).err()).contains("items[0].note"));
        handover.items[0].note = "回电".into();
        assert!(check_submittable(&handover).is_ok());
    }

    #[test]
    fn states_move_forward_only() {
        let draft = Handover {
            state: HandoverState::Draft as i32,
            ..Default::default()
        };
        assert!(ensure_state(&draft, HandoverState::Draft, "SubmitHandover").is_ok());
        let error = ensure_state(&draft, HandoverState::Submitted, "AcknowledgeHandover").err();
        assert!(format!("{error:?}").contains("ILLEGAL_TRANSITION"));
    }

    #[test]
    fn only_the_receiver_acknowledges() {
        let handover = Handover {
            to_user: "users/b".into(),
            to_team: "teams/night".into(),
            ..Default::default()
        };
        let teams = vec!["teams/night".to_owned()];
        let by = |user: Option<&'static str>, teams: &'static [String], supervisor| Receiver {
            user,
            teams,
            team_supervisor: supervisor,
        };
        assert!(ensure_receiver(&handover, &by(Some("users/b"), &[], "")).is_ok());
        assert!(ensure_receiver(&handover, &by(Some("users/c"), &[], "")).is_err());
        assert!(ensure_receiver(&handover, &by(Some("users/s"), &[], "users/s")).is_ok());
        assert!(ensure_receiver(&handover, &by(None, &[], "")).is_err());
        let member = Receiver {
            user: Some("users/c"),
            teams: &teams,
            team_supervisor: "",
        };
        assert!(ensure_receiver(&handover, &member).is_ok());
    }

    #[test]
    fn only_documented_paths_update() {
        let mut target = Handover::default();
        let input = Handover {
            to_user: "users/b".into(),
            from_user: "users/x".into(),
            ..Default::default()
        };
        apply_mask(&mut target, &input, &["to_user".into()]).expect("mutable");
        assert_eq!(target.to_user, "users/b");
        assert!(apply_mask(&mut target, &input, &["from_user".into()]).is_err());
    }
}
