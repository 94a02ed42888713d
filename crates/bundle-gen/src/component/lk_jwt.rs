//! lk-jwt-service: Deployment and Service `lk-jwt-service`, its NetworkPolicy, and the
//! LiveKit connection (URL and key files) that the LiveKit component or the `external`
//! overlay adds, since it differs per variant.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, HostAlias, Volume, VolumeMount};

use super::{Component, Home, HomeFiles, Names, Object, PatchFile};
use crate::config::{RawConfig, Redis, Variant};
use crate::emit::{RenderError, to_json};
use crate::images::ImageName;
use crate::k8s::pod::secret_env;
use crate::k8s::pod::{
    container_port, container_security, http_probe, http_service, mount, pod_template, resources,
    secret_volume, selector, tmp_mount, tmp_volume, workload_meta,
};
use crate::k8s::policy::ingress_only_policy;
use crate::kustomize::{PatchOp, PatchTarget};
use crate::route::Route;

/// lk-jwt-service, in `base/` without an SFU; the component or overlay that decides a variant's
/// SFU adds [`LivekitConnection::patch`].
pub(crate) struct LkJwt;

impl Component for LkJwt {
    fn home(&self) -> Home {
        Home::Base
    }

    fn image(&self) -> Option<ImageName> {
        Some(ImageName::LK_JWT)
    }

    fn enabled(&self, raw: &RawConfig, _variant: &Variant) -> bool {
        raw.lk_jwt.enabled
    }

    fn rollout_note(&self, _raw: &RawConfig, _variant: &Variant) -> Option<String> {
        Some(ROLLOUT_NOTE.to_owned())
    }

    fn objects(
        &self,
        raw: &RawConfig,
        variant: &Variant,
        names: &Names,
    ) -> Result<Vec<Object>, RenderError> {
        objects(raw, names, Some(&LivekitConnection::of(variant)))
    }

    fn routes(&self, _raw: &RawConfig, _variant: &Variant) -> Vec<Route> {
        // `/sfu/get` (the legacy endpoint, deprecated since 0.4), `/get_token` (0.4 and later) and
        // `/delegate_delayed_leave`, where clients hand lk-jwt the delayed leave event it sends
        // when their participant leaves the SFU.
        vec![
            Route::prefix("/sfu", NAME, PORT),
            Route::prefix("/get_token", NAME, PORT),
            Route::prefix("/delegate_delayed_leave", NAME, PORT),
        ]
    }

    fn home_files(
        &self,
        raw: &RawConfig,
        _variant: &Variant,
        names: &Names,
    ) -> Result<HomeFiles, RenderError> {
        Ok(HomeFiles {
            objects: objects(raw, names, None)?,
            ..HomeFiles::default()
        })
    }
}

/// Name of the Deployment, its Service and its pods' `app` label.
pub(crate) const NAME: &str = "lk-jwt-service";

/// The Deployment has no strategy of its own: Kubernetes' rolling update of its one replica
/// starts the new pod and stops the old one once the new one is ready.
const ROLLOUT_NOTE: &str = "\
Rolling this out replaces the lk-jwt-service pod (Deployment
lk-jwt-service, rolling update): the new pod takes over once it is
ready. Calls in progress are not affected; only joining a call asks
lk-jwt-service for a token.
";
/// lk-jwt's default listen port (`LIVEKIT_JWT_BIND` unset).
const PORT: u16 = 8080;
/// The Secret rendered from inline `livekit.keys` (bundled LiveKit on dev clusters only).
const INLINE_KEYS_SECRET: &str = "livekit-secret";

const UID: i64 = 10033;
const KEYS_VOLUME: &str = "livekit-keys";
const KEYS_DIR: &str = "/etc/lk-jwt-keys";
/// The key file, the same Secret item LiveKit reads as its `key_file`.
const KEYS_FILE: &str = "keys.yaml";
/// lk-jwt's LiveKit webhook receiver (0.6+).
const WEBHOOK_PATH: &str = "/sfu_webhook";

/// lk-jwt's LiveKit webhook receiver, reached in-cluster through the Service by its bare name:
/// the pod's DNS search path starts with its own namespace, so the URL holds in whatever
/// namespace the tree is deployed to (a Flux `targetNamespace` included).
pub(crate) fn webhook_url() -> String {
    format!("http://{NAME}:{PORT}{WEBHOOK_PATH}")
}

/// The route of the webhook receiver, for an SFU outside the cluster that posts its webhooks
/// through the ingress.
pub(crate) fn webhook_route() -> Route {
    Route::prefix(WEBHOOK_PATH, NAME, PORT)
}

/// The Secret holding a variant's LiveKit API keys, and the keys inside it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeysSecret {
    /// Secret name.
    pub name: String,
    /// Key of the `"<key>: <secret>"` line, the key file of both livekit-server and lk-jwt.
    pub livekit_keys_key: String,
    /// Key of the line lk-jwt reads: `livekit_keys_key` unless `lkJwtKeyKey` names another.
    pub lk_jwt_key: String,
    /// Whether the generator renders this Secret from inline values.
    pub inline: bool,
}

impl KeysSecret {
    /// The keys Secret of `variant`: the existing Secret, else the Secret rendered from the
    /// inline keys (the guards allow those only for a bundled LiveKit with
    /// `allowInlineSecrets`).
    pub(crate) fn of(variant: &Variant) -> Self {
        let existing = &variant.livekit.keys.existing_secret;
        let inline = existing.name.is_empty();
        Self {
            name: if inline {
                INLINE_KEYS_SECRET.to_owned()
            } else {
                existing.name.clone()
            },
            livekit_keys_key: existing.livekit_keys_key.clone(),
            lk_jwt_key: existing.lk_jwt_key().to_owned(),
            inline,
        }
    }
}

/// What lk-jwt needs to know about the SFU of one variant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LivekitConnection {
    /// Public `wss://` URL, returned to clients and used for Twirp calls.
    pub url: String,
    /// Where the API key and secret are.
    pub keys: KeysSecret,
    /// The Redis lk-jwt keeps its state in: the variant's `livekit.redis`, when it names one
    /// server (lk-jwt's store takes a URL, which has no form for Sentinel).
    pub redis: Option<Redis>,
}

impl LivekitConnection {
    /// The connection of `variant`.
    pub(crate) fn of(variant: &Variant) -> Self {
        Self {
            url: variant.livekit.public_url.clone(),
            keys: KeysSecret::of(variant),
            redis: variant
                .livekit
                .redis
                .clone()
                .filter(|redis| !redis.sentinel() && !redis.server_address().is_empty()),
        }
    }

    /// `LIVEKIT_URL` and the key file (a file, not env values: the secret stays out of the
    /// process environment). `LIVEKIT_KEY_FILE` takes the one `<key>: <secret>` line LiveKit
    /// reads too, so the two cannot drift apart; lk-jwt splits it at `:` into exactly two
    /// parts and trims spaces and line ends.
    fn env(&self) -> Vec<EnvVar> {
        let var = |name: &str, value: String| EnvVar {
            name: name.to_owned(),
            value: Some(value),
            ..EnvVar::default()
        };
        let mut env = vec![
            var("LIVEKIT_URL", self.url.clone()),
            var("LIVEKIT_KEY_FILE", format!("{KEYS_DIR}/{KEYS_FILE}")),
        ];
        if let Some(redis) = &self.redis {
            env.extend(redis_env(redis));
        }
        env
    }

    fn volume(&self) -> Volume {
        secret_volume(
            KEYS_VOLUME,
            &self.keys.name,
            &[(self.keys.lk_jwt_key.as_str(), KEYS_FILE)],
        )
    }

    fn mount() -> VolumeMount {
        mount(KEYS_VOLUME, KEYS_DIR, true)
    }

    /// The patch that adds this connection to the base Deployment, appending in the same order
    /// as [`objects`] does when given the connection.
    pub(crate) fn patch(&self) -> Result<PatchFile, RenderError> {
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
        Ok(PatchFile {
            file: format!("{NAME}-patch.yaml"),
            target: PatchTarget::new("apps", "v1", "Deployment", NAME),
            ops,
        })
    }
}

/// lk-jwt's objects, with the variant's connection when given.
fn objects(
    raw: &RawConfig,
    names: &Names,
    connection: Option<&LivekitConnection>,
) -> Result<Vec<Object>, RenderError> {
    let mut objects = vec![
        Object {
            file: format!("{NAME}-deployment.yaml"),
            value: to_json(&deployment(raw, names, connection), "lk-jwt Deployment")?,
            comment: None,
        },
        Object {
            file: format!("{NAME}-service.yaml"),
            value: to_json(&http_service(&raw.network, NAME, PORT), "lk-jwt Service")?,
            comment: None,
        },
    ];
    if raw.network_policy.enabled {
        let policy = ingress_only_policy(raw, NAME, PORT);
        objects.push(Object {
            file: format!("{NAME}-networkpolicy.yaml"),
            value: to_json(&policy, "lk-jwt NetworkPolicy")?,
            comment: None,
        });
    }
    Ok(objects)
}

fn deployment(
    raw: &RawConfig,
    names: &Names,
    connection: Option<&LivekitConnection>,
) -> Deployment {
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
        image: Some(names.image(ImageName::LK_JWT)),
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
    let mut template = pod_template(NAME, UID, container, volumes);
    if let Some(spec) = template.spec.as_mut() {
        spec.host_aliases = host_aliases(raw);
    }
    Deployment {
        metadata: workload_meta(NAME, raw.reloader),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(NAME),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// `lkJwt.hostAliases` as the pod's `/etc/hosts` entries; none when empty. lk-jwt has no
/// internal-URL setting: it finds the homeserver by federation discovery of serverName and
/// calls the SFU at its public URL, so where the cluster cannot reach its own public address
/// these entries send both to the ingress from inside.
fn host_aliases(raw: &RawConfig) -> Option<Vec<HostAlias>> {
    let aliases = &raw.lk_jwt.host_aliases;
    (!aliases.is_empty()).then(|| {
        aliases
            .iter()
            .map(|alias| HostAlias {
                ip: alias.ip.clone(),
                hostnames: Some(alias.hostnames.clone()),
            })
            .collect()
    })
}

/// The env var holding the Redis password, which [`LIVEKIT_REDIS_URL`] refers to.
const REDIS_PASSWORD_ENV: &str = "REDIS_PASSWORD";
/// lk-jwt's Redis store (releases after 0.5; older ones ignore it): where it keeps its
/// delayed-leave jobs, so that they survive a restart; unset, it keeps them in memory.
const LIVEKIT_REDIS_URL: &str = "LIVEKIT_REDIS_URL";

/// `LIVEKIT_REDIS_URL`, as go-redis parses it: `redis://` (`rediss://` with TLS), the
/// password, the address and the database. lk-jwt reads the password only inside the URL, so
/// it comes from its Secret as [`REDIS_PASSWORD_ENV`] and the URL names it as `$(...)`, which
/// the kubelet replaces with the value of that earlier env var.
fn redis_env(redis: &Redis) -> Vec<EnvVar> {
    let scheme = if redis.tls { "rediss" } else { "redis" };
    let mut env = Vec::new();
    let mut password = String::new();
    if let Some(secret) = &redis.password_secret() {
        env.push(secret_env(REDIS_PASSWORD_ENV, &secret.name, &secret.key));
        password = format!(":$({REDIS_PASSWORD_ENV})@");
    }
    env.push(EnvVar {
        name: LIVEKIT_REDIS_URL.to_owned(),
        value: Some(format!(
            "{scheme}://{password}{}/{}",
            redis.server_address(),
            redis.db
        )),
        ..EnvVar::default()
    });
    env
}
