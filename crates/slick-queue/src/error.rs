//! The one error type of the crate.

use std::time::Duration;

/// Everything that can go wrong creating, opening or using a queue.
///
/// Attach errors say what differs between the caller and the segment; no
/// mismatch is ever resolved by silently reinterpreting the segment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The capacity is not a power of two (or is zero).
    #[error("capacity {size} is not a power of two (it must be 1, 2, 4, ... 2^31)")]
    InvalidCapacity {
        /// The rejected capacity.
        size: u64,
    },
    /// The element size is zero or does not fit the wire format's u32.
    #[error("element size {element_size} is invalid: it must be between 1 and 4294967295 bytes")]
    InvalidElementSize {
        /// The rejected element size.
        element_size: u64,
    },
    /// `items_per_slot` is not a power of two, or exceeds the capacity.
    #[error("items_per_slot {items_per_slot} is invalid for capacity {size}: it must be a power of two no larger than the capacity")]
    InvalidItemsPerSlot {
        /// The rejected value.
        items_per_slot: u32,
        /// The queue capacity it was checked against.
        size: u32,
    },
    /// The segment this geometry needs does not fit in memory arithmetic.
    #[error(
        "a queue of {size} elements of {element_size} bytes (items_per_slot {items_per_slot}) is too large to address"
    )]
    GeometryTooLarge {
        /// Capacity.
        size: u32,
        /// Element size.
        element_size: u32,
        /// Items per slot.
        items_per_slot: u32,
    },
    /// `reserve(0)` or `publish(_, 0)`.
    #[error("a record must hold at least one element (n = 0)")]
    ZeroElements,
    /// `reserve(n)` or `publish(_, n)` with `n` larger than the capacity.
    #[error("a record of {n} elements does not fit in a queue of capacity {size}")]
    TooManyElements {
        /// Requested elements.
        n: u64,
        /// Queue capacity.
        size: u32,
    },
    /// A write or publish that would run past the end of the ring: records
    /// never wrap, so the elements of one reservation are contiguous.
    #[error("{len} elements at ring position {position} run past the end of the ring (capacity {size}); write only inside the elements reserve() returned")]
    OutOfRange {
        /// Ring position (`index & (size - 1)`).
        position: u64,
        /// Elements (or bytes, for byte writes) requested.
        len: u64,
        /// Queue capacity.
        size: u32,
    },
    /// `read_last()` on a queue built without the `read_last` trait.
    #[error("read_last() needs the read_last trait; this queue was built without it, so nothing maintains the last published index")]
    ReadLastDisabled,
    /// A shared-memory name that POSIX or this library cannot use.
    #[error("invalid shared-memory name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Open-only on a name that does not exist.
    #[error("no shared-memory queue named {name:?} exists ({})", looked_for(.name))]
    NotFound {
        /// The name as the system knows it (the POSIX name, with the leading
        /// `/`, on Linux and macOS).
        name: String,
    },
    /// The caller lacks permission to open or remove the object.
    #[error("permission denied for shared-memory object {name:?}: {source}")]
    PermissionDenied {
        /// The POSIX name.
        name: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Any other OS error, with the operation that failed.
    #[error("{op} failed for shared-memory object {name:?}: {source}")]
    Os {
        /// What was being done (`shm_open`, `ftruncate`, `mmap`, ...).
        op: &'static str,
        /// The POSIX name.
        name: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The creator never finished initializing the segment.
    #[error("timed out after {waited:?} waiting for {name:?} to be initialized (init_state {state}); its creator may have died: {}", recovery())]
    InitTimeout {
        /// The POSIX name.
        name: String,
        /// The init state seen last.
        state: u32,
        /// How long the attach waited.
        waited: Duration,
    },
    /// The object is shorter than its header says it must be.
    #[error("segment {name:?} is truncated: it is {len} bytes long but its geometry needs {needed}")]
    Truncated {
        /// The POSIX name.
        name: String,
        /// Length of the object.
        len: u64,
        /// Length the geometry needs.
        needed: u64,
    },
    /// No `SLQ` layout marker: a foreign object, or one made before v1.4.
    #[error("not a slick-queue segment: the layout marker at offset 24 is {found:#010X}, expected 0x534C513X ('SLQ' + feature digit); it is foreign or was made by a peer older than v1.4")]
    NoMarker {
        /// The value at offset 24.
        found: u32,
    },
    /// The marker carries feature bits this library does not know.
    #[error("segment made by a newer peer: its layout marker {magic:#010X} carries unknown feature bits {unknown:#X}")]
    UnknownFeatures {
        /// The full marker.
        magic: u32,
        /// The unknown bits.
        unknown: u32,
    },
    /// The segment and this handle disagree about a shared feature.
    #[error("feature mismatch: the segment was created with {feature}={segment} but this queue has {feature}={ours}; every peer of a segment must use the same setting")]
    FeatureMismatch {
        /// The feature (`read_last`).
        feature: &'static str,
        /// The segment's setting.
        segment: bool,
        /// This handle's setting.
        ours: bool,
    },
    /// The segment's geometry differs from the caller's.
    #[error("{field} mismatch on queue {name:?}: the segment has {field} {found} but this queue expects {expected}")]
    Mismatch {
        /// The POSIX name (with the leading `/`).
        name: String,
        /// `size`, `element_size` or `items_per_slot`.
        field: &'static str,
        /// What the caller asked for.
        expected: u64,
        /// What the segment holds.
        found: u64,
    },
    /// The header is internally inconsistent.
    #[error("corrupt segment: {reason}")]
    Corrupt {
        /// What is inconsistent.
        reason: String,
    },
    /// The object under the queue's name is not a regular file (a symbolic
    /// link, a FIFO, a device, ...): someone planted it; nothing is read or
    /// written through it.
    #[error("shared-memory object {name:?} is {kind}, not a regular file; refusing to use it (remove it if it is not yours)")]
    NotRegularFile {
        /// The POSIX name.
        name: String,
        /// What it is instead.
        kind: &'static str,
    },
    /// A creation mode with bits beyond the nine permission bits.
    #[error("mode {mode:#o} is not allowed: only permission bits (0o777 and below) may be given; setuid, setgid and sticky bits are refused")]
    InvalidMode {
        /// The rejected mode.
        mode: u32,
    },
    /// No room in the shared-memory file system for a new segment.
    #[error("no space left to create shared-memory object {name:?}: it needs {needed} bytes and /dev/shm has less free; nothing was created (free space, enlarge /dev/shm, or use a smaller queue)")]
    NoSpace {
        /// The POSIX name.
        name: String,
        /// Bytes the segment needs.
        needed: u64,
        /// The OS error (`ENOSPC`).
        source: std::io::Error,
    },
    /// An existing segment whose memory its creator never reserved (the
    /// C++ and original Python peers size segments with `ftruncate` alone),
    /// on a `/dev/shm` without room for the pages it still lacks: touching
    /// them would kill this process with SIGBUS, so it is not attached.
    #[error("shared-memory object {name:?} was created without its memory reserved (as the C++ and original Python peers do) and /dev/shm has no room for the {missing} bytes it still lacks; using it would crash this process with SIGBUS, so it was not attached (free space in /dev/shm or enlarge it)")]
    Unbacked {
        /// The POSIX name.
        name: String,
        /// Bytes of the segment not yet backed by memory.
        missing: u64,
        /// The OS error (`ENOSPC`).
        source: std::io::Error,
    },
    /// An existing object owned by another user, opened without
    /// [`crate::Options::allow_foreign_owner`].
    #[error("shared-memory object {name:?} is owned by uid {owner}, not by this process's uid {ours}; refusing to attach to another user's object (opt in with allow_foreign_owner if that is intended)")]
    ForeignOwner {
        /// The POSIX name.
        name: String,
        /// The object's owner.
        owner: u32,
        /// This process's effective uid.
        ours: u32,
    },
    /// Another handle already holds the exclusive producer lock of this
    /// segment ([`crate::Options::exclusive_producer`]).
    #[error("queue {name:?} already has an exclusive producer (another handle holds its producer lock); close it first or open this one without exclusive_producer")]
    ProducerClaimed {
        /// The segment's name.
        name: String,
    },
    /// The operation needs a shared-memory queue.
    #[error("this operation needs a shared-memory queue; this one lives in local memory")]
    NotShared,
    /// Shared memory is not available on this platform.
    #[error("POSIX shared memory is not available on this platform")]
    Unsupported,
}

/// How to recover from a dead creator, for [`Error::InitTimeout`].
fn recovery() -> &'static str {
    if cfg!(windows) {
        "once every process holding it has closed it, the mapping is gone and can be created again"
    } else {
        "remove the name and create it again"
    }
}

/// Where a missing name was looked for, for [`Error::NotFound`].
fn looked_for(name: &str) -> String {
    if cfg!(target_os = "linux") {
        format!("looked for /dev/shm{name}")
    } else if cfg!(windows) {
        "no process holds a file mapping of that name; on Windows a mapping goes with its last holder".to_owned()
    } else {
        "shm_open found no such object".to_owned()
    }
}

impl Error {
    /// Whether the error is one of the attach-time mismatches or corruptions
    /// (a segment that exists but is not the queue the caller described).
    pub fn is_incompatible_segment(&self) -> bool {
        matches!(
            self,
            Error::NoMarker { .. }
                | Error::UnknownFeatures { .. }
                | Error::FeatureMismatch { .. }
                | Error::Mismatch { .. }
                | Error::Corrupt { .. }
                | Error::Truncated { .. }
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
