//! Where requests go: the API host of a registry (Docker Hub's is `registry-1.docker.io`),
//! `http` or `https` (plain HTTP only for loopback hosts and hosts listed as insecure),
//! mirrors, token realms and `Link` headers.

use std::net::{IpAddr, Ipv4Addr};

use crate::Client;
use crate::error::{RegistryError, Subject};

/// Docker Hub's registry name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's API host.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A scheme and an authority (`host` or `host:port`): where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host`, `host:port`, `[v6]:port`.
    pub authority: String,
}

impl Origin {
    /// `scheme://authority`, to which a path is appended.
    pub(crate) fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }
}

/// The host the distribution API of `registry` is served on.
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// Whether `authority`'s host is a loopback address: `localhost`, `127.0.0.0/8`, `::1`.
pub fn is_loopback(authority: &str) -> bool {
    let host = host_of(authority);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => bare.parse::<Ipv4Addr>().is_ok_and(|v4| v4.is_loopback()),
    }
}

/// The host part of `host`, `host:port`, `[v6]`, `[v6]:port`.
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .find(']')
            .map_or(authority, |end| &authority[..=end]);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

impl Client {
    /// Whether plain HTTP is allowed to `authority`: a loopback host, or one listed in
    /// `Config::insecure` (compared exactly, `host:port` as written, case-insensitively).
    pub fn plain_http_allowed(&self, authority: &str) -> bool {
        is_loopback(authority)
            || self
                .config
                .insecure
                .iter()
                .any(|i| strip_scheme(i).eq_ignore_ascii_case(authority))
    }

    /// The origin of a registry's own API: its API host, over `http` when allowed, else
    /// `https`.
    pub(crate) fn source_origin(&self, registry: &str) -> Origin {
        let authority = api_host(registry).to_owned();
        let scheme = if self.plain_http_allowed(registry) || self.plain_http_allowed(&authority) {
            "http"
        } else {
            "https"
        };
        Origin { scheme, authority }
    }

    /// The origin of a mirror given as `host[:port]`, `https://host[:port]` or
    /// `http://host[:port]` (trailing `/` allowed). A bare host follows the same rule as a
    /// registry; an explicit `http://` is refused unless plain HTTP is allowed to the host.
    pub(crate) fn mirror_origin(
        &self,
        mirror: &str,
        subject: &Subject,
    ) -> Result<Origin, RegistryError> {
        let trimmed = mirror.trim().trim_end_matches('/');
        if let Some(authority) = trimmed.strip_prefix("https://") {
            return Ok(Origin {
                scheme: "https",
                authority: authority.to_owned(),
            });
        }
        if let Some(authority) = trimmed.strip_prefix("http://") {
            if !self.plain_http_allowed(authority) {
                return Err(RegistryError::InsecureRefused {
                    subject: Box::new(subject.clone()),
                    host: authority.to_owned(),
                    url: trimmed.to_owned(),
                    purpose: "mirror",
                });
            }
            return Ok(Origin {
                scheme: "http",
                authority: authority.to_owned(),
            });
        }
        Ok(self.source_origin(trimmed))
    }

    /// The origin of an absolute URL a registry sent (a token realm): `http` or `https`,
    /// plain HTTP only where allowed. The URL itself is used as given.
    pub(crate) fn checked_origin(
        &self,
        url: &str,
        purpose: &'static str,
        subject: &Subject,
        from_host: &str,
    ) -> Result<Origin, RegistryError> {
        let invalid = |message: String| RegistryError::InvalidResponse {
            subject: Box::new(subject.clone()),
            host: from_host.to_owned(),
            url: url.to_owned(),
            status: 401,
            message,
        };
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            ("https", rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            ("http", rest)
        } else {
            return Err(invalid(format!("the {purpose} is not an http(s) URL")));
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(invalid(format!(
                "the {purpose} has no host, or carries credentials"
            )));
        }
        if scheme == "http" && !self.plain_http_allowed(authority) {
            return Err(RegistryError::InsecureRefused {
                subject: Box::new(subject.clone()),
                host: authority.to_owned(),
                url: url.to_owned(),
                purpose,
            });
        }
        Ok(Origin {
            scheme,
            authority: authority.to_owned(),
        })
    }
}

/// `value` without a leading `http://` / `https://` and trailing `/`.
pub(crate) fn strip_scheme(value: &str) -> &str {
    let value = value.trim();
    value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .unwrap_or(value)
        .trim_end_matches('/')
}

/// The `rel="next"` target of `Link` header values, as an absolute URL on `origin`.
/// `Ok(None)` when there is no next link; `Err` for one on another origin or not a path.
pub(crate) fn next_link<'a>(
    values: impl IntoIterator<Item = &'a str>,
    origin: &Origin,
) -> Result<Option<String>, String> {
    for value in values {
        for link in split_links(value) {
            let Some((target, params)) = link
                .trim()
                .strip_prefix('<')
                .and_then(|l| l.split_once('>'))
            else {
                continue;
            };
            let is_next = params.split(';').any(|p| {
                p.trim()
                    .strip_prefix("rel=")
                    .map(|r| r.trim_matches('"'))
                    .is_some_and(|r| r.split_whitespace().any(|r| r.eq_ignore_ascii_case("next")))
            });
            if !is_next {
                continue;
            }
            let target = target.trim();
            if target.starts_with('/') && !target.starts_with("//") {
                return Ok(Some(format!("{}{target}", origin.base())));
            }
            let base = origin.base();
            return match target.strip_prefix(base.as_str()) {
                Some(path) if path.starts_with('/') => Ok(Some(target.to_owned())),
                _ => Err(format!("the next page `{target}` is not a path on {base}")),
            };
        }
    }
    Ok(None)
}

/// The links of one `Link` value: split at commas outside `<...>`.
fn split_links(value: &str) -> Vec<&str> {
    let mut links = Vec::new();
    let (mut depth, mut start) = (false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '<' => depth = true,
            '>' => depth = false,
            ',' if !depth => {
                links.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    links.push(&value[start..]);
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn subject() -> Subject {
        Subject {
            registry: "r.example".into(),
            repository: "app".into(),
            reference: Some("1".into()),
        }
    }

    fn client(insecure: &[&str]) -> Client {
        Client::new(Config {
            insecure: insecure.iter().map(|s| (*s).to_owned()).collect(),
            ..Config::default()
        })
    }

    #[test]
    fn docker_hub_api_host() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("ghcr.io"), "ghcr.io");
        let origin = client(&[]).source_origin("docker.io");
        assert_eq!(origin.base(), "https://registry-1.docker.io");
    }

    #[test]
    fn loopback_hosts() {
        for yes in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:80",
            "127.1.2.3",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback(yes), "{yes}");
        }
        for no in [
            "10.0.0.1:5000",
            "localhost.example.com",
            "ghcr.io",
            "[::2]:1",
            "127.0.0.1.nip.io",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn http_only_for_loopback_or_insecure() {
        let c = client(&["registry.lan:5000", "http://other.lan/"]);
        assert_eq!(c.source_origin("127.0.0.1:5000").scheme, "http");
        assert_eq!(c.source_origin("registry.lan:5000").scheme, "http");
        assert_eq!(c.source_origin("registry.lan").scheme, "https");
        assert_eq!(c.source_origin("other.lan").scheme, "http");
        assert_eq!(c.source_origin("ghcr.io").scheme, "https");
    }

    #[test]
    fn realm_over_plain_http_is_refused_unless_allowed() {
        let c = client(&["auth.lan"]);
        let s = subject();
        let refused = c.checked_origin("http://auth.example.com/token", "token realm", &s, "r");
        assert!(matches!(
            refused,
            Err(RegistryError::InsecureRefused { ref host, purpose: "token realm", .. }) if host == "auth.example.com"
        ));
        assert_eq!(
            c.checked_origin("http://auth.lan/token", "token realm", &s, "r")
                .unwrap()
                .authority,
            "auth.lan"
        );
        assert!(
            c.checked_origin("http://127.0.0.1:9/t", "token realm", &s, "r")
                .is_ok()
        );
        assert!(
            c.checked_origin("https://auth.docker.io/token", "token realm", &s, "r")
                .is_ok()
        );
        assert!(matches!(
            c.checked_origin("ftp://x/token", "token realm", &s, "r"),
            Err(RegistryError::InvalidResponse { .. })
        ));
        assert!(matches!(
            c.checked_origin("https://u:p@x/token", "token realm", &s, "r"),
            Err(RegistryError::InvalidResponse { .. })
        ));
    }

    #[test]
    fn mirror_origins() {
        let c = client(&[]);
        let s = subject();
        assert_eq!(
            c.mirror_origin("mirror.gcr.io", &s).unwrap().base(),
            "https://mirror.gcr.io"
        );
        assert_eq!(
            c.mirror_origin("https://m.example/", &s).unwrap().base(),
            "https://m.example"
        );
        assert_eq!(
            c.mirror_origin("127.0.0.1:5001", &s).unwrap().base(),
            "http://127.0.0.1:5001"
        );
        assert!(matches!(
            c.mirror_origin("http://m.example", &s),
            Err(RegistryError::InsecureRefused {
                purpose: "mirror",
                ..
            })
        ));
    }

    #[test]
    fn next_links_relative_absolute_and_foreign() {
        let origin = Origin {
            scheme: "http",
            authority: "127.0.0.1:5000".into(),
        };
        let rel = r#"</v2/app/tags/list?last=c&n=3>; rel="next""#;
        assert_eq!(
            next_link([rel], &origin).unwrap().as_deref(),
            Some("http://127.0.0.1:5000/v2/app/tags/list?last=c&n=3")
        );
        let abs = r#"<http://127.0.0.1:5000/v2/app/tags/list?n=3&last=c>; rel=next"#;
        assert!(next_link([abs], &origin).unwrap().is_some());
        let two = r#"<https://x/a>; rel="prev", </v2/a?n=1,2>; rel="next""#;
        assert_eq!(
            next_link([two], &origin).unwrap().as_deref(),
            Some("http://127.0.0.1:5000/v2/a?n=1,2")
        );
        assert!(next_link([r#"<http://evil.example/v2/x>; rel="next""#], &origin).is_err());
        assert!(next_link([r#"<//evil.example/v2/x>; rel="next""#], &origin).is_err());
        assert!(next_link([r#"<http://127.0.0.1:50000/v2>; rel="next""#], &origin).is_err());
        assert_eq!(
            next_link([r#"</v2/x>; rel="prev""#], &origin).unwrap(),
            None
        );
        assert_eq!(next_link(Vec::<&str>::new(), &origin).unwrap(), None);
    }
}
