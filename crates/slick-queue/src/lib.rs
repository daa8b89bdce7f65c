//! A lock-free multi-producer multi-consumer ring-buffer queue, in one
//! process or across processes over POSIX shared memory, byte-compatible
//! with the C++ header library `slick::SlickQueue` (v1.4 and v2.x) and the
//! Python package `slick-queue-py` (2.3.0): Rust, C++ and Python processes
//! can share one live queue.
//!
//! The queue is **lossy** by design: producers never wait for consumers. A
//! consumer that falls more than a ring behind skips ahead and counts what it
//! lost ([`Queue::loss_count`]). Each private cursor sees every record
//! (broadcast); consumers sharing one atomic cursor split the records between
//! them (work stealing).
//!
//! # In one process
//!
//! ```
//! use slick_queue::Queue;
//! use std::sync::atomic::AtomicU64;
//!
//! let q = Queue::<u64>::new(1024)?;
//!
//! // producer: reserve, write, publish (or `push`, which does all three)
//! let i = q.reserve(1)?;
//! q.write(i, 7)?;
//! q.publish(i, 1)?;
//! q.push_slice(&[8, 9])?; // one record of two elements
//!
//! // a broadcast reader with its own cursor
//! let mut cursor = 0;
//! assert_eq!(q.read(&mut cursor).unwrap().value(), 7);
//! assert_eq!(q.read(&mut cursor).unwrap().to_vec(), vec![8, 9]);
//!
//! // work stealing: consumers share one atomic cursor
//! let shared = AtomicU64::new(0);
//! let rec = q.read_shared(&shared).unwrap();
//! assert_eq!((rec.index(), rec.value()), (0, 7));
//! # Ok::<(), slick_queue::Error>(())
//! ```
//!
//! # Across processes
//!
//! ```
//! use slick_queue::{Options, Queue};
//!
//! # let name = format!("doc_example_{}", std::process::id());
//! // Creates /dev/shm/<name> (on Windows: the named mapping <name>), or
//! // opens it if another process already did.
//! let producer = Queue::<u64>::create_or_open(&name, 4096, &Options::new())?;
//! producer.push(42)?;
//!
//! // Another process (here: another handle) opens it by name and adopts
//! // its capacity.
//! let consumer = Queue::<u64>::open(&name, &Options::new())?;
//! let mut cursor = 0;
//! assert_eq!(consumer.read(&mut cursor).map(|r| r.value()), Some(42));
//!
//! // Nothing is unlinked implicitly; remove the name when done (a no-op
//! // that returns true on Windows, where the mapping goes with its last
//! // holder).
//! assert!(slick_queue::remove(&name)?);
//! # Ok::<(), slick_queue::Error>(())
//! ```
//!
//! # Where things are
//!
//! * `layout` — the wire format as data: offsets, marker, header and slot
//!   structs, geometry arithmetic (public as [`layout`] for tools).
//! * `region` — the memory a ring runs on (heap or mapping, the mapping in
//!   `region/mapping.rs`); every `unsafe` block of the crate.
//! * `shm` — shared-memory objects by name: the common interface and
//!   [`remove`], with the POSIX (Linux, macOS) and Windows implementations
//!   and the stand-in for builds without shared memory under it.
//! * `macros` — `cfg_shm!` / `cfg_no_shm!`: which builds have shared memory,
//!   written once.
//! * `attach` — the create/open handshake and its validation.
//! * `ring` — the algorithm, with the memory-ordering argument.
//! * `cursor` — [`SharedCursor`], the work-stealing cursor in its own object.
//! * `doorbell` — how idle readers sleep and our producers wake them (the
//!   handshake and its ordering argument); `wait` — the waits built on it.
//! * `byte_queue` — [`ByteQueue`] and [`ByteRecord`]; `queue` — the typed
//!   [`Queue`] and [`Record`] over it; `named` — their constructors by name
//!   (create or open a shared segment).
//!
//! See `docs/DESIGN.md` in the repository for the design, the orderings and
//! the failure modes.

#![warn(missing_docs)]

#[macro_use]
mod macros;

pub mod layout;

mod byte_queue;
mod doorbell;
mod error;
mod options;
mod queue;
mod region;
mod ring;
mod shm;
mod sync;
pub mod wait;

cfg_shm! {
    mod attach;
    mod cursor;
    mod named;

    /// Facts about an existing segment read without joining the queue or
    /// modifying it: for inspection tools.
    pub mod inspect;

    pub use cursor::{SharedCursor, CURSOR_LEN};
}

pub use byte_queue::{ByteQueue, ByteRecord};
pub use error::{Error, Result};
pub use layout::{Geometry, HeaderSnapshot};
pub use options::{Options, DEFAULT_INIT_TIMEOUT, DEFAULT_MODE};
pub use queue::{Queue, Record};
pub use shm::{remove, ShmName};

/// Whether [`remove`] deletes a name on this platform: `true` on Linux and
/// macOS (`shm_unlink`), `false` on Windows, where a mapping lives exactly as
/// long as some process holds it and `remove` is a successful no-op.
pub const REMOVE_UNLINKS: bool = shm::CAN_UNLINK;

/// Re-exported so users can name the `Pod` bound (and derive it with
/// bytemuck's `derive` feature).
pub use bytemuck::Pod;

pub use doorbell::{
    doorbell_name, DOORBELL_LEN, DOORBELL_MAGIC, DOORBELL_MAGIC_OFFSET, DOORBELL_SUFFIX, DOORBELL_WAITERS_OFFSET,
    STALE_RINGS as DOORBELL_STALE_RINGS,
};

/// The README's Rust code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
