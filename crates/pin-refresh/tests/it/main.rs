//! Integration tests of pin-refresh: one binary, one module per behaviour. Shared helpers are
//! in `support` (images, requests, client options) and `pin_refresh::test_fixture` (git
//! repositories, work trees, digests); the fault server stands in for a registry where a real
//! one cannot misbehave on demand, `real_registry` runs against registry-fixture's real one.
// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod commit;
mod cost;
mod fault_server;
mod faults;
mod git;
mod held;
mod https_git_server;
mod min_age;
mod push;
mod real_registry;
mod support;
