//! Finds the newest acceptable image of each component on its registry, and turns newer pins
//! into reviewed git commits.
#![deny(missing_docs)]

mod edit;
pub use edit::{EditError, set_pin};

mod git;
#[cfg(any(test, feature = "test-fixture"))]
pub mod test_fixture;
pub use git::{GitError, Identities, Person, Repo, When};

mod policy;
mod registry;
mod status;
pub use policy::{
    BareVersion, bare_multiarch_candidates, is_downgrade, is_sha_tag, newest_latest_ci,
    semver_candidate, sha_tag,
};
pub use registry::auth::{Challenge, CredentialSource, Credentials, env_var_name};
pub use registry::client::{
    ClientOptions, MANIFEST_ACCEPT, Reference, Registry, RequestCounts, RequestKind, TagList,
    default_endpoint,
};
pub use registry::error::RegistryError;
pub use registry::manifest::{IndexEntry, Manifest, has_platforms, parse_manifest};
pub use status::{
    CurrentPin, ImageError, ImageStatus, Pin, PolicyError, Route, StatusError, StatusReport,
    StatusRequest, status,
};

mod refresh;
pub use refresh::{
    BumpReport, BundleGen, PushRequest, RefreshError, RefreshReport, RefreshRequest, RenderFailure,
    RenderedFiles, TreeRenderer, commit_message, refresh, refresh_with,
};
