//! Test support (feature `test-fixture`): a deployment on 127.0.0.1 for `bundle doctor` to
//! check. The HTTPS hops are loopback TLS servers with certificates of a test CA, answering on
//! each path what Tuwunel, lk-jwt and LiveKit answer there (each answer cites the upstream
//! function it copies the behaviour of); TURN is Debian's real `coturn` with a TLS listener;
//! LiveKit's ICE-over-TCP port is a listening socket. A [`Fault`] breaks exactly one hop.
//!
//! The HTTP side is written by hand rather than taken from a server crate: one request per
//! connection (every answer closes it), and bytes that are no HTTP request get the 400 a web
//! server answers them with, which is what `turn.allocate` must tell from a TURN answer.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bundle_gen::{Config, OverlayName};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use serde_json::{Value, json};

use crate::{ConnectTo, LiveServices, Options, parse_trust_anchors};

/// `homeserver.serverName` of the test site (never resolved: `--connect-to` leads to it).
pub const SERVER_NAME: &str = "matrix.doctor.test";
/// `livekit.turn.domain` of the test site (never resolved: `--connect-to` leads to it).
pub const TURN_DOMAIN: &str = "turn.doctor.test";
/// A `turn.domain` that resolves nowhere (`.invalid` is reserved for that, RFC 6761).
pub const UNRESOLVABLE_TURN_DOMAIN: &str = "turn.doctor.invalid";
/// The external SFU's host, for overlay `external`.
pub const EXTERNAL_SFU: &str = "sfu.doctor.test";
/// `livekit.rtc.nodeIp` of the test site.
pub const NODE_IP: &str = "127.0.0.1";
/// A name no certificate of the site is for.
const OTHER_NAME: &str = "other.doctor.test";

/// A test CA that signs server certificates.
pub struct TestCa {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// A fresh CA.
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().expect("CA key");
        let certificate = params.self_signed(&key).expect("CA certificate");
        Self {
            pem: certificate.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM (`--ca-file`).
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// A certificate for `names` and its key, both PEM.
    pub fn certificate_pem(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let certificate = CertificateParams::new(names)
            .expect("server parameters")
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        (certificate.pem(), key.serialize_pem())
    }

    /// A TLS server configuration with a certificate for `names`.
    pub fn server_config(&self, names: &[&str]) -> Arc<ServerConfig> {
        let key = KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let certificate = CertificateParams::new(names)
            .expect("server parameters")
            .signed_by(&key, &self.issuer)
            .expect("server certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(certificate.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("TLS server configuration");
        Arc::new(config)
    }
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers besides `Content-Length` and `Connection`.
    pub headers: Vec<(&'static str, &'static str)>,
    /// Body.
    pub body: String,
}

impl Answer {
    fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type", "application/json")],
            body: body.to_string(),
        }
    }

    /// Tuwunel's answer to a path no route of its takes: `not_found` in
    /// `src/router/router.rs` (an `M_UNRECOGNIZED` error, 404).
    pub fn tuwunel_not_found() -> Self {
        Self::json(
            404,
            &json!({"errcode": "M_UNRECOGNIZED", "error": "Not Found"}),
        )
    }

    /// What a reverse proxy answers for a path it routes nowhere (nginx's own 404 page).
    pub fn proxy_not_found() -> Self {
        Self {
            status: 404,
            headers: vec![("Content-Type", "text/html")],
            body: "<html><head><title>404 Not Found</title></head></html>".to_owned(),
        }
    }

    /// lk-jwt's answer to a `GET` on `/sfu/get` or `/get_token`: `corsJSON` in `handler.go`
    /// sets the JSON and CORS headers, then `handle_legacy` / `handleGetToken` refuse any
    /// method but POST with a bare 405.
    pub fn lk_jwt_method_not_allowed() -> Self {
        Self {
            status: 405,
            headers: vec![
                ("Content-Type", "application/json"),
                ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Methods", "POST"),
                (
                    "Access-Control-Allow-Headers",
                    "Accept, Content-Type, Content-Length, Accept-Encoding, X-CSRF-Token",
                ),
            ],
            body: String::new(),
        }
    }

    /// LiveKit's answer to `/rtc/validate` without a token: `APIKeyAuthMiddleware.ServeHTTP`
    /// in `pkg/service/auth.go` sets the CORS origin for that path and passes a request
    /// without a token on without grants; `v0Validate` in `pkg/service/rtcservice.go` gets
    /// 401 and `rtc.ErrPermissionDenied` from `validateInternal` and `HandleError`
    /// (`pkg/service/utils.go`) writes the error's text.
    pub fn livekit_validate_without_token() -> Self {
        Self {
            status: 401,
            headers: vec![("Access-Control-Allow-Origin", "*")],
            body: "no permissions to access the room".to_owned(),
        }
    }
}

/// What a server answers on each path; any other path gets Tuwunel's 404, as behind a proxy
/// that sends every path it does not know to the homeserver.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    paths: Vec<(String, Answer)>,
}

impl Answers {
    /// What the ingress of serverName answers, every route as `bundle gen` renders it:
    /// `/.well-known/matrix` and `/_matrix` to Tuwunel, `/sfu` and `/get_token` to lk-jwt,
    /// `/rtc` to LiveKit.
    pub fn ingress(server_name: &str, livekit_service_url: &str) -> Self {
        let focus = json!([{"type": "livekit", "livekit_service_url": livekit_service_url}]);
        let mut answers = Self::default();
        // Tuwunel, `well_known_server` in `src/api/server/well_known.rs`: the config's
        // `well_known.server`, which bundle gen sets to `<serverName>:443`.
        answers.set(
            "/.well-known/matrix/server",
            Answer::json(200, &json!({"m.server": format!("{server_name}:443")})),
        );
        // Tuwunel, `well_known_client` in `src/api/client/well_known.rs`: `well_known.client`
        // as `m.homeserver.base_url` (a parsed URL, so written with a trailing `/`), and the
        // transports of `get_transports` (`src/core/config/well_known.rs`: `livekit_url`, a
        // string, as a `livekit` focus) as `org.matrix.msc4143.rtc_foci`.
        answers.set(
            "/.well-known/matrix/client",
            Answer::json(
                200,
                &json!({
                    "m.homeserver": {"base_url": format!("https://{server_name}/")},
                    "org.matrix.msc4143.rtc_foci": focus,
                }),
            ),
        );
        // Tuwunel, `get_transports_route` in `src/api/client/rtc.rs`: the same transports,
        // without authentication.
        answers.set(
            "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports",
            Answer::json(200, &json!({"rtc_transports": focus})),
        );
        answers.set("/sfu/get", Answer::lk_jwt_method_not_allowed());
        answers.set("/get_token", Answer::lk_jwt_method_not_allowed());
        answers.set("/rtc/validate", Answer::livekit_validate_without_token());
        answers
    }

    /// What an external SFU's proxy answers: LiveKit on every path.
    pub fn livekit() -> Self {
        let mut answers = Self::default();
        answers.set("/rtc/validate", Answer::livekit_validate_without_token());
        answers
    }

    /// Answers `path` with `answer` from now on.
    pub fn set(&mut self, path: &str, answer: Answer) {
        self.paths.retain(|(known, _)| known != path);
        self.paths.push((path.to_owned(), answer));
    }

    fn for_path(&self, path: &str) -> Answer {
        self.paths
            .iter()
            .find(|(known, _)| known == path)
            .map_or_else(Answer::tuwunel_not_found, |(_, answer)| answer.clone())
    }
}

/// A loopback HTTPS server; stops when dropped.
pub struct FakeHttps {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeHttps {
    /// Serves `answers` with `tls` on a free port of 127.0.0.1.
    pub fn start(tls: Arc<ServerConfig>, answers: Answers) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let address = listener.local_addr().expect("the bound address");
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(answers);
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (tls, answers) = (tls.clone(), answers.clone());
                    // One thread per connection: a client that holds a connection open (or
                    // gives up on the certificate) holds up no other.
                    std::thread::spawn(move || {
                        let Ok(connection) = ServerConnection::new(tls) else {
                            return;
                        };
                        let mut stream = StreamOwned::new(connection, stream);
                        let _ = serve_one(&mut stream, &answers);
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    });
                }
            })
        };
        Self {
            address,
            stop,
            thread: Some(thread),
        }
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for FakeHttps {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request and answers it, or answers 400 to bytes that are no HTTP request.
fn serve_one(stream: &mut impl ReadWrite, answers: &Answers) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    let answer = loop {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..read]);
        if !request[0].is_ascii_uppercase() {
            break Answer {
                status: 400,
                headers: vec![("Content-Type", "text/html")],
                body: "<html><head><title>400 Bad Request</title></head></html>".to_owned(),
            };
        }
        if request.windows(4).any(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request);
            let target = head.split_whitespace().nth(1).unwrap_or("/");
            let path = target.split('?').next().unwrap_or(target);
            break answers.for_path(path);
        }
    };
    let reason = match answer.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Other",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", answer.status);
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        answer.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(answer.body.as_bytes())?;
    stream.flush()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A free port of 127.0.0.1 (bound, then released for a server to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Debian's `turnserver` (coturn) with a TLS listener on 127.0.0.1, long-term credentials (so
/// an Allocate without them gets 401 with REALM and NONCE), its config and certificate in a
/// temporary directory, in the foreground; killed when dropped.
pub struct Coturn {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Coturn {
    /// Starts it with a certificate of `ca` for `names`, and waits until it listens.
    pub fn start(ca: &TestCa, names: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (certificate, key) = ca.certificate_pem(names);
        let write = |name: &str, text: &str| -> PathBuf {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write a coturn file");
            path
        };
        let certificate = write("cert.pem", &certificate);
        let key = write("key.pem", &key);
        let port = free_port();
        let config = coturn_config(port, free_port(), &certificate, &key, dir.path());
        let config = write("turnserver.conf", &config);
        let child = Command::new("turnserver")
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnserver runs (tests/setup.sh installs Debian's coturn)");
        let mut coturn = Self {
            child,
            port,
            _dir: dir,
        };
        coturn.wait_until_listening();
        coturn
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("turnserver exited before listening: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "turnserver did not listen in 15 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its TLS listener.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn coturn_config(tls_port: u16, plain_port: u16, cert: &Path, key: &Path, dir: &Path) -> String {
    format!(
        "listening-ip=127.0.0.1\n\
         relay-ip=127.0.0.1\n\
         tls-listening-port={tls_port}\n\
         listening-port={plain_port}\n\
         no-udp\n\
         no-dtls\n\
         cert={}\n\
         pkey={}\n\
         realm=doctor.test\n\
         lt-cred-mech\n\
         user=doctor:doctor\n\
         no-cli\n\
         pidfile={}\n\
         log-file=stdout\n\
         simple-log\n\
         min-port=49160\n\
         max-port=49200\n",
        cert.display(),
        key.display(),
        dir.join("turnserver.pid").display(),
    )
}

/// The one hop a [`Site`] breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: every hop works.
    None,
    /// serverName's certificate is for another name.
    ServerCertificate,
    /// `/.well-known/matrix/server` delegates to port 8448.
    WellKnownServer,
    /// `/.well-known/matrix/client` advertises another focus.
    WellKnownClient,
    /// `rtc/transports` lists nothing (Tuwunel without `livekit_url`).
    RtcTransports,
    /// lk-jwt's paths reach Tuwunel (a proxy that sends every path to the homeserver).
    LkJwtRoute,
    /// `/rtc/validate` reaches Tuwunel (the same proxy); on overlay `external`, the SFU's
    /// proxy answers 404 itself.
    Signaling,
    /// Nothing listens on `nodeIp:tcpPort`.
    TcpPort,
    /// `turn.domain` resolves nowhere (and no `--connect-to` redirects it).
    TurnDns,
    /// TURN's certificate is for another name.
    TurnCertificate,
    /// `turn.domain:443` leads to a web server, not TURN.
    TurnNotTurn,
}

/// A deployment of overlay `bundled-turn` (or `external`) on 127.0.0.1 with one [`Fault`].
pub struct Site {
    /// Its `bundle.yaml`.
    pub config_yaml: String,
    /// The `--connect-to` values that lead to its servers.
    pub connect_to: Vec<String>,
    /// The test CA, PEM (`--ca-file`).
    pub ca_pem: String,
    /// Every `127.0.0.1:<port>` its servers listen on (or, for [`Fault::TcpPort`], the
    /// closed ICE-TCP port), for filtering transcripts.
    pub local_addresses: Vec<String>,
    overlay: OverlayName,
    // Held for as long as the site runs.
    _servers: Vec<Server>,
}

/// One of a site's servers.
enum Server {
    Https(FakeHttps),
    Coturn(Coturn),
    IceTcp(TcpListener),
}

impl Server {
    fn address(&self) -> SocketAddr {
        match self {
            Server::Https(https) => https.address(),
            Server::Coturn(coturn) => coturn.address(),
            Server::IceTcp(listener) => listener.local_addr().expect("the bound address"),
        }
    }
}

impl Site {
    /// Overlay `bundled-turn` with `fault`.
    pub fn start(fault: Fault) -> Self {
        let ca = TestCa::new();
        let service_url = format!("https://{SERVER_NAME}");
        let mut answers = Answers::ingress(SERVER_NAME, &service_url);
        match fault {
            Fault::WellKnownServer => answers.set(
                "/.well-known/matrix/server",
                Answer::json(200, &json!({"m.server": format!("{SERVER_NAME}:8448")})),
            ),
            Fault::WellKnownClient => answers.set(
                "/.well-known/matrix/client",
                Answer::json(
                    200,
                    &json!({
                        "m.homeserver": {"base_url": service_url},
                        "org.matrix.msc4143.rtc_foci": [{
                            "type": "livekit",
                            "livekit_service_url": format!("https://{SERVER_NAME}/livekit/jwt"),
                        }],
                    }),
                ),
            ),
            Fault::RtcTransports => answers.set(
                "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports",
                Answer::json(200, &json!({"rtc_transports": []})),
            ),
            Fault::LkJwtRoute => {
                answers.set("/sfu/get", Answer::tuwunel_not_found());
                answers.set("/get_token", Answer::tuwunel_not_found());
            }
            Fault::Signaling => answers.set("/rtc/validate", Answer::tuwunel_not_found()),
            _ => {}
        }
        let server_cert = if fault == Fault::ServerCertificate {
            OTHER_NAME
        } else {
            SERVER_NAME
        };
        let ingress = FakeHttps::start(ca.server_config(&[server_cert]), answers.clone());
        let turn_domain = if fault == Fault::TurnDns {
            UNRESOLVABLE_TURN_DOMAIN
        } else {
            TURN_DOMAIN
        };
        let turn = match fault {
            Fault::TurnNotTurn => {
                Server::Https(FakeHttps::start(ca.server_config(&[turn_domain]), answers))
            }
            Fault::TurnCertificate => Server::Coturn(Coturn::start(&ca, &[OTHER_NAME])),
            _ => Server::Coturn(Coturn::start(&ca, &[turn_domain])),
        };
        let turn_address = turn.address();
        let mut servers = vec![turn];
        let tcp_port = if fault == Fault::TcpPort {
            free_port()
        } else {
            let listener = TcpListener::bind((NODE_IP, 0)).expect("bind the ICE-TCP port");
            let port = listener.local_addr().expect("the bound address").port();
            servers.push(Server::IceTcp(listener));
            port
        };
        let mut connect_to = vec![format!("{SERVER_NAME}:443:{}", ingress.address())];
        // A name that resolves nowhere is left to DNS, as a client would be.
        if fault != Fault::TurnDns {
            connect_to.push(format!("{turn_domain}:443:{turn_address}"));
        }
        Self {
            config_yaml: site_config(turn_domain, tcp_port),
            connect_to,
            ca_pem: ca.pem().to_owned(),
            local_addresses: vec![
                ingress.address().to_string(),
                turn_address.to_string(),
                format!("{NODE_IP}:{tcp_port}"),
            ],
            overlay: OverlayName::BundledTurn,
            _servers: [Server::Https(ingress)]
                .into_iter()
                .chain(servers)
                .collect(),
        }
    }

    /// Overlay `external`: serverName's ingress and the external SFU's proxy, with `fault`
    /// ([`Fault::Signaling`] breaks the SFU's `/rtc/validate`; the TURN and TCP faults do not
    /// apply).
    pub fn external(fault: Fault) -> Self {
        let ca = TestCa::new();
        let service_url = format!("https://{SERVER_NAME}");
        let ingress = FakeHttps::start(
            ca.server_config(&[SERVER_NAME]),
            Answers::ingress(SERVER_NAME, &service_url),
        );
        let mut sfu_answers = Answers::livekit();
        if fault == Fault::Signaling {
            sfu_answers.set("/rtc/validate", Answer::proxy_not_found());
        }
        let sfu = FakeHttps::start(ca.server_config(&[EXTERNAL_SFU]), sfu_answers);
        Self {
            config_yaml: external_config(),
            connect_to: vec![
                format!("{SERVER_NAME}:443:{}", ingress.address()),
                format!("{EXTERNAL_SFU}:443:{}", sfu.address()),
            ],
            ca_pem: ca.pem().to_owned(),
            local_addresses: vec![ingress.address().to_string(), sfu.address().to_string()],
            overlay: OverlayName::External,
            _servers: vec![Server::Https(ingress), Server::Https(sfu)],
        }
    }

    /// Its config, loaded.
    pub fn config(&self) -> Config {
        Config::from_yaml(&self.config_yaml).expect("the site config is valid")
    }

    /// The options that check it, with `services` as `--service-json`.
    pub fn options(&self, services: Option<LiveServices>) -> Options {
        Options {
            overlay: Some(self.overlay),
            connect_to: self
                .connect_to
                .iter()
                .map(|entry| entry.parse::<ConnectTo>().expect("a valid --connect-to"))
                .collect(),
            extra_roots: parse_trust_anchors(self.ca_pem.as_bytes()).expect("the CA parses"),
            services,
            timeout: Duration::from_secs(5),
        }
    }

    /// `kubectl get service livekit-rtc -o json` of this site, as the cluster would show it
    /// once the LoadBalancer got `address`: the Service as rendered, with that status.
    pub fn service_json(&self, address: &str) -> String {
        let config = self.config();
        let mut service = bundle_gen::render_objects(&config, self.overlay)
            .expect("the site renders")
            .into_iter()
            .find(|object| object["kind"] == "Service" && object["spec"]["type"] == "LoadBalancer")
            .expect("the overlay has a LoadBalancer Service");
        service["status"] = json!({"loadBalancer": {"ingress": [{"ip": address}]}});
        service.to_string()
    }
}

/// Images every config pins.
const IMAGES: &str = "\
images:
  homeserver:
    registry: ghcr.io
    repository: matrix-construct/tuwunel
    tag: v1.9.3
    digest: \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"
    policy: {kind: bare-multiarch}
  livekit:
    repository: livekit/livekit-server
    tag: v1.13.7
    digest: \"sha256:2222222222222222222222222222222222222222222222222222222222222222\"
    policy: {kind: semver}
  lkJwt:
    registry: ghcr.io
    repository: element-hq/lk-jwt-service
    tag: \"0.7.0\"
    digest: \"sha256:3333333333333333333333333333333333333333333333333333333333333333\"
    policy: {kind: semver, tagPrefix: \"\"}
";

/// The part of both test configs before `livekit:`.
fn homeserver_section() -> String {
    format!(
        "namespace: chat
homeserver:
  serverName: {SERVER_NAME}
  registrationTokenExistingSecret: {{name: registration}}
  livekitServiceUrl: https://{SERVER_NAME}
"
    )
}

fn site_config(turn_domain: &str, tcp_port: u16) -> String {
    format!(
        "{}livekit:
  publicUrl: wss://{SERVER_NAME}
  keys: {{existingSecret: {{name: livekit-keys}}}}
  rtc: {{nodeIp: {NODE_IP}, tcpPort: {tcp_port}}}
  turn:
    domain: {turn_domain}
    tls: {{existingSecret: turn-tls}}
    relayPortRange: {{start: 20000, end: 20004}}
    allowRestrictedPeerCidrs: [127.0.0.0/8]
overlays:
  bundled-turn: {{}}
{IMAGES}",
        homeserver_section()
    )
}

fn external_config() -> String {
    format!(
        "{}livekit:
  publicUrl: wss://{EXTERNAL_SFU}
  keys: {{existingSecret: {{name: livekit-external-keys}}}}
overlays:
  external: {{}}
{IMAGES}",
        homeserver_section()
    )
}
