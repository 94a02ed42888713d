//! One registry host: the HTTP requests of the OCI distribution API that `bundle pins` needs,
//! with the Bearer challenge flow, bounded retries, size caps, digest checks and request
//! counts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bundle_gen::{Digest, RegistryEndpoint, Tag};
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Response, StatusCode, Url};
use serde::Serialize;

use super::auth::{Challenge, Credentials, env_var_name};
use super::error::RegistryError;

/// The `Accept` header for manifests: both index types and both image manifest types. The
/// Debian registry answers 404 for an OCI index unless its media type is listed here.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// Limits and timeouts of the registry client. [`ClientOptions::default`] suits real
/// registries; tests shorten the timeout and the retry waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Time allowed for one request, from connecting until the whole body is read.
    pub request_timeout: Duration,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Attempts per request when the registry answers 429 or 503 (at least 1).
    pub max_attempts: u32,
    /// The longest single wait before a retry: `Retry-After` is honoured up to this value.
    pub retry_wait_cap: Duration,
    /// The longest total wait spent on retries of one request.
    pub max_total_retry_wait: Duration,
    /// Largest manifest or index accepted, in bytes.
    pub manifest_size_limit: usize,
    /// Largest image config or attestation blob accepted, in bytes.
    pub blob_size_limit: usize,
    /// Largest tag-list page accepted, in bytes.
    pub tag_page_size_limit: usize,
    /// Tags asked for per page (`n`).
    pub tag_page_length: u32,
    /// Most tag-list pages read per repository.
    pub max_tag_pages: usize,
    /// Most tags read per repository.
    pub max_tags: usize,
    /// Redirects followed per request.
    pub max_redirects: usize,
    /// Concurrent HEAD requests in the commit policy's tag scan.
    pub scan_concurrency: usize,
    /// Most `sha-` tags the commit policy's scan looks at.
    pub max_scan_tags: usize,
    /// Most bare tags the bare-multiarch policy inspects before giving up.
    pub max_bare_candidates: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 4,
            retry_wait_cap: Duration::from_secs(30),
            max_total_retry_wait: Duration::from_secs(90),
            manifest_size_limit: 4 << 20,
            blob_size_limit: 4 << 20,
            tag_page_size_limit: 4 << 20,
            tag_page_length: 1000,
            max_tag_pages: 100,
            max_tags: 50_000,
            max_redirects: 5,
            scan_concurrency: 8,
            max_scan_tags: 500,
            max_bare_candidates: 10,
        }
    }
}

/// What a request was for, to count them separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A token from the registry's token service.
    Token,
    /// A page of the tag list.
    TagList,
    /// A manifest HEAD (digest only).
    ManifestHead,
    /// A manifest GET (body).
    ManifestGet,
    /// A blob GET (image config, attestation).
    Blob,
    /// Any API request answered 401: the registry's challenge, before the first request of a
    /// repository can carry a token.
    Challenge,
}

/// HTTP requests sent for one registry host, by kind. Every request sent counts once:
/// retried ones and redirect hops in their kind, ones answered 401 only in `challenge`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestCounts {
    /// Token requests.
    pub token: u32,
    /// Tag-list page requests.
    pub tag_list: u32,
    /// Manifest HEAD requests.
    pub manifest_head: u32,
    /// Manifest GET requests.
    pub manifest_get: u32,
    /// Blob GET requests.
    pub blob: u32,
    /// API requests answered 401 (the challenge that starts the token flow).
    pub challenge: u32,
}

impl RequestCounts {
    /// All requests.
    pub fn total(&self) -> u32 {
        self.token
            + self.tag_list
            + self.manifest_head
            + self.manifest_get
            + self.blob
            + self.challenge
    }

    fn add(&mut self, kind: RequestKind) {
        let slot = match kind {
            RequestKind::Token => &mut self.token,
            RequestKind::TagList => &mut self.tag_list,
            RequestKind::ManifestHead => &mut self.manifest_head,
            RequestKind::ManifestGet => &mut self.manifest_get,
            RequestKind::Blob => &mut self.blob,
            RequestKind::Challenge => &mut self.challenge,
        };
        *slot += 1;
    }
}

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

/// Where the Bearer tokens of a host come from, once it has challenged.
#[derive(Debug, Clone)]
struct TokenService {
    realm: String,
    service: Option<String>,
}

#[derive(Debug, Default)]
struct AuthState {
    token_service: Option<TokenService>,
    basic: bool,
    tokens: HashMap<String, String>,
}

/// The client for one registry host (e.g. `ghcr.io`), talking to its endpoint.
#[derive(Debug)]
pub struct Registry {
    host: String,
    base: Url,
    insecure: bool,
    http: reqwest::Client,
    credentials: Option<Credentials>,
    options: ClientOptions,
    counts: Mutex<RequestCounts>,
    auth: tokio::sync::Mutex<AuthState>,
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
        let mut base = Url::parse(&endpoint_text)
            .map_err(|e| invalid(&format!("{e}; write a URL like https://mirror.example.net")))?;
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
        // reqwest comes without a crypto provider of its own (see the workspace Cargo.toml):
        // rustls' ring one serves, unless the process installed another already (then the
        // call fails and that one serves).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("bundle-pins/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| invalid(&format!("cannot build an HTTP client: {e}")))?;
        Ok(Self {
            host: host.to_owned(),
            base,
            insecure,
            http,
            credentials,
            options,
            counts: Mutex::new(RequestCounts::default()),
            auth: tokio::sync::Mutex::new(AuthState::default()),
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
        *self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn count(&self, kind: RequestKind) {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .add(kind);
    }

    /// The body of `response`, within `limit` bytes and the request timeout (see
    /// [`read_body`]).
    async fn read_body(
        &self,
        response: Response,
        limit: usize,
        what: &'static str,
        url: &Url,
    ) -> Result<Vec<u8>, RegistryError> {
        read_body(response, limit, what, url, self.options.request_timeout).await
    }

    /// Whether a URL the registry pointed to (a redirect, the token service) may be contacted:
    /// https always, plain http only when the endpoint is marked insecure. (Every request
    /// starts on the endpoint, which is only http when insecure, so an http hop never needs
    /// more.)
    fn may_contact(&self, url: &Url) -> bool {
        match url.scheme() {
            "https" => true,
            "http" => self.insecure,
            _ => false,
        }
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
        self.base
            .join(&format!("v2/{repository}/{rest}"))
            .map_err(|e| RegistryError::InvalidEndpoint {
                host: self.host.clone(),
                endpoint: self.base.to_string(),
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
            let response = self
                .send(
                    RequestKind::TagList,
                    Method::GET,
                    &url,
                    "application/json",
                    repository,
                )
                .await?;
            let response = expect_ok(response, &url)?;
            let next = next_link(response.headers());
            let body = self
                .read_body(
                    response,
                    self.options.tag_page_size_limit,
                    "tag list page",
                    &url,
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
            if !same_origin(&next_url, &self.base) {
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
        let response = self
            .send(
                RequestKind::ManifestGet,
                Method::GET,
                &url,
                MANIFEST_ACCEPT,
                repository,
            )
            .await?;
        let response = expect_ok(response, &url)?;
        let announced = content_digest(response.headers(), &url)?;
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = self
            .read_body(response, self.options.manifest_size_limit, "manifest", &url)
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
        let response = self
            .send(RequestKind::Blob, Method::GET, &url, "*/*", repository)
            .await?;
        let response = expect_ok(response, &url)?;
        let bytes = self
            .read_body(response, self.options.blob_size_limit, "blob", &url)
            .await?;
        check_digest(&url, digest, &Digest::of_bytes(&bytes))?;
        Ok(bytes)
    }

    /// Sends one API request: authenticates on a 401 challenge (once), retries 429 and 503
    /// within the configured bounds, and follows redirects.
    async fn send(
        &self,
        kind: RequestKind,
        method: Method,
        url: &Url,
        accept: &str,
        repository: &str,
    ) -> Result<Response, RegistryError> {
        let scope = format!("repository:{}:pull", self.api_repository(repository));
        let mut probe = self.probed.lock().await;
        if *probe {
            drop(probe);
        } else {
            // This is the host's first request: hold the others until it is answered.
            *probe = true;
        }
        let mut challenged = false;
        let mut budget = RetryBudget::default();
        loop {
            let authorization = self.authorization_for(&scope, url).await?;
            let response = self
                .send_following_redirects(kind, &method, url, accept, authorization.as_deref())
                .await?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED {
                if challenged {
                    return Err(RegistryError::Unauthorized {
                        url: url.to_string(),
                        challenge: self.refused_after_authenticating(),
                    });
                }
                challenged = true;
                self.accept_challenge(response.headers(), url, &scope)
                    .await?;
                continue;
            }
            if is_retryable(status) {
                let wait = budget.next_wait(&response, url, &self.options)?;
                tracing::debug!(registry = %self.host, %status, ?wait, "retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            return Ok(response);
        }
    }

    /// Why the registry still answers 401 after the challenge was met, and where credentials
    /// for this host go: private repositories give anonymous callers a token without access.
    fn refused_after_authenticating(&self) -> String {
        let variable = env_var_name(&self.host);
        match &self.credentials {
            None => format!(
                "anonymous pull was refused; set `{variable}` to user:password, or add {host} \
                 to the Docker config.json",
                host = self.host
            ),
            Some(_) => format!(
                "the configured credentials do not grant pull access; check `{variable}` or the \
                 Docker config.json entry for {host}",
                host = self.host
            ),
        }
    }

    /// The `Authorization` value for a request in `scope`, fetching the scope's token first
    /// when the host is already known to want one (saving a 401 round trip per repository).
    async fn authorization_for(
        &self,
        scope: &str,
        url: &Url,
    ) -> Result<Option<String>, RegistryError> {
        if let Some(Credentials::Token(token)) = &self.credentials {
            return Ok(Some(format!("Bearer {token}")));
        }
        let mut auth = self.auth.lock().await;
        if let Some(token) = auth.tokens.get(scope) {
            return Ok(Some(format!("Bearer {token}")));
        }
        if let Some(service) = auth.token_service.clone() {
            let token = self.fetch_token(&service, scope, url).await?;
            auth.tokens.insert(scope.to_owned(), token.clone());
            return Ok(Some(format!("Bearer {token}")));
        }
        if auth.basic
            && let Some(Credentials::UserPassword { user, password }) = &self.credentials
        {
            return Ok(Some(basic_authorization(user, password)));
        }
        Ok(None)
    }

    /// Records what a 401 challenge asks for, so the next attempt can authenticate.
    async fn accept_challenge(
        &self,
        headers: &HeaderMap,
        url: &Url,
        scope: &str,
    ) -> Result<(), RegistryError> {
        let header = headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let unauthorized = |challenge: String| RegistryError::Unauthorized {
            url: url.to_string(),
            challenge,
        };
        let mut auth = self.auth.lock().await;
        // A token the registry just refused is not offered again.
        auth.tokens.remove(scope);
        match Challenge::parse(header) {
            Some(Challenge::Bearer { realm, service }) => {
                if matches!(self.credentials, Some(Credentials::Token(_))) {
                    return Err(unauthorized(format!(
                        "the token in `{}` was refused",
                        env_var_name(&self.host)
                    )));
                }
                auth.token_service = Some(TokenService { realm, service });
                Ok(())
            }
            Some(Challenge::Basic) => match &self.credentials {
                Some(Credentials::UserPassword { .. }) if !auth.basic => {
                    auth.basic = true;
                    Ok(())
                }
                _ => Err(unauthorized(format!(
                    "Basic authentication needed; set `{}` to user:password",
                    env_var_name(&self.host)
                ))),
            },
            None => Err(unauthorized(if header.is_empty() {
                "401 without a WWW-Authenticate challenge".to_owned()
            } else {
                format!("unsupported challenge `{}`", shorten(header))
            })),
        }
    }

    /// Asks the token service for a pull token for `scope`.
    async fn fetch_token(
        &self,
        service: &TokenService,
        scope: &str,
        url: &Url,
    ) -> Result<String, RegistryError> {
        let mut realm = Url::parse(&service.realm).map_err(|_| RegistryError::Malformed {
            url: url.to_string(),
            what: "WWW-Authenticate realm",
            reason: format!("`{}` is not a URL", shorten(&service.realm)),
        })?;
        if !self.may_contact(&realm) {
            return Err(RegistryError::UnsafeLink {
                url: url.to_string(),
                target: service.realm.clone(),
                reason: "the token service is not https and the endpoint is not marked insecure",
            });
        }
        let realm_display = realm.to_string();
        {
            let mut query = realm.query_pairs_mut();
            if let Some(name) = &service.service {
                query.append_pair("service", name);
            }
            query.append_pair("scope", scope);
        }
        let basic = match &self.credentials {
            Some(Credentials::UserPassword { user, password }) => {
                Some(basic_authorization(user, password))
            }
            _ => None,
        };
        let who = if basic.is_some() {
            "the configured credentials"
        } else {
            "anonymous access"
        };
        // Token services rate-limit too (Docker Hub's does): retried like the API.
        let mut budget = RetryBudget::default();
        let response = loop {
            let mut request = self
                .http
                .get(realm.clone())
                .timeout(self.options.request_timeout);
            if let Some(value) = &basic {
                request = request.header(header::AUTHORIZATION, value);
            }
            self.count(RequestKind::Token);
            let response = request
                .send()
                .await
                .map_err(|e| transport_error(&realm, &e, self.options.request_timeout))?;
            if !is_retryable(response.status()) {
                break response;
            }
            let wait = budget.next_wait(&response, &realm, &self.options)?;
            tracing::debug!(registry = %self.host, status = %response.status(), ?wait, "retrying the token request");
            tokio::time::sleep(wait).await;
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::BadCredentials {
                realm: realm_display,
                host: self.host.clone(),
                who,
                status: status.as_u16(),
                env_var: env_var_name(&self.host),
            });
        }
        let response = expect_ok(response, &realm)?;
        let body = self
            .read_body(response, 64 << 10, "token response", &realm)
            .await?;
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| RegistryError::Malformed {
                url: realm_display.clone(),
                what: "token response",
                reason: e.to_string(),
            })?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Malformed {
                url: realm_display,
                what: "token response",
                reason: "no `token` or `access_token` field".to_owned(),
            })
    }

    /// Sends one request and follows redirects ourselves: `Authorization` goes only to the
    /// endpoint's own origin (scheme, host and port), never to a host it redirects to, and an
    /// https request is never redirected to plain http unless the endpoint is insecure.
    async fn send_following_redirects(
        &self,
        kind: RequestKind,
        method: &Method,
        url: &Url,
        accept: &str,
        authorization: Option<&str>,
    ) -> Result<Response, RegistryError> {
        let mut current = url.clone();
        for _ in 0..=self.options.max_redirects {
            let mut request = self
                .http
                .request(method.clone(), current.clone())
                .timeout(self.options.request_timeout)
                .header(header::ACCEPT, accept);
            if let Some(value) = authorization
                && same_origin(&current, &self.base)
            {
                request = request.header(header::AUTHORIZATION, value);
            }
            let response = request.send().await;
            let counted_as = match &response {
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED => RequestKind::Challenge,
                _ => kind,
            };
            self.count(counted_as);
            let response = response
                .map_err(|e| transport_error(&current, &e, self.options.request_timeout))?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let Some(location) = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Ok(response);
            };
            let next = current
                .join(location)
                .map_err(|_| RegistryError::Malformed {
                    url: current.to_string(),
                    what: "redirect Location",
                    reason: format!("`{}` is not a URL", shorten(location)),
                })?;
            if !self.may_contact(&next) {
                return Err(RegistryError::UnsafeLink {
                    url: current.to_string(),
                    target: next.to_string(),
                    reason: "redirect away from https (or to a non-http scheme)",
                });
            }
            current = next;
        }
        Err(RegistryError::TooManyRedirects {
            url: url.to_string(),
            limit: self.options.max_redirects,
        })
    }
}

#[derive(serde::Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

fn basic_authorization(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
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

fn expect_ok(response: Response, url: &Url) -> Result<Response, RegistryError> {
    match response.status() {
        StatusCode::OK => Ok(response),
        StatusCode::NOT_FOUND => Err(RegistryError::NotFound {
            url: url.to_string(),
        }),
        status => Err(RegistryError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        }),
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

/// Reads a body up to `limit` bytes; refuses more, and reports a body that breaks off or is
/// shorter than its `Content-Length`.
async fn read_body(
    mut response: Response,
    limit: usize,
    what: &'static str,
    url: &Url,
    timeout: Duration,
) -> Result<Vec<u8>, RegistryError> {
    let announced = response.content_length();
    let too_large = || RegistryError::TooLarge {
        url: url.to_string(),
        what,
        limit,
    };
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) if e.is_timeout() => {
                return Err(RegistryError::Timeout {
                    url: url.to_string(),
                    seconds: timeout.as_secs_f64(),
                });
            }
            Err(_) => {
                return Err(RegistryError::Truncated {
                    url: url.to_string(),
                    received: body.len(),
                    expected: announced,
                });
            }
        }
    }
    if announced.is_some_and(|n| n != body.len() as u64) {
        return Err(RegistryError::Truncated {
            url: url.to_string(),
            received: body.len(),
            expected: announced,
        });
    }
    Ok(body)
}

fn transport_error(url: &Url, error: &reqwest::Error, timeout: Duration) -> RegistryError {
    if error.is_timeout() {
        return RegistryError::Timeout {
            url: url.to_string(),
            seconds: timeout.as_secs_f64(),
        };
    }
    // reqwest's own message repeats the URL; the causes below it say what happened.
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        causes.push(inner.to_string());
        source = inner.source();
    }
    let cause = if causes.is_empty() {
        error.to_string()
    } else {
        causes.join(": ")
    };
    RegistryError::Transport {
        url: url.to_string(),
        cause,
    }
}

/// 429 and 503 are worth retrying after a wait; other failures are not.
fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
}

/// The retries one request has spent: attempts and time waited, bounded by the options.
#[derive(Default)]
struct RetryBudget {
    attempts: u32,
    waited: Duration,
}

impl RetryBudget {
    /// How long to wait before retrying after `response` (429 or 503), or the error once the
    /// attempts or the total wait would run over their bounds.
    fn next_wait(
        &mut self,
        response: &Response,
        url: &Url,
        options: &ClientOptions,
    ) -> Result<Duration, RegistryError> {
        self.attempts += 1;
        let wait = retry_wait(response.headers(), self.attempts, SystemTime::now())
            .min(options.retry_wait_cap);
        if self.attempts >= options.max_attempts.max(1)
            || self.waited + wait > options.max_total_retry_wait
        {
            return Err(RegistryError::RetriesExhausted {
                url: url.to_string(),
                status: response.status().as_u16(),
                attempts: self.attempts,
            });
        }
        self.waited += wait;
        Ok(wait)
    }
}

/// How long to wait before retry number `attempt` (1-based): `Retry-After` in seconds or as
/// an HTTP date, else exponential from one second.
pub fn retry_wait(headers: &HeaderMap, attempt: u32, now: SystemTime) -> Duration {
    let from_header = headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    from_header.unwrap_or_else(|| Duration::from_secs(1 << attempt.saturating_sub(1).min(6)))
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date (a date in the past means no
/// wait).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
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

/// Text from a registry, cut short and escaped for an error message.
fn shorten(text: &str) -> String {
    text.escape_debug().take(120).collect()
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
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(20));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(20))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(20));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retry_without_header_backs_off_exponentially() {
        let now = SystemTime::now();
        let waits: Vec<u64> = (1..=4)
            .map(|n| retry_wait(&HeaderMap::new(), n, now).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8]);
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
