//! What `COPY --from`, `RUN --mount from=` and inherited triggers name: an earlier stage,
//! `scratch`, an external image, or nothing usable.

use super::{Resolver, Usage};
use crate::diag::{DiagnosticKind, Layer};
use crate::flags::parse_mount;
use crate::keyword::Keyword;
use crate::node::Node;
use crate::reference::is_valid_reference;
use crate::span::Span;
use crate::text::{go_lower, parse_go_int};

/// A reference to another stage or image from COPY, RUN or an inherited trigger.
pub(super) struct SourceUse {
    value: String,
    span: Span,
    usage: Usage,
    /// `COPY --from` (numbers are stage indexes); `None` for COPY.
    mount_type: Option<String>,
}

/// What a `--from` names.
pub(super) enum Target {
    Stage,
    Scratch,
    External,
    Nothing,
}

impl Resolver<'_> {
    pub(super) fn sources_of(
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

    pub(super) fn target(&mut self, src: &SourceUse) -> Target {
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
}
