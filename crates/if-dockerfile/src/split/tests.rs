//! Unit tests of splitting instruction arguments.

use super::*;

fn node(line: &str) -> (Node, Option<DiagnosticKind>) {
    let mut map = SegMap::default();
    map.push(0, 0);
    let ctx = LineCtx {
        map: &map,
        escape: '\\',
    };
    let mut nodes = Vec::new();
    let err = new_node(&ctx, line.to_string(), &mut nodes);
    (nodes.pop().expect("a node"), err)
}

fn flag_texts(n: &Node) -> Vec<&str> {
    n.flag_words().map(|(w, _)| w).collect()
}

#[test]
fn splits_flags_and_args() {
    let (n, e) = node("FROM --platform=\"linux/amd64\" img AS b");
    assert!(e.is_none());
    assert_eq!(flag_texts(&n), vec!["--platform=linux/amd64"]);
    assert_eq!(n.flags[0].span, Span::new(5, 29));
    assert_eq!(n.arg_texts(), vec!["img", "AS", "b"]);
    assert_eq!(n.args[0].span, Span::new(30, 33));
    let (n, _) = node("COPY -- --from=x a b");
    assert!(n.flags.is_empty());
    assert_eq!(n.arg_texts(), vec!["--from=x", "a", "b"]);
    let (n, _) = node("RUN [\"a\", \"b\"]");
    assert!(n.json);
    let (_, e) = node("RUN [\"a\", 1]");
    assert_eq!(e, Some(DiagnosticKind::JsonNotStringArray));
    let (_, e) = node("ENV A");
    assert_eq!(e, Some(DiagnosticKind::KeyValueTwoArguments("ENV".into())));
    let (n, _) = node("ONBUILD COPY --from=a x y");
    let t = n.trigger.as_ref().expect("trigger");
    assert_eq!(flag_texts(t), vec!["--from=a"]);
    assert_eq!(t.flags[0].span, Span::new(13, 21));
    assert!(n.can_contain_heredoc());
}

#[test]
fn flags_unquoted_and_escaped() {
    let (n, _) = node("COPY --a='x y' --b=c\\ d --é=1 --c x y");
    assert_eq!(
        flag_texts(&n),
        vec!["--a=x y", "--b=c d", "--\u{c3}\u{a9}=1", "--c"]
    );
    assert_eq!(n.arg_texts(), vec!["x", "y"]);
    let (n, _) = node("RUN --x=\"a\\\"b\" [\"\\u00e9\", \"c\"]");
    assert_eq!(flag_texts(&n), vec!["--x=a\"b"]);
    assert_eq!(n.arg_texts(), vec!["é", "c"]);
    let (n, _) = node("RUN --x=a\\");
    assert_eq!(flag_texts(&n), vec!["--x=a"]);
}

#[test]
fn words_keep_quotes() {
    let words = |s| Words::new(s, '\\').collect::<Vec<_>>();
    assert_eq!(words(r#"A=1 B C="x y""#), vec!["A=1", "B", r#"C="x y""#]);
    assert_eq!(words(r"a\ b"), vec![r"a\ b"]);
    assert_eq!(words(r"a b\"), vec!["a", "b"]);
    assert_eq!(words(r"a \"), vec!["a"]);
    assert_eq!(words(r#"a "b\"#), vec!["a", r#""b"#]);
    assert_eq!(words("  "), Vec::<&str>::new());
    assert_eq!(words("x\u{3000}'y z'"), vec!["x", "'y z'"]);
}
