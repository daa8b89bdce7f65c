//! Batch calls: `write_batch(buffer)` and `read_into(buffer, cursor)`, which
//! move many one-element records per Python call through the buffer
//! protocol (no Python object per item), releasing the GIL for large copies.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;
use slick_queue::ByteQueue;

use crate::pybuf::{with_bytes, with_bytes_mut};
use crate::queue::SlickQueue;

/// Copies of at least this many bytes run with the GIL released (below it,
/// releasing and re-taking the GIL costs more than it lets other threads do).
pub(crate) const DETACH_BYTES: usize = 16 * 1024;

/// What one `read_into` pass did.
#[derive(Default)]
pub(crate) struct Filled {
    /// Elements copied into the buffer.
    pub(crate) elements: usize,
    /// The first record that did not fit the remaining space, if one was
    /// found: `(index, bytes)`.
    pub(crate) too_big: Option<(u64, usize)>,
}

/// Fills `dst` with whole intact records read at a private cursor; a record
/// that does not fit stops the pass and leaves the cursor at it.
fn fill_private(queue: &ByteQueue, pos: &mut u64, dst: &mut [u8], overwritten: &AtomicU64) -> Filled {
    let es = queue.element_size() as usize;
    let mut out = Filled::default();
    let mut used = 0usize;
    while let Some(rec) = queue.read(pos) {
        let bytes = rec.byte_len();
        if bytes > dst.len() - used {
            // Back to the record itself: reading again from there finds it at
            // once (any loss before it is counted already, not again).
            *pos = rec.index();
            out.too_big = Some((rec.index(), bytes));
            break;
        }
        rec.copy_to(&mut dst[used..used + bytes]);
        if rec.is_overwritten() {
            overwritten.fetch_add(rec.len() as u64, Ordering::Relaxed);
            continue; // dropped; the next record goes where this one was
        }
        used += bytes;
        out.elements += bytes / es;
    }
    out
}

/// Fills `dst` with whole intact records claimed at a shared cursor in runs:
/// each run of consecutive records that fit the space left is claimed with
/// one compare-and-swap ([`ByteQueue::read_shared_run`]), so a record that
/// does not fit is never claimed and stays for the next call.
fn fill_shared(queue: &ByteQueue, word: &AtomicU64, dst: &mut [u8], overwritten: &AtomicU64) -> Filled {
    let es = queue.element_size() as usize;
    let mut out = Filled::default();
    let mut used = 0usize;
    loop {
        let room = (dst.len() - used) / es;
        if room == 0 {
            break;
        }
        let (run, blocked) = queue.read_shared_run(word, room);
        if run.is_empty() {
            if let Some(len) = blocked {
                out.too_big = Some((word.load(Ordering::Acquire), len * es));
            }
            break;
        }
        for rec in &run {
            let bytes = rec.byte_len();
            rec.copy_to(&mut dst[used..used + bytes]);
            if rec.is_overwritten() {
                overwritten.fetch_add(rec.len() as u64, Ordering::Relaxed);
                continue; // dropped; the next record goes where this one was
            }
            used += bytes;
            out.elements += rec.len();
        }
        if blocked.is_some() {
            break;
        }
    }
    out
}

impl SlickQueue {
    /// `write_batch(buffer)`: see the method's docstring in `queue.rs`.
    pub(crate) fn write_batch_impl(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        let q = self.queue()?;
        if data.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err("write_batch() takes a bytes-like object, not str: encode it first"));
        }
        let es = self.element_size as usize;
        let size = self.size;
        with_bytes(data, |bytes| {
            if bytes.is_empty() || bytes.len() % es != 0 {
                return Err(PyValueError::new_err(format!(
                    "write_batch() needs a whole, non-zero number of elements: {} bytes is not a multiple of \
                     element_size={es}",
                    bytes.len()
                )));
            }
            let k = bytes.len() / es;
            if k > size as usize {
                return Err(PyRuntimeError::new_err(format!(
                    "write_batch() of {k} elements does not fit in a queue of size {size}; split the batch"
                )));
            }
            // One one-element record per element, published in order.
            let run = || q.push_each(bytes);
            let result = if bytes.len() >= DETACH_BYTES { py.detach(run) } else { run() };
            result.map_err(|e| self.err(e))
        })?
    }

    /// `read_into(buffer, cursor)` with a private cursor.
    pub(crate) fn read_into_private(
        &self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        cursor: u64,
    ) -> PyResult<(usize, u64)> {
        let q = self.queue()?;
        let mut pos = cursor;
        let filled = with_bytes_mut(buffer, |dst| {
            let overwritten = &self.overwritten;
            if dst.len() >= DETACH_BYTES {
                py.detach(|| fill_private(&q, &mut pos, dst, overwritten))
            } else {
                fill_private(&q, &mut pos, dst, overwritten)
            }
        })?;
        self.check_fit(&filled)?;
        Ok((filled.elements, pos))
    }

    /// `read_into(buffer, cursor)` with an `AtomicCursor`.
    pub(crate) fn read_into_shared(
        &self,
        py: Python<'_>,
        buffer: &Bound<'_, PyAny>,
        cursor: &Bound<'_, crate::cursor::AtomicCursor>,
    ) -> PyResult<(usize, u64)> {
        let q = self.queue()?;
        let filled = with_bytes_mut(buffer, |dst| {
            cursor.get().with_word(py, |word| {
                let overwritten = &self.overwritten;
                let filled = if dst.len() >= DETACH_BYTES {
                    py.detach(|| fill_shared(&q, word, dst, overwritten))
                } else {
                    fill_shared(&q, word, dst, overwritten)
                };
                (filled, word.load(Ordering::Acquire))
            })
        })??;
        self.check_fit(&filled.0)?;
        Ok((filled.0.elements, filled.1))
    }

    /// `ValueError` when not even the first record fit the buffer (the
    /// caller could otherwise loop forever on an empty result).
    fn check_fit(&self, filled: &Filled) -> PyResult<()> {
        match filled.too_big {
            Some((index, bytes)) if filled.elements == 0 => Err(PyValueError::new_err(format!(
                "the buffer is too small for the next record (index {index}, {bytes} bytes); pass a buffer of at \
                 least {bytes} bytes"
            ))),
            _ => Ok(()),
        }
    }
}
