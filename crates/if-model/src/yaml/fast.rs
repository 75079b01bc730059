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

use std::borrow::Cow;
use std::collections::HashSet;

#[cfg(test)]
use super::Value;
use super::tree::{Borrowed, BorrowedValue, Entry, Tree};
use super::{Node, Pos, ScalarKind};

mod scalar;
mod split;

use scalar::{rest_is_comment, scalar};
#[cfg(test)]
use split::parse_part;
pub(super) use split::{Part, Split, assemble, read_part, split};

/// One line with content: its 1-based number, its indentation and its text after it.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    no: u32,
    indent: usize,
    text: &'a str,
}

/// Reads `src` into an owned tree, or `None` when it is not in the subset (the caller uses
/// the full parser).
pub(super) fn parse(src: &str) -> Option<Node> {
    read(src).as_ref().map(Borrowed::to_node)
}

/// Reads `src` into a tree that borrows it, or `None` when it is not in the subset.
pub(super) fn read(src: &str) -> Option<Borrowed<'_>> {
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

/// A reader over the lines of a document (or of a part of one).
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
    fn node(&mut self, first: Line<'a>) -> Option<Borrowed<'a>> {
        if is_item(first.text) {
            self.seq(first, false)
        } else {
            self.map(first)
        }
    }

    /// A block sequence whose first item is on `first`. `indentless`: it stands at the
    /// indentation of the key it belongs to.
    fn seq(&mut self, first: Line<'a>, indentless: bool) -> Option<Borrowed<'a>> {
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
        Some(Borrowed {
            value: BorrowedValue::Seq(items),
            pos,
        })
    }

    /// The lines of a folded block scalar (`>-`, as the writer folds long strings) whose
    /// header is on `key` (the scalar's position is its first line): lines of one
    /// indentation, deeper than the key,
    /// joined by spaces. Blank, comment-like, more-indented or space-ended lines, and
    /// anything but a plain run of lines, are left to the full parser.
    fn folded(&mut self, key: Line<'a>) -> Option<Borrowed<'a>> {
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
        Some(Borrowed {
            value: BorrowedValue::Scalar(ScalarKind::Str, Cow::Owned(text)),
            pos: pos(first.no, first.indent),
        })
    }

    /// A block mapping whose first key is on `first`.
    fn map(&mut self, first: Line<'a>) -> Option<Borrowed<'a>> {
        // Most mappings have a few keys: room for eight without growing.
        let mut entries: Vec<Entry<'a>> = Vec::with_capacity(8);
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
            let key_pos = pos(line.no, line.indent);
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
            entries.push(Entry {
                name: Cow::Borrowed(name),
                pos: key_pos,
                value,
            });
            match self.peek() {
                Some(l) if l.indent == first.indent && !is_item(l.text) => {
                    self.next += 1;
                    line = l;
                }
                Some(l) if l.indent > first.indent => return None,
                _ => break,
            }
        }
        Some(Borrowed {
            value: BorrowedValue::Map(entries),
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
    // Keys are short: one plain loop up to the colon, which stops at the first byte a
    // simple key cannot hold.
    let bytes = text.as_bytes();
    let mut end = 0;
    loop {
        match *bytes.get(end)? {
            b':' => break,
            b if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/') => end += 1,
            _ => return None,
        }
    }
    let (name, after) = (&text[..end], &text[end + 1..]);
    let simple = !name.is_empty() && !name.starts_with('-');
    (simple && (after.is_empty() || after.starts_with(' '))).then_some((name, after))
}

#[cfg(test)]
mod tests;
