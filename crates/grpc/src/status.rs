//! gRPC status codes and their mappings to and from HTTP.
//!
//! Used when the gateway reads `grpc-status` from an upstream trailer (for
//! metrics labels and logs), when it answers a call itself (writing
//! `grpc-status`), when it transcodes a gRPC reply to a REST status, and when
//! a non-gRPC upstream reply has to be reported as a gRPC status.

use std::fmt;

use http::HeaderValue;

/// A gRPC status code, as carried in the `grpc-status` trailer.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Canceled = 1,
    /// Unknown error, or an error from another error space.
    Unknown = 2,
    /// The client sent an invalid argument.
    InvalidArgument = 3,
    /// The deadline expired before the operation completed.
    DeadlineExceeded = 4,
    /// Some requested entity was not found.
    NotFound = 5,
    /// The entity the client tried to create already exists.
    AlreadyExists = 6,
    /// The caller may not execute the operation.
    PermissionDenied = 7,
    /// Some resource (quota, memory, message size) has been exhausted.
    ResourceExhausted = 8,
    /// The system is not in a state required for the operation.
    FailedPrecondition = 9,
    /// The operation was aborted, typically by a concurrency conflict.
    Aborted = 10,
    /// The operation was attempted past the valid range.
    OutOfRange = 11,
    /// The operation is not implemented or supported.
    Unimplemented = 12,
    /// An internal invariant was broken.
    Internal = 13,
    /// The service is currently unavailable; retrying may help.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request lacks valid authentication credentials.
    Unauthenticated = 16,
}

impl Code {
    /// Every code, in numeric order (index == value).
    pub const ALL: [Code; 17] = [
        Code::Ok,
        Code::Canceled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code with numeric value `value`; values outside 0..=16 are
    /// [`Code::Unknown`], as the gRPC spec asks of receivers.
    pub const fn from_u16(value: u16) -> Code {
        if value < Self::ALL.len() as u16 {
            Self::ALL[value as usize]
        } else {
            Code::Unknown
        }
    }

    /// Like [`from_u16`](Self::from_u16), for the `int32` codes in
    /// `google.rpc.Status` and generated code.
    pub const fn from_i32(value: i32) -> Code {
        if value >= 0 && value < Self::ALL.len() as i32 {
            Self::ALL[value as usize]
        } else {
            Code::Unknown
        }
    }

    /// The numeric value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The grpc-go `codes.Code.String()` spelling, which go-grpc-prometheus
    /// uses as the `grpc_code` label.
    pub const fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Canceled => "Canceled",
            Code::Unknown => "Unknown",
            Code::InvalidArgument => "InvalidArgument",
            Code::DeadlineExceeded => "DeadlineExceeded",
            Code::NotFound => "NotFound",
            Code::AlreadyExists => "AlreadyExists",
            Code::PermissionDenied => "PermissionDenied",
            Code::ResourceExhausted => "ResourceExhausted",
            Code::FailedPrecondition => "FailedPrecondition",
            Code::Aborted => "Aborted",
            Code::OutOfRange => "OutOfRange",
            Code::Unimplemented => "Unimplemented",
            Code::Internal => "Internal",
            Code::Unavailable => "Unavailable",
            Code::DataLoss => "DataLoss",
            Code::Unauthenticated => "Unauthenticated",
        }
    }

    /// The decimal value as it appears in a `grpc-status` header.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "0",
            Code::Canceled => "1",
            Code::Unknown => "2",
            Code::InvalidArgument => "3",
            Code::DeadlineExceeded => "4",
            Code::NotFound => "5",
            Code::AlreadyExists => "6",
            Code::PermissionDenied => "7",
            Code::ResourceExhausted => "8",
            Code::FailedPrecondition => "9",
            Code::Aborted => "10",
            Code::OutOfRange => "11",
            Code::Unimplemented => "12",
            Code::Internal => "13",
            Code::Unavailable => "14",
            Code::DataLoss => "15",
            Code::Unauthenticated => "16",
        }
    }

    /// The `grpc-status` header value for this code. Built from a static
    /// string: no allocation.
    pub const fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }

    /// The HTTP status for a REST reply carrying this code, per the table in
    /// `google/rpc/code.proto` that grpc-gateway and Envoy's transcoder use.
    pub const fn to_http_status(self) -> u16 {
        match self {
            Code::Ok => 200,
            Code::Canceled => 499,
            Code::Unknown => 500,
            Code::InvalidArgument => 400,
            Code::DeadlineExceeded => 504,
            Code::NotFound => 404,
            Code::AlreadyExists => 409,
            Code::PermissionDenied => 403,
            Code::ResourceExhausted => 429,
            Code::FailedPrecondition => 400,
            Code::Aborted => 409,
            Code::OutOfRange => 400,
            Code::Unimplemented => 501,
            Code::Internal => 500,
            Code::Unavailable => 503,
            Code::DataLoss => 500,
            Code::Unauthenticated => 401,
        }
    }

    /// The code to report when an upstream answered a gRPC call with a plain
    /// HTTP status and no `grpc-status`, per "HTTP to gRPC Status Code
    /// Mapping" in the gRPC repository (`doc/http-grpc-status-mapping.md`).
    pub const fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Code> for u8 {
    fn from(code: Code) -> u8 {
        code.as_u8()
    }
}

/// Parses a `grpc-status` header value: ASCII decimal digits, optionally
/// surrounded by spaces or tabs. A well-formed number outside 0..=16 is
/// [`Code::Unknown`]; anything that is not a number is `None`, so the caller
/// can tell a missing or garbled status from an unknown one.
pub fn parse_grpc_status(value: &[u8]) -> Option<Code> {
    let value = trim_ows(value);
    if value.is_empty() || value.len() > 10 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(match u16::try_from(n) {
        Ok(v) => Code::from_u16(v),
        Err(_) => Code::Unknown,
    })
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_round_trip() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.as_u8() as usize, i);
            assert_eq!(Code::from_u16(i as u16), *code);
            assert_eq!(Code::from_i32(i as i32), *code);
            assert_eq!(code.as_str(), i.to_string());
            assert_eq!(code.header_value(), i.to_string().as_str());
            assert_eq!(parse_grpc_status(code.as_str().as_bytes()), Some(*code));
        }
        assert_eq!(Code::from_u16(17), Code::Unknown);
        assert_eq!(Code::from_u16(u16::MAX), Code::Unknown);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
        assert_eq!(Code::from_i32(i32::MAX), Code::Unknown);
        assert_eq!(u8::from(Code::Unauthenticated), 16);
    }

    #[test]
    fn names_match_grpc_go() {
        let expected = [
            "OK",
            "Canceled",
            "Unknown",
            "InvalidArgument",
            "DeadlineExceeded",
            "NotFound",
            "AlreadyExists",
            "PermissionDenied",
            "ResourceExhausted",
            "FailedPrecondition",
            "Aborted",
            "OutOfRange",
            "Unimplemented",
            "Internal",
            "Unavailable",
            "DataLoss",
            "Unauthenticated",
        ];
        let names: Vec<&str> = Code::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names, expected);
        assert_eq!(Code::DeadlineExceeded.to_string(), "DeadlineExceeded");
    }

    #[test]
    fn to_http_table() {
        let expected: [u16; 17] = [
            200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401,
        ];
        let got: Vec<u16> = Code::ALL.iter().map(|c| c.to_http_status()).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn from_http_table() {
        assert_eq!(Code::from_http_status(400), Code::Internal);
        assert_eq!(Code::from_http_status(401), Code::Unauthenticated);
        assert_eq!(Code::from_http_status(403), Code::PermissionDenied);
        assert_eq!(Code::from_http_status(404), Code::Unimplemented);
        for s in [429, 502, 503, 504] {
            assert_eq!(Code::from_http_status(s), Code::Unavailable, "{s}");
        }
        for s in [200, 204, 301, 405, 409, 500, 501, 505, 0, 999] {
            assert_eq!(Code::from_http_status(s), Code::Unknown, "{s}");
        }
    }

    #[test]
    fn parse_status_values() {
        assert_eq!(parse_grpc_status(b"0"), Some(Code::Ok));
        assert_eq!(parse_grpc_status(b" 14\t"), Some(Code::Unavailable));
        assert_eq!(parse_grpc_status(b"007"), Some(Code::PermissionDenied));
        assert_eq!(parse_grpc_status(b"17"), Some(Code::Unknown));
        assert_eq!(parse_grpc_status(b"99999"), Some(Code::Unknown));
        assert_eq!(parse_grpc_status(b"4294967296"), Some(Code::Unknown));
        assert_eq!(parse_grpc_status(b""), None);
        assert_eq!(parse_grpc_status(b"  "), None);
        assert_eq!(parse_grpc_status(b"-1"), None);
        assert_eq!(parse_grpc_status(b"+1"), None);
        assert_eq!(parse_grpc_status(b"1 2"), None);
        assert_eq!(parse_grpc_status(b"OK"), None);
        assert_eq!(parse_grpc_status(b"12345678901"), None);
    }
}
