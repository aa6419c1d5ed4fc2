//! The activity timeline from events: this service's own (created, owner
//! changes, merges, tier changes) and the tickets and callbacks services'
//! (tickets, complaints, visits, callbacks, survey answers). An event about
//! a customer the tenant does not have, or an erased one, adds nothing; one
//! about a merged customer goes to the customer it was merged into. A
//! callback in which the owner reached the customer also records the
//! owner's first contact.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kefu_kit::{
    bus::{EventHandler, HandlerError},
    clock::SharedClock,
    context::TenantId,
    db::begin_for_event,
    events::{from_timestamp, payload_as},
    inbox,
    outbox::OutboxSignal,
    service::ServiceContext,
};
use kefu_proto::v1::{
    Actor, ActorKind, CallbackOutcome, CallbackTaskCompleted, CallbackTaskState, ComplaintClosed,
    ComplaintRegistered, ComplaintStage, CustomerActivityKind, CustomerCreated,
    CustomerMergeUndone, CustomerOwnerAssigned, CustomerState, CustomerTierChanged,
    CustomersMerged, DispatchCompleted, EventEnvelope, SatisfactionLevel, SurveyResponseRecorded,
    TicketCreated, TicketResolved,
};
use sea_orm::{DatabaseConnection, DatabaseTransaction};

use super::{occurred, tenant_of};
use crate::{
    api::{
        activities::{self, Entry},
        ownership::{Contact, record_contact},
    },
    domain::timeline::Happening,
    error::Result,
    store::{
        agents,
        customers::{self, Stored},
    },
};

/// How many `merged_into` links are followed to the surviving customer.
const MAX_MERGE_HOPS: usize = 10;

/// Writes the timeline.
pub struct Timeline {
    group: String,
    db: DatabaseConnection,
    outbox: OutboxSignal,
    clock: SharedClock,
}

/// What one event adds.
struct Fact {
    /// `customers/{customer}` it is about.
    customer: String,
    entry: Entry,
    /// A first contact it proves, when the customer's owner did it.
    contact: Option<(String, Contact)>,
}

fn user_actor(name: &str) -> Option<Actor> {
    (!name.is_empty()).then(|| Actor {
        kind: ActorKind::User as i32,
        name: name.to_owned(),
        display_name: String::new(),
    })
}

fn time_or(timestamp: Option<&prost_types::Timestamp>, fallback: DateTime<Utc>) -> DateTime<Utc> {
    timestamp.and_then(from_timestamp).unwrap_or(fallback)
}

fn suffix(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

/// The entries `event` adds (owner names not yet resolved).
fn facts(event: &EventEnvelope, at: DateTime<Utc>) -> Vec<Fact> {
    let fact = |customer: &str, entry: Entry| Fact {
        customer: customer.to_owned(),
        entry,
        contact: None,
    };
    if let Some(created) = payload_as::<CustomerCreated>(event) {
        if !created.customer_import.is_empty() {
            // An import writes its customers' CUSTOMER_CREATED entries in
            // the batch transaction that creates them (a million events
            // each with its own transaction was most of an import's cost),
            // so the event adds nothing here. Events of imports queued by a
            // version before that (an upgrade in the middle of an import)
            // leave those customers without the entry; nothing else lacks.
            return Vec::new();
        }
        return vec![fact(
            &created.customer,
            Entry {
                kind: CustomerActivityKind::CustomerCreated,
                happening: Happening::Created { imported: false },
                source: created.customer.clone(),
                channel: created.source_channel,
                actor: None,
                occur_time: at,
            },
        )];
    }
    if let Some(assigned) = payload_as::<CustomerOwnerAssigned>(event) {
        return vec![fact(
            &assigned.customer,
            Entry {
                kind: CustomerActivityKind::OwnershipChanged,
                happening: Happening::OwnerChanged {
                    previous: assigned.previous_owner,
                    new: assigned.new_owner,
                },
                source: assigned.ownership_change,
                channel: 0,
                actor: None,
                occur_time: at,
            },
        )];
    }
    if let Some(merged) = payload_as::<CustomersMerged>(event) {
        return vec![fact(
            &merged.survivor,
            Entry {
                kind: CustomerActivityKind::Merged,
                happening: Happening::Merged {
                    merged: merged.merged,
                },
                source: merged.customer_merge,
                channel: 0,
                actor: None,
                occur_time: at,
            },
        )];
    }
    if let Some(undone) = payload_as::<CustomerMergeUndone>(event) {
        return vec![fact(
            &undone.survivor,
            Entry {
                kind: CustomerActivityKind::MergeUndone,
                happening: Happening::MergeUndone {
                    merged: undone.merged,
                },
                source: undone.customer_merge,
                channel: 0,
                actor: None,
                occur_time: at,
            },
        )];
    }
    if let Some(changed) = payload_as::<CustomerTierChanged>(event) {
        return vec![fact(
            &changed.customer,
            Entry {
                kind: CustomerActivityKind::TierChanged,
                happening: Happening::TierChanged {
                    previous: suffix(&changed.previous_tier, "tiers/"),
                    new: suffix(&changed.new_tier, "tiers/"),
                },
                source: changed.new_tier,
                channel: 0,
                actor: None,
                occur_time: at,
            },
        )];
    }
    if let Some(created) = payload_as::<TicketCreated>(event) {
        let context = created.context.unwrap_or_default();
        return vec![fact(
            &context.customer,
            Entry {
                kind: CustomerActivityKind::TicketCreated,
                happening: Happening::TicketCreated {
                    number: context.ticket_number,
                    subject: created.subject,
                },
                source: created.ticket,
                channel: context.channel,
                actor: created.created_by,
                occur_time: at,
            },
        )];
    }
    if let Some(resolved) = payload_as::<TicketResolved>(event) {
        let context = resolved.context.unwrap_or_default();
        return vec![fact(
            &context.customer,
            Entry {
                kind: CustomerActivityKind::TicketResolved,
                happening: Happening::TicketResolved {
                    number: context.ticket_number,
                    subject: resolved.subject,
                },
                source: resolved.ticket,
                channel: context.channel,
                actor: resolved.resolved_by,
                occur_time: time_or(resolved.resolve_time.as_ref(), at),
            },
        )];
    }
    if let Some(registered) = payload_as::<ComplaintRegistered>(event) {
        return vec![fact(
            &registered.customer,
            Entry {
                kind: CustomerActivityKind::ComplaintRegistered,
                happening: Happening::ComplaintRegistered {
                    number: registered.number,
                    subject: registered.subject,
                },
                source: registered.complaint,
                channel: registered.channel,
                actor: registered.registered_by,
                occur_time: at,
            },
        )];
    }
    if let Some(closed) = payload_as::<ComplaintClosed>(event) {
        return vec![fact(
            &closed.customer,
            Entry {
                kind: CustomerActivityKind::ComplaintClosed,
                happening: Happening::ComplaintClosed {
                    number: closed.number,
                    subject: closed.subject,
                    rejected: closed.final_stage == ComplaintStage::Rejected as i32,
                },
                source: closed.complaint,
                channel: closed.channel,
                actor: closed.closed_by,
                occur_time: time_or(closed.close_time.as_ref(), at),
            },
        )];
    }
    if let Some(completed) = payload_as::<DispatchCompleted>(event) {
        return vec![fact(
            &completed.customer,
            Entry {
                kind: CustomerActivityKind::DispatchCompleted,
                happening: Happening::DispatchCompleted {
                    voucher: completed.voucher_number,
                    technician: completed.technician_display_name,
                },
                source: completed.dispatch,
                channel: 0,
                actor: user_actor(&completed.technician),
                occur_time: time_or(completed.work_end_time.as_ref(), at),
            },
        )];
    }
    if let Some(completed) = payload_as::<CallbackTaskCompleted>(event) {
        let reached = completed.state == CallbackTaskState::Done as i32
            && completed.outcome == CallbackOutcome::Reached as i32;
        let outcome = CallbackOutcome::try_from(completed.outcome)
            .map(|outcome| {
                outcome
                    .as_str_name()
                    .trim_start_matches("CALLBACK_OUTCOME_")
                    .to_owned()
            })
            .unwrap_or_default();
        let ended = time_or(completed.end_time.as_ref(), at);
        let contact = (reached && !completed.assignee.is_empty()).then(|| {
            (
                completed.assignee.clone(),
                Contact {
                    time: ended,
                    channel: 0,
                    source: completed.callback_task.clone(),
                    notes: String::new(),
                    actor: user_actor(&completed.assignee).unwrap_or_default(),
                },
            )
        });
        return vec![Fact {
            customer: completed.customer.clone(),
            entry: Entry {
                kind: CustomerActivityKind::CallbackDone,
                happening: Happening::CallbackDone { reached, outcome },
                source: completed.callback_task,
                channel: 0,
                actor: user_actor(&completed.assignee),
                occur_time: ended,
            },
            contact,
        }];
    }
    if let Some(recorded) = payload_as::<SurveyResponseRecorded>(event) {
        let lowest = SatisfactionLevel::try_from(recorded.lowest_level)
            .ok()
            .filter(|level| *level != SatisfactionLevel::Unspecified)
            .map(|level| {
                level
                    .as_str_name()
                    .trim_start_matches("SATISFACTION_LEVEL_")
                    .to_owned()
            })
            .unwrap_or_default();
        return vec![fact(
            &recorded.customer,
            Entry {
                kind: CustomerActivityKind::SurveyAnswered,
                happening: Happening::SurveyAnswered { lowest },
                source: recorded.survey_response,
                channel: recorded.channel,
                actor: user_actor(&recorded.agent),
                occur_time: time_or(recorded.respond_time.as_ref(), at),
            },
        )];
    }
    Vec::new()
}

/// The customer an event's `name` leads to: itself, or the customer it was
/// merged into; `None` when unknown to the tenant or erased.
async fn resolve(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    name: &str,
) -> Result<Option<Stored>> {
    let mut name = name.to_owned();
    for _ in 0..=MAX_MERGE_HOPS {
        let Some(id) = customers::id_of(&name) else {
            return Ok(None);
        };
        let Some(stored) = customers::get(txn, tenant.0, id, true).await? else {
            return Ok(None);
        };
        match CustomerState::try_from(stored.customer.state) {
            Ok(CustomerState::Active) => return Ok(Some(stored)),
            Ok(CustomerState::Merged) if !stored.customer.merged_into.is_empty() => {
                name = stored.customer.merged_into.clone();
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Display names of the owners an OWNERSHIP_CHANGED entry names.
async fn named_owners(
    txn: &DatabaseTransaction,
    tenant: TenantId,
    happening: Happening,
) -> Result<Happening> {
    let Happening::OwnerChanged { previous, new } = happening else {
        return Ok(happening);
    };
    let names: Vec<String> = [&previous, &new]
        .into_iter()
        .filter(|name| !name.is_empty())
        .cloned()
        .collect();
    let known = agents::get_many(txn, tenant.0, &names).await?;
    let display = |name: &String| {
        known
            .get(name)
            .map(|user| user.display_name.clone())
            .filter(|display| !display.is_empty())
            .unwrap_or_else(|| name.clone())
    };
    Ok(Happening::OwnerChanged {
        previous: if previous.is_empty() {
            previous
        } else {
            display(&previous)
        },
        new: if new.is_empty() { new } else { display(&new) },
    })
}

impl Timeline {
    /// The handler of consumer group `group`.
    pub fn new(group: String, context: &ServiceContext) -> Self {
        Self {
            group,
            db: context.db.clone(),
            outbox: context.outbox.clone(),
            clock: context.clock.clone(),
        }
    }

    async fn apply(&self, event: &EventEnvelope) -> Result<()> {
        let now = self.clock.now();
        let facts = facts(event, occurred(event, now));
        if facts.is_empty() {
            return Ok(());
        }
        let Some(tenant) = tenant_of(event)? else {
            return Ok(());
        };
        let txn = begin_for_event(&self.db, event).await?;
        if !inbox::claim(&txn, &self.group, event, now).await? {
            return Ok(());
        }
        let mut wrote_events = false;
        for mut fact in facts {
            let Some(stored) = resolve(&txn, tenant, &fact.customer).await? else {
                continue;
            };
            let id = customers::id_of(&stored.customer.name)
                .unwrap_or_default()
                .to_owned();
            fact.entry.happening = named_owners(&txn, tenant, fact.entry.happening).await?;
            activities::record(&txn, tenant, &id, fact.entry, &event.producer, now).await?;
            if let Some((by, contact)) = fact.contact {
                let customer = &stored.customer;
                let assigned = customer.owner_assign_time.as_ref().and_then(from_timestamp);
                let owners_first = customer.owner == by
                    && customer.first_contact_time.is_none()
                    && assigned.is_some_and(|assigned| contact.time >= assigned);
                if owners_first {
                    record_contact(&txn, tenant, &stored, &contact, now).await?;
                    wrote_events = true;
                }
            }
        }
        txn.commit().await?;
        if wrote_events {
            self.outbox.notify();
        }
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Timeline {
    async fn handle(&self, event: &EventEnvelope) -> Result<(), HandlerError> {
        self.apply(event).await.map_err(HandlerError::from_error)
    }
}
