//! The `bundle` binary end to end (`gen`, `validate`, `csp`): exit codes, messages, and that a
//! refused config never changes a file on disk.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_norway::{Mapping, Value};
use tempfile::TempDir;

/// The repository's own example site: the good config every test starts from.
fn site_yaml() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bundle.yaml");
    fs::read_to_string(path).expect("the repository's bundle.yaml")
}

/// A temporary working directory holding a config file.
struct Workdir {
    dir: TempDir,
}

impl Workdir {
    fn with_config(text: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join("bundle.yaml"), text).expect("write config");
        Self { dir }
    }

    fn site() -> Self {
        Self::with_config(&site_yaml())
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write_config(&self, text: &str) {
        fs::write(self.path().join("bundle.yaml"), text).expect("write config");
    }

    /// `bundle <args>` run inside the working directory, so the defaults apply.
    fn bundle(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        Command::cargo_bin("bundle")
            .expect("the bundle binary")
            .current_dir(self.path())
            .args(args)
            .assert()
    }

    /// Every file below the working directory (other than the config) with its bytes.
    fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        collect(self.path(), self.path(), &mut files);
        files.remove(Path::new("bundle.yaml"));
        files
    }
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).expect("below root").to_path_buf();
            files.insert(relative, fs::read(&path).expect("read file"));
        }
    }
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

/// `config` with `path` (dotted) set to `value` (YAML), mappings created on the way.
fn set(config: &str, path: &str, value: &str) -> String {
    edit(config, |doc| {
        let value: Value = serde_norway::from_str(value).expect("value is YAML");
        let mut node = doc;
        for segment in path.split('.') {
            node = node
                .as_mapping_mut()
                .expect("a mapping on the path")
                .entry(Value::from(segment))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
        }
        *node = value;
    })
}

/// `config` without `path` (dotted).
fn unset(config: &str, path: &str) -> String {
    edit(config, |doc| {
        let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
        let mut node = doc;
        for segment in parent.split('.').filter(|s| !s.is_empty()) {
            node = node.get_mut(segment).expect("path exists");
        }
        node.as_mapping_mut()
            .expect("a mapping")
            .remove(last)
            .expect("key exists");
    })
}

fn edit(config: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut doc: Value = serde_norway::from_str(config).expect("config is YAML");
    change(&mut doc);
    serde_norway::to_string(&doc).expect("serializable")
}

fn site_with(path: &str, value: &str) -> String {
    set(&site_yaml(), path, value)
}

fn site_without(path: &str) -> String {
    unset(&site_yaml(), path)
}

// ---- validate ------------------------------------------------------------------------------------

#[test]
fn validate_accepts_the_repository_site_and_names_its_overlays() {
    let work = Workdir::site();
    let assert = work.bundle(&["validate"]).code(0);
    assert_eq!(
        stdout_of(&assert),
        "bundle.yaml is valid; overlays: bundled, bundled-turn, external\n"
    );
}

#[test]
fn validate_reads_the_file_given_with_config() {
    let work = Workdir::site();
    fs::rename(
        work.path().join("bundle.yaml"),
        work.path().join("site.yaml"),
    )
    .expect("rename");
    work.bundle(&["validate", "--config", "site.yaml"]).code(0);
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
    let assert = work.bundle(&["validate"]).code(2);
    assert_eq!(
        stderr_of(&assert),
        format!(
            "error: bundle.yaml: unknown key `homeserver.serverNme`; did you mean `serverName`? \
             (line {line})\n"
        )
    );
    assert_eq!(stdout_of(&assert), "");
}

#[test]
fn validate_lists_every_violated_guard_at_once() {
    let work = Workdir::with_config(&site_yaml());
    let config = site_with("homeserver.serverName", "''");
    work.write_config(&set(
        &config,
        "homeserver.livekitServiceUrl",
        "https://matrix.example.org/sfu",
    ));
    let stderr = stderr_of(&work.bundle(&["validate"]).code(2));
    assert!(
        stderr.starts_with("error: bundle.yaml: config refused (2 problems):\n  - "),
        "{stderr}"
    );
    assert!(
        stderr.contains("- `homeserver.serverName` is not set"),
        "{stderr}"
    );
    assert!(
        stderr.contains("- `homeserver.livekitServiceUrl` is `https://matrix.example.org/sfu`"),
        "{stderr}"
    );
}

#[test]
fn validate_names_a_missing_config_file() {
    let work = Workdir::site();
    let assert = work.bundle(&["validate", "--config", "nope.yaml"]).code(2);
    assert!(
        stderr_of(&assert).starts_with("error: cannot read the config nope.yaml: "),
        "{}",
        stderr_of(&assert)
    );
}

// ---- every guard: refused with exit 2, the key named, nothing written ---------------------------

/// Generates the site's tree, then runs `validate` and `gen` with the bad config: both must
/// exit 2 and name `key`, and every byte of the existing tree must be unchanged.
fn assert_refused_without_writing(bad_config: &str, key: &str) {
    let work = Workdir::site();
    work.bundle(&["gen"]).code(0);
    let before = work.files();
    assert!(!before.is_empty(), "the good config generated nothing");

    work.write_config(bad_config);
    for command in [&["validate"][..], &["gen"], &["gen", "--check"], &["csp"]] {
        let assert = work.bundle(command).code(2);
        let stderr = stderr_of(&assert);
        assert!(
            stderr.contains(&format!("`{key}`")),
            "`bundle {}` did not name `{key}`:\n{stderr}",
            command.join(" ")
        );
        assert_eq!(
            stdout_of(&assert),
            "",
            "`bundle {}` printed to stdout",
            command.join(" ")
        );
    }
    assert!(work.files() == before, "a refused config changed the tree");
}

macro_rules! guard_tests {
    ($($name:ident: $config:expr => $key:literal;)*) => {
        $(
            #[test]
            fn $name() {
                assert_refused_without_writing(&$config, $key);
            }
        )*
    };
}

guard_tests! {
    guard_server_name_missing: site_with("homeserver.serverName", "''")
        => "homeserver.serverName";
    guard_server_name_not_a_dns_name: site_with("homeserver.serverName", "matrix_example.org")
        => "homeserver.serverName";
    guard_turn_domain_not_a_dns_name: site_with("livekit.turn.domain", "https://turn.example.org")
        => "livekit.turn.domain";
    guard_registration_without_token: site_without("homeserver.registrationTokenExistingSecret")
        => "homeserver.allowRegistration";
    guard_inline_registration_token: site_with("homeserver.registrationToken", "hunter2")
        => "homeserver.registrationToken";
    guard_inline_livekit_api_key: site_with("livekit.keys.apiKey", "devkey")
        => "livekit.keys.apiKey";
    guard_inline_livekit_api_secret: site_with("livekit.keys.apiSecret", "x")
        => "livekit.keys.apiSecret";
    guard_lk_jwt_without_service_url: site_without("homeserver.livekitServiceUrl")
        => "homeserver.livekitServiceUrl";
    guard_service_url_ending_in_sfu:
        site_with("homeserver.livekitServiceUrl", "https://matrix.example.org/sfu")
        => "homeserver.livekitServiceUrl";
    guard_service_url_on_another_host:
        site_with("homeserver.livekitServiceUrl", "https://calls.example.org")
        => "homeserver.livekitServiceUrl";
    guard_bundled_livekit_without_credentials: site_without("livekit.keys")
        => "livekit.keys.existingSecret.name";
    guard_inline_api_secret_shorter_than_32: {
        let config = site_with("livekit.keys", "{apiKey: devkey, apiSecret: short}");
        config.replacen("namespace:", "allowInlineSecrets: true\nnamespace:", 1)
    } => "livekit.keys.apiSecret";
    guard_turn_without_domain: site_without("livekit.turn.domain")
        => "livekit.turn.domain";
    guard_turn_without_tls_secret: site_without("livekit.turn.tls")
        => "livekit.turn.tls.existingSecret";
    guard_turn_domain_equal_to_server_name: site_with("livekit.turn.domain", "matrix.example.org")
        => "livekit.turn.domain";
    guard_turn_tls_port_privileged: site_with("livekit.turn.tlsPort", "443")
        => "livekit.turn.tlsPort";
    guard_lk_jwt_without_public_url: site_without("livekit.publicUrl")
        => "livekit.publicUrl";
    guard_public_url_not_wss: site_with("overlays.external.livekit.publicUrl", "ws://livekit.example.net")
        => "overlays.external.livekit.publicUrl";
    guard_bundled_public_url_on_another_host: site_with("livekit.publicUrl", "wss://sfu.example.org")
        => "livekit.publicUrl";
    guard_external_livekit_without_keys_secret: set(
        &site_without("livekit.keys"),
        "overlays",
        "{external: {livekit: {publicUrl: 'wss://livekit.example.net'}}}",
    ) => "overlays.external.livekit.keys.existingSecret.name";
    guard_bundled_livekit_without_node_ip: site_without("livekit.rtc.nodeIp")
        => "livekit.rtc.nodeIp";
    guard_node_ip_not_an_ip_address: site_with("livekit.rtc.nodeIp", "lb.example.org")
        => "livekit.rtc.nodeIp";
    guard_image_without_tag_or_digest:
        unset(&site_without("images.homeserver.tag"), "images.homeserver.digest") => "images.homeserver";
    guard_image_tag_latest: site_with("images.livekit.tag", "latest")
        => "images.livekit.tag";
    guard_malformed_digest: site_with("images.lkJwt.digest", "sha256:822f0c03")
        => "images.lkJwt.digest";
    guard_unknown_key: site_with("livekit.rtc.nodeIP", "203.0.113.10")
        => "livekit.rtc.nodeIP";
    guard_livekit_disabled_for_a_bundled_overlay: site_with("overlays.bundled.livekit.enabled", "false")
        => "overlays.bundled.livekit.enabled";
    guard_livekit_enabled_for_the_external_overlay: site_with("overlays.external.livekit.enabled", "true")
        => "overlays.external.livekit.enabled";
    guard_turn_enabled_for_the_bundled_overlay: site_with("overlays.bundled.livekit.turn.enabled", "true")
        => "overlays.bundled.livekit.turn.enabled";
    guard_bundled_overlays_differ: site_with("overlays.bundled-turn.livekit.rtc.tcpPort", "7891")
        => "livekit.rtc.tcpPort";
    guard_no_overlays: site_with("overlays", "{}")
        => "overlays";
    guard_livekit_port_privileged: site_with("livekit.rtc.tcpPort", "80")
        => "livekit.rtc.tcpPort";
    guard_livekit_ports_collide: site_with("livekit.turn.tlsPort", "7880")
        => "livekit.turn.tlsPort";
    guard_allow_list_for_an_unsupported_ingress_class: set(
        &site_with("ingress.className", "traefik"),
        "ingress.whitelistSourceRange",
        "'192.0.2.0/24'",
    ) => "ingress.whitelistSourceRange";
}

#[test]
fn a_refused_config_writes_nothing_into_an_empty_directory() {
    let work = Workdir::with_config(&site_without("homeserver.serverName"));
    work.bundle(&["gen"]).code(2);
    assert!(work.files().is_empty());
}

// ---- gen -------------------------------------------------------------------------------------------

#[test]
fn gen_writes_the_tree_and_then_finds_it_up_to_date() {
    let work = Workdir::site();
    let assert = work.bundle(&["gen"]).code(0);
    let written = work.files();
    assert!(written.contains_key(Path::new("base/kustomization.yaml")));
    assert!(written.contains_key(Path::new("overlays/bundled-turn/kustomization.yaml")));
    assert!(
        stdout_of(&assert).ends_with(&format!(
            ".: {} written, 0 unchanged, 0 removed\n",
            written.len()
        )),
        "{}",
        stdout_of(&assert)
    );

    let again = work.bundle(&["gen"]).code(0);
    assert_eq!(
        stdout_of(&again),
        format!(".: 0 written, {} unchanged, 0 removed\n", written.len())
    );
    let check = work.bundle(&["gen", "--check"]).code(0);
    assert_eq!(
        stdout_of(&check),
        format!("up to date: {} files in .\n", written.len())
    );
}

#[test]
fn gen_writes_below_the_out_directory() {
    let work = Workdir::site();
    work.bundle(&["gen", "--out", "gitops"]).code(0);
    assert!(work.path().join("gitops/base/kustomization.yaml").is_file());
    assert!(!work.path().join("base").exists());
}

#[test]
fn gen_check_lists_every_out_of_date_file_writes_nothing_and_exits_1() {
    let work = Workdir::site();
    work.bundle(&["gen"]).code(0);
    let root = work.path();
    // One file changed by hand, one deleted, and a generated file the tree no longer has.
    let edited = root.join("overlays/bundled/kustomization.yaml");
    let mut bytes = fs::read(&edited).expect("read");
    bytes.extend_from_slice(b"# local edit\n");
    fs::write(&edited, bytes).expect("write");
    fs::remove_file(root.join("overlays/external/kustomization.yaml")).expect("remove");
    let stale = format!("{}kind: ConfigMap\n", bundle_gen::GENERATED_HEADER);
    fs::write(root.join("base/old-configmap.yaml"), stale).expect("write");
    let before = work.files();

    let assert = work.bundle(&["gen", "--check"]).code(1);
    assert_eq!(
        stdout_of(&assert),
        "out of date: overlays/bundled/kustomization.yaml\n\
         missing: overlays/external/kustomization.yaml\n\
         stale: base/old-configmap.yaml\n"
    );
    assert!(work.files() == before, "--check wrote to the tree");
}

#[test]
fn an_io_error_names_the_file_and_its_cause_once() {
    let work = Workdir::site();
    // A file where the tree needs the directory `base/`.
    fs::write(work.path().join("base"), "").expect("write");
    let stderr = stderr_of(&work.bundle(&["gen"]).code(2));
    assert!(
        stderr.starts_with("error: cannot write the tree to .: reading ./base/"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("Not a directory").count(), 1, "{stderr}");
}

// ---- csp -------------------------------------------------------------------------------------------

#[test]
fn csp_prints_https_and_wss_sources_for_the_server_and_the_external_livekit() {
    let work = Workdir::site();
    let assert = work.bundle(&["csp"]).code(0);
    assert_eq!(
        stdout_of(&assert),
        "connect-src https://matrix.example.org wss://matrix.example.org \
         https://livekit.example.net wss://livekit.example.net\n\
         media-src https://matrix.example.org\n\
         img-src https://matrix.example.org\n"
    );
}

// ---- help ------------------------------------------------------------------------------------------

#[test]
fn every_command_has_help_with_examples_and_exit_codes() {
    let work = Workdir::site();
    let commands: [&[&str]; 6] = [
        &[],
        &["gen"],
        &["validate"],
        &["csp"],
        &["pins", "status"],
        &["pins", "refresh"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let help = stdout_of(&work.bundle(&args).code(0));
        assert!(help.contains("Examples:\n  bundle "), "{args:?}:\n{help}");
        assert!(help.contains("Exit codes:\n  0  "), "{args:?}:\n{help}");
    }
}

#[test]
fn an_unknown_argument_exits_2() {
    Workdir::site().bundle(&["gen", "--chek"]).code(2);
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let work = Workdir::site();
    let (reader, writer) = std::io::pipe().expect("pipe");
    // Closed before the command starts: its first write fails with EPIPE.
    drop(reader);
    let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("bundle"))
        .current_dir(work.path())
        .arg("csp")
        .stdout(writer)
        .output()
        .expect("run bundle");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
