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
/// Headers the caller's `Connection` header names are hop-by-hop too.
pub fn forward_request_headers(
    from: &HeaderMap,
    to: &mut RequestHeader,
) -> Result<(), GatewayError> {
    let connection_scoped: Vec<String> = from
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect();
    for (name, value) in from {
        if !forwarded(name) || connection_scoped.iter().any(|t| t == name.as_str()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_reserved_and_connection_scoped_headers_stay_behind() {
        let mut from = HeaderMap::new();
        for (name, value) in [
            ("x-tenant", "acme"),
            ("x-debug-hop", "1"),
            ("connection", "keep-alive, X-Debug-Hop"),
            ("te", "gzip"),
            ("content-type", "application/json"),
            ("grpc-status", "0"),
            ("grpc-timeout", "1S"),
            ("authorization", "Bearer t"),
        ] {
            from.append(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_static(value),
            );
        }
        let mut to = RequestHeader::build("POST", b"/a.B/C", None).expect("header");
        forward_request_headers(&from, &mut to).expect("forwarded");
        let mut names: Vec<&str> = to.headers.keys().map(http::HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["authorization", "grpc-timeout", "x-tenant"]);
    }
}
