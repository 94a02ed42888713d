//! Turns one `bundle.yaml` into the Kustomize `base/` and `overlays/` tree of the Matrix chat
//! stack (Tuwunel, LiveKit, lk-jwt-service), refusing configs that would deploy something
//! broken or unsafe.
#![deny(missing_docs)]

mod images;

pub use images::{
    BareMultiarchPolicy, CommitPolicy, DEFAULT_REGISTRY, Digest, ImageName, ImagePin, Images,
    InvalidDigest, InvalidPlatform, InvalidTag, ManualPolicy, Platform, RegistryEndpoint,
    SemverPolicy, Tag, UpdatePolicy,
};
