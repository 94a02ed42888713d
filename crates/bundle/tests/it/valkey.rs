//! The bundled Valkey through the real binary: a site with it generates the component, and
//! each setting that cannot go with it is refused with exit 2, its key named and nothing
//! written.

use insta::assert_snapshot;

use crate::cli::refused_without_writing;
use crate::support::{Workdir, set, site_yaml};

/// The repository's site with the bundled Valkey, its image pinned.
fn valkey_site() -> String {
    let site = set(&site_yaml(), "livekit.redis", "{bundled: true}");
    set(
        &site,
        "images.valkey",
        "{repository: valkey/valkey, tag: 8.1.4, digest: 'sha256:4444444444444444444444444444444444444444444444444444444444444444', policy: {kind: semver, tagPrefix: ''}}",
    )
}

#[test]
fn a_site_with_the_bundled_valkey_generates_its_component() {
    let work = Workdir::with_config(&valkey_site());
    work.bundle(&["gen"]).success();
    let valkey = work.path().join("overlays/components/valkey");
    for file in [
        "kustomization.yaml",
        "valkey-deployment.yaml",
        "valkey-service.yaml",
        "valkey-networkpolicy.yaml",
    ] {
        assert!(valkey.join(file).is_file(), "{file}");
    }
}

#[test]
fn guard_bundled_valkey_without_its_image() {
    let bad = set(&site_yaml(), "livekit.redis", "{bundled: true}");
    assert_snapshot!(refused_without_writing(&bad, "images.valkey"));
}

#[test]
fn guard_bundled_valkey_with_the_address_of_another_server() {
    let bad = set(
        &valkey_site(),
        "livekit.redis.address",
        "'redis.example.org:6379'",
    );
    assert_snapshot!(refused_without_writing(&bad, "livekit.redis.address"));
}
