//! What `cargo xtask bench scale` prints at the end: the table of every command at every
//! size (rows found by command name, so a command left out at one size leaves a gap), and
//! the targets, PASS or FAIL.

use crate::bench::Figure;
use crate::bench_floor::Floor;
use crate::bench_scale::{RUNS, Row, SLOW_SECS, SizeResult};
use crate::bench_scale_check as check;
use crate::bench_scale_json::{bytes, label, secs, thousands};

const BENCH: &str = "scale";
const KIB_PER_GIB: u64 = 1024 * 1024;
/// The largest growth of wall time from 10,000 to 100,000 images that passes.
const GROWTH: f64 = 11.0;

/// The commands measured at any size, in the order they ran.
pub fn names(results: &[SizeResult]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for row in results.iter().flat_map(|r| &r.rows) {
        if !names.contains(&row.name) {
            names.push(row.name);
        }
    }
    names
}

/// The row of command `name` at one size.
pub fn row<'a>(r: &'a SizeResult, name: &str) -> Option<&'a Row> {
    r.rows.iter().find(|row| row.name == name)
}

/// Prints the table: a row per command (the floors first), wall time, ratio to the serial
/// floor and peak RSS per size, and the ratio of wall times from each size to the next;
/// then `check`'s requests.
pub fn print(results: &[SizeResult]) {
    let mut head = String::from("| command |");
    let mut rule = String::from("| --- |");
    for r in results {
        let l = label(r.n);
        head.push_str(&format!(" {l} wall | {l} / floor | {l} peak RSS |"));
        rule.push_str(" ---: | ---: | ---: |");
    }
    for pair in results.windows(2) {
        head.push_str(&format!(
            " wall {}/{} |",
            label(pair[1].n),
            label(pair[0].n)
        ));
        rule.push_str(" ---: |");
    }
    println!("\n{head}\n{rule}");
    type Of = fn(&Floor) -> f64;
    let floors: [(&str, Of); 2] = [
        ("floor, serial", |f| f.serial_s),
        ("floor, parallel", |f| f.parallel_s),
    ];
    for (name, of) in floors {
        let mut line = format!("| {name} |");
        for r in results {
            line.push_str(&format!(
                " {} | {:.2} | - |",
                secs(of(&r.floor)),
                of(&r.floor) / r.floor.serial_s
            ));
        }
        for pair in results.windows(2) {
            line.push_str(&format!(
                " {:.1} |",
                of(&pair[1].floor) / of(&pair[0].floor)
            ));
        }
        println!("{line}");
    }
    let mut once = false;
    for name in names(results) {
        let mut line = format!("| {name} |");
        for r in results {
            match row(r, name) {
                Some(row) => {
                    let mark = if row.runs < RUNS { "*" } else { "" };
                    once |= row.runs < RUNS;
                    line.push_str(&format!(
                        " {}{mark} | {:.2} | {} |",
                        secs(row.wall),
                        row.ratio(&r.floor),
                        bytes(row.rss_kib * 1024)
                    ));
                }
                None => line.push_str(" - | - | - |"),
            }
        }
        for pair in results.windows(2) {
            line.push_str(&format!(" {} |", ratio(&pair[0], &pair[1], name)));
        }
        println!("{line}");
    }
    if once {
        println!("\n\\* one run only: the first took more than {SLOW_SECS} s");
    }
    for r in results {
        if let Some(f) = row(r, check::NAME).and_then(|row| row.check.as_ref()) {
            println!(
                "\n{}, N = {}: {}",
                check::NAME,
                thousands(r.n),
                check::describe(f)
            );
        }
    }
}

/// Wall time at `big` over wall time at `small`, of command `name`.
fn ratio(small: &SizeResult, big: &SizeResult, name: &str) -> String {
    growth(small, big, name).map_or_else(|| "-".to_string(), |g| format!("{g:.1}"))
}

/// Wall time at `big` over wall time at `small`, of command `name`, when both ran.
pub fn growth(small: &SizeResult, big: &SizeResult, name: &str) -> Option<f64> {
    match (row(small, name), row(big, name)) {
        (Some(s), Some(b)) if s.wall > 0.0 => Some(b.wall / s.wall),
        _ => None,
    }
}

/// Checks the targets, prints PASS/FAIL for each, and gives the summary figures.
pub fn targets(results: &[SizeResult]) -> Vec<Figure> {
    println!("\ntargets:");
    let at = |n: usize| results.iter().find(|r| r.n == n);
    let mut figures = Vec::new();
    for name in names(results) {
        for r in results {
            let Some(row) = row(r, name) else { continue };
            let value = format!(
                "{}, {:.2}x floor, {}",
                secs(row.wall),
                row.ratio(&r.floor),
                bytes(row.rss_kib * 1024)
            );
            let what = format!("{name}, N = {}", thousands(r.n));
            if let Some(f) = &row.check {
                let (ok, target) = check::judge(f);
                let value = format!("{value}, {}", check::describe(f));
                let big = r.n == 100_000;
                let ok = ok && (!big || row.rss_kib < KIB_PER_GIB);
                let target = if big {
                    format!("{target}, < 1 GiB")
                } else {
                    target
                };
                verdict(&mut figures, what, value, &target, ok);
                continue;
            }
            match r.n {
                100_000 => verdict(
                    &mut figures,
                    what,
                    value,
                    "<= 1.0x serial floor, < 1 GiB",
                    row.ratio(&r.floor) <= 1.0 && row.rss_kib < KIB_PER_GIB,
                ),
                _ => figures.push(Figure::info(BENCH, what, value)),
            }
        }
        if let (Some(small), Some(big)) = (at(10_000), at(100_000)) {
            let value = ratio(small, big, name);
            let ok = growth(small, big, name).is_some_and(|v| v < GROWTH);
            verdict(
                &mut figures,
                format!("{name}, wall 100k/10k"),
                value,
                "< 11",
                ok,
            );
        }
    }
    if at(100_000).is_none() || at(10_000).is_none() {
        println!("  not checked: the targets at 100,000 and 100k/10k (a size was left out)");
    }
    figures
}

/// Prints PASS or FAIL for one target and keeps its figure.
fn verdict(figures: &mut Vec<Figure>, what: String, value: String, target: &str, ok: bool) {
    let word = if ok { "PASS" } else { "FAIL" };
    println!("  {word} {what}: {value} (target {target})");
    figures.push(Figure::judged(BENCH, what, value, target, ok));
}
