//! Integration tests of `bundle-gen`: rendered files (snapshots), the Kustomize invariant,
//! and the tree writer.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod invariant;
mod render;
mod snapshots;
mod support;
mod writer;
