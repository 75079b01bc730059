//! Text in and out of requests: percent-encoding of what goes into a URL, and the cutting
//! of text taken from a response or a transport error before it is kept in an error
//! (scrub first, then truncate: a token cut in half would no longer be found).

/// `value` with every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`) as
/// `%XX`: safe as one query parameter value, and as one path segment unless it is `.` or
/// `..` (which the caller must encode itself).
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(hex(byte >> 4));
            out.push(hex(byte & 0x0f));
        }
    }
    out
}

fn hex(nibble: u8) -> char {
    char::from(b"0123456789ABCDEF"[usize::from(nibble & 0x0f)])
}

/// The most characters of a server's message kept in an error.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// At most [`MAX_MESSAGE_CHARS`] characters, with `…` when cut; control characters (line
/// breaks among them) become spaces.
pub fn truncate(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_bytes_stay_and_every_other_byte_is_encoded() {
        for (raw, encoded) in [
            // Unreserved characters stay.
            ("build-image_v1.2~x.yml", "build-image_v1.2~x.yml"),
            ("12345", "12345"),
            ("", ""),
            // Reserved characters, space, percent and UTF-8 are encoded.
            ("a b", "a%20b"),
            ("a?b#c%d", "a%3Fb%23c%25d"),
            ("é", "%C3%A9"),
            // A token request's query values.
            (
                "repository:library/node:pull",
                "repository%3Alibrary%2Fnode%3Apull",
            ),
            ("a b&c", "a%20b%26c"),
        ] {
            assert_eq!(percent_encode(raw), encoded, "{raw:?}");
        }
    }

    #[test]
    fn truncate_cuts_and_flattens() {
        assert_eq!(truncate("a\nb"), "a b");
        let long = "x".repeat(1000);
        assert_eq!(truncate(&long).chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(truncate(&long).ends_with('…'));
        let exact = "é".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(truncate(&exact), exact);
    }
}
