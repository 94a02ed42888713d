//! Bundled LiveKit: Deployment `livekit`, its config file, Services `livekit-signaling`
//! (ClusterIP, behind the ingress) and `livekit-rtc` for media (a LoadBalancer or NodePort;
//! `livekit-rtc-udp` and `livekit-rtc-tcp` when split by protocol; none on the host network),
//! NetworkPolicy, and (dev clusters only) the keys Secret; plus what TURN over TLS adds to them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::RollingUpdateDeployment;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, EnvVarSource, ObjectFieldSelector, PodAffinityTerm, PodAntiAffinity,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodTemplateSpec, Secret, Service, ServicePort, ServiceSpec, Volume,
    VolumeMount,
};
use k8s_openapi::api::networking::v1::NetworkPolicyPort;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;

use super::lk_jwt::{self, KeysSecret, LivekitConnection};
use super::{Component, ConfigFile, Generate, Home, HomeFiles, Names, Object, PatchFile};
use crate::config::{
    Livekit as Settings, PinLoadBalancerIp, RawConfig, Reloader, Rtc, RtcServiceType, Turn, Variant,
};
use crate::config::{NodeIpFrom, Redis};
use crate::emit::{RenderError, to_json, yaml_text};
use crate::images::ImageName;
use crate::k8s::pod::secret_env;
use crate::k8s::pod::{
    app_labels, config_map_volume, container_port, container_security, http_probe, meta, mount,
    pod_template, resources, secret_volume, selector, service, tmp_mount, tmp_volume,
    workload_meta,
};
use crate::k8s::policy::{from_anywhere, from_namespace_and_ingress, network_policy, tcp, udp};
use crate::kustomize::{PatchOp, PatchTarget};
use crate::route::Route;

/// The bundled LiveKit, in the Kustomize component `overlays/components/livekit`. It also
/// connects lk-jwt to itself, the same in every overlay that bundles it.
pub(crate) struct Livekit;

impl Component for Livekit {
    fn home(&self) -> Home {
        Home::Component("livekit")
    }

    fn image(&self) -> Option<ImageName> {
        Some(ImageName::LIVEKIT)
    }

    fn enabled(&self, _raw: &RawConfig, variant: &Variant) -> bool {
        variant.livekit_bundled()
    }

    fn rollout_note(&self, _raw: &RawConfig, variant: &Variant) -> Option<String> {
        Some(rollout_note(&variant.livekit))
    }

    fn config_file(
        &self,
        raw: &RawConfig,
        variant: &Variant,
    ) -> Result<Option<ConfigFile>, RenderError> {
        let turn = variant.turn_enabled().then_some(&variant.livekit.turn);
        config_file(raw, &variant.livekit, turn).map(Some)
    }

    fn objects(
        &self,
        raw: &RawConfig,
        variant: &Variant,
        names: &Names,
    ) -> Result<Vec<Object>, RenderError> {
        let turn = variant.turn_enabled().then_some(&variant.livekit.turn);
        objects(raw, variant, names, turn)
    }

    fn routes(&self, _raw: &RawConfig, variant: &Variant) -> Vec<Route> {
        // The signalling websocket (`/rtc`) and the room API lk-jwt calls through the public
        // URL (`/twirp`).
        let port = variant.livekit.rtc.signaling_port;
        vec![
            Route::prefix("/rtc", SIGNALING_SERVICE, port),
            Route::prefix("/twirp", SIGNALING_SERVICE, port),
        ]
    }

    fn home_files(
        &self,
        raw: &RawConfig,
        variant: &Variant,
        names: &Names,
    ) -> Result<HomeFiles, RenderError> {
        let mut patches = Vec::new();
        if raw.lk_jwt.enabled {
            patches.push(LivekitConnection::of(variant).patch()?);
        }
        Ok(HomeFiles {
            objects: objects(raw, variant, names, None)?,
            config: Some((config_file(raw, &variant.livekit, None)?, Generate::Create)),
            patches,
        })
    }
}

/// Name of the Deployment and its pods' `app` label.
pub(crate) const NAME: &str = "livekit";
/// The generated ConfigMap holding [`CONFIG_FILE`].
const CONFIG_MAP: &str = "livekit-config";
/// LiveKit's config file name (key in the ConfigMap, file in the components).
const CONFIG_FILE: &str = "config.yaml";
/// The ClusterIP Service the ingress sends `/rtc` and `/twirp` to.
const SIGNALING_SERVICE: &str = "livekit-signaling";
/// The Service carrying media (and TURN over TLS).
const RTC_SERVICE: &str = "livekit-rtc";
/// With `rtc.splitServices`: the Service carrying the UDP ports (the mux, TURN's relay ports).
pub(crate) const RTC_UDP_SERVICE: &str = "livekit-rtc-udp";
/// With `rtc.splitServices`: the Service carrying the TCP ports (ICE over TCP, TURN over TLS).
pub(crate) const RTC_TCP_SERVICE: &str = "livekit-rtc-tcp";
/// The sharing key both split Services carry, so that MetalLB or Cilium LB IPAM give them the
/// one address they both ask for instead of refusing the second.
const SHARING_KEY: &str = "livekit-rtc";
const POLICY: &str = "livekit-policy";

const UID: i64 = 10030;
const CONFIG_DIR: &str = "/etc/livekit";
const KEYS_DIR: &str = "/etc/livekit-keys";
const KEYS_FILE: &str = "keys.yaml";
const TURN_DIR: &str = "/etc/livekit-turn";
/// LiveKit always advertises `turns:<domain>:443`, so the LoadBalancer listens there.
pub(crate) const TURN_PUBLIC_PORT: u16 = 443;

/// LiveKit's config file. LiveKit refuses unknown keys at startup, so only keys it knows are
/// written. Keys come from a key file, not from the config.
pub(crate) fn config_file(
    raw: &RawConfig,
    livekit: &Settings,
    turn: Option<&Turn>,
) -> Result<ConfigFile, RenderError> {
    let rtc = &livekit.rtc;
    let mut rtc_config = json!({
        "tcp_port": rtc.tcp_port,
        // One UDP mux port; without it LiveKit listens on 50000-60000.
        "udp_port": rtc.udp_port,
    });
    match rtc.node_ip() {
        // The LoadBalancer's public IP; STUN discovery would find the node's instead. Two
        // addresses are written as LiveKit reads them, `<IPv4>,<IPv6>`.
        Some(node_ip) => {
            rtc_config["use_external_ip"] = json!(false);
            rtc_config["node_ip"] = json!(node_ip.to_string());
        }
        None => rtc_config["use_external_ip"] = json!(rtc.use_external_ip),
    }
    let mut config = json!({
        "port": rtc.signaling_port,
        "key_file": format!("{KEYS_DIR}/{KEYS_FILE}"),
        "rtc": rtc_config,
        // lk-jwt decides who may create rooms; with auto_create anyone holding a token could.
        "room": {"auto_create": false},
        "logging": {"level": "info"},
    });
    if let Some(webhook) = webhook(raw, livekit) {
        config["webhook"] = webhook;
    }
    if let Some(redis) = &livekit.redis {
        config["redis"] = redis_config(redis);
    }
    if let Some(turn) = turn {
        // TURN over TLS only: no `udp_port`, clients reach the relay over TLS. The relay ports
        // are the ones the `livekit-rtc` Service publishes (LiveKit's default is 30000-40000).
        config["turn"] = json!({
            "enabled": true,
            "domain": turn.domain,
            "tls_port": turn.tls_port,
            "cert_file": format!("{TURN_DIR}/tls.crt"),
            "key_file": format!("{TURN_DIR}/tls.key"),
            "relay_range_start": turn.relay_port_range.start,
            "relay_range_end": turn.relay_port_range.end,
        });
        if !turn.allow_restricted_peer_cidrs.is_empty() {
            config["turn"]["allow_restricted_peer_cidrs"] = json!(turn.allow_restricted_peer_cidrs);
        }
    }
    Ok(ConfigFile {
        config_map: CONFIG_MAP,
        file: CONFIG_FILE,
        text: yaml_text(&config, "LiveKit config")?,
    })
}

/// Room and participant events for lk-jwt's `/sfu_webhook`, which needs them for delegated
/// delayed leave (MSC4140): without them a participant whose client vanished stays in the
/// call. Only when lk-jwt runs and the API key's name is known (it sits in a Secret we never
/// read). The lk-jwt policy admits pods of the own namespace on its port.
fn webhook(raw: &RawConfig, livekit: &Settings) -> Option<serde_json::Value> {
    if !raw.lk_jwt.enabled {
        return None;
    }
    let api_key = livekit.keys.webhook_key_name()?;
    Some(json!({
        "api_key": api_key,
        "urls": [lk_jwt::webhook_url()],
    }))
}

/// LiveKit's objects for the component, with TURN's additions when `turn` is given.
fn objects(
    raw: &RawConfig,
    variant: &Variant,
    names: &Names,
    turn: Option<&Turn>,
) -> Result<Vec<Object>, RenderError> {
    let livekit = &variant.livekit;
    let keys = KeysSecret::of(variant);
    let mut objects = vec![
        Object {
            file: format!("{NAME}-deployment.yaml"),
            value: to_json(
                &deployment(livekit, raw.reloader, names, &keys, turn),
                "LiveKit Deployment",
            )?,
            comment: livekit
                .host_network
                .then(|| HOST_NETWORK_COMMENT.to_owned()),
        },
        Object {
            file: format!("{SIGNALING_SERVICE}-service.yaml"),
            value: to_json(
                &signaling_service(raw, livekit),
                "LiveKit signalling Service",
            )?,
            comment: None,
        },
    ];
    for (name, service) in rtc_services(raw, livekit, turn) {
        objects.push(Object {
            file: format!("{name}-service.yaml"),
            value: to_json(&service, "LiveKit RTC Service")?,
            comment: None,
        });
    }
    if keys.inline {
        objects.push(Object {
            file: format!("{}.yaml", keys.name),
            value: to_json(&inline_secret(livekit, &keys), "LiveKit keys Secret")?,
            comment: None,
        });
    }
    if raw.network_policy.enabled {
        let media = rtc_ports(livekit, turn)
            .iter()
            .map(RtcPort::policy_port)
            .collect();
        let policy = network_policy(
            POLICY,
            NAME,
            vec![
                // Media from anywhere on the internet.
                from_anywhere(media),
                // Signalling only through the ingress (or from the own namespace).
                from_namespace_and_ingress(raw, vec![tcp(livekit.rtc.signaling_port)]),
            ],
        );
        objects.push(Object {
            file: format!("{NAME}-networkpolicy.yaml"),
            value: to_json(&policy, "LiveKit NetworkPolicy")?,
            comment: None,
        });
    }
    if scaled_out(livekit) {
        objects.push(Object {
            file: format!("{NAME}-poddisruptionbudget.yaml"),
            value: to_json(&disruption_budget(), "LiveKit PodDisruptionBudget")?,
            comment: None,
        });
    }
    Ok(objects)
}

/// Where a port of the `livekit-rtc` Service comes from, so a guard can name its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RtcPortOrigin {
    /// Set by this key under `livekit` (`rtc.udpPort`).
    Setting(&'static str),
    /// TURN over TLS: the fixed public [`TURN_PUBLIC_PORT`], mapped to `turn.tlsPort`.
    TurnTls,
    /// One port of `turn.relayPortRange`.
    TurnRelay,
}

/// One port of a media Service (`livekit-rtc`, or `livekit-rtc-udp` or `-tcp`): also a port
/// the LiveKit container listens on and one the NetworkPolicy admits from anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RtcPort {
    pub(crate) name: String,
    /// The Service port (and with `serviceType: NodePort`, the node port).
    pub(crate) port: u16,
    /// The container port.
    pub(crate) target: u16,
    /// `TCP` or `UDP`.
    pub(crate) protocol: &'static str,
    pub(crate) origin: RtcPortOrigin,
    /// The Service that publishes it (on the host network, the one it would be on: none is
    /// rendered there).
    pub(crate) service: &'static str,
}

impl RtcPort {
    /// A port LiveKit advertises as it listens on it: Service port = container port.
    fn same(
        rtc: &Rtc,
        name: String,
        number: u16,
        protocol: &'static str,
        origin: RtcPortOrigin,
    ) -> Self {
        Self {
            name,
            port: number,
            target: number,
            protocol,
            origin,
            service: media_service(rtc, protocol),
        }
    }

    /// The Service port; on a NodePort Service its node port is the port itself, since LiveKit
    /// advertises the port it listens on and a client dials the node on that number.
    fn service_port(&self, service_type: RtcServiceType) -> ServicePort {
        let mut port = service_port(&self.name, i32::from(self.port), self.target, self.protocol);
        if service_type == RtcServiceType::NodePort {
            port.node_port = Some(i32::from(self.port));
        }
        port
    }

    fn container_port(&self) -> ContainerPort {
        container_port(&self.name, self.target, self.protocol)
    }

    fn policy_port(&self) -> NetworkPolicyPort {
        match self.protocol {
            "UDP" => udp(self.target),
            _ => tcp(self.target),
        }
    }
}

/// The ports of the `livekit-rtc` Service in the order they are rendered, with TURN's when
/// `turn` is given. The one description of them: the renderer builds the Service, the
/// NetworkPolicy's media ports and the container's TURN ports from it (the container lists
/// its signalling and media ports first, in its own order), and the port guards check it.
pub(crate) fn rtc_ports(livekit: &Settings, turn: Option<&Turn>) -> Vec<RtcPort> {
    let rtc = &livekit.rtc;
    let mut ports = media_ports(rtc);
    ports.extend(turn.map(|turn| turn_ports(rtc, turn)).unwrap_or_default());
    ports
}

/// The media Service that publishes the ports of `protocol`: `livekit-rtc` for both, or with
/// `splitServices` the one of that protocol.
pub(crate) fn media_service(rtc: &Rtc, protocol: &str) -> &'static str {
    match (rtc.split_services, protocol) {
        (false, _) => RTC_SERVICE,
        (true, "UDP") => RTC_UDP_SERVICE,
        (true, _) => RTC_TCP_SERVICE,
    }
}

/// The media Services rendered, in order; none on the host network, where the pod's ports
/// are the node's own.
fn media_services(livekit: &Settings) -> Vec<&'static str> {
    match (livekit.host_network, livekit.rtc.split_services) {
        (true, _) => Vec::new(),
        (false, false) => vec![RTC_SERVICE],
        (false, true) => vec![RTC_UDP_SERVICE, RTC_TCP_SERVICE],
    }
}

/// The UDP mux and the ICE-over-TCP port, in every bundled overlay.
fn media_ports(rtc: &Rtc) -> Vec<RtcPort> {
    vec![
        RtcPort::same(
            rtc,
            "rtc-udp".to_owned(),
            rtc.udp_port,
            "UDP",
            RtcPortOrigin::Setting("rtc.udpPort"),
        ),
        RtcPort::same(
            rtc,
            "rtc-tcp".to_owned(),
            rtc.tcp_port,
            "TCP",
            RtcPortOrigin::Setting("rtc.tcpPort"),
        ),
    ]
}

/// What TURN adds: its TLS listener behind the public 443, then every relay port. A relay
/// port is named by its number (`relay-33000`): unique, and within the 15 characters of a
/// port name for every port.
fn turn_ports(rtc: &Rtc, turn: &Turn) -> Vec<RtcPort> {
    let tls = RtcPort {
        name: "turns".to_owned(),
        port: TURN_PUBLIC_PORT,
        target: turn.tls_port,
        protocol: "TCP",
        origin: RtcPortOrigin::TurnTls,
        service: media_service(rtc, "TCP"),
    };
    let relays = turn.relay_port_range.ports().map(|number| {
        RtcPort::same(
            rtc,
            format!("relay-{number}"),
            number,
            "UDP",
            RtcPortOrigin::TurnRelay,
        )
    });
    std::iter::once(tls).chain(relays).collect()
}

fn turn_volume(turn: &Turn) -> Volume {
    let tls = &turn.tls;
    secret_volume(
        "turn-tls",
        &tls.existing_secret,
        &[
            (tls.cert_key.as_str(), "tls.crt"),
            (tls.key_key.as_str(), "tls.key"),
        ],
    )
}

fn turn_mount() -> VolumeMount {
    mount("turn-tls", TURN_DIR, true)
}

fn deployment(
    livekit: &Settings,
    reloader: Reloader,
    names: &Names,
    keys: &KeysSecret,
    turn: Option<&Turn>,
) -> Deployment {
    let rtc = &livekit.rtc;
    let mut ports = vec![
        container_port("signaling", rtc.signaling_port, "TCP"),
        container_port("rtc-tcp", rtc.tcp_port, "TCP"),
        container_port("rtc-udp", rtc.udp_port, "UDP"),
    ];
    let mut volumes = vec![
        config_map_volume("config", &names.config_map(CONFIG_MAP)),
        // A key file rather than LIVEKIT_KEYS: the secret stays out of the process
        // environment. Mode 0440: LiveKit refuses a key file with any "other" bit.
        secret_volume(
            "keys",
            &keys.name,
            &[(keys.livekit_keys_key.as_str(), KEYS_FILE)],
        ),
        tmp_volume(),
    ];
    let mut mounts = vec![
        mount("config", CONFIG_DIR, true),
        mount("keys", KEYS_DIR, true),
        tmp_mount(),
    ];
    if let Some(turn) = turn {
        ports.extend(turn_ports(rtc, turn).iter().map(RtcPort::container_port));
        volumes.push(turn_volume(turn));
        mounts.push(turn_mount());
    }
    let container = Container {
        name: NAME.to_owned(),
        image: Some(names.image(ImageName::LIVEKIT)),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        args: Some(vec![
            "--config".to_owned(),
            format!("{CONFIG_DIR}/{CONFIG_FILE}"),
        ]),
        ports: Some(ports),
        env: scale_out_env(livekit),
        // `/` answers 200, or 406 when the node's stats are stale.
        readiness_probe: Some(http_probe("/", "signaling", 10, 3)),
        liveness_probe: Some(http_probe("/", "signaling", 15, 4)),
        resources: Some(resources(&livekit.resources)),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };
    let mut template = draining_pod_template(livekit, container, volumes);
    if livekit.host_network
        && let Some(spec) = template.spec.as_mut()
    {
        // The container's ports are the node's (the API server sets each `hostPort` to its
        // `containerPort`); cluster DNS still resolves lk-jwt's webhook URL.
        spec.host_network = Some(true);
        spec.dns_policy = Some("ClusterFirstWithHostNet".to_owned());
    }
    if scaled_out(livekit)
        && let Some(spec) = template.spec.as_mut()
    {
        spec.affinity = Some(one_pod_per_node());
    }
    let strategy = if scaled_out(livekit) {
        node_by_node_rollout()
    } else {
        rollout_strategy()
    };
    Deployment {
        metadata: workload_meta(NAME, reloader),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::from(livekit.replicas)),
            strategy: Some(strategy),
            progress_deadline_seconds: Some(progress_deadline_seconds(livekit)),
            selector: selector(NAME),
            template,
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// Written at the top of the Deployment's file with `livekit.hostNetwork: true`, where an
/// operator reviewing the tree sees it.
const HOST_NETWORK_COMMENT: &str = "\
# livekit.hostNetwork: true: this pod runs on its node's network namespace, with the media
# ports bound on the node itself. That is outside the restricted (and the baseline) Pod
# Security profile: a namespace that enforces either refuses the pod.
";

/// `Recreate`: the old pod drains before the new one starts. Each LiveKit here is a single node
/// with no shared room state, so a surge pod (`RollingUpdate`) would be a second, separate SFU
/// behind the same signalling Service and the same `nodeIp`/UDP mux port: whoever joins a call
/// in progress during the overlap lands on the new pod and neither sees nor hears the others,
/// and a participant whose ICE restarts (a network change) reaches the new pod, which has no
/// session for it. With `Recreate` a call in progress keeps its pod until it ends; a new call
/// or join waits until the old pod has exited and the new one is ready.
fn rollout_strategy() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("Recreate".to_owned()),
        ..DeploymentStrategy::default()
    }
}

/// What a rollout of a new LiveKit image does to calls, after the Deployment's strategy: one
/// SFU stops and drains while nothing takes new calls ([`rollout_strategy`]), or several
/// drain one at a time while the others take the new calls ([`node_by_node_rollout`]).
fn rollout_note(livekit: &Settings) -> String {
    let grace = livekit.termination_grace_period_seconds;
    if !scaled_out(livekit) {
        return format!(
            "Rolling this out restarts LiveKit (Deployment strategy Recreate):\n\
             - calls in progress continue on the old pod until they end, for at\n  \
             most livekit.terminationGracePeriodSeconds ({grace} s); calls still\n  \
             running then are cut;\n\
             - no call can start or be joined from the moment the rollout\n  \
             begins until the old pod has exited and the new one is ready.\n\
             Merge it when few calls are running.\n"
        );
    }
    let replicas = livekit.replicas;
    let longest = u64::from(replicas) * u64::from(grace);
    format!(
        "Rolling this out restarts the {replicas} LiveKit nodes one at a time\n\
         (Deployment strategy RollingUpdate, maxSurge 0, maxUnavailable 1):\n\
         - the stopping node is given no new room; calls in progress on it\n  \
         continue until they end, for at most\n  \
         livekit.terminationGracePeriodSeconds ({grace} s); calls still\n  \
         running then are cut;\n\
         - the other nodes keep taking new calls meanwhile;\n\
         - the whole rollout takes up to {replicas} x {grace} s ({longest} s), plus\n  \
         the start of each new pod.\n\
         Merge it when few calls are running.\n"
    )
}

/// The pod template with `livekit.terminationGracePeriodSeconds`: on SIGTERM LiveKit marks its
/// node as shutting down (no new room is placed on it) and waits for every participant to
/// leave before it exits; the kubelet's SIGKILL at the end of the grace period ends the calls
/// still running. The default 30 s would cut every call at each rollout.
fn draining_pod_template(
    livekit: &Settings,
    container: Container,
    volumes: Vec<Volume>,
) -> PodTemplateSpec {
    let mut template = pod_template(NAME, UID, container, volumes);
    if let Some(spec) = template.spec.as_mut() {
        spec.termination_grace_period_seconds =
            Some(i64::from(livekit.termination_grace_period_seconds));
    }
    template
}

/// How long a rollout may make no progress before the Deployment reports
/// `ProgressDeadlineExceeded` (Argo CD then shows it Degraded, `kubectl rollout status` fails):
/// a step of a LiveKit rollout waits for a pod that drains for up to the grace period, so the
/// deadline is the grace period plus Kubernetes' default 600 s for the new pod to become ready.
fn progress_deadline_seconds(livekit: &Settings) -> i32 {
    i32::try_from(livekit.termination_grace_period_seconds)
        .unwrap_or(i32::MAX)
        .saturating_add(600)
}

fn service_port(name: &str, port: i32, target: u16, protocol: &str) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port,
        target_port: Some(IntOrString::Int(i32::from(target))),
        protocol: Some(protocol.to_owned()),
        ..ServicePort::default()
    }
}

fn signaling_service(raw: &RawConfig, livekit: &Settings) -> Service {
    let port = livekit.rtc.signaling_port;
    service(
        &raw.network,
        meta(SIGNALING_SERVICE, Some(NAME)),
        ServiceSpec {
            selector: Some(app_labels(NAME)),
            ports: Some(vec![service_port(
                "signaling",
                i32::from(port),
                port,
                "TCP",
            )]),
            ..ServiceSpec::default()
        },
    )
}

/// The media Services of [`media_services`] by name, each with its ports of [`rtc_ports`].
fn rtc_services(
    raw: &RawConfig,
    livekit: &Settings,
    turn: Option<&Turn>,
) -> Vec<(&'static str, Service)> {
    let ports = rtc_ports(livekit, turn);
    media_services(livekit)
        .into_iter()
        .map(|name| {
            let own = ports.iter().filter(|port| port.service == name);
            (name, rtc_service(raw, &livekit.rtc, name, own.collect()))
        })
        .collect()
}

/// A media Service: ports with port = targetPort (LiveKit advertises the port it listens on),
/// of type `serviceType`, asking for `nodeIp` the way `pinLoadBalancerIp` says; split ones
/// also carry the sharing key their load balancer needs to give both that one address. An
/// annotation takes both addresses of a dual-stack `nodeIp` as one comma-separated list,
/// `spec.loadBalancerIP` only one (the guards allow it only then).
///
/// `externalTrafficPolicy` as chosen: with `Cluster` every node forwards to the pod's node,
/// so wherever the pod moves the address keeps working, at the price of one more hop and of
/// the client address (LiveKit sees the forwarding node's). With `Local` only the pod's node
/// accepts the media: the client address is kept and the hop skipped, and a load balancer
/// finds that node through the Service's health-check node port (after a move, once its
/// health check has seen the new node); a NodePort client must dial that node.
fn rtc_service(raw: &RawConfig, rtc: &Rtc, name: &'static str, ports: Vec<&RtcPort>) -> Service {
    let mut labels = app_labels(NAME);
    labels.extend(rtc.service_labels.clone());
    let ports = ports
        .into_iter()
        .map(|port| port.service_port(rtc.service_type))
        .collect();
    let mut annotations = rtc.service_annotations.clone();
    let mut load_balancer_ip = None;
    if let Some(node_ip) = rtc.node_ip() {
        match rtc.pin_load_balancer_ip {
            PinLoadBalancerIp::None => {}
            PinLoadBalancerIp::Spec => load_balancer_ip = Some(node_ip.to_string()),
            pin => {
                let annotation = pin.annotation().expect("every other pin is an annotation");
                annotations.insert(annotation.to_owned(), node_ip.to_string());
            }
        }
    }
    if rtc.split_services
        && let Some(sharing) = rtc.pin_load_balancer_ip.sharing_annotation()
    {
        // One written in `serviceAnnotations` is on both Services alike, so it shares too.
        annotations
            .entry(sharing.to_owned())
            .or_insert_with(|| SHARING_KEY.to_owned());
    }
    let mut metadata = meta(name, None);
    metadata.labels = Some(labels);
    metadata.annotations = Some(annotations).filter(|annotations| !annotations.is_empty());
    service(
        &raw.network,
        metadata,
        ServiceSpec {
            type_: Some(rtc.service_type.as_str().to_owned()),
            load_balancer_ip,
            external_traffic_policy: Some(rtc.external_traffic_policy.as_str().to_owned()),
            selector: Some(app_labels(NAME)),
            ports: Some(ports),
            ..ServiceSpec::default()
        },
    )
}

fn inline_secret(livekit: &Settings, keys: &KeysSecret) -> Secret {
    let api_key = &livekit.keys.api_key;
    let api_secret = &livekit.keys.api_secret;
    Secret {
        metadata: meta(&keys.name, Some(NAME)),
        type_: Some("Opaque".to_owned()),
        string_data: Some(BTreeMap::from([(
            keys.livekit_keys_key.clone(),
            format!("{api_key}: {api_secret}"),
        )])),
        ..Secret::default()
    }
}

/// TURN's patches to the LiveKit component's objects: `(file stem, target, operations)`,
/// appending what [`objects`] appends when given `turn`.
pub(crate) fn turn_patches(
    raw: &RawConfig,
    livekit: &Settings,
    turn: &Turn,
) -> Result<Vec<PatchFile>, RenderError> {
    let container = "/spec/template/spec/containers/0";
    let ports = turn_ports(&livekit.rtc, turn);
    let mut deployment_ops = Vec::new();
    for port in &ports {
        deployment_ops.push(PatchOp::append(
            &format!("{container}/ports"),
            to_json(&port.container_port(), "TURN port")?,
        ));
    }
    deployment_ops.push(PatchOp::append(
        "/spec/template/spec/volumes",
        to_json(&turn_volume(turn), "TURN volume")?,
    ));
    deployment_ops.push(PatchOp::append(
        &format!("{container}/volumeMounts"),
        to_json(&turn_mount(), "TURN mount")?,
    ));
    let mut patches = vec![PatchFile {
        file: format!("{NAME}-deployment-patch.yaml"),
        target: PatchTarget::new("apps", "v1", "Deployment", NAME),
        ops: deployment_ops,
    }];
    for service in media_services(livekit) {
        let mut service_ops = Vec::new();
        for port in ports.iter().filter(|port| port.service == service) {
            service_ops.push(PatchOp::append(
                "/spec/ports",
                to_json(
                    &port.service_port(livekit.rtc.service_type),
                    "TURN Service port",
                )?,
            ));
        }
        if !service_ops.is_empty() {
            patches.push(PatchFile {
                file: format!("{service}-service-patch.yaml"),
                target: PatchTarget::new("", "v1", "Service", service),
                ops: service_ops,
            });
        }
    }
    if raw.network_policy.enabled {
        // Every port listed, not one `endPort` range: a CNI without `endPort` support would
        // admit only the first port.
        let mut policy_ops = Vec::new();
        for port in &ports {
            policy_ops.push(PatchOp::append(
                "/spec/ingress/0/ports",
                to_json(&port.policy_port(), "TURN policy port")?,
            ));
        }
        patches.push(PatchFile {
            file: format!("{NAME}-networkpolicy-patch.yaml"),
            target: PatchTarget::new("networking.k8s.io", "v1", "NetworkPolicy", POLICY),
            ops: policy_ops,
        });
    }
    Ok(patches)
}

// ---- scale-out: several nodes sharing rooms through Redis -----------------------------------

/// Whether several LiveKit nodes run (the guards made sure they have Redis and the host
/// network, each advertising its own node's address).
fn scaled_out(livekit: &Settings) -> bool {
    livekit.replicas > 1
}

/// The env var LiveKit reads the Redis password from (its `--redis-password`): its config file
/// takes the password only inline and expands no variables, so the Secret comes in as env.
const REDIS_PASSWORD_ENV: &str = "REDIS_PASSWORD";
/// The env var LiveKit reads its advertised address from (its `--node-ip`).
const NODE_IP_ENV: &str = "NODE_IP";

/// LiveKit's `redis:` section, with the keys of LiveKit's `RedisConfig` (its config is strict
/// YAML: an unknown key stops the server). The password comes from [`REDIS_PASSWORD_ENV`].
fn redis_config(redis: &Redis) -> serde_json::Value {
    let mut config = json!({"db": redis.db});
    let address = redis.server_address();
    if !address.is_empty() {
        config["address"] = json!(address);
    }
    if redis.tls {
        // Verified against the image's CA roots; `use_tls` is LiveKit's deprecated spelling.
        config["tls"] = json!({"enabled": true});
    }
    if redis.sentinel() {
        config["sentinel_master_name"] = json!(redis.sentinel_master_name);
        config["sentinel_addresses"] = json!(redis.sentinel_addresses);
    }
    config
}

/// The Redis password from its Secret, and with `rtc.nodeIpFrom: hostIP` the node's address
/// from the downward API; `None` when neither applies.
fn scale_out_env(livekit: &Settings) -> Option<Vec<EnvVar>> {
    let mut env = Vec::new();
    if let Some(secret) = livekit
        .redis
        .as_ref()
        .and_then(|redis| redis.password_secret())
    {
        env.push(secret_env(REDIS_PASSWORD_ENV, &secret.name, &secret.key));
    }
    if livekit.rtc.node_ip_from == Some(NodeIpFrom::HostIp) {
        env.push(EnvVar {
            name: NODE_IP_ENV.to_owned(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "status.hostIP".to_owned(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        });
    }
    (!env.is_empty()).then_some(env)
}

/// At most one LiveKit pod per node: each advertises its node's address and binds the media
/// ports on it (host network), so two on one node could not both start nor be told apart.
fn one_pod_per_node() -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                label_selector: Some(selector(NAME)),
                topology_key: "kubernetes.io/hostname".to_owned(),
                ..PodAffinityTerm::default()
            }]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

/// With several nodes sharing rooms through Redis, one node at a time: the stopping node
/// drains (keeps its calls, takes no new room) while the others place every new room, so a
/// rollout never leaves the site without a node that accepts calls, as `Recreate` would. No
/// surge pod: with one pod per node a surge pod finds no free node on a site that uses them
/// all.
fn node_by_node_rollout() -> DeploymentStrategy {
    DeploymentStrategy {
        type_: Some("RollingUpdate".to_owned()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(IntOrString::Int(0)),
            max_unavailable: Some(IntOrString::Int(1)),
        }),
    }
}

/// Keeps at least one LiveKit node up through voluntary disruptions (node drains, cluster
/// upgrades): an evicted node drains its calls for the grace period while the others take the
/// new rooms.
fn disruption_budget() -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(NAME, Some(NAME)),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(1)),
            selector: Some(selector(NAME)),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}
