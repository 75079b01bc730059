//! Fetching a file that cannot be had: 404, a directory, too large, not UTF-8, a bad path,
//! a wrong token; the retries (5xx, 429 with Retry-After, rate-limit 403, hang-ups); and
//! tokens kept out of every error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use if_forge::{Endpoints, ForgeError, GaveUp, MAX_FILE_BYTES, fetch_file};
use if_model::enrollment::{Provider, Source};
use if_testkit::{FakeForge, Scripted};
use serde_json::json;

/// A fake serving two files on each provider: GitHub's `Dockerfile` (`FROM a`) and
/// `docker/base/Dockerfile` (`FROM b`), GitLab's `Dockerfile` (`FROM c`) and
/// `docker/Dockerfile` (`FROM d`), on the branches of [`github_source`] and
/// [`gitlab_source`].
fn with_dockerfiles() -> FakeForge {
    let forge = forge();
    for (source, path, content) in [
        (github_source(), "Dockerfile", "FROM a\n"),
        (github_source(), "docker/base/Dockerfile", "FROM b\n"),
        (gitlab_source(), "Dockerfile", "FROM c\n"),
        (gitlab_source(), "docker/Dockerfile", "FROM d\n"),
    ] {
        serve(&forge, &source, path, content);
    }
    forge
}

/// Serves `content` as `path` on the branch of `source`.
fn serve(forge: &FakeForge, source: &Source, path: &str, content: impl Into<Vec<u8>>) {
    forge.add_file(source.provider, &source.repo, &source.branch, path, content);
}

/// Fetches `Dockerfile` of `source` with both right tokens, in at most `attempts`.
#[allow(clippy::result_large_err)] // `fetch_file`'s own result, passed on as is
fn fetch_dockerfile(
    forge: &FakeForge,
    source: &Source,
    attempts: u32,
) -> Result<String, ForgeError> {
    fetch_file(&client(forge, fast_retry(attempts)), source, "Dockerfile")
}

fn statuses(forge: &FakeForge) -> Vec<u16> {
    forge.requests().iter().map(|r| r.response_status).collect()
}

fn no_violations(forge: &FakeForge) {
    for r in forge.requests() {
        assert_eq!(r.violations, Vec::<String>::new(), "{}", r.path);
    }
}

#[test]
fn missing_file_is_file_not_found_naming_repo_branch_and_path() {
    let forge = with_dockerfiles();
    let client = client(&forge, fast_retry(4));
    let err = fetch_file(&client, &github_source(), "docker/Dockerfile.prod").unwrap_err();
    let ForgeError::FileNotFound {
        provider,
        repo,
        branch,
        path,
        url,
        message,
        authenticated,
        attempts,
    } = &err
    else {
        panic!("expected FileNotFound, got {err:?}");
    };
    assert_eq!(
        (*provider, repo.as_str(), branch.as_str(), path.as_str()),
        (
            Provider::Github,
            "acme/app",
            "main",
            "docker/Dockerfile.prod"
        )
    );
    assert!(url.ends_with("/repos/acme/app/contents/docker/Dockerfile.prod?ref=main"));
    assert_eq!(
        (message.as_str(), *authenticated, *attempts),
        ("Not Found", true, 1)
    );
    assert_eq!(err.status(), Some(404));
    let text = err.to_string();
    assert!(
        text.starts_with(
            "github has no file `docker/Dockerfile.prod` on branch `main` of acme/app"
        ),
        "{text}"
    );
    assert!(
        text.contains("a repository the token cannot read"),
        "{text}"
    );

    let err = fetch_file(&client, &gitlab_source(), "Containerfile").unwrap_err();
    assert!(
        matches!(
            &err,
            ForgeError::FileNotFound { provider: Provider::Gitlab, repo, branch, path, message, .. }
                if repo == "acme/platform/svc" && branch == "release" && path == "Containerfile"
                    && message == "404 File Not Found"
        ),
        "{err:?}"
    );
    assert_eq!(statuses(&forge), vec![404, 404], "a 404 is not retried");
    no_violations(&forge);
}

#[test]
fn missing_branch_or_project_says_so_in_the_message() {
    let forge = with_dockerfiles();
    let client = client(&forge, fast_retry(1));
    let mut source = github_source();
    source.branch = "dev".to_owned();
    let err = fetch_file(&client, &source, "Dockerfile").unwrap_err();
    assert!(
        err.to_string().contains("No commit found for the ref dev"),
        "{err}"
    );
    let mut source = gitlab_source();
    source.repo = "acme/nothing".to_owned();
    let err = fetch_file(&client, &source, "Dockerfile").unwrap_err();
    assert!(err.to_string().contains("404 Project Not Found"), "{err}");
}

#[test]
fn private_repository_without_a_token_hints_at_the_variable() {
    let forge = with_dockerfiles();
    forge.set_private(Provider::Github, "acme/app");
    let client = client_with(endpoints(&forge), None, None);
    let err = fetch_file(&client, &github_source(), "Dockerfile").unwrap_err();
    assert!(
        matches!(
            err,
            ForgeError::FileNotFound {
                authenticated: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("a private repository answers 404 without a token: set GITHUB_TOKEN"),
        "{err}"
    );
}

#[test]
fn a_directory_is_not_a_file() {
    let forge = with_dockerfiles();
    let client = client(&forge, fast_retry(3));
    let err = fetch_file(&client, &github_source(), "docker/base").unwrap_err();
    assert!(
        matches!(&err, ForgeError::NotAFile { kind, path, attempts: 1, .. }
            if kind == "directory" && path == "docker/base"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "`docker/base` on branch `main` of github repository acme/app is a directory, not a file"
    );
    // GitLab's raw endpoint answers 404 for a directory.
    let err = fetch_file(&client, &gitlab_source(), "docker").unwrap_err();
    assert!(matches!(err, ForgeError::FileNotFound { .. }), "{err:?}");
    no_violations(&forge);
}

#[test]
fn a_json_description_instead_of_raw_content_is_an_invalid_response() {
    let forge = forge();
    forge.push_response(
        Scripted::status(200)
            .json(&json!({"type": "file", "encoding": "base64", "content": "RlJPTQ=="})),
    );
    let err = fetch_dockerfile(&forge, &github_source(), 3).unwrap_err();
    assert!(
        matches!(
            err,
            ForgeError::InvalidResponse {
                status: 200,
                method: "GET",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("JSON description"), "{err}");
}

#[test]
fn a_file_over_the_limit_is_too_large() {
    let forge = forge();
    let size = usize::try_from(MAX_FILE_BYTES).unwrap() + 1;
    for provider in [Provider::Github, Provider::Gitlab] {
        let source = match provider {
            Provider::Github => github_source(),
            Provider::Gitlab => gitlab_source(),
        };
        serve(&forge, &source, "Dockerfile", vec![b'#'; size]);
        let err = fetch_dockerfile(&forge, &source, 3).unwrap_err();
        assert!(
            matches!(
                err,
                ForgeError::FileTooLarge {
                    size: Some(1_048_577),
                    max: 1_048_576,
                    attempts: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("larger than 1048576 bytes (1 MiB)"), "{text}");
        assert!(text.contains("announced 1048577 bytes"), "{text}");
    }
    assert_eq!(statuses(&forge), vec![200, 200], "not retried");
}

#[test]
fn a_file_that_is_not_utf8_is_refused() {
    let forge = forge();
    let bytes = b"FROM x\n\xff\xfeRUN y\n".to_vec();
    serve(&forge, &gitlab_source(), "Dockerfile", bytes);
    let err = fetch_dockerfile(&forge, &gitlab_source(), 3).unwrap_err();
    assert!(
        matches!(
            err,
            ForgeError::NotUtf8 {
                offset: 7,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("is not UTF-8 text (invalid byte at offset 7)"),
        "{text}"
    );
    assert!(text.contains("acme/platform/svc"), "{text}");
}

#[test]
fn a_path_outside_the_repository_makes_no_request() {
    let forge = forge();
    let client = client(&forge, fast_retry(3));
    for path in ["", "/etc/Dockerfile", "../other/Dockerfile", "a/../../b"] {
        let err = fetch_file(&client, &github_source(), path).unwrap_err();
        assert!(
            matches!(&err, ForgeError::InvalidPath { path: p, .. } if p == path),
            "{err:?}"
        );
        assert_eq!(err.attempts(), 0);
    }
    assert!(forge.requests().is_empty());
}

#[test]
fn server_error_then_success_is_retried() {
    let forge = with_dockerfiles();
    forge.push_response(Scripted::status(500));
    forge.push_response(Scripted::status(502));
    let text = fetch_dockerfile(&forge, &gitlab_source(), 4);
    assert_eq!(text.unwrap(), "FROM c\n");
    assert_eq!(statuses(&forge), vec![500, 502, 200]);
    no_violations(&forge);
}

#[test]
fn hang_up_then_success_is_retried() {
    let forge = with_dockerfiles();
    forge.push_response(Scripted::hang_up());
    let text = fetch_dockerfile(&forge, &github_source(), 3);
    assert_eq!(text.unwrap(), "FROM a\n");
    assert_eq!(statuses(&forge), vec![0, 200]);
}

#[test]
fn too_many_requests_waits_the_retry_after() {
    let forge = with_dockerfiles();
    forge.push_response(Scripted::status(429).retry_after(1));
    let text = fetch_dockerfile(&forge, &github_source(), 3);
    assert_eq!(text.unwrap(), "FROM a\n");
    let requests = forge.requests();
    assert_eq!(statuses(&forge), vec![429, 200]);
    // A lower bound only: the backoff alone would wait 10 ms.
    let gap = requests[1].received_at - requests[0].received_at;
    assert!(
        gap >= Duration::from_millis(950),
        "second request after {gap:?}"
    );
}

#[test]
fn github_rate_limit_403_is_retried_after_the_reset() {
    let forge = with_dockerfiles();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    forge.push_response(
        Scripted::status(403)
            .json(&json!({"message": "API rate limit exceeded"}))
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", &now.to_string()),
    );
    let text = fetch_dockerfile(&forge, &github_source(), 3);
    assert_eq!(text.unwrap(), "FROM a\n");
    assert_eq!(statuses(&forge), vec![403, 200]);
}

#[test]
fn still_unavailable_reports_the_get_and_the_attempts() {
    let forge = with_dockerfiles();
    for _ in 0..3 {
        forge.push_response(Scripted::status(503));
    }
    let err = fetch_dockerfile(&forge, &github_source(), 3).unwrap_err();
    assert!(
        matches!(
            err,
            ForgeError::Unavailable {
                method: "GET",
                status: 503,
                attempts: 3,
                gave_up: GaveUp::Attempts,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTTP 503 to GET http://"), "{err}");
}

#[test]
fn wrong_token_is_rejected_at_once_without_the_token() {
    let forge = with_dockerfiles();
    let wrong = client_with(
        endpoints(&forge),
        Some("ghp_WRONGsecret"),
        Some("glpat-WRONGsecret"),
    );
    let err = fetch_file(&wrong, &github_source(), "Dockerfile").unwrap_err();
    assert!(
        matches!(
            &err,
            ForgeError::Rejected { provider: Provider::Github, method: "GET", status: 401, attempts: 1, message, .. }
                if message == "Bad credentials"
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("github rejected GET http://"),
        "{err}"
    );
    let err2 = fetch_file(&wrong, &gitlab_source(), "Dockerfile").unwrap_err();
    assert!(
        err2.to_string().ends_with("HTTP 401: 401 Unauthorized"),
        "{err2}"
    );
    for err in [err, err2] {
        let text = format!("{err} {err:?}");
        assert!(!text.contains("WRONGsecret"), "{text}");
    }
    assert_eq!(statuses(&forge), vec![401, 401]);
}

#[test]
fn tokens_never_appear_in_errors() {
    let forge = forge();
    let client = client(&forge, fast_retry(2));
    let echo = json!({"message": format!("token {GITHUB_TOKEN} / {GITLAB_TOKEN} rejected")});
    let mut errors = Vec::new();
    forge.push_response(Scripted::status(404).json(&echo));
    errors.push(fetch_file(&client, &github_source(), "Dockerfile").unwrap_err());
    forge.push_response(Scripted::status(403).body(format!("no {GITLAB_TOKEN}")));
    errors.push(fetch_file(&client, &gitlab_source(), "Dockerfile").unwrap_err());
    for _ in 0..2 {
        forge.push_response(Scripted::status(500).json(&echo));
    }
    errors.push(fetch_file(&client, &github_source(), "Dockerfile").unwrap_err());
    forge.push_response(
        Scripted::status(200).json(&json!({"type": "file", "content": GITHUB_TOKEN})),
    );
    errors.push(fetch_file(&client, &github_source(), "Dockerfile").unwrap_err());
    let dead = dead_endpoint();
    let unreachable = client_with(
        Endpoints {
            github_api: dead.clone(),
            gitlab_api: dead,
        },
        Some(GITHUB_TOKEN),
        Some(GITLAB_TOKEN),
    );
    errors.push(fetch_file(&unreachable, &gitlab_source(), "Dockerfile").unwrap_err());
    errors.push(fetch_file(&client, &github_source(), "Dockerfile").unwrap_err());

    assert_eq!(errors.len(), 6);
    for err in &errors {
        assert_no_token(err);
    }
    assert!(
        errors[0].to_string().contains("token *** / *** rejected"),
        "{}",
        errors[0]
    );
    assert!(
        matches!(errors[4], ForgeError::Connection { .. }),
        "{:?}",
        errors[4]
    );
}
