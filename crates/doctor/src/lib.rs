//! Checks a live deployment's call path, hop by hop, against the `bundle.yaml` that deployed
//! it: the certificate and well-known files of `homeserver.serverName`, the MatrixRTC focus,
//! the lk-jwt and LiveKit routes, LiveKit's ICE-over-TCP port, TURN over TLS and the
//! `livekit-rtc` LoadBalancer. Each hop is one check with a stable id; a failure names what
//! was expected, what came back, and the `bundle.yaml` key to look at.
//!
//! What each check expects is worked out from the config alone (module `plan`); the network
//! is touched only by the probes (`probe`), and what a probe saw is judged by pure functions
//! (`judge`, `stun`, `service`).
#![deny(missing_docs)]

mod check;
mod connect_to;
mod error;
mod judge;
mod plan;
mod probe;
mod run;
mod service;
mod stun;
#[cfg(feature = "test-fixture")]
pub mod test_fixture;

pub use check::{CheckId, CheckResult, Report, Status};
pub use connect_to::{ConnectTo, InvalidConnectTo};
pub use error::DoctorError;
pub use run::{Options, diagnose, parse_trust_anchors};
pub use service::LiveServices;
