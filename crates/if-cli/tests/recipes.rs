//! The CI recipes (`examples/ci/`) and the kustomize base (`deploy/`) stay in step with the
//! binary and the generated resources: every file is YAML, every `image-factory ...` command
//! line in a `run:`/`script:` parses with the real command-line definition, the build recipe
//! declares exactly the build inputs, and `deploy/` provides exactly the ServiceAccount and
//! Secrets that `dist/image-factory.k8s.yaml` refers to (variables and `secret` volumes), with
//! no RBAC; the analyzer reads those example Secrets where `dist/` mounts them; the credential
//! helper example adds the helper its `config.json` names.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::{CommandFactory, Parser};
use if_cli::cli::Cli;
use if_model::yaml::{self, Node, ScalarKind, Value};
use if_state::rebuild::INPUTS;

/// A digest that clap's `--digest` parser accepts, for `$DIGEST`-like placeholders.
const PLACEHOLDER_DIGEST: &str =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.yml`/`.yaml` file under `dir` (relative to the workspace), sorted.
fn yaml_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&workspace().join(dir), &mut out);
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The documents of a (multi-document) YAML file, empty ones left out. Documents are split
/// at `---` lines (none of these files has one inside a block scalar), then read one by one
/// through if-model's YAML seam.
fn documents(path: &Path) -> Vec<Node> {
    let text = read(path);
    let mut docs = vec![String::new()];
    for line in text.lines() {
        if line == "---" || line.starts_with("--- ") {
            docs.push(String::new());
        } else if let Some(last) = docs.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    docs.iter()
        .map(|d| yaml::parse(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .filter(|n| !n.is_null())
        .collect()
}

fn rel(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn scalar(node: Option<&Node>) -> Option<&str> {
    match node.map(|n| &n.value) {
        Some(Value::Scalar(_, s)) => Some(s),
        _ => None,
    }
}

fn path<'n>(node: &'n Node, keys: &[&str]) -> Option<&'n Node> {
    keys.iter().try_fold(node, |n, k| n.get(k))
}

fn kind(doc: &Node) -> &str {
    scalar(doc.get("kind")).unwrap_or("")
}

fn name(doc: &Node) -> String {
    scalar(path(doc, &["metadata", "name"]))
        .unwrap_or("")
        .to_string()
}

/// Calls `f` on every mapping entry of the tree, depth first.
fn walk_entries<'n>(node: &'n Node, f: &mut impl FnMut(&str, &'n Node)) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                f(&k.name, v);
                walk_entries(v, f);
            }
        }
        Value::Seq(items) => items.iter().for_each(|n| walk_entries(n, f)),
        Value::Scalar(..) => {}
    }
}

/// The shell scripts of a workflow: every `run:` (GitHub) and `script:`, `before_script:`,
/// `after_script:` (GitLab), as strings or lists of strings.
fn scripts(doc: &Node) -> Vec<String> {
    let mut out = Vec::new();
    walk_entries(doc, &mut |key, value| {
        if !matches!(key, "run" | "script" | "before_script" | "after_script") {
            return;
        }
        match &value.value {
            Value::Scalar(ScalarKind::Str, s) => out.push(s.clone()),
            Value::Seq(items) => out.extend(
                items
                    .iter()
                    .filter_map(|i| scalar(Some(i)))
                    .map(str::to_string),
            ),
            _ => {}
        }
    });
    out
}

/// A placeholder for an expression or variable, chosen by what its name says it holds, so
/// that clap's value parsers (a digest, a URL) accept it.
fn placeholder(expr: &str) -> &'static str {
    let e = expr.to_ascii_lowercase();
    if e.contains("digest") {
        PLACEHOLDER_DIGEST
    } else if e.contains("repo") || e.contains("url") {
        "https://git.example.invalid/acme/state.git"
    } else if e.contains("branch") {
        "main"
    } else {
        "placeholder"
    }
}

/// Replaces `${{ ... }}` (GitHub expressions), `${NAME...}` and `$NAME` (shell) with
/// placeholders.
fn substitute(script: &str) -> String {
    let mut out = String::new();
    let mut rest = script;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(inner) = after.strip_prefix("{{") {
            let end = inner
                .find("}}")
                .unwrap_or_else(|| panic!("unclosed ${{{{ in {script}"));
            out.push_str(placeholder(&inner[..end]));
            rest = &inner[end + 2..];
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner
                .find('}')
                .unwrap_or_else(|| panic!("unclosed ${{ in {script}"));
            out.push_str(placeholder(&inner[..end]));
            rest = &inner[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 {
                out.push('$');
            } else {
                out.push_str(placeholder(&after[..len]));
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    out
}

/// Splits one shell command into words: whitespace separates, single and double quotes group.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => out.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unbalanced quotes in `{command}`");
    out.extend(word);
    out
}

/// Every `image-factory ...` command in a script, as words, after substitution, with line
/// continuations joined and commands split at `&&`, `||`, `;` and `|`.
fn image_factory_commands(script: &str) -> Vec<Vec<String>> {
    let joined = substitute(script).replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        for command in line
            .split("&&")
            .flat_map(|c| c.split("||"))
            .flat_map(|c| c.split([';', '|']))
        {
            let w = words(command);
            if w.first().is_some_and(|w| w == "image-factory") {
                out.push(w);
            }
        }
    }
    out
}

/// The commands of one recipe file: (subcommand, parsed command line).
fn recipe_commands(file: &Path) -> Vec<(String, Cli)> {
    let mut out = Vec::new();
    for doc in documents(file) {
        for script in scripts(&doc) {
            for argv in image_factory_commands(&script) {
                let cli = Cli::try_parse_from(&argv).unwrap_or_else(|e| {
                    panic!("{}: `{}` does not parse:\n{e}", rel(file), argv.join(" "))
                });
                let matches = Cli::command()
                    .try_get_matches_from(&argv)
                    .unwrap_or_else(|e| panic!("{}: {e}", rel(file)));
                let sub = matches.subcommand_name().unwrap_or_default().to_string();
                out.push((sub, cli));
            }
        }
    }
    out
}

fn subcommands(file: &str) -> Vec<String> {
    recipe_commands(&workspace().join(file))
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

#[test]
fn every_recipe_and_deploy_file_is_yaml() {
    let mut files = yaml_files("examples/ci");
    files.extend(yaml_files("deploy"));
    let names: Vec<String> = files.iter().map(|f| rel(f)).collect();
    for expected in [
        "examples/ci/github/validate.yml",
        "examples/ci/github/scheduled.yml",
        "examples/ci/github/build-on-dispatch.yml",
        "examples/ci/gitlab/.gitlab-ci.yml",
        "examples/ci/gitlab/build-on-pipeline.yml",
        "examples/ci/gitlab/build-on-pipeline-inputs.yml",
        "deploy/kustomization.yaml",
        "deploy/serviceaccount.yaml",
        "deploy/secrets.example.yaml",
        "deploy/argocd-application.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} is missing: {names:?}"
        );
    }
    for file in &files {
        let docs = documents(file);
        assert!(!docs.is_empty(), "{}: no YAML document", rel(file));
        for doc in docs {
            assert_eq!(
                doc.type_name(),
                "a mapping",
                "{}: a document is not a mapping",
                rel(file)
            );
        }
    }
}

#[test]
fn every_image_factory_command_in_the_recipes_parses() {
    let files = yaml_files("examples/ci");
    let mut total = 0;
    for file in &files {
        total += recipe_commands(file).len();
    }
    // Each recipe runs the commands it documents (a misspelled `image-factory` would
    // otherwise drop a command from the check without a failure).
    assert_eq!(
        subcommands("examples/ci/github/validate.yml"),
        ["validate", "generate"]
    );
    assert_eq!(
        subcommands("examples/ci/github/scheduled.yml"),
        ["check", "reconcile"]
    );
    assert_eq!(
        subcommands("examples/ci/github/build-on-dispatch.yml"),
        ["record-build", "record-build"]
    );
    assert_eq!(
        subcommands("examples/ci/gitlab/build-on-pipeline.yml"),
        ["record-build", "record-build"]
    );
    assert_eq!(
        subcommands("examples/ci/gitlab/build-on-pipeline-inputs.yml"),
        ["record-build", "record-build"]
    );
    assert_eq!(
        subcommands("examples/ci/gitlab/.gitlab-ci.yml"),
        ["validate", "generate", "check", "reconcile"]
    );
    assert_eq!(total, 14, "commands found in {files:?}");
}

#[test]
fn the_recipes_that_write_state_push_it_and_generate_only_checks() {
    for file in [
        "examples/ci/github/scheduled.yml",
        "examples/ci/github/build-on-dispatch.yml",
        "examples/ci/gitlab/.gitlab-ci.yml",
        "examples/ci/gitlab/build-on-pipeline.yml",
        "examples/ci/gitlab/build-on-pipeline-inputs.yml",
    ] {
        for (sub, cli) in recipe_commands(&workspace().join(file)) {
            if matches!(sub.as_str(), "check" | "reconcile" | "record-build") {
                assert!(
                    cli.git_repo.is_some(),
                    "{file}: `{sub}` runs without --git-repo"
                );
            }
        }
    }
    for file in [
        "examples/ci/github/validate.yml",
        "examples/ci/gitlab/.gitlab-ci.yml",
    ] {
        for (sub, cli) in recipe_commands(&workspace().join(file)) {
            if let if_cli::cli::Command::Generate(args) = &cli.command {
                assert!(args.check, "{file}: `{sub}` without --check writes dist/");
            }
        }
    }
}

#[test]
fn the_build_recipe_declares_exactly_the_build_inputs_and_pins_the_base_digest() {
    let file = workspace().join("examples/ci/github/build-on-dispatch.yml");
    let docs = documents(&file);
    let [doc] = docs.as_slice() else {
        panic!("one document expected");
    };
    let inputs =
        path(doc, &["on", "workflow_dispatch", "inputs"]).expect("on.workflow_dispatch.inputs");
    let Value::Map(entries) = &inputs.value else {
        panic!("inputs is not a mapping");
    };
    let declared: Vec<&str> = entries.iter().map(|(k, _)| k.name.as_str()).collect();
    let expected: Vec<&str> = INPUTS.iter().map(|(n, _)| *n).collect();
    assert_eq!(declared, expected);
    for (k, v) in entries {
        assert_eq!(scalar(v.get("type")), Some("string"), "input {}", k.name);
    }
    // The job passes the aged digest to the build: BASE_IMAGE=<base_image>@<base_digest>.
    let env = path(doc, &["jobs", "build", "env"]).expect("jobs.build.env");
    assert_eq!(
        scalar(env.get("BASE_IMAGE")),
        Some("${{ inputs.base_image }}")
    );
    assert_eq!(
        scalar(env.get("BASE_DIGEST")),
        Some("${{ inputs.base_digest }}")
    );
    assert!(
        scripts(doc)
            .iter()
            .any(|s| s.contains("--build-arg \"BASE_IMAGE=$BASE_IMAGE@$BASE_DIGEST\"")),
        "no build pinned to the base digest"
    );
}

/// The documents of the files `deploy/kustomization.yaml` lists.
fn kustomized() -> Vec<(String, Node)> {
    let kfile = workspace().join("deploy/kustomization.yaml");
    let docs = documents(&kfile);
    let k = &docs[0];
    assert!(
        k.get("namespace").is_none(),
        "the base must stay namespace-independent"
    );
    let Some(Value::Seq(resources)) = k.get("resources").map(|n| &n.value) else {
        panic!("deploy/kustomization.yaml has no resources list");
    };
    resources
        .iter()
        .map(|r| {
            scalar(Some(r))
                .unwrap_or_else(|| panic!("deploy/kustomization.yaml: a resource is not a path"))
                .to_string()
        })
        .flat_map(|r| {
            documents(&workspace().join("deploy").join(&r))
                .into_iter()
                .map(move |d| (r.clone(), d))
        })
        .collect()
}

fn dist() -> Vec<Node> {
    documents(&workspace().join("dist/image-factory.k8s.yaml"))
}

#[test]
fn the_service_account_mounts_no_token_and_is_the_one_dist_uses() {
    let mut referenced = BTreeSet::new();
    for doc in dist() {
        walk_entries(&doc, &mut |key, value| {
            if key == "serviceAccountName" {
                referenced.extend(scalar(Some(value)).map(str::to_string));
            }
        });
    }
    let mut provided = BTreeSet::new();
    for (file, doc) in kustomized() {
        assert!(
            path(&doc, &["metadata", "namespace"]).is_none(),
            "deploy/{file}: a namespace in the base"
        );
        if kind(&doc) == "ServiceAccount" {
            let automount = doc.get("automountServiceAccountToken");
            assert!(
                matches!(automount.map(|n| &n.value), Some(Value::Scalar(ScalarKind::Bool, s)) if s == "false"),
                "deploy/{file}: ServiceAccount {} must set automountServiceAccountToken: false",
                name(&doc)
            );
            provided.insert(name(&doc));
        }
    }
    if referenced.is_empty() {
        // dist/ runs the Jobs as `default` until kargo.yaml sets `analyzer.serviceAccount`;
        // the base provides the one deploy/README.md tells it to set.
        assert_eq!(provided, BTreeSet::from(["image-factory".to_string()]));
    } else {
        assert_eq!(provided, referenced, "the ServiceAccounts dist/ uses");
    }
}

#[test]
fn the_example_secrets_are_exactly_the_ones_dist_refers_to_with_placeholders() {
    // dist/: name -> keys read (secretKeyRef); the generic webhook receiver's secretRef reads
    // key `secret` (Kargo's convention).
    let mut referenced: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for doc in dist() {
        walk_entries(&doc, &mut |key, value| {
            let secret_name = scalar(value.get("name")).map(str::to_string);
            match (key, secret_name) {
                ("secretKeyRef", Some(n)) => {
                    let k = scalar(value.get("key"))
                        .expect("secretKeyRef.key")
                        .to_string();
                    referenced.entry(n).or_default().insert(k);
                }
                ("secretRef", Some(n)) => {
                    referenced
                        .entry(n)
                        .or_default()
                        .insert("secret".to_string());
                }
                _ => {}
            }
        });
    }
    // Secret volumes: with `items`, the keys listed; without, every key becomes a file named
    // by it (Kubernetes' SecretVolumeSource), and the keys dist/ reads are the files its
    // variables name under the mount. The host rules name further key files (below).
    let mut mounts: BTreeMap<String, String> = BTreeMap::new();
    let mut env_values: Vec<String> = Vec::new();
    let mut whole: BTreeMap<String, String> = BTreeMap::new();
    for doc in dist() {
        walk_entries(&doc, &mut |key, value| {
            let Value::Seq(items) = &value.value else {
                return;
            };
            for item in items {
                match key {
                    "volumeMounts" => {
                        if let (Some(n), Some(p)) =
                            (scalar(item.get("name")), scalar(item.get("mountPath")))
                        {
                            mounts.insert(n.to_string(), p.to_string());
                        }
                    }
                    "env" => env_values.extend(scalar(item.get("value")).map(str::to_string)),
                    "volumes" => {
                        let Some(secret) = item.get("secret") else {
                            continue;
                        };
                        let n = scalar(secret.get("secretName"))
                            .expect("secret.secretName")
                            .to_string();
                        let keys = referenced.entry(n.clone()).or_default();
                        match secret.get("items").map(|i| &i.value) {
                            Some(Value::Seq(listed)) => {
                                keys.extend(listed.iter().map(|i| {
                                    scalar(i.get("key")).expect("items[].key").to_string()
                                }))
                            }
                            _ => {
                                let volume = scalar(item.get("name")).expect("volume name");
                                whole.insert(n, volume.to_string());
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
    }
    // Secret name -> its mount path, for the Secrets mounted whole.
    let mut whole_at: BTreeMap<String, String> = BTreeMap::new();
    for (secret, volume) in &whole {
        let at = mounts
            .get(volume)
            .unwrap_or_else(|| panic!("volume {volume} is mounted nowhere"));
        let keys = referenced.entry(secret.clone()).or_default();
        for v in &env_values {
            if let Some(file) = v.strip_prefix(&format!("{at}/")) {
                keys.insert(file.to_string());
            }
        }
        assert!(!keys.is_empty(), "{secret}: no file of it is named");
        whole_at.insert(secret.clone(), at.clone());
    }
    assert!(!referenced.is_empty(), "dist/ refers to no Secret");

    // Every credential is a placeholder; the keys Kargo reads to match a repository
    // (`repoURL`, `repoURLIsRegex`, pkg/credentials/credentials.go) are real values.
    const MATCH_KEYS: [&str; 2] = ["repoURL", "repoURLIsRegex"];
    let file = workspace().join("deploy/secrets.example.yaml");
    let mut provided: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for doc in documents(&file) {
        assert_eq!(
            kind(&doc),
            "Secret",
            "secrets.example.yaml holds only Secrets"
        );
        let Some(Value::Map(data)) = doc.get("stringData").map(|n| &n.value) else {
            panic!("Secret {} has no stringData", name(&doc));
        };
        let cred_type = scalar(path(
            &doc,
            &["metadata", "labels", "kargo.akuity.io/cred-type"],
        ));
        for (k, v) in data {
            match k.name.as_str() {
                // A pull Secret's file: JSON (the API server refuses one that is not), every
                // credential in it a placeholder; and the Secret has the type that says so.
                ".dockerconfigjson" => {
                    assert_eq!(
                        scalar(doc.get("type")),
                        Some("kubernetes.io/dockerconfigjson"),
                        "{}",
                        name(&doc)
                    );
                    let json: serde_json::Value = serde_json::from_str(
                        scalar(Some(v)).expect(".dockerconfigjson is a string"),
                    )
                    .unwrap_or_else(|e| panic!("{}: .dockerconfigjson: {e}", name(&doc)));
                    let auths = json["auths"].as_object().expect("auths");
                    assert!(!auths.is_empty());
                    for entry in auths.values() {
                        for (field, value) in entry.as_object().expect("an auths entry") {
                            assert_eq!(value, "REPLACE_ME", "{}: auths .. {field}", name(&doc));
                        }
                    }
                    continue;
                }
                // The host rules: a file the CLI parses, every token a placeholder, every key
                // file one of this Secret's keys, under its mount.
                "hostRules" => {
                    let text = scalar(Some(v)).expect("hostRules is a string");
                    let (rules, diags) = if_model::host_rules::parse(text, "hostRules");
                    assert!(diags.is_empty(), "{}: {diags:?}", name(&doc));
                    let at = whole_at
                        .get(&name(&doc))
                        .unwrap_or_else(|| panic!("{}: not mounted whole", name(&doc)));
                    for rule in rules {
                        match rule.credential {
                            if_model::host_rules::HostCredential::Token(t) => {
                                assert_eq!(t, "REPLACE_ME", "{}: {}", name(&doc), rule.host);
                            }
                            if_model::host_rules::HostCredential::GithubApp {
                                private_key_file,
                                ..
                            } => {
                                let key = private_key_file
                                    .strip_prefix(&format!("{at}/"))
                                    .unwrap_or_else(|| {
                                        panic!("{private_key_file} is not under {at}")
                                    });
                                referenced
                                    .entry(name(&doc))
                                    .or_default()
                                    .insert(key.to_string());
                            }
                        }
                    }
                    continue;
                }
                _ => {}
            }
            if cred_type.is_some() && MATCH_KEYS.contains(&k.name.as_str()) {
                assert_ne!(
                    scalar(Some(v)),
                    Some("REPLACE_ME"),
                    "{}.{}",
                    name(&doc),
                    k.name
                );
                continue;
            }
            assert_eq!(
                scalar(Some(v)),
                Some("REPLACE_ME"),
                "{}.{} is not a placeholder",
                name(&doc),
                k.name
            );
        }
        assert!(
            doc.get("data").is_none(),
            "Secret {}: placeholders go in stringData",
            name(&doc)
        );
        let keys: BTreeSet<String> = data.iter().map(|(k, _)| k.name.clone()).collect();
        match referenced.get(&name(&doc)) {
            // A Secret of the jobs has exactly the keys they read, plus Kargo's when labelled.
            Some(read) if cred_type.is_none() => assert_eq!(&keys, read, "{}", name(&doc)),
            Some(read) => assert!(
                keys.is_superset(read),
                "{}: {keys:?} lacks {read:?}",
                name(&doc)
            ),
            // Any other is one Kargo reads: labelled, with a repoURL and Kargo's keys only.
            None => {
                assert!(
                    matches!(cred_type, Some("git" | "image")),
                    "Secret {}: neither read by dist/ nor by Kargo",
                    name(&doc)
                );
                let kargo: BTreeSet<String> = ["repoURL", "repoURLIsRegex", "username", "password"]
                    .map(str::to_string)
                    .into();
                assert!(
                    keys.contains("repoURL") && keys.is_subset(&kargo),
                    "{}: {keys:?}",
                    name(&doc)
                );
            }
        }
        provided.insert(name(&doc), keys);
    }
    for n in referenced.keys() {
        assert!(
            provided.contains_key(n),
            "dist/ reads Secret {n}, not in the examples"
        );
    }

    // The examples are documentation: a sync of deploy/ never applies placeholders.
    for (file, doc) in kustomized() {
        assert_ne!(
            kind(&doc),
            "Secret",
            "deploy/{file}: a Secret in the kustomization"
        );
    }
}

#[test]
fn deploy_has_no_rbac_and_the_application_syncs_dist() {
    for file in yaml_files("deploy") {
        for doc in documents(&file) {
            assert!(
                !matches!(
                    kind(&doc),
                    "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
                ),
                "{}: {} {} (the analyzer needs no RBAC)",
                rel(&file),
                kind(&doc),
                name(&doc)
            );
        }
    }
    let docs = documents(&workspace().join("deploy/argocd-application.yaml"));
    let [app] = docs.as_slice() else {
        panic!("one Application expected");
    };
    assert_eq!(scalar(app.get("apiVersion")), Some("argoproj.io/v1alpha1"));
    assert_eq!(kind(app), "Application");
    assert_eq!(scalar(path(app, &["spec", "source", "path"])), Some("dist"));
}

#[test]
fn the_command_extraction_handles_continuations_and_expressions() {
    let script = "set -e\n# image-factory validate (a comment)\nimage-factory --git-repo \"$STATE_REPO\" \\\n  record-build --image \"${{ inputs.image }}\" --digest \"${DIGEST}\" && echo ok\n";
    let found = image_factory_commands(script);
    assert_eq!(found.len(), 1, "{found:?}");
    let cli = Cli::try_parse_from(&found[0]).expect("parses");
    assert_eq!(
        cli.git_repo.as_deref(),
        Some("https://git.example.invalid/acme/state.git")
    );
    // A misspelled command does not parse.
    let bad = image_factory_commands("image-factory reconcil --dry-run\n");
    assert!(Cli::try_parse_from(&bad[0]).is_err());
}

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
