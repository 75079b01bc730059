//! Tests of reading and validating `images.yaml`.

use super::*;

fn messages(src: &str) -> Vec<String> {
    let (_, diags) = parse(src, "images.yaml");
    diags.iter().map(ToString::to_string).collect()
}

const GOOD: &str = "\
- name: backstage
  registry: ghcr.io
  repository: acme/backstage
  source:
    provider: github
    repo: acme/backstage
    dockerfile: packages/backend/Dockerfile
    workflow: build.yml
  rebuildDelay: 7d
- name: postgres
  registry: docker.io
  repository: library/postgres
  allowTags: ^16-alpine$
  imageSelectionStrategy: Lexical
  rebuildDelay: 30d
  autoRebuild: false
";

#[test]
fn reads_both_shapes_with_defaults() {
    let (list, diags) = parse(GOOD, "images.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(list.shape, FileShape::List);
    assert_eq!(list.images.len(), 2);
    let b = &list.images[0];
    assert!(b.is_managed());
    assert_eq!(b.source.as_ref().unwrap().branch, "main");
    assert!(b.auto_rebuild);
    assert_eq!(b.cascade_delay, Duration::default());
    let p = &list.images[1];
    assert!(!p.is_managed());
    assert_eq!(p.rebuild_delay.to_string(), "30d");
    assert_eq!(p.image_selection_strategy, Some(SelectionStrategy::Lexical));

    let keyed = format!(
        "images:\n{}",
        GOOD.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    let (map, diags) = parse(&keyed, "images.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(map.shape, FileShape::ImagesKey);
    assert_eq!(map.images, list.images);
}

#[test]
fn empty_file_is_an_empty_enrollment() {
    let (e, diags) = parse("# nothing yet\n", "images.yaml");
    assert!(diags.is_empty());
    assert!(e.images.is_empty());
    let (e, diags) = parse("images: []\n", "images.yaml");
    assert!(diags.is_empty());
    assert!(e.images.is_empty());
}

#[test]
fn unknown_keys_name_the_key_and_suggest() {
    let src = "- name: a\n  registry: ghcr.io\n  repository: x/a\n  allowTags: ^1$\n  rebuildDelai: 7d\n  updates: []\n";
    assert_eq!(
        messages(src),
        [
            "images.yaml:5:3: error: unknown key `rebuildDelai` in an image entry; did you mean `rebuildDelay`?",
            "images.yaml:6:3: error: unknown key `updates` in an image entry; known keys: name, registry, repository, source, rebuildDelay, cascadeDelay, autoRebuild, buildTimeout, allowTags, imageSelectionStrategy, vulnerabilityPolicy, requireSignature",
        ]
    );
    assert_eq!(
        messages("image:\n  - name: a\n"),
        ["images.yaml:1:1: error: unknown key `image` in images.yaml; did you mean `images`?"]
    );
    let src = "- name: a\n  registry: ghcr.io\n  repository: x/a\n  source:\n    provider: github\n    repo: x/a\n    dockerfile: Dockerfile\n    workflow: b.yml\n    brnach: main\n";
    assert_eq!(
        messages(src),
        [
            "images.yaml:9:5: error: unknown key `brnach` in the source of image `a`; did you mean `branch`?"
        ]
    );
}

#[test]
fn names_must_be_unique_label_values() {
    let entry = |name: &str| {
        format!("- name: {name}\n  registry: ghcr.io\n  repository: x/a\n  allowTags: ^1$\n")
    };
    assert_eq!(
        messages(&format!("{}{}", entry("a"), entry("a"))),
        ["images.yaml:5:3: error: duplicate image name `a` (first used at line 1)"]
    );
    let m = messages(&entry("Backstage"));
    assert_eq!(m.len(), 1);
    assert!(
        m[0].starts_with(
            "images.yaml:1:9: error: image name `Backstage` contains `B` (names are lowercase)"
        ),
        "{m:?}"
    );
    let long = "a".repeat(64);
    assert!(messages(&entry(&long))[0].starts_with("images.yaml:1:9: error: image name"));
    assert!(messages(&entry("../etc"))[0].contains("contains `/`"));
    assert!(messages(&entry("-a"))[0].contains("must start and end"));
    assert!(messages(&entry(&"a".repeat(63))).is_empty());
    assert!(messages(&entry("a.b_c-1")).is_empty());
}

#[test]
fn required_fields_are_reported_at_the_entry() {
    assert_eq!(
        messages("- name: a\n  allowTags: ^1$\n"),
        [
            "images.yaml:1:3: error: image `a` has no `registry`",
            "images.yaml:1:3: error: image `a` has no `repository`",
        ]
    );
    assert_eq!(
        messages("- registry: ghcr.io\n  repository: x/a\n  allowTags: ^1$\n"),
        ["images.yaml:1:3: error: image entry has no `name`"]
    );
}

#[test]
fn external_images_need_allow_tags() {
    let m = messages("- name: pg\n  registry: docker.io\n  repository: library/postgres\n");
    assert_eq!(m.len(), 1);
    assert!(
        m[0].starts_with("images.yaml:1:3: error: external image `pg` has no `allowTags`"),
        "{m:?}"
    );
}

#[test]
fn source_rules_per_provider() {
    let base = "- name: a\n  registry: ghcr.io\n  repository: x/a\n  source:\n";
    let m = messages(&format!(
        "{base}    provider: bitbucket\n    repo: x/a\n    dockerfile: Dockerfile\n"
    ));
    assert_eq!(
        m,
        ["images.yaml:5:15: error: unknown provider `bitbucket`: use github or gitlab"]
    );
    let m = messages(&format!(
        "{base}    provider: github\n    repo: x/a\n    dockerfile: Dockerfile\n"
    ));
    assert_eq!(m.len(), 1);
    assert!(
        m[0].starts_with(
            "images.yaml:5:5: error: the source of image `a` is on github but has no `workflow`"
        ),
        "{m:?}"
    );
    let m = messages(&format!(
        "{base}    provider: github\n    repo: x/a\n    dockerfile: Dockerfile\n    workflow: b.yml\n    job: build\n"
    ));
    assert_eq!(
        m,
        ["images.yaml:9:10: error: `job` is for gitlab sources; github uses `workflow`"]
    );
    let m = messages(&format!(
        "{base}    provider: gitlab\n    repo: g/p\n    dockerfile: Dockerfile\n    workflow: b.yml\n"
    ));
    assert_eq!(
        m,
        [
            "images.yaml:8:15: error: `workflow` is for github sources; gitlab uses `pipeline` and `job`"
        ]
    );
    let m = messages(&format!(
        "{base}    provider: gitlab\n    repo: g/p\n    dockerfile: Dockerfile\n    job: build\n"
    ));
    assert!(m.is_empty(), "{m:?}");
}

#[test]
fn dockerfile_paths_stay_inside_the_repository() {
    let base = "- name: a\n  registry: ghcr.io\n  repository: x/a\n  source:\n    provider: gitlab\n    repo: g/p\n";
    let m = messages(&format!("{base}    dockerfile: ../other/Dockerfile\n"));
    assert_eq!(
        m,
        ["images.yaml:7:17: error: dockerfile `../other/Dockerfile`: must not contain `..`"]
    );
    let m = messages(&format!("{base}    dockerfile: /etc/Dockerfile\n"));
    assert_eq!(
        m,
        [
            "images.yaml:7:17: error: dockerfile `/etc/Dockerfile`: must be relative to the repository root"
        ]
    );
    assert!(messages(&format!("{base}    dockerfile: a/..b/Dockerfile\n")).is_empty());
}

#[test]
fn allow_tags_must_compile_and_not_be_double_escaped() {
    let base = "- name: a\n  registry: ghcr.io\n  repository: x/a\n";
    let m = messages(&format!("{base}  allowTags: ^3\\\\.12-slim$\n"));
    assert_eq!(
        m,
        [
            "images.yaml:4:14: error: allowTags `^3\\\\.12-slim$` has a doubled escape `\\\\` (it matches a literal backslash): write `^3\\.12-slim$`"
        ]
    );
    // In double quotes, "\\." is one backslash: correct.
    assert!(messages(&format!("{base}  allowTags: \"^3\\\\.12-slim$\"\n")).is_empty());
    let m = messages(&format!("{base}  allowTags: ^(16\n"));
    assert_eq!(m.len(), 1);
    assert!(
        m[0].starts_with("images.yaml:4:14: error: allowTags `^(16` is not a valid regex:"),
        "{m:?}"
    );
}

#[test]
fn typed_fields_report_bad_values() {
    let base = "- name: a\n  registry: ghcr.io\n  repository: x/a\n  allowTags: ^1$\n";
    assert_eq!(
        messages(&format!("{base}  rebuildDelay: 7 days\n")),
        [
            "images.yaml:5:17: error: `rebuildDelay`: unknown unit `days` in duration `7 days`: use w, d, h or m (e.g. 7d, 1d12h)"
        ]
    );
    assert_eq!(
        messages(&format!("{base}  autoRebuild: sometimes\n")),
        ["images.yaml:5:16: error: `autoRebuild` must be true or false, found a string"]
    );
    assert_eq!(
        messages(&format!("{base}  imageSelectionStrategy: semver\n")),
        [
            "images.yaml:5:27: error: unknown imageSelectionStrategy `semver`; did you mean `SemVer`?"
        ]
    );
    assert_eq!(
        messages(&format!("{base}  cascadeDelay: 1h1d\n")),
        [
            "images.yaml:5:17: error: `cascadeDelay`: units out of order in duration `1h1d`: write the largest first, each once (e.g. 1d12h)"
        ]
    );
}

#[test]
fn registry_and_repository_must_form_a_reference() {
    let m = messages("- name: a\n  registry: ghcr.io\n  repository: Acme/App\n  allowTags: ^1$\n");
    assert_eq!(m.len(), 1);
    assert!(m[0].starts_with("images.yaml:2:13: error: registry `ghcr.io` and repository `Acme/App` do not form a valid image reference"), "{m:?}");
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let src = "\
- name: A
  registry: ghcr.io
  repository: x/a
  allowTags: ^1\\\\.0$
- name: b
  registry: ghcr.io
  repository: x/b
  rebuildDelay: soon
";
    let m = messages(src);
    let lines: Vec<&str> = m
        .iter()
        .map(|s| s.split(": error").next().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "images.yaml:1:9",
            "images.yaml:4:14",
            "images.yaml:5:3",
            "images.yaml:8:17"
        ],
        "{m:#?}"
    );
}

#[test]
fn syntax_errors_are_positioned() {
    assert_eq!(
        messages("- name: a\n  registry: [ghcr.io\n"),
        ["images.yaml:2:13: error: unclosed bracket '['"]
    );
    let m = messages("- name: a\n  name: b\n");
    assert_eq!(m, ["images.yaml:2:3: error: duplicate mapping key: name"]);
    let m = messages("just a string\n");
    assert!(
        m[0].starts_with("images.yaml:1:1: error: images.yaml must be a list"),
        "{m:?}"
    );
}

#[test]
fn allow_tags_are_checked_without_compiling_small_patterns() {
    for ok in ["^stable$", "^2\\.1-slim$", "^nightly-\\d{8}$", "^v{1,3}$"] {
        assert_eq!(check_allow_tags(ok), Ok(()), "{ok}");
    }
    let err = check_allow_tags("^(a").unwrap_err();
    assert!(err.contains("not a valid regex"), "{err}");
    // Too big once compiled: only compiling tells, and large counts are compiled.
    let err = check_allow_tags("^(\\w{1000}){1000}$").unwrap_err();
    assert!(err.contains("not a valid regex"), "{err}");
}

#[test]
fn build_timeout_defaults_to_a_day_and_must_be_longer_than_zero() {
    let base = "- name: a\n  registry: ghcr.io\n  repository: x/a\n  allowTags: ^1$\n";
    let (e, diags) = parse(base, "images.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(e.images[0].build_timeout, DEFAULT_BUILD_TIMEOUT);
    let (e, diags) = parse(&format!("{base}  buildTimeout: 6h\n"), "images.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(e.images[0].build_timeout.as_minutes(), 360);
    assert_eq!(
        messages(&format!("{base}  buildTimeout: 0m\n")),
        ["images.yaml:5:17: error: buildTimeout must be longer than 0m"]
    );
}

#[test]
fn huge_regexes_and_control_characters_are_refused() {
    let huge = format!("^({})$", "a|".repeat(3_000));
    let err = check_allow_tags(&huge).unwrap_err();
    assert!(err.contains("at most 4096"), "{err}");
    let src = "images:\n  - name: app\n    registry: ghcr.io\n    repository: \"acme/app\\e[31m\"\n    allowTags: \"^1\\a$\"\n";
    let (_, diags) = parse(src, "images.yaml");
    let texts: Vec<String> = diags.iter().map(ToString::to_string).collect();
    for want in [
        "images.yaml:4:17: error: `repository` contains the control character U+001B",
        "images.yaml:5:16: error: `allowTags` contains the control character U+0007",
    ] {
        assert!(
            texts.iter().any(|t| t.starts_with(want)),
            "{want}: {texts:#?}"
        );
    }
}

#[test]
fn source_api_is_https_or_loopback_http() {
    for ok in [
        "https://ghe.example/api/v3",
        "https://gitlab.example:8443/api/v4/",
        "http://127.0.0.1:8080",
        "http://localhost/api/v4",
        "http://[::1]:9000",
    ] {
        assert_eq!(check_api_url(ok), Ok(()), "{ok}");
    }
    for bad in [
        "http://ghe.example/api/v3",
        "ftp://x",
        "https://",
        "https://user:pw@ghe.example",
        "https://ghe.example/api?x=1",
        "ghe.example",
    ] {
        assert!(check_api_url(bad).is_err(), "{bad}");
    }
    assert_eq!(
        api_host("https://ghe.example:8443/api/v3"),
        Some("ghe.example:8443")
    );
}

#[test]
fn source_api_and_pipeline_inputs_are_read_and_checked_at_their_position() {
    let base = "- name: a\n  registry: ghcr.io\n  repository: x/a\n  source:\n";
    let (e, diags) = parse(
        &format!(
            "{base}    provider: gitlab\n    repo: g/p\n    dockerfile: Dockerfile\n    api: https://gl.example/api/v4\n    pipelineInputs: true\n"
        ),
        "images.yaml",
    );
    assert!(diags.is_empty(), "{diags:?}");
    let source = e.images[0].source.as_ref().unwrap();
    assert_eq!(source.api.as_deref(), Some("https://gl.example/api/v4"));
    assert!(source.pipeline_inputs);
    let (_, diags) = parse(
        &format!(
            "{base}    provider: github\n    repo: g/p\n    dockerfile: Dockerfile\n    workflow: b.yml\n    api: http://ghe.example\n    pipelineInputs: true\n"
        ),
        "images.yaml",
    );
    let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(text[0].starts_with("images.yaml:9:10: error: api `http://ghe.example`: http is allowed only to a loopback host"), "{text:?}");
    assert!(
        text[1].starts_with("images.yaml:10:21: error: `pipelineInputs` is for gitlab sources"),
        "{text:?}"
    );
}

#[test]
fn supply_chain_policies_are_read_and_checked() {
    let src = "images:\n  - name: a\n    registry: ghcr.io\n    repository: acme/a\n    allowTags: ^1$\n    vulnerabilityPolicy:\n      expediteOn: CRITICAL\n      holdOn: HIGH\n    requireSignature:\n      publicKeyFile: keys/cosign.pub\n  - name: b\n    registry: ghcr.io\n    repository: acme/b\n    allowTags: ^1$\n";
    let (e, diags) = parse(src, "images.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    let a = e.get("a").unwrap();
    assert_eq!(
        a.vulnerability_policy,
        crate::supply::VulnerabilityPolicy {
            expedite_on: Some(crate::supply::Severity::Critical),
            hold_on: Some(crate::supply::Severity::High),
        }
    );
    assert_eq!(
        a.require_signature
            .as_ref()
            .map(|s| s.public_key_file.as_str()),
        Some("keys/cosign.pub")
    );
    let b = e.get("b").unwrap();
    assert_eq!(b.vulnerability_policy, Default::default(), "off unless set");
    assert_eq!(b.require_signature, None);

    let bad = "images:\n  - name: a\n    registry: ghcr.io\n    repository: acme/a\n    allowTags: ^1$\n    vulnerabilityPolicy:\n      holdOn: MEDIUM\n      hold: HIGH\n    requireSignature:\n      publicKeyFile: ../../etc/key.pub\n";
    let (_, diags) = parse(bad, "images.yaml");
    let text: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "images.yaml:7:15: error: `holdOn` must be CRITICAL or HIGH, found `MEDIUM`",
            "images.yaml:8:7: error: unknown key `hold` in vulnerabilityPolicy; did you mean `holdOn`?",
            "images.yaml:10:22: error: `publicKeyFile` `../../etc/key.pub`: must not contain `..`",
        ]
    );
}

/// Entries of every kind, with problems: unknown keys, bad values, missing fields, control
/// characters, duplicate names (near and far), an external image without `allowTags`.
fn mixed_entries(n: usize) -> String {
    (0..n)
        .map(|i| match i % 9 {
            0 => format!("- name: img-{i}\n  registry: ghcr.io\n  repository: a/b{i}\n  source:\n    provider: github\n    repo: a/b\n    dockerfile: Dockerfile\n    workflow: b.yml\n"),
            1 => format!("- name: img-{i}\n  registry: ghcr.io\n  repository: a/b{i}\n  allowTags: ^1$\n  rebuildDelai: 7d\n"),
            2 => format!("- name: img-{}\n  registry: ghcr.io\n  repository: a/c{i}\n  allowTags: ^1$\n", i.saturating_sub(2)),
            3 => format!("- name: Img-{i}\n  registry: \"bad\\u0007\"\n  repository: a/b\n"),
            4 => "- name: img-1\n  registry: ghcr.io\n  repository: a/b\n  allowTags: ^1$\n".to_string(),
            5 => format!("- name: img-{i}\n  registry: ghcr.io\n  repository: a/b\n  source:\n    provider: gitlab\n    repo: a/b\n    dockerfile: ../x\n    workflow: w.yml\n  buildTimeout: 0m\n"),
            6 => format!("# a comment\n\n- name: img-{i}\n  registry: ghcr.io\n  repository: a/b{i}\n"),
            7 => format!("- name: img-{i}\n  repository: a/b\n  allowTags: '(unclosed'\n  imageSelectionStrategy: semver\n"),
            _ => format!("- name: img-{i}\n  registry: ghcr.io\n  repository: a/b{i}\n  allowTags: ^x$\n  rebuildDelay: 7x\n  autoRebuild: maybe\n"),
        })
        .collect()
}

#[test]
fn reading_in_parts_gives_what_reading_the_whole_gives() {
    let list = mixed_entries(60);
    let indented: String = list.lines().map(|l| format!("  {l}\n")).collect();
    for src in [
        list.clone(),
        format!("# head\nimages:\n{list}"),
        format!("images:  # all\n{indented}\n# end\n"),
    ] {
        let whole = parse_whole(&src, "images.yaml");
        assert!(whole.1.len() > 40, "the file has problems everywhere");
        for per_part in [1, 2, 7, 59] {
            let parts = parse_in_parts(&src, "images.yaml", per_part).expect("read in parts");
            assert_eq!(parts.0, whole.0, "per_part {per_part}");
            assert_eq!(parts.1, whole.1, "per_part {per_part}");
        }
    }
    // One part, or what the parts cannot read, is read whole.
    assert!(parse_in_parts(&list, "images.yaml", 60).is_none());
    let flow = format!("{list}- {{name: x}}\n");
    assert!(parse_in_parts(&flow, "images.yaml", 4).is_none());
}

proptest::proptest! {
    #[test]
    fn any_mix_of_entries_reads_the_same_in_parts(
        picks in proptest::collection::vec(0usize..9, 2..40),
        per_part in 1usize..6,
    ) {
        let entries: Vec<String> = mixed_entries(9).split_inclusive("\n- ").map(str::to_string).collect();
        let mut src = String::new();
        for p in &picks {
            let e = &entries[*p % entries.len()];
            let e = e.strip_suffix("- ").unwrap_or(e);
            if !e.starts_with("- ") && !e.starts_with('#') {
                src.push_str("- ");
            }
            src.push_str(e);
        }
        let whole = parse_whole(&src, "f");
        if let Some(parts) = parse_in_parts(&src, "f", per_part) {
            proptest::prop_assert_eq!(&parts.0, &whole.0);
            proptest::prop_assert_eq!(&parts.1, &whole.1);
        }
    }
}

#[test]
fn remembered_verdicts_on_patterns_are_the_verdicts() {
    let patterns = [
        "^1$",
        "^(a",
        "^\\\\.x$",
        "^(\\w{1000}){1000}$",
        "^nightly-\\d{8}$",
        "",
    ];
    for _ in 0..3 {
        for p in patterns {
            assert_eq!(check_allow_tags(p), check_allow_tags_once(p), "{p}");
        }
    }
}
