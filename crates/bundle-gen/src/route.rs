//! The routes on `homeserver.serverName`. Each component says which paths it serves; this module
//! turns them into the `matrix-ingress` Ingress (the routes of `base/`) and into the patch that
//! appends the routes of an overlay's component, so the `external` variant never routes to an
//! in-cluster SFU.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::config::RawConfig;
use crate::emit::{RenderError, to_json};
use crate::kustomize::{PatchOp, PatchTarget};

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
