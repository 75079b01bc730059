//! How many token requests one registry gets, and Docker Hub's rate limit.

use super::*;

#[test]
fn one_hundred_repositories_on_one_registry_need_at_most_two_token_requests() {
    let (user, password) = ("many", "pw-many-001");
    let dir = tempfile::tempdir().unwrap();
    let repos: Vec<String> = (0..100).map(|i| format!("many/r{i:03}")).collect();
    let images: Vec<(&str, &str)> = repos.iter().map(|r| (r.as_str(), "1")).collect();
    let require = Some(format!("Basic {}", basic(user, password)));
    let (tokens, registry) =
        token_registry_or_skip!(dir.path(), require, Access::default(), &images);
    let refs: Vec<String> = repos.iter().map(|r| format!("{r}:1")).collect();
    let groups: Vec<Vec<&str>> = refs
        .chunks(5)
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let groups: Vec<&[&str]> = groups.iter().map(Vec::as_slice).collect();
    let f = Factory::many(&registry.addr, &groups);
    f.write(
        "home/.docker/config.json",
        &format!(
            r#"{{"auths": {{"{}": {{"auth": "{}"}}}}}}"#,
            registry.addr,
            basic(user, password)
        ),
    );
    let (report, text, code) = f.check(&[], &[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(summary(&report, "baseline"), 100, "{report:#}");
    let token_requests = summary(&report, "tokenRequests");
    assert!(token_requests <= 2, "{token_requests} token requests");
    assert_eq!(tokens.count() as u64, token_requests);
    assert_eq!(
        report["summary"]["tokenRequestsByRegistry"][registry.addr.as_str()],
        token_requests
    );
    let scopes: usize = tokens.requests().iter().map(|r| r.scopes.len()).sum();
    assert!(scopes >= 100, "{scopes} scopes asked for");
    // One manifest HEAD per image, and the one 401 that learned the scheme.
    assert_eq!(summary(&report, "requests"), 101, "{report:#}");
    f.assert_no_secret(&text, &[password, &basic(user, password), JWT]);
}

#[test]
fn a_falling_rate_limit_stops_asking_and_a_429_lands_only_on_its_image() {
    let digest = format!("sha256:{}", "cd".repeat(32));
    let ok = |remaining: u32| {
        Answer::new(200)
            .header("Docker-Content-Digest", &digest)
            .header("Content-Type", "application/vnd.oci.image.index.v1+json")
            .header("RateLimit-Limit", "100;w=21600")
            .header("RateLimit-Remaining", &format!("{remaining};w=21600"))
    };
    // Six images, one at a time in plan order: 50, 20, then 9 left (at or below 10% of
    // 100): the last three are not asked.
    let fake = FakeRegistry::start(vec![ok(50), ok(20), ok(9)]);
    let bases = [
        "lib/i1:1", "lib/i2:1", "lib/i3:1", "lib/i4:1", "lib/i5:1", "lib/i6:1",
    ];
    let f = Factory::new(&fake.addr, &bases);
    let args = ["--concurrency", "1", "--http-retries", "0"];
    let (report, text, code) = f.check(&args, &[]);
    assert_eq!(code, Some(1), "{text}");
    // HEAD is the only request for a tag that has a Docker-Content-Digest.
    assert_eq!(
        fake.requests(),
        [
            "HEAD /v2/lib/i1/manifests/1",
            "HEAD /v2/lib/i2/manifests/1",
            "HEAD /v2/lib/i3/manifests/1"
        ]
    );
    assert_eq!(summary(&report, "baseline"), 3, "{report:#}");
    assert_eq!(summary(&report, "notChecked"), 3);
    for i in ["i4", "i5", "i6"] {
        let error = row(&report, i)["error"].as_str().unwrap().to_owned();
        assert!(error.contains("not checked: rate limit low"), "{error}");
        assert!(error.contains("9 of 100 requests left"), "{error}");
    }
    let stopped = &report["summary"]["stopped"][0];
    assert_eq!(stopped["host"], fake.addr.as_str());
    assert_eq!(stopped["notChecked"], 3);
    // Recorded like any check error, so that status shows it and the next run asks again.
    let state: String = state_named(&f.root().join("state"), "i5");
    assert!(state.contains("not checked: rate limit low"), "{state}");

    // Text output says so; the floor is a flag (0: only a 429 stops). Then a 429 on the
    // second image: recorded on it alone, and the rest are not asked.
    for r in [ok(60), Answer::new(429).header("Retry-After", "0")] {
        fake.push(r);
    }
    let mut text_args = vec![
        "check",
        "--now",
        "2026-11-03T00:00:00Z",
        "--rate-limit-floor",
        "0",
    ];
    text_args.extend_from_slice(&args);
    let out = f.run(&text_args, &[]);
    let text = common::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", common::stderr(&out));
    assert!(
        text.contains(&format!(
            "registry {}: rate limit low (it answered HTTP 429): stopped asking it for this run; 4 images not checked",
            fake.addr
        )),
        "{text}"
    );
    assert!(
        text.contains("4 images not checked (rate limit low)"),
        "{text}"
    );
    assert_eq!(fake.requests().len(), 5, "{:?}", fake.requests());
    let i2: String = state_named(&f.root().join("state"), "i2");
    assert!(i2.contains("HTTP 429"), "{i2}");
    for i in ["i3", "i4", "i5", "i6"] {
        let s: String = state_named(&f.root().join("state"), i);
        assert!(
            s.contains("not checked") && !s.contains("HTTP 429"),
            "{i}: {s}"
        );
    }
}
