//! FakeForge over a real loopback socket: raw requests in, recorded requests and answers out
//! (the trigger endpoints, then the file endpoints).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;

use if_model::enrollment::Provider;
use if_testkit::{FakeForge, GITHUB_ACCEPT, GITHUB_ACCEPT_RAW, GITHUB_API_VERSION, Scripted};
use serde_json::json;

/// Sends `raw` to the fake and returns the whole answer as bytes.
fn exchange_bytes(forge: &FakeForge, raw: &str) -> Vec<u8> {
    let addr = forge.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    answer
}

/// Sends `raw` to the fake and returns the whole answer.
fn exchange(forge: &FakeForge, raw: &str) -> String {
    String::from_utf8(exchange_bytes(forge, raw)).unwrap()
}

/// The body of an answer.
fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").unwrap().1
}

fn post(path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut raw = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    raw
}

#[test]
fn github_dispatch_is_answered_204_and_recorded() {
    let forge = FakeForge::start("gh-token", "gl-token");
    let raw = post(
        "/repos/acme/app/actions/workflows/build.yml/dispatches",
        &[
            ("Accept", GITHUB_ACCEPT),
            ("Authorization", "Bearer gh-token"),
            ("X-GitHub-Api-Version", GITHUB_API_VERSION),
            ("User-Agent", "test/1"),
            ("Content-Type", "application/json"),
        ],
        r#"{"ref":"main","inputs":{"image":"app"}}"#,
    );
    let answer = exchange(&forge, &raw);
    assert!(
        answer.starts_with("HTTP/1.1 204 No Content\r\n"),
        "{answer}"
    );
    let requests = forge.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.response_status, 204);
    assert_eq!(r.violations, Vec::<String>::new());
    assert_eq!(r.header("Authorization"), Some("Bearer gh-token"));
    assert_eq!(r.json(), json!({"ref": "main", "inputs": {"image": "app"}}));
}

#[test]
fn gitlab_pipeline_ids_increment_from_1000() {
    let forge = FakeForge::start("gh", "gl");
    let raw = post(
        "/api/v4/projects/acme%2Fsvc/pipeline",
        &[
            ("PRIVATE-TOKEN", "gl"),
            ("Content-Type", "application/json"),
        ],
        r#"{"ref":"main","variables":[{"key":"K","value":"V"}]}"#,
    );
    let first = exchange(&forge, &raw);
    let second = exchange(&forge, &raw);
    assert!(first.starts_with("HTTP/1.1 201 Created\r\n"), "{first}");
    let body = |answer: &str| -> serde_json::Value {
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap()
    };
    assert_eq!(body(&first)["id"], 1000);
    assert_eq!(body(&second)["id"], 1001);
    assert_eq!(
        body(&first)["web_url"],
        format!("{}/acme/svc/-/pipelines/1000", forge.url())
    );
}

#[test]
fn scripted_answers_come_first_and_requests_are_still_checked() {
    let forge = FakeForge::start("gh", "gl");
    forge.push_response(Scripted::status(503).retry_after(7));
    let raw = post("/api/v4/projects/acme/svc/pipeline", &[], "{}");
    let answer = exchange(&forge, &raw);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("Retry-After: 7\r\n"), "{answer}");
    let answer = exchange(&forge, &raw);
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    let requests = forge.requests();
    assert_eq!(requests[0].response_status, 503);
    assert!(requests[0].violations[0].contains("not URL-encoded"));
    assert_eq!(requests[1].response_status, 404);
}

#[test]
fn hang_up_closes_without_answer() {
    let forge = FakeForge::start("gh", "gl");
    forge.push_response(Scripted::hang_up());
    let answer = exchange(&forge, &post("/x", &[], ""));
    assert_eq!(answer, "");
    assert_eq!(forge.requests()[0].response_status, 0);
}

#[test]
fn malformed_requests_are_400_and_recorded() {
    let forge = FakeForge::start("gh", "gl");
    let answer = exchange(&forge, "NOT HTTP\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    let chunked = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let answer = exchange(&forge, chunked);
    assert!(answer.starts_with("HTTP/1.1 411 "), "{answer}");
    let requests = forge.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path, "/x");
    assert!(requests[1].violations[0].contains("Transfer-Encoding"));
}

#[test]
fn drop_stops_the_server() {
    let forge = FakeForge::start("gh", "gl");
    let addr = forge.url().trim_start_matches("http://").to_owned();
    drop(forge);
    assert!(TcpStream::connect(addr).is_err());
}

fn get(target: &str, headers: &[(&str, &str)]) -> String {
    let mut raw = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw.push_str("\r\n");
    raw
}

fn github_file_headers(auth: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
    let mut headers = vec![
        ("Accept", GITHUB_ACCEPT_RAW),
        ("X-GitHub-Api-Version", GITHUB_API_VERSION),
        ("User-Agent", "test/1"),
    ];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    headers
}

const GH_FILE: &str = "/repos/acme/app/contents/docker/Dockerfile?ref=release%2F1.x";

#[test]
fn github_file_is_served_raw_with_or_without_a_token() {
    let forge = FakeForge::start("gh", "gl");
    let bytes = b"FROM node:22\n\xff".to_vec();
    forge.add_file(
        Provider::Github,
        "acme/app",
        "release/1.x",
        "docker/Dockerfile",
        bytes.clone(),
    );
    for auth in [Some("Bearer gh"), None] {
        let answer = exchange_bytes(&forge, &get(GH_FILE, &github_file_headers(auth)));
        let head = String::from_utf8_lossy(&answer[..answer.len() - bytes.len()]).into_owned();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: application/vnd.github.raw+json; charset=utf-8\r\n"),
            "{head}"
        );
        assert!(answer.ends_with(&bytes));
    }
    let requests = forge.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", GH_FILE));
        assert_eq!(r.violations, Vec::<String>::new());
        assert_eq!(r.response_status, 200);
    }
}

#[test]
fn github_file_request_problems_are_named() {
    let forge = FakeForge::start("gh", "gl");
    forge.add_file(
        Provider::Github,
        "acme/app",
        "main",
        "docker/Dockerfile",
        "FROM a\n",
    );
    // JSON media type, no API version, a body, the ref missing: 400 naming each.
    let raw = "GET /repos/acme/app/contents/docker/Dockerfile HTTP/1.1\r\nAccept: \
               application/vnd.github+json\r\nUser-Agent: t\r\nContent-Length: 2\r\n\r\n{}";
    let answer = exchange(&forge, raw);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    // The slash of the file path encoded: GitHub's path keeps it.
    let encoded = "/repos/acme/app/contents/docker%2FDockerfile?ref=main";
    let answer = exchange(&forge, &get(encoded, &github_file_headers(None)));
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    // A POST to the contents endpoint.
    let answer = exchange(
        &forge,
        &post("/repos/acme/app/contents/x?ref=main", &[], ""),
    );
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    // A wrong token.
    let answer = exchange(
        &forge,
        &get(
            "/repos/acme/app/contents/x?ref=main",
            &github_file_headers(Some("Bearer no")),
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body(&answer)).unwrap()["message"],
        "Bad credentials"
    );

    let requests = forge.requests();
    let v = &requests[0].violations;
    assert_eq!(v.len(), 4, "{v:?}");
    assert!(v[0].contains("header accept"), "{v:?}");
    assert!(v[1].contains("x-github-api-version missing"), "{v:?}");
    assert!(v[2].contains("no body"), "{v:?}");
    assert!(v[3].contains("`ref` missing"), "{v:?}");
    assert!(
        requests[1].violations[0].contains("encoded '/'"),
        "{:?}",
        requests[1].violations
    );
    assert!(requests[2].violations[0].contains("method POST where GET is required"));
    assert!(requests[3].violations[0].contains("wrong GitHub token"));
}

#[test]
fn github_directories_are_listed_and_missing_files_are_404() {
    let forge = FakeForge::start("gh", "gl");
    forge.add_file(
        Provider::Github,
        "acme/app",
        "main",
        "docker/Dockerfile",
        "FROM a\n",
    );
    let headers = github_file_headers(None);
    let answer = exchange(
        &forge,
        &get("/repos/acme/app/contents/docker?ref=main", &headers),
    );
    assert!(
        answer.contains("Content-Type: application/json; charset=utf-8\r\n"),
        "{answer}"
    );
    let listing: serde_json::Value = serde_json::from_str(body(&answer)).unwrap();
    assert_eq!(listing[0]["name"], "Dockerfile");
    assert_eq!(listing[0]["type"], "file");
    let answer = exchange(
        &forge,
        &get("/repos/acme/app/contents/nope?ref=main", &headers),
    );
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    let not_found: serde_json::Value = serde_json::from_str(body(&answer)).unwrap();
    assert_eq!(not_found["message"], "Not Found");
    assert!(not_found["documentation_url"].is_string());
    assert!(forge.requests().iter().all(|r| r.violations.is_empty()));
}

#[test]
fn gitlab_raw_file_needs_the_encoded_path_and_a_right_token() {
    let forge = FakeForge::start("gh", "gl");
    forge.add_file(
        Provider::Gitlab,
        "acme/svc",
        "main",
        "docker/Dockerfile",
        "FROM b\n",
    );
    let good = "/api/v4/projects/acme%2Fsvc/repository/files/docker%2FDockerfile/raw?ref=main";
    let answer = exchange(&forge, &get(good, &[("PRIVATE-TOKEN", "gl")]));
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("Content-Type: text/plain; charset=utf-8\r\n"),
        "{answer}"
    );
    assert_eq!(body(&answer), "FROM b\n");
    let answer = exchange(&forge, &get(good, &[]));
    assert_eq!(body(&answer), "FROM b\n", "public without a token");
    let answer = exchange(&forge, &get(good, &[("PRIVATE-TOKEN", "nope")]));
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer}");
    assert_eq!(body(&answer), r#"{"message":"401 Unauthorized"}"#);
    let raw_slash = "/api/v4/projects/acme%2Fsvc/repository/files/docker/Dockerfile/raw?ref=main";
    let answer = exchange(&forge, &get(raw_slash, &[]));
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    let missing = "/api/v4/projects/acme%2Fsvc/repository/files/Containerfile/raw?ref=main";
    let answer = exchange(&forge, &get(missing, &[]));
    assert_eq!(body(&answer), r#"{"message":"404 File Not Found"}"#);

    let requests = forge.requests();
    let violations: Vec<usize> = requests.iter().map(|r| r.violations.len()).collect();
    assert_eq!(violations, vec![0, 0, 1, 1, 0]);
    assert!(requests[3].violations[0].contains("not URL-encoded"));
}

#[test]
fn private_repositories_answer_404_without_a_token() {
    let forge = FakeForge::start("gh", "gl");
    forge.add_file(
        Provider::Gitlab,
        "acme/svc",
        "main",
        "Dockerfile",
        "FROM c\n",
    );
    forge.set_private(Provider::Gitlab, "acme/svc");
    let path = "/api/v4/projects/acme%2Fsvc/repository/files/Dockerfile/raw?ref=main";
    let answer = exchange(&forge, &get(path, &[]));
    assert_eq!(body(&answer), r#"{"message":"404 Project Not Found"}"#);
    let answer = exchange(&forge, &get(path, &[("PRIVATE-TOKEN", "gl")]));
    assert_eq!(body(&answer), "FROM c\n");
}

#[test]
fn scripted_answers_come_before_files() {
    let forge = FakeForge::start("gh", "gl");
    forge.add_file(
        Provider::Github,
        "acme/app",
        "main",
        "Dockerfile",
        "FROM a\n",
    );
    forge.push_response(Scripted::status(500));
    let target = "/repos/acme/app/contents/Dockerfile?ref=main";
    let answer = exchange(&forge, &get(target, &github_file_headers(None)));
    assert!(answer.starts_with("HTTP/1.1 500 "), "{answer}");
    let answer = exchange(&forge, &get(target, &github_file_headers(None)));
    assert_eq!(body(&answer), "FROM a\n");
    let statuses: Vec<u16> = forge.requests().iter().map(|r| r.response_status).collect();
    assert_eq!(statuses, vec![500, 200]);
}
