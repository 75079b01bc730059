//! Property tests: the analysis never panics, whatever the input (arbitrary bytes and
//! strings, random mutations of valid Dockerfiles), and expanding a word without `$`,
//! quotes or escapes gives the word itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use if_dockerfile::{BuildArgs, analyze, analyze_bytes, shell};
use proptest::prelude::*;

const SEEDS: &[&str] = &[
    "# syntax=docker/dockerfile:1\nARG GO=1.22\nFROM --platform=$BUILDPLATFORM golang:${GO}-alpine AS build\nRUN --mount=type=cache,target=/root/.cache <<EOF\ngo build ./...\nEOF\nFROM scratch\nCOPY --from=build /out /\n",
    "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022 `\n  AS win\nRUN dir C:\\\nFROM win\n",
    "ARG A=1 B C=\"x y\"\nFROM ${IMG:-alpine}:${A%.*} AS base\nONBUILD COPY --from=nginx:1 /a /b\nFROM base\nCOPY <<A <<-B /dst\nx\nA\n\tB\nHEALTHCHECK --interval=5s CMD [\"true\"]\n",
    "FROM a \\\n  # comment\n\n  AS b\nRUN [\"echo\", \"x\"]\nENV K=v L=\"w z\"\nLABEL a=b\nSHELL [\"sh\", \"-c\"]\n",
];

fn args() -> BuildArgs {
    BuildArgs::from([("TARGETARCH".to_string(), "amd64".to_string())])
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, char),
    Delete(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop_oneof![
        Just('\\'),
        Just('`'),
        Just('$'),
        Just('{'),
        Just('}'),
        Just('"'),
        Just('\''),
        Just('\n'),
        Just('<'),
        Just('#'),
        Just('='),
        Just(' '),
        Just('\r'),
        Just('-'),
        Just('['),
        Just(']'),
        any::<char>()
    ];
    prop_oneof![
        (any::<usize>(), special).prop_map(|(i, c)| Mutation::Insert(i, c)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(src: &str, muts: &[Mutation]) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    for m in muts {
        match *m {
            Mutation::Insert(i, c) => {
                let at = i % (chars.len() + 1);
                chars.insert(at, c);
            }
            Mutation::Delete(i) if !chars.is_empty() => {
                let at = i % chars.len();
                chars.remove(at);
            }
            Mutation::Duplicate(i, n) if !chars.is_empty() => {
                let at = i % chars.len();
                let end = (at + n).min(chars.len());
                let piece: Vec<char> = chars[at..end].to_vec();
                for (k, c) in piece.into_iter().enumerate() {
                    chars.insert(end + k, c);
                }
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (text, a) = analyze_bytes(&bytes, &args());
        let _ = a.report(&text);
        for d in &a.diagnostics {
            prop_assert!(d.span.start <= d.span.end && d.span.end <= text.len());
        }
    }

    #[test]
    fn never_panics_on_strings(src in "(?s).{0,400}") {
        let a = analyze(&src, &args());
        let _ = a.report(&src);
    }

    #[test]
    fn never_panics_on_dockerfile_like_text(
        src in "((FROM|RUN|COPY|ARG|ONBUILD|ENV|# escape=)[ -~]{0,30}(\\\\|`)?\n){0,12}"
    ) {
        let a = analyze(&src, &BuildArgs::new());
        let _ = a.report(&src);
    }

    #[test]
    fn never_panics_on_mutated_dockerfiles(seed in 0..SEEDS.len(), muts in proptest::collection::vec(mutation(), 1..12)) {
        let src = apply(SEEDS[seed], &muts);
        let a = analyze(&src, &args());
        let _ = a.report(&src);
        for d in &a.diagnostics {
            prop_assert!(d.span.end <= src.len());
            prop_assert!(src.is_char_boundary(d.span.start) || d.span.start >= src.len());
        }
    }

    #[test]
    fn expansion_without_dollar_is_identity(word in "[^$'\"\\\\`]{0,60}") {
        let env = shell::EmptyEnv;
        let p = shell::expand(&word, &env, '\\').expect("no $, no quote, no escape: never fails");
        prop_assert_eq!(&p.value, &word);
        prop_assert!(!p.taint.any());
        let p = shell::expand(&word, &env, '`').expect("same with the backtick escape");
        prop_assert_eq!(p.value, word);
    }
}
