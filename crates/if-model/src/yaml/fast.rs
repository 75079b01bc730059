//! A fast reader for the plain block-style YAML the tool writes and people usually write:
//! block mappings and sequences, plain, single- and double-quoted one-line scalars, comments.
//!
//! It gives exactly the tree [`super::parse`] gives (values, kinds and positions), or `None`
//! as soon as the text steps outside that subset (flow collections, anchors, tags, block
//! scalars, multi-line scalars, empty values, duplicate keys, tabs, CR, documents markers,
//! anything it is not sure of), and the full parser reads the text instead. A plain scalar
//! whose type is not obvious (`7d`, `yes`, `0x1F`) is typed by the full parser, once per
//! distinct text. A factory of 100,000 images is mostly such files: this reads them about
//! ten times faster than the general parser.

use std::collections::{HashMap, HashSet};

use super::{Key, Node, Pos, ScalarKind, Value};

/// One line with content: its 1-based number, its indentation and its text after it.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    no: u32,
    indent: usize,
    text: &'a str,
}

/// Reads `src`, or `None` when it is not in the subset (the caller uses the full parser).
pub(super) fn parse(src: &str) -> Option<Node> {
    if !plain_text(src) {
        return None;
    }
    let (lines, last_nonblank) = lines_of(src, 1)?;
    let mut r = Reader {
        lines,
        next: 0,
        last_nonblank,
    };
    let first = r.take()?;
    let node = r.node(first)?;
    // Everything must have been read.
    (r.next == r.lines.len()).then_some(node)
}

/// Whether `src` has none of what the reader leaves to the full parser everywhere: CR, tabs,
/// a byte-order mark.
fn plain_text(src: &str) -> bool {
    // A byte count, not a search: it vectorizes (a factory is 500 MB of such text).
    let awkward = src.bytes().filter(|&b| b == b'\r' || b == b'\t').count();
    awkward == 0 && !src.starts_with('\u{feff}')
}

/// The lines with content of `src`, whose first line is line `first_no` of its document,
/// and the number of the last line that is not blank (comments count; `first_no - 1` when
/// there is none). `None` at a document marker.
fn lines_of(src: &str, first_no: u32) -> Option<(Vec<Line<'_>>, u32)> {
    // About one line in 32 bytes: one allocation for most files.
    let mut lines = Vec::with_capacity(src.len() / 32 + 1);
    let mut last_nonblank = first_no.checked_sub(1)?;
    let mut no = first_no;
    for raw in src.split('\n') {
        let text = raw.trim_start_matches(' ');
        if !text.is_empty() {
            last_nonblank = no;
            if !text.starts_with('#') {
                let indent = raw.len() - text.len();
                if indent == 0
                    && (text.starts_with("---") || text.starts_with("...") || text.starts_with('%'))
                {
                    return None;
                }
                lines.push(Line { no, indent, text });
            }
        }
        no = no.checked_add(1)?;
    }
    Some((lines, last_nonblank))
}

/// A run of items of a top-level block sequence (a [`Part`] of a [`split`] document), read
/// exactly as [`parse`] reads them inside the whole document; `None` where it would decline.
pub(super) fn parse_part(part: &Part<'_>) -> Option<Vec<Node>> {
    let (lines, last_nonblank) = lines_of(part.text, part.first_line)?;
    let mut r = Reader {
        lines,
        next: 0,
        // Inside the whole document, the line read after this part is the next part's first.
        last_nonblank: part
            .next_line
            .map_or(Some(last_nonblank), |n| n.checked_sub(1))?,
    };
    let first = r.take()?;
    if first.indent != part.indent || !is_item(first.text) {
        return None;
    }
    let node = r.seq(first, part.indentless)?;
    let Value::Seq(items) = node.value else {
        return None;
    };
    (r.next == r.lines.len()).then_some(items)
}

/// A document whose top is a long block sequence (bare, or the value of one top-level key),
/// cut between its items into [`Part`]s that can be read apart.
#[derive(Debug, Clone)]
pub(super) struct Split<'a> {
    /// The key holding the sequence and where it stands (`None`: a bare sequence).
    pub key: Option<(&'a str, u32)>,
    /// The parts, in order.
    pub parts: Vec<Part<'a>>,
}

/// Consecutive items of a [`Split`] document: whole lines, with where they stand.
#[derive(Debug, Clone, Copy)]
pub(super) struct Part<'a> {
    /// The text: from the first item's line to the next part's (or the end).
    pub text: &'a str,
    /// The number of its first line.
    pub first_line: u32,
    /// The number of the next part's first line (`None` for the last part).
    pub next_line: Option<u32>,
    /// The indentation of the items' `-`.
    pub indent: usize,
    /// Whether the sequence stands at its key's indentation.
    pub indentless: bool,
}

/// `src` cut into parts of `per_part` items, when it is a bare block sequence or the
/// sequence under `key` (nothing else in the document but comments), in the subset this
/// reader knows: `None` otherwise (the caller reads the whole text). Only the lines'
/// indentation and first characters are looked at: what the parts hold is checked when
/// each is read ([`parse_part`]).
pub(super) fn split<'a>(src: &'a str, key: &'a str, per_part: usize) -> Option<Split<'a>> {
    if !plain_text(src) {
        return None;
    }
    let mut found_key = None;
    // The items' indentation, once the first is seen.
    let mut indent = None;
    let mut starts: Vec<(usize, u32)> = Vec::new();
    let mut items = 0usize;
    let mut offset = 0usize;
    let mut no = 1u32;
    for raw in src.split_inclusive('\n') {
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let text = line.trim_start_matches(' ');
        let at = line.len() - text.len();
        if !text.is_empty() && !text.starts_with('#') {
            match indent {
                Some(k) if at > k => {}
                Some(k) if at == k && is_item(text) => {
                    if items.is_multiple_of(per_part.max(1)) {
                        starts.push((offset, no));
                    }
                    items += 1;
                }
                Some(_) => return None,
                None if is_item(text) && (at == 0 || found_key.is_some()) => {
                    indent = Some(at);
                    starts.push((offset, no));
                    items = 1;
                }
                None if at == 0 && found_key.is_none() => {
                    let (name, after) = split_key(text)?;
                    let rest = after.trim_start_matches(' ');
                    if name != key || !(rest.is_empty() || rest.starts_with('#')) {
                        return None;
                    }
                    found_key = Some((name, no));
                }
                None => return None,
            }
        }
        offset += raw.len();
        no = no.checked_add(1)?;
    }
    let k = indent?;
    let parts = starts
        .iter()
        .enumerate()
        .map(|(i, &(start, first_line))| {
            let next = starts.get(i + 1);
            Part {
                text: &src[start..next.map_or(src.len(), |n| n.0)],
                first_line,
                next_line: next.map(|n| n.1),
                indent: k,
                indentless: found_key.is_some() && k == 0,
            }
        })
        .collect();
    Some(Split {
        key: found_key,
        parts,
    })
}

/// The whole document of `split` from its parts' items (read with [`parse_part`]), with the
/// positions [`parse`] gives it.
pub(super) fn assemble(split: &Split<'_>, items: Vec<Node>) -> Node {
    let first = split.parts.first();
    let seq_pos = match first {
        Some(p) if p.indentless => items.first().map(|n| n.pos),
        Some(p) => Some(pos(p.first_line, p.indent)),
        None => None,
    }
    .unwrap_or_default();
    let seq = Node {
        value: Value::Seq(items),
        pos: seq_pos,
    };
    match split.key {
        None => seq,
        Some((name, line)) => Node {
            value: Value::Map(vec![(
                Key {
                    name: name.to_string(),
                    pos: pos(line, 0),
                },
                seq,
            )]),
            pos: pos(line, 0),
        },
    }
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    /// The next line not read yet.
    next: usize,
    /// The number of the last line that is not blank (comments count).
    last_nonblank: u32,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.next).copied()
    }

    fn take(&mut self) -> Option<Line<'a>> {
        let l = self.peek()?;
        self.next += 1;
        Some(l)
    }

    /// A collection starting on `first` (already taken): a sequence or a mapping.
    fn node(&mut self, first: Line<'a>) -> Option<Node> {
        if is_item(first.text) {
            self.seq(first, false)
        } else {
            self.map(first)
        }
    }

    /// A block sequence whose first item is on `first`. `indentless`: it stands at the
    /// indentation of the key it belongs to.
    fn seq(&mut self, first: Line<'a>, indentless: bool) -> Option<Node> {
        let mut items = Vec::new();
        let mut line = first;
        loop {
            // "- " then the item, which starts where its text starts.
            let rest = line.text.strip_prefix('-')?;
            let content = rest.trim_start_matches(' ');
            if content.is_empty() || is_item(content) {
                return None;
            }
            let item = Line {
                no: line.no,
                indent: line.indent + 1 + (rest.len() - content.len()),
                text: content,
            };
            let node = if starts_key(item.text) {
                self.map(item)?
            } else {
                let node = scalar(item)?;
                // Nothing may hang below a scalar item.
                if self.peek().is_some_and(|l| l.indent > line.indent) {
                    return None;
                }
                node
            };
            items.push(node);
            match self.peek() {
                Some(l) if l.indent == first.indent && is_item(l.text) => {
                    self.next += 1;
                    line = l;
                }
                Some(l) if l.indent > first.indent => return None,
                _ => break,
            }
        }
        let pos = if indentless {
            items.first().map_or(pos(first.no, first.indent), |n| n.pos)
        } else {
            pos(first.no, first.indent)
        };
        Some(Node {
            value: Value::Seq(items),
            pos,
        })
    }

    /// The lines of a folded block scalar (`>-`, as the writer folds long strings) whose
    /// header is on `key` (the scalar's position is its first line): lines of one
    /// indentation, deeper than the key,
    /// joined by spaces. Blank, comment-like, more-indented or space-ended lines, and
    /// anything but a plain run of lines, are left to the full parser.
    fn folded(&mut self, key: Line<'a>) -> Option<Node> {
        let first = self
            .peek()
            .filter(|l| l.indent > key.indent && l.no == key.no + 1)?;
        let mut text = String::new();
        let mut last = key.no;
        while let Some(l) = self.peek() {
            if l.indent < first.indent {
                break;
            }
            if l.indent > first.indent || l.no != last + 1 || l.text.ends_with(' ') {
                return None;
            }
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(l.text);
            last = l.no;
            self.next += 1;
        }
        // The next source line must be the next line read: skipped lines (blank or `#`)
        // right after the scalar would need the full rules.
        if self.peek().map_or(self.last_nonblank, |l| l.no - 1) != last {
            return None;
        }
        Some(Node {
            value: Value::Scalar(ScalarKind::Str, text),
            pos: pos(first.no, first.indent),
        })
    }

    /// A block mapping whose first key is on `first`.
    fn map(&mut self, first: Line<'a>) -> Option<Node> {
        // Most mappings have a few keys: room for eight without growing.
        let mut entries: Vec<(Key, Node)> = Vec::with_capacity(8);
        // The first keys are compared in place (no allocation), the rest hashed.
        let mut first_names: [&'a str; 16] = [""; 16];
        let mut names = 0;
        let mut seen: HashSet<&'a str> = HashSet::new();
        let mut line = first;
        loop {
            let (name, after) = split_key(line.text)?;
            // Duplicate keys are an error the full parser reports.
            if names < first_names.len() {
                if first_names[..names].contains(&name) {
                    return None;
                }
                first_names[names] = name;
            } else {
                if seen.is_empty() {
                    seen.extend(first_names.iter().copied());
                }
                if !seen.insert(name) {
                    return None;
                }
            }
            names += 1;
            let key = Key {
                name: name.to_string(),
                pos: pos(line.no, line.indent),
            };
            let value_text = after.trim_start_matches(' ');
            let value = if value_text.is_empty() || value_text.starts_with('#') {
                // The value is the block below: deeper, or an indentless sequence.
                match self.peek() {
                    Some(l) if l.indent > line.indent => {
                        self.next += 1;
                        self.node(l)?
                    }
                    Some(l) if l.indent == line.indent && is_item(l.text) => {
                        self.next += 1;
                        self.seq(l, true)?
                    }
                    // An empty value: its position is subtle; the full parser knows it.
                    _ => return None,
                }
            } else if let Some(header) = value_text.strip_prefix(">-") {
                if !rest_is_comment(header) {
                    return None;
                }
                self.folded(line)?
            } else {
                let col = line.indent + name.len() + 1 + (after.len() - value_text.len());
                let v = scalar(Line {
                    no: line.no,
                    indent: col,
                    text: value_text,
                })?;
                // A deeper line after a scalar would continue it (or be an error).
                if self.peek().is_some_and(|l| l.indent > line.indent) {
                    return None;
                }
                v
            };
            entries.push((key, value));
            match self.peek() {
                Some(l) if l.indent == first.indent && !is_item(l.text) => {
                    self.next += 1;
                    line = l;
                }
                Some(l) if l.indent > first.indent => return None,
                _ => break,
            }
        }
        Some(Node {
            value: Value::Map(entries),
            pos: pos(first.no, first.indent),
        })
    }
}

fn pos(no: u32, indent: usize) -> Pos {
    Pos {
        line: no,
        col: u32::try_from(indent + 1).unwrap_or(u32::MAX),
    }
}

/// Whether `text` is a sequence item (`- x`, or a lone `-`).
fn is_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Whether `text` starts with a simple key followed by `:` and a space or the end.
fn starts_key(text: &str) -> bool {
    split_key(text).is_some()
}

/// `key` and what follows `key:`, for simple keys (letters, digits, `_`, `-`, `.`, `/`,
/// not starting with `-`).
fn split_key(text: &str) -> Option<(&str, &str)> {
    // Keys are short: a plain loop beats a general search here.
    let end = text.bytes().position(|b| b == b':')?;
    let name = &text[..end];
    let after = &text[end + 1..];
    let simple = !name.is_empty()
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/'));
    (simple && (after.is_empty() || after.starts_with(' '))).then_some((name, after))
}

/// A one-line scalar starting at `at.indent` (its column - 1) on line `at.no`.
fn scalar(at: Line<'_>) -> Option<Node> {
    let text = at.text;
    let empty = |t: &str| text.strip_prefix(t).is_some_and(rest_is_comment);
    let value = match text.as_bytes().first()? {
        b'[' if empty("[]") => Value::Seq(Vec::new()),
        b'{' if empty("{}") => Value::Map(Vec::new()),
        b'"' => Value::Scalar(ScalarKind::Str, double_quoted(text)?),
        b'\'' => Value::Scalar(ScalarKind::Str, single_quoted(text)?),
        b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!'
        | b'|' | b'>' | b'%' | b'@' | b'`' => return None,
        _ => {
            let plain = plain(text)?;
            typed(plain)?
        }
    };
    Some(Node {
        value,
        pos: pos(at.no, at.indent),
    })
}

/// The text of a plain scalar: up to a comment (` #`), without trailing spaces; `None` when
/// it holds `: ` (a mapping where a scalar was expected).
fn plain(text: &str) -> Option<&str> {
    // One pass over the bytes: the first ` #` ends the value, a `: ` before it refuses it.
    let bytes = text.as_bytes();
    let mut end = bytes.len();
    for (i, pair) in bytes.windows(2).enumerate() {
        match pair {
            b" #" => {
                end = i;
                break;
            }
            b": " => return None,
            _ => {}
        }
    }
    let value = text[..end].trim_end_matches(' ');
    (!value.ends_with(':')).then_some(value)
}

/// The type of a plain scalar: obvious strings and integers here, the rest as the full
/// parser types them (`yes` is a boolean to it, `0x1F` a number, `7d` a string).
fn typed(plain: &str) -> Option<Value> {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
    ];
    let first = plain.as_bytes().first()?;
    // Numbers start with a digit, a sign or a dot, null with `~`, and booleans and null are
    // the words above: anything else is a string.
    let maybe_number = first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.' | b'~');
    let is_word =
        first.is_ascii_alphabetic() && WORDS.iter().any(|w| plain.eq_ignore_ascii_case(w));
    if first.is_ascii() && !maybe_number && !is_word {
        return Some(Value::Scalar(ScalarKind::Str, plain.to_string()));
    }
    if plain.bytes().all(|b| b.is_ascii_digit()) && (plain.len() == 1 || *first != b'0') {
        return Some(Value::Scalar(ScalarKind::Number, plain.to_string()));
    }
    match plain {
        "true" | "false" => return Some(Value::Scalar(ScalarKind::Bool, plain.to_string())),
        "null" | "~" => return Some(Value::Scalar(ScalarKind::Null, plain.to_string())),
        _ => {}
    }
    typed_by_full_parser(plain)
}

/// How the full parser types the plain scalar `plain`, remembered for the process (a
/// factory repeats the same few texts, `7d` or `1h`, in thousands of files).
fn typed_by_full_parser(plain: &str) -> Option<Value> {
    /// Texts remembered at most (what a factory repeats is a handful).
    const KEEP: usize = 1024;
    static SEEN: std::sync::Mutex<Option<HashMap<String, Value>>> = std::sync::Mutex::new(None);
    let lock = || {
        SEEN.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(v) = lock().as_ref().and_then(|m| m.get(plain)) {
        return Some(v.clone());
    }
    let doc = super::parse_full(&format!("k: {plain}\n")).ok()?;
    let v = doc.get("k")?.value.clone();
    let mut seen = lock();
    let map = seen.get_or_insert_with(HashMap::new);
    if map.len() < KEEP {
        map.insert(plain.to_string(), v.clone());
    }
    Some(v)
}

/// The value of a one-line double-quoted scalar (`None` for escapes it does not know, or
/// anything after the closing quote but a comment).
fn double_quoted(text: &str) -> Option<String> {
    // Without an escape, the value is the text up to the closing quote, copied once.
    let body = &text[1..];
    if let Some(i) = body.bytes().position(|b| b == b'"' || b == b'\\')
        && body.as_bytes()[i] == b'"'
    {
        return rest_is_comment(&body[i + 1..]).then(|| body[..i].to_string());
    }
    let mut out = String::new();
    let mut chars = text[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return rest_is_comment(&text[1 + i + 1..]).then_some(out),
            '\\' => {
                let (_, e) = chars.next()?;
                let hex = |n: usize, chars: &mut std::str::CharIndices<'_>| {
                    let mut v = 0u32;
                    for _ in 0..n {
                        v = v * 16 + chars.next()?.1.to_digit(16)?;
                    }
                    char::from_u32(v)
                };
                out.push(match e {
                    '\\' => '\\',
                    '"' => '"',
                    '/' => '/',
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    'x' => hex(2, &mut chars)?,
                    'u' => hex(4, &mut chars)?,
                    'U' => hex(8, &mut chars)?,
                    _ => return None,
                });
            }
            _ => out.push(c),
        }
    }
    None
}

/// The value of a one-line single-quoted scalar (`''` is a quote).
fn single_quoted(text: &str) -> Option<String> {
    let body = &text[1..];
    // Without a doubled quote, the value is the text up to the closing quote, copied once.
    if let Some(i) = body.find('\'')
        && body.as_bytes().get(i + 1) != Some(&b'\'')
    {
        return rest_is_comment(&body[i + 1..]).then(|| body[..i].to_string());
    }
    let mut out = String::new();
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
                out.push('\'');
            } else {
                return rest_is_comment(&body[i + 1..]).then_some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// Whether what follows a quoted scalar is nothing, or spaces and a comment.
fn rest_is_comment(rest: &str) -> bool {
    let t = rest.trim_start_matches(' ');
    t.is_empty() || (t.starts_with('#') && t.len() < rest.len())
}

#[cfg(test)]
mod tests;
