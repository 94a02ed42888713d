//! The JSON Schema as the list of keys that exist: every key a guard names is one of them, so a
//! message never sends the operator to a key that does not exist; no parse error at any of
//! them speaks of Rust types; and an error inside any update-policy kind names its own key.

use std::collections::BTreeSet;

use bundle_gen::{ConfigError, Violation, config_schema};
use serde_json::Value as Json;
use serde_norway::Value;

use crate::config::{gateway_with_parents, good, load, remove, set};

/// The subschemas `schema` stands for: itself with `$ref`s followed, and every branch of
/// `allOf`, `anyOf` and `oneOf`.
fn alternatives<'a>(root: &'a Json, schema: &'a Json) -> Vec<&'a Json> {
    if let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
        let pointer = reference.strip_prefix('#').expect("a local $ref");
        let target = root.pointer(pointer).expect("the $ref resolves");
        return alternatives(root, target);
    }
    let mut found = vec![schema];
    for combinator in ["allOf", "anyOf", "oneOf"] {
        for branch in schema
            .get(combinator)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            found.extend(alternatives(root, branch));
        }
    }
    found
}

/// The schemas of key `name` under `schema`: a named property, or any key of a free-form map
/// (`additionalProperties` holding a schema).
fn children<'a>(root: &'a Json, schema: &'a Json, name: &str) -> Vec<&'a Json> {
    alternatives(root, schema)
        .into_iter()
        .flat_map(|schema| {
            let property = schema
                .get("properties")
                .and_then(|properties| properties.get(name));
            let any_key = schema
                .get("additionalProperties")
                .filter(|extra| extra.is_object());
            property.into_iter().chain(any_key)
        })
        .collect()
}

/// The schemas of the items of the lists `schema` stands for.
fn items<'a>(root: &'a Json, schema: &'a Json) -> Vec<&'a Json> {
    alternatives(root, schema)
        .into_iter()
        .filter_map(|schema| schema.get("items"))
        .collect()
}

/// Whether the dotted `key` is a key of `bundle.yaml` according to the schema. A list item is
/// written as serde_path_to_error prints it, `hostAliases[0]`.
fn in_schema(root: &Json, key: &str) -> bool {
    let mut schemas = vec![root];
    for segment in key.split('.') {
        let mut parts = segment.split('[');
        let name = parts.next().unwrap_or_default();
        schemas = schemas
            .into_iter()
            .flat_map(|schema| children(root, schema, name))
            .collect();
        for _index in parts {
            schemas = schemas
                .into_iter()
                .flat_map(|schema| items(root, schema))
                .collect();
        }
    }
    !schemas.is_empty()
}

/// Every key path the schema names, with a sample name (`x`) for a key of a free-form map.
fn schema_keys(root: &Json) -> BTreeSet<String> {
    fn walk(root: &Json, schema: &Json, prefix: &str, keys: &mut BTreeSet<String>) {
        for schema in alternatives(root, schema) {
            let named = schema.get("properties").and_then(Json::as_object);
            let names = named.into_iter().flat_map(|properties| properties.iter());
            let any_key = schema
                .get("additionalProperties")
                .filter(|extra| extra.is_object())
                .map(|extra| ("x", extra));
            for (name, child) in names
                .map(|(name, child)| (name.as_str(), child))
                .chain(any_key)
            {
                let key = if prefix.is_empty() {
                    name.to_owned()
                } else {
                    format!("{prefix}.{name}")
                };
                if keys.insert(key.clone()) {
                    walk(root, child, &key, keys);
                }
            }
        }
    }
    let mut keys = BTreeSet::new();
    walk(root, root, "", &mut keys);
    keys
}

/// Every `Violation` variant by name. The `match` has no catch-all arm, so a new variant does
/// not compile until it is listed here, and then `every_guard_fires_for_one_of_the_configs`
/// fails until a config below makes it fire.
macro_rules! every_variant {
    ($($name:ident),* $(,)?) => {
        const EVERY_VARIANT: &[&str] = &[$(stringify!($name)),*];

        fn variant_name(violation: &Violation) -> &'static str {
            match violation {
                $(Violation::$name { .. } => stringify!($name),)*
            }
        }
    };
}

every_variant!(
    NamespaceMissing,
    NamespaceNotALabel,
    ServerNameMissing,
    InvalidDnsName,
    RegistrationWithoutToken,
    InlineSecretRefused,
    ServiceUrlMissing,
    ServiceUrlEndsWithSfu,
    UrlNotOnIngressHost,
    HostAliasIpInvalid,
    HostAliasWithoutHostnames,
    KeyRemoved,
    InlineKeyBreaksKeyFile,
    LivekitCredentialsMissing,
    ApiSecretTooShort,
    ApiKeyNameInvalid,
    ApiKeyNameNotTheInlineKey,
    TurnDomainMissing,
    CertManagerSecretKeyFixed,
    CertManagerSecretIsIngressSecret,
    CertManagerIssuerNameMissing,
    LkJwtKeyKeyWithoutSecret,
    TurnTlsSecretMissing,
    TurnDomainIsServerName,
    TurnTlsPortPrivileged,
    PortPrivileged,
    PortZero,
    ServicePortsCollide,
    PortsCollide,
    PublicUrlMissing,
    PublicUrlNotWss,
    ExternalKeysSecretMissing,
    NodeIpMissing,
    ImageUnpinned,
    ImageTagLatest,
    LivekitEnabledContradictsOverlay,
    TurnEnabledContradictsOverlay,
    BundledOverlaysDiffer,
    NoOverlays,
    AllowListUnsupported,
    NodeIpNotUnicast,
    NodeIpRestrictedForTurn,
    PeerCidrInvalid,
    PinWithoutNodeIp,
    PinContradictsServiceAnnotation,
    RelayPortPrivileged,
    RelayPortRangeReversed,
    RelayPortRangeTooLarge,
    RelayPortRangeCollides,
    SecretNameInvalid,
    SecretDataKeyInvalid,
    ListenAddressesWithoutWildcard,
    ListenAddressesWithoutIpv6,
    IpFamilyTwice,
    IpFamiliesNeedDualStack,
    NodeIpFamilyNotOnService,
    DualStackNodeIpOnSingleStack,
    PinSpecTakesOneAddress,
    TurnWithoutIpv4NodeIp,
    PeerEmpty,
    PeerIpBlockWithSelector,
    PeerExceptOutsideCidr,
    SelectorValuesMismatch,
    ControllerNamespaceIgnored,
    SelectorLabelInvalid,
    SplitServicesWithoutPin,
    NodePortOutOfRange,
    NodePortWithTurn,
    NodePortWithPin,
    HostNetworkWithTurn,
    MediaServiceSettingWithHostNetwork,
    IngressSettingWithGateway,
    GatewayParentRefsMissing,
    GatewayNameInvalid,
    SectionNameInvalid,
    GatewayParentRefsNotDistinct,
    GatewayParentRefsTooMany,
    MemoryLimitNotAQuantity,
    CacheModifierNotPositive,
    ReplicasZero,
    ReplicasWithoutRedis,
    ReplicasWithNodeIp,
    ReplicasBehindOneLoadBalancer,
    ReplicasWithNodePort,
    ReplicasWithTurn,
    ReplicasWithoutNodeAddress,
    NodeIpFromWithoutHostNetwork,
    NodeIpFromWithAnotherSource,
    RedisServerMissing,
    RedisAddressInvalid,
    RedisAddressWithSentinel,
    SentinelIncomplete,
    BundledRedisWithServerSetting,
    BundledRedisImageMissing,
    BundledRedisWithHostNetwork,
);

/// Inline keys with a registration token, allowed: the start of the inline-secret configs.
fn with_inline_keys(keys: &str) -> Value {
    let doc = set(remove(good(), "livekit.keys"), "livekit.keys", keys);
    let doc = set(doc, "homeserver.registrationToken", "dev-token");
    set(doc, "allowInlineSecrets", "true")
}

/// Configs that, between them, make every guard fire, some in several places (top level and
/// overlay delta).
fn refusing_configs() -> Vec<Value> {
    let long_secret = "0123456789abcdef0123456789abcdef";
    vec![
        set(good(), "namespace", "''"),
        set(good(), "namespace", "Chat_NS"),
        set(good(), "homeserver.serverName", "''"),
        set(good(), "homeserver.serverName", "Matrix.example.org"),
        set(good(), "livekit.turn.domain", "turn_server.example.org"),
        remove(good(), "homeserver.registrationTokenExistingSecret"),
        set(good(), "homeserver.registrationToken", "s3cret"),
        set(good(), "livekit.keys.apiKey", "devkey"),
        set(good(), "overlays.external.livekit.keys.apiSecret", "x"),
        remove(good(), "homeserver.livekitServiceUrl"),
        set(
            good(),
            "homeserver.livekitServiceUrl",
            "https://matrix.example.org/sfu",
        ),
        set(
            good(),
            "homeserver.livekitServiceUrl",
            "https://rtc.example.org",
        ),
        set(good(), "livekit.publicUrl", "wss://livekit.example.org"),
        set(
            good(),
            "lkJwt.hostAliases",
            "[{ip: ingress.example.org, hostnames: []}, {ip: 10.96.0.80, hostnames: [Matrix]}]",
        ),
        set(good(), "livekit.keys.existingSecret.apiKeyKey", "key"),
        set(
            good(),
            "overlays.external.livekit.keys.existingSecret.apiSecretKey",
            "secret",
        ),
        with_inline_keys("{apiKey: 'dev:key', apiSecret: 'a secret of 32 or more characters'}"),
        remove(good(), "livekit.keys"),
        with_inline_keys(&format!(
            "{{apiKey: devkey, apiSecret: {long_secret}, existingSecret: {{lkJwtKeyKey: LK_JWT}}}}"
        )),
        with_inline_keys("{apiKey: devkey, apiSecret: too-short}"),
        set(good(), "livekit.keys.apiKeyName", "'lk jwt'"),
        with_inline_keys(&format!(
            "{{apiKey: devkey, apiSecret: {long_secret}, apiKeyName: other}}"
        )),
        remove(good(), "livekit.turn.domain"),
        remove(good(), "livekit.turn.tls"),
        set(
            good(),
            "livekit.turn.tls",
            "{existingSecret: matrix-certificate, certKey: certificate, \
             certManager: {name: '', kind: ClusterIssuer}}",
        ),
        set(
            good(),
            "overlays.bundled-turn.livekit.turn.tls",
            "{keyKey: key, certManager: {name: letsencrypt-dns, kind: Issuer}}",
        ),
        set(good(), "livekit.turn.domain", "matrix.example.org"),
        set(good(), "livekit.turn.tlsPort", "443"),
        set(good(), "livekit.rtc.udpPort", "443"),
        set(good(), "homeserver.clientPort", "0"),
        set(good(), "overlays.bundled.livekit.rtc.udpPort", "0"),
        set(good(), "livekit.rtc.tcpPort", "443"),
        set(good(), "livekit.rtc.tcpPort", "7880"),
        set(good(), "livekit.turn.tlsPort", "7881"),
        remove(good(), "livekit.publicUrl"),
        set(
            good(),
            "overlays.external.livekit.publicUrl",
            "ws://livekit.example.net",
        ),
        set(
            remove(good(), "livekit.keys"),
            "overlays",
            "{external: {livekit: {publicUrl: 'wss://livekit.example.net'}}}",
        ),
        remove(good(), "livekit.rtc"),
        remove(
            remove(good(), "images.livekit.tag"),
            "images.livekit.digest",
        ),
        set(good(), "images.lkJwt.tag", "latest"),
        set(good(), "overlays.bundled.livekit.enabled", "false"),
        set(good(), "overlays.external.livekit.enabled", "true"),
        set(good(), "overlays.bundled.livekit.turn.enabled", "true"),
        set(
            good(),
            "overlays.bundled-turn.livekit.turn.enabled",
            "false",
        ),
        set(good(), "overlays.external.livekit.turn.enabled", "true"),
        set(good(), "overlays.bundled-turn.livekit.rtc.udpPort", "7883"),
        set(good(), "overlays", "{}"),
        set(
            set(good(), "ingress.className", "traefik"),
            "ingress.whitelistSourceRange",
            "'192.0.2.0/24'",
        ),
        set(good(), "livekit.rtc.nodeIp", "0.0.0.0"),
        set(good(), "livekit.rtc.nodeIp", "10.0.0.5"),
        set(
            good(),
            "livekit.turn.allowRestrictedPeerCidrs",
            "['10.0.0.0']",
        ),
        set(
            good(),
            "livekit.rtc",
            "{useExternalIp: true, pinLoadBalancerIp: metallb}",
        ),
        set(
            good(),
            "livekit.rtc",
            "{nodeIp: 203.0.113.10, pinLoadBalancerIp: cilium, \
             serviceAnnotations: {lbipam.cilium.io/ips: 203.0.113.11}}",
        ),
        set(
            good(),
            "livekit.turn.relayPortRange",
            "{start: 1000, end: 1010}",
        ),
        set(
            good(),
            "livekit.turn.relayPortRange",
            "{start: 33010, end: 33000}",
        ),
        set(
            good(),
            "livekit.turn.relayPortRange",
            "{start: 33000, end: 34000}",
        ),
        set(
            good(),
            "livekit.turn.relayPortRange",
            "{start: 7870, end: 7889}",
        ),
        set(
            good(),
            "homeserver.appservices.existingSecret",
            "Matrix_Appservices",
        ),
        set(
            good(),
            "livekit.keys.existingSecret.livekitKeysKey",
            "'LIVEKIT KEYS'",
        ),
        set(good(), "homeserver.listenAddresses", "['127.0.0.1']"),
        set(good(), "network.ipFamilies", "[IPv6]"),
        set(good(), "network.ipFamilies", "[IPv4, IPv4]"),
        set(good(), "network.ipFamilies", "[IPv4, IPv6]"),
        set(
            set(good(), "livekit.rtc.nodeIp", "'203.0.113.10,2001:db8::10'"),
            "livekit.rtc.pinLoadBalancerIp",
            "spec",
        ),
        set(
            set(good(), "network.ipFamilyPolicy", "PreferDualStack"),
            "livekit.rtc.nodeIp",
            "'2001:db8::10'",
        ),
        set(
            good(),
            "networkPolicy.ingressFrom",
            "[{}, {ipBlock: {cidr: 10.0.0.0/24, except: [10.1.0.0/25]}, \
             podSelector: {matchExpressions: [{key: app, operator: In}]}}]",
        ),
        set(
            set(
                good(),
                "networkPolicy.ingressFrom",
                "[{ipBlock: {cidr: 10.0.0.0/24}}]",
            ),
            "networkPolicy.ingressControllerNamespace",
            "traefik",
        ),
        set(
            good(),
            "networkPolicy.ingressFrom",
            "[{podSelector: {matchLabels: {'app name': '-x'}}}]",
        ),
        set(good(), "livekit.rtc.splitServices", "true"),
        set(good(), "livekit.rtc.serviceType", "NodePort"),
        set(
            good(),
            "livekit.rtc",
            "{nodeIp: 203.0.113.10, serviceType: NodePort, pinLoadBalancerIp: spec}",
        ),
        set(
            set(good(), "livekit.hostNetwork", "true"),
            "livekit.rtc.externalTrafficPolicy",
            "Local",
        ),
        set(
            set(good(), "ingress.tls", "{secretName: matrix-tls}"),
            "gateway",
            "{enabled: true, parentRefs: [{name: public}]}",
        ),
        set(good(), "gateway.enabled", "true"),
        set(
            good(),
            "gateway",
            "{enabled: true, parentRefs: [{name: '', namespace: Gateways, sectionName: HTTPS}]}",
        ),
        set(
            good(),
            "gateway",
            "{enabled: true, parentRefs: [{name: public}, {name: public, sectionName: https}]}",
        ),
        set(good(), "gateway", &gateway_with_parents(33)),
        set(good(), "homeserver.resources.limits.memory", "2 GB"),
        set(good(), "homeserver.cacheCapacityModifier", "0"),
        set(good(), "livekit.replicas", "0"),
        // Without Redis, behind the one LoadBalancer, with the one `nodeIp` and with TURN.
        set(good(), "livekit.replicas", "3"),
        set(
            set(good(), "livekit.replicas", "2"),
            "livekit.rtc",
            "{nodeIp: 203.0.113.10, serviceType: NodePort}",
        ),
        set(
            set(set(good(), "livekit.replicas", "2"), "livekit.rtc", "{}"),
            "livekit.hostNetwork",
            "true",
        ),
        set(good(), "livekit.rtc.nodeIpFrom", "hostIP"),
        set(good(), "livekit.redis", "{db: 1}"),
        set(
            good(),
            "livekit.redis",
            "{address: redis, sentinelAddresses: ['[::1]:0']}",
        ),
        set(
            good(),
            "livekit.redis",
            "{bundled: true, address: 'redis:6379', tls: true}",
        ),
        set(
            set(good(), "livekit.redis", "{bundled: true}"),
            "livekit.hostNetwork",
            "true",
        ),
    ]
}

fn refusals() -> Vec<Violation> {
    refusing_configs()
        .iter()
        .flat_map(|doc| match load(doc) {
            Err(ConfigError::Refused { violations }) => violations,
            other => panic!("expected a refusal, got {other:?}"),
        })
        .map(|located| located.violation)
        .collect()
}

/// The keys a violation names: its own, and every key path quoted in its message (the fix
/// often names another key, e.g. `homeserver.registrationTokenExistingSecret.name`). A quoted
/// dotted name is a key path unless it is one of the example host names.
fn named_keys(violation: &Violation) -> Vec<String> {
    let top_level = config_schema()["properties"]
        .as_object()
        .map(|properties| properties.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    let message = violation.to_string();
    let quoted = message.split('`').skip(1).step_by(2);
    let placeholders = message
        .split('<')
        .skip(1)
        .filter_map(|rest| rest.split_once('>').map(|(inside, _)| inside));
    // `homeserver.allowRegistration: false`, the top-level `livekit:`.
    let bare = |text: &str| text.split(':').next().unwrap_or_default().trim().to_owned();
    let mut keys: Vec<String> = quoted
        .chain(placeholders)
        .map(bare)
        .filter(|text| {
            let shaped_like_a_key = text.starts_with(|c: char| c.is_ascii_lowercase())
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c));
            let dotted = text.contains('.') && !text.ends_with(".org") && !text.ends_with(".net");
            shaped_like_a_key && (dotted || top_level.contains(text))
        })
        .collect();
    keys.push(violation.key().to_owned());
    keys
}

#[test]
fn every_guard_fires_for_one_of_the_configs() {
    let fired: BTreeSet<&str> = refusals().iter().map(variant_name).collect();
    let missing: Vec<&&str> = EVERY_VARIANT
        .iter()
        .filter(|name| !fired.contains(**name))
        .collect();
    assert!(
        missing.is_empty(),
        "no config makes these fire: {missing:?}"
    );
}

#[test]
fn every_key_a_guard_names_is_in_the_schema() {
    let schema = config_schema();
    let mut checked = 0;
    let mut unknown = Vec::new();
    for violation in refusals() {
        for key in named_keys(&violation) {
            checked += 1;
            if !in_schema(&schema, &key) {
                unknown.push(format!("{}: `{key}`", variant_name(&violation)));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "keys named by guards that the schema does not have:\n{}",
        unknown.join("\n")
    );
    // Every message names its own key and most name another.
    assert!(
        checked > 2 * EVERY_VARIANT.len(),
        "only {checked} keys checked"
    );
}

#[test]
fn the_schema_check_finds_a_misspelt_key() {
    let schema = config_schema();
    assert!(in_schema(
        &schema,
        "overlays.external.livekit.keys.existingSecret.name"
    ));
    assert!(in_schema(&schema, "ingress.annotations.any-name"));
    assert!(in_schema(&schema, "lkJwt.hostAliases[1].hostnames[0]"));
    for misspelt in [
        "homeserver.serverNme",
        "livekit.turn.tlsPrt",
        "overlays.external.livekit.keys.existingSecret.nmae",
        "lkJtw.enabled",
        "lkJwt.hostAliases[0].hostname",
        "lkJwt.enabled[0]",
    ] {
        assert!(!in_schema(&schema, misspelt), "`{misspelt}` was found");
    }
}

/// Rust type names serde would print, as whole words.
fn rust_type_names() -> Vec<String> {
    let primitives = [
        "u8",
        "u16",
        "u32",
        "u64",
        "u128",
        "usize",
        "i8",
        "i16",
        "i32",
        "i64",
        "i128",
        "isize",
        "f32",
        "f64",
        "struct",
        "enum",
        "Option",
        "sequence",
        "RawConfig",
    ];
    let definitions = config_schema()["definitions"]
        .as_object()
        .map(|definitions| definitions.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    primitives
        .into_iter()
        .map(str::to_owned)
        .chain(definitions)
        .chain(["unit value".to_owned(), "a map".to_owned()])
        .collect()
}

fn names_a_rust_type(message: &str, names: &[String]) -> Option<String> {
    let words: Vec<&str> = message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    names
        .iter()
        .find(|name| {
            if name.contains(' ') {
                // As a phrase: "a map" but not "a mapping".
                message.match_indices(name.as_str()).any(|(start, phrase)| {
                    let next = message[start + phrase.len()..].chars().next();
                    !next.is_some_and(|c| c.is_ascii_alphanumeric())
                })
            } else {
                words.contains(&name.as_str())
            }
        })
        .cloned()
}

#[test]
fn no_parse_error_at_any_key_of_the_schema_names_a_rust_type() {
    let schema = config_schema();
    let names = rust_type_names();
    let mut parse_errors = 0;
    let mut offending = Vec::new();
    for key in schema_keys(&schema) {
        for wrong in ["[1]", "{a: 1}", "nope", "70000", "true", "~", "1.5"] {
            let error = match load(&set(good(), &key, wrong)) {
                Err(ConfigError::Refused { .. }) | Ok(_) => continue,
                Err(error) => error,
            };
            parse_errors += 1;
            let message = error.to_string();
            if let Some(name) = names_a_rust_type(&message, &names) {
                offending.push(format!("{key} = {wrong}: `{name}` in: {message}"));
            }
        }
    }
    assert!(
        offending.is_empty(),
        "messages naming Rust types:\n{}",
        offending.join("\n")
    );
    assert!(parse_errors > 300, "only {parse_errors} parse errors seen");
}

#[test]
fn an_unknown_key_in_every_policy_kind_is_reported_at_that_key() {
    let schema = config_schema();
    let kinds: Vec<&str> = schema["definitions"]["UpdatePolicy"]["oneOf"]
        .as_array()
        .expect("UpdatePolicy is a oneOf")
        .iter()
        .filter_map(|branch| branch["properties"]["kind"]["const"].as_str())
        .collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    for kind in kinds {
        let policy = format!("{{kind: {kind}, bogus: 1}}");
        match load(&set(good(), "images.homeserver.policy", &policy)) {
            Err(ConfigError::UnknownKey { key, .. }) => {
                assert_eq!(key, "images.homeserver.policy.bogus", "kind {kind}");
            }
            other => panic!("kind {kind}: expected an unknown key, got {other:?}"),
        }
    }
}
