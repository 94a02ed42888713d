//! `bundle init`: writes the commented starter config embedded in the binary.

use std::io::{self, Write as _};
use std::path::Path;

use anyhow::Context as _;
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
    match write_atomically(path, STARTER_CONFIG.as_bytes(), args.force) {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => anyhow::bail!(
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

/// Writes `bytes` to a temporary file next to `path`, then renames it into place, so `path`
/// is never seen half written. Without `replace`, the rename itself refuses an existing file
/// (`AlreadyExists`), so no check-then-write race can overwrite one. The file gets the usual
/// mode (0666 less the umask), not the temporary file's 0600.
fn write_atomically(path: &Path, bytes: &[u8], replace: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;

    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut file = tempfile::Builder::new()
        .prefix(".bundle-init-")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(directory)
        .map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => io::Error::new(
                io::ErrorKind::NotFound,
                format!("the directory {} does not exist", directory.display()),
            ),
            // tempfile's message names the random temporary file, which means nothing to
            // the reader: keep the operating system's own.
            _ => error
                .raw_os_error()
                .map_or(error, io::Error::from_raw_os_error),
        })?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    if replace {
        file.persist(path)?;
    } else {
        file.persist_noclobber(path)?;
    }
    Ok(())
}
