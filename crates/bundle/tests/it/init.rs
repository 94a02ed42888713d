//! `bundle init`: the starter config it writes, and that it never replaces a file unasked.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use bundle::STARTER_CONFIG;
use insta::assert_snapshot;
use serde_norway::Value;

use crate::support::{Workdir, kustomize};

#[test]
fn init_writes_the_starter_config_and_says_what_next() {
    let work = Workdir::empty();
    let run = work.bundle(&["init"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 0
    --- stdout
    --- stderr
    wrote bundle.yaml: a starter config; edit it, then run `bundle validate` and `bundle gen`
    ");
    assert_eq!(
        fs::read_to_string(work.path().join("bundle.yaml")).expect("written"),
        STARTER_CONFIG
    );
    // Only the file: the temporary file it was staged in is gone.
    assert_eq!(work.files().len(), 1, "{:?}", work.files().keys());
}

#[test]
fn the_starter_config_validates_generates_and_every_overlay_builds() {
    let work = Workdir::empty();
    work.bundle(&["init"]).success();

    let validate = work.bundle(&["validate"]).success();
    assert_eq!(
        validate.stderr(),
        "bundle.yaml is valid; overlays: bundled, bundled-turn, external\n"
    );
    work.bundle(&["gen"]).success();
    work.bundle(&["gen", "--check"]).success();
    for overlay in ["bundled", "bundled-turn", "external"] {
        let objects = kustomize(&work.path().join("overlays").join(overlay));
        assert!(objects.contains("kind: StatefulSet"), "{overlay}");
    }
}

/// The keys of the YAML lines of `text`: a line that is not a comment and holds `key:`.
fn key_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter(|(_, line)| {
        let content = line.trim_start();
        !content.is_empty() && !content.starts_with('#') && content.contains(':')
    })
}

#[test]
fn the_starter_config_comments_every_key_it_sets() {
    let lines: Vec<&str> = STARTER_CONFIG.lines().collect();
    let uncommented: Vec<&str> = key_lines(STARTER_CONFIG)
        .filter(|(index, line)| {
            let above = index.checked_sub(1).map(|above| lines[above].trim_start());
            !line.contains(" # ") && !above.is_some_and(|above| above.starts_with('#'))
        })
        .map(|(_, line)| line)
        .collect();
    assert!(key_lines(STARTER_CONFIG).count() > 50);
    assert!(
        uncommented.is_empty(),
        "keys without a comment on the line above:\n{}",
        uncommented.join("\n")
    );
}

/// The value at `path` (dotted) of the starter config, as text.
fn starter_value(path: &str) -> String {
    let doc: Value = serde_norway::from_str(STARTER_CONFIG).expect("YAML");
    let value = path.split('.').fold(&doc, |node, key| &node[key]);
    value
        .as_str()
        .unwrap_or_else(|| panic!("`{path}` is not a string: {value:?}"))
        .to_owned()
}

#[test]
fn the_starter_config_uses_documentation_names_and_addresses_and_no_inline_secret() {
    for (path, expected) in [
        ("homeserver.serverName", "matrix.example.org"),
        ("livekit.turn.domain", "turn.example.org"),
        ("livekit.publicUrl", "wss://matrix.example.org"),
        (
            "overlays.external.livekit.publicUrl",
            "wss://livekit.example.org",
        ),
        // TEST-NET-3 (RFC 5737): reserved for documentation, never routed.
        ("livekit.rtc.nodeIp", "203.0.113.10"),
    ] {
        assert_eq!(starter_value(path), expected, "{path}");
    }
    let doc: Value = serde_norway::from_str(STARTER_CONFIG).expect("YAML");
    assert!(doc.get("allowInlineSecrets").is_none());
    assert_eq!(
        starter_value("livekit.keys.existingSecret.name"),
        "livekit-keys"
    );
    assert_eq!(
        starter_value("homeserver.registrationTokenExistingSecret.name"),
        "matrix-registration"
    );
}

#[test]
fn the_starter_config_pins_every_image_by_tag_and_digest() {
    for image in ["homeserver", "livekit", "lkJwt"] {
        let tag = starter_value(&format!("images.{image}.tag"));
        let digest = starter_value(&format!("images.{image}.digest"));
        assert_ne!(tag, "latest", "{image}");
        assert!(
            digest.parse::<bundle_gen::Digest>().is_ok(),
            "{image}: {digest}"
        );
    }
}

#[test]
fn init_refuses_to_replace_an_existing_file() {
    let work = Workdir::with_config("namespace: mine\n");
    let run = work.bundle(&["init"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: bundle.yaml already exists: pass --force to replace it, or --config FILE to write the starter config elsewhere
    ");
    assert_eq!(
        fs::read_to_string(work.path().join("bundle.yaml")).expect("still there"),
        "namespace: mine\n"
    );
    assert_eq!(work.files().len(), 1, "{:?}", work.files().keys());
}

#[test]
fn init_force_replaces_an_existing_file() {
    let work = Workdir::with_config("namespace: mine\n");
    work.bundle(&["init", "--force"]).success();
    assert_eq!(
        fs::read_to_string(work.path().join("bundle.yaml")).expect("written"),
        STARTER_CONFIG
    );
}

#[test]
fn init_writes_the_file_named_with_config() {
    let work = Workdir::empty();
    fs::create_dir(work.path().join("site")).expect("mkdir");
    let run = work.bundle(&["init", "--config", "site/bundle.yaml"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 0
    --- stdout
    --- stderr
    wrote site/bundle.yaml: a starter config; edit it, then run `bundle validate` and `bundle gen`
    ");
    work.bundle(&["validate", "--config", "site/bundle.yaml"])
        .success();
}

#[test]
fn init_into_a_missing_directory_is_an_error_and_creates_nothing() {
    let work = Workdir::empty();
    let run = work.bundle(&["init", "--config", "site/bundle.yaml"]);
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: cannot write site/bundle.yaml: the directory site does not exist
    ");
    assert!(work.files().is_empty());
    assert!(!work.path().join("site").exists());
}

#[test]
fn init_gives_the_file_the_mode_the_umask_allows() {
    let work = Workdir::empty();
    let bundle = assert_cmd::cargo::cargo_bin("bundle");
    // `sh` sets the umask, then becomes bundle.
    let status = Command::new("sh")
        .args(["-c", "umask 027 && exec \"$0\" init"])
        .arg(bundle)
        .current_dir(work.path())
        .env_clear()
        .status()
        .expect("sh runs");
    assert!(status.success());
    let mode = fs::metadata(work.path().join("bundle.yaml"))
        .expect("written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640, "{mode:o}");
}

#[test]
fn quiet_init_writes_the_file_and_prints_nothing() {
    let work = Workdir::empty();
    let run = work.bundle(&["init", "-q"]);
    assert_eq!(run.transcript(), "exit: 0\n--- stdout\n--- stderr\n");
    assert!(work.path().join("bundle.yaml").is_file());
}
