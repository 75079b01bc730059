//! The `# check=` directive (or the `BUILDKIT_DOCKERFILE_CHECK` build-arg): which lints are
//! skipped and whether they are errors.

use super::Resolver;
use crate::diag::{Diagnostic, DiagnosticKind, Layer, Severity};
use crate::span::Span;
use crate::text::parse_go_bool;

/// Lint settings from `# check=` (or the `BUILDKIT_DOCKERFILE_CHECK` build-arg).
#[derive(Debug, Default)]
struct CheckConfig {
    skip_all: bool,
    skip: Vec<String>,
    error: bool,
}

fn parse_check(value: &str) -> Result<CheckConfig, String> {
    let mut cfg = CheckConfig::default();
    let value = value.trim();
    if value.is_empty() {
        return Ok(cfg);
    }
    for part in value.splitn(2, ';') {
        let Some((k, v)) = part.split_once('=') else {
            return Err(part.to_string());
        };
        match k.trim() {
            "skip" => {
                let v = v.trim();
                if v == "all" {
                    cfg.skip_all = true;
                } else {
                    cfg.skip = v.split(',').map(|r| r.trim().to_string()).collect();
                }
            }
            "experimental" => {}
            "error" => cfg.error = parse_go_bool(v.trim()).ok_or_else(|| part.to_string())?,
            other => return Err(other.to_string()),
        }
    }
    Ok(cfg)
}

fn rule_name(kind: &DiagnosticKind) -> &'static str {
    match kind {
        DiagnosticKind::DuplicateStageName(_) => "DuplicateStageName",
        DiagnosticKind::ReservedStageName(_) => "ReservedStageName",
        DiagnosticKind::StageNameCasing(_) => "StageNameCasing",
        DiagnosticKind::FromAsCasing(..) => "FromAsCasing",
        DiagnosticKind::UndefinedArgInFrom(_) => "UndefinedArgInFrom",
        DiagnosticKind::EmptyContinuation => "NoEmptyContinuation",
        _ => "",
    }
}

impl Resolver<'_> {
    pub(super) fn apply_check_config(&mut self) {
        let from_arg = self.build_args.get("BUILDKIT_DOCKERFILE_CHECK");
        let (value, span) = match (
            from_arg,
            self.ast.directives.iter().find(|d| d.name == "check"),
        ) {
            (Some(v), _) => (v.clone(), Span::default()),
            (None, Some(d)) => (d.value.clone(), d.span),
            (None, None) => return,
        };
        match parse_check(&value) {
            Err(opt) => self.diags.push(Diagnostic::error(
                Layer::Instruction,
                DiagnosticKind::InvalidCheckOption(opt),
                span,
            )),
            Ok(cfg) => {
                self.diags.retain(|d| {
                    d.layer != Layer::Lint
                        || !(cfg.skip_all || cfg.skip.iter().any(|r| r == rule_name(&d.kind)))
                });
                if cfg.error {
                    for d in self.diags.iter_mut().filter(|d| d.layer == Layer::Lint) {
                        d.severity = Severity::Error;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_options() {
        assert!(parse_check("error=true").expect("ok").error);
        assert!(parse_check("skip=all").expect("ok").skip_all);
        let c = parse_check("skip=StageNameCasing, FromAsCasing;error=1").expect("ok");
        assert_eq!(c.skip, vec!["StageNameCasing", "FromAsCasing"]);
        assert!(c.error);
        assert!(parse_check("error=maybe").is_err());
        assert!(parse_check("foo=bar").is_err());
        assert!(parse_check("nonsense").is_err());
    }
}
