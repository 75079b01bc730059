//! Tests of reading and writing state files.

use super::*;

const IMAGE: &str = "\
name: backstage
enrolledAt: '2024-12-04T10:00:00Z'
lastDiscovery: '2024-12-04T15:30:00Z'
discoveryStatus: success
baseImages:
  - node-22-bookworm-slim
currentVersion: 0.6.5
currentDigest: sha256:0000000000000000000000000000000000000000000000000000000000000000
lastBuilt: '2024-12-03T12:00:00Z'
rebuildState:
  status: pending
  pendingRebuild: true
  rebuildReason: Base image node-22-bookworm-slim updated
  rebuildScheduledFor: '2024-12-11T10:00:00Z'
  triggeredBy: base-image-update
  attempts: 0
  fromTheFuture: 1
rebuildHistory:
  - triggeredAt: '2024-12-03T12:00:00Z'
    reason: Manual trigger
    baseImageSnapshots:
      node-22-bookworm-slim: sha256:1111111111111111111111111111111111111111111111111111111111111111
    resultVersion: 0.6.5
    success: true
newerToolField:
  nested:
    - 1
    - two
";

#[test]
fn image_state_round_trips_and_keeps_unknown_keys() {
    let (state, diags) = parse_image(IMAGE, "backstage.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    let state = state.unwrap();
    assert_eq!(state.current_version.as_deref(), Some("0.6.5"));
    assert_eq!(state.rebuild_state.as_ref().unwrap().extra.len(), 1);
    assert_eq!(state.extra[0].0, "newerToolField");
    let text = state.to_yaml().unwrap();
    let (again, diags) = parse_image(&text, "backstage.yaml");
    assert!(diags.is_empty(), "{diags:?}\n{text}");
    assert_eq!(again.as_ref().unwrap(), &state);
    assert_eq!(again.unwrap().to_yaml().unwrap(), text, "writing is stable");
    assert!(
        text.contains("newerToolField:\n  nested:\n    - 1\n    - two\n"),
        "{text}"
    );
    assert!(text.contains("  fromTheFuture: 1\n"), "{text}");
}

#[test]
fn values_that_are_not_digests_or_times_are_reported() {
    let src = "name: node-22\nfullImage: node:22\ncurrentDigest: None\nlastUpdated: None\npreviousDigest: sha256:placeholder-will-be-updated\nallowTags: ^22\\\\.1$\n";
    let (state, diags) = parse_base(src, "b.yaml");
    assert!(state.is_some());
    let msgs: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(msgs.len(), 4, "{msgs:#?}");
    assert_eq!(
        msgs[0],
        "b.yaml:3:16: error: `currentDigest`: `None` is not a digest (write null when there is none)"
    );
    assert!(
        msgs[1].starts_with("b.yaml:4:14: error: `lastUpdated`: `None` is not an RFC 3339 time"),
        "{msgs:#?}"
    );
    assert!(msgs[2].starts_with("b.yaml:5:17: error: `previousDigest` is not a digest: digest `sha256:placeholder-will-be-updated`"), "{msgs:#?}");
    assert!(
        msgs[3].starts_with("b.yaml:6:12: error: allowTags `^22\\\\.1$` has a doubled escape"),
        "{msgs:#?}"
    );
}

#[test]
fn base_state_round_trips() {
    let src = "name: node-22-bookworm-slim\nfullImage: node:22-bookworm-slim\nregistry: docker.io\nrepository: library/node\ntag: 22-bookworm-slim\nrepoURL: docker.io/library/node\nallowTags: ^22-bookworm-slim$\nimageSelectionStrategy: Digest\nfirstDiscovered: \"2024-12-04T10:00:00Z\"\ndependentImages:\n  - backstage\nupdateHistory:\n  - detectedAt: \"2024-11-27T08:00:00Z\"\n    digest: sha256:2222222222222222222222222222222222222222222222222222222222222222\n    triggeredRebuilds:\n      - backstage\nmetadata: {}\n";
    let (state, diags) = parse_base(src, "b.yaml");
    assert!(diags.is_empty(), "{diags:?}");
    let state = state.unwrap();
    assert_eq!(
        state.image_ref().unwrap().identity(),
        "docker.io/library/node:22-bookworm-slim"
    );
    let text = state.to_yaml().unwrap();
    assert_eq!(text, src);
}

#[test]
fn not_a_mapping_is_reported() {
    let (state, diags) = parse_image("- a\n", "x.yaml");
    assert!(state.is_none());
    assert_eq!(
        diags[0].to_string(),
        "x.yaml:1:1: error: an image state file must be a mapping, found a list"
    );
}
