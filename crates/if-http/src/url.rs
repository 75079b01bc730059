//! Passwords in URLs (`scheme://user:password@host/...`): [`mask_url`] for every message
//! that shows a URL, [`without_password`] for a URL that is kept (a clone's `.git/config`).

/// The password of `scheme://user:password@host/...`, as a range of `url`.
fn password_range(url: &str) -> Option<(usize, usize)> {
    let authority_start = url.find("://")? + 3;
    let rest = url.get(authority_start..)?;
    let authority = rest.get(..rest.find('/').unwrap_or(rest.len()))?;
    let at = authority.rfind('@')?;
    let colon = authority.get(..at)?.find(':')?;
    Some((authority_start + colon + 1, authority_start + at))
}

/// `url` with the password of `scheme://user:password@host/...` replaced by `***`
/// (`user:***@`); any other URL as it is.
pub fn mask_url(url: &str) -> String {
    match password_range(url) {
        Some((a, b)) => format!("{}***{}", &url[..a], &url[b..]),
        None => url.to_owned(),
    }
}

/// The password of `scheme://user:password@host/...`, to scrub from messages that may quote
/// the URL as given (a parser's error, say).
pub fn url_password(url: &str) -> Option<crate::Secret> {
    let (a, b) = password_range(url)?;
    url.get(a..b)
        .filter(|p| !p.is_empty())
        .map(|p| crate::Secret::new(p.to_owned()))
}

/// `url` without the password of `scheme://user:password@host/...` (`user@`).
pub fn without_password(url: &str) -> String {
    match password_range(url) {
        Some((a, b)) => format!("{}{}", &url[..a - 1], &url[b..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_or_dropped() {
        let url = "https://bot:s3cret@git.example/o/r.git";
        assert_eq!(mask_url(url), "https://bot:***@git.example/o/r.git");
        assert_eq!(without_password(url), "https://bot@git.example/o/r.git");
        let password = url_password(url).map(|p| p.expose().to_owned());
        assert_eq!(password.as_deref(), Some("s3cret"));
        for plain in [
            "https://bot@git.example/o/r.git",
            "git@git.example:o/r.git",
            "https://git.example/a@b:c",
            "file:///tmp/r.git",
        ] {
            assert_eq!(mask_url(plain), plain);
            assert_eq!(without_password(plain), plain);
            assert!(url_password(plain).is_none());
        }
        // The last `@` of the authority ends the user information.
        assert_eq!(
            mask_url("https://u:p@ss@h.example/x"),
            "https://u:***@h.example/x"
        );
    }
}
