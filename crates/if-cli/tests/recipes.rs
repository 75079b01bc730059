//! The CI recipes (`examples/ci/`) and the kustomize base (`deploy/`) stay in step with the
//! binary and the generated resources: every file is YAML, every `image-factory ...` command
//! line in a `run:`/`script:` parses with the real command-line definition, the build recipe
//! declares exactly the build inputs, and `deploy/` provides exactly the ServiceAccount and
//! Secrets that `dist/image-factory.k8s.yaml` refers to, with no RBAC.

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
