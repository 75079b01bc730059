//! `image-factory ref REF`: parses one image reference and prints its normalized parts.

use if_model::reference::ImageRef;
use serde::Serialize;

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::output;

/// Arguments of `ref`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The image reference, e.g. `node:22`, `ghcr.io/org/app:1.2@sha256:...`.
    pub reference: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Parts<'a> {
    registry: &'a str,
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<String>,
    canonical: String,
    familiar: String,
}

/// Runs `ref`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let r = ImageRef::parse(&args.reference)
        .map_err(|e| CliError::Input(format!("invalid reference `{}`: {e}", args.reference)))?;
    let parts = Parts {
        registry: r.registry(),
        repository: r.repository(),
        tag: r.effective_tag(),
        digest: r.digest().map(ToString::to_string),
        canonical: r.canonical(),
        familiar: r.familiar(),
    };
    match cli.format {
        Format::Json => output::print_json(&parts)?,
        Format::Text | Format::Dot | Format::Mermaid => {
            println!("registry:   {}", parts.registry);
            println!("repository: {}", parts.repository);
            println!("tag:        {}", parts.tag.unwrap_or("-"));
            println!("digest:     {}", parts.digest.as_deref().unwrap_or("-"));
            println!("canonical:  {}", parts.canonical);
            println!("familiar:   {}", parts.familiar);
        }
    }
    Ok(Outcome::Ok)
}
