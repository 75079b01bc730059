//! Long block sequences cut between their items, so that the parts can be read in parallel
//! (a 100,000-image `images.yaml` is 28 MB), each exactly as the whole reading would read it.

use super::{Borrowed, BorrowedValue, Node, Reader, is_item, lines_of, plain_text, pos, split_key};
#[cfg(test)]
use crate::yaml::Tree;
use crate::yaml::{Key, Value};

/// A run of items of a top-level block sequence (a [`Part`] of a [`split`] document), read
/// exactly as [`super::read`] reads them inside the whole document; `None` where it would
/// decline.
pub(in crate::yaml) fn read_part<'a>(part: &Part<'a>) -> Option<Vec<Borrowed<'a>>> {
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
    let BorrowedValue::Seq(items) = node.value else {
        return None;
    };
    (r.next == r.lines.len()).then_some(items)
}

/// [`read_part`] into owned trees (what the tests compare with the full parser).
#[cfg(test)]
pub(super) fn parse_part(part: &Part<'_>) -> Option<Vec<Node>> {
    read_part(part).map(|items| items.iter().map(Borrowed::to_node).collect())
}

/// A document whose top is a long block sequence (bare, or the value of one top-level key),
/// cut between its items into [`Part`]s that can be read apart.
#[derive(Debug, Clone)]
pub(in crate::yaml) struct Split<'a> {
    /// The key holding the sequence and where it stands (`None`: a bare sequence).
    pub key: Option<(&'a str, u32)>,
    /// The parts, in order.
    pub parts: Vec<Part<'a>>,
}

/// Consecutive items of a [`Split`] document: whole lines, with where they stand.
#[derive(Debug, Clone, Copy)]
pub(in crate::yaml) struct Part<'a> {
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
/// each is read ([`read_part`]).
pub(in crate::yaml) fn split<'a>(src: &'a str, key: &'a str, per_part: usize) -> Option<Split<'a>> {
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

/// The whole document of `split` from its parts' items (read with [`read_part`], made owned), with the
/// positions [`super::parse`] gives it.
pub(in crate::yaml) fn assemble(split: &Split<'_>, items: Vec<Node>) -> Node {
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
