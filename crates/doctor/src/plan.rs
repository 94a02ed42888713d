//! What each check expects, worked out from the config alone: the names, URLs, addresses and
//! ports of the overlay that was deployed, each with the `bundle.yaml` key it comes from.

use std::net::IpAddr;

use bundle_gen::{Config, OverlayName, Variant};
use reqwest::Url;
use serde_json::Value;

use crate::DoctorError;

/// The expectations of one overlay.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The overlay checked.
    pub overlay: OverlayName,
    /// The tree's namespace, for the `kubectl` commands in messages.
    pub namespace: String,
    /// `homeserver.serverName`.
    pub server_name: String,
    /// `homeserver.livekitServiceUrl`, when lk-jwt is deployed.
    pub livekit_service_url: Option<String>,
    /// LiveKit's signalling endpoint.
    pub signaling: Signaling,
    /// The bundled LiveKit's media address, when it deploys one with a written `nodeIp`.
    pub media: Option<Media>,
    /// TURN over TLS, when the overlay deploys it.
    pub turn: Option<TurnPlan>,
    /// The LoadBalancer Services the overlay deploys (as rendered), when it bundles LiveKit.
    pub load_balancers: Vec<Value>,
}

/// `/rtc/validate` of the SFU's public URL.
#[derive(Debug, Clone)]
pub(crate) struct Signaling {
    /// The URL requested.
    pub validate_url: Url,
    /// The key of the public URL.
    pub key: &'static str,
}

/// Where the bundled LiveKit takes media.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Media {
    /// `livekit.rtc.nodeIp`.
    pub node_ip: IpAddr,
    /// `livekit.rtc.tcpPort`.
    pub tcp_port: u16,
    /// `livekit.rtc.udpPort`.
    pub udp_port: u16,
}

/// TURN over TLS.
#[derive(Debug, Clone)]
pub(crate) struct TurnPlan {
    /// `livekit.turn.domain`.
    pub domain: String,
    /// `livekit.rtc.nodeIp`, if written.
    pub node_ip: Option<IpAddr>,
}

/// The port clients dial for TURN over TLS: LiveKit always advertises `turns:<domain>:443`.
pub(crate) const TURN_PUBLIC_PORT: u16 = 443;

/// The overlay to check: the one named, or the only one the config generates.
pub(crate) fn choose_variant(
    config: &Config,
    overlay: Option<OverlayName>,
) -> Result<&Variant, DoctorError> {
    let variants = config.variants();
    let configured = || {
        variants
            .keys()
            .map(|name| name.dir_name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match overlay {
        Some(name) => variants
            .get(&name)
            .ok_or_else(|| DoctorError::OverlayNotConfigured {
                overlay: name.dir_name(),
                configured: configured(),
            }),
        None if variants.len() == 1 => {
            Ok(variants
                .values()
                .next()
                .ok_or_else(|| DoctorError::OverlayNotChosen {
                    configured: configured(),
                })?)
        }
        None => Err(DoctorError::OverlayNotChosen {
            configured: configured(),
        }),
    }
}

impl Plan {
    /// The expectations of `variant`.
    pub(crate) fn of(config: &Config, variant: &Variant) -> Result<Self, DoctorError> {
        let raw = config.raw();
        let livekit = variant.livekit();
        let public_url_key = if variant.livekit_bundled() {
            "livekit.publicUrl"
        } else {
            "overlays.external.livekit.publicUrl"
        };
        // The IPv4 address of a dual-stack `nodeIp`: the one TURN relays on and the one a
        // `turn.domain` A record must name.
        let node_ip = livekit.rtc.node_ip().and_then(|ip| ip.addresses().next());
        let media = node_ip
            .filter(|_| variant.livekit_bundled())
            .map(|node_ip| Media {
                node_ip,
                tcp_port: livekit.rtc.tcp_port,
                udp_port: livekit.rtc.udp_port,
            });
        let turn = variant.turn_enabled().then(|| TurnPlan {
            domain: livekit.turn.domain.to_ascii_lowercase(),
            node_ip,
        });
        let load_balancers = if variant.livekit_bundled() {
            load_balancer_services(config, variant.name())?
        } else {
            Vec::new()
        };
        Ok(Self {
            overlay: variant.name(),
            namespace: raw.namespace.clone(),
            server_name: raw.homeserver.server_name.to_ascii_lowercase(),
            livekit_service_url: raw
                .lk_jwt
                .enabled
                .then(|| raw.homeserver.livekit_service_url.clone()),
            signaling: Signaling {
                validate_url: validate_url(&livekit.public_url, public_url_key)?,
                key: public_url_key,
            },
            media,
            turn,
            load_balancers,
        })
    }

    /// `https://<serverName><path>`.
    pub(crate) fn server_url(&self, path: &str) -> Result<Url, DoctorError> {
        let text = format!("https://{}{path}", self.server_name);
        Url::parse(&text).map_err(|error| DoctorError::Unusable {
            key: "homeserver.serverName",
            value: self.server_name.clone(),
            reason: error.to_string(),
        })
    }
}

/// LiveKit's token check behind a `wss://` public URL: the same host and port over https,
/// path `/rtc/validate` (below any path the URL has).
fn validate_url(public_url: &str, key: &'static str) -> Result<Url, DoctorError> {
    let refuse = |reason: String| DoctorError::Unusable {
        key,
        value: public_url.to_owned(),
        reason,
    };
    let parsed = Url::parse(public_url).map_err(|error| refuse(error.to_string()))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| refuse("it has no host".to_owned()))?;
    let port = parsed
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    let path = parsed.path().trim_end_matches('/');
    Url::parse(&format!("https://{host}{port}{path}/rtc/validate"))
        .map_err(|error| refuse(error.to_string()))
}

/// The LoadBalancer Services of the overlay as `bundle gen` renders them.
fn load_balancer_services(
    config: &Config,
    overlay: OverlayName,
) -> Result<Vec<Value>, DoctorError> {
    Ok(bundle_gen::render_objects(config, overlay)?
        .into_iter()
        .filter(|object| object["kind"] == "Service" && object["spec"]["type"] == "LoadBalancer")
        .collect())
}
