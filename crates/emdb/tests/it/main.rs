//! Integration tests of the public API, one module per area. Tests named `*_085` check a
//! behaviour where emdb deliberately differs from emdb 0.8.5 (SPEC S3); they fail on 0.8.5.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "test code: a failed unwrap is a failed test; children report on stdout"
)]

mod api;
mod bad_input;
mod common;
mod crash;
#[cfg(feature = "encrypt")]
mod encryption;
mod locking;
mod maintenance;
mod model;
mod namespaces;
mod persistence;
mod ranges;
mod transactions;
#[cfg(feature = "ttl")]
mod ttl;
