//! Shared-memory objects by name: the common interface the rest of the crate
//! uses (create / open / remove / length / owner and mode / read), name
//! validation, and the platform's implementation in a submodule:
//!
//! * `name.rs` — [`ShmName`], a validated name, and the platform's rules;
//! * `object.rs` — the platform-independent half: create, measure, map;
//! * `unix.rs` — POSIX `shm_open` objects (Linux and macOS), through `rustix`;
//! * `windows.rs` — named file mappings (`CreateFileMappingW` /
//!   `OpenFileMappingW`, backed by the paging file);
//! * `unsupported.rs` — the stand-in for builds without shared memory (other
//!   platforms, and the loom model-checking build): no name can be made.
//!
//! Mapping an object is `crate::region::Mapping`'s job; on Windows the few
//! system calls that need `unsafe` are there too (`region/mapping.rs`).
//! Everything platform-specific below the queue lives in these two places.

use crate::error::Result;

cfg_shm! {
    mod name;
    mod object;
    #[cfg(unix)]
    pub(crate) mod unix;
    #[cfg(unix)]
    use unix as imp;
    #[cfg(windows)]
    mod windows;
    #[cfg(windows)]
    use windows as imp;

    pub use name::ShmName;
    pub(crate) use object::{backing_check, create, info, len, map, map_private, reserve_backing, ObjectInfo};
    pub(crate) use imp::{lock_producer, open_ro, open_rw, read_at, unlink, unlink_if_empty, Object, ProducerLock};
}

cfg_no_shm! {
    mod unsupported;
    use unsupported as imp;

    pub use unsupported::ShmName;
    pub(crate) use unsupported::ProducerLock;
}

/// Whether `remove` deletes anything on this platform. On Windows a named
/// mapping lives exactly as long as some process holds a handle or a view
/// of it: there is no name to unlink, and `remove` is a successful no-op.
/// Nothing can be unlinked on a build without shared memory.
pub const CAN_UNLINK: bool = imp::CAN_UNLINK;

/// Unlinks the shared-memory queue (or cursor) `name` without attaching to
/// it, and the queue's doorbell object (`<name>.doorbell`) if there is one.
/// One leading `/` is accepted. `Ok(true)` if `name` was removed, `Ok(false)`
/// if no such name existed. Processes that have it mapped keep their mapping;
/// the next creator of the name gets a fresh segment.
///
/// On Windows there is no name to unlink: a named mapping disappears when
/// the last process holding it closes it. There `remove` checks the name and
/// returns `Ok(true)` without doing anything, as the C++ and Python peers'
/// `remove` do (see [`REMOVE_UNLINKS`](crate::REMOVE_UNLINKS)).
pub fn remove(name: &str) -> Result<bool> {
    let name = ShmName::new(name)?;
    let removed = imp::unlink(&name)?;
    imp::remove_doorbell(&name);
    Ok(removed)
}
