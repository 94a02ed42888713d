//! `bundle secrets`: the generated manifests are valid Kubernetes, hold exactly the keys the
//! rendered pods mount, are new on every run and never in the tree; `--out` writes a private
//! file and never replaces one or writes into the tree.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use bundle_gen::{Config, render_objects};
use insta::assert_snapshot;
use serde_json::Value as Json;

use crate::cli::refused_without_writing;
use crate::support::{Workdir, files_below, repository_config_path, set, site_yaml};

/// Replaces each word of 16, 32 or 64 lowercase hex digits (the generated key names, tokens
/// and secrets) with `[<n> HEX]`, so a transcript of random values can be a snapshot. A word
/// is a maximal run of ASCII letters and digits.
fn redacted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hex = word.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if hex && [16, 32, 64].contains(&word.len()) {
            out.push_str(&format!("[{} HEX]", word.len()));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[test]
fn the_redaction_hides_hex_runs_of_generated_lengths_only() {
    let secret = "ab".repeat(32);
    let text = format!(
        "K: 'lk-{}: {secret}'\nx: deadbeef\ny: z{secret}\n",
        "0".repeat(16)
    );
    assert_eq!(
        redacted(&text),
        format!("K: 'lk-[16 HEX]: [64 HEX]'\nx: deadbeef\ny: z{secret}\n")
    );
}

/// The fixture configs of bundle-gen and the repository's `bundle.yaml`.
fn every_config() -> Vec<PathBuf> {
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../bundle-gen/tests/fixtures/configs");
    let mut paths: Vec<PathBuf> = fs::read_dir(fixtures)
        .expect("fixtures")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    paths.sort();
    paths.push(repository_config_path());
    paths
}

/// The Secrets of a `bundle secrets` output, by name, with their `stringData`.
fn generated(stdout: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    // Every document starts with a `---` line, and no generated value holds one.
    stdout
        .split("---\n")
        .filter(|document| !document.is_empty())
        .map(|document| {
            let secret: Json = serde_norway::from_str(document).expect("a YAML document");
            assert_eq!(secret["kind"], "Secret", "{secret}");
            let name = secret["metadata"]["name"]
                .as_str()
                .expect("a name")
                .to_owned();
            let data = serde_json::from_value(secret["stringData"].clone()).expect("stringData");
            (name, data)
        })
        .collect()
}

/// The keys each Secret is read with by the pods `kubectl kustomize` would deploy, walked in
/// the JSON of every overlay's objects: `secretKeyRef`, Secret volumes and their items.
/// `None`: every key (a volume without items, `envFrom`).
fn mounted_keys(config: &Config) -> BTreeMap<String, Option<BTreeSet<String>>> {
    let mut mounted: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    let mut add = |name: &str, keys: Option<Vec<String>>| {
        let entry = mounted
            .entry(name.to_owned())
            .or_insert_with(|| Some(BTreeSet::new()));
        match (entry.as_mut(), keys) {
            (Some(known), Some(keys)) => known.extend(keys),
            _ => *entry = None,
        }
    };
    for &overlay in config.variants().keys() {
        for object in render_objects(config, overlay).expect("render") {
            let Some(pod) = object.pointer("/spec/template/spec") else {
                continue;
            };
            let list = |value: &Json, key: &str| value[key].as_array().cloned().unwrap_or_default();
            for container in list(pod, "containers") {
                for var in list(&container, "env") {
                    let reference = &var["valueFrom"]["secretKeyRef"];
                    if let Some(name) = reference["name"].as_str() {
                        add(
                            name,
                            Some(vec![reference["key"].as_str().expect("a key").to_owned()]),
                        );
                    }
                }
                for source in list(&container, "envFrom") {
                    if let Some(name) = source["secretRef"]["name"].as_str() {
                        add(name, None);
                    }
                }
            }
            for volume in list(pod, "volumes") {
                let secret = &volume["secret"];
                if let Some(name) = secret["secretName"].as_str() {
                    let items = secret["items"].as_array().map(|items| {
                        items
                            .iter()
                            .map(|item| item["key"].as_str().expect("a key").to_owned())
                            .collect()
                    });
                    add(name, items);
                }
            }
        }
    }
    mounted
}

fn load(path: &Path) -> Config {
    Config::from_yaml(&fs::read_to_string(path).expect("config")).expect("a valid config")
}

#[test]
fn secrets_prints_the_generated_secrets_and_lists_the_others_on_stderr() {
    let work = Workdir::site();
    let run = work.bundle(&["secrets"]);
    assert_snapshot!(redacted(&run.transcript()), @r"
    exit: 0
    --- stdout
    ---
    apiVersion: v1
    kind: Secret
    metadata:
      name: livekit-keys
      namespace: matrix
    stringData:
      LIVEKIT_KEYS: 'lk-jwt: [64 HEX]'
    type: Opaque
    ---
    apiVersion: v1
    kind: Secret
    metadata:
      name: matrix-registration
      namespace: matrix
    stringData:
      registration_token: [32 HEX]
    type: Opaque
    --- stderr
    generated Secret livekit-keys: LIVEKIT_KEYS
    generated Secret matrix-registration: registration_token
    create these Secrets yourself, in namespace `matrix`:
    livekit-external-keys, read by Deployment/lk-jwt-service in external:
      `LIVEKIT_KEYS`: `<API key>: <API secret>` of your external LiveKit
    matrix-certificate, read by Ingress/matrix-ingress in bundled, bundled-turn, external:
      nothing: cert-manager fills it (cluster issuer `letsencrypt-prod`, `ingress.tls.clusterIssuer`)
    turn-tls, read by Deployment/livekit in bundled-turn:
      `tls.crt`: a PEM certificate (with its chain) for `turn.example.org`
      `tls.key`: the PEM private key of the certificate for `turn.example.org`
    ");
    assert_eq!(
        work.files().len(),
        1,
        "only bundle.yaml: {:?}",
        work.files().keys()
    );
}

#[test]
fn without_an_api_key_name_the_key_gets_a_generated_name() {
    let config = crate::support::unset(&site_yaml(), "livekit.keys.apiKeyName");
    let run = Workdir::with_config(&config).bundle(&["secrets"]).success();
    let keys = &generated(&run.stdout())["livekit-keys"]["LIVEKIT_KEYS"];
    let (name, secret) = keys.split_once(": ").expect("`<name>: <secret>`");
    assert_eq!(redacted(name), "lk-[16 HEX]");
    assert_eq!(redacted(secret), "[64 HEX]");
}

#[test]
fn the_generated_secrets_hold_exactly_the_keys_the_rendered_pods_mount() {
    let mut compared = 0;
    for path in every_config() {
        let run = Workdir::empty()
            .bundle(&["secrets", "--config", utf8(&path)])
            .success();
        let mounted = mounted_keys(&load(&path));
        for (name, data) in generated(&run.stdout()) {
            let keys: BTreeSet<String> = data.keys().cloned().collect();
            assert_eq!(
                mounted.get(&name),
                Some(&Some(keys)),
                "{}: Secret {name}",
                path.display()
            );
            compared += 1;
        }
    }
    // The repository's site and three fixtures generate two Secrets each, the others fewer.
    assert!(compared >= 8, "only {compared} Secrets generated");
}

#[test]
fn the_bundled_keys_and_the_registration_token_are_generated_for_the_repository_site() {
    let run = Workdir::site().bundle(&["secrets"]).success();
    let names: Vec<String> = generated(&run.stdout()).into_keys().collect();
    assert_eq!(names, ["livekit-keys", "matrix-registration"]);
}

#[test]
fn two_runs_generate_different_values() {
    let work = Workdir::site();
    let first = generated(&work.bundle(&["secrets"]).success().stdout());
    let second = generated(&work.bundle(&["secrets"]).success().stdout());
    for (name, data) in &first {
        for (key, value) in data {
            if key == "LIVEKIT_API_KEY" {
                // `apiKeyName` from bundle.yaml: the same on every run, and not a secret.
                continue;
            }
            assert_ne!(Some(value), second[name].get(key), "{name}.{key}");
        }
    }
}

#[test]
fn no_generated_value_appears_anywhere_in_the_generated_tree() {
    for path in every_config() {
        let work = Workdir::empty();
        work.bundle(&["gen", "--config", utf8(&path)]).success();
        let tree = files_below(work.path());
        assert!(tree.len() > 1, "{}: no tree", path.display());
        let secrets = work.bundle(&["secrets", "--config", utf8(&path)]).success();
        let config = load(&path);
        let key_names: BTreeSet<String> = config
            .variants()
            .values()
            .filter_map(|variant| variant.livekit().keys.api_key_name.clone())
            .collect();
        for data in generated(&secrets.stdout()).values() {
            let values = data.values().flat_map(|value| value.split(": "));
            // A configured `apiKeyName` is not generated (and sits in LiveKit's config).
            for value in values.filter(|value| !key_names.contains(*value)) {
                for (file, bytes) in &tree {
                    assert!(
                        !String::from_utf8_lossy(bytes).contains(value),
                        "{}: a generated value is in {}",
                        path.display(),
                        file.display()
                    );
                }
            }
        }
    }
}

/// `target/test-venv/bin/kubernetes-validate`, which tests/setup.sh installs.
fn kubernetes_validate() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-venv/bin/kubernetes-validate");
    assert!(
        path.is_file(),
        "{} is missing: run tests/setup.sh",
        path.display()
    );
    path
}

#[test]
fn the_output_passes_kubernetes_validate_strict() {
    for path in every_config() {
        let work = Workdir::empty();
        let out = work.path().join("secrets.yaml");
        work.bundle(&["secrets", "--config", utf8(&path), "--out", utf8(&out)])
            .success();
        if fs::read(&out).expect("written").is_empty() {
            continue;
        }
        // The versions tests/validate-overlays.sh checks the tree against.
        for version in ["1.34.0", "1.37.0"] {
            let output = Command::new(kubernetes_validate())
                .args(["--strict", "--quiet", "-k", version])
                .arg(&out)
                .output()
                .expect("kubernetes-validate runs");
            assert!(
                output.status.success(),
                "{} ({version}):\n{}{}",
                path.display(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[test]
fn out_writes_an_owner_only_file_and_prints_the_rest_on_stderr() {
    let work = Workdir::site();
    let run = work.bundle(&["secrets", "--out", "secrets.yaml"]);
    let transcript = run.transcript();
    assert_snapshot!(transcript.split("create these").next().unwrap(), @r"
    exit: 0
    --- stdout
    --- stderr
    generated Secret livekit-keys: LIVEKIT_KEYS
    generated Secret matrix-registration: registration_token
    wrote secrets.yaml (mode 0600): seal or encrypt it before committing it
    ");
    let written = work.path().join("secrets.yaml");
    let mode = fs::metadata(&written)
        .expect("written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let names: Vec<String> = generated(&fs::read_to_string(&written).expect("read"))
        .into_keys()
        .collect();
    assert_eq!(names, ["livekit-keys", "matrix-registration"]);
    assert_eq!(work.files().len(), 2, "{:?}", work.files().keys());
}

#[test]
fn out_refuses_to_replace_an_existing_file() {
    let work = Workdir::site();
    fs::write(work.path().join("secrets.yaml"), "mine\n").expect("write");
    let before = work.files();
    let run = work.bundle(&["secrets", "--out", "secrets.yaml"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: secrets.yaml already exists: bundle secrets never replaces a file (it may hold the only copy of Secrets already deployed). Fix: pass another --out FILE, or remove that file first
    ");
    assert!(work.files() == before, "a file changed");
}

#[test]
fn out_refuses_a_path_in_base_or_overlays() {
    let work = Workdir::site();
    work.bundle(&["gen"]).success();
    let before = work.files();
    let base = work.bundle(&["secrets", "--out", "base/secrets.yaml"]);
    assert_snapshot!(base.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: base/secrets.yaml is inside the generated tree ([WORKDIR]/base): secret values must never be committed there, and `bundle gen` manages that directory. Fix: write them outside `base/` and `overlays/`, e.g. `--out secrets.yaml`, then seal or encrypt them
    ");
    let overlays = work.bundle(&["secrets", "--out", "overlays/secrets.yaml"]);
    assert_snapshot!(overlays.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: overlays/secrets.yaml is inside the generated tree ([WORKDIR]/overlays): secret values must never be committed there, and `bundle gen` manages that directory. Fix: write them outside `base/` and `overlays/`, e.g. `--out secrets.yaml`, then seal or encrypt them
    ");
    assert!(work.files() == before, "a file changed");
}

#[test]
fn out_refuses_a_path_in_base_before_the_tree_is_generated() {
    let work = Workdir::site();
    fs::create_dir(work.path().join("base")).expect("mkdir");
    let run = work.bundle(&["secrets", "--out", "./base/../base/s.yaml"]);
    assert_eq!(run.code(), 2, "{}", run.transcript());
    assert!(
        run.stderr().contains("inside the generated tree"),
        "{}",
        run.transcript()
    );
    assert_eq!(work.files().len(), 1, "{:?}", work.files().keys());
}

#[test]
fn out_refuses_a_path_inside_a_tree_generated_elsewhere() {
    let work = Workdir::site();
    work.bundle(&["gen", "--out", "gitops"]).success();
    let before = work.files();
    let run = work.bundle(&["secrets", "--out", "gitops/overlays/bundled/secrets.yaml"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: gitops/overlays/bundled/secrets.yaml is inside the generated tree ([WORKDIR]/gitops/overlays/bundled): secret values must never be committed there, and `bundle gen` manages that directory. Fix: write them outside `base/` and `overlays/`, e.g. `--out secrets.yaml`, then seal or encrypt them
    ");
    assert!(work.files() == before, "a file changed");
}

#[test]
fn quiet_secrets_prints_only_the_manifests() {
    let run = Workdir::site().bundle(&["-q", "secrets"]).success();
    assert_eq!(run.stderr(), "");
    assert_eq!(generated(&run.stdout()).len(), 2);
}

#[test]
fn guard_appservices_secret_not_a_secret_name() {
    let bad = set(
        &site_yaml(),
        "homeserver.appservices.existingSecret",
        "Bridges_Secret",
    );
    let refused = refused_without_writing(&bad, "homeserver.appservices.existingSecret");
    assert_snapshot!(refused, @r"
    exit: 2
    --- stdout
    --- stderr
    bundle.yaml: config refused:
    bundle.yaml:20:5: `homeserver.appservices.existingSecret` is `Bridges_Secret`, which Kubernetes refuses as a Secret name: it may only hold lowercase letters, digits, `-` and `.`. Fix: write the name of the existing Secret, a DNS-1123 subdomain: at most 253 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit, e.g. `matrix-appservices`.
    ");
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}
