//! Socket addresses, `host:port` targets and CIDR networks.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::decode::Decode;
use crate::decoder::Decoder;
use crate::names::check_hostname;
use crate::node::{Node, Value};
use crate::path::YamlPath;

/// Parses an IP socket address to listen on: `0.0.0.0:8080`, `[::1]:80`.
/// Host names are refused (a listener binds an address, and resolving at
/// load would make the result depend on DNS); port 0 means "any free port".
pub fn parse_socket_addr(text: &str) -> Result<SocketAddr, String> {
    let s = text.trim();
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let example = "such as `0.0.0.0:8080` or `[::1]:8080`";
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Err(match ip {
            IpAddr::V6(_) => format!(
                "`{s}` has no port, or is an IPv6 address with a port outside brackets; write `[{s}]:PORT` or `[ADDRESS]:PORT`"
            ),
            IpAddr::V4(_) => format!("`{s}` has no port; write `{s}:PORT`"),
        });
    }
    if s.starts_with('[') && s.ends_with(']') {
        return Err(format!("`{s}` has no port; write `{s}:PORT`"));
    }
    if let Some(port) = s.strip_prefix(':') {
        return Err(format!(
            "`{s}` has no IP address; write `0.0.0.0:{port}` for every interface or `127.0.0.1:{port}` for this host only"
        ));
    }
    match s.rsplit_once(':') {
        Some((host, port)) => {
            if port.parse::<u16>().is_err() {
                return Err(format!(
                    "`{s}` has an invalid port `{port}`; a port is 0 to 65535"
                ));
            }
            if host.parse::<IpAddr>().is_err()
                && check_hostname(host.trim_matches(['[', ']'])).is_ok()
            {
                return Err(format!(
                    "`{s}` uses a host name; an address to listen on is an IP address {example}"
                ));
            }
            Err(format!("`{s}` is not an IP address and port {example}"))
        }
        None => Err(format!("`{s}` is not an IP address and port {example}")),
    }
}

/// `0.0.0.0:8080`, `[::1]:80` (see [`parse_socket_addr`]).
impl Decode for SocketAddr {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        match &node.value {
            Value::String(s) => match parse_socket_addr(s) {
                Ok(addr) => Some(addr),
                Err(message) => {
                    d.error(node.span, path, message);
                    None
                }
            },
            Value::Int(port) => {
                d.error(
                    node.span,
                    path,
                    format!("expected an address and port, found only `{port}`; write `0.0.0.0:{port}` (every interface) or `127.0.0.1:{port}` (this host only)"),
                );
                None
            }
            _ => {
                d.expected(node, path, "an address such as `0.0.0.0:8080`");
                None
            }
        }
    }
}

/// Parses an upstream target: `host:port`, `10.0.0.5:50051` or
/// `[::1]:50051`. Returns the host without brackets and the port (1 to
/// 65535). Host names are kept as written and resolved by the gateway.
pub fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    let s = text.trim();
    if let Some((scheme, _)) = s.split_once("://") {
        return Err(format!(
            "`{s}` has a scheme; a target is `host:port` (the protocol comes from the upstream's `protocol`, not `{scheme}://`)"
        ));
    }
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err(format!("`{s}` opens `[` without closing it"));
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("`{v6}` is not an IPv6 address"));
        }
        let Some(port) = after.strip_prefix(':') else {
            return Err(format!("`{s}` has no port; write `[{v6}]:PORT`"));
        };
        (v6, port)
    } else {
        match s.split_once(':') {
            None => return Err(format!("`{s}` has no port; write `{s}:PORT`")),
            Some((_, rest)) if rest.contains(':') => {
                return Err(format!(
                    "`{s}` looks like an IPv6 address; put it in brackets: `[ADDRESS]:PORT`"
                ))
            }
            Some((host, port)) => {
                if host.parse::<IpAddr>().is_err() {
                    check_hostname(host)?;
                }
                (host, port)
            }
        }
    };
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "`{s}` has an invalid port `{port}`; a port is 1 to 65535"
        )),
        Ok(port) => Ok((host.to_owned(), port)),
    }
}

/// Parses a network: CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address
/// (`10.1.2.3`, taken as `/32` or `/128`). A prefix with host bits set
/// (`10.0.0.1/8`) is refused: it usually means a typo in the prefix.
pub fn parse_ip_net(text: &str) -> Result<IpNet, String> {
    let s = text.trim();
    if s.contains('/') {
        let net = s.parse::<IpNet>().map_err(|_| {
            format!("`{s}` is not a network; write it like `10.0.0.0/8`, `fd00::/8` or a single address")
        })?;
        if net.trunc() != net {
            return Err(format!(
                "`{s}` has bits set after the prefix; did you mean `{}`?",
                net.trunc()
            ));
        }
        Ok(net)
    } else {
        s.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
            format!(
                "`{s}` is not an IP address or network; write it like `10.0.0.0/8` or `10.1.2.3`"
            )
        })
    }
}

/// `10.0.0.0/8` or a single address (see [`parse_ip_net`]).
impl Decode for IpNet {
    fn decode(node: &Node, path: &YamlPath, d: &mut Decoder) -> Option<Self> {
        let Some(s) = node.as_str() else {
            d.expected(node, path, "a network such as `10.0.0.0/8`");
            return None;
        };
        match parse_ip_net(s) {
            Ok(net) => Some(net),
            Err(message) => {
                d.error(node.span, path, message);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_socket_addrs() {
        assert_eq!(
            parse_socket_addr("0.0.0.0:8080").map(|a| a.to_string()),
            Ok("0.0.0.0:8080".to_owned())
        );
        assert_eq!(
            parse_socket_addr("[::1]:80").map(|a| a.to_string()),
            Ok("[::1]:80".to_owned())
        );
        assert!(parse_socket_addr("127.0.0.1:0").is_ok());
    }

    #[test]
    fn explains_bad_socket_addrs() {
        assert_eq!(
            parse_socket_addr("0.0.0.0"),
            Err("`0.0.0.0` has no port; write `0.0.0.0:PORT`".to_owned())
        );
        assert_eq!(
            parse_socket_addr(":8080"),
            Err("`:8080` has no IP address; write `0.0.0.0:8080` for every interface or `127.0.0.1:8080` for this host only".to_owned())
        );
        assert_eq!(
            parse_socket_addr("localhost:8080"),
            Err("`localhost:8080` uses a host name; an address to listen on is an IP address such as `0.0.0.0:8080` or `[::1]:8080`".to_owned())
        );
        assert_eq!(
            parse_socket_addr("0.0.0.0:99999"),
            Err("`0.0.0.0:99999` has an invalid port `99999`; a port is 0 to 65535".to_owned())
        );
        assert!(parse_socket_addr("::1").is_err());
        assert!(parse_socket_addr("nonsense").is_err());
    }

    #[test]
    fn parses_targets() {
        assert_eq!(
            parse_host_port("127.0.0.1:50051"),
            Ok(("127.0.0.1".to_owned(), 50051))
        );
        assert_eq!(
            parse_host_port("inventory.internal:8443"),
            Ok(("inventory.internal".to_owned(), 8443))
        );
        assert_eq!(parse_host_port("[::1]:80"), Ok(("::1".to_owned(), 80)));
    }

    #[test]
    fn explains_bad_targets() {
        assert_eq!(
            parse_host_port("example.com"),
            Err("`example.com` has no port; write `example.com:PORT`".to_owned())
        );
        assert!(parse_host_port("http://a:80").is_err());
        assert!(parse_host_port("::1:80").is_err());
        assert!(parse_host_port("a:0").is_err());
        assert!(parse_host_port("a:http").is_err());
        assert!(parse_host_port("bad host:80").is_err());
        assert!(parse_host_port("[::1]").is_err());
        assert!(parse_host_port("[zz]:1").is_err());
    }

    #[test]
    fn parses_networks() {
        assert_eq!(
            parse_ip_net("10.0.0.0/8").map(|n| n.to_string()),
            Ok("10.0.0.0/8".to_owned())
        );
        assert_eq!(
            parse_ip_net("10.1.2.3").map(|n| n.to_string()),
            Ok("10.1.2.3/32".to_owned())
        );
        assert_eq!(
            parse_ip_net("::1").map(|n| n.to_string()),
            Ok("::1/128".to_owned())
        );
        assert_eq!(
            parse_ip_net("10.0.0.1/8"),
            Err(
                "`10.0.0.1/8` has bits set after the prefix; did you mean `10.0.0.0/8`?".to_owned()
            )
        );
        assert!(parse_ip_net("10.0.0.0/33").is_err());
        assert!(parse_ip_net("office").is_err());
    }
}
