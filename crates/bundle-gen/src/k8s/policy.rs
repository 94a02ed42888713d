//! NetworkPolicy building blocks. Egress stays open everywhere (federation, OpenID checks,
//! Twirp calls to LiveKit's public URL); ingress is narrowed per component.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::{meta, selector};
use crate::config::{PolicyPeer, RawConfig, Selector};

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
/// namespace and the ingress controller.
pub(crate) fn ingress_only_policy(raw: &RawConfig, app: &str, port: u16) -> NetworkPolicy {
    network_policy(
        &format!("{app}-policy"),
        app,
        vec![from_namespace_and_ingress(raw, vec![tcp(port)])],
    )
}

/// Allows `ports` from pods of the own namespace and from the ingress controller: the peers of
/// `networkPolicy.ingressFrom` when given, else the pods of `ingressControllerNamespace` (an
/// ingress controller lives in another namespace; `podSelector: {}` alone black-holed it). The
/// one place the controller's peers are built.
pub(crate) fn from_namespace_and_ingress(
    raw: &RawConfig,
    ports: Vec<NetworkPolicyPort>,
) -> NetworkPolicyIngressRule {
    let own_namespace = NetworkPolicyPeer {
        pod_selector: Some(LabelSelector::default()),
        ..NetworkPolicyPeer::default()
    };
    let policy = &raw.network_policy;
    let controller: Vec<NetworkPolicyPeer> = if policy.ingress_from.is_empty() {
        vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_owned(),
                    policy.ingress_controller_namespace.clone(),
                )])),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        }]
    } else {
        policy.ingress_from.iter().map(peer).collect()
    };
    NetworkPolicyIngressRule {
        from: Some(std::iter::once(own_namespace).chain(controller).collect()),
        ports: Some(ports),
    }
}

/// A peer of `networkPolicy.ingressFrom` as Kubernetes writes it.
fn peer(peer: &PolicyPeer) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: peer.namespace_selector.as_ref().map(label_selector),
        pod_selector: peer.pod_selector.as_ref().map(label_selector),
        ip_block: peer.ip_block.as_ref().map(|block| IPBlock {
            cidr: block.cidr.to_string(),
            except: (!block.except.is_empty())
                .then(|| block.except.iter().map(ToString::to_string).collect()),
        }),
    }
}

fn label_selector(selector: &Selector) -> LabelSelector {
    let expressions = &selector.match_expressions;
    LabelSelector {
        match_labels: (!selector.match_labels.is_empty()).then(|| selector.match_labels.clone()),
        match_expressions: (!expressions.is_empty()).then(|| {
            expressions
                .iter()
                .map(|expression| LabelSelectorRequirement {
                    key: expression.key.clone(),
                    operator: expression.operator.as_str().to_owned(),
                    values: (!expression.values.is_empty()).then(|| expression.values.clone()),
                })
                .collect()
        }),
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
