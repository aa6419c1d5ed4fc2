//! Downloading a tenant export: the operator starts an export, waits for
//! it, and downloads the archive over gRPC (DownloadTenantExport, chunks)
//! and over REST (`GET …:download`, where `download_uri` points), the same
//! bytes both ways, matching the export's digest; the tenant's own
//! administrator is refused and an unknown export is not found.

use std::{net::SocketAddr, time::Duration};

use kefu_kit::testing::Backend;
use kefu_proto::v1::{
    DownloadTenantExportRequest, ExportTenantDataRequest, GetTenantExportRequest, Industry,
    TenantExport, TenantExportState,
};
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::{
    eventually::eventually,
    stack::{HttpAnswer, Stack, http},
};

/// `GET path` on a fresh HTTP/1.1 connection.
async fn get(gateway: SocketAddr, path: &str, bearer: Option<&str>) -> HttpAnswer {
    http(gateway, "GET", path, bearer, "", &[]).await
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The archive of `name` over gRPC as the holder of `token`, chunks joined.
async fn download(stack: &Stack, token: &str, name: &str) -> Result<Vec<u8>, tonic::Status> {
    let mut chunks = stack
        .tenants(Some(token))
        .download_tenant_export(DownloadTenantExportRequest {
            name: name.to_owned(),
        })
        .await?
        .into_inner();
    let mut archive = Vec::new();
    while let Some(chunk) = chunks.message().await? {
        assert!(chunk.data.len() <= 1024 * 1024, "a chunk over 1 MiB");
        assert_eq!(
            chunk.offset,
            i64::try_from(archive.len()).expect("offset"),
            "chunks in order"
        );
        archive.extend_from_slice(&chunk.data);
    }
    Ok(archive)
}

async fn an_export_downloads_over_grpc_and_rest(backend: Backend) {
    let Some(stack) = Stack::start(backend, |config| config.limits.enabled = false).await else {
        return;
    };
    let acme = stack.onboard("acme", Industry::PropertyManagement).await;
    let bolt = stack.onboard("bolt", Industry::Ecommerce).await;
    let operator = stack.operator_token.clone();

    let started = stack
        .tenants(Some(&operator))
        .export_tenant_data(ExportTenantDataRequest {
            name: acme.tenant.name.clone(),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .expect("the operator exports")
        .into_inner();
    let name = started.name.clone();
    let finished = std::sync::Arc::new(std::sync::Mutex::new(TenantExport::default()));
    eventually("the export succeeds", Duration::from_secs(20), || {
        let mut client = stack.tenants(Some(&operator));
        let name = name.clone();
        let finished = finished.clone();
        async move {
            let Ok(export) = client
                .get_tenant_export(GetTenantExportRequest { name })
                .await
            else {
                return false;
            };
            let export = export.into_inner();
            let done = export.state == TenantExportState::Succeeded as i32;
            *finished.lock().expect("lock") = export;
            done
        }
    })
    .await;
    let export = finished.lock().expect("lock").clone();
    let export_id = name.rsplit('/').next().expect("export id").to_owned();
    assert_eq!(
        export.download_uri,
        format!("/v1/{name}:download"),
        "the link the gateway serves"
    );

    // gRPC: the chunks make up the archive the export describes.
    let archive = download(&stack, &operator, &name)
        .await
        .expect("the operator downloads");
    assert!(!archive.is_empty());
    assert_eq!(&archive[..2], [0x1f, 0x8b], "gzip magic");
    assert_eq!(
        export.size_bytes,
        i64::try_from(archive.len()).expect("size")
    );
    if !export.sha256.is_empty() {
        assert_eq!(sha256_hex(&archive), export.sha256);
    }
    let refused = download(&stack, &acme.admin_session, &name)
        .await
        .expect_err("the tenant's admin is not the operator");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let unknown = format!("{}/exports/{}", acme.tenant.name, uuid::Uuid::now_v7());
    let missing = download(&stack, &operator, &unknown)
        .await
        .expect_err("unknown export");
    assert_eq!(missing.code(), Code::NotFound);
    let elsewhere = name.replace(&acme.tenant.name, &bolt.tenant.name);
    let theirs = download(&stack, &operator, &elsewhere)
        .await
        .expect_err("not bolt's export");
    assert_eq!(theirs.code(), Code::NotFound);

    // REST: where `download_uri` points, the same bytes as an attachment.
    let served = get(stack.gateway, &export.download_uri, Some(&operator)).await;
    assert_eq!(
        served.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&served.body)
    );
    assert_eq!(served.header("content-type"), Some("application/gzip"));
    assert_eq!(
        served.header("content-disposition"),
        Some(format!("attachment; filename=\"{export_id}.tar.gz\"").as_str())
    );
    assert_eq!(served.body, archive, "the same bytes as over gRPC");

    let admin = get(
        stack.gateway,
        &export.download_uri,
        Some(&acme.admin_session),
    )
    .await;
    assert_eq!(
        admin.status,
        403,
        "{:?}",
        String::from_utf8_lossy(&admin.body)
    );
    let anonymous = get(stack.gateway, &export.download_uri, None).await;
    assert_eq!(anonymous.status, 401);
    let nowhere = get(
        stack.gateway,
        &format!("/v1/{unknown}:download"),
        Some(&operator),
    )
    .await;
    assert_eq!(
        nowhere.status,
        404,
        "{:?}",
        String::from_utf8_lossy(&nowhere.body)
    );
    let body: serde_json::Value = serde_json::from_slice(&nowhere.body).expect("error body");
    assert_eq!(body["error"]["status"], "NOT_FOUND");
    let not_the_method = get(stack.gateway, &format!("/v1/{name}"), Some(&operator)).await;
    assert_eq!(not_the_method.status, 404);
}

#[tokio::test]
async fn an_export_downloads_over_grpc_and_rest_on_sqlite() {
    an_export_downloads_over_grpc_and_rest(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_export_downloads_over_grpc_and_rest_on_postgres() {
    an_export_downloads_over_grpc_and_rest(Backend::Postgres).await;
}
