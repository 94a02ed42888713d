//! NetworkPolicy building blocks. Egress stays open everywhere (federation, OpenID checks,
//! Twirp calls to LiveKit's public URL); ingress is narrowed per component.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::{meta, selector};
use crate::config::RawConfig;

/// A policy for the pods of `app` with these ingress rules and all egress allowed.
pub(crate) fn network_policy(
    name: &str,
    app: &str,
    ingress: Vec<NetworkPolicyIngressRule>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(name, None),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(app)),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: Some(ingress),
            egress: Some(vec![NetworkPolicyEgressRule::default()]),
        }),
    }
}

/// `<app>-policy`: the pods of `app` accept only `port` (TCP), and only from the own
/// namespace and the ingress controller's.
pub(crate) fn ingress_only_policy(raw: &RawConfig, app: &str, port: u16) -> NetworkPolicy {
    network_policy(
        &format!("{app}-policy"),
        app,
        vec![from_namespace_and_ingress(raw, vec![tcp(port)])],
    )
}

/// Allows `ports` from pods of the own namespace and from the ingress controller's namespace
/// (an ingress controller lives in another namespace; `podSelector: {}` alone black-holed it).
pub(crate) fn from_namespace_and_ingress(
    raw: &RawConfig,
    ports: Vec<NetworkPolicyPort>,
) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(vec![
            NetworkPolicyPeer {
                pod_selector: Some(LabelSelector::default()),
                ..NetworkPolicyPeer::default()
            },
            NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "kubernetes.io/metadata.name".to_owned(),
                        raw.network_policy.ingress_controller_namespace.clone(),
                    )])),
                    ..LabelSelector::default()
                }),
                ..NetworkPolicyPeer::default()
            },
        ]),
        ports: Some(ports),
    }
}

/// Allows `ports` from anywhere (media from the internet).
pub(crate) fn from_anywhere(ports: Vec<NetworkPolicyPort>) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: None,
        ports: Some(ports),
    }
}

/// A TCP port.
pub(crate) fn tcp(port: u16) -> NetworkPolicyPort {
    port_of("TCP", port)
}

/// A UDP port.
pub(crate) fn udp(port: u16) -> NetworkPolicyPort {
    port_of("UDP", port)
}

fn port_of(protocol: &str, port: u16) -> NetworkPolicyPort {
    NetworkPolicyPort {
        protocol: Some(protocol.to_owned()),
        port: Some(IntOrString::Int(i32::from(port))),
        ..NetworkPolicyPort::default()
    }
}
