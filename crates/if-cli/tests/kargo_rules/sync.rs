//! The order Argo CD applies the manifests in, and the Project namespace's label.

use super::*;

#[test]
fn the_project_is_synced_before_everything_else() {
    // Kargo creates the Project's namespace (pkg/controller/management/projects/projects.go,
    // `ensureNamespace`); Argo CD applies waves in order, lowest first, and waits for each.
    for case in cases() {
        let docs = applied(&case);
        let project: Vec<&Node> = docs
            .iter()
            .filter(|d| scalar(d.get("kind")) == Some("Project"))
            .collect();
        assert_eq!(project.len(), 1, "{}", case.label);
        let first = wave(project[0]);
        for d in docs
            .iter()
            .filter(|d| scalar(d.get("kind")) != Some("Project"))
        {
            assert!(
                wave(d) > first,
                "{}: {} {} is in wave {} (the Project: {first})",
                case.label,
                scalar(d.get("kind")).unwrap(),
                scalar(at(d, &["metadata", "name"])).unwrap(),
                wave(d)
            );
        }
    }
}

#[test]
fn no_manifest_creates_the_project_namespace_without_its_label_and_the_application_retries() {
    // Kargo refuses a Project whose namespace exists without `kargo.akuity.io/project: "true"`
    // (projects.go, `errProjectNamespaceExists`) and adopts a labelled one. Argo CD's
    // `CreateNamespace=true` creates the destination namespace before the sync, labelled with
    // `managedNamespaceMetadata` (argo-cd controller/sync.go).
    let mut manifests: Vec<(String, Node)> = Vec::new();
    for case in cases() {
        manifests.extend(applied(&case).into_iter().map(|d| (case.label.clone(), d)));
    }
    let deploy = workspace().join("deploy");
    for entry in std::fs::read_dir(&deploy).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            manifests.extend(
                documents(&p)
                    .into_iter()
                    .map(|d| (p.display().to_string(), d)),
            );
        }
    }
    let label = |n: &Node, path: &[&str]| {
        scalar(at(n, path).and_then(|l| l.get("kargo.akuity.io/project"))) == Some("true")
    };
    let mut applications = 0;
    for (file, d) in &manifests {
        match scalar(d.get("kind")) {
            Some("Namespace") => assert!(
                label(d, &["metadata", "labels"]),
                "{file}: a Namespace without the label"
            ),
            Some("Application") => {
                applications += 1;
                let policy = at(d, &["spec", "syncPolicy"]).expect("syncPolicy");
                let options: Vec<&str> = match policy.get("syncOptions").map(|n| &n.value) {
                    Some(YValue::Seq(items)) => {
                        items.iter().filter_map(|i| scalar(Some(i))).collect()
                    }
                    _ => Vec::new(),
                };
                if options.contains(&"CreateNamespace=true") {
                    assert!(
                        label(policy, &["managedNamespaceMetadata", "labels"]),
                        "{file}: CreateNamespace without Kargo's label"
                    );
                }
                let limit =
                    scalar(at(policy, &["retry", "limit"])).expect("syncPolicy.retry.limit");
                assert!(
                    limit.parse::<i64>().unwrap() > 0,
                    "{file}: retry limit {limit}"
                );
                assert!(
                    at(policy, &["retry", "backoff", "duration"]).is_some(),
                    "{file}: no backoff"
                );
            }
            _ => {}
        }
    }
    assert_eq!(applications, 1, "the example Application in deploy/");
}
