//! A reverted bump is respected: real git repositories (isolated from the machine's config,
//! fixed dates) where a bump commit is reverted with `git revert`, and the real test registry
//! of registry-fixture answering for LiveKit.

use std::path::Path;

use bundle_gen::{Digest, ImageName, ImagePin, SemverPolicy, UpdatePolicy};
use pin_refresh::test_fixture::{TestRepo, commit_all, init_repo, write_file};
use pin_refresh::{CommitId, RevertedBump, StatusReport, reverted_bumps};
use registry_fixture::{Pin, Scenario, TestRegistry};

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
    let images = support::images([(
        ImageName::LIVEKIT,
        ImagePin {
            registry: Some("docker.io".to_owned()),
            repository: livekit.repository.clone(),
            tag: Some(pin.tag.clone()),
            digest: Some(pin.digest.clone()),
            policy: UpdatePolicy::Semver(SemverPolicy {
                range: None,
                allow_prerelease: false,
                tag_prefix: "v".to_owned(),
            }),
        },
    )]);
    let request =
        support::request(images, &registry.endpoint(), &["docker.io"]).with_reverted(reverted);
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
