//! Rendering helpers shared by the commands: JSON on stdout, diagnostics on stderr.

use serde::Serialize;

use crate::exit::CliError;

/// Prints one JSON document on stdout, followed by a newline.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Input(format!("cannot render JSON: {e}")))?;
    println!("{text}");
    Ok(())
}
