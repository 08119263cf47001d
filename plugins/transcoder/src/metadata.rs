//! Headers and gRPC metadata across the transcoder.
//!
//! Request headers reach the upstream as metadata, except hop-by-hop
//! headers, the ones that describe the REST body (`content-type`,
//! `content-length`, `accept-encoding`), and reserved `grpc-*` names, which
//! a REST client cannot set (`grpc-timeout` excepted: it is the caller's
//! deadline, as with grpc-gateway). The upstream's response metadata and
//! trailers come back as response headers, without the gRPC framing ones.

use http::header::HeaderName;
use http::HeaderMap;
use protogate_core::{GatewayError, RequestHeader, ResponseHeader};

/// Headers that describe one connection or the REST body, never forwarded.
const NOT_FORWARDED: [&str; 13] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "content-length",
    "content-type",
    "accept-encoding",
    "expect",
    "http2-settings",
];

/// gRPC framing headers that do not come back to a REST client.
const NOT_RETURNED: [&str; 11] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
];

/// Copies the caller's headers onto the upstream request as metadata.
pub fn forward_request_headers(
    from: &HeaderMap,
    to: &mut RequestHeader,
) -> Result<(), GatewayError> {
    for (name, value) in from {
        if !forwarded(name) {
            continue;
        }
        to.append_header(name.clone(), value.clone())
            .map_err(|e| GatewayError::internal(e.to_string()))?;
    }
    Ok(())
}

fn forwarded(name: &HeaderName) -> bool {
    let name = name.as_str();
    if NOT_FORWARDED.contains(&name) {
        return false;
    }
    !name.starts_with("grpc-") || name == "grpc-timeout"
}

/// Copies the upstream's response metadata, then its trailers, onto the
/// REST answer's headers.
pub fn return_metadata(
    header: &HeaderMap,
    trailers: Option<&HeaderMap>,
    to: &mut ResponseHeader,
) -> Result<(), GatewayError> {
    for map in std::iter::once(header).chain(trailers) {
        for (name, value) in map {
            let text = name.as_str();
            if NOT_RETURNED.contains(&text) || text.starts_with("grpc-") {
                continue;
            }
            to.append_header(name.clone(), value.clone())
                .map_err(|e| GatewayError::internal(e.to_string()))?;
        }
    }
    Ok(())
}
