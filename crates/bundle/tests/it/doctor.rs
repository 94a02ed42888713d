//! `bundle doctor` through the binary: the human report, the `--json` report and exit 1 on a
//! failed check, usage errors (exit 2). The deployment is `doctor::test_fixture::Site` on
//! 127.0.0.1: loopback TLS servers answering as Tuwunel, lk-jwt and LiveKit, a real coturn.

use std::fs;

use doctor::test_fixture::{Fault, NODE_IP, Site};
use insta::assert_snapshot;

use crate::support::{Run, Workdir};

/// Runs `bundle doctor` on `site` with its `--connect-to`s, its CA and a `--service-json`
/// whose LoadBalancer has `address`, then `extra`; local ports are filtered out.
fn doctor(site: &Site, address: &str, extra: &[&str]) -> Run {
    let work = Workdir::with_config(&site.config_yaml);
    fs::write(work.path().join("ca.pem"), &site.ca_pem).expect("write the CA");
    fs::write(work.path().join("service.json"), site.service_json(address))
        .expect("write the Service");
    let mut args = vec![
        "doctor",
        "--ca-file",
        "ca.pem",
        "--service-json",
        "service.json",
    ];
    for entry in &site.connect_to {
        args.extend(["--connect-to", entry]);
    }
    args.extend(extra);
    let mut run = work.bundle(&args);
    for (index, local) in site.local_addresses.iter().enumerate() {
        run = run.filter(local, &format!("[LOCAL {index}]"));
    }
    run
}

#[test]
fn every_check_of_a_working_site_is_listed_and_the_exit_code_is_0() {
    let site = Site::start(Fault::None);
    let run = doctor(&site, NODE_IP, &[]);
    assert_snapshot!(run.transcript(), @r#"
    exit: 0
    --- stdout
    pass  https.serverName    TLS to matrix.doctor.test:443 succeeded with a certificate valid for matrix.doctor.test
    pass  wellknown.server    /.well-known/matrix/server gives m.server matrix.doctor.test:443
    pass  wellknown.client    /.well-known/matrix/client gives base_url https://matrix.doctor.test and the livekit focus https://matrix.doctor.test
    pass  rtc.transports      /_matrix/client/unstable/org.matrix.msc4143/rtc/transports lists the livekit focus https://matrix.doctor.test
    pass  lkjwt.route         GET /sfu/get and /get_token on https://matrix.doctor.test answer 405 with Access-Control-Allow-Methods: POST, as lk-jwt does
    pass  livekit.signaling   GET https://matrix.doctor.test/rtc/validate answers 401 without a token, as LiveKit does
    pass  livekit.tcp         TCP to [LOCAL 2] opens (ICE over TCP)
    skip  livekit.udp         not checkable from outside: LiveKit answers STUN on the UDP mux 127.0.0.1:7882 only for a session it issued ICE credentials for and drops every other packet, so an open port and a closed one look the same; join a call and check that media flows
    skip  turn.dns            not checked: --connect-to sends turn.doctor.test:443 to [LOCAL 1], so what DNS answers for it is not what the other TURN checks reach
    pass  turn.tls            TLS to turn.doctor.test:443 succeeded with a certificate valid for turn.doctor.test
    pass  turn.allocate       turn.doctor.test:443 answers an Allocate with 401, realm `doctor.test` and a nonce: a TURN server is listening
    pass  rtc.loadBalancerIp  livekit-rtc at 127.0.0.1 with every port bundle.yaml renders
    10 passed, 0 failed, 2 skipped
    --- stderr
    "#);
}

#[test]
fn json_reports_the_failed_check_with_its_key_and_exits_1() {
    let site = Site::start(Fault::None);
    let run = doctor(&site, "198.51.100.7", &["--json"]);
    assert_snapshot!(run.transcript(), @r#"
    exit: 1
    --- stdout
    {
      "version": 1,
      "checks": [
        {
          "id": "https.serverName",
          "status": "pass",
          "key": "homeserver.serverName",
          "message": "TLS to matrix.doctor.test:443 succeeded with a certificate valid for matrix.doctor.test"
        },
        {
          "id": "wellknown.server",
          "status": "pass",
          "key": "homeserver.serverName",
          "message": "/.well-known/matrix/server gives m.server matrix.doctor.test:443"
        },
        {
          "id": "wellknown.client",
          "status": "pass",
          "key": "homeserver.livekitServiceUrl",
          "message": "/.well-known/matrix/client gives base_url https://matrix.doctor.test and the livekit focus https://matrix.doctor.test"
        },
        {
          "id": "rtc.transports",
          "status": "pass",
          "key": "homeserver.livekitServiceUrl",
          "message": "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports lists the livekit focus https://matrix.doctor.test"
        },
        {
          "id": "lkjwt.route",
          "status": "pass",
          "key": null,
          "message": "GET /sfu/get and /get_token on https://matrix.doctor.test answer 405 with Access-Control-Allow-Methods: POST, as lk-jwt does"
        },
        {
          "id": "livekit.signaling",
          "status": "pass",
          "key": "livekit.publicUrl",
          "message": "GET https://matrix.doctor.test/rtc/validate answers 401 without a token, as LiveKit does"
        },
        {
          "id": "livekit.tcp",
          "status": "pass",
          "key": "livekit.rtc.nodeIp",
          "message": "TCP to [LOCAL 2] opens (ICE over TCP)"
        },
        {
          "id": "livekit.udp",
          "status": "skip",
          "key": "livekit.rtc.udpPort",
          "message": "not checkable from outside: LiveKit answers STUN on the UDP mux 127.0.0.1:7882 only for a session it issued ICE credentials for and drops every other packet, so an open port and a closed one look the same; join a call and check that media flows"
        },
        {
          "id": "turn.dns",
          "status": "skip",
          "key": "livekit.turn.domain",
          "message": "not checked: --connect-to sends turn.doctor.test:443 to [LOCAL 1], so what DNS answers for it is not what the other TURN checks reach"
        },
        {
          "id": "turn.tls",
          "status": "pass",
          "key": "livekit.turn.tls.existingSecret",
          "message": "TLS to turn.doctor.test:443 succeeded with a certificate valid for turn.doctor.test"
        },
        {
          "id": "turn.allocate",
          "status": "pass",
          "key": "livekit.turn.domain",
          "message": "turn.doctor.test:443 answers an Allocate with 401, realm `doctor.test` and a nonce: a TURN server is listening"
        },
        {
          "id": "rtc.loadBalancerIp",
          "status": "fail",
          "key": "livekit.rtc.nodeIp",
          "message": "nodeIp 127.0.0.1 is not the LoadBalancer's address 198.51.100.7: calls will connect but carry no media; set livekit.rtc.nodeIp or pin the IP (livekit.rtc.pinLoadBalancerIp)"
        }
      ]
    }
    --- stderr
    "#);
}

#[test]
fn a_failed_check_is_marked_with_the_key_under_it_and_the_exit_code_is_1() {
    let site = Site::start(Fault::WellKnownServer);
    let run = doctor(&site, NODE_IP, &[]);
    assert_snapshot!(run.transcript(), @r#"
    exit: 1
    --- stdout
    pass  https.serverName    TLS to matrix.doctor.test:443 succeeded with a certificate valid for matrix.doctor.test
    FAIL  wellknown.server    expected m.server `matrix.doctor.test:443` in /.well-known/matrix/server; got `matrix.doctor.test:8448`: federation and lk-jwt's OpenID check look for the homeserver there, so lk-jwt cannot verify callers; the file is not Tuwunel's (a static well-known of another host?)
                              key: homeserver.serverName
    pass  wellknown.client    /.well-known/matrix/client gives base_url https://matrix.doctor.test and the livekit focus https://matrix.doctor.test
    pass  rtc.transports      /_matrix/client/unstable/org.matrix.msc4143/rtc/transports lists the livekit focus https://matrix.doctor.test
    pass  lkjwt.route         GET /sfu/get and /get_token on https://matrix.doctor.test answer 405 with Access-Control-Allow-Methods: POST, as lk-jwt does
    pass  livekit.signaling   GET https://matrix.doctor.test/rtc/validate answers 401 without a token, as LiveKit does
    pass  livekit.tcp         TCP to [LOCAL 2] opens (ICE over TCP)
    skip  livekit.udp         not checkable from outside: LiveKit answers STUN on the UDP mux 127.0.0.1:7882 only for a session it issued ICE credentials for and drops every other packet, so an open port and a closed one look the same; join a call and check that media flows
    skip  turn.dns            not checked: --connect-to sends turn.doctor.test:443 to [LOCAL 1], so what DNS answers for it is not what the other TURN checks reach
    pass  turn.tls            TLS to turn.doctor.test:443 succeeded with a certificate valid for turn.doctor.test
    pass  turn.allocate       turn.doctor.test:443 answers an Allocate with 401, realm `doctor.test` and a nonce: a TURN server is listening
    pass  rtc.loadBalancerIp  livekit-rtc at 127.0.0.1 with every port bundle.yaml renders
    9 passed, 1 failed, 2 skipped
    --- stderr
    "#);
}

#[test]
fn a_config_with_several_overlays_needs_overlay() {
    let work = Workdir::site();
    let run = work.bundle(&["doctor"]);
    assert_snapshot!(run.transcript(), @r#"
    exit: 2
    --- stdout
    --- stderr
    error: bundle.yaml generates the overlays bundled, bundled-turn, external: pass --overlay NAME for the one deployed
    "#);
}

#[test]
fn a_connect_to_without_a_target_port_is_a_usage_error() {
    let work = Workdir::site();
    let run = work.bundle(&["doctor", "--connect-to", "matrix.example.org:443:127.0.0.1"]);
    assert_snapshot!(run.transcript(), @r#"
    exit: 2
    --- stdout
    --- stderr
    error: invalid value 'matrix.example.org:443:127.0.0.1' for '--connect-to <HOST:PORT:ADDR:PORT>': `matrix.example.org:443:127.0.0.1` is not HOST:PORT:ADDR:PORT (no `:` between ADDR and its PORT), e.g. matrix.example.org:443:127.0.0.1:8443 or matrix.example.org:443:[::1]:8443

    For more information, try '--help'.
    "#);
}

#[test]
fn an_overlay_the_config_does_not_generate_is_refused() {
    let site = Site::start(Fault::None);
    let work = Workdir::with_config(&site.config_yaml);
    let run = work.bundle(&["doctor", "--overlay", "bundled"]);
    assert_snapshot!(run.transcript(), @r#"
    exit: 2
    --- stdout
    --- stderr
    error: overlay `bundled` is not generated by bundle.yaml (its overlays: bundled-turn): pass one of them to --overlay
    "#);
}

#[test]
fn a_ca_file_without_a_certificate_is_refused() {
    let work = Workdir::site();
    fs::write(work.path().join("ca.pem"), "not a certificate\n").expect("write");
    let run = work.bundle(&["doctor", "--overlay", "bundled", "--ca-file", "ca.pem"]);
    assert_snapshot!(run.transcript(), @r#"
    exit: 2
    --- stdout
    --- stderr
    error: --ca-file ca.pem: the file holds no PEM certificate (a -----BEGIN CERTIFICATE----- block): pass the CA's certificate in PEM
    "#);
}

#[test]
fn a_service_json_that_is_no_service_is_refused() {
    let work = Workdir::site();
    fs::write(work.path().join("svc.json"), r#"{"kind": "Deployment"}"#).expect("write");
    let run = work.bundle(&[
        "doctor",
        "--overlay",
        "bundled",
        "--service-json",
        "svc.json",
    ]);
    assert_snapshot!(run.transcript(), @r#"
    exit: 2
    --- stdout
    --- stderr
    error: --service-json svc.json: not the output of `kubectl get service livekit-rtc -o json` (a Service, or a List of Services): its kind is `Deployment`
    "#);
}

#[test]
fn a_connect_to_that_changes_the_port_of_a_url_with_its_own_port_is_refused() {
    let site = Site::external(Fault::None);
    let config = site
        .config_yaml
        .replace("wss://sfu.doctor.test", "wss://sfu.doctor.test:7880");
    let work = Workdir::with_config(&config);
    let run = work.bundle(&["doctor", "--connect-to", "sfu.doctor.test:7880:127.0.0.1:9"]);
    assert_snapshot!(run.transcript(), @r#"
    exit: 2
    --- stdout
    --- stderr
    error: --connect-to sfu.doctor.test:7880 sends to port 9, but `overlays.external.livekit.publicUrl` names port 7880 itself, which HTTP requests keep: send to 7880 on the target address instead
    "#);
}
