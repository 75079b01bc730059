//! A newcomer's first hour (issue 20, part B): a typo in `images.yaml` stops every command
//! that reads enrollment, paths resolve the same from anywhere, a closed stdout ends quietly,
//! exit codes tell the truth, and the small things (completions, man page, `--quiet`,
//! `--verbose`, git options only where they mean something, a hint at `--root`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{bin, copy_tree, run_from, run_in, stderr, stdout, workspace};

/// The six git options.
const GIT_OPTIONS: [&str; 6] = [
    "--git-repo",
    "--git-branch",
    "--commit",
    "--git-attempts",
    "--git-author-name",
    "--git-author-email",
];

const NOW: &str = "2026-11-01T00:00:00Z";

fn example() -> (tempfile::TempDir, PathBuf) {
    common::example_factory()
}

fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    common::tree_of(dir)
}

fn code(out: &std::process::Output) -> Option<i32> {
    out.status.code()
}

// 1. A typo'd key is an error for every command that reads enrollment.

#[test]
fn a_typo_in_images_yaml_stops_every_command_that_reads_enrollment() {
    let (_dir, root) = example();
    let images = root.join("images.yaml");
    let text = std::fs::read_to_string(&images).unwrap();
    // `rebuildDealy` instead of `rebuildDelay` in the first image (backstage).
    let typo = text.replacen("    rebuildDelay: 7d\n", "    rebuildDealy: 3d\n", 1);
    assert_ne!(typo, text);
    std::fs::write(&images, &typo).unwrap();
    let line = typo
        .lines()
        .position(|l| l.contains("rebuildDealy"))
        .unwrap()
        + 1;
    let at = format!("images.yaml:{line}:5: error: unknown key `rebuildDealy`");

    let validate = run_in(&root, &["validate"]);
    assert_eq!(code(&validate), Some(1), "{}", stderr(&validate));
    assert!(stdout(&validate).contains(&at), "{}", stdout(&validate));
    assert!(stdout(&validate).contains("did you mean `rebuildDelay`?"));

    let before = snapshot(root.parent().unwrap());
    let commands: &[&[&str]] = &[
        &["analyze", "--all", "--no-fetch", "--now", NOW],
        &[
            "analyze",
            "--image",
            "backstage",
            "--no-fetch",
            "--now",
            NOW,
        ],
        &["reconcile", "--now", NOW],
        &["reconcile", "--dry-run", "--now", NOW],
        &["trigger", "backstage", "--dry-run", "--now", NOW],
        &[
            "expedite",
            "node:22-bookworm-slim",
            "--reason",
            "x",
            "--now",
            NOW,
        ],
        &["plan", "node:22-bookworm-slim", "--now", NOW],
        &["status", "--now", NOW],
        &["graph"],
        &["catalog"],
        &["generate", "--dry-run"],
        &["check", "--dry-run", "--now", NOW],
        &[
            "record-update",
            "--image",
            "node:22-bookworm-slim",
            "--digest",
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "--now",
            NOW,
        ],
    ];
    for args in commands {
        let out = run_in(&root, args);
        let err = stderr(&out);
        assert_eq!(code(&out), Some(2), "{args:?}: {err}");
        assert!(err.contains(&at), "{args:?}: {err}");
        assert!(
            err.contains("did you mean `rebuildDelay`?"),
            "{args:?}: {err}"
        );
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
    }
    assert!(
        before == snapshot(root.parent().unwrap()),
        "something was written"
    );

    // An invalid value too (not only unknown keys), with its position.
    std::fs::write(
        &images,
        text.replacen("rebuildDelay: 7d", "rebuildDelay: 7x", 1),
    )
    .unwrap();
    let out = run_in(&root, &["status", "--now", NOW]);
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("images.yaml:{line}:19: error:")),
        "{}",
        stderr(&out)
    );
}

// 2. Paths resolve the same from anywhere.

/// `analyze` of the example factory, the state it writes, and its exit code, run from `cwd`
/// with `--root root`.
fn analyze_from(cwd: &Path, root: &str) -> (Option<i32>, String) {
    let out = run_from(
        cwd,
        &[
            "--root",
            root,
            "analyze",
            "--all",
            "--no-fetch",
            "--now",
            NOW,
        ],
    );
    (code(&out), stderr(&out))
}

#[test]
fn dockerfile_paths_resolve_the_same_however_root_is_spelled() {
    for git in [false, true] {
        let (dir, root) = example();
        let top = dir.path().canonicalize().unwrap();
        if git {
            // The factory inside a git work tree: paths are relative to its top, even from a
            // nested directory.
            let status = std::process::Command::new("git")
                .args(["init", "-q"])
                .current_dir(&top)
                .status()
                .unwrap();
            assert!(status.success());
        }
        let state = |root: &Path| snapshot(&root.join("state"));
        let mut seen = Vec::new();
        for (cwd, spelled) in [
            (root.clone(), ".".to_string()),
            (top.clone(), "image-factory".to_string()),
            (top.join("examples"), "../image-factory".to_string()),
            (PathBuf::from("/"), root.display().to_string()),
        ] {
            // Start from the shipped state each time.
            let fresh = workspace().join("image-factory/state");
            std::fs::remove_dir_all(root.join("state")).unwrap();
            copy_tree(&fresh, &root.join("state"), &|_| false);
            let (code, err) = analyze_from(&cwd, &spelled);
            assert_eq!(
                code,
                Some(0),
                "git {git}, --root {spelled} from {cwd:?}: {err}"
            );
            assert!(!err.contains("discovery failed"), "--root {spelled}: {err}");
            seen.push((spelled, state(&root)));
        }
        for (spelled, s) in &seen[1..] {
            assert!(
                *s == seen[0].1,
                "git {git}: --root {spelled} wrote other state"
            );
        }
    }
}

// 3. A closed stdout ends the process quietly.

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    use std::os::unix::process::ExitStatusExt as _;
    let (_dir, root) = example();
    let commands: &[&[&str]] = &[
        &["status", "--now", NOW],
        &["--format", "json", "status", "--now", NOW],
        &["graph"],
        &["--format", "mermaid", "graph"],
        &["catalog"],
        &["plan", "node:22-bookworm-slim", "--now", NOW],
        &["reconcile", "--dry-run", "--now", NOW],
        &["generate", "--dry-run"],
        &["validate"],
        &["ref", "node:22"],
        &["dockerfile", "../Dockerfile"],
        &["completions", "bash"],
        &["man"],
        &["--help"],
    ];
    for args in commands {
        // A real pipe whose reading end is closed before the command starts: its first write
        // fails with EPIPE (or SIGPIPE).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("image-factory"))
            .env_remove("IMAGE_FACTORY_ROOT")
            .current_dir(&root)
            .arg("--root")
            .arg(&root)
            .args(*args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let quiet = out.status.code() == Some(0)
            || out.status.code() == Some(141)
            || out.status.signal() == Some(13);
        assert!(quiet, "{args:?}: {:?}: {err}", out.status);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

// 4. Exit codes tell the truth.

#[test]
fn a_failed_discovery_exits_1_and_validate_reports_it() {
    let (dir, root) = example();
    std::fs::remove_file(dir.path().join("examples/backstage/Dockerfile")).unwrap();
    let out = run_in(&root, &["analyze", "--all", "--no-fetch", "--now", NOW]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("discovery failed for 1 image(s)"),
        "{}",
        stderr(&out)
    );
    let out = run_in(&root, &["validate"]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let state = std::fs::read_to_string(root.join("state/images/backstage.yaml")).unwrap();
    let line = state
        .lines()
        .position(|l| l.starts_with("discoveryStatus:"))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!(
            "state/images/backstage.yaml:{line}:1: error: the last discovery of `backstage` failed"
        )),
        "{text}"
    );
    // Put back, analyzed again: clean.
    std::fs::copy(
        workspace().join("examples/backstage/Dockerfile"),
        dir.path().join("examples/backstage/Dockerfile"),
    )
    .unwrap();
    let out = run_in(&root, &["analyze", "--all", "--no-fetch", "--now", NOW]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let out = run_in(&root, &["validate"]);
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
}

#[test]
fn a_failed_trigger_exits_1() {
    let (_dir, root) = example();
    // No GITHUB_TOKEN: the workflow_dispatch cannot be sent.
    let out = bin()
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITLAB_TOKEN")
        .arg("--root")
        .arg(&root)
        .args(["trigger", "backstage", "--reason", "test", "--now", NOW])
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("trigger of backstage"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_damaged_state_file_exits_1_and_nothing_is_written() {
    let (_dir, root) = example();
    let damaged = root.join("state/images/backstage.yaml");
    std::fs::write(&damaged, "image: [unclosed\n").unwrap();
    let before = snapshot(&root);
    let out = run_in(&root, &["analyze", "--all", "--no-fetch", "--now", NOW]);
    assert_eq!(code(&out), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot be read; nothing was changed"));
    assert!(before == snapshot(&root));
    // A usage error stays 2.
    let out = run_in(&root, &["analyze", "--no-such-option"]);
    assert_eq!(code(&out), Some(2));
}

#[test]
fn the_readme_has_one_exit_code_table() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let rows: Vec<&str> = readme
        .lines()
        .filter(|l| l.starts_with("| 0 ") || l.starts_with("| 1 ") || l.starts_with("| 2 "))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[1].contains("failed") && rows[1].contains("damaged"),
        "{rows:?}"
    );
    assert!(rows[2].contains("usage"), "{rows:?}");
}

// 5. The README a newcomer reads.

#[test]
fn the_readme_installs_and_points_only_inside_the_repository() {
    let ws = workspace();
    let readme = std::fs::read_to_string(ws.join("README.md")).unwrap();
    assert!(readme.contains("cargo install --locked --path crates/if-cli"));
    assert!(
        !readme.contains("cargo run -q"),
        "the first command must show progress"
    );
    assert!(
        readme.contains("skipping:"),
        "the README says what a skip is"
    );
    for doc in ["README.md", "ARCHITECTURE.md"] {
        let text = std::fs::read_to_string(ws.join(doc)).unwrap();
        assert!(!text.contains("DESIGN.md"), "{doc} points at DESIGN.md");
        assert!(text.contains("docs/design.md"), "{doc}");
    }
    assert!(ws.join("docs/design.md").is_file());
    assert!(
        !readme.contains("../shared/"),
        "README points at files outside the repository"
    );
    // The CI recipes install what exists: no tag (there is none), the path or git form.
    let mut recipes = Vec::new();
    let mut todo = vec![ws.join("examples/ci")];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                recipes.push(p);
            }
        }
    }
    let mut installs = 0;
    for p in recipes {
        let text = std::fs::read_to_string(&p).unwrap();
        // Each command from `cargo install` to its package, across line continuations.
        for (i, _) in text.match_indices("cargo install") {
            let end = text[i..].find("if-cli").unwrap() + i;
            let command = &text[i..end];
            installs += 1;
            assert!(!command.contains("--tag"), "{}: {command}", p.display());
            assert!(command.contains("--locked"), "{}: {command}", p.display());
        }
    }
    assert!(installs > 0);
    // The cluster install order is one block, the same in the three places that give it,
    // with the namespace (labelled) before the Project, and the Secrets after both.
    let block = |file: &str| -> String {
        let text = std::fs::read_to_string(ws.join(file)).unwrap();
        let marker = "<!-- cluster-install:";
        assert_eq!(text.matches(marker).count(), 1, "{file}");
        let start = text.find(marker).unwrap();
        let rest = &text[start..];
        let open = rest.find("```sh\n").unwrap();
        let close = rest[open + 6..].find("```").unwrap() + open + 6;
        rest[..close].to_string()
    };
    let readme_block = block("README.md");
    assert_eq!(block("deploy/README.md"), readme_block);
    assert_eq!(block("docs/kargo.md"), readme_block);
    let at = |what: &str| {
        readme_block
            .find(what)
            .unwrap_or_else(|| panic!("no {what}"))
    };
    assert!(at("Kargo v1.11") < at("kubectl create namespace image-factory"));
    assert!(
        at("kubectl label namespace image-factory kargo.akuity.io/project=true")
            < at("kubectl apply -f dist/image-factory.k8s.yaml")
    );
    assert!(
        at("kubectl apply -f dist/image-factory.k8s.yaml")
            < at("kubectl apply -n image-factory -k deploy/")
    );
    assert!(at("kubectl apply -n image-factory -k deploy/") < at("create secret generic"));
    // Nowhere else an install step that contradicts it.
    for file in ["README.md", "deploy/README.md", "docs/kargo.md"] {
        let text = std::fs::read_to_string(ws.join(file)).unwrap();
        assert!(
            !text.contains("kubectl apply -k deploy/"),
            "{file}: without -n"
        );
    }
}

// 6. The small things.

#[test]
fn completions_and_a_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert_eq!(code(&out), Some(0), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        for word in ["image-factory", "record-update", "--root"] {
            assert!(text.contains(word), "{shell}: no {word}");
        }
    }
    let out = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(code(&out), Some(2));
    let out = bin().arg("man").output().unwrap();
    assert_eq!(code(&out), Some(0));
    let text = stdout(&out);
    assert!(
        text.starts_with(".ie") || text.contains(".TH image-factory"),
        "{text}"
    );
    assert!(text.contains("record\\-update") || text.contains("record-update"));
}

#[test]
fn git_options_only_on_commands_that_write_state() {
    let help = |cmd: &str| stdout(&bin().args([cmd, "--help"]).output().unwrap());
    for cmd in [
        "validate", "status", "graph", "plan", "ref", "generate", "catalog",
    ] {
        let text = help(cmd);
        for opt in GIT_OPTIONS {
            assert!(!text.contains(opt), "{cmd} --help lists {opt}");
        }
    }
    for cmd in [
        "analyze",
        "record-update",
        "record-build",
        "reconcile",
        "trigger",
        "expedite",
        "check",
    ] {
        let text = help(cmd);
        for opt in GIT_OPTIONS {
            assert!(text.contains(opt), "{cmd} --help lacks {opt}");
        }
    }
    let (_dir, root) = example();
    // Refused after a read-only command's name (clap), and before it (the command).
    let out = run_in(&root, &["status", "--commit"]);
    assert_eq!(code(&out), Some(2));
    let out = run_in(&root, &["--commit", "status"]);
    assert_eq!(code(&out), Some(2));
    assert!(stderr(&out).contains("for commands that write state"));
    // After a writer's name they work: --commit outside a git work tree is a git error.
    let out = run_in(
        &root,
        &["analyze", "--all", "--no-fetch", "--now", NOW, "--commit"],
    );
    assert_eq!(code(&out), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("git"), "{}", stderr(&out));
}

#[test]
fn outside_a_factory_the_error_mentions_root() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["status"][..], &["validate"], &["analyze", "--all"]] {
        let out = run_from(dir.path(), args);
        assert_eq!(code(&out), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("no factory at image-factory"), "{err}");
        assert!(err.contains("--root"), "{err}");
    }
}

#[test]
fn quiet_and_verbose() {
    let (_dir, root) = example();
    let args = ["analyze", "--all", "--no-fetch", "--now", NOW];
    let normal = run_in(&root, &args);
    assert_eq!(code(&normal), Some(0), "{}", stderr(&normal));
    assert!(stderr(&normal).contains("nothing changed") || stderr(&normal).contains("written"));
    let quiet = bin()
        .arg("--root")
        .arg(&root)
        .arg("-q")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(code(&quiet), Some(0));
    assert_eq!(stderr(&quiet), "");
    let verbose = bin()
        .arg("--root")
        .arg(&root)
        .args(args)
        .arg("--verbose")
        .output()
        .unwrap();
    assert_eq!(code(&verbose), Some(0));
    let err = stderr(&verbose);
    assert!(err.contains("factory root: "), "{err}");
    let top = root.parent().unwrap().canonicalize().unwrap();
    assert!(
        err.contains(&format!(
            "source.dockerfile paths resolve under {}",
            top.display()
        )),
        "{err}"
    );
    let out = run_in(&root, &["-q", "-v", "status"]);
    assert_eq!(code(&out), Some(2));
}

#[test]
fn ref_follows_distributions_255_character_path_rule() {
    let a = |n: usize| "a".repeat(n);
    // The path (without the registry) may have 255 characters, whatever the registry.
    for ok in [
        format!("registry.example.com:5000/{}", a(255)),
        format!("org/{}", a(251)),
        a(247),
    ] {
        let out = bin().args(["ref", &ok]).output().unwrap();
        assert_eq!(code(&out), Some(0), "{ok}: {}", stderr(&out));
    }
    // One more is refused, `library/` included.
    for bad in [
        format!("example.com/{}", a(256)),
        a(248),
        format!("org/{}", a(252)),
    ] {
        let out = bin().args(["ref", &bad]).output().unwrap();
        assert_eq!(code(&out), Some(2), "{bad}");
        assert!(stderr(&out).contains("must not be more than 255 characters"));
    }
}
