//! `bundle init`: writes the commented starter config embedded in the binary.

use anyhow::Context as _;
use bundle_gen::{AtomicWrite, IfExists, NewFileMode, WriteOneError};
use clap::Args;

use crate::{ConfigArgs, Console, Outcome};

/// The starter `bundle.yaml`: every key it sets is explained, names are example.org's, the IP
/// is from TEST-NET-3, secrets are references to existing Secrets, and the pins are real.
pub const STARTER_CONFIG: &str = include_str!("starter.yaml");

pub(crate) const INIT_HELP: &str = "\
Examples:
  bundle init                          write ./bundle.yaml
  bundle init --config site/bundle.yaml
  bundle init --force                  replace an existing ./bundle.yaml

The starter config explains every key it sets. It deploys all three overlays with example.org
names, a TEST-NET address and references to Secrets you create; it passes `bundle validate`
as written. Edit it, then run `bundle validate` and `bundle gen`.

Exit codes:
  0  the file was written
  2  error: the file exists (and no --force), or it cannot be written";

/// Arguments of `bundle init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the starter config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// Runs `bundle init`.
pub(crate) fn run(args: &InitArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    let path = &args.config.config;
    let if_exists = if args.force {
        IfExists::Replace
    } else {
        IfExists::Refuse
    };
    match AtomicWrite::write_one(
        path,
        STARTER_CONFIG.as_bytes(),
        if_exists,
        NewFileMode::Shared,
    ) {
        Err(WriteOneError::AlreadyExists { .. }) => anyhow::bail!(
            "{} already exists: pass --force to replace it, or --config FILE to write the \
             starter config elsewhere",
            path.display()
        ),
        result => result.with_context(|| format!("cannot write {}", path.display()))?,
    }
    console.status(format_args!(
        "wrote {}: a starter config; edit it, then run `bundle validate` and `bundle gen`",
        path.display()
    ))?;
    Ok(Outcome::Done)
}
