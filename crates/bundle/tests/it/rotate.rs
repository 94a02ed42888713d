//! `bundle secrets --rotate livekit`: three Secrets to apply in order (LiveKit on the old and
//! the new key with lk-jwt still on the old one, then lk-jwt on the new one, then the new key
//! alone), the steps and what to wait for on stderr, the current keys read from stdin or a
//! file, nothing written on any error.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use insta::assert_snapshot;
use serde_json::Value as Json;

use crate::support::{Run, Workdir, set, site_yaml, unset};

/// The deployed entry `LIVEKIT_KEYS` of the site's keys Secret (its `apiKeyName` is `lk-jwt`).
const CURRENT: &str = "lk-jwt: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";

/// The repository's site with lk-jwt on an entry of its own.
fn site_with_lk_jwt_entry() -> String {
    set(
        &site_yaml(),
        "livekit.keys.existingSecret.lkJwtKeyKey",
        "LK_JWT_KEYS",
    )
}

/// The repository's site with lk-jwt on an entry of its own, scaled out to three LiveKit nodes
/// sharing rooms through Redis (on the host network, without TURN, as scaling out requires).
fn scaled_site_with_lk_jwt_entry() -> String {
    [
        ("overlays", "{bundled: {}}"),
        ("livekit.hostNetwork", "true"),
        ("livekit.rtc", "{udpPort: 7882, tcpPort: 7881, nodeIpFrom: hostIP}"),
        ("livekit.replicas", "3"),
        (
            "livekit.redis",
            "{address: 'redis.matrix.svc.cluster.local:6379', existingSecret: {name: livekit-redis}}",
        ),
    ]
    .iter()
    .fold(site_with_lk_jwt_entry(), |config, (path, value)| {
        set(&config, path, value)
    })
}

/// The step files, in the order they are applied.
const STEPS: [&str; 3] = [
    "step-1-both-keys.yaml",
    "step-2-lk-jwt-new-key.yaml",
    "step-3-new-key.yaml",
];

/// `bundle secrets --rotate livekit --current-keys - --out-dir rotation` with `stdin`.
fn rotate(work: &Workdir, stdin: &str) -> Run {
    let mut command = work.command(&[
        "secrets",
        "--rotate",
        "livekit",
        "--current-keys",
        "-",
        "--out-dir",
        "rotation",
    ]);
    command.write_stdin(stdin);
    work.run(&mut command)
}

/// The new key's generated name (`lk-<16 hex>`) replaced, so a transcript can be a snapshot.
fn with_new_key_hidden(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("lk-") {
        let after = &rest[at + 3..];
        let hex = after.len() >= 16 && after.bytes().take(16).all(|b| b.is_ascii_hexdigit());
        if hex {
            out.push_str(&rest[..at]);
            out.push_str("[NEW KEY]");
            rest = &after[16..];
        } else {
            out.push_str(&rest[..at + 3]);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The `stringData` of the one Secret in the step file `name`.
fn step(work: &Workdir, name: &str) -> (Json, u32) {
    let path = work.path().join("rotation").join(name);
    let text = fs::read_to_string(&path).expect("the step file");
    let mode = fs::metadata(&path).expect("written").permissions().mode() & 0o777;
    let secret: Json = serde_norway::from_str(text.trim_start_matches("---\n")).expect("YAML");
    assert_eq!(secret["metadata"]["name"], "livekit-keys");
    assert_eq!(secret["metadata"]["namespace"], "matrix");
    (secret["stringData"].clone(), mode)
}

/// The old key's line of [`CURRENT`], without its line end.
fn old_line() -> &'static str {
    CURRENT.trim_end()
}

/// The keys of LiveKit's key file: it must parse as a YAML mapping of key names to secrets.
fn livekit_keys(data: &Json) -> BTreeMap<String, String> {
    let file = data["LIVEKIT_KEYS"].as_str().expect("LiveKit's entry");
    serde_norway::from_str(file).unwrap_or_else(|error| panic!("not a mapping ({error}): {file}"))
}

/// lk-jwt's entry: lk-jwt splits its key file on `:` and needs exactly two parts, so it must be
/// one line with exactly one `:`.
fn lk_jwt_line(data: &Json) -> &str {
    let line = data["LK_JWT_KEYS"].as_str().expect("lk-jwt's entry");
    assert_eq!(line.trim_end().lines().count(), 1, "one line: {line:?}");
    assert_eq!(line.matches(':').count(), 1, "exactly one `:`: {line:?}");
    line
}

/// The new key's `<name>: <secret>` line, from the last step.
fn new_line(work: &Workdir) -> String {
    let (last, _) = step(work, STEPS[2]);
    lk_jwt_line(&last).to_owned()
}

#[test]
fn the_first_step_gives_livekit_both_keys_and_leaves_lk_jwt_on_the_old_one() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    rotate(&work, CURRENT).success();
    let (first, mode) = step(&work, STEPS[0]);
    assert_eq!(mode, 0o600);
    let new_line = new_line(&work);
    let livekit = first["LIVEKIT_KEYS"].as_str().unwrap();
    assert_eq!(livekit, format!("{CURRENT}{new_line}\n"));
    assert_eq!(lk_jwt_line(&first), old_line());
    let (name, secret) = new_line.split_once(": ").expect("`<name>: <secret>`");
    assert_eq!(with_new_key_hidden(name), "[NEW KEY]");
    assert_eq!(secret.len(), 64);
}

#[test]
fn the_second_step_moves_lk_jwt_to_the_new_key_and_keeps_both_in_livekit() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    rotate(&work, CURRENT).success();
    let (first, _) = step(&work, STEPS[0]);
    let (second, mode) = step(&work, STEPS[1]);
    assert_eq!(mode, 0o600);
    assert_eq!(second["LIVEKIT_KEYS"], first["LIVEKIT_KEYS"]);
    assert_eq!(lk_jwt_line(&second), new_line(&work));
}

#[test]
fn the_third_step_leaves_only_the_new_key() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    rotate(&work, CURRENT).success();
    let (third, mode) = step(&work, STEPS[2]);
    assert_eq!(mode, 0o600);
    let new_line = new_line(&work);
    assert_eq!(
        third,
        serde_json::json!({"LIVEKIT_KEYS": new_line, "LK_JWT_KEYS": new_line})
    );
}

#[test]
fn every_step_gives_lk_jwt_one_key_line_and_livekit_a_mapping_of_keys_to_secrets() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    rotate(&work, CURRENT).success();
    let new_line = new_line(&work);
    let key = |line: &str| {
        let (name, secret) = line.split_once(": ").expect("`<name>: <secret>`");
        (name.to_owned(), secret.to_owned())
    };
    let (old, new) = (key(old_line()), key(&new_line));
    let expected = [
        (BTreeMap::from([old.clone(), new.clone()]), old_line()),
        (BTreeMap::from([old, new.clone()]), new_line.as_str()),
        (BTreeMap::from([new]), new_line.as_str()),
    ];
    for (file, (livekit, lk_jwt)) in STEPS.iter().zip(expected) {
        let (data, _) = step(&work, file);
        assert_eq!(livekit_keys(&data), livekit, "{file}");
        assert_eq!(lk_jwt_line(&data), lk_jwt, "{file}");
    }
}

#[test]
fn the_steps_for_one_node_with_webhooks_are_on_stderr_and_nothing_on_stdout() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    let run = rotate(&work, CURRENT).success();
    assert_snapshot!(with_new_key_hidden(&run.transcript()), @r"
    exit: 0
    --- stdout
    --- stderr
    wrote rotation/step-1-both-keys.yaml, rotation/step-2-lk-jwt-new-key.yaml and rotation/step-3-new-key.yaml (mode 0600): seal or encrypt them before committing them
    rotating the API key `lk-jwt` of Secret `livekit-keys` to `[NEW KEY]`, in order:
    1. apply rotation/step-1-both-keys.yaml: LiveKit's key file holds `lk-jwt` and `[NEW KEY]`, lk-jwt's key stays `lk-jwt`
       then wait until every LiveKit node runs with both keys (with `reloader: stakater` it restarts by itself; else `kubectl -n matrix rollout restart deployment/livekit`): `kubectl -n matrix rollout status deployment/livekit` (the old pod first drains its calls, up to 1800 s, and no call starts meanwhile); lk-jwt must not sign with `[NEW KEY]` before, or a join reaching a node without it is refused
    2. set `livekit.keys.apiKeyName: [NEW KEY]` in bundle.yaml, commit it with the trailer `Bundle-Allow: api-key-name` and deploy it: LiveKit signs its webhooks with `[NEW KEY]` from then on; wait for `kubectl -n matrix rollout status deployment/livekit` (the old pod first drains its calls, up to 1800 s, and no call starts meanwhile), then at once apply rotation/step-2-lk-jwt-new-key.yaml: lk-jwt's key is `[NEW KEY]` (with `reloader: stakater` it restarts by itself, and so does LiveKit, which reads the same Secret: one more drain, the old pod first drains its calls, up to 1800 s, and no call starts meanwhile; else `kubectl -n matrix rollout restart deployment/lk-jwt-service`)
       lk-jwt verifies webhooks with its one key, so it refuses those LiveKit signs with `[NEW KEY]` until it runs with it: only those of the seconds between the new pod's start and lk-jwt's restart, as the old pod has exited by then (moving lk-jwt first would refuse those of the old pod's calls for its whole drain instead); LiveKit does not send them again, and lk-jwt's own participant lookup is its fallback for them
       then wait for `kubectl -n matrix rollout status deployment/lk-jwt-service`, and 60 minutes more: the lifetime of the tokens lk-jwt signed with `lk-jwt`
    3. apply rotation/step-3-new-key.yaml: the key `lk-jwt` is removed
       then wait until every LiveKit node runs without it (with `reloader: stakater` it restarts by itself; else `kubectl -n matrix rollout restart deployment/livekit`): `kubectl -n matrix rollout status deployment/livekit`; then delete the three files, or keep them only sealed or encrypted
    ");
    let written: Vec<String> = work
        .files()
        .into_keys()
        .map(|path| path.display().to_string())
        .collect();
    assert_eq!(
        written.len(),
        4,
        "bundle.yaml and the three steps only: {written:?}"
    );
}

#[test]
fn the_steps_for_several_nodes_wait_for_every_node_and_say_how_long_a_rollout_takes() {
    let work = Workdir::with_config(&scaled_site_with_lk_jwt_entry());
    let run = rotate(&work, CURRENT).success();
    assert_snapshot!(with_new_key_hidden(&run.transcript()), @r"
    exit: 0
    --- stdout
    --- stderr
    wrote rotation/step-1-both-keys.yaml, rotation/step-2-lk-jwt-new-key.yaml and rotation/step-3-new-key.yaml (mode 0600): seal or encrypt them before committing them
    rotating the API key `lk-jwt` of Secret `livekit-keys` to `[NEW KEY]`, in order:
    1. apply rotation/step-1-both-keys.yaml: LiveKit's key file holds `lk-jwt` and `[NEW KEY]`, lk-jwt's key stays `lk-jwt`
       then wait until every LiveKit node runs with both keys (with `reloader: stakater` it restarts by itself; else `kubectl -n matrix rollout restart deployment/livekit`): `kubectl -n matrix rollout status deployment/livekit` (its 3 nodes restart one at a time, each draining its calls for up to 1800 s while the others take the new ones, so up to 3 x 1800 s in all); lk-jwt must not sign with `[NEW KEY]` before, or a join reaching a node without it is refused
    2. set `livekit.keys.apiKeyName: [NEW KEY]` in bundle.yaml, commit it with the trailer `Bundle-Allow: api-key-name` and deploy it: LiveKit signs its webhooks with `[NEW KEY]` from then on; wait for `kubectl -n matrix rollout status deployment/livekit` (its 3 nodes restart one at a time, each draining its calls for up to 1800 s while the others take the new ones, so up to 3 x 1800 s in all), then at once apply rotation/step-2-lk-jwt-new-key.yaml: lk-jwt's key is `[NEW KEY]` (with `reloader: stakater` it restarts by itself, and so does LiveKit, which reads the same Secret: one more drain, its 3 nodes restart one at a time, each draining its calls for up to 1800 s while the others take the new ones, so up to 3 x 1800 s in all; else `kubectl -n matrix rollout restart deployment/lk-jwt-service`)
       lk-jwt verifies webhooks with its one key, so it refuses those LiveKit signs with `[NEW KEY]` until it runs with it: those of every node already restarted, from the first node's restart on (up to the whole LiveKit rollout), and then those of a node that `rollout status` no longer counts but that still drains its calls on the old key; LiveKit does not send them again, and lk-jwt's own participant lookup is its fallback for them
       then wait for `kubectl -n matrix rollout status deployment/lk-jwt-service`, and 60 minutes more: the lifetime of the tokens lk-jwt signed with `lk-jwt`
    3. apply rotation/step-3-new-key.yaml: the key `lk-jwt` is removed
       then wait until every LiveKit node runs without it (with `reloader: stakater` it restarts by itself; else `kubectl -n matrix rollout restart deployment/livekit`): `kubectl -n matrix rollout status deployment/livekit`; then delete the three files, or keep them only sealed or encrypted
    ");
}

#[test]
fn without_an_api_key_name_lk_jwt_moves_alone_in_the_second_step() {
    let config = unset(&site_with_lk_jwt_entry(), "livekit.keys.apiKeyName");
    let work = Workdir::with_config(&config);
    let run = rotate(&work, CURRENT).success();
    assert_snapshot!(with_new_key_hidden(&run.transcript()), @r"
    exit: 0
    --- stdout
    --- stderr
    wrote rotation/step-1-both-keys.yaml, rotation/step-2-lk-jwt-new-key.yaml and rotation/step-3-new-key.yaml (mode 0600): seal or encrypt them before committing them
    rotating the API key `lk-jwt` of Secret `livekit-keys` to `[NEW KEY]`, in order:
    1. apply rotation/step-1-both-keys.yaml: LiveKit's key file holds `lk-jwt` and `[NEW KEY]`, lk-jwt's key stays `lk-jwt`
       then wait until every LiveKit node runs with both keys (with `reloader: stakater` it restarts by itself; else `kubectl -n matrix rollout restart deployment/livekit`): `kubectl -n matrix rollout status deployment/livekit` (the old pod first drains its calls, up to 1800 s, and no call starts meanwhile); lk-jwt must not sign with `[NEW KEY]` before, or a join reaching a node without it is refused
    2. apply rotation/step-2-lk-jwt-new-key.yaml: lk-jwt's key is `[NEW KEY]` (with `reloader: stakater` it restarts by itself, and so does LiveKit, which reads the same Secret: one more drain, the old pod first drains its calls, up to 1800 s, and no call starts meanwhile; else `kubectl -n matrix rollout restart deployment/lk-jwt-service`); LiveKit sends no webhooks (no `apiKeyName`), so nothing else moves with it
       then wait for `kubectl -n matrix rollout status deployment/lk-jwt-service`, and 60 minutes more: the lifetime of the tokens lk-jwt signed with `lk-jwt`
    3. apply rotation/step-3-new-key.yaml: the key `lk-jwt` is removed
       then wait until every LiveKit node runs without it (with `reloader: stakater` it restarts by itself; else `kubectl -n matrix rollout restart deployment/livekit`): `kubectl -n matrix rollout status deployment/livekit`; then delete the three files, or keep them only sealed or encrypted
    ");
}

#[test]
fn the_current_keys_can_come_from_a_file() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    fs::write(work.path().join("current"), CURRENT).unwrap();
    work.bundle(&[
        "secrets",
        "--rotate",
        "livekit",
        "--current-keys",
        "current",
        "--out-dir",
        "rotation",
    ])
    .success();
    let (first, _) = step(&work, STEPS[0]);
    assert!(
        first["LIVEKIT_KEYS"]
            .as_str()
            .unwrap()
            .starts_with("lk-jwt: 0123")
    );
}

/// Runs the rotation, which must fail with exit 2 and write nothing.
fn refused(config: &str, stdin: &str) -> String {
    let work = Workdir::with_config(config);
    let before = work.files();
    let run = rotate(&work, stdin).expect_code(2);
    assert!(work.files() == before, "a refused rotation wrote files");
    run.transcript()
}

#[test]
fn lk_jwt_on_livekits_own_entry_is_refused_with_how_to_give_it_its_own() {
    assert_snapshot!(refused(&site_yaml(), CURRENT), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot rotate the LiveKit keys: lk-jwt reads the same entry `LIVEKIT_KEYS` of Secret `livekit-keys` as LiveKit, and lk-jwt accepts exactly one key: that entry cannot hold the old and the new key at once, so the key cannot be rotated without dropping calls. Fix: first give lk-jwt an entry of its own, holding the current line: `kubectl -n matrix get secret livekit-keys -o json | jq '.data.LK_JWT_KEYS = .data.LIVEKIT_KEYS' | kubectl apply -f -`, then set `livekit.keys.existingSecret.lkJwtKeyKey: LK_JWT_KEYS`, deploy that, and rotate
    ");
}

#[test]
fn current_keys_of_two_lines_are_refused() {
    let two = format!("{CURRENT}old: 0123456789abcdef0123456789abcdef\n");
    assert_snapshot!(refused(&site_with_lk_jwt_entry(), &two), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot rotate the LiveKit keys: the current keys are not one `<key name>: <secret>` line: it holds more than one line (an earlier rotation not finished? apply its last step first). Fix: pass the entry `LIVEKIT_KEYS` of Secret `livekit-keys` as it is: `kubectl -n matrix get secret livekit-keys -o jsonpath='{.data.LIVEKIT_KEYS}' | base64 -d`
    ");
}

#[test]
fn empty_current_keys_are_refused() {
    assert_snapshot!(refused(&site_with_lk_jwt_entry(), ""), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot rotate the LiveKit keys: the current keys are not one `<key name>: <secret>` line: it is empty. Fix: pass the entry `LIVEKIT_KEYS` of Secret `livekit-keys` as it is: `kubectl -n matrix get secret livekit-keys -o jsonpath='{.data.LIVEKIT_KEYS}' | base64 -d`
    ");
}

#[test]
fn a_current_key_other_than_the_api_key_name_is_refused() {
    let other = CURRENT.replace("lk-jwt", "lk-other");
    assert_snapshot!(refused(&site_with_lk_jwt_entry(), &other), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot rotate the LiveKit keys: the current key is named `lk-other`, but `livekit.keys.apiKeyName` is `lk-jwt`: LiveKit signs its webhooks with `lk-jwt` and would not start with these keys. Fix: pass the keys the deployed Secret holds, or correct `livekit.keys.apiKeyName` first
    ");
}

#[test]
fn inline_keys_are_refused() {
    let config = unset(&site_yaml(), "livekit.keys.existingSecret");
    let config = set(&config, "livekit.keys.apiKey", "devkey");
    let config = set(
        &config,
        "livekit.keys.apiSecret",
        "0123456789abcdef0123456789abcdef",
    );
    let config = set(&config, "allowInlineSecrets", "true");
    let config = unset(&config, "livekit.keys.apiKeyName");
    assert_snapshot!(refused(&config, CURRENT), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot rotate the LiveKit keys: the bundled LiveKit's keys are inline (`livekit.keys.apiKey` and `apiSecret`), and the tree renders their Secret: there is no Secret to rotate. Fix: change the inline keys in bundle.yaml (dev clusters only), or move them into a Secret named in `livekit.keys.existingSecret.name`
    ");
}

#[test]
fn a_site_without_a_bundled_livekit_is_refused() {
    let config = unset(&site_with_lk_jwt_entry(), "overlays.bundled");
    let config = unset(&config, "overlays.bundled-turn");
    assert_snapshot!(refused(&config, CURRENT), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot rotate the LiveKit keys: no overlay bundles LiveKit (`overlays` holds only `external`), so there is no key of ours to rotate: an external SFU's keys are rotated by its operator
    ");
}

#[test]
fn a_keys_secret_shared_with_the_external_sfu_is_refused() {
    let config = set(
        &site_with_lk_jwt_entry(),
        "overlays.external.livekit.keys.existingSecret.name",
        "livekit-keys",
    );
    assert_snapshot!(refused(&config, CURRENT), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot rotate the LiveKit keys: overlay `external` reads its SFU's keys from Secret `livekit-keys` too, so its values are the external SFU's, which only its operator can rotate. Fix: give `overlays.external.livekit.keys.existingSecret.name` a Secret of its own
    ");
}

#[test]
fn an_existing_step_file_is_refused_and_nothing_is_written() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    fs::create_dir(work.path().join("rotation")).unwrap();
    fs::write(work.path().join("rotation/step-3-new-key.yaml"), "mine\n").unwrap();
    let before = work.files();
    let run = rotate(&work, CURRENT).expect_code(2);
    assert!(work.files() == before, "a file changed");
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: rotation/step-3-new-key.yaml already exists: bundle secrets never replaces a file (it may hold the only copy of keys already deployed), and writes a rotation's steps together. Fix: pass another --out-dir DIR, or remove that file first
    ");
}

#[test]
fn an_out_dir_in_the_tree_is_refused() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    let mut command = work.command(&[
        "secrets",
        "--rotate",
        "livekit",
        "--current-keys",
        "-",
        "--out-dir",
        "overlays/rotation",
    ]);
    command.write_stdin(CURRENT);
    let run = work.run(&mut command).expect_code(2);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: overlays/rotation/step-1-both-keys.yaml is inside the generated tree ([WORKDIR]/overlays): secret values must never be committed there, and `bundle gen` manages that directory. Fix: write them outside `base/` and `overlays/`, e.g. `--out secrets.yaml`, then seal or encrypt them
    ");
}

#[test]
fn rotate_without_the_current_keys_is_a_usage_error() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    let run = work.bundle(&["secrets", "--rotate", "livekit", "--out-dir", "rotation"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: the following required arguments were not provided:
      --current-keys <FILE>

    Usage: bundle secrets --rotate <WHAT> --current-keys <FILE> --out-dir <DIR>

    For more information, try '--help'.
    ");
}

#[test]
fn rotate_with_out_is_a_usage_error() {
    let work = Workdir::with_config(&site_with_lk_jwt_entry());
    let run = work.bundle(&[
        "secrets",
        "--rotate",
        "livekit",
        "--current-keys",
        "-",
        "--out-dir",
        "rotation",
        "--out",
        "secrets.yaml",
    ]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: the argument '--rotate <WHAT>' cannot be used with '--out <FILE>'

    Usage: bundle secrets --rotate <WHAT> --current-keys <FILE> --out-dir <DIR>

    For more information, try '--help'.
    ");
}
