//! Protocol Buffers wire format, written straight into a byte buffer, sans
//! IO. Just what OTLP spans need: varints, fixed64/fixed32, strings and
//! bytes, and nested messages.
//!
//! A nested message is written in one pass: two bytes are kept for its
//! length, the body is written after them, and the length is filled in
//! when the body is done (moving the body one byte back for a length
//! under 128, or forward for one over 16 KiB). Nothing is measured twice
//! and nothing is allocated, where a generic encoder sizes every nested
//! message once per level above it.

/// Wire type of varint fields (integers, enums, bools).
const VARINT: u8 = 0;
/// Wire type of fixed64 fields.
const FIXED64: u8 = 1;
/// Wire type of strings, bytes and nested messages.
const LEN: u8 = 2;
/// Wire type of fixed32 fields.
const FIXED32: u8 = 5;

/// Appends `value` as a base-128 varint.
pub fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, u64::from(field) << 3 | u64::from(wire_type));
}

/// A varint field (`uint32`, `uint64`, `int64`, an enum).
pub fn uint(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, VARINT);
    varint(out, value);
}

/// A `fixed64` field.
pub fn fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    key(out, field, FIXED64);
    out.extend_from_slice(&value.to_le_bytes());
}

/// A `fixed32` field.
pub fn fixed32(out: &mut Vec<u8>, field: u32, value: u32) {
    key(out, field, FIXED32);
    out.extend_from_slice(&value.to_le_bytes());
}

/// A `bytes` field.
pub fn bytes(out: &mut Vec<u8>, field: u32, value: &[u8]) {
    key(out, field, LEN);
    varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// A `string` field.
pub fn string(out: &mut Vec<u8>, field: u32, value: &str) {
    bytes(out, field, value.as_bytes());
}

/// A `string` field whose value is `parts` one after the other (so a
/// joined text needs no buffer of its own).
pub fn string_parts(out: &mut Vec<u8>, field: u32, parts: &[&str]) {
    header(out, field, parts.iter().map(|part| part.len()).sum());
    for part in parts {
        out.extend_from_slice(part.as_bytes());
    }
}

/// The key and length of a length-delimited field whose `len` bytes the
/// caller appends next (for bodies assembled from parts already encoded).
pub fn header(out: &mut Vec<u8>, field: u32, len: usize) {
    key(out, field, LEN);
    varint(out, len as u64);
}

/// How many bytes a length-delimited field of `len` bytes takes, with its
/// key and length.
pub fn field_size(field: u32, len: usize) -> usize {
    varint_size(u64::from(field) << 3) + varint_size(len as u64) + len
}

/// How many bytes `value` takes as a varint.
pub fn varint_size(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// A nested message field whose body `write` appends.
pub fn message(out: &mut Vec<u8>, field: u32, write: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    write(out);
    let body = at + 2;
    let len = out.len() - body;
    if len < 0x80 {
        out[at] = len as u8;
        out.copy_within(body.., at + 1);
        out.truncate(out.len() - 1);
    } else if len < 0x4000 {
        out[at] = (len as u8) | 0x80;
        out[at + 1] = (len >> 7) as u8;
    } else {
        let mut prefix = Vec::with_capacity(5);
        varint(&mut prefix, len as u64);
        out.splice(at..body, prefix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_use_seven_bits_a_byte() {
        for (value, expected) in [
            (0u64, vec![0u8]),
            (1, vec![1]),
            (127, vec![0x7f]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xac, 0x02]),
            (
                u64::MAX,
                vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ] {
            let mut out = Vec::new();
            varint(&mut out, value);
            assert_eq!(out, expected, "{value}");
        }
    }

    #[test]
    fn sizes_match_what_is_written() {
        for (field, len) in [(1u32, 0usize), (2, 127), (15, 128), (16, 300), (9, 70_000)] {
            let mut out = Vec::new();
            header(&mut out, field, len);
            assert_eq!(out.len() + len, field_size(field, len), "{field} {len}");
        }
    }

    /// Nested messages of every length class: the length prefix is the
    /// shortest varint and the body is intact.
    #[test]
    fn nested_lengths_are_filled_in_whatever_the_size() {
        for len in [0usize, 1, 127, 128, 200, 0x3fff, 0x4000, 70_000] {
            let body: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut out = vec![0xaa];
            message(&mut out, 3, |out| out.extend_from_slice(&body));
            let mut expected = vec![0xaa, 3 << 3 | 2];
            varint(&mut expected, len as u64);
            expected.extend_from_slice(&body);
            assert_eq!(out, expected, "length {len}");
        }
    }
}
