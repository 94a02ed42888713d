//! Turns one `bundle.yaml` into the Kustomize `base/` and `overlays/` tree of the Matrix chat
//! stack (Tuwunel, LiveKit, lk-jwt-service), refusing configs that would deploy something
//! broken or unsafe.
#![deny(missing_docs)]

mod config;
mod images;

pub use config::{
    Config, Global, Homeserver, Ingress, IngressTls, LkJwt, Livekit, LivekitKeys,
    LivekitKeysSecret, NetworkPolicy, OverlayDelta, OverlayName, Persistence, RawConfig,
    Resources, Rtc, SecretKeyRef, Turn, TurnTls, Variant,
};
pub use images::{
    BareMultiarchPolicy, CommitPolicy, DEFAULT_REGISTRY, Digest, ImageName, ImagePin, Images,
    InvalidDigest, InvalidPlatform, InvalidTag, ManualPolicy, Platform, RegistryEndpoint,
    SemverPolicy, Tag, UpdatePolicy,
};
