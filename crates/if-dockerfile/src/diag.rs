//! Diagnostics: every problem found, with its byte span, severity and the layer that saw it.

use serde::Serialize;

use crate::span::Span;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// BuildKit rejects the file before building anything (`valid: false`).
    Error,
    /// A lint finding, or a problem that only shows when building or resolving.
    Warning,
}

/// Which layer of the analysis reported a diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The line parser: directives, continuations, heredocs, argument splitting.
    Parser,
    /// Static validation of each instruction (flags, argument counts, FROM shapes).
    Instruction,
    /// BuildKit's linter (warnings unless `# check=error=true`).
    Lint,
    /// ARG expansion and stage or image resolution.
    Resolution,
}

/// What went wrong. The messages follow BuildKit's where BuildKit has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiagnosticKind {
    /// The file holds no instruction at all.
    #[error("file with no instructions")]
    NoInstructions,
    /// A physical line longer than 65,535 bytes.
    #[error("dockerfile line greater than max allowed size of 65535")]
    LineTooLong,
    /// A heredoc whose terminator never comes.
    #[error("unterminated heredoc")]
    UnterminatedHeredoc,
    /// The heredoc word could not be lexed.
    #[error("{0}")]
    HeredocWord(String),
    /// A parser directive given twice.
    #[error("only one {0} parser directive can be used")]
    DuplicateDirective(String),
    /// `# escape=` with something other than a backslash or a backtick.
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscapeToken(String),
    /// The value of `# check=` cannot be read.
    #[error("invalid check option {0:?}")]
    InvalidCheckOption(String),
    /// A JSON array with something else than strings.
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    JsonNotStringArray,
    /// `ENV A` / `LABEL A`: the legacy form without a value.
    #[error("{0} must have two arguments")]
    KeyValueTwoArguments(String),
    /// `ENV a=1 b`: a later word without `=`.
    #[error("Syntax error - can't find = in {0:?}. Must be of the form: name=value")]
    KeyValueMissingEquals(String),
    /// An instruction BuildKit does not know.
    #[error("unknown instruction: {0}")]
    UnknownInstruction(String),
    /// An instruction other than ARG before the first FROM.
    #[error("no build stage in current context")]
    NoBuildStage,
    /// No FROM at all.
    #[error("dockerfile contains no stages to build")]
    NoStages,
    /// FROM with a number of arguments other than one, or three with `AS`.
    #[error("FROM requires either one or three arguments")]
    FromArguments,
    /// A stage name that is not `[a-z][a-z0-9-_.]*` once lowercased.
    #[error(
        "invalid name for build stage: {0:?}, name can't start with a number or contain symbols"
    )]
    InvalidStageName(String),
    /// A flag the instruction does not take.
    #[error("unknown flag: {0}")]
    UnknownFlag(String),
    /// A string flag without `=value`, or a boolean flag with an empty `=`.
    #[error("missing a value on flag: {0}")]
    FlagMissingValue(String),
    /// A non-repeatable flag given twice.
    #[error("duplicate flag specified: {0}")]
    DuplicateFlag(String),
    /// A boolean flag with a value other than true or false.
    #[error("expecting boolean value for flag {0}, not: {1}")]
    FlagExpectsBool(String, String),
    /// Too few arguments.
    #[error("{0} requires at least one argument")]
    AtLeastOneArgument(String),
    /// Not exactly one argument.
    #[error("{0} requires exactly one argument")]
    ExactlyOneArgument(String),
    /// COPY or ADD without destination.
    #[error(
        "{0} requires at least two arguments, but only one was provided. Destination could not be determined"
    )]
    NoDestination(String),
    /// An empty name in ARG, ENV or LABEL.
    #[error("{0} names can not be blank")]
    BlankNames(String),
    /// A heredoc used as COPY or ADD destination.
    #[error("{0} cannot accept a heredoc as a destination")]
    HeredocDestination(String),
    /// `ONBUILD ONBUILD`.
    #[error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")]
    OnbuildChain,
    /// `ONBUILD FROM` or `ONBUILD MAINTAINER`.
    #[error("{0} isn't allowed as an ONBUILD trigger")]
    OnbuildTrigger(String),
    /// A `--mount` value that is not valid CSV.
    #[error("failed to parse csv mounts: {0}")]
    MountCsv(String),
    /// `--mount=...,from=$X`.
    #[error("'from' doesn't support variable expansion, define alias stage instead")]
    MountFromVariable,
    /// `RUN --network=` with an unknown mode.
    #[error("invalid network mode {0:?}")]
    InvalidNetwork(String),
    /// `RUN --security=` with an unknown mode.
    #[error("security {0:?} is not valid")]
    InvalidSecurity(String),
    /// `HEALTHCHECK NONE` with more words.
    #[error("HEALTHCHECK NONE takes no arguments")]
    HealthcheckNoneArguments,
    /// `HEALTHCHECK CMD` without a command.
    #[error("Missing command after HEALTHCHECK CMD")]
    HealthcheckMissingCommand,
    /// `HEALTHCHECK` with a type other than CMD or NONE.
    #[error("Unknown type {0:?} in HEALTHCHECK (try CMD)")]
    HealthcheckUnknownType(String),
    /// A HEALTHCHECK duration or retry count that BuildKit refuses.
    #[error("{0}")]
    HealthcheckValue(String),
    /// `SHELL` not written as a JSON array.
    #[error("SHELL requires the arguments to be in JSON form")]
    ShellNotJson,
    /// `VOLUME ""`.
    #[error("VOLUME specified can not be an empty string")]
    VolumeEmpty,
    /// Lint: a stage name used twice.
    #[error("Duplicate stage name {0:?}, stage names should be unique")]
    DuplicateStageName(String),
    /// Lint: a stage named `scratch` or `context`.
    #[error("'{0}' is reserved and should not be used as a stage name")]
    ReservedStageName(String),
    /// Lint: a stage name written with uppercase letters.
    #[error("Stage name '{0}' should be lowercase")]
    StageNameCasing(String),
    /// Lint: `FROM x as y` with FROM and AS cased differently.
    #[error("'{0}' and '{1}' keywords' casing do not match")]
    FromAsCasing(String, String),
    /// Lint: FROM uses a variable that no global ARG declares.
    #[error("FROM argument '{0}' is not declared")]
    UndefinedArgInFrom(String),
    /// Lint: an empty line inside a continuation.
    #[error("Empty continuation line")]
    EmptyContinuation,
    /// The shell lexer failed on a FROM, `--platform` or global ARG default.
    #[error("{0}")]
    Expansion(String),
    /// An expansion stopped by a limit of the lexer (word length, nesting, budget): the
    /// file is refused rather than expanded without bound.
    #[error("{0}")]
    ExpansionLimit(crate::shell::ExpandError),
    /// A global ARG default that could not be expanded.
    #[error("ARG {0}: {1}")]
    ArgDefault(String, String),
    /// A FROM that expands to nothing.
    #[error("base name ({0}) should not be blank")]
    BlankBaseName(String),
    /// An image reference that Docker would not accept.
    #[error("invalid reference format: {0:?}")]
    InvalidReference(String),
    /// A FROM whose value depends on something a static tool cannot know.
    #[error("base image {0:?} cannot be resolved statically: {1}")]
    Unresolved(String, String),
    /// `COPY --from=$X`: BuildKit does not expand `--from`.
    #[error("variable expansion is not supported for --from: {0:?}")]
    CopyFromVariable(String),
    /// `COPY --from=N` with no stage N.
    #[error("invalid from flag value {0}: index out of bounds")]
    CopyFromIndex(String),
    /// `RUN --mount=type=X,from=...` with a type that takes no `from`.
    #[error("mount type {0:?} does not take a 'from' source; ignored")]
    MountFromIgnored(String),
    /// An ONBUILD trigger of a stage that a later stage derives from, which BuildKit would
    /// refuse when running it.
    #[error("ONBUILD trigger fails when run by a child stage: {0}")]
    TriggerInvalid(String),
}

/// One diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error (the file is rejected) or warning.
    pub severity: Severity,
    /// The layer that reported it.
    pub layer: Layer,
    /// What happened.
    pub kind: DiagnosticKind,
    /// Where, as bytes of the source.
    pub span: Span,
}

impl Diagnostic {
    /// An error of `layer`.
    pub fn error(layer: Layer, kind: DiagnosticKind, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Error,
            layer,
            kind,
            span,
        }
    }

    /// A warning of `layer`.
    pub fn warning(layer: Layer, kind: DiagnosticKind, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            layer,
            kind,
            span,
        }
    }

    /// The message text.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }

    /// Whether it makes BuildKit reject the file.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
