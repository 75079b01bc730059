//! The Kargo writer: a YAML emitter (a [`serde::Serializer`]) for the block-style documents
//! Image Factory emits, byte-identical to what serde-saphyr 2 writes with its default options
//! (two-space indent, sequences under a key at the key's column, `{}`/`[]` for empty
//! collections, YAML 1.1-safe quoting), at a fraction of its cost: keys of structs are
//! literals, and each string value gets one classification pass ([`scalar`]).
//!
//! Shapes it does not write exactly like serde-saphyr — block scalars (multi-line strings,
//! single lines past 80 characters that would be folded), floats, bytes, struct and tuple
//! variants, serde-saphyr's own wrapper types, keys that are not strings or past 1024
//! characters — are refused with [`WriteError::Unsupported`], never written differently;
//! [`crate::render`] then writes that one document with serde-saphyr.

mod scalar;

use serde::Serialize;
use serde::ser::{self, Impossible};

use scalar::Style;

/// Why a value was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// A shape this writer leaves to the generic path.
    #[error("not supported by the Kargo writer: {0}")]
    Unsupported(&'static str),
    /// The value's own `Serialize` failed.
    #[error("{0}")]
    Message(String),
}

impl ser::Error for WriteError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        WriteError::Message(msg.to_string())
    }
}

/// One YAML document for `value` (no `---`), ending in a newline.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, WriteError> {
    let mut out = String::with_capacity(2048);
    value.serialize(Node {
        out: &mut out,
        at: At::Top,
    })?;
    Ok(out)
}

/// Where the node being written starts.
#[derive(Debug, Clone, Copy)]
enum At {
    /// At the start of the document.
    Top,
    /// After `key:` whose key starts at this column.
    Value(usize),
    /// After `- ` whose dash is at this column.
    Item(usize),
}

/// How a collection's first entry starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// On the current line (after `- `).
    Inline,
    /// On the next line (after `key:`).
    Break,
    /// At the start of a line.
    Line,
}

const SPACES: &str = "                                                                ";

fn indent(out: &mut String, mut col: usize) {
    while col > 0 {
        let n = col.min(SPACES.len());
        out.push_str(&SPACES[..n]);
        col -= n;
    }
}

impl Open {
    /// Starts the line of a collection's entry: the first as `self` says, the others at
    /// `col` on a line of their own.
    fn start(self, out: &mut String, col: usize, first: bool) {
        match (first, self) {
            (true, Open::Inline) => {}
            (true, Open::Break) => {
                out.push('\n');
                indent(out, col);
            }
            _ => indent(out, col),
        }
    }

    /// An empty collection (`{}` or `[]`) where its first entry would have started.
    fn empty(self, out: &mut String, text: &str) {
        if self == Open::Break {
            out.push(' ');
        }
        out.push_str(text);
        out.push('\n');
    }
}

/// Writes one node at a position.
struct Node<'a> {
    out: &'a mut String,
    at: At,
}

impl<'a> Node<'a> {
    /// A scalar written as is, then the end of the line.
    fn plain(self, text: &str) -> Result<(), WriteError> {
        if let At::Value(_) = self.at {
            self.out.push(' ');
        }
        self.out.push_str(text);
        self.out.push('\n');
        Ok(())
    }

    fn string(self, s: &str) -> Result<(), WriteError> {
        let style = scalar::value_style(s);
        match style {
            Style::Plain => self.plain(s),
            Style::Single | Style::Double => {
                if let At::Value(_) = self.at {
                    self.out.push(' ');
                }
                if style == Style::Single {
                    self.out.push('\'');
                    self.out.push_str(s);
                    self.out.push('\'');
                } else {
                    scalar::push_double(self.out, s);
                }
                self.out.push('\n');
                Ok(())
            }
            Style::Block => Err(WriteError::Unsupported("block scalar")),
        }
    }

    fn map(self) -> Map<'a> {
        let (col, open) = match self.at {
            At::Top => (0, Open::Line),
            At::Value(key) => (key + 2, Open::Break),
            At::Item(dash) => (dash + 2, Open::Inline),
        };
        Map {
            out: self.out,
            col,
            open,
            entries: 0,
        }
    }

    fn seq(self) -> Seq<'a> {
        let (col, open) = match self.at {
            At::Top => (0, Open::Line),
            At::Value(key) => (key, Open::Break),
            At::Item(dash) => (dash + 2, Open::Inline),
        };
        Seq {
            out: self.out,
            col,
            open,
            first: true,
        }
    }
}

/// A block mapping being written.
struct Map<'a> {
    out: &'a mut String,
    /// Column of the keys.
    col: usize,
    open: Open,
    entries: usize,
}

impl Map<'_> {
    /// Starts an entry: the line's start (unless inline), `key`, `:`.
    fn key_text(&mut self, key: &str) -> Result<(), WriteError> {
        let quoted;
        let text = if scalar::key_plain(key) {
            key
        } else {
            let mut q = String::with_capacity(key.len() + 2);
            scalar::push_double(&mut q, key);
            quoted = q;
            quoted.as_str()
        };
        if text.len() > scalar::KEY_MAX && text.chars().count() > scalar::KEY_MAX {
            return Err(WriteError::Unsupported("key past 1024 characters"));
        }
        self.open.start(self.out, self.col, self.entries == 0);
        self.out.push_str(text);
        self.out.push(':');
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.entries += 1;
        value.serialize(Node {
            out: self.out,
            at: At::Value(self.col),
        })
    }

    fn finish(self) -> Result<(), WriteError> {
        if self.entries == 0 {
            self.open.empty(self.out, "{}");
        }
        Ok(())
    }
}

/// A block sequence being written.
struct Seq<'a> {
    out: &'a mut String,
    /// Column of the dashes.
    col: usize,
    open: Open,
    first: bool,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.open.start(self.out, self.col, self.first);
        self.first = false;
        self.out.push_str("- ");
        value.serialize(Node {
            out: self.out,
            at: At::Item(self.col),
        })
    }

    fn finish(self) -> Result<(), WriteError> {
        if self.first {
            self.open.empty(self.out, "[]");
        }
        Ok(())
    }
}

impl<'a> ser::Serializer for Node<'a> {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Impossible<(), WriteError>;
    type SerializeMap = Map<'a>;
    type SerializeStruct = Map<'a>;
    type SerializeStructVariant = Impossible<(), WriteError>;

    fn serialize_bool(self, v: bool) -> Result<(), WriteError> {
        self.plain(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<(), WriteError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result<(), WriteError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result<(), WriteError> {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result<(), WriteError> {
        self.plain(&v.to_string())
    }
    fn serialize_i128(self, v: i128) -> Result<(), WriteError> {
        self.plain(&v.to_string())
    }
    fn serialize_u8(self, v: u8) -> Result<(), WriteError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result<(), WriteError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result<(), WriteError> {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result<(), WriteError> {
        self.plain(&v.to_string())
    }
    fn serialize_u128(self, v: u128) -> Result<(), WriteError> {
        self.plain(&v.to_string())
    }
    fn serialize_f32(self, _: f32) -> Result<(), WriteError> {
        Err(WriteError::Unsupported("float"))
    }
    fn serialize_f64(self, _: f64) -> Result<(), WriteError> {
        Err(WriteError::Unsupported("float"))
    }
    fn serialize_char(self, v: char) -> Result<(), WriteError> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), WriteError> {
        self.string(v)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), WriteError> {
        Err(WriteError::Unsupported("bytes"))
    }
    fn serialize_none(self) -> Result<(), WriteError> {
        self.plain("null")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), WriteError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), WriteError> {
        self.plain("null")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), WriteError> {
        self.plain("null")
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), WriteError> {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        // serde-saphyr's wrappers (flow style, block strings, anchors, ...) are named so.
        if name.starts_with("__yaml") {
            return Err(WriteError::Unsupported("serde-saphyr wrapper"));
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        // Externally tagged: a mapping of one entry, `variant: value`.
        let mut map = self.map();
        map.key_text(variant)?;
        map.value(value)?;
        map.finish()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>, WriteError> {
        Ok(self.seq())
    }
    fn serialize_tuple(self, _: usize) -> Result<Seq<'a>, WriteError> {
        Ok(self.seq())
    }
    fn serialize_tuple_struct(self, name: &'static str, _: usize) -> Result<Seq<'a>, WriteError> {
        if name.starts_with("__yaml") {
            return Err(WriteError::Unsupported("serde-saphyr wrapper"));
        }
        Ok(self.seq())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, WriteError> {
        Err(WriteError::Unsupported("tuple variant"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Map<'a>, WriteError> {
        Ok(self.map())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Map<'a>, WriteError> {
        Ok(self.map())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, WriteError> {
        Err(WriteError::Unsupported("struct variant"))
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.finish()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.element(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.finish()
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), WriteError> {
        let mut text = KeyText(None);
        key.serialize(&mut text)?;
        match text.0 {
            Some(k) => self.key_text(&k),
            None => Err(WriteError::Unsupported("key that is not a string")),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.value(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.finish()
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = WriteError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        self.key_text(key)?;
        self.value(value)
    }
    fn end(self) -> Result<(), WriteError> {
        self.finish()
    }
}

/// Captures a string key (anything else is left to the generic path).
struct KeyText(Option<String>);

macro_rules! not_a_string_key {
    ($($f:ident: $t:ty),*) => {
        $(fn $f(self, _: $t) -> Result<(), WriteError> {
            Err(WriteError::Unsupported("key that is not a string"))
        })*
    };
}

impl ser::Serializer for &mut KeyText {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = Impossible<(), WriteError>;
    type SerializeTuple = Impossible<(), WriteError>;
    type SerializeTupleStruct = Impossible<(), WriteError>;
    type SerializeTupleVariant = Impossible<(), WriteError>;
    type SerializeMap = Impossible<(), WriteError>;
    type SerializeStruct = Impossible<(), WriteError>;
    type SerializeStructVariant = Impossible<(), WriteError>;

    fn serialize_str(self, v: &str) -> Result<(), WriteError> {
        self.0 = Some(v.to_string());
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        if name.starts_with("__yaml") {
            return Err(WriteError::Unsupported("serde-saphyr wrapper"));
        }
        value.serialize(self)
    }
    not_a_string_key!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16,
        serialize_i32: i32, serialize_i64: i64, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_f32: f32, serialize_f64: f64,
        serialize_char: char, serialize_bytes: &[u8]);
    fn serialize_none(self) -> Result<(), WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_unit(self) -> Result<(), WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), WriteError> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, WriteError> {
        Err(WriteError::Unsupported("key that is not a string"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        name: String,
        list: Vec<String>,
        empty_list: Vec<String>,
        empty_map: BTreeMap<String, String>,
        labels: BTreeMap<String, String>,
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Either {
        One(Inner),
    }

    #[derive(Serialize)]
    struct Doc {
        count: u32,
        flag: bool,
        none: Option<String>,
        items: Vec<Either>,
        nested: Vec<Vec<u8>>,
        inner: Inner,
    }

    fn inner() -> Inner {
        Inner {
            name: "a: b".into(),
            list: vec!["x".into(), "yes".into()],
            empty_list: vec![],
            empty_map: BTreeMap::new(),
            labels: [
                ("k/x".to_string(), "1".to_string()),
                ("on".into(), "-".into()),
            ]
            .into(),
        }
    }

    #[test]
    fn layout() {
        let doc = Doc {
            count: 3,
            flag: true,
            none: None,
            items: vec![Either::One(inner())],
            nested: vec![vec![1, 2], vec![]],
            inner: inner(),
        };
        let expected = "\
count: 3
flag: true
none: null
items:
- one:
    name: \"a: b\"
    list:
    - x
    - \"yes\"
    emptyList: []
    emptyMap: {}
    labels:
      k/x: \"1\"
      \"on\": '-'
nested:
- - 1
  - 2
- []
inner:
  name: \"a: b\"
  list:
  - x
  - \"yes\"
  emptyList: []
  emptyMap: {}
  labels:
    k/x: \"1\"
    \"on\": '-'
";
        assert_eq!(to_string(&doc).unwrap(), expected);
        assert_eq!(serde_saphyr::to_string(&doc).unwrap(), expected);
    }

    #[test]
    fn refuses_what_it_cannot_write_exactly() {
        assert_eq!(
            to_string(&vec!["a\nb"]),
            Err(WriteError::Unsupported("block scalar"))
        );
        assert_eq!(to_string(&1.5f64), Err(WriteError::Unsupported("float")));
        let long: BTreeMap<String, u8> = [("k".repeat(1025), 1)].into();
        assert!(to_string(&long).is_err());
        let numbers: BTreeMap<u8, u8> = [(1, 1)].into();
        assert!(to_string(&numbers).is_err());
    }
}
