//! The `bundle` command line: the clap definitions and the glue from each command to the
//! libraries. Kept in a library so that completions and the man page can reuse
//! [`Cli::command`](clap::CommandFactory::command).
#![deny(missing_docs)]

mod console;
mod doctor;
mod init;
pub mod logging;
mod pins;
mod secrets;
mod shell;
mod transition;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bundle_gen::Config;
use clap::{ArgAction, Args, CommandFactory as _, Parser, Subcommand};

pub use console::Console;
pub use doctor::DoctorArgs;
pub use init::{InitArgs, STARTER_CONFIG};
pub use pins::{PartialRefresh, PinsCommand};
pub use secrets::SecretsArgs;
pub use shell::{CompletionsArgs, ManArgs};
pub use transition::TransitionsRefused;

/// Generate the Kustomize tree of a Matrix chat stack (Tuwunel, LiveKit, lk-jwt-service) from
/// one `bundle.yaml`, and keep its image pins fresh.
#[derive(Debug, Parser)]
#[command(
    name = "bundle",
    version,
    after_help = ROOT_HELP,
)]
pub struct Cli {
    /// Options of every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `-q` and `-v`, accepted before or after the subcommand. Hand-written rather than
/// clap-verbosity-flag: here `-q` also drops status lines, which that crate's log-level-only
/// `-q` does not cover.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print only the command's data and its errors: no status lines, no log messages.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Show log messages on stderr: -v info, -vv debug, -vvv trace (default: warnings).
    /// RUST_LOG, when set, replaces this level.
    #[arg(long, short, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

impl Cli {
    /// Parses the command line; on a usage error prints clap's message and exits with 2.
    /// `-q` with `-v` is refused here rather than with clap's `conflicts_with`, which misses a
    /// global flag given on another level (`bundle -q validate -v`).
    pub fn parse_args() -> Self {
        let cli = Self::parse();
        if cli.global.quiet && cli.global.verbose > 0 {
            Self::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    "--quiet cannot be used with --verbose: -q drops the log messages -v asks for",
                )
                .exit();
        }
        cli
    }
}

const ROOT_HELP: &str = "\
Examples:
  bundle init                            write a commented starter ./bundle.yaml
  bundle validate                        check ./bundle.yaml
  bundle gen                             write ./base and ./overlays from it
  bundle gen --check                     CI: fail if the committed tree is out of date
  bundle csp --config site/bundle.yaml   print CSP sources for a web client
  bundle secrets | kubeseal -o yaml      generated Secrets, sealed
  bundle -v pins status                  newer pins, and the tags each policy skipped

Output: data (tables, JSON, CSP sources, the files `gen --check` lists) goes to stdout;
status lines and log messages go to stderr. -q keeps only data and errors. RUST_LOG (e.g.
`RUST_LOG=pin_refresh=debug`) sets the log filter instead of -q/-v.

Exit codes:
  0  success
  1  `gen --check`: the tree on disk is out of date; `doctor`: a check failed
  2  error: invalid or refused config, I/O failure, bad arguments";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter bundle.yaml.
    #[command(after_help = init::INIT_HELP)]
    Init(InitArgs),
    /// Generate `base/` and `overlays/` from bundle.yaml (or check them with --check).
    #[command(after_help = GEN_HELP)]
    Gen(GenArgs),
    /// Check bundle.yaml: parse it and apply every guard, without writing anything.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ConfigArgs),
    /// Print the Content-Security-Policy sources a web client on another origin needs.
    #[command(after_help = CSP_HELP)]
    Csp(ConfigArgs),
    /// Print the Secrets the tree reads with generated values, and list the others.
    #[command(after_help = secrets::SECRETS_HELP)]
    Secrets(SecretsArgs),
    /// Inspect and refresh the image pins in bundle.yaml.
    #[command(subcommand, after_help = pins::PINS_HELP)]
    Pins(PinsCommand),
    /// Check the call path of a live deployment, hop by hop, against bundle.yaml.
    #[command(after_help = doctor::DOCTOR_HELP)]
    Doctor(DoctorArgs),
    /// Print the completion script for a shell.
    #[command(after_help = shell::COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print the man page (or write every page into a directory).
    #[command(after_help = shell::MAN_HELP)]
    Man(ManArgs),
}

const GEN_HELP: &str = "\
Examples:
  bundle gen                               ./bundle.yaml -> ./base, ./overlays
  bundle gen --config site.yaml --out gitops
  bundle gen --check                       list out-of-date files, write nothing
  bundle gen --check --against origin/main CI: also refuse changes that lose data

The tree is rendered and checked in memory first: a refused config changes nothing on disk.
Only files that start with the generated-file header are replaced or removed. What was
written goes to stderr; --check lists the files that differ on stdout (`out of date:`,
`missing:` or `stale:`, then the path), so a script can read the list.

With --against <GIT-REF>, bundle.yaml is first compared with its version at that revision:
a changed serverName or namespace, the homeserver's volume turned off, moved or resized, a
homeserver pin moved to a lower version, a changed livekit.keys.apiKeyName are refused (exit
2, nothing written), each with its fix. A reviewed change goes through with the trailer
`Bundle-Allow: <rule>` on a commit after the revision, or with --allow <rule>; the rules are
server-name, namespace, persistence-off, existing-claim, storage-class, volume-size,
homeserver-downgrade, api-key-name.

Exit codes:
  0  success (with --check: the tree is up to date)
  1  --check: some files are out of date (they are listed)
  2  error: invalid or refused config, refused change, I/O failure";

const VALIDATE_HELP: &str = "\
Examples:
  bundle validate
  bundle validate --config site/bundle.yaml

Every refused setting is listed with its key, the reason and the fix.

Exit codes:
  0  the config is valid
  2  the config is invalid or refused, or cannot be read";

const CSP_HELP: &str = "\
Examples:
  bundle csp
  bundle csp --config site/bundle.yaml

Prints one line per directive (connect-src, media-src, img-src) with the sources to add:
https:// and wss:// of the server name and of an external LiveKit host, never http:// or ws://.

Exit codes:
  0  success
  2  the config is invalid or refused, or cannot be read";

/// The config file of a site, when `--config` is not given.
const DEFAULT_CONFIG: &str = "bundle.yaml";

/// Where the config is.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The site config.
    #[arg(long, short, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

/// Arguments of `bundle gen`.
#[derive(Debug, Args)]
pub struct GenArgs {
    /// The site config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Directory that holds (or will hold) `base/` and `overlays/`.
    #[arg(long, short, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Write nothing; exit 1 and list every file that differs from what would be generated.
    #[arg(long)]
    pub check: bool,
    /// First compare bundle.yaml with its version at this git revision (the deployed branch,
    /// e.g. `origin/main`): refuse, writing nothing, changes that lose data or break clients.
    #[arg(long, value_name = "GIT-REF")]
    pub against: Option<String>,
    /// With --against: let the changes of this transition rule through (local use; in a
    /// commit, write the trailer `Bundle-Allow: <RULE>`). Repeatable.
    #[arg(long, value_name = "RULE", requires = "against")]
    pub allow: Vec<bundle_gen::TransitionRule>,
}

/// How a successful command ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (exit 0).
    Done,
    /// `gen --check` found files that are out of date (exit 1).
    OutOfDate,
    /// `doctor` found a broken hop (exit 1).
    ChecksFailed,
    /// `pins status --exit-code` found an update (exit 1).
    UpdatesAvailable,
}

/// Runs one command: its data to the console's data stream, its status lines to its status
/// stream.
pub fn run(command: Command, console: &mut Console) -> anyhow::Result<Outcome> {
    match command {
        Command::Init(args) => init::run(&args, console),
        Command::Gen(args) => generate(&args, console),
        Command::Validate(args) => validate(&args, console),
        Command::Csp(args) => csp(&args, console),
        Command::Secrets(args) => secrets::run(&args, console),
        Command::Pins(command) => pins::run(command, console),
        Command::Doctor(args) => doctor::run(&args, console),
        Command::Completions(args) => shell::completions(&args, console),
        Command::Man(args) => shell::man(&args, console),
    }
}

/// Reads and checks the config; errors name the file.
fn load_config(path: &Path) -> anyhow::Result<Config> {
    let text = fs::read_to_string(path).map_err(|error| read_error(path, error))?;
    Config::from_yaml(&text).map_err(|error| {
        ConfigFileError {
            path: path.to_owned(),
            error,
        }
        .into()
    })
}

/// A config that was read but not accepted. It prints as compilers print their errors,
/// `bundle.yaml:LINE:COLUMN: message`, which editors and CI problem matchers parse, so `main`
/// prints it without an `error:` prefix.
#[derive(Debug, thiserror::Error)]
#[error("{}", .error.with_file(.path))]
pub struct ConfigFileError {
    /// The config file.
    pub path: PathBuf,
    /// Why it was not accepted (its whole text is this error's message).
    pub error: bundle_gen::ConfigError,
}

/// Why the config at `path` cannot be read. A missing file is how a new user starts, so that
/// message says how to make one.
pub(crate) fn read_error(path: &Path, error: io::Error) -> anyhow::Error {
    if error.kind() != io::ErrorKind::NotFound {
        return anyhow::Error::new(error)
            .context(format!("cannot read the config {}", path.display()));
    }
    let init = if path == Path::new(DEFAULT_CONFIG) {
        "bundle init".to_owned()
    } else {
        format!("bundle init --config {}", path.display())
    };
    anyhow::anyhow!(
        "{} not found: run `{init}` to write a commented starter config, or pass --config FILE",
        path.display()
    )
}

fn validate(args: &ConfigArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    let overlays: Vec<&str> = config
        .variants()
        .keys()
        .map(|name| name.dir_name())
        .collect();
    console.status(format_args!(
        "{} is valid; overlays: {}",
        args.config.display(),
        overlays.join(", ")
    ))?;
    Ok(Outcome::Done)
}

fn csp(args: &ConfigArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config)?;
    write!(console.data(), "{}", bundle_gen::csp_sources(&config))?;
    Ok(Outcome::Done)
}

fn generate(args: &GenArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config.config)?;
    if let Some(against) = &args.against {
        guard_transitions(args, &config, against, console)?;
    }
    let tree = bundle_gen::render(&config).context("cannot render the tree")?;
    let root = args.out.display();
    if args.check {
        let report = tree
            .check(&args.out)
            .with_context(|| format!("cannot compare the tree with {root}"))?;
        if report.is_clean() {
            console.status(format_args!("up to date: {} files in {root}", tree.len()))?;
            return Ok(Outcome::Done);
        }
        let mut differing = 0;
        for (kind, paths) in [
            ("out of date", &report.out_of_date),
            ("missing", &report.missing),
            ("stale", &report.stale),
        ] {
            for path in paths {
                writeln!(console.data(), "{kind}: {path}")?;
                differing += 1;
            }
        }
        let files = if differing == 1 { "file" } else { "files" };
        console.status(format_args!(
            "{root}: {differing} {files} out of date; `bundle gen` rewrites them from {}",
            args.config.config.display()
        ))?;
        return Ok(Outcome::OutOfDate);
    }
    let report = tree
        .write_to(&args.out)
        .with_context(|| format!("cannot write the tree to {root}"))?;
    for path in &report.written {
        console.status(format_args!("wrote {path}"))?;
    }
    for path in &report.removed {
        console.status(format_args!("removed {path}"))?;
    }
    console.status(format_args!(
        "{root}: {} written, {} unchanged, {} removed",
        report.written.len(),
        report.unchanged.len(),
        report.removed.len()
    ))?;
    Ok(Outcome::Done)
}

/// `gen --against`: refuses the changes the transition guards refuse, and says which refused
/// changes a rule let through.
fn guard_transitions(
    args: &GenArgs,
    config: &Config,
    against: &str,
    console: &mut Console,
) -> anyhow::Result<()> {
    let guarded = transition::guard(&args.config.config, config, against, &args.allow)?;
    for key in &guarded.ignored_keys {
        console.status(format_args!(
            "ignored at `{against}`: `{key}`, a key bundle no longer knows (no transition rule \
             reads it)"
        ))?;
    }
    for change in &guarded.allowed {
        console.status(format_args!(
            "allowed ({}): `{}` changes from `{}` to `{}` against `{against}`",
            change.rule, change.key, change.old, change.new
        ))?;
    }
    Ok(())
}

/// The error and its causes on one line, each said once: a cause whose text is already part of
/// an earlier message (a library message that embeds its source) is not repeated.
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// Whether `error` is a closed stdout (`bundle csp | head -1`), which is not a failure.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
