//! Turns one `bundle.yaml` into the Kustomize `base/` and `overlays/` tree of the Matrix chat
//! stack (Tuwunel, LiveKit, lk-jwt-service), refusing configs that would deploy something
//! broken or unsafe.
#![deny(missing_docs)]

mod atomic_write;
mod component;
mod config;
mod csp;
mod emit;
mod images;
mod k8s;
mod kustomize;
mod load;
mod quantity;
mod render;
mod rollout;
mod route;
mod schema;
mod secrets;
mod transition;
mod tree;
mod validate;

pub use atomic_write::{AtomicWrite, FileWriteError, IfExists, NewFileMode, WriteOneError};
pub use config::{
    Appservices, CertManagerIssuer, Cidr, Config, ExternalTrafficPolicy, Global, Homeserver,
    HostAlias, Ingress, IngressTls, IpBlock, IpFamily, IpFamilyPolicy, IpSource, IssuerKind,
    Livekit, LivekitKeys, LivekitKeysSecret, LkJwt, Network, NetworkPolicy, NodeIp, NodeIpError,
    OverlayDelta, OverlayName, Persistence, PinLoadBalancerIp, PolicyPeer, PortRange, RawConfig,
    Reloader, RemovedKey, Resources, Rtc, RtcServiceType, SecretKeyRef, Selector,
    SelectorExpression, SelectorOperator, Turn, TurnTls, UnknownOverlay, Variant,
};
pub use config::{NodeIpFrom, Redis, RedisPasswordSecret};
pub use csp::{CspSources, csp_sources};
pub use emit::RenderError;
pub use images::{
    BareMultiarchPolicy, CommitPolicy, DEFAULT_REGISTRY, Digest, ImageName, ImagePin, Images,
    InvalidDigest, InvalidMinAge, InvalidPlatform, InvalidTag, ManualPolicy, MinAge, MissingImage,
    Platform, RegistryEndpoint, SemverPolicy, Tag, UnknownImage, UpdatePolicy,
};
pub use load::{ConfigError, DeployedConfig, LocatedViolation, Location};
pub use render::{render, render_objects};
pub use rollout::rollout_note;
pub use schema::{CONFIG_SCHEMA_FILE, config_schema, config_schema_text};
pub use secrets::{
    InTreePath, KeyRotation, LK_JWT_TOKEN_LIFETIME_SECONDS, RotateError, SecretKeys,
    SecretManifests, SecretReference, SecretToCreate, SecretsError, generate_secrets,
    referenced_secrets, refuse_in_tree_path, rotate_livekit_keys,
};
pub use transition::{
    TransitionRefusal, TransitionRule, UnknownTransitionRule, transition_refusals,
};
pub use tree::{CheckReport, GENERATED_HEADER, Tree, WriteError, WriteReport};
pub use validate::Violation;
