//! `bundle doctor`: checks the call path of a live deployment against bundle.yaml and prints
//! one line per check (or the `--json` report); exit 1 when a check failed.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use bundle_gen::OverlayName;
use clap::Args;
use doctor::{ConnectTo, LiveServices, Options, Report, Status};

use crate::{ConfigArgs, Console, Outcome, load_config};

pub(crate) const DOCTOR_HELP: &str = "\
Examples:
  bundle doctor --overlay bundled-turn
  bundle doctor --overlay bundled --service-json <(kubectl -n matrix get service livekit-rtc -o json)
  bundle doctor --connect-to matrix.example.org:443:192.0.2.10:443 --ca-file staging-ca.pem
  bundle doctor --json | jq '.checks[] | select(.status == \"fail\")'

Walks the hops a Matrix call takes, as the overlay deployed them: TLS to serverName, the two
well-known files, the MatrixRTC focus (rtc/transports), the lk-jwt routes, LiveKit's signalling
(/rtc/validate), ICE over TCP to nodeIp, TURN over TLS (DNS, certificate, an Allocate request)
and, with --service-json, the livekit-rtc LoadBalancer's address and ports. Each failure says
what was expected, what came back, and the bundle.yaml key to look at. The UDP mux cannot be
checked from outside (LiveKit drops STUN requests of sessions it does not know); the output
says so.

--connect-to HOST:PORT:ADDR:PORT sends connections for HOST:PORT to ADDR:PORT, keeping HOST
for SNI, the certificate check and the Host header (as curl's option does).

--json prints {\"version\": 1, \"checks\": [{\"id\", \"status\": \"pass\"|\"fail\"|\"skip\",
\"key\", \"message\"}]}, where key is the bundle.yaml key to look at, or null.

Exit codes:
  0  every check passed or was skipped
  1  a check failed
  2  error: invalid config or arguments, unreadable --ca-file or --service-json";

/// Arguments of `bundle doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The site config.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The overlay deployed (bundled, bundled-turn, external); needed when bundle.yaml
    /// generates more than one.
    #[arg(long, value_name = "NAME")]
    pub overlay: Option<OverlayName>,
    /// Send connections for HOST:PORT to ADDR:PORT, keeping HOST for SNI, certificate checks
    /// and Host headers. Repeatable.
    #[arg(long = "connect-to", value_name = "HOST:PORT:ADDR:PORT")]
    pub connect_to: Vec<ConnectTo>,
    /// Trust the CA certificates in this PEM file besides the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// The output of `kubectl get service livekit-rtc -o json` (or a List of Services), for
    /// the LoadBalancer check.
    #[arg(long, value_name = "FILE")]
    pub service_json: Option<PathBuf>,
    /// The longest each check may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `bundle doctor`.
pub(crate) fn run(args: &DoctorArgs, console: &mut Console) -> anyhow::Result<Outcome> {
    let config = load_config(&args.config.config)?;
    let extra_roots = match &args.ca_file {
        Some(path) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read --ca-file {}", path.display()))?;
            doctor::parse_trust_anchors(&pem)
                .with_context(|| format!("--ca-file {}", path.display()))?
        }
        None => Vec::new(),
    };
    let services = match &args.service_json {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --service-json {}", path.display()))?;
            Some(
                LiveServices::from_json(&text)
                    .with_context(|| format!("--service-json {}", path.display()))?,
            )
        }
        None => None,
    };
    let options = Options {
        overlay: args.overlay,
        connect_to: args.connect_to.clone(),
        extra_roots,
        services,
        timeout: Duration::from_secs(args.timeout),
    };
    let report = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(doctor::diagnose(&config, &options))?;
    if args.json {
        writeln!(console.data(), "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(console.data(), "{}", human(&report))?;
    }
    Ok(if report.any_failed() {
        Outcome::ChecksFailed
    } else {
        Outcome::Done
    })
}

/// One line per check (`pass`, `fail` or `skip`, the id, the message), the key under each
/// failure, and a count.
fn human(report: &Report) -> String {
    let width = report
        .checks
        .iter()
        .map(|check| check.id.as_str().len())
        .max()
        .unwrap_or_default();
    let mut text = String::new();
    for check in &report.checks {
        let status = match check.status {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        let _ = writeln!(
            text,
            "{status}  {:<width$}  {}",
            check.id.as_str(),
            check.message
        );
        if check.status == Status::Fail {
            let key = check.key.unwrap_or("(a cluster object, named above)");
            let _ = writeln!(text, "      {:<width$}  key: {key}", "");
        }
    }
    let _ = writeln!(
        text,
        "{} passed, {} failed, {} skipped",
        report.count(Status::Pass),
        report.count(Status::Fail),
        report.count(Status::Skip)
    );
    text
}
