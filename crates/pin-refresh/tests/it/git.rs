//! The git wrapper against real repositories in temp dirs. Identities and dates are explicit,
//! every git command (the wrapper's and the fixture's) reads no system or global git config,
//! and each fixture repository sets the keys that matter in its own config.

use std::fs;
use std::path::{Path, PathBuf};

use pin_refresh::test_fixture::{self, CommitInfo, TestRepo};
use pin_refresh::{GitError, Identities, Person, Repo, When};

fn person(name: &str, seconds: i64) -> Person {
    Person {
        name: name.to_owned(),
        email: format!("{}@example.org", name.to_lowercase()),
        when: Some(When {
            seconds,
            offset_minutes: 60,
        }),
    }
}

fn identities() -> Identities {
    Identities {
        author: person("Author", 1_700_000_000),
        committer: person("Committer", 1_700_000_100),
    }
}

/// A repository on branch `main` with one commit holding `bundle.yaml` and `base/a.yaml`.
struct Fixture {
    dir: tempfile::TempDir,
    git: TestRepo,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = test_fixture::init_repo(dir.path());
        git.git(["config", "user.name", "Config User"]);
        git.git(["config", "user.email", "config@example.org"]);
        let fixture = Self { dir, git };
        fixture.write("bundle.yaml", "images: {}\n");
        fixture.write("base/a.yaml", "a: 1\n");
        fixture.write(".gitignore", "/target\n");
        test_fixture::commit_all(&fixture.git, "initial");
        fixture
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn repo(&self) -> Repo {
        self.git.open()
    }

    fn write(&self, relative: &str, content: &str) {
        test_fixture::write_file(self.path(), relative, content);
    }

    fn head(&self) -> CommitInfo {
        self.git.head()
    }

    fn file_at_head(&self, relative: &str) -> Option<String> {
        self.git.file_at("HEAD", relative)
    }

    /// Checks out `main` again, discarding what the work tree holds.
    fn back_to_main(&self) {
        self.git.git(["checkout", "--quiet", "--force", "main"]);
    }
}

#[test]
fn a_fresh_commit_leaves_a_clean_work_tree() {
    assert!(Fixture::new().repo().is_clean().expect("status"));
}

#[test]
fn modified_staged_and_untracked_files_are_dirty_but_ignored_ones_are_not() {
    let fixture = Fixture::new();
    fixture.write("target/debug/bundle", "binary");
    assert!(
        fixture.repo().is_clean().expect("status"),
        "ignored files are clean"
    );

    fixture.write("notes.txt", "mine");
    fixture.write("bundle.yaml", "images: {x: 1}\n");
    assert_eq!(
        fixture.repo().dirty_paths().expect("status"),
        vec![PathBuf::from("bundle.yaml"), PathBuf::from("notes.txt")]
    );
}

#[test]
fn head_branch_names_the_branch_and_is_none_when_detached() {
    let fixture = Fixture::new();
    assert_eq!(
        fixture.repo().head_branch().expect("head"),
        Some("main".to_owned())
    );
    fixture.git.detach_head();
    assert_eq!(fixture.repo().head_branch().expect("head"), None);
}

#[test]
fn is_tracked_tells_committed_from_untracked_files() {
    let fixture = Fixture::new();
    fixture.write("other.yaml", "x: 1\n");
    let repo = fixture.repo();
    assert!(repo.is_tracked(Path::new("bundle.yaml")).expect("tracked"));
    assert!(
        repo.is_tracked(&fixture.path().join("base/a.yaml"))
            .expect("tracked")
    );
    assert!(!repo.is_tracked(Path::new("other.yaml")).expect("tracked"));
}

#[test]
fn commit_paths_commits_exactly_those_paths_with_the_given_identities() {
    let fixture = Fixture::new();
    let parent = fixture.head().id;
    fixture.write("bundle.yaml", "images: {bumped: true}\n");
    fixture.write("base/b.yaml", "b: 2\n");
    fs::remove_file(fixture.path().join("base/a.yaml")).expect("rm");
    fixture.write("unrelated.txt", "not committed\n");

    let paths = ["bundle.yaml", "base/b.yaml", "base/a.yaml"].map(PathBuf::from);
    let commit = fixture
        .repo()
        .commit_paths(&paths, "subject\n\nbody\n", &identities())
        .expect("commit");

    let head = fixture.head();
    assert_eq!(head.id, commit);
    assert_eq!(head.parents, vec![parent]);
    assert_eq!(head.message, "subject\n\nbody\n");
    assert_eq!(head.author, "Author <author@example.org> 1700000000 +0100");
    assert_eq!(head.author_name(), "Author");
    assert_eq!(head.author_when(), (1_700_000_000, "+0100"));
    assert_eq!(head.committer_name(), "Committer");
    assert_eq!(head.committer_when().0, 1_700_000_100);
    assert_eq!(
        fixture.file_at_head("bundle.yaml").as_deref(),
        Some("images: {bumped: true}\n")
    );
    assert_eq!(
        fixture.file_at_head("base/b.yaml").as_deref(),
        Some("b: 2\n")
    );
    assert_eq!(fixture.file_at_head("base/a.yaml"), None);
    assert_eq!(fixture.file_at_head("unrelated.txt"), None);
    assert_eq!(
        fixture.repo().dirty_paths().expect("status"),
        vec![PathBuf::from("unrelated.txt")],
        "committed paths are staged too, so only the unrelated file is left"
    );
}

#[test]
fn commit_paths_without_a_change_is_refused() {
    let fixture = Fixture::new();
    let result =
        fixture
            .repo()
            .commit_paths(&[PathBuf::from("bundle.yaml")], "nothing", &identities());
    assert!(
        matches!(result, Err(GitError::NothingToCommit { .. })),
        "{result:?}"
    );
}

#[test]
fn reset_branch_creates_a_branch_at_head_and_checks_it_out() {
    let fixture = Fixture::new();
    let repo = fixture.repo();
    repo.reset_branch("bundle/pin-bumps").expect("branch");
    assert_eq!(
        repo.head_branch().expect("head"),
        Some("bundle/pin-bumps".to_owned())
    );
    assert_eq!(
        repo.branch_commit("bundle/pin-bumps").expect("branch"),
        Some(fixture.head().id)
    );
    assert!(repo.is_clean().expect("status"));
}

#[test]
fn reset_branch_moves_an_existing_branch_back_to_head() {
    let fixture = Fixture::new();
    let repo = fixture.repo();
    let start = fixture.head().id;
    repo.reset_branch("bundle/pin-bumps").expect("branch");
    fixture.write("bundle.yaml", "images: {old: bump}\n");
    repo.commit_paths(&[PathBuf::from("bundle.yaml")], "old bump", &identities())
        .expect("commit");
    fixture.back_to_main();

    repo.reset_branch("bundle/pin-bumps").expect("reset");
    assert_eq!(
        repo.branch_commit("bundle/pin-bumps").expect("branch"),
        Some(start)
    );
    assert!(repo.is_clean().expect("status"));
}

#[test]
fn reset_branch_refuses_an_invalid_name() {
    let result = Fixture::new().repo().reset_branch("bad..name");
    assert!(
        matches!(result, Err(GitError::InvalidBranch { .. })),
        "{result:?}"
    );
}

#[test]
fn push_force_updates_the_branch_in_a_bare_repository() {
    let fixture = Fixture::new();
    let remote_dir = tempfile::tempdir().expect("temp dir");
    let remote = test_fixture::init_bare_repo(remote_dir.path());
    let repo = fixture.repo();
    let url = remote_dir.path().to_str().expect("utf8 path");

    repo.reset_branch("bundle/pin-bumps").expect("branch");
    fixture.write("bundle.yaml", "images: {first: 1}\n");
    repo.commit_paths(&[PathBuf::from("bundle.yaml")], "first", &identities())
        .expect("commit");
    repo.push(url, "bundle/pin-bumps", None).expect("push");
    let first = fixture.head().id;
    assert_eq!(remote.branch("bundle/pin-bumps"), Some(first));

    // A rebuilt branch that does not contain the pushed commit still replaces it.
    fixture.back_to_main();
    repo.reset_branch("bundle/pin-bumps").expect("reset");
    fixture.write("bundle.yaml", "images: {second: 2}\n");
    let second = repo
        .commit_paths(&[PathBuf::from("bundle.yaml")], "second", &identities())
        .expect("commit");
    repo.push(&format!("file://{url}"), "bundle/pin-bumps", None)
        .expect("push");
    assert_eq!(remote.branch("bundle/pin-bumps"), Some(second));
}

/// A plain-http git server on loopback that answers every request with a Basic auth
/// challenge and records whether any request carried credentials.
fn challenging_http_server() -> (String, std::thread::JoinHandle<bool>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/repo.git", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let mut saw_credentials = false;
        // A client with credentials retries once with them; two connections are all a
        // correct client makes before giving up.
        for _ in 0..2 {
            let Ok((mut stream, _)) = listener.accept() else {
                break;
            };
            let mut request = [0_u8; 4096];
            let read = stream.read(&mut request).unwrap_or(0);
            let text = String::from_utf8_lossy(&request[..read]).to_lowercase();
            saw_credentials |= text.contains("authorization:");
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
        saw_credentials
    });
    (url, handle)
}

#[test]
fn a_token_is_never_sent_over_plain_http() {
    let fixture = Fixture::new();
    let (url, server) = challenging_http_server();
    let result = fixture.repo().push(&url, "main", Some("secret"));
    assert!(
        matches!(result, Err(GitError::InsecureCredentials { .. })),
        "{result:?}"
    );
    // Finish the server's accept loop, whether git connected zero, one or two times.
    let address = url
        .trim_start_matches("http://")
        .trim_end_matches("/repo.git");
    for _ in 0..2 {
        let _ = std::net::TcpStream::connect(address);
    }
    assert!(
        !server.join().expect("server"),
        "credentials were sent over http"
    );
}

#[test]
fn identities_come_from_the_flag_then_the_environment_then_git_config() {
    let fixture = Fixture::new();
    let repo = fixture.repo();
    let no_env = |_: &str| None;
    let from_config = Identities::resolve(&repo, None, &no_env).expect("identities");
    assert_eq!(from_config.author.name, "Config User");
    assert_eq!(from_config.committer.email, "config@example.org");

    let env = |key: &str| match key {
        "GIT_AUTHOR_NAME" => Some("Env Author".to_owned()),
        "GIT_AUTHOR_EMAIL" => Some("env@example.org".to_owned()),
        "GIT_COMMITTER_DATE" => Some("@1700000000 +0130".to_owned()),
        _ => None,
    };
    let from_env = Identities::resolve(&repo, None, &env).expect("identities");
    assert_eq!(from_env.author.name, "Env Author");
    assert_eq!(from_env.committer.name, "Config User");
    assert_eq!(
        from_env.committer.when,
        Some(When {
            seconds: 1_700_000_000,
            offset_minutes: 90
        })
    );

    let flag = Person::parse("Pin Bot <pins@example.org>").expect("person");
    let from_flag = Identities::resolve(&repo, Some(flag), &env).expect("identities");
    assert_eq!(from_flag.author.email, "pins@example.org");
}

#[test]
fn malformed_authors_and_dates_are_refused() {
    for bad in ["Pin Bot", "<x@y>", "Pin Bot <>", "Pin <a<b>"] {
        assert!(Person::parse(bad).is_err(), "{bad}");
    }
    for bad in ["yesterday", "17 +01", "@1 +0100 x", "1 0100"] {
        assert!(When::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        When::parse("1700000000 -0800").expect("date"),
        When {
            seconds: 1_700_000_000,
            offset_minutes: -480
        }
    );
}

#[test]
fn opening_outside_a_repository_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    match Repo::open(dir.path()) {
        Err(error @ GitError::NotARepository { .. }) => {
            let message = error.to_string();
            assert!(
                message.contains(&dir.path().display().to_string()),
                "{message}"
            );
            assert!(message.contains("git init"), "{message}");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("{} is not a repository", dir.path().display()),
    }
}

#[test]
fn a_bare_repository_is_refused_with_its_git_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    test_fixture::init_bare_repo(dir.path());
    match Repo::open_with_env(dir.path(), &test_fixture::isolated_git_env()) {
        Err(GitError::Bare { path }) => assert_eq!(
            path.canonicalize().expect("path"),
            dir.path().canonicalize().expect("path")
        ),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a bare repository was opened"),
    }
}

#[test]
fn a_repository_without_commits_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let git = test_fixture::init_repo(dir.path());
    let result = git.open().head_branch();
    assert!(matches!(result, Err(GitError::NoCommits)), "{result:?}");
}

#[test]
fn commit_paths_leaves_other_staged_changes_staged_and_out_of_the_commit() {
    let fixture = Fixture::new();
    fixture.write("base/a.yaml", "a: staged\n");
    fixture.git.git(["add", "base/a.yaml"]);
    fixture.write("bundle.yaml", "images: {bumped: true}\n");

    fixture
        .repo()
        .commit_paths(&[PathBuf::from("bundle.yaml")], "bump", &identities())
        .expect("commit");

    assert_eq!(fixture.git.changed_paths("HEAD"), ["bundle.yaml"]);
    assert_eq!(
        fixture.file_at_head("base/a.yaml").as_deref(),
        Some("a: 1\n")
    );
    assert_eq!(
        fixture.repo().dirty_paths().expect("status"),
        vec![PathBuf::from("base/a.yaml")],
        "the other change is still staged"
    );
    assert_eq!(
        fixture.git.git(["diff", "--cached", "--name-only"]),
        "base/a.yaml"
    );
}

#[test]
fn tests_read_no_system_or_global_git_config() {
    let fixture = Fixture::new();
    let listed = fixture.git.git(["config", "--list", "--show-scope"]);
    let leaked: Vec<&str> = listed
        .lines()
        .filter(|line| !line.starts_with("local\t"))
        .collect();
    assert!(
        leaked.is_empty(),
        "machine git config leaked in: {leaked:?}"
    );
    assert!(
        listed.contains("local\tuser.name=Config User"),
        "the repository's own config is read: {listed}"
    );
}

#[test]
fn a_failed_push_names_the_remote_and_what_git_said() {
    let fixture = Fixture::new();
    let missing = fixture.path().join("no-such-remote.git");
    let missing = missing.to_str().expect("utf8 path");
    match fixture.repo().push(missing, "main", None) {
        Err(GitError::PushFailed { remote, detail }) => {
            assert_eq!(remote, missing);
            assert!(detail.contains("no-such-remote.git"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_https_push_does_not_reveal_the_token() {
    use base64::Engine as _;
    let fixture = Fixture::new();
    // Port 9 on loopback (discard) has no listener here: the connection is refused.
    let url = "https://127.0.0.1:9/owner/repo.git";
    let token = "ghs_not-a-real-token";
    let error = fixture
        .repo()
        .push(url, "main", Some(token))
        .expect_err("nothing listens there");
    let message = format!("{error} {error:?}");
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
    assert!(matches!(error, GitError::PushFailed { .. }), "{message}");
    assert!(!message.contains(token), "{message}");
    assert!(!message.contains(&encoded), "{message}");
}

// ---- reading an earlier commit (bundle gen --against) -------------------------------------------

#[test]
fn a_file_is_read_as_it_was_in_an_earlier_commit() {
    let fixture = Fixture::new();
    fixture.write("bundle.yaml", "images: {homeserver: {}}\n");
    test_fixture::commit_all(&fixture.git, "later");
    let repo = fixture.repo();
    let initial = repo.resolve_commit("main~1").expect("main~1 exists");
    let text = repo
        .file_at(&initial, &fixture.path().join("bundle.yaml"))
        .expect("readable");
    assert_eq!(text.as_deref(), Some("images: {}\n"));
}

#[test]
fn a_file_the_commit_does_not_hold_reads_as_none() {
    let fixture = Fixture::new();
    let repo = fixture.repo();
    let head = repo.resolve_commit("HEAD").expect("HEAD exists");
    let text = repo
        .file_at(&head, &fixture.path().join("site/bundle.yaml"))
        .expect("readable");
    assert_eq!(text, None);
}

#[test]
fn a_revision_that_names_no_commit_is_refused_by_name() {
    let fixture = Fixture::new();
    let error = fixture
        .repo()
        .resolve_commit("origin/main")
        .expect_err("no remote");
    assert!(
        matches!(&error, GitError::UnknownRevision { revision } if revision == "origin/main"),
        "{error:?}"
    );
}

#[test]
fn an_option_given_as_a_revision_is_not_taken_as_an_option() {
    let fixture = Fixture::new();
    let error = fixture
        .repo()
        .resolve_commit("--all")
        .expect_err("not a revision");
    assert!(
        matches!(error, GitError::UnknownRevision { .. }),
        "{error:?}"
    );
}

#[test]
fn trailers_are_read_from_the_commits_after_the_given_one_only() {
    let fixture = Fixture::new();
    let repo = fixture.repo();
    let start = repo.resolve_commit("HEAD").expect("HEAD exists");
    fixture.write("base/a.yaml", "a: 2\n");
    test_fixture::commit_all(
        &fixture.git,
        "Grow the volume\n\nBundle-Allow: volume-size\nSigned-off-by: A <a@example.org>\n",
    );
    fixture.write("base/a.yaml", "a: 3\n");
    test_fixture::commit_all(&fixture.git, "No trailer here");
    fixture.write("base/a.yaml", "a: 4\n");
    test_fixture::commit_all(&fixture.git, "Rename\n\nBundle-Allow: server-name\n");
    let mut values = repo
        .trailer_values(&start, "Bundle-Allow")
        .expect("readable");
    values.sort();
    assert_eq!(values, ["server-name", "volume-size"]);
    let latest = repo.resolve_commit("HEAD").expect("HEAD exists");
    assert_eq!(
        repo.trailer_values(&latest, "Bundle-Allow")
            .expect("readable"),
        Vec::<String>::new()
    );
}
