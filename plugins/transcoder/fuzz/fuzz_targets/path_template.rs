//! Parses fuzzer-built path templates and matches fuzzer-built paths.
//!
//! Properties: nothing panics; and for a template that parses, a path built
//! from it by filling each one-segment variable with an arbitrary value
//! (percent-encoded) matches, and gives back exactly those values.

#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use protogate_plugin_transcoder::template::{PathTemplate, RequestPath, Segment};

const PIECES: &[&str] = &[
    "/", "v1", "a", "{id}", "{a.b}", "{n=x/*}", "{p=**}", "*", "**", ":verb", ":", "%2F", "%zz",
    "{", "}", "=", ".", "x y", "é",
];

fn text(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(1, 5)? {
        return u.arbitrary();
    }
    let mut out = String::new();
    for _ in 0..u.int_in_range(0..=8)? {
        out.push_str(u.choose(PIECES)?);
    }
    Ok(out)
}

fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let template_text = text(u)?;
    let path = text(u)?;
    let Ok(template) = PathTemplate::parse(&template_text) else {
        return Ok(());
    };
    let _ = template.matches(&RequestPath::new(&path));

    // Round trip: fill every segment, giving one-segment variables values.
    let mut segments: Vec<String> = Vec::new();
    let mut expected = Vec::new();
    for (index, segment) in template.segments.iter().enumerate() {
        let variable = template
            .variables
            .iter()
            .position(|v| v.start == index && v.end == index + 1);
        match segment {
            Segment::Literal(l) => {
                segments.push(encode(l));
                // A variable over a literal captures it; as in any
                // multi-segment capture, a `/` in it stays encoded.
                if let Some(v) = variable {
                    expected.push((v, l.replace('/', "%2F")));
                }
            }
            Segment::Any => {
                let mut value: String = u.arbitrary()?;
                if value.is_empty() {
                    value.push('v');
                }
                segments.push(encode(&value));
                if let Some(v) = variable {
                    expected.push((v, value));
                }
            }
            Segment::Rest => return Ok(()), // multi-segment values: no simple oracle
        }
    }
    if template.variables.iter().any(|v| v.end - v.start != 1) {
        return Ok(());
    }
    let mut built = format!("/{}", segments.join("/"));
    if let Some(verb) = &template.verb {
        built.push(':');
        built.push_str(verb);
    }
    let captures = template
        .matches(&RequestPath::new(&built))
        .unwrap_or_else(|| panic!("{built} does not match {template_text}"));
    assert_eq!(captures, expected, "{built} against {template_text}");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
