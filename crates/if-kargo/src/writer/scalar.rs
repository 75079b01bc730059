//! How one string is written: plain, `'x'`, double-quoted, or as a block scalar (which
//! [`super`] leaves to the generic path). The rules are serde-saphyr 2's defaults (block
//! style, YAML 1.1 resolution for values, the stricter key rules for keys); one pass over
//! the characters gathers what they need, and the checks for strings a YAML 1.1 reader
//! would take for a null, boolean, number or timestamp run only for strings that can be one.

use std::fmt::Write;

/// The style a string value is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// As is.
    Plain,
    /// In single quotes (serde-saphyr writes `.`, `#` and `-` alone this way).
    Single,
    /// In double quotes, escaped.
    Double,
    /// A literal (`|`) or folded (`>`) block scalar: not written here.
    Block,
}

/// Width past which serde-saphyr folds a long plain-safe line into a `>` block.
const FOLD_WIDTH: usize = 80;

/// Longest key written as an implicit (`key:`) key (YAML's 1024-character limit).
pub const KEY_MAX: usize = 1024;

/// What one pass over a string finds.
#[derive(Debug, Default, PartialEq, Eq)]
struct Scan {
    /// A character that only a double-quoted scalar can hold (controls, BOM, LS, PS, ...).
    escape: bool,
    /// A line feed.
    newline: bool,
    /// A character a block scalar cannot hold literally.
    not_block: bool,
    /// `: ` somewhere.
    colon_space: bool,
    /// `#` after white space (a comment in plain style).
    comment: bool,
    /// Any of `:,[]{}` (keys only).
    key_indicator: bool,
    /// Characters (not bytes).
    chars: usize,
}

impl Scan {
    fn of(s: &str) -> Scan {
        Scan::of_ascii(s.as_bytes()).unwrap_or_else(|| Scan::of_chars(s))
    }

    /// [`Scan::of`], a character at a time.
    fn of_chars(s: &str) -> Scan {
        let mut scan = Scan::default();
        let mut prev_space = false;
        let mut prev_colon = false;
        for c in s.chars() {
            scan.chars += 1;
            if needs_escape(c) {
                scan.escape = true;
            }
            match c {
                '\n' => scan.newline = true,
                '#' if prev_space => scan.comment = true,
                ' ' if prev_colon => scan.colon_space = true,
                ':' | ',' | '[' | ']' | '{' | '}' => scan.key_indicator = true,
                _ => {}
            }
            if !block_safe(c) {
                scan.not_block = true;
            }
            prev_space = c.is_whitespace();
            prev_colon = c == ':';
        }
        scan
    }
}

impl Scan {
    /// [`Scan::of`] of an ASCII string, a byte at a time (every generated value but a
    /// user's non-ASCII text): the same findings, as [`needs_escape`], [`block_safe`] and
    /// `char::is_whitespace` say them for ASCII; `None` at the first non-ASCII byte. A
    /// byte that is none of the characters looked for (letters, digits, most punctuation)
    /// costs one table look: after it, neither `#` nor a space means anything more.
    fn of_ascii(b: &[u8]) -> Option<Scan> {
        let mut scan = Scan {
            chars: b.len(),
            ..Scan::default()
        };
        let mut prev = 0u8;
        for &c in b {
            match ASCII.get(usize::from(c)) {
                None => return None,
                Some(false) => {
                    prev = c;
                    continue;
                }
                Some(true) => {}
            }
            // A control: only the double-quoted style holds it; a block scalar holds tab
            // and line feed.
            if c < 0x20 || c == 0x7F {
                scan.escape = true;
                scan.not_block |= c != b'\t' && c != b'\n';
            }
            match c {
                b'\n' => scan.newline = true,
                b'#' if is_space(prev) => scan.comment = true,
                b' ' if prev == b':' => scan.colon_space = true,
                b':' | b',' | b'[' | b']' | b'{' | b'}' => scan.key_indicator = true,
                _ => {}
            }
            prev = c;
        }
        Some(scan)
    }
}

/// For each ASCII character, whether [`Scan::of_ascii`] looks at it: the controls, DEL,
/// white space, and `#:,[]{}`.
const ASCII: [bool; 128] = {
    let mut table = [false; 128];
    let mut c = 0;
    while c < 128 {
        table[c] = c < 0x20
            || c == 0x7F
            || matches!(
                c as u8,
                b' ' | b'#' | b':' | b',' | b'[' | b']' | b'{' | b'}'
            );
        c += 1;
    }
    table
};

/// `char::is_whitespace` of an ASCII character: space, tab, LF, VT, FF, CR.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// Characters that force double quotes: controls, and the BOM, LS, PS, U+FFFE, U+FFFF.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{FEFF}' | '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}'
        )
}

/// Characters a block scalar holds as they are (tab and line feed, printable ones but NEL,
/// LS, PS and the BOM).
fn block_safe(c: char) -> bool {
    match c {
        '\n' | '\t' => true,
        '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{FEFF}' => false,
        c => matches!(c as u32, 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..),
    }
}

/// The style of a string in value position (block context).
pub fn value_style(s: &str) -> Style {
    let scan = Scan::of(s);
    if scan.newline {
        if !scan.not_block {
            return Style::Block;
        }
        return Style::Double;
    }
    if scan.chars > FOLD_WIDTH {
        let probe = s.trim_end_matches(' ');
        let probe_plain = if probe.len() == s.len() {
            plain_value(s, &scan)
        } else {
            !probe.is_empty() && plain_value(probe, &Scan::of(probe))
        };
        if probe_plain {
            return Style::Block;
        }
    }
    if matches!(s, "." | "#" | "-") {
        return Style::Single;
    }
    if plain_value(s, &scan) {
        Style::Plain
    } else {
        Style::Double
    }
}

/// Whether a key is written plain (otherwise double-quoted): the value rules with YAML 1.2
/// and 1.1 resolution, and no `:`, `,`, brackets or braces at all.
pub fn key_plain(s: &str) -> bool {
    // Field names (words of letters and digits, most of them the fixed keys of the Kargo
    // resources) hold no indicator, space or control: only the words a YAML 1.2 or 1.1
    // reader takes for something else (`null`, `on`, `y`, `inf`, at most five letters)
    // need quotes.
    let b = s.as_bytes();
    if b.first().is_some_and(u8::is_ascii_alphabetic) && b.iter().all(u8::is_ascii_alphanumeric) {
        return b.len() > 5 || !(ambiguous(s, true) || ambiguous(s, false));
    }
    key_plain_scanned(s)
}

/// [`key_plain`] of any string, from its [`Scan`].
fn key_plain_scanned(s: &str) -> bool {
    let scan = Scan::of(s);
    s != "<<" && !scan.key_indicator && !ambiguous(s, true) && plain_value(s, &scan)
}

/// serde-saphyr's plain-value rule (block context, YAML 1.1 resolution).
fn plain_value(s: &str, scan: &Scan) -> bool {
    let b = s.as_bytes();
    let Some(&first) = b.first() else {
        return false;
    };
    if ambiguous(s, false) || document_marker(s) {
        return false;
    }
    if first.is_ascii_whitespace() || b.last().is_some_and(u8::is_ascii_whitespace) {
        return false;
    }
    match first {
        b'-' | b'?' if b.len() == 1 || b[1].is_ascii_whitespace() => return false,
        b',' | b':' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>'
        | b'\'' | b'"' | b'%' | b'@' | b'`' => return false,
        _ => {}
    }
    !scan.colon_space && !s.trim_end().ends_with(':') && !scan.escape && !scan.comment
}

/// `---` or `...` alone or followed by white space.
fn document_marker(s: &str) -> bool {
    let rest = s.strip_prefix("---").or_else(|| s.strip_prefix("..."));
    rest.is_some_and(|r| r.as_bytes().first().is_none_or(u8::is_ascii_whitespace))
}

/// Whether a reader would resolve the plain scalar to something other than this string
/// (null, boolean, number, timestamp, merge key), `yaml_12` choosing the YAML 1.2 rules.
fn ambiguous(s: &str, yaml_12: bool) -> bool {
    let b = s.as_bytes();
    // Everything below is empty, at most 5 bytes, or starts with one of these.
    let numeric_start = b
        .first()
        .is_some_and(|c| matches!(c, b'0'..=b'9' | b'+' | b'-' | b'.' | b'_'));
    if b.len() > 5 && !numeric_start {
        return false;
    }
    let word = |w: &str| s.eq_ignore_ascii_case(w);
    if s.is_empty()
        || s == "~"
        || ["null", "true", "false", "nan", "inf", "+inf", "-inf"]
            .iter()
            .any(|w| word(w))
        || (numeric_start && numeric(s, yaml_12))
    {
        return true;
    }
    if yaml_12 {
        return false;
    }
    let trimmed = s.trim_matches([' ', '\t', '\r', '\n']);
    ["y", "yes", "on", "true", "n", "no", "off", "false"]
        .iter()
        .any(|w| trimmed.eq_ignore_ascii_case(w))
        || timestamp(s)
        || s == "<<"
        || s == "="
}

/// Number syntax (not value): what a resolver would tag as an int or float.
fn numeric(s: &str, yaml_12: bool) -> bool {
    let unsigned = strip_sign(s);
    if unsigned.eq_ignore_ascii_case(".inf") || unsigned.eq_ignore_ascii_case(".nan") {
        return true;
    }
    if !yaml_12 {
        if sexagesimal(s) {
            return true;
        }
        if let Some((radix, digits)) = radix(unsigned)
            && digit_run(digits, radix, false)
        {
            return true;
        }
    }
    let joined;
    let s = if !yaml_12 && s.contains('_') {
        joined = s.replace('_', "");
        joined.as_str()
    } else {
        s
    };
    let unsigned = strip_sign(s);
    if let Some((radix, digits)) = radix(unsigned) {
        let digits = if !yaml_12 && (s.starts_with("0b") || s.starts_with("0o")) {
            strip_sign(digits)
        } else {
            digits
        };
        return digit_run(digits, radix, true);
    }
    let mantissa = match unsigned.split_once(['e', 'E']) {
        Some((m, exp)) => {
            if !digit_run(strip_sign(exp), 10, true) {
                return false;
            }
            m
        }
        None => unsigned,
    };
    match mantissa.split_once('.') {
        None => digit_run(mantissa, 10, true),
        Some((whole, _)) if !whole.is_empty() && !digit_run(whole, 10, true) => false,
        Some((_, fraction)) if !yaml_12 => {
            fraction.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        }
        Some((whole, "")) => !whole.is_empty(),
        Some((_, fraction)) => digit_run(fraction, 10, true),
    }
}

fn strip_sign(s: &str) -> &str {
    s.strip_prefix(['+', '-']).unwrap_or(s)
}

/// `0b`, `0o`, `0x` (either case) and the digits after it.
fn radix(s: &str) -> Option<(u32, &str)> {
    let radix = match s.as_bytes() {
        [b'0', b'b' | b'B', ..] => 2,
        [b'0', b'o' | b'O', ..] => 8,
        [b'0', b'x' | b'X', ..] => 16,
        _ => return None,
    };
    Some((radix, &s[2..]))
}

/// One or more digits of `radix`, with `_` anywhere (`strict`: only between two digits).
fn digit_run(s: &str, radix: u32, strict: bool) -> bool {
    let b = s.as_bytes();
    let digit = |c: u8| char::from(c).is_digit(radix);
    !b.is_empty()
        && b.iter().enumerate().all(|(i, &c)| {
            digit(c)
                || (c == b'_'
                    && (!strict
                        || (i > 0 && digit(b[i - 1]) && b.get(i + 1).is_some_and(|&n| digit(n)))))
        })
}

/// A YAML 1.1 base-60 number (`1:30`, `190:20:30.15`).
fn sexagesimal(s: &str) -> bool {
    let unsigned = strip_sign(s);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let Some((first, rest)) = integer.split_once(':') else {
        return false;
    };
    let ok_first = first.as_bytes().first().is_some_and(|d| {
        d.is_ascii_digit()
            && (fraction.is_some() || *d != b'0')
            && first.bytes().all(|c| c.is_ascii_digit() || c == b'_')
    });
    ok_first
        && rest.split(':').all(|part| match part.as_bytes() {
            [d] => d.is_ascii_digit(),
            [t, u] => matches!(t, b'0'..=b'5') && u.is_ascii_digit(),
            _ => false,
        })
        && fraction.is_none_or(|f| f.bytes().all(|c| c.is_ascii_digit() || c == b'_'))
}

/// A YAML 1.1 timestamp's syntax (no calendar check): `2001-12-14`, `2001-12-14t21:59:43.10-05:00`, ...
fn timestamp(s: &str) -> bool {
    fn digits(t: &mut &str, min: usize, max: usize) -> bool {
        let n = t.bytes().take_while(u8::is_ascii_digit).count();
        *t = &t[n..];
        (min..=max).contains(&n)
    }
    fn eat(t: &mut &str, c: char) -> bool {
        match t.strip_prefix(c) {
            Some(rest) => {
                *t = rest;
                true
            }
            None => false,
        }
    }
    let mut t = s;
    if !(digits(&mut t, 4, 4)
        && eat(&mut t, '-')
        && digits(&mut t, 1, 2)
        && eat(&mut t, '-')
        && digits(&mut t, 1, 2))
    {
        return false;
    }
    if t.is_empty() {
        return true;
    }
    if !(eat(&mut t, 'T') || eat(&mut t, 't')) {
        let rest = t.trim_start_matches([' ', '\t']);
        if rest.len() == t.len() {
            return false;
        }
        t = rest;
    }
    if !(digits(&mut t, 1, 2)
        && eat(&mut t, ':')
        && digits(&mut t, 1, 2)
        && eat(&mut t, ':')
        && digits(&mut t, 1, 2))
    {
        return false;
    }
    if eat(&mut t, '.') || eat(&mut t, ',') {
        digits(&mut t, 0, usize::MAX);
    }
    t = t.trim_start_matches([' ', '\t']);
    if t.is_empty() || t == "Z" {
        return true;
    }
    if !((eat(&mut t, '+') || eat(&mut t, '-')) && digits(&mut t, 1, 2)) {
        return false;
    }
    if eat(&mut t, ':') && !digits(&mut t, 2, 2) {
        return false;
    }
    t.is_empty()
}

/// Appends `s` in double quotes with YAML's escapes.
pub fn push_double(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            '\u{FEFF}' => out.push_str("\\uFEFF"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if (c as u32) <= 0xFF && (c.is_control() || (0x7F..=0x9F).contains(&(c as u32))) => {
                let _ = write!(out, "\\x{:02X}", c as u32);
            }
            c if (c as u32) <= 0xFFFF && needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_key_is_judged_as_the_scan_judges_it() {
        // Every word of up to three letters and digits over an alphabet that spells the
        // YAML words, and the words themselves in three cases.
        let alphabet: Vec<char> = "aefilnorstuy0123".chars().collect();
        let mut words = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = words
                .iter()
                .flat_map(|w| alphabet.iter().map(move |c| format!("{w}{c}")))
                .collect();
            words.extend(longer);
        }
        for w in [
            "null", "true", "false", "yes", "off", "nan", "inf", "kind", "spec",
        ] {
            words.extend([
                w.to_string(),
                w.to_uppercase(),
                format!("{}{}", &w[..1].to_uppercase(), &w[1..]),
            ]);
        }
        words.extend(["image", "images", "on1", "y2k"].map(str::to_string));
        let mut quoted = 0;
        for w in words
            .iter()
            .filter(|w| w.starts_with(|c: char| c.is_ascii_alphabetic()))
        {
            assert_eq!(key_plain(w), key_plain_scanned(w), "{w:?}");
            quoted += usize::from(!key_plain(w));
        }
        // Some of them need quotes (`on`, `y`, `null`, `inf`, ...), most do not.
        assert!(quoted >= 20, "{quoted}");
        assert!(key_plain("kind") && !key_plain("on") && !key_plain("Null"));
    }

    #[test]
    fn the_ascii_scan_finds_what_the_character_scan_finds() {
        // Every string of up to three characters over the ASCII characters that matter (and
        // some that do not), including every control.
        let mut alphabet: Vec<char> = (0u8..0x20).chain([0x7F]).map(char::from).collect();
        alphabet.extend([' ', '#', ':', ',', '[', ']', '{', '}', 'a', '-', '.', '~']);
        let mut strings = vec![String::new()];
        for _ in 0..3 {
            let longer: Vec<String> = strings
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            strings.extend(longer);
        }
        let mut differ = 0;
        for s in &strings {
            if Scan::of_ascii(s.as_bytes()) != Some(Scan::of_chars(s)) {
                differ += 1;
            }
        }
        assert_eq!(differ, 0, "of {} strings", strings.len());
        let text = "a: b # c\n\tkey: [x, {y}]\r\n\u{7f}";
        assert_eq!(Scan::of_ascii(text.as_bytes()), Some(Scan::of_chars(text)));
        assert_eq!(Scan::of_ascii("é".as_bytes()), None);
        assert!(Scan::of_chars(text).colon_space && Scan::of_chars(text).not_block);
    }

    #[test]
    fn values() {
        for s in [
            "a",
            "ghcr.io/acme/x",
            "^1\\.4$",
            "a:b",
            "a#b",
            "-a",
            "?q",
            "v1.2.3",
            "a b",
        ] {
            assert_eq!(value_style(s), Style::Plain, "{s:?}");
        }
        for s in [
            "",
            "~",
            "null",
            "1.2.3",
            "Yes",
            "on",
            "N",
            "1",
            "-1",
            "0x1F",
            ".inf",
            "1_000",
            "1:30",
            "2001-12-14",
            "2001-12-14 21:59:43.10 -5",
            "<<",
            "=",
            "a: b",
            "a:",
            "a #b",
            " a",
            "a ",
            "- a",
            "{{args.image}}",
            "'a",
            "\"a",
            "a\tb",
            "---",
            "... x",
            "%a",
            "@a",
            "*a",
            "&a",
            "!a",
            "|",
            ">",
            ",a",
        ] {
            assert_eq!(value_style(s), Style::Double, "{s:?}");
        }
        for s in [".", "#", "-"] {
            assert_eq!(value_style(s), Style::Single, "{s:?}");
        }
        assert_eq!(value_style("a\nb"), Style::Block);
        assert_eq!(value_style("a\r\nb"), Style::Double);
        assert_eq!(value_style(&"a".repeat(81)), Style::Block);
        assert_eq!(value_style(&format!("{} ", "a".repeat(81))), Style::Block);
        assert_eq!(value_style(&"a".repeat(80)), Style::Plain);
    }

    #[test]
    fn keys() {
        for k in ["apiVersion", "app.kubernetes.io/name", "a", "x-y"] {
            assert!(key_plain(k), "{k:?}");
        }
        for k in ["a:b", "a,b", "[a", "yes", "1", "", "a b #", "<<", "0o7"] {
            assert!(!key_plain(k), "{k:?}");
        }
    }

    #[test]
    fn escapes() {
        let mut out = String::new();
        push_double(&mut out, "a\"\\\t\u{1}\u{85}\u{FEFF}\u{FFFE}é");
        assert_eq!(out, "\"a\\\"\\\\\\t\\x01\\N\\uFEFF\\uFFFEé\"");
    }
}
