//! The registry client.
//!
//! Why not `oci-client`'s `Client` for the requests: it owns its `reqwest::Client` and its
//! auth flow, so it cannot count our requests per kind, follows `reqwest`'s default redirect
//! policy (which would carry our headers across hosts we do not control), has no `Link`
//! pagination for tag lists, no response size caps and no `Retry-After` handling. So the HTTP
//! side here is thin code of ours on `reqwest` (the same version `oci-client` uses), and
//! `oci-client` supplies the manifest types and media-type constants we deserialise with.

pub mod auth;
pub mod client;
pub mod error;
pub mod manifest;
