//! The kustomize base under `deploy/`: the ServiceAccount, the example Secrets, no RBAC.

use super::*;

#[test]
fn the_service_account_mounts_no_token_and_is_the_one_dist_uses() {
    let mut referenced = BTreeSet::new();
    for doc in dist() {
        walk_entries(&doc, &mut |key, value| {
            if key == "serviceAccountName" {
                referenced.extend(scalar(Some(value)).map(str::to_string));
            }
        });
    }
    let mut provided = BTreeSet::new();
    for (file, doc) in kustomized() {
        assert!(
            path(&doc, &["metadata", "namespace"]).is_none(),
            "deploy/{file}: a namespace in the base"
        );
        if kind(&doc) == "ServiceAccount" {
            let automount = doc.get("automountServiceAccountToken");
            assert!(
                matches!(automount.map(|n| &n.value), Some(Value::Scalar(ScalarKind::Bool, s)) if s == "false"),
                "deploy/{file}: ServiceAccount {} must set automountServiceAccountToken: false",
                name(&doc)
            );
            provided.insert(name(&doc));
        }
    }
    if referenced.is_empty() {
        // dist/ runs the Jobs as `default` until kargo.yaml sets `analyzer.serviceAccount`;
        // the base provides the one deploy/README.md tells it to set.
        assert_eq!(provided, BTreeSet::from(["image-factory".to_string()]));
    } else {
        assert_eq!(provided, referenced, "the ServiceAccounts dist/ uses");
    }
}

#[test]
fn the_example_secrets_are_exactly_the_ones_dist_refers_to_with_placeholders() {
    // dist/: name -> keys read (secretKeyRef); the generic webhook receiver's secretRef reads
    // key `secret` (Kargo's convention).
    let mut referenced: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for doc in dist() {
        walk_entries(&doc, &mut |key, value| {
            let secret_name = scalar(value.get("name")).map(str::to_string);
            match (key, secret_name) {
                ("secretKeyRef", Some(n)) => {
                    let k = scalar(value.get("key"))
                        .expect("secretKeyRef.key")
                        .to_string();
                    referenced.entry(n).or_default().insert(k);
                }
                ("secretRef", Some(n)) => {
                    referenced
                        .entry(n)
                        .or_default()
                        .insert("secret".to_string());
                }
                _ => {}
            }
        });
    }
    // Secret volumes: with `items`, the keys listed; without, every key becomes a file named
    // by it (Kubernetes' SecretVolumeSource), and the keys dist/ reads are the files its
    // variables name under the mount. The host rules name further key files (below).
    let mut mounts: BTreeMap<String, String> = BTreeMap::new();
    let mut env_values: Vec<String> = Vec::new();
    let mut whole: BTreeMap<String, String> = BTreeMap::new();
    for doc in dist() {
        walk_entries(&doc, &mut |key, value| {
            let Value::Seq(items) = &value.value else {
                return;
            };
            for item in items {
                match key {
                    "volumeMounts" => {
                        if let (Some(n), Some(p)) =
                            (scalar(item.get("name")), scalar(item.get("mountPath")))
                        {
                            mounts.insert(n.to_string(), p.to_string());
                        }
                    }
                    "env" => env_values.extend(scalar(item.get("value")).map(str::to_string)),
                    "volumes" => {
                        let Some(secret) = item.get("secret") else {
                            continue;
                        };
                        let n = scalar(secret.get("secretName"))
                            .expect("secret.secretName")
                            .to_string();
                        let keys = referenced.entry(n.clone()).or_default();
                        match secret.get("items").map(|i| &i.value) {
                            Some(Value::Seq(listed)) => {
                                keys.extend(listed.iter().map(|i| {
                                    scalar(i.get("key")).expect("items[].key").to_string()
                                }))
                            }
                            _ => {
                                let volume = scalar(item.get("name")).expect("volume name");
                                whole.insert(n, volume.to_string());
                            }
                        }
                    }
                    _ => {}
                }
            }
        });
    }
    // Secret name -> its mount path, for the Secrets mounted whole.
    let mut whole_at: BTreeMap<String, String> = BTreeMap::new();
    for (secret, volume) in &whole {
        let at = mounts
            .get(volume)
            .unwrap_or_else(|| panic!("volume {volume} is mounted nowhere"));
        let keys = referenced.entry(secret.clone()).or_default();
        for v in &env_values {
            if let Some(file) = v.strip_prefix(&format!("{at}/")) {
                keys.insert(file.to_string());
            }
        }
        assert!(!keys.is_empty(), "{secret}: no file of it is named");
        whole_at.insert(secret.clone(), at.clone());
    }
    assert!(!referenced.is_empty(), "dist/ refers to no Secret");

    // Every credential is a placeholder; the keys Kargo reads to match a repository
    // (`repoURL`, `repoURLIsRegex`, pkg/credentials/credentials.go) are real values.
    const MATCH_KEYS: [&str; 2] = ["repoURL", "repoURLIsRegex"];
    let file = workspace().join("deploy/secrets.example.yaml");
    let mut provided: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for doc in documents(&file) {
        assert_eq!(
            kind(&doc),
            "Secret",
            "secrets.example.yaml holds only Secrets"
        );
        let Some(Value::Map(data)) = doc.get("stringData").map(|n| &n.value) else {
            panic!("Secret {} has no stringData", name(&doc));
        };
        let cred_type = scalar(path(
            &doc,
            &["metadata", "labels", "kargo.akuity.io/cred-type"],
        ));
        for (k, v) in data {
            match k.name.as_str() {
                // A pull Secret's file: JSON (the API server refuses one that is not), every
                // credential in it a placeholder; and the Secret has the type that says so.
                ".dockerconfigjson" => {
                    assert_eq!(
                        scalar(doc.get("type")),
                        Some("kubernetes.io/dockerconfigjson"),
                        "{}",
                        name(&doc)
                    );
                    let json: serde_json::Value = serde_json::from_str(
                        scalar(Some(v)).expect(".dockerconfigjson is a string"),
                    )
                    .unwrap_or_else(|e| panic!("{}: .dockerconfigjson: {e}", name(&doc)));
                    let auths = json["auths"].as_object().expect("auths");
                    assert!(!auths.is_empty());
                    for entry in auths.values() {
                        for (field, value) in entry.as_object().expect("an auths entry") {
                            assert_eq!(value, "REPLACE_ME", "{}: auths .. {field}", name(&doc));
                        }
                    }
                    continue;
                }
                // The host rules: a file the CLI parses, every token a placeholder, every key
                // file one of this Secret's keys, under its mount.
                "hostRules" => {
                    let text = scalar(Some(v)).expect("hostRules is a string");
                    let (rules, diags) = if_model::host_rules::parse(text, "hostRules");
                    assert!(diags.is_empty(), "{}: {diags:?}", name(&doc));
                    let at = whole_at
                        .get(&name(&doc))
                        .unwrap_or_else(|| panic!("{}: not mounted whole", name(&doc)));
                    for rule in rules {
                        match rule.credential {
                            if_model::host_rules::HostCredential::Token(t) => {
                                assert_eq!(t, "REPLACE_ME", "{}: {}", name(&doc), rule.host);
                            }
                            if_model::host_rules::HostCredential::GithubApp {
                                private_key_file,
                                ..
                            } => {
                                let key = private_key_file
                                    .strip_prefix(&format!("{at}/"))
                                    .unwrap_or_else(|| {
                                        panic!("{private_key_file} is not under {at}")
                                    });
                                referenced
                                    .entry(name(&doc))
                                    .or_default()
                                    .insert(key.to_string());
                            }
                        }
                    }
                    continue;
                }
                _ => {}
            }
            if cred_type.is_some() && MATCH_KEYS.contains(&k.name.as_str()) {
                assert_ne!(
                    scalar(Some(v)),
                    Some("REPLACE_ME"),
                    "{}.{}",
                    name(&doc),
                    k.name
                );
                continue;
            }
            assert_eq!(
                scalar(Some(v)),
                Some("REPLACE_ME"),
                "{}.{} is not a placeholder",
                name(&doc),
                k.name
            );
        }
        assert!(
            doc.get("data").is_none(),
            "Secret {}: placeholders go in stringData",
            name(&doc)
        );
        let keys: BTreeSet<String> = data.iter().map(|(k, _)| k.name.clone()).collect();
        match referenced.get(&name(&doc)) {
            // A Secret of the jobs has exactly the keys they read, plus Kargo's when labelled.
            Some(read) if cred_type.is_none() => assert_eq!(&keys, read, "{}", name(&doc)),
            Some(read) => assert!(
                keys.is_superset(read),
                "{}: {keys:?} lacks {read:?}",
                name(&doc)
            ),
            // Any other is one Kargo reads: labelled, with a repoURL and Kargo's keys only.
            None => {
                assert!(
                    matches!(cred_type, Some("git" | "image")),
                    "Secret {}: neither read by dist/ nor by Kargo",
                    name(&doc)
                );
                let kargo: BTreeSet<String> = ["repoURL", "repoURLIsRegex", "username", "password"]
                    .map(str::to_string)
                    .into();
                assert!(
                    keys.contains("repoURL") && keys.is_subset(&kargo),
                    "{}: {keys:?}",
                    name(&doc)
                );
            }
        }
        provided.insert(name(&doc), keys);
    }
    for n in referenced.keys() {
        assert!(
            provided.contains_key(n),
            "dist/ reads Secret {n}, not in the examples"
        );
    }

    // The examples are documentation: a sync of deploy/ never applies placeholders.
    for (file, doc) in kustomized() {
        assert_ne!(
            kind(&doc),
            "Secret",
            "deploy/{file}: a Secret in the kustomization"
        );
    }
}

#[test]
fn deploy_has_no_rbac_and_the_application_syncs_dist() {
    for file in yaml_files("deploy") {
        for doc in documents(&file) {
            assert!(
                !matches!(
                    kind(&doc),
                    "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding"
                ),
                "{}: {} {} (the analyzer needs no RBAC)",
                rel(&file),
                kind(&doc),
                name(&doc)
            );
        }
    }
    let docs = documents(&workspace().join("deploy/argocd-application.yaml"));
    let [app] = docs.as_slice() else {
        panic!("one Application expected");
    };
    assert_eq!(scalar(app.get("apiVersion")), Some("argoproj.io/v1alpha1"));
    assert_eq!(kind(app), "Application");
    assert_eq!(scalar(path(app, &["spec", "source", "path"])), Some("dist"));
}
