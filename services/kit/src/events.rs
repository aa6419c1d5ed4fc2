//! Building and reading `kefu.v1.EventEnvelope`s.

use chrono::{DateTime, Utc};
use kefu_proto::v1::EventEnvelope;
use prost::{Message, Name};
use uuid::Uuid;

use crate::context::TenantId;

/// A new event about `subject`, produced by `producer` for `tenant_id`, with
/// the trace context of the current span so the consumer's work joins the
/// same trace.
pub fn new_event<M: Message + Name>(
    producer: &str,
    tenant_id: Option<TenantId>,
    subject: impl Into<String>,
    payload: &M,
    occurred_at: DateTime<Utc>,
) -> EventEnvelope {
    EventEnvelope {
        id: Uuid::now_v7().to_string(),
        tenant_id: tenant_id.map(|id| id.to_string()).unwrap_or_default(),
        r#type: M::full_name(),
        occurred_at: Some(to_timestamp(occurred_at)),
        producer: producer.to_owned(),
        subject: subject.into(),
        trace_context: crate::telemetry::current_trace_context(),
        payload: Some(
            prost_types::Any::from_msg(payload).expect("encoding into a Vec cannot fail"),
        ),
    }
}

/// The payload of `event` as `M`, when it is one.
pub fn payload_as<M: Message + Name + Default>(event: &EventEnvelope) -> Option<M> {
    event
        .payload
        .as_ref()
        .and_then(|any| any.to_msg::<M>().ok())
}

/// A chrono instant as a protobuf timestamp.
pub fn to_timestamp(instant: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: instant.timestamp_subsec_nanos() as i32,
    }
}

/// A protobuf timestamp as a chrono instant; `None` when out of range.
pub fn from_timestamp(timestamp: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(timestamp.seconds, u32::try_from(timestamp.nanos).ok()?)
}

#[cfg(test)]
mod tests {
    use kefu_proto::v1::Money;

    use super::*;

    #[test]
    fn an_event_carries_its_type_tenant_and_payload() {
        let tenant = TenantId::new();
        let at = DateTime::parse_from_rfc3339("2026-11-23T08:00:00.5Z")
            .expect("valid")
            .with_timezone(&Utc);
        let payload = Money {
            currency_code: "CNY".into(),
            amount_minor: 100_000,
        };
        let event = new_event("tickets", Some(tenant), "tickets/1", &payload, at);
        assert_eq!(event.r#type, "kefu.v1.Money");
        assert_eq!(event.tenant_id, tenant.to_string());
        assert_eq!(event.producer, "tickets");
        assert_eq!(
            from_timestamp(event.occurred_at.as_ref().expect("set")),
            Some(at)
        );
        assert_eq!(payload_as::<Money>(&event), Some(payload));
        assert_ne!(
            new_event("tickets", None, "x", &Money::default(), at).id,
            event.id,
            "ids are unique"
        );
    }
}
