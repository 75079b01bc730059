//! The `status` table for people: a header row, columns sized to their content and to the
//! terminal, relative times ("in 3d", "2h ago") or exact ones (`--utc`), and each row's notes
//! after it when they fit, else on an indented second line (cut to the width unless `--wide`).

use if_model::timestamp::Timestamp;

use super::{Rebuild, RebuildStatus, Row};
use crate::output::escape_controls;

/// The width used when stdout is not a terminal (a pipe, a file, a test).
pub const PIPE_WIDTH: usize = 100;

/// The narrowest the name column is cut to (`--wide` shows every name whole).
const NAME_MIN: usize = 16;

/// The narrowest the image column is cut to.
const IMAGE_MIN: usize = 16;

/// Indentation of a row's second line.
const INDENT: &str = "    ";

/// Between two columns.
const GAP: &str = "  ";

/// How the table is drawn.
pub struct Style {
    /// What relative times count from.
    pub now: Timestamp,
    /// Exact RFC 3339 times instead of relative ones.
    pub utc: bool,
    /// The width to fit, or `None` for everything on one line (`--wide`).
    pub width: Option<usize>,
}

/// The terminal's width when stdout is one, else [`PIPE_WIDTH`].
pub fn width() -> usize {
    use std::io::IsTerminal;
    let out = std::io::stdout();
    if !out.is_terminal() {
        return PIPE_WIDTH;
    }
    terminal_size::terminal_size_of(&out).map_or(PIPE_WIDTH, |(w, _)| usize::from(w.0))
}

/// `t` relative to `now` in whole units ("in 3d", "2h ago", "now"), or exact.
pub fn when(t: Timestamp, style: &Style) -> String {
    if style.utc {
        return t.to_string();
    }
    let delta = t.unix().saturating_sub(style.now.unix());
    let secs = delta.unsigned_abs();
    let amount = match secs {
        0 => return "now".to_string(),
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    };
    if delta > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

fn parse(t: Option<&String>) -> Option<Timestamp> {
    t.and_then(|t| Timestamp::parse(t).ok())
}

/// The time the WHEN column shows: when a pending rebuild is due (or retried), since when
/// one is due, when the running build started; for a base image its last check.
fn row_when(row: &Row) -> Option<Timestamp> {
    let Some(r) = &row.rebuild else {
        return parse(row.last_checked.as_ref());
    };
    match r.status {
        RebuildStatus::Pending => {
            parse(r.next_attempt_at.as_ref()).or_else(|| parse(r.scheduled_for.as_ref()))
        }
        RebuildStatus::Due => parse(r.scheduled_for.as_ref()),
        RebuildStatus::Triggered => parse(r.triggered_at.as_ref()),
        _ => None,
    }
}

fn rebuild_notes(r: &Rebuild, style: &Style, notes: &mut Vec<String>) {
    let at = |t: Option<&String>| parse(t).map(|t| when(t, style));
    match r.status {
        RebuildStatus::Triggered => {
            let mut run = String::from("build");
            if let Some(st) = &r.run_status {
                run.push_str(&format!(" {st}"));
            }
            if let Some(url) = &r.run_url {
                run.push_str(&format!(" {url}"));
            }
            notes.push(run);
            if let Some(e) = &r.run_error {
                notes.push(format!("state unknown: {e}"));
            }
            if let Some(t) = at(r.give_up_at.as_ref()) {
                notes.push(format!("given up {t}"));
            }
        }
        RebuildStatus::Failed => notes.push(format!(
            "failed after {} attempts: {}",
            r.attempts.unwrap_or(0),
            r.last_error.as_deref().unwrap_or("-")
        )),
        RebuildStatus::Pending if r.next_attempt_at.is_some() => notes.push(format!(
            "retry: attempt {} failed: {}",
            r.attempts.unwrap_or(0),
            r.last_error.as_deref().unwrap_or("-")
        )),
        _ => {}
    }
    if r.due_now {
        notes.push("due now: the next `reconcile` triggers it".to_string());
    }
    if let Some(w) = &r.waiting {
        notes.push(w.clone());
    }
    if !r.unscanned.is_empty() {
        notes.push(format!(
            "no vulnerability report yet: {}",
            r.unscanned.join(", ")
        ));
    }
}

/// What a row says beyond its columns, most urgent first.
fn notes(row: &Row, style: &Style) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(p) = &row.problem {
        notes.push(p.clone());
    }
    if let Some(r) = &row.rebuild {
        rebuild_notes(r, style, &mut notes);
    }
    if !row.pins_to_bump.is_empty() {
        notes.push(format!(
            "pin of {} needs a bump",
            row.pins_to_bump.join(", ")
        ));
    }
    if let Some(d) = &row.discovery
        && let Some(e) = &d.error
    {
        notes.push(format!("discovery {}: {e}", d.status));
    }
    if let Some(e) = &row.check_error {
        match parse(e.since.as_ref()) {
            Some(t) => notes.push(format!(
                "check failed: {} (since {})",
                e.message,
                when(t, style)
            )),
            None => notes.push(format!("check failed: {}", e.message)),
        }
    }
    if let Some(a) = &row.attestations {
        notes.push(format!("attestations: {}", a.summary));
    }
    if !row.base_images.is_empty() {
        notes.push(format!("FROM {}", row.base_images.join(", ")));
    }
    if !row.dependents.is_empty() {
        notes.push(format!("used by {}", row.dependents.join(", ")));
    }
    notes
}

/// The short digest: its first 12 hex digits, as `docker images` shows an ID.
fn short_digest(d: Option<&String>) -> String {
    d.map_or("-".to_string(), |d| {
        let hex = d.split_once(':').map_or(d.as_str(), |(_, h)| h);
        hex.chars().take(12).collect()
    })
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// `s` cut to `max` characters, the last one `…` when something was cut.
fn cut(s: &str, max: usize) -> String {
    if len(s) <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

const HEADER: [&str; 6] = ["NAME", "KIND", "REBUILD", "WHEN", "DIGEST", "IMAGE"];

/// The lines of the table: the header, then each row (and its second line, if any). Every
/// cell is escaped before it is measured, so control characters neither reach the terminal
/// nor break the alignment.
pub fn render(rows: &[Row], style: &Style) -> Vec<String> {
    let cells: Vec<([String; 6], String)> = rows
        .iter()
        .map(|r| {
            let status = r
                .rebuild
                .as_ref()
                .map_or("-", |rb| rb.status.as_str())
                .to_string();
            let when = row_when(r).map_or("-".to_string(), |t| when(t, style));
            let cols = [
                escape_controls(&r.name),
                escape_controls(&r.kind),
                status,
                when,
                short_digest(r.digest.as_ref()),
                escape_controls(&r.image),
            ];
            (cols, escape_controls(&notes(r, style).join("; ")))
        })
        .collect();
    let mut widths: [usize; 6] = HEADER.map(len);
    for (cols, _) in &cells {
        for (w, c) in widths.iter_mut().zip(cols) {
            *w = (*w).max(len(c));
        }
    }
    if let Some(total) = style.width {
        // Too wide: cut the wider of name and image, one character at a time, down to
        // their floors (bounded: each step narrows one of two finite columns).
        let gaps = GAP.len() * 5;
        while widths.iter().sum::<usize>() + gaps > total {
            let name_can = widths[0] > NAME_MIN;
            let image_can = widths[5] > IMAGE_MIN;
            match (name_can, image_can) {
                (true, true) if widths[0] > widths[5] => widths[0] -= 1,
                (_, true) => widths[5] -= 1,
                (true, false) => widths[0] -= 1,
                (false, false) => break,
            }
        }
    }
    let line = |cols: &[String; 6], pad_last: bool| {
        let mut out = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i > 0 {
                out.push_str(GAP);
            }
            let c = match style.width {
                Some(_) => cut(c, w),
                None => c.clone(),
            };
            let fill = w.saturating_sub(len(&c));
            out.push_str(&c);
            if i < 5 || pad_last {
                out.extend(std::iter::repeat_n(' ', fill));
            }
        }
        out
    };
    let mut out = vec![line(&HEADER.map(str::to_string), false)];
    for (cols, notes) in &cells {
        if notes.is_empty() {
            out.push(line(cols, false));
            continue;
        }
        let first = line(cols, true);
        match style.width {
            None => out.push(format!("{first}{GAP}{notes}")),
            Some(total) if len(&first) + GAP.len() + len(notes) <= total => {
                out.push(format!("{first}{GAP}{notes}"));
            }
            Some(total) => {
                out.push(line(cols, false));
                out.push(format!(
                    "{INDENT}{}",
                    cut(notes, total.saturating_sub(INDENT.len()))
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(utc: bool) -> Style {
        Style {
            now: Timestamp::parse("2026-03-10T10:00:00Z").unwrap(),
            utc,
            width: Some(PIPE_WIDTH),
        }
    }

    #[test]
    fn times_are_relative_in_whole_units_or_exact_with_utc() {
        let at = |s: &str| Timestamp::parse(s).unwrap();
        let s = style(false);
        assert_eq!(when(at("2026-03-13T10:00:00Z"), &s), "in 3d");
        assert_eq!(when(at("2026-03-10T08:00:00Z"), &s), "2h ago");
        assert_eq!(when(at("2026-03-10T10:05:30Z"), &s), "in 5m");
        assert_eq!(when(at("2026-03-10T09:59:15Z"), &s), "45s ago");
        assert_eq!(when(at("2026-03-10T10:00:00Z"), &s), "now");
        assert_eq!(
            when(at("2026-03-13T10:00:00Z"), &style(true)),
            "2026-03-13T10:00:00Z"
        );
    }

    #[test]
    fn cut_marks_what_it_drops() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert_eq!(
            short_digest(Some(&format!("sha256:{}", "ab".repeat(32)))),
            "abababababab"
        );
        assert_eq!(short_digest(None), "-");
    }
}
