//! The registry harness on its own, with a plain HTTP agent (no registry client): the
//! registry takes pushes and serves them through the counting proxy, the token server signs
//! what it is asked for, the fake registry answers from its queue.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use if_testkit::registry::net::{Answer, CountingProxy, FakeRegistry};
use if_testkit::registry::push::{OCI_INDEX, Pusher};
use if_testkit::registry::token::{SERVICE, TokenPolicy, TokenServer};
use if_testkit::registry::{RegistryAuth, registry_binary};
use serde_json::Value;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

#[test]
fn a_pushed_index_is_served_through_the_counting_proxy() {
    let registry = if_testkit::registry_or_skip!(RegistryAuth::None);
    assert!(registry_binary().is_some());
    let pushed = Pusher::new(&registry.addr, None).oci_index("lib/app", "1", "seed");
    assert_eq!(pushed.children.len(), 2);
    assert_eq!(
        registry.image("lib/app:1").to_string(),
        format!("{}/lib/app:1", registry.addr)
    );

    let proxy = CountingProxy::start(&registry.addr);
    let response = agent()
        .head(format!("http://{}/v2/lib/app/manifests/1", proxy.addr))
        .header("Accept", OCI_INDEX)
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let digest = response.headers().get("docker-content-digest").unwrap();
    assert_eq!(digest.to_str().unwrap(), pushed.digest.as_str());
    assert_eq!(proxy.requests(), ["HEAD /v2/lib/app/manifests/1"]);
    assert_eq!(proxy.count("HEAD", "/manifests/"), 1);
}

#[test]
fn the_token_server_checks_credentials_and_signs_the_scopes_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = TokenServer::start(
        dir.path(),
        TokenPolicy {
            require: Some("Basic dTpw".to_owned()),
            expires_in: 60,
        },
    );
    assert!(tokens.cert_path.is_file());
    let url = format!(
        "{}?service={SERVICE}&scope=repository%3Alib%2Fapp%3Apull",
        tokens.realm()
    );
    let refused = agent().get(&url).call().unwrap();
    assert_eq!(refused.status().as_u16(), 401);

    let mut granted = agent()
        .get(&url)
        .header("Authorization", "Basic dTpw")
        .call()
        .unwrap();
    assert_eq!(granted.status().as_u16(), 200);
    let body: Value = serde_json::from_str(&granted.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["expires_in"], 60);
    let token = body["token"].as_str().unwrap();
    let claims = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["aud"], SERVICE);
    assert_eq!(
        claims["access"],
        serde_json::json!([{"type": "repository", "name": "lib/app", "actions": ["pull"]}])
    );

    assert_eq!(tokens.count(), 2);
    let last = tokens.requests().pop().unwrap();
    assert_eq!(last.service.as_deref(), Some(SERVICE));
    assert_eq!(last.scopes, ["repository:lib/app:pull"]);
    assert_eq!(last.authorization.as_deref(), Some("Basic dTpw"));
}

#[test]
fn the_fake_registry_answers_from_its_queue_then_404() {
    let fake = FakeRegistry::start(vec![Answer::new(429).header("Retry-After", "1")]);
    fake.push(Answer::new(200).body(b"{}"));
    let url = format!("http://{}/v2/app/tags/list", fake.addr);
    let statuses: Vec<u16> = (0..3)
        .map(|_| agent().get(&url).call().unwrap().status().as_u16())
        .collect();
    assert_eq!(statuses, [429, 200, 404]);
    assert_eq!(fake.requests(), ["GET /v2/app/tags/list"; 3]);
}
