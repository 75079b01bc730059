//! Tests of `kargo.yaml` reading: defaults, every key, `path:line:col` problems.

use super::*;

fn messages(src: &str) -> Vec<String> {
    let (_, diags) = Config::parse(src, "kargo.yaml");
    diags.iter().map(ToString::to_string).collect()
}

#[test]
fn absent_or_empty_means_defaults() {
    let (c, diags) = Config::parse("# nothing\n", "kargo.yaml");
    assert!(diags.is_empty());
    assert_eq!(c, Config::default());
    assert_eq!(c.warehouse_interval.as_minutes(), 360);
}

#[test]
fn every_key_is_read() {
    let src = "\
project: factory
analyzer:
  image: ghcr.io/acme/image-factory:1.2.3
  serviceAccount: analyzer
warehouses:
  interval: 12h
  platform: linux/arm64
reconcile:
  schedule: '*/30 * * * *'
  check: true
state:
  repoURL: https://github.com/acme/platform.git
  branch: release/1
  path: factory/
secrets:
  github: gh
  gitlab: gl
  git: creds
  webhook: hook
credentials:
  githubApp: app
  hostRules: rules
  registryAuth: pull
webhookReceiver: true
dockerfileWatch:
  enabled: true
  githubURL: https://github.example.com/
  gitlabURL: https://gitlab.example.com
";
    let (c, diags) = Config::parse(src, "kargo.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(c.project, "factory");
    assert_eq!(c.analyzer_image, "ghcr.io/acme/image-factory:1.2.3");
    assert_eq!(c.service_account.as_deref(), Some("analyzer"));
    assert_eq!(c.warehouse_interval.as_minutes(), 720);
    assert_eq!(c.platform.as_deref(), Some("linux/arm64"));
    assert_eq!(c.reconcile.schedule, "*/30 * * * *");
    assert!(c.reconcile.check);
    assert_eq!(
        c.state.repo_url.as_deref(),
        Some("https://github.com/acme/platform.git")
    );
    assert_eq!(c.state.branch, "release/1");
    assert_eq!(c.state.path, "factory");
    assert_eq!(c.secrets.git, "creds");
    assert_eq!(c.secrets.webhook, "hook");
    assert_eq!(
        c.credentials,
        Credentials {
            github_app: Some("app".to_string()),
            host_rules: Some("rules".to_string()),
            registry_auth: Some("pull".to_string()),
        }
    );
    assert!(c.webhook_receiver);
    assert!(c.dockerfile_watch.enabled);
    assert_eq!(c.dockerfile_watch.github_url, "https://github.example.com");
}

#[test]
fn problems_have_positions_and_suggestions() {
    let src = "\
projet: x
analyzer:
  image: 'Not An Image'
warehouses:
  interval: 0m
analysis:
  count: 0
reconcile:
  schedule: 0 * * *
state:
  repoURL: github.com/acme
  path: ../up
  gitImage: alpine/git
secrets:
  github: Bad_Name
webhookReceiver: maybe
";
    let mut got = messages(src);
    let image = got.remove(1);
    assert!(
        image.starts_with(
            "kargo.yaml:3:10: error: `analyzer.image`: `Not An Image` is not an image reference: "
        ),
        "{image}"
    );
    assert_eq!(
        got,
        [
            "kargo.yaml:1:1: error: unknown key `projet` in kargo.yaml; did you mean `project`?",
            "kargo.yaml:5:13: error: `warehouses.interval` must be longer than zero",
            "kargo.yaml:7:3: error: `analysis` is no longer read: verification runs once per Freight (Kargo holds the next Freight until it ends), and waiting rebuilds are served by the CronJob of `reconcile.schedule`",
            "kargo.yaml:9:13: error: `reconcile.schedule`: `0 * * *` is not a cron schedule: five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly",
            "kargo.yaml:11:12: error: `state.repoURL`: `github.com/acme` is not a git URL (https://host/org/repo.git or git@host:org/repo.git)",
            "kargo.yaml:12:9: error: `state.path`: must not contain `..`",
            "kargo.yaml:13:13: error: `state.gitImage` is no longer read: the analyzer clones and pushes itself (`image-factory --git-repo`)",
            "kargo.yaml:15:11: error: `secrets.github`: `Bad_Name` is not a Kubernetes object name (lowercase letters, digits, `-` and `.`)",
            "kargo.yaml:16:18: error: `webhookReceiver` must be true or false, found a string",
        ]
    );
}

#[test]
fn credentials_are_secret_names_and_nothing_else() {
    assert_eq!(
        messages("credentials:\n  githubApp: App_Key\n  hostrules: r\n  registryAuth: [a]\n"),
        [
            "kargo.yaml:2:14: error: `credentials.githubApp`: `App_Key` is not a Kubernetes object name (lowercase letters, digits, `-` and `.`)",
            "kargo.yaml:3:3: error: unknown key `hostrules` in `credentials`; did you mean `hostRules`?",
            "kargo.yaml:4:17: error: `credentials.registryAuth` must be a string, found a list",
        ]
    );
    assert_eq!(
        messages("credentials: image-factory-github-app\n"),
        ["kargo.yaml:1:14: error: `credentials` must be a mapping, found a string"]
    );
    let (c, diags) = Config::parse("credentials: {hostRules: rules}\n", "kargo.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(c.credentials.host_rules.as_deref(), Some("rules"));
    assert_eq!(c.credentials.github_app, None);
}

#[test]
fn a_scanner_is_named_and_needs_check() {
    let (c, diags) = Config::parse(
        "reconcile:\n  check: true\n  scanWith: trivy\n",
        "kargo.yaml",
    );
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(c.reconcile.scan_with, Some(ScanWith::Trivy));
    assert_eq!(
        messages("reconcile:\n  scanWith: trivy\n"),
        [
            "kargo.yaml:2:13: error: `reconcile.scanWith` needs `reconcile.check: true`: the scan is a step of `check`"
        ]
    );
    assert_eq!(
        messages("reconcile:\n  check: true\n  scanWith: grype\n"),
        [
            "kargo.yaml:3:13: error: `reconcile.scanWith`: `grype` is not a scanner the analyzer runs (trivy)"
        ]
    );
    assert_eq!(
        messages("reconcile:\n  check: true\n  scanWith: [trivy]\n"),
        ["kargo.yaml:3:13: error: `reconcile.scanWith` must be a string, found a list"]
    );
}

#[test]
fn the_verification_scans_with_a_named_scanner_without_check() {
    let (c, diags) = Config::parse("verification:\n  scanWith: trivy\n", "kargo.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(c.verification.scan_with, Some(ScanWith::Trivy));
    assert_eq!(c.reconcile.scan_with, None);
    assert_eq!(Config::default().verification.scan_with, None);
    assert_eq!(
        messages("verification:\n  scanWith: grype\n"),
        [
            "kargo.yaml:2:13: error: `verification.scanWith`: `grype` is not a scanner the analyzer runs (trivy)"
        ]
    );
    assert_eq!(
        messages("verification:\n  scanWith: 3\n"),
        [
            "kargo.yaml:2:13: error: `verification.scanWith`: `3` is not a scanner the analyzer runs (trivy)"
        ]
    );
    assert_eq!(
        messages("verification:\n  scanwith: trivy\n"),
        [
            "kargo.yaml:2:3: error: unknown key `scanwith` in `verification`; did you mean `scanWith`?"
        ]
    );
    assert_eq!(
        messages("verification: trivy\n"),
        ["kargo.yaml:1:15: error: `verification` must be a mapping, found a string"]
    );
}

#[test]
fn cron_schedules_are_checked_as_kubernetes_reads_them() {
    for ok in [
        "0 * * * *",
        "*/15 * * * *",
        "5 1-23/2 * * mon-fri",
        "0 0 1,15 jan,JUL *",
        "30 4 * * 7",
        "@hourly",
        "@daily",
    ] {
        assert_eq!(check_cron(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "0 * * *",
        "0 * * * * *",
        "60 * * * *",
        "0 24 * * *",
        "0 * 0 * *",
        "0 * * 13 *",
        "0 * * * 8",
        "*/0 * * * *",
        "5-1 * * * *",
        "a * * * *",
        "CRON_TZ=UTC 0 * * * *",
    ] {
        assert!(check_cron(bad).is_err(), "{bad}");
    }
}

#[test]
fn wrong_shapes_are_reported() {
    assert_eq!(
        messages("- a\n"),
        ["kargo.yaml:1:1: error: kargo.yaml must be a mapping, found a list"]
    );
    assert_eq!(
        messages("analyzer: x\n"),
        ["kargo.yaml:1:11: error: `analyzer` must be a mapping, found a string"]
    );
    assert_eq!(
        messages("project: [a]\n"),
        ["kargo.yaml:1:10: error: `project` must be a string, found a list"]
    );
    let m = messages("a: [\n");
    assert_eq!(m.len(), 1);
    assert!(m[0].starts_with("kargo.yaml:"), "{m:?}");
}

/// Kubernetes, "Labels and Selectors", Syntax and character set: a key is an optional DNS
/// subdomain prefix (at most 253 characters) and `/`, then a name of at most 63 characters
/// of `[a-z0-9A-Z]`, `-`, `_`, `.`, beginning and ending with an alphanumeric; a value is
/// empty or such a name.
#[test]
fn pod_labels_follow_kubernetes_label_syntax() {
    let (c, diags) = Config::parse(
        "analyzer:\n  podLabels:\n    azure.workload.identity/use: \"true\"\n    \
         Team_1.x: A-b_c.9\n    empty: \"\"\n    plain: true\n",
        "kargo.yaml",
    );
    assert!(diags.is_empty(), "{diags:?}");
    let labels: Vec<(&str, &str)> = c
        .pod_labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        labels,
        [
            ("Team_1.x", "A-b_c.9"),
            ("azure.workload.identity/use", "true"),
            ("empty", ""),
            ("plain", "true"),
        ]
    );
    let long_name = "a".repeat(64);
    let long_prefix = format!("{}.io/x", "a".repeat(250));
    for bad in [
        "-a",
        "a-",
        "a b",
        "/a",
        "a/",
        "Upper.io/a",
        "a..b/c",
        "é",
        long_name.as_str(),
        long_prefix.as_str(),
    ] {
        let m = messages(&format!("analyzer:\n  podLabels:\n    '{bad}': x\n"));
        assert_eq!(m.len(), 1, "{bad}: {m:?}");
        assert!(
            m[0].starts_with("kargo.yaml:3:5: error: `analyzer.podLabels`: `")
                && m[0].contains("is not a Kubernetes label key"),
            "{bad}: {m:?}"
        );
    }
    assert_eq!(check_label_key(&"a".repeat(63)), Ok(()));
    for bad in ["-x", "x-", "a b", "a/b", &"v".repeat(64)] {
        let m = messages(&format!("analyzer:\n  podLabels:\n    k: '{bad}'\n"));
        assert_eq!(m.len(), 1, "{bad}: {m:?}");
        assert!(
            m[0].starts_with("kargo.yaml:3:8: error: `analyzer.podLabels.k`: `")
                && m[0].contains("is not a Kubernetes label value"),
            "{bad}: {m:?}"
        );
    }
    assert_eq!(
        messages("analyzer:\n  podLabels:\n    k:\n"),
        [
            "kargo.yaml:3:5: error: `analyzer.podLabels.k` has no value: write `\"\"` for an empty label value"
        ]
    );
    assert_eq!(
        messages("analyzer:\n  podLabels: [a]\n"),
        [
            "kargo.yaml:2:14: error: `analyzer.podLabels` must be a mapping of label keys to values, found a list"
        ]
    );
    let many: String = (0..=MAX_POD_LABELS)
        .map(|i| format!("    k{i}: v\n"))
        .collect();
    let m = messages(&format!("analyzer:\n  podLabels:\n{many}"));
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].contains("at most 32 are read"), "{m:?}");
    assert!(
        Config::parse("analyzer:\n  podLabels:\n", "kargo.yaml")
            .1
            .is_empty()
    );
}
