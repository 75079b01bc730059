//! The two file endpoints as documented: GitHub's "Get repository content" with the raw
//! media type, and GitLab's "Get raw file from repository"; and the files they serve.
//!
//! A request is checked like a trigger request (method, path encoding, `ref` query, headers,
//! no body). A token is optional (public repositories) but must be right when sent; a
//! repository marked private answers 404 to a request without one, as the providers do.

use std::collections::{BTreeMap, BTreeSet};

use if_model::enrollment::Provider;
use serde_json::{Value, json};

use super::{
    Answer, GITHUB_ACCEPT_RAW, Tokens, Verdict, expect_github_headers, percent_decode, query_pairs,
    refused_since, sent_token, single, unauthorized,
};
use crate::wire::Request;

/// The `Content-Type` of a raw file from GitHub (the fake's choice; not JSON).
const GITHUB_RAW_TYPE: &str = "application/vnd.github.raw+json; charset=utf-8";
/// The `Content-Type` of GitHub's JSON answers (a directory's listing).
const JSON_TYPE: &str = "application/json; charset=utf-8";
/// The `Content-Type` of a raw file from GitLab.
const GITLAB_RAW_TYPE: &str = "text/plain; charset=utf-8";
/// Where GitHub's 404 body points.
const GITHUB_DOCS: &str = "https://docs.github.com/rest/repos/contents#get-repository-content";

/// A file's key: provider, repository, branch, path.
type Key = (Provider, String, String, String);

/// The files the fake serves, and the repositories that need a token.
#[derive(Debug, Default, Clone)]
pub(crate) struct Files {
    files: BTreeMap<Key, Vec<u8>>,
    private: BTreeSet<(Provider, String)>,
}

/// What a repository holds at a path.
enum Found<'a> {
    File(&'a [u8]),
    /// A directory's entries, as GitHub lists them.
    Directory(Vec<Value>),
    NoFile,
    /// The repository has files, none on this branch.
    NoBranch,
    /// No such repository (or a private one asked without a token).
    NoRepo,
}

impl Files {
    /// Serves `content` at `path` on `branch` of `repo` (replacing any earlier content).
    pub(crate) fn add(
        &mut self,
        provider: Provider,
        repo: &str,
        branch: &str,
        path: &str,
        content: Vec<u8>,
    ) {
        let key = (
            provider,
            repo.to_owned(),
            branch.to_owned(),
            path.to_owned(),
        );
        self.files.insert(key, content);
    }

    /// Answers requests for `repo` without a token with 404.
    pub(crate) fn set_private(&mut self, provider: Provider, repo: &str) {
        self.private.insert((provider, repo.to_owned()));
    }

    fn find(&self, provider: Provider, file: &Wanted<'_>, branch: &str, token: bool) -> Found<'_> {
        if !token && self.private.contains(&(provider, file.repo.clone())) {
            return Found::NoRepo;
        }
        let in_repo = |(p, r, _, _): &&Key| *p == provider && *r == file.repo;
        if !self.files.keys().any(|k| in_repo(&k)) {
            return Found::NoRepo;
        }
        let on_branch: Vec<(&Key, &Vec<u8>)> = self
            .files
            .iter()
            .filter(|(k, _)| in_repo(k) && k.2 == branch)
            .collect();
        if on_branch.is_empty() {
            return Found::NoBranch;
        }
        if let Some((_, content)) = on_branch.iter().find(|(k, _)| k.3 == file.path) {
            return Found::File(content);
        }
        let prefix = if file.path.is_empty() {
            String::new()
        } else {
            format!("{}/", file.path)
        };
        let mut entries: BTreeMap<&str, Value> = BTreeMap::new();
        for (key, content) in &on_branch {
            let Some(rest) = key.3.strip_prefix(&prefix) else {
                continue;
            };
            let (name, is_file) = match rest.split_once('/') {
                Some((name, _)) => (name, false),
                None => (rest, true),
            };
            let entry = json!({
                "type": if is_file { "file" } else { "dir" },
                "name": name,
                "path": format!("{prefix}{name}"),
                "size": if is_file { content.len() } else { 0 },
            });
            entries.entry(name).or_insert(entry);
        }
        if entries.is_empty() {
            Found::NoFile
        } else {
            Found::Directory(entries.into_values().collect())
        }
    }
}

/// The file a request asks for: repository (decoded), path (decoded), the raw query.
pub(crate) struct Wanted<'q> {
    repo: String,
    path: String,
    query: Option<&'q str>,
}

impl<'q> Wanted<'q> {
    pub(crate) fn new(repo: String, path: String, query: Option<&'q str>) -> Self {
        Wanted { repo, path, query }
    }
}

/// The file path of a GitHub contents URL from the segments after `contents`: each segment
/// encoded on its own, the slashes kept (an encoded `/` is refused), none empty.
pub(crate) fn github_path(segments: &[&str]) -> Result<String, String> {
    if segments.is_empty() || segments == [""] {
        return Ok(String::new());
    }
    let mut decoded = Vec::with_capacity(segments.len());
    for segment in segments {
        if segment.is_empty() {
            return Err("an empty segment (a doubled or trailing '/')".to_owned());
        }
        if segment.to_ascii_lowercase().contains("%2f") {
            return Err(format!(
                "segment {segment:?} has an encoded '/': encode each segment, keep the slashes"
            ));
        }
        decoded.push(percent_decode(segment));
    }
    Ok(decoded.join("/"))
}

/// The branch from the query (`ref`, required: the client must name the branch), with a
/// violation for anything else than `ref` and the parameters in `extra`.
fn reference(query: Option<&str>, extra: &[&str], violations: &mut Vec<String>) -> Option<String> {
    let mut reference = None;
    let mut named = false;
    for (name, value) in query_pairs(query, violations) {
        named |= name == "ref";
        let Some(value) = value else { continue };
        match name {
            "ref" if reference.is_some() => violations.push("`ref` given twice".to_owned()),
            "ref" if value.is_empty() => violations.push("`ref` is empty".to_owned()),
            "ref" => reference = Some(value),
            _ if extra.contains(&name) => {}
            _ => violations.push(format!("unexpected query parameter {name:?}")),
        }
    }
    if !named {
        violations.push("`ref` missing from the query: the branch must be named".to_owned());
    }
    reference
}

/// A GET carries no body (and so no `Content-Type`).
pub(crate) fn expect_no_body(request: &Request, violations: &mut Vec<String>) {
    if !request.body.is_empty() {
        violations.push(format!(
            "a GET carries no body, got {} bytes",
            request.body.len()
        ));
    }
    if let Some(ct) = single(request, "content-type", violations) {
        violations.push(format!("content-type {ct:?} on a GET without body"));
    }
}

fn content(content_type: &str, body: Vec<u8>) -> Answer {
    Answer::Content {
        content_type: content_type.to_owned(),
        body,
    }
}

/// A file request on `provider`: GitHub's `GET /repos/{owner}/{repo}/contents/{path}?ref=`
/// with the raw media type, GitLab's `GET /api/v4/projects/{id}/repository/files/
/// {file_path}/raw?ref=`. The token (optional), GitHub's headers, no body and the `ref`
/// query are checked alike; the answers are each provider's own.
pub(crate) fn check(
    provider: Provider,
    request: &Request,
    tokens: &Tokens,
    files: &Files,
    file: Wanted<'_>,
    mut violations: Vec<String>,
) -> Verdict {
    let token = match sent_token(request, provider, tokens, &mut violations) {
        Ok(token) => token,
        Err(problem) => return unauthorized(provider, violations, problem),
    };
    let before = violations.len();
    // The query parameters allowed besides `ref`, and the key of a 400's message.
    let (extra, key): (&[&str], &str) = match provider {
        Provider::Github => {
            expect_github_headers(request, GITHUB_ACCEPT_RAW, &mut violations);
            (&[], "message")
        }
        Provider::Gitlab => (&["lfs"], "error"),
    };
    expect_no_body(request, &mut violations);
    let branch = reference(file.query, extra, &mut violations);
    let Some(branch) = branch.filter(|_| violations.len() == before) else {
        return refused_since(violations, before, 400, key);
    };
    let found = files.find(provider, &file, &branch, token);
    let answer = match provider {
        Provider::Github => github_answer(found, &branch),
        Provider::Gitlab => gitlab_answer(found),
    };
    Verdict { violations, answer }
}

/// GitHub's answer: the raw bytes, a directory's JSON listing, or a 404.
fn github_answer(found: Found<'_>, branch: &str) -> Answer {
    let not_found = |message: String| json!({"message": message, "documentation_url": GITHUB_DOCS, "status": "404"});
    match found {
        Found::File(bytes) => content(GITHUB_RAW_TYPE, bytes.to_vec()),
        Found::Directory(entries) => content(JSON_TYPE, Value::Array(entries).to_string().into()),
        Found::NoBranch => Answer::Refused {
            status: 404,
            body: not_found(format!("No commit found for the ref {branch}")),
        },
        Found::NoFile | Found::NoRepo => Answer::Refused {
            status: 404,
            body: not_found("Not Found".to_owned()),
        },
    }
}

/// GitLab's answer: the raw bytes, or a 404 naming what is missing (a directory is no file).
fn gitlab_answer(found: Found<'_>) -> Answer {
    let not_found = |what: &str| Answer::Refused {
        status: 404,
        body: json!({"message": format!("404 {what} Not Found")}),
    };
    match found {
        Found::File(bytes) => content(GITLAB_RAW_TYPE, bytes.to_vec()),
        Found::Directory(_) | Found::NoFile => not_found("File"),
        Found::NoBranch => not_found("Commit"),
        Found::NoRepo => not_found("Project"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_paths_keep_slashes_and_refuse_encoded_ones() {
        assert_eq!(
            github_path(&["docker", "Dockerfile"]),
            Ok("docker/Dockerfile".to_owned())
        );
        assert_eq!(github_path(&["my%20dir", "a"]), Ok("my dir/a".to_owned()));
        assert_eq!(github_path(&[]), Ok(String::new()));
        assert!(github_path(&["docker%2FDockerfile"]).is_err());
        assert!(github_path(&["a", "", "b"]).is_err());
    }

    #[test]
    fn the_ref_is_required_decoded_and_alone() {
        let mut v = Vec::new();
        assert_eq!(
            reference(Some("ref=release%2F1.x"), &[], &mut v),
            Some("release/1.x".to_owned())
        );
        assert_eq!(
            reference(Some("ref=a/b"), &[], &mut v),
            Some("a/b".to_owned())
        );
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(reference(None, &[], &mut v), None);
        assert!(v[0].contains("`ref` missing"), "{v:?}");
        let mut v = Vec::new();
        reference(Some("ref=a+b&x=1&ref=c"), &["lfs"], &mut v);
        assert_eq!(v.len(), 3, "{v:?}");
        let mut v = Vec::new();
        reference(Some("ref=main&lfs=true"), &["lfs"], &mut v);
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn directories_are_listed_from_the_files_below() {
        let mut files = Files::default();
        for path in ["docker/Dockerfile", "docker/base/Dockerfile", "README.md"] {
            files.add(Provider::Github, "a/b", "main", path, b"x".to_vec());
        }
        let wanted = |path: &str| Wanted::new("a/b".to_owned(), path.to_owned(), None);
        let Found::Directory(entries) =
            files.find(Provider::Github, &wanted("docker"), "main", false)
        else {
            panic!("not a directory");
        };
        let names: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e["type"].as_str().unwrap()))
            .collect();
        assert_eq!(names, [("Dockerfile", "file"), ("base", "dir")]);
        assert!(matches!(
            files.find(Provider::Github, &wanted("README.md"), "dev", false),
            Found::NoBranch
        ));
        assert!(matches!(
            files.find(Provider::Gitlab, &wanted("README.md"), "main", false),
            Found::NoRepo
        ));
        files.set_private(Provider::Github, "a/b");
        assert!(matches!(
            files.find(Provider::Github, &wanted("README.md"), "main", false),
            Found::NoRepo
        ));
        assert!(matches!(
            files.find(Provider::Github, &wanted("README.md"), "main", true),
            Found::File(b"x")
        ));
    }
}
