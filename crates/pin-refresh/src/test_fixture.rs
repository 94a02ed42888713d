//! Test support (feature `test-fixture`): keeps the machine's git configuration out of tests,
//! makes the small repositories they run against, and the helpers every test of a work tree
//! needs. It is the one home of these helpers for this crate's unit tests, its integration
//! tests and its dependents' tests alike.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Once;

use bundle_gen::Digest;
use git2::{Commit, ConfigLevel, Oid, Repository, Signature, Time};

/// Points libgit2's system, global, XDG and program-data config search paths at a directory
/// that does not exist, so no `~/.gitconfig` or `/etc/gitconfig` can change a test's result.
/// Call it before a test touches git; later calls do nothing.
///
/// # Panics
/// If libgit2 refuses the search path (a broken test environment).
pub fn isolate_git_config() {
    static ISOLATE: Once = Once::new();
    ISOLATE.call_once(|| {
        let nowhere =
            std::env::temp_dir().join(format!("pin-refresh-no-git-config-{}", std::process::id()));
        for level in [
            ConfigLevel::System,
            ConfigLevel::Global,
            ConfigLevel::XDG,
            ConfigLevel::ProgramData,
        ] {
            // SAFETY: this changes libgit2's process-wide settings. `Once` runs it exactly once,
            // and every test fixture calls it before opening a repository, so no other thread
            // is reading those settings while they change.
            #[allow(unsafe_code)]
            let result = unsafe { git2::opts::set_search_path(level, nowhere.as_os_str()) };
            if let Err(error) = result {
                panic!("cannot isolate tests from the git config ({level:?}): {error}");
            }
        }
    });
}

/// A new repository at `dir` on branch `main`, with the repository config keys that change
/// what git sees (line endings, excludes file) fixed, so no machine setting reaches a test.
/// Isolates the git config first ([`isolate_git_config`]).
///
/// # Panics
/// If the repository cannot be created or configured (a broken test environment).
pub fn init_repo(dir: &Path) -> Repository {
    isolate_git_config();
    let mut options = git2::RepositoryInitOptions::new();
    options.initial_head("main");
    let repo = match Repository::init_opts(dir, &options) {
        Ok(repo) => repo,
        Err(error) => panic!(
            "cannot create a test repository in {}: {error}",
            dir.display()
        ),
    };
    let configured = repo.config().and_then(|mut config| {
        config.set_bool("core.autocrlf", false)?;
        config.set_str("core.excludesFile", "")
    });
    if let Err(error) = configured {
        panic!("cannot configure the test repository: {error}");
    }
    repo
}

/// Stages every file of the work tree that is not ignored and commits it on HEAD (on top of
/// the HEAD commit, if there is one), by a fixed author at a fixed date. Returns the commit.
///
/// # Panics
/// If git fails (a broken test environment or test).
pub fn commit_all(repo: &Repository, message: &str) -> Oid {
    let commit = || -> Result<Oid, git2::Error> {
        let mut index = repo.index()?;
        index.add_all(["*"], git2::IndexAddOption::DEFAULT, None)?;
        index.write()?;
        let tree = repo.find_tree(index.write_tree()?)?;
        let who = Signature::new(
            "Fixture",
            "fixture@example.org",
            &Time::new(1_600_000_000, 0),
        )?;
        let parent = repo.head().ok().and_then(|head| head.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        repo.commit(Some("HEAD"), &who, &who, message, &tree, &parents)
    };
    match commit() {
        Ok(oid) => oid,
        Err(error) => panic!("cannot commit the test repository's files: {error}"),
    }
}

/// The commit HEAD is on.
///
/// # Panics
/// If HEAD does not point at a commit (a broken test).
pub fn head_commit(repo: &Repository) -> Commit<'_> {
    match repo.head().and_then(|head| head.peel_to_commit()) {
        Ok(commit) => commit,
        Err(error) => panic!("HEAD is not a commit: {error}"),
    }
}

/// Writes `content` to `root/relative`, creating the directories it needs.
///
/// # Panics
/// If the file cannot be written (a broken test environment).
pub fn write_file(root: &Path, relative: &str, content: &str) {
    let path = root.join(relative);
    let written = path
        .parent()
        .map_or(Ok(()), fs::create_dir_all)
        .and_then(|()| fs::write(&path, content));
    if let Err(error) = written {
        panic!("cannot write {}: {error}", path.display());
    }
}

/// Every regular file below `root` (not in `.git`, symlinks not followed), by its path
/// relative to `root`: a work tree to compare before and after.
///
/// # Panics
/// If a directory or file cannot be read (a broken test environment).
pub fn files_below(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
        for entry in entries {
            let entry =
                entry.unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
            let path = entry.path();
            let kind = entry
                .file_type()
                .unwrap_or_else(|error| panic!("cannot inspect {}: {error}", path.display()));
            if entry.file_name() == ".git" {
                continue;
            }
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let bytes = fs::read(&path)
                    .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
                let relative = path.strip_prefix(root).unwrap_or(&path).to_owned();
                files.insert(relative, bytes);
            }
        }
    }
    files
}

/// `sha256:` and 64 times `fill`: a digest that is plainly made up, told apart by its digit.
///
/// # Panics
/// If `fill` is not a lowercase hex digit.
pub fn fake_digest(fill: char) -> Digest {
    match format!("sha256:{}", fill.to_string().repeat(64)).parse() {
        Ok(digest) => digest,
        Err(error) => panic!("`{fill}` does not make a digest: {error}"),
    }
}
