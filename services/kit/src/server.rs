//! Running a gRPC server the way every Kefu server runs: the services, plus
//! `grpc.health.v1` and server reflection, a span per call joined to the
//! caller's trace, and a graceful stop.

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{net::TcpListener, task::JoinHandle};
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::service::{Routes, RoutesBuilder};
use tonic_health::{ServingStatus, server::HealthReporter};

pub use tonic_reflection::server::Error as ReflectionError;

/// The reflection services every server offers.
pub const REFLECTION_SERVICES: &[&str] = &[
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// The health service every server offers.
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// A running server.
#[derive(Debug)]
pub struct RunningServer {
    /// The address it listens on (the real port when bound to port 0).
    pub local_addr: SocketAddr,
    /// Ends when the server has drained after shutdown.
    pub task: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// Adds health and reflection for `service_names` (full names such as
/// `kefu.v1.TicketService`) to `routes`. Health answers SERVING for each name
/// and for the server as a whole (`""`) while `ready` says so, and
/// NOT_SERVING once `shutdown` is cancelled, so load balancers stop sending
/// calls while in-flight ones finish.
pub async fn with_health_and_reflection(
    mut routes: RoutesBuilder,
    service_names: &[&str],
    ready: Arc<dyn Readiness>,
    shutdown: CancellationToken,
) -> Result<Routes, ReflectionError> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let names: Vec<String> = service_names
        .iter()
        .map(|name| (*name).to_owned())
        .chain([String::new()])
        .collect();
    set_all(&reporter, &names, ServingStatus::Serving).await;
    tokio::spawn(report_health(reporter, names, ready, shutdown));
    routes.add_service(health_service);
    with_reflection(routes, service_names)
}

/// Whether a server can do its work (its database answers).
#[async_trait::async_trait]
pub trait Readiness: Send + Sync + 'static {
    /// `Ok` when ready; the error says what is missing.
    async fn check(&self) -> Result<(), String>;
}

#[async_trait::async_trait]
impl Readiness for sea_orm::DatabaseConnection {
    async fn check(&self) -> Result<(), String> {
        self.ping().await.map_err(|error| error.to_string())
    }
}

/// How often readiness is checked.
const READINESS_INTERVAL: Duration = Duration::from_secs(5);

async fn report_health(
    reporter: HealthReporter,
    names: Vec<String>,
    ready: Arc<dyn Readiness>,
    shutdown: CancellationToken,
) {
    let mut serving = true;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(READINESS_INTERVAL) => {}
        }
        let now_ready = match ready.check().await {
            Ok(()) => true,
            Err(error) => {
                if serving {
                    tracing::warn!(error = %error, "not ready; reporting NOT_SERVING");
                }
                false
            }
        };
        if now_ready != serving {
            serving = now_ready;
            let status = if serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            set_all(&reporter, &names, status).await;
        }
    }
    set_all(&reporter, &names, ServingStatus::NotServing).await;
}

async fn set_all(reporter: &HealthReporter, names: &[String], status: ServingStatus) {
    for name in names {
        reporter.set_service_status(name, status).await;
    }
}

/// Adds server reflection (v1 and v1alpha, for older clients such as some
/// grpcurl builds) listing `service_names`, health and reflection itself.
pub fn with_reflection(
    mut routes: RoutesBuilder,
    service_names: &[&str],
) -> Result<Routes, ReflectionError> {
    routes.add_service(reflection_builder(service_names).build_v1()?);
    routes.add_service(reflection_builder(service_names).build_v1alpha()?);
    Ok(routes.routes())
}

fn reflection_builder(service_names: &[&str]) -> tonic_reflection::server::Builder<'static> {
    let mut builder = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kefu_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    for name in service_names
        .iter()
        .copied()
        .chain([HEALTH_SERVICE])
        .chain(REFLECTION_SERVICES.iter().copied())
    {
        builder = builder.with_service_name(name);
    }
    builder
}

/// Serves `routes` on `listener` until `shutdown`, then drains calls in flight.
pub fn serve(
    listener: TcpListener,
    routes: Routes,
    shutdown: CancellationToken,
) -> io::Result<RunningServer> {
    let local_addr = listener.local_addr()?;
    // Connections from a listener of our own get no TCP_NODELAY from tonic:
    // without it a small response waits for the caller's delayed ACK
    // (about 40 ms a call on Linux).
    let incoming = TcpListenerStream::new(listener).map(|accepted| {
        accepted.inspect(|stream| {
            let _ = stream.set_nodelay(true);
        })
    });
    let task = tokio::spawn(
        tonic::transport::Server::builder()
            .trace_fn(crate::telemetry::grpc_request_span)
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned()),
    );
    Ok(RunningServer { local_addr, task })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tonic_health::{
        pb::{HealthCheckRequest, health_check_response, health_server::Health},
        server::HealthService,
    };

    use super::*;

    struct Switch(AtomicBool);

    #[async_trait::async_trait]
    impl Readiness for Switch {
        async fn check(&self) -> Result<(), String> {
            if self.0.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("database unreachable".into())
            }
        }
    }

    async fn status(health: &HealthService, service: &str) -> health_check_response::ServingStatus {
        let request = tonic::Request::new(HealthCheckRequest {
            service: service.into(),
        });
        health
            .check(request)
            .await
            .expect("known service")
            .into_inner()
            .status()
    }

    #[tokio::test(start_paused = true)]
    async fn health_follows_readiness_and_goes_down_at_shutdown() {
        use health_check_response::ServingStatus as Status;
        let (reporter, _server) = tonic_health::server::health_reporter();
        let health = HealthService::from_health_reporter(reporter.clone());
        let names = vec!["kefu.v1.TicketService".to_owned(), String::new()];
        set_all(&reporter, &names, ServingStatus::Serving).await;
        let database = Arc::new(Switch(AtomicBool::new(true)));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(report_health(
            reporter,
            names,
            database.clone(),
            shutdown.clone(),
        ));

        database.0.store(false, Ordering::SeqCst);
        tokio::time::sleep(READINESS_INTERVAL + Duration::from_millis(10)).await;
        assert_eq!(
            status(&health, "kefu.v1.TicketService").await,
            Status::NotServing,
            "database down"
        );
        assert_eq!(status(&health, "").await, Status::NotServing);

        database.0.store(true, Ordering::SeqCst);
        tokio::time::sleep(READINESS_INTERVAL).await;
        assert_eq!(
            status(&health, "kefu.v1.TicketService").await,
            Status::Serving,
            "database back"
        );

        shutdown.cancel();
        task.await.expect("reporter ends");
        assert_eq!(
            status(&health, "kefu.v1.TicketService").await,
            Status::NotServing,
            "draining"
        );
    }
}
