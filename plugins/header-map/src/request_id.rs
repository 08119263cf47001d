//! Request ids: the caller's `x-request-id` when it is usable, else a new
//! random one in UUID v4 form.

use http::HeaderValue;

/// The longest incoming id taken as it is.
const MAX_LEN: usize = 128;

/// The caller's id if it is 1 to 128 visible ASCII characters (so it is
/// safe in a log line and as gRPC metadata), else a new one.
pub fn accept_or_make(incoming: Option<&HeaderValue>) -> String {
    if let Some(id) = incoming.and_then(|v| v.to_str().ok()) {
        if !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic()) {
            return id.to_owned();
        }
    }
    make()
}

/// A random UUID v4 (`8-4-4-4-12` hex digits; version and variant bits set).
pub fn make() -> String {
    let mut bits = fastrand::u128(..);
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usable_incoming_id_is_kept_and_others_are_replaced() {
        let kept = accept_or_make(Some(&HeaderValue::from_static("abc-123")));
        assert_eq!(kept, "abc-123");
        for bad in ["", "has space", &"x".repeat(129)] {
            let made = accept_or_make(Some(&HeaderValue::from_str(bad).expect("value")));
            assert_ne!(made, bad);
            assert_eq!(made.len(), 36);
        }
    }

    #[test]
    fn made_ids_are_uuid_v4_and_differ() {
        let a = make();
        let b = make();
        assert_ne!(a, b);
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_eq!(a.matches('-').count(), 4);
    }
}
