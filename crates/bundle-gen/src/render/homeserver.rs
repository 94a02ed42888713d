//! Tuwunel: StatefulSet `matrix-homeserver`, its Service, config file, NetworkPolicy and (dev
//! clusters only) the registration-token Secret.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, Secret, Volume, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::pod::{
    config_map_volume, container_port, container_security, http_probe, http_service, meta, mount,
    pod_template, resources, secret_volume, selector, tmp_mount, tmp_volume,
};
use super::policy::ingress_only_policy;
use super::{Object, Refs, RenderError, to_json};
use crate::config::RawConfig;
use crate::tree::GENERATED_HEADER;

/// Name of the StatefulSet, its Service and its pods' `app` label.
pub(super) const NAME: &str = "matrix-homeserver";
/// The generated ConfigMap holding [`CONFIG_FILE`].
pub(super) const CONFIG_MAP: &str = "matrix-homeserver-config";
/// The Tuwunel config file's name (key in the ConfigMap, file in `base/`).
pub(super) const CONFIG_FILE: &str = "tuwunel.toml";
/// The Secret rendered from an inline `homeserver.registrationToken`.
const INLINE_SECRET: &str = "matrix-homeserver-secret";
const INLINE_SECRET_KEY: &str = "registration_token";

const UID: i64 = 10010;
const CONFIG_DIR: &str = "/etc/tuwunel";
const DATABASE_PATH: &str = "/var/lib/tuwunel";
const TOKEN_DIR: &str = "/etc/tuwunel-registration";
const TOKEN_FILE: &str = "registration_token";
/// Room for a clean RocksDB shutdown (upstream's systemd unit allows 2 minutes).
const TERMINATION_GRACE_SECONDS: i64 = 120;
/// Startup probe window: 360 x 10 s = 1 hour for database migrations before liveness applies.
const STARTUP_FAILURES: i32 = 360;

/// Where the registration token comes from: `(Secret name, key)`.
fn token_secret(raw: &RawConfig) -> Result<Option<(String, String)>, RenderError> {
    let existing = &raw.homeserver.registration_token_existing_secret;
    if !existing.name.is_empty() {
        Ok(Some((existing.name.clone(), existing.key.clone())))
    } else if raw.homeserver.registration_token.is_empty() {
        Ok(None)
    } else if raw.allow_inline_secrets {
        Ok(Some((
            INLINE_SECRET.to_owned(),
            INLINE_SECRET_KEY.to_owned(),
        )))
    } else {
        Err(RenderError::InlineSecretNotAllowed {
            key: "homeserver.registrationToken",
        })
    }
}

/// The Tuwunel config file (TOML, `[global]` table).
pub(super) fn config_toml(raw: &RawConfig) -> String {
    let homeserver = &raw.homeserver;
    let server_name = &homeserver.server_name;
    let mut toml = String::from(GENERATED_HEADER);
    toml.push_str("[global]\n");
    set(&mut toml, "server_name", quoted(server_name));
    set(&mut toml, "database_path", quoted(DATABASE_PATH));
    // Tuwunel binds loopback unless told otherwise.
    set(&mut toml, "address", format!("[{}]", quoted("0.0.0.0")));
    set(&mut toml, "port", homeserver.client_port.to_string());
    set(
        &mut toml,
        "allow_registration",
        homeserver.allow_registration.to_string(),
    );
    if token_secret(raw).ok().flatten().is_some() {
        set(
            &mut toml,
            "registration_token_file",
            quoted(&format!("{TOKEN_DIR}/{TOKEN_FILE}")),
        );
    }
    set(
        &mut toml,
        "max_request_size",
        homeserver.max_request_size.to_string(),
    );
    set(
        &mut toml,
        "allow_federation",
        homeserver.allow_federation.to_string(),
    );
    toml.push_str("\n[global.well_known]\n");
    set(
        &mut toml,
        "client",
        quoted(&format!("https://{server_name}")),
    );
    // lk-jwt finds the homeserver by Matrix server discovery, which reads this.
    set(&mut toml, "server", quoted(&format!("{server_name}:443")));
    if raw.lk_jwt.enabled {
        // The MatrixRTC focus: lk-jwt's base URL, not the SFU's.
        set(
            &mut toml,
            "livekit_url",
            quoted(&homeserver.livekit_service_url),
        );
    }
    toml
}

/// Appends `key = value` (value already in TOML syntax).
fn set(toml: &mut String, key: &str, value: String) {
    toml.push_str(key);
    toml.push_str(" = ");
    toml.push_str(&value);
    toml.push('\n');
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The homeserver's objects for `base/`.
pub(super) fn objects(raw: &RawConfig, refs: &Refs) -> Result<Vec<Object>, RenderError> {
    let token = token_secret(raw)?;
    let mut objects = vec![
        Object {
            file: format!("{NAME}-statefulset.yaml"),
            value: statefulset(raw, refs, token.as_ref())?,
        },
        Object {
            file: format!("{NAME}-service.yaml"),
            value: to_json(
                &http_service(NAME, raw.homeserver.client_port),
                "homeserver Service",
            )?,
        },
    ];
    if token
        .as_ref()
        .is_some_and(|(name, _)| name == INLINE_SECRET)
    {
        objects.push(Object {
            file: format!("{INLINE_SECRET}.yaml"),
            value: to_json(&inline_secret(raw), "homeserver Secret")?,
        });
    }
    if raw.network_policy.enabled {
        let policy = ingress_only_policy(raw, NAME, raw.homeserver.client_port);
        objects.push(Object {
            file: format!("{NAME}-networkpolicy.yaml"),
            value: to_json(&policy, "homeserver NetworkPolicy")?,
        });
    }
    Ok(objects)
}

fn statefulset(
    raw: &RawConfig,
    refs: &Refs,
    token: Option<&(String, String)>,
) -> Result<serde_json::Value, RenderError> {
    let homeserver = &raw.homeserver;
    let persistence = &homeserver.persistence;

    let mut volumes = vec![
        config_map_volume("config", &refs.homeserver_config),
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
        image: Some(refs.homeserver_image.clone()),
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
        metadata: meta(NAME, Some(NAME)),
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
    let mut value = to_json(&statefulset, "homeserver StatefulSet")?;
    strip_claim_template_type_fields(&mut value);
    Ok(value)
}

/// k8s-openapi writes `apiVersion`/`kind` into each claim template (it is a full
/// PersistentVolumeClaim type); the API ignores them there, so they are left out.
fn strip_claim_template_type_fields(statefulset: &mut serde_json::Value) {
    let templates = statefulset
        .pointer_mut("/spec/volumeClaimTemplates")
        .and_then(serde_json::Value::as_array_mut);
    for template in templates.into_iter().flatten() {
        if let Some(fields) = template.as_object_mut() {
            fields.remove("apiVersion");
            fields.remove("kind");
        }
    }
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

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn toml_strings_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(quoted("a\"b\\c\nd"), "\"a\\\"b\\\\c\\u000Ad\"");
    }
}
