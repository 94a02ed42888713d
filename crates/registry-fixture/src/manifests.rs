//! The JSON documents pushed to the registry: image configs, image manifests, indexes and
//! BuildKit-style attestation manifests. Pure functions: bytes in, bytes out.

use std::collections::BTreeMap;

use bundle_gen::{Digest, Platform};
use serde_json::{Value, json};

/// OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest (schema 2) media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const IN_TOTO: &str = "application/vnd.in-toto+json";
/// Predicate type of BuildKit's provenance attestation (SLSA v0.2, BuildKit's default).
pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
const SPDX_DOCUMENT: &str = "https://spdx.dev/Document";
/// The key under `predicate.metadata` where BuildKit records version-control facts.
pub const BUILDKIT_METADATA_KEY: &str = "https://mobyproject.org/buildkit@v1#metadata";

/// Which family of media types an image and its index use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestFormat {
    /// OCI image manifests in an OCI image index (BuildKit's default; allows attestations).
    Oci,
    /// Docker schema 2 manifests in a Docker manifest list (older builds).
    Docker,
}

impl ManifestFormat {
    pub(crate) fn manifest_media_type(self) -> &'static str {
        match self {
            Self::Oci => OCI_MANIFEST,
            Self::Docker => DOCKER_MANIFEST,
        }
    }

    pub(crate) fn index_media_type(self) -> &'static str {
        match self {
            Self::Oci => OCI_INDEX,
            Self::Docker => DOCKER_MANIFEST_LIST,
        }
    }

    fn config_media_type(self) -> &'static str {
        match self {
            Self::Oci => OCI_CONFIG,
            Self::Docker => DOCKER_CONFIG,
        }
    }

    fn layer_media_type(self) -> &'static str {
        match self {
            Self::Oci => OCI_LAYER,
            Self::Docker => DOCKER_LAYER,
        }
    }
}

/// A manifest pushed to the registry, as an index entry refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    /// Digest of the manifest bytes.
    pub digest: Digest,
    /// Its media type.
    pub media_type: &'static str,
    /// Its length in bytes.
    pub size: usize,
    /// The platform of an image manifest; `None` for an index.
    pub platform: Option<Platform>,
}

/// Build-provenance facts recorded in an attestation, as BuildKit does for a GitHub build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The full 40-hex commit the image was built from.
    pub revision: String,
    /// The source repository URL, e.g. `https://github.com/element-hq/lk-jwt-service`.
    pub source: String,
}

/// A blob to push: bytes with a media type.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub(crate) media_type: &'static str,
    pub(crate) bytes: Vec<u8>,
    pub(crate) digest: Digest,
}

impl Blob {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Self {
        let digest = Digest::of_bytes(&bytes);
        Self {
            media_type,
            bytes,
            digest,
        }
    }

    fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest.as_str(), "size": self.bytes.len()})
    }
}

/// The blobs and manifest bytes of one single-platform image.
pub(crate) struct ImageDocuments {
    pub(crate) blobs: Vec<Blob>,
    pub(crate) manifest: Vec<u8>,
}

/// A tiny image for `platform`: a config with `labels` and one small layer whose bytes are
/// `layer_text` (different builds have different layers, so different digests, even when
/// they carry no labels).
pub(crate) fn image(
    format: ManifestFormat,
    platform: &Platform,
    labels: &BTreeMap<String, String>,
    layer_text: &str,
) -> ImageDocuments {
    let layer = Blob::new(
        format.layer_media_type(),
        format!("registry-fixture layer for {platform}: {layer_text}\n").into_bytes(),
    );
    let mut config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "created": "2026-01-01T00:00:00Z",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [layer.digest.as_str()]},
    });
    if let Some(variant) = &platform.variant {
        config["variant"] = json!(variant);
    }
    let config = Blob::new(format.config_media_type(), config.to_string().into_bytes());
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": format.manifest_media_type(),
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    });
    ImageDocuments {
        manifest: manifest.to_string().into_bytes(),
        blobs: vec![config, layer],
    }
}

/// The attestation manifest BuildKit attaches for one platform image: an SBOM statement and a
/// SLSA v0.2 provenance statement whose BuildKit metadata holds the commit.
pub(crate) fn attestation(
    repository: &str,
    subject: &PushedManifest,
    provenance: &Provenance,
) -> ImageDocuments {
    let platform = subject
        .platform
        .as_ref()
        .map_or_else(|| "unknown/unknown".to_owned(), ToString::to_string);
    let statement_subject = json!([{
        "name": format!("pkg:docker/{repository}?platform={}", platform.replace('/', "%2F")),
        "digest": {"sha256": subject.digest.hex()},
    }]);
    let sbom = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SPDX_DOCUMENT,
        "subject": statement_subject,
        "predicate": {"spdxVersion": "SPDX-2.3", "name": "sbom", "packages": []},
    });
    let slsa = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": SLSA_PROVENANCE_V02,
        "subject": statement_subject,
        "predicate": {
            "builder": {"id": format!("{}/actions/runs/1", provenance.source)},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "materials": [],
            "invocation": {
                "configSource": {"entryPoint": "Dockerfile"},
                "parameters": {"frontend": "dockerfile.v0"},
                "environment": {"platform": platform},
            },
            "metadata": {
                "buildInvocationID": format!("build-{}", provenance.revision),
                "completeness": {"parameters": true, "environment": true, "materials": false},
                "reproducible": false,
                BUILDKIT_METADATA_KEY: {
                    "vcs": {"revision": provenance.revision, "source": provenance.source},
                },
            },
        },
    });
    let sbom = Blob::new(IN_TOTO, sbom.to_string().into_bytes());
    let slsa = Blob::new(IN_TOTO, slsa.to_string().into_bytes());
    let config = json!({
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sbom.digest.as_str(), slsa.digest.as_str()]},
    });
    let config = Blob::new(OCI_CONFIG, config.to_string().into_bytes());
    let layer = |blob: &Blob, predicate_type: &str| {
        let mut descriptor = blob.descriptor();
        descriptor["annotations"] = json!({"in-toto.io/predicate-type": predicate_type});
        descriptor
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer(&sbom, SPDX_DOCUMENT), layer(&slsa, SLSA_PROVENANCE_V02)],
    });
    ImageDocuments {
        manifest: manifest.to_string().into_bytes(),
        blobs: vec![config, sbom, slsa],
    }
}

/// An index (or Docker manifest list) of `images`, followed by `attestations`, each given as
/// (attestation manifest, the image it attests).
pub(crate) fn index(
    format: ManifestFormat,
    images: &[PushedManifest],
    attestations: &[(PushedManifest, Digest)],
) -> Vec<u8> {
    let mut entries: Vec<Value> = images
        .iter()
        .map(|image| {
            let mut entry = json!({
                "mediaType": image.media_type,
                "digest": image.digest.as_str(),
                "size": image.size,
            });
            if let Some(platform) = &image.platform {
                entry["platform"] = platform_json(platform);
            }
            entry
        })
        .collect();
    entries.extend(attestations.iter().map(|(attestation, subject)| {
        json!({
            "mediaType": attestation.media_type,
            "digest": attestation.digest.as_str(),
            "size": attestation.size,
            "annotations": {
                "vnd.docker.reference.digest": subject.as_str(),
                "vnd.docker.reference.type": "attestation-manifest",
            },
            "platform": {"architecture": "unknown", "os": "unknown"},
        })
    }));
    json!({
        "schemaVersion": 2,
        "mediaType": format.index_media_type(),
        "manifests": entries,
    })
    .to_string()
    .into_bytes()
}

fn platform_json(platform: &Platform) -> Value {
    let mut value = json!({"architecture": platform.architecture, "os": platform.os});
    if let Some(variant) = &platform.variant {
        value["variant"] = json!(variant);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amd64() -> Platform {
        Platform::new("linux", "amd64", None)
    }

    #[test]
    fn image_config_carries_platform_and_labels() {
        let labels = BTreeMap::from([(
            "org.opencontainers.image.revision".to_owned(),
            "0123456789abcdef0123456789abcdef01234567".to_owned(),
        )]);
        let documents = image(ManifestFormat::Oci, &amd64(), &labels, "build 1");
        let config: Value = serde_json::from_slice(&documents.blobs[0].bytes).expect("json");
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["os"], "linux");
        assert_eq!(
            config["config"]["Labels"]["org.opencontainers.image.revision"],
            "0123456789abcdef0123456789abcdef01234567"
        );
    }

    #[test]
    fn attestation_entries_are_unknown_platform_and_name_their_subject() {
        let subject = Digest::of_bytes(b"subject");
        let attestation = PushedManifest {
            digest: Digest::of_bytes(b"attestation"),
            media_type: OCI_MANIFEST,
            size: 10,
            platform: None,
        };
        let bytes = index(ManifestFormat::Oci, &[], &[(attestation, subject.clone())]);
        let index: Value = serde_json::from_slice(&bytes).expect("json");
        let entry = &index["manifests"][0];
        assert_eq!(index["mediaType"], OCI_INDEX);
        assert_eq!(entry["platform"]["os"], "unknown");
        assert_eq!(
            entry["annotations"]["vnd.docker.reference.digest"],
            subject.as_str()
        );
    }

    #[test]
    fn provenance_records_the_revision_where_buildkit_does() {
        let subject = PushedManifest {
            digest: Digest::of_bytes(b"subject"),
            media_type: OCI_MANIFEST,
            size: 10,
            platform: Some(amd64()),
        };
        let provenance = Provenance {
            revision: "89abcdef0123456789abcdef0123456789abcdef".to_owned(),
            source: "https://github.com/element-hq/lk-jwt-service".to_owned(),
        };
        let documents = attestation("element-hq/lk-jwt-service", &subject, &provenance);
        let statement: Value = serde_json::from_slice(&documents.blobs[2].bytes).expect("json");
        assert_eq!(statement["predicateType"], SLSA_PROVENANCE_V02);
        assert_eq!(
            statement["predicate"]["metadata"][BUILDKIT_METADATA_KEY]["vcs"]["revision"],
            provenance.revision
        );
    }
}
