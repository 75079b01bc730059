//! The instruction layer, as BuildKit's `instructions.Parse`: known instructions, the flags
//! each takes, argument counts, FROM shapes and stage names, ONBUILD triggers, RUN mounts,
//! and "only ARG before the first FROM".

use crate::diag::{Diagnostic, DiagnosticKind, Layer};
use crate::flags::{FlagSpec, FlagType, FlagValues, parse_flags, parse_go_duration, parse_mount};
use crate::heredoc::parse_marker;
use crate::keyword::Keyword;
use crate::node::Node;
use crate::span::Span;
use crate::text::{go_lower, go_upper, parse_go_int, trim_space};

const NO_FLAGS: FlagSpec = &[];
const FROM_FLAGS: FlagSpec = &[("platform", FlagType::Str)];
const COPY_FLAGS: FlagSpec = &[
    ("from", FlagType::Str),
    ("chown", FlagType::Str),
    ("chmod", FlagType::Str),
    ("link", FlagType::Bool),
    ("exclude", FlagType::Strs),
    ("parents", FlagType::Bool),
];
const ADD_FLAGS: FlagSpec = &[
    ("chown", FlagType::Str),
    ("chmod", FlagType::Str),
    ("link", FlagType::Bool),
    ("keep-git-dir", FlagType::Bool),
    ("checksum", FlagType::Str),
    ("unpack", FlagType::Bool),
    ("exclude", FlagType::Strs),
];
const RUN_FLAGS: FlagSpec = &[
    ("mount", FlagType::Strs),
    ("network", FlagType::Str),
    ("security", FlagType::Str),
    ("device", FlagType::Strs),
];
const HEALTHCHECK_FLAGS: FlagSpec = &[
    ("interval", FlagType::Str),
    ("timeout", FlagType::Str),
    ("start-period", FlagType::Str),
    ("start-interval", FlagType::Str),
    ("retries", FlagType::Str),
];

/// Go's `strings.EqualFold(word, "as")` (`ſ`, U+017F, folds to `s`).
pub(crate) fn is_as_keyword(word: &str) -> bool {
    let mut it = word.chars();
    matches!(it.next(), Some('a' | 'A'))
        && matches!(it.next(), Some('s' | 'S' | '\u{17f}'))
        && it.next().is_none()
}

/// `^[a-z][a-z0-9-_.]*$` on the lowercased name.
pub(crate) fn valid_stage_name(name: &str) -> bool {
    let mut it = name.bytes();
    it.next().is_some_and(|b| b.is_ascii_lowercase())
        && it.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// The shape of a FROM: image, `AS` keyword and name, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromShape<'a> {
    /// The first argument (the base image expression), if any.
    pub image: Option<&'a str>,
    /// The `AS` keyword as written, when there are three arguments and it is `AS`.
    pub as_keyword: Option<&'a str>,
    /// The stage name as written.
    pub name_raw: Option<&'a str>,
    /// The stage name lowercased (only with a well-formed `AS`).
    pub name: Option<String>,
    /// The `--platform` value of the first such flag.
    pub platform: Option<&'a str>,
}

/// The raw view of a FROM line (no validation), as the corpus oracle records it.
pub fn from_shape(node: &Node) -> FromShape<'_> {
    let image = node.arg(0);
    let (as_keyword, name_raw, name) = match node.args.as_slice() {
        [_, k, n] if is_as_keyword(node.text(k.text)) => {
            let n = node.text(n.text);
            (Some(node.text(k.text)), Some(n), Some(go_lower(n)))
        }
        _ => (None, None, None),
    };
    let platform = node
        .flags
        .iter()
        .find(|f| node.flag_name(f) == "platform")
        .and_then(|f| node.flag_value(f));
    FromShape {
        image,
        as_keyword,
        name_raw,
        name,
        platform,
    }
}

type Check<T> = Result<T, (DiagnosticKind, Span)>;

fn flags<'a>(node: &'a Node, spec: FlagSpec) -> Check<FlagValues<'a>> {
    parse_flags(node.flag_words(), spec)
}

fn count_at_least_one(node: &Node, name: &str) -> Check<()> {
    if node.args.is_empty() {
        return Err((
            DiagnosticKind::AtLeastOneArgument(name.to_string()),
            node.span,
        ));
    }
    Ok(())
}

fn count_exactly_one(node: &Node, name: &str) -> Check<()> {
    if node.args.len() != 1 {
        return Err((
            DiagnosticKind::ExactlyOneArgument(name.to_string()),
            node.span,
        ));
    }
    Ok(())
}

fn key_values(node: &Node, name: &str) -> Check<()> {
    count_at_least_one(node, name)?;
    if node
        .args
        .iter()
        .step_by(2)
        .any(|a| node.text(a.text).is_empty())
    {
        return Err((DiagnosticKind::BlankNames(name.to_string()), node.span));
    }
    Ok(())
}

fn sources_and_dest(node: &Node, name: &str, spec: FlagSpec) -> Check<()> {
    if node.args.len() < 2 {
        return Err((DiagnosticKind::NoDestination(name.to_string()), node.span));
    }
    flags(node, spec)?;
    if let Some(dest) = node.args.last()
        && matches!(parse_marker(node.text(dest.text)), Ok(Some(_)))
    {
        return Err((
            DiagnosticKind::HeredocDestination(name.to_string()),
            dest.span,
        ));
    }
    Ok(())
}

fn run(node: &Node) -> Check<()> {
    let values = flags(node, RUN_FLAGS)?;
    for (mount, span) in values.all("mount") {
        parse_mount(mount).map_err(|k| (k, span))?;
    }
    if let Some(net) = values.last("network")
        && !matches!(net, "default" | "none" | "host")
    {
        return Err((DiagnosticKind::InvalidNetwork(net.to_string()), node.span));
    }
    if let Some(sec) = values.last("security")
        && !matches!(sec, "sandbox" | "insecure")
    {
        return Err((DiagnosticKind::InvalidSecurity(sec.to_string()), node.span));
    }
    Ok(())
}

fn interval(value: Option<&str>, name: &str) -> Result<(), String> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(());
    };
    let d = parse_go_duration(v)?;
    if d != 0 && d < 1_000_000 {
        return Err(format!("Interval \"{name}\" cannot be less than 1ms"));
    }
    Ok(())
}

fn healthcheck(node: &Node) -> Check<()> {
    count_at_least_one(node, "HEALTHCHECK")?;
    let typ = go_upper(node.arg(0).unwrap_or(""));
    let rest = node.args.get(1..).unwrap_or(&[]);
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err((DiagnosticKind::HealthcheckNoneArguments, node.span));
        }
        return Ok(());
    }
    let values = flags(node, HEALTHCHECK_FLAGS)?;
    if typ != "CMD" {
        return Err((DiagnosticKind::HealthcheckUnknownType(typ), node.span));
    }
    if rest.is_empty() {
        return Err((DiagnosticKind::HealthcheckMissingCommand, node.span));
    }
    let value_err = |m: String| (DiagnosticKind::HealthcheckValue(m), node.span);
    for name in ["interval", "timeout", "start-period", "start-interval"] {
        interval(values.last(name), name).map_err(value_err)?;
    }
    if let Some(r) = values.last("retries").filter(|r| !r.is_empty()) {
        match parse_go_int(r, 32) {
            None => {
                return Err(value_err(format!(
                    "strconv.ParseInt: parsing {r:?}: invalid syntax"
                )));
            }
            Some(n) if n < 0 => {
                return Err(value_err(format!("--retries cannot be negative ({n})")));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Checks one instruction; the first problem BuildKit would report, if any.
pub(crate) fn check_node(node: &Node) -> Check<()> {
    match node.keyword {
        Keyword::From => {
            let args = &node.args;
            if let [_, k, n] = args.as_slice()
                && is_as_keyword(node.text(k.text))
            {
                let name = node.text(n.text);
                if !valid_stage_name(&go_lower(name)) {
                    return Err((DiagnosticKind::InvalidStageName(name.to_string()), n.span));
                }
            } else if args.len() != 1 {
                return Err((DiagnosticKind::FromArguments, node.span));
            }
            flags(node, FROM_FLAGS).map(|_| ())
        }
        Keyword::Arg => {
            count_at_least_one(node, "ARG")?;
            if node.args.iter().any(|a| node.text(a.text).starts_with('=')) {
                return Err((DiagnosticKind::BlankNames("ARG".to_string()), node.span));
            }
            Ok(())
        }
        Keyword::Env => {
            flags(node, NO_FLAGS)?;
            key_values(node, "ENV")
        }
        Keyword::Label => {
            flags(node, NO_FLAGS)?;
            key_values(node, "LABEL")
        }
        Keyword::Maintainer => {
            count_exactly_one(node, "MAINTAINER")?;
            flags(node, NO_FLAGS).map(|_| ())
        }
        Keyword::Add => sources_and_dest(node, "ADD", ADD_FLAGS),
        Keyword::Copy => sources_and_dest(node, "COPY", COPY_FLAGS),
        Keyword::Onbuild => {
            let Some(trigger) = &node.trigger else {
                return Err((
                    DiagnosticKind::AtLeastOneArgument("ONBUILD".to_string()),
                    node.span,
                ));
            };
            flags(node, NO_FLAGS)?;
            let word = go_upper(trim_space(trigger.command()));
            match word.as_str() {
                "ONBUILD" => Err((DiagnosticKind::OnbuildChain, node.span)),
                "MAINTAINER" | "FROM" => Err((DiagnosticKind::OnbuildTrigger(word), node.span)),
                _ => Ok(()),
            }
        }
        Keyword::Workdir => {
            count_exactly_one(node, "WORKDIR")?;
            flags(node, NO_FLAGS).map(|_| ())
        }
        Keyword::Run => run(node),
        Keyword::Cmd | Keyword::Entrypoint => flags(node, NO_FLAGS).map(|_| ()),
        Keyword::Healthcheck => healthcheck(node),
        Keyword::Expose => {
            count_at_least_one(node, "EXPOSE")?;
            flags(node, NO_FLAGS).map(|_| ())
        }
        Keyword::User => {
            count_exactly_one(node, "USER")?;
            flags(node, NO_FLAGS).map(|_| ())
        }
        Keyword::Volume => {
            count_at_least_one(node, "VOLUME")?;
            flags(node, NO_FLAGS)?;
            if node
                .args
                .iter()
                .any(|a| trim_space(node.text(a.text)).is_empty())
            {
                return Err((DiagnosticKind::VolumeEmpty, node.span));
            }
            Ok(())
        }
        Keyword::Stopsignal => count_exactly_one(node, "STOPSIGNAL"),
        Keyword::Shell => {
            flags(node, NO_FLAGS)?;
            if node.args.is_empty() {
                return Err((
                    DiagnosticKind::AtLeastOneArgument("SHELL".to_string()),
                    node.span,
                ));
            }
            if !node.json {
                return Err((DiagnosticKind::ShellNotJson, node.span));
            }
            Ok(())
        }
        Keyword::Unknown => Err((
            DiagnosticKind::UnknownInstruction(node.command().to_string()),
            node.command_span,
        )),
    }
}

/// Runs the instruction layer over every node the line parser accepted; returns the
/// diagnostics (errors).
pub(crate) fn check_all(nodes: &[Node]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen_from = false;
    for node in nodes {
        if node.parse_failed {
            if node.keyword == Keyword::From {
                seen_from = true;
            }
            continue;
        }
        if let Err((kind, span)) = check_node(node) {
            out.push(Diagnostic::error(Layer::Instruction, kind, span));
        } else if !seen_from && !matches!(node.keyword, Keyword::Arg | Keyword::From) {
            out.push(Diagnostic::error(
                Layer::Instruction,
                DiagnosticKind::NoBuildStage,
                node.span,
            ));
        }
        if node.keyword == Keyword::From {
            seen_from = true;
        }
    }
    if !seen_from && !nodes.is_empty() {
        out.push(Diagnostic::error(
            Layer::Instruction,
            DiagnosticKind::NoStages,
            Span::at(0),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexical::parse;

    fn first_error(src: &str) -> Option<DiagnosticKind> {
        let ast = parse(src);
        check_all(&ast.nodes).into_iter().next().map(|d| d.kind)
    }

    #[test]
    fn stage_names() {
        assert!(valid_stage_name("a-b_c.1"));
        assert!(!valid_stage_name("1x"));
        assert!(!valid_stage_name("a:b"));
        assert!(!valid_stage_name(""));
    }

    #[test]
    fn instruction_rules() {
        assert_eq!(first_error("FROM a\nRUN x\n"), None);
        assert_eq!(
            first_error("FROM a b\n"),
            Some(DiagnosticKind::FromArguments)
        );
        assert_eq!(
            first_error("FROM a AS 1x\n"),
            Some(DiagnosticKind::InvalidStageName("1x".into()))
        );
        assert_eq!(
            first_error("FROM --pull a\n"),
            Some(DiagnosticKind::UnknownFlag("pull".into()))
        );
        assert_eq!(
            first_error("RUN x\nFROM a\n"),
            Some(DiagnosticKind::NoBuildStage)
        );
        assert_eq!(first_error("ARG x\n"), Some(DiagnosticKind::NoStages));
        assert_eq!(
            first_error("FROM a\nFOO b\n"),
            Some(DiagnosticKind::UnknownInstruction("FOO".into()))
        );
        assert_eq!(
            first_error("FROM a\nCOPY x\n"),
            Some(DiagnosticKind::NoDestination("COPY".into()))
        );
        assert_eq!(
            first_error("FROM a\nCOPY x <<EOF\nEOF\n"),
            Some(DiagnosticKind::HeredocDestination("COPY".into()))
        );
        assert_eq!(
            first_error("FROM a\nONBUILD FROM b\n"),
            Some(DiagnosticKind::OnbuildTrigger("FROM".into()))
        );
        assert_eq!(
            first_error("FROM a\nRUN --mount=from=$X x\n"),
            Some(DiagnosticKind::MountFromVariable)
        );
        assert_eq!(
            first_error("FROM a\nRUN --network=foo x\n"),
            Some(DiagnosticKind::InvalidNetwork("foo".into()))
        );
        assert_eq!(
            first_error("FROM a\nSHELL sh -c\n"),
            Some(DiagnosticKind::ShellNotJson)
        );
        assert!(first_error("FROM a\nHEALTHCHECK --interval=1us CMD x\n").is_some());
        assert_eq!(
            first_error("FROM a\nHEALTHCHECK --interval=5s --retries=3 CMD x\n"),
            None
        );
        assert_eq!(first_error("FROM a\nSTOPSIGNAL --x 9\n"), None);
    }
}
