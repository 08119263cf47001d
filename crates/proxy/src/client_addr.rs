//! The caller's address: the TCP peer, or, when the peer is a trusted
//! proxy (`server.trusted_proxies`), the address it forwarded in
//! `X-Forwarded-For`.
//!
//! The list is read from the right (the hop nearest the gateway) and
//! trusted proxies are skipped; the first address that is not one is the
//! caller. A peer outside the list is the caller whatever it claims, so a
//! client cannot choose its own address (the nginx `real_ip_recursive`,
//! Envoy `xff_trusted_cidrs` rule).

use std::net::IpAddr;

use http::HeaderMap;
use protogate_config::IpNet;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The caller's address for `peer` and the request's headers.
pub fn resolve(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if trusted.is_empty() || !is_trusted(&peer) {
        return Some(peer);
    }
    let mut caller = peer;
    // Every X-Forwarded-For line, last line last, each read right to left.
    let values: Vec<&str> = headers
        .get_all(FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    for hop in values.iter().rev().flat_map(|v| v.rsplit(',')) {
        let Some(ip) = parse_hop(hop) else {
            // A hop that is no address ends what can be believed.
            break;
        };
        caller = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    Some(caller)
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:5000`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(FORWARDED_FOR, line.parse().expect("value"));
        }
        map
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect("ip"))
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_peers() {
        let trusted = [protogate_config::parse_ip_net("10.0.0.0/8").expect("net")];
        let forwarded = headers(&["203.0.113.9, 10.0.0.5"]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &forwarded, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            resolve(ip("198.51.100.1"), &forwarded, &trusted),
            ip("198.51.100.1"),
            "an untrusted peer cannot pick its address"
        );
        assert_eq!(resolve(ip("10.0.0.1"), &forwarded, &[]), ip("10.0.0.1"));
    }

    #[test]
    fn a_spoofed_left_part_does_not_win() {
        let trusted = [protogate_config::parse_ip_net("10.0.0.0/8").expect("net")];
        // The client wrote 1.2.3.4 itself; the proxy appended its peer.
        let forwarded = headers(&["1.2.3.4", "203.0.113.9"]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &forwarded, &trusted),
            ip("203.0.113.9")
        );
        let garbage = headers(&["1.2.3.4, not-an-ip, 10.0.0.7"]);
        assert_eq!(
            resolve(ip("10.0.0.1"), &garbage, &trusted),
            ip("10.0.0.7"),
            "stops at what cannot be parsed"
        );
        let ports = headers(&["[2001:db8::1]:443"]);
        assert_eq!(resolve(ip("10.0.0.1"), &ports, &trusted), ip("2001:db8::1"));
    }
}
