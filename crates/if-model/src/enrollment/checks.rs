//! The rules of single values of `images.yaml`: image names, repository paths, forge API
//! URLs and `allowTags` regexes, each a function from the text to `Ok` or the message.

use std::collections::HashMap;

/// The host (and port) of an API base URL: `ghe.example` of `https://ghe.example/api/v3`.
pub fn api_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    (!host.is_empty()).then_some(host)
}

/// Checks a `source.api` URL: `https://host[/path]`, or `http://` to a loopback host
/// (`127.0.0.1`, `localhost`, `[::1]`, with any port) for a forge on the same machine;
/// no credentials, query or fragment in it.
pub fn check_api_url(url: &str) -> Result<(), String> {
    let Some(host) = api_host(url) else {
        return Err(format!(
            "`{url}` is not an API base URL (want https://host/path, e.g. https://ghe.example/api/v3)"
        ));
    };
    if host.contains('@') {
        return Err(format!(
            "`{url}`: no credentials in the URL (use host rules)"
        ));
    }
    if url.contains(['?', '#']) || url.chars().any(char::is_whitespace) {
        return Err(format!(
            "`{url}`: no query, fragment or spaces in an API base URL"
        ));
    }
    if url.starts_with("http://") {
        let name = host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(name, _)| name);
        if !matches!(name, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(format!(
                "`{url}`: http is allowed only to a loopback host; use https"
            ));
        }
    }
    Ok(())
}

/// Checks an image name: a Kubernetes label value that is also a safe file name
/// (lowercase letters, digits, `-`, `_`, `.`; starts and ends alphanumeric; at most 63).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_char =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty() {
        return Err("image name is empty".to_string());
    }
    if name.len() > 63 {
        return Err(format!(
            "image name `{name}` is {} characters long; at most 63 (it is a Kubernetes label value)",
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| !ok_char(*c)) {
        let hint = if c.is_ascii_uppercase() {
            " (names are lowercase)"
        } else {
            ""
        };
        return Err(format!(
            "image name `{name}` contains `{c}`{hint}: use lowercase letters, digits, `-`, `_` and `.`"
        ));
    }
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err(format!(
            "image name `{name}` must start and end with a lowercase letter or digit"
        ));
    }
    Ok(())
}

/// Checks a path inside a repository: relative, no `..`, not empty.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the path is empty".to_string());
    }
    if path.starts_with('/') || path.starts_with('\\') || path.get(1..2) == Some(":") {
        return Err("must be relative to the repository root".to_string());
    }
    if path.split(['/', '\\']).any(|c| c == "..") {
        return Err("must not contain `..`".to_string());
    }
    if path.contains('\0') {
        return Err("must not contain NUL".to_string());
    }
    Ok(())
}

/// Longest `allowTags` regex (bytes): a tag pattern is a line, and a 50 MB one took 24 s
/// and 5 GB to parse.
pub const MAX_ALLOW_TAGS_BYTES: usize = 4096;

/// Most memory an `allowTags` regex may take once compiled (the `regex` crate's own default,
/// said explicitly).
pub const ALLOW_TAGS_SIZE_LIMIT: usize = 10 << 20;

/// Checks an `allowTags` regex: at most [`MAX_ALLOW_TAGS_BYTES`], it compiles within
/// [`ALLOW_TAGS_SIZE_LIMIT`], and it has no doubled escape (`\\.` matches a backslash
/// followed by any character, which is almost always a YAML quoting mistake).
pub fn check_allow_tags(re: &str) -> Result<(), String> {
    /// Patterns whose verdict is remembered at most: a factory of 100,000 images has a few
    /// hundred distinct patterns, each used by hundreds of state files.
    const KEEP: usize = 1024;
    type Verdicts = HashMap<String, Result<(), String>>;
    static SEEN: std::sync::Mutex<Option<Verdicts>> = std::sync::Mutex::new(None);
    let lock = || {
        SEEN.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if re.len() > MAX_ALLOW_TAGS_BYTES {
        return check_allow_tags_once(re);
    }
    if let Some(v) = lock().as_ref().and_then(|m| m.get(re)) {
        return v.clone();
    }
    let verdict = check_allow_tags_once(re);
    let mut seen = lock();
    let map = seen.get_or_insert_with(HashMap::new);
    if map.len() < KEEP {
        map.insert(re.to_string(), verdict.clone());
    }
    verdict
}

/// [`check_allow_tags`] without remembering the verdict.
pub(super) fn check_allow_tags_once(re: &str) -> Result<(), String> {
    if re.len() > MAX_ALLOW_TAGS_BYTES {
        return Err(format!(
            "allowTags is {} bytes long; at most {MAX_ALLOW_TAGS_BYTES}",
            re.len()
        ));
    }
    if let Some(i) = re.find("\\\\") {
        let next = re[i + 2..].chars().next();
        if next.is_some_and(|c| ".^$*+?()[]{}|-".contains(c) || c.is_ascii_alphanumeric()) {
            let fixed = re.replace("\\\\", "\\");
            return Err(format!(
                "allowTags `{re}` has a doubled escape `\\\\` (it matches a literal backslash): write `{fixed}`"
            ));
        }
    }
    // Parsing the syntax is enough, and much cheaper than compiling (a factory has one
    // pattern per watched image); only large counted repetitions can make a pattern too big
    // once compiled.
    if regex_syntax::Parser::new().parse(re).is_ok() && largest_count(re) <= 100 {
        return Ok(());
    }
    regex::RegexBuilder::new(re)
        .size_limit(ALLOW_TAGS_SIZE_LIMIT)
        .build()
        .map(|_| ())
        .map_err(|e| {
            let text = e.to_string();
            let last = text.lines().last().unwrap_or_default().trim();
            let first = last.strip_prefix("error: ").unwrap_or(last);
            format!("allowTags `{re}` is not a valid regex: {first}")
        })
}

/// The largest number written inside `{...}` in `re` (0 when there is none).
fn largest_count(re: &str) -> u64 {
    re.split('{')
        .skip(1)
        .filter_map(|part| part.split('}').next())
        .flat_map(|inside| inside.split(','))
        .map(|n| n.trim().parse::<u64>().unwrap_or(u64::MAX))
        .max()
        .unwrap_or(0)
}
