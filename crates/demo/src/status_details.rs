//! The `grpc-status-details-bin` payload the interop service attaches to
//! every error it is asked to return.
//!
//! Gateways must pass this binary trailer through untouched, so the demo
//! makes it fully predictable: a `google.rpc.Status` whose `code` and
//! `message` repeat the requested ones and whose single `details` entry is a
//! `google.protobuf.Any` wrapping the request's `grpc.testing.EchoStatus`.
//! For code 2 and message "test status message" the 95 bytes are:
//!
//! ```text
//! 08 02                                  code = 2
//! 12 13 "test status message"            message (19 bytes)
//! 1a 46                                  details[0], an Any of 70 bytes:
//!   0a 2b "type.googleapis.com/grpc.testing.EchoStatus"   type_url (43 bytes)
//!   12 17                                                  value (23 bytes):
//!     08 02 12 13 "test status message"                   EchoStatus
//! ```
//!
//! The message is written in prost's deterministic field order, so the bytes
//! depend on nothing but the code and the message.

use bytes::Bytes;
use prost::Message;
use tonic::{Code, Status};

use crate::pb::grpc::testing::EchoStatus;

/// `type_url` of the one `Any` inside the details.
pub const ECHO_STATUS_TYPE_URL: &str = "type.googleapis.com/grpc.testing.EchoStatus";

/// The wire form of `google.rpc.Status`, declared here so no extra crate is
/// needed to produce it.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    #[prost(message, repeated, tag = "3")]
    pub(crate) details: Vec<prost_types::Any>,
}

/// Encodes the documented `google.rpc.Status` for `code` and `message`.
pub fn encode_status_details(code: i32, message: &str) -> Vec<u8> {
    let echo = EchoStatus {
        code,
        message: message.to_owned(),
    };
    RpcStatus {
        code,
        message: message.to_owned(),
        details: vec![prost_types::Any {
            type_url: ECHO_STATUS_TYPE_URL.to_owned(),
            value: echo.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

/// The error status an interop request asked for, with its details, or
/// `None` when it asked for none (absent or code 0).
pub(crate) fn requested_error(status: Option<&EchoStatus>) -> Option<Status> {
    let status = status.filter(|s| s.code != 0)?;
    let details = Bytes::from(encode_status_details(status.code, &status.message));
    Some(Status::with_details(
        Code::from_i32(status.code),
        status.message.clone(),
        details,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_bytes_match_the_documented_layout() {
        let message = b"test status message";
        let type_url = ECHO_STATUS_TYPE_URL.as_bytes();
        let mut echo = vec![0x08, 0x02, 0x12, 0x13];
        echo.extend_from_slice(message);
        let mut any = vec![0x0a, 0x2b];
        any.extend_from_slice(type_url);
        any.extend_from_slice(&[0x12, 0x17]);
        any.extend_from_slice(&echo);
        let mut expected = vec![0x08, 0x02, 0x12, 0x13];
        expected.extend_from_slice(message);
        expected.extend_from_slice(&[0x1a, 0x46]);
        expected.extend_from_slice(&any);

        let actual = encode_status_details(2, "test status message");
        assert_eq!(actual.len(), 95);
        assert_eq!(actual, expected);
    }

    #[test]
    fn zero_code_asks_for_no_error() {
        let ok = EchoStatus {
            code: 0,
            message: "ignored".into(),
        };
        assert!(requested_error(Some(&ok)).is_none());
        assert!(requested_error(None).is_none());
    }
}
