//! The routes on `homeserver.serverName`. Each component says which paths it serves; this module
//! turns them into the `matrix-ingress` Ingress (the routes of `base/`) and into the patch that
//! appends the routes of an overlay's component, so the `external` variant never routes to an
//! in-cluster SFU. With `gateway.enabled` it turns them into Gateway API HTTPRoutes instead, one
//! per directory of the tree, which needs no patches: each directory simply holds the HTTPRoute
//! of its own components' routes.

mod http_route;

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::config::RawConfig;
use crate::emit::{RenderError, to_json};
use crate::kustomize::{PatchOp, PatchTarget};
use http_route::{
    HttpBackendRef, HttpPathMatch, HttpRoute, HttpRouteMatch, HttpRouteRule, HttpRouteSpec,
    HttpRouteTimeouts, ParentReference, PathMatchType,
};

/// Name of the Ingress.
pub(crate) const INGRESS: &str = "matrix-ingress";
/// Websockets (calls, sync) stay open for up to an hour.
const LONG_TIMEOUT_SECONDS: &str = "3600";
const MIB: u64 = 1024 * 1024;

/// One path on serverName and the Service port behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// The path, e.g. `/_matrix`.
    pub(crate) path: &'static str,
    /// How the path matches.
    pub(crate) match_kind: PathMatch,
    /// The Service the path is sent to.
    pub(crate) service: &'static str,
    /// The Service's port.
    pub(crate) port: u16,
}

/// How a [`Route`]'s path matches a request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathMatch {
    /// Element-wise prefix (`/_matrix` matches `/_matrix/client`).
    Prefix,
    /// Left to the controller. A dotted path must use this: ingress-nginx 1.12+ rejects the
    /// whole Ingress when a `Prefix` path contains a dot.
    ImplementationSpecific,
}

impl Route {
    /// A prefix route.
    pub(crate) fn prefix(path: &'static str, service: &'static str, port: u16) -> Self {
        Self {
            path,
            match_kind: PathMatch::Prefix,
            service,
            port,
        }
    }

    fn ingress_path(&self) -> HTTPIngressPath {
        let path_type = match self.match_kind {
            PathMatch::Prefix => "Prefix",
            PathMatch::ImplementationSpecific => "ImplementationSpecific",
        };
        HTTPIngressPath {
            path: Some(self.path.to_owned()),
            path_type: path_type.to_owned(),
            backend: IngressBackend {
                service: Some(IngressServiceBackend {
                    name: self.service.to_owned(),
                    port: Some(ServiceBackendPort {
                        number: Some(i32::from(self.port)),
                        ..ServiceBackendPort::default()
                    }),
                }),
                ..IngressBackend::default()
            },
        }
    }
}

/// The Ingress on serverName with `routes`, in order.
pub(crate) fn ingress(raw: &RawConfig, routes: &[Route]) -> Ingress {
    let tls = &raw.ingress.tls;
    Ingress {
        metadata: ObjectMeta {
            name: Some(INGRESS.to_owned()),
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
                http: Some(HTTPIngressRuleValue {
                    paths: routes.iter().map(Route::ingress_path).collect(),
                }),
            }]),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    }
}

/// JSON patch operations appending `routes` to the Ingress, as [`ingress`] lists them.
pub(crate) fn routes_patch(routes: &[Route]) -> Result<Vec<PatchOp>, RenderError> {
    routes
        .iter()
        .map(|route| {
            Ok(PatchOp::append(
                "/spec/rules/0/http/paths",
                to_json(&route.ingress_path(), "Ingress route")?,
            ))
        })
        .collect()
}

/// Selects the Ingress for patches.
pub(crate) fn ingress_target() -> PatchTarget {
    PatchTarget::new("networking.k8s.io", "v1", "Ingress", INGRESS)
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

/// Gateway API: the HTTPRoute `name` on serverName with `routes`, in order, attached to every
/// Gateway of `gateway.parentRefs`.
pub(crate) fn http_route(raw: &RawConfig, name: &str, routes: &[Route]) -> HttpRoute {
    HttpRoute::new(
        name,
        HttpRouteSpec {
            parent_refs: raw
                .gateway
                .parent_refs
                .iter()
                .map(|parent| ParentReference {
                    name: parent.name.clone(),
                    namespace: parent.namespace.clone(),
                    section_name: parent.section_name.clone(),
                })
                .collect(),
            hostnames: vec![raw.homeserver.server_name.clone()],
            rules: routes.iter().map(Route::http_route_rule).collect(),
        },
    )
}

impl Route {
    /// One HTTPRoute rule: this path to this Service port.
    fn http_route_rule(&self) -> HttpRouteRule {
        HttpRouteRule {
            matches: vec![HttpRouteMatch {
                path: HttpPathMatch {
                    // `ImplementationSpecific` exists only for ingress-nginx's refusal of dotted
                    // `Prefix` paths; Gateway API has no such rule, and `/.well-known/matrix`
                    // must match its sub-paths (`/server`, `/client`, `/support`) as a prefix.
                    match_type: match self.match_kind {
                        PathMatch::Prefix | PathMatch::ImplementationSpecific => {
                            PathMatchType::PathPrefix
                        }
                    },
                    value: self.path.to_owned(),
                },
            }],
            backend_refs: vec![HttpBackendRef {
                name: self.service.to_owned(),
                port: self.port,
            }],
            timeouts: long_request_timeouts(),
        }
    }
}

/// The timeouts of every rule: one hour for the whole request, the limit the Ingress gives
/// nginx and HAProxy.
///
/// Left unset, the timeout is the implementation's own, and Envoy's (which Envoy Gateway keeps)
/// is 15 seconds, shorter than a sync long-poll (clients wait 30 seconds for news). `"0s"` is not
/// the answer either: the spec says it SHOULD disable the timeout but lets an implementation that
/// cannot read it as its largest value, so its meaning varies, and a request without any limit
/// lets a stuck backend hold a connection for ever. Whether the request timeout also ends an
/// upgraded connection (the signalling WebSocket of `/rtc`) is left to each implementation, so
/// the limit is one that WebSocket can live with: a LiveKit client reconnects and resumes its
/// session when the signalling connection drops, so a cut after an hour costs one reconnect,
/// not the call. `backendRequest` stays unset: it may only be shorter than `request`, and a
/// retry of a single backend call is not what these long requests need a limit for.
fn long_request_timeouts() -> HttpRouteTimeouts {
    HttpRouteTimeouts {
        request: format!("{LONG_TIMEOUT_SECONDS}s"),
    }
}
