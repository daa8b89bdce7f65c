//! The harness of the slick-queue benchmarks (`docs/spec/BENCH_PROTOCOL.md`), shared by
//! the `slick-bench` binary and the criterion bench `step` (run g).

#[cfg(feature = "zenoh")]
pub mod bridge;
pub mod common;
pub mod inproc;
pub mod xproc;
