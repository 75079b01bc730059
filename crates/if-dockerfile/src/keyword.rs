//! The instruction keyword: the command word lowercased the way BuildKit does it (Go's
//! `strings.ToLower`), as an enum so that no instruction allocates for it.

use crate::text::go_lower;

/// The instruction a command word names (case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Keyword {
    /// `ADD`.
    Add,
    /// `ARG`.
    Arg,
    /// `CMD`.
    Cmd,
    /// `COPY`.
    Copy,
    /// `ENTRYPOINT`.
    Entrypoint,
    /// `ENV`.
    Env,
    /// `EXPOSE`.
    Expose,
    /// `FROM`.
    From,
    /// `HEALTHCHECK`.
    Healthcheck,
    /// `LABEL`.
    Label,
    /// `MAINTAINER`.
    Maintainer,
    /// `ONBUILD`.
    Onbuild,
    /// `RUN`.
    Run,
    /// `SHELL`.
    Shell,
    /// `STOPSIGNAL`.
    Stopsignal,
    /// `USER`.
    User,
    /// `VOLUME`.
    Volume,
    /// `WORKDIR`.
    Workdir,
    /// Any other word (BuildKit's "unknown instruction").
    #[default]
    Unknown,
}

/// The longest keyword (`healthcheck`, `entrypoint`...), in bytes.
const MAX_LEN: usize = 11;

impl Keyword {
    /// The keyword of a command word as written: `go_lower(word)` compared with the known
    /// names (an ASCII word is lowercased on the stack; only other words allocate).
    pub fn of_command(word: &str) -> Keyword {
        if !word.is_ascii() {
            // Some non-ASCII letters lowercase to ASCII ones (U+212A KELVIN SIGN is `k`).
            return Self::of_lower(go_lower(word).as_bytes());
        }
        let mut buf = [0u8; MAX_LEN];
        let Some(lower) = buf.get_mut(..word.len()) else {
            return Keyword::Unknown;
        };
        lower.copy_from_slice(word.as_bytes());
        lower.make_ascii_lowercase();
        Self::of_lower(lower)
    }

    /// The keyword of a lowercase word.
    fn of_lower(word: &[u8]) -> Keyword {
        match word {
            b"add" => Keyword::Add,
            b"arg" => Keyword::Arg,
            b"cmd" => Keyword::Cmd,
            b"copy" => Keyword::Copy,
            b"entrypoint" => Keyword::Entrypoint,
            b"env" => Keyword::Env,
            b"expose" => Keyword::Expose,
            b"from" => Keyword::From,
            b"healthcheck" => Keyword::Healthcheck,
            b"label" => Keyword::Label,
            b"maintainer" => Keyword::Maintainer,
            b"onbuild" => Keyword::Onbuild,
            b"run" => Keyword::Run,
            b"shell" => Keyword::Shell,
            b"stopsignal" => Keyword::Stopsignal,
            b"user" => Keyword::User,
            b"volume" => Keyword::Volume,
            b"workdir" => Keyword::Workdir,
            _ => Keyword::Unknown,
        }
    }

    /// The lowercase name (`""` for [`Keyword::Unknown`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Add => "add",
            Keyword::Arg => "arg",
            Keyword::Cmd => "cmd",
            Keyword::Copy => "copy",
            Keyword::Entrypoint => "entrypoint",
            Keyword::Env => "env",
            Keyword::Expose => "expose",
            Keyword::From => "from",
            Keyword::Healthcheck => "healthcheck",
            Keyword::Label => "label",
            Keyword::Maintainer => "maintainer",
            Keyword::Onbuild => "onbuild",
            Keyword::Run => "run",
            Keyword::Shell => "shell",
            Keyword::Stopsignal => "stopsignal",
            Keyword::User => "user",
            Keyword::Volume => "volume",
            Keyword::Workdir => "workdir",
            Keyword::Unknown => "",
        }
    }
}

impl PartialEq<&str> for Keyword {
    /// Compares with a lowercase keyword name (`node.keyword == "from"`).
    fn eq(&self, other: &&str) -> bool {
        *self != Keyword::Unknown && self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every known keyword, in the order of the enum.
    const KEYWORDS: [Keyword; 18] = [
        Keyword::Add,
        Keyword::Arg,
        Keyword::Cmd,
        Keyword::Copy,
        Keyword::Entrypoint,
        Keyword::Env,
        Keyword::Expose,
        Keyword::From,
        Keyword::Healthcheck,
        Keyword::Label,
        Keyword::Maintainer,
        Keyword::Onbuild,
        Keyword::Run,
        Keyword::Shell,
        Keyword::Stopsignal,
        Keyword::User,
        Keyword::Volume,
        Keyword::Workdir,
    ];

    #[test]
    fn keywords() {
        assert_eq!(Keyword::of_command("FROM"), Keyword::From);
        assert_eq!(Keyword::of_command("fRoM"), Keyword::From);
        assert_eq!(Keyword::of_command("WOR\u{212a}DIR"), Keyword::Workdir);
        assert_eq!(Keyword::of_command("\u{130}"), Keyword::Unknown);
        assert_eq!(Keyword::of_command("FROMX"), Keyword::Unknown);
        assert_eq!(Keyword::of_command(""), Keyword::Unknown);
        assert!(Keyword::Run == "run");
        assert!(Keyword::Unknown != "");
        for k in KEYWORDS {
            assert_eq!(Keyword::of_command(&k.as_str().to_uppercase()), k);
            assert!(k.as_str().len() <= MAX_LEN);
        }
        assert_eq!(Keyword::of_command("HEALTHCHECKS"), Keyword::Unknown);
    }
}
