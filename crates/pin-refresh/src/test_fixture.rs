//! Test support (feature `test-fixture`): keeps the machine's git configuration out of tests,
//! makes the small repositories they run against (through the git command line), and the
//! helpers every test of a work tree needs, and [`ResetProxy`], a connection reset on demand.
//! It is the one home of these helpers for this crate's unit tests, its integration
//! tests and its dependents' tests alike.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bundle_gen::Digest;

use crate::git::{CommitId, Repo};

/// The variables that keep the machine's git configuration out of a git command: no system
/// config, a global config and a HOME that do not exist, and no config from the environment
/// (`GIT_CONFIG_COUNT`, `GIT_CONFIG_PARAMETERS`). Set them on every git command a test runs,
/// including the ones the code under test runs ([`Repo::open_with_env`],
/// `RefreshRequest::git_env`).
pub fn isolated_git_env() -> BTreeMap<String, String> {
    let nowhere =
        std::env::temp_dir().join(format!("pin-refresh-no-git-config-{}", std::process::id()));
    let nowhere = nowhere.display().to_string();
    BTreeMap::from([
        ("GIT_CONFIG_NOSYSTEM".to_owned(), "1".to_owned()),
        (
            "GIT_CONFIG_GLOBAL".to_owned(),
            format!("{nowhere}/gitconfig"),
        ),
        ("GIT_CONFIG_COUNT".to_owned(), "0".to_owned()),
        ("GIT_CONFIG_PARAMETERS".to_owned(), String::new()),
        ("HOME".to_owned(), nowhere.clone()),
        ("XDG_CONFIG_HOME".to_owned(), nowhere),
    ])
}

/// A repository for tests, driven through the git command line with [`isolated_git_env`].
#[derive(Debug, Clone)]
pub struct TestRepo {
    workdir: PathBuf,
}

/// A commit as git stores it, for tests to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit.
    pub id: CommitId,
    /// Its parents, in order.
    pub parents: Vec<CommitId>,
    /// The author line: `Name <email> <unix seconds> <+hhmm>`.
    pub author: String,
    /// The committer line, in the same form.
    pub committer: String,
    /// The message, byte for byte.
    pub message: String,
}

impl CommitInfo {
    /// The author's name.
    pub fn author_name(&self) -> &str {
        self.author.split(" <").next().unwrap_or_default()
    }

    /// The author's time: unix seconds and the offset as git writes it (`+0100`).
    pub fn author_when(&self) -> (i64, &str) {
        signature_time(&self.author)
    }

    /// The committer's name.
    pub fn committer_name(&self) -> &str {
        self.committer.split(" <").next().unwrap_or_default()
    }

    /// The committer's time: unix seconds and the offset as git writes it.
    pub fn committer_when(&self) -> (i64, &str) {
        signature_time(&self.committer)
    }
}

/// The time of an author or committer line (`... <email> <seconds> <zone>`).
fn signature_time(line: &str) -> (i64, &str) {
    let mut words = line.rsplit(' ');
    let zone = words.next().unwrap_or_default();
    let seconds = words
        .next()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_else(|| panic!("no time in the signature `{line}`"));
    (seconds, zone)
}

impl TestRepo {
    /// The work tree.
    pub fn path(&self) -> &Path {
        &self.workdir
    }

    /// Runs `git args` in the work tree with [`isolated_git_env`] and fixed commit dates;
    /// returns its stdout without the final line break.
    ///
    /// # Panics
    /// If git cannot be run or fails (a broken test environment or test).
    pub fn git<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        run_git(&self.workdir, args)
    }

    /// The repository as the code under test sees it, with [`isolated_git_env`].
    ///
    /// # Panics
    /// If it cannot be opened (a broken test).
    pub fn open(&self) -> Repo {
        match Repo::open_with_env(&self.workdir, &isolated_git_env()) {
            Ok(repo) => repo,
            Err(error) => panic!("cannot open {}: {error}", self.workdir.display()),
        }
    }

    /// The commit `revision` (a name git understands: `HEAD`, `main`, `HEAD~1`, an id).
    ///
    /// # Panics
    /// If `revision` names no commit.
    pub fn commit(&self, revision: &str) -> CommitInfo {
        let id = self.git(["rev-parse", "--verify", &format!("{revision}^{{commit}}")]);
        let mut command = git_command(&self.workdir);
        command.args(["cat-file", "commit", &id]);
        let raw = String::from_utf8(output_of(command).stdout)
            .unwrap_or_else(|error| panic!("commit {id} is not UTF-8: {error}"));
        let (headers, message) = raw
            .split_once("\n\n")
            .unwrap_or_else(|| panic!("commit {id} has no message"));
        let header = |name: &str| -> Vec<String> {
            headers
                .lines()
                .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
                .map(str::to_owned)
                .collect()
        };
        let only = |name: &str| {
            header(name)
                .into_iter()
                .next()
                .unwrap_or_else(|| panic!("commit {id} has no {name}"))
        };
        CommitInfo {
            parents: header("parent")
                .into_iter()
                .map(CommitId::from_hex)
                .collect(),
            author: only("author"),
            committer: only("committer"),
            message: message.to_owned(),
            id: CommitId::from_hex(id.clone()),
        }
    }

    /// The commit HEAD is on.
    ///
    /// # Panics
    /// If HEAD does not point at a commit (a broken test).
    pub fn head(&self) -> CommitInfo {
        self.commit("HEAD")
    }

    /// The commit local branch `name` points at, `None` if there is no such branch.
    pub fn branch(&self, name: &str) -> Option<CommitId> {
        let mut command = git_command(&self.workdir);
        command.args(["rev-parse", "-q", "--verify", &format!("refs/heads/{name}")]);
        let output = output_of(command);
        output
            .status
            .success()
            .then(|| CommitId::from_hex(String::from_utf8_lossy(&output.stdout).trim().to_owned()))
    }

    /// The paths `revision` changes against its first parent, sorted.
    pub fn changed_paths(&self, revision: &str) -> Vec<String> {
        let listed = self.git([
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "-r",
            "--no-renames",
            &format!("{revision}^"),
            revision,
        ]);
        let mut paths: Vec<String> = listed.lines().map(str::to_owned).collect();
        paths.sort();
        paths
    }

    /// The content of `relative` in commit `revision`, `None` if it has no such file.
    pub fn file_at(&self, revision: &str, relative: &str) -> Option<String> {
        let mut command = git_command(&self.workdir);
        command.args(["show", &format!("{revision}:{relative}")]);
        let output = output_of(command);
        output.status.success().then(|| {
            String::from_utf8(output.stdout)
                .unwrap_or_else(|error| panic!("{relative} at {revision} is not UTF-8: {error}"))
        })
    }

    /// Detaches HEAD at the commit it is on.
    pub fn detach_head(&self) {
        self.git(["checkout", "--quiet", "--detach"]);
    }
}

/// A git command in `dir`, isolated from the machine's config ([`isolated_git_env`]), with
/// fixed author and committer dates.
fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .envs(isolated_git_env())
        .env("GIT_AUTHOR_DATE", "1600000000 +0000")
        .env("GIT_COMMITTER_DATE", "1600000000 +0000");
    command
}

fn output_of(mut command: Command) -> std::process::Output {
    match command.output() {
        Ok(output) => output,
        Err(error) => panic!("cannot run {command:?}: {error}"),
    }
}

/// Runs `git args` in `dir` (see [`TestRepo::git`]).
fn run_git<I, S>(dir: &Path, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = git_command(dir);
    command.args(args);
    let output = output_of(command);
    if !output.status.success() {
        panic!(
            "git failed in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    if text.ends_with('\n') {
        text.pop();
    }
    text
}

/// A new repository at `dir` on branch `main`, with the repository config keys that change
/// what git sees (line endings, excludes file) fixed, so no machine setting reaches a test.
///
/// # Panics
/// If the repository cannot be created or configured (a broken test environment).
pub fn init_repo(dir: &Path) -> TestRepo {
    run_git(dir, ["init", "--quiet", "--initial-branch=main"]);
    let repo = TestRepo {
        workdir: dir.to_owned(),
    };
    repo.git(["config", "core.autocrlf", "false"]);
    repo.git(["config", "core.excludesFile", ""]);
    repo
}

/// A new bare repository at `dir` (a remote to push to); only its refs and objects are for
/// looking at, it has no work tree.
///
/// # Panics
/// If the repository cannot be created (a broken test environment).
pub fn init_bare_repo(dir: &Path) -> TestRepo {
    run_git(dir, ["init", "--quiet", "--bare", "--initial-branch=main"]);
    TestRepo {
        workdir: dir.to_owned(),
    }
}

/// Stages every file of the work tree that is not ignored and commits it on HEAD (on top of
/// the HEAD commit, if there is one), by a fixed author at a fixed date. Returns the commit.
///
/// # Panics
/// If git fails (a broken test environment or test).
pub fn commit_all(repo: &TestRepo, message: &str) -> CommitId {
    repo.git(["add", "--all"]);
    repo.git([
        "-c",
        "user.name=Fixture",
        "-c",
        "user.email=fixture@example.org",
        "commit",
        "--quiet",
        "--allow-empty",
        "--no-verify",
        "--no-gpg-sign",
        "--cleanup=verbatim",
        "-m",
        message,
    ]);
    repo.head().id
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

/// 40 times `fill`: a commit id that is plainly made up, told apart by its digit.
pub fn fake_commit(fill: char) -> CommitId {
    CommitId::from_hex(fill.to_string().repeat(40))
}

/// A TCP front for a server: it resets its first connection once the request has arrived
/// (SO_LINGER 0, then close: the peer gets a TCP RST, as from a crashing load balancer) and
/// passes every later connection through to the server untouched.
pub struct ResetProxy {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ResetProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ResetProxy {
    /// A proxy in front of the server at `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> Self {
        use tokio::io::AsyncReadExt as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("a bound address"));
        let upstream = upstream
            .strip_prefix("http://")
            .expect("an http:// upstream")
            .to_owned();
        let task = tokio::spawn(async move {
            let Ok((mut first, _)) = listener.accept().await else {
                return;
            };
            let mut request = [0; 8192];
            // Whatever arrived, the connection is reset: what matters is that the client sent
            // its request and got no answer.
            let _ = first.read(&mut request).await;
            let _ = socket2::SockRef::from(&first).set_linger(Some(Duration::ZERO));
            drop(first);
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { base, task }
    }
}

/// Writes an executable script from a child process, so that the file is never open for
/// writing in this process: a test thread that forks meanwhile would inherit that descriptor,
/// and running the script while the fork holds it fails with "Text file busy" (ETXTBSY).
pub fn write_executable(path: &Path, script: &str) {
    use std::io::Write as _;
    let mut child = Command::new("sh")
        .args(["-c", "cat > \"$0\" && chmod 755 \"$0\""])
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sh starts");
    child
        .stdin
        .take()
        .expect("sh's stdin")
        .write_all(script.as_bytes())
        .expect("script written to sh");
    let status = child.wait().expect("sh ends");
    assert!(status.success(), "wrote {}", path.display());
}
