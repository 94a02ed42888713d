//! Why a registry request failed. Every variant names the URL (never a credential) and the
//! cause, so the caller can wrap it with the image and registry it was for.

use bundle_gen::Digest;

/// A failed registry request or an unusable registry answer.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The endpoint for a registry host is not a usable base URL.
    #[error("registry endpoint `{endpoint}` for {host} is not usable: {reason}")]
    InvalidEndpoint {
        /// The registry host as written in `bundle.yaml`.
        host: String,
        /// The configured endpoint.
        endpoint: String,
        /// What is wrong with it and how to fix it.
        reason: String,
    },
    /// The repository name would not be a safe URL path.
    #[error(
        "`{repository}` is not a repository name: use lowercase path components of letters, \
         digits and `._-` separated by `/`"
    )]
    InvalidRepository {
        /// The rejected name (shortened).
        repository: String,
    },
    /// No answer within the configured timeout.
    #[error("{url}: no complete answer within {seconds:.1} s (timed out)")]
    Timeout {
        /// The request URL.
        url: String,
        /// The timeout that expired.
        seconds: f64,
    },
    /// The connection failed or broke before a response arrived.
    #[error("{url}: request failed: {cause}")]
    Transport {
        /// The request URL.
        url: String,
        /// The transport error.
        cause: String,
        /// What kind of failure it was: whether it is worth retrying.
        failure: TransportFailure,
    },
    /// The response body ended early or broke off.
    #[error("{url}: response body cut off after {received} bytes{}", expected_suffix(*.expected))]
    Truncated {
        /// The request URL.
        url: String,
        /// Bytes received.
        received: usize,
        /// Bytes announced by `Content-Length`, if any.
        expected: Option<u64>,
    },
    /// The response body is larger than the limit for its kind.
    #[error("{url}: response larger than the {limit}-byte limit for a {what}; refusing to read it")]
    TooLarge {
        /// The request URL.
        url: String,
        /// What was being read (manifest, tag list page, ...).
        what: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// The registry answered with an unexpected status.
    #[error("{url}: registry answered HTTP {status}")]
    Status {
        /// The request URL.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// A manifest or blob the registry should have is missing.
    #[error("{url}: not found (HTTP 404)")]
    NotFound {
        /// The request URL.
        url: String,
    },
    /// A retryable status (408, 429, 500, 502, 503, 504) kept coming back.
    #[error(
        "{url}: registry still answered HTTP {status} after {attempts} attempts \
         (rate limited, unavailable or failing; try again later)"
    )]
    RetriesExhausted {
        /// The request URL.
        url: String,
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// A transient failure (connect, reset, timeout) kept coming back until the retry budget
    /// ran out.
    #[error("{cause} (still failing after {attempts} attempts; try again later)")]
    FaultPersisted {
        /// Attempts made.
        attempts: u32,
        /// The last attempt's failure.
        cause: Box<RegistryError>,
    },
    /// The token service refused the credentials (or anonymous access).
    #[error(
        "token service {realm} refused {who} with HTTP {status}: check `{env_var}` or the \
         Docker config.json entry for {host}"
    )]
    BadCredentials {
        /// The token service URL (without query).
        realm: String,
        /// The registry host.
        host: String,
        /// `anonymous access` or `the configured credentials`.
        who: &'static str,
        /// The HTTP status.
        status: u16,
        /// The environment variable that would hold credentials for the host.
        env_var: String,
    },
    /// The registry asked for authentication that cannot be given.
    #[error("{url}: registry requires authentication that was not accepted ({challenge})")]
    Unauthorized {
        /// The request URL.
        url: String,
        /// The challenge, or what is missing.
        challenge: String,
    },
    /// A redirect or token realm would downgrade to plain http, or a pagination link points
    /// to another host.
    #[error("{url}: refusing to follow {target}: {reason}")]
    UnsafeLink {
        /// The request URL.
        url: String,
        /// Where it pointed.
        target: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Too many redirects in a row.
    #[error("{url}: more than {limit} redirects")]
    TooManyRedirects {
        /// The request URL.
        url: String,
        /// The redirect limit.
        limit: usize,
    },
    /// The body is not what the request asked for.
    #[error("{url}: malformed {what}: {reason}")]
    Malformed {
        /// The request URL.
        url: String,
        /// What was being parsed.
        what: &'static str,
        /// The parse error.
        reason: String,
    },
    /// The bytes received do not hash to the digest they were fetched by or announced as.
    #[error(
        "{url}: digest mismatch: expected {expected}, the bytes received hash to {actual}; \
         refusing to pin unverified content"
    )]
    DigestMismatch {
        /// The request URL.
        url: String,
        /// The digest requested or announced in `Docker-Content-Digest`.
        expected: String,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// The tag list is longer than the configured limits.
    #[error("{url}: tag list exceeds the limit of {limit} {unit}; refusing to read more")]
    TagListTooLong {
        /// The URL of the page that crossed the limit.
        url: String,
        /// The limit.
        limit: usize,
        /// `pages` or `tags`.
        unit: &'static str,
    },
}

/// What kind of transport failure a [`RegistryError::Transport`] was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// The connection could not be made (refused, unreachable, name not resolved).
    Connect,
    /// The connection was reset, or closed before the answer was complete.
    Reset,
    /// Anything else (TLS, a malformed answer): not retried.
    Other,
}

fn expected_suffix(expected: Option<u64>) -> String {
    expected.map_or_else(String::new, |n| format!(" of {n} announced"))
}

/// Text from a registry, cut short and escaped for an error message.
pub(super) fn shorten(text: &str) -> String {
    text.escape_debug().take(120).collect()
}
