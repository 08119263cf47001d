//! gRPC-Web framing, for the gateway's translation between browsers and
//! native gRPC upstreams.
//!
//! gRPC-Web (`doc/PROTOCOL-WEB.md` in grpc/grpc) keeps gRPC's 5-byte message
//! frames and differs in three places, each handled here without I/O:
//!
//! - **content types**: `application/grpc-web[+codec]` and
//!   `application/grpc-web-text[+codec]` on the caller's side,
//!   `application/grpc[+codec]` on the upstream's ([`upstream_content_type`],
//!   [`caller_content_type`]);
//! - **trailers** travel in the body, as a last frame whose flag byte is
//!   `0x80` and whose payload is an HTTP/1-style header block
//!   ([`trailer_frame`]);
//! - **text mode** base64-encodes the body in both directions. A client may
//!   pad in the middle of a stream (each message encoded on its own), so the
//!   decoder accepts padding at any 4-character boundary ([`TextDecoder`]);
//!   the encoder pads every chunk it flushes ([`encode_text`]), which the
//!   protocol allows and which sends each message as soon as it arrives.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};

use crate::content_type::{classify, Protocol};

/// The flag byte of the frame that carries the trailers.
pub const TRAILER_FLAG: u8 = 0x80;

/// The content type the upstream gets for a gRPC-Web request: the same
/// codec, native gRPC (`application/grpc-web-text+proto` becomes
/// `application/grpc+proto`).
pub fn upstream_content_type(caller: &[u8]) -> HeaderValue {
    match codec(caller) {
        Some(codec) => with_codec("application/grpc", codec),
        None => HeaderValue::from_static("application/grpc"),
    }
}

/// The content type a gRPC-Web caller gets back for the upstream's
/// `content-type` (`application/grpc+proto` becomes
/// `application/grpc-web+proto`, or `-web-text+proto` in text mode).
/// Without a codec the answer names `+proto`, gRPC's default.
pub fn caller_content_type(upstream: Option<&[u8]>, text: bool) -> HeaderValue {
    let base = if text {
        "application/grpc-web-text"
    } else {
        "application/grpc-web"
    };
    with_codec(base, upstream.and_then(codec).unwrap_or("proto"))
}

/// The codec after `+` in a gRPC-family content type, if any.
fn codec(content_type: &[u8]) -> Option<&str> {
    classify(content_type)?;
    let text = std::str::from_utf8(content_type).ok()?;
    let media = text.split(';').next()?.trim();
    media.split_once('+').map(|(_, codec)| codec)
}

fn with_codec(base: &str, codec: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{base}+{codec}"))
        .unwrap_or_else(|_| HeaderValue::from_static("application/grpc"))
}

/// True when `content_type` asks for the base64 text form.
pub fn is_text(content_type: &[u8]) -> bool {
    classify(content_type) == Some(Protocol::GrpcWebText)
}

/// The trailers as gRPC-Web's last body frame: `0x80`, a 4-byte big-endian
/// length, then `name: value\r\n` for each trailer (names are lower case,
/// as `HeaderMap` keeps them).
pub fn trailer_frame(trailers: &HeaderMap) -> Bytes {
    let block_len: usize = trailers
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    let mut frame = BytesMut::with_capacity(5 + block_len);
    frame.put_u8(TRAILER_FLAG);
    frame.put_u32(u32::try_from(block_len).unwrap_or(u32::MAX));
    for (name, value) in trailers {
        frame.put_slice(name.as_str().as_bytes());
        frame.put_slice(b": ");
        frame.put_slice(value.as_bytes());
        frame.put_slice(b"\r\n");
    }
    frame.freeze()
}

/// Base64 of one chunk of a text-mode response, padded: the caller can
/// decode it as soon as it arrives.
pub fn encode_text(chunk: &[u8]) -> Bytes {
    Bytes::from(STANDARD.encode(chunk))
}

/// A text-mode request body that is not valid base64.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// A character outside the base64 alphabet, or padding in the wrong
    /// place.
    #[error("the grpc-web-text body is not valid base64 (near byte {offset})")]
    Invalid {
        /// Offset of the offending 4-character group in the whole body.
        offset: u64,
    },
    /// The body ended in the middle of a 4-character group.
    #[error("the grpc-web-text body ends inside a base64 group ({left} characters left over)")]
    Truncated {
        /// Characters after the last complete group.
        left: usize,
    },
}

/// Decodes a text-mode request body chunk by chunk. Chunks split base64
/// groups anywhere; up to three characters wait for the next chunk.
#[derive(Debug, Default)]
pub struct TextDecoder {
    pending: Vec<u8>,
    consumed: u64,
}

impl TextDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes what `chunk` completes. The result may be empty (a chunk
    /// shorter than one group).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Bytes, TextError> {
        self.pending.extend_from_slice(chunk);
        let whole = self.pending.len() - self.pending.len() % 4;
        let mut out = BytesMut::with_capacity(whole / 4 * 3);
        let mut run_start = 0;
        let mut group = 0;
        while group < whole {
            let padded = self.pending[group + 3] == b'=';
            group += 4;
            // A padded group ends a run: base64 allows padding only at the
            // end of what one decode call sees.
            if padded || group == whole {
                self.decode_run(run_start, group, &mut out)?;
                run_start = group;
            }
        }
        self.consumed += whole as u64;
        self.pending.drain(..whole);
        Ok(out.freeze())
    }

    /// Checks that the body ended on a group boundary.
    pub fn finish(&self) -> Result<(), TextError> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(TextError::Truncated {
                left: self.pending.len(),
            })
        }
    }

    fn decode_run(&self, start: usize, end: usize, out: &mut BytesMut) -> Result<(), TextError> {
        let run = &self.pending[start..end];
        let offset = out.len();
        out.resize(offset + run.len() / 4 * 3, 0);
        match STANDARD.decode_slice(run, &mut out[offset..]) {
            Ok(written) => {
                out.truncate(offset + written);
                Ok(())
            }
            Err(_) => Err(TextError::Invalid {
                offset: self.consumed + start as u64,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_keep_the_codec() {
        assert_eq!(
            upstream_content_type(b"application/grpc-web-text+proto"),
            "application/grpc+proto"
        );
        assert_eq!(
            upstream_content_type(b"application/grpc-web"),
            "application/grpc"
        );
        assert_eq!(
            upstream_content_type(b"application/grpc-web+json; charset=utf-8"),
            "application/grpc+json"
        );
        assert_eq!(
            caller_content_type(Some(b"application/grpc"), false),
            "application/grpc-web+proto"
        );
        assert_eq!(
            caller_content_type(Some(b"application/grpc+json"), true),
            "application/grpc-web-text+json"
        );
        assert_eq!(
            caller_content_type(None, true),
            "application/grpc-web-text+proto"
        );
        assert!(is_text(b"application/grpc-web-text"));
        assert!(!is_text(b"application/grpc-web"));
    }

    #[test]
    fn trailers_become_a_flagged_header_block() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("5"));
        trailers.insert("grpc-message", HeaderValue::from_static("no%20such"));
        let frame = trailer_frame(&trailers);
        let block = b"grpc-status: 5\r\ngrpc-message: no%20such\r\n";
        assert_eq!(frame[0], TRAILER_FLAG);
        assert_eq!(&frame[1..5], &(block.len() as u32).to_be_bytes());
        assert_eq!(&frame[5..], block);
    }

    fn decode_in_pieces(text: &[u8], piece: usize) -> Result<Vec<u8>, TextError> {
        let mut decoder = TextDecoder::new();
        let mut out = Vec::new();
        for chunk in text.chunks(piece) {
            out.extend_from_slice(&decoder.feed(chunk)?);
        }
        decoder.finish()?;
        Ok(out)
    }

    #[test]
    fn text_decodes_across_any_split_and_mid_stream_padding() {
        let first = STANDARD.encode(b"\0\0\0\0\x02AB");
        let second = STANDARD.encode(b"\0\0\0\0\x03CDE");
        assert!(first.ends_with('=') && second.ends_with('='));
        let body = format!("{first}{second}");
        let expected = b"\0\0\0\0\x02AB\0\0\0\0\x03CDE".to_vec();
        for piece in 1..=body.len() {
            assert_eq!(
                decode_in_pieces(body.as_bytes(), piece).expect("valid"),
                expected,
                "split every {piece} bytes"
            );
        }
    }

    #[test]
    fn bad_text_is_refused_with_where() {
        assert_eq!(
            decode_in_pieces(b"AAAA!AAA", 3),
            Err(TextError::Invalid { offset: 4 })
        );
        assert_eq!(
            decode_in_pieces(b"AAAAAA", 4),
            Err(TextError::Truncated { left: 2 })
        );
        assert!(decode_in_pieces(b"A=AA", 4).is_err());
    }

    #[test]
    fn encoded_chunks_decode_back() {
        let data: Vec<u8> = (0..=255).collect();
        let mut joined = Vec::new();
        for chunk in data.chunks(7) {
            joined.extend_from_slice(&encode_text(chunk));
        }
        assert_eq!(decode_in_pieces(&joined, 5).expect("valid"), data);
    }
}
