//! One-line scalars: plain, single- and double-quoted, typed as the full parser types them,
//! their text borrowed from the line unless unescaping makes a new string.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use super::{Borrowed, BorrowedValue, Line, pos};
use crate::yaml::{ScalarKind, Value};

/// A one-line scalar starting at `at.indent` (its column - 1) on line `at.no`.
pub(super) fn scalar(at: Line<'_>) -> Option<Borrowed<'_>> {
    let text = at.text;
    let empty = |t: &str| text.strip_prefix(t).is_some_and(rest_is_comment);
    let value = match text.as_bytes().first()? {
        b'[' if empty("[]") => BorrowedValue::Seq(Vec::new()),
        b'{' if empty("{}") => BorrowedValue::Map(Vec::new()),
        b'"' => BorrowedValue::Scalar(ScalarKind::Str, double_quoted(text)?),
        b'\'' => BorrowedValue::Scalar(ScalarKind::Str, single_quoted(text)?),
        b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!'
        | b'|' | b'>' | b'%' | b'@' | b'`' => return None,
        _ => {
            let (kind, text) = typed(plain(text)?)?;
            BorrowedValue::Scalar(kind, text)
        }
    };
    Some(Borrowed {
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
fn typed(plain: &str) -> Option<(ScalarKind, Cow<'_, str>)> {
    const WORDS: &[&str] = &[
        "y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf",
    ];
    /// The longest of [`WORDS`].
    const LONGEST_WORD: usize = 5;
    let first = plain.as_bytes().first()?;
    // Numbers start with a digit, a sign or a dot, null with `~`, and booleans and null are
    // the words above: anything else is a string.
    let maybe_number = first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.' | b'~');
    let is_word = plain.len() <= LONGEST_WORD
        && first.is_ascii_alphabetic()
        && WORDS.iter().any(|w| plain.eq_ignore_ascii_case(w));
    if first.is_ascii() && !maybe_number && !is_word {
        return Some((ScalarKind::Str, Cow::Borrowed(plain)));
    }
    if plain.bytes().all(|b| b.is_ascii_digit()) && (plain.len() == 1 || *first != b'0') {
        return Some((ScalarKind::Number, Cow::Borrowed(plain)));
    }
    match plain {
        "true" | "false" => return Some((ScalarKind::Bool, Cow::Borrowed(plain))),
        "null" | "~" => return Some((ScalarKind::Null, Cow::Borrowed(plain))),
        _ => {}
    }
    typed_by_full_parser(plain)
}

/// A plain scalar as the full parser reads it: its kind, and its text when that is not the
/// source text (`yes` reads as the boolean `true`).
type Typed = (ScalarKind, Option<String>);

thread_local! {
    /// The plain scalars typed by the full parser so far on this thread (each thread keeps
    /// its own: no lock between the threads that read state files).
    static SEEN: RefCell<HashMap<String, Typed>> = RefCell::new(HashMap::new());
}

/// How the full parser types the plain scalar `plain`, remembered for the thread (a factory
/// repeats the same few texts, `7d` or `1h`, in thousands of files). `None` when it is not
/// a scalar to the full parser.
fn typed_by_full_parser(plain: &str) -> Option<(ScalarKind, Cow<'_, str>)> {
    /// Texts remembered at most (what a factory repeats is a handful).
    const KEEP: usize = 1024;
    let (kind, text) = match SEEN.with_borrow(|seen| seen.get(plain).cloned()) {
        Some(known) => known,
        None => {
            let doc = crate::yaml::parse_full(&format!("k: {plain}\n")).ok()?;
            let Value::Scalar(kind, text) = &doc.get("k")?.value else {
                return None;
            };
            let typed = (*kind, (text != plain).then(|| text.clone()));
            SEEN.with_borrow_mut(|seen| {
                if seen.len() < KEEP {
                    seen.insert(plain.to_string(), typed.clone());
                }
            });
            typed
        }
    };
    Some((kind, text.map_or(Cow::Borrowed(plain), Cow::Owned)))
}

/// The value of a one-line double-quoted scalar (`None` for escapes it does not know, or
/// anything after the closing quote but a comment).
fn double_quoted(text: &str) -> Option<Cow<'_, str>> {
    let body = &text[1..];
    let stop = |s: &str| s.bytes().position(|b| b == b'"' || b == b'\\');
    // Without an escape, the value is the text up to the closing quote, borrowed.
    let mut at = stop(body)?;
    if body.as_bytes()[at] == b'"' {
        return rest_is_comment(&body[at + 1..]).then_some(Cow::Borrowed(&body[..at]));
    }
    // With escapes: the runs between them copied whole, each escape decoded.
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    loop {
        out.push_str(&rest[..at]);
        let (quote, after) = (rest.as_bytes()[at] == b'"', &rest[at + 1..]);
        if quote {
            return rest_is_comment(after).then_some(Cow::Owned(out));
        }
        let e = after.chars().next()?;
        let hex = |n: usize| {
            let digits = after.get(1..1 + n)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            char::from_u32(u32::from_str_radix(digits, 16).ok()?)
        };
        let (c, used) = match e {
            '\\' => ('\\', 1),
            '"' => ('"', 1),
            '/' => ('/', 1),
            'n' => ('\n', 1),
            't' => ('\t', 1),
            'r' => ('\r', 1),
            '0' => ('\0', 1),
            'x' => (hex(2)?, 3),
            'u' => (hex(4)?, 5),
            'U' => (hex(8)?, 9),
            _ => return None,
        };
        out.push(c);
        rest = &after[used..];
        at = stop(rest)?;
    }
}

/// The value of a one-line single-quoted scalar (`''` is a quote).
fn single_quoted(text: &str) -> Option<Cow<'_, str>> {
    let body = &text[1..];
    let mut at = body.find('\'')?;
    // Without a doubled quote, the value is the text up to the closing quote, borrowed.
    if body.as_bytes().get(at + 1) != Some(&b'\'') {
        return rest_is_comment(&body[at + 1..]).then_some(Cow::Borrowed(&body[..at]));
    }
    // With doubled quotes: the runs between them copied whole.
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    loop {
        out.push_str(&rest[..at]);
        if rest.as_bytes().get(at + 1) != Some(&b'\'') {
            return rest_is_comment(&rest[at + 1..]).then_some(Cow::Owned(out));
        }
        out.push('\'');
        rest = &rest[at + 2..];
        at = rest.find('\'')?;
    }
}

/// Whether what follows a quoted scalar is nothing, or spaces and a comment.
pub(super) fn rest_is_comment(rest: &str) -> bool {
    let t = rest.trim_start_matches(' ');
    t.is_empty() || (t.starts_with('#') && t.len() < rest.len())
}
