//! GitLab's REST API: creating a pipeline, its state, and the URL and headers of a raw file.
//!
//! `POST {api}/projects/{url-encoded path}/pipeline` with `{"ref": branch, "variables":
//! [{"key": ..., "value": ...}]}`, or, for a source with `pipelineInputs: true`, `{"ref":
//! branch, "inputs": {name: value, ...}}` (GitLab 17.10+: "Create a new pipeline" takes an
//! `inputs` hash for the project's `spec:inputs`, for projects where pipeline variables are
//! not allowed); GitLab answers 201 with the pipeline (`id`, `web_url`).
//! `GET {api}/projects/{url-encoded path}/pipelines/{pipeline_id}` ("Get a single pipeline")
//! answers its `status` and `web_url`.
//! `GET {api}/projects/{url-encoded path}/repository/files/{url-encoded file path}/raw?ref=`
//! answers the file's bytes ("Get raw file from repository"); `fetch` reads the answer.

use if_model::enrollment::{Provider, Source};
use serde_json::{Value, json};

use crate::error::ForgeError;
use crate::http::{self, Call, Method, Reply};
use crate::path::{base, encode_segment};
use crate::runs::gitlab_pipeline;
use crate::{Client, RunStatus, Secret, Triggered};

/// The prefix of every variable the factory passes.
pub(crate) const VARIABLE_PREFIX: &str = "IMAGE_FACTORY_";
/// The variable that names the job to run (from `source.job`).
pub(crate) const JOB_VARIABLE: &str = "IMAGE_FACTORY_JOB";
/// The input that names the job to run when the values go as `inputs`.
pub(crate) const JOB_INPUT: &str = "job";

/// The pipeline-creation URL of `project` (its full path, encoded as one segment).
pub(crate) fn pipeline_url(api: &str, project: &str) -> String {
    format!(
        "{}/projects/{}/pipeline",
        base(api),
        encode_segment(project)
    )
}

/// The URL of pipeline `id` of `project`.
pub(crate) fn pipeline_status_url(api: &str, project: &str, id: u64) -> String {
    format!(
        "{}/projects/{}/pipelines/{id}",
        base(api),
        encode_segment(project)
    )
}

/// The raw-file URL of `path` in `project` at `branch`: the project and the file path each
/// encoded as one segment (their slashes as `%2F`), the branch as the `ref` query value.
pub(crate) fn file_url(api: &str, project: &str, path: &str, branch: &str) -> String {
    format!(
        "{}/projects/{}/repository/files/{}/raw?ref={}",
        base(api),
        encode_segment(project),
        encode_segment(path),
        if_http::percent_encode(branch)
    )
}

/// The headers of a pipeline request: token, media type, User-Agent.
pub(crate) fn headers(token: &Secret, user_agent: &str) -> Vec<(&'static str, String)> {
    vec![
        ("PRIVATE-TOKEN", token.expose().to_owned()),
        ("Accept", "application/json".to_owned()),
        ("User-Agent", user_agent.to_owned()),
    ]
}

/// The headers of a raw-file request: the token when there is one, `Accept: */*` (the
/// answer is the file's bytes, in whatever type GitLab gives), User-Agent.
pub(crate) fn file_headers(
    token: Option<&Secret>,
    user_agent: &str,
) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if let Some(token) = token {
        headers.push(("PRIVATE-TOKEN", token.expose().to_owned()));
    }
    headers.push(("Accept", "*/*".to_owned()));
    headers.push(("User-Agent", user_agent.to_owned()));
    headers
}

/// The variable name of an input: `base_image` becomes `IMAGE_FACTORY_BASE_IMAGE`.
pub(crate) fn variable_key(input: &str) -> String {
    format!("{VARIABLE_PREFIX}{}", input.to_ascii_uppercase())
}

/// The pipeline body: the branch, then the values as variables in order (then the job if
/// set), or, with `pipelineInputs`, as the `inputs` object under their own names (and `job`).
pub(crate) fn pipeline_body(source: &Source, inputs: &[(String, String)]) -> Value {
    if source.pipeline_inputs {
        let mut map: serde_json::Map<String, Value> = inputs
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        if let Some(job) = &source.job {
            map.insert(JOB_INPUT.to_owned(), Value::String(job.clone()));
        }
        return json!({ "ref": source.branch, "inputs": map });
    }
    let mut variables: Vec<Value> = inputs
        .iter()
        .map(|(name, value)| json!({ "key": variable_key(name), "value": value }))
        .collect();
    if let Some(job) = &source.job {
        variables.push(json!({ "key": JOB_VARIABLE, "value": job }));
    }
    json!({ "ref": source.branch, "variables": variables })
}

/// Creates a pipeline on the source's branch and returns its id.
pub(crate) fn create_pipeline(
    client: &Client,
    source: &Source,
    inputs: &[(String, String)],
) -> Result<Triggered, ForgeError> {
    let token = client.token(Provider::Gitlab)?;
    let mut headers = headers(&token, &client.user_agent);
    headers.push(("Content-Type", "application/json".to_owned()));
    let call = Call {
        provider: Provider::Gitlab,
        method: Method::Post,
        url: pipeline_url(&client.endpoints.gitlab_api, &source.repo),
        headers,
        body: pipeline_body(source, inputs).to_string(),
        secrets: client.secrets(),
    };
    let reply = http::send(client, &call)?;
    match reply.status {
        200 | 201 => created(&call, &reply),
        _ => Err(http::rejected(&call, &reply)),
    }
}

/// "Get a single pipeline".
pub(crate) fn pipeline_status(
    client: &Client,
    source: &Source,
    id: u64,
) -> Result<RunStatus, ForgeError> {
    let token = client.token(Provider::Gitlab)?;
    let call = Call {
        provider: Provider::Gitlab,
        method: Method::Get,
        url: pipeline_status_url(&client.endpoints.gitlab_api, &source.repo, id),
        headers: headers(&token, &client.user_agent),
        body: String::new(),
        secrets: client.secrets(),
    };
    let reply = http::send(client, &call)?;
    if reply.status != 200 {
        return Err(http::rejected(&call, &reply));
    }
    let pipeline: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| http::invalid_response(&call, &reply, "the body is not JSON"))?;
    let mut status = gitlab_pipeline(&pipeline)
        .map_err(|problem| http::invalid_response(&call, &reply, problem))?;
    status.url = status.url.map(|url| call.scrub(&url));
    Ok(status)
}

/// Reads `id` and `web_url` from the created pipeline.
fn created(call: &Call, reply: &Reply) -> Result<Triggered, ForgeError> {
    let pipeline: Value = serde_json::from_slice(&reply.body)
        .map_err(|_| http::invalid_response(call, reply, "the body is not JSON"))?;
    let pipeline_id = pipeline
        .get("id")
        .and_then(Value::as_u64)
        .ok_or_else(|| http::invalid_response(call, reply, "no numeric pipeline `id`"))?;
    let web_url = pipeline
        .get("web_url")
        .and_then(Value::as_str)
        .map(|url| call.scrub(url));
    Ok(Triggered::Gitlab {
        pipeline_id,
        web_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(job: Option<&str>) -> Source {
        Source {
            provider: Provider::Gitlab,
            repo: "acme/platform/svc".to_owned(),
            branch: "main".to_owned(),
            dockerfile: "Dockerfile".to_owned(),
            workflow: None,
            pipeline: None,
            job: job.map(str::to_owned),
            api: None,
            pipeline_inputs: false,
        }
    }

    #[test]
    fn url_encodes_the_project_path() {
        assert_eq!(
            pipeline_url("https://gitlab.com/api/v4", "acme/platform/svc"),
            "https://gitlab.com/api/v4/projects/acme%2Fplatform%2Fsvc/pipeline"
        );
    }

    #[test]
    fn file_url_encodes_project_path_and_ref_as_single_values() {
        assert_eq!(
            file_url(
                "https://gitlab.com/api/v4/",
                "acme/svc",
                "docker/app.Dockerfile",
                "release/1.x"
            ),
            "https://gitlab.com/api/v4/projects/acme%2Fsvc/repository/files/\
             docker%2Fapp.Dockerfile/raw?ref=release%2F1.x"
        );
    }

    #[test]
    fn pipeline_status_url_encodes_the_project_path() {
        assert_eq!(
            pipeline_status_url("https://gitlab.com/api/v4/", "acme/platform/svc", 1000),
            "https://gitlab.com/api/v4/projects/acme%2Fplatform%2Fsvc/pipelines/1000"
        );
    }

    #[test]
    fn keys_are_prefixed_and_uppercased() {
        assert_eq!(variable_key("base_image"), "IMAGE_FACTORY_BASE_IMAGE");
    }

    #[test]
    fn body_lists_inputs_in_order_then_the_job() {
        let inputs = vec![
            ("reason".to_owned(), "r".to_owned()),
            ("image".to_owned(), "i".to_owned()),
        ];
        assert_eq!(
            pipeline_body(&source(Some("build")), &inputs),
            json!({"ref": "main", "variables": [
                {"key": "IMAGE_FACTORY_REASON", "value": "r"},
                {"key": "IMAGE_FACTORY_IMAGE", "value": "i"},
                {"key": "IMAGE_FACTORY_JOB", "value": "build"},
            ]})
        );
        assert_eq!(
            pipeline_body(&source(None), &[]),
            json!({"ref": "main", "variables": []})
        );
    }

    #[test]
    fn pipeline_inputs_go_as_an_inputs_object_under_their_names() {
        let inputs = vec![
            ("reason".to_owned(), "r".to_owned()),
            ("base_image".to_owned(), "i".to_owned()),
        ];
        let mut s = source(Some("build"));
        s.pipeline_inputs = true;
        assert_eq!(
            pipeline_body(&s, &inputs),
            json!({"ref": "main", "inputs": {"reason": "r", "base_image": "i", "job": "build"}})
        );
        s.job = None;
        assert_eq!(pipeline_body(&s, &[]), json!({"ref": "main", "inputs": {}}));
    }
}
