//! The matching contract, rule by rule, plus a randomized check that the
//! index gives the same answers as a linear scan.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::{Request, RouteSpec, RouteTable};

/// A request under test: owns what [`Request`] borrows.
struct Req {
    grpc: bool,
    method: Method,
    path: String,
    host: Option<String>,
    headers: HeaderMap,
}

impl Req {
    fn http(path: &str) -> Self {
        Self {
            grpc: false,
            method: Method::GET,
            path: path.into(),
            host: None,
            headers: HeaderMap::new(),
        }
    }

    fn grpc(path: &str) -> Self {
        Self {
            grpc: true,
            method: Method::POST,
            ..Self::http(path)
        }
    }

    fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    fn host(mut self, host: &str) -> Self {
        self.host = Some(host.into());
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.append(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
        self
    }

    fn view(&self) -> Request<'_> {
        Request {
            grpc: self.grpc,
            method: &self.method,
            path: &self.path,
            host: self.host.as_deref(),
            headers: &self.headers,
        }
    }
}

fn spec() -> RouteSpec {
    RouteSpec::default()
}

fn grpc_method(m: &str) -> RouteSpec {
    RouteSpec {
        grpc_method: Some(m.into()),
        ..spec()
    }
}

fn grpc_service(s: &str) -> RouteSpec {
    RouteSpec {
        grpc_service: Some(s.into()),
        ..spec()
    }
}

fn path(p: &str) -> RouteSpec {
    RouteSpec {
        path: Some(p.into()),
        ..spec()
    }
}

fn prefix(p: &str) -> RouteSpec {
    RouteSpec {
        path_prefix: Some(p.into()),
        ..spec()
    }
}

fn host(h: &str) -> RouteSpec {
    RouteSpec {
        host: Some(h.into()),
        ..spec()
    }
}

fn methods(ms: &[Method]) -> RouteSpec {
    RouteSpec {
        methods: ms.to_vec(),
        ..spec()
    }
}

fn headers(hs: &[(&'static str, &str)]) -> RouteSpec {
    RouteSpec {
        headers: hs
            .iter()
            .map(|&(n, v)| (HeaderName::from_static(n), v.to_owned()))
            .collect(),
        ..spec()
    }
}

/// Builds a table whose values are the declared positions.
fn table(specs: Vec<RouteSpec>) -> RouteTable<usize> {
    RouteTable::new(specs.into_iter().enumerate().map(|(i, s)| (s, i)).collect())
}

/// Looks up with the index, checks the linear oracle agrees, returns the
/// winner's declared position.
fn hit(table: &RouteTable<usize>, req: &Req) -> Option<usize> {
    let fast = table.lookup(&req.view()).copied();
    let slow = table.lookup_linear(&req.view()).copied();
    assert_eq!(fast, slow, "index and linear scan disagree on {}", req.path);
    fast
}

// ---- each key alone ----

#[test]
fn grpc_method_alone() {
    let t = table(vec![grpc_method("a.B/C")]);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C")), Some(0));
    assert_eq!(hit(&t, &Req::grpc("/a.B/D")), None);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C/")), None);
    assert_eq!(hit(&t, &Req::grpc("a.B/C")), None);
}

#[test]
fn grpc_service_alone() {
    let t = table(vec![grpc_service("a.B")]);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C")), Some(0));
    assert_eq!(hit(&t, &Req::grpc("/a.B/Anything")), Some(0));
    assert_eq!(hit(&t, &Req::grpc("/a.Bc/C")), None);
    assert_eq!(hit(&t, &Req::grpc("/x.a.B/C")), None);
}

#[test]
fn grpc_service_needs_one_non_empty_method_segment() {
    let t = table(vec![grpc_service("a.B")]);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C/D")), None);
    assert_eq!(hit(&t, &Req::grpc("/a.B/")), None);
    assert_eq!(hit(&t, &Req::grpc("/a.B")), None);
    assert_eq!(hit(&t, &Req::grpc("a.B/C")), None);
}

#[test]
fn path_alone_is_exact() {
    let t = table(vec![path("/health")]);
    assert_eq!(hit(&t, &Req::http("/health")), Some(0));
    assert_eq!(hit(&t, &Req::grpc("/health")), Some(0));
    assert_eq!(hit(&t, &Req::http("/health/")), None);
    assert_eq!(hit(&t, &Req::http("/healthz")), None);
    assert_eq!(hit(&t, &Req::http("/Health")), None);
}

#[test]
fn path_prefix_alone_is_a_plain_string_prefix() {
    let t = table(vec![prefix("/api")]);
    assert_eq!(hit(&t, &Req::http("/api")), Some(0));
    assert_eq!(hit(&t, &Req::http("/api/v1")), Some(0));
    // Plain string prefix, like Envoy's `prefix`: no segment boundary.
    assert_eq!(hit(&t, &Req::http("/apix")), Some(0));
    assert_eq!(hit(&t, &Req::grpc("/api.v1.S/M")), Some(0));
    assert_eq!(hit(&t, &Req::http("/ap")), None);
    assert_eq!(hit(&t, &Req::http("/v1/api")), None);
}

#[test]
fn methods_alone_any_of() {
    let t = table(vec![methods(&[Method::GET, Method::HEAD])]);
    assert_eq!(hit(&t, &Req::http("/x")), Some(0));
    assert_eq!(hit(&t, &Req::http("/x").method(Method::HEAD)), Some(0));
    assert_eq!(hit(&t, &Req::http("/x").method(Method::POST)), None);
    let custom = Method::from_bytes(b"PURGE").expect("valid method");
    let t = table(vec![methods(std::slice::from_ref(&custom))]);
    assert_eq!(hit(&t, &Req::http("/x").method(custom)), Some(0));
    assert_eq!(hit(&t, &Req::http("/x")), None);
}

#[test]
fn host_alone_exact() {
    let t = table(vec![host("api.example.com")]);
    assert_eq!(hit(&t, &Req::http("/").host("api.example.com")), Some(0));
    assert_eq!(hit(&t, &Req::http("/").host("www.example.com")), None);
    assert_eq!(hit(&t, &Req::http("/")), None, "no host header");
}

#[test]
fn host_is_case_insensitive_and_ignores_port() {
    let t = table(vec![host("API.example.com")]);
    assert_eq!(hit(&t, &Req::http("/").host("api.EXAMPLE.com")), Some(0));
    assert_eq!(
        hit(&t, &Req::http("/").host("api.example.com:8443")),
        Some(0)
    );
    assert_eq!(hit(&t, &Req::http("/").host("Api.Example.Com:80")), Some(0));
}

#[test]
fn host_wildcard() {
    let t = table(vec![host("*.example.com")]);
    assert_eq!(hit(&t, &Req::http("/").host("a.example.com")), Some(0));
    assert_eq!(hit(&t, &Req::http("/").host("a.b.c.example.com")), Some(0));
    assert_eq!(hit(&t, &Req::http("/").host("A.Example.COM:443")), Some(0));
    assert_eq!(hit(&t, &Req::http("/").host("example.com")), None, "apex");
    assert_eq!(hit(&t, &Req::http("/").host("example.com:443")), None);
    assert_eq!(hit(&t, &Req::http("/").host("notexample.com")), None);
    assert_eq!(hit(&t, &Req::http("/").host(".example.com")), None);
    assert_eq!(hit(&t, &Req::http("/").host("a.example.org")), None);
}

#[test]
fn headers_all_must_hold_names_case_insensitive() {
    let t = table(vec![headers(&[("x-tenant", "acme"), ("x-env", "prod")])]);
    let both = Req::http("/")
        .header("x-tenant", "acme")
        .header("x-env", "prod");
    assert_eq!(hit(&t, &both), Some(0));
    assert_eq!(hit(&t, &Req::http("/").header("x-tenant", "acme")), None);
    let wrong = Req::http("/")
        .header("x-tenant", "acme")
        .header("x-env", "staging");
    assert_eq!(hit(&t, &wrong), None);
    // Values are exact, case included.
    let case = Req::http("/")
        .header("x-tenant", "ACME")
        .header("x-env", "prod");
    assert_eq!(hit(&t, &case), None);
    // Header names are case-insensitive: HeaderName normalises them, so a
    // name parsed from mixed case is the same key.
    let mixed = HeaderName::from_bytes(b"X-Tenant").expect("valid name");
    let mut req = Req::http("/").header("x-env", "prod");
    req.headers.append(mixed, HeaderValue::from_static("acme"));
    assert_eq!(hit(&t, &req), Some(0));
}

#[test]
fn repeated_request_header_matches_any_value() {
    let t = table(vec![headers(&[("x-flag", "b")])]);
    let req = Req::http("/").header("x-flag", "a").header("x-flag", "b");
    assert_eq!(hit(&t, &req), Some(0));
}

#[test]
fn all_given_keys_must_hold() {
    let mut s = prefix("/api");
    s.methods = vec![Method::POST];
    s.host = Some("example.com".into());
    s.headers = vec![(HeaderName::from_static("x-a"), "1".into())];
    let t = table(vec![s]);
    let ok = || {
        Req::http("/api/x")
            .method(Method::POST)
            .host("example.com")
            .header("x-a", "1")
    };
    assert_eq!(hit(&t, &ok()), Some(0));
    assert_eq!(hit(&t, &ok().method(Method::GET)), None);
    assert_eq!(hit(&t, &ok().host("other.com")), None);
    let mut no_header = ok();
    no_header.headers.clear();
    assert_eq!(hit(&t, &no_header), None);
    let mut other_path = ok();
    other_path.path = "/web".into();
    assert_eq!(hit(&t, &other_path), None);
}

// ---- gRPC-only keys ----

#[test]
fn grpc_keys_never_match_http_callers() {
    let t = table(vec![grpc_method("a.B/C"), grpc_service("a.B")]);
    assert_eq!(hit(&t, &Req::http("/a.B/C")), None);
    assert_eq!(hit(&t, &Req::http("/a.B/D").method(Method::POST)), None);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C")), Some(0));
    assert_eq!(hit(&t, &Req::grpc("/a.B/D")), Some(1));
}

#[test]
fn grpc_method_with_other_keys() {
    let mut s = grpc_method("a.B/C");
    s.host = Some("*.internal".into());
    let t = table(vec![s, prefix("/")]);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C").host("svc.internal")), Some(0));
    assert_eq!(hit(&t, &Req::grpc("/a.B/C").host("svc.public")), Some(1));
}

// ---- precedence ----

#[test]
fn grpc_method_beats_grpc_service() {
    let t = table(vec![grpc_service("a.B"), grpc_method("a.B/C")]);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C")), Some(1));
    assert_eq!(hit(&t, &Req::grpc("/a.B/D")), Some(0));
}

#[test]
fn grpc_service_beats_path() {
    let t = table(vec![path("/a.B/C"), grpc_service("a.B")]);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C")), Some(1));
    assert_eq!(hit(&t, &Req::http("/a.B/C")), Some(0));
}

#[test]
fn grpc_method_beats_path() {
    let t = table(vec![path("/a.B/C"), grpc_method("a.B/C")]);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C")), Some(1));
}

#[test]
fn path_beats_prefix() {
    let t = table(vec![prefix("/api/users"), path("/api/users")]);
    assert_eq!(hit(&t, &Req::http("/api/users")), Some(1));
    assert_eq!(hit(&t, &Req::http("/api/users/1")), Some(0));
}

#[test]
fn longer_prefix_beats_shorter() {
    let t = table(vec![prefix("/"), prefix("/api/v1"), prefix("/api")]);
    assert_eq!(hit(&t, &Req::http("/api/v1/x")), Some(1));
    assert_eq!(hit(&t, &Req::http("/api/v2")), Some(2));
    assert_eq!(hit(&t, &Req::http("/web")), Some(0));
}

#[test]
fn longer_prefix_with_fewer_constraints_still_wins() {
    let mut short = prefix("/api");
    short.host = Some("example.com".into());
    short.methods = vec![Method::GET];
    let t = table(vec![short, prefix("/api/v1")]);
    let req = Req::http("/api/v1/x").host("example.com");
    assert_eq!(hit(&t, &req), Some(1));
}

#[test]
fn failing_longer_prefix_falls_back_to_shorter() {
    let mut long = prefix("/api/v1");
    long.methods = vec![Method::POST];
    let t = table(vec![prefix("/"), long, prefix("/api")]);
    assert_eq!(hit(&t, &Req::http("/api/v1/x")), Some(2));
    let post = Req::http("/api/v1/x").method(Method::POST);
    assert_eq!(hit(&t, &post), Some(1));
}

#[test]
fn any_prefix_beats_routes_without_path_keys() {
    let mut catch = host("example.com");
    catch.methods = vec![Method::GET];
    let t = table(vec![catch, prefix("")]);
    let req = Req::http("/x").host("example.com");
    assert_eq!(hit(&t, &req), Some(1));
}

#[test]
fn failing_path_falls_back_to_prefix_then_rest() {
    let mut exact = path("/x");
    exact.host = Some("a.com".into());
    let mut pre = prefix("/");
    pre.host = Some("b.com".into());
    let t = table(vec![exact, pre, methods(&[Method::GET])]);
    assert_eq!(hit(&t, &Req::http("/x").host("a.com")), Some(0));
    assert_eq!(hit(&t, &Req::http("/x").host("b.com")), Some(1));
    assert_eq!(hit(&t, &Req::http("/x").host("c.com")), Some(2));
}

#[test]
fn failing_grpc_method_falls_back_to_service_then_path() {
    let mut m = grpc_method("a.B/C");
    m.headers = vec![(HeaderName::from_static("x-canary"), "1".into())];
    let t = table(vec![path("/a.B/C"), grpc_service("a.B"), m]);
    assert_eq!(
        hit(&t, &Req::grpc("/a.B/C").header("x-canary", "1")),
        Some(2)
    );
    assert_eq!(hit(&t, &Req::grpc("/a.B/C")), Some(1));
}

#[test]
fn more_constraints_win_at_equal_rank() {
    let plain = prefix("/api");
    let mut hosted = prefix("/api");
    hosted.host = Some("example.com".into());
    let mut both = prefix("/api");
    both.host = Some("example.com".into());
    both.methods = vec![Method::GET];
    let t = table(vec![plain, hosted, both]);
    let req = || Req::http("/api").host("example.com");
    assert_eq!(hit(&t, &req()), Some(2));
    assert_eq!(hit(&t, &req().method(Method::PUT)), Some(1));
    assert_eq!(hit(&t, &Req::http("/api")), Some(0));
}

#[test]
fn each_header_counts_as_a_constraint() {
    let mut one = grpc_service("a.B");
    one.host = Some("example.com".into());
    let mut two = grpc_service("a.B");
    two.headers = vec![
        (HeaderName::from_static("x-a"), "1".into()),
        (HeaderName::from_static("x-b"), "2".into()),
    ];
    let t = table(vec![one, two]);
    let req = Req::grpc("/a.B/C")
        .host("example.com")
        .header("x-a", "1")
        .header("x-b", "2");
    assert_eq!(hit(&t, &req), Some(1));
}

#[test]
fn more_constraints_win_among_routes_without_path_keys() {
    let mut a = host("example.com");
    a.methods = vec![Method::GET];
    let t = table(vec![methods(&[Method::GET]), a]);
    assert_eq!(hit(&t, &Req::http("/").host("example.com")), Some(1));
    assert_eq!(hit(&t, &Req::http("/")), Some(0));
}

#[test]
fn first_declared_wins_a_tie() {
    let mut a = path("/x");
    a.host = Some("*.example.com".into());
    let mut b = path("/x");
    b.methods = vec![Method::GET];
    let t = table(vec![a, b]);
    let req = Req::http("/x").host("www.example.com");
    assert_eq!(hit(&t, &req), Some(0));
    let t = table(vec![prefix("/a"), prefix("/a")]);
    assert_eq!(hit(&t, &Req::http("/a")), Some(0));
    let t = table(vec![grpc_service("a.B"), grpc_service("a.B")]);
    assert_eq!(hit(&t, &Req::grpc("/a.B/C")), Some(0));
}

#[test]
fn no_route() {
    let t = table(vec![path("/a"), prefix("/b"), grpc_method("c.D/E")]);
    assert_eq!(hit(&t, &Req::http("/c")), None);
    assert_eq!(hit(&t, &Req::http("/c.D/E")), None);
    let empty: RouteTable<usize> = RouteTable::default();
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    assert_eq!(hit(&empty, &Req::http("/")), None);
    assert_eq!(hit(&empty, &Req::grpc("/a.B/C")), None);
}

#[test]
fn a_spec_with_no_key_matches_everything_last() {
    let t = table(vec![spec(), host("example.com")]);
    assert_eq!(hit(&t, &Req::http("/").host("example.com")), Some(1));
    assert_eq!(hit(&t, &Req::grpc("/a.B/C")), Some(0));
}

#[test]
fn iter_and_len_keep_declared_order() {
    let specs = vec![prefix("/"), grpc_method("a.B/C"), path("/x")];
    let t = table(specs.clone());
    assert_eq!(t.len(), 3);
    assert!(!t.is_empty());
    let back: Vec<_> = t.iter().map(|(s, &v)| (s.clone(), v)).collect();
    let want: Vec<_> = specs.into_iter().enumerate().map(|(i, s)| (s, i)).collect();
    assert_eq!(back, want);
}

#[test]
fn odd_inputs_do_not_panic() {
    let t = table(vec![
        grpc_method(""),
        grpc_method("/a.B/C"),
        grpc_service(""),
        grpc_service("a/B"),
        path(""),
        prefix("é"),
        host(""),
        host("*."),
        host("*"),
    ]);
    for p in ["", "/", "//", "///", "é", "/é/", "\u{0}", "/a/B/C"] {
        for grpc in [false, true] {
            let mut r = Req::http(p).host("é:");
            r.grpc = grpc;
            let _ = hit(&t, &r);
        }
    }
}

// ---- index vs linear scan, on random tables ----

/// xorshift64*: enough randomness for tests, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const SERVICES: &[&str] = &["a.B", "a.C", "x.y.Z", "a"];
const METHODS: &[&str] = &["M", "N", "Get", ""];
const PATHS: &[&str] = &[
    "/",
    "/a",
    "/a.B",
    "/a.B/M",
    "/ab",
    "/api",
    "/api/v1",
    "/api/v1/x",
    "/a.C/N",
    "",
    "/x.y.Z/Get",
    "/a.B/M/N",
];
const HOSTS: &[&str] = &[
    "example.com",
    "*.example.com",
    "a.example.com",
    "EXAMPLE.com",
    "other.org",
];
const REQ_HOSTS: &[&str] = &[
    "example.com",
    "a.example.com:8080",
    "b.a.example.com",
    "other.org",
    "A.EXAMPLE.COM",
    "x",
];
const HEADER_VALUES: &[&str] = &["1", "2"];

fn random_spec(rng: &mut Rng) -> RouteSpec {
    let mut s = spec();
    if rng.chance(5) {
        s.grpc_method = Some(format!("{}/{}", rng.pick(SERVICES), rng.pick(METHODS)));
    }
    if rng.chance(4) {
        s.grpc_service = Some(rng.pick(SERVICES).into());
    }
    if rng.chance(4) {
        s.path = Some(rng.pick(PATHS).into());
    }
    if rng.chance(2) {
        s.path_prefix = Some(rng.pick(PATHS).into());
    }
    if rng.chance(3) {
        s.methods = [Method::GET, Method::POST, Method::PUT]
            .into_iter()
            .filter(|_| rng.chance(2))
            .collect();
    }
    if rng.chance(3) {
        s.host = Some(rng.pick(HOSTS).into());
    }
    for name in ["x-a", "x-b"] {
        if rng.chance(4) {
            s.headers.push((
                HeaderName::from_static(name),
                rng.pick(HEADER_VALUES).into(),
            ));
        }
    }
    s
}

fn random_request(rng: &mut Rng) -> Req {
    let path = if rng.chance(2) {
        format!("/{}/{}", rng.pick(SERVICES), rng.pick(METHODS))
    } else {
        format!("{}{}", rng.pick(PATHS), rng.pick(&["", "/", "x", "/M"]))
    };
    let mut r = Req::http(&path);
    r.grpc = rng.chance(2);
    r.method = [Method::GET, Method::POST, Method::PUT, Method::DELETE][rng.below(4)].clone();
    if !rng.chance(5) {
        r.host = Some(rng.pick(REQ_HOSTS).into());
    }
    if rng.chance(2) {
        r = r.header("x-a", if rng.chance(2) { "1" } else { "2" });
    }
    if rng.chance(2) {
        r = r.header("x-b", if rng.chance(2) { "1" } else { "2" });
    }
    r
}

#[test]
fn index_agrees_with_linear_scan_on_random_tables() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut hits = 0;
    for _ in 0..400 {
        let n = rng.below(40);
        let t = table((0..n).map(|_| random_spec(&mut rng)).collect());
        for _ in 0..200 {
            // `hit` asserts the two agree.
            hits += usize::from(hit(&t, &random_request(&mut rng)).is_some());
        }
    }
    // Make sure the generator exercises matches, not only misses.
    assert!(hits > 10_000, "only {hits} hits");
}
