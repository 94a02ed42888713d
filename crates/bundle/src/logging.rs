//! The log output: the libraries' `tracing` events (the registry client's retries and skipped
//! tags, the pin policies' choices) as plain lines on stderr. No colour, so there is nothing
//! for `NO_COLOR` or a non-terminal stderr to turn off.
//!
//! `RUST_LOG` is read as per-target levels ([`Targets`]) rather than with `tracing`'s
//! `EnvFilter`, whose span and field filters need a regex engine that about doubled the
//! logging's share of a cold build; span and field filters are refused, not ignored.

use std::env::{self, VarError};

use tracing_subscriber::filter::{LevelFilter, LevelParseError, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::GlobalArgs;

/// The variable whose filter, when set and not empty, replaces the level of `-q`/`-v`.
pub const LOG_VARIABLE: &str = "RUST_LOG";

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
        /// The directive that does not parse, and why.
        reason: DirectiveError,
    },
    /// `RUST_LOG` is not UTF-8.
    #[error("{LOG_VARIABLE} is not valid UTF-8; write a level (`debug`) or `target=level` pairs")]
    NotUnicode,
}

/// Why one comma-separated directive of a `RUST_LOG` filter does not parse.
#[derive(Debug, thiserror::Error)]
pub enum DirectiveError {
    /// The part after `=` is not a level.
    #[error(transparent)]
    Level(#[from] LevelParseError),
    /// `=level` with nothing before the `=`.
    #[error("`{directive}` names no target before `=`")]
    NoTarget {
        /// The directive as written.
        directive: String,
    },
    /// A span or field filter (`target[span{field=value}]=level`), which `EnvFilter` reads
    /// and [`Targets`] does not.
    #[error("`{directive}` filters by span or field, which bundle does not support")]
    SpanOrField {
        /// The directive as written.
        directive: String,
    },
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

/// Parses a `RUST_LOG` filter: directives separated by commas, each a level (`debug`: every
/// target that no other directive names), a target (`pin_refresh`: all of its messages) or
/// `target=level`. A target covers its modules too (`pin_refresh` covers
/// `pin_refresh::status`), and the longest target that matches a message decides; with no
/// bare level, targets not named are off. Spaces around directives and empty ones (`warn,`)
/// are ignored.
pub fn parse_filter(text: &str) -> Result<Targets, DirectiveError> {
    let mut filter = Targets::new();
    for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if directive.contains(['[', ']', '{', '}']) {
            return Err(DirectiveError::SpanOrField {
                directive: directive.to_owned(),
            });
        }
        filter = match directive.split_once('=') {
            Some((target, _)) if target.trim().is_empty() => {
                return Err(DirectiveError::NoTarget {
                    directive: directive.to_owned(),
                });
            }
            Some((target, level)) => {
                filter.with_target(target.trim(), level.trim().parse::<LevelFilter>()?)
            }
            None => match directive.parse::<LevelFilter>() {
                Ok(level) => filter.with_default(level),
                Err(_) => filter.with_target(directive, LevelFilter::TRACE),
            },
        };
    }
    Ok(filter)
}

/// Installs the stderr log subscriber for the whole process: `RUST_LOG` when set and not
/// empty, else [`level`].
pub fn install(global: &GlobalArgs) -> Result<(), LoggingError> {
    let filter = match env::var(LOG_VARIABLE) {
        Ok(value) if !value.trim().is_empty() => {
            parse_filter(&value).map_err(|reason| LoggingError::InvalidFilter { value, reason })?
        }
        Ok(_) | Err(VarError::NotPresent) => Targets::new().with_default(level(global)),
        Err(VarError::NotUnicode(_)) => return Err(LoggingError::NotUnicode),
    };
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time();
    tracing_subscriber::registry()
        .with(lines)
        .with(filter)
        .init();
    Ok(())
}

#[cfg(test)]
mod tests {
    use tracing::Level;

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

    fn enables(filter: &str, target: &str, level: Level) -> bool {
        parse_filter(filter)
            .expect("the filter parses")
            .would_enable(target, &level)
    }

    #[test]
    fn a_bare_level_applies_to_every_target() {
        assert!(enables("debug", "pin_refresh::status", Level::DEBUG));
        assert!(enables("debug", "hyper_util", Level::DEBUG));
        assert!(!enables("debug", "pin_refresh::status", Level::TRACE));
    }

    #[test]
    fn a_target_level_pair_covers_the_targets_modules_and_leaves_others_off() {
        assert!(enables(
            "pin_refresh=info",
            "pin_refresh::status",
            Level::INFO
        ));
        assert!(!enables(
            "pin_refresh=info",
            "pin_refresh::status",
            Level::DEBUG
        ));
        assert!(!enables("pin_refresh=info", "bundle_gen", Level::ERROR));
    }

    #[test]
    fn the_longest_matching_target_decides() {
        let filter = "warn,pin_refresh=debug,pin_refresh::registry=off";
        assert!(enables(filter, "pin_refresh::status", Level::DEBUG));
        assert!(!enables(
            filter,
            "pin_refresh::registry::retry",
            Level::ERROR
        ));
        assert!(enables(filter, "bundle_gen", Level::WARN));
        assert!(!enables(filter, "bundle_gen", Level::INFO));
    }

    #[test]
    fn a_bare_target_shows_all_of_its_messages() {
        assert!(enables("pin_refresh", "pin_refresh::status", Level::TRACE));
        assert!(!enables("pin_refresh", "bundle_gen", Level::ERROR));
    }

    #[test]
    fn spaces_and_empty_directives_are_ignored() {
        assert!(enables(
            " warn , pin_refresh = debug ,",
            "pin_refresh",
            Level::DEBUG
        ));
        assert!(enables(
            " warn , pin_refresh = debug ,",
            "bundle_gen",
            Level::WARN
        ));
    }

    #[test]
    fn a_level_that_is_not_a_level_is_refused() {
        let error = parse_filter("warn,pin_refresh=loud").expect_err("refused");
        assert!(matches!(error, DirectiveError::Level(_)), "{error:?}");
    }

    #[test]
    fn a_level_without_a_target_is_refused() {
        let error = parse_filter("=debug").expect_err("refused");
        assert_eq!(error.to_string(), "`=debug` names no target before `=`");
    }

    #[test]
    fn span_and_field_filters_are_refused() {
        for filter in [
            "pin_refresh[check]=debug",
            "pin_refresh[{tag}]=debug",
            "[check]",
        ] {
            let error = parse_filter(filter).expect_err(filter);
            assert!(
                matches!(error, DirectiveError::SpanOrField { .. }),
                "{filter}: {error:?}"
            );
        }
    }
}
