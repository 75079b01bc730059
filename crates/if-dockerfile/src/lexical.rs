//! The lexical layer, as BuildKit's `parser.Parse`: physical lines (CRLF, BOM, the 64 KiB
//! limit), parser directives at the top, comments, continuation lines, heredoc bodies,
//! and one [`Node`] per logical instruction. It never stops at the first problem: each is
//! a diagnostic and parsing goes on.

use nom::Parser;
use nom::bytes::complete::take_while;
use nom::character::complete::{char as ch, satisfy};
use nom::combinator::recognize;
use nom::sequence::pair;

use crate::diag::{Diagnostic, DiagnosticKind, Layer};
use crate::heredoc::markers_in_line;
use crate::node::{Heredoc, Node, SegMap};
use crate::span::Span;
use crate::split::{LineCtx, new_node};
use crate::text::{go_lower, offset_in, trim_start_space};

/// Longest physical line BuildKit reads (bytes, line terminator excluded).
pub const MAX_LINE_BYTES: usize = 65_535;

/// A parser directive from the top of the file (`# syntax=`, `# escape=`, `# check=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The key, lowercased.
    pub name: String,
    /// The value as written (trimmed).
    pub value: String,
    /// The directive line.
    pub span: Span,
}

/// The parse tree: instructions, directives and what went wrong.
#[derive(Debug, Clone)]
pub struct Ast {
    /// Instructions in file order.
    pub nodes: Vec<Node>,
    /// Parser directives, in order.
    pub directives: Vec<Directive>,
    /// The escape token in force (`\` or `` ` ``).
    pub escape: char,
    /// Diagnostics of this layer (errors) and the empty-continuation lint.
    pub diagnostics: Vec<Diagnostic>,
}

impl Ast {
    /// The value of a directive, if given.
    pub fn directive(&self, name: &str) -> Option<&str> {
        self.directives
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.value.as_str())
    }

    /// Whether BuildKit's parser accepts the file (no error at this layer).
    pub fn parser_ok(&self) -> bool {
        !self
            .diagnostics
            .iter()
            .any(|d| d.is_error() && d.layer == Layer::Parser)
    }
}

#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    /// End of the content: line terminator and trailing `\r`s excluded.
    end: usize,
    /// Where the `\n` is (or the end of the text).
    raw_end: usize,
    number: usize,
}

type NomError<'a> = nom::error::Error<&'a str>;

fn go_regex_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{0c}' | '\r' | ' ')
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`: the key and the value.
fn directive_match(line: &str) -> Option<(&str, &str)> {
    let mut head = (
        ch::<&str, NomError<'_>>('#'),
        take_while(go_regex_space),
        recognize(pair(
            satisfy(|c: char| c.is_ascii_alphabetic()),
            take_while(|c: char| c.is_ascii_alphanumeric()),
        )),
        take_while(go_regex_space),
        ch('='),
    );
    let (after_eq, (_, _, key, _, _)) = head.parse(line).ok()?;
    let body = after_eq.trim_start_matches(go_regex_space);
    if !body.is_empty() {
        return Some((key, body.trim_end_matches(go_regex_space)));
    }
    // Only blanks after `=`: the lazy `.+?` still takes the last one.
    let last = after_eq.chars().last()?;
    let at = after_eq.len() - last.len_utf8();
    Some((key, after_eq.get(at..)?))
}

/// `([^E])E[ \t]*$|^E[ \t]*$` replaced by `$1`: the line without its continuation token,
/// and whether the instruction ends here.
fn trim_continuation(s: &str, esc: char) -> (&str, bool) {
    let b = s.as_bytes();
    let Ok(e) = u8::try_from(u32::from(esc)) else {
        return (s, true);
    };
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b' ' | b'\t') {
        end -= 1;
    }
    if end == 0 || b[end - 1] != e {
        return (s, true);
    }
    if end == 1 {
        return ("", false);
    }
    if b[end - 2] == e {
        return (s, true);
    }
    (s.get(..end - 1).unwrap_or(""), false)
}

/// Offset of the first `\n` of `b`, found eight bytes at a time with an exact zero-byte
/// test.
fn find_newline(b: &[u8]) -> Option<usize> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const NL: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let word: [u8; 8] = chunk.try_into().unwrap_or([0; 8]);
        let x = u64::from_le_bytes(word) ^ NL;
        let zeros = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
        if zeros != 0 {
            return Some(base + (zeros.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'\n')
        .map(|i| base + i)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    number: usize,
    escape: char,
    directives_done: bool,
    directives: Vec<Directive>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Lexer<'a> {
    fn next_line(&mut self) -> Option<Line> {
        if self.pos >= self.src.len() {
            return None;
        }
        let start = self.pos;
        let bytes = self.src.as_bytes();
        let (raw_end, next) = match bytes.get(start..).and_then(find_newline) {
            Some(i) => (start + i, start + i + 1),
            None => (self.src.len(), self.src.len()),
        };
        self.pos = next;
        self.number += 1;
        if raw_end - start > MAX_LINE_BYTES {
            self.diagnostics.push(Diagnostic::error(
                Layer::Parser,
                DiagnosticKind::LineTooLong,
                Span::new(start, raw_end),
            ));
        }
        let mut end = raw_end;
        while end > start && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        Some(Line {
            start,
            end,
            raw_end,
            number: self.number,
        })
    }

    fn text(&self, line: &Line) -> &'a str {
        self.src.get(line.start..line.end).unwrap_or("")
    }

    /// BuildKit's directive parser, fed every line until it gives up.
    fn directive(&mut self, line: &str) {
        if self.directives_done {
            return;
        }
        let Some((key, value)) = directive_match(line) else {
            self.directives_done = true;
            return;
        };
        let name = go_lower(key);
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            self.directives_done = true;
            return;
        }
        let at = offset_in(self.src, line);
        let span = Span::new(at, at + line.len());
        if self.directives.iter().any(|d| d.name == name) {
            self.diagnostics.push(Diagnostic::error(
                Layer::Parser,
                DiagnosticKind::DuplicateDirective(name),
                span,
            ));
            return;
        }
        if name == "escape" {
            match value {
                "`" => self.escape = '`',
                "\\" => self.escape = '\\',
                other => self.diagnostics.push(Diagnostic::error(
                    Layer::Parser,
                    DiagnosticKind::InvalidEscapeToken(other.to_string()),
                    span,
                )),
            }
        }
        self.directives.push(Directive {
            name,
            value: value.to_string(),
            span,
        });
    }
}

/// Parses the lexical layer of `src`.
pub fn parse(src: &str) -> Ast {
    let mut lx = Lexer {
        src,
        pos: 0,
        number: 0,
        escape: '\\',
        directives_done: false,
        directives: Vec::new(),
        diagnostics: Vec::new(),
    };
    // Real files hold about one instruction per 160 bytes.
    let mut nodes = Vec::with_capacity(src.len() / 160 + 4);
    let mut map = SegMap::default();
    while let Some(line) = lx.next_line() {
        let mut text = lx.text(&line);
        if line.number == 1 {
            text = text.strip_prefix('\u{feff}').unwrap_or(text);
        }
        let trimmed = trim_start_space(text);
        lx.directive(trimmed);
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let first = offset_in(src, trimmed);
        let (seg, mut eol) = trim_continuation(trimmed, lx.escape);
        // The node's line: the joined logical line (room for a few continuation lines).
        let mut joined = if eol {
            String::from(seg)
        } else {
            let mut buf = String::with_capacity(4 * seg.len() + 256);
            buf.push_str(seg);
            buf
        };
        map.clear();
        map.push(0, first);
        let mut end_line = line.number;
        let mut end_off = line.end;
        let mut empty_line: Option<Span> = None;
        while !eol {
            let Some(next) = lx.next_line() else { break };
            end_line = next.number;
            end_off = next.end;
            let t = lx.text(&next);
            lx.directive(t);
            let lead = trim_start_space(t);
            if lead.starts_with('#') {
                continue;
            }
            if lead.is_empty() {
                empty_line.get_or_insert(Span::new(next.start, next.raw_end));
                continue;
            }
            let (seg, e) = trim_continuation(t, lx.escape);
            eol = e;
            map.push(joined.len(), next.start);
            joined.push_str(seg);
        }
        if let Some(span) = empty_line {
            lx.diagnostics.push(Diagnostic::warning(
                Layer::Lint,
                DiagnosticKind::EmptyContinuation,
                span,
            ));
        }
        let ctx = LineCtx {
            map: &map,
            escape: lx.escape,
        };
        let joined_len = joined.len();
        let err = new_node(&ctx, joined, &mut nodes);
        let Some(node) = nodes.last_mut() else {
            continue;
        };
        let line_span = Span::new(first, end_off.max(first));
        if let Some(e) = err {
            lx.diagnostics
                .push(Diagnostic::error(Layer::Parser, e, line_span));
        }
        let markers = match node.line.get(..joined_len) {
            Some(joined) if node.can_contain_heredoc() && joined.contains("<<") => {
                Some(markers_in_line(joined))
            }
            _ => None,
        };
        if let Some(markers) = markers {
            match markers {
                Err(msg) => {
                    node.parse_failed = true;
                    lx.diagnostics.push(Diagnostic::error(
                        Layer::Parser,
                        DiagnosticKind::HeredocWord(msg),
                        line_span,
                    ));
                }
                Ok(markers) => {
                    for m in markers {
                        let mut body_start = None;
                        let mut body_end = lx.pos;
                        let mut terminated = false;
                        while let Some(l) = lx.next_line() {
                            end_line = l.number;
                            end_off = l.end;
                            let t = lx.text(&l);
                            let candidate = if m.chomp {
                                t.trim_start_matches('\t')
                            } else {
                                t
                            };
                            if candidate == m.name {
                                terminated = true;
                                body_end = body_end.max(l.start);
                                break;
                            }
                            body_start.get_or_insert(l.start);
                            body_end = l.raw_end;
                        }
                        let body_start = body_start.unwrap_or(body_end);
                        node.heredocs.push(Heredoc {
                            name: m.name,
                            chomp: m.chomp,
                            expand: m.expand,
                            body: Span::new(body_start, body_end.max(body_start)),
                        });
                        if !terminated {
                            node.parse_failed = true;
                            lx.diagnostics.push(Diagnostic::error(
                                Layer::Parser,
                                DiagnosticKind::UnterminatedHeredoc,
                                Span::new(first, src.len()),
                            ));
                            break;
                        }
                    }
                }
            }
        }
        node.span = Span::new(first, end_off.max(first));
        node.start_line = line.number;
        node.end_line = end_line;
    }
    if nodes.is_empty() {
        // BuildKit locates this error on the last line read.
        let body = src.strip_suffix('\n').unwrap_or(src);
        let last_line = body.rfind('\n').map_or(0, |i| i + 1);
        lx.diagnostics.push(Diagnostic::error(
            Layer::Parser,
            DiagnosticKind::NoInstructions,
            Span::at(last_line),
        ));
    }
    Ast {
        nodes,
        directives: lx.directives,
        escape: lx.escape,
        diagnostics: lx.diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_and_continuations() {
        assert_eq!(
            directive_match("# syntax = a/b:1 "),
            Some(("syntax", "a/b:1"))
        );
        assert_eq!(directive_match("#escape= "), Some(("escape", " ")));
        assert_eq!(directive_match("# escape="), None);
        assert_eq!(trim_continuation("RUN a \\  ", '\\'), ("RUN a ", false));
        assert_eq!(trim_continuation("C:\\\\", '\\'), ("C:\\\\", true));
        assert_eq!(trim_continuation("\\", '\\'), ("", false));
        assert_eq!(trim_continuation("a `", '`'), ("a ", false));
    }

    #[test]
    fn finds_newlines() {
        for text in [
            "",
            "\n",
            "abc",
            "abcdefgh\n",
            "abcdefghi\nx\n",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{8a}\n",
        ] {
            assert_eq!(find_newline(text.as_bytes()), text.find('\n'), "{text:?}");
        }
    }

    #[test]
    fn parses_lines() {
        let ast = parse(
            "\u{feff}# escape=`\r\nFROM a `\r\n  # c\r\n\r\n  AS b\r\nRUN <<EOF\r\nFROM x\r\nEOF\r\n",
        );
        assert_eq!(ast.escape, '`');
        assert_eq!(ast.nodes.len(), 2);
        assert_eq!(ast.nodes[0].arg_texts(), vec!["a", "AS", "b"]);
        assert_eq!((ast.nodes[0].start_line, ast.nodes[0].end_line), (2, 5));
        assert_eq!(ast.nodes[1].heredocs.len(), 1);
        assert!(ast.parser_ok());
        assert!(!parse("# only\n\n").parser_ok());
        assert!(!parse("RUN <<EOF\nx\n").parser_ok());
    }
}
