//! A small registry on 127.0.0.1:0 that does what a real one will not do on demand: one
//! [`Fault`] switch per server. It speaks just enough of the distribution API for the
//! `bare-multiarch` policy (token challenge, tag list, manifests) and records every request
//! it receives, so tests can check where credentials went. Where nothing is faulty, tests use
//! registry-fixture's real registry instead; a behaving server here is only ever the other end
//! of a fault (the storage host a redirect leads to, the token service a reset proxy fronts).
//! `test_fixture::ResetProxy` stands in front of it to reset a connection, which an HTTP
//! server framework does not do on demand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use bundle_gen::Digest;

/// The repository the fault tests ask for. The server holds the same content under every
/// repository name, so several images can share one server.
pub const REPOSITORY: &str = "matrix-construct/tuwunel";
/// The token the server's token endpoint issues and its API accepts.
const TOKEN: &str = "fixture-token";

/// What the server does wrong. Faults hit manifest requests for [`Registry::NEWEST`] unless
/// the variant says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Behaves: the other end of a fault.
    None,
    /// Every manifest request answers 429 with `Retry-After: 1`.
    RateLimited,
    /// The first manifest request answers 429 with `Retry-After: 1`, later ones behave.
    RateLimitedOnce,
    /// Manifest GET answers 500.
    ServerError,
    /// The first manifest GET answers with this status, later ones behave.
    FailOnce(u16),
    /// The first manifest GET sends headers and part of the body, then nothing; later ones
    /// behave.
    StalledBodyOnce,
    /// The first manifest GET breaks off after half its body; later ones behave.
    TruncatedBodyOnce,
    /// Every manifest request answers 503.
    Unavailable,
    /// Manifest GET sends headers and part of the body, then nothing.
    StalledBody,
    /// Manifest GET announces more bytes than it sends.
    TruncatedBody,
    /// Manifest GET announces a `Docker-Content-Digest` the bytes do not hash to.
    WrongDigest,
    /// Manifest GET redirects to another server (the given base URL).
    RedirectTo(String),
    /// Manifest GET streams 5 MiB without a `Content-Length`.
    OversizedManifest,
    /// Manifest GET returns text that is not a manifest.
    MalformedManifest,
    /// The tag list also holds hostile names (path separators, newlines, 10 kB long).
    HostileTags,
    /// The tag list holds only hostile names.
    OnlyHostileTags,
    /// The first token request answers 429 with `Retry-After: 1`, later ones behave.
    TokenRateLimitedOnce,
    /// Every token request answers 503.
    TokenUnavailable,
    /// The first token request answers with this status, later ones behave.
    TokenFailOnce(u16),
    /// The challenge names the token service at the given base URL (a `ResetProxy` in front
    /// of this server) instead of this server itself.
    TokenServiceAt(String),
    /// The 401 challenge offers Basic first, then Bearer, in one `WWW-Authenticate` header.
    BasicThenBearerChallenge,
    /// The 401 challenge offers Basic only.
    BasicChallengeOnly,
    /// The first tag page links to the given absolute URL on another host.
    LinkTo(String),
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

struct State {
    fault: Fault,
    base: String,
    tags: Vec<String>,
    manifests: BTreeMap<String, Vec<u8>>,
    seen: Mutex<Vec<Seen>>,
    require_token: bool,
}

/// A running fault server; stops when dropped.
pub struct Registry {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn index(annotation: &str) -> Vec<u8> {
    let entry = |n: u8, arch: &str| {
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{}", format!("{n:02x}").repeat(32)),
            "size": 500,
            "platform": {"os": "linux", "architecture": arch},
        })
    };
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry(1, "amd64"), entry(2, "arm64")],
        "annotations": {"org.opencontainers.image.version": annotation},
    }))
    .unwrap()
}

impl Registry {
    /// The older release, a multi-arch index.
    pub const OLDER: &str = "v1.0.0";
    /// The newest release, a multi-arch index.
    pub const NEWEST: &str = "v1.1.0";

    /// Starts a server with token auth and the given fault.
    pub async fn start(fault: Fault) -> Self {
        Self::start_with(fault, true).await
    }

    /// Starts a server; `require_token: false` serves without auth.
    pub async fn start_with(fault: Fault, require_token: bool) -> Self {
        let mut tags = Self::release_tags();
        let hostile = [
            "../../../etc/passwd".to_owned(),
            "v9.9.9/../../x".to_owned(),
            "v9.9.9\nInjected: header".to_owned(),
            format!("v9.9.9{}", "9".repeat(10_000)),
        ]
        .map(|name| (name, index("hostile")));
        match fault {
            Fault::HostileTags => tags.extend(hostile),
            Fault::OnlyHostileTags => tags = hostile.to_vec(),
            _ => {}
        }
        Self::serve(fault, require_token, tags).await
    }

    fn release_tags() -> Vec<(String, Vec<u8>)> {
        vec![
            ("latest".to_owned(), index(Self::NEWEST)),
            ("main".to_owned(), index(Self::NEWEST)),
            (Self::OLDER.to_owned(), index(Self::OLDER)),
            ("v1.1.0-rc1".to_owned(), index(Self::NEWEST)),
            (Self::NEWEST.to_owned(), index(Self::NEWEST)),
        ]
    }

    /// Serves `tags` (in list order, each with the bytes of its manifest).
    async fn serve(fault: Fault, require_token: bool, tags: Vec<(String, Vec<u8>)>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut manifests = BTreeMap::new();
        for (tag, bytes) in &tags {
            manifests.insert(Digest::of_bytes(bytes).to_string(), bytes.clone());
            manifests.insert(tag.clone(), bytes.clone());
        }
        let state = Arc::new(State {
            fault,
            base: base.clone(),
            tags: tags.into_iter().map(|(tag, _)| tag).collect(),
            manifests,
            seen: Mutex::new(Vec::new()),
            require_token,
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, state, task }
    }

    /// The digest of the release index [`Registry::start`] serves for `tag`.
    pub fn digest(&self, tag: &str) -> Digest {
        Digest::of_bytes(&index(tag))
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// How many requests received so far had `method` and a path (with query) that
    /// `path` accepts.
    pub fn received(&self, method: &Method, path: impl Fn(&str) -> bool) -> u32 {
        let count = self
            .seen()
            .iter()
            .filter(|seen| seen.method == method && path(&seen.path))
            .count();
        u32::try_from(count).unwrap()
    }
}

async fn handle(
    axum::extract::State(state): axum::extract::State<Arc<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("<binary>").to_owned());
    let path = uri.path_and_query().map_or("", |p| p.as_str()).to_owned();
    let (manifest_requests_before, same_requests_before) = {
        let mut seen = state.seen.lock().unwrap();
        let before = seen
            .iter()
            .filter(|s| s.path.contains("/manifests/"))
            .count();
        let same = seen
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count();
        seen.push(Seen {
            method: method.clone(),
            path: path.clone(),
            authorization: authorization.clone(),
        });
        (before, same)
    };
    let first_time = same_requests_before == 0;
    if uri.path() == "/token" {
        let earlier_tokens = state
            .seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.starts_with("/token"))
            .count()
            - 1;
        match &state.fault {
            Fault::TokenRateLimitedOnce if earlier_tokens == 0 => {
                return rate_limited(StatusCode::TOO_MANY_REQUESTS);
            }
            Fault::TokenUnavailable => return status(StatusCode::SERVICE_UNAVAILABLE),
            Fault::TokenFailOnce(code) if earlier_tokens == 0 => {
                return status(StatusCode::from_u16(*code).unwrap());
            }
            _ => {}
        }
        return json(serde_json::json!({"token": TOKEN}));
    }
    let Some((repository, rest)) = uri.path().strip_prefix("/v2/").and_then(split_api_path) else {
        return status(StatusCode::NOT_FOUND);
    };
    if state.require_token && authorization.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        let token_service = match &state.fault {
            Fault::TokenServiceAt(base) => base,
            _ => &state.base,
        };
        let bearer = format!(
            r#"Bearer realm="{token_service}/token",service="fixture",scope="repository:{repository}:pull""#,
        );
        let challenge = match state.fault {
            Fault::BasicThenBearerChallenge => format!(r#"Basic realm="fault-server", {bearer}"#),
            Fault::BasicChallengeOnly => r#"Basic realm="fault-server""#.to_owned(),
            _ => bearer,
        };
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, challenge)
            .body(Body::empty())
            .unwrap();
    }
    if rest == "tags/list" {
        return tag_page(&state, repository);
    }
    let Some(reference) = rest.strip_prefix("manifests/") else {
        return status(StatusCode::NOT_FOUND);
    };
    let Some(bytes) = state.manifests.get(reference).cloned() else {
        return status(StatusCode::NOT_FOUND);
    };
    let digest = Digest::of_bytes(&bytes).to_string();
    let is_newest = state.manifests.get(Registry::NEWEST) == Some(&bytes);
    let get = method == Method::GET;
    match &state.fault {
        Fault::RateLimited | Fault::Unavailable => {
            let code = if state.fault == Fault::RateLimited {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            return rate_limited(code);
        }
        Fault::RateLimitedOnce if manifest_requests_before == 0 => {
            return rate_limited(StatusCode::TOO_MANY_REQUESTS);
        }
        Fault::ServerError if get && is_newest => return status(StatusCode::INTERNAL_SERVER_ERROR),
        Fault::FailOnce(code) if get && is_newest && first_time => {
            return status(StatusCode::from_u16(*code).unwrap());
        }
        Fault::StalledBody if get && is_newest => return stalled(&bytes, &digest),
        Fault::StalledBodyOnce if get && is_newest && first_time => {
            return stalled(&bytes, &digest);
        }
        Fault::TruncatedBody if get && is_newest => return truncated(&bytes, &digest),
        Fault::TruncatedBodyOnce if get && is_newest && first_time => {
            return truncated(&bytes, &digest);
        }
        Fault::WrongDigest if get && is_newest => {
            let other = Digest::of_bytes(b"something else").to_string();
            return manifest_response(Body::from(bytes), &other, None);
        }
        Fault::RedirectTo(target) if get && is_newest => {
            return Response::builder()
                .status(StatusCode::TEMPORARY_REDIRECT)
                .header(
                    header::LOCATION,
                    format!("{target}/v2/{repository}/manifests/{digest}"),
                )
                .body(Body::empty())
                .unwrap();
        }
        Fault::OversizedManifest if get && is_newest => {
            let chunk = Bytes::from(vec![b' '; 64 << 10]);
            let stream = futures_util::stream::iter(
                (0..80).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            );
            return manifest_response(Body::from_stream(stream), &digest, None);
        }
        Fault::MalformedManifest if get && is_newest => {
            let body = b"{\"schemaVersion\": 2, \"manifests\": \"not a list\"}".to_vec();
            let digest = Digest::of_bytes(&body).to_string();
            return manifest_response(Body::from(body), &digest, None);
        }
        _ => {}
    }
    let length = bytes.len();
    let body = if get {
        Body::from(bytes)
    } else {
        Body::empty()
    };
    let mut response = manifest_response(body, &digest, Some(length));
    if let Some(media_type) =
        serde_json::from_slice::<serde_json::Value>(&state.manifests[reference])
            .ok()
            .and_then(|v| v.get("mediaType")?.as_str().map(str::to_owned))
    {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(&media_type).unwrap(),
        );
    }
    response
}

use futures_util::StreamExt as _;

/// A manifest answer that sends its headers and 10 bytes, then nothing.
fn stalled(bytes: &[u8], digest: &str) -> Response {
    let first = Bytes::copy_from_slice(&bytes[..10]);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(first) })
        .chain(futures_util::stream::pending());
    manifest_response(Body::from_stream(stream), digest, Some(bytes.len()))
}

/// A manifest answer whose connection breaks off after half the body.
fn truncated(bytes: &[u8], digest: &str) -> Response {
    let half = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
    // The headers and half the body go out first; then the connection breaks off.
    let stream = futures_util::stream::once(async move { Ok(half) }).chain(
        futures_util::stream::once(async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Err(std::io::Error::other("connection lost"))
        }),
    );
    manifest_response(Body::from_stream(stream), digest, Some(bytes.len()))
}

/// Splits `<repository>/<tags/list|manifests/..>`.
fn split_api_path(path: &str) -> Option<(&str, &str)> {
    ["/tags/list", "/manifests/"]
        .iter()
        .find_map(|marker| path.find(marker))
        .map(|at| (&path[..at], &path[at + 1..]))
}

fn tag_page(state: &State, repository: &str) -> Response {
    let (page, next): (Vec<&String>, Option<String>) = match &state.fault {
        Fault::LinkTo(target) => (
            state.tags.iter().take(2).collect(),
            Some(format!("{target}/v2/{repository}/tags/list?last=x")),
        ),
        _ => (state.tags.iter().collect(), None),
    };
    let mut response = json(serde_json::json!({"name": repository, "tags": page}));
    if let Some(next) = next {
        response.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")).unwrap(),
        );
    }
    response
}

fn manifest_response(body: Body, digest: &str, length: Option<usize>) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            "application/vnd.oci.image.index.v1+json",
        )
        .header("docker-content-digest", digest);
    if let Some(length) = length {
        builder = builder.header(header::CONTENT_LENGTH, length);
    }
    builder.body(body).unwrap()
}

/// `code` (429 or 503) with `Retry-After: 1`.
fn rate_limited(code: StatusCode) -> Response {
    Response::builder()
        .status(code)
        .header(header::RETRY_AFTER, "1")
        .body(Body::empty())
        .unwrap()
}

fn status(code: StatusCode) -> Response {
    Response::builder()
        .status(code)
        .body(Body::empty())
        .unwrap()
}

fn json(value: serde_json::Value) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&value).unwrap()))
        .unwrap()
}
