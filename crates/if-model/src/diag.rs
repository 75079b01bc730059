//! Diagnostics: a problem found in a file, at a line and column, printed as
//! `path:line:col: error: message`.

use std::fmt;

use crate::yaml::Pos;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Must be fixed: `validate` fails.
    Error,
    /// Worth a look; does not fail `validate`.
    Warning,
}

/// What kind of problem: commands that can go on past some problems (`analyze`) use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A value that is missing, malformed or contradicts another.
    Invalid,
    /// A key the file format does not define (the rest of the entry is still usable).
    UnknownKey,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// The file, as the user should see it.
    pub file: String,
    /// Where in the file.
    pub pos: Pos,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, and where possible what to write instead.
    pub message: String,
    /// What kind of problem.
    pub kind: Kind,
}

impl Diagnostic {
    /// An error at `pos` of `file`.
    pub fn error(file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            pos,
            severity: Severity::Error,
            message: message.into(),
            kind: Kind::Invalid,
        }
    }

    /// A warning at `pos` of `file`.
    pub fn warning(file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_string(),
            pos,
            severity: Severity::Warning,
            message: message.into(),
            kind: Kind::Invalid,
        }
    }
}

impl Diagnostic {
    /// The same problem, marked as of `kind`.
    pub fn with_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// Whether this problem makes the value it is about unusable.
    pub fn is_fatal(&self) -> bool {
        self.severity == Severity::Error && self.kind != Kind::UnknownKey
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: {}",
            self.file, self.pos.line, self.pos.col, self.message
        )
    }
}

/// Whether any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

/// The known word closest to `word` when it is plausibly a misspelling of it.
pub fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The name of `known` closest to `name` by edit distance (the rule of [`closest`]), ties
/// going to the first by name so the answer does not depend on order. `known` is walked once.
pub fn closest_name<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(2))
        .min_by(|(d1, k1), (d2, k2)| d1.cmp(d2).then(k1.cmp(k2)))
        .map(|(_, k)| k)
}

/// The one message for a name that names no image, wherever a name is looked up:
/// "no such image `x`", with "(did you mean `y`?)" when a close name is known.
pub fn no_such_image(name: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(k) => format!("no such image `{name}` (did you mean `{k}`?)"),
        None => format!("no such image `{name}`"),
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_such_image_suggests_the_closest_name() {
        let known = ["svc-a", "svc-b", "base-py"];
        let hint = closest_name("base-pi", known);
        assert_eq!(
            no_such_image("base-pi", hint),
            "no such image `base-pi` (did you mean `base-py`?)"
        );
        // A tie goes to the first by name, so the message does not depend on order.
        assert_eq!(closest_name("svc-c", ["svc-b", "svc-a"]), Some("svc-a"));
        assert_eq!(closest_name("zzzzzzzz", known), None);
        assert_eq!(no_such_image("zzzzzzzz", None), "no such image `zzzzzzzz`");
    }

    #[test]
    fn display_is_path_line_col() {
        let d = Diagnostic::error("images.yaml", Pos { line: 3, col: 5 }, "bad");
        assert_eq!(d.to_string(), "images.yaml:3:5: error: bad");
    }

    #[test]
    fn closest_suggests_near_misses_only() {
        let known = ["rebuildDelay", "autoRebuild", "allowTags", "registry"];
        assert_eq!(closest("rebuildDelai", &known), Some("rebuildDelay"));
        assert_eq!(closest("allowtags", &known), Some("allowTags"));
        assert_eq!(closest("registy", &known), Some("registry"));
        assert_eq!(closest("updates", &known), None);
    }
}
