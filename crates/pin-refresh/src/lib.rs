//! Finds the newest acceptable image of each component on its registry, and turns newer pins
//! into reviewed git commits.
#![deny(missing_docs)]

mod edit;
pub use edit::{EditError, set_pin};

mod git;
pub use git::{GitError, Identities, Person, Repo, When};
