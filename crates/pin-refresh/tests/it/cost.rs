//! The cost target: checking the three images when nothing is new takes one token per
//! repository, one 401 challenge per registry host, the tag-list pages and one manifest HEAD
//! per image, and nothing else.

use std::collections::BTreeMap;

use bundle_gen::{
    BareMultiarchPolicy, CommitPolicy, Digest, ImageName, ImagePin, SemverPolicy, UpdatePolicy,
};
use pin_refresh::{RequestCounts, Route};

use crate::commit::{NEW, build, registry_content};
use crate::fault_server::Registry;
use crate::support::{self, test_options};

fn pin(
    registry: &str,
    repository: &str,
    tag: &str,
    digest: &Digest,
    policy: UpdatePolicy,
) -> ImagePin {
    ImagePin {
        registry: Some(registry.to_owned()),
        repository: repository.to_owned(),
        tag: Some(tag.parse().unwrap()),
        digest: Some(digest.clone()),
        policy,
    }
}

#[tokio::test]
async fn three_images_with_nothing_new_cost_three_tokens_the_pages_and_three_heads() {
    // One server stands in for both hosts; it holds the same content under every repository.
    let current = build(NEW, Some(NEW), true);
    let digest = Digest::of_bytes(&current.index);
    let (mut content, _) = registry_content(&current, true);
    content
        .tags
        .push(("v1.13.7".to_owned(), current.index.clone()));
    let server = Registry::start_content(content).await;
    let images = support::images([
        (
            ImageName::HOMESERVER,
            pin(
                "ghcr.io",
                "matrix-construct/tuwunel",
                "v1.13.7",
                &digest,
                UpdatePolicy::BareMultiarch(BareMultiarchPolicy::default()),
            ),
        ),
        (
            ImageName::LIVEKIT,
            pin(
                "docker.io",
                "livekit/livekit-server",
                "v1.13.7",
                &digest,
                UpdatePolicy::Semver(SemverPolicy {
                    range: Some("^1".parse().unwrap()),
                    allow_prerelease: false,
                    tag_prefix: "v".to_owned(),
                    min_age: None,
                }),
            ),
        ),
        (
            ImageName::LK_JWT,
            pin(
                "ghcr.io",
                "element-hq/lk-jwt-service",
                "sha-2222222",
                &digest,
                UpdatePolicy::Commit(CommitPolicy::default()),
            ),
        ),
    ]);
    let request = support::request(images, &server.base, &["ghcr.io", "docker.io"])
        .with_options(test_options());
    let report = pin_refresh::status(&request).await.unwrap();

    assert!(
        report.images.iter().all(|image| !image.update),
        "{report:#?}"
    );
    let routes: Vec<Route> = report.images.iter().map(|image| image.route).collect();
    assert_eq!(
        routes,
        [Route::BareMultiarch, Route::Semver, Route::CommitUnchanged]
    );
    let expected = BTreeMap::from([
        (
            "docker.io".to_owned(),
            RequestCounts {
                token: 1,
                challenge: 1,
                tag_list: 1,
                manifest_head: 1,
                ..RequestCounts::default()
            },
        ),
        (
            "ghcr.io".to_owned(),
            RequestCounts {
                token: 2,
                challenge: 1,
                tag_list: 2,
                manifest_head: 2,
                ..RequestCounts::default()
            },
        ),
    ]);
    assert_eq!(report.requests, expected);
}
