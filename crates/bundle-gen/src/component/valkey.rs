//! The bundled Valkey (`livekit.redis.bundled`), in the Kustomize component
//! `overlays/components/valkey`: one Redis-compatible server for a site that has none, holding
//! LiveKit's room routing and lk-jwt's delayed leaves. Both rebuild that state, so it keeps
//! nothing on disk (no snapshots, no append-only file) and runs from an `emptyDir`.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, Probe, ServicePort, ServiceSpec, TCPSocketAction, Volume,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Component, Home, HomeFiles, Names, Object, livekit, lk_jwt};
use crate::config::{
    BUNDLED_REDIS_PORT, BUNDLED_REDIS_SECRET, BUNDLED_REDIS_SERVICE, RawConfig, Resources, Variant,
};
use crate::emit::{RenderError, to_json};
use crate::images::ImageName;
use crate::k8s::pod::{
    app_labels, container_port, container_security, meta, mount, pod_template, resources,
    secret_env, selector, service, tmp_mount, tmp_volume, workload_meta,
};
use crate::k8s::policy::{network_policy, tcp};

/// The Deployment, its Service and its pods' `app` label.
const NAME: &str = BUNDLED_REDIS_SERVICE;
const UID: i64 = 10040;
/// The env var the password comes in as, expanded by the kubelet into `--requirepass`.
const PASSWORD_ENV: &str = "VALKEY_PASSWORD";
/// The key of the password in [`BUNDLED_REDIS_SECRET`].
const PASSWORD_KEY: &str = "password";
/// Valkey's working directory (`--dir`), an `emptyDir`: empty at each start.
const DATA_DIR: &str = "/data";
const DATA_VOLUME: &str = "data";
/// The pods allowed to connect, by their `app` label: every LiveKit node and lk-jwt.
const CLIENTS: [&str; 2] = [livekit::NAME, lk_jwt::NAME];

/// What a Valkey bump does to calls: it restarts empty, and LiveKit routes rooms through it.
const ROLLOUT_NOTE: &str = "\
Rolling this out replaces the valkey pod (Deployment valkey, strategy
Recreate); the new one starts empty, as it keeps nothing on disk.
- Until the new pod is ready (seconds), LiveKit can neither place a
  new room nor find a running one: calls cannot start or be joined.
  Calls in progress keep their media.
- With several LiveKit nodes the routing of the rooms already running
  is lost: someone joining one of them may land on another node, in a
  separate call of the same name. Merge it when few calls are running.
";

/// The bundled single-replica Valkey.
pub(crate) struct Valkey;

impl Component for Valkey {
    fn home(&self) -> Home {
        Home::Component("valkey")
    }

    fn image(&self) -> Option<ImageName> {
        Some(ImageName::VALKEY)
    }

    fn enabled(&self, _raw: &RawConfig, variant: &Variant) -> bool {
        variant
            .livekit
            .redis
            .as_ref()
            .is_some_and(|redis| redis.bundled)
    }

    fn rollout_note(&self, _raw: &RawConfig, _variant: &Variant) -> Option<String> {
        Some(ROLLOUT_NOTE.to_owned())
    }

    fn objects(
        &self,
        raw: &RawConfig,
        _variant: &Variant,
        names: &Names,
    ) -> Result<Vec<Object>, RenderError> {
        objects(raw, names)
    }

    fn home_files(
        &self,
        raw: &RawConfig,
        _variant: &Variant,
        names: &Names,
    ) -> Result<HomeFiles, RenderError> {
        Ok(HomeFiles {
            objects: objects(raw, names)?,
            ..HomeFiles::default()
        })
    }
}

fn objects(raw: &RawConfig, names: &Names) -> Result<Vec<Object>, RenderError> {
    let mut objects = vec![
        Object {
            file: format!("{NAME}-deployment.yaml"),
            value: to_json(&deployment(raw, names), "Valkey Deployment")?,
            comment: Some(
                "# One replica and nothing on disk: a single point of failure for call routing, \
                 whose\n# state LiveKit and lk-jwt write again once it is back (see the README, \
                 \"Bundled Valkey\").\n"
                    .to_owned(),
            ),
        },
        Object {
            file: format!("{NAME}-service.yaml"),
            value: to_json(&valkey_service(raw), "Valkey Service")?,
            comment: None,
        },
    ];
    if raw.network_policy.enabled {
        objects.push(Object {
            file: format!("{NAME}-networkpolicy.yaml"),
            value: to_json(
                &network_policy(&format!("{NAME}-policy"), NAME, vec![from_clients()]),
                "Valkey NetworkPolicy",
            )?,
            comment: None,
        });
    }
    Ok(objects)
}

/// `valkey-server` with the password from its Secret and nothing written to disk. The password
/// goes in as an argument (`$(VALKEY_PASSWORD)`, which the kubelet expands from the env var):
/// Valkey reads no environment and no password file, and a config file would need the value
/// written into a ConfigMap or an init step to template it; the argument is seen only inside
/// the pod, which runs nothing else.
fn deployment(raw: &RawConfig, names: &Names) -> Deployment {
    let args = [
        "--port",
        &BUNDLED_REDIS_PORT.to_string(),
        "--requirepass",
        &format!("$({PASSWORD_ENV})"),
        // No RDB snapshots (the append-only file is off by default): the state is rebuilt by
        // its clients.
        "--save",
        "",
        "--dir",
        DATA_DIR,
    ]
    .map(str::to_owned)
    .to_vec();
    let container = Container {
        name: NAME.to_owned(),
        image: Some(names.image(ImageName::VALKEY)),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        // The server itself, not the image's entrypoint script, which would try to change
        // owners and users that the restricted profile forbids.
        command: Some(vec!["valkey-server".to_owned()]),
        args: Some(args),
        env: Some(vec![secret_env(
            PASSWORD_ENV,
            BUNDLED_REDIS_SECRET,
            PASSWORD_KEY,
        )]),
        ports: Some(vec![container_port("redis", BUNDLED_REDIS_PORT, "TCP")]),
        readiness_probe: Some(tcp_probe(5, 3)),
        liveness_probe: Some(tcp_probe(15, 4)),
        resources: Some(resources(&Resources::valkey())),
        security_context: Some(container_security()),
        volume_mounts: Some(vec![tmp_mount(), mount(DATA_VOLUME, DATA_DIR, false)]),
        ..Container::default()
    };
    let data = Volume {
        name: DATA_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    Deployment {
        metadata: workload_meta(NAME, raw.reloader),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            selector: selector(NAME),
            // Never two servers at once: a client that reached the new one while others still
            // wrote to the old one would see rooms split between them.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_owned()),
                ..DeploymentStrategy::default()
            }),
            template: pod_template(NAME, UID, container, vec![tmp_volume(), data]),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// Whether the port accepts connections (a `PING` would need the password in the probe).
fn tcp_probe(period: i32, failures: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String("redis".to_owned()),
            ..TCPSocketAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

fn valkey_service(raw: &RawConfig) -> k8s_openapi::api::core::v1::Service {
    service(
        &raw.network,
        meta(NAME, Some(NAME)),
        ServiceSpec {
            selector: Some(app_labels(NAME)),
            ports: Some(vec![ServicePort {
                name: Some("redis".to_owned()),
                port: i32::from(BUNDLED_REDIS_PORT),
                target_port: Some(IntOrString::String("redis".to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        },
    )
}

/// The Redis port, from the LiveKit and lk-jwt pods only: nothing else in the namespace (nor
/// the ingress controller) has any business with the password-protected store.
fn from_clients() -> NetworkPolicyIngressRule {
    let ports: Vec<NetworkPolicyPort> = vec![tcp(BUNDLED_REDIS_PORT)];
    NetworkPolicyIngressRule {
        from: Some(
            CLIENTS
                .into_iter()
                .map(|app| NetworkPolicyPeer {
                    pod_selector: Some(selector(app)),
                    ..NetworkPolicyPeer::default()
                })
                .collect(),
        ),
        ports: Some(ports),
    }
}
