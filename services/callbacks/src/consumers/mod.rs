//! What the callbacks service does on events and on a schedule. Each part
//! adds its subscription or its scan here.

pub mod campaigns;
pub mod customers;
mod directory;
pub mod follow_ups;
pub mod overdue;
mod seed;
pub mod sms;
pub mod triggers;

use kefu_kit::service::{ServiceContext, ServiceSubscription};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The subscriptions of the callbacks service.
pub fn subscriptions(context: &ServiceContext) -> Vec<ServiceSubscription> {
    vec![
        directory::subscription(context),
        seed::subscription(context),
        customers::subscription(context),
        follow_ups::subscription(context),
        triggers::subscription(context),
        triggers::customers_subscription(context),
        triggers::reassign_subscription(context),
    ]
}

/// The scheduled scans, each until `shutdown`.
pub fn background(context: &ServiceContext, shutdown: CancellationToken) -> Vec<JoinHandle<()>> {
    vec![
        campaigns::spawn(context, shutdown.clone()),
        sms::spawn(context, shutdown.clone()),
        overdue::spawn(context, shutdown),
    ]
}
