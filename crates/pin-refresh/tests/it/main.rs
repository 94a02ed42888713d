//! Integration tests of pin-refresh: one binary, one module per behaviour.
// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod commit;
mod cost;
mod fault_server;
mod faults;
