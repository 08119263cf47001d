//! Which gRPC wire protocol a request speaks, from its `content-type`.
//!
//! The router calls [`classify`] once per request to decide between gRPC
//! proxying, gRPC-Web translation and plain HTTP (REST transcoding or
//! pass-through).

/// A gRPC-family wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Native gRPC over HTTP/2: `application/grpc[+codec]`.
    Grpc,
    /// gRPC-Web, binary: `application/grpc-web[+codec]`.
    GrpcWeb,
    /// gRPC-Web, base64 text: `application/grpc-web-text[+codec]`.
    GrpcWebText,
}

impl Protocol {
    /// The canonical content type for replies in this protocol (protobuf
    /// codec).
    pub const fn content_type(self) -> &'static str {
        match self {
            Protocol::Grpc => "application/grpc",
            Protocol::GrpcWeb => "application/grpc-web+proto",
            Protocol::GrpcWebText => "application/grpc-web-text+proto",
        }
    }

    /// True for the two gRPC-Web variants.
    pub const fn is_web(self) -> bool {
        matches!(self, Protocol::GrpcWeb | Protocol::GrpcWebText)
    }
}

/// Classifies a `content-type` header value.
///
/// Accepts `application/grpc`, `application/grpc-web` and
/// `application/grpc-web-text`, each optionally followed by `+codec` (e.g.
/// `+proto`, `+json`) and by `;` parameters. The media type is matched
/// case-insensitively and surrounding whitespace is ignored. Anything else,
/// including `application/grpc-foo` or an empty codec (`application/grpc+`),
/// is `None`.
pub fn classify(content_type: &[u8]) -> Option<Protocol> {
    let media = match content_type.iter().position(|&b| b == b';') {
        Some(i) => &content_type[..i],
        None => content_type,
    };
    let media = trim(media);
    const PREFIX: &[u8] = b"application/";
    if media.len() < PREFIX.len() || !media[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let subtype = &media[PREFIX.len()..];
    let (base, codec) = match subtype.iter().position(|&b| b == b'+') {
        Some(i) => (&subtype[..i], Some(&subtype[i + 1..])),
        None => (subtype, None),
    };
    if let Some(codec) = codec {
        if codec.is_empty() || !codec.iter().all(|&b| is_tchar(b)) {
            return None;
        }
    }
    if base.eq_ignore_ascii_case(b"grpc") {
        Some(Protocol::Grpc)
    } else if base.eq_ignore_ascii_case(b"grpc-web") {
        Some(Protocol::GrpcWeb)
    } else if base.eq_ignore_ascii_case(b"grpc-web-text") {
        Some(Protocol::GrpcWebText)
    } else {
        None
    }
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// RFC 9110 token character.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognised() {
        let cases: [(&str, Protocol); 14] = [
            ("application/grpc", Protocol::Grpc),
            ("application/grpc+proto", Protocol::Grpc),
            ("application/grpc+json", Protocol::Grpc),
            ("application/grpc;charset=utf-8", Protocol::Grpc),
            ("application/grpc+proto ; foo=bar", Protocol::Grpc),
            ("Application/GRPC", Protocol::Grpc),
            (" application/grpc\t", Protocol::Grpc),
            ("application/grpc-web", Protocol::GrpcWeb),
            ("application/grpc-web+proto", Protocol::GrpcWeb),
            ("APPLICATION/gRPC-Web+Proto", Protocol::GrpcWeb),
            ("application/grpc-web;x=y", Protocol::GrpcWeb),
            ("application/grpc-web-text", Protocol::GrpcWebText),
            ("application/grpc-web-text+proto", Protocol::GrpcWebText),
            ("application/grpc-web-text+proto;a=b", Protocol::GrpcWebText),
        ];
        for (ct, want) in cases {
            assert_eq!(classify(ct.as_bytes()), Some(want), "{ct}");
        }
    }

    #[test]
    fn rejected() {
        for ct in [
            "",
            "application",
            "application/",
            "application/json",
            "application/grpcx",
            "application/grpc-webx",
            "application/grpc-web-textx",
            "application/grpc-",
            "application/grpc+",
            "application/grpc+pro to",
            "application/grpc/proto",
            "text/grpc",
            "grpc",
            "application/x-protobuf",
            "multipart/form-data; boundary=application/grpc",
        ] {
            assert_eq!(classify(ct.as_bytes()), None, "{ct}");
        }
    }

    #[test]
    fn canonical_content_types_classify_back() {
        for p in [Protocol::Grpc, Protocol::GrpcWeb, Protocol::GrpcWebText] {
            assert_eq!(classify(p.content_type().as_bytes()), Some(p));
        }
        assert!(!Protocol::Grpc.is_web());
        assert!(Protocol::GrpcWeb.is_web());
        assert!(Protocol::GrpcWebText.is_web());
    }
}
