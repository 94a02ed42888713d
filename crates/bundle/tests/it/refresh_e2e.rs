//! `bundle pins refresh` end to end: the real binary, a real git repository made from the
//! repository's own `bundle.yaml` and its generated tree, the token-auth registry of
//! `registry-fixture` filled with the three images' realistic tag sets, `kubectl kustomize` on
//! every overlay afterwards, and a push to a local bare repository.
//!
//! The child processes run with an empty HOME, `GIT_CONFIG_NOSYSTEM` and `GIT_CONFIG_GLOBAL`
//! pointing at an empty file, so no git config of the machine takes part, and with fixed
//! author and committer dates.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use bundle_gen::{Config, Digest, ImageName, Tag};
use insta::assert_snapshot;
use pin_refresh::CommitId;
use pin_refresh::test_fixture::{CommitInfo, TestRepo};
use registry_fixture::{LkJwtRoute, Scenario, TestRegistry};

use crate::support::{Run, Workdir, files_below, kustomize, set, site_yaml};

const BUMP_BRANCH: &str = "bundle/pin-bumps";
const OVERLAYS: [&str; 3] = ["bundled", "bundled-turn", "external"];

/// A pin as the test expects it: tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expected {
    tag: Tag,
    digest: Digest,
}

impl From<registry_fixture::Pin> for Expected {
    fn from(pin: registry_fixture::Pin) -> Self {
        Self {
            tag: pin.tag,
            digest: pin.digest,
        }
    }
}

/// The registry with the three images, and each image's pin before and after a refresh.
struct Registries {
    registry: TestRegistry,
    pins: Vec<(ImageName, Expected, Expected)>,
}

async fn registries() -> Registries {
    let registry = TestRegistry::start().await.expect("test registry");
    let tuwunel = Scenario::tuwunel(&registry).await.expect("tuwunel");
    let livekit = Scenario::livekit(&registry).await.expect("livekit");
    let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .expect("lk-jwt-service");
    // The repository's bundle.yaml keeps lk-jwt-service on `X.Y.Z` releases (semver policy).
    let lk_jwt_before = lk_jwt.pin("0.6.0").expect("0.6.0 is pushed");
    let lk_jwt_after = lk_jwt.newest_release.clone().expect("a newest release");
    Registries {
        registry,
        pins: vec![
            (
                ImageName::HOMESERVER,
                tuwunel.current.into(),
                tuwunel.newest.into(),
            ),
            (
                ImageName::LIVEKIT,
                livekit.current.into(),
                livekit.newest.into(),
            ),
            (ImageName::LK_JWT, lk_jwt_before.into(), lk_jwt_after.into()),
        ],
    }
}

/// A git repository (branch `main`, one commit) holding the repository's `bundle.yaml` with
/// older pins, and the tree `bundle gen` makes from it.
struct Site {
    work: Workdir,
    git: TestRepo,
}

impl Site {
    fn new(pins: &[(ImageName, Expected, Expected)]) -> Self {
        Self::with_config(site_yaml(), pins)
    }

    /// [`Site::new`] from another config than the repository's.
    fn with_config(mut yaml: String, pins: &[(ImageName, Expected, Expected)]) -> Self {
        for (image, before, _) in pins {
            yaml = pin_refresh::set_pin(&yaml, *image, &before.tag, &before.digest)
                .expect("older pin written");
        }
        let work = Workdir::with_config(&yaml);
        fs::write(work.home().join("gitconfig"), "").expect("empty global config");
        // The fixture's own git commands (init, commits, reads) see no machine git config either.
        let git = pin_refresh::test_fixture::init_repo(work.path());
        let site = Self { work, git };
        site.bundle(&["gen"]).success();
        pin_refresh::test_fixture::commit_all(&site.git, "site with older pins");
        site
    }

    fn path(&self) -> &Path {
        self.work.path()
    }

    /// `bundle <args>` in the site, isolated from the machine's git config and credentials.
    fn bundle(&self, args: &[&str]) -> Run {
        let home = self.work.home();
        let mut command = self.work.command(args);
        command
            .env("XDG_CONFIG_HOME", home)
            .env("DOCKER_CONFIG", home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", home.join("gitconfig"))
            .env("GIT_AUTHOR_NAME", "Pin Bot")
            .env("GIT_AUTHOR_EMAIL", "pins@example.org")
            .env("GIT_AUTHOR_DATE", "1767225600 +0000")
            .env("GIT_COMMITTER_NAME", "Pin Bot")
            .env("GIT_COMMITTER_EMAIL", "pins@example.org")
            .env("GIT_COMMITTER_DATE", "1767225600 +0000");
        self.work.run(&mut command)
    }

    fn head(&self) -> CommitInfo {
        self.git.head()
    }

    /// Takes `commit` back with git's own `revert`, as an operator would; the revert commit.
    fn revert(&self, commit: &str) -> CommitId {
        self.git.git([
            "-c",
            "user.name=Fixture",
            "-c",
            "user.email=fixture@example.org",
            "revert",
            "--no-edit",
            commit,
        ]);
        self.head().id
    }

    /// Commits from HEAD back to (not including) `stop` along first parents, oldest first.
    fn commits_since(&self, stop: &CommitId) -> Vec<CommitInfo> {
        self.git
            .git([
                "rev-list",
                "--first-parent",
                "--reverse",
                &format!("{stop}..HEAD"),
            ])
            .lines()
            .map(|id| self.git.commit(id))
            .collect()
    }

    /// Every file of the work tree (not `.git`).
    fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        files_below(self.path())
    }
}

fn endpoint_args(registry: &TestRegistry) -> Vec<String> {
    ["ghcr.io", "docker.io"]
        .iter()
        .flat_map(|host| {
            [
                "--registry-endpoint".to_owned(),
                format!("{host}={}", registry.endpoint()),
            ]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_commits_one_bump_per_image_pushes_and_a_second_run_adds_nothing() {
    let Registries { registry, pins } = registries().await;
    let site = Site::new(&pins);
    let start = site.head().id;
    let remote = tempfile::tempdir().expect("temp dir");
    let bare = pin_refresh::test_fixture::init_bare_repo(remote.path());
    let endpoints = endpoint_args(&registry);

    // A dry run names every bump and changes nothing.
    let before = site.files();
    let mut args = vec!["pins", "refresh"];
    args.extend(endpoints.iter().map(String::as_str));
    let dry = site.bundle(&args).filter(registry.endpoint(), "[REGISTRY]");
    assert_snapshot!(dry.transcript(), @r"
    exit: 0
    --- stdout
    would commit: chore(pins): bump tuwunel v1.9.0 -> v1.10.0.1
      v1.10.0.1@sha256:9e4133f28fff7f1dd991dd2adc7b8ec5f59c2ac1f7b4d4f6eeb85c01674c5e73
      files: bundle.yaml, base/kustomization.yaml
    would commit: chore(pins): bump livekit v1.13.5 -> v1.13.7
      v1.13.7@sha256:f1aab48eef77fc941cd73ae16af5e2e7b4816c3360dd6e61ed1d656c5b4bc25f
      files: bundle.yaml, overlays/components/livekit/kustomization.yaml
    would commit: chore(pins): bump lk-jwt-service 0.6.0 -> 0.7.0
      0.7.0@sha256:8ff2586a1cc903f50885aeb7caf1801cdb045706759f9448f49746ec969fbb77
      files: bundle.yaml, base/kustomization.yaml
    docker.io: 4 requests
    ghcr.io: 10 requests
    --- stderr
    Dry run: nothing was written; add --commit to write and commit.
    ");
    let dry_out = dry.stdout();
    for (image, before_pin, after) in &pins {
        let subject = format!(
            "would commit: chore(pins): bump {} {} -> {}",
            image.component(),
            before_pin.tag,
            after.tag
        );
        assert!(dry_out.contains(&subject), "{subject}\n{dry_out}");
    }
    assert_eq!(
        dry.stderr(),
        "Dry run: nothing was written; add --commit to write and commit.\n"
    );
    assert_eq!(site.files(), before);
    assert_eq!(site.head().id, start);

    // --commit --branch --push: one commit per image on the bump branch, pushed.
    let remote_path = remote.path().to_str().expect("utf8 path");
    let mut args = vec![
        "pins",
        "refresh",
        "--commit",
        "--branch",
        BUMP_BRANCH,
        "--push",
        "--remote",
        remote_path,
    ];
    args.extend(endpoints.iter().map(String::as_str));
    let run = site.bundle(&args).success();
    let run_out = run.stdout();

    let commits = site.commits_since(&start);
    assert_eq!(commits.len(), pins.len(), "{}", run.transcript());
    for (commit, (image, before_pin, after)) in commits.iter().zip(&pins) {
        let message = &commit.message;
        // The whole message of each component's bump: its pins, the upstream release page,
        // what rolls when it merges (LiveKit with the site's grace period, the default
        // 1800 s), and the trailers.
        assert_snapshot!(format!("bump_message_{}", image.key()), message);
        if *image == ImageName::HOMESERVER {
            crate::readme::assert_the_readme_has_the_section_a_message_names(message);
        }
        assert!(
            message.starts_with(&format!(
                "chore(pins): bump {} {} -> {}\n",
                image.component(),
                before_pin.tag,
                after.tag
            )),
            "{message}"
        );
        assert!(
            message.ends_with(&format!(
                "\nBundle-Image: {}\nBundle-Digest: {}\n",
                image.key(),
                after.digest
            )),
            "{message}"
        );
        // bundle.yaml and the one kustomization that lists this image (the generator owns
        // which one that is).
        let changed = site.git.changed_paths(commit.id.as_str());
        assert_eq!(changed.len(), 2, "{changed:?}");
        assert!(changed.contains(&"bundle.yaml".to_owned()), "{changed:?}");
        let kustomization = changed
            .iter()
            .find(|path| path.ends_with("kustomization.yaml"))
            .expect("a kustomization.yaml");
        let content = site
            .git
            .file_at(commit.id.as_str(), kustomization)
            .expect("in the commit");
        let pin = format!("{}@{}", after.tag, after.digest);
        assert!(content.contains(&pin), "{kustomization} lacks {pin}");
        assert_eq!(commit.author_name(), "Pin Bot");
        assert_eq!(commit.committer_when().0, 1_767_225_600);
    }

    // bundle.yaml holds the new pins, the tree is what it generates, and every overlay that
    // deploys an image now renders it as tag@digest.
    let config =
        Config::from_yaml(&fs::read_to_string(site.path().join("bundle.yaml")).expect("read"))
            .expect("the refreshed config is valid");
    for (image, _, after) in &pins {
        let pin = config.raw().images.get(*image);
        assert_eq!(pin.tag.as_ref(), Some(&after.tag));
        assert_eq!(pin.digest.as_ref(), Some(&after.digest));
    }
    site.bundle(&["gen", "--check"]).success();
    for overlay in OVERLAYS {
        let objects = kustomize(&site.path().join("overlays").join(overlay));
        for (image, before_pin, after) in &pins {
            let deployed = *image != ImageName::LIVEKIT || overlay != "external";
            if deployed {
                let reference = format!(":{}@{}", after.tag, after.digest);
                assert!(objects.contains(&reference), "{overlay}: no {reference}");
            }
            assert!(
                !objects.contains(before_pin.digest.as_str()),
                "{overlay} still has {}",
                before_pin.digest
            );
        }
    }

    // The main branch is where it was; the bump branch is checked out and pushed.
    let head = site.head().id;
    assert_eq!(site.git.branch("main"), Some(start));
    assert_eq!(
        bare.branch(BUMP_BRANCH),
        Some(head.clone()),
        "pushed branch"
    );
    assert!(
        run_out.contains(&format!("On branch {BUMP_BRANCH}, pushed.")),
        "{run_out}"
    );

    // The same run again finds every pin current: no commit, no push, no change.
    let files = site.files();
    let again = site.bundle(&args).success();
    assert_eq!(
        again.stderr(),
        "All pins are current: nothing to commit.\n",
        "{}",
        again.transcript()
    );
    assert!(
        !again.stdout().contains("chore(pins)"),
        "{}",
        again.transcript()
    );
    assert_eq!(site.head().id, head);
    assert_eq!(site.files(), files);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reverted_bump_is_held_by_status_and_not_proposed_again_by_refresh() {
    let Registries { registry, pins } = registries().await;
    let site = Site::new(&pins);
    let endpoints = endpoint_args(&registry);
    let mut refresh = vec!["pins", "refresh", "--commit"];
    refresh.extend(endpoints.iter().map(String::as_str));
    site.bundle(&refresh).success();
    // The LiveKit bump, the second of the three, is taken back with git's own revert.
    let revert = site.revert("HEAD~1");
    let short = &revert.as_str()[..12];

    let mut status = vec!["pins", "status"];
    status.extend(endpoints.iter().map(String::as_str));
    let held = site
        .bundle(&status)
        .filter(registry.endpoint(), "[REGISTRY]")
        .filter(short, "[REVERT]");
    assert_snapshot!(held.transcript(), @r#"
    exit: 0
    --- stdout
    IMAGE       CURRENT                        LATEST                         UPDATE  ROUTE
    homeserver  v1.10.0.1@sha256:9e4133f28fff  v1.10.0.1@sha256:9e4133f28fff  no      bare-multiarch
    livekit     v1.13.5@sha256:e6434f78ddfd    v1.13.7@sha256:f1aab48eef77    held    semver
    lkJwt       0.7.0@sha256:8ff2586a1cc9      0.7.0@sha256:8ff2586a1cc9      no      semver
    livekit: held at v1.13.5@sha256:e6434f78ddfd: v1.13.7@sha256:f1aab48eef77 was reverted by [REVERT] (Revert "chore(pins): bump livekit v1.13.5 -> v1.13.7")
    docker.io: 4 requests (token 1, 401 challenge 1, tag list 1, manifest HEAD 0, manifest GET 1, blob 0)
    ghcr.io: 10 requests (token 2, 401 challenge 1, tag list 2, manifest HEAD 2, manifest GET 3, blob 0)
    --- stderr
    "#);

    let head = site.head().id;
    let again = site.bundle(&refresh).filter(short, "[REVERT]").success();
    assert_snapshot!(again.transcript(), @r#"
    exit: 0
    --- stdout
    held: livekit sha256:f1aab48eef77fc941cd73ae16af5e2e7b4816c3360dd6e61ed1d656c5b4bc25f (reverted by [REVERT] Revert "chore(pins): bump livekit v1.13.5 -> v1.13.7")
    docker.io: 4 requests
    ghcr.io: 10 requests
    --- stderr
    Every pin is current or held: nothing to commit.
    "#);
    assert_eq!(site.head().id, head);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_bump_under_min_age_is_only_held_and_costs_no_extra_request() {
    let Registries { registry, pins } = registries().await;
    let site = Site::new(&pins);
    let endpoints = endpoint_args(&registry);
    let mut refresh = vec!["pins", "refresh", "--commit"];
    refresh.extend(endpoints.iter().map(String::as_str));
    site.bundle(&refresh).success();
    let short = site.revert("HEAD~1").as_str()[..12].to_owned();
    let mut status = vec!["pins", "status"];
    status.extend(endpoints.iter().map(String::as_str));
    let livekit_requests = || {
        registry.reset_counts();
        let run = site.bundle(&status).success();
        let counts = registry.counts().repository(Scenario::LIVEKIT_REPOSITORY);
        (run, counts)
    };
    let (_, without) = livekit_requests();

    // Every candidate of the scenario is younger than a hundred years.
    let config = fs::read_to_string(site.path().join("bundle.yaml")).expect("bundle.yaml");
    let config = set(&config, "images.livekit.policy.minAge", "5200w");
    fs::write(site.path().join("bundle.yaml"), config).expect("bundle.yaml written");
    let (held, with) = livekit_requests();

    assert_eq!(with, without);
    assert_snapshot!(held.filter(&short, "[REVERT]").transcript(), @r#"
    exit: 0
    --- stdout
    IMAGE       CURRENT                        LATEST                         UPDATE  ROUTE
    homeserver  v1.10.0.1@sha256:9e4133f28fff  v1.10.0.1@sha256:9e4133f28fff  no      bare-multiarch
    livekit     v1.13.5@sha256:e6434f78ddfd    v1.13.7@sha256:f1aab48eef77    held    semver
    lkJwt       0.7.0@sha256:8ff2586a1cc9      0.7.0@sha256:8ff2586a1cc9      no      semver
    livekit: held at v1.13.5@sha256:e6434f78ddfd: v1.13.7@sha256:f1aab48eef77 was reverted by [REVERT] (Revert "chore(pins): bump livekit v1.13.5 -> v1.13.7")
    docker.io: 4 requests (token 1, 401 challenge 1, tag list 1, manifest HEAD 0, manifest GET 1, blob 0)
    ghcr.io: 10 requests (token 2, 401 challenge 1, tag list 2, manifest HEAD 2, manifest GET 3, blob 0)
    --- stderr
    "#);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_commit_build_bump_links_the_compare_view_from_the_pinned_build() {
    let registry = TestRegistry::start().await.expect("test registry");
    let tuwunel = Scenario::tuwunel(&registry).await.expect("tuwunel");
    let livekit = Scenario::livekit(&registry).await.expect("livekit");
    let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .expect("lk-jwt-service");
    // Tuwunel and LiveKit are current; lk-jwt-service follows main-branch builds.
    let pins = [
        (
            ImageName::HOMESERVER,
            tuwunel.newest.clone().into(),
            tuwunel.newest.into(),
        ),
        (
            ImageName::LIVEKIT,
            livekit.newest.clone().into(),
            livekit.newest.into(),
        ),
        (
            ImageName::LK_JWT,
            lk_jwt.current.into(),
            lk_jwt.newest.into(),
        ),
    ];
    let yaml = set(&site_yaml(), "images.lkJwt.policy", "{kind: commit}");
    let site = Site::with_config(yaml, &pins);
    let start = site.head().id;
    let mut args = vec!["pins", "refresh", "--commit"];
    let endpoints = endpoint_args(&registry);
    args.extend(endpoints.iter().map(String::as_str));
    site.bundle(&args).success();

    let commits = site.commits_since(&start);
    assert_eq!(commits.len(), 1);
    assert_snapshot!(commits[0].message);
}

/// The registry with Tuwunel and LiveKit, each with a newer pin, and no lk-jwt-service at
/// all, so its lookup fails (404) while the others succeed; and a site on their older pins.
async fn lk_jwt_missing() -> (TestRegistry, Vec<(ImageName, Expected, Expected)>, Site) {
    let registry = TestRegistry::start().await.expect("test registry");
    let tuwunel = Scenario::tuwunel(&registry).await.expect("tuwunel");
    let livekit = Scenario::livekit(&registry).await.expect("livekit");
    let lk_jwt_pin = Expected {
        tag: "0.6.0".parse().expect("tag"),
        digest: format!("sha256:{}", "c".repeat(64))
            .parse()
            .expect("digest"),
    };
    let pins = vec![
        (
            ImageName::HOMESERVER,
            Expected::from(tuwunel.current),
            Expected::from(tuwunel.newest),
        ),
        (
            ImageName::LIVEKIT,
            Expected::from(livekit.current),
            Expected::from(livekit.newest),
        ),
        (ImageName::LK_JWT, lk_jwt_pin.clone(), lk_jwt_pin),
    ];
    let site = Site::new(&pins);
    (registry, pins, site)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_failure_for_one_image_commits_and_pushes_the_others_and_exits_3() {
    let (registry, pins, site) = lk_jwt_missing().await;
    let start = site.head().id;
    let remote = tempfile::tempdir().expect("temp dir");
    let bare = pin_refresh::test_fixture::init_bare_repo(remote.path());
    let remote_path = remote.path().to_str().expect("utf8 path");

    let endpoints = endpoint_args(&registry);
    let mut args = vec![
        "pins",
        "refresh",
        "--commit",
        "--branch",
        BUMP_BRANCH,
        "--push",
        "--remote",
        remote_path,
    ];
    args.extend(endpoints.iter().map(String::as_str));
    let partial = site
        .bundle(&args)
        .filter(registry.endpoint(), "[REGISTRY]")
        .filter(remote_path, "[REMOTE]");

    assert_snapshot!(partial.transcript(), @r"
    exit: 3
    --- stdout
    e41cfacdeaeb chore(pins): bump tuwunel v1.9.0 -> v1.10.0.1
      v1.10.0.1@sha256:9e4133f28fff7f1dd991dd2adc7b8ec5f59c2ac1f7b4d4f6eeb85c01674c5e73
      files: bundle.yaml, base/kustomization.yaml
    458460d809b6 chore(pins): bump livekit v1.13.5 -> v1.13.7
      v1.13.7@sha256:f1aab48eef77fc941cd73ae16af5e2e7b4816c3360dd6e61ed1d656c5b4bc25f
      files: bundle.yaml, overlays/components/livekit/kustomization.yaml
    On branch bundle/pin-bumps, pushed.
    docker.io: 4 requests
    ghcr.io: 9 requests
    --- stderr
    error: partial: some images could not be checked; the bumps of the others were committed
      image `lkJwt` (ghcr.io/element-hq/lk-jwt-service): [REGISTRY]/v2/element-hq/lk-jwt-service/tags/list?n=1000: not found (HTTP 404)
    ");
    // Tuwunel and LiveKit are bumped, one commit each, and pushed; lk-jwt-service keeps its pin.
    let commits = site.commits_since(&start);
    let subjects: Vec<&str> = commits
        .iter()
        .map(|commit| commit.message.lines().next().unwrap_or_default())
        .collect();
    assert_eq!(
        subjects,
        [
            format!(
                "chore(pins): bump {} {} -> {}",
                pins[0].0.component(),
                pins[0].1.tag,
                pins[0].2.tag
            ),
            format!(
                "chore(pins): bump {} {} -> {}",
                pins[1].0.component(),
                pins[1].1.tag,
                pins[1].2.tag
            ),
        ]
    );
    assert_eq!(bare.branch(BUMP_BRANCH), Some(site.head().id));
    let config =
        Config::from_yaml(&fs::read_to_string(site.path().join("bundle.yaml")).expect("read"))
            .expect("the refreshed config is valid");
    for (image, before, after) in &pins {
        let pin = config.raw().images.get(*image);
        let expected = if *image == ImageName::LK_JWT {
            before
        } else {
            after
        };
        assert_eq!(pin.digest.as_ref(), Some(&expected.digest), "{image}");
    }
    site.bundle(&["gen", "--check"]).success();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_with_a_registry_failure_lists_the_failed_image_in_json_and_exits_3() {
    let (registry, _pins, site) = lk_jwt_missing().await;
    let start = site.head().id;
    let before = site.files();

    let endpoints = endpoint_args(&registry);
    let mut args = vec!["pins", "refresh", "--json"];
    args.extend(endpoints.iter().map(String::as_str));
    let partial = site
        .bundle(&args)
        .filter(registry.endpoint(), "[REGISTRY]")
        .expect_code(3);

    let json: serde_json::Value = serde_json::from_str(&partial.stdout()).expect("JSON");
    assert_eq!(json["version"], 1);
    assert_eq!(json["command"], "refresh");
    assert_eq!(json["refresh"]["dryRun"], true);
    let statuses: Vec<(&str, &str, bool)> = json["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|image| {
            (
                image["name"].as_str().expect("name"),
                image["status"].as_str().expect("status"),
                image["bump"].is_object(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("homeserver", "update", true),
            ("livekit", "update", true),
            ("lkJwt", "error", false),
        ]
    );
    let lk_jwt = &json["images"][2];
    assert_eq!(lk_jwt["registry"], "ghcr.io");
    assert_eq!(lk_jwt["repository"], "element-hq/lk-jwt-service");
    assert_eq!(
        lk_jwt["error"],
        format!(
            "{}/v2/element-hq/lk-jwt-service/tags/list?n=1000: not found (HTTP 404)",
            registry.endpoint()
        )
    );
    assert_eq!(json["retries"]["ghcr.io"]["http503"], 0);
    assert_eq!(
        partial.stderr(),
        format!(
            "Dry run: nothing was written; add --commit to write and commit.\n\
             error: partial: some images could not be checked; the bumps of the others are \
             listed above (dry run: nothing was written)\n  \
             image `lkJwt` (ghcr.io/element-hq/lk-jwt-service): \
             {}/v2/element-hq/lk-jwt-service/tags/list?n=1000: not found (HTTP 404)\n",
            registry.endpoint()
        )
    );
    assert_eq!(site.head().id, start);
    assert_eq!(site.files(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dirty_work_tree_changes_nothing_and_exits_2_before_any_registry_request() {
    let (registry, _pins, site) = lk_jwt_missing().await;
    let start = site.head().id;
    fs::write(site.path().join("notes.txt"), "unrelated\n").expect("write");
    let before = site.files();
    registry.reset_counts();

    let endpoints = endpoint_args(&registry);
    let mut args = vec!["pins", "refresh", "--commit", "--branch", BUMP_BRANCH];
    args.extend(endpoints.iter().map(String::as_str));
    let refused = site.bundle(&args);

    assert_snapshot!(refused.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: the work tree has uncommitted or untracked files (notes.txt); commit, stash (`git stash -u`) or ignore them, then refresh again
    ");
    assert_eq!(site.head().id, start);
    assert_eq!(site.files(), before);
    assert!(site.git.branch(BUMP_BRANCH).is_none());
    assert_eq!(registry.counts().total.total(), 0);
}

/// The site after a commit that renames the server (the branch `deployed` stays before it),
/// with `message` as that commit's message.
async fn renamed_since_deployed(message: &str) -> (TestRegistry, Site) {
    let Registries { registry, pins } = registries().await;
    let site = Site::new(&pins);
    site.git.git(["branch", "deployed"]);
    let config = site.path().join("bundle.yaml");
    let yaml = fs::read_to_string(&config).expect("read bundle.yaml");
    // The server's name, and the URLs on it, which must follow.
    let renamed = yaml.replace("matrix.example.org", "chat.example.org");
    assert!(renamed.contains("  serverName: chat.example.org\n"));
    fs::write(&config, renamed).expect("write bundle.yaml");
    site.bundle(&["gen"]).success();
    pin_refresh::test_fixture::commit_all(&site.git, message);
    (registry, site)
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_against_a_deployed_branch_refuses_a_change_its_guards_refuse_and_writes_nothing() {
    let (registry, site) = renamed_since_deployed("rename the server").await;
    let start = site.head().id;
    let before = site.files();

    let endpoints = endpoint_args(&registry);
    let mut args = vec!["pins", "refresh", "--commit", "--branch", BUMP_BRANCH];
    args.extend(["--against", "deployed"]);
    args.extend(endpoints.iter().map(String::as_str));
    let refused = site.bundle(&args);

    assert_snapshot!(refused.transcript(), @r"
    exit: 2
    --- stdout
    --- stderr
    error: the bumps were not written: bundle.yaml: 1 change against `deployed` refused, nothing written:
    bundle.yaml: `homeserver.serverName` changes from `matrix.example.org` to `chat.example.org`: every user ID, room ID and event in the database embeds the server name, and other servers and clients know the server by it: the homeserver would start over as another server, its accounts and rooms left behind. Fix: keep `matrix.example.org`; a new server name is a new homeserver with a new database, deployed beside this one. To make the change anyway once reviewed, add the trailer `Bundle-Allow: server-name` to a commit of the change (or pass `--allow server-name`).
    ");
    assert_eq!(site.head().id, start);
    assert_eq!(site.files(), before);
    assert!(site.git.branch(BUMP_BRANCH).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_against_a_deployed_branch_commits_when_a_trailer_allows_the_change() {
    let (registry, site) =
        renamed_since_deployed("rename the server\n\nBundle-Allow: server-name").await;
    let start = site.head().id;

    let endpoints = endpoint_args(&registry);
    let mut args = vec!["pins", "refresh", "--commit", "--branch", BUMP_BRANCH];
    args.extend(["--against", "deployed"]);
    args.extend(endpoints.iter().map(String::as_str));
    site.bundle(&args).success();

    let subjects: Vec<String> = site
        .commits_since(&start)
        .into_iter()
        .filter_map(|commit| commit.message.lines().next().map(str::to_owned))
        .collect();
    assert_eq!(
        subjects,
        [
            "chore(pins): bump tuwunel v1.9.0 -> v1.10.0.1",
            "chore(pins): bump livekit v1.13.5 -> v1.13.7",
            "chore(pins): bump lk-jwt-service 0.6.0 -> 0.7.0",
        ]
    );
}
