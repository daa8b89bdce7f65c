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
//! * element bytes are copied through the data array viewed as a slice of
//!   naturally aligned `AtomicU64` words (the array starts 16-aligned in every
//!   layout), with relaxed loads and stores, clamped to the array. A record
//!   length a peer writes can shorten a copy but never move it outside the
//!   array, and a copy that races a producer (a lapped reader) is a race
//!   between same-size atomics: well defined, merely stale or torn data.
//!   Bytes that share a word with a neighbouring record are written with a
//!   compare-and-swap on that word, so concurrent producers of adjacent
//!   records never clobber each other's bytes, and no access is ever a
//!   mixed-size atomic access.
//!
//! Every `unsafe` block of the core crate is in this module (this file and
//! `mapping.rs`, the platform's shared mapping).

use std::ptr::NonNull;

use crate::layout::{Geometry, Slot};
use crate::sync::{AtomicU32, AtomicU64, CachePadded, Ordering};

cfg_shm! {
    mod mapping;
    pub(crate) use mapping::Mapping;
}
#[cfg(all(windows, not(loom)))]
pub(crate) use mapping::win;
#[cfg(all(target_os = "macos", not(loom)))]
pub(crate) use mapping::ReadView;

/// The reservation word and the last-published index of a local queue, each
/// on its own cache lines. (A shared segment keeps them in its header, where
/// the wire format puts them.)
struct LocalHeader {
    reserved: CachePadded<AtomicU64>,
    last_published: CachePadded<AtomicU64>,
}

/// Heap allocations of a local queue. Held as raw pointers (from
/// `Box::leak`) rather than `Box`es so that moving the `Region` never
/// invalidates the pointers derived from them.
struct LocalBlock {
    header: NonNull<LocalHeader>,
    slots: NonNull<[Slot]>,
    data: NonNull<[AtomicU64]>,
}

impl Drop for LocalBlock {
    fn drop(&mut self) {
        // SAFETY: the three pointers came from `Box::leak` in `Region::local`
        // and are released exactly once, here. No reference derived from them
        // outlives the `Region` that owns this block: every accessor borrows
        // `&self` of that `Region`.
        unsafe {
            drop(Box::from_raw(self.header.as_ptr()));
            drop(Box::from_raw(self.slots.as_ptr()));
            drop(Box::from_raw(self.data.as_ptr()));
        }
    }
}

enum Backing {
    Local(#[allow(dead_code)] LocalBlock),
    #[cfg(all(any(unix, windows), not(loom)))]
    Mapped(Mapping),
}

/// The memory of one queue: the reservation word, the last-published index,
/// the control slots and the data array.
pub(crate) struct Region {
    reserved: NonNull<AtomicU64>,
    last_published: NonNull<AtomicU64>,
    slots: NonNull<Slot>,
    slot_mask: usize,
    /// The data array as whole words (the last one may extend past
    /// `data_len`, inside the allocation or the mapped page).
    data: NonNull<[AtomicU64]>,
    data_len: usize,
    /// Owns the memory; dropping it frees or unmaps it.
    #[cfg_attr(loom, allow(dead_code))]
    backing: Backing,
}

// SAFETY: a `Region` owns its memory (a heap block or a mapping); every access
// through it goes through atomics (`&AtomicU64`, `&AtomicU32`), so sharing and
// sending it between threads cannot create a data race. The raw pointers are
// never handed out as references with a lifetime longer than `&self`.
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
            data,
            data_len: geometry.data_len(),
            backing: Backing::Local(block),
        }
    }

    /// Length in bytes of the mapping under a shared region (`None` for a
    /// local one).
    pub fn mapped_len(&self) -> Option<usize> {
        match &self.backing {
            #[cfg(all(any(unix, windows), not(loom)))]
            Backing::Mapped(m) => Some(m.len()),
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

    /// The data array as words.
    #[inline]
    fn words(&self) -> &[AtomicU64] {
        // SAFETY: `data` covers whole words inside the backing memory
        // (checked at construction), lives as long as `self`, and is only
        // ever accessed atomically.
        unsafe { self.data.as_ref() }
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
        let base = self.data.cast::<u8>();
        // SAFETY: `offset < data_len`, so the pointer stays inside the data
        // array (pointer arithmetic only; nothing is dereferenced here).
        Some((unsafe { base.add(offset) }, avail))
    }

    /// Data word `i` (bytes `8 i .. 8 i + 8`), or 0 past the end. The
    /// typed queues use it for 8-byte elements.
    #[inline]
    pub fn load_word(&self, i: usize) -> u64 {
        self.words().get(i).map_or(0, |w| w.load(Ordering::Relaxed))
    }

    /// Stores data word `i` (nothing past the end).
    #[inline]
    pub fn store_word(&self, i: usize, value: u64) {
        if let Some(w) = self.words().get(i) {
            w.store(value, Ordering::Relaxed);
        }
    }

    /// Copies `dst.len()` bytes from data byte `offset` (clamped to the data
    /// array) into `dst`; returns the number of bytes copied.
    #[inline]
    pub fn load_bytes(&self, offset: usize, dst: &mut [u8]) -> usize {
        let Some(avail) = self.data_len.checked_sub(offset) else {
            return 0;
        };
        let n = dst.len().min(avail);
        // Fast paths, small enough to inline: whole aligned words (an aligned
        // 8-byte element is one load). The rest is out of line.
        if offset % 8 == 0 && n % 8 == 0 {
            let words = self.words();
            if n == 8 {
                if let Some(w) = words.get(offset / 8) {
                    dst[..8].copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
                    return 8;
                }
            } else if let Some(src) = words.get(offset / 8..(offset + n) / 8) {
                for (d, w) in dst[..n].chunks_exact_mut(8).zip(src) {
                    d.copy_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
                }
                return n;
            }
        }
        self.load_bytes_slow(offset, &mut dst[..n])
    }

    /// `load_bytes` for `dst.len()` bytes at `offset`, already clamped to
    /// the data array, in any alignment.
    #[inline(never)]
    fn load_bytes_slow(&self, offset: usize, dst: &mut [u8]) -> usize {
        let n = dst.len();
        let words = self.words();
        let (mut w, mut skip, mut i) = (offset / 8, offset % 8, 0);
        while i < n {
            let bytes = words[w].load(Ordering::Relaxed).to_ne_bytes();
            let take = (8 - skip).min(n - i);
            dst[i..i + take].copy_from_slice(&bytes[skip..skip + take]);
            i += take;
            w += 1;
            skip = 0;
        }
        n
    }

    /// Copies `src` into data byte `offset` (clamped to the data array);
    /// returns the number of bytes copied. Whole words are stored; bytes that
    /// share a word with other data are merged in with a compare-and-swap.
    #[inline]
    pub fn store_bytes(&self, offset: usize, src: &[u8]) -> usize {
        let Some(avail) = self.data_len.checked_sub(offset) else {
            return 0;
        };
        let n = src.len().min(avail);
        // Fast paths, small enough to inline: whole aligned words (an aligned
        // 8-byte element is one store). The rest is out of line.
        if offset % 8 == 0 && n % 8 == 0 {
            let words = self.words();
            if n == 8 {
                if let Some(w) = words.get(offset / 8) {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&src[..8]);
                    w.store(u64::from_ne_bytes(b), Ordering::Relaxed);
                    return 8;
                }
            } else if let Some(dst) = words.get(offset / 8..(offset + n) / 8) {
                for (s, w) in src[..n].chunks_exact(8).zip(dst) {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(s);
                    w.store(u64::from_ne_bytes(b), Ordering::Relaxed);
                }
                return n;
            }
        }
        self.store_bytes_slow(offset, &src[..n])
    }

    /// `store_bytes` for `src.len()` bytes at `offset`, already clamped to
    /// the data array, in any alignment.
    #[inline(never)]
    fn store_bytes_slow(&self, offset: usize, src: &[u8]) -> usize {
        let n = src.len();
        let words = self.words();
        let (mut w, mut skip, mut i) = (offset / 8, offset % 8, 0);
        while i < n {
            let take = (8 - skip).min(n - i);
            let word = &words[w];
            if take == 8 {
                let mut b = [0u8; 8];
                b.copy_from_slice(&src[i..i + 8]);
                word.store(u64::from_ne_bytes(b), Ordering::Relaxed);
            } else {
                let mut cur = word.load(Ordering::Relaxed);
                loop {
                    let mut b = cur.to_ne_bytes();
                    b[skip..skip + take].copy_from_slice(&src[i..i + take]);
                    match word.compare_exchange_weak(cur, u64::from_ne_bytes(b), Ordering::Relaxed, Ordering::Relaxed) {
                        Ok(_) => break,
                        Err(actual) => cur = actual,
                    }
                }
            }
            i += take;
            w += 1;
            skip = 0;
        }
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
}

/// Offset of the futex word (the ring counter) in a doorbell's memory.
#[cfg_attr(any(loom, not(target_os = "linux")), allow(dead_code))]
pub(crate) const BELL_SEQ: usize = 0;
/// Offset of the waiter count in a doorbell's memory: on a cache-line pair
/// of its own, so producers' loads of it are not disturbed by rings.
pub(crate) const BELL_WAITERS: usize = 128;
/// Offset of the identification word of a doorbell object.
pub(crate) const BELL_MAGIC: usize = 8;
/// Offset of the count of exclusive producers attached (readers add an
/// asymmetric barrier before sleeping while it is non-zero; see
/// `doorbell.rs`): on a line of its own, written only when such a producer
/// attaches or detaches. Zero in doorbell objects made before it existed.
#[cfg_attr(any(loom, not(target_os = "linux")), allow(dead_code))]
pub(crate) const BELL_EXCLUSIVE: usize = 64;
/// Bytes of a doorbell's memory (local block or shared object).
pub(crate) const BELL_LEN: usize = 256;

/// The words of a doorbell (see `doorbell.rs`): the ring counter a
/// sleeper waits on, the count of registered sleepers and the count of
/// exclusive producers attached. In a heap block of
/// this process (local queues) or in a mapping of the doorbell's own
/// shared-memory object.
pub(crate) struct BellMemory {
    seq: NonNull<AtomicU32>,
    waiters: NonNull<AtomicU32>,
    exclusive: NonNull<AtomicU32>,
    #[allow(dead_code)]
    backing: BellBacking,
}

enum BellBacking {
    Local(#[allow(dead_code)] LocalBell),
    #[cfg(all(target_os = "linux", not(loom)))]
    Mapped(#[allow(dead_code)] Mapping),
}

struct BellLocal {
    seq: CachePadded<AtomicU32>,
    waiters: CachePadded<AtomicU32>,
    exclusive: CachePadded<AtomicU32>,
}

/// The heap block of a local doorbell, held as a raw pointer (from
/// `Box::leak`) so that moving it never invalidates the word pointers
/// derived from it (as `LocalBlock`).
struct LocalBell(NonNull<BellLocal>);

impl Drop for LocalBell {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `BellMemory::local`
        // and is released exactly once, here; no reference derived from it
        // outlives the `BellMemory` that owns this value (its accessors
        // borrow `&self`).
        unsafe { drop(Box::from_raw(self.0.as_ptr())) }
    }
}

// SAFETY: the pointers point into memory owned by `backing` (a leaked heap
// block freed only on drop, or a mapping), and are only ever used as shared
// references to atomics, so sending or sharing the value across threads
// cannot create a data race.
unsafe impl Send for BellMemory {}
// SAFETY: as for `Send`: all access is atomic.
unsafe impl Sync for BellMemory {}

impl BellMemory {
    /// Fresh words on the heap (a local queue's doorbell).
    pub fn local() -> BellMemory {
        let block = Box::new(BellLocal {
            seq: CachePadded(AtomicU32::new(0)),
            waiters: CachePadded(AtomicU32::new(0)),
            exclusive: CachePadded(AtomicU32::new(0)),
        });
        let block = NonNull::from(Box::leak(block));
        // SAFETY: `block` points to a live, leaked `BellLocal` owned by the
        // returned value, which frees it only when dropped.
        let (seq, waiters, exclusive) = unsafe {
            let b = block.as_ref();
            (NonNull::from(&*b.seq), NonNull::from(&*b.waiters), NonNull::from(&*b.exclusive))
        };
        BellMemory { seq, waiters, exclusive, backing: BellBacking::Local(LocalBell(block)) }
    }

    /// The words of a mapped doorbell object, if the mapping holds them
    /// (Linux: other platforms have no doorbell object).
    #[cfg(all(target_os = "linux", not(loom)))]
    pub fn shared(mapping: Mapping) -> Result<BellMemory, Mapping> {
        if mapping.len() != BELL_LEN {
            return Err(mapping);
        }
        // SAFETY: the mapping is BELL_LEN bytes long (checked above)
        // and page-aligned, so the three words (offsets 0, 128 and 64, 4
        // bytes each) lie inside it, naturally aligned. The memory is only
        // ever accessed through atomics.
        let (seq, waiters, exclusive) = unsafe {
            let b = mapping.ptr.as_ptr();
            (
                NonNull::new_unchecked(b.add(BELL_SEQ).cast::<AtomicU32>()),
                NonNull::new_unchecked(b.add(BELL_WAITERS).cast::<AtomicU32>()),
                NonNull::new_unchecked(b.add(BELL_EXCLUSIVE).cast::<AtomicU32>()),
            )
        };
        Ok(BellMemory { seq, waiters, exclusive, backing: BellBacking::Mapped(mapping) })
    }

    /// The ring counter (the futex word).
    #[inline]
    pub fn seq(&self) -> &AtomicU32 {
        // SAFETY: points into memory owned by `self.backing` (checked at
        // construction), naturally aligned, only ever accessed atomically.
        unsafe { self.seq.as_ref() }
    }

    /// The number of registered sleepers.
    #[inline]
    pub fn waiters(&self) -> &AtomicU32 {
        // SAFETY: as for `seq`.
        unsafe { self.waiters.as_ref() }
    }

    /// The number of exclusive producers attached.
    #[inline]
    pub fn exclusive(&self) -> &AtomicU32 {
        // SAFETY: as for `seq`.
        unsafe { self.exclusive.as_ref() }
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
    fn aligned_word_copies_take_the_fast_path_and_stay_clamped() {
        let g = Geometry::new(4, 8, 1).unwrap();
        let r = Region::local(&g);
        let src: Vec<u8> = (1..=32).collect();
        // one word, several words, the whole array, and past its end
        assert_eq!(r.store_bytes(8, &src[..8]), 8);
        assert_eq!(r.store_bytes(16, &src[8..24]), 16);
        let mut out = [0u8; 24];
        assert_eq!(r.load_bytes(8, &mut out), 24);
        assert_eq!(out[..], src[..24]);
        assert_eq!(r.store_bytes(24, &src[..16]), 8);
        let mut out = [0u8; 16];
        assert_eq!(r.load_bytes(24, &mut out), 8);
        assert_eq!(out[..8], src[..8]);
        assert_eq!(r.load_bytes(32, &mut out), 0);
        let mut word = [0u8; 8];
        assert_eq!(r.load_bytes(8, &mut word), 8);
        assert_eq!(word[..], src[..8]);
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
