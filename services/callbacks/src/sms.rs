//! The outbound SMS provider: what sends a survey as a text message. Kefu
//! talks to providers through [`SmsProvider`] only, so an operator plugs in
//! their carrier's gateway without touching the callbacks rules; the
//! [`LogProvider`] writes each message to the log instead of sending it —
//! the embedded mode's provider, and the tests', so nothing external is
//! ever called there.
//!
//! The provider is called by the SMS delivery step (`api::sms::deliver`),
//! with the attempt's row locked: a message is handed over at least once
//! (a crash between the hand-over and the commit hands it over again on the
//! next scan), never by two replicas at once.

use std::sync::{Arc, OnceLock, RwLock};

use async_trait::async_trait;

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundSms {
    /// The tenant sending it (for the provider's account and the log).
    pub tenant: String,
    /// The number written to, E.164.
    pub to_phone: String,
    /// The text.
    pub body: String,
    /// The attempt it belongs to (`callbackTasks/{task}/attempts/{attempt}`),
    /// usable as the provider's client reference.
    pub reference: String,
}

/// Why a provider did not take a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SmsError(pub String);

/// An outbound SMS gateway.
#[async_trait]
pub trait SmsProvider: Send + Sync {
    /// The provider's name, kept on each attempt (`log`).
    fn name(&self) -> &str;

    /// Hands `message` over; answers the provider's id of the message,
    /// which replies may quote.
    async fn send(&self, message: &OutboundSms) -> Result<String, SmsError>;
}

/// The provider of the embedded mode and the tests: writes each message to
/// the log and answers a fresh id. The number and the text are personal
/// data (the text greets the customer by name): the info line names only
/// the number's last four digits and the text's length, the text itself is
/// logged at debug level for someone trying a script on their laptop.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogProvider;

/// The name of [`LogProvider`].
pub const LOG_PROVIDER: &str = "log";

/// The last four characters of `phone`, the rest masked (`****5678`).
fn masked(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let kept = chars.len().saturating_sub(4);
    chars
        .iter()
        .enumerate()
        .map(|(index, digit)| if index < kept { '*' } else { *digit })
        .collect()
}

#[async_trait]
impl SmsProvider for LogProvider {
    fn name(&self) -> &str {
        LOG_PROVIDER
    }

    async fn send(&self, message: &OutboundSms) -> Result<String, SmsError> {
        let id = uuid::Uuid::now_v7().to_string();
        tracing::info!(
            tenant = %message.tenant,
            to = %masked(&message.to_phone),
            reference = %message.reference,
            message_id = %id,
            length = message.body.chars().count(),
            "sms survey written to the log instead of sent"
        );
        tracing::debug!(message_id = %id, body = %message.body, "sms survey text");
        Ok(id)
    }
}

fn slot() -> &'static RwLock<Arc<dyn SmsProvider>> {
    static PROVIDER: OnceLock<RwLock<Arc<dyn SmsProvider>>> = OnceLock::new();
    PROVIDER.get_or_init(|| RwLock::new(Arc::new(LogProvider)))
}

/// The provider messages go out through: [`LogProvider`] unless another
/// was installed.
pub fn provider() -> Arc<dyn SmsProvider> {
    match slot().read() {
        Ok(provider) => provider.clone(),
        // A writer panicked mid-install; the value is still a provider.
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Installs the process's provider (at start-up, from the configuration).
pub fn install(provider: Arc<dyn SmsProvider>) {
    match slot().write() {
        Ok(mut slot) => *slot = provider,
        Err(poisoned) => *poisoned.into_inner() = provider,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_log_provider_answers_an_id_and_sends_nothing() {
        let message = OutboundSms {
            tenant: "t1".into(),
            to_phone: "+8613800000000".into(),
            body: "请回复".into(),
            reference: "callbackTasks/a/attempts/b".into(),
        };
        let first = LogProvider.send(&message).await.expect("logged");
        let second = LogProvider.send(&message).await.expect("logged");
        assert_ne!(first, second);
        assert_eq!(provider().name(), LOG_PROVIDER);
        assert_eq!(masked("+8613800005678"), "**********5678");
        assert_eq!(masked("12"), "12");
    }
}
