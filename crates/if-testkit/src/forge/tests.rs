//! Unit tests of the trigger endpoints' checks and of the routing.

use super::*;

/// The checks with no file to serve.
fn check(request: &Request, tokens: &Tokens) -> Verdict {
    super::check(request, tokens, &Files::default())
}

fn tokens() -> Tokens {
    Tokens {
        github: "gh".to_owned(),
        gitlab: "gl".to_owned(),
        installation: Vec::new(),
        pipeline_inputs: Default::default(),
    }
}

fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Request {
    Request {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}

const GH: &str = "/repos/acme/app/actions/workflows/build.yml/dispatches";

/// A GitLab pipeline request's headers, with the right token.
const GITLAB_HEADERS: [(&str, &str); 2] = [
    ("private-token", "gl"),
    ("content-type", "application/json"),
];

fn github_headers(auth: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("accept", GITHUB_ACCEPT),
        ("authorization", auth),
        ("x-github-api-version", GITHUB_API_VERSION),
        ("user-agent", "t/1"),
        ("content-type", "application/json"),
    ]
}

#[test]
fn good_github_dispatch_has_no_violation() {
    let body = r#"{"ref":"main","inputs":{"image":"app"}}"#;
    let v = check(
        &request("POST", GH, &github_headers("Bearer gh"), body),
        &tokens(),
    );
    assert_eq!(v.violations, Vec::<String>::new());
    assert_eq!(
        v.answer,
        Answer::Dispatched(Dispatch {
            repo: "acme/app".to_owned(),
            workflow: "build.yml".to_owned(),
            branch: "main".to_owned(),
            inputs: vec![("image".to_owned(), "app".to_owned())],
            run_details: None,
        })
    );
}

/// "Create a workflow dispatch event": `return_run_details` is an optional boolean.
#[test]
fn return_run_details_must_be_a_boolean() {
    for (value, ok) in [
        ("true", true),
        ("false", true),
        ("\"true\"", false),
        ("1", false),
    ] {
        let body = format!(r#"{{"ref":"main","return_run_details":{value}}}"#);
        let v = check(
            &request("POST", GH, &github_headers("Bearer gh"), &body),
            &tokens(),
        );
        assert_eq!(v.violations.is_empty(), ok, "{value}: {:?}", v.violations);
        if !ok {
            assert!(matches!(v.answer, Answer::Refused { status: 422, .. }));
        }
    }
}

#[test]
fn github_wrong_token_is_401_bad_credentials() {
    let v = check(
        &request("POST", GH, &github_headers("Bearer nope"), "{}"),
        &tokens(),
    );
    let Answer::Refused { status, body } = v.answer else {
        panic!("not refused");
    };
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Bad credentials"))
    );
    assert_eq!(v.violations.len(), 1);
}

#[test]
fn github_body_problems_are_422_and_named() {
    let inputs: serde_json::Map<String, Value> =
        (0..26).map(|i| (format!("i{i}"), json!("v"))).collect();
    let body = json!({"ref": 1, "inputs": inputs, "extra": true}).to_string();
    let v = check(
        &request("POST", GH, &github_headers("Bearer gh"), &body),
        &tokens(),
    );
    assert!(matches!(v.answer, Answer::Refused { status: 422, .. }));
    assert_eq!(v.violations.len(), 3, "{:?}", v.violations);
}

#[test]
fn gitlab_raw_slash_in_project_is_a_violation() {
    let raw = "/api/v4/projects/acme/svc/pipeline";
    let v = check(
        &request("POST", raw, &GITLAB_HEADERS, r#"{"ref":"main"}"#),
        &tokens(),
    );
    assert!(matches!(v.answer, Answer::Refused { status: 404, .. }));
    assert!(
        v.violations[0].contains("not URL-encoded"),
        "{:?}",
        v.violations
    );
    let encoded = "/api/v4/projects/acme%2Fsvc/pipeline";
    let v = check(
        &request("POST", encoded, &GITLAB_HEADERS, r#"{"ref":"main"}"#),
        &tokens(),
    );
    assert_eq!(
        v.answer,
        Answer::PipelineCreated {
            project: "acme/svc".to_owned(),
            reference: "main".to_owned(),
            variables: Vec::new(),
        }
    );
}

#[test]
fn gitlab_variables_must_be_key_value_strings() {
    let path = "/api/v4/projects/acme%2Fsvc/pipeline";
    let body = r#"{"ref":"main","variables":[{"key":"A","value":1,"x":2}]}"#;
    let v = check(&request("POST", path, &GITLAB_HEADERS, body), &tokens());
    let Answer::Refused { status: 400, body } = v.answer else {
        panic!("not a 400: {:?}", v.answer);
    };
    assert_eq!(v.violations.len(), 2, "{:?}", v.violations);
    assert_eq!(body, json!({"error": v.violations.join("; ")}));
}

#[test]
fn wrong_method_and_unknown_path_are_404() {
    let v = check(&request("GET", GH, &[], ""), &tokens());
    assert!(matches!(v.answer, Answer::Refused { status: 404, .. }));
    let v = check(&request("POST", "/nope", &[], ""), &tokens());
    assert!(matches!(v.answer, Answer::Refused { status: 404, .. }));
    let v = check(&request("POST", "/repos/a b/x", &[], ""), &tokens());
    assert!(
        v.violations[0].contains("percent-encoded"),
        "{:?}",
        v.violations
    );
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("acme%2Fplatform%2fsvc"), "acme/platform/svc");
    assert_eq!(percent_decode("%E2%9C%93ok"), "\u{2713}ok");
}

#[test]
fn file_routes_decode_repository_and_path() {
    let mut v = Vec::new();
    let Route::GithubContent { repo, path } =
        route("/repos/acme/app/contents/a%20b/Dockerfile", &mut v)
    else {
        panic!("not the contents route: {v:?}");
    };
    assert_eq!(
        (repo.as_str(), path.as_str()),
        ("acme/app", "a b/Dockerfile")
    );
    let target = "/api/v4/projects/acme%2Fsvc/repository/files/docker%2FDockerfile/raw";
    let Route::GitlabRawFile { project, path } = route(target, &mut v) else {
        panic!("not the raw file route: {v:?}");
    };
    assert_eq!(
        (project.as_str(), path.as_str()),
        ("acme/svc", "docker/Dockerfile")
    );
    assert!(v.is_empty(), "{v:?}");
    let post = check(
        &request("POST", "/repos/a/b/contents/x?ref=main", &[], ""),
        &tokens(),
    );
    assert!(matches!(post.answer, Answer::Refused { status: 404, .. }));
    assert!(
        post.violations[0].contains("where GET is required"),
        "{:?}",
        post.violations
    );
}
