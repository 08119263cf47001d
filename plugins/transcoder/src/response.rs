//! From the upstream's gRPC answer to the REST answer: the message as
//! proto3 JSON (or the raw bytes of a `google.api.HttpBody`), and errors as
//! `{"code", "message", "details"}` with the details decoded through the
//! catalog.

use base64::Engine;
use bytes::Bytes;
use http::HeaderMap;
use prost::Message as _;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, SerializeOptions, Value,
};
use protogate_core::{json_error_body, Code, GatewayError};
use protogate_grpc::message::decode_grpc_message;
use protogate_grpc::status::parse_grpc_status;

use std::sync::Arc;

use crate::bindings::is_http_body;
use crate::config::{FieldNames, JsonSettings};
use crate::wire_json::{Scratch, WirePrinter};

/// A REST answer body.
#[derive(Debug)]
pub enum Body {
    /// JSON text.
    Json(Vec<u8>),
    /// A `google.api.HttpBody`'s bytes, with its content type.
    Raw {
        /// The content type the upstream chose (may be empty).
        content_type: String,
        /// The bytes.
        data: Bytes,
    },
}

/// Prints messages as JSON with the route's settings.
#[derive(Debug, Clone)]
pub struct Printer {
    options: SerializeOptions,
    proto_names: bool,
    wire: Arc<WirePrinter>,
}

impl Printer {
    /// A printer for `settings`, fast for the message types reachable from
    /// `roots` (the answers of the route's methods).
    pub fn new(
        settings: &JsonSettings,
        roots: impl IntoIterator<Item = MessageDescriptor>,
    ) -> Self {
        let options = settings.serialize_options();
        Self {
            options,
            proto_names: settings.field_names == FieldNames::Proto,
            wire: Arc::new(WirePrinter::new(roots, settings)),
        }
    }

    /// The REST body for an upstream message given as wire bytes: printed
    /// straight from the bytes when it can be ([`WirePrinter`]), else
    /// decoded and printed by [`Printer::body`].
    pub fn body_from_wire(
        &self,
        output: &MessageDescriptor,
        bytes: Bytes,
        response_body: Option<&prost_reflect::FieldDescriptor>,
        scratch: &mut Scratch,
    ) -> Result<Body, GatewayError> {
        if response_body.is_none() && !is_http_body(output) {
            let mut out = Vec::with_capacity(bytes.len() * 2 + 16);
            if self.wire.print(output, &bytes, scratch, &mut out).is_ok() {
                return Ok(Body::Json(out));
            }
        }
        let message = DynamicMessage::decode(output.clone(), bytes).map_err(|e| {
            GatewayError::internal(format!(
                "the upstream sent a message that is not a valid {}: {e}",
                output.full_name()
            ))
            .with_http_status(502)
        })?;
        self.body(&message, response_body)
    }

    /// `message` as JSON text.
    pub fn print(&self, message: &DynamicMessage) -> Result<Vec<u8>, GatewayError> {
        let mut out = Vec::with_capacity(256);
        let mut serializer = serde_json::Serializer::new(&mut out);
        message
            .serialize_with_options(&mut serializer, &self.options)
            .map_err(|e| {
                GatewayError::internal(format!("cannot print the response as JSON: {e}"))
            })?;
        Ok(out)
    }

    /// `message` as a JSON value (for error details).
    fn to_value(&self, message: &DynamicMessage) -> Option<serde_json::Value> {
        message
            .serialize_with_options(serde_json::value::Serializer, &self.options)
            .ok()
    }

    /// The REST body for an upstream `message`: the whole message, or the
    /// `response_body` field; raw bytes for `google.api.HttpBody`.
    pub fn body(
        &self,
        message: &DynamicMessage,
        response_body: Option<&prost_reflect::FieldDescriptor>,
    ) -> Result<Body, GatewayError> {
        let Some(field) = response_body else {
            if is_http_body(&message.descriptor()) {
                return Ok(raw(message));
            }
            return self.print(message).map(Body::Json);
        };
        let value = message.get_field(field);
        match value.as_ref() {
            Value::Message(inner) if !field.is_list() && is_http_body(&inner.descriptor()) => {
                Ok(raw(inner))
            }
            Value::Message(inner) if !field.is_list() && !field.is_map() => {
                self.print(inner).map(Body::Json)
            }
            _ => {
                // A scalar, list or map field: print the message and take
                // the field's JSON out of it, so every proto3 JSON rule applies.
                let whole = self
                    .to_value(message)
                    .ok_or_else(|| GatewayError::internal("cannot print the response as JSON"))?;
                let key = if self.proto_names {
                    field.name()
                } else {
                    field.json_name()
                };
                let part = whole.get(key).cloned().unwrap_or(serde_json::Value::Null);
                serde_json::to_vec(&part)
                    .map(Body::Json)
                    .map_err(|e| GatewayError::internal(e.to_string()))
            }
        }
    }

    /// The JSON error body `{"code", "message", "details"}`. `details` is
    /// the upstream's `grpc-status-details-bin` (a `google.rpc.Status`),
    /// each `Any` printed with its `@type` when the catalog knows the type
    /// and as `{"@type", "value": base64}` when it does not.
    pub fn error(
        &self,
        code: Code,
        message: &str,
        details: Option<&[u8]>,
        pool: &DescriptorPool,
    ) -> Vec<u8> {
        let details = details
            .and_then(|bytes| RpcStatus::decode(bytes).ok())
            .map(|status| {
                status
                    .details
                    .iter()
                    .map(|any| self.any_to_json(any, pool))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        json_error_body(code, message, &details)
    }

    fn any_to_json(&self, any: &prost_types::Any, pool: &DescriptorPool) -> serde_json::Value {
        let name = any.type_url.rsplit('/').next().unwrap_or(&any.type_url);
        let decoded = pool
            .get_message_by_name(name)
            .and_then(|descriptor: MessageDescriptor| {
                DynamicMessage::decode(descriptor, any.value.as_slice()).ok()
            })
            .and_then(|m| self.to_value(&m));
        let mut object = serde_json::Map::new();
        object.insert("@type".to_owned(), any.type_url.clone().into());
        match decoded {
            Some(serde_json::Value::Object(fields)) => object.extend(fields),
            Some(other) => {
                object.insert("value".to_owned(), other);
            }
            None => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&any.value);
                object.insert("value".to_owned(), encoded.into());
            }
        }
        serde_json::Value::Object(object)
    }
}

fn raw(message: &DynamicMessage) -> Body {
    let content_type = message
        .get_field_by_name("content_type")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let data = message
        .get_field_by_name("data")
        .and_then(|v| v.as_bytes().cloned())
        .unwrap_or_default();
    Body::Raw { content_type, data }
}

/// The one message of a unary answer, decoded.
pub fn decode_unary(
    body: &[u8],
    output: MessageDescriptor,
) -> Result<DynamicMessage, GatewayError> {
    let payload = unary_payload(&Bytes::copy_from_slice(body))?;
    DynamicMessage::decode(output.clone(), payload).map_err(|e| {
        bad_frame_owned(format!(
            "a message that is not a valid {}: {e}",
            output.full_name()
        ))
    })
}

/// The one message of a unary answer, out of its gRPC framing.
pub fn unary_payload(body: &Bytes) -> Result<Bytes, GatewayError> {
    let Some((&flag, rest)) = body.split_first() else {
        return Err(
            GatewayError::internal("the upstream answered OK without a message")
                .with_http_status(502),
        );
    };
    if rest.len() < 4 {
        return Err(bad_frame("a truncated gRPC frame header"));
    }
    let (length, payload) = rest.split_at(4);
    let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
    if flag & 1 == 1 {
        return Err(bad_frame("a compressed message, though none was asked for"));
    }
    if payload.len() != length {
        return Err(bad_frame(if payload.len() < length {
            "a truncated message"
        } else {
            "more than one message for a unary method"
        }));
    }
    Ok(body.slice(5..))
}

fn bad_frame(what: &str) -> GatewayError {
    bad_frame_owned(what.to_owned())
}

fn bad_frame_owned(what: String) -> GatewayError {
    GatewayError::internal(format!("the upstream sent {what}")).with_http_status(502)
}

/// Why a call ended badly, as its REST answer reports it: from the
/// upstream's `grpc-status` trailers, or from the gateway.
#[derive(Debug, Clone)]
pub struct CallError {
    /// The gRPC code.
    pub code: Code,
    /// The message.
    pub message: String,
    /// `grpc-status-details-bin`, decoded from base64.
    pub details: Option<Vec<u8>>,
    /// The HTTP status for REST callers when the code's usual one would
    /// mislead: 502 when the upstream's answer is at fault (a malformed or
    /// oversize stream is not the caller's 429 or 400). `None`: the code's.
    pub http_status: Option<u16>,
}

impl From<GatewayError> for CallError {
    fn from(e: GatewayError) -> Self {
        Self {
            code: e.code,
            message: e.message.into_owned(),
            details: None,
            http_status: e.http_status,
        }
    }
}

impl CallError {
    /// The status a set of trailers (or a trailers-only header) carries;
    /// `None` for OK, INTERNAL when there is no `grpc-status` at all.
    pub fn from_trailers(trailers: Option<&HeaderMap>) -> Option<Self> {
        let Some(trailers) = trailers.filter(|t| t.contains_key("grpc-status")) else {
            return Some(Self {
                code: Code::Internal,
                message: "the upstream ended the stream without a grpc-status".to_owned(),
                details: None,
                http_status: Some(502),
            });
        };
        let code = trailers
            .get("grpc-status")
            .and_then(|v| parse_grpc_status(v.as_bytes()))
            .unwrap_or(Code::Unknown);
        if code == Code::Ok {
            return None;
        }
        Some(Self {
            code,
            message: trailers
                .get("grpc-message")
                .map(|m| decode_grpc_message(m.as_bytes()).into_owned())
                .unwrap_or_default(),
            details: trailers
                .get("grpc-status-details-bin")
                .and_then(|v| crate::fields::decode_base64(v.to_str().ok()?)),
            http_status: None,
        })
    }
}

/// The wire form of `google.rpc.Status`, declared here so no extra crate
/// is needed to read it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}
