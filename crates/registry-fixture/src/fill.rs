//! Pushing blobs and manifests straight to the registry (not through the front, so fills are
//! not counted), with tokens minted in-process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use bundle_gen::{Digest, Platform};
use reqwest::header;

use crate::Error;
use crate::front::FrontState;
use crate::manifests::{self, ImageDocuments, ManifestFormat, Provenance, PushedManifest};

/// A manifest the harness pushed, kept so it can be tagged again without a GET.
#[derive(Clone)]
struct StoredManifest {
    media_type: &'static str,
    bytes: Arc<Vec<u8>>,
}

pub(crate) struct Filler {
    http: reqwest::Client,
    state: Arc<FrontState>,
    tokens: Mutex<HashMap<String, String>>,
    manifests: Mutex<HashMap<Digest, StoredManifest>>,
    blobs: Mutex<HashSet<(String, Digest)>>,
}

impl Filler {
    pub(crate) fn new(http: reqwest::Client, state: Arc<FrontState>) -> Self {
        Self {
            http,
            state,
            tokens: Mutex::default(),
            manifests: Mutex::default(),
            blobs: Mutex::default(),
        }
    }

    fn bearer(&self, repository: &str) -> Result<String, Error> {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(token) = tokens.get(repository) {
            return Ok(format!("Bearer {token}"));
        }
        let access = serde_json::json!([{
            "type": "repository",
            "name": repository,
            "actions": ["pull", "push"],
        }]);
        let token = self.state.mint_token("pusher", access)?;
        tokens.insert(repository.to_owned(), token.clone());
        Ok(format!("Bearer {token}"))
    }

    /// Uploads a blob (POST then PUT, the monolithic upload) unless this repository has it.
    async fn push_blob(
        &self,
        repository: &str,
        bytes: &[u8],
        digest: &Digest,
    ) -> Result<(), Error> {
        let key = (repository.to_owned(), digest.clone());
        if self
            .blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
        {
            return Ok(());
        }
        let authorization = self.bearer(repository)?;
        let start_url = format!("{}/v2/{repository}/blobs/uploads/", self.state.registry_url);
        let started = self
            .http
            .post(&start_url)
            .header(header::AUTHORIZATION, &authorization)
            .header(header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(|source| Error::http("POST", &start_url, source))?;
        let started = expect_status(started, 202, "POST", &start_url).await?;
        // The registry answers with an absolute Location; only its path and query matter.
        let location = started
            .headers()
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let path_and_query = location
            .find("/v2/")
            .map_or(location, |start| &location[start..]);
        let separator = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        let put_url = format!(
            "{}{path_and_query}{separator}digest={digest}",
            self.state.registry_url
        );
        let finished = self
            .http
            .put(&put_url)
            .header(header::AUTHORIZATION, &authorization)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .map_err(|source| Error::http("PUT", &put_url, source))?;
        expect_status(finished, 201, "PUT", &put_url).await?;
        self.blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key);
        Ok(())
    }

    /// PUTs manifest bytes under `reference` (a tag or their digest) and checks the digest the
    /// registry computed.
    pub(crate) async fn push_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &'static str,
        bytes: Arc<Vec<u8>>,
    ) -> Result<Digest, Error> {
        let digest = Digest::of_bytes(&bytes);
        let url = format!(
            "{}/v2/{repository}/manifests/{reference}",
            self.state.registry_url
        );
        let response = self
            .http
            .put(&url)
            .header(header::AUTHORIZATION, self.bearer(repository)?)
            .header(header::CONTENT_TYPE, media_type)
            .body(bytes.as_ref().clone())
            .send()
            .await
            .map_err(|source| Error::http("PUT", &url, source))?;
        let response = expect_status(response, 201, "PUT", &url).await?;
        let stored = response
            .headers()
            .get("docker-content-digest")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if stored != digest.as_str() {
            return Err(Error::DigestMismatch {
                url,
                expected: digest,
                actual: stored.to_owned(),
            });
        }
        self.manifests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(digest.clone(), StoredManifest { media_type, bytes });
        Ok(digest)
    }

    pub(crate) async fn push_image(
        &self,
        repository: &str,
        format: ManifestFormat,
        platform: &Platform,
        labels: &BTreeMap<String, String>,
        layer_text: &str,
    ) -> Result<PushedManifest, Error> {
        let documents = manifests::image(format, platform, labels, layer_text);
        self.push_documents(
            repository,
            documents,
            format.manifest_media_type(),
            Some(platform.clone()),
        )
        .await
    }

    pub(crate) async fn push_index(
        &self,
        repository: &str,
        format: ManifestFormat,
        images: &[PushedManifest],
        provenance: Option<&Provenance>,
    ) -> Result<PushedManifest, Error> {
        let mut attestations = Vec::new();
        if let Some(provenance) = provenance {
            for image in images {
                let attestation = self.push_attestation(repository, image, provenance).await?;
                attestations.push((attestation, image.digest.clone()));
            }
        }
        let bytes = manifests::index(format, images, &attestations);
        self.push_by_digest(repository, format.index_media_type(), bytes, None)
            .await
    }

    async fn push_attestation(
        &self,
        repository: &str,
        subject: &PushedManifest,
        provenance: &Provenance,
    ) -> Result<PushedManifest, Error> {
        let documents = manifests::attestation(repository, subject, provenance);
        self.push_documents(repository, documents, manifests::OCI_MANIFEST, None)
            .await
    }

    /// Uploads the blobs of an image or attestation, then its manifest by digest.
    async fn push_documents(
        &self,
        repository: &str,
        documents: ImageDocuments,
        media_type: &'static str,
        platform: Option<Platform>,
    ) -> Result<PushedManifest, Error> {
        for blob in &documents.blobs {
            self.push_blob(repository, &blob.bytes, &blob.digest)
                .await?;
        }
        self.push_by_digest(repository, media_type, documents.manifest, platform)
            .await
    }

    /// PUTs a manifest under its own digest.
    async fn push_by_digest(
        &self,
        repository: &str,
        media_type: &'static str,
        bytes: Vec<u8>,
        platform: Option<Platform>,
    ) -> Result<PushedManifest, Error> {
        let size = bytes.len();
        let reference = Digest::of_bytes(&bytes);
        let digest = self
            .push_manifest(repository, reference.as_str(), media_type, Arc::new(bytes))
            .await?;
        Ok(PushedManifest {
            digest,
            media_type,
            size,
            platform,
        })
    }

    /// Whether `digest` is an index (or manifest list) this harness pushed.
    pub(crate) fn is_index(&self, digest: &Digest) -> bool {
        self.manifests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
            .is_some_and(|stored| {
                [manifests::OCI_INDEX, manifests::DOCKER_MANIFEST_LIST].contains(&stored.media_type)
            })
    }

    /// Points `tag` at a manifest this harness pushed before.
    pub(crate) async fn tag(
        &self,
        repository: &str,
        tag: &str,
        digest: &Digest,
    ) -> Result<(), Error> {
        let stored = self
            .manifests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(digest)
            .cloned()
            .ok_or_else(|| Error::UnknownManifest {
                digest: digest.clone(),
            })?;
        self.push_manifest(repository, tag, stored.media_type, stored.bytes)
            .await?;
        Ok(())
    }
}

async fn expect_status(
    response: reqwest::Response,
    expected: u16,
    method: &'static str,
    url: &str,
) -> Result<reqwest::Response, Error> {
    if response.status().as_u16() == expected {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Err(Error::Refused {
        method,
        url: url.to_owned(),
        status,
        body,
    })
}
