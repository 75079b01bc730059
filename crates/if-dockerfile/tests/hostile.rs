//! The hostile Dockerfiles of issue 19 and their deep and wide variants: each is refused
//! with a diagnostic at the place of the attack (or, for ONBUILD chains, with BuildKit's
//! own error), never expanded without bound. Time and memory bounds are measured by
//! `cargo xtask bench dockerfile` and by the CLI test under a memory limit, not here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use if_dockerfile::shell::{ExpandError, MAX_NESTING};
use if_dockerfile::{Analysis, BuildArgs, DiagnosticKind, LineIndex, analyze, hostile};
use proptest::prelude::*;

fn limit_at(src: &str, a: &Analysis) -> Option<(ExpandError, usize)> {
    a.diagnostics.iter().find_map(|d| match &d.kind {
        DiagnosticKind::ExpansionLimit(e) => Some((
            e.clone(),
            LineIndex::new(src).position(src, d.span.start).line,
        )),
        _ => None,
    })
}

#[test]
fn exponential_arg_expansion_stops_at_the_word_limit() {
    let src = hostile::exponential_args(27);
    let a = analyze(&src, &BuildArgs::new());
    assert!(!a.valid());
    // a0 is 2 bytes, aN 2^(N+1): a19 is 1 MiB, a20 the first past the limit (line 21).
    assert_eq!(limit_at(&src, &a), Some((ExpandError::TooLong, 21)));
    let e = a.first_error().expect("an error");
    assert_eq!(e.message(), "expanded word longer than 1048576 bytes");
    assert_eq!(a.stages.len(), 1);
    assert!(a.base_images.is_empty());
}

#[test]
fn deep_nesting_stops_at_the_nesting_limit() {
    let src = hostile::nested_default(13_000);
    let a = analyze(&src, &BuildArgs::new());
    assert_eq!(limit_at(&src, &a), Some((ExpandError::TooDeep, 1)));
    // At the limit itself the expansion is BuildKit's.
    let ok = hostile::nested_default(MAX_NESTING);
    let a = analyze(&ok, &BuildArgs::new());
    assert!(a.valid(), "{:?}", a.diagnostics);
    assert_eq!(a.base_images[0].reference, "alpine");
    let over = hostile::nested_default(MAX_NESTING + 1);
    let a = analyze(&over, &BuildArgs::new());
    assert_eq!(limit_at(&over, &a), Some((ExpandError::TooDeep, 1)));
}

#[test]
fn deep_nesting_in_a_heredoc_line_is_a_parser_error() {
    let src = format!(
        "FROM alpine\nRUN <<EOF {}x{}\nEOF\n",
        "${a:-".repeat(5_000),
        "}".repeat(5_000)
    );
    let a = analyze(&src, &BuildArgs::new());
    let e = a.first_error().expect("an error");
    assert_eq!(
        e.message(),
        format!("variable expansion nested deeper than {MAX_NESTING} levels")
    );
}

#[test]
fn onbuild_chain_is_refused_like_buildkit() {
    for n in [2, 3, 40_000] {
        let src = hostile::onbuild_chain(n);
        let a = analyze(&src, &BuildArgs::new());
        let e = a.first_error().expect("an error");
        assert_eq!(e.kind, DiagnosticKind::OnbuildChain, "{n}");
    }
    // On one physical line the chain is too long for BuildKit's line reader already.
    let one_line = format!("FROM alpine\n{}RUN x\n", "ONBUILD ".repeat(40_000));
    let a = analyze(&one_line, &BuildArgs::new());
    assert_eq!(
        a.first_error().map(|d| d.kind.clone()),
        Some(DiagnosticKind::LineTooLong)
    );
    // The parser's error at the end of the chain is still the one reported.
    let a = analyze("FROM a\nONBUILD ONBUILD ONBUILD ENV k\n", &BuildArgs::new());
    assert_eq!(
        a.first_error().map(|d| d.kind.clone()),
        Some(DiagnosticKind::KeyValueTwoArguments("ENV".into()))
    );
    let a = analyze("FROM a\nONBUILD RUN x\n", &BuildArgs::new());
    assert!(a.valid());
}

#[test]
fn wide_expansion_stops_at_a_limit() {
    let src = hostile::wide_args(12, 8);
    let a = analyze(&src, &BuildArgs::new());
    assert!(matches!(
        limit_at(&src, &a),
        Some((ExpandError::TooLong | ExpandError::OverBudget, _))
    ));
}

#[test]
fn replacement_growth_stops_at_the_word_limit() {
    // Every byte of a 64 KiB value replaced by 64 bytes: 4 MiB.
    let src = format!(
        "ARG a={}\nARG b=${{a//x/{}}}\nFROM alpine:$b\n",
        "x".repeat(65_536),
        "y".repeat(64)
    );
    let a = analyze(&src, &BuildArgs::new());
    assert_eq!(limit_at(&src, &a), Some((ExpandError::TooLong, 2)));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any mix of depth and width is analysed without panic, and is either resolved or
    /// refused with a diagnostic, never left without an answer.
    #[test]
    fn deep_and_wide_variants_end(lines in 1usize..40, depth in 0usize..300, width in 1usize..6) {
        for src in [
            hostile::deep_args(lines, depth),
            hostile::wide_args(lines, width),
            hostile::exponential_args(lines),
            hostile::nested_default(depth),
            hostile::onbuild_lines(lines, depth),
        ] {
            let a = analyze(&src, &BuildArgs::new());
            prop_assert_eq!(a.stages.len(), 1);
            let resolved = a.base_images.len() == 1;
            prop_assert!(resolved || !a.diagnostics.is_empty());
        }
    }

    /// Below the limits a deep default is expanded as BuildKit does.
    #[test]
    fn deep_defaults_below_the_limit_resolve(lines in 1usize..20, depth in 0usize..MAX_NESTING) {
        let src = hostile::deep_args(lines, depth);
        let a = analyze(&src, &BuildArgs::new());
        prop_assert!(a.valid(), "{:?}", a.diagnostics);
        prop_assert_eq!(&a.base_images[0].reference, "alpine:v");
    }
}
