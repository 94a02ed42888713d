//! Turns one `bundle.yaml` into the Kustomize `base/` and `overlays/` tree of the Matrix chat
//! stack (Tuwunel, LiveKit, lk-jwt-service), refusing configs that would deploy something
//! broken or unsafe.
#![deny(missing_docs)]

mod atomic_write;
mod config;
mod csp;
mod images;
mod load;
mod render;
mod schema;
mod tree;
mod validate;

pub use atomic_write::{AtomicWrite, FileWriteError};
pub use config::{
    Config, Global, Homeserver, Ingress, IngressTls, Livekit, LivekitKeys, LivekitKeysSecret,
    LkJwt, NetworkPolicy, OverlayDelta, OverlayName, Persistence, RawConfig, Resources, Rtc,
    SecretKeyRef, Turn, TurnTls, UnknownOverlay, Variant,
};
pub use csp::{CspSources, csp_sources};
pub use images::{
    BareMultiarchPolicy, CommitPolicy, DEFAULT_REGISTRY, Digest, ImageName, ImagePin, Images,
    InvalidDigest, InvalidPlatform, InvalidTag, ManualPolicy, Platform, RegistryEndpoint,
    SemverPolicy, Tag, UpdatePolicy,
};
pub use load::ConfigError;
pub use render::{RenderError, render, render_objects};
pub use schema::{CONFIG_SCHEMA_FILE, config_schema, config_schema_text};
pub use tree::{CheckReport, GENERATED_HEADER, Tree, WriteError, WriteReport};
pub use validate::Violation;
