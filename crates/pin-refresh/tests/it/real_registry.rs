//! `pin_refresh::status` against a real registry: Debian's docker-registry (CNCF distribution
//! 2.8) with token auth, behind registry-fixture's paginating front, filled with the tag sets
//! of the three images. Each test asserts the chosen pin and what it cost in requests, as
//! counted by the front (not by the client).

use std::collections::BTreeMap;

use bundle_gen::{
    BareMultiarchPolicy, CommitPolicy, ImageName, ImagePin, Images, SemverPolicy, UpdatePolicy,
};
use pin_refresh::{
    ClientOptions, CredentialSource, Credentials, ImageStatus, RequestCounts, Route, StatusReport,
    StatusRequest, status,
};
use registry_fixture::{LkJwtHistory, LkJwtRoute, Pin, Scenario, TestRegistry};

use crate::support;

/// Where each image lives upstream; the test registry stands in for both hosts.
fn host(name: ImageName) -> &'static str {
    if name == ImageName::LIVEKIT {
        "docker.io"
    } else {
        "ghcr.io"
    }
}

/// Image `name` from `scenario`, pinned at `pin` under `policy`.
fn pinned(name: ImageName, scenario: &Scenario, pin: &Pin, policy: UpdatePolicy) -> ImagePin {
    ImagePin {
        registry: Some(host(name).to_owned()),
        repository: scenario.repository.clone(),
        tag: Some(pin.tag.clone()),
        digest: Some(pin.digest.clone()),
        policy,
    }
}

/// Images in which only `name` is checked, [`pinned`]; the other two are manual.
fn only(name: ImageName, scenario: &Scenario, pin: &Pin, policy: UpdatePolicy) -> Images {
    support::images([(name, pinned(name, scenario, pin, policy))])
}

fn bare_multiarch() -> UpdatePolicy {
    UpdatePolicy::BareMultiarch(BareMultiarchPolicy::default())
}

fn semver(tag_prefix: &str, range: Option<&str>, allow_prerelease: bool) -> UpdatePolicy {
    UpdatePolicy::Semver(SemverPolicy {
        range: range.map(|range| range.parse().unwrap()),
        allow_prerelease,
        tag_prefix: tag_prefix.to_owned(),
        min_age: None,
    })
}

fn commit() -> UpdatePolicy {
    UpdatePolicy::Commit(CommitPolicy::default())
}

/// A request sending both ghcr.io and docker.io to the test registry, with no credentials
/// from the machine.
fn request(registry: &TestRegistry, images: Images) -> StatusRequest {
    support::request(images, &registry.endpoint(), &["ghcr.io", "docker.io"])
}

async fn check(registry: &TestRegistry, request: StatusRequest) -> StatusReport {
    registry.reset_counts();
    status(&request).await.unwrap()
}

fn image(report: &StatusReport, name: ImageName) -> &ImageStatus {
    report
        .images
        .iter()
        .find(|image| image.name == name)
        .unwrap()
}

fn assert_latest(status: &ImageStatus, expected: &Pin) {
    let latest = status.latest.as_ref().unwrap();
    assert_eq!(
        (&latest.tag, &latest.digest),
        (&expected.tag, &expected.digest)
    );
}

/// Tag-list pages needed for `tags` tags at `page` tags per page.
fn pages(tags: usize, page: usize) -> u32 {
    u32::try_from(tags.div_ceil(page)).unwrap()
}

#[tokio::test]
async fn tuwunel_skips_newer_single_arch_amd64_only_and_v3_only_tags() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let images = only(
        ImageName::HOMESERVER,
        &tuwunel,
        &tuwunel.current,
        bare_multiarch(),
    );

    let report = check(&registry, request(&registry, images)).await;

    let homeserver = image(&report, ImageName::HOMESERVER);
    assert_latest(homeserver, &tuwunel.newest);
    assert!(homeserver.update);
    assert_eq!(homeserver.route, Route::BareMultiarch);
}

#[tokio::test]
async fn livekit_takes_the_newest_stable_v_tag() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.current,
        semver("v", None, false),
    );

    let report = check(&registry, request(&registry, images)).await;

    let status = image(&report, ImageName::LIVEKIT);
    assert_latest(status, &livekit.newest);
    assert!(status.update);
    assert_eq!(status.route, Route::Semver);
}

#[tokio::test]
async fn livekit_with_prereleases_allowed_takes_the_release_candidate() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.current,
        semver("v", None, true),
    );

    let report = check(&registry, request(&registry, images)).await;

    assert_latest(
        image(&report, ImageName::LIVEKIT),
        livekit.newest_prerelease.as_ref().unwrap(),
    );
}

#[tokio::test]
async fn livekit_within_a_range_takes_a_docker_manifest_list() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let old = livekit.pin("v1.9.11").unwrap();
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &old,
        semver("v", Some("~1.12"), false),
    );

    let report = check(&registry, request(&registry, images)).await;

    assert_latest(
        image(&report, ImageName::LIVEKIT),
        &livekit.pin("v1.12.0").unwrap(),
    );
}

async fn lk_jwt_commit(route: LkJwtRoute) -> (Scenario, StatusReport) {
    let registry = TestRegistry::start().await.unwrap();
    let lk_jwt = Scenario::lk_jwt(&registry, route).await.unwrap();
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.current, commit());
    let report = check(&registry, request(&registry, images)).await;
    (lk_jwt, report)
}

#[tokio::test]
async fn lk_jwt_commit_build_is_found_through_the_revision_label() {
    let (lk_jwt, report) = lk_jwt_commit(LkJwtRoute::Label).await;

    let status = image(&report, ImageName::LK_JWT);
    assert_latest(status, &lk_jwt.newest);
    assert_eq!(status.route, Route::CommitLabel);
}

#[tokio::test]
async fn lk_jwt_commit_build_without_labels_is_found_through_the_attestation() {
    let (lk_jwt, report) = lk_jwt_commit(LkJwtRoute::Attestation).await;

    let status = image(&report, ImageName::LK_JWT);
    assert_latest(status, &lk_jwt.newest);
    assert_eq!(status.route, Route::CommitAttestation);
}

#[tokio::test]
async fn tuwunel_release_rebuilt_under_the_same_tag_is_proposed() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let before_rebuild = tuwunel.before_rebuild.as_ref().unwrap();
    let images = only(
        ImageName::HOMESERVER,
        &tuwunel,
        before_rebuild,
        bare_multiarch(),
    );

    let report = check(&registry, request(&registry, images)).await;

    let homeserver = image(&report, ImageName::HOMESERVER);
    assert_eq!(homeserver.current.tag.as_ref(), Some(&tuwunel.newest.tag));
    assert_latest(homeserver, &tuwunel.newest);
    assert!(homeserver.update);
}

async fn lk_jwt_after(history: LkJwtHistory) -> (TestRegistry, Scenario) {
    let registry = TestRegistry::start().await.unwrap();
    let lk_jwt = Scenario::lk_jwt_history(&registry, LkJwtRoute::Label, history)
        .await
        .unwrap();
    (registry, lk_jwt)
}

#[tokio::test]
async fn lk_jwt_rerun_of_an_older_main_build_does_not_move_the_pin_back() {
    let (registry, lk_jwt) = lk_jwt_after(LkJwtHistory::RerunOfOlderBuild).await;
    // Pinned at the newest commit; since then an older commit's build was re-run and holds
    // the newest latest-ci_ tag.
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.newest, commit());

    let report = check(&registry, request(&registry, images)).await;

    let status = image(&report, ImageName::LK_JWT);
    assert_latest(status, &lk_jwt.newest);
    assert!(!status.update);
    assert_eq!(status.route, Route::CommitLabel);
}

#[tokio::test]
async fn lk_jwt_rerun_of_an_older_main_build_is_passed_over_for_the_newest_commit() {
    let (registry, lk_jwt) = lk_jwt_after(LkJwtHistory::RerunOfOlderBuild).await;
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.current, commit());

    let report = check(&registry, request(&registry, images)).await;

    let status = image(&report, ImageName::LK_JWT);
    assert_latest(status, &lk_jwt.newest);
    assert!(status.update);
}

#[tokio::test]
async fn lk_jwt_update_reads_the_newest_main_builds_three_requests_each() {
    let (lk_jwt, report) = lk_jwt_commit(LkJwtRoute::Label).await;
    let history = ClientOptions::default().commit_history;

    let status = image(&report, ImageName::LK_JWT);
    assert_latest(status, &lk_jwt.newest);
    let requests = report.requests["ghcr.io"];
    // The newest latest-ci_ tag's HEAD, then per main build read an index, a platform
    // manifest and a config blob; then the chosen commit's sha- tag HEAD.
    assert_eq!(requests.manifest_head, 2, "{requests:?}");
    assert_eq!(
        requests.manifest_get,
        u32::try_from(2 * history).unwrap(),
        "{requests:?}"
    );
    assert_eq!(
        requests.blob,
        u32::try_from(history).unwrap(),
        "{requests:?}"
    );
}

#[tokio::test]
async fn lk_jwt_sha_tag_overwritten_by_a_branch_build_pins_the_main_build() {
    let (registry, lk_jwt) = lk_jwt_after(LkJwtHistory::BranchBuildOfNewest).await;
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.current, commit());

    let report = check(&registry, request(&registry, images)).await;

    let status = image(&report, ImageName::LK_JWT);
    assert_latest(status, &lk_jwt.newest);
    assert_ne!(
        lk_jwt.tags[lk_jwt.newest.tag.as_str()],
        lk_jwt.newest.digest,
        "the tag names the branch build"
    );
    assert!(status.update);
    assert_eq!(status.route, Route::CommitMainBuild);
}

#[tokio::test]
async fn lk_jwt_semver_takes_the_newest_release_without_v() {
    let registry = TestRegistry::start().await.unwrap();
    let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .unwrap();
    let old = lk_jwt.pin("0.6.0").unwrap();
    let images = only(ImageName::LK_JWT, &lk_jwt, &old, semver("", None, false));

    let report = check(&registry, request(&registry, images)).await;

    assert_latest(
        image(&report, ImageName::LK_JWT),
        lk_jwt.newest_release.as_ref().unwrap(),
    );
}

/// All three images already on their newest pins.
async fn nothing_new(registry: &TestRegistry) -> (Scenario, Scenario, Scenario, Images) {
    let tuwunel = Scenario::tuwunel(registry).await.unwrap();
    let livekit = Scenario::livekit(registry).await.unwrap();
    let lk_jwt = Scenario::lk_jwt(registry, LkJwtRoute::Label).await.unwrap();
    let images = support::images([
        (
            ImageName::HOMESERVER,
            pinned(
                ImageName::HOMESERVER,
                &tuwunel,
                &tuwunel.newest,
                bare_multiarch(),
            ),
        ),
        (
            ImageName::LIVEKIT,
            pinned(
                ImageName::LIVEKIT,
                &livekit,
                &livekit.newest,
                semver("v", Some("^1"), false),
            ),
        ),
        (
            ImageName::LK_JWT,
            pinned(ImageName::LK_JWT, &lk_jwt, &lk_jwt.newest, commit()),
        ),
    ]);
    (tuwunel, livekit, lk_jwt, images)
}

#[tokio::test]
async fn nothing_new_reports_no_update_for_any_image() {
    let registry = TestRegistry::start().await.unwrap();
    let (_, _, _, images) = nothing_new(&registry).await;

    let report = check(&registry, request(&registry, images)).await;

    assert!(
        report.images.iter().all(|image| !image.update),
        "{report:?}"
    );
    assert_eq!(
        image(&report, ImageName::LK_JWT).route,
        Route::CommitUnchanged
    );
}

#[tokio::test]
async fn nothing_new_costs_one_token_per_image_the_tag_pages_and_few_manifest_requests() {
    let registry = TestRegistry::start().await.unwrap();
    let (tuwunel, livekit, lk_jwt, images) = nothing_new(&registry).await;
    let page = usize::try_from(ClientOptions::default().tag_page_length).unwrap();

    check(&registry, request(&registry, images)).await;

    let counts = registry.counts();
    assert_eq!(counts.total.requests.token, 3, "{counts:#?}");
    assert_eq!(counts.total.requests.blob, 0, "{counts:#?}");
    assert_eq!(counts.total.other, 0, "{counts:#?}");
    for scenario in [&tuwunel, &livekit, &lk_jwt] {
        let repository = counts.repository(&scenario.repository).requests;
        // At most the first request of a repository, its tag list, is answered with the 401
        // challenge that starts the token flow (a client that learnt the token service from
        // another repository on the same host may skip it); then come the pages.
        assert!(repository.challenge <= 1, "{}", scenario.repository);
        assert_eq!(
            repository.tag_list,
            pages(scenario.tags.len(), page),
            "{}: {repository:?}",
            scenario.repository
        );
    }
    let manifests =
        |scenario: &Scenario| counts.repository(&scenario.repository).requests.manifests();
    assert!(manifests(&livekit) <= 2);
    assert!(manifests(&lk_jwt) <= 2);
    // Tuwunel has three bare tags newer than its pin that do not qualify (a single-arch
    // manifest, an amd64-only index, an index whose only amd64 image is v3): each costs one
    // manifest request before the pin's own.
    assert!(manifests(&tuwunel) <= 4);
}

#[tokio::test]
async fn the_client_reports_the_requests_the_registry_saw() {
    let registry = TestRegistry::start().await.unwrap();
    let (tuwunel, livekit, lk_jwt, images) = nothing_new(&registry).await;

    let report = check(&registry, request(&registry, images)).await;

    // Kind by kind, host by host: the client's vocabulary is the registry's.
    let counts = registry.counts();
    let seen = |scenarios: &[&Scenario]| -> RequestCounts {
        scenarios
            .iter()
            .map(|scenario| counts.repository(&scenario.repository).requests)
            .sum()
    };
    assert_eq!(report.requests["ghcr.io"], seen(&[&tuwunel, &lk_jwt]));
    assert_eq!(report.requests["docker.io"], seen(&[&livekit]));
    assert_eq!(
        report.requests.values().copied().sum::<RequestCounts>(),
        counts.total.requests
    );
    assert_eq!(counts.total.other, 0, "{counts:#?}");
}

#[tokio::test]
async fn hundreds_of_tags_are_read_across_every_page() {
    let registry = TestRegistry::start().await.unwrap();
    let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .unwrap();
    // Like a registry that serves at most 100 tags a page whatever `n` asks for.
    registry.set_page_size_cap(100);
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.current, commit());

    let report = check(&registry, request(&registry, images)).await;

    assert_latest(image(&report, ImageName::LK_JWT), &lk_jwt.newest);
    let counts = registry.counts().repository(&lk_jwt.repository).requests;
    // The challenged first request, then every page.
    assert_eq!(counts.challenge, 1);
    assert_eq!(counts.tag_list, pages(lk_jwt.tags.len(), 100));
}

#[tokio::test]
async fn credentials_are_sent_for_a_repository_that_requires_them() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    registry.require_pull_credentials(
        &livekit.repository,
        registry_fixture::Credentials::new("bundle-bot", "s3cret"),
    );
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.current,
        semver("v", None, false),
    );
    let credentials = CredentialSource::Explicit(BTreeMap::from([(
        "docker.io".to_owned(),
        Credentials::UserPassword {
            user: "bundle-bot".to_owned(),
            password: "s3cret".to_owned(),
        },
    )]));

    let report = check(
        &registry,
        request(&registry, images).with_credentials(credentials),
    )
    .await;

    assert_latest(image(&report, ImageName::LIVEKIT), &livekit.newest);
    let counts = registry.counts().repository(&livekit.repository);
    assert!(counts.requests.token > 0, "{counts:?}");
    assert_eq!(counts.token_with_credentials, counts.requests.token);
}

#[tokio::test]
async fn a_repository_that_requires_credentials_is_an_error_without_them() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    registry.require_pull_credentials(
        &livekit.repository,
        registry_fixture::Credentials::new("bundle-bot", "s3cret"),
    );
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.current,
        semver("v", None, false),
    );

    let error = status(&request(&registry, images)).await.unwrap_err();

    assert_eq!(error.image, ImageName::LIVEKIT);
    assert_eq!(error.registry, "docker.io");
    assert_eq!(error.repository, livekit.repository);
    let message = error.to_string();
    assert!(
        message.contains("BUNDLE_REGISTRY_AUTH_DOCKER_IO"),
        "the error says where credentials go: {message}"
    );
}

#[tokio::test]
async fn a_github_token_for_ghcr_io_works_alone_and_as_user_colon_token() {
    const TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    // As ghcr.io's token service: Basic auth, any user name, the token as the password.
    registry.require_pull_token(&tuwunel.repository, TOKEN);

    for value in [TOKEN.to_owned(), format!("octocat:{TOKEN}")] {
        let credentials = CredentialSource::Explicit(BTreeMap::from([(
            "ghcr.io".to_owned(),
            Credentials::from_env_value(&value).unwrap(),
        )]));
        let images = only(
            ImageName::HOMESERVER,
            &tuwunel,
            &tuwunel.current,
            bare_multiarch(),
        );

        let report = check(
            &registry,
            request(&registry, images).with_credentials(credentials),
        )
        .await;

        assert_latest(image(&report, ImageName::HOMESERVER), &tuwunel.newest);
        let counts = registry.counts().repository(&tuwunel.repository);
        assert!(counts.requests.token > 0, "{counts:?}");
        assert_eq!(counts.token_with_credentials, counts.requests.token);
    }
}
