//! The two trigger endpoints as documented: GitHub's "Create a workflow dispatch event"
//! (`ref`, string `inputs`, at most [`GITHUB_MAX_INPUTS`], an optional boolean
//! `return_run_details`) and GitLab's "Create a new pipeline" (`ref`, `variables` of `key`
//! and `value`); what passes becomes a [`Dispatch`] or a pipeline for `runs` to start.

use if_model::enrollment::Provider;
use serde_json::Value;

use super::{
    Answer, Dispatch, GITHUB_ACCEPT, GITHUB_MAX_INPUTS, Tokens, Verdict, expect_github_headers,
    refused_since, sent_token, single, unauthorized,
};
use crate::wire::Request;

fn expect_json_content_type(request: &Request, violations: &mut Vec<String>) {
    match single(request, "content-type", violations) {
        Some(ct) if ct == "application/json" || ct.starts_with("application/json;") => {}
        Some(ct) => violations.push(format!("content-type is {ct:?}, want application/json")),
        None => violations.push("content-type missing, want application/json".to_owned()),
    }
}

pub(crate) fn check_github(
    request: &Request,
    tokens: &Tokens,
    mut violations: Vec<String>,
    repo: String,
    workflow: String,
) -> Verdict {
    if sent_token(request, Provider::Github, tokens, &mut violations) != Ok(true) {
        return unauthorized(
            Provider::Github,
            violations,
            "authorization: missing or wrong GitHub token",
        );
    }
    let before_headers = violations.len();
    expect_github_headers(request, GITHUB_ACCEPT, &mut violations);
    expect_json_content_type(request, &mut violations);
    if violations.len() > before_headers {
        return refused_since(violations, before_headers, 400, "message");
    }
    let before_body = violations.len();
    let body = check_github_body(&request.body, &mut violations);
    let Some((branch, inputs, run_details)) = body.filter(|_| violations.len() == before_body)
    else {
        return refused_since(violations, before_body, 422, "message");
    };
    let dispatch = Dispatch {
        repo,
        workflow,
        branch,
        inputs,
        run_details,
    };
    Verdict {
        violations,
        answer: Answer::Dispatched(dispatch),
    }
}

/// What a dispatch body says: the branch, the inputs, and `return_run_details` (a boolean
/// when present).
type DispatchBody = (String, Vec<(String, String)>, Option<bool>);

fn check_github_body(body: &[u8], violations: &mut Vec<String>) -> Option<DispatchBody> {
    let object = json_object(body, violations)?;
    let branch = expect_ref(&object, violations);
    let run_details = match object.get("return_run_details") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            violations.push(format!("`return_run_details` is not a boolean: {other}"));
            None
        }
    };
    let mut given = Vec::new();
    if let Some(inputs) = object.get("inputs") {
        match inputs.as_object() {
            None => violations.push("`inputs` is not an object".to_owned()),
            Some(inputs) => {
                if inputs.len() > GITHUB_MAX_INPUTS {
                    violations.push(format!(
                        "{} inputs, GitHub accepts at most {GITHUB_MAX_INPUTS}",
                        inputs.len()
                    ));
                }
                for (name, value) in inputs {
                    match value.as_str() {
                        Some(value) => given.push((name.clone(), value.to_owned())),
                        None => {
                            violations.push(format!("input {name:?} is not a string: {value}"));
                        }
                    }
                }
            }
        }
    }
    for key in object
        .keys()
        .filter(|k| !["ref", "inputs", "return_run_details"].contains(&k.as_str()))
    {
        violations.push(format!("unexpected body field {key:?}"));
    }
    Some((branch?, given, run_details))
}

pub(crate) fn check_gitlab(
    request: &Request,
    tokens: &Tokens,
    mut violations: Vec<String>,
    project: String,
) -> Verdict {
    if sent_token(request, Provider::Gitlab, tokens, &mut violations) != Ok(true) {
        return unauthorized(
            Provider::Gitlab,
            violations,
            "private-token: missing or wrong GitLab token",
        );
    }
    let before = violations.len();
    expect_json_content_type(request, &mut violations);
    let declared = tokens.pipeline_inputs.get(&project);
    let body = check_gitlab_body(&request.body, declared, &mut violations);
    let Some((reference, variables)) = body.filter(|_| violations.len() == before) else {
        return refused_since(violations, before, 400, "error");
    };
    Verdict {
        violations,
        answer: Answer::PipelineCreated {
            project,
            reference,
            variables,
        },
    }
}

/// The branch and the variables (`key`, `value`) of a pipeline body.
type PipelineBody = (String, Vec<(String, String)>);

/// `declared`: the project's `spec:inputs` names, when it has them (then pipeline variables
/// are not allowed, as for a new GitLab.com namespace, and the values must come as
/// `inputs`); a project without them refuses `inputs`.
fn check_gitlab_body(
    body: &[u8],
    declared: Option<&Vec<String>>,
    violations: &mut Vec<String>,
) -> Option<PipelineBody> {
    let object = json_object(body, violations)?;
    let reference = expect_ref(&object, violations);
    let mut given = Vec::new();
    if let Some(inputs) = object.get("inputs") {
        match (inputs.as_object(), declared) {
            (_, None) => violations.push(
                "`inputs` given, but the project's CI configuration declares no spec:inputs"
                    .to_owned(),
            ),
            (None, Some(_)) => violations.push("`inputs` is not an object".to_owned()),
            (Some(inputs), Some(declared)) => {
                for (name, value) in inputs {
                    if !declared.contains(name) {
                        violations.push(format!("unknown input `{name}` (not in spec:inputs)"));
                    }
                    match value.as_str() {
                        Some(v) => given.push((name.clone(), v.to_owned())),
                        None => violations.push(format!("input `{name}` is not a string")),
                    }
                }
            }
        }
    }
    if declared.is_some() && object.contains_key("variables") {
        violations.push(
            "Insufficient permissions to set pipeline variables (the project allows inputs only)"
                .to_owned(),
        );
    }
    if let Some(variables) = object.get("variables") {
        match variables.as_array() {
            None => violations.push("`variables` is not an array".to_owned()),
            Some(variables) => {
                for (i, variable) in variables.iter().enumerate() {
                    check_variable(i, variable, violations);
                    let text = |k: &str| variable.get(k).and_then(Value::as_str);
                    if let (Some(key), Some(value)) = (text("key"), text("value")) {
                        given.push((key.to_owned(), value.to_owned()));
                    }
                }
            }
        }
    }
    for key in object
        .keys()
        .filter(|k| !["ref", "variables", "inputs"].contains(&k.as_str()))
    {
        violations.push(format!("unexpected body field {key:?}"));
    }
    Some((reference?, given))
}

fn check_variable(i: usize, variable: &Value, violations: &mut Vec<String>) {
    let Some(fields) = variable.as_object() else {
        violations.push(format!("variables[{i}] is not an object"));
        return;
    };
    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["key", "value"] {
        violations.push(format!(
            "variables[{i}] has fields {keys:?}, want exactly key and value"
        ));
    }
    match fields.get("key").and_then(Value::as_str) {
        Some(key) if !key.is_empty() => {}
        _ => violations.push(format!("variables[{i}].key is not a non-empty string")),
    }
    if fields.get("value").is_some_and(|v| !v.is_string()) {
        violations.push(format!("variables[{i}].value is not a string"));
    }
}

fn json_object(
    body: &[u8],
    violations: &mut Vec<String>,
) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Some(object),
        Ok(other) => {
            violations.push(format!("body is not a JSON object: {other}"));
            None
        }
        Err(err) => {
            violations.push(format!("body is not JSON: {err}"));
            None
        }
    }
}

fn expect_ref(
    object: &serde_json::Map<String, Value>,
    violations: &mut Vec<String>,
) -> Option<String> {
    match object.get("ref") {
        Some(Value::String(r)) if !r.is_empty() => Some(r.clone()),
        Some(other) => {
            violations.push(format!("`ref` is not a non-empty string: {other}"));
            None
        }
        None => {
            violations.push("`ref` missing".to_owned());
            None
        }
    }
}
