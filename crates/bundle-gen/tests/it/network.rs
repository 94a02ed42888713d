//! IP families, the homeserver's listen addresses, a dual-stack `nodeIp` and the NetworkPolicy
//! peers of `networkPolicy.ingressFrom`: how they are read, refused and rendered.

use std::net::IpAddr;

use bundle_gen::{IpFamily, IpFamilyPolicy, OverlayName, render_objects};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

use crate::config::{good, load, parse_error, refused, set, yaml};
use crate::support::{all_configs, fixture, object_key};

/// `good()` on a dual-stack cluster: both families on every Service, Tuwunel on `::`.
fn dual_stack() -> Yaml {
    let doc = set(good(), "network.ipFamilyPolicy", "PreferDualStack");
    set(doc, "homeserver.listenAddresses", "['::']")
}

/// `good()` with only the `bundled` overlay, so that TURN's guards stay out of the way.
fn without_turn() -> Yaml {
    set(good(), "overlays", "{bundled: {}}")
}

fn objects(stem: &str, overlay: OverlayName) -> Vec<Value> {
    render_objects(&fixture(stem), overlay).unwrap()
}

fn find<'a>(objects: &'a [Value], prefix: &str) -> &'a Value {
    objects
        .iter()
        .find(|object| object_key(object).starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}"))
}

// ---- the model -------------------------------------------------------------------------------

#[test]
fn by_default_tuwunel_listens_on_ipv4_and_the_services_take_the_cluster_default() {
    let config = load(&good()).unwrap();
    let raw = config.raw();
    let wildcard: IpAddr = "0.0.0.0".parse().unwrap();
    assert_eq!(raw.homeserver.listen_addresses, [wildcard]);
    assert_eq!(raw.network.ip_family_policy, None);
    assert!(raw.network.ip_families.is_empty());
    assert!(raw.network_policy.ingress_from.is_empty());
}

#[test]
fn a_node_ip_of_each_family_is_read_in_either_order_and_written_ipv4_first() {
    for written in [
        "'203.0.113.10,2001:db8::10'",
        "'2001:db8::10, 203.0.113.10'",
    ] {
        let config = load(&set(dual_stack(), "livekit.rtc.nodeIp", written)).unwrap();
        let node_ip = config.variants()[&OverlayName::Bundled]
            .livekit()
            .rtc
            .node_ip()
            .unwrap();
        assert_eq!(node_ip.v4(), Some("203.0.113.10".parse().unwrap()));
        assert_eq!(node_ip.v6(), Some("2001:db8::10".parse().unwrap()));
        assert_eq!(node_ip.to_string(), "203.0.113.10,2001:db8::10");
    }
}

#[test]
fn an_empty_node_ip_is_unset() {
    let doc = set(good(), "livekit.rtc", "{nodeIp: '', useExternalIp: true}");
    let config = load(&doc).unwrap();
    let rtc = &config.variants()[&OverlayName::Bundled].livekit().rtc;
    assert_eq!(rtc.node_ip(), None);
}

#[test]
fn the_network_keys_take_the_kubernetes_names() {
    let doc = set(dual_stack(), "network.ipFamilies", "[IPv6, IPv4]");
    let config = load(&doc).unwrap();
    let network = &config.raw().network;
    assert_eq!(
        network.ip_family_policy,
        Some(IpFamilyPolicy::PreferDualStack)
    );
    assert_eq!(network.ip_families, [IpFamily::V6, IpFamily::V4]);
}

#[test]
fn a_node_ip_of_three_addresses_is_refused_with_its_key() {
    let doc = set(
        good(),
        "livekit.rtc.nodeIp",
        "'203.0.113.10,2001:db8::10,203.0.113.11'",
    );
    insta::assert_snapshot!(parse_error(&yaml(&doc)));
}

#[test]
fn a_node_ip_of_two_ipv4_addresses_is_refused_with_its_key() {
    let doc = set(good(), "livekit.rtc.nodeIp", "'203.0.113.10,203.0.113.11'");
    insta::assert_snapshot!(parse_error(&yaml(&doc)));
}

#[test]
fn a_listen_address_that_is_not_an_ip_address_is_refused_with_its_key() {
    let doc = set(good(), "homeserver.listenAddresses", "[localhost]");
    insta::assert_snapshot!(parse_error(&yaml(&doc)));
}

#[test]
fn an_unknown_ip_family_suggests_the_nearest_name() {
    let doc = set(good(), "network.ipFamilies", "[IPv5]");
    insta::assert_snapshot!(parse_error(&yaml(&doc)));
}

#[test]
fn an_ip_block_that_is_not_a_cidr_is_refused_with_its_key() {
    let doc = set(
        good(),
        "networkPolicy.ingressFrom",
        "[{ipBlock: {cidr: 10.0.0.0}}]",
    );
    insta::assert_snapshot!(parse_error(&yaml(&doc)));
}

#[test]
fn an_unknown_key_in_a_peer_names_the_nearest_known_name() {
    let doc = set(
        good(),
        "networkPolicy.ingressFrom",
        "[{namespaceSelektor: {}}]",
    );
    insta::assert_snapshot!(parse_error(&yaml(&doc)));
}

// ---- the guards ------------------------------------------------------------------------------

#[test]
fn guard_listen_addresses_without_a_wildcard() {
    let doc = set(good(), "homeserver.listenAddresses", "['127.0.0.1']");
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_listen_addresses_empty() {
    insta::assert_snapshot!(refused(set(good(), "homeserver.listenAddresses", "[]")));
}

#[test]
fn guard_ipv4_listen_address_with_a_dual_stack_policy() {
    insta::assert_snapshot!(refused(set(
        good(),
        "network.ipFamilyPolicy",
        "RequireDualStack"
    )));
}

#[test]
fn guard_ipv4_listen_address_and_node_ip_with_ipv6_only_services() {
    insta::assert_snapshot!(refused(set(good(), "network.ipFamilies", "[IPv6]")));
}

#[test]
fn guard_ip_family_listed_twice() {
    let doc = set(dual_stack(), "network.ipFamilies", "[IPv6, IPv6]");
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_both_families_with_single_stack() {
    let doc = set(good(), "network.ipFamilies", "[IPv4, IPv6]");
    let doc = set(doc, "homeserver.listenAddresses", "['::']");
    let doc = set(doc, "network.ipFamilyPolicy", "SingleStack");
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_both_families_without_a_policy() {
    let doc = set(good(), "network.ipFamilies", "[IPv4, IPv6]");
    let doc = set(doc, "homeserver.listenAddresses", "['::']");
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_ipv6_node_ip_with_single_stack_ipv4_services() {
    let doc = set(
        without_turn(),
        "network",
        "{ipFamilyPolicy: SingleStack, ipFamilies: [IPv4]}",
    );
    let doc = set(doc, "livekit.rtc.nodeIp", "'2001:db8::10'");
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_dual_stack_node_ip_with_single_stack_services() {
    let doc = set(without_turn(), "network.ipFamilyPolicy", "SingleStack");
    let doc = set(doc, "livekit.rtc.nodeIp", "'203.0.113.10,2001:db8::10'");
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_dual_stack_node_ip_without_a_policy() {
    let doc = set(
        without_turn(),
        "livekit.rtc.nodeIp",
        "'203.0.113.10,2001:db8::10'",
    );
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_spec_pin_with_a_dual_stack_node_ip() {
    let doc = set(
        dual_stack(),
        "livekit.rtc.nodeIp",
        "'203.0.113.10,2001:db8::10'",
    );
    let doc = set(doc, "livekit.rtc.pinLoadBalancerIp", "spec");
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn an_annotation_pin_takes_a_dual_stack_node_ip() {
    for pin in ["metallb", "cilium", "kube-vip"] {
        let doc = set(
            dual_stack(),
            "livekit.rtc.nodeIp",
            "'203.0.113.10,2001:db8::10'",
        );
        let doc = set(doc, "livekit.rtc.pinLoadBalancerIp", pin);
        if let Err(error) = load(&doc) {
            panic!("{pin}: {error}");
        }
    }
}

#[test]
fn guard_ipv6_only_node_ip_with_turn() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "'2001:db8::10'")));
}

#[test]
fn a_private_dual_stack_node_ip_inside_allowed_cidrs_is_accepted_with_turn() {
    let doc = set(
        dual_stack(),
        "livekit.rtc.nodeIp",
        "'10.0.0.5,fd12:3456::7'",
    );
    let doc = set(
        doc,
        "livekit.turn.allowRestrictedPeerCidrs",
        "['10.0.0.0/8', 'fd00::/8']",
    );
    load(&doc).expect("accepted");
}

#[test]
fn guard_each_address_of_a_dual_stack_node_ip_is_checked() {
    let doc = set(
        dual_stack(),
        "livekit.rtc.nodeIp",
        "'203.0.113.10,fd12:3456::7'",
    );
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_empty_peer() {
    insta::assert_snapshot!(refused(set(good(), "networkPolicy.ingressFrom", "[{}]")));
}

#[test]
fn guard_peer_with_an_ip_block_and_a_selector() {
    let peers = "[{ipBlock: {cidr: 10.0.0.0/24}, namespaceSelector: {}}]";
    insta::assert_snapshot!(refused(set(good(), "networkPolicy.ingressFrom", peers)));
}

#[test]
fn guard_ip_block_except_outside_its_cidr() {
    let peers = "[{ipBlock: {cidr: 10.0.0.0/24, except: [10.0.1.0/25, 10.0.0.0/24]}}]";
    insta::assert_snapshot!(refused(set(good(), "networkPolicy.ingressFrom", peers)));
}

#[test]
fn guard_selector_values_that_do_not_fit_the_operator() {
    let peers = "[{namespaceSelector: {matchExpressions: [{key: a, operator: NotIn}]}, \
                 podSelector: {matchExpressions: [{key: b, operator: Exists, values: [x]}]}}]";
    insta::assert_snapshot!(refused(set(good(), "networkPolicy.ingressFrom", peers)));
}

#[test]
fn guard_controller_namespace_replaced_by_ingress_from() {
    let doc = set(
        good(),
        "networkPolicy",
        "{ingressControllerNamespace: traefik, ingressFrom: [{ipBlock: {cidr: 10.0.0.0/24}}]}",
    );
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_controller_namespace_written_with_its_default_value_beside_ingress_from() {
    let doc = set(
        good(),
        "networkPolicy",
        "{ingressControllerNamespace: ingress-nginx, ingressFrom: [{ipBlock: {cidr: 10.0.0.0/24}}]}",
    );
    let message = refused(doc);
    assert!(
        message.contains("`networkPolicy.ingressControllerNamespace`"),
        "{message}"
    );
}

#[test]
fn ingress_from_alone_is_accepted_without_the_controller_namespace() {
    let doc = set(
        good(),
        "networkPolicy.ingressFrom",
        "[{ipBlock: {cidr: 10.0.0.0/24}}]",
    );
    let config = load(&doc).expect("accepted");
    assert_eq!(config.raw().network_policy.ingress_from.len(), 1);
}

#[test]
fn guard_selector_labels_kubernetes_refuses() {
    let peers = "[{namespaceSelector: {matchLabels: {'kubernetes.io/': x, 'Bad_Prefix/name': '-x'}}, \
                 podSelector: {matchExpressions: [{key: 'app name', operator: In, values: ['a b']}]}}]";
    insta::assert_snapshot!(refused(set(good(), "networkPolicy.ingressFrom", peers)));
}

#[test]
fn selector_labels_of_the_kubernetes_forms_are_accepted() {
    let peers = "[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, \
                 podSelector: {matchLabels: {App_Name.x: '', a: A-1_b.c}, \
                 matchExpressions: [{key: example.com/tier, operator: NotIn, values: [Edge]}]}}]";
    load(&set(good(), "networkPolicy.ingressFrom", peers)).expect("accepted");
}

// ---- rendering -------------------------------------------------------------------------------

#[test]
fn every_service_of_every_overlay_asks_for_the_configured_families() {
    let config = fixture("dual-stack");
    for overlay in config.variants().keys() {
        let objects = render_objects(&config, *overlay).unwrap();
        let services: Vec<&Value> = objects
            .iter()
            .filter(|object| object["kind"] == "Service")
            .collect();
        assert!(services.len() >= 2, "{overlay:?}: {services:?}");
        for service in services {
            assert_eq!(
                service["spec"]["ipFamilyPolicy"],
                "PreferDualStack",
                "{overlay:?}: {}",
                object_key(service)
            );
            assert_eq!(
                service["spec"]["ipFamilies"],
                json!(["IPv4", "IPv6"]),
                "{overlay:?}: {}",
                object_key(service)
            );
        }
    }
}

#[test]
fn without_network_settings_no_service_names_a_family() {
    for (name, config) in all_configs() {
        if config.raw().network != Default::default() {
            continue;
        }
        for overlay in config.variants().keys() {
            for object in render_objects(&config, *overlay).unwrap() {
                let spec = &object["spec"];
                assert!(
                    spec["ipFamilyPolicy"].is_null() && spec["ipFamilies"].is_null(),
                    "{name}: {}",
                    object_key(&object)
                );
            }
        }
    }
}

#[test]
fn tuwunel_listens_on_the_listen_addresses() {
    let objects = objects("dual-stack", OverlayName::Bundled);
    let config_map = find(&objects, "ConfigMap/matrix-homeserver-config-");
    let text = config_map["data"]["tuwunel.toml"].as_str().unwrap();
    assert!(
        text.lines().any(|line| line == "address = [\"::\"]"),
        "{text}"
    );
}

#[test]
fn livekit_advertises_both_addresses_and_the_pin_asks_for_both() {
    for overlay in [OverlayName::Bundled, OverlayName::BundledTurn] {
        let objects = objects("dual-stack", overlay);
        let config_map = find(&objects, "ConfigMap/livekit-config-");
        let config: Value =
            serde_norway::from_str(config_map["data"]["config.yaml"].as_str().unwrap()).unwrap();
        assert_eq!(config["rtc"]["node_ip"], "203.0.113.20,2001:db8::20");
        let service = find(&objects, "Service/livekit-rtc");
        assert_eq!(
            service["metadata"]["annotations"]["metallb.io/loadBalancerIPs"],
            "203.0.113.20,2001:db8::20"
        );
    }
}

/// The peers of every rule that admits the ingress controller: the homeserver's and lk-jwt's
/// only rule, and LiveKit's signalling rule (its second; the first admits media from anywhere).
fn controller_rules(objects: &[Value]) -> Vec<(String, Value)> {
    [
        ("NetworkPolicy/matrix-homeserver-policy", 0),
        ("NetworkPolicy/lk-jwt-service-policy", 0),
        ("NetworkPolicy/livekit-policy", 1),
    ]
    .into_iter()
    .map(|(key, rule)| {
        let policy = find(objects, key);
        (
            key.to_owned(),
            policy["spec"]["ingress"][rule]["from"].clone(),
        )
    })
    .collect()
}

#[test]
fn ingress_from_replaces_the_controller_namespace_and_keeps_the_own_namespace() {
    let expected = json!([
        {"podSelector": {}},
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchExpressions": [{
                "key": "app.kubernetes.io/name",
                "operator": "In",
                "values": ["traefik", "rke2-ingress-nginx"],
            }]},
        },
        {"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.128/25"]}},
    ]);
    let rules = controller_rules(&objects("kube-system-controller", OverlayName::Bundled));
    assert_eq!(rules.len(), 3);
    for (policy, from) in rules {
        assert_eq!(from, expected, "{policy}");
    }
}

#[test]
fn without_ingress_from_the_controller_namespace_is_let_in() {
    let expected = json!([
        {"podSelector": {}},
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
    ]);
    for (policy, from) in controller_rules(&objects("site", OverlayName::Bundled)) {
        assert_eq!(from, expected, "{policy}");
    }
}
