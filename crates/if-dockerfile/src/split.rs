//! BuildKit's `newNodeFromLine`: a joined logical line split into the command word, the
//! leading `--flags` and the arguments, the way each instruction splits them (whitespace,
//! quote-aware words, JSON arrays, key=value pairs). Words are recorded as ranges of the
//! line; only texts that are not slices of it (unquoted flags, decoded JSON strings) are
//! copied, after the line.

use crate::diag::DiagnosticKind;
use crate::json::{JsonArray, JsonStr, classify};
use crate::keyword::Keyword;
use crate::node::{Arg, Flag, Node, SegMap, TextRange};
use crate::span::Span;
use crate::text::{is_space, is_space_byte, offset_in, split_sep, split_sep_once, trim_space};

/// Context for building nodes out of one joined line.
pub(crate) struct LineCtx<'a> {
    /// Maps offsets of the joined line back to the source.
    pub map: &'a SegMap,
    /// The escape token in force.
    pub escape: char,
}

/// BuildKit's `parseWords` as an iterator: words split on spaces, quotes and escapes kept.
/// Each word is a slice of the input (only an escape token ending the input is dropped).
pub(crate) struct Words<'a> {
    rest: &'a str,
    escape: char,
}

impl<'a> Words<'a> {
    pub(crate) fn new(s: &'a str, escape: char) -> Self {
        Words { rest: s, escape }
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest;
        let mut it = rest.char_indices();
        let (start, mut c) = it.find(|&(_, c)| !is_space(c))?;
        let mut i = start;
        // `None` outside quotes, else the open quote. An escape token takes the next
        // character with it; at the very end of the input it is dropped.
        let mut quote: Option<char> = None;
        let end = loop {
            match quote {
                None if is_space(c) => {
                    self.rest = rest.get(i..).unwrap_or("");
                    return rest.get(start..i);
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                None => {
                    if c == self.escape && it.next().is_none() {
                        break i;
                    }
                }
                Some(q) => {
                    if c == self.escape && q != '\'' && it.next().is_none() {
                        break i;
                    }
                }
            }
            match it.next() {
                Some((j, d)) => (i, c) = (j, d),
                None => break rest.len(),
            }
        };
        self.rest = "";
        rest.get(start..end).filter(|w| !w.is_empty())
    }
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

/// The splitting of one line (`joined`, the start of the node's line).
struct Split<'a> {
    joined: &'a str,
    map: &'a SegMap,
    escape: char,
    /// Offset of `joined` in the joined line `map` maps (not 0 for an ONBUILD trigger).
    base: usize,
    /// Texts that are not slices of `joined`; they follow it in the node's line.
    extra: String,
    /// Whether this line is the trigger of an ONBUILD.
    nested: bool,
}

impl Split<'_> {
    /// The range of `sub`, a sub-slice of `joined`.
    fn range(&self, sub: &str) -> TextRange {
        TextRange::at(offset_in(self.joined, sub), sub.len())
    }

    /// A text that is no slice of `joined`, stored after it.
    fn owned(&mut self, text: &str) -> TextRange {
        let r = TextRange::at(self.joined.len() + self.extra.len(), text.len());
        self.extra.push_str(text);
        r
    }

    /// The source span of `joined[a..b]`.
    fn span_at(&self, a: usize, b: usize) -> Span {
        self.map.span(self.base + a, self.base + b)
    }

    /// The source span of `sub`, a sub-slice of `joined`.
    fn span_of(&self, sub: &str) -> Span {
        let a = offset_in(self.joined, sub);
        self.span_at(a, a + sub.len())
    }

    /// The flag word at `joined[a..b]`: that slice itself, or `unquoted` when given.
    fn flag(&mut self, unquoted: Option<&str>, a: usize, b: usize) -> Flag {
        let text = match unquoted {
            Some(word) => self.owned(word),
            None => TextRange::at(a, b - a),
        };
        Flag {
            text,
            span: self.span_at(a, b),
        }
    }

    /// BuildKit's `extractBuilderFlags`: the flags and the rest of the line.
    #[inline]
    fn extract_flags<'l>(&mut self, line: &'l str) -> (Vec<Flag>, &'l str) {
        #[derive(PartialEq)]
        enum Phase {
            Spaces,
            Word,
            Quote,
        }
        let bytes = line.as_bytes();
        let esc = self.escape as u32;
        let base = offset_in(self.joined, line);
        let mut flags = Vec::new();
        let mut phase = Phase::Spaces;
        // The word read so far is `line[word_start..pos]` while `simple` (no quote, escape
        // or non-ASCII byte yet: every byte stands for itself), and `word` afterwards.
        let mut simple = true;
        let mut word = String::new();
        let mut word_start = 0;
        let mut quote = 0u8;
        let mut blank_ok = false;
        let mut pos = 0;
        let rest_at = |pos: usize| -> &'l str {
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
                simple = true;
                word.clear();
            }
            // The word read so far.
            let current = if simple {
                line.get(word_start..pos).unwrap_or("")
            } else {
                word.as_str()
            };
            let Some(c) = ch else {
                if current != "--" && (blank_ok || !current.is_empty()) {
                    let flag =
                        self.flag((!simple).then_some(current), base + word_start, base + pos);
                    flags.push(flag);
                }
                break;
            };
            if phase == Phase::Word {
                if is_space_byte(c) {
                    phase = Phase::Spaces;
                    if current == "--" {
                        return (flags, rest_at(pos));
                    }
                    if blank_ok || !current.is_empty() {
                        let flag =
                            self.flag((!simple).then_some(current), base + word_start, base + pos);
                        flags.push(flag);
                    }
                    blank_ok = false;
                    pos += 1;
                    continue;
                }
                let plain = c.is_ascii() && c != b'\'' && c != b'"' && u32::from(c) != esc;
                if simple && !plain {
                    simple = false;
                    word.push_str(line.get(word_start..pos).unwrap_or(""));
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
                if !simple {
                    word.push(char::from(c));
                }
                pos += 1;
                continue;
            }
            // Quote phase (never simple).
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

    fn whitespace_list(&self, rest: &str) -> Vec<Arg> {
        if rest.is_empty() {
            return Vec::new();
        }
        split_sep(rest)
            .map(|w| Arg {
                text: self.range(w),
                span: self.span_of(w),
            })
            .collect()
    }

    /// The arguments of a JSON array of strings, or `None` when `rest` is not JSON.
    fn json_args(&mut self, rest: &str) -> Option<Result<Parsed, DiagnosticKind>> {
        let span = self.span_of(rest);
        let mark = self.extra.len();
        let (joined, extra) = (self.joined, &mut self.extra);
        let mut args = Vec::new();
        let kind = classify(rest, |s| {
            let text = match s {
                JsonStr::Raw(t) => TextRange::at(offset_in(joined, t), t.len()),
                JsonStr::Decoded(t) => {
                    let r = TextRange::at(joined.len() + extra.len(), t.len());
                    extra.push_str(t);
                    r
                }
            };
            args.push(Arg { text, span });
        });
        match kind {
            JsonArray::Strings => Some(Ok(Parsed {
                args,
                json: true,
                trigger: None,
            })),
            JsonArray::NotStrings => {
                self.extra.truncate(mark);
                Some(Err(DiagnosticKind::JsonNotStringArray))
            }
            JsonArray::Invalid => {
                self.extra.truncate(mark);
                None
            }
        }
    }

    fn maybe_json(&mut self, rest: &str) -> Result<Parsed, DiagnosticKind> {
        if rest.is_empty() {
            return Ok(Parsed::plain(Vec::new()));
        }
        if rest.starts_with('[')
            && let Some(parsed) = self.json_args(rest)
        {
            return parsed;
        }
        Ok(Parsed::plain(vec![Arg {
            text: self.range(rest),
            span: self.span_of(rest),
        }]))
    }

    fn maybe_json_list(&mut self, rest: &str) -> Result<Parsed, DiagnosticKind> {
        if rest.starts_with('[')
            && let Some(parsed) = self.json_args(rest)
        {
            return parsed;
        }
        Ok(Parsed::plain(self.whitespace_list(rest)))
    }

    fn name_val(&self, rest: &str, key: &str) -> Result<Parsed, DiagnosticKind> {
        let Some(first) = Words::new(rest, self.escape).next() else {
            return Ok(Parsed::plain(Vec::new()));
        };
        let span = self.span_of(rest);
        if !first.contains('=') {
            let (name, value) = split_sep_once(rest);
            let Some(value) = value else {
                return Err(DiagnosticKind::KeyValueTwoArguments(key.to_string()));
            };
            let args = vec![
                Arg {
                    text: self.range(name),
                    span,
                },
                Arg {
                    text: self.range(value),
                    span,
                },
            ];
            return Ok(Parsed::plain(args));
        }
        let mut args = Vec::with_capacity(4);
        for w in Words::new(rest, self.escape) {
            let Some((k, v)) = w.split_once('=') else {
                return Err(DiagnosticKind::KeyValueMissingEquals(w.to_string()));
            };
            args.push(Arg {
                text: self.range(k),
                span,
            });
            args.push(Arg {
                text: self.range(v),
                span,
            });
        }
        Ok(Parsed::plain(args))
    }

    fn health_config(&mut self, rest: &str) -> Result<Parsed, DiagnosticKind> {
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
        // The separator bytes 0x85 and 0xA0 may cut a character: Go then keeps the bytes,
        // which read as U+FFFD.
        let typ = match rest.get(..sep) {
            Some(t) => self.range(t),
            None => {
                let lossy = String::from_utf8_lossy(bytes.get(..sep).unwrap_or(&[]));
                self.owned(&lossy)
            }
        };
        let mut p = next;
        while p < rest.len() && !rest.is_char_boundary(p) {
            p += 1;
        }
        let tail = rest.get(p..).unwrap_or("");
        let mut parsed = self.maybe_json(tail)?;
        let typ_arg = Arg {
            text: typ,
            span: self.span_of(rest),
        };
        parsed.args.insert(0, typ_arg);
        Ok(parsed)
    }

    /// The first instruction of `args` that is not an ONBUILD (their flags skipped as
    /// BuildKit's parser skips them), or `None` when the chain ends with a bare ONBUILD.
    #[cold]
    fn skip_onbuild_chain<'l>(&mut self, args: &'l str) -> Option<&'l str> {
        let mut rest = trim_space(args);
        while !rest.is_empty() {
            let (cmd, after) = split_sep_once(rest);
            if Keyword::of_command(cmd) != Keyword::Onbuild {
                return Some(rest);
            }
            let (_, inner) = self.extract_flags(after?);
            rest = trim_space(inner);
        }
        None
    }

    /// Splits `joined` into the fields of `node` (all but its line and its position).
    fn fill(&mut self, ctx: &LineCtx<'_>, node: &mut Node) -> Option<DiagnosticKind> {
        let t = trim_space(self.joined);
        let (cmd, rest) = split_sep_once(t);
        let (flags, args_str) = match rest {
            Some(r) => self.extract_flags(r),
            None => (Vec::new(), ""),
        };
        let args_str = trim_space(args_str);
        let keyword = Keyword::of_command(cmd);
        let parsed = match keyword {
            Keyword::Add | Keyword::Copy | Keyword::Volume => self.maybe_json_list(args_str),
            Keyword::Arg => Ok(Parsed::plain({
                let span = self.span_of(args_str);
                Words::new(args_str, self.escape)
                    .map(|w| Arg {
                        text: self.range(w),
                        span,
                    })
                    .collect()
            })),
            Keyword::Cmd | Keyword::Entrypoint | Keyword::Run | Keyword::Shell => {
                self.maybe_json(args_str)
            }
            Keyword::Env => self.name_val(args_str, "ENV"),
            Keyword::Label => self.name_val(args_str, "LABEL"),
            Keyword::Expose | Keyword::From => Ok(Parsed::plain(self.whitespace_list(args_str))),
            Keyword::Healthcheck => self.health_config(args_str),
            Keyword::Maintainer | Keyword::Stopsignal | Keyword::User | Keyword::Workdir => {
                Ok(Parsed::plain(if args_str.is_empty() {
                    Vec::new()
                } else {
                    vec![Arg {
                        text: self.range(args_str),
                        span: self.span_of(args_str),
                    }]
                }))
            }
            Keyword::Onbuild => {
                // The trigger of a trigger can only be refused (`ONBUILD ONBUILD`): a chain
                // of them is skipped without recursion, so that it costs time and memory
                // linear in its length; the instruction at its end is still parsed for the
                // errors of the line parser.
                let trigger = if self.nested {
                    self.skip_onbuild_chain(args_str)
                } else {
                    Some(args_str).filter(|a| !a.is_empty())
                };
                if let Some(trigger) = trigger {
                    let base = self.base + offset_in(self.joined, trigger);
                    let mut child = Box::<Node>::default();
                    match node_at(ctx, trigger.to_string(), base, &mut child, true) {
                        Some(e) => Err(e),
                        None => Ok(Parsed {
                            args: Vec::new(),
                            json: false,
                            trigger: Some(child),
                        }),
                    }
                } else {
                    Ok(Parsed::plain(Vec::new()))
                }
            }
            Keyword::Unknown => Ok(Parsed::plain(Vec::new())),
        };
        let (parsed, err) = match parsed {
            Ok(p) => (p, None),
            Err(e) => (Parsed::plain(Vec::new()), Some(e)),
        };
        node.command = self.range(cmd);
        node.keyword = keyword;
        node.flags = flags;
        node.args = parsed.args;
        node.json = parsed.json;
        node.trigger = parsed.trigger;
        node.span = self.span_of(t);
        node.command_span = self.span_of(cmd);
        node.parse_failed = err.is_some();
        err
    }
}

/// Fills `node` (a default one) from `line`, the joined line starting at offset `base` of
/// the line `ctx.map` maps (`nested` for the trigger of an ONBUILD); the error of the line
/// parser, if any.
fn node_at(
    ctx: &LineCtx<'_>,
    mut line: String,
    base: usize,
    node: &mut Node,
    nested: bool,
) -> Option<DiagnosticKind> {
    let mut split = Split {
        joined: &line,
        map: ctx.map,
        escape: ctx.escape,
        base,
        extra: String::new(),
        nested,
    };
    let err = split.fill(ctx, node);
    let extra = split.extra;
    line.push_str(&extra);
    node.line = line;
    err
}

/// BuildKit's `newNodeFromLine` for a joined logical line (taken as the node's line): the
/// node is pushed onto `nodes` (and filled in place there); the error, if any.
pub(crate) fn new_node(
    ctx: &LineCtx<'_>,
    line: String,
    nodes: &mut Vec<Node>,
) -> Option<DiagnosticKind> {
    nodes.push(Node::default());
    let node = nodes.last_mut()?;
    node_at(ctx, line, 0, node, false)
}

#[cfg(test)]
mod tests;
