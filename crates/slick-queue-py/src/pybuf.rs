//! Borrowing the memory of a Python object that exports the buffer protocol
//! (`bytes`, `bytearray`, `memoryview`, `mmap`, `SharedMemory.buf`, numpy
//! arrays...) for exactly as long as a closure runs.
//!
//! The wheel targets the stable ABI of CPython 3.8 (`abi3-py38`), whose
//! limited C API only gained `Py_buffer`, `PyObject_GetBuffer` and
//! `PyBuffer_Release` in 3.11; PyO3 therefore hides its `PyBuffer` wrapper in
//! such builds. The three are nonetheless exported by every CPython since 3.0,
//! with the same `Py_buffer` layout since 3.3, which 3.11 then froze as part
//! of the stable ABI. They are declared here, for Linux/macOS where an
//! extension resolves symbols against the running interpreter.
//!
//! While the closure runs the buffer stays *exported*: its owner cannot be
//! resized, closed or unmapped (`bytearray` refuses to resize,
//! `SharedMemory.close()` raises `BufferError`), so the pointer is valid even
//! while the closure releases the GIL.

use std::ffi::{c_char, c_int, c_void};
use std::mem::MaybeUninit;

use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;

/// `Py_buffer` (Include/pybuffer.h), unchanged since CPython 3.3.
#[repr(C)]
struct RawBuffer {
    buf: *mut c_void,
    obj: *mut ffi::PyObject,
    len: ffi::Py_ssize_t,
    itemsize: ffi::Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut ffi::Py_ssize_t,
    strides: *mut ffi::Py_ssize_t,
    suboffsets: *mut ffi::Py_ssize_t,
    internal: *mut c_void,
}

// The layout CPython uses on 64-bit targets (80 bytes, pointer-aligned).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<RawBuffer>() == 80);

/// `PyBUF_SIMPLE`: a contiguous run of bytes, read access.
const PYBUF_SIMPLE: c_int = 0;
/// `PyBUF_WRITABLE`: the same, writable.
const PYBUF_WRITABLE: c_int = 0x0001;

extern "C" {
    fn PyObject_GetBuffer(obj: *mut ffi::PyObject, view: *mut RawBuffer, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut RawBuffer);
}

/// Releases an acquired `Py_buffer` when dropped (also on unwinding).
struct Release(*mut RawBuffer);

impl Drop for Release {
    fn drop(&mut self) {
        // SAFETY: `self.0` points at a `Py_buffer` that `PyObject_GetBuffer`
        // filled successfully and that is released exactly once, here. The
        // GIL is held: `with_buffer` is entered with it (it takes a `Bound`)
        // and any closure that released it has re-acquired it on return or
        // unwind (PyO3's `detach` restores it in a guard).
        unsafe { PyBuffer_Release(self.0) }
    }
}

/// Exports `obj`'s buffer (writable if asked), runs `f` with its address and
/// length in bytes, then releases it.
///
/// A buffer that is not writable when `writable` is asked is a `TypeError`
/// (CPython reports it as `BufferError`); errors from the exporter otherwise
/// propagate unchanged (`TypeError` for an object without the buffer
/// protocol, `ValueError` for a released memoryview or a closed mmap).
pub(crate) fn with_buffer<R>(
    obj: &Bound<'_, PyAny>,
    writable: bool,
    f: impl FnOnce(*mut u8, usize) -> R,
) -> PyResult<R> {
    let py = obj.py();
    let mut view = MaybeUninit::<RawBuffer>::zeroed();
    let flags = if writable { PYBUF_WRITABLE } else { PYBUF_SIMPLE };
    // SAFETY: `obj` is a live object and the GIL is held (we have a `Bound`);
    // `view` is writable storage with the layout of `Py_buffer`, which it
    // does not leave while exported (it is neither moved nor reused before
    // `Release` drops).
    let rc = unsafe { PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), flags) };
    if rc != 0 {
        let err = PyErr::fetch(py);
        if writable && err.is_instance_of::<PyBufferError>(py) {
            let type_name = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
            let new = PyTypeError::new_err(format!(
                "a writable, contiguous buffer is required (bytearray, SharedMemory.buf, mmap...), got {type_name}: {err}"
            ));
            new.set_cause(py, Some(err));
            return Err(new);
        }
        return Err(err);
    }
    let guard = Release(view.as_mut_ptr());
    // SAFETY: `PyObject_GetBuffer` succeeded, so it initialized `view`.
    let (ptr, len) = unsafe {
        let v = &*view.as_ptr();
        (v.buf.cast::<u8>(), usize::try_from(v.len).unwrap_or(0))
    };
    let out = f(ptr, len);
    drop(guard);
    Ok(out)
}

/// Runs `f` over the bytes of any object with the buffer protocol (`bytes`
/// without exporting anything, as its contents are immutable).
pub(crate) fn with_bytes<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(b) = obj.cast::<pyo3::types::PyBytes>() {
        return Ok(f(b.as_bytes()));
    }
    with_buffer(obj, false, |ptr, len| {
        if len == 0 || ptr.is_null() {
            return f(&[]);
        }
        // SAFETY: the exporter guarantees `len` readable bytes at `ptr` while
        // the buffer is exported, which it is for the whole call. The slice is
        // only read by a copy; a concurrent writer (another process sharing
        // the exporter's memory) races with that copy exactly as `bytes(buf)`
        // would, which the caller accepted by passing such a buffer.
        f(unsafe { std::slice::from_raw_parts(ptr, len) })
    })
}

/// Runs `f` over the bytes of a writable, contiguous buffer (`bytearray`,
/// `memoryview`, `array.array`, `mmap`, `SharedMemory.buf`, a NumPy
/// array...); `TypeError` for a read-only one.
pub(crate) fn with_bytes_mut<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&mut [u8]) -> R) -> PyResult<R> {
    with_buffer(obj, true, |ptr, len| {
        if len == 0 || ptr.is_null() {
            return f(&mut []);
        }
        // SAFETY: the exporter guarantees `len` writable bytes at `ptr` while
        // the buffer is exported (`PyBUF_WRITABLE` was granted), which it is
        // for the whole call, and the owner can neither resize nor free it
        // meanwhile. Other Python code may write the same memory concurrently
        // only from a thread that does so while this call has released the
        // GIL, as with any extension writing into a caller's buffer (e.g.
        // `readinto`); the bytes are then unspecified, never out of bounds.
        f(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
    })
}
