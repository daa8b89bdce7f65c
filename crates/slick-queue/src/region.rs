//! The block of memory a ring runs on, and the only module that turns
//! addresses into references.
//!
//! A [`Region`] is either a heap block owned by this process (local mode) or
//! a shared mapping of a POSIX shared-memory object. Its bounds are checked
//! once, when it is built; after that every accessor is safe for *any*
//! argument:
//!
//! * control slots are indexed modulo the slot count (a power of two), so no
//!   index a peer writes into the segment can reach outside the control array;
//! * element bytes are copied with bounds-clamped, element-sized relaxed
//!   atomic accesses, so a record length a peer writes can shorten a copy but
//!   never move it outside the data array, and a copy that races a producer
//!   (a lapped reader) is a well-defined race between atomics, not undefined
//!   behaviour.
//!
//! Every `unsafe` block of the core crate is in this file.

use std::ptr::NonNull;

use crate::layout::{Geometry, ShmHeader, Slot};
use crate::sync::{AtomicU64, CachePadded, Ordering};

/// The reservation word and the last-published index of a local queue, each
/// on its own cache lines. (A shared segment keeps them in its header, where
/// the wire format puts them.)
struct LocalHeader {
    reserved: CachePadded<AtomicU64>,
    last_published: CachePadded<AtomicU64>,
}

/// Heap allocations of a local queue. Held as raw pointers (from
/// `Box::into_raw`) rather than `Box`es so that moving the `Region` never
/// invalidates the pointers derived from them.
struct LocalBlock {
    header: NonNull<LocalHeader>,
    slots: NonNull<[Slot]>,
    data: NonNull<[AtomicU64]>,
}

impl Drop for LocalBlock {
    fn drop(&mut self) {
        // SAFETY: the three pointers came from `Box::into_raw` in
        // `Region::local` and are released exactly once, here. No reference
        // derived from them outlives the `Region` that owns this block:
        // every accessor borrows `&self` of that `Region`.
        unsafe {
            drop(Box::from_raw(self.header.as_ptr()));
            drop(Box::from_raw(self.slots.as_ptr()));
            drop(Box::from_raw(self.data.as_ptr()));
        }
    }
}

enum Backing {
    Local(#[allow(dead_code)] LocalBlock),
    #[cfg(all(unix, not(loom)))]
    Mapped(Mapping),
}

/// The memory of one queue: the reservation word, the last-published index,
/// the control slots and the data array.
pub(crate) struct Region {
    reserved: NonNull<AtomicU64>,
    last_published: NonNull<AtomicU64>,
    slots: NonNull<Slot>,
    slot_mask: usize,
    data: NonNull<u8>,
    data_len: usize,
    #[cfg(loom)]
    data_words: NonNull<[AtomicU64]>,
    backing: Backing,
}

// SAFETY: a `Region` owns its memory (a heap block or a mapping); every access
// through it goes through atomics (`&AtomicU64`, `&AtomicU32`, or the relaxed
// atomic copies below), so sharing and sending it between threads cannot
// create a data race. The raw pointers are never handed out as references
// with a lifetime longer than `&self`.
unsafe impl Send for Region {}
// SAFETY: see `Send` above: all shared access is atomic.
unsafe impl Sync for Region {}

impl Region {
    /// A zeroed heap region for `geometry`, with fresh slots (empty, size 1),
    /// the reservation word at 0 and no last-published index.
    pub fn local(geometry: &Geometry) -> Region {
        let header = Box::new(LocalHeader {
            reserved: CachePadded(AtomicU64::new(0)),
            last_published: CachePadded(AtomicU64::new(crate::layout::EMPTY_INDEX)),
        });
        let slots: Box<[Slot]> = (0..geometry.slot_count()).map(|_| Slot::new()).collect();
        let words = geometry.data_len().div_ceil(8).max(1);
        let data: Box<[AtomicU64]> = (0..words).map(|_| AtomicU64::new(0)).collect();

        let header = NonNull::from(Box::leak(header));
        let slots = NonNull::from(Box::leak(slots));
        let data = NonNull::from(Box::leak(data));
        let block = LocalBlock { header, slots, data };
        // SAFETY: `header` points to a live, leaked `LocalHeader` owned by
        // `block`, which the returned `Region` keeps until it is dropped.
        let (reserved, last_published) = unsafe {
            let h = header.as_ref();
            (NonNull::from(&*h.reserved), NonNull::from(&*h.last_published))
        };
        Region {
            reserved,
            last_published,
            slots: slots.cast::<Slot>(),
            slot_mask: geometry.slot_count() as usize - 1,
            data: data.cast::<u8>(),
            data_len: geometry.data_len(),
            #[cfg(loom)]
            data_words: data,
            backing: Backing::Local(block),
        }
    }

    /// A region over a mapped segment, if the mapping is long enough for the
    /// geometry; otherwise the mapping is handed back.
    #[cfg(all(unix, not(loom)))]
    pub fn shared(mapping: Mapping, geometry: &Geometry) -> Result<Region, Mapping> {
        if mapping.len() < geometry.segment_len() || mapping.len() < crate::layout::HEADER_SIZE {
            return Err(mapping);
        }
        let base = mapping.ptr;
        // SAFETY: the mapping is at least `segment_len()` bytes long (checked
        // above), and `segment_len() = data_offset() + data_len()` with
        // `data_offset() >= HEADER_SIZE + SLOT_SIZE * slot_count`, so the
        // header, the control array and the data array all lie inside it. The
        // base is page-aligned, so the 8-byte atomics at offsets 0, 16 and 64 +
        // 16 * i are naturally aligned.
        let (reserved, last_published, slots, data) = unsafe {
            let b = base.as_ptr();
            (
                NonNull::new_unchecked(b.add(crate::layout::offset::RESERVED).cast::<AtomicU64>()),
                NonNull::new_unchecked(b.add(crate::layout::offset::LAST_PUBLISHED).cast::<AtomicU64>()),
                NonNull::new_unchecked(b.add(crate::layout::offset::CONTROL).cast::<Slot>()),
                NonNull::new_unchecked(b.add(geometry.data_offset())),
            )
        };
        Ok(Region {
            reserved,
            last_published,
            slots,
            slot_mask: geometry.slot_count() as usize - 1,
            data,
            data_len: geometry.data_len(),
            backing: Backing::Mapped(mapping),
        })
    }

    /// The mapping under a shared region.
    #[cfg(all(unix, not(loom)))]
    pub fn mapping(&self) -> Option<&Mapping> {
        match &self.backing {
            Backing::Mapped(m) => Some(m),
            Backing::Local(_) => None,
        }
    }

    /// The reservation word (header offset 0 in a segment).
    #[inline]
    pub fn reserved(&self) -> &AtomicU64 {
        // SAFETY: points into memory owned by `self.backing` (checked at
        // construction), naturally aligned, and only ever accessed atomically.
        unsafe { self.reserved.as_ref() }
    }

    /// The last published index (header offset 16 in a segment).
    #[inline]
    pub fn last_published(&self) -> &AtomicU64 {
        // SAFETY: as for `reserved`.
        unsafe { self.last_published.as_ref() }
    }

    /// Control slot `i`, taken modulo the slot count: any `i` is in bounds.
    #[inline]
    pub fn slot(&self, i: usize) -> &Slot {
        let i = i & self.slot_mask;
        // SAFETY: `i <= slot_mask = slot_count - 1`, and the control array of
        // `slot_count` 16-byte, 8-aligned slots lies inside the backing memory
        // (checked at construction). Slots hold only atomics.
        unsafe { &*self.slots.as_ptr().add(i) }
    }

    /// Number of control slots.
    #[inline]
    pub fn slot_count(&self) -> usize {
        self.slot_mask + 1
    }

    /// Bytes in the data array.
    #[inline]
    pub fn data_len(&self) -> usize {
        self.data_len
    }

    /// A pointer to byte `offset` of the data array and the number of bytes
    /// after it, or `None` past the end. For zero-copy users (the Python
    /// binding's `memoryview`, the raw element pointers of the queue types):
    /// dereferencing it is the caller's `unsafe` business.
    pub fn data_ptr(&self, offset: usize) -> Option<(NonNull<u8>, usize)> {
        let avail = self.data_len.checked_sub(offset)?;
        if avail == 0 {
            return None;
        }
        // SAFETY: `offset < data_len`, so the pointer stays inside the data
        // array (pointer arithmetic only; nothing is dereferenced here).
        Some((unsafe { NonNull::new_unchecked(self.data.as_ptr().add(offset)) }, avail))
    }

    /// Copies `dst.len()` bytes from data byte `offset` (clamped to the data
    /// array) into `dst`; returns the number of bytes copied.
    #[inline]
    pub fn load_bytes(&self, offset: usize, dst: &mut [u8]) -> usize {
        let Some(avail) = self.data_len.checked_sub(offset) else {
            return 0;
        };
        let n = dst.len().min(avail);
        #[cfg(not(loom))]
        // SAFETY: `[offset, offset + n)` lies inside the data array (clamped
        // above), which is live for as long as `self`.
        unsafe {
            atomic_load_bytes(self.data.as_ptr().add(offset), &mut dst[..n])
        };
        #[cfg(loom)]
        self.loom_words(offset, n, |w, range| dst[range].copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes()));
        n
    }

    /// Copies `src` into data byte `offset` (clamped to the data array);
    /// returns the number of bytes copied.
    #[inline]
    pub fn store_bytes(&self, offset: usize, src: &[u8]) -> usize {
        let Some(avail) = self.data_len.checked_sub(offset) else {
            return 0;
        };
        let n = src.len().min(avail);
        #[cfg(not(loom))]
        // SAFETY: as in `load_bytes`.
        unsafe {
            atomic_store_bytes(self.data.as_ptr().add(offset), &src[..n])
        };
        #[cfg(loom)]
        self.loom_words(offset, n, |w, range| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&src[range]);
            w.store(u64::from_ne_bytes(b), Ordering::Relaxed)
        });
        n
    }

    /// Fills `len` bytes from data byte `offset` (clamped) with zeros.
    pub fn zero_bytes(&self, offset: usize, len: usize) {
        const ZEROS: [u8; 64] = [0; 64];
        let mut done = 0;
        while done < len {
            let chunk = (len - done).min(ZEROS.len());
            if self.store_bytes(offset + done, &ZEROS[..chunk]) < chunk {
                break;
            }
            done += chunk;
        }
    }

    /// Under loom the data array is a slice of loom atomics, copied a whole
    /// word at a time (loom tests use 8-byte elements).
    #[cfg(loom)]
    fn loom_words(&self, offset: usize, n: usize, mut f: impl FnMut(&AtomicU64, std::ops::Range<usize>)) {
        assert!(offset % 8 == 0 && n % 8 == 0, "loom models use whole 8-byte words");
        // SAFETY: `data_words` is the live slice owned by the local block.
        let words = unsafe { self.data_words.as_ref() };
        for k in 0..n / 8 {
            f(&words[offset / 8 + k], k * 8..k * 8 + 8);
        }
    }
}

/// Copies bytes out of memory that other threads or processes may be writing,
/// with relaxed atomic loads: bytes up to the first 8-byte boundary, then
/// whole aligned words, then the tail.
///
/// # Safety
/// `src..src + dst.len()` must be valid for reads for the duration of the call.
#[cfg(not(loom))]
#[inline]
unsafe fn atomic_load_bytes(src: *const u8, dst: &mut [u8]) {
    use std::sync::atomic::AtomicU8;
    let len = dst.len();
    let head = src.align_offset(8).min(len);
    let mut i = 0;
    while i < head {
        // SAFETY: `src + i` is inside the valid range (i < len); a byte is
        // always aligned for `AtomicU8`.
        dst[i] = unsafe { (*src.add(i).cast::<AtomicU8>()).load(Ordering::Relaxed) };
        i += 1;
    }
    while i + 8 <= len {
        // SAFETY: `src + i` is 8-aligned (past the head) and the 8 bytes from
        // it are inside the valid range.
        let w = unsafe { (*src.add(i).cast::<AtomicU64>()).load(Ordering::Relaxed) };
        dst[i..i + 8].copy_from_slice(&w.to_ne_bytes());
        i += 8;
    }
    while i < len {
        // SAFETY: as for the head bytes.
        dst[i] = unsafe { (*src.add(i).cast::<AtomicU8>()).load(Ordering::Relaxed) };
        i += 1;
    }
}

/// The store counterpart of [`atomic_load_bytes`].
///
/// # Safety
/// `dst..dst + src.len()` must be valid for writes for the duration of the call.
#[cfg(not(loom))]
#[inline]
unsafe fn atomic_store_bytes(dst: *mut u8, src: &[u8]) {
    use std::sync::atomic::AtomicU8;
    let len = src.len();
    let head = dst.align_offset(8).min(len);
    let mut i = 0;
    while i < head {
        // SAFETY: `dst + i` is inside the valid range; bytes are always aligned.
        unsafe { (*dst.add(i).cast::<AtomicU8>()).store(src[i], Ordering::Relaxed) };
        i += 1;
    }
    while i + 8 <= len {
        let mut b = [0u8; 8];
        b.copy_from_slice(&src[i..i + 8]);
        // SAFETY: `dst + i` is 8-aligned and the 8 bytes are in range.
        unsafe { (*dst.add(i).cast::<AtomicU64>()).store(u64::from_ne_bytes(b), Ordering::Relaxed) };
        i += 8;
    }
    while i < len {
        // SAFETY: as for the head bytes.
        unsafe { (*dst.add(i).cast::<AtomicU8>()).store(src[i], Ordering::Relaxed) };
        i += 1;
    }
}

/// A read-write shared mapping of a whole shared-memory object.
#[cfg(all(unix, not(loom)))]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; all access through it is atomic
// (see `Region`), and unmapping happens once, in `Drop`.
#[cfg(all(unix, not(loom)))]
unsafe impl Send for Mapping {}
// SAFETY: as above.
#[cfg(all(unix, not(loom)))]
unsafe impl Sync for Mapping {}

#[cfg(all(unix, not(loom)))]
impl Mapping {
    /// Maps `len` bytes (the object's length, `len > 0`) of `fd` read-write,
    /// shared.
    pub fn map(fd: std::os::fd::BorrowedFd<'_>, len: usize) -> std::io::Result<Mapping> {
        use rustix::mm::{MapFlags, ProtFlags};
        if len == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
        }
        // SAFETY: a fresh mapping chosen by the kernel (null hint) cannot
        // overlap any Rust object; the result is owned by the returned value
        // and unmapped exactly once in `Drop`.
        let ptr = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, fd, 0)?
        };
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::Other))?;
        Ok(Mapping { ptr, len })
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// The segment header, if the mapping is long enough to hold one.
    pub fn header(&self) -> Option<&ShmHeader> {
        if self.len < crate::layout::HEADER_SIZE {
            return None;
        }
        // SAFETY: the mapping holds at least 64 bytes and is page-aligned;
        // `ShmHeader` is 64 bytes of atomics with alignment 8.
        Some(unsafe { &*self.ptr.as_ptr().cast::<ShmHeader>() })
    }

    /// The control slot `i` of a segment with `slot_count` slots, if the
    /// mapping covers it (used while initializing, before a `Region` exists).
    pub fn slot(&self, i: usize) -> Option<&Slot> {
        let end = crate::layout::HEADER_SIZE.checked_add(i.checked_add(1)?.checked_mul(crate::layout::SLOT_SIZE)?)?;
        if end > self.len {
            return None;
        }
        // SAFETY: slot `i` ends within the mapping (checked above) and is
        // 8-aligned (64 + 16 * i from a page-aligned base).
        Some(unsafe { &*self.ptr.as_ptr().add(crate::layout::HEADER_SIZE).cast::<Slot>().add(i) })
    }

    /// The 8-byte word at offset 0 (a shared work-stealing cursor object).
    pub fn word0(&self) -> Option<&AtomicU64> {
        if self.len < 8 {
            return None;
        }
        // SAFETY: 8 bytes at the page-aligned start of the mapping.
        Some(unsafe { &*self.ptr.as_ptr().cast::<AtomicU64>() })
    }
}

#[cfg(all(unix, not(loom)))]
impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe the mapping made in `map`, unmapped
        // only here; no reference into it outlives `self` (all accessors
        // borrow `&self`). A failure leaves the mapping in place, which is a
        // leak, not unsoundness.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_clamped_to_the_data_array() {
        let g = Geometry::new(4, 3, 1).unwrap();
        let r = Region::local(&g);
        assert_eq!(r.data_len(), 12);
        assert_eq!(r.store_bytes(10, &[1, 2, 3, 4]), 2);
        let mut out = [9u8; 4];
        assert_eq!(r.load_bytes(10, &mut out), 2);
        assert_eq!(out, [1, 2, 9, 9]);
        assert_eq!(r.load_bytes(12, &mut out), 0);
        assert_eq!(r.load_bytes(usize::MAX, &mut out), 0);
        assert_eq!(r.store_bytes(usize::MAX, &out), 0);
        assert!(r.data_ptr(12).is_none());
        assert_eq!(r.data_ptr(11).map(|(_, n)| n), Some(1));
    }

    #[test]
    fn unaligned_copies_round_trip() {
        let g = Geometry::new(8, 7, 1).unwrap();
        let r = Region::local(&g);
        let src: Vec<u8> = (0..40u8).collect();
        for off in 0..9 {
            r.zero_bytes(0, 56);
            assert_eq!(r.store_bytes(off, &src[..23]), 23);
            let mut out = vec![0u8; 23];
            r.load_bytes(off, &mut out);
            assert_eq!(out, &src[..23]);
        }
    }

    #[test]
    fn slot_indices_wrap_modulo_the_slot_count() {
        let g = Geometry::new(8, 8, 2).unwrap();
        let r = Region::local(&g);
        assert_eq!(r.slot_count(), 4);
        assert!(std::ptr::eq(r.slot(1), r.slot(5)));
        assert!(std::ptr::eq(r.slot(3), r.slot(usize::MAX)));
    }
}
