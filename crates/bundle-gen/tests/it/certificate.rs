//! cert-manager's Certificate for TURN: with `livekit.turn.tls.certManager` the TURN overlay
//! holds one that cert-manager's CRD schema accepts, for `turn.domain`, filling the Secret
//! LiveKit mounts; and the guards refuse what would leave LiveKit without its certificate.

use bundle_gen::{Config, render_objects};
use serde_json::Value as Json;

use crate::config::{good, refused, set};
use crate::gateway::{as_whole_object, refuse_unknown_properties};
use crate::support::{all_configs, fixture};

/// The `openAPIV3Schema` of cert-manager's Certificate CRD (`cert-manager.io/v1`), vendored
/// with the commit it comes from, completed to a whole object with unknown properties refused
/// as `kubernetes-validate --strict` refuses them.
fn certificate_validator() -> jsonschema::Validator {
    let text = include_str!("../fixtures/crds/certificate-v1.schema.json");
    let mut schema: Json = serde_json::from_str(text).expect("the vendored schema is JSON");
    as_whole_object(&mut schema, "cert-manager.io/v1", "Certificate");
    refuse_unknown_properties(&mut schema);
    jsonschema::validator_for(&schema).expect("the vendored schema is a valid schema")
}

fn certificates(config: &Config) -> Vec<Json> {
    config
        .variants()
        .keys()
        .flat_map(|&overlay| render_objects(config, overlay).unwrap())
        .filter(|object| object["kind"] == "Certificate")
        .collect()
}

#[test]
fn every_rendered_certificate_is_valid_against_the_crd_schema() {
    let validator = certificate_validator();
    let mut checked = 0;
    for (name, config) in all_configs() {
        for certificate in certificates(&config) {
            let errors: Vec<String> = validator
                .iter_errors(&certificate)
                .map(|error| format!("{}: {error}", error.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:#?}\n{certificate:#}");
            checked += 1;
        }
    }
    assert!(checked > 0, "no fixture renders a Certificate");
}

#[test]
fn the_schema_check_refuses_a_certificate_the_api_server_would_refuse() {
    let validator = certificate_validator();
    let config = fixture("turn-cert-manager");
    let mut certificate = certificates(&config).remove(0);
    certificate["spec"]["issuerRef"]
        .as_object_mut()
        .unwrap()
        .remove("name");
    assert!(
        !validator.is_valid(&certificate),
        "issuerRef without a name"
    );
    let mut misspelt = certificates(&config).remove(0);
    misspelt["spec"]["dnsName"] = serde_json::json!(["turn.chat.example.com"]);
    assert!(!validator.is_valid(&misspelt), "an unknown field");
}

#[test]
fn the_certificate_is_for_the_turn_domain_and_fills_the_secret_livekit_mounts() {
    let config = fixture("turn-cert-manager");
    let [certificate] = &certificates(&config)[..] else {
        panic!("one Certificate, in bundled-turn");
    };
    assert_eq!(
        certificate["spec"],
        serde_json::json!({
            "dnsNames": ["turn.chat.example.com"],
            "issuerRef": {"kind": "ClusterIssuer", "name": "letsencrypt-dns01"},
            "secretName": "turn-tls",
        })
    );
    let overlay = *config.variants().keys().next().unwrap();
    let objects = render_objects(&config, overlay).unwrap();
    let livekit = objects
        .iter()
        .find(|object| object["kind"] == "Deployment" && object["metadata"]["name"] == "livekit")
        .unwrap();
    let mounted: Vec<&str> = livekit["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|volume| volume["secret"]["secretName"].as_str())
        .collect();
    assert!(mounted.contains(&"turn-tls"), "{mounted:?}");
}

#[test]
fn without_cert_manager_no_certificate_is_rendered() {
    assert_eq!(certificates(&fixture("minimal")), Vec::<Json>::new());
}

#[test]
fn an_external_issuer_is_named_by_its_group() {
    let doc = set(
        good(),
        "livekit.turn.tls.certManager",
        "{name: step, kind: ClusterIssuer, group: certmanager.step.sm}",
    );
    let config = crate::config::load(&doc).expect("accepted");
    let [certificate] = &certificates(&config)[..] else {
        panic!("one Certificate");
    };
    assert_eq!(
        certificate["spec"]["issuerRef"],
        serde_json::json!({"group": "certmanager.step.sm", "kind": "ClusterIssuer", "name": "step"})
    );
}

#[test]
fn guard_cert_manager_with_another_certificate_key() {
    let doc = set(
        good(),
        "livekit.turn.tls",
        "{existingSecret: turn-tls, certKey: fullchain, certManager: {name: dns, kind: Issuer}}",
    );
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_cert_manager_filling_the_ingress_certificate() {
    let doc = set(
        good(),
        "livekit.turn.tls",
        "{existingSecret: matrix-certificate, certManager: {name: dns, kind: ClusterIssuer}}",
    );
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn guard_cert_manager_without_an_issuer_name() {
    let doc = set(
        good(),
        "overlays.bundled-turn.livekit.turn.tls.certManager",
        "{name: '', kind: ClusterIssuer}",
    );
    insta::assert_snapshot!(refused(doc));
}

#[test]
fn an_issuer_kind_cert_manager_does_not_have_is_refused_at_parse_time() {
    let doc = set(
        good(),
        "livekit.turn.tls.certManager",
        "{name: dns, kind: Clusterissuer}",
    );
    let error = crate::config::load(&doc).expect_err("unknown kind");
    assert_eq!(
        error.to_string(),
        "invalid value at `livekit.turn.tls.certManager.kind`: unknown value `Clusterissuer`; \
         did you mean `ClusterIssuer`? (line 20)"
    );
}
