//! The guards of IP families, listen addresses, a dual-stack `nodeIp` and NetworkPolicy peers
//! through the real binary: exit 2, the key named, nothing written.

use insta::assert_snapshot;

use crate::cli::refused_without_writing;
use crate::support::{set, site_yaml};

/// The repository's site with each `(path, value)` set in turn.
fn site_with(settings: &[(&str, &str)]) -> String {
    settings.iter().fold(site_yaml(), |config, (path, value)| {
        set(&config, path, value)
    })
}

/// The site on a dual-stack cluster, without the `spec` pin (it takes one address).
fn dual_stack_site(settings: &[(&str, &str)]) -> String {
    let mut all = vec![
        ("network.ipFamilyPolicy", "PreferDualStack"),
        ("homeserver.listenAddresses", "['::']"),
        ("livekit.rtc.pinLoadBalancerIp", "metallb"),
    ];
    all.extend_from_slice(settings);
    site_with(&all)
}

#[test]
fn guard_listen_addresses_without_a_wildcard() {
    let bad = site_with(&[("homeserver.listenAddresses", "['127.0.0.1']")]);
    assert_snapshot!(refused_without_writing(&bad, "homeserver.listenAddresses"));
}

#[test]
fn guard_ipv4_listen_address_with_a_dual_stack_policy() {
    let bad = site_with(&[("network.ipFamilyPolicy", "RequireDualStack")]);
    assert_snapshot!(refused_without_writing(&bad, "homeserver.listenAddresses"));
}

#[test]
fn guard_ip_family_listed_twice() {
    let bad = dual_stack_site(&[("network.ipFamilies", "[IPv4, IPv4]")]);
    assert_snapshot!(refused_without_writing(&bad, "network.ipFamilies"));
}

#[test]
fn guard_both_families_with_single_stack() {
    let bad = site_with(&[
        (
            "network",
            "{ipFamilyPolicy: SingleStack, ipFamilies: [IPv4, IPv6]}",
        ),
        ("homeserver.listenAddresses", "['::']"),
    ]);
    assert_snapshot!(refused_without_writing(&bad, "network.ipFamilies"));
}

#[test]
fn guard_ipv6_node_ip_with_single_stack_ipv4_services() {
    let bad = site_with(&[
        (
            "network",
            "{ipFamilyPolicy: SingleStack, ipFamilies: [IPv4]}",
        ),
        ("livekit.rtc.nodeIp", "'2001:db8::10'"),
        ("overlays", "{bundled: {}}"),
    ]);
    assert_snapshot!(refused_without_writing(&bad, "livekit.rtc.nodeIp"));
}

#[test]
fn guard_dual_stack_node_ip_with_single_stack_services() {
    let bad = site_with(&[
        ("network.ipFamilyPolicy", "SingleStack"),
        ("livekit.rtc.nodeIp", "'203.0.113.10,2001:db8::10'"),
        ("livekit.rtc.pinLoadBalancerIp", "metallb"),
    ]);
    assert_snapshot!(refused_without_writing(&bad, "livekit.rtc.nodeIp"));
}

#[test]
fn guard_spec_pin_with_a_dual_stack_node_ip() {
    let bad = dual_stack_site(&[
        ("livekit.rtc.nodeIp", "'203.0.113.10,2001:db8::10'"),
        ("livekit.rtc.pinLoadBalancerIp", "spec"),
    ]);
    assert_snapshot!(refused_without_writing(
        &bad,
        "livekit.rtc.pinLoadBalancerIp"
    ));
}

#[test]
fn guard_ipv6_only_node_ip_with_turn() {
    let bad = dual_stack_site(&[("livekit.rtc.nodeIp", "'2001:db8::10'")]);
    assert_snapshot!(refused_without_writing(&bad, "livekit.rtc.nodeIp"));
}

#[test]
fn guard_empty_peer() {
    let bad = site_with(&[("networkPolicy.ingressFrom", "[{}]")]);
    assert_snapshot!(refused_without_writing(
        &bad,
        "networkPolicy.ingressFrom[0]"
    ));
}

#[test]
fn guard_peer_with_an_ip_block_and_a_selector() {
    let bad = site_with(&[(
        "networkPolicy.ingressFrom",
        "[{ipBlock: {cidr: 10.0.0.0/24}, podSelector: {}}]",
    )]);
    assert_snapshot!(refused_without_writing(
        &bad,
        "networkPolicy.ingressFrom[0]"
    ));
}

#[test]
fn guard_ip_block_except_outside_its_cidr() {
    let bad = site_with(&[(
        "networkPolicy.ingressFrom",
        "[{ipBlock: {cidr: 10.0.0.0/24, except: [10.0.1.0/25]}}]",
    )]);
    assert_snapshot!(refused_without_writing(
        &bad,
        "networkPolicy.ingressFrom[0].ipBlock.except"
    ));
}

#[test]
fn guard_selector_values_that_do_not_fit_the_operator() {
    let bad = site_with(&[(
        "networkPolicy.ingressFrom",
        "[{namespaceSelector: {matchExpressions: [{key: a, operator: In}]}}]",
    )]);
    assert_snapshot!(refused_without_writing(
        &bad,
        "networkPolicy.ingressFrom[0].namespaceSelector.matchExpressions[0].values"
    ));
}

#[test]
fn a_node_ip_of_two_ipv4_addresses_is_refused_with_its_key() {
    let bad = site_with(&[("livekit.rtc.nodeIp", "'203.0.113.10,203.0.113.11'")]);
    assert_snapshot!(refused_without_writing(&bad, "livekit.rtc.nodeIp"));
}

#[test]
fn an_ip_block_that_is_not_a_cidr_is_refused_with_its_key() {
    let bad = site_with(&[("networkPolicy.ingressFrom", "[{ipBlock: {cidr: 10.0.0.1}}]")]);
    assert_snapshot!(refused_without_writing(
        &bad,
        "networkPolicy.ingressFrom[0].ipBlock.cidr"
    ));
}

#[test]
fn guard_controller_namespace_replaced_by_ingress_from() {
    let bad = site_with(&[
        ("networkPolicy.ingressControllerNamespace", "traefik"),
        (
            "networkPolicy.ingressFrom",
            "[{ipBlock: {cidr: 10.0.0.0/24}}]",
        ),
    ]);
    assert_snapshot!(refused_without_writing(
        &bad,
        "networkPolicy.ingressControllerNamespace"
    ));
}

#[test]
fn guard_selector_labels_kubernetes_refuses() {
    let bad = site_with(&[(
        "networkPolicy.ingressFrom",
        "[{podSelector: {matchLabels: {'app name': traefik}}}]",
    )]);
    assert_snapshot!(refused_without_writing(
        &bad,
        "networkPolicy.ingressFrom[0].podSelector.matchLabels"
    ));
}
