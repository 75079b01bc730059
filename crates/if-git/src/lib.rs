//! The git client of the Image Factory (I/O, no decisions): a shallow clone of the state
//! repository, files read at a revision, commits of exactly the paths a command changed,
//! pushes, and [`publish`], the clone–change–commit–push loop that re-applies a change when
//! the branch moved on the remote.
//!
//! Built on gix; the `git` command does what gix cannot (see `ARCHITECTURE.md`):
//!
//! | step | by |
//! | --- | --- |
//! | [`open`], [`read_file`], [`commit`] (objects, tree, ref, index) | gix |
//! | [`clone`], fetch of [`reset_to_remote`] over `git://`, `file://`, a path | gix |
//! | [`clone`], fetch over `http(s)://`, `ssh://`, `user@host:path` | `git` |
//! | [`push`] | `git push` (gix has no push) |
//! | reset of [`reset_to_remote`] (HEAD, index, work tree) | gix |
//!
//! The crate reads no environment variable: the caller passes the token in [`Remote`], or a
//! [`TokenSource`] asked again at each network operation (clone, fetch, push) over HTTP(S), so
//! a short-lived token (a GitHub App's) is renewed in a run that outlives it. gix
//! opens repositories isolated (the repository's own config only, no environment, no global
//! config); the `git` command inherits the process environment (see `command`).

mod checkout;
mod command;
mod commit;
mod error;
mod publish;
mod push;
mod read;
mod reset;
mod url;

pub use checkout::{Checkout, clone, open};
pub use commit::commit;
pub use error::{GitError, Operation, PublishError};
pub use if_http::Secret;
pub use publish::{Published, publish};
pub use push::{Pushed, push};
pub use read::read_file;
pub use reset::reset_to_remote;

/// The author and committer of the commits the factory makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The name (`Image Factory Bot` by default).
    pub name: String,
    /// The email (`image-factory-bot@users.noreply.github.com` by default).
    pub email: String,
}

impl Identity {
    /// The default name.
    pub const DEFAULT_NAME: &'static str = "Image Factory Bot";
    /// The default email: a GitHub no-reply address, so no real mailbox is named.
    pub const DEFAULT_EMAIL: &'static str = "image-factory-bot@users.noreply.github.com";
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            name: Self::DEFAULT_NAME.to_owned(),
            email: Self::DEFAULT_EMAIL.to_owned(),
        }
    }
}

/// A remote repository and the branch the factory works on.
///
/// `Debug` shows the token as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// `git://`, `file://` or a local path (through gix), `http(s)://`, `ssh://` or
    /// `user@host:path` (through the `git` command).
    pub url: String,
    /// The branch (`main`), without `refs/heads/`.
    pub branch: String,
    /// A token for HTTP(S) remotes, sent as `Authorization: Basic
    /// base64(x-access-token:TOKEN)` (GitHub and GitLab both accept it); ignored for other
    /// schemes. Never on a command line, never in a message.
    pub token: Option<Token>,
}

/// The token of a remote: one for the whole run, or asked for at each network operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// The same token at every operation.
    Fixed(Secret),
    /// Asked of the source at each clone, fetch and push over HTTP(S) (a GitHub App's
    /// installation token, renewed before it expires).
    Renewing(TokenSource),
}

/// Gives the token for one network operation (clone, fetch, push): the caller's renewing
/// source (a GitHub App's installation token, renewed before it expires). Its error message
/// must hold no secret; it is shown as is. `Debug` shows nothing of it; two sources are
/// equal when they are the same one.
#[derive(Clone)]
pub struct TokenSource(std::sync::Arc<dyn Fn() -> Result<Secret, String> + Send + Sync>);

impl TokenSource {
    /// A source calling `ask` at each network operation.
    pub fn new(ask: impl Fn() -> Result<Secret, String> + Send + Sync + 'static) -> Self {
        TokenSource(std::sync::Arc::new(ask))
    }
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSource(***)")
    }
}

impl PartialEq for TokenSource {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for TokenSource {}

impl Remote {
    /// A remote without a token.
    pub fn new(url: impl Into<String>, branch: impl Into<String>) -> Self {
        Remote {
            url: url.into(),
            branch: branch.into(),
            token: None,
        }
    }

    /// The same remote with `token` (a blank token counts as none).
    #[must_use]
    pub fn with_token(mut self, token: Secret) -> Self {
        self.token = Some(Token::Fixed(token));
        self
    }

    /// The same remote asking `source` for its token at each network operation (in place
    /// of a fixed token).
    #[must_use]
    pub fn with_token_source(mut self, source: TokenSource) -> Self {
        self.token = Some(Token::Renewing(source));
        self
    }

    /// The token for one `op`: a fixed one, or the source's answer now over HTTP(S) (no
    /// token goes elsewhere, so the source is not asked).
    pub(crate) fn token_for(&self, op: Operation) -> Result<Option<Secret>, GitError> {
        match &self.token {
            Some(Token::Fixed(token)) => Ok(Some(token.clone())),
            Some(Token::Renewing(source)) if command::is_http(&self.url) => {
                (source.0)().map(Some).map_err(|message| GitError::Token {
                    op,
                    url: if_http::mask_url(&self.url),
                    message,
                })
            }
            Some(Token::Renewing(_)) | None => Ok(None),
        }
    }
}

/// Every chained message of a gix error, joined with `: ` (repeats and gix's classification
/// markers, such as a bare `NotFound`, dropped).
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        // A marker without a wrapped error prints only its class (`NotFound`).
        let marker = e.is::<gix::error::ClassificationMarker>() && !text.contains(' ');
        if !marker && !text.is_empty() && !parts.iter().any(|p| p.contains(text.as_str())) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_identity_is_the_bot() {
        let id = Identity::default();
        assert_eq!(id.name, "Image Factory Bot");
        assert_eq!(id.email, "image-factory-bot@users.noreply.github.com");
    }

    #[test]
    fn debug_hides_the_token() {
        let remote = Remote::new("https://h/x.git", "main")
            .with_token(Secret::new("tok-SECRET-123".to_owned()));
        let shown = format!("{remote:?}");
        assert!(!shown.contains("tok-SECRET-123"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    #[test]
    fn a_token_source_is_asked_at_each_operation_over_http_only() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let asked = std::sync::Arc::new(AtomicU32::new(0));
        let counter = std::sync::Arc::clone(&asked);
        let source = TokenSource::new(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Secret::new(format!("renewed-{n}")))
        });
        let remote = Remote::new("https://h/x.git", "main")
            .with_token(Secret::new("static".to_owned()))
            .with_token_source(source.clone());
        for n in 1..=3 {
            let token = remote.token_for(Operation::Push).unwrap().unwrap();
            assert_eq!(token.expose(), format!("renewed-{n}"));
        }
        assert!(!format!("{remote:?}").contains("renewed"));
        // Not over HTTP(S): the source is not asked (no token goes there anyway).
        let local = Remote::new("/srv/x.git", "main").with_token_source(source);
        assert!(local.token_for(Operation::Clone).unwrap().is_none());
        assert_eq!(asked.load(Ordering::SeqCst), 3);
        // A source that fails: nothing is sent, and the message is the source's.
        let failing = Remote::new("https://user:pw@h/x.git", "main")
            .with_token_source(TokenSource::new(|| Err("the App said no".to_owned())));
        let err = failing.token_for(Operation::Fetch).unwrap_err().to_string();
        assert_eq!(
            err,
            "fetch https://user:***@h/x.git: no token: the App said no"
        );
    }
}
