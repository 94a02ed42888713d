//! The transition guards: changes between the `bundle.yaml` that is deployed and the one
//! proposed that lose data or break clients, though each config is valid on its own. The one
//! home of these rules; `bundle gen --against <git-ref>` applies them, with the deployed config
//! read from git.

use std::fmt;
use std::str::FromStr;

use crate::config::{Config, Persistence};
use crate::images::ImageName;
use crate::load::DeployedConfig;
use crate::quantity::memory_bytes;
use crate::validate::livekit_key;

/// A transition guard, named as `--allow <rule>` and the `Bundle-Allow: <rule>` trailer
/// write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransitionRule {
    /// `homeserver.serverName` changed.
    ServerName,
    /// `namespace` changed.
    Namespace,
    /// `homeserver.persistence.enabled` turned off.
    PersistenceOff,
    /// `homeserver.persistence.existingClaim` set, unset or changed.
    ExistingClaim,
    /// `homeserver.persistence.storageClass` of the claim template changed.
    StorageClass,
    /// `homeserver.persistence.size` of the claim template changed.
    VolumeSize,
    /// `images.homeserver.tag` moved to a lower version.
    HomeserverDowngrade,
    /// `livekit.keys.apiKeyName` changed.
    ApiKeyName,
}

impl TransitionRule {
    /// Every rule, in the order refusals are reported.
    pub const ALL: [TransitionRule; 8] = [
        TransitionRule::ServerName,
        TransitionRule::Namespace,
        TransitionRule::PersistenceOff,
        TransitionRule::ExistingClaim,
        TransitionRule::StorageClass,
        TransitionRule::VolumeSize,
        TransitionRule::HomeserverDowngrade,
        TransitionRule::ApiKeyName,
    ];

    /// The rule's name in `--allow` and `Bundle-Allow:`.
    pub fn name(self) -> &'static str {
        match self {
            TransitionRule::ServerName => "server-name",
            TransitionRule::Namespace => "namespace",
            TransitionRule::PersistenceOff => "persistence-off",
            TransitionRule::ExistingClaim => "existing-claim",
            TransitionRule::StorageClass => "storage-class",
            TransitionRule::VolumeSize => "volume-size",
            TransitionRule::HomeserverDowngrade => "homeserver-downgrade",
            TransitionRule::ApiKeyName => "api-key-name",
        }
    }

    /// What the change breaks.
    fn reason(self) -> &'static str {
        match self {
            TransitionRule::ServerName => {
                "every user ID, room ID and event in the database embeds the server name, and \
                 other servers and clients know the server by it: the homeserver would start \
                 over as another server, its accounts and rooms left behind"
            }
            TransitionRule::Namespace => {
                "the database volume (`data-matrix-homeserver-0`) and the Secrets stay in the \
                 old namespace: the homeserver in the new one starts with an empty database"
            }
            TransitionRule::PersistenceOff => {
                "the homeserver would keep its database in an emptyDir, no longer on the volume \
                 that holds it, and lose everything written at each restart"
            }
            TransitionRule::ExistingClaim => {
                "the homeserver would mount another volume than the one holding its database \
                 and start with that volume's contents"
            }
            TransitionRule::StorageClass | TransitionRule::VolumeSize => {
                "a StatefulSet's volumeClaimTemplates cannot be changed: the API server refuses \
                 the update, so every sync fails, and the existing claim keeps its class and \
                 size anyway"
            }
            TransitionRule::HomeserverDowngrade => {
                "Tuwunel migrates its database when a newer version starts, and an older \
                 version may not open a migrated database"
            }
            TransitionRule::ApiKeyName => {
                "the keys Secret holds the key of the old name until it is rotated: LiveKit \
                 refuses to start without a key of the new name, and lk-jwt signs tokens with \
                 whatever key the Secret holds"
            }
        }
    }

    /// How to do what the operator meant without losing data.
    fn fix(self, old: &str, new: &str, namespace: &str) -> String {
        let keep = if old == UNSET {
            "leave it unset".to_owned()
        } else {
            format!("keep `{old}`")
        };
        match self {
            TransitionRule::ServerName => format!(
                "{keep}; a new server name is a new homeserver with a new database, \
                 deployed beside this one"
            ),
            TransitionRule::Namespace => format!(
                "{keep}, or first copy the database into a claim in `{new}` and name it in \
                 `homeserver.persistence.existingClaim`, and create the Secrets there"
            ),
            TransitionRule::PersistenceOff => keep,
            TransitionRule::ExistingClaim => format!(
                "{keep}, or stop the homeserver, copy the database onto the new volume, \
                 and only then make the change"
            ),
            TransitionRule::StorageClass => format!(
                "{keep}; to move to another class, copy the database into a new claim of \
                 that class and name it in `homeserver.persistence.existingClaim`"
            ),
            TransitionRule::VolumeSize => format!(
                "resize by hand, with a storage class that allows volume expansion: `kubectl -n \
                 {namespace} patch pvc data-matrix-homeserver-0 -p \
                 '{{\"spec\":{{\"resources\":{{\"requests\":{{\"storage\":\"{new}\"}}}}}}}}'`, \
                 then `kubectl -n {namespace} delete statefulset matrix-homeserver \
                 --cascade=orphan` (the pod keeps running) so that the next sync recreates the \
                 StatefulSet with the new size, and commit the change allowed; or {keep}"
            ),
            TransitionRule::HomeserverDowngrade => format!(
                "{keep} or move to a later version; to go back, restore the database \
                 backup taken before the upgrade, then make the change"
            ),
            TransitionRule::ApiKeyName => format!(
                "{keep}, or first rotate the keys Secret to a key named `{new}` (with \
                 lk-jwt on it), then make the change"
            ),
        }
    }
}

impl fmt::Display for TransitionRule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Why a name is not a [`TransitionRule`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a transition rule; the rules are {}",
    TransitionRule::ALL.map(|rule| format!("`{rule}`")).join(", ")
)]
pub struct UnknownTransitionRule {
    /// The rejected name.
    pub name: String,
}

impl FromStr for TransitionRule {
    type Err = UnknownTransitionRule;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        TransitionRule::ALL
            .into_iter()
            .find(|rule| rule.name() == name)
            .ok_or_else(|| UnknownTransitionRule {
                name: name.to_owned(),
            })
    }
}

/// One refused change: the key, its deployed and proposed values, the reason and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionRefusal {
    /// The guard that refuses it.
    pub rule: TransitionRule,
    /// The key, as a dotted path in `bundle.yaml`.
    pub key: String,
    /// The deployed value (`unset` when absent).
    pub old: String,
    /// The proposed value (`unset` when absent).
    pub new: String,
    /// The deployed namespace (where the volume is), for the commands of the fix.
    namespace: String,
}

impl fmt::Display for TransitionRefusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            rule,
            key,
            old,
            new,
            namespace,
        } = self;
        write!(
            formatter,
            "`{key}` changes from `{old}` to `{new}`: {}. Fix: {}. To make the change anyway \
             once reviewed, add the trailer `Bundle-Allow: {rule}` to a commit of the change \
             (or pass `--allow {rule}`).",
            rule.reason(),
            rule.fix(old, new, namespace)
        )
    }
}

/// The changes from `deployed` to `proposed` that a transition guard refuses, in
/// [`TransitionRule::ALL`] order. Which of them a reviewer allowed is the caller's to say.
pub fn transition_refusals(deployed: &DeployedConfig, proposed: &Config) -> Vec<TransitionRefusal> {
    let deployed = &deployed.config;
    let namespace = deployed.raw.namespace.clone();
    let refusal = |rule, key: &str, old: String, new: String| TransitionRefusal {
        rule,
        key: key.to_owned(),
        old,
        new,
        namespace: namespace.clone(),
    };
    let mut found = Vec::new();
    let (old, new) = (&deployed.raw, &proposed.raw);
    if old.homeserver.server_name != new.homeserver.server_name {
        found.push(refusal(
            TransitionRule::ServerName,
            "homeserver.serverName",
            old.homeserver.server_name.clone(),
            new.homeserver.server_name.clone(),
        ));
    }
    if old.namespace != new.namespace {
        found.push(refusal(
            TransitionRule::Namespace,
            "namespace",
            old.namespace.clone(),
            new.namespace.clone(),
        ));
    }
    let (old_volume, new_volume) = (&old.homeserver.persistence, &new.homeserver.persistence);
    if old_volume.enabled && !new_volume.enabled {
        found.push(refusal(
            TransitionRule::PersistenceOff,
            "homeserver.persistence.enabled",
            "true".to_owned(),
            "false".to_owned(),
        ));
    }
    if old_volume.enabled && new_volume.enabled {
        if old_volume.existing_claim != new_volume.existing_claim {
            found.push(refusal(
                TransitionRule::ExistingClaim,
                "homeserver.persistence.existingClaim",
                shown(old_volume.existing_claim.as_deref()),
                shown(new_volume.existing_claim.as_deref()),
            ));
        } else if from_claim_template(old_volume) {
            if old_volume.storage_class != new_volume.storage_class {
                found.push(refusal(
                    TransitionRule::StorageClass,
                    "homeserver.persistence.storageClass",
                    shown(old_volume.storage_class.as_deref()),
                    shown(new_volume.storage_class.as_deref()),
                ));
            }
            if !same_size(&old_volume.size, &new_volume.size) {
                found.push(refusal(
                    TransitionRule::VolumeSize,
                    "homeserver.persistence.size",
                    old_volume.size.clone(),
                    new_volume.size.clone(),
                ));
            }
        }
    }
    let old_tag = old.images.get(ImageName::HOMESERVER).tag.as_ref();
    let new_tag = new.images.get(ImageName::HOMESERVER).tag.as_ref();
    if let (Some(old_tag), Some(new_tag)) = (old_tag, new_tag)
        && let (Some(old_version), Some(new_version)) =
            (version(old_tag.as_str()), version(new_tag.as_str()))
        && new_version < old_version
    {
        found.push(refusal(
            TransitionRule::HomeserverDowngrade,
            "images.homeserver.tag",
            old_tag.to_string(),
            new_tag.to_string(),
        ));
    }
    for (name, variant) in &proposed.variants {
        let Some(deployed_variant) = deployed.variants.get(name) else {
            continue;
        };
        let old_key = deployed_variant.livekit.keys.api_key_name.as_deref();
        let new_key = variant.livekit.keys.api_key_name.as_deref();
        if let (Some(old_key), Some(new_key)) = (old_key, new_key)
            && old_key != new_key
        {
            let key = livekit_key(proposed, *name, "keys.apiKeyName");
            let change = refusal(
                TransitionRule::ApiKeyName,
                &key,
                old_key.to_owned(),
                new_key.to_owned(),
            );
            // A top-level key shared by several overlays is reported once.
            if !found.contains(&change) {
                found.push(change);
            }
        }
    }
    found
}

/// Whether two claim sizes are one: by bytes when both are quantities (`10Gi` and `10240Mi`
/// are), else by text.
fn same_size(old: &str, new: &str) -> bool {
    match (memory_bytes(old), memory_bytes(new)) {
        (Some(old), Some(new)) => old == new,
        _ => old == new,
    }
}

/// Whether the database volume comes from the StatefulSet's claim template.
fn from_claim_template(persistence: &Persistence) -> bool {
    persistence.enabled && persistence.existing_claim.is_none()
}

/// How an absent value is shown.
const UNSET: &str = "unset";

fn shown(value: Option<&str>) -> String {
    value.unwrap_or(UNSET).to_owned()
}

/// A release tag as a version (`v1.9.3`, `1.9.3`); `None` when it is none, so it is not ordered.
fn version(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}
