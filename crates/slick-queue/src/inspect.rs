//! Reading a segment's header and control slots without joining the queue:
//! the object is opened read-only and read with `pread` (on Linux; never
//! mapped), so inspecting can neither modify a queue nor be hurt by one that
//! is truncated or garbage. On Windows and macOS, where an object cannot be
//! `pread`, the bytes are copied out of a short-lived read-only view
//! (neither platform can shrink an object under it).

use crate::error::Result;
use crate::layout::{HeaderSnapshot, HEADER_SIZE, SLOT_SIZE};
use crate::shm::{self, ShmName};

/// What `fstat` (on Windows: the mapping's size) and the first 64 bytes say
/// about a shared-memory object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The name as the system knows it: `/<name>` on Linux and macOS,
    /// `<name>` on Windows.
    pub name: String,
    /// Length of the object in bytes (on Windows a whole number of pages).
    pub len: u64,
    /// Permission bits (`None` on Windows, where a mapping has an
    /// access-control list instead).
    pub mode: Option<u32>,
    /// Owner's user id (`None` on Windows).
    pub uid: Option<u32>,
    /// The decoded header, when the object is at least 64 bytes long.
    pub header: Option<HeaderSnapshot>,
}

/// One control slot as read from the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotSnapshot {
    /// Slot number.
    pub slot: u64,
    /// `data_index` (`u64::MAX` when empty).
    pub data_index: u64,
    /// `size`.
    pub size: u32,
}

/// Stats the object `name` and decodes its header.
pub fn segment_info(name: &str) -> Result<SegmentInfo> {
    let name = ShmName::new(name)?;
    let fd = shm::open_ro(&name)?;
    let info = shm::info(&fd, &name)?;
    let mut bytes = [0u8; HEADER_SIZE];
    let header = if shm::read_at(&fd, &mut bytes, 0, &name)? == HEADER_SIZE {
        Some(HeaderSnapshot::from_bytes(&bytes))
    } else {
        None
    };
    Ok(SegmentInfo { name: name.os_name().to_owned(), len: info.len, mode: info.mode, uid: info.uid, header })
}

/// Reads up to `count` control slots starting at slot `first` (stopping at
/// the end of the object).
pub fn read_slots(name: &str, first: u64, count: u64) -> Result<Vec<SlotSnapshot>> {
    let name = ShmName::new(name)?;
    let fd = shm::open_ro(&name)?;
    let mut out = Vec::new();
    for slot in first..first.saturating_add(count) {
        let Some(off) = slot.checked_mul(SLOT_SIZE as u64).and_then(|o| o.checked_add(HEADER_SIZE as u64)) else {
            break;
        };
        let mut b = [0u8; SLOT_SIZE];
        if shm::read_at(&fd, &mut b, off, &name)? < SLOT_SIZE {
            break;
        }
        let mut di = [0u8; 8];
        di.copy_from_slice(&b[0..8]);
        let mut sz = [0u8; 4];
        sz.copy_from_slice(&b[8..12]);
        out.push(SlotSnapshot { slot, data_index: u64::from_le_bytes(di), size: u32::from_le_bytes(sz) });
    }
    Ok(out)
}

/// Reads `buf.len()` bytes at `offset` of the object (short at its end).
pub fn read_bytes(name: &str, offset: u64, buf: &mut [u8]) -> Result<usize> {
    let name = ShmName::new(name)?;
    let fd = shm::open_ro(&name)?;
    shm::read_at(&fd, buf, offset, &name)
}

/// The number of readers registered as asleep on the doorbell of the queue
/// `queue` (see `doorbell.rs`), read from its doorbell object
/// `<queue>.doorbell`: `Ok(None)` when there is no such object (no handle of
/// this crate has attached, or it was removed) or it is not a doorbell (no
/// [`crate::DOORBELL_MAGIC`]). A reader that died asleep
/// stays counted until a producer notices (DESIGN.md, "The doorbell").
pub fn sleeping_readers(queue: &str) -> Result<Option<u32>> {
    let queue = ShmName::new(queue)?;
    let Ok(bell) = ShmName::new(&crate::doorbell::doorbell_name(queue.bare())) else {
        return Ok(None); // no room for the suffix: such a queue has no doorbell
    };
    let fd = match shm::open_ro(&bell) {
        Ok(fd) => fd,
        Err(crate::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut magic = [0u8; 8];
    if shm::read_at(&fd, &mut magic, crate::doorbell::DOORBELL_MAGIC_OFFSET, &bell)? < 8
        || u64::from_ne_bytes(magic) != crate::doorbell::DOORBELL_MAGIC
    {
        return Ok(None); // not (yet) a doorbell: nobody sleeps on it
    }
    let mut b = [0u8; 4];
    if shm::read_at(&fd, &mut b, crate::doorbell::DOORBELL_WAITERS_OFFSET, &bell)? < 4 {
        return Ok(None);
    }
    Ok(Some(u32::from_ne_bytes(b)))
}
