//! `grpc-message` percent-encoding.
//!
//! The gRPC HTTP/2 spec says `grpc-message` is percent-encoded UTF-8: every
//! byte outside printable ASCII (0x20..=0x7E), and `%` itself, is sent as
//! `%XX`. Use [`encode_grpc_message`] when the gateway writes an error
//! message of its own, and [`decode_grpc_message`] when it reads one from an
//! upstream trailer for logs or a transcoded REST error body.
//!
//! Decoding is lenient, as the spec asks of receivers: a `%` not followed by
//! two hex digits is kept literally, and bytes that do not form valid UTF-8
//! become U+FFFD, so a bad message never turns into a failed call.

use std::borrow::Cow;

use percent_encoding::{percent_decode, utf8_percent_encode, AsciiSet, CONTROLS};

/// Bytes to escape besides non-ASCII ones: controls (0x00..=0x1F, 0x7F) and
/// `%`. Non-ASCII bytes are always escaped by `utf8_percent_encode`.
const GRPC_MESSAGE: &AsciiSet = &CONTROLS.add(b'%');

/// Percent-encodes `message` for a `grpc-message` header. Borrows when
/// nothing needs escaping. Hex digits are upper-case, as grpc-go writes them.
pub fn encode_grpc_message(message: &str) -> Cow<'_, str> {
    utf8_percent_encode(message, GRPC_MESSAGE).into()
}

/// Decodes a `grpc-message` header value leniently (see the module docs).
/// Borrows when the value has no escapes and is valid UTF-8.
pub fn decode_grpc_message(value: &[u8]) -> Cow<'_, str> {
    percent_decode(value).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_ascii_is_borrowed() {
        let s = "invalid argument: id must be > 0 (got -1) ~";
        assert!(matches!(encode_grpc_message(s), Cow::Borrowed(_)));
        assert!(matches!(
            decode_grpc_message(s.as_bytes()),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escapes_percent_controls_and_unicode() {
        assert_eq!(encode_grpc_message("100%"), "100%25");
        assert_eq!(encode_grpc_message("a\nb\tc\x7f"), "a%0Ab%09c%7F");
        assert_eq!(encode_grpc_message("café"), "caf%C3%A9");
        assert_eq!(encode_grpc_message("ⓤ"), "%E2%93%A4");
    }

    #[test]
    fn round_trips() {
        for s in [
            "",
            "plain",
            "100% sure",
            "%%%",
            "%41 is not A",
            "line\r\nbreak",
            "emoji 😀 and ümlauts, 中文",
            "\u{0}\u{1f}\u{7f}\u{80}\u{10ffff}",
        ] {
            let enc = encode_grpc_message(s);
            assert!(
                enc.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                "{enc:?} has unsafe bytes"
            );
            assert_eq!(decode_grpc_message(enc.as_bytes()), s);
        }
    }

    #[test]
    fn decode_is_lenient() {
        assert_eq!(decode_grpc_message(b"50%"), "50%");
        assert_eq!(decode_grpc_message(b"%zz%4"), "%zz%4");
        assert_eq!(decode_grpc_message(b"%e2%93%a4"), "ⓤ");
        // Invalid UTF-8 after decoding becomes U+FFFD.
        assert_eq!(decode_grpc_message(b"a%FFb"), "a\u{fffd}b");
        // Raw (unencoded) UTF-8 from a non-conforming sender is accepted.
        assert_eq!(decode_grpc_message("déjà".as_bytes()), "déjà");
    }
}
