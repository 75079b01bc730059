//! The errors of image reference parsing: [`RefError`] and the problems it details.

use thiserror::Error;

use crate::digest::DigestError;

/// What is wrong with a registry (the part before the first `/`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistryProblem {
    /// A dot-separated component of the host name is empty (`a..b`, `.a`, `a.`).
    #[error("it has an empty dot-separated component")]
    EmptyComponent,
    /// A host name component contains a character other than letters, digits and `-`.
    #[error("character `{}` is not allowed in a host name", character.escape_debug())]
    InvalidCharacter {
        /// The offending character.
        character: char,
    },
    /// A host name component starts or ends with `-`.
    #[error("host name component `{component}` starts or ends with `-`")]
    HyphenAtEdge {
        /// The offending component.
        component: String,
    },
    /// A `:` is not followed by a port number.
    #[error("`:` is not followed by a port number")]
    EmptyPort,
    /// The port is not made of digits only.
    #[error("port `{port}` is not a number")]
    InvalidPort {
        /// The port as written.
        port: String,
    },
    /// `[` without the matching `]`.
    #[error("`[` of an IPv6 address is not closed by `]`")]
    UnclosedBracket,
    /// An empty IPv6 address (`[]`).
    #[error("the IPv6 address between `[` and `]` is empty")]
    EmptyIpv6,
    /// A character other than hex digits and `:` in a bracketed IPv6 address.
    #[error("character `{}` is not allowed in an IPv6 address", character.escape_debug())]
    InvalidIpv6Character {
        /// The offending character.
        character: char,
    },
    /// Something other than `:port` after the `]` of an IPv6 address.
    #[error("`{text}` after `]` is not a `:port`")]
    TextAfterIpv6 {
        /// What follows the `]`.
        text: String,
    },
}

/// What is wrong with one `/`-separated component of a repository path.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathProblem {
    /// A character other than lowercase letters, digits, `.`, `_` and `-`.
    #[error(
        "contains `{}`: only lowercase letters, digits and the separators `.`, `_`, `__`, `-` are allowed",
        character.escape_debug()
    )]
    InvalidCharacter {
        /// The offending character.
        character: char,
    },
    /// The component starts with a separator.
    #[error("starts with `{character}`: it must start with a lowercase letter or a digit")]
    BadStart {
        /// The first character.
        character: char,
    },
    /// The component ends with a separator.
    #[error("ends with `{character}`: it must end with a lowercase letter or a digit")]
    BadEnd {
        /// The last character.
        character: char,
    },
    /// A run of separators that is not `.`, `_`, `__` or one or more `-`.
    #[error("has the separator `{separator}`: separators are `.`, `_`, `__` or one or more `-`")]
    InvalidSeparator {
        /// The offending run of separator characters.
        separator: String,
    },
}

/// What is wrong with a tag.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TagProblem {
    /// The first character is not a letter, digit or `_`.
    #[error("starts with `{}`: a tag must start with a letter, a digit or `_`", character.escape_debug())]
    BadStart {
        /// The first character.
        character: char,
    },
    /// A character other than letters, digits, `_`, `.` and `-`.
    #[error("contains `{}`: only letters, digits, `_`, `.` and `-` are allowed", character.escape_debug())]
    InvalidCharacter {
        /// The offending character.
        character: char,
    },
}

/// Why a string is not a valid image reference.
///
/// Positions are 1-based character positions in the input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RefError {
    /// The input is empty.
    #[error("invalid reference format: the image reference is empty")]
    Empty,
    /// The input contains whitespace (including leading or trailing whitespace).
    #[error(
        "invalid reference format: `{}` contains whitespace at position {position}",
        input.escape_debug()
    )]
    Whitespace {
        /// The whole input.
        input: String,
        /// 1-based position of the first whitespace character.
        position: usize,
    },
    /// The input is a bare 64-hex-digit identifier, which Docker refuses as a name.
    #[error("invalid repository name ({input}), cannot specify 64-byte hexadecimal strings")]
    HexIdentifier {
        /// The whole input.
        input: String,
    },
    /// The registry before the first `/` would be empty (`/foo`, `:5000/foo`).
    #[error("invalid reference format: `{input}` has an empty registry before the first `/`")]
    EmptyRegistry {
        /// The whole input.
        input: String,
    },
    /// The registry is not a valid host name, IPv4 or bracketed IPv6 address with optional
    /// port.
    #[error("invalid reference format: registry `{registry}` is not valid: {problem}")]
    InvalidRegistry {
        /// The registry as written.
        registry: String,
        /// What is wrong with it.
        problem: RegistryProblem,
    },
    /// There is no repository name (`:tag`, `@sha256:...`, `ghcr.io/`).
    #[error("invalid reference format: `{input}` has no repository name")]
    MissingRepository {
        /// The whole input.
        input: String,
    },
    /// The repository path contains an uppercase letter.
    #[error("invalid reference format: repository name ({repository}) must be lowercase")]
    Uppercase {
        /// The repository path (normalized, e.g. `library/Node`).
        repository: String,
    },
    /// The repository path has an empty component (`a//b`, `a/`).
    #[error("invalid reference format: repository `{repository}` has an empty path component")]
    EmptyPathComponent {
        /// The repository path.
        repository: String,
    },
    /// A component of the repository path breaks the grammar.
    #[error(
        "invalid reference format: path component `{}` of repository `{}` {problem}",
        component.escape_debug(),
        repository.escape_debug()
    )]
    InvalidPathComponent {
        /// The repository path.
        repository: String,
        /// The offending component.
        component: String,
        /// What is wrong with it.
        problem: PathProblem,
    },
    /// The repository path (without the registry, after normalization) is longer than
    /// [`NAME_MAX_LEN`](super::NAME_MAX_LEN).
    #[error(
        "invalid reference format: repository name must not be more than 255 characters (`{name}` has {length})"
    )]
    NameTooLong {
        /// The normalized repository path (`library/...` on Docker Hub), without the registry.
        name: String,
        /// Its length.
        length: usize,
    },
    /// A `:` with no tag after it (`node:`, `node:@sha256:...`).
    #[error("invalid reference format: `{input}` has a `:` with no tag after it")]
    EmptyTag {
        /// The whole input.
        input: String,
    },
    /// The tag breaks the grammar `[A-Za-z0-9_][A-Za-z0-9_.-]*`.
    #[error("invalid reference format: tag `{}` {problem}", tag.escape_debug())]
    InvalidTag {
        /// The tag as written.
        tag: String,
        /// What is wrong with it.
        problem: TagProblem,
    },
    /// The tag is longer than [`TAG_MAX_LEN`](super::TAG_MAX_LEN).
    #[error(
        "invalid reference format: tag `{tag}` has {length} characters, at most 128 are allowed"
    )]
    TagTooLong {
        /// The tag as written.
        tag: String,
        /// Its length.
        length: usize,
    },
    /// An `@` with no digest after it (`node@`).
    #[error("invalid reference format: `{input}` has an `@` with no digest after it")]
    EmptyDigest {
        /// The whole input.
        input: String,
    },
    /// The digest after `@` is not valid.
    #[error("invalid reference format: invalid digest `{}`: {source}", digest.escape_debug())]
    InvalidDigest {
        /// The digest as written.
        digest: String,
        /// What is wrong with it.
        source: DigestError,
    },
}
