//! The CI recipes under `examples/ci/`: YAML, command lines that parse, the build inputs.

use super::*;

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
