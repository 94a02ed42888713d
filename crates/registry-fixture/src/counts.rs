//! What the front counted, per repository, so tests can assert how many requests a client
//! made: a summary of its log of what arrived ([`crate::ReceivedRequest`]). Requests are counted in the client's own vocabulary and by its rule
//! ([`RequestCounts`], from `registry-counts`), so a test compares what the client reports with
//! what the registry saw as whole values. Two things only the server sees come on top: token
//! requests that carried credentials, and requests that vocabulary has no kind for.

use std::collections::BTreeMap;

use registry_counts::{RequestCounts, RequestKind};

use crate::received::ReceivedRequest;

/// What the front counted, for one repository or in total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerCounts {
    /// The requests of the client's vocabulary, counted by its rule: an API request answered
    /// 401 is a `challenge`, not its kind.
    pub requests: RequestCounts,
    /// Token requests that carried credentials (HTTP Basic).
    pub token_with_credentials: u32,
    /// Requests outside that vocabulary: the `/v2/` ping, uploads and pushes, blob HEADs,
    /// unknown paths. A client that only reads images sends none.
    pub other: u32,
}

impl ServerCounts {
    /// Every request counted, of all kinds.
    pub fn total(&self) -> u32 {
        self.requests.total() + self.other
    }
}

/// A snapshot of the counters: per repository, and in total.
///
/// A token request names its repository through its `scope`; one that names several counts
/// for each of them but once in [`Counts::total`]. Requests about no repository (the `/v2/`
/// ping, a token without scope) count only in the total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Counts per repository name (e.g. `element-hq/lk-jwt-service`).
    pub by_repository: BTreeMap<String, ServerCounts>,
    /// Counts of every request.
    pub total: ServerCounts,
}

impl Counts {
    /// The counts of one repository (all zero if it saw no request).
    pub fn repository(&self, name: &str) -> ServerCounts {
        self.by_repository.get(name).copied().unwrap_or_default()
    }

    /// The counts of `requests`, the front's log of what arrived.
    pub fn of(requests: &[ReceivedRequest]) -> Self {
        let mut counts = Self::default();
        for request in requests {
            counts.record(request);
        }
        counts
    }

    /// Counts one request: under its kind (`None`: outside the vocabulary) by the status it
    /// was answered with, and a token request that carried credentials once more.
    fn record(&mut self, request: &ReceivedRequest) {
        let with_credentials = request.is_token_request() && !request.authorization.is_empty();
        self.each(&request.repositories, |counts| {
            match request.kind {
                Some(kind) => counts.requests.record(kind, Some(request.status)),
                None => counts.other += 1,
            }
            if with_credentials {
                counts.token_with_credentials += 1;
            }
        });
    }

    /// Applies `count` to the total and to each of `repositories`.
    fn each(&mut self, repositories: &[String], count: impl Fn(&mut ServerCounts)) {
        count(&mut self.total);
        for repository in repositories {
            count(self.by_repository.entry(repository.clone()).or_default());
        }
    }
}

/// Classifies a registry API request by method and path: its kind (`None` when the client's
/// vocabulary has none) and the repository it is about (`None` for the ping and unknown
/// paths).
pub(crate) fn classify(
    method: &axum::http::Method,
    path: &str,
) -> (Option<RequestKind>, Option<String>) {
    use axum::http::Method;
    let Some(rest) = path.strip_prefix("/v2/") else {
        return (None, None);
    };
    if let Some(name) = rest.strip_suffix("/tags/list") {
        let kind = (method == Method::GET).then_some(RequestKind::TagList);
        return (kind, Some(name.to_owned()));
    }
    if let Some((name, _reference)) = rest.rsplit_once("/manifests/") {
        let kind = match *method {
            Method::HEAD => Some(RequestKind::ManifestHead),
            Method::GET => Some(RequestKind::ManifestGet),
            _ => None,
        };
        return (kind, Some(name.to_owned()));
    }
    if let Some((name, _)) = rest.split_once("/blobs/uploads") {
        return (None, Some(name.to_owned()));
    }
    if let Some((name, _digest)) = rest.rsplit_once("/blobs/") {
        let kind = (method == Method::GET).then_some(RequestKind::Blob);
        return (kind, Some(name.to_owned()));
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn manifest_head_names_the_whole_repository_path() {
        assert_eq!(
            classify(
                &Method::HEAD,
                "/v2/element-hq/lk-jwt-service/manifests/sha-0a1b2c3"
            ),
            (
                Some(RequestKind::ManifestHead),
                Some("element-hq/lk-jwt-service".to_owned())
            )
        );
    }

    #[test]
    fn tag_list_and_blob_requests_are_told_apart_from_uploads() {
        assert_eq!(
            classify(&Method::GET, "/v2/a/b/tags/list").0,
            Some(RequestKind::TagList)
        );
        assert_eq!(
            classify(&Method::GET, "/v2/a/b/blobs/sha256:00").0,
            Some(RequestKind::Blob)
        );
        assert_eq!(
            classify(&Method::POST, "/v2/a/b/blobs/uploads/"),
            (None, Some("a/b".to_owned()))
        );
    }

    #[test]
    fn the_ping_is_about_no_repository() {
        assert_eq!(classify(&Method::GET, "/v2/"), (None, None));
    }

    #[test]
    fn a_token_naming_two_repositories_counts_for_each_and_once_in_total() {
        let request = ReceivedRequest {
            kind: Some(RequestKind::Token),
            method: Method::GET,
            target: "/token?scope=repository:a/x:pull&scope=repository:b/y:pull".to_owned(),
            repositories: vec!["a/x".to_owned(), "b/y".to_owned()],
            authorization: vec!["Basic dTpw".to_owned()],
            status: 200,
            issued_token: Some("t".to_owned()),
        };
        let counts = Counts::of(&[request]);
        for repository in ["a/x", "b/y"] {
            assert_eq!(counts.repository(repository).requests.token, 1);
            assert_eq!(counts.repository(repository).token_with_credentials, 1);
        }
        assert_eq!(counts.total.requests.token, 1);
        assert_eq!(counts.total.token_with_credentials, 1);
    }
}
