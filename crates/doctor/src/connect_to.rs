//! `--connect-to HOST:PORT:ADDR:PORT`, as curl has it: connections for `HOST:PORT` go to
//! `ADDR:PORT`, while `HOST` stays the name for SNI, the certificate check and `Host`.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// One redirection of connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTo {
    /// The name as the config has it (lower case).
    pub host: String,
    /// The port the check would connect to.
    pub port: u16,
    /// Where the connection goes instead.
    pub target: SocketAddr,
}

/// Why a `--connect-to` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not HOST:PORT:ADDR:PORT ({reason}), e.g. \
     matrix.example.org:443:127.0.0.1:8443 or matrix.example.org:443:[::1]:8443"
)]
pub struct InvalidConnectTo {
    /// The value given.
    pub value: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for ConnectTo {
    type Err = InvalidConnectTo;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let refuse = |reason| InvalidConnectTo {
            value: value.to_owned(),
            reason,
        };
        let (host, rest) = value.split_once(':').ok_or(refuse("no `:` after HOST"))?;
        let (port, target) = rest.split_once(':').ok_or(refuse("no `:` after PORT"))?;
        if host.is_empty() {
            return Err(refuse("HOST is empty"));
        }
        let port = port
            .parse()
            .map_err(|_| refuse("PORT is not a port number"))?;
        let (address, target_port) = target
            .rsplit_once(':')
            .ok_or(refuse("no `:` between ADDR and its PORT"))?;
        let address = address.trim_start_matches('[').trim_end_matches(']');
        let address: IpAddr = address
            .parse()
            .map_err(|_| refuse("ADDR is not an IP address"))?;
        let target_port = target_port
            .parse()
            .map_err(|_| refuse("the last PORT is not a port number"))?;
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
            target: SocketAddr::new(address, target_port),
        })
    }
}

/// Where a connection for `host:port` goes: the first matching `--connect-to`, if any.
pub(crate) fn redirect(connect_to: &[ConnectTo], host: &str, port: u16) -> Option<SocketAddr> {
    connect_to
        .iter()
        .find(|entry| entry.port == port && entry.host.eq_ignore_ascii_case(host))
        .map(|entry| entry.target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_target_is_parsed() {
        let parsed: ConnectTo = "Matrix.Example.org:443:127.0.0.1:8443".parse().unwrap();
        assert_eq!(
            parsed,
            ConnectTo {
                host: "matrix.example.org".to_owned(),
                port: 443,
                target: "127.0.0.1:8443".parse().unwrap(),
            }
        );
    }

    #[test]
    fn an_ipv6_target_is_written_in_brackets() {
        let parsed: ConnectTo = "turn.example.org:443:[::1]:5349".parse().unwrap();
        assert_eq!(parsed.target, "[::1]:5349".parse().unwrap());
    }

    #[test]
    fn a_name_as_target_is_refused() {
        let error = "a.example:443:b.example:443"
            .parse::<ConnectTo>()
            .unwrap_err();
        assert_eq!(error.reason, "ADDR is not an IP address");
    }
}
