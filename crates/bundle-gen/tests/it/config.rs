//! The config model and its guards, through `Config::from_yaml`: defaults, overlay merging,
//! unknown keys with their path and nearest name, and one test per guard asserting its full
//! message (location, key, reason, fix) as the CLI prints it for `bundle.yaml`.

use std::path::Path;

use bundle_gen::{
    Config, ConfigError, ExternalTrafficPolicy, OverlayName, PinLoadBalancerIp, RtcServiceType,
    csp_sources,
};
use serde_norway::{Mapping, Value};

/// A complete, acceptable site: every guard passes.
const GOOD: &str = r#"
namespace: matrix
homeserver:
  serverName: matrix.example.org
  registrationTokenExistingSecret: {name: matrix-registration}
  livekitServiceUrl: https://matrix.example.org
livekit:
  publicUrl: wss://matrix.example.org
  keys: {existingSecret: {name: livekit-keys}}
  rtc: {nodeIp: 203.0.113.10}
  turn: {domain: turn.example.org, tls: {existingSecret: turn-tls}}
overlays:
  bundled: {}
  bundled-turn: {}
  external:
    livekit:
      publicUrl: wss://livekit.example.net
      keys: {existingSecret: {name: livekit-external-keys}}
images:
  homeserver:
    registry: ghcr.io
    repository: matrix-construct/tuwunel
    tag: v1.9.3
    digest: "sha256:678b7f5350e06a41614444497c587da9dddf66767e4068a27480402f3c1367d0"
    policy: {kind: bare-multiarch}
  livekit:
    registry: docker.io
    repository: livekit/livekit-server
    tag: v1.13.7
    digest: "sha256:6fd3b7088874c4d119160dd688798dfec852bc014786d392caad15f6f63912a3"
    policy: {kind: semver, range: "^1"}
  lkJwt:
    registry: ghcr.io
    repository: element-hq/lk-jwt-service
    tag: 0.6.0
    digest: "sha256:822f0c03a3bdd924da92afc2e8ec59de5dda17af42d32e71e11f269c3517abf7"
    policy: {kind: semver, tagPrefix: ""}
"#;

pub(crate) fn good() -> Value {
    serde_norway::from_str(GOOD).expect("GOOD is YAML")
}

/// Sets `path` (dotted) in `doc`, creating mappings on the way.
pub(crate) fn set(mut doc: Value, path: &str, value: &str) -> Value {
    let value: Value = serde_norway::from_str(value).expect("value is YAML");
    let mut node = &mut doc;
    for segment in path.split('.') {
        let map = node.as_mapping_mut().expect("a mapping on the path");
        node = map
            .entry(Value::from(segment))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    *node = value;
    doc
}

/// Removes `path` (dotted) from `doc`.
pub(crate) fn remove(mut doc: Value, path: &str) -> Value {
    let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
    let mut node = &mut doc;
    for segment in parent.split('.').filter(|s| !s.is_empty()) {
        node = node.get_mut(segment).expect("path exists");
    }
    node.as_mapping_mut()
        .expect("a mapping")
        .remove(last)
        .expect("key exists");
    doc
}

pub(crate) fn load(doc: &Value) -> Result<Config, ConfigError> {
    Config::from_yaml(&serde_norway::to_string(doc).expect("serializable"))
}

/// The file name the messages are shown with.
const FILE: &str = "bundle.yaml";

/// The refusal as the CLI shows it for `bundle.yaml`: a header line, then one
/// `bundle.yaml:<line>:<column>:` line per violated guard. Panics if the config was accepted
/// or failed to parse.
pub(crate) fn refused(doc: Value) -> String {
    match load(&doc) {
        Err(error @ ConfigError::Refused { .. }) => error.with_file(Path::new(FILE)).to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The parse error as the CLI shows it for `bundle.yaml`, `bundle.yaml:<line>:<column>: ...`.
pub(crate) fn parse_error(text: &str) -> String {
    match Config::from_yaml(text) {
        Err(error @ ConfigError::Refused { .. }) => panic!("expected a parse error: {error}"),
        Err(error) => error.with_file(Path::new(FILE)).to_string(),
        Ok(_) => panic!("expected a parse error, the config was accepted"),
    }
}

pub(crate) fn yaml(doc: &Value) -> String {
    serde_norway::to_string(doc).expect("serializable")
}

// ---- the model -------------------------------------------------------------------------------

#[test]
fn the_good_config_is_accepted_with_all_three_overlays() {
    let config = load(&good()).expect("accepted");
    assert_eq!(
        config.variants().keys().copied().collect::<Vec<_>>(),
        OverlayName::ALL.to_vec()
    );
}

#[test]
fn omitted_keys_take_the_documented_defaults() {
    let config = load(&good()).expect("accepted");
    let raw = &config.raw();
    assert_eq!(raw.homeserver.client_port, 6167);
    assert!(raw.homeserver.allow_registration);
    assert!(raw.homeserver.allow_federation);
    assert_eq!(raw.homeserver.max_request_size, 104_857_600);
    assert_eq!(raw.homeserver.persistence.size, "10Gi");
    assert_eq!(
        raw.homeserver.registration_token_existing_secret.key,
        "registration_token"
    );
    assert_eq!(raw.ingress.class_name, "nginx");
    assert_eq!(raw.ingress.tls.secret_name, "matrix-certificate");
    assert!(raw.network_policy.enabled);
    assert_eq!(
        raw.network_policy.ingress_controller_namespace,
        "ingress-nginx"
    );
    assert!(raw.lk_jwt.enabled);
    assert!(!raw.allow_inline_secrets);
    let livekit = &config.variants()[&OverlayName::Bundled].livekit();
    assert_eq!(
        (
            livekit.rtc.signaling_port,
            livekit.rtc.udp_port,
            livekit.rtc.tcp_port
        ),
        (7880, 7882, 7881)
    );
    assert_eq!(livekit.turn.tls_port, 5349);
    assert!(raw.lk_jwt.host_aliases.is_empty());
    assert_eq!(
        livekit.keys.existing_secret.livekit_keys_key,
        "LIVEKIT_KEYS"
    );
}

#[test]
fn omitting_overlays_generates_all_three_from_the_top_level_livekit() {
    let config = load(&remove(good(), "overlays")).expect("accepted");
    assert_eq!(
        config.variants().keys().copied().collect::<Vec<_>>(),
        OverlayName::ALL.to_vec()
    );
    let external = &config.variants()[&OverlayName::External].livekit();
    assert_eq!(external.public_url, "wss://matrix.example.org");
}

#[test]
fn an_overlay_delta_merges_mappings_key_by_key_over_the_top_level_livekit() {
    let config = load(&good()).expect("accepted");
    let external = &config.variants()[&OverlayName::External].livekit();
    assert_eq!(external.public_url, "wss://livekit.example.net");
    assert_eq!(external.keys.existing_secret.name, "livekit-external-keys");
    // Keys the delta does not set come from the top level, including inside merged mappings.
    assert_eq!(
        external.keys.existing_secret.livekit_keys_key,
        "LIVEKIT_KEYS"
    );
    assert_eq!(
        external.rtc.node_ip().map(|ip| ip.to_string()).as_deref(),
        Some("203.0.113.10")
    );
    let bundled = &config.variants()[&OverlayName::Bundled].livekit();
    assert_eq!(bundled.public_url, "wss://matrix.example.org");
    assert_eq!(bundled.keys.existing_secret.name, "livekit-keys");
}

#[test]
fn an_overlay_delta_replaces_a_scalar_and_keeps_its_siblings_in_a_free_form_map() {
    let doc = set(good(), "livekit.rtc.serviceAnnotations", "{a: top, b: top}");
    let doc = set(
        doc,
        "overlays.external.livekit.rtc.serviceAnnotations.b",
        "delta",
    );
    let config = load(&doc).expect("accepted");
    let annotations = &config.variants()[&OverlayName::External]
        .livekit()
        .rtc
        .service_annotations;
    assert_eq!(annotations["a"], "top");
    assert_eq!(annotations["b"], "delta");
}

#[test]
fn the_overlay_name_decides_livekit_and_turn_in_the_resolved_variant() {
    let config = load(&good()).expect("accepted");
    let enabled = |name| {
        let livekit = &config.variants()[&name].livekit();
        (livekit.enabled, livekit.turn.enabled)
    };
    assert_eq!(enabled(OverlayName::Bundled), (Some(true), Some(false)));
    assert_eq!(enabled(OverlayName::BundledTurn), (Some(true), Some(true)));
    assert_eq!(enabled(OverlayName::External), (Some(false), Some(false)));
}

#[test]
fn writing_the_value_the_overlay_name_implies_is_accepted() {
    let doc = set(
        good(),
        "overlays.bundled-turn.livekit",
        "{enabled: true, turn: {enabled: true}}",
    );
    let doc = set(doc, "overlays.external.livekit.enabled", "false");
    let config = load(&doc).expect("accepted");
    let variant = |name| &config.variants()[&name];
    assert!(variant(OverlayName::BundledTurn).livekit_bundled());
    assert!(variant(OverlayName::BundledTurn).turn_enabled());
    assert!(!variant(OverlayName::External).livekit_bundled());
    assert!(!variant(OverlayName::External).turn_enabled());
}

#[test]
fn only_the_listed_overlays_are_generated() {
    let doc = set(good(), "overlays", "{bundled: {}}");
    let config = load(&doc).expect("accepted");
    assert_eq!(
        config.variants().keys().copied().collect::<Vec<_>>(),
        vec![OverlayName::Bundled]
    );
}

#[test]
fn the_pins_are_read_as_tag_and_digest() {
    let config = load(&good()).expect("accepted");
    let pin = &config.raw().images.get(bundle_gen::ImageName::HOMESERVER);
    assert_eq!(pin.image_name(None), "ghcr.io/matrix-construct/tuwunel");
    assert_eq!(pin.tag.as_ref().map(|t| t.as_str()), Some("v1.9.3"));
    assert_eq!(
        pin.digest.as_ref().map(|d| d.hex()),
        Some("678b7f5350e06a41614444497c587da9dddf66767e4068a27480402f3c1367d0")
    );
}

// ---- parse errors: path, suggestion --------------------------------------------------------------

#[test]
fn an_unknown_key_names_its_path_and_the_nearest_known_name() {
    let text = GOOD.replace("  serverName:", "  serverNme:");
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:4:3: unknown key `homeserver.serverNme`; did you mean `serverName`?
    ");
}

#[test]
fn an_unknown_key_far_from_every_name_lists_the_allowed_names() {
    let text = GOOD.replace(
        "namespace: matrix\n",
        "namespace: matrix\ningress: {tls: {bogus: 1}}\n",
    );
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:3:17: unknown key `ingress.tls.bogus`; allowed here: `enabled`, `secretName`, `clusterIssuer`
    ");
}

#[test]
fn an_unknown_key_in_an_overlay_delta_names_the_overlay_path() {
    let doc = set(
        good(),
        "overlays.external.livekit.keys.existingSecret.nmae",
        "x",
    );
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:27:11: unknown key `overlays.external.livekit.keys.existingSecret.nmae`; did you mean `name`?
    ");
}

#[test]
fn an_unknown_key_at_the_top_of_an_overlay_names_its_path() {
    let text = GOOD.replace("  external:\n", "  external:\n    livkit: {}\n");
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:16:5: unknown key `overlays.external.livkit`; did you mean `livekit`?
    ");
}

#[test]
fn an_unknown_overlay_name_suggests_the_nearest_overlay() {
    let text = GOOD.replace("  bundled: {}", "  bundeld: {}");
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:13:3: unknown key `overlays.bundeld`; did you mean `bundled`?
    ");
}

#[test]
fn an_unknown_policy_kind_suggests_the_nearest_kind() {
    let text = GOOD.replace("kind: semver, range", "kind: semvr, range");
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:31:14: invalid value at `images.livekit.policy.kind`: unknown value `semvr`; did you mean `semver`?
    ");
}

#[test]
fn a_malformed_digest_is_refused_with_its_key() {
    let text = GOOD.replace(
        "sha256:822f0c03a3bdd924da92afc2e8ec59de5dda17af42d32e71e11f269c3517abf7",
        "sha256:822f0c03",
    );
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:36:5: invalid value at `images.lkJwt.digest`: `sha256:822f0c03` is not a digest: write `sha256:` followed by 64 lowercase hex digits (as printed by `skopeo inspect` or `bundle pins status`)
    ");
}

#[test]
fn a_malformed_tag_is_refused_with_its_key() {
    let text = GOOD.replace("tag: v1.9.3", "tag: v1.9.3:x");
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:23:5: invalid value at `images.homeserver.tag`: `v1.9.3:x` is not an image tag: a tag is 1 to 128 characters of letters, digits, `_`, `.` and `-`, and does not start with `.` or `-`
    ");
}

#[test]
fn a_value_of_the_wrong_type_names_its_key() {
    let text = GOOD.replace(
        "{nodeIp: 203.0.113.10}",
        "{nodeIp: 203.0.113.10, udpPort: 70000}",
    );
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:10:31: invalid value at `livekit.rtc.udpPort`: expected a number from 1 to 65535, found 70000
    ");
}

#[test]
fn a_wrong_type_in_an_overlay_delta_names_the_overlay_path() {
    let doc = set(good(), "overlays.external.livekit.rtc.udpPort", "many");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r#"
    bundle.yaml:28:9: invalid value at `overlays.external.livekit.rtc.udpPort`: expected a number from 1 to 65535, found the string "many"
    "#);
}

#[test]
fn a_missing_required_key_is_named() {
    let doc = remove(good(), "namespace");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:1:1: missing key `namespace`: it has no default, set it
    ");
}

#[test]
fn text_that_is_not_a_mapping_is_a_syntax_error() {
    insta::assert_snapshot!(parse_error("- a\n- b\n"), @r"
    bundle.yaml:1:1: not a valid config: expected a mapping, found a list
    ");
}

#[test]
fn broken_yaml_is_a_syntax_error_with_its_line() {
    insta::assert_snapshot!(parse_error("namespace: matrix\n  homeserver: [\n"), @r"
    bundle.yaml:2:13: not a valid config: mapping values are not allowed in this context
    ");
}

#[test]
fn a_duplicate_key_is_reported_at_its_second_occurrence() {
    insta::assert_snapshot!(parse_error("namespace: a\nnamespace: b\n"), @r"
    bundle.yaml:2:1: duplicate key `namespace`: it is already set at line 1, and YAML allows a key once per mapping (one of the values would be lost). Fix: keep one of the two and delete the other
    ");
}

#[test]
fn a_duplicate_key_in_a_nested_mapping_is_reported_at_its_own_line() {
    let text = GOOD.replace(
        "  livekitServiceUrl: https://matrix.example.org\n",
        "  livekitServiceUrl: https://matrix.example.org\n  serverName: matrix.example.net\n",
    );
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:7:3: duplicate key `homeserver.serverName`: it is already set at line 4, and YAML allows a key once per mapping (one of the values would be lost). Fix: keep one of the two and delete the other
    ");
}

// ---- parse errors in the words of YAML, not of Rust ---------------------------------------------

#[test]
fn a_port_above_65535_asks_for_a_number_from_1_to_65535() {
    insta::assert_snapshot!(parse_error(&yaml(&set(good(), "livekit.turn.tlsPort", "65536"))), @r"
    bundle.yaml:18:5: invalid value at `livekit.turn.tlsPort`: expected a number from 1 to 65535, found 65536
    ");
}

#[test]
fn a_negative_port_asks_for_a_number_from_1_to_65535() {
    insta::assert_snapshot!(parse_error(&yaml(&set(good(), "homeserver.clientPort", "-1"))), @r"
    bundle.yaml:7:3: invalid value at `homeserver.clientPort`: expected a number from 1 to 65535, found -1
    ");
}

#[test]
fn a_port_out_of_range_in_an_overlay_delta_names_the_overlay_path() {
    let doc = set(
        good(),
        "overlays.bundled-turn.livekit.turn.tlsPort",
        "70000",
    );
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:23:9: invalid value at `overlays.bundled-turn.livekit.turn.tlsPort`: expected a number from 1 to 65535, found 70000
    ");
}

#[test]
fn a_scalar_where_a_mapping_belongs_asks_for_a_mapping() {
    insta::assert_snapshot!(parse_error(&yaml(&set(good(), "homeserver", "1"))), @r"
    bundle.yaml:2:1: invalid value at `homeserver`: expected a mapping, found 1
    ");
}

#[test]
fn a_list_where_a_mapping_belongs_asks_for_a_mapping() {
    insta::assert_snapshot!(parse_error(&yaml(&set(good(), "livekit.rtc", "[7880]"))), @r"
    bundle.yaml:12:3: invalid value at `livekit.rtc`: expected a mapping, found a list
    ");
}

#[test]
fn a_word_where_a_boolean_belongs_asks_for_true_or_false() {
    let doc = set(good(), "homeserver.allowRegistration", "maybe");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r#"
    bundle.yaml:7:3: invalid value at `homeserver.allowRegistration`: expected true or false, found the string "maybe"
    "#);
}

#[test]
fn a_string_where_a_list_belongs_asks_for_a_list() {
    let doc = set(good(), "images.homeserver.policy.platforms", "linux/amd64");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r#"
    bundle.yaml:35:7: invalid value at `images.homeserver.policy.platforms`: expected a list, found the string "linux/amd64"
    "#);
}

#[test]
fn a_list_where_a_whole_number_belongs_asks_for_one() {
    let doc = set(good(), "homeserver.maxRequestSize", "[1]");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:7:3: invalid value at `homeserver.maxRequestSize`: expected a whole number from 0 to 18446744073709551615, found a list
    ");
}

#[test]
fn a_list_where_a_string_belongs_asks_for_a_string() {
    let doc = set(good(), "livekit.rtc.nodeIp", "[]");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:13:5: invalid value at `livekit.rtc.nodeIp`: expected a string, found a list
    ");
}

#[test]
fn an_empty_value_where_a_port_belongs_asks_for_a_number_from_1_to_65535() {
    let doc = set(good(), "homeserver.clientPort", "~");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:7:3: invalid value at `homeserver.clientPort`: expected a number from 1 to 65535, found an empty value
    ");
}

// ---- parse errors inside an image's update policy -------------------------------------------------

#[test]
fn a_bad_policy_range_is_reported_at_the_range() {
    let doc = set(good(), "images.livekit.policy.range", "'^^1'");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:42:7: invalid value at `images.livekit.policy.range`: unexpected character '^' while parsing major version number; write a version requirement such as `^1` or `>=1.2, <2`
    ");
}

#[test]
fn a_policy_range_that_is_not_a_string_is_reported_at_the_range() {
    let doc = set(good(), "images.livekit.policy.range", "[1]");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:42:7: invalid value at `images.livekit.policy.range`: expected a version requirement such as `^1`, found a list
    ");
}

#[test]
fn an_unknown_key_in_a_policy_is_reported_at_that_key() {
    let doc = set(good(), "images.lkJwt.policy.rnage", "'^0.6'");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:51:7: unknown key `images.lkJwt.policy.rnage`; did you mean `range`?
    ");
}

#[test]
fn a_key_of_another_policy_kind_is_reported_at_that_key() {
    let doc = set(good(), "images.homeserver.policy.range", "'^1'");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:35:7: unknown key `images.homeserver.policy.range`; allowed here: `kind`, `platforms`, `minAge`
    ");
}

#[test]
fn a_policy_without_a_kind_is_reported_at_the_missing_kind() {
    let doc = set(
        good(),
        "images.homeserver.policy",
        "{platforms: [linux/amd64]}",
    );
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:33:5: missing key `images.homeserver.policy.kind`: it has no default, set it
    ");
}

#[test]
fn a_min_age_without_a_unit_is_refused_at_the_key_with_how_to_write_one() {
    let doc = set(good(), "images.livekit.policy.minAge", "'3'");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:43:7: invalid value at `images.livekit.policy.minAge`: `3` is not a duration: write a whole number above 0 without a leading zero and a unit, m (minutes), h (hours), d (days) or w (weeks), e.g. `3d`
    ");
}

#[test]
fn a_min_age_of_zero_is_refused_at_the_key() {
    let doc = set(good(), "images.homeserver.policy.minAge", "0d");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:35:7: invalid value at `images.homeserver.policy.minAge`: `0d` is not a duration: write a whole number above 0 without a leading zero and a unit, m (minutes), h (hours), d (days) or w (weeks), e.g. `3d`
    ");
}

#[test]
fn a_min_age_with_a_leading_zero_is_refused_at_the_key_as_the_schema_refuses_it() {
    let doc = set(good(), "images.homeserver.policy.minAge", "03d");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:35:7: invalid value at `images.homeserver.policy.minAge`: `03d` is not a duration: write a whole number above 0 without a leading zero and a unit, m (minutes), h (hours), d (days) or w (weeks), e.g. `3d`
    ");
}

#[test]
fn a_min_age_is_read_on_every_policy_that_moves_a_pin() {
    let mut doc = set(good(), "images.homeserver.policy.minAge", "3d");
    doc = set(doc, "images.livekit.policy.minAge", "12h");
    let config = bundle_gen::Config::from_yaml(&yaml(&doc)).unwrap();
    let images = &config.raw().images;
    let seconds = |name| {
        images
            .get(name)
            .policy
            .min_age()
            .map(bundle_gen::MinAge::as_secs)
    };
    assert_eq!(
        seconds(bundle_gen::ImageName::HOMESERVER),
        Some(3 * 24 * 3600)
    );
    assert_eq!(seconds(bundle_gen::ImageName::LIVEKIT), Some(12 * 3600));
    assert_eq!(seconds(bundle_gen::ImageName::LK_JWT), None);
}

// ---- the guards, one test each -----------------------------------------------------------------

#[test]
fn guard_server_name_missing() {
    insta::assert_snapshot!(refused(set(good(), "homeserver.serverName", "''")), @r"
    bundle.yaml: config refused:
    bundle.yaml:3:3: `homeserver.serverName` is not set: it is baked into every user and room ID and is the ingress host. Fix: set it to the server's DNS name, e.g. `matrix.example.org` (it cannot change once data exists).
    ");
}

#[test]
fn guard_server_name_not_a_dns_name() {
    insta::assert_snapshot!(refused(set(good(), "homeserver.serverName", "Matrix.example.org")), @r"
    bundle.yaml: config refused:
    bundle.yaml:3:3: `homeserver.serverName` is `Matrix.example.org`, which is not a DNS name: labels may only hold lowercase letters, digits and `-`. Fix: write a lowercase, fully qualified name such as `matrix.example.org` (no scheme, port or path).
    ");
}

#[test]
fn guard_server_name_an_ip_address() {
    insta::assert_snapshot!(refused(set(good(), "homeserver.serverName", "203.0.113.5")), @r"
    bundle.yaml: config refused:
    bundle.yaml:3:3: `homeserver.serverName` is `203.0.113.5`, which is not a DNS name: it is an IP address. Fix: write a lowercase, fully qualified name such as `matrix.example.org` (no scheme, port or path).
    ");
}

#[test]
fn guard_turn_domain_not_a_dns_name() {
    let doc = set(good(), "livekit.turn.domain", "turn_server.example.org");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:15:5: `livekit.turn.domain` is `turn_server.example.org`, which is not a DNS name: labels may only hold lowercase letters, digits and `-`. Fix: write a lowercase, fully qualified name such as `matrix.example.org` (no scheme, port or path).
    ");
}

#[test]
fn guard_registration_without_token_or_secret() {
    insta::assert_snapshot!(refused(remove(good(), "homeserver.registrationTokenExistingSecret")), @r"
    bundle.yaml: config refused:
    bundle.yaml:2:1: `homeserver.allowRegistration` is true but no registration token is configured: anyone could create accounts on an open, abusable homeserver. Fix: name the Secret holding the token in `homeserver.registrationTokenExistingSecret.name`, or set `homeserver.allowRegistration: false`.
    ");
}

#[test]
fn guard_inline_registration_token_without_allow_inline_secrets() {
    insta::assert_snapshot!(refused(set(good(), "homeserver.registrationToken", "s3cret-token")), @r"
    bundle.yaml: config refused:
    bundle.yaml:7:3: `homeserver.registrationToken` holds a secret value, which would be written into the generated tree and committed. Fix: put it in a Secret and name that Secret instead (for example `livekit.keys.existingSecret.name` or `homeserver.registrationTokenExistingSecret.name`); only for a throwaway cluster, set `allowInlineSecrets: true`.
    ");
}

#[test]
fn guard_inline_livekit_api_key_without_allow_inline_secrets() {
    insta::assert_snapshot!(refused(set(good(), "livekit.keys.apiKey", "devkey")), @r"
    bundle.yaml: config refused:
    bundle.yaml:12:5: `livekit.keys.apiKey` holds a secret value, which would be written into the generated tree and committed. Fix: put it in a Secret and name that Secret instead (for example `livekit.keys.existingSecret.name` or `homeserver.registrationTokenExistingSecret.name`); only for a throwaway cluster, set `allowInlineSecrets: true`.
    ");
}

#[test]
fn guard_inline_livekit_api_secret_in_an_overlay_without_allow_inline_secrets() {
    insta::assert_snapshot!(refused(set(good(), "overlays.external.livekit.keys.apiSecret", "x")), @r"
    bundle.yaml: config refused:
    bundle.yaml:27:9: `overlays.external.livekit.keys.apiSecret` holds a secret value, which would be written into the generated tree and committed. Fix: put it in a Secret and name that Secret instead (for example `livekit.keys.existingSecret.name` or `homeserver.registrationTokenExistingSecret.name`); only for a throwaway cluster, set `allowInlineSecrets: true`.
    ");
}

#[test]
fn guard_lk_jwt_without_service_url() {
    insta::assert_snapshot!(refused(remove(good(), "homeserver.livekitServiceUrl")), @r"
    bundle.yaml: config refused:
    bundle.yaml:2:1: `homeserver.livekitServiceUrl` is not set, but lk-jwt-service is enabled: Element Call finds lk-jwt through this URL in the homeserver's well-known, and calls fail without a hint when it is missing. Fix: set it to `https://<homeserver.serverName>` (no `/sfu`), or set `lkJwt.enabled: false`.
    ");
}

#[test]
fn guard_service_url_ending_in_sfu() {
    let doc = set(
        good(),
        "homeserver.livekitServiceUrl",
        "https://matrix.example.org/sfu",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:6:3: `homeserver.livekitServiceUrl` is `https://matrix.example.org/sfu`, which ends in `/sfu`: clients append `/sfu/get` themselves, so they would call `/sfu/sfu/get` and get 404. Fix: remove the trailing `/sfu`.
    ");
}

#[test]
fn guard_service_url_on_another_host() {
    let doc = set(
        good(),
        "homeserver.livekitServiceUrl",
        "https://rtc.example.org",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:6:3: `homeserver.livekitServiceUrl` is `https://rtc.example.org`, but the generated ingress serves only `matrix.example.org`, so clients would reach nothing there. Fix: set it to `https://matrix.example.org`.
    ");
}

#[test]
fn guard_bundled_livekit_without_credentials() {
    insta::assert_snapshot!(refused(remove(good(), "livekit.keys")), @r"
    bundle.yaml: config refused:
    bundle.yaml:7:1: `livekit.keys.existingSecret.name` is not set and no inline API key and secret are given: the bundled LiveKit would have no signing key and lk-jwt would reference a missing Secret. Fix: create a Secret whose `LIVEKIT_KEYS` entry (the key `livekit.keys.existingSecret.livekitKeysKey` names) holds the one line `<key>: <secret>`, and set `livekit.keys.existingSecret.name` to its name.
    ");
}

#[test]
fn guard_bundled_livekit_with_only_an_inline_key() {
    let doc = set(
        set(
            remove(good(), "livekit.keys"),
            "livekit.keys.apiKey",
            "devkey",
        ),
        "allowInlineSecrets",
        "true",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:15:3: `livekit.keys.existingSecret.name` is not set and no inline API key and secret are given: the bundled LiveKit would have no signing key and lk-jwt would reference a missing Secret. Fix: create a Secret whose `LIVEKIT_KEYS` entry (the key `livekit.keys.existingSecret.livekitKeysKey` names) holds the one line `<key>: <secret>`, and set `livekit.keys.existingSecret.name` to its name.
    ");
}

#[test]
fn guard_inline_api_secret_shorter_than_32_characters() {
    let doc = set(
        set(
            set(
                good(),
                "livekit.keys",
                "{apiKey: devkey, apiSecret: too-short-secret}",
            ),
            "allowInlineSecrets",
            "true",
        ),
        "homeserver.registrationToken",
        "t",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:12:5: `livekit.keys.apiSecret` is 16 characters long; LiveKit needs at least 32 and would run with a weak key. Fix: generate one with `openssl rand -hex 32`, or use `livekit.keys.existingSecret.name`.
    ");
}

#[test]
fn guard_turn_without_domain() {
    insta::assert_snapshot!(refused(remove(good(), "livekit.turn.domain")), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:3: `livekit.turn.domain` is not set, but overlay `bundled-turn` enables TURN: it is the name clients dial and the certificate name they check, so the relay would be unreachable. Fix: set it to a DNS name that resolves to the `livekit-rtc` LoadBalancer IP (not serverName).
    ");
}

#[test]
fn guard_turn_without_tls_secret() {
    insta::assert_snapshot!(refused(remove(good(), "livekit.turn.tls")), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:3: `livekit.turn.tls.existingSecret` is not set, but overlay `bundled-turn` enables TURN: LiveKit terminates TURN's TLS itself, and without a certificate clients behind strict NATs fail silently. Fix: set it to the name of a `kubernetes.io/tls` Secret for `livekit.turn.domain`.
    ");
}

#[test]
fn guard_turn_domain_equal_to_server_name() {
    insta::assert_snapshot!(refused(set(good(), "livekit.turn.domain", "matrix.example.org")), @r"
    bundle.yaml: config refused:
    bundle.yaml:15:5: `livekit.turn.domain` is `matrix.example.org`, the same as `homeserver.serverName`: clients dial `turns:matrix.example.org:443`, which would land on the HTTP ingress instead of LiveKit. Fix: use a separate name, e.g. `turn.matrix.example.org`, resolving to the `livekit-rtc` LoadBalancer IP.
    ");
}

#[test]
fn guard_turn_tls_port_at_or_below_1024() {
    insta::assert_snapshot!(refused(set(good(), "livekit.turn.tlsPort", "443")), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:5: `livekit.turn.tlsPort` is 443: ports up to 1024 need root or NET_BIND_SERVICE, and the pod runs unprivileged. The LoadBalancer already maps 443 to this port. Fix: use a port above 1024, e.g. 5349.
    ");
}

#[test]
fn guard_lk_jwt_without_public_url() {
    insta::assert_snapshot!(refused(remove(good(), "livekit.publicUrl")), @r"
    bundle.yaml: config refused:
    bundle.yaml:7:1: `livekit.publicUrl` is not set, but lk-jwt-service is enabled: it is the `wss://` SFU URL lk-jwt returns to clients, and calls fail silently without it. Fix: set it, e.g. `wss://<homeserver.serverName>` for the bundled LiveKit.
    ");
}

#[test]
fn guard_public_url_not_wss() {
    let doc = set(
        good(),
        "overlays.external.livekit.publicUrl",
        "ws://livekit.example.net",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:23:7: `overlays.external.livekit.publicUrl` is `ws://livekit.example.net`, which is not a `wss://` URL: browsers on an https page refuse plain `ws://`, and lk-jwt needs the public address. Fix: write `wss://<host>`.
    ");
}

#[test]
fn guard_public_url_https_instead_of_wss() {
    let doc = set(good(), "livekit.publicUrl", "https://matrix.example.org");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:8:3: `livekit.publicUrl` is `https://matrix.example.org`, which is not a `wss://` URL: browsers on an https page refuse plain `ws://`, and lk-jwt needs the public address. Fix: write `wss://<host>`.
    ");
}

#[test]
fn guard_bundled_public_url_on_another_host() {
    let doc = set(good(), "livekit.publicUrl", "wss://livekit.example.org");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:8:3: `livekit.publicUrl` is `wss://livekit.example.org`, but the generated ingress serves only `matrix.example.org`, so clients would reach nothing there. Fix: set it to `wss://matrix.example.org`.
    ");
}

#[test]
fn guard_external_livekit_without_keys_secret() {
    let doc = set(
        remove(good(), "livekit.keys"),
        "overlays",
        "{external: {livekit: {publicUrl: 'wss://livekit.example.net'}}}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:17:5: `overlays.external.livekit.keys.existingSecret.name` is not set, but overlay `external` uses an operator-managed LiveKit: lk-jwt needs that SFU's API key and secret, and would reference a missing Secret. Fix: create a Secret whose `LIVEKIT_KEYS` entry holds the external SFU's key as the one line `<key>: <secret>`, and set `overlays.external.livekit.keys.existingSecret.name` to its name.
    ");
}

#[test]
fn guard_bundled_livekit_without_node_ip() {
    insta::assert_snapshot!(refused(remove(good(), "livekit.rtc")), @r"
    bundle.yaml: config refused:
    bundle.yaml:7:1: `livekit.rtc.nodeIp` is not set: LiveKit would advertise its pod IP, which clients cannot reach, so calls connect but carry no media. Fix: set it to the public IP of the `livekit-rtc` LoadBalancer, or set `livekit.rtc.useExternalIp: true` to discover it with STUN.
    ");
}

#[test]
fn a_node_ip_that_is_not_an_ip_address_is_refused_with_its_key() {
    let doc = set(good(), "livekit.rtc.nodeIp", "lb.example.org");
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:13:5: invalid value at `livekit.rtc.nodeIp`: `lb.example.org` is not an IP address: LiveKit advertises it verbatim as its ICE candidate. Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`, or one of each as `<IPv4>,<IPv6>`, e.g. `203.0.113.10,2001:db8::10`
    ");
}

#[test]
fn guard_image_with_neither_tag_nor_digest() {
    let doc = remove(
        remove(good(), "images.livekit.tag"),
        "images.livekit.digest",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:35:3: `images.livekit` has neither `tag` nor `digest`: the image would float to whatever the registry serves. Fix: pin it as `tag` plus `digest` (run `bundle pins refresh`).
    ");
}

#[test]
fn guard_image_with_tag_latest() {
    insta::assert_snapshot!(refused(set(good(), "images.lkJwt.tag", "latest")), @r"
    bundle.yaml: config refused:
    bundle.yaml:46:5: `images.lkJwt.tag` is `latest`, a tag that moves: two pulls can run different code and an update never shows up in git. Fix: pin a release tag and its digest (run `bundle pins refresh`).
    ");
}

#[test]
fn guard_livekit_enabled_false_for_a_bundled_overlay() {
    insta::assert_snapshot!(refused(set(good(), "overlays.bundled.livekit.enabled", "false")), @r"
    bundle.yaml: config refused:
    bundle.yaml:21:7: `overlays.bundled.livekit.enabled` is false, but overlay `bundled` deploys LiveKit in the cluster: the overlay's name decides whether LiveKit is bundled. Fix: remove `overlays.bundled.livekit.enabled`; for an operator-managed LiveKit, list overlay `external` instead.
    ");
}

#[test]
fn guard_livekit_enabled_true_for_the_external_overlay() {
    insta::assert_snapshot!(refused(set(good(), "overlays.external.livekit.enabled", "true")), @r"
    bundle.yaml: config refused:
    bundle.yaml:27:7: `overlays.external.livekit.enabled` is true, but overlay `external` uses an operator-managed LiveKit: the overlay's name decides whether LiveKit is bundled. Fix: remove `overlays.external.livekit.enabled`; to deploy LiveKit in the cluster, list overlay `bundled` or `bundled-turn`.
    ");
}

#[test]
fn guard_turn_enabled_for_the_bundled_overlay() {
    insta::assert_snapshot!(refused(set(good(), "overlays.bundled.livekit.turn.enabled", "true")), @r"
    bundle.yaml: config refused:
    bundle.yaml:22:9: `overlays.bundled.livekit.turn.enabled` is true, but overlay `bundled` runs LiveKit without TURN: the overlay's name decides whether TURN is on. Fix: remove `overlays.bundled.livekit.turn.enabled`; for TURN over TLS, list overlay `bundled-turn`.
    ");
}

#[test]
fn guard_turn_disabled_for_the_bundled_turn_overlay() {
    let doc = set(
        good(),
        "overlays.bundled-turn.livekit.turn.enabled",
        "false",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:23:9: `overlays.bundled-turn.livekit.turn.enabled` is false, but overlay `bundled-turn` runs LiveKit with TURN over TLS: the overlay's name decides whether TURN is on. Fix: remove `overlays.bundled-turn.livekit.turn.enabled`; without TURN, list overlay `bundled`.
    ");
}

#[test]
fn guard_bundled_overlays_with_different_livekit_settings() {
    let doc = set(good(), "overlays.bundled-turn.livekit.rtc.udpPort", "7883");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:12:3: `livekit.rtc.udpPort` is 7882 for overlay `bundled` but 7883 for `bundled-turn`; both use the one `overlays/components/livekit`, so only `livekit.turn` may differ. Fix: set it once under the top-level `livekit:` (or identically in both overlays).
    ");
}

#[test]
fn guard_no_overlays() {
    insta::assert_snapshot!(refused(set(good(), "overlays", "{}")), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:1: `overlays` is empty, so there is nothing to generate. Fix: list at least one of `bundled`, `bundled-turn` and `external`, or remove `overlays` to generate all three.
    ");
}

#[test]
fn guard_namespace_empty() {
    insta::assert_snapshot!(refused(set(good(), "namespace", "''")), @r"
    bundle.yaml: config refused:
    bundle.yaml:1:1: `namespace` is empty: every object is deployed to this namespace. Fix: set it to the namespace to deploy to, e.g. `matrix`.
    ");
}

#[test]
fn guard_namespace_with_uppercase_letters_and_an_underscore() {
    insta::assert_snapshot!(refused(set(good(), "namespace", "Chat_NS")), @r"
    bundle.yaml: config refused:
    bundle.yaml:1:1: `namespace` is `Chat_NS`, which Kubernetes refuses as a namespace name: it may only hold lowercase letters, digits and `-`. Fix: write a DNS-1123 label, at most 63 lowercase letters, digits and `-` that starts and ends with a letter or digit, e.g. `matrix`.
    ");
}

#[test]
fn guard_namespace_ending_in_a_hyphen() {
    insta::assert_snapshot!(refused(set(good(), "namespace", "matrix-")), @r"
    bundle.yaml: config refused:
    bundle.yaml:1:1: `namespace` is `matrix-`, which Kubernetes refuses as a namespace name: it cannot start or end with `-`. Fix: write a DNS-1123 label, at most 63 lowercase letters, digits and `-` that starts and ends with a letter or digit, e.g. `matrix`.
    ");
}

#[test]
fn guard_namespace_longer_than_63_characters() {
    insta::assert_snapshot!(refused(set(good(), "namespace", &"m".repeat(64))), @r"
    bundle.yaml: config refused:
    bundle.yaml:1:1: `namespace` is `mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm`, which Kubernetes refuses as a namespace name: it is longer than 63 characters. Fix: write a DNS-1123 label, at most 63 lowercase letters, digits and `-` that starts and ends with a letter or digit, e.g. `matrix`.
    ");
}

#[test]
fn a_namespace_of_63_characters_starting_with_a_digit_is_accepted() {
    let namespace = format!("1{}", "m".repeat(62));
    let config = load(&set(good(), "namespace", &namespace)).expect("accepted");
    assert_eq!(config.raw().namespace, namespace);
}

#[test]
fn guard_homeserver_port_zero() {
    insta::assert_snapshot!(refused(set(good(), "homeserver.clientPort", "0")), @r"
    bundle.yaml: config refused:
    bundle.yaml:7:3: `homeserver.clientPort` is 0, which is not a port: Kubernetes refuses port 0 for a container or a Service. Fix: write a number from 1 to 65535 (above 1024, since the pods run unprivileged), or remove `homeserver.clientPort` to use the default.
    ");
}

#[test]
fn guard_livekit_port_zero() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.signalingPort", "0")), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:5: `livekit.rtc.signalingPort` is 0, which is not a port: Kubernetes refuses port 0 for a container or a Service. Fix: write a number from 1 to 65535 (above 1024, since the pods run unprivileged), or remove `livekit.rtc.signalingPort` to use the default.
    ");
}

#[test]
fn guard_turn_tls_port_zero() {
    insta::assert_snapshot!(refused(set(good(), "livekit.turn.tlsPort", "0")), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:5: `livekit.turn.tlsPort` is 0, which is not a port: Kubernetes refuses port 0 for a container or a Service. Fix: write a number from 1 to 65535 (above 1024, since the pods run unprivileged), or remove `livekit.turn.tlsPort` to use the default.
    ");
}

#[test]
fn guard_port_zero_in_an_overlay_delta() {
    let doc = set(good(), "overlays.bundled.livekit.rtc.udpPort", "0");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused (2 problems):
    bundle.yaml:22:9: `overlays.bundled.livekit.rtc.udpPort` is 0, which is not a port: Kubernetes refuses port 0 for a container or a Service. Fix: write a number from 1 to 65535 (above 1024, since the pods run unprivileged), or remove `overlays.bundled.livekit.rtc.udpPort` to use the default.
    bundle.yaml:12:3: `livekit.rtc.udpPort` is 0 for overlay `bundled` but 7882 for `bundled-turn`; both use the one `overlays/components/livekit`, so only `livekit.turn` may differ. Fix: set it once under the top-level `livekit:` (or identically in both overlays).
    ");
}

#[test]
fn a_port_the_overlay_does_not_deploy_is_not_checked_for_zero() {
    // `external` runs no LiveKit, so its delta's ports reach no container or Service.
    let doc = set(good(), "overlays.external.livekit.rtc.udpPort", "0");
    load(&doc).expect("accepted");
}

#[test]
fn ports_at_zero_are_reported_as_zero_not_as_colliding() {
    let doc = set(
        good(),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, signalingPort: 0, tcpPort: 0}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused (2 problems):
    bundle.yaml:14:5: `livekit.rtc.signalingPort` is 0, which is not a port: Kubernetes refuses port 0 for a container or a Service. Fix: write a number from 1 to 65535 (above 1024, since the pods run unprivileged), or remove `livekit.rtc.signalingPort` to use the default.
    bundle.yaml:15:5: `livekit.rtc.tcpPort` is 0, which is not a port: Kubernetes refuses port 0 for a container or a Service. Fix: write a number from 1 to 65535 (above 1024, since the pods run unprivileged), or remove `livekit.rtc.tcpPort` to use the default.
    ");
}

#[test]
fn guard_livekit_tcp_port_on_the_public_turn_port_of_the_rtc_service() {
    // 443 is also privileged; both guards name the key.
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.tcpPort", "443")), @r"
    bundle.yaml: config refused (2 problems):
    bundle.yaml:14:5: `livekit.rtc.tcpPort` is 443: ports up to 1024 need root or NET_BIND_SERVICE, and the LiveKit pod runs unprivileged with every capability dropped (and the `livekit-rtc` LoadBalancer exposes the same port number). Fix: use a port above 1024; LiveKit's defaults are 7880 (signalling), 7881 (TCP) and 7882 (UDP).
    bundle.yaml:14:5: `livekit.rtc.tcpPort` is 443, but the `livekit-rtc` Service already exposes TCP port 443 for TURN over TLS (LiveKit advertises `turns:<domain>:443`; the Service maps it to `livekit.turn.tlsPort`): a Service cannot expose one port twice, so Kubernetes would refuse it. Fix: give `livekit.rtc.tcpPort` another port.
    ");
}

// ---- how violations are reported ----------------------------------------------------------------

#[test]
fn every_violation_is_reported_at_once_in_a_numbered_refusal() {
    let doc = remove(
        remove(good(), "homeserver.registrationTokenExistingSecret"),
        "livekit.rtc",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused (2 problems):
    bundle.yaml:2:1: `homeserver.allowRegistration` is true but no registration token is configured: anyone could create accounts on an open, abusable homeserver. Fix: name the Secret holding the token in `homeserver.registrationTokenExistingSecret.name`, or set `homeserver.allowRegistration: false`.
    bundle.yaml:5:1: `livekit.rtc.nodeIp` is not set: LiveKit would advertise its pod IP, which clients cannot reach, so calls connect but carry no media. Fix: set it to the public IP of the `livekit-rtc` LoadBalancer, or set `livekit.rtc.useExternalIp: true` to discover it with STUN.
    ");
}

#[test]
fn without_a_file_name_a_refusal_lists_the_violations_with_their_lines() {
    let doc = remove(
        remove(good(), "homeserver.registrationTokenExistingSecret"),
        "livekit.rtc",
    );
    insta::assert_snapshot!(load(&doc).expect_err("refused").to_string(), @r"
    config refused (2 problems):
      - `homeserver.allowRegistration` is true but no registration token is configured: anyone could create accounts on an open, abusable homeserver. Fix: name the Secret holding the token in `homeserver.registrationTokenExistingSecret.name`, or set `homeserver.allowRegistration: false`. (line 2)
      - `livekit.rtc.nodeIp` is not set: LiveKit would advertise its pod IP, which clients cannot reach, so calls connect but carry no media. Fix: set it to the public IP of the `livekit-rtc` LoadBalancer, or set `livekit.rtc.useExternalIp: true` to discover it with STUN. (line 5)
    ");
}

#[test]
fn without_a_file_name_a_parse_error_ends_with_its_line() {
    let text = GOOD.replace("  serverName:", "  serverNme:");
    insta::assert_snapshot!(Config::from_yaml(&text).expect_err("refused").to_string(), @r"
    unknown key `homeserver.serverNme`; did you mean `serverName`? (line 4)
    ");
}

#[test]
fn a_parse_error_carries_the_line_and_column_of_its_key() {
    let text = GOOD.replace("  serverName:", "  serverNme:");
    let location = Config::from_yaml(&text).expect_err("refused").location();
    assert_eq!(location.map(|at| (at.line, at.column)), Some((4, 3)));
}

#[test]
fn each_violation_carries_the_line_and_column_of_its_key() {
    let text = GOOD.replace("{nodeIp: 203.0.113.10}", "{nodeIp: 224.0.0.1}");
    let Err(ConfigError::Refused { violations }) = Config::from_yaml(&text) else {
        panic!("expected a refusal");
    };
    let locations: Vec<_> = violations
        .iter()
        .map(|violation| violation.location.map(|at| (at.line, at.column)))
        .collect();
    // `  rtc: {nodeIp: 224.0.0.1}`, line 10 (GOOD starts with an empty line).
    assert_eq!(locations, [Some((10, 9))]);
}

#[test]
fn a_violation_of_a_key_without_a_written_parent_is_shown_with_the_file_only() {
    let doc = set(remove(good(), "livekit"), "lkJwt.enabled", "false");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused (4 problems):
    bundle.yaml: `livekit.keys.existingSecret.name` is not set and no inline API key and secret are given: the bundled LiveKit would have no signing key and lk-jwt would reference a missing Secret. Fix: create a Secret whose `LIVEKIT_KEYS` entry (the key `livekit.keys.existingSecret.livekitKeysKey` names) holds the one line `<key>: <secret>`, and set `livekit.keys.existingSecret.name` to its name.
    bundle.yaml: `livekit.rtc.nodeIp` is not set: LiveKit would advertise its pod IP, which clients cannot reach, so calls connect but carry no media. Fix: set it to the public IP of the `livekit-rtc` LoadBalancer, or set `livekit.rtc.useExternalIp: true` to discover it with STUN.
    bundle.yaml: `livekit.turn.domain` is not set, but overlay `bundled-turn` enables TURN: it is the name clients dial and the certificate name they check, so the relay would be unreachable. Fix: set it to a DNS name that resolves to the `livekit-rtc` LoadBalancer IP (not serverName).
    bundle.yaml: `livekit.turn.tls.existingSecret` is not set, but overlay `bundled-turn` enables TURN: LiveKit terminates TURN's TLS itself, and without a certificate clients behind strict NATs fail silently. Fix: set it to the name of a `kubernetes.io/tls` Secret for `livekit.turn.domain`.
    ");
}

#[test]
fn a_violation_of_a_key_not_written_is_located_at_its_nearest_written_parent() {
    insta::assert_snapshot!(refused(remove(good(), "livekit.turn.domain")), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:3: `livekit.turn.domain` is not set, but overlay `bundled-turn` enables TURN: it is the name clients dial and the certificate name they check, so the relay would be unreachable. Fix: set it to a DNS name that resolves to the `livekit-rtc` LoadBalancer IP (not serverName).
    ");
}

#[test]
fn a_setting_shared_by_both_bundled_overlays_is_reported_once() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "224.0.0.1")), @r"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `224.0.0.1`, a multicast address: LiveKit advertises it as its ICE candidate, and media can only be sent to one host's (unicast) address. Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`.
    ");
}

#[test]
fn inline_secrets_are_accepted_when_explicitly_allowed() {
    let doc = set(
        remove(good(), "livekit.keys"),
        "livekit.keys",
        "{apiKey: devkey, apiSecret: 0123456789abcdef0123456789abcdef}",
    );
    let doc = set(doc, "homeserver.registrationToken", "dev-token");
    let doc = set(doc, "allowInlineSecrets", "true");
    let config = load(&doc).expect("accepted");
    assert_eq!(
        config.variants()[&OverlayName::Bundled]
            .livekit()
            .keys
            .api_key,
        "devkey"
    );
}

#[test]
fn the_api_key_name_is_the_webhook_key_of_the_bundled_livekit() {
    let config = load(&set(good(), "livekit.keys.apiKeyName", "lk-jwt")).expect("accepted");
    let keys = &config.variants()[&OverlayName::Bundled].livekit().keys;
    assert_eq!(keys.api_key_name.as_deref(), Some("lk-jwt"));
    assert_eq!(keys.webhook_key_name(), Some("lk-jwt"));
}

#[test]
fn with_an_existing_secret_and_no_api_key_name_there_is_no_webhook_key() {
    let config = load(&good()).expect("accepted");
    let keys = &config.variants()[&OverlayName::Bundled].livekit().keys;
    assert_eq!(keys.webhook_key_name(), None);
}

#[test]
fn inline_keys_make_the_inline_api_key_the_webhook_key() {
    let doc = set(
        remove(good(), "livekit.keys"),
        "livekit.keys",
        "{apiKey: devkey, apiSecret: 0123456789abcdef0123456789abcdef}",
    );
    let doc = set(doc, "homeserver.registrationToken", "dev-token");
    let doc = set(doc, "allowInlineSecrets", "true");
    let config = load(&doc).expect("accepted");
    let keys = &config.variants()[&OverlayName::Bundled].livekit().keys;
    assert_eq!(keys.webhook_key_name(), Some("devkey"));
}

#[test]
fn guard_api_key_name_with_a_colon() {
    insta::assert_snapshot!(refused(set(good(), "livekit.keys.apiKeyName", "'lk-jwt: secret'")), @r"
    bundle.yaml: config refused:
    bundle.yaml:12:5: `livekit.keys.apiKeyName` is `lk-jwt: secret`, which cannot be an API key name: LiveKit reads its keys as `<name>: <secret>` and lk-jwt splits them at `:`, so the name must be non-empty without spaces or `:`. Fix: write the key name exactly as it is in the keys Secret, e.g. `lk-jwt`, or remove the key.
    ");
}

#[test]
fn guard_api_key_name_empty() {
    insta::assert_snapshot!(refused(set(good(), "livekit.keys.apiKeyName", "''")), @r"
    bundle.yaml: config refused:
    bundle.yaml:12:5: `livekit.keys.apiKeyName` is ``, which cannot be an API key name: LiveKit reads its keys as `<name>: <secret>` and lk-jwt splits them at `:`, so the name must be non-empty without spaces or `:`. Fix: write the key name exactly as it is in the keys Secret, e.g. `lk-jwt`, or remove the key.
    ");
}

#[test]
fn guard_api_key_name_other_than_the_inline_api_key() {
    let doc = set(
        remove(good(), "livekit.keys"),
        "livekit.keys",
        "{apiKey: devkey, apiSecret: 0123456789abcdef0123456789abcdef, apiKeyName: lk-jwt}",
    );
    let doc = set(doc, "homeserver.registrationToken", "dev-token");
    let doc = set(doc, "allowInlineSecrets", "true");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:19:5: `livekit.keys.apiKeyName` differs from the inline `livekit.keys.apiKey`: LiveKit signs its webhooks with the key of that name and refuses to start when it has no such key. Fix: remove `livekit.keys.apiKeyName` (with inline keys the webhook uses `apiKey`), or make the two equal.
    ");
}

#[test]
fn guard_host_alias_ip_not_an_ip_address() {
    let doc = set(
        good(),
        "lkJwt.hostAliases",
        "[{ip: ingress-nginx-controller.ingress-nginx.svc, hostnames: [matrix.example.org]}]",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:53:5: `lkJwt.hostAliases[0].ip` is `ingress-nginx-controller.ingress-nginx.svc`, which is not an IP address: Kubernetes writes it into the pod's `/etc/hosts` and refuses anything else. Fix: write the ClusterIP of the ingress controller's or gateway's Service (`kubectl get svc -n <controller namespace>`), e.g. `10.96.0.80`.
    ");
}

#[test]
fn guard_host_alias_without_hostnames() {
    let doc = set(
        good(),
        "lkJwt.hostAliases",
        "[{ip: 10.96.0.80, hostnames: []}]",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:54:5: `lkJwt.hostAliases[0].hostnames` is empty: a host alias with no names resolves nothing, and Kubernetes refuses it. Fix: list the names lk-jwt must reach through `ip`, e.g. `[<homeserver.serverName>]`, or remove the entry.
    ");
}

#[test]
fn guard_host_alias_hostname_not_a_dns_name() {
    let doc = set(
        good(),
        "lkJwt.hostAliases",
        "[{ip: 10.96.0.80, hostnames: [matrix.example.org, 'https://matrix.example.org']}]",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:56:7: `lkJwt.hostAliases[0].hostnames[1]` is `https://matrix.example.org`, which is not a DNS name: labels may only hold lowercase letters, digits and `-`. Fix: write a lowercase, fully qualified name such as `matrix.example.org` (no scheme, port or path).
    ");
}

#[test]
fn host_aliases_of_ipv4_and_ipv6_addresses_are_accepted() {
    let doc = set(
        good(),
        "lkJwt.hostAliases",
        "[{ip: 10.96.0.80, hostnames: [matrix.example.org]}, \
         {ip: 'fd00::80', hostnames: [matrix.example.org, livekit.example.net]}]",
    );
    let config = load(&doc).expect("accepted");
    assert_eq!(config.raw().lk_jwt.host_aliases.len(), 2);
}

#[test]
fn guard_removed_api_key_key_names_what_replaces_it() {
    let doc = set(
        good(),
        "livekit.keys.existingSecret.apiKeyKey",
        "LIVEKIT_API_KEY",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:12:7: `livekit.keys.existingSecret.apiKeyKey` no longer exists: lk-jwt and LiveKit both read the one `<key>: <secret>` line of the keys Secret's `livekit.keys.existingSecret.livekitKeysKey` entry (default `LIVEKIT_KEYS`), so a separate API key or secret entry is never read. Fix: remove it, and make sure the `livekitKeysKey` entry of the Secret holds `<key>: <secret>` (its separate key and secret entries can go).
    ");
}

#[test]
fn guard_removed_api_secret_key_in_an_overlay_names_what_replaces_it() {
    let doc = set(
        good(),
        "overlays.external.livekit.keys.existingSecret.apiSecretKey",
        "LIVEKIT_API_SECRET",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:27:11: `overlays.external.livekit.keys.existingSecret.apiSecretKey` no longer exists: lk-jwt and LiveKit both read the one `<key>: <secret>` line of the keys Secret's `livekit.keys.existingSecret.livekitKeysKey` entry (default `LIVEKIT_KEYS`), so a separate API key or secret entry is never read. Fix: remove it, and make sure the `livekitKeysKey` entry of the Secret holds `<key>: <secret>` (its separate key and secret entries can go).
    ");
}

#[test]
fn a_removed_key_is_refused_as_removed_not_as_unknown_whatever_its_value() {
    for value in ["''", "{a: 1}", "[1]", "~"] {
        let doc = set(good(), "livekit.keys.existingSecret.apiKeyKey", value);
        match load(&doc) {
            Err(ConfigError::Refused { violations }) => assert!(
                violations.iter().any(|located| matches!(
                    &located.violation,
                    bundle_gen::Violation::KeyRemoved { key, .. }
                        if key == "livekit.keys.existingSecret.apiKeyKey"
                )),
                "{value}: {violations:?}"
            ),
            other => panic!("{value}: expected a refusal, got {other:?}"),
        }
    }
}

#[test]
fn guard_inline_api_secret_with_a_colon() {
    let doc = set(
        remove(good(), "livekit.keys"),
        "livekit.keys",
        "{apiKey: devkey, apiSecret: '0123456789abcdef:0123456789abcdef'}",
    );
    let doc = set(doc, "homeserver.registrationToken", "dev-token");
    let doc = set(doc, "allowInlineSecrets", "true");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:5: `livekit.keys.apiSecret` contains a `:` or whitespace, but the generator writes the inline key and secret as the one line `<apiKey>: <apiSecret>` that both servers read: lk-jwt splits it at `:` and refuses to start unless that gives exactly two parts, and whitespace is trimmed by lk-jwt and read differently by LiveKit's YAML parser. Fix: use only letters, digits and punctuation other than `:`, e.g. a secret from `openssl rand -hex 32`.
    ");
}

#[test]
fn guard_inline_api_key_with_a_space() {
    let doc = set(
        remove(good(), "livekit.keys"),
        "livekit.keys",
        "{apiKey: 'dev key', apiSecret: 0123456789abcdef0123456789abcdef}",
    );
    let doc = set(doc, "homeserver.registrationToken", "dev-token");
    let doc = set(doc, "allowInlineSecrets", "true");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:17:5: `livekit.keys.apiKey` contains a `:` or whitespace, but the generator writes the inline key and secret as the one line `<apiKey>: <apiSecret>` that both servers read: lk-jwt splits it at `:` and refuses to start unless that gives exactly two parts, and whitespace is trimmed by lk-jwt and read differently by LiveKit's YAML parser. Fix: use only letters, digits and punctuation other than `:`, e.g. a secret from `openssl rand -hex 32`.
    ");
}

#[test]
fn stun_discovery_replaces_node_ip_when_chosen_explicitly() {
    let doc = set(
        remove(good(), "livekit.rtc"),
        "livekit.rtc.useExternalIp",
        "true",
    );
    let config = load(&doc).expect("accepted");
    for overlay in [OverlayName::Bundled, OverlayName::BundledTurn] {
        let rtc = &rendered_livekit_config(&config, overlay)["rtc"];
        assert_eq!(rtc["use_external_ip"], true, "{overlay:?}: {rtc}");
        assert!(rtc.get("node_ip").is_none(), "{overlay:?}: {rtc}");
    }
}

/// The LiveKit config file the bundled `overlay` deploys, as LiveKit reads it.
fn rendered_livekit_config(config: &Config, overlay: OverlayName) -> serde_json::Value {
    let objects = bundle_gen::render_objects(config, overlay).expect("renders");
    let config_map = objects
        .iter()
        .find(|object| {
            object["kind"] == "ConfigMap"
                && object["metadata"]["name"]
                    .as_str()
                    .is_some_and(|name| name.starts_with("livekit-config"))
        })
        .expect("a LiveKit ConfigMap");
    serde_norway::from_str(config_map["data"]["config.yaml"].as_str().expect("text"))
        .expect("LiveKit's config is YAML")
}

#[test]
fn without_lk_jwt_no_service_url_public_url_or_external_keys_are_required() {
    let doc = remove(good(), "homeserver.livekitServiceUrl");
    let doc = remove(doc, "livekit.publicUrl");
    let doc = remove(doc, "overlays.external.livekit.publicUrl");
    let doc = remove(doc, "overlays.external.livekit.keys");
    let doc = set(
        doc,
        "overlays.external.livekit.keys.existingSecret.name",
        "''",
    );
    let config = load(&set(doc, "lkJwt.enabled", "false")).expect("accepted");
    assert!(!config.raw().lk_jwt.enabled);
    for overlay in config.variants().keys() {
        let objects = bundle_gen::render_objects(&config, *overlay).expect("renders");
        let lk_jwt: Vec<_> = objects
            .iter()
            .filter_map(|object| object["metadata"]["name"].as_str())
            .filter(|name| name.starts_with("lk-jwt"))
            .collect();
        assert_eq!(lk_jwt, Vec::<&str>::new(), "{overlay:?}");
    }
}

#[test]
fn registration_may_be_closed_without_a_token() {
    let doc = remove(good(), "homeserver.registrationTokenExistingSecret");
    let config = load(&set(doc, "homeserver.allowRegistration", "false")).expect("accepted");
    let objects = bundle_gen::render_objects(&config, OverlayName::Bundled).expect("renders");
    let tuwunel = objects
        .iter()
        .find_map(|object| object["data"]["tuwunel.toml"].as_str())
        .expect("the Tuwunel config");
    let lines: Vec<&str> = tuwunel.lines().collect();
    assert!(lines.contains(&"allow_registration = false"), "{tuwunel}");
    assert!(!tuwunel.contains("registration_token"), "{tuwunel}");
}

// ---- CSP sources ---------------------------------------------------------------------------------

#[test]
fn csp_sources_name_the_homeserver_and_the_external_livekit_host() {
    let config = load(&good()).expect("accepted");
    assert_eq!(
        csp_sources(&config).to_string(),
        "connect-src https://matrix.example.org wss://matrix.example.org \
         https://livekit.example.net wss://livekit.example.net\n\
         media-src https://matrix.example.org\n\
         img-src https://matrix.example.org\n"
    );
}

#[test]
fn csp_sources_without_an_external_livekit_name_only_the_homeserver() {
    let config = load(&set(good(), "overlays", "{bundled: {}}")).expect("accepted");
    let sources = csp_sources(&config);
    assert_eq!(
        sources.connect_src,
        ["https://matrix.example.org", "wss://matrix.example.org"]
    );
    assert_eq!(sources.media_src, ["https://matrix.example.org"]);
    assert_eq!(sources.img_src, ["https://matrix.example.org"]);
}

#[test]
fn csp_sources_keep_the_port_of_an_external_livekit_url() {
    let doc = set(
        good(),
        "overlays.external.livekit.publicUrl",
        "wss://sfu.example.net:8443/rtc",
    );
    let sources = csp_sources(&load(&doc).expect("accepted"));
    assert_eq!(
        sources.connect_src[2..],
        ["https://sfu.example.net:8443", "wss://sfu.example.net:8443"]
    );
}

#[test]
fn guard_livekit_port_at_or_below_1024() {
    // 443 is also the Service's TURN port, but that is TCP: UDP 443 does not collide with it.
    // 443 is also the Service's TURN port, but that is TCP: UDP 443 does not collide with it.
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.udpPort", "443")), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:5: `livekit.rtc.udpPort` is 443: ports up to 1024 need root or NET_BIND_SERVICE, and the LiveKit pod runs unprivileged with every capability dropped (and the `livekit-rtc` LoadBalancer exposes the same port number). Fix: use a port above 1024; LiveKit's defaults are 7880 (signalling), 7881 (TCP) and 7882 (UDP).
    ");
}

// The defaults are 7880 (signalling), 7881 (TCP) and 5349 (TURN over TLS).

#[test]
fn guard_livekit_tcp_port_on_the_signalling_port() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.tcpPort", "7880")), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:5: `livekit.rtc.tcpPort` is 7880, the same TCP port as `livekit.rtc.signalingPort`: LiveKit cannot listen on one port twice and would not start. Fix: give each of `livekit.rtc.signalingPort`, `livekit.rtc.tcpPort` and `livekit.turn.tlsPort` its own port.
    ");
}

#[test]
fn guard_turn_tls_port_on_the_signalling_port() {
    insta::assert_snapshot!(refused(set(good(), "livekit.turn.tlsPort", "7880")), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:5: `livekit.turn.tlsPort` is 7880, the same TCP port as `livekit.rtc.signalingPort`: LiveKit cannot listen on one port twice and would not start. Fix: give each of `livekit.rtc.signalingPort`, `livekit.rtc.tcpPort` and `livekit.turn.tlsPort` its own port.
    ");
}

#[test]
fn guard_turn_tls_port_on_the_livekit_tcp_port() {
    insta::assert_snapshot!(refused(set(good(), "livekit.turn.tlsPort", "7881")), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:5: `livekit.turn.tlsPort` is 7881, the same TCP port as `livekit.rtc.tcpPort`: LiveKit cannot listen on one port twice and would not start. Fix: give each of `livekit.rtc.signalingPort`, `livekit.rtc.tcpPort` and `livekit.turn.tlsPort` its own port.
    ");
}

#[test]
fn the_udp_port_may_share_its_number_with_a_tcp_port() {
    let config = load(&set(good(), "livekit.rtc.udpPort", "7881")).expect("accepted");
    let rtc = &rendered_livekit_config(&config, OverlayName::Bundled)["rtc"];
    assert_eq!(
        (&rtc["udp_port"], &rtc["tcp_port"]),
        (&7881.into(), &7881.into())
    );
}

#[test]
fn an_empty_node_ip_counts_as_unset_like_in_the_chart() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "''")), @r"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is not set: LiveKit would advertise its pod IP, which clients cannot reach, so calls connect but carry no media. Fix: set it to the public IP of the `livekit-rtc` LoadBalancer, or set `livekit.rtc.useExternalIp: true` to discover it with STUN.
    ");
}

#[test]
fn a_node_ip_without_a_value_counts_as_unset_too() {
    let doc = set(good(), "livekit.rtc.nodeIp", "~");
    let message = refused(doc);
    assert!(
        message.contains("`livekit.rtc.nodeIp` is not set"),
        "{message}"
    );
}

#[test]
fn guard_allow_list_for_an_ingress_class_without_allow_list_support() {
    let doc = set(
        set(good(), "ingress.className", "traefik"),
        "ingress.whitelistSourceRange",
        "'192.0.2.0/24'",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:53:3: `ingress.whitelistSourceRange` is set, but the generator only knows how to write an allow-list for the `nginx` and `haproxy` ingress classes, and `ingress.className` is `traefik`: the list would be silently dropped and the stack open to everyone. Fix: remove `ingress.whitelistSourceRange` and put your controller's allow-list annotation under `ingress.annotations`.
    ");
}

#[test]
fn an_allow_list_is_accepted_for_the_nginx_and_haproxy_classes() {
    for class in ["nginx", "haproxy"] {
        let doc = set(
            set(good(), "ingress.className", class),
            "ingress.whitelistSourceRange",
            "'192.0.2.0/24'",
        );
        if let Err(error) = load(&doc) {
            panic!("{class}: {error}");
        }
    }
}

// ---- the advertised address and the TURN relay ports --------------------------------------------

#[test]
fn the_load_balancer_ip_is_not_pinned_and_turn_relays_on_20_ports_by_default() {
    let config = load(&good()).expect("accepted");
    let livekit = config.variants()[&OverlayName::BundledTurn].livekit();
    assert_eq!(livekit.rtc.pin_load_balancer_ip, PinLoadBalancerIp::None);
    let range = livekit.turn.relay_port_range;
    assert_eq!((range.start, range.end, range.len()), (33000, 33019, 20));
    assert!(livekit.turn.allow_restricted_peer_cidrs.is_empty());
}

#[test]
fn the_pins_are_written_in_kebab_case() {
    for (written, pin) in [
        ("none", PinLoadBalancerIp::None),
        ("spec", PinLoadBalancerIp::Spec),
        ("metallb", PinLoadBalancerIp::Metallb),
        ("cilium", PinLoadBalancerIp::Cilium),
        ("kube-vip", PinLoadBalancerIp::KubeVip),
    ] {
        let config = load(&set(good(), "livekit.rtc.pinLoadBalancerIp", written))
            .unwrap_or_else(|error| panic!("{written}: {error}"));
        let livekit = config.variants()[&OverlayName::Bundled].livekit();
        assert_eq!(livekit.rtc.pin_load_balancer_ip, pin, "{written}");
    }
}

#[test]
fn an_unknown_pin_suggests_the_nearest_name() {
    let text = GOOD.replace(
        "rtc: {nodeIp: 203.0.113.10}",
        "rtc: {nodeIp: 203.0.113.10, pinLoadBalancerIp: metalb}",
    );
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:10:31: invalid value at `livekit.rtc.pinLoadBalancerIp`: unknown value `metalb`; did you mean `metallb`?
    ");
}

#[test]
fn guard_node_ip_unspecified() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "0.0.0.0")), @r"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `0.0.0.0`, the unspecified address: LiveKit advertises it as its ICE candidate, and media can only be sent to one host's (unicast) address. Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`.
    ");
}

#[test]
fn guard_node_ip_multicast() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "'ff02::1'")), @r#"
    bundle.yaml: config refused (2 problems):
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `ff02::1`, a multicast address: LiveKit advertises it as its ICE candidate, and media can only be sent to one host's (unicast) address. Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`.
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `ff02::1`, with no IPv4 address, but overlay `bundled-turn` enables TURN: LiveKit's TURN listens on IPv4 and relays from `node_ip`'s IPv4 address, and refuses to start without one ("no matching node IP for relay"). Fix: add the LoadBalancer's IPv4 address as `<IPv4>,<IPv6>`, or list overlay `bundled` instead.
    "#);
}

#[test]
fn guard_node_ip_reserved() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "240.0.0.1")), @r"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `240.0.0.1`, a reserved address (240.0.0.0/4): LiveKit advertises it as its ICE candidate, and media can only be sent to one host's (unicast) address. Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`.
    ");
}

#[test]
fn guard_node_ip_this_network() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "0.1.2.3")), @r#"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `0.1.2.3`, an address of "this network" (0.0.0.0/8): LiveKit advertises it as its ICE candidate, and media can only be sent to one host's (unicast) address. Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`.
    "#);
}

#[test]
fn guard_node_ip_broadcast() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "255.255.255.255")), @r"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `255.255.255.255`, the broadcast address: LiveKit advertises it as its ICE candidate, and media can only be sent to one host's (unicast) address. Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`.
    ");
}

#[test]
fn guard_private_node_ip_with_turn() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "10.0.0.5")), @r"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `10.0.0.5`, a private (RFC 1918) address, but overlay `bundled-turn` enables TURN: the relay sends media to that address, LiveKit's TURN refuses private, loopback and link-local peers unless its `turn.allow_restricted_peer_cidrs` lists them, and clients on the internet cannot reach such an address anyway. Fix: set `livekit.rtc.nodeIp` to the LoadBalancer's public IP; for a site reachable only on its own network, list a CIDR holding it in `livekit.turn.allowRestrictedPeerCidrs`, e.g. `[10.0.0.5/32]`.
    ");
}

#[test]
fn guard_carrier_grade_nat_node_ip_with_turn() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "100.64.1.2")), @r"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `100.64.1.2`, a carrier-grade NAT (RFC 6598) address, but overlay `bundled-turn` enables TURN: the relay sends media to that address, LiveKit's TURN refuses private, loopback and link-local peers unless its `turn.allow_restricted_peer_cidrs` lists them, and clients on the internet cannot reach such an address anyway. Fix: set `livekit.rtc.nodeIp` to the LoadBalancer's public IP; for a site reachable only on its own network, list a CIDR holding it in `livekit.turn.allowRestrictedPeerCidrs`, e.g. `[100.64.1.2/32]`.
    ");
}

#[test]
fn guard_unique_local_node_ip_with_turn() {
    insta::assert_snapshot!(refused(set(good(), "livekit.rtc.nodeIp", "'fd12:3456::7'")), @r#"
    bundle.yaml: config refused (2 problems):
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `fd12:3456::7`, a unique local (RFC 4193) address, but overlay `bundled-turn` enables TURN: the relay sends media to that address, LiveKit's TURN refuses private, loopback and link-local peers unless its `turn.allow_restricted_peer_cidrs` lists them, and clients on the internet cannot reach such an address anyway. Fix: set `livekit.rtc.nodeIp` to the LoadBalancer's public IP; for a site reachable only on its own network, list a CIDR holding it in `livekit.turn.allowRestrictedPeerCidrs`, e.g. `[fd12:3456::7/128]`.
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `fd12:3456::7`, with no IPv4 address, but overlay `bundled-turn` enables TURN: LiveKit's TURN listens on IPv4 and relays from `node_ip`'s IPv4 address, and refuses to start without one ("no matching node IP for relay"). Fix: add the LoadBalancer's IPv4 address as `<IPv4>,<IPv6>`, or list overlay `bundled` instead.
    "#);
}

#[test]
fn an_ipv4_mapped_private_node_ip_counts_as_private() {
    let doc = set(good(), "livekit.rtc.nodeIp", "'::ffff:192.168.1.5'");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `192.168.1.5`, a private (RFC 1918) address, but overlay `bundled-turn` enables TURN: the relay sends media to that address, LiveKit's TURN refuses private, loopback and link-local peers unless its `turn.allow_restricted_peer_cidrs` lists them, and clients on the internet cannot reach such an address anyway. Fix: set `livekit.rtc.nodeIp` to the LoadBalancer's public IP; for a site reachable only on its own network, list a CIDR holding it in `livekit.turn.allowRestrictedPeerCidrs`, e.g. `[192.168.1.5/32]`.
    ");
}

#[test]
fn guard_private_node_ip_outside_every_allowed_cidr() {
    let doc = set(good(), "livekit.rtc.nodeIp", "10.0.0.5");
    let doc = set(
        doc,
        "livekit.turn.allowRestrictedPeerCidrs",
        "['192.168.0.0/16']",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:13:5: `livekit.rtc.nodeIp` is `10.0.0.5`, a private (RFC 1918) address, but overlay `bundled-turn` enables TURN: the relay sends media to that address, LiveKit's TURN refuses private, loopback and link-local peers unless its `turn.allow_restricted_peer_cidrs` lists them, and clients on the internet cannot reach such an address anyway. Fix: set `livekit.rtc.nodeIp` to the LoadBalancer's public IP; for a site reachable only on its own network, list a CIDR holding it in `livekit.turn.allowRestrictedPeerCidrs`, e.g. `[10.0.0.5/32]`.
    ");
}

#[test]
fn guard_appservices_secret_name_not_a_dns_subdomain() {
    let doc = set(
        good(),
        "homeserver.appservices.existingSecret",
        "Matrix_Appservices",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:8:5: `homeserver.appservices.existingSecret` is `Matrix_Appservices`, which Kubernetes refuses as a Secret name: it may only hold lowercase letters, digits, `-` and `.`. Fix: write the name of the existing Secret, a DNS-1123 subdomain: at most 253 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, e.g. `matrix-appservices`.
    ");
}

#[test]
fn guard_a_secret_data_key_kubernetes_refuses_names_its_key() {
    let doc = set(
        good(),
        "livekit.keys.existingSecret.livekitKeysKey",
        "'LIVEKIT KEYS'",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:12:7: `livekit.keys.existingSecret.livekitKeysKey` is `LIVEKIT KEYS`, which Kubernetes refuses as a key of a Secret's data: it holds a character other than a letter, a digit, `-`, `_` or `.`. Fix: write the key the existing Secret holds the value under: at most 253 letters, digits, `-`, `_` and `.`, e.g. `password`.
    ");
}

#[test]
fn guard_an_empty_registration_token_data_key_names_its_key() {
    let doc = set(
        good(),
        "homeserver.registrationTokenExistingSecret",
        "{name: matrix-registration, key: ''}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:6:5: `homeserver.registrationTokenExistingSecret.key` is ``, which Kubernetes refuses as a key of a Secret's data: it is empty. Fix: write the key the existing Secret holds the value under: at most 253 letters, digits, `-`, `_` and `.`, e.g. `password`.
    ");
}

#[test]
fn secret_data_keys_of_letters_digits_dashes_underscores_and_dots_are_accepted() {
    for key in ["LIVEKIT_KEYS", "livekit-keys", "keys.yaml", ".keys"] {
        let doc = set(good(), "livekit.keys.existingSecret.livekitKeysKey", key);
        if let Err(error) = load(&doc) {
            panic!("{key}: {error}");
        }
    }
}

#[test]
fn a_private_node_ip_inside_an_allowed_cidr_is_accepted_with_turn() {
    for (node_ip, cidr) in [("10.0.0.5", "10.0.0.0/8"), ("100.64.1.2", "100.64.0.0/10")] {
        let doc = set(good(), "livekit.rtc.nodeIp", node_ip);
        let doc = set(
            doc,
            "livekit.turn.allowRestrictedPeerCidrs",
            &format!("[{cidr}]"),
        );
        if let Err(error) = load(&doc) {
            panic!("{node_ip} in {cidr}: {error}");
        }
    }
}

#[test]
fn a_private_node_ip_is_accepted_without_turn() {
    let doc = set(good(), "livekit.rtc.nodeIp", "192.168.1.5");
    load(&set(doc, "overlays", "{bundled: {}}")).expect("accepted");
}

#[test]
fn guard_allowed_peer_cidr_not_a_cidr() {
    let doc = set(
        good(),
        "livekit.turn.allowRestrictedPeerCidrs",
        "['10.0.0.0/8', '192.168.1.5']",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:5: `livekit.turn.allowRestrictedPeerCidrs` holds `192.168.1.5`, which is not a CIDR: LiveKit parses every entry at startup and refuses to start on one it cannot read. Fix: write an address with its prefix length, e.g. `192.168.10.0/24` or `fd00::/8`.
    ");
}

#[test]
fn guard_pin_without_node_ip() {
    let doc = set(
        good(),
        "livekit.rtc",
        "{useExternalIp: true, pinLoadBalancerIp: kube-vip}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:5: `livekit.rtc.pinLoadBalancerIp` is `kube-vip`, but `livekit.rtc.nodeIp` is not set: the pin asks the LoadBalancer for exactly that address, and STUN discovery finds an address only after the LoadBalancer has one. Fix: set `livekit.rtc.nodeIp` to the address reserved for the `livekit-rtc` LoadBalancer, or set `livekit.rtc.pinLoadBalancerIp: none`.
    ");
}

#[test]
fn guard_pin_annotation_set_to_another_address_in_service_annotations() {
    let doc = set(
        good(),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, pinLoadBalancerIp: metallb, \
         serviceAnnotations: {metallb.io/loadBalancerIPs: 203.0.113.99}}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:15:5: `livekit.rtc.serviceAnnotations` sets `metallb.io/loadBalancerIPs` to `203.0.113.99`, but `livekit.rtc.pinLoadBalancerIp` writes that annotation with `203.0.113.10`, the address LiveKit advertises: the LoadBalancer would get one of the two and calls would carry no media if it got the other. Fix: remove `metallb.io/loadBalancerIPs` from `livekit.rtc.serviceAnnotations`.
    ");
}

#[test]
fn the_pin_annotation_may_also_be_written_with_the_node_ip() {
    let doc = set(
        good(),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, pinLoadBalancerIp: metallb, \
         serviceAnnotations: {metallb.io/loadBalancerIPs: 203.0.113.10}}",
    );
    load(&doc).expect("accepted");
}

#[test]
fn guard_relay_port_below_1024() {
    let doc = set(
        good(),
        "livekit.turn.relayPortRange",
        "{start: 1000, end: 1019}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused (2 problems):
    bundle.yaml:19:7: `livekit.turn.relayPortRange.start` is 1000: ports below 1024 need root or NET_BIND_SERVICE, and the LiveKit pod runs unprivileged (the `livekit-rtc` LoadBalancer exposes the same number). Fix: use ports from 1024 to 65535, e.g. the default 33000-33019.
    bundle.yaml:20:7: `livekit.turn.relayPortRange.end` is 1019: ports below 1024 need root or NET_BIND_SERVICE, and the LiveKit pod runs unprivileged (the `livekit-rtc` LoadBalancer exposes the same number). Fix: use ports from 1024 to 65535, e.g. the default 33000-33019.
    ");
}

#[test]
fn guard_relay_port_range_ending_before_it_starts() {
    let doc = set(
        good(),
        "livekit.turn.relayPortRange",
        "{start: 33019, end: 33000}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:5: `livekit.turn.relayPortRange` runs from 33019 to 33000, which holds no port, so LiveKit's TURN could relay no media. Fix: make `start` at most `end`, e.g. `{start: 33000, end: 33019}`.
    ");
}

#[test]
fn guard_relay_port_range_of_more_than_100_ports() {
    let doc = set(
        good(),
        "livekit.turn.relayPortRange",
        "{start: 30000, end: 40000}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:5: `livekit.turn.relayPortRange` runs from 30000 to 40000, 10001 ports: each becomes a port of the `livekit-rtc` Service and of the pod, and load balancers limit how many ports one Service may have. Fix: use at most 100 ports (one relayed participant holds one or two), e.g. `{start: 30000, end: 30099}`.
    ");
}

#[test]
fn a_relay_port_range_of_100_ports_is_accepted() {
    let doc = set(
        good(),
        "livekit.turn.relayPortRange",
        "{start: 33000, end: 33099}",
    );
    load(&doc).expect("accepted");
}

#[test]
fn guard_relay_port_range_over_the_udp_port() {
    let doc = set(
        good(),
        "livekit.turn.relayPortRange",
        "{start: 7870, end: 7889}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:5: `livekit.turn.relayPortRange` runs from 7870 to 7889, which holds UDP port 7882, but the `livekit-rtc` Service already exposes it for `livekit.rtc.udpPort`: a Service cannot expose one port twice, so Kubernetes would refuse it. Fix: move `livekit.turn.relayPortRange` clear of the other LiveKit ports.
    ");
}

#[test]
fn a_relay_port_range_may_share_numbers_with_the_tcp_ports() {
    // 5349 (TURN over TLS) and 7880/7881 are TCP; the relay ports are UDP.
    for range in ["{start: 5340, end: 5359}", "{start: 7880, end: 7881}"] {
        let doc = set(good(), "livekit.turn.relayPortRange", range);
        if let Err(error) = load(&doc) {
            panic!("{range}: {error}");
        }
    }
}

#[test]
fn the_relay_port_range_is_not_checked_where_no_overlay_runs_turn() {
    let doc = set(
        good(),
        "livekit.turn.relayPortRange",
        "{start: 33019, end: 33000}",
    );
    load(&set(doc, "overlays", "{bundled: {}}")).expect("accepted");
}

#[test]
fn guard_relay_port_range_in_the_turn_overlay_delta() {
    let doc = set(
        good(),
        "overlays.bundled-turn.livekit.turn.relayPortRange",
        "{start: 33000, end: 33200}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:23:9: `overlays.bundled-turn.livekit.turn.relayPortRange` runs from 33000 to 33200, 201 ports: each becomes a port of the `livekit-rtc` Service and of the pod, and load balancers limit how many ports one Service may have. Fix: use at most 100 ports (one relayed participant holds one or two), e.g. `{start: 33000, end: 33099}`.
    ");
}

#[test]
fn an_appservices_secret_name_with_dots_and_long_parts_is_accepted() {
    let long_part = "a".repeat(70);
    for name in ["matrix-appservices", "bridges.matrix", long_part.as_str()] {
        let doc = set(good(), "homeserver.appservices.existingSecret", name);
        if let Err(error) = load(&doc) {
            panic!("{name}: {error}");
        }
    }
}

// ---- how the media ports leave the cluster ---------------------------------------------------

/// Only overlay `bundled`: no TURN, which NodePort and the host network refuse.
fn bundled_only() -> Value {
    set(good(), "overlays", "{bundled: {}}")
}

#[test]
fn media_leaves_through_one_load_balancer_from_every_node_by_default() {
    let config = load(&good()).expect("accepted");
    let livekit = config.variants()[&OverlayName::Bundled].livekit();
    assert!(!livekit.rtc.split_services);
    assert_eq!(livekit.rtc.service_type, RtcServiceType::LoadBalancer);
    assert_eq!(
        livekit.rtc.external_traffic_policy,
        ExternalTrafficPolicy::Cluster
    );
    assert!(!livekit.host_network);
}

#[test]
fn service_types_and_traffic_policies_are_written_as_kubernetes_spells_them() {
    let doc = set(
        bundled_only(),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, serviceType: NodePort, externalTrafficPolicy: Local, \
         udpPort: 30882, tcpPort: 30881}",
    );
    let config = load(&doc).expect("accepted");
    let rtc = &config.variants()[&OverlayName::Bundled].livekit().rtc;
    assert_eq!(rtc.service_type, RtcServiceType::NodePort);
    assert_eq!(rtc.external_traffic_policy, ExternalTrafficPolicy::Local);
}

#[test]
fn an_unknown_service_type_suggests_the_nearest_name() {
    let text = GOOD.replace(
        "rtc: {nodeIp: 203.0.113.10}",
        "rtc: {nodeIp: 203.0.113.10, serviceType: Nodeport}",
    );
    insta::assert_snapshot!(parse_error(&text), @r"
    bundle.yaml:10:31: invalid value at `livekit.rtc.serviceType`: unknown value `Nodeport`; did you mean `NodePort`?
    ");
}

#[test]
fn split_services_with_a_pin_are_accepted_with_turn() {
    for pin in ["spec", "metallb", "cilium", "kube-vip"] {
        let doc = set(
            good(),
            "livekit.rtc",
            &format!("{{nodeIp: 203.0.113.10, splitServices: true, pinLoadBalancerIp: {pin}}}"),
        );
        if let Err(error) = load(&doc) {
            panic!("{pin}: {error}");
        }
    }
}

#[test]
fn guard_split_services_without_a_pin() {
    let doc = set(good(), "livekit.rtc.splitServices", "true");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:5: `livekit.rtc.splitServices` is true, but `livekit.rtc.pinLoadBalancerIp` is `none`: each of the LoadBalancer Services `livekit-rtc-udp` and `livekit-rtc-tcp` would get an address of its own, while LiveKit advertises the one `livekit.rtc.nodeIp` for both, so the media of one protocol would go nowhere. Fix: set `livekit.rtc.pinLoadBalancerIp` to the way your load balancer takes a requested address (`spec`, `metallb`, `cilium` or `kube-vip`), so both Services ask for `nodeIp`, or set `livekit.rtc.splitServices: false` where one Service may carry UDP and TCP.
    ");
}

#[test]
fn guard_privileged_udp_port_names_the_split_udp_service() {
    let doc = set(
        good(),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, splitServices: true, pinLoadBalancerIp: spec, udpPort: 443}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:16:5: `livekit.rtc.udpPort` is 443: ports up to 1024 need root or NET_BIND_SERVICE, and the LiveKit pod runs unprivileged with every capability dropped (and the `livekit-rtc-udp` LoadBalancer exposes the same port number). Fix: use a port above 1024; LiveKit's defaults are 7880 (signalling), 7881 (TCP) and 7882 (UDP).
    ");
}

#[test]
fn guard_node_port_media_ports_outside_the_node_port_range() {
    let doc = set(bundled_only(), "livekit.rtc.serviceType", "NodePort");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused (2 problems):
    bundle.yaml:12:3: `livekit.rtc.udpPort` is 7882, but `livekit.rtc.serviceType` is `NodePort`: LiveKit advertises the port it listens on, so the node port clients dial must be that same number, and Kubernetes takes node ports only from its NodePort range, 30000-32767 unless the cluster's kube-apiserver sets another with `--service-node-port-range`. Fix: use a free port of that range, e.g. 30882.
    bundle.yaml:12:3: `livekit.rtc.tcpPort` is 7881, but `livekit.rtc.serviceType` is `NodePort`: LiveKit advertises the port it listens on, so the node port clients dial must be that same number, and Kubernetes takes node ports only from its NodePort range, 30000-32767 unless the cluster's kube-apiserver sets another with `--service-node-port-range`. Fix: use a free port of that range, e.g. 30881.
    ");
}

#[test]
fn node_ports_at_both_ends_of_the_node_port_range_are_accepted() {
    let doc = set(
        bundled_only(),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, serviceType: NodePort, udpPort: 30000, tcpPort: 32767}",
    );
    load(&doc).expect("accepted");
}

#[test]
fn guard_node_port_with_turn() {
    let doc = set(
        good(),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, serviceType: NodePort, udpPort: 30882, tcpPort: 30881}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:5: `livekit.rtc.serviceType` is `NodePort`, but overlay `bundled-turn` enables TURN: clients always dial `turns:<livekit.turn.domain>:443`, and a NodePort Service cannot publish port 443 (node ports are 30000-32767 by default). Fix: set `livekit.rtc.serviceType: LoadBalancer`, or remove `bundled-turn` from `overlays`.
    ");
}

#[test]
fn guard_node_port_with_a_load_balancer_pin() {
    let doc = set(
        bundled_only(),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, serviceType: NodePort, udpPort: 30882, tcpPort: 30881, \
         pinLoadBalancerIp: metallb}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:17:5: `livekit.rtc.pinLoadBalancerIp` is `metallb`, but `livekit.rtc.serviceType` is `NodePort`: the pin asks a load balancer for `livekit.rtc.nodeIp`, and a NodePort Service has none (`nodeIp` is then a node's public address). Fix: set `livekit.rtc.pinLoadBalancerIp: none`, or `livekit.rtc.serviceType: LoadBalancer`.
    ");
}

#[test]
fn guard_host_network_with_turn() {
    let doc = set(good(), "livekit.hostNetwork", "true");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:18:3: `livekit.hostNetwork` is true, but overlay `bundled-turn` enables TURN: clients always dial `turns:<livekit.turn.domain>:443`, so on the host network the pod would have to bind port 443 of its node, which the unprivileged pod cannot. Fix: set `livekit.hostNetwork: false` (TURN then goes through a LoadBalancer, which maps 443 to `livekit.turn.tlsPort`), or remove `bundled-turn` from `overlays`.
    ");
}

#[test]
fn guard_media_service_settings_with_the_host_network() {
    let doc = set(bundled_only(), "livekit.hostNetwork", "true");
    let doc = set(
        doc,
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, splitServices: true, pinLoadBalancerIp: metallb, \
         serviceAnnotations: {example.org/pool: media}}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused (3 problems):
    bundle.yaml:14:5: `livekit.rtc.splitServices` is true, but `livekit.hostNetwork` is true: on the host network the media ports are the node's own and no media Service is rendered, so the setting would be silently dropped. Fix: remove `livekit.rtc.splitServices`, or set `livekit.hostNetwork: false`.
    bundle.yaml:15:5: `livekit.rtc.pinLoadBalancerIp` is `metallb`, but `livekit.hostNetwork` is true: on the host network the media ports are the node's own and no media Service is rendered, so the setting would be silently dropped. Fix: remove `livekit.rtc.pinLoadBalancerIp`, or set `livekit.hostNetwork: false`.
    bundle.yaml:16:5: `livekit.rtc.serviceAnnotations` is `{example.org/pool: media}`, but `livekit.hostNetwork` is true: on the host network the media ports are the node's own and no media Service is rendered, so the setting would be silently dropped. Fix: remove `livekit.rtc.serviceAnnotations`, or set `livekit.hostNetwork: false`.
    ");
}

#[test]
fn the_host_network_is_accepted_without_turn_and_media_service_settings() {
    let doc = set(bundled_only(), "livekit.hostNetwork", "true");
    load(&doc).expect("accepted");
}

#[test]
fn guard_node_ip_missing_on_the_host_network_names_the_node() {
    let doc = set(bundled_only(), "livekit.hostNetwork", "true");
    insta::assert_snapshot!(refused(remove(doc, "livekit.rtc.nodeIp")), @r"
    bundle.yaml: config refused:
    bundle.yaml:12:3: `livekit.rtc.nodeIp` is not set: LiveKit would advertise its pod IP, which clients cannot reach, so calls connect but carry no media. Fix: set it to the public IP of the node LiveKit runs on (the pod is on the host network), or set `livekit.rtc.useExternalIp: true` to discover it with STUN.
    ");
}

#[test]
fn guard_privileged_udp_port_on_the_host_network_names_the_node() {
    let doc = set(bundled_only(), "livekit.hostNetwork", "true");
    insta::assert_snapshot!(refused(set(doc, "livekit.rtc.udpPort", "443")), @r"
    bundle.yaml: config refused:
    bundle.yaml:14:5: `livekit.rtc.udpPort` is 443: ports up to 1024 need root or NET_BIND_SERVICE, and the LiveKit pod runs unprivileged with every capability dropped (and its node, on the host network, exposes the same port number). Fix: use a port above 1024; LiveKit's defaults are 7880 (signalling), 7881 (TCP) and 7882 (UDP).
    ");
}

// ---- Gateway API --------------------------------------------------------------------------------

fn with_gateway(doc: Value) -> Value {
    set(
        doc,
        "gateway",
        "{enabled: true, parentRefs: [{name: public, namespace: gateway-system, sectionName: https}]}",
    )
}

#[test]
fn gateway_api_is_off_by_default_and_has_no_parents() {
    let config = load(&good()).expect("accepted");
    assert!(!config.raw().gateway.enabled);
    assert!(config.raw().gateway.parent_refs.is_empty());
}

#[test]
fn gateway_api_is_accepted_when_no_ingress_setting_is_written() {
    let config = load(&with_gateway(good())).expect("accepted");
    let parent = &config.raw().gateway.parent_refs[0];
    assert_eq!(parent.name, "public");
    assert_eq!(parent.namespace.as_deref(), Some("gateway-system"));
    assert_eq!(parent.section_name.as_deref(), Some("https"));
}

#[test]
fn guard_every_ingress_setting_written_with_gateway_api() {
    let doc = set(
        with_gateway(good()),
        "ingress",
        "{className: envoy, annotations: {a: b}, whitelistSourceRange: '192.0.2.0/24', \
         tls: {secretName: matrix-tls}}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused (4 problems):
    bundle.yaml:58:3: `ingress.className` is set, but `gateway.enabled` is true, so no Ingress is rendered and the setting would be silently dropped: the Gateway's controller is chosen by the Gateway's `gatewayClassName`. Fix: remove `ingress.className` and attach the routes to a Gateway of the class you want in `gateway.parentRefs`, or set `gateway.enabled: false`.
    bundle.yaml:59:3: `ingress.annotations` is set, but `gateway.enabled` is true, so no Ingress is rendered and the setting would be silently dropped: an HTTPRoute has no counterpart of an Ingress controller's annotations. Fix: remove `ingress.annotations` and configure the Gateway or your implementation's policy objects instead, or set `gateway.enabled: false`.
    bundle.yaml:61:3: `ingress.whitelistSourceRange` is set, but `gateway.enabled` is true, so no Ingress is rendered and the setting would be silently dropped: source addresses are filtered by the Gateway or by your implementation's policy objects, not by a route. Fix: remove `ingress.whitelistSourceRange` and restrict the sources on the Gateway's side, or set `gateway.enabled: false`.
    bundle.yaml:62:3: `ingress.tls` is set, but `gateway.enabled` is true, so no Ingress is rendered and the setting would be silently dropped: TLS belongs to the Gateway's listener, which holds the certificate for serverName. Fix: remove `ingress.tls` and give the Gateway an HTTPS listener on 443 whose `certificateRefs` name the certificate for `homeserver.serverName`, or set `gateway.enabled: false`.
    ");
}

#[test]
fn guard_an_ingress_setting_written_with_its_default_value_and_gateway_api() {
    let doc = set(with_gateway(good()), "ingress.tls.enabled", "true");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:58:3: `ingress.tls` is set, but `gateway.enabled` is true, so no Ingress is rendered and the setting would be silently dropped: TLS belongs to the Gateway's listener, which holds the certificate for serverName. Fix: remove `ingress.tls` and give the Gateway an HTTPS listener on 443 whose `certificateRefs` name the certificate for `homeserver.serverName`, or set `gateway.enabled: false`.
    ");
}

#[test]
fn an_empty_ingress_mapping_is_accepted_with_gateway_api() {
    let doc = set(with_gateway(good()), "ingress", "{}");
    load(&doc).expect("accepted");
}

#[test]
fn the_ingress_settings_are_accepted_while_gateway_api_is_off() {
    let doc = set(
        set(good(), "ingress.tls", "{secretName: matrix-tls}"),
        "gateway",
        "{enabled: false, parentRefs: [{name: public}]}",
    );
    load(&doc).expect("accepted");
}

#[test]
fn guard_gateway_api_without_parent_refs() {
    let doc = set(good(), "gateway.enabled", "true");
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:51:1: `gateway.parentRefs` is empty, but `gateway.enabled` is true: an HTTPRoute attached to no Gateway serves nothing, and nothing else would route serverName. Fix: list the Gateway that serves `homeserver.serverName`, e.g. `[{name: public, namespace: gateway-system, sectionName: https}]`, or set `gateway.enabled: false`.
    ");
}

#[test]
fn guard_parent_ref_names_the_gateway_api_refuses() {
    let doc = set(
        good(),
        "gateway",
        "{enabled: true, parentRefs: [{name: '', namespace: Gateway-System, sectionName: '-https'}]}",
    );
    insta::assert_snapshot!(refused(doc), @r#"
    bundle.yaml: config refused (3 problems):
    bundle.yaml:54:5: `gateway.parentRefs[0].name` is "", which the Gateway API refuses as the name of a parent: it is empty. Fix: write the name of the Gateway object, e.g. `public`.
    bundle.yaml:55:5: `gateway.parentRefs[0].namespace` is `Gateway-System`, which Kubernetes refuses as a namespace name: it may only hold lowercase letters, digits and `-`. Fix: write a DNS-1123 label, at most 63 lowercase letters, digits and `-` that starts and ends with a letter or digit, e.g. `matrix`.
    bundle.yaml:56:5: `gateway.parentRefs[0].sectionName` is `-https`, which the Gateway API refuses as a listener name: each dot-separated part must start and end with a letter or digit. Fix: write the `name` of the Gateway's listener, a DNS-1123 subdomain such as `https`, or remove the key to attach to every listener that admits the routes.
    "#);
}

#[test]
fn guard_parent_ref_name_longer_than_253_characters() {
    let long = "a".repeat(254);
    let doc = set(
        good(),
        "gateway",
        &format!("{{enabled: true, parentRefs: [{{name: {long}}}]}}"),
    );
    let refusal = refused(doc);
    assert!(
        refusal.contains("`gateway.parentRefs[0].name`")
            && refusal.contains("it is longer than 253 characters"),
        "{refusal}"
    );
}

#[test]
fn a_parent_ref_without_a_name_is_a_missing_key() {
    let doc = set(
        good(),
        "gateway",
        "{enabled: true, parentRefs: [{sectionName: https}]}",
    );
    insta::assert_snapshot!(parse_error(&yaml(&doc)), @r"
    bundle.yaml:54:5: missing key `gateway.parentRefs[0].name`: it has no default, set it
    ");
}

#[test]
fn guard_two_parent_refs_selecting_one_gateway_and_listener() {
    let doc = set(
        good(),
        "gateway",
        "{enabled: true, parentRefs: [{name: public, sectionName: https}, \
         {name: public, namespace: matrix, sectionName: https}]}",
    );
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:56:5: `gateway.parentRefs[1]` selects the same Gateway as `gateway.parentRefs[0]` (matrix/public), and the Gateway API refuses parent references it cannot tell apart: two references to one Gateway must both name a listener, and different ones. Fix: give each a different `sectionName`, or remove one.
    ");
}

#[test]
fn guard_two_parent_refs_to_one_gateway_of_which_one_names_no_listener() {
    let doc = set(
        good(),
        "gateway",
        "{enabled: true, parentRefs: [{name: public}, {name: public, sectionName: https}]}",
    );
    let refusal = refused(doc);
    assert!(refusal.contains("`gateway.parentRefs[1]`"), "{refusal}");
}

#[test]
fn parent_refs_to_one_gateway_through_different_listeners_or_namespaces_are_accepted() {
    let doc = set(
        good(),
        "gateway",
        "{enabled: true, parentRefs: [{name: public, sectionName: https}, \
         {name: public, sectionName: https-alt}, {name: public, namespace: other}]}",
    );
    load(&doc).expect("accepted");
}

/// `gateway:` on, with `count` parent references to different Gateways.
pub(crate) fn gateway_with_parents(count: usize) -> String {
    let parents: Vec<String> = (0..count)
        .map(|n| format!("{{name: gateway-{n}}}"))
        .collect();
    format!("{{enabled: true, parentRefs: [{}]}}", parents.join(", "))
}

#[test]
fn guard_more_parent_refs_than_an_http_route_holds() {
    let doc = set(good(), "gateway", &gateway_with_parents(33));
    insta::assert_snapshot!(refused(doc), @r"
    bundle.yaml: config refused:
    bundle.yaml:53:3: `gateway.parentRefs` lists 33 Gateways, and the Gateway API refuses an HTTPRoute with more than 32 parent references. Fix: attach to at most 32; a Gateway with several listeners needs one entry without `sectionName` rather than one per listener.
    ");
}

#[test]
fn thirty_two_parent_refs_are_accepted() {
    load(&set(good(), "gateway", &gateway_with_parents(32))).expect("accepted");
}

#[test]
fn guard_lk_jwt_key_entry_without_a_keys_secret() {
    let doc = set(
        remove(good(), "livekit.keys"),
        "livekit.keys",
        "{apiKey: devkey, apiSecret: 0123456789abcdef0123456789abcdef, existingSecret: {lkJwtKeyKey: LK_JWT_KEYS}}",
    );
    let doc = set(doc, "allowInlineSecrets", "true");
    insta::assert_snapshot!(refused(doc));
}
