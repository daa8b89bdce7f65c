//! The queue's memory as Python sees it: who owns it (`Open`, the state
//! `close()` gives up), the zero-copy element `memoryview`s of `q[index]`
//! and what keeps them valid, records copied out as `bytes`, and the
//! allocation check of a local queue.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyMemoryView, PySlice};
use slick_queue::{layout, ByteQueue, ByteRecord};

use crate::args::type_name;
use crate::queue::SlickQueue;

/// The name of the attribute that ties a data view to the queue memory.
const KEEPALIVE_ATTR: &str = "_slick_queue_memory";

/// Owns a reference to a queue's memory (heap block or mapping) on behalf of
/// the `memoryview`s that `SlickQueue.__getitem__` hands out. Attached to the
/// ctypes array the views are built on, so the memory lives exactly as long
/// as the queue or any view (slices and casts included) still does.
#[pyclass(module = "slick_queue_py", name = "_QueueMemory", frozen)]
struct QueueMemory {
    _queue: Arc<ByteQueue>,
}

/// What `close()` gives up.
pub(crate) struct Open {
    pub(crate) queue: Option<Arc<ByteQueue>>,
    /// A writable `memoryview` (format `B`) of the whole data array, made on
    /// the first `q[index]`; element views are slices of it.
    pub(crate) data_view: Option<Py<PyAny>>,
}

impl Open {
    /// A queue just opened, with no view of it yet.
    pub(crate) fn new(queue: ByteQueue) -> Mutex<Open> {
        Mutex::new(Open { queue: Some(Arc::new(queue)), data_view: None })
    }
}

/// Locks the open state (a panic while it was held leaves it usable).
pub(crate) fn lock(m: &Mutex<Open>) -> MutexGuard<'_, Open> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A record's bytes as a new `bytes` object.
pub(crate) fn record_bytes<'py>(py: Python<'py>, rec: &ByteRecord<'_>) -> PyResult<Bound<'py, PyBytes>> {
    PyBytes::new_with(py, rec.byte_len(), |buf| {
        rec.copy_to(buf);
        Ok(())
    })
}

/// Checks that a local queue's memory can be allocated, before the core
/// allocates it infallibly (an allocation failure would abort the
/// interpreter): asks the allocator for as much as the data and control
/// arrays need, and raises `MemoryError` if it refuses.
pub(crate) fn check_local_alloc(size: u64, element_size: u32, items_per_slot: Option<u32>) -> PyResult<()> {
    let slots = size / u64::from(items_per_slot.unwrap_or(1)).max(1);
    let bytes = (size as usize)
        .checked_mul(element_size as usize)
        .and_then(|data| data.checked_add((slots as usize).checked_mul(layout::SLOT_SIZE)?));
    if bytes.is_none_or(|b| Vec::<u8>::new().try_reserve_exact(b).is_err()) {
        return Err(PyMemoryError::new_err(format!(
            "cannot allocate a local queue of {size} elements of {element_size} bytes"
        )));
    }
    Ok(())
}

impl SlickQueue {
    /// The writable `memoryview` of the whole data array (created once).
    ///
    /// Built on a ctypes array over the queue memory that holds a
    /// [`QueueMemory`]: every view derived from it (slices, casts) keeps
    /// that array, hence the memory, alive. (The stable ABI of CPython 3.8
    /// offers no way for an extension type to export a buffer itself.)
    fn data_view<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let queue = {
            let open = lock(&self.open);
            if let Some(v) = &open.data_view {
                return Ok(v.clone_ref(py).into_bound(py));
            }
            match &open.queue {
                Some(q) => Arc::clone(q),
                None => return Err(PyValueError::new_err("operation on a closed SlickQueue")),
            }
        };
        let data = queue.element_ptr(0);
        let len = queue.capacity() as usize * queue.element_size() as usize;
        if data.is_null() {
            return Err(PyRuntimeError::new_err("the queue has no data array"));
        }
        // Why the views cannot dangle (the Python side of `element_ptr`):
        // `data` starts the queue's data array, which is `len` bytes long
        // (capacity * element size) and never moves: a heap block allocated
        // once, or a mapping made once, freed only with the last
        // `Arc<ByteQueue>`. The ctypes array over it gets a `QueueMemory`
        // holding such an `Arc` before any view of it exists, and every
        // memoryview derived from it (this one, its slices and casts)
        // references the array. Python writes through a view are plain
        // stores; they race only with readers a producer has lapped, as with
        // the C++ `operator[]` (see the core's `element_ptr`). The array is
        // private: only code that reaches into `view.obj` and deletes
        // `_slick_queue_memory` could break this, as ctypes itself can.
        let ctypes = py.import("ctypes")?;
        let array_type = ctypes.getattr("c_ubyte")?.mul(len)?;
        let array = array_type.call_method1("from_address", (data as usize,))?;
        array.setattr(KEEPALIVE_ATTR, Py::new(py, QueueMemory { _queue: queue })?)?;
        let view = PyMemoryView::from(&array)?.call_method1("cast", ("B",))?;
        let mut open = lock(&self.open);
        if open.queue.is_none() {
            return Err(PyValueError::new_err("operation on a closed SlickQueue"));
        }
        let stored = open.data_view.get_or_insert_with(|| view.clone().unbind()).clone_ref(py);
        drop(open);
        Ok(stored.into_bound(py))
    }

    /// `q[index]`: a writable `memoryview` of element `index` (any int,
    /// taken modulo `size`; negative ones count from the end, like any
    /// `int & mask`), a slice of the data view.
    pub(crate) fn element_view<'py>(&self, py: Python<'py>, index: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let mask = u64::from(self.size) - 1;
        let pos = if let Ok(i) = index.extract::<i64>() {
            (i as u64) & mask
        } else if let Ok(i) = index.extract::<u64>() {
            i & mask
        } else if index.is_instance_of::<PyInt>() {
            index.bitand(mask)?.extract::<u64>()?
        } else {
            return Err(PyTypeError::new_err(format!("queue indices must be integers, not {}", type_name(index))));
        };
        let view = self.data_view(py)?;
        let es = self.element_size as usize;
        let start = pos as usize * es;
        let slice = PySlice::new(py, start as isize, (start + es) as isize, 1);
        view.get_item(slice)
    }
}
