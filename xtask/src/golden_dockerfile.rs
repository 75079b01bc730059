//! Golden files of the Dockerfile parser: `testdata/dockerfile/<case>/expected.json` is the
//! JSON report (`image-factory --format json dockerfile`) of the case's `Dockerfile`, with
//! the build arguments of its optional `build-args` file (`NAME=VALUE` lines).

use std::path::Path;

use crate::generate::Outputs;

/// Renders one case the way the CLI prints it: pretty JSON and a final newline.
pub fn render_case(case: &Path) -> Result<String, String> {
    let dockerfile = std::fs::read(case.join("Dockerfile"))
        .map_err(|e| format!("{}: {e}", case.join("Dockerfile").display()))?;
    let dockerfile = String::from_utf8_lossy(&dockerfile);
    let args = std::fs::read_to_string(case.join("build-args")).ok();
    let report = if_dockerfile::golden_report(&dockerfile, args.as_deref())
        .map_err(|e| format!("{}: {e}", case.display()))?;
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    Ok(format!("{json}\n"))
}

/// Adds every case's `expected.json` to the generated outputs.
pub fn collect(root: &Path, out: &mut Outputs) -> Result<(), String> {
    for case in crate::generate::case_dirs(&root.join("testdata/dockerfile"))? {
        let rel = case.strip_prefix(root).map_err(|e| e.to_string())?;
        out.add(rel.join("expected.json"), render_case(&case)?);
    }
    Ok(())
}
