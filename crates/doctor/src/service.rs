//! `rtc.loadBalancerIp`: the live `livekit-rtc` Service (from `--service-json`) against the
//! one `bundle gen` renders: its LoadBalancer address is `nodeIp`, and it publishes every port
//! the rendered one does.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::Value;

use crate::DoctorError;

/// The Services of `kubectl get service ... -o json`: one Service, or a List of them.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveServices {
    services: Vec<Value>,
}

impl LiveServices {
    /// Reads `kubectl get service NAME -o json` or `kubectl get service A B -o json`.
    pub fn from_json(text: &str) -> Result<Self, DoctorError> {
        let refuse = |reason: String| DoctorError::ServiceJson { reason };
        let document: Value =
            serde_json::from_str(text).map_err(|error| refuse(error.to_string()))?;
        let services = match document["kind"].as_str() {
            Some("Service") => vec![document],
            Some("List" | "ServiceList") => document["items"]
                .as_array()
                .cloned()
                .ok_or_else(|| refuse("the List has no `items`".to_owned()))?,
            Some(other) => return Err(refuse(format!("its kind is `{other}`"))),
            None => return Err(refuse("it has no `kind`".to_owned())),
        };
        if let Some(other) = services.iter().find(|item| item["kind"] != "Service") {
            return Err(refuse(format!(
                "the List holds a `{}`",
                other["kind"].as_str().unwrap_or("?")
            )));
        }
        Ok(Self { services })
    }

    /// The Services with every LoadBalancer entry that gives only a `hostname` (an AWS NLB
    /// does) given the addresses `resolve` finds for it too, so they can be compared with
    /// `nodeIp`. The lookup is the caller's: this module does no I/O.
    pub fn with_resolved_host_names(&self, resolve: impl Fn(&str) -> Vec<IpAddr>) -> Self {
        let mut services = self.services.clone();
        for service in &mut services {
            let Some(entries) = service["status"]["loadBalancer"]["ingress"].as_array_mut() else {
                continue;
            };
            let resolved: Vec<Value> = entries
                .iter()
                .filter(|entry| entry["ip"].is_null())
                .filter_map(|entry| entry["hostname"].as_str())
                .flat_map(&resolve)
                .map(|address| serde_json::json!({"ip": address.to_string()}))
                .collect();
            entries.extend(resolved);
        }
        Self { services }
    }

    fn named(&self, name: &str) -> Option<&Value> {
        self.services
            .iter()
            .find(|service| service["metadata"]["name"] == name)
    }
}

/// Why the live Services differ from the rendered ones, or `Ok` with what was confirmed.
pub(crate) fn compare(
    rendered: &[Value],
    live: &LiveServices,
    node_ip: Option<IpAddr>,
    namespace: &str,
) -> Result<String, (&'static str, String)> {
    let mut confirmed = Vec::new();
    for expected in rendered {
        let name = expected["metadata"]["name"].as_str().unwrap_or_default();
        let Some(found) = live.named(name) else {
            return Err((
                "livekit.rtc",
                format!(
                    "--service-json holds no Service `{name}`: pass the output of `kubectl -n \
                     {namespace} get service {name} -o json`"
                ),
            ));
        };
        let addresses = ingress_addresses(found);
        if let Some(node_ip) = node_ip {
            let pinned = addresses
                .iter()
                .any(|address| address.parse() == Ok(node_ip));
            if addresses.is_empty() {
                return Err((
                    "livekit.rtc.nodeIp",
                    format!(
                        "Service {name} has no LoadBalancer address yet (status.loadBalancer \
                         .ingress is empty): the provider has not assigned {node_ip}; check \
                         `kubectl -n {namespace} describe service {name}` for its events"
                    ),
                ));
            }
            if !pinned {
                return Err((
                    "livekit.rtc.nodeIp",
                    format!(
                        "nodeIp {node_ip} is not the LoadBalancer's address {}: calls will \
                         connect but carry no media; set livekit.rtc.nodeIp or pin the IP \
                         (livekit.rtc.pinLoadBalancerIp)",
                        addresses.join(", ")
                    ),
                ));
            }
        }
        let missing: Vec<String> = ports(expected)
            .difference(&ports(found))
            .map(|(port, protocol)| format!("{port}/{protocol}"))
            .collect();
        if !missing.is_empty() {
            return Err((
                "livekit.rtc",
                format!(
                    "Service {name} does not publish {} that bundle.yaml renders: the \
                     deployed Service is older than the tree or was edited; sync the overlay",
                    missing.join(", ")
                ),
            ));
        }
        confirmed.push(format!("{name} at {}", addresses.join(", ")));
    }
    Ok(format!(
        "{} with every port bundle.yaml renders",
        confirmed.join("; ")
    ))
}

fn ingress_addresses(service: &Value) -> Vec<String> {
    service["status"]["loadBalancer"]["ingress"]
        .as_array()
        .map(|ingress| {
            ingress
                .iter()
                .filter_map(|entry| entry["ip"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The `(port, protocol)` pairs of a Service (protocol TCP when unset, as Kubernetes has it).
fn ports(service: &Value) -> BTreeSet<(u64, String)> {
    service["spec"]["ports"]
        .as_array()
        .map(|ports| {
            ports
                .iter()
                .filter_map(|port| {
                    let number = port["port"].as_u64()?;
                    let protocol = port["protocol"].as_str().unwrap_or("TCP").to_owned();
                    Some((number, protocol))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn service(name: &str, ports: &[(u16, &str)], address: &str) -> Value {
        let ports: Vec<Value> = ports
            .iter()
            .map(|(port, protocol)| json!({"port": port, "protocol": protocol}))
            .collect();
        json!({
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"type": "LoadBalancer", "ports": ports},
            "status": {"loadBalancer": {"ingress": [{"ip": address}]}},
        })
    }

    #[test]
    fn a_list_of_split_services_is_matched_by_name() {
        let rendered = [
            service("livekit-rtc-udp", &[(7882, "UDP")], ""),
            service("livekit-rtc-tcp", &[(7881, "TCP")], ""),
        ];
        let live = json!({
            "kind": "List",
            "items": [
                service("livekit-rtc-tcp", &[(7881, "TCP")], "198.51.100.7"),
                service("livekit-rtc-udp", &[(7882, "UDP")], "198.51.100.7"),
            ],
        });
        let live = LiveServices::from_json(&live.to_string()).unwrap();
        let node_ip = Some("198.51.100.7".parse().unwrap());
        assert!(compare(&rendered, &live, node_ip, "matrix").is_ok());
    }

    #[test]
    fn a_port_the_live_service_lacks_is_named() {
        let rendered = [service("livekit-rtc", &[(7882, "UDP"), (443, "TCP")], "")];
        let live = service("livekit-rtc", &[(7882, "UDP")], "198.51.100.7");
        let live = LiveServices::from_json(&live.to_string()).unwrap();
        let node_ip = Some("198.51.100.7".parse().unwrap());
        let (key, message) = compare(&rendered, &live, node_ip, "matrix").unwrap_err();
        assert_eq!(key, "livekit.rtc");
        assert!(
            message.starts_with("Service livekit-rtc does not publish 443/TCP"),
            "{message}"
        );
    }

    #[test]
    fn a_load_balancer_known_by_host_name_is_compared_by_what_the_name_resolves_to() {
        let rendered = [service("livekit-rtc", &[(7882, "UDP")], "")];
        let mut live = service("livekit-rtc", &[(7882, "UDP")], "");
        live["status"]["loadBalancer"]["ingress"] = json!([{"hostname": "nlb.example.net"}]);
        let live = LiveServices::from_json(&live.to_string()).unwrap();
        let node_ip: IpAddr = "198.51.100.7".parse().unwrap();
        let resolve = |host: &str| {
            assert_eq!(host, "nlb.example.net");
            vec![node_ip]
        };
        assert!(compare(&rendered, &live, Some(node_ip), "matrix").is_err());
        let resolved = live.with_resolved_host_names(resolve);
        assert!(compare(&rendered, &resolved, Some(node_ip), "matrix").is_ok());
        let elsewhere = live.with_resolved_host_names(|_| vec!["203.0.113.9".parse().unwrap()]);
        let (_, message) = compare(&rendered, &elsewhere, Some(node_ip), "matrix").unwrap_err();
        assert!(message.contains("203.0.113.9"), "{message}");
    }

    #[test]
    fn a_deployment_is_not_a_service() {
        let error = LiveServices::from_json(r#"{"kind": "Deployment"}"#).unwrap_err();
        assert!(
            error.to_string().ends_with("its kind is `Deployment`"),
            "{error}"
        );
    }
}
