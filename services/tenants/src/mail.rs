//! Outgoing e-mail (invitations). The embedded mode has no mail server: the
//! [`FileMailer`] appends each message as a JSON line to a file the operator
//! can read (and tests do), and logs that it did.

use std::{io::Write, path::PathBuf, sync::Mutex};

/// One message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
    /// Machine-readable extras (`invitation_token`), for the file mailer's
    /// readers.
    pub data: std::collections::BTreeMap<String, String>,
}

/// Sends e-mail.
pub trait Mailer: Send + Sync + 'static {
    /// Sends `mail`; failures are logged, never fail the call that sent it
    /// (the invitation can be resent).
    fn send(&self, mail: Mail);
}

/// Appends messages to a JSON-lines file, or only logs them without one.
pub struct FileMailer {
    path: Option<PathBuf>,
    lock: Mutex<()>,
}

impl FileMailer {
    /// A mailer writing to `path` (`None`: log only).
    pub fn new(path: Option<PathBuf>) -> Self {
        Self {
            path,
            lock: Mutex::new(()),
        }
    }
}

impl Mailer for FileMailer {
    fn send(&self, mail: Mail) {
        tracing::info!(to = %mail.to, subject = %mail.subject, "mail sent");
        let Some(path) = &self.path else { return };
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let line = match serde_json::to_string(&mail) {
            Ok(line) => line,
            Err(error) => {
                tracing::warn!(error = %error, "mail not encodable");
                return;
            }
        };
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| writeln!(file, "{line}"));
        if let Err(error) = written {
            tracing::warn!(path = %path.display(), error = %error, "mail not written");
        }
    }
}
