//! Joining an existing queue by name for reading or writing, adopting its
//! whole geometry and its `read_last` feature, with errors that name the
//! object and say what it is.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use slick_queue::layout::{INIT_INITIALIZING, INIT_UNINITIALIZED};
use slick_queue::{ByteQueue, Options};

use crate::fail::{msg, Result};
use crate::segments::{lookup, object_path, Status};

/// How old a half-initialised queue must be before opening it fails at once
/// (the default grace period of `ls` and `rm --stale`).
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// `--allow-foreign-owner`: set once by `main` before any command runs.
pub static ALLOW_FOREIGN_OWNER: AtomicBool = AtomicBool::new(false);

/// `--poll-interval` in nanoseconds (0: not given, the library's default).
pub static POLL_INTERVAL_NS: AtomicU64 = AtomicU64::new(0);

/// The options every command starts from (`--allow-foreign-owner` and
/// `--poll-interval` applied).
pub fn options() -> Options {
    let options = Options::new().allow_foreign_owner(ALLOW_FOREIGN_OWNER.load(Ordering::Relaxed));
    match POLL_INTERVAL_NS.load(Ordering::Relaxed) {
        0 => options,
        ns => options.poll_interval(Duration::from_nanos(ns)),
    }
}

/// Opens the queue `name` (it must exist), adopting its capacity, element
/// size, items_per_slot and read_last setting.
pub fn open_queue(name: &str) -> Result<ByteQueue> {
    open_queue_as(name, false)
}

/// Like [`open_queue`], as a read-only view (opened `O_RDONLY`, mapped
/// copy-on-write): for the read-only commands, which then also work on a
/// queue the user may only read, whoever owns it.
pub fn open_queue_read_only(name: &str) -> Result<ByteQueue> {
    open_queue_as(name, true)
}

fn open_queue_as(name: &str, read_only: bool) -> Result<ByteQueue> {
    let seg = lookup(name, Duration::ZERO)?;
    // What a creator in the middle of its work can look like: not sized yet,
    // or sized but neither claimed (0) nor marked (it writes the marker
    // right after claiming with 2).
    let maybe_creating = seg.bytes < 64
        || slick_queue::inspect::segment_info(name)
            .ok()
            .and_then(|i| i.header)
            .is_some_and(|h| h.init_state == INIT_UNINITIALIZED || h.init_state == INIT_INITIALIZING);
    let age = if seg.status.is_queue() { seg.age_secs } else { seg.age_secs.filter(|_| maybe_creating) };
    check_openable(name, seg.status, seg.note.as_deref(), age)?;
    let read_last = seg.header.as_ref().is_some_and(|h| h.features.iter().any(|f| f == "read_last"));
    // A marker-less header in the middle of its creation is still waited for
    // by the core (up to its 2 s init timeout); say what it is if that fails.
    let options = options().read_last(read_last);
    let opened =
        if read_only { ByteQueue::open_read_only(name, &options) } else { ByteQueue::open_any(name, &options) };
    opened.map_err(|e| {
        let again = lookup(name, Duration::ZERO).ok();
        match again {
            Some(s) if !s.status.is_queue() => msg(format!(
                "{} is not a slick-queue queue ({}): {e}",
                object_path(&s.name),
                s.note.unwrap_or_else(|| s.status.as_str().to_owned())
            )),
            _ => msg(format!("cannot open queue {name:?}: {e}")),
        }
    })
}

/// Refuses objects that cannot become an openable queue by waiting: foreign
/// ones (unless young: they may be a queue being created right now),
/// half-initialised queues older than [`STALE_AFTER`], queues made by newer
/// peers, corrupt or truncated ones. `age` is the object's age in seconds
/// when it matters (for a marker-less object: only when it may be a queue
/// in creation).
fn check_openable(name: &str, status: Status, note: Option<&str>, age: Option<f64>) -> Result<()> {
    let why = note.unwrap_or("");
    let recent = age.is_some_and(|a| a < 2.0);
    match status {
        Status::Ok => Ok(()),
        // Past the grace period no live creator is still at work: say so now
        // rather than after the attach's own 2 s wait.
        Status::Initializing | Status::Uninitialized if age.is_some_and(|a| a >= STALE_AFTER.as_secs_f64()) => {
            Err(msg(format!(
                "cannot open queue {name:?}: it is {} ({why}) and has been for {:.0}s: its creator probably died; \
                 `slickq rm {name}` (or `slickq rm --stale`) removes it",
                status.as_str(),
                age.unwrap_or(0.0)
            )))
        }
        Status::Initializing | Status::Uninitialized => Ok(()),
        // A creator sizes the object and writes the marker right after
        // creating it: give a very young object the benefit of the doubt.
        Status::Foreign | Status::Short if recent => Ok(()),
        Status::Foreign | Status::Short => {
            Err(msg(format!("{name:?} is not a slick-queue queue: {why} (see `slickq inspect` or `slickq ls --all`)")))
        }
        Status::Newer => Err(msg(format!("cannot open queue {name:?}: {why}; use a newer slickq"))),
        Status::Truncated | Status::Corrupt => Err(msg(format!(
            "cannot open queue {name:?}: it is {}: {why} (remove it with `slickq rm {name}`)",
            status.as_str()
        ))),
        Status::Unreadable => Err(msg(format!("cannot open {name:?}: {why}"))),
        Status::Doorbell => Err(msg(format!("{name:?} is not a queue: it is a {why} (open the queue itself instead)"))),
    }
}

/// The index of the oldest record still in the ring: 0 while the producers
/// have not lapped it, else the first record (in ring order from the oldest
/// position) that is at most one ring behind the write index. Found from a
/// `pread` snapshot of the control array; when producers race ahead, the
/// reader's own loss detection covers the rest. Falls back to 0 (where a
/// plain reader starts, jumping to the newest lap) if the array cannot be read.
pub fn oldest_index(q: &ByteQueue, name: &str) -> u64 {
    use slick_queue::layout::{EMPTY_INDEX, HEADER_SIZE, SLOT_SIZE};
    let write = q.initial_reading_index();
    let cap = u64::from(q.capacity());
    if write <= cap {
        return 0;
    }
    let lo = write - cap;
    let slots = u64::from(q.slot_count());
    let ips = u64::from(q.items_per_slot());
    let first = (lo & (cap - 1)) / ips;
    // The control array is read a chunk at a time (a 2^24-slot queue has a
    // 256 MiB control array; memory stays flat).
    const CHUNK: u64 = 4096;
    let mut buf = vec![0u8; CHUNK as usize * SLOT_SIZE];
    let mut k = 0;
    while k < slots {
        let s0 = (first + k) % slots;
        let n = CHUNK.min(slots - s0).min(slots - k);
        let bytes = &mut buf[..n as usize * SLOT_SIZE];
        match slick_queue::inspect::read_bytes(name, HEADER_SIZE as u64 + s0 * SLOT_SIZE as u64, bytes) {
            Ok(got) if got == bytes.len() => {}
            _ => return 0,
        }
        for i in 0..n {
            let at = i as usize * SLOT_SIZE;
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            let d = u64::from_le_bytes(word);
            if d != EMPTY_INDEX && d >= lo && d < write && (d & (cap - 1)) / ips == s0 + i {
                return d;
            }
        }
        k += n;
    }
    0
}
