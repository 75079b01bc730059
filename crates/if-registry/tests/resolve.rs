//! `resolve_digest` against a real registry (distribution 2.8): the digest of what the tag
//! points to (an index's own, never a child's), updates, 404s, mirrors; and against a
//! scripted fake for answers a real registry never gives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::net::{Answer, FakeRegistry};
use common::push::Pusher;
use common::{RegistryAuth, client, fast_retry};
use if_model::digest::Digest;
use if_model::reference::ImageRef;
use if_registry::{
    Client, Config, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST_V2, OCI_INDEX, OCI_MANIFEST,
    RegistryError, resolve_all, resolve_digest,
};

#[test]
fn tags_resolve_to_the_digest_of_what_they_point_to() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let push = Pusher::new(&registry.addr, None);
    let index = push.oci_index("multi/oci", "1", "a");
    let list = push.docker_list("multi/docker", "1", "b");
    let oci = push.oci_manifest("single/oci", "1", "c");
    let docker = push.docker_manifest("single/docker", "1", "d");
    let client = client();

    let cases = [
        ("multi/oci:1", &index, OCI_INDEX),
        ("multi/docker:1", &list, DOCKER_MANIFEST_LIST),
        ("single/oci:1", &oci, OCI_MANIFEST),
        ("single/docker:1", &docker, DOCKER_MANIFEST_V2),
    ];
    for (path, pushed, media_type) in cases {
        let resolved = resolve_digest(&client, &registry.image(path)).unwrap();
        assert_eq!(resolved.digest, pushed.digest, "{path}");
        assert!(
            !pushed.children.contains(&resolved.digest),
            "{path}: a child's digest"
        );
        assert_eq!(resolved.media_type.as_deref(), Some(media_type), "{path}");
        assert_eq!(resolved.requests, 1, "{path}: one HEAD");
        assert_eq!(resolved.host, registry.addr);
        assert!(resolved.rate_limit.is_none() && resolved.mirror_failure.is_none());
    }
    assert_eq!(index.children.len(), 2);

    // By digest: the same digest back.
    let pinned = registry.image(&format!("multi/oci@{}", index.digest));
    assert_eq!(
        resolve_digest(&client, &pinned).unwrap().digest,
        index.digest
    );
}

#[test]
fn repushing_a_tag_changes_the_resolved_digest() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let push = Pusher::new(&registry.addr, None);
    let client = client();
    let image = registry.image("app:stable");
    let first = push.oci_index("app", "stable", "v1");
    assert_eq!(
        resolve_digest(&client, &image).unwrap().digest,
        first.digest
    );
    let second = push.oci_index("app", "stable", "v2");
    assert_ne!(first.digest, second.digest);
    assert_eq!(
        resolve_digest(&client, &image).unwrap().digest,
        second.digest
    );
    // Same content again: same digest (content addressing).
    let third = push.oci_index("app", "stable", "v2");
    assert_eq!(third.digest, second.digest);
}

#[test]
fn unknown_tag_and_unknown_repository_are_not_found() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let push = Pusher::new(&registry.addr, None);
    push.oci_manifest("known", "1", "x");
    let client = client();

    let err = resolve_digest(&client, &registry.image("known:nope")).unwrap_err();
    let RegistryError::NotFound {
        ref subject,
        ref code,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!(subject.reference.as_deref(), Some("nope"));
    assert_eq!(subject.repository, "known");
    assert_eq!(subject.registry, registry.addr);
    assert_eq!(code.as_deref(), Some("MANIFEST_UNKNOWN"));
    let text = err.to_string();
    assert!(
        text.contains(&format!("{}/known:nope", registry.addr)),
        "{text}"
    );

    let err = resolve_digest(&client, &registry.image("never/pushed:1")).unwrap_err();
    assert!(matches!(err, RegistryError::NotFound { .. }), "{err:?}");
    assert_eq!(err.subject().repository, "never/pushed");

    // One failure does not stop the others.
    let images = [
        registry.image("known:1"),
        registry.image("known:nope"),
        registry.image("known:1"),
    ];
    let results = resolve_all(&client, &images, 2);
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    assert!(matches!(results[1], Err(RegistryError::NotFound { .. })));
}

#[test]
fn resolve_all_keeps_input_order() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let push = Pusher::new(&registry.addr, None);
    let mut expected = Vec::new();
    let mut images = Vec::new();
    for i in 0..12 {
        let repo = format!("r{}", i % 3);
        expected.push(
            push.oci_manifest(&repo, &format!("t{i}"), &format!("s{i}"))
                .digest,
        );
        images.push(registry.image(&format!("{repo}:t{i}")));
    }
    let client = client();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results = if_registry::resolve_all_with_progress(&client, &images, 4, &|n, total| {
        assert!(n <= total && total == 12);
        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    let digests: Vec<Digest> = results.into_iter().map(|r| r.unwrap().digest).collect();
    assert_eq!(digests, expected);
    assert_eq!(done.into_inner(), 12);
    assert_eq!(client.stats().requests, 12);
    assert!(resolve_all(&client, &[], 8).is_empty());
}

#[test]
fn a_failing_mirror_falls_back_to_the_registry() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let pushed = Pusher::new(&registry.addr, None).oci_manifest("app", "1", "m");
    let image = registry.image("app:1");

    // A mirror that is down: the registry answers, and the mirror's failure is reported.
    let dead = format!("127.0.0.1:{}", common::free_port());
    let client = mirrored(&registry.addr, &dead);
    let resolved = resolve_digest(&client, &image).unwrap();
    assert_eq!(resolved.digest, pushed.digest);
    assert_eq!(resolved.host, registry.addr);
    assert!(
        matches!(resolved.mirror_failure.as_deref(), Some(RegistryError::Connection { host, .. }) if *host == dead)
    );

    // A mirror over plain HTTP to a host that is not loopback: refused without a request.
    let client = mirrored(&registry.addr, "http://mirror.example.com");
    let resolved = resolve_digest(&client, &image).unwrap();
    assert!(matches!(
        resolved.mirror_failure.as_deref(),
        Some(RegistryError::InsecureRefused {
            purpose: "mirror",
            ..
        })
    ));
    assert_eq!(resolved.requests, 1);

    // A working mirror (a second registry holding other content for the same tag) wins.
    let mirror = registry_or_skip!(RegistryAuth::None);
    let mirrored_copy = Pusher::new(&mirror.addr, None).oci_manifest("app", "1", "other");
    let client = mirrored(&registry.addr, &mirror.addr);
    let resolved = resolve_digest(&client, &image).unwrap();
    assert_eq!(resolved.digest, mirrored_copy.digest);
    assert_eq!(resolved.host, mirror.addr);
    assert!(resolved.mirror_failure.is_none());
}

fn mirrored(registry: &str, mirror: &str) -> Client {
    let mut config = Config {
        retry: fast_retry(),
        ..Config::default()
    };
    config
        .mirrors
        .insert(registry.to_owned(), mirror.to_owned());
    Client::new(config)
}

#[test]
fn without_docker_content_digest_the_exact_body_is_hashed() {
    let body = b"{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.index.v1+json\",\n  \"manifests\": []\n}";
    let fake = FakeRegistry::start(vec![
        Answer::new(200).header("Content-Type", OCI_INDEX),
        Answer::new(200)
            .header("Content-Type", OCI_INDEX)
            .header("ratelimit-limit", "100;w=21600")
            .header("ratelimit-remaining", "42;w=21600")
            .body(body),
    ]);
    let image = ImageRef::parse(&format!("{}/lib/app:1", fake.addr)).unwrap();
    let resolved = resolve_digest(&client(), &image).unwrap();
    assert_eq!(resolved.digest, Digest::of_sha256_bytes(body));
    assert_eq!(resolved.requests, 2);
    let limit = resolved.rate_limit.unwrap();
    assert_eq!(
        (limit.limit, limit.remaining, limit.window_seconds),
        (100, 42, Some(21600))
    );
    assert_eq!(
        fake.requests(),
        [
            "HEAD /v2/lib/app/manifests/1",
            "GET /v2/lib/app/manifests/1"
        ]
    );
}

#[test]
fn server_errors_and_429_are_retried_then_reported() {
    let digest = Digest::of_sha256_bytes(b"x");
    let fake = FakeRegistry::start(vec![
        Answer::new(503),
        Answer::new(429).header("Retry-After", "0"),
        Answer::new(200).header("Docker-Content-Digest", digest.as_str()),
    ]);
    let image = ImageRef::parse(&format!("{}/app:1", fake.addr)).unwrap();
    let resolved = resolve_digest(&client(), &image).unwrap();
    assert_eq!((resolved.digest, resolved.requests), (digest, 3));

    let limited = FakeRegistry::start(vec![
        Answer::new(429)
            .header("Retry-After", "0")
            .header("ratelimit-limit", "100;w=21600")
            .header("ratelimit-remaining", "0;w=21600");
        3
    ]);
    let image = ImageRef::parse(&format!("{}/app:1", limited.addr)).unwrap();
    let err = resolve_digest(&client(), &image).unwrap_err();
    let RegistryError::RateLimited {
        attempts,
        rate_limit,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*attempts, 3);
    assert_eq!(rate_limit.unwrap().remaining, 0);
    assert!(err.to_string().contains("app:1"), "{err}");

    let down = FakeRegistry::start(vec![Answer::new(502); 3]);
    let image = ImageRef::parse(&format!("{}/app:1", down.addr)).unwrap();
    let err = resolve_digest(&client(), &image).unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unavailable {
                status: 502,
                attempts: 3,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_bad_digest_header_is_an_invalid_response() {
    let fake = FakeRegistry::start(vec![
        Answer::new(200).header("Docker-Content-Digest", "md5:abc"),
    ]);
    let image = ImageRef::parse(&format!("{}/app:1", fake.addr)).unwrap();
    let err = resolve_digest(&client(), &image).unwrap_err();
    assert!(
        matches!(err, RegistryError::InvalidResponse { status: 200, .. }),
        "{err:?}"
    );
}
