//! The network side: HTTPS requests, TLS handshakes, TCP connections, name lookups and the
//! TURN exchange. Each returns what it saw, or why it saw nothing as one line of text; judging
//! what was seen is [`crate::judge`]'s job.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::DoctorError;
use crate::connect_to::{ConnectTo, redirect};
use crate::stun;

/// The most of a body a check reads: the answers checked are a few hundred bytes.
const BODY_LIMIT: usize = 64 * 1024;

/// An HTTP answer, as far as the checks look at it.
#[derive(Debug, Clone)]
pub(crate) struct Fetched {
    /// The status code.
    pub status: u16,
    /// The `Access-Control-Allow-Methods` header, which lk-jwt sets on every answer.
    pub allow_methods: Option<String>,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
    /// The body (at most [`BODY_LIMIT`] bytes, lossily decoded).
    pub body: String,
}

/// rustls' ring provider (see the workspace Cargo.toml: the crate builds without another).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS client of the raw TLS checks: the platform's trust store (as reqwest's) and the
/// `--ca-file` anchors.
pub(crate) fn tls_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<Arc<ClientConfig>, DoctorError> {
    let provider = provider();
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        extra_roots.iter().cloned(),
        provider.clone(),
    )
    .map_err(|error| DoctorError::Client(error.to_string()))?;
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| DoctorError::Client(error.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The HTTP client of the HTTP checks: TLS as [`tls_config`], no redirects followed (each
/// path must answer itself, as Tuwunel, lk-jwt and LiveKit do), and every `--connect-to`
/// entry for the port a URL uses turned into a fixed address for its host.
pub(crate) fn http_client(
    tls: &Arc<ClientConfig>,
    connect_to: &[ConnectTo],
    urls: &[(&Url, &'static str)],
) -> Result<reqwest::Client, DoctorError> {
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(ClientConfig::clone(tls))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("bundle-doctor/", env!("CARGO_PKG_VERSION")));
    for (url, key) in urls {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            continue;
        };
        let Some(target) = redirect(connect_to, host, port) else {
            continue;
        };
        // A URL's own port always wins over the resolved one in reqwest.
        if url.port().is_some() && target.port() != port {
            return Err(DoctorError::ConnectToPortChange {
                key,
                host: host.to_owned(),
                port,
                target_port: target.port(),
            });
        }
        builder = builder.resolve(host, target);
    }
    builder
        .build()
        .map_err(|error| DoctorError::Client(describe(&error)))
}

/// `GET url`.
pub(crate) async fn fetch(client: &reqwest::Client, url: &Url) -> Result<Fetched, String> {
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|error| describe(&error))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let status = response.status().as_u16();
    let allow_methods = header("access-control-allow-methods");
    let location = header("location");
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| describe(&error))? {
        body.extend_from_slice(&chunk);
        if body.len() >= BODY_LIMIT {
            body.truncate(BODY_LIMIT);
            break;
        }
    }
    Ok(Fetched {
        status,
        allow_methods,
        location,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Where a connection for `host:port` goes: the `--connect-to` target, else every address
/// the name resolves to (the first that answers is used).
async fn addresses(
    connect_to: &[ConnectTo],
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, String> {
    if let Some(target) = redirect(connect_to, host, port) {
        return Ok(vec![target]);
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|error| format!("{host} does not resolve: {error}"))?
        .collect();
    if found.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    Ok(found)
}

/// A TCP connection to `host:port`, honouring `--connect-to`.
pub(crate) async fn tcp_connect(
    connect_to: &[ConnectTo],
    host: &str,
    port: u16,
) -> Result<(SocketAddr, TcpStream), String> {
    let mut last = String::new();
    for address in addresses(connect_to, host, port).await? {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok((address, stream)),
            Err(error) => last = format!("TCP to {address} failed: {error}"),
        }
    }
    Err(last)
}

/// A TLS session with `host` on `host:port` (SNI and certificate name `host`).
pub(crate) async fn tls_connect(
    tls: &Arc<ClientConfig>,
    connect_to: &[ConnectTo],
    host: &str,
    port: u16,
) -> Result<(SocketAddr, TlsStream<TcpStream>), String> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|error| format!("{host} is not a TLS server name: {error}"))?;
    let (address, tcp) = tcp_connect(connect_to, host, port).await?;
    let stream = TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|error| format!("TLS with {address} failed: {}", chain(&error)))?;
    Ok((address, stream))
}

/// The addresses `domain` resolves to.
pub(crate) async fn resolve(domain: &str) -> Result<Vec<IpAddr>, String> {
    let mut found: Vec<IpAddr> = tokio::net::lookup_host((domain, 0))
        .await
        .map_err(|error| format!("{domain} does not resolve: {error}"))?
        .map(|address| address.ip())
        .collect();
    found.sort();
    found.dedup();
    Ok(found)
}

/// What came back to an Allocate request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TurnReply {
    /// A STUN answer.
    Stun(stun::AllocateAnswer),
    /// Bytes that are no STUN message (their start, for the message).
    NotStun(String),
    /// The connection closed without an answer.
    Closed,
}

/// Sends an Allocate request on `stream` and reads one answer.
pub(crate) async fn turn_allocate(stream: &mut TlsStream<TcpStream>) -> Result<TurnReply, String> {
    let mut transaction_id = [0u8; 12];
    getrandom::fill(&mut transaction_id)
        .map_err(|error| format!("no random transaction id: {error}"))?;
    stream
        .write_all(&stun::allocate_request(transaction_id))
        .await
        .map_err(|error| format!("sending the Allocate request failed: {error}"))?;
    stream
        .flush()
        .await
        .map_err(|error| format!("sending the Allocate request failed: {error}"))?;
    let mut header = [0u8; stun::HEADER_LEN];
    let mut read = 0;
    while read < header.len() {
        match stream.read(&mut header[read..]).await {
            Ok(0) if read == 0 => return Ok(TurnReply::Closed),
            Ok(0) => break,
            Ok(count) => read += count,
            Err(error) if read == 0 => {
                return Err(format!("reading the answer failed: {error}"));
            }
            Err(_) => break,
        }
    }
    let Some(body_len) = stun::body_len(&header).filter(|_| read == header.len()) else {
        let start: String = String::from_utf8_lossy(&header[..read])
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        return Ok(TurnReply::NotStun(start.trim().to_owned()));
    };
    let mut message = header.to_vec();
    message.resize(stun::HEADER_LEN + body_len, 0);
    stream
        .read_exact(&mut message[stun::HEADER_LEN..])
        .await
        .map_err(|error| format!("reading the answer failed: {error}"))?;
    Ok(TurnReply::Stun(stun::parse_answer(
        &message,
        transaction_id,
    )))
}

/// A reqwest error with its causes (the TLS or connection error is a source, not the text).
fn describe(error: &reqwest::Error) -> String {
    chain(error)
}

/// An error and each of its causes, each said once.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
