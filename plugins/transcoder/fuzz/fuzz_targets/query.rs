//! Query-string parsing.
//!
//! Properties: nothing panics on any input; and encoding arbitrary pairs
//! then parsing them gives the same pairs back.

#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use protogate_plugin_transcoder::query::parse_query;

fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let raw: String = u.arbitrary()?;
    let _ = parse_query(&raw);
    let pairs: Vec<(String, String)> = u.arbitrary()?;
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| !k.is_empty()).collect();
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let parsed = parse_query(&encoded.join("&")).expect("our own encoding parses");
    assert_eq!(parsed, pairs);
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
