//! `bundle gen --against <git-ref>`: the config deployed from `<git-ref>` is read from git,
//! compared with the proposed one by bundle-gen's transition guards, and the overrides are
//! collected from `--allow` and the `Bundle-Allow:` trailers of the commits after the ref.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use bundle_gen::{Config, DeployedConfig, TransitionRefusal, TransitionRule, transition_refusals};
use pin_refresh::Repo;

/// The commit trailer that lets a refused transition through, e.g. `Bundle-Allow: volume-size`.
pub(crate) const ALLOW_TRAILER: &str = "Bundle-Allow";

/// Changes against the deployed config that the transition guards refuse; nothing was written.
#[derive(Debug, thiserror::Error)]
pub struct TransitionsRefused {
    /// The config file.
    pub config: PathBuf,
    /// The revision compared with.
    pub against: String,
    /// Every refused change.
    pub refusals: Vec<TransitionRefusal>,
}

impl fmt::Display for TransitionsRefused {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.refusals.len();
        let changes = if count == 1 { "change" } else { "changes" };
        write!(
            formatter,
            "{}: {count} {changes} against `{}` refused, nothing written:",
            self.config.display(),
            self.against
        )?;
        for refusal in &self.refusals {
            write!(formatter, "\n{}: {refusal}", self.config.display())?;
        }
        Ok(())
    }
}

/// What `gen --against` found that it let through.
pub(crate) struct Guarded {
    /// The refused changes a rule let through.
    pub(crate) allowed: Vec<TransitionRefusal>,
    /// The keys of the deployed config that today's model does not know, left out of the
    /// comparison (no rule reads them).
    pub(crate) ignored_keys: Vec<String>,
}

/// Refuses `proposed` (read from `config_path`) when, compared with the same file at
/// `against`, a transition guard refuses a change that neither `allowed` (from `--allow`) nor a
/// `Bundle-Allow:` trailer between `against` and HEAD lets through. A file absent at `against`
/// (a new site) has nothing to compare with. Returns the refused changes that were allowed and
/// the deployed keys left out.
pub(crate) fn guard(
    config_path: &Path,
    proposed: &Config,
    against: &str,
    allowed: &[TransitionRule],
) -> anyhow::Result<Guarded> {
    let path = fs::canonicalize(config_path)
        .with_context(|| format!("cannot find the config {}", config_path.display()))?;
    let repo = Repo::open(&path)?;
    let commit = repo.resolve_commit(against)?;
    let Some(text) = repo.file_at(&commit, &path)? else {
        return Ok(Guarded {
            allowed: Vec::new(),
            ignored_keys: Vec::new(),
        });
    };
    let deployed = DeployedConfig::from_yaml(&text).map_err(|error| {
        let at_revision = PathBuf::from(format!("{against}:{}", config_path.display()));
        anyhow::anyhow!(
            "the config at `{against}` cannot be read, so no change can be compared with it:\n{}",
            error.with_file(&at_revision)
        )
    })?;
    let mut rules: BTreeSet<TransitionRule> = allowed.iter().copied().collect();
    for value in repo.trailer_values(&commit, ALLOW_TRAILER)? {
        for name in value.split(',').map(str::trim) {
            let rule = name.parse::<TransitionRule>().with_context(|| {
                format!("a `{ALLOW_TRAILER}: {value}` trailer after `{against}`")
            })?;
            rules.insert(rule);
        }
    }
    let (let_through, refusals): (Vec<_>, Vec<_>) = transition_refusals(&deployed, proposed)
        .into_iter()
        .partition(|refusal| rules.contains(&refusal.rule));
    if refusals.is_empty() {
        Ok(Guarded {
            allowed: let_through,
            ignored_keys: deployed.ignored_keys().to_vec(),
        })
    } else {
        Err(TransitionsRefused {
            config: config_path.to_owned(),
            against: against.to_owned(),
            refusals,
        }
        .into())
    }
}
