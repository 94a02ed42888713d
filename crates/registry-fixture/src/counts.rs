//! Request counters of the front and the token server, per repository, so tests can assert how
//! many requests a client made.

use std::collections::BTreeMap;

/// What a request asked for, as the front classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// `GET /token` on the token server.
    Token,
    /// `GET /v2/<name>/tags/list` (one page).
    TagsPage,
    /// `HEAD /v2/<name>/manifests/<reference>`.
    ManifestHead,
    /// `GET /v2/<name>/manifests/<reference>`.
    ManifestGet,
    /// `GET` or `HEAD /v2/<name>/blobs/<digest>`.
    BlobGet,
    /// Anything else: the `/v2/` ping, uploads, pushes, unknown paths.
    Other,
}

/// How many requests of each kind were made (for one repository, or in total).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestCounts {
    /// Token requests.
    pub token: u32,
    /// Token requests that carried credentials (HTTP Basic).
    pub token_with_credentials: u32,
    /// Tag list pages.
    pub tags_page: u32,
    /// Manifest HEAD requests.
    pub manifest_head: u32,
    /// Manifest GET requests.
    pub manifest_get: u32,
    /// Blob GET (or HEAD) requests.
    pub blob_get: u32,
    /// Other requests (ping, uploads, ...).
    pub other: u32,
    /// Requests of any kind answered `401 Unauthorized` (challenges and refused tokens). These
    /// are also counted under their kind.
    pub unauthorized: u32,
}

impl RequestCounts {
    /// Every request counted, of all kinds.
    pub fn total(&self) -> u32 {
        self.token
            + self.tags_page
            + self.manifest_head
            + self.manifest_get
            + self.blob_get
            + self.other
    }

    /// Manifest requests, HEAD and GET together.
    pub fn manifests(&self) -> u32 {
        self.manifest_head + self.manifest_get
    }

    pub(crate) fn add(&mut self, kind: RequestKind) {
        let counter = match kind {
            RequestKind::Token => &mut self.token,
            RequestKind::TagsPage => &mut self.tags_page,
            RequestKind::ManifestHead => &mut self.manifest_head,
            RequestKind::ManifestGet => &mut self.manifest_get,
            RequestKind::BlobGet => &mut self.blob_get,
            RequestKind::Other => &mut self.other,
        };
        *counter += 1;
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
    pub by_repository: BTreeMap<String, RequestCounts>,
    /// Counts of every request.
    pub total: RequestCounts,
}

impl Counts {
    /// The counts of one repository (all zero if it saw no request).
    pub fn repository(&self, name: &str) -> RequestCounts {
        self.by_repository.get(name).copied().unwrap_or_default()
    }

    pub(crate) fn record(&mut self, repositories: &[String], kind: RequestKind) {
        self.total.add(kind);
        for repository in repositories {
            self.by_repository
                .entry(repository.clone())
                .or_default()
                .add(kind);
        }
    }

    pub(crate) fn record_credentials(&mut self, repositories: &[String]) {
        self.total.token_with_credentials += 1;
        for repository in repositories {
            self.by_repository
                .entry(repository.clone())
                .or_default()
                .token_with_credentials += 1;
        }
    }

    pub(crate) fn record_unauthorized(&mut self, repositories: &[String]) {
        self.total.unauthorized += 1;
        for repository in repositories {
            self.by_repository
                .entry(repository.clone())
                .or_default()
                .unauthorized += 1;
        }
    }
}

/// Classifies a registry API request by method and path: its kind and the repository it is
/// about (`None` for the ping and unknown paths).
pub(crate) fn classify(method: &axum::http::Method, path: &str) -> (RequestKind, Option<String>) {
    use axum::http::Method;
    let Some(rest) = path.strip_prefix("/v2/") else {
        return (RequestKind::Other, None);
    };
    if let Some(name) = rest.strip_suffix("/tags/list") {
        let kind = if method == Method::GET {
            RequestKind::TagsPage
        } else {
            RequestKind::Other
        };
        return (kind, Some(name.to_owned()));
    }
    if let Some((name, _reference)) = rest.rsplit_once("/manifests/") {
        let kind = match *method {
            Method::HEAD => RequestKind::ManifestHead,
            Method::GET => RequestKind::ManifestGet,
            _ => RequestKind::Other,
        };
        return (kind, Some(name.to_owned()));
    }
    if let Some((name, _)) = rest.split_once("/blobs/uploads") {
        return (RequestKind::Other, Some(name.to_owned()));
    }
    if let Some((name, _digest)) = rest.rsplit_once("/blobs/") {
        let kind = match *method {
            Method::HEAD | Method::GET => RequestKind::BlobGet,
            _ => RequestKind::Other,
        };
        return (kind, Some(name.to_owned()));
    }
    (RequestKind::Other, None)
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
                RequestKind::ManifestHead,
                Some("element-hq/lk-jwt-service".to_owned())
            )
        );
    }

    #[test]
    fn tag_list_and_blob_requests_are_told_apart_from_uploads() {
        assert_eq!(
            classify(&Method::GET, "/v2/a/b/tags/list").0,
            RequestKind::TagsPage
        );
        assert_eq!(
            classify(&Method::GET, "/v2/a/b/blobs/sha256:00").0,
            RequestKind::BlobGet
        );
        assert_eq!(
            classify(&Method::POST, "/v2/a/b/blobs/uploads/"),
            (RequestKind::Other, Some("a/b".to_owned()))
        );
    }

    #[test]
    fn the_ping_is_about_no_repository() {
        assert_eq!(classify(&Method::GET, "/v2/"), (RequestKind::Other, None));
    }
}
