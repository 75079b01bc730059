//! Tests of the fast reader: it agrees with the full parser, positions included, or declines.

use super::*;
use proptest::prelude::*;

/// The tree with every position, for comparisons that include them.
fn dump(n: &Node) -> String {
    let mut out = String::new();
    walk(n, &mut out);
    out
}

fn walk(n: &Node, out: &mut String) {
    match &n.value {
        Value::Scalar(k, t) => out.push_str(&format!("{k:?}({t:?})@{}\n", n.pos)),
        Value::Seq(items) => {
            out.push_str(&format!("seq@{}[\n", n.pos));
            items.iter().for_each(|i| walk(i, out));
            out.push_str("]\n");
        }
        Value::Map(entries) => {
            out.push_str(&format!("map@{}{{\n", n.pos));
            for (k, v) in entries {
                out.push_str(&format!("{}@{}: ", k.name, k.pos));
                walk(v, out);
            }
            out.push_str("}\n");
        }
    }
}

/// Whatever the fast reader gives must be what the full parser gives, positions too;
/// where the full parser refuses the text, the fast reader must decline it.
fn agree(src: &str) -> bool {
    let fast = parse(src);
    match (&fast, super::super::parse_full(src)) {
        (Some(f), Ok(full)) => {
            assert_eq!(dump(f), dump(&full), "fast and full differ on:\n{src}");
        }
        (Some(f), Err(e)) => panic!(
            "fast read text the full parser refuses ({e}):\n{src}\n{}",
            dump(f)
        ),
        (None, _) => {}
    }
    fast.is_some()
}

/// Reading `src` in parts of `per_part` items must give what the full parser gives,
/// positions too, whenever every part reads; true when it did.
fn parts_agree(src: &str, key: &str, per_part: usize) -> bool {
    let Some(split) = split(src, key, per_part) else {
        return false;
    };
    let mut items = Vec::new();
    for part in &split.parts {
        match parse_part(part) {
            Some(read) => items.extend(read),
            None => return false,
        }
    }
    let whole = assemble(&split, items);
    match super::super::parse_full(src) {
        Ok(full) => assert_eq!(
            dump(&whole),
            dump(&full),
            "parts and full differ on:\n{src}"
        ),
        Err(e) => panic!("the parts read text the full parser refuses ({e}):\n{src}"),
    }
    if let Some(fast) = parse(src) {
        assert_eq!(
            dump(&whole),
            dump(&fast),
            "parts and whole differ on:\n{src}"
        );
    }
    true
}

#[test]
fn lists_read_in_parts_read_as_the_whole() {
    let entry =
        |i: usize| format!("  - name: n{i}\n    r: >-\n      a b\n      c\n    s:\n      - x\n");
    let body: String = (0..7).map(entry).collect();
    for (src, key) in [
        (format!("# head\nimages:\n{body}"), "images"),
        (format!("images:  # c\n\n# c\n{body}\n# tail\n\n"), "images"),
        (
            format!("images:\n{}", body.replace("\n  ", "\n").trim_start()),
            "images",
        ),
        (
            body.replace("\n  ", "\n").trim_start().to_string(),
            "images",
        ),
        ("- a\n- b\n-   c # x\n- 'd'\n- \"e\"\n".to_string(), "k"),
        (
            "images:\n  - a: 1\n    # c\n\n  - b: 2\n  # c\n  - c: >-\n      x\n  - d: 4\n"
                .to_string(),
            "images",
        ),
    ] {
        for per_part in [1, 2, 3, 100] {
            assert!(
                parts_agree(&src, key, per_part),
                "should read in parts:\n{src}"
            );
        }
    }
}

#[test]
fn what_parts_cannot_read_is_left_to_the_whole_reading() {
    for src in [
        "images:\n  - a\nother: 1\n",
        "other: 1\nimages:\n  - a\n",
        "images: [a]\n",
        "images:\n  - a\n - b\n",
        "images:\n  - a\n  b: 1\n",
        "  - a\n  - b\n",
        "images:\n  - \"a\n  - b\"\n",
        "images:\n  - a: |\n      x\n  - b\n",
        "images:\n  - a\n---\n  - b\n",
        "images:\n  - a: 1\n    a: 2\n  - b\n",
        "images:\r\n  - a\n",
        // A blank line after a folded scalar: the whole reading leaves it to the full
        // parser, so the parts do too.
        "images:\n  - c: >-\n      x\n\n  - d: 4\n",
        "- a\nk: v\n",
        "",
        "# only\n",
    ] {
        for per_part in [1, 2] {
            assert!(
                !parts_agree(src, "images", per_part),
                "should decline:\n{src:?}"
            );
        }
    }
}

#[test]
fn the_subset_reads_exactly_as_the_full_parser() {
    for src in [
        "# c\n\nname: x\nlist:\n  - a\n  - b\nm:\n  k: \"q\\\"x\"\n  n: 1\n",
        "- name: a\n  x: 1\n- name: b\n",
        "-   a\n- b\n",
        "k:\n- a\n- b\nj: 1\n",
        "k:\n    -   name: x\n        y: z\n",
        "# head\n\nk: v   # c\nl: \"x\" # c\nm: 'y'\n",
        "k:\n  # comment\n  a: b\n",
        "k: v\n  # indented comment\nj: w\n",
        "a:  x\nb: a#b\nc: 1d\nd: 7d\ne: \"\"\nf: ''\ng: 'it''s'\n",
        "k: \"a\\u00e9\\x41\\t\\U0001F600\\\\\\/\"\nz: é x\n",
        "images:\n- name: a\n  source:\n    provider: github\n- name: b\n",
        "k: yes\nl: on\nm: 0x1F\nn: 007\no: 1_000\np: 12:30\nq: 2026-11-01\nr: TRUE\ns: ~\nt: null\nu: 1.5\nv: 10\nw: 0\n",
        "a: x:y\nb: http://h/p?q=1\nc: ^1\\.4$\nd: sha256:abc\n",
        "a: []\nb: {}  # none\nc:\n  - []\n",
        "a:\n  - r: >-\n      long text: with # and\n      more words\n    s: 1\nb: >-\n  x\n",
        "a: >-  # c\n  one\n  two\nb: c\n",
    ] {
        assert!(agree(src), "the fast reader should read:\n{src}");
    }
}

#[test]
fn outside_the_subset_it_declines() {
    for src in [
        "",
        "# only\n",
        "scalar\n",
        "k: [a, b]\n",
        "k: {a: 1}\n",
        "k: &a x\nl: *a\n",
        "k: !tag x\n",
        "k: |\n  text\n",
        "k: >\n  text\n",
        "k:\n",
        "k:\nl: x\n",
        "k: a\n  continued\n",
        "k: \"two\n  lines\"\n",
        "k: 'open\n",
        "k: v\nk: w\n",
        "---\nk: v\n",
        "k: v\r\n",
        "k:\tv\n",
        "\"q\": v\n",
        "? k\n: v\n",
        "k: -1\n",
        "- - a\n",
        "-\n  a: b\n",
        "k: a: b\n",
        "k: v\n x: y\n",
        "k:\n  - a\n   - b\n",
        "a: 1\n b: 2\n",
        "k: .inf\n",
        "k: \"\\q\"\n",
        "k: \"x\" y\n",
    ] {
        assert!(!agree(src), "the fast reader should decline:\n{src:?}");
    }
}

#[test]
fn long_strings_the_writer_folds_take_the_fast_path() {
    let long = "base image registry.gitlab.com/upstream/images/base376:1.8-alpine updated to sha256:e7e592e8 and then some more words to fold";
    let node = Node::map(vec![("reason".to_string(), Node::str(long))]);
    let text = super::super::to_string(&node).unwrap();
    assert!(text.contains(">-"), "{text}");
    assert!(agree(&text));
    assert_eq!(super::super::parse(&text).unwrap(), node);
}

#[test]
fn large_mappings_still_refuse_duplicate_keys() {
    let mut src: String = (0..40).map(|i| format!("k{i}: v\n")).collect();
    assert!(agree(&src));
    src.push_str("k3: again\n");
    assert!(!agree(&src));
}

#[test]
fn the_repository_files_take_the_fast_path() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut fast = 0;
    let mut all = 0;
    let mut stack = vec![root.join("image-factory"), root.join("testdata")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                all += 1;
                let read = agree(&text);
                fast += usize::from(read);
                let written = path.components().any(|c| c.as_os_str() == "state")
                    && text.starts_with("# Written by image-factory");
                assert!(
                    !written || read,
                    "a state file the tool wrote: {}",
                    path.display()
                );
            }
        }
    }
    assert!(
        all > 100 && fast * 10 > all * 8,
        "{fast} of {all} files took the fast path"
    );
}

/// A tree the tool could write: mappings of sequences of scalars of every kind.
fn tree() -> impl Strategy<Value = Node> {
    let scalar = prop_oneof![
        "[a-z][a-z0-9./:_-]{0,12}".prop_map(Node::str),
        "[ -~]{0,12}".prop_map(Node::str),
        "[0-9][a-z0-9.]{0,4}".prop_map(Node::str),
        any::<i64>().prop_map(Node::int),
        any::<bool>().prop_map(Node::bool),
        Just(Node::str("")),
        "\\PC{0,8}".prop_map(Node::str),
        // Long enough for the writer to fold it (`>-`).
        "[a-z]{1,9}( {1,2}[a-z#:./-]{1,9}){8,24}".prop_map(Node::str),
    ];
    scalar.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..5).prop_map(Node::seq),
            prop::collection::btree_map("[a-z][a-zA-Z0-9_]{0,8}", inner, 1..6)
                .prop_map(|m| Node::map(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn written_trees_read_back_the_same_by_both_readers(
        entries in prop::collection::btree_map("[a-z][a-zA-Z0-9]{0,8}", tree(), 1..6)
    ) {
        let node = Node::map(entries.into_iter().collect());
        let text = super::super::to_string(&node).unwrap();
        agree(&text);
        prop_assert_eq!(super::super::parse(&text).unwrap(), node);
    }

    #[test]
    fn on_any_block_structure_the_fast_reader_agrees_or_declines(
        src in "( {0,5}(- |[a-z]{1,2}: ?|[a-z]{1,2}:\n|# c\n)?([a-z0-9 ]{0,4}|>-|\\[\\]|'[a-z]'|\"[a-z]\"|[-~.]{1,2})\n){1,10}"
    ) {
        agree(&src);
    }

    #[test]
    fn lists_read_in_parts_agree_with_the_full_parser_or_decline(
        head in "(# c\n|\n)?(images:( # c)?\n)?",
        items in prop::collection::vec(
            "( {0,3}(- |[a-z]{1,2}: ?|[a-z]{1,2}:\n|# c\n|\n)?([a-z0-9 ]{0,4}|>-|\\[\\]|'[a-z]'|\"[a-z]\"|[-~.:#]{1,2})\n){1,4}",
            1..12,
        ),
        per_part in 1usize..4,
    ) {
        let src = format!("{head}{}", items.iter().map(|i| format!("- {i}")).collect::<String>());
        parts_agree(&src, "images", per_part);
        let indented = format!("{head}{}", items.iter().map(|i| format!("  - {}", i.replace('\n', "\n  "))).collect::<String>());
        parts_agree(&indented, "images", per_part);
    }

    #[test]
    fn on_any_text_the_fast_reader_agrees_or_declines(src in "([a-z]{1,3}|[-:#'\" \n\\[\\]{}>|&*!?,.]|[0-9]|é){0,60}") {
        agree(&src);
    }
}

#[test]
fn escaped_quoted_scalars_take_the_fast_path() {
    for src in [
        "k: \"a\\\\b\\\"c\\/d\\ne\\tf\\rg\\0h\"\n",
        "k: \"\\x41\\u00e9\\U0001F600 tail\" # c\n",
        "k: 'it''s ''quoted'' twice'\n",
        "- 'a''b'\n- \"c\\nd\"\n",
    ] {
        assert!(agree(src), "the fast reader should read:\n{src}");
    }
    for src in ["k: \"bad \\q escape\"\n", "k: \"\\x4\"\n", "k: 'open''\n"] {
        assert!(!agree(src), "the fast reader should decline:\n{src}");
    }
}

proptest! {
    #[test]
    fn quoted_scalars_with_escapes_agree_with_the_full_parser(
        double in "([a-z é'#]|\\\\[\\\\\"/ntr0q ]|\\\\x[0-9a-fA-FG]{0,2}|\\\\u[0-9a-f]{3,4}|\\\\U0001[0-9a-f]{3,4}){0,8}",
        single in "([a-z é\"\\\\#]|''){0,8}",
        tail in "( # c)?",
    ) {
        agree(&format!("k: \"{double}\"{tail}\n"));
        agree(&format!("- '{single}'{tail}\n"));
        agree(&format!("a: '{single}'\nb: \"{double}\"\n"));
    }
}
