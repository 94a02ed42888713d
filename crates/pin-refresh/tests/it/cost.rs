//! The cost target, against the real test registry: checking the three images when nothing is
//! new takes one 401 challenge per registry host, one token per repository, the tag-list pages
//! and one manifest HEAD per image, plus a GET for each newer tag a policy must read to pass
//! over, and nothing else. Every count is exact where the scenario determines it, and is what
//! the registry's front saw, host by host and kind by kind, as well as what the client reports.

use std::collections::BTreeMap;

use bundle_gen::ImageName;
use pin_refresh::{ClientOptions, RequestCounts, Route};
use registry_fixture::{LkJwtRoute, Scenario, TestRegistry};

use crate::real_registry::{
    assert_latest, assert_reported_what_the_registry_saw, check, commit, image, nothing_new, only,
    page_length, pages, request, seen, seen_per_host, semver,
};
use crate::support;

#[tokio::test]
async fn three_images_with_nothing_new_cost_a_challenge_per_host_a_token_per_repository_the_pages_and_a_head_each()
 {
    let registry = TestRegistry::start().await.unwrap();
    let (tuwunel, livekit, lk_jwt, images) = nothing_new(&registry).await;

    let report = check(&registry, request(&registry, images)).await;

    assert!(
        report.images.iter().all(|image| !image.update),
        "{report:#?}"
    );
    let routes: Vec<Route> = report.images.iter().map(|image| image.route).collect();
    assert_eq!(
        routes,
        [Route::BareMultiarch, Route::Semver, Route::CommitUnchanged]
    );
    let page = page_length();
    let expected = BTreeMap::from([
        (
            "docker.io".to_owned(),
            RequestCounts {
                challenge: 1,
                token: 1,
                tag_list: pages(livekit.tags.len(), page),
                manifest_head: 1,
                ..RequestCounts::default()
            },
        ),
        (
            "ghcr.io".to_owned(),
            RequestCounts {
                // The host's first request meets the challenge; the other repository on the
                // host asks for its token up front.
                challenge: 1,
                token: 2,
                tag_list: pages(tuwunel.tags.len(), page) + pages(lk_jwt.tags.len(), page),
                manifest_head: 2,
                // Tuwunel has three bare tags newer than its pin that do not qualify (a
                // single-arch manifest, an amd64-only index, an index whose only amd64 image
                // is v3): each is read before the pin's own tag is HEADed.
                manifest_get: 3,
                ..RequestCounts::default()
            },
        ),
    ]);
    assert_eq!(seen_per_host(&registry, &report), expected);
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn an_image_on_its_newest_pin_costs_a_challenge_a_token_a_page_and_a_head_and_manual_images_nothing()
 {
    let registry = TestRegistry::start().await.unwrap();
    let livekit = Scenario::livekit(&registry).await.unwrap();
    let images = only(
        ImageName::LIVEKIT,
        &livekit,
        &livekit.newest,
        semver("v", None, false),
    );

    let report = check(&registry, request(&registry, images)).await;

    assert!(!image(&report, ImageName::LIVEKIT).update);
    assert_eq!(pages(livekit.tags.len(), page_length()), 1);
    assert_eq!(
        seen(&registry, &[&livekit.repository]),
        support::one_token_one_page_one_head()
    );
    let manual = [Scenario::TUWUNEL_REPOSITORY, Scenario::LK_JWT_REPOSITORY];
    assert_eq!(seen(&registry, &manual), RequestCounts::default());
    assert_reported_what_the_registry_saw(&registry, &report);
}

/// The newest main builds the commit policy reads when something was built since the pin.
fn history() -> u32 {
    u32::try_from(ClientOptions::default().commit_history).unwrap()
}

#[tokio::test]
async fn an_lk_jwt_update_reads_each_newest_main_build_with_an_index_a_platform_manifest_and_a_config()
 {
    let registry = TestRegistry::start().await.unwrap();
    let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Label)
        .await
        .unwrap();
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.current, commit());

    let report = check(&registry, request(&registry, images)).await;

    let status = image(&report, ImageName::LK_JWT);
    assert_latest(status, &lk_jwt.newest);
    assert_eq!(status.route, Route::CommitLabel);
    let expected = RequestCounts {
        challenge: 1,
        token: 1,
        tag_list: pages(lk_jwt.tags.len(), page_length()),
        // The newest latest-ci_ tag's HEAD, then the chosen commit's sha- tag.
        manifest_head: 2,
        manifest_get: 2 * history(),
        blob: history(),
    };
    assert_eq!(seen(&registry, &[&lk_jwt.repository]), expected);
    assert_reported_what_the_registry_saw(&registry, &report);
}

#[tokio::test]
async fn without_labels_each_main_build_also_costs_its_attestation_manifest_and_statement() {
    let registry = TestRegistry::start().await.unwrap();
    let lk_jwt = Scenario::lk_jwt(&registry, LkJwtRoute::Attestation)
        .await
        .unwrap();
    let images = only(ImageName::LK_JWT, &lk_jwt, &lk_jwt.current, commit());

    let report = check(&registry, request(&registry, images)).await;

    let status = image(&report, ImageName::LK_JWT);
    assert_latest(status, &lk_jwt.newest);
    assert_eq!(status.route, Route::CommitAttestation);
    let expected = RequestCounts {
        challenge: 1,
        token: 1,
        tag_list: pages(lk_jwt.tags.len(), page_length()),
        manifest_head: 2,
        // Per build: the index, the platform manifest whose config has no revision label, the
        // attestation manifest; and two blobs: that config and the provenance statement.
        manifest_get: 3 * history(),
        blob: 2 * history(),
    };
    assert_eq!(seen(&registry, &[&lk_jwt.repository]), expected);
    assert_reported_what_the_registry_saw(&registry, &report);
}
