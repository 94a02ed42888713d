//! Finds the newest acceptable image of each component on its registry, and turns newer pins
//! into reviewed git commits.
#![deny(missing_docs)]

mod edit;
pub use edit::{EditError, set_pin};

mod git;
#[cfg(any(test, feature = "test-fixture"))]
pub mod test_fixture;
pub use git::{CommitId, GitCommandError, GitError, Identities, Person, Repo, When};

mod policy;
mod registry;
mod status;
pub use registry::auth::{CredentialSource, Credentials, env_var_name};
pub use registry::error::RegistryError;
pub use registry::options::ClientOptions;
pub use registry::retry::RetryCounts;
pub use registry_counts::RequestCounts;
pub use status::{
    CurrentPin, ImageError, ImageStatus, Pin, PolicyError, Route, StatusError, StatusReport,
    StatusRequest, Waiting, status, status_report,
};

mod notes;
mod refresh;
mod revert;
pub use refresh::{
    BumpReport, CheckRefusal, FailedImage, ProposedCheck, PushRequest, RefreshError, RefreshReport,
    RefreshRequest, refresh,
};
pub use revert::{HISTORY_LIMIT, RevertedBump, reverted_bumps, reverted_bumps_at};
