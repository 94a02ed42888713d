//! The `--json` document of `bundle pins status` and `bundle pins refresh`: one versioned
//! shape for both (documented in the README, "Machine-readable output"). A field keeps its
//! name and meaning within a version; a change that would break a reader bumps [`VERSION`].

use std::collections::BTreeMap;

use bundle_gen::ImageName;
use pin_refresh::{
    BumpReport, CurrentPin, FailedImage, ImageStatus, RefreshReport, RequestCounts, RetryCounts,
    StatusError,
};
use serde::Serialize;

/// The version of the document's shape.
pub(crate) const VERSION: u32 = 1;

/// The whole document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PinsDocument {
    /// [`VERSION`].
    pub(crate) version: u32,
    /// Which command wrote it.
    pub(crate) command: Command,
    /// Every image, in `bundle.yaml` order.
    pub(crate) images: Vec<ImageEntry>,
    /// Requests sent, per registry host, by kind.
    pub(crate) requests: BTreeMap<String, Requests>,
    /// Requests sent again after a transient failure, per registry host, by reason.
    pub(crate) retries: BTreeMap<String, Retries>,
    /// What `pins refresh` did; absent for `pins status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh: Option<RefreshOutcome>,
}

/// The command a document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Command {
    Status,
    Refresh,
}

/// One image.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageEntry {
    /// The key under `images:`.
    pub(crate) name: String,
    /// Its registry host.
    pub(crate) registry: String,
    /// Its repository.
    pub(crate) repository: String,
    /// The pin in `bundle.yaml` (before a refresh's bump).
    pub(crate) current: PinOrPart,
    /// `status`, and the fields that status brings.
    #[serde(flatten)]
    pub(crate) state: ImageState,
    /// `pins refresh`: the bump of this image (committed, or what a dry run would commit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) bump: Option<Bump>,
}

/// What the registry said of one image: `"status"` names the variant.
#[derive(Debug, Serialize)]
#[serde(
    tag = "status",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub(crate) enum ImageState {
    /// The pin is the newest its policy allows (or the policy is `manual`).
    Current {
        /// The newest allowed pin; `null` only for a `manual` image without a full pin.
        latest: Option<FullPin>,
        /// How `latest` was found.
        route: &'static str,
    },
    /// A newer pin is allowed: `pins refresh` bumps to `latest`.
    Update {
        /// The newer pin.
        latest: FullPin,
        /// How it was found.
        route: &'static str,
    },
    /// A newer pin exists but is younger than `policy.minAge`: not proposed yet.
    Waiting {
        /// The newer pin.
        latest: FullPin,
        /// How it was found.
        route: &'static str,
        /// When it was published (RFC 3339).
        published: String,
        /// When it becomes eligible (RFC 3339).
        eligible_at: String,
    },
    /// The newest allowed pin is a bump that was reverted on the current branch: it is not
    /// proposed again (a newer one will be).
    Held {
        /// The reverted pin.
        latest: FullPin,
        /// How it was found.
        route: &'static str,
        /// The bump commit that was reverted (not `bump`, which names the bump a refresh makes).
        reverted_bump: String,
        /// The commit that reverted it.
        revert: String,
        /// The revert commit's subject.
        revert_subject: String,
    },
    /// The image could not be checked; its pin is left as it is.
    Error {
        /// Why.
        error: String,
    },
}

/// A pin as written in `bundle.yaml` (either part may be missing).
#[derive(Debug, Serialize)]
pub(crate) struct PinOrPart {
    tag: Option<String>,
    digest: Option<String>,
}

/// A complete `tag@digest` pin.
#[derive(Debug, Serialize)]
pub(crate) struct FullPin {
    tag: String,
    digest: String,
}

/// One image's bump.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bump {
    /// The commit made; `null` in a dry run.
    commit: Option<String>,
    /// The commit message.
    message: String,
    /// Files the bump changes, relative to the tree root.
    files: Vec<String>,
}

/// What `pins refresh` did.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefreshOutcome {
    /// Nothing was written (no `--commit`).
    dry_run: bool,
    /// The branch the commits are on, when commits were made.
    branch: Option<String>,
    /// Whether the branch was pushed.
    pushed: bool,
}

/// Requests to one registry host.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Requests {
    total: u32,
    token: u32,
    challenge: u32,
    tag_list: u32,
    manifest_head: u32,
    manifest_get: u32,
    blob: u32,
}

/// Retries against one registry host, by the failure that caused them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Retries {
    total: u32,
    http408: u32,
    http429: u32,
    http500: u32,
    http502: u32,
    http503: u32,
    http504: u32,
    connect: u32,
    reset: u32,
    timeout: u32,
}

impl From<&RequestCounts> for Requests {
    fn from(counts: &RequestCounts) -> Self {
        Self {
            total: counts.total(),
            token: counts.token,
            challenge: counts.challenge,
            tag_list: counts.tag_list,
            manifest_head: counts.manifest_head,
            manifest_get: counts.manifest_get,
            blob: counts.blob,
        }
    }
}

impl From<&RetryCounts> for Retries {
    fn from(retries: &RetryCounts) -> Self {
        Self {
            total: retries.total(),
            http408: retries.http408,
            http429: retries.http429,
            http500: retries.http500,
            http502: retries.http502,
            http503: retries.http503,
            http504: retries.http504,
            connect: retries.connect,
            reset: retries.reset,
            timeout: retries.timeout,
        }
    }
}

impl From<&CurrentPin> for PinOrPart {
    fn from(pin: &CurrentPin) -> Self {
        Self {
            tag: pin.tag.as_ref().map(ToString::to_string),
            digest: pin.digest.as_ref().map(ToString::to_string),
        }
    }
}

impl From<&pin_refresh::Pin> for FullPin {
    fn from(pin: &pin_refresh::Pin) -> Self {
        Self {
            tag: pin.tag.to_string(),
            digest: pin.digest.to_string(),
        }
    }
}

impl From<&BumpReport> for Bump {
    fn from(bump: &BumpReport) -> Self {
        Self {
            commit: bump.commit.clone(),
            message: bump.message.clone(),
            files: bump
                .files
                .iter()
                .map(|path| path.display().to_string())
                .collect(),
        }
    }
}

impl ImageState {
    /// The state of a checked image.
    pub(crate) fn of(image: &ImageStatus) -> Self {
        let route = image.route.as_str();
        if let (Some(latest), Some(held)) = (&image.latest, &image.held) {
            return ImageState::Held {
                latest: latest.into(),
                route,
                reverted_bump: held.bump.as_str().to_owned(),
                revert: held.revert.as_str().to_owned(),
                revert_subject: held.revert_subject.clone(),
            };
        }
        match (&image.latest, &image.waiting) {
            (Some(latest), Some(waiting)) => ImageState::Waiting {
                latest: latest.into(),
                route,
                published: waiting.published.to_string(),
                eligible_at: waiting.eligible_at.to_string(),
            },
            (Some(latest), None) if image.update => ImageState::Update {
                latest: latest.into(),
                route,
            },
            (latest, _) => ImageState::Current {
                latest: latest.as_ref().map(FullPin::from),
                route,
            },
        }
    }
}

impl ImageEntry {
    /// A checked image.
    pub(crate) fn checked(image: &ImageStatus) -> Self {
        Self {
            name: image.name.key().to_owned(),
            registry: image.registry.clone(),
            repository: image.repository.clone(),
            current: (&image.current).into(),
            state: ImageState::of(image),
            bump: None,
        }
    }

    /// An image `pins status` could not check.
    pub(crate) fn failed(current: &CurrentPin, failure: &StatusError) -> Self {
        Self {
            name: failure.image.key().to_owned(),
            registry: failure.registry.clone(),
            repository: failure.repository.clone(),
            current: current.into(),
            state: ImageState::Error {
                error: failure.cause.to_string(),
            },
            bump: None,
        }
    }

    /// An image `pins refresh` could not check.
    fn refresh_failed(failed: &FailedImage) -> Self {
        Self {
            name: failed.image.key().to_owned(),
            registry: failed.registry.clone(),
            repository: failed.repository.clone(),
            current: (&failed.current).into(),
            state: ImageState::Error {
                error: failed.error.clone(),
            },
            bump: None,
        }
    }
}

impl PinsDocument {
    /// The document of `pins status`: `images` already in `bundle.yaml` order.
    pub(crate) fn status(
        images: Vec<ImageEntry>,
        requests: &BTreeMap<String, RequestCounts>,
        retries: &BTreeMap<String, RetryCounts>,
    ) -> Self {
        Self {
            version: VERSION,
            command: Command::Status,
            images,
            requests: per_host(requests),
            retries: per_host(retries),
            refresh: None,
        }
    }

    /// The document of `pins refresh`.
    pub(crate) fn refresh(report: &RefreshReport) -> Self {
        // In `bundle.yaml` order, each image once: checked (and maybe bumped) or failed.
        let images = ImageName::ALL
            .into_iter()
            .filter_map(
                |name| match report.checked.iter().find(|i| i.name == name) {
                    Some(image) => {
                        let mut entry = ImageEntry::checked(image);
                        entry.bump = report
                            .bumps
                            .iter()
                            .find(|bump| bump.image == name)
                            .map(Bump::from);
                        Some(entry)
                    }
                    None => report
                        .failed
                        .iter()
                        .find(|failed| failed.image == name)
                        .map(ImageEntry::refresh_failed),
                },
            )
            .collect();
        Self {
            version: VERSION,
            command: Command::Refresh,
            images,
            requests: per_host(&report.requests),
            retries: per_host(&report.retries),
            refresh: Some(RefreshOutcome {
                dry_run: report.dry_run,
                branch: report.branch.clone(),
                pushed: report.pushed,
            }),
        }
    }
}

fn per_host<'a, T: 'a, J: From<&'a T>>(by_host: &'a BTreeMap<String, T>) -> BTreeMap<String, J> {
    by_host
        .iter()
        .map(|(host, value)| (host.clone(), J::from(value)))
        .collect()
}
