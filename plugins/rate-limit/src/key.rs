//! A call's budget key: the configured parts, in order, as one string.

use protogate_core::{CallInfo, RequestHeader};

use crate::config::KeyPart;

/// Separates the parts (a byte no header value or route name carries).
const SEPARATOR: char = '\u{1f}';

/// The key of the call's budget under `parts`. An absent header counts as
/// empty (callers without it share one budget); a header that is not
/// UTF-8 is keyed by its bytes' lossy text.
pub fn build(parts: &[KeyPart], call: &CallInfo, request: &RequestHeader) -> String {
    let mut key = String::with_capacity(48);
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            key.push(SEPARATOR);
        }
        match part {
            KeyPart::ClientIp => {
                if let Some(ip) = call.client_addr {
                    protogate_core::ip::push_ip(&mut key, ip);
                }
            }
            KeyPart::Route => key.push_str(call.route.as_deref().unwrap_or("")),
            KeyPart::GrpcMethod => {
                key.push_str(&call.grpc_service);
                key.push('/');
                key.push_str(&call.grpc_method);
            }
            KeyPart::Header(name) => {
                if let Some(value) = request.headers.get(name) {
                    match value.to_str() {
                        Ok(text) => key.push_str(text),
                        Err(_) => key.push_str(&String::from_utf8_lossy(value.as_bytes())),
                    }
                }
            }
        }
    }
    key
}

/// The key as logs show it: parts separated by `|`.
pub fn readable(key: &str) -> String {
    key.replace(SEPARATOR, "|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_join_in_order() {
        let call = CallInfo {
            client_addr: Some("192.0.2.7".parse().expect("ip")),
            route: Some("orders".into()),
            grpc_service: "shop.v1.Orders".into(),
            grpc_method: "Get".into(),
            ..Default::default()
        };
        let mut request = RequestHeader::build("POST", b"/", None).expect("header");
        request.insert_header("x-api-key", "k1").expect("header");
        let parts = [
            KeyPart::Header(http::HeaderName::from_static("x-api-key")),
            KeyPart::ClientIp,
            KeyPart::GrpcMethod,
            KeyPart::Route,
        ];
        let key = build(&parts, &call, &request);
        assert_eq!(readable(&key), "k1|192.0.2.7|shop.v1.Orders/Get|orders");
        let without = RequestHeader::build("POST", b"/", None).expect("header");
        assert_eq!(readable(&build(&parts[..2], &call, &without)), "|192.0.2.7");
    }
}
