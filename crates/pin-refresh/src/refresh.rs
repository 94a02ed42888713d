//! `bundle pins refresh`: turns newer pins into one git commit per image.
//!
//! Order of work, so that an error leaves nothing behind:
//! 1. checks that need no network: the config reads and validates; with `--commit`, the work
//!    tree is clean, HEAD is on a branch (or `--branch` is given), `bundle.yaml` is tracked,
//!    and the committed tree is what the config generates;
//! 2. the registries are asked for the newest pins (all images, before anything is changed);
//!    an image whose registry fails is reported and left as it is, the others go on;
//! 3. every bump is computed in memory: the edited `bundle.yaml` bytes, the re-parsed config and
//!    the regenerated tree, one image after the other;
//! 4. only then are files written and commits made. Should writing or committing fail anyway,
//!    the files and branches touched are put back as they were.
//!
//! No newer pin: nothing is written, no branch is created or moved, no commit is made.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bundle_gen::{AtomicWrite, Config, ConfigError, FileWriteError, ImageName, RegistryEndpoint};

use crate::edit::{EditError, set_pin};
use crate::git::{CommitId, GitError, Identities, Person, Repo, validate_branch_name};
use crate::registry::retry::RetryCounts;
use crate::revert::RevertedBump;
use crate::status::{CurrentPin, ImageStatus, Pin, StatusError, StatusReport, StatusRequest};
use registry_counts::RequestCounts;

/// The generated files of a config: path relative to the tree root (the directory holding
/// `bundle.yaml`) to file content.
pub(crate) type RenderedFiles = BTreeMap<PathBuf, Vec<u8>>;

/// An error from rendering the tree, passed through as the cause of
/// [`RefreshError::Regenerate`].
pub(crate) type RenderFailure = Box<dyn std::error::Error + Send + Sync>;

/// Renders the generated tree of a config in memory (`bundle gen` without writing). The
/// refresh uses [`BundleGen`]; the tests put in renderers that fail, or add a file, for one
/// pin, to reach the rollback paths.
pub(crate) trait TreeRenderer {
    /// Every generated file of `config`.
    fn render_tree(&self, config: &Config) -> Result<RenderedFiles, RenderFailure>;
}

/// What to refresh and what to do with the result.
#[derive(Debug, Clone, Default)]
pub struct RefreshRequest {
    /// `bundle.yaml`; the generated tree lives in the same directory.
    pub config: PathBuf,
    /// Write and commit the bumps; without it nothing is changed (dry run).
    pub commit: bool,
    /// Create (or reset) this branch at HEAD and commit there.
    pub branch: Option<String>,
    /// Push the branch after committing.
    pub push: Option<PushRequest>,
    /// `--author "Name <email>"`; else `GIT_AUTHOR_*` from `git_env`, else git config.
    pub author: Option<Person>,
    /// Variables set for every git command the refresh runs, on top of the process
    /// environment: the `GIT_AUTHOR_*` / `GIT_COMMITTER_*` ones also decide the identities.
    pub git_env: BTreeMap<String, String>,
    /// Registry endpoint overrides (`--registry-endpoint`), on top of `registries:`.
    pub endpoints: BTreeMap<String, RegistryEndpoint>,
    /// Judges the config the bumps lead to before anything is written (`--against`: the
    /// transition guards): a refusal ends the refresh with nothing written or pushed.
    pub proposed_check: Option<ProposedCheck>,
}

/// The error a [`ProposedCheck`] refuses with, shown as it is.
pub type CheckRefusal = Box<dyn std::error::Error + Send + Sync>;

/// The judgement of a [`ProposedCheck`].
pub type CheckFn = dyn Fn(&Config) -> Result<(), CheckRefusal> + Send + Sync;

/// A judge of the config after every bump: the caller's rules, which this crate does not
/// know (the CLI's transition guards compare it with the deployed branch).
#[derive(Clone)]
pub struct ProposedCheck(pub Arc<CheckFn>);

impl std::fmt::Debug for ProposedCheck {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ProposedCheck")
    }
}

/// Where to push the bump branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRequest {
    /// A configured remote name (e.g. `origin`) or a URL.
    pub remote: String,
    /// Token for HTTPS remotes.
    pub token: Option<String>,
}

/// What a refresh found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    /// No file or commit was written (no `--commit`).
    pub dry_run: bool,
    /// One entry per image with a newer pin, in `bundle.yaml` order.
    pub bumps: Vec<BumpReport>,
    /// The branch the commits are on, when commits were made.
    pub branch: Option<String>,
    /// Whether the branch was pushed.
    pub pushed: bool,
    /// Registry requests made, per registry host.
    pub requests: BTreeMap<String, RequestCounts>,
    /// Requests sent again after a transient failure, per registry host, by reason.
    pub retries: BTreeMap<String, RetryCounts>,
    /// The images that could not be checked, in `bundle.yaml` order: their pins are left as
    /// they are, while the bumps of the others are made.
    pub failed: Vec<FailedImage>,
    /// What the registries said of every image that could be checked, in `bundle.yaml`
    /// order (as `pins status` reports it), bumped, current or held.
    pub checked: Vec<ImageStatus>,
}

impl RefreshReport {
    /// The reverted bumps that hold images, in `bundle.yaml` order: their newest pin is not
    /// proposed again.
    pub fn held(&self) -> impl Iterator<Item = &RevertedBump> {
        self.checked.iter().filter_map(|image| image.held.as_ref())
    }
}

/// An image whose newest pin could not be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedImage {
    /// The image.
    pub image: ImageName,
    /// Its registry host.
    pub registry: String,
    /// Its repository.
    pub repository: String,
    /// Its pin in `bundle.yaml`, left as it is.
    pub current: CurrentPin,
    /// Why it could not be checked.
    pub error: String,
}

impl FailedImage {
    fn new(failure: &StatusError, config: &Config) -> Self {
        let pin = config.raw().images.get(failure.image);
        Self {
            image: failure.image,
            registry: failure.registry.clone(),
            repository: failure.repository.clone(),
            current: CurrentPin {
                tag: pin.tag.clone(),
                digest: pin.digest.clone(),
            },
            error: failure.cause.to_string(),
        }
    }
}

/// One image's bump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BumpReport {
    /// The image.
    pub image: ImageName,
    /// The pin before.
    pub old: CurrentPin,
    /// The pin after.
    pub new: Pin,
    /// Files the bump changes, relative to the tree root.
    pub files: Vec<PathBuf>,
    /// The commit made, when committing.
    pub commit: Option<String>,
    /// The commit message.
    pub message: String,
}

/// Why a refresh stopped. Whatever the error, no file and no branch is left changed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// `--push` without `--commit`.
    #[error("--push needs --commit: there is nothing to push from a dry run")]
    PushWithoutCommit,
    /// The config file cannot be read.
    #[error("cannot read `{path}`: {source}")]
    ReadConfig {
        /// The config path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The config is not accepted.
    #[error("`{path}`: {source}")]
    InvalidConfig {
        /// The config path.
        path: PathBuf,
        /// Why it was refused.
        source: ConfigError,
    },
    /// The work tree has changes that a commit would mix with the bumps.
    #[error(
        "the work tree has uncommitted or untracked files ({}); commit, stash (`git stash -u`) \
         or ignore them, then refresh again", list(.paths)
    )]
    Dirty {
        /// The dirty paths, relative to the work tree.
        paths: Vec<PathBuf>,
    },
    /// HEAD is detached and no branch was named.
    #[error(
        "HEAD is detached, so there is no branch to commit on; pass --branch NAME (e.g. \
         --branch bundle/pin-bumps) or check out a branch"
    )]
    DetachedHead,
    /// `bundle.yaml` is not in git.
    #[error("`{path}` is not tracked by git; commit it (and the generated tree) first")]
    Untracked {
        /// The config path.
        path: PathBuf,
    },
    /// The committed tree is not what the config generates.
    #[error(
        "the generated tree is out of date ({}); run `bundle gen`, commit, then refresh again",
        list(.paths)
    )]
    TreeOutOfDate {
        /// Files that differ from what the config generates, relative to the tree root.
        paths: Vec<PathBuf>,
    },
    /// The files on disk could not be compared with the generated tree.
    #[error("cannot compare the generated tree with the files on disk: {0}")]
    CheckTree(#[source] bundle_gen::WriteError),
    /// The pin could not be written into `bundle.yaml`.
    #[error("cannot write the new pin of `{image}` into bundle.yaml: {source}")]
    Edit {
        /// The image.
        image: ImageName,
        /// Why.
        source: EditError,
    },
    /// The edited config is refused (for example a new tag the config rules reject).
    #[error("with the new pin of `{image}`, bundle.yaml is refused: {source}")]
    EditedConfigRefused {
        /// The image.
        image: ImageName,
        /// Why.
        source: ConfigError,
    },
    /// The tree could not be rendered.
    #[error("regenerating the tree{} failed: {source}", for_image(*.image))]
    Regenerate {
        /// The image being bumped; `None` for the tree of the current config.
        image: Option<ImageName>,
        /// The renderer's error.
        source: RenderFailure,
    },
    /// A git operation failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The [`ProposedCheck`] refused the config the bumps lead to; nothing was written.
    #[error("the bumps were not written: {0}")]
    ProposedRefused(#[source] CheckRefusal),
    /// The bumps were committed, but the branch could not be pushed. The commits stay: a
    /// second run would find every pin current and push nothing, so the branch is pushed by
    /// hand.
    #[error(
        "the bumps are committed on branch `{branch}`, but it was not pushed: {source}; fix \
         the remote or its credentials, then push it with `git push --force {remote} {branch}`"
    )]
    Push {
        /// The branch holding the bump commits.
        branch: String,
        /// The remote name or URL.
        remote: String,
        /// Why the push failed.
        source: GitError,
    },
    /// A file could not be written; the files and branches touched were restored.
    #[error("{action} `{path}` failed: {source}; the files and branches touched were restored")]
    Write {
        /// What failed: `reading`, `creating directory`, `writing` or `removing`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Writing or committing failed and putting things back failed too.
    #[error("{cause}; restoring the previous state also failed ({restore}): check `git status`")]
    RestoreFailed {
        /// The first failure.
        cause: Box<RefreshError>,
        /// What went wrong while restoring.
        restore: String,
    },
}

fn list(paths: &[PathBuf]) -> String {
    const SHOWN: usize = 5;
    let mut text: Vec<String> = paths
        .iter()
        .take(SHOWN)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > SHOWN {
        text.push(format!("and {} more", paths.len() - SHOWN));
    }
    text.join(", ")
}

fn for_image(image: Option<ImageName>) -> String {
    image.map_or_else(String::new, |image| {
        format!(" with the new pin of `{image}`")
    })
}

/// The generator of `bundle gen` ([`bundle_gen::render`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BundleGen;

impl TreeRenderer for BundleGen {
    fn render_tree(&self, config: &Config) -> Result<RenderedFiles, RenderFailure> {
        let tree = bundle_gen::render(config)?;
        Ok(tree
            .files()
            .map(|(path, bytes)| (PathBuf::from(path), bytes.to_vec()))
            .collect())
    }
}

/// Runs a refresh with the generator of `bundle gen`: checks, registry lookups, in-memory
/// bumps, then files and commits (see the module documentation). An image that could not be
/// checked is listed in [`RefreshReport::failed`] and the others are bumped; any other
/// failure changes nothing.
pub async fn refresh(request: &RefreshRequest) -> Result<RefreshReport, RefreshError> {
    let prepared = prepare(request, &BundleGen)?;
    let reverted = match &prepared.git {
        Some(git) => crate::revert::reverted_bumps(&git.repo)?,
        None => crate::revert::reverted_bumps_at(&prepared.root, &request.git_env)?,
    };
    let status = crate::status::status_report(
        &StatusRequest::for_config(&prepared.config, &request.endpoints).with_reverted(reverted),
    )
    .await;
    let bumps = plan(&prepared, &status, &BundleGen)?;
    if let (Some(check), Some(last)) = (&request.proposed_check, bumps.last()) {
        (check.0)(&last.config).map_err(RefreshError::ProposedRefused)?;
    }
    apply(request, &prepared, bumps, &status)
}

/// Everything read and checked before the registries are asked.
pub(crate) struct Prepared {
    /// The config file, absolute.
    config_path: PathBuf,
    /// The directory holding `bundle.yaml` and the generated tree.
    root: PathBuf,
    yaml: String,
    config: Config,
    tree: RenderedFiles,
    git: Option<GitState>,
}

struct GitState {
    repo: Repo,
    identities: Identities,
    /// The branch HEAD is on, `None` if detached.
    head_branch: Option<String>,
    /// The branch the bumps are committed on: `--branch`, else the one HEAD is on.
    branch: String,
    /// The tree root relative to the work tree root.
    root_in_repo: PathBuf,
}

/// Reads the config and the current tree, and with `--commit` checks the repository.
pub(crate) fn prepare(
    request: &RefreshRequest,
    renderer: &dyn TreeRenderer,
) -> Result<Prepared, RefreshError> {
    if request.push.is_some() && !request.commit {
        return Err(RefreshError::PushWithoutCommit);
    }
    let read_error = |source| RefreshError::ReadConfig {
        path: request.config.clone(),
        source,
    };
    let config_path = fs::canonicalize(&request.config).map_err(read_error)?;
    let yaml = fs::read_to_string(&config_path).map_err(read_error)?;
    let config = Config::from_yaml(&yaml).map_err(|source| RefreshError::InvalidConfig {
        path: request.config.clone(),
        source,
    })?;
    let root = config_path
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_owned);

    let git = if request.commit {
        Some(check_repository(request, &config_path, &root)?)
    } else {
        None
    };

    let tree = renderer
        .render_tree(&config)
        .map_err(|source| RefreshError::Regenerate {
            image: None,
            source,
        })?;
    if git.is_some() {
        // A dry run commits nothing, so it need not read the tree on disk. The check is
        // `bundle gen --check`'s own, so a leftover generated file the config no longer
        // produces counts as out of date too.
        let check = bundle_gen::render(&config)
            .map_err(|error| RefreshError::Regenerate {
                image: None,
                source: error.into(),
            })?
            .check(&root)
            .map_err(RefreshError::CheckTree)?;
        if !check.is_clean() {
            let mut paths: Vec<PathBuf> = [check.out_of_date, check.missing, check.stale]
                .into_iter()
                .flatten()
                .map(PathBuf::from)
                .collect();
            paths.sort();
            return Err(RefreshError::TreeOutOfDate { paths });
        }
    }
    Ok(Prepared {
        config_path,
        root,
        yaml,
        config,
        tree,
        git,
    })
}

fn check_repository(
    request: &RefreshRequest,
    config_path: &Path,
    root: &Path,
) -> Result<GitState, RefreshError> {
    let repo = Repo::open_with_env(root, &request.git_env)?;
    let dirty = repo.dirty_paths()?;
    if !dirty.is_empty() {
        return Err(RefreshError::Dirty { paths: dirty });
    }
    let head_branch = repo.head_branch()?;
    let branch = request
        .branch
        .clone()
        .or_else(|| head_branch.clone())
        .ok_or(RefreshError::DetachedHead)?;
    if !repo.is_tracked(config_path)? {
        return Err(RefreshError::Untracked {
            path: request.config.clone(),
        });
    }
    if let Some(branch) = &request.branch {
        // Refuse a bad name now, before the registries are asked.
        validate_branch_name(branch)?;
    }
    let identities = Identities::resolve(&repo, request.author.clone(), &|key| {
        request.git_env.get(key).cloned()
    })?;
    let root_in_repo = repo.relative(root)?;
    Ok(GitState {
        repo,
        identities,
        head_branch,
        branch,
        root_in_repo,
    })
}

/// One image's bump, computed in memory.
pub(crate) struct PlannedBump {
    image: ImageName,
    old: CurrentPin,
    new: Pin,
    /// `bundle.yaml` after this bump (and the ones before it).
    yaml: String,
    /// `yaml`, loaded.
    config: Config,
    /// Generated files this bump changes: new content, or `None` to delete.
    changes: BTreeMap<PathBuf, Option<Vec<u8>>>,
    /// The new image's `org.opencontainers.image.source` label, if the lookup read it.
    source_label: Option<String>,
}

/// Computes every bump in memory, in `bundle.yaml` order, each on top of the previous one.
pub(crate) fn plan(
    prepared: &Prepared,
    status: &StatusReport,
    renderer: &dyn TreeRenderer,
) -> Result<Vec<PlannedBump>, RefreshError> {
    let mut yaml = prepared.yaml.clone();
    let mut tree = prepared.tree.clone();
    let mut bumps = Vec::new();
    for image in &status.images {
        let (true, Some(new)) = (image.update, &image.latest) else {
            continue;
        };
        let name = image.name;
        yaml =
            set_pin(&yaml, name, &new.tag, &new.digest).map_err(|source| RefreshError::Edit {
                image: name,
                source,
            })?;
        let config =
            Config::from_yaml(&yaml).map_err(|source| RefreshError::EditedConfigRefused {
                image: name,
                source,
            })?;
        let next = renderer
            .render_tree(&config)
            .map_err(|source| RefreshError::Regenerate {
                image: Some(name),
                source,
            })?;
        let mut changes: BTreeMap<PathBuf, Option<Vec<u8>>> = next
            .iter()
            .filter(|(path, content)| tree.get(*path) != Some(*content))
            .map(|(path, content)| (path.clone(), Some(content.clone())))
            .collect();
        changes.extend(
            tree.keys()
                .filter(|path| !next.contains_key(*path))
                .map(|path| (path.clone(), None)),
        );
        tree = next;
        bumps.push(PlannedBump {
            image: name,
            old: image.current.clone(),
            new: new.clone(),
            yaml: yaml.clone(),
            config,
            changes,
            source_label: image.source_label.clone(),
        });
    }
    Ok(bumps)
}

/// The commit message of a bump: subject, old and new `tag@digest`, what the rollout does to
/// the running service and where the upstream changes are (`rollout_note`: the bump's notes,
/// when it has any), and trailers.
pub(crate) fn commit_message(
    image: ImageName,
    old: &CurrentPin,
    new: &Pin,
    rollout_note: Option<&str>,
) -> String {
    let old_tag = old
        .tag
        .as_ref()
        .map_or_else(|| "untagged".to_owned(), ToString::to_string);
    let mut subject = format!(
        "chore(pins): bump {} {old_tag} -> {}",
        image.component(),
        new.tag
    );
    let rebuild = old.tag.as_ref() == Some(&new.tag);
    if rebuild {
        subject.push_str(" (rebuild, new digest)");
    }
    let old_pin = match (&old.tag, &old.digest) {
        (Some(tag), Some(digest)) => format!("{tag}@{digest}"),
        (Some(tag), None) => format!("{tag} (no digest)"),
        (None, Some(digest)) => format!("@{digest}"),
        (None, None) => "(none)".to_owned(),
    };
    let mut message = format!("{subject}\n\nimages.{}:\n", image.key());
    let _ = writeln!(message, "  old: {old_pin}");
    let _ = writeln!(message, "  new: {}@{}", new.tag, new.digest);
    if rebuild {
        let _ = writeln!(
            message,
            "\nRebuild: `{}` was pushed again with a new build of the same version.",
            new.tag
        );
    }
    if let Some(note) = rollout_note {
        let _ = write!(message, "\n{note}");
    }
    let _ = write!(
        message,
        "\nBundle-Image: {}\nBundle-Digest: {}\n",
        image.key(),
        new.digest
    );
    message
}

/// Writes and commits the bumps (with `--commit`), or only reports them.
pub(crate) fn apply(
    request: &RefreshRequest,
    prepared: &Prepared,
    bumps: Vec<PlannedBump>,
    status: &StatusReport,
) -> Result<RefreshReport, RefreshError> {
    let config_name = prepared
        .config_path
        .file_name()
        .map_or_else(|| PathBuf::from("bundle.yaml"), PathBuf::from);
    let mut reports: Vec<BumpReport> = bumps
        .iter()
        .map(|bump| BumpReport {
            image: bump.image,
            old: bump.old.clone(),
            new: bump.new.clone(),
            files: std::iter::once(config_name.clone())
                .chain(bump.changes.keys().cloned())
                .collect(),
            commit: None,
            message: commit_message(
                bump.image,
                &bump.old,
                &bump.new,
                crate::notes::bump_notes(
                    &prepared.config,
                    bump.image,
                    &prepared.config.raw().images.get(bump.image).repository,
                    bump.source_label.as_deref(),
                    &bump.old,
                    &bump.new,
                )
                .as_deref(),
            ),
        })
        .collect();
    let mut report = RefreshReport {
        dry_run: !request.commit,
        bumps: Vec::new(),
        branch: None,
        pushed: false,
        requests: status.requests.clone(),
        retries: status.retries.clone(),
        failed: status
            .failures
            .iter()
            .map(|failure| FailedImage::new(failure, &prepared.config))
            .collect(),
        checked: status.images.clone(),
    };
    let Some(git) = &prepared.git else {
        report.bumps = reports;
        return Ok(report);
    };
    if bumps.is_empty() {
        return Ok(report);
    }

    let mut undo = Undo::new(git, request.branch.as_deref())?;
    if let Err(cause) = commit_bumps(request, prepared, git, &bumps, &mut reports, &mut undo) {
        return Err(undo.restore(cause));
    }
    let branch = &git.branch;
    report.bumps = reports;
    report.branch = Some(branch.clone());
    if let Some(push) = &request.push {
        git.repo
            .push(&push.remote, branch, push.token.as_deref())
            .map_err(|source| RefreshError::Push {
                branch: branch.clone(),
                remote: push.remote.clone(),
                source,
            })?;
        report.pushed = true;
    }
    Ok(report)
}

fn commit_bumps(
    request: &RefreshRequest,
    prepared: &Prepared,
    git: &GitState,
    bumps: &[PlannedBump],
    reports: &mut [BumpReport],
    undo: &mut Undo,
) -> Result<(), RefreshError> {
    if let Some(branch) = &request.branch {
        git.repo.reset_branch(branch)?;
    }
    let config_in_repo = git.repo.relative(&prepared.config_path)?;
    for (bump, report) in bumps.iter().zip(reports.iter_mut()) {
        let files: Vec<(PathBuf, Option<&[u8]>)> =
            std::iter::once((prepared.config_path.clone(), Some(bump.yaml.as_bytes())))
                .chain(
                    bump.changes
                        .iter()
                        .map(|(path, content)| (prepared.root.join(path), content.as_deref())),
                )
                .collect();
        for (path, _) in &files {
            undo.remember(path)?;
        }
        write_files(&files)?;
        let mut paths = vec![config_in_repo.clone()];
        paths.extend(bump.changes.keys().map(|path| git.root_in_repo.join(path)));
        let commit = git
            .repo
            .commit_paths(&paths, &report.message, &git.identities)?;
        report.commit = Some(commit.to_string());
    }
    Ok(())
}

/// Writes `files` (`None`: delete the file) through [`AtomicWrite`]: every new content is
/// staged before any file is replaced, then the deletions follow.
fn write_files(files: &[(PathBuf, Option<&[u8]>)]) -> Result<(), RefreshError> {
    let mut write = AtomicWrite::new();
    for (path, content) in files {
        if let Some(bytes) = content {
            write.stage(path, bytes).map_err(write_error)?;
        }
    }
    write.commit().map_err(write_error)?;
    for (path, content) in files {
        if content.is_none() {
            match fs::remove_file(path) {
                Err(error) if !is_absent(&error) => {
                    return Err(RefreshError::Write {
                        action: "removing",
                        path: path.clone(),
                        source: error,
                    });
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn write_error(error: FileWriteError) -> RefreshError {
    RefreshError::Write {
        action: error.action,
        path: error.path,
        source: error.source,
    }
}

/// Whether an I/O error says the file is not there (also when a parent is not a directory).
fn is_absent(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// What to put back if writing or committing fails: file contents and branch positions.
struct Undo<'a> {
    git: &'a GitState,
    files: BTreeMap<PathBuf, Option<Vec<u8>>>,
    /// The commit HEAD was on.
    head: CommitId,
    /// The bump branch and where it pointed before (`None`: it did not exist).
    bump_branch: Option<(String, Option<CommitId>)>,
}

impl<'a> Undo<'a> {
    fn new(git: &'a GitState, bump_branch: Option<&str>) -> Result<Self, RefreshError> {
        let bump_branch = match bump_branch {
            Some(name) => Some((name.to_owned(), git.repo.branch_commit(name)?)),
            None => None,
        };
        Ok(Self {
            git,
            files: BTreeMap::new(),
            head: git.repo.head_commit()?,
            bump_branch,
        })
    }

    /// Reads what `path` holds now (`None`: no file there), once per path. A file that is
    /// there but cannot be read could not be put back, so it stops the refresh before
    /// anything is written over it.
    fn remember(&mut self, path: &Path) -> Result<(), RefreshError> {
        if self.files.contains_key(path) {
            return Ok(());
        }
        let content = match fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(error) if is_absent(&error) => None,
            Err(source) => {
                return Err(RefreshError::Write {
                    action: "reading",
                    path: path.to_owned(),
                    source,
                });
            }
        };
        self.files.insert(path.to_owned(), content);
        Ok(())
    }

    /// Puts files and branches back, and returns the error to report.
    fn restore(self, cause: RefreshError) -> RefreshError {
        let mut problems = Vec::new();
        let files: Vec<(PathBuf, Option<&[u8]>)> = self
            .files
            .iter()
            .map(|(path, content)| (path.clone(), content.as_deref()))
            .collect();
        // One file at a time, so that one that cannot be put back does not keep the others.
        for file in files {
            if let Err(error) = write_files(&[file]) {
                problems.push(error.to_string());
            }
        }
        let repo = &self.git.repo;
        let result = match (&self.git.head_branch, &self.bump_branch) {
            (Some(original), Some((bump, before))) if original != bump => repo
                .move_branch(original, &self.head)
                .and_then(|()| repo.check_out_branch(original))
                .and_then(|()| match before {
                    Some(commit) => repo.move_branch(bump, commit),
                    None => repo.delete_branch(bump),
                }),
            (Some(original), _) => repo.move_branch(original, &self.head),
            (None, Some((bump, before))) => {
                repo.detach_at(&self.head).and_then(|()| match before {
                    Some(commit) => repo.move_branch(bump, commit),
                    None => repo.delete_branch(bump),
                })
            }
            (None, None) => Ok(()),
        };
        if let Err(error) = result {
            problems.push(error.to_string());
        }
        if let Err(error) = repo.reset_index_to_head() {
            problems.push(error.to_string());
        }
        if problems.is_empty() {
            cause
        } else {
            RefreshError::RestoreFailed {
                cause: Box::new(cause),
                restore: problems.join("; "),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{ImageStatus, Route};
    use crate::test_fixture::fake_digest as digest;
    use crate::test_fixture::{CommitInfo, TestRepo, isolated_git_env};
    use bundle_gen::{Digest, Tag};

    /// An operator-written site config with comments, pinned to Tuwunel v1.9.3 and
    /// lk-jwt-service 0.6.0: bundle-gen's stable copy of the repository's `bundle.yaml` (the
    /// real one moves with every pin bump). Other YAML styles are `set_pin`'s tests' concern.
    const SITE: &str = include_str!("../../bundle-gen/tests/fixtures/configs/bundle.yaml");

    /// The digest SITE pins `image` to.
    fn site_digest(image: ImageName) -> Digest {
        let config = Config::from_yaml(SITE).expect("SITE is valid");
        config
            .raw()
            .images
            .get(image)
            .digest
            .clone()
            .expect("SITE pins digests")
    }

    fn tag(text: &str) -> Tag {
        text.parse().expect("tag")
    }

    /// A git repository holding SITE and its generated tree in one commit on `main`.
    struct Site {
        dir: tempfile::TempDir,
        git: TestRepo,
    }

    impl Site {
        fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            let git = crate::test_fixture::init_repo(dir.path());
            fs::write(dir.path().join("bundle.yaml"), SITE).expect("write");
            let config = Config::from_yaml(SITE).expect("SITE is valid");
            bundle_gen::render(&config)
                .expect("render")
                .write_to(dir.path())
                .expect("write tree");
            let site = Self { dir, git };
            site.commit_everything();
            site
        }

        fn commit_everything(&self) {
            crate::test_fixture::commit_all(&self.git, "site");
        }

        fn request(&self) -> RefreshRequest {
            RefreshRequest {
                config: self.dir.path().join("bundle.yaml"),
                commit: true,
                author: Some(Person {
                    name: "Pin Bot".to_owned(),
                    email: "pins@example.org".to_owned(),
                    when: Some(crate::git::When {
                        seconds: 1_750_000_000,
                        offset_minutes: 0,
                    }),
                }),
                git_env: isolated_git_env()
                    .into_iter()
                    .chain([(
                        "GIT_COMMITTER_DATE".to_owned(),
                        "1750000000 +0000".to_owned(),
                    )])
                    .collect(),
                ..RefreshRequest::default()
            }
        }

        fn head(&self) -> CommitInfo {
            self.git.head()
        }

        fn yaml(&self) -> String {
            fs::read_to_string(self.dir.path().join("bundle.yaml")).expect("read")
        }

        /// Every file of the work tree (not `.git`), to compare before and after.
        fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
            crate::test_fixture::files_below(self.dir.path())
        }
    }

    /// The registry's answer: the given images have a newer pin, the others are current.
    fn status(config_yaml: &str, newer: &[(ImageName, &str, Digest)]) -> StatusReport {
        let config = Config::from_yaml(config_yaml).expect("valid");
        let images = config
            .raw()
            .images
            .iter()
            .map(|(name, pin)| {
                let current = CurrentPin {
                    tag: pin.tag.clone(),
                    digest: pin.digest.clone(),
                };
                let found = newer.iter().find(|(image, ..)| *image == name);
                let latest = match found {
                    Some((_, new_tag, new_digest)) => Pin {
                        tag: tag(new_tag),
                        digest: new_digest.clone(),
                    },
                    None => Pin {
                        tag: pin.tag.clone().expect("tagged"),
                        digest: pin.digest.clone().expect("digested"),
                    },
                };
                ImageStatus {
                    name,
                    registry: pin.registry_host(None).to_owned(),
                    repository: pin.repository.clone(),
                    current,
                    latest: Some(latest),
                    update: found.is_some(),
                    route: Route::Semver,
                    held: None,
                    source_label: None,
                    waiting: None,
                }
            })
            .collect();
        StatusReport {
            images,
            failures: Vec::new(),
            requests: BTreeMap::new(),
            retries: BTreeMap::new(),
        }
    }

    /// `refresh` after its registry lookup, with a given answer.
    fn run(
        request: &RefreshRequest,
        status: &StatusReport,
        renderer: &dyn TreeRenderer,
    ) -> Result<RefreshReport, RefreshError> {
        let prepared = prepare(request, renderer)?;
        let bumps = plan(&prepared, status, renderer)?;
        apply(request, &prepared, bumps, status)
    }

    fn two_bumps() -> StatusReport {
        status(
            SITE,
            &[
                (ImageName::HOMESERVER, "v1.9.4", digest('a')),
                (ImageName::LK_JWT, "0.7.0", digest('b')),
            ],
        )
    }

    #[test]
    fn a_dry_run_reports_the_bumps_and_changes_nothing() {
        let site = Site::new();
        let before = site.snapshot();
        let head = site.head().id;
        let request = RefreshRequest {
            commit: false,
            ..site.request()
        };
        let report = run(&request, &two_bumps(), &BundleGen).expect("refresh");
        assert!(report.dry_run);
        let images: Vec<&str> = report.bumps.iter().map(|b| b.image.key()).collect();
        assert_eq!(images, ["homeserver", "lkJwt"]);
        assert_eq!(report.bumps[0].commit, None);
        assert_eq!(site.snapshot(), before);
        assert_eq!(site.head().id, head);
    }

    /// [`two_bumps`], except that lk-jwt-service's registry failed.
    fn one_bump_and_one_failure() -> StatusReport {
        let mut report = two_bumps();
        report
            .images
            .retain(|image| image.name != ImageName::LK_JWT);
        report.failures.push(StatusError {
            image: ImageName::LK_JWT,
            registry: "ghcr.io".to_owned(),
            repository: "element-hq/lk-jwt-service".to_owned(),
            cause: Box::new(
                crate::registry::error::RegistryError::NotFound {
                    url: "https://ghcr.io/v2/element-hq/lk-jwt-service/tags/list".to_owned(),
                }
                .into(),
            ),
        });
        report
    }

    #[test]
    fn an_image_that_could_not_be_checked_is_reported_and_the_others_are_committed() {
        let site = Site::new();
        let start = site.head().id;
        let report =
            run(&site.request(), &one_bump_and_one_failure(), &BundleGen).expect("refresh");

        let images: Vec<&str> = report.bumps.iter().map(|b| b.image.key()).collect();
        assert_eq!(images, ["homeserver"]);
        assert_eq!(site.git.commit("HEAD~1").id, start);
        assert_eq!(report.bumps[0].commit, Some(site.head().id.to_string()));
        assert_eq!(
            report.failed,
            [FailedImage {
                image: ImageName::LK_JWT,
                registry: "ghcr.io".to_owned(),
                repository: "element-hq/lk-jwt-service".to_owned(),
                current: CurrentPin {
                    tag: Config::from_yaml(SITE)
                        .expect("SITE is valid")
                        .raw()
                        .images
                        .get(ImageName::LK_JWT)
                        .tag
                        .clone(),
                    digest: Some(site_digest(ImageName::LK_JWT)),
                },
                error: "https://ghcr.io/v2/element-hq/lk-jwt-service/tags/list: not found \
                        (HTTP 404)"
                    .to_owned(),
            }]
        );
        // lk-jwt-service keeps its pin.
        assert!(
            site.yaml()
                .contains(site_digest(ImageName::LK_JWT).as_str())
        );
        assert!(site.git.open().is_clean().expect("status"));
    }

    #[test]
    fn each_bumped_image_gets_one_commit_with_the_config_and_the_regenerated_tree() {
        let site = Site::new();
        let start = site.head().id;
        let report = run(&site.request(), &two_bumps(), &BundleGen).expect("refresh");

        let last = site.head();
        let first = site.git.commit("HEAD~1");
        assert_eq!(first.parents, [start]);
        assert_eq!(report.bumps[0].commit, Some(first.id.to_string()));
        assert_eq!(report.bumps[1].commit, Some(last.id.to_string()));
        assert_eq!(report.branch.as_deref(), Some("main"));
        for commit in [&first, &last] {
            assert_eq!(
                site.git.changed_paths(commit.id.as_str()),
                ["base/kustomization.yaml", "bundle.yaml"]
            );
        }
        // The whole messages are the snapshots of the CLI's end-to-end refresh; here: the
        // pins first, the notes between, the trailers last.
        assert!(
            first.message.starts_with(&format!(
                "chore(pins): bump tuwunel v1.9.3 -> v1.9.4\n\nimages.homeserver:\n  \
                 old: v1.9.3@{}\n  new: v1.9.4@{}\n\nRelease notes:\n\
                 https://github.com/matrix-construct/tuwunel/releases/tag/v1.9.4\n\n",
                site_digest(ImageName::HOMESERVER),
                digest('a'),
            )),
            "{}",
            first.message
        );
        assert!(
            first.message.ends_with(&format!(
                "\n\nBundle-Image: homeserver\nBundle-Digest: {}\n",
                digest('a')
            )),
            "{}",
            first.message
        );
        assert!(
            last.message
                .starts_with("chore(pins): bump lk-jwt-service 0.6.0 -> 0.7.0")
        );
        assert_eq!(last.author_name(), "Pin Bot");
        assert_eq!(last.author_when().0, 1_750_000_000);
        assert_eq!(last.committer_when().0, 1_750_000_000);

        // The work tree is clean, bundle.yaml differs only in the two pins' values, and the
        // committed tree is exactly what the new config generates.
        let repo = site.git.open();
        assert!(repo.is_clean().expect("status"));
        let expected_yaml = SITE
            .replacen("tag: v1.9.3", "tag: v1.9.4", 1)
            .replacen(
                site_digest(ImageName::HOMESERVER).as_str(),
                digest('a').as_str(),
                1,
            )
            .replacen("tag: 0.6.0", "tag: 0.7.0", 1)
            .replacen(
                site_digest(ImageName::LK_JWT).as_str(),
                digest('b').as_str(),
                1,
            );
        assert_eq!(site.yaml(), expected_yaml);
        let config = Config::from_yaml(&site.yaml()).expect("valid");
        let check = bundle_gen::render(&config)
            .expect("render")
            .check(site.dir.path())
            .expect("check");
        assert!(check.is_clean(), "{check:?}");
        let kustomization =
            fs::read_to_string(site.dir.path().join("base/kustomization.yaml")).expect("read");
        assert!(kustomization.contains(&format!("v1.9.4@{}", digest('a'))));
        assert!(kustomization.contains(&format!("0.7.0@{}", digest('b'))));
    }

    #[test]
    fn the_edited_config_equals_the_old_one_with_only_the_pins_changed() {
        let site = Site::new();
        run(&site.request(), &two_bumps(), &BundleGen).expect("refresh");
        let mut expected = Config::from_yaml(SITE).expect("valid").raw().clone();
        for (name, new_tag, new_digest) in [
            (ImageName::HOMESERVER, "v1.9.4", digest('a')),
            (ImageName::LK_JWT, "0.7.0", digest('b')),
        ] {
            let pin = expected.images.get_mut(name);
            pin.tag = Some(tag(new_tag));
            pin.digest = Some(new_digest);
        }
        assert_eq!(
            Config::from_yaml(&site.yaml()).expect("valid").raw(),
            &expected
        );
    }

    #[test]
    fn no_newer_pin_means_no_commit_and_no_change() {
        let site = Site::new();
        let before = site.snapshot();
        let head = site.head().id;
        let request = RefreshRequest {
            branch: Some("bundle/pin-bumps".to_owned()),
            ..site.request()
        };
        let report = run(&request, &status(SITE, &[]), &BundleGen).expect("refresh");
        assert!(report.bumps.is_empty());
        assert_eq!(report.branch, None);
        assert_eq!(site.head().id, head);
        assert_eq!(site.snapshot(), before);
        assert!(
            site.git.branch("bundle/pin-bumps").is_none(),
            "no branch is created when there is nothing to commit"
        );
    }

    #[test]
    fn a_second_run_against_the_same_registry_adds_nothing() {
        let site = Site::new();
        run(&site.request(), &two_bumps(), &BundleGen).expect("first run");
        let head = site.head().id;
        // The registry still offers the same pins, which bundle.yaml now holds.
        let again = status(&site.yaml(), &[]);
        let report = run(&site.request(), &again, &BundleGen).expect("second run");
        assert!(report.bumps.is_empty());
        assert_eq!(site.head().id, head);
    }

    #[test]
    fn a_branch_is_created_from_head_and_the_original_branch_is_left_alone() {
        let site = Site::new();
        let start = site.head().id;
        let request = RefreshRequest {
            branch: Some("bundle/pin-bumps".to_owned()),
            ..site.request()
        };
        let report = run(&request, &two_bumps(), &BundleGen).expect("refresh");
        assert_eq!(report.branch.as_deref(), Some("bundle/pin-bumps"));
        assert_eq!(site.git.branch("main"), Some(start.clone()));
        let repo = site.git.open();
        assert_eq!(
            repo.head_branch().expect("head").as_deref(),
            Some("bundle/pin-bumps")
        );
        assert_eq!(site.git.commit("HEAD~1").parents, [start]);
    }

    fn assert_refused_without_changes(
        site: &Site,
        request: &RefreshRequest,
        status: &StatusReport,
        renderer: &dyn TreeRenderer,
    ) -> RefreshError {
        let before = site.snapshot();
        let head = site.head().id;
        let error = run(request, status, renderer).expect_err("must be refused");
        assert_eq!(site.snapshot(), before, "files changed after: {error}");
        assert_eq!(site.head().id, head, "a commit was made: {error}");
        error
    }

    #[test]
    fn a_dirty_work_tree_is_refused() {
        let site = Site::new();
        fs::write(site.dir.path().join("notes.txt"), "mine").expect("write");
        let error =
            assert_refused_without_changes(&site, &site.request(), &two_bumps(), &BundleGen);
        assert!(
            matches!(&error, RefreshError::Dirty { paths } if paths == &[PathBuf::from("notes.txt")]),
            "{error}"
        );
    }

    #[test]
    fn a_detached_head_is_refused_without_a_branch_and_accepted_with_one() {
        let site = Site::new();
        site.git.detach_head();
        let error =
            assert_refused_without_changes(&site, &site.request(), &two_bumps(), &BundleGen);
        assert!(matches!(error, RefreshError::DetachedHead), "{error}");

        let request = RefreshRequest {
            branch: Some("bundle/pin-bumps".to_owned()),
            ..site.request()
        };
        let report = run(&request, &two_bumps(), &BundleGen).expect("refresh");
        assert_eq!(report.branch.as_deref(), Some("bundle/pin-bumps"));
    }

    #[test]
    fn an_untracked_config_is_refused() {
        let site = Site::new();
        fs::write(site.dir.path().join(".gitignore"), "bundle.yaml\n").expect("ignore");
        site.git.git(["rm", "--cached", "--quiet", "bundle.yaml"]);
        site.commit_everything();
        let error =
            assert_refused_without_changes(&site, &site.request(), &two_bumps(), &BundleGen);
        assert!(matches!(error, RefreshError::Untracked { .. }), "{error}");
    }

    #[test]
    fn an_out_of_date_tree_is_refused() {
        let site = Site::new();
        let kustomization = site.dir.path().join("base/kustomization.yaml");
        let mut text = fs::read_to_string(&kustomization).expect("read");
        text.push_str("# hand edit\n");
        fs::write(&kustomization, text).expect("write");
        site.commit_everything();
        let error =
            assert_refused_without_changes(&site, &site.request(), &two_bumps(), &BundleGen);
        assert!(
            matches!(&error, RefreshError::TreeOutOfDate { paths } if paths == &[PathBuf::from("base/kustomization.yaml")]),
            "{error}"
        );
    }

    #[test]
    fn a_leftover_generated_file_counts_as_an_out_of_date_tree() {
        let site = Site::new();
        let leftover = site.dir.path().join("overlays/retired/kustomization.yaml");
        fs::create_dir_all(leftover.parent().expect("parent")).expect("mkdir");
        fs::write(
            &leftover,
            format!(
                "{}\nresources: [../../base]\n",
                bundle_gen::GENERATED_HEADER
            ),
        )
        .expect("write");
        site.commit_everything();
        let error =
            assert_refused_without_changes(&site, &site.request(), &two_bumps(), &BundleGen);
        assert!(
            matches!(&error, RefreshError::TreeOutOfDate { paths } if paths == &[PathBuf::from("overlays/retired/kustomization.yaml")]),
            "{error}"
        );
    }

    /// Renders like `bundle gen`, but fails for a config pinning lk-jwt-service 0.7.0.
    struct FailsOnLkJwt070;

    impl TreeRenderer for FailsOnLkJwt070 {
        fn render_tree(&self, config: &Config) -> Result<RenderedFiles, RenderFailure> {
            if config.raw().images.get(ImageName::LK_JWT).tag == Some(tag("0.7.0")) {
                return Err("simulated renderer failure".into());
            }
            BundleGen.render_tree(config)
        }
    }

    #[test]
    fn a_failing_regeneration_for_a_later_image_commits_nothing() {
        let site = Site::new();
        let error =
            assert_refused_without_changes(&site, &site.request(), &two_bumps(), &FailsOnLkJwt070);
        assert!(
            matches!(
                error,
                RefreshError::Regenerate {
                    image: Some(image),
                    ..
                } if image == ImageName::LK_JWT
            ),
            "{error}"
        );
    }

    #[test]
    fn a_later_pin_that_cannot_be_edited_in_place_commits_nothing() {
        let site = Site::new();
        let tagged = SITE.replace("    tag: 0.6.0\n", "    tag: !!str 0.6.0\n");
        fs::write(site.dir.path().join("bundle.yaml"), &tagged).expect("write");
        site.commit_everything();
        let error =
            assert_refused_without_changes(&site, &site.request(), &two_bumps(), &BundleGen);
        assert!(
            matches!(
                error,
                RefreshError::Edit {
                    image,
                    source: EditError::Unsupported { .. }
                } if image == ImageName::LK_JWT
            ),
            "{error}"
        );
    }

    /// Where [`ExtraFileForLkJwt070`] puts its file.
    const EXTRA_FILE: &str = "base/extra/extra.yaml";

    /// Renders like `bundle gen`, plus [`EXTRA_FILE`] once lk-jwt-service is at 0.7.0.
    struct ExtraFileForLkJwt070;

    impl TreeRenderer for ExtraFileForLkJwt070 {
        fn render_tree(&self, config: &Config) -> Result<RenderedFiles, RenderFailure> {
            let mut tree = BundleGen.render_tree(config)?;
            if config.raw().images.get(ImageName::LK_JWT).tag == Some(tag("0.7.0")) {
                tree.insert(PathBuf::from(EXTRA_FILE), b"extra: true\n".to_vec());
            }
            Ok(tree)
        }
    }

    /// A committed user file at `base/extra`, where the second bump needs a directory: that
    /// bump's write fails after its `bundle.yaml` was staged, and after the first bump was
    /// committed.
    fn site_where_the_second_bump_cannot_be_written() -> Site {
        let site = Site::new();
        fs::write(site.dir.path().join("base/extra"), "mine\n").expect("write");
        site.commit_everything();
        site
    }

    fn assert_the_extra_directory_could_not_be_created(site: &Site, error: &RefreshError) {
        assert!(
            matches!(
                error,
                RefreshError::Write { action: "creating directory", path, .. }
                    if *path == site.dir.path().join("base/extra")
            ),
            "{error}"
        );
    }

    #[test]
    fn a_write_failure_after_a_commit_restores_files_and_branches() {
        let site = site_where_the_second_bump_cannot_be_written();
        let request = RefreshRequest {
            branch: Some("bundle/pin-bumps".to_owned()),
            ..site.request()
        };
        let error =
            assert_refused_without_changes(&site, &request, &two_bumps(), &ExtraFileForLkJwt070);
        assert_the_extra_directory_could_not_be_created(&site, &error);
        let repo = site.git.open();
        assert_eq!(repo.head_branch().expect("head").as_deref(), Some("main"));
        assert_eq!(
            repo.branch_commit("bundle/pin-bumps").expect("lookup"),
            None
        );
        assert!(repo.is_clean().expect("status"), "{:?}", repo.dirty_paths());
    }

    #[test]
    fn a_write_failure_after_a_commit_on_the_current_branch_moves_it_back() {
        // As above, but the bumps go on the branch HEAD is on (no --branch).
        let site = site_where_the_second_bump_cannot_be_written();
        let error = assert_refused_without_changes(
            &site,
            &site.request(),
            &two_bumps(),
            &ExtraFileForLkJwt070,
        );
        assert_the_extra_directory_could_not_be_created(&site, &error);
        let repo = site.git.open();
        assert_eq!(repo.head_branch().expect("head").as_deref(), Some("main"));
        assert!(repo.is_clean().expect("status"), "{:?}", repo.dirty_paths());
    }

    #[test]
    fn a_target_that_cannot_be_read_back_stops_the_refresh_before_it_is_written() {
        let site = Site::new();
        // An empty directory (invisible to git) where the second bump writes a file: what is
        // there could not be put back, so nothing is written over it.
        let target = site.dir.path().join(EXTRA_FILE);
        fs::create_dir_all(&target).expect("mkdir");
        let error = assert_refused_without_changes(
            &site,
            &site.request(),
            &two_bumps(),
            &ExtraFileForLkJwt070,
        );
        assert!(
            matches!(&error, RefreshError::Write { action: "reading", path, .. } if *path == target),
            "{error}"
        );
        let repo = site.git.open();
        assert!(repo.is_clean().expect("status"), "{:?}", repo.dirty_paths());
    }

    #[test]
    fn an_invalid_branch_name_is_refused_before_anything_else() {
        let site = Site::new();
        let request = RefreshRequest {
            branch: Some("bad..name".to_owned()),
            ..site.request()
        };
        let error = assert_refused_without_changes(&site, &request, &two_bumps(), &BundleGen);
        assert!(
            matches!(error, RefreshError::Git(GitError::InvalidBranch { .. })),
            "{error}"
        );
    }

    #[test]
    fn push_without_commit_is_refused() {
        let site = Site::new();
        let request = RefreshRequest {
            commit: false,
            push: Some(PushRequest {
                remote: "origin".to_owned(),
                token: None,
            }),
            ..site.request()
        };
        let error = assert_refused_without_changes(&site, &request, &two_bumps(), &BundleGen);
        assert!(matches!(error, RefreshError::PushWithoutCommit), "{error}");
    }

    #[test]
    fn a_failed_push_keeps_the_commits_and_names_the_branch_to_push() {
        let site = Site::new();
        let remote = site.dir.path().join("no-such-remote.git");
        let request = RefreshRequest {
            branch: Some("bundle/pin-bumps".to_owned()),
            push: Some(PushRequest {
                remote: remote.display().to_string(),
                token: None,
            }),
            ..site.request()
        };
        let error = run(&request, &two_bumps(), &BundleGen).expect_err("nothing to push to");
        assert!(
            matches!(
                &error,
                RefreshError::Push { branch, source: GitError::PushFailed { .. }, .. }
                    if branch == "bundle/pin-bumps"
            ),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with(
                "the bumps are committed on branch `bundle/pin-bumps`, but it was not pushed: "
            ),
            "{message}"
        );
        assert!(
            message.ends_with(&format!(
                "; fix the remote or its credentials, then push it with \
                 `git push --force {} bundle/pin-bumps`",
                remote.display()
            )),
            "{message}"
        );
        let repo = site.git.open();
        assert_eq!(
            repo.branch_commit("bundle/pin-bumps").expect("lookup"),
            Some(site.head().id)
        );
        assert!(
            site.head()
                .message
                .starts_with("chore(pins): bump lk-jwt-service"),
            "the bump commits stay"
        );
    }

    #[test]
    fn a_rebuild_of_the_same_tag_says_so_in_subject_and_body() {
        let old = CurrentPin {
            tag: Some(tag("v1.9.3")),
            digest: Some(digest('1')),
        };
        let new = Pin {
            tag: tag("v1.9.3"),
            digest: digest('2'),
        };
        let message = commit_message(ImageName::LIVEKIT, &old, &new, None);
        assert!(
            message.starts_with(
                "chore(pins): bump livekit v1.9.3 -> v1.9.3 (rebuild, new digest)\n\n"
            ),
            "{message}"
        );
        assert!(
            message.contains(
                "\nRebuild: `v1.9.3` was pushed again with a new build of the same version.\n"
            ),
            "{message}"
        );
        assert!(message.ends_with(&format!(
            "\n\nBundle-Image: livekit\nBundle-Digest: {}\n",
            digest('2')
        )));
    }

    #[test]
    fn the_rollout_note_goes_between_the_pins_and_the_trailers() {
        let old = CurrentPin {
            tag: Some(tag("v1.13.7")),
            digest: Some(digest('1')),
        };
        let new = Pin {
            tag: tag("v1.13.8"),
            digest: digest('2'),
        };
        let message = commit_message(ImageName::LIVEKIT, &old, &new, Some("A note.\n"));
        assert!(
            message.contains(&format!(
                "  new: v1.13.8@{}\n\nA note.\n\nBundle-Image: livekit\n",
                digest('2')
            )),
            "{message}"
        );
    }

    #[test]
    fn a_scaled_out_livekit_bump_message_says_its_nodes_drain_one_at_a_time() {
        let scaled = Config::from_yaml(include_str!(
            "../../bundle-gen/tests/fixtures/configs/scale-out.yaml"
        ))
        .expect("the scale-out fixture is valid");
        let old = CurrentPin {
            tag: Some(tag("v1.13.5")),
            digest: Some(digest('1')),
        };
        let new = Pin {
            tag: tag("v1.13.7"),
            digest: digest('2'),
        };
        let notes = crate::notes::bump_notes(
            &scaled,
            ImageName::LIVEKIT,
            "livekit/livekit-server",
            None,
            &old,
            &new,
        );
        insta::assert_snapshot!(commit_message(
            ImageName::LIVEKIT,
            &old,
            &new,
            notes.as_deref()
        ));
    }
}
