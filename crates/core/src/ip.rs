//! Writing a caller's address as text on the hot path.

use std::net::IpAddr;

/// Appends `ip` as text: IPv4 in dotted decimal without going through
/// `fmt` (several times faster; header templates and rate-limit keys write
/// one per call), IPv6 through its `Display`.
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (index, octet) in v4.octets().into_iter().enumerate() {
                if index > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(v6) => {
            use std::fmt::Write;
            // Writing to a String cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for text in [
            "0.0.0.0",
            "10.1.2.3",
            "192.168.100.255",
            "1.20.255.9",
            "::1",
            "2001:db8::7",
        ] {
            let ip: IpAddr = text.parse().expect("ip");
            let mut out = String::new();
            push_ip(&mut out, ip);
            assert_eq!(out, ip.to_string());
        }
    }
}
