//! Rendering helpers shared by the commands: JSON and report lines on stdout, diagnostics on
//! stderr. A command that may run more than once before its result counts (a state change
//! re-applied after a rejected push) prints through [`line`], which a capture holds back until
//! the last run is known; only that run's report reaches stdout.

use std::sync::Mutex;

use serde::Serialize;

use crate::exit::CliError;

/// The report held back while capturing (`None`: print at once).
static CAPTURED: Mutex<Option<String>> = Mutex::new(None);

/// Prints one line of a report on stdout, or holds it while a capture runs.
pub fn line(text: impl std::fmt::Display) {
    let mut captured = CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match captured.as_mut() {
        Some(buffer) => {
            buffer.push_str(&text.to_string());
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

/// Prints one JSON document on stdout (through [`line`]), followed by a newline.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Input(format!("cannot render JSON: {e}")))?;
    line(text);
    Ok(())
}
