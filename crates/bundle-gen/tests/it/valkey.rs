//! The bundled Valkey (`livekit.redis.bundled`): what it renders, how LiveKit and lk-jwt reach
//! it with its password, and the guards that refuse what cannot go with it.

use bundle_gen::{OverlayName, render_objects};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

use crate::config::{good, load, refused, set};
use crate::support::{fixture, object_key};

fn objects(overlay: OverlayName) -> Vec<Value> {
    render_objects(&fixture("valkey"), overlay).unwrap()
}

fn find<'a>(objects: &'a [Value], key: &str) -> &'a Value {
    objects
        .iter()
        .find(|object| object_key(object) == key)
        .unwrap_or_else(|| panic!("no {key}"))
}

fn container<'a>(objects: &'a [Value], deployment: &str) -> &'a Value {
    &find(objects, &format!("Deployment/{deployment}"))["spec"]["template"]["spec"]["containers"][0]
}

fn env_var<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|var| var["name"] == name)
        .unwrap_or_else(|| panic!("no env var {name}"))
}

fn password_ref() -> Value {
    json!({"secretKeyRef": {"name": "valkey", "key": "password"}})
}

/// A site with the bundled Valkey, its image pinned.
fn with_valkey() -> Yaml {
    let doc = set(good(), "livekit.redis", "{bundled: true}");
    set(
        doc,
        "images.valkey",
        "{repository: valkey/valkey, tag: 8.1.4, digest: 'sha256:4444444444444444444444444444444444444444444444444444444444444444', policy: {kind: semver, tagPrefix: ''}}",
    )
}

// ---- what it renders -----------------------------------------------------------------------

#[test]
fn valkey_requires_the_password_from_its_secret_and_keeps_nothing_on_disk() {
    let objects = objects(OverlayName::Bundled);
    let valkey = container(&objects, "valkey");
    assert_eq!(valkey["command"], json!(["valkey-server"]));
    assert_eq!(
        valkey["args"],
        json!([
            "--port",
            "6379",
            "--requirepass",
            "$(VALKEY_PASSWORD)",
            "--save",
            "",
            "--dir",
            "/data"
        ])
    );
    assert_eq!(
        env_var(valkey, "VALKEY_PASSWORD")["valueFrom"],
        password_ref()
    );
    let pod = &find(&objects, "Deployment/valkey")["spec"]["template"]["spec"];
    let data = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|volume| volume["name"] == "data")
        .expect("a data volume");
    assert_eq!(data["emptyDir"], json!({}));
}

#[test]
fn one_valkey_runs_and_a_new_one_starts_only_after_the_old_one_stopped() {
    let objects = objects(OverlayName::Bundled);
    let spec = &find(&objects, "Deployment/valkey")["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn livekit_connects_to_the_bundled_valkey_with_its_password() {
    let objects = objects(OverlayName::Bundled);
    let config_map = objects
        .iter()
        .find(|object| {
            object["kind"] == "ConfigMap"
                && object["metadata"]["name"]
                    .as_str()
                    .is_some_and(|name| name.starts_with("livekit-config"))
        })
        .expect("the LiveKit ConfigMap");
    let config: Yaml =
        serde_norway::from_str(config_map["data"]["config.yaml"].as_str().unwrap()).unwrap();
    let redis: Yaml = serde_norway::from_str("{address: 'valkey:6379', db: 1}").unwrap();
    assert_eq!(config["redis"], redis);
    let livekit = container(&objects, "livekit");
    assert_eq!(
        env_var(livekit, "REDIS_PASSWORD")["valueFrom"],
        password_ref()
    );
}

#[test]
fn lk_jwt_keeps_its_state_in_the_bundled_valkey_in_every_overlay() {
    for overlay in [OverlayName::Bundled, OverlayName::External] {
        let objects = objects(overlay);
        let lk_jwt = container(&objects, "lk-jwt-service");
        assert_eq!(
            env_var(lk_jwt, "LIVEKIT_REDIS_URL")["value"],
            "redis://:$(REDIS_PASSWORD)@valkey:6379/1",
            "{overlay:?}"
        );
        assert_eq!(
            env_var(lk_jwt, "REDIS_PASSWORD")["valueFrom"],
            password_ref()
        );
    }
}

#[test]
fn only_livekit_and_lk_jwt_may_connect_to_valkey() {
    let objects = objects(OverlayName::Bundled);
    let policy = find(&objects, "NetworkPolicy/valkey-policy");
    assert_eq!(
        policy["spec"]["podSelector"],
        json!({"matchLabels": {"app": "valkey"}})
    );
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{
            "from": [
                {"podSelector": {"matchLabels": {"app": "livekit"}}},
                {"podSelector": {"matchLabels": {"app": "lk-jwt-service"}}},
            ],
            "ports": [{"port": 6379, "protocol": "TCP"}],
        }])
    );
}

#[test]
fn the_service_valkey_forwards_the_redis_port() {
    let objects = objects(OverlayName::Bundled);
    let service = find(&objects, "Service/valkey");
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "redis", "port": 6379, "protocol": "TCP", "targetPort": "redis"}])
    );
}

#[test]
fn without_bundled_no_valkey_is_deployed_and_its_image_may_be_left_out() {
    let config = load(&good()).expect("a site without images.valkey is accepted");
    for overlay in config.variants().keys() {
        let objects = render_objects(&config, *overlay).unwrap();
        assert!(
            !objects
                .iter()
                .any(|object| object["metadata"]["name"] == "valkey"),
            "{overlay:?}"
        );
    }
}

#[test]
fn a_site_with_the_bundled_valkey_is_accepted() {
    load(&with_valkey()).expect("accepted");
}

// ---- guards --------------------------------------------------------------------------------

#[test]
fn guard_bundled_valkey_with_the_address_of_another_server() {
    let doc = set(
        with_valkey(),
        "livekit.redis.address",
        "'redis.example.org:6379'",
    );
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_bundled_valkey_with_every_setting_of_another_server() {
    let doc = set(
        with_valkey(),
        "livekit.redis",
        "{bundled: true, existingSecret: {name: redis}, tls: true, sentinelMasterName: m, sentinelAddresses: ['10.0.0.21:26379']}",
    );
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_bundled_valkey_without_its_image() {
    insta::assert_snapshot!(refused(set(good(), "livekit.redis", "{bundled: true}")));
}

#[test]
fn guard_bundled_valkey_with_livekit_on_the_host_network_behind_network_policies() {
    let doc = set(with_valkey(), "overlays", "{bundled: {}}");
    let doc = set(doc, "livekit.hostNetwork", "true");
    insta::assert_snapshot!(refused(doc.clone()));
    load(&set(doc, "networkPolicy.enabled", "false"))
        .expect("without NetworkPolicies nothing cuts LiveKit off");
}
