//! The shell-word lexer BuildKit applies to FROM, `--platform` and global ARG defaults
//! (and, with raw options, to heredoc markers): quotes, escapes, `$N`, `${N}` and the
//! modifiers `:- - :+ + :? ? # ## % %% / //`.
//!
//! Besides the expanded text it reports a [`Taint`]: whether the result used an unset
//! variable in a plain form, or a value that cannot be known statically.
//!
//! Expansion is bounded: no word may expand past [`MAX_WORD_BYTES`], `${...}` may not nest
//! deeper than [`MAX_NESTING`], and every expansion of one Dockerfile draws the bytes it
//! copies from one [`Budget`] of [`BUDGET_BYTES`], so that time and memory stay linear in
//! the input whatever it holds (BuildKit has no such limits, and real files never come near
//! them).

use crate::text::is_space;

/// Longest expanded word (bytes): as long as the longest Dockerfile we read, so only a file
/// that doubles a value again and again reaches it.
pub const MAX_WORD_BYTES: usize = 1 << 20;

/// Deepest nesting of `${...}` inside the word of another `${...}`.
pub const MAX_NESTING: usize = 100;

/// Bytes that all expansions of one Dockerfile may copy (looked-up values and results).
pub const BUDGET_BYTES: usize = 16 << 20;

/// Why a word was not expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// The word is not valid shell syntax (BuildKit's message).
    #[error("{0}")]
    Syntax(String),
    /// The expanded word would be longer than [`MAX_WORD_BYTES`].
    #[error("expanded word longer than {MAX_WORD_BYTES} bytes")]
    TooLong,
    /// `${...}` nested deeper than [`MAX_NESTING`].
    #[error("variable expansion nested deeper than {MAX_NESTING} levels")]
    TooDeep,
    /// The expansions of this Dockerfile together copied more than [`BUDGET_BYTES`].
    #[error("variable expansions of this Dockerfile exceed {BUDGET_BYTES} bytes in total")]
    OverBudget,
}

impl ExpandError {
    /// Whether this is one of the limits of this module rather than a syntax error.
    pub fn is_limit(&self) -> bool {
        !matches!(self, ExpandError::Syntax(_))
    }
}

/// The bytes that the expansions of one Dockerfile may still copy.
#[derive(Debug, Clone)]
pub struct Budget {
    remaining: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            remaining: BUDGET_BYTES,
        }
    }
}

impl Budget {
    /// Takes `n` bytes; false (and nothing left) when there are not that many.
    fn take(&mut self, n: usize) -> bool {
        match self.remaining.checked_sub(n) {
            Some(left) => {
                self.remaining = left;
                true
            }
            None => {
                self.remaining = 0;
                false
            }
        }
    }
}

/// What the environment knows about a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// Defined, with this value.
    Set(&'a str),
    /// Not defined.
    Unset,
    /// Defined by the builder, with a value a static tool cannot know (automatic platform
    /// ARGs, or a global ARG whose default depends on one).
    Unknown,
}

/// Variables visible to the lexer.
pub trait Env {
    /// Looks `name` up (names are case-sensitive).
    fn lookup(&self, name: &str) -> Lookup<'_>;
}

/// The empty environment.
pub struct EmptyEnv;

impl Env for EmptyEnv {
    fn lookup(&self, _name: &str) -> Lookup<'_> {
        Lookup::Unset
    }
}

/// Lexer settings (BuildKit's `Lex` fields).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LexOptions {
    /// The escape token: `\` or `` ` ``.
    pub escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape tokens in the output.
    pub raw_escapes: bool,
    /// Leave references to unset variables as written.
    pub skip_unset: bool,
    /// HEAD's heredoc rule: `<<` swallows the blanks after it into the same word.
    pub heredoc_lt: bool,
}

impl LexOptions {
    /// The settings used to expand FROM, `--platform` and ARG defaults.
    pub(crate) fn expand(escape: char) -> Self {
        LexOptions {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset: false,
            heredoc_lt: true,
        }
    }
}

/// Why an expansion result cannot be trusted as the value BuildKit would use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taint {
    /// A plain, `#`, `%` or `/` form read an unset variable (BuildKit substitutes "").
    pub unset: bool,
    /// A value came from something unknowable (automatic platform ARG, tainted ARG).
    pub unknown: bool,
}

impl Taint {
    fn merge(&mut self, other: Taint) {
        self.unset |= other.unset;
        self.unknown |= other.unknown;
    }

    /// Whether anything tainted the result.
    pub fn any(&self) -> bool {
        self.unset || self.unknown
    }
}

/// The outcome of lexing one word.
#[derive(Debug, Clone, Default)]
pub struct Processed {
    /// The expanded text.
    pub value: String,
    /// The text split into words (only when asked for).
    pub words: Vec<String>,
    /// Whether the value can be trusted.
    pub taint: Taint,
    /// Names looked up and not found, in order of first use.
    pub unmatched: Vec<String>,
}

/// Expands `word` (BuildKit's `ProcessWordWithMatches`) with a budget of its own. Syntax
/// errors carry BuildKit's message.
pub fn expand(word: &str, env: &dyn Env, escape: char) -> Result<Processed, ExpandError> {
    expand_within(word, env, escape, &mut Budget::default())
}

/// [`expand`], drawing on `budget` (one per Dockerfile).
pub fn expand_within(
    word: &str,
    env: &dyn Env,
    escape: char,
    budget: &mut Budget,
) -> Result<Processed, ExpandError> {
    process(word, env, LexOptions::expand(escape), false, budget)
}

/// Runs the lexer with explicit options; `want_words` also splits the result into words.
pub(crate) fn process(
    word: &str,
    env: &dyn Env,
    opts: LexOptions,
    want_words: bool,
    budget: &mut Budget,
) -> Result<Processed, ExpandError> {
    if !want_words
        && !word.bytes().any(|b| matches!(b, b'$' | b'\'' | b'"'))
        && !word.contains(opts.escape)
    {
        // Nothing to expand, unquote or unescape: the word is its own value.
        if !budget.take(word.len()) {
            return Err(ExpandError::OverBudget);
        }
        return Ok(Processed {
            value: word.to_string(),
            ..Processed::default()
        });
    }
    let mut lx = Lexer {
        src: word,
        pos: 0,
        env,
        opts,
        raw_escapes: opts.raw_escapes,
        taint: Taint::default(),
        unmatched: Vec::new(),
        wbuf: String::new(),
        want_words,
        depth: 0,
        budget,
        limit: None,
    };
    let r = lx.stop_on(None, opts.raw_escapes);
    if let Some(limit) = lx.limit {
        return Err(limit);
    }
    match r {
        Ok((value, words)) => Ok(Processed {
            value,
            words,
            taint: lx.taint,
            unmatched: lx.unmatched,
        }),
        Err(e) => Err(ExpandError::Syntax(format!(
            "failed to process {word:?}: {e}"
        ))),
    }
}

/// BuildKit's `wordsStruct`; the character buffer lives in the lexer and is shared by nested
/// calls, exactly like the Go code.
struct Words {
    words: Vec<String>,
    in_word: bool,
}

struct Lexer<'s, 'e, 'b> {
    src: &'s str,
    pos: usize,
    env: &'e dyn Env,
    opts: LexOptions,
    raw_escapes: bool,
    taint: Taint,
    unmatched: Vec<String>,
    wbuf: String,
    want_words: bool,
    /// Nesting of `${...}` at the cursor.
    depth: usize,
    budget: &'b mut Budget,
    /// The limit that stopped the lexer (it then unwinds with an empty error string).
    limit: Option<ExpandError>,
}

fn char_text(c: Option<char>) -> char {
    c.unwrap_or('\u{fffd}')
}

fn is_special_param(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

impl<'e> Lexer<'_, 'e, '_> {
    /// Stops the lexer on `limit`: the caller returns the error this gives.
    fn stop(&mut self, limit: ExpandError) -> String {
        self.limit.get_or_insert(limit);
        String::new()
    }

    /// Checks a text of `len` bytes about to be produced against the word limit and the
    /// budget.
    fn charge(&mut self, len: usize) -> Result<(), String> {
        if len > MAX_WORD_BYTES {
            return Err(self.stop(ExpandError::TooLong));
        }
        if !self.budget.take(len) {
            return Err(self.stop(ExpandError::OverBudget));
        }
        Ok(())
    }

    /// Charges the budget for matching `pattern` against `value` (the NFA takes steps in
    /// proportion to the product of their lengths).
    fn spend_matching(&mut self, pattern: &str, value: &str) -> Result<(), String> {
        let steps = (pattern.len() + 1).saturating_mul(value.len());
        if !self.budget.take(steps) {
            return Err(self.stop(ExpandError::OverBudget));
        }
        Ok(())
    }

    /// Checks the length of a text being built (and whether a limit stopped the lexer).
    fn check_len(&mut self, text: &str) -> Result<(), String> {
        if self.limit.is_some() {
            return Err(String::new());
        }
        if text.len() > MAX_WORD_BYTES {
            return Err(self.stop(ExpandError::TooLong));
        }
        Ok(())
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..).and_then(|s| s.chars().next())
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn lookup(&mut self, name: &str) -> Lookup<'e> {
        let env: &'e dyn Env = self.env;
        let found = env.lookup(name);
        if let Lookup::Set(v) = found
            && self.charge(v.len()).is_err()
        {
            // The limit is recorded; the lexer unwinds at its next check.
            return Lookup::Set("");
        }
        if found == Lookup::Unset && !self.unmatched.iter().any(|n| n == name) {
            self.unmatched.push(name.to_string());
        }
        found
    }

    fn add_char(&mut self, w: &mut Words, ch: char) {
        if !self.want_words {
            return;
        }
        if is_space(ch) && w.in_word {
            if !self.wbuf.is_empty() {
                w.words.push(std::mem::take(&mut self.wbuf));
                w.in_word = false;
            }
        } else if !is_space(ch) {
            self.wbuf.push(ch);
            w.in_word = true;
        }
    }

    fn add_raw_char(&mut self, w: &mut Words, ch: char) {
        if self.want_words {
            self.wbuf.push(ch);
            w.in_word = true;
        }
    }

    fn add_raw_string(&mut self, w: &mut Words, s: &str) {
        if self.want_words {
            self.wbuf.push_str(s);
            w.in_word = true;
        }
    }

    /// `processStopOn`: lexes until `stop` (or the end when `stop` is `None`).
    fn stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        self.wbuf.clear();
        let mut w = Words {
            words: Vec::new(),
            in_word: false,
        };
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.next();
                if !self.wbuf.is_empty() {
                    w.words.push(std::mem::take(&mut self.wbuf));
                }
                return Ok((result, w.words));
            }
            match ch {
                '$' => {
                    let tmp = self.dollar()?;
                    result.push_str(&tmp);
                    self.check_len(&result)?;
                    for c in tmp.chars() {
                        self.add_char(&mut w, c);
                    }
                }
                '\'' => {
                    let tmp = self.single_quote()?;
                    result.push_str(&tmp);
                    self.add_raw_string(&mut w, &tmp);
                }
                '"' => {
                    let tmp = self.double_quote()?;
                    result.push_str(&tmp);
                    self.add_raw_string(&mut w, &tmp);
                }
                '<' if self.opts.heredoc_lt => {
                    let tmp = self.possible_heredoc();
                    result.push_str(&tmp);
                    self.add_raw_string(&mut w, &tmp);
                }
                _ => {
                    self.next();
                    if ch == self.opts.escape {
                        if self.raw_escapes {
                            self.add_raw_char(&mut w, ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break,
                            Some(c) => {
                                self.add_raw_char(&mut w, c);
                                result.push(c);
                            }
                        }
                    } else {
                        self.add_char(&mut w, ch);
                        result.push(ch);
                    }
                }
            }
        }
        if let Some(s) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {s}"
            ));
        }
        if !self.wbuf.is_empty() {
            w.words.push(std::mem::take(&mut self.wbuf));
        }
        Ok((result, w.words))
    }

    fn possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.next();
        let mut out = String::from("<<");
        while let Some(c @ (' ' | '\t')) = self.peek() {
            out.push(c);
            self.next();
        }
        out
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut r = String::new();
        self.next();
        if self.opts.raw_quotes {
            r.push('\'');
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_string(),
                    );
                }
                Some('\'') => {
                    if self.opts.raw_quotes {
                        r.push('\'');
                    }
                    return Ok(r);
                }
                Some(c) => r.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        let mut r = String::new();
        self.next();
        if self.opts.raw_quotes {
            r.push('"');
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_string(),
                    );
                }
                Some('"') => {
                    self.next();
                    if self.opts.raw_quotes {
                        r.push('"');
                    }
                    return Ok(r);
                }
                Some('$') => {
                    let v = self.dollar()?;
                    r.push_str(&v);
                    self.check_len(&r)?;
                }
                Some(_) => {
                    let Some(mut ch) = self.next() else { continue };
                    if ch == self.opts.escape {
                        if self.raw_escapes {
                            r.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.opts.escape => {
                                self.next();
                                ch = c;
                            }
                            Some(_) => {}
                        }
                    }
                    r.push(ch);
                }
            }
        }
    }
}

mod expand;

#[cfg(test)]
mod tests;
