//! Runs every check of the chosen overlay: the independent hops at once, each within the
//! timeout; the HTTP hops on serverName once TLS to it works.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bundle_gen::{Config, OverlayName};
// The join functions rather than `tokio::join!`: the binary's tokio has no `macros` feature.
use futures_util::future::{join4, join5};
use reqwest::Url;
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::DoctorError;
use crate::check::{CheckId, CheckResult, Report, Status};
use crate::connect_to::{ConnectTo, redirect};
use crate::judge::{self, Verdict};
use crate::plan::{self, Media, Plan, TURN_PUBLIC_PORT, TurnPlan};
use crate::probe;
use crate::service::{self, LiveServices};

/// How to run the checks.
#[derive(Debug, Clone)]
pub struct Options {
    /// The overlay deployed; may be left out when the config generates only one.
    pub overlay: Option<OverlayName>,
    /// Connections to send elsewhere, keeping the names.
    pub connect_to: Vec<ConnectTo>,
    /// Trust anchors besides the platform's (`--ca-file`).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The live `livekit-rtc` Service(s), for `rtc.loadBalancerIp`.
    pub services: Option<LiveServices>,
    /// The longest each check may take.
    pub timeout: Duration,
}

/// The certificates of a PEM file (`--ca-file`).
pub fn parse_trust_anchors(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, DoctorError> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| DoctorError::TrustAnchors {
            reason: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(DoctorError::TrustAnchors {
            reason: "the file holds no PEM certificate (a -----BEGIN CERTIFICATE----- block): \
                     pass the CA's certificate in PEM"
                .to_owned(),
        });
    }
    Ok(certificates)
}

/// The paths of lk-jwt checked with `GET`: the legacy and the current token endpoint, both
/// POST-only in lk-jwt.
const LK_JWT_PATHS: [&str; 2] = ["/sfu/get", "/get_token"];

/// Checks the overlay's call path and reports every check.
pub async fn diagnose(config: &Config, options: &Options) -> Result<Report, DoctorError> {
    let variant = plan::choose_variant(config, options.overlay)?;
    let plan = Plan::of(config, variant)?;
    let tls = probe::tls_config(&options.extra_roots)?;
    let urls = HttpUrls::of(&plan)?;
    let client = probe::http_client(&tls, &options.connect_to, &urls.one_per_host(&plan))?;
    let checker = Checker {
        plan: &plan,
        tls,
        client,
        connect_to: &options.connect_to,
        timeout: options.timeout,
        urls,
    };
    let (mut results, signaling, tcp, turn) = join4(
        checker.server_name_hops(),
        checker.signaling_elsewhere(),
        checker.livekit_tcp(),
        checker.turn(),
    )
    .await;
    results.extend(signaling);
    results.push(tcp);
    results.extend(turn);
    results.push(checker.livekit_udp());
    results.push(checker.load_balancer(options.services.as_ref()));
    Ok(Report::new(results))
}

/// The URLs of the HTTP checks.
struct HttpUrls {
    well_known_server: Url,
    well_known_client: Url,
    rtc_transports: Url,
    lk_jwt: Vec<Url>,
}

impl HttpUrls {
    fn of(plan: &Plan) -> Result<Self, DoctorError> {
        Ok(Self {
            well_known_server: plan.server_url("/.well-known/matrix/server")?,
            well_known_client: plan.server_url("/.well-known/matrix/client")?,
            rtc_transports: plan
                .server_url("/_matrix/client/unstable/org.matrix.msc4143/rtc/transports")?,
            lk_jwt: LK_JWT_PATHS
                .iter()
                .map(|path| plan.server_url(path))
                .collect::<Result<_, _>>()?,
        })
    }

    /// A URL of each host the HTTP checks ask, with its key: `--connect-to` becomes a fixed
    /// address per host in reqwest.
    fn one_per_host<'a>(&'a self, plan: &'a Plan) -> Vec<(&'a Url, &'static str)> {
        vec![
            (&self.well_known_server, "homeserver.serverName"),
            (&plan.signaling.validate_url, plan.signaling.key),
        ]
    }
}

struct Checker<'a> {
    plan: &'a Plan,
    tls: Arc<ClientConfig>,
    client: reqwest::Client,
    connect_to: &'a [ConnectTo],
    timeout: Duration,
    urls: HttpUrls,
}

fn result(id: CheckId, key: Option<&'static str>, verdict: Verdict) -> CheckResult {
    match verdict {
        Verdict::Pass(message) => CheckResult {
            id,
            status: Status::Pass,
            key,
            message,
        },
        Verdict::Fail {
            key: other,
            message,
        } => CheckResult {
            id,
            status: Status::Fail,
            key: other.unwrap_or(key),
            message,
        },
    }
}

fn skip(id: CheckId, key: Option<&'static str>, message: impl Into<String>) -> CheckResult {
    CheckResult {
        id,
        status: Status::Skip,
        key,
        message: message.into(),
    }
}

fn fail(id: CheckId, key: Option<&'static str>, message: String) -> CheckResult {
    result(id, key, Verdict::Fail { key: None, message })
}

impl Checker<'_> {
    /// Runs `probe` within the timeout; a timeout reads as a failure to get an answer.
    async fn within<T>(
        &self,
        what: &str,
        probe: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        match tokio::time::timeout(self.timeout, probe).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "{what}: no answer within {} s",
                self.timeout.as_secs_f64()
            )),
        }
    }

    /// GET `url` within the timeout.
    async fn get(&self, url: &Url) -> Result<probe::Fetched, String> {
        self.within(&format!("GET {url}"), probe::fetch(&self.client, url))
            .await
    }

    /// TLS to serverName, then (if it works) the HTTP hops on it.
    async fn server_name_hops(&self) -> Vec<CheckResult> {
        const KEY: Option<&str> = Some("homeserver.serverName");
        let name = &self.plan.server_name;
        let https = match self
            .within(
                &format!("TLS to {name}:443"),
                probe::tls_connect(&self.tls, self.connect_to, name, 443),
            )
            .await
        {
            Ok(_) => CheckResult {
                id: CheckId::HttpsServerName,
                status: Status::Pass,
                key: KEY,
                message: format!("TLS to {name}:443 succeeded with a certificate valid for {name}"),
            },
            Err(error) => fail(
                CheckId::HttpsServerName,
                KEY,
                format!(
                    "expected TLS to {name}:443 with a certificate valid for {name}; {error}: \
                     the ingress serves no valid certificate for serverName (check the Secret \
                     of ingress.tls.secretName, or cert-manager's Certificate), or the name \
                     does not lead to the ingress"
                ),
            ),
        };
        if https.status == Status::Fail {
            let reason = "not checked: TLS to serverName failed (https.serverName)";
            let mut results = vec![https];
            for (id, key) in [
                (CheckId::WellKnownServer, KEY),
                (
                    CheckId::WellKnownClient,
                    Some("homeserver.livekitServiceUrl"),
                ),
                (CheckId::RtcTransports, Some("homeserver.livekitServiceUrl")),
                (CheckId::LkJwtRoute, None),
            ] {
                results.push(skip(id, key, reason));
            }
            if self.signaling_on_server_name() {
                results.push(skip(
                    CheckId::LivekitSignaling,
                    Some(self.plan.signaling.key),
                    reason,
                ));
            }
            return results;
        }
        let (server, client, transports, lk_jwt, signaling) = join5(
            self.well_known_server(),
            self.well_known_client(),
            self.rtc_transports(),
            self.lk_jwt_route(),
            async {
                if self.signaling_on_server_name() {
                    Some(self.signaling().await)
                } else {
                    None
                }
            },
        )
        .await;
        let mut results = vec![https, server, client, transports, lk_jwt];
        results.extend(signaling);
        results
    }

    fn signaling_on_server_name(&self) -> bool {
        let url = &self.plan.signaling.validate_url;
        url.host_str() == Some(self.plan.server_name.as_str())
            && url.port_or_known_default() == Some(443)
    }

    /// An external SFU's signalling, which does not wait for serverName's TLS.
    async fn signaling_elsewhere(&self) -> Option<CheckResult> {
        if self.signaling_on_server_name() {
            return None;
        }
        Some(self.signaling().await)
    }

    async fn well_known_server(&self) -> CheckResult {
        const KEY: Option<&str> = Some("homeserver.serverName");
        let verdict = match self.get(&self.urls.well_known_server).await {
            Ok(fetched) => judge::well_known_server(&fetched, &self.plan.server_name),
            Err(error) => return fail(CheckId::WellKnownServer, KEY, error),
        };
        result(CheckId::WellKnownServer, KEY, verdict)
    }

    async fn well_known_client(&self) -> CheckResult {
        const KEY: Option<&str> = Some("homeserver.livekitServiceUrl");
        let verdict = match self.get(&self.urls.well_known_client).await {
            Ok(fetched) => judge::well_known_client(
                &fetched,
                &self.plan.server_name,
                self.plan.livekit_service_url.as_deref(),
            ),
            Err(error) => return fail(CheckId::WellKnownClient, KEY, error),
        };
        result(CheckId::WellKnownClient, KEY, verdict)
    }

    async fn rtc_transports(&self) -> CheckResult {
        const KEY: Option<&str> = Some("homeserver.livekitServiceUrl");
        let Some(service_url) = &self.plan.livekit_service_url else {
            return skip(
                CheckId::RtcTransports,
                Some("lkJwt.enabled"),
                "not checked: lkJwt.enabled is false, so Tuwunel advertises no focus",
            );
        };
        let verdict = match self.get(&self.urls.rtc_transports).await {
            Ok(fetched) => judge::rtc_transports(&fetched, service_url),
            Err(error) => return fail(CheckId::RtcTransports, KEY, error),
        };
        result(CheckId::RtcTransports, KEY, verdict)
    }

    async fn lk_jwt_route(&self) -> CheckResult {
        if self.plan.livekit_service_url.is_none() {
            return skip(
                CheckId::LkJwtRoute,
                Some("lkJwt.enabled"),
                "not checked: lkJwt.enabled is false, so no lk-jwt is deployed",
            );
        }
        for url in &self.urls.lk_jwt {
            match self.get(url).await {
                Ok(fetched) => {
                    if let Some(failed) =
                        judge::lk_jwt_route(&fetched, url.as_str(), &self.plan.namespace)
                    {
                        return result(CheckId::LkJwtRoute, None, failed);
                    }
                }
                Err(error) => return fail(CheckId::LkJwtRoute, None, error),
            }
        }
        let paths: Vec<&str> = self.urls.lk_jwt.iter().map(Url::path).collect();
        let message = format!(
            "GET {} on https://{} answer 405 with Access-Control-Allow-Methods: POST, as \
             lk-jwt does",
            paths.join(" and "),
            self.plan.server_name
        );
        result(CheckId::LkJwtRoute, None, Verdict::Pass(message))
    }

    async fn signaling(&self) -> CheckResult {
        let signaling = &self.plan.signaling;
        let key = Some(signaling.key);
        let verdict = match self.get(&signaling.validate_url).await {
            Ok(fetched) => judge::livekit_signaling(&fetched, signaling.validate_url.as_str()),
            Err(error) => return fail(CheckId::LivekitSignaling, key, error),
        };
        result(CheckId::LivekitSignaling, key, verdict)
    }

    async fn livekit_tcp(&self) -> CheckResult {
        const KEY: Option<&str> = Some("livekit.rtc.nodeIp");
        let Some(Media {
            node_ip, tcp_port, ..
        }) = self.plan.media
        else {
            return skip(CheckId::LivekitTcp, KEY, self.no_media_reason());
        };
        let host = node_ip.to_string();
        match self
            .within(
                &format!("TCP to {host}:{tcp_port}"),
                probe::tcp_connect(self.connect_to, &host, tcp_port),
            )
            .await
        {
            Ok(_) => result(
                CheckId::LivekitTcp,
                KEY,
                Verdict::Pass(format!("TCP to {host}:{tcp_port} opens (ICE over TCP)")),
            ),
            Err(error) => fail(
                CheckId::LivekitTcp,
                KEY,
                format!(
                    "expected a TCP connection to nodeIp {host}:{tcp_port} \
                     (livekit.rtc.tcpPort); {error}: clients behind UDP-blocking firewalls get \
                     no media; nodeIp is not the livekit-rtc LoadBalancer's address, or a \
                     firewall in front of it drops the port"
                ),
            ),
        }
    }

    fn no_media_reason(&self) -> &'static str {
        if self.plan.overlay == OverlayName::External {
            "not checked: overlay external runs no LiveKit; check your SFU's own media ports"
        } else {
            "not checked: livekit.rtc.nodeIp is not written (useExternalIp), so the address \
             LiveKit advertises is not known here"
        }
    }

    fn livekit_udp(&self) -> CheckResult {
        const KEY: Option<&str> = Some("livekit.rtc.udpPort");
        let Some(Media {
            node_ip, udp_port, ..
        }) = self.plan.media
        else {
            return skip(CheckId::LivekitUdp, KEY, self.no_media_reason());
        };
        skip(
            CheckId::LivekitUdp,
            KEY,
            format!(
                "not checkable from outside: LiveKit answers STUN on the UDP mux \
                 {node_ip}:{udp_port} only for a session it issued ICE credentials for and \
                 drops every other packet, so an open port and a closed one look the same; \
                 join a call and check that media flows"
            ),
        )
    }

    /// `turn.dns`, `turn.tls` and `turn.allocate`.
    async fn turn(&self) -> Vec<CheckResult> {
        const DOMAIN: Option<&str> = Some("livekit.turn.domain");
        const TLS_KEY: Option<&str> = Some("livekit.turn.tls.existingSecret");
        let Some(TurnPlan { domain, node_ip }) = &self.plan.turn else {
            let reason = format!(
                "not checked: overlay {} runs no TURN",
                self.plan.overlay.dir_name()
            );
            return vec![
                skip(CheckId::TurnDns, DOMAIN, reason.clone()),
                skip(CheckId::TurnTls, TLS_KEY, reason.clone()),
                skip(CheckId::TurnAllocate, DOMAIN, reason),
            ];
        };
        let (dns, reachable) = self.turn_dns(domain, *node_ip).await;
        if !reachable {
            let reason = "not checked: turn.domain does not resolve (turn.dns)";
            return vec![
                dns,
                skip(CheckId::TurnTls, TLS_KEY, reason),
                skip(CheckId::TurnAllocate, DOMAIN, reason),
            ];
        }
        let relay = async {
            let connected = self
                .within(
                    &format!("TLS to {domain}:{TURN_PUBLIC_PORT}"),
                    probe::tls_connect(&self.tls, self.connect_to, domain, TURN_PUBLIC_PORT),
                )
                .await;
            let mut stream = match connected {
                Ok((_, stream)) => stream,
                Err(error) => {
                    return vec![
                        fail(
                            CheckId::TurnTls,
                            TLS_KEY,
                            format!(
                                "expected TLS to {domain}:443 with a certificate valid for \
                                 {domain}; {error}: the Secret of livekit.turn.tls.existingSecret \
                                 holds no valid certificate for turn.domain, or the name does \
                                 not lead to the livekit-rtc LoadBalancer"
                            ),
                        ),
                        skip(
                            CheckId::TurnAllocate,
                            DOMAIN,
                            "not checked: TLS to turn.domain failed (turn.tls)",
                        ),
                    ];
                }
            };
            let tls = result(
                CheckId::TurnTls,
                TLS_KEY,
                Verdict::Pass(format!(
                    "TLS to {domain}:443 succeeded with a certificate valid for {domain}"
                )),
            );
            let allocate = match self
                .within(
                    &format!("TURN Allocate on {domain}:443"),
                    probe::turn_allocate(&mut stream),
                )
                .await
            {
                Ok(reply) => result(
                    CheckId::TurnAllocate,
                    DOMAIN,
                    judge::turn_allocate(domain, &reply),
                ),
                Err(error) => fail(
                    CheckId::TurnAllocate,
                    DOMAIN,
                    format!(
                        "expected a TURN answer to an Allocate on {domain}:443; {error}: \
                         443 on turn.domain reaches something other than LiveKit's TURN"
                    ),
                ),
            };
            vec![tls, allocate]
        };
        let mut results = vec![dns];
        results.extend(relay.await);
        results
    }

    /// `turn.dns`, and whether TLS to the name can be tried (it resolves, or `--connect-to`
    /// redirects it). Skipped when `--connect-to` redirects `turn.domain:443`: the
    /// connections then go where it says, whatever DNS answers.
    async fn turn_dns(&self, domain: &str, node_ip: Option<IpAddr>) -> (CheckResult, bool) {
        const DOMAIN: Option<&str> = Some("livekit.turn.domain");
        if let Some(target) = redirect(self.connect_to, domain, TURN_PUBLIC_PORT) {
            let message = format!(
                "not checked: --connect-to sends {domain}:443 to {target}, so what DNS \
                 answers for it is not what the other TURN checks reach"
            );
            return (skip(CheckId::TurnDns, DOMAIN, message), true);
        }
        let Some(node_ip) = node_ip else {
            let message = "not checked: livekit.rtc.nodeIp is not written";
            return (skip(CheckId::TurnDns, DOMAIN, message), true);
        };
        match self
            .within(&format!("resolving {domain}"), probe::resolve(domain))
            .await
        {
            Ok(found) => (
                result(
                    CheckId::TurnDns,
                    DOMAIN,
                    judge::turn_dns(domain, &found, node_ip),
                ),
                !found.is_empty(),
            ),
            Err(error) => (
                fail(
                    CheckId::TurnDns,
                    DOMAIN,
                    format!(
                        "expected {domain} to resolve to nodeIp {node_ip}; {error}: clients \
                     cannot reach TURN; add an A record for it pointing at the livekit-rtc \
                     LoadBalancer"
                    ),
                ),
                false,
            ),
        }
    }

    fn load_balancer(&self, services: Option<&LiveServices>) -> CheckResult {
        const KEY: Option<&str> = Some("livekit.rtc.nodeIp");
        if self.plan.load_balancers.is_empty() {
            return skip(
                CheckId::RtcLoadBalancerIp,
                KEY,
                "not checked: this overlay renders no LoadBalancer for media (an external SFU, \
                 `livekit.rtc.serviceType: NodePort` or `livekit.hostNetwork`)",
            );
        }
        let Some(services) = services else {
            return skip(
                CheckId::RtcLoadBalancerIp,
                KEY,
                format!(
                    "not checked: pass --service-json with the output of `kubectl -n {} get \
                     service {} -o json`",
                    self.plan.namespace,
                    self.plan
                        .load_balancers
                        .iter()
                        .filter_map(|service| service["metadata"]["name"].as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            );
        };
        let node_ip = self.plan.media.map(|media| media.node_ip);
        let services = services.with_resolved_host_names(resolve_host);
        match service::compare(
            &self.plan.load_balancers,
            &services,
            node_ip,
            &self.plan.namespace,
        ) {
            Ok(message) => result(CheckId::RtcLoadBalancerIp, KEY, Verdict::Pass(message)),
            Err((key, message)) => fail(CheckId::RtcLoadBalancerIp, Some(key), message),
        }
    }
}

/// The addresses the system resolver gives for `host` (none when it cannot resolve it). Blocking,
/// and done once per LoadBalancer host name, after the concurrent hops have finished.
fn resolve_host(host: &str) -> Vec<IpAddr> {
    use std::net::ToSocketAddrs as _;
    (host, 0)
        .to_socket_addrs()
        .map(|addresses| addresses.map(|address| address.ip()).collect())
        .unwrap_or_default()
}
