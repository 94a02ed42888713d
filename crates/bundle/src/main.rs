//! The `bundle` binary: parses the arguments, runs one command, maps the result to the exit
//! code (0 success, 1 `gen --check` found out-of-date files, 2 error).

use std::io::{self, Write as _};
use std::process::ExitCode;

use bundle::{Cli, Outcome, error_chain, is_broken_pipe};
use clap::Parser as _;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = io::stdout().lock();
    let result = bundle::run(cli, &mut stdout).and_then(|outcome| {
        stdout.flush()?;
        Ok(outcome)
    });
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::OutOfDate) => ExitCode::from(1),
        // `bundle csp | head -1`: the reader has what it wanted.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_chain(&error));
            ExitCode::from(2)
        }
    }
}
