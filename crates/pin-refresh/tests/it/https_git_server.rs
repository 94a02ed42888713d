//! A forge on 127.0.0.1 for the token push: HTTPS with a certificate of a test CA (the client
//! trusts it through git's own `http.sslCAInfo`), and the smart-HTTP exchange answered by git's
//! own `git http-backend`, so a push that succeeds really lands in a bare repository. It checks
//! the `Authorization` header as a forge does and records what arrives with every request.
//!
//! The HTTP/1.1 side is written here rather than taken from a server crate: it needs only one
//! request per connection (every answer says `Connection: close`), and a hand-written reader
//! shows every `Authorization` header as it arrived, duplicates included, which a header map
//! would merge.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use pin_refresh::test_fixture::{self, TestRepo, isolated_git_env};

/// The repository path the server serves, under its root.
pub const REPOSITORY_PATH: &str = "owner/repo.git";

/// What the server does with a request.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Serves the repository to requests whose only `Authorization` header is exactly this
    /// value; answers 401 with a Basic challenge otherwise, as a forge does.
    RequireAuthorization(String),
    /// Takes this `Authorization` value (401 for any other) but answers 403: the token may
    /// not write to the repository.
    RefuseWrites(String),
    /// Answers every request with a 302 to the same path under this base URL.
    RedirectTo(String),
}

/// A request as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrived {
    /// `GET` or `POST`.
    pub method: String,
    /// The path and query.
    pub target: String,
    /// Every `Authorization` header, in order.
    pub authorization: Vec<String>,
    /// The `User-Agent` header (empty if none).
    pub user_agent: String,
}

/// A test CA and a server certificate it signed for `127.0.0.1` and `localhost`.
pub struct TestCa {
    /// The CA certificate, PEM, for `http.sslCAInfo`.
    pub ca_pem: String,
    config: Arc<ServerConfig>,
}

impl TestCa {
    /// A fresh CA and server certificate.
    pub fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server_cert =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap()
                .signed_by(&server_key, &issuer)
                .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(server_cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )
            .unwrap();
        Self {
            ca_pem: ca_cert.pem(),
            config: Arc::new(config),
        }
    }
}

/// A running server; stops when dropped.
pub struct GitHttpsServer {
    address: SocketAddr,
    // Holds the served repository; removed with the server.
    _root: tempfile::TempDir,
    repository: TestRepo,
    arrived: Arc<Mutex<Vec<Arrived>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl GitHttpsServer {
    /// Starts a server with an empty bare repository at [`REPOSITORY_PATH`].
    pub fn start(ca: &TestCa, behaviour: Behaviour) -> Self {
        let root = tempfile::tempdir().unwrap();
        let repository_dir = root.path().join(REPOSITORY_PATH);
        std::fs::create_dir_all(&repository_dir).unwrap();
        let repository = test_fixture::init_bare_repo(&repository_dir);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let arrived = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (config, arrived, stop) = (ca.config.clone(), arrived.clone(), stop.clone());
            let project_root = root.path().to_owned();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let Ok(connection) = ServerConnection::new(config.clone()) else {
                        continue;
                    };
                    let mut tls = StreamOwned::new(connection, stream);
                    // A client that gives up mid-request (it refused the certificate, say)
                    // only ends its own connection.
                    let _ = serve_one(&mut tls, &behaviour, &project_root, &arrived);
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
            })
        };
        Self {
            address,
            _root: root,
            repository,
            arrived,
            stop,
            thread: Some(thread),
        }
    }

    /// The repository's URL with `host` (`127.0.0.1` or `localhost`).
    pub fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/{REPOSITORY_PATH}", self.address.port())
    }

    /// The server's base URL with `host`.
    pub fn base(&self, host: &str) -> String {
        format!("https://{host}:{}", self.address.port())
    }

    /// The requests that arrived, in order.
    pub fn arrived(&self) -> Vec<Arrived> {
        self.arrived.lock().unwrap().clone()
    }

    /// The served bare repository.
    pub fn repository(&self) -> &TestRepo {
        &self.repository
    }
}

impl Drop for GitHttpsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Tls = StreamOwned<ServerConnection, TcpStream>;

/// Reads one request from `tls`, records it, and answers it.
fn serve_one(
    tls: &mut Tls,
    behaviour: &Behaviour,
    project_root: &Path,
    arrived: &Mutex<Vec<Arrived>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *tls);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let authorization: Vec<String> = headers
        .iter()
        .filter(|(key, _)| key == "authorization")
        .map(|(_, value)| value.clone())
        .collect();
    arrived.lock().unwrap().push(Arrived {
        method: method.clone(),
        target: target.clone(),
        authorization: authorization.clone(),
        user_agent: header("user-agent").unwrap_or_default().to_owned(),
    });
    if header("expect").is_some_and(|value| value.eq_ignore_ascii_case("100-continue")) {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(
        &mut reader,
        header("content-length"),
        header("transfer-encoding"),
    )?;
    drop(reader);

    match behaviour {
        Behaviour::RedirectTo(base) => respond(
            tls,
            "302 Found",
            &[("Location", format!("{base}{target}"))],
            b"",
        ),
        Behaviour::RequireAuthorization(expected) | Behaviour::RefuseWrites(expected)
            if authorization != [expected.clone()] =>
        {
            respond(
                tls,
                "401 Unauthorized",
                &[("WWW-Authenticate", "Basic realm=\"forge\"".to_owned())],
                b"",
            )
        }
        Behaviour::RefuseWrites(_) => respond(tls, "403 Forbidden", &[], b""),
        Behaviour::RequireAuthorization(_) => {
            let (status, headers, body) =
                http_backend(project_root, &method, &target, &headers, &body);
            respond(tls, &status, &headers, &body)
        }
    }
}

/// The request body: `Content-Length` bytes, or the chunks of a chunked body.
fn read_body(
    reader: &mut impl BufRead,
    content_length: Option<&str>,
    transfer_encoding: Option<&str>,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if transfer_encoding.is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size_text = size_line.trim().split(';').next().unwrap_or_default();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    if let Some(length) = content_length.and_then(|value| value.parse::<usize>().ok()) {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(body)
}

/// Runs `git http-backend` (CGI) for the request; its status line, headers and body.
fn http_backend(
    project_root: &Path,
    method: &str,
    target: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (String, Vec<(&'static str, String)>, Vec<u8>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    let mut child = Command::new(exec_path().join("git-http-backend"))
        .env_clear()
        .envs(isolated_git_env())
        .env("GIT_PROJECT_ROOT", project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        // http-backend takes pushes only from an authenticated user.
        .env("REMOTE_USER", "x-access-token")
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    let split = output
        .stdout
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| {
            output
                .stdout
                .windows(2)
                .position(|window| window == b"\n\n")
                .map(|at| (at, 2))
        })
        .expect("http-backend writes CGI headers");
    let head = String::from_utf8_lossy(&output.stdout[..split.0]).into_owned();
    let mut status = "200 OK".to_owned();
    let mut response_headers = Vec::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match name.trim().to_ascii_lowercase().as_str() {
            "status" => status = value,
            "content-type" => response_headers.push(("Content-Type", value)),
            "cache-control" => response_headers.push(("Cache-Control", value)),
            _ => {}
        }
    }
    (
        status,
        response_headers,
        output.stdout[split.0 + split.1..].to_vec(),
    )
}

fn respond(
    tls: &mut Tls,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    tls.write_all(head.as_bytes())?;
    tls.write_all(body)?;
    tls.flush()
}

/// Where the `git` on `PATH` keeps its helper programs (`git http-backend` among them).
fn exec_path() -> PathBuf {
    let output = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git is installed");
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}
