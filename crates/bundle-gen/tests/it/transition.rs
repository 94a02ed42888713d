//! The transition guards as a pure function of two configs: each refuses its change, naming the
//! key and both values; the changes that lose nothing pass.

use bundle_gen::{DeployedConfig, TransitionRule, transition_refusals};
use serde_norway::Value;

use crate::config::{good, load, set};

/// What the guards say about moving from `deployed` to `proposed`: `(rule, key, old, new)`.
fn refused(deployed: &Value, proposed: &Value) -> Vec<(TransitionRule, String, String, String)> {
    let deployed = deployed_config(deployed);
    let proposed = load(proposed).expect("the proposed config is valid");
    transition_refusals(&deployed, &proposed)
        .into_iter()
        .map(|refusal| (refusal.rule, refusal.key, refusal.old, refusal.new))
        .collect()
}

/// `doc` as the deployed side reads it: parsed, without today's guards.
fn deployed_config(doc: &Value) -> DeployedConfig {
    DeployedConfig::from_yaml(&serde_norway::to_string(doc).expect("serializable"))
        .expect("the deployed config parses")
}

fn one(
    rule: TransitionRule,
    key: &str,
    old: &str,
    new: &str,
) -> Vec<(TransitionRule, String, String, String)> {
    vec![(rule, key.to_owned(), old.to_owned(), new.to_owned())]
}

#[test]
fn an_unchanged_config_passes() {
    assert_eq!(refused(&good(), &good()), []);
}

#[test]
fn a_changed_namespace_is_refused() {
    assert_eq!(
        refused(&good(), &set(good(), "namespace", "chat")),
        one(TransitionRule::Namespace, "namespace", "matrix", "chat")
    );
}

#[test]
fn persistence_turned_off_is_refused_and_turned_on_passes() {
    let off = set(good(), "homeserver.persistence.enabled", "false");
    assert_eq!(
        refused(&good(), &off),
        one(
            TransitionRule::PersistenceOff,
            "homeserver.persistence.enabled",
            "true",
            "false"
        )
    );
    assert_eq!(refused(&off, &good()), []);
}

#[test]
fn an_existing_claim_set_or_unset_is_refused() {
    let claimed = set(
        good(),
        "homeserver.persistence.existingClaim",
        "matrix-data",
    );
    assert_eq!(
        refused(&good(), &claimed),
        one(
            TransitionRule::ExistingClaim,
            "homeserver.persistence.existingClaim",
            "unset",
            "matrix-data"
        )
    );
    assert_eq!(
        refused(&claimed, &good()),
        one(
            TransitionRule::ExistingClaim,
            "homeserver.persistence.existingClaim",
            "matrix-data",
            "unset"
        )
    );
}

#[test]
fn the_claim_template_class_and_size_are_refused_to_change() {
    let changed = set(
        good(),
        "homeserver.persistence",
        "{size: 20Gi, storageClass: fast-ssd}",
    );
    assert_eq!(
        refused(&good(), &changed),
        vec![
            (
                TransitionRule::StorageClass,
                "homeserver.persistence.storageClass".to_owned(),
                "unset".to_owned(),
                "fast-ssd".to_owned()
            ),
            (
                TransitionRule::VolumeSize,
                "homeserver.persistence.size".to_owned(),
                "10Gi".to_owned(),
                "20Gi".to_owned()
            ),
        ]
    );
}

#[test]
fn class_and_size_do_not_matter_with_an_existing_claim() {
    let claimed = set(
        good(),
        "homeserver.persistence.existingClaim",
        "matrix-data",
    );
    let resized = set(claimed.clone(), "homeserver.persistence.size", "20Gi");
    assert_eq!(refused(&claimed, &resized), []);
}

#[test]
fn a_lower_homeserver_version_is_refused_and_a_higher_one_passes() {
    let older = set(good(), "images.homeserver.tag", "v1.9.2");
    let newer = set(good(), "images.homeserver.tag", "v1.10.0");
    assert_eq!(
        refused(&good(), &older),
        one(
            TransitionRule::HomeserverDowngrade,
            "images.homeserver.tag",
            "v1.9.3",
            "v1.9.2"
        )
    );
    assert_eq!(refused(&good(), &newer), []);
}

#[test]
fn a_tag_that_is_no_version_is_not_ordered() {
    let main = set(good(), "images.homeserver.tag", "main");
    assert_eq!(refused(&good(), &main), []);
}

#[test]
fn a_changed_api_key_name_is_refused_once_for_all_overlays() {
    let deployed = set(good(), "livekit.keys.apiKeyName", "lk-jwt");
    let proposed = set(good(), "livekit.keys.apiKeyName", "lk-jwt-2");
    assert_eq!(
        refused(&deployed, &proposed),
        one(
            TransitionRule::ApiKeyName,
            "livekit.keys.apiKeyName",
            "lk-jwt",
            "lk-jwt-2"
        )
    );
}

#[test]
fn an_api_key_name_set_for_the_first_time_passes() {
    let proposed = set(good(), "livekit.keys.apiKeyName", "lk-jwt");
    assert_eq!(refused(&good(), &proposed), []);
}

#[test]
fn every_rule_is_named_as_it_is_parsed() {
    for rule in TransitionRule::ALL {
        assert_eq!(rule.name().parse::<TransitionRule>(), Ok(rule));
    }
    let error = "volume"
        .parse::<TransitionRule>()
        .expect_err("no such rule");
    assert!(error.to_string().contains("`volume-size`"), "{error}");
}

#[test]
fn a_changed_server_name_is_refused() {
    let text = serde_norway::to_string(&good())
        .unwrap()
        .replace("matrix.example.org", "chat.example.org");
    let renamed: Value = serde_norway::from_str(&text).unwrap();
    assert_eq!(
        refused(&good(), &renamed),
        one(
            TransitionRule::ServerName,
            "homeserver.serverName",
            "matrix.example.org",
            "chat.example.org"
        )
    );
}

#[test]
fn a_refusal_names_the_key_both_values_the_reason_the_fix_and_the_override() {
    let deployed = deployed_config(&good());
    let proposed = load(&set(good(), "homeserver.persistence.size", "20Gi")).unwrap();
    let refusals = transition_refusals(&deployed, &proposed);
    let message = refusals[0].to_string();
    for part in [
        "`homeserver.persistence.size` changes from `10Gi` to `20Gi`",
        "volumeClaimTemplates cannot be changed",
        "kubectl -n matrix patch pvc data-matrix-homeserver-0",
        "`Bundle-Allow: volume-size`",
        "`--allow volume-size`",
    ] {
        assert!(message.contains(part), "{part} is missing from: {message}");
    }
}

#[test]
fn a_deployed_config_that_todays_guards_refuse_is_still_compared() {
    // A deployed site that a guard added since would refuse (a nodeIp in a private range with
    // TURN): the change that fixes it must not be blocked by the state it fixes.
    let deployed = set(good(), "livekit.rtc.nodeIp", "192.168.1.5");
    assert!(load(&deployed).is_err(), "the guard refuses it today");
    let proposed = set(good(), "namespace", "chat");
    let refusals = refused(&deployed, &proposed);
    assert_eq!(
        refusals.iter().map(|refusal| refusal.0).collect::<Vec<_>>(),
        [TransitionRule::Namespace]
    );
}

#[test]
fn the_same_volume_size_written_in_another_unit_passes() {
    let deployed = set(good(), "homeserver.persistence.size", "10Gi");
    let proposed = set(good(), "homeserver.persistence.size", "10240Mi");
    assert_eq!(refused(&deployed, &proposed), Vec::new());
}

/// `doc` with keys today's model does not know: at the top, nested, in an overlay's delta, in
/// a list item and under a registry host (a key with dots).
fn with_dropped_keys(doc: Value) -> Value {
    let doc = set(doc, "oldTopLevel", "1");
    let doc = set(doc, "livekit.rtc.oldPortRange", "{start: 1, end: 2}");
    let doc = set(doc, "overlays.external.livekit.oldSetting", "true");
    let doc = set(
        doc,
        "lkJwt.hostAliases",
        "[{ip: 10.0.0.1, hostnames: [a.example.org], oldComment: x}]",
    );
    set(
        doc,
        "registries",
        "{ghcr.io: {endpoint: 'https://mirror.example.org', oldAuth: basic}}",
    )
}

#[test]
fn keys_the_model_no_longer_knows_are_left_out_of_the_deployed_side_and_listed() {
    let deployed = deployed_config(&with_dropped_keys(good()));
    assert_eq!(
        deployed.ignored_keys(),
        [
            "livekit.rtc.oldPortRange",
            "oldTopLevel",
            "registries.ghcr.io.oldAuth",
            "lkJwt.hostAliases[0].oldComment",
            "overlays.external.livekit.oldSetting",
        ]
    );
}

#[test]
fn a_dropped_key_under_a_registry_host_is_found_beside_a_host_its_name_starts_with() {
    let doc = set(
        good(),
        "registries",
        "{ghcr: {endpoint: 'https://a.example.org'}, ghcr.io: {endpoint: 'https://b.example.org', oldAuth: basic}}",
    );
    assert_eq!(
        deployed_config(&doc).ignored_keys(),
        ["registries.ghcr.io.oldAuth"]
    );
}

#[test]
fn a_deployed_side_with_dropped_keys_still_refuses_what_the_rules_refuse() {
    let deployed = deployed_config(&with_dropped_keys(good()));
    let proposed = load(&set(good(), "namespace", "chat")).expect("valid");
    let rules: Vec<TransitionRule> = transition_refusals(&deployed, &proposed)
        .into_iter()
        .map(|refusal| refusal.rule)
        .collect();
    assert_eq!(rules, [TransitionRule::Namespace]);
    let unchanged = load(&good()).expect("valid");
    assert_eq!(transition_refusals(&deployed, &unchanged), []);
}

#[test]
fn a_key_the_rules_compare_keeps_its_type_on_the_deployed_side() {
    let text = serde_norway::to_string(&with_dropped_keys(set(
        good(),
        "homeserver.persistence.enabled",
        "[yes]",
    )))
    .expect("serializable");
    let error = DeployedConfig::from_yaml(&text).expect_err("a list is no boolean");
    assert_eq!(
        error.to_string(),
        "invalid value at `homeserver.persistence.enabled`: expected true or false, found a \
         list (line 8)"
    );
}
