//! The HTTP server clients talk to: the token endpoint, a paginating tag list, and a proxy for
//! everything else to the real registry. Every request is recorded as it arrived.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use registry_counts::RequestKind;
use serde::Deserialize;

use crate::Error;
use crate::counts::classify;
use crate::keys::TokenSigner;
use crate::received::{ReceivedRequest, authorization_headers};
use crate::token::{AccessRules, Caller, RepositoryScope, parse_repository_scope};

/// The `service` (token audience) the registry expects.
pub(crate) const SERVICE: &str = "registry-fixture";
/// The token issuer the registry expects.
pub(crate) const ISSUER: &str = "registry-fixture-token-server";
/// How long issued tokens stay valid.
const TOKEN_LIFETIME_SECONDS: u64 = 300;
/// Tag-list page size when the request has no `n`, as on ghcr.io.
const DEFAULT_PAGE_SIZE: usize = 100;
/// Largest request or upstream body the front buffers.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// State shared by the front's handlers and the harness.
pub(crate) struct FrontState {
    pub(crate) signer: TokenSigner,
    pub(crate) registry_url: String,
    pub(crate) http: reqwest::Client,
    pub(crate) page_size_cap: AtomicUsize,
    rules: Mutex<AccessRules>,
    received: Mutex<Vec<ReceivedRequest>>,
    next_token_id: AtomicU64,
}

impl FrontState {
    pub(crate) fn new(
        signer: TokenSigner,
        rules: AccessRules,
        registry_url: String,
        http: reqwest::Client,
    ) -> Self {
        Self {
            signer,
            registry_url,
            http,
            page_size_cap: AtomicUsize::new(usize::MAX),
            rules: Mutex::new(rules),
            received: Mutex::new(Vec::new()),
            next_token_id: AtomicU64::new(1),
        }
    }

    pub(crate) fn rules(&self) -> MutexGuard<'_, AccessRules> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The requests received so far, in the order they were answered.
    pub(crate) fn received(&self) -> MutexGuard<'_, Vec<ReceivedRequest>> {
        self.received.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A signed token granting `access` (a list of distribution `ResourceActions`).
    pub(crate) fn mint_token(
        &self,
        subject: &str,
        access: serde_json::Value,
    ) -> Result<String, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or_default();
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "nbf": now.saturating_sub(10),
            "iat": now,
            "jti": self.next_token_id.fetch_add(1, Ordering::Relaxed).to_string(),
            "access": access,
        });
        self.signer.sign_jwt(&claims)
    }
}

/// The front's routes.
pub(crate) fn router(state: Arc<FrontState>) -> Router {
    Router::new()
        .route("/token", get(token))
        .fallback(registry_api)
        .with_state(state)
}

/// `GET /token?service=..&scope=repository:<name>:<actions>`: the Docker token flow.
async fn token(
    State(state): State<Arc<FrontState>>,
    Query(params): Query<Vec<(String, String)>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    // A client may repeat `scope` or put several scopes in one, separated by spaces.
    let scopes: Vec<_> = params
        .iter()
        .filter(|(key, _)| key == "scope")
        .flat_map(|(_, value)| value.split(' '))
        .filter_map(parse_repository_scope)
        .collect();
    let mut repositories: Vec<String> = scopes.iter().map(|scope| scope.name.clone()).collect();
    repositories.dedup();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let (response, issued_token) = issue_token(&state, &scopes, authorization);
    state.received().push(ReceivedRequest {
        kind: Some(RequestKind::Token),
        method,
        target: uri
            .path_and_query()
            .map_or_else(|| uri.path().to_owned(), ToString::to_string),
        repositories,
        authorization: authorization_headers(&headers),
        status: response.status().as_u16(),
        issued_token,
    });
    response
}

/// The token server's answer: a token granting what the caller may do in `scopes` (and that
/// token, for the log), or 401 for credentials it does not know.
fn issue_token(
    state: &FrontState,
    scopes: &[RepositoryScope],
    authorization: Option<&str>,
) -> (Response, Option<String>) {
    let caller = state.rules().authenticate(authorization);
    let Some(caller) = caller else {
        let refusal = (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"registry-fixture\"")],
            axum::Json(serde_json::json!({"errors": [{
                "code": "UNAUTHORIZED",
                "message": "incorrect username or password",
            }]})),
        );
        return (refusal.into_response(), None);
    };
    let access: Vec<serde_json::Value> = {
        let rules = state.rules();
        scopes
            .iter()
            .map(|scope| {
                serde_json::json!({
                    "type": "repository",
                    "name": scope.name,
                    "actions": rules.grant(&caller, scope),
                })
            })
            .collect()
    };
    let subject = match &caller {
        Caller::Anonymous => String::new(),
        Caller::Pusher => "pusher".to_owned(),
        Caller::Reader(credentials) => credentials.username.clone(),
    };
    match state.mint_token(&subject, serde_json::Value::Array(access)) {
        Ok(token) => {
            let answer = axum::Json(serde_json::json!({
                "token": token,
                "access_token": token,
                "expires_in": TOKEN_LIFETIME_SECONDS,
            }));
            (answer.into_response(), Some(token))
        }
        Err(error) => (
            (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
            None,
        ),
    }
}

/// Every `/v2/...` request: tag lists are paginated here, the rest is proxied.
async fn registry_api(State(state): State<Arc<FrontState>>, request: Request) -> Response {
    let (kind, repository) = classify(request.method(), request.uri().path());
    let method = request.method().clone();
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().path().to_owned(), ToString::to_string);
    let authorization = authorization_headers(request.headers());
    let repositories: Vec<String> = repository.iter().cloned().collect();
    let response = match (kind, repository) {
        (Some(RequestKind::TagList), Some(name)) => tags_page(&state, request, &name).await,
        _ => proxy(&state, request).await,
    };
    state.received().push(ReceivedRequest {
        kind,
        method,
        target,
        repositories,
        authorization,
        status: response.status().as_u16(),
        issued_token: None,
    });
    response
}

/// An upstream answer, buffered.
struct Upstream {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Upstream {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = without_hop_by_hop(&self.headers, false);
        response
    }
}

async fn proxy(state: &FrontState, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(body) => body,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |path_and_query| path_and_query.as_str());
    match forward(state, &parts.method, path_and_query, &parts.headers, body).await {
        Ok(upstream) => upstream.into_response(),
        Err(error) => bad_gateway(&error),
    }
}

async fn forward(
    state: &FrontState,
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Upstream, reqwest::Error> {
    let url = format!("{}{path_and_query}", state.registry_url);
    let upstream = state
        .http
        .request(method.clone(), url)
        .headers(without_hop_by_hop(headers, true))
        .body(body)
        .send()
        .await?;
    let status = upstream.status();
    let headers = upstream.headers().clone();
    let body = upstream.bytes().await?;
    Ok(Upstream {
        status,
        headers,
        body,
    })
}

fn bad_gateway(error: &reqwest::Error) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        format!("registry-fixture front: the registry did not answer: {error}"),
    )
        .into_response()
}

/// Copies headers a proxy may pass on. On requests the length is recomputed from the body;
/// on responses it is kept, since a HEAD answer has no body to recompute it from.
fn without_hop_by_hop(headers: &HeaderMap, request: bool) -> HeaderMap {
    const HOP_BY_HOP: [&str; 8] = [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    headers
        .iter()
        .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
        .filter(|(name, _)| !request || (*name != header::CONTENT_LENGTH && *name != header::HOST))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

#[derive(Deserialize)]
struct TagsQuery {
    n: Option<String>,
    last: Option<String>,
}

#[derive(Deserialize)]
struct TagList {
    name: String,
    tags: Option<Vec<String>>,
}

/// `GET /v2/<name>/tags/list?n=&last=`: sorted, paginated like distribution v3 and ghcr.io,
/// from the full (unsorted, unpaginated) list distribution 2.8 returns.
async fn tags_page(state: &FrontState, request: Request, name: &str) -> Response {
    let query = Query::<TagsQuery>::try_from_uri(request.uri())
        .map(|Query(query)| query)
        .unwrap_or(TagsQuery {
            n: None,
            last: None,
        });
    let page_size = match query.n.as_deref().map(str::parse::<usize>) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return distribution_error(
                StatusCode::BAD_REQUEST,
                "PAGINATION_NUMBER_INVALID",
                "invalid number of results requested",
            );
        }
    };
    let page_size = page_size.min(state.page_size_cap.load(Ordering::Relaxed));
    let path = format!("/v2/{name}/tags/list");
    let upstream = match forward(state, &Method::GET, &path, request.headers(), Bytes::new()).await
    {
        Ok(upstream) if upstream.status == StatusCode::OK => upstream,
        Ok(upstream) => return upstream.into_response(),
        Err(error) => return bad_gateway(&error),
    };
    let list: TagList = match serde_json::from_slice(&upstream.body) {
        Ok(list) => list,
        Err(error) => {
            return (
                StatusCode::BAD_GATEWAY,
                format!("registry-fixture front: unreadable tag list from the registry: {error}"),
            )
                .into_response();
        }
    };
    let mut tags = list.tags.unwrap_or_default();
    tags.sort();
    let after_last: Vec<String> = match &query.last {
        Some(last) => tags.into_iter().filter(|tag| tag > last).collect(),
        None => tags,
    };
    let page: Vec<&String> = after_last.iter().take(page_size).collect();
    let mut response =
        axum::Json(serde_json::json!({"name": list.name, "tags": page})).into_response();
    if let Some(version) = upstream.headers.get("docker-distribution-api-version") {
        response
            .headers_mut()
            .insert("docker-distribution-api-version", version.clone());
    }
    if let (true, Some(last_in_page)) = (after_last.len() > page.len(), page.last()) {
        let link =
            format!("</v2/{name}/tags/list?n={page_size}&last={last_in_page}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

fn distribution_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({"errors": [{"code": code, "message": message}]})),
    )
        .into_response()
}
