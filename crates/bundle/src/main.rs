//! The `bundle` command line.
fn main() {}
