//! The rules between resources that a JSON Schema cannot see, checked on a generated set:
//! every Stage's origin Warehouse exists and every Warehouse has its Stage, every argument a
//! Stage passes is declared by its AnalysisTemplate (and every declared one without a default
//! is passed), every
//! `{{args.X}}` a template uses is declared, every promotion policy names a generated Stage
//! and every Stage has one, every Stage has a promotion step (or Kargo never verifies it),
//! names are valid and unique per kind.
//! Used by the tests; returns the problems found, empty when the set is consistent.

use std::collections::{BTreeMap, BTreeSet};

use crate::names;
use crate::resource::{Generated, Resource};

/// Every inconsistency of `resources`, one message each.
pub fn cross_object(resources: &[Generated]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut warehouses = BTreeMap::new();
    let mut stages = BTreeMap::new();
    let mut templates = BTreeMap::new();
    let mut configs = Vec::new();
    for g in resources {
        let r = &g.resource;
        if !seen.insert((r.kind(), r.name())) {
            problems.push(format!("{}/{} appears twice", r.kind(), r.name()));
        }
        if !names::is_valid(r.name()) {
            problems.push(format!("{}/{}: not a valid name", r.kind(), r.name()));
        }
        match r {
            Resource::Warehouse(w) => {
                warehouses.insert(w.metadata.name.as_str(), w);
            }
            Resource::Stage(s) => {
                stages.insert(s.metadata.name.as_str(), s);
            }
            Resource::AnalysisTemplate(t) => {
                templates.insert(t.metadata.name.as_str(), t);
            }
            Resource::ProjectConfig(c) => configs.push(c),
            Resource::Project(_) | Resource::CronJob(_) => {}
        }
    }
    let mut requested = BTreeSet::new();
    for (name, s) in &stages {
        for f in &s.spec.requested_freight {
            requested.insert(f.origin.name.as_str());
            if f.origin.kind != "Warehouse" || !warehouses.contains_key(f.origin.name.as_str()) {
                problems.push(format!(
                    "Stage/{name} requests Freight from {}/{}, which is not generated",
                    f.origin.kind, f.origin.name
                ));
            }
        }
        if s.spec.promotion_template.spec.steps.is_empty() {
            problems.push(format!(
                "Stage/{name} has no promotion step: Kargo would never verify it"
            ));
        }
        let passed: BTreeSet<&str> = s
            .spec
            .verification
            .args
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        for t in &s.spec.verification.analysis_templates {
            let Some(template) = templates.get(t.name.as_str()) else {
                problems.push(format!(
                    "Stage/{name} is verified by AnalysisTemplate/{}, which is not generated",
                    t.name
                ));
                continue;
            };
            let declared: BTreeSet<&str> =
                template.spec.args.iter().map(|a| a.name.as_str()).collect();
            for a in passed.difference(&declared) {
                problems.push(format!(
                    "Stage/{name} passes `{a}`, which AnalysisTemplate/{} does not declare",
                    t.name
                ));
            }
            let required: BTreeSet<&str> = template
                .spec
                .args
                .iter()
                .filter(|a| a.value.is_none())
                .map(|a| a.name.as_str())
                .collect();
            for a in required.difference(&passed) {
                problems.push(format!(
                    "Stage/{name} does not pass `{a}`, which AnalysisTemplate/{} needs",
                    t.name
                ));
            }
        }
    }
    for name in warehouses.keys() {
        if !requested.contains(name) {
            problems.push(format!("Warehouse/{name} has no Stage"));
        }
    }
    for (name, t) in &templates {
        let declared: BTreeSet<String> = t.spec.args.iter().map(|a| a.name.clone()).collect();
        let text = format!("{:?}", t.spec.metrics);
        for used in arg_references(&text) {
            if !declared.contains(&used) {
                problems.push(format!(
                    "AnalysisTemplate/{name} uses {{{{args.{used}}}}}, which it does not declare"
                ));
            }
        }
    }
    if configs.len() != 1 {
        problems.push(format!("{} ProjectConfigs, expected one", configs.len()));
    }
    for c in configs {
        let mut named = BTreeSet::new();
        for p in &c.spec.promotion_policies {
            named.insert(p.stage_selector.name.as_str());
            if !stages.contains_key(p.stage_selector.name.as_str()) {
                problems.push(format!(
                    "a promotion policy names Stage/{}, which is not generated",
                    p.stage_selector.name
                ));
            }
        }
        for name in stages.keys() {
            if !named.contains(name) {
                problems.push(format!("Stage/{name} has no promotion policy"));
            }
        }
    }
    problems
}

/// The names `X` of every `{{args.X}}` in `text`.
fn arg_references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{args.") {
        let after = &rest[i + "{{args.".len()..];
        let Some(end) = after.find("}}") else { break };
        out.insert(after[..end].trim().to_string());
        rest = &after[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_references_are_found() {
        let refs = arg_references("a {{args.image}} b {{args.tag}}{{args.image}} {{args.");
        assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["image", "tag"]);
    }
}
