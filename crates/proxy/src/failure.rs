//! What a Pingora error means for the caller.

use pingora_error::{Error, ErrorSource, ErrorType};
use protogate_core::{Code, GatewayError};

use crate::ctx::RequestCtx;

/// The error of a call whose upstream has no target passing its health
/// check (none is tried).
pub const NO_HEALTHY_TARGET: &str = "NoHealthyTarget";

/// Classifies a proxying failure. `None` means the caller itself went away
/// (nothing can be written back).
pub fn classify(error: &Error, ctx: &RequestCtx) -> Option<GatewayError> {
    let upstream = ctx.call.upstream.as_deref().unwrap_or("?");
    let target = ctx.target.as_deref().unwrap_or("?");
    let etype = error.etype();
    if *etype == ErrorType::Custom(NO_HEALTHY_TARGET) {
        return Some(GatewayError::unavailable(format!(
            "upstream `{upstream}`: every target is failing its health check"
        )));
    }
    if *etype == ErrorType::TLSHandshakeFailure {
        // The certificate check that failed is in the cause.
        return Some(GatewayError::unavailable(format!(
            "upstream `{upstream}` ({target}): {}",
            crate::connect::failure_reason(error)
        )));
    }
    if let ErrorType::HTTPStatus(status) = etype {
        let code = Code::from_http_status(*status);
        return Some(GatewayError::new(code, format!("HTTP {status}")).with_http_status(*status));
    }
    match error.esource() {
        ErrorSource::Downstream => match etype {
            ErrorType::ReadError | ErrorType::WriteError | ErrorType::ConnectionClosed => None,
            _ => Some(GatewayError::invalid_argument(format!(
                "bad request: {etype:?}"
            ))),
        },
        ErrorSource::Upstream => Some(upstream_error(etype, upstream, target)),
        ErrorSource::Internal | ErrorSource::Unset => match etype {
            ErrorType::ConnectTimedout
            | ErrorType::ConnectRefused
            | ErrorType::ConnectNoRoute
            | ErrorType::ConnectError
            | ErrorType::ConnectProxyFailure => Some(upstream_error(etype, upstream, target)),
            _ => Some(GatewayError::internal(format!("gateway error: {etype:?}"))),
        },
    }
}

fn upstream_error(etype: &ErrorType, upstream: &str, target: &str) -> GatewayError {
    let what = match etype {
        ErrorType::ConnectTimedout => "connect timed out",
        ErrorType::ConnectRefused => "connection refused",
        ErrorType::ConnectNoRoute => "no route to host",
        ErrorType::ConnectError => "connect failed",
        ErrorType::ReadError | ErrorType::ReadTimedout => {
            "read failed (connection reset or stream closed)"
        }
        ErrorType::WriteError | ErrorType::WriteTimedout => {
            "write failed (connection reset or stream closed)"
        }
        ErrorType::ConnectionClosed => "connection closed",
        ErrorType::H2Error => "HTTP/2 error",
        ErrorType::InvalidHTTPHeader => "invalid response header",
        _ => "failed",
    };
    GatewayError::unavailable(format!("upstream `{upstream}` ({target}): {what}"))
}
