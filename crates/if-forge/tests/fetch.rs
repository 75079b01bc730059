//! Fetching a file against the fake forge: the exact documented requests on both providers,
//! with and without a token, and the encoding of nested paths and slashed branches.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use if_forge::{Client, fetch_file};
use if_model::enrollment::{Provider, Source};
use if_testkit::{FakeForge, Recorded};

const DOCKERFILE: &str = "FROM node:22\nRUN npm ci\n";

fn user_agent() -> String {
    format!("image-factory/{}", env!("CARGO_PKG_VERSION"))
}

/// The request's headers, sorted, with `host` checked and left out.
fn headers(forge: &FakeForge, r: &Recorded) -> Vec<(String, String)> {
    let host = forge.url().trim_start_matches("http://").to_owned();
    assert_eq!(r.header("host"), Some(host.as_str()));
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(n, _)| n != "host")
        .cloned()
        .collect();
    headers.sort();
    headers
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut list: Vec<(String, String)> = list
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    list.sort();
    list
}

/// Asserts one exact GET with no body, answered 200, without violations.
fn only_request(forge: &FakeForge, path: &str) -> Recorded {
    let requests = forge.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let r = requests.into_iter().next().unwrap();
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, path);
    assert_eq!(r.body, "");
    assert_eq!(r.violations, Vec::<String>::new());
    assert_eq!(r.response_status, 200);
    r
}

/// A fake serving `content` as `path` on the branch of `source`.
fn serving(source: &Source, path: &str, content: impl Into<Vec<u8>>) -> FakeForge {
    let forge = forge();
    forge.add_file(source.provider, &source.repo, &source.branch, path, content);
    forge
}

fn github_client(forge: &FakeForge, token: Option<&str>) -> Client {
    client_with(endpoints(forge), token, Some(GITLAB_TOKEN))
}

fn gitlab_client(forge: &FakeForge, token: Option<&str>) -> Client {
    client_with(endpoints(forge), Some(GITHUB_TOKEN), token)
}

#[test]
fn github_with_a_token_sends_exactly_the_documented_request() {
    let forge = serving(&github_source(), "Dockerfile", DOCKERFILE);
    let text = fetch_file(
        &github_client(&forge, Some(GITHUB_TOKEN)),
        &github_source(),
        "Dockerfile",
    )
    .unwrap();
    assert_eq!(text, DOCKERFILE);
    let r = only_request(&forge, "/repos/acme/app/contents/Dockerfile?ref=main");
    let auth = format!("Bearer {GITHUB_TOKEN}");
    assert_eq!(
        headers(&forge, &r),
        pairs(&[
            ("accept", "application/vnd.github.raw+json"),
            ("authorization", &auth),
            ("user-agent", &user_agent()),
            ("x-github-api-version", "2022-11-28"),
        ])
    );
}

#[test]
fn github_without_a_token_sends_no_authorization() {
    for token in [None, Some(""), Some("  ")] {
        let forge = serving(&github_source(), "Dockerfile", DOCKERFILE);
        let text = fetch_file(
            &github_client(&forge, token),
            &github_source(),
            "Dockerfile",
        );
        assert_eq!(text.unwrap(), DOCKERFILE);
        let r = only_request(&forge, "/repos/acme/app/contents/Dockerfile?ref=main");
        assert_eq!(
            headers(&forge, &r),
            pairs(&[
                ("accept", "application/vnd.github.raw+json"),
                ("user-agent", &user_agent()),
                ("x-github-api-version", "2022-11-28"),
            ])
        );
    }
}

#[test]
fn gitlab_with_a_token_sends_exactly_the_documented_request() {
    let forge = serving(&gitlab_source(), "Dockerfile", DOCKERFILE);
    let text = fetch_file(
        &gitlab_client(&forge, Some(GITLAB_TOKEN)),
        &gitlab_source(),
        "Dockerfile",
    )
    .unwrap();
    assert_eq!(text, DOCKERFILE);
    let r = only_request(
        &forge,
        "/api/v4/projects/acme%2Fplatform%2Fsvc/repository/files/Dockerfile/raw?ref=release",
    );
    assert_eq!(
        headers(&forge, &r),
        pairs(&[
            ("accept", "*/*"),
            ("private-token", GITLAB_TOKEN),
            ("user-agent", &user_agent()),
        ])
    );
}

#[test]
fn gitlab_without_a_token_sends_no_private_token() {
    let forge = serving(&gitlab_source(), "Dockerfile", DOCKERFILE);
    let text = fetch_file(&gitlab_client(&forge, None), &gitlab_source(), "Dockerfile");
    assert_eq!(text.unwrap(), DOCKERFILE);
    let r = only_request(
        &forge,
        "/api/v4/projects/acme%2Fplatform%2Fsvc/repository/files/Dockerfile/raw?ref=release",
    );
    assert_eq!(
        headers(&forge, &r),
        pairs(&[("accept", "*/*"), ("user-agent", &user_agent())])
    );
}

#[test]
fn github_nested_path_and_slashed_branch_are_encoded() {
    let path = "docker/my app/Dockerfile";
    let mut source = github_source();
    source.branch = "release/1.x".to_owned();
    let forge = serving(&source, path, DOCKERFILE);
    let text = fetch_file(&client(&forge, fast_retry(1)), &source, path).unwrap();
    assert_eq!(text, DOCKERFILE);
    only_request(
        &forge,
        "/repos/acme/app/contents/docker/my%20app/Dockerfile?ref=release%2F1.x",
    );
}

#[test]
fn gitlab_nested_path_and_slashed_branch_are_single_encoded_values() {
    let path = "docker/base/app.Dockerfile";
    let mut source = gitlab_source();
    source.branch = "release/1.x".to_owned();
    source.dockerfile = path.to_owned();
    let forge = serving(&source, path, DOCKERFILE);
    let text = fetch_file(&client(&forge, fast_retry(1)), &source, &source.dockerfile).unwrap();
    assert_eq!(text, DOCKERFILE);
    only_request(
        &forge,
        "/api/v4/projects/acme%2Fplatform%2Fsvc/repository/files/\
         docker%2Fbase%2Fapp.Dockerfile/raw?ref=release%2F1.x",
    );
}

#[test]
fn a_file_of_exactly_the_limit_is_read_whole() {
    let size = usize::try_from(if_forge::MAX_FILE_BYTES).unwrap();
    let big = "#".repeat(size - 1) + "\n";
    let forge = serving(&github_source(), "Dockerfile", big);
    let text = fetch_file(
        &client(&forge, fast_retry(1)),
        &github_source(),
        "Dockerfile",
    );
    assert_eq!(text.unwrap().len(), size);
}

#[test]
fn private_repository_reads_with_its_token() {
    let forge = serving(&gitlab_source(), "Dockerfile", "FROM a\n");
    forge.set_private(Provider::Gitlab, "acme/platform/svc");
    let text = fetch_file(
        &client(&forge, fast_retry(1)),
        &gitlab_source(),
        "Dockerfile",
    );
    assert_eq!(text.unwrap(), "FROM a\n");
}
