//! An operator-managed LiveKit outside the cluster (overlay `external`): nothing is deployed for
//! it; the overlay points lk-jwt at its public URL and the Secret holding its keys.

use super::lk_jwt::LivekitConnection;
use super::{Component, Home, HomeFiles, Names};
use crate::config::{RawConfig, Variant};
use crate::emit::RenderError;

/// The SFU of the overlays that do not bundle LiveKit.
pub(crate) struct ExternalLivekit;

impl Component for ExternalLivekit {
    fn home(&self) -> Home {
        Home::Overlay
    }

    fn enabled(&self, _raw: &RawConfig, variant: &Variant) -> bool {
        !variant.livekit_bundled()
    }

    fn home_files(
        &self,
        raw: &RawConfig,
        variant: &Variant,
        _names: &Names,
    ) -> Result<HomeFiles, RenderError> {
        let mut patches = Vec::new();
        if raw.lk_jwt.enabled {
            patches.push(LivekitConnection::of(variant).patch()?);
        }
        Ok(HomeFiles {
            patches,
            ..HomeFiles::default()
        })
    }
}
