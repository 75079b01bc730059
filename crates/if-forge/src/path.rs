//! URL building: joining a base URL with percent-encoded path segments.

/// The base URL without trailing slashes, ready for `/path` to be appended.
pub(crate) fn base(api: &str) -> &str {
    api.trim_end_matches('/')
}

/// One path segment, percent-encoded: every byte outside RFC 3986's unreserved set
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX`, so `/`, `?`, `#`, `%` and spaces cannot change the
/// path. The dot segments `.` and `..` are encoded whole so they cannot climb the path.
pub(crate) fn encode_segment(segment: &str) -> String {
    if segment == "." || segment == ".." {
        return segment.replace('.', "%2E");
    }
    if_http::percent_encode(segment)
}

/// A `/`-separated path (GitHub's `owner/repo`): each segment encoded, the `/`s kept.
pub(crate) fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitlab_project_path_is_one_segment() {
        assert_eq!(encode_segment("acme/platform/svc"), "acme%2Fplatform%2Fsvc");
    }

    #[test]
    fn dot_segments_cannot_climb() {
        assert_eq!(encode_segment(".."), "%2E%2E");
        assert_eq!(encode_segment("."), "%2E");
        assert_eq!(encode_segment("..."), "...");
        assert_eq!(encode_path("../x"), "%2E%2E/x");
    }

    #[test]
    fn github_repo_keeps_its_slash() {
        assert_eq!(encode_path("acme/my app"), "acme/my%20app");
        assert_eq!(encode_path("acme/app"), "acme/app");
    }

    #[test]
    fn base_drops_trailing_slashes() {
        assert_eq!(base("http://h/api/v4//"), "http://h/api/v4");
        assert_eq!(base("https://api.github.com"), "https://api.github.com");
    }
}
