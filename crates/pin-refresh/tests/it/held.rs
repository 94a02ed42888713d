//! A reverted bump is respected: real git repositories (isolated from the machine's config,
//! fixed dates) where a bump commit is reverted with `git revert`, and the real test registry
//! of registry-fixture answering for LiveKit.

use std::path::Path;

use bundle_gen::{Digest, ImageName, MinAge, SemverPolicy, UpdatePolicy};
use pin_refresh::test_fixture::{TestRepo, commit_all, init_repo, write_file};
use pin_refresh::{CommitId, RevertedBump, StatusReport, reverted_bumps};
use registry_fixture::{Pin, Scenario, TestRegistry};

use crate::real_registry::only;
use crate::support;

/// A repository on `main` with one commit holding `pins.txt`.
fn site(dir: &Path) -> TestRepo {
    let repo = init_repo(dir);
    write_file(dir, "pins.txt", "livekit: old\n");
    commit_all(&repo, "site");
    repo
}

/// Commits a bump of `image` to `digest` as `bundle pins refresh` writes it (subject, pins,
/// trailers), changing `pins.txt`; returns the commit.
fn bump(repo: &TestRepo, image: ImageName, digest: &Digest) -> CommitId {
    write_file(
        repo.path(),
        "pins.txt",
        &format!("{}: {digest}\n", image.key()),
    );
    commit_all(
        repo,
        &format!(
            "chore(pins): bump {} old -> new\n\nimages.{}:\n  new: {digest}\n\n\
             Bundle-Image: {}\nBundle-Digest: {digest}\n",
            image.component(),
            image.key(),
            image.key()
        ),
    )
}

/// `git revert` of `revision` with git's own message; returns the revert commit.
fn revert(repo: &TestRepo, revision: &str, mainline: Option<&str>) -> CommitId {
    let mut args = vec![
        "-c",
        "user.name=Fixture",
        "-c",
        "user.email=fixture@example.org",
        "revert",
        "--no-edit",
    ];
    if let Some(parent) = mainline {
        args.extend(["-m", parent]);
    }
    args.push(revision);
    repo.git(args);
    repo.head().id
}

/// LiveKit pinned at `pin` under the semver policy, on the test registry.
async fn livekit_status(
    registry: &TestRegistry,
    livekit: &Scenario,
    pin: &Pin,
    reverted: Vec<RevertedBump>,
) -> StatusReport {
    livekit_status_waiting(registry, livekit, pin, reverted, None).await
}

/// [`livekit_status`] with the policy's `minAge` set to `min_age`, judged at the scenario's
/// build time (every candidate is younger than any `minAge`).
async fn livekit_status_waiting(
    registry: &TestRegistry,
    livekit: &Scenario,
    pin: &Pin,
    reverted: Vec<RevertedBump>,
    min_age: Option<MinAge>,
) -> StatusReport {
    let policy = UpdatePolicy::Semver(SemverPolicy {
        range: None,
        allow_prerelease: false,
        tag_prefix: "v".to_owned(),
        min_age,
    });
    let images = only(ImageName::LIVEKIT, livekit, pin, policy);
    let request = support::request(images, &registry.endpoint(), &["docker.io"])
        .with_reverted(reverted)
        .with_now("2026-01-01T00:00:01Z".parse().unwrap());
    pin_refresh::status(&request).await.unwrap()
}

#[tokio::test]
async fn a_reverted_bump_is_held_and_names_its_revert() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = site(dir.path());
    let bumped = bump(&repo, ImageName::LIVEKIT, &livekit.newest.digest);
    let reverting = revert(&repo, "HEAD", None);

    let reverted = reverted_bumps(&repo.open()).unwrap();
    assert_eq!(
        reverted,
        [RevertedBump {
            image: ImageName::LIVEKIT,
            digest: livekit.newest.digest.clone(),
            bump: bumped,
            revert: reverting.clone(),
            revert_subject: "Revert \"chore(pins): bump livekit old -> new\"".to_owned(),
        }]
    );
    let report = livekit_status(&registry, &livekit, &livekit.current, reverted).await;

    let status = &report.images[1];
    assert!(!status.update, "a reverted digest is not proposed again");
    assert_eq!(
        status.latest.as_ref().unwrap().digest,
        livekit.newest.digest
    );
    assert_eq!(status.held.as_ref().unwrap().revert, reverting);
}

#[tokio::test]
async fn a_held_candidate_under_min_age_is_held_not_waiting_at_no_extra_request() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = site(dir.path());
    bump(&repo, ImageName::LIVEKIT, &livekit.newest.digest);
    revert(&repo, "HEAD", None);
    let reverted = reverted_bumps(&repo.open()).unwrap();
    let checked = |min_age: Option<&str>| {
        let reverted = reverted.clone();
        let min_age = min_age.map(|text| text.parse().unwrap());
        let (registry, livekit) = (&registry, &livekit);
        async move {
            registry.reset_counts();
            let report =
                livekit_status_waiting(registry, livekit, &livekit.current, reverted, min_age)
                    .await;
            (report, registry.counts().total)
        }
    };

    let (_, without) = checked(None).await;
    let (report, with) = checked(Some("1w")).await;

    let status = &report.images[1];
    assert!(status.held.is_some());
    assert_eq!(status.waiting, None);
    assert_eq!(with, without);
}

#[tokio::test]
async fn a_newer_digest_than_the_reverted_one_is_proposed() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = site(dir.path());
    // v1.12.0 -> v1.13.5 was reverted; v1.13.7 has been published since.
    let reverted_pin = livekit.pin("v1.13.5").unwrap();
    bump(&repo, ImageName::LIVEKIT, &reverted_pin.digest);
    revert(&repo, "HEAD", None);

    let reverted = reverted_bumps(&repo.open()).unwrap();
    assert_eq!(reverted.len(), 1);
    let report = livekit_status(
        &registry,
        &livekit,
        &livekit.pin("v1.12.0").unwrap(),
        reverted,
    )
    .await;

    let status = &report.images[1];
    assert!(status.update);
    assert_eq!(status.latest.as_ref().unwrap().tag, livekit.newest.tag);
    assert_eq!(status.held, None);
}

#[tokio::test]
async fn a_reapplied_bump_is_proposed_again() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = site(dir.path());
    bump(&repo, ImageName::LIVEKIT, &livekit.newest.digest);
    revert(&repo, "HEAD", None);
    // Reverting the revert (git calls it `Reapply`) wants the bump back.
    revert(&repo, "HEAD", None);
    let reverted = reverted_bumps(&repo.open()).unwrap();
    assert_eq!(reverted, []);

    let report = livekit_status(&registry, &livekit, &livekit.current, reverted).await;
    assert!(report.images[1].update);
}

#[test]
fn a_reverted_merge_holds_every_bump_it_brought_in() {
    let dir = tempfile::tempdir().unwrap();
    let repo = site(dir.path());
    repo.git(["checkout", "--quiet", "-b", "bundle/pin-bumps"]);
    let homeserver = bump(&repo, ImageName::HOMESERVER, &Digest::of_bytes(b"tuwunel"));
    let lk_jwt = bump(&repo, ImageName::LK_JWT, &Digest::of_bytes(b"lk-jwt"));
    repo.git(["checkout", "--quiet", "main"]);
    write_file(dir.path(), "README", "unrelated\n");
    commit_all(&repo, "an unrelated change on main");
    repo.git([
        "-c",
        "user.name=Fixture",
        "-c",
        "user.email=fixture@example.org",
        "merge",
        "--quiet",
        "--no-ff",
        "--no-edit",
        "bundle/pin-bumps",
    ]);
    let reverting = revert(&repo, "HEAD", Some("1"));

    let reverted = reverted_bumps(&repo.open()).unwrap();
    let held: Vec<(ImageName, &CommitId, &CommitId)> = reverted
        .iter()
        .map(|bump| (bump.image, &bump.bump, &bump.revert))
        .collect();
    assert_eq!(
        held,
        [
            (ImageName::LK_JWT, &lk_jwt, &reverting),
            (ImageName::HOMESERVER, &homeserver, &reverting)
        ]
    );
}

#[test]
fn a_revert_of_a_reapplied_bump_holds_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let repo = site(dir.path());
    let digest = Digest::of_bytes(b"livekit");
    bump(&repo, ImageName::LIVEKIT, &digest);
    let reverting = revert(&repo, "HEAD", None);
    revert(&repo, "HEAD", None);
    // Reverting the reapply puts the first revert back in force: it is the one named.
    revert(&repo, "HEAD", None);

    let reverted = reverted_bumps(&repo.open()).unwrap();
    let held: Vec<(&Digest, &CommitId)> = reverted
        .iter()
        .map(|bump| (&bump.digest, &bump.revert))
        .collect();
    assert_eq!(held, [(&digest, &reverting)]);
}

/// Adds `count` empty commits on `main` with one `git fast-import` (fast, where `count` is
/// the history bound).
fn fill_history(repo: &TestRepo, count: usize) {
    let head = repo.head().id;
    let mut stream = String::new();
    for n in 0..count {
        let message = format!("filler {n}\n");
        stream.push_str(&format!(
            "commit refs/heads/main\ncommitter Fixture <fixture@example.org> 1600000000 +0000\n\
             data {}\n{message}",
            message.len()
        ));
        if n == 0 {
            stream.push_str(&format!("from {head}\n"));
        }
        stream.push('\n');
    }
    let mut child = std::process::Command::new("git")
        .args([
            "-C",
            &repo.path().display().to_string(),
            "fast-import",
            "--quiet",
        ])
        .envs(pin_refresh::test_fixture::isolated_git_env())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stream.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_bump_older_than_the_history_bound_is_held_by_a_revert_within_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = site(dir.path());
    let digest = Digest::of_bytes(b"livekit");
    let bumped = bump(&repo, ImageName::LIVEKIT, &digest);
    fill_history(&repo, pin_refresh::HISTORY_LIMIT);
    let reverting = revert(&repo, bumped.as_str(), None);

    let reverted = reverted_bumps(&repo.open()).unwrap();
    let held: Vec<(&CommitId, &CommitId)> = reverted
        .iter()
        .map(|bump| (&bump.bump, &bump.revert))
        .collect();
    assert_eq!(held, [(&bumped, &reverting)]);
}

#[test]
fn a_revert_older_than_the_history_bound_holds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = site(dir.path());
    bump(&repo, ImageName::LIVEKIT, &Digest::of_bytes(b"livekit"));
    revert(&repo, "HEAD", None);
    fill_history(&repo, pin_refresh::HISTORY_LIMIT);

    assert_eq!(reverted_bumps(&repo.open()).unwrap(), []);
}

#[test]
fn a_repository_without_reverts_holds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = site(dir.path());
    bump(&repo, ImageName::LIVEKIT, &Digest::of_bytes(b"livekit"));
    assert_eq!(reverted_bumps(&repo.open()).unwrap(), []);
}

#[test]
fn a_config_outside_any_repository_holds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let reverted = pin_refresh::reverted_bumps_at(
        dir.path(),
        &pin_refresh::test_fixture::isolated_git_env()
            .into_iter()
            .chain([(
                "GIT_CEILING_DIRECTORIES".to_owned(),
                dir.path().parent().unwrap().display().to_string(),
            )])
            .collect(),
    )
    .unwrap();
    assert_eq!(reverted, []);
}
