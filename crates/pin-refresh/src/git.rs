//! A small typed wrapper over git2: the few repository operations `bundle pins refresh` needs,
//! each refusing unsafe states with an error that says what to do.
//!
//! Cleanliness: a work tree is clean when `git status` would show nothing, so modified,
//! staged, deleted, conflicted *and untracked* (not ignored) files all count as dirty. An
//! untracked file could be one the regeneration overwrites and then commits, so a refresh
//! would silently take it over; ignored files (build output) are fine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64_STANDARD;
use git2::{BranchType, ErrorCode, Oid, Status};

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
    /// A push token was given for a remote that is not https.
    #[error("refusing to send the push token to `{url}`: tokens are only sent over https")]
    InsecureCredentials {
        /// The URL that asked for credentials.
        url: String,
    },
    /// Any other libgit2 failure, with what was being done.
    #[error("git failed to {action}: {source}")]
    Git {
        /// What was being done, e.g. "read the index".
        action: &'static str,
        /// The libgit2 error.
        source: git2::Error,
    },
}

fn git(action: &'static str) -> impl FnOnce(git2::Error) -> GitError {
    move |source| GitError::Git { action, source }
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

    fn signature(&self) -> Result<git2::Signature<'static>, GitError> {
        match self.when {
            Some(when) => git2::Signature::new(
                &self.name,
                &self.email,
                &git2::Time::new(when.seconds, when.offset_minutes),
            ),
            None => git2::Signature::now(&self.name, &self.email),
        }
        .map_err(git("build a commit signature"))
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

/// Refuses a branch name git would refuse (`a..b`, `-x`, `x.lock`, spaces...).
pub fn validate_branch_name(name: &str) -> Result<(), GitError> {
    if git2::Branch::name_is_valid(name).unwrap_or(false) {
        Ok(())
    } else {
        Err(GitError::InvalidBranch {
            name: name.to_owned(),
        })
    }
}

/// An open repository with a work tree.
pub struct Repo {
    repo: git2::Repository,
    workdir: PathBuf,
}

impl Repo {
    /// Opens the repository containing `path` (a file or directory inside its work tree).
    pub fn open(path: &Path) -> Result<Self, GitError> {
        let repo = git2::Repository::discover(path).map_err(|_| GitError::NotARepository {
            path: path.to_owned(),
        })?;
        let workdir = repo
            .workdir()
            .ok_or_else(|| GitError::Bare {
                path: repo.path().to_owned(),
            })?
            .to_owned();
        Ok(Self { repo, workdir })
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
        let mut options = git2::StatusOptions::new();
        options
            .include_untracked(true)
            .recurse_untracked_dirs(true)
            .include_ignored(false);
        let statuses = self
            .repo
            .statuses(Some(&mut options))
            .map_err(git("read the work tree status"))?;
        let mut paths: Vec<PathBuf> = statuses
            .iter()
            .filter(|entry| entry.status() != Status::CURRENT && !entry.status().is_ignored())
            .filter_map(|entry| entry.path().ok().map(PathBuf::from))
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
        if self.repo.head_detached().map_err(git("read HEAD"))? {
            return Ok(None);
        }
        let head = match self.repo.head() {
            Ok(head) => head,
            Err(error) if error.code() == ErrorCode::UnbornBranch => {
                return Err(GitError::NoCommits);
            }
            Err(error) => return Err(git("read HEAD")(error)),
        };
        Ok(head.shorthand().ok().map(str::to_owned))
    }

    /// The commit HEAD points at.
    pub(crate) fn head_commit(&self) -> Result<Oid, GitError> {
        match self.repo.head() {
            Ok(head) => head
                .peel_to_commit()
                .map(|commit| commit.id())
                .map_err(git("read the HEAD commit")),
            Err(error) if error.code() == ErrorCode::UnbornBranch => Err(GitError::NoCommits),
            Err(error) => Err(git("read HEAD")(error)),
        }
    }

    /// Whether `path` (relative to the work tree, or absolute inside it) is in the index.
    pub fn is_tracked(&self, path: &Path) -> Result<bool, GitError> {
        let relative = self.relative(path)?;
        let index = self.repo.index().map_err(git("read the index"))?;
        Ok(index.get_path(&relative, 0).is_some())
    }

    /// The identity in the repository's git config (`user.name`, `user.email`), if complete.
    fn configured_person(&self) -> Result<Option<Person>, GitError> {
        let config = self.repo.config().map_err(git("read the git config"))?;
        let name = config.get_string("user.name").ok();
        let email = config.get_string("user.email").ok();
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
    pub fn commit_paths(
        &self,
        paths: &[PathBuf],
        message: &str,
        who: &Identities,
    ) -> Result<Oid, GitError> {
        let head = self
            .repo
            .find_commit(self.head_commit()?)
            .map_err(git("read the HEAD commit"))?;
        let head_tree = head.tree().map_err(git("read the HEAD tree"))?;
        let mut index = self.repo.index().map_err(git("read the index"))?;
        let mut update = git2::build::TreeUpdateBuilder::new();
        for path in paths {
            let relative = self.relative(path)?;
            if self.workdir.join(&relative).is_file() {
                index.add_path(&relative).map_err(git("stage a file"))?;
                let entry = index
                    .get_path(&relative, 0)
                    .ok_or_else(|| git("stage a file")(git2::Error::from_str("entry vanished")))?;
                let mode = if entry.mode & 0o111 != 0 {
                    git2::FileMode::BlobExecutable
                } else {
                    git2::FileMode::Blob
                };
                update.upsert(&relative, entry.id, mode);
            } else {
                // Removing a path that is not in the index is not an error: nothing to stage.
                let _ = index.remove_path(&relative);
                update.remove(&relative);
            }
        }
        let tree_id = update
            .create_updated(&self.repo, &head_tree)
            .map_err(git("build the commit tree"))?;
        if tree_id == head_tree.id() {
            return Err(GitError::NothingToCommit {
                paths: paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let tree = self
            .repo
            .find_tree(tree_id)
            .map_err(git("read the new tree"))?;
        let commit = self
            .repo
            .commit(
                Some("HEAD"),
                &who.author.signature()?,
                &who.committer.signature()?,
                message,
                &tree,
                &[&head],
            )
            .map_err(git("create the commit"))?;
        index.write().map_err(git("write the index"))?;
        Ok(commit)
    }

    /// Points branch `name` at the current HEAD commit (creating it, or resetting it if it
    /// exists) and checks it out. The work tree is not touched: it already matches HEAD.
    pub fn reset_branch(&self, name: &str) -> Result<(), GitError> {
        validate_branch_name(name)?;
        let head = self
            .repo
            .find_commit(self.head_commit()?)
            .map_err(git("read the HEAD commit"))?;
        let current = self.head_branch()?;
        if current.as_deref() == Some(name) {
            return Ok(());
        }
        let branch = self
            .repo
            .branch(name, &head, true)
            .map_err(git("create the branch"))?;
        let reference = branch
            .get()
            .name()
            .map_err(git("name the branch"))?
            .to_owned();
        self.repo
            .set_head(&reference)
            .map_err(git("check out the branch"))
    }

    /// The commit a local branch points at, if the branch exists.
    pub fn branch_commit(&self, name: &str) -> Result<Option<Oid>, GitError> {
        match self.repo.find_branch(name, BranchType::Local) {
            Ok(branch) => Ok(branch.get().target()),
            Err(error) if error.code() == ErrorCode::NotFound => Ok(None),
            Err(error) => Err(git("look up the branch")(error)),
        }
    }

    /// Points local branch `name` at `commit` (creating it if needed), without touching the
    /// work tree or HEAD. Also for the branch HEAD is on, which libgit2's branch creation
    /// refuses to force-update, so the reference is written directly.
    pub(crate) fn move_branch(&self, name: &str, commit: Oid) -> Result<(), GitError> {
        self.repo
            .find_commit(commit)
            .map_err(git("find the commit"))?;
        self.repo
            .reference(
                &format!("refs/heads/{name}"),
                commit,
                true,
                "bundle pins refresh: restore the branch",
            )
            .map(|_| ())
            .map_err(git("move the branch"))
    }

    /// Makes HEAD point at branch `name` (the work tree is not touched).
    pub(crate) fn check_out_branch(&self, name: &str) -> Result<(), GitError> {
        self.repo
            .set_head(&format!("refs/heads/{name}"))
            .map_err(git("check out the branch"))
    }

    /// Detaches HEAD at `commit` (the work tree is not touched).
    pub(crate) fn detach_at(&self, commit: Oid) -> Result<(), GitError> {
        self.repo
            .set_head_detached(commit)
            .map_err(git("detach HEAD"))
    }

    /// Deletes local branch `name`; a missing branch is not an error.
    pub(crate) fn delete_branch(&self, name: &str) -> Result<(), GitError> {
        match self.repo.find_branch(name, BranchType::Local) {
            Ok(mut branch) => branch.delete().map_err(git("delete the branch")),
            Err(error) if error.code() == ErrorCode::NotFound => Ok(()),
            Err(error) => Err(git("look up the branch")(error)),
        }
    }

    /// Makes the index match the HEAD commit's tree (unstages everything).
    pub(crate) fn reset_index_to_head(&self) -> Result<(), GitError> {
        let head = self
            .repo
            .find_commit(self.head_commit()?)
            .map_err(git("read the HEAD commit"))?;
        let tree = head.tree().map_err(git("read the HEAD tree"))?;
        let mut index = self.repo.index().map_err(git("read the index"))?;
        index.read_tree(&tree).map_err(git("reset the index"))?;
        index.write().map_err(git("write the index"))
    }

    /// Force-pushes local `branch` to the same branch on `remote` (a configured remote name or
    /// a URL/path). The bump branch belongs to the bot and is rebuilt from HEAD on every run,
    /// so it is overwritten. `token`, if given, is sent as an HTTPS Basic credential (user
    /// `x-access-token`, as GitHub expects) to that URL only, and never over any other
    /// transport.
    ///
    /// The push runs the `git` command line rather than libgit2: libgit2's https transport
    /// would link OpenSSL into every run of `bundle`, and loading it took about a third of a
    /// `bundle gen` run, for the one command that pushes. The token travels in the child's
    /// environment (`GIT_CONFIG_*`), never on its command line.
    pub fn push(&self, remote: &str, branch: &str, token: Option<&str>) -> Result<(), GitError> {
        let url = match self.repo.find_remote(remote) {
            Ok(found) => {
                let configured = match found.pushurl() {
                    Ok(Some(push_url)) => Ok(push_url),
                    Ok(None) => found.url(),
                    Err(error) => Err(error),
                };
                configured
                    .ok()
                    .filter(|url| !url.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| GitError::PushFailed {
                        remote: remote.to_owned(),
                        detail: "the remote has no URL, or one that is not UTF-8".to_owned(),
                    })?
            }
            Err(_) => remote.to_owned(),
        };
        let mut command = Command::new("git");
        command
            .current_dir(&self.workdir)
            .args(["push", "--porcelain", "--quiet", "--"])
            .arg(&url)
            .arg(format!("+refs/heads/{branch}:refs/heads/{branch}"))
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null());
        if let Some(token) = token {
            if !url.starts_with("https://") {
                return Err(GitError::InsecureCredentials { url });
            }
            let credential = BASE64_STANDARD.encode(format!("x-access-token:{token}"));
            command
                .env("GIT_CONFIG_COUNT", "2")
                .env("GIT_CONFIG_KEY_0", format!("http.{url}.extraHeader"))
                .env(
                    "GIT_CONFIG_VALUE_0",
                    format!("Authorization: Basic {credential}"),
                )
                // A redirect must not carry the credential to another host.
                .env("GIT_CONFIG_KEY_1", "http.followRedirects")
                .env("GIT_CONFIG_VALUE_1", "false");
        }
        let output = command.output().map_err(|error| GitError::PushFailed {
            remote: remote.to_owned(),
            detail: format!("cannot run `git push` ({error}); is git installed?"),
        })?;
        if output.status.success() {
            return Ok(());
        }
        let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
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
