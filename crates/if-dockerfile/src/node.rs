//! One instruction as BuildKit's line parser builds it from a joined logical line: the
//! command word, the leading `--flags`, the arguments, heredocs and ONBUILD trigger. Every
//! text of a node is a [`TextRange`] of the node's own [`Node::line`], so that splitting a
//! line allocates nothing per word.

use crate::keyword::Keyword;
use crate::span::Span;

/// A byte range of a node's [`Node::line`]; read it with [`Node::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TextRange {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl TextRange {
    /// The range of `len` bytes from `start`.
    pub(crate) fn at(start: usize, len: usize) -> Self {
        TextRange {
            start,
            end: start + len,
        }
    }
}

/// A `--flag` word, quotes removed (`--platform="a"` is `--platform=a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The word, starting with `--`.
    pub text: TextRange,
    /// Where it was written.
    pub span: Span,
}

/// One argument of an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arg {
    /// The text (JSON strings decoded; quotes kept elsewhere, as BuildKit keeps them).
    pub text: TextRange,
    /// Where it was written (the whole argument list when it cannot be narrowed).
    pub span: Span,
}

/// A heredoc attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The terminator word, quotes removed.
    pub name: String,
    /// `<<-`: leading tabs are stripped (from the terminator line when reading).
    pub chomp: bool,
    /// Whether the body is expanded at build time (no part of the word was quoted).
    pub expand: bool,
    /// The body lines, without the terminator line.
    pub body: Span,
}

/// One instruction of the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// The logical line (continuations joined), followed by the decoded texts that are not
    /// slices of it (unquoted flags, JSON strings with escapes). Every [`TextRange`] of the
    /// node is a range of it.
    pub line: String,
    /// The command word as written (`FROM`, `from`, `Run`...).
    pub command: TextRange,
    /// The instruction the command word names.
    pub keyword: Keyword,
    /// Leading flags.
    pub flags: Vec<Flag>,
    /// Arguments.
    pub args: Vec<Arg>,
    /// Whether the arguments were written as a JSON array.
    pub json: bool,
    /// Heredocs read after the line, in order.
    pub heredocs: Vec<Heredoc>,
    /// The instruction that an ONBUILD carries.
    pub trigger: Option<Box<Node>>,
    /// The whole instruction in the source, heredoc bodies included.
    pub span: Span,
    /// Span of the command word.
    pub command_span: Span,
    /// First line (1-based).
    pub start_line: usize,
    /// Last line (1-based).
    pub end_line: usize,
    /// Whether the line parser rejected this instruction (the reason is a diagnostic).
    pub parse_failed: bool,
}

/// Maps offsets of the joined logical line back to the source.
#[derive(Debug, Clone, Default)]
pub(crate) struct SegMap {
    /// `(offset in the joined line, offset in the source)`, in increasing order.
    segs: Vec<(usize, usize)>,
}

impl SegMap {
    pub(crate) fn clear(&mut self) {
        self.segs.clear();
    }

    pub(crate) fn push(&mut self, joined: usize, src: usize) {
        self.segs.push((joined, src));
    }

    /// The source offset of joined offset `j`.
    pub(crate) fn map(&self, j: usize) -> usize {
        if let [(jo, so)] = self.segs[..] {
            // One segment (a one-line instruction): no search.
            return if j >= jo { so + (j - jo) } else { so };
        }
        let idx = self.segs.partition_point(|&(jo, _)| jo <= j);
        match idx.checked_sub(1).and_then(|i| self.segs.get(i)) {
            Some(&(jo, so)) => so + (j - jo),
            None => self.segs.first().map_or(0, |&(_, so)| so),
        }
    }

    /// The source span of the joined range `a..b`.
    pub(crate) fn span(&self, a: usize, b: usize) -> Span {
        if b <= a {
            return Span::at(self.map(a));
        }
        let start = self.map(a);
        // Map the last byte, then step past it, so that a range ending at a segment end
        // does not jump to the next segment's start.
        let end = self.map(b - 1) + 1;
        Span::new(start, end.max(start))
    }
}

/// Splits a `--name=value` flag word into its name and its value, if any.
fn flag_parts(word: &str) -> (&str, Option<&str>) {
    let body = word.get(2..).unwrap_or("");
    match body.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (body, None),
    }
}

impl Node {
    /// The text of a range of this node (`""` when it does not fit).
    pub fn text(&self, range: TextRange) -> &str {
        self.line.get(range.start..range.end).unwrap_or("")
    }

    /// The command word as written.
    pub fn command(&self) -> &str {
        self.text(self.command)
    }

    /// The text of argument `i`.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(|a| self.text(a.text))
    }

    /// The flag words, with their spans.
    pub fn flag_words(&self) -> impl Iterator<Item = (&str, Span)> + '_ {
        self.flags.iter().map(|f| (self.text(f.text), f.span))
    }

    /// The name of a flag of this node: between `--` and `=` (or the end).
    pub fn flag_name(&self, flag: &Flag) -> &str {
        flag_parts(self.text(flag.text)).0
    }

    /// The value of a flag of this node: after the first `=`, if any.
    pub fn flag_value(&self, flag: &Flag) -> Option<&str> {
        flag_parts(self.text(flag.text)).1
    }

    /// Whether heredocs may follow this line (RUN, COPY, ADD, or ONBUILD of one, not JSON).
    pub(crate) fn can_contain_heredoc(&self) -> bool {
        let node = match (self.keyword, &self.trigger) {
            (Keyword::Onbuild, Some(t)) => t,
            _ => self,
        };
        matches!(node.keyword, Keyword::Add | Keyword::Copy | Keyword::Run) && !node.json
    }

    /// The arguments as BuildKit's `nodeArgs` lists them (an ONBUILD lists its trigger).
    pub fn arg_texts(&self) -> Vec<&str> {
        match &self.trigger {
            Some(t) => {
                let mut v = vec![t.command()];
                v.extend(t.arg_texts());
                v
            }
            None => self.args.iter().map(|a| self.text(a.text)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_map_back() {
        let mut map = SegMap::default();
        map.push(0, 10);
        assert_eq!(map.span(0, 3), Span::new(10, 13));
        map.push(3, 20);
        assert_eq!(map.span(1, 5), Span::new(11, 22));
        assert_eq!(map.span(0, 3), Span::new(10, 13));
        assert_eq!(map.map(4), 21);
        assert_eq!(flag_parts("--a=b=c"), ("a", Some("b=c")));
        assert_eq!(flag_parts("--link"), ("link", None));
    }
}
