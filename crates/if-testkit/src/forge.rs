//! The endpoints as GitHub and GitLab document them: every request is checked (method, path,
//! query, headers, body) and every problem named; the normal answer follows from that.
//!
//! This module routes a request and holds the checks every endpoint shares; `triggers`
//! checks the two trigger endpoints (a `workflow_dispatch`, a new pipeline); `files` checks the two file endpoints (GitHub's repository content,
//! GitLab's raw file) and holds the files they serve; `runs` holds the builds started, plays
//! their scripted outcomes and answers the run endpoints (GitHub's run and run list,
//! GitLab's pipeline), whose requests `run_requests` checks.

use if_model::enrollment::Provider;
use serde_json::{Value, json};

use crate::wire::Request;

mod app;
mod files;
mod run_requests;
mod runs;
mod triggers;

pub(crate) use app::Apps;
pub(crate) use files::Files;
pub(crate) use runs::{Dispatch, ListFilter, Runs};
pub use runs::{GITHUB_FAILED_CONCLUSIONS, GITLAB_FAILED_STATUSES, Run, RunScript};

/// GitHub's REST API version the fake expects.
pub const GITHUB_API_VERSION: &str = "2022-11-28";
/// GitHub's JSON media type.
pub const GITHUB_ACCEPT: &str = "application/vnd.github+json";
/// GitHub's raw media type, required when fetching a file's content.
pub const GITHUB_ACCEPT_RAW: &str = "application/vnd.github.raw+json";
/// The most inputs GitHub accepts in a `workflow_dispatch`: 25 (it was 10), as GitHub's
/// "Workflow syntax for GitHub Actions" (`on.workflow_dispatch.inputs`) documents.
pub const GITHUB_MAX_INPUTS: usize = 25;
/// The path prefix of the fake GitLab API.
pub const GITLAB_PREFIX: &str = "/api/v4";

/// The tokens the fake accepts.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    pub github: String,
    pub gitlab: String,
    /// The GitHub App installation tokens valid now.
    pub installation: Vec<String>,
    /// GitLab projects whose CI declares `spec:inputs` (these names) and that allow no
    /// pipeline variables.
    pub pipeline_inputs: std::collections::BTreeMap<String, Vec<String>>,
}

/// What the checks found and what the fake answers when nothing is scripted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Verdict {
    /// Every problem found, in check order.
    pub violations: Vec<String>,
    /// The normal answer.
    pub answer: Answer,
}

/// The normal answer to a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// GitHub accepted a dispatch: a run, and 200 with its details or 204 (`runs`).
    Dispatched(Dispatch),
    /// GitLab created a pipeline for `project` (decoded path) on `reference`: 201.
    PipelineCreated {
        project: String,
        reference: String,
        /// The variables, in order.
        variables: Vec<(String, String)>,
    },
    /// The state of run (GitHub) or pipeline (GitLab) `id` of `repo`: 200 or 404.
    RunState {
        provider: Provider,
        repo: String,
        id: u64,
    },
    /// GitHub's list of `workflow`'s runs in `repo`.
    RunList {
        repo: String,
        workflow: String,
        filter: ListFilter,
    },
    /// A file's bytes, or GitHub's listing of a directory: 200.
    Content {
        /// The `Content-Type` answered.
        content_type: String,
        /// The bytes.
        body: Vec<u8>,
    },
    /// An error answer with a JSON body.
    Refused { status: u16, body: Value },
}

/// Which endpoint a path names.
enum Route {
    GithubDispatch {
        repo: String,
        workflow: String,
    },
    GitlabPipeline {
        project: String,
    },
    /// `/repos/{owner}/{repo}/actions/runs/{id}`.
    GithubRun {
        repo: String,
        id: u64,
    },
    /// `/repos/{owner}/{repo}/actions/workflows/{workflow}/runs`.
    GithubRuns {
        repo: String,
        workflow: String,
    },
    /// `/api/v4/projects/{id}/pipelines/{pipeline_id}`.
    GitlabPipelineState {
        project: String,
        id: u64,
    },
    /// `/repos/{owner}/{repo}/contents/{path}`: the repository and the decoded path.
    GithubContent {
        repo: String,
        path: String,
    },
    /// `/api/v4/projects/{id}/repository/files/{file_path}/raw`, both decoded.
    GitlabRawFile {
        project: String,
        path: String,
    },
    Unknown,
}

impl Route {
    /// The method the endpoint takes.
    fn method(&self) -> &'static str {
        match self {
            Route::GithubDispatch { .. } | Route::GitlabPipeline { .. } => "POST",
            _ => "GET",
        }
    }
}

/// Checks `request` against the endpoint its path names; `files` are what the file
/// endpoints serve.
pub(crate) fn check(request: &Request, tokens: &Tokens, files: &Files) -> Verdict {
    let mut violations = Vec::new();
    let (path, query) = match request.target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (request.target.as_str(), None),
    };
    let route = route(path, &mut violations);
    if matches!(route, Route::Unknown) {
        // The route's violation says why; the method and query of no endpoint do not matter.
        let body = if path.starts_with(GITLAB_PREFIX) {
            json!({"message": "404 Not Found"})
        } else {
            json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
        };
        return refused(violations, 404, body);
    }
    let takes_a_query = matches!(
        route,
        Route::GithubContent { .. } | Route::GitlabRawFile { .. } | Route::GithubRuns { .. }
    );
    if query.is_some() && !takes_a_query {
        violations.push(format!("unexpected query string in {:?}", request.target));
    }
    let github = matches!(
        route,
        Route::GithubDispatch { .. }
            | Route::GithubContent { .. }
            | Route::GithubRun { .. }
            | Route::GithubRuns { .. }
    );
    let not_found = if github {
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
    } else {
        json!({"message": "404 Not Found"})
    };
    let method = route.method();
    if request.method != method {
        violations.push(format!(
            "method {} where {method} is required",
            request.method
        ));
        return refused(violations, 404, not_found);
    }
    match route {
        Route::Unknown => refused(violations, 404, not_found),
        Route::GithubDispatch { repo, workflow } => {
            triggers::check_github(request, tokens, violations, repo, workflow)
        }
        Route::GithubRun { repo, id } => {
            let answer = Answer::RunState {
                provider: Provider::Github,
                repo,
                id,
            };
            run_requests::check_get(Provider::Github, request, tokens, violations, answer)
        }
        Route::GithubRuns { repo, workflow } => {
            let before = violations.len();
            let filter = run_requests::list_filter(query, &mut violations);
            if violations.len() > before {
                return refused_since(violations, before, 422, "message");
            }
            let answer = Answer::RunList {
                repo,
                workflow,
                filter,
            };
            run_requests::check_get(Provider::Github, request, tokens, violations, answer)
        }
        Route::GitlabPipelineState { project, id } => {
            let answer = Answer::RunState {
                provider: Provider::Gitlab,
                repo: project,
                id,
            };
            run_requests::check_get(Provider::Gitlab, request, tokens, violations, answer)
        }
        Route::GitlabPipeline { project } => {
            triggers::check_gitlab(request, tokens, violations, project)
        }
        Route::GithubContent { repo, path } => {
            let file = files::Wanted::new(repo, path, query);
            files::check(Provider::Github, request, tokens, files, file, violations)
        }
        Route::GitlabRawFile { project, path } => {
            let file = files::Wanted::new(project, path, query);
            files::check(Provider::Gitlab, request, tokens, files, file, violations)
        }
    }
}

/// The installation id of `POST /app/installations/{id}/access_tokens`, if `target` is that
/// path.
pub(crate) fn access_tokens_route(target: &str) -> Option<u64> {
    let id = target
        .strip_prefix("/app/installations/")?
        .strip_suffix("/access_tokens")?;
    id.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| id.parse().ok())
        .flatten()
}

pub(crate) fn refused(violations: Vec<String>, status: u16, body: Value) -> Verdict {
    Verdict {
        violations,
        answer: Answer::Refused { status, body },
    }
}

fn route(path: &str, violations: &mut Vec<String>) -> Route {
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for segment in &segments {
        if let Err(problem) = check_encoding(segment) {
            violations.push(format!("path segment {segment:?}: {problem}"));
            return Route::Unknown;
        }
    }
    match segments[..] {
        [
            "repos",
            owner,
            repo,
            "actions",
            "workflows",
            workflow,
            "dispatches",
        ] if !owner.is_empty() && !repo.is_empty() && !workflow.is_empty() => {
            Route::GithubDispatch {
                repo: github_repo(owner, repo),
                workflow: percent_decode(workflow),
            }
        }
        [
            "repos",
            owner,
            repo,
            "actions",
            "workflows",
            workflow,
            "runs",
        ] if !owner.is_empty() && !repo.is_empty() && !workflow.is_empty() => Route::GithubRuns {
            repo: github_repo(owner, repo),
            workflow: percent_decode(workflow),
        },
        ["repos", owner, repo, "actions", "runs", id] if !owner.is_empty() && !repo.is_empty() => {
            match numeric_id(id, path, violations) {
                Some(id) => Route::GithubRun {
                    repo: github_repo(owner, repo),
                    id,
                },
                None => Route::Unknown,
            }
        }
        ["repos", owner, repo, "contents", ref rest @ ..]
            if !owner.is_empty() && !repo.is_empty() =>
        {
            match files::github_path(rest) {
                Ok(path) => Route::GithubContent {
                    repo: format!("{}/{}", percent_decode(owner), percent_decode(repo)),
                    path,
                },
                Err(problem) => {
                    violations.push(format!("file path in {path:?}: {problem}"));
                    Route::Unknown
                }
            }
        }
        ["api", "v4", "projects", id, "pipeline"] if !id.is_empty() => Route::GitlabPipeline {
            project: percent_decode(id),
        },
        ["api", "v4", "projects", id, "pipelines", pipeline] if !id.is_empty() => {
            match numeric_id(pipeline, path, violations) {
                Some(pipeline) => Route::GitlabPipelineState {
                    project: percent_decode(id),
                    id: pipeline,
                },
                None => Route::Unknown,
            }
        }
        ["api", "v4", "projects", _, _, .., "pipelines", _] => {
            violations.push(format!(
                "GitLab project id in {path:?} is not URL-encoded (a raw '/' splits it)"
            ));
            Route::Unknown
        }
        [
            "api",
            "v4",
            "projects",
            id,
            "repository",
            "files",
            file,
            "raw",
        ] if !id.is_empty() && !file.is_empty() => Route::GitlabRawFile {
            project: percent_decode(id),
            path: percent_decode(file),
        },
        ["api", "v4", "projects", .., "pipeline"] => {
            violations.push(format!(
                "GitLab project id in {path:?} is not URL-encoded (a raw '/' splits it)"
            ));
            Route::Unknown
        }
        ["api", "v4", "projects", ref rest @ .., "raw"] if rest.contains(&"files") => {
            violations.push(format!(
                "GitLab project id or file path in {path:?} is not URL-encoded (a raw '/' \
                 splits it; the file path's slashes must be %2F)"
            ));
            Route::Unknown
        }
        _ => {
            violations.push(format!("no such endpoint: {path:?}"));
            Route::Unknown
        }
    }
}

/// `owner/repo`, decoded.
fn github_repo(owner: &str, repo: &str) -> String {
    format!("{}/{}", percent_decode(owner), percent_decode(repo))
}

/// A run or pipeline id: digits only (anything else is no such run: 404).
fn numeric_id(segment: &str, path: &str, violations: &mut Vec<String>) -> Option<u64> {
    let id = segment
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| segment.parse::<u64>().ok())
        .flatten();
    if id.is_none() {
        violations.push(format!("run id {segment:?} in {path:?} is not a number"));
    }
    id
}

/// A path segment may hold only unreserved characters, sub-delims, `:`, `@` and `%XX`.
pub(crate) fn check_encoding(segment: &str) -> Result<(), String> {
    let bytes = segment.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).unwrap_or_default();
            if hex.len() != 2 || !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err("'%' not followed by two hex digits".to_owned());
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)) {
            return Err(format!("byte {:?} must be percent-encoded", char::from(b)));
        }
        i += 1;
    }
    Ok(())
}

/// The `name=value` pairs of a query, in order, each value decoded; `None` for a value that
/// is not properly encoded (RFC 3986 lets `/` and `?` stay raw in a query; a `+` reads as a
/// space and is refused). Every problem is a violation; a pair without `=` is left out.
pub(crate) fn query_pairs<'q>(
    query: Option<&'q str>,
    violations: &mut Vec<String>,
) -> Vec<(&'q str, Option<String>)> {
    let mut pairs = Vec::new();
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let Some((name, value)) = pair.split_once('=') else {
            violations.push(format!("query parameter {pair:?} has no value"));
            continue;
        };
        if value.contains('+') {
            violations.push(format!(
                "query value {value:?}: '+' reads as a space in a query; encode it as %2B"
            ));
        }
        let decoded = match check_encoding(&value.replace(['/', '?'], "")) {
            Ok(()) => Some(percent_decode(value)),
            Err(problem) => {
                violations.push(format!("query value {value:?}: {problem}"));
                None
            }
        };
        pairs.push((name, decoded));
    }
    pairs
}

/// Decodes `%XX` escapes (the input passed [`check_encoding`]).
pub(crate) fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The one value of header `name`, with a violation when it is sent more than once.
pub(crate) fn single<'r>(
    request: &'r Request,
    name: &str,
    violations: &mut Vec<String>,
) -> Option<&'r str> {
    let values = request.all(name);
    if values.len() > 1 {
        violations.push(format!("header {name} sent {} times", values.len()));
    }
    values.first().copied()
}

pub(crate) fn expect_header(
    request: &Request,
    name: &str,
    want: &str,
    violations: &mut Vec<String>,
) {
    match single(request, name, violations) {
        Some(got) if got == want => {}
        Some(got) => violations.push(format!("header {name} is {got:?}, want {want:?}")),
        None => violations.push(format!("header {name} missing, want {want:?}")),
    }
}

/// GitHub's headers on every API request: `Accept: <accept>` (the JSON or the raw media
/// type), the API version, and a `User-Agent`.
pub(crate) fn expect_github_headers(request: &Request, accept: &str, violations: &mut Vec<String>) {
    expect_header(request, "accept", accept, violations);
    expect_header(
        request,
        "x-github-api-version",
        GITHUB_API_VERSION,
        violations,
    );
    match single(request, "user-agent", violations) {
        Some(ua) if !ua.trim().is_empty() => {}
        _ => violations.push("user-agent missing (GitHub requires one)".to_owned()),
    }
}

/// Whether the request carries the provider's token (GitHub `Authorization: Bearer`, GitLab
/// `PRIVATE-TOKEN`): `Ok(false)` without one, `Ok(true)` with the right one, `Err` with the
/// violation for a wrong one. The file endpoints take a request without one (public
/// repositories); the trigger endpoints refuse it.
pub(crate) fn sent_token(
    request: &Request,
    provider: Provider,
    tokens: &Tokens,
    violations: &mut Vec<String>,
) -> Result<bool, &'static str> {
    let (header, want, problem) = match provider {
        Provider::Github => (
            "authorization",
            format!("Bearer {}", tokens.github),
            "authorization: wrong GitHub token",
        ),
        Provider::Gitlab => (
            "private-token",
            tokens.gitlab.clone(),
            "private-token: wrong GitLab token",
        ),
    };
    let installation = |sent: &str| {
        provider == Provider::Github
            && sent
                .strip_prefix("Bearer ")
                .is_some_and(|t| tokens.installation.iter().any(|i| i == t))
    };
    match single(request, header, violations) {
        None => Ok(false),
        Some(sent) if sent == want || installation(sent) => Ok(true),
        Some(_) => Err(problem),
    }
}

/// The provider's 401 for a missing or wrong token, after the violation `problem`.
pub(crate) fn unauthorized(
    provider: Provider,
    mut violations: Vec<String>,
    problem: &str,
) -> Verdict {
    violations.push(problem.to_owned());
    let body = match provider {
        Provider::Github => json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401",
        }),
        Provider::Gitlab => json!({"message": "401 Unauthorized"}),
    };
    refused(violations, 401, body)
}

/// Refuses with `status` and the violations since `before`, joined, as the body's `key`
/// (`message` on GitHub, `error` on GitLab).
pub(crate) fn refused_since(
    violations: Vec<String>,
    before: usize,
    status: u16,
    key: &str,
) -> Verdict {
    let message = violations[before..].join("; ");
    refused(violations, status, json!({ key: message }))
}

#[cfg(test)]
mod tests;
