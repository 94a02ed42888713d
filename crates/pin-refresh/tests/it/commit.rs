//! The `commit` policy's errors and its cost when nothing is new, against the real test
//! registry filled with lk-jwt-service's tag set (main builds, a feature-branch `latest-ci`,
//! hundreds of `sha-` tags) and, for the errors, one newer main build pushed on top. Its two
//! routes to a commit (label, attestation) are in `real_registry`, their costs in `cost`.

use std::collections::BTreeMap;

use bundle_gen::{ImageName, Platform};
use pin_refresh::{ImageError, PolicyError, RequestCounts, Route};
use registry_fixture::{LkJwtRoute, ManifestFormat, RequestKind, Scenario, TestRegistry};

use crate::real_registry::{
    assert_latest, assert_reported_what_the_registry_saw, check, commit, image, only, page_length,
    pages, request, seen,
};
use crate::support;

/// Newer than every `latest-ci_<time>` tag of the scenario.
const NEWER_MAIN_BUILD: &str = "latest-ci_1900000000";
/// The commit of that newer build, when it records one.
const NEWER_COMMIT: &str = "4444444dddddddddddddddddddddddddddddddd4";

/// The lk-jwt scenario with one more main build on top, tagged only [`NEWER_MAIN_BUILD`]:
/// its platform configs carry `labels`, and it has no attestation.
async fn with_a_newer_main_build(labels: &[(&str, &str)]) -> (TestRegistry, Scenario) {
    let registry = TestRegistry::start().await.unwrap();
    let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .unwrap();
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    let build = registry
        .push_multi_arch(
            &lk_jwt.repository,
            ManifestFormat::Oci,
            &[
                Platform::new("linux", "amd64", None),
                Platform::new("linux", "arm64", None),
            ],
            &labels,
            None,
        )
        .await
        .unwrap();
    registry
        .tag(&lk_jwt.repository, NEWER_MAIN_BUILD, &build.digest)
        .await
        .unwrap();
    (registry, lk_jwt)
}

/// What reading the newest main builds costs when the newest one's config is the last thing
/// read about it: per build an index, a platform manifest and its config, after the HEAD of
/// the newest `latest-ci_` tag. `sha_tag_heads` more HEADs follow.
fn reading_the_main_builds(lk_jwt: &Scenario, sha_tag_heads: u32) -> RequestCounts {
    let history = u32::try_from(pin_refresh::ClientOptions::default().commit_history).unwrap();
    RequestCounts {
        challenge: 1,
        token: 1,
        // One more tag than the scenario's.
        tag_list: pages(lk_jwt.tags.len() + 1, page_length()),
        manifest_head: 1 + sha_tag_heads,
        manifest_get: 2 * history,
        blob: history,
    }
}

#[tokio::test]
async fn a_newest_build_that_records_no_commit_is_an_error_not_a_scan() {
    let (registry, lk_jwt) = with_a_newer_main_build(&[]).await;
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.current, commit());
    registry.reset_counts();

    let report = pin_refresh::status_report(&request(&registry, images)).await;

    let [error] = report.failures.as_slice() else {
        panic!("one failure: {report:#?}");
    };
    let message = error.to_string();
    assert!(message.contains(NEWER_MAIN_BUILD), "{message}");
    assert!(message.contains("records no commit"), "{message}");
    assert!(matches!(
        &*error.cause,
        ImageError::Policy(PolicyError::CommitNotFound { .. })
    ));
    // Only the newest builds were read: no sha- tag was looked up, nothing else was scanned.
    assert_eq!(
        seen(&registry, &[&lk_jwt.repository]),
        reading_the_main_builds(&lk_jwt, 0)
    );
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn a_newest_build_without_a_sha_tag_is_an_error_not_a_guess() {
    let (registry, lk_jwt) =
        with_a_newer_main_build(&[("org.opencontainers.image.revision", NEWER_COMMIT)]).await;
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.current, commit());
    registry.reset_counts();

    let report = pin_refresh::status_report(&request(&registry, images)).await;

    let [error] = report.failures.as_slice() else {
        panic!("one failure: {report:#?}");
    };
    assert_eq!(error.registry, "ghcr.io");
    let message = error.to_string();
    assert!(message.contains("lkJwt"), "{message}");
    assert!(message.contains("`sha-4444444`"), "{message}");
    assert!(message.contains("policy: {kind: manual}"), "{message}");
    assert!(matches!(
        &*error.cause,
        ImageError::Policy(PolicyError::ShaTagMissing { revision, .. }) if revision == NEWER_COMMIT
    ));
    // The registry was asked for the commit's sha- tag, and it answered that there is none.
    let sha_tag_heads: Vec<u16> = registry
        .requests()
        .into_iter()
        .filter(|request| {
            request.kind == Some(RequestKind::ManifestHead)
                && request.target.ends_with("/manifests/sha-4444444")
        })
        .map(|request| request.status)
        .collect();
    assert_eq!(sha_tag_heads, [404]);
    assert_eq!(
        seen(&registry, &[&lk_jwt.repository]),
        reading_the_main_builds(&lk_jwt, 1)
    );
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn nothing_new_costs_a_challenge_a_token_the_tag_page_and_one_manifest_head() {
    let registry = TestRegistry::start().await.unwrap();
    let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .unwrap();
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.newest, commit());

    let report = check(&registry, request(&registry, images)).await;

    let status = image(&report, ImageName::LK_JWT);
    assert_latest(status, &lk_jwt.newest);
    assert_eq!(status.route, Route::CommitUnchanged);
    assert!(!status.update);
    // Hundreds of tags, one page of the client's length.
    assert_eq!(pages(lk_jwt.tags.len(), page_length()), 1);
    assert_eq!(
        seen(&registry, &[&lk_jwt.repository]),
        support::one_token_one_page_one_head()
    );
    assert_reported_what_the_registry_saw(&registry, &report);
}
