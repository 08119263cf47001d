//! `rescue`: the one place that turns a [`GatewayError`] into bytes on the wire.
//!
//! gRPC callers (gRPC-Web included) get HTTP 200 with `grpc-status` and
//! `grpc-message` in a trailers-only response (one HEADERS frame that ends the
//! stream), never a bare 502 or an HTML page. REST callers get
//! `{"code": <grpc code>, "message": "...", "details": []}` with the mapped
//! HTTP status. When response headers already went out, the proxy sends
//! [`trailers_for`] instead.

use base64::Engine;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue};
use pingora_http::ResponseHeader;
use protogate_grpc::message::encode_grpc_message;
use protogate_grpc::status::Code;

use crate::{CallerProtocol, GatewayError};

/// A rendered local answer: a header and, for REST callers, a body.
#[derive(Debug)]
pub struct Rendered {
    /// The response header to write.
    pub header: ResponseHeader,
    /// The body, if any; `None` means the header ends the response
    /// (a gRPC trailers-only answer).
    pub body: Option<Bytes>,
}

/// Renders `error` for a caller speaking `protocol`.
pub fn rescue(error: &GatewayError, protocol: CallerProtocol) -> Rendered {
    if protocol.is_grpc() {
        render_grpc(error, protocol)
    } else {
        render_json(error)
    }
}

/// The trailers that end a gRPC response whose headers already went out.
pub fn trailers_for(error: &GatewayError) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(3);
    map.insert("grpc-status", error.code.header_value());
    if let Some(message) = grpc_message_value(error) {
        map.insert("grpc-message", message);
    }
    if let Some(details) = details_value(error) {
        map.insert("grpc-status-details-bin", details);
    }
    map
}

fn render_grpc(error: &GatewayError, protocol: CallerProtocol) -> Rendered {
    let mut header = build_header(200);
    insert(
        &mut header,
        CONTENT_TYPE,
        HeaderValue::from_static(protocol.response_content_type()),
    );
    for (name, value) in trailers_for(error) {
        if let Some(name) = name {
            insert(&mut header, name, value);
        }
    }
    for (name, value) in &error.headers {
        insert(&mut header, name.clone(), value.clone());
    }
    if matches!(
        protocol,
        CallerProtocol::GrpcWeb | CallerProtocol::GrpcWebText
    ) {
        insert(&mut header, CONTENT_LENGTH, HeaderValue::from_static("0"));
    }
    Rendered { header, body: None }
}

fn render_json(error: &GatewayError) -> Rendered {
    let body = Bytes::from(json_error_body(
        error.code,
        &error.message,
        &error.json_details,
    ));
    let mut header = build_header(error.http_status());
    insert(
        &mut header,
        CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    insert(
        &mut header,
        CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    insert(&mut header, CONTENT_LENGTH, HeaderValue::from(body.len()));
    for (name, value) in &error.headers {
        insert(&mut header, name.clone(), value.clone());
    }
    Rendered {
        header,
        body: Some(body),
    }
}

/// The JSON error body every REST caller gets, from the gateway or (through
/// the transcoder) from the upstream: `{"code":N,"message":"...","details":[...]}`,
/// keys in that order.
pub fn json_error_body(code: Code, message: &str, details: &[serde_json::Value]) -> Vec<u8> {
    let message = serde_json::to_string(message).unwrap_or_else(|_| "\"\"".to_owned());
    let details = serde_json::to_string(details).unwrap_or_else(|_| "[]".to_owned());
    format!(
        "{{\"code\":{},\"message\":{message},\"details\":{details}}}",
        code.as_u8()
    )
    .into_bytes()
}

fn grpc_message_value(error: &GatewayError) -> Option<HeaderValue> {
    if error.message.is_empty() {
        return None;
    }
    // Percent-encoding leaves only visible ASCII, always a valid value.
    HeaderValue::from_str(&encode_grpc_message(&error.message)).ok()
}

fn details_value(error: &GatewayError) -> Option<HeaderValue> {
    let details = error.details.as_ref()?;
    let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(details);
    HeaderValue::from_str(&encoded).ok()
}

fn build_header(status: u16) -> ResponseHeader {
    // Every status we produce is valid; a nonsensical one from a plugin
    // becomes 500 rather than a panic. Built from `http` parts: infallible.
    let mut response = http::Response::new(());
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    ResponseHeader::from(response.into_parts().0)
}

fn insert(header: &mut ResponseHeader, name: http::HeaderName, value: HeaderValue) {
    // insert_header only fails on invalid names/values, which typed inputs rule out.
    let _ = header.insert_header(name, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use protogate_grpc::status::Code;

    #[test]
    fn grpc_callers_get_a_trailers_only_answer() {
        let err = GatewayError::unavailable("upstream `products` refused: 100% down");
        let out = rescue(&err, CallerProtocol::Grpc);
        assert_eq!(out.header.status.as_u16(), 200);
        assert!(out.body.is_none());
        let h = &out.header.headers;
        assert_eq!(h["content-type"], "application/grpc");
        assert_eq!(h["grpc-status"], "14");
        assert_eq!(
            h["grpc-message"],
            "upstream `products` refused: 100%25 down"
        );
    }

    #[test]
    fn http_callers_get_json_with_the_mapped_status() {
        let err = GatewayError::no_route("no route for GET /nope");
        let out = rescue(&err, CallerProtocol::Http);
        assert_eq!(out.header.status.as_u16(), 404);
        let body: serde_json::Value =
            serde_json::from_slice(&out.body.expect("json body")).expect("valid json");
        assert_eq!(body["code"], 12);
        assert_eq!(body["message"], "no route for GET /nope");
        assert_eq!(body["details"], serde_json::json!([]));
        assert_eq!(out.header.headers["content-type"], "application/json");
    }

    #[test]
    fn details_travel_as_unpadded_base64() {
        let mut err = GatewayError::new(Code::ResourceExhausted, "slow down");
        err.details = Some(Bytes::from_static(b"\x08\x08"));
        let trailers = trailers_for(&err);
        assert_eq!(trailers["grpc-status"], "8");
        assert_eq!(trailers["grpc-status-details-bin"], "CAg");
    }
}
