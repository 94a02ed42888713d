//! `bundle pins status` end to end: the real binary against registry-fixture's token-auth
//! registry (Debian's docker-registry behind a counting, paginating front), filled with the
//! realistic tag sets of the three images. The site is the repository's own `bundle.yaml` with
//! the pins each test needs.
//!
//! Every child process gets an empty environment plus PATH and a temporary HOME, so no
//! credentials of the machine (`BUNDLE_REGISTRY_AUTH_*`, `~/.docker/config.json`) take part.

use std::fs;
use std::process::{Command as Process, Stdio};

use bundle_gen::ImageName;
use insta::assert_snapshot;
use registry_fixture::{Counts, Credentials, LkJwtRoute, Pin, Scenario, TestRegistry};
use serde_json::Value;

use pin_refresh::test_fixture::ResetProxy;

use crate::support::{Run, Workdir, site_yaml};

/// The credentials a protected repository accepts in the credential tests.
const USER: &str = "bundle-bot";
const PASSWORD: &str = "s3cret";
/// A password the registry does not accept.
const WRONG_PASSWORD: &str = "not-the-password-7f3a";
/// Base64 of `bundle-bot:s3cret`, as `docker login` writes it into `config.json`.
const DOCKER_AUTH: &str = "YnVuZGxlLWJvdDpzM2NyZXQ=";

/// The registry filled with the three images.
struct Filled {
    registry: TestRegistry,
    tuwunel: Scenario,
    livekit: Scenario,
    lk_jwt: Scenario,
}

impl Filled {
    async fn start() -> Self {
        let registry = TestRegistry::start().await.expect("test registry");
        let tuwunel = Scenario::tuwunel(&registry).await.expect("tuwunel");
        let livekit = Scenario::livekit(&registry).await.expect("livekit");
        let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
            .await
            .expect("lk-jwt-service");
        Self {
            registry,
            tuwunel,
            livekit,
            lk_jwt,
        }
    }

    /// The pins a bundle.yaml holds before an update. The repository's config keeps
    /// lk-jwt-service on `X.Y.Z` releases (semver, below 1.0), so its older pin is `0.6.0`.
    fn older_pins(&self) -> [(ImageName, Pin); 3] {
        [
            (ImageName::HOMESERVER, self.tuwunel.current.clone()),
            (ImageName::LIVEKIT, self.livekit.current.clone()),
            (
                ImageName::LK_JWT,
                self.lk_jwt.pin("0.6.0").expect("0.6.0 is pushed"),
            ),
        ]
    }

    /// The newest pins the repository's policies allow.
    fn newest_pins(&self) -> [(ImageName, Pin); 3] {
        [
            (ImageName::HOMESERVER, self.tuwunel.newest.clone()),
            (ImageName::LIVEKIT, self.livekit.newest.clone()),
            (
                ImageName::LK_JWT,
                self.lk_jwt
                    .newest_release
                    .clone()
                    .expect("a newest release"),
            ),
        ]
    }

    /// `--registry-endpoint` for both hosts of the repository's config.
    fn endpoint_args(&self) -> Vec<String> {
        endpoint_args(&self.registry.endpoint())
    }
}

fn endpoint_args(endpoint: &str) -> Vec<String> {
    ["ghcr.io", "docker.io"]
        .iter()
        .flat_map(|host| {
            [
                "--registry-endpoint".to_owned(),
                format!("{host}={endpoint}"),
            ]
        })
        .collect()
}

/// A temporary site directory holding `bundle.yaml`, and an empty HOME for the child.
struct Site {
    work: Workdir,
}

/// The repository's `bundle.yaml` with `pins`, followed by `extra` (top-level YAML).
fn config(pins: &[(ImageName, Pin)], extra: &str) -> String {
    let mut yaml = site_yaml();
    for (image, pin) in pins {
        yaml = pin_refresh::set_pin(&yaml, *image, &pin.tag, &pin.digest).expect("pin set");
    }
    yaml.push_str(extra);
    yaml
}

/// `yaml` with `images.<image>.policy` replaced by `policy` (YAML).
fn with_policy(yaml: &str, image: ImageName, policy: &str) -> String {
    let mut doc: serde_norway::Value = serde_norway::from_str(yaml).expect("config is YAML");
    doc["images"][image.key()]["policy"] = serde_norway::from_str(policy).expect("policy is YAML");
    serde_norway::to_string(&doc).expect("serializable")
}

impl Site {
    /// A site holding [`config`]`(pins, extra)`.
    fn new(pins: &[(ImageName, Pin)], extra: &str) -> Self {
        Self::with_config(&config(pins, extra))
    }

    fn with_config(yaml: &str) -> Self {
        Self {
            work: Workdir::with_config(yaml),
        }
    }

    /// `bundle pins status <args>` with only PATH, HOME and `env` in its environment.
    fn status(&self, args: &[String], env: &[(&str, &str)]) -> Run {
        self.bundle(&[], args, env)
    }

    /// `bundle <global> pins status <args>` with only PATH, HOME and `env` in its environment.
    fn bundle(&self, global: &[&str], args: &[String], env: &[(&str, &str)]) -> Run {
        let mut command = self.work.command(global);
        command.args(["pins", "status"]).args(args);
        for (name, value) in env {
            command.env(name, value);
        }
        self.work.run(&mut command)
    }
}

fn with_json(mut args: Vec<String>) -> Vec<String> {
    args.insert(0, "--json".to_owned());
    args
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout())
        .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", run.transcript()))
}

/// Panics unless `message` contains each of `parts`.
fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "no `{part}` in: {message}");
    }
}

/// The `images[]` entry named `name` (the `bundle.yaml` key).
fn entry<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["images"]
        .as_array()
        .expect("`images` is an array")
        .iter()
        .find(|image| image["name"] == name)
        .unwrap_or_else(|| panic!("no image `{name}` in {json:#}"))
}

fn pin_json(pin: &Pin) -> Value {
    serde_json::json!({"tag": pin.tag.as_str(), "digest": pin.digest.as_str()})
}

/// The `requests` total of `host`.
fn reported(json: &Value, host: &str) -> u64 {
    json["requests"][host]["total"]
        .as_u64()
        .unwrap_or_else(|| panic!("no request count for {host} in {json:#}"))
}

/// What the front counted for the repositories of one registry host.
fn counted(counts: &Counts, repositories: &[&str]) -> u64 {
    repositories
        .iter()
        .map(|repository| u64::from(counts.repository(repository).total()))
        .sum()
}

const GHCR_REPOSITORIES: [&str; 2] = [Scenario::TUWUNEL_REPOSITORY, Scenario::LK_JWT_REPOSITORY];
const DOCKER_HUB_REPOSITORIES: [&str; 1] = [Scenario::LIVEKIT_REPOSITORY];

// ---- --json -------------------------------------------------------------------------------------

#[tokio::test]
async fn json_has_the_documented_shape_and_the_newest_pin_of_each_image() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let run = site
        .status(&with_json(filled.endpoint_args()), &[])
        .success();

    let json = json_of(&run);
    let images = json["images"].as_array().expect("`images` is an array");
    assert_eq!(images.len(), 3, "{json:#}");
    for ((image, older), (_, newest)) in filled.older_pins().iter().zip(filled.newest_pins()) {
        let status = entry(&json, image.key());
        assert_eq!(status["current"], pin_json(older), "{}", image.key());
        assert_eq!(status["latest"], pin_json(&newest), "{}", image.key());
        assert_eq!(status["status"], "update", "{}", image.key());
    }
    let hosts: Vec<&String> = json["requests"]
        .as_object()
        .expect("`requests` is an object")
        .keys()
        .collect();
    assert_eq!(hosts, ["docker.io", "ghcr.io"]);
}

#[tokio::test]
async fn json_request_counts_are_what_the_registry_saw() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");
    filled.registry.reset_counts();

    let run = site
        .status(&with_json(filled.endpoint_args()), &[])
        .success();

    let json = json_of(&run);
    let counts = filled.registry.counts();
    assert_eq!(
        reported(&json, "ghcr.io"),
        counted(&counts, &GHCR_REPOSITORIES),
        "{counts:#?}"
    );
    assert_eq!(
        reported(&json, "docker.io"),
        counted(&counts, &DOCKER_HUB_REPOSITORIES),
        "{counts:#?}"
    );
    // No request went uncounted by the client (a ping, a request to another repository).
    assert_eq!(
        reported(&json, "ghcr.io") + reported(&json, "docker.io"),
        u64::from(counts.total.total()),
        "{counts:#?}"
    );
}

// ---- --exit-code --------------------------------------------------------------------------------

#[tokio::test]
async fn exit_code_exits_1_when_an_update_is_available() {
    let filled = Filled::start().await;
    let [homeserver, _, _] = filled.older_pins();
    let [_, livekit, lk_jwt] = filled.newest_pins();
    let site = Site::new(&[homeserver, livekit, lk_jwt], "");

    let mut args = filled.endpoint_args();
    args.push("--exit-code".to_owned());
    let run = site.status(&with_json(args), &[]).expect_code(1);

    assert_eq!(entry(&json_of(&run), "homeserver")["status"], "update");
    assert_eq!(run.stderr(), "");
}

#[tokio::test]
async fn exit_code_exits_0_when_every_pin_is_current() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.newest_pins(), "");

    let mut args = filled.endpoint_args();
    args.push("--exit-code".to_owned());
    site.status(&args, &[]).success();
}

// ---- nothing new --------------------------------------------------------------------------------

#[tokio::test]
async fn nothing_new_reports_no_update_for_any_image() {
    let filled = Filled::start().await;
    let newest = filled.newest_pins();
    let site = Site::new(&newest, "");

    let run = site
        .status(&with_json(filled.endpoint_args()), &[])
        .success();

    let json = json_of(&run);
    for (image, pin) in &newest {
        let status = entry(&json, image.key());
        assert_eq!(status["status"], "current", "{}", image.key());
        assert_eq!(status["current"], pin_json(pin), "{}", image.key());
        assert_eq!(status["latest"], pin_json(pin), "{}", image.key());
    }
}

#[tokio::test]
async fn nothing_new_costs_three_tokens_two_challenges_one_tag_page_per_image_and_few_manifests() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.newest_pins(), "");
    filled.registry.reset_counts();

    site.status(&with_json(filled.endpoint_args()), &[])
        .success();

    let counts = filled.registry.counts();
    // One token per repository, each fetched anonymously.
    assert_eq!(counts.total.requests.token, 3, "{counts:#?}");
    assert_eq!(counts.total.token_with_credentials, 0, "{counts:#?}");
    // Each host's first request is answered with the 401 challenge that names the token
    // service; the client holds the host's other requests until then, so lk-jwt-service (the
    // second image on ghcr.io) asks for its token straight away. Every list fits one page
    // (lk-jwt-service's 300-odd tags included: the client asks for 1000 a page).
    assert_eq!(counts.total.requests.challenge, 2, "{counts:#?}");
    for (repository, challenges) in [
        (Scenario::TUWUNEL_REPOSITORY, 1),
        (Scenario::LIVEKIT_REPOSITORY, 1),
        (Scenario::LK_JWT_REPOSITORY, 0),
    ] {
        let repository_counts = counts.repository(repository);
        let requests = repository_counts.requests;
        assert_eq!(requests.token, 1, "{repository}");
        assert_eq!(requests.challenge, challenges, "{repository}");
        assert_eq!(
            requests.tag_list, 1,
            "{repository}: one page (after the challenged request, if any)"
        );
        assert_eq!(requests.blob, 0, "{repository}");
        assert_eq!(repository_counts.other, 0, "{repository}");
    }
    // LiveKit and lk-jwt-service: the newest allowed tag is the pinned one, and one HEAD shows
    // it still points at the pinned digest.
    for repository in [Scenario::LIVEKIT_REPOSITORY, Scenario::LK_JWT_REPOSITORY] {
        let requests = counts.repository(repository).requests;
        assert_eq!(requests.manifest_head, 1, "{repository}");
        assert_eq!(requests.manifest_get, 0, "{repository}");
    }
    // Tuwunel has three bare tags newer than its pin that do not qualify (v1.11.0, amd64
    // only; v1.10.2, whose only amd64 image is v3; v1.10.1, a single image): each costs one
    // GET to find that out, then one HEAD confirms the pinned v1.10.0.1.
    let tuwunel = counts.repository(Scenario::TUWUNEL_REPOSITORY).requests;
    assert_eq!(tuwunel.manifest_get, 3, "{tuwunel:?}");
    assert_eq!(tuwunel.manifest_head, 1, "{tuwunel:?}");
    // Nothing else: 3 tokens + 5 tag-list requests (2 of them challenged) + 6 manifest
    // requests.
    assert_eq!(counts.total.total(), 14, "{counts:#?}");
}

#[tokio::test]
async fn the_commit_policy_finds_the_newest_main_build_of_lk_jwt_service() {
    let filled = Filled::start().await;
    let [homeserver, livekit, _] = filled.newest_pins();
    let pins = [
        homeserver,
        livekit,
        (ImageName::LK_JWT, filled.lk_jwt.current.clone()),
    ];
    let yaml = with_policy(&config(&pins, ""), ImageName::LK_JWT, "kind: commit");
    let site = Site::with_config(&yaml);

    let run = site
        .status(&with_json(filled.endpoint_args()), &[])
        .success();

    let json = json_of(&run);
    let lk_jwt = entry(&json, "lkJwt");
    assert_eq!(lk_jwt["current"], pin_json(&filled.lk_jwt.current));
    assert_eq!(lk_jwt["latest"], pin_json(&filled.lk_jwt.newest));
    assert_eq!(lk_jwt["status"], "update");
    assert_eq!(lk_jwt["route"], "commit-label");
}

// ---- transient faults ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_connection_is_retried_and_counted_in_json() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.newest_pins(), "");
    // ghcr.io through a proxy that resets its first connection (a fault the real registry
    // cannot make); Docker Hub straight to the registry.
    let proxy = ResetProxy::start(&filled.registry.endpoint()).await;
    filled.registry.reset_counts();
    let args = vec![
        "--json".to_owned(),
        "--registry-endpoint".to_owned(),
        format!("ghcr.io={}", proxy.base),
        "--registry-endpoint".to_owned(),
        format!("docker.io={}", filled.registry.endpoint()),
    ];

    let run = site.status(&args, &[]).success();

    let json = json_of(&run);
    for (image, pin) in filled.newest_pins() {
        assert_eq!(entry(&json, image.key())["latest"], pin_json(&pin));
    }
    assert_eq!(
        json["retries"],
        serde_json::json!({
            "docker.io": {"total": 0, "http408": 0, "http429": 0, "http500": 0, "http502": 0,
                          "http503": 0, "http504": 0, "connect": 0, "reset": 0, "timeout": 0},
            "ghcr.io": {"total": 1, "http408": 0, "http429": 0, "http500": 0, "http502": 0,
                        "http503": 0, "http504": 0, "connect": 0, "reset": 1, "timeout": 0},
        })
    );
    // The reset request is counted by the client, but never reached the registry.
    let counts = filled.registry.counts();
    assert_eq!(
        reported(&json, "ghcr.io"),
        counted(&counts, &GHCR_REPOSITORIES) + 1,
        "{counts:#?}"
    );
}

// ---- the table ----------------------------------------------------------------------------------

/// `tag@sha256:<first 12 hex>`, as the table shortens a pin.
fn short(pin: &Pin) -> String {
    format!("{}@sha256:{}", pin.tag, &pin.digest.hex()[..12])
}

#[tokio::test]
async fn table_names_each_image_its_current_and_latest_pin_and_whether_it_is_an_update() {
    let filled = Filled::start().await;
    // LiveKit is on its newest pin; the other two are behind.
    let [homeserver, _, lk_jwt] = filled.older_pins();
    let [newest_homeserver, livekit, newest_lk_jwt] = filled.newest_pins();
    let site = Site::new(&[homeserver.clone(), livekit.clone(), lk_jwt.clone()], "");

    let run = site.status(&filled.endpoint_args(), &[]).success();

    let out = run.stdout();
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["IMAGE", "CURRENT", "LATEST", "UPDATE", "ROUTE"],
        "{out}"
    );
    let expected = [
        (
            "homeserver",
            short(&homeserver.1),
            short(&newest_homeserver.1),
            "yes",
            "bare-multiarch",
        ),
        (
            "livekit",
            short(&livekit.1),
            short(&livekit.1),
            "no",
            "semver",
        ),
        (
            "lkJwt",
            short(&lk_jwt.1),
            short(&newest_lk_jwt.1),
            "yes",
            "semver",
        ),
    ];
    for (row, (name, current, latest, update, route)) in rows[1..4].iter().zip(&expected) {
        assert_eq!(
            row,
            &[*name, current.as_str(), latest.as_str(), *update, *route],
            "{out}"
        );
    }
    // Then one line of request counts per registry host.
    assert!(
        rows[4][0] == "docker.io:" && rows[5][0] == "ghcr.io:",
        "{out}"
    );
    assert_eq!(rows.len(), 6, "{out}");
}

#[tokio::test]
async fn every_image_checked_exits_0_with_the_table_on_stdout_and_nothing_on_stderr() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let run = site.status(&filled.endpoint_args(), &[]);

    assert_snapshot!(run.transcript(), @r"
    exit: 0
    --- stdout
    IMAGE       CURRENT                      LATEST                         UPDATE  ROUTE
    homeserver  v1.9.0@sha256:7c1e37cde900   v1.10.0.1@sha256:9e4133f28fff  yes     bare-multiarch
    livekit     v1.13.5@sha256:e6434f78ddfd  v1.13.7@sha256:f1aab48eef77    yes     semver
    lkJwt       0.6.0@sha256:1af62b472a31    0.7.0@sha256:8ff2586a1cc9      yes     semver
    docker.io: 4 requests (token 1, 401 challenge 1, tag list 1, manifest HEAD 0, manifest GET 1, blob 0)
    ghcr.io: 10 requests (token 2, 401 challenge 1, tag list 2, manifest HEAD 0, manifest GET 5, blob 0)
    --- stderr
    ");
}

// ---- credentials from the environment -----------------------------------------------------------

/// The registry with Tuwunel's repository (on ghcr.io) requiring [`USER`] and [`PASSWORD`],
/// and a site on the older pins. Credentials for ghcr.io go in `BUNDLE_REGISTRY_AUTH_GHCR_IO`
/// (`pin_refresh::env_var_name`: the host as written in bundle.yaml, upper-cased, `.` -> `_`).
async fn protected_tuwunel() -> (Filled, Site) {
    let filled = Filled::start().await;
    filled.registry.require_pull_credentials(
        Scenario::TUWUNEL_REPOSITORY,
        Credentials::new(USER, PASSWORD),
    );
    let site = Site::new(&filled.older_pins(), "");
    (filled, site)
}

/// `bundle pins status --json` with `env` against [`protected_tuwunel`]: Tuwunel's newest pin
/// is found, through exactly one token request that carried credentials.
fn assert_status_opens_protected_tuwunel(filled: &Filled, site: &Site, env: &[(&str, &str)]) {
    filled.registry.reset_counts();

    let run = site
        .status(&with_json(filled.endpoint_args()), env)
        .success();

    let json = json_of(&run);
    assert_eq!(
        entry(&json, "homeserver")["latest"],
        pin_json(&filled.tuwunel.newest)
    );
    let tuwunel = filled
        .registry
        .counts()
        .repository(Scenario::TUWUNEL_REPOSITORY);
    assert_eq!(tuwunel.token_with_credentials, 1, "{tuwunel:?}");
}

#[tokio::test]
async fn credentials_from_the_host_variable_open_a_protected_repository() {
    let (filled, site) = protected_tuwunel().await;
    assert_status_opens_protected_tuwunel(
        &filled,
        &site,
        &[(
            "BUNDLE_REGISTRY_AUTH_GHCR_IO",
            &format!("{USER}:{PASSWORD}"),
        )],
    );
    // Docker Hub has no credentials: LiveKit's token was anonymous.
    let livekit = filled
        .registry
        .counts()
        .repository(Scenario::LIVEKIT_REPOSITORY);
    assert_eq!(livekit.token_with_credentials, 0, "{livekit:?}");
}

#[tokio::test]
async fn credentials_from_a_docker_config_json_open_a_protected_repository() {
    let (filled, site) = protected_tuwunel().await;
    let docker = tempfile::tempdir().expect("temp dir");
    fs::write(
        docker.path().join("config.json"),
        format!(r#"{{"auths": {{"ghcr.io": {{"auth": "{DOCKER_AUTH}"}}}}}}"#),
    )
    .expect("write config.json");
    let docker_config = docker.path().to_str().expect("utf-8 path");

    assert_status_opens_protected_tuwunel(&filled, &site, &[("DOCKER_CONFIG", docker_config)]);
}

#[tokio::test]
async fn credentials_from_the_docker_credential_helper_config_json_names_open_a_protected_repository()
 {
    let (filled, site) = protected_tuwunel().await;
    let docker = tempfile::tempdir().expect("temp dir");
    fs::write(
        docker.path().join("config.json"),
        r#"{"credsStore": "wrong-store", "credHelpers": {"ghcr.io": "bundletest"}}"#,
    )
    .expect("write config.json");
    // A helper speaking the docker-credential-helpers protocol: the server name on stdin, the
    // credentials as JSON on stdout. It answers only for the server Docker would ask about.
    let bin = tempfile::tempdir().expect("temp dir");
    let helper = bin.path().join("docker-credential-bundletest");
    pin_refresh::test_fixture::write_executable(
        &helper,
        &format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\n\
             [ \"$server\" = ghcr.io ] || {{ echo 'credentials not found'; exit 1; }}\n\
             printf '{{\"ServerURL\":\"ghcr.io\",\"Username\":\"%s\",\"Secret\":\"%s\"}}' \
             '{USER}' '{PASSWORD}'\n"
        ),
    );
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let docker_config = docker.path().to_str().expect("utf-8 path");

    assert_status_opens_protected_tuwunel(
        &filled,
        &site,
        &[("DOCKER_CONFIG", docker_config), ("PATH", &path)],
    );
}

#[tokio::test]
async fn docker_hub_credentials_are_read_from_config_json_under_its_index_url() {
    let filled = Filled::start().await;
    filled.registry.require_pull_credentials(
        Scenario::LIVEKIT_REPOSITORY,
        Credentials::new(USER, PASSWORD),
    );
    let site = Site::new(&filled.older_pins(), "");
    let docker = tempfile::tempdir().expect("temp dir");
    // Where `docker login` (no server argument) stores Docker Hub's entry.
    fs::write(
        docker.path().join("config.json"),
        format!(r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{DOCKER_AUTH}"}}}}}}"#),
    )
    .expect("write config.json");
    let docker_config = docker.path().to_str().expect("utf-8 path");
    filled.registry.reset_counts();

    let run = site
        .status(
            &with_json(filled.endpoint_args()),
            &[("DOCKER_CONFIG", docker_config)],
        )
        .success();

    let json = json_of(&run);
    assert_eq!(
        entry(&json, "livekit")["latest"],
        pin_json(&filled.livekit.newest)
    );
    let counts = filled.registry.counts();
    assert_eq!(
        counts
            .repository(Scenario::LIVEKIT_REPOSITORY)
            .token_with_credentials,
        1
    );
    // The entry is Docker Hub's only: the ghcr.io images asked anonymously.
    assert_eq!(counts.total.token_with_credentials, 1, "{counts:#?}");
}

#[tokio::test]
async fn a_protected_repository_without_credentials_is_an_error_naming_the_variable() {
    let (filled, site) = protected_tuwunel().await;

    let run = site
        .status(&filled.endpoint_args(), &[])
        .filter(filled.registry.endpoint(), "[REGISTRY]");

    assert_names(
        &run.stderr(),
        &[
            "homeserver",
            "ghcr.io",
            Scenario::TUWUNEL_REPOSITORY,
            "BUNDLE_REGISTRY_AUTH_GHCR_IO",
        ],
    );
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    IMAGE       CURRENT                      LATEST                       UPDATE  ROUTE
    homeserver  v1.9.0@sha256:7c1e37cde900   -                            error   -
    livekit     v1.13.5@sha256:e6434f78ddfd  v1.13.7@sha256:f1aab48eef77  yes     semver
    lkJwt       0.6.0@sha256:1af62b472a31    0.7.0@sha256:8ff2586a1cc9    yes     semver
    docker.io: 4 requests (token 1, 401 challenge 1, tag list 1, manifest HEAD 0, manifest GET 1, blob 0)
    ghcr.io: 6 requests (token 2, 401 challenge 2, tag list 1, manifest HEAD 0, manifest GET 1, blob 0)
    --- stderr
    error: 1 of 3 images could not be checked (every image is reported on stdout):
      image `homeserver` (ghcr.io/matrix-construct/tuwunel): [REGISTRY]/v2/matrix-construct/tuwunel/tags/list?n=1000: registry requires authentication that was not accepted (anonymous pull was refused; set `BUNDLE_REGISTRY_AUTH_GHCR_IO` to user:password, or add ghcr.io to the Docker config.json)
    ");
}

#[tokio::test]
async fn wrong_credentials_are_an_error_naming_the_variable() {
    let (filled, site) = protected_tuwunel().await;

    let run = site
        .status(
            &filled.endpoint_args(),
            &[(
                "BUNDLE_REGISTRY_AUTH_GHCR_IO",
                &format!("{USER}:{WRONG_PASSWORD}"),
            )],
        )
        .filter(filled.registry.endpoint(), "[REGISTRY]");

    assert_names(
        &run.stderr(),
        &[
            "homeserver",
            "ghcr.io",
            "BUNDLE_REGISTRY_AUTH_GHCR_IO",
            "refused",
        ],
    );
    assert!(
        !run.transcript().contains(WRONG_PASSWORD),
        "the password leaked: {}",
        run.transcript()
    );
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    IMAGE       CURRENT                      LATEST                       UPDATE  ROUTE
    homeserver  v1.9.0@sha256:7c1e37cde900   -                            error   -
    livekit     v1.13.5@sha256:e6434f78ddfd  v1.13.7@sha256:f1aab48eef77  yes     semver
    lkJwt       0.6.0@sha256:1af62b472a31    -                            error   -
    docker.io: 4 requests (token 1, 401 challenge 1, tag list 1, manifest HEAD 0, manifest GET 1, blob 0)
    ghcr.io: 3 requests (token 2, 401 challenge 1, tag list 0, manifest HEAD 0, manifest GET 0, blob 0)
    --- stderr
    error: 2 of 3 images could not be checked (every image is reported on stdout):
      image `homeserver` (ghcr.io/matrix-construct/tuwunel): token service [REGISTRY]/token refused the configured credentials with HTTP 401: check `BUNDLE_REGISTRY_AUTH_GHCR_IO` or the Docker config.json entry for ghcr.io
      image `lkJwt` (ghcr.io/element-hq/lk-jwt-service): token service [REGISTRY]/token refused the configured credentials with HTTP 401: check `BUNDLE_REGISTRY_AUTH_GHCR_IO` or the Docker config.json entry for ghcr.io
    ");
}

#[tokio::test]
async fn exit_code_keeps_2_when_some_image_failed_beside_an_update() {
    let (filled, site) = protected_tuwunel().await;
    let mut args = filled.endpoint_args();
    args.push("--exit-code".to_owned());

    // LiveKit has an update; the two ghcr.io images fail on the wrong password.
    let run = site
        .status(
            &with_json(args),
            &[(
                "BUNDLE_REGISTRY_AUTH_GHCR_IO",
                &format!("{USER}:{WRONG_PASSWORD}"),
            )],
        )
        .expect_code(2);

    assert_eq!(entry(&json_of(&run), "livekit")["status"], "update");
    assert_eq!(entry(&json_of(&run), "homeserver")["status"], "error");
}

// ---- unreachable and refused endpoints ----------------------------------------------------------

/// A local port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

#[test]
fn an_unreachable_registry_is_an_error_naming_the_image_registry_and_cause() {
    let site = Site::new(&[], "");
    let endpoint = format!("http://127.0.0.1:{}", closed_port());

    let run = site
        .status(&endpoint_args(&endpoint), &[])
        .filter(&endpoint, "[CLOSED PORT]");

    // Every image is reported, in bundle.yaml order, each with its error.
    assert_names(
        &run.stderr(),
        &[
            "homeserver",
            "ghcr.io",
            Scenario::TUWUNEL_REPOSITORY,
            endpoint.as_str(),
            "onnection refused",
        ],
    );
    // Each connection was refused four times (the first attempt and three retries).
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    IMAGE       CURRENT                      LATEST  UPDATE  ROUTE
    homeserver  v1.9.3@sha256:678b7f5350e0   -       error   -
    livekit     v1.13.7@sha256:6fd3b7088874  -       error   -
    lkJwt       0.6.0@sha256:822f0c03a3bd    -       error   -
    docker.io: 4 requests (token 0, 401 challenge 0, tag list 4, manifest HEAD 0, manifest GET 0, blob 0), 3 retries (connect 3)
    ghcr.io: 8 requests (token 0, 401 challenge 0, tag list 8, manifest HEAD 0, manifest GET 0, blob 0), 6 retries (connect 6)
    --- stderr
    error: 3 of 3 images could not be checked (every image is reported on stdout):
      image `homeserver` (ghcr.io/matrix-construct/tuwunel): [CLOSED PORT]/v2/matrix-construct/tuwunel/tags/list?n=1000: request failed: client error (Connect): tcp connect error: Connection refused (os error 111) (still failing after 4 attempts; try again later)
      image `livekit` (docker.io/livekit/livekit-server): [CLOSED PORT]/v2/livekit/livekit-server/tags/list?n=1000: request failed: client error (Connect): tcp connect error: Connection refused (os error 111) (still failing after 4 attempts; try again later)
      image `lkJwt` (ghcr.io/element-hq/lk-jwt-service): [CLOSED PORT]/v2/element-hq/lk-jwt-service/tags/list?n=1000: request failed: client error (Connect): tcp connect error: Connection refused (os error 111) (still failing after 4 attempts; try again later)
    ");
}

#[tokio::test]
async fn registries_in_bundle_yaml_marked_insecure_may_be_plain_http() {
    let filled = Filled::start().await;
    let endpoint = filled.registry.endpoint();
    let registries = format!(
        "registries:\n  ghcr.io:\n    endpoint: {endpoint}\n    insecure: true\n  \
         docker.io:\n    endpoint: {endpoint}\n    insecure: true\n"
    );
    let site = Site::new(&filled.older_pins(), &registries);

    let run = site.status(&["--json".to_owned()], &[]).success();

    let json = json_of(&run);
    for (image, newest) in filled.newest_pins() {
        assert_eq!(entry(&json, image.key())["latest"], pin_json(&newest));
    }
}

#[tokio::test]
async fn registries_in_bundle_yaml_with_plain_http_and_not_insecure_are_refused() {
    let filled = Filled::start().await;
    let endpoint = filled.registry.endpoint();
    let registries = format!("registries:\n  ghcr.io:\n    endpoint: {endpoint}\n");
    let site = Site::new(&filled.older_pins(), &registries);
    filled.registry.reset_counts();

    // Docker Hub goes to the test registry too, so that nothing leaves the machine.
    let args = vec![
        "--registry-endpoint".to_owned(),
        format!("docker.io={endpoint}"),
    ];
    let run = site.status(&args, &[]).filter(&endpoint, "[REGISTRY]");

    assert_names(
        &run.stderr(),
        &["registries.ghcr.io", endpoint.as_str(), "insecure: true"],
    );
    assert_snapshot!(run.transcript(), @r"
    exit: 2
    --- stdout
    IMAGE       CURRENT                      LATEST                       UPDATE  ROUTE
    homeserver  v1.9.0@sha256:7c1e37cde900   -                            error   -
    livekit     v1.13.5@sha256:e6434f78ddfd  v1.13.7@sha256:f1aab48eef77  yes     semver
    lkJwt       0.6.0@sha256:1af62b472a31    -                            error   -
    docker.io: 4 requests (token 1, 401 challenge 1, tag list 1, manifest HEAD 0, manifest GET 1, blob 0)
    --- stderr
    error: 2 of 3 images could not be checked (every image is reported on stdout):
      image `homeserver` (ghcr.io/matrix-construct/tuwunel): registry endpoint `[REGISTRY]` for ghcr.io is not usable: plain http is only allowed for an endpoint marked insecure: add `insecure: true` under `registries.ghcr.io` in bundle.yaml (`--registry-endpoint ghcr.io=http://...` marks it so)
      image `lkJwt` (ghcr.io/element-hq/lk-jwt-service): registry endpoint `[REGISTRY]` for ghcr.io is not usable: plain http is only allowed for an endpoint marked insecure: add `insecure: true` under `registries.ghcr.io` in bundle.yaml (`--registry-endpoint ghcr.io=http://...` marks it so)
    ");
    // Nothing is sent for the images on ghcr.io; LiveKit, on Docker Hub, is still checked.
    let counts = filled.registry.counts();
    assert_eq!(
        counted(&counts, &GHCR_REPOSITORIES),
        0,
        "nothing is sent: {counts:#?}"
    );
}

#[tokio::test]
async fn a_command_line_endpoint_overrides_registries_in_bundle_yaml() {
    let filled = Filled::start().await;
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let registries = format!(
        "registries:\n  ghcr.io:\n    endpoint: {closed}\n    insecure: true\n  \
         docker.io:\n    endpoint: {closed}\n    insecure: true\n"
    );
    let site = Site::new(&filled.older_pins(), &registries);

    let run = site
        .status(&with_json(filled.endpoint_args()), &[])
        .success();

    let json = json_of(&run);
    for (image, newest) in filled.newest_pins() {
        assert_eq!(entry(&json, image.key())["latest"], pin_json(&newest));
    }
}

// ---- progress on a terminal ---------------------------------------------------------------------

/// `arg` quoted for `sh`.
fn shell_quoted(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// What `bundle <global> pins status` prints on a pseudo-terminal (stdout and stderr both).
fn on_a_terminal(site: &Site, filled: &Filled, global: &[&str]) -> String {
    pins_on_a_terminal(site, filled, global, "status")
}

/// What `bundle <global> pins <subcommand>` prints on a pseudo-terminal.
fn pins_on_a_terminal(site: &Site, filled: &Filled, global: &[&str], subcommand: &str) -> String {
    let bundle = assert_cmd::cargo::cargo_bin("bundle");
    let command: Vec<String> = std::iter::once(bundle.to_str().expect("utf-8 path"))
        .chain(global.iter().copied())
        .chain(["pins", subcommand])
        .map(str::to_owned)
        .chain(filled.endpoint_args())
        .map(|arg| shell_quoted(&arg))
        .collect();

    // util-linux `script` runs the command on a pseudo-terminal and copies what it prints.
    let output = Process::new("script")
        .args([
            "--quiet",
            "--return",
            "--command",
            &command.join(" "),
            "/dev/null",
        ])
        .current_dir(site.work.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", site.work.home())
        .stdin(Stdio::null())
        .output()
        .expect("script runs");

    let terminal = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(output.status.code(), Some(0), "{terminal}");
    terminal
}

#[tokio::test]
async fn on_a_terminal_a_progress_line_is_shown_and_cleared_before_the_table() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let terminal = on_a_terminal(&site, &filled, &[]);

    assert!(
        terminal.starts_with("Checking 3 images on their registries\u{2026}\r\x1b[KIMAGE "),
        "{terminal:?}"
    );
}

#[tokio::test]
async fn on_a_terminal_a_refresh_shows_a_progress_line_and_clears_it_before_its_report() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let terminal = pins_on_a_terminal(&site, &filled, &[], "refresh");

    assert!(
        terminal.starts_with(
            "Checking the images on their registries, then bumping the newer ones\u{2026}\
             \r\x1b[Kwould commit: "
        ),
        "{terminal:?}"
    );
}

#[tokio::test]
async fn on_a_terminal_quiet_shows_no_progress_line_but_the_table() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let terminal = on_a_terminal(&site, &filled, &["--quiet"]);

    assert!(terminal.starts_with("IMAGE "), "{terminal:?}");
    assert!(!terminal.contains('\x1b'), "{terminal:?}");
}

// ---- log messages: -v and RUST_LOG ----------------------------------------------------------------

/// What the bare-multiarch policy logs at info level while it looks for Tuwunel's newest pin:
/// the two bare tags newer than the pin that are not multi-arch indexes (see
/// `nothing_new_costs_...`), newest first.
const SKIPPED_TAGS_LOG: &str = concat!(
    " INFO pin_refresh::status: skipping a bare tag that is not an index of every required platform tag=v1.11.0\n",
    " INFO pin_refresh::status: skipping a bare tag that is not an index of every required platform tag=v1.10.2\n",
    " INFO pin_refresh::status: skipping a bare tag that is not an index of every required platform tag=v1.10.1\n",
);

#[tokio::test]
async fn by_default_no_log_message_below_a_warning_is_shown() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let run = site
        .status(&with_json(filled.endpoint_args()), &[])
        .success();

    assert_eq!(run.stderr(), "");
}

#[tokio::test]
async fn verbose_shows_the_info_messages_of_the_pin_policies_on_stderr() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let run = site
        .bundle(&["-v"], &with_json(filled.endpoint_args()), &[])
        .success();

    assert_eq!(run.stderr(), SKIPPED_TAGS_LOG);
    // stdout stays the data alone.
    json_of(&run);
}

#[tokio::test]
async fn rust_log_shows_messages_without_verbose() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let run = site
        .status(
            &with_json(filled.endpoint_args()),
            &[("RUST_LOG", "pin_refresh=info")],
        )
        .success();

    assert_eq!(run.stderr(), SKIPPED_TAGS_LOG);
}

#[tokio::test]
async fn rust_log_replaces_the_level_of_verbose() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let run = site
        .bundle(
            &["-vv"],
            &with_json(filled.endpoint_args()),
            &[("RUST_LOG", "pin_refresh=warn")],
        )
        .success();

    assert_eq!(run.stderr(), "");
}

#[tokio::test]
async fn quiet_hides_the_log_messages_and_keeps_the_data() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");

    let run = site
        .bundle(&["-q"], &with_json(filled.endpoint_args()), &[])
        .success();

    assert_eq!(run.stderr(), "");
    assert_eq!(json_of(&run)["images"].as_array().map(Vec::len), Some(3));
}

// ---- closed stdout ------------------------------------------------------------------------------

#[tokio::test]
async fn a_closed_stdout_is_not_an_error() {
    let filled = Filled::start().await;
    let site = Site::new(&filled.older_pins(), "");
    // A pipe whose reading end is closed before the child starts: its first write fails with
    // EPIPE, as under `bundle pins status | head -0`.
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);

    let output = Process::new(assert_cmd::cargo::cargo_bin("bundle"))
        .current_dir(site.work.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", site.work.home())
        .args(["pins", "status"])
        .args(filled.endpoint_args())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("bundle runs");

    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
