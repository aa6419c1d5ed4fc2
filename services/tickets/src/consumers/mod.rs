//! What the tickets service does on events and on a schedule. Each part
//! adds its subscription or its scan here.

pub mod complaints;
mod directory;
pub mod dispatch;
mod follow_ups;
pub mod lifecycle;
mod merges;
mod reassign;
mod seed;
pub mod sla;

use std::sync::Arc;

use kefu_kit::service::{ServiceContext, ServiceSubscription};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The subscriptions of the tickets service.
pub fn subscriptions(context: &ServiceContext) -> Vec<ServiceSubscription> {
    vec![
        ServiceSubscription {
            group: "tickets.directory".to_owned(),
            producers: vec!["tenants".to_owned(), "customers".to_owned()],
            handler: Arc::new(directory::Directory::new(
                "tickets.directory".to_owned(),
                context,
            )),
        },
        seed::subscription(context),
        follow_ups::subscription(context),
        ServiceSubscription {
            group: "tickets.erasure".to_owned(),
            producers: vec!["customers".to_owned()],
            handler: Arc::new(lifecycle::Erasure::new(
                "tickets.erasure".to_owned(),
                context,
            )),
        },
    ]
}

/// The scheduled scans, each until `shutdown`.
pub fn background(context: &ServiceContext, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    vec![
        complaints::spawn(context, shutdown.clone()),
        dispatch::spawn(context, shutdown.clone()),
        sla::spawn(context, shutdown.clone()),
        lifecycle::spawn(context, shutdown),
    ]
}
