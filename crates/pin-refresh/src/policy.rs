//! Pin policies as pure functions over tag lists: which tags are candidates, in which order.
//! What the registry says about each candidate (is it a multi-arch index, which commit built
//! it) is checked by the caller with as few requests as possible.

use std::collections::BTreeMap;

use bundle_gen::{Digest, MinAge, SemverPolicy, Tag, UpdatePolicy};
use jiff::{SignedDuration, Timestamp};

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
/// version (`v1.13.7`, `v1.14.0-rc.1`). A pre-release may also come without the prefix
/// (`1.14.0-rc.1`): docker/metadata-action drops a custom prefix from pre-release tags. A
/// release without the prefix is not the policy's.
pub fn semver_of(tag: &str, policy: &SemverPolicy) -> Option<semver::Version> {
    if let Some(version) = tag.strip_prefix(policy.tag_prefix.as_str()) {
        return version.parse().ok();
    }
    let version: semver::Version = tag.parse().ok()?;
    (!version.pre.is_empty()).then_some(version)
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

/// The `latest-ci_<unix time>` tags (one per main-branch build), newest first by the number
/// (not by text order). The bare `latest-ci` tag also moves on feature-branch pushes and is
/// never used.
pub fn latest_ci_tags(tags: &[Tag]) -> Vec<(u64, Tag)> {
    let mut stamped: Vec<(u64, Tag)> = tags
        .iter()
        .filter_map(|t| {
            let stamp = t.as_str().strip_prefix("latest-ci_")?;
            let digits_only = !stamp.is_empty() && stamp.bytes().all(|b| b.is_ascii_digit());
            digits_only
                .then(|| stamp.parse::<u64>().ok())
                .flatten()
                .map(|n| (n, t.clone()))
        })
        .collect();
    stamped.sort_by_key(|(time, _)| std::cmp::Reverse(*time));
    stamped
}

/// One main-branch build: its `latest-ci_<time>` tag's time, the commit it built and the
/// digest of its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MainBuild {
    /// The unix time in its `latest-ci_` tag.
    pub time: u64,
    /// The commit hash it was built from.
    pub revision: String,
    /// Its digest.
    pub digest: Digest,
}

/// Which of `builds` (newest first) to pin, by position: the newest build of the commit that
/// was first built on main most recently. A commit's first main build is its oldest `latest-ci_` tag: a
/// re-run of an older main build gets a new `latest-ci_` tag, but its commit keeps the time of
/// its first build, so a re-run never moves the pin back to an older commit. A commit whose
/// first build is older than the builds read looks newer than it is; the caller reads enough.
pub fn newest_first_built(builds: &[MainBuild]) -> Option<usize> {
    let mut first_built: BTreeMap<&str, u64> = BTreeMap::new();
    for build in builds {
        let time = first_built.entry(&build.revision).or_insert(build.time);
        *time = (*time).min(build.time);
    }
    let (revision, _) = first_built.into_iter().max_by_key(|(_, time)| *time)?;
    builds
        .iter()
        .enumerate()
        .filter(|(_, build)| build.revision == revision)
        .max_by_key(|(_, build)| build.time)
        .map(|(position, _)| position)
}

/// Where a commit's `sha-<7>` tag points, against its main builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShaTagTarget {
    /// At one of the commit's main builds: pin the tag at that digest.
    MainBuild(Digest),
    /// At another build of the commit (a branch push of the same commit overwrote it): pin the
    /// tag at the commit's newest main build.
    OtherBuild {
        /// The newest main build of the commit.
        main: Digest,
        /// What the tag names instead.
        other: Digest,
    },
}

/// What the `sha-` tag of `chosen`'s commit points at (`tag_digest`), given all main `builds`
/// read.
pub fn sha_tag_target(
    builds: &[MainBuild],
    chosen: &MainBuild,
    tag_digest: Digest,
) -> ShaTagTarget {
    let is_main_build = builds
        .iter()
        .any(|build| build.revision == chosen.revision && build.digest == tag_digest);
    if is_main_build {
        ShaTagTarget::MainBuild(tag_digest)
    } else {
        ShaTagTarget::OtherBuild {
            main: chosen.digest.clone(),
            other: tag_digest,
        }
    }
}

/// The time of `revision`'s first main build among `builds`: the oldest `latest-ci_<time>`
/// of that commit, which is when it was published on main.
pub fn first_built(builds: &[MainBuild], revision: &str) -> Option<u64> {
    builds
        .iter()
        .filter(|build| build.revision == revision)
        .map(|build| build.time)
        .min()
}

/// When a pin published at `published` may be proposed under `policy.minAge`, if that is
/// still to come at `now`; `None` once it is eligible.
pub fn eligible_at(published: Timestamp, min_age: MinAge, now: Timestamp) -> Option<Timestamp> {
    let wait = SignedDuration::from_secs(i64::try_from(min_age.as_secs()).unwrap_or(i64::MAX));
    // A time past the end of jiff's range is never reached.
    let eligible = published.checked_add(wait).unwrap_or(Timestamp::MAX);
    (now < eligible).then_some(eligible)
}

/// The `sha-<first 7>` tag of a commit hash.
pub fn sha_tag(revision: &str) -> Option<Tag> {
    let short = revision.get(..7)?;
    format!("sha-{short}").parse().ok()
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
            min_age: None,
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
    fn the_valkey_policy_follows_only_plain_versions_among_docker_hubs_tag_forms() {
        // Docker Hub's valkey/valkey: plain releases, suffixed variants, moving tags.
        let valkey = tags(&[
            "latest",
            "8",
            "8.1",
            "8.1.4",
            "8.1.4-alpine",
            "8.1.4-bookworm",
            "8.1.5-alpine3.22",
            "9.0.0-rc1",
            "alpine",
        ]);
        let policy = SemverPolicy {
            range: None,
            allow_prerelease: false,
            tag_prefix: String::new(),
            min_age: None,
        };
        assert_eq!(
            semver_candidate(&valkey, &policy).unwrap().as_str(),
            "8.1.4"
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
    fn a_prerelease_without_the_prefix_is_found_when_prereleases_are_allowed() {
        // docker/metadata-action tags LiveKit's v1.14.0-rc.1 as `1.14.0-rc.1`.
        let livekit = tags(&["v1.13.7", "1.14.0-rc.1", "1.13.9", "1.14.0-rc.2"]);
        assert_eq!(
            semver_candidate(&livekit, &livekit_policy(None, true))
                .unwrap()
                .as_str(),
            "1.14.0-rc.2"
        );
        assert_eq!(
            semver_candidate(&livekit, &livekit_policy(None, false))
                .unwrap()
                .as_str(),
            "v1.13.7"
        );
    }

    #[test]
    fn prereleases_with_and_without_the_prefix_are_ordered_as_semver() {
        let livekit = tags(&["1.14.0-rc.10", "v1.14.0-rc.9", "1.14.0-beta.2", "v1.13.7"]);
        assert_eq!(
            semver_candidate(&livekit, &livekit_policy(None, true))
                .unwrap()
                .as_str(),
            "1.14.0-rc.10"
        );
        let semver = UpdatePolicy::Semver(livekit_policy(None, true));
        let tag = |t: &str| t.parse::<Tag>().unwrap();
        assert!(is_downgrade(
            &semver,
            &tag("1.14.0-rc.10"),
            &tag("v1.14.0-rc.9")
        ));
        assert!(!is_downgrade(&semver, &tag("1.14.0-rc.1"), &tag("v1.14.0")));
    }

    #[test]
    fn semver_with_empty_prefix_reads_lk_jwt_release_tags() {
        let policy = SemverPolicy {
            range: None,
            allow_prerelease: false,
            tag_prefix: String::new(),
            min_age: None,
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
    fn latest_ci_tags_are_ordered_newest_first_by_number() {
        let lk_jwt = tags(&[
            "latest-ci",
            "latest-ci_999999999",
            "latest-ci_1760000000",
            "latest-ci_1750000000",
            "latest-ci_abc",
            "sha-1234567",
        ]);
        let ordered = latest_ci_tags(&lk_jwt);
        let order: Vec<(u64, &str)> = ordered
            .iter()
            .map(|(time, tag)| (*time, tag.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (1_760_000_000, "latest-ci_1760000000"),
                (1_750_000_000, "latest-ci_1750000000"),
                (999_999_999, "latest-ci_999999999"),
            ]
        );
        assert!(latest_ci_tags(&tags(&["latest-ci", "sha-1234567"])).is_empty());
    }

    fn digest(n: u8) -> Digest {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
            .parse()
            .unwrap()
    }

    /// A main build at `time` of commit `revision` (one letter, repeated), digest `n`.
    fn main_build(time: u64, revision: char, n: u8) -> MainBuild {
        MainBuild {
            time,
            revision: revision.to_string().repeat(40),
            digest: digest(n),
        }
    }

    #[test]
    fn the_newest_commit_is_the_one_first_built_on_main_most_recently() {
        let builds = [
            main_build(30, 'c', 3),
            main_build(20, 'b', 2),
            main_build(10, 'a', 1),
        ];
        assert_eq!(newest_first_built(&builds), Some(0));
        assert_eq!(newest_first_built(&[]), None);
    }

    #[test]
    fn a_rerun_of_an_older_main_build_does_not_move_the_pin_back() {
        // b was built at 20, c at 30; b's build was re-run at 40.
        let builds = [
            main_build(40, 'b', 4),
            main_build(30, 'c', 3),
            main_build(20, 'b', 2),
            main_build(10, 'a', 1),
        ];
        assert_eq!(newest_first_built(&builds), Some(1));
    }

    #[test]
    fn a_rerun_of_the_newest_commit_pins_its_newest_main_build() {
        let builds = [
            main_build(40, 'c', 4),
            main_build(30, 'c', 3),
            main_build(20, 'b', 2),
        ];
        assert_eq!(newest_first_built(&builds), Some(0));
    }

    #[test]
    fn a_sha_tag_naming_a_main_build_of_the_commit_is_pinned_as_is() {
        // The tag still names the first build (the re-run's push is the newest main build, but
        // the tag is what the registry says): it is a main build, so it is pinned.
        let builds = [main_build(40, 'c', 4), main_build(30, 'c', 3)];
        assert_eq!(
            sha_tag_target(&builds, &builds[0], digest(3)),
            ShaTagTarget::MainBuild(digest(3))
        );
    }

    #[test]
    fn a_sha_tag_overwritten_by_a_branch_build_gives_the_main_build() {
        let builds = [main_build(30, 'c', 3), main_build(20, 'b', 2)];
        assert_eq!(
            sha_tag_target(&builds, &builds[0], digest(9)),
            ShaTagTarget::OtherBuild {
                main: digest(3),
                other: digest(9),
            }
        );
        // A digest that is a main build of another commit is not this commit's main build.
        assert_eq!(
            sha_tag_target(&builds, &builds[0], digest(2)),
            ShaTagTarget::OtherBuild {
                main: digest(3),
                other: digest(2),
            }
        );
    }

    fn time(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_pin_younger_than_min_age_waits_until_it_is_that_old() {
        let published = time("2026-01-01T00:00:00Z");
        let three_days: MinAge = "3d".parse().unwrap();
        assert_eq!(
            eligible_at(published, three_days, time("2026-01-03T23:59:59Z")),
            Some(time("2026-01-04T00:00:00Z"))
        );
        assert_eq!(
            eligible_at(published, three_days, time("2026-01-04T00:00:00Z")),
            None
        );
        assert_eq!(
            eligible_at(
                published,
                "1w".parse().unwrap(),
                time("2026-01-05T00:00:00Z")
            ),
            Some(time("2026-01-08T00:00:00Z"))
        );
    }

    #[test]
    fn a_commit_was_published_at_its_first_main_build() {
        // b was built at 20 and its build re-run at 40.
        let builds = [
            main_build(40, 'b', 4),
            main_build(30, 'c', 3),
            main_build(20, 'b', 2),
        ];
        assert_eq!(first_built(&builds, &"b".repeat(40)), Some(20));
        assert_eq!(first_built(&builds, &"a".repeat(40)), None);
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
    }
}
