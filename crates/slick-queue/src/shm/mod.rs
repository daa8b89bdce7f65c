//! Shared-memory objects by name. The platform's implementation is in a
//! submodule: `unix.rs` (POSIX `shm_open`, Linux and macOS).

mod unix;

pub use unix::*;
