//! The `commit` policy's two routes from the newest `latest-ci_<time>` build to its commit
//! and `sha-<7>` tag (label, attestation), and its errors, against an in-memory registry with
//! lk-jwt-like content: main builds, a feature-branch `latest-ci`, and many `sha-` tags.

use bundle_gen::{CommitPolicy, Digest, ImageName, ImagePin, UpdatePolicy};
use pin_refresh::{ImageError, PolicyError, Route, StatusRequest};

use crate::fault_server::{Content, Registry};
use crate::support::{self, test_options};

const REPOSITORY: &str = "matrix-construct/tuwunel";
const OLD: &str = "1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub(crate) const NEW: &str = "2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const FEATURE: &str = "3333333ccccccccccccccccccccccccccccccccc";

/// One build: its index, the manifests behind it and their blobs.
pub(crate) struct Build {
    pub(crate) index: Vec<u8>,
    manifests: Vec<Vec<u8>>,
    blobs: Vec<Vec<u8>>,
}

fn descriptor(media_type: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "mediaType": media_type,
        "digest": Digest::of_bytes(bytes).to_string(),
        "size": bytes.len(),
    })
}

fn image_manifest(config: &[u8], layers: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": layers,
    }))
    .unwrap()
}

/// A two-platform build of `revision`; the platform configs carry `label` as their revision
/// label (if any), the index has a provenance attestation of `revision` only if `attested`.
pub(crate) fn build(revision: &str, label: Option<&str>, attested: bool) -> Build {
    let mut manifests = Vec::new();
    let mut blobs = Vec::new();
    let mut entries = Vec::new();
    for arch in ["amd64", "arm64"] {
        let labels = match label {
            Some(label) => serde_json::json!({"org.opencontainers.image.revision": label}),
            None => serde_json::json!({}),
        };
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch, "os": "linux", "config": {"Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{revision}{arch}")]},
        }))
        .unwrap();
        let manifest = image_manifest(&config, vec![]);
        let mut entry = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
        entry["platform"] = serde_json::json!({"os": "linux", "architecture": arch});
        entries.push(entry);
        manifests.push(manifest);
        blobs.push(config);
    }
    if attested {
        let statement = serde_json::to_vec(&serde_json::json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "predicate": {"metadata": {"https://mobyproject.org/buildkit@v1#metadata": {
                "vcs": {"revision": revision, "source": "https://github.com/element-hq/lk-jwt-service"}
            }}},
        }))
        .unwrap();
        let empty_config = b"{}".to_vec();
        let mut layer = descriptor("application/vnd.in-toto+json", &statement);
        layer["annotations"] =
            serde_json::json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
        let attestation = image_manifest(&empty_config, vec![layer]);
        let mut entry = descriptor("application/vnd.oci.image.manifest.v1+json", &attestation);
        entry["platform"] = serde_json::json!({"os": "unknown", "architecture": "unknown"});
        entry["annotations"] = serde_json::json!({
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": entries[0]["digest"],
        });
        entries.push(entry);
        manifests.push(attestation);
        blobs.extend([statement, empty_config]);
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    Build {
        index,
        manifests,
        blobs,
    }
}

/// lk-jwt-like tags: an old and a new main build with `latest-ci_<time>` tags, a feature
/// branch holding the bare `latest-ci`, 150 older `sha-` tags, and `sha-2222222` for the new
/// build only if `tag_new_build`.
pub(crate) fn registry_content(new: &Build, tag_new_build: bool) -> (Content, Digest) {
    let old = build(OLD, Some(OLD), true);
    let feature = build(FEATURE, Some(FEATURE), true);
    let mut tags: Vec<(String, Vec<u8>)> = (0..150)
        .map(|n| (format!("sha-{n:07x}"), old.index.clone()))
        .collect();
    tags.extend([
        ("latest-ci_1700000000".to_owned(), old.index.clone()),
        ("sha-1111111".to_owned(), old.index.clone()),
        ("latest-ci_1760000000".to_owned(), new.index.clone()),
        ("latest-ci".to_owned(), feature.index.clone()),
        ("sha-3333333".to_owned(), feature.index.clone()),
        ("0.7.0".to_owned(), old.index.clone()),
    ]);
    if tag_new_build {
        tags.push(("sha-2222222".to_owned(), new.index.clone()));
    }
    let mut content = Content {
        tags,
        ..Content::default()
    };
    for b in [&old, new, &feature] {
        content.manifests.extend(b.manifests.iter().cloned());
        content.blobs.extend(b.blobs.iter().cloned());
    }
    (content, Digest::of_bytes(&old.index))
}

/// lk-jwt-service on `ghcr.io` (served by `registry`) pinned at `tag@digest` under the commit
/// policy; the other two images manual.
fn request(registry: &Registry, tag: &str, digest: Digest) -> StatusRequest {
    let images = support::images([(
        ImageName::LK_JWT,
        ImagePin {
            registry: Some("ghcr.io".to_owned()),
            repository: REPOSITORY.to_owned(),
            tag: Some(tag.parse().unwrap()),
            digest: Some(digest),
            policy: UpdatePolicy::Commit(CommitPolicy::default()),
        },
    )]);
    support::request(images, &registry.base, &["ghcr.io"]).with_options(test_options())
}

/// From the old pin, the status of lk-jwt when `new` is the newest main build and has its
/// `sha-2222222` tag: checks that the pin found is that tag at the new build's digest (not
/// the feature branch's `latest-ci`), and returns how it was found.
async fn route_to_new_build(new: Build) -> Route {
    let new_digest = Digest::of_bytes(&new.index);
    let (content, old_digest) = registry_content(&new, true);
    let registry = Registry::start_content(content).await;
    let report = pin_refresh::status(&request(&registry, "sha-1111111", old_digest))
        .await
        .unwrap();
    let status = &report.images[2];
    let latest = status.latest.as_ref().unwrap();
    assert_eq!(
        (latest.tag.as_str(), &latest.digest),
        ("sha-2222222", &new_digest)
    );
    assert!(status.update);
    status.route
}

#[tokio::test]
async fn label_route_pins_the_sha_tag_of_the_newest_main_build() {
    let route = route_to_new_build(build(NEW, Some(NEW), true)).await;
    assert_eq!(route, Route::CommitLabel);
}

#[tokio::test]
async fn missing_label_falls_back_to_the_provenance_attestation() {
    let route = route_to_new_build(build(NEW, None, true)).await;
    assert_eq!(route, Route::CommitAttestation);
}

#[tokio::test]
async fn a_newest_build_that_records_no_commit_is_an_error_not_a_scan() {
    let new = build(NEW, None, false);
    let (content, old_digest) = registry_content(&new, true);
    let registry = Registry::start_content(content).await;
    let error = pin_refresh::status(&request(&registry, "sha-1111111", old_digest))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("latest-ci_1760000000"), "{message}");
    assert!(message.contains("records no commit"), "{message}");
    assert!(matches!(
        *error.cause,
        ImageError::Policy(PolicyError::CommitNotFound { .. })
    ));
}

#[tokio::test]
async fn nothing_new_costs_one_token_the_tag_pages_and_one_manifest_head() {
    let new = build(NEW, Some(NEW), true);
    let new_digest = Digest::of_bytes(&new.index);
    let (content, _) = registry_content(&new, true);
    let registry = Registry::start_content(content).await;
    let report = pin_refresh::status(&request(&registry, "sha-2222222", new_digest.clone()))
        .await
        .unwrap();
    let status = &report.images[2];
    assert_eq!(status.route, Route::CommitUnchanged);
    assert!(!status.update);
    // The first request is answered 401; after the token, one page and one HEAD.
    assert_eq!(
        report.requests["ghcr.io"],
        support::one_token_one_page_one_head()
    );
}

#[tokio::test]
async fn newest_build_without_a_sha_tag_is_an_error_not_a_guess() {
    let new = build(NEW, Some(NEW), true);
    let (content, old_digest) = registry_content(&new, false);
    let registry = Registry::start_content(content).await;
    let error = pin_refresh::status(&request(&registry, "sha-1111111", old_digest))
        .await
        .unwrap_err();
    assert_eq!(error.registry, "ghcr.io");
    let message = error.to_string();
    assert!(message.contains("lkJwt"), "{message}");
    assert!(message.contains("`sha-2222222`"), "{message}");
    assert!(message.contains("policy: {kind: manual}"), "{message}");
    assert!(matches!(
        &*error.cause,
        ImageError::Policy(PolicyError::ShaTagMissing { revision, .. }) if revision == NEW
    ));
}
