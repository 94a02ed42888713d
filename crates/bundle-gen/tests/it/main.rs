//! Integration tests of `bundle-gen`: the config model and its guards, the schema as the list
//! of keys that exist, rendered files (snapshots), the Kustomize invariant, and the tree
//! writer.

// Test code: a panic is the failure report.
#![allow(clippy::unwrap_used)]

mod certificate;
mod config;
mod gateway;
mod invariant;
mod network;
mod redis_wiring;
mod reload;
mod render;
mod scale;
mod schema;
mod schema_keys;
mod snapshots;
mod support;
mod transition;
mod valkey;
mod writer;
