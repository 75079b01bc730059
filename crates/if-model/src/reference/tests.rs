//! Tests of image reference parsing, normalization, identity and slugs.

use super::*;
use proptest::prelude::*;

const H64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Expands the placeholders of the tables: `<d256>`/`<d512>` digests, `<h64>`/`<H64>` hex,
/// `<tN>` a tag of N `t`s, `<pN>` a path component of N `a`s.
fn expand(s: &str) -> String {
    let mut out = s
        .replace("<d256>", &format!("sha256:{H64}"))
        .replace("<d512>", &format!("sha512:{H64}{H64}"))
        .replace("<h64>", H64)
        .replace("<H64>", &H64.to_uppercase());
    for (marker, fill) in [("<t", "t"), ("<p", "a")] {
        while let Some(start) = out.find(marker) {
            let rest = &out[start + 2..];
            let end = rest.find('>').unwrap();
            let count: usize = rest[..end].parse().unwrap();
            out = format!(
                "{}{}{}",
                &out[..start],
                fill.repeat(count),
                &rest[end + 1..]
            );
        }
    }
    out
}

/// The variant name of a `Debug`-printed enum value.
fn variant<T: fmt::Debug>(value: &T) -> String {
    let debug = format!("{value:?}");
    debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The error kind: the variant, and the variant of the nested problem if any.
fn kind(error: &RefError) -> String {
    let top = variant(error);
    match error {
        RefError::InvalidRegistry { problem, .. } => format!("{top}/{}", variant(problem)),
        RefError::InvalidPathComponent { problem, .. } => format!("{top}/{}", variant(problem)),
        RefError::InvalidTag { problem, .. } => format!("{top}/{}", variant(problem)),
        RefError::InvalidDigest { source, .. } => format!("{top}/{}", variant(source)),
        _ => top,
    }
}

type ValidCase = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
    &'static str,
);

/// Input, registry, repository, tag, digest, canonical, familiar.
#[rustfmt::skip]
const VALID: &[ValidCase] = &[
    // Docker Hub normalization.
    ("node", "docker.io", "library/node", None, None, "docker.io/library/node:latest", "node:latest"),
    ("node:22", "docker.io", "library/node", Some("22"), None, "docker.io/library/node:22", "node:22"),
    ("library/node", "docker.io", "library/node", None, None, "docker.io/library/node:latest", "node:latest"),
    ("docker.io/node", "docker.io", "library/node", None, None, "docker.io/library/node:latest", "node:latest"),
    ("docker.io/library/node:22-bookworm-slim", "docker.io", "library/node", Some("22-bookworm-slim"), None, "docker.io/library/node:22-bookworm-slim", "node:22-bookworm-slim"),
    ("index.docker.io/library/node:1", "docker.io", "library/node", Some("1"), None, "docker.io/library/node:1", "node:1"),
    ("index.docker.io/node", "docker.io", "library/node", None, None, "docker.io/library/node:latest", "node:latest"),
    ("index.docker.io/user/app:2", "docker.io", "user/app", Some("2"), None, "docker.io/user/app:2", "user/app:2"),
    ("registry-1.docker.io/library/node", "registry-1.docker.io", "library/node", None, None, "registry-1.docker.io/library/node:latest", "registry-1.docker.io/library/node:latest"),
    ("registry-1.docker.io/node:20", "registry-1.docker.io", "node", Some("20"), None, "registry-1.docker.io/node:20", "registry-1.docker.io/node:20"),
    ("user/app:1", "docker.io", "user/app", Some("1"), None, "docker.io/user/app:1", "user/app:1"),
    ("docker.io/user/app", "docker.io", "user/app", None, None, "docker.io/user/app:latest", "user/app:latest"),
    ("library/a/b", "docker.io", "library/a/b", None, None, "docker.io/library/a/b:latest", "library/a/b:latest"),
    ("a/b/c/d/e/f", "docker.io", "a/b/c/d/e/f", None, None, "docker.io/a/b/c/d/e/f:latest", "a/b/c/d/e/f:latest"),
    ("python:3.12-slim", "docker.io", "library/python", Some("3.12-slim"), None, "docker.io/library/python:3.12-slim", "python:3.12-slim"),
    ("node:1.0-alpine3.19", "docker.io", "library/node", Some("1.0-alpine3.19"), None, "docker.io/library/node:1.0-alpine3.19", "node:1.0-alpine3.19"),
    // Which first component is a registry.
    ("localhost/foo", "localhost", "foo", None, None, "localhost/foo:latest", "localhost/foo:latest"),
    ("localhost:5000/foo:bar", "localhost:5000", "foo", Some("bar"), None, "localhost:5000/foo:bar", "localhost:5000/foo:bar"),
    ("localhost:5000", "docker.io", "library/localhost", Some("5000"), None, "docker.io/library/localhost:5000", "localhost:5000"),
    ("localhost", "docker.io", "library/localhost", None, None, "docker.io/library/localhost:latest", "localhost:latest"),
    ("example.com", "docker.io", "library/example.com", None, None, "docker.io/library/example.com:latest", "example.com:latest"),
    ("LOCALHOST/foo", "LOCALHOST", "foo", None, None, "LOCALHOST/foo:latest", "LOCALHOST/foo:latest"),
    ("Foo/bar", "Foo", "bar", None, None, "Foo/bar:latest", "Foo/bar:latest"),
    ("UPPER.example.com/app:V1", "UPPER.example.com", "app", Some("V1"), None, "UPPER.example.com/app:V1", "UPPER.example.com/app:V1"),
    ("a.b/c", "a.b", "c", None, None, "a.b/c:latest", "a.b/c:latest"),
    // Registry grammar: names, ports, IPv4, IPv6.
    ("[::1]:5000/app:v1", "[::1]:5000", "app", Some("v1"), None, "[::1]:5000/app:v1", "[::1]:5000/app:v1"),
    ("[2001:db8::1]/app", "[2001:db8::1]", "app", None, None, "[2001:db8::1]/app:latest", "[2001:db8::1]/app:latest"),
    ("[::1]/team/app", "[::1]", "team/app", None, None, "[::1]/team/app:latest", "[::1]/team/app:latest"),
    ("[FE80::1]:443/app", "[FE80::1]:443", "app", None, None, "[FE80::1]:443/app:latest", "[FE80::1]:443/app:latest"),
    ("[::]/app", "[::]", "app", None, None, "[::]/app:latest", "[::]/app:latest"),
    ("example.com:8080/a/b/c:tag", "example.com:8080", "a/b/c", Some("tag"), None, "example.com:8080/a/b/c:tag", "example.com:8080/a/b/c:tag"),
    ("example.com:0/app", "example.com:0", "app", None, None, "example.com:0/app:latest", "example.com:0/app:latest"),
    ("127.0.0.1:5000/app", "127.0.0.1:5000", "app", None, None, "127.0.0.1:5000/app:latest", "127.0.0.1:5000/app:latest"),
    ("127.0.0.1/app", "127.0.0.1", "app", None, None, "127.0.0.1/app:latest", "127.0.0.1/app:latest"),
    ("1.2.3.4:65535/a:b", "1.2.3.4:65535", "a", Some("b"), None, "1.2.3.4:65535/a:b", "1.2.3.4:65535/a:b"),
    ("my-registry.local:443/team/app:2024.01.01", "my-registry.local:443", "team/app", Some("2024.01.01"), None, "my-registry.local:443/team/app:2024.01.01", "my-registry.local:443/team/app:2024.01.01"),
    ("xn--bcher-kva.example/app", "xn--bcher-kva.example", "app", None, None, "xn--bcher-kva.example/app:latest", "xn--bcher-kva.example/app:latest"),
    // Path grammar: separators.
    ("a__b/c", "docker.io", "a__b/c", None, None, "docker.io/a__b/c:latest", "a__b/c:latest"),
    ("a--b", "docker.io", "library/a--b", None, None, "docker.io/library/a--b:latest", "a--b:latest"),
    ("a---b/c.d_e", "docker.io", "a---b/c.d_e", None, None, "docker.io/a---b/c.d_e:latest", "a---b/c.d_e:latest"),
    ("node__x", "docker.io", "library/node__x", None, None, "docker.io/library/node__x:latest", "node__x:latest"),
    ("0/1:2", "docker.io", "0/1", Some("2"), None, "docker.io/0/1:2", "0/1:2"),
    ("foo-bar.example.com/x-y/z__w:1_2", "foo-bar.example.com", "x-y/z__w", Some("1_2"), None, "foo-bar.example.com/x-y/z__w:1_2", "foo-bar.example.com/x-y/z__w:1_2"),
    // Real-world references.
    ("gcr.io/distroless/python3-debian12", "gcr.io", "distroless/python3-debian12", None, None, "gcr.io/distroless/python3-debian12:latest", "gcr.io/distroless/python3-debian12:latest"),
    ("mcr.microsoft.com/playwright:v1.40.0-focal", "mcr.microsoft.com", "playwright", Some("v1.40.0-focal"), None, "mcr.microsoft.com/playwright:v1.40.0-focal", "mcr.microsoft.com/playwright:v1.40.0-focal"),
    ("ghcr.io/org/app:1.2", "ghcr.io", "org/app", Some("1.2"), None, "ghcr.io/org/app:1.2", "ghcr.io/org/app:1.2"),
    ("registry.gitlab.com/group/sub/proj:tag", "registry.gitlab.com", "group/sub/proj", Some("tag"), None, "registry.gitlab.com/group/sub/proj:tag", "registry.gitlab.com/group/sub/proj:tag"),
    ("k8s.gcr.io/pause:3.9", "k8s.gcr.io", "pause", Some("3.9"), None, "k8s.gcr.io/pause:3.9", "k8s.gcr.io/pause:3.9"),
    ("quay.io/prometheus/node-exporter:v1.8.0", "quay.io", "prometheus/node-exporter", Some("v1.8.0"), None, "quay.io/prometheus/node-exporter:v1.8.0", "quay.io/prometheus/node-exporter:v1.8.0"),
    // Digests.
    ("node@<d256>", "docker.io", "library/node", None, Some("<d256>"), "docker.io/library/node@<d256>", "node@<d256>"),
    ("node:22@<d256>", "docker.io", "library/node", Some("22"), Some("<d256>"), "docker.io/library/node:22@<d256>", "node:22@<d256>"),
    ("docker.io/library/node:22@<d256>", "docker.io", "library/node", Some("22"), Some("<d256>"), "docker.io/library/node:22@<d256>", "node:22@<d256>"),
    ("ghcr.io/org/app@<d512>", "ghcr.io", "org/app", None, Some("<d512>"), "ghcr.io/org/app@<d512>", "ghcr.io/org/app@<d512>"),
    ("localhost:5000/foo:bar@<d256>", "localhost:5000", "foo", Some("bar"), Some("<d256>"), "localhost:5000/foo:bar@<d256>", "localhost:5000/foo:bar@<d256>"),
    // Tags.
    ("node:<t128>", "docker.io", "library/node", Some("<t128>"), None, "docker.io/library/node:<t128>", "node:<t128>"),
    ("node:V1.0_RC-1", "docker.io", "library/node", Some("V1.0_RC-1"), None, "docker.io/library/node:V1.0_RC-1", "node:V1.0_RC-1"),
    ("node:_x", "docker.io", "library/node", Some("_x"), None, "docker.io/library/node:_x", "node:_x"),
    ("node:latest", "docker.io", "library/node", Some("latest"), None, "docker.io/library/node:latest", "node:latest"),
    // A 64-hex tag is fine, only a bare 64-hex reference is refused.
    ("sha256:<h64>", "docker.io", "library/sha256", Some("<h64>"), None, "docker.io/library/sha256:<h64>", "sha256:<h64>"),
    // distribution/reference (reference.go, `Parse`): `len(repo.path) >
    // RepositoryNameTotalLengthMax` (255), the path without the domain, after
    // ParseNormalizedNamed (normalize.go) has added `docker.io/library/`: the registry does
    // not count, `library/` does.
    ("example.com/<p255>", "example.com", "<p255>", None, None, "example.com/<p255>:latest", "example.com/<p255>:latest"),
    ("a-much-longer-registry.example.com:5000/<p255>", "a-much-longer-registry.example.com:5000", "<p255>", None, None, "a-much-longer-registry.example.com:5000/<p255>:latest", "a-much-longer-registry.example.com:5000/<p255>:latest"),
    ("<p247>", "docker.io", "library/<p247>", None, None, "docker.io/library/<p247>:latest", "<p247>:latest"),
    ("docker.io/<p247>", "docker.io", "library/<p247>", None, None, "docker.io/library/<p247>:latest", "<p247>:latest"),
    ("org/<p251>", "docker.io", "org/<p251>", None, None, "docker.io/org/<p251>:latest", "org/<p251>:latest"),
    // Familiar forms keep `docker.io/` where dropping it would change the meaning.
    ("docker.io/localhost/foo", "docker.io", "localhost/foo", None, None, "docker.io/localhost/foo:latest", "docker.io/localhost/foo:latest"),
    ("docker.io/foo.bar/baz", "docker.io", "foo.bar/baz", None, None, "docker.io/foo.bar/baz:latest", "docker.io/foo.bar/baz:latest"),
    ("docker.io/library/localhost/foo", "docker.io", "library/localhost/foo", None, None, "docker.io/library/localhost/foo:latest", "library/localhost/foo:latest"),
];

/// Input and error kind.
#[rustfmt::skip]
const INVALID: &[(&str, &str)] = &[
    ("", "Empty"),
    (" node", "Whitespace"),
    ("node ", "Whitespace"),
    ("no de", "Whitespace"),
    ("node:\t1", "Whitespace"),
    ("\u{a0}node", "Whitespace"),
    ("node\n", "Whitespace"),
    ("<h64>", "HexIdentifier"),
    ("/foo", "EmptyRegistry"),
    ("/", "EmptyRegistry"),
    (":5000/foo", "EmptyRegistry"),
    ("node:", "EmptyTag"),
    ("node:@<d256>", "EmptyTag"),
    ("node@", "EmptyDigest"),
    ("node:22@", "EmptyDigest"),
    ("a/b@", "EmptyDigest"),
    (":tag", "MissingRepository"),
    (":", "MissingRepository"),
    ("@", "MissingRepository"),
    ("@<d256>", "MissingRepository"),
    ("example.com/", "MissingRepository"),
    ("example.com/:tag", "MissingRepository"),
    ("localhost:5000/", "MissingRepository"),
    ("foo/Bar", "Uppercase"),
    ("Foo", "Uppercase"),
    ("NODE:22", "Uppercase"),
    ("example.com/Foo:tag", "Uppercase"),
    ("a___b", "InvalidPathComponent/InvalidSeparator"),
    ("a..b", "InvalidPathComponent/InvalidSeparator"),
    ("a._b", "InvalidPathComponent/InvalidSeparator"),
    ("a_-b", "InvalidPathComponent/InvalidSeparator"),
    ("a-/b", "InvalidPathComponent/BadEnd"),
    ("a/b.", "InvalidPathComponent/BadEnd"),
    ("-a", "InvalidPathComponent/BadStart"),
    ("_a/b", "InvalidPathComponent/BadStart"),
    ("foo/bar!", "InvalidPathComponent/InvalidCharacter"),
    ("é", "InvalidPathComponent/InvalidCharacter"),
    ("[]/foo", "InvalidPathComponent/InvalidCharacter"),
    ("foo//bar", "EmptyPathComponent"),
    ("foo/", "EmptyPathComponent"),
    ("node:<t129>", "TagTooLong"),
    ("node:.x", "InvalidTag/BadStart"),
    ("node:-x", "InvalidTag/BadStart"),
    ("node:a+b", "InvalidTag/InvalidCharacter"),
    ("node:22:23", "InvalidTag/InvalidCharacter"),
    ("a/b:c/d", "InvalidTag/InvalidCharacter"),
    ("node:a/b", "InvalidRegistry/InvalidPort"),
    ("example.com:80a/foo", "InvalidRegistry/InvalidPort"),
    ("example.com:/foo", "InvalidRegistry/EmptyPort"),
    ("[::1]:/foo", "InvalidRegistry/EmptyPort"),
    ("-example.com/foo", "InvalidRegistry/HyphenAtEdge"),
    ("example-.com/foo", "InvalidRegistry/HyphenAtEdge"),
    ("example..com/foo", "InvalidRegistry/EmptyComponent"),
    (".example.com/foo", "InvalidRegistry/EmptyComponent"),
    ("foo_bar.com/x", "InvalidRegistry/InvalidCharacter"),
    ("É/foo", "InvalidRegistry/InvalidCharacter"),
    ("[::1/foo", "InvalidRegistry/UnclosedBracket"),
    ("[]:5000/foo", "InvalidRegistry/EmptyIpv6"),
    ("[::1]x:5000/foo", "InvalidRegistry/TextAfterIpv6"),
    ("[::g]/foo", "InvalidRegistry/InvalidIpv6Character"),
    ("example.com/<p256>", "NameTooLong"),
    ("<p248>", "NameTooLong"),
    ("index.docker.io/<p248>", "NameTooLong"),
    ("org/<p252>", "NameTooLong"),
    ("node@sha256:abc", "InvalidDigest/WrongLength"),
    ("node:22@sha512:<h64>", "InvalidDigest/WrongLength"),
    ("node@sha256:<H64>", "InvalidDigest/UppercaseHex"),
    ("node@md5:<h64>", "InvalidDigest/UnknownAlgorithm"),
    ("node@<h64>", "InvalidDigest/BareHex"),
    ("node@<d256>@<d256>", "InvalidDigest/NonHexCharacter"),
];

#[test]
fn table_has_enough_cases() {
    assert!(VALID.len() + INVALID.len() >= 70);
}

#[test]
fn valid_references() {
    for &(input, registry, repository, tag, digest, canonical, familiar) in VALID {
        let input = expand(input);
        let parsed =
            ImageRef::parse(&input).unwrap_or_else(|e| panic!("`{input}` should parse, got: {e}"));
        assert_eq!(parsed.registry(), expand(registry), "registry of `{input}`");
        assert_eq!(
            parsed.repository(),
            expand(repository),
            "repository of `{input}`"
        );
        assert_eq!(parsed.tag(), tag.map(expand).as_deref(), "tag of `{input}`");
        assert_eq!(
            parsed.digest().map(Digest::as_str),
            digest.map(expand).as_deref(),
            "digest of `{input}`"
        );
        assert_eq!(
            parsed.canonical(),
            expand(canonical),
            "canonical of `{input}`"
        );
        assert_eq!(parsed.familiar(), expand(familiar), "familiar of `{input}`");
        assert_eq!(parsed.to_string(), parsed.canonical());
        assert_eq!(parsed.is_pinned(), digest.is_some());
        assert_eq!(
            parsed.repo_url(),
            format!("{}/{}", expand(registry), expand(repository))
        );
        assert_eq!(input.parse::<ImageRef>().unwrap(), parsed);
        assert_round_trips(&parsed);
    }
}

#[test]
fn invalid_references() {
    for &(input, expected) in INVALID {
        let input = expand(input);
        match ImageRef::parse(&input) {
            Ok(parsed) => panic!("`{input}` should not parse, got {parsed:?}"),
            Err(error) => {
                assert_eq!(kind(&error), expected, "error kind of `{input}`: {error}");
                assert!(!error.to_string().is_empty());
            }
        }
    }
}

#[test]
fn error_messages() {
    let message = |input: &str| ImageRef::parse(&expand(input)).unwrap_err().to_string();
    assert_eq!(
        message("<h64>"),
        format!("invalid repository name ({H64}), cannot specify 64-byte hexadecimal strings")
    );
    assert_eq!(
        message("foo/Bar"),
        "invalid reference format: repository name (foo/Bar) must be lowercase"
    );
    assert_eq!(
        message("Foo"),
        "invalid reference format: repository name (library/Foo) must be lowercase"
    );
    assert!(message("example.com/<p256>").contains("must not be more than 255 characters"));
    assert!(message("node:").contains("no tag"));
    assert!(message("node@").contains("no digest"));
    assert!(message(" node").contains("position 1"));
    assert!(message("node@sha256:abc").contains("64 hex digits"));
    assert!(message("a___b").contains("`___`"));
    assert!(message("example.com:80a/foo").contains("port `80a`"));
}

#[test]
fn errors_carry_the_offending_part() {
    assert_eq!(
        ImageRef::parse("a-/b").unwrap_err(),
        RefError::InvalidPathComponent {
            repository: "a-/b".to_owned(),
            component: "a-".to_owned(),
            problem: PathProblem::BadEnd { character: '-' },
        }
    );
    assert_eq!(
        ImageRef::parse("node:.x").unwrap_err(),
        RefError::InvalidTag {
            tag: ".x".to_owned(),
            problem: TagProblem::BadStart { character: '.' },
        }
    );
    assert_eq!(
        ImageRef::parse("node:a b").unwrap_err(),
        RefError::Whitespace {
            input: "node:a b".to_owned(),
            position: 7,
        }
    );
    assert_eq!(
        ImageRef::parse("example..com/foo").unwrap_err(),
        RefError::InvalidRegistry {
            registry: "example..com".to_owned(),
            problem: RegistryProblem::EmptyComponent,
        }
    );
    let long = expand("node:<t129>");
    assert!(matches!(
        ImageRef::parse(&long).unwrap_err(),
        RefError::TagTooLong { length: 129, .. }
    ));
    // `library/` counts: 8 + 248 = 256, one past distribution's limit.
    assert!(matches!(
        ImageRef::parse(&expand("<p248>")).unwrap_err(),
        RefError::NameTooLong { length: 256, .. }
    ));
    // The registry does not: a 255-character path on any registry is fine.
    assert!(ImageRef::parse(&expand("registry.example.com:5000/<p255>")).is_ok());
}

#[test]
fn effective_tag() {
    let effective = |s: &str| {
        ImageRef::parse(&expand(s))
            .unwrap()
            .effective_tag()
            .map(str::to_owned)
    };
    assert_eq!(effective("node").as_deref(), Some("latest"));
    assert_eq!(effective("node:22").as_deref(), Some("22"));
    assert_eq!(effective("node:22@<d256>").as_deref(), Some("22"));
    assert_eq!(effective("node@<d256>"), None);
}

#[test]
fn without_digest_and_identity() {
    let pinned = ImageRef::parse(&expand("node:22-bookworm-slim@<d256>")).unwrap();
    let plain = ImageRef::parse("node:22-bookworm-slim").unwrap();
    assert!(pinned.is_pinned());
    assert!(!plain.is_pinned());
    assert_eq!(pinned.without_digest(), plain);
    assert!(!pinned.without_digest().is_pinned());
    assert_eq!(pinned.identity(), "docker.io/library/node:22-bookworm-slim");
    assert_eq!(plain.identity(), "docker.io/library/node:22-bookworm-slim");
    assert_eq!(pinned.slug(), plain.slug());
    assert_eq!(pinned.slug_with_hash(), plain.slug_with_hash());

    let bare = ImageRef::parse("node").unwrap();
    assert_eq!(bare.without_digest().tag(), Some("latest"));
    assert_eq!(bare.identity(), "docker.io/library/node:latest");

    let digest_only = ImageRef::parse(&expand("node@<d256>")).unwrap();
    assert_eq!(digest_only.without_digest().tag(), Some("latest"));
    assert_eq!(digest_only.identity(), "docker.io/library/node:latest");
    assert_eq!(digest_only.slug(), "node-latest");

    let short = ImageRef::parse("node:22").unwrap();
    let short_pinned = ImageRef::parse(&expand("node:22@<d256>")).unwrap();
    assert_eq!(short.identity(), short_pinned.identity());
    assert_eq!(short.slug(), "node-22");
    assert_eq!(short_pinned.slug(), "node-22");
    assert_eq!(
        ImageRef::parse("ghcr.io/org/app:1.2").unwrap().identity(),
        "ghcr.io/org/app:1.2"
    );
}

#[test]
fn slugs() {
    let slug = |s: &str| ImageRef::parse(&expand(s)).unwrap().slug();
    // The examples of DESIGN.md §2.
    assert_eq!(slug("node:22-bookworm-slim"), "node-22-bookworm-slim");
    assert_eq!(slug("ghcr.io/org/app:1.2"), "ghcr.io-org-app-1.2");
    assert_eq!(
        slug("mcr.microsoft.com/playwright:v1.40.0-focal"),
        "mcr.microsoft.com-playwright-v1.40.0-focal"
    );
    assert_eq!(
        slug("docker.io/library/node:22-bookworm-slim@<d256>"),
        "node-22-bookworm-slim"
    );
    assert_eq!(slug("node"), "node-latest");
    assert_eq!(
        slug("gcr.io/distroless/python3-debian12"),
        "gcr.io-distroless-python3-debian12-latest"
    );
    assert_eq!(slug("Foo/bar:TAG"), "foo-bar-tag");
    assert_eq!(slug("user/app__x:1_2"), "user-app-x-1-2");
    assert_eq!(slug("[::1]:5000/app:v1"), "-1-5000-app-v1");
    assert_eq!(slug("localhost:5000/foo:bar"), "localhost-5000-foo-bar");
    let long = slug("example.com/<p243>:<t128>");
    assert_eq!(long.len(), SLUG_MAX_LEN);
    assert_eq!(long, format!("example.com-{}", "a".repeat(88)));
}

#[test]
fn slugs_with_hash() {
    // sha256("docker.io/library/node:22") starts with 281a10c0.
    assert_eq!(
        ImageRef::parse("node:22").unwrap().slug_with_hash(),
        "node-22-281a10c0"
    );
    // sha256("docker.io/library/node:22-bookworm-slim") starts with edc47295.
    assert_eq!(
        ImageRef::parse(&expand("node:22-bookworm-slim@<d256>"))
            .unwrap()
            .slug_with_hash(),
        "node-22-bookworm-slim-edc47295"
    );
    let long = ImageRef::parse(&expand("example.com/<p243>:<t128>")).unwrap();
    let hashed = long.slug_with_hash();
    assert_eq!(hashed.len(), SLUG_MAX_LEN);
    assert!(hashed.starts_with("example.com-aaa"));
    let hash = Digest::of_sha256_bytes(long.identity().as_bytes());
    assert!(hashed.ends_with(&format!("-{}", &hash.hex()[..8])));
    // Different references whose slugs collide get different hashed slugs.
    let upper = ImageRef::parse("Foo/bar:tag").unwrap();
    let lower = ImageRef::parse("foo/bar:tag").unwrap();
    assert_eq!(upper.slug(), lower.slug());
    assert_ne!(upper.slug_with_hash(), lower.slug_with_hash());
}

#[test]
fn serde_round_trip() {
    for input in [
        "node",
        "node:22",
        "ghcr.io/org/app:1.2",
        "node:22@<d256>",
        "node@<d256>",
    ] {
        let parsed = ImageRef::parse(&expand(input)).unwrap();
        let yaml = serde_saphyr::to_string(&parsed).unwrap();
        let back: ImageRef = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(back, parsed, "{yaml}");
    }
    let node = ImageRef::parse("node").unwrap();
    assert_eq!(
        serde_saphyr::to_string(&node).unwrap().trim(),
        "docker.io/library/node"
    );
    let bad: Result<ImageRef, _> = serde_saphyr::from_str("foo/Bar");
    assert!(bad.is_err());
}

#[test]
fn ordering_and_hashing_are_by_value() {
    use std::collections::BTreeSet;
    let set: BTreeSet<ImageRef> = [
        "node:22",
        "docker.io/library/node:22",
        "index.docker.io/node:22",
    ]
    .into_iter()
    .map(|s| ImageRef::parse(s).unwrap())
    .collect();
    assert_eq!(set.len(), 1);
}

/// The reference with `latest` made explicit when it has neither tag nor digest: what
/// parsing its canonical or familiar form gives.
fn tag_defaulted(r: &ImageRef) -> ImageRef {
    let mut out = r.clone();
    if out.tag.is_none() && out.digest.is_none() {
        out.tag = Some(DEFAULT_TAG.to_owned());
    }
    out
}

fn assert_round_trips(r: &ImageRef) {
    let canonical = ImageRef::parse(&r.canonical()).unwrap();
    assert_eq!(canonical, tag_defaulted(r), "canonical of {r:?}");
    assert_eq!(canonical.canonical(), r.canonical());
    let familiar = ImageRef::parse(&r.familiar()).unwrap();
    assert_eq!(familiar, tag_defaulted(r), "familiar of {r:?}");
    assert_eq!(ImageRef::parse(&r.qualified()).unwrap(), *r);
    assert_eq!(ImageRef::parse(&r.identity()).unwrap(), r.without_digest());
}

fn check_round_trips(r: &ImageRef) -> Result<(), TestCaseError> {
    let reparse = |s: String| {
        ImageRef::parse(&s).map_err(|e| TestCaseError::fail(format!("`{s}` does not parse: {e}")))
    };
    let canonical = reparse(r.canonical())?;
    prop_assert_eq!(&canonical, &tag_defaulted(r));
    prop_assert_eq!(canonical.canonical(), r.canonical());
    prop_assert_eq!(reparse(r.familiar())?, tag_defaulted(r));
    prop_assert_eq!(&reparse(r.qualified())?, r);
    prop_assert_eq!(reparse(r.identity())?, r.without_digest());
    prop_assert_eq!(r.to_string(), r.canonical());
    Ok(())
}

fn check_slug(r: &ImageRef) -> Result<(), TestCaseError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    for slug in [r.slug(), r.slug_with_hash()] {
        prop_assert!(!slug.is_empty());
        prop_assert!(slug != "." && slug != "..", "{}", slug);
        prop_assert!(!slug.contains('/'), "{}", slug);
        prop_assert!(slug.len() <= SLUG_MAX_LEN, "{}", slug);
        prop_assert!(slug.chars().all(allowed), "{}", slug);
    }
    prop_assert!(!r.slug().contains("--"), "{}", r.slug());
    let pinned_free = r.without_digest();
    prop_assert_eq!(r.slug(), pinned_free.slug());
    prop_assert_eq!(r.slug_with_hash(), pinned_free.slug_with_hash());
    let hashed = r.slug_with_hash();
    let hash = Digest::of_sha256_bytes(r.identity().as_bytes());
    let suffix = format!("-{}", &hash.hex()[..8]);
    prop_assert!(hashed.ends_with(&suffix), "{} {}", hashed, suffix);
    Ok(())
}

/// Strings built from the grammar's pieces, nearly always valid references.
fn reference_like() -> impl Strategy<Value = String> {
    let registry = prop_oneof![
        Just(String::new()),
        "[a-z0-9]{1,8}(\\.[a-z0-9]([a-z0-9-]{0,4}[a-z0-9])?){1,2}(:[0-9]{1,5})?",
        Just("localhost".to_owned()),
        "localhost:[0-9]{1,5}",
        "\\[[0-9a-fA-F]{0,4}:[0-9a-fA-F:]{0,8}\\](:[0-9]{1,4})?",
        "[A-Z][a-zA-Z0-9]{0,5}",
        Just("docker.io".to_owned()),
        Just("index.docker.io".to_owned()),
    ];
    let component = "[a-z0-9]{1,5}((\\.|_|__|-{1,3})[a-z0-9]{1,5}){0,2}";
    let path = proptest::collection::vec(component, 1..4).prop_map(|parts| parts.join("/"));
    let tag = proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}");
    let digest = proptest::option::of(prop_oneof![
        "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}")),
        "[0-9a-f]{128}".prop_map(|h| format!("sha512:{h}")),
    ]);
    // Without a registry, a first path component with a `.` would be read as one.
    let path_and_registry = (registry, path).prop_filter("ambiguous registry", |(r, p)| {
        !r.is_empty()
            || !p
                .split_once('/')
                .is_some_and(|(first, _)| first.contains('.'))
    });
    (path_and_registry, tag, digest).prop_map(|((registry, path), tag, digest)| {
        let mut s = if registry.is_empty() {
            path
        } else {
            format!("{registry}/{path}")
        };
        if let Some(tag) = tag {
            s.push(':');
            s.push_str(&tag);
        }
        if let Some(digest) = digest {
            s.push('@');
            s.push_str(&digest);
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_arbitrary_strings(s in ".*") {
        if let Ok(parsed) = ImageRef::parse(&s) {
            check_round_trips(&parsed)?;
            check_slug(&parsed)?;
        }
    }

    #[test]
    fn never_panics_on_reference_characters(s in "[a-zA-Z0-9:/@._\\-\\[\\]]{0,80}") {
        if let Ok(parsed) = ImageRef::parse(&s) {
            check_round_trips(&parsed)?;
            check_slug(&parsed)?;
        }
    }

    #[test]
    fn grammar_built_references_parse_and_round_trip(s in reference_like()) {
        let parsed = ImageRef::parse(&s)
            .map_err(|e| TestCaseError::fail(format!("`{s}` does not parse: {e}")))?;
        check_round_trips(&parsed)?;
        check_slug(&parsed)?;
    }

    #[test]
    fn whitespace_is_always_rejected(
        s in reference_like(),
        ws in prop_oneof![Just(' '), Just('\t'), Just('\n'), Just('\u{a0}')],
        at_end in any::<bool>(),
    ) {
        let input = if at_end { format!("{s}{ws}") } else { format!("{ws}{s}") };
        let is_whitespace_error = matches!(ImageRef::parse(&input), Err(RefError::Whitespace { .. }));
        prop_assert!(is_whitespace_error);
    }
}
