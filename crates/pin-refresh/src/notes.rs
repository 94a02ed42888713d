//! What a bump commit says besides its pins, so that a reviewer can act on it: where the
//! upstream changes are (a release page, or a compare view of two commit builds) and what
//! rolls, and with what effect, when the bump is merged.
//!
//! The links cost no registry request: the repository comes from the image's
//! `org.opencontainers.image.source` label when the lookup already read the image config
//! for another reason, else from the upstream repository of the component when the image is
//! the one upstream publishes. A label that names no GitHub repository links nothing: no link
//! is better than a wrong one.

use bundle_gen::{Config, ImageName, Tag};

use crate::status::{CurrentPin, Pin};

/// The source repository of each component, for the image upstream publishes of it: the
/// image repository (on any registry host: mirrors keep the path) and the GitHub
/// repository it is built from.
const UPSTREAMS: [(ImageName, &str, &str); 3] = [
    (
        ImageName::HOMESERVER,
        "matrix-construct/tuwunel",
        "matrix-construct/tuwunel",
    ),
    (
        ImageName::LIVEKIT,
        "livekit/livekit-server",
        "livekit/livekit",
    ),
    (
        ImageName::LK_JWT,
        "element-hq/lk-jwt-service",
        "element-hq/lk-jwt-service",
    ),
];

/// The paragraphs a bump's commit message carries between its pins and its trailers, each
/// ending in a line break and separated by an empty line; lines of at most 72 characters
/// but for a link. `None` when there is nothing to say (an image of another repository that
/// no overlay runs).
///
/// `repository` is the image's repository as pinned; `source_label` the image's
/// `org.opencontainers.image.source` label, if the lookup read it.
pub(crate) fn bump_notes(
    config: &Config,
    image: ImageName,
    repository: &str,
    source_label: Option<&str>,
    old: &CurrentPin,
    new: &Pin,
) -> Option<String> {
    let upstream = upstream_repository(image, repository, source_label);
    let mut paragraphs: Vec<String> = Vec::new();
    if let Some(link) = upstream.and_then(|upstream| changes_link(&upstream, old, new)) {
        paragraphs.push(link);
    }
    let rebuild = old.tag.as_ref() == Some(&new.tag);
    paragraphs.extend(rollout_notes(config, image, rebuild));
    (!paragraphs.is_empty()).then(|| paragraphs.join("\n"))
}

/// The GitHub repository (`owner/name`) whose changes the bump brings: from the source label
/// if there is one (nothing if it is not a GitHub repository), else the component's own when
/// the image is upstream's.
fn upstream_repository(
    image: ImageName,
    repository: &str,
    source_label: Option<&str>,
) -> Option<String> {
    if let Some(label) = source_label {
        return github_repository(label);
    }
    UPSTREAMS
        .iter()
        .find(|(name, published, _)| *name == image && *published == repository)
        .map(|(_, _, source)| (*source).to_owned())
}

/// `owner/name` of `https://github.com/owner/name` (with an optional `.git` or trailing
/// slash); `None` for any other URL, a deeper path included, since a link built from it
/// could point anywhere.
fn github_repository(url: &str) -> Option<String> {
    let path = url.strip_prefix("https://github.com/")?;
    let path = path.strip_suffix('/').unwrap_or(path);
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, name) = path.split_once('/')?;
    let valid = |part: &str| {
        !part.is_empty()
            && !part.starts_with('.')
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    (valid(owner) && valid(name)).then(|| format!("{owner}/{name}"))
}

/// The commit a `sha-<hex>` tag (a commit build) names.
fn built_commit(tag: &Tag) -> Option<&str> {
    let hex = tag.as_str().strip_prefix("sha-")?;
    let valid = (7..=40).contains(&hex.len())
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    valid.then_some(hex)
}

/// The git tag of the release an image tag was built from. The three upstreams tag releases
/// `v<version>`; their images carry it as it is (Tuwunel, LiveKit releases) or without the
/// `v` (lk-jwt-service releases, LiveKit pre-releases: docker/metadata-action's
/// `{{version}}`).
fn release_tag(tag: &Tag) -> Option<String> {
    let text = tag.as_str();
    match text.as_bytes().first() {
        Some(b'v') => Some(text.to_owned()),
        Some(first) if first.is_ascii_digit() => Some(format!("v{text}")),
        _ => None,
    }
}

/// The paragraph that links the upstream changes: the release page of a release, the
/// compare view from the old build to the new one for a commit build.
fn changes_link(upstream: &str, old: &CurrentPin, new: &Pin) -> Option<String> {
    let base = format!("https://github.com/{upstream}");
    if let Some(commit) = built_commit(&new.tag) {
        let since = old.tag.as_ref().and_then(|tag| {
            built_commit(tag)
                .map(str::to_owned)
                .or_else(|| release_tag(tag))
        });
        return Some(match since {
            Some(since) if since != commit => {
                format!(
                    "Upstream changes since the pinned build:\n{base}/compare/{since}...{commit}\n"
                )
            }
            _ => format!("Upstream commit:\n{base}/commit/{commit}\n"),
        });
    }
    let release = release_tag(&new.tag)?;
    Some(format!("Release notes:\n{base}/releases/tag/{release}\n"))
}

/// What merging the bump restarts and what that does to the service (the component that
/// runs the image says it), and for a new homeserver version why it is hard to take back.
fn rollout_notes(config: &Config, image: ImageName, rebuild: bool) -> Vec<String> {
    let mut notes: Vec<String> = bundle_gen::rollout_note(config, image)
        .into_iter()
        .collect();
    // A rebuild is the same version: nothing new to migrate to.
    if image == ImageName::HOMESERVER && !rebuild {
        notes.push(HOMESERVER_MIGRATION.to_owned());
    }
    notes
}

/// Why a homeserver bump is hard to take back, and what its revert needs to pass CI: it lowers
/// the pin, which the `homeserver-downgrade` transition rule refuses.
const HOMESERVER_MIGRATION: &str = "\
Tuwunel may migrate its database when the new version first starts,
and an older version may then not open it: reverting this commit may
not bring the old version back. Take a backup of the database before
merging (README, \"Before a homeserver bump: a backup\").
A revert lowers the pin, which CI's `bundle gen --check --against`
refuses (rule homeserver-downgrade) unless a commit of the revert
carries the trailer `Bundle-Allow: homeserver-downgrade`.
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixture::fake_digest;

    fn tag(text: &str) -> Tag {
        text.parse().expect("tag")
    }

    fn pins(old: &str, new: &str) -> (CurrentPin, Pin) {
        (
            CurrentPin {
                tag: Some(tag(old)),
                digest: Some(fake_digest('1')),
            },
            Pin {
                tag: tag(new),
                digest: fake_digest('2'),
            },
        )
    }

    fn link(upstream: &str, old: &str, new: &str) -> Option<String> {
        let (old, new) = pins(old, new);
        changes_link(upstream, &old, &new)
    }

    #[test]
    fn a_release_links_the_release_page_of_its_git_tag() {
        assert_eq!(
            link("livekit/livekit", "v1.9.0", "v1.9.1").as_deref(),
            Some("Release notes:\nhttps://github.com/livekit/livekit/releases/tag/v1.9.1\n")
        );
    }

    #[test]
    fn a_release_image_tag_without_the_v_links_the_v_tag() {
        // lk-jwt-service releases and LiveKit pre-releases drop the `v` of the git tag.
        assert_eq!(
            link("element-hq/lk-jwt-service", "0.2.9", "0.3.0").as_deref(),
            Some(
                "Release notes:\n\
                 https://github.com/element-hq/lk-jwt-service/releases/tag/v0.3.0\n"
            )
        );
        assert_eq!(
            link("livekit/livekit", "v1.13.0", "1.14.0-rc.1").as_deref(),
            Some("Release notes:\nhttps://github.com/livekit/livekit/releases/tag/v1.14.0-rc.1\n")
        );
    }

    #[test]
    fn a_commit_build_links_the_compare_view_from_the_pinned_build() {
        assert_eq!(
            link("element-hq/lk-jwt-service", "sha-1111111", "sha-2222222").as_deref(),
            Some(
                "Upstream changes since the pinned build:\n\
                 https://github.com/element-hq/lk-jwt-service/compare/1111111...2222222\n"
            )
        );
    }

    #[test]
    fn a_commit_build_after_a_release_compares_from_the_release_tag() {
        assert_eq!(
            link("element-hq/lk-jwt-service", "0.3.0", "sha-2222222").as_deref(),
            Some(
                "Upstream changes since the pinned build:\n\
                 https://github.com/element-hq/lk-jwt-service/compare/v0.3.0...2222222\n"
            )
        );
    }

    #[test]
    fn a_rebuilt_commit_links_the_commit_itself() {
        assert_eq!(
            link("element-hq/lk-jwt-service", "sha-2222222", "sha-2222222").as_deref(),
            Some("Upstream commit:\nhttps://github.com/element-hq/lk-jwt-service/commit/2222222\n")
        );
    }

    #[test]
    fn the_source_label_names_the_repository() {
        assert_eq!(
            upstream_repository(
                ImageName::LK_JWT,
                "someone/lk-jwt-fork",
                Some("https://github.com/someone/lk-jwt-fork.git")
            )
            .as_deref(),
            Some("someone/lk-jwt-fork")
        );
    }

    #[test]
    fn a_source_label_on_another_host_links_nothing() {
        for label in [
            "https://gitlab.com/someone/tuwunel",
            "http://github.com/matrix-construct/tuwunel",
            "https://github.com/matrix-construct/tuwunel/tree/main",
            "https://github.com.evil.example/matrix-construct/tuwunel",
            "https://github.com/../x",
        ] {
            assert_eq!(
                upstream_repository(
                    ImageName::HOMESERVER,
                    "matrix-construct/tuwunel",
                    Some(label)
                ),
                None,
                "{label}"
            );
        }
    }

    #[test]
    fn without_a_label_only_the_image_upstream_publishes_is_linked() {
        assert_eq!(
            upstream_repository(ImageName::LIVEKIT, "livekit/livekit-server", None).as_deref(),
            Some("livekit/livekit")
        );
        assert_eq!(
            upstream_repository(ImageName::LIVEKIT, "someone/livekit-server", None),
            None
        );
    }

    /// bundle-gen's stable copy of the repository's `bundle.yaml`.
    const SITE: &str = include_str!("../../bundle-gen/tests/fixtures/configs/bundle.yaml");

    #[test]
    fn a_homeserver_rebuild_restarts_it_but_migrates_nothing() {
        let config = Config::from_yaml(SITE).expect("SITE is valid");
        let (old, new) = pins("v1.9.3", "v1.9.3");
        let notes = bump_notes(
            &config,
            ImageName::HOMESERVER,
            "matrix-construct/tuwunel",
            None,
            &old,
            &new,
        )
        .expect("notes");
        assert!(notes.contains("restarts the homeserver"), "{notes}");
        assert!(!notes.contains("migrate"), "{notes}");
    }

    #[test]
    fn an_unlinked_image_that_no_overlay_runs_has_no_notes() {
        let external_only = Config::from_yaml(
            &SITE
                .replace("\n  bundled: {}\n", "\n")
                .replace("\n  bundled-turn: {}\n", "\n"),
        )
        .expect("SITE with the external overlay only is valid");
        let (old, new) = pins("v1.13.5", "v1.13.7");
        assert_eq!(
            bump_notes(
                &external_only,
                ImageName::LIVEKIT,
                "someone/livekit-server",
                None,
                &old,
                &new
            ),
            None
        );
    }

    #[test]
    fn the_homeserver_migration_note_fits_72_characters() {
        assert!(
            HOMESERVER_MIGRATION.lines().all(|line| line.len() <= 72),
            "{HOMESERVER_MIGRATION}"
        );
    }
}
