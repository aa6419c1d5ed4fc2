//! The input rules of tickets that need no database: required fields,
//! text limits (in Unicode characters, naming the field), tags, attachments,
//! contact, flags and the customer promise.

use chrono::{DateTime, Duration, Utc};
use kefu_kit::events::{from_timestamp, to_timestamp};
use kefu_proto::v1::{
    Actor, Ticket, TicketAttachment, TicketContact, TicketCustomerPromise, TicketFlag,
    TicketFlagColor, TicketPromiseState,
};

use crate::error::{Result, TicketsError};

/// At most `max` characters in `value`, or INVALID_ARGUMENT naming `field`.
pub(crate) fn at_most(value: &str, max: usize, field: &str) -> Result<()> {
    if value.chars().count() > max {
        return Err(TicketsError::invalid(
            field,
            format!("{field} is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// A non-blank text of at most `max` characters.
pub(crate) fn required_text(value: &str, max: usize, field: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(TicketsError::invalid(field, format!("{field} is required")));
    }
    at_most(value, max, field)
}

/// A time that must lie after `now`, when given.
pub(crate) fn future(
    time: Option<&prost_types::Timestamp>,
    now: DateTime<Utc>,
    field: &str,
) -> Result<()> {
    if let Some(time) = time {
        let time = from_timestamp(time)
            .ok_or_else(|| TicketsError::invalid(field, format!("{field} is not a valid time")))?;
        if time <= now {
            return Err(TicketsError::invalid(
                field,
                format!("{field} must be in the future"),
            ));
        }
    }
    Ok(())
}

/// Tags trimmed, lower-cased and de-duplicated (first occurrence kept);
/// at most 50 of at most 64 characters.
pub(crate) fn normalise_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut normalised: Vec<String> = Vec::new();
    for (index, tag) in tags.iter().enumerate() {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() {
            continue;
        }
        at_most(&tag, 64, &format!("ticket.tags[{index}]"))?;
        if !normalised.contains(&tag) {
            normalised.push(tag);
        }
    }
    if normalised.len() > 50 {
        return Err(TicketsError::invalid(
            "ticket.tags",
            "a ticket has at most 50 tags",
        ));
    }
    Ok(normalised)
}

/// Attachments by reference: at most `max`, each with a URI and a file name.
pub(crate) fn check_attachments(
    attachments: &[TicketAttachment],
    max: usize,
    field: &str,
) -> Result<()> {
    if attachments.len() > max {
        return Err(TicketsError::invalid(
            field,
            format!("{field} holds at most {max} attachments"),
        ));
    }
    for (index, attachment) in attachments.iter().enumerate() {
        let path = format!("{field}[{index}]");
        required_text(&attachment.uri, 2048, &format!("{path}.uri"))?;
        required_text(&attachment.file_name, 255, &format!("{path}.file_name"))?;
        at_most(
            &attachment.content_type,
            127,
            &format!("{path}.content_type"),
        )?;
        if attachment.size_bytes < 0 {
            return Err(TicketsError::invalid(
                &format!("{path}.size_bytes"),
                "size_bytes must not be negative",
            ));
        }
        let sha = &attachment.sha256;
        if !sha.is_empty()
            && (sha.len() != 64
                || !sha
                    .bytes()
                    .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)))
        {
            return Err(TicketsError::invalid(
                &format!("{path}.sha256"),
                "sha256 must be 64 lower-case hex digits",
            ));
        }
    }
    Ok(())
}

/// The contact's limits.
pub(crate) fn check_contact(contact: Option<&TicketContact>) -> Result<()> {
    if let Some(contact) = contact {
        at_most(&contact.display_name, 100, "ticket.contact.display_name")?;
        at_most(&contact.phone, 32, "ticket.contact.phone")?;
        at_most(&contact.email, 254, "ticket.contact.email")?;
        at_most(&contact.im_account, 128, "ticket.contact.im_account")?;
    }
    Ok(())
}

/// A flag with its colour, content and handling ("all five or it is
/// rejected": the server stamps time and person); `field` names it.
pub(crate) fn check_flag(flag: &TicketFlag, field: &str) -> Result<()> {
    let incomplete = |part: &str| {
        TicketsError::invalid_because(
            &format!("{field}.{part}"),
            format!("a flag needs its colour, content and handling: {field}.{part} is missing"),
            "FLAG_INCOMPLETE",
        )
    };
    if TicketFlagColor::try_from(flag.color).unwrap_or(TicketFlagColor::Unspecified)
        == TicketFlagColor::Unspecified
    {
        return Err(incomplete("color"));
    }
    if flag.content.trim().is_empty() {
        return Err(incomplete("content"));
    }
    if flag.handling.trim().is_empty() {
        return Err(incomplete("handling"));
    }
    at_most(&flag.content, 500, &format!("{field}.content"))?;
    at_most(&flag.handling, 500, &format!("{field}.handling"))
}

/// `flag` stamped with its person and time.
pub(crate) fn stamped_flag(flag: &TicketFlag, actor: &Actor, now: DateTime<Utc>) -> TicketFlag {
    TicketFlag {
        color: flag.color,
        content: flag.content.clone(),
        handling: flag.handling.clone(),
        flag_time: Some(to_timestamp(now)),
        flagged_by: Some(actor.clone()),
    }
}

/// A promise to the customer checked and stamped: the deadline in the
/// future, the note's limit, the follow-up time defaulted to two hours
/// before the deadline (now when closer) and kept before it. None when the
/// promise is empty (it clears).
pub(crate) fn promise(
    promise: Option<&TicketCustomerPromise>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Option<TicketCustomerPromise>> {
    let Some(promise) = promise.filter(|promise| **promise != TicketCustomerPromise::default())
    else {
        return Ok(None);
    };
    let deadline = promise.deadline.as_ref().ok_or_else(|| {
        TicketsError::invalid(
            "ticket.customer_promise.deadline",
            "a promise needs its deadline",
        )
    })?;
    future(Some(deadline), now, "ticket.customer_promise.deadline")?;
    at_most(&promise.note, 500, "ticket.customer_promise.note")?;
    let deadline_time = from_timestamp(deadline).unwrap_or(now);
    let follow_up = match promise.follow_up_time.as_ref() {
        Some(time) => {
            let time = from_timestamp(time).ok_or_else(|| {
                TicketsError::invalid("ticket.customer_promise.follow_up_time", "not a valid time")
            })?;
            if time > deadline_time {
                return Err(TicketsError::invalid(
                    "ticket.customer_promise.follow_up_time",
                    "the follow-up must come before the deadline",
                ));
            }
            time
        }
        None => (deadline_time - Duration::hours(2)).max(now),
    };
    Ok(Some(TicketCustomerPromise {
        deadline: Some(*deadline),
        note: promise.note.clone(),
        follow_up_time: Some(to_timestamp(follow_up)),
        state: TicketPromiseState::Open as i32,
        promised_by: Some(actor.clone()),
        promise_time: Some(to_timestamp(now)),
    }))
}

/// The limits of the fields a caller writes (create and update alike).
pub(crate) fn check_writable(ticket: &Ticket) -> Result<()> {
    at_most(&ticket.subject, 200, "ticket.subject")?;
    at_most(&ticket.description, 32_000, "ticket.description")?;
    at_most(&ticket.external_id, 128, "ticket.external_id")?;
    check_contact(ticket.contact.as_ref())?;
    check_attachments(&ticket.attachments, 20, "ticket.attachments")?;
    if ticket.required_skills.len() > 20 {
        return Err(TicketsError::invalid(
            "ticket.required_skills",
            "a ticket needs at most 20 skills",
        ));
    }
    if ticket.custom_fields.len() > 100 {
        return Err(TicketsError::invalid_because(
            "ticket.custom_fields",
            "a ticket holds at most 100 custom fields",
            "CUSTOM_FIELD_INVALID",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_and_name_the_field() {
        assert!(at_most(&"漏".repeat(200), 200, "ticket.subject").is_ok());
        let error = at_most(&"漏".repeat(201), 200, "ticket.subject").unwrap_err();
        assert!(
            matches!(error, TicketsError::Invalid(ref violation, None) if violation.field == "ticket.subject")
        );
    }

    #[test]
    fn tags_are_normalised() {
        let tags = normalise_tags(&[" VIP ".into(), "vip".into(), "".into(), "双11".into()])
            .expect("valid tags");
        assert_eq!(tags, ["vip", "双11"]);
        assert!(normalise_tags(&["x".repeat(65)]).is_err());
    }

    #[test]
    fn flags_need_all_their_parts() {
        let flag = TicketFlag {
            color: TicketFlagColor::Red as i32,
            content: "换37码".into(),
            handling: String::new(),
            ..TicketFlag::default()
        };
        let error = check_flag(&flag, "flag").unwrap_err();
        assert!(
            matches!(error, TicketsError::Invalid(ref violation, Some("FLAG_INCOMPLETE")) if violation.field == "flag.handling")
        );
    }

    #[test]
    fn a_promise_follows_up_two_hours_before() {
        let now = DateTime::from_timestamp(1_000_000, 0).expect("time");
        let deadline = to_timestamp(now + Duration::days(3));
        let promise = promise(
            Some(&TicketCustomerPromise {
                deadline: Some(deadline),
                ..TicketCustomerPromise::default()
            }),
            &Actor::default(),
            now,
        )
        .expect("valid")
        .expect("set");
        assert_eq!(
            promise.follow_up_time,
            Some(to_timestamp(now + Duration::days(3) - Duration::hours(2)))
        );
        let past = TicketCustomerPromise {
            deadline: Some(to_timestamp(now - Duration::hours(1))),
            ..TicketCustomerPromise::default()
        };
        assert!(super::promise(Some(&past), &Actor::default(), now).is_err());
    }
}
