//! Rendering helpers shared by the commands: JSON and report lines on stdout, diagnostics on
//! stderr. A command that may run more than once before its result counts (a state change
//! re-applied after a rejected push) prints through [`line`], which a capture holds back until
//! the last run is known; only that run's report reaches stdout.

use std::io::Write as _;
use std::sync::Mutex;

use serde::Serialize;

use crate::exit::CliError;

/// How much goes to stderr besides results, warnings and errors: 0 `--quiet`, 1 normal,
/// 2 `--verbose`.
static VERBOSITY: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);

/// Sets `--quiet` / `--verbose` for this process.
pub fn set_verbosity(quiet: bool, verbose: bool) {
    let level = if quiet {
        0
    } else if verbose {
        2
    } else {
        1
    };
    VERBOSITY.store(level, std::sync::atomic::Ordering::Relaxed);
}

fn verbosity() -> u8 {
    VERBOSITY.load(std::sync::atomic::Ordering::Relaxed)
}

/// A summary or progress note on stderr (`3 state file(s) written`), left out with `--quiet`.
pub fn info(text: impl std::fmt::Display) {
    if verbosity() >= 1 {
        eprintln!("{}", escape_controls(&text.to_string()));
    }
}

/// A detail on stderr shown only with `--verbose` (which root, which directories).
pub fn detail(text: impl std::fmt::Display) {
    if verbosity() >= 2 {
        eprintln!("{}", escape_controls(&text.to_string()));
    }
}

/// The report held back while capturing (`None`: print at once).
static CAPTURED: Mutex<Option<String>> = Mutex::new(None);

/// `text` with every control character but newline and tab written as `\u{..}`: names and
/// references come from files anyone can shape, and raw ESC or BEL bytes must not reach a
/// terminal.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(is_escaped) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_escaped(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn is_escaped(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Prints one line of a report on stdout (control characters escaped), or holds it while a
/// capture runs.
pub fn line(text: impl std::fmt::Display) {
    let text = escape_controls(&text.to_string());
    let mut captured = CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match captured.as_mut() {
        Some(buffer) => {
            buffer.push_str(&text);
            buffer.push('\n');
        }
        None => println!("{text}"),
    }
}

/// Starts holding report lines back, dropping what an earlier capture held.
pub fn capture() {
    let mut captured = CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *captured = Some(String::new());
}

/// Stops capturing and returns what was held.
pub fn release() -> String {
    let mut captured = CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    captured.take().unwrap_or_default()
}

/// The version of every JSON report's schema (`docs/json.md`): raised when a key changes
/// meaning or goes away, not when one is added.
pub const SCHEMA_VERSION: u32 = 1;

/// A report with its `schemaVersion` first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Versioned<'a, T: ?Sized> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a T,
}

/// Prints one JSON report (an object) on stdout with `schemaVersion` first, followed by a
/// newline, control characters escaped as [`line`] does (or holds it while a capture runs).
/// Written as it is rendered, never whole in memory: at 100,000 images `check`'s report is
/// about 100 MB.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), CliError> {
    let versioned = Versioned {
        schema_version: SCHEMA_VERSION,
        report: value,
    };
    let render = |e: serde_json::Error| CliError::Input(format!("cannot render JSON: {e}"));
    let mut captured = CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match captured.as_mut() {
        Some(buffer) => {
            let mut out = Escaping::new(Vec::new());
            serde_json::to_writer_pretty(&mut out, &versioned).map_err(render)?;
            out.end();
            buffer.push_str(&String::from_utf8_lossy(&out.inner));
            buffer.push('\n');
        }
        None => {
            let stdout = |source| CliError::Write {
                path: "stdout".into(),
                source,
            };
            let mut out = Escaping::new(std::io::BufWriter::new(std::io::stdout().lock()));
            serde_json::to_writer_pretty(&mut out, &versioned).map_err(render)?;
            out.end();
            out.inner.write_all(b"\n").map_err(stdout)?;
            out.inner.flush().map_err(stdout)?;
        }
    }
    Ok(())
}

/// A writer passing UTF-8 text on with [`escape_controls`] applied, a character split across
/// two writes held until its last byte comes.
struct Escaping<W: std::io::Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: std::io::Write> Escaping<W> {
    fn new(inner: W) -> Self {
        Escaping {
            inner,
            pending: Vec::new(),
        }
    }

    /// Passes on what is held (only a broken character: serde_json writes whole UTF-8).
    fn end(&mut self) {
        let rest = std::mem::take(&mut self.pending);
        let _ = self.inner.write_all(&rest);
    }
}

impl<W: std::io::Write> std::io::Write for Escaping<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let joined;
        let text = if self.pending.is_empty() {
            bytes
        } else {
            self.pending.extend_from_slice(bytes);
            joined = std::mem::take(&mut self.pending);
            &joined
        };
        let whole = match std::str::from_utf8(text) {
            Ok(t) => t.len(),
            Err(e) => e.valid_up_to(),
        };
        let (done, rest) = text.split_at(whole);
        if let Ok(done) = std::str::from_utf8(done) {
            if done.chars().any(is_escaped) {
                self.inner.write_all(escape_controls(done).as_bytes())?;
            } else {
                self.inner.write_all(done.as_bytes())?;
            }
        }
        self.pending = rest.to_vec();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_escaped_like_a_line_even_when_a_character_is_split_across_writes() {
        use std::io::Write as _;
        let text = "{\"a\": \"x\u{1b}é\u{9b}\u{7f}y\"}";
        let mut out = Escaping::new(Vec::new());
        for byte in text.as_bytes() {
            out.write_all(&[*byte]).unwrap();
        }
        out.end();
        assert_eq!(String::from_utf8(out.inner).unwrap(), escape_controls(text));
        let mut whole = Escaping::new(Vec::new());
        whole.write_all(text.as_bytes()).unwrap();
        assert_eq!(whole.inner, escape_controls(text).into_bytes());
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("a\u{1b}[31mb\u{7}"), "a\\u{1b}[31mb\\u{7}");
        assert_eq!(escape_controls("x\ny\tz"), "x\ny\tz");
        assert_eq!(escape_controls("\u{9b}é"), "\\u{9b}é");
    }
}
