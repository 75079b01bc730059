//! One instruction as BuildKit's line parser builds it from a joined logical line: the
//! command word, the leading `--flags`, and the arguments split the way each instruction
//! splits them (whitespace, quote-aware words, JSON arrays, key=value pairs).

use crate::diag::DiagnosticKind;
use crate::json::{JsonArray, classify};
use crate::span::Span;
use crate::text::{
    go_lower, is_space, is_space_byte, offset_in, split_sep, split_sep_once, trim_space,
};

/// A `--flag` word, quotes removed (`--platform="a"` is `--platform=a`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The word, starting with `--`.
    pub text: String,
    /// Where it was written.
    pub span: Span,
}

impl Flag {
    /// The name between `--` and `=` (or the end).
    pub fn name(&self) -> &str {
        let body = self.text.get(2..).unwrap_or("");
        body.split_once('=').map_or(body, |(n, _)| n)
    }

    /// The value after the first `=`, if any.
    pub fn value(&self) -> Option<&str> {
        self.text
            .get(2..)
            .and_then(|b| b.split_once('='))
            .map(|(_, v)| v)
    }
}

/// One argument of an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The text (JSON strings decoded; quotes kept elsewhere, as BuildKit keeps them).
    pub text: String,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The command word as written (`FROM`, `from`, `Run`...).
    pub command: String,
    /// The command word lowercased.
    pub keyword: String,
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

/// Context for building nodes out of one joined line.
pub(crate) struct LineCtx<'a> {
    pub joined: &'a str,
    pub map: &'a SegMap,
    pub escape: char,
}

impl LineCtx<'_> {
    fn span_of(&self, sub: &str) -> Span {
        let a = offset_in(self.joined, sub);
        self.map.span(a, a + sub.len())
    }
}

/// Result of BuildKit's `extractBuilderFlags`: the flags and the rest of the line.
fn extract_flags<'a>(ctx: &LineCtx<'_>, line: &'a str) -> (Vec<Flag>, &'a str) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let bytes = line.as_bytes();
    let esc = ctx.escape as u32;
    let base = offset_in(ctx.joined, line);
    let mut flags = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut word_start = 0;
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0;
    let rest_at = |pos: usize| -> &'a str {
        let mut p = pos.min(line.len());
        while !line.is_char_boundary(p) {
            p += 1;
        }
        line.get(p..).unwrap_or("")
    };
    loop {
        let ch = bytes.get(pos).copied();
        if phase == Phase::Spaces {
            let Some(c) = ch else { break };
            if is_space_byte(c) {
                pos += 1;
                continue;
            }
            if c != b'-' || bytes.get(pos + 1) != Some(&b'-') {
                return (flags, rest_at(pos));
            }
            phase = Phase::Word;
            word_start = pos;
        }
        let Some(c) = ch else {
            if word != "--" && (blank_ok || !word.is_empty()) {
                let span = ctx.map.span(base + word_start, base + pos);
                flags.push(Flag {
                    text: std::mem::take(&mut word),
                    span,
                });
            }
            break;
        };
        if phase == Phase::Word {
            if is_space_byte(c) {
                phase = Phase::Spaces;
                if word == "--" {
                    return (flags, rest_at(pos));
                }
                if blank_ok || !word.is_empty() {
                    let span = ctx.map.span(base + word_start, base + pos);
                    flags.push(Flag {
                        text: std::mem::take(&mut word),
                        span,
                    });
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if c == b'\'' || c == b'"' {
                quote = c;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            let mut c = c;
            if u32::from(c) == esc {
                if pos + 1 == bytes.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                c = bytes.get(pos).copied().unwrap_or(c);
            }
            word.push(char::from(c));
            pos += 1;
            continue;
        }
        // Quote phase.
        if c == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        let mut c = c;
        if u32::from(c) == esc {
            if pos + 1 == bytes.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            c = bytes.get(pos).copied().unwrap_or(c);
        }
        word.push(char::from(c));
        pos += 1;
    }
    (flags, "")
}

/// BuildKit's `parseWords`: words split on spaces, quotes and escapes kept.
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut it = rest.chars().peekable();
    loop {
        let ch = it.next();
        if phase == Phase::Spaces {
            let Some(c) = ch else { break };
            if is_space(c) {
                continue;
            }
            phase = Phase::Word;
        }
        let Some(c) = ch else {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            break;
        };
        if phase == Phase::Word {
            if is_space(c) {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                continue;
            }
            if c == '\'' || c == '"' {
                quote = c;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if c == escape {
                match it.next() {
                    None => continue,
                    Some(n) => {
                        word.push(c);
                        word.push(n);
                        continue;
                    }
                }
            }
            word.push(c);
            continue;
        }
        // Quote phase.
        if c == quote {
            phase = Phase::Word;
        }
        if c == escape && quote != '\'' {
            match it.next() {
                None => {
                    phase = Phase::Word;
                    continue;
                }
                Some(n) => {
                    word.push(c);
                    word.push(n);
                    continue;
                }
            }
        }
        word.push(c);
    }
    words
}

struct Parsed {
    args: Vec<Arg>,
    json: bool,
    trigger: Option<Box<Node>>,
}

impl Parsed {
    fn plain(args: Vec<Arg>) -> Self {
        Parsed {
            args,
            json: false,
            trigger: None,
        }
    }
}

fn whitespace_list(ctx: &LineCtx<'_>, rest: &str) -> Vec<Arg> {
    if rest.is_empty() {
        return Vec::new();
    }
    split_sep(rest)
        .into_iter()
        .map(|w| Arg {
            text: w.to_string(),
            span: ctx.span_of(w),
        })
        .collect()
}

fn maybe_json(ctx: &LineCtx<'_>, rest: &str) -> Result<Parsed, DiagnosticKind> {
    if rest.is_empty() {
        return Ok(Parsed::plain(Vec::new()));
    }
    let span = ctx.span_of(rest);
    if rest.starts_with('[') {
        match classify(rest) {
            JsonArray::Strings(v) => {
                let args = v.into_iter().map(|text| Arg { text, span }).collect();
                return Ok(Parsed {
                    args,
                    json: true,
                    trigger: None,
                });
            }
            JsonArray::NotStrings => return Err(DiagnosticKind::JsonNotStringArray),
            JsonArray::Invalid => {}
        }
    }
    Ok(Parsed::plain(vec![Arg {
        text: rest.to_string(),
        span,
    }]))
}

fn maybe_json_list(ctx: &LineCtx<'_>, rest: &str) -> Result<Parsed, DiagnosticKind> {
    if rest.starts_with('[') {
        let span = ctx.span_of(rest);
        match classify(rest) {
            JsonArray::Strings(v) => {
                let args = v.into_iter().map(|text| Arg { text, span }).collect();
                return Ok(Parsed {
                    args,
                    json: true,
                    trigger: None,
                });
            }
            JsonArray::NotStrings => return Err(DiagnosticKind::JsonNotStringArray),
            JsonArray::Invalid => {}
        }
    }
    Ok(Parsed::plain(whitespace_list(ctx, rest)))
}

fn name_val(ctx: &LineCtx<'_>, rest: &str, key: &str) -> Result<Parsed, DiagnosticKind> {
    let words = parse_words(rest, ctx.escape);
    let Some(first) = words.first() else {
        return Ok(Parsed::plain(Vec::new()));
    };
    let span = ctx.span_of(rest);
    if !first.contains('=') {
        let (name, value) = split_sep_once(rest);
        let Some(value) = value else {
            return Err(DiagnosticKind::KeyValueTwoArguments(key.to_string()));
        };
        let args = vec![
            Arg {
                text: name.to_string(),
                span,
            },
            Arg {
                text: value.to_string(),
                span,
            },
        ];
        return Ok(Parsed::plain(args));
    }
    let mut args = Vec::with_capacity(words.len() * 2);
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(DiagnosticKind::KeyValueMissingEquals(w.clone()));
        };
        args.push(Arg {
            text: k.to_string(),
            span,
        });
        args.push(Arg {
            text: v.to_string(),
            span,
        });
    }
    Ok(Parsed::plain(args))
}

fn health_config(ctx: &LineCtx<'_>, rest: &str) -> Result<Parsed, DiagnosticKind> {
    let bytes = rest.as_bytes();
    let sep = bytes
        .iter()
        .position(|&b| is_space_byte(b))
        .unwrap_or(bytes.len());
    let next = bytes
        .get(sep..)
        .and_then(|tail| tail.iter().position(|&b| !is_space_byte(b)))
        .map_or(bytes.len(), |i| sep + i);
    if sep == 0 {
        return Ok(Parsed::plain(Vec::new()));
    }
    let typ = String::from_utf8_lossy(bytes.get(..sep).unwrap_or(&[])).into_owned();
    let mut p = next;
    while p < rest.len() && !rest.is_char_boundary(p) {
        p += 1;
    }
    let tail = rest.get(p..).unwrap_or("");
    let mut parsed = maybe_json(ctx, tail)?;
    let typ_arg = Arg {
        text: typ,
        span: ctx.span_of(rest),
    };
    parsed.args.insert(0, typ_arg);
    Ok(parsed)
}

/// BuildKit's `newNodeFromLine` for `line`, a sub-slice of `ctx.joined`.
pub(crate) fn new_node(ctx: &LineCtx<'_>, line: &str) -> (Node, Option<DiagnosticKind>) {
    let t = trim_space(line);
    let (cmd, rest) = split_sep_once(t);
    let (flags, args_str) = match rest {
        Some(r) => extract_flags(ctx, r),
        None => (Vec::new(), ""),
    };
    let args_str = trim_space(args_str);
    let keyword = go_lower(cmd);
    let parsed = match keyword.as_str() {
        "add" | "copy" | "volume" => maybe_json_list(ctx, args_str),
        "arg" => Ok(Parsed::plain({
            let span = ctx.span_of(args_str);
            parse_words(args_str, ctx.escape)
                .into_iter()
                .map(|text| Arg { text, span })
                .collect()
        })),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(ctx, args_str),
        "env" => name_val(ctx, args_str, "ENV"),
        "label" => name_val(ctx, args_str, "LABEL"),
        "expose" | "from" => Ok(Parsed::plain(whitespace_list(ctx, args_str))),
        "healthcheck" => health_config(ctx, args_str),
        "maintainer" | "stopsignal" | "user" | "workdir" => {
            Ok(Parsed::plain(if args_str.is_empty() {
                Vec::new()
            } else {
                vec![Arg {
                    text: args_str.to_string(),
                    span: ctx.span_of(args_str),
                }]
            }))
        }
        "onbuild" => {
            if args_str.is_empty() {
                Ok(Parsed::plain(Vec::new()))
            } else {
                let (child, err) = new_node(ctx, args_str);
                match err {
                    Some(e) => Err(e),
                    None => Ok(Parsed {
                        args: Vec::new(),
                        json: false,
                        trigger: Some(Box::new(child)),
                    }),
                }
            }
        }
        _ => Ok(Parsed::plain(Vec::new())),
    };
    let (parsed, err) = match parsed {
        Ok(p) => (p, None),
        Err(e) => (Parsed::plain(Vec::new()), Some(e)),
    };
    let node = Node {
        command: cmd.to_string(),
        keyword,
        flags,
        args: parsed.args,
        json: parsed.json,
        heredocs: Vec::new(),
        trigger: parsed.trigger,
        span: ctx.span_of(t),
        command_span: ctx.span_of(cmd),
        start_line: 0,
        end_line: 0,
        parse_failed: err.is_some(),
    };
    (node, err)
}

impl Node {
    /// Whether heredocs may follow this line (RUN, COPY, ADD, or ONBUILD of one, not JSON).
    pub(crate) fn can_contain_heredoc(&self) -> bool {
        let node = match (&self.keyword[..], &self.trigger) {
            ("onbuild", Some(t)) => t,
            _ => self,
        };
        matches!(node.keyword.as_str(), "add" | "copy" | "run") && !node.json
    }

    /// The arguments as BuildKit's `nodeArgs` lists them (an ONBUILD lists its trigger).
    pub fn arg_texts(&self) -> Vec<&str> {
        match &self.trigger {
            Some(t) => {
                let mut v = vec![t.command.as_str()];
                v.extend(t.arg_texts());
                v
            }
            None => self.args.iter().map(|a| a.text.as_str()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(line: &str) -> (Node, Option<DiagnosticKind>) {
        let mut map = SegMap::default();
        map.push(0, 0);
        let ctx = LineCtx {
            joined: line,
            map: &map,
            escape: '\\',
        };
        new_node(&ctx, line)
    }

    #[test]
    fn splits_flags_and_args() {
        let (n, e) = node("FROM --platform=\"linux/amd64\" img AS b");
        assert!(e.is_none());
        assert_eq!(n.flags[0].text, "--platform=linux/amd64");
        assert_eq!(n.flags[0].span, Span::new(5, 29));
        assert_eq!(n.arg_texts(), vec!["img", "AS", "b"]);
        assert_eq!(n.args[0].span, Span::new(30, 33));
        let (n, _) = node("COPY -- --from=x a b");
        assert!(n.flags.is_empty());
        assert_eq!(n.arg_texts(), vec!["--from=x", "a", "b"]);
        let (n, _) = node("RUN [\"a\", \"b\"]");
        assert!(n.json);
        let (_, e) = node("RUN [\"a\", 1]");
        assert_eq!(e, Some(DiagnosticKind::JsonNotStringArray));
        let (_, e) = node("ENV A");
        assert_eq!(e, Some(DiagnosticKind::KeyValueTwoArguments("ENV".into())));
        let (n, _) = node("ONBUILD COPY --from=a x y");
        let t = n.trigger.as_ref().expect("trigger");
        assert_eq!(t.flags[0].text, "--from=a");
        assert!(n.can_contain_heredoc());
    }

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words(r#"A=1 B C="x y""#, '\\'),
            vec!["A=1", "B", r#"C="x y""#]
        );
        assert_eq!(parse_words(r"a\ b", '\\'), vec![r"a\ b"]);
    }
}
