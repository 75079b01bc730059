//! Shell patterns of the `${N#p}`, `${N%p}` and `${N/p/r}` modifiers: `*` any string, `?`
//! one character (neither matches a newline, as in Go's regexp), `\` escaping `*`, `?`
//! and `\`, no bracket classes. Matching runs a small NFA, so it is linear in the value
//! for a given pattern.

/// One pattern element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    Any,
    Star,
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
}

/// Go's `%c` of the end-of-input marker.
const REPLACEMENT: char = '\u{fffd}';

impl Pattern {
    /// Compiles a pattern, with BuildKit's escape rules (`\}` and `\/` drop the backslash).
    pub(crate) fn compile(pattern: &str) -> Result<Pattern, String> {
        let mut toks = Vec::new();
        let mut it = pattern.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::Any),
                '\\' => {
                    if matches!(it.peek(), Some('}') | Some('/')) {
                        continue;
                    }
                    match it.next() {
                        Some(e @ ('*' | '?' | '\\')) => toks.push(Tok::Lit(e)),
                        Some(e) => return Err(format!("invalid escape '\\{e}'")),
                        None => return Err(format!("invalid escape '\\{REPLACEMENT}'")),
                    }
                }
                other => toks.push(Tok::Lit(other)),
            }
        }
        Ok(Pattern { toks })
    }

    fn reversed(&self) -> Pattern {
        let mut toks = self.toks.clone();
        toks.reverse();
        Pattern { toks }
    }

    /// Adds the states reachable through `*` matching nothing.
    fn close(&self, set: &mut [bool]) {
        for i in 0..self.toks.len() {
            if set[i] && self.toks[i] == Tok::Star {
                set[i + 1] = true;
            }
        }
    }

    fn step(&self, cur: &[bool], c: char, next: &mut [bool]) {
        next.iter_mut().for_each(|x| *x = false);
        for (i, tok) in self.toks.iter().enumerate() {
            if !cur[i] {
                continue;
            }
            match *tok {
                Tok::Lit(x) if x == c => next[i + 1] = true,
                Tok::Any if c != '\n' => next[i + 1] = true,
                Tok::Star if c != '\n' => next[i] = true,
                _ => {}
            }
        }
        self.close(next);
    }

    /// End (in chars) of the shortest or longest match anchored at the start of `chars`.
    fn anchored(&self, chars: &[char], longest: bool) -> Option<usize> {
        let m = self.toks.len();
        let mut cur = vec![false; m + 1];
        let mut next = vec![false; m + 1];
        cur[0] = true;
        self.close(&mut cur);
        let mut found = None;
        for p in 0..=chars.len() {
            if cur[m] {
                found = Some(p);
                if !longest {
                    return found;
                }
            }
            let Some(&c) = chars.get(p) else { break };
            self.step(&cur, c, &mut next);
            std::mem::swap(&mut cur, &mut next);
            if !cur.iter().any(|x| *x) {
                break;
            }
        }
        found
    }

    /// Leftmost match at or after `from`, longest at that start: `(start, end)` in chars.
    fn leftmost_longest(&self, chars: &[char], from: usize) -> Option<(usize, usize)> {
        let m = self.toks.len();
        let mut cur: Vec<Option<usize>> = vec![None; m + 1];
        let mut next: Vec<Option<usize>> = vec![None; m + 1];
        let mut best: Option<(usize, usize)> = None;
        let mut p = from;
        loop {
            if best.is_none() && cur[0].is_none() {
                cur[0] = Some(p);
            }
            for i in 0..m {
                if self.toks[i] == Tok::Star
                    && let Some(s) = cur[i]
                {
                    cur[i + 1] = Some(cur[i + 1].map_or(s, |t| t.min(s)));
                }
            }
            if let Some(s) = cur[m] {
                best = match best {
                    Some((bs, be)) if bs < s => Some((bs, be)),
                    _ => Some((s, p)),
                };
            }
            if let Some((bs, _)) = best {
                for x in cur.iter_mut() {
                    if x.is_some_and(|s| s > bs) {
                        *x = None;
                    }
                }
            }
            let Some(&c) = chars.get(p) else { break };
            if best.is_some() && cur.iter().all(Option::is_none) {
                break;
            }
            next.iter_mut().for_each(|x| *x = None);
            for (i, tok) in self.toks.iter().enumerate() {
                let Some(s) = cur[i] else { continue };
                let target = match *tok {
                    Tok::Lit(x) if x == c => Some(i + 1),
                    Tok::Any if c != '\n' => Some(i + 1),
                    Tok::Star if c != '\n' => Some(i),
                    _ => None,
                };
                if let Some(t) = target {
                    next[t] = Some(next[t].map_or(s, |u| u.min(s)));
                }
            }
            std::mem::swap(&mut cur, &mut next);
            p += 1;
        }
        best
    }

    /// `${N#p}` (shortest) / `${N##p}` (longest): removes a matching prefix.
    pub(crate) fn trim_prefix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        match self.anchored(&chars, greedy) {
            Some(end) => chars.get(end..).unwrap_or(&[]).iter().collect(),
            None => value.to_string(),
        }
    }

    /// `${N%p}` (shortest) / `${N%%p}` (longest): removes a matching suffix.
    pub(crate) fn trim_suffix(&self, value: &str, greedy: bool) -> String {
        let mut chars: Vec<char> = value.chars().collect();
        chars.reverse();
        match self.reversed().anchored(&chars, greedy) {
            Some(end) => {
                let mut kept: Vec<char> = chars.get(end..).unwrap_or(&[]).to_vec();
                kept.reverse();
                kept.into_iter().collect()
            }
            None => value.to_string(),
        }
    }

    /// `${N/p/r}` (first match) / `${N//p/r}` (every match), with Go's rules for empty
    /// matches and for `$` in the replacement; `None` as soon as the result would be longer
    /// than `max` bytes.
    pub(crate) fn replace(
        &self,
        value: &str,
        replacement: &str,
        all: bool,
        max: usize,
    ) -> Option<String> {
        let chars: Vec<char> = value.chars().collect();
        let n = chars.len();
        let slice = |a: usize, b: usize| -> String {
            chars
                .get(a.min(b)..b.min(n))
                .unwrap_or(&[])
                .iter()
                .collect()
        };
        if !all {
            let out = match self.leftmost_longest(&chars, 0) {
                Some((s, e)) => {
                    let mut out = slice(0, s);
                    out.push_str(&expand_template(replacement, &slice(s, e)));
                    out.push_str(&slice(e, n));
                    out
                }
                None => value.to_string(),
            };
            return (out.len() <= max).then_some(out);
        }
        let mut out = String::with_capacity(value.len());
        let mut last_end = 0;
        let mut search = 0;
        while search <= n {
            let Some((s, e)) = self.leftmost_longest(&chars, search) else {
                break;
            };
            out.push_str(&slice(last_end, s));
            if e > last_end || s == 0 {
                out.push_str(&expand_template(replacement, &slice(s, e)));
            }
            if out.len() > max {
                return None;
            }
            last_end = e;
            let width = usize::from(search < n);
            if search + width > e {
                search += width;
            } else if search + 1 > e {
                search += 1;
            } else {
                search = e;
            }
            if width == 0 && search <= n {
                search = n + 1;
            }
        }
        out.push_str(&slice(last_end, n));
        (out.len() <= max).then_some(out)
    }
}

/// Go's `Regexp.Expand` for a pattern without capture groups: `$0`/`${0}` is the match,
/// `$$` a dollar, other names nothing, a malformed `$` itself.
fn expand_template(template: &str, matched: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(rest.get(..i).unwrap_or(""));
        rest = rest.get(i + 1..).unwrap_or("");
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        match extract_name(rest) {
            Some((name, after)) => {
                if name == "0" {
                    out.push_str(matched);
                }
                rest = after;
            }
            None => out.push('$'),
        }
    }
    out.push_str(rest);
    out
}

/// The group name after `$` (`name` or `{name}`), and the rest of the template.
fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len: usize = body
        .chars()
        .take_while(|c| c.is_alphabetic() || c.is_numeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = body.get(..len)?;
    let mut rest = body.get(len..)?;
    if brace {
        rest = rest.strip_prefix('}')?;
    }
    Some((name, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::compile(s).expect("pattern")
    }

    #[test]
    fn prefix_and_suffix() {
        assert_eq!(p("*/").trim_prefix("a/b/c", false), "b/c");
        assert_eq!(p("*/").trim_prefix("a/b/c", true), "c");
        assert_eq!(p("/*").trim_suffix("a/b/c", false), "a/b");
        assert_eq!(p("/*").trim_suffix("a/b/c", true), "a");
        assert_eq!(p("x").trim_prefix("abc", false), "abc");
        assert_eq!(p("a?").trim_prefix("abc", false), "c");
        assert_eq!(p("\\*").trim_prefix("*x", false), "x");
        assert!(Pattern::compile("\\x").is_err());
    }

    #[test]
    fn replacements() {
        let r = |pat: &str, v: &str, rep: &str, all: bool| p(pat).replace(v, rep, all, 100);
        assert_eq!(r("o", "foo", "0", false).as_deref(), Some("f0o"));
        assert_eq!(r("o", "foo", "0", true).as_deref(), Some("f00"));
        assert_eq!(r("", "ab", "-", true).as_deref(), Some("-a-b-"));
        assert_eq!(r("*", "abc", "x", true).as_deref(), Some("x"));
        assert_eq!(r("b*", "abcb", "[$0]", false).as_deref(), Some("a[bcb]"));
        assert_eq!(r("z", "abc", "x", true).as_deref(), Some("abc"));
        // Every match replaced by 60 bytes: past the limit, stopped at once.
        assert_eq!(p("o").replace("foo", &"x".repeat(60), true, 100), None);
    }
}
