//! Message-boundary checks on a stream of body chunks.

use protogate_core::GatewayError;
use protogate_grpc::frame::{FrameError, FrameScanner};

/// Which way the bytes flow, for error messages.
#[derive(Clone, Copy, Debug)]
pub enum Direction {
    /// Caller to upstream.
    Request,
    /// Upstream to caller.
    Response,
}

/// Watches one direction's frames: size limit and well-formedness.
pub struct FrameGuard {
    scanner: FrameScanner,
    direction: Direction,
}

impl FrameGuard {
    /// A guard with this per-message limit.
    pub fn new(max_message_size: u32, direction: Direction) -> Self {
        Self {
            scanner: FrameScanner::new(max_message_size),
            direction,
        }
    }

    /// Checks a chunk; an oversize message is caught at its prefix.
    pub fn check(&mut self, chunk: &[u8]) -> Result<(), GatewayError> {
        self.scanner
            .feed(chunk)
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Checks that the stream ended on a frame boundary.
    pub fn finish(&self) -> Result<(), GatewayError> {
        self.scanner.finish().map_err(|e| self.error(e))
    }

    /// Messages completed so far.
    pub fn messages(&self) -> u64 {
        self.scanner.messages()
    }

    /// A too-large message is RESOURCE_EXHAUSTED either way. A malformed
    /// frame is the sender's fault: INVALID_ARGUMENT when the caller sent
    /// it, INTERNAL when the upstream did (what a gRPC client reports for
    /// a response it cannot parse), so a caller is never told its request
    /// was wrong for the upstream's bug.
    fn error(&self, error: FrameError) -> GatewayError {
        let (side, malformed): (&str, fn(String) -> GatewayError) = match self.direction {
            Direction::Request => ("request", |m| GatewayError::invalid_argument(m)),
            Direction::Response => ("response", |m| GatewayError::internal(m)),
        };
        match error {
            FrameError::TooLarge { len, max } => GatewayError::too_large(format!(
                "{side} message of {len} bytes is over the limit of {max} bytes"
            )),
            FrameError::BadFlag(flag) => malformed(format!(
                "malformed gRPC {side} frame: compressed flag {flag} (must be 0 or 1)"
            )),
            FrameError::Truncated => malformed(format!(
                "malformed gRPC {side}: the stream ended inside a frame"
            )),
        }
    }
}
