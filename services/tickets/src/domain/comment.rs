//! Comments on a ticket: public replies (sent to or received from the
//! customer) and internal notes (内部备注), with their attachments by
//! reference, and what a comment does to its ticket (an agent's first
//! public reply opens a NEW ticket and stops the first-response clock; a
//! customer's public comment resumes a PENDING ticket).

use kefu_proto::v1::{
    ActorKind, Channel, TicketAttachment, TicketComment, TicketCommentVisibility, TicketState,
};
use uuid::Uuid;

use crate::error::{Result, TicketsError};

/// The longest body of a comment or incident response, in characters.
pub const BODY_LIMIT: usize = 32_000;
/// The most attachments on one comment or response.
pub const ATTACHMENT_LIMIT: usize = 20;

/// `tickets/{ticket}/comments/{comment}`.
pub fn comment_name(ticket: Uuid, comment: Uuid) -> String {
    format!("tickets/{ticket}/comments/{comment}")
}

/// The ticket and comment ids in `tickets/{ticket}/comments/{comment}`.
pub fn ids_of(name: &str) -> Option<(Uuid, Uuid)> {
    let rest = name.strip_prefix("tickets/")?;
    let (ticket, comment) = rest.split_once("/comments/")?;
    Some((
        Uuid::parse_str(ticket).ok()?,
        Uuid::parse_str(comment).ok()?,
    ))
}

/// INVALID_ARGUMENT naming `field` when `text` is longer than `limit`
/// characters.
pub fn check_length(field: &str, text: &str, limit: usize) -> Result<()> {
    if text.chars().count() > limit {
        return Err(TicketsError::invalid(
            field,
            format!("{field} is longer than {limit} characters"),
        ));
    }
    Ok(())
}

/// A required text: not blank, at most `limit` characters.
pub fn check_required_text(field: &str, text: &str, limit: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(TicketsError::invalid(field, format!("{field} is required")));
    }
    check_length(field, text, limit)
}

/// A body of a reply or note: required, at most 32,000 characters.
pub fn check_body(field: &str, body: &str) -> Result<()> {
    check_required_text(field, body, BODY_LIMIT)
}

/// Attachments by reference: at most 20, each with a URI and a file name,
/// a sane size and, when given, a SHA-256 in lowercase hex.
pub fn check_attachments(field: &str, attachments: &[TicketAttachment]) -> Result<()> {
    if attachments.len() > ATTACHMENT_LIMIT {
        return Err(TicketsError::invalid(
            field,
            format!("{field} holds more than {ATTACHMENT_LIMIT} attachments"),
        ));
    }
    for (index, attachment) in attachments.iter().enumerate() {
        let at = |part: &str| format!("{field}[{index}].{part}");
        check_required_text(&at("uri"), &attachment.uri, 2_048)?;
        check_required_text(&at("file_name"), &attachment.file_name, 255)?;
        check_length(&at("content_type"), &attachment.content_type, 127)?;
        if attachment.size_bytes < 0 {
            return Err(TicketsError::invalid(
                &at("size_bytes"),
                "size_bytes must not be negative",
            ));
        }
        let sha = &attachment.sha256;
        let hex = sha.len() == 64
            && sha
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
        if !sha.is_empty() && !hex {
            return Err(TicketsError::invalid(
                &at("sha256"),
                "sha256 must be 64 lowercase hex digits",
            ));
        }
    }
    Ok(())
}

/// Who writes a comment: the caller, or the ticket's customer whose message
/// the caller relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// An agent (a user or a partner system acting for the tenant).
    Agent,
    /// The customer, relayed.
    Customer,
}

/// Checks a new comment and reads who it is from; clears what callers may
/// not write and gives a public reply the ticket's channel by default.
pub fn prepare(comment: &mut TicketComment, ticket_channel: i32) -> Result<Author> {
    let visibility = TicketCommentVisibility::try_from(comment.visibility)
        .unwrap_or(TicketCommentVisibility::Unspecified);
    if visibility == TicketCommentVisibility::Unspecified {
        return Err(TicketsError::invalid(
            "comment.visibility",
            "comment.visibility is required: PUBLIC or INTERNAL",
        ));
    }
    check_body("comment.body", &comment.body)?;
    check_attachments("comment.attachments", &comment.attachments)?;
    let author = match comment.author.as_ref().map(|author| author.kind) {
        Some(kind) if kind == ActorKind::Customer as i32 => Author::Customer,
        _ => Author::Agent,
    };
    if author == Author::Customer && visibility == TicketCommentVisibility::Internal {
        return Err(TicketsError::invalid(
            "comment.author.kind",
            "a customer's message is public; internal notes are written by the tenant's users",
        ));
    }
    if visibility == TicketCommentVisibility::Internal {
        comment.channel = Channel::Unspecified as i32;
    } else if comment.channel == Channel::Unspecified as i32 {
        comment.channel = ticket_channel;
    }
    comment.name.clear();
    comment.incident.clear();
    comment.create_time = None;
    Ok(author)
}

/// What a new comment does to its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effect {
    /// The ticket's first public reply by an agent: `first_response_time`
    /// is set and the first-response clock stops.
    pub first_response: bool,
    /// The ticket moves to this state (NEW → OPEN on an agent's public
    /// reply, PENDING → OPEN on the customer's public comment).
    pub to_state: Option<TicketState>,
}

/// What a comment by `author` with `visibility` does to a ticket in
/// `state` that was `already_answered` (has a first response) or not;
/// FAILED_PRECONDITION (`ILLEGAL_TRANSITION`) on a CLOSED ticket.
pub fn effect(
    state: TicketState,
    already_answered: bool,
    visibility: TicketCommentVisibility,
    author: Author,
) -> Result<Effect> {
    if state == TicketState::Closed {
        return Err(TicketsError::illegal_transition(
            "the ticket is CLOSED: no more comments; reopen it or create a follow-up ticket",
        ));
    }
    if visibility != TicketCommentVisibility::Public {
        return Ok(Effect::default());
    }
    Ok(match author {
        Author::Agent => Effect {
            first_response: !already_answered,
            to_state: (state == TicketState::New).then_some(TicketState::Open),
        },
        Author::Customer => Effect {
            first_response: false,
            to_state: (state == TicketState::Pending).then_some(TicketState::Open),
        },
    })
}

/// What an erased customer's comment reads in place of its text.
pub const ERASED: &str = "[erased]";

/// Replaces the text of `comment` (body, attachments' names, locations and
/// checksums) by `[erased]`; false when it already read so.
pub fn anonymise(comment: &mut TicketComment) -> bool {
    let erased = comment.body == ERASED
        && comment
            .attachments
            .iter()
            .all(|attachment| attachment.uri == ERASED && attachment.file_name == ERASED);
    if erased {
        return false;
    }
    comment.body = ERASED.to_owned();
    for attachment in &mut comment.attachments {
        attachment.uri = ERASED.to_owned();
        attachment.file_name = ERASED.to_owned();
        attachment.sha256.clear();
    }
    true
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::Actor;

    use super::*;

    fn comment(visibility: TicketCommentVisibility, body: &str) -> TicketComment {
        TicketComment {
            visibility: visibility as i32,
            body: body.into(),
            ..Default::default()
        }
    }

    #[test]
    fn erasure_keeps_who_and_when_but_not_the_text() {
        let mut comment = TicketComment {
            body: "我家住3号楼1单元".into(),
            channel: Channel::Phone as i32,
            attachments: vec![TicketAttachment {
                uri: "s3://kefu/id-card.jpg".into(),
                file_name: "身份证.jpg".into(),
                sha256: "a".repeat(64),
                size_bytes: 10,
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(anonymise(&mut comment));
        assert_eq!(comment.body, ERASED);
        assert_eq!(comment.attachments[0].file_name, ERASED);
        assert!(comment.attachments[0].sha256.is_empty());
        assert_eq!(comment.attachments[0].size_bytes, 10);
        assert_eq!(comment.channel, Channel::Phone as i32);
        assert!(!anonymise(&mut comment), "already erased");
    }

    #[test]
    fn names_round_trip() {
        let (ticket, id) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(ids_of(&comment_name(ticket, id)), Some((ticket, id)));
        assert_eq!(ids_of("tickets/x/comments/y"), None);
        assert_eq!(ids_of(&format!("tickets/{ticket}/auditEntries/{id}")), None);
    }

    #[test]
    fn a_comment_needs_visibility_and_a_body_within_limits() {
        let channel = Channel::Phone as i32;
        let mut missing = comment(TicketCommentVisibility::Unspecified, "hi");
        assert!(prepare(&mut missing, channel).is_err());
        let mut blank = comment(TicketCommentVisibility::Public, "  ");
        assert!(prepare(&mut blank, channel).is_err());
        let mut long = comment(
            TicketCommentVisibility::Public,
            &"长".repeat(BODY_LIMIT + 1),
        );
        assert!(prepare(&mut long, channel).is_err());
        let mut exact = comment(TicketCommentVisibility::Public, &"长".repeat(BODY_LIMIT));
        assert_eq!(prepare(&mut exact, channel).ok(), Some(Author::Agent));
        assert_eq!(
            exact.channel, channel,
            "a reply goes out by the ticket's channel"
        );
    }

    #[test]
    fn notes_have_no_channel_and_customers_write_no_notes() {
        let mut note = comment(TicketCommentVisibility::Internal, "check stock");
        note.channel = Channel::Web as i32;
        assert_eq!(prepare(&mut note, 1).ok(), Some(Author::Agent));
        assert_eq!(note.channel, Channel::Unspecified as i32);
        let mut relayed = comment(TicketCommentVisibility::Internal, "x");
        relayed.author = Some(Actor {
            kind: ActorKind::Customer as i32,
            ..Default::default()
        });
        assert!(prepare(&mut relayed, 1).is_err());
        relayed.visibility = TicketCommentVisibility::Public as i32;
        assert_eq!(prepare(&mut relayed, 1).ok(), Some(Author::Customer));
    }

    #[test]
    fn attachments_are_checked() {
        let good = TicketAttachment {
            uri: "s3://bucket/a.jpg".into(),
            file_name: "破损照片1.jpg".into(),
            sha256: "a".repeat(64),
            ..Default::default()
        };
        assert!(check_attachments("a", std::slice::from_ref(&good)).is_ok());
        assert!(check_attachments("a", &vec![good.clone(); 21]).is_err());
        let mut bad_hash = good.clone();
        bad_hash.sha256 = "A".repeat(64);
        assert!(check_attachments("a", &[bad_hash]).is_err());
        let mut no_uri = good;
        no_uri.uri.clear();
        let error = check_attachments("comment.attachments", &[no_uri]).err();
        assert!(format!("{error:?}").contains("comment.attachments[0].uri"));
    }

    #[test]
    fn an_agents_first_public_reply_opens_a_new_ticket() {
        let public = TicketCommentVisibility::Public;
        let first = effect(TicketState::New, false, public, Author::Agent).ok();
        assert_eq!(
            first,
            Some(Effect {
                first_response: true,
                to_state: Some(TicketState::Open)
            })
        );
        let later = effect(TicketState::Open, true, public, Author::Agent).ok();
        assert_eq!(later, Some(Effect::default()));
        let pending = effect(TicketState::Pending, false, public, Author::Agent).ok();
        assert_eq!(
            pending,
            Some(Effect {
                first_response: true,
                to_state: None
            })
        );
    }

    #[test]
    fn notes_change_nothing_and_closed_tickets_take_no_comment() {
        let note = TicketCommentVisibility::Internal;
        assert_eq!(
            effect(TicketState::New, false, note, Author::Agent).ok(),
            Some(Effect::default())
        );
        assert!(effect(TicketState::Closed, true, note, Author::Agent).is_err());
        assert!(
            effect(
                TicketState::Closed,
                true,
                TicketCommentVisibility::Public,
                Author::Customer
            )
            .is_err()
        );
    }

    #[test]
    fn a_customers_comment_resumes_a_pending_ticket_only() {
        let public = TicketCommentVisibility::Public;
        assert_eq!(
            effect(TicketState::Pending, false, public, Author::Customer).ok(),
            Some(Effect {
                first_response: false,
                to_state: Some(TicketState::Open)
            })
        );
        assert_eq!(
            effect(TicketState::OnHold, false, public, Author::Customer).ok(),
            Some(Effect::default())
        );
        assert_eq!(
            effect(TicketState::New, false, public, Author::Customer).ok(),
            Some(Effect::default()),
            "the customer's own message is not a first response"
        );
    }
}
