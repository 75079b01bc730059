//! Heredoc markers on a RUN/COPY/ADD line: the line is lexed into words with quotes and
//! escapes kept, and each word matching `^(\d*)<<(-?)\s*([^<]*)$` opens a heredoc whose
//! name is the word lexed again (quotes removed; quoted means "do not expand").

use nom::Parser;
use nom::bytes::complete::{tag, take_while};
use nom::combinator::opt;

use crate::shell::{Budget, EmptyEnv, LexOptions, process};

/// One heredoc opened by a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The terminator.
    pub name: String,
    /// `<<-`.
    pub chomp: bool,
    /// No part of the word was quoted.
    pub expand: bool,
}

type NomError<'a> = nom::error::Error<&'a str>;

fn go_regex_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{0c}' | '\r' | ' ')
}

/// BuildKit's `ParseHeredoc` on one word: `Ok(None)` when the word is no heredoc marker.
pub(crate) fn parse_marker(word: &str) -> Result<Option<Marker>, String> {
    let mut head = (
        take_while::<_, &str, NomError<'_>>(|c: char| c.is_ascii_digit()),
        tag("<<"),
        opt(tag("-")),
        take_while(go_regex_space),
    );
    let Ok((rest, (_fd, _, dash, _))) = head.parse(word) else {
        return Ok(None);
    };
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    let mut opts = LexOptions {
        escape: '\\',
        raw_quotes: false,
        raw_escapes: false,
        skip_unset: true,
        heredoc_lt: true,
    };
    let lex = |opts| {
        process(rest, &EmptyEnv, opts, true, &mut Budget::default())
            .map(|p| p.words)
            .map_err(|e| e.to_string())
    };
    let words = lex(opts)?;
    if words.len() != 1 {
        return Ok(None);
    }
    opts.raw_quotes = true;
    let raw = lex(opts)?;
    if raw.len() != words.len() {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    }
    let quotes = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let expand = quotes(&words[0]) == raw.first().map_or(0, |w| quotes(w));
    Ok(Some(Marker {
        name: words[0].clone(),
        chomp: dash.is_some(),
        expand,
    }))
}

/// BuildKit's `heredocsFromLine`: every marker of the joined line, in order.
pub(crate) fn markers_in_line(line: &str) -> Result<Vec<Marker>, String> {
    let opts = LexOptions {
        escape: '\\',
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: true,
        heredoc_lt: true,
    };
    // A lexing failure of the whole line (say an unbalanced quote) means "no heredoc".
    // A limit of the lexer is reported.
    let processed = match process(line, &EmptyEnv, opts, true, &mut Budget::default()) {
        Ok(p) => p,
        Err(e) if e.is_limit() => return Err(e.to_string()),
        Err(_) => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for w in &processed.words {
        if let Some(m) = parse_marker(w)? {
            out.push(m);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(line: &str) -> Vec<(String, bool, bool)> {
        markers_in_line(line)
            .expect("lexes")
            .into_iter()
            .map(|m| (m.name, m.chomp, m.expand))
            .collect()
    }

    #[test]
    fn markers() {
        assert_eq!(names("RUN <<EOF"), vec![("EOF".into(), false, true)]);
        assert_eq!(names("RUN <<-'EOF' x"), vec![("EOF".into(), true, false)]);
        assert_eq!(
            names("COPY <<A <<\"B\" /d"),
            vec![("A".into(), false, true), ("B".into(), false, false)]
        );
        assert_eq!(names("RUN 3<<X cat"), vec![("X".into(), false, true)]);
        assert_eq!(names("RUN << EOF"), vec![("EOF".into(), false, true)]);
        assert_eq!(names("RUN cat<<EOF"), vec![]);
        assert_eq!(names("RUN \"<<EOF\""), vec![]);
        assert_eq!(names("RUN <<eo'f'"), vec![("eof".into(), false, false)]);
        assert_eq!(names("RUN <<eo\\'f"), vec![("eo'f".into(), false, true)]);
        assert_eq!(
            names("RUN <<'one two'"),
            vec![("one two".into(), false, false)]
        );
        assert_eq!(names("RUN <<$EOF"), vec![("$EOF".into(), false, true)]);
        assert_eq!(names("RUN echo 'a <<X"), vec![]);
    }
}
