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

--rotate livekit replaces the bundled LiveKit's API key without refusing a join, in three
Secrets applied in order: DIR/step-1-both-keys.yaml (LiveKit accepts the old and the new key,
lk-jwt stays on the old one), DIR/step-2-lk-jwt-new-key.yaml (lk-jwt signs with the new key,
right after `apiKeyName` moved to it) and DIR/step-3-new-key.yaml (the old key removed). It reads
the current keys (the Secret's `livekitKeysKey` entry, one `<name>: <secret>` line) from
--current-keys FILE, or from stdin with `-`, never from the command line, and says on stderr
what to do and wait for between the steps:
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
    /// Rotate the API key of the bundled LiveKit: write the three Secrets of the rotation.
    #[arg(long, value_enum, value_name = "WHAT", requires_all = ["current_keys", "out_dir"])]
    pub rotate: Option<RotateWhat>,
    /// With --rotate: the current keys, from this file or `-` for stdin.
    #[arg(long, value_name = "FILE", requires = "rotate")]
    pub current_keys: Option<PathBuf>,
    /// With --rotate: the directory the three step files are written to (mode 0600, never over a
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
const STEP_FILES: [&str; 3] = [
    "step-1-both-keys.yaml",
    "step-2-lk-jwt-new-key.yaml",
    "step-3-new-key.yaml",
];

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

/// `bundle secrets --rotate livekit`: reads the current keys, writes the three step files (all
/// or none: a file already there refuses the run before anything is written) and says what to
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
                 copy of keys already deployed), and writes a rotation's steps together. \
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
    for (path, secret) in paths.iter().zip([
        &rotation.both_keys,
        &rotation.lk_jwt_on_new_key,
        &rotation.new_key_only,
    ]) {
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
        "wrote {}, {} and {} (mode 0600): seal or encrypt them before committing them",
        paths[0].display(),
        paths[1].display(),
        paths[2].display()
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
fn rotation_steps(rotation: &KeyRotation, paths: &[PathBuf; 3]) -> Vec<String> {
    let KeyRotation {
        secret_name,
        namespace,
        old_key_name,
        new_key_name,
        grace_period_seconds,
        replicas,
        ..
    } = rotation;
    let kubectl = format!("kubectl -n {namespace}");
    let token_minutes = LK_JWT_TOKEN_LIFETIME_SECONDS / 60;
    let livekit_rollout = if *replicas > 1 {
        format!(
            "its {replicas} nodes restart one at a time, each draining its calls for up to \
             {grace_period_seconds} s while the others take the new ones, so up to \
             {replicas} x {grace_period_seconds} s in all"
        )
    } else {
        format!(
            "the old pod first drains its calls, up to {grace_period_seconds} s, and no call \
             starts meanwhile"
        )
    };
    let restart_livekit = format!(
        "with `reloader: stakater` it restarts by itself; else `{kubectl} rollout restart \
         deployment/livekit`"
    );
    // Reloader restarts every workload that references a changed Secret, whichever entry
    // changed: LiveKit mounts the keys Secret too, so lk-jwt's new entry rolls LiveKit again.
    let restart_lk_jwt = format!(
        "with `reloader: stakater` it restarts by itself, and so does LiveKit, which reads the \
         same Secret: one more drain, {livekit_rollout}; else `{kubectl} rollout restart \
         deployment/lk-jwt-service`"
    );
    let mut steps = vec![
        format!(
            "rotating the API key `{old_key_name}` of Secret `{secret_name}` to `{new_key_name}`, \
             in order:"
        ),
        format!(
            "1. apply {}: LiveKit's key file holds `{old_key_name}` and `{new_key_name}`, \
             lk-jwt's key stays `{old_key_name}`",
            paths[0].display()
        ),
        format!(
            "   then wait until every LiveKit node runs with both keys ({restart_livekit}): \
             `{kubectl} rollout status deployment/livekit` ({livekit_rollout}); lk-jwt must not \
             sign with `{new_key_name}` before, or a join reaching a node without it is refused"
        ),
    ];
    match &rotation.api_key_name_key {
        Some(key) => {
            steps.push(format!(
                "2. set `{key}: {new_key_name}` in bundle.yaml, commit it with the trailer \
                 `Bundle-Allow: api-key-name` and deploy it: LiveKit signs its webhooks with \
                 `{new_key_name}` from then on; wait for `{kubectl} rollout status \
                 deployment/livekit` ({livekit_rollout}), then at once apply {}: lk-jwt's key is \
                 `{new_key_name}` ({restart_lk_jwt})",
                paths[1].display()
            ));
            let refused = if *replicas > 1 {
                "those of every node already restarted, from the first node's restart on (up to \
                 the whole LiveKit rollout), and then those of a node that `rollout status` no \
                 longer counts but that still drains its calls on the old key"
            } else {
                "only those of the seconds between the new pod's start and lk-jwt's restart, as \
                 the old pod has exited by then (moving lk-jwt first would refuse those of the \
                 old pod's calls for its whole drain instead)"
            };
            steps.push(format!(
                "   lk-jwt verifies webhooks with its one key, so it refuses those LiveKit signs \
                 with `{new_key_name}` until it runs with it: {refused}; LiveKit does not send \
                 them again, and lk-jwt's own participant lookup is its fallback for them"
            ));
        }
        None => steps.push(format!(
            "2. apply {}: lk-jwt's key is `{new_key_name}` ({restart_lk_jwt}); LiveKit sends no \
             webhooks (no `apiKeyName`), so nothing else moves with it",
            paths[1].display()
        )),
    }
    steps.push(format!(
        "   then wait for `{kubectl} rollout status deployment/lk-jwt-service`, and {token_minutes} \
         minutes more: the lifetime of the tokens lk-jwt signed with `{old_key_name}`"
    ));
    steps.push(format!(
        "3. apply {}: the key `{old_key_name}` is removed",
        paths[2].display()
    ));
    steps.push(format!(
        "   then wait until every LiveKit node runs without it ({restart_livekit}): \
         `{kubectl} rollout status deployment/livekit`; then delete the three files, or keep \
         them only sealed or encrypted"
    ));
    steps
}
