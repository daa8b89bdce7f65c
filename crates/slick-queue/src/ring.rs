//! The ring algorithm: reserve, publish, read with a private or a shared
//! cursor, read_last, reset and loss counting, over a [`Region`].
//!
//! This is `docs/spec/WIRE_FORMAT.md` section 4, step for step; every peer (C++, Python,
//! this crate) runs the same steps on the same words, so the orderings below
//! are the contract, not an implementation detail.
//!
//! # Memory ordering
//!
//! * **publish -> read.** A producer writes the record's bytes and the slot's
//!   `size`, then stores the slot's `data_index` with `Release`. A reader
//!   loads `data_index` with `Acquire`; when it sees the producer's index, the
//!   bytes and the size written before that store are visible to it. This
//!   pair is the only thing that makes record contents visible, and it is all
//!   the single-producer/single-consumer case needs.
//! * **Reservation word `R`.** Producers serialize on `R` with atomic
//!   read-modify-writes (a CAS loop, or `fetch_add` for single elements);
//!   atomicity alone gives each producer a disjoint index range. `AcqRel` on
//!   success additionally orders a producer's wrap-marker writes after the
//!   reservation that justified them. A `Release` fence after every
//!   reservation orders it before the record's data stores: that is what lets
//!   [`Ring::is_overwritten`] detect a lapping producer (a reader that copied
//!   a byte written by a producer with a later reservation sees, after an
//!   `Acquire` fence, that reservation in `R`). The exclusive producer
//!   (one producer, promised by the caller) replaces the read-modify-writes
//!   with a load and a store; why that keeps these orderings is in
//!   `ring/producer.rs`.
//! * **The size re-check.** After loading `size`, a reader reloads
//!   `data_index` (`Acquire` on `size` keeps the reload after it); if the
//!   index changed, the slot was recycled between the two loads and the read
//!   retries. As the peers document, this cannot catch a size written by a
//!   lapping producer whose index store is not yet visible; such a record was
//!   lapped anyway, so `is_overwritten()` reports it, and the length is
//!   clamped to the ring so it can never leave the data array.
//! * **Shared cursor.** Consumers claim a record with a CAS on the cursor from
//!   the value they loaded to the record's end. Exactly-once delivery follows
//!   from the CAS alone (two consumers cannot both move the cursor from the
//!   same value); the record's contents are made visible by the slot's
//!   `Acquire` load as above. `AcqRel` on the cursor costs nothing on x86-64.
//! * **last_published.** A CAS-max with `Release`, read with `Acquire` by
//!   `read_last()`, which then validates the slot like any read.
//!
//! # Untrusted values
//!
//! Indices, sizes and cursors are read from memory other processes write.
//! They are only ever used masked (slot and element positions), or in
//! wrapping arithmetic, and a record length is clamped to the end of the ring
//! (a length of 0 becomes 1); each clamp is counted in
//! [`Ring::corrupt_count`]. Read loops are bounded, so a peer rewriting words
//! in a tight loop cannot trap a reader: after [`MAX_READ_STEPS`] attempts a
//! read reports "nothing available" and may be called again.

use crate::doorbell::Doorbell;
use crate::error::{Error, Result};
use crate::layout::{pack_reserved, reserved_index, reserved_size, Geometry, EMPTY_INDEX};
use crate::options::Options;
use crate::region::Region;
use crate::sync::{cpu_relax, fence, light_barrier, seqcst_point, AtomicU64, CachePadded, Ordering};

mod producer;

/// The 48 bits of an element index the reservation word holds (indices
/// are compared modulo 2^48).
const INDEX_MASK: u64 = (1 << 48) - 1;

/// Upper bound on the retries of one read call (wrap jumps, recycled slots,
/// lost cursor races). Far above anything a real workload needs in one call.
pub(crate) const MAX_READ_STEPS: u32 = 1024;

/// A record located by a read: its element index and its length in elements
/// (already clamped to the ring).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    pub index: u64,
    pub len: u32,
}

pub(crate) struct Ring {
    region: Region,
    size: u64,
    mask: u64,
    ips_mask: u64,
    shift: u32,
    element_size: usize,
    read_last: bool,
    reset_check: bool,
    loss_detection: bool,
    /// The exclusive producer (see `producer.rs`).
    exclusive: bool,
    cpu_relax: bool,
    /// This handle's counters, in an allocation of their own: a `Ring`
    /// holds no interior mutability inline, so the compiler may keep its
    /// fields (mask, size, pointers) in registers across the atomic stores
    /// of the hot path.
    counters: Box<Counters>,
    /// The doorbell producers ring for sleeping readers (see `doorbell.rs`);
    /// a disabled stand-in when the handle has none (never registered on,
    /// so the publish path's check needs no `Option` test).
    bell: Doorbell,
    /// The longest sleep of a waiting reader (`Options::poll_interval`).
    poll_interval: std::time::Duration,
}

/// Per-handle event counters (not shared through the segment).
struct Counters {
    loss: CachePadded<AtomicU64>,
    corrupt: AtomicU64,
    overrun: AtomicU64,
}

impl Ring {
    pub fn new(region: Region, geometry: &Geometry, options: &Options, bell: Option<Doorbell>) -> Ring {
        let size = u64::from(geometry.size());
        let ips = u64::from(geometry.items_per_slot());
        Ring {
            region,
            size,
            mask: size - 1,
            ips_mask: ips - 1,
            shift: ips.trailing_zeros(),
            element_size: geometry.element_size() as usize,
            read_last: options.read_last,
            reset_check: options.reset_check,
            loss_detection: options.loss_detection,
            exclusive: options.exclusive_producer,
            cpu_relax: options.cpu_relax,
            counters: Box::new(Counters {
                loss: CachePadded(AtomicU64::new(0)),
                corrupt: AtomicU64::new(0),
                overrun: AtomicU64::new(0),
            }),
            bell: {
                let mut bell = bell.unwrap_or_else(Doorbell::disabled);
                if options.exclusive_producer {
                    bell.claim_exclusive_producer();
                }
                bell
            },
            poll_interval: options.poll_interval,
        }
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The longest sleep of a waiting reader.
    pub fn poll_interval(&self) -> std::time::Duration {
        self.poll_interval
    }

    /// The doorbell, if this handle has one.
    pub fn bell(&self) -> Option<&Doorbell> {
        self.bell.enabled().then_some(&self.bell)
    }

    pub fn element_size(&self) -> usize {
        self.element_size
    }

    /// `n` rounded up to a whole number of slots' worth of elements.
    #[inline]
    fn need(&self, n: u64) -> u64 {
        (n + self.ips_mask) & !self.ips_mask
    }

    #[cold]
    fn reserve_error(&self, n: u32) -> Error {
        if n == 0 {
            Error::ZeroElements
        } else {
            Error::TooManyElements { n: u64::from(n), size: self.size as u32 }
        }
    }

    #[cold]
    fn publish_error(&self, pos: u64, n: u32) -> Error {
        if n == 0 {
            Error::ZeroElements
        } else {
            Error::OutOfRange { position: pos, len: u64::from(n), size: self.size as u32 }
        }
    }

    /// The control slot that covers ring position `pos`.
    #[inline]
    fn slot_of(&self, pos: u64) -> &crate::layout::Slot {
        self.region.slot((pos >> self.shift) as usize)
    }

    /// Clamps a record length read from a slot to `[1, size - pos]`; the
    /// second value says whether it had to.
    #[inline]
    fn clamp(&self, pos: u64, n: u32) -> (u32, bool) {
        let room = self.size - pos;
        if n == 0 {
            (1, true)
        } else if u64::from(n) > room {
            (room as u32, true)
        } else {
            (n, false)
        }
    }

    /// Reserves `n` contiguous elements and returns the index of the first.
    /// Multi-producer safe. Never splits a record across the end of the ring:
    /// if it would, the rest of the lap is skipped and a wrap marker left for
    /// readers.
    ///
    /// Only the one-element reservation of a ring without `items_per_slot`
    /// is inline (a capacity is at least 1, so `n == 1` needs no check);
    /// everything else is a call. Keeping this function that small is what
    /// lets it inline into the caller's loop: as one function, the compiler
    /// kept it out of line and returned the `Result` through memory, a
    /// measurable part of the one-thread step (benchmark run g).
    #[inline(always)]
    pub fn reserve(&self, n: u32) -> Result<u64> {
        if n == 1 && self.shift == 0 {
            return Ok(if self.exclusive { self.reserve_one_exclusive() } else { self.reserve_one() });
        }
        self.reserve_any(n)
    }

    /// `reserve(1)` on the default path, one element per slot.
    #[inline(always)]
    fn reserve_one(&self) -> u64 {
        let r = self.region.reserved();
        // The C++ peer's fast path: one element never needs a wrap.
        // SeqCst (same instruction as AcqRel): P1 of the doorbell
        // handshake, see doorbell.rs.
        let prev = r.fetch_add(1 << 16, Ordering::SeqCst);
        seqcst_point();
        if reserved_size(prev) != 1 {
            self.reserve_one_fix_size(prev);
        }
        fence(Ordering::Release);
        reserved_index(prev)
    }

    /// Records the size of the last reservation (only legacy read_last
    /// readers use it); losing this race is harmless.
    #[cold]
    fn reserve_one_fix_size(&self, prev: u64) {
        let bumped = prev.wrapping_add(1 << 16);
        let _ = self.region.reserved().compare_exchange(
            bumped,
            pack_reserved(reserved_index(bumped), 1),
            Ordering::Release,
            Ordering::Relaxed,
        );
    }

    /// `reserve` for everything but one element on the default path:
    /// records of several elements (a CAS loop that may leave a wrap
    /// marker), `items_per_slot` > 1, the exclusive producer.
    #[inline]
    fn reserve_any(&self, n: u32) -> Result<u64> {
        // One compare for both errors: n - 1 wraps to u64::MAX for n == 0.
        if u64::from(n).wrapping_sub(1) >= self.size {
            return Err(self.reserve_error(n));
        }
        if self.exclusive {
            return Ok(self.reserve_exclusive(n));
        }
        let r = self.region.reserved();
        let need = self.need(u64::from(n));
        let mut cur = r.load(Ordering::Relaxed);
        loop {
            let old = reserved_index(cur);
            let pos = old & self.mask;
            let (index, wrapped) = if pos + need > self.size { (old + (self.size - pos), true) } else { (old, false) };
            // SeqCst on success (same instruction as AcqRel): P1 of the
            // doorbell handshake, see doorbell.rs.
            match r.compare_exchange_weak(cur, pack_reserved(index + need, n), Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => {
                    seqcst_point();
                    if wrapped {
                        // The wrap marker: readers at `old` jump to `index`.
                        let s = self.slot_of(pos);
                        s.size.store(n, Ordering::Relaxed);
                        s.data_index.store(index, Ordering::Release);
                    }
                    fence(Ordering::Release);
                    return Ok(index);
                }
                Err(actual) => {
                    cur = actual;
                    if self.cpu_relax {
                        cpu_relax();
                    }
                }
            }
        }
    }

    /// Publishes the `n` elements reserved at `index`.
    #[inline]
    pub fn publish(&self, index: u64, n: u32) -> Result<()> {
        let pos = index & self.mask;
        if u64::from(n).wrapping_sub(1) >= self.size - pos {
            return Err(self.publish_error(pos, n));
        }
        let s = self.slot_of(pos);
        s.size.store(n, Ordering::Relaxed);
        s.data_index.store(index, Ordering::Release);
        self.published_up_to(index);
        Ok(())
    }

    /// What every publish does once its slots are stored: the last
    /// published index moves to `last` (with `read_last`), then P2 of the
    /// doorbell handshake, one load and a ring only for sleepers. The
    /// exclusive producer's publish took no locked instruction: the light
    /// side of the asymmetric barrier orders it before P2 (see doorbell.rs,
    /// "The exclusive producer"; no instruction at run time).
    #[inline(always)]
    fn published_up_to(&self, last: u64) {
        if self.read_last {
            if self.exclusive {
                self.store_last_published_exclusive(last);
            } else {
                self.raise_last_published(last);
            }
        }
        if self.exclusive {
            light_barrier();
        }
        self.bell.after_publish();
    }

    /// Publishes `k` one-element records at `index`, `index + 1`, ...
    /// `index + k - 1` (one reservation of `k` elements), in order, then
    /// moves the last published index once, to the last of them. Each slot
    /// store is the one `publish(index + i, 1)` makes, with the same release
    /// ordering (a reader that sees record `i` sees its bytes); only the
    /// `k - 1` intermediate updates of the last published index are left
    /// out, which a reader of it cannot tell from a publisher that was
    /// merely slower. Needs one control slot per element (items_per_slot 1:
    /// `OutOfRange` otherwise, nothing published).
    pub fn publish_each(&self, index: u64, k: u32) -> Result<()> {
        let pos = index & self.mask;
        if self.shift != 0 || u64::from(k).wrapping_sub(1) >= self.size - pos {
            return Err(self.publish_error(pos, k));
        }
        for i in 0..u64::from(k) {
            let s = self.slot_of(pos + i);
            s.size.store(1, Ordering::Relaxed);
            s.data_index.store(index + i, Ordering::Release);
        }
        // The reservation of these records was P1 of the handshake.
        self.published_up_to(index + u64::from(k) - 1);
        Ok(())
    }

    /// Raises `last_published` to `index` unless it is already at or past
    /// it: a CAS-max (several producers publish out of order), treating
    /// `EMPTY_INDEX` as none.
    #[inline]
    fn raise_last_published(&self, index: u64) {
        let lp = self.region.last_published();
        let mut cur = lp.load(Ordering::Relaxed);
        while cur == EMPTY_INDEX || cur < index {
            match lp.compare_exchange_weak(cur, index, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Whether the reservation word is past `pos` (modulo 2^48): a record
    /// at or after `pos` is reserved, published or about to be. A `SeqCst`
    /// load: W2 of the doorbell handshake (see doorbell.rs).
    pub fn reserved_past(&self, pos: u64) -> bool {
        let r = reserved_index(self.region.reserved().load(Ordering::SeqCst));
        let ahead = r.wrapping_sub(pos) & INDEX_MASK;
        ahead != 0 && ahead < (1 << 47)
    }

    /// Whether the slot at `pos` holds something a reader at `pos` would
    /// act on (a record there, a later one, or a wrap marker): a check
    /// without side effects, for waits.
    pub fn has_new(&self, pos: u64) -> bool {
        let d = self.slot_of(pos & self.mask).data_index.load(Ordering::Acquire);
        d != EMPTY_INDEX && d >= pos
    }

    #[inline]
    fn reserved_index(&self) -> u64 {
        reserved_index(self.region.reserved().load(Ordering::Relaxed))
    }

    #[inline]
    fn count_loss(&self, lost: u64) {
        if lost != 0 && self.loss_detection {
            self.counters.loss.fetch_add(lost, Ordering::Relaxed);
        }
    }

    /// Elements a reader at `cur` (ring position `pos`) skips when it follows
    /// a wrap marker pointing at `d`. A marker written in the reader's own
    /// lap points at the start of the next lap, `cur + size - pos`: nothing
    /// is lost (the rest of the lap was never used). A marker written by a
    /// later lap (the reader was lapped while it waited at the wrap
    /// position) points further: every lap in between is lost.
    #[inline]
    fn marker_loss(&self, cur: u64, pos: u64, d: u64) -> u64 {
        cur.checked_add(self.size - pos).map_or(0, |next_lap| d.saturating_sub(next_lap))
    }

    #[inline]
    fn count_corrupt(&self, corrupt: bool) {
        if corrupt {
            self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A slot names an index a reader would jump to (a later lap at the
    /// same position, or a wrap marker) beyond the wire format's 48-bit
    /// index space, which no producer ever reserves. Following it is how a
    /// cursor gets near 2^64, wraps to 0 and reads the same slots again for
    /// ever (a static segment whose indices were scribbled over); refusing
    /// it keeps every jump inside the index space, so drain loops end. The
    /// read reports nothing new; counted in `corrupt_count()`. Always true
    /// (it reads as the condition that ends the read).
    #[cold]
    #[inline(never)]
    fn corrupt_jump(&self) -> bool {
        self.count_corrupt(true);
        true
    }

    /// Reads the next record at a private cursor (broadcast: every cursor
    /// sees every record) and advances the cursor past it.
    ///
    /// The two common cases are handled inline: the record at the cursor is
    /// published (the slot names the cursor itself, with a sane size), or
    /// nothing new is there. Everything else (wrap markers, lapping, a
    /// recycled slot, a corrupt size, reset detection) takes `read_slow`,
    /// which runs the full loop of `docs/spec/WIRE_FORMAT.md` section 4 from the start.
    #[inline]
    pub fn read(&self, cursor: &mut u64) -> Option<Found> {
        if !self.reset_check {
            let cur = *cursor;
            let pos = cur & self.mask;
            let slot = self.slot_of(pos);
            let d = slot.data_index.load(Ordering::Acquire);
            if d == cur {
                let n = slot.size.load(Ordering::Acquire);
                if slot.data_index.load(Ordering::Acquire) == cur && u64::from(n).wrapping_sub(1) < self.size - pos {
                    *cursor = cur.wrapping_add(self.need(u64::from(n)));
                    return Some(Found { index: cur, len: n });
                }
            } else if d == EMPTY_INDEX || d < cur {
                return None; // nothing new
            }
        }
        self.read_slow(cursor)
    }

    /// The whole read loop (see `read`).
    #[inline(never)]
    fn read_slow(&self, cursor: &mut u64) -> Option<Found> {
        let mut cur = *cursor;
        let mut found = None;
        for _ in 0..MAX_READ_STEPS {
            if self.reset_check && cur > self.reserved_index() {
                cur = 0; // the queue was reset under this cursor
                continue;
            }
            let pos = cur & self.mask;
            let slot = self.slot_of(pos);
            let d = slot.data_index.load(Ordering::Acquire);
            if d == EMPTY_INDEX || d < cur {
                break; // nothing new
            }
            if d != cur && d > INDEX_MASK && self.corrupt_jump() {
                break; // a corrupt index: nothing new, the cursor stays
            }
            if d != cur && d & self.mask != pos {
                // Wrap marker: the next record starts a lap later. A marker
                // left by a later lap skips whole laps: count them.
                self.count_loss(self.marker_loss(cur, pos, d));
                cur = d;
                continue;
            }
            let n = slot.size.load(Ordering::Acquire);
            if slot.data_index.load(Ordering::Acquire) != d {
                continue; // recycled between the loads
            }
            let (len, corrupt) = self.clamp(pos, n);
            let next = d.wrapping_add(self.need(u64::from(len)));
            if next < d {
                // The record's end wraps the 64-bit cursor back to the
                // start (only a cursor set beyond the index space can get
                // here): corrupt, nothing new.
                self.count_corrupt(true);
                break;
            }
            // d > cur at the same position: producers lapped this reader.
            self.count_loss(d - cur);
            self.count_corrupt(corrupt);
            cur = next;
            found = Some(Found { index: d, len });
            break;
        }
        *cursor = cur;
        found
    }

    /// Claims the next record at a cursor shared by several consumers (work
    /// stealing: each record goes to exactly one of them).
    #[inline]
    pub fn read_shared(&self, cursor: &AtomicU64) -> Option<Found> {
        for _ in 0..MAX_READ_STEPS {
            let cur = cursor.load(Ordering::Acquire);
            if self.reset_check && cur > self.reserved_index() {
                // Rewind with a CAS, never a blind store: another consumer may
                // already have moved the cursor on.
                let _ = cursor.compare_exchange(cur, 0, Ordering::AcqRel, Ordering::Relaxed);
                continue;
            }
            let pos = cur & self.mask;
            let slot = self.slot_of(pos);
            let d = slot.data_index.load(Ordering::Acquire);
            if d == EMPTY_INDEX || d < cur {
                return None;
            }
            if d != cur && d > INDEX_MASK && self.corrupt_jump() {
                return None; // a corrupt index: nothing new
            }
            if d != cur && d & self.mask != pos {
                // Wrap marker; whoever moves the cursor counts skipped laps.
                if cursor.compare_exchange(cur, d, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    self.count_loss(self.marker_loss(cur, pos, d));
                }
                continue;
            }
            let n = slot.size.load(Ordering::Acquire);
            if slot.data_index.load(Ordering::Acquire) != d {
                continue;
            }
            let (len, corrupt) = self.clamp(pos, n);
            let next = d.wrapping_add(self.need(u64::from(len)));
            if cursor.compare_exchange(cur, next, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                self.count_loss(d - cur);
                self.count_corrupt(corrupt);
                return Some(Found { index: d, len });
            }
            if self.cpu_relax {
                cpu_relax();
            }
        }
        None
    }

    /// Claims, with one compare-and-swap of a shared cursor, a run of
    /// consecutive records starting at it: as many whole records as hold at
    /// most `max_elements` elements together (and at most one lap). The run
    /// goes to this consumer alone; it is appended to `out` (cleared first).
    /// Returns the length of the record that ended the run because it did
    /// not fit, if one did (with `out` empty: not even the first fits).
    ///
    /// The run starts exactly as `read_shared` finds its record (a wrap
    /// marker at the cursor is followed with its own CAS and its skipped
    /// laps counted; the first record may be one that lapped the cursor,
    /// counted lost on success). It then extends only over records whose
    /// slot names exactly the index where the previous one ended (loaded
    /// Acquire, size loaded, slot re-checked: the same validation as the
    /// first record) and stops at anything else: nothing new yet, a wrap
    /// marker, a lapped position, a recycled slot, the size limit. So one CAS
    /// from the loaded cursor value to the run's end claims exactly those
    /// records: a consumer whose CAS fails claimed nothing and starts over,
    /// and exactly-once follows from the CAS alone, as for `read_shared`.
    pub fn read_shared_run(&self, cursor: &AtomicU64, max_elements: u64, out: &mut Vec<Found>) -> Option<u32> {
        out.clear();
        let limit = max_elements.min(self.size);
        for _ in 0..MAX_READ_STEPS {
            let cur = cursor.load(Ordering::Acquire);
            if self.reset_check && cur > self.reserved_index() {
                let _ = cursor.compare_exchange(cur, 0, Ordering::AcqRel, Ordering::Relaxed);
                continue;
            }
            let pos = cur & self.mask;
            let slot = self.slot_of(pos);
            let d = slot.data_index.load(Ordering::Acquire);
            if d == EMPTY_INDEX || d < cur {
                return None;
            }
            if d != cur && d & self.mask != pos {
                if cursor.compare_exchange(cur, d, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                    self.count_loss(self.marker_loss(cur, pos, d));
                }
                continue;
            }
            let n = slot.size.load(Ordering::Acquire);
            if slot.data_index.load(Ordering::Acquire) != d {
                continue;
            }
            let (len, corrupt) = self.clamp(pos, n);
            if u64::from(len) > limit {
                return Some(len);
            }
            out.clear();
            out.push(Found { index: d, len });
            let mut corrupt_found = u64::from(corrupt);
            let mut total = u64::from(len);
            let mut next = d.wrapping_add(self.need(u64::from(len)));
            let mut blocked = None;
            while total < limit {
                let p = next & self.mask;
                let s = self.slot_of(p);
                if s.data_index.load(Ordering::Acquire) != next {
                    break;
                }
                let n = s.size.load(Ordering::Acquire);
                if s.data_index.load(Ordering::Acquire) != next {
                    break;
                }
                let (len, corrupt) = self.clamp(p, n);
                if total + u64::from(len) > limit {
                    blocked = Some(len);
                    break;
                }
                out.push(Found { index: next, len });
                corrupt_found += u64::from(corrupt);
                total += u64::from(len);
                next = next.wrapping_add(self.need(u64::from(len)));
            }
            if cursor.compare_exchange(cur, next, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                self.count_loss(d - cur);
                if corrupt_found != 0 {
                    self.counters.corrupt.fetch_add(corrupt_found, Ordering::Relaxed);
                }
                return blocked;
            }
            out.clear();
            if self.cpu_relax {
                cpu_relax();
            }
        }
        None
    }

    /// The most recently published record, if it is still in its slot.
    pub fn read_last(&self) -> Result<Option<Found>> {
        if !self.read_last {
            return Err(Error::ReadLastDisabled);
        }
        let last = self.region.last_published().load(Ordering::Acquire);
        if last == EMPTY_INDEX {
            return Ok(None);
        }
        // Masked: the C++ v1.4 peer indexes the control array with `last`
        // itself, out of bounds once `last >= slot_count`.
        let pos = last & self.mask;
        let slot = self.slot_of(pos);
        if slot.data_index.load(Ordering::Acquire) != last {
            return Ok(None);
        }
        let n = slot.size.load(Ordering::Acquire);
        if slot.data_index.load(Ordering::Acquire) != last {
            return Ok(None);
        }
        let (len, corrupt) = self.clamp(pos, n);
        self.count_corrupt(corrupt);
        Ok(Some(Found { index: last, len }))
    }

    /// Whether a producer may have written into the positions of the record
    /// that starts at `index` since it was published. Call it after copying:
    /// `false` means the copy is exactly what was published, except for the
    /// case DESIGN.md "Failure modes" describes (a producer of an older lap
    /// whose stores land late, caught only once it publishes).
    ///
    /// Two checks: a later reservation reaching the record's positions
    /// (the reservation word is more than a lap past it), and the record's
    /// slot no longer naming it (a newer record, or a producer of an older
    /// lap that finished late and published over it: its bytes may be in
    /// our copy, and nothing else tells).
    #[inline]
    pub fn is_overwritten(&self, index: u64) -> bool {
        fence(Ordering::Acquire);
        self.reserved_index().wrapping_sub(index) > self.size
            || self.slot_of(index & self.mask).data_index.load(Ordering::Acquire) != index
    }

    /// Where a consumer that wants only new records starts: `R >> 16`.
    pub fn initial_reading_index(&self) -> u64 {
        reserved_index(self.region.reserved().load(Ordering::Acquire))
    }

    pub fn loss_count(&self) -> u64 {
        if self.loss_detection {
            self.counters.loss.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    pub fn corrupt_count(&self) -> u64 {
        self.counters.corrupt.load(Ordering::Relaxed)
    }

    pub fn overrun_count(&self) -> u64 {
        self.counters.overrun.load(Ordering::Relaxed)
    }

    /// Re-initializes the slots, then the reservation word, then the
    /// last-published index, then this handle's counters. Not safe to run
    /// concurrently with producers or readers *semantically* (records may be
    /// lost or seen twice), though memory-safe.
    pub fn reset(&self) {
        for i in 0..self.region.slot_count() {
            let s = self.region.slot(i);
            s.data_index.store(EMPTY_INDEX, Ordering::Relaxed);
            s.size.store(1, Ordering::Relaxed);
        }
        self.region.reserved().store(0, Ordering::Release);
        self.region.last_published().store(EMPTY_INDEX, Ordering::Release);
        self.counters.loss.store(0, Ordering::Relaxed);
        self.counters.corrupt.store(0, Ordering::Relaxed);
        self.counters.overrun.store(0, Ordering::Relaxed);
    }

    /// Byte offset in the data array of element index `index`.
    #[inline]
    pub fn byte_pos(&self, index: u64) -> usize {
        (index & self.mask) as usize * self.element_size
    }

    /// Writes `src` at `byte_offset` bytes into element `index`; it may span
    /// several elements but not run past the end of the ring. Nothing is
    /// written if the reservation at `index` has been lapped (counted in
    /// `overrun_count`).
    #[inline]
    pub fn write_bytes(&self, index: u64, byte_offset: usize, src: &[u8]) -> Result<()> {
        let start = self.byte_pos(index);
        let fits = start
            .checked_add(byte_offset)
            .and_then(|s| s.checked_add(src.len()))
            .is_some_and(|end| end <= self.region.data_len());
        if !fits {
            return Err(Error::OutOfRange {
                position: index & self.mask,
                len: (byte_offset as u64).saturating_add(src.len() as u64),
                size: self.size as u32,
            });
        }
        if self.claim_for_write(index) {
            self.region.store_bytes(start + byte_offset, src);
        }
        Ok(())
    }

    /// Called before a producer stores bytes at element `index`: `false`
    /// (store nothing, count it in `overrun_count()`) if the ring has been
    /// reserved more than a lap past `index`. A producer that stalled that
    /// long between `reserve` and its writes no longer owns these positions:
    /// a newer record lives there, and its stores could only corrupt it in a
    /// way `is_overwritten()` cannot see (that check looks for *later*
    /// reservations). `publish` still happens: the slot moving back a lap
    /// makes readers of the newer record see it overwritten, and later
    /// readers count the lap as lost.
    ///
    /// The check reads the reservation word, which a producer has just
    /// written (it is in its cache). Checking the slot instead costs a load
    /// of a line the consumers read, which halved the two-thread SPSC
    /// throughput (benchmark run a). A producer preempted *between* this check and its stores
    /// can still land stores late; that residual window is a limit of the
    /// wire format (no peer can close it), see DESIGN.md "Failure modes".
    #[inline]
    fn claim_for_write(&self, index: u64) -> bool {
        if self.lapped(index) {
            self.counters.overrun.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Whether the ring has been reserved more than a lap past `index`.
    #[inline]
    fn lapped(&self, index: u64) -> bool {
        self.reserved_index().wrapping_sub(index) & INDEX_MASK > self.size
    }

    /// Writes one whole element at `index`; `src.len()` must be the queue's
    /// element size (the typed queue guarantees it: its element size is
    /// `size_of::<T>()`). Taking the size from `src` lets a typed caller's
    /// constant size reach the offset arithmetic. (A wrong length is still
    /// memory-safe: the region clamps every copy.)
    #[inline]
    pub fn write_element(&self, index: u64, src: &[u8]) {
        debug_assert_eq!(src.len(), self.element_size);
        if self.claim_for_write(index) {
            self.region.store_bytes((index & self.mask) as usize * src.len(), src);
        }
    }

    /// `write_element` for 8-byte elements: one word store.
    #[inline]
    pub fn write_word(&self, index: u64, value: u64) {
        debug_assert_eq!(self.element_size, 8);
        if self.claim_for_write(index) {
            self.region.store_word((index & self.mask) as usize, value);
        }
    }

    /// `load_element` for 8-byte elements: one word load.
    #[inline]
    pub fn load_word(&self, found: Found, k: usize) -> u64 {
        debug_assert_eq!(self.element_size, 8);
        self.region.load_word((found.index & self.mask) as usize + k)
    }

    /// Copies element `k` of a found record into `dst`, whose length is the
    /// element size (see `write_element`); `k < found.len`.
    #[inline]
    pub fn load_element(&self, found: Found, k: usize, dst: &mut [u8]) {
        debug_assert_eq!(dst.len(), self.element_size);
        let pos = (found.index & self.mask) as usize + k;
        self.region.load_bytes(pos * dst.len(), dst);
    }

    /// Zero-fills `len` bytes from `byte_offset` bytes into element `index`
    /// (clamped to the ring), unless the reservation has been lapped.
    #[inline]
    pub fn zero_bytes(&self, index: u64, byte_offset: usize, len: usize) {
        // Not counted again: `push` zero-fills right after `write_bytes`.
        if !self.lapped(index) {
            self.region.zero_bytes(self.byte_pos(index).saturating_add(byte_offset), len);
        }
    }

    /// Copies up to `dst.len()` bytes of a found record, from `byte_offset`
    /// into it; returns the number copied.
    #[inline]
    pub fn copy_record(&self, found: Found, byte_offset: usize, dst: &mut [u8]) -> usize {
        let rec_len = found.len as usize * self.element_size;
        let Some(avail) = rec_len.checked_sub(byte_offset) else {
            return 0;
        };
        let n = dst.len().min(avail);
        self.region.load_bytes(self.byte_pos(found.index) + byte_offset, &mut dst[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(size: u32, es: u32, ips: u32, opts: Options) -> Ring {
        let g = Geometry::new(size, es, ips).unwrap();
        Ring::new(Region::local(&g), &g, &opts, None)
    }

    fn push(r: &Ring, v: u64, n: u32) -> u64 {
        let i = r.reserve(n).unwrap();
        r.write_bytes(i, 0, &v.to_le_bytes()).unwrap();
        r.publish(i, n).unwrap();
        i
    }

    fn first_u64(r: &Ring, f: Found) -> u64 {
        let mut b = [0u8; 8];
        assert_eq!(r.copy_record(f, 0, &mut b), 8);
        u64::from_le_bytes(b)
    }

    #[test]
    fn read_shared_run_claims_consecutive_records_that_fit() {
        let r = ring(16, 8, 1, Options::default());
        for (v, n) in [(1, 1), (2, 2), (3, 1), (4, 3)] {
            push(&r, v, n);
        }
        let cursor = AtomicU64::new(0);
        let mut out = Vec::new();
        // 1 + 2 + 1 elements fit in 5; the 3-element record does not.
        assert_eq!(r.read_shared_run(&cursor, 5, &mut out), Some(3));
        assert_eq!(out.iter().map(|f| (f.index, f.len)).collect::<Vec<_>>(), vec![(0, 1), (1, 2), (3, 1)]);
        assert_eq!(out.iter().map(|&f| first_u64(&r, f)).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(cursor.load(Ordering::Relaxed), 4);
        // Not even the next record fits: nothing claimed, the cursor stays.
        assert_eq!(r.read_shared_run(&cursor, 2, &mut out), Some(3));
        assert!(out.is_empty() && cursor.load(Ordering::Relaxed) == 4);
        assert_eq!(r.read_shared_run(&cursor, 100, &mut out), None);
        assert_eq!(out.iter().map(|f| (f.index, f.len)).collect::<Vec<_>>(), vec![(4, 3)]);
        // Nothing new.
        assert_eq!(r.read_shared_run(&cursor, 100, &mut out), None);
        assert!(out.is_empty() && cursor.load(Ordering::Relaxed) == 7);
        // A wrap marker at the cursor is followed (its own CAS), then the run.
        push(&r, 5, 10); // 7..17 does not fit: marker at 7, record at 16
        push(&r, 6, 1);
        assert_eq!(r.read_shared_run(&cursor, 100, &mut out), None);
        assert_eq!(out.iter().map(|f| (f.index, f.len)).collect::<Vec<_>>(), vec![(16, 10), (26, 1)]);
        assert_eq!(r.loss_count(), 0);
    }

    #[test]
    fn read_shared_run_stops_at_a_wrap_marker() {
        let r = ring(16, 8, 1, Options::default());
        for v in 0..12 {
            push(&r, v, 1);
        }
        push(&r, 12, 1);
        push(&r, 13, 1);
        assert_eq!(push(&r, 14, 3), 16); // 14..17 does not fit: marker at 14
        let cursor = AtomicU64::new(12);
        let mut out = Vec::new();
        assert_eq!(r.read_shared_run(&cursor, 100, &mut out), None);
        assert_eq!(out.iter().map(|f| f.index).collect::<Vec<_>>(), vec![12, 13]);
        assert_eq!(cursor.load(Ordering::Relaxed), 14);
        assert_eq!(r.read_shared_run(&cursor, 100, &mut out), None);
        assert_eq!(out.iter().map(|f| (f.index, f.len)).collect::<Vec<_>>(), vec![(16, 3)]);
        assert_eq!(cursor.load(Ordering::Relaxed), 19);
        assert_eq!(r.loss_count(), 0);
    }

    #[test]
    fn read_shared_run_counts_a_lapped_cursor_once() {
        let r = ring(4, 8, 1, Options::default());
        for v in 0..6 {
            push(&r, v, 1);
        }
        let cursor = AtomicU64::new(0);
        let mut out = Vec::new();
        // Position 0 holds record 4 (one lap on), then record 5 follows.
        assert_eq!(r.read_shared_run(&cursor, 100, &mut out), None);
        assert_eq!(out.iter().map(|f| f.index).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(r.loss_count(), 4);
        assert_eq!(cursor.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn publish_each_makes_one_element_records() {
        let r = ring(8, 8, 1, Options::default());
        assert_eq!(push(&r, 7, 1), 0);
        let i = r.reserve(5).unwrap();
        assert_eq!(i, 1);
        for k in 0..5u64 {
            r.write_bytes(i + k, 0, &(100 + k).to_le_bytes()).unwrap();
        }
        r.publish_each(i, 5).unwrap();
        let mut c = 0;
        let got: Vec<(u64, u32, u64)> =
            std::iter::from_fn(|| r.read(&mut c)).map(|f| (f.index, f.len, first_u64(&r, f))).collect();
        assert_eq!(got, vec![(0, 1, 7), (1, 1, 100), (2, 1, 101), (3, 1, 102), (4, 1, 103), (5, 1, 104)]);
        assert_eq!(r.read_last().unwrap().map(|f| f.index), Some(5));
        // Past the end of the ring, zero, or with items_per_slot > 1: refused.
        assert!(r.publish_each(6, 3).is_err());
        assert!(r.publish_each(0, 0).is_err());
        let wide = ring(8, 8, 2, Options::default());
        let j = wide.reserve(2).unwrap();
        assert!(wide.publish_each(j, 2).is_err());
    }

    #[test]
    fn wrap_marker_sends_reader_to_next_lap() {
        let r = ring(8, 8, 1, Options::default());
        let mut c = 0;
        assert_eq!(push(&r, 1, 3), 0);
        assert_eq!(push(&r, 2, 3), 3);
        assert_eq!(first_u64(&r, r.read(&mut c).unwrap()), 1);
        assert_eq!(first_u64(&r, r.read(&mut c).unwrap()), 2);
        assert_eq!(c, 6);
        // 6 + 3 > 8: skips positions 6 and 7, starts at 8
        assert_eq!(push(&r, 3, 3), 8);
        let s = r.region.slot(6);
        assert_eq!(s.data_index.load(Ordering::Relaxed), 8, "wrap marker in the old position's slot");
        let f = r.read(&mut c).unwrap();
        assert_eq!((f.index, f.len), (8, 3));
        assert_eq!(first_u64(&r, f), 3);
        assert_eq!(c, 11);
        assert_eq!(r.loss_count(), 0);
    }

    #[test]
    fn corrupt_sizes_are_clamped_and_counted() {
        let r = ring(8, 4, 1, Options::default());
        let i = r.reserve(1).unwrap();
        r.publish(i, 1).unwrap();
        // A peer scribbles size = 1000 into the slot of index 0.
        r.region.slot(0).size.store(1000, Ordering::Relaxed);
        let mut c = 0;
        let f = r.read(&mut c).unwrap();
        assert_eq!(f.len, 8);
        assert_eq!(r.corrupt_count(), 1);
        // size 0 becomes 1
        let r = ring(8, 4, 1, Options::default());
        r.region.slot(3).size.store(0, Ordering::Relaxed);
        r.region.slot(3).data_index.store(3, Ordering::Release);
        let mut c = 3;
        assert_eq!(r.read(&mut c).unwrap().len, 1);
        assert_eq!(c, 4);
    }

    /// Every slot names its own position with an index near 2^64: a drain
    /// loop (`while read() is Some`) used to follow them past 2^64, wrap to
    /// the start and loop for ever. Jumps beyond the 48-bit index space are
    /// corrupt: reads end, the cursor stays, the corruption is counted.
    #[test]
    fn indices_beyond_the_index_space_end_drain_loops() {
        let r = ring(8, 8, 1, Options::default());
        let base = u64::MAX - 7;
        for i in 0..8u64 {
            r.region.slot(i as usize).data_index.store(base + i, Ordering::Relaxed);
            r.region.slot(i as usize).size.store(1, Ordering::Relaxed);
        }
        for start in [0, 3] {
            let mut c = start;
            let mut n = 0;
            while r.read(&mut c).is_some() {
                n += 1;
                assert!(n <= 16, "a drain loop from {start} did not end");
            }
            assert_eq!(c, start, "the cursor moved onto a corrupt index");
        }
        let shared = AtomicU64::new(0);
        assert!(r.read_shared(&shared).is_none());
        assert_eq!(shared.load(Ordering::Relaxed), 0);
        assert_eq!(r.corrupt_count(), 3);
        // A cursor its caller set to u64::MAX, over a slot that names it:
        // the fast path reads that record and the cursor wraps to 0 once;
        // from there every jump is checked, so the loop still ends.
        let mut c = u64::MAX;
        r.region.slot(7).data_index.store(u64::MAX, Ordering::Relaxed);
        let mut n = 0;
        while r.read(&mut c).is_some() {
            n += 1;
            assert!(n <= 16, "a drain loop from u64::MAX did not end");
        }
    }

    #[test]
    fn hostile_indices_stay_in_bounds_and_terminate() {
        let r = ring(4, 8, 1, Options::default().reset_check(true));
        for (i, d) in [u64::MAX - 1, 7, 1 << 63, 2].into_iter().enumerate() {
            r.region.slot(i).data_index.store(d, Ordering::Relaxed);
            r.region.slot(i).size.store(u32::MAX, Ordering::Relaxed);
        }
        r.region.reserved().store(u64::MAX, Ordering::Relaxed);
        for start in [0, 1, 2, 3, u64::MAX - 1, 1 << 62] {
            let mut c = start;
            for _ in 0..10 {
                if let Some(f) = r.read(&mut c) {
                    assert!(f.len >= 1 && (f.index & 3) as u32 + f.len <= 4);
                }
            }
            let shared = AtomicU64::new(start);
            for _ in 0..10 {
                if let Some(f) = r.read_shared(&shared) {
                    assert!((f.index & 3) as u32 + f.len <= 4);
                }
            }
        }
    }
}
