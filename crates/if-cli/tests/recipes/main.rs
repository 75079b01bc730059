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

mod analyzer;
mod ci;
mod deploy;
