//! Protobuf wire bytes straight to proto3 JSON, without building a
//! `DynamicMessage`.
//!
//! The answer path prints every upstream message; decoding it into a
//! `DynamicMessage` first (a map of fields, a `String` per text field) and
//! serializing that through serde took most of the CPU of a streamed
//! message. This printer reads the wire format once and writes the JSON
//! directly, with a per-type [`Plan`] made when the route is built (the
//! fields in number order, each with its JSON key already quoted).
//!
//! It prints what prost-reflect prints (the tests compare both):
//! fields in number order; with `emit_defaults`, absent fields that have
//! no presence as their defaults; 64-bit integers as strings; enums by
//! name; bytes as base64; Timestamp, Duration and the wrappers in their
//! JSON forms. Map entries come in wire order (prost-reflect's order is
//! unspecified). Anything it does not handle itself (Struct, Value, Any,
//! FieldMask, messages that extensions extend, a map with a repeated key,
//! a message field given twice) is
//! [`Fallback`]: the other well-known types are printed through
//! prost-reflect one sub-message at a time, and the rest makes the caller
//! print the whole message the slow way. Malformed bytes are a fallback
//! too, so the caller reports prost's error.

use std::collections::HashMap;
use std::fmt::Write as _;

use base64::Engine as _;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions};

use crate::config::{EnumStyle, FieldNames, JsonSettings};

/// This message needs the general printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback;

type Result<T> = std::result::Result<T, Fallback>;

/// Well-known types with a JSON form of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Special {
    /// An ordinary message.
    None,
    /// `google.protobuf.Timestamp`.
    Timestamp,
    /// `google.protobuf.Duration`.
    Duration,
    /// A wrapper (`Int64Value`, ...): its `value` field, bare.
    Wrapper,
    /// Another well-known type: printed by prost-reflect.
    Delegated,
}

fn special(full_name: &str) -> Special {
    match full_name {
        "google.protobuf.Timestamp" => Special::Timestamp,
        "google.protobuf.Duration" => Special::Duration,
        "google.protobuf.DoubleValue"
        | "google.protobuf.FloatValue"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.BoolValue"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue" => Special::Wrapper,
        name if name.starts_with("google.protobuf.") => Special::Delegated,
        _ => Special::None,
    }
}

/// How one field is printed.
#[derive(Debug, Clone)]
struct FieldPlan {
    number: u32,
    /// `"name":`, quoted and escaped.
    key: Box<[u8]>,
    kind: Kind,
    list: bool,
    map: Option<(FieldDescriptor, FieldDescriptor)>,
    presence: bool,
    /// The wire type its values have (0 varint, 1 fixed64, 2 length, 5 fixed32).
    wire_type: u8,
}

/// How one message type is printed.
#[derive(Debug, Clone)]
struct Plan {
    special: Special,
    fields: Vec<FieldPlan>,
}

/// The printer: plans for every message type an answer can contain.
#[derive(Debug, Clone)]
pub struct WirePrinter {
    /// By message full name.
    plans: HashMap<String, Plan>,
    settings: JsonSettings,
    options: SerializeOptions,
}

/// Reusable working memory for [`WirePrinter::print`]: keep one per stream
/// so printing allocates nothing for it after the first message.
#[derive(Debug, Default)]
pub struct Scratch(Vec<Occurrence>);

/// One field occurrence found on the wire.
#[derive(Debug, Clone, Copy)]
struct Occurrence {
    /// Index into the plan's fields.
    field: u32,
    wire: Wire,
}

/// A wire value: the number, or the byte range of a length-delimited one.
#[derive(Debug, Clone, Copy)]
enum Wire {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Len { start: u32, end: u32 },
}

impl WirePrinter {
    /// Plans for `roots` and every message type reachable from them.
    pub fn new(
        roots: impl IntoIterator<Item = MessageDescriptor>,
        settings: &JsonSettings,
    ) -> Self {
        let options = settings.serialize_options();
        let mut plans = HashMap::new();
        let mut todo: Vec<MessageDescriptor> = roots.into_iter().collect();
        while let Some(message) = todo.pop() {
            if plans.contains_key(message.full_name()) {
                continue;
            }
            let plan = plan(&message, settings, &mut todo);
            plans.insert(message.full_name().to_owned(), plan);
        }
        Self {
            plans,
            settings: *settings,
            options,
        }
    }

    /// Writes `bytes`, a `message`, as JSON to `out`. On a fallback, `out`
    /// is left as it was.
    pub fn print(
        &self,
        message: &MessageDescriptor,
        bytes: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mark = out.len();
        let scratch = &mut scratch.0;
        scratch.clear();
        let printed = self.message(message, bytes, scratch, out);
        if printed.is_err() {
            out.truncate(mark);
        }
        printed
    }

    fn message(
        &self,
        message: &MessageDescriptor,
        bytes: &[u8],
        scratch: &mut Vec<Occurrence>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let plan = self.plans.get(message.full_name()).ok_or(Fallback)?;
        match plan.special {
            Special::None => {}
            Special::Timestamp => return timestamp(bytes, out),
            Special::Duration => return duration(bytes, out),
            Special::Wrapper => {
                let inner = plan.fields.first().ok_or(Fallback)?;
                let base = scratch.len();
                scan(plan, bytes, scratch)?;
                let last = scratch[base..].iter().rev().find(|o| o.field == 0).copied();
                scratch.truncate(base);
                return match last {
                    Some(o) => self.scalar(&inner.kind, o.wire, bytes, out),
                    None => self.default_scalar(&inner.kind, out),
                };
            }
            Special::Delegated => return self.delegated(message, bytes, out),
        }
        let base = scratch.len();
        scan(plan, bytes, scratch)?;
        // Stable: occurrences of one field keep their wire order.
        scratch[base..].sort_by_key(|o| o.field);
        out.push(b'{');
        let mut first = true;
        let mut at = base;
        for (index, field) in plan.fields.iter().enumerate() {
            let start = at;
            while at < scratch.len() && scratch[at].field as usize == index {
                at += 1;
            }
            let present = at > start;
            if !present && (field.presence || !self.settings.emit_defaults) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            out.extend_from_slice(&field.key);
            self.field(field, start..at, bytes, scratch, out)?;
        }
        out.push(b'}');
        scratch.truncate(base);
        Ok(())
    }

    /// One field, from its occurrences `scratch[range]` (nested messages
    /// use the scratch space after them, and give it back).
    fn field(
        &self,
        field: &FieldPlan,
        range: std::ops::Range<usize>,
        bytes: &[u8],
        scratch: &mut Vec<Occurrence>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some((key, value)) = &field.map {
            return self.map(key, value, range, bytes, scratch, out);
        }
        if field.list {
            out.push(b'[');
            let mut first = true;
            for index in range {
                let wire = scratch[index].wire;
                match wire {
                    Wire::Len { start, end } if is_packable(&field.kind) => {
                        let mut rest = slice(bytes, start, end)?;
                        while !rest.is_empty() {
                            let element = packed_value(&field.kind, &mut rest)?;
                            comma(&mut first, out);
                            self.scalar(&field.kind, element, bytes, out)?;
                        }
                    }
                    _ => {
                        comma(&mut first, out);
                        self.value(&field.kind, wire, bytes, scratch, out)?;
                    }
                }
            }
            out.push(b']');
            return Ok(());
        }
        if range.is_empty() {
            return self.default_scalar(&field.kind, out);
        }
        if matches!(field.kind, Kind::Message(_)) && range.len() > 1 {
            return Err(Fallback); // several occurrences of a message merge
        }
        let wire = scratch[range.end - 1].wire;
        self.value(&field.kind, wire, bytes, scratch, out)
    }

    /// A map field: a JSON object, entries in wire order.
    fn map(
        &self,
        key: &FieldDescriptor,
        value: &FieldDescriptor,
        range: std::ops::Range<usize>,
        bytes: &[u8],
        scratch: &mut Vec<Occurrence>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let mut seen: Vec<Vec<u8>> = Vec::new();
        out.push(b'{');
        let mut first = true;
        for index in range {
            let Wire::Len { start, end } = scratch[index].wire else {
                return Err(Fallback);
            };
            let entry = slice(bytes, start, end)?;
            let (mut key_wire, mut value_wire) = (None, None);
            let mut rest = entry;
            while !rest.is_empty() {
                let offset = entry.len() - rest.len();
                let (number, wire) = read_field(&mut rest, offset)?;
                let kind = match number {
                    1 => key.kind(),
                    2 => value.kind(),
                    _ => continue,
                };
                if let (Kind::String, Wire::Len { start, end }) = (&kind, wire) {
                    std::str::from_utf8(slice(entry, start, end)?).map_err(|_| Fallback)?;
                }
                if number == 1 {
                    key_wire = Some(wire);
                } else {
                    value_wire = Some(wire);
                }
            }
            let mut key_text = Vec::new();
            match key_wire {
                Some(wire) => self.scalar(&key.kind(), wire, entry, &mut key_text)?,
                None => self.default_scalar(&key.kind(), &mut key_text)?,
            }
            if key_text.first() != Some(&b'"') {
                key_text.insert(0, b'"');
                key_text.push(b'"');
            }
            if seen.contains(&key_text) {
                return Err(Fallback); // a repeated key: the last one wins
            }
            comma(&mut first, out);
            out.extend_from_slice(&key_text);
            out.push(b':');
            match (value_wire, value.kind()) {
                (Some(wire), kind) => self.value(&kind, wire, entry, scratch, out)?,
                (None, Kind::Message(m)) => self.message(&m, &[], scratch, out)?,
                (None, kind) => self.default_scalar(&kind, out)?,
            }
            seen.push(key_text);
        }
        out.push(b'}');
        Ok(())
    }

    fn value(
        &self,
        kind: &Kind,
        wire: Wire,
        bytes: &[u8],
        scratch: &mut Vec<Occurrence>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        match kind {
            Kind::Message(message) => {
                let Wire::Len { start, end } = wire else {
                    return Err(Fallback);
                };
                self.message(message, slice(bytes, start, end)?, scratch, out)
            }
            kind => self.scalar(kind, wire, bytes, out),
        }
    }

    fn scalar(&self, kind: &Kind, wire: Wire, bytes: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match (kind, wire) {
            (Kind::Int32 | Kind::Sfixed32, _) => int(out, i64::from(as_i32(kind, wire)?)),
            (Kind::Uint32 | Kind::Fixed32, _) => int(out, i64::from(as_u32(kind, wire)?)),
            (Kind::Sint32, Wire::Varint(v)) => int(out, i64::from(zigzag32(v))),
            (Kind::Int64, Wire::Varint(v)) => quoted_int(out, v as i64),
            (Kind::Sfixed64, Wire::Fixed64(v)) => quoted_int(out, v as i64),
            (Kind::Sint64, Wire::Varint(v)) => quoted_int(out, zigzag64(v)),
            (Kind::Uint64, Wire::Varint(v)) | (Kind::Fixed64, Wire::Fixed64(v)) => {
                let _ = write!(Text(out), "\"{v}\"");
            }
            (Kind::Double, Wire::Fixed64(v)) => float(out, f64::from_bits(v)),
            (Kind::Float, Wire::Fixed32(v)) => float32(out, f32::from_bits(v)),
            (Kind::Bool, Wire::Varint(v)) => {
                out.extend_from_slice(if v != 0 { b"true" } else { b"false" })
            }
            (Kind::String, Wire::Len { start, end }) => {
                let text = std::str::from_utf8(slice(bytes, start, end)?).map_err(|_| Fallback)?;
                serde_json::to_writer(&mut *out, text).map_err(|_| Fallback)?;
            }
            (Kind::Bytes, Wire::Len { start, end }) => {
                out.push(b'"');
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(slice(bytes, start, end)?);
                out.extend_from_slice(encoded.as_bytes());
                out.push(b'"');
            }
            (Kind::Enum(e), Wire::Varint(v)) => {
                let number = v as i32;
                if e.full_name() == "google.protobuf.NullValue" {
                    out.extend_from_slice(b"null");
                } else if self.settings.enums == EnumStyle::Number {
                    int(out, i64::from(number));
                } else {
                    match e.get_value(number) {
                        Some(value) => {
                            serde_json::to_writer(&mut *out, value.name()).map_err(|_| Fallback)?
                        }
                        None => int(out, i64::from(number)),
                    }
                }
            }
            _ => return Err(Fallback),
        }
        Ok(())
    }

    fn default_scalar(&self, kind: &Kind, out: &mut Vec<u8>) -> Result<()> {
        match kind {
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Uint32 | Kind::Fixed32 => {
                out.push(b'0')
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint64 | Kind::Fixed64 => {
                out.extend_from_slice(b"\"0\"")
            }
            Kind::Double | Kind::Float => out.extend_from_slice(b"0.0"),
            Kind::Bool => out.extend_from_slice(b"false"),
            Kind::String | Kind::Bytes => out.extend_from_slice(b"\"\""),
            Kind::Enum(_) => self.scalar(kind, Wire::Varint(0), &[], out)?,
            Kind::Message(_) => return Err(Fallback),
        }
        Ok(())
    }

    /// A well-known type this printer does not format itself.
    fn delegated(
        &self,
        message: &MessageDescriptor,
        bytes: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let decoded = DynamicMessage::decode(message.clone(), bytes).map_err(|_| Fallback)?;
        let mut serializer = serde_json::Serializer::new(&mut *out);
        decoded
            .serialize_with_options(&mut serializer, &self.options)
            .map_err(|_| Fallback)
    }
}

/// The plan for one message type; message types it refers to go on `todo`.
fn plan(
    message: &MessageDescriptor,
    settings: &JsonSettings,
    todo: &mut Vec<MessageDescriptor>,
) -> Plan {
    // A message that extensions extend is printed by prost-reflect, which
    // knows how to name extension fields in JSON.
    let special = if message.extensions().len() > 0 {
        Special::Delegated
    } else {
        special(message.full_name())
    };
    let mut fields: Vec<FieldPlan> = message
        .fields()
        .map(|field| {
            let name = match settings.field_names {
                FieldNames::Proto => field.name().to_owned(),
                FieldNames::LowerCamel => field.json_name().to_owned(),
            };
            let mut key = serde_json::to_vec(&name).unwrap_or_default();
            key.push(b':');
            let map = if field.is_map() {
                match field.kind() {
                    Kind::Message(entry) => entry.get_field(1).zip(entry.get_field(2)),
                    _ => None,
                }
            } else {
                None
            };
            if let Some((_, value)) = &map {
                if let Kind::Message(m) = value.kind() {
                    todo.push(m);
                }
            } else if let Kind::Message(m) = field.kind() {
                todo.push(m);
            }
            FieldPlan {
                number: field.number(),
                key: key.into_boxed_slice(),
                kind: field.kind(),
                list: field.is_list(),
                wire_type: wire_type(&field.kind(), field.is_map()),
                map,
                presence: field.supports_presence(),
            }
        })
        .collect();
    fields.sort_by_key(|f| f.number);
    Plan { special, fields }
}

/// Appends every known field's occurrences in `bytes` to `scratch`.
fn scan(plan: &Plan, bytes: &[u8], scratch: &mut Vec<Occurrence>) -> Result<()> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        let (number, wire) = read_field(&mut rest, offset)?;
        if let Ok(index) = plan.fields.binary_search_by_key(&number, |f| f.number) {
            // A value of the wrong wire type is an error for prost, even
            // one that a later value of the field would replace.
            let field = &plan.fields[index];
            let packed = field.list && matches!(wire, Wire::Len { .. }) && is_packable(&field.kind);
            if wire_type_of(wire) != field.wire_type && !packed {
                return Err(Fallback);
            }
            // prost checks every string, even one a later value replaces.
            if let (Kind::String, Wire::Len { start, end }) = (&field.kind, wire) {
                std::str::from_utf8(slice(bytes, start, end)?).map_err(|_| Fallback)?;
            }
            scratch.push(Occurrence {
                field: index as u32,
                wire,
            });
        }
    }
    Ok(())
}

/// Reads one field (tag and value) from the front of `rest`; `offset` is
/// where `rest` starts in the message, for the byte ranges.
fn read_field(rest: &mut &[u8], offset: usize) -> Result<(u32, Wire)> {
    let before = rest.len();
    let tag = u32::try_from(varint(rest)?).map_err(|_| Fallback)?;
    let number = tag >> 3;
    if number == 0 {
        return Err(Fallback);
    }
    let wire = match tag & 7 {
        0 => Wire::Varint(varint(rest)?),
        1 => {
            let (head, tail) = rest.split_at_checked(8).ok_or(Fallback)?;
            *rest = tail;
            Wire::Fixed64(u64::from_le_bytes(head.try_into().map_err(|_| Fallback)?))
        }
        2 => {
            let len = usize::try_from(varint(rest)?).map_err(|_| Fallback)?;
            if len > rest.len() {
                return Err(Fallback);
            }
            let start = offset + (before - rest.len());
            *rest = &rest[len..];
            Wire::Len {
                start: u32::try_from(start).map_err(|_| Fallback)?,
                end: u32::try_from(start + len).map_err(|_| Fallback)?,
            }
        }
        5 => {
            let (head, tail) = rest.split_at_checked(4).ok_or(Fallback)?;
            *rest = tail;
            Wire::Fixed32(u32::from_le_bytes(head.try_into().map_err(|_| Fallback)?))
        }
        _ => return Err(Fallback), // groups and bad wire types
    };
    Ok((number, wire))
}

fn varint(rest: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for shift in 0..10 {
        let (&byte, tail) = rest.split_first().ok_or(Fallback)?;
        *rest = tail;
        if shift == 9 && byte > 1 {
            return Err(Fallback); // more than 64 bits
        }
        value |= u64::from(byte & 0x7f) << (shift * 7);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Fallback)
}

/// The wire type of values of `kind`.
fn wire_type(kind: &Kind, map: bool) -> u8 {
    match kind {
        _ if map => 2,
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => 1,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => 5,
        Kind::String | Kind::Bytes | Kind::Message(_) => 2,
        _ => 0,
    }
}

fn wire_type_of(wire: Wire) -> u8 {
    match wire {
        Wire::Varint(_) => 0,
        Wire::Fixed64(_) => 1,
        Wire::Len { .. } => 2,
        Wire::Fixed32(_) => 5,
    }
}

fn is_packable(kind: &Kind) -> bool {
    !matches!(kind, Kind::String | Kind::Bytes | Kind::Message(_))
}

/// One element of a packed repeated field.
fn packed_value(kind: &Kind, rest: &mut &[u8]) -> Result<Wire> {
    Ok(match kind {
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => {
            let (head, tail) = rest.split_at_checked(8).ok_or(Fallback)?;
            *rest = tail;
            Wire::Fixed64(u64::from_le_bytes(head.try_into().map_err(|_| Fallback)?))
        }
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => {
            let (head, tail) = rest.split_at_checked(4).ok_or(Fallback)?;
            *rest = tail;
            Wire::Fixed32(u32::from_le_bytes(head.try_into().map_err(|_| Fallback)?))
        }
        _ => Wire::Varint(varint(rest)?),
    })
}

fn slice(bytes: &[u8], start: u32, end: u32) -> Result<&[u8]> {
    bytes.get(start as usize..end as usize).ok_or(Fallback)
}

fn as_i32(kind: &Kind, wire: Wire) -> Result<i32> {
    match (kind, wire) {
        (Kind::Int32, Wire::Varint(v)) => Ok(v as i32),
        (Kind::Sfixed32, Wire::Fixed32(v)) => Ok(v as i32),
        _ => Err(Fallback),
    }
}

fn as_u32(kind: &Kind, wire: Wire) -> Result<u32> {
    match (kind, wire) {
        (Kind::Uint32, Wire::Varint(v)) => Ok(v as u32),
        (Kind::Fixed32, Wire::Fixed32(v)) => Ok(v),
        _ => Err(Fallback),
    }
}

fn zigzag32(v: u64) -> i32 {
    let v = v as u32;
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

fn zigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn comma(first: &mut bool, out: &mut Vec<u8>) {
    if !*first {
        out.push(b',');
    }
    *first = false;
}

fn int(out: &mut Vec<u8>, v: i64) {
    let _ = write!(Text(out), "{v}");
}

fn quoted_int(out: &mut Vec<u8>, v: i64) {
    let _ = write!(Text(out), "\"{v}\"");
}

fn float(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        let _ = serde_json::to_writer(&mut *out, &v);
    } else if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

fn float32(out: &mut Vec<u8>, v: f32) {
    if v.is_finite() {
        let _ = serde_json::to_writer(&mut *out, &v);
    } else {
        float(out, f64::from(v));
    }
}

/// `google.protobuf.Timestamp` in RFC 3339, as prost-types writes it.
fn timestamp(bytes: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let (seconds, nanos) = seconds_nanos(bytes)?;
    let value = prost_types::Timestamp { seconds, nanos };
    // The range proto3 JSON allows: 0001-01-01 to 9999-12-31.
    if !(-62_135_596_800..=253_402_300_799).contains(&seconds)
        || !(0..1_000_000_000).contains(&nanos)
    {
        return Err(Fallback);
    }
    let _ = write!(Text(out), "\"{value}\"");
    Ok(())
}

/// `google.protobuf.Duration` as `"1.5s"`, as prost-types writes it.
fn duration(bytes: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let (seconds, nanos) = seconds_nanos(bytes)?;
    if !(-315_576_000_000..=315_576_000_000).contains(&seconds)
        || nanos.abs() >= 1_000_000_000
        || (seconds > 0 && nanos < 0)
        || (seconds < 0 && nanos > 0)
    {
        return Err(Fallback);
    }
    let value = prost_types::Duration { seconds, nanos };
    let _ = write!(Text(out), "\"{value}\"");
    Ok(())
}

fn seconds_nanos(bytes: &[u8]) -> Result<(i64, i32)> {
    let (mut seconds, mut nanos) = (0i64, 0i32);
    let mut rest = bytes;
    while !rest.is_empty() {
        let offset = bytes.len() - rest.len();
        match read_field(&mut rest, offset)? {
            (1, Wire::Varint(v)) => seconds = v as i64,
            (2, Wire::Varint(v)) => nanos = v as i32,
            (1 | 2, _) => return Err(Fallback),
            _ => {}
        }
    }
    Ok((seconds, nanos))
}

/// `fmt::Write` into a byte buffer.
struct Text<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
