//! The JSON-array form of instruction arguments (`RUN ["a", "b"]`), classified the way
//! Go's `encoding/json` + BuildKit's `parseJSON` do: a valid array of strings, a valid
//! array holding something else (an error), or not JSON at all (the shell form).
//! The validator is iterative, with Go's nesting limit of 10,000.

/// How the argument text reads as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonArray {
    /// A valid JSON array of strings (each one was given to the caller).
    Strings,
    /// Valid JSON, an array, but some element is not a string.
    NotStrings,
    /// Not valid JSON (or not an array): the caller falls back to the shell form.
    Invalid,
}

/// One string element of the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonStr<'a> {
    /// Without escapes: the text between the quotes, a sub-slice of the classified text.
    Raw(&'a str),
    /// With escapes: the decoded value.
    Decoded(&'a str),
}

const MAX_DEPTH: usize = 10_000;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

struct Cursor<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    /// Decoded value of the last string with escapes.
    decoded: String,
}

/// Where the last string read is: in the text, or decoded in the cursor's buffer.
#[derive(Clone, Copy)]
enum Lit {
    Raw(usize, usize),
    Decoded,
}

impl Cursor<'_> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|&b| is_ws(b)) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.i += 4;
        u32::from_str_radix(h, 16).ok()
    }

    /// A string literal: its text when it has no escape, else decoded into `self.decoded`
    /// (Go replaces lone surrogates by U+FFFD).
    fn string(&mut self) -> Option<Lit> {
        self.eat(b'"')?;
        let first = self.i;
        self.plain_run();
        match self.peek()? {
            b'"' => {
                self.i += 1;
                return Some(Lit::Raw(first, self.i - 1));
            }
            b'\\' => {}
            _ => return None,
        }
        self.decoded.clear();
        self.decoded.push_str(self.s.get(first..self.i)?);
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(Lit::Decoded);
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek()?;
                    self.i += 1;
                    self.escape(e)?;
                }
                _ => return None,
            }
            let start = self.i;
            self.plain_run();
            let run = self.s.get(start..self.i)?;
            self.decoded.push_str(run);
        }
    }

    /// Skips the bytes that stand for themselves in a string.
    fn plain_run(&mut self) {
        while let Some(&b) = self.b.get(self.i) {
            if b == b'"' || b == b'\\' || b < 0x20 {
                break;
            }
            self.i += 1;
        }
    }

    /// Decodes the escape `\\e` (the cursor is after `e`).
    fn escape(&mut self, e: u8) -> Option<()> {
        let out = &mut self.decoded;
        match e {
            b'"' => out.push('"'),
            b'\\' => out.push('\\'),
            b'/' => out.push('/'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'u' => {
                let hi = self.hex4()?;
                let c = if (0xd800..0xdc00).contains(&hi) {
                    let save = self.i;
                    let lo = if self.s.get(self.i..self.i + 2) == Some("\\u") {
                        self.i += 2;
                        self.hex4()
                    } else {
                        None
                    };
                    match lo {
                        Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                            let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
                            char::from_u32(c).unwrap_or('\u{fffd}')
                        }
                        _ => {
                            self.i = save;
                            '\u{fffd}'
                        }
                    }
                } else {
                    char::from_u32(hi).unwrap_or('\u{fffd}')
                };
                self.decoded.push(c);
            }
            _ => return None,
        }
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<()> {
        let _ = self.eat(b'-');
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.eat(b'.').is_some() && self.digits() == 0 {
            return None;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        if self.s.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Validates one value (any depth, without recursion) starting at the cursor.
    fn value(&mut self, base_depth: usize) -> Option<()> {
        let mut stack: Vec<u8> = Vec::new();
        'value: loop {
            self.ws();
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'{' => {
                    if base_depth + stack.len() + 1 > MAX_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    if self.eat(b'}').is_none() {
                        stack.push(b'{');
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        continue 'value;
                    }
                }
                b'[' => {
                    if base_depth + stack.len() + 1 > MAX_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    if self.eat(b']').is_none() {
                        stack.push(b'[');
                        continue 'value;
                    }
                }
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            loop {
                let Some(&top) = stack.last() else {
                    return Some(());
                };
                self.ws();
                match (top, self.peek()?) {
                    (b'[', b',') => {
                        self.i += 1;
                        continue 'value;
                    }
                    (b'[', b']') | (b'{', b'}') => {
                        self.i += 1;
                        stack.pop();
                    }
                    (b'{', b',') => {
                        self.i += 1;
                        self.ws();
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        continue 'value;
                    }
                    _ => return None,
                }
            }
        }
    }
}

/// Classifies `s` (already trimmed on the left; must start with `[` to be JSON). Each string
/// element is given to `on_string` in order, also when the array turns out not to be a
/// valid array of strings (the caller then drops them).
pub(crate) fn classify(s: &str, mut on_string: impl FnMut(JsonStr<'_>)) -> JsonArray {
    let mut c = Cursor {
        s,
        b: s.as_bytes(),
        i: 0,
        decoded: String::new(),
    };
    c.ws();
    if c.eat(b'[').is_none() {
        return JsonArray::Invalid;
    }
    let mut all_strings = true;
    c.ws();
    if c.eat(b']').is_none() {
        loop {
            c.ws();
            if c.peek() == Some(b'"') {
                match c.string() {
                    Some(Lit::Raw(a, b)) => on_string(JsonStr::Raw(s.get(a..b).unwrap_or(""))),
                    Some(Lit::Decoded) => on_string(JsonStr::Decoded(&c.decoded)),
                    None => return JsonArray::Invalid,
                }
            } else {
                all_strings = false;
                if c.value(1).is_none() {
                    return JsonArray::Invalid;
                }
            }
            c.ws();
            match c.peek() {
                Some(b',') => c.i += 1,
                Some(b']') => {
                    c.i += 1;
                    break;
                }
                _ => return JsonArray::Invalid,
            }
        }
    }
    c.ws();
    if c.i != s.len() {
        return JsonArray::Invalid;
    }
    if all_strings {
        JsonArray::Strings
    } else {
        JsonArray::NotStrings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classification and the decoded strings of a valid array of strings.
    fn strings(s: &str) -> Result<Vec<String>, JsonArray> {
        let mut out = Vec::new();
        match classify(s, |v| {
            out.push(match v {
                JsonStr::Raw(t) | JsonStr::Decoded(t) => t.to_string(),
            });
        }) {
            JsonArray::Strings => Ok(out),
            other => Err(other),
        }
    }

    #[test]
    fn classifies() {
        assert_eq!(
            strings(r#"["a", "b\n\u00e9"]"#),
            Ok(vec!["a".into(), "b\né".into()])
        );
        assert_eq!(strings("[]"), Ok(vec![]));
        assert_eq!(strings(r#"["a", 1]"#), Err(JsonArray::NotStrings));
        assert_eq!(strings(r#"[["a"]]"#), Err(JsonArray::NotStrings));
        assert_eq!(
            strings(r#"[{"a": [1, {"b": null}]}, true]"#),
            Err(JsonArray::NotStrings)
        );
        assert_eq!(strings(r#"["a""#), Err(JsonArray::Invalid));
        assert_eq!(strings(r#"['a']"#), Err(JsonArray::Invalid));
        assert_eq!(strings(r#"["a"] x"#), Err(JsonArray::Invalid));
        assert_eq!(strings(r#"[01]"#), Err(JsonArray::Invalid));
        assert_eq!(strings(r#"["\ud800x"]"#), Ok(vec!["\u{fffd}x".into()]));
        let deep = format!("{}{}", "[".repeat(10_001), "]".repeat(10_001));
        assert_eq!(strings(&deep), Err(JsonArray::Invalid));
        let ok = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(strings(&ok), Err(JsonArray::NotStrings));
    }

    #[test]
    fn raw_strings_are_slices() {
        let src = r#"["ab", "c\"d", "é"]"#;
        let mut seen = Vec::new();
        let kind = classify(src, |v| {
            seen.push(match v {
                JsonStr::Raw(t) => (true, t.to_string()),
                JsonStr::Decoded(t) => (false, t.to_string()),
            });
        });
        assert_eq!(kind, JsonArray::Strings);
        assert_eq!(
            seen,
            vec![
                (true, "ab".to_string()),
                (false, "c\"d".to_string()),
                (true, "é".to_string())
            ]
        );
    }
}
