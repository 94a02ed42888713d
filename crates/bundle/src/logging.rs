//! The log output: the libraries' `tracing` events (the registry client's retries and skipped
//! tags, the pin policies' choices) as plain lines on stderr. No colour, so there is nothing
//! for `NO_COLOR` or a non-terminal stderr to turn off.

use std::env::{self, VarError};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::GlobalArgs;

/// The variable whose filter, when set and not empty, replaces the level of `-q`/`-v`.
pub const LOG_VARIABLE: &str = EnvFilter::DEFAULT_ENV;

/// Why the log output could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// `RUST_LOG` is not a filter. Refused rather than ignored, so a typo never silently hides
    /// the messages it was meant to show.
    #[error(
        "{LOG_VARIABLE}=`{value}` is not a log filter ({reason}); write a level (`debug`) or \
         `target=level` pairs separated by commas (`warn,pin_refresh=debug`)"
    )]
    InvalidFilter {
        /// The variable's value.
        value: String,
        /// What the parser reported.
        reason: String,
    },
    /// `RUST_LOG` is not UTF-8.
    #[error("{LOG_VARIABLE} is not valid UTF-8; write a level (`debug`) or `target=level` pairs")]
    NotUnicode,
}

/// The level `-q`/`-v` ask for: warnings by default, `-v` info, `-vv` debug, `-vvv` trace;
/// `-q` errors only.
pub fn level(global: &GlobalArgs) -> LevelFilter {
    if global.quiet {
        return LevelFilter::ERROR;
    }
    match global.verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// Installs the stderr log subscriber for the whole process: `RUST_LOG` when set and not
/// empty, else [`level`].
pub fn install(global: &GlobalArgs) -> Result<(), LoggingError> {
    let filter = match env::var(LOG_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => {
            EnvFilter::builder()
                .parse(&value)
                .map_err(|error| LoggingError::InvalidFilter {
                    reason: error.to_string(),
                    value,
                })?
        }
        Ok(_) | Err(VarError::NotPresent) => {
            EnvFilter::default().add_directive(level(global).into())
        }
        Err(VarError::NotUnicode(_)) => return Err(LoggingError::NotUnicode),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(quiet: bool, verbose: u8) -> GlobalArgs {
        GlobalArgs { quiet, verbose }
    }

    #[test]
    fn warnings_by_default_then_info_debug_and_trace_with_each_v() {
        assert_eq!(level(&global(false, 0)), LevelFilter::WARN);
        assert_eq!(level(&global(false, 1)), LevelFilter::INFO);
        assert_eq!(level(&global(false, 2)), LevelFilter::DEBUG);
        assert_eq!(level(&global(false, 3)), LevelFilter::TRACE);
        assert_eq!(level(&global(false, 9)), LevelFilter::TRACE);
    }

    #[test]
    fn quiet_keeps_only_errors() {
        assert_eq!(level(&global(true, 0)), LevelFilter::ERROR);
    }
}
