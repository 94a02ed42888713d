//! `bundle completions` and `bundle man`: what shells and `man` read about `bundle`, generated
//! from the one clap definition, [`Cli::command`](clap::CommandFactory::command).

use std::fs;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory as _};
use clap_complete::Shell;
use clap_mangen::Man;

use crate::{Cli, Console, Outcome};

pub(crate) const COMPLETIONS_HELP: &str = "\
Examples:
  bundle completions bash > ~/.local/share/bash-completion/completions/bundle
  bundle completions zsh > ~/.zfunc/_bundle          (with fpath+=~/.zfunc before compinit)
  bundle completions fish > ~/.config/fish/completions/bundle.fish
  bundle completions powershell >> $PROFILE
  bundle completions elvish >> ~/.config/elvish/rc.elv

Prints the completion script for SHELL: subcommands, options and their values.

Exit codes:
  0  the script was printed
  2  error: an unknown shell";

pub(crate) const MAN_HELP: &str = "\
Examples:
  bundle man | man -l -                 read the page now
  bundle man --out /usr/local/share/man/man1

Without --out, prints the page bundle(1): the global options and every subcommand with its
summary. With --out, writes that page and one page per subcommand (bundle-gen.1,
bundle-pins-refresh.1, ...) with its options, examples and exit codes, as `man bundle-gen`
expects.

Exit codes:
  0  the page was printed, or the pages written
  2  error: DIR cannot be created or written";

/// Arguments of `bundle completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Arguments of `bundle man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write bundle.1 and one page per subcommand into DIR (created if missing) instead of
    /// printing bundle.1.
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs `bundle completions`.
pub(crate) fn completions(
    args: &CompletionsArgs,
    console: &mut Console,
) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    // Registered for the command's own name, `bundle`, whatever the binary was started as.
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, &mut command, name, console.data());
    Ok(Outcome::Done)
}

/// Runs `bundle man`.
pub(crate) fn man(args: &ManArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    let Some(dir) = &args.out else {
        Man::new(root_command()).render(console.data())?;
        return Ok(Outcome::Done);
    };
    fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    clap_mangen::generate_to(root_command(), dir)
        .with_context(|| format!("cannot write the man pages to {}", dir.display()))?;
    console.status(format_args!(
        "wrote bundle.1 and a page per subcommand to {}",
        dir.display()
    ))?;
    Ok(Outcome::Done)
}

/// The command tree as the man pages show it: built, so that each subcommand's page is named
/// by its full path (`bundle-pins-status`), and without the `help` subcommand, which has no
/// page of its own.
fn root_command() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}
