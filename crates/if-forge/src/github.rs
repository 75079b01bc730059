//! GitHub's REST API: `workflow_dispatch`, the state of a workflow run, the list of a
//! workflow's runs, and the URL and headers of a raw file.
//!
//! `POST {api}/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with
//! `{"ref": branch, "inputs": {...}, "return_run_details": true}`; GitHub answers 200 with
//! `{"workflow_run_id", "run_url", "html_url"}` ("Create a workflow dispatch event"; without
//! `return_run_details`, 204). An older GitHub Enterprise Server answers 422 naming
//! `return_run_details` as not permitted: the dispatch is sent once more without it.
//! `GET {api}/repos/{owner}/{repo}/actions/runs/{id}` ("Get a workflow run") and
//! `GET {api}/repos/{owner}/{repo}/actions/workflows/{workflow}/runs?event=workflow_dispatch
//! &branch=&created=>=T&per_page=100` ("List workflow runs for a workflow").
//! `GET {api}/repos/{owner}/{repo}/contents/{path}?ref={branch}` with the raw media type
//! answers the file's bytes ("Get repository content"); `fetch` reads the answer.

use if_model::enrollment::{Provider, Source};
use serde_json::{Map, Value, json};

use if_model::timestamp::Timestamp;

use crate::error::ForgeError;
use crate::http::{self, Call, Method, Reply};
use crate::path::{base, encode_path, encode_segment};
use crate::runs::{GithubRun, github_run};
use crate::{Client, RunLink, RunStatus, Secret, Triggered};

/// The most inputs a `workflow_dispatch` accepts: 25 (it was 10), as GitHub's "Workflow
/// syntax for GitHub Actions" (`on.workflow_dispatch.inputs`) documents.
pub(crate) const MAX_INPUTS: usize = 25;
/// The body field that asks a dispatch for the run it created.
pub(crate) const RUN_DETAILS: &str = "return_run_details";
/// The most runs one list request asks for (GitHub's maximum `per_page`).
pub(crate) const RUNS_PER_PAGE: u32 = 100;
/// The REST API version this code speaks.
pub(crate) const API_VERSION: &str = "2022-11-28";
/// GitHub's JSON media type.
pub(crate) const ACCEPT: &str = "application/vnd.github+json";
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

/// The URL of run `id` in `repo`.
pub(crate) fn run_url(api: &str, repo: &str, id: u64) -> String {
    format!(
        "{}/repos/{}/actions/runs/{id}",
        base(api),
        encode_path(repo)
    )
}

/// The URL listing `workflow`'s runs dispatched on `branch` since `created_since`: every
/// query value percent-encoded (the `created` filter is GitHub's search date syntax
/// `>=YYYY-MM-DDTHH:MM:SSZ`).
pub(crate) fn runs_url(
    api: &str,
    repo: &str,
    workflow: &str,
    branch: &str,
    created_since: &str,
) -> String {
    format!(
        "{}/repos/{}/actions/workflows/{}/runs?event=workflow_dispatch&branch={}&created={}\
         &per_page={RUNS_PER_PAGE}",
        base(api),
        encode_path(repo),
        encode_segment(workflow),
        if_http::percent_encode(branch),
        if_http::percent_encode(&format!(">={created_since}"))
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

/// The dispatch body: the branch, every input as a string, and `return_run_details: true`
/// when `run_details`.
pub(crate) fn dispatch_body(branch: &str, inputs: &[(String, String)], run_details: bool) -> Value {
    let inputs: Map<String, Value> = inputs
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    let mut body = json!({ "ref": branch, "inputs": inputs });
    if run_details {
        body[RUN_DETAILS] = Value::Bool(true);
    }
    body
}

/// The source's workflow, or `MissingWorkflow`.
fn workflow(source: &Source) -> Result<&str, ForgeError> {
    source
        .workflow
        .as_deref()
        .ok_or_else(|| ForgeError::MissingWorkflow {
            repo: source.repo.clone(),
        })
}

/// Dispatches the source's workflow on its branch, asking for run details unless the
/// client learned that its API does not take them; on the 422 naming
/// `return_run_details`, learns that and dispatches once more without.
pub(crate) fn dispatch(
    client: &Client,
    source: &Source,
    inputs: &[(String, String)],
) -> Result<Triggered, ForgeError> {
    let workflow = workflow(source)?;
    if inputs.len() > MAX_INPUTS {
        return Err(ForgeError::TooManyInputs {
            count: inputs.len(),
            max: MAX_INPUTS,
        });
    }
    let token = client.token(Provider::Github)?;
    let call = |run_details: bool| {
        let mut headers = headers(ACCEPT, Some(&token), &client.user_agent);
        headers.push(("Content-Type", "application/json".to_owned()));
        Call {
            provider: Provider::Github,
            method: Method::Post,
            url: dispatch_url(&client.endpoints.github_api, &source.repo, workflow),
            headers,
            body: dispatch_body(&source.branch, inputs, run_details).to_string(),
            secrets: client.secrets(),
        }
    };
    let asked = !client.run_details_unsupported();
    let first = call(asked);
    let reply = http::send(client, &first)?;
    if asked && refuses_run_details(&reply) {
        // The refused dispatch started nothing: sending it again without the field is safe.
        client.learn_no_run_details();
        let second = call(false);
        let reply = http::send(client, &second)?;
        return dispatched(&second, &reply);
    }
    dispatched(&first, &reply)
}

/// An older GitHub Enterprise Server's answer to `return_run_details`: 422, its message
/// naming the field ("\"return_run_details\" is not a permitted key.").
fn refuses_run_details(reply: &Reply) -> bool {
    reply.status == 422 && !reply.oversize && reply.text().contains(RUN_DETAILS)
}

/// What a dispatch's answer says: 204 accepted without details; 200 with the run's id and
/// page. A 200 whose body lacks a numeric `workflow_run_id` still started a build, so it
/// is accepted, without a run.
fn dispatched(call: &Call, reply: &Reply) -> Result<Triggered, ForgeError> {
    match reply.status {
        204 => Ok(Triggered::Github { run: None }),
        200 => {
            let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
            let run = body
                .get("workflow_run_id")
                .and_then(Value::as_u64)
                .map(|id| RunLink {
                    id,
                    html_url: body
                        .get("html_url")
                        .and_then(Value::as_str)
                        .map(|url| call.scrub(url)),
                });
            Ok(Triggered::Github { run })
        }
        _ => Err(http::rejected(call, reply)),
    }
}

/// A GET of the JSON API with the token.
fn api_get(client: &Client, url: String) -> Result<Call, ForgeError> {
    let token = client.token(Provider::Github)?;
    Ok(Call {
        provider: Provider::Github,
        method: Method::Get,
        url,
        headers: headers(ACCEPT, Some(&token), &client.user_agent),
        body: String::new(),
        secrets: client.secrets(),
    })
}

/// The JSON body of a 200, or the error for any other answer.
fn json_reply(call: &Call, reply: &Reply) -> Result<Value, ForgeError> {
    if reply.status != 200 {
        return Err(http::rejected(call, reply));
    }
    serde_json::from_slice(&reply.body)
        .map_err(|_| http::invalid_response(call, reply, "the body is not JSON"))
}

/// A run's status with its URL scrubbed.
fn scrubbed(call: &Call, mut run: GithubRun) -> GithubRun {
    run.status.url = run.status.url.map(|url| call.scrub(&url));
    run
}

/// "Get a workflow run".
pub(crate) fn run_status(
    client: &Client,
    source: &Source,
    id: u64,
) -> Result<RunStatus, ForgeError> {
    let call = api_get(
        client,
        run_url(&client.endpoints.github_api, &source.repo, id),
    )?;
    let reply = http::send(client, &call)?;
    let body = json_reply(&call, &reply)?;
    let run =
        github_run(&body).map_err(|problem| http::invalid_response(&call, &reply, problem))?;
    Ok(scrubbed(&call, run).status)
}

/// "List workflow runs for a workflow", filtered by GitHub on event, branch and creation,
/// and here on the marker (and, when both parse, the creation time again); the newest.
pub(crate) fn find_run(
    client: &Client,
    source: &Source,
    created_since: &str,
    marker: &str,
) -> Result<Option<RunStatus>, ForgeError> {
    let workflow = workflow(source)?;
    let url = runs_url(
        &client.endpoints.github_api,
        &source.repo,
        workflow,
        &source.branch,
        created_since,
    );
    let call = api_get(client, url)?;
    let reply = http::send(client, &call)?;
    let body = json_reply(&call, &reply)?;
    let runs = body
        .get("workflow_runs")
        .and_then(Value::as_array)
        .ok_or_else(|| http::invalid_response(&call, &reply, "no `workflow_runs` array"))?;
    let since = Timestamp::parse(created_since).ok();
    let mut newest: Option<(Option<Timestamp>, GithubRun)> = None;
    for run in runs {
        let titled = run
            .get("display_title")
            .and_then(Value::as_str)
            .is_some_and(|title| title.contains(marker));
        if !titled {
            continue;
        }
        let run =
            github_run(run).map_err(|problem| http::invalid_response(&call, &reply, problem))?;
        let created = run
            .created_at
            .as_deref()
            .and_then(|c| Timestamp::parse(c).ok());
        if matches!((since, created), (Some(since), Some(created)) if created < since) {
            continue;
        }
        let newer = newest
            .as_ref()
            .is_none_or(|(at, best)| (created, run.status.id) > (*at, best.status.id));
        if newer {
            newest = Some((created, run));
        }
    }
    Ok(newest.map(|(_, run)| scrubbed(&call, run).status))
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
            dispatch_body("main", &inputs, false),
            json!({"ref": "main", "inputs": {"image": "app"}})
        );
        assert_eq!(
            dispatch_body("dev", &[], false),
            json!({"ref": "dev", "inputs": {}})
        );
    }

    #[test]
    fn body_asks_for_run_details_as_a_boolean() {
        assert_eq!(
            dispatch_body("main", &[], true),
            json!({"ref": "main", "inputs": {}, "return_run_details": true})
        );
    }

    #[test]
    fn run_urls() {
        assert_eq!(
            run_url("https://api.github.com/", "acme/app", 42),
            "https://api.github.com/repos/acme/app/actions/runs/42"
        );
        // GitHub's search date syntax, percent-encoded: `>=` is %3E%3D, `:` is %3A.
        assert_eq!(
            runs_url(
                "https://api.github.com",
                "acme/app",
                "build image.yml",
                "release/1.x",
                "2027-01-01T00:00:00Z"
            ),
            "https://api.github.com/repos/acme/app/actions/workflows/build%20image.yml/runs\
             ?event=workflow_dispatch&branch=release%2F1.x\
             &created=%3E%3D2027-01-01T00%3A00%3A00Z&per_page=100"
        );
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            oversize: false,
            mime_type: Some("application/json".to_owned()),
            content_length: None,
            attempts: 1,
        }
    }

    #[test]
    fn the_ghes_refusal_names_the_field() {
        let ghes = r#"{"message":"Invalid request.\n\n\"return_run_details\" is not a permitted key.","documentation_url":"https://docs.github.com/enterprise-server@3.14/rest","status":"422"}"#;
        assert!(refuses_run_details(&reply(422, ghes)));
        let other = r#"{"message":"Unexpected inputs provided: [\"x\"]"}"#;
        assert!(!refuses_run_details(&reply(422, other)));
        assert!(!refuses_run_details(&reply(400, ghes)));
    }

    #[test]
    fn dispatch_answers() {
        let secret = Secret::new("tok".to_owned());
        let call = Call {
            provider: Provider::Github,
            method: Method::Post,
            url: "u".to_owned(),
            headers: Vec::new(),
            body: String::new(),
            secrets: vec![secret.clone()],
        };
        let with =
            r#"{"workflow_run_id":5000,"run_url":"https://api/x","html_url":"https://h/tok/5000"}"#;
        assert_eq!(
            dispatched(&call, &reply(200, with)).unwrap(),
            Triggered::Github {
                run: Some(RunLink {
                    id: 5000,
                    html_url: Some("https://h/***/5000".to_owned())
                })
            }
        );
        assert_eq!(
            dispatched(&call, &reply(204, "")).unwrap(),
            Triggered::Github { run: None }
        );
        // A 200 that does not say which run still started one.
        assert_eq!(
            dispatched(&call, &reply(200, "{}")).unwrap(),
            Triggered::Github { run: None }
        );
        assert!(dispatched(&call, &reply(201, "")).is_err());
    }
}
