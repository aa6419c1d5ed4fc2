//! REST/JSON through the gateway, over plain HTTP/1.1 as a simple
//! integration would call it: the same authentication, rules and tenant
//! isolation as gRPC, proto3 JSON in and out, AIP-193 error bodies with the
//! HTTP status of the code and the field named.

use std::net::SocketAddr;

use kefu_kit::testing::Backend;
use kefu_proto::v1::Industry;
use serde_json::{Value, json};

use crate::stack::{HttpAnswer, Stack, http};

/// An HTTP answer with its body read as JSON.
struct Answer {
    status: u16,
    raw: HttpAnswer,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.raw.header(name)
    }

    fn reason(&self) -> Option<&str> {
        self.body["error"]["details"]
            .as_array()?
            .iter()
            .find_map(|detail| detail["reason"].as_str())
    }

    fn violated_field(&self) -> Option<&str> {
        self.body["error"]["details"]
            .as_array()?
            .iter()
            .find_map(|detail| detail["fieldViolations"][0]["field"].as_str())
    }
}

/// `POST path` with the JSON `body`.
async fn post(
    gateway: SocketAddr,
    path: &str,
    bearer: Option<&str>,
    body: &str,
    extra: &[(&str, &str)],
) -> Answer {
    let raw = http(gateway, "POST", path, bearer, body, extra).await;
    let text = String::from_utf8_lossy(&raw.body);
    let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "raw": text }));
    Answer {
        status: raw.status,
        raw,
        body,
    }
}

async fn rest_is_grpc_with_json(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let acme = stack.onboard("acme", Industry::PropertyManagement).await;
    let bolt = stack.onboard("bolt", Industry::Ecommerce).await;
    let gateway = stack.gateway;
    let a = Some(acme.admin_session.as_str());

    let tenant = post(gateway, "/v1/TenantService/GetCurrentTenant", a, "{}", &[]).await;
    assert_eq!(tenant.status, 200, "{:?}", tenant.body);
    assert_eq!(tenant.body["slug"], acme.tenant.slug.as_str());
    assert_eq!(tenant.body["industry"], "INDUSTRY_PROPERTY_MANAGEMENT");

    let created = post(
        gateway,
        "/v1/IdentityService/CreateDepartment",
        a,
        r#"{"department": {"displayName": "维修部", "kind": "DEPARTMENT_KIND_AFTER_SALES"}, "departmentId": "repairs"}"#,
        &[],
    )
    .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.body["name"], "departments/repairs");
    let read = post(
        gateway,
        "/v1/IdentityService/GetDepartment",
        a,
        r#"{"name": "departments/repairs"}"#,
        &[],
    )
    .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["displayName"], "维修部");

    // Another tenant: 404, exactly as for a department that does not exist.
    let b = Some(bolt.admin_session.as_str());
    let theirs = post(
        gateway,
        "/v1/IdentityService/GetDepartment",
        b,
        r#"{"name": "departments/repairs"}"#,
        &[],
    )
    .await;
    let nowhere = post(
        gateway,
        "/v1/IdentityService/GetDepartment",
        b,
        r#"{"name": "departments/nowhere"}"#,
        &[],
    )
    .await;
    assert_eq!(theirs.status, 404, "{:?}", theirs.body);
    assert_eq!(theirs.body["error"]["status"], "NOT_FOUND");
    assert_eq!(nowhere.status, 404);

    // Bad input names the field; a body that is not the method's JSON too.
    let invalid = post(
        gateway,
        "/v1/IdentityService/CreateDepartment",
        a,
        r#"{"department": {"displayName": ""}}"#,
        &[],
    )
    .await;
    assert_eq!(invalid.status, 400, "{:?}", invalid.body);
    assert_eq!(invalid.body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(invalid.violated_field(), Some("department.display_name"));
    let garbage = post(
        gateway,
        "/v1/IdentityService/GetDepartment",
        a,
        r#"{"nmae": "x"}"#,
        &[],
    )
    .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.violated_field(), Some("body"));

    // The gateway's rules hold over REST too.
    let anonymous = post(
        gateway,
        "/v1/TenantService/GetCurrentTenant",
        None,
        "{}",
        &[],
    )
    .await;
    assert_eq!(anonymous.status, 401);
    let chosen = post(
        gateway,
        "/v1/TenantService/GetCurrentTenant",
        b,
        "{}",
        &[(
            "x-kefu-tenant",
            acme.tenant.name.trim_start_matches("tenants/"),
        )],
    )
    .await;
    assert_eq!(
        chosen.status, 401,
        "a caller-set tenant is refused: {:?}",
        chosen.body
    );
    let operator = post(
        gateway,
        "/v1/IdentityService/ListUsers",
        Some(&stack.operator_token),
        "{}",
        &[],
    )
    .await;
    assert_eq!(operator.status, 403);
    assert_eq!(operator.reason(), Some("PERMISSION_DENIED"));
    let tenants = post(
        gateway,
        "/v1/TenantService/ListTenants",
        Some(&stack.operator_token),
        "{}",
        &[],
    )
    .await;
    assert_eq!(tenants.status, 200);
    assert_eq!(tenants.body["tenants"].as_array().map(Vec::len), Some(2));

    // Streams need gRPC; unknown methods do not exist.
    let stream = post(gateway, "/v1/CustomerService/ExportCustomers", a, "{}", &[]).await;
    assert_eq!(stream.status, 501);
    let unknown = post(gateway, "/v1/TicketService/Nope", a, "{}", &[]).await;
    assert_eq!(unknown.status, 501);
    assert!(
        unknown
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json"))
    );
}

#[tokio::test]
async fn rest_is_grpc_with_json_on_sqlite() {
    rest_is_grpc_with_json(Backend::Sqlite).await;
}

#[tokio::test]
async fn rest_is_grpc_with_json_on_postgres() {
    rest_is_grpc_with_json(Backend::Postgres).await;
}
