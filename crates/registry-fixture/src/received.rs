//! What arrived at the front, request by request: what each asked for, the `Authorization`
//! headers it carried and how it was answered. Tests read this log to check where credentials
//! and tokens went; the counters ([`crate::Counts`]) are a summary of it.

use axum::http::{HeaderMap, Method, header};
use registry_counts::RequestKind;

/// One request as it reached the front, before any proxying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// What it asked for, in the client's vocabulary; `None` for requests outside it (the
    /// `/v2/` ping, uploads, blob HEADs, unknown paths).
    pub kind: Option<RequestKind>,
    /// The request method.
    pub method: Method,
    /// The path and query, as sent.
    pub target: String,
    /// The repositories it is about: a token request's scopes, an API request's repository;
    /// none for the ping.
    pub repositories: Vec<String>,
    /// Every `Authorization` header it carried, in order, duplicates kept (bytes that are not
    /// UTF-8 are replaced, so a malformed header still shows).
    pub authorization: Vec<String>,
    /// The status the front answered with.
    pub status: u16,
    /// The token the token server issued in its answer, for a token request it granted.
    pub issued_token: Option<String>,
}

impl ReceivedRequest {
    /// Whether it asked the token server for a token.
    pub fn is_token_request(&self) -> bool {
        self.kind == Some(RequestKind::Token)
    }

    /// Whether it carried exactly this one `Authorization` header.
    pub fn authorized_as(&self, value: &str) -> bool {
        self.authorization == [value]
    }
}

/// Every `Authorization` header of `headers`, in order.
pub(crate) fn authorization_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect()
}
