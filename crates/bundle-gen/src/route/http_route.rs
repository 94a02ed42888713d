//! The Gateway API `HTTPRoute` (`gateway.networking.k8s.io/v1`, standard channel), as typed
//! values holding the fields the tree writes and nothing else.
//!
//! Our own types rather than the `gateway-api` crate's: that crate derives its types with
//! kube's `CustomResource` machinery (kube, kube-derive and their proc-macro stack, and a
//! k8s-openapi of its own version), which the `bundle` binary would build for the few fields
//! below. The tests check every rendered HTTPRoute against the schema that crate derives, so
//! these types cannot drift from the API unnoticed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// An `HTTPRoute`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HttpRoute {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: HttpRouteSpec,
}

impl HttpRoute {
    /// An HTTPRoute named `name` with `spec`.
    pub(crate) fn new(name: &str, spec: HttpRouteSpec) -> Self {
        Self {
            api_version: "gateway.networking.k8s.io/v1",
            kind: "HTTPRoute",
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            spec,
        }
    }
}

/// `spec` of an HTTPRoute.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HttpRouteSpec {
    /// The Gateways (or their listeners) the route attaches to.
    pub(crate) parent_refs: Vec<ParentReference>,
    /// The `Host` names the route answers.
    pub(crate) hostnames: Vec<String>,
    /// One rule per path.
    pub(crate) rules: Vec<HttpRouteRule>,
}

/// `spec.parentRefs[]`: a Gateway (the default group and kind), optionally one listener of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ParentReference {
    /// The Gateway's name.
    pub(crate) name: String,
    /// The Gateway's namespace; the route's own when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    /// The listener's name; every listener that admits the route when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) section_name: Option<String>,
}

/// `spec.rules[]`: requests that match go to the backends, within the timeouts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HttpRouteRule {
    /// Any one of them selects the rule.
    pub(crate) matches: Vec<HttpRouteMatch>,
    /// The Services requests are sent to.
    pub(crate) backend_refs: Vec<HttpBackendRef>,
    /// How long a request may take.
    pub(crate) timeouts: HttpRouteTimeouts,
}

/// `matches[]`, by path only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HttpRouteMatch {
    /// The path the request must have.
    pub(crate) path: HttpPathMatch,
}

/// `matches[].path`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HttpPathMatch {
    /// How `value` matches.
    #[serde(rename = "type")]
    pub(crate) match_type: PathMatchType,
    /// The path, e.g. `/_matrix`.
    pub(crate) value: String,
}

/// `matches[].path.type`: the one match type the tree needs (`Exact` and `RegularExpression`
/// are never written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum PathMatchType {
    /// Element-wise prefix: `/_matrix` matches `/_matrix` and `/_matrix/client`, not
    /// `/_matrixx`. Core support in every implementation.
    PathPrefix,
}

/// `backendRefs[]`: a Service (the default group and kind) and its port.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HttpBackendRef {
    /// The Service's name.
    pub(crate) name: String,
    /// The Service's port.
    pub(crate) port: u16,
}

/// `timeouts`: Gateway API durations (`1h`, `30s`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HttpRouteTimeouts {
    /// The whole request, from the gateway's side.
    pub(crate) request: String,
}
