//! `gen`, `validate` and `csp` through the real binary: exit codes, what goes to stdout and
//! what to stderr, and that a refused config never changes a file on disk.

use std::fs;
use std::path::Path;

use clap::CommandFactory as _;
use insta::assert_snapshot;

use crate::support::{Workdir, set, site_yaml, unset};

fn site_with(path: &str, value: &str) -> String {
    set(&site_yaml(), path, value)
}

fn site_without(path: &str) -> String {
    unset(&site_yaml(), path)
}

// ---- validate ------------------------------------------------------------------------------------

#[test]
fn validate_accepts_the_repository_site_and_names_its_overlays_on_stderr() {
    let run = Workdir::site().bundle(&["validate"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 0
    --- stdout
    --- stderr
    bundle.yaml is valid; overlays: bundled, bundled-turn, external
    ");
}

#[test]
fn validate_reads_the_file_given_with_config() {
    let work = Workdir::site();
    fs::rename(
        work.path().join("bundle.yaml"),
        work.path().join("site.yaml"),
    )
    .expect("rename");
    work.bundle(&["validate", "--config", "site.yaml"])
        .success();
}

#[test]
fn validate_names_an_unknown_key_its_line_and_the_nearest_name() {
    let config = site_yaml().replace("  serverName:", "  serverNme:");
    // Found rather than written down: the repository's bundle.yaml changes.
    let line = 1 + config
        .lines()
        .position(|line| line.starts_with("  serverNme:"))
        .expect("the misspelt key");
    let work = Workdir::with_config(&config);
    let run = work.bundle(&["validate"]);
    let transcript = run
        .transcript()
        .replace(&format!("(line {line})"), "(line [LINE OF serverNme])");
    assert_snapshot!(transcript, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml:29:3: unknown key `homeserver.serverNme`; did you mean `serverName`?
    ");
}

#[test]
fn validate_lists_every_violated_guard_at_once() {
    let config = site_with("homeserver.serverName", "''");
    let work = Workdir::with_config(&set(
        &config,
        "homeserver.livekitServiceUrl",
        "https://matrix.example.org/sfu",
    ));
    assert_snapshot!(work.bundle(&["validate"]).transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused (2 problems):
    bundle.yaml:11:3: `homeserver.serverName` is not set: it is baked into every user and room ID and is the ingress host. Fix: set it to the server's DNS name, e.g. `matrix.example.org` (it cannot change once data exists).
    bundle.yaml:16:3: `homeserver.livekitServiceUrl` is `https://matrix.example.org/sfu`, which ends in `/sfu`: clients append `/sfu/get` themselves, so they would call `/sfu/sfu/get` and get 404. Fix: remove the trailing `/sfu`.
    ");
}

#[test]
fn a_config_that_cannot_be_read_names_the_file_and_the_cause() {
    let work = Workdir::empty();
    fs::create_dir(work.path().join("bundle.yaml")).expect("a directory where the file goes");
    assert_snapshot!(work.bundle(&["validate"]).transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot read the config bundle.yaml: Is a directory (os error 21)
    ");
}

// ---- a missing bundle.yaml says how to start --------------------------------------------------

#[test]
fn a_missing_bundle_yaml_points_at_bundle_init() {
    let work = Workdir::empty();
    let run = work.bundle(&["validate"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: bundle.yaml not found: run `bundle init` to write a commented starter config, or pass --config FILE
    ");
    for command in [
        &["gen"][..],
        &["gen", "--check"],
        &["csp"],
        &["secrets"],
        &["pins", "status"],
        &["pins", "refresh"],
    ] {
        assert_eq!(
            work.bundle(command).transcript(),
            run.transcript(),
            "`bundle {}` said something else",
            command.join(" ")
        );
    }
    assert!(work.files().is_empty(), "{:?}", work.files().keys());
}

#[test]
fn a_missing_config_file_points_at_bundle_init_with_that_file() {
    let work = Workdir::site();
    let run = work.bundle(&["validate", "--config", "site/nope.yaml"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: site/nope.yaml not found: run `bundle init --config site/nope.yaml` to write a commented starter config, or pass --config FILE
    ");
}

// ---- every guard: refused with exit 2, the key named, nothing written ---------------------------

/// Generates the site's tree, then runs `validate`, `gen`, `gen --check`, `csp` and `secrets`
/// with the bad config: each must exit 2 with the same transcript, which names `key`, and every
/// byte of the existing tree must be unchanged. Returns that transcript.
pub(crate) fn refused_without_writing(bad_config: &str, key: &str) -> String {
    let work = Workdir::site();
    work.bundle(&["gen"]).success();
    let before = work.files();
    assert!(before.len() > 1, "the good config generated nothing");

    work.write_config(bad_config);
    let transcript = work.bundle(&["validate"]).transcript();
    assert!(
        transcript.starts_with("exit: 2\n--- stdout\n--- stderr\n"),
        "{transcript}"
    );
    assert!(
        transcript.contains(&format!("`{key}`")),
        "`bundle validate` did not name `{key}`:\n{transcript}"
    );
    for command in [&["gen"][..], &["gen", "--check"], &["csp"], &["secrets"]] {
        assert_eq!(
            work.bundle(command).transcript(),
            transcript,
            "`bundle {}` said something else",
            command.join(" ")
        );
    }
    work.write_config(&site_yaml());
    assert!(work.files() == before, "a refused config changed the tree");
    transcript
}

#[test]
fn guard_server_name_missing() {
    let bad = site_with("homeserver.serverName", "''");
    let refused = refused_without_writing(&bad, "homeserver.serverName");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:11:3: `homeserver.serverName` is not set: it is baked into every user and room ID and is the ingress host. Fix: set it to the server's DNS name, e.g. `matrix.example.org` (it cannot change once data exists).
    ");
}

#[test]
fn guard_server_name_not_a_dns_name() {
    let bad = site_with("homeserver.serverName", "matrix_example.org");
    let refused = refused_without_writing(&bad, "homeserver.serverName");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:11:3: `homeserver.serverName` is `matrix_example.org`, which is not a DNS name: labels may only hold lowercase letters, digits and `-`. Fix: write a lowercase, fully qualified name such as `matrix.example.org` (no scheme, port or path).
    ");
}

#[test]
fn guard_turn_domain_not_a_dns_name() {
    let bad = site_with("livekit.turn.domain", "https://turn.example.org");
    let refused = refused_without_writing(&bad, "livekit.turn.domain");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:31:5: `livekit.turn.domain` is `https://turn.example.org`, which is not a DNS name: labels may only hold lowercase letters, digits and `-`. Fix: write a lowercase, fully qualified name such as `matrix.example.org` (no scheme, port or path).
    ");
}

#[test]
fn guard_registration_without_token() {
    let bad = site_without("homeserver.registrationTokenExistingSecret");
    let refused = refused_without_writing(&bad, "homeserver.allowRegistration");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:12:3: `homeserver.allowRegistration` is true but no registration token is configured: anyone could create accounts on an open, abusable homeserver. Fix: name the Secret holding the token in `homeserver.registrationTokenExistingSecret.name`, or set `homeserver.allowRegistration: false`.
    ");
}

#[test]
fn guard_inline_registration_token() {
    let bad = site_with("homeserver.registrationToken", "hunter2");
    let refused = refused_without_writing(&bad, "homeserver.registrationToken");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:19:3: `homeserver.registrationToken` holds a secret value, which would be written into the generated tree and committed. Fix: put it in a Secret and name that Secret instead (for example `livekit.keys.existingSecret.name` or `homeserver.registrationTokenExistingSecret.name`); only for a throwaway cluster, set `allowInlineSecrets: true`.
    ");
}

#[test]
fn guard_inline_livekit_api_key() {
    let bad = site_with("livekit.keys.apiKey", "devkey");
    let refused = refused_without_writing(&bad, "livekit.keys.apiKey");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:25:5: `livekit.keys.apiKey` holds a secret value, which would be written into the generated tree and committed. Fix: put it in a Secret and name that Secret instead (for example `livekit.keys.existingSecret.name` or `homeserver.registrationTokenExistingSecret.name`); only for a throwaway cluster, set `allowInlineSecrets: true`.
    ");
}

#[test]
fn guard_inline_livekit_api_secret() {
    let bad = site_with("livekit.keys.apiSecret", "x");
    let refused = refused_without_writing(&bad, "livekit.keys.apiSecret");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:25:5: `livekit.keys.apiSecret` holds a secret value, which would be written into the generated tree and committed. Fix: put it in a Secret and name that Secret instead (for example `livekit.keys.existingSecret.name` or `homeserver.registrationTokenExistingSecret.name`); only for a throwaway cluster, set `allowInlineSecrets: true`.
    ");
}

#[test]
fn guard_lk_jwt_without_service_url() {
    let bad = site_without("homeserver.livekitServiceUrl");
    let refused = refused_without_writing(&bad, "homeserver.livekitServiceUrl");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:10:1: `homeserver.livekitServiceUrl` is not set, but lk-jwt-service is enabled: Element Call finds lk-jwt through this URL in the homeserver's well-known, and calls fail without a hint when it is missing. Fix: set it to `https://<homeserver.serverName>` (no `/sfu`), or set `lkJwt.enabled: false`.
    ");
}

#[test]
fn guard_service_url_ending_in_sfu() {
    let bad = site_with(
        "homeserver.livekitServiceUrl",
        "https://matrix.example.org/sfu",
    );
    let refused = refused_without_writing(&bad, "homeserver.livekitServiceUrl");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:16:3: `homeserver.livekitServiceUrl` is `https://matrix.example.org/sfu`, which ends in `/sfu`: clients append `/sfu/get` themselves, so they would call `/sfu/sfu/get` and get 404. Fix: remove the trailing `/sfu`.
    ");
}

#[test]
fn guard_service_url_on_another_host() {
    let bad = site_with("homeserver.livekitServiceUrl", "https://calls.example.org");
    let refused = refused_without_writing(&bad, "homeserver.livekitServiceUrl");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:16:3: `homeserver.livekitServiceUrl` is `https://calls.example.org`, but the generated ingress serves only `matrix.example.org`, so clients would reach nothing there. Fix: set it to `https://matrix.example.org`.
    ");
}

#[test]
fn guard_bundled_livekit_without_credentials() {
    let bad = site_without("livekit.keys");
    let refused = refused_without_writing(&bad, "livekit.keys.existingSecret.name");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:19:1: `livekit.keys.existingSecret.name` is not set and no inline API key and secret are given: the bundled LiveKit would have no signing key and lk-jwt would reference a missing Secret. Fix: create a Secret whose `LIVEKIT_KEYS` entry (the key `livekit.keys.existingSecret.livekitKeysKey` names) holds the one line `<key>: <secret>`, and set `livekit.keys.existingSecret.name` to its name.
    ");
}

#[test]
fn guard_inline_api_secret_shorter_than_32() {
    let bad = site_with("livekit.keys", "{apiKey: devkey, apiSecret: short}").replacen(
        "namespace:",
        "allowInlineSecrets: true\nnamespace:",
        1,
    );
    let refused = refused_without_writing(&bad, "livekit.keys.apiSecret");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:24:5: `livekit.keys.apiSecret` is 5 characters long; LiveKit needs at least 32 and would run with a weak key. Fix: generate one with `openssl rand -hex 32`, or use `livekit.keys.existingSecret.name`.
    ");
}

#[test]
fn guard_host_alias_ip_not_an_ip_address() {
    let bad = site_with(
        "lkJwt.hostAliases",
        "[{ip: ingress.example.org, hostnames: [matrix.example.org]}]",
    );
    let refused = refused_without_writing(&bad, "lkJwt.hostAliases[0].ip");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:46:5: `lkJwt.hostAliases[0].ip` is `ingress.example.org`, which is not an IP address: Kubernetes writes it into the pod's `/etc/hosts` and refuses anything else. Fix: write the ClusterIP of the ingress controller's or gateway's Service (`kubectl get svc -n <controller namespace>`), e.g. `10.96.0.80`.
    ");
}

#[test]
fn guard_host_alias_without_hostnames() {
    let bad = site_with("lkJwt.hostAliases", "[{ip: 10.96.0.80, hostnames: []}]");
    let refused = refused_without_writing(&bad, "lkJwt.hostAliases[0].hostnames");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:47:5: `lkJwt.hostAliases[0].hostnames` is empty: a host alias with no names resolves nothing, and Kubernetes refuses it. Fix: list the names lk-jwt must reach through `ip`, e.g. `[<homeserver.serverName>]`, or remove the entry.
    ");
}

#[test]
fn guard_host_alias_hostname_not_a_dns_name() {
    let bad = site_with(
        "lkJwt.hostAliases",
        "[{ip: 10.96.0.80, hostnames: ['matrix.example.org:443']}]",
    );
    let refused = refused_without_writing(&bad, "lkJwt.hostAliases[0].hostnames[0]");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:48:7: `lkJwt.hostAliases[0].hostnames[0]` is `matrix.example.org:443`, which is not a DNS name: labels may only hold lowercase letters, digits and `-`. Fix: write a lowercase, fully qualified name such as `matrix.example.org` (no scheme, port or path).
    ");
}

#[test]
fn guard_removed_api_key_key() {
    let bad = site_with("livekit.keys.existingSecret.apiKeyKey", "LIVEKIT_API_KEY");
    let refused = refused_without_writing(&bad, "livekit.keys.existingSecret.apiKeyKey");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:24:7: `livekit.keys.existingSecret.apiKeyKey` no longer exists: lk-jwt and LiveKit both read the one `<key>: <secret>` line of the keys Secret's `livekit.keys.existingSecret.livekitKeysKey` entry (default `LIVEKIT_KEYS`), so a separate API key or secret entry is never read. Fix: remove it, and make sure the `livekitKeysKey` entry of the Secret holds `<key>: <secret>` (its separate key and secret entries can go).
    ");
}

#[test]
fn guard_removed_api_secret_key() {
    let bad = site_with(
        "overlays.external.livekit.keys.existingSecret.apiSecretKey",
        "LIVEKIT_API_SECRET",
    );
    let refused = refused_without_writing(
        &bad,
        "overlays.external.livekit.keys.existingSecret.apiSecretKey",
    );
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:44:11: `overlays.external.livekit.keys.existingSecret.apiSecretKey` no longer exists: lk-jwt and LiveKit both read the one `<key>: <secret>` line of the keys Secret's `livekit.keys.existingSecret.livekitKeysKey` entry (default `LIVEKIT_KEYS`), so a separate API key or secret entry is never read. Fix: remove it, and make sure the `livekitKeysKey` entry of the Secret holds `<key>: <secret>` (its separate key and secret entries can go).
    ");
}

#[test]
fn guard_inline_api_secret_with_a_colon() {
    let bad = site_with(
        "livekit.keys",
        "{apiKey: devkey, apiSecret: 'dev:secret-that-is-at-least-32-characters'}",
    )
    .replacen("namespace:", "allowInlineSecrets: true\nnamespace:", 1);
    let refused = refused_without_writing(&bad, "livekit.keys.apiSecret");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:24:5: `livekit.keys.apiSecret` contains a `:` or whitespace, but the generator writes the inline key and secret as the one line `<apiKey>: <apiSecret>` that both servers read: lk-jwt splits it at `:` and refuses to start unless that gives exactly two parts, and whitespace is trimmed by lk-jwt and read differently by LiveKit's YAML parser. Fix: use only letters, digits and punctuation other than `:`, e.g. a secret from `openssl rand -hex 32`.
    ");
}

#[test]
fn guard_turn_without_domain() {
    let bad = site_without("livekit.turn.domain");
    let refused = refused_without_writing(&bad, "livekit.turn.domain");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:30:3: `livekit.turn.domain` is not set, but overlay `bundled-turn` enables TURN: it is the name clients dial and the certificate name they check, so the relay would be unreachable. Fix: set it to a DNS name that resolves to the `livekit-rtc` LoadBalancer IP (not serverName).
    ");
}

#[test]
fn guard_turn_without_tls_secret() {
    let bad = site_without("livekit.turn.tls");
    let refused = refused_without_writing(&bad, "livekit.turn.tls.existingSecret");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:30:3: `livekit.turn.tls.existingSecret` is not set, but overlay `bundled-turn` enables TURN: LiveKit terminates TURN's TLS itself, and without a certificate clients behind strict NATs fail silently. Fix: set it to the name of a `kubernetes.io/tls` Secret for `livekit.turn.domain`.
    ");
}

#[test]
fn guard_turn_domain_equal_to_server_name() {
    let bad = site_with("livekit.turn.domain", "matrix.example.org");
    let refused = refused_without_writing(&bad, "livekit.turn.domain");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:31:5: `livekit.turn.domain` is `matrix.example.org`, the same as `homeserver.serverName`: clients dial `turns:matrix.example.org:443`, which would land on the HTTP ingress instead of LiveKit. Fix: use a separate name, e.g. `turn.matrix.example.org`, resolving to the `livekit-rtc` LoadBalancer IP.
    ");
}

#[test]
fn guard_turn_tls_port_privileged() {
    let bad = site_with("livekit.turn.tlsPort", "443");
    let refused = refused_without_writing(&bad, "livekit.turn.tlsPort");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:32:5: `livekit.turn.tlsPort` is 443: ports up to 1024 need root or NET_BIND_SERVICE, and the pod runs unprivileged. The LoadBalancer already maps 443 to this port. Fix: use a port above 1024, e.g. 5349.
    ");
}

#[test]
fn guard_lk_jwt_without_public_url() {
    let bad = site_without("livekit.publicUrl");
    let refused = refused_without_writing(&bad, "livekit.publicUrl");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:19:1: `livekit.publicUrl` is not set, but lk-jwt-service is enabled: it is the `wss://` SFU URL lk-jwt returns to clients, and calls fail silently without it. Fix: set it, e.g. `wss://<homeserver.serverName>` for the bundled LiveKit.
    ");
}

#[test]
fn guard_public_url_not_wss() {
    let bad = site_with(
        "overlays.external.livekit.publicUrl",
        "ws://livekit.example.net",
    );
    let refused = refused_without_writing(&bad, "overlays.external.livekit.publicUrl");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:40:7: `overlays.external.livekit.publicUrl` is `ws://livekit.example.net`, which is not a `wss://` URL: browsers on an https page refuse plain `ws://`, and lk-jwt needs the public address. Fix: write `wss://<host>`.
    ");
}

#[test]
fn guard_bundled_public_url_on_another_host() {
    let bad = site_with("livekit.publicUrl", "wss://sfu.example.org");
    let refused = refused_without_writing(&bad, "livekit.publicUrl");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:20:3: `livekit.publicUrl` is `wss://sfu.example.org`, but the generated ingress serves only `matrix.example.org`, so clients would reach nothing there. Fix: set it to `wss://matrix.example.org`.
    ");
}

#[test]
fn guard_external_livekit_without_keys_secret() {
    let bad = set(
        &site_without("livekit.keys"),
        "overlays",
        "{external: {livekit: {publicUrl: 'wss://livekit.example.net'}}}",
    );
    let refused =
        refused_without_writing(&bad, "overlays.external.livekit.keys.existingSecret.name");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:33:5: `overlays.external.livekit.keys.existingSecret.name` is not set, but overlay `external` uses an operator-managed LiveKit: lk-jwt needs that SFU's API key and secret, and would reference a missing Secret. Fix: create a Secret whose `LIVEKIT_KEYS` entry holds the external SFU's key as the one line `<key>: <secret>`, and set `overlays.external.livekit.keys.existingSecret.name` to its name.
    ");
}

#[test]
fn guard_bundled_livekit_without_node_ip() {
    let bad = site_without("livekit.rtc.nodeIp");
    let refused = refused_without_writing(&bad, "livekit.rtc.nodeIp");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused (2 problems):
    bundle.yaml:28:5: `livekit.rtc.pinLoadBalancerIp` is `spec`, but `livekit.rtc.nodeIp` is not set: the pin asks the LoadBalancer for exactly that address, and STUN discovery finds an address only after the LoadBalancer has one. Fix: set `livekit.rtc.nodeIp` to the address reserved for the `livekit-rtc` LoadBalancer, or set `livekit.rtc.pinLoadBalancerIp: none`.
    bundle.yaml:25:3: `livekit.rtc.nodeIp` is not set: LiveKit would advertise its pod IP, which clients cannot reach, so calls connect but carry no media. Fix: set it to the public IP of the `livekit-rtc` LoadBalancer, or set `livekit.rtc.useExternalIp: true` to discover it with STUN.
    ");
}

#[test]
fn guard_node_ip_not_an_ip_address() {
    let bad = site_with("livekit.rtc.nodeIp", "lb.example.org");
    let refused = refused_without_writing(&bad, "livekit.rtc.nodeIp");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml:28:5: invalid value at `livekit.rtc.nodeIp`: `lb.example.org` is not an IP address: LiveKit advertises it verbatim as its ICE candidate. Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`, or one of each as `<IPv4>,<IPv6>`, e.g. `203.0.113.10,2001:db8::10`
    ");
}

#[test]
fn guard_image_without_tag_or_digest() {
    let bad = unset(
        &site_without("images.homeserver.tag"),
        "images.homeserver.digest",
    );
    let refused = refused_without_writing(&bad, "images.homeserver");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:50:3: `images.homeserver` has neither `tag` nor `digest`: the image would float to whatever the registry serves. Fix: pin it as `tag` plus `digest` (run `bundle pins refresh`).
    ");
}

#[test]
fn guard_image_tag_latest() {
    let bad = site_with("images.livekit.tag", "latest");
    let refused = refused_without_writing(&bad, "images.livekit.tag");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:60:5: `images.livekit.tag` is `latest`, a tag that moves: two pulls can run different code and an update never shows up in git. Fix: pin a release tag and its digest (run `bundle pins refresh`).
    ");
}

#[test]
fn guard_malformed_digest() {
    let bad = site_with("images.lkJwt.digest", "sha256:822f0c03");
    let refused = refused_without_writing(&bad, "images.lkJwt.digest");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml:69:5: invalid value at `images.lkJwt.digest`: `sha256:822f0c03` is not a digest: write `sha256:` followed by 64 lowercase hex digits (as printed by `skopeo inspect` or `bundle pins status`)
    ");
}

#[test]
fn guard_unknown_key() {
    let bad = site_with("livekit.rtc.nodeIP", "203.0.113.10");
    let refused = refused_without_writing(&bad, "livekit.rtc.nodeIP");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml:30:5: unknown key `livekit.rtc.nodeIP`; did you mean `nodeIp`?
    ");
}

#[test]
fn guard_livekit_disabled_for_a_bundled_overlay() {
    let bad = site_with("overlays.bundled.livekit.enabled", "false");
    let refused = refused_without_writing(&bad, "overlays.bundled.livekit.enabled");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:38:7: `overlays.bundled.livekit.enabled` is false, but overlay `bundled` deploys LiveKit in the cluster: the overlay's name decides whether LiveKit is bundled. Fix: remove `overlays.bundled.livekit.enabled`; for an operator-managed LiveKit, list overlay `external` instead.
    ");
}

#[test]
fn guard_livekit_enabled_for_the_external_overlay() {
    let bad = site_with("overlays.external.livekit.enabled", "true");
    let refused = refused_without_writing(&bad, "overlays.external.livekit.enabled");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:44:7: `overlays.external.livekit.enabled` is true, but overlay `external` uses an operator-managed LiveKit: the overlay's name decides whether LiveKit is bundled. Fix: remove `overlays.external.livekit.enabled`; to deploy LiveKit in the cluster, list overlay `bundled` or `bundled-turn`.
    ");
}

#[test]
fn guard_turn_enabled_for_the_bundled_overlay() {
    let bad = site_with("overlays.bundled.livekit.turn.enabled", "true");
    let refused = refused_without_writing(&bad, "overlays.bundled.livekit.turn.enabled");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:39:9: `overlays.bundled.livekit.turn.enabled` is true, but overlay `bundled` runs LiveKit without TURN: the overlay's name decides whether TURN is on. Fix: remove `overlays.bundled.livekit.turn.enabled`; for TURN over TLS, list overlay `bundled-turn`.
    ");
}

#[test]
fn guard_bundled_overlays_differ() {
    let bad = site_with("overlays.bundled-turn.livekit.rtc.tcpPort", "7891");
    let refused = refused_without_writing(&bad, "livekit.rtc.tcpPort");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:27:5: `livekit.rtc.tcpPort` is 7881 for overlay `bundled` but 7891 for `bundled-turn`; both use the one `overlays/components/livekit`, so only `livekit.turn` may differ. Fix: set it once under the top-level `livekit:` (or identically in both overlays).
    ");
}

#[test]
fn guard_no_overlays() {
    let bad = site_with("overlays", "{}");
    let refused = refused_without_writing(&bad, "overlays");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:35:1: `overlays` is empty, so there is nothing to generate. Fix: list at least one of `bundled`, `bundled-turn` and `external`, or remove `overlays` to generate all three.
    ");
}

#[test]
fn guard_livekit_port_privileged() {
    let bad = site_with("livekit.rtc.tcpPort", "80");
    let refused = refused_without_writing(&bad, "livekit.rtc.tcpPort");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:27:5: `livekit.rtc.tcpPort` is 80: ports up to 1024 need root or NET_BIND_SERVICE, and the LiveKit pod runs unprivileged with every capability dropped (and the `livekit-rtc` LoadBalancer exposes the same port number). Fix: use a port above 1024; LiveKit's defaults are 7880 (signalling), 7881 (TCP) and 7882 (UDP).
    ");
}

#[test]
fn guard_livekit_ports_collide() {
    let bad = site_with("livekit.turn.tlsPort", "7880");
    let refused = refused_without_writing(&bad, "livekit.turn.tlsPort");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:32:5: `livekit.turn.tlsPort` is 7880, the same TCP port as `livekit.rtc.signalingPort`: LiveKit cannot listen on one port twice and would not start. Fix: give each of `livekit.rtc.signalingPort`, `livekit.rtc.tcpPort` and `livekit.turn.tlsPort` its own port.
    ");
}

#[test]
fn guard_allow_list_for_an_unsupported_ingress_class() {
    let bad = set(
        &site_with("ingress.className", "traefik"),
        "ingress.whitelistSourceRange",
        "'192.0.2.0/24'",
    );
    let refused = refused_without_writing(&bad, "ingress.whitelistSourceRange");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:7:3: `ingress.whitelistSourceRange` is set, but the generator only knows how to write an allow-list for the `nginx` and `haproxy` ingress classes, and `ingress.className` is `traefik`: the list would be silently dropped and the stack open to everyone. Fix: remove `ingress.whitelistSourceRange` and put your controller's allow-list annotation under `ingress.annotations`.
    ");
}

// The advertised address and the TURN relay ports.

#[test]
fn guard_node_ip_not_unicast() {
    let bad = site_with("livekit.rtc.nodeIp", "224.0.0.1");
    let refused = refused_without_writing(&bad, "livekit.rtc.nodeIp");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:28:5: `livekit.rtc.nodeIp` is `224.0.0.1`, a multicast address: LiveKit advertises it as its ICE candidate, and media can only be sent to one host's (unicast) address. Fix: write the LoadBalancer's public IPv4 or IPv6 address, e.g. `203.0.113.10`.
    ");
}

#[test]
fn guard_private_node_ip_with_turn() {
    let bad = site_with("livekit.rtc.nodeIp", "192.168.1.5");
    let refused = refused_without_writing(&bad, "livekit.rtc.nodeIp");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:28:5: `livekit.rtc.nodeIp` is `192.168.1.5`, a private (RFC 1918) address, but overlay `bundled-turn` enables TURN: the relay sends media to that address, LiveKit's TURN refuses private, loopback and link-local peers unless its `turn.allow_restricted_peer_cidrs` lists them, and clients on the internet cannot reach such an address anyway. Fix: set `livekit.rtc.nodeIp` to the LoadBalancer's public IP; for a site reachable only on its own network, list a CIDR holding it in `livekit.turn.allowRestrictedPeerCidrs`, e.g. `[192.168.1.5/32]`.
    ");
}

#[test]
fn guard_allowed_peer_cidr_not_a_cidr() {
    let bad = site_with("livekit.turn.allowRestrictedPeerCidrs", "['fd00::']");
    let refused = refused_without_writing(&bad, "livekit.turn.allowRestrictedPeerCidrs");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:35:5: `livekit.turn.allowRestrictedPeerCidrs` holds `fd00::`, which is not a CIDR: LiveKit parses every entry at startup and refuses to start on one it cannot read. Fix: write an address with its prefix length, e.g. `192.168.10.0/24` or `fd00::/8`.
    ");
}

#[test]
fn guard_pin_without_node_ip() {
    let bad = set(
        &site_without("livekit.rtc.nodeIp"),
        "livekit.rtc.useExternalIp",
        "true",
    );
    let refused = refused_without_writing(&bad, "livekit.rtc.pinLoadBalancerIp");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:28:5: `livekit.rtc.pinLoadBalancerIp` is `spec`, but `livekit.rtc.nodeIp` is not set: the pin asks the LoadBalancer for exactly that address, and STUN discovery finds an address only after the LoadBalancer has one. Fix: set `livekit.rtc.nodeIp` to the address reserved for the `livekit-rtc` LoadBalancer, or set `livekit.rtc.pinLoadBalancerIp: none`.
    ");
}

#[test]
fn guard_pin_contradicted_by_a_service_annotation() {
    let bad = set(
        &site_with("livekit.rtc.pinLoadBalancerIp", "metallb"),
        "livekit.rtc.serviceAnnotations",
        "{metallb.io/loadBalancerIPs: 203.0.113.11}",
    );
    let refused = refused_without_writing(&bad, "livekit.rtc.serviceAnnotations");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:30:5: `livekit.rtc.serviceAnnotations` sets `metallb.io/loadBalancerIPs` to `203.0.113.11`, but `livekit.rtc.pinLoadBalancerIp` writes that annotation with `203.0.113.10`, the address LiveKit advertises: the LoadBalancer would get one of the two and calls would carry no media if it got the other. Fix: remove `metallb.io/loadBalancerIPs` from `livekit.rtc.serviceAnnotations`.
    ");
}

#[test]
fn guard_relay_port_privileged() {
    let bad = site_with("livekit.turn.relayPortRange", "{start: 80, end: 99}");
    let refused = refused_without_writing(&bad, "livekit.turn.relayPortRange.start");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused (2 problems):
    bundle.yaml:36:7: `livekit.turn.relayPortRange.start` is 80: ports below 1024 need root or NET_BIND_SERVICE, and the LiveKit pod runs unprivileged (the `livekit-rtc` LoadBalancer exposes the same number). Fix: use ports from 1024 to 65535, e.g. the default 33000-33019.
    bundle.yaml:37:7: `livekit.turn.relayPortRange.end` is 99: ports below 1024 need root or NET_BIND_SERVICE, and the LiveKit pod runs unprivileged (the `livekit-rtc` LoadBalancer exposes the same number). Fix: use ports from 1024 to 65535, e.g. the default 33000-33019.
    ");
}

#[test]
fn guard_relay_port_range_reversed() {
    let bad = site_with("livekit.turn.relayPortRange", "{start: 33019, end: 33000}");
    let refused = refused_without_writing(&bad, "livekit.turn.relayPortRange");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:35:5: `livekit.turn.relayPortRange` runs from 33019 to 33000, which holds no port, so LiveKit's TURN could relay no media. Fix: make `start` at most `end`, e.g. `{start: 33000, end: 33019}`.
    ");
}

#[test]
fn guard_relay_port_range_too_large() {
    let bad = site_with("livekit.turn.relayPortRange", "{start: 30000, end: 40000}");
    let refused = refused_without_writing(&bad, "livekit.turn.relayPortRange");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:35:5: `livekit.turn.relayPortRange` runs from 30000 to 40000, 10001 ports: each becomes a port of the `livekit-rtc` Service and of the pod, and load balancers limit how many ports one Service may have. Fix: use at most 100 ports (one relayed participant holds one or two), e.g. `{start: 30000, end: 30099}`.
    ");
}

#[test]
fn guard_relay_port_range_collides() {
    let bad = site_with("livekit.turn.relayPortRange", "{start: 7880, end: 7899}");
    let refused = refused_without_writing(&bad, "livekit.turn.relayPortRange");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:35:5: `livekit.turn.relayPortRange` runs from 7880 to 7899, which holds UDP port 7882, but the `livekit-rtc` Service already exposes it for `livekit.rtc.udpPort`: a Service cannot expose one port twice, so Kubernetes would refuse it. Fix: move `livekit.turn.relayPortRange` clear of the other LiveKit ports.
    ");
}

// ---- how the media ports leave the cluster: refused with exit 2, nothing written ------------

/// The site without TURN (NodePort and the host network refuse it) and without its
/// LoadBalancer pin.
fn site_bundled_unpinned() -> String {
    set(
        &site_with("overlays", "{bundled: {}}"),
        "livekit.rtc.pinLoadBalancerIp",
        "none",
    )
}

#[test]
fn guard_split_services_without_a_pin() {
    let bad = set(
        &site_with("livekit.rtc.pinLoadBalancerIp", "none"),
        "livekit.rtc.splitServices",
        "true",
    );
    let refused = refused_without_writing(&bad, "livekit.rtc.splitServices");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:30:5: `livekit.rtc.splitServices` is true, but `livekit.rtc.pinLoadBalancerIp` is `none`: each of the LoadBalancer Services `livekit-rtc-udp` and `livekit-rtc-tcp` would get an address of its own, while LiveKit advertises the one `livekit.rtc.nodeIp` for both, so the media of one protocol would go nowhere. Fix: set `livekit.rtc.pinLoadBalancerIp` to the way your load balancer takes a requested address (`spec`, `metallb`, `cilium` or `kube-vip`), so both Services ask for `nodeIp`, or set `livekit.rtc.splitServices: false` where one Service may carry UDP and TCP.
    ");
}

#[test]
fn guard_node_port_media_ports_outside_the_node_port_range() {
    let bad = set(
        &site_bundled_unpinned(),
        "livekit.rtc.serviceType",
        "NodePort",
    );
    let refused = refused_without_writing(&bad, "livekit.rtc.udpPort");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused (2 problems):
    bundle.yaml:26:5: `livekit.rtc.udpPort` is 7882, but `livekit.rtc.serviceType` is `NodePort`: LiveKit advertises the port it listens on, so the node port clients dial must be that same number, and Kubernetes takes node ports only from its NodePort range, 30000-32767 unless the cluster's kube-apiserver sets another with `--service-node-port-range`. Fix: use a free port of that range, e.g. 30882.
    bundle.yaml:27:5: `livekit.rtc.tcpPort` is 7881, but `livekit.rtc.serviceType` is `NodePort`: LiveKit advertises the port it listens on, so the node port clients dial must be that same number, and Kubernetes takes node ports only from its NodePort range, 30000-32767 unless the cluster's kube-apiserver sets another with `--service-node-port-range`. Fix: use a free port of that range, e.g. 30881.
    ");
}

#[test]
fn guard_node_port_with_turn() {
    let bad = set(
        &site_with("livekit.rtc.pinLoadBalancerIp", "none"),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, serviceType: NodePort, udpPort: 30882, tcpPort: 30881}",
    );
    let refused = refused_without_writing(&bad, "livekit.rtc.serviceType");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:27:5: `livekit.rtc.serviceType` is `NodePort`, but overlay `bundled-turn` enables TURN: clients always dial `turns:<livekit.turn.domain>:443`, and a NodePort Service cannot publish port 443 (node ports are 30000-32767 by default). Fix: set `livekit.rtc.serviceType: LoadBalancer`, or remove `bundled-turn` from `overlays`.
    ");
}

#[test]
fn guard_node_port_with_a_load_balancer_pin() {
    let bad = set(
        &site_with("overlays", "{bundled: {}}"),
        "livekit.rtc",
        "{nodeIp: 203.0.113.10, serviceType: NodePort, udpPort: 30882, tcpPort: 30881, \
         pinLoadBalancerIp: spec}",
    );
    let refused = refused_without_writing(&bad, "livekit.rtc.pinLoadBalancerIp");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:30:5: `livekit.rtc.pinLoadBalancerIp` is `spec`, but `livekit.rtc.serviceType` is `NodePort`: the pin asks a load balancer for `livekit.rtc.nodeIp`, and a NodePort Service has none (`nodeIp` is then a node's public address). Fix: set `livekit.rtc.pinLoadBalancerIp: none`, or `livekit.rtc.serviceType: LoadBalancer`.
    ");
}

#[test]
fn guard_host_network_with_turn() {
    let bad = set(
        &site_with("livekit.rtc.pinLoadBalancerIp", "none"),
        "livekit.hostNetwork",
        "true",
    );
    let refused = refused_without_writing(&bad, "livekit.hostNetwork");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:35:3: `livekit.hostNetwork` is true, but overlay `bundled-turn` enables TURN: clients always dial `turns:<livekit.turn.domain>:443`, so on the host network the pod would have to bind port 443 of its node, which the unprivileged pod cannot. Fix: set `livekit.hostNetwork: false` (TURN then goes through a LoadBalancer, which maps 443 to `livekit.turn.tlsPort`), or remove `bundled-turn` from `overlays`.
    ");
}

#[test]
fn guard_media_service_setting_with_the_host_network() {
    let bad = set(
        &site_with("overlays", "{bundled: {}}"),
        "livekit.hostNetwork",
        "true",
    );
    let refused = refused_without_writing(&bad, "livekit.rtc.pinLoadBalancerIp");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:29:5: `livekit.rtc.pinLoadBalancerIp` is `spec`, but `livekit.hostNetwork` is true: on the host network the media ports are the node's own and no media Service is rendered, so the setting would be silently dropped. Fix: remove `livekit.rtc.pinLoadBalancerIp`, or set `livekit.hostNetwork: false`.
    ");
}

#[test]
fn a_refused_config_writes_nothing_into_an_empty_directory() {
    let work = Workdir::with_config(&site_without("homeserver.serverName"));
    let run = work.bundle(&["gen"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:10:1: `homeserver.serverName` is not set: it is baked into every user and room ID and is the ingress host. Fix: set it to the server's DNS name, e.g. `matrix.example.org` (it cannot change once data exists).
    ");
    assert_eq!(
        work.files().into_keys().collect::<Vec<_>>(),
        [Path::new("bundle.yaml")]
    );
}

// ---- gen -------------------------------------------------------------------------------------------

#[test]
fn gen_writes_the_tree_reports_on_stderr_and_then_finds_it_up_to_date() {
    let work = Workdir::site();
    let run = work.bundle(&["gen"]).success();
    let written = work.files().len() - 1;
    assert!(work.path().join("base/kustomization.yaml").is_file());
    assert!(
        work.path()
            .join("overlays/bundled-turn/kustomization.yaml")
            .is_file()
    );
    assert_eq!(run.stdout(), "", "status lines go to stderr");
    assert!(
        run.stderr().starts_with("wrote base/"),
        "{}",
        run.transcript()
    );
    assert!(
        run.stderr()
            .ends_with(&format!(".: {written} written, 0 unchanged, 0 removed\n")),
        "{}",
        run.transcript()
    );
    assert_eq!(run.stderr().matches("wrote ").count(), written);

    let again = work.bundle(&["gen"]).success();
    assert_eq!(
        again.transcript(),
        format!("exit: 0\n--- stdout\n--- stderr\n.: 0 written, {written} unchanged, 0 removed\n")
    );
    let check = work.bundle(&["gen", "--check"]).success();
    assert_eq!(
        check.transcript(),
        format!("exit: 0\n--- stdout\n--- stderr\nup to date: {written} files in .\n")
    );
}

#[test]
fn gen_writes_below_the_out_directory() {
    let work = Workdir::site();
    work.bundle(&["gen", "--out", "gitops"]).success();
    assert!(work.path().join("gitops/base/kustomization.yaml").is_file());
    assert!(!work.path().join("base").exists());
}

/// The site's tree with one file changed by hand, one deleted, and a generated file the tree
/// no longer has.
fn site_with_an_out_of_date_tree() -> Workdir {
    let work = Workdir::site();
    work.bundle(&["gen"]).success();
    let root = work.path();
    let edited = root.join("overlays/bundled/kustomization.yaml");
    let mut bytes = fs::read(&edited).expect("read");
    bytes.extend_from_slice(b"# local edit\n");
    fs::write(&edited, bytes).expect("write");
    fs::remove_file(root.join("overlays/external/kustomization.yaml")).expect("remove");
    let stale = format!("{}kind: ConfigMap\n", bundle_gen::GENERATED_HEADER);
    fs::write(root.join("base/old-configmap.yaml"), stale).expect("write");
    work
}

#[test]
fn gen_check_lists_every_out_of_date_file_on_stdout_writes_nothing_and_exits_1() {
    let work = site_with_an_out_of_date_tree();
    let before = work.files();

    let run = work.bundle(&["gen", "--check"]);

    assert_snapshot!(run.transcript(), @r"
    exit: 1
    --- stdout
    out of date: overlays/bundled/kustomization.yaml
    missing: overlays/external/kustomization.yaml
    stale: base/old-configmap.yaml
    --- stderr
    .: 3 files out of date; `bundle gen` rewrites them from bundle.yaml
    ");
    assert!(work.files() == before, "--check wrote to the tree");
}

#[test]
fn an_io_error_names_the_file_and_its_cause_once() {
    let work = Workdir::site();
    // A file where the tree needs the directory `base/`.
    fs::write(work.path().join("base"), "").expect("write");
    let run = work.bundle(&["gen"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot write the tree to .: reading ./base/kustomization.yaml: Not a directory (os error 20)
    ");
}

// ---- csp -------------------------------------------------------------------------------------------

#[test]
fn csp_prints_https_and_wss_sources_for_the_server_and_the_external_livekit() {
    let run = Workdir::site().bundle(&["csp"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 0
    --- stdout
    connect-src https://matrix.example.org wss://matrix.example.org https://livekit.example.net wss://livekit.example.net
    media-src https://matrix.example.org
    img-src https://matrix.example.org
    --- stderr
    ");
}

// ---- -q: data and errors only ----------------------------------------------------------------------

#[test]
fn quiet_gen_writes_the_tree_and_prints_nothing() {
    let work = Workdir::site();
    let run = work.bundle(&["-q", "gen"]);
    assert_eq!(run.transcript(), "exit: 0\n--- stdout\n--- stderr\n");
    assert!(work.path().join("base/kustomization.yaml").is_file());
}

#[test]
fn quiet_is_accepted_after_the_subcommand_too() {
    let work = Workdir::site();
    let run = work.bundle(&["validate", "--quiet"]);
    assert_eq!(run.transcript(), "exit: 0\n--- stdout\n--- stderr\n");
}

#[test]
fn quiet_gen_check_still_lists_the_out_of_date_files() {
    let work = site_with_an_out_of_date_tree();
    let run = work.bundle(&["gen", "--check", "-q"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 1
    --- stdout
    out of date: overlays/bundled/kustomization.yaml
    missing: overlays/external/kustomization.yaml
    stale: base/old-configmap.yaml
    --- stderr
    ");
}

#[test]
fn quiet_still_prints_errors() {
    let work = Workdir::with_config(&site_with("homeserver.serverName", "''"));
    let run = work.bundle(&["-q", "validate"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:11:3: `homeserver.serverName` is not set: it is baked into every user and room ID and is the ingress host. Fix: set it to the server's DNS name, e.g. `matrix.example.org` (it cannot change once data exists).
    ");
}

#[test]
fn quiet_still_prints_data() {
    let work = Workdir::site();
    let quiet = work.bundle(&["-q", "csp"]);
    let plain = work.bundle(&["csp"]);
    assert_eq!(quiet.transcript(), plain.transcript());
    assert_ne!(quiet.stdout(), "");
}

#[test]
fn quiet_and_verbose_together_are_refused() {
    let work = Workdir::site();
    let run = work.bundle(&["-q", "validate", "-v"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: --quiet cannot be used with --verbose: -q drops the log messages -v asks for

    Usage: bundle [OPTIONS] <COMMAND>

    For more information, try '--help'.
    ");
    // On one level, or split between the root and the subcommand: the same refusal.
    for args in [&["-q", "-v", "validate"][..], &["validate", "-qv"]] {
        assert_eq!(work.bundle(args).stderr(), run.stderr(), "{args:?}");
    }
}

#[test]
fn an_invalid_rust_log_is_refused_before_anything_runs() {
    let work = Workdir::site();
    let run = work.run(work.command(&["gen"]).env("RUST_LOG", "pin_refresh=loud"));
    assert_snapshot!(run.transcript(), @r#"
    exit: 2
    --- stdout
    --- stderr
    error: RUST_LOG=`pin_refresh=loud` is not a log filter (error parsing level filter: expected one of "off", "error", "warn", "info", "debug", "trace", or a number 0-5); write a level (`debug`) or `target=level` pairs separated by commas (`warn,pin_refresh=debug`)
    "#);
    assert!(!work.path().join("base").exists(), "gen ran");
}

#[test]
fn a_span_filter_in_rust_log_is_refused_rather_than_read_as_a_target() {
    let work = Workdir::site();
    let run = work.run(
        work.command(&["gen"])
            .env("RUST_LOG", "warn,pin_refresh[check]=debug"),
    );
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: RUST_LOG=`warn,pin_refresh[check]=debug` is not a log filter (`pin_refresh[check]=debug` filters by span or field, which bundle does not support); write a level (`debug`) or `target=level` pairs separated by commas (`warn,pin_refresh=debug`)
    ");
    assert!(!work.path().join("base").exists(), "gen ran");
}

// ---- help ------------------------------------------------------------------------------------------

/// Every command path of the CLI, the root (`[]`) included, from the clap definition.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(command: &clap::Command, path: Vec<String>, paths: &mut Vec<Vec<String>>) {
        for subcommand in command.get_subcommands() {
            let mut sub_path = path.clone();
            sub_path.push(subcommand.get_name().to_owned());
            walk(subcommand, sub_path, paths);
        }
        paths.push(path);
    }
    let mut paths = Vec::new();
    walk(&bundle::Cli::command(), Vec::new(), &mut paths);
    paths
}

#[test]
fn every_command_has_help_with_examples_and_exit_codes() {
    let work = Workdir::empty();
    let paths = command_paths();
    assert!(
        paths.contains(&vec!["pins".to_owned(), "refresh".to_owned()]),
        "{paths:?}"
    );
    for mut args in paths {
        args.push("--help".to_owned());
        let run = work.bundle(&args).success();
        let help = run.stdout();
        assert!(help.contains("Examples:\n  bundle "), "{args:?}:\n{help}");
        assert!(help.contains("Exit codes:\n  0  "), "{args:?}:\n{help}");
    }
}

#[test]
fn an_unknown_argument_exits_2() {
    let run = Workdir::site().bundle(&["gen", "--chek"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: unexpected argument '--chek' found

      tip: a similar argument exists: '--check'

    Usage: bundle gen --check

    For more information, try '--help'.
    ");
}

/// What `bundle <args>` prints on a pseudo-terminal (util-linux `script`), with `env` set.
fn on_a_terminal(work: &Workdir, args: &str, env: &[(&str, &str)]) -> String {
    let bundle = assert_cmd::cargo::cargo_bin("bundle");
    let mut command = std::process::Command::new("script");
    command
        .args(["--quiet", "--command"])
        .arg(format!("'{}' {args}", bundle.display()))
        .arg("/dev/null")
        .current_dir(work.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", work.home())
        // A terminal that shows colour, so that NO_COLOR is the only difference.
        .env("TERM", "xterm-256color")
        .stdin(std::process::Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("script runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn usage_errors_are_coloured_on_a_terminal_unless_no_color_is_set() {
    let work = Workdir::site();
    let coloured = on_a_terminal(&work, "gen --chek", &[]);
    assert!(coloured.contains("\x1b["), "{coloured:?}");
    let plain = on_a_terminal(&work, "gen --chek", &[("NO_COLOR", "1")]);
    assert!(
        plain.starts_with("error: unexpected argument '--chek' found"),
        "{plain:?}"
    );
    assert!(!plain.contains('\x1b'), "{plain:?}");
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let work = Workdir::site();
    let (reader, writer) = std::io::pipe().expect("pipe");
    // Closed before the command starts: its first write fails with EPIPE.
    drop(reader);
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("bundle"))
        .current_dir(work.path())
        .env_clear()
        .arg("csp")
        .stdout(writer)
        .output()
        .expect("run bundle");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

// ---- Gateway API ---------------------------------------------------------------------------------

/// The site with Gateway API on, attached to one listener of a shared Gateway.
fn site_with_gateway() -> String {
    site_with(
        "gateway",
        "{enabled: true, parentRefs: [{name: public, namespace: gateway-system, sectionName: https}]}",
    )
}

#[test]
fn gen_with_gateway_api_replaces_the_ingress_by_http_routes() {
    let work = Workdir::site();
    work.bundle(&["gen"]).success();
    work.write_config(&unset(&site_with_gateway(), "ingress"));
    work.bundle(&["gen"]).success();
    let files: Vec<String> = work
        .files()
        .into_keys()
        .map(|path| path.display().to_string())
        .filter(|path| path.contains("ingress") || path.contains("httproute"))
        .collect();
    assert_eq!(
        files,
        [
            "base/matrix-httproute.yaml",
            "overlays/components/livekit/matrix-livekit-httproute.yaml",
            "overlays/external/matrix-external-httproute.yaml",
        ]
    );
}

#[test]
fn guard_ingress_settings_written_with_gateway_api() {
    // The site writes `ingress.className` and `ingress.tls`.
    let refused = refused_without_writing(&site_with_gateway(), "ingress.tls");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused (2 problems):
    bundle.yaml:3:3: `ingress.className` is set, but `gateway.enabled` is true, so no Ingress is rendered and the setting would be silently dropped: the Gateway's controller is chosen by the Gateway's `gatewayClassName`. Fix: remove `ingress.className` and attach the routes to a Gateway of the class you want in `gateway.parentRefs`, or set `gateway.enabled: false`.
    bundle.yaml:4:3: `ingress.tls` is set, but `gateway.enabled` is true, so no Ingress is rendered and the setting would be silently dropped: TLS belongs to the Gateway's listener, which holds the certificate for serverName. Fix: remove `ingress.tls` and give the Gateway an HTTPS listener on 443 whose `certificateRefs` name the certificate for `homeserver.serverName`, or set `gateway.enabled: false`.
    ");
}

#[test]
fn guard_gateway_api_without_parent_refs() {
    let bad = set(&unset(&site_yaml(), "ingress"), "gateway.enabled", "true");
    let refused = refused_without_writing(&bad, "gateway.parentRefs");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:69:1: `gateway.parentRefs` is empty, but `gateway.enabled` is true: an HTTPRoute attached to no Gateway serves nothing, and nothing else would route serverName. Fix: list the Gateway that serves `homeserver.serverName`, e.g. `[{name: public, namespace: gateway-system, sectionName: https}]`, or set `gateway.enabled: false`.
    ");
}

#[test]
fn guard_gateway_parent_ref_names_the_api_refuses() {
    let bad = set(
        &unset(&site_yaml(), "ingress"),
        "gateway",
        "{enabled: true, parentRefs: [{name: '', namespace: Gateway-System, sectionName: HTTPS}]}",
    );
    let refused = refused_without_writing(&bad, "gateway.parentRefs[0].sectionName");
    assert_snapshot!(refused, @r#"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused (3 problems):
    bundle.yaml:72:5: `gateway.parentRefs[0].name` is "", which the Gateway API refuses as the name of a parent: it is empty. Fix: write the name of the Gateway object, e.g. `public`.
    bundle.yaml:73:5: `gateway.parentRefs[0].namespace` is `Gateway-System`, which Kubernetes refuses as a namespace name: it may only hold lowercase letters, digits and `-`. Fix: write a DNS-1123 label, at most 63 lowercase letters, digits and `-` that starts and ends with a letter or digit, e.g. `matrix`.
    bundle.yaml:74:5: `gateway.parentRefs[0].sectionName` is `HTTPS`, which the Gateway API refuses as a listener name: it may only hold lowercase letters, digits, `-` and `.`. Fix: write the `name` of the Gateway's listener, a DNS-1123 subdomain such as `https`, or remove the key to attach to every listener that admits the routes.
    "#);
}

#[test]
fn guard_gateway_parent_refs_the_api_cannot_tell_apart() {
    let bad = set(
        &unset(&site_yaml(), "ingress"),
        "gateway",
        "{enabled: true, parentRefs: [{name: public}, {name: public, sectionName: https}]}",
    );
    let refused = refused_without_writing(&bad, "gateway.parentRefs[1]");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:73:5: `gateway.parentRefs[1]` selects the same Gateway as `gateway.parentRefs[0]` (matrix/public), and the Gateway API refuses parent references it cannot tell apart: two references to one Gateway must both name a listener, and different ones. Fix: give each a different `sectionName`, or remove one.
    ");
}

#[test]
fn guard_more_gateway_parent_refs_than_an_http_route_holds() {
    let parents: Vec<String> = (0..33).map(|n| format!("{{name: gateway-{n}}}")).collect();
    let bad = set(
        &unset(&site_yaml(), "ingress"),
        "gateway",
        &format!("{{enabled: true, parentRefs: [{}]}}", parents.join(", ")),
    );
    let refused = refused_without_writing(&bad, "gateway.parentRefs");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:71:3: `gateway.parentRefs` lists 33 Gateways, and the Gateway API refuses an HTTPRoute with more than 32 parent references. Fix: attach to at most 32; a Gateway with several listeners needs one entry without `sectionName` rather than one per listener.
    ");
}
