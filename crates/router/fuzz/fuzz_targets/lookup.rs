//! Builds a route table from fuzzer bytes and looks up fuzzer-built requests.
//!
//! Two properties: nothing panics, whatever the specs and requests; and the
//! indexed lookup always gives the same answer as the linear scan over the
//! same routes in precedence order.
//!
//! Strings are drawn mostly from a small vocabulary of path, service and host
//! pieces so that routes and requests collide often (a purely random string
//! almost never equals a route key); some are fully arbitrary, to cover odd
//! bytes and multi-byte characters.

#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use protogate_router::{Request, RouteSpec, RouteTable};

const PIECES: &[&str] = &[
    "/",
    "a",
    "B",
    ".",
    "a.B",
    "/a.B/",
    "C",
    "api",
    "v1",
    "*.",
    "*",
    ":",
    "80",
    "é",
    "example.com",
    "x",
    "",
];
const HEADER_NAMES: &[&str] = &["x-a", "x-b", "content-type"];
const HEADER_VALUES: &[&str] = &["1", "2", "application/grpc", ""];

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let count = u.int_in_range(0..=32)?;
    let mut routes = Vec::with_capacity(count);
    for i in 0..count {
        routes.push((spec(&mut u)?, i));
    }
    let table = RouteTable::new(routes);
    assert_eq!(table.iter().count(), table.len());
    while !u.is_empty() {
        let grpc = u.arbitrary()?;
        let method = method(&mut u)?;
        let path = text(&mut u)?;
        let host = if u.arbitrary()? {
            Some(text(&mut u)?)
        } else {
            None
        };
        let mut headers = HeaderMap::new();
        for _ in 0..u.int_in_range(0..=3)? {
            let name = HeaderName::from_static(*u.choose(HEADER_NAMES)?);
            headers.append(name, HeaderValue::from_static(*u.choose(HEADER_VALUES)?));
        }
        let req = Request {
            grpc,
            method: &method,
            path: &path,
            host: host.as_deref(),
            headers: &headers,
        };
        assert_eq!(table.lookup(&req), table.lookup_linear(&req));
    }
    Ok(())
}

fn spec(u: &mut Unstructured<'_>) -> Result<RouteSpec> {
    let mut spec = RouteSpec::default();
    if u.ratio(1, 4)? {
        spec.grpc_method = Some(text(u)?);
    }
    if u.ratio(1, 4)? {
        spec.grpc_service = Some(text(u)?);
    }
    if u.ratio(1, 4)? {
        spec.path = Some(text(u)?);
    }
    if u.ratio(1, 2)? {
        spec.path_prefix = Some(text(u)?);
    }
    for _ in 0..u.int_in_range(0..=2)? {
        spec.methods.push(method(u)?);
    }
    if u.ratio(1, 3)? {
        spec.host = Some(text(u)?);
    }
    for _ in 0..u.int_in_range(0..=2)? {
        let name = HeaderName::from_static(*u.choose(HEADER_NAMES)?);
        spec.headers.push((name, text(u)?));
    }
    Ok(spec)
}

fn method(u: &mut Unstructured<'_>) -> Result<Method> {
    Ok(match u.int_in_range(0..=3)? {
        0 => Method::GET,
        1 => Method::POST,
        2 => Method::PUT,
        _ => Method::from_bytes(b"PURGE").unwrap_or_default(),
    })
}

/// Mostly vocabulary pieces glued together; sometimes any string at all.
fn text(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(1, 8)? {
        return u.arbitrary();
    }
    let mut s = String::new();
    for _ in 0..u.int_in_range(0..=5)? {
        s.push_str(u.choose(PIECES)?);
    }
    Ok(s)
}
