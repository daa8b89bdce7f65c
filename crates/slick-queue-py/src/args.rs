//! Argument parsing shared by the Python classes: ints, cursors, timeouts.
//!
//! Every int argument goes through [`int_arg`]: an int outside the range the
//! argument takes is a `ValueError` naming the argument (never the
//! `OverflowError` a plain PyO3 integer parameter raises), and a value that
//! is not an int keeps PyO3's `TypeError`.

use std::time::{Duration, Instant};

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use slick_queue::{Geometry, Options};

use crate::cursor::AtomicCursor;
use crate::errors::to_pyerr;
use crate::traits::TraitsSnapshot;

/// The longest stretch a wait spends with the GIL released before it
/// re-acquires it to run signal handlers (Ctrl-C) and check its deadline.
pub(crate) const WAIT_CHUNK: Duration = Duration::from_millis(50);

/// The name of `obj`'s type, for error messages (`"?"` if it has none).
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
}

/// An int argument as `T` (`u64`, `i64`, ...). An int outside `T`'s range is
/// the `ValueError` that `out_of_range` describes; any other extraction
/// error (not an int: `TypeError`) is returned unchanged.
pub(crate) fn int_arg<'py, T>(obj: &Bound<'py, PyAny>, out_of_range: impl FnOnce() -> String) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr>,
{
    int_arg_or(obj, out_of_range, |e| e)
}

/// [`int_arg`], with `other` mapping the errors that are not about range.
pub(crate) fn int_arg_or<'py, T>(
    obj: &Bound<'py, PyAny>,
    out_of_range: impl FnOnce() -> String,
    other: impl FnOnce(PyErr) -> PyErr,
) -> PyResult<T>
where
    T: for<'a> FromPyObject<'a, 'py, Error = PyErr>,
{
    obj.extract::<T>().map_err(|e| {
        if e.is_instance_of::<PyOverflowError>(obj.py()) {
            PyValueError::new_err(out_of_range())
        } else {
            other(e)
        }
    })
}

/// An unsigned 64-bit index, cursor or counter value.
pub(crate) fn u64_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    int_arg(obj, || format!("{what} must be an int in [0, 2**64), got {obj}"))
}

/// A signed int argument as `i64` (range checks are the caller's).
pub(crate) fn i64_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    int_arg(obj, || format!("{what} is out of range: {obj}"))
}

/// An optional count (`size`, `element_size`, `items_per_slot`): `None` if
/// absent or `None`; `ValueError` if negative or beyond `i64`.
pub(crate) fn opt_count(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<u64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    match int_arg::<i64>(obj, || format!("{what} is too large: {obj}"))? {
        v if v < 0 => Err(PyValueError::new_err(format!("{what} must be positive, got {v}"))),
        v => Ok(Some(v as u64)),
    }
}

/// The arguments of `SlickQueue(...)`, checked.
pub(crate) struct QueueArgs {
    /// The capacity (a power of two), or `None` to open an existing queue.
    pub(crate) size: Option<u32>,
    /// Bytes per element (at least 1).
    pub(crate) element_size: u32,
    /// The traits the queue is built with.
    pub(crate) traits: TraitsSnapshot,
    /// The core options: the traits' features, `items_per_slot`,
    /// `allow_foreign_owner` and `exclusive_producer`.
    pub(crate) options: Options,
}

impl QueueArgs {
    /// Checks the constructor's arguments, in the order their errors are
    /// raised; `shared` says whether a name was given (for the messages).
    // One parameter per keyword of the Python constructor, as there.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn parse(
        shared: bool,
        size: Option<&Bound<'_, PyAny>>,
        element_size: Option<&Bound<'_, PyAny>>,
        traits: Option<&Bound<'_, PyAny>>,
        items_per_slot: Option<&Bound<'_, PyAny>>,
        allow_foreign_owner: bool,
        exclusive_producer: bool,
        poll_interval: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<QueueArgs> {
        let traits = match traits {
            Some(t) if !t.is_none() => TraitsSnapshot::from_object(t)?,
            _ => TraitsSnapshot::default(),
        };
        let size = opt_count(size, "size")?;
        let element_size = opt_count(element_size, "element_size")?;
        let items_per_slot = opt_count(items_per_slot, "items_per_slot")?;

        // The core's rule for a capacity (and its error), checked before
        // the other arguments.
        let size = size
            .map(|s| {
                u32::try_from(s)
                    .map_err(|_| slick_queue::Error::InvalidCapacity { size: s })
                    .and_then(|s| Geometry::new(s, 1, 1).map(|_| s))
                    .map_err(|e| to_pyerr(e, None))
            })
            .transpose()?;
        let element_size = match element_size {
            None => {
                return Err(PyValueError::new_err(match (shared, size) {
                    (false, _) => "size and element_size are required for a local-memory queue",
                    (true, Some(_)) => "element_size is required to create a shared-memory queue",
                    (true, None) => "element_size must be provided when opening an existing shared-memory queue",
                }))
            }
            Some(0) => return Err(PyValueError::new_err("element_size must be at least 1 byte, got 0")),
            Some(es) => u32::try_from(es).map_err(|_| {
                PyValueError::new_err(format!("element_size must be at most 4294967295 bytes, got {es}"))
            })?,
        };
        // exclusive_producer: the caller's promise to be the queue's only
        // producer (see Options::exclusive_producer); a second one of this
        // library is refused with RuntimeError.
        let mut options =
            traits.options().allow_foreign_owner(allow_foreign_owner).exclusive_producer(exclusive_producer);
        if let Some(k) = items_per_slot {
            let k = u32::try_from(k)
                .ok()
                .filter(|k| *k >= 1)
                .ok_or_else(|| PyValueError::new_err(format!("items_per_slot must be a power of two >= 1, got {k}")))?;
            options = options.items_per_slot(k);
        }
        if let Some(interval) = poll_interval_arg(poll_interval)? {
            options = options.poll_interval(interval);
        }
        Ok(QueueArgs { size, element_size, traits, options })
    }
}

/// The read cursor argument of the read calls.
pub(crate) enum Cursor<'a, 'py> {
    /// A private cursor: an int the caller passes back.
    Private(u64),
    /// A cursor shared by several consumers.
    Shared(&'a Bound<'py, AtomicCursor>),
}

/// `read_index`: an `AtomicCursor` or an int in `[0, 2**64)`.
pub(crate) fn cursor_arg<'a, 'py>(obj: &'a Bound<'py, PyAny>) -> PyResult<Cursor<'a, 'py>> {
    if let Ok(c) = obj.cast::<AtomicCursor>() {
        return Ok(Cursor::Shared(c));
    }
    let v = int_arg_or(
        obj,
        || format!("read_index must be an int in [0, 2**64), got {obj}"),
        |_| PyTypeError::new_err(format!("read_index must be an int or an AtomicCursor, got {}", type_name(obj))),
    )?;
    Ok(Cursor::Private(v))
}

/// The `timeout` argument as seconds: an int too large for a float is as
/// good as no timeout (not `OverflowError`); a negative one is still a
/// `ValueError` (from `deadline_from`).
pub(crate) fn timeout_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<f64>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    match obj.extract::<f64>() {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
            Ok(Some(if obj.lt(0)? { f64::NEG_INFINITY } else { f64::INFINITY }))
        }
        Err(e) => Err(e),
    }
}

/// The `poll_interval` keyword in seconds (`None`: the default, 1 ms): a
/// finite number > 0; anything longer than an hour is an hour (a waiting
/// reader re-checks at least every 50 ms for signals anyway).
pub(crate) fn poll_interval_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Duration>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    let bad = |shown: String| {
        PyValueError::new_err(format!("poll_interval must be None or a number of seconds > 0, got {shown}"))
    };
    let t = match obj.extract::<f64>() {
        Ok(t) => t,
        Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
            if obj.lt(0)? {
                return Err(bad(obj.repr()?.to_string()));
            }
            f64::INFINITY
        }
        Err(e) => return Err(e),
    };
    if t.is_nan() || t <= 0.0 {
        return Err(bad(format!("{t}")));
    }
    Ok(Some(Duration::from_secs_f64(t.min(3600.0))))
}

/// `timeout` in seconds (`None`: no deadline) as an optional deadline.
pub(crate) fn deadline_from(timeout: Option<f64>) -> PyResult<Option<Instant>> {
    let Some(t) = timeout else { return Ok(None) };
    if t.is_nan() || t < 0.0 {
        return Err(PyValueError::new_err(format!("timeout must be None or a number of seconds >= 0, got {t}")));
    }
    // A timeout too large to represent is as good as none.
    Ok(Duration::try_from_secs_f64(t).ok().and_then(|d| Instant::now().checked_add(d)))
}

/// The next wait slice: at most `WAIT_CHUNK`, never past `deadline`.
pub(crate) fn next_chunk(deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        None => Some(WAIT_CHUNK),
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            (!left.is_zero()).then(|| left.min(WAIT_CHUNK))
        }
    }
}
