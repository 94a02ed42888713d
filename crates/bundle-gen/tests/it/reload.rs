//! `reloader: stakater`: every workload carries the annotation that has Stakater Reloader roll
//! it when a Secret its pods read changes; without it, none does.

use bundle_gen::{Config, render_objects};

use crate::support::fixture;

/// `Kind/name` of every workload of every overlay, with its Reloader annotation.
fn reload_annotations(config: &Config) -> Vec<(String, Option<String>)> {
    let mut found: Vec<(String, Option<String>)> = config
        .variants()
        .keys()
        .flat_map(|&overlay| render_objects(config, overlay).unwrap())
        .filter(|object| ["Deployment", "StatefulSet"].contains(&object["kind"].as_str().unwrap()))
        .map(|object| {
            let annotation = object["metadata"]["annotations"]["secret.reloader.stakater.com/auto"]
                .as_str()
                .map(str::to_owned);
            let name = format!(
                "{}/{}",
                object["kind"].as_str().unwrap(),
                object["metadata"]["name"].as_str().unwrap()
            );
            (name, annotation)
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn with_stakater_every_workload_is_rolled_when_its_secrets_change() {
    let on = Some("true".to_owned());
    assert_eq!(
        reload_annotations(&fixture("turn-cert-manager")),
        [
            ("Deployment/livekit".to_owned(), on.clone()),
            ("Deployment/lk-jwt-service".to_owned(), on.clone()),
            ("StatefulSet/matrix-homeserver".to_owned(), on),
        ]
    );
}

#[test]
fn without_a_reloader_no_workload_carries_its_annotation() {
    let annotations = reload_annotations(&fixture("minimal"));
    assert!(!annotations.is_empty());
    assert!(
        annotations
            .iter()
            .all(|(_, annotation)| annotation.is_none()),
        "{annotations:?}"
    );
}
