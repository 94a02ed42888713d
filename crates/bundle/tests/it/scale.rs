//! LiveKit scale-out through the real binary: a scaled site generates, and each setting that
//! cannot carry several nodes is refused with exit 2, its key named and nothing written.

use insta::assert_snapshot;

use crate::cli::refused_without_writing;
use crate::support::{Workdir, set, site_yaml};

/// The repository's site scaled out to three LiveKit nodes sharing rooms through Redis, on
/// the host network, each advertising its node's address; without TURN and without the
/// LoadBalancer settings the host network does without.
fn scaled_site() -> String {
    [
        ("overlays", "{bundled: {}}"),
        ("livekit.hostNetwork", "true"),
        ("livekit.rtc", "{udpPort: 7882, tcpPort: 7881, nodeIpFrom: hostIP}"),
        ("livekit.replicas", "3"),
        (
            "livekit.redis",
            "{address: 'redis.matrix.svc.cluster.local:6379', existingSecret: {name: livekit-redis}}",
        ),
    ]
    .iter()
    .fold(site_yaml(), |config, (path, value)| set(&config, path, value))
}

#[test]
fn a_scaled_site_generates_three_nodes_and_their_disruption_budget() {
    let work = Workdir::with_config(&scaled_site());
    work.bundle(&["gen"]).success();
    let livekit = work.path().join("overlays/components/livekit");
    let deployment = std::fs::read_to_string(livekit.join("livekit-deployment.yaml")).unwrap();
    assert!(deployment.contains("\n  replicas: 3\n"), "{deployment}");
    assert!(livekit.join("livekit-poddisruptionbudget.yaml").is_file());
}

#[test]
fn guard_replicas_without_redis() {
    let bad = crate::support::unset(&scaled_site(), "livekit.redis");
    assert_snapshot!(refused_without_writing(&bad, "livekit.redis"));
}

#[test]
fn guard_replicas_with_one_node_ip() {
    let bad = set(&scaled_site(), "livekit.rtc", "{nodeIp: 203.0.113.10}");
    assert_snapshot!(refused_without_writing(&bad, "livekit.rtc.nodeIp"));
}

#[test]
fn guard_replicas_behind_one_load_balancer() {
    let bad = set(&scaled_site(), "livekit.rtc", "{useExternalIp: true}");
    let bad = set(&bad, "livekit.hostNetwork", "false");
    assert_snapshot!(refused_without_writing(&bad, "livekit.hostNetwork"));
}

#[test]
fn guard_replicas_with_node_port() {
    let bad = set(
        &scaled_site(),
        "livekit.rtc",
        "{useExternalIp: true, serviceType: NodePort, udpPort: 30882, tcpPort: 30881}",
    );
    let bad = set(&bad, "livekit.hostNetwork", "false");
    assert_snapshot!(refused_without_writing(&bad, "livekit.rtc.serviceType"));
}

#[test]
fn guard_replicas_with_the_bundled_turn() {
    let bad = set(&scaled_site(), "overlays", "{bundled-turn: {}}");
    assert_snapshot!(refused_without_writing(&bad, "livekit.replicas"));
}
