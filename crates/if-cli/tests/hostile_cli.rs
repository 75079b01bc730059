//! Hostile input end to end (issue 19): Dockerfiles shaped by an attacker, state files that
//! are links or damaged, secrets in URLs. Memory and time bounds are held by running the
//! binary under `prlimit` (1 GiB of address space, 20 s of CPU), never by a clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{stderr, stdout};

/// `prlimit` with the bounds of the issue around the `image-factory` binary.
fn bounded(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new("prlimit")
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--cpu=20")
        .arg("--")
        .arg(assert_cmd::cargo::cargo_bin("image-factory"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("IMAGE_FACTORY_ROOT")
        .env("IMAGE_FACTORY_GITHUB_API", "http://127.0.0.1:9")
        .env("IMAGE_FACTORY_GITLAB_API", "http://127.0.0.1:9/api/v4")
        .output()
        .unwrap()
}

fn managed(name: &str) -> String {
    format!(
        "  - name: {name}\n    registry: ghcr.io\n    repository: acme/{name}\n    source:\n      \
         provider: github\n      repo: acme/{name}\n      branch: main\n      dockerfile: \
         {name}/Dockerfile\n      workflow: build.yml\n"
    )
}

/// A factory at `dir/factory` whose images are built from `dir/NAME/Dockerfile`.
fn factory(dir: &Path, dockerfiles: &[(&str, String)]) -> std::path::PathBuf {
    let root = dir.join("factory");
    std::fs::create_dir_all(&root).unwrap();
    let mut yaml = String::from("images:\n");
    for (name, text) in dockerfiles {
        yaml.push_str(&managed(name));
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("Dockerfile"), text).unwrap();
    }
    std::fs::write(root.join("images.yaml"), yaml).unwrap();
    root
}

#[test]
fn three_hostile_dockerfiles_do_not_take_analyze_down() {
    let dir = tempfile::tempdir().unwrap();
    let root = factory(
        dir.path(),
        &[
            ("exp", if_dockerfile::hostile::exponential_args(27)),
            ("deep", if_dockerfile::hostile::nested_default(13_000)),
            ("onbuild", if_dockerfile::hostile::onbuild_chain(40_000)),
            ("good", "FROM alpine:3.20\n".to_string()),
        ],
    );
    let out = bounded(
        &root,
        &[
            "analyze",
            "--all",
            "--no-fetch",
            "--now",
            "2026-01-01T00:00:00Z",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let text = format!("{}{err}", stdout(&out));
    assert!(
        text.contains("good: base images [] -> [alpine-3.20]"),
        "{text}"
    );
    let state =
        |name: &str| std::fs::read_to_string(root.join(format!("state/images/{name}.yaml")));
    for (name, why) in [
        (
            "exp",
            "exp/Dockerfile:21:5: expanded word longer than 1048576 bytes",
        ),
        (
            "deep",
            "deep/Dockerfile:1:6: variable expansion nested deeper than 100 levels",
        ),
        (
            "onbuild",
            "onbuild/Dockerfile:2:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
    ] {
        let s = state(name).unwrap();
        assert!(s.contains(why), "{name}: {s}\n{text}");
    }
}

/// Every file under `dir` with its bytes (links as `-> target`).
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let name = p.strip_prefix(dir).unwrap().display().to_string();
            if meta.file_type().is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.push((name, format!("-> {}", t.display()).into_bytes()));
            } else if meta.is_dir() {
                stack.push(p);
            } else {
                out.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

const NOW: &str = "2026-01-01T00:00:00Z";

/// A factory of two images, analysed once (its state written).
fn analysed(dir: &Path) -> std::path::PathBuf {
    let root = factory(
        dir,
        &[
            ("app", "FROM alpine:3.20\n".to_string()),
            ("web", "FROM nginx:1.27\n".to_string()),
        ],
    );
    let out = bounded(&root, &["analyze", "--all", "--no-fetch", "--now", NOW]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    root
}

#[test]
fn a_state_file_that_is_a_link_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = analysed(dir.path());
    // A YAML file of the runner, linked in as a state file by a pull request.
    let outside = dir.path().join("runner-secrets.yaml");
    std::fs::write(&outside, "name: app\ntoken: hunter2\n").unwrap();
    let state = root.join("state/images/app.yaml");
    std::fs::remove_file(&state).unwrap();
    std::os::unix::fs::symlink(&outside, &state).unwrap();
    let before = tree(dir.path());
    for args in [
        &["analyze", "--all", "--no-fetch", "--now", NOW][..],
        &["status"][..],
    ] {
        let out = bounded(&root, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("path: {} is a symlink", state.display())),
            "{err}"
        );
        assert!(!stdout(&out).contains("hunter2"));
        assert_eq!(tree(dir.path()), before);
    }
    // A linked state directory likewise.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::rename(root.join("state/base-images"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("state/base-images")).unwrap();
    std::fs::remove_file(&state).unwrap();
    let before = tree(dir.path());
    let out = bounded(&root, &["analyze", "--all", "--no-fetch", "--now", NOW]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("state/base-images is a symlink"),
        "{}",
        stderr(&out)
    );
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn a_planted_temporary_link_is_not_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let root = analysed(dir.path());
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    // The old fixed temporary names of the files the next run writes.
    for f in [
        "state/images/app.yaml.tmp",
        "state/base-images/alpine-3.21.yaml.tmp",
    ] {
        std::os::unix::fs::symlink(&victim, root.join(f)).unwrap();
    }
    std::fs::write(dir.path().join("app/Dockerfile"), "FROM alpine:3.21\n").unwrap();
    let out = bounded(&root, &["analyze", "--all", "--no-fetch", "--now", NOW]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    let app = std::fs::read_to_string(root.join("state/images/app.yaml")).unwrap();
    assert!(app.contains("alpine"), "{app}");
    assert!(root.join("state/base-images/alpine-3.21.yaml").is_file());
}

#[test]
fn a_fifo_or_an_oversized_dockerfile_fails_its_image_only() {
    let dir = tempfile::tempdir().unwrap();
    let big = format!("FROM alpine:3.20\n{}", "# padding\n".repeat(110_000));
    let root = factory(
        dir.path(),
        &[
            ("big", big),
            ("fifo", String::new()),
            ("good", "FROM alpine:3.20\n".to_string()),
        ],
    );
    let fifo = dir.path().join("fifo/Dockerfile");
    std::fs::remove_file(&fifo).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = bounded(&root, &["analyze", "--all", "--no-fetch", "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let state =
        |n: &str| std::fs::read_to_string(root.join(format!("state/images/{n}.yaml"))).unwrap();
    assert!(
        state("good").contains("discoveryStatus: success"),
        "{}",
        state("good")
    );
    assert!(
        state("big").contains("larger than 1048576 bytes"),
        "{}",
        state("big")
    );
    assert!(
        state("fifo").contains("is not a regular file"),
        "{}",
        state("fifo")
    );
    let out = bounded(&root, &["dockerfile", fifo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not a regular file"));
}

#[test]
fn a_damaged_state_file_stops_writers_and_is_shown_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let root = analysed(dir.path());
    let state = root.join("state/images/app.yaml");
    // A pending rebuild would be in here; the file is cut in the middle of a value.
    std::fs::write(&state, "name: app\nenrolledAt: [2026-01-01\n").unwrap();
    std::fs::write(dir.path().join("app/Dockerfile"), "FROM alpine:3.21\n").unwrap();
    let before = tree(dir.path());
    let at = format!("{}:2:13: error: unclosed bracket", state.display());
    for args in [
        &["analyze", "--all", "--no-fetch", "--now", NOW][..],
        &["analyze", "--image", "web", "--no-fetch", "--now", NOW][..],
        &[
            "record-update",
            "--image",
            "docker.io/library/alpine:3.20",
            "--digest",
            &format!("sha256:{}", "a".repeat(64)),
            "--now",
            NOW,
        ][..],
        &["reconcile", "--now", NOW][..],
    ] {
        let out = bounded(&root, args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("cannot be read; nothing was changed"), "{err}");
        assert!(err.contains(&at), "{err}");
        assert_eq!(tree(dir.path()), before, "{args:?}");
    }
    let out = bounded(&root, &["validate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains(&at), "{}", stdout(&out));
    // `status` shows it, and exits 1: a damaged file needs a person.
    let out = bounded(&root, &["status", "--wide"]);
    assert_eq!(out.status.code(), Some(1));
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("app "))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(line.contains("damaged") && line.contains(&at), "{line}");
    // `plan` shows it and exits 1: it needs a person.
    let out = bounded(&root, &["plan", "alpine:3.20", "--now", NOW]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("app: not rebuilt: damaged state file"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_empty_enrollment_archives_nothing_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let root = analysed(dir.path());
    for empty in ["", "images: []\n"] {
        std::fs::write(root.join("images.yaml"), empty).unwrap();
        let before = tree(dir.path());
        let out = bounded(&root, &["analyze", "--all", "--no-fetch", "--now", NOW]);
        assert_eq!(out.status.code(), Some(2));
        let err = stderr(&out);
        assert!(
            err.contains("enrolls no image, but 2 image(s) have state"),
            "{err}"
        );
        assert!(err.contains("--allow-empty"), "{err}");
        assert_eq!(tree(dir.path()), before);
    }
    let out = bounded(
        &root,
        &[
            "--allow-empty",
            "analyze",
            "--all",
            "--no-fetch",
            "--now",
            NOW,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("app: not in images.yaml, archived"));
}

#[test]
fn a_huge_regex_is_refused_quickly_and_control_characters_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let root = analysed(dir.path());
    let images = std::fs::read_to_string(root.join("images.yaml")).unwrap();
    let huge = "a|".repeat(25_000_000);
    let external = format!(
        "  - name: ext\n    registry: docker.io\n    repository: library/redis\n    \
         allowTags: '^({huge})$'\n"
    );
    std::fs::write(root.join("images.yaml"), format!("{images}{external}")).unwrap();
    let out = bounded(&root, &["validate"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("allowTags is 50000004 bytes long; at most 4096"),
        "{}",
        &text[..text.len().min(300)]
    );
    assert!(text.len() < 10_000, "the pattern is not echoed");

    // ESC and BEL in images.yaml and in a state file.
    std::fs::write(
        root.join("images.yaml"),
        format!("{images}  - name: ext\n    registry: docker.io\n    repository: \"library/redis\\e]0;pwned\\a\"\n"),
    )
    .unwrap();
    let state = root.join("state/images/web.yaml");
    let text = std::fs::read_to_string(&state).unwrap();
    std::fs::write(
        &state,
        text.replace(
            "discoveryStatus: success",
            "discoveryStatus: \"success\\e[2J\\a\"",
        ),
    )
    .unwrap();
    for args in [&["validate"][..], &["status"][..], &["graph"][..]] {
        let out = bounded(&root, args);
        let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
        assert!(
            !all.iter().any(|b| *b == 0x1b || *b == 0x07),
            "{args:?}: {}",
            String::from_utf8_lossy(&all)
        );
        if args == ["validate"] {
            assert_eq!(out.status.code(), Some(1));
            assert!(stdout(&out).contains("contains the control character U+001B"));
        }
    }
}

#[test]
fn a_hanging_forge_holds_the_run_up_for_its_fetch_budget_only() {
    use std::sync::{Arc, Mutex};
    // A forge that accepts every connection and never answers.
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    let forge = if_testkit::loopback::Loopback::start_bounded("hanging forge", 64, move |s| {
        keep.lock().unwrap().push(s);
    });
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..12).map(|i| format!("remote{i:02}")).collect();
    let mut files: Vec<(&str, String)> =
        names.iter().map(|n| (n.as_str(), String::new())).collect();
    files.push(("local", "FROM alpine:3.20\n".to_string()));
    let root = factory(dir.path(), &files);
    for n in &names {
        std::fs::remove_file(dir.path().join(n).join("Dockerfile")).unwrap();
    }
    let out = Command::new("prlimit")
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--cpu=20")
        .arg("--")
        .arg(assert_cmd::cargo::cargo_bin("image-factory"))
        .args(["--root", root.to_str().unwrap()])
        .args(["analyze", "--all", "--fetch-budget", "2", "--now", NOW])
        .env_remove("IMAGE_FACTORY_ROOT")
        .env_remove("GITHUB_TOKEN")
        .env("IMAGE_FACTORY_GITHUB_API", forge.url())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let state =
        |n: &str| std::fs::read_to_string(root.join(format!("state/images/{n}.yaml"))).unwrap();
    assert!(state("local").contains("discoveryStatus: success"));
    for n in &names {
        let s = state(n);
        assert!(
            s.contains("within the run's fetch budget (2 s, --fetch-budget)"),
            "{n}: {s}"
        );
    }
    // Fetched in parallel: more than one request was waiting at once.
    let waiting = held.lock().unwrap().len();
    assert!(waiting >= 8, "{waiting} connection(s)");
}
