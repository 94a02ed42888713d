//! Gateway API: with `gateway.enabled` every overlay routes serverName through HTTPRoutes that
//! the upstream schema accepts, with the paths and backends the Ingress has otherwise, and no
//! Ingress at all.

use bundle_gen::{Config, OverlayName, render, render_objects};
use serde_json::Value as Json;
use serde_norway::Value;

use crate::support::{all_configs, fixture, fixtures_dir, repository_config};

/// The JSON Schema of `HTTPRoute` (standard channel) as the `gateway-api` crate of kube-rs
/// derives it, with unknown properties refused as `kubernetes-validate --strict` refuses them.
///
/// The derived schema is that of a CRD's `openAPIV3Schema`: `spec` and `status` only, since the
/// API server itself checks the rest of the object. That rest is added here: this group,
/// version and kind, and `metadata` as the ObjectMeta of the k8s-openapi the crate is built on.
fn http_route_validator() -> jsonschema::Validator {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(gateway_api::httproutes::HttpRoute)).unwrap();
    as_whole_object(&mut schema, "gateway.networking.k8s.io/v1", "HTTPRoute");
    refuse_unknown_properties(&mut schema);
    jsonschema::validator_for(&schema).expect("the derived schema is a valid schema")
}

/// Completes the schema of a CRD's `openAPIV3Schema` to one of a whole object as a manifest
/// writes it: this `api_version` and `kind`, and `metadata` as the ObjectMeta of k8s-openapi.
pub(crate) fn as_whole_object(schema: &mut Json, api_version: &str, kind: &str) {
    use k8s_openapi_for_gateway_api::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let mut metadata = serde_json::to_value(schemars::schema_for!(ObjectMeta)).unwrap();
    let metadata_defs = metadata
        .as_object_mut()
        .unwrap()
        .remove("$defs")
        .unwrap_or_default();
    metadata.as_object_mut().unwrap().remove("$schema");
    let defs = schema
        .as_object_mut()
        .unwrap()
        .entry("$defs")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .unwrap();
    defs.extend(metadata_defs.as_object().cloned().unwrap_or_default());
    defs.insert("ObjectMeta".to_owned(), metadata);
    schema["properties"]["apiVersion"] = serde_json::json!({"const": api_version});
    schema["properties"]["kind"] = serde_json::json!({"const": kind});
    schema["properties"]["metadata"] = serde_json::json!({"$ref": "#/$defs/ObjectMeta"});
    schema["required"] = serde_json::json!(["apiVersion", "kind", "metadata", "spec"]);
}

/// Adds `additionalProperties: false` to every object schema that lists its properties and says
/// nothing about others (free-form maps such as labels keep their `additionalProperties`).
pub(crate) fn refuse_unknown_properties(schema: &mut Json) {
    match schema {
        Json::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".to_owned(), Json::Bool(false));
            }
            map.values_mut().for_each(refuse_unknown_properties);
        }
        Json::Array(items) => items.iter_mut().for_each(refuse_unknown_properties),
        _ => {}
    }
}

fn of_kind<'a>(objects: &'a [Json], kind: &str) -> Vec<&'a Json> {
    objects
        .iter()
        .filter(|object| object["kind"] == kind)
        .collect()
}

/// `(path, Service, port)` of every rule of every HTTPRoute, sorted.
fn http_route_paths(objects: &[Json]) -> Vec<(String, String, u64)> {
    let mut paths: Vec<(String, String, u64)> = of_kind(objects, "HTTPRoute")
        .into_iter()
        .flat_map(|route| route["spec"]["rules"].as_array().unwrap().iter())
        .map(|rule| {
            let backends = rule["backendRefs"].as_array().unwrap();
            let matches = rule["matches"].as_array().unwrap();
            assert_eq!((backends.len(), matches.len()), (1, 1), "{rule}");
            (
                matches[0]["path"]["value"].as_str().unwrap().to_owned(),
                backends[0]["name"].as_str().unwrap().to_owned(),
                backends[0]["port"].as_u64().unwrap(),
            )
        })
        .collect();
    paths.sort();
    paths
}

/// `(path, Service, port)` of every path of the Ingress, sorted.
fn ingress_paths(objects: &[Json]) -> Vec<(String, String, u64)> {
    let ingresses = of_kind(objects, "Ingress");
    assert_eq!(ingresses.len(), 1);
    let mut paths: Vec<(String, String, u64)> = ingresses[0]["spec"]["rules"][0]["http"]["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|path| {
            let service = &path["backend"]["service"];
            (
                path["path"].as_str().unwrap().to_owned(),
                service["name"].as_str().unwrap().to_owned(),
                service["port"]["number"].as_u64().unwrap(),
            )
        })
        .collect();
    paths.sort();
    paths
}

/// The gateway fixture with Gateway API turned off: the same site behind the Ingress.
fn gateway_fixture_with_the_ingress() -> Config {
    let text = std::fs::read_to_string(fixtures_dir().join("gateway.yaml")).unwrap();
    let mut doc: Value = serde_norway::from_str(&text).unwrap();
    doc["gateway"]["enabled"] = Value::Bool(false);
    Config::from_yaml(&serde_norway::to_string(&doc).unwrap()).unwrap()
}

#[test]
fn every_rendered_http_route_satisfies_the_upstream_schema() {
    let validator = http_route_validator();
    let mut checked = 0;
    for (name, config) in all_configs().into_iter().chain([repository_config()]) {
        for overlay in config.variants().keys() {
            let objects = render_objects(&config, *overlay).unwrap();
            for route in of_kind(&objects, "HTTPRoute") {
                let errors: Vec<String> = validator
                    .iter_errors(route)
                    .map(|error| format!("{}: {error}", error.instance_path()))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{name}, overlay {overlay:?}: {} is refused:\n{}",
                    route["metadata"]["name"],
                    errors.join("\n")
                );
                checked += 1;
            }
        }
    }
    // The gateway fixture's three overlays: `matrix` in each, and the LiveKit component's or the
    // external overlay's own.
    assert_eq!(checked, 6, "HTTPRoutes checked");
}

#[test]
fn the_schema_check_refuses_an_http_route_with_a_misspelt_field() {
    let validator = http_route_validator();
    let objects = render_objects(&fixture("gateway"), OverlayName::Bundled).unwrap();
    let mut route = of_kind(&objects, "HTTPRoute")[0].clone();
    assert!(validator.is_valid(&route));
    route["spec"]["rules"][0]["timeouts"]["requests"] = Json::from("1h");
    assert!(!validator.is_valid(&route));
}

#[test]
fn with_gateway_api_no_overlay_deploys_an_ingress() {
    let config = fixture("gateway");
    for overlay in config.variants().keys() {
        let objects = render_objects(&config, *overlay).unwrap();
        assert_eq!(of_kind(&objects, "Ingress").len(), 0, "{overlay:?}");
    }
    let tree = render(&config).unwrap();
    assert!(
        tree.files().all(|(path, _)| !path.contains("ingress")),
        "a file of the Ingress is written"
    );
}

#[test]
fn the_http_routes_carry_the_paths_and_backends_of_the_ingress_in_every_overlay() {
    let gateway = fixture("gateway");
    let ingress = gateway_fixture_with_the_ingress();
    for overlay in gateway.variants().keys() {
        let routes = http_route_paths(&render_objects(&gateway, *overlay).unwrap());
        let paths = ingress_paths(&render_objects(&ingress, *overlay).unwrap());
        assert_eq!(routes, paths, "{overlay:?}");
    }
}

#[test]
fn the_external_overlay_routes_nothing_to_livekit_and_the_bundled_ones_route_rtc_and_twirp() {
    let config = fixture("gateway");
    let livekit_paths = |overlay| -> Vec<String> {
        http_route_paths(&render_objects(&config, overlay).unwrap())
            .into_iter()
            .filter(|(_, service, _)| service.starts_with("livekit"))
            .map(|(path, _, _)| path)
            .collect()
    };
    assert_eq!(livekit_paths(OverlayName::External), Vec::<String>::new());
    for overlay in [OverlayName::Bundled, OverlayName::BundledTurn] {
        assert_eq!(livekit_paths(overlay), ["/rtc", "/twirp"], "{overlay:?}");
    }
}

#[test]
fn every_http_route_answers_server_name_through_every_parent_with_an_hour_per_request() {
    let config = fixture("gateway");
    for overlay in config.variants().keys() {
        for route in of_kind(&render_objects(&config, *overlay).unwrap(), "HTTPRoute") {
            let spec = &route["spec"];
            assert_eq!(spec["hostnames"], serde_json::json!(["matrix.example.org"]));
            assert_eq!(
                spec["parentRefs"],
                serde_json::json!([
                    {"name": "public", "namespace": "gateway-system", "sectionName": "https"},
                    {"name": "internal"},
                ])
            );
            for rule in spec["rules"].as_array().unwrap() {
                assert_eq!(rule["timeouts"], serde_json::json!({"request": "3600s"}));
            }
        }
    }
}

#[test]
fn the_network_policies_let_in_the_gateway_data_plane_namespace() {
    let config = fixture("gateway");
    let objects = render_objects(&config, OverlayName::Bundled).unwrap();
    let policies = of_kind(&objects, "NetworkPolicy");
    for name in [
        "matrix-homeserver-policy",
        "lk-jwt-service-policy",
        "livekit-policy",
    ] {
        let policy = policies
            .iter()
            .find(|policy| policy["metadata"]["name"] == name)
            .unwrap();
        let peers: Vec<&Json> = policy["spec"]["ingress"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|rule| rule["from"].as_array().into_iter().flatten())
            .collect();
        assert!(
            peers.iter().any(
                |peer| peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    == "envoy-gateway-system"
            ),
            "{name}: {peers:?}"
        );
    }
}
