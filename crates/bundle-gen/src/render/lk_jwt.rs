//! lk-jwt-service: Deployment and Service `lk-jwt-service`, its NetworkPolicy, and the
//! LiveKit connection (URL and key files) that the LiveKit component or the `external`
//! overlay adds, since it differs per variant.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, Volume, VolumeMount};

use super::kustomize::PatchOp;
use super::pod::{
    container_port, container_security, http_probe, http_service, meta, mount, pod_template,
    resources, secret_volume, selector, tmp_mount, tmp_volume,
};
use super::policy::ingress_only_policy;
use super::{Object, Refs, RenderError, to_json};
use crate::config::{RawConfig, Variant};

/// Name of the Deployment, its Service and its pods' `app` label.
pub(super) const NAME: &str = "lk-jwt-service";
/// lk-jwt's default listen port (`LIVEKIT_JWT_BIND` unset).
pub(super) const PORT: u16 = 8080;
/// The Secret rendered from inline `livekit.keys` (bundled LiveKit on dev clusters only).
pub(super) const INLINE_KEYS_SECRET: &str = "livekit-secret";

const UID: i64 = 10033;
const KEYS_VOLUME: &str = "livekit-keys";
const KEYS_DIR: &str = "/etc/lk-jwt-keys";

/// lk-jwt's LiveKit webhook receiver (0.6+), reached in-cluster through the Service. The
/// `.svc` name resolves through the pod's DNS search path, whatever the cluster domain.
pub(super) fn webhook_url(namespace: &str) -> String {
    format!("http://{NAME}.{namespace}.svc:{PORT}/sfu_webhook")
}

/// The Secret holding a variant's LiveKit API keys, and the keys inside it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct KeysSecret {
    /// Secret name.
    pub name: String,
    /// Key of the API key (read by lk-jwt).
    pub api_key_key: String,
    /// Key of the API secret (read by lk-jwt).
    pub api_secret_key: String,
    /// Key of the `"<key>: <secret>"` line (read by livekit-server).
    pub livekit_keys_key: String,
    /// Whether the generator renders this Secret from inline values.
    pub inline: bool,
}

impl KeysSecret {
    /// The keys Secret of `variant`: the existing Secret, else (bundled LiveKit, inline
    /// secrets allowed) the Secret rendered from the inline keys.
    pub(super) fn of(raw: &RawConfig, variant: &Variant) -> Result<Self, RenderError> {
        let keys = &variant.livekit.keys;
        let existing = &keys.existing_secret;
        let with_name = |name: &str, inline: bool| Self {
            name: name.to_owned(),
            api_key_key: existing.api_key_key.clone(),
            api_secret_key: existing.api_secret_key.clone(),
            livekit_keys_key: existing.livekit_keys_key.clone(),
            inline,
        };
        if !existing.name.is_empty() {
            Ok(with_name(&existing.name, false))
        } else if variant.livekit_bundled()
            && !keys.api_key.is_empty()
            && !keys.api_secret.is_empty()
        {
            if raw.allow_inline_secrets {
                Ok(with_name(INLINE_KEYS_SECRET, true))
            } else {
                Err(RenderError::InlineSecretNotAllowed {
                    key: "livekit.keys.apiSecret",
                })
            }
        } else {
            Err(RenderError::MissingLivekitKeys {
                overlay: variant.name.dir_name(),
            })
        }
    }
}

/// What lk-jwt needs to know about the SFU of one variant.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LivekitConnection {
    /// Public `wss://` URL, returned to clients and used for Twirp calls.
    pub url: String,
    /// Where the API key and secret are.
    pub keys: KeysSecret,
}

impl LivekitConnection {
    /// The connection of `variant`.
    pub(super) fn of(raw: &RawConfig, variant: &Variant) -> Result<Self, RenderError> {
        Ok(Self {
            url: variant.livekit.public_url.clone(),
            keys: KeysSecret::of(raw, variant)?,
        })
    }

    /// `LIVEKIT_URL` and the key files (files, not env values: the secret stays out of the
    /// process environment).
    fn env(&self) -> Vec<EnvVar> {
        let var = |name: &str, value: String| EnvVar {
            name: name.to_owned(),
            value: Some(value),
            ..EnvVar::default()
        };
        vec![
            var("LIVEKIT_URL", self.url.clone()),
            var("LIVEKIT_KEY_FROM_FILE", format!("{KEYS_DIR}/key")),
            var("LIVEKIT_SECRET_FROM_FILE", format!("{KEYS_DIR}/secret")),
        ]
    }

    fn volume(&self) -> Volume {
        secret_volume(
            KEYS_VOLUME,
            &self.keys.name,
            &[
                (self.keys.api_key_key.as_str(), "key"),
                (self.keys.api_secret_key.as_str(), "secret"),
            ],
        )
    }

    fn mount() -> VolumeMount {
        mount(KEYS_VOLUME, KEYS_DIR, true)
    }

    /// JSON patch operations that add this connection to the base Deployment, appending in
    /// the same order as [`objects`] does when given the connection.
    pub(super) fn patch(&self) -> Result<Vec<PatchOp>, RenderError> {
        let container = "/spec/template/spec/containers/0";
        let mut ops = Vec::new();
        for var in self.env() {
            ops.push(PatchOp::append(
                &format!("{container}/env"),
                to_json(&var, "lk-jwt env")?,
            ));
        }
        ops.push(PatchOp::append(
            "/spec/template/spec/volumes",
            to_json(&self.volume(), "lk-jwt volume")?,
        ));
        ops.push(PatchOp::append(
            &format!("{container}/volumeMounts"),
            to_json(&Self::mount(), "lk-jwt mount")?,
        ));
        Ok(ops)
    }
}

/// lk-jwt's objects for `base/`, with the variant's connection when given.
pub(super) fn objects(
    raw: &RawConfig,
    refs: &Refs,
    connection: Option<&LivekitConnection>,
) -> Result<Vec<Object>, RenderError> {
    let mut objects = vec![
        Object {
            file: format!("{NAME}-deployment.yaml"),
            value: to_json(&deployment(raw, refs, connection), "lk-jwt Deployment")?,
        },
        Object {
            file: format!("{NAME}-service.yaml"),
            value: to_json(&http_service(NAME, PORT), "lk-jwt Service")?,
        },
    ];
    if raw.network_policy.enabled {
        let policy = ingress_only_policy(raw, NAME, PORT);
        objects.push(Object {
            file: format!("{NAME}-networkpolicy.yaml"),
            value: to_json(&policy, "lk-jwt NetworkPolicy")?,
        });
    }
    Ok(objects)
}

fn deployment(raw: &RawConfig, refs: &Refs, connection: Option<&LivekitConnection>) -> Deployment {
    let mut env = vec![EnvVar {
        // Required since lk-jwt 0.5: who may create rooms.
        name: "LIVEKIT_FULL_ACCESS_HOMESERVERS".to_owned(),
        value: Some(raw.homeserver.server_name.clone()),
        ..EnvVar::default()
    }];
    if raw.lk_jwt.insecure_skip_verify_tls {
        env.push(EnvVar {
            name: "LIVEKIT_INSECURE_SKIP_VERIFY_TLS".to_owned(),
            // The only value lk-jwt honours.
            value: Some("YES_I_KNOW_WHAT_I_AM_DOING".to_owned()),
            ..EnvVar::default()
        });
    }
    let mut volumes = vec![tmp_volume()];
    let mut mounts = vec![tmp_mount()];
    if let Some(connection) = connection {
        env.extend(connection.env());
        volumes.push(connection.volume());
        mounts.push(LivekitConnection::mount());
    }

    let container = Container {
        name: NAME.to_owned(),
        image: Some(refs.lk_jwt_image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        env: Some(env),
        ports: Some(vec![container_port("http", PORT, "TCP")]),
        readiness_probe: Some(http_probe("/healthz", "http", 10, 3)),
        liveness_probe: Some(http_probe("/healthz", "http", 15, 4)),
        resources: Some(resources(&raw.lk_jwt.resources)),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    Deployment {
        metadata: meta(NAME, Some(NAME)),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(NAME),
            template: pod_template(NAME, UID, container, volumes),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// Selects the base Deployment for patches.
pub(super) fn target() -> super::kustomize::PatchTarget {
    super::kustomize::PatchTarget::new("apps", "v1", "Deployment", NAME)
}
