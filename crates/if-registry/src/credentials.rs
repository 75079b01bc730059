//! `Credentials`: a user name and a password (an `if-http` [`Secret`]) for one registry; the
//! password never shows itself in `Debug`, `Display` or error text.

use if_http::Secret;

/// A user name and password (or personal access token) for one registry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Credentials {
    /// The user name; not secret.
    pub username: String,
    /// The password or token.
    pub password: Secret,
}

impl Credentials {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: Secret::new(password.into()),
        }
    }

    /// Whether the password is an OAuth2 refresh token (an `identitytoken`: the user
    /// [`crate::IDENTITY_TOKEN_USER`]), exchanged at the token realm rather than sent.
    pub fn is_identity_token(&self) -> bool {
        self.username == crate::IDENTITY_TOKEN_USER
    }

    /// The `Authorization` header value for HTTP Basic auth (`Basic base64(user:password)`),
    /// itself a secret.
    pub(crate) fn basic_header(&self) -> Secret {
        use base64::Engine as _;
        let pair = format!("{}:{}", self.username, self.password.expose());
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair.as_bytes());
        Secret::new(format!("Basic {encoded}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let c = Credentials::new("alice", "hunter2");
        let debug = format!("{c:?}");
        assert!(
            debug.contains("alice") && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    #[test]
    fn basic_header_is_rfc7617() {
        // RFC 7617 §2's example.
        let c = Credentials::new("Aladdin", "open sesame");
        assert_eq!(
            c.basic_header().expose(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(format!("{:?}", c.basic_header()), "***");
    }
}
