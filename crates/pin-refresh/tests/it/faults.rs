//! Each fault a real registry will not produce on demand is either retried (a transient one,
//! within the budget, and counted) or ends in a typed error that names the image, the
//! registry and the cause, and no pin for that image; the other images are still checked.
//! The faults come from the fault server, or from a proxy in front of the real test registry
//! (a reset connection, a registry that listens late). Whatever meets no fault is the real
//! registry, whose front records what reached it: the images checked beside a failing one,
//! the host a pagination link points to, and the host a redirect leads to when it asks for
//! credentials (one that serves without them stands in for a storage host: a fault server
//! without faults).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::Method;

use bundle_gen::{
    BareMultiarchPolicy, Digest, ImageName, ImagePin, Images, RegistryEndpoint, UpdatePolicy,
};
use pin_refresh::{
    CredentialSource, Credentials, ImageError, PolicyError, RegistryError, RequestCounts,
    RetryCounts, StatusError, StatusReport, StatusRequest,
};
use registry_fixture::{RequestKind, Scenario, TestRegistry};

use pin_refresh::test_fixture::ResetProxy;

use crate::fault_server::{Fault, REPOSITORY, Registry};
use crate::real_registry::{self, assert_latest, seen};
use crate::support::{self, test_options};

/// Tuwunel on `ghcr.io` pinned at `tag@digest` (bare-multiarch); the other two images manual.
fn images(tag: &str, digest: Digest) -> Images {
    support::images([(
        ImageName::HOMESERVER,
        ImagePin {
            registry: Some("ghcr.io".to_owned()),
            repository: REPOSITORY.to_owned(),
            tag: Some(tag.parse().unwrap()),
            digest: Some(digest),
            policy: UpdatePolicy::BareMultiarch(BareMultiarchPolicy::default()),
        },
    )])
}

/// A request sending `ghcr.io` to the fault server, with short retry waits.
fn request_to(registry: &Registry, images: Images) -> StatusRequest {
    support::request(images, &registry.base, &["ghcr.io"]).with_options(test_options())
}

/// Tuwunel pinned at the older release, so the newest one is fetched.
fn outdated(registry: &Registry) -> StatusRequest {
    request_to(
        registry,
        images(Registry::OLDER, registry.digest(Registry::OLDER)),
    )
}

async fn run(request: StatusRequest) -> Result<StatusReport, StatusError> {
    pin_refresh::status(&request).await
}

/// Runs against a server with `fault` and returns the error, after checking it names the
/// image and the registry.
async fn failure(fault: Fault) -> (StatusError, Registry) {
    let registry = Registry::start(fault).await;
    let error = run(outdated(&registry))
        .await
        .expect_err("a fault must not produce a pin");
    assert_names_image_and_registry(&error);
    (error, registry)
}

/// Tuwunel's newest release was found.
fn assert_newest_found(report: &StatusReport) {
    assert_eq!(
        report.images[0].latest.as_ref().unwrap().tag.as_str(),
        Registry::NEWEST
    );
}

fn assert_names_image_and_registry(error: &StatusError) {
    assert_eq!(error.image, ImageName::HOMESERVER);
    assert_eq!(error.registry, "ghcr.io");
    let message = error.to_string();
    assert!(message.contains("homeserver"), "{message}");
    assert!(
        message.contains("ghcr.io/matrix-construct/tuwunel"),
        "{message}"
    );
}

/// The manifest GETs the client reported for `ghcr.io`, and those the fault server received.
fn manifest_gets(report: &StatusReport, registry: &Registry) -> (u32, u32) {
    (
        report.requests["ghcr.io"].manifest_get,
        registry.received(&Method::GET, |path| path.contains("/manifests/")),
    )
}

/// The token requests the client reported for `ghcr.io`, and those the fault server received.
fn token_requests(report: &StatusReport, registry: &Registry) -> (u32, u32) {
    (
        report.requests["ghcr.io"].token,
        registry.received(&Method::GET, |path| path.starts_with("/token")),
    )
}

fn registry_error(error: StatusError) -> RegistryError {
    match *error.cause {
        ImageError::Registry(e) => e,
        other => panic!("expected a registry error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_bearer_challenge_offered_after_basic_is_answered_with_a_token() {
    let registry = Registry::start(Fault::BasicThenBearerChallenge).await;
    let report = run(outdated(&registry)).await.unwrap();
    assert_newest_found(&report);
    let counts = report.requests["ghcr.io"];
    assert_eq!((counts.challenge, counts.token), (1, 1));
    let token_requests: Vec<_> = registry
        .seen()
        .into_iter()
        .filter(|s| s.path.starts_with("/token"))
        .collect();
    assert_eq!(token_requests.len(), 1);
    assert!(
        token_requests[0].path.contains("service=fixture"),
        "the Bearer challenge's service is passed on: {:?}",
        token_requests[0]
    );
}

#[tokio::test]
async fn a_basic_only_challenge_without_credentials_names_the_variable_to_set() {
    let (error, registry) = failure(Fault::BasicChallengeOnly).await;
    match registry_error(error) {
        RegistryError::Unauthorized { challenge, .. } => assert_eq!(
            challenge,
            "Basic authentication needed; set `BUNDLE_REGISTRY_AUTH_GHCR_IO` to user:password"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        registry
            .seen()
            .iter()
            .all(|s| !s.path.starts_with("/token"))
    );
}

#[tokio::test]
async fn rate_limit_is_retried_after_the_wait_and_then_succeeds() {
    let registry = Registry::start(Fault::RateLimitedOnce).await;
    let report = run(outdated(&registry)).await.unwrap();
    assert_newest_found(&report);
    assert_eq!(manifest_gets(&report, &registry), (2, 2));
}

#[tokio::test]
async fn persistent_rate_limit_gives_up_after_the_bounded_attempts() {
    let (error, registry) = failure(Fault::RateLimited).await;
    match registry_error(error) {
        RegistryError::RetriesExhausted {
            status, attempts, ..
        } => {
            assert_eq!(status, 429);
            assert_eq!(attempts, test_options().max_attempts);
        }
        other => panic!("{other:?}"),
    }
    let manifest_requests = registry
        .seen()
        .iter()
        .filter(|s| s.path.contains("/manifests/"))
        .count();
    assert_eq!(manifest_requests, test_options().max_attempts as usize);
}

#[tokio::test]
async fn retry_budget_stops_retries_before_max_attempts() {
    let registry = Registry::start(Fault::RateLimited).await;
    let options = pin_refresh::ClientOptions {
        retry_wait_cap: Duration::from_millis(50),
        max_total_retry_wait: Duration::from_millis(60),
        ..test_options()
    };
    let error = run(outdated(&registry).with_options(options))
        .await
        .unwrap_err();
    assert!(matches!(
        registry_error(error),
        RegistryError::RetriesExhausted { attempts: 2, .. }
    ));
}

#[tokio::test]
async fn unavailable_registry_is_retried_then_reported() {
    let (error, _registry) = failure(Fault::Unavailable).await;
    assert!(matches!(
        registry_error(error),
        RegistryError::RetriesExhausted { status: 503, .. }
    ));
}

#[tokio::test]
async fn a_server_error_that_persists_is_retried_until_the_attempts_run_out() {
    let (error, registry) = failure(Fault::ServerError).await;
    assert!(matches!(
        registry_error(error),
        RegistryError::RetriesExhausted {
            status: 500,
            attempts,
            ..
        } if attempts == test_options().max_attempts
    ));
    let gets = registry
        .seen()
        .iter()
        .filter(|s| s.method == axum::http::Method::GET && s.path.contains("/manifests/"))
        .count();
    assert_eq!(gets, test_options().max_attempts as usize);
}

/// Options whose request timeout ends a stalled body quickly.
fn short_timeout() -> pin_refresh::ClientOptions {
    pin_refresh::ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..test_options()
    }
}

#[tokio::test]
async fn a_body_that_keeps_stalling_times_out_on_every_attempt_then_is_reported() {
    let registry = Registry::start(Fault::StalledBody).await;
    let error = run(outdated(&registry).with_options(short_timeout()))
        .await
        .unwrap_err();
    assert_names_image_and_registry(&error);
    match registry_error(error) {
        RegistryError::FaultPersisted { attempts, cause } => {
            assert_eq!(attempts, test_options().max_attempts);
            assert!(matches!(*cause, RegistryError::Timeout { .. }), "{cause:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_body_that_keeps_breaking_off_is_retried_then_reported() {
    let (error, _registry) = failure(Fault::TruncatedBody).await;
    match registry_error(error) {
        RegistryError::FaultPersisted { attempts, cause } => {
            assert_eq!(attempts, test_options().max_attempts);
            assert!(
                matches!(*cause, RegistryError::Truncated { .. }),
                "{cause:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn digest_that_does_not_match_the_bytes_is_refused() {
    let (error, registry) = failure(Fault::WrongDigest).await;
    match registry_error(error) {
        RegistryError::DigestMismatch { actual, .. } => {
            assert_eq!(actual, registry.digest(Registry::NEWEST));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn redirect_to_another_host_is_followed_without_credentials() {
    let other = Registry::start_with(Fault::None, false).await;
    let registry = Registry::start(Fault::RedirectTo(other.base.clone())).await;
    let report = run(outdated(&registry)).await.unwrap();
    assert_eq!(
        report.images[0].latest.as_ref().unwrap().digest,
        registry.digest(Registry::NEWEST)
    );
    let other_seen = other.seen();
    assert_eq!(other_seen.len(), 1);
    assert!(
        other_seen.iter().all(|s| s.authorization.is_none()),
        "{other_seen:?}"
    );
}

#[tokio::test]
async fn redirect_to_a_host_that_wants_credentials_fails_without_sending_ours() {
    // The other host is a real registry: it answers 401 with a Bearer challenge naming its
    // own token service, which must not be mistaken for the challenge of ours.
    let other = TestRegistry::start().await.unwrap();
    let registry = Registry::start(Fault::RedirectTo(other.endpoint())).await;
    let credentials = CredentialSource::Explicit(BTreeMap::from([(
        "ghcr.io".to_owned(),
        Credentials::UserPassword {
            user: "bot".to_owned(),
            password: "secret".to_owned(),
        },
    )]));

    let error = run(outdated(&registry).with_credentials(credentials))
        .await
        .unwrap_err();

    assert_names_image_and_registry(&error);
    match registry_error(error) {
        RegistryError::Unauthorized { challenge, .. } => {
            assert!(challenge.contains(&other.host()), "{challenge}");
        }
        other => panic!("{other:?}"),
    }
    let received: Vec<(Option<RequestKind>, u16, Vec<String>)> = other
        .requests()
        .into_iter()
        .map(|request| (request.kind, request.status, request.authorization))
        .collect();
    assert_eq!(received, [(Some(RequestKind::ManifestGet), 401, vec![])]);
}

#[tokio::test]
async fn oversized_manifest_is_cut_off() {
    let (error, _registry) = failure(Fault::OversizedManifest).await;
    match registry_error(error) {
        RegistryError::TooLarge { limit, what, .. } => {
            assert_eq!(limit, 4 << 20);
            assert_eq!(what, "manifest");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn malformed_manifest_is_reported() {
    let (error, _registry) = failure(Fault::MalformedManifest).await;
    assert!(matches!(
        registry_error(error),
        RegistryError::Malformed {
            what: "manifest",
            ..
        }
    ));
}

#[tokio::test]
async fn hostile_tag_names_are_skipped_and_never_requested() {
    let registry = Registry::start(Fault::HostileTags).await;
    let report = run(outdated(&registry)).await.unwrap();
    assert_newest_found(&report);
    for seen in registry.seen() {
        assert!(!seen.path.contains("v9.9.9"), "requested {:?}", seen.path);
        assert!(!seen.path.contains("passwd"), "requested {:?}", seen.path);
    }
}

#[tokio::test]
async fn only_hostile_tag_names_means_no_matching_tag() {
    let (error, _registry) = failure(Fault::OnlyHostileTags).await;
    assert!(matches!(
        *error.cause,
        ImageError::Policy(PolicyError::NoMatchingTag { tags: 0, .. })
    ));
}

#[tokio::test]
async fn tag_page_link_to_another_host_is_refused() {
    let other = TestRegistry::start().await.unwrap();
    let (error, _registry) = failure(Fault::LinkTo(other.endpoint())).await;
    assert!(matches!(
        registry_error(error),
        RegistryError::UnsafeLink { .. }
    ));
    assert_eq!(other.requests(), []);
}

#[tokio::test]
async fn a_rate_limited_token_request_is_retried_then_succeeds() {
    let registry = Registry::start(Fault::TokenRateLimitedOnce).await;
    let report = run(outdated(&registry)).await.unwrap();
    assert_newest_found(&report);
    assert_eq!(token_requests(&report, &registry), (2, 2));
}

#[tokio::test]
async fn an_unavailable_token_service_is_retried_then_reported() {
    let (error, registry) = failure(Fault::TokenUnavailable).await;
    assert_names_image_and_registry(&error);
    match registry_error(error) {
        RegistryError::RetriesExhausted {
            status,
            attempts,
            url,
        } => {
            assert_eq!(status, 503);
            assert_eq!(attempts, test_options().max_attempts);
            assert!(url.contains("/token"), "{url}");
        }
        other => panic!("{other:?}"),
    }
    let token_requests = registry
        .seen()
        .iter()
        .filter(|s| s.path.starts_with("/token"))
        .count();
    assert_eq!(token_requests, test_options().max_attempts as usize);
}

// ---- transient faults: retried once, then the run goes on ---------------------------------------

/// The retries of `ghcr.io` in `report`.
fn ghcr_retries(report: &StatusReport) -> RetryCounts {
    report.retries["ghcr.io"]
}

#[tokio::test]
async fn a_single_retryable_answer_is_retried_and_counted_under_its_status() {
    for (code, counted) in [
        (
            408,
            RetryCounts {
                http408: 1,
                ..RetryCounts::default()
            },
        ),
        (
            500,
            RetryCounts {
                http500: 1,
                ..RetryCounts::default()
            },
        ),
        (
            502,
            RetryCounts {
                http502: 1,
                ..RetryCounts::default()
            },
        ),
        (
            503,
            RetryCounts {
                http503: 1,
                ..RetryCounts::default()
            },
        ),
        (
            504,
            RetryCounts {
                http504: 1,
                ..RetryCounts::default()
            },
        ),
    ] {
        let registry = Registry::start(Fault::FailOnce(code)).await;
        let report = run(outdated(&registry)).await.unwrap();
        assert_newest_found(&report);
        assert_eq!(ghcr_retries(&report), counted, "HTTP {code}");
        assert_eq!(manifest_gets(&report, &registry), (2, 2), "HTTP {code}");
    }
}

#[tokio::test]
async fn a_client_error_answer_is_not_retried() {
    let registry = Registry::start(Fault::FailOnce(400)).await;
    let mut report = pin_refresh::status_report(&outdated(&registry)).await;
    assert_eq!(report.retries["ghcr.io"], RetryCounts::default());
    assert_eq!(manifest_gets(&report, &registry), (1, 1));
    assert!(matches!(
        registry_error(report.failures.remove(0)),
        RegistryError::Status { status: 400, .. }
    ));
}

#[tokio::test]
async fn a_rate_limit_retry_is_counted_under_429() {
    let registry = Registry::start(Fault::RateLimitedOnce).await;
    let report = run(outdated(&registry)).await.unwrap();
    let expected = RetryCounts {
        http429: 1,
        ..RetryCounts::default()
    };
    assert_eq!(ghcr_retries(&report), expected);
}

/// Tuwunel of the real registry's scenario, pinned at its current release, with `ghcr.io`
/// sent to `endpoint` (something in front of that registry).
fn tuwunel_request(tuwunel: &Scenario, endpoint: &str) -> StatusRequest {
    let images = real_registry::only(
        ImageName::HOMESERVER,
        tuwunel,
        &tuwunel.current,
        real_registry::bare_multiarch(),
    );
    support::request(images, endpoint, &["ghcr.io"]).with_options(test_options())
}

/// A loopback port nothing listens on (it was free a moment ago).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_reset_connection_is_retried_then_succeeds() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let proxy = ResetProxy::start(&registry.endpoint()).await;
    let request = tuwunel_request(&tuwunel, &proxy.base);

    let report = run(request).await.unwrap();

    assert_latest(&report.images[0], &tuwunel.newest);
    let expected = RetryCounts {
        reset: 1,
        ..RetryCounts::default()
    };
    assert_eq!(ghcr_retries(&report), expected);
    // The reset request (the first tag-list request) never reached the registry; everything
    // else the client reports, the registry saw.
    let reset = RequestCounts {
        tag_list: 1,
        ..RequestCounts::default()
    };
    assert_eq!(
        report.requests["ghcr.io"],
        seen(&registry, &[&tuwunel.repository]) + reset
    );
}

/// After `delay`, listens on `port` and relays every connection to `target` (`host:port`): a
/// registry that comes up late.
fn relay_later(port: u16, delay: Duration, target: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        while let Ok((mut client, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    })
}

#[tokio::test]
async fn a_refused_connection_is_retried_until_the_registry_listens() {
    let registry = TestRegistry::start().await.unwrap();
    let tuwunel = Scenario::tuwunel(&registry).await.unwrap();
    let port = free_port();
    let options = pin_refresh::ClientOptions {
        retry_wait_cap: Duration::from_millis(200),
        max_total_retry_wait: Duration::from_secs(2),
        ..test_options()
    };
    let request =
        tuwunel_request(&tuwunel, &format!("http://127.0.0.1:{port}")).with_options(options);
    // The registry comes up after the first attempt was refused (the wait before the second
    // attempt is 200 ms).
    let relay = relay_later(port, Duration::from_millis(50), registry.host());

    let report = run(request).await.unwrap();
    relay.abort();

    assert_latest(&report.images[0], &tuwunel.newest);
    let expected = RetryCounts {
        connect: 1,
        ..RetryCounts::default()
    };
    assert_eq!(ghcr_retries(&report), expected);
    // The refused attempt (the first tag-list request) never reached the registry.
    let refused = RequestCounts {
        tag_list: 1,
        ..RequestCounts::default()
    };
    assert_eq!(
        report.requests["ghcr.io"],
        seen(&registry, &[&tuwunel.repository]) + refused
    );
}

#[tokio::test]
async fn a_registry_that_keeps_refusing_connections_is_given_up_after_the_attempts() {
    let request = support::request(
        images(Registry::OLDER, Digest::of_bytes(b"pinned index")),
        &format!("http://127.0.0.1:{}", free_port()),
        &["ghcr.io"],
    )
    .with_options(test_options());
    let report = pin_refresh::status_report(&request).await;
    assert_eq!(report.failures.len(), 1);
    let attempts = test_options().max_attempts;
    let expected = RetryCounts {
        connect: attempts - 1,
        ..RetryCounts::default()
    };
    assert_eq!(report.retries["ghcr.io"], expected);
    let error = report.failures.into_iter().next().unwrap();
    assert_names_image_and_registry(&error);
    match registry_error(error) {
        RegistryError::FaultPersisted {
            attempts: made,
            cause,
        } => {
            assert_eq!(made, attempts);
            assert!(
                matches!(*cause, RegistryError::Transport { .. }),
                "{cause:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_stalled_body_is_retried_after_the_timeout_then_succeeds() {
    let registry = Registry::start(Fault::StalledBodyOnce).await;
    let report = run(outdated(&registry).with_options(short_timeout()))
        .await
        .unwrap();
    assert_newest_found(&report);
    let expected = RetryCounts {
        timeout: 1,
        ..RetryCounts::default()
    };
    assert_eq!(ghcr_retries(&report), expected);
}

#[tokio::test]
async fn a_body_that_breaks_off_once_is_retried_then_succeeds() {
    let registry = Registry::start(Fault::TruncatedBodyOnce).await;
    let report = run(outdated(&registry)).await.unwrap();
    assert_newest_found(&report);
    let expected = RetryCounts {
        reset: 1,
        ..RetryCounts::default()
    };
    assert_eq!(ghcr_retries(&report), expected);
}

#[tokio::test]
async fn a_failing_token_request_is_retried_then_succeeds() {
    for code in [500, 502, 504] {
        let registry = Registry::start(Fault::TokenFailOnce(code)).await;
        let report = run(outdated(&registry)).await.unwrap();
        assert_newest_found(&report);
        assert_eq!(token_requests(&report, &registry), (2, 2), "HTTP {code}");
        assert_eq!(ghcr_retries(&report).total(), 1, "HTTP {code}");
    }
}

#[tokio::test]
async fn a_reset_token_request_is_retried_then_succeeds() {
    let upstream = Registry::start(Fault::None).await;
    let proxy = ResetProxy::start(&upstream.base).await;
    let registry = Registry::start(Fault::TokenServiceAt(proxy.base.clone())).await;
    let report = run(outdated(&registry)).await.unwrap();
    assert_newest_found(&report);
    let expected = RetryCounts {
        reset: 1,
        ..RetryCounts::default()
    };
    assert_eq!(ghcr_retries(&report), expected);
    // The second token request went through the proxy to the token service.
    assert_eq!(report.requests["ghcr.io"].token, 2);
    let tokens = upstream
        .seen()
        .iter()
        .filter(|s| s.path.starts_with("/token"))
        .count();
    assert_eq!(tokens, 1);
}

// ---- one image's failure does not block the others ---------------------------------------------

#[tokio::test]
async fn an_image_whose_registry_fails_is_reported_and_the_others_are_still_checked() {
    let failing = Registry::start(Fault::Unavailable).await;
    let healthy = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&healthy).await.unwrap();
    let mut images = images(Registry::OLDER, failing.digest(Registry::OLDER));
    *images.get_mut(ImageName::LIVEKIT) = real_registry::pinned(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.current,
        real_registry::semver("v", None, false),
    );
    let request = request_to(&failing, images).with_endpoint(
        "docker.io",
        RegistryEndpoint {
            endpoint: healthy.endpoint(),
            insecure: true,
        },
    );

    let report = pin_refresh::status_report(&request).await;

    assert_eq!(report.failures.len(), 1);
    assert_names_image_and_registry(&report.failures[0]);
    let checked: Vec<ImageName> = report.images.iter().map(|image| image.name).collect();
    assert_eq!(checked, [ImageName::LIVEKIT, ImageName::LK_JWT]);
    let livekit_status = &report.images[0];
    assert!(livekit_status.update);
    assert_latest(livekit_status, &livekit.newest);
    assert_eq!(
        report.requests["docker.io"],
        seen(&healthy, &[&livekit.repository])
    );
    assert_eq!(report.retries["docker.io"], RetryCounts::default());
    let expected = RetryCounts {
        http503: test_options().max_attempts - 1,
        ..RetryCounts::default()
    };
    assert_eq!(report.retries["ghcr.io"], expected);
}
