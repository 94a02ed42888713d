//! The one vocabulary for counting registry requests. The pin updater (`pin-refresh`) counts
//! the requests it sends with it and reports them (`bundle pins status --json`); the test
//! registry (`registry-fixture`) counts the requests it receives with it. Both apply the same
//! rule ([`RequestCounts::record`]), so a test compares the two as whole values, kind by kind.
//!
//! It is a crate of its own because neither side can hold it: the test registry is a
//! dev-dependency of `pin-refresh` (depending back on it would make a cycle and build git and
//! TLS into a test server), and `bundle-gen`, which both depend on, is about configs, not HTTP.
#![deny(missing_docs)]

use std::iter::Sum;
use std::ops::{Add, AddAssign};

use serde::Serialize;

/// The HTTP status that counts as a challenge when it answers an API request.
const UNAUTHORIZED: u16 = 401;

/// What a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestKind {
    /// A token from the registry's token service (the realm of its challenge).
    Token,
    /// One page of a repository's tag list: `GET /v2/<name>/tags/list`.
    TagList,
    /// A manifest's digest: `HEAD /v2/<name>/manifests/<reference>`.
    ManifestHead,
    /// A manifest's bytes: `GET /v2/<name>/manifests/<reference>`.
    ManifestGet,
    /// A blob (an image config, an attestation): `GET /v2/<name>/blobs/<digest>`.
    Blob,
}

/// Requests by what they asked for, for one registry host or repository.
///
/// Every request counts once, retries and redirect hops included: under its kind, except an
/// API request answered `401 Unauthorized`, which counts as a [`challenge`](Self::challenge)
/// (the answer that names the token service), whatever it asked for. A token request counts
/// as a token request however it is answered.
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
    /// Blob requests.
    pub blob: u32,
    /// API requests answered 401.
    pub challenge: u32,
}

impl RequestCounts {
    /// Counts one request of `kind`, answered with the HTTP `status` (`None`: no answer, as
    /// when the connection failed).
    pub fn record(&mut self, kind: RequestKind, status: Option<u16>) {
        let counter = match kind {
            RequestKind::Token => &mut self.token,
            _ if status == Some(UNAUTHORIZED) => &mut self.challenge,
            RequestKind::TagList => &mut self.tag_list,
            RequestKind::ManifestHead => &mut self.manifest_head,
            RequestKind::ManifestGet => &mut self.manifest_get,
            RequestKind::Blob => &mut self.blob,
        };
        *counter += 1;
    }

    /// All requests.
    pub fn total(&self) -> u32 {
        self.token
            + self.tag_list
            + self.manifest_head
            + self.manifest_get
            + self.blob
            + self.challenge
    }

    /// Manifest requests, HEAD and GET together.
    pub fn manifests(&self) -> u32 {
        self.manifest_head + self.manifest_get
    }
}

impl Add for RequestCounts {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            token: self.token + other.token,
            tag_list: self.tag_list + other.tag_list,
            manifest_head: self.manifest_head + other.manifest_head,
            manifest_get: self.manifest_get + other.manifest_get,
            blob: self.blob + other.blob,
            challenge: self.challenge + other.challenge,
        }
    }
}

impl AddAssign for RequestCounts {
    fn add_assign(&mut self, other: Self) {
        *self = *self + other;
    }
}

impl Sum for RequestCounts {
    fn sum<I: Iterator<Item = Self>>(counts: I) -> Self {
        counts.fold(Self::default(), Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(requests: &[(RequestKind, Option<u16>)]) -> RequestCounts {
        let mut counts = RequestCounts::default();
        for (kind, status) in requests {
            counts.record(*kind, *status);
        }
        counts
    }

    #[test]
    fn each_request_counts_once_under_its_kind() {
        let counts = recorded(&[
            (RequestKind::Token, Some(200)),
            (RequestKind::TagList, Some(200)),
            (RequestKind::TagList, Some(429)),
            (RequestKind::ManifestHead, Some(200)),
            (RequestKind::ManifestGet, None),
            (RequestKind::Blob, Some(404)),
        ]);
        let expected = RequestCounts {
            token: 1,
            tag_list: 2,
            manifest_head: 1,
            manifest_get: 1,
            blob: 1,
            challenge: 0,
        };
        assert_eq!(counts, expected);
        assert_eq!(counts.total(), 6);
    }

    #[test]
    fn an_api_request_answered_401_is_a_challenge_but_a_refused_token_request_is_a_token() {
        let counts = recorded(&[
            (RequestKind::TagList, Some(401)),
            (RequestKind::Blob, Some(401)),
            (RequestKind::Token, Some(401)),
        ]);
        let expected = RequestCounts {
            token: 1,
            challenge: 2,
            ..RequestCounts::default()
        };
        assert_eq!(counts, expected);
    }

    #[test]
    fn counts_add_up_kind_by_kind() {
        let a = recorded(&[
            (RequestKind::Token, Some(200)),
            (RequestKind::Blob, Some(200)),
        ]);
        let b = recorded(&[
            (RequestKind::Token, Some(200)),
            (RequestKind::TagList, Some(401)),
        ]);
        let expected = RequestCounts {
            token: 2,
            blob: 1,
            challenge: 1,
            ..RequestCounts::default()
        };
        assert_eq!(a + b, expected);
        assert_eq!([a, b].into_iter().sum::<RequestCounts>(), expected);
    }

    #[test]
    fn the_json_names_are_camel_case() {
        let counts = RequestCounts {
            token: 1,
            tag_list: 2,
            manifest_head: 3,
            manifest_get: 4,
            blob: 5,
            challenge: 6,
        };
        assert_eq!(
            serde_json::to_value(counts).expect("serialises"),
            serde_json::json!({
                "token": 1, "tagList": 2, "manifestHead": 3, "manifestGet": 4, "blob": 5,
                "challenge": 6,
            })
        );
    }
}
