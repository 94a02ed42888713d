//! Realistic tag sets of the bundle's three images (facts from the upstream build workflows),
//! each with the pins a correct client must choose.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use bundle_gen::{Digest, Platform, Tag};
use sha2::Digest as _;
use tokio::task::JoinSet;

use crate::fill::Filler;
use crate::manifests::{self, ManifestFormat, Provenance, PushedManifest};
use crate::{Error, TestRegistry};

/// How many fill requests run at once.
const CONCURRENT_REQUESTS: usize = 8;

/// A pin: a tag and the digest it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The tag.
    pub tag: Tag,
    /// The digest of the manifest (the index, for multi-arch images) the tag points at.
    pub digest: Digest,
}

/// Which shape the newest lk-jwt-service main build has, and so which route of the `commit`
/// policy must find its commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LkJwtRoute {
    /// One multi-platform build: the platform configs carry
    /// `org.opencontainers.image.revision` (and the index carries attestations).
    Label,
    /// Per-platform builds merged with `imagetools create`: no labels, but the index's
    /// provenance attestation records the commit.
    Attestation,
}

/// What happened in lk-jwt-service's repository after its newest main build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LkJwtHistory {
    /// Nothing: the newest `latest-ci_<time>` tag names the newest main commit's build.
    Plain,
    /// The build of the main commit two before the newest was re-run: the re-run has the
    /// newest `latest-ci_` tag and that commit's `sha-` tag moved to it. An older commit,
    /// which must not become the pin.
    RerunOfOlderBuild,
    /// The newest main commit was pushed to a branch too: its `sha-` tag now names that
    /// branch build, another digest. The pin is that tag at the commit's main build (the
    /// digest its `latest-ci_` tag names), not at what the tag names now.
    BranchBuildOfNewest,
}

/// A filled repository and the answers a correct client must give about it.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Repository path in the registry.
    pub repository: String,
    /// Every tag pushed, with its digest.
    pub tags: BTreeMap<String, Digest>,
    /// An older acceptable pin, as a `bundle.yaml` might hold before an update.
    pub current: Pin,
    /// What the image's default policy must choose.
    pub newest: Pin,
    /// The newest pin when pre-releases are allowed (LiveKit), if it differs.
    pub newest_prerelease: Option<Pin>,
    /// The newest `X.Y.Z` release (lk-jwt-service under the `semver` policy, no `v`).
    pub newest_release: Option<Pin>,
    /// The newest pin as it was before its tag was pushed again with a new build (Tuwunel: a
    /// re-run release pipeline), if the scenario has one.
    pub before_rebuild: Option<Pin>,
}

impl Scenario {
    /// Tuwunel's repository on ghcr.io.
    pub const TUWUNEL_REPOSITORY: &str = "matrix-construct/tuwunel";
    /// LiveKit's repository on Docker Hub.
    pub const LIVEKIT_REPOSITORY: &str = "livekit/livekit-server";
    /// lk-jwt-service's repository on ghcr.io.
    pub const LK_JWT_REPOSITORY: &str = "element-hq/lk-jwt-service";

    /// The pin of one pushed tag.
    pub fn pin(&self, tag: &str) -> Option<Pin> {
        let digest = self.tags.get(tag)?.clone();
        Some(Pin {
            tag: tag.parse().ok()?,
            digest,
        })
    }

    /// Tuwunel (`matrix-construct/tuwunel`), bare multi-arch policy.
    ///
    /// Multi-arch OCI indexes (linux/amd64 baseline, linux/amd64/v3, linux/arm64/v8, and a
    /// provenance attestation each) for `v1.4.9`, `v1.4.9.1`, `v1.9.0`, `v1.10.0`,
    /// `v1.10.0.1`, with per-target tags `<v>-release-all-x86_64-v1-linux-gnu`,
    /// `<v>-release-all-x86_64-v3-linux-gnu` and `<v>-release-all-aarch64-v8-linux-gnu`;
    /// pre-v1.2 per-arch tags without ISA level (`v1.1.0-release-all-x86_64-linux-gnu`);
    /// pre-releases `v1.11.0-rc`, `v1.12.0-pre`, `v1.12.0-rc2` (full indexes); rolling `main`,
    /// `preview`, `latest`. Newer than the answer: `v1.10.1`, a single-arch image manifest,
    /// and `v1.11.0`, an index holding only linux/amd64 plus an attestation
    /// (`unknown/unknown`), and `v1.10.2`, an index whose only amd64 image is `v3` (it would
    /// crash on CPUs without x86-64-v3). Newest: `v1.10.0.1` (numerically, not lexically, above
    /// `v1.9.0`), pushed twice: the release pipeline was re-run, and `before_rebuild` is its
    /// first build (still in the registry by digest). Current: `v1.9.0`.
    pub async fn tuwunel(registry: &TestRegistry) -> Result<Self, Error> {
        let filler = registry.filler();
        registry
            .run(async move { fill_tuwunel(filler).await })
            .await
    }

    /// LiveKit (`livekit/livekit-server`), semver policy with a `v` prefix.
    ///
    /// Docker manifest lists for `v1.9.11` and `v1.12.0` (with `v1.9`, `v1.12`); OCI indexes
    /// with attestations for `v1.13.4`, `v1.13.5`, `v1.13.7` (with `v1.13` and `latest`), the
    /// pre-releases `1.14.0-rc.2` and `1.14.0-rc.10` (no `v`: docker/metadata-action drops a
    /// custom prefix from pre-release tags), and `master`. Newest: `v1.13.7` (lexically below
    /// `v1.9.11`); with pre-releases: `1.14.0-rc.10` (lexically below `1.14.0-rc.2`). Current:
    /// `v1.13.5`.
    pub async fn livekit(registry: &TestRegistry) -> Result<Self, Error> {
        let filler = registry.filler();
        registry
            .run(async move { fill_livekit(filler).await })
            .await
    }

    /// lk-jwt-service (`element-hq/lk-jwt-service`), commit policy.
    ///
    /// 300 main-branch builds tagged `sha-<7 hex>` (more than a 100-tag page, so listing
    /// needs pagination); the newest five also carry `latest-ci_<unix time>`. Releases
    /// `0.6.0` and `0.7.0` (`latest` -> `0.7.0`) are separate
    /// tag-push builds. A later feature-branch build has its own `sha-` tag and moved
    /// `latest-ci` (which must not be trusted), and a PR build is tagged `pr_123`. `route`
    /// decides whether the main builds' revision is in their config labels or only in their
    /// provenance attestation. Newest: the `sha-` tag of the newest main commit. Current: the
    /// main build seven commits earlier.
    ///
    /// Only the newest ten main builds, the releases and the feature build are complete
    /// images with their own layers, labels and attestations; older main builds and the PR
    /// build are distinct indexes over a shared pool of platform images, which is all a client
    /// sees when it lists tags or scans digests, and keeps the fill under a second or two.
    pub async fn lk_jwt(registry: &TestRegistry, route: LkJwtRoute) -> Result<Self, Error> {
        Self::lk_jwt_history(registry, route, LkJwtHistory::Plain).await
    }

    /// lk-jwt-service as [`Scenario::lk_jwt`], followed by `history`.
    pub async fn lk_jwt_history(
        registry: &TestRegistry,
        route: LkJwtRoute,
        history: LkJwtHistory,
    ) -> Result<Self, Error> {
        let filler = registry.filler();
        registry
            .run(async move { fill_lk_jwt(filler, route, history).await })
            .await
    }
}

/// One build: an image per platform, then an index (or Docker manifest list) of them.
pub(crate) struct Build {
    pub(crate) format: ManifestFormat,
    pub(crate) platforms: Vec<Platform>,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) provenance: Option<Provenance>,
    /// What makes this build's layers differ from other builds'.
    pub(crate) layer_text: String,
}

/// What a build pushed.
pub(crate) struct Built {
    pub(crate) index: PushedManifest,
    pub(crate) images: Vec<PushedManifest>,
}

impl Build {
    pub(crate) async fn push(&self, filler: &Filler, repository: &str) -> Result<Built, Error> {
        let mut images = Vec::with_capacity(self.platforms.len());
        for platform in &self.platforms {
            images.push(
                filler
                    .push_image(
                        repository,
                        self.format,
                        platform,
                        &self.labels,
                        &self.layer_text,
                    )
                    .await?,
            );
        }
        let index = filler
            .push_index(repository, self.format, &images, self.provenance.as_ref())
            .await?;
        Ok(Built { index, images })
    }
}

/// Runs `task` for every item, [`CONCURRENT_REQUESTS`] at a time, results in item order.
pub(crate) async fn concurrently<I, T, F, Fut>(items: Vec<I>, task: F) -> Result<Vec<T>, Error>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, Error>> + Send + 'static,
    T: Send + 'static,
{
    let count = items.len();
    let mut results: Vec<Option<T>> = (0..count).map(|_| None).collect();
    let mut running = JoinSet::new();
    let mut store = |joined: Result<(usize, Result<T, Error>), tokio::task::JoinError>| {
        let (position, result) = joined.map_err(|error| Error::Task {
            reason: error.to_string(),
        })?;
        results[position] = Some(result?);
        Ok::<(), Error>(())
    };
    for (position, item) in items.into_iter().enumerate() {
        if running.len() >= CONCURRENT_REQUESTS
            && let Some(joined) = running.join_next().await
        {
            store(joined)?;
        }
        let future = task(item);
        running.spawn(async move { (position, future.await) });
    }
    while let Some(joined) = running.join_next().await {
        store(joined)?;
    }
    Ok(results.into_iter().flatten().collect())
}

/// Pushes builds concurrently.
async fn push_builds(
    filler: &Arc<Filler>,
    repository: &str,
    builds: Vec<Build>,
) -> Result<Vec<Built>, Error> {
    concurrently(builds, |build| {
        let filler = Arc::clone(filler);
        let repository = repository.to_owned();
        async move { build.push(&filler, &repository).await }
    })
    .await
}

/// Collects the tags of a scenario while pushing them.
struct TagSet {
    filler: Arc<Filler>,
    repository: String,
    tags: BTreeMap<String, Digest>,
    pending: Vec<(String, Digest)>,
}

impl TagSet {
    fn new(filler: &Arc<Filler>, repository: &str) -> Self {
        Self {
            filler: Arc::clone(filler),
            repository: repository.to_owned(),
            tags: BTreeMap::new(),
            pending: Vec::new(),
        }
    }

    fn add(&mut self, tag: impl Into<String>, digest: &Digest) {
        self.pending.push((tag.into(), digest.clone()));
    }

    /// Pushes the pending tags; a tag added twice ends on its last digest, as in a registry.
    ///
    /// Tagging re-PUTs a manifest, and distribution 2.8 rewrites its link file in place
    /// (truncate, then write); an index PUT that checks that link at the same moment reads it
    /// empty and fails with `DIGEST_INVALID`. So image manifests are tagged first, indexes
    /// after, never both at once.
    async fn push(&mut self) -> Result<(), Error> {
        let mut last_wins: BTreeMap<String, Digest> = BTreeMap::new();
        for (tag, digest) in self.pending.drain(..) {
            last_wins.insert(tag, digest);
        }
        let (indexes, images): (Vec<_>, Vec<_>) = last_wins
            .clone()
            .into_iter()
            .partition(|(_, digest)| self.filler.is_index(digest));
        for phase in [images, indexes] {
            concurrently(phase, |(tag, digest)| {
                let filler = Arc::clone(&self.filler);
                let repository = self.repository.clone();
                async move { filler.tag(&repository, &tag, &digest).await }
            })
            .await?;
        }
        self.tags.extend(last_wins);
        Ok(())
    }

    fn pin(&self, tag: &str) -> Result<Pin, Error> {
        let digest = self.tags.get(tag).cloned().ok_or_else(|| Error::Task {
            reason: format!("scenario bug: tag `{tag}` was never pushed"),
        })?;
        let tag = tag.parse().map_err(|error| Error::Task {
            reason: format!("scenario bug: {error}"),
        })?;
        Ok(Pin { tag, digest })
    }
}

/// A stable fake 40-hex commit id.
pub(crate) fn fake_revision(seed: &str) -> String {
    hex::encode(sha2::Sha256::digest(seed.as_bytes()))[..40].to_owned()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn amd64() -> Platform {
    Platform::new("linux", "amd64", None)
}

const TUWUNEL_SOURCE: &str = "https://github.com/matrix-construct/tuwunel";

fn tuwunel_build(version: &str, platforms: Vec<Platform>) -> Build {
    let revision = fake_revision(&format!("tuwunel {version}"));
    Build {
        format: ManifestFormat::Oci,
        platforms,
        labels: labels(&[
            ("org.opencontainers.image.source", TUWUNEL_SOURCE),
            ("org.opencontainers.image.version", version),
            ("org.opencontainers.image.revision", &revision),
        ]),
        provenance: Some(Provenance {
            revision: revision.clone(),
            source: TUWUNEL_SOURCE.to_owned(),
        }),
        layer_text: format!("tuwunel {version}"),
    }
}

async fn fill_tuwunel(filler: Arc<Filler>) -> Result<Scenario, Error> {
    let repository = Scenario::TUWUNEL_REPOSITORY;
    let arm64 = Platform::new("linux", "arm64", Some("v8"));
    let amd64_v3 = Platform::new("linux", "amd64", Some("v3"));
    let both = vec![amd64(), amd64_v3.clone(), arm64.clone()];
    let full = [
        "v1.4.9",
        "v1.4.9.1",
        "v1.9.0",
        "v1.10.0",
        "v1.10.0.1",
        "v1.11.0-rc",
        "v1.12.0-pre",
        "v1.12.0-rc2",
        "main",
    ];
    let mut builds: Vec<Build> = full
        .iter()
        .map(|version| tuwunel_build(version, both.clone()))
        .collect();
    // v1.11.0 was published for amd64 only: an index without arm64 (but with an attestation).
    builds.push(tuwunel_build("v1.11.0", vec![amd64()]));
    // v1.10.2 has no baseline amd64 image: only x86-64-v3 and arm64.
    builds.push(tuwunel_build("v1.10.2", vec![amd64_v3, arm64.clone()]));
    // The first build of v1.10.0.1, before its release pipeline was re-run.
    let mut first_build = tuwunel_build("v1.10.0.1", both.clone());
    first_build.layer_text = "tuwunel v1.10.0.1, first run".to_owned();
    builds.push(first_build);
    let built = push_builds(&filler, repository, builds).await?;
    let before_rebuild = &built[built.len() - 1].index.digest;
    let published = ["v1.11.0", "v1.10.2"];

    let mut tags = TagSet::new(&filler, repository);
    for (name, build) in full.iter().chain(published.iter()).zip(&built) {
        tags.add(*name, &build.index.digest);
        for image in &build.images {
            let platform = image.platform.as_ref();
            let target = match platform.map(|p| (p.architecture.as_str(), p.variant.as_deref())) {
                Some(("arm64", _)) => "aarch64-v8-linux-gnu",
                Some(("amd64", Some("v3"))) => "x86_64-v3-linux-gnu",
                _ => "x86_64-v1-linux-gnu",
            };
            tags.add(format!("{name}-release-all-{target}"), &image.digest);
        }
    }
    let by_name = |name: &str| {
        full.iter()
            .chain(published.iter())
            .position(|candidate| *candidate == name)
            .map(|position| built[position].index.digest.clone())
    };
    if let (Some(preview), Some(latest)) = (by_name("v1.12.0-rc2"), by_name("v1.11.0")) {
        tags.add("preview", &preview);
        tags.add("latest", &latest);
    }
    // A newer bare tag that is a single-arch image manifest, not an index.
    let single = filler
        .push_image(
            repository,
            ManifestFormat::Oci,
            &amd64(),
            &labels(&[("org.opencontainers.image.version", "v1.10.1")]),
            "tuwunel v1.10.1",
        )
        .await?;
    tags.add("v1.10.1", &single.digest);
    tags.add("v1.10.1-release-all-x86_64-v1-linux-gnu", &single.digest);
    // Before v1.2.0 the per-arch suffix had no ISA level, and there was no bare tag.
    for (platform, target) in [(amd64(), "x86_64-linux-gnu"), (arm64, "aarch64-linux-gnu")] {
        let old = filler
            .push_image(
                repository,
                ManifestFormat::Oci,
                &platform,
                &labels(&[("org.opencontainers.image.version", "v1.1.0")]),
                "tuwunel v1.1.0",
            )
            .await?;
        tags.add(format!("v1.1.0-release-all-{target}"), &old.digest);
    }
    tags.push().await?;

    let newest = tags.pin("v1.10.0.1")?;
    Ok(Scenario {
        repository: repository.to_owned(),
        current: tags.pin("v1.9.0")?,
        before_rebuild: Some(Pin {
            tag: newest.tag.clone(),
            digest: before_rebuild.clone(),
        }),
        newest,
        newest_prerelease: None,
        newest_release: None,
        tags: tags.tags,
    })
}

const LIVEKIT_SOURCE: &str = "https://github.com/livekit/livekit";

async fn fill_livekit(filler: Arc<Filler>) -> Result<Scenario, Error> {
    let repository = Scenario::LIVEKIT_REPOSITORY;
    let both = vec![amd64(), Platform::new("linux", "arm64", None)];
    let build = |version: &str, format: ManifestFormat| {
        let revision = fake_revision(&format!("livekit {version}"));
        Build {
            format,
            platforms: both.clone(),
            labels: labels(&[
                ("org.opencontainers.image.source", LIVEKIT_SOURCE),
                ("org.opencontainers.image.version", version),
                ("org.opencontainers.image.revision", &revision),
            ]),
            provenance: (format == ManifestFormat::Oci).then(|| Provenance {
                revision,
                source: LIVEKIT_SOURCE.to_owned(),
            }),
            layer_text: format!("livekit {version}"),
        }
    };
    // Older releases predate BuildKit's OCI output: Docker manifest lists, no attestations.
    let versions = [
        ("v1.9.11", ManifestFormat::Docker),
        ("v1.12.0", ManifestFormat::Docker),
        ("v1.13.4", ManifestFormat::Oci),
        ("v1.13.5", ManifestFormat::Oci),
        ("v1.13.7", ManifestFormat::Oci),
        ("1.14.0-rc.2", ManifestFormat::Oci),
        ("1.14.0-rc.10", ManifestFormat::Oci),
        ("master", ManifestFormat::Oci),
    ];
    let builds = versions
        .iter()
        .map(|(version, format)| build(version, *format))
        .collect();
    let built = push_builds(&filler, repository, builds).await?;
    let mut tags = TagSet::new(&filler, repository);
    for ((version, _), build) in versions.iter().zip(&built) {
        tags.add(*version, &build.index.digest);
    }
    let digest_of = |version: &str| {
        versions
            .iter()
            .position(|(candidate, _)| *candidate == version)
            .map(|position| built[position].index.digest.clone())
    };
    for (rolling, target) in [
        ("v1.9", "v1.9.11"),
        ("v1.12", "v1.12.0"),
        ("v1.13", "v1.13.7"),
        ("latest", "v1.13.7"),
    ] {
        if let Some(digest) = digest_of(target) {
            tags.add(rolling, &digest);
        }
    }
    tags.push().await?;
    Ok(Scenario {
        repository: repository.to_owned(),
        current: tags.pin("v1.13.5")?,
        newest: tags.pin("v1.13.7")?,
        newest_prerelease: Some(tags.pin("1.14.0-rc.10")?),
        newest_release: None,
        before_rebuild: None,
        tags: tags.tags,
    })
}

const LK_JWT_SOURCE: &str = "https://github.com/element-hq/lk-jwt-service";
/// Main-branch builds in the lk-jwt-service scenario.
const LK_JWT_MAIN_BUILDS: usize = 300;
/// The newest main builds that are complete images.
const LK_JWT_FULL_BUILDS: usize = 10;
/// The newest main builds that carry a `latest-ci_<unix time>` tag.
const LK_JWT_LATEST_CI_BUILDS: usize = 5;
/// Sizes of the shared pool of platform images (amd64 x arm64 gives the distinct indexes).
const LK_JWT_POOL: (usize, usize) = (20, 16);

fn lk_jwt_build(seed: &str, version_label: &str, route: LkJwtRoute) -> (String, Build) {
    let revision = fake_revision(&format!("lk-jwt-service {seed}"));
    let labels = match route {
        LkJwtRoute::Label => labels(&[
            ("org.opencontainers.image.title", "lk-jwt-service"),
            ("org.opencontainers.image.source", LK_JWT_SOURCE),
            ("org.opencontainers.image.version", version_label),
            ("org.opencontainers.image.revision", &revision),
            ("org.opencontainers.image.licenses", "AGPL-3.0-only"),
        ]),
        LkJwtRoute::Attestation => BTreeMap::new(),
    };
    let provenance = Some(Provenance {
        revision: revision.clone(),
        source: LK_JWT_SOURCE.to_owned(),
    });
    let build = Build {
        format: ManifestFormat::Oci,
        platforms: vec![amd64(), Platform::new("linux", "arm64", None)],
        labels,
        provenance,
        layer_text: format!("lk-jwt-service {seed}"),
    };
    (revision, build)
}

fn sha_tag(revision: &str) -> String {
    format!("sha-{}", &revision[..7])
}

async fn fill_lk_jwt(
    filler: Arc<Filler>,
    route: LkJwtRoute,
    history: LkJwtHistory,
) -> Result<Scenario, Error> {
    let repository = Scenario::LK_JWT_REPOSITORY;
    let first_full = LK_JWT_MAIN_BUILDS - LK_JWT_FULL_BUILDS;
    let first_latest_ci = LK_JWT_MAIN_BUILDS - LK_JWT_LATEST_CI_BUILDS;
    let latest_ci_time = |commit: usize| 1_760_000_000 + commit * 3600;

    // Complete builds: the newest main commits, two releases, one feature branch.
    let mut full: Vec<(String, Build)> = (first_full..LK_JWT_MAIN_BUILDS)
        .map(|commit| {
            let version = if commit >= first_latest_ci {
                format!("latest-ci_{}", latest_ci_time(commit))
            } else {
                sha_tag(&fake_revision(&format!("lk-jwt-service main {commit}")))
            };
            lk_jwt_build(&format!("main {commit}"), &version, route)
        })
        .collect();
    full.push(lk_jwt_build("release 0.6.0", "0.6.0", route));
    full.push(lk_jwt_build("release 0.7.0", "0.7.0", route));
    full.push(lk_jwt_build("feature/room-limits", "latest-ci", route));
    // The re-run of an older main build, and a branch push of the newest main commit: the
    // same commits (revisions), new builds (digests).
    let rerun_commit = LK_JWT_MAIN_BUILDS - 3;
    let rerun_time = latest_ci_time(LK_JWT_MAIN_BUILDS - 1) + 1800;
    let with_layers = |(revision, mut build): (String, Build), layers: &str| {
        build.layer_text = layers.to_owned();
        (revision, build)
    };
    full.push(with_layers(
        lk_jwt_build(
            &format!("main {rerun_commit}"),
            &format!("latest-ci_{rerun_time}"),
            route,
        ),
        "lk-jwt-service main re-run",
    ));
    full.push(with_layers(
        lk_jwt_build(
            &format!("main {}", LK_JWT_MAIN_BUILDS - 1),
            "latest-ci",
            route,
        ),
        "lk-jwt-service branch build of the newest main commit",
    ));
    let (revisions, builds): (Vec<String>, Vec<Build>) = full.into_iter().unzip();
    let built = push_builds(&filler, repository, builds).await?;

    // The pool behind older builds: distinct (amd64, arm64) pairs make distinct indexes.
    let pool_image = |architecture: &str, number: usize| Build {
        format: ManifestFormat::Oci,
        platforms: vec![Platform::new("linux", architecture, None)],
        labels: labels(&[("org.opencontainers.image.source", LK_JWT_SOURCE)]),
        provenance: None,
        layer_text: format!("lk-jwt-service pool {architecture} {number}"),
    };
    let pool_builds = (0..LK_JWT_POOL.0)
        .map(|number| pool_image("amd64", number))
        .chain((0..LK_JWT_POOL.1).map(|number| pool_image("arm64", number)))
        .collect();
    let pool: Vec<PushedManifest> = push_builds(&filler, repository, pool_builds)
        .await?
        .into_iter()
        .flat_map(|built| built.images)
        .collect();
    let (amd64_pool, arm64_pool) = pool.split_at(LK_JWT_POOL.0);
    let cheap_index = |number: usize| {
        manifests::index(
            ManifestFormat::Oci,
            &[
                amd64_pool[number % LK_JWT_POOL.0].clone(),
                arm64_pool[number / LK_JWT_POOL.0].clone(),
            ],
            &[],
        )
    };
    // Older main builds and the PR build: one PUT each, by tag.
    let mut cheap: Vec<(String, Vec<u8>)> = (0..first_full)
        .map(|commit| {
            let revision = fake_revision(&format!("lk-jwt-service main {commit}"));
            (sha_tag(&revision), cheap_index(commit))
        })
        .collect();
    cheap.push(("pr_123".to_owned(), cheap_index(first_full)));
    cheap.push((
        sha_tag(&fake_revision("lk-jwt-service pull request 123")),
        cheap_index(first_full),
    ));
    let cheap_digests = concurrently(cheap.clone(), |(tag, bytes)| {
        let filler = Arc::clone(&filler);
        let repository = repository.to_owned();
        async move {
            filler
                .push_manifest(&repository, &tag, manifests::OCI_INDEX, Arc::new(bytes))
                .await
        }
    })
    .await?;

    let mut tags = TagSet::new(&filler, repository);
    for ((tag, _), digest) in cheap.iter().zip(&cheap_digests) {
        tags.tags.insert(tag.clone(), digest.clone());
    }
    for (position, commit) in (first_full..LK_JWT_MAIN_BUILDS).enumerate() {
        let digest = &built[position].index.digest;
        tags.add(sha_tag(&revisions[position]), digest);
        if commit >= first_latest_ci {
            tags.add(format!("latest-ci_{}", latest_ci_time(commit)), digest);
        }
        tags.add("latest-ci", digest);
    }
    let releases = LK_JWT_FULL_BUILDS;
    tags.add("0.6.0", &built[releases].index.digest);
    tags.add("latest-ci", &built[releases].index.digest);
    tags.add("0.7.0", &built[releases + 1].index.digest);
    tags.add("latest", &built[releases + 1].index.digest);
    let newest_main = LK_JWT_FULL_BUILDS - 1;
    let newest_tag = sha_tag(&revisions[newest_main]);
    let newest_digest = built[newest_main].index.digest.clone();
    match history {
        LkJwtHistory::Plain => {}
        LkJwtHistory::RerunOfOlderBuild => {
            // The newest `latest-ci_` tag, and the commit's `sha-` tag moves to it.
            let rerun = releases + 3;
            tags.add(sha_tag(&revisions[rerun]), &built[rerun].index.digest);
            tags.add(
                format!("latest-ci_{rerun_time}"),
                &built[rerun].index.digest,
            );
        }
        LkJwtHistory::BranchBuildOfNewest => {
            let branch = releases + 4;
            tags.add(newest_tag.clone(), &built[branch].index.digest);
        }
    }
    // The last push was a feature branch: `latest-ci` moved there, with its own `sha-` tag.
    let feature = releases + 2;
    tags.add(sha_tag(&revisions[feature]), &built[feature].index.digest);
    tags.add("latest-ci", &built[feature].index.digest);
    tags.push().await?;

    let current_main = newest_main - 7;
    Ok(Scenario {
        repository: repository.to_owned(),
        current: tags.pin(&sha_tag(&revisions[current_main]))?,
        newest: Pin {
            tag: tags.pin(&newest_tag)?.tag,
            digest: newest_digest,
        },
        newest_prerelease: None,
        newest_release: Some(tags.pin("0.7.0")?),
        before_rebuild: None,
        tags: tags.tags,
    })
}
