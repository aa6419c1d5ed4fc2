//! Routing a silo tenant's calls to its own services.
//!
//! A SILO tenant's data services run in its own namespace; the Kubernetes
//! operator records where (`Tenant.placement`, SetTenantPlacement). For a
//! call of a tenant-scoped caller to a data service the gateway looks the
//! tenant's placement up (through the tenants service, as the platform
//! operator, cached for [`PLACEMENT_TTL`]) and forwards to the upstream the
//! placement names for that service; POOL tenants (no placement) and
//! services the placement does not name go to the shared upstreams. A
//! placement that is not ready answers UNAVAILABLE: sending a silo tenant's
//! calls to the pool would put its data where its contract says it is not.
//!
//! The tenants service itself is never placed: it is the registry and the
//! identity service every caller is resolved with.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use kefu_kit::{
    clock::SharedClock,
    context::{Principal, TenantId},
    credential::{CREDENTIAL_HEADER, CredentialSigner},
};
use kefu_proto::v1::{
    GetTenantRequest, TenantPlacement, tenant_service_client::TenantServiceClient,
};
use tokio::time::Instant;
use tonic::{Code, transport::Channel};

use crate::GatewayError;

/// How long a looked-up placement is used before it is looked up again: the
/// delay between the operator recording a placement and calls following it.
pub const PLACEMENT_TTL: Duration = Duration::from_secs(30);

/// The targets a placement may route (the data services).
pub const PLACED_TARGETS: &[&str] = &["customers", "tickets", "callbacks", "analytics"];

/// Where a tenant's placement comes from.
#[async_trait]
pub trait PlacementSource: Send + Sync + 'static {
    /// The tenant's placement; `None` for a POOL tenant (or an unknown one,
    /// which authentication has already refused).
    async fn placement(&self, tenant: TenantId) -> Result<Option<TenantPlacement>, GatewayError>;
}

/// Placements read from the tenants service with GetTenant, as the platform
/// operator (a credential only the gateway can sign).
pub struct TenantsPlacements {
    tenants: TenantServiceClient<Channel>,
    signer: Arc<CredentialSigner>,
    clock: SharedClock,
}

impl TenantsPlacements {
    /// Reads from the tenants service at `tenants`.
    pub fn new(tenants: Channel, signer: Arc<CredentialSigner>, clock: SharedClock) -> Self {
        Self {
            tenants: TenantServiceClient::new(tenants),
            signer,
            clock,
        }
    }
}

#[async_trait]
impl PlacementSource for TenantsPlacements {
    async fn placement(&self, tenant: TenantId) -> Result<Option<TenantPlacement>, GatewayError> {
        let mut request = tonic::Request::new(GetTenantRequest {
            name: format!("tenants/{tenant}"),
        });
        let credential = self
            .signer
            .mint(None, Principal::platform_operator(), self.clock.now());
        request.metadata_mut().insert(
            CREDENTIAL_HEADER,
            credential
                .parse()
                .map_err(|_| GatewayError::Upstream("tenants".into()))?,
        );
        kefu_kit::telemetry::inject_trace_context(request.metadata_mut());
        match self.tenants.clone().get_tenant(request).await {
            Ok(response) => Ok(response.into_inner().placement),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => {
                tracing::warn!(tenant = %tenant, status = %status, "tenant placement unavailable");
                Err(GatewayError::Upstream("tenants".into()))
            }
        }
    }
}

/// Chooses the upstream of a tenant's call.
pub struct Placements {
    source: Arc<dyn PlacementSource>,
    ttl: Duration,
    cache: Mutex<HashMap<TenantId, (Instant, Option<TenantPlacement>)>>,
    channels: Mutex<HashMap<String, Channel>>,
}

impl Placements {
    /// Routes by what `source` says, remembered for [`PLACEMENT_TTL`].
    pub fn new(source: Arc<dyn PlacementSource>) -> Self {
        Self::with_ttl(source, PLACEMENT_TTL)
    }

    /// Routes by what `source` says, remembered for `ttl`.
    pub fn with_ttl(source: Arc<dyn PlacementSource>, ttl: Duration) -> Self {
        Self {
            source,
            ttl,
            cache: Mutex::default(),
            channels: Mutex::default(),
        }
    }

    async fn placement_of(
        &self,
        tenant: TenantId,
    ) -> Result<Option<TenantPlacement>, GatewayError> {
        let now = Instant::now();
        {
            // A poisoned cache only loses its memory; the lookup repeats.
            let cache = self
                .cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((fetched, placement)) = cache.get(&tenant)
                && now.duration_since(*fetched) < self.ttl
            {
                return Ok(placement.clone());
            }
        }
        let placement = self.source.placement(tenant).await?;
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(tenant, (now, placement.clone()));
        Ok(placement)
    }

    /// The silo upstream of `tenant`'s call to `target` (`customers`), or
    /// `None` for the shared one.
    pub async fn route(
        &self,
        tenant: TenantId,
        target: &str,
    ) -> Result<Option<Channel>, GatewayError> {
        if !PLACED_TARGETS.contains(&target) {
            return Ok(None);
        }
        let Some(placement) = self.placement_of(tenant).await? else {
            return Ok(None);
        };
        let Some(address) = placement.upstreams.get(target) else {
            return Ok(None);
        };
        if !placement.ready {
            return Err(GatewayError::SiloNotReady);
        }
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(channel) = channels.get(address) {
            return Ok(Some(channel.clone()));
        }
        let channel = Channel::from_shared(address.clone())
            .map_err(|_| {
                tracing::error!(tenant = %tenant, address = %address, "placement names an invalid upstream");
                GatewayError::Upstream(target.to_owned())
            })?
            .connect_lazy();
        channels.insert(address.clone(), channel.clone());
        Ok(Some(channel))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Fixed {
        placements: HashMap<TenantId, TenantPlacement>,
        lookups: AtomicUsize,
        down: bool,
    }

    #[async_trait]
    impl PlacementSource for Fixed {
        async fn placement(
            &self,
            tenant: TenantId,
        ) -> Result<Option<TenantPlacement>, GatewayError> {
            self.lookups.fetch_add(1, Ordering::SeqCst);
            if self.down {
                return Err(GatewayError::Upstream("tenants".into()));
            }
            Ok(self.placements.get(&tenant).cloned())
        }
    }

    fn silo(ready: bool) -> TenantPlacement {
        TenantPlacement {
            namespace: "kefu-t-acme".into(),
            upstreams: [(
                "customers".to_owned(),
                "http://kefu-customers.kefu-t-acme.svc:50051".to_owned(),
            )]
            .into(),
            ready,
            update_time: None,
        }
    }

    #[tokio::test]
    async fn a_silo_tenants_data_calls_leave_the_pool_and_everyone_elses_stay() {
        let (silo_tenant, pool_tenant, starting) =
            (TenantId::new(), TenantId::new(), TenantId::new());
        let source = Arc::new(Fixed {
            placements: [(silo_tenant, silo(true)), (starting, silo(false))].into(),
            lookups: AtomicUsize::new(0),
            down: false,
        });
        let placements = Placements::new(source.clone());
        assert!(
            placements
                .route(silo_tenant, "customers")
                .await
                .expect("routed")
                .is_some()
        );
        assert!(
            placements
                .route(silo_tenant, "tickets")
                .await
                .expect("routed")
                .is_none(),
            "a service the placement does not name stays shared"
        );
        assert!(
            placements
                .route(silo_tenant, "tenants")
                .await
                .expect("routed")
                .is_none(),
            "the tenants service is never placed"
        );
        assert!(
            placements
                .route(pool_tenant, "customers")
                .await
                .expect("routed")
                .is_none()
        );
        assert!(matches!(
            placements.route(starting, "customers").await,
            Err(GatewayError::SiloNotReady)
        ));
        // One lookup per tenant within the TTL; none for the tenants service.
        assert_eq!(source.lookups.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn placements_are_looked_up_again_once_expired_and_failures_are_not_remembered() {
        let tenant = TenantId::new();
        let source = Arc::new(Fixed {
            placements: [(tenant, silo(true))].into(),
            lookups: AtomicUsize::new(0),
            down: false,
        });
        let remembered = Placements::with_ttl(source.clone(), PLACEMENT_TTL);
        remembered.route(tenant, "customers").await.expect("routed");
        remembered.route(tenant, "customers").await.expect("routed");
        assert_eq!(source.lookups.load(Ordering::SeqCst), 1);
        let expiring = Placements::with_ttl(source.clone(), Duration::ZERO);
        expiring.route(tenant, "customers").await.expect("routed");
        expiring.route(tenant, "customers").await.expect("routed");
        assert_eq!(source.lookups.load(Ordering::SeqCst), 3);

        let down = Arc::new(Fixed {
            placements: HashMap::new(),
            lookups: AtomicUsize::new(0),
            down: true,
        });
        let placements = Placements::new(down.clone());
        assert!(
            placements.route(tenant, "customers").await.is_err(),
            "fails closed"
        );
        assert!(placements.route(tenant, "customers").await.is_err());
        assert_eq!(
            down.lookups.load(Ordering::SeqCst),
            2,
            "an error is not cached"
        );
    }
}
