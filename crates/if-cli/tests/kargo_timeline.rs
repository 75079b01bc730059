//! A timeline through the generated Kargo resources: two new digests of one base image a day
//! apart, each promoted and verified as Kargo v1.11.2 and Argo Rollouts would, running the
//! exact commands of the generated AnalysisTemplate and reconcile CronJob through the CLI
//! against a real state repository (`git daemon` on 127.0.0.1), with the GitHub and GitLab
//! APIs faked on loopback. Both digests must be recorded within one reconcile interval of
//! their arrival, and the rebuild they schedule must start at the first CronJob run after its
//! delay. Skipped, with the reason printed, when `git` is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use if_cli::cmd::generate::{self, Options, Rendered};
use if_kargo::Resource;
use if_kargo::kargo::{Stage, Subscription};
use if_kargo::rollouts::{Container, JobMetric, Metric};
use if_model::timestamp::Timestamp;
use if_model::yaml;
use if_testkit::git::Daemon;

use common::rebuild::{Factory, GH_TOKEN, GL_TOKEN, digest};
use common::{bin, git, stderr};

/// What `kargo.yaml` names as the state repository; the test points it at its daemon.
const STATE_URL: &str = "https://git.example.invalid/acme/state.git";
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// Kargo's value of one Stage argument for a Freight of `tag`@`digest`: the forms the
/// generator writes (pkg/expressions; `quote` keeps the result a string). Any other form
/// fails the test, so that a new expression is given its meaning here first.
fn stage_arg(stage: &Stage, value: &str, tag: &str, digest: &str) -> String {
    let repo = &stage
        .spec
        .vars
        .iter()
        .find(|v| v.name == "repoURL")
        .unwrap()
        .value;
    match value {
        "${{ quote(vars.repoURL) }}" => repo.clone(),
        "${{ quote(imageFrom(vars.repoURL).Tag) }}" => tag.to_string(),
        "${{ quote(imageFrom(vars.repoURL).Digest) }}" => digest.to_string(),
        v if !v.contains("${{") => v.to_string(),
        v => panic!("the timeline does not know the expression {v}"),
    }
}

/// How long Argo Rollouts keeps a verification running after its first measurement
/// (analysis/analysis.go: one measurement at once, each next one `interval` after the last;
/// `EffectiveCount` is 1 without count and interval); `None`: it never ends by itself.
fn verification_seconds(m: &Metric) -> Option<i64> {
    let count = match (m.count, &m.interval) {
        (Some(n), _) if n > 0 => i64::from(n),
        (_, None) => 1,
        (_, Some(_)) => return None,
    };
    let interval = m.interval.as_deref().map_or(0, |i| {
        let (n, unit) = i.split_at(i.len() - 1);
        let n: i64 = n.parse().unwrap();
        match unit {
            "h" => n * HOUR,
            "m" => n * 60,
            _ => panic!("interval {i}"),
        }
    });
    Some((count - 1) * interval)
}

/// The times (Unix seconds) at which a `M * * * *` schedule fires in `[from, to]`.
fn hourly_ticks(schedule: &str, from: i64, to: i64) -> Vec<i64> {
    let minute: i64 = match schedule.split_whitespace().collect::<Vec<_>>().as_slice() {
        [m, "*", "*", "*", "*"] => m.parse().expect("an hourly schedule"),
        _ => panic!("the timeline needs an hourly schedule, not {schedule}"),
    };
    let first = (from - minute * 60).div_euclid(HOUR) * HOUR + minute * 60;
    let first = if first < from { first + HOUR } else { first };
    (0..)
        .map(|k| first + k * HOUR)
        .take_while(|t| *t <= to)
        .collect()
}

struct Timeline {
    f: Factory,
    daemon: Daemon,
    rendered: Rendered,
}

impl Timeline {
    fn new() -> Timeline {
        let f = Factory::setup();
        std::fs::write(
            f.root.join("kargo.yaml"),
            format!("state:\n  repoURL: {STATE_URL}\n  branch: main\n  path: factory\n"),
        )
        .unwrap();
        let rendered = generate::render_root(&f.root, &Options::default()).unwrap();
        let dir = f.dir.path();
        let (daemon, _) = common::serve_state(dir);
        Timeline {
            f,
            daemon,
            rendered,
        }
    }

    /// Runs one analyzer container's command at `now`: its arguments with `{{args.X}}`
    /// filled in and the state repository's URL pointed at the daemon.
    fn run(&self, c: &Container, args: &BTreeMap<String, String>, now: i64) {
        let url = self.daemon.url("state.git");
        let mut argv: Vec<String> = c
            .args
            .iter()
            .map(|a| {
                let mut a = a.replace(STATE_URL, &url);
                for (k, v) in args {
                    a = a.replace(&format!("{{{{args.{k}}}}}"), v);
                }
                a
            })
            .collect();
        argv.extend([
            "--now".to_string(),
            Timestamp::from_unix(now).unwrap().to_string(),
        ]);
        let empty = tempfile::tempdir().unwrap();
        let mut cmd = bin();
        cmd.current_dir(empty.path())
            .env("GITHUB_TOKEN", GH_TOKEN)
            .env("GITLAB_TOKEN", GL_TOKEN)
            .env("IMAGE_FACTORY_GITHUB_API", self.f.forge.github_api())
            .env("IMAGE_FACTORY_GITLAB_API", self.f.forge.gitlab_api())
            .args(&argv);
        let out = self.f.exec(cmd);
        assert_eq!(out.status.code(), Some(0), "{argv:?}: {}", stderr(&out));
    }

    /// Runs a Job's containers in order (init containers first), as its pod would.
    fn job(&self, job: &JobMetric, args: &BTreeMap<String, String>, now: i64) {
        let pod = &job.spec.template.spec;
        for c in pod.init_containers.iter().chain(&pod.containers) {
            self.run(c, args, now);
        }
    }

    /// The state file of a base image as the state repository holds it now.
    fn state(&self, file: &str) -> yaml::Node {
        let out = git(
            &self.daemon.path("state.git"),
            &["show", &format!("main:factory/state/base-images/{file}")],
        );
        yaml::parse(&out).unwrap()
    }
}

#[test]
fn two_digests_a_day_apart_are_both_recorded_within_one_reconcile_interval() {
    if !if_testkit::git::git_installed() {
        eprintln!("skipping: git is not installed");
        return;
    }
    let t = Timeline::new();
    let resources = &t.rendered.resources;
    let stage = resources
        .iter()
        .find_map(|g| match &g.resource {
            Resource::Stage(s)
                if s.spec
                    .vars
                    .iter()
                    .any(|v| v.value == "docker.io/library/python") =>
            {
                Some(s)
            }
            _ => None,
        })
        .expect("a Stage for python:3.12-slim");
    let warehouse = resources
        .iter()
        .find_map(|g| match &g.resource {
            Resource::Warehouse(w)
                if w.metadata.name == stage.spec.requested_freight[0].origin.name =>
            {
                Some(w)
            }
            _ => None,
        })
        .unwrap();
    let Subscription::Image(sub) = &warehouse.spec.subscriptions[0] else {
        panic!("an image Warehouse")
    };
    let tag = sub
        .constraint
        .clone()
        .expect("a Digest subscription of one tag");
    let template_name = &stage.spec.verification.analysis_templates[0].name;
    let template = resources
        .iter()
        .find_map(|g| match &g.resource {
            Resource::AnalysisTemplate(a) if &a.metadata.name == template_name => Some(a),
            _ => None,
        })
        .unwrap();
    let metric = &template.spec.metrics[0];
    let cron = resources
        .iter()
        .find_map(|g| match &g.resource {
            Resource::CronJob(c) => Some(c),
            _ => None,
        })
        .expect("the reconcile CronJob");
    // The reconcile interval: the time between two runs of the CronJob.
    let first = hourly_ticks(&cron.spec.schedule, 0, 2 * HOUR);
    let interval = first[1] - first[0];

    // Freight: the digest seen at install (a baseline), then two new ones a day apart.
    let install = Timestamp::parse("2026-03-09T10:00:00Z").unwrap().unix();
    let freight = [
        (install, digest('a')),
        (install + DAY, digest('b')),
        (install + 2 * DAY, digest('c')),
    ];
    // Kargo promotes each Freight when it arrives, unless the previous one's verification
    // is still running (regular_stages.go, syncPromotions); its verification runs at once.
    let mut free_at = i64::MIN;
    let mut recorded = Vec::new();
    for (arrival, d) in &freight {
        let start = (*arrival).max(free_at);
        let args: BTreeMap<String, String> = stage
            .spec
            .verification
            .args
            .iter()
            .map(|a| (a.name.clone(), stage_arg(stage, &a.value, &tag, d)))
            .collect();
        t.job(&metric.provider.job, &args, start);
        recorded.push((d.clone(), *arrival, start));
        free_at = verification_seconds(metric).map_or(i64::MAX, |s| start + s);
    }
    for (d, arrival, start) in &recorded {
        assert!(
            start - arrival <= interval,
            "{d} arrived at {arrival} and was recorded {} hours later",
            (start - arrival) / HOUR
        );
    }
    // Both are in the state repository, detected when they arrived.
    let state = t.state("python-3.12-slim.yaml");
    let history: Vec<(String, String)> = match state.get("updateHistory").map(|n| &n.value) {
        Some(yaml::Value::Seq(items)) => items
            .iter()
            .map(|i| {
                let s = |k: &str| match i.get(k).map(|n| &n.value) {
                    Some(yaml::Value::Scalar(_, v)) => v.clone(),
                    _ => panic!("{k}"),
                };
                (s("digest"), s("detectedAt"))
            })
            .collect(),
        _ => panic!("no updateHistory in {state:?}"),
    };
    for (d, arrival, _) in &recorded[1..] {
        let when = Timestamp::from_unix(*arrival).unwrap().to_string();
        assert!(
            history.contains(&(d.clone(), when.clone())),
            "{d} at {when}: {history:?}"
        );
    }

    // base-py (rebuildDelay 7d) is due 7 days after the first new digest: no Freight arrives
    // then, so the CronJob's reconcile is what triggers it, at its first run from then on.
    let dispatches = |t: &Timeline| {
        t.f.requests()
            .iter()
            .filter(|r| {
                r.method == "POST"
                    && r.path == "/repos/acme/base-py/actions/workflows/build.yml/dispatches"
            })
            .count()
    };
    assert_eq!(dispatches(&t), 0, "no rebuild before the delay");
    let due = freight[1].0 + 7 * DAY;
    let ticks = hourly_ticks(&cron.spec.schedule, due - 2 * interval, due + interval);
    let mut triggered_at = None;
    for tick in ticks {
        t.job(&cron.spec.job_template, &BTreeMap::new(), tick);
        if triggered_at.is_none() && dispatches(&t) == 1 {
            triggered_at = Some(tick);
        }
    }
    let at = triggered_at.expect("the CronJob's reconcile triggered base-py");
    assert!(
        at >= due && at - due < interval,
        "triggered {}s after it was due",
        at - due
    );
    assert_eq!(dispatches(&t), 1, "later runs trigger nothing new");
    t.f.assert_no_secrets();
}
