//! `if-dockerfile`: parses Dockerfiles exactly as BuildKit does and discovers the base
//! images each build depends on. No I/O, no dependency on the rest of the workspace.
//!
//! The layers follow BuildKit's: [`parse`] is the line parser (directives, comments,
//! continuations, heredocs, argument splitting), then the instruction layer validates each
//! instruction, then resolution expands FROM lines with the global ARGs and build-args and
//! classifies every stage. Nothing stops at the first problem: every problem is a
//! [`Diagnostic`] with a byte [`Span`], and [`analyze`] never panics.
//!
//! ```
//! use if_dockerfile::{analyze, BuildArgs, BaseKind};
//! let src = "ARG GO=1.22\nFROM --platform=$BUILDPLATFORM golang:${GO}-alpine AS builder\nFROM builder\n";
//! let a = analyze(src, &BuildArgs::new());
//! assert!(a.valid());
//! assert_eq!(a.stages[0].from, "golang:1.22-alpine");
//! assert_eq!(a.stages[1].base, BaseKind::Stage);
//! assert_eq!(a.base_images[0].reference, "golang:1.22-alpine");
//! ```

mod diag;
mod flags;
mod heredoc;
pub mod hostile;
mod instructions;
mod json;
mod keyword;
mod lexical;
mod node;
mod pattern;
mod reference;
mod report;
mod resolve;
pub mod shell;
mod span;
mod split;
mod text;

pub use diag::{Diagnostic, DiagnosticKind, Layer, Severity};
pub use instructions::{FromShape, from_shape};
pub use keyword::Keyword;
pub use lexical::{Ast, Directive, MAX_LINE_BYTES, parse};
pub use node::{Arg, Flag, Heredoc, Node, TextRange};
pub use reference::is_valid_reference;
pub use report::{Report, ReportStage, golden_report, parse_build_arg, parse_build_args_file};
pub use resolve::{AUTOMATIC_ARGS, BaseImage, BaseKind, BuildArgs, Stage, Usage};
pub use span::{LineIndex, Position, Span, line_col};

/// Everything known about one Dockerfile.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The parse tree.
    pub ast: Ast,
    /// Every stage, in order.
    pub stages: Vec<Stage>,
    /// Distinct external base images, in order of first textual use.
    pub base_images: Vec<BaseImage>,
    /// Every diagnostic of every layer, ordered by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Analysis {
    /// Whether BuildKit's line parser accepts the file.
    pub fn parser_ok(&self) -> bool {
        self.ast.parser_ok()
    }

    /// Whether BuildKit would accept the file statically (no error anywhere).
    pub fn valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The first error, by position.
    pub fn first_error(&self) -> Option<&Diagnostic> {
        self.diagnostics.iter().find(|d| d.is_error())
    }

    /// The JSON report of this analysis (`src` is the analysed text).
    pub fn report(&self, src: &str) -> Report {
        Report::new(src, self)
    }
}

/// Parses `src`, validates every instruction and resolves stages and base images with
/// the given build arguments.
pub fn analyze(src: &str, build_args: &BuildArgs) -> Analysis {
    let mut ast = parse(src);
    let mut diagnostics = std::mem::take(&mut ast.diagnostics);
    diagnostics.extend(instructions::check_all(&ast.nodes));
    let (lints, mut others): (Vec<_>, Vec<_>) = diagnostics
        .into_iter()
        .partition(|d| d.layer == Layer::Lint);
    let resolved = resolve::resolve(&ast, build_args, lints);
    others.extend(resolved.diagnostics);
    others.sort_by_key(|d| (d.span.start, d.severity != Severity::Error));
    ast.diagnostics = others
        .iter()
        .filter(|d| d.layer == Layer::Parser)
        .cloned()
        .collect();
    Analysis {
        ast,
        stages: resolved.stages,
        base_images: resolved.base_images,
        diagnostics: others,
    }
}

/// [`analyze`] for raw bytes: invalid UTF-8 is replaced by U+FFFD first (spans then refer
/// to the returned text).
pub fn analyze_bytes(bytes: &[u8], build_args: &BuildArgs) -> (String, Analysis) {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let analysis = analyze(&text, build_args);
    (text, analysis)
}
