//! The Secrets a deployed tree reads but does not hold, found in the rendered objects, and the
//! manifests `bundle secrets` generates for those whose values the tool can make: random
//! credentials only it and the stack share (the LiveKit API key of the bundled SFU, the
//! registration token). The keys of each Secret come from what the pods mount, never from a
//! list kept here, so a component that mounts another key changes the output by itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{
    EnvFromSource, EnvVar, Secret, SecretProjection, SecretVolumeSource,
};
use k8s_openapi::api::networking::v1::IngressTLS;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use crate::config::{Config, OverlayName, Variant};
use crate::emit::RenderError;
use crate::render::render_objects;
use crate::tree::GENERATED_HEADER;
use crate::validate::livekit_key;

/// Bytes of randomness in a generated LiveKit API secret: 64 hex characters (LiveKit asks
/// for at least 32 characters).
const API_SECRET_BYTES: usize = 32;
/// Bytes of randomness in a generated API key name (`lk-` and 16 hex characters).
const KEY_NAME_BYTES: usize = 8;
/// Bytes of randomness in a generated password of the bundled Valkey: 64 hex characters, far
/// beyond what an online guesser could try.
const REDIS_PASSWORD_BYTES: usize = 32;
/// Bytes of randomness in a generated registration token: 32 hex characters, 128 bits, short
/// enough for a person to paste.
const REGISTRATION_TOKEN_BYTES: usize = 16;

/// Which keys of a Secret the objects read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretKeys {
    /// These keys, by name.
    Listed(BTreeSet<String>),
    /// Every key the Secret has (`envFrom`, a volume without `items`): the operator chooses
    /// them.
    All,
}

impl SecretKeys {
    fn add(&mut self, other: SecretKeys) {
        match (self, other) {
            (SecretKeys::All, _) => {}
            (this, SecretKeys::All) => *this = SecretKeys::All,
            (SecretKeys::Listed(keys), SecretKeys::Listed(more)) => keys.extend(more),
        }
    }
}

/// A Secret that the objects of some overlay read and the tree does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretReference {
    /// Its name.
    pub name: String,
    /// The keys read from it, over every overlay.
    pub keys: SecretKeys,
    /// Who reads it: `Kind/name` of each object, with the overlays that deploy it.
    pub readers: BTreeMap<String, BTreeSet<OverlayName>>,
}

impl SecretReference {
    /// The readers as one line: `Deployment/lk-jwt-service in bundled, external; ...`.
    pub fn readers_text(&self) -> String {
        self.readers
            .iter()
            .map(|(object, overlays)| {
                let overlays: Vec<&str> = overlays.iter().map(|name| name.dir_name()).collect();
                format!("{object} in {}", overlays.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Every Secret the objects of the configured overlays read (pod specs: `env` `secretKeyRef`,
/// `envFrom`, Secret and projected volumes; the Ingress's TLS Secrets) and the tree does not
/// render itself, by name.
pub fn referenced_secrets(config: &Config) -> Result<Vec<SecretReference>, RenderError> {
    let mut found: BTreeMap<String, SecretReference> = BTreeMap::new();
    for &overlay in config.variants().keys() {
        let objects = render_objects(config, overlay)?;
        let in_tree: BTreeSet<&str> = objects
            .iter()
            .filter(|object| object["kind"] == "Secret")
            .filter_map(|object| object["metadata"]["name"].as_str())
            .collect();
        for object in &objects {
            let reader = format!(
                "{}/{}",
                object["kind"].as_str().unwrap_or_default(),
                object["metadata"]["name"].as_str().unwrap_or_default()
            );
            for (name, keys) in secrets_read_by(object)? {
                if in_tree.contains(name.as_str()) {
                    continue;
                }
                let reference = found
                    .entry(name.clone())
                    .or_insert_with(|| SecretReference {
                        name,
                        keys: SecretKeys::Listed(BTreeSet::new()),
                        readers: BTreeMap::new(),
                    });
                reference.keys.add(keys);
                reference
                    .readers
                    .entry(reader.clone())
                    .or_default()
                    .insert(overlay);
            }
        }
    }
    Ok(found.into_values().collect())
}

/// The Secrets one object reads, each with the keys it reads, in the order it names them.
fn secrets_read_by(object: &Value) -> Result<Vec<(String, SecretKeys)>, RenderError> {
    let kind = object["kind"].as_str().unwrap_or_default();
    if kind == "Ingress" {
        let ingress: IngressSecretRefs = from_json(object, "Ingress")?;
        let tls = ingress.spec.and_then(|spec| spec.tls).unwrap_or_default();
        // What an ingress controller reads from a TLS Secret.
        let tls_keys = || SecretKeys::Listed(["tls.crt", "tls.key"].map(str::to_owned).into());
        return Ok(tls
            .into_iter()
            .filter_map(|tls| tls.secret_name)
            .map(|name| (name, tls_keys()))
            .collect());
    }
    let pointer = match kind {
        "Pod" => "/spec",
        "CronJob" => "/spec/jobTemplate/spec/template/spec",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => "/spec/template/spec",
        _ => return Ok(Vec::new()),
    };
    let Some(spec) = object.pointer(pointer) else {
        return Ok(Vec::new());
    };
    let spec: PodSecretRefs = from_json(spec, kind)?;
    Ok(secrets_read_by_pod(&spec))
}

// The parts of the objects that name Secrets, read instead of whole `Ingress` and `PodSpec`
// values: deserializing a `PodSpec` builds the readers of every volume source, probe and
// affinity type, a fifth of this crate's release build. Field names are the Kubernetes ones,
// the leaves the Kubernetes types, and other fields are skipped.

/// An Ingress's TLS Secrets.
#[derive(Deserialize)]
struct IngressSecretRefs {
    spec: Option<IngressSpecSecretRefs>,
}

#[derive(Deserialize)]
struct IngressSpecSecretRefs {
    tls: Option<Vec<IngressTLS>>,
}

/// A pod's containers and volumes, for the Secrets they read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSecretRefs {
    init_containers: Option<Vec<ContainerSecretRefs>>,
    containers: Option<Vec<ContainerSecretRefs>>,
    volumes: Option<Vec<VolumeSecretRefs>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerSecretRefs {
    env: Option<Vec<EnvVar>>,
    env_from: Option<Vec<EnvFromSource>>,
}

#[derive(Deserialize)]
struct VolumeSecretRefs {
    secret: Option<SecretVolumeSource>,
    projected: Option<ProjectedSecretRefs>,
}

#[derive(Deserialize)]
struct ProjectedSecretRefs {
    sources: Option<Vec<ProjectionSecretRefs>>,
}

#[derive(Deserialize)]
struct ProjectionSecretRefs {
    secret: Option<SecretProjection>,
}

fn from_json<T: serde::de::DeserializeOwned>(value: &Value, what: &str) -> Result<T, RenderError> {
    serde_json::from_value(value.clone()).map_err(|error| RenderError::Serialize {
        what: format!("rendered {what}"),
        reason: error.to_string(),
    })
}

/// The Secrets a pod reads: its containers' (init containers included) `env` and `envFrom`,
/// and its Secret and projected volumes.
fn secrets_read_by_pod(spec: &PodSecretRefs) -> Vec<(String, SecretKeys)> {
    let listed = |keys: Option<Vec<String>>| match keys {
        Some(keys) if !keys.is_empty() => SecretKeys::Listed(keys.into_iter().collect()),
        _ => SecretKeys::All,
    };
    let mut read = Vec::new();
    let containers = spec
        .init_containers
        .iter()
        .chain(&spec.containers)
        .flatten();
    for container in containers {
        for var in container.env.iter().flatten() {
            let reference = var
                .value_from
                .as_ref()
                .and_then(|from| from.secret_key_ref.as_ref());
            if let Some(reference) = reference {
                read.push((
                    reference.name.clone(),
                    SecretKeys::Listed(BTreeSet::from([reference.key.clone()])),
                ));
            }
        }
        for source in container.env_from.iter().flatten() {
            if let Some(secret) = &source.secret_ref {
                read.push((secret.name.clone(), SecretKeys::All));
            }
        }
    }
    for volume in spec.volumes.iter().flatten() {
        if let Some(secret) = &volume.secret
            && let Some(name) = &secret.secret_name
        {
            let keys = secret
                .items
                .as_ref()
                .map(|items| items.iter().map(|item| item.key.clone()).collect());
            read.push((name.clone(), listed(keys)));
        }
        let sources = volume.projected.as_ref().and_then(|p| p.sources.as_ref());
        for secret in sources
            .into_iter()
            .flatten()
            .filter_map(|s| s.secret.as_ref())
        {
            let keys = secret
                .items
                .as_ref()
                .map(|items| items.iter().map(|item| item.key.clone()).collect());
            read.push((secret.name.clone(), listed(keys)));
        }
    }
    read
}

/// What the tool knows a key of a Secret named in `bundle.yaml` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Content {
    /// The `<key name>: <secret>` line of the bundled LiveKit's API key (LiveKit's and
    /// lk-jwt's key file), which the tool can generate.
    BundledKeyLine,
    /// The same line for an external SFU, which only its operator knows.
    ExternalKeyLine,
    /// Tuwunel's registration token.
    RegistrationToken,
    /// The password of the bundled Valkey, which only it and its clients share.
    BundledRedisPassword,
}

/// What `bundle.yaml` says the keys of each Secret it names hold, by Secret and key.
fn known_contents(config: &Config) -> BTreeMap<String, BTreeMap<String, Content>> {
    let raw = config.raw();
    let mut known: BTreeMap<String, BTreeMap<String, Content>> = BTreeMap::new();
    let token = &raw.homeserver.registration_token_existing_secret;
    if !token.name.is_empty() {
        known
            .entry(token.name.clone())
            .or_default()
            .insert(token.key.clone(), Content::RegistrationToken);
    }
    for variant in config.variants().values() {
        if let Some(secret) = variant
            .livekit()
            .redis
            .as_ref()
            .filter(|redis| redis.bundled)
            .and_then(|redis| redis.password_secret())
        {
            known
                .entry(secret.name)
                .or_default()
                .insert(secret.key, Content::BundledRedisPassword);
        }
        let secret = &variant.livekit().keys.existing_secret;
        if secret.name.is_empty() {
            continue;
        }
        let content = if variant.livekit_bundled() {
            Content::BundledKeyLine
        } else {
            Content::ExternalKeyLine
        };
        // LiveKit's key file and lk-jwt's line (the same entry unless `lkJwtKeyKey` names
        // another) hold the one key.
        for key in [secret.livekit_keys_key.as_str(), secret.lk_jwt_key()] {
            let slot = known
                .entry(secret.name.clone())
                .or_default()
                .entry(key.to_owned())
                .or_insert(content);
            // An external SFU's credentials win: a Secret that holds them is never generated.
            if content == Content::ExternalKeyLine {
                *slot = content;
            }
        }
    }
    known
}

/// The key name of the bundled LiveKit, if `bundle.yaml` fixes one (`apiKeyName`).
fn configured_key_name(config: &Config) -> Option<String> {
    config
        .variants()
        .values()
        .filter(|variant| variant.livekit_bundled())
        .find_map(|variant: &Variant| variant.livekit().keys.api_key_name.clone())
}

/// A Secret `bundle secrets` cannot fill, and what the operator puts in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretToCreate {
    /// The Secret, its keys and who reads it.
    pub reference: SecretReference,
    /// What goes into it, one line per key (or one for the whole Secret).
    pub contents: Vec<String>,
}

/// The output of `bundle secrets`.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretManifests {
    /// Generated Secrets, with random values, in the tree's namespace, by name.
    pub generated: Vec<Secret>,
    /// The other Secrets the tree reads, which the operator must create.
    pub to_create: Vec<SecretToCreate>,
}

impl SecretManifests {
    /// The generated Secrets as one multi-document YAML text (`---` before each), as
    /// `kubectl apply -f`, `kubeseal` and `sops` read it. Empty when nothing was generated.
    pub fn yaml(&self) -> Result<String, RenderError> {
        let mut text = String::new();
        for secret in &self.generated {
            let body = serde_norway::to_string(secret).map_err(|error| RenderError::Serialize {
                what: "generated Secret".to_owned(),
                reason: error.to_string(),
            })?;
            text.push_str("---\n");
            text.push_str(&body);
        }
        Ok(text)
    }
}

/// Why `bundle secrets` produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The objects could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The operating system's random number generator failed.
    #[error("cannot read random bytes from the operating system: {0}")]
    Random(#[source] getrandom::Error),
}

/// Generates, from the operating system's CSPRNG, the Secrets the tree reads whose every key
/// the tool can fill, and lists the others with what goes into them.
pub fn generate_secrets(config: &Config) -> Result<SecretManifests, SecretsError> {
    generate_with(config, &mut |bytes| getrandom::fill(bytes))
}

/// [`generate_secrets`] with a given source of random bytes.
fn generate_with(
    config: &Config,
    random: &mut dyn FnMut(&mut [u8]) -> Result<(), getrandom::Error>,
) -> Result<SecretManifests, SecretsError> {
    let mut hex = |bytes: usize| -> Result<String, SecretsError> {
        let mut buffer = vec![0; bytes];
        random(&mut buffer).map_err(SecretsError::Random)?;
        Ok(hex::encode(buffer))
    };
    let known = known_contents(config);
    let mut generated = Vec::new();
    let mut to_create = Vec::new();
    for reference in referenced_secrets(config)? {
        let contents = known.get(&reference.name);
        let fillable = match (&reference.keys, contents) {
            (SecretKeys::Listed(keys), Some(contents)) => keys
                .iter()
                .map(|key| match contents.get(key) {
                    Some(
                        content @ (Content::BundledKeyLine
                        | Content::RegistrationToken
                        | Content::BundledRedisPassword),
                    ) => Some((key.clone(), *content)),
                    Some(Content::ExternalKeyLine) | None => None,
                })
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        let Some(fillable) = fillable else {
            let contents = describe(config, &reference, contents);
            to_create.push(SecretToCreate {
                reference,
                contents,
            });
            continue;
        };
        let needs_key = fillable
            .iter()
            .any(|&(_, content)| content == Content::BundledKeyLine);
        let (key_name, key_secret) = if needs_key {
            let name = match configured_key_name(config) {
                Some(name) => name,
                None => format!("lk-{}", hex(KEY_NAME_BYTES)?),
            };
            (name, hex(API_SECRET_BYTES)?)
        } else {
            (String::new(), String::new())
        };
        let mut data = BTreeMap::new();
        for (key, content) in fillable {
            let value = match content {
                Content::BundledKeyLine => format!("{key_name}: {key_secret}"),
                Content::BundledRedisPassword => hex(REDIS_PASSWORD_BYTES)?,
                Content::RegistrationToken => hex(REGISTRATION_TOKEN_BYTES)?,
                Content::ExternalKeyLine => unreachable!("an external SFU's key is never filled"),
            };
            data.insert(key, value);
        }
        generated.push(Secret {
            metadata: ObjectMeta {
                name: Some(reference.name.clone()),
                namespace: Some(config.raw().namespace.clone()),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_owned()),
            string_data: Some(data),
            ..Secret::default()
        });
    }
    Ok(SecretManifests {
        generated,
        to_create,
    })
}

/// What the operator puts into a Secret the tool does not fill, one line per key.
fn describe(
    config: &Config,
    reference: &SecretReference,
    contents: Option<&BTreeMap<String, Content>>,
) -> Vec<String> {
    let raw = config.raw();
    let SecretKeys::Listed(keys) = &reference.keys else {
        if reference.name == raw.homeserver.appservices.existing_secret {
            return vec![
                "one key per appservice, `<id>.yaml`, holding its registration file".to_owned(),
            ];
        }
        return vec!["every key its readers expect".to_owned()];
    };
    if reference.name == raw.ingress.tls.secret_name
        && let Some(issuer) = &raw.ingress.tls.cluster_issuer
    {
        return vec![format!(
            "nothing: cert-manager fills it (cluster issuer `{issuer}`, \
             `ingress.tls.clusterIssuer`)"
        )];
    }
    let turn = config
        .variants()
        .values()
        .find(|variant| variant.turn_enabled())
        .map(|variant| &variant.livekit().turn);
    if let Some(turn) = turn
        && turn.tls.existing_secret == reference.name
        && let Some(issuer) = &turn.tls.cert_manager
    {
        return vec![format!(
            "nothing: cert-manager fills it for `{}` ({} `{}`, `livekit.turn.tls.certManager`)",
            turn.domain,
            issuer.kind.as_str(),
            issuer.name
        )];
    }
    let mut lines: Vec<String> = keys
        .iter()
        .map(|key| {
            let what = match contents.and_then(|contents| contents.get(key)) {
                Some(Content::ExternalKeyLine) => {
                    "`<API key>: <API secret>` of your external LiveKit".to_owned()
                }
                _ if let Some(turn) = turn
                    && turn.tls.existing_secret == reference.name =>
                {
                    certificate_part(*key == turn.tls.key_key, &turn.domain)
                }
                _ if reference.name == raw.ingress.tls.secret_name => {
                    certificate_part(key == "tls.key", &raw.homeserver.server_name)
                }
                _ => "a value its readers expect".to_owned(),
            };
            format!("`{key}`: {what}")
        })
        .collect();
    let keys_of = |bundled: bool| {
        config.variants().values().any(|variant| {
            variant.livekit_bundled() == bundled
                && variant.livekit().keys.existing_secret.name == reference.name
        })
    };
    if keys_of(true) && keys_of(false) {
        lines.push(
            "(the bundled LiveKit and overlay `external` share this Secret, so its values must \
             be the external SFU's; give `overlays.external.livekit.keys.existingSecret.name` \
             a Secret of its own to have this one generated)"
                .to_owned(),
        );
    }
    lines
}

/// A key of a TLS Secret: the certificate or its private key, for `domain`.
fn certificate_part(private_key: bool, domain: &str) -> String {
    if private_key {
        format!("the PEM private key of the certificate for `{domain}`")
    } else {
        format!("a PEM certificate (with its chain) for `{domain}`")
    }
}

// ---- rotating the bundled LiveKit's API key ----------------------------------------------

/// `bundle secrets --rotate livekit`: the three Secrets that replace the bundled LiveKit's API
/// key without refusing a join, to be applied in order. LiveKit accepts every key of its key
/// file; lk-jwt signs join tokens with exactly one and verifies LiveKit's webhooks with that
/// same one. So LiveKit first learns the new key on every node while lk-jwt stays on the old
/// one (a token signed with the new key may reach any node), then lk-jwt moves to the new key
/// (right after LiveKit's webhook signer, `apiKeyName`, has moved), and the old key goes once
/// no token signed with it is left.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRotation {
    /// The keys Secret.
    pub secret_name: String,
    /// The tree's namespace.
    pub namespace: String,
    /// The name of the key being replaced.
    pub old_key_name: String,
    /// The name of the new key.
    pub new_key_name: String,
    /// With `apiKeyName` set: its key path in `bundle.yaml`, which must name the new key when
    /// lk-jwt moves to it (lk-jwt verifies LiveKit's webhooks with its one key) and before the
    /// old key is removed (LiveKit refuses to start without the key it signs webhooks with).
    pub api_key_name_key: Option<String>,
    /// LiveKit's `terminationGracePeriodSeconds`: how long each restart may drain calls.
    pub grace_period_seconds: u32,
    /// `livekit.replicas`: how many nodes restart, one after the other, at each LiveKit step.
    pub replicas: u16,
    /// Step 1: LiveKit's key file holds both keys, lk-jwt's entry still the old one.
    pub both_keys: Secret,
    /// Step 2: LiveKit's key file still holds both keys, lk-jwt's entry the new one.
    pub lk_jwt_on_new_key: Secret,
    /// Step 3: the new key only, in both entries.
    pub new_key_only: Secret,
}

/// How long a token lk-jwt issues is valid: until then, LiveKit must accept the key it was
/// signed with.
pub const LK_JWT_TOKEN_LIFETIME_SECONDS: u32 = 3600;

/// Why `bundle secrets --rotate livekit` produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// The objects could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The operating system's random number generator failed.
    #[error("cannot read random bytes from the operating system: {0}")]
    Random(#[source] getrandom::Error),
    /// Every overlay uses an external SFU.
    #[error(
        "no overlay bundles LiveKit (`overlays` holds only `external`), so there is no key of \
         ours to rotate: an external SFU's keys are rotated by its operator"
    )]
    NoBundledLivekit,
    /// The keys are inline in `bundle.yaml`.
    #[error(
        "the bundled LiveKit's keys are inline (`livekit.keys.apiKey` and `apiSecret`), and the \
         tree renders their Secret: there is no Secret to rotate. Fix: change the inline keys in \
         bundle.yaml (dev clusters only), or move them into a Secret named in \
         `livekit.keys.existingSecret.name`"
    )]
    InlineKeys,
    /// lk-jwt and LiveKit read one entry, which cannot hold two keys for lk-jwt.
    #[error(
        "lk-jwt reads the same entry `{entry}` of Secret `{secret}` as LiveKit, and lk-jwt \
         accepts exactly one key: that entry cannot hold the old and the new key at once, so \
         the key cannot be rotated without dropping calls. Fix: first give lk-jwt an entry of \
         its own, holding the current line: `kubectl -n {namespace} get secret {secret} -o json \
         | jq '.data.LK_JWT_KEYS = .data.{entry}' | kubectl apply -f -`, then set \
         `livekit.keys.existingSecret.lkJwtKeyKey: LK_JWT_KEYS`, deploy that, and rotate"
    )]
    SharedKeyEntry {
        /// The keys Secret.
        secret: String,
        /// `livekitKeysKey`.
        entry: String,
        /// The tree's namespace.
        namespace: String,
    },
    /// The keys Secret holds more than the bundled LiveKit's keys.
    #[error(
        "Secret `{secret}` also holds {others}, which the tool cannot write back, and applying \
         a manifest without them can remove them. Fix: give the bundled LiveKit's keys a \
         Secret of their own (`livekit.keys.existingSecret.name`)"
    )]
    SharedSecret {
        /// The keys Secret.
        secret: String,
        /// The other entries and readers, as a phrase.
        others: String,
    },
    /// The keys Secret holds the external SFU's keys too.
    #[error(
        "overlay `external` reads its SFU's keys from Secret `{secret}` too, so its values are \
         the external SFU's, which only its operator can rotate. Fix: give \
         `overlays.external.livekit.keys.existingSecret.name` a Secret of its own"
    )]
    SharedWithExternal {
        /// The keys Secret.
        secret: String,
    },
    /// The current keys could not be read.
    #[error(
        "the current keys are not one `<key name>: <secret>` line: {reason}. Fix: pass the \
         entry `{entry}` of Secret `{secret}` as it is: `kubectl -n {namespace} get secret \
         {secret} -o jsonpath='{{.data.{entry}}}' | base64 -d`"
    )]
    CurrentKeyUnreadable {
        /// What is wrong.
        reason: &'static str,
        /// The keys Secret.
        secret: String,
        /// `livekitKeysKey`.
        entry: String,
        /// The tree's namespace.
        namespace: String,
    },
    /// The current key is not the one `apiKeyName` names.
    #[error(
        "the current key is named `{found}`, but `{key}` is `{configured}`: LiveKit signs its \
         webhooks with `{configured}` and would not start with these keys. Fix: pass the keys \
         the deployed Secret holds, or correct `{key}` first"
    )]
    CurrentKeyIsNotApiKeyName {
        /// The name in the given line.
        found: String,
        /// `apiKeyName`'s value.
        configured: String,
        /// `apiKeyName`'s key path.
        key: String,
    },
}

/// The three Secrets of a rotation of the bundled LiveKit's API key away from `current`, the
/// entry `livekitKeysKey` of the keys Secret as it is deployed (one `<name>: <secret>` line);
/// the new key from the operating system's CSPRNG.
pub fn rotate_livekit_keys(config: &Config, current: &str) -> Result<KeyRotation, RotateError> {
    rotate_with(config, current, &mut |bytes| getrandom::fill(bytes))
}

/// [`rotate_livekit_keys`] with a given source of random bytes.
fn rotate_with(
    config: &Config,
    current: &str,
    random: &mut dyn FnMut(&mut [u8]) -> Result<(), getrandom::Error>,
) -> Result<KeyRotation, RotateError> {
    let Some(variant) = config
        .variants()
        .values()
        .find(|variant| variant.livekit_bundled())
    else {
        return Err(RotateError::NoBundledLivekit);
    };
    let keys = &variant.livekit().keys;
    let secret = &keys.existing_secret;
    if secret.name.is_empty() {
        return Err(RotateError::InlineKeys);
    }
    let shared_with_external = config.variants().values().any(|other| {
        !other.livekit_bundled() && other.livekit().keys.existing_secret.name == secret.name
    });
    if shared_with_external {
        return Err(RotateError::SharedWithExternal {
            secret: secret.name.clone(),
        });
    }
    let namespace = config.raw().namespace.clone();
    let livekit_entry = secret.livekit_keys_key.clone();
    let lk_jwt_entry = secret.lk_jwt_key().to_owned();
    if livekit_entry == lk_jwt_entry {
        return Err(RotateError::SharedKeyEntry {
            secret: secret.name.clone(),
            entry: livekit_entry,
            namespace,
        });
    }
    check_keys_secret_holds_only_the_keys(config, &secret.name, [&livekit_entry, &lk_jwt_entry])?;
    let (old_name, old_secret) =
        current_key(current).map_err(|reason| RotateError::CurrentKeyUnreadable {
            reason,
            secret: secret.name.clone(),
            entry: livekit_entry.clone(),
            namespace: namespace.clone(),
        })?;
    let api_key_name_key = livekit_key(config, variant.name(), "keys.apiKeyName");
    if let Some(configured) = &keys.api_key_name
        && *configured != old_name
    {
        return Err(RotateError::CurrentKeyIsNotApiKeyName {
            found: old_name,
            configured: configured.clone(),
            key: api_key_name_key,
        });
    }
    let mut hex = |bytes: usize| -> Result<String, RotateError> {
        let mut buffer = vec![0; bytes];
        random(&mut buffer).map_err(RotateError::Random)?;
        Ok(hex::encode(buffer))
    };
    let new_name = format!("lk-{}", hex(KEY_NAME_BYTES)?);
    let new_line = format!("{new_name}: {}", hex(API_SECRET_BYTES)?);
    let old_line = format!("{old_name}: {old_secret}");
    // lk-jwt splits its key file on `:` and needs exactly two parts: one line, one `:`.
    let keys_secret = |livekit_file: String, lk_jwt_line: &str| Secret {
        metadata: ObjectMeta {
            name: Some(secret.name.clone()),
            namespace: Some(namespace.clone()),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_owned()),
        string_data: Some(BTreeMap::from([
            (livekit_entry.clone(), livekit_file),
            (lk_jwt_entry.clone(), lk_jwt_line.to_owned()),
        ])),
        ..Secret::default()
    };
    // LiveKit reads its key file as a YAML mapping of key names to secrets.
    let both_lines = format!("{old_line}\n{new_line}\n");
    Ok(KeyRotation {
        secret_name: secret.name.clone(),
        namespace: namespace.clone(),
        old_key_name: old_name,
        new_key_name: new_name,
        api_key_name_key: keys.api_key_name.is_some().then_some(api_key_name_key),
        grace_period_seconds: variant.livekit().termination_grace_period_seconds,
        replicas: variant.livekit().replicas,
        both_keys: keys_secret(both_lines.clone(), &old_line),
        lk_jwt_on_new_key: keys_secret(both_lines, &new_line),
        new_key_only: keys_secret(new_line.clone(), &new_line),
    })
}

/// The one `<name>: <secret>` line of the current keys (a line end after it allowed).
fn current_key(text: &str) -> Result<(String, String), &'static str> {
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let Some(line) = lines.next() else {
        return Err("it is empty");
    };
    if lines.next().is_some() {
        return Err(
            "it holds more than one line (an earlier rotation not finished? apply its last step \
             first)",
        );
    }
    let Some((name, secret)) = line.split_once(':') else {
        return Err("the line has no `:`");
    };
    let (name, secret) = (name.trim(), secret.trim());
    if name.is_empty() || secret.is_empty() || secret.contains(':') {
        return Err("the line is not `<key name>: <secret>`");
    }
    Ok((name.to_owned(), secret.to_owned()))
}

/// Refuses a keys Secret from which the pods read more than LiveKit's and lk-jwt's entries:
/// the rotation's manifests hold only those.
fn check_keys_secret_holds_only_the_keys(
    config: &Config,
    secret: &str,
    entries: [&str; 2],
) -> Result<(), RotateError> {
    let Some(reference) = referenced_secrets(config)?
        .into_iter()
        .find(|reference| reference.name == secret)
    else {
        return Ok(());
    };
    let others = match &reference.keys {
        SecretKeys::All => Some("entries its readers choose".to_owned()),
        SecretKeys::Listed(keys) => {
            let others: Vec<String> = keys
                .iter()
                .filter(|key| !entries.contains(&key.as_str()))
                .map(|key| format!("`{key}`"))
                .collect();
            (!others.is_empty()).then(|| others.join(", "))
        }
    };
    match others {
        Some(others) => Err(RotateError::SharedSecret {
            secret: secret.to_owned(),
            others: format!("{others} (read by {})", reference.readers_text()),
        }),
        None => Ok(()),
    }
}

/// Why a path cannot take the generated Secrets.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} is inside the generated tree ({}): secret values must never be committed there, and \
     `bundle gen` manages that directory. Fix: write them outside `base/` and `overlays/`, \
     e.g. `--out secrets.yaml`, then seal or encrypt them",
    path.display(),
    tree_dir.display()
)]
pub struct InTreePath {
    /// The refused path.
    pub path: PathBuf,
    /// The tree directory it is in.
    pub tree_dir: PathBuf,
}

/// Refuses `path` when it lies in a `base/` or `overlays/` directory of a tree rooted at one
/// of `roots` (the directory `bundle gen` writes to by default, the config's directory), or
/// below any directory holding a generated `kustomization.yaml` (a tree written elsewhere).
/// Paths are compared after resolving symlinks of the directories that exist.
pub fn refuse_in_tree_path(path: &Path, roots: &[&Path]) -> Result<(), InTreePath> {
    let target = resolved(path);
    for root in roots {
        let root = resolved(root);
        for dir in ["base", "overlays"] {
            let tree_dir = root.join(dir);
            if target.starts_with(&tree_dir) {
                return Err(InTreePath {
                    path: path.to_owned(),
                    tree_dir,
                });
            }
        }
    }
    for dir in target.ancestors().skip(1) {
        let kustomization = std::fs::read(dir.join("kustomization.yaml")).unwrap_or_default();
        if kustomization.starts_with(GENERATED_HEADER.as_bytes()) {
            return Err(InTreePath {
                path: path.to_owned(),
                tree_dir: dir.to_owned(),
            });
        }
    }
    Ok(())
}

/// `path` made absolute, with its longest existing prefix canonicalized (the rest, not on
/// disk yet, appended as written).
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest
                .iter()
                .rev()
                .fold(canonical, |path, part| path.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

impl fmt::Display for SecretToCreate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}, read by {}:",
            self.reference.name,
            self.reference.readers_text()
        )?;
        for line in &self.contents {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source of random bytes that counts up, so each value is distinct and known.
    fn counting() -> impl FnMut(&mut [u8]) -> Result<(), getrandom::Error> {
        let mut next = 0u8;
        move |bytes: &mut [u8]| {
            for byte in bytes {
                *byte = next;
                next = next.wrapping_add(1);
            }
            Ok(())
        }
    }

    /// The site fixture, with `edit` applied to its text.
    fn site(edit: impl FnOnce(String) -> String) -> Config {
        let text = edit(include_str!("../tests/fixtures/configs/site.yaml").to_owned());
        Config::from_yaml(&text).unwrap_or_else(|error| panic!("{error}"))
    }

    fn without_key_name(text: String) -> String {
        text.replace(", apiKeyName: lk-jwt}", "}")
    }

    #[test]
    fn every_key_of_the_keys_secret_holds_a_part_of_one_credential() {
        let manifests = generate_with(&site(without_key_name), &mut counting()).unwrap();
        let keys = manifests
            .generated
            .iter()
            .find(|secret| secret.metadata.name.as_deref() == Some("livekit-keys"))
            .and_then(|secret| secret.string_data.clone())
            .expect("the keys Secret is generated");
        let line = &keys["LIVEKIT_KEYS"];
        let (name, secret) = line.split_once(": ").expect("`<name>: <secret>`");
        assert!(
            name.starts_with("lk-") && name.len() == 3 + 2 * KEY_NAME_BYTES,
            "{name}"
        );
        assert_eq!(secret.len(), 64);
        assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()), "{secret}");
        for (key, expected) in [("LIVEKIT_API_KEY", name), ("LIVEKIT_API_SECRET", secret)] {
            if let Some(value) = keys.get(key) {
                assert_eq!(value, expected, "{key}");
            }
        }
    }

    #[test]
    fn the_configured_api_key_name_names_the_generated_key() {
        let manifests = generate_with(&site(|text| text), &mut counting()).unwrap();
        let line = manifests
            .generated
            .iter()
            .find_map(|secret| secret.string_data.as_ref()?.get("LIVEKIT_KEYS").cloned())
            .expect("a key file");
        assert!(line.starts_with("lk-jwt: "), "{line}");
    }

    #[test]
    fn lk_jwts_own_entry_holds_the_same_generated_key_line_as_livekits() {
        let config = site(|text| {
            text.replace(
                "existingSecret: {name: livekit-keys}",
                "existingSecret: {name: livekit-keys, lkJwtKeyKey: LK_JWT_KEYS}",
            )
        });
        let manifests = generate_with(&config, &mut counting()).unwrap();
        let keys = manifests
            .generated
            .iter()
            .find(|secret| secret.metadata.name.as_deref() == Some("livekit-keys"))
            .and_then(|secret| secret.string_data.clone())
            .expect("the keys Secret is generated");
        assert_eq!(
            keys.keys().collect::<Vec<_>>(),
            ["LIVEKIT_KEYS", "LK_JWT_KEYS"]
        );
        assert_eq!(keys["LIVEKIT_KEYS"], keys["LK_JWT_KEYS"]);
    }

    #[test]
    fn the_bundled_valkeys_password_is_generated_for_it_and_its_clients() {
        let config = Config::from_yaml(include_str!("../tests/fixtures/configs/valkey.yaml"))
            .unwrap_or_else(|error| panic!("{error}"));
        let manifests = generate_with(&config, &mut counting()).unwrap();
        let valkey = manifests
            .generated
            .iter()
            .find(|secret| secret.metadata.name.as_deref() == Some("valkey"))
            .expect("the Valkey Secret is generated");
        let data = valkey.string_data.clone().unwrap_or_default();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["password"]);
        let password = &data["password"];
        assert_eq!(password.len(), 2 * REDIS_PASSWORD_BYTES);
        assert!(
            password.bytes().all(|b| b.is_ascii_hexdigit()),
            "{password}"
        );
        let reference = referenced_secrets(&config)
            .unwrap()
            .into_iter()
            .find(|reference| reference.name == "valkey")
            .expect("the Valkey Secret is read");
        assert_eq!(
            reference.readers.keys().collect::<Vec<_>>(),
            [
                "Deployment/livekit",
                "Deployment/lk-jwt-service",
                "Deployment/valkey"
            ]
        );
    }

    #[test]
    fn a_rotation_gives_livekit_the_new_key_before_lk_jwt_and_removes_the_old_one_last() {
        let config = site(|text| {
            text.replace(
                "existingSecret: {name: livekit-keys}",
                "existingSecret: {name: livekit-keys, lkJwtKeyKey: LK_JWT_KEYS}",
            )
        });
        let old = format!("lk-jwt: {}", "ab".repeat(API_SECRET_BYTES));
        let rotation = rotate_with(&config, &old, &mut counting()).unwrap();
        let entries = |secret: &Secret| {
            let data = secret.string_data.clone().expect("stringData");
            (data["LIVEKIT_KEYS"].clone(), data["LK_JWT_KEYS"].clone())
        };
        let (_, new) = entries(&rotation.new_key_only);
        assert!(
            new.starts_with(&format!("{}: ", rotation.new_key_name)),
            "{new}"
        );
        let both = format!("{old}\n{new}\n");
        assert_eq!(entries(&rotation.both_keys), (both.clone(), old.clone()));
        assert_eq!(entries(&rotation.lk_jwt_on_new_key), (both, new.clone()));
        assert_eq!(entries(&rotation.new_key_only), (new.clone(), new));
    }

    #[test]
    fn a_failing_random_source_is_an_error_not_a_weak_value() {
        let mut failing = |_: &mut [u8]| Err(getrandom::Error::UNSUPPORTED);
        let error = generate_with(&site(|text| text), &mut failing).expect_err("no randomness");
        assert!(matches!(error, SecretsError::Random(_)), "{error:?}");
    }

    #[test]
    fn a_secret_the_tree_renders_itself_is_not_referenced() {
        let config = site(|text| {
            let inline = "registrationToken: dev-token";
            format!("allowInlineSecrets: true\n{text}").replace(
                "registrationTokenExistingSecret: {name: matrix-registration, key: registration_token}",
                inline,
            )
        });
        let names: Vec<String> = referenced_secrets(&config)
            .unwrap()
            .into_iter()
            .map(|reference| reference.name)
            .collect();
        assert!(
            !names.contains(&"matrix-homeserver-secret".to_owned()),
            "{names:?}"
        );
        assert!(names.contains(&"livekit-keys".to_owned()), "{names:?}");
    }

    #[test]
    fn the_external_sfus_keys_and_the_certificates_are_left_to_the_operator() {
        let manifests = generate_with(&site(|text| text), &mut counting()).unwrap();
        let generated: Vec<&str> = manifests
            .generated
            .iter()
            .filter_map(|secret| secret.metadata.name.as_deref())
            .collect();
        let to_create: Vec<&str> = manifests
            .to_create
            .iter()
            .map(|secret| secret.reference.name.as_str())
            .collect();
        assert_eq!(generated, ["livekit-keys", "matrix-registration"]);
        assert_eq!(
            to_create,
            [
                "livekit-external-keys",
                "matrix-appservices",
                "matrix-certificate",
                "turn-tls"
            ]
        );
    }

    #[test]
    fn a_turn_secret_cert_manager_fills_is_listed_as_needing_nothing() {
        let text = include_str!("../tests/fixtures/configs/turn-cert-manager.yaml");
        let config = Config::from_yaml(text).unwrap_or_else(|error| panic!("{error}"));
        let manifests = generate_with(&config, &mut counting()).unwrap();
        let turn = manifests
            .to_create
            .iter()
            .find(|secret| secret.reference.name == "turn-tls")
            .expect("turn-tls is listed");
        assert_eq!(
            turn.contents,
            [
                "nothing: cert-manager fills it for `turn.chat.example.com` (ClusterIssuer \
                 `letsencrypt-dns01`, `livekit.turn.tls.certManager`)"
            ]
        );
    }

    fn listed(keys: &[&str]) -> SecretKeys {
        SecretKeys::Listed(keys.iter().map(|&key| key.to_owned()).collect())
    }

    #[test]
    fn a_pod_reads_the_secrets_of_its_env_env_from_and_secret_and_projected_volumes() {
        let deployment = serde_json::json!({
            "kind": "Deployment",
            "spec": {"template": {"spec": {
                "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "all-of-it"}}]}],
                "containers": [{
                    "name": "app",
                    "image": "app",
                    "env": [
                        {"name": "PLAIN", "value": "x"},
                        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "token", "key": "value"}}},
                        {"name": "OTHER", "valueFrom": {"configMapKeyRef": {"name": "config", "key": "k"}}}
                    ],
                    "envFrom": [{"configMapRef": {"name": "config"}}]
                }],
                "volumes": [
                    {"name": "whole", "secret": {"secretName": "whole"}},
                    {"name": "some", "secret": {"secretName": "some", "items": [{"key": "a", "path": "a"}]}},
                    {"name": "empty-dir", "emptyDir": {}},
                    {"name": "projected", "projected": {"sources": [
                        {"secret": {"name": "projected", "items": [{"key": "b", "path": "b"}]}},
                        {"configMap": {"name": "config"}}
                    ]}}
                ]
            }}}
        });
        assert_eq!(
            secrets_read_by(&deployment).unwrap(),
            [
                ("all-of-it".to_owned(), SecretKeys::All),
                ("token".to_owned(), listed(&["value"])),
                ("whole".to_owned(), SecretKeys::All),
                ("some".to_owned(), listed(&["a"])),
                ("projected".to_owned(), listed(&["b"])),
            ]
        );
    }

    #[test]
    fn an_ingress_reads_the_certificate_and_key_of_its_tls_secrets() {
        let ingress = serde_json::json!({
            "kind": "Ingress",
            "spec": {"tls": [{"hosts": ["chat.example.org"], "secretName": "chat-tls"}, {"hosts": ["x"]}]}
        });
        assert_eq!(
            secrets_read_by(&ingress).unwrap(),
            [("chat-tls".to_owned(), listed(&["tls.crt", "tls.key"]))]
        );
    }
}
