//! FakeForge over a real loopback socket: raw requests in, recorded requests and answers out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;

use if_testkit::{FakeForge, GITHUB_ACCEPT, GITHUB_API_VERSION, Scripted};
use serde_json::json;

/// Sends `raw` to the fake and returns the whole answer.
fn exchange(forge: &FakeForge, raw: &str) -> String {
    let addr = forge.url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
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
