//! The `bundle` binary: parses the arguments, runs one command, maps the result to the exit
//! code (0 success, 1 `gen --check` found out-of-date files or `doctor` a failed check, 2
//! error, 3 `pins refresh` could not check some images but made the bumps of the others).

use std::io::{self, IsTerminal as _};
use std::process::ExitCode;

use bundle::{Cli, ConfigFileError, Console, Outcome, PartialRefresh, error_chain, is_broken_pipe};

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    if let Err(error) = bundle::logging::install(&cli.global) {
        eprintln!("error: {error}");
        return ExitCode::from(2);
    }
    let mut stdout = io::stdout().lock();
    let mut stderr = io::stderr();
    let status_is_terminal = stderr.is_terminal();
    let mut console = Console::new(
        &mut stdout,
        &mut stderr,
        cli.global.quiet,
        status_is_terminal,
    );
    let result = bundle::run(cli.command, &mut console).and_then(|outcome| {
        console.data().flush()?;
        Ok(outcome)
    });
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::OutOfDate | Outcome::ChecksFailed | Outcome::UpdatesAvailable) => {
            ExitCode::from(1)
        }
        // `bundle csp | head -1`: the reader has what it wanted.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            match error.downcast_ref::<ConfigFileError>() {
                Some(located) => eprintln!("{located}"),
                None => eprintln!("error: {}", error_chain(&error)),
            }
            ExitCode::from(if error.is::<PartialRefresh>() { 3 } else { 2 })
        }
    }
}
