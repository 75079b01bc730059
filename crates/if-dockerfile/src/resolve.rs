//! ARG scoping and stage resolution: global ARGs and build-args, the automatic platform
//! ARGs, each FROM expanded and classified (earlier stage, `scratch`, external image or
//! unresolved), `COPY --from`, `RUN --mount from=`, inherited ONBUILD triggers, the
//! stage-name lints, and the ordered list of external base images.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::diag::{Diagnostic, DiagnosticKind, Layer, Severity};
use crate::flags::parse_mount;
use crate::instructions::{check_node, from_shape, valid_stage_name};
use crate::keyword::Keyword;
use crate::lexical::Ast;
use crate::node::Node;
use crate::reference::is_valid_reference;
use crate::shell::{Budget, Env, ExpandError, Lookup, Processed, expand_within};
use crate::span::Span;
use crate::text::{go_lower, go_upper, parse_go_bool, parse_go_int};

/// Build arguments given to the build (`--build-arg NAME=VALUE`).
pub type BuildArgs = BTreeMap<String, String>;

/// The ARGs BuildKit defines in global scope without any declaration.
pub const AUTOMATIC_ARGS: [&str; 11] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
];

/// What a stage is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseKind {
    /// An image from a registry: a dependency.
    External,
    /// An earlier stage of the same file.
    Stage,
    /// The empty image.
    Scratch,
    /// Not knowable statically (unset or automatic variables, lexer error, blank or
    /// invalid result).
    Unresolved,
}

/// One build stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Position among the stages, from 0.
    pub index: usize,
    /// The stage name, lowercased (`None` without a well-formed `AS name`).
    pub name: Option<String>,
    /// The FROM expression as written.
    pub from_raw: String,
    /// The expanded value (the raw text when unresolved).
    pub from: String,
    /// The `--platform` value as written.
    pub platform_raw: Option<String>,
    /// The platform expanded, or as written when it cannot be expanded.
    pub platform: Option<String>,
    /// What the stage is built on.
    pub base: BaseKind,
    /// The stage it derives from, when `base` is [`BaseKind::Stage`].
    pub base_stage: Option<usize>,
    /// The FROM instruction.
    pub span: Span,
    /// The image expression of the FROM.
    pub image_span: Span,
    /// Index of the FROM among the parse tree's nodes.
    pub node: usize,
}

/// Where a base image is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Usage {
    /// `FROM image`.
    From,
    /// `COPY --from=image`.
    CopyFrom,
    /// `RUN --mount=...,from=image`.
    MountFrom,
    /// An ONBUILD trigger run by a child stage.
    Onbuild,
}

/// One distinct external base image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseImage {
    /// The reference as written after expansion (not normalized).
    pub reference: String,
    /// Where it is first used.
    pub span: Span,
    /// How it is first used.
    pub usage: Usage,
}

#[derive(Debug, Clone)]
enum Value {
    Known(String),
    Unknown,
}

/// Global ARG values; the automatic platform ARGs are looked up in the build-args when no
/// global ARG gave them a value, and are unknown otherwise.
struct GlobalEnv<'a> {
    vars: HashMap<String, Value>,
    build_args: &'a BuildArgs,
}

impl Env for GlobalEnv<'_> {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        match self.vars.get(name) {
            Some(Value::Known(v)) => Lookup::Set(v),
            Some(Value::Unknown) => Lookup::Unknown,
            None if AUTOMATIC_ARGS.contains(&name) => match self.build_args.get(name) {
                Some(v) => Lookup::Set(v),
                None => Lookup::Unknown,
            },
            None => Lookup::Unset,
        }
    }
}

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

/// A reference to another stage or image from COPY, RUN or an inherited trigger.
struct SourceUse {
    value: String,
    span: Span,
    usage: Usage,
    /// `COPY --from` (numbers are stage indexes); `None` for COPY.
    mount_type: Option<String>,
}

/// What a `--from` names.
enum Target {
    Stage,
    Scratch,
    External,
    Nothing,
}

struct Resolver<'a> {
    ast: &'a Ast,
    build_args: &'a BuildArgs,
    env: GlobalEnv<'a>,
    declared: HashSet<String>,
    diags: Vec<Diagnostic>,
    stages: Vec<Stage>,
    uses: Vec<(usize, String, Span, Usage)>,
    /// What the expansions of this file may still copy.
    budget: Budget,
}

impl Resolver<'_> {
    fn warn(&mut self, layer: Layer, kind: DiagnosticKind, span: Span) {
        self.diags.push(Diagnostic::warning(layer, kind, span));
    }

    /// Expands `word` with the global ARGs, within the file's budget.
    fn expand(&mut self, word: &str) -> Result<Processed, ExpandError> {
        expand_within(word, &self.env, self.ast.escape, &mut self.budget)
    }

    /// Reports a failed expansion: a limit is an error, BuildKit's own failures are
    /// warnings made of `syntax` (they show only when building).
    fn expansion_failed(
        &mut self,
        e: ExpandError,
        span: Span,
        syntax: impl FnOnce(String) -> DiagnosticKind,
    ) {
        match e {
            ExpandError::Syntax(msg) => self.warn(Layer::Resolution, syntax(msg), span),
            limit => self.diags.push(Diagnostic::error(
                Layer::Resolution,
                DiagnosticKind::ExpansionLimit(limit),
                span,
            )),
        }
    }

    fn global_args(&mut self) {
        let ast = self.ast;
        for node in ast.nodes.iter().take_while(|n| n.keyword != Keyword::From) {
            if node.keyword != Keyword::Arg || node.parse_failed {
                continue;
            }
            for arg in &node.args {
                let text = node.text(arg.text);
                let (key, default) = match text.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (text, None),
                };
                if key.is_empty() {
                    continue;
                }
                self.declared.insert(key.to_string());
                if let Some(v) = self.build_args.get(key) {
                    self.env
                        .vars
                        .insert(key.to_string(), Value::Known(v.clone()));
                } else if let Some(d) = default {
                    let value = match self.expand(d) {
                        Ok(p) if !p.taint.any() => Value::Known(p.value),
                        Ok(_) => Value::Unknown,
                        Err(e) => {
                            let key = key.to_string();
                            self.expansion_failed(e, arg.span, |m| {
                                DiagnosticKind::ArgDefault(key, m)
                            });
                            Value::Unknown
                        }
                    };
                    self.env.vars.insert(key.to_string(), value);
                }
            }
        }
    }

    fn lint_undefined(&mut self, unmatched: &[String], span: Span) {
        for name in unmatched {
            if !self.declared.contains(name) {
                self.warn(
                    Layer::Lint,
                    DiagnosticKind::UndefinedArgInFrom(name.clone()),
                    span,
                );
            }
        }
    }

    fn lint_stage_name(&mut self, node: &Node, as_kw: &str, raw: &str, name: &str, span: Span) {
        if raw != go_lower(raw) {
            self.warn(
                Layer::Lint,
                DiagnosticKind::StageNameCasing(raw.to_string()),
                span,
            );
        }
        let cmd = node.command();
        let (cmd_lower, cmd_upper) = (go_lower(cmd) == cmd, go_upper(cmd) == cmd);
        let consistent = if cmd_lower {
            go_lower(as_kw) == as_kw
        } else if cmd_upper {
            go_upper(as_kw) == as_kw
        } else {
            true
        };
        if !consistent {
            let kind = DiagnosticKind::FromAsCasing(as_kw.to_string(), cmd.to_string());
            self.warn(Layer::Lint, kind, node.span);
        }
        if name == "scratch" || name == "context" {
            self.warn(
                Layer::Lint,
                DiagnosticKind::ReservedStageName(name.to_string()),
                span,
            );
        }
        if self.stages.iter().any(|s| s.name.as_deref() == Some(name)) {
            self.warn(
                Layer::Lint,
                DiagnosticKind::DuplicateStageName(name.to_string()),
                span,
            );
        }
    }

    fn platform(&mut self, raw: &str, span: Span) -> String {
        match self.expand(raw) {
            Ok(p) => {
                self.lint_undefined(&p.unmatched, span);
                if p.taint.any() || p.value.is_empty() {
                    raw.to_string()
                } else {
                    p.value
                }
            }
            Err(e) => {
                self.expansion_failed(e, span, DiagnosticKind::Expansion);
                raw.to_string()
            }
        }
    }

    fn stage_for(&mut self, index: usize, node_index: usize, node: &Node) -> Stage {
        let shape = from_shape(node);
        let from_raw = shape.image.unwrap_or("").to_string();
        let image_span = node.args.first().map_or(node.span, |a| a.span);
        let name = match (&shape.name, shape.name_raw, shape.as_keyword) {
            (Some(n), Some(raw), Some(kw)) if node.args.len() == 3 && valid_stage_name(n) => {
                let span = node.args.get(2).map_or(node.span, |a| a.span);
                self.lint_stage_name(node, kw, raw, n, span);
                Some(n.clone())
            }
            _ => None,
        };
        let platform_raw = shape.platform.filter(|p| !p.is_empty()).map(str::to_string);
        let platform = platform_raw.as_deref().map(|p| self.platform(p, node.span));
        let mut stage = Stage {
            index,
            name,
            from: from_raw.clone(),
            from_raw,
            platform_raw,
            platform,
            base: BaseKind::Unresolved,
            base_stage: None,
            span: node.span,
            image_span,
            node: node_index,
        };
        let processed = match self.expand(&stage.from_raw) {
            Ok(p) => p,
            Err(e) => {
                self.expansion_failed(e, image_span, DiagnosticKind::Expansion);
                return stage;
            }
        };
        self.lint_undefined(&processed.unmatched, image_span);
        let raw = stage.from_raw.clone();
        if processed.taint.any() {
            let why = if processed.taint.unknown {
                "depends on a value known only at build time (automatic platform ARG)"
            } else {
                "uses a variable that is not set"
            };
            self.warn(
                Layer::Resolution,
                DiagnosticKind::Unresolved(raw, why.to_string()),
                image_span,
            );
            return stage;
        }
        let value = processed.value;
        if value.is_empty() {
            self.warn(
                Layer::Resolution,
                DiagnosticKind::BlankBaseName(raw),
                image_span,
            );
            return stage;
        }
        let earlier = self
            .stages
            .iter()
            .rev()
            .find(|s| s.name.as_deref() == Some(value.as_str()));
        if let Some(parent) = earlier {
            stage.base = BaseKind::Stage;
            stage.base_stage = Some(parent.index);
        } else if value == "scratch" {
            stage.base = BaseKind::Scratch;
        } else if is_valid_reference(&value) {
            stage.base = BaseKind::External;
            self.uses
                .push((image_span.start, value.clone(), image_span, Usage::From));
        } else {
            self.warn(
                Layer::Resolution,
                DiagnosticKind::InvalidReference(value),
                image_span,
            );
            return stage;
        }
        stage.from = value;
        stage
    }

    fn sources_of(
        node: &Node,
        usage: Usage,
        span_override: Option<Span>,
        out: &mut Vec<SourceUse>,
    ) {
        match node.keyword {
            Keyword::Copy => {
                if let Some(f) = node.flags.iter().find(|f| node.flag_name(f) == "from")
                    && let Some(v) = node.flag_value(f).filter(|v| !v.is_empty())
                {
                    out.push(SourceUse {
                        value: v.to_string(),
                        span: span_override.unwrap_or(f.span),
                        usage: if usage == Usage::Onbuild {
                            usage
                        } else {
                            Usage::CopyFrom
                        },
                        mount_type: None,
                    });
                }
            }
            Keyword::Run => {
                for f in node.flags.iter().filter(|f| node.flag_name(f) == "mount") {
                    let Some(Ok(m)) = node.flag_value(f).map(parse_mount) else {
                        continue;
                    };
                    let Some(from) = m.from.filter(|v| !v.is_empty()) else {
                        continue;
                    };
                    out.push(SourceUse {
                        value: from,
                        span: span_override.unwrap_or(f.span),
                        usage: if usage == Usage::Onbuild {
                            usage
                        } else {
                            Usage::MountFrom
                        },
                        mount_type: Some(m.typ),
                    });
                }
            }
            _ => {}
        }
    }

    fn target(&mut self, src: &SourceUse) -> Target {
        let value = src.value.as_str();
        let is_copy = src.mount_type.is_none();
        if let Some(t) = src.mount_type.as_deref()
            && t != "bind"
            && t != "cache"
        {
            self.warn(
                Layer::Resolution,
                DiagnosticKind::MountFromIgnored(t.to_string()),
                src.span,
            );
            return Target::Nothing;
        }
        if is_copy && let Some(i) = parse_go_int(value, 64) {
            if i >= 0 && usize::try_from(i).is_ok_and(|i| i < self.stages.len()) {
                return Target::Stage;
            }
            self.warn(
                Layer::Resolution,
                DiagnosticKind::CopyFromIndex(value.to_string()),
                src.span,
            );
            return Target::Nothing;
        }
        let lower = go_lower(value);
        if self
            .stages
            .iter()
            .any(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Target::Stage;
        }
        if value == "scratch" {
            return Target::Scratch;
        }
        if is_copy && value.contains('$') {
            self.warn(
                Layer::Resolution,
                DiagnosticKind::CopyFromVariable(value.to_string()),
                src.span,
            );
            return Target::Nothing;
        }
        if is_valid_reference(value) {
            self.uses
                .push((src.span.start, value.to_string(), src.span, src.usage));
            return Target::External;
        }
        self.warn(
            Layer::Resolution,
            DiagnosticKind::InvalidReference(value.to_string()),
            src.span,
        );
        Target::Nothing
    }

    fn run(&mut self) {
        self.global_args();
        let ast = self.ast;
        // Stage boundaries: FROM nodes.
        let froms: Vec<usize> = ast
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.keyword == Keyword::From)
            .map(|(i, _)| i)
            .collect();
        for (index, &ni) in froms.iter().enumerate() {
            if let Some(node) = ast.nodes.get(ni) {
                let stage = self.stage_for(index, ni, node);
                self.stages.push(stage);
            }
        }
        let mut sources = Vec::new();
        let mut triggers: Vec<Vec<&Node>> = vec![Vec::new(); froms.len()];
        for (index, &ni) in froms.iter().enumerate() {
            let end = froms.get(index + 1).copied().unwrap_or(ast.nodes.len());
            for node in ast.nodes.get(ni + 1..end).unwrap_or(&[]) {
                Self::sources_of(node, Usage::From, None, &mut sources);
                if let (Some(t), Some(list)) = (&node.trigger, triggers.get_mut(index))
                    && node.keyword == Keyword::Onbuild
                {
                    list.push(t);
                }
            }
        }
        let mut inherited: Vec<usize> = self.stages.iter().filter_map(|s| s.base_stage).collect();
        inherited.sort_unstable();
        inherited.dedup();
        for parent in inherited {
            for trigger in triggers.get(parent).cloned().unwrap_or_default() {
                if let Err((kind, span)) = check_node(trigger) {
                    self.warn(
                        Layer::Resolution,
                        DiagnosticKind::TriggerInvalid(kind.to_string()),
                        span,
                    );
                }
                Self::sources_of(trigger, Usage::Onbuild, None, &mut sources);
            }
        }
        for src in &sources {
            let _ = self.target(src);
        }
    }

    fn apply_check_config(&mut self) {
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

/// The outcome of [`resolve`].
pub(crate) struct Resolved {
    pub stages: Vec<Stage>,
    pub base_images: Vec<BaseImage>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Resolves the stages and base images of a parsed file. `lints` are diagnostics of the
/// earlier layers of rule kind lint (subject to `# check=`).
pub(crate) fn resolve(ast: &Ast, build_args: &BuildArgs, lints: Vec<Diagnostic>) -> Resolved {
    let mut r = Resolver {
        ast,
        build_args,
        env: GlobalEnv {
            vars: HashMap::new(),
            build_args,
        },
        declared: HashSet::new(),
        diags: lints,
        stages: Vec::new(),
        uses: Vec::new(),
        budget: Budget::default(),
    };
    r.run();
    r.apply_check_config();
    let mut uses = std::mem::take(&mut r.uses);
    uses.sort_by_key(|u| u.0);
    let mut seen = HashSet::new();
    let base_images = uses
        .into_iter()
        .filter(|(_, reference, _, _)| seen.insert(reference.clone()))
        .map(|(_, reference, span, usage)| BaseImage {
            reference,
            span,
            usage,
        })
        .collect();
    Resolved {
        stages: r.stages,
        base_images,
        diagnostics: r.diags,
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
