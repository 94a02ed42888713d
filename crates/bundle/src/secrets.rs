//! `bundle secrets`: prints (or writes, never over a file, never into the tree) the Secret
//! manifests with generated values, and lists the Secrets the operator must fill.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bundle_gen::{AtomicWrite, IfExists, NewFileMode, WriteOneError};
use clap::Args;

use crate::{ConfigArgs, Console, Outcome, load_config};
use bundle_gen::{Config, KeyRotation, LK_JWT_TOKEN_LIFETIME_SECONDS};

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

--rotate livekit replaces the bundled LiveKit's API key without dropping a call, in two
Secrets applied in order: DIR/step-1-both-keys.yaml (LiveKit accepts the old and the new key,
lk-jwt signs with the new one) and DIR/step-2-new-key.yaml (the old key removed). It reads the
current keys (the Secret's `livekitKeysKey` entry, one `<name>: <secret>` line) from
--current-keys FILE, or from stdin with `-`, never from the command line, and says on stderr
what to wait for between the steps:
  kubectl -n matrix get secret livekit-keys -o jsonpath='{.data.LIVEKIT_KEYS}' | base64 -d \\
    | bundle secrets --rotate livekit --current-keys - --out-dir /secure/rotation

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
    #[arg(long, short, value_name = "FILE", conflicts_with = "rotate")]
    pub out: Option<PathBuf>,
    /// Rotate the API key of the bundled LiveKit: write the two Secrets of the rotation.
    #[arg(long, value_enum, value_name = "WHAT", requires_all = ["current_keys", "out_dir"])]
    pub rotate: Option<RotateWhat>,
    /// With --rotate: the current keys, from this file or `-` for stdin.
    #[arg(long, value_name = "FILE", requires = "rotate")]
    pub current_keys: Option<PathBuf>,
    /// With --rotate: the directory the two step files are written to (mode 0600, never over a
    /// file).
    #[arg(long, value_name = "DIR", requires = "rotate")]
    pub out_dir: Option<PathBuf>,
}

/// What `--rotate` rotates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RotateWhat {
    /// The bundled LiveKit's API key (LiveKit's key file and lk-jwt's key).
    Livekit,
}

/// The files of a rotation, in the order they are applied.
const STEP_FILES: [&str; 2] = ["step-1-both-keys.yaml", "step-2-new-key.yaml"];

/// Runs `bundle secrets`.
pub(crate) fn run(args: &SecretsArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config.config)?;
    if let (Some(RotateWhat::Livekit), Some(current), Some(out_dir)) =
        (args.rotate, &args.current_keys, &args.out_dir)
    {
        return rotate_livekit(args, &config, current, out_dir, console);
    }
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

/// `bundle secrets --rotate livekit`: reads the current keys, writes the two step files (both or
/// neither: a file already there refuses the run before anything is written) and says what to
/// do and wait for between them.
fn rotate_livekit(
    args: &SecretsArgs,
    config: &Config,
    current: &Path,
    out_dir: &Path,
    console: &mut Console,
) -> anyhow::Result<Outcome> {
    let paths = STEP_FILES.map(|file| out_dir.join(file));
    let roots = [Path::new("."), config_dir(&args.config.config)];
    for path in &paths {
        bundle_gen::refuse_in_tree_path(path, &roots)?;
        if path.symlink_metadata().is_ok() {
            anyhow::bail!(
                "{} already exists: bundle secrets never replaces a file (it may hold the only \
                 copy of keys already deployed), and writes a rotation's two steps together. \
                 Fix: pass another --out-dir DIR, or remove that file first",
                path.display()
            );
        }
    }
    let current = read_current_keys(current)?;
    let rotation = bundle_gen::rotate_livekit_keys(config, &current)
        .context("cannot rotate the LiveKit keys")?;
    fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create the directory {}", out_dir.display()))?;
    for (path, secret) in paths
        .iter()
        .zip([&rotation.both_keys, &rotation.new_key_only])
    {
        let manifests = bundle_gen::SecretManifests {
            generated: vec![secret.clone()],
            to_create: Vec::new(),
        };
        let yaml = manifests
            .yaml()
            .context("cannot write the Secret manifests")?;
        AtomicWrite::write_one(
            path,
            yaml.as_bytes(),
            IfExists::Refuse,
            NewFileMode::Private,
        )
        .with_context(|| format!("cannot write {}", path.display()))?;
    }
    console.status(format_args!(
        "wrote {} and {} (mode 0600): seal or encrypt them before committing them",
        paths[0].display(),
        paths[1].display()
    ))?;
    for line in rotation_steps(&rotation, &paths) {
        console.status(line)?;
    }
    Ok(Outcome::Done)
}

/// The directory the config is in (the tree sits next to it in a GitOps repository).
fn config_dir(config: &Path) -> &Path {
    match config.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// The current keys from `path`, or from stdin for `-`.
fn read_current_keys(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the current keys from stdin")?;
        return Ok(text);
    }
    fs::read_to_string(path)
        .with_context(|| format!("cannot read the current keys from {}", path.display()))
}

/// What the operator does, in order, and what to wait for between the steps.
fn rotation_steps(rotation: &KeyRotation, paths: &[PathBuf; 2]) -> Vec<String> {
    let KeyRotation {
        secret_name,
        namespace,
        old_key_name,
        new_key_name,
        grace_period_seconds,
        ..
    } = rotation;
    let kubectl = format!("kubectl -n {namespace}");
    let token_minutes = LK_JWT_TOKEN_LIFETIME_SECONDS / 60;
    let mut steps = vec![
        format!(
            "rotating the API key `{old_key_name}` of Secret `{secret_name}` to `{new_key_name}`, \
             in order:"
        ),
        format!(
            "1. apply {}: LiveKit's key file holds `{old_key_name}` and `{new_key_name}`, \
             lk-jwt's key is `{new_key_name}`",
            paths[0].display()
        ),
        format!(
            "   then wait until LiveKit and lk-jwt run with it (with `reloader: stakater` they \
             restart by themselves; else `{kubectl} rollout restart deployment/livekit \
             deployment/lk-jwt-service`): `{kubectl} rollout status deployment/livekit` (the old \
             pod first drains its calls, up to {grace_period_seconds} s, and no call starts \
             meanwhile) and `{kubectl} rollout status deployment/lk-jwt-service`; then \
             {token_minutes} minutes more, the lifetime of the tokens lk-jwt signed with \
             `{old_key_name}`"
        ),
    ];
    let mut number = 2;
    if let Some(key) = &rotation.api_key_name_key {
        steps.push(format!(
            "{number}. set `{key}: {new_key_name}` in bundle.yaml, commit it with the trailer \
             `Bundle-Allow: api-key-name` and deploy it: LiveKit signs its webhooks with \
             `{new_key_name}` from then on"
        ));
        steps.push(format!(
            "   then wait until LiveKit runs with it: `{kubectl} rollout status \
             deployment/livekit` (another drain, up to {grace_period_seconds} s)"
        ));
        number += 1;
    }
    steps.push(format!(
        "{number}. apply {}: the key `{old_key_name}` is removed",
        paths[1].display()
    ));
    steps.push(format!(
        "   then wait until LiveKit runs without it: `{kubectl} rollout status \
         deployment/livekit` (restart it as in step 1 without a reloader); then delete both files, or \
         keep them only sealed or encrypted"
    ));
    steps
}
