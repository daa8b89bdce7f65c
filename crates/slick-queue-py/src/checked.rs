//! Copying reads that never hand out a torn record.
//!
//! A record's bytes stay in the ring after the reader finds it: a producer
//! that laps the reader may overwrite them while they are being copied, and
//! nothing in the copy shows it. The core's [`ByteRecord::is_overwritten`]
//! tells, *after* the copy, whether any producer may have written into the
//! record's positions since it was published. Every copying read of the
//! binding (`read`, `read_wait`, `read_batch`, `read_into`, `read_last`)
//! copies first, then asks; a record that was overwritten is dropped and its
//! elements are counted in `overwritten_count()` (and in `loss_count()`, so
//! that elements returned + `loss_count()` still equal the elements
//! published), and the read goes on with the next record.
//!
//! The order matters: the check must come after the copy. Checked before,
//! a producer could still overwrite the bytes between the check and the
//! copy; checked after, any producer whose stores can have reached the copy
//! has already made its reservation (the core's fence and reservation-word
//! load order it), so the check sees it. The one case the wire format
//! leaves open (a producer preempted for a whole lap *while* storing) is
//! described under "Failure modes" in docs/DESIGN.md.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use slick_queue::{ByteQueue, ByteRecord};

use crate::compat::Api;
use crate::memory::record_bytes;
use crate::queue::SlickQueue;

/// A record copied out intact: its bytes, its length in elements, its index.
pub(crate) type Intact<'py> = (Bound<'py, PyBytes>, usize, u64);

impl SlickQueue {
    /// Counts `elements` dropped because they were overwritten while copied.
    pub(crate) fn count_overwritten(&self, elements: usize) {
        self.overwritten.fetch_add(elements as u64, Ordering::Relaxed);
    }

    /// Copies `rec` into a new `bytes`; `None` (counted) if a producer
    /// overwrote it meanwhile.
    pub(crate) fn checked_bytes<'py>(
        &self,
        py: Python<'py>,
        rec: &ByteRecord<'_>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let bytes = record_bytes(py, rec)?;
        if rec.is_overwritten() {
            self.count_overwritten(rec.len());
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    /// The next intact record at a private cursor (skipping and counting
    /// overwritten ones), or `None` when nothing new is published.
    pub(crate) fn next_private<'py>(
        &self,
        py: Python<'py>,
        queue: &ByteQueue,
        pos: &mut u64,
    ) -> PyResult<Option<Intact<'py>>> {
        while let Some(rec) = queue.read(pos) {
            if let Some(bytes) = self.checked_bytes(py, &rec)? {
                return Ok(Some((bytes, rec.len(), rec.index())));
            }
        }
        Ok(None)
    }

    /// The next intact record claimed at a shared cursor, or `None`.
    pub(crate) fn next_shared<'py>(
        &self,
        py: Python<'py>,
        queue: &ByteQueue,
        word: &AtomicU64,
    ) -> PyResult<Option<Intact<'py>>> {
        while let Some(rec) = queue.read_shared(word) {
            if let Some(bytes) = self.checked_bytes(py, &rec)? {
                return Ok(Some((bytes, rec.len(), rec.index())));
            }
        }
        Ok(None)
    }

    /// What `read(AtomicCursor)` returns in this queue's API generation:
    /// `(data, size)` (original README) or `(data, size, read_index)`
    /// (slick-queue-py 2.3.0; `(None, 0, -1)` when nothing is there).
    pub(crate) fn shared_result<'py>(
        &self,
        py: Python<'py>,
        found: Option<Intact<'py>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        match (self.api, found) {
            (Api::V1, Some((bytes, n, _))) => (bytes, n).into_pyobject(py),
            (Api::V1, None) => (py.None(), 0u32).into_pyobject(py),
            (Api::V23, Some((bytes, n, index))) => (bytes, n, index).into_pyobject(py),
            (Api::V23, None) => (py.None(), 0u32, -1i64).into_pyobject(py),
        }
    }

    /// The last published record, copied and checked; `None` if there is
    /// none or it was overwritten (not counted: `read_last` consumes nothing).
    pub(crate) fn checked_last<'py>(
        &self,
        py: Python<'py>,
        rec: Option<ByteRecord<'_>>,
    ) -> PyResult<Option<(Bound<'py, PyBytes>, usize)>> {
        let Some(rec) = rec else { return Ok(None) };
        let bytes = record_bytes(py, &rec)?;
        if rec.is_overwritten() {
            return Ok(None);
        }
        Ok(Some((bytes, rec.len())))
    }
}
