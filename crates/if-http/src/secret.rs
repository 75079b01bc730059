//! `Secret`: a token or password that never shows itself in `Debug`, `Display` or error
//! text.

use std::fmt;

/// A password or API token. `Debug` and `Display` print `***`; only the request code reads
/// the value, through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password or token.
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    /// The value itself, for the one header that carries it. Nothing else should call it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the value is empty or only whitespace (treated as no value at all).
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// `text` with every occurrence of the value replaced by `***` (nothing for a blank one).
    pub fn scrub(&self, text: &str) -> String {
        if self.is_blank() {
            text.to_owned()
        } else {
            text.replace(self.0.as_str(), "***")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_token() {
        let s = Secret::new("ghp_abc123".to_owned());
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "ghp_abc123");
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let s = Secret::new("tok".to_owned());
        assert_eq!(s.scrub("a tok b tok"), "a *** b ***");
        assert_eq!(s.scrub("nothing here"), "nothing here");
    }

    #[test]
    fn blank_token_scrubs_nothing() {
        let s = Secret::new("  ".to_owned());
        assert!(s.is_blank());
        assert_eq!(s.scrub("a  b"), "a  b");
    }
}
