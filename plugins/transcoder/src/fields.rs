//! Fields named by text: resolving `a.b.c` against a message, and turning
//! a path or query value into a field value with a clear error.
//!
//! Path and query values are text; each becomes the field's type by the
//! proto3 JSON rules: numbers (64-bit ones too) in decimal, bools as
//! `true`/`false`, enums by name or number, bytes as base64, and the
//! well-known types that have a string form (Timestamp in RFC 3339,
//! Duration as `1.5s`, FieldMask as `a,b.c`, and the wrappers).

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

/// Well-known message types that a single text value can fill.
const STRING_FORM_TYPES: [&str; 3] = [
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
];

/// The wrapper types: a message with one `value` field.
const WRAPPERS: [&str; 9] = [
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
];

/// Resolves a dotted field path (proto or JSON names) from `message`:
/// every step but the last must be a singular message field.
pub fn resolve_field_path(
    message: &MessageDescriptor,
    parts: &[String],
) -> Result<Vec<FieldDescriptor>, String> {
    let mut chain = Vec::with_capacity(parts.len());
    let mut current = message.clone();
    for (index, part) in parts.iter().enumerate() {
        let field = find_field(&current, part).ok_or_else(|| {
            format!(
                "`{}` has no field `{part}` (in `{}`)",
                current.full_name(),
                parts.join(".")
            )
        })?;
        if index + 1 < parts.len() {
            match field.kind() {
                Kind::Message(next) if !field.is_list() && !field.is_map() => current = next,
                _ => {
                    return Err(format!(
                        "`{part}` in `{}` is {}, not a message to go into",
                        parts.join("."),
                        describe_kind(&field)
                    ))
                }
            }
        }
        chain.push(field);
    }
    Ok(chain)
}

/// A field by its proto name or its JSON name.
pub fn find_field(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_name(name)
        .or_else(|| message.get_field_by_json_name(name))
}

/// True when one text value can fill a field of this kind.
pub fn is_scalar_like(kind: &Kind) -> bool {
    match kind {
        Kind::Message(m) => {
            STRING_FORM_TYPES.contains(&m.full_name()) || WRAPPERS.contains(&m.full_name())
        }
        _ => true,
    }
}

/// "a repeated string", "a message (ecommerce.v1.Product)", ...
pub fn describe_kind(field: &FieldDescriptor) -> String {
    let kind = match field.kind() {
        Kind::Message(m) => format!("a message ({})", m.full_name()),
        Kind::Enum(e) => format!("an enum ({})", e.full_name()),
        other => format!("a {}", kind_name(&other)),
    };
    if field.is_map() {
        "a map".to_owned()
    } else if field.is_list() {
        format!(
            "a repeated field of {}",
            kind.trim_start_matches("a ").trim_start_matches("an ")
        )
    } else {
        kind
    }
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "int32",
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "int64",
        Kind::Uint32 | Kind::Fixed32 => "uint32",
        Kind::Uint64 | Kind::Fixed64 => "uint64",
        Kind::Bool => "bool",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Message(_) => "message",
        Kind::Enum(_) => "enum",
    }
}

/// Turns `text` into one value of `field` (one element, for a repeated
/// field). The error says what was expected.
pub fn value_from_text(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    scalar(&field.kind(), text)
}

fn scalar(kind: &Kind, text: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("`{text}` is not {what}");
    Ok(match kind {
        Kind::Double => Value::F64(parse_float(text).ok_or_else(|| bad("a number"))?),
        Kind::Float => Value::F32(parse_float(text).ok_or_else(|| bad("a number"))? as f32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(text.parse().map_err(|_| bad("an int32"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(text.parse().map_err(|_| bad("an int64"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(text.parse().map_err(|_| bad("a uint32"))?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(text.parse().map_err(|_| bad("a uint64"))?),
        Kind::Bool => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("a bool (true or false)")),
        },
        Kind::String => Value::String(text.to_owned()),
        Kind::Bytes => Value::Bytes(decode_base64(text).ok_or_else(|| bad("base64"))?.into()),
        Kind::Enum(e) => {
            if let Some(v) = e.get_value_by_name(text) {
                Value::EnumNumber(v.number())
            } else if let Ok(n) = text.parse::<i32>() {
                Value::EnumNumber(n)
            } else {
                let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
                return Err(format!(
                    "`{text}` is not a value of {} (one of: {})",
                    e.full_name(),
                    names.join(", ")
                ));
            }
        }
        Kind::Message(m) if WRAPPERS.contains(&m.full_name()) => {
            let inner = m
                .get_field_by_name("value")
                .ok_or_else(|| bad("a wrapper value"))?;
            let mut message = DynamicMessage::new(m.clone());
            message.set_field(&inner, scalar(&inner.kind(), text)?);
            Value::Message(message)
        }
        Kind::Message(m) if STRING_FORM_TYPES.contains(&m.full_name()) => {
            let json = serde_json::Value::String(text.to_owned());
            let message = DynamicMessage::deserialize(m.clone(), json)
                .map_err(|e| format!("`{text}` is not a valid {}: {e}", m.full_name()))?;
            Value::Message(message)
        }
        Kind::Message(m) => {
            return Err(format!(
                "a {} cannot be given as one value; set its fields with dots (`field.subfield`)",
                m.full_name()
            ))
        }
    })
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok().filter(|v: &f64| v.is_finite()),
    }
}

/// Standard or URL-safe base64, padded or not (as proto3 JSON accepts).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let trimmed = text.trim_end_matches('=');
    STANDARD_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE_NO_PAD.decode(trimmed))
        .ok()
}
