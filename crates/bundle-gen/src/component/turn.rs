//! TURN over TLS, LiveKit's built-in relay, in the Kustomize component
//! `overlays/components/turn`, applied after the LiveKit component. LiveKit's config is strict
//! and read from one file, so the component replaces the whole generated config file with the
//! TURN-enabled one (a fresh hash suffix rolls the pod) instead of merging keys into it, and
//! patches the port, certificate and policy into LiveKit's objects.

use super::livekit;
use super::{Component, Generate, Home, HomeFiles, Names};
use crate::config::{RawConfig, Variant};
use crate::emit::RenderError;

/// TURN over TLS on the bundled LiveKit.
pub(crate) struct Turn;

impl Component for Turn {
    fn home(&self) -> Home {
        Home::Component("turn")
    }

    fn enabled(&self, _raw: &RawConfig, variant: &Variant) -> bool {
        variant.turn_enabled()
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
            objects: Vec::new(),
            config: Some((
                livekit::config_file(raw, livekit, Some(turn))?,
                Generate::Replace,
            )),
            patches: livekit::turn_patches(raw, livekit, turn)?,
        })
    }
}
