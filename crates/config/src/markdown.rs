//! The YAML examples of a README, for the tests that keep every README's
//! example a valid config.

/// The first ```` ```yaml ```` block of `markdown` after the first line
/// that is `heading` (from the start when `heading` is empty); `None` when
/// there is none.
pub fn yaml_block<'a>(markdown: &'a str, heading: &str) -> Option<&'a str> {
    let from = if heading.is_empty() {
        0
    } else {
        markdown
            .match_indices(heading)
            .find(|(at, _)| *at == 0 || markdown.as_bytes()[at - 1] == b'\n')?
            .0
    };
    let fence = "```yaml\n";
    let start = markdown[from..].find(fence)? + from + fence.len();
    let end = markdown[start..].find("```")? + start;
    Some(&markdown[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_block_under_a_heading() {
        let text = "# A\n```yaml\na: 1\n```\n## Example\n```yaml\nb: 2\n```\n";
        assert_eq!(yaml_block(text, ""), Some("a: 1\n"));
        assert_eq!(yaml_block(text, "## Example"), Some("b: 2\n"));
        assert_eq!(yaml_block(text, "## Missing"), None);
    }
}
