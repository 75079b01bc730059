//! What Kargo's expressions yield, the args every AnalysisTemplate is given, and the analyzer Jobs' command lines.

use super::*;

/// A value standing for what a Kargo expression yields, the worst case for typing: a tag
/// such as `1.10`, an all-digit commit ID, an image or Freight name made of digits.
const NUMERIC: &str = "1.10";

/// Kargo's evaluation of one template string (pkg/expressions/json_templates.go,
/// `EvaluateTemplate`, v1.11.2) when every expression yields [`NUMERIC`]: `quote(x)` yields
/// it in double quotes. Afterwards a result in double quotes is a string with the quotes
/// removed; else a result that parses as a float is a number, as a bool a boolean, as JSON
/// that value; anything else a string. `Ok` is the string, `Err` the type it became.
fn evaluate(template: &str) -> Result<String, &'static str> {
    if !template.contains("${{") {
        return Ok(template.to_string());
    }
    let expr = Regex::new(r"\$\{\{\s*(.*?)\s*\}\}").unwrap();
    let result = expr
        .replace_all(template, |c: &regex::Captures<'_>| {
            if c[1].starts_with("quote(") && c[1].ends_with(')') {
                format!("\"{NUMERIC}\"")
            } else {
                NUMERIC.to_string()
            }
        })
        .to_string();
    if result.len() > 1 && result.starts_with('"') && result.ends_with('"') {
        return Ok(result[1..result.len() - 1].to_string());
    }
    if result.parse::<f64>().is_ok() {
        return Err("a number");
    }
    if matches!(
        result.as_str(),
        "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false" | "False"
    ) {
        return Err("a boolean");
    }
    if serde_json::from_str::<Value>(&result).is_ok() {
        return Err("JSON");
    }
    Ok(result)
}

/// Every string in `v` with its path.
fn strings(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((at.to_string(), s.clone())),
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, &format!("{at}[{i}]"), out);
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                strings(x, &format!("{at}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_expression_that_can_yield_a_number_is_quoted() {
    // Kargo v1.11.2 pkg/rollouts/analysis_run_builder.go, `buildArgs`: "evaluated argument %q
    // value is not a string" fails verification; promotion step configs (set-metadata values,
    // the Freight name) go through the same evaluation.
    assert_eq!(
        evaluate("${{ imageFrom(vars.repoURL).Tag }}"),
        Err("a number")
    );
    assert_eq!(
        evaluate("${{ quote(imageFrom(vars.repoURL).Tag) }}"),
        Ok(NUMERIC.to_string())
    );
    assert_eq!(evaluate("plain 1.10"), Ok("plain 1.10".to_string()));
    for case in cases() {
        let mut checked = 0;
        for s in stages(&case.rendered) {
            let v = serde_json::to_value(s).unwrap();
            let mut all = Vec::new();
            strings(
                &v["spec"],
                &format!("Stage/{}.spec", s.metadata.name),
                &mut all,
            );
            for (at, text) in all.iter().filter(|(_, t)| t.contains("${{")) {
                checked += 1;
                assert!(
                    evaluate(text).is_ok(),
                    "{}: {at} = `{text}` evaluates to {}",
                    case.label,
                    evaluate(text).unwrap_err()
                );
            }
        }
        assert!(checked > 0, "{}: no expression", case.label);
    }
}

#[test]
fn every_template_arg_is_passed_by_the_stage_or_defaulted() {
    // Argo Rollouts utils/analysis/helpers.go, `ResolveArgs`: "args.%s was not resolved" for
    // a template argument with neither a value nor valueFrom after the run's args are merged
    // in; Kargo passes exactly the Stage's `verification.args` (analysis_run_builder.go).
    for case in cases() {
        let by_name: BTreeMap<&str, _> = templates(&case.rendered)
            .into_iter()
            .map(|t| (t.metadata.name.as_str(), t))
            .collect();
        for s in stages(&case.rendered) {
            let passed: BTreeSet<&str> = s
                .spec
                .verification
                .args
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            for r in &s.spec.verification.analysis_templates {
                let t = by_name[r.name.as_str()];
                let declared: BTreeSet<&str> =
                    t.spec.args.iter().map(|a| a.name.as_str()).collect();
                for a in &t.spec.args {
                    assert!(
                        a.value.is_some() || passed.contains(a.name.as_str()),
                        "{}: Stage/{} leaves args.{} of {} unresolved",
                        case.label,
                        s.metadata.name,
                        a.name,
                        t.metadata.name
                    );
                }
                let extra: Vec<_> = passed.difference(&declared).collect();
                assert!(
                    extra.is_empty(),
                    "{}: {extra:?} are not declared",
                    case.label
                );
            }
        }
    }
}

/// A value standing for an `{{args.X}}` placeholder.
fn sample(arg: &str) -> String {
    arg.replace("{{args.digest}}", &format!("sha256:{}", "ab".repeat(32)))
        .replace("{{args.tag}}", "22-bookworm-slim")
        .replace("{{args.image}}", "docker.io/library/node")
        .replace(
            "{{args.commit}}",
            "0123456789abcdef0123456789abcdef01234567",
        )
}

#[test]
fn analyzer_jobs_clone_and_push_through_the_cli_with_tokens_from_secrets() {
    // One code path with the CLI: every container runs `image-factory`, no shell; with a state
    // repository, `--git-repo URL --git-branch B` makes the CLI clone, commit and push; every
    // token comes from a Secret through the environment (never a literal, never an argument).
    let token_vars = ["IMAGE_FACTORY_GIT_TOKEN", "GITHUB_TOKEN", "GITLAB_TOKEN"];
    for case in cases() {
        for (what, job) in jobs(&case.rendered) {
            for c in containers(job) {
                let at = format!("{}: {what}/{}", case.label, c.name);
                assert_eq!(c.command, [if_kargo::analysis::ANALYZER_COMMAND], "{at}");
                assert!(
                    !c.args.iter().any(|a| a.contains("git clone") || a == "-c"),
                    "{at}"
                );
                let full: Vec<String> = std::iter::once("image-factory".to_string())
                    .chain(c.args.iter().map(|a| sample(a)))
                    .collect();
                let cli = Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(cli.git_repo, case.config.state.repo_url, "{at}");
                if cli.git_repo.is_some() {
                    assert_eq!(cli.git_branch, case.config.state.branch, "{at}");
                    assert!(
                        c.env.iter().any(|e| e.name == "IMAGE_FACTORY_GIT_TOKEN"),
                        "{at}: no git token"
                    );
                }
                assert_eq!(cli.root, PathBuf::from(&case.config.state.path), "{at}");
                for e in &c.env {
                    if token_vars.contains(&e.name.as_str()) {
                        assert!(
                            e.value.is_none() && e.value_from.is_some(),
                            "{at}: {}",
                            e.name
                        );
                    }
                }
            }
        }
    }
}
