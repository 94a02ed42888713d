//! `pin_refresh::status` against a real registry: Debian's docker-registry (CNCF distribution
//! 2.8) with token auth, behind registry-fixture's paginating, recording front, filled with the
//! tag sets of the three images. Each test asserts the chosen pin; what it cost in requests is
//! compared with what the front saw (not with the client's own counters), and where
//! credentials and tokens went is read from the front's log of every request.

use std::collections::BTreeMap;

use bundle_gen::{
    BareMultiarchPolicy, CommitPolicy, ImageName, ImagePin, Images, RegistryEndpoint, SemverPolicy,
    UpdatePolicy,
};
use pin_refresh::{
    ClientOptions, CredentialSource, Credentials, ImageError, ImageStatus, RegistryError,
    RequestCounts, Route, StatusReport, StatusRequest, status,
};
use registry_fixture::{
    LkJwtHistory, LkJwtRoute, Pin, ReceivedRequest, RequestKind, Scenario, TestRegistry,
};

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
pub(crate) fn pinned(
    name: ImageName,
    scenario: &Scenario,
    pin: &Pin,
    policy: UpdatePolicy,
) -> ImagePin {
    ImagePin {
        registry: Some(host(name).to_owned()),
        repository: scenario.repository.clone(),
        tag: Some(pin.tag.clone()),
        digest: Some(pin.digest.clone()),
        policy,
    }
}

/// Images in which only `name` is checked, [`pinned`]; the other two are manual.
pub(crate) fn only(
    name: ImageName,
    scenario: &Scenario,
    pin: &Pin,
    policy: UpdatePolicy,
) -> Images {
    support::images([(name, pinned(name, scenario, pin, policy))])
}

pub(crate) fn bare_multiarch() -> UpdatePolicy {
    UpdatePolicy::BareMultiarch(BareMultiarchPolicy::default())
}

pub(crate) fn semver(
    tag_prefix: &str,
    range: Option<&str>,
    allow_prerelease: bool,
) -> UpdatePolicy {
    UpdatePolicy::Semver(SemverPolicy {
        range: range.map(|range| range.parse().unwrap()),
        allow_prerelease,
        tag_prefix: tag_prefix.to_owned(),
        min_age: None,
    })
}

pub(crate) fn commit() -> UpdatePolicy {
    UpdatePolicy::Commit(CommitPolicy::default())
}

/// A request sending both ghcr.io and docker.io to the test registry, with no credentials
/// from the machine.
pub(crate) fn request(registry: &TestRegistry, images: Images) -> StatusRequest {
    support::request(images, &registry.endpoint(), &["ghcr.io", "docker.io"])
}

pub(crate) async fn check(registry: &TestRegistry, request: StatusRequest) -> StatusReport {
    registry.reset_counts();
    status(&request).await.unwrap()
}

pub(crate) fn image(report: &StatusReport, name: ImageName) -> &ImageStatus {
    report
        .images
        .iter()
        .find(|image| image.name == name)
        .unwrap()
}

pub(crate) fn assert_latest(status: &ImageStatus, expected: &Pin) {
    let latest = status.latest.as_ref().unwrap();
    assert_eq!(
        (&latest.tag, &latest.digest),
        (&expected.tag, &expected.digest)
    );
}

/// Tag-list pages needed for `tags` tags at `page` tags per page.
pub(crate) fn pages(tags: usize, page: usize) -> u32 {
    u32::try_from(tags.div_ceil(page)).unwrap()
}

/// The tag-list page length the client asks for.
pub(crate) fn page_length() -> usize {
    usize::try_from(ClientOptions::default().tag_page_length).unwrap()
}

/// What the front saw of the requests about `repositories`, summed.
pub(crate) fn seen(registry: &TestRegistry, repositories: &[&str]) -> RequestCounts {
    let counts = registry.counts();
    repositories
        .iter()
        .map(|repository| counts.repository(repository).requests)
        .sum()
}

/// What the front saw per registry host of `report`: the requests about the repositories of
/// that host's images, checked or failed.
pub(crate) fn seen_per_host(
    registry: &TestRegistry,
    report: &StatusReport,
) -> BTreeMap<String, RequestCounts> {
    let counts = registry.counts();
    let checked = report
        .images
        .iter()
        .map(|image| (&image.registry, &image.repository));
    let failed = report
        .failures
        .iter()
        .map(|failure| (&failure.registry, &failure.repository));
    let mut seen: BTreeMap<String, RequestCounts> = BTreeMap::new();
    for (host, repository) in checked.chain(failed) {
        *seen.entry(host.clone()).or_default() += counts.repository(repository).requests;
    }
    seen
}

/// The client reported, host by host and kind by kind, exactly the requests the front saw;
/// none was about another repository, and none fell outside the vocabulary it reports in (a
/// `/v2/` ping, a blob HEAD).
pub(crate) fn assert_reported_what_the_registry_saw(
    registry: &TestRegistry,
    report: &StatusReport,
) {
    let counts = registry.counts();
    assert_eq!(
        report.requests,
        seen_per_host(registry, report),
        "{counts:#?}"
    );
    assert_eq!(
        report.requests.values().copied().sum::<RequestCounts>(),
        counts.total.requests,
        "{counts:#?}"
    );
    assert_eq!(counts.total.other, 0, "{counts:#?}");
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
    // Newest first, each bare tag's index is read until one qualifies: the three that do not,
    // then the answer. None is the pinned tag, so none is only HEADed.
    let expected = RequestCounts {
        challenge: 1,
        token: 1,
        tag_list: pages(tuwunel.tags.len(), page_length()),
        manifest_get: 4,
        ..RequestCounts::default()
    };
    assert_eq!(seen(&registry, &[&tuwunel.repository]), expected);
    assert_reported_what_the_registry_saw(&registry, &report);
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
async fn lk_jwt_commit_build_reports_the_source_label_of_the_config_it_read() {
    let (_, report) = lk_jwt_commit(LkJwtRoute::Label).await;

    let status = image(&report, ImageName::LK_JWT);
    assert_eq!(
        status.source_label.as_deref(),
        Some("https://github.com/element-hq/lk-jwt-service")
    );
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
pub(crate) async fn nothing_new(registry: &TestRegistry) -> (Scenario, Scenario, Scenario, Images) {
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

// ---- pagination -------------------------------------------------------------------------------

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
    let tag_lists = seen(&registry, &[&lk_jwt.repository]);
    // The challenged first request, then every page.
    assert_eq!(
        (tag_lists.challenge, tag_lists.tag_list),
        (1, pages(lk_jwt.tags.len(), 100))
    );
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn tag_list_pages_are_followed_through_relative_links() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    // Pages of two: the front's `Link: </v2/...>; rel="next"` is relative, as on ghcr.io.
    registry.set_page_size_cap(2);
    let images = only(
        ImageName::HOMESERVER,
        &tuwunel,
        &tuwunel.current,
        bare_multiarch(),
    );

    let report = check(&registry, request(&registry, images)).await;

    assert_latest(image(&report, ImageName::HOMESERVER), &tuwunel.newest);
    assert_eq!(
        seen(&registry, &[&tuwunel.repository]).tag_list,
        pages(tuwunel.tags.len(), 2)
    );
    assert_reported_what_the_registry_saw(&registry, &report);
}

// ---- where credentials and tokens go -------------------------------------------------------------

/// The user and password the test registry wants for a protected repository.
const USER: &str = "bundle-bot";
const PASSWORD: &str = "s3cret";

fn user_password(host: &str, user: &str, password: &str) -> CredentialSource {
    CredentialSource::Explicit(BTreeMap::from([(
        host.to_owned(),
        Credentials::UserPassword {
            user: user.to_owned(),
            password: password.to_owned(),
        },
    )]))
}

/// `Basic base64(user:password)`, as the token server must receive it.
fn basic(user: &str, password: &str) -> String {
    registry_fixture::Credentials::new(user, password).basic_authorization()
}

/// The token requests and the API requests of the front's log, in the order answered.
fn token_and_api_requests(registry: &TestRegistry) -> (Vec<ReceivedRequest>, Vec<ReceivedRequest>) {
    registry
        .requests()
        .into_iter()
        .partition(ReceivedRequest::is_token_request)
}

/// Checks that the first API request went without credentials and met the challenge, and every
/// later one carried exactly the Bearer token of one token answer: `token`.
fn assert_only_the_issued_token_reached_the_registry(api: &[ReceivedRequest], token: &str) {
    let (first, later) = api.split_first().unwrap();
    assert_eq!(first.status, 401, "{first:?}");
    assert!(first.authorization.is_empty(), "{first:?}");
    assert!(!later.is_empty());
    let bearer = format!("Bearer {token}");
    for request in later {
        assert!(request.authorized_as(&bearer), "{request:?}");
    }
}

#[tokio::test]
async fn an_anonymous_pull_asks_for_a_pull_token_without_credentials_and_presents_only_it() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let images = only(
        ImageName::HOMESERVER,
        &tuwunel,
        &tuwunel.current,
        bare_multiarch(),
    );

    let report = check(&registry, request(&registry, images)).await;

    assert_latest(image(&report, ImageName::HOMESERVER), &tuwunel.newest);
    let (tokens, api) = token_and_api_requests(&registry);
    let [token] = tokens.as_slice() else {
        panic!("one token request: {tokens:#?}");
    };
    assert!(token.authorization.is_empty(), "{token:?}");
    assert_eq!(token.repositories, [Scenario::TUWUNEL_REPOSITORY]);
    assert!(
        token
            .target
            .contains(&format!("service={}", registry.service())),
        "the challenge's service is passed on: {token:?}"
    );
    assert!(!token.target.contains("push"), "{token:?}");
    assert_only_the_issued_token_reached_the_registry(&api, token.issued_token.as_ref().unwrap());
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn user_and_password_go_to_the_token_service_and_only_its_token_to_the_registry() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    registry.require_pull_credentials(
        &livekit.repository,
        registry_fixture::Credentials::new(USER, PASSWORD),
    );
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.current,
        semver("v", None, false),
    );

    let report = check(
        &registry,
        request(&registry, images).with_credentials(user_password("docker.io", USER, PASSWORD)),
    )
    .await;

    assert_latest(image(&report, ImageName::LIVEKIT), &livekit.newest);
    let (tokens, api) = token_and_api_requests(&registry);
    let [token] = tokens.as_slice() else {
        panic!("one token request: {tokens:#?}");
    };
    assert!(token.authorized_as(&basic(USER, PASSWORD)), "{token:?}");
    assert_eq!(token.status, 200);
    assert_only_the_issued_token_reached_the_registry(&api, token.issued_token.as_ref().unwrap());
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn wrong_credentials_are_refused_by_the_token_service_and_name_the_variable_to_fix() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    registry.require_pull_credentials(
        &livekit.repository,
        registry_fixture::Credentials::new(USER, PASSWORD),
    );
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.current,
        semver("v", None, false),
    );
    registry.reset_counts();

    let report = pin_refresh::status_report(
        &request(&registry, images).with_credentials(user_password("docker.io", USER, "wrong")),
    )
    .await;

    let [error] = report.failures.as_slice() else {
        panic!("one failure: {report:#?}");
    };
    assert_eq!(
        (error.image, error.registry.as_str()),
        (ImageName::LIVEKIT, "docker.io")
    );
    let message = error.to_string();
    assert!(
        message.contains("BUNDLE_REGISTRY_AUTH_DOCKER_IO"),
        "{message}"
    );
    assert!(
        matches!(
            &*error.cause,
            ImageError::Registry(RegistryError::BadCredentials { status: 401, .. })
        ),
        "{error:?}"
    );
    // The challenged request went without credentials; the password went to the token
    // service only, once, and was refused there.
    let received: Vec<(Option<RequestKind>, u16, Vec<String>)> = registry
        .requests()
        .into_iter()
        .map(|request| (request.kind, request.status, request.authorization))
        .collect();
    assert_eq!(
        received,
        [
            (Some(RequestKind::TagList), 401, vec![]),
            (Some(RequestKind::Token), 401, vec![basic(USER, "wrong")]),
        ]
    );
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn a_repository_that_requires_credentials_is_an_error_without_them() {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    registry.require_pull_credentials(
        &livekit.repository,
        registry_fixture::Credentials::new(USER, PASSWORD),
    );
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.current,
        semver("v", None, false),
    );
    registry.reset_counts();

    let report = pin_refresh::status_report(&request(&registry, images)).await;

    let [error] = report.failures.as_slice() else {
        panic!("one failure: {report:#?}");
    };
    assert_eq!(error.image, ImageName::LIVEKIT);
    assert_eq!(error.registry, "docker.io");
    assert_eq!(error.repository, livekit.repository);
    let message = error.to_string();
    assert!(
        message.contains("BUNDLE_REGISTRY_AUTH_DOCKER_IO"),
        "the error says where credentials go: {message}"
    );
    // Like Docker Hub for a private repository: the anonymous token is granted without
    // access, and the registry refuses it; the client asks once and gives up.
    let received: Vec<(Option<RequestKind>, u16, bool)> = registry
        .requests()
        .into_iter()
        .map(|request| {
            let bearer = request
                .authorization
                .iter()
                .any(|value| value.starts_with("Bearer "));
            (request.kind, request.status, bearer)
        })
        .collect();
    assert_eq!(
        received,
        [
            (Some(RequestKind::TagList), 401, false),
            (Some(RequestKind::Token), 200, false),
            (Some(RequestKind::TagList), 401, true),
        ]
    );
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn a_configured_token_goes_straight_to_the_registry_without_a_token_request() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let token = registry.pull_token(&tuwunel.repository).unwrap();
    let credentials = CredentialSource::Explicit(BTreeMap::from([(
        "ghcr.io".to_owned(),
        Credentials::Token(token.clone()),
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
    let requests = registry.requests();
    assert!(!requests.is_empty());
    let bearer = format!("Bearer {token}");
    for request in &requests {
        assert!(!request.is_token_request(), "{request:?}");
        assert!(request.authorized_as(&bearer), "{request:?}");
    }
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn a_github_token_for_ghcr_io_works_alone_and_as_user_colon_token() {
    const TOKEN: &str = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    // As ghcr.io's token service: Basic auth, any user name, the token as the password.
    registry.require_pull_token(&tuwunel.repository, TOKEN);

    for (value, user) in [
        (TOKEN.to_owned(), "x-access-token"),
        (format!("octocat:{TOKEN}"), "octocat"),
    ] {
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
        let (tokens, api) = token_and_api_requests(&registry);
        let [token] = tokens.as_slice() else {
            panic!("one token request: {tokens:#?}");
        };
        assert!(token.authorized_as(&basic(user, TOKEN)), "{token:?}");
        assert_only_the_issued_token_reached_the_registry(
            &api,
            token.issued_token.as_ref().unwrap(),
        );
        assert_reported_what_the_registry_saw(&registry, &report);
    }
}

#[tokio::test]
async fn a_plain_http_endpoint_not_marked_insecure_is_refused_before_any_request() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let images = only(
        ImageName::HOMESERVER,
        &tuwunel,
        &tuwunel.current,
        bare_multiarch(),
    );
    let request = request(&registry, images).with_endpoint(
        "ghcr.io",
        RegistryEndpoint {
            endpoint: registry.endpoint(),
            insecure: false,
        },
    );
    registry.reset_counts();

    let report = pin_refresh::status_report(&request).await;

    let [error] = report.failures.as_slice() else {
        panic!("one failure: {report:#?}");
    };
    assert!(
        matches!(
            &*error.cause,
            ImageError::Registry(RegistryError::InvalidEndpoint { .. })
        ),
        "{error:?}"
    );
    assert_eq!(registry.requests(), []);
    let reported = report.requests.get("ghcr.io").copied().unwrap_or_default();
    assert_eq!(reported, RequestCounts::default());
}
