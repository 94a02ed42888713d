//! `bundle pins status`: for each image, the newest pin its policy allows, found with as few
//! registry requests as possible.
//!
//! Cost when nothing is new: per registry host one token per repository, the tag-list pages,
//! and one manifest HEAD per image (the candidate's digest equals the pinned one). Manifests
//! are only fetched (GET, verified by hashing) when a candidate differs from the pin; for the
//! commit policy that means three requests for each of the newest `commit_history` main builds
//! and a HEAD of the chosen `sha-` tag.
//!
//! `policy.minAge` adds nothing when nothing is new; a new candidate of `bare-multiarch` or
//! `semver` costs its first platform manifest and its config blob more (for `created`), one of
//! `commit` nothing (its first main build's `latest-ci_<time>` is already read).

use std::collections::BTreeMap;

use bundle_gen::{
    BareMultiarchPolicy, Config, Digest, ImageName, ImagePin, Images, RegistryEndpoint,
    SemverPolicy, Tag, UpdatePolicy,
};
use jiff::Timestamp;

use crate::policy;
use crate::registry::api::{FetchedManifest, Reference, Registry};
use crate::registry::auth::CredentialSource;
use crate::registry::error::RegistryError;
use crate::registry::manifest::{self, Manifest};
use crate::registry::options::ClientOptions;
use crate::registry::retry::RetryCounts;
use crate::revert::RevertedBump;
use registry_counts::RequestCounts;

/// What to check: the images with their pins and policies, and how to reach their registries.
#[derive(Debug, Clone)]
pub struct StatusRequest {
    /// The images, as in `bundle.yaml`.
    pub images: Images,
    /// `global.imageRegistry`: the registry of images that name none.
    pub global_image_registry: Option<String>,
    /// Endpoint overrides by registry host (`registries:` in `bundle.yaml`, or
    /// `--registry-endpoint HOST=URL`).
    pub endpoints: BTreeMap<String, RegistryEndpoint>,
    /// Where credentials come from (environment and Docker config by default).
    pub credentials: CredentialSource,
    /// Timeouts, retry bounds and size limits.
    pub options: ClientOptions,
    /// Bumps reverted on the branch being refreshed: their digests are held, never proposed.
    pub reverted: Vec<RevertedBump>,
    /// The time `policy.minAge` is judged against.
    pub now: Timestamp,
}

impl StatusRequest {
    /// A request with default endpoints, credentials from the environment and default limits.
    pub fn new(images: Images) -> Self {
        Self {
            images,
            global_image_registry: None,
            endpoints: BTreeMap::new(),
            credentials: CredentialSource::default(),
            options: ClientOptions::default(),
            reverted: Vec::new(),
            now: Timestamp::now(),
        }
    }

    /// The request for a loaded `bundle.yaml`: its images, `global.imageRegistry` and
    /// `registries:`, with `overrides` (from `--registry-endpoint`) taking precedence.
    pub fn for_config<'a>(
        config: &'a Config,
        overrides: impl IntoIterator<Item = (&'a String, &'a RegistryEndpoint)>,
    ) -> Self {
        let mut request = Self::new(config.raw().images.clone())
            .with_global_image_registry(config.raw().global.image_registry.clone());
        for (host, endpoint) in config.raw().registries.iter().chain(overrides) {
            request = request.with_endpoint(host, endpoint.clone());
        }
        request
    }

    /// Sets `global.imageRegistry`.
    pub fn with_global_image_registry(mut self, registry: Option<String>) -> Self {
        self.global_image_registry = registry;
        self
    }

    /// Sends requests for registry `host` to `endpoint` instead of its default.
    pub fn with_endpoint(mut self, host: &str, endpoint: RegistryEndpoint) -> Self {
        self.endpoints.insert(host.to_owned(), endpoint);
        self
    }

    /// Sets where credentials come from.
    pub fn with_credentials(mut self, credentials: CredentialSource) -> Self {
        self.credentials = credentials;
        self
    }

    /// Sets timeouts, retry bounds and limits.
    pub fn with_options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Holds the digests of these reverted bumps (see [`crate::reverted_bumps`]).
    pub fn with_reverted(mut self, reverted: Vec<RevertedBump>) -> Self {
        self.reverted = reverted;
        self
    }

    /// Sets the time `policy.minAge` is judged against (the clock when the request was made,
    /// unless set).
    pub fn with_now(mut self, now: Timestamp) -> Self {
        self.now = now;
        self
    }
}

/// The answer: every image, checked or failed, in `bundle.yaml` order, and the requests made.
#[derive(Debug)]
pub struct StatusReport {
    /// The images that were checked.
    pub images: Vec<ImageStatus>,
    /// The images that could not be checked, each with its error. One image's failure does
    /// not stop the others from being checked.
    pub failures: Vec<StatusError>,
    /// Requests sent, per registry host (as written in `bundle.yaml`), by kind.
    pub requests: BTreeMap<String, RequestCounts>,
    /// Requests sent again after a transient failure, per registry host, by reason.
    pub retries: BTreeMap<String, RetryCounts>,
}

/// The state of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageStatus {
    /// Which image.
    pub name: ImageName,
    /// Its registry host.
    pub registry: String,
    /// Its repository.
    pub repository: String,
    /// The pin in `bundle.yaml`.
    pub current: CurrentPin,
    /// The newest pin the policy allows; `None` only for a `manual` image without a full pin.
    pub latest: Option<Pin>,
    /// Whether `latest` differs from `current` and is not older than it (a pin moved by hand
    /// to a newer version than the policy allows is left alone), and is not held.
    pub update: bool,
    /// How `latest` was found.
    pub route: Route,
    /// Held: `latest` is the digest of a bump that was reverted, so it is not proposed
    /// (`update` is false) until a newer one appears. The revert that holds it.
    pub held: Option<RevertedBump>,
    /// The `org.opencontainers.image.source` label of `latest`, when the lookup read its
    /// image config anyway (the `commit` policy's label route); no request is made for it.
    pub source_label: Option<String>,
    /// `latest` is newer than the pin but younger than `policy.minAge`: not an update yet.
    pub waiting: Option<Waiting>,
}

/// A newer pin held back by `policy.minAge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// When it was published: the image config's `created`, or for the `commit` policy the
    /// time of the commit's first main build (its oldest `latest-ci_<time>` tag).
    pub published: Timestamp,
    /// When it becomes eligible: `published` plus `policy.minAge`.
    pub eligible_at: Timestamp,
}

/// The pin as written in `bundle.yaml` (either part may be missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentPin {
    /// The pinned tag.
    pub tag: Option<Tag>,
    /// The pinned digest.
    pub digest: Option<Digest>,
}

/// A complete pin, `tag@digest`, the digest verified against the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The tag.
    pub tag: Tag,
    /// The digest of the (index) manifest the tag points to.
    pub digest: Digest,
}

/// How the newest pin was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `manual` policy: never updated, no request made.
    Manual,
    /// Newest bare `vX.Y.Z[.W]` tag holding every required platform.
    BareMultiarch,
    /// Newest semver tag allowed.
    Semver,
    /// `commit`: the newest `latest-ci_<time>` build is the pinned digest.
    CommitUnchanged,
    /// `commit`: found via the platform config's `org.opencontainers.image.revision` label.
    CommitLabel,
    /// `commit`: found via the build-provenance attestation's `vcs.revision`.
    CommitAttestation,
    /// `commit`: the commit's `sha-` tag names another build of it (a branch push of the same
    /// commit overwrote it), so the pin is that tag at the commit's newest main build.
    CommitMainBuild,
}

impl Route {
    /// The route's name, as in `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Manual => "manual",
            Route::BareMultiarch => "bare-multiarch",
            Route::Semver => "semver",
            Route::CommitUnchanged => "commit-unchanged",
            Route::CommitLabel => "commit-label",
            Route::CommitAttestation => "commit-attestation",
            Route::CommitMainBuild => "commit-main-build",
        }
    }
}

/// Why no pin could be found for an image: names the image, its registry and the cause.
#[derive(Debug, thiserror::Error)]
#[error("image `{image}` ({registry}/{repository}): {cause}")]
pub struct StatusError {
    /// Which image.
    pub image: ImageName,
    /// Its registry host.
    pub registry: String,
    /// Its repository.
    pub repository: String,
    /// What went wrong (boxed: keeps `Result<_, StatusError>` small).
    pub cause: Box<ImageError>,
}

/// The cause inside a [`StatusError`].
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The registry failed or answered something unusable.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The registry answered, but no tag satisfies the policy.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// The registry's answers leave the policy without a pin.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// No tag has the shape the policy wants.
    #[error("none of the {tags} tags matches the {policy} policy; {hint}")]
    NoMatchingTag {
        /// The policy's name.
        policy: &'static str,
        /// Valid tags seen.
        tags: usize,
        /// What the policy looks for.
        hint: &'static str,
    },
    /// The newest bare tags are all single-arch (or lack a required platform).
    #[error(
        "none of the newest bare tags ({checked}) is an index holding {required}; \
         pin by hand or relax `policy.platforms`"
    )]
    NoMultiarchIndex {
        /// The tags checked, newest first.
        checked: String,
        /// The required platforms.
        required: String,
    },
    /// A listed tag had no manifest.
    #[error(
        "tag `{tag}` is listed but has no manifest (deleted, or still being pushed); \
         run again later"
    )]
    TagVanished {
        /// The tag.
        tag: Tag,
    },
    /// The newest main build does not say which commit it built.
    #[error(
        "newest main build `{latest_ci}` is {digest}, but it records no commit (no \
         `org.opencontainers.image.revision` label, no `vcs.revision` in a provenance \
         attestation); pin a build by hand with `policy: {{kind: manual}}`"
    )]
    CommitNotFound {
        /// The newest `latest-ci_<time>` tag.
        latest_ci: Tag,
        /// Its digest.
        digest: Digest,
    },
    /// `policy.minAge` is set, but the candidate does not say when it was built.
    #[error(
        "`{tag}` records no creation time (no `created` in its image config), so \
         `policy.minAge` cannot be applied to it; remove `minAge` or pin by hand"
    )]
    NoCreationTime {
        /// The candidate's tag.
        tag: Tag,
    },
    /// The newest main commit has no `sha-<7>` tag.
    #[error(
        "the newest main commit {revision} has no `{tag}` tag (still being pushed?); run again \
         later, or pin a build by hand with `policy: {{kind: manual}}`"
    )]
    ShaTagMissing {
        /// The tag looked for.
        tag: Tag,
        /// The commit.
        revision: String,
    },
}

/// Finds the newest allowed pin of every image, or the first failure (in `bundle.yaml`
/// order) and no pin: for callers that need every image checked.
pub async fn status(request: &StatusRequest) -> Result<StatusReport, StatusError> {
    let mut report = status_report(request).await;
    if report.failures.is_empty() {
        Ok(report)
    } else {
        Err(report.failures.remove(0))
    }
}

/// Checks every image, concurrently, and reports each: its newest allowed pin, or why it
/// could not be checked. A registry that fails (or cannot even be set up) fails only its own
/// images.
pub async fn status_report(request: &StatusRequest) -> StatusReport {
    let global = request.global_image_registry.as_deref();
    let mut registries: Vec<Registry> = Vec::new();
    let mut checks = Vec::new();
    for (name, pin) in request.images.iter() {
        let host = pin.registry_host(global);
        let slot = match registries.iter().position(|r| r.host() == host) {
            Some(slot) => Ok(slot),
            None => Registry::new(
                host,
                request.endpoints.get(host),
                request.credentials.lookup(host),
                request.options.clone(),
            )
            .map(|registry| {
                registries.push(registry);
                registries.len() - 1
            }),
        };
        checks.push((name, pin, host, slot));
    }
    let registries = &registries;
    let results = futures_util::future::join_all(checks.into_iter().map(
        |(name, pin, host, slot)| async move {
            let registry = &registries[slot.map_err(|e| image_error(name, pin, host, e.into()))?];
            check_image(registry, name, pin, &request.reverted, request.now)
                .await
                .map_err(|cause| image_error(name, pin, host, cause))
        },
    ))
    .await;
    let (mut images, mut failures) = (Vec::new(), Vec::new());
    for result in results {
        match result {
            Ok(image) => images.push(image),
            Err(failure) => failures.push(failure),
        }
    }
    StatusReport {
        images,
        failures,
        requests: registries
            .iter()
            .map(|registry| (registry.host().to_owned(), registry.counts()))
            .collect(),
        retries: registries
            .iter()
            .map(|registry| (registry.host().to_owned(), registry.retries()))
            .collect(),
    }
}

fn image_error(name: ImageName, pin: &ImagePin, host: &str, cause: ImageError) -> StatusError {
    StatusError {
        image: name,
        registry: host.to_owned(),
        repository: pin.repository.clone(),
        cause: Box::new(cause),
    }
}

async fn check_image(
    registry: &Registry,
    name: ImageName,
    pin: &ImagePin,
    reverted: &[RevertedBump],
    now: Timestamp,
) -> Result<ImageStatus, ImageError> {
    let current = CurrentPin {
        tag: pin.tag.clone(),
        digest: pin.digest.clone(),
    };
    let repository = pin.repository.as_str();
    let mut source_label = None;
    let (latest, route, published) = match &pin.policy {
        UpdatePolicy::Manual(_) => {
            let latest = current.tag.clone().zip(current.digest.clone());
            (
                latest.map(|(tag, digest)| Pin { tag, digest }),
                Route::Manual,
                Published::Unknown,
            )
        }
        UpdatePolicy::BareMultiarch(policy) => {
            let (latest, index) =
                newest_bare_multiarch(registry, repository, policy, &current).await?;
            (Some(latest), Route::BareMultiarch, index.into())
        }
        UpdatePolicy::Semver(policy) => {
            let (latest, index) = newest_semver(registry, repository, policy, &current).await?;
            (Some(latest), Route::Semver, index.into())
        }
        UpdatePolicy::Commit(_) => {
            let (latest, route, source, built) =
                newest_commit(registry, repository, &current).await?;
            source_label = source;
            (Some(latest), route, built.into())
        }
    };
    let update = latest.as_ref().is_some_and(|l| {
        let differs =
            current.tag.as_ref() != Some(&l.tag) || current.digest.as_ref() != Some(&l.digest);
        let downgrade = current
            .tag
            .as_ref()
            .is_some_and(|tag| policy::is_downgrade(&pin.policy, tag, &l.tag));
        differs && !downgrade
    });
    let held = latest
        .as_ref()
        .filter(|_| update)
        .and_then(|latest| {
            reverted
                .iter()
                .find(|bump| bump.image == name && bump.digest == latest.digest)
        })
        .cloned();
    // A held candidate is not proposed whatever its age: asking when it was published would
    // cost a manifest and a config blob on every run for as long as the revert holds it.
    let waiting = match (pin.policy.min_age(), &latest) {
        (Some(min_age), Some(candidate)) if update && held.is_none() => {
            let published = published_time(registry, repository, candidate, published).await?;
            policy::eligible_at(published, min_age, now).map(|eligible_at| Waiting {
                published,
                eligible_at,
            })
        }
        _ => None,
    };
    Ok(ImageStatus {
        name,
        registry: registry.host().to_owned(),
        repository: repository.to_owned(),
        current,
        latest,
        update: update && held.is_none() && waiting.is_none(),
        route,
        held,
        source_label,
        waiting,
    })
}

/// What a policy learnt of when its candidate was published, before asking for more.
enum Published {
    /// Nothing: the candidate is the pin itself, or the policy is `manual`.
    Unknown,
    /// The candidate's manifest, whose image config records `created`.
    Manifest(Manifest),
    /// The time itself (the `commit` policy's first main build of the commit).
    At(Timestamp),
}

impl From<Option<Manifest>> for Published {
    fn from(manifest: Option<Manifest>) -> Self {
        manifest.map_or(Published::Unknown, Published::Manifest)
    }
}

impl From<Option<Timestamp>> for Published {
    fn from(time: Option<Timestamp>) -> Self {
        time.map_or(Published::Unknown, Published::At)
    }
}

/// When `candidate` was published. Only asked for a new candidate under `policy.minAge`: for
/// a multi-arch index it costs a platform manifest GET and a config blob GET, for a single
/// image the config blob; the `commit` policy's time is known without a request.
async fn published_time(
    registry: &Registry,
    repository: &str,
    candidate: &Pin,
    published: Published,
) -> Result<Timestamp, ImageError> {
    let no_time = || PolicyError::NoCreationTime {
        tag: candidate.tag.clone(),
    };
    let manifest = match published {
        Published::At(time) => return Ok(time),
        Published::Manifest(manifest) => manifest,
        Published::Unknown => {
            fetch_parsed(
                registry,
                repository,
                Reference::Digest(candidate.digest.clone()),
            )
            .await?
            .1
        }
    };
    let Some(image) = platform_image(registry, repository, &manifest).await? else {
        return Err(no_time().into());
    };
    let config = registry.get_blob(repository, &image.config).await?;
    let created = manifest::created_time(&config).map_err(|reason| RegistryError::Malformed {
        url: format!("{}/{repository}@{}", registry.host(), image.config),
        what: "image config",
        reason,
    })?;
    created.ok_or_else(|| no_time().into())
}

/// If `tag` is the pinned tag and still points to the pinned digest (one HEAD), the pin.
async fn unchanged_pin(
    registry: &Registry,
    repository: &str,
    tag: &Tag,
    current: &CurrentPin,
) -> Result<Option<Pin>, ImageError> {
    let (Some(pinned_tag), Some(pinned_digest)) = (&current.tag, &current.digest) else {
        return Ok(None);
    };
    if pinned_tag != tag {
        return Ok(None);
    }
    match registry
        .head_manifest(repository, &Reference::Tag(tag.clone()))
        .await?
    {
        Some(digest) if &digest == pinned_digest => Ok(Some(Pin {
            tag: tag.clone(),
            digest,
        })),
        Some(_) => Ok(None),
        None => Err(PolicyError::TagVanished { tag: tag.clone() }.into()),
    }
}

async fn fetch_parsed(
    registry: &Registry,
    repository: &str,
    reference: Reference,
) -> Result<(FetchedManifest, Manifest), ImageError> {
    let fetched = registry.get_manifest(repository, &reference).await?;
    let parsed = manifest::parse_manifest(&fetched.bytes, fetched.content_type.as_deref())
        .map_err(|reason| RegistryError::Malformed {
            url: format!("{}/{repository}@{}", registry.host(), fetched.digest),
            what: "manifest",
            reason,
        })?;
    Ok((fetched, parsed))
}

async fn newest_bare_multiarch(
    registry: &Registry,
    repository: &str,
    policy: &BareMultiarchPolicy,
    current: &CurrentPin,
) -> Result<(Pin, Option<Manifest>), ImageError> {
    let tags = registry.list_tags(repository).await?;
    let candidates = policy::bare_multiarch_candidates(&tags);
    if candidates.is_empty() {
        return Err(PolicyError::NoMatchingTag {
            policy: "bare-multiarch",
            tags: tags.len(),
            hint: "it looks for tags like v1.9.3 or v1.4.3.1 without a suffix",
        }
        .into());
    }
    let mut checked = Vec::new();
    for tag in candidates
        .into_iter()
        .take(registry.options().max_bare_candidates)
    {
        if let Some(pin) = unchanged_pin(registry, repository, &tag, current).await? {
            return Ok((pin, None));
        }
        let (fetched, parsed) =
            fetch_parsed(registry, repository, Reference::Tag(tag.clone())).await?;
        if manifest::has_platforms(&parsed, &policy.platforms) {
            let pin = Pin {
                tag,
                digest: fetched.digest,
            };
            return Ok((pin, Some(parsed)));
        }
        tracing::info!(
            %tag,
            "skipping a bare tag that is not an index of every required platform"
        );
        checked.push(tag.to_string());
    }
    Err(PolicyError::NoMultiarchIndex {
        checked: checked.join(", "),
        required: policy
            .platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and "),
    }
    .into())
}

async fn newest_semver(
    registry: &Registry,
    repository: &str,
    policy: &SemverPolicy,
    current: &CurrentPin,
) -> Result<(Pin, Option<Manifest>), ImageError> {
    let tags = registry.list_tags(repository).await?;
    let Some(tag) = policy::semver_candidate(&tags, policy) else {
        return Err(PolicyError::NoMatchingTag {
            policy: "semver",
            tags: tags.len(),
            hint: "check `tagPrefix`, `range` and `allowPrerelease`",
        }
        .into());
    };
    if let Some(pin) = unchanged_pin(registry, repository, &tag, current).await? {
        return Ok((pin, None));
    }
    let (fetched, parsed) = fetch_parsed(registry, repository, Reference::Tag(tag.clone())).await?;
    let pin = Pin {
        tag,
        digest: fetched.digest,
    };
    Ok((pin, Some(parsed)))
}

/// The newest main build's pin, how it was found, its source label if its image config was
/// read, and when its commit was first built on main.
async fn newest_commit(
    registry: &Registry,
    repository: &str,
    current: &CurrentPin,
) -> Result<(Pin, Route, Option<String>, Option<Timestamp>), ImageError> {
    let tags = registry.list_tags(repository).await?;
    let main_builds = policy::latest_ci_tags(&tags);
    let Some((_, newest)) = main_builds.first() else {
        return Err(PolicyError::NoMatchingTag {
            policy: "commit",
            tags: tags.len(),
            hint: "it looks for latest-ci_<unix time> tags pushed by main-branch builds",
        }
        .into());
    };
    let Some(newest_digest) = registry
        .head_manifest(repository, &Reference::Tag(newest.clone()))
        .await?
    else {
        return Err(PolicyError::TagVanished {
            tag: newest.clone(),
        }
        .into());
    };
    if let Some(tag) = &current.tag
        && current.digest.as_ref() == Some(&newest_digest)
    {
        let pin = Pin {
            tag: tag.clone(),
            digest: newest_digest,
        };
        return Ok((pin, Route::CommitUnchanged, None, None));
    }

    // Something was built on main since the pin: read the commits of the newest main builds,
    // so that a re-run of an older one (which gets the newest `latest-ci_` tag) is seen for
    // what it is. Each costs a manifest GET, a platform manifest GET and a config blob.
    let window = main_builds
        .iter()
        .take(registry.options().commit_history.max(1))
        .enumerate();
    let read = futures_util::future::try_join_all(window.map(|(position, (time, tag))| {
        let reference = if position == 0 {
            Reference::Digest(newest_digest.clone())
        } else {
            Reference::Tag(tag.clone())
        };
        async move {
            let (fetched, index) = fetch_parsed(registry, repository, reference).await?;
            let revision = build_revision(registry, repository, &index).await?;
            Ok::<_, ImageError>((*time, tag, fetched.digest, revision))
        }
    }))
    .await?;
    let mut found: Vec<(policy::MainBuild, Route, Option<String>)> = Vec::new();
    for (time, tag, digest, revision) in read {
        match revision {
            Some((revision, route, source)) => found.push((
                policy::MainBuild {
                    time,
                    revision,
                    digest,
                },
                route,
                source,
            )),
            // The newest build must name its commit: pinning an older one instead would hide
            // that the newest cannot be read.
            None if found.is_empty() => {
                return Err(PolicyError::CommitNotFound {
                    latest_ci: tag.clone(),
                    digest,
                }
                .into());
            }
            None => tracing::info!(%tag, "skipping a main build that does not record its commit"),
        }
    }
    let builds: Vec<policy::MainBuild> = found.iter().map(|(build, ..)| build.clone()).collect();
    let not_found = || PolicyError::CommitNotFound {
        latest_ci: newest.clone(),
        digest: newest_digest.clone(),
    };
    let position = policy::newest_first_built(&builds).ok_or_else(not_found)?;
    let (chosen, route) = (&builds[position], found[position].1);
    let source = found[position].2.clone();
    let first_built = policy::first_built(&builds, &chosen.revision)
        .and_then(|time| Timestamp::from_second(i64::try_from(time).ok()?).ok());
    let tag = policy::sha_tag(&chosen.revision).ok_or_else(not_found)?;
    let Some(tag_digest) = registry
        .head_manifest(repository, &Reference::Tag(tag.clone()))
        .await?
    else {
        return Err(PolicyError::ShaTagMissing {
            tag,
            revision: chosen.revision.clone(),
        }
        .into());
    };
    Ok(match policy::sha_tag_target(&builds, chosen, tag_digest) {
        policy::ShaTagTarget::MainBuild(digest) => {
            (Pin { tag, digest }, route, source, first_built)
        }
        policy::ShaTagTarget::OtherBuild { main, other } => {
            tracing::info!(%tag, %other, %main, "the sha- tag names a branch build; pinning main's");
            let pin = Pin { tag, digest: main };
            (pin, Route::CommitMainBuild, source, first_built)
        }
    })
}

/// The commit a build records, and where: the revision label of its platform configs, else
/// the `vcs.revision` of its provenance attestation; and the source label of the config
/// when it was read.
async fn build_revision(
    registry: &Registry,
    repository: &str,
    index: &Manifest,
) -> Result<Option<(String, Route, Option<String>)>, ImageError> {
    let (revision, source) = label_revision(registry, repository, index).await?;
    if let Some(revision) = revision {
        return Ok(Some((revision, Route::CommitLabel, source)));
    }
    Ok(attested_revision(registry, repository, index)
        .await?
        .map(|revision| (revision, Route::CommitAttestation, source)))
}

/// The revision label of the build's first platform image (or of the image itself when the
/// build is a single manifest), and the source label of the same config.
async fn label_revision(
    registry: &Registry,
    repository: &str,
    build: &Manifest,
) -> Result<(Option<String>, Option<String>), ImageError> {
    let Some(image) = platform_image(registry, repository, build).await? else {
        return Ok((None, None));
    };
    let config = registry.get_blob(repository, &image.config).await?;
    let revision = manifest::revision_label(&config).map_err(|reason| {
        ImageError::from(RegistryError::Malformed {
            url: format!("{}/{repository}@{}", registry.host(), image.config),
            what: "image config",
            reason,
        })
    })?;
    Ok((revision, manifest::source_label(&config)))
}

/// The build's first platform image (one GET for an index; the build itself when it is a
/// single image); `None` when an index holds no platform image.
async fn platform_image(
    registry: &Registry,
    repository: &str,
    build: &Manifest,
) -> Result<Option<manifest::ImageManifest>, ImageError> {
    Ok(match build {
        Manifest::Image(image) => Some(image.clone()),
        Manifest::Index(entries) => {
            let Some(entry) = entries
                .iter()
                .find(|e| !e.is_attestation && e.platform.is_some())
            else {
                return Ok(None);
            };
            match fetch_parsed(
                registry,
                repository,
                Reference::Digest(entry.digest.clone()),
            )
            .await?
            {
                (_, Manifest::Image(image)) => Some(image),
                (_, Manifest::Index(_)) => None,
            }
        }
    })
}

/// The `vcs.revision` of the build's provenance attestation, if it has one.
async fn attested_revision(
    registry: &Registry,
    repository: &str,
    build: &Manifest,
) -> Result<Option<String>, ImageError> {
    let Manifest::Index(entries) = build else {
        return Ok(None);
    };
    for entry in entries.iter().filter(|e| e.is_attestation) {
        let (_, attestation) = fetch_parsed(
            registry,
            repository,
            Reference::Digest(entry.digest.clone()),
        )
        .await?;
        let Manifest::Image(attestation) = attestation else {
            continue;
        };
        for layer in manifest::provenance_layers(&attestation) {
            let statement = registry.get_blob(repository, &layer).await?;
            let revision = manifest::revision_from_provenance(&statement).map_err(|reason| {
                RegistryError::Malformed {
                    url: format!("{}/{repository}@{layer}", registry.host()),
                    what: "provenance attestation",
                    reason,
                }
            })?;
            if revision.is_some() {
                return Ok(revision);
            }
        }
    }
    Ok(None)
}
