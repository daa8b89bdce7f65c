//! [`ByteQueue`], the queue whose elements are `element_size` bytes known
//! only at run time (what the Python layer and C++ `std::array<uint8_t, N>`
//! peers use), and [`ByteRecord`], what its reads return. The typed
//! [`Queue<T>`](crate::Queue) is a thin layer over it (`queue.rs`).

use std::time::Duration;

use crate::doorbell::Doorbell;
use crate::error::{Error, Result};
use crate::layout::Geometry;
use crate::options::Options;
use crate::region::Region;
use crate::ring::{Found, Ring};
use crate::shm::ShmName;
use crate::sync::AtomicU64;
use crate::wait::{deadline_after, wait_for, Until};

/// How many bytes [`ByteQueue::push_each`] copies between two checks that
/// its reservation has not been lapped.
const PUSH_EACH_CHUNK_BYTES: usize = 1024;

/// A queue whose elements are `element_size` bytes each, fixed when it is
/// created (or adopted from the segment when opened).
///
/// ```
/// use slick_queue::ByteQueue;
///
/// let q = ByteQueue::new(64, 16)?; // 64 elements of 16 bytes, local memory
/// let index = q.reserve(2)?;        // a record of two elements (32 bytes)
/// q.write(index, b"hello, ring buffer world!")?;
/// q.publish(index, 2)?;
///
/// let mut cursor = 0;
/// let rec = q.read(&mut cursor).expect("one record");
/// assert_eq!(rec.len(), 2);
/// assert_eq!(&rec.to_vec()[..25], b"hello, ring buffer world!");
/// # Ok::<(), slick_queue::Error>(())
/// ```
pub struct ByteQueue {
    ring: Ring,
    geometry: Geometry,
    options: Options,
    /// The segment's name and whether this handle initialized it.
    shm: Option<(ShmName, bool)>,
    /// The segment's descriptor, kept open while this handle holds the
    /// exclusive producer lock on it (dropping it releases the lock).
    pub(crate) _producer_lock: Option<crate::shm::ProducerLock>,
}

impl std::fmt::Debug for ByteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteQueue")
            .field("name", &self.name())
            .field("capacity", &self.geometry.size())
            .field("element_size", &self.geometry.element_size())
            .field("items_per_slot", &self.geometry.items_per_slot())
            .field("options", &self.options)
            .finish()
    }
}

/// The element size of a typed queue, as the wire format stores it.
pub(crate) fn element_size_u32(element_size: usize) -> Result<u32> {
    match u32::try_from(element_size) {
        Ok(es) if es > 0 => Ok(es),
        _ => Err(Error::InvalidElementSize { element_size: element_size as u64 }),
    }
}

impl ByteQueue {
    /// A queue in local memory (one process, any number of threads) with the
    /// default [`Options`].
    pub fn new(size: u32, element_size: u32) -> Result<ByteQueue> {
        ByteQueue::with_options(size, element_size, &Options::default())
    }

    /// A queue in local memory with the given options.
    pub fn with_options(size: u32, element_size: u32, options: &Options) -> Result<ByteQueue> {
        let geometry = Geometry::new(size, element_size, options.items_per_slot.unwrap_or(1))?;
        let region = Region::local(&geometry);
        let bell = options.doorbell.then(Doorbell::local);
        Ok(ByteQueue::from_parts(region, geometry, options, None, bell))
    }

    /// A queue over `region` (named `shm` if shared; see `named.rs`).
    pub(crate) fn from_parts(
        region: Region,
        geometry: Geometry,
        options: &Options,
        shm: Option<(ShmName, bool)>,
        bell: Option<Doorbell>,
    ) -> ByteQueue {
        let mut options = options.clone();
        options.items_per_slot = Some(geometry.items_per_slot());
        ByteQueue { ring: Ring::new(region, &geometry, &options, bell), geometry, options, shm, _producer_lock: None }
    }

    /// Reserves `n` contiguous elements (multi-producer safe) and returns the
    /// index of the first. Write them with [`ByteQueue::write`], then
    /// [`ByteQueue::publish`] the same `index` and `n`.
    ///
    /// Errors: [`Error::ZeroElements`] for `n == 0`, [`Error::TooManyElements`]
    /// for `n` above the capacity.
    #[inline]
    pub fn reserve(&self, n: u32) -> Result<u64> {
        self.ring.reserve(n)
    }

    /// Publishes the `n` elements reserved at `index`: readers see them from
    /// now on, bytes included.
    #[inline]
    pub fn publish(&self, index: u64, n: u32) -> Result<()> {
        self.ring.publish(index, n)
    }

    /// Copies `bytes` into the ring starting at element `index` (they may span
    /// several consecutive elements of one reservation).
    #[inline]
    pub fn write(&self, index: u64, bytes: &[u8]) -> Result<()> {
        self.ring.write_bytes(index, 0, bytes)
    }

    /// Copies `bytes` into the ring `byte_offset` bytes into element `index`.
    #[inline]
    pub fn write_at(&self, index: u64, byte_offset: usize, bytes: &[u8]) -> Result<()> {
        self.ring.write_bytes(index, byte_offset, bytes)
    }

    /// Reserves as many elements as `bytes` needs (at least one), copies the
    /// bytes, zero-fills the rest of the last element and publishes: one call
    /// for one record. Returns the record's index.
    pub fn push(&self, bytes: &[u8]) -> Result<u64> {
        let es = self.ring.element_size();
        // The common case, data that fits one element, without a division.
        let n = if bytes.len() <= es { 1 } else { bytes.len().div_ceil(es) };
        let n = u32::try_from(n).map_err(|_| Error::TooManyElements { n: n as u64, size: self.capacity() })?;
        let index = self.ring.reserve(n)?;
        self.ring.write_bytes(index, 0, bytes)?;
        let total = n as usize * es;
        if total > bytes.len() {
            self.ring.zero_bytes(index, bytes.len(), total - bytes.len());
        }
        self.ring.publish(index, n)?;
        Ok(index)
    }

    /// Writes every element of `bytes` (a whole number of elements, at most
    /// the capacity) as its own one-element record and returns the first
    /// record's index: element `i` becomes record `index + i`. With
    /// items_per_slot 1 that is one reservation, one copy (checked against lapping every KiB) and
    /// one store per control slot (the last published index moves once);
    /// otherwise every element needs its own reservation (a record covers
    /// items_per_slot elements), so each is pushed on its own.
    ///
    /// Errors: [`Error::ZeroElements`] for no bytes,
    /// [`Error::OutOfRange`] when `bytes` is not a whole number of elements,
    /// [`Error::TooManyElements`] above the capacity.
    pub fn push_each(&self, bytes: &[u8]) -> Result<u64> {
        let es = self.ring.element_size();
        if bytes.is_empty() {
            return Err(Error::ZeroElements);
        }
        if bytes.len() % es != 0 {
            return Err(Error::OutOfRange { position: 0, len: bytes.len() as u64, size: self.capacity() });
        }
        let k = bytes.len() / es;
        let k = u32::try_from(k)
            .ok()
            .filter(|k| *k <= self.capacity())
            .ok_or(Error::TooManyElements { n: k as u64, size: self.capacity() })?;
        if self.items_per_slot() != 1 {
            let mut first = None;
            for element in bytes.chunks_exact(es) {
                let index = self.push(element)?;
                first.get_or_insert(index);
            }
            return first.ok_or(Error::ZeroElements);
        }
        let index = self.ring.reserve(k)?;
        // The copy goes in chunks of about 1 KiB, each after its own lap
        // check (`write_bytes`): a producer preempted in the middle of a
        // large batch, and lapped meanwhile, stops storing at the next chunk
        // instead of copying the rest of the batch over newer records.
        let per_chunk = (PUSH_EACH_CHUNK_BYTES / es).max(1);
        for (i, chunk) in bytes.chunks(per_chunk * es).enumerate() {
            self.ring.write_bytes(index + (i * per_chunk) as u64, 0, chunk)?;
        }
        self.ring.publish_each(index, k)?;
        Ok(index)
    }

    /// A raw pointer to element `index` (always inside the data array), for
    /// zero-copy writers. Writing through it races with lapped readers and
    /// other processes exactly as the C++ `operator[]` does; prefer
    /// [`ByteQueue::write`].
    pub fn element_ptr(&self, index: u64) -> *mut u8 {
        match self.ring.region().data_ptr(self.ring.byte_pos(index)) {
            Some((p, _)) => p.as_ptr(),
            None => std::ptr::null_mut(),
        }
    }

    /// Reads the next record at a private cursor and advances the cursor past
    /// it; `None` when nothing new is published. Every cursor sees every
    /// record (broadcast). Start a cursor at 0 to see everything still in the
    /// ring, or at [`ByteQueue::initial_reading_index`] to see only new records.
    #[inline]
    pub fn read(&self, cursor: &mut u64) -> Option<ByteRecord<'_>> {
        self.ring.read(cursor).map(|found| ByteRecord { ring: &self.ring, found })
    }

    /// Claims the next record at a cursor shared by several consumers (threads
    /// with an [`AtomicU64`], processes with a [`crate::SharedCursor`]): each
    /// record goes to exactly one of them.
    #[inline]
    pub fn read_shared(&self, cursor: &AtomicU64) -> Option<ByteRecord<'_>> {
        self.ring.read_shared(cursor).map(|found| ByteRecord { ring: &self.ring, found })
    }

    /// Claims, with one compare-and-swap of a cursor shared by several
    /// consumers, a run of consecutive records holding at most
    /// `max_elements` elements together (and at most one lap): they go to
    /// this consumer alone, in order. Returns them with, if a record ended
    /// the run because it did not fit, its length in elements (with no
    /// records: not even the next one fits, and nothing was claimed). An
    /// empty run without such a length means nothing new is published.
    ///
    /// As with [`ByteQueue::read_shared`], check each record's
    /// [`ByteRecord::is_overwritten`] after copying it.
    pub fn read_shared_run(&self, cursor: &AtomicU64, max_elements: usize) -> (Vec<ByteRecord<'_>>, Option<usize>) {
        let mut found = Vec::new();
        let blocked = self.ring.read_shared_run(cursor, max_elements as u64, &mut found);
        let records = found.into_iter().map(|found| ByteRecord { ring: &self.ring, found }).collect();
        (records, blocked.map(|n| n as usize))
    }

    /// Like [`ByteQueue::read`], but waits up to `timeout` for a record:
    /// it spins briefly, then sleeps on the queue's doorbell, which our
    /// producers ring when they publish (wake-up in microseconds); every
    /// sleep is at most [`crate::wait::POLL_INTERVAL`], so records of
    /// producers that do not ring (C++ and original Python peers) are seen
    /// at most that late. `None` if nothing arrived in time.
    pub fn read_timeout(&self, cursor: &mut u64, timeout: Duration) -> Option<ByteRecord<'_>> {
        self.read_private(cursor, Until::Record(Some(deadline_after(timeout))))
    }

    /// Like [`ByteQueue::read_timeout`] without a time limit: blocks until a
    /// record arrives.
    pub fn read_wait(&self, cursor: &mut u64) -> ByteRecord<'_> {
        loop {
            if let Some(rec) = self.read_private(cursor, Until::Record(None)) {
                return rec;
            }
        }
    }

    /// Like [`ByteQueue::read_timeout`], and also returns `None` early when
    /// `stop()` is true after a wake-up: it is checked whenever the doorbell
    /// rings (see [`ByteQueue::wake_waiters`]) and at least every
    /// [`crate::wait::POLL_INTERVAL`]. `timeout` `None` waits without a
    /// limit. For waits that another thread must be able to cancel.
    pub fn read_timeout_or_stop(
        &self,
        cursor: &mut u64,
        timeout: Option<Duration>,
        stop: &dyn Fn() -> bool,
    ) -> Option<ByteRecord<'_>> {
        self.read_private(cursor, Until::Ring(timeout.map(deadline_after), stop))
    }

    fn read_private(&self, cursor: &mut u64, until: Until<'_>) -> Option<ByteRecord<'_>> {
        let pos = std::cell::Cell::new(*cursor);
        let found = wait_for(
            &self.ring,
            until,
            || {
                let mut c = pos.get();
                let found = self.ring.read(&mut c);
                pos.set(c);
                found
            },
            || pos.get(),
        );
        *cursor = pos.get();
        found.map(|found| ByteRecord { ring: &self.ring, found })
    }

    /// Like [`ByteQueue::read_shared`], but waits up to `timeout` for a
    /// record (as [`ByteQueue::read_timeout`] does).
    pub fn read_shared_timeout(&self, cursor: &AtomicU64, timeout: Duration) -> Option<ByteRecord<'_>> {
        self.read_shared_until(cursor, Until::Record(Some(deadline_after(timeout))))
    }

    /// Like [`ByteQueue::read_shared_timeout`] without a time limit.
    pub fn read_shared_wait(&self, cursor: &AtomicU64) -> ByteRecord<'_> {
        loop {
            if let Some(rec) = self.read_shared_until(cursor, Until::Record(None)) {
                return rec;
            }
        }
    }

    /// Whether a producer may have written into the positions of the record
    /// published at `index` since it was published: the check
    /// [`ByteRecord::is_overwritten`] makes, for a caller that used the
    /// record's memory directly (through [`ByteQueue::element_ptr`]) and
    /// knows only its index. Call it after using the memory.
    #[inline]
    pub fn is_overwritten(&self, index: u64) -> bool {
        self.ring.is_overwritten(index)
    }

    /// Like [`ByteQueue::read_shared_timeout`], stopping early when `stop()`
    /// is true after a wake-up (see [`ByteQueue::read_timeout_or_stop`]).
    pub fn read_shared_timeout_or_stop(
        &self,
        cursor: &AtomicU64,
        timeout: Option<Duration>,
        stop: &dyn Fn() -> bool,
    ) -> Option<ByteRecord<'_>> {
        self.read_shared_until(cursor, Until::Ring(timeout.map(deadline_after), stop))
    }

    fn read_shared_until(&self, cursor: &AtomicU64, until: Until<'_>) -> Option<ByteRecord<'_>> {
        let found = wait_for(
            &self.ring,
            until,
            || self.ring.read_shared(cursor),
            || cursor.load(crate::sync::Ordering::Acquire),
        );
        found.map(|found| ByteRecord { ring: &self.ring, found })
    }

    /// Waits, without reading anything, until something is published at or
    /// past element `position` (a reader at that cursor would find a record
    /// or follow a wrap marker): `true`. `false` when `timeout` passes
    /// first (`None`: no limit), or when the doorbell rings for another
    /// reason and `stop()` is true (see [`ByteQueue::wake_waiters`]).
    /// Spurious `true`s are impossible, spurious `false`s are: callers loop.
    /// For event loops that serve many cursors from one thread (give the
    /// smallest).
    pub fn wait_published(&self, position: u64, timeout: Option<Duration>, stop: &dyn Fn() -> bool) -> bool {
        let until = Until::Ring(timeout.map(deadline_after), stop);
        wait_for(&self.ring, until, || self.ring.has_new(position).then_some(()), || position).is_some()
    }

    /// Rings the doorbell unconditionally: every reader sleeping in a wait
    /// on this queue (in any process) wakes up and re-checks. Waits with a
    /// `stop` condition return if it holds; the others go back to sleep.
    /// Use it to cancel waits (e.g. when closing a handle).
    pub fn wake_waiters(&self) {
        if let Some(bell) = self.ring.bell() {
            bell.ring();
        }
    }

    /// Readers registered as asleep on this queue's doorbell (all
    /// processes), or `None` when this handle has no doorbell. A reader that
    /// died asleep stays counted until a producer notices (see DESIGN.md).
    pub fn sleeping_readers(&self) -> Option<u32> {
        self.ring.bell().map(|b| b.waiters())
    }

    /// The most recently published record, if its slot still holds it.
    /// [`Error::ReadLastDisabled`] without the `read_last` option.
    pub fn read_last(&self) -> Result<Option<ByteRecord<'_>>> {
        Ok(self.ring.read_last()?.map(|found| ByteRecord { ring: &self.ring, found }))
    }

    /// Where a consumer that wants only records published from now on starts.
    pub fn initial_reading_index(&self) -> u64 {
        self.ring.initial_reading_index()
    }

    /// Elements this handle's readers skipped because producers lapped them
    /// (0 when `loss_detection` is off).
    pub fn loss_count(&self) -> u64 {
        self.ring.loss_count()
    }

    /// Records whose size, as found in their slot, ran past the end of the
    /// ring or was 0, and was clamped (only a faulty or hostile peer writes
    /// such a size).
    pub fn corrupt_count(&self) -> u64 {
        self.ring.corrupt_count()
    }

    /// Writes this handle skipped because other producers had reserved
    /// more than a whole lap past the record (this producer stalled that
    /// long between `reserve()` and its writes). The positions belong to a
    /// newer record by then, so writing them would corrupt it; the record
    /// is still published (readers see it as overwritten, or count it as
    /// lost).
    pub fn overrun_count(&self) -> u64 {
        self.ring.overrun_count()
    }

    /// Resets the queue: every slot empty, the reservation word and the
    /// last-published index rewound, this handle's counters zeroed. Not meant
    /// to run while other threads or processes use the queue: their records
    /// may be lost or seen again (it stays memory-safe).
    pub fn reset(&self) {
        self.ring.reset()
    }

    /// Capacity in elements.
    pub fn capacity(&self) -> u32 {
        self.geometry.size()
    }

    /// Bytes per element.
    pub fn element_size(&self) -> u32 {
        self.geometry.element_size()
    }

    /// Elements per control slot.
    pub fn items_per_slot(&self) -> u32 {
        self.geometry.items_per_slot()
    }

    /// Number of control slots.
    pub fn slot_count(&self) -> u32 {
        self.geometry.slot_count()
    }

    /// The queue's geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The options in effect (items_per_slot as adopted).
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The name of a shared queue as the system knows it: the POSIX name
    /// (with its leading `/`) on Linux and macOS, the mapping's name (no
    /// slash) on Windows, as the peers' `get_shm_name` return it.
    pub fn name(&self) -> Option<&str> {
        self.shm.as_ref().map(|(n, _)| n.os_name())
    }

    /// Whether the queue lives in shared memory.
    pub fn is_shared(&self) -> bool {
        self.name().is_some()
    }

    /// Whether this handle initialized the shared segment (local queues: true).
    pub fn is_creator(&self) -> bool {
        self.shm.as_ref().is_none_or(|(_, created)| *created)
    }

    /// Length in bytes of the mapped segment (`None` for local queues).
    pub fn mapped_len(&self) -> Option<usize> {
        self.ring.region().mapped_len()
    }

    /// Unlinks this queue's shared-memory name (mappings stay valid, this one
    /// included). `Ok(false)` if the name was already gone;
    /// [`Error::NotShared`] for a local queue. Nothing is ever unlinked
    /// implicitly: not on drop, not at exit.
    pub fn remove_shm(&self) -> Result<bool> {
        match &self.shm {
            Some((name, _)) => crate::shm::remove(name.as_posix()),
            None => Err(Error::NotShared),
        }
    }

    /// Unlinks a shared-memory queue by name without attaching to it (one
    /// leading `/` accepted). See [`crate::remove`].
    pub fn remove(name: &str) -> Result<bool> {
        crate::shm::remove(name)
    }

    /// The ring, for the typed queue and the sibling crates' glue.
    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }
}

/// A record of a [`ByteQueue`]: a view of `len()` elements in the ring that
/// copies them out on request.
///
/// The bytes stay in the ring: a producer that laps the reader may overwrite
/// them while (or before) they are copied. Check
/// [`ByteRecord::is_overwritten`] *after* copying to know whether the copy
/// is exactly what was published.
#[derive(Clone, Copy)]
pub struct ByteRecord<'q> {
    ring: &'q Ring,
    /// Where the record is (the typed [`Record`](crate::Record) is built from it).
    pub(crate) found: Found,
}

impl std::fmt::Debug for ByteRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteRecord").field("index", &self.found.index).field("len", &self.found.len).finish()
    }
}

impl<'q> ByteRecord<'q> {
    /// The element index the record was published at.
    pub fn index(&self) -> u64 {
        self.found.index
    }

    /// Number of elements in the record (at least 1).
    pub fn len(&self) -> usize {
        self.found.len as usize
    }

    /// Always `false`: a record holds at least one element.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Number of bytes in the record: `len() * element_size`.
    pub fn byte_len(&self) -> usize {
        self.found.len as usize * self.ring.element_size()
    }

    /// Copies up to `dst.len()` bytes of the record into `dst`; returns how
    /// many were copied.
    #[inline]
    pub fn copy_to(&self, dst: &mut [u8]) -> usize {
        self.ring.copy_record(self.found, 0, dst)
    }

    /// Copies up to `dst.len()` bytes starting `byte_offset` bytes into the
    /// record.
    #[inline]
    pub fn copy_from_offset(&self, byte_offset: usize, dst: &mut [u8]) -> usize {
        self.ring.copy_record(self.found, byte_offset, dst)
    }

    /// Copies the whole record into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.byte_len()];
        self.copy_to(&mut v);
        v
    }

    /// Whether a producer may have written into this record's positions since
    /// it was published (the reader was lapped, or a producer of an older lap
    /// finished late). Call it after copying; `false` guarantees the copy is
    /// exactly what was published, with one exception the wire format leaves
    /// open: a producer preempted for a whole lap *while* storing its record
    /// whose late stores land between this copy and its publish (see
    /// "Failure modes" in docs/DESIGN.md).
    #[inline]
    pub fn is_overwritten(&self) -> bool {
        self.ring.is_overwritten(self.found.index)
    }
}
