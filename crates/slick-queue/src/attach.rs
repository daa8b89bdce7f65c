//! Create-or-open and open-only: the init-state handshake of `docs/spec/WIRE_FORMAT.md`
//! section 3, and the validation that turns every disagreement between the
//! caller and a segment into a typed error.
//!
//! The rules this module keeps:
//!
//! * Only the process whose `shm_open(O_CREAT|O_EXCL)` succeeded sizes the
//!   object. An opener that finds it shorter than the header waits (the
//!   creator may not have sized it yet) until the init deadline; it never
//!   truncates an object it did not create, which could shrink it under a
//!   peer that already mapped it.
//! * Only the winner of the `init_state` CAS 0 -> 2 writes the header and the
//!   slots, and only if the object is long enough for the geometry it is
//!   about to write; it publishes them with a `Release` store of 3.
//! * Everyone else waits (`Acquire` loads about 1 ms apart) for state 3 (or
//!   for the legacy state 1 with a non-zero geometry after a 5 ms grace),
//!   then validates the marker, the geometry and the object's length before
//!   a single slot is touched.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::layout::{
    check_marker, effective_items_per_slot, magic_for, Geometry, ShmHeader, EMPTY_INDEX, HEADER_SIZE,
    INIT_INITIALIZING, INIT_LEGACY, INIT_READY, INIT_UNINITIALIZED,
};
use crate::options::Options;
use crate::region::Mapping;
use crate::shm::{self, Object, ShmName};
use crate::sync::Ordering;

/// What the caller knows about the queue it attaches to.
pub(crate) enum Request {
    /// Create the segment, or open it if it exists; the geometry must match.
    CreateOrOpen(Geometry),
    /// Open an existing segment, adopting its capacity and (unless given)
    /// its items_per_slot and element size.
    Open {
        element_size: Option<u32>,
        items_per_slot: Option<u32>,
        /// Open the object read-only and map it copy-on-write (a read-only
        /// view: nothing this handle writes reaches the segment).
        private: bool,
    },
}

/// A validated, mapped segment.
pub(crate) struct Attached {
    pub mapping: Mapping,
    pub geometry: Geometry,
    /// Whether this process initialized the segment.
    pub created: bool,
    /// With `Options::exclusive_producer`: a descriptor of the object that
    /// holds its producer lock (see `shm::lock_producer`); the queue keeps it
    /// open while it lives.
    pub producer_lock: Option<shm::ProducerLock>,
}

const POLL: Duration = Duration::from_millis(1);
const LEGACY_GRACE: Duration = Duration::from_millis(5);

pub(crate) fn attach(name: &ShmName, request: &Request, options: &Options) -> Result<Attached> {
    match attach_once(name, request, options) {
        // A 0-byte object still empty after the whole init timeout: its
        // creator died between `shm_open` and sizing it (only the creator
        // sizes an object). Create-or-open replaces it once, as it
        // re-initializes an object whose creator died at init_state 0.
        Err(Error::Truncated { len: 0, .. }) if matches!(request, Request::CreateOrOpen(_)) => {
            shm::unlink_if_empty(name)?;
            attach_once(name, request, options)
        }
        other => other,
    }
}

fn attach_once(name: &ShmName, request: &Request, options: &Options) -> Result<Attached> {
    let deadline = Instant::now() + options.init_timeout;
    let (object, made_object) = match request {
        Request::CreateOrOpen(g) => create_or_open_object(name, g, options, deadline)?,
        // A read-only view reads like inspection: whoever owns the object.
        Request::Open { private: true, .. } => (shm::open_ro(name)?, false),
        Request::Open { .. } => (shm::open_rw(name, options.allow_foreign_owner)?, false),
    };
    let private = matches!(request, Request::Open { private: true, .. });
    // An exclusive producer claims the object before anything else, so a
    // second one is refused before it maps or validates anything.
    let producer_lock = if options.exclusive_producer {
        match shm::lock_producer(&object, name) {
            Ok(lock) => Some(lock),
            Err(e) => {
                if made_object {
                    let _ = shm::unlink(name);
                }
                return Err(e);
            }
        }
    } else {
        None
    };
    // Kept to reserve the segment's memory once it is known to be a queue
    // we accept (a peer may have sized it without reserving it).
    let backing = shm::backing_check(&object, name)?;
    // The mapping takes the descriptor over (and closes it; on Windows it
    // keeps the handle open with the view, which keeps the mapping alive).
    let mapping = match map_whole(name, object, deadline, private) {
        Ok(m) => m,
        Err(e) => {
            // An object this call created and cannot use is removed, so a
            // failed create leaves nothing behind.
            if made_object {
                let _ = shm::unlink(name);
            }
            return Err(e);
        }
    };
    let Some(header) = mapping.header() else {
        // `map_whole` only returns mappings of at least a header.
        return Err(Error::Truncated { name: name.to_string(), len: mapping.len() as u64, needed: HEADER_SIZE as u64 });
    };

    if let Request::CreateOrOpen(g) = request {
        // Initialize only if the object can hold our geometry; otherwise let
        // the creator finish and report the mismatch below.
        let fits = mapping.len() >= g.segment_len();
        if fits && !made_object {
            // Sized by someone else (who may not have reserved its memory)
            // and about to be written in full if we initialize it.
            backing.reserve(g.segment_len() as u64, name, false)?;
        }
        if fits
            && header
                .init_state
                .compare_exchange(INIT_UNINITIALIZED, INIT_INITIALIZING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            failpoint("attach-claimed");
            initialize(&mapping, header, g, options.read_last);
            return Ok(Attached { mapping, geometry: *g, created: true, producer_lock });
        }
    }

    let start = Instant::now();
    wait_ready(name, header, deadline, start)?;
    let magic = header.magic.load(Ordering::Acquire);
    let ips_raw = header.items_per_slot.load(Ordering::Acquire);
    check_marker(magic, Some(options.read_last), ips_raw)?;
    let size = header.size.load(Ordering::Acquire);
    let element_size = header.element_size.load(Ordering::Acquire);
    let ips = effective_items_per_slot(ips_raw);

    let geometry = match request {
        Request::CreateOrOpen(g) => {
            mismatch(name, "size", g.size(), size)?;
            mismatch(name, "element_size", g.element_size(), element_size)?;
            mismatch(name, "items_per_slot", g.items_per_slot(), ips)?;
            *g
        }
        Request::Open { element_size: want_es, items_per_slot: want_ips, .. } => {
            if let Some(es) = want_es {
                mismatch(name, "element_size", *es, element_size)?;
            }
            if let Some(i) = want_ips {
                mismatch(name, "items_per_slot", *i, ips)?;
            }
            Geometry::new(size, element_size, ips)
                .map_err(|e| Error::Corrupt { reason: format!("segment {name} has an invalid geometry: {e}") })?
        }
    };
    if mapping.len() < geometry.segment_len() {
        return Err(Error::Truncated {
            name: name.to_string(),
            len: mapping.len() as u64,
            needed: geometry.segment_len() as u64,
        });
    }
    backing.reserve(geometry.segment_len() as u64, name, private)?;
    Ok(Attached { mapping, geometry, created: false, producer_lock })
}

/// Test hook for the dead-creator tests (tests/processes), compiled only with the
/// `failpoints` feature (the crate's own integration tests turn it on; no
/// normal build has it): when `SLICK_QUEUE_FAILPOINT` names this point, the
/// process stops here for good, so a test can SIGKILL a creator exactly
/// between two steps of the handshake.
#[inline]
pub(crate) fn failpoint(point: &str) {
    #[cfg(feature = "failpoints")]
    if std::env::var_os("SLICK_QUEUE_FAILPOINT").is_some_and(|v| v == point) {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    #[cfg(not(feature = "failpoints"))]
    let _ = point;
}

fn mismatch(name: &ShmName, field: &'static str, expected: u32, found: u32) -> Result<()> {
    if expected == found {
        Ok(())
    } else {
        Err(Error::Mismatch { name: name.to_string(), field, expected: u64::from(expected), found: u64::from(found) })
    }
}

/// Creates the object exclusively, sized for `g` with its memory reserved
/// (`shm::create`), or opens the existing one. The flag says whether this
/// call created the object.
fn create_or_open_object(name: &ShmName, g: &Geometry, options: &Options, deadline: Instant) -> Result<(Object, bool)> {
    loop {
        if let Some(object) = shm::create(name, options.mode, g.segment_len() as u64)? {
            return Ok((object, true));
        }
        match shm::open_rw(name, options.allow_foreign_owner) {
            Ok(object) => return Ok((object, false)),
            // Removed (or, on Windows, closed by its last holder) between our
            // two calls: try to create it again.
            Err(Error::NotFound { .. }) if Instant::now() < deadline => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Maps the whole object once it is at least a header long, waiting for its
/// creator to size it until the deadline.
fn map_whole(name: &ShmName, object: Object, deadline: Instant, private: bool) -> Result<Mapping> {
    loop {
        let len = shm::len(&object, name)?;
        if len >= HEADER_SIZE as u64 {
            let len = usize::try_from(len)
                .map_err(|_| Error::Corrupt { reason: format!("segment {name} is larger than the address space") })?;
            return if private { shm::map_private(object, len, name) } else { shm::map(object, len, name) };
        }
        if Instant::now() >= deadline {
            return Err(Error::Truncated { name: name.to_string(), len, needed: HEADER_SIZE as u64 });
        }
        std::thread::sleep(POLL);
    }
}

fn wait_ready(name: &ShmName, header: &ShmHeader, deadline: Instant, start: Instant) -> Result<()> {
    loop {
        let state = header.init_state.load(Ordering::Acquire);
        match state {
            INIT_READY => return Ok(()),
            INIT_LEGACY if start.elapsed() >= LEGACY_GRACE => {
                let size = header.size.load(Ordering::Acquire);
                let es = header.element_size.load(Ordering::Acquire);
                if size != 0 && es != 0 {
                    return Ok(());
                }
            }
            INIT_UNINITIALIZED | INIT_LEGACY | INIT_INITIALIZING => {}
            other => {
                return Err(Error::Corrupt {
                    reason: format!("segment {name} has init_state {other}, which no peer writes (expected 0 to 3)"),
                })
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::InitTimeout { name: name.to_string(), state, waited: start.elapsed() });
        }
        std::thread::sleep(POLL);
    }
}

/// The creator's half of the handshake: header, slots, then `init_state = 3`
/// with `Release`.
fn initialize(mapping: &Mapping, header: &ShmHeader, g: &Geometry, read_last: bool) {
    header.magic.store(magic_for(read_last, g.items_per_slot()), Ordering::Relaxed);
    header.reserved.store(0, Ordering::Relaxed);
    header.last_published.store(EMPTY_INDEX, Ordering::Relaxed);
    header.size.store(g.size(), Ordering::Relaxed);
    header.element_size.store(g.element_size(), Ordering::Relaxed);
    header.items_per_slot.store(g.items_per_slot(), Ordering::Relaxed);
    // Padding is zero on the wire; the Python peer compares the 8 bytes at
    // offset 48 (init_state and the next 4 padding bytes) with 3.
    for w in header.pad0.iter().chain(header.pad1.iter()) {
        w.store(0, Ordering::Relaxed);
    }
    for i in 0..g.slot_count() as usize {
        if let Some(s) = mapping.slot(i) {
            s.data_index.store(EMPTY_INDEX, Ordering::Relaxed);
            s.size.store(1, Ordering::Relaxed);
        }
    }
    header.init_state.store(INIT_READY, Ordering::Release);
}
