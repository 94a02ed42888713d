//! Pin policies as pure functions over tag lists: which tags are candidates, in which order.
//! What the registry says about each candidate (is it a multi-arch index, which commit built
//! it) is checked by the caller with as few requests as possible.

use bundle_gen::{SemverPolicy, Tag, UpdatePolicy};

/// A bare release version: `vX.Y.Z` or `vX.Y.Z.W`, nothing before or after. Ordered
/// numerically, part by part (`v1.9.3` < `v1.9.3.1` < `v1.10.0`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BareVersion(Vec<u64>);

impl BareVersion {
    /// Parses a bare tag; suffixed (`-rc1`, `-release-all-...`) and rolling tags give `None`.
    pub fn parse(tag: &str) -> Option<Self> {
        let parts: Vec<&str> = tag.strip_prefix('v')?.split('.').collect();
        if !(3..=4).contains(&parts.len()) {
            return None;
        }
        parts
            .iter()
            .map(|p| {
                let digits_only = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
                digits_only.then(|| p.parse().ok()).flatten()
            })
            .collect::<Option<Vec<u64>>>()
            .map(Self)
    }
}

/// The bare-multiarch candidates: bare version tags, newest first. The caller takes the first
/// whose manifest is an index with every required platform.
pub fn bare_multiarch_candidates(tags: &[Tag]) -> Vec<Tag> {
    let mut versioned: Vec<(BareVersion, &Tag)> = tags
        .iter()
        .filter_map(|t| BareVersion::parse(t.as_str()).map(|v| (v, t)))
        .collect();
    versioned.sort_by(|a, b| b.0.cmp(&a.0));
    versioned.into_iter().map(|(_, t)| t.clone()).collect()
}

/// The version in a tag under a semver policy: the policy's prefix, then a full semantic
/// version (`1.13.7`, `1.14.0-rc.1`).
pub fn semver_of(tag: &str, policy: &SemverPolicy) -> Option<semver::Version> {
    tag.strip_prefix(policy.tag_prefix.as_str())?.parse().ok()
}

/// The newest tag a semver policy allows: stable only unless pre-releases are allowed, and
/// within the range if one is set.
pub fn semver_candidate(tags: &[Tag], policy: &SemverPolicy) -> Option<Tag> {
    tags.iter()
        .filter_map(|t| semver_of(t.as_str(), policy).map(|v| (v, t)))
        .filter(|(v, _)| policy.allow_prerelease || v.pre.is_empty())
        .filter(|(v, _)| policy.range.as_ref().is_none_or(|range| range.matches(v)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t.clone())
}

/// Whether moving from `current` to `candidate` would go back to an older version under the
/// policy's ordering (e.g. the pin was moved by hand to a pre-release or a version outside
/// the range). Such a candidate is reported but is not an update. Tags the policy cannot
/// order are never a downgrade.
pub fn is_downgrade(policy: &UpdatePolicy, current: &Tag, candidate: &Tag) -> bool {
    fn candidate_is_older<V: Ord>(current: Option<V>, candidate: Option<V>) -> bool {
        matches!((current, candidate), (Some(current), Some(candidate)) if current > candidate)
    }
    match policy {
        UpdatePolicy::BareMultiarch(_) => candidate_is_older(
            BareVersion::parse(current.as_str()),
            BareVersion::parse(candidate.as_str()),
        ),
        UpdatePolicy::Semver(policy) => candidate_is_older(
            semver_of(current.as_str(), policy),
            semver_of(candidate.as_str(), policy),
        ),
        UpdatePolicy::Commit(_) | UpdatePolicy::Manual(_) => false,
    }
}

/// The newest `latest-ci_<unix time>` tag, by the number (not by text order). The bare
/// `latest-ci` tag also moves on feature-branch pushes and is never used.
pub fn newest_latest_ci(tags: &[Tag]) -> Option<Tag> {
    tags.iter()
        .filter_map(|t| {
            let stamp = t.as_str().strip_prefix("latest-ci_")?;
            let digits_only = !stamp.is_empty() && stamp.bytes().all(|b| b.is_ascii_digit());
            digits_only
                .then(|| stamp.parse::<u64>().ok())
                .flatten()
                .map(|n| (n, t))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, t)| t.clone())
}

/// The `sha-<first 7>` tag of a commit hash.
pub fn sha_tag(revision: &str) -> Option<Tag> {
    let short = revision.get(..7)?;
    format!("sha-{short}").parse().ok()
}

/// Whether a tag is a commit build tag, `sha-<7 lowercase hex>`.
pub fn is_sha_tag(tag: &Tag) -> bool {
    tag.as_str().strip_prefix("sha-").is_some_and(|hex| {
        hex.len() == 7
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<Tag> {
        list.iter().map(|t| t.parse().unwrap()).collect()
    }

    fn names(list: &[Tag]) -> Vec<&str> {
        list.iter().map(Tag::as_str).collect()
    }

    /// A tag set shaped like ghcr.io/matrix-construct/tuwunel.
    fn tuwunel_tags() -> Vec<Tag> {
        tags(&[
            "latest",
            "main",
            "preview",
            "v1.4.3.1",
            "v1.9.0",
            "v1.9.2",
            "v1.9.10-rc",
            "v1.9.3-release-all-x86_64-v1-linux-gnu",
            "v1.9.3-release-all-aarch64-v8-linux-gnu",
            "v1.9.3",
            "v1.9.4-pre",
            "v1.9.3.1",
            "v1.10.0-rc2",
            "main-release-all-x86_64-v1-linux-gnu",
            "v2",
            "v1.9",
            "1.9.5",
        ])
    }

    #[test]
    fn bare_candidates_are_bare_versions_newest_first() {
        assert_eq!(
            names(&bare_multiarch_candidates(&tuwunel_tags())),
            ["v1.9.3.1", "v1.9.3", "v1.9.2", "v1.9.0", "v1.4.3.1"]
        );
    }

    #[test]
    fn bare_version_orders_numerically_not_textually() {
        let order = bare_multiarch_candidates(&tags(&["v1.9.9", "v1.10.0", "v1.9.10"]));
        assert_eq!(names(&order), ["v1.10.0", "v1.9.10", "v1.9.9"]);
    }

    #[test]
    fn bare_version_rejects_suffixes_and_rolling_tags() {
        for tag in [
            "v1.9.3-rc",
            "v1.9.3-pre",
            "v1.9.3-release-all-x86_64-v1-linux-gnu",
            "main",
            "preview",
            "latest",
            "v1.9",
            "v1.2.3.4.5",
            "v1..3",
            "1.9.3",
            "v1.9.3+x",
        ] {
            assert_eq!(BareVersion::parse(tag), None, "{tag}");
        }
    }

    fn livekit_policy(range: Option<&str>, allow_prerelease: bool) -> SemverPolicy {
        SemverPolicy {
            range: range.map(|r| r.parse().unwrap()),
            allow_prerelease,
            tag_prefix: "v".to_owned(),
        }
    }

    fn livekit_tags() -> Vec<Tag> {
        tags(&[
            "latest",
            "master",
            "v1.9.0",
            "v1.13.5",
            "v1.13.7",
            "v1.14.0-rc.1",
            "v2.0.0",
            "1.99.0",
        ])
    }

    #[test]
    fn semver_picks_newest_stable_within_range() {
        let policy = livekit_policy(Some("^1"), false);
        assert_eq!(
            semver_candidate(&livekit_tags(), &policy).unwrap().as_str(),
            "v1.13.7"
        );
    }

    #[test]
    fn semver_without_range_takes_the_newest_major() {
        let policy = livekit_policy(None, false);
        assert_eq!(
            semver_candidate(&livekit_tags(), &policy).unwrap().as_str(),
            "v2.0.0"
        );
    }

    #[test]
    fn semver_takes_prerelease_only_when_allowed() {
        let only_1x = tags(&["v1.13.7", "v1.14.0-rc.1"]);
        assert_eq!(
            semver_candidate(&only_1x, &livekit_policy(None, false))
                .unwrap()
                .as_str(),
            "v1.13.7"
        );
        assert_eq!(
            semver_candidate(&only_1x, &livekit_policy(None, true))
                .unwrap()
                .as_str(),
            "v1.14.0-rc.1"
        );
    }

    #[test]
    fn semver_with_empty_prefix_reads_lk_jwt_release_tags() {
        let policy = SemverPolicy {
            range: None,
            allow_prerelease: false,
            tag_prefix: String::new(),
        };
        let lk_jwt = tags(&[
            "0.5.0",
            "0.6.0",
            "0.7.0",
            "v0.8.0",
            "sha-1234567",
            "latest-ci_1760000000",
        ]);
        assert_eq!(
            semver_candidate(&lk_jwt, &policy).unwrap().as_str(),
            "0.7.0"
        );
    }

    #[test]
    fn semver_with_no_matching_tag_gives_none() {
        assert_eq!(
            semver_candidate(
                &tags(&["main", "v3.0.0"]),
                &livekit_policy(Some("^1"), false)
            ),
            None
        );
    }

    #[test]
    fn a_hand_pinned_newer_version_is_not_downgraded() {
        let semver = UpdatePolicy::Semver(livekit_policy(Some("^1"), false));
        let tag = |t: &str| t.parse::<Tag>().unwrap();
        assert!(is_downgrade(&semver, &tag("v1.14.0-rc.1"), &tag("v1.13.7")));
        assert!(is_downgrade(&semver, &tag("v2.0.0"), &tag("v1.13.7")));
        assert!(!is_downgrade(&semver, &tag("v1.13.5"), &tag("v1.13.7")));
        assert!(!is_downgrade(&semver, &tag("latest"), &tag("v1.13.7")));
        let bare = UpdatePolicy::BareMultiarch(bundle_gen::BareMultiarchPolicy::default());
        assert!(is_downgrade(&bare, &tag("v1.9.3.1"), &tag("v1.9.3")));
        assert!(!is_downgrade(&bare, &tag("v1.9.3"), &tag("v1.9.3.1")));
    }

    #[test]
    fn newest_latest_ci_is_chosen_by_number() {
        let lk_jwt = tags(&[
            "latest-ci",
            "latest-ci_999999999",
            "latest-ci_1760000000",
            "latest-ci_1750000000",
            "latest-ci_abc",
            "sha-1234567",
        ]);
        assert_eq!(
            newest_latest_ci(&lk_jwt).unwrap().as_str(),
            "latest-ci_1760000000"
        );
        assert_eq!(newest_latest_ci(&tags(&["latest-ci", "sha-1234567"])), None);
    }

    #[test]
    fn sha_tag_takes_the_first_seven_hex_digits() {
        assert_eq!(
            sha_tag("abcdef0123456789abcdef0123456789abcdef01")
                .unwrap()
                .as_str(),
            "sha-abcdef0"
        );
        assert_eq!(sha_tag("abc"), None);
        assert!(is_sha_tag(&"sha-abcdef0".parse().unwrap()));
        assert!(!is_sha_tag(&"sha-abcdef01".parse().unwrap()));
        assert!(!is_sha_tag(&"sha-ABCDEF0".parse().unwrap()));
    }
}
