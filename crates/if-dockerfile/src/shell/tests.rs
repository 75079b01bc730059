//! Unit tests of the shell-word lexer.

use super::*;
use std::collections::HashMap;

struct Map(HashMap<&'static str, Option<&'static str>>);
impl Env for Map {
    fn lookup(&self, name: &str) -> Lookup<'_> {
        match self.0.get(name) {
            Some(Some(v)) => Lookup::Set(v),
            Some(None) => Lookup::Unknown,
            None => Lookup::Unset,
        }
    }
}

fn env() -> Map {
    Map(HashMap::from([
        ("A", Some("alpha")),
        ("E", Some("")),
        ("P", Some("a/b/c")),
        ("T", None),
    ]))
}

fn ok(word: &str) -> String {
    let p = expand(word, &env(), '\\').expect("expands");
    assert!(!p.taint.any(), "{word} tainted");
    p.value
}

#[test]
fn table_of_modifiers() {
    assert_eq!(ok("$A"), "alpha");
    assert_eq!(ok("${A}x"), "alphax");
    assert_eq!(ok("${U:-w}"), "w");
    assert_eq!(ok("${E:-w}"), "w");
    assert_eq!(ok("${E-w}"), "");
    assert_eq!(ok("${U-w}"), "w");
    assert_eq!(ok("${A:+w}"), "w");
    assert_eq!(ok("${E:+w}"), "");
    assert_eq!(ok("${E+w}"), "w");
    assert_eq!(ok("${U+w}"), "");
    assert_eq!(ok("${A:?m}"), "alpha");
    assert_eq!(ok("${E?m}"), "");
    assert_eq!(ok("${P#*/}"), "b/c");
    assert_eq!(ok("${P##*/}"), "c");
    assert_eq!(ok("${P%/*}"), "a/b");
    assert_eq!(ok("${P%%/*}"), "a");
    assert_eq!(ok("${P/\\//-}"), "a-b/c");
    assert_eq!(ok("${P//\\//-}"), "a-b-c");
    assert_eq!(ok("'$A'\"$A\"\\$A"), "$Aalpha$A");
    assert_eq!(ok("a$"), "a$");
    assert_eq!(ok("$ x"), "$ x");
}

#[test]
fn errors_and_taints() {
    let e = env();
    for bad in [
        "${U:?}", "${E:?}", "${U?x}", "${A:#x}", "${A:%x}", "${A:=x}", "${A:1}", "${#A}", "${}",
        "${:x}", "${A", "'a", "\"a",
    ] {
        assert!(expand(bad, &e, '\\').is_err(), "{bad} should fail");
    }
    assert!(expand("$U", &e, '\\').expect("ok").taint.unset);
    assert!(expand("${T:-x}", &e, '\\').expect("ok").taint.unknown);
    assert!(!expand("${A:-$U}", &e, '\\').expect("ok").taint.any());
    assert!(expand("${U:-$U2}", &e, '\\').expect("ok").taint.unset);
    assert_eq!(expand("a`$A", &e, '`').expect("ok").value, "a$A");
}
