//! Finds the newest acceptable image of each component on its registry, and turns newer pins
//! into reviewed git commits.
#![deny(missing_docs)]
