//! The one error type every plugin and every phase of the gateway returns.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use protogate_grpc::status::Code;

/// An error the gateway answers itself, in the caller's protocol.
///
/// It carries a gRPC [`Code`] (what a gRPC caller sees in `grpc-status`) and,
/// when the default mapping of that code to HTTP is not the right answer for a
/// REST caller (413 for an oversize body, 405 for a wrong method), an explicit
/// HTTP status. [`crate::rescue`] renders it.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayError {
    /// The gRPC status code.
    pub code: Code,
    /// A message for humans; sent as `grpc-message` or the JSON `message`.
    pub message: Cow<'static, str>,
    /// Overrides `code.to_http_status()` for HTTP callers.
    pub http_status: Option<u16>,
    /// Extra response headers (e.g. `retry-after`, `allow`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// An encoded `google.rpc.Status`, sent as `grpc-status-details-bin`.
    pub details: Option<Bytes>,
    /// The same details as REST callers see them: the `details` list of
    /// the JSON error body (proto3 JSON of each `Any`, with `@type`).
    pub json_details: Vec<serde_json::Value>,
}

impl GatewayError {
    /// An error with `code` and `message` and nothing else.
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            http_status: None,
            headers: Vec::new(),
            details: None,
            json_details: Vec::new(),
        }
    }

    /// No route matched, or the method is unknown: UNIMPLEMENTED / 404.
    pub fn no_route(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::Unimplemented, message).with_http_status(404)
    }

    /// The upstream could not be reached or failed: UNAVAILABLE / 503.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::Unavailable, message)
    }

    /// A deadline passed: DEADLINE_EXCEEDED / 504.
    pub fn deadline_exceeded(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::DeadlineExceeded, message)
    }

    /// A message or body over its limit: RESOURCE_EXHAUSTED / 413.
    pub fn too_large(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::ResourceExhausted, message).with_http_status(413)
    }

    /// Bad input from the caller: INVALID_ARGUMENT / 400.
    pub fn invalid_argument(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    /// A bug or an impossible state in the gateway: INTERNAL / 500.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::Internal, message)
    }

    /// Sets the HTTP status REST callers get instead of the code's default.
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// Adds a response header (sent to every kind of caller).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The HTTP status a REST caller gets.
    pub fn http_status(&self) -> u16 {
        self.http_status
            .unwrap_or_else(|| self.code.to_http_status())
    }
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for GatewayError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_defaults_to_the_code_table_and_can_be_overridden() {
        assert_eq!(GatewayError::unavailable("x").http_status(), 503);
        assert_eq!(GatewayError::no_route("x").http_status(), 404);
        assert_eq!(GatewayError::too_large("x").http_status(), 413);
        assert_eq!(GatewayError::deadline_exceeded("x").http_status(), 504);
    }
}
