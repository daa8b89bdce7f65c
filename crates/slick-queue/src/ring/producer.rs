//! The exclusive producer ([`crate::Options::exclusive_producer`]): the
//! reservation and the last-published update of a ring that has exactly one
//! producer, without locked read-modify-writes.
//!
//! # Why plain loads and stores suffice
//!
//! The default producer needs an atomic read-modify-write on the
//! reservation word `R` only because several producers race on it:
//! atomicity is what hands each of them a disjoint index range. With one
//! producer nobody else writes `R` (a concurrent `reset()` is already
//! outside the semantics, see `Ring::reset`), so
//!
//! * the producer's `Relaxed` load of `R` returns its own last store
//!   (coherence: a thread never reads a value older than its own write), and
//!   the store of the next value is the same word a `fetch_add` or a CAS
//!   would have left — `(index + need) << 16 | n`, byte for byte;
//! * the `Release` fence after that store keeps the reservation ordered
//!   before the record's data stores, exactly as after the default path's
//!   RMW: a reader that copied a byte of a later reservation and then runs
//!   an `Acquire` fence (`Ring::is_overwritten`) sees that reservation in
//!   `R` (fence-to-fence synchronization through the data word);
//! * a wrap marker is written after the store of `R` in program order, and
//!   its `Release` store of `data_index` publishes everything before it,
//!   the reservation included (the default path's `AcqRel` on the CAS was
//!   there to order the marker against *other* producers' reservations);
//! * `last_published` is only ever raised by this producer, so a `Relaxed`
//!   load followed by a store replaces the CAS-max. `read_last()` loads it
//!   and then validates the named slot with `Acquire` loads like any read,
//!   so the record's contents are published by the slot's `data_index`
//!   pair, not by this word; the store is `Release` (as the default path's
//!   CAS) only so that a reader seeing the new value also sees the slot
//!   already naming it, which spares it a "not there yet" answer. (Checked
//!   by hand: with a `Relaxed` store the loom models still pass, as this
//!   argument predicts; with a reservation that does not advance they fail.)
//!
//! The doorbell handshake's P1 (`doorbell.rs`) is the default reservation's
//! `SeqCst` read-modify-write; a plain store is not in that total order.
//! A fence per publish would restore it at the price of the very locked
//! instruction this producer exists to avoid; instead the publish ends with
//! the light side of an asymmetric barrier (a compiler barrier) and
//! sleeping readers issue the heavy side (`membarrier`): see `doorbell.rs`,
//! "The exclusive producer".
//!
//! On x86-64 this turns the `lock xadd` of a one-element reservation and
//! the `lock cmpxchg` of the last-published update into plain `mov`s; the
//! fences compile to nothing.
//!
//! A second producer breaks the first point: both may load the same `R` and
//! be handed the same positions. That is why the option is a promise, why
//! a shared-memory handle with it takes the segment's producer lock (see
//! `shm::lock_producer`), and why it is documented as undefined for
//! producers that do not take that lock. It is never memory-unsafe: every
//! access to the segment is atomic.

use super::Ring;
use crate::layout::{pack_reserved, reserved_index, EMPTY_INDEX};
use crate::sync::{fence, Ordering};

impl Ring {
    /// `reserve` for the exclusive producer; `n` is already checked to be in
    /// `1..=size`. Never splits a record across the end of the ring (the same
    /// wrap marker as the default path).
    #[inline]
    pub(super) fn reserve_exclusive(&self, n: u32) -> u64 {
        if n == 1 && self.shift == 0 {
            return self.reserve_one_exclusive();
        }
        let r = self.region.reserved();
        let old = reserved_index(r.load(Ordering::Relaxed));
        let need = self.need(u64::from(n));
        let pos = old & self.mask;
        let (index, wrapped) = if pos + need > self.size { (old + (self.size - pos), true) } else { (old, false) };
        r.store(pack_reserved(index.wrapping_add(need), n), Ordering::Relaxed);
        if wrapped {
            // The wrap marker: readers at `old` jump to `index`.
            let s = self.slot_of(pos);
            s.size.store(n, Ordering::Relaxed);
            s.data_index.store(index, Ordering::Release);
        }
        fence(Ordering::Release);
        index
    }

    /// `reserve(1)` for the exclusive producer, one element per slot: no
    /// wrap is possible, the next word is the index plus one with size 1.
    #[inline(always)]
    pub(super) fn reserve_one_exclusive(&self) -> u64 {
        let r = self.region.reserved();
        let old = reserved_index(r.load(Ordering::Relaxed));
        r.store(pack_reserved(old.wrapping_add(1), 1), Ordering::Relaxed);
        fence(Ordering::Release);
        old
    }

    /// The last-published update for the exclusive producer: raise it to
    /// `index` with a plain `Release` store (see the module notes).
    #[inline]
    pub(super) fn store_last_published_exclusive(&self, index: u64) {
        let lp = self.region.last_published();
        let cur = lp.load(Ordering::Relaxed);
        if cur == EMPTY_INDEX || cur < index {
            lp.store(index, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::layout::Geometry;
    use crate::options::Options;
    use crate::region::Region;
    use crate::ring::Ring;
    use crate::sync::Ordering;

    fn pair(size: u32, ips: u32, read_last: bool) -> (Ring, Ring) {
        let g = Geometry::new(size, 8, ips).unwrap();
        let base = Options::default().read_last(read_last);
        let shared = Ring::new(Region::local(&g), &g, &base, None);
        let excl = Ring::new(Region::local(&g), &g, &base.exclusive_producer(true), None);
        (shared, excl)
    }

    /// The same sequence of reservations and publishes leaves the same
    /// reservation word, slots and last-published index (the wire bytes)
    /// with and without the exclusive producer, wrap markers included.
    #[test]
    fn exclusive_producer_leaves_the_same_words_as_the_default() {
        for (size, ips) in [(8, 1), (16, 4), (64, 1)] {
            let (a, b) = pair(size, ips, true);
            for (k, n) in [1u32, 3, 1, 5, 2, 7, 1, 1, 8, 4, 6, 1, 3].into_iter().cycle().take(200).enumerate() {
                let n = n.min(size);
                let ia = a.reserve(n).unwrap();
                let ib = b.reserve(n).unwrap();
                assert_eq!(ia, ib, "reservation {k} (n = {n}, size {size}, ips {ips})");
                a.publish(ia, n).unwrap();
                b.publish(ib, n).unwrap();
                let ra = a.region.reserved().load(Ordering::Relaxed);
                let rb = b.region.reserved().load(Ordering::Relaxed);
                assert_eq!(ra, rb, "reservation word after {k}");
                assert_eq!(
                    a.region.last_published().load(Ordering::Relaxed),
                    b.region.last_published().load(Ordering::Relaxed)
                );
                for s in 0..a.region.slot_count() {
                    let (x, y) = (a.region.slot(s), b.region.slot(s));
                    assert_eq!(x.data_index.load(Ordering::Relaxed), y.data_index.load(Ordering::Relaxed));
                    assert_eq!(x.size.load(Ordering::Relaxed), y.size.load(Ordering::Relaxed));
                }
            }
            // 200 reservations went round the ring several times.
            assert!(b.reserved_index() > 4 * u64::from(size));
        }
    }

    /// A reader on the default path reads what the exclusive producer wrote,
    /// across wraps, and `read_last` names its last record.
    #[test]
    fn exclusive_records_read_back_in_order() {
        let (_, r) = pair(16, 1, true);
        let mut cursor = 0;
        for v in 0..100u64 {
            let n = (v % 3 + 1) as u32;
            let i = r.reserve(n).unwrap();
            r.write_bytes(i, 0, &v.to_le_bytes()).unwrap();
            r.publish(i, n).unwrap();
            let f = r.read(&mut cursor).unwrap();
            assert_eq!((f.index, f.len), (i, n));
            let mut b = [0u8; 8];
            r.copy_record(f, 0, &mut b);
            assert_eq!(u64::from_le_bytes(b), v);
            assert_eq!(r.read_last().unwrap().map(|f| f.index), Some(i));
        }
        assert_eq!(r.loss_count(), 0);
    }
}
