//! A call's deadline and the budget the upstream is told: shared by the
//! gRPC forwarding loop and the calls plugins make themselves.

use std::future::Future;
use std::time::Duration;

use http::HeaderValue;
use pingora_http::RequestHeader;
use protogate_config::Timeout;
use protogate_core::GatewayError;
use protogate_grpc::timeout::{format_grpc_timeout, parse_grpc_timeout};
use tokio::time::Instant;

/// The instant this call must end by: the caller's `grpc-timeout` when it
/// sent one, else `default` (the route's or the upstream's `timeout`);
/// `None` when neither sets a limit. A malformed `grpc-timeout` is the
/// caller's error.
pub fn call_deadline(
    request: &RequestHeader,
    started: Instant,
    default: Timeout,
) -> Result<Option<Instant>, GatewayError> {
    let budget = match request.headers.get("grpc-timeout") {
        Some(value) => Some(parse_grpc_timeout(value.as_bytes()).map_err(|e| {
            GatewayError::invalid_argument(format!(
                "malformed grpc-timeout {:?}: {e}",
                String::from_utf8_lossy(value.as_bytes())
            ))
        })?),
        None => match default {
            Timeout::Off => None,
            Timeout::After(limit) => Some(limit),
        },
    };
    Ok(budget.map(|b| started + b))
}

/// Writes the budget left at this moment into the upstream request, so the
/// upstream knows how long the caller still waits (never the original value).
pub fn tell_upstream(request: &mut RequestHeader, deadline: Instant) -> Result<(), GatewayError> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_nanos(1));
    let encoded = format_grpc_timeout(left);
    let value = HeaderValue::from_bytes(encoded.as_bytes())
        .map_err(|e| GatewayError::internal(format!("grpc-timeout encoding: {e}")))?;
    request
        .insert_header("grpc-timeout", value)
        .map_err(|e| GatewayError::internal(e.to_string()))
}

/// Awaits `future`, bounded by the deadline when there is one.
pub async fn within<F: Future>(
    deadline: Option<Instant>,
    future: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await,
        None => Ok(future.await),
    }
}

/// Awaits `future` under the deadline; a passed deadline is the caller's
/// DEADLINE_EXCEEDED.
pub async fn bounded<F: Future>(
    deadline: Option<Instant>,
    from_caller: bool,
    future: F,
) -> Result<F::Output, GatewayError> {
    within(deadline, future)
        .await
        .map_err(|_| exceeded(from_caller))
}

/// The error a passed deadline gives the caller.
pub fn exceeded(deadline_from_caller: bool) -> GatewayError {
    if deadline_from_caller {
        GatewayError::deadline_exceeded("deadline exceeded (the caller's grpc-timeout)")
    } else {
        GatewayError::deadline_exceeded("deadline exceeded (the route's timeout)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(timeout: Option<&str>) -> RequestHeader {
        let mut r = RequestHeader::build("POST", b"/a.B/C", None).expect("header");
        if let Some(t) = timeout {
            r.insert_header("grpc-timeout", t).expect("insert");
        }
        r
    }

    #[test]
    fn the_callers_timeout_wins_over_the_default() {
        let now = Instant::now();
        let d = call_deadline(
            &request(Some("250m")),
            now,
            Timeout::After(Duration::from_secs(30)),
        )
        .expect("ok");
        assert_eq!(d, Some(now + Duration::from_millis(250)));
    }

    #[test]
    fn the_default_caps_a_call_without_one_and_off_means_none() {
        let now = Instant::now();
        let d =
            call_deadline(&request(None), now, Timeout::After(Duration::from_secs(2))).expect("ok");
        assert_eq!(d, Some(now + Duration::from_secs(2)));
        assert_eq!(
            call_deadline(&request(None), now, Timeout::Off).expect("ok"),
            None
        );
    }

    #[test]
    fn a_malformed_timeout_is_invalid_argument() {
        let err =
            call_deadline(&request(Some("soon")), Instant::now(), Timeout::Off).expect_err("bad");
        assert_eq!(err.code, protogate_core::Code::InvalidArgument);
    }

    #[test]
    fn the_upstream_is_told_what_is_left_not_the_original() {
        let mut r = request(Some("10S"));
        tell_upstream(&mut r, Instant::now() + Duration::from_millis(1500)).expect("ok");
        let sent = r.headers["grpc-timeout"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let left = parse_grpc_timeout(sent.as_bytes()).expect("valid");
        assert!(
            left <= Duration::from_millis(1500) && left > Duration::from_millis(1000),
            "{sent}"
        );
    }
}
