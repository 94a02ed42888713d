//! The registry client.
//!
//! Why not `oci-client`'s `Client` for the requests: it owns its `reqwest::Client` and its
//! auth flow, so it cannot count our requests per kind, follows `reqwest`'s default redirect
//! policy (which would carry our headers across hosts we do not control), has no `Link`
//! pagination for tag lists, no response size caps and no `Retry-After` handling. So the HTTP
//! side here is thin code of ours on `reqwest`, and the manifest types and media types are
//! ours too (see [`manifest`]).
//!
//! The layers, each using only those below it:
//! - [`api`]: the distribution endpoints (tags, manifests, blobs) and digest checks;
//! - `token`: the Bearer challenge and token flow, with the credentials from [`auth`];
//! - `retry`: what is retried (408, 429, 5xx gateway and server errors, connect, reset and
//!   timeout failures), how long to wait (`Retry-After`), the budget, the retry counts;
//! - `transport`: one request with its timeouts, redirects, credential scoping to the
//!   endpoint's origin, body size caps and request counts;
//! - [`options`]: the limits all of them read.

pub mod api;
pub mod auth;
pub mod error;
pub mod manifest;
pub mod options;
pub(crate) mod retry;
mod token;
mod transport;
