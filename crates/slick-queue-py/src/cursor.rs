//! `AtomicCursor`: an atomic `u64` in memory the caller provides, shared by
//! consumers that split a queue's records between them (work stealing).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::args::{int_arg, u64_arg};
use crate::pybuf::with_buffer;

/// Bytes in a cursor word.
const WORD: usize = 8;

/// An atomic 64-bit read cursor living in ``buffer`` at byte ``offset``, for
/// several consumers that share one queue's records (work stealing): each
/// record read with ``SlickQueue.read(cursor)`` goes to exactly one of them.
///
/// ``buffer`` is any writable buffer: a ``bytearray(8)`` for threads of one
/// process, or ``SharedMemory.buf`` (or an ``mmap``) for processes; C++ peers
/// may share the same 8 bytes as a ``std::atomic<uint64_t>``. The word must
/// be 8-byte aligned and lie inside the buffer (``ValueError`` otherwise); a
/// read-only or non-buffer object is a ``TypeError``.
///
/// The cursor keeps a reference to ``buffer`` (so a temporary ``bytearray``
/// stays alive) and exports its memory only while an operation runs, so
/// ``SharedMemory.close()`` works as usual while the cursor exists; once the
/// memory is gone, operations raise ``ValueError`` instead of touching it.
#[pyclass(module = "slick_queue_py", name = "AtomicCursor", frozen)]
pub(crate) struct AtomicCursor {
    buffer: Mutex<Option<Py<PyAny>>>,
    offset: usize,
}

/// Checks that the word at `offset` lies inside `len` bytes from `base` and is
/// naturally aligned; returns its address.
fn word_at(base: *mut u8, len: usize, offset: usize) -> PyResult<*const AtomicU64> {
    if offset.checked_add(WORD).is_none_or(|end| end > len) {
        return Err(PyValueError::new_err(format!(
            "AtomicCursor needs 8 bytes at offset {offset}, but the buffer holds only {len} bytes"
        )));
    }
    let addr = (base as usize).wrapping_add(offset);
    if addr % WORD != 0 {
        return Err(PyValueError::new_err(format!(
            "AtomicCursor address is not 8-byte aligned (buffer address % 8 = {}, offset {offset}); \
             an atomic 64-bit word must be naturally aligned: use an aligned buffer and an offset \
             that is a multiple of 8",
            (base as usize) % WORD
        )));
    }
    // `offset + 8 <= len`, so this stays inside the exported buffer.
    Ok(base.wrapping_add(offset).cast::<AtomicU64>().cast_const())
}

fn lock(m: &Mutex<Option<Py<PyAny>>>) -> MutexGuard<'_, Option<Py<PyAny>>> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AtomicCursor {
    /// Runs `f` on the cursor word while its buffer is exported (valid even
    /// if `f` releases the GIL: the owner cannot free or unmap an exported
    /// buffer).
    pub(crate) fn with_word<R>(&self, py: Python<'_>, f: impl FnOnce(&AtomicU64) -> R) -> PyResult<R> {
        let buffer = lock(&self.buffer).as_ref().map(|b| b.clone_ref(py));
        let Some(buffer) = buffer else {
            return Err(PyRuntimeError::new_err("AtomicCursor has been released"));
        };
        let offset = self.offset;
        with_buffer(buffer.bind(py), true, |base, len| {
            let word = word_at(base, len, offset)?;
            // SAFETY: `word_at` checked that the 8 bytes at `word` lie inside
            // the buffer and are 8-aligned; the buffer stays exported until
            // `with_buffer` returns, which outlives this reference (it does
            // not escape `f`). Every party that shares a cursor (this
            // module, the Python and C++ peers) accesses the word atomically.
            Ok(f(unsafe { &*word }))
        })?
    }
}

#[pymethods]
impl AtomicCursor {
    #[new]
    #[pyo3(signature = (buffer, offset = None), text_signature = "(buffer, offset=0)")]
    fn new(buffer: &Bound<'_, PyAny>, offset: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let offset = match offset {
            None => 0,
            Some(o) => {
                let bad = || format!("offset must be an int >= 0 that fits the buffer, got {o}");
                let v: i64 = int_arg(o, bad)?;
                usize::try_from(v).map_err(|_| PyValueError::new_err(bad()))?
            }
        };
        // Validate now, so that a bad buffer fails here and not at first use.
        with_buffer(buffer, true, |base, len| word_at(base, len, offset).map(|_| ()))??;
        Ok(AtomicCursor { buffer: Mutex::new(Some(buffer.clone().unbind())), offset })
    }

    /// The cursor value (atomic load, acquire ordering).
    fn load(&self, py: Python<'_>) -> PyResult<u64> {
        self.with_word(py, |w| w.load(Ordering::Acquire))
    }

    /// Sets the cursor (atomic store, release ordering); ``value`` is an int
    /// in ``[0, 2**64)``.
    fn store(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let value = u64_arg(value, "value")?;
        self.with_word(py, |w| w.store(value, Ordering::Release))
    }

    /// Atomically replaces the value with ``desired`` if it equals
    /// ``expected``. Returns ``(True, expected)`` on success and
    /// ``(False, actual)`` otherwise. (It never fails spuriously, which the
    /// weak contract allows.)
    fn compare_exchange_weak(
        &self,
        py: Python<'_>,
        expected: &Bound<'_, PyAny>,
        desired: &Bound<'_, PyAny>,
    ) -> PyResult<(bool, u64)> {
        let expected = u64_arg(expected, "expected")?;
        let desired = u64_arg(desired, "desired")?;
        self.with_word(py, |w| match w.compare_exchange(expected, desired, Ordering::AcqRel, Ordering::Acquire) {
            Ok(v) => (true, v),
            Err(v) => (false, v),
        })
    }

    /// Drops the cursor's reference to its buffer; later operations raise
    /// ``RuntimeError``. Optional: the reference also goes when the cursor
    /// is garbage-collected.
    fn release(&self) {
        let old = lock(&self.buffer).take();
        drop(old);
    }

    /// The byte offset of the cursor word in its buffer.
    #[getter]
    fn offset(&self) -> usize {
        self.offset
    }

    fn __repr__(&self) -> String {
        let released = lock(&self.buffer).is_none();
        if released {
            format!("<AtomicCursor offset={} (released)>", self.offset)
        } else {
            format!("<AtomicCursor offset={}>", self.offset)
        }
    }
}
