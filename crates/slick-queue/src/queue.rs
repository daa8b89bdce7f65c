//! [`Queue<T>`], the typed queue of plain-old-data elements, and
//! [`Record`], what its reads return: a thin layer over [`ByteQueue`] whose
//! element size is `size_of::<T>()`.

use std::marker::PhantomData;
use std::time::Duration;

use bytemuck::Pod;

use crate::byte_queue::{element_size_u32, ByteQueue};
use crate::error::{Error, Result};
use crate::options::Options;
use crate::ring::{Found, Ring};
use crate::sync::AtomicU64;

/// A queue of plain-old-data values: `size_of::<T>()` is the element size.
///
/// ```
/// use slick_queue::Queue;
///
/// let q = Queue::<u64>::new(1024)?;
/// let i = q.reserve(1)?;
/// q.write(i, 42)?;
/// q.publish(i, 1)?;
/// q.push(43)?; // reserve + write + publish
///
/// let mut cursor = 0;
/// assert_eq!(q.read(&mut cursor).map(|r| r.value()), Some(42));
/// assert_eq!(q.read(&mut cursor).map(|r| r.value()), Some(43));
/// assert!(q.read(&mut cursor).is_none());
/// # Ok::<(), slick_queue::Error>(())
/// ```
pub struct Queue<T> {
    inner: ByteQueue,
    _element: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("type", &std::any::type_name::<T>()).field("inner", &self.inner).finish()
    }
}

impl<T: Pod> Queue<T> {
    /// A queue of `size` elements in local memory with the default options.
    pub fn new(size: u32) -> Result<Queue<T>> {
        Queue::with_options(size, &Options::default())
    }

    /// A queue in local memory with the given options.
    pub fn with_options(size: u32, options: &Options) -> Result<Queue<T>> {
        let es = element_size_u32(std::mem::size_of::<T>())?;
        Ok(Queue::wrap(ByteQueue::with_options(size, es, options)?))
    }

    /// The typed view of `inner` (its element size is `size_of::<T>()`).
    pub(crate) fn wrap(inner: ByteQueue) -> Queue<T> {
        Queue { inner, _element: PhantomData }
    }

    /// The same queue, as bytes.
    pub fn as_bytes(&self) -> &ByteQueue {
        &self.inner
    }

    /// Reserves `n` contiguous elements; see [`ByteQueue::reserve`].
    #[inline]
    pub fn reserve(&self, n: u32) -> Result<u64> {
        self.inner.reserve(n)
    }

    /// Publishes the `n` elements reserved at `index`.
    #[inline]
    pub fn publish(&self, index: u64, n: u32) -> Result<()> {
        self.inner.publish(index, n)
    }

    /// Writes one element at `index`.
    #[inline]
    pub fn write(&self, index: u64, value: T) -> Result<()> {
        // Element `index` always lies inside the ring (positions are taken
        // modulo the capacity), so one element needs no range check.
        write_one(self.inner.ring(), index, value);
        Ok(())
    }

    /// Writes consecutive elements starting at `index`.
    #[inline]
    pub fn write_slice(&self, index: u64, values: &[T]) -> Result<()> {
        self.inner.ring().write_bytes(index, 0, bytemuck::cast_slice(values))
    }

    /// Reserves, writes and publishes one element; returns its index.
    #[inline]
    pub fn push(&self, value: T) -> Result<u64> {
        let ring = self.inner.ring();
        let index = ring.reserve(1)?;
        write_one(ring, index, value);
        ring.publish(index, 1)?;
        Ok(index)
    }

    /// Reserves, writes and publishes `values` as one record; returns its index.
    pub fn push_slice(&self, values: &[T]) -> Result<u64> {
        let n = u32::try_from(values.len())
            .map_err(|_| Error::TooManyElements { n: values.len() as u64, size: self.capacity() })?;
        let index = self.inner.reserve(n)?;
        self.write_slice(index, values)?;
        self.inner.publish(index, n)?;
        Ok(index)
    }

    /// A raw pointer to element `index`, for zero-copy writers (see
    /// [`ByteQueue::element_ptr`]). It is not aligned for `T` if
    /// `align_of::<T>()` exceeds 16 or the element size: use
    /// `write_unaligned`.
    pub fn element_ptr(&self, index: u64) -> *mut T {
        self.inner.element_ptr(index).cast::<T>()
    }

    /// Reads the next record at a private cursor; see [`ByteQueue::read`].
    #[inline]
    pub fn read(&self, cursor: &mut u64) -> Option<Record<'_, T>> {
        self.inner.ring().read(cursor).map(|found| Record::new(self.inner.ring(), found))
    }

    /// Claims the next record at a shared cursor; see [`ByteQueue::read_shared`].
    #[inline]
    pub fn read_shared(&self, cursor: &AtomicU64) -> Option<Record<'_, T>> {
        self.inner.ring().read_shared(cursor).map(|found| Record::new(self.inner.ring(), found))
    }

    /// Reads at a private cursor, waiting up to `timeout`; see
    /// [`ByteQueue::read_timeout`].
    pub fn read_timeout(&self, cursor: &mut u64, timeout: Duration) -> Option<Record<'_, T>> {
        let rec = self.inner.read_timeout(cursor, timeout)?;
        Some(Record::new(self.inner.ring(), rec.found))
    }

    /// Claims at a shared cursor, waiting up to `timeout`; see
    /// [`ByteQueue::read_shared_timeout`].
    pub fn read_shared_timeout(&self, cursor: &AtomicU64, timeout: Duration) -> Option<Record<'_, T>> {
        let rec = self.inner.read_shared_timeout(cursor, timeout)?;
        Some(Record::new(self.inner.ring(), rec.found))
    }

    /// Reads at a private cursor, blocking until a record arrives; see
    /// [`ByteQueue::read_wait`].
    pub fn read_wait(&self, cursor: &mut u64) -> Record<'_, T> {
        let rec = self.inner.read_wait(cursor);
        Record::new(self.inner.ring(), rec.found)
    }

    /// Claims at a shared cursor, blocking until a record arrives; see
    /// [`ByteQueue::read_shared_wait`].
    pub fn read_shared_wait(&self, cursor: &AtomicU64) -> Record<'_, T> {
        let rec = self.inner.read_shared_wait(cursor);
        Record::new(self.inner.ring(), rec.found)
    }

    /// See [`ByteQueue::read_timeout_or_stop`].
    pub fn read_timeout_or_stop(
        &self,
        cursor: &mut u64,
        timeout: Option<Duration>,
        stop: &dyn Fn() -> bool,
    ) -> Option<Record<'_, T>> {
        let rec = self.inner.read_timeout_or_stop(cursor, timeout, stop)?;
        Some(Record::new(self.inner.ring(), rec.found))
    }

    /// See [`ByteQueue::wait_published`].
    pub fn wait_published(&self, position: u64, timeout: Option<Duration>, stop: &dyn Fn() -> bool) -> bool {
        self.inner.wait_published(position, timeout, stop)
    }

    /// See [`ByteQueue::wake_waiters`].
    pub fn wake_waiters(&self) {
        self.inner.wake_waiters()
    }

    /// See [`ByteQueue::sleeping_readers`].
    pub fn sleeping_readers(&self) -> Option<u32> {
        self.inner.sleeping_readers()
    }

    /// The most recently published record; see [`ByteQueue::read_last`].
    pub fn read_last(&self) -> Result<Option<Record<'_, T>>> {
        Ok(self.inner.ring().read_last()?.map(|found| Record::new(self.inner.ring(), found)))
    }

    /// See [`ByteQueue::initial_reading_index`].
    pub fn initial_reading_index(&self) -> u64 {
        self.inner.initial_reading_index()
    }

    /// See [`ByteQueue::loss_count`].
    pub fn loss_count(&self) -> u64 {
        self.inner.loss_count()
    }

    /// See [`ByteQueue::corrupt_count`].
    pub fn corrupt_count(&self) -> u64 {
        self.inner.corrupt_count()
    }

    /// See [`ByteQueue::overrun_count`].
    pub fn overrun_count(&self) -> u64 {
        self.inner.overrun_count()
    }

    /// See [`ByteQueue::reset`].
    pub fn reset(&self) {
        self.inner.reset()
    }

    /// Capacity in elements.
    pub fn capacity(&self) -> u32 {
        self.inner.capacity()
    }

    /// `size_of::<T>()`.
    pub fn element_size(&self) -> u32 {
        self.inner.element_size()
    }

    /// Elements per control slot.
    pub fn items_per_slot(&self) -> u32 {
        self.inner.items_per_slot()
    }

    /// Number of control slots.
    pub fn slot_count(&self) -> u32 {
        self.inner.slot_count()
    }

    /// The options in effect.
    pub fn options(&self) -> &Options {
        self.inner.options()
    }

    /// The name of a shared queue as the system knows it (see
    /// [`ByteQueue::name`]).
    pub fn name(&self) -> Option<&str> {
        self.inner.name()
    }

    /// Whether the queue lives in shared memory.
    pub fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    /// Whether this handle initialized the shared segment.
    pub fn is_creator(&self) -> bool {
        self.inner.is_creator()
    }

    /// See [`ByteQueue::remove_shm`].
    pub fn remove_shm(&self) -> Result<bool> {
        self.inner.remove_shm()
    }

    /// Unlinks a shared-memory queue by name; see [`crate::remove`].
    pub fn remove(name: &str) -> Result<bool> {
        crate::shm::remove(name)
    }
}

/// A record of a [`Queue<T>`]: `len()` consecutive elements in the ring,
/// copied out on request. See [`ByteRecord`](crate::ByteRecord) for what lapping means for it.
pub struct Record<'q, T> {
    ring: &'q Ring,
    found: Found,
    _element: PhantomData<fn() -> T>,
}

impl<T> Clone for Record<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Record<'_, T> {}

impl<T> std::fmt::Debug for Record<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record").field("index", &self.found.index).field("len", &self.found.len).finish()
    }
}

impl<'q, T: Pod> Record<'q, T> {
    fn new(ring: &'q Ring, found: Found) -> Record<'q, T> {
        Record { ring, found, _element: PhantomData }
    }

    /// The element index the record was published at.
    pub fn index(&self) -> u64 {
        self.found.index
    }

    /// Number of elements (at least 1).
    pub fn len(&self) -> usize {
        self.found.len as usize
    }

    /// Always `false`: a record holds at least one element.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A copy of the first element.
    #[inline]
    pub fn value(&self) -> T {
        load_one(self.ring, self.found, 0)
    }

    /// A copy of element `i` of the record, if `i < len()`.
    #[inline]
    pub fn get(&self, i: usize) -> Option<T> {
        if i >= self.len() {
            return None;
        }
        Some(load_one(self.ring, self.found, i))
    }

    /// Copies up to `dst.len()` elements into `dst`; returns how many.
    #[inline]
    pub fn copy_to(&self, dst: &mut [T]) -> usize {
        let n = dst.len().min(self.len());
        self.ring.copy_record(self.found, 0, bytemuck::cast_slice_mut(&mut dst[..n]));
        n
    }

    /// Copies the record into a new vector.
    pub fn to_vec(&self) -> Vec<T> {
        let mut v = vec![T::zeroed(); self.len()];
        self.copy_to(&mut v);
        v
    }

    /// See [`ByteRecord::is_overwritten`](crate::ByteRecord::is_overwritten).
    #[inline]
    pub fn is_overwritten(&self) -> bool {
        self.ring.is_overwritten(self.found.index)
    }
}

/// Writes one `T` at `index` (an 8-byte `T` is one word store; the size test
/// is resolved at compile time).
#[inline]
fn write_one<T: Pod>(ring: &Ring, index: u64, value: T) {
    if std::mem::size_of::<T>() == 8 {
        let mut w = [0u8; 8];
        w.copy_from_slice(bytemuck::bytes_of(&value));
        ring.write_word(index, u64::from_ne_bytes(w));
    } else {
        ring.write_element(index, bytemuck::bytes_of(&value));
    }
}

/// Reads element `k` of a found record as a `T` (see `write_one`).
#[inline]
fn load_one<T: Pod>(ring: &Ring, found: Found, k: usize) -> T {
    let mut v = T::zeroed();
    if std::mem::size_of::<T>() == 8 {
        bytemuck::bytes_of_mut(&mut v).copy_from_slice(&ring.load_word(found, k).to_ne_bytes());
    } else {
        ring.load_element(found, k, bytemuck::bytes_of_mut(&mut v));
    }
    v
}
