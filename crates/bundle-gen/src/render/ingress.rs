//! The `matrix-ingress` Ingress on serverName. LiveKit's `/rtc` and `/twirp` routes are added
//! by the LiveKit component, so the `external` variant never routes to an in-cluster SFU.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::kustomize::{PatchOp, PatchTarget};
use super::{Object, RenderError, homeserver, livekit, lk_jwt, to_json};
use crate::config::{Livekit, RawConfig};

/// Name of the Ingress.
pub(super) const NAME: &str = "matrix-ingress";
/// Websockets (calls, sync) stay open for up to an hour.
const LONG_TIMEOUT_SECONDS: &str = "3600";
const MIB: u64 = 1024 * 1024;

/// The Ingress, with LiveKit's routes when `routes` is given.
pub(super) fn object(raw: &RawConfig, routes: Option<&Livekit>) -> Result<Object, RenderError> {
    let homeserver_port = raw.homeserver.client_port;
    let mut paths = vec![
        // A dotted path must not be `Prefix`: ingress-nginx 1.12+ rejects the whole Ingress.
        path(
            "/.well-known/matrix",
            "ImplementationSpecific",
            homeserver::NAME,
            homeserver_port,
        ),
        path("/_matrix", "Prefix", homeserver::NAME, homeserver_port),
    ];
    if raw.lk_jwt.enabled {
        // `/sfu/get` (lk-jwt before 0.6) and `/get_token` (0.6 and later).
        paths.push(path("/sfu", "Prefix", lk_jwt::NAME, lk_jwt::PORT));
        paths.push(path("/get_token", "Prefix", lk_jwt::NAME, lk_jwt::PORT));
    }
    if let Some(livekit) = routes {
        paths.extend(livekit_routes(livekit));
    }
    let tls = &raw.ingress.tls;
    let ingress = Ingress {
        metadata: ObjectMeta {
            name: Some(NAME.to_owned()),
            annotations: Some(annotations(raw)).filter(|map| !map.is_empty()),
            ..ObjectMeta::default()
        },
        spec: Some(IngressSpec {
            ingress_class_name: Some(raw.ingress.class_name.clone())
                .filter(|class| !class.is_empty()),
            tls: tls.enabled.then(|| {
                vec![IngressTLS {
                    hosts: Some(vec![raw.homeserver.server_name.clone()]),
                    secret_name: Some(tls.secret_name.clone()),
                }]
            }),
            rules: Some(vec![IngressRule {
                host: Some(raw.homeserver.server_name.clone()),
                http: Some(HTTPIngressRuleValue { paths }),
            }]),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    };
    Ok(Object {
        file: format!("{NAME}.yaml"),
        value: to_json(&ingress, "Ingress")?,
    })
}

/// The signalling websocket (`/rtc`) and the room API lk-jwt calls through the public URL
/// (`/twirp`), to the bundled LiveKit.
fn livekit_routes(livekit: &Livekit) -> Vec<HTTPIngressPath> {
    let port = livekit.rtc.signaling_port;
    vec![
        path("/rtc", "Prefix", livekit::SIGNALING_SERVICE, port),
        path("/twirp", "Prefix", livekit::SIGNALING_SERVICE, port),
    ]
}

/// JSON patch operations appending LiveKit's routes, as [`object`] does with `routes`.
pub(super) fn routes_patch(livekit: &Livekit) -> Result<Vec<PatchOp>, RenderError> {
    livekit_routes(livekit)
        .iter()
        .map(|route| {
            Ok(PatchOp::append(
                "/spec/rules/0/http/paths",
                to_json(route, "Ingress route")?,
            ))
        })
        .collect()
}

/// Selects the Ingress for patches.
pub(super) fn target() -> PatchTarget {
    PatchTarget::new("networking.k8s.io", "v1", "Ingress", NAME)
}

fn path(prefix: &str, path_type: &str, service: &str, port: u16) -> HTTPIngressPath {
    HTTPIngressPath {
        path: Some(prefix.to_owned()),
        path_type: path_type.to_owned(),
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: service.to_owned(),
                port: Some(ServiceBackendPort {
                    number: Some(i32::from(port)),
                    ..ServiceBackendPort::default()
                }),
            }),
            ..IngressBackend::default()
        },
    }
}

/// Class-specific annotations, then the operator's, which win.
fn annotations(raw: &RawConfig) -> BTreeMap<String, String> {
    let ingress = &raw.ingress;
    let tls = ingress.tls.enabled;
    let mut map = BTreeMap::new();
    let mut set = |key: &str, value: String| {
        map.insert(key.to_owned(), value);
    };
    match ingress.class_name.as_str() {
        "nginx" => {
            let nginx = "nginx.ingress.kubernetes.io";
            // The body limit must match the homeserver's, or uploads between the two get 413.
            set(
                &format!("{nginx}/proxy-body-size"),
                format!("{}m", raw.homeserver.max_request_size.div_ceil(MIB)),
            );
            set(
                &format!("{nginx}/proxy-read-timeout"),
                LONG_TIMEOUT_SECONDS.to_owned(),
            );
            set(
                &format!("{nginx}/proxy-send-timeout"),
                LONG_TIMEOUT_SECONDS.to_owned(),
            );
            if tls {
                set(&format!("{nginx}/force-ssl-redirect"), "true".to_owned());
            }
            if !ingress.whitelist_source_range.is_empty() {
                set(
                    &format!("{nginx}/whitelist-source-range"),
                    ingress.whitelist_source_range.clone(),
                );
            }
        }
        "haproxy" => {
            set(
                "haproxy.org/timeout-tunnel",
                format!("{LONG_TIMEOUT_SECONDS}s"),
            );
            if tls {
                set("haproxy.org/ssl-redirect", "true".to_owned());
            }
            if !ingress.whitelist_source_range.is_empty() {
                set(
                    "haproxy.org/allow-list",
                    ingress.whitelist_source_range.clone(),
                );
            }
        }
        _ => {}
    }
    if let (true, Some(issuer)) = (tls, &ingress.tls.cluster_issuer) {
        set("cert-manager.io/cluster-issuer", issuer.clone());
    }
    map.extend(
        ingress
            .annotations
            .iter()
            .map(|(key, value)| (key.clone(), value.clone())),
    );
    map
}
