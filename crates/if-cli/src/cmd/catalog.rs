//! `image-factory catalog`: Backstage catalog entities of the factory (if-state's `catalog`),
//! one `Resource` per enrolled image and per base image in use, printed on stdout or written
//! to `--out` (atomically); `--format json` prints them as one JSON array.
//!
//! Problems that make an `images.yaml` entry unusable end the command (exit 2, nothing
//! written); problems in state files are printed as warnings.

use std::path::PathBuf;

use if_model::yaml::Node;
use if_state::catalog::{self, CatalogOptions};

use crate::cli::{Cli, Format};
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// Arguments of `catalog`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Write the entities to this file (replaced atomically) instead of printing them.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// `spec.owner` of every entity (an entity reference).
    #[arg(long, value_name = "REF", default_value = catalog::DEFAULT_OWNER)]
    pub owner: String,
    /// `spec.system` of every entity (an entity reference); none by default.
    #[arg(long, value_name = "REF")]
    pub system: Option<String>,
}

/// Runs `catalog`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    crate::cmd::text_or_json(cli)?;
    let options = CatalogOptions::new(&args.owner, args.system.as_deref())
        .map_err(|e| CliError::Input(e.to_string()))?;
    let factory = load::load_for_update(&cli.root)?;
    let entities = catalog::entities(&factory, &options);
    let text = match cli.format {
        Format::Json => {
            let nodes: Vec<Node> = entities.iter().map(catalog::Entity::to_node).collect();
            let json = serde_json::to_string_pretty(&nodes)
                .map_err(|e| CliError::Input(format!("cannot render JSON: {e}")))?;
            format!("{json}\n")
        }
        _ => catalog::render(&entities).map_err(|e| CliError::Input(e.to_string()))?,
    };
    match &args.out {
        Some(path) => {
            load::write_atomic(path, &text)?;
            let count = |s: catalog::Source| entities.iter().filter(|e| e.source == s).count();
            eprintln!(
                "wrote {}: {} entities ({} managed, {} external, {} base images)",
                path.display(),
                entities.len(),
                count(catalog::Source::Managed),
                count(catalog::Source::External),
                count(catalog::Source::Base),
            );
        }
        None => output::line(text.trim_end_matches('\n')),
    }
    Ok(Outcome::Ok)
}
