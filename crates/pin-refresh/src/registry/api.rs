//! The OCI distribution API of one registry host, as far as `bundle pins` needs it: tag lists
//! (paginated), manifests by HEAD and GET, and blobs, each checked against its digest. How a
//! request travels is [`super::transport`]'s, how it is authenticated [`super::token`]'s, and
//! when it is sent again [`super::retry`]'s.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use bundle_gen::{Digest, RegistryEndpoint, Tag};
use registry_counts::{RequestCounts, RequestKind};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Response, StatusCode, Url};

use super::auth::Credentials;
use super::error::{RegistryError, shorten};
use super::options::ClientOptions;
use super::retry::{self, RetryCounts};
use super::token::Tokens;
use super::transport::{Transport, expect_ok};

/// The `Accept` header for manifests: both index types and both image manifest types. The
/// Debian registry answers 404 for an OCI index unless its media type is listed here.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// A manifest reference: a validated tag or a digest, both safe in a URL path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// By tag.
    Tag(Tag),
    /// By digest.
    Digest(Digest),
}

impl Reference {
    fn as_str(&self) -> &str {
        match self {
            Reference::Tag(tag) => tag.as_str(),
            Reference::Digest(digest) => digest.as_str(),
        }
    }
}

/// A manifest as received, its digest verified against the bytes.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The digest of the bytes received.
    pub digest: Digest,
    /// The `Content-Type` the registry sent.
    pub content_type: Option<String>,
    /// The manifest bytes.
    pub bytes: Vec<u8>,
}

/// The client for one registry host (e.g. `ghcr.io`), talking to its endpoint.
#[derive(Debug)]
pub struct Registry {
    host: String,
    transport: Transport,
    tokens: Tokens,
    options: ClientOptions,
    /// Whether the host's first request has been answered. Until then, other requests wait,
    /// so that only that first one meets the 401 challenge and the rest fetch their token
    /// up front: the request counts do not depend on timing.
    probed: tokio::sync::Mutex<bool>,
}

/// The endpoint used for `host` when none is configured: Docker Hub's API lives on
/// `registry-1.docker.io`; every other registry serves the API on its own host.
pub fn default_endpoint(host: &str) -> String {
    match host {
        "docker.io" | "index.docker.io" => "https://registry-1.docker.io".to_owned(),
        _ => format!("https://{host}"),
    }
}

impl Registry {
    /// A client for `host`, sending requests to `endpoint` (or the host's default endpoint).
    /// Plain `http` is refused unless the endpoint is marked insecure.
    pub fn new(
        host: &str,
        endpoint: Option<&RegistryEndpoint>,
        credentials: Option<Credentials>,
        options: ClientOptions,
    ) -> Result<Self, RegistryError> {
        let (endpoint_text, insecure) = match endpoint {
            Some(e) => (e.endpoint.clone(), e.insecure),
            None => (default_endpoint(host), false),
        };
        let invalid = |reason: &str| RegistryError::InvalidEndpoint {
            host: host.to_owned(),
            endpoint: endpoint_text.clone(),
            reason: reason.to_owned(),
        };
        let mut base = Url::parse(&endpoint_text).map_err(|e| {
            // `url` is built without Unicode host names (the workspace's `idna_adapter`).
            let fix = if endpoint_text.is_ascii() {
                "write a URL like https://mirror.example.net"
            } else {
                "write an internationalised host name in its ASCII `xn--` form"
            };
            invalid(&format!("{e}; {fix}"))
        })?;
        match base.scheme() {
            "https" => {}
            "http" if insecure => {}
            "http" => {
                return Err(invalid(&format!(
                    "plain http is only allowed for an endpoint marked insecure: add \
                     `insecure: true` under `registries.{host}` in bundle.yaml \
                     (`--registry-endpoint {host}=http://...` marks it so)"
                )));
            }
            _ => return Err(invalid("use an https:// (or, if insecure, http://) URL")),
        }
        if base.query().is_some() || base.fragment().is_some() || !base.username().is_empty() {
            return Err(invalid(
                "the endpoint must not carry a query, fragment or user info",
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let transport = Transport::new(base, insecure, &options)
            .map_err(|e| invalid(&format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            host: host.to_owned(),
            transport,
            tokens: Tokens::new(host, credentials),
            options,
            probed: tokio::sync::Mutex::new(false),
        })
    }

    /// The registry host this client is for.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The limits in force.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Requests sent so far, by kind.
    pub fn counts(&self) -> RequestCounts {
        self.transport.counts()
    }

    /// Retries so far, by reason.
    pub fn retries(&self) -> RetryCounts {
        self.transport.retries()
    }

    /// The repository as the API names it: Docker Hub serves its official images (`nginx`)
    /// under `library/`.
    fn api_repository(&self, repository: &str) -> String {
        if self.host == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        }
    }

    fn api_url(&self, repository: &str, rest: &str) -> Result<Url, RegistryError> {
        validate_repository(repository)?;
        let repository = self.api_repository(repository);
        let base = self.transport.base();
        base.join(&format!("v2/{repository}/{rest}"))
            .map_err(|e| RegistryError::InvalidEndpoint {
                host: self.host.clone(),
                endpoint: base.to_string(),
                reason: e.to_string(),
            })
    }

    fn manifest_url(&self, repository: &str, reference: &Reference) -> Result<Url, RegistryError> {
        self.api_url(repository, &format!("manifests/{}", reference.as_str()))
    }

    /// Lists the repository's tags in the registry's order, following the `rel="next"` `Link`
    /// of each page. Names that are not valid tags are skipped (never used in a URL), but count
    /// towards the `max_tags` limit.
    pub async fn list_tags(&self, repository: &str) -> Result<Vec<Tag>, RegistryError> {
        let mut url = self.api_url(repository, "tags/list")?;
        url.query_pairs_mut()
            .append_pair("n", &self.options.tag_page_length.to_string());
        let mut tags = Vec::new();
        let mut skipped = 0;
        let mut pages = 0;
        loop {
            if pages == self.options.max_tag_pages {
                return Err(RegistryError::TagListTooLong {
                    url: url.to_string(),
                    limit: self.options.max_tag_pages,
                    unit: "pages",
                });
            }
            pages += 1;
            let page_url = &url;
            let (next, body) = self
                .send(
                    RequestKind::TagList,
                    Method::GET,
                    page_url,
                    "application/json",
                    repository,
                    |response| async move {
                        let response = expect_ok(response, page_url)?;
                        let next = next_link(response.headers());
                        let body = self
                            .transport
                            .read_body(
                                response,
                                self.options.tag_page_size_limit,
                                "tag list page",
                                page_url,
                            )
                            .await?;
                        Ok((next, body))
                    },
                )
                .await?;
            let page: TagPage =
                serde_json::from_slice(&body).map_err(|e| RegistryError::Malformed {
                    url: url.to_string(),
                    what: "tag list",
                    reason: e.to_string(),
                })?;
            for name in page.tags.unwrap_or_default() {
                match name.parse::<Tag>() {
                    Ok(tag) => tags.push(tag),
                    Err(invalid) => {
                        tracing::debug!(registry = %self.host, %invalid, "skipping invalid tag");
                        skipped += 1;
                    }
                }
            }
            if tags.len() + skipped > self.options.max_tags {
                return Err(RegistryError::TagListTooLong {
                    url: url.to_string(),
                    limit: self.options.max_tags,
                    unit: "tags",
                });
            }
            let Some(next) = next else {
                return Ok(tags);
            };
            let next_url = url.join(&next).map_err(|_| RegistryError::Malformed {
                url: url.to_string(),
                what: "Link header",
                reason: format!("`{}` is not a URL", shorten(&next)),
            })?;
            if !self.transport.is_on_endpoint(&next_url) {
                return Err(RegistryError::UnsafeLink {
                    url: url.to_string(),
                    target: next_url.to_string(),
                    reason: "the next tag page is on another host",
                });
            }
            url = next_url;
        }
    }

    /// The digest of a manifest by HEAD (`Docker-Content-Digest`), or `None` if the registry
    /// has no such manifest. Falls back to a verified GET when the header is missing.
    pub async fn head_manifest(
        &self,
        repository: &str,
        reference: &Reference,
    ) -> Result<Option<Digest>, RegistryError> {
        let url = self.manifest_url(repository, reference)?;
        let response = self
            .send(
                RequestKind::ManifestHead,
                Method::HEAD,
                &url,
                MANIFEST_ACCEPT,
                repository,
                |response| std::future::ready(Ok(response)),
            )
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = expect_ok(response, &url)?;
        match content_digest(response.headers(), &url)? {
            Some(digest) => Ok(Some(digest)),
            None => Ok(Some(self.get_manifest(repository, reference).await?.digest)),
        }
    }

    /// A manifest by GET, its bytes hashed and checked against the digest it was asked by and
    /// the `Docker-Content-Digest` the registry announced.
    pub async fn get_manifest(
        &self,
        repository: &str,
        reference: &Reference,
    ) -> Result<FetchedManifest, RegistryError> {
        let url = self.manifest_url(repository, reference)?;
        let manifest_url = &url;
        let (announced, content_type, bytes) = self
            .send(
                RequestKind::ManifestGet,
                Method::GET,
                manifest_url,
                MANIFEST_ACCEPT,
                repository,
                |response| async move {
                    let response = expect_ok(response, manifest_url)?;
                    let announced = content_digest(response.headers(), manifest_url)?;
                    let content_type = response
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let bytes = self
                        .transport
                        .read_body(
                            response,
                            self.options.manifest_size_limit,
                            "manifest",
                            manifest_url,
                        )
                        .await?;
                    Ok((announced, content_type, bytes))
                },
            )
            .await?;
        let digest = Digest::of_bytes(&bytes);
        let requested = match reference {
            Reference::Digest(requested) => Some(requested),
            Reference::Tag(_) => None,
        };
        for expected in requested.into_iter().chain(&announced) {
            check_digest(&url, expected, &digest)?;
        }
        Ok(FetchedManifest {
            digest,
            content_type,
            bytes,
        })
    }

    /// A blob (image config, attestation) by digest, verified by hashing the bytes.
    pub async fn get_blob(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Vec<u8>, RegistryError> {
        let url = self.api_url(repository, &format!("blobs/{digest}"))?;
        let blob_url = &url;
        let bytes = self
            .send(
                RequestKind::Blob,
                Method::GET,
                blob_url,
                "*/*",
                repository,
                |response| async move {
                    let response = expect_ok(response, blob_url)?;
                    self.transport
                        .read_body(response, self.options.blob_size_limit, "blob", blob_url)
                        .await
                },
            )
            .await?;
        check_digest(&url, digest, &Digest::of_bytes(&bytes))?;
        Ok(bytes)
    }

    /// Sends one API request and hands its answer to `finish` (status check, body): meets a
    /// 401 challenge (once), retries transient failures of both within the configured bounds
    /// ([`retry::until_settled`]), and follows redirects ([`Transport::send`]).
    async fn send<T, Finish, Finished>(
        &self,
        kind: RequestKind,
        method: Method,
        url: &Url,
        accept: &str,
        repository: &str,
        finish: Finish,
    ) -> Result<T, RegistryError>
    where
        Finish: FnMut(Response) -> Finished,
        Finished: Future<Output = Result<T, RegistryError>>,
    {
        let scope = format!("repository:{}:pull", self.api_repository(repository));
        let mut probe = self.probed.lock().await;
        if *probe {
            drop(probe);
        } else {
            // This is the host's first request: hold the others until it is answered.
            *probe = true;
        }
        // Across retries too: a second 401 after meeting the challenge is a refusal.
        let challenged = AtomicBool::new(false);
        let (scope, method, challenged) = (&scope, &method, &challenged);
        let attempt = move || async move {
            loop {
                let authorization = self
                    .tokens
                    .authorization_for(&self.transport, &self.options, scope, url)
                    .await?;
                let response = self
                    .transport
                    .send(kind, method, url, accept, authorization.as_deref())
                    .await?;
                if response.status() != StatusCode::UNAUTHORIZED {
                    return Ok(response);
                }
                // A host the endpoint redirected to speaks for itself, not for the registry:
                // meeting its challenge would hand our credentials to the token service it
                // names, and its token to the registry.
                if !self.transport.is_on_endpoint(response.url()) {
                    return Err(RegistryError::Unauthorized {
                        url: url.to_string(),
                        challenge: redirected_host_wants_credentials(response.url()),
                    });
                }
                if challenged.swap(true, Ordering::Relaxed) {
                    return Err(RegistryError::Unauthorized {
                        url: url.to_string(),
                        challenge: self.tokens.refused_after_authenticating(),
                    });
                }
                self.tokens
                    .accept_challenge(response.headers(), url, scope)
                    .await?;
            }
        };
        retry::until_settled(
            &self.transport,
            &self.options,
            &self.host,
            url,
            attempt,
            finish,
        )
        .await
    }
}

/// Why a 401 from a host the registry redirected to ends the request.
fn redirected_host_wants_credentials(answered: &Url) -> String {
    let host = match (answered.host_str(), answered.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => answered.to_string(),
    };
    format!(
        "the registry redirected to {host}, which asks for credentials; they are never sent \
         along a redirect to another host"
    )
}

#[derive(serde::Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// Checks a repository name against the distribution grammar before it goes into a URL:
/// lowercase components of `[a-z0-9]` joined by `.`, `_`, `__` or `-` runs, separated by `/`.
pub fn validate_repository(repository: &str) -> Result<(), RegistryError> {
    let component_ok = |c: &str| {
        let bytes = c.as_bytes();
        !bytes.is_empty()
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes.iter().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && !c.contains("..")
    };
    if repository.len() <= 255 && repository.split('/').all(component_ok) {
        Ok(())
    } else {
        Err(RegistryError::InvalidRepository {
            repository: shorten(repository),
        })
    }
}

fn content_digest(headers: &HeaderMap, url: &Url) -> Result<Option<Digest>, RegistryError> {
    let Some(value) = headers.get("docker-content-digest") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    text.parse()
        .map(Some)
        .map_err(|_| RegistryError::Malformed {
            url: url.to_string(),
            what: "Docker-Content-Digest header",
            reason: format!("`{}` is not a sha256 digest", shorten(text)),
        })
}

/// Refuses bytes that do not hash to the digest they were asked by or announced as.
fn check_digest(url: &Url, expected: &Digest, actual: &Digest) -> Result<(), RegistryError> {
    if expected == actual {
        return Ok(());
    }
    Err(RegistryError::DigestMismatch {
        url: url.to_string(),
        expected: expected.to_string(),
        actual: actual.clone(),
    })
}

/// The target of the `rel="next"` entry of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_next_link)
}

/// The target of the `rel="next"` entry in one `Link` header value, e.g.
/// `</v2/a/tags/list?n=100&last=v1>; rel="next"`.
pub fn parse_next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|entry| {
        let (target, params) = entry.trim().strip_prefix('<')?.split_once('>')?;
        let is_next = params.split(';').any(|param| {
            let param = param.trim();
            param
                .strip_prefix("rel=")
                .is_some_and(|rel| rel.trim_matches('"').split(' ').any(|r| r == "next"))
        });
        is_next.then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found_among_other_relations() {
        assert_eq!(
            parse_next_link(r#"</v2/a/tags/list?n=2&last=b>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=2&last=b")
        );
        assert_eq!(
            parse_next_link(r#"<https://x/prev>; rel="prev", <https://x/next>; rel=next"#)
                .as_deref(),
            Some("https://x/next")
        );
        assert_eq!(parse_next_link(r#"<https://x/prev>; rel="prev""#), None);
    }

    #[test]
    fn repository_names_follow_the_distribution_grammar() {
        for good in [
            "matrix-construct/tuwunel",
            "livekit/livekit-server",
            "library/a_b.c",
        ] {
            assert!(validate_repository(good).is_ok(), "{good}");
        }
        for bad in ["", "a//b", "../x", "A/b", "a/b?x", "a/.b", "a/b/", "a\nb"] {
            assert!(validate_repository(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn docker_io_is_served_by_registry_1() {
        assert_eq!(
            default_endpoint("docker.io"),
            "https://registry-1.docker.io"
        );
        assert_eq!(default_endpoint("ghcr.io"), "https://ghcr.io");
    }

    #[test]
    fn an_endpoint_host_outside_ascii_is_refused_with_its_xn_form_as_the_fix() {
        let endpoint = RegistryEndpoint {
            endpoint: "https://bücher.example".to_owned(),
            insecure: false,
        };
        let refused = Registry::new("ghcr.io", Some(&endpoint), None, ClientOptions::default());
        let Err(error) = refused else {
            panic!("a Unicode host name was accepted");
        };
        assert_eq!(
            error.to_string(),
            "registry endpoint `https://bücher.example` for ghcr.io is not usable: invalid \
             international domain name; write an internationalised host name in its ASCII \
             `xn--` form"
        );
        let written_as_xn = RegistryEndpoint {
            endpoint: "https://xn--bcher-kva.example".to_owned(),
            insecure: false,
        };
        let accepted = Registry::new(
            "ghcr.io",
            Some(&written_as_xn),
            None,
            ClientOptions::default(),
        );
        assert!(accepted.is_ok());
    }

    #[test]
    fn plain_http_endpoint_needs_insecure() {
        let endpoint = |insecure| RegistryEndpoint {
            endpoint: "http://127.0.0.1:5000".to_owned(),
            insecure,
        };
        let refused = Registry::new(
            "ghcr.io",
            Some(&endpoint(false)),
            None,
            ClientOptions::default(),
        );
        assert!(matches!(
            refused,
            Err(RegistryError::InvalidEndpoint { .. })
        ));
        let accepted = Registry::new(
            "ghcr.io",
            Some(&endpoint(true)),
            None,
            ClientOptions::default(),
        );
        assert!(accepted.is_ok());
    }
}
