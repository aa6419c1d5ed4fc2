//! The follow-up ticket of a negative survey answer, learned back: the
//! tickets service opens it on SurveyFollowUpRequested and names the survey
//! response as the ticket's origin, so its TicketCreated fills
//! `SurveyResponse.follow_up_ticket` here. Idempotent: the event is claimed
//! once, and a response that already names its ticket keeps it.

use std::sync::Arc;

use async_trait::async_trait;
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    context::TenantId,
    db::begin_for_event,
    events::payload_as,
    inbox,
    service::{ServiceContext, ServiceSubscription},
};
use kefu_proto::v1::{EventEnvelope, TicketCreated};
use prost::Name;
use sea_orm::DatabaseConnection;

use crate::{
    error::{CallbacksError, Result},
    store::responses,
};

/// The consumer group.
const GROUP: &str = "callbacks.follow_ups";

/// The subscription learning follow-up tickets from the tickets service.
pub fn subscription(context: &ServiceContext) -> ServiceSubscription {
    ServiceSubscription {
        group: GROUP.to_owned(),
        producers: vec!["tickets".to_owned()],
        handler: Arc::new(FollowUpTickets {
            db: context.db.clone(),
            clock: context.clock.clone(),
        }),
    }
}

/// Fills the follow-up ticket on TicketCreated.
struct FollowUpTickets {
    db: DatabaseConnection,
    clock: SharedClock,
}

#[async_trait]
impl EventHandler for FollowUpTickets {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}

impl FollowUpTickets {
    async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        if event.r#type != TicketCreated::full_name() {
            return Ok(());
        }
        let Some(created) = payload_as::<TicketCreated>(event) else {
            return Ok(());
        };
        if created.source_survey_response.is_empty() {
            return Ok(());
        }
        let tenant = event.tenant_id.parse::<TenantId>().map_err(|error| {
            CallbacksError::Internal(format!("event {} tenant: {error}", event.id))
        })?;
        let now = self.clock.now();
        let txn = begin_for_event(&self.db, event).await?;
        if !inbox::claim(&txn, GROUP, event, now).await? {
            return Ok(());
        }
        responses::set_follow_up_ticket(
            &txn,
            tenant,
            &created.source_survey_response,
            &created.ticket,
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }
}
