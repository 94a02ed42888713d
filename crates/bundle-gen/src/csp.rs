//! The Content-Security-Policy sources a web client on another origin needs to reach this
//! Matrix stack. The Helm chart injected them into its own frontend with the scheme of
//! `apiScheme` (so `http://` by default); we print them, always `https://` and `wss://`.

use std::fmt;

use crate::config::Config;
use crate::validate::wss_authority;

/// Sources to add to a web client's Content-Security-Policy, per directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspSources {
    /// `connect-src`: the homeserver (client API, websockets) and every LiveKit host.
    pub connect_src: Vec<String>,
    /// `media-src`: the homeserver's media.
    pub media_src: Vec<String>,
    /// `img-src`: the homeserver's thumbnails and avatars.
    pub img_src: Vec<String>,
}

/// The CSP sources for `config`: `https://` and `wss://` of serverName, the same for the host of
/// every other LiveKit `publicUrl` (an external SFU), and serverName for media and images.
pub fn csp_sources(config: &Config) -> CspSources {
    let server_name = &config.raw.homeserver.server_name;
    let mut connect_src = origins(server_name);
    for variant in config.variants.values() {
        if let Some(authority) = wss_authority(&variant.livekit.public_url)
            && authority != server_name
        {
            for origin in origins(authority) {
                if !connect_src.contains(&origin) {
                    connect_src.push(origin);
                }
            }
        }
    }
    CspSources {
        connect_src,
        media_src: vec![format!("https://{server_name}")],
        img_src: vec![format!("https://{server_name}")],
    }
}

fn origins(authority: &str) -> Vec<String> {
    vec![format!("https://{authority}"), format!("wss://{authority}")]
}

/// One line per directive, as it would appear in the policy: `connect-src a b`.
impl fmt::Display for CspSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (directive, sources) in [
            ("connect-src", &self.connect_src),
            ("media-src", &self.media_src),
            ("img-src", &self.img_src),
        ] {
            writeln!(f, "{directive} {}", sources.join(" "))?;
        }
        Ok(())
    }
}
