//! `image-factory release`: a person releases an image's rebuild causes held by the
//! supply-chain policy (a new vulnerability, no verified signature), with a reason kept on
//! each cause and passed to the build.

use if_model::timestamp::Timestamp;
use if_state::rebuild;

use crate::cli::{Cli, Format};
use crate::cmd::analyze::{now_or_clock, parse_time};
use crate::exit::{CliError, Outcome};
use crate::{load, output};

/// Arguments of `release`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The enrolled image whose held causes are released.
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Why (who checked what): recorded on each cause and passed to the build.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// The time of the run, RFC 3339 (default: the clock).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<Timestamp>,
}

/// Runs `release`.
pub fn run(cli: &Cli, args: &Args) -> Result<Outcome, CliError> {
    super::text_or_json(cli)?;
    let now = now_or_clock(args.now);
    let factory = load::load_for_update(&cli.root)?;
    let baseline = if_state::baseline(&factory);
    let (enrollment, mut world) = rebuild::take(factory);
    let n = rebuild::release(&enrollment, &mut world, &args.image, &args.reason, now)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let written = load::write_state(&cli.root, &baseline, &world)?;
    if cli.format == Format::Json {
        output::print_json(&serde_json::json!({
            "image": args.image,
            "released": n,
            "changes": world.changes,
            "written": written,
        }))?;
    } else if n == 0 {
        output::line(format_args!(
            "{}: nothing is held; nothing released",
            args.image
        ));
    } else {
        for c in &world.changes {
            output::line(format_args!("{c}"));
        }
        output::line(format_args!(
            "run `image-factory reconcile` to trigger it when its delay has passed"
        ));
    }
    Ok(Outcome::Ok)
}
