//! A small typed wrapper over the `git` command line: the few repository operations
//! `bundle pins refresh` needs, each refusing unsafe states with an error that says what to do.
//!
//! Why the command line rather than libgit2 (`git2`): libgit2's C source was the longest unit
//! of a cold build, and the operations here are a handful of plumbing commands on a small
//! repository; `git` is already needed to push. Each command runs in the work tree with the
//! variables that would point git at another repository (`GIT_DIR`, `GIT_INDEX_FILE`...)
//! removed, so the repository is the one found from the path, as with libgit2's discovery.
//!
//! Cleanliness: a work tree is clean when `git status` would show nothing, so modified,
//! staged, deleted, conflicted *and untracked* (not ignored) files all count as dirty. An
//! untracked file could be one the regeneration overwrites and then commits, so a refresh
//! would silently take it over; ignored files (build output) are fine.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64_STANDARD;

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// No repository at or above the path.
    #[error(
        "`{path}` is not inside a git repository: run `git init` there or pass a config inside a clone"
    )]
    NotARepository {
        /// The path that was searched from.
        path: PathBuf,
    },
    /// The repository has no work tree.
    #[error("the git repository at `{path}` is bare; run the refresh in a clone with a work tree")]
    Bare {
        /// The repository's git directory.
        path: PathBuf,
    },
    /// HEAD points at a branch without commits.
    #[error("the repository has no commit yet; commit bundle.yaml and the generated tree first")]
    NoCommits,
    /// A path is not inside the work tree.
    #[error("`{path}` is outside the work tree at `{workdir}`")]
    OutsideWorkTree {
        /// The offending path.
        path: PathBuf,
        /// The work tree.
        workdir: PathBuf,
    },
    /// A branch name git would refuse.
    #[error(
        "`{name}` is not a valid branch name; use letters, digits, `/`, `-`, `_` and `.`, e.g. `bundle/pin-bumps`"
    )]
    InvalidBranch {
        /// The rejected name.
        name: String,
    },
    /// The given paths hold no change against HEAD.
    #[error("nothing to commit: {paths} already match HEAD")]
    NothingToCommit {
        /// The paths, comma separated.
        paths: String,
    },
    /// No author or committer name/email is configured.
    #[error("no git identity for the {role}: set `user.name` and `user.email` (git config), `GIT_{upper}_NAME`/`GIT_{upper}_EMAIL`, or pass --author \"Name <email>\"", upper = role.to_uppercase())]
    MissingIdentity {
        /// `author` or `committer`.
        role: &'static str,
    },
    /// An identity or date string that cannot be read.
    #[error("`{value}` is not a valid {what}; {hint}")]
    InvalidIdentity {
        /// The rejected text.
        value: String,
        /// What it should have been.
        what: &'static str,
        /// How to write it.
        hint: &'static str,
    },
    /// `git push` failed (refused, unreachable, bad credentials).
    #[error("pushing to `{remote}` failed: {detail}")]
    PushFailed {
        /// The remote name or URL.
        remote: String,
        /// What git reported.
        detail: String,
    },
    /// The forge refused the push token (HTTP 401).
    #[error(
        "the forge at `{remote}` refused the push token (HTTP 401): check that it is the right token, has not expired or been revoked, and is given for this forge"
    )]
    PushTokenRefused {
        /// The remote name or URL.
        remote: String,
    },
    /// The forge took the push token but does not let it write (HTTP 403).
    #[error(
        "the forge at `{remote}` does not let the push token write to the repository (HTTP 403): give it write access to the repository's contents (`contents: write` for a GitHub token)"
    )]
    PushTokenCannotWrite {
        /// The remote name or URL.
        remote: String,
    },
    /// A push token was given for a remote that is not https.
    #[error("refusing to send the push token to `{url}`: tokens are only sent over https")]
    InsecureCredentials {
        /// The URL that asked for credentials.
        url: String,
    },
    /// The temporary index a commit is built in could not be created.
    #[error("cannot create a temporary git index for the commit: {source}")]
    TemporaryIndex {
        /// Why the temporary directory could not be made.
        source: io::Error,
    },
    /// A revision that names no commit of the repository.
    #[error(
        "`{revision}` names no commit of this repository: fetch it first (`git fetch origin`), or name a branch, tag or commit that exists"
    )]
    UnknownRevision {
        /// The revision as given.
        revision: String,
    },
    /// Any other git failure, with what was being done.
    #[error("git failed to {action}: {source}")]
    Git {
        /// What was being done, e.g. "read the index".
        action: &'static str,
        /// The failed command (boxed: it is large, and rare).
        source: Box<GitCommandError>,
    },
}

/// Why one `git` command failed.
#[derive(Debug, thiserror::Error)]
pub enum GitCommandError {
    /// The program could not be started.
    #[error("cannot run `git {subcommand}` ({source}); is git installed and on the PATH?")]
    Spawn {
        /// The git subcommand, e.g. `status`.
        subcommand: String,
        /// Why it could not be started.
        source: io::Error,
    },
    /// It ran and exited with an error.
    #[error("`git {subcommand}` exited with {status}{}", said(stderr))]
    Failed {
        /// The git subcommand, e.g. `status`.
        subcommand: String,
        /// How it exited.
        status: ExitStatus,
        /// What it wrote on stderr, trimmed.
        stderr: String,
    },
    /// It printed something that is not UTF-8 where text was expected.
    #[error("`git {subcommand}` printed output that is not UTF-8")]
    NotUtf8 {
        /// The git subcommand, e.g. `rev-parse`.
        subcommand: String,
        /// The decoding error.
        source: std::string::FromUtf8Error,
    },
}

impl GitCommandError {
    /// The exit code of a command that ran and failed.
    fn exit_code(&self) -> Option<i32> {
        match self {
            GitCommandError::Failed { status, .. } => status.code(),
            _ => None,
        }
    }
}

fn said(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

fn git(action: &'static str) -> impl FnOnce(GitCommandError) -> GitError {
    move |source| GitError::Git {
        action,
        source: Box::new(source),
    }
}

/// The variables that would make git use another repository, index or object store than the
/// one found from the work tree (set, for example, while a git hook runs).
const REPOSITORY_VARIABLES: [&str; 8] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
];

/// A `git` command run in `dir` with `env` on top of the process environment. No hook runs
/// (`core.hooksPath` at a path that holds none): a bump commit, a branch update or the push of
/// the scheduled job must not depend on scripts of the machine or the clone.
fn git_command(dir: &Path, env: &BTreeMap<String, String>) -> Command {
    let mut command = Command::new("git");
    command.args(["-c", "core.hooksPath=/dev/null"]);
    command.arg("-C").arg(dir);
    for variable in REPOSITORY_VARIABLES {
        command.env_remove(variable);
    }
    command.envs(env).stdin(Stdio::null());
    command
}

/// The first argument after git's own options: the subcommand, for messages.
fn subcommand_of(command: &Command) -> String {
    let mut args = command.get_args().map(OsStr::to_string_lossy);
    // `-c core.hooksPath=...` and `-C <dir>` come first (see `git_command`).
    args.find(|arg| arg == "-C");
    args.nth(1).map(|arg| arg.into_owned()).unwrap_or_default()
}

/// Runs `command`, feeding it `stdin` if given; its output if it succeeded.
fn run(mut command: Command, stdin: Option<&[u8]>) -> Result<Output, GitCommandError> {
    let subcommand = subcommand_of(&command);
    let spawn_error = |source| GitCommandError::Spawn {
        subcommand: subcommand.clone(),
        source,
    };
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = match stdin {
        None => command.output().map_err(spawn_error)?,
        Some(input) => {
            command.stdin(Stdio::piped());
            let mut child = command.spawn().map_err(spawn_error)?;
            let written = child
                .stdin
                .take()
                .map_or(Ok(()), |mut pipe| pipe.write_all(input));
            let output = child.wait_with_output().map_err(spawn_error)?;
            // A child that failed before reading its input reports why on stderr.
            if output.status.success() {
                written.map_err(spawn_error)?;
            }
            output
        }
    };
    if output.status.success() {
        Ok(output)
    } else {
        Err(GitCommandError::Failed {
            subcommand,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// Runs `command` and returns its stdout as text without the final line break.
fn run_text(command: Command) -> Result<String, GitCommandError> {
    let subcommand = subcommand_of(&command);
    let output = run(command, None)?;
    let mut text = String::from_utf8(output.stdout)
        .map_err(|source| GitCommandError::NotUtf8 { subcommand, source })?;
    if text.ends_with('\n') {
        text.pop();
    }
    Ok(text)
}

/// A commit's object name (hex), as git prints it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitId(String);

impl CommitId {
    /// The commit named by `hex`, an object name git printed.
    pub(crate) fn from_hex(hex: String) -> Self {
        Self(hex)
    }

    /// The object name in hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A commit as `git log` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoggedCommit {
    /// The commit.
    pub(crate) id: CommitId,
    /// Its parents, in order.
    pub(crate) parents: Vec<CommitId>,
    /// Its message.
    pub(crate) message: String,
}

impl LoggedCommit {
    /// The first line of the message.
    pub(crate) fn subject(&self) -> &str {
        self.message.lines().next().unwrap_or_default()
    }
}

/// A point in time as git records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// The time zone offset in minutes east of UTC.
    pub offset_minutes: i32,
}

impl When {
    /// Parses git's internal date format, `<unix seconds> <+hhmm|-hhmm>` or `@<unix seconds>`
    /// (as accepted in `GIT_AUTHOR_DATE` / `GIT_COMMITTER_DATE`).
    pub fn parse(text: &str) -> Result<Self, GitError> {
        let invalid = || GitError::InvalidIdentity {
            value: text.to_owned(),
            what: "git date",
            hint: "write `<unix seconds> +0000` or `@<unix seconds>`",
        };
        let text = text.trim();
        let mut parts = text.trim_start_matches('@').split_whitespace();
        let seconds = parts
            .next()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(invalid)?;
        let offset_minutes = match parts.next() {
            None => 0,
            Some(zone) => {
                let (sign, digits) = match zone.split_at_checked(1) {
                    Some(("+", digits)) => (1, digits),
                    Some(("-", digits)) => (-1, digits),
                    _ => return Err(invalid()),
                };
                let valid = digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit());
                let hhmm: i32 = digits.parse().ok().filter(|_| valid).ok_or_else(invalid)?;
                sign * (hhmm / 100 * 60 + hhmm % 100)
            }
        };
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(Self {
            seconds,
            offset_minutes,
        })
    }

    /// The time in the form git reads from `GIT_AUTHOR_DATE`: `@<unix seconds> <+hhmm|-hhmm>`.
    fn git_date(self) -> String {
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let offset = self.offset_minutes.unsigned_abs();
        format!(
            "@{} {sign}{:02}{:02}",
            self.seconds,
            offset / 60,
            offset % 60
        )
    }
}

/// A name and email for a commit's author or committer, and optionally a fixed time (else now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Fixed time of the signature; `None` means the time of the commit.
    pub when: Option<When>,
}

impl Person {
    /// Parses `Name <email>` as given to `--author`.
    pub fn parse(text: &str) -> Result<Self, GitError> {
        let invalid = || GitError::InvalidIdentity {
            value: text.to_owned(),
            what: "author",
            hint: "write `Name <email>`, e.g. `Pin Bot <pins@example.org>`",
        };
        let (name, rest) = text.split_once('<').ok_or_else(invalid)?;
        let email = rest.strip_suffix('>').ok_or_else(invalid)?;
        let name = name.trim();
        if name.is_empty() || email.is_empty() || email.contains(['<', '>']) {
            return Err(invalid());
        }
        Ok(Self {
            name: name.to_owned(),
            email: email.to_owned(),
            when: None,
        })
    }
}

/// Who a commit is by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identities {
    /// The commit's author.
    pub author: Person,
    /// The commit's committer.
    pub committer: Person,
}

impl Identities {
    /// Resolves author and committer the way `git commit` does: the explicit author if given,
    /// else `GIT_AUTHOR_NAME`/`GIT_AUTHOR_EMAIL`, else the repository's git config; the committer
    /// from `GIT_COMMITTER_*`, else git config, else the author. `GIT_AUTHOR_DATE` and
    /// `GIT_COMMITTER_DATE` fix the times. `env` looks up an environment variable.
    pub fn resolve(
        repo: &Repo,
        explicit_author: Option<Person>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, GitError> {
        let config = repo.configured_person()?;
        let from_env = |role: &str| match (
            env(&format!("GIT_{role}_NAME")),
            env(&format!("GIT_{role}_EMAIL")),
        ) {
            (Some(name), Some(email)) => Some(Person {
                name,
                email,
                when: None,
            }),
            _ => None,
        };
        let date = |role: &str| {
            env(&format!("GIT_{role}_DATE"))
                .map(|d| When::parse(&d))
                .transpose()
        };

        let mut author = explicit_author
            .or_else(|| from_env("AUTHOR"))
            .or_else(|| config.clone())
            .ok_or(GitError::MissingIdentity { role: "author" })?;
        author.when = author.when.or(date("AUTHOR")?);
        let mut committer = from_env("COMMITTER")
            .or(config)
            .unwrap_or_else(|| author.clone());
        committer.when = date("COMMITTER")?;
        Ok(Self { author, committer })
    }
}

/// Refuses a branch name git would refuse (`a..b`, `-x`, `x.lock`, spaces...): the rules of
/// `git check-ref-format --branch` for a new branch, and never `HEAD` or a leading `-`.
pub fn validate_branch_name(name: &str) -> Result<(), GitError> {
    let invalid = || GitError::InvalidBranch {
        name: name.to_owned(),
    };
    if name.is_empty() || name == "HEAD" || name.starts_with('-') {
        return Err(invalid());
    }
    let mut command = git_command(Path::new("."), &BTreeMap::new());
    command
        .arg("check-ref-format")
        .arg(format!("refs/heads/{name}"));
    match run(command, None) {
        Ok(_) => Ok(()),
        Err(error) if error.exit_code() == Some(1) => Err(invalid()),
        Err(error) => Err(git("check the branch name")(error)),
    }
}

/// An open repository with a work tree.
pub struct Repo {
    workdir: PathBuf,
    /// Variables set for every git command, on top of the process environment.
    env: BTreeMap<String, String>,
}

impl Repo {
    /// Opens the repository containing `path` (a file or directory inside its work tree).
    pub fn open(path: &Path) -> Result<Self, GitError> {
        Self::open_with_env(path, &BTreeMap::new())
    }

    /// [`Repo::open`], with `env` set for every git command run on the repository (on top of
    /// the process environment): the identity variables a caller read, or a test's isolation
    /// from the machine's git config.
    pub fn open_with_env(path: &Path, env: &BTreeMap<String, String>) -> Result<Self, GitError> {
        let start = if path.is_file() {
            path.parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
        } else {
            path
        };
        let mut command = git_command(start, env);
        command.args(["rev-parse", "--is-bare-repository", "--absolute-git-dir"]);
        let found = run_text(command).map_err(|error| match error {
            GitCommandError::Failed { .. } => GitError::NotARepository {
                path: path.to_owned(),
            },
            other => git("find the repository")(other),
        })?;
        let mut lines = found.lines();
        if lines.next() == Some("true") {
            return Err(GitError::Bare {
                path: PathBuf::from(lines.next().unwrap_or_default()),
            });
        }
        let mut command = git_command(start, env);
        command.args(["rev-parse", "--show-toplevel"]);
        let workdir = run_text(command).map_err(git("find the work tree"))?;
        Ok(Self {
            workdir: PathBuf::from(workdir),
            env: env.clone(),
        })
    }

    /// A git command in the work tree.
    fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = git_command(&self.workdir, &self.env);
        command.args(args);
        command
    }

    /// `path` relative to the work tree root; relative paths are taken from the work tree root.
    pub(crate) fn relative(&self, path: &Path) -> Result<PathBuf, GitError> {
        if path.is_relative() {
            return Ok(path.to_owned());
        }
        let workdir = self
            .workdir
            .canonicalize()
            .unwrap_or_else(|_| self.workdir.clone());
        let absolute = match (path.parent(), path.file_name()) {
            (Some(parent), Some(name)) => parent
                .canonicalize()
                .map(|parent| parent.join(name))
                .unwrap_or_else(|_| path.to_owned()),
            _ => path.to_owned(),
        };
        absolute
            .strip_prefix(&workdir)
            .map(Path::to_owned)
            .map_err(|_| GitError::OutsideWorkTree {
                path: path.to_owned(),
                workdir: self.workdir.clone(),
            })
    }

    /// The paths `git status` would list (see the module documentation), sorted.
    pub fn dirty_paths(&self) -> Result<Vec<PathBuf>, GitError> {
        let command = self.command([
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--no-renames",
        ]);
        let output = run(command, None).map_err(git("read the work tree status"))?;
        // Entries are `XY <path>` separated by NUL; without rename detection, one path each.
        let mut paths: Vec<PathBuf> = output
            .stdout
            .split(|&byte| byte == 0)
            .filter_map(|entry| entry.get(3..).filter(|path| !path.is_empty()))
            .map(|path| PathBuf::from(String::from_utf8_lossy(path).into_owned()))
            .collect();
        paths.sort();
        Ok(paths)
    }

    /// Whether the work tree and index match HEAD, with no untracked files.
    pub fn is_clean(&self) -> Result<bool, GitError> {
        Ok(self.dirty_paths()?.is_empty())
    }

    /// The branch HEAD points at, `None` when HEAD is detached.
    pub fn head_branch(&self) -> Result<Option<String>, GitError> {
        let reference = match run_text(self.command(["symbolic-ref", "-q", "HEAD"])) {
            Ok(reference) => reference,
            // Exit code 1: HEAD is not a symbolic reference, i.e. detached.
            Err(error) if error.exit_code() == Some(1) => return Ok(None),
            Err(error) => return Err(git("read HEAD")(error)),
        };
        self.head_commit()?;
        Ok(Some(
            reference
                .strip_prefix("refs/heads/")
                .unwrap_or(&reference)
                .to_owned(),
        ))
    }

    /// The commit HEAD points at.
    pub(crate) fn head_commit(&self) -> Result<CommitId, GitError> {
        match run_text(self.command(["rev-parse", "-q", "--verify", "HEAD^{commit}"])) {
            Ok(id) => Ok(CommitId::from_hex(id)),
            // Exit code 1 with `--verify -q`: HEAD names no commit, its branch is unborn.
            Err(error) if error.exit_code() == Some(1) => Err(GitError::NoCommits),
            Err(error) => Err(git("read HEAD")(error)),
        }
    }

    /// Whether `path` (relative to the work tree, or absolute inside it) is in the index.
    pub fn is_tracked(&self, path: &Path) -> Result<bool, GitError> {
        let relative = self.relative(path)?;
        let mut command = self.command(["ls-files", "-z", "--"]);
        command.arg(literal_pathspec(&relative));
        let output = run(command, None).map_err(git("read the index"))?;
        let wanted = relative.to_string_lossy();
        // A directory's files are listed too; only the path itself counts.
        Ok(output
            .stdout
            .split(|&byte| byte == 0)
            .any(|listed| String::from_utf8_lossy(listed) == wanted))
    }

    /// The commit `revision` (a branch, tag, `origin/main`, a commit name) names.
    pub fn resolve_commit(&self, revision: &str) -> Result<CommitId, GitError> {
        let mut command = self.command(["rev-parse", "-q", "--verify", "--end-of-options"]);
        command.arg(format!("{revision}^{{commit}}"));
        match run_text(command) {
            Ok(id) => Ok(CommitId::from_hex(id)),
            // Exit code 1 with `--verify -q`: the revision names no commit.
            Err(error) if error.exit_code() == Some(1) => Err(GitError::UnknownRevision {
                revision: revision.to_owned(),
            }),
            Err(error) => Err(git("resolve a revision")(error)),
        }
    }

    /// The text of `path` (relative to the work tree, or absolute inside it) in `commit`;
    /// `None` when the commit has no such file.
    pub fn file_at(&self, commit: &CommitId, path: &Path) -> Result<Option<String>, GitError> {
        let relative = self.relative(path)?;
        let object = format!("{}:{}", commit.as_str(), relative.to_string_lossy());
        // `cat-file -e` exits non-zero, silently, when the object does not exist.
        if run(self.command(["cat-file", "-e", object.as_str()]), None).is_err() {
            return Ok(None);
        }
        let output = run(self.command(["cat-file", "blob", object.as_str()]), None)
            .map_err(git("read a file of a commit"))?;
        String::from_utf8(output.stdout)
            .map(Some)
            .map_err(|source| {
                git("read a file of a commit")(GitCommandError::NotUtf8 {
                    subcommand: "cat-file".to_owned(),
                    source,
                })
            })
    }

    /// The values of the trailer `key` (e.g. `Bundle-Allow`) of every commit reachable from
    /// HEAD but not from `since`, as git parses trailers (the last paragraph of the message).
    pub fn trailer_values(&self, since: &CommitId, key: &str) -> Result<Vec<String>, GitError> {
        let format = format!("--format=%(trailers:key={key},valueonly)");
        let range = format!("{}..HEAD", since.as_str());
        let text = run_text(self.command(["log", format.as_str(), range.as_str()]))
            .map_err(git("read the trailers of the commits"))?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// The newest `limit` commits reachable from HEAD, newest first (merged branches
    /// included, in git's date order).
    pub(crate) fn log_head(&self, limit: usize) -> Result<Vec<LoggedCommit>, GitError> {
        self.head_commit()?;
        self.log(["HEAD".to_owned()], limit)
    }

    /// The newest `limit` commits reachable from `tip` but not from `base`, newest first:
    /// what a merge of `tip` into `base` brought in.
    pub(crate) fn log_range(
        &self,
        base: &CommitId,
        tip: &CommitId,
        limit: usize,
    ) -> Result<Vec<LoggedCommit>, GitError> {
        self.log([format!("{base}..{tip}")], limit)
    }

    /// The commit `id`, `None` when the repository does not have it (a revert can name a
    /// commit of a branch that was never fetched).
    pub(crate) fn log_commit(&self, id: &CommitId) -> Result<Option<LoggedCommit>, GitError> {
        let mut exists = self.command(["cat-file", "-e"]);
        exists.arg(format!("{id}^{{commit}}"));
        if run(exists, None).is_err() {
            return Ok(None);
        }
        Ok(self
            .log(["--no-walk".to_owned(), id.to_string()], 1)?
            .into_iter()
            .next())
    }

    /// `git log` of `revisions`: each commit's id, parents and message, NUL-separated so
    /// that no message can break the parsing.
    fn log<I>(&self, revisions: I, limit: usize) -> Result<Vec<LoggedCommit>, GitError>
    where
        I: IntoIterator<Item = String>,
    {
        let mut command = self.command(["log", "-z", "--format=%H %P%n%B"]);
        command
            .arg(format!("--max-count={limit}"))
            .args(revisions)
            .arg("--");
        let output = run(command, None).map_err(git("read the history"))?;
        Ok(output
            .stdout
            .split(|&byte| byte == 0)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let text = String::from_utf8_lossy(entry);
                let (ids, message) = text.split_once('\n').unwrap_or((&text, ""));
                let mut ids = ids.split(' ').filter(|id| !id.is_empty());
                let id = CommitId::from_hex(ids.next().unwrap_or_default().to_owned());
                LoggedCommit {
                    id,
                    parents: ids.map(|id| CommitId::from_hex(id.to_owned())).collect(),
                    message: message.to_owned(),
                }
            })
            .collect())
    }

    /// A config value as git reads it (system, global and repository config), if set.
    fn config_value(&self, key: &str) -> Result<Option<String>, GitError> {
        match run_text(self.command(["config", "--get", key])) {
            Ok(value) => Ok(Some(value)),
            // Exit code 1: the key is not set.
            Err(error) if error.exit_code() == Some(1) => Ok(None),
            Err(error) => Err(git("read the git config")(error)),
        }
    }

    /// The identity in the repository's git config (`user.name`, `user.email`), if complete.
    fn configured_person(&self) -> Result<Option<Person>, GitError> {
        let name = self.config_value("user.name")?;
        let email = self.config_value("user.email")?;
        Ok(name.zip(email).map(|(name, email)| Person {
            name,
            email,
            when: None,
        }))
    }

    /// Commits the current work-tree content of exactly `paths` (relative to the work tree; a
    /// path that no longer exists is removed) on top of HEAD, moves HEAD's branch to the new
    /// commit, and stages the same content so the work tree stays clean. Other changes are
    /// not included. Returns the new commit.
    ///
    /// The commit's tree is built in a temporary index that starts as HEAD's tree, so what
    /// else is staged does not reach the commit.
    pub fn commit_paths(
        &self,
        paths: &[PathBuf],
        message: &str,
        who: &Identities,
    ) -> Result<CommitId, GitError> {
        let head = self.head_commit()?;
        let relative = paths
            .iter()
            .map(|path| self.relative(path))
            .collect::<Result<Vec<_>, _>>()?;
        let scratch = tempfile::tempdir().map_err(|source| GitError::TemporaryIndex { source })?;
        let scratch_index = scratch.path().join("index");
        let in_scratch = |mut command: Command| {
            command.env("GIT_INDEX_FILE", &scratch_index);
            command
        };

        let mut read_tree = in_scratch(self.command(["read-tree"]));
        read_tree.arg(head.as_str());
        run(read_tree, None).map_err(git("read the HEAD tree"))?;
        for command in self.stage_commands(&relative) {
            run(in_scratch(command), None).map_err(git("stage a file"))?;
        }
        let tree = run_text(in_scratch(self.command(["write-tree"])))
            .map_err(git("build the commit tree"))?;
        let mut head_tree = self.command(["rev-parse", "--verify"]);
        head_tree.arg(format!("{head}^{{tree}}"));
        let head_tree = run_text(head_tree).map_err(git("read the HEAD tree"))?;
        if tree == head_tree {
            return Err(GitError::NothingToCommit {
                paths: paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }

        // `commit-tree` runs no hooks and, with `--no-gpg-sign`, signs nothing: the commit is
        // exactly the tree, parent, identities and message given.
        let mut commit_tree = self.command(["commit-tree", "--no-gpg-sign", "-F", "-", "-p"]);
        commit_tree.arg(head.as_str()).arg(&tree);
        for (role, person) in [("AUTHOR", &who.author), ("COMMITTER", &who.committer)] {
            commit_tree
                .env(format!("GIT_{role}_NAME"), &person.name)
                .env(format!("GIT_{role}_EMAIL"), &person.email);
            match person.when {
                Some(when) => commit_tree.env(format!("GIT_{role}_DATE"), when.git_date()),
                None => commit_tree.env_remove(format!("GIT_{role}_DATE")),
            };
        }
        let output =
            run(commit_tree, Some(message.as_bytes())).map_err(git("create the commit"))?;
        let commit = CommitId::from_hex(String::from_utf8_lossy(&output.stdout).trim().to_owned());

        let subject = message.lines().next().unwrap_or_default();
        let mut update_head = self.command(["update-ref", "-m"]);
        update_head.arg(format!("commit: {subject}")).args([
            "HEAD",
            commit.as_str(),
            head.as_str(),
        ]);
        run(update_head, None).map_err(git("move the branch to the new commit"))?;
        for command in self.stage_commands(&relative) {
            run(command, None).map_err(git("write the index"))?;
        }
        Ok(commit)
    }

    /// The `update-index` commands that make the index hold the work tree's content of
    /// `paths`: files are added or updated, any other path (gone, or not a file) is removed.
    fn stage_commands(&self, paths: &[PathBuf]) -> Vec<Command> {
        let (files, others): (Vec<&PathBuf>, Vec<&PathBuf>) = paths
            .iter()
            .partition(|path| self.workdir.join(path).is_file());
        let mut commands = Vec::new();
        if !files.is_empty() {
            let mut add = self.command(["update-index", "--add", "--"]);
            add.args(files);
            commands.push(add);
        }
        if !others.is_empty() {
            // Removing a path that is not in the index is not an error: nothing to stage.
            let mut remove = self.command(["update-index", "--force-remove", "--"]);
            remove.args(others);
            commands.push(remove);
        }
        commands
    }

    /// Points branch `name` at the current HEAD commit (creating it, or resetting it if it
    /// exists) and checks it out. The work tree is not touched: it already matches HEAD.
    pub fn reset_branch(&self, name: &str) -> Result<(), GitError> {
        validate_branch_name(name)?;
        let head = self.head_commit()?;
        let current = self.head_branch()?;
        if current.as_deref() == Some(name) {
            return Ok(());
        }
        let mut branch = self.command(["branch", "--force", "--no-track"]);
        branch.arg(name).arg(head.as_str());
        run(branch, None).map_err(git("create the branch"))?;
        self.check_out_branch(name)
    }

    /// The commit a local branch points at, if the branch exists.
    pub fn branch_commit(&self, name: &str) -> Result<Option<CommitId>, GitError> {
        let mut command = self.command(["rev-parse", "-q", "--verify"]);
        command.arg(format!("refs/heads/{name}^{{commit}}"));
        match run_text(command) {
            Ok(id) => Ok(Some(CommitId::from_hex(id))),
            // Exit code 1 with `--verify -q`: no such branch.
            Err(error) if error.exit_code() == Some(1) => Ok(None),
            Err(error) => Err(git("look up the branch")(error)),
        }
    }

    /// Points local branch `name` at `commit` (creating it if needed), without touching the
    /// work tree or HEAD, also for the branch HEAD is on. The commit must exist.
    pub(crate) fn move_branch(&self, name: &str, commit: &CommitId) -> Result<(), GitError> {
        let mut command = self.command([
            "update-ref",
            "-m",
            "bundle pins refresh: restore the branch",
        ]);
        command
            .arg(format!("refs/heads/{name}"))
            .arg(format!("{commit}^{{commit}}"));
        run(command, None).map(drop).map_err(git("move the branch"))
    }

    /// Makes HEAD point at branch `name` (the work tree is not touched).
    pub(crate) fn check_out_branch(&self, name: &str) -> Result<(), GitError> {
        let mut command = self.command(["symbolic-ref", "HEAD"]);
        command.arg(format!("refs/heads/{name}"));
        run(command, None)
            .map(drop)
            .map_err(git("check out the branch"))
    }

    /// Detaches HEAD at `commit` (the work tree is not touched).
    pub(crate) fn detach_at(&self, commit: &CommitId) -> Result<(), GitError> {
        let mut command = self.command([
            "update-ref",
            "--no-deref",
            "-m",
            "bundle pins refresh: detach HEAD",
            "HEAD",
        ]);
        command.arg(format!("{commit}^{{commit}}"));
        run(command, None).map(drop).map_err(git("detach HEAD"))
    }

    /// Deletes local branch `name`; a missing branch is not an error. The branch HEAD is on
    /// is refused.
    pub(crate) fn delete_branch(&self, name: &str) -> Result<(), GitError> {
        if self.branch_commit(name)?.is_none() {
            return Ok(());
        }
        let mut command = self.command(["branch", "--delete", "--force"]);
        command.arg(name);
        run(command, None)
            .map(drop)
            .map_err(git("delete the branch"))
    }

    /// Makes the index match the HEAD commit's tree (unstages everything).
    pub(crate) fn reset_index_to_head(&self) -> Result<(), GitError> {
        let head = self.head_commit()?;
        let mut command = self.command(["read-tree"]);
        command.arg(head.as_str());
        run(command, None).map(drop).map_err(git("reset the index"))
    }

    /// The URL `git push` would use for `remote`: its `pushurl`, else its `url`; `None` when
    /// no remote of that name is configured (then `remote` is a URL or path itself).
    fn configured_push_url(&self, remote: &str) -> Result<Option<String>, GitError> {
        let push_url = self.config_value(&format!("remote.{remote}.pushurl"))?;
        match push_url {
            Some(url) => Ok(Some(url)),
            None => self.config_value(&format!("remote.{remote}.url")),
        }
    }

    /// Force-pushes local `branch` to the same branch on `remote` (a configured remote name or
    /// a URL/path). The bump branch belongs to the bot and is rebuilt from HEAD on every run,
    /// so it is overwritten. `token`, if given, is sent as an HTTPS Basic credential (user
    /// `x-access-token`, as GitHub expects) to that URL only, and never over any other
    /// transport. The token travels in the child's environment (`GIT_CONFIG_*`), never on its
    /// command line.
    pub fn push(&self, remote: &str, branch: &str, token: Option<&str>) -> Result<(), GitError> {
        let url = match self.configured_push_url(remote) {
            Ok(Some(url)) if !url.is_empty() => url,
            Ok(Some(_)) => {
                return Err(GitError::PushFailed {
                    remote: remote.to_owned(),
                    detail: "the remote has an empty URL".to_owned(),
                });
            }
            // Not a configured remote (or not a name git config can hold): a URL or path.
            Ok(None) | Err(_) => remote.to_owned(),
        };
        // `--no-signed`: a user's `push.gpgSign` would make the push fail on forges that do not
        // take signed pushes.
        let mut command = self.command(["push", "--porcelain", "--quiet", "--no-signed", "--"]);
        command
            .arg(&url)
            .arg(format!("+refs/heads/{branch}:refs/heads/{branch}"))
            .env("GIT_TERMINAL_PROMPT", "0");
        if let Some(token) = token {
            if !url.starts_with("https://") {
                return Err(GitError::InsecureCredentials { url });
            }
            let credential = BASE64_STANDARD.encode(format!("x-access-token:{token}"));
            let header_key = format!("http.{url}.extraHeader");
            let settings = [
                // An empty value first empties the list of extra headers: a credential that
                // actions/checkout left in the clone's config (`http.https://github.com/
                // .extraheader`) would otherwise be sent beside the token.
                (header_key.clone(), String::new()),
                (header_key, format!("Authorization: Basic {credential}")),
                // A redirect must not carry the credential to another host.
                ("http.followRedirects".to_owned(), "false".to_owned()),
            ];
            // Added after the settings the environment already passes this way (a runner's
            // `safe.directory`, say), which must keep working.
            let passed = self
                .env
                .get("GIT_CONFIG_COUNT")
                .cloned()
                .or_else(|| std::env::var("GIT_CONFIG_COUNT").ok())
                .and_then(|count| count.trim().parse::<usize>().ok())
                .unwrap_or(0);
            for (offset, (key, value)) in settings.iter().enumerate() {
                command
                    .env(format!("GIT_CONFIG_KEY_{}", passed + offset), key)
                    .env(format!("GIT_CONFIG_VALUE_{}", passed + offset), value);
            }
            command.env("GIT_CONFIG_COUNT", (passed + settings.len()).to_string());
        }
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let output = command.output().map_err(|error| GitError::PushFailed {
            remote: remote.to_owned(),
            detail: format!("cannot run `git push` ({error}); is git installed?"),
        })?;
        if output.status.success() {
            return Ok(());
        }
        let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
        if token.is_some() {
            let stderr = said(&output.stderr);
            // git has no exit code per HTTP status; these are its messages for a 401 (after
            // which it finds no other credential, prompts being off) and a 403.
            let refused = [
                "returned error: 401",
                "terminal prompts disabled",
                "Authentication failed",
            ];
            if refused.iter().any(|message| stderr.contains(message)) {
                return Err(GitError::PushTokenRefused {
                    remote: remote.to_owned(),
                });
            }
            if stderr.contains("returned error: 403") {
                return Err(GitError::PushTokenCannotWrite {
                    remote: remote.to_owned(),
                });
            }
        }
        let detail = [said(&output.stderr), said(&output.stdout)]
            .into_iter()
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        Err(GitError::PushFailed {
            remote: remote.to_owned(),
            detail,
        })
    }
}

/// `path` as a pathspec that matches only itself (no globbing, from the work tree root).
fn literal_pathspec(path: &Path) -> std::ffi::OsString {
    let mut spec = std::ffi::OsString::from(":(top,literal)");
    spec.push(path);
    spec
}
