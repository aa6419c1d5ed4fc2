//! `GET /v1/tenants/{tenant}/exports/{export}:download`: the archive of a
//! tenant export, where `TenantExport.download_uri` points.
//!
//! The download is the streaming gRPC call DownloadTenantExport sent down
//! the very path every call takes (authentication, the operator-only rule,
//! rate limits, the internal credential), so the link grants nothing the
//! caller's credential does not. The chunks are joined and answered as one
//! `application/gzip` attachment; refusals come as the REST API's AIP-193
//! error bodies (404 for an unknown export, 403 for anyone but the platform
//! operator, 400 FAILED_PRECONDITION while not downloadable).

use std::sync::Arc;

use axum::{
    extract::{Path, Request},
    response::{IntoResponse, Response},
};
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, StatusCode, header};
use kefu_proto::v1::{DownloadTenantExportRequest, TenantExportChunk};
use prost::Message;
use tonic::Status;

use crate::{
    proxy::ProxyState,
    rest::{call_as_grpc, error_response},
};

/// The suffix of the custom method in the last path segment.
const DOWNLOAD_SUFFIX: &str = ":download";

/// `GET /v1/tenants/{tenant}/exports/{export}` (only `{export}:download`).
pub(crate) async fn download(
    state: Arc<ProxyState>,
    Path((tenant, export)): Path<(String, String)>,
    request: Request,
) -> Response {
    let Some(export) = export.strip_suffix(DOWNLOAD_SUFFIX) else {
        return error_response(&Status::not_found(format!(
            "no such path; the archive is at /v1/tenants/{tenant}/exports/{export}{DOWNLOAD_SUFFIX}"
        )));
    };
    match archive(&state, &tenant, export, request).await {
        Ok(archive) => {
            let disposition =
                HeaderValue::from_str(&format!("attachment; filename=\"{export}.tar.gz\""))
                    .unwrap_or_else(|_| {
                        HeaderValue::from_static("attachment; filename=\"export.tar.gz\"")
                    });
            (
                StatusCode::OK,
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/gzip"),
                    ),
                    (header::CONTENT_DISPOSITION, disposition),
                    // A tenant's whole data: no shared cache keeps a copy.
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                archive,
            )
                .into_response()
        }
        Err(status) => error_response(&status),
    }
}

/// The archive, joined from the chunks DownloadTenantExport answers.
async fn archive(
    state: &ProxyState,
    tenant: &str,
    export: &str,
    request: Request,
) -> Result<Bytes, Status> {
    let input = DownloadTenantExportRequest {
        name: format!("tenants/{tenant}/exports/{export}"),
    };
    let (parts, _) = request.into_parts();
    let messages = call_as_grpc(
        state,
        "kefu.v1.TenantService/DownloadTenantExport",
        &input,
        parts,
    )
    .await?;
    join_chunks(messages)
}

/// The `data` of every chunk, in order.
fn join_chunks(messages: Vec<Bytes>) -> Result<Bytes, Status> {
    let mut archive = BytesMut::new();
    for message in messages {
        let chunk = TenantExportChunk::decode(message)
            .map_err(|_| Status::internal("the service's answer does not decode"))?;
        archive.extend_from_slice(&chunk.data);
    }
    Ok(archive.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::frames;

    fn frame(chunk: &TenantExportChunk) -> Vec<u8> {
        let mut framed = vec![0];
        framed.extend_from_slice(&u32::try_from(chunk.encoded_len()).unwrap().to_be_bytes());
        framed.extend_from_slice(&chunk.encode_to_vec());
        framed
    }

    #[test]
    fn the_chunks_of_every_frame_are_joined_in_order() {
        let mut answer = frame(&TenantExportChunk {
            data: vec![0x1f, 0x8b],
            offset: 0,
        });
        answer.extend(frame(&TenantExportChunk {
            data: vec![8, 0],
            offset: 2,
        }));
        let messages = frames(Bytes::from(answer)).expect("framed");
        let archive = join_chunks(messages).expect("joined");
        assert_eq!(archive.as_ref(), [0x1f, 0x8b, 8, 0]);
        assert!(join_chunks(Vec::new()).expect("empty").is_empty());
    }

    #[test]
    fn a_cut_off_answer_is_an_error() {
        let mut answer = frame(&TenantExportChunk {
            data: vec![1, 2, 3],
            offset: 0,
        });
        answer.pop();
        assert!(frames(Bytes::from(answer)).is_err());
    }
}
