//! The HTTP side of one registry host: one request at a time with its timeouts, redirects
//! followed by hand so that credentials stay on the endpoint's origin and https is never
//! downgraded, bodies read within a size cap, and every request counted.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use registry_counts::{RequestCounts, RequestKind};
use reqwest::header;
use reqwest::{Method, Response, StatusCode, Url};

use super::error::{RegistryError, TransportFailure, shorten};
use super::options::ClientOptions;
use super::retry::{RetryCounts, RetryReason};

/// The HTTP client of one registry endpoint.
#[derive(Debug)]
pub(super) struct Transport {
    http: reqwest::Client,
    /// The endpoint: the only origin `Authorization` is sent to.
    base: Url,
    /// Whether plain http may be contacted.
    insecure: bool,
    request_timeout: Duration,
    max_redirects: usize,
    counts: Mutex<RequestCounts>,
    retries: Mutex<RetryCounts>,
}

impl Transport {
    /// The transport for the endpoint `base` (already checked: https, or http when
    /// `insecure`). Redirects are never followed by `reqwest`, only by [`Transport::send`].
    pub(super) fn new(
        base: Url,
        insecure: bool,
        options: &ClientOptions,
    ) -> Result<Self, reqwest::Error> {
        // reqwest comes without a crypto provider of its own (see the workspace Cargo.toml):
        // rustls' ring one serves, unless the process installed another already (then the
        // call fails and that one serves).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("bundle-pins/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            base,
            insecure,
            request_timeout: options.request_timeout,
            max_redirects: options.max_redirects,
            counts: Mutex::new(RequestCounts::default()),
            retries: Mutex::new(RetryCounts::default()),
        })
    }

    /// The endpoint, ending in `/`.
    pub(super) fn base(&self) -> &Url {
        &self.base
    }

    /// Requests sent so far, by kind.
    pub(super) fn counts(&self) -> RequestCounts {
        *self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Retries so far, by reason.
    pub(super) fn retries(&self) -> RetryCounts {
        *self
            .retries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one retry.
    pub(super) fn count_retry(&self, reason: RetryReason) {
        self.retries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record(reason);
    }

    /// Counts a request sent, with the status it was answered with (`None`: no answer).
    fn count(&self, kind: RequestKind, status: Option<StatusCode>) {
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .record(kind, status.map(|status| status.as_u16()));
    }

    /// Whether a URL the registry pointed to (a redirect, the token service) may be contacted:
    /// https always, plain http only when the endpoint is marked insecure. (Every request
    /// starts on the endpoint, which is only http when insecure, so an http hop never needs
    /// more.)
    pub(super) fn may_contact(&self, url: &Url) -> bool {
        match url.scheme() {
            "https" => true,
            "http" => self.insecure,
            _ => false,
        }
    }

    /// Whether `url` is on the endpoint's origin (scheme, host and port).
    pub(super) fn is_on_endpoint(&self, url: &Url) -> bool {
        same_origin(url, &self.base)
    }

    /// Sends one request and follows redirects ourselves: `Authorization` goes only to the
    /// endpoint's own origin (scheme, host and port), never to a host it redirects to, and an
    /// https request is never redirected to plain http unless the endpoint is insecure.
    pub(super) async fn send(
        &self,
        kind: RequestKind,
        method: &Method,
        url: &Url,
        accept: &str,
        authorization: Option<&str>,
    ) -> Result<Response, RegistryError> {
        let mut current = url.clone();
        for _ in 0..=self.max_redirects {
            let mut request = self
                .http
                .request(method.clone(), current.clone())
                .timeout(self.request_timeout)
                .header(header::ACCEPT, accept);
            if let Some(value) = authorization
                && same_origin(&current, &self.base)
            {
                request = request.header(header::AUTHORIZATION, value);
            }
            let response = request.send().await;
            self.count(kind, response.as_ref().ok().map(Response::status));
            let response =
                response.map_err(|e| transport_error(&current, &e, self.request_timeout))?;
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
            limit: self.max_redirects,
        })
    }

    /// Sends one token request to `realm` (redirects are not followed), with `authorization`
    /// if given: the token service is named by the registry's challenge, not by a redirect.
    pub(super) async fn send_token_request(
        &self,
        realm: &Url,
        authorization: Option<&str>,
    ) -> Result<Response, RegistryError> {
        let mut request = self.http.get(realm.clone()).timeout(self.request_timeout);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = request.send().await;
        self.count(
            RequestKind::Token,
            response.as_ref().ok().map(Response::status),
        );
        response.map_err(|e| transport_error(realm, &e, self.request_timeout))
    }

    /// The body of `response`, within `limit` bytes and the request timeout.
    pub(super) async fn read_body(
        &self,
        response: Response,
        limit: usize,
        what: &'static str,
        url: &Url,
    ) -> Result<Vec<u8>, RegistryError> {
        read_body(response, limit, what, url, self.request_timeout).await
    }
}

/// The response if it is 200 OK, else the error for its status.
pub(super) fn expect_ok(response: Response, url: &Url) -> Result<Response, RegistryError> {
    match response.status() {
        StatusCode::OK => Ok(response),
        status => Err(status_error(status, url)),
    }
}

/// The error for an answer that is not 200 OK.
pub(super) fn status_error(status: StatusCode, url: &Url) -> RegistryError {
    match status {
        StatusCode::NOT_FOUND => RegistryError::NotFound {
            url: url.to_string(),
        },
        status => RegistryError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        },
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
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
        failure: transport_failure(error),
    }
}

/// Whether a request failed to connect, was cut off by the peer, or failed otherwise.
fn transport_failure(error: &reqwest::Error) -> TransportFailure {
    if error.is_connect() {
        return TransportFailure::Connect;
    }
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<io::Error>()
            && is_cut_off(io.kind())
        {
            return TransportFailure::Reset;
        }
        if inner
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return TransportFailure::Reset;
        }
        source = inner.source();
    }
    TransportFailure::Other
}

/// Whether an I/O error means the peer dropped the connection.
fn is_cut_off(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}
