//! Discovery of one Dockerfile's external base images with `if-dockerfile`, as `if-state`
//! wants them (references normalized; an unresolved `FROM` or a rejected file is a failure).

use if_model::reference::ImageRef;
use if_state::Discovery;

/// What the Dockerfile `bytes` (read from `path`, for messages) is built on.
pub fn discover(bytes: &[u8], path: &str) -> Discovery {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Discovery::Failed(format!("{path}: not UTF-8 text"));
    };
    let analysis = if_dockerfile::analyze(text, &if_dockerfile::BuildArgs::new());
    if let Some(error) = analysis.first_error() {
        let at = if_dockerfile::LineIndex::new(text).position(text, error.span.start);
        return Discovery::Failed(format!(
            "{path}:{}:{}: {}",
            at.line,
            at.column,
            error.message()
        ));
    }
    let report = analysis.report(text);
    if let Some(stage) = report
        .stages
        .iter()
        .find(|s| s.base == if_dockerfile::BaseKind::Unresolved)
    {
        return Discovery::Failed(format!(
            "{path}: FROM {} cannot be resolved statically",
            stage.from
        ));
    }
    let mut refs = Vec::new();
    for image in &report.base_images {
        match ImageRef::parse(image) {
            Ok(r) => refs.push(r),
            Err(e) => return Discovery::Failed(format!("{path}: base image `{image}`: {e}")),
        }
    }
    Discovery::Found(refs)
}
