//! FakeForge over a real loopback socket: raw requests in, recorded requests and answers out
//! (the trigger endpoints, then the file endpoints, then the runs and their endpoints).

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

const GITHUB_JSON_HEADERS: [(&str, &str); 4] = [
    ("Accept", GITHUB_ACCEPT),
    ("Authorization", "Bearer gh"),
    ("X-GitHub-Api-Version", GITHUB_API_VERSION),
    ("User-Agent", "test/1"),
];

fn dispatch(forge: &FakeForge, body: &str) -> String {
    let mut headers = GITHUB_JSON_HEADERS.to_vec();
    headers.push(("Content-Type", "application/json"));
    let path = "/repos/acme/app/actions/workflows/build.yml/dispatches";
    exchange(forge, &post(path, &headers, body))
}

/// "Create a workflow dispatch event": `return_run_details: true` answers 200 with the
/// run's id, API URL and page; without it 204; both create a run titled by `reason`.
#[test]
fn a_dispatch_creates_a_run_and_returns_its_details_when_asked() {
    let forge = FakeForge::start("gh", "gl");
    forge.set_clock("2027-01-01T00:00:00Z");
    let answer = dispatch(
        &forge,
        r#"{"ref":"main","inputs":{"reason":"base updated [if-1]"},"return_run_details":true}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    let base = forge.url();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body(&answer)).unwrap(),
        json!({
            "workflow_run_id": 5000,
            "run_url": format!("{base}/repos/acme/app/actions/runs/5000"),
            "html_url": format!("{base}/acme/app/actions/runs/5000"),
        })
    );
    let answer = dispatch(&forge, r#"{"ref":"dev","inputs":{"image":"app"}}"#);
    assert!(
        answer.starts_with("HTTP/1.1 204 No Content\r\n"),
        "{answer}"
    );
    let runs = forge.runs();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (runs[0].id, runs[0].display_title.as_str()),
        (5000, "base updated [if-1]")
    );
    assert_eq!(runs[0].created_at, "2027-01-01T00:00:00Z");
    assert_eq!(
        (runs[1].id, runs[1].display_title.as_str()),
        (5001, "build.yml")
    );
    assert_eq!(runs[1].branch, "dev");
    assert_eq!(runs[1].inputs, vec![("image".to_owned(), "app".to_owned())]);
    assert!(forge.requests().iter().all(|r| r.violations.is_empty()));
}

/// An older GitHub Enterprise Server refuses `return_run_details` with 422 and starts
/// nothing; without the field it answers 204.
#[test]
fn an_old_ghes_refuses_return_run_details() {
    let forge = FakeForge::start("gh", "gl");
    forge.set_run_details(false);
    let answer = dispatch(&forge, r#"{"ref":"main","return_run_details":true}"#);
    assert!(answer.starts_with("HTTP/1.1 422 "), "{answer}");
    let message = serde_json::from_str::<serde_json::Value>(body(&answer)).unwrap();
    assert_eq!(
        message["message"],
        "Invalid request.\n\n\"return_run_details\" is not a permitted key."
    );
    assert!(forge.runs().is_empty());
    let answer = dispatch(&forge, r#"{"ref":"main"}"#);
    assert!(answer.starts_with("HTTP/1.1 204 "), "{answer}");
    assert_eq!(forge.runs().len(), 1);
    // A non-boolean is a violation whatever the mode.
    let answer = dispatch(&forge, r#"{"ref":"main","return_run_details":"yes"}"#);
    assert!(answer.starts_with("HTTP/1.1 422 "), "{answer}");
    assert_eq!(forge.requests()[2].violations.len(), 1);
}

/// "Get a workflow run" and "Get a single pipeline": the token and headers are checked, an
/// unknown or malformed id is the provider's 404, each GET is one poll.
#[test]
fn run_endpoints_check_the_request_and_count_polls() {
    let forge = FakeForge::start("gh", "gl");
    forge.script_runs(
        Provider::Github,
        "acme/app",
        [if_testkit::RunScript::running_for(
            1,
            if_testkit::RunScript::fail("timed_out"),
        )],
    );
    dispatch(&forge, r#"{"ref":"main"}"#);
    let path = "/repos/acme/app/actions/runs/5000";
    let first = exchange(&forge, &get(path, &GITHUB_JSON_HEADERS));
    let run: serde_json::Value = serde_json::from_str(body(&first)).unwrap();
    assert_eq!(
        (run["status"].as_str(), run["conclusion"].as_null()),
        (Some("in_progress"), Some(()))
    );
    assert_eq!(run["event"], "workflow_dispatch");
    assert_eq!(run["head_branch"], "main");
    let second = exchange(&forge, &get(path, &GITHUB_JSON_HEADERS));
    let run: serde_json::Value = serde_json::from_str(body(&second)).unwrap();
    assert_eq!(
        (run["status"].as_str(), run["conclusion"].as_str()),
        (Some("completed"), Some("timed_out"))
    );
    assert_eq!(forge.runs()[0].polls, 2);

    let unknown = exchange(
        &forge,
        &get("/repos/acme/app/actions/runs/1", &GITHUB_JSON_HEADERS),
    );
    assert!(unknown.starts_with("HTTP/1.1 404 "), "{unknown}");
    assert!(body(&unknown).contains("\"Not Found\""), "{unknown}");
    let other_repo = exchange(
        &forge,
        &get("/repos/acme/other/actions/runs/5000", &GITHUB_JSON_HEADERS),
    );
    assert!(other_repo.starts_with("HTTP/1.1 404 "), "{other_repo}");
    let no_token = exchange(
        &forge,
        &get(path, &[("Accept", GITHUB_ACCEPT), ("User-Agent", "t")]),
    );
    assert!(no_token.starts_with("HTTP/1.1 401 "), "{no_token}");
    let mut raw_headers = GITHUB_JSON_HEADERS.to_vec();
    raw_headers[0] = ("Accept", GITHUB_ACCEPT_RAW);
    let wrong_accept = exchange(&forge, &get(path, &raw_headers));
    assert!(wrong_accept.starts_with("HTTP/1.1 400 "), "{wrong_accept}");
    let not_a_number = exchange(
        &forge,
        &get("/repos/acme/app/actions/runs/x1", &GITHUB_JSON_HEADERS),
    );
    assert!(not_a_number.starts_with("HTTP/1.1 404 "), "{not_a_number}");

    let gitlab = [("PRIVATE-TOKEN", "gl")];
    let created = exchange(
        &forge,
        &post(
            "/api/v4/projects/acme%2Fsvc/pipeline",
            &[
                ("PRIVATE-TOKEN", "gl"),
                ("Content-Type", "application/json"),
            ],
            r#"{"ref":"main"}"#,
        ),
    );
    assert!(created.starts_with("HTTP/1.1 201 "), "{created}");
    let pipeline = exchange(
        &forge,
        &get("/api/v4/projects/acme%2Fsvc/pipelines/1000", &gitlab),
    );
    let pipeline: serde_json::Value = serde_json::from_str(body(&pipeline)).unwrap();
    assert_eq!(
        (pipeline["id"].as_u64(), pipeline["status"].as_str()),
        (Some(1000), Some("success"))
    );
    let unknown = exchange(
        &forge,
        &get("/api/v4/projects/acme%2Fsvc/pipelines/7", &gitlab),
    );
    assert!(unknown.starts_with("HTTP/1.1 404 "), "{unknown}");
    assert!(body(&unknown).contains("404 Not found"), "{unknown}");
    let raw_slash = exchange(
        &forge,
        &get("/api/v4/projects/acme/svc/pipelines/1000", &gitlab),
    );
    assert!(raw_slash.starts_with("HTTP/1.1 404 "), "{raw_slash}");

    let violations: Vec<usize> = forge
        .requests()
        .iter()
        .map(|r| r.violations.len())
        .collect();
    // The dispatch, two polls and two unknown runs are right; then the missing token, the
    // wrong Accept, the id that is not a number; the pipeline, its poll, the unknown one,
    // then the raw slash.
    assert_eq!(violations, [0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1]);
}

/// "List workflow runs for a workflow": the query is checked (documented parameters, each
/// percent-encoded; `created` in the `>=` syntax) and applied as GitHub does.
#[test]
fn the_run_list_filters_as_github_does() {
    let forge = FakeForge::start("gh", "gl");
    forge.set_clock("2027-01-01T00:00:00Z");
    dispatch(&forge, r#"{"ref":"main"}"#);
    forge.set_clock("2027-01-03T00:00:00Z");
    dispatch(&forge, r#"{"ref":"main"}"#);
    dispatch(&forge, r#"{"ref":"dev"}"#);
    let list = |query: &str| {
        let path = format!("/repos/acme/app/actions/workflows/build.yml/runs?{query}");
        exchange(&forge, &get(&path, &GITHUB_JSON_HEADERS))
    };
    let answer = list("event=workflow_dispatch&branch=main&created=%3E%3D2027-01-02&per_page=100");
    let runs: serde_json::Value = serde_json::from_str(body(&answer)).unwrap();
    assert_eq!(runs["total_count"], 1);
    assert_eq!(runs["workflow_runs"][0]["id"], 5001);
    let answer = list("per_page=2");
    let runs: serde_json::Value = serde_json::from_str(body(&answer)).unwrap();
    assert_eq!(runs["total_count"], 3);
    let ids: Vec<u64> = runs["workflow_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [5002, 5001], "newest first, one page");
    let answer = list("event=push");
    assert!(body(&answer).contains("\"total_count\":0"), "{answer}");

    let raw = list("created=>=2027-01-02");
    assert!(raw.starts_with("HTTP/1.1 422 "), "{raw}");
    let unknown = list("sort=asc");
    assert!(unknown.starts_with("HTTP/1.1 422 "), "{unknown}");
    let no_syntax = list("created=2027-01-02");
    assert!(no_syntax.starts_with("HTTP/1.1 422 "), "{no_syntax}");
    let violations: Vec<usize> = forge
        .requests()
        .iter()
        .map(|r| r.violations.len())
        .collect();
    assert_eq!(violations, [0, 0, 0, 0, 0, 0, 1, 1, 1]);
}

/// Without `set_clock`, runs are created at the real UTC time, in RFC 3339.
#[test]
fn the_default_clock_is_the_real_time() {
    let forge = FakeForge::start("gh", "gl");
    dispatch(&forge, r#"{"ref":"main"}"#);
    let created = &forge.runs()[0].created_at;
    let at = if_model::timestamp::Timestamp::parse(created).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((now as i64 - at.unix()).abs() < 60, "{created}");
}
