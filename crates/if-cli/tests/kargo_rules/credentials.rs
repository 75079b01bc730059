//! The credentials Kargo finds for each repository, and the Secret files the CLI reads.

use super::*;

/// The Secret Kargo uses for a repository (pkg/credentials/kubernetes/database.go,
/// `getCredentialsSecret`, v1.11.2): those labelled with the credential type, in name order,
/// the first whose `repoURL` equals the normalized URL, or (with `repoURLIsRegex: "true"`)
/// matches the URL as written or normalized.
fn kargo_secret<'s>(secrets: &'s [Node], cred_type: &str, url: &str) -> Option<&'s str> {
    let mut candidates: Vec<&Node> = secrets
        .iter()
        .filter(|s| {
            scalar(at(s, &["metadata", "labels", "kargo.akuity.io/cred-type"])) == Some(cred_type)
        })
        .collect();
    candidates.sort_by_key(|s| scalar(at(s, &["metadata", "name"])));
    let normalized = normalize(cred_type, url);
    candidates.into_iter().find_map(|s| {
        let data = s.get("stringData")?;
        let repo = scalar(data.get("repoURL"))?;
        let hit = if scalar(data.get("repoURLIsRegex")) == Some("true") {
            let re = Regex::new(repo).unwrap();
            re.is_match(url) || re.is_match(&normalized)
        } else {
            normalize(cred_type, repo) == normalized
        };
        hit.then(|| scalar(at(s, &["metadata", "name"])).unwrap())
    })
}

/// Kargo's URL normalization for the cases here (pkg/urls/image.go `NormalizeImage`: Docker
/// Hub's host and `library/` dropped; pkg/urls/git.go `NormalizeGit`: lowercase, no `.git`).
fn normalize(cred_type: &str, url: &str) -> String {
    let url = url.to_ascii_lowercase();
    if cred_type == "image" {
        for host in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] {
            if let Some(rest) = url.strip_prefix(host) {
                return rest.strip_prefix("library/").unwrap_or(rest).to_string();
            }
        }
        url
    } else {
        url.trim_end_matches('/')
            .trim_end_matches(".git")
            .to_string()
    }
}

#[test]
fn kargo_finds_the_example_credentials_for_every_repository_that_needs_them() {
    let secrets = documents(&workspace().join("deploy/secrets.example.yaml"));
    for s in &secrets {
        if let Some(t) = scalar(at(s, &["metadata", "labels", "kargo.akuity.io/cred-type"])) {
            assert!(matches!(t, "git" | "image"), "cred-type {t}");
            assert!(
                scalar(at(s, &["stringData", "repoURL"])).is_some(),
                "a cred-type Secret without repoURL"
            );
        }
    }
    let dockerhub: Vec<&Node> = secrets
        .iter()
        .filter(|s| scalar(at(s, &["stringData", "repoURLIsRegex"])) == Some("true"))
        .filter(|s| {
            kargo_secret(std::slice::from_ref(*s), "image", "docker.io/library/node").is_some()
        })
        .collect();
    assert_eq!(
        dockerhub.len(),
        1,
        "one repoURLIsRegex Secret for Docker Hub"
    );
    for case in cases() {
        let mut seen = 0;
        for g in &case.rendered.resources {
            let Resource::Warehouse(w) = &g.resource else {
                continue;
            };
            for sub in &w.spec.subscriptions {
                let (kind, url) = match sub {
                    if_kargo::kargo::Subscription::Image(i) => ("image", i.repo_url.as_str()),
                    if_kargo::kargo::Subscription::Git(g) => ("git", g.repo_url.as_str()),
                };
                let found = kargo_secret(&secrets, kind, url);
                // Docker Hub (rate limits) and the example organisation's private repositories
                // have credentials; public registries elsewhere are read anonymously.
                let needs = url.starts_with("docker.io/")
                    || (case.label == "example"
                        && (url.starts_with("ghcr.io/acme/")
                            || url.starts_with("https://github.com/acme/")
                            || url.starts_with("https://gitlab.com/acme/")));
                if needs {
                    seen += 1;
                    assert!(
                        found.is_some(),
                        "{}: no Secret Kargo would use for {kind} {url}",
                        case.label
                    );
                }
            }
        }
        assert!(seen > 0, "{}: nothing checked", case.label);
    }
    // The state repository's Secret serves Kargo and the analyzer alike.
    let example = config_of(&workspace().join("image-factory"));
    let state = example
        .state
        .repo_url
        .expect("the example has a state repository");
    assert_eq!(
        kargo_secret(&secrets, "git", &state),
        Some(example.secrets.git.as_str())
    );
}

#[test]
fn credential_files_are_read_only_secret_mounts_at_the_paths_the_cli_reads() {
    // The variables the generated containers set are the ones the CLI reads.
    use if_kargo::pod;
    assert_eq!(pod::APP_ID_ENV, if_cli::forge_auth::APP_ID_ENV);
    assert_eq!(
        pod::APP_INSTALLATION_ENV,
        if_cli::forge_auth::APP_INSTALLATION_ENV
    );
    assert_eq!(pod::APP_KEY_FILE_ENV, if_cli::forge_auth::APP_KEY_FILE_ENV);
    assert_eq!(pod::HOST_RULES_ENV, if_cli::forge_auth::HOST_RULES_ENV);
    assert_eq!(pod::REGISTRY_AUTH_ENV, if_cli::registry::AUTH_FILE_ENV);
    let file_vars = [
        pod::APP_KEY_FILE_ENV,
        pod::HOST_RULES_ENV,
        pod::REGISTRY_AUTH_ENV,
    ];
    let mut seen = BTreeSet::new();
    for case in cases() {
        for (what, job) in jobs(&case.rendered) {
            let pod_spec = &job.spec.template.spec;
            for c in containers(job) {
                let at = format!("{}: {what}/{}", case.label, c.name);
                for e in &c.env {
                    if !file_vars.contains(&e.name.as_str()) {
                        continue;
                    }
                    seen.insert((c.name.clone(), e.name.clone()));
                    // A literal path inside a read-only mount of an optional Secret volume.
                    let path = e
                        .value
                        .as_deref()
                        .unwrap_or_else(|| panic!("{at}: {}", e.name));
                    let mount = c
                        .volume_mounts
                        .iter()
                        .find(|m| path.starts_with(&format!("{}/", m.mount_path)))
                        .unwrap_or_else(|| panic!("{at}: {path} is in no mount"));
                    assert!(mount.read_only, "{at}: {}", mount.name);
                    assert!(mount.mount_path.starts_with(pod::CREDENTIALS_DIR), "{at}");
                    let volume = pod_spec
                        .volumes
                        .iter()
                        .find(|v| v.name == mount.name)
                        .unwrap_or_else(|| panic!("{at}: volume {} not declared", mount.name));
                    let secret = volume.secret.as_ref().expect("a secret volume");
                    assert!(secret.optional, "{at}");
                    assert_eq!(secret.default_mode, 0o440, "{at}");
                    // The file is a key of the Secret: listed in `items`, or (no items) the
                    // key of that name.
                    let file = &path[mount.mount_path.len() + 1..];
                    assert!(
                        secret.items.is_empty() || secret.items.iter().any(|i| i.path == file),
                        "{at}: {file} is not projected"
                    );
                }
                // The App's ids come from the same Secret as its key.
                for e in &c.env {
                    if [pod::APP_ID_ENV, pod::APP_INSTALLATION_ENV].contains(&e.name.as_str()) {
                        let from = e.value_from.as_ref().expect("secretKeyRef");
                        let app = case.config.credentials.github_app.as_deref();
                        assert_eq!(Some(from.secret_key_ref.name.as_str()), app, "{at}");
                    }
                }
            }
        }
    }
    // The example factory turns every credential on: the registry file reaches the two
    // commands that ask registries (`check`, and `reconcile` for `requireSignature`), the App
    // and the host rules every container (each talks to git or a forge).
    let example: BTreeSet<(String, String)> = [
        ("check", pod::APP_KEY_FILE_ENV),
        ("check", pod::HOST_RULES_ENV),
        ("check", pod::REGISTRY_AUTH_ENV),
        ("reconcile", pod::APP_KEY_FILE_ENV),
        ("reconcile", pod::HOST_RULES_ENV),
        ("reconcile", pod::REGISTRY_AUTH_ENV),
        ("record-update", pod::APP_KEY_FILE_ENV),
        ("record-update", pod::HOST_RULES_ENV),
        ("analyze", pod::APP_KEY_FILE_ENV),
        ("analyze", pod::HOST_RULES_ENV),
    ]
    .iter()
    .map(|(c, v)| ((*c).to_string(), (*v).to_string()))
    .collect();
    assert!(seen.is_superset(&example), "{seen:?}");
    assert!(
        !seen
            .iter()
            .any(|(c, v)| v == pod::REGISTRY_AUTH_ENV && c != "check" && c != "reconcile"),
        "{seen:?}"
    );
}
