//! The `bundle` binary end to end, one module per command; `support` holds what they share.
mod cli;
mod doctor;
mod init;
mod network;
mod pins_status;
mod readme;
mod refresh_e2e;
mod rotate;
mod scale;
mod secrets;
mod shell;
mod support;
mod transitions;
mod valkey;
