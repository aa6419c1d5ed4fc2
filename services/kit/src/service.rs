//! What every Kefu service provides to the process that runs it, and the one
//! way services are run: `kefu up` runs all of them, `kefu serve --target`
//! one, through the same code.

use std::{io, net::SocketAddr, sync::Arc};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::service::RoutesBuilder;

use crate::{
    KitError,
    auth::InternalAuth,
    bus::{BusError, EventBus, EventHandler, Subscription, SubscriptionHandle},
    clock::SharedClock,
    context::TenantId,
    outbox::OutboxSignal,
    relay::{Relay, RelaySettings},
    server,
};

/// What a service is given to build itself.
#[derive(Clone)]
pub struct ServiceContext {
    /// The service's own database (its schema or file).
    pub db: DatabaseConnection,
    /// Wakes the relay after a commit that wrote events.
    pub outbox: OutboxSignal,
    /// The clock domain decisions read.
    pub clock: SharedClock,
}

impl ServiceContext {
    /// The current time of the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A transaction scoped to `tenant` for reads and writes (on PostgreSQL
    /// it sets the row-level security tenant).
    pub async fn begin(&self, tenant: TenantId) -> Result<DatabaseTransaction, KitError> {
        Ok(crate::db::begin_for_tenant(&self.db, tenant).await?)
    }

    /// A transaction scoped to `tenant` that only reads: on SQLite it does
    /// not queue behind writers.
    pub async fn begin_read(&self, tenant: TenantId) -> Result<DatabaseTransaction, KitError> {
        Ok(crate::db::begin_read_for_tenant(&self.db, tenant).await?)
    }

    /// Commits `txn` and wakes the relay for the events it wrote.
    pub async fn commit(&self, txn: DatabaseTransaction) -> Result<(), KitError> {
        txn.commit().await?;
        self.outbox.notify();
        Ok(())
    }
}

/// A consumer group a service runs, with its handler.
pub struct ServiceSubscription {
    /// The group name, unique across services (`callbacks.scheduler`).
    pub group: String,
    /// The producers it reads.
    pub producers: Vec<String>,
    /// The handler.
    pub handler: Arc<dyn EventHandler>,
}

/// One Kefu service (tenants, customers, tickets, callbacks, analytics).
pub trait KefuService: Send + Sync + 'static {
    /// The target name (`tickets`), also its schema and event stream name.
    fn name(&self) -> &'static str;

    /// The full names of the gRPC services it serves (`kefu.v1.TicketService`).
    fn grpc_services(&self) -> &'static [&'static str];

    /// Adds its gRPC services, each behind `auth`, to `routes`.
    fn add_routes(&self, routes: &mut RoutesBuilder, auth: InternalAuth, context: &ServiceContext);

    /// The event subscriptions it consumes; their handlers work on
    /// `context` (its database, outbox and clock).
    fn subscriptions(&self, _context: &ServiceContext) -> Vec<ServiceSubscription> {
        Vec::new()
    }

    /// Work it runs beside its server on a schedule (deadline scans), each a
    /// task that ends once `shutdown` is cancelled; the service waits for
    /// them when it stops.
    fn background(
        &self,
        _context: &ServiceContext,
        _shutdown: CancellationToken,
    ) -> Vec<JoinHandle<()>> {
        Vec::new()
    }

    /// Whether its rows of a deleted tenant are purged on TenantDeleted
    /// (see [`crate::purge`]); the tenants service, which deletes its own in
    /// the transaction that publishes the event, says no.
    fn purges_deleted_tenants(&self) -> bool {
        true
    }
}

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listener failed.
    #[error("listen: {0}")]
    Io(#[from] io::Error),
    /// Reflection could not be built from the descriptors.
    #[error("reflection: {0}")]
    Reflection(#[from] server::ReflectionError),
    /// A subscription could not start.
    #[error("event bus: {0}")]
    Bus(#[from] BusError),
}

/// A service running in this process.
pub struct RunningService {
    /// The service's name.
    pub name: &'static str,
    /// Where its gRPC server listens.
    pub local_addr: SocketAddr,
    server: JoinHandle<Result<(), tonic::transport::Error>>,
    relay: RelayState,
    subscriptions: Vec<SubscriptionHandle>,
    background: Vec<JoinHandle<()>>,
}

enum RelayState {
    Ready(Relay, CancellationToken),
    Running(JoinHandle<()>),
}

impl RunningService {
    /// Starts publishing the service's outbox. With the in-process bus an
    /// event is marked published once the subscribers present have handled
    /// it, so in one process every service subscribes before any relay
    /// starts; otherwise a service starting later would miss the backlog.
    pub fn start_relay(&mut self) {
        if let RelayState::Ready(relay, shutdown) = &self.relay {
            self.relay = RelayState::Running(relay.clone().spawn(shutdown.clone()));
        }
    }

    /// Waits for the server and relay to drain after shutdown, then stops
    /// the subscriptions after the events in hand.
    pub async fn wait(self) {
        match self.server.await {
            Ok(Err(error)) => tracing::error!(service = self.name, error = %error, "server failed"),
            Err(error) => {
                tracing::error!(service = self.name, error = %error, "server task failed")
            }
            Ok(Ok(())) => {}
        }
        if let RelayState::Running(relay) = self.relay {
            let _ = relay.await;
        }
        for task in self.background {
            let _ = task.await;
        }
        for subscription in self.subscriptions {
            subscription.stop().await;
        }
        tracing::info!(service = self.name, "stopped");
    }
}

/// Everything a service needs from the process around it.
pub struct Runtime {
    /// The event bus.
    pub bus: Arc<dyn EventBus>,
    /// Verifies internal credentials.
    pub auth: InternalAuth,
    /// Outbox relay tuning.
    pub relay: RelaySettings,
    /// This replica's name within consumer groups.
    pub consumer_name: String,
    /// Cancelled to stop.
    pub shutdown: CancellationToken,
}

/// Serves `service` on `listener` and starts its subscriptions; its outbox
/// relay starts with [`RunningService::start_relay`].
pub async fn start(
    service: Arc<dyn KefuService>,
    context: &ServiceContext,
    listener: TcpListener,
    runtime: &Runtime,
) -> Result<RunningService, StartError> {
    let mut routes = RoutesBuilder::default();
    service.add_routes(&mut routes, runtime.auth.clone(), context);
    let ready: Arc<dyn server::Readiness> = Arc::new(context.db.clone());
    let routes = server::with_health_and_reflection(
        routes,
        service.grpc_services(),
        ready,
        runtime.shutdown.clone(),
    )
    .await?;
    let running = server::serve(listener, routes, runtime.shutdown.clone())?;
    let relay = Relay::new(
        service.name(),
        context.db.clone(),
        runtime.bus.clone(),
        context.outbox.clone(),
        context.clock.clone(),
        runtime.relay.clone(),
    );
    let mut subscriptions = Vec::new();
    let mut wanted = service.subscriptions(context);
    if service.purges_deleted_tenants() {
        wanted.push(crate::purge::subscription(
            service.name(),
            context.db.clone(),
            context.clock.clone(),
        ));
    }
    for subscription in wanted {
        let handle = runtime
            .bus
            .subscribe(
                Subscription {
                    group: subscription.group,
                    consumer: runtime.consumer_name.clone(),
                    producers: subscription.producers,
                },
                subscription.handler,
            )
            .await?;
        subscriptions.push(handle);
    }
    let background = service.background(context, runtime.shutdown.clone());
    tracing::info!(service = service.name(), address = %running.local_addr, "serving");
    Ok(RunningService {
        name: service.name(),
        local_addr: running.local_addr,
        server: running.task,
        relay: RelayState::Ready(relay, runtime.shutdown.clone()),
        subscriptions,
        background,
    })
}
