//! The names of a synthetic factory: images, their repositories and registries, base
//! images, Dockerfile paths and digests, each a function of its index (and of the
//! [`Shape`]: its depth, its base count, and the registry every host is mapped to).

use if_model::digest::Digest;
use if_model::reference::ImageRef;

use super::Shape;

/// The synthetic digest `n` of thing `i` of `kind`.
pub fn digest(kind: &str, i: usize, n: u64) -> Digest {
    Digest::of_sha256_bytes(format!("{kind} {i} {n}").as_bytes())
}

/// A well-mixed number from `i` (splitmix64), for choices that should not line up.
pub(super) fn mix(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The name of image `i`.
pub fn name(i: usize) -> String {
    format!("svc-{i:06}")
}

pub(super) fn index_of(name: &str) -> usize {
    name.trim_start_matches("svc-").parse().unwrap_or(0)
}

pub(super) fn is_external(i: usize) -> bool {
    i % 10 == 9
}

pub(super) fn is_github(i: usize) -> bool {
    i.is_multiple_of(2)
}

/// The level of image `i` in its chain (0: built on external images only).
fn level(shape: &Shape, i: usize) -> usize {
    (i / 10) % shape.depth
}

/// The internal parent of image `i`, if it has one.
pub(super) fn parent(shape: &Shape, i: usize) -> Option<usize> {
    (!is_external(i) && level(shape, i) > 0).then(|| i - 10)
}

/// The registry host standing for `host`: `host` itself, or the one [`Shape::registry`]
/// every host is mapped to.
fn host<'a>(shape: &'a Shape, host: &'a str) -> &'a str {
    shape.registry.as_deref().unwrap_or(host)
}

/// `registry/repository` of enrolled image `i`.
pub fn enrolled_repo(shape: &Shape, i: usize) -> String {
    let (registry, repository) = registry_repository(shape, i);
    format!("{registry}/{repository}")
}

pub(super) fn registry_repository(shape: &Shape, i: usize) -> (&str, String) {
    let n = name(i);
    let (registry, repository) = if is_external(i) {
        match i % 30 {
            9 => ("docker.io", format!("vendor{}/{n}", i % 37)),
            19 => ("quay.io", format!("partner{}/{n}", i % 41)),
            _ => ("ghcr.io", format!("upstream{}/{n}", i % 43)),
        }
    } else if is_github(i) {
        ("ghcr.io", format!("acme/{n}"))
    } else {
        ("registry.gitlab.com", format!("acme/group{}/{n}", i % 7))
    };
    (host(shape, registry), repository)
}

/// The repository image `i` is built from.
pub(super) fn source_repo(i: usize) -> String {
    let team = i / 50;
    if is_github(i) {
        format!("acme/team-{team:05}")
    } else {
        format!("acme/group{}/team-{team:05}", i % 7)
    }
}

/// Where image `i`'s Dockerfile is, relative to the source directory.
pub fn dockerfile_path(i: usize) -> String {
    format!("services/team-{:05}/{}/Dockerfile", i / 50, name(i))
}

/// Base image `j` as a Dockerfile would write it. Docker Hub's images name no host; mapped
/// to [`Shape::registry`], they keep their Docker Hub path (`library/` for official ones).
pub fn base_text(shape: &Shape, j: usize) -> String {
    let tag = format!(
        "{}.{}-{}",
        1 + j % 4,
        j % 23,
        ["slim", "alpine", "bookworm"][j % 3]
    );
    let hub = match &shape.registry {
        Some(r) => format!("{r}/"),
        None => String::new(),
    };
    let official = if hub.is_empty() { "" } else { "library/" };
    match j % 6 {
        0 => format!("{hub}{official}lang{j}:{tag}"),
        1 => format!(
            "{}/upstream{}/runtime{j}:{tag}",
            host(shape, "ghcr.io"),
            j % 97
        ),
        2 => format!("{}/org{}/base{j}:{tag}", host(shape, "quay.io"), j % 89),
        3 => format!(
            "{}/distroless{}/static{j}:{tag}",
            host(shape, "gcr.io"),
            j % 31
        ),
        4 => format!(
            "{}/upstream/images/base{j}:{tag}",
            host(shape, "registry.gitlab.com")
        ),
        _ => format!("{hub}vendor{}/tool{j}:{tag}", j % 83),
    }
}

/// Base image `j`, parsed.
pub fn base_ref(shape: &Shape, j: usize) -> Result<ImageRef, if_model::reference::RefError> {
    ImageRef::parse(&base_text(shape, j))
}

/// The base image (index) of image `i`'s runtime stage: `hot` (0) for one image in ten.
pub fn runtime_base(shape: &Shape, i: usize) -> usize {
    if i.is_multiple_of(10) {
        0
    } else {
        1 + i % (shape.bases - 1)
    }
}

/// The external builder (index) of a level-0 image.
pub(super) fn builder_base(shape: &Shape, i: usize) -> usize {
    1 + (mix(i) as usize) % (shape.bases - 1)
}
