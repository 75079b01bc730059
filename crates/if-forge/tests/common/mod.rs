//! Shared set-up for the if-forge tests: sources, clients and a fake forge.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::Duration;

use if_forge::{Client, Endpoints, Retry, Secret};
use if_model::enrollment::{Provider, Source};
use if_testkit::FakeForge;

pub const GITHUB_TOKEN: &str = "ghp_TESTtoken0123456789";
pub const GITLAB_TOKEN: &str = "glpat-TESTtoken0123456789";

/// Small waits so the suite stays fast.
pub fn fast_retry(attempts: u32) -> Retry {
    Retry {
        attempts,
        base_delay: Duration::from_millis(10),
        max_total: Duration::from_secs(10),
    }
}

pub fn forge() -> FakeForge {
    FakeForge::start(GITHUB_TOKEN, GITLAB_TOKEN)
}

pub fn endpoints(forge: &FakeForge) -> Endpoints {
    Endpoints {
        github_api: forge.github_api(),
        gitlab_api: forge.gitlab_api(),
    }
}

/// A client with both right tokens.
pub fn client(forge: &FakeForge, retry: Retry) -> Client {
    Client::new(
        endpoints(forge),
        Some(Secret::new(GITHUB_TOKEN.to_owned())),
        Some(Secret::new(GITLAB_TOKEN.to_owned())),
        retry,
    )
}

/// A client with these tokens.
pub fn client_with(endpoints: Endpoints, github: Option<&str>, gitlab: Option<&str>) -> Client {
    Client::new(
        endpoints,
        github.map(|t| Secret::new(t.to_owned())),
        gitlab.map(|t| Secret::new(t.to_owned())),
        fast_retry(3),
    )
}

pub fn github_source() -> Source {
    Source {
        provider: Provider::Github,
        repo: "acme/app".to_owned(),
        branch: "main".to_owned(),
        dockerfile: "Dockerfile".to_owned(),
        workflow: Some("build.yml".to_owned()),
        pipeline: None,
        job: None,
        api: None,
        pipeline_inputs: false,
    }
}

pub fn gitlab_source() -> Source {
    Source {
        provider: Provider::Gitlab,
        repo: "acme/platform/svc".to_owned(),
        branch: "release".to_owned(),
        dockerfile: "Dockerfile".to_owned(),
        workflow: None,
        pipeline: Some(".gitlab-ci.yml".to_owned()),
        job: Some("build-image".to_owned()),
        api: None,
        pipeline_inputs: false,
    }
}

pub fn inputs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// A loopback port nothing listens on: bound, then released.
pub fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A client with both right tokens whose two APIs are a loopback port nothing listens on
/// (every connection refused), and that port's URL.
pub fn dead_client() -> (String, Client) {
    let dead = dead_endpoint();
    let endpoints = Endpoints {
        github_api: dead.clone(),
        gitlab_api: format!("{dead}/api/v4"),
    };
    (
        dead,
        client_with(endpoints, Some(GITHUB_TOKEN), Some(GITLAB_TOKEN)),
    )
}

/// Asserts that no token appears in the error's Display or Debug.
pub fn assert_no_token(err: &if_forge::ForgeError) {
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(GITHUB_TOKEN), "token leaked: {text}");
        assert!(!text.contains(GITLAB_TOKEN), "token leaked: {text}");
    }
}

/// The wrong tokens the token tests send (`client_with(.., Some(WRONG_GITHUB), Some(WRONG_GITLAB))`).
pub const WRONG_GITHUB: &str = "ghp_WRONG";
pub const WRONG_GITLAB: &str = "glpat-WRONG";

/// Asserts that none of the errors shows a token, right or wrong, in Display or Debug, and
/// that the first one (a body echoing both tokens) shows them scrubbed.
pub fn assert_scrubbed(errors: &[if_forge::ForgeError]) {
    for err in errors {
        assert_no_token(err);
        let text = format!("{err} {err:?}");
        assert!(!text.contains("WRONG"), "{text}");
    }
    let first = errors[0].to_string();
    assert!(first.contains("token *** / *** rejected"), "{first}");
}

/// An error body that echoes both tokens.
pub fn echo_tokens() -> serde_json::Value {
    serde_json::json!({"message": format!("token {GITHUB_TOKEN} / {GITLAB_TOKEN} rejected")})
}
