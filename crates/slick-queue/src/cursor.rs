//! The shared work-stealing cursor: one naturally aligned `u64` in a
//! shared-memory object of its own, so several processes (C++ ones holding
//! it as `std::atomic<uint64_t>`, Python ones through `AtomicCursor` over a
//! `SharedMemory` buffer) can split one queue's records between them.
//!
//! Within one process a plain [`std::sync::atomic::AtomicU64`] does the same
//! job; both are read with `read_shared`.

use std::ops::Deref;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::options::Options;
use crate::region::Mapping;
use crate::shm::{self, ShmName};
use crate::sync::AtomicU64;

/// Bytes in a cursor object.
pub const CURSOR_LEN: u64 = 8;

/// A work-stealing cursor in its own shared-memory object.
///
/// It dereferences to the [`AtomicU64`] it holds, so it is passed to
/// `read_shared` like a process-local one:
///
/// ```no_run
/// use slick_queue::{Options, Queue, SharedCursor};
///
/// let q = Queue::<u64>::open("jobs", &Options::new())?;
/// let cursor = SharedCursor::create_or_open("jobs_cursor", &Options::new())?;
/// while let Some(rec) = q.read_shared(&cursor) {
///     println!("claimed {}", rec.value());
/// }
/// # Ok::<(), slick_queue::Error>(())
/// ```
pub struct SharedCursor {
    mapping: Mapping,
    name: ShmName,
    created: bool,
}

impl std::fmt::Debug for SharedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCursor").field("name", &self.name).field("created", &self.created).finish()
    }
}

impl SharedCursor {
    /// Creates the cursor object (8 zero bytes: the cursor starts at 0, with
    /// [`Options::mode`]'s permissions), or opens it if it exists.
    pub fn create_or_open(name: &str, options: &Options) -> Result<SharedCursor> {
        let name = ShmName::new(name)?;
        let deadline = Instant::now() + options.init_timeout;
        loop {
            if let Some(fd) = shm::create(&name, options.mode, CURSOR_LEN)? {
                // A create that fails after making the object leaves nothing behind.
                let mapping = map(&name, fd, deadline).inspect_err(|_| {
                    let _ = shm::unlink(&name);
                })?;
                return Ok(SharedCursor { mapping, name, created: true });
            }
            match shm::open_rw(&name, options.allow_foreign_owner) {
                Ok(fd) => {
                    let mapping = map(&name, fd, deadline)?;
                    return Ok(SharedCursor { mapping, name, created: false });
                }
                Err(Error::NotFound { .. }) if Instant::now() < deadline => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Opens an existing cursor object (at least 8 bytes long) owned by
    /// this user.
    pub fn open(name: &str) -> Result<SharedCursor> {
        SharedCursor::open_with(name, &Options::new())
    }

    /// Opens an existing cursor object (at least 8 bytes long); with
    /// [`Options::allow_foreign_owner`] also one another user owns.
    pub fn open_with(name: &str, options: &Options) -> Result<SharedCursor> {
        let name = ShmName::new(name)?;
        let fd = shm::open_rw(&name, options.allow_foreign_owner)?;
        let mapping = map(&name, fd, Instant::now() + crate::options::DEFAULT_INIT_TIMEOUT)?;
        Ok(SharedCursor { mapping, name, created: false })
    }

    /// Unlinks a cursor object by name: `Ok(true)` if removed, `Ok(false)` if
    /// there was none. Open mappings stay valid. On Windows there is nothing
    /// to unlink (the object goes with its last holder): always `Ok(true)`.
    pub fn remove(name: &str) -> Result<bool> {
        shm::unlink(&ShmName::new(name)?)
    }

    /// The name as the system knows it: `/<name>` on Linux and macOS,
    /// `<name>` on Windows.
    pub fn name(&self) -> &str {
        self.name.os_name()
    }

    /// Whether this handle created the object.
    pub fn is_creator(&self) -> bool {
        self.created
    }
}

fn map(name: &ShmName, fd: shm::Object, deadline: Instant) -> Result<Mapping> {
    loop {
        let len = shm::len(&fd, name)?;
        if len >= CURSOR_LEN {
            let len = usize::try_from(len).unwrap_or(usize::MAX).min(4096);
            // A cursor the original Python package made is sized, not
            // reserved: no SIGBUS from its one page on a full /dev/shm.
            shm::reserve_backing(&fd, CURSOR_LEN, name, false)?;
            return shm::map(fd, len, name);
        }
        if Instant::now() >= deadline {
            return Err(Error::Truncated { name: name.to_string(), len, needed: CURSOR_LEN });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Deref for SharedCursor {
    type Target = AtomicU64;

    fn deref(&self) -> &AtomicU64 {
        match self.mapping.word0() {
            Some(word) => word,
            // `map` only builds mappings of at least CURSOR_LEN bytes.
            None => unreachable!("cursor mapping shorter than 8 bytes"),
        }
    }
}
