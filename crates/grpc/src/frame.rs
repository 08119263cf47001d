//! gRPC length-prefixed message framing.
//!
//! Every gRPC message on the wire (request or response body, HTTP/2 DATA
//! frames) is preceded by a 5-byte prefix: one byte compressed flag (`0` or
//! `1`) and a 4-byte big-endian message length.
//!
//! Three tools, for three kinds of caller:
//!
//! * [`encode`] / [`header`]: build a frame, e.g. when the gateway answers a
//!   gRPC call itself (health checks, transcoded REST calls).
//! * [`FrameScanner`]: the proxy hot path. It watches a body stream by in
//!   arbitrary chunks, counts messages and enforces a size limit as soon as a
//!   prefix arrives, without copying or buffering a single message byte and
//!   without allocating. Use it when bytes are forwarded unchanged.
//! * [`FrameDecoder`]: buffers bytes and yields whole messages. Use it when the
//!   message itself is needed (transcoding, tests), never for pass-through.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Length of the prefix in front of every gRPC message.
pub const HEADER_LEN: usize = 5;

/// Compressed-flag value for a message sent as is.
pub const FLAG_UNCOMPRESSED: u8 = 0;

/// Compressed-flag value for a message compressed with the `grpc-encoding`
/// of the stream.
pub const FLAG_COMPRESSED: u8 = 1;

/// Why a gRPC body is not well framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FrameError {
    /// The compressed-flag byte was neither 0 nor 1.
    #[error("invalid gRPC compressed flag {0:#04x} (expected 0 or 1)")]
    BadFlag(u8),
    /// A prefix announced a message longer than the configured maximum.
    #[error("gRPC message of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Length announced by the prefix.
        len: u32,
        /// The configured maximum.
        max: u32,
    },
    /// The stream ended inside a prefix or a message.
    #[error("gRPC stream ended inside a message")]
    Truncated,
}

impl FrameError {
    /// The gRPC status a gateway should answer with for this error:
    /// `ResourceExhausted` for an oversized message (what grpc-go and tonic
    /// send), `Internal` for a malformed stream.
    pub const fn code(&self) -> crate::status::Code {
        match self {
            FrameError::TooLarge { .. } => crate::status::Code::ResourceExhausted,
            FrameError::BadFlag(_) | FrameError::Truncated => crate::status::Code::Internal,
        }
    }
}

/// The 5-byte prefix for a message of `len` bytes.
///
/// For callers that write the prefix and then hand the message bytes on
/// without copying them (e.g. as a second `Bytes` chunk).
#[inline]
pub const fn header(compressed: bool, len: u32) -> [u8; HEADER_LEN] {
    let l = len.to_be_bytes();
    [compressed as u8, l[0], l[1], l[2], l[3]]
}

/// Appends `message` framed as one gRPC message to `out`.
///
/// # Panics
///
/// If `message` is longer than `u32::MAX` bytes, which the wire format cannot
/// express. Use [`try_encode`] when the length is not already bounded.
pub fn encode(message: &[u8], compressed: bool, out: &mut BytesMut) {
    if let Err(err) = try_encode(message, compressed, out) {
        panic!("cannot frame gRPC message: {err}");
    }
}

/// Appends `message` framed as one gRPC message to `out`, or fails with
/// [`FrameError::TooLarge`] (max `u32::MAX`) if its length does not fit the
/// 4-byte prefix; `out` is untouched then.
pub fn try_encode(message: &[u8], compressed: bool, out: &mut BytesMut) -> Result<(), FrameError> {
    let len = u32::try_from(message.len()).map_err(|_| FrameError::TooLarge {
        len: u32::MAX,
        max: u32::MAX,
    })?;
    out.reserve(HEADER_LEN + message.len());
    out.put_slice(&header(compressed, len));
    out.put_slice(message);
    Ok(())
}

/// What one [`FrameScanner::feed`] call observed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanProgress {
    /// Messages whose last byte (or, for empty messages, whose prefix) was in
    /// this chunk.
    pub messages_completed: u32,
}

/// Observes a gRPC body as it streams by, without buffering it.
///
/// Feed it every chunk in order; it keeps only the partial prefix (at most 4
/// bytes) and the number of message bytes still to come. A too-large message
/// is reported as soon as its prefix is complete, so the proxy can reset the
/// stream before the message arrives. Errors are sticky: once a feed fails,
/// every later call returns the same error.
#[derive(Debug, Clone)]
pub struct FrameScanner {
    max_message_len: u32,
    /// Prefix bytes seen so far for the next message (valid up to `prefix_len`).
    prefix: [u8; HEADER_LEN],
    prefix_len: u8,
    /// Message bytes still expected; non-zero means "inside a message".
    remaining: u32,
    messages: u64,
    error: Option<FrameError>,
}

impl FrameScanner {
    /// A scanner that rejects messages longer than `max_message_len` bytes.
    pub const fn new(max_message_len: u32) -> Self {
        FrameScanner {
            max_message_len,
            prefix: [0; HEADER_LEN],
            prefix_len: 0,
            remaining: 0,
            messages: 0,
            error: None,
        }
    }

    /// The limit this scanner enforces.
    pub const fn max_message_len(&self) -> u32 {
        self.max_message_len
    }

    /// Observes the next chunk of the body.
    ///
    /// On error, messages completed earlier in the same chunk are still
    /// counted in [`messages`](Self::messages).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<ScanProgress, FrameError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let mut completed: u32 = 0;
        let mut rest = chunk;
        while !rest.is_empty() {
            if self.remaining > 0 {
                // Inside a message: skip over as much of it as this chunk holds.
                let take = rest.len().min(self.remaining as usize);
                rest = &rest[take..];
                // `take <= remaining`, which is a u32.
                self.remaining -= take as u32;
                if self.remaining == 0 {
                    completed = completed.saturating_add(1);
                    self.messages += 1;
                }
                continue;
            }

            // Reading a prefix. Fast path: a whole prefix in this chunk.
            let (len, compressed_flag) = if self.prefix_len == 0 && rest.len() >= HEADER_LEN {
                let flag = rest[0];
                let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]);
                rest = &rest[HEADER_LEN..];
                (len, flag)
            } else {
                let need = HEADER_LEN - self.prefix_len as usize;
                let take = need.min(rest.len());
                let start = self.prefix_len as usize;
                self.prefix[start..start + take].copy_from_slice(&rest[..take]);
                rest = &rest[take..];
                // `take <= HEADER_LEN`.
                self.prefix_len += take as u8;
                if self.prefix[0] > FLAG_COMPRESSED {
                    return Err(self.fail(FrameError::BadFlag(self.prefix[0])));
                }
                if (self.prefix_len as usize) < HEADER_LEN {
                    continue;
                }
                self.prefix_len = 0;
                let p = self.prefix;
                (u32::from_be_bytes([p[1], p[2], p[3], p[4]]), p[0])
            };
            if compressed_flag > FLAG_COMPRESSED {
                return Err(self.fail(FrameError::BadFlag(compressed_flag)));
            }
            if len > self.max_message_len {
                return Err(self.fail(FrameError::TooLarge {
                    len,
                    max: self.max_message_len,
                }));
            }
            if len == 0 {
                completed = completed.saturating_add(1);
                self.messages += 1;
            } else {
                self.remaining = len;
            }
        }
        Ok(ScanProgress {
            messages_completed: completed,
        })
    }

    /// Checks that the stream ended on a message boundary; call it at end of
    /// stream. Returns the sticky error if a feed failed.
    pub fn finish(&self) -> Result<(), FrameError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        if self.is_at_boundary() {
            Ok(())
        } else {
            Err(FrameError::Truncated)
        }
    }

    /// True when no prefix or message is partially received, i.e. the stream
    /// could end here cleanly.
    pub const fn is_at_boundary(&self) -> bool {
        self.prefix_len == 0 && self.remaining == 0
    }

    /// Total complete messages seen so far.
    pub const fn messages(&self) -> u64 {
        self.messages
    }

    fn fail(&mut self, err: FrameError) -> FrameError {
        self.error = Some(err);
        err
    }
}

/// One decoded gRPC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The compressed flag: `data` is compressed with the stream's
    /// `grpc-encoding`.
    pub compressed: bool,
    /// The message bytes, without the prefix.
    pub data: Bytes,
}

/// Reassembles whole messages from body chunks, buffering as needed.
///
/// For callers that must see message contents (transcoding, tests). A
/// message larger than the limit is rejected from its prefix, before its
/// bytes are buffered. Errors are sticky.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max_message_len: u32,
    buf: BytesMut,
    error: Option<FrameError>,
}

impl FrameDecoder {
    /// A decoder that rejects messages longer than `max_message_len` bytes.
    pub fn new(max_message_len: u32) -> Self {
        FrameDecoder {
            max_message_len,
            buf: BytesMut::new(),
            error: None,
        }
    }

    /// Appends the next chunk of the body.
    pub fn push(&mut self, chunk: Bytes) {
        if self.error.is_none() && !chunk.is_empty() {
            self.buf.extend_from_slice(&chunk);
        }
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        let Some(&flag) = self.buf.first() else {
            return Ok(None);
        };
        if flag > FLAG_COMPRESSED {
            return Err(self.fail(FrameError::BadFlag(flag)));
        }
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]);
        if len > self.max_message_len {
            return Err(self.fail(FrameError::TooLarge {
                len,
                max: self.max_message_len,
            }));
        }
        let total = HEADER_LEN + len as usize;
        if self.buf.len() < total {
            // Make room once for the rest of the message.
            self.buf.reserve(total - self.buf.len());
            return Ok(None);
        }
        self.buf.advance(HEADER_LEN);
        let data = self.buf.split_to(len as usize).freeze();
        Ok(Some(Message {
            compressed: flag == FLAG_COMPRESSED,
            data,
        }))
    }

    /// Checks that no partial message is left; call it at end of stream
    /// after draining [`next_message`](Self::next_message).
    pub fn finish(&self) -> Result<(), FrameError> {
        if let Some(err) = self.error {
            return Err(err);
        }
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(FrameError::Truncated)
        }
    }

    /// Bytes received but not yet returned as messages.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    fn fail(&mut self, err: FrameError) -> FrameError {
        self.error = Some(err);
        self.buf = BytesMut::new();
        err
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn frames(msgs: &[(&[u8], bool)]) -> Vec<u8> {
        let mut out = BytesMut::new();
        for (m, c) in msgs {
            encode(m, *c, &mut out);
        }
        out.to_vec()
    }

    #[test]
    fn encode_layout() {
        let mut out = BytesMut::new();
        encode(b"hello", false, &mut out);
        encode(b"", true, &mut out);
        assert_eq!(&out[..], b"\x00\x00\x00\x00\x05hello\x01\x00\x00\x00\x00");
        assert_eq!(header(true, 0x0102_0304), [1, 1, 2, 3, 4]);
    }

    #[test]
    fn scanner_whole_stream_in_one_chunk() {
        let body = frames(&[(b"a", false), (b"", false), (&[7u8; 300], true)]);
        let mut s = FrameScanner::new(1024);
        let p = s.feed(&body).unwrap();
        assert_eq!(p.messages_completed, 3);
        assert_eq!(s.messages(), 3);
        s.finish().unwrap();
    }

    #[test]
    fn scanner_split_at_every_position() {
        let body = frames(&[(b"hello world", false), (b"", true), (b"xy", true)]);
        for cut in 0..=body.len() {
            let mut s = FrameScanner::new(64);
            let a = s.feed(&body[..cut]).unwrap().messages_completed;
            let b = s.feed(&body[cut..]).unwrap().messages_completed;
            assert_eq!(a + b, 3, "cut at {cut}");
            assert_eq!(s.messages(), 3);
            s.finish().unwrap();
        }
    }

    #[test]
    fn scanner_split_at_every_pair_of_positions() {
        let body = frames(&[(b"abc", false), (b"defgh", false)]);
        for i in 0..=body.len() {
            for j in i..=body.len() {
                let mut s = FrameScanner::new(64);
                let mut n = 0;
                for part in [&body[..i], &body[i..j], &body[j..]] {
                    n += s.feed(part).unwrap().messages_completed;
                }
                assert_eq!(n, 2, "cuts at {i},{j}");
                s.finish().unwrap();
            }
        }
    }

    #[test]
    fn scanner_byte_at_a_time_reports_completion_on_last_byte() {
        let body = frames(&[(b"abc", false), (b"", false)]);
        let mut s = FrameScanner::new(64);
        let per_byte: Vec<u32> = body
            .iter()
            .map(|b| s.feed(std::slice::from_ref(b)).unwrap().messages_completed)
            .collect();
        // Message 1 ends at byte 7 (5 + 3), the empty message at byte 12.
        let expected: Vec<u32> = (0..body.len())
            .map(|i| u32::from(i == 7 || i == 12))
            .collect();
        assert_eq!(per_byte, expected);
    }

    #[test]
    fn scanner_empty_chunks_are_harmless() {
        let mut s = FrameScanner::new(8);
        assert_eq!(s.feed(&[]).unwrap().messages_completed, 0);
        s.finish().unwrap();
        s.feed(&[0, 0, 0]).unwrap();
        s.feed(&[]).unwrap();
        assert_eq!(s.finish(), Err(FrameError::Truncated));
    }

    #[test]
    fn scanner_bad_flag_first_byte_and_mid_stream() {
        let mut s = FrameScanner::new(8);
        assert_eq!(s.feed(&[2]), Err(FrameError::BadFlag(2)));
        // Sticky.
        assert_eq!(s.feed(&[0]), Err(FrameError::BadFlag(2)));
        assert_eq!(s.finish(), Err(FrameError::BadFlag(2)));

        let mut body = frames(&[(b"ok", false)]);
        body.extend_from_slice(&[0x80, 0, 0, 0, 1, 9]);
        for cut in 0..=body.len() {
            let mut s = FrameScanner::new(8);
            let r = s.feed(&body[..cut]).and_then(|_| s.feed(&body[cut..]));
            assert_eq!(r, Err(FrameError::BadFlag(0x80)), "cut at {cut}");
            assert_eq!(s.messages(), 1);
        }
    }

    #[test]
    fn scanner_too_large_detected_at_prefix_time() {
        let mut s = FrameScanner::new(100);
        // Only the prefix, no message bytes yet.
        assert_eq!(
            s.feed(&header(false, 101)),
            Err(FrameError::TooLarge { len: 101, max: 100 })
        );
        // Split prefix.
        let mut s = FrameScanner::new(100);
        let h = header(true, u32::MAX);
        s.feed(&h[..3]).unwrap();
        assert_eq!(
            s.feed(&h[3..]),
            Err(FrameError::TooLarge {
                len: u32::MAX,
                max: 100
            })
        );
        // Exactly the limit is fine.
        let mut s = FrameScanner::new(3);
        s.feed(&frames(&[(b"abc", false)])).unwrap();
        s.finish().unwrap();
    }

    #[test]
    fn scanner_truncated_at_end() {
        let body = frames(&[(b"abcdef", false)]);
        for cut in 1..body.len() {
            let mut s = FrameScanner::new(64);
            s.feed(&body[..cut]).unwrap();
            assert!(!s.is_at_boundary());
            assert_eq!(s.finish(), Err(FrameError::Truncated), "cut at {cut}");
        }
    }

    #[test]
    fn scanner_zero_limit_accepts_only_empty_messages() {
        let mut s = FrameScanner::new(0);
        assert_eq!(
            s.feed(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
                .unwrap()
                .messages_completed,
            2
        );
        assert_eq!(
            s.feed(&[0, 0, 0, 0, 1]),
            Err(FrameError::TooLarge { len: 1, max: 0 })
        );
    }

    #[test]
    fn decoder_reassembles_split_messages() {
        let body = frames(&[(b"hello", false), (b"", true), (b"world!", true)]);
        for cut in 0..=body.len() {
            let mut d = FrameDecoder::new(64);
            let mut got = Vec::new();
            for part in [&body[..cut], &body[cut..]] {
                d.push(Bytes::copy_from_slice(part));
                while let Some(m) = d.next_message().unwrap() {
                    got.push(m);
                }
            }
            d.finish().unwrap();
            assert_eq!(
                got,
                vec![
                    Message {
                        compressed: false,
                        data: Bytes::from_static(b"hello")
                    },
                    Message {
                        compressed: true,
                        data: Bytes::new()
                    },
                    Message {
                        compressed: true,
                        data: Bytes::from_static(b"world!")
                    },
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn decoder_errors() {
        let mut d = FrameDecoder::new(4);
        d.push(Bytes::from_static(&[0, 0, 0, 0, 5]));
        assert_eq!(
            d.next_message(),
            Err(FrameError::TooLarge { len: 5, max: 4 })
        );
        assert_eq!(d.finish(), Err(FrameError::TooLarge { len: 5, max: 4 }));

        let mut d = FrameDecoder::new(4);
        d.push(Bytes::from_static(&[9]));
        assert_eq!(d.next_message(), Err(FrameError::BadFlag(9)));

        let mut d = FrameDecoder::new(4);
        d.push(Bytes::from_static(&[1, 0, 0, 0, 2, 1]));
        assert_eq!(d.next_message(), Ok(None));
        assert_eq!(d.buffered_len(), 6);
        assert_eq!(d.finish(), Err(FrameError::Truncated));
    }

    #[test]
    fn try_encode_accepts_normal_messages() {
        let mut out = BytesMut::new();
        try_encode(b"abc", true, &mut out).unwrap();
        assert_eq!(&out[..], b"\x01\x00\x00\x00\x03abc");
    }

    #[test]
    fn error_codes() {
        use crate::status::Code;
        assert_eq!(FrameError::BadFlag(3).code(), Code::Internal);
        assert_eq!(FrameError::Truncated.code(), Code::Internal);
        assert_eq!(
            FrameError::TooLarge { len: 2, max: 1 }.code(),
            Code::ResourceExhausted
        );
    }
}
