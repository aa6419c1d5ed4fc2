//! End to end through the real binary: `kefu up` on a free port, then
//! health, reflection and authentication through the gateway, then a
//! graceful stop on SIGTERM.

use std::{path::PathBuf, process::Stdio, time::Duration};

use kefu_kit::testing::{Backend, TestDatabase, redis_url};
use kefu_proto::v1::{
    GetTicketRequest, ListTenantsRequest, tenant_service_client::TenantServiceClient,
    ticket_service_client::TicketServiceClient,
};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tonic::{Code, Request, transport::Channel};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

/// The `kefu` binary cargo built for this test target (or `KEFU_BIN`).
fn kefu_binary() -> PathBuf {
    std::env::var_os("KEFU_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_kefu")))
}

/// A running `kefu up`.
struct Kefu {
    child: Child,
    gateway: String,
    data_dir: tempfile::TempDir,
}

impl Kefu {
    async fn up(extra_env: &[(&str, String)]) -> Self {
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut command = Command::new(kefu_binary());
        command
            .args(["up", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .env("KEFU_TELEMETRY__LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("kefu starts");
        let stdout = child.stdout.take().expect("stdout piped");
        let mut lines = BufReader::new(stdout).lines();
        let gateway = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("read stdout") {
                if let Some(rest) = line.strip_prefix("kefu is up: gateway listening on ") {
                    return rest.split_whitespace().next().expect("address").to_owned();
                }
            }
            panic!("kefu up exited without announcing the gateway");
        })
        .await
        .expect("kefu up announces the gateway within a minute");
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self {
            child,
            gateway,
            data_dir,
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(self.gateway.clone())
            .expect("uri")
            .connect()
            .await
            .expect("gateway reachable")
    }

    fn operator_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("operator-token"))
            .expect("operator token written")
            .trim()
            .to_owned()
    }

    /// SIGTERM, then the process must exit by itself, successfully.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .expect("kill runs");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("drains within 20 s")
            .expect("wait");
        assert!(exit.success(), "kefu exits cleanly on SIGTERM: {exit:?}");
    }
}

async fn every_service_serves_through_the_gateway(kefu: &Kefu) {
    let channel = kefu.channel().await;
    let mut health = HealthClient::new(channel.clone());
    let gateway = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("gateway health");
    assert_eq!(gateway.into_inner().status(), ServingStatus::Serving);
    for (service, target) in kefu_proto::SERVICES {
        let answer = health
            .check(HealthCheckRequest {
                service: (*service).to_owned(),
            })
            .await
            .unwrap_or_else(|status| panic!("health of {service} ({target}): {status}"));
        assert_eq!(
            answer.into_inner().status(),
            ServingStatus::Serving,
            "{service} is serving"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "kefu.v1.NoSuchService".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
}

async fn reflection_lists_the_whole_contract(kefu: &Kefu) {
    let mut reflection = ServerReflectionClient::new(kefu.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("answer")
        .expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer: {response:?}");
    };
    let listed: Vec<String> = list
        .service
        .into_iter()
        .map(|service| service.name)
        .collect();
    for (service, _) in kefu_proto::SERVICES {
        assert!(
            listed.iter().any(|name| name == service),
            "reflection lists {service}: {listed:?}"
        );
    }
}

/// A GetTicket call carrying `headers` as metadata.
fn get_ticket(headers: &[(&'static str, String)]) -> Request<GetTicketRequest> {
    let mut request = Request::new(GetTicketRequest {
        name: "tickets/1".into(),
    });
    for (key, value) in headers {
        request
            .metadata_mut()
            .insert(*key, value.parse().expect("ascii metadata"));
    }
    request
}

async fn calls_without_valid_credentials_are_refused(kefu: &Kefu) {
    let mut tickets = TicketServiceClient::new(kefu.channel().await);
    let operator = ("authorization", format!("Bearer {}", kefu.operator_token()));
    let refusals = [
        ("no credential at all", vec![]),
        (
            "an unknown bearer token",
            vec![("authorization", "Bearer not-a-key".to_owned())],
        ),
        // A forged internal credential does not stand in for authentication.
        (
            "a forged internal credential",
            vec![("x-kefu-credential", "kefu1.e30.AAAA".to_owned())],
        ),
        // Even an authenticated caller may not choose its tenant.
        (
            "a caller-set tenant header",
            vec![
                operator.clone(),
                (
                    "x-kefu-tenant",
                    "00000000-0000-7000-8000-000000000000".to_owned(),
                ),
            ],
        ),
    ];
    for (case, headers) in refusals {
        let refused = tickets
            .get_ticket(get_ticket(&headers))
            .await
            .expect_err(case);
        assert_eq!(refused.code(), Code::Unauthenticated, "{case}: {refused:?}");
    }

    // The operator manages tenants and reads nothing inside them: its call
    // for a ticket stops at the gateway, its tenant list is served.
    let inside = tickets
        .get_ticket(get_ticket(std::slice::from_ref(&operator)))
        .await
        .expect_err("the operator reads no tickets");
    assert_eq!(inside.code(), Code::PermissionDenied, "{inside:?}");
    let mut list = Request::new(ListTenantsRequest::default());
    list.metadata_mut()
        .insert(operator.0, operator.1.parse().expect("ascii"));
    let tenants = TenantServiceClient::new(kefu.channel().await)
        .list_tenants(list)
        .await
        .expect("forwarded, admitted and answered by the tenants service")
        .into_inner();
    assert!(
        tenants.tenants.is_empty(),
        "a new installation has no tenant"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kefu_up_on_embedded_storage_serves_every_service_through_the_gateway() {
    let kefu = Kefu::up(&[]).await;
    every_service_serves_through_the_gateway(&kefu).await;
    reflection_lists_the_whole_contract(&kefu).await;
    calls_without_valid_credentials_are_refused(&kefu).await;
    for service in kefu_kit::testing::SERVICE_NAMES {
        assert!(
            kefu.data_dir.path().join(format!("{service}.db")).exists(),
            "{service} has its own SQLite file"
        );
    }
    kefu.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kefu_up_on_postgres_and_redis_serves_every_service_through_the_gateway() {
    let Some(database) = TestDatabase::new(Backend::Postgres, "tenants").await else {
        return;
    };
    let Some(redis) = redis_url() else { return };
    let kefu = Kefu::up(&[
        ("KEFU_STORAGE__DATABASE_URL", database.location.url.clone()),
        ("KEFU_BUS__REDIS_URL", redis),
    ])
    .await;
    every_service_serves_through_the_gateway(&kefu).await;
    calls_without_valid_credentials_are_refused(&kefu).await;
    kefu.stop().await;
}
