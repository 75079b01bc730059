//! Small text primitives that reproduce Go's standard library behaviour where BuildKit
//! relies on it (`unicode.IsSpace`, `strings.TrimSpace`, `strings.ToLower`, the
//! `[\t\v\f\r ]+` separator) without allocating on the hot path.

/// Go's `unicode.IsSpace` (the Unicode `White_Space` property, as Rust's `char::is_whitespace`).
#[inline]
pub(crate) fn is_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
    } else {
        c.is_whitespace()
    }
}

/// Go's `unicode.IsSpace(rune(b))` applied to one byte, as BuildKit's byte-wise loops do
/// (so the Latin-1 bytes 0x85 and 0xA0 count as spaces there).
#[inline]
pub(crate) fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x85 | 0xa0)
}

/// The separator class of BuildKit's `reWhitespace` regular expression: `[\t\v\f\r ]`.
#[inline]
pub(crate) fn is_sep_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x0b | 0x0c | b'\r')
}

/// `bytes.TrimLeftFunc(s, unicode.IsSpace)`.
#[inline]
pub(crate) fn trim_start_space(s: &str) -> &str {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii() {
            if matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
                i += 1;
                continue;
            }
            break;
        }
        // Non-ASCII: fall back to char decoding for the rest.
        return s
            .get(i..)
            .map_or("", |rest| rest.trim_start_matches(is_space));
    }
    s.get(i..).unwrap_or("")
}

/// `strings.TrimRightFunc(s, unicode.IsSpace)`.
#[inline]
pub(crate) fn trim_end_space(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

/// `strings.TrimSpace`.
#[inline]
pub(crate) fn trim_space(s: &str) -> &str {
    trim_end_space(trim_start_space(s))
}

/// `strings.ToLower`: simple per-character lowering (Go maps U+0130 to a plain `i`).
pub(crate) fn go_lower(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\u{130}' {
            out.push('i');
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// `strings.ToUpper`, per character.
pub(crate) fn go_upper(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let mut up = c.to_uppercase();
        // Go's simple mapping never expands one rune into several; keep the first.
        match (up.next(), up.next()) {
            (Some(u), None) => out.push(u),
            _ => out.push(c),
        }
    }
    out
}

/// Byte offset of `inner` inside `outer`, when `inner` is a sub-slice of it.
#[inline]
pub(crate) fn offset_in(outer: &str, inner: &str) -> usize {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    if i >= o && i <= o + outer.len() {
        i - o
    } else {
        0
    }
}

/// Splits `s` on runs of `[\t\v\f\r ]` (Go's `reWhitespace.Split(s, -1)`), yielding the
/// pieces as sub-slices. An empty input yields one empty piece, like Go.
pub(crate) fn split_sep(s: &str) -> SplitSep<'_> {
    SplitSep { rest: Some(s) }
}

/// The iterator of [`split_sep`].
pub(crate) struct SplitSep<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for SplitSep<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let (piece, rest) = split_sep_once(s);
        self.rest = rest;
        Some(piece)
    }
}

/// Splits `s` once on the first run of `[\t\v\f\r ]` (Go's `reWhitespace.Split(s, 2)`).
pub(crate) fn split_sep_once(s: &str) -> (&str, Option<&str>) {
    let bytes = s.as_bytes();
    match bytes.iter().position(|&b| is_sep_byte(b)) {
        None => (s, None),
        Some(i) => {
            let mut j = i;
            while j < bytes.len() && is_sep_byte(bytes[j]) {
                j += 1;
            }
            (s.get(..i).unwrap_or(""), Some(s.get(j..).unwrap_or("")))
        }
    }
}

/// `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `strconv.ParseInt(s, 10, bits)`: an optional sign and decimal digits within range.
pub(crate) fn parse_go_int(s: &str, bits: u32) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, s.get(1..)?),
        Some(b'-') => (true, s.get(1..)?),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut v: i128 = 0;
    for b in digits.bytes() {
        v = v * 10 + i128::from(b - b'0');
        if v > i128::from(u64::MAX) {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    let limit = 1i128 << (bits.clamp(1, 64) - 1);
    if v < -limit || v >= limit {
        None
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_go() {
        assert_eq!(trim_space("\u{a0} a b \t"), "a b");
        assert_eq!(trim_start_space("  \u{3000}x"), "x");
        assert_eq!(
            split_sep("a  b\tc").collect::<Vec<_>>(),
            vec!["a", "b", "c"]
        );
        assert_eq!(split_sep(" a ").collect::<Vec<_>>(), vec!["", "a", ""]);
        assert_eq!(split_sep("").collect::<Vec<_>>(), vec![""]);
        assert_eq!(split_sep_once("FROM  a b"), ("FROM", Some("a b")));
        assert_eq!(go_lower("İX"), "ix");
    }

    #[test]
    fn ints_and_bools() {
        assert_eq!(parse_go_int("-12", 64), Some(-12));
        assert_eq!(parse_go_int("+7", 64), Some(7));
        assert_eq!(parse_go_int("2147483648", 32), None);
        assert_eq!(parse_go_int("", 64), None);
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("yes"), None);
    }
}
