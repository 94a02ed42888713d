//! Reading manifests, image configs and build-provenance attestations: pure functions from
//! bytes to the few facts the policies need. The OCI and Docker media types share one JSON
//! shape, so one set of types reads both.

use std::collections::BTreeMap;

use bundle_gen::{Digest, Platform};
use serde::Deserialize;

/// The media type of an OCI image index.
pub const OCI_IMAGE_INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// The media type of an OCI image manifest.
pub const OCI_IMAGE_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The media type of a Docker manifest list (schema 2), the index's Docker form.
pub const IMAGE_MANIFEST_LIST_MEDIA_TYPE: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// The media type of a Docker image manifest (schema 2).
pub const IMAGE_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

// Our own wire types rather than `oci-client`'s (or `oci-spec`'s): those crates bring a whole
// registry client, or a builder for every OCI type, and their dependency trees into the build
// for a few structs. These hold only the fields read here; serde ignores the others, which
// registries and build tools keep adding.

/// An OCI image index or Docker manifest list, as far as it is read.
#[derive(Debug, Deserialize)]
struct WireIndex {
    manifests: Vec<WireIndexEntry>,
}

/// One entry of an index.
#[derive(Debug, Deserialize)]
struct WireIndexEntry {
    digest: String,
    platform: Option<WirePlatform>,
    annotations: Option<BTreeMap<String, String>>,
}

/// The platform of an index entry.
#[derive(Debug, Deserialize)]
struct WirePlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

/// An image (or artifact) manifest, as far as it is read.
#[derive(Debug, Deserialize)]
struct WireImageManifest {
    config: WireDescriptor,
    #[serde(default)]
    layers: Vec<WireDescriptor>,
}

/// A content descriptor: the config or a layer.
#[derive(Debug, Deserialize)]
struct WireDescriptor {
    digest: String,
    annotations: Option<BTreeMap<String, String>>,
}

/// The annotation BuildKit puts on an index entry that is an attestation manifest.
const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";
/// The annotation naming the in-toto predicate type of an attestation layer.
const PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";
/// The image config label holding the source commit.
pub const REVISION_LABEL: &str = "org.opencontainers.image.revision";

/// A manifest, reduced to what the policies look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    /// An OCI image index or Docker manifest list.
    Index(Vec<IndexEntry>),
    /// A single image (or artifact) manifest.
    Image(ImageManifest),
}

/// One entry of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The entry's manifest digest.
    pub digest: Digest,
    /// Its platform, `None` for attestations and entries without one.
    pub platform: Option<Platform>,
    /// Whether it is an attestation manifest (platform `unknown/unknown` or the BuildKit
    /// `attestation-manifest` annotation); attestations are not platforms.
    pub is_attestation: bool,
}

/// An image manifest: its config and its layers with their annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    /// The config blob's digest.
    pub config: Digest,
    /// The layers: digest and annotations.
    pub layers: Vec<(Digest, BTreeMap<String, String>)>,
}

impl Manifest {
    /// The platforms of an index (attestations excluded); empty for a single image.
    pub fn platforms(&self) -> Vec<&Platform> {
        match self {
            Manifest::Index(entries) => entries
                .iter()
                .filter(|e| !e.is_attestation)
                .filter_map(|e| e.platform.as_ref())
                .collect(),
            Manifest::Image(_) => Vec::new(),
        }
    }
}

/// Parses manifest bytes. The kind comes from the body's `mediaType`, else the response's
/// `Content-Type`, else from whether it has a `manifests` list.
pub fn parse_manifest(bytes: &[u8], content_type: Option<&str>) -> Result<Manifest, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let media_type = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .or(content_type.map(|c| c.split(';').next().unwrap_or(c).trim()));
    let is_index = match media_type {
        Some(OCI_IMAGE_INDEX_MEDIA_TYPE | IMAGE_MANIFEST_LIST_MEDIA_TYPE) => true,
        Some(OCI_IMAGE_MEDIA_TYPE | IMAGE_MANIFEST_MEDIA_TYPE) => false,
        _ => value.get("manifests").is_some(),
    };
    if is_index {
        let index: WireIndex = serde_json::from_value(value).map_err(|e| e.to_string())?;
        let entries = index
            .manifests
            .into_iter()
            .map(|entry| {
                let digest = parse_digest(&entry.digest)?;
                let platform = entry.platform.map(|p| Platform {
                    os: p.os,
                    architecture: p.architecture,
                    variant: p.variant,
                });
                let annotated = entry.annotations.as_ref().is_some_and(|a| {
                    a.get(REFERENCE_TYPE_ANNOTATION)
                        .is_some_and(|t| t == "attestation-manifest")
                });
                let unknown = platform
                    .as_ref()
                    .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown");
                Ok(IndexEntry {
                    digest,
                    is_attestation: annotated || unknown,
                    platform: platform.filter(|_| !(annotated || unknown)),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Manifest::Index(entries))
    } else {
        let image: WireImageManifest = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Ok(Manifest::Image(ImageManifest {
            config: parse_digest(&image.config.digest)?,
            layers: image
                .layers
                .into_iter()
                .map(|layer| {
                    Ok((
                        parse_digest(&layer.digest)?,
                        layer.annotations.unwrap_or_default(),
                    ))
                })
                .collect::<Result<_, String>>()?,
        }))
    }
}

fn parse_digest(text: &str) -> Result<Digest, String> {
    text.parse()
        .map_err(|e: bundle_gen::InvalidDigest| e.to_string())
}

/// Whether an index holds every required platform. A required platform without a variant
/// needs the architecture's baseline: an entry without a variant, or with the baseline one
/// (`v1` for amd64, `v8` for arm64). `linux/amd64/v3` does not meet `linux/amd64`: it needs
/// an x86-64-v3 CPU and crashes on older ones. A required variant needs that variant.
pub fn has_platforms(manifest: &Manifest, required: &[Platform]) -> bool {
    let Manifest::Index(_) = manifest else {
        return false;
    };
    let present = manifest.platforms();
    required.iter().all(|want| {
        present.iter().any(|have| {
            have.os == want.os
                && have.architecture == want.architecture
                && match (&want.variant, &have.variant) {
                    (Some(wanted), have) => have.as_ref() == Some(wanted),
                    (None, None) => true,
                    (None, Some(have)) => {
                        baseline_variant(&want.architecture) == Some(have.as_str())
                    }
                }
        })
    })
}

/// The variant an architecture's plain name stands for, if it has one: the one every CPU of
/// that architecture runs.
fn baseline_variant(architecture: &str) -> Option<&'static str> {
    match architecture {
        "amd64" => Some("v1"),
        "arm64" => Some("v8"),
        _ => None,
    }
}

/// The `org.opencontainers.image.revision` label of an image config, if it is a commit hash.
pub fn revision_label(config: &[u8]) -> Result<Option<String>, String> {
    let value: serde_json::Value = serde_json::from_slice(config).map_err(|e| e.to_string())?;
    Ok(value
        .get("config")
        .and_then(|c| c.get("Labels"))
        .and_then(|l| l.get(REVISION_LABEL))
        .and_then(|r| r.as_str())
        .filter(|r| is_commit_hash(r))
        .map(str::to_owned))
}

/// The image config label naming the repository the image was built from.
pub const SOURCE_LABEL: &str = "org.opencontainers.image.source";

/// The `org.opencontainers.image.source` label of an image config (a config that is not
/// JSON, or holds no such text label, has none).
pub fn source_label(config: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(config).ok()?;
    value
        .get("config")?
        .get("Labels")?
        .get(SOURCE_LABEL)?
        .as_str()
        .map(str::to_owned)
}

/// The `created` time of an image config (RFC 3339, as every builder writes it), if it has one.
pub fn created_time(config: &[u8]) -> Result<Option<jiff::Timestamp>, String> {
    let value: serde_json::Value = serde_json::from_slice(config).map_err(|e| e.to_string())?;
    let Some(created) = value.get("created").and_then(|c| c.as_str()) else {
        return Ok(None);
    };
    created
        .parse()
        .map(Some)
        .map_err(|error| format!("`created` is not an RFC 3339 time: {error}"))
}

/// The layers of an attestation manifest that hold SLSA provenance (by their
/// `in-toto.io/predicate-type` annotation).
pub fn provenance_layers(manifest: &ImageManifest) -> Vec<Digest> {
    manifest
        .layers
        .iter()
        .filter(|(_, annotations)| {
            annotations
                .get(PREDICATE_TYPE_ANNOTATION)
                .is_some_and(|t| t.starts_with("https://slsa.dev/provenance"))
        })
        .map(|(digest, _)| digest.clone())
        .collect()
}

/// The source commit recorded in an in-toto provenance statement: BuildKit's
/// `vcs.revision` metadata (a `"vcs": {"revision": ...}` object, or a `vcs.revision` /
/// `vcs:revision` key) anywhere in the predicate, else the sha1 of a git material
/// (SLSA v0.2 `materials`, v1 `resolvedDependencies`).
pub fn revision_from_provenance(statement: &[u8]) -> Result<Option<String>, String> {
    let value: serde_json::Value = serde_json::from_slice(statement).map_err(|e| e.to_string())?;
    let Some(predicate) = value.get("predicate") else {
        return Err("no `predicate` in the in-toto statement".to_owned());
    };
    if let Some(revision) = find_vcs_revision(predicate) {
        return Ok(Some(revision));
    }
    let materials = [
        predicate.get("materials"),
        predicate
            .get("buildDefinition")
            .and_then(|b| b.get("resolvedDependencies")),
    ];
    Ok(materials
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_array())
        .flatten()
        .filter(|m| {
            m.get("uri")
                .and_then(|u| u.as_str())
                .is_some_and(|u| u.starts_with("git") || u.contains(".git"))
        })
        .filter_map(|m| m.get("digest")?.get("sha1")?.as_str())
        .find(|sha| is_commit_hash(sha))
        .map(str::to_owned))
}

fn find_vcs_revision(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let found = match (key.as_str(), inner) {
                    ("vcs.revision" | "vcs:revision", serde_json::Value::String(s)) => {
                        Some(s.clone())
                    }
                    ("vcs", serde_json::Value::Object(vcs)) => vcs
                        .get("revision")
                        .and_then(|r| r.as_str())
                        .map(str::to_owned),
                    _ => None,
                };
                if let Some(revision) = found.filter(|r| is_commit_hash(r)) {
                    return Some(revision);
                }
                if let Some(revision) = find_vcs_revision(inner) {
                    return Some(revision);
                }
            }
            None
        }
        serde_json::Value::Array(items) => items.iter().find_map(find_vcs_revision),
        _ => None,
    }
}

/// A git commit hash: 7 to 64 lowercase hex digits.
fn is_commit_hash(text: &str) -> bool {
    (7..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn index_json(media_type: &str, entries: &[(&str, &str, Option<&str>, bool)]) -> Vec<u8> {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .enumerate()
            .map(|(i, (os, arch, variant, attestation))| {
                let mut platform = serde_json::json!({"os": os, "architecture": arch});
                if let Some(v) = variant {
                    platform["variant"] = serde_json::json!(v);
                }
                let mut entry = serde_json::json!({
                    "mediaType": OCI_IMAGE_MEDIA_TYPE,
                    "digest": digest(i as u8 + 1),
                    "size": 100,
                    "platform": platform,
                });
                if *attestation {
                    entry["annotations"] = serde_json::json!({
                        "vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": digest(1),
                    });
                }
                entry
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": manifests,
        }))
        .unwrap()
    }

    fn platforms(list: &[&str]) -> Vec<Platform> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    #[test]
    fn the_source_label_is_read_from_the_config_labels() {
        let config = br#"{"config":{"Labels":{"org.opencontainers.image.source":"https://github.com/livekit/livekit"}}}"#;
        assert_eq!(
            source_label(config).as_deref(),
            Some("https://github.com/livekit/livekit")
        );
        assert_eq!(source_label(br#"{"config":{"Labels":{}}}"#), None);
    }

    #[test]
    fn oci_index_with_attestations_lists_only_real_platforms() {
        let bytes = index_json(
            OCI_IMAGE_INDEX_MEDIA_TYPE,
            &[
                ("linux", "amd64", None, false),
                ("linux", "arm64", Some("v8"), false),
                ("unknown", "unknown", None, true),
                ("unknown", "unknown", None, false),
            ],
        );
        let manifest = parse_manifest(&bytes, None).unwrap();
        let shown: Vec<String> = manifest.platforms().iter().map(|p| p.to_string()).collect();
        assert_eq!(shown, ["linux/amd64", "linux/arm64/v8"]);
        assert!(has_platforms(
            &manifest,
            &platforms(&["linux/amd64", "linux/arm64"])
        ));
    }

    #[test]
    fn attestations_alone_do_not_make_a_multiarch_index() {
        let bytes = index_json(
            OCI_IMAGE_INDEX_MEDIA_TYPE,
            &[
                ("linux", "amd64", None, false),
                ("linux", "arm64", None, true),
            ],
        );
        let manifest = parse_manifest(&bytes, None).unwrap();
        assert!(!has_platforms(
            &manifest,
            &platforms(&["linux/amd64", "linux/arm64"])
        ));
    }

    #[test]
    fn docker_manifest_list_is_an_index() {
        let bytes = index_json(
            IMAGE_MANIFEST_LIST_MEDIA_TYPE,
            &[
                ("linux", "amd64", None, false),
                ("linux", "arm64", None, false),
            ],
        );
        let manifest = parse_manifest(&bytes, None).unwrap();
        assert!(has_platforms(
            &manifest,
            &platforms(&["linux/amd64", "linux/arm64"])
        ));
        assert!(!has_platforms(&manifest, &platforms(&["linux/amd64/v1"])));
    }

    fn index_of(entries: &[(&str, &str, Option<&str>, bool)]) -> Manifest {
        parse_manifest(&index_json(OCI_IMAGE_INDEX_MEDIA_TYPE, entries), None).unwrap()
    }

    #[test]
    fn tuwunel_index_with_baseline_v3_and_arm64_meets_amd64_and_arm64() {
        let manifest = index_of(&[
            ("linux", "amd64", None, false),
            ("linux", "amd64", Some("v3"), false),
            ("linux", "arm64", None, false),
        ]);
        assert!(has_platforms(
            &manifest,
            &platforms(&["linux/amd64", "linux/arm64"])
        ));
        assert!(has_platforms(&manifest, &platforms(&["linux/amd64/v3"])));
    }

    #[test]
    fn an_index_whose_only_amd64_image_is_v3_does_not_meet_amd64() {
        let manifest = index_of(&[
            ("linux", "amd64", Some("v3"), false),
            ("linux", "arm64", None, false),
        ]);
        assert!(!has_platforms(&manifest, &platforms(&["linux/amd64"])));
        assert!(has_platforms(&manifest, &platforms(&["linux/amd64/v3"])));
    }

    #[test]
    fn the_baseline_variant_meets_a_platform_without_variant() {
        let manifest = index_of(&[
            ("linux", "amd64", Some("v1"), false),
            ("linux", "arm64", Some("v8"), false),
        ]);
        assert!(has_platforms(
            &manifest,
            &platforms(&["linux/amd64", "linux/arm64"])
        ));
        let armv7 = index_of(&[("linux", "arm", Some("v7"), false)]);
        assert!(!has_platforms(&armv7, &platforms(&["linux/arm"])));
        assert!(has_platforms(&armv7, &platforms(&["linux/arm/v7"])));
    }

    #[test]
    fn single_image_manifest_has_no_platforms() {
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": IMAGE_MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": digest(9), "size": 1},
            "layers": [],
        }))
        .unwrap();
        let manifest = parse_manifest(&bytes, None).unwrap();
        assert!(matches!(manifest, Manifest::Image(_)));
        assert!(!has_platforms(&manifest, &platforms(&["linux/amd64"])));
    }

    #[test]
    fn malformed_manifest_is_an_error() {
        assert!(parse_manifest(b"{\"schemaVersion\":2,\"manifests\":[{}]}", None).is_err());
        assert!(parse_manifest(b"<html>", None).is_err());
    }

    #[test]
    fn revision_label_is_read_from_the_config_labels() {
        let config = br#"{"architecture":"amd64","config":{"Labels":{"org.opencontainers.image.revision":"0123456789abcdef0123456789abcdef01234567"}}}"#;
        assert_eq!(
            revision_label(config).unwrap().as_deref(),
            Some("0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(revision_label(br#"{"config":{}}"#).unwrap(), None);
        assert_eq!(
            revision_label(
                br#"{"config":{"Labels":{"org.opencontainers.image.revision":"main"}}}"#
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn provenance_revision_comes_from_buildkit_vcs_metadata() {
        let statement = br#"{
          "_type": "https://in-toto.io/Statement/v0.1",
          "predicateType": "https://slsa.dev/provenance/v0.2",
          "predicate": {
            "builder": {"id": "https://github.com/element-hq/lk-jwt-service/actions/runs/1"},
            "materials": [{"uri": "pkg:docker/golang@1.23", "digest": {"sha256": "aa"}}],
            "metadata": {
              "https://mobyproject.org/buildkit@v1#metadata": {
                "vcs": {"revision": "fedcba9876543210fedcba9876543210fedcba98",
                        "source": "https://github.com/element-hq/lk-jwt-service"}
              }
            }
          }
        }"#;
        assert_eq!(
            revision_from_provenance(statement).unwrap().as_deref(),
            Some("fedcba9876543210fedcba9876543210fedcba98")
        );
    }

    #[test]
    fn provenance_revision_falls_back_to_git_material() {
        let statement = br#"{"predicate": {"buildDefinition": {"resolvedDependencies": [
            {"uri": "pkg:docker/alpine", "digest": {"sha256": "bb"}},
            {"uri": "git+https://github.com/element-hq/lk-jwt-service@refs/heads/main",
             "digest": {"sha1": "1111111222222233333334444444555555566666"}}]}}}"#;
        assert_eq!(
            revision_from_provenance(statement).unwrap().as_deref(),
            Some("1111111222222233333334444444555555566666")
        );
        assert_eq!(
            revision_from_provenance(br#"{"predicate":{}}"#).unwrap(),
            None
        );
    }

    #[test]
    fn provenance_layers_are_found_by_predicate_type() {
        let provenance =
            serde_json::json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
        let sbom = serde_json::json!({"in-toto.io/predicate-type": "https://spdx.dev/Document"});
        let bytes = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_IMAGE_MEDIA_TYPE,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(9), "size": 1},
            "layers": [
                {"mediaType": "application/vnd.in-toto+json", "digest": digest(3), "size": 1, "annotations": sbom},
                {"mediaType": "application/vnd.in-toto+json", "digest": digest(4), "size": 1, "annotations": provenance},
            ],
        }))
        .unwrap();
        let Manifest::Image(image) = parse_manifest(&bytes, None).unwrap() else {
            panic!("not an image manifest");
        };
        assert_eq!(provenance_layers(&image), vec![digest(4).parse().unwrap()]);
    }
}
