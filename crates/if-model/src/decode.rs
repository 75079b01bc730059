//! Turning YAML [`Node`]s into typed values while collecting every problem as a
//! [`Diagnostic`] (decoding never stops at the first one).

use std::cell::Cell;

use crate::diag::{Diagnostic, Kind, closest};
use crate::digest::Digest;
use crate::duration::Duration;
use crate::timestamp::Timestamp;
use crate::yaml::{Node, Pos, ScalarKind, Tree, View};

/// What to do with mapping keys a type does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unknown {
    /// Report each one as an error (hand-written files: `images.yaml`).
    Reject,
    /// Keep them so they are written back unchanged (tool-written files: state).
    Keep,
}

/// Decoding context: the file name for messages and the problems found so far.
#[derive(Debug)]
pub struct Decoder {
    /// The file, as the user should see it.
    pub file: String,
    /// Every problem found so far.
    pub diags: Vec<Diagnostic>,
    /// Whether a string holding a control character is an error (in `images.yaml`, whose
    /// names and references reach terminals and commands).
    pub reject_controls: bool,
}

/// The entries of one mapping of either tree ([`Tree`]), split into the known keys and the
/// rest.
#[derive(Debug)]
pub struct Fields<'n, N: Tree = Node> {
    entries: &'n [N::Entry],
    /// Where the mapping starts.
    pub pos: Pos,
    /// Where the next lookup starts looking: just after the last key found. Decoders ask
    /// for the keys in about the order the tool writes them, so most lookups compare one key.
    next: Cell<usize>,
}

/// The place of the first item of `items` for which `hit` holds, looking from `start` to
/// the end and then from the beginning.
fn position_from<T>(items: &[T], start: usize, hit: impl Fn(&T) -> bool) -> Option<usize> {
    let (before, after) = items.split_at(start.min(items.len()));
    match after.iter().position(&hit) {
        Some(i) => Some(before.len() + i),
        None => before.iter().position(hit),
    }
}

/// Whether `known` holds `name`, looking from `*from` on (and then from the start); moves
/// `*from` past it. A mapping's keys in the order of `known` cost one comparison each.
fn known_from(known: &[&str], from: &mut usize, name: &str) -> bool {
    match position_from(known, *from, |k| *k == name) {
        Some(i) => {
            *from = i + 1;
            true
        }
        None => false,
    }
}

impl<'n, N: Tree + 'n> Fields<'n, N> {
    /// The value of `key`, null included.
    fn find(&self, key: &str) -> Option<&'n N> {
        let entries = self.entries;
        let i = position_from(entries, self.next.get(), |e| N::entry(e).0 == key)?;
        self.next.set(i + 1);
        entries.get(i).map(|e| N::entry(e).2)
    }

    /// The value of `key`, when present and not null.
    pub fn get(&self, key: &str) -> Option<&'n N> {
        self.find(key).filter(|v| !v.is_null())
    }

    /// The value of `key`, null included.
    pub fn raw(&self, key: &str) -> Option<&'n N> {
        self.find(key)
    }

    /// The entries whose keys are not in `known`, in source order.
    pub fn unknown(&self, known: &[&str]) -> Vec<(String, Node)> {
        let mut from = 0;
        self.entries
            .iter()
            .map(N::entry)
            .filter(|(name, _, _)| !known_from(known, &mut from, name))
            .map(|(name, _, value)| (name.to_string(), value.to_node()))
            .collect()
    }

    /// Every entry: its key, where the key stands, and its value, in source order.
    pub fn entries(&self) -> impl Iterator<Item = (&'n str, Pos, &'n N)> + use<'n, N> {
        self.entries.iter().map(N::entry)
    }
}

/// The first control character of `text`, if any (most text is printable ASCII: one quick
/// pass says so).
fn first_control(text: &str) -> Option<char> {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    text.chars().find(|c| c.is_control())
}

impl Decoder {
    /// A decoder for `file`.
    pub fn new(file: impl Into<String>) -> Self {
        Decoder {
            file: file.into(),
            diags: Vec::new(),
            reject_controls: false,
        }
    }

    /// The problems found, in the order they stand in the file.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|d| d.pos);
        self.diags
    }

    /// How many problems found so far end a read (errors, unknown keys aside).
    pub fn fatal_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_fatal()).count()
    }

    /// Records an error at `pos`.
    pub fn error(&mut self, pos: Pos, message: impl Into<String>) {
        let d = Diagnostic::error(&self.file, pos, message);
        self.diags.push(d);
    }

    /// Opens a mapping; with [`Unknown::Reject`], reports every key not in `known` (naming the
    /// closest known key when it looks like a misspelling). `what` names the mapping in messages.
    pub fn fields<'n, N: Tree>(
        &mut self,
        node: &'n N,
        what: &str,
        known: &[&str],
        unknown: Unknown,
    ) -> Option<Fields<'n, N>> {
        let View::Map(entries) = node.view() else {
            self.error(
                node.pos(),
                format!("{what} must be a mapping, found {}", node.type_name()),
            );
            return None;
        };
        if unknown == Unknown::Reject {
            let mut from = 0;
            for (name, pos, _) in entries.iter().map(N::entry) {
                if known_from(known, &mut from, name) {
                    continue;
                }
                let hint = match closest(name, known) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("known keys: {}", known.join(", ")),
                };
                let msg = format!("unknown key `{name}` in {what}; {hint}");
                let d = Diagnostic::error(&self.file, pos, msg).with_kind(Kind::UnknownKey);
                self.diags.push(d);
            }
        }
        Some(Fields {
            entries,
            pos: node.pos(),
            next: Cell::new(0),
        })
    }

    /// A string (a number's or boolean's source text is accepted as a string too, so that
    /// `currentVersion: 1.10` stays `1.10`).
    pub fn string<N: Tree>(&mut self, node: Option<&N>, what: &str) -> Option<String> {
        self.text(node, what).map(str::to_string)
    }

    /// [`Decoder::string`] borrowed from the node (for values parsed further: digests,
    /// times, durations, which need no copy of the text).
    pub fn text<'n, N: Tree>(&mut self, node: Option<&'n N>, what: &str) -> Option<&'n str> {
        let node = node?;
        match node.view() {
            View::Scalar(ScalarKind::Null, _) => None,
            View::Scalar(_, text) => {
                if self.reject_controls
                    && let Some(c) = first_control(text)
                {
                    self.error(
                        node.pos(),
                        format!(
                            "`{what}` contains the control character U+{:04X}: not allowed",
                            u32::from(c)
                        ),
                    );
                }
                Some(text)
            }
            _ => {
                self.error(
                    node.pos(),
                    format!("`{what}` must be a string, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A required string: reports its absence at `at`.
    pub fn required<N: Tree>(
        &mut self,
        node: Option<&N>,
        what: &str,
        at: Pos,
        in_what: &str,
    ) -> Option<String> {
        if node.is_none_or(N::is_null) {
            self.error(at, format!("{in_what} has no `{what}`"));
            return None;
        }
        self.string(node, what)
    }

    /// A boolean.
    pub fn boolean<N: Tree>(&mut self, node: Option<&N>, what: &str) -> Option<bool> {
        let node = node?;
        match node.view() {
            View::Scalar(ScalarKind::Null, _) => None,
            View::Scalar(ScalarKind::Bool, t) => Some(t == "true"),
            _ => {
                self.error(
                    node.pos(),
                    format!("`{what}` must be true or false, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// A non-negative integer that fits 32 bits.
    pub fn count<N: Tree>(&mut self, node: Option<&N>, what: &str) -> Option<u32> {
        self.whole(node, what)
    }

    /// A non-negative integer that fits 64 bits (an id).
    pub fn count64<N: Tree>(&mut self, node: Option<&N>, what: &str) -> Option<u64> {
        self.whole(node, what)
    }

    fn whole<T: std::str::FromStr, N: Tree>(&mut self, node: Option<&N>, what: &str) -> Option<T> {
        let node = node?;
        match node.view() {
            View::Scalar(ScalarKind::Null, _) => None,
            View::Scalar(ScalarKind::Number, t) if t.parse::<T>().is_ok() => t.parse().ok(),
            _ => {
                self.error(
                    node.pos(),
                    format!(
                        "`{what}` must be a whole number, found `{}`",
                        scalar_text(node)
                    ),
                );
                None
            }
        }
    }

    /// The items of a list: none when `node` is absent or null, and none (with an error
    /// naming `what`) when it is not a list.
    pub fn items<'n, N: Tree>(&mut self, node: Option<&'n N>, what: &str) -> &'n [N] {
        let Some(node) = node else { return &[] };
        match node.view() {
            View::Scalar(ScalarKind::Null, _) => &[],
            View::Seq(items) => items,
            _ => {
                self.error(
                    node.pos(),
                    format!("`{what}` must be a list, found {}", node.type_name()),
                );
                &[]
            }
        }
    }

    /// A list of strings (kept at its exact length: state files hold millions of them).
    pub fn strings<N: Tree>(&mut self, node: Option<&N>, what: &str) -> Vec<String> {
        self.list(node, what, |d, i| d.string(Some(i), what))
    }

    /// A list of mappings, each decoded by `f` (kept at its exact length).
    pub fn list<T, N: Tree>(
        &mut self,
        node: Option<&N>,
        what: &str,
        mut f: impl FnMut(&mut Self, &N) -> Option<T>,
    ) -> Vec<T> {
        let items = self.items(node, what);
        let mut out = Vec::with_capacity(items.len());
        out.extend(items.iter().filter_map(|i| f(self, i)));
        out.shrink_to_fit();
        out
    }

    /// A duration (`7d`, `12h`, `1d12h`).
    pub fn duration<N: Tree>(&mut self, node: Option<&N>, what: &str) -> Option<Duration> {
        let node = node?;
        let text = self.text(Some(node), what)?;
        match Duration::parse(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.error(node.pos(), format!("`{what}`: {e}"));
                None
            }
        }
    }

    /// An RFC 3339 time.
    pub fn timestamp<N: Tree>(&mut self, node: Option<&N>, what: &str) -> Option<Timestamp> {
        let node = node?;
        let text = self.text(Some(node), what)?;
        match Timestamp::parse(text) {
            Ok(t) => Some(t),
            Err(e) => {
                let hint = if is_python_none(text) {
                    " (write null when there is none)"
                } else {
                    ""
                };
                self.error(node.pos(), format!("`{what}`: {e}{hint}"));
                None
            }
        }
    }

    /// A digest (`sha256:` + 64 hex).
    pub fn digest<N: Tree>(&mut self, node: Option<&N>, what: &str) -> Option<Digest> {
        let node = node?;
        let text = self.text(Some(node), what)?;
        match Digest::parse(text) {
            Ok(d) => Some(d),
            Err(e) => {
                let msg = if is_python_none(text) {
                    format!("`{what}`: `{text}` is not a digest (write null when there is none)")
                } else {
                    format!("`{what}` is not a digest: {e}")
                };
                self.error(node.pos(), msg);
                None
            }
        }
    }
}

/// A node's text for messages: the scalar, or its type.
fn scalar_text<N: Tree>(node: &N) -> String {
    match node.view() {
        View::Scalar(_, t) => t.to_string(),
        _ => node.type_name().to_string(),
    }
}

/// `None`/`none`: what a Python program writes for a missing value.
fn is_python_none(text: &str) -> bool {
    matches!(text, "None" | "none" | "NONE" | "nil")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    #[test]
    fn unknown_keys_are_reported_with_a_suggestion() {
        let doc = yaml::parse("name: a\nrebuildDelai: 7d\nupdates: []\n").unwrap();
        let mut d = Decoder::new("images.yaml");
        let f = d
            .fields(
                &doc,
                "image `a`",
                &["name", "rebuildDelay"],
                Unknown::Reject,
            )
            .unwrap();
        assert_eq!(f.get("name").map(|n| n.pos), Some(Pos { line: 1, col: 7 }));
        let msgs: Vec<String> = d.diags.iter().map(ToString::to_string).collect();
        assert_eq!(
            msgs,
            [
                "images.yaml:2:1: error: unknown key `rebuildDelai` in image `a`; did you mean `rebuildDelay`?",
                "images.yaml:3:1: error: unknown key `updates` in image `a`; known keys: name, rebuildDelay",
            ]
        );
    }

    #[test]
    fn kept_unknown_keys_are_not_errors() {
        let doc = yaml::parse("name: a\nmetadata: {}\n").unwrap();
        let mut d = Decoder::new("s.yaml");
        let f = d.fields(&doc, "state", &["name"], Unknown::Keep).unwrap();
        assert!(d.diags.is_empty());
        assert_eq!(f.unknown(&["name"]).len(), 1);
    }

    #[test]
    fn typed_scalars_report_their_position() {
        let doc = yaml::parse("a: None\nb: 7x\nc: sha256:placeholder\nd: yes please\n").unwrap();
        let mut d = Decoder::new("f");
        assert_eq!(d.timestamp(doc.get("a"), "a"), None);
        assert_eq!(d.duration(doc.get("b"), "b"), None);
        assert_eq!(d.digest(doc.get("c"), "c"), None);
        assert_eq!(d.boolean(doc.get("d"), "d"), None);
        let lines: Vec<u32> = d.diags.iter().map(|x| x.pos.line).collect();
        assert_eq!(lines, [1, 2, 3, 4]);
        assert!(
            d.diags[0].message.contains("write null"),
            "{}",
            d.diags[0].message
        );
    }

    /// The lookups that start where the last one stopped find what a scan from the start
    /// finds, whatever the order of the questions.
    fn lookups_agree(keys: &[String], asked: &[String]) {
        let node = Node::map(
            keys.iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), Node::int(i64::try_from(i).unwrap())))
                .collect(),
        );
        let mut d = Decoder::new("f");
        let f = d.fields(&node, "m", &[], Unknown::Keep).unwrap();
        for key in asked {
            let scanned = node.get(key);
            assert_eq!(f.raw(key), scanned, "{key} in {keys:?}");
        }
        let known: Vec<&str> = asked.iter().map(String::as_str).collect();
        let expected: Vec<&String> = keys
            .iter()
            .filter(|k| !known.contains(&k.as_str()))
            .collect();
        let unknown: Vec<String> = f.unknown(&known).into_iter().map(|(k, _)| k).collect();
        assert_eq!(unknown.iter().collect::<Vec<_>>(), expected);
    }

    proptest::proptest! {
        #[test]
        fn fields_find_every_key_in_any_order(
            keys in proptest::collection::btree_set("[a-e]{1,2}", 0..12),
            asked in proptest::collection::vec("[a-e]{1,2}", 0..20),
        ) {
            let keys: Vec<String> = keys.into_iter().collect();
            lookups_agree(&keys, &asked);
        }
    }
}
