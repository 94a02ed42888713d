//! Tuwunel: StatefulSet `matrix-homeserver`, its Service, config file, NetworkPolicy and (dev
//! clusters only) the registration-token Secret.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, Secret, Volume, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::{Component, ConfigFile, Generate, Home, HomeFiles, Names, Object};
use crate::config::{IpSource, RawConfig, Variant};
use crate::emit::{RenderError, to_json, toml_text};
use crate::images::ImageName;
use crate::k8s::pod::{
    config_map_volume, container_port, container_security, http_probe, http_service, meta, mount,
    pod_template, resources, secret_dir_volume, secret_volume, selector, tmp_mount, tmp_volume,
    workload_meta,
};
use crate::k8s::policy::ingress_only_policy;
use crate::quantity::memory_bytes;
use crate::route::{PathMatch, Route};

/// Tuwunel, in `base/`.
pub(crate) struct Homeserver;

impl Component for Homeserver {
    fn home(&self) -> Home {
        Home::Base
    }

    fn image(&self) -> Option<ImageName> {
        Some(ImageName::HOMESERVER)
    }

    fn enabled(&self, _raw: &RawConfig, _variant: &Variant) -> bool {
        true
    }

    fn rollout_note(&self, _raw: &RawConfig, _variant: &Variant) -> Option<String> {
        Some(ROLLOUT_NOTE.to_owned())
    }

    fn config_file(
        &self,
        raw: &RawConfig,
        _variant: &Variant,
    ) -> Result<Option<ConfigFile>, RenderError> {
        Ok(Some(ConfigFile {
            config_map: CONFIG_MAP,
            file: CONFIG_FILE,
            text: toml_text(&TuwunelConfig::of(raw), "Tuwunel config")?,
        }))
    }

    fn objects(
        &self,
        raw: &RawConfig,
        _variant: &Variant,
        names: &Names,
    ) -> Result<Vec<Object>, RenderError> {
        objects(raw, names)
    }

    fn routes(&self, raw: &RawConfig, _variant: &Variant) -> Vec<Route> {
        let port = raw.homeserver.client_port;
        vec![
            Route {
                path: "/.well-known/matrix",
                match_kind: PathMatch::ImplementationSpecific,
                service: NAME,
                port,
            },
            Route::prefix("/_matrix", NAME, port),
        ]
    }

    fn home_files(
        &self,
        raw: &RawConfig,
        variant: &Variant,
        names: &Names,
    ) -> Result<HomeFiles, RenderError> {
        let config = self.config_file(raw, variant)?;
        Ok(HomeFiles {
            objects: objects(raw, names)?,
            config: config.map(|file| (file, Generate::Create)),
            patches: Vec::new(),
        })
    }
}

/// Name of the StatefulSet, its Service and its pods' `app` label.
const NAME: &str = "matrix-homeserver";

/// The homeserver is the one pod of its StatefulSet, replaced in place.
const ROLLOUT_NOTE: &str = "\
Rolling this out restarts the homeserver (StatefulSet
matrix-homeserver, one pod): the whole chat is down, for every client
and for federation, from when the old pod stops until the new one is
ready.
";
/// The generated ConfigMap holding [`CONFIG_FILE`].
const CONFIG_MAP: &str = "matrix-homeserver-config";
/// The Tuwunel config file's name (key in the ConfigMap, file in `base/`).
const CONFIG_FILE: &str = "tuwunel.toml";
/// The Secret rendered from an inline `homeserver.registrationToken`.
const INLINE_SECRET: &str = "matrix-homeserver-secret";
const INLINE_SECRET_KEY: &str = "registration_token";

const UID: i64 = 10010;
const CONFIG_DIR: &str = "/etc/tuwunel";
const DATABASE_PATH: &str = "/var/lib/tuwunel";
const TOKEN_DIR: &str = "/etc/tuwunel-registration";
const TOKEN_FILE: &str = "registration_token";
/// Tuwunel's `appservice_dir`: every key of `homeserver.appservices.existingSecret`, one file
/// each. Tuwunel (1.7+) loads the regular files named `*.yaml` or `*.yml` there and follows
/// symlinks, so the Secret volume's own entries (`..data`, a symlinked directory, and the
/// timestamped directory it points at) are skipped and each key, a symlink into `..data`, is
/// read. It only reads the directory, so the mount is read-only.
const APPSERVICE_DIR: &str = "/etc/tuwunel-appservices";
/// Room for a clean RocksDB shutdown (upstream's systemd unit allows 2 minutes).
const TERMINATION_GRACE_SECONDS: i64 = 120;
/// Startup probe window: 360 x 10 s = 1 hour for database migrations before liveness applies.
const STARTUP_FAILURES: i32 = 360;

/// Where the registration token comes from: `(Secret name, key)`. An inline token is
/// rendered into a Secret of ours (the guards allowed it only with `allowInlineSecrets`).
fn token_secret(raw: &RawConfig) -> Option<(String, String)> {
    let existing = &raw.homeserver.registration_token_existing_secret;
    if !existing.name.is_empty() {
        Some((existing.name.clone(), existing.key.clone()))
    } else if raw.homeserver.registration_token.is_empty() {
        None
    } else {
        Some((INLINE_SECRET.to_owned(), INLINE_SECRET_KEY.to_owned()))
    }
}

/// The Secret of appservice registrations, if one is named.
fn appservice_secret(raw: &RawConfig) -> Option<&str> {
    let name = raw.homeserver.appservices.existing_secret.as_str();
    (!name.is_empty()).then_some(name)
}

/// Tuwunel's config file: one `[global]` table.
#[derive(Serialize)]
struct TuwunelConfig {
    global: Global,
}

/// `[global]`, the keys in the order the file lists them.
#[derive(Serialize)]
struct Global {
    server_name: String,
    database_path: &'static str,
    /// `homeserver.listenAddresses`: Tuwunel binds loopback unless told otherwise.
    address: Vec<IpAddr>,
    port: u16,
    /// Where the client address of rate limits and logs comes from (`homeserver.ipSource`).
    /// Always written: unset, Tuwunel takes the leftmost `X-Forwarded-For` entry, which the
    /// client writes itself.
    ip_source: IpSource,
    allow_registration: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_token_file: Option<String>,
    max_request_size: u64,
    allow_federation: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    appservice_dir: Option<&'static str>,
    #[serde(flatten)]
    database_caches: DatabaseCaches,
    well_known: WellKnown,
}

/// RocksDB's memory, sized from the container's memory limit. Tuwunel's defaults grow with the
/// node's core count (a read cache of 128 MiB + 64 MiB per core, a write buffer of 48 MiB +
/// 4 MiB per core), and a container sees every core of its node: on a 64-core node the read
/// cache alone would be over 4 GiB, twice the default limit, and the pod would be killed for
/// memory. With no memory limit the defaults stay.
#[derive(Serialize)]
struct DatabaseCaches {
    /// A quarter of the limit for the block and row caches.
    #[serde(skip_serializing_if = "Option::is_none")]
    db_cache_capacity_mb: Option<f64>,
    /// A sixteenth for the write buffers.
    #[serde(skip_serializing_if = "Option::is_none")]
    db_write_buffer_capacity_mb: Option<f64>,
    /// `homeserver.cacheCapacityModifier`, for the entry-count caches, which are also sized by
    /// core count but in entries: their bytes cannot be derived from the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_capacity_modifier: Option<f64>,
}

impl DatabaseCaches {
    fn of(homeserver: &crate::config::Homeserver) -> Self {
        const MIB: u64 = 1 << 20;
        // The guards refused a limit that is not a memory quantity.
        let limit_mib = homeserver
            .resources
            .limits
            .get("memory")
            .and_then(|limit| memory_bytes(limit))
            .map(|bytes| bytes / MIB);
        // Whole MiB: exact in an f64 for any real limit.
        let share = |divisor: u64| limit_mib.map(|mib| (mib / divisor) as f64);
        Self {
            db_cache_capacity_mb: share(4),
            db_write_buffer_capacity_mb: share(16),
            cache_capacity_modifier: homeserver.cache_capacity_modifier,
        }
    }
}

/// `[global.well_known]`.
#[derive(Serialize)]
struct WellKnown {
    client: String,
    /// lk-jwt finds the homeserver by Matrix server discovery, which reads this.
    server: String,
    /// The MatrixRTC focus: lk-jwt's base URL, not the SFU's.
    #[serde(skip_serializing_if = "Option::is_none")]
    livekit_url: Option<String>,
}

impl TuwunelConfig {
    fn of(raw: &RawConfig) -> Self {
        let homeserver = &raw.homeserver;
        let server_name = &homeserver.server_name;
        Self {
            global: Global {
                server_name: server_name.clone(),
                database_path: DATABASE_PATH,
                address: homeserver.listen_addresses.clone(),
                port: homeserver.client_port,
                ip_source: homeserver.ip_source,
                allow_registration: homeserver.allow_registration,
                registration_token_file: token_secret(raw)
                    .map(|_| format!("{TOKEN_DIR}/{TOKEN_FILE}")),
                max_request_size: homeserver.max_request_size,
                allow_federation: homeserver.allow_federation,
                appservice_dir: appservice_secret(raw).map(|_| APPSERVICE_DIR),
                database_caches: DatabaseCaches::of(homeserver),
                well_known: WellKnown {
                    client: format!("https://{server_name}"),
                    server: format!("{server_name}:443"),
                    livekit_url: raw
                        .lk_jwt
                        .enabled
                        .then(|| homeserver.livekit_service_url.clone()),
                },
            },
        }
    }
}

/// The homeserver's objects for `base/`.
fn objects(raw: &RawConfig, names: &Names) -> Result<Vec<Object>, RenderError> {
    let token = token_secret(raw);
    let mut objects = vec![
        Object {
            file: format!("{NAME}-statefulset.yaml"),
            value: statefulset(raw, names, token.as_ref())?,
            comment: None,
        },
        Object {
            file: format!("{NAME}-service.yaml"),
            value: to_json(
                &http_service(&raw.network, NAME, raw.homeserver.client_port),
                "homeserver Service",
            )?,
            comment: None,
        },
    ];
    if token
        .as_ref()
        .is_some_and(|(name, _)| name == INLINE_SECRET)
    {
        objects.push(Object {
            file: format!("{INLINE_SECRET}.yaml"),
            value: to_json(&inline_secret(raw), "homeserver Secret")?,
            comment: None,
        });
    }
    if raw.network_policy.enabled {
        let policy = ingress_only_policy(raw, NAME, raw.homeserver.client_port);
        objects.push(Object {
            file: format!("{NAME}-networkpolicy.yaml"),
            value: to_json(&policy, "homeserver NetworkPolicy")?,
            comment: None,
        });
    }
    Ok(objects)
}

fn statefulset(
    raw: &RawConfig,
    names: &Names,
    token: Option<&(String, String)>,
) -> Result<serde_json::Value, RenderError> {
    let homeserver = &raw.homeserver;
    let persistence = &homeserver.persistence;

    let mut volumes = vec![
        config_map_volume("config", &names.config_map(CONFIG_MAP)),
        tmp_volume(),
    ];
    let mut mounts = vec![
        mount("config", CONFIG_DIR, true),
        mount("data", DATABASE_PATH, false),
        tmp_mount(),
    ];
    if let Some((secret, key)) = token {
        // A file rather than an env var: the token stays out of the process environment.
        volumes.push(secret_volume(
            "registration-token",
            secret,
            &[(key.as_str(), TOKEN_FILE)],
        ));
        mounts.push(mount("registration-token", TOKEN_DIR, true));
    }
    if let Some(secret) = appservice_secret(raw) {
        volumes.push(secret_dir_volume("appservices", secret));
        mounts.push(mount("appservices", APPSERVICE_DIR, true));
    }
    let mut claim_templates = None;
    match (&persistence.enabled, &persistence.existing_claim) {
        (true, Some(claim)) => volumes.push(Volume {
            name: "data".to_owned(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                ..PersistentVolumeClaimVolumeSource::default()
            }),
            ..Volume::default()
        }),
        (true, None) => {
            // RocksDB allows one process per database: one replica, one RWO claim
            // (`data-matrix-homeserver-0`, as the chart's).
            claim_templates = Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".to_owned()),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
                    // Written, like the `apiVersion` and `kind` k8s-openapi writes for a full
                    // PersistentVolumeClaim, because the API server fills all three into the
                    // live object: left out, Argo CD shows the StatefulSet out of sync forever.
                    volume_mode: Some("Filesystem".to_owned()),
                    storage_class_name: persistence.storage_class.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_owned(),
                            Quantity(persistence.size.clone()),
                        )])),
                        ..VolumeResourceRequirements::default()
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            }]);
        }
        (false, _) => volumes.push(Volume {
            name: "data".to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        }),
    }

    let container = Container {
        name: NAME.to_owned(),
        image: Some(names.image(ImageName::HOMESERVER)),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        env: Some(vec![EnvVar {
            name: "TUWUNEL_CONFIG".to_owned(),
            value: Some(format!("{CONFIG_DIR}/{CONFIG_FILE}")),
            ..EnvVar::default()
        }]),
        ports: Some(vec![container_port("http", homeserver.client_port, "TCP")]),
        startup_probe: Some(http_probe(
            "/_tuwunel/server_version",
            "http",
            10,
            STARTUP_FAILURES,
        )),
        readiness_probe: Some(http_probe("/_tuwunel/server_version", "http", 10, 3)),
        liveness_probe: Some(http_probe("/_tuwunel/server_version", "http", 15, 4)),
        resources: Some(resources(&homeserver.resources)),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };

    let mut template = pod_template(NAME, UID, container, volumes);
    if let Some(spec) = template.spec.as_mut() {
        spec.termination_grace_period_seconds = Some(TERMINATION_GRACE_SECONDS);
    }
    let statefulset = StatefulSet {
        metadata: workload_meta(NAME, raw.reloader),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(NAME.to_owned()),
            selector: selector(NAME),
            template,
            volume_claim_templates: claim_templates,
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    to_json(&statefulset, "homeserver StatefulSet")
}

fn inline_secret(raw: &RawConfig) -> Secret {
    Secret {
        metadata: meta(INLINE_SECRET, Some(NAME)),
        type_: Some("Opaque".to_owned()),
        string_data: Some(BTreeMap::from([(
            INLINE_SECRET_KEY.to_owned(),
            raw.homeserver.registration_token.clone(),
        )])),
        ..Secret::default()
    }
}
