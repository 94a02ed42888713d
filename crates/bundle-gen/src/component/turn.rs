//! TURN over TLS, LiveKit's built-in relay, in the Kustomize component
//! `overlays/components/turn`, applied after the LiveKit component. LiveKit's config is strict
//! and read from one file, so the component replaces the whole generated config file with the
//! TURN-enabled one (a fresh hash suffix rolls the pod) instead of merging keys into it, and
//! patches the port, certificate and policy into LiveKit's objects. With
//! `turn.tls.certManager` it also holds the cert-manager `Certificate` that fills the
//! certificate's Secret.

use super::livekit;
use super::{Component, Generate, Home, HomeFiles, Names, Object};
use crate::config::{RawConfig, Turn as Settings, Variant};
use crate::emit::{RenderError, to_json};
use crate::k8s::certificate::Certificate;
use crate::k8s::pod::meta;

/// The Certificate's name.
const CERTIFICATE: &str = "livekit-turn";

/// TURN over TLS on the bundled LiveKit.
pub(crate) struct Turn;

impl Component for Turn {
    fn home(&self) -> Home {
        Home::Component("turn")
    }

    fn enabled(&self, _raw: &RawConfig, variant: &Variant) -> bool {
        variant.turn_enabled()
    }

    fn objects(
        &self,
        _raw: &RawConfig,
        variant: &Variant,
        _names: &Names,
    ) -> Result<Vec<Object>, RenderError> {
        objects(&variant.livekit.turn)
    }

    fn home_files(
        &self,
        raw: &RawConfig,
        variant: &Variant,
        _names: &Names,
    ) -> Result<HomeFiles, RenderError> {
        let livekit = &variant.livekit;
        let turn = &livekit.turn;
        Ok(HomeFiles {
            objects: objects(turn)?,
            config: Some((
                livekit::config_file(raw, livekit, Some(turn))?,
                Generate::Replace,
            )),
            patches: livekit::turn_patches(raw, livekit, turn)?,
        })
    }
}

/// TURN's own objects: with `tls.certManager`, the Certificate that cert-manager keeps in the
/// Secret LiveKit mounts (`tls.existingSecret`). cert-manager writes `tls.crt` and `tls.key`,
/// the keys the guards hold `certKey` and `keyKey` to.
fn objects(turn: &Settings) -> Result<Vec<Object>, RenderError> {
    let Some(issuer) = &turn.tls.cert_manager else {
        return Ok(Vec::new());
    };
    let certificate = Certificate::new(
        meta(CERTIFICATE, Some(livekit::NAME)),
        &turn.domain,
        &turn.tls.existing_secret,
        issuer,
    );
    Ok(vec![Object {
        file: format!("{CERTIFICATE}-certificate.yaml"),
        value: to_json(&certificate, "TURN Certificate")?,
        comment: None,
    }])
}
