//! Pieces every pod shares: the Kubernetes "restricted" pod-security settings, `/tmp`,
//! resources, probes, ports, labels, config and Secret files, and the Service in front.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    HTTPGetAction, KeyToPath, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Service,
    ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::config::{Network, Reloader, Resources};

/// Mode of Secret files: readable by owner (root) and group (the pod's `fsGroup`), nothing
/// for others. LiveKit refuses a key file with any "other" bit, and 0440 keeps the rest private.
pub(crate) const SECRET_FILE_MODE: i32 = 0o440;

/// `app: <name>`, the label the chart selects pods by.
pub(crate) fn app_labels(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_owned(), app.to_owned())])
}

/// Metadata with a name and, when given, the `app` label.
pub(crate) fn meta(name: &str, app: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: app.map(app_labels),
        ..ObjectMeta::default()
    }
}

/// The metadata of a workload (Deployment, StatefulSet) named `name`, its `app` label the
/// same, with what `reloader` needs to restart it when a Secret its pods read changes: the
/// pods read their Secrets once (LiveKit its TURN certificate at start, the servers their
/// keys), so a renewed or rotated one reaches them only through a restart.
pub(crate) fn workload_meta(name: &str, reloader: Reloader) -> ObjectMeta {
    let mut metadata = meta(name, Some(name));
    if reloader == Reloader::Stakater {
        // Secrets only: a changed config file already rolls the pods through the new name of
        // its generated ConfigMap.
        metadata.annotations = Some(BTreeMap::from([(
            "secret.reloader.stakater.com/auto".to_owned(),
            "true".to_owned(),
        )]));
    }
    metadata
}

/// The pod template of every workload: one container under the restricted profile, no
/// service-account token (a `namePrefix` in a user's overlay would otherwise leave the pod on
/// the namespace's real default account), and no Service-link variables (they could collide
/// with the `LIVEKIT_*` / `TUWUNEL_*` settings the servers read from their environment).
pub(crate) fn pod_template(
    app: &str,
    uid: i64,
    container: Container,
    volumes: Vec<Volume>,
) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(app_labels(app)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(pod_security(uid)),
            containers: vec![container],
            volumes: Some(volumes),
            ..PodSpec::default()
        }),
    }
}

/// Selects the pods of `app`.
pub(crate) fn selector(app: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(app_labels(app)),
        ..LabelSelector::default()
    }
}

/// Pod-level settings of the restricted profile. None of the images declares a USER, so
/// `runAsNonRoot` alone would stop the pod: the numeric user and group are set explicitly
/// (10000 and above, clear of host accounts), and `fsGroup` makes volumes and 0440 Secret files
/// readable by that group.
pub(crate) fn pod_security(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        fs_group_change_policy: Some("OnRootMismatch".to_owned()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// Container-level settings of the restricted profile, with a read-only root filesystem.
pub(crate) fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        ..SecurityContext::default()
    }
}

/// The writable `/tmp` a read-only root filesystem needs.
pub(crate) fn tmp_volume() -> Volume {
    Volume {
        name: "tmp".to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// Mounts [`tmp_volume`] at `/tmp`.
pub(crate) fn tmp_mount() -> VolumeMount {
    mount("tmp", "/tmp", false)
}

/// A volume mount.
pub(crate) fn mount(volume: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: volume.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// A volume with the files of a ConfigMap.
pub(crate) fn config_map_volume(volume: &str, config_map: &str) -> Volume {
    Volume {
        name: volume.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.to_owned(),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A Secret volume exposing `items` (`key in the Secret` -> `file name`) with
/// [`SECRET_FILE_MODE`].
pub(crate) fn secret_volume(volume: &str, secret: &str, items: &[(&str, &str)]) -> Volume {
    Volume {
        name: volume.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            default_mode: Some(SECRET_FILE_MODE),
            items: Some(
                items
                    .iter()
                    .map(|(key, path)| KeyToPath {
                        key: (*key).to_owned(),
                        path: (*path).to_owned(),
                        ..KeyToPath::default()
                    })
                    .collect(),
            ),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A Secret volume exposing every key of the Secret as a file of that name, with
/// [`SECRET_FILE_MODE`]: for a directory whose files the operator chooses.
pub(crate) fn secret_dir_volume(volume: &str, secret: &str) -> Volume {
    Volume {
        name: volume.to_owned(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.to_owned()),
            default_mode: Some(SECRET_FILE_MODE),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// Requests and limits from the config (empty maps are left out).
pub(crate) fn resources(config: &Resources) -> ResourceRequirements {
    let quantities = |map: &BTreeMap<String, String>| {
        (!map.is_empty()).then(|| {
            map.iter()
                .map(|(name, value)| (name.clone(), Quantity(value.clone())))
                .collect()
        })
    };
    ResourceRequirements {
        requests: quantities(&config.requests),
        limits: quantities(&config.limits),
        ..ResourceRequirements::default()
    }
}

/// A named container port.
pub(crate) fn container_port(name: &str, number: u16, protocol: &str) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: i32::from(number),
        protocol: Some(protocol.to_owned()),
        ..ContainerPort::default()
    }
}

/// The ClusterIP Service `app` in front of the pods of `app`, with one TCP port `http`
/// that forwards to the container port of that name.
pub(crate) fn http_service(network: &Network, app: &str, port: u16) -> Service {
    service(
        network,
        meta(app, Some(app)),
        ServiceSpec {
            selector: Some(app_labels(app)),
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: i32::from(port),
                target_port: Some(IntOrString::String("http".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        },
    )
}

/// A Service with the IP families `network` asks for. Every Service of the tree is built
/// here, so a dual-stack or IPv6 setting reaches each one; unset keys are not written.
pub(crate) fn service(network: &Network, metadata: ObjectMeta, spec: ServiceSpec) -> Service {
    let families = &network.ip_families;
    Service {
        metadata,
        spec: Some(ServiceSpec {
            ip_family_policy: network
                .ip_family_policy
                .map(|policy| policy.as_str().to_owned()),
            ip_families: (!families.is_empty()).then(|| {
                families
                    .iter()
                    .map(|family| family.as_str().to_owned())
                    .collect()
            }),
            ..spec
        }),
        ..Service::default()
    }
}

/// An HTTP GET probe on a named container port.
pub(crate) fn http_probe(path: &str, port: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(port.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(5),
        ..Probe::default()
    }
}

/// The env var `name` set from `key` of Secret `secret`, for a server that reads a credential
/// only from its environment.
pub(crate) fn secret_env(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                ..SecretKeySelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}
