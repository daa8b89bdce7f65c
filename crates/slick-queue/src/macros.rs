//! The crate's one shared-memory boundary: which builds have named
//! shared-memory segments.
//!
//! Shared memory exists on Unix (Linux, macOS) and Windows, except in the
//! loom model-checking build (`--cfg loom`), which checks the ring on local
//! memory only. What needs shared memory is declared inside `cfg_shm!`, the
//! stand-ins for the other builds inside `cfg_no_shm!`. The condition is
//! written here and in one more place only: `region/mod.rs` repeats it on
//! the `Backing::Mapped` variant and the match arm that reads it, since an
//! enum variant or a match arm cannot be wrapped in an item macro.

/// Items that exist only on builds with shared memory.
macro_rules! cfg_shm {
    ($($item:item)*) => {
        $(
            #[cfg(all(any(unix, windows), not(loom)))]
            $item
        )*
    };
}

/// Items that exist only on builds without shared memory: the stand-ins.
macro_rules! cfg_no_shm {
    ($($item:item)*) => {
        $(
            #[cfg(not(all(any(unix, windows), not(loom))))]
            $item
        )*
    };
}
