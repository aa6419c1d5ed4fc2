//! REST/JSON for simple integrations: every unary `kefu.v1` method is also
//! `POST /v1/{Service}/{Method}` with the request as proto3 JSON
//! (`POST /v1/TicketService/GetTicket` with `{"name": "tickets/…"}`).
//!
//! The JSON is turned into the protobuf request and sent down the very path
//! a gRPC call takes (authentication, the method's rule, rate limits, the
//! internal credential), so REST can never be a way around any of them. The
//! answer comes back as proto3 JSON; a refusal as the AIP-193 HTTP error
//! body `{"error": {"code", "status", "message", "details"}}` with the usual
//! HTTP status (404 NOT_FOUND, 429 with `Retry-After`, …). Streaming methods
//! (imports, exports) need gRPC; the one exception, the download of a tenant
//! export, has its own route in `download.rs`.

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Path, Request},
    response::{IntoResponse, Response},
};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use prost::Message;
use prost_reflect::{DynamicMessage, MethodDescriptor, SerializeOptions};
use serde_json::{Value, json};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::proxy::{ProxyState, try_forward};

/// The largest JSON body accepted (imports go through gRPC streaming).
const MAX_BODY: usize = 4 * 1024 * 1024;

fn method(service: &str, method: &str) -> Result<MethodDescriptor, Status> {
    let descriptor = crate::contract::method(service, method)
        .ok_or_else(|| Status::unimplemented(format!("no method kefu.v1.{service}/{method}")))?;
    if descriptor.is_client_streaming() || descriptor.is_server_streaming() {
        return Err(Status::unimplemented(format!(
            "kefu.v1.{service}/{method} streams: call it over gRPC"
        )));
    }
    Ok(descriptor)
}

/// `POST /v1/{service}/{method}`.
pub(crate) async fn call(
    state: Arc<ProxyState>,
    Path((service, method_name)): Path<(String, String)>,
    request: Request,
) -> Response {
    match answer(&state, &service, &method_name, request).await {
        Ok(json) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Err(status) => error_response(&status),
    }
}

async fn answer(
    state: &ProxyState,
    service: &str,
    method_name: &str,
    request: Request,
) -> Result<String, Status> {
    let descriptor = method(service, method_name)?;
    let (parts, body) = request.into_parts();
    let body = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| Status::invalid_argument("the body is unreadable or larger than 4 MiB"))?
        .to_bytes();
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        DynamicMessage::new(descriptor.input())
    } else {
        let mut deserializer = serde_json::Deserializer::from_slice(&body);
        DynamicMessage::deserialize(descriptor.input(), &mut deserializer)
            .and_then(|message| deserializer.end().map(|()| message))
            .map_err(|error| bad_json(&error))?
    };

    let messages = call_as_grpc(
        state,
        &format!("kefu.v1.{service}/{method_name}"),
        &input,
        parts,
    )
    .await?;
    let message = messages
        .into_iter()
        .next()
        .ok_or_else(|| Status::internal("the service answered without a message"))?;
    let output = DynamicMessage::decode(descriptor.output(), message)
        .map_err(|_| Status::internal("the service's answer does not decode"))?;
    let mut serializer = serde_json::Serializer::new(Vec::new());
    output
        .serialize_with_options(&mut serializer, &SerializeOptions::new())
        .map_err(|_| Status::internal("the answer is not representable as JSON"))?;
    String::from_utf8(serializer.into_inner()).map_err(|_| Status::internal("answer not UTF-8"))
}

/// Sends `input` to `path` (`kefu.v1.TicketService/GetTicket`) as the gRPC
/// call a client would have made, with the caller's headers (authorization,
/// tenant headers the gateway refuses, forwarded-for) and connection (its
/// address), down the gateway's own path; the encoded messages of the
/// answer, in order.
pub(crate) async fn call_as_grpc(
    state: &ProxyState,
    path: &str,
    input: &impl Message,
    parts: http::request::Parts,
) -> Result<Vec<Bytes>, Status> {
    let mut framed = BytesMut::with_capacity(5 + input.encoded_len());
    framed.put_u8(0);
    framed.put_u32(u32::try_from(input.encoded_len()).unwrap_or(u32::MAX));
    input
        .encode(&mut framed)
        .map_err(|_| Status::internal("request not encodable"))?;
    let mut grpc = http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("/{path}"))
        .body(Body::from(framed.freeze()))
        .map_err(|_| Status::internal("request not buildable"))?;
    *grpc.headers_mut() = parts.headers;
    grpc.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    grpc.headers_mut()
        .insert(header::TE, HeaderValue::from_static("trailers"));
    grpc.headers_mut().remove(header::CONTENT_LENGTH);
    *grpc.extensions_mut() = parts.extensions;

    let response = try_forward(state, grpc).await.map_err(Status::from)?;
    let (head, body) = response.into_parts();
    if let Some(status) = refusal(&head.headers) {
        return Err(status);
    }
    let collected = body
        .collect()
        .await
        .map_err(|_| Status::unavailable("the service's answer was cut off"))?;
    if let Some(status) = collected.trailers().and_then(refusal) {
        return Err(status);
    }
    frames(collected.to_bytes())
}

fn bad_json(error: &serde_json::Error) -> Status {
    let details = tonic_types::ErrorDetails::with_bad_request_violation(
        "body",
        format!("not a JSON request of this method: {error}"),
    );
    Status::with_error_details(
        Code::InvalidArgument,
        "the body is not a JSON request of this method",
        details,
    )
}

/// A non-OK `grpc-status` among `headers`, as a status.
fn refusal(headers: &http::HeaderMap) -> Option<Status> {
    Status::from_header_map(headers).filter(|status| status.code() != Code::Ok)
}

/// The messages of a gRPC answer body (each a 5-byte frame header, then it).
pub(crate) fn frames(mut data: Bytes) -> Result<Vec<Bytes>, Status> {
    let mut messages = Vec::new();
    while data.has_remaining() {
        if data.remaining() < 5 {
            return Err(Status::internal("the service's answer was cut off"));
        }
        if data.get_u8() != 0 {
            return Err(Status::internal("compressed answers are not expected"));
        }
        let length = data.get_u32() as usize;
        if data.remaining() < length {
            return Err(Status::internal("the service's answer was cut off"));
        }
        messages.push(data.split_to(length));
    }
    Ok(messages)
}

/// The HTTP status of a gRPC code (as Google's APIs map them).
pub(crate) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The canonical name of a gRPC code (`INVALID_ARGUMENT`).
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The AIP-193 HTTP error body of `status`, with its details as JSON.
pub(crate) fn error_body(status: &Status) -> Value {
    let details = status.get_error_details();
    let mut out = Vec::new();
    if let Some(info) = details.error_info() {
        out.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": info.reason,
            "domain": info.domain,
            "metadata": info.metadata,
        }));
    }
    if let Some(bad) = details.bad_request() {
        let violations: Vec<Value> = bad
            .field_violations
            .iter()
            .map(
                |violation| json!({"field": violation.field, "description": violation.description}),
            )
            .collect();
        out.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": violations,
        }));
    }
    if let Some(delay) = details.retry_info().and_then(|info| info.retry_delay) {
        out.push(json!({
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": format!("{:.3}s", delay.as_secs_f64()),
        }));
    }
    json!({
        "error": {
            "code": http_status(status.code()).as_u16(),
            "status": code_name(status.code()),
            "message": status.message(),
            "details": out,
        }
    })
}

pub(crate) fn error_response(status: &Status) -> Response {
    let mut response = (
        http_status(status.code()),
        [(header::CONTENT_TYPE, "application/json")],
        error_body(status).to_string(),
    )
        .into_response();
    let retry = status
        .get_error_details()
        .retry_info()
        .and_then(|info| info.retry_delay);
    if let Some(delay) = retry {
        let seconds = delay.max(Duration::from_secs(1)).as_secs_f64().ceil() as u64;
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_http_statuses() {
        assert_eq!(http_status(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(http_status(Code::InvalidArgument), StatusCode::BAD_REQUEST);
        assert_eq!(http_status(Code::Unauthenticated), StatusCode::UNAUTHORIZED);
        assert_eq!(http_status(Code::PermissionDenied), StatusCode::FORBIDDEN);
        assert_eq!(http_status(Code::Aborted), StatusCode::CONFLICT);
        assert_eq!(
            http_status(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            http_status(Code::Unimplemented),
            StatusCode::NOT_IMPLEMENTED
        );
    }

    #[test]
    fn an_error_body_carries_reason_fields_and_retry() {
        let mut details = tonic_types::ErrorDetails::with_bad_request_violation(
            "user.email",
            "is not an e-mail address",
        );
        details.set_error_info(
            "INVALID_ARGUMENT",
            "kefu.dev",
            std::collections::HashMap::new(),
        );
        details.set_retry_info(Some(Duration::from_millis(1500)));
        let status = Status::with_error_details(Code::InvalidArgument, "bad e-mail", details);
        let body = error_body(&status);
        assert_eq!(body["error"]["code"], 400);
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
        let details = body["error"]["details"].as_array().expect("details");
        assert!(
            details
                .iter()
                .any(|detail| detail["reason"] == "INVALID_ARGUMENT")
        );
        assert!(
            details
                .iter()
                .any(|detail| { detail["fieldViolations"][0]["field"] == "user.email" })
        );
        assert!(
            details
                .iter()
                .any(|detail| detail["retryDelay"] == "1.500s")
        );
    }

    #[test]
    fn streaming_and_unknown_methods_are_not_offered() {
        assert!(method("TicketService", "GetTicket").is_ok());
        assert_eq!(
            method("CustomerService", "ExportCustomers")
                .expect_err("streams")
                .code(),
            Code::Unimplemented
        );
        assert_eq!(
            method("TicketService", "Nope").expect_err("unknown").code(),
            Code::Unimplemented
        );
    }
}
