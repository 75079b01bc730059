//! The value rules of `kargo.yaml`: Kubernetes names, image references, platforms, git
//! branches, five-field cron schedules and URLs, each a function from the text to `Ok` or the
//! message the decoder reports at the value's position.

use if_model::reference::ImageRef;

use crate::names;

pub(super) fn check_label(s: &str) -> Result<(), String> {
    if names::is_valid(s) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a Kubernetes name: lowercase letters, digits and `-`, starting and ending with a letter or digit, at most {} characters",
            names::MAX_LEN
        ))
    }
}

/// The longest name segment of a label key, and the longest label value (Kubernetes,
/// "Labels and Selectors", Syntax and character set).
const LABEL_NAME_MAX: usize = 63;
/// The longest prefix of a label key: a DNS subdomain.
const LABEL_PREFIX_MAX: usize = 253;

/// A label key's name segment, or a non-empty label value: at most 63 characters of
/// `[A-Za-z0-9]`, `-`, `_` and `.`, beginning and ending with a letter or digit.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: Option<&u8>| c.is_some_and(u8::is_ascii_alphanumeric);
    b.len() <= LABEL_NAME_MAX
        && edge(b.first())
        && edge(b.last())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// A Kubernetes label key: `[PREFIX/]NAME`, the prefix a DNS subdomain of at most 253
/// characters (lowercase), the name as [`is_label_name`] says.
pub(super) fn check_label_key(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty() && p.len() <= LABEL_PREFIX_MAX && p.split('.').all(names::is_valid)
    });
    if prefix_ok && is_label_name(name) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a Kubernetes label key: an optional DNS-subdomain prefix and `/`, \
             then at most {LABEL_NAME_MAX} letters, digits, `-`, `_` or `.`, starting and \
             ending with a letter or digit"
        ))
    }
}

/// A non-empty Kubernetes label value (the empty value is handled by the caller).
pub(super) fn check_label_value(s: &str) -> Result<(), String> {
    if is_label_name(s) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a Kubernetes label value: at most {LABEL_NAME_MAX} letters, digits, \
             `-`, `_` or `.`, starting and ending with a letter or digit (quote `\"true\"`)"
        ))
    }
}

pub(super) fn check_subdomain(s: &str) -> Result<(), String> {
    let ok = !s.is_empty() && s.len() <= 253 && s.split('.').all(names::is_valid);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a Kubernetes object name (lowercase letters, digits, `-` and `.`)"
        ))
    }
}

pub(super) fn check_image(s: &str) -> Result<(), String> {
    ImageRef::parse(s)
        .map(|_| ())
        .map_err(|e| format!("`{s}` is not an image reference: {e}"))
}

pub(super) fn check_platform(s: &str) -> Result<(), String> {
    let word = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match s.split_once('/') {
        Some((os, arch)) if word(os) && word(arch) => Ok(()),
        _ => Err(format!("`{s}` is not os/arch (e.g. linux/amd64)")),
    }
}

pub(super) fn check_branch(s: &str) -> Result<(), String> {
    let inner = |c: char| c.is_ascii_alphanumeric() || "._/-".contains(c);
    let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let last_ok = s
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if first_ok && last_ok && s.chars().all(inner) && s.len() <= 255 {
        Ok(())
    } else {
        Err(format!("`{s}` is not a branch name Kargo accepts"))
    }
}

/// A schedule `kube-controller-manager` accepts (robfig/cron's standard parser): five
/// fields (minute, hour, day of month, month, day of week), each `*`, a number, a range
/// `a-b`, a list `a,b`, optionally stepped `/n`, months and days also by name; or one of
/// the macros (`@every` is not accepted here). `TZ=`/`CRON_TZ=` is refused (batch/v1
/// rejects it).
pub fn check_cron(s: &str) -> Result<(), String> {
    const MACROS: [&str; 7] = [
        "@yearly",
        "@annually",
        "@monthly",
        "@weekly",
        "@daily",
        "@midnight",
        "@hourly",
    ];
    if MACROS.contains(&s) {
        return Ok(());
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.first().is_some_and(|f| f.contains("TZ=")) {
        return Err(format!(
            "`{s}`: a time zone in the schedule is refused by Kubernetes (batch/v1 CronJob)"
        ));
    }
    if fields.len() != 5 {
        return Err(format!(
            "`{s}` is not a cron schedule: five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly"
        ));
    }
    let bounds: [(&str, u32, u32, &[&str], u32); 5] = [
        ("minute", 0, 59, &[], 0),
        ("hour", 0, 23, &[], 0),
        ("day of month", 1, 31, &[], 0),
        ("month", 1, 12, &MONTHS, 1),
        ("day of week", 0, 7, &DAYS, 0),
    ];
    for (field, (what, lo, hi, names, first)) in fields.iter().zip(bounds) {
        let number = |t: &str| -> Option<u32> {
            let lower = t.to_ascii_lowercase();
            if let Some(i) = names.iter().position(|n| *n == lower) {
                return u32::try_from(i).ok().map(|i| i + first);
            }
            if t.is_empty() || t.len() > 2 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            t.parse().ok().filter(|n| (lo..=hi).contains(n))
        };
        let ok = field.split(',').all(|part| {
            let (range, step) = match part.split_once('/') {
                Some((r, st)) => (r, Some(st)),
                None => (part, None),
            };
            let step_ok = step.is_none_or(|st| {
                !st.is_empty()
                    && st.len() <= 2
                    && st.bytes().all(|b| b.is_ascii_digit())
                    && st.parse::<u32>().is_ok_and(|n| n > 0)
            });
            let range_ok = range == "*"
                || range == "?"
                || match range.split_once('-') {
                    Some((a, b)) => number(a).zip(number(b)).is_some_and(|(a, b)| a <= b),
                    None => number(range).is_some(),
                };
            step_ok && range_ok
        });
        if !ok {
            return Err(format!(
                "`{s}`: `{field}` is not a {what} ({lo}-{hi}, `*`, ranges, lists, steps)"
            ));
        }
    }
    Ok(())
}

pub(super) fn check_http_url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(()),
        _ => Err(format!("`{s}` is not an http(s) URL")),
    }
}

pub(super) fn check_git_url(s: &str) -> Result<(), String> {
    if s.contains(char::is_whitespace) {
        return Err(format!("`{s}` contains whitespace"));
    }
    let scheme = ["https://", "http://", "ssh://"]
        .iter()
        .any(|p| s.strip_prefix(p).is_some_and(|r| r.contains('/')));
    let scp = s
        .split_once('@')
        .is_some_and(|(user, rest)| !user.is_empty() && rest.contains(':'));
    if scheme || scp {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a git URL (https://host/org/repo.git or git@host:org/repo.git)"
        ))
    }
}
