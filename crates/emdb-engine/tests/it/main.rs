//! Integration tests of the engine: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::many_single_char_names,
    clippy::cast_possible_truncation,
    clippy::print_stdout,
    reason = "test code: a failed unwrap is a failed test; children report on stdout"
)]

mod basics;
mod common;
mod compaction;
mod concurrency;
mod crash_kill;
mod faults;
mod lockfile;
mod ranges;
mod recovery;
mod sealing;
mod snapshots;
