//! `policy.minAge` against the real test registry (registry-fixture's docker-registry behind
//! its counting front). The scenarios' image configs are all `created` at
//! 2026-01-01T00:00:00Z, and lk-jwt-service's main builds carry their `latest-ci_<time>`; the
//! time the request judges against is set by each test.

use bundle_gen::{
    BareMultiarchPolicy, CommitPolicy, ImageName, Images, MinAge, SemverPolicy, UpdatePolicy,
};
use jiff::Timestamp;
use pin_refresh::{ImageStatus, RequestCounts, StatusRequest, Waiting, status};
use registry_fixture::{LkJwtRoute, Pin, Scenario, TestRegistry};

use crate::real_registry::only;
use crate::support;

/// When every scenario image was built (their configs' `created`).
const CREATED: &str = "2026-01-01T00:00:00Z";

fn time(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn age(text: &str) -> Option<MinAge> {
    Some(text.parse().unwrap())
}

fn bare_multiarch(min_age: Option<MinAge>) -> UpdatePolicy {
    UpdatePolicy::BareMultiarch(BareMultiarchPolicy {
        min_age,
        ..BareMultiarchPolicy::default()
    })
}

fn semver(min_age: Option<MinAge>) -> UpdatePolicy {
    UpdatePolicy::Semver(SemverPolicy {
        range: Some("^1".parse().unwrap()),
        allow_prerelease: false,
        tag_prefix: "v".to_owned(),
        min_age,
    })
}

fn commit(min_age: Option<MinAge>) -> UpdatePolicy {
    UpdatePolicy::Commit(CommitPolicy { min_age })
}

/// Checks `images` at `now`: the status of `name` and the requests the registry saw.
async fn check_at(
    registry: &TestRegistry,
    images: Images,
    now: Timestamp,
    name: ImageName,
) -> (ImageStatus, RequestCounts) {
    let request: StatusRequest =
        support::request(images, &registry.endpoint(), &["ghcr.io", "docker.io"]).with_now(now);
    registry.reset_counts();
    let report = status(&request).await.unwrap();
    let counts = registry.counts().total.requests;
    let image = report
        .images
        .into_iter()
        .find(|image| image.name == name)
        .unwrap();
    (image, counts)
}

fn assert_latest(image: &ImageStatus, expected: &Pin) {
    let latest = image.latest.as_ref().unwrap();
    assert_eq!(
        (&latest.tag, &latest.digest),
        (&expected.tag, &expected.digest)
    );
}

#[tokio::test]
async fn a_release_younger_than_min_age_waits_until_it_is_that_old() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let images = only(
        ImageName::HOMESERVER,
        &tuwunel,
        &tuwunel.current,
        bare_multiarch(age("3d")),
    );

    let (homeserver, _) = check_at(
        &registry,
        images,
        time("2026-01-03T23:59:59Z"),
        ImageName::HOMESERVER,
    )
    .await;

    assert_latest(&homeserver, &tuwunel.newest);
    assert!(!homeserver.update);
    assert_eq!(
        homeserver.waiting,
        Some(Waiting {
            published: time(CREATED),
            eligible_at: time("2026-01-04T00:00:00Z"),
        })
    );
}

#[tokio::test]
async fn a_release_published_min_age_ago_is_proposed() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let images = only(
        ImageName::HOMESERVER,
        &tuwunel,
        &tuwunel.current,
        bare_multiarch(age("3d")),
    );

    let (homeserver, _) = check_at(
        &registry,
        images,
        time("2026-01-04T00:00:00Z"),
        ImageName::HOMESERVER,
    )
    .await;

    assert_latest(&homeserver, &tuwunel.newest);
    assert!(homeserver.update);
    assert_eq!(homeserver.waiting, None);
}

#[tokio::test]
async fn min_age_reads_a_new_candidates_platform_manifest_and_config_and_nothing_more() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let at = |policy| only(ImageName::HOMESERVER, &tuwunel, &tuwunel.current, policy);
    let now = time("2026-01-02T00:00:00Z");

    let (_, without) = check_at(
        &registry,
        at(bare_multiarch(None)),
        now,
        ImageName::HOMESERVER,
    )
    .await;
    let (_, with) = check_at(
        &registry,
        at(bare_multiarch(age("3d"))),
        now,
        ImageName::HOMESERVER,
    )
    .await;

    assert_eq!(
        with,
        RequestCounts {
            manifest_get: without.manifest_get + 1,
            blob: without.blob + 1,
            ..without
        }
    );
}

#[tokio::test]
async fn min_age_costs_no_request_when_nothing_is_new() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let at = |policy| only(ImageName::LIVEKIT, &livekit, &livekit.newest, policy);
    let now = time("2026-01-01T00:00:01Z");

    let (_, without) = check_at(&registry, at(semver(None)), now, ImageName::LIVEKIT).await;
    let (image, with) = check_at(&registry, at(semver(age("1w"))), now, ImageName::LIVEKIT).await;

    assert_eq!(with, without);
    assert!(!image.update);
    assert_eq!(image.waiting, None);
}

#[tokio::test]
async fn a_semver_release_younger_than_min_age_waits() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.current,
        semver(age("12h")),
    );

    let (image, _) = check_at(
        &registry,
        images,
        time("2026-01-01T06:00:00Z"),
        ImageName::LIVEKIT,
    )
    .await;

    assert_latest(&image, &livekit.newest);
    assert!(!image.update);
    assert_eq!(
        image.waiting.map(|waiting| waiting.eligible_at),
        Some(time("2026-01-01T12:00:00Z"))
    );
}

#[tokio::test]
async fn a_main_build_waits_from_its_first_main_build_at_no_extra_request() {
    let registry = TestRegistry::start().await.unwrap();
    let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .unwrap();
    // The newest commit's main build, by the `latest-ci_<time>` tag that names its digest.
    let built: i64 = lk_jwt
        .tags
        .iter()
        .find(|(tag, digest)| tag.starts_with("latest-ci_") && **digest == lk_jwt.newest.digest)
        .and_then(|(tag, _)| tag.strip_prefix("latest-ci_")?.parse().ok())
        .unwrap();
    let built = Timestamp::from_second(built).unwrap();
    let at = |policy| only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.current, policy);
    let an_hour_later = built
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap();

    let (_, without) = check_at(
        &registry,
        at(commit(None)),
        an_hour_later,
        ImageName::LK_JWT,
    )
    .await;
    let (image, with) = check_at(
        &registry,
        at(commit(age("1d"))),
        an_hour_later,
        ImageName::LK_JWT,
    )
    .await;

    assert_latest(&image, &lk_jwt.newest);
    assert!(!image.update);
    assert_eq!(
        image.waiting,
        Some(Waiting {
            published: built,
            eligible_at: built
                .checked_add(jiff::SignedDuration::from_hours(24))
                .unwrap(),
        })
    );
    assert_eq!(with, without);
}
