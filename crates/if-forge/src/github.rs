//! GitHub's REST API: `workflow_dispatch`, and the URL and headers of a raw file.
//!
//! `POST {api}/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with
//! `{"ref": branch, "inputs": {...}}`; GitHub answers 204 (200 when it returns run details).
//! `GET {api}/repos/{owner}/{repo}/contents/{path}?ref={branch}` with the raw media type
//! answers the file's bytes ("Get repository content"); `fetch` reads the answer.

use if_model::enrollment::{Provider, Source};
use serde_json::{Map, Value, json};

use crate::error::ForgeError;
use crate::http::{self, Call, Method};
use crate::path::{base, encode_path, encode_segment};
use crate::{Client, Secret, Triggered};

/// The most inputs a `workflow_dispatch` accepts.
pub(crate) const MAX_INPUTS: usize = 10;
/// The REST API version this code speaks.
pub(crate) const API_VERSION: &str = "2022-11-28";
/// GitHub's JSON media type.
const ACCEPT: &str = "application/vnd.github+json";
/// GitHub's raw media type: a file's bytes instead of its JSON description.
pub(crate) const ACCEPT_RAW: &str = "application/vnd.github.raw+json";

/// The dispatch URL of `workflow` (a file name or an id) in `repo` (`owner/repo`).
pub(crate) fn dispatch_url(api: &str, repo: &str, workflow: &str) -> String {
    format!(
        "{}/repos/{}/actions/workflows/{}/dispatches",
        base(api),
        encode_path(repo),
        encode_segment(workflow)
    )
}

/// The URL of `path` in `repo` at `branch`: each path segment encoded, its slashes kept;
/// the branch as the `ref` query value (its slashes encoded).
pub(crate) fn file_url(api: &str, repo: &str, path: &str, branch: &str) -> String {
    format!(
        "{}/repos/{}/contents/{}?ref={}",
        base(api),
        encode_path(repo),
        encode_path(path),
        if_http::percent_encode(branch)
    )
}

/// The headers of every GitHub API request: media type, token (when there is one), API
/// version, User-Agent.
pub(crate) fn headers(
    accept: &str,
    token: Option<&Secret>,
    user_agent: &str,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![("Accept", accept.to_owned())];
    if let Some(token) = token {
        headers.push(("Authorization", format!("Bearer {}", token.expose())));
    }
    headers.push(("X-GitHub-Api-Version", API_VERSION.to_owned()));
    headers.push(("User-Agent", user_agent.to_owned()));
    headers
}

/// The dispatch body: the branch and every input as a string.
pub(crate) fn dispatch_body(branch: &str, inputs: &[(String, String)]) -> Value {
    let inputs: Map<String, Value> = inputs
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    json!({ "ref": branch, "inputs": inputs })
}

/// Dispatches the source's workflow on its branch.
pub(crate) fn dispatch(
    client: &Client,
    source: &Source,
    inputs: &[(String, String)],
) -> Result<Triggered, ForgeError> {
    let workflow = source
        .workflow
        .as_deref()
        .ok_or_else(|| ForgeError::MissingWorkflow {
            repo: source.repo.clone(),
        })?;
    if inputs.len() > MAX_INPUTS {
        return Err(ForgeError::TooManyInputs {
            count: inputs.len(),
            max: MAX_INPUTS,
        });
    }
    let token = client.token(Provider::Github)?;
    let mut headers = headers(ACCEPT, Some(token), &client.user_agent);
    headers.push(("Content-Type", "application/json".to_owned()));
    let call = Call {
        provider: Provider::Github,
        method: Method::Post,
        url: dispatch_url(&client.endpoints.github_api, &source.repo, workflow),
        headers,
        body: dispatch_body(&source.branch, inputs).to_string(),
        secrets: client.secrets(),
    };
    let reply = http::send(client, &call)?;
    match reply.status {
        200 | 204 => Ok(Triggered::Github),
        _ => Err(http::rejected(&call, &reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_keeps_repo_slash_and_encodes_workflow() {
        assert_eq!(
            dispatch_url("https://api.github.com/", "acme/app", "build image.yml"),
            "https://api.github.com/repos/acme/app/actions/workflows/build%20image.yml/dispatches"
        );
    }

    #[test]
    fn file_url_keeps_path_slashes_and_encodes_the_ref() {
        assert_eq!(
            file_url(
                "https://api.github.com",
                "acme/app",
                "docker/my app/Dockerfile",
                "release/1.x"
            ),
            "https://api.github.com/repos/acme/app/contents/docker/my%20app/Dockerfile?ref=release%2F1.x"
        );
    }

    #[test]
    fn headers_without_a_token_have_no_authorization() {
        let names: Vec<&str> = headers(ACCEPT_RAW, None, "ua/1")
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(names, ["Accept", "X-GitHub-Api-Version", "User-Agent"]);
    }

    #[test]
    fn body_has_ref_and_string_inputs() {
        let inputs = vec![("image".to_owned(), "app".to_owned())];
        assert_eq!(
            dispatch_body("main", &inputs),
            json!({"ref": "main", "inputs": {"image": "app"}})
        );
        assert_eq!(
            dispatch_body("dev", &[]),
            json!({"ref": "dev", "inputs": {}})
        );
    }
}
