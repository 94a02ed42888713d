//! Each hop broken on its own: its check fails with its id and key, and every other check
//! passes (or is skipped because it depends on the broken hop, or cannot be checked).

use doctor::test_fixture::{Fault, NODE_IP, Site};
use doctor::{CheckId, LiveServices, Report, Status};

async fn diagnose(site: &Site, services: Option<LiveServices>) -> Report {
    doctor::diagnose(&site.config(), &site.options(services))
        .await
        .expect("the checks run")
}

fn live_services(site: &Site, address: &str) -> LiveServices {
    LiveServices::from_json(&site.service_json(address)).expect("the Service parses")
}

/// The checks skipped on every bundled site: the UDP mux, which cannot be checked from
/// outside, and `turn.dns`, since `--connect-to` leads `turn.domain` to coturn (a name that
/// resolves to 127.0.0.1 everywhere, `localhost`, has no dot and is refused as a domain).
const NOT_CHECKABLE: [CheckId; 2] = [CheckId::LivekitUdp, CheckId::TurnDns];

/// Asserts that `failed` failed with `key`, that `skipped` (besides the UDP mux) were skipped,
/// and that every other check passed.
fn assert_only(report: &Report, failed: CheckId, key: Option<&str>, skipped: &[CheckId]) {
    for check in &report.checks {
        let expected = if check.id == failed {
            Status::Fail
        } else if skipped.contains(&check.id) || NOT_CHECKABLE.contains(&check.id) {
            Status::Skip
        } else {
            Status::Pass
        };
        assert_eq!(check.status, expected, "{check:#?}");
    }
    assert_eq!(
        report.get(failed).expect("every check is reported").key,
        key
    );
    assert!(report.any_failed());
}

#[tokio::test]
async fn every_hop_of_a_working_site_passes() {
    let site = Site::start(Fault::None);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    for check in &report.checks {
        let expected = if NOT_CHECKABLE.contains(&check.id) {
            Status::Skip
        } else {
            Status::Pass
        };
        assert_eq!(check.status, expected, "{check:#?}");
    }
    assert_eq!(report.checks.len(), CheckId::ALL.len());
    assert!(!report.any_failed());
}

#[tokio::test]
async fn a_certificate_for_another_name_fails_https_and_skips_the_hops_behind_it() {
    let site = Site::start(Fault::ServerCertificate);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(
        &report,
        CheckId::HttpsServerName,
        Some("homeserver.serverName"),
        &[
            CheckId::WellKnownServer,
            CheckId::WellKnownClient,
            CheckId::RtcTransports,
            CheckId::LkJwtRoute,
            CheckId::LivekitSignaling,
        ],
    );
    let message = &report.get(CheckId::HttpsServerName).unwrap().message;
    assert!(message.contains("not valid for name"), "{message}");
}

#[tokio::test]
async fn a_server_well_known_that_delegates_elsewhere_fails_wellknown_server() {
    let site = Site::start(Fault::WellKnownServer);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(
        &report,
        CheckId::WellKnownServer,
        Some("homeserver.serverName"),
        &[],
    );
    let message = &report.get(CheckId::WellKnownServer).unwrap().message;
    assert!(
        message.contains("expected m.server `matrix.doctor.test:443`")
            && message.contains("got `matrix.doctor.test:8448`"),
        "{message}"
    );
}

#[tokio::test]
async fn a_client_well_known_with_another_focus_fails_wellknown_client() {
    let site = Site::start(Fault::WellKnownClient);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(
        &report,
        CheckId::WellKnownClient,
        Some("homeserver.livekitServiceUrl"),
        &[],
    );
    let message = &report.get(CheckId::WellKnownClient).unwrap().message;
    assert!(
        message.contains("got https://matrix.doctor.test/livekit/jwt"),
        "{message}"
    );
}

#[tokio::test]
async fn an_empty_transport_list_fails_rtc_transports() {
    let site = Site::start(Fault::RtcTransports);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(
        &report,
        CheckId::RtcTransports,
        Some("homeserver.livekitServiceUrl"),
        &[],
    );
    let message = &report.get(CheckId::RtcTransports).unwrap().message;
    assert!(message.contains("got no livekit focus"), "{message}");
}

#[tokio::test]
async fn lk_jwt_paths_answered_by_tuwunel_fail_lkjwt_route() {
    let site = Site::start(Fault::LkJwtRoute);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(&report, CheckId::LkJwtRoute, None, &[]);
    let message = &report.get(CheckId::LkJwtRoute).unwrap().message;
    assert!(
        message.contains("got 404") && message.contains("M_UNRECOGNIZED"),
        "{message}"
    );
}

#[tokio::test]
async fn a_validate_path_that_misses_livekit_fails_livekit_signaling() {
    let site = Site::start(Fault::Signaling);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(
        &report,
        CheckId::LivekitSignaling,
        Some("livekit.publicUrl"),
        &[],
    );
}

#[tokio::test]
async fn a_closed_ice_tcp_port_fails_livekit_tcp() {
    let site = Site::start(Fault::TcpPort);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(
        &report,
        CheckId::LivekitTcp,
        Some("livekit.rtc.nodeIp"),
        &[],
    );
    let message = &report.get(CheckId::LivekitTcp).unwrap().message;
    assert!(message.contains("refused"), "{message}");
}

#[tokio::test]
async fn a_turn_domain_that_resolves_nowhere_fails_turn_dns_and_skips_the_relay() {
    let site = Site::start(Fault::TurnDns);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(
        &report,
        CheckId::TurnDns,
        Some("livekit.turn.domain"),
        &[CheckId::TurnTls, CheckId::TurnAllocate],
    );
    let message = &report.get(CheckId::TurnDns).unwrap().message;
    assert!(
        message.contains("expected turn.doctor.invalid to resolve to nodeIp 127.0.0.1"),
        "{message}"
    );
}

#[tokio::test]
async fn a_turn_certificate_for_another_name_fails_turn_tls_and_skips_the_allocate() {
    let site = Site::start(Fault::TurnCertificate);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(
        &report,
        CheckId::TurnTls,
        Some("livekit.turn.tls.existingSecret"),
        &[CheckId::TurnAllocate],
    );
}

#[tokio::test]
async fn a_web_server_behind_the_turn_domain_fails_turn_allocate() {
    let site = Site::start(Fault::TurnNotTurn);
    let report = diagnose(&site, Some(live_services(&site, NODE_IP))).await;
    assert_only(
        &report,
        CheckId::TurnAllocate,
        Some("livekit.turn.domain"),
        &[],
    );
    let message = &report.get(CheckId::TurnAllocate).unwrap().message;
    assert!(message.contains("HTTP/1.1 400"), "{message}");
}

#[tokio::test]
async fn a_load_balancer_on_another_address_fails_rtc_load_balancer_ip() {
    let site = Site::start(Fault::None);
    let report = diagnose(&site, Some(live_services(&site, "198.51.100.7"))).await;
    assert_only(
        &report,
        CheckId::RtcLoadBalancerIp,
        Some("livekit.rtc.nodeIp"),
        &[],
    );
    assert_eq!(
        report.get(CheckId::RtcLoadBalancerIp).unwrap().message,
        "nodeIp 127.0.0.1 is not the LoadBalancer's address 198.51.100.7: calls will connect \
         but carry no media; set livekit.rtc.nodeIp or pin the IP \
         (livekit.rtc.pinLoadBalancerIp)"
    );
}

#[tokio::test]
async fn without_service_json_the_load_balancer_is_skipped() {
    let site = Site::start(Fault::None);
    let report = diagnose(&site, None).await;
    let check = report.get(CheckId::RtcLoadBalancerIp).unwrap();
    assert_eq!(check.status, Status::Skip);
    assert!(
        check.message.contains("--service-json"),
        "{}",
        check.message
    );
    assert!(!report.any_failed());
}

#[tokio::test]
async fn the_external_sfu_is_checked_at_its_public_url() {
    let site = Site::external(Fault::None);
    let report = diagnose(&site, None).await;
    let signaling = report.get(CheckId::LivekitSignaling).unwrap();
    assert_eq!(signaling.status, Status::Pass, "{signaling:#?}");
    assert!(
        signaling
            .message
            .contains("https://sfu.doctor.test/rtc/validate")
    );
    assert!(!report.any_failed(), "{report:#?}");
}

#[tokio::test]
async fn an_external_sfu_that_misses_livekit_fails_with_the_overlay_key() {
    let site = Site::external(Fault::Signaling);
    let report = diagnose(&site, None).await;
    let signaling = report.get(CheckId::LivekitSignaling).unwrap();
    assert_eq!(signaling.status, Status::Fail);
    assert_eq!(signaling.key, Some("overlays.external.livekit.publicUrl"));
}

#[tokio::test]
async fn a_server_that_never_answers_fails_within_the_timeout_and_the_other_hops_still_run() {
    let site = Site::start(Fault::None);
    // Accepts connections (the kernel's backlog) and never speaks TLS.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut options = site.options(None);
    assert_eq!(
        options.connect_to[0].host,
        doctor::test_fixture::SERVER_NAME
    );
    options.connect_to[0].target = silent.local_addr().unwrap();
    options.timeout = std::time::Duration::from_secs(1);
    let started = std::time::Instant::now();
    let report = doctor::diagnose(&site.config(), &options).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    let https = report.get(CheckId::HttpsServerName).unwrap();
    assert_eq!(https.status, Status::Fail);
    assert!(
        https.message.contains("no answer within 1 s"),
        "{}",
        https.message
    );
    assert_eq!(
        report.get(CheckId::TurnAllocate).unwrap().status,
        Status::Pass
    );
    assert_eq!(
        report.get(CheckId::LivekitTcp).unwrap().status,
        Status::Pass
    );
}
