//! `SlickQueue`: the Python face of [`slick_queue::ByteQueue`].
//!
//! Everything the queue does is the core's; this file holds the Python
//! methods: it converts results and errors and releases the GIL where a call
//! may wait. Arguments are parsed in `args.rs`; the element `memoryview`s
//! and what keeps the queue's memory alive for them are in `memory.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};
use slick_queue::ByteQueue;

use crate::args::{
    cursor_arg, deadline_from, i64_arg, next_chunk, timeout_arg, u64_arg, Cursor, QueueArgs, WAIT_CHUNK,
};
use crate::checked::Intact;
use crate::compat::Api;
use crate::errors::to_pyerr;
use crate::memory::{check_local_alloc, lock, Open};
use crate::pybuf::with_bytes;
use crate::traits::TraitsSnapshot;

/// A lock-free multi-producer multi-consumer ring queue of fixed-size
/// elements, in local memory (``name=None``: one process, any number of
/// threads) or in POSIX shared memory (``name=...``: any number of
/// processes, including C++ ``slick::SlickQueue`` and ``slick-queue-py``
/// peers).
///
/// * ``SlickQueue(size=..., element_size=...)``: a local queue.
/// * ``SlickQueue(name=..., size=..., element_size=...)``: creates the
///   shared-memory queue ``/dev/shm/<name>``, or opens it if it exists (its
///   size, element_size and items_per_slot must then match: ``ValueError``).
/// * ``SlickQueue(name=..., element_size=...)``: opens an existing queue and
///   adopts its size and items_per_slot (``FileNotFoundError`` if missing).
///
/// ``size`` is the capacity in elements (a power of two), ``element_size``
/// the bytes per element. ``traits`` is a ``QueueTraits`` subclass selecting
/// optional features; ``items_per_slot`` (a power of two <= size) makes every
/// reservation a multiple of that many elements and shrinks the control
/// array accordingly. A segment that is foreign, corrupt, made by a newer
/// peer or built with other traits raises ``RuntimeError``.
/// ``exclusive_producer=True`` promises that this object is the queue's only
/// producer (reservation without a locked instruction). ``poll_interval``
/// (seconds, default 0.001) is how often a sleeping ``read_wait`` looks at
/// the queue: the bound on how late it sees records of producers that do
/// not ring the doorbell (C++ and the original ``slick-queue-py``), and the
/// wake-up rate, so the CPU, of an idle waiter.
///
/// Producers ``reserve(n)`` elements, write them through ``q[index]`` (a
/// writable ``memoryview`` of one element, directly in the queue memory,
/// valid even after ``close()``), then ``publish(index, n)``; or call
/// ``write(data)``. Consumers ``read()`` with their own int cursor (each sees
/// every record) or with a shared ``AtomicCursor`` (each record goes to one
/// of them).
///
/// The queue is lossy: producers never wait, and a consumer that falls more
/// than ``size`` elements behind skips ahead (see ``loss_count()``). Nothing
/// is ever unlinked implicitly: call ``unlink()``, ``remove_shm()`` or
/// ``SlickQueue.remove(name)`` when a shared queue is no longer needed.
#[pyclass(module = "slick_queue_py", name = "SlickQueue", frozen, subclass)]
pub(crate) struct SlickQueue {
    pub(crate) open: Mutex<Open>,
    /// The name without its leading `/` (`None` for a local queue).
    name: Option<String>,
    /// Whether `unlink()` still has to unlink the name (it does so once).
    pending_unlink: AtomicBool,
    pub(crate) size: u32,
    pub(crate) element_size: u32,
    items_per_slot: u32,
    slot_count: u32,
    traits: TraitsSnapshot,
    /// Whether this object created (initialized) the segment.
    is_creator: bool,
    /// The call shapes this queue follows (see `compat.rs`).
    pub(crate) api: Api,
    /// Elements this object's copying reads dropped because a lapping
    /// producer overwrote them while they were copied (see `checked.rs`).
    pub(crate) overwritten: AtomicU64,
}

/// The exception a wait raises when `close()` ends it.
fn closed_while_waiting() -> PyErr {
    PyValueError::new_err("read_wait() ended: the SlickQueue was closed while this thread waited")
}

impl SlickQueue {
    /// The open queue, or `ValueError` after `close()`.
    pub(crate) fn queue(&self) -> PyResult<Arc<ByteQueue>> {
        match &lock(&self.open).queue {
            Some(q) => Ok(Arc::clone(q)),
            None => Err(PyValueError::new_err("operation on a closed SlickQueue")),
        }
    }

    /// Whether `close()` was called.
    fn is_closed(&self) -> bool {
        lock(&self.open).queue.is_none()
    }

    pub(crate) fn err(&self, e: slick_queue::Error) -> PyErr {
        to_pyerr(e, self.name.as_deref())
    }

    fn read_one<'py>(
        &self,
        py: Python<'py>,
        queue: &ByteQueue,
        cursor: Cursor<'_, 'py>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        match cursor {
            Cursor::Private(mut pos) => match self.next_private(py, queue, &mut pos)? {
                Some((bytes, n, _)) => (bytes, n, pos).into_pyobject(py),
                None => (py.None(), 0u32, pos).into_pyobject(py),
            },
            Cursor::Shared(c) => {
                let found = c.get().with_word(py, |w| self.next_shared(py, queue, w))??;
                self.shared_result(py, found)
            }
        }
    }
}

#[pymethods]
impl SlickQueue {
    #[new]
    #[classmethod]
    #[pyo3(
        signature = (*, name = None, size = None, element_size = None, traits = None, items_per_slot = None, allow_foreign_owner = false, exclusive_producer = false, poll_interval = None),
        text_signature = "(*, name=None, size=None, element_size=None, traits=None, items_per_slot=None, allow_foreign_owner=False, exclusive_producer=False, poll_interval=None)"
    )]
    // One parameter per Python keyword of the constructor.
    #[allow(clippy::too_many_arguments)]
    fn new(
        cls: &Bound<'_, PyType>,
        py: Python<'_>,
        name: Option<String>,
        size: Option<&Bound<'_, PyAny>>,
        element_size: Option<&Bound<'_, PyAny>>,
        traits: Option<&Bound<'_, PyAny>>,
        items_per_slot: Option<&Bound<'_, PyAny>>,
        allow_foreign_owner: bool,
        exclusive_producer: bool,
        poll_interval: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let api = Api::for_class(cls)?;
        let QueueArgs { size, element_size, traits, options } = QueueArgs::parse(
            name.is_some(),
            size,
            element_size,
            traits,
            items_per_slot,
            allow_foreign_owner,
            exclusive_producer,
            poll_interval,
        )?;

        let queue = match (&name, size) {
            (None, None) => {
                return Err(PyValueError::new_err("size and element_size are required for a local-memory queue"))
            }
            (None, Some(size)) => {
                check_local_alloc(u64::from(size), element_size, options.get_items_per_slot())?;
                ByteQueue::with_options(size, element_size, &options).map_err(|e| to_pyerr(e, None))?
            }
            (Some(n), Some(size)) => py
                .detach(|| ByteQueue::create_or_open(n, size, element_size, &options))
                .map_err(|e| to_pyerr(e, Some(n)))?,
            (Some(n), None) => {
                py.detach(|| ByteQueue::open(n, element_size, &options)).map_err(|e| to_pyerr(e, Some(n)))?
            }
        };
        let bare = name.map(|n| n.strip_prefix('/').map(str::to_owned).unwrap_or(n));
        Ok(SlickQueue {
            pending_unlink: AtomicBool::new(bare.is_some()),
            name: bare,
            size: queue.capacity(),
            element_size: queue.element_size(),
            items_per_slot: queue.items_per_slot(),
            slot_count: queue.slot_count(),
            traits,
            is_creator: queue.is_creator(),
            api,
            overwritten: AtomicU64::new(0),
            open: Open::new(queue),
        })
    }

    /// Does nothing: the queue is built by ``__new__``. Accepts the
    /// constructor's arguments so that a Python subclass may call
    /// ``super().__init__(name=..., size=..., ...)``.
    #[pyo3(signature = (*args, **kwargs))]
    fn __init__(&self, args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) {
        let _ = (args, kwargs);
    }

    /// Whether this object created the shared-memory segment (``False``
    /// when it opened one that existed); ``True`` for a local queue.
    #[getter]
    fn is_creator(&self) -> bool {
        self.is_creator
    }

    /// The shared-memory name without its leading ``/`` (``None`` for a local queue).
    #[getter]
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Capacity in elements (a power of two).
    #[getter]
    fn size(&self) -> u32 {
        self.size
    }

    /// Bytes per element.
    #[getter]
    fn element_size(&self) -> u32 {
        self.element_size
    }

    /// Whether the queue lives in shared memory.
    #[getter]
    fn use_shm(&self) -> bool {
        self.name.is_some()
    }

    /// Elements per control slot (1 unless set at creation).
    #[getter]
    fn items_per_slot(&self) -> u32 {
        self.items_per_slot
    }

    /// Number of control slots: ``size // items_per_slot``.
    #[getter]
    fn slot_count(&self) -> u32 {
        self.slot_count
    }

    /// The traits the queue was built with (a read-only snapshot).
    #[getter]
    fn traits(&self) -> TraitsSnapshot {
        self.traits
    }

    /// Reserves ``n`` contiguous elements for writing (safe with any number of
    /// producers) and returns the index of the first. Write them through
    /// ``q[index + i]``, then ``publish(index, n)``.
    ///
    /// ``n == 0`` raises ``ValueError``; ``n > size`` raises ``RuntimeError``.
    #[pyo3(signature = (n = None), text_signature = "($self, n=1)")]
    fn reserve(&self, n: Option<&Bound<'_, PyAny>>) -> PyResult<u64> {
        let n = n.map_or(Ok(1), |n| i64_arg(n, "n"))?;
        let q = self.queue()?;
        if n < 0 {
            return Err(PyValueError::new_err(format!("n must be at least 1, got {n}")));
        }
        let n32 = u32::try_from(n)
            .map_err(|_| self.err(slick_queue::Error::TooManyElements { n: n as u64, size: self.size }))?;
        q.reserve(n32).map_err(|e| self.err(e))
    }

    /// Publishes the ``n`` elements reserved at ``index``: consumers see
    /// them, and their bytes, from now on.
    #[pyo3(signature = (index, n = None), text_signature = "($self, index, n=1)")]
    fn publish(&self, index: &Bound<'_, PyAny>, n: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let n = n.map_or(Ok(1), |n| i64_arg(n, "n"))?;
        let q = self.queue()?;
        let index = u64_arg(index, "index")?;
        if n < 0 {
            return Err(PyValueError::new_err(format!("n must be at least 1, got {n}")));
        }
        let n32 = u32::try_from(n)
            .map_err(|_| self.err(slick_queue::Error::TooManyElements { n: n as u64, size: self.size }))?;
        q.publish(index, n32).map_err(|e| self.err(e))
    }

    /// ``q[index]``: a writable ``memoryview`` of the ``element_size`` bytes of
    /// element ``index`` (taken modulo ``size``), directly in the queue's
    /// memory (no copy). The view stays valid after ``close()``: the memory
    /// is released only when the queue and every view of it are gone.
    fn __getitem__<'py>(&self, py: Python<'py>, index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        self.element_view(py, index)
    }

    /// Refuses iteration: indices wrap around the ring, so ``q[0], q[1], ...``
    /// would never end. Read records with ``read()`` or ``read_batch()``.
    fn __iter__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(
            "SlickQueue is not iterable (its indices wrap around the ring); read records with read() or read_batch()",
        ))
    }

    /// Reads the next record.
    ///
    /// * ``read(read_index: int) -> (data, size, new_read_index)``: a private
    ///   cursor (every reader sees every record). ``data`` holds the record's
    ///   ``size * element_size`` bytes; when nothing new is published it is
    ///   ``(None, 0, read_index)``. Start at 0 for everything still in the
    ///   ring, or at ``initial_reading_index()`` for new records only.
    /// * ``read(cursor: AtomicCursor) -> (data, size)``: a cursor shared by
    ///   several consumers (work stealing): each record goes to exactly one of
    ///   them; ``(None, 0)`` when nothing is available.
    ///
    /// Lossy: a reader more than ``size`` elements behind skips ahead; see
    /// ``loss_count()``.
    fn read<'py>(&self, py: Python<'py>, read_index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
        let q = self.queue()?;
        let cursor = cursor_arg(read_index)?;
        self.read_one(py, &q, cursor)
    }

    /// Like ``read()``, but waits up to ``timeout`` seconds (``None``: as long
    /// as it takes) for a record to arrive. Returns what ``read()`` returns,
    /// with ``data`` ``None`` if the time ran out.
    ///
    /// The wait releases the GIL (other threads run), spins only briefly and
    /// then sleeps on the queue's doorbell: a publish by this package (any
    /// process) wakes it within microseconds, and it looks at the queue at
    /// least every millisecond, so records of producers that do not ring
    /// (C++ and the original ``slick-queue-py``) are seen at most that late.
    /// An idle wait costs almost no CPU. It runs signal handlers at least
    /// every 50 ms, so Ctrl-C interrupts it with ``KeyboardInterrupt``;
    /// ``close()`` from another thread rings the doorbell and so ends it at
    /// once with ``ValueError`` (the queue was closed while waiting).
    #[pyo3(signature = (read_index, timeout = None))]
    fn read_wait<'py>(
        &self,
        py: Python<'py>,
        read_index: &Bound<'py, PyAny>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let q = self.queue()?;
        let cursor = cursor_arg(read_index)?;
        let deadline = deadline_from(timeout_arg(timeout)?)?;
        // close() from another thread rings the doorbell: the wait stops.
        let closed = || self.is_closed();
        match cursor {
            Cursor::Private(mut pos) => {
                // One attempt with the GIL held: a record that is already
                // there costs no release.
                if let Some((bytes, n, _)) = self.next_private(py, &q, &mut pos)? {
                    return (bytes, n, pos).into_pyobject(py);
                }
                loop {
                    let Some(chunk) = next_chunk(deadline) else {
                        return (py.None(), 0u32, pos).into_pyobject(py);
                    };
                    let found = py.detach(|| q.read_timeout_or_stop(&mut pos, Some(chunk), &closed));
                    if let Some(rec) = found {
                        // Overwritten while copied: dropped (counted); wait on.
                        if let Some(bytes) = self.checked_bytes(py, &rec)? {
                            return (bytes, rec.len(), pos).into_pyobject(py);
                        }
                    }
                    if closed() {
                        return Err(closed_while_waiting());
                    }
                    py.check_signals()?;
                }
            }
            Cursor::Shared(c) => {
                let found = c.get().with_word(py, |word| -> PyResult<Option<Intact<'py>>> {
                    if let Some(found) = self.next_shared(py, &q, word)? {
                        return Ok(Some(found));
                    }
                    loop {
                        let Some(chunk) = next_chunk(deadline) else { return Ok(None) };
                        let found = py.detach(|| q.read_shared_timeout_or_stop(word, Some(chunk), &closed));
                        if let Some(rec) = found {
                            if let Some(bytes) = self.checked_bytes(py, &rec)? {
                                return Ok(Some((bytes, rec.len(), rec.index())));
                            }
                        }
                        if closed() {
                            return Err(closed_while_waiting());
                        }
                        py.check_signals()?;
                    }
                })??;
                self.shared_result(py, found)
            }
        }
    }

    /// ``await q.read_async(read_index, timeout=None)``: ``read_wait()`` for
    /// asyncio. Returns what ``read_wait()`` returns; never blocks the event
    /// loop. All coroutines waiting on one queue share one helper thread
    /// (started on demand, ended when nobody waits), which sleeps on the
    /// queue's doorbell with the GIL released. Cancelling the coroutine (or
    /// its timeout) withdraws the wait; with an ``AtomicCursor``, a record
    /// claimed in the instant of a cancellation is lost to this consumer.
    /// ``close()`` ends pending waits with ``ValueError``.
    #[pyo3(signature = (read_index, timeout = None))]
    fn read_async<'py>(
        slf: &Bound<'py, Self>,
        read_index: &Bound<'py, PyAny>,
        timeout: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        slf.get().queue()?;
        cursor_arg(read_index)?;
        let timeout = timeout_arg(timeout)?;
        // A timeout too large to represent is as good as none (as in read_wait).
        let timeout = deadline_from(timeout)?.and(timeout);
        py.import("slick_queue_py._aio")?.call_method1("read_async", (slf, read_index, timeout))
    }

    /// For the asyncio helper: waits, GIL released, until something is
    /// published at or past element ``position`` (``True``), or ``timeout``
    /// seconds pass, the doorbell rings or the queue is closed (``False``).
    fn _wait_published(&self, py: Python<'_>, position: u64, timeout: f64) -> PyResult<bool> {
        let q = self.queue()?;
        let timeout = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(WAIT_CHUNK).min(WAIT_CHUNK);
        let closed = || lock(&self.open).queue.is_none();
        Ok(py.detach(|| q.wait_published(position, Some(timeout), &closed)))
    }

    /// Reads up to ``max_records`` records in one call (fewer if fewer are
    /// published; never waits).
    ///
    /// * ``read_batch(read_index: int, max_records) -> (list[bytes], new_read_index)``
    /// * ``read_batch(cursor: AtomicCursor, max_records) -> list[bytes]``
    ///   (each record claimed for this consumer alone).
    ///
    /// Each ``bytes`` holds one record: ``len(data) // element_size`` elements.
    fn read_batch<'py>(
        &self,
        py: Python<'py>,
        read_index: &Bound<'py, PyAny>,
        max_records: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let max_records = i64_arg(max_records, "max_records")?;
        let q = self.queue()?;
        let cursor = cursor_arg(read_index)?;
        if max_records < 1 {
            return Err(PyValueError::new_err(format!("max_records must be at least 1, got {max_records}")));
        }
        let max = usize::try_from(max_records).unwrap_or(usize::MAX);
        let mut out: Vec<Bound<'py, PyBytes>> = Vec::with_capacity(max.min(256));
        match cursor {
            Cursor::Private(mut pos) => {
                while out.len() < max {
                    let Some((bytes, _, _)) = self.next_private(py, &q, &mut pos)? else { break };
                    out.push(bytes);
                }
                let list = PyList::new(py, out)?;
                Ok((list, pos).into_pyobject(py)?.into_any())
            }
            Cursor::Shared(c) => {
                c.get().with_word(py, |word| -> PyResult<()> {
                    while out.len() < max {
                        let Some((bytes, _, _)) = self.next_shared(py, &q, word)? else { break };
                        out.push(bytes);
                    }
                    Ok(())
                })??;
                Ok(PyList::new(py, out)?.into_any())
            }
        }
    }

    /// Writes ``data`` (``bytes`` or any bytes-like object) as one record and
    /// returns its index: reserves as many elements as it needs (at least
    /// one), copies it, zero-fills the rest of the last element and
    /// publishes. ``RuntimeError`` if it needs more than ``size`` elements.
    fn write(&self, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        let q = self.queue()?;
        if data.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err("write() takes a bytes-like object, not str: encode it first"));
        }
        with_bytes(data, |bytes| match q.push(bytes) {
            Ok(index) => Ok(index),
            Err(slick_queue::Error::TooManyElements { n, size }) => Err(PyRuntimeError::new_err(format!(
                "write() of {} bytes needs {n} elements of {} bytes, but the queue holds only {size}; \
                 split the data or use a larger queue",
                bytes.len(),
                self.element_size
            ))),
            Err(e) => Err(self.err(e)),
        })?
    }

    /// The most recently published record as ``bytes`` (``size *
    /// element_size`` bytes), or ``None`` if nothing is published or its slot
    /// has been reused since. ``RuntimeError`` if the queue was built without
    /// ``traits.enable_read_last``.
    ///
    /// With ``SLICK_QUEUE_PY_API=2.3`` (slick-queue-py 2.3.0's shape) it
    /// returns ``(data, size)`` instead, ``(None, 0)`` when there is nothing.
    /// A record a producer overwrote while it was being copied is never
    /// returned (``None`` instead).
    fn read_last<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let q = self.queue()?;
        let rec = q.read_last().map_err(|e| self.err(e))?;
        let found = self.checked_last(py, rec)?;
        match (self.api, found) {
            (Api::V1, Some((bytes, _))) => Ok(bytes.into_any()),
            (Api::V1, None) => Ok(py.None().into_bound(py)),
            (Api::V23, Some((bytes, n))) => Ok((bytes, n).into_pyobject(py)?.into_any()),
            (Api::V23, None) => Ok((py.None(), 0u32).into_pyobject(py)?.into_any()),
        }
    }

    /// Elements this queue object's readers skipped because producers lapped
    /// them (0 when ``traits.enable_loss_detection`` is off).
    ///
    /// Includes the elements of records dropped because a producer
    /// overwrote them while they were being copied (``overwritten_count()``),
    /// so that elements returned + ``loss_count()`` equal those published.
    fn loss_count(&self) -> PyResult<u64> {
        let q = self.queue()?;
        if !self.traits.enable_loss_detection {
            return Ok(0);
        }
        Ok(q.loss_count() + self.overwritten.load(Ordering::Relaxed))
    }

    /// Where a consumer that wants only records published from now on starts
    /// reading (the producers' next index).
    fn initial_reading_index(&self) -> PyResult<u64> {
        Ok(self.queue()?.initial_reading_index())
    }

    /// Empties the queue (every slot, the write index, the last published
    /// index and this object's loss count). Not meant to run while other
    /// threads or processes use the queue.
    fn reset(&self) -> PyResult<()> {
        self.queue()?.reset();
        Ok(())
    }

    /// Detaches from the queue; idempotent. Never unlinks a shared segment.
    /// Element views handed out before stay valid (they keep the memory).
    /// Waits in ``read_wait()``/``read_async()`` on this object end with
    /// ``ValueError``.
    fn close(&self) {
        let (queue, view) = {
            let mut open = lock(&self.open);
            (open.queue.take(), open.data_view.take())
        };
        // Wake every read_wait/read_async sleeping on this queue: they see
        // the handle closed (others' sleepers re-check and sleep again).
        if let Some(q) = &queue {
            q.wake_waiters();
        }
        drop(view);
        drop(queue);
    }

    /// Unlinks the shared-memory segment (once: a repeat, or a call after
    /// ``remove_shm()``, does nothing, so it cannot delete a newer segment of
    /// the same name). Works after ``close()``; a no-op for a local queue.
    /// Processes that have the queue open keep using it.
    fn unlink(&self) -> PyResult<()> {
        let Some(name) = &self.name else { return Ok(()) };
        if self.pending_unlink.swap(false, Ordering::AcqRel) {
            slick_queue::remove(name).map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Unlinks the segment's name now (every call, like C++ ``remove_shm()``);
    /// ``True`` if it was removed, ``False`` if it was already gone or the
    /// queue is local.
    fn remove_shm(&self) -> PyResult<bool> {
        let Some(name) = &self.name else { return Ok(false) };
        self.pending_unlink.store(false, Ordering::Release);
        slick_queue::remove(name).map_err(|e| self.err(e))
    }

    /// Unlinks the shared-memory queue ``name`` (a leading ``/`` is accepted)
    /// without attaching to it: ``True`` if removed, ``False`` if it did not
    /// exist. Typically called at startup to clear a previous run's segment.
    #[staticmethod]
    fn remove(name: &str) -> PyResult<bool> {
        slick_queue::remove(name).map_err(|e| to_pyerr(e, Some(name)))
    }

    /// The system's name of the segment, or ``None`` for a local queue: the
    /// POSIX name with its leading ``/`` (what C++ ``shm_open`` takes) on
    /// Linux and macOS, the mapping's name as-is on Windows (as the peer).
    fn get_shm_name(&self) -> Option<String> {
        self.name.as_ref().map(|n| if cfg!(windows) { n.clone() } else { format!("/{n}") })
    }

    /// Returns the queue itself; ``with`` closes it at the end (never unlinks).
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Closes the queue (never unlinks it).
    #[pyo3(signature = (exc_type = None, exc_value = None, traceback = None))]
    fn __exit__(
        &self,
        exc_type: Option<&Bound<'_, PyAny>>,
        exc_value: Option<&Bound<'_, PyAny>>,
        traceback: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        let _ = (exc_type, exc_value, traceback);
        self.close();
        false
    }

    fn __repr__(&self) -> String {
        let state = if lock(&self.open).queue.is_some() { "open" } else { "closed" };
        match &self.name {
            Some(n) => format!(
                "SlickQueue(name={n:?}, size={}, element_size={}, items_per_slot={}) [{state}]",
                self.size, self.element_size, self.items_per_slot
            ),
            None => format!(
                "SlickQueue(size={}, element_size={}, items_per_slot={}) [{state}]",
                self.size, self.element_size, self.items_per_slot
            ),
        }
    }

    // ---- slick-queue-py 2.3.0 compatibility, torn-record accounting and
    // ---- batch calls (compat.rs, checked.rs, batch.rs).

    /// ``size - 1``: ANDed with an index, the element's position in the ring
    /// (slick-queue-py 2.3.0's attribute).
    #[getter]
    fn mask(&self) -> u64 {
        u64::from(self.size) - 1
    }

    /// The call shapes this queue follows: ``"1.0"`` (the original README:
    /// ``read(AtomicCursor) -> (data, size)``, ``read_last() -> bytes |
    /// None``) or ``"2.3"`` (slick-queue-py 2.3.0: ``(data, size,
    /// read_index)`` and ``(data, size)``). Chosen when the queue is built:
    /// by its class (``slick_queue_py.api23.SlickQueue``,
    /// ``slick_queue_py.api10.SlickQueue``) or by the environment variable
    /// ``SLICK_QUEUE_PY_API`` at import.
    #[getter]
    fn api(&self) -> &'static str {
        self.api.as_str()
    }

    /// Elements this queue object's copying reads (``read``, ``read_wait``,
    /// ``read_batch``, ``read_into``) dropped because a lapping producer
    /// overwrote them while they were being copied. They are part of
    /// ``loss_count()`` too (when loss detection is on); a torn record is
    /// never returned.
    fn overwritten_count(&self) -> u64 {
        self.overwritten.load(Ordering::Relaxed)
    }

    /// Whether a producer may have written into the record published at
    /// ``index`` since it was published. Views from ``q[index]`` are not
    /// checked (they are the queue's memory itself): after using a view of
    /// a record, call this; ``False`` means what the view showed was the
    /// published record. (``read_index`` of a 2.3-style
    /// ``read(AtomicCursor)`` is such an index.)
    fn is_overwritten(&self, index: &Bound<'_, PyAny>) -> PyResult<bool> {
        let q = self.queue()?;
        let index = u64_arg(index, "index")?;
        Ok(q.is_overwritten(index))
    }

    /// Writes every element of ``buffer`` as its own one-element record,
    /// with a single reservation, and returns the first record's index
    /// (element ``i`` of the buffer is record ``index + i``).
    ///
    /// ``buffer`` is any contiguous object with the buffer protocol
    /// (``bytes``, ``bytearray``, ``memoryview``, ``array.array``, a NumPy
    /// array...) whose length in bytes is a non-zero multiple of
    /// ``element_size`` (``ValueError`` otherwise); at most ``size``
    /// elements (``RuntimeError``). The records are published in order; the
    /// GIL is released while large batches are copied. Records of several
    /// elements are ``write()``'s job.
    fn write_batch(&self, py: Python<'_>, buffer: &Bound<'_, PyAny>) -> PyResult<u64> {
        self.write_batch_impl(py, buffer)
    }

    /// Copies as many whole records as fit, back to back, into the writable
    /// ``buffer`` and returns ``(elements, next_cursor)``: the number of
    /// elements copied (the first ``elements * element_size`` bytes of the
    /// buffer hold them) and where to read next.
    ///
    /// * ``read_into(buffer, read_index: int)``: a private cursor; pass
    ///   ``next_cursor`` to the next call.
    /// * ``read_into(buffer, cursor: AtomicCursor)``: records claimed for
    ///   this consumer at a shared cursor, each run of consecutive records
    ///   that fits with one compare-and-swap (a record that does not fit is
    ///   not claimed: it stays for the next call, here or in another
    ///   consumer); ``next_cursor`` is the cursor's value afterwards
    ///   (informational).
    ///
    /// ``(0, cursor)`` when nothing is published; never waits. Records a
    /// lapping producer overwrote while they were copied are skipped and
    /// counted (``overwritten_count()``). ``ValueError`` if the buffer cannot
    /// hold even the next record. No Python object is made per record; large
    /// copies release the GIL.
    fn read_into(
        &self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        cursor: &Bound<'_, PyAny>,
    ) -> PyResult<(usize, u64)> {
        match cursor_arg(cursor)? {
            Cursor::Private(pos) => self.read_into_private(py, buffer, pos),
            Cursor::Shared(c) => self.read_into_shared(py, buffer, c),
        }
    }
}
