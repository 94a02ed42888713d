//! The typed model of `bundle.yaml`. Key names follow the Helm chart's `matrixChat.*` values so
//! an operator of the chart can move their values over; where we differ, the README says why.
//!
//! Every struct denies unknown keys: a typo must never fall back to a default.

use std::collections::BTreeMap;

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
    /// The `*-policy` NetworkPolicies.
    #[serde(default)]
    pub network_policy: NetworkPolicy,
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
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            ingress_controller_namespace: default_ingress_namespace(),
        }
    }
}

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
    /// Seconds a stopping LiveKit pod may keep serving the calls it has: LiveKit drains on
    /// SIGTERM (it takes no new room and waits for the last participant to leave), and the
    /// kubelet kills it when this runs out, ending every call still on it.
    #[serde(default = "default_livekit_grace_seconds")]
    pub termination_grace_period_seconds: u32,
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
            termination_grace_period_seconds: default_livekit_grace_seconds(),
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

impl Default for LivekitKeysSecret {
    fn default() -> Self {
        Self {
            name: String::new(),
            livekit_keys_key: default_livekit_keys_key(),
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
    /// The LoadBalancer's public IP, advertised as the ICE candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ip: Option<String>,
    /// Discover the public IP with STUN instead of `nodeIp` (must be chosen explicitly).
    #[serde(default)]
    pub use_external_ip: bool,
    /// Extra labels on the `livekit-rtc` Service (e.g. for LB IP pools).
    #[serde(default)]
    pub service_labels: BTreeMap<String, String>,
    /// Extra annotations on the `livekit-rtc` Service.
    #[serde(default)]
    pub service_annotations: BTreeMap<String, String>,
    /// How the `livekit-rtc` LoadBalancer is told to take exactly `nodeIp`, so the address
    /// LiveKit advertises and the one the LoadBalancer gets cannot disagree. Needs `nodeIp`.
    #[serde(default)]
    pub pin_load_balancer_ip: PinLoadBalancerIp,
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
}

impl Rtc {
    /// The advertised IP, if one is written. An empty string counts as unset, as in the chart
    /// (`nodeIp: ""`).
    pub fn node_ip(&self) -> Option<&str> {
        self.node_ip.as_deref().filter(|ip| !ip.is_empty())
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
}

impl Default for TurnTls {
    fn default() -> Self {
        Self {
            existing_secret: String::new(),
            cert_key: default_cert_key(),
            key_key: default_key_key(),
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
