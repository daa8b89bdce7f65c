//! Borrowing the memory of a Python object that exports the buffer protocol
//! (`bytes`, `bytearray`, `memoryview`, `mmap`, `SharedMemory.buf`, numpy
//! arrays...) for exactly as long as a closure runs.
//!
//! Two implementations, chosen by the wheel's stable-ABI floor (the crate's
//! `abi3-py38` / `abi3-py311` features):
//!
//! * **CPython 3.11 floor** (the Windows wheel; optional elsewhere): PyO3's
//!   own `pyo3::buffer::PyUntypedBuffer`, since `Py_buffer`,
//!   `PyObject_GetBuffer` and `PyBuffer_Release` joined the stable ABI in
//!   3.11. `scripts/test.d/70-platforms.sh` runs the Python tests on this
//!   build too (natively on Linux).
//! * **CPython 3.8 floor** (the Linux and macOS wheels): PyO3 hides its
//!   buffer API in such builds, because the three are not in the 3.8 stable
//!   ABI. They are nonetheless exported by every CPython since 3.0 with the
//!   `Py_buffer` layout 3.11 then froze, and a Linux or macOS extension
//!   resolves symbols against the running interpreter, so they are declared
//!   here. On Windows an extension links against `python3.dll`, which before
//!   3.11 does not export them: a Windows build must take the 3.11 floor
//!   (a compile error says so otherwise).
//!
//! While the closure runs the buffer stays *exported*: its owner cannot be
//! resized, closed or unmapped (`bytearray` refuses to resize,
//! `SharedMemory.close()` raises `BufferError`), so the pointer is valid even
//! while the closure releases the GIL.

#[cfg(all(feature = "abi3-py38", feature = "abi3-py311"))]
compile_error!("choose one stable-ABI floor: the default abi3-py38, or --no-default-features --features abi3-py311");

#[cfg(all(windows, not(feature = "abi3-py311")))]
compile_error!(
    "a Windows build needs the CPython 3.11 stable-ABI floor (python3.dll exports the buffer protocol only \
     from 3.11): build with --no-default-features --features abi3-py311"
);

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::args::type_name;

/// The `TypeError` for a buffer that cannot be written (CPython reports it
/// as `BufferError`), with the exporter's error as its cause.
fn not_writable(obj: &Bound<'_, PyAny>, err: PyErr) -> PyErr {
    let py = obj.py();
    let new = PyTypeError::new_err(format!(
        "a writable, contiguous buffer is required (bytearray, SharedMemory.buf, mmap...), got {}: {err}",
        type_name(obj)
    ));
    new.set_cause(py, Some(err));
    new
}

/// Exports `obj`'s buffer (writable if asked), runs `f` with its address and
/// length in bytes, then releases it.
///
/// A buffer that is not writable when `writable` is asked is a `TypeError`;
/// so is one that is not C-contiguous. Errors from the exporter otherwise
/// propagate unchanged (`TypeError` for an object without the buffer
/// protocol, `ValueError` for a released memoryview or a closed mmap).
#[cfg(feature = "abi3-py311")]
pub(crate) fn with_buffer<R>(
    obj: &Bound<'_, PyAny>,
    writable: bool,
    f: impl FnOnce(*mut u8, usize) -> R,
) -> PyResult<R> {
    let buf = pyo3::buffer::PyUntypedBuffer::get(obj)?;
    if writable && buf.readonly() {
        buf.release(obj.py());
        return Err(not_writable(
            obj,
            pyo3::exceptions::PyBufferError::new_err("the object exports a read-only buffer"),
        ));
    }
    if !buf.is_c_contiguous() {
        buf.release(obj.py());
        return Err(PyTypeError::new_err("a C-contiguous buffer is required"));
    }
    let out = f(buf.buf_ptr().cast::<u8>(), buf.len_bytes());
    buf.release(obj.py());
    Ok(out)
}

#[cfg(not(feature = "abi3-py311"))]
pub(crate) use hand_declared::with_buffer;

/// The 3.8-floor implementation (see the module comment).
#[cfg(not(feature = "abi3-py311"))]
mod hand_declared {
    use std::ffi::{c_char, c_int, c_void};
    use std::mem::MaybeUninit;

    use pyo3::exceptions::PyBufferError;
    use pyo3::ffi;
    use pyo3::prelude::*;

    use super::not_writable;

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
                return Err(not_writable(obj, err));
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
