//! The token push of the scheduled job, against a real peer: `git push` over HTTPS to
//! `git http-backend` behind a loopback TLS server (`https_git_server`). Every git command
//! here reads no system or global config but the test's own, which trusts the test CA.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use pin_refresh::test_fixture::{self, TestRepo, isolated_git_env};
use pin_refresh::{GitError, Repo};

use crate::https_git_server::{Arrived, Behaviour, GitHttpsServer, TestCa};

const TOKEN: &str = "ghs_push-token-for-the-test";
const BRANCH: &str = "bundle/pin-bumps";

/// What GitHub expects for an installation or `GITHUB_TOKEN` push.
fn forge_authorization(token: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("x-access-token:{token}")))
}

/// A clone with one commit on [`BRANCH`], and the git settings of the test: an isolated
/// environment that trusts the test CA.
struct Clone {
    dir: tempfile::TempDir,
    git: TestRepo,
    env: BTreeMap<String, String>,
}

impl Clone {
    fn new(ca: &TestCa) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        fs::create_dir(&work).unwrap();
        let git = test_fixture::init_repo(&work);
        test_fixture::write_file(&work, "bundle.yaml", "images: {}\n");
        test_fixture::commit_all(&git, "initial");
        git.git(["branch", BRANCH]);
        let ca_file = dir.path().join("ca.pem");
        fs::write(&ca_file, &ca.ca_pem).unwrap();
        let mut env = isolated_git_env();
        // git's own setting for its trust anchors, in the form that wins over every config
        // file: a machine may set it for its own bundle, which would leave the test CA out.
        env.insert("GIT_SSL_CAINFO".to_owned(), ca_file.display().to_string());
        Self { dir, git, env }
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn branch_commit(&self) -> String {
        self.git.git(["rev-parse", BRANCH]).trim().to_owned()
    }
}

fn pushed_commit(server: &GitHttpsServer) -> Option<String> {
    server
        .repository()
        .branch(BRANCH)
        .map(|commit| commit.to_string())
}

/// A forge behaving as `behaviour` says and a clone that trusts its CA.
struct Forge {
    server: GitHttpsServer,
    clone: Clone,
}

impl Forge {
    /// A forge that takes exactly [`TOKEN`].
    fn taking_the_token() -> Self {
        Self::new(|ca| {
            GitHttpsServer::start(
                ca,
                Behaviour::RequireAuthorization(forge_authorization(TOKEN)),
            )
        })
    }

    fn new(start: impl FnOnce(&TestCa) -> GitHttpsServer) -> Self {
        Self::with_ca(&TestCa::new(), start)
    }

    /// A forge whose certificate `ca` signed, which other servers of the test may share.
    fn with_ca(ca: &TestCa, start: impl FnOnce(&TestCa) -> GitHttpsServer) -> Self {
        Self {
            server: start(ca),
            clone: Clone::new(ca),
        }
    }

    /// `git push` of [`BRANCH`] with [`TOKEN`] to the forge, every git command run with `env`.
    fn push_with(&self, env: &BTreeMap<String, String>) -> Result<(), GitError> {
        Repo::open_with_env(&self.clone.work(), env).unwrap().push(
            &self.server.url("127.0.0.1"),
            BRANCH,
            Some(TOKEN),
        )
    }

    /// [`Forge::push_with`] the clone's own environment.
    fn push(&self) -> Result<(), GitError> {
        self.push_with(&self.clone.env)
    }
}

#[test]
fn a_token_push_lands_the_branch_on_the_forge() {
    let forge = Forge::taking_the_token();
    forge.push().expect("push");
    assert_eq!(
        pushed_commit(&forge.server),
        Some(forge.clone.branch_commit())
    );
}

#[test]
fn every_request_of_the_push_carries_exactly_the_forge_authorization() {
    let forge = Forge::taking_the_token();
    forge.push().expect("push");
    let arrived = forge.server.arrived();
    let methods: Vec<&str> = arrived
        .iter()
        .map(|request| request.method.as_str())
        .collect();
    assert_eq!(methods, ["GET", "POST"], "{arrived:#?}");
    for request in &arrived {
        assert_eq!(
            request.authorization,
            [forge_authorization(TOKEN)],
            "{request:?}"
        );
    }
}

#[test]
fn a_credential_left_in_the_clone_by_actions_checkout_is_not_sent_beside_the_token() {
    let forge = Forge::taking_the_token();
    // What actions/checkout writes with `persist-credentials` (its default).
    forge.clone.git.git([
        "config",
        &format!("http.{}/.extraheader", forge.server.base("127.0.0.1")),
        "AUTHORIZATION: basic eC1hY2Nlc3MtdG9rZW46Y2hlY2tvdXQ=",
    ]);
    forge.push().expect("push");
    let authorizations: Vec<Vec<String>> = forge
        .server
        .arrived()
        .into_iter()
        .map(|request| request.authorization)
        .collect();
    assert_eq!(
        authorizations,
        [[forge_authorization(TOKEN)], [forge_authorization(TOKEN)]]
    );
}

#[test]
fn git_settings_the_environment_passes_still_apply_beside_the_token() {
    let forge = Forge::taking_the_token();
    // As a runner passes settings to every git it starts.
    let mut env = forge.clone.env.clone();
    env.insert("GIT_CONFIG_COUNT".to_owned(), "1".to_owned());
    env.insert("GIT_CONFIG_KEY_0".to_owned(), "http.userAgent".to_owned());
    env.insert("GIT_CONFIG_VALUE_0".to_owned(), "runner-git/1".to_owned());
    forge.push_with(&env).expect("push");
    let agents: Vec<String> = forge
        .server
        .arrived()
        .into_iter()
        .map(|request| request.user_agent)
        .collect();
    assert_eq!(agents, ["runner-git/1", "runner-git/1"]);
    assert_eq!(
        pushed_commit(&forge.server),
        Some(forge.clone.branch_commit())
    );
}

#[test]
fn the_token_is_in_no_command_line_git_runs() {
    let forge = Forge::taking_the_token();
    // A `git` first on PATH that records its arguments, and git's own trace of every command
    // it runs in turn (`git-remote-https`, `git send-pack`).
    let bin = forge.clone.dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let arguments = forge.clone.dir.path().join("arguments.log");
    let trace = forge.clone.dir.path().join("trace.log");
    let real_git = real_git();
    let wrapper = bin.join("git");
    pin_refresh::test_fixture::write_executable(
        &wrapper,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\nexec '{}' \"$@\"\n",
            arguments.display(),
            real_git.display()
        ),
    );
    let mut env = forge.clone.env.clone();
    env.insert(
        "PATH".to_owned(),
        format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
    );
    env.insert("GIT_TRACE".to_owned(), trace.display().to_string());
    forge.push_with(&env).expect("push");
    let arguments = fs::read_to_string(&arguments).unwrap();
    let trace = fs::read_to_string(&trace).unwrap();
    assert!(arguments.contains("push"), "the wrapper ran: {arguments}");
    assert!(
        trace.contains("remote-https"),
        "the trace has the transport: {trace}"
    );
    let credential = BASE64.encode(format!("x-access-token:{TOKEN}"));
    for secret in [TOKEN, credential.as_str()] {
        assert!(!arguments.contains(secret), "{arguments}");
        assert!(!trace.contains(secret), "{trace}");
    }
}

#[test]
fn a_redirect_to_another_host_is_not_followed() {
    // One CA for both, so a followed redirect would reach the other host and be recorded there.
    let ca = TestCa::new();
    let elsewhere = GitHttpsServer::start(
        &ca,
        Behaviour::RequireAuthorization(forge_authorization(TOKEN)),
    );
    let target = elsewhere.base("localhost");
    let forge = Forge::with_ca(&ca, |ca| {
        GitHttpsServer::start(ca, Behaviour::RedirectTo(target))
    });
    let error = forge.push().expect_err("a redirect is refused");
    assert!(matches!(error, GitError::PushFailed { .. }), "{error:?}");
    assert_eq!(
        forge.server.arrived().len(),
        1,
        "{:?}",
        forge.server.arrived()
    );
    assert_eq!(elsewhere.arrived(), Vec::<Arrived>::new());
    assert_eq!(pushed_commit(&elsewhere), None);
}

#[test]
fn a_refused_token_is_named_as_the_thing_to_fix_without_revealing_it() {
    let forge = Forge::new(|ca| {
        GitHttpsServer::start(
            ca,
            Behaviour::RequireAuthorization(forge_authorization("ghs_another-token")),
        )
    });
    let url = forge.server.url("127.0.0.1");
    let error = forge.push().expect_err("the forge refuses the token");
    let message = format!("{error} {error:?}");
    assert!(
        matches!(&error, GitError::PushTokenRefused { remote } if *remote == url),
        "{message}"
    );
    assert!(
        error.to_string().contains("refused the push token"),
        "{message}"
    );
    let credential = BASE64.encode(format!("x-access-token:{TOKEN}"));
    assert!(!message.contains(TOKEN), "{message}");
    assert!(!message.contains(&credential), "{message}");
    assert_eq!(pushed_commit(&forge.server), None);
}

#[test]
fn a_token_without_write_access_is_named_as_the_thing_to_fix_without_revealing_it() {
    let forge = Forge::new(|ca| {
        GitHttpsServer::start(ca, Behaviour::RefuseWrites(forge_authorization(TOKEN)))
    });
    let url = forge.server.url("127.0.0.1");
    let error = forge.push().expect_err("the forge refuses the write");
    let message = format!("{error} {error:?}");
    assert!(
        matches!(&error, GitError::PushTokenCannotWrite { remote } if *remote == url),
        "{message}"
    );
    assert!(error.to_string().contains("`contents: write`"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");
    assert_eq!(pushed_commit(&forge.server), None);
}

/// The `git` the code under test would run (the first on PATH).
fn real_git() -> PathBuf {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|dir| Path::new(dir).join("git"))
        .find(|candidate| candidate.is_file())
        .expect("git on PATH")
}
