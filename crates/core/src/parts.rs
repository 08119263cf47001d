//! Editing Pingora's headers through the `http::HeaderMap` inside them.
//!
//! Every write through Pingora's own API (`insert_header`, `append_header`)
//! parses the name again from bytes, allocating for a name `http` does not
//! know, and keeps a second, case-preserving map when the header has one.
//! A plugin writing several headers per call (`header_map`'s rules,
//! `rate_limit`'s fields) pays that on every write. A header with no case map (everything that
//! goes to or comes from an HTTP/2 peer, so every gRPC upstream request) is
//! plain `http` parts underneath: it is taken apart with Pingora's own
//! `From` conversions, edited with pre-built `HeaderName`s, and put back.
//! What the conversions do not carry over (the raw request target, the
//! HTTP/2 end-of-stream flag, the reason phrase) is checked or restored
//! here, so the header comes back the same but for the edit.

use http::{HeaderMap, Version};
use pingora_http::{RequestHeader, ResponseHeader};

/// Runs `edit` on the request's header map when it keeps no case map and
/// its target is its URI's path and query (what `From<Parts>` rebuilds).
/// Returns `edit` unused otherwise, for the caller's slower path.
pub fn edit_request<F: FnOnce(&mut HeaderMap)>(
    request: &mut RequestHeader,
    edit: F,
) -> Result<(), F> {
    if request.has_case() || !target_round_trips(request) {
        return Err(edit);
    }
    let end_stream = end_stream_flag(request);
    let placeholder = RequestHeader::from(http::Request::new(()).into_parts().0);
    let mut parts: http::request::Parts = std::mem::replace(request, placeholder).into();
    edit(&mut parts.headers);
    *request = RequestHeader::from(parts);
    request.set_send_end_stream(end_stream);
    Ok(())
}

/// Runs `edit` on the response's header map when it keeps no case map.
/// Returns `edit` unused otherwise, for the caller's slower path.
pub fn edit_response<F: FnOnce(&mut HeaderMap)>(
    response: &mut ResponseHeader,
    edit: F,
) -> Result<(), F> {
    if response.has_case() {
        return Err(edit);
    }
    let reason = response.get_reason_phrase().map(str::to_owned);
    let placeholder = ResponseHeader::from(http::Response::new(()).into_parts().0);
    let mut parts: http::response::Parts = std::mem::replace(response, placeholder).into();
    edit(&mut parts.headers);
    *response = ResponseHeader::from(parts);
    if reason.is_some() {
        // The phrase came out of a valid header: setting it back cannot fail.
        let _ = response.set_reason_phrase(reason.as_deref());
    }
    Ok(())
}

/// Whether the request's raw target is what its URI gives back (origin
/// form), so rebuilding the header from its parts keeps it.
fn target_round_trips(request: &RequestHeader) -> bool {
    let from_uri = request.uri.path_and_query().map(|p| p.as_str().as_bytes());
    from_uri == Some(request.raw_path())
}

/// Whether the request ends its HTTP/2 stream with the header when it has
/// no body. Pingora reports the flag only for HTTP/2 requests, so the
/// version is switched for the read and put back.
fn end_stream_flag(request: &mut RequestHeader) -> bool {
    let version = request.version;
    request.set_version(Version::HTTP_2);
    let flag = request.send_end_stream().unwrap_or(true);
    request.set_version(version);
    flag
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn request_keeps_everything_but_the_edit() {
        let mut request =
            RequestHeader::build_no_case("POST", b"/pkg.Svc/Method?x=1", None).unwrap();
        request.insert_header("te", "trailers").unwrap();
        request.set_version(Version::HTTP_2);
        request.set_send_end_stream(false);
        let edited = edit_request(&mut request, |map| {
            map.insert("x-added", http::HeaderValue::from_static("1"));
        });
        assert!(edited.is_ok());
        assert_eq!(request.raw_path(), b"/pkg.Svc/Method?x=1");
        assert_eq!(request.method, http::Method::POST);
        assert_eq!(request.version, Version::HTTP_2);
        assert_eq!(request.send_end_stream(), Some(false));
        assert_eq!(request.headers["te"], "trailers");
        assert_eq!(request.headers["x-added"], "1");
        assert!(!request.has_case());
    }

    #[test]
    fn request_with_case_or_absolute_target_takes_the_slow_path() {
        let mut h1 = RequestHeader::build("GET", b"/", None).unwrap();
        assert!(edit_request(&mut h1, |_| {}).is_err());
        let mut absolute =
            RequestHeader::build_no_case("GET", b"http://example.com/a", None).unwrap();
        assert!(edit_request(&mut absolute, |_| {}).is_err());
        assert_eq!(absolute.raw_path(), b"http://example.com/a");
    }

    #[test]
    fn response_keeps_status_and_reason() {
        let mut response = ResponseHeader::build_no_case(200, None).unwrap();
        response.set_reason_phrase(Some("Fine")).unwrap();
        response.insert_header("grpc-status", "0").unwrap();
        let edited = edit_response(&mut response, |map| {
            map.remove("grpc-status");
        });
        assert!(edited.is_ok());
        assert_eq!(response.status, 200);
        assert_eq!(response.get_reason_phrase(), Some("Fine"));
        assert!(response.headers.get("grpc-status").is_none());
        let mut h1 = ResponseHeader::build(200, None).unwrap();
        assert!(edit_response(&mut h1, |_| {}).is_err());
    }
}
