//! The config model and its guards, through `Config::from_yaml`: defaults, overlay merging,
//! unknown keys with their path and nearest name, and one test per guard asserting its full
//! message (key, reason, fix).

use bundle_gen::{Config, ConfigError, OverlayName, csp_sources};
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

fn good() -> Value {
    serde_norway::from_str(GOOD).expect("GOOD is YAML")
}

/// Sets `path` (dotted) in `doc`, creating mappings on the way.
fn set(mut doc: Value, path: &str, value: &str) -> Value {
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
fn remove(mut doc: Value, path: &str) -> Value {
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

fn load(doc: &Value) -> Result<Config, ConfigError> {
    Config::from_yaml(&serde_norway::to_string(doc).expect("serializable"))
}

/// The messages of every violated guard; panics if the config was accepted or failed to parse.
fn violations(doc: &Value) -> Vec<String> {
    match load(doc) {
        Err(ConfigError::Refused { violations }) => {
            violations.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The message of the one violated guard.
fn refusal(doc: Value) -> String {
    let mut messages = violations(&doc);
    assert_eq!(messages.len(), 1, "expected one violation: {messages:#?}");
    messages.remove(0)
}

/// The parse error's message.
fn parse_error(text: &str) -> String {
    match Config::from_yaml(text) {
        Err(error @ ConfigError::Refused { .. }) => panic!("expected a parse error: {error}"),
        Err(error) => error.to_string(),
        Ok(_) => panic!("expected a parse error, the config was accepted"),
    }
}

fn yaml(doc: &Value) -> String {
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
    assert_eq!(livekit.keys.existing_secret.api_key_key, "LIVEKIT_API_KEY");
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
    assert_eq!(external.keys.existing_secret.api_key_key, "LIVEKIT_API_KEY");
    assert_eq!(external.rtc.node_ip.as_deref(), Some("203.0.113.10"));
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
    assert!(load(&doc).is_ok());
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
    assert_eq!(
        parse_error(&text),
        "unknown key `homeserver.serverNme`; did you mean `serverName`? (line 4)"
    );
}

#[test]
fn an_unknown_key_far_from_every_name_lists_the_allowed_names() {
    let text = GOOD.replace(
        "namespace: matrix\n",
        "namespace: matrix\ningress: {tls: {bogus: 1}}\n",
    );
    assert_eq!(
        parse_error(&text),
        "unknown key `ingress.tls.bogus`; allowed here: `enabled`, `secretName`, `clusterIssuer` \
         (line 3)"
    );
}

#[test]
fn an_unknown_key_in_an_overlay_delta_names_the_overlay_path() {
    let doc = set(
        good(),
        "overlays.external.livekit.keys.existingSecret.nmae",
        "x",
    );
    assert_eq!(
        parse_error(&yaml(&doc)),
        "unknown key `overlays.external.livekit.keys.existingSecret.nmae`; did you mean `name`?"
    );
}

#[test]
fn an_unknown_key_at_the_top_of_an_overlay_names_its_path() {
    let text = GOOD.replace("  external:\n", "  external:\n    livkit: {}\n");
    assert_eq!(
        parse_error(&text),
        "unknown key `overlays.external.livkit`; did you mean `livekit`? (line 16)"
    );
}

#[test]
fn an_unknown_overlay_name_suggests_the_nearest_overlay() {
    let text = GOOD.replace("  bundled: {}", "  bundeld: {}");
    assert_eq!(
        parse_error(&text),
        "unknown key `overlays.bundeld`; did you mean `bundled`? (line 13)"
    );
}

#[test]
fn an_unknown_policy_kind_suggests_the_nearest_kind() {
    let text = GOOD.replace("kind: semver, range", "kind: semvr, range");
    assert_eq!(
        parse_error(&text),
        "invalid value at `images.livekit.policy.kind`: unknown value `semvr`; did you mean \
         `semver`? (near line 31)"
    );
}

#[test]
fn a_malformed_digest_is_refused_with_its_key() {
    let text = GOOD.replace(
        "sha256:822f0c03a3bdd924da92afc2e8ec59de5dda17af42d32e71e11f269c3517abf7",
        "sha256:822f0c03",
    );
    assert_eq!(
        parse_error(&text),
        "invalid value at `images.lkJwt.digest`: `sha256:822f0c03` is not a digest: write \
         `sha256:` followed by 64 lowercase hex digits (as printed by `skopeo inspect` or \
         `bundle pins status`) (near line 33)"
    );
}

#[test]
fn a_malformed_tag_is_refused_with_its_key() {
    let text = GOOD.replace("tag: v1.9.3", "tag: v1.9.3:x");
    assert_eq!(
        parse_error(&text),
        "invalid value at `images.homeserver.tag`: `v1.9.3:x` is not an image tag: a tag is 1 \
         to 128 characters of letters, digits, `_`, `.` and `-`, and does not start with `.` \
         or `-` (near line 21)"
    );
}

#[test]
fn a_value_of_the_wrong_type_names_its_key() {
    let text = GOOD.replace(
        "{nodeIp: 203.0.113.10}",
        "{nodeIp: 203.0.113.10, udpPort: 70000}",
    );
    assert_eq!(
        parse_error(&text),
        "invalid value at `livekit.rtc.udpPort`: invalid value: integer `70000`, expected u16 \
         (near line 10)"
    );
}

#[test]
fn a_wrong_type_in_an_overlay_delta_names_the_overlay_path() {
    let doc = set(good(), "overlays.external.livekit.rtc.udpPort", "many");
    assert_eq!(
        parse_error(&yaml(&doc)),
        "invalid value at `overlays.external.livekit.rtc.udpPort`: invalid type: string \
         \"many\", expected u16"
    );
}

#[test]
fn a_missing_required_key_is_named() {
    let doc = remove(good(), "namespace");
    assert_eq!(
        parse_error(&yaml(&doc)),
        "missing key `namespace`: it has no default, set it (near line 1)"
    );
}

#[test]
fn text_that_is_not_a_mapping_is_a_syntax_error() {
    assert_eq!(
        parse_error("- a\n- b\n"),
        "not a valid config: invalid type: sequence, expected struct RawConfig (near line 1)"
    );
}

#[test]
fn broken_yaml_is_a_syntax_error_with_its_line() {
    assert_eq!(
        parse_error("namespace: matrix\n  homeserver: [\n"),
        "not a valid config: mapping values are not allowed in this context (near line 2)"
    );
}

#[test]
fn a_duplicate_key_is_a_syntax_error() {
    assert_eq!(
        parse_error("namespace: a\nnamespace: b\n"),
        "not a valid config: duplicate entry with key \"namespace\" (near line 1)"
    );
}

// ---- the guards, one test each -----------------------------------------------------------------

#[test]
fn guard_server_name_missing() {
    assert_eq!(
        refusal(set(good(), "homeserver.serverName", "''")),
        "`homeserver.serverName` is not set: it is baked into every user and room ID and is the \
        ingress host. Fix: set it to the server's DNS name, e.g. `matrix.example.org` (it cannot \
        change once data exists)."
    );
}

#[test]
fn guard_server_name_not_a_dns_name() {
    assert_eq!(
        refusal(set(good(), "homeserver.serverName", "Matrix.example.org")),
        "`homeserver.serverName` is `Matrix.example.org`, which is not a DNS name: labels may \
        only hold lowercase letters, digits and `-`. Fix: write a lowercase, fully qualified \
        name such as `matrix.example.org` (no scheme, port or path)."
    );
}

#[test]
fn guard_server_name_an_ip_address() {
    assert_eq!(
        refusal(set(good(), "homeserver.serverName", "203.0.113.5")),
        "`homeserver.serverName` is `203.0.113.5`, which is not a DNS name: it is an IP address. \
        Fix: write a lowercase, fully qualified name such as `matrix.example.org` (no scheme, \
        port or path)."
    );
}

#[test]
fn guard_turn_domain_not_a_dns_name() {
    assert_eq!(
        refusal(set(
            good(),
            "livekit.turn.domain",
            "turn_server.example.org"
        )),
        "`livekit.turn.domain` is `turn_server.example.org`, which is not a DNS name: labels may \
        only hold lowercase letters, digits and `-`. Fix: write a lowercase, fully qualified \
        name such as `matrix.example.org` (no scheme, port or path)."
    );
}

#[test]
fn guard_registration_without_token_or_secret() {
    assert_eq!(
        refusal(remove(good(), "homeserver.registrationTokenExistingSecret")),
        "`homeserver.allowRegistration` is true but no registration token is configured: anyone \
        could create accounts on an open, abusable homeserver. Fix: name the Secret holding the \
        token in `homeserver.registrationTokenExistingSecret.name`, or set \
        `homeserver.allowRegistration: false`."
    );
}

#[test]
fn guard_inline_registration_token_without_allow_inline_secrets() {
    assert_eq!(
        refusal(set(good(), "homeserver.registrationToken", "s3cret-token")),
        "`homeserver.registrationToken` holds a secret value, which would be written into the \
        generated tree and committed. Fix: put it in a Secret and name that Secret instead (for \
        example `livekit.keys.existingSecret.name` or \
        `homeserver.registrationTokenExistingSecret.name`); only for a throwaway cluster, set \
        `allowInlineSecrets: true`."
    );
}

#[test]
fn guard_inline_livekit_api_key_without_allow_inline_secrets() {
    assert_eq!(
        refusal(set(good(), "livekit.keys.apiKey", "devkey")),
        "`livekit.keys.apiKey` holds a secret value, which would be written into the generated \
        tree and committed. Fix: put it in a Secret and name that Secret instead (for example \
        `livekit.keys.existingSecret.name` or \
        `homeserver.registrationTokenExistingSecret.name`); only for a throwaway cluster, set \
        `allowInlineSecrets: true`."
    );
}

#[test]
fn guard_inline_livekit_api_secret_in_an_overlay_without_allow_inline_secrets() {
    assert_eq!(
        refusal(set(good(), "overlays.external.livekit.keys.apiSecret", "x")),
        "`overlays.external.livekit.keys.apiSecret` holds a secret value, which would be written \
        into the generated tree and committed. Fix: put it in a Secret and name that Secret \
        instead (for example `livekit.keys.existingSecret.name` or \
        `homeserver.registrationTokenExistingSecret.name`); only for a throwaway cluster, set \
        `allowInlineSecrets: true`."
    );
}

#[test]
fn guard_lk_jwt_without_service_url() {
    assert_eq!(
        refusal(remove(good(), "homeserver.livekitServiceUrl")),
        "`homeserver.livekitServiceUrl` is not set, but lk-jwt-service is enabled: Element Call \
        finds lk-jwt through this URL in the homeserver's well-known, and calls fail without a \
        hint when it is missing. Fix: set it to `https://<homeserver.serverName>` (no `/sfu`), \
        or set `lkJwt.enabled: false`."
    );
}

#[test]
fn guard_service_url_ending_in_sfu() {
    assert_eq!(
        refusal(set(
            good(),
            "homeserver.livekitServiceUrl",
            "https://matrix.example.org/sfu"
        )),
        "`homeserver.livekitServiceUrl` is `https://matrix.example.org/sfu`, which ends in \
        `/sfu`: clients append `/sfu/get` themselves, so they would call `/sfu/sfu/get` and get \
        404. Fix: remove the trailing `/sfu`."
    );
}

#[test]
fn guard_service_url_on_another_host() {
    assert_eq!(
        refusal(set(
            good(),
            "homeserver.livekitServiceUrl",
            "https://rtc.example.org"
        )),
        "`homeserver.livekitServiceUrl` is `https://rtc.example.org`, but the generated ingress \
        serves only `matrix.example.org`, so clients would reach nothing there. Fix: set it to \
        `https://matrix.example.org`."
    );
}

#[test]
fn guard_bundled_livekit_without_credentials() {
    assert_eq!(
        refusal(remove(good(), "livekit.keys")),
        "`livekit.keys.existingSecret.name` is not set and no inline API key and secret are \
        given: the bundled LiveKit would have no signing key and lk-jwt would reference a \
        missing Secret. Fix: create a Secret with `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET` and \
        `LIVEKIT_KEYS` (`<key>: <secret>`) and set `livekit.keys.existingSecret.name` to its \
        name."
    );
}

#[test]
fn guard_bundled_livekit_with_only_an_inline_key() {
    assert_eq!(
        refusal(set(
            set(
                remove(good(), "livekit.keys"),
                "livekit.keys.apiKey",
                "devkey"
            ),
            "allowInlineSecrets",
            "true"
        )),
        "`livekit.keys.existingSecret.name` is not set and no inline API key and secret are \
        given: the bundled LiveKit would have no signing key and lk-jwt would reference a \
        missing Secret. Fix: create a Secret with `LIVEKIT_API_KEY`, `LIVEKIT_API_SECRET` and \
        `LIVEKIT_KEYS` (`<key>: <secret>`) and set `livekit.keys.existingSecret.name` to its \
        name."
    );
}

#[test]
fn guard_inline_api_secret_shorter_than_32_characters() {
    assert_eq!(
        refusal(set(
            set(
                set(
                    good(),
                    "livekit.keys",
                    "{apiKey: devkey, apiSecret: too-short-secret}"
                ),
                "allowInlineSecrets",
                "true"
            ),
            "homeserver.registrationToken",
            "t"
        )),
        "`livekit.keys.apiSecret` is 16 characters long; LiveKit needs at least 32 and would run \
        with a weak key. Fix: generate one with `openssl rand -hex 32`, or use \
        `livekit.keys.existingSecret.name`."
    );
}

#[test]
fn guard_turn_without_domain() {
    assert_eq!(
        refusal(remove(good(), "livekit.turn.domain")),
        "`livekit.turn.domain` is not set, but overlay `bundled-turn` enables TURN: it is the \
        name clients dial and the certificate name they check, so the relay would be \
        unreachable. Fix: set it to a DNS name that resolves to the `livekit-rtc` LoadBalancer \
        IP (not serverName)."
    );
}

#[test]
fn guard_turn_without_tls_secret() {
    assert_eq!(
        refusal(remove(good(), "livekit.turn.tls")),
        "`livekit.turn.tls.existingSecret` is not set, but overlay `bundled-turn` enables TURN: \
        LiveKit terminates TURN's TLS itself, and without a certificate clients behind strict \
        NATs fail silently. Fix: set it to the name of a `kubernetes.io/tls` Secret for \
        `livekit.turn.domain`."
    );
}

#[test]
fn guard_turn_domain_equal_to_server_name() {
    assert_eq!(
        refusal(set(good(), "livekit.turn.domain", "matrix.example.org")),
        "`livekit.turn.domain` is `matrix.example.org`, the same as `homeserver.serverName`: \
        clients dial `turns:matrix.example.org:443`, which would land on the HTTP ingress \
        instead of LiveKit. Fix: use a separate name, e.g. `turn.matrix.example.org`, resolving \
        to the `livekit-rtc` LoadBalancer IP."
    );
}

#[test]
fn guard_turn_tls_port_at_or_below_1024() {
    assert_eq!(
        refusal(set(good(), "livekit.turn.tlsPort", "443")),
        "`livekit.turn.tlsPort` is 443: ports up to 1024 need root or NET_BIND_SERVICE, and the \
        pod runs unprivileged. The LoadBalancer already maps 443 to this port. Fix: use a port \
        above 1024, e.g. 5349."
    );
}

#[test]
fn guard_lk_jwt_without_public_url() {
    assert_eq!(
        refusal(remove(good(), "livekit.publicUrl")),
        "`livekit.publicUrl` is not set, but lk-jwt-service is enabled: it is the `wss://` SFU \
        URL lk-jwt returns to clients, and calls fail silently without it. Fix: set it, e.g. \
        `wss://<homeserver.serverName>` for the bundled LiveKit."
    );
}

#[test]
fn guard_public_url_not_wss() {
    assert_eq!(
        refusal(set(
            good(),
            "overlays.external.livekit.publicUrl",
            "ws://livekit.example.net"
        )),
        "`overlays.external.livekit.publicUrl` is `ws://livekit.example.net`, which is not a \
        `wss://` URL: browsers on an https page refuse plain `ws://`, and lk-jwt needs the \
        public address. Fix: write `wss://<host>`."
    );
}

#[test]
fn guard_public_url_https_instead_of_wss() {
    assert_eq!(
        refusal(set(
            good(),
            "livekit.publicUrl",
            "https://matrix.example.org"
        )),
        "`livekit.publicUrl` is `https://matrix.example.org`, which is not a `wss://` URL: \
        browsers on an https page refuse plain `ws://`, and lk-jwt needs the public address. \
        Fix: write `wss://<host>`."
    );
}

#[test]
fn guard_bundled_public_url_on_another_host() {
    assert_eq!(
        refusal(set(
            good(),
            "livekit.publicUrl",
            "wss://livekit.example.org"
        )),
        "`livekit.publicUrl` is `wss://livekit.example.org`, but the generated ingress serves \
        only `matrix.example.org`, so clients would reach nothing there. Fix: set it to \
        `wss://matrix.example.org`."
    );
}

#[test]
fn guard_external_livekit_without_keys_secret() {
    assert_eq!(
        refusal(set(
            remove(good(), "livekit.keys"),
            "overlays",
            "{external: {livekit: {publicUrl: 'wss://livekit.example.net'}}}"
        )),
        "`overlays.external.livekit.keys.existingSecret.name` is not set, but overlay `external` \
        uses an operator-managed LiveKit: lk-jwt needs that SFU's API key and secret, and would \
        reference a missing Secret. Fix: create a Secret with `LIVEKIT_API_KEY` and \
        `LIVEKIT_API_SECRET` of the external SFU and set \
        `overlays.external.livekit.keys.existingSecret.name` to its name."
    );
}

#[test]
fn guard_bundled_livekit_without_node_ip() {
    assert_eq!(
        refusal(remove(good(), "livekit.rtc")),
        "`livekit.rtc.nodeIp` is not set: LiveKit would advertise its pod IP, which clients \
        cannot reach, so calls connect but carry no media. Fix: set it to the public IP of the \
        `livekit-rtc` LoadBalancer, or set `livekit.rtc.useExternalIp: true` to discover it with \
        STUN."
    );
}

#[test]
fn guard_node_ip_not_an_ip_address() {
    assert_eq!(
        refusal(set(good(), "livekit.rtc.nodeIp", "lb.example.org")),
        "`livekit.rtc.nodeIp` is `lb.example.org`, which is not an IP address: LiveKit advertises \
        it verbatim as its ICE candidate. Fix: write the LoadBalancer's public IPv4 or IPv6 \
        address, e.g. `203.0.113.10`."
    );
}

#[test]
fn guard_image_with_neither_tag_nor_digest() {
    assert_eq!(
        refusal(remove(
            remove(good(), "images.livekit.tag"),
            "images.livekit.digest"
        )),
        "`images.livekit` has neither `tag` nor `digest`: the image would float to whatever the \
        registry serves. Fix: pin it as `tag` plus `digest` (run `bundle pins refresh`)."
    );
}

#[test]
fn guard_image_with_tag_latest() {
    assert_eq!(
        refusal(set(good(), "images.lkJwt.tag", "latest")),
        "`images.lkJwt.tag` is `latest`, a tag that moves: two pulls can run different code and \
        an update never shows up in git. Fix: pin a release tag and its digest (run `bundle pins \
        refresh`)."
    );
}

#[test]
fn guard_livekit_enabled_false_for_a_bundled_overlay() {
    assert_eq!(
        refusal(set(good(), "overlays.bundled.livekit.enabled", "false")),
        "`overlays.bundled.livekit.enabled` is false, but overlay `bundled` deploys LiveKit in \
        the cluster: the overlay's name decides whether LiveKit is bundled. Fix: remove \
        `overlays.bundled.livekit.enabled`; for an operator-managed LiveKit, list overlay \
        `external` instead."
    );
}

#[test]
fn guard_livekit_enabled_true_for_the_external_overlay() {
    assert_eq!(
        refusal(set(good(), "overlays.external.livekit.enabled", "true")),
        "`overlays.external.livekit.enabled` is true, but overlay `external` uses an \
        operator-managed LiveKit: the overlay's name decides whether LiveKit is bundled. Fix: \
        remove `overlays.external.livekit.enabled`; to deploy LiveKit in the cluster, list \
        overlay `bundled` or `bundled-turn`."
    );
}

#[test]
fn guard_turn_enabled_for_the_bundled_overlay() {
    assert_eq!(
        refusal(set(good(), "overlays.bundled.livekit.turn.enabled", "true")),
        "`overlays.bundled.livekit.turn.enabled` is true, but overlay `bundled` runs LiveKit \
        without TURN: the overlay's name decides whether TURN is on. Fix: remove \
        `overlays.bundled.livekit.turn.enabled`; for TURN over TLS, list overlay `bundled-turn`."
    );
}

#[test]
fn guard_turn_disabled_for_the_bundled_turn_overlay() {
    assert_eq!(
        refusal(set(
            good(),
            "overlays.bundled-turn.livekit.turn.enabled",
            "false"
        )),
        "`overlays.bundled-turn.livekit.turn.enabled` is false, but overlay `bundled-turn` runs \
        LiveKit with TURN over TLS: the overlay's name decides whether TURN is on. Fix: remove \
        `overlays.bundled-turn.livekit.turn.enabled`; without TURN, list overlay `bundled`."
    );
}

#[test]
fn guard_bundled_overlays_with_different_livekit_settings() {
    assert_eq!(
        refusal(set(
            good(),
            "overlays.bundled-turn.livekit.rtc.udpPort",
            "7883"
        )),
        "`livekit.rtc.udpPort` is 7882 for overlay `bundled` but 7883 for `bundled-turn`; both \
        use the one `overlays/components/livekit`, so only `livekit.turn` may differ. Fix: set \
        it once under the top-level `livekit:` (or identically in both overlays)."
    );
}

#[test]
fn guard_no_overlays() {
    assert_eq!(
        refusal(set(good(), "overlays", "{}")),
        "`overlays` is empty, so there is nothing to generate. Fix: list at least one of \
        `bundled`, `bundled-turn` and `external`, or remove `overlays` to generate all three."
    );
}

// ---- how violations are reported ----------------------------------------------------------------

#[test]
fn every_violation_is_reported_at_once_in_a_numbered_refusal() {
    let doc = remove(
        remove(good(), "homeserver.registrationTokenExistingSecret"),
        "livekit.rtc",
    );
    assert_eq!(
        load(&doc).expect_err("refused").to_string(),
        "config refused (2 problems):\n  \
         - `homeserver.allowRegistration` is true but no registration token is configured: \
         anyone could create accounts on an open, abusable homeserver. Fix: name the Secret \
         holding the token in `homeserver.registrationTokenExistingSecret.name`, or set \
         `homeserver.allowRegistration: false`.\n  \
         - `livekit.rtc.nodeIp` is not set: LiveKit would advertise its pod IP, which clients \
         cannot reach, so calls connect but carry no media. Fix: set it to the public IP of the \
         `livekit-rtc` LoadBalancer, or set `livekit.rtc.useExternalIp: true` to discover it \
         with STUN."
    );
}

#[test]
fn a_setting_shared_by_both_bundled_overlays_is_reported_once() {
    let messages = violations(&set(good(), "livekit.rtc.nodeIp", "'not-an-ip'"));
    assert_eq!(messages.len(), 1, "{messages:#?}");
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
    assert_eq!(
        refusal(set(good(), "livekit.keys.apiKeyName", "'lk-jwt: secret'")),
        "`livekit.keys.apiKeyName` is `lk-jwt: secret`, which cannot be an API key name: \
        LiveKit reads its keys as `<name>: <secret>` and lk-jwt splits them at `:`, so the name \
        must be non-empty without spaces or `:`. Fix: write the key name exactly as it is in the \
        keys Secret, e.g. `lk-jwt`, or remove the key."
    );
}

#[test]
fn guard_api_key_name_empty() {
    assert!(
        refusal(set(good(), "livekit.keys.apiKeyName", "''"))
            .starts_with("`livekit.keys.apiKeyName` is ``, which cannot be an API key name")
    );
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
    assert_eq!(
        refusal(doc),
        "`livekit.keys.apiKeyName` differs from the inline `livekit.keys.apiKey`: LiveKit signs \
        its webhooks with the key of that name and refuses to start when it has no such key. \
        Fix: remove `livekit.keys.apiKeyName` (with inline keys the webhook uses `apiKey`), or \
        make the two equal."
    );
}

#[test]
fn stun_discovery_replaces_node_ip_when_chosen_explicitly() {
    let doc = set(
        remove(good(), "livekit.rtc"),
        "livekit.rtc.useExternalIp",
        "true",
    );
    assert!(load(&doc).is_ok());
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
    assert!(load(&set(doc, "lkJwt.enabled", "false")).is_ok());
}

#[test]
fn registration_may_be_closed_without_a_token() {
    let doc = remove(good(), "homeserver.registrationTokenExistingSecret");
    assert!(load(&set(doc, "homeserver.allowRegistration", "false")).is_ok());
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
    assert_eq!(
        refusal(set(good(), "livekit.rtc.udpPort", "443")),
        "`livekit.rtc.udpPort` is 443: ports up to 1024 need root or NET_BIND_SERVICE, and the \
        LiveKit pod runs unprivileged with every capability dropped (and the `livekit-rtc` \
        LoadBalancer exposes the same port number). Fix: use a port above 1024; LiveKit's \
        defaults are 7880 (signalling), 7881 (TCP) and 7882 (UDP)."
    );
}

#[test]
fn guard_two_livekit_tcp_listeners_on_one_port() {
    // (key set to the port of `other`, that port, other). The defaults are 7880 (signalling),
    // 7881 (TCP) and 5349 (TURN over TLS).
    for (key, port, other) in [
        ("livekit.rtc.tcpPort", 7880, "livekit.rtc.signalingPort"),
        ("livekit.turn.tlsPort", 7880, "livekit.rtc.signalingPort"),
        ("livekit.turn.tlsPort", 7881, "livekit.rtc.tcpPort"),
    ] {
        assert_eq!(
            refusal(set(good(), key, &port.to_string())),
            format!(
                "`{key}` is {port}, the same TCP port as `{other}`: LiveKit cannot listen on \
                 one port twice and would not start. Fix: give each of \
                 `livekit.rtc.signalingPort`, `livekit.rtc.tcpPort` and `livekit.turn.tlsPort` \
                 its own port."
            ),
            "{key} = {port}"
        );
    }
}

#[test]
fn the_udp_port_may_share_its_number_with_a_tcp_port() {
    assert!(load(&set(good(), "livekit.rtc.udpPort", "7881")).is_ok());
}

#[test]
fn an_empty_node_ip_counts_as_unset_like_in_the_chart() {
    let messages = violations(&set(good(), "livekit.rtc.nodeIp", "''"));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("`livekit.rtc.nodeIp` is not set:"),
        "{messages:?}"
    );
}

#[test]
fn guard_allow_list_for_an_ingress_class_without_allow_list_support() {
    let doc = set(
        set(good(), "ingress.className", "traefik"),
        "ingress.whitelistSourceRange",
        "'192.0.2.0/24'",
    );
    assert_eq!(
        refusal(doc),
        "`ingress.whitelistSourceRange` is set, but the generator only knows how to write an \
        allow-list for the `nginx` and `haproxy` ingress classes, and `ingress.className` is \
        `traefik`: the list would be silently dropped and the stack open to everyone. Fix: \
        remove `ingress.whitelistSourceRange` and put your controller's allow-list annotation \
        under `ingress.annotations`."
    );
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
