//! What the rendered objects must say, one behaviour per test.

use bundle_gen::{OverlayName, RenderError, render, render_objects};
use serde_json::{Value, json};

use crate::support::{all_configs, fixture, object_key};

/// The fixture `<stem>` with `from` replaced by `to` in its text: a `Config` is only ever built
/// by loading and validating one.
fn fixture_edited(stem: &str, from: &str, to: &str) -> bundle_gen::Config {
    let path = crate::support::fixtures_dir().join(format!("{stem}.yaml"));
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.contains(from),
        "{stem}.yaml no longer contains {from:?}"
    );
    bundle_gen::Config::from_yaml(&text.replace(from, to)).unwrap()
}

fn objects(stem: &str, overlay: OverlayName) -> Vec<Value> {
    render_objects(&fixture(stem), overlay).unwrap()
}

fn find<'a>(objects: &'a [Value], key: &str) -> &'a Value {
    objects
        .iter()
        .find(|object| object_key(object) == key)
        .unwrap_or_else(|| panic!("no {key} among {:?}", keys(objects)))
}

fn keys(objects: &[Value]) -> Vec<String> {
    objects.iter().map(object_key).collect()
}

fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a Value> {
    container["env"]
        .as_array()?
        .iter()
        .find(|var| var["name"] == name)
        .map(|var| &var["value"])
}

fn ingress_paths(objects: &[Value]) -> Vec<(String, String)> {
    find(objects, "Ingress/matrix-ingress")["spec"]["rules"][0]["http"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|path| {
            (
                path["path"].as_str().unwrap().to_owned(),
                path["backend"]["service"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

fn pod_specs(objects: &[Value]) -> Vec<(String, &Value)> {
    objects
        .iter()
        .filter(|object| object["spec"]["template"]["spec"].is_object())
        .map(|object| (object_key(object), &object["spec"]["template"]["spec"]))
        .collect()
}

#[test]
fn external_overlay_deploys_no_livekit_object_and_no_livekit_route() {
    let objects = objects("site", OverlayName::External);
    let livekit: Vec<String> = keys(&objects)
        .into_iter()
        .filter(|key| key.contains("livekit"))
        .collect();
    assert!(
        livekit.is_empty(),
        "LiveKit objects in external: {livekit:?}"
    );
    let routes = ingress_paths(&objects);
    assert!(
        routes
            .iter()
            .all(|(path, _)| path != "/rtc" && path != "/twirp"),
        "{routes:?}"
    );
}

#[test]
fn external_overlay_points_lk_jwt_at_the_external_sfu_and_its_keys_secret() {
    let objects = objects("site", OverlayName::External);
    let pod = &find(&objects, "Deployment/lk-jwt-service")["spec"]["template"]["spec"];
    assert_eq!(
        env_value(&pod["containers"][0], "LIVEKIT_URL"),
        Some(&json!("wss://livekit.example.net"))
    );
    let secrets: Vec<&Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|volume| volume["secret"]["secretName"].as_str().map(|_| volume))
        .collect();
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0]["secret"]["secretName"], "livekit-external-keys");
}

#[test]
fn bundled_overlays_route_rtc_and_twirp_to_livekit_signaling() {
    for overlay in [OverlayName::Bundled, OverlayName::BundledTurn] {
        let routes = ingress_paths(&objects("site", overlay));
        for path in ["/rtc", "/twirp"] {
            assert!(
                routes.contains(&(path.to_owned(), "livekit-signaling".to_owned())),
                "{overlay:?}: {routes:?}"
            );
        }
    }
}

#[test]
fn well_known_path_is_implementation_specific_and_matrix_is_prefix() {
    let objects = objects("site", OverlayName::Bundled);
    let paths = &find(&objects, "Ingress/matrix-ingress")["spec"]["rules"][0]["http"]["paths"];
    let path_type = |path: &str| {
        paths
            .as_array()
            .unwrap()
            .iter()
            .find(|entry| entry["path"] == path)
            .map(|entry| entry["pathType"].clone())
    };
    assert_eq!(
        path_type("/.well-known/matrix"),
        Some(json!("ImplementationSpecific"))
    );
    assert_eq!(path_type("/_matrix"), Some(json!("Prefix")));
}

#[test]
fn turn_maps_public_port_443_to_the_container_tls_port_above_1024() {
    let objects = objects("site", OverlayName::BundledTurn);
    let ports = &find(&objects, "Service/livekit-rtc")["spec"]["ports"];
    let turns = ports
        .as_array()
        .unwrap()
        .iter()
        .find(|port| port["name"] == "turns")
        .unwrap();
    assert_eq!(turns["port"], 443);
    assert_eq!(turns["targetPort"], 5349);
}

#[test]
fn rtc_ports_have_port_equal_to_target_port() {
    let objects = objects("site", OverlayName::Bundled);
    for port in find(&objects, "Service/livekit-rtc")["spec"]["ports"]
        .as_array()
        .unwrap()
    {
        assert_eq!(port["port"], port["targetPort"], "{port}");
    }
}

#[test]
fn livekit_config_disables_room_auto_create_and_advertises_the_node_ip() {
    let objects = objects("site", OverlayName::Bundled);
    let config_map = objects
        .iter()
        .find(|object| object_key(object).starts_with("ConfigMap/livekit-config-"))
        .unwrap();
    let text = config_map["data"]["config.yaml"].as_str().unwrap();
    let config: Value = serde_norway::from_str(text).unwrap();
    assert_eq!(config["room"]["auto_create"], false);
    assert_eq!(config["rtc"]["node_ip"], "203.0.113.10");
    assert_eq!(config["rtc"]["use_external_ip"], false);
    assert!(config["turn"].is_null(), "TURN is only in bundled-turn");
}

fn livekit_config(stem: &str, overlay: OverlayName) -> Value {
    livekit_config_of(&objects(stem, overlay))
}

fn livekit_config_of(objects: &[Value]) -> Value {
    let config_map = objects
        .iter()
        .find(|object| object_key(object).starts_with("ConfigMap/livekit-config-"))
        .unwrap();
    serde_norway::from_str(config_map["data"]["config.yaml"].as_str().unwrap()).unwrap()
}

#[test]
fn livekit_sends_webhooks_to_the_lk_jwt_service_by_its_bare_name_signed_with_the_named_key() {
    for overlay in [OverlayName::Bundled, OverlayName::BundledTurn] {
        assert_eq!(
            livekit_config("site", overlay)["webhook"],
            json!({
                "api_key": "lk-jwt",
                "urls": ["http://lk-jwt-service:8080/sfu_webhook"],
            }),
            "{overlay:?}"
        );
    }
}

#[test]
fn livekit_sends_no_webhook_when_the_key_name_is_unknown() {
    let config = livekit_config("minimal", OverlayName::Bundled);
    assert!(config["webhook"].is_null(), "{config}");
}

#[test]
fn livekit_signs_webhooks_with_the_inline_api_key() {
    assert_eq!(
        livekit_config("dev-inline-secrets", OverlayName::Bundled)["webhook"],
        json!({
            "api_key": "devkey",
            "urls": ["http://lk-jwt-service:8080/sfu_webhook"],
        })
    );
}

#[test]
fn no_config_file_addresses_a_service_through_the_namespace() {
    let mut checked = 0;
    for (name, config) in all_configs() {
        let namespace = &config.raw().namespace;
        for overlay in config.variants().keys() {
            for object in render_objects(&config, *overlay).unwrap() {
                if object["kind"] != "ConfigMap" {
                    continue;
                }
                for (file, text) in object["data"].as_object().unwrap() {
                    let text = text.as_str().unwrap();
                    // How an in-cluster DNS name carries its namespace.
                    let service_in_namespace = format!(".{namespace}.svc");
                    assert!(
                        !text.contains(&service_in_namespace),
                        "{name} {overlay:?} {file} names `{namespace}`:\n{text}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 0, "no config file was rendered");
}

#[test]
fn livekit_sends_no_webhook_without_lk_jwt() {
    let config = fixture_edited("site", "\nlkJwt:\n", "\nlkJwt:\n  enabled: false\n");
    let objects = render_objects(&config, OverlayName::Bundled).unwrap();
    let livekit = livekit_config_of(&objects);
    assert!(livekit["webhook"].is_null(), "{livekit}");
}

#[test]
fn the_lk_jwt_policy_admits_livekit_webhooks_from_the_own_namespace() {
    let objects = objects("site", OverlayName::Bundled);
    let lk_jwt = find(&objects, "NetworkPolicy/lk-jwt-service-policy");
    let livekit = find(&objects, "Deployment/livekit");
    assert_eq!(
        lk_jwt["metadata"]["namespace"],
        livekit["metadata"]["namespace"]
    );
    let admits_own_namespace_on_8080 =
        lk_jwt["spec"]["ingress"]
            .as_array()
            .unwrap()
            .iter()
            .any(|rule| {
                let any_pod_here = rule["from"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|peer| peer == &json!({"podSelector": {}}));
                let port_8080 = rule["ports"]
                    .as_array()
                    .unwrap()
                    .contains(&json!({"port": 8080, "protocol": "TCP"}));
                any_pod_here && port_8080
            });
    assert!(admits_own_namespace_on_8080, "{lk_jwt}");
    let livekit_policy = find(&objects, "NetworkPolicy/livekit-policy");
    assert_eq!(livekit_policy["spec"]["egress"], json!([{}]));
}

#[test]
fn livekit_turn_config_is_tls_only() {
    let objects = objects("site", OverlayName::BundledTurn);
    let config_map = objects
        .iter()
        .find(|object| object_key(object).starts_with("ConfigMap/livekit-config-"))
        .unwrap();
    let config: Value =
        serde_norway::from_str(config_map["data"]["config.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(config["turn"]["enabled"], true);
    assert_eq!(config["turn"]["tls_port"], 5349);
    assert_eq!(config["turn"]["domain"], "turn.example.org");
    assert!(config["turn"]["udp_port"].is_null());
}

#[test]
fn every_pod_runs_under_the_restricted_profile() {
    for (name, config) in all_configs() {
        for overlay in config.variants().keys() {
            let objects = render_objects(&config, *overlay).unwrap();
            let pods = pod_specs(&objects);
            assert!(
                !pods.is_empty(),
                "{name} {overlay:?}: no pod template found"
            );
            for (key, pod) in pods {
                let context = format!("{name} {overlay:?} {key}");
                let security = &pod["securityContext"];
                assert_eq!(security["runAsNonRoot"], true, "{context}");
                assert!(
                    security["runAsUser"].as_i64().unwrap() >= 10000,
                    "{context}"
                );
                assert!(security["runAsGroup"].as_i64().is_some(), "{context}");
                assert_eq!(
                    security["seccompProfile"]["type"], "RuntimeDefault",
                    "{context}"
                );
                assert_eq!(pod["automountServiceAccountToken"], false, "{context}");
                for container in pod["containers"].as_array().unwrap() {
                    let security = &container["securityContext"];
                    assert_eq!(security["allowPrivilegeEscalation"], false, "{context}");
                    assert_eq!(
                        security["capabilities"]["drop"],
                        json!(["ALL"]),
                        "{context}"
                    );
                    assert_eq!(security["readOnlyRootFilesystem"], true, "{context}");
                    assert_eq!(container["imagePullPolicy"], "IfNotPresent", "{context}");
                    assert!(container["resources"]["requests"].is_object(), "{context}");
                    let mounts = container["volumeMounts"].as_array().unwrap();
                    assert!(
                        mounts.iter().any(|mount| mount["mountPath"] == "/tmp"),
                        "{context}"
                    );
                }
            }
        }
    }
}

#[test]
fn secret_files_have_no_permission_bits_for_others() {
    let mut checked = 0;
    for (name, config) in all_configs() {
        for overlay in config.variants().keys() {
            for (key, pod) in pod_specs(&render_objects(&config, *overlay).unwrap()) {
                for volume in pod["volumes"].as_array().unwrap() {
                    if volume["secret"].is_object() {
                        let mode = volume["secret"]["defaultMode"].as_i64().unwrap();
                        assert_eq!(mode & 0o007, 0, "{name} {overlay:?} {key}: mode {mode:o}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(
        checked > 0,
        "no Secret volume was rendered, so nothing was checked"
    );
}

#[test]
fn images_resolve_to_the_pins_in_each_form() {
    let image = |stem: &str, overlay, key: &str| {
        find(&objects(stem, overlay), key)["spec"]["template"]["spec"]["containers"][0]["image"]
            .clone()
    };
    let hex = |digit: &str| digit.repeat(64);
    assert_eq!(
        image("site", OverlayName::Bundled, "Deployment/livekit"),
        json!(format!(
            "docker.io/livekit/livekit-server:v1.13.7@sha256:{}",
            hex("2")
        ))
    );
    assert_eq!(
        image(
            "digest-only",
            OverlayName::External,
            "StatefulSet/matrix-homeserver"
        ),
        json!(format!(
            "mirror.example.net/matrix-construct/tuwunel@sha256:{}",
            hex("4")
        ))
    );
    assert_eq!(
        image(
            "dev-inline-secrets",
            OverlayName::Bundled,
            "Deployment/lk-jwt-service"
        ),
        json!("ghcr.io/element-hq/lk-jwt-service:0.7.0")
    );
}

#[test]
fn homeserver_config_binds_all_interfaces_and_serves_well_known() {
    let objects = objects("site", OverlayName::Bundled);
    let config_map = objects
        .iter()
        .find(|object| object_key(object).starts_with("ConfigMap/matrix-homeserver-config-"))
        .unwrap();
    let text = config_map["data"]["tuwunel.toml"].as_str().unwrap();
    for line in [
        "address = [\"0.0.0.0\"]",
        "server_name = \"matrix.example.org\"",
        "client = \"https://matrix.example.org\"",
        "server = \"matrix.example.org:443\"",
        "livekit_url = \"https://matrix.example.org\"",
    ] {
        assert!(
            text.lines().any(|candidate| candidate == line),
            "{line} missing:\n{text}"
        );
    }
}

#[test]
fn only_the_listed_overlays_and_the_components_they_need_are_rendered() {
    let tree = render(&fixture("digest-only")).unwrap();
    let mut dirs: Vec<&str> = tree
        .files()
        .filter_map(|(path, _)| path.strip_prefix("overlays/"))
        .filter_map(|path| path.rsplit_once('/').map(|(dir, _)| dir))
        .collect();
    dirs.dedup();
    assert_eq!(dirs, ["external"]);
}

#[test]
fn inline_secrets_are_rendered_as_secrets_only_when_allowed() {
    let objects = objects("dev-inline-secrets", OverlayName::Bundled);
    find(&objects, "Secret/matrix-homeserver-secret");
    let keys = find(&objects, "Secret/livekit-secret");
    assert_eq!(
        keys["stringData"],
        json!({"LIVEKIT_KEYS": "devkey: dev-secret-that-is-at-least-32-characters-long"})
    );
}

/// A Secret volume as a container sees it.
#[derive(Debug)]
struct SecretMount {
    /// Where it is mounted.
    dir: String,
    /// The Secret.
    secret: String,
    /// `(key in the Secret, file name)` of each item.
    items: Vec<(String, String)>,
}

/// The Secret volumes of `pod`, each with where its container mounts it.
fn secret_mounts(pod: &Value) -> Vec<SecretMount> {
    let volumes = pod["volumes"].as_array().unwrap();
    let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
    volumes
        .iter()
        .filter(|volume| volume["secret"].is_object())
        .map(|volume| {
            let mount = mounts
                .iter()
                .find(|mount| mount["name"] == volume["name"])
                .unwrap_or_else(|| panic!("volume {} is not mounted", volume["name"]));
            let items = volume["secret"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| {
                    let text = |field: &str| item[field].as_str().unwrap().to_owned();
                    (text("key"), text("path"))
                })
                .collect();
            SecretMount {
                dir: mount["mountPath"].as_str().unwrap().to_owned(),
                secret: volume["secret"]["secretName"].as_str().unwrap().to_owned(),
                items,
            }
        })
        .collect()
}

/// The one Secret item lk-jwt mounts, `(Secret, key)`, checked to be the file
/// `LIVEKIT_KEY_FILE` names, and that lk-jwt is given no other credential setting.
fn lk_jwt_key_file(objects: &[Value]) -> (String, String) {
    let pod = &find(objects, "Deployment/lk-jwt-service")["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let [mount] = &secret_mounts(pod)[..] else {
        panic!("lk-jwt mounts other than one Secret: {pod}");
    };
    let [(key, file)] = &mount.items[..] else {
        panic!("lk-jwt mounts other than one Secret item: {mount:?}");
    };
    assert_eq!(
        env_value(container, "LIVEKIT_KEY_FILE"),
        Some(&json!(format!("{}/{file}", mount.dir)))
    );
    let credentials: Vec<&Value> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|var| {
            let name = var["name"].as_str().unwrap();
            name.starts_with("LIVEKIT_KEY") || name.starts_with("LIVEKIT_SECRET")
        })
        .collect();
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    (mount.secret.clone(), key.clone())
}

#[test]
fn lk_jwt_and_livekit_read_the_same_one_item_of_the_keys_secret() {
    for overlay in [OverlayName::Bundled, OverlayName::BundledTurn] {
        let objects = objects("site", overlay);
        let (secret, key) = lk_jwt_key_file(&objects);
        assert_eq!(
            (secret.as_str(), key.as_str()),
            ("livekit-keys", "LIVEKIT_KEYS")
        );
        let livekit = &find(&objects, "Deployment/livekit")["spec"]["template"]["spec"];
        let key_file = livekit_config_of(&objects)["key_file"].clone();
        let keys: Vec<SecretMount> = secret_mounts(livekit)
            .into_iter()
            .filter(|mount| mount.secret == secret)
            .collect();
        let [mount] = &keys[..] else {
            panic!("{overlay:?}: LiveKit mounts the keys Secret other than once: {keys:?}");
        };
        let [(livekit_key, file)] = &mount.items[..] else {
            panic!("{overlay:?}: LiveKit mounts other than one item: {mount:?}");
        };
        assert_eq!(*livekit_key, key, "{overlay:?}");
        assert_eq!(
            key_file,
            json!(format!("{}/{file}", mount.dir)),
            "{overlay:?}"
        );
    }
}

#[test]
fn the_external_overlay_mounts_the_one_item_of_the_external_keys_secret() {
    assert_eq!(
        lk_jwt_key_file(&objects("site", OverlayName::External)),
        (
            "livekit-external-keys".to_owned(),
            "LIVEKIT_KEYS".to_owned()
        )
    );
    assert_eq!(
        lk_jwt_key_file(&objects("digest-only", OverlayName::External)),
        ("sfu-keys".to_owned(), "key-file".to_owned())
    );
}

#[test]
fn the_inline_keys_reach_lk_jwt_through_the_same_key_file_item() {
    assert_eq!(
        lk_jwt_key_file(&objects("dev-inline-secrets", OverlayName::Bundled)),
        ("livekit-secret".to_owned(), "LIVEKIT_KEYS".to_owned())
    );
}

#[test]
fn lk_jwt_resolves_its_host_aliases_to_their_ips() {
    for overlay in OverlayName::ALL {
        let objects = objects("site", overlay);
        let pod = &find(&objects, "Deployment/lk-jwt-service")["spec"]["template"]["spec"];
        assert_eq!(
            pod["hostAliases"],
            json!([
                {"ip": "10.96.0.80", "hostnames": ["matrix.example.org"]},
                {"ip": "fd00:10:96::80", "hostnames": ["matrix.example.org"]},
            ]),
            "{overlay:?}"
        );
    }
}

#[test]
fn without_host_aliases_no_pod_has_host_aliases() {
    for (key, pod) in pod_specs(&objects("minimal", OverlayName::Bundled)) {
        assert!(pod.get("hostAliases").is_none(), "{key}: {pod}");
    }
}

#[test]
fn every_overlay_routes_delegated_delayed_leave_to_lk_jwt() {
    for overlay in OverlayName::ALL {
        let routes = ingress_paths(&objects("site", overlay));
        assert!(
            routes.contains(&(
                "/delegate_delayed_leave".to_owned(),
                "lk-jwt-service".to_owned()
            )),
            "{overlay:?}: {routes:?}"
        );
    }
}

#[test]
fn only_the_external_overlay_routes_sfu_webhooks_to_lk_jwt() {
    for overlay in OverlayName::ALL {
        let routes = ingress_paths(&objects("site", overlay));
        let webhook: Vec<_> = routes
            .iter()
            .filter(|(path, _)| path == "/sfu_webhook")
            .collect();
        let expected = usize::from(overlay == OverlayName::External);
        assert_eq!(webhook.len(), expected, "{overlay:?}: {routes:?}");
        assert!(
            webhook
                .iter()
                .all(|(_, service)| service == "lk-jwt-service"),
            "{overlay:?}: {routes:?}"
        );
    }
}

#[test]
fn without_lk_jwt_nothing_is_routed_to_it() {
    let routes = ingress_paths(&objects("no-lk-jwt", OverlayName::External));
    assert!(
        routes
            .iter()
            .all(|(_, service)| service != "lk-jwt-service"),
        "{routes:?}"
    );
}

#[test]
fn homeserver_takes_the_client_address_from_the_rightmost_forwarded_entry() {
    let objects = objects("site", OverlayName::Bundled);
    let config_map = objects
        .iter()
        .find(|object| object_key(object).starts_with("ConfigMap/matrix-homeserver-config-"))
        .unwrap();
    let text = config_map["data"]["tuwunel.toml"].as_str().unwrap();
    assert!(
        text.lines()
            .any(|line| line == "ip_source = \"rightmost_x_forwarded_for\""),
        "{text}"
    );
}

#[test]
fn no_object_carries_the_argo_cd_instance_label() {
    for (name, config) in all_configs() {
        for overlay in config.variants().keys() {
            for object in render_objects(&config, *overlay).unwrap() {
                let text = object.to_string();
                assert!(
                    !text.contains("app.kubernetes.io/instance"),
                    "{name}: {text}"
                );
                assert_eq!(
                    object["metadata"]["labels"]["app.kubernetes.io/part-of"],
                    "matrix-chat",
                    "{name}: {}",
                    object_key(&object)
                );
            }
        }
    }
}

#[test]
fn render_objects_refuses_an_overlay_the_config_does_not_generate() {
    assert!(matches!(
        render_objects(&fixture("digest-only"), OverlayName::Bundled),
        Err(RenderError::OverlayNotConfigured { overlay: "bundled" })
    ));
}

#[test]
fn stun_discovery_with_an_empty_node_ip_writes_no_node_ip() {
    let config = fixture_edited(
        "minimal",
        "nodeIp: 198.51.100.7",
        "nodeIp: \"\", useExternalIp: true",
    );
    let rtc = &livekit_config_of(&render_objects(&config, OverlayName::Bundled).unwrap())["rtc"];
    assert_eq!(rtc["use_external_ip"], true);
    assert!(rtc["node_ip"].is_null(), "{rtc:?}");
}

#[test]
fn base_is_the_same_whichever_overlays_are_generated() {
    let base_files = |config: &bundle_gen::Config| -> Vec<(String, Vec<u8>)> {
        render(config)
            .unwrap()
            .files()
            .filter(|(path, _)| path.starts_with("base/"))
            .map(|(path, bytes)| (path.to_owned(), bytes.to_vec()))
            .collect()
    };
    let all = base_files(&fixture("site"));
    let external_only = fixture_edited(
        "site",
        "  bundled: {livekit: {enabled: true}}\n  bundled-turn: {livekit: {enabled: true, turn: {enabled: true}}}\n",
        "",
    );
    assert_eq!(external_only.variants().len(), 1);
    assert!(!all.is_empty());
    assert_eq!(base_files(&external_only), all);
}

// ---- the advertised address and the TURN relay ports --------------------------------------------

/// The ports of `object` at the JSON pointer `ports` as `(name, port, target, protocol)`.
fn port_list(object: &Value, ports: &str) -> Vec<(String, i64, i64, String)> {
    object
        .pointer(ports)
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|port| {
            let number = |key: &str| port[key].as_i64().unwrap_or_default();
            let text = |key: &str| port[key].as_str().unwrap_or_default().to_owned();
            let target = if port["targetPort"].is_null() {
                number("containerPort")
            } else {
                number("targetPort")
            };
            (text("name"), number("port"), target, text("protocol"))
        })
        .collect()
}

#[test]
fn turn_relays_from_the_configured_range_and_every_port_of_it_is_published() {
    let objects = objects("site", OverlayName::BundledTurn);
    let turn = &livekit_config_of(&objects)["turn"];
    assert_eq!(
        (&turn["relay_range_start"], &turn["relay_range_end"]),
        (&json!(40000), &json!(40009))
    );
    let relays: Vec<(String, i64, i64, String)> = (40000..=40009)
        .map(|port| (format!("relay-{port}"), port, port, "UDP".to_owned()))
        .collect();
    let service = port_list(find(&objects, "Service/livekit-rtc"), "/spec/ports");
    assert_eq!(service[service.len() - 10..], relays[..]);
    let container = port_list(
        find(&objects, "Deployment/livekit"),
        "/spec/template/spec/containers/0/ports",
    );
    let container_relays: Vec<(String, i64, String)> = container
        .into_iter()
        .filter(|(name, ..)| name.starts_with("relay-"))
        .map(|(name, _, target, protocol)| (name, target, protocol))
        .collect();
    let expected: Vec<(String, i64, String)> = relays
        .iter()
        .map(|(name, _, target, protocol)| (name.clone(), *target, protocol.clone()))
        .collect();
    assert_eq!(container_relays, expected);
    let admitted = &find(&objects, "NetworkPolicy/livekit-policy")["spec"]["ingress"][0]["ports"];
    for port in 40000..=40009 {
        assert!(
            admitted
                .as_array()
                .unwrap()
                .contains(&json!({"port": port, "protocol": "UDP"})),
            "{port} is not admitted: {admitted}"
        );
    }
}

#[test]
fn without_turn_no_relay_port_is_published_or_configured() {
    let objects = objects("site", OverlayName::Bundled);
    let service = port_list(find(&objects, "Service/livekit-rtc"), "/spec/ports");
    assert!(
        service.iter().all(|(name, ..)| !name.starts_with("relay-")),
        "{service:?}"
    );
    assert!(livekit_config_of(&objects)["turn"].is_null());
}

#[test]
fn the_restricted_peer_allow_list_is_written_into_livekits_turn_config() {
    let turn = &livekit_config("lan", OverlayName::BundledTurn)["turn"];
    assert_eq!(
        turn["allow_restricted_peer_cidrs"],
        json!(["192.168.10.0/24"])
    );
    let public = &livekit_config("site", OverlayName::BundledTurn)["turn"];
    assert!(public["allow_restricted_peer_cidrs"].is_null(), "{public}");
}

#[test]
fn each_pin_asks_the_rtc_service_for_exactly_the_node_ip() {
    for (pin, annotation) in [
        ("metallb", Some("metallb.io/loadBalancerIPs")),
        ("cilium", Some("lbipam.cilium.io/ips")),
        ("kube-vip", Some("kube-vip.io/loadbalancerIPs")),
        ("spec", None),
    ] {
        let config = fixture_edited(
            "minimal",
            "rtc: {nodeIp: 198.51.100.7}",
            &format!("rtc: {{nodeIp: 198.51.100.7, pinLoadBalancerIp: {pin}}}"),
        );
        let objects = render_objects(&config, OverlayName::Bundled).unwrap();
        let service = find(&objects, "Service/livekit-rtc");
        let annotations = &service["metadata"]["annotations"];
        match annotation {
            Some(name) => {
                assert_eq!(annotations, &json!({name: "198.51.100.7"}), "{pin}");
                assert!(service["spec"]["loadBalancerIP"].is_null(), "{pin}");
            }
            None => {
                assert!(annotations.is_null(), "{pin}: {annotations}");
                assert_eq!(service["spec"]["loadBalancerIP"], "198.51.100.7", "{pin}");
            }
        }
    }
}

#[test]
fn without_a_pin_the_rtc_service_asks_for_no_address() {
    let objects = objects("minimal", OverlayName::Bundled);
    let service = find(&objects, "Service/livekit-rtc");
    assert!(service["metadata"]["annotations"].is_null(), "{service}");
    assert!(service["spec"]["loadBalancerIP"].is_null(), "{service}");
}

// ---- how the media ports leave the cluster ---------------------------------------------------

/// The ports of a Service as `(name, protocol)`.
fn service_ports(service: &Value) -> Vec<(String, String)> {
    service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|port| {
            (
                port["name"].as_str().unwrap().to_owned(),
                port["protocol"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn split_services_carry_the_udp_and_the_tcp_ports_on_one_service_each() {
    let objects = objects("split-services", OverlayName::BundledTurn);
    let udp = service_ports(find(&objects, "Service/livekit-rtc-udp"));
    let tcp = service_ports(find(&objects, "Service/livekit-rtc-tcp"));
    let names = |ports: &[(String, String)]| -> Vec<String> {
        ports.iter().map(|(name, _)| name.clone()).collect()
    };
    assert_eq!(
        names(&udp),
        ["rtc-udp", "relay-33000", "relay-33001", "relay-33002"]
    );
    assert!(udp.iter().all(|(_, protocol)| protocol == "UDP"), "{udp:?}");
    // TURN over TLS rides on the TCP one.
    assert_eq!(names(&tcp), ["rtc-tcp", "turns"]);
    assert!(tcp.iter().all(|(_, protocol)| protocol == "TCP"), "{tcp:?}");
    assert!(
        !keys(&objects).contains(&"Service/livekit-rtc".to_owned()),
        "{:?}",
        keys(&objects)
    );
}

#[test]
fn split_services_both_ask_metallb_for_the_node_ip_under_one_sharing_key() {
    let objects = objects("split-services", OverlayName::Bundled);
    for name in ["livekit-rtc-udp", "livekit-rtc-tcp"] {
        let service = find(&objects, &format!("Service/{name}"));
        let annotations = &service["metadata"]["annotations"];
        assert_eq!(
            annotations["metallb.io/loadBalancerIPs"], "198.51.100.20",
            "{name}"
        );
        assert_eq!(
            annotations["metallb.io/allow-shared-ip"], "livekit-rtc",
            "{name}"
        );
        assert_eq!(service["spec"]["type"], "LoadBalancer", "{name}");
    }
}

#[test]
fn split_services_share_the_address_through_cilium_lb_ipam_with_its_sharing_key() {
    let config = fixture_edited(
        "split-services",
        "pinLoadBalancerIp: metallb",
        "pinLoadBalancerIp: cilium",
    );
    let objects = render_objects(&config, OverlayName::Bundled).unwrap();
    for name in ["livekit-rtc-udp", "livekit-rtc-tcp"] {
        let annotations = &find(&objects, &format!("Service/{name}"))["metadata"]["annotations"];
        assert_eq!(
            annotations,
            &json!({
                "lbipam.cilium.io/ips": "198.51.100.20",
                "lbipam.cilium.io/sharing-key": "livekit-rtc",
            }),
            "{name}"
        );
    }
}

#[test]
fn split_services_pinned_through_the_spec_both_ask_for_the_node_ip_without_a_sharing_key() {
    let config = fixture_edited(
        "split-services",
        "pinLoadBalancerIp: metallb",
        "pinLoadBalancerIp: spec",
    );
    let objects = render_objects(&config, OverlayName::Bundled).unwrap();
    for name in ["livekit-rtc-udp", "livekit-rtc-tcp"] {
        let service = find(&objects, &format!("Service/{name}"));
        assert_eq!(service["spec"]["loadBalancerIP"], "198.51.100.20", "{name}");
        assert!(service["metadata"]["annotations"].is_null(), "{service}");
    }
}

#[test]
fn a_sharing_key_written_in_service_annotations_is_kept_on_both_split_services() {
    let config = fixture_edited(
        "split-services",
        "splitServices: true",
        "splitServices: true\n    serviceAnnotations: {metallb.io/allow-shared-ip: media}",
    );
    let objects = render_objects(&config, OverlayName::Bundled).unwrap();
    for name in ["livekit-rtc-udp", "livekit-rtc-tcp"] {
        let annotations = &find(&objects, &format!("Service/{name}"))["metadata"]["annotations"];
        assert_eq!(annotations["metallb.io/allow-shared-ip"], "media", "{name}");
    }
}

#[test]
fn the_chosen_traffic_policy_is_on_every_media_service() {
    let objects = objects("split-services", OverlayName::Bundled);
    for name in ["livekit-rtc-udp", "livekit-rtc-tcp"] {
        let service = find(&objects, &format!("Service/{name}"));
        assert_eq!(service["spec"]["externalTrafficPolicy"], "Local", "{name}");
    }
}

#[test]
fn the_media_service_forwards_from_every_node_by_default() {
    let objects = objects("site", OverlayName::Bundled);
    let service = find(&objects, "Service/livekit-rtc");
    assert_eq!(service["spec"]["externalTrafficPolicy"], "Cluster");
}

#[test]
fn the_network_policy_admits_exactly_the_target_ports_of_the_media_services() {
    let objects = objects("split-services", OverlayName::BundledTurn);
    let mut published: Vec<(i64, String)> = ["livekit-rtc-udp", "livekit-rtc-tcp"]
        .iter()
        .flat_map(|name| {
            find(&objects, &format!("Service/{name}"))["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|port| {
                    (
                        port["targetPort"].as_i64().unwrap(),
                        port["protocol"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut admitted: Vec<(i64, String)> =
        find(&objects, "NetworkPolicy/livekit-policy")["spec"]["ingress"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|port| {
                (
                    port["port"].as_i64().unwrap(),
                    port["protocol"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    published.sort();
    admitted.sort();
    assert_eq!(admitted, published);
}

#[test]
fn node_port_media_ports_are_node_ports_of_their_own_number() {
    let objects = objects("nodeport", OverlayName::Bundled);
    let service = find(&objects, "Service/livekit-rtc");
    assert_eq!(service["spec"]["type"], "NodePort");
    let ports = service["spec"]["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 2, "{ports:?}");
    for port in ports {
        assert_eq!(port["nodePort"], port["port"], "{port}");
        assert_eq!(port["targetPort"], port["port"], "{port}");
    }
    assert!(service["spec"]["loadBalancerIP"].is_null());
}

#[test]
fn load_balancer_media_ports_leave_the_node_port_to_kubernetes() {
    let objects = objects("site", OverlayName::BundledTurn);
    for port in find(&objects, "Service/livekit-rtc")["spec"]["ports"]
        .as_array()
        .unwrap()
    {
        assert!(port["nodePort"].is_null(), "{port}");
    }
}

#[test]
fn on_the_host_network_livekit_uses_cluster_dns_and_has_no_media_service() {
    let objects = objects("host-network", OverlayName::Bundled);
    let pod = &find(&objects, "Deployment/livekit")["spec"]["template"]["spec"];
    assert_eq!(pod["hostNetwork"], true);
    // lk-jwt's webhook URL is a cluster DNS name.
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    let services: Vec<String> = keys(&objects)
        .into_iter()
        .filter(|key| key.starts_with("Service/livekit"))
        .collect();
    assert_eq!(services, ["Service/livekit-signaling"]);
}

#[test]
fn only_the_host_network_opt_in_puts_a_pod_on_the_host_network() {
    for (name, config) in all_configs() {
        for (overlay, variant) in config.variants() {
            let objects = render_objects(&config, *overlay).unwrap();
            for (key, pod) in pod_specs(&objects) {
                let opted_in = key == "Deployment/livekit" && variant.livekit().host_network;
                assert_eq!(
                    pod["hostNetwork"].as_bool().unwrap_or(false),
                    opted_in,
                    "{name} {overlay:?} {key}"
                );
            }
        }
    }
}

#[test]
fn the_host_network_deployment_file_says_it_leaves_the_restricted_profile() {
    let tree = render(&fixture("host-network")).unwrap();
    let text = tree
        .files()
        .find(|(path, _)| *path == "overlays/components/livekit/livekit-deployment.yaml")
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .unwrap();
    let comment: Vec<&str> = text
        .lines()
        .skip(1)
        .map_while(|line| line.strip_prefix("# "))
        .collect();
    let comment = comment.join(" ");
    assert!(comment.contains("livekit.hostNetwork: true"), "{text}");
    assert!(comment.contains("restricted"), "{comment}");
    assert!(comment.contains("Pod Security"), "{comment}");
}

#[test]
fn split_services_pinned_through_kube_vip_both_ask_for_the_node_ip_without_a_sharing_key() {
    let config = fixture_edited(
        "split-services",
        "pinLoadBalancerIp: metallb",
        "pinLoadBalancerIp: kube-vip",
    );
    let objects = render_objects(&config, OverlayName::Bundled).unwrap();
    for name in ["livekit-rtc-udp", "livekit-rtc-tcp"] {
        let annotations = &find(&objects, &format!("Service/{name}"))["metadata"]["annotations"];
        assert_eq!(
            annotations,
            &json!({"kube-vip.io/loadbalancerIPs": "198.51.100.20"}),
            "{name}"
        );
    }
}

/// Tuwunel's config file as rendered for `config`'s `bundled` overlay.
fn tuwunel_toml(config: &bundle_gen::Config) -> String {
    let objects = render_objects(config, OverlayName::Bundled).unwrap();
    let config_map = objects
        .iter()
        .find(|object| object_key(object).starts_with("ConfigMap/matrix-homeserver-config-"))
        .unwrap();
    config_map["data"]["tuwunel.toml"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_database_caches_are_a_quarter_and_a_sixteenth_of_the_memory_limit() {
    let config = fixture_edited("site", "limits: {memory: 4Gi}", "limits: {memory: 1.5Gi}");
    let text = tuwunel_toml(&config);
    assert!(text.contains("\ndb_cache_capacity_mb = 384.0\n"), "{text}");
    assert!(
        text.contains("\ndb_write_buffer_capacity_mb = 96.0\n"),
        "{text}"
    );
}

#[test]
fn without_a_memory_limit_tuwunel_sizes_its_database_caches_itself() {
    let config = fixture_edited("site", "limits: {memory: 4Gi}", "limits: {}");
    let text = tuwunel_toml(&config);
    assert!(!text.contains("db_cache_capacity_mb"), "{text}");
    assert!(!text.contains("db_write_buffer_capacity_mb"), "{text}");
}

#[test]
fn the_claim_template_carries_what_the_api_server_stores_so_argo_cd_sees_no_diff() {
    let objects = objects("site", OverlayName::Bundled);
    let statefulset = find(&objects, "StatefulSet/matrix-homeserver");
    let template = &statefulset["spec"]["volumeClaimTemplates"][0];
    assert_eq!(template["apiVersion"], "v1");
    assert_eq!(template["kind"], "PersistentVolumeClaim");
    assert_eq!(template["spec"]["volumeMode"], "Filesystem");
}
