//! Concurrent and killed runs (issue 19): one writer at a time on a factory root, so two
//! writers started together both land; a writer killed at any point leaves every state file
//! old or new, no temporary file once the next run has started, and a rerun converges.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{run_in, stderr, stdout};

fn entry(name: &str) -> String {
    format!(
        "  - name: {name}\n    registry: ghcr.io\n    repository: acme/{name}\n    source:\n      \
         provider: github\n      repo: acme/{name}\n      branch: main\n      dockerfile: \
         {name}/Dockerfile\n      workflow: build.yml\n"
    )
}

/// A factory at `dir/factory` of `names`, each built `FROM base`.
fn factory(dir: &Path, names: &[String], base: &str) -> PathBuf {
    let root = dir.join("factory");
    std::fs::create_dir_all(&root).unwrap();
    let mut yaml = String::from("images:\n");
    for name in names {
        yaml.push_str(&entry(name));
        set_base(dir, name, base);
    }
    std::fs::write(root.join("images.yaml"), yaml).unwrap();
    root
}

fn set_base(dir: &Path, name: &str, base: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("Dockerfile"), format!("FROM {base}\n")).unwrap();
}

fn spawn(root: &Path, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("image-factory"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("IMAGE_FACTORY_ROOT")
        .env("IMAGE_FACTORY_GITHUB_API", "http://127.0.0.1:9")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The files under `root/state`, by path relative to it.
fn state(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for dir in ["images", "base-images"] {
        let Ok(entries) = std::fs::read_dir(root.join("state").join(dir)) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let name = format!("{dir}/{}", e.file_name().to_string_lossy());
            out.insert(name, std::fs::read_to_string(e.path()).unwrap());
        }
    }
    out
}

fn now(n: u32) -> String {
    format!("2026-01-{:02}T00:00:00Z", n + 1)
}

#[test]
fn two_writers_at_once_both_land_twenty_times() {
    let dir = tempfile::tempdir().unwrap();
    let names = vec!["a".to_string(), "b".to_string()];
    let root = factory(dir.path(), &names, "alpine:3.0");
    for round in 1..=20u32 {
        let base = format!("alpine:3.{round}");
        set_base(dir.path(), "a", &base);
        set_base(dir.path(), "b", &base);
        let t = now(round);
        let writers: Vec<Child> = ["a", "b"]
            .iter()
            .map(|n| spawn(&root, &["analyze", "--image", n, "--no-fetch", "--now", &t]))
            .collect();
        for w in writers {
            let out = w.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let s = state(&root);
        let shared = &s[&format!("base-images/alpine-3.{round}.yaml")];
        assert!(
            shared.contains("dependentImages:\n  - a\n  - b\n"),
            "round {round}: {shared}"
        );
        for n in ["a", "b"] {
            let image = &s[&format!("images/{n}.yaml")];
            assert!(
                image.contains(&format!("baseImages:\n  - alpine-3.{round}\n")),
                "round {round}: {image}"
            );
        }
    }
}

#[test]
fn a_second_writer_waits_then_says_who_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let root = factory(dir.path(), &["a".to_string()], "alpine:3.20");
    // Another holder of the same flock(2) lock on the root directory.
    let holder = std::fs::File::open(&root).unwrap();
    holder.lock().unwrap();
    let out = run_in(
        &root,
        &["--lock-timeout", "1", "analyze", "--all", "--no-fetch"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("waiting for the lock on"), "{err}");
    assert!(
        err.contains(&format!(
            "is locked by another image-factory run (held by pid {}",
            std::process::id()
        )),
        "{err}"
    );
    assert!(err.contains("--lock-timeout"), "{err}");
    assert!(!root.join("state").exists(), "nothing written");
    // Read-only commands take no lock.
    let out = run_in(&root, &["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(holder);
    let out = run_in(
        &root,
        &["--lock-timeout", "5", "analyze", "--all", "--no-fetch"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("a: enrolled"));
    // No lock file or anything else but state is left in the root.
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["images.yaml", "state"]);
}

/// A small deterministic generator of kill points.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn temp_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["images", "base-images"] {
        if let Ok(entries) = std::fs::read_dir(root.join("state").join(dir)) {
            out.extend(
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".tmp")),
            );
        }
    }
    out
}

fn restore(root: &Path, files: &BTreeMap<String, String>) {
    let _ = std::fs::remove_dir_all(root.join("state"));
    for (name, text) in files {
        let path = root.join("state").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn a_writer_killed_anywhere_leaves_old_or_new_files_and_a_rerun_converges() {
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..200).map(|i| format!("img{i:03}")).collect();
    let root = factory(dir.path(), &names, "alpine:3.19");
    let t0 = now(0);
    let t1 = now(1);
    let out = run_in(&root, &["analyze", "--all", "--no-fetch", "--now", &t0]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let old = state(&root);
    for (i, n) in names.iter().enumerate() {
        set_base(dir.path(), n, &format!("alpine:3.{}", 20 + i % 40));
    }
    let started = Instant::now();
    let out = run_in(&root, &["analyze", "--all", "--no-fetch", "--now", &t1]);
    let full = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let new = state(&root);
    assert_ne!(old, new);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let span = u64::try_from(full.as_micros()).unwrap().max(1_000);
    let mut killed = 0;
    for trial in 0..12 {
        restore(&root, &old);
        let mut child = spawn(&root, &["analyze", "--all", "--no-fetch", "--now", &t1]);
        std::thread::sleep(Duration::from_micros(rng.below(span)));
        let _ = child.kill();
        if child.wait().unwrap().code().is_none() {
            killed += 1;
        }
        for (name, text) in state(&root) {
            if name.ends_with(".tmp") {
                continue;
            }
            let was = old.get(&name);
            let will = new.get(&name);
            assert!(
                Some(&text) == was || Some(&text) == will,
                "trial {trial}: {name} is neither old nor new:\n{text}"
            );
        }
        for name in old.keys() {
            assert!(
                root.join("state").join(name).exists(),
                "trial {trial}: {name} lost"
            );
        }
        let out = run_in(&root, &["analyze", "--all", "--no-fetch", "--now", &t1]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "trial {trial}: {}",
            stderr(&out)
        );
        assert_eq!(
            state(&root),
            new,
            "trial {trial}: the rerun did not converge"
        );
        assert_eq!(temp_files(&root), Vec::<String>::new(), "trial {trial}");
    }
    // Kill points fall within a full run's time: most runs die before they finish.
    assert!(killed > 0, "no run was killed before it finished");
}
