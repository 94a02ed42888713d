//! An operator-managed LiveKit outside the cluster (overlay `external`): nothing is deployed for
//! it; the overlay points lk-jwt at its public URL and the Secret holding its keys, and routes
//! the SFU's webhooks to lk-jwt.

use super::lk_jwt::{self, LivekitConnection};
use super::{Component, Home, HomeFiles, Names};
use crate::config::{RawConfig, Variant};
use crate::emit::RenderError;
use crate::route::Route;

/// The SFU of the overlays that do not bundle LiveKit.
pub(crate) struct ExternalLivekit;

impl Component for ExternalLivekit {
    fn home(&self) -> Home {
        Home::Overlay
    }

    fn enabled(&self, _raw: &RawConfig, variant: &Variant) -> bool {
        !variant.livekit_bundled()
    }

    fn routes(&self, raw: &RawConfig, _variant: &Variant) -> Vec<Route> {
        // The external SFU reaches lk-jwt only through the ingress; the bundled one posts to
        // the Service directly.
        if raw.lk_jwt.enabled {
            vec![lk_jwt::webhook_route()]
        } else {
            Vec::new()
        }
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
