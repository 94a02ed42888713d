//! The typed model of `bundle.yaml`. Key names follow the Helm chart's `matrixChat.*` values so
//! an operator of the chart can move their values over; where we differ, the README says why.
//!
//! Every struct denies unknown keys: a typo must never fall back to a default.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::images::{Images, RegistryEndpoint};

/// The whole `bundle.yaml`, as written by the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "bundle.yaml")]
pub struct RawConfig {
    /// Namespace every object is deployed to (set by `base/kustomization.yaml`).
    pub namespace: String,
    /// Settings shared by all images.
    #[serde(default)]
    pub global: Global,
    /// Allows inline secret values (`livekit.keys.apiSecret`, `homeserver.registrationToken`)
    /// to be written into the tree. Only for throwaway clusters.
    #[serde(default)]
    pub allow_inline_secrets: bool,
    /// The `matrix-ingress` Ingress on `homeserver.serverName`.
    #[serde(default)]
    pub ingress: Ingress,
    /// Gateway API HTTPRoutes on `homeserver.serverName` instead of the Ingress.
    #[serde(default)]
    pub gateway: Gateway,
    /// The `*-policy` NetworkPolicies.
    #[serde(default)]
    pub network_policy: NetworkPolicy,
    /// The IP families of every Service (dual-stack and IPv6 clusters).
    #[serde(default)]
    pub network: Network,
    /// Tuwunel.
    pub homeserver: Homeserver,
    /// LiveKit settings shared by every variant; each overlay may change them.
    #[serde(default)]
    pub livekit: Livekit,
    /// lk-jwt-service.
    #[serde(default)]
    pub lk_jwt: LkJwt,
    /// Which variants to generate, each with the LiveKit settings only it needs. Default: all
    /// three with no changes.
    #[serde(default = "default_overlays")]
    pub overlays: BTreeMap<OverlayName, OverlayDelta>,
    /// The image pins (single source of truth for the `images:` entries of the tree).
    pub images: Images,
    /// Endpoint overrides for registry hosts (mirrors, local registries), used by `bundle pins`.
    #[serde(default)]
    pub registries: BTreeMap<String, RegistryEndpoint>,
    /// The controller that restarts a workload when a Secret it reads changes (a renewed TURN
    /// certificate, rotated keys). `none`: a changed Secret reaches a pod only when it restarts.
    #[serde(default)]
    pub reloader: Reloader,
}

/// `reloader:`: which controller, if any, restarts the workloads when their Secrets change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Reloader {
    /// None runs: nothing restarts on a changed Secret.
    #[default]
    None,
    /// Stakater Reloader: each workload carries `secret.reloader.stakater.com/auto: "true"`,
    /// so a change to any Secret its pods read rolls them.
    Stakater,
}

fn default_overlays() -> BTreeMap<OverlayName, OverlayDelta> {
    OverlayName::ALL
        .into_iter()
        .map(|name| (name, OverlayDelta::default()))
        .collect()
}

/// The variants the generator knows how to build.
// Read through `String` so that an error inside `overlays.<name>` can name the overlay in its
// key path (an enum used as a map key hides its text from the path tracker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "String")]
pub enum OverlayName {
    /// `overlays/bundled`: base + bundled LiveKit.
    Bundled,
    /// `overlays/bundled-turn`: base + bundled LiveKit + TURN over TLS.
    BundledTurn,
    /// `overlays/external`: base pointed at an operator-managed LiveKit.
    External,
}

impl OverlayName {
    /// Every variant, in directory-name order.
    pub const ALL: [OverlayName; 3] = [
        OverlayName::Bundled,
        OverlayName::BundledTurn,
        OverlayName::External,
    ];

    /// The directory name under `overlays/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            OverlayName::Bundled => "bundled",
            OverlayName::BundledTurn => "bundled-turn",
            OverlayName::External => "external",
        }
    }
}

/// Why a string is not an [`OverlayName`]. The wording follows serde's, so the loader can offer
/// the nearest name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown variant `{value}`, expected one of `bundled`, `bundled-turn`, `external`")]
pub struct UnknownOverlay {
    /// The rejected name.
    pub value: String,
}

impl std::str::FromStr for OverlayName {
    type Err = UnknownOverlay;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        OverlayName::ALL
            .into_iter()
            .find(|name| name.dir_name() == value)
            .ok_or_else(|| UnknownOverlay {
                value: value.to_owned(),
            })
    }
}

/// The names as a string enum, so that editors offer them under `overlays:` (the derived
/// schema would follow `try_from = "String"` and allow any string).
impl JsonSchema for OverlayName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OverlayName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = OverlayName::ALL
            .into_iter()
            .map(OverlayName::dir_name)
            .collect();
        schemars::json_schema!({
            "description": "A variant the generator builds: `overlays/<name>`.",
            "type": "string",
            "enum": names,
        })
    }
}

impl TryFrom<String> for OverlayName {
    type Error = UnknownOverlay;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

/// What one overlay changes. Only LiveKit settings differ between variants; everything else
/// lives in `base/` and is shared.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OverlayDelta {
    /// Merged key by key over the top-level `livekit:` (mappings merge, other values replace).
    // Every `livekit` key has a default, so the delta's schema is `livekit`'s own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Livekit>")]
    pub livekit: Option<serde_norway::Value>,
}

/// `global:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Global {
    /// Registry for images that name none (never overrides an image's own `registry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registry: Option<String>,
}

/// `ingress:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ingress {
    /// `ingressClassName`; also selects class-specific annotations (nginx, haproxy, traefik).
    #[serde(default = "default_ingress_class")]
    pub class_name: String,
    /// TLS for serverName.
    #[serde(default)]
    pub tls: IngressTls,
    /// Extra annotations, merged over the generated ones.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Source CIDRs allowed to reach the ingress (comma-separated, chart name). Empty: all.
    #[serde(default)]
    pub whitelist_source_range: String,
}

impl Default for Ingress {
    fn default() -> Self {
        Self {
            class_name: default_ingress_class(),
            tls: IngressTls::default(),
            annotations: BTreeMap::new(),
            whitelist_source_range: String::new(),
        }
    }
}

fn default_ingress_class() -> String {
    "nginx".to_owned()
}

/// `ingress.tls:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressTls {
    /// Serve serverName over TLS from `secretName`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The TLS Secret for serverName (created by the operator or by cert-manager).
    #[serde(default = "default_tls_secret")]
    pub secret_name: String,
    /// When set, adds `cert-manager.io/cluster-issuer: <name>` so cert-manager fills the Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_issuer: Option<String>,
}

impl Default for IngressTls {
    fn default() -> Self {
        Self {
            enabled: true,
            secret_name: default_tls_secret(),
            cluster_issuer: None,
        }
    }
}

fn default_tls_secret() -> String {
    "matrix-certificate".to_owned()
}

/// `gateway:`: Gateway API instead of the Ingress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    /// Route serverName with Gateway API HTTPRoutes (`gateway.networking.k8s.io/v1`) attached to
    /// `parentRefs` instead of the `matrix-ingress` Ingress. The `ingress` keys are then refused:
    /// TLS, the class and the controller's settings belong to the Gateway.
    #[serde(default)]
    pub enabled: bool,
    /// The Gateways the HTTPRoutes attach to, at least one when `enabled`.
    #[serde(default)]
    pub parent_refs: Vec<GatewayParentRef>,
}

/// One entry of `gateway.parentRefs`: a Gateway, optionally one listener of it (the HTTPRoute's
/// `parentRefs[]` of group `gateway.networking.k8s.io` and kind `Gateway`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayParentRef {
    /// Name of the Gateway.
    pub name: String,
    /// Namespace of the Gateway; unset: the tree's `namespace`. The Gateway's listener must
    /// then admit routes from the tree's namespace (`allowedRoutes.namespaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the listener to attach to, e.g. the HTTPS listener on 443; unset: every listener
    /// of the Gateway that admits the routes (a plain-HTTP one included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// `networkPolicy:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicy {
    /// Generate the three `*-policy` NetworkPolicies (the chart's default is off; ours is on).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Namespace of the ingress controller, allowed to reach the homeserver and lk-jwt.
    #[serde(default = "default_ingress_namespace")]
    pub ingress_controller_namespace: String,
    /// Who may reach the homeserver, lk-jwt and LiveKit's signalling besides the own
    /// namespace, as NetworkPolicy peers. Set, it replaces the peer of
    /// `ingressControllerNamespace`: for a controller in another namespace (`kube-system`) or
    /// on the host network (its nodes' CIDRs as an `ipBlock`). Empty: that namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_from: Vec<PolicyPeer>,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            ingress_controller_namespace: default_ingress_namespace(),
            ingress_from: Vec::new(),
        }
    }
}

/// The namespace `ingressControllerNamespace` names when it is not written.
fn default_ingress_namespace() -> String {
    "ingress-nginx".to_owned()
}

/// `homeserver:` (Tuwunel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Homeserver {
    /// The Matrix server name; also the ingress host. Cannot change once data exists.
    #[serde(default)]
    pub server_name: String,
    /// Port Tuwunel listens on, and the Service port.
    #[serde(default = "default_client_port")]
    pub client_port: u16,
    /// Allow token registration (a token or token Secret is then required).
    #[serde(default = "yes")]
    pub allow_registration: bool,
    /// Must stay on: lk-jwt verifies OpenID tokens over federation.
    #[serde(default = "yes")]
    pub allow_federation: bool,
    /// Largest request body in bytes; also the ingress body-size limit.
    #[serde(default = "default_max_request_size")]
    pub max_request_size: u64,
    /// lk-jwt base URL advertised as the MatrixRTC focus, e.g. `https://<serverName>` (no `/sfu`).
    #[serde(default)]
    pub livekit_service_url: String,
    /// Inline registration token (refused unless `allowInlineSecrets`).
    #[serde(default)]
    pub registration_token: String,
    /// Secret holding the registration token.
    #[serde(default)]
    pub registration_token_existing_secret: SecretKeyRef,
    /// Appservice registrations loaded from a Secret at startup.
    #[serde(default)]
    pub appservices: Appservices,
    /// Where Tuwunel takes each client's address from (its `ip_source`).
    #[serde(default)]
    pub ip_source: IpSource,
    /// The addresses Tuwunel listens on (its `address`). `0.0.0.0` is every IPv4 address of
    /// the pod; `::` is every IPv6 address and, on Linux, IPv4 as well: the one for IPv6 and
    /// dual-stack pods. A pod's own address is only known once it runs, so the list must hold
    /// one of the two.
    #[serde(
        default = "default_listen_addresses",
        deserialize_with = "listen_addresses"
    )]
    pub listen_addresses: Vec<IpAddr>,
    /// The database volume.
    #[serde(default)]
    pub persistence: Persistence,
    /// Container resources.
    #[serde(default = "Resources::homeserver")]
    pub resources: Resources,
    /// Tuwunel's `cache_capacity_modifier`: multiplies its entry-count caches, which Tuwunel
    /// sizes from the node's core count. Lower it (e.g. `0.25`) on a many-core node where the
    /// pod is killed for memory. Unset: Tuwunel's own 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_capacity_modifier: Option<f64>,
}

fn default_listen_addresses() -> Vec<IpAddr> {
    vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]
}

/// Reads `homeserver.listenAddresses`, saying what to write instead of text that is no
/// address.
fn listen_addresses<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<IpAddr>, D::Error> {
    Vec::<String>::deserialize(deserializer)?
        .iter()
        .map(|text| {
            text.parse().map_err(|_| {
                serde::de::Error::custom(format!(
                    "`{text}` is not an IP address: Tuwunel binds exactly the addresses listed. \
                     Fix: write `0.0.0.0` (every IPv4 address of the pod) or `::` (every IPv6 \
                     address, and IPv4 as well)"
                ))
            })
        })
        .collect()
}

fn default_client_port() -> u16 {
    6167
}

fn default_max_request_size() -> u64 {
    104_857_600
}

/// `homeserver.ipSource`: Tuwunel's `ip_source`, with Tuwunel's own names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IpSource {
    /// The rightmost `X-Forwarded-For` entry, the one the ingress controller (or gateway)
    /// appends and a client cannot forge. A request without the header (an in-cluster client
    /// that bypasses the ingress) gets 500 on the routes that need the address.
    #[default]
    RightmostXForwardedFor,
    /// The rightmost entry of the standard `Forwarded` header.
    RightmostForwarded,
    /// `X-Real-IP`, as nginx sets it.
    XRealIp,
    /// The TCP peer: the ingress controller's pod for every client behind it, but any client
    /// works, in-cluster bridges that call the homeserver's Service included.
    ConnectInfo,
    /// `CF-Connecting-IP` (Cloudflare, cloudflared).
    CfConnectingIp,
    /// `True-Client-IP` (Akamai, Cloudflare Enterprise).
    TrueClientIp,
    /// `Fly-Client-IP` (Fly.io).
    FlyClientIp,
    /// `CloudFront-Viewer-Address` (AWS CloudFront).
    #[serde(rename = "cloudfront_viewer_address")]
    CloudFrontViewerAddress,
}

/// `homeserver.appservices:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Appservices {
    /// Secret whose keys are appservice registration files (`<name>.yaml` or `<name>.yml`;
    /// other keys are ignored). Mounted read-only and set as Tuwunel's `appservice_dir`, which
    /// Tuwunel reads at startup only. Empty means unset.
    #[serde(default)]
    pub existing_secret: String,
}

/// A key in an existing Secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// Secret name; empty means unset.
    #[serde(default)]
    pub name: String,
    /// Key inside the Secret.
    #[serde(default = "default_registration_token_key")]
    pub key: String,
}

impl Default for SecretKeyRef {
    fn default() -> Self {
        Self {
            name: String::new(),
            key: default_registration_token_key(),
        }
    }
}

fn default_registration_token_key() -> String {
    "registration_token".to_owned()
}

/// `homeserver.persistence:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Persistence {
    /// `false` keeps the database in an emptyDir (lost on restart; tests only).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Size of the `data` volume claim template.
    #[serde(default = "default_volume_size")]
    pub size: String,
    /// Storage class; omitted when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Use this existing claim instead of a claim template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_claim: Option<String>,
}

impl Default for Persistence {
    fn default() -> Self {
        Self {
            enabled: true,
            size: default_volume_size(),
            storage_class: None,
            existing_claim: None,
        }
    }
}

fn default_volume_size() -> String {
    "10Gi".to_owned()
}

/// Container resource requests and limits, as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// Requests, e.g. `{cpu: 100m, memory: 256Mi}`.
    #[serde(default)]
    pub requests: BTreeMap<String, String>,
    /// Limits, e.g. `{memory: 1Gi}`.
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
}

impl Resources {
    fn of(cpu: &str, memory: &str, memory_limit: &str) -> Self {
        Self {
            requests: BTreeMap::from([
                ("cpu".to_owned(), cpu.to_owned()),
                ("memory".to_owned(), memory.to_owned()),
            ]),
            limits: BTreeMap::from([("memory".to_owned(), memory_limit.to_owned())]),
        }
    }

    /// Default for Tuwunel.
    pub fn homeserver() -> Self {
        Self::of("100m", "256Mi", "2Gi")
    }

    /// Default for livekit-server.
    pub fn livekit() -> Self {
        Self::of("100m", "150Mi", "2Gi")
    }

    /// Default for lk-jwt-service.
    pub fn lk_jwt() -> Self {
        Self::of("50m", "50Mi", "200Mi")
    }

    /// The bundled Valkey: LiveKit's routing and room state and lk-jwt's delayed leaves are
    /// small, a few kilobytes per room.
    pub(crate) fn valkey() -> Self {
        Self::of("50m", "64Mi", "256Mi")
    }
}

/// `livekit:` (the SFU), top level or merged with an overlay's delta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Livekit {
    /// Bundled (`true`) or external (`false`). Each overlay's name fixes it; see the README.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Public `wss://` URL of the SFU, returned to clients and used by lk-jwt.
    #[serde(default)]
    pub public_url: String,
    /// API credentials.
    #[serde(default)]
    pub keys: LivekitKeys,
    /// Ports and the advertised address.
    #[serde(default)]
    pub rtc: Rtc,
    /// TURN over TLS.
    #[serde(default)]
    pub turn: Turn,
    /// Container resources.
    #[serde(default = "Resources::livekit")]
    pub resources: Resources,
    /// Run the pod on the node's network, so the media ports are the node's own and no
    /// media Service is rendered. For clusters where only host ports reach the media. The pod
    /// then leaves the restricted (and baseline) Pod Security profile, so it must be chosen
    /// explicitly.
    #[serde(default)]
    pub host_network: bool,
    /// Seconds a stopping LiveKit pod may keep serving the calls it has: LiveKit drains on
    /// SIGTERM (it takes no new room and waits for the last participant to leave), and the
    /// kubelet kills it when this runs out, ending every call still on it.
    #[serde(default = "default_livekit_grace_seconds")]
    pub termination_grace_period_seconds: u32,
    /// How many LiveKit nodes run. Above 1 they place and find rooms through `redis`, and
    /// each runs on a node of its own on the host network (`hostNetwork`), advertising that
    /// node's address (`rtc.nodeIpFrom: hostIP` or `rtc.useExternalIp`).
    #[serde(default = "default_livekit_replicas")]
    pub replicas: u16,
    /// The Redis (or Valkey) server the LiveKit nodes share room routing and state through;
    /// required with more than one replica. lk-jwt keeps its delayed-leave state there too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<Redis>,
}

/// One node: a single LiveKit needs no Redis.
fn default_livekit_replicas() -> u16 {
    1
}

/// Half an hour: most calls end within it, and a pin bump (which stops the one SFU) must not
/// hold back new calls for much longer.
fn default_livekit_grace_seconds() -> u32 {
    1800
}

impl Default for Livekit {
    fn default() -> Self {
        Self {
            enabled: None,
            public_url: String::new(),
            keys: LivekitKeys::default(),
            rtc: Rtc::default(),
            turn: Turn::default(),
            resources: Resources::livekit(),
            host_network: false,
            termination_grace_period_seconds: default_livekit_grace_seconds(),
            replicas: default_livekit_replicas(),
            redis: None,
        }
    }
}

/// `livekit.keys:`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LivekitKeys {
    /// Inline API key (refused unless `allowInlineSecrets`).
    #[serde(default)]
    pub api_key: String,
    /// Inline API secret, at least 32 characters (refused unless `allowInlineSecrets`).
    #[serde(default)]
    pub api_secret: String,
    /// Name (ID) of the API key in the keys Secret, the `<key>` of `"<key>: <secret>"`. Not a
    /// secret, so it may sit in `bundle.yaml`. When set (and with inline keys, from `apiKey`),
    /// the bundled LiveKit signs webhooks with that key and sends them to lk-jwt's
    /// `/sfu_webhook` (lk-jwt 0.6+, delegated delayed leave). LiveKit refuses to start if its
    /// keys hold no key of that name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_name: Option<String>,
    /// The Secret holding the keys.
    #[serde(default)]
    pub existing_secret: LivekitKeysSecret,
}

impl LivekitKeys {
    /// The API key LiveKit signs its webhooks with: `apiKeyName`, or with inline keys (no
    /// existing Secret) the inline `apiKey`. `None`: no webhook.
    pub fn webhook_key_name(&self) -> Option<&str> {
        self.api_key_name.as_deref().or_else(|| {
            let inline = self.existing_secret.name.is_empty() && !self.api_key.is_empty();
            inline.then_some(self.api_key.as_str())
        })
    }
}

/// `livekit.keys.existingSecret:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LivekitKeysSecret {
    /// Secret name; empty means unset.
    #[serde(default)]
    pub name: String,
    /// Key holding the one line `"<key>: <secret>"`, mounted as the key file of both
    /// livekit-server (`key_file`) and lk-jwt (`LIVEKIT_KEY_FILE`).
    #[serde(default = "default_livekit_keys_key")]
    pub livekit_keys_key: String,
    /// Key of lk-jwt's own `"<key>: <secret>"` line, when it is not `livekitKeysKey`: LiveKit
    /// accepts several keys in its key file, lk-jwt exactly one, so rotating the key without
    /// dropping calls (`bundle secrets --rotate livekit`) needs lk-jwt on an entry of its own.
    /// Unset: lk-jwt reads `livekitKeysKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lk_jwt_key_key: Option<String>,
    /// Removed: lk-jwt reads the API key from `livekitKeysKey`.
    #[serde(
        default,
        deserialize_with = "RemovedKey::written",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "RemovedKey")]
    pub api_key_key: Option<RemovedKey>,
    /// Removed: lk-jwt reads the API secret from `livekitKeysKey`.
    #[serde(
        default,
        deserialize_with = "RemovedKey::written",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "RemovedKey")]
    pub api_secret_key: Option<RemovedKey>,
}

impl LivekitKeysSecret {
    /// The key of the line lk-jwt reads: `lkJwtKeyKey`, else `livekitKeysKey`.
    pub fn lk_jwt_key(&self) -> &str {
        self.lk_jwt_key_key
            .as_deref()
            .unwrap_or(&self.livekit_keys_key)
    }
}

impl Default for LivekitKeysSecret {
    fn default() -> Self {
        Self {
            name: String::new(),
            livekit_keys_key: default_livekit_keys_key(),
            lk_jwt_key_key: None,
            api_key_key: None,
            api_secret_key: None,
        }
    }
}

/// A key `bundle.yaml` no longer has, read whatever its value only so that a guard can say
/// what replaces it (an unknown-key error could only list the keys that exist). The schema
/// allows no value, so editors flag it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedKey;

impl RemovedKey {
    /// `Some` whenever the key is written, an empty value (`~`) included; `None` (the field's
    /// default) only when it is absent.
    fn written<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<RemovedKey>, D::Error> {
        RemovedKey::deserialize(deserializer).map(Some)
    }
}

impl<'de> Deserialize<'de> for RemovedKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| RemovedKey)
    }
}

/// An empty value where settings are serialized to be compared; a guard refuses it anyway.
impl Serialize for RemovedKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl JsonSchema for RemovedKey {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RemovedKey".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A key that no longer exists; `bundle validate` says what replaces it.",
            "not": {},
        })
    }
}

fn default_livekit_keys_key() -> String {
    "LIVEKIT_KEYS".to_owned()
}

/// `livekit.rtc:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rtc {
    /// HTTP/WebSocket signalling port (behind the ingress).
    #[serde(default = "default_signaling_port")]
    pub signaling_port: u16,
    /// The single UDP mux port on the `livekit-rtc` LoadBalancer.
    #[serde(default = "default_udp_port")]
    pub udp_port: u16,
    /// ICE-over-TCP port on the `livekit-rtc` LoadBalancer.
    #[serde(default = "default_tcp_port")]
    pub tcp_port: u16,
    /// The LoadBalancer's public IP, advertised as the ICE candidate: one address, or on a
    /// dual-stack LoadBalancer one of each family as LiveKit writes them, `<IPv4>,<IPv6>`.
    /// Empty means unset.
    #[serde(
        default,
        deserialize_with = "NodeIp::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub node_ip: Option<NodeIp>,
    /// Discover the public IP with STUN instead of `nodeIp` (must be chosen explicitly).
    #[serde(default)]
    pub use_external_ip: bool,
    /// Extra labels on every media Service (`livekit-rtc`, or both split ones), e.g. for LB
    /// IP pools.
    #[serde(default)]
    pub service_labels: BTreeMap<String, String>,
    /// Extra annotations on every media Service (`livekit-rtc`, or both split ones).
    #[serde(default)]
    pub service_annotations: BTreeMap<String, String>,
    /// How the `livekit-rtc` LoadBalancer is told to take exactly `nodeIp`, so the address
    /// LiveKit advertises and the one the LoadBalancer gets cannot disagree. Needs `nodeIp`.
    #[serde(default)]
    pub pin_load_balancer_ip: PinLoadBalancerIp,
    /// One Service per protocol, `livekit-rtc-udp` and `livekit-rtc-tcp` (TURN over TLS on
    /// the TCP one), both asking for `nodeIp`, for load balancers that refuse a Service with
    /// UDP and TCP ports together or carry no UDP in one. Needs a `pinLoadBalancerIp`.
    #[serde(default)]
    pub split_services: bool,
    /// The type of the media Service(s): `LoadBalancer`, or `NodePort` for clusters without
    /// one (the media ports are then node ports of the same numbers, 30000-32767 by default).
    #[serde(default)]
    pub service_type: RtcServiceType,
    /// The media Service's `externalTrafficPolicy`: `Cluster` (any node forwards) or `Local`
    /// (only the pod's node answers; the client address is kept and one hop skipped).
    #[serde(default)]
    pub external_traffic_policy: ExternalTrafficPolicy,
    /// Where each LiveKit pod takes the address it advertises from, instead of `nodeIp`:
    /// `hostIP`, its node's address (the downward API's `status.hostIP`), for pods on the host
    /// network of nodes whose interface holds their public address. Unset: `nodeIp` or
    /// `useExternalIp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ip_from: Option<NodeIpFrom>,
}

/// `livekit.rtc.serviceType`: how the media ports leave the cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RtcServiceType {
    /// A LoadBalancer Service (the cloud's, MetalLB, Cilium LB IPAM, kube-vip...).
    #[default]
    LoadBalancer,
    /// A NodePort Service whose node ports are the media ports themselves, for clusters
    /// without a LoadBalancer; `nodeIp` is then a node's public address.
    NodePort,
}

impl RtcServiceType {
    /// The Service `type`, as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            RtcServiceType::LoadBalancer => "LoadBalancer",
            RtcServiceType::NodePort => "NodePort",
        }
    }
}

/// `livekit.rtc.externalTrafficPolicy`: which nodes forward media to the pod.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ExternalTrafficPolicy {
    /// Every node accepts the media ports and forwards to the pod's node, replacing the client
    /// address with its own.
    #[default]
    Cluster,
    /// Only the node running the pod accepts them (load balancers find it through the
    /// Service's health-check node port): the client address is kept and a hop skipped.
    Local,
}

impl ExternalTrafficPolicy {
    /// The Service's `externalTrafficPolicy`, as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalTrafficPolicy::Cluster => "Cluster",
            ExternalTrafficPolicy::Local => "Local",
        }
    }
}

/// `livekit.rtc.pinLoadBalancerIp`: where the `livekit-rtc` Service asks for `nodeIp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PinLoadBalancerIp {
    /// Nothing: the LoadBalancer picks its address (or `serviceAnnotations` pick it).
    #[default]
    None,
    /// `spec.loadBalancerIP` (deprecated upstream, still honoured by many providers, e.g. GKE).
    Spec,
    /// The annotation `metallb.io/loadBalancerIPs` (MetalLB).
    Metallb,
    /// The annotation `lbipam.cilium.io/ips` (Cilium LB IPAM).
    Cilium,
    /// The annotation `kube-vip.io/loadbalancerIPs` (kube-vip).
    KubeVip,
}

impl PinLoadBalancerIp {
    /// The Service annotation that asks for the address, for the pins that use one.
    pub fn annotation(self) -> Option<&'static str> {
        match self {
            PinLoadBalancerIp::None | PinLoadBalancerIp::Spec => None,
            PinLoadBalancerIp::Metallb => Some("metallb.io/loadBalancerIPs"),
            PinLoadBalancerIp::Cilium => Some("lbipam.cilium.io/ips"),
            PinLoadBalancerIp::KubeVip => Some("kube-vip.io/loadbalancerIPs"),
        }
    }

    /// The Service annotation whose equal value on two Services lets the load balancer give
    /// both the same address. MetalLB and Cilium LB IPAM refuse a second Service on an
    /// address without it; kube-vip has no such key, and for `spec` the provider decides.
    pub fn sharing_annotation(self) -> Option<&'static str> {
        match self {
            PinLoadBalancerIp::Metallb => Some("metallb.io/allow-shared-ip"),
            PinLoadBalancerIp::Cilium => Some("lbipam.cilium.io/sharing-key"),
            PinLoadBalancerIp::None | PinLoadBalancerIp::Spec | PinLoadBalancerIp::KubeVip => None,
        }
    }
}

impl Rtc {
    /// The advertised addresses, if any is written. An empty string counts as unset, as in the
    /// chart (`nodeIp: ""`).
    pub fn node_ip(&self) -> Option<NodeIp> {
        self.node_ip
    }
}

impl Default for Rtc {
    fn default() -> Self {
        Self {
            signaling_port: default_signaling_port(),
            udp_port: default_udp_port(),
            tcp_port: default_tcp_port(),
            node_ip: None,
            use_external_ip: false,
            service_labels: BTreeMap::new(),
            service_annotations: BTreeMap::new(),
            pin_load_balancer_ip: PinLoadBalancerIp::None,
            split_services: false,
            service_type: RtcServiceType::LoadBalancer,
            external_traffic_policy: ExternalTrafficPolicy::Cluster,
            node_ip_from: None,
        }
    }
}

fn default_signaling_port() -> u16 {
    7880
}

fn default_udp_port() -> u16 {
    7882
}

fn default_tcp_port() -> u16 {
    7881
}

/// `livekit.turn:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Turn {
    /// TURN over TLS. Each overlay's name fixes it; see the README.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// DNS name clients dial; must resolve to the `livekit-rtc` LoadBalancer IP.
    #[serde(default)]
    pub domain: String,
    /// Container TLS port (above 1024 so the pod runs unprivileged); the LoadBalancer maps
    /// 443 to it. The chart defaulted to 443.
    #[serde(default = "default_turn_tls_port")]
    pub tls_port: u16,
    /// Certificate for `domain`.
    #[serde(default)]
    pub tls: TurnTls,
    /// The UDP ports LiveKit relays media from (`turn.relay_range_start`..`relay_range_end`),
    /// each published on the `livekit-rtc` LoadBalancer. One relayed participant holds one or
    /// two; at most 100.
    #[serde(default)]
    pub relay_port_range: PortRange,
    /// CIDRs of private, loopback or link-local peers LiveKit's TURN may relay to
    /// (`turn.allow_restricted_peer_cidrs`; it refuses every such peer by default). Only for a
    /// site reachable on its own network: a private `rtc.nodeIp` must fall inside one.
    #[serde(default)]
    pub allow_restricted_peer_cidrs: Vec<String>,
}

impl Default for Turn {
    fn default() -> Self {
        Self {
            enabled: None,
            domain: String::new(),
            tls_port: default_turn_tls_port(),
            tls: TurnTls::default(),
            relay_port_range: PortRange::default(),
            allow_restricted_peer_cidrs: Vec::new(),
        }
    }
}

fn default_turn_tls_port() -> u16 {
    5349
}

/// A range of ports, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortRange {
    /// First port.
    pub start: u16,
    /// Last port (included).
    pub end: u16,
}

impl PortRange {
    /// Every port, in order (none when `end < start`).
    pub fn ports(self) -> impl Iterator<Item = u16> {
        self.start..=self.end
    }

    /// How many ports the range holds (0 when `end < start`).
    pub fn len(self) -> usize {
        self.ports().count()
    }

    /// Whether the range holds no port.
    pub fn is_empty(self) -> bool {
        self.end < self.start
    }
}

/// The TURN relay ports: 20, inside LiveKit's own default relay range (30000-40000) and above
/// the NodePort range Kubernetes allocates from by default (30000-32767), so a LoadBalancer
/// that publishes Service ports on the nodes cannot clash with another Service's NodePort.
impl Default for PortRange {
    fn default() -> Self {
        Self {
            start: 33000,
            end: 33019,
        }
    }
}

/// `livekit.turn.tls:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TurnTls {
    /// TLS Secret for `turn.domain`.
    #[serde(default)]
    pub existing_secret: String,
    /// Key of the certificate in the Secret.
    #[serde(default = "default_cert_key")]
    pub cert_key: String,
    /// Key of the private key in the Secret.
    #[serde(default = "default_key_key")]
    pub key_key: String,
    /// Have cert-manager issue and renew the certificate: a `Certificate` for `domain` is
    /// rendered whose Secret is `existingSecret`, signed by this issuer. Only a DNS-01 solver
    /// can prove `domain`: the `livekit-rtc` LoadBalancer serves no HTTP on port 80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_manager: Option<CertManagerIssuer>,
}

impl Default for TurnTls {
    fn default() -> Self {
        Self {
            existing_secret: String::new(),
            cert_key: default_cert_key(),
            key_key: default_key_key(),
            cert_manager: None,
        }
    }
}

/// `livekit.turn.tls.certManager:` the cert-manager issuer that signs TURN's certificate
/// (the `Certificate`'s `spec.issuerRef`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertManagerIssuer {
    /// The issuer's name.
    pub name: String,
    /// `Issuer` (in the tree's namespace) or `ClusterIssuer`. No default: cert-manager's own
    /// (`Issuer`) is rarely the one meant, and a wrong kind leaves the Certificate unissued.
    pub kind: IssuerKind,
    /// The API group of an external issuer; cert-manager's own (`cert-manager.io`) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// The kind of a cert-manager issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IssuerKind {
    /// Namespaced: it must be in the tree's namespace.
    Issuer,
    /// Cluster-scoped.
    ClusterIssuer,
}

impl IssuerKind {
    /// The kind as cert-manager writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            IssuerKind::Issuer => "Issuer",
            IssuerKind::ClusterIssuer => "ClusterIssuer",
        }
    }
}

fn default_cert_key() -> String {
    "tls.crt".to_owned()
}

fn default_key_key() -> String {
    "tls.key".to_owned()
}

/// `lkJwt:` (lk-jwt-service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LkJwt {
    /// Deploy lk-jwt-service (needed for calls).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Skip TLS verification of homeserver lookups (dev only).
    #[serde(default)]
    pub insecure_skip_verify_tls: bool,
    /// Entries of the pod's `/etc/hosts`, for a cluster that cannot reach its own public
    /// address from inside: point `homeserver.serverName` (and the host of `livekit.publicUrl`)
    /// at the ClusterIP of the ingress controller or gateway.
    #[serde(default)]
    pub host_aliases: Vec<HostAlias>,
    /// Container resources.
    #[serde(default = "Resources::lk_jwt")]
    pub resources: Resources,
}

impl Default for LkJwt {
    fn default() -> Self {
        Self {
            enabled: true,
            insecure_skip_verify_tls: false,
            host_aliases: Vec::new(),
            resources: Resources::lk_jwt(),
        }
    }
}

/// One entry of `lkJwt.hostAliases`: the pod resolves each of `hostnames` to `ip`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostAlias {
    /// IPv4 or IPv6 address, e.g. the ingress controller's ClusterIP.
    pub ip: String,
    /// DNS names resolved to `ip`, at least one.
    #[schemars(length(min = 1))]
    pub hostnames: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A validated `bundle.yaml`: the operator's settings plus, for each generated overlay, the
/// LiveKit settings after its delta was merged. Built only by [`Config::from_yaml`], which
/// refuses configs that would deploy something broken or unsafe, so the renderer can rely on
/// every guard having passed and never checks one again.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub(crate) raw: RawConfig,
    pub(crate) variants: BTreeMap<OverlayName, Variant>,
}

impl Config {
    /// The settings as written (top-level `livekit` not merged with any delta).
    pub fn raw(&self) -> &RawConfig {
        &self.raw
    }

    /// The overlays to generate (never none), each with its merged LiveKit settings.
    pub fn variants(&self) -> &BTreeMap<OverlayName, Variant> {
        &self.variants
    }
}

/// One overlay to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub(crate) name: OverlayName,
    pub(crate) livekit: Livekit,
}

impl Variant {
    /// Which overlay.
    pub fn name(&self) -> OverlayName {
        self.name
    }

    /// LiveKit settings for this overlay: top-level `livekit` merged with the overlay's delta.
    /// For `external`, `public_url` and `keys` describe the operator-managed SFU.
    pub fn livekit(&self) -> &Livekit {
        &self.livekit
    }

    /// Whether this variant deploys LiveKit in the cluster.
    pub fn livekit_bundled(&self) -> bool {
        self.name != OverlayName::External
    }

    /// Whether this variant enables TURN over TLS.
    pub fn turn_enabled(&self) -> bool {
        self.name == OverlayName::BundledTurn
    }
}

// ---- IP families and NetworkPolicy peers ----------------------------------------------------

/// `network:`: how every Service of the tree asks for its IP families. Unset keys write
/// nothing, so each Service gets the cluster's default: one family, the cluster's first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Network {
    /// `spec.ipFamilyPolicy` of every Service. Unset: not written (the API server then sets
    /// `SingleStack`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family_policy: Option<IpFamilyPolicy>,
    /// `spec.ipFamilies` of every Service, the primary family first. Empty: not written (the
    /// cluster's families, in its order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_families: Vec<IpFamily>,
}

impl Network {
    /// Whether every Service may get an address of `family`: listed in `ipFamilies`, or a
    /// dual-stack policy, which adds the other family wherever the cluster has it. `None`:
    /// nothing written says, the cluster's default decides.
    pub fn may_use(&self, family: IpFamily) -> Option<bool> {
        let dual = self
            .ip_family_policy
            .is_some_and(IpFamilyPolicy::dual_stack);
        if dual || self.ip_families.contains(&family) {
            Some(true)
        } else if self.ip_families.is_empty() {
            None
        } else {
            Some(false)
        }
    }
}

/// `network.ipFamilyPolicy`, with the Kubernetes names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IpFamilyPolicy {
    /// One family: the first of `ipFamilies`, or the cluster's first.
    SingleStack,
    /// Both families where the cluster has both, else one.
    PreferDualStack,
    /// Both families; the API server refuses the Service on a single-stack cluster.
    RequireDualStack,
}

impl IpFamilyPolicy {
    /// The value of `spec.ipFamilyPolicy`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamilyPolicy::SingleStack => "SingleStack",
            IpFamilyPolicy::PreferDualStack => "PreferDualStack",
            IpFamilyPolicy::RequireDualStack => "RequireDualStack",
        }
    }

    /// Whether a Service may get both families.
    pub fn dual_stack(self) -> bool {
        self != IpFamilyPolicy::SingleStack
    }
}

/// An entry of `network.ipFamilies`, with the Kubernetes names.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum IpFamily {
    /// IPv4.
    #[serde(rename = "IPv4")]
    V4,
    /// IPv6.
    #[serde(rename = "IPv6")]
    V6,
}

impl IpFamily {
    /// The value in `spec.ipFamilies`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::V4 => "IPv4",
            IpFamily::V6 => "IPv6",
        }
    }

    /// The family of `address` (an IPv4-mapped IPv6 address is IPv4, as LiveKit reads it).
    pub fn of(address: IpAddr) -> Self {
        match address.to_canonical() {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }
}

/// `livekit.rtc.nodeIp`: at most one address of each family, as LiveKit's `node_ip` holds
/// them. Written as LiveKit reads it, `<address>` or `<IPv4>,<IPv6>` (either order), so the
/// text moves unchanged between `bundle.yaml`, the chart's values and LiveKit's own config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeIp {
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
}

impl NodeIp {
    /// The addresses, IPv4 first (never none).
    pub fn addresses(self) -> impl Iterator<Item = IpAddr> {
        let v4 = self.v4.map(IpAddr::V4);
        let v6 = self.v6.map(IpAddr::V6);
        v4.into_iter().chain(v6)
    }

    /// The IPv4 address, if one is given.
    pub fn v4(self) -> Option<Ipv4Addr> {
        self.v4
    }

    /// The IPv6 address, if one is given.
    pub fn v6(self) -> Option<Ipv6Addr> {
        self.v6
    }

    /// Whether both families are given.
    pub fn is_dual_stack(self) -> bool {
        self.v4.is_some() && self.v6.is_some()
    }

    /// Reads the text of `nodeIp`; no value (`nodeIp:`, `~`) and empty text are `None` (unset),
    /// as they were while the key was a plain optional string.
    fn optional<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<NodeIp>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        if text.trim().is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

/// LiveKit's form: `<IPv4>,<IPv6>`, or the one address.
impl fmt::Display for NodeIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addresses: Vec<String> = self.addresses().map(|ip| ip.to_string()).collect();
        f.write_str(&addresses.join(","))
    }
}

/// Why a `nodeIp` text is refused. The words follow LiveKit's own refusals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeIpError {
    /// A part that is not an address.
    #[error(
        "`{part}` is not an IP address: LiveKit advertises it verbatim as its ICE candidate. \
         Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`, or \
         one of each as `<IPv4>,<IPv6>`, e.g. `203.0.113.10,2001:db8::10`"
    )]
    NotAnAddress {
        /// The rejected part.
        part: String,
    },
    /// More than two parts.
    #[error(
        "`{text}` holds {count} addresses, but LiveKit takes at most one IPv4 and one IPv6 \
         address and refuses to start on more. Fix: keep the LoadBalancer's address of each \
         family, as `<IPv4>,<IPv6>`"
    )]
    TooMany {
        /// The whole text.
        text: String,
        /// How many parts it has.
        count: usize,
    },
    /// Two addresses of one family.
    #[error(
        "`{text}` holds two {family} addresses, but LiveKit takes one address per family and \
         refuses to start on two of one. Fix: keep the one the LoadBalancer has, and add the \
         other family's address only on a dual-stack LoadBalancer"
    )]
    SameFamily {
        /// The whole text.
        text: String,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
}

impl std::str::FromStr for NodeIp {
    type Err = NodeIpError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        if parts.len() > 2 {
            return Err(NodeIpError::TooMany {
                text: text.to_owned(),
                count: parts.len(),
            });
        }
        let mut node_ip = NodeIp { v4: None, v6: None };
        for part in parts {
            let address = part
                .parse::<IpAddr>()
                .map_err(|_| NodeIpError::NotAnAddress {
                    part: part.to_owned(),
                })?;
            let taken = match address.to_canonical() {
                IpAddr::V4(v4) => node_ip.v4.replace(v4).is_some(),
                IpAddr::V6(v6) => node_ip.v6.replace(v6).is_some(),
            };
            if taken {
                return Err(NodeIpError::SameFamily {
                    text: text.to_owned(),
                    family: IpFamily::of(address).as_str(),
                });
            }
        }
        Ok(node_ip)
    }
}

impl Serialize for NodeIp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for NodeIp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NodeIp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "One IP address, or an IPv4 and an IPv6 address as `<IPv4>,<IPv6>`.",
            "type": "string",
        })
    }
}

/// One entry of `networkPolicy.ingressFrom`: a NetworkPolicy peer. Either selectors (pods of
/// the selected namespaces, or of the own namespace with `podSelector` alone) or an
/// `ipBlock`, as Kubernetes allows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyPeer {
    /// Namespaces whose pods are let in (with `podSelector`, only those pods of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<Selector>,
    /// Pods let in: of the own namespace, or of the namespaces `namespaceSelector` selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<Selector>,
    /// Addresses let in, for what has no pod identity: a controller on the host network
    /// reaches the pods from its node's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
}

/// A label selector: the objects carrying every label of `matchLabels` and meeting every
/// expression. Empty: all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Selector {
    /// Labels that must be present with these values, e.g.
    /// `kubernetes.io/metadata.name: kube-system` for a namespace.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorExpression>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectorExpression {
    /// The label.
    pub key: String,
    /// How the label is compared with `values`.
    pub operator: SelectorOperator,
    /// The values: at least one for `In` and `NotIn`, none for `Exists` and `DoesNotExist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// `matchExpressions[].operator`, with the Kubernetes names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SelectorOperator {
    /// The label has one of `values`.
    In,
    /// The label is absent or has none of `values`.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl SelectorOperator {
    /// The Kubernetes name.
    pub fn as_str(self) -> &'static str {
        match self {
            SelectorOperator::In => "In",
            SelectorOperator::NotIn => "NotIn",
            SelectorOperator::Exists => "Exists",
            SelectorOperator::DoesNotExist => "DoesNotExist",
        }
    }

    /// Whether the operator compares with values (and so needs at least one).
    pub fn takes_values(self) -> bool {
        matches!(self, SelectorOperator::In | SelectorOperator::NotIn)
    }
}

/// `ipBlock`: the addresses of `cidr` except those of `except`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpBlock {
    /// The addresses let in, e.g. the nodes' subnet `10.0.0.0/24`.
    pub cidr: Cidr,
    /// Parts of `cidr` kept out, each inside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<Cidr>,
}

/// An IPv4 or IPv6 network with its prefix length, as written (`10.0.0.0/24`, `fd00::/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(pub IpNet);

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map(Cidr).map_err(|_| {
            serde::de::Error::custom(format!(
                "`{text}` is not a CIDR: Kubernetes refuses the NetworkPolicy. Fix: write an \
                 address with its prefix length, e.g. `10.0.0.0/24` or `fd00::/64`"
            ))
        })
    }
}

impl Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl JsonSchema for Cidr {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Cidr".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An IPv4 or IPv6 network with its prefix length, e.g. `10.0.0.0/24`.",
            "type": "string",
        })
    }
}

// ---- LiveKit scale-out: Redis and each node's own address ----------------------------------

/// `livekit.redis:`: LiveKit's `redis` settings, with the password from a Secret. Either
/// `address` (one server) or Sentinel (`sentinelMasterName` with `sentinelAddresses`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Redis {
    /// `host:port` of the server, e.g. `redis.example.org:6379` or `10.0.0.20:6379`
    /// (`[<IPv6>]:port` for an IPv6 address). Empty with Sentinel.
    #[serde(default)]
    pub address: String,
    /// The Secret key holding the password (never inline). Unset: no password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_secret: Option<RedisPasswordSecret>,
    /// The database number.
    #[serde(default)]
    pub db: u32,
    /// Connect over TLS, verifying the server's certificate against the image's CA roots.
    #[serde(default)]
    pub tls: bool,
    /// With Sentinel: the name of the monitored master.
    #[serde(default)]
    pub sentinel_master_name: String,
    /// With Sentinel: `host:port` of each Sentinel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sentinel_addresses: Vec<String>,
    /// Run the bundled single-replica Valkey (image `images.valkey`) and connect to it, for a
    /// site with no Redis of its own: the server and its password Secret (made by
    /// `bundle secrets`) are the tree's, so `address`, `existingSecret`, `tls` and Sentinel
    /// stay unset.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bundled: bool,
}

impl Redis {
    /// Whether the server is found through Sentinel.
    pub fn sentinel(&self) -> bool {
        !self.sentinel_addresses.is_empty()
    }

    /// `host:port` of the one server: the bundled Valkey's Service, else `address` (empty with
    /// Sentinel).
    pub fn server_address(&self) -> String {
        if self.bundled {
            format!("{BUNDLED_REDIS_SERVICE}:{BUNDLED_REDIS_PORT}")
        } else {
            self.address.clone()
        }
    }

    /// Where the password is: the bundled Valkey's Secret, else `existingSecret`.
    pub fn password_secret(&self) -> Option<RedisPasswordSecret> {
        if self.bundled {
            Some(RedisPasswordSecret {
                name: BUNDLED_REDIS_SECRET.to_owned(),
                key: default_redis_password_key(),
            })
        } else {
            self.existing_secret.clone()
        }
    }
}

/// The bundled Valkey's Service, found by its bare name through the pod's DNS search path, so
/// it holds in whatever namespace the tree is deployed to.
pub(crate) const BUNDLED_REDIS_SERVICE: &str = "valkey";
/// The port of the bundled Valkey (Redis's own).
pub(crate) const BUNDLED_REDIS_PORT: u16 = 6379;
/// The Secret holding the bundled Valkey's password under `password`, made by `bundle secrets`.
pub(crate) const BUNDLED_REDIS_SECRET: &str = "valkey";

/// `livekit.redis.existingSecret:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisPasswordSecret {
    /// Secret name.
    pub name: String,
    /// Key of the password in the Secret.
    #[serde(default = "default_redis_password_key")]
    pub key: String,
}

fn default_redis_password_key() -> String {
    "password".to_owned()
}

/// `livekit.rtc.nodeIpFrom`: where each pod finds the address it advertises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum NodeIpFrom {
    /// The node's address as the kubelet reports it (`status.hostIP`), given to LiveKit as
    /// `NODE_IP`.
    #[serde(rename = "hostIP")]
    HostIp,
}
