//! The limits and timeouts of the registry client, in one place for the API, the transport and
//! the retries.

use std::time::Duration;

/// Limits and timeouts of the registry client. [`ClientOptions::default`] suits real
/// registries; tests shorten the timeout and the retry waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Time allowed for one request, from connecting until the whole body is read.
    pub request_timeout: Duration,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Attempts per request while it meets transient failures (HTTP 408, 429, 500, 502, 503,
    /// 504, connect, reset, timeout); at least 1.
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
    /// How many of the newest `latest-ci_<time>` main builds the commit policy reads (three
    /// requests each) to order commits by their first main build, when the newest build is
    /// not the pinned one. A re-run of a build older than this many main builds is taken for
    /// a new commit.
    pub commit_history: usize,
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
            commit_history: 5,
            max_bare_candidates: 10,
        }
    }
}
