//! GitLab pipeline creation against the fake forge: the exact request, the id, the refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use if_forge::{ForgeError, Triggered, trigger};
use if_model::enrollment::Provider;
use if_testkit::Scripted;
use serde_json::json;

#[test]
fn pipeline_sends_exactly_the_documented_request() {
    let forge = forge();
    let client = client(&forge, fast_retry(1));
    let given = inputs(&[
        ("image", "svc"),
        ("reason", "base updated"),
        ("base_image", "x:1"),
    ]);
    let result = trigger(&client, &gitlab_source(), &given).unwrap();
    assert_eq!(
        result,
        Triggered::Gitlab {
            pipeline_id: 1000,
            web_url: Some(format!(
                "{}/acme/platform/svc/-/pipelines/1000",
                forge.url()
            )),
        }
    );

    let requests = forge.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/api/v4/projects/acme%2Fplatform%2Fsvc/pipeline");
    let host = forge.url().trim_start_matches("http://").to_owned();
    let user_agent = format!("image-factory/{}", env!("CARGO_PKG_VERSION"));
    let mut headers = r.headers.clone();
    headers.sort();
    let mut want: Vec<(String, String)> = vec![
        ("accept", "application/json".to_owned()),
        ("content-length", r.body.len().to_string()),
        ("content-type", "application/json".to_owned()),
        ("host", host),
        ("private-token", GITLAB_TOKEN.to_owned()),
        ("user-agent", user_agent),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v))
    .collect();
    want.sort();
    assert_eq!(headers, want);
    assert_eq!(
        r.json(),
        json!({"ref": "release", "variables": [
            {"key": "IMAGE_FACTORY_IMAGE", "value": "svc"},
            {"key": "IMAGE_FACTORY_REASON", "value": "base updated"},
            {"key": "IMAGE_FACTORY_BASE_IMAGE", "value": "x:1"},
            {"key": "IMAGE_FACTORY_JOB", "value": "build-image"},
        ]})
    );
    assert_eq!(r.response_status, 201);
    assert_eq!(r.violations, Vec::<String>::new());
}

#[test]
fn second_pipeline_gets_the_next_id_and_no_job_means_no_job_variable() {
    let forge = forge();
    let client = client(&forge, fast_retry(1));
    let mut source = gitlab_source();
    source.job = None;
    trigger(&client, &source, &[]).unwrap();
    let second = trigger(&client, &source, &inputs(&[("image", "svc")])).unwrap();
    assert!(
        matches!(
            second,
            Triggered::Gitlab {
                pipeline_id: 1001,
                ..
            }
        ),
        "{second:?}"
    );
    let requests = forge.requests();
    assert_eq!(
        requests[0].json(),
        json!({"ref": "release", "variables": []})
    );
    assert_eq!(
        requests[1].json(),
        json!({"ref": "release", "variables": [{"key": "IMAGE_FACTORY_IMAGE", "value": "svc"}]})
    );
}

#[test]
fn missing_token_fails_without_a_request() {
    let forge = forge();
    let client = client_with(endpoints(&forge), Some(GITHUB_TOKEN), None);
    let err = trigger(&client, &gitlab_source(), &[]).unwrap_err();
    assert!(
        matches!(
            err,
            ForgeError::MissingToken {
                provider: Provider::Gitlab,
                env: "GITLAB_TOKEN"
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("GITLAB_TOKEN"), "{err}");
    assert!(forge.requests().is_empty());
}

#[test]
fn wrong_token_fails_at_once_with_401_unauthorized() {
    let forge = forge();
    let client = client_with(endpoints(&forge), None, Some("glpat-WRONG"));
    let err = trigger(&client, &gitlab_source(), &[]).unwrap_err();
    assert!(
        matches!(
            err,
            ForgeError::Rejected {
                status: 401,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("401 Unauthorized"), "{err}");
    assert!(!format!("{err} {err:?}").contains("glpat-WRONG"));
    assert_eq!(forge.requests().len(), 1);
}

#[test]
fn error_and_object_messages_are_rendered_compactly() {
    let forge = forge();
    let client = client(&forge, fast_retry(3));
    forge.push_response(Scripted::status(400).json(&json!({"error": "variables is invalid"})));
    let err = trigger(&client, &gitlab_source(), &[]).unwrap_err();
    assert!(err.to_string().ends_with(": variables is invalid"), "{err}");

    forge.push_response(
        Scripted::status(400).json(&json!({"message": {"base": ["Reference not found"]}})),
    );
    let err = trigger(&client, &gitlab_source(), &[]).unwrap_err();
    assert!(
        err.to_string()
            .ends_with(r#": {"base":["Reference not found"]}"#),
        "{err}"
    );

    forge.push_response(Scripted::status(403).body("<html>forbidden</html>"));
    let err = trigger(&client, &gitlab_source(), &[]).unwrap_err();
    assert!(
        err.to_string().ends_with(": <html>forbidden</html>"),
        "{err}"
    );
    assert_eq!(forge.requests().len(), 3);
}

#[test]
fn created_without_an_id_is_an_invalid_response() {
    let forge = forge();
    forge.push_response(Scripted::status(201).json(&json!({"status": "created"})));
    let err = trigger(&client(&forge, fast_retry(3)), &gitlab_source(), &[]).unwrap_err();
    assert!(
        matches!(err, ForgeError::InvalidResponse { status: 201, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("`id`"), "{err}");
    assert_eq!(forge.requests().len(), 1);
}

/// GitLab's "Create a new pipeline" takes `inputs` (a hash, GitLab 17.10+) for a project whose
/// CI declares `spec:inputs`; a project that allows no pipeline variables refuses
/// `variables`, and one without `spec:inputs` refuses `inputs`.
#[test]
fn pipeline_inputs_replace_variables_where_the_project_asks_for_them() {
    let forge = forge();
    let client = client(&forge, fast_retry(1));
    let given = inputs(&[("image", "svc"), ("base_image", "x:1")]);
    let names = ["image", "base_image", "job"];
    forge.set_pipeline_inputs("acme/platform/svc", &names);

    // With variables, the inputs-only project refuses, and nothing runs.
    let err = trigger(&client, &gitlab_source(), &given).unwrap_err();
    assert!(
        matches!(err, ForgeError::Rejected { status: 400, .. }),
        "{err}"
    );
    assert!(forge.runs().is_empty());

    let mut source = gitlab_source();
    source.pipeline_inputs = true;
    let result = trigger(&client, &source, &given).unwrap();
    assert!(matches!(
        result,
        Triggered::Gitlab {
            pipeline_id: 1000,
            ..
        }
    ));
    let last = forge.requests().pop().unwrap();
    assert!(last.violations.is_empty(), "{last:#?}");
    assert_eq!(
        last.json(),
        json!({"ref": "release", "inputs": {
            "image": "svc", "base_image": "x:1", "job": "build-image"
        }})
    );

    // A project without spec:inputs refuses them.
    let mut other = source.clone();
    other.repo = "acme/other".to_owned();
    let err = trigger(&client, &other, &given).unwrap_err();
    assert!(
        matches!(err, ForgeError::Rejected { status: 400, .. }),
        "{err}"
    );
}
