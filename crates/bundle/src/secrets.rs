//! `bundle secrets`: prints (or writes, never over a file, never into the tree) the Secret
//! manifests with generated values, and lists the Secrets the operator must fill.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bundle_gen::{AtomicWrite, IfExists, NewFileMode, WriteOneError};
use clap::Args;

use crate::{ConfigArgs, Console, Outcome, load_config};

pub(crate) const SECRETS_HELP: &str = "\
Examples:
  bundle secrets | kubeseal -o yaml > sealed-secrets.yaml
  bundle secrets --out secrets.yaml && sops -e -i secrets.yaml
  bundle secrets --config site/bundle.yaml --out /secure/matrix-secrets.yaml

Prints, as one multi-document YAML, the Secrets the tree reads whose values bundle can
generate: the bundled LiveKit's API key (`<apiKeyName or a generated name>: <64 hex>`, from
the operating system's random number generator) and the registration token, in the tree's
namespace, with exactly the keys the pods mount. Every run generates new values. Seal or
encrypt the output before it goes anywhere near git.

The Secrets it cannot fill (an external SFU's keys, TLS certificates, appservice
registrations) are listed on stderr with what goes into each.

--out FILE writes the manifests to FILE with mode 0600. It never replaces an existing file,
and refuses a path inside `base/` or `overlays/`, which `bundle gen` manages and git commits.

Exit codes:
  0  success
  2  error: invalid or refused config, FILE exists or is inside the tree, I/O failure";

/// Arguments of `bundle secrets`.
#[derive(Debug, Args)]
pub struct SecretsArgs {
    /// The site config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Write the manifests to this new file (mode 0600) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `bundle secrets`.
pub(crate) fn run(args: &SecretsArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config.config)?;
    if let Some(out) = &args.out {
        // The tree is written to the current directory by default, and sits next to the
        // config in a GitOps repository.
        let config_dir = match args.config.config.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        bundle_gen::refuse_in_tree_path(out, &[Path::new("."), config_dir])?;
    }
    let manifests = bundle_gen::generate_secrets(&config).context("cannot generate the Secrets")?;
    let yaml = manifests
        .yaml()
        .context("cannot write the Secret manifests")?;
    match &args.out {
        Some(out) => {
            match AtomicWrite::write_one(
                out,
                yaml.as_bytes(),
                IfExists::Refuse,
                NewFileMode::Private,
            ) {
                Err(WriteOneError::AlreadyExists { .. }) => anyhow::bail!(
                    "{} already exists: bundle secrets never replaces a file (it may hold the \
                     only copy of Secrets already deployed). Fix: pass another --out FILE, or \
                     remove that file first",
                    out.display()
                ),
                result => result.with_context(|| format!("cannot write {}", out.display()))?,
            }
        }
        None => write!(console.data(), "{yaml}")?,
    }
    for secret in &manifests.generated {
        let name = secret.metadata.name.as_deref().unwrap_or_default();
        let keys: Vec<&str> = secret
            .string_data
            .iter()
            .flat_map(|data| data.keys().map(String::as_str))
            .collect();
        console.status(format_args!("generated Secret {name}: {}", keys.join(", ")))?;
    }
    if let Some(out) = &args.out {
        console.status(format_args!(
            "wrote {} (mode 0600): seal or encrypt it before committing it",
            out.display()
        ))?;
    }
    if !manifests.to_create.is_empty() {
        console.status(format_args!(
            "create these Secrets yourself, in namespace `{}`:",
            config.raw().namespace
        ))?;
        for secret in &manifests.to_create {
            // Each entry ends in a newline of its own.
            console.status(format_args!("{}", secret.to_string().trim_end()))?;
        }
    }
    Ok(Outcome::Done)
}
