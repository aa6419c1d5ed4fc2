//! The follow-up ticket of a dissatisfied callback (回访不满意): on
//! SurveyFollowUpRequested (callbacks service) a ticket is opened for the
//! customer, linked to the original ticket (`parent_ticket`), with the
//! survey response and callback task as its origin, so its TicketCreated
//! tells the callbacks service which ticket follows the response up.
//!
//! At most one ticket per survey response: the event is claimed once, and
//! the response name is remembered as the ticket's idempotency key in the
//! same transaction, so a second request for the same response (another
//! event id) finds the first ticket instead of opening another.

use std::sync::Arc;

use async_trait::async_trait;
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    context::TenantId,
    db::begin_for_event,
    events::payload_as,
    idempotency, inbox,
    service::{ServiceContext, ServiceSubscription},
};
use kefu_proto::v1::{
    Actor, ActorKind, Channel, EventEnvelope, LocalizedText, Priority, SurveyFollowUpRequested,
    Ticket, TicketBaseKind, TicketKind,
};
use prost::Name;
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use crate::{
    api::tickets::insert_ticket,
    domain::{taxonomy::KINDS, ticket::id_of},
    error::{Result, TicketsError},
    store::{directory, taxonomy, tickets},
};

/// The consumer group.
const GROUP: &str = "tickets.follow_ups";

/// The method the response's idempotency key is remembered under.
const METHOD: &str = "SurveyFollowUp";

/// The subscription opening follow-up tickets.
pub fn subscription(context: &ServiceContext) -> ServiceSubscription {
    ServiceSubscription {
        group: GROUP.to_owned(),
        producers: vec!["callbacks".to_owned()],
        handler: Arc::new(FollowUps {
            db: context.db.clone(),
            clock: context.clock.clone(),
        }),
    }
}

/// Opens follow-up tickets on SurveyFollowUpRequested.
struct FollowUps {
    db: DatabaseConnection,
    clock: SharedClock,
}

#[async_trait]
impl EventHandler for FollowUps {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}

impl FollowUps {
    async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if event.r#type != SurveyFollowUpRequested::full_name() {
            return Ok(());
        }
        let Some(requested) = payload_as::<SurveyFollowUpRequested>(event) else {
            return Ok(());
        };
        let tenant = event.tenant_id.parse::<TenantId>().map_err(|error| {
            TicketsError::Internal(format!("event {} tenant: {error}", event.id))
        })?;
        let now = self.clock.now();
        let txn = begin_for_event(&self.db, event).await?;
        if !inbox::claim(&txn, GROUP, event, now).await? {
            return Ok(());
        }
        match open(&txn, tenant, &requested, now).await {
            Ok(()) => {
                txn.commit().await?;
                Ok(())
            }
            // A request the tickets service can never honour (the customer
            // was erased, the tenant has no kind to open): recorded as
            // processed, so it is not retried forever.
            Err(TicketsError::Invalid(violation, _)) => {
                txn.rollback().await?;
                tracing::warn!(
                    survey_response = %requested.survey_response,
                    field = %violation.field,
                    problem = %violation.description,
                    "follow-up ticket not opened"
                );
                let txn = begin_for_event(&self.db, event).await?;
                inbox::claim(&txn, GROUP, event, now).await?;
                txn.commit().await?;
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

/// The text of `text` in `locale`, else `zh-CN`, else any.
fn text_in(text: Option<&LocalizedText>, locale: &str) -> String {
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

/// The kind to open: the one the survey names (by key), else the tenant's
/// first active complaint kind (the template's complaint kind). The name
/// (`ticketKinds/{key}`) and the kind, when the tenant has it.
async fn kind_for(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    requested: &SurveyFollowUpRequested,
) -> Result<(String, Option<TicketKind>)> {
    if !requested.ticket_kind.is_empty() {
        let key = requested
            .ticket_kind
            .strip_prefix(&format!("{KINDS}/"))
            .unwrap_or(&requested.ticket_kind);
        let kind = taxonomy::get_kind(txn, tenant, key, false)
            .await?
            .map(|stored| stored.resource);
        return Ok((format!("{KINDS}/{key}"), kind));
    }
    let kinds = taxonomy::list_kinds(txn, tenant).await?;
    let mut complaint_kinds: Vec<_> = kinds
        .into_iter()
        .map(|stored| stored.resource)
        .filter(|kind| kind.active && kind.base_kind == TicketBaseKind::Complaint as i32)
        .collect();
    complaint_kinds.sort_by_key(|kind| (kind.display_order, kind.key.clone()));
    complaint_kinds
        .into_iter()
        .next()
        .map(|kind| (kind.name.clone(), Some(kind)))
        .ok_or_else(|| {
            TicketsError::invalid(
                "ticket_kind",
                "the tenant has no active complaint kind to open a follow-up with",
            )
        })
}

/// The team the follow-up goes to: the callback agent's team, unless the
/// kind routes its tickets to a team of its own (or the team is unknown
/// here), when routing decides.
async fn team_for(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    requested: &SurveyFollowUpRequested,
    kind: Option<&TicketKind>,
) -> Result<String> {
    let routed_elsewhere = kind
        .and_then(|kind| kind.routing.as_ref())
        .is_some_and(|routing| !routing.front_line_team.is_empty());
    if routed_elsewhere || requested.team.is_empty() {
        return Ok(String::new());
    }
    Ok(match directory::team(txn, tenant, &requested.team).await? {
        Some(_) => requested.team.clone(),
        None => String::new(),
    })
}

/// Opens the follow-up ticket of `requested`, unless its response already
/// has one.
async fn open(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    requested: &SurveyFollowUpRequested,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if requested.survey_response.is_empty() || requested.customer.is_empty() {
        return Ok(());
    }
    if idempotency::recall(txn, tenant.0, &requested.survey_response)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let locale = directory::tenant(txn, tenant)
        .await?
        .map(|tenant| tenant.locale)
        .unwrap_or_default();
    // A parent that no longer exists (deleted with an erased customer)
    // leaves the follow-up unlinked rather than refused.
    let parent = match id_of(&requested.related_ticket) {
        Some(id) if tickets::find(txn, tenant, id).await?.is_some() => {
            requested.related_ticket.clone()
        }
        _ => String::new(),
    };
    let channel = if requested.channel == Channel::Sms as i32 {
        Channel::Sms
    } else {
        Channel::Phone
    };
    let priority = Priority::try_from(requested.priority)
        .ok()
        .filter(|priority| *priority != Priority::Unspecified)
        .unwrap_or(Priority::Normal);
    let subject: String = text_in(requested.subject.as_ref(), &locale)
        .chars()
        .take(200)
        .collect();
    let (kind, kind_resource) = kind_for(txn, tenant, requested).await?;
    let team = team_for(txn, tenant, requested, kind_resource.as_ref()).await?;
    let ticket = Ticket {
        kind,
        team,
        channel: channel as i32,
        customer: requested.customer.clone(),
        subject: if subject.is_empty() {
            "回访不满意 / Callback dissatisfaction".to_owned()
        } else {
            subject
        },
        description: text_in(requested.description.as_ref(), &locale),
        priority: priority as i32,
        parent_ticket: parent,
        source_callback_task: requested.callback_task.clone(),
        source_survey_response: requested.survey_response.clone(),
        ..Ticket::default()
    };
    let actor = Actor {
        kind: ActorKind::System as i32,
        ..Actor::default()
    };
    let ticket = insert_ticket(txn, tenant, ticket, &actor, now, None).await?;
    idempotency::remember(
        txn,
        tenant.0,
        &requested.survey_response,
        METHOD,
        &ticket.name,
        now,
    )
    .await?;
    Ok(())
}
