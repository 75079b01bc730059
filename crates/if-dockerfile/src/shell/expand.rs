//! The `$` expansions of the shell-word lexer: names, `$N`, `${N}` and the modifiers.

use super::{
    ExpandError, Lexer, Lookup, MAX_NESTING, MAX_WORD_BYTES, Taint, char_text, is_special_param,
};
use crate::pattern::Pattern;

impl Lexer<'_, '_, '_> {
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(d) = self.peek().filter(|c| c.is_numeric()) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && is_special_param(ch) {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphabetic() && !ch.is_numeric() && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    /// The value of a plain reference (`$N`, `${N}`).
    fn plain(&mut self, name: &str, raw: String) -> String {
        let look = self.lookup(name);
        self.value_of(look, raw)
    }

    /// The value `look` gives a plain reference: `raw` (the reference as written) when unset
    /// variables are kept, else empty and tainted when it is unset or unknown.
    fn value_of(&mut self, look: Lookup<'_>, raw: String) -> String {
        match look {
            Lookup::Set(v) => v.to_string(),
            Lookup::Unset if self.opts.skip_unset => raw,
            Lookup::Unset => {
                self.taint.unset = true;
                String::new()
            }
            Lookup::Unknown => {
                self.taint.unknown = true;
                String::new()
            }
        }
    }

    /// A sub-word (modifier argument) lexed with its own taint, returned separately.
    fn sub_word(&mut self, stop: char, raw: bool) -> (Result<String, String>, Taint) {
        let outer = std::mem::take(&mut self.taint);
        let r = self.stop_on(Some(stop), raw).map(|(s, _)| s);
        let inner = std::mem::replace(&mut self.taint, outer);
        (r, inner)
    }

    /// [`Self::sub_word`] that must end at `stop`: a failure at the end of the input is the
    /// syntax error `syntax error: {missing}` (BuildKit's message), any other its own.
    fn closed_sub_word(
        &mut self,
        stop: char,
        raw: bool,
        missing: &str,
    ) -> Result<(String, Taint), String> {
        match self.sub_word(stop, raw) {
            (Ok(word), taint) => Ok((word, taint)),
            (Err(_), _) if self.peek().is_none() => Err(format!("syntax error: {missing}")),
            (Err(e), _) => Err(e),
        }
    }

    pub(super) fn dollar(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            let raw = format!("${name}");
            return Ok(self.plain(&name, raw));
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_string()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_string()),
            Some(_) => {}
        }
        if self.depth >= MAX_NESTING {
            return Err(self.stop(ExpandError::TooDeep));
        }
        self.depth += 1;
        let r = self.braced();
        self.depth -= 1;
        r
    }

    /// The rest of `${...}` after the `{`.
    fn braced(&mut self) -> Result<String, String> {
        let name = self.name();
        let first = self.next();
        let mut chs = char_text(first).to_string();
        match first {
            Some('}') => {
                let raw = format!("${{{name}}}");
                Ok(self.plain(&name, raw))
            }
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                let mut ch = first;
                let null_is_unset = ch == Some(':');
                if null_is_unset {
                    ch = self.next();
                    chs.push(char_text(ch));
                }
                let raw = matches!(ch, Some('#' | '%'));
                if null_is_unset && raw {
                    return Err(format!("unsupported modifier ({chs}) in substitution"));
                }
                let (word, word_taint) = self.closed_sub_word('}', raw, "missing '}'")?;
                self.modifier(&name, ch, &chs, null_is_unset, word, word_taint)
            }
            Some('/') => {
                let all = self.peek() == Some('/');
                if all {
                    self.next();
                }
                let (pattern, pt) = self.closed_sub_word('/', true, "missing '/' in ${}")?;
                let (replacement, rt) = self.closed_sub_word('}', true, "missing '}'")?;
                let look = self.lookup(&name);
                if self.opts.skip_unset && look == Lookup::Unset {
                    return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                }
                let value = self.value_of(look, String::new());
                self.taint.merge(pt);
                self.taint.merge(rt);
                let re = Pattern::compile(&pattern)
                    .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                self.spend_matching(&pattern, &value)?;
                match re.replace(&value, &replacement, all, MAX_WORD_BYTES) {
                    Some(out) => {
                        self.charge(out.len())?;
                        Ok(out)
                    }
                    None => Err(self.stop(ExpandError::TooLong)),
                }
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    fn modifier(
        &mut self,
        name: &str,
        ch: Option<char>,
        chs: &str,
        null_is_unset: bool,
        word: String,
        word_taint: Taint,
    ) -> Result<String, String> {
        let look = self.lookup(name);
        if self.opts.skip_unset && look == Lookup::Unset {
            return Ok(format!("${{{name}{chs}{word}}}"));
        }
        let empty_counts = |v: &str| null_is_unset && v.is_empty();
        match ch {
            Some('-') => match look {
                Lookup::Unknown => {
                    self.taint.unknown = true;
                    Ok(String::new())
                }
                Lookup::Set(v) if !empty_counts(v) => Ok(v.to_string()),
                _ => {
                    self.taint.merge(word_taint);
                    Ok(word)
                }
            },
            Some('+') => match look {
                Lookup::Unknown => {
                    self.taint.unknown = true;
                    Ok(String::new())
                }
                Lookup::Set(v) if !empty_counts(v) => {
                    self.taint.merge(word_taint);
                    Ok(word)
                }
                _ => Ok(String::new()),
            },
            Some('?') => match look {
                Lookup::Unknown => {
                    self.taint.unknown = true;
                    Ok(String::new())
                }
                Lookup::Unset => {
                    let msg = if word.is_empty() {
                        "is not allowed to be unset"
                    } else {
                        &word
                    };
                    Err(format!("{name}: {msg}"))
                }
                Lookup::Set(v) if empty_counts(v) => {
                    let msg = if word.is_empty() {
                        "is not allowed to be empty"
                    } else {
                        &word
                    };
                    Err(format!("{name}: {msg}"))
                }
                Lookup::Set(v) => Ok(v.to_string()),
            },
            Some(c @ ('%' | '#')) => {
                self.taint.merge(word_taint);
                // Unset with unset variables kept returned the word as written above.
                let value = self.value_of(look, String::new());
                let (greedy, pat) = match word.strip_prefix(c) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let re = Pattern::compile(pat)
                    .map_err(|e| format!("invalid pattern ({pat}) in substitution: {e}"))?;
                self.spend_matching(pat, &value)?;
                Ok(if c == '%' {
                    re.trim_suffix(&value, greedy)
                } else {
                    re.trim_prefix(&value, greedy)
                })
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }
}
