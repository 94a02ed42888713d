//! `bundle pins`: the image-pin commands (`status`, `refresh`). Their arguments and glue
//! belong to the pin-refresh work: add each command as a variant of [`PinsCommand`] and its arm
//! in [`run`]; `main.rs` and the rest of the CLI need no change.

use std::io::Write;

use clap::Subcommand;

use crate::Outcome;

/// The `bundle pins` subcommands.
#[derive(Debug, Subcommand)]
pub enum PinsCommand {}

/// Runs one `bundle pins` command.
pub(crate) fn run(command: PinsCommand, _out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match command {}
}
