//! The analyzer image and its credentials: the credential helper example, and the example Secrets read where `dist/` mounts them.

use super::*;

#[test]
fn the_credential_helper_example_adds_the_helper_its_config_names() {
    // examples/analyzer-with-ecr-login/: the analyzer image of image-factory/kargo.yaml plus a
    // credential helper; its config.json (the factory's own reader: if-registry's
    // docker_config) sends the ECR registry to that helper, as the example pull Secret does.
    let dir = workspace().join("examples/analyzer-with-ecr-login");
    let dockerfile = read(&dir.join("Dockerfile"));
    let kargo = documents(&workspace().join("image-factory/kargo.yaml"));
    let analyzer = scalar(path(&kargo[0], &["analyzer", "image"])).expect("analyzer.image");
    assert!(
        dockerfile.contains(&format!("ARG ANALYZER={analyzer}\n"))
            && dockerfile.contains("FROM ${ANALYZER}\n"),
        "the example is built FROM the analyzer image {analyzer}"
    );
    // Back to the analyzer's user after installing as root.
    let users: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .collect();
    assert_eq!(users.last(), Some(&"65532:65532"));
    let config =
        if_registry::parse_docker_config(&read(&dir.join("config.json"))).expect("config.json");
    assert!(!config.helpers.is_empty());
    for helper in config.helpers.values() {
        // Debian's amazon-ecr-credential-helper installs docker-credential-ecr-login.
        assert_eq!(helper, "ecr-login");
        assert!(dockerfile.contains("amazon-ecr-credential-helper"));
    }
    let secrets = documents(&workspace().join("deploy/secrets.example.yaml"));
    let pull = secrets
        .iter()
        .find_map(|d| scalar(path(d, &["stringData", ".dockerconfigjson"])))
        .expect("a pull Secret in secrets.example.yaml");
    let example = if_registry::parse_docker_config(pull).expect("its JSON");
    assert_eq!(example.helpers, config.helpers);
}

/// The files and variables of one container of dist/ as the kubelet makes them from the
/// example Secrets: `secret` volumes projected (`items`, or every key under its name) below
/// `root`, `secretKeyRef` variables filled from `stringData`, every `/etc/image-factory` path
/// (in variables and in the files) moved below `root`. Placeholders become values the CLI
/// accepts: the App ids numbers, every PEM a real key.
fn kubelet(container: &Node, pod: &Node, root: &Path) -> Vec<(String, String)> {
    let dir = if_kargo::pod::CREDENTIALS_DIR;
    let rebase = |s: &str| s.replace(dir, &format!("{}{dir}", root.display()));
    std::fs::create_dir_all(root).unwrap();
    let key = if_testkit::app_key::generate(root, "app");
    let pem = read(&key.pkcs1);
    let secrets = documents(&workspace().join("deploy/secrets.example.yaml"));
    let value = |secret: &str, key: &str| -> String {
        let doc = secrets
            .iter()
            .find(|d| name(d) == secret)
            .unwrap_or_else(|| panic!("no example Secret {secret}"));
        let v = scalar(path(doc, &["stringData", key]))
            .unwrap_or_else(|| panic!("{secret} has no key {key}"));
        match (v, key) {
            ("REPLACE_ME", "appId") => "27182".to_string(),
            ("REPLACE_ME", "installationId") => "1618".to_string(),
            ("REPLACE_ME", k) if k == "privateKey" || k.ends_with(".pem") => pem.clone(),
            _ => rebase(v),
        }
    };
    let list = |n: &Node, k: &str| match n.get(k).map(|v| &v.value) {
        Some(Value::Seq(items)) => items.clone(),
        _ => Vec::new(),
    };
    for m in list(container, "volumeMounts") {
        let vname = scalar(m.get("name")).unwrap();
        let Some(volume) = list(pod, "volumes")
            .into_iter()
            .find(|v| scalar(v.get("name")) == Some(vname))
        else {
            panic!("volume {vname} not declared");
        };
        let Some(secret) = volume.get("secret") else {
            continue;
        };
        let secret_name = scalar(secret.get("secretName")).unwrap();
        let at = PathBuf::from(rebase(scalar(m.get("mountPath")).unwrap()));
        std::fs::create_dir_all(&at).unwrap();
        let mut files: Vec<(String, String)> = list(secret, "items")
            .iter()
            .map(|i| {
                let k = scalar(i.get("key")).unwrap().to_string();
                (k, scalar(i.get("path")).unwrap().to_string())
            })
            .collect();
        if files.is_empty() {
            let doc = secrets.iter().find(|d| name(d) == secret_name).unwrap();
            if let Some(Value::Map(data)) = doc.get("stringData").map(|n| &n.value) {
                files = data
                    .iter()
                    .map(|(k, _)| (k.name.clone(), k.name.clone()))
                    .collect();
            }
        }
        for (k, file) in files {
            std::fs::write(at.join(file), value(secret_name, &k)).unwrap();
        }
    }
    list(container, "env")
        .iter()
        .map(|e| {
            let n = scalar(e.get("name")).unwrap().to_string();
            let v = match scalar(e.get("value")) {
                Some(v) => rebase(v),
                None => {
                    let r = path(e, &["valueFrom", "secretKeyRef"]).unwrap();
                    value(
                        scalar(r.get("name")).unwrap(),
                        scalar(r.get("key")).unwrap(),
                    )
                }
            };
            (n, v)
        })
        .collect()
}

#[test]
fn the_analyzer_reads_the_example_secrets_where_dist_mounts_them() {
    // The reconcile CronJob: `check` reads the registry file, `reconcile` the App and the host
    // rules (with the forge tokens).
    let docs = dist();
    let cronjob = docs.iter().find(|d| kind(d) == "CronJob").expect("CronJob");
    let pod = path(
        cronjob,
        &["spec", "jobTemplate", "spec", "template", "spec"],
    )
    .unwrap();
    let Some(Value::Seq(init)) = pod.get("initContainers").map(|n| &n.value) else {
        panic!("the example runs check first");
    };
    let check = &init[0];
    assert_eq!(scalar(check.get("name")), Some("check"));
    let var = |env: &[(String, String)], n: &str| {
        env.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{n} not set"))
    };
    let tmp = tempfile::tempdir().unwrap();
    let check_env = kubelet(check, pod, &tmp.path().join("check"));
    // The registry file is the pull Secret's JSON, which the factory's reader takes.
    let auth = read(Path::new(&var(&check_env, "REGISTRY_AUTH_FILE")));
    let config = if_registry::parse_docker_config(&auth).unwrap();
    assert!(
        config.credentials.contains_key("ghcr.io/acme"),
        "{config:?}"
    );
    // `validate` loads the host rules, the key files they name and the App's key (an error,
    // exit 2, if any cannot be read or used) and finds a credential for every image.
    let run = |env: &[(String, String)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_image-factory"))
            .current_dir(workspace())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(["--root", "image-factory", "validate"])
            .output()
            .unwrap()
    };
    let Some(Value::Seq(main)) = pod.get("containers").map(|n| &n.value) else {
        panic!("no containers");
    };
    let reconcile = &main[0];
    assert_eq!(scalar(reconcile.get("name")), Some("reconcile"));
    let env = kubelet(reconcile, pod, &tmp.path().join("reconcile"));
    let out = run(&env);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(!text.contains("no credentials"), "{text}");
    // The same run without the App's key, then without the host rules: each time the file
    // its variable names is the one read (exit 2, naming it).
    for variable in ["GITHUB_APP_PRIVATE_KEY_FILE", "IMAGE_FACTORY_HOST_RULES"] {
        let file = PathBuf::from(var(&env, variable));
        let kept = read(&file);
        std::fs::remove_file(&file).unwrap();
        let out = run(&env);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{variable}: {err}");
        assert!(err.contains(&file.display().to_string()), "{err}");
        std::fs::write(&file, kept).unwrap();
    }
}
