//! A real OCI registry for tests: Debian's `docker-registry` (CNCF distribution 2.8) on
//! 127.0.0.1 with token auth like ghcr.io and Docker Hub, behind a small front of ours that
//! paginates tag lists (which distribution 2.8 cannot) and records every request as it arrived
//! (what it asked for, its `Authorization` headers, the answer's status).
//!
//! ```text
//! client ──► front (axum, 127.0.0.1:P) ──► docker-registry (127.0.0.1:Q, auth: token)
//!              ├─ GET /token            token server: ES256 JWTs, anonymous pull
//!              ├─ GET /v2/<name>/tags/list  sorted, `n`/`last`, `Link: rel="next"`
//!              └─ everything else       proxied as is (401 challenges, HEAD, Accept, ...)
//! ```
//!
//! Clients are pointed at [`TestRegistry::endpoint`]. The harness fills the registry directly
//! (those pushes are not counted), with helpers for images, indexes, BuildKit attestations and
//! tags, and [`Scenario`] builders that recreate the tag sets of the bundle's three images.
//!
//! The servers run on a runtime owned by the harness, so a [`TestRegistry`] works from any
//! tokio test (current-thread or not) and keeps answering while the test blocks, e.g. on a
//! child process.
#![deny(missing_docs)]

mod counts;
mod fill;
mod front;
mod keys;
mod manifests;
mod received;
mod scenario;
mod token;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bundle_gen::{Digest, Platform};
use tokio::runtime::{Handle, Runtime};

pub use counts::{Counts, ServerCounts};
pub use manifests::{
    BUILDKIT_METADATA_KEY, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, ManifestFormat, OCI_INDEX,
    OCI_MANIFEST, Provenance, PushedManifest, SLSA_PROVENANCE_V02,
};
pub use received::ReceivedRequest;
pub use registry_counts::{RequestCounts, RequestKind};
pub use scenario::{LkJwtHistory, LkJwtRoute, Pin, Scenario};
pub use token::Credentials;

use fill::Filler;
use front::FrontState;
use keys::TokenSigner;
use token::AccessRules;

/// Where Debian installs distribution's binary; `REGISTRY_FIXTURE_BINARY` overrides it.
const DEFAULT_REGISTRY_BINARY: &str = "/usr/bin/docker-registry";
/// How long the registry may take to answer its first request.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// How often `start` tries a fresh port when the registry cannot listen on the chosen one.
const START_ATTEMPTS: usize = 3;

/// Why the harness could not start or fill the registry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The registry binary is not installed.
    #[error("`{binary}` is not installed: {hint}")]
    RegistryBinaryMissing {
        /// The path looked at.
        binary: PathBuf,
        /// How to install it.
        hint: &'static str,
    },
    /// A key or certificate operation failed.
    #[error("could not {step}: {source}")]
    Key {
        /// What was being done.
        step: &'static str,
        /// The cause.
        source: rcgen::Error,
    },
    /// A local I/O operation failed.
    #[error("could not {step}: {source}")]
    Io {
        /// What was being done.
        step: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The registry exited or did not answer in time.
    #[error("docker-registry did not come up ({reason}); the end of its log {log}:\n{log_tail}")]
    RegistryNotReady {
        /// What happened.
        reason: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        log_tail: String,
    },
    /// An HTTP request could not be made.
    #[error("{method} {url} failed: {source}")]
    Http {
        /// Request method.
        method: &'static str,
        /// Request URL.
        url: String,
        /// The cause.
        source: reqwest::Error,
    },
    /// The registry answered a fill request with an unexpected status.
    #[error("{method} {url} answered {status}: {body}")]
    Refused {
        /// Request method.
        method: &'static str,
        /// Request URL.
        url: String,
        /// Status code received.
        status: u16,
        /// Response body.
        body: String,
    },
    /// The registry stored a manifest under another digest than its bytes hash to.
    #[error("the registry stored {url} as `{actual}`, but its bytes hash to `{expected}`")]
    DigestMismatch {
        /// The manifest URL.
        url: String,
        /// Digest of the bytes sent.
        expected: Digest,
        /// `Docker-Content-Digest` received.
        actual: String,
    },
    /// `tag` was given a digest the harness never pushed.
    #[error("cannot tag `{digest}`: push that manifest with this harness first")]
    UnknownManifest {
        /// The digest.
        digest: Digest,
    },
    /// A task on the harness runtime failed (panicked or was cancelled).
    #[error("registry-fixture task failed: {reason}")]
    Task {
        /// The join error.
        reason: String,
    },
}

impl Error {
    fn io(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let step = step.into();
        move |source| Self::Io { step, source }
    }

    pub(crate) fn http(method: &'static str, url: &str, source: reqwest::Error) -> Self {
        Self::Http {
            method,
            url: url.to_owned(),
            source,
        }
    }
}

/// A running registry with its token server and paginating front. Dropping it kills the
/// registry process (its storage is in memory) and deletes its files.
pub struct TestRegistry {
    // Field order is drop order: the process first, then the servers, then the files.
    registry: RegistryProcess,
    runtime: OwnedRuntime,
    handle: Handle,
    state: Arc<FrontState>,
    filler: Arc<Filler>,
    front: SocketAddr,
    _dir: tempfile::TempDir,
}

impl TestRegistry {
    /// Starts docker-registry with token auth, the token server and the front.
    pub async fn start() -> Result<Self, Error> {
        let binary = std::env::var_os("REGISTRY_FIXTURE_BINARY")
            .map_or_else(|| PathBuf::from(DEFAULT_REGISTRY_BINARY), PathBuf::from);
        if !binary.is_file() {
            return Err(Error::RegistryBinaryMissing {
                binary,
                hint: "run tests/setup.sh (apt-get install docker-registry)",
            });
        }
        let (runtime, handle) = OwnedRuntime::new()?;
        let dir = tempfile::Builder::new()
            .prefix("registry-fixture-")
            .tempdir()
            .map_err(Error::io("create the registry's temporary directory"))?;
        let signer = TokenSigner::generate()?;
        let certificate = dir.path().join("token-signer.pem");
        std::fs::write(&certificate, signer.certificate_pem())
            .map_err(Error::io("write the token-signing certificate"))?;

        let front_listener = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(Error::io("listen on 127.0.0.1 for the front"))?;
        let front = front_listener
            .local_addr()
            .map_err(Error::io("read the front's address"))?;

        // reqwest comes without a crypto provider of its own (see the workspace Cargo.toml),
        // and builds its TLS configuration even for plain http: rustls' ring one serves,
        // unless the process installed another already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|source| Error::http("BUILD", "client", source))?;
        let pusher = Credentials::new("registry-fixture-pusher", "push-secret");

        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let registry_port = free_port()?;
            let config = registry_config(registry_port, front, &certificate);
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config)
                .map_err(Error::io("write the registry configuration"))?;
            let registry_url = format!("http://127.0.0.1:{registry_port}");
            let mut registry = RegistryProcess::spawn(&binary, &config_path, dir.path())?;
            match registry
                .wait_until_ready(&handle, &http, &registry_url)
                .await
            {
                Ok(()) => {
                    let state = Arc::new(FrontState::new(
                        signer,
                        AccessRules::new(pusher),
                        registry_url,
                        http.clone(),
                    ));
                    let router = front::router(Arc::clone(&state));
                    handle.spawn(async move {
                        let listener = tokio::net::TcpListener::from_std(front_listener)?;
                        axum::serve(listener, router).await
                    });
                    let filler = Arc::new(Filler::new(http, Arc::clone(&state)));
                    return Ok(Self {
                        registry,
                        runtime,
                        handle,
                        state,
                        filler,
                        front,
                        _dir: dir,
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| Error::Task {
            reason: "no start attempt was made".to_owned(),
        }))
    }

    /// The front's URL, `http://127.0.0.1:<port>`: point clients here.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.front)
    }

    /// The front's `host:port`, as used in image references (`127.0.0.1:<port>/<repo>`).
    pub fn host(&self) -> String {
        self.front.to_string()
    }

    /// The registry process's log file (for debugging a failing test).
    pub fn registry_log(&self) -> &Path {
        &self.registry.log
    }

    /// The `service` the token server and registry agree on.
    pub fn service(&self) -> &str {
        front::SERVICE
    }

    /// From now on, pulling `repository` needs `credentials` (anonymous token requests get a
    /// token without access, as Docker Hub answers for private repositories).
    pub fn require_pull_credentials(&self, repository: &str, credentials: Credentials) {
        self.state
            .rules()
            .require_pull_credentials(repository, credentials);
    }

    /// From now on, pulling `repository` needs the access token `token`, presented as ghcr.io's
    /// token service takes a GitHub token: HTTP Basic with any user name and the token as the
    /// password.
    pub fn require_pull_token(&self, repository: &str, token: &str) {
        self.state.rules().require_pull_token(repository, token);
    }

    /// The largest page served, whatever `n` asks for and without `n` (unlimited by default):
    /// a registry that caps pages, so only the `Link` header tells the client there is more.
    pub fn set_page_size_cap(&self, cap: usize) {
        self.state.page_size_cap.store(cap, Ordering::Relaxed);
    }

    /// A snapshot of the request counters: a summary of [`TestRegistry::requests`].
    pub fn counts(&self) -> Counts {
        Counts::of(&self.state.received())
    }

    /// Forgets every request received so far: the log and the counters start again from zero.
    pub fn reset_counts(&self) {
        self.state.received().clear();
    }

    /// Every request received since the start or the last [`TestRegistry::reset_counts`], in
    /// the order they were answered. The harness's own fill requests go around the front and
    /// are not among them.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.state.received().clone()
    }

    /// A registry token granting pull on `repository`, minted here rather than asked of the
    /// token server (so no request is recorded): what a client configured with a ready
    /// token holds.
    pub fn pull_token(&self, repository: &str) -> Result<String, Error> {
        let access = serde_json::json!([{
            "type": "repository",
            "name": repository,
            "actions": ["pull"],
        }]);
        self.state.mint_token("configured-token-holder", access)
    }

    /// Pushes an OCI single-platform image: a config with `labels` and one small layer. The
    /// manifest is pushed by digest; tag it with [`TestRegistry::tag`].
    pub async fn push_image(
        &self,
        repository: &str,
        platform: &Platform,
        labels: &BTreeMap<String, String>,
    ) -> Result<PushedManifest, Error> {
        let filler = Arc::clone(&self.filler);
        let (repository, platform, labels) =
            (repository.to_owned(), platform.clone(), labels.clone());
        self.run(async move {
            filler
                .push_image(&repository, ManifestFormat::Oci, &platform, &labels, "")
                .await
        })
        .await
    }

    /// Pushes one image per platform and an index of them: a multi-arch build.
    pub async fn push_multi_arch(
        &self,
        repository: &str,
        format: ManifestFormat,
        platforms: &[Platform],
        labels: &BTreeMap<String, String>,
        provenance: Option<&Provenance>,
    ) -> Result<PushedManifest, Error> {
        let filler = Arc::clone(&self.filler);
        let build = scenario::Build {
            format,
            platforms: platforms.to_vec(),
            labels: labels.clone(),
            provenance: provenance.cloned(),
            layer_text: String::new(),
        };
        let repository = repository.to_owned();
        self.run(async move { Ok(build.push(&filler, &repository).await?.index) })
            .await
    }

    /// Points `tag` at a manifest pushed to `repository` with this harness.
    pub async fn tag(&self, repository: &str, tag: &str, digest: &Digest) -> Result<(), Error> {
        self.tag_all(repository, &[tag.to_owned()], digest).await
    }

    /// Points every tag in `tags` at one manifest, several requests at a time.
    pub async fn tag_all(
        &self,
        repository: &str,
        tags: &[String],
        digest: &Digest,
    ) -> Result<(), Error> {
        let filler = Arc::clone(&self.filler);
        let (repository, tags, digest) = (repository.to_owned(), tags.to_vec(), digest.clone());
        self.run(async move {
            scenario::concurrently(tags, |tag| {
                let filler = Arc::clone(&filler);
                let (repository, digest) = (repository.clone(), digest.clone());
                async move { filler.tag(&repository, &tag, &digest).await }
            })
            .await
            .map(drop)
        })
        .await
    }

    /// Runs a fill task on the harness's runtime (where its HTTP client lives).
    async fn run<T: Send + 'static>(
        &self,
        task: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        self.handle.spawn(task).await.map_err(|error| Error::Task {
            reason: error.to_string(),
        })?
    }

    pub(crate) fn filler(&self) -> Arc<Filler> {
        Arc::clone(&self.filler)
    }
}

impl std::fmt::Debug for TestRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRegistry")
            .field("endpoint", &self.endpoint())
            .field("registry", &self.state.registry_url)
            .field("runtime_alive", &self.runtime.0.is_some())
            .finish_non_exhaustive()
    }
}

/// The harness's own multi-thread runtime. Shut down in the background on drop, which is
/// allowed inside another runtime (a plain drop there would panic).
struct OwnedRuntime(Option<Runtime>);

impl OwnedRuntime {
    fn new() -> Result<(Self, Handle), Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("registry-fixture")
            .enable_all()
            .build()
            .map_err(Error::io("start the registry-fixture runtime"))?;
        let handle = runtime.handle().clone();
        Ok((Self(Some(runtime)), handle))
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The docker-registry child process, killed on drop.
///
/// The registry runs under a small `sh` watchdog that holds the read end of a pipe whose write
/// end is this process's: when this process ends in any way (even SIGKILL, when no `Drop`
/// runs), the pipe closes and the watchdog stops the registry, so no registry outlives its
/// test. The watchdog exits with the registry, so an early exit is still seen.
struct RegistryProcess {
    child: Child,
    lifeline: Option<ChildStdin>,
    log: PathBuf,
}

/// `$0` is the registry binary, `$1` its config. fd 3 keeps the lifeline (asynchronous
/// commands get /dev/null as stdin); the registry itself gets neither.
const WATCHDOG: &str = r#"exec 3<&0
"$0" serve "$1" </dev/null 3<&- &
registry=$!
{ read -r _ <&3; kill "$registry" 2>/dev/null; } &
wait "$registry""#;

impl RegistryProcess {
    fn spawn(binary: &Path, config: &Path, dir: &Path) -> Result<Self, Error> {
        let log = dir.join("registry.log");
        let log_file = std::fs::File::create(&log).map_err(Error::io("create the registry log"))?;
        let log_file_too = log_file
            .try_clone()
            .map_err(Error::io("open the registry log"))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(binary)
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(log_file)
            .stderr(log_file_too)
            .spawn()
            .map_err(Error::io(format!("start {} under sh", binary.display())))?;
        let lifeline = child.stdin.take();
        Ok(Self {
            child,
            lifeline,
            log,
        })
    }

    /// Polls `GET /v2/` until the registry answers (401: token auth is on).
    async fn wait_until_ready(
        &mut self,
        runtime: &Handle,
        http: &reqwest::Client,
        registry_url: &str,
    ) -> Result<(), Error> {
        let started = std::time::Instant::now();
        let ping = format!("{registry_url}/v2/");
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.not_ready(format!("it exited with {status}")));
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                return Err(self.not_ready(format!(
                    "no answer on {ping} within {} s",
                    STARTUP_TIMEOUT.as_secs()
                )));
            }
            let probe = {
                let (http, ping) = (http.clone(), ping.clone());
                runtime.spawn(async move {
                    let answered = http
                        .get(&ping)
                        .timeout(Duration::from_secs(1))
                        .send()
                        .await
                        .map(|response| response.status().as_u16());
                    if answered.is_err() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    answered
                })
            };
            match probe.await {
                Ok(Ok(401)) => return Ok(()),
                Ok(Ok(status)) => {
                    return Err(self.not_ready(format!(
                        "{ping} answered {status} instead of a 401 token challenge"
                    )));
                }
                Ok(Err(_)) => continue,
                Err(error) => {
                    return Err(Error::Task {
                        reason: error.to_string(),
                    });
                }
            }
        }
    }

    fn not_ready(&mut self, reason: String) -> Error {
        self.stop();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let log_tail = lines[lines.len().saturating_sub(20)..].join("\n");
        Error::RegistryNotReady {
            reason,
            log: self.log.clone(),
            log_tail,
        }
    }
}

impl RegistryProcess {
    /// Closes the lifeline (the watchdog then stops the registry and exits) and reaps the
    /// watchdog; kills it if it has not gone within a few seconds.
    fn stop(&mut self) {
        drop(self.lifeline.take());
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port that was free a moment ago (the registry binds it itself).
fn free_port() -> Result<u16, Error> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(Error::io("find a free port for the registry"))
}

/// Distribution's configuration: token auth whose realm is the front's `/token`, trusting the
/// token signer's certificate. Storage is in memory: the filesystem driver fsyncs every
/// write, which made a fill of a few hundred tags take seconds instead of a fraction.
fn registry_config(port: u16, front: SocketAddr, certificate: &Path) -> String {
    format!(
        "version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  inmemory: {{}}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: registry-fixture-upload-secret
auth:
  token:
    realm: http://{front}/token
    service: {service}
    issuer: {issuer}
    rootcertbundle: {certificate}
",
        certificate = certificate.display(),
        service = front::SERVICE,
        issuer = front::ISSUER,
    )
}
