//! LiveKit scale-out (`livekit.replicas` with `livekit.redis`): what several nodes render, and
//! the guards that refuse what cannot scale out, each with its full message.

use bundle_gen::{OverlayName, render_objects};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

use crate::config::{good, refused, remove, set};
use crate::support::{fixture, object_key};

fn objects(stem: &str) -> Vec<Value> {
    render_objects(&fixture(stem), OverlayName::Bundled).unwrap()
}

fn find<'a>(objects: &'a [Value], key: &str) -> &'a Value {
    objects
        .iter()
        .find(|object| object_key(object) == key)
        .unwrap_or_else(|| panic!("no {key}"))
}

fn livekit_pod(objects: &[Value]) -> &Value {
    &find(objects, "Deployment/livekit")["spec"]["template"]["spec"]
}

fn env_var<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|var| var["name"] == name)
}

fn env_names(container: &Value) -> Vec<&str> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|var| var["name"].as_str())
        .collect()
}

/// LiveKit's config file as deployed, parsed.
fn livekit_config(objects: &[Value]) -> Yaml {
    let config_map = objects
        .iter()
        .find(|object| {
            object["kind"] == "ConfigMap"
                && object["metadata"]["name"]
                    .as_str()
                    .is_some_and(|name| name.starts_with("livekit-config"))
        })
        .expect("the LiveKit ConfigMap");
    serde_norway::from_str(config_map["data"]["config.yaml"].as_str().unwrap()).unwrap()
}

// ---- what several nodes render -------------------------------------------------------------

#[test]
fn several_replicas_run_one_pod_per_node_on_the_host_network() {
    let objects = objects("scale-out");
    let deployment = find(&objects, "Deployment/livekit");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod = livekit_pod(&objects);
    assert_eq!(pod["hostNetwork"], true);
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
        json!([{
            "labelSelector": {"matchLabels": {"app": "livekit"}},
            "topologyKey": "kubernetes.io/hostname",
        }])
    );
}

#[test]
fn one_replica_has_no_anti_affinity_and_no_disruption_budget() {
    let objects = objects("host-network");
    assert_eq!(find(&objects, "Deployment/livekit")["spec"]["replicas"], 1);
    assert!(livekit_pod(&objects).get("affinity").is_none());
    assert!(
        !objects
            .iter()
            .any(|object| object["kind"] == "PodDisruptionBudget"),
        "a single node must stay evictable"
    );
}

#[test]
fn each_node_advertises_its_own_address_from_the_downward_api() {
    let objects = objects("scale-out");
    let container = &livekit_pod(&objects)["containers"][0];
    assert_eq!(
        env_var(container, "NODE_IP").unwrap()["valueFrom"],
        json!({"fieldRef": {"fieldPath": "status.hostIP"}})
    );
    let rtc = &livekit_config(&objects)["rtc"];
    assert_eq!(rtc["use_external_ip"], Yaml::from(false));
    assert!(rtc.get("node_ip").is_none(), "{rtc:?}");
}

#[test]
fn nodes_behind_nat_find_their_address_with_stun() {
    let objects = objects("scale-out-sentinel");
    let container = &livekit_pod(&objects)["containers"][0];
    assert!(env_var(container, "NODE_IP").is_none());
    assert_eq!(
        livekit_config(&objects)["rtc"]["use_external_ip"],
        Yaml::from(true)
    );
}

#[test]
fn livekit_reads_redis_from_its_config_and_the_password_from_the_secret() {
    let objects = objects("scale-out");
    let redis: Yaml = serde_norway::from_str(
        "{address: 'redis.example.internal:6380', db: 2, tls: {enabled: true}}",
    )
    .unwrap();
    assert_eq!(livekit_config(&objects)["redis"], redis);
    let container = &livekit_pod(&objects)["containers"][0];
    assert_eq!(
        env_var(container, "REDIS_PASSWORD").unwrap()["valueFrom"],
        json!({"secretKeyRef": {"name": "livekit-redis", "key": "password"}})
    );
}

#[test]
fn with_sentinel_livekit_asks_the_sentinels_for_the_master() {
    let objects = objects("scale-out-sentinel");
    let redis: Yaml = serde_norway::from_str(
        "{db: 0, sentinel_master_name: livekit, \
          sentinel_addresses: ['10.0.0.21:26379', '10.0.0.22:26379', '[2001:db8::23]:26379']}",
    )
    .unwrap();
    assert_eq!(livekit_config(&objects)["redis"], redis);
    let container = &livekit_pod(&objects)["containers"][0];
    assert!(env_var(container, "REDIS_PASSWORD").is_none());
}

/// The yaml names of the fields of LiveKit's Redis config and of its `tls` section, as LiveKit
/// (through its protocol module) declares them: LiveKit parses its config strictly and stops
/// on any other key.
const LIVEKIT_REDIS_KEYS: [&str; 17] = [
    "address",
    "username",
    "password",
    "db",
    "use_tls",
    "tls",
    "sentinel_master_name",
    "sentinel_username",
    "sentinel_password",
    "sentinel_addresses",
    "cluster_addresses",
    "dial_timeout",
    "read_timeout",
    "write_timeout",
    "max_redirects",
    "pool_timeout",
    "pool_size",
];
const LIVEKIT_TLS_KEYS: [&str; 6] = [
    "enabled",
    "insecure",
    "server_name",
    "ca_cert_file",
    "client_cert_file",
    "client_key_file",
];

#[test]
fn the_redis_section_holds_only_keys_livekit_knows() {
    for stem in ["scale-out", "scale-out-sentinel"] {
        let config = livekit_config(&objects(stem));
        let redis = config["redis"].as_mapping().expect("a redis section");
        for (key, value) in redis {
            let key = key.as_str().unwrap();
            assert!(LIVEKIT_REDIS_KEYS.contains(&key), "{stem}: redis.{key}");
            if key == "tls" {
                for tls_key in value.as_mapping().unwrap().keys() {
                    let tls_key = tls_key.as_str().unwrap();
                    assert!(
                        LIVEKIT_TLS_KEYS.contains(&tls_key),
                        "{stem}: redis.tls.{tls_key}"
                    );
                }
            }
        }
    }
}

#[test]
fn lk_jwt_gets_the_redis_url_naming_the_password_of_an_earlier_env_var() {
    let objects = objects("scale-out");
    let container =
        &find(&objects, "Deployment/lk-jwt-service")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env_var(container, "LIVEKIT_REDIS_URL").unwrap()["value"],
        "rediss://:$(REDIS_PASSWORD)@redis.example.internal:6380/2"
    );
    assert_eq!(
        env_var(container, "REDIS_PASSWORD").unwrap()["valueFrom"],
        json!({"secretKeyRef": {"name": "livekit-redis", "key": "password"}})
    );
    // The kubelet replaces `$(NAME)` only with a variable defined before it.
    let names = env_names(container);
    let position = |name| names.iter().position(|n| *n == name).unwrap();
    assert!(
        position("REDIS_PASSWORD") < position("LIVEKIT_REDIS_URL"),
        "{names:?}"
    );
}

#[test]
fn without_a_password_the_redis_url_has_no_user_info() {
    let path = crate::support::fixtures_dir().join("scale-out.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let secret = "    existingSecret: {name: livekit-redis, key: password}\n";
    assert!(text.contains(secret), "scale-out.yaml changed");
    let config = bundle_gen::Config::from_yaml(&text.replace(secret, "")).unwrap();
    let objects = render_objects(&config, OverlayName::Bundled).unwrap();
    let container =
        &find(&objects, "Deployment/lk-jwt-service")["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        env_var(container, "LIVEKIT_REDIS_URL").unwrap()["value"],
        "rediss://redis.example.internal:6380/2"
    );
    assert!(env_var(container, "REDIS_PASSWORD").is_none());
}

#[test]
fn with_sentinel_lk_jwt_keeps_its_state_in_memory() {
    let objects = objects("scale-out-sentinel");
    let container =
        &find(&objects, "Deployment/lk-jwt-service")["spec"]["template"]["spec"]["containers"][0];
    let names = env_names(container);
    assert!(!names.contains(&"LIVEKIT_REDIS_URL"), "{names:?}");
}

#[test]
fn a_disruption_budget_keeps_one_node_up() {
    let objects = objects("scale-out");
    let budget = find(&objects, "PodDisruptionBudget/livekit");
    assert_eq!(budget["apiVersion"], "policy/v1");
    assert_eq!(
        budget["spec"],
        json!({"minAvailable": 1, "selector": {"matchLabels": {"app": "livekit"}}})
    );
}

#[test]
fn several_nodes_roll_out_one_at_a_time_without_a_surge_pod() {
    let objects = objects("scale-out");
    assert_eq!(
        find(&objects, "Deployment/livekit")["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    );
    let single = self::objects("host-network");
    assert_eq!(
        find(&single, "Deployment/livekit")["spec"]["strategy"],
        json!({"type": "Recreate"})
    );
}

#[test]
fn every_node_drains_for_the_grace_period() {
    let objects = objects("scale-out");
    assert_eq!(livekit_pod(&objects)["terminationGracePeriodSeconds"], 1800);
}

#[test]
fn the_signalling_service_spreads_over_every_node() {
    let objects = objects("scale-out");
    let service = find(&objects, "Service/livekit-signaling");
    let pod_labels =
        &find(&objects, "Deployment/livekit")["spec"]["template"]["metadata"]["labels"];
    assert_eq!(service["spec"]["selector"], *pod_labels);
    // No affinity to one pod: LiveKit forwards a signal connection to the room's node itself.
    assert!(service["spec"].get("sessionAffinity").is_none());
    assert!(service["spec"].get("type").is_none(), "a ClusterIP Service");
}

#[test]
fn livekit_may_reach_redis_through_its_open_egress() {
    let objects = objects("scale-out");
    let policy = find(&objects, "NetworkPolicy/livekit-policy");
    assert!(
        policy["spec"]["policyTypes"]
            .as_array()
            .unwrap()
            .contains(&json!("Egress"))
    );
    // One rule without peers or ports admits every destination, a Redis named by DNS included.
    assert_eq!(policy["spec"]["egress"], json!([{}]));
}

// ---- the guards ------------------------------------------------------------------------------

/// The good site scaled out: three nodes on the host network advertising their nodes'
/// addresses, with Redis, and without TURN.
fn scaled() -> Yaml {
    let doc = set(good(), "overlays", "{bundled: {}}");
    let doc = set(doc, "livekit.rtc", "{nodeIpFrom: hostIP}");
    let doc = set(doc, "livekit.hostNetwork", "true");
    let doc = set(doc, "livekit.replicas", "3");
    set(
        doc,
        "livekit.redis",
        "{address: 'redis.example.internal:6379', existingSecret: {name: livekit-redis}}",
    )
}

#[test]
fn the_scaled_site_is_accepted() {
    crate::config::load(&scaled()).expect("accepted");
}

#[test]
fn guard_replicas_zero() {
    insta::assert_snapshot!(refused(set(scaled(), "livekit.replicas", "0")));
}

#[test]
fn guard_replicas_without_redis() {
    insta::assert_snapshot!(refused(remove(scaled(), "livekit.redis")));
}

#[test]
fn guard_replicas_with_node_ip() {
    let doc = set(scaled(), "livekit.rtc", "{nodeIp: 203.0.113.10}");
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_replicas_behind_one_load_balancer() {
    let doc = set(scaled(), "livekit.rtc", "{useExternalIp: true}");
    insta::assert_snapshot!(refused(set(doc, "livekit.hostNetwork", "false")));
}

#[test]
fn guard_replicas_with_node_port() {
    let doc = set(
        scaled(),
        "livekit.rtc",
        "{useExternalIp: true, serviceType: NodePort, udpPort: 30882, tcpPort: 30881}",
    );
    insta::assert_snapshot!(refused(set(doc, "livekit.hostNetwork", "false")));
}

#[test]
fn guard_replicas_with_the_bundled_turn() {
    let doc = set(scaled(), "livekit.rtc", "{useExternalIp: true}");
    let doc = set(doc, "livekit.hostNetwork", "false");
    insta::assert_snapshot!(refused(set(doc, "overlays", "{bundled-turn: {}}")));
}

#[test]
fn guard_replicas_without_an_address_of_each_node() {
    insta::assert_snapshot!(refused(set(scaled(), "livekit.rtc", "{}")));
}

#[test]
fn guard_node_ip_from_without_the_host_network() {
    let doc = set(scaled(), "livekit.replicas", "1");
    insta::assert_snapshot!(refused(set(doc, "livekit.hostNetwork", "false")));
}

#[test]
fn guard_node_ip_from_with_another_source_of_the_address() {
    let doc = set(scaled(), "livekit.rtc.useExternalIp", "true");
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_redis_without_a_server() {
    insta::assert_snapshot!(refused(set(scaled(), "livekit.redis", "{db: 1}")));
}

#[test]
fn guard_redis_address_not_host_and_port() {
    for (name, address) in [
        ("redis_address_without_port", "redis"),
        ("redis_address_port_zero", "redis:0"),
        ("redis_address_ipv6_without_brackets", "2001:db8::20:6379"),
        ("redis_address_host_not_a_name", "redis_server:6379"),
    ] {
        let doc = set(scaled(), "livekit.redis.address", &format!("'{address}'"));
        insta::assert_snapshot!(name, refused(doc));
    }
}

#[test]
fn redis_addresses_of_a_name_an_ipv4_and_a_bracketed_ipv6_are_accepted() {
    for address in [
        "redis:6379",
        "redis.chat.svc.cluster.local:6379",
        "Redis.Example.org:6380",
        "10.0.0.20:6379",
        "[2001:db8::20]:6379",
    ] {
        let doc = set(scaled(), "livekit.redis.address", &format!("'{address}'"));
        crate::config::load(&doc).unwrap_or_else(|error| panic!("{address}: {error}"));
    }
}

#[test]
fn guard_redis_address_with_sentinel() {
    let doc = set(
        scaled(),
        "livekit.redis.sentinelAddresses",
        "['10.0.0.21:26379']",
    );
    insta::assert_snapshot!(refused(set(
        doc,
        "livekit.redis.sentinelMasterName",
        "livekit"
    )));
}

#[test]
fn guard_sentinel_incomplete() {
    let doc = set(
        scaled(),
        "livekit.redis",
        "{sentinelAddresses: ['10.0.0.21:26379']}",
    );
    insta::assert_snapshot!("sentinel_addresses_without_master_name", refused(doc));
    let doc = set(scaled(), "livekit.redis.sentinelMasterName", "livekit");
    insta::assert_snapshot!("sentinel_master_name_without_addresses", refused(doc));
}

#[test]
fn guard_redis_secret_name_kubernetes_refuses() {
    let doc = set(
        scaled(),
        "livekit.redis.existingSecret.name",
        "Redis_Password",
    );
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn a_rollout_counts_as_stalled_only_after_a_whole_drain_and_the_default_start_up_time() {
    for (stem, grace) in [("scale-out", 1800), ("host-network", 1800), ("site", 3600)] {
        let objects = objects(stem);
        assert_eq!(
            find(&objects, "Deployment/livekit")["spec"]["progressDeadlineSeconds"],
            grace + 600,
            "{stem}"
        );
    }
}
