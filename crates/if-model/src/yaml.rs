//! The YAML seam: the one place that reads and writes YAML (with `serde-saphyr`).
//!
//! Reading gives a [`Node`] tree in which every scalar, key and collection carries its
//! [`Pos`] (line and column), so that every later check can point at the text a person
//! wrote. Scalars keep their source text, so `0.10` stays `0.10` when a string is expected.
//! Writing takes a `Node` tree and emits block-style YAML with keys in the tree's order;
//! strings that YAML would read as something else (`on`, `1.0`, `null`, timestamps) are quoted.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_saphyr::Spanned;

mod fast;
mod tree;

pub use tree::{Borrowed, BorrowedValue, Entry, Tree, View};

/// A position in a source text: 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// What a YAML scalar resolved to under YAML's core schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarKind {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool,
    /// An integer or a float.
    Number,
    /// Any other scalar, quoted or plain.
    Str,
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A scalar: its kind and its text (the string value, or the source text of a
    /// number, bool or null).
    Scalar(ScalarKind, String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order. Keys are unique (duplicates are a read error).
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its position (positions do not take part in equality).
#[derive(Debug, Clone)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where the key stands.
    pub pos: Pos,
}

/// A YAML node with its position (positions do not take part in equality: two trees are
/// equal when they say the same thing).
#[derive(Debug, Clone)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts (for an empty value, where it would start).
    pub pos: Pos,
}

/// A document that could not be read as YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct YamlError {
    /// Where the problem is.
    pub pos: Pos,
    /// What the problem is.
    pub message: String,
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Key {}
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl Eq for Node {}
/// Like equality, hashing ignores positions.
impl std::hash::Hash for Node {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl Node {
    /// A node without a source position (for values the tool writes).
    pub fn new(value: Value) -> Self {
        Node {
            value,
            pos: Pos::default(),
        }
    }

    /// A null scalar.
    pub fn null() -> Self {
        Node::new(Value::Scalar(ScalarKind::Null, "null".to_string()))
    }

    /// A string scalar.
    pub fn str(s: impl Into<String>) -> Self {
        Node::new(Value::Scalar(ScalarKind::Str, s.into()))
    }

    /// A boolean scalar.
    pub fn bool(b: bool) -> Self {
        Node::new(Value::Scalar(ScalarKind::Bool, b.to_string()))
    }

    /// An integer scalar.
    pub fn int(i: i64) -> Self {
        Node::new(Value::Scalar(ScalarKind::Number, i.to_string()))
    }

    /// A mapping from `(key, value)` pairs, in the given order.
    pub fn map(entries: Vec<(String, Node)>) -> Self {
        Node::new(Value::Map(
            entries
                .into_iter()
                .map(|(name, n)| {
                    (
                        Key {
                            name,
                            pos: Pos::default(),
                        },
                        n,
                    )
                })
                .collect(),
        ))
    }

    /// A sequence.
    pub fn seq(items: Vec<Node>) -> Self {
        Node::new(Value::Seq(items))
    }

    /// Whether this is a null scalar.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Scalar(ScalarKind::Null, _))
    }

    /// A short name of the node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Scalar(ScalarKind::Null, _) => "null",
            Value::Scalar(ScalarKind::Bool, _) => "a boolean",
            Value::Scalar(ScalarKind::Number, _) => "a number",
            Value::Scalar(ScalarKind::Str, _) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// The mapping entry `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Reads one YAML document. An empty document is a null node. Plain block-style text (what
/// the tool writes) takes a fast path; anything else the general parser reads.
pub fn parse(src: &str) -> Result<Node, YamlError> {
    match fast::parse(src) {
        Some(node) => Ok(node),
        None => parse_full(src),
    }
}

/// [`parse`] into a tree that borrows `src` ([`Borrowed`]): what decoding a file the tool
/// reads by the thousand starts from. The same tree, values, kinds and positions.
pub fn read(src: &str) -> Result<Borrowed<'_>, YamlError> {
    match fast::read(src) {
        Some(tree) => Ok(tree),
        None => parse_full(src).map(Borrowed::from_node),
    }
}

/// A document whose top is a long block sequence (bare, or under one top-level key), cut
/// between its items so that the parts can be read in parallel ([`split_list`]).
#[derive(Debug, Clone)]
pub struct ListParts<'a>(fast::Split<'a>);

/// Consecutive items of a [`ListParts`] document.
#[derive(Debug, Clone, Copy)]
pub struct ListPart<'a>(fast::Part<'a>);

/// `src` cut into parts of about `per_part` items, when it is a bare block sequence or the
/// block sequence under the top-level key `key` (and nothing else but comments), in the
/// plain subset the fast reader knows. `None` when it is not: read the whole text with
/// [`parse`] then. Reading every part ([`ListPart::parse`]) gives the items exactly as
/// [`parse`] gives them (values, kinds, positions), or some part declines and the whole text
/// must be read with [`parse`].
pub fn split_list<'a>(src: &'a str, key: &'a str, per_part: usize) -> Option<ListParts<'a>> {
    fast::split(src, key, per_part).map(ListParts)
}

impl<'a> ListParts<'a> {
    /// The parts, in document order.
    pub fn parts(&self) -> Vec<ListPart<'a>> {
        self.0.parts.iter().copied().map(ListPart).collect()
    }

    /// Whether the sequence is under the key (not a bare sequence).
    pub fn under_key(&self) -> bool {
        self.0.key.is_some()
    }

    /// The whole document from every part's items, in order: what [`parse`] gives.
    pub fn assemble(&self, items: Vec<Node>) -> Node {
        fast::assemble(&self.0, items)
    }
}

impl<'a> ListPart<'a> {
    /// The items of this part, exactly as [`read`] reads them in the whole document, or
    /// `None` when the fast reader declines them (then read the whole text with [`read`]).
    pub fn read(&self) -> Option<Vec<Borrowed<'a>>> {
        fast::read_part(&self.0)
    }
}

/// Reads one YAML document with the general parser (`serde-saphyr`).
fn parse_full(src: &str) -> Result<Node, YamlError> {
    if src.trim().is_empty()
        || src
            .lines()
            .all(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
    {
        return Ok(Node {
            value: Value::Scalar(ScalarKind::Null, String::new()),
            pos: Pos { line: 1, col: 1 },
        });
    }
    let raw: Spanned<RawNode> = serde_saphyr::from_str_with_options(src, options_for(src))
        .map_err(|e| convert_error(&e))?;
    Ok(resolve(raw, src))
}

/// The parser's limits for `src`: its defaults, but the node and event budgets grow with the
/// input (every node takes at least two bytes of text, aliases aside, which keep their own
/// caps), so a 100,000-image `images.yaml` reads while an alias bomb is still refused.
fn options_for(src: &str) -> serde_saphyr::Options {
    let defaults = serde_saphyr::Budget::default();
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: defaults.max_nodes.max(src.len() / 2),
            max_events: defaults.max_events.max(src.len()),
        },
    }
}

fn convert_error(e: &serde_saphyr::Error) -> YamlError {
    let pos = e
        .location()
        .map(|l| Pos {
            line: to_u32(l.line()),
            col: to_u32(l.column()),
        })
        .unwrap_or(Pos { line: 1, col: 1 });
    let text = e.without_snippet().to_string();
    let message = clean_message(text.lines().next().unwrap_or_default());
    YamlError { pos, message }
}

/// Drops the library's own position text and hints from a message: the caller prints the
/// position in `path:line:col` form.
fn clean_message(text: &str) -> String {
    let mut m = text.trim();
    m = m.strip_prefix("error: ").unwrap_or(m);
    if let Some(rest) = m.strip_prefix("line ")
        && let Some((_, after)) = rest.split_once(": ")
    {
        m = after;
    }
    if let Some(i) = m.rfind(" at line ") {
        m = &m[..i];
    }
    m = m
        .strip_suffix(", set DuplicateKeyPolicy in Options if acceptable")
        .unwrap_or(m);
    m.to_string()
}

fn to_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// What the deserializer hands over before source text is attached.
enum RawNode {
    Null,
    Bool(bool),
    Number,
    Str(String),
    Seq(Vec<Spanned<RawNode>>),
    Map(Vec<(Spanned<String>, Spanned<RawNode>)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawNode, D::Error> {
        RawNode::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RawNode, E> {
        Ok(RawNode::Number)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RawNode, E> {
        Ok(RawNode::Number)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<RawNode, E> {
        Ok(RawNode::Number)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<RawNode, E> {
        Ok(RawNode::Number)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RawNode, E> {
        Ok(RawNode::Number)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNode, E> {
        Ok(RawNode::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<RawNode, E> {
        Ok(RawNode::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = a.next_element::<Spanned<RawNode>>()? {
            items.push(item);
        }
        Ok(RawNode::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = a.next_key::<Spanned<String>>()? {
            let v = a.next_value::<Spanned<RawNode>>()?;
            entries.push((k, v));
        }
        Ok(RawNode::Map(entries))
    }
}

fn pos_of(loc: &serde_saphyr::Location) -> Pos {
    Pos {
        line: to_u32(loc.line()),
        col: to_u32(loc.column()),
    }
}

fn source_text(loc: &serde_saphyr::Location, src: &str) -> Option<String> {
    let span = loc.span();
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    src.get(start..start.checked_add(len)?).map(str::to_string)
}

fn resolve(raw: Spanned<RawNode>, src: &str) -> Node {
    let pos = pos_of(&raw.referenced);
    let value = match raw.value {
        RawNode::Null => Value::Scalar(
            ScalarKind::Null,
            source_text(&raw.referenced, src).unwrap_or_else(|| "null".to_string()),
        ),
        RawNode::Bool(b) => Value::Scalar(ScalarKind::Bool, b.to_string()),
        RawNode::Number => Value::Scalar(
            ScalarKind::Number,
            source_text(&raw.referenced, src).unwrap_or_default(),
        ),
        RawNode::Str(s) => Value::Scalar(ScalarKind::Str, s),
        RawNode::Seq(items) => Value::Seq(items.into_iter().map(|i| resolve(i, src)).collect()),
        RawNode::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    (
                        Key {
                            name: k.value,
                            pos: pos_of(&k.referenced),
                        },
                        resolve(v, src),
                    )
                })
                .collect(),
        ),
    };
    Node { value, pos }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.value {
            Value::Scalar(ScalarKind::Null, _) => s.serialize_unit(),
            Value::Scalar(ScalarKind::Bool, t) => s.serialize_bool(t == "true"),
            Value::Scalar(ScalarKind::Number, t) => {
                if let Ok(i) = t.parse::<i64>() {
                    s.serialize_i64(i)
                } else if let Ok(f) = t.parse::<f64>() {
                    s.serialize_f64(f)
                } else {
                    s.serialize_str(t)
                }
            }
            Value::Scalar(ScalarKind::Str, t) => s.serialize_str(t),
            Value::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(&k.name, v)?;
                }
                map.end()
            }
        }
    }
}

/// A document that could not be written (should not happen for trees built by the tool).
#[derive(Debug, thiserror::Error)]
#[error("cannot write YAML: {0}")]
pub struct WriteError(String);

/// Writes one YAML document: block style, two-space indentation, keys in tree order.
pub fn to_string(node: &Node) -> Result<String, WriteError> {
    let options = serde_saphyr::ser_options! {
        indent_step: 2,
        compact_list_indent: false,
    };
    serde_saphyr::to_string_with_options(node, options).map_err(|e| WriteError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(n: &Node) -> (ScalarKind, &str) {
        match &n.value {
            Value::Scalar(k, t) => (*k, t.as_str()),
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn scalars_keep_their_text_and_position() {
        let doc = parse("# c\na: 0.10\nb: None\nc: ~\nd: 'on'\ne: true\n").unwrap();
        assert_eq!(scalar(doc.get("a").unwrap()), (ScalarKind::Number, "0.10"));
        assert_eq!(doc.get("a").unwrap().pos, Pos { line: 2, col: 4 });
        assert_eq!(scalar(doc.get("b").unwrap()), (ScalarKind::Str, "None"));
        assert_eq!(scalar(doc.get("c").unwrap()).0, ScalarKind::Null);
        assert_eq!(scalar(doc.get("d").unwrap()), (ScalarKind::Str, "on"));
        assert_eq!(scalar(doc.get("e").unwrap()), (ScalarKind::Bool, "true"));
    }

    #[test]
    fn plain_backslashes_are_literal() {
        let doc = parse("allowTags: ^3\\\\.12-slim$\n").unwrap();
        assert_eq!(scalar(doc.get("allowTags").unwrap()).1, "^3\\\\.12-slim$");
    }

    #[test]
    fn keys_have_positions() {
        let doc = parse("- name: a\n  registry: b\n").unwrap();
        let Value::Seq(items) = &doc.value else {
            panic!()
        };
        let Value::Map(entries) = &items[0].value else {
            panic!()
        };
        assert_eq!(entries[1].0.name, "registry");
        assert_eq!(entries[1].0.pos, Pos { line: 2, col: 3 });
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: 1\nb: [1, 2\n").unwrap_err();
        assert_eq!(err.pos, Pos { line: 2, col: 4 });
        assert!(err.message.contains("unclosed bracket"), "{}", err.message);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos, Pos { line: 3, col: 1 });
        assert!(err.message.contains("duplicate"), "{}", err.message);
    }

    #[test]
    fn empty_and_comment_only_documents_are_null() {
        assert!(parse("").unwrap().is_null());
        assert!(parse("# only a comment\n\n").unwrap().is_null());
    }

    #[test]
    fn writing_quotes_strings_that_would_change_type() {
        let node = Node::map(vec![
            ("a".into(), Node::str("on")),
            ("b".into(), Node::str("1.10")),
            ("c".into(), Node::str("null")),
            ("d".into(), Node::str("2024-12-04T10:00:00Z")),
            ("e".into(), Node::null()),
            ("f".into(), Node::seq(vec![Node::str("x")])),
            ("g".into(), Node::int(3)),
            ("h".into(), Node::seq(vec![])),
        ]);
        let text = to_string(&node).unwrap();
        let back = parse(&text).unwrap();
        for key in ["a", "b", "c", "d"] {
            assert_eq!(
                scalar(back.get(key).unwrap()).0,
                ScalarKind::Str,
                "{key} in\n{text}"
            );
        }
        assert!(back.get("e").unwrap().is_null());
        assert_eq!(scalar(back.get("g").unwrap()), (ScalarKind::Number, "3"));
        assert!(matches!(back.get("h").unwrap().value, Value::Seq(ref v) if v.is_empty()));
    }

    #[test]
    fn write_then_read_round_trips() {
        let src = "name: backstage\nbaseImages:\n  - node-22\nrebuildState:\n  status: monitoring\n  attempts: 0\n";
        let node = parse(src).unwrap();
        let text = to_string(&node).unwrap();
        let again = parse(&text).unwrap();
        assert_eq!(to_string(&again).unwrap(), text);
        assert_eq!(text, src, "the canonical layout is the one the tool writes");
    }
}
