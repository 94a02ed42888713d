//! What an answer means: pure functions from what a probe saw to a pass, or to a failure
//! that says what was expected, what came back, and the likely cause.

use std::net::IpAddr;

use serde_json::Value;

use crate::probe::{Fetched, TurnReply};
use crate::stun::AllocateAnswer;

/// A check's conclusion, before it is given its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The hop works; what was confirmed.
    Pass(String),
    /// The hop is broken: the key to look at (when it is not the check's usual one) and why.
    Fail {
        /// Overrides the check's key (`Some(None)`: a cluster object, no key).
        key: Option<Option<&'static str>>,
        /// Expected, got, likely cause.
        message: String,
    },
}

impl Verdict {
    fn fail(message: String) -> Self {
        Verdict::Fail { key: None, message }
    }
}

/// The start of a body, for a message.
fn excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(120) {
        Some((end, _)) => format!("{}…", &flat[..end]),
        None if flat.is_empty() => "an empty body".to_owned(),
        None => flat,
    }
}

/// A JSON body, or the failure that says it is not one.
fn json_body(fetched: &Fetched, path: &str, cause: &str) -> Result<Value, Verdict> {
    if fetched.status != 200 {
        let location = fetched
            .location
            .as_deref()
            .map(|location| format!(" to {location}"))
            .unwrap_or_default();
        return Err(Verdict::fail(format!(
            "expected 200 with JSON from {path}; got {}{location} ({}): {cause}",
            fetched.status,
            excerpt(&fetched.body)
        )));
    }
    serde_json::from_str(&fetched.body).map_err(|error| {
        Verdict::fail(format!(
            "expected JSON from {path}; got {} ({error}): {cause}",
            excerpt(&fetched.body)
        ))
    })
}

/// `wellknown.server`: `{"m.server": "<serverName>:443"}`.
pub(crate) fn well_known_server(fetched: &Fetched, server_name: &str) -> Verdict {
    const PATH: &str = "/.well-known/matrix/server";
    let cause = "the ingress does not route /.well-known/matrix to Tuwunel, or another server \
                 answers for serverName";
    let body = match json_body(fetched, PATH, cause) {
        Ok(body) => body,
        Err(verdict) => return verdict,
    };
    let expected = format!("{server_name}:443");
    match body["m.server"].as_str() {
        Some(found) if found.eq_ignore_ascii_case(&expected) => {
            Verdict::Pass(format!("{PATH} gives m.server {found}"))
        }
        found => Verdict::fail(format!(
            "expected m.server `{expected}` in {PATH}; got {}: federation and lk-jwt's OpenID \
             check look for the homeserver there, so lk-jwt cannot verify callers; the \
             file is not Tuwunel's (a static well-known of another host?)",
            found.map_or_else(|| "no m.server".to_owned(), |found| format!("`{found}`"))
        )),
    }
}

/// The `type: livekit` entries' `livekit_service_url`s of a list of MatrixRTC transports.
fn livekit_foci(transports: &Value) -> Vec<String> {
    transports
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|entry| entry["type"] == "livekit")
                .filter_map(|entry| entry["livekit_service_url"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn foci_text(foci: &[String]) -> String {
    if foci.is_empty() {
        "no livekit focus".to_owned()
    } else {
        foci.join(", ")
    }
}

/// Whether two service URLs name the same focus (a trailing `/` aside).
fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// `wellknown.client`: the homeserver's base URL, and the lk-jwt focus when lk-jwt is
/// deployed.
pub(crate) fn well_known_client(
    fetched: &Fetched,
    server_name: &str,
    livekit_service_url: Option<&str>,
) -> Verdict {
    const PATH: &str = "/.well-known/matrix/client";
    let cause = "the ingress does not route /.well-known/matrix to Tuwunel, or another server \
                 answers for serverName";
    let body = match json_body(fetched, PATH, cause) {
        Ok(body) => body,
        Err(verdict) => return verdict,
    };
    let expected_base = format!("https://{server_name}");
    let base = body["m.homeserver"]["base_url"].as_str();
    if !base.is_some_and(|base| same_url(base, &expected_base)) {
        return Verdict::Fail {
            key: Some(Some("homeserver.serverName")),
            message: format!(
                "expected m.homeserver.base_url `{expected_base}` in {PATH}; got {}: clients \
                 log in elsewhere; the file is not the one Tuwunel serves for this serverName",
                base.map_or_else(|| "none".to_owned(), |base| format!("`{base}`"))
            ),
        };
    }
    let Some(service_url) = livekit_service_url else {
        return Verdict::Pass(format!(
            "{PATH} gives base_url {expected_base} (no focus: lkJwt.enabled is false)"
        ));
    };
    let foci = livekit_foci(&body["org.matrix.msc4143.rtc_foci"]);
    if foci.iter().any(|focus| same_url(focus, service_url)) {
        return Verdict::Pass(format!(
            "{PATH} gives base_url {expected_base} and the livekit focus {service_url}"
        ));
    }
    Verdict::fail(format!(
        "expected an org.matrix.msc4143.rtc_foci entry of type livekit with \
         livekit_service_url `{service_url}` in {PATH}; got {}: clients that read the \
         well-known find no call service or another one; the well-known is served by \
         something other than this deployment's Tuwunel",
        foci_text(&foci)
    ))
}

/// `rtc.transports`: Tuwunel's MSC4143 endpoint lists the focus.
pub(crate) fn rtc_transports(fetched: &Fetched, livekit_service_url: &str) -> Verdict {
    const PATH: &str = "/_matrix/client/unstable/org.matrix.msc4143/rtc/transports";
    let cause = "Tuwunel older than 1.8.2 requires a login here, or the ingress does not \
                 route /_matrix to Tuwunel";
    let body = match json_body(fetched, PATH, cause) {
        Ok(body) => body,
        Err(verdict) => return verdict,
    };
    let foci = livekit_foci(&body["rtc_transports"]);
    if foci
        .iter()
        .any(|focus| same_url(focus, livekit_service_url))
    {
        return Verdict::Pass(format!(
            "{PATH} lists the livekit focus {livekit_service_url}"
        ));
    }
    Verdict::fail(format!(
        "expected rtc_transports to list type livekit with livekit_service_url \
         `{livekit_service_url}`; got {}: Element X and Element Call read the focus here and \
         report that the server has no MatrixRTC transport; Tuwunel's livekit_url is not \
         the one bundle.yaml renders (an old ConfigMap? restart matrix-homeserver)",
        foci_text(&foci)
    ))
}

/// `lkjwt.route`: a `GET` on one of lk-jwt's POST-only paths answers 405 with the CORS
/// header lk-jwt puts on every answer of those paths. `None` when it does.
pub(crate) fn lk_jwt_route(fetched: &Fetched, url: &str, namespace: &str) -> Option<Verdict> {
    let allow = fetched.allow_methods.as_deref();
    if fetched.status == 405 && allow == Some("POST") {
        return None;
    }
    Some(Verdict::Fail {
        key: Some(None),
        message: format!(
            "expected 405 with Access-Control-Allow-Methods: POST from lk-jwt for GET {url}; \
             got {}{} ({}): the request did not reach \
             lk-jwt; check that the Ingress matrix-ingress routes /sfu and /get_token to \
             lk-jwt-service and is the one your controller serves (`kubectl -n {namespace} \
             get ingress matrix-ingress`)",
            fetched.status,
            allow.map_or_else(String::new, |allow| format!(" allowing {allow}")),
            excerpt(&fetched.body)
        ),
    })
}

/// `livekit.signaling`: LiveKit answers `/rtc/validate` without a token with 401.
pub(crate) fn livekit_signaling(fetched: &Fetched, url: &str) -> Verdict {
    if fetched.status == 401 {
        return Verdict::Pass(format!(
            "GET {url} answers 401 without a token, as LiveKit does"
        ));
    }
    Verdict::fail(format!(
        "expected 401 from LiveKit for GET {url} without a token; got {} ({}): the public URL \
         does not reach LiveKit's signalling port, so clients get a token but cannot join; \
         check the /rtc route of the Ingress (bundled) or the SFU's own proxy (external)",
        fetched.status,
        excerpt(&fetched.body)
    ))
}

/// `turn.dns`: `turn.domain` resolves to `nodeIp`.
pub(crate) fn turn_dns(domain: &str, found: &[IpAddr], node_ip: IpAddr) -> Verdict {
    let listed: Vec<String> = found.iter().map(IpAddr::to_string).collect();
    if found.contains(&node_ip) {
        return Verdict::Pass(format!("{domain} resolves to {}", listed.join(", ")));
    }
    Verdict::fail(format!(
        "expected {domain} to resolve to nodeIp {node_ip}; got {}: clients dial TURN \
         somewhere else; point the name's A record at the livekit-rtc LoadBalancer",
        if listed.is_empty() {
            "no address".to_owned()
        } else {
            listed.join(", ")
        }
    ))
}

/// `turn.allocate`: the answer to an Allocate request is a TURN server's.
pub(crate) fn turn_allocate(domain: &str, reply: &TurnReply) -> Verdict {
    let not_turn = "443 on turn.domain reaches something other than LiveKit's TURN (the \
                    ingress controller?); point the name at the livekit-rtc LoadBalancer";
    match reply {
        TurnReply::Stun(AllocateAnswer::Error {
            code: 401,
            realm: Some(realm),
            nonce: true,
        }) => Verdict::Pass(format!(
            "{domain}:443 answers an Allocate with 401, realm `{realm}` and a nonce: a TURN \
             server is listening"
        )),
        TurnReply::Stun(AllocateAnswer::Success) => Verdict::Pass(format!(
            "{domain}:443 allocated a relay without credentials: a TURN server is listening"
        )),
        TurnReply::Stun(AllocateAnswer::Error { code, realm, nonce }) => Verdict::fail(format!(
            "expected 401 with REALM and NONCE to an Allocate; got error {code}{}{}: a \
                 STUN server that is not an authenticating TURN relay answers; {not_turn}",
            if realm.is_some() {
                ""
            } else {
                " without REALM"
            },
            if *nonce { "" } else { " without NONCE" },
        )),
        TurnReply::Stun(AllocateAnswer::Other(what)) => Verdict::fail(format!(
            "expected a TURN answer to an Allocate; got {what}: {not_turn}"
        )),
        TurnReply::NotStun(start) => Verdict::fail(format!(
            "expected a TURN answer to an Allocate; got bytes that are no STUN message \
             (`{start}`): {not_turn}"
        )),
        TurnReply::Closed => Verdict::fail(format!(
            "expected a TURN answer to an Allocate; the server closed the connection: \
             {not_turn}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `turn.dns` is judged here: the integration tests reach TURN through `--connect-to`, and
    // no dotted name resolves to 127.0.0.1 on every machine.
    #[test]
    fn a_turn_domain_resolving_to_node_ip_among_others_passes() {
        let found = [
            "2001:db8::7".parse().unwrap(),
            "198.51.100.7".parse().unwrap(),
        ];
        assert_eq!(
            turn_dns("turn.example.org", &found, "198.51.100.7".parse().unwrap()),
            Verdict::Pass("turn.example.org resolves to 2001:db8::7, 198.51.100.7".to_owned())
        );
    }

    #[test]
    fn a_turn_domain_resolving_elsewhere_fails_with_both_addresses() {
        let found = ["203.0.113.9".parse().unwrap()];
        let Verdict::Fail { key: None, message } =
            turn_dns("turn.example.org", &found, "198.51.100.7".parse().unwrap())
        else {
            panic!("turn.dns passed");
        };
        assert!(
            message.starts_with(
                "expected turn.example.org to resolve to nodeIp 198.51.100.7; got 203.0.113.9:"
            ),
            "{message}"
        );
    }
}
