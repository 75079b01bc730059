//! Whether a string is an image reference Docker accepts (`reference.ParseNormalizedNamed`
//! of the distribution library): grammar of domains, path components, tags and digests,
//! the lowercase rule, the 255-character name limit and the 64-hex-digit ambiguity.

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::{tag, take_while, take_while_m_n, take_while1};
use nom::combinator::{all_consuming, recognize};
use nom::multi::many0;
use nom::sequence::{pair, preceded};

type NomError<'a> = nom::error::Error<&'a str>;

fn alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// Skips a run of `[a-z0-9]` from `*i`; whether it was not empty.
fn alnum_run(b: &[u8], i: &mut usize) -> bool {
    let start = *i;
    while b.get(*i).is_some_and(|&c| alnum_lower(c)) {
        *i += 1;
    }
    *i > start
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, the whole of `s`.
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if !alnum_run(b, &mut i) {
        return false;
    }
    while let Some(&c) = b.get(i) {
        match c {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if b.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if !alnum_run(b, &mut i) {
            return false;
        }
    }
    true
}

/// `[a-zA-Z0-9]` or `[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn domain_component(i: &str) -> Option<()> {
    let b = i.as_bytes();
    let (first, last) = (b.first()?, b.last()?);
    (first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-'))
    .then_some(())
}

/// `host(:port)?` with host a dotted name or a bracketed IPv6 address.
fn is_domain(s: &str) -> bool {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(i) => (s.get(..=i).unwrap_or(""), s.get(i + 1..).unwrap_or("")),
            None => return false,
        }
    } else {
        match s.find(':') {
            Some(i) => (s.get(..i).unwrap_or(""), s.get(i..).unwrap_or("")),
            None => (s, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
        None => host.split('.').all(|c| domain_component(c).is_some()),
    };
    port_ok && host_ok
}

/// `[\w][\w.-]{0,127}`
fn is_tag(s: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let parsed: IResult<&str, &str, NomError<'_>> = all_consuming(recognize(pair(
        take_while_m_n(1, 1, word),
        take_while_m_n(0, 127, |c: char| word(c) || c == '.' || c == '-'),
    )))
    .parse(s);
    parsed.is_ok()
}

/// The digest grammar plus `digest.Parse`: a known algorithm with lowercase hex of its size.
fn is_digest(s: &str) -> bool {
    let alg_component = |i| -> IResult<&str, &str, NomError<'_>> {
        recognize(pair(
            take_while_m_n(1, 1, |c: char| c.is_ascii_alphabetic()),
            take_while(|c: char| c.is_ascii_alphanumeric()),
        ))
        .parse(i)
    };
    let mut grammar = all_consuming((
        recognize(pair(
            alg_component,
            many0(preceded(
                take_while_m_n(1, 1, |c: char| "-_+.".contains(c)),
                alg_component,
            )),
        )),
        tag(":"),
        take_while1(|c: char| c.is_ascii_hexdigit()),
    ));
    let Ok((_, (alg, _, hex))) = grammar.parse(s) else {
        return false;
    };
    let size = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == size
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let Some(first) = parts.next() else {
        return false;
    };
    let first_ok = is_path_component(first) || (name.contains('/') && is_domain(first));
    first_ok && parts.all(is_path_component)
}

/// Whether Docker would accept `s` as an image reference (`FROM s`, `COPY --from=s`).
pub fn is_valid_reference(s: &str) -> bool {
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return false;
    }
    let (domain, remainder) = match s.find('/') {
        Some(i) => {
            let head = s.get(..i).unwrap_or("");
            if !head.contains(['.', ':'])
                && head != "localhost"
                && !head.bytes().any(|b| b.is_ascii_uppercase())
                && head.is_ascii()
            {
                ("docker.io", s)
            } else {
                (head, s.get(i + 1..).unwrap_or(""))
            }
        }
        None => ("docker.io", s),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io"
    } else {
        domain
    };
    let library = domain == "docker.io" && !remainder.contains('/');
    // ("library/" holds no `:` and no uppercase letter.)
    let remote = remainder.split(':').next().unwrap_or("");
    if remote.chars().any(|c| c.is_uppercase()) {
        return false;
    }
    let mut full = String::with_capacity(domain.len() + remainder.len() + 9);
    full.push_str(domain);
    full.push('/');
    if library {
        full.push_str("library/");
    }
    full.push_str(remainder);
    let (before, digest) = match full.split_once('@') {
        Some((b, d)) => (b, Some(d)),
        None => (full.as_str(), None),
    };
    let last_slash = before.rfind('/').map_or(0, |i| i + 1);
    let tail = before.get(last_slash..).unwrap_or("");
    let (name, tagged) = match tail.find(':') {
        Some(i) => (
            before.get(..last_slash + i).unwrap_or(""),
            Some(tail.get(i + 1..).unwrap_or("")),
        ),
        None => (before, None),
    };
    is_name(name) && name.len() <= 255 && tagged.is_none_or(is_tag) && digest.is_none_or(is_digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components() {
        for ok in [
            "a",
            "a-b",
            "a--b",
            "a_b",
            "a__b",
            "a.b.c",
            "0x",
            "a-b_c.d__e",
        ] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in [
            "", "a-", "a_", "a.", "_a", "-a", ".a", "a___b", "a._b", "a..b", "A", "é",
        ] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn references() {
        for ok in [
            "alpine",
            "alpine:3.19",
            "golang:1.22-alpine",
            "docker.io/library/node:22",
            "ghcr.io/org/app:1.2",
            "localhost:5000/a/b:c",
            "mcr.microsoft.com/windows/servercore:ltsc2022",
            "Foo/bar",
            "[::1]:5000/x",
            "a__b/c-d---e:t",
            "node@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "node:22@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(is_valid_reference(ok), "{ok}");
        }
        for bad in [
            "",
            "Alpine",
            "alpine:",
            "a b",
            "-a",
            "a..b",
            "a___b",
            "$IMG",
            "{{",
            "alpine:tag@sha256:abc",
            "node@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "docker.io/Library/x",
        ] {
            assert!(!is_valid_reference(bad), "{bad}");
        }
    }
}
