//! The deployment targets and the services behind them.

use std::sync::Arc;

use kefu_kit::{config::KefuConfig, service::KefuService};
use kefu_tenants::mail::{FileMailer, Mailer};

/// Where the tenants service's e-mail goes: `mail.outbox_file`, or embedded
/// a JSON-lines file in the data directory (there is no mail server);
/// otherwise the log.
fn mailer(config: &KefuConfig) -> Arc<dyn Mailer> {
    let file = config.mail.outbox_file.clone().or_else(|| {
        config
            .storage
            .database_url
            .is_none()
            .then(|| config.storage.data_dir.join("mail.jsonl"))
    });
    Arc::new(FileMailer::new(file))
}

/// What `kefu serve --target` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Tenants, identity, SLA policies, approval rules.
    Tenants,
    /// The customer archive.
    Customers,
    /// Tickets, complaints, dispatch, incidents, handover.
    Tickets,
    /// Return visits and surveys.
    Callbacks,
    /// Reports.
    Analytics,
    /// The edge: authentication, routing, REST.
    Gateway,
    /// The Kubernetes operator of `Tenant` resources (runs in a cluster).
    Operator,
}

/// The service behind `name` (`tickets`), or `None` for the gateway, the
/// operator and unknown names.
pub fn service(name: &str, config: &KefuConfig) -> Option<Arc<dyn KefuService>> {
    Some(match name {
        kefu_tenants::NAME => Arc::new(kefu_tenants::TenantsService::new(mailer(config))),
        kefu_customers::NAME => Arc::new(kefu_customers::CustomersService),
        kefu_tickets::NAME => Arc::new(kefu_tickets::TicketsService),
        kefu_callbacks::NAME => Arc::new(kefu_callbacks::CallbacksService),
        kefu_analytics::NAME => Arc::new(kefu_analytics::AnalyticsService),
        _ => return None,
    })
}

/// Every service, in start order.
pub fn all_services(config: &KefuConfig) -> Vec<Arc<dyn KefuService>> {
    kefu_migrations::SERVICES
        .iter()
        .filter_map(|name| service(name, config))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_with_a_migrator_is_runnable_and_every_contract_service_is_served() {
        let services = all_services(&KefuConfig::default());
        assert_eq!(services.len(), kefu_migrations::SERVICES.len());
        let mut served: Vec<&str> = services
            .iter()
            .flat_map(|service| service.grpc_services().iter().copied())
            .collect();
        served.sort_unstable();
        let mut contract: Vec<&str> = kefu_proto::SERVICES.iter().map(|(name, _)| *name).collect();
        contract.sort_unstable();
        assert_eq!(
            served, contract,
            "each kefu.v1 service is served by exactly one target"
        );
        for service in &services {
            for grpc in service.grpc_services() {
                assert_eq!(
                    kefu_proto::target_of(grpc),
                    Some(service.name()),
                    "gateway routes {grpc} to {}",
                    service.name()
                );
            }
        }
    }
}
