//! The two trees a document is read into, and what the decoder sees of either: the owned
//! [`Node`] (what the rest of the tool builds and writes) and the [`Borrowed`] tree, whose
//! keys and scalars are slices of the text read (owned only where unescaping made a new
//! string). Decoding a state file straight from the `Borrowed` tree copies each string
//! once, into the value that keeps it, instead of once into the tree and again out of it.

use std::borrow::Cow;

use super::{Key, Node, Pos, ScalarKind, Value};

/// What a decoder sees of a node of either tree ([`Tree::view`]).
#[derive(Debug)]
pub enum View<'n, N: Tree> {
    /// A scalar: its kind and its text.
    Scalar(ScalarKind, &'n str),
    /// A sequence.
    Seq(&'n [N]),
    /// A mapping, in source order.
    Map(&'n [N::Entry]),
}

/// A YAML tree as the decoder reads it ([`crate::decode::Decoder`]): [`Node`] or
/// [`Borrowed`].
pub trait Tree: Sized {
    /// One entry of a mapping.
    type Entry: std::fmt::Debug;

    /// Where the node starts.
    fn pos(&self) -> Pos;

    /// The node's value.
    fn view(&self) -> View<'_, Self>;

    /// A mapping entry's key, where the key stands, and its value.
    fn entry(entry: &Self::Entry) -> (&str, Pos, &Self);

    /// The node as an owned [`Node`] (to keep a value the decoder does not know).
    fn to_node(&self) -> Node;

    /// Whether this is a null scalar.
    fn is_null(&self) -> bool {
        matches!(self.view(), View::Scalar(ScalarKind::Null, _))
    }

    /// A short name of the node's type, for messages.
    fn type_name(&self) -> &'static str {
        match self.view() {
            View::Scalar(ScalarKind::Null, _) => "null",
            View::Scalar(ScalarKind::Bool, _) => "a boolean",
            View::Scalar(ScalarKind::Number, _) => "a number",
            View::Scalar(ScalarKind::Str, _) => "a string",
            View::Seq(_) => "a list",
            View::Map(_) => "a mapping",
        }
    }
}

impl Tree for Node {
    type Entry = (Key, Node);

    fn pos(&self) -> Pos {
        self.pos
    }

    fn view(&self) -> View<'_, Self> {
        match &self.value {
            Value::Scalar(kind, text) => View::Scalar(*kind, text),
            Value::Seq(items) => View::Seq(items),
            Value::Map(entries) => View::Map(entries),
        }
    }

    fn entry((key, value): &(Key, Node)) -> (&str, Pos, &Node) {
        (&key.name, key.pos, value)
    }

    fn to_node(&self) -> Node {
        self.clone()
    }
}

/// A node whose keys and scalars borrow the text it was read from (see the module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Borrowed<'a> {
    /// The value.
    pub value: BorrowedValue<'a>,
    /// Where the value starts.
    pub pos: Pos,
}

/// The value of a [`Borrowed`] node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BorrowedValue<'a> {
    /// A scalar: its kind and its text (as in [`Value::Scalar`]).
    Scalar(ScalarKind, Cow<'a, str>),
    /// A sequence.
    Seq(Vec<Borrowed<'a>>),
    /// A mapping, in source order; keys are unique.
    Map(Vec<Entry<'a>>),
}

/// One entry of a [`Borrowed`] mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The key text.
    pub name: Cow<'a, str>,
    /// Where the key stands.
    pub pos: Pos,
    /// The value.
    pub value: Borrowed<'a>,
}

impl<'a> Tree for Borrowed<'a> {
    type Entry = Entry<'a>;

    fn pos(&self) -> Pos {
        self.pos
    }

    fn view(&self) -> View<'_, Self> {
        match &self.value {
            BorrowedValue::Scalar(kind, text) => View::Scalar(*kind, text),
            BorrowedValue::Seq(items) => View::Seq(items),
            BorrowedValue::Map(entries) => View::Map(entries),
        }
    }

    fn entry(entry: &Self::Entry) -> (&str, Pos, &Self) {
        (&entry.name, entry.pos, &entry.value)
    }

    fn to_node(&self) -> Node {
        let value = match &self.value {
            BorrowedValue::Scalar(kind, text) => Value::Scalar(*kind, text.to_string()),
            BorrowedValue::Seq(items) => Value::Seq(items.iter().map(Tree::to_node).collect()),
            BorrowedValue::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|e| {
                        let key = Key {
                            name: e.name.to_string(),
                            pos: e.pos,
                        };
                        (key, e.value.to_node())
                    })
                    .collect(),
            ),
        };
        Node {
            value,
            pos: self.pos,
        }
    }
}

impl Borrowed<'_> {
    /// An owned [`Node`] as a `Borrowed` tree that owns everything (what the full parser
    /// read).
    pub fn from_node(node: Node) -> Borrowed<'static> {
        let value = match node.value {
            Value::Scalar(kind, text) => BorrowedValue::Scalar(kind, Cow::Owned(text)),
            Value::Seq(items) => {
                BorrowedValue::Seq(items.into_iter().map(Borrowed::from_node).collect())
            }
            Value::Map(entries) => BorrowedValue::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| Entry {
                        name: Cow::Owned(k.name),
                        pos: k.pos,
                        value: Borrowed::from_node(v),
                    })
                    .collect(),
            ),
        };
        Borrowed {
            value,
            pos: node.pos,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{parse, read};
    use proptest::prelude::*;

    /// Every document reads into the same tree both ways, positions included: borrowed
    /// ([`read`]) and owned ([`parse`]).
    fn same_both_ways(src: &str) {
        let owned = parse(src).map(|n| format!("{n:?}"));
        let borrowed = read(src).map(|t| format!("{:?}", t.to_node()));
        assert_eq!(borrowed, owned, "on:\n{src}");
    }

    #[test]
    fn the_borrowed_tree_is_the_owned_tree() {
        for src in [
            "a: 1\nb:\n  - x\n  - 'y'\nc: {}\n",
            // Outside the fast reader's subset: the full parser's tree, moved over.
            "a: {b: [1, 2]}\nc: &x d\ne: *x\n",
            "",
            "- \"q\\n\"\n- null\n",
        ] {
            same_both_ways(src);
        }
    }

    #[test]
    fn views_and_copies_keep_what_the_tree_says() {
        let tree = read("a: 1\nb:\n  - x\n").unwrap();
        let View::Map(entries) = tree.view() else {
            panic!("not a mapping")
        };
        let (name, pos, value) = Borrowed::entry(&entries[1]);
        assert_eq!((name, pos), ("b", Pos { line: 2, col: 1 }));
        assert_eq!(value.type_name(), "a list");
        assert_eq!(tree.to_node(), parse("a: 1\nb:\n  - x\n").unwrap());
        assert_eq!(Borrowed::from_node(tree.to_node()), tree);
    }

    proptest! {
        #[test]
        fn any_block_text_reads_the_same_both_ways(
            src in "( {0,3}(- |[a-z]{1,2}: ?|[a-z]{1,2}:\n)?([a-z0-9 ]{0,4}|\\[\\]|'[a-z']{0,3}'|\"[a-z\\\\n]{0,3}\"|[-~.]{1,2})\n){1,8}"
        ) {
            same_both_ways(&src);
        }
    }
}
