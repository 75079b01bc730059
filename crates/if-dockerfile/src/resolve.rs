//! ARG scoping and stage resolution: global ARGs and build-args, the automatic platform
//! ARGs, each FROM expanded and classified (earlier stage, `scratch`, external image or
//! unresolved), `COPY --from`, `RUN --mount from=`, inherited ONBUILD triggers, the
//! stage-name lints, and the ordered list of external base images.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::diag::{Diagnostic, DiagnosticKind, Layer};
use crate::instructions::{check_node, from_shape, valid_stage_name};
use crate::keyword::Keyword;
use crate::lexical::Ast;
use crate::node::Node;
use crate::reference::is_valid_reference;
use crate::shell::{Budget, Env, ExpandError, Lookup, Processed, expand_within};
use crate::span::Span;
use crate::text::{go_lower, go_upper};

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

mod check;
mod sources;
