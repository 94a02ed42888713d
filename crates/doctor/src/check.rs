//! The checks' ids and results, and the report that holds them (the `--json` contract).

use serde::Serialize;

/// One hop of the call path. The ids are stable: scripts and the README refer to them.
/// Serialized as [`CheckId::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckId {
    /// TLS to `serverName:443` with a certificate valid for it.
    HttpsServerName,
    /// `/.well-known/matrix/server` names `serverName:443`.
    WellKnownServer,
    /// `/.well-known/matrix/client` names the homeserver and the lk-jwt focus.
    WellKnownClient,
    /// Tuwunel's MSC4143 `rtc/transports` lists the same focus.
    RtcTransports,
    /// lk-jwt's paths on serverName reach lk-jwt.
    LkJwtRoute,
    /// `/rtc/validate` on `livekit.publicUrl` reaches LiveKit.
    LivekitSignaling,
    /// A TCP connection to `nodeIp:tcpPort` opens.
    LivekitTcp,
    /// The UDP mux: said why it is not checked.
    LivekitUdp,
    /// `turn.domain` resolves to `nodeIp`.
    TurnDns,
    /// TLS to `turn.domain:443` with a certificate valid for it.
    TurnTls,
    /// A TURN Allocate over that TLS stream gets a TURN answer.
    TurnAllocate,
    /// The `livekit-rtc` Service's LoadBalancer address and ports.
    RtcLoadBalancerIp,
}

impl CheckId {
    /// Every check, in the order the report lists them (the order of the call path).
    pub const ALL: [CheckId; 12] = [
        CheckId::HttpsServerName,
        CheckId::WellKnownServer,
        CheckId::WellKnownClient,
        CheckId::RtcTransports,
        CheckId::LkJwtRoute,
        CheckId::LivekitSignaling,
        CheckId::LivekitTcp,
        CheckId::LivekitUdp,
        CheckId::TurnDns,
        CheckId::TurnTls,
        CheckId::TurnAllocate,
        CheckId::RtcLoadBalancerIp,
    ];

    /// The id as printed and as in `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::HttpsServerName => "https.serverName",
            CheckId::WellKnownServer => "wellknown.server",
            CheckId::WellKnownClient => "wellknown.client",
            CheckId::RtcTransports => "rtc.transports",
            CheckId::LkJwtRoute => "lkjwt.route",
            CheckId::LivekitSignaling => "livekit.signaling",
            CheckId::LivekitTcp => "livekit.tcp",
            CheckId::LivekitUdp => "livekit.udp",
            CheckId::TurnDns => "turn.dns",
            CheckId::TurnTls => "turn.tls",
            CheckId::TurnAllocate => "turn.allocate",
            CheckId::RtcLoadBalancerIp => "rtc.loadBalancerIp",
        }
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The hop works as the config says.
    Pass,
    /// The hop is broken; the message says how.
    Fail,
    /// Not checked (not deployed by this overlay, an earlier hop failed, or not checkable
    /// from outside); the message says why.
    Skip,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// Which hop.
    pub id: CheckId,
    /// Pass, fail or skip.
    pub status: Status,
    /// The `bundle.yaml` key to look at, or `None` when the fix is a cluster object.
    pub key: Option<&'static str>,
    /// What was expected and what came back; for a failure also the likely cause.
    pub message: String,
}

/// Every check's result, in [`CheckId::ALL`] order. Serialized, it is the `--json` document:
/// `{"version": 1, "checks": [{"id", "status", "key", "message"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The version of this document's shape; changes only if a field changes meaning.
    pub version: u32,
    /// One entry per check.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// The report of these results, sorted into [`CheckId::ALL`] order.
    pub(crate) fn new(mut checks: Vec<CheckResult>) -> Self {
        checks.sort_by_key(|check| check.id);
        Self { version: 1, checks }
    }

    /// Whether any check failed.
    pub fn any_failed(&self) -> bool {
        self.checks.iter().any(|check| check.status == Status::Fail)
    }

    /// The result of one check.
    pub fn get(&self, id: CheckId) -> Option<&CheckResult> {
        self.checks.iter().find(|check| check.id == id)
    }

    /// How many checks ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks
            .iter()
            .filter(|check| check.status == status)
            .count()
    }
}
