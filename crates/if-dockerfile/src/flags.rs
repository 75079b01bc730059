//! Instruction flags as BuildKit's `BFlags` checks them, the CSV of `RUN --mount`, and Go's
//! duration syntax for HEALTHCHECK intervals.

use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{tag, take_while, take_while1};
use nom::combinator::opt;

use crate::diag::DiagnosticKind;
use crate::span::Span;

/// The kind of value a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagType {
    /// `--x`, `--x=true`, `--x=false`.
    Bool,
    /// `--x=value`, once.
    Str,
    /// `--x=value`, repeatable.
    Strs,
}

/// The flags an instruction takes.
pub(crate) type FlagSpec = &'static [(&'static str, FlagType)];

/// Values of the flags given, by name, in order.
#[derive(Debug, Default)]
pub(crate) struct FlagValues<'a> {
    values: Vec<(&'a str, &'a str, Span)>,
}

impl<'a> FlagValues<'a> {
    /// Every value given for `name`, with the span of its flag word.
    pub(crate) fn all(&self, name: &'static str) -> impl Iterator<Item = (&'a str, Span)> + '_ {
        self.values
            .iter()
            .filter(move |(n, _, _)| *n == name)
            .map(|(_, v, s)| (*v, *s))
    }

    /// The last value given for `name`.
    pub(crate) fn last(&self, name: &'static str) -> Option<&'a str> {
        self.all(name).last().map(|(v, _)| v)
    }
}

/// BuildKit's `BFlags.Parse` over the flag words (with their spans) and the accepted `spec`.
pub(crate) fn parse_flags<'a>(
    flags: impl IntoIterator<Item = (&'a str, Span)>,
    spec: FlagSpec,
) -> Result<FlagValues<'a>, (DiagnosticKind, Span)> {
    let mut out = FlagValues::default();
    let mut used: Vec<&str> = Vec::new();
    for (text, span) in flags {
        let Some(body) = text.strip_prefix("--") else {
            return Err((DiagnosticKind::UnknownFlag(text.to_string()), span));
        };
        if body.is_empty() {
            return Ok(out);
        }
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let Some(&(_, ty)) = spec.iter().find(|(n, _)| *n == name) else {
            return Err((DiagnosticKind::UnknownFlag(name.to_string()), span));
        };
        if used.contains(&name) && ty != FlagType::Strs {
            return Err((DiagnosticKind::DuplicateFlag(name.to_string()), span));
        }
        used.push(name);
        match ty {
            FlagType::Bool => {
                if value == Some("") {
                    return Err((DiagnosticKind::FlagMissingValue(name.to_string()), span));
                }
                let v = value.unwrap_or("");
                match v {
                    _ if v.is_empty() || v.eq_ignore_ascii_case("true") => {
                        out.values.push((name, "true", span));
                    }
                    _ if v.eq_ignore_ascii_case("false") => out.values.push((name, "false", span)),
                    _ => {
                        let kind = DiagnosticKind::FlagExpectsBool(name.to_string(), v.to_string());
                        return Err((kind, span));
                    }
                }
            }
            FlagType::Str | FlagType::Strs => match value {
                Some(v) => out.values.push((name, v, span)),
                None => return Err((DiagnosticKind::FlagMissingValue(name.to_string()), span)),
            },
        }
    }
    Ok(out)
}

/// Fields of one `--mount` value, split like `csvvalue.Fields` (BuildKit's CSV reader).
pub(crate) fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let line = line
        .strip_suffix("\r\n")
        .or_else(|| line.strip_suffix('\n'))
        .unwrap_or(line);
    if line.is_empty() {
        return Err("EOF".to_string());
    }
    let mut out = Vec::new();
    let mut rest = line;
    let mut pos = 0usize;
    loop {
        if !rest.starts_with('"') {
            let (field, next) = match rest.find(',') {
                Some(i) => (rest.get(..i).unwrap_or(""), Some(i)),
                None => (rest, None),
            };
            if let Some(j) = field.find('"') {
                return Err(format!(
                    "parse error on line 1, column {}: bare \" in non-quoted-field",
                    pos + j + 1
                ));
            }
            out.push(field.to_string());
            match next {
                Some(i) => {
                    rest = rest.get(i + 1..).unwrap_or("");
                    pos += i + 1;
                    continue;
                }
                None => return Ok(out),
            }
        }
        rest = rest.get(1..).unwrap_or("");
        pos += 1;
        let mut field = String::new();
        loop {
            let Some(i) = rest.find('"') else {
                return Err(format!(
                    "parse error on line 1, column {}: extraneous or missing \" in quoted-field",
                    pos + 1
                ));
            };
            field.push_str(rest.get(..i).unwrap_or(""));
            rest = rest.get(i + 1..).unwrap_or("");
            pos += i + 1;
            if let Some(after) = rest.strip_prefix('"') {
                field.push('"');
                rest = after;
                pos += 1;
            } else if let Some(after) = rest.strip_prefix(',') {
                out.push(std::mem::take(&mut field));
                rest = after;
                pos += 1;
                break;
            } else if rest.is_empty() {
                out.push(field);
                return Ok(out);
            } else {
                return Err(format!(
                    "parse error on line 1, column {pos}: extraneous or missing \" in quoted-field"
                ));
            }
        }
    }
}

/// One `--mount` value: its `type` (lowercased, `bind` by default) and `from`, or the error
/// BuildKit raises at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    pub typ: String,
    pub from: Option<String>,
}

/// Reads a mount the way BuildKit does before expansion (only `from` is checked).
pub(crate) fn parse_mount(value: &str) -> Result<Mount, DiagnosticKind> {
    let fields = csv_fields(value).map_err(DiagnosticKind::MountCsv)?;
    let mut m = Mount {
        typ: "bind".to_string(),
        from: None,
    };
    for field in fields {
        let Some((key, val)) = field.split_once('=') else {
            continue;
        };
        match key.to_ascii_lowercase().as_str() {
            "from" => {
                if let Some(i) = val.find('$')
                    && i != val.len() - 1
                {
                    return Err(DiagnosticKind::MountFromVariable);
                }
                m.from = Some(val.to_string());
            }
            "type" => m.typ = val.to_ascii_lowercase(),
            _ => {}
        }
    }
    Ok(m)
}

type NomError<'a> = nom::error::Error<&'a str>;

/// Go's `time.ParseDuration`, in nanoseconds.
pub(crate) fn parse_go_duration(orig: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {orig:?}");
    let (s, neg) = match orig.as_bytes().first() {
        Some(b'-') => (orig.get(1..).unwrap_or(""), true),
        Some(b'+') => (orig.get(1..).unwrap_or(""), false),
        _ => (orig, false),
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let limit: i128 = 1 << 63;
    let mut total: i128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let mut number = (
            take_while::<_, &str, NomError<'_>>(|c: char| c.is_ascii_digit()),
            opt((tag("."), take_while(|c: char| c.is_ascii_digit()))),
        );
        let Ok((after, (int, frac))) = number.parse(rest) else {
            return Err(invalid());
        };
        let frac_digits = frac.map(|(_, f)| f);
        if int.is_empty() && frac_digits.is_none_or(str::is_empty) {
            return Err(invalid());
        }
        let mut unit_p = alt((
            tag::<_, &str, NomError<'_>>("ns"),
            tag("us"),
            tag("µs"),
            tag("μs"),
            tag("ms"),
            tag("s"),
            tag("m"),
            tag("h"),
        ));
        let unit_text =
            take_while1::<_, &str, NomError<'_>>(|c: char| c != '.' && !c.is_ascii_digit())
                .parse(after)
                .map(|(_, u)| u)
                .map_err(|_| format!("time: missing unit in duration {orig:?}"))?;
        let unit: i128 = match unit_p.parse(unit_text) {
            Ok(("", u)) => match u {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                _ => 3_600_000_000_000,
            },
            _ => {
                return Err(format!(
                    "time: unknown unit {unit_text:?} in duration {orig:?}"
                ));
            }
        };
        let mut v: i128 = 0;
        for d in int.bytes() {
            v = v * 10 + i128::from(d - b'0');
            if v > limit {
                return Err(invalid());
            }
        }
        v *= unit;
        if v > limit {
            return Err(invalid());
        }
        if let Some(f) = frac_digits {
            let mut scale: i128 = 1;
            let mut fv: i128 = 0;
            for d in f.bytes().take(30) {
                fv = fv * 10 + i128::from(d - b'0');
                scale *= 10;
            }
            v += fv * unit / scale;
        }
        total += v;
        if total > limit {
            return Err(invalid());
        }
        rest = after.get(unit_text.len()..).unwrap_or("");
    }
    if neg {
        return Ok(-total);
    }
    if total > limit - 1 {
        return Err(invalid());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(text: &str) -> (&str, Span) {
        (text, Span::default())
    }

    #[test]
    fn bflags() {
        const SPEC: FlagSpec = &[
            ("from", FlagType::Str),
            ("link", FlagType::Bool),
            ("exclude", FlagType::Strs),
        ];
        let ok = [
            flag("--from=a"),
            flag("--link"),
            flag("--exclude=x"),
            flag("--exclude=y"),
        ];
        let v = parse_flags(ok, SPEC).expect("valid");
        assert_eq!(v.last("from"), Some("a"));
        assert_eq!(v.all("exclude").count(), 2);
        let err = |f: &[(&str, Span)]| parse_flags(f.iter().copied(), SPEC).err().map(|e| e.0);
        assert_eq!(
            err(&[flag("--pull")]),
            Some(DiagnosticKind::UnknownFlag("pull".into()))
        );
        assert_eq!(
            err(&[flag("--from")]),
            Some(DiagnosticKind::FlagMissingValue("from".into()))
        );
        assert_eq!(
            err(&[flag("--link=")]),
            Some(DiagnosticKind::FlagMissingValue("link".into()))
        );
        assert_eq!(
            err(&[flag("--link=yes")]),
            Some(DiagnosticKind::FlagExpectsBool("link".into(), "yes".into()))
        );
        assert_eq!(
            err(&[flag("--from=a"), flag("--from=b")]),
            Some(DiagnosticKind::DuplicateFlag("from".into()))
        );
    }

    #[test]
    fn csv_and_mounts() {
        assert_eq!(csv_fields("a,b=c,").expect("csv"), vec!["a", "b=c", ""]);
        assert_eq!(
            csv_fields("\"from=a,b\",x").expect("csv"),
            vec!["from=a,b", "x"]
        );
        assert_eq!(csv_fields("\"a\"\"b\"").expect("csv"), vec!["a\"b"]);
        assert!(csv_fields("").is_err());
        assert!(csv_fields("a\"b").is_err());
        assert!(csv_fields("\"ab").is_err());
        assert!(csv_fields("\"a\"b").is_err());
        let m = parse_mount("type=CACHE,FROM=img,target=/x").expect("mount");
        assert_eq!(
            m,
            Mount {
                typ: "cache".into(),
                from: Some("img".into())
            }
        );
        assert_eq!(
            parse_mount("from=$X"),
            Err(DiagnosticKind::MountFromVariable)
        );
        assert!(parse_mount("from=x$").is_ok());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        assert_eq!(parse_go_duration("-2ms"), Ok(-2_000_000));
        assert_eq!(parse_go_duration(".5s"), Ok(500_000_000));
        assert!(parse_go_duration("5").is_err());
        assert!(parse_go_duration("5x").is_err());
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration(".s").is_err());
    }
}
