//! The two API generations of the Python package, and the public names of
//! slick-queue-py 2.3.0 that this package offers in both.
//!
//! * `Api::V1` follows the original README: `read(AtomicCursor)` returns
//!   `(data, size)`, `read_last()` returns `bytes | None`.
//! * `Api::V23` follows slick-queue-py 2.3.0: `read(AtomicCursor)` returns
//!   `(data, size, read_index)` (`(None, 0, -1)` when nothing is there) and
//!   `read_last()` returns `(data, size)` (`(None, 0)` when empty).
//!
//! A queue takes its generation when it is built: from its class attribute
//! `_slick_queue_api` if the class has one (`slick_queue_py.api23` and
//! `slick_queue_py.api10` define subclasses that do), else from the module
//! default, which `slick_queue_py/__init__.py` sets from the environment
//! variable `SLICK_QUEUE_PY_API` at import.

use std::sync::atomic::{AtomicU8, Ordering};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;
use slick_queue::layout;

/// Which package's call shapes a queue follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    /// The original README (the default).
    V1,
    /// slick-queue-py 2.3.0.
    V23,
}

/// The generation queues get when their class does not choose (0 = V1, 1 = V23).
static DEFAULT_API: AtomicU8 = AtomicU8::new(0);

impl Api {
    /// Parses the spelling users give (`SLICK_QUEUE_PY_API`, `_slick_queue_api`).
    pub(crate) fn parse(s: &str) -> PyResult<Api> {
        match s.trim() {
            "" | "1" | "1.0" | "readme" => Ok(Api::V1),
            "2.3" | "2.3.0" => Ok(Api::V23),
            other => Err(PyValueError::new_err(format!(
                "unknown slick_queue_py API generation {other:?}: use \"2.3\" for slick-queue-py 2.3.0's \
                 call shapes or \"1.0\" (the default) for the original README's"
            ))),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Api::V1 => "1.0",
            Api::V23 => "2.3",
        }
    }

    /// The module default.
    pub(crate) fn default_api() -> Api {
        if DEFAULT_API.load(Ordering::Relaxed) == 1 {
            Api::V23
        } else {
            Api::V1
        }
    }

    /// The generation of a queue of class `cls`: its `_slick_queue_api`
    /// attribute if set (a str), else the module default.
    pub(crate) fn for_class(cls: &Bound<'_, PyType>) -> PyResult<Api> {
        match cls.getattr("_slick_queue_api") {
            Ok(v) if !v.is_none() => Api::parse(&v.extract::<String>()?),
            _ => Ok(Api::default_api()),
        }
    }
}

/// Sets the API generation of queues built from now on whose class does not
/// choose one (``"1.0"`` or ``"2.3"``). Called by ``slick_queue_py`` at
/// import with ``SLICK_QUEUE_PY_API``; not meant to be called later.
#[pyfunction]
pub(crate) fn _set_default_api(version: &str) -> PyResult<()> {
    let api = Api::parse(version)?;
    DEFAULT_API.store(u8::from(api == Api::V23), Ordering::Relaxed);
    Ok(())
}

/// The API generation of queues whose class does not choose one.
#[pyfunction]
pub(crate) fn _default_api() -> &'static str {
    Api::default_api().as_str()
}

/// Adds slick-queue-py 2.3.0's layout constants (the shared-memory header
/// and control-slot layout, from the core's `layout` module) to the module.
pub(crate) fn add_layout_constants(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let read_last_magic = layout::MAGIC_BASE | layout::FEATURE_READ_LAST;
    m.add("HEADER_SIZE", layout::HEADER_SIZE)?;
    m.add("RESERVED_INFO_SIZE", 8usize)?;
    m.add("SIZE_OFFSET", layout::offset::SIZE)?;
    m.add("ELEMENT_SIZE_OFFSET", layout::offset::ELEMENT_SIZE)?;
    m.add("LAST_PUBLISHED_OFFSET", layout::offset::LAST_PUBLISHED)?;
    m.add("HEADER_MAGIC_OFFSET", layout::offset::MAGIC)?;
    m.add("HEADER_MAGIC", read_last_magic)?;
    m.add("HEADER_MAGIC_FEATURE_MASK", !layout::MAGIC_MARKER_MASK)?;
    m.add("HEADER_MAGIC_READ_LAST", layout::FEATURE_READ_LAST)?;
    m.add("HEADER_MAGIC_ITEMS_PER_SLOT", layout::FEATURE_ITEMS_PER_SLOT)?;
    m.add("HEADER_MAGIC_KNOWN_FEATURES", layout::KNOWN_FEATURES)?;
    m.add("ITEMS_PER_SLOT_OFFSET", layout::offset::ITEMS_PER_SLOT)?;
    m.add("INIT_STATE_OFFSET", layout::offset::INIT_STATE)?;
    m.add("INIT_STATE_UNINITIALIZED", layout::INIT_UNINITIALIZED)?;
    m.add("INIT_STATE_LEGACY", layout::INIT_LEGACY)?;
    m.add("INIT_STATE_INITIALIZING", layout::INIT_INITIALIZING)?;
    m.add("INIT_STATE_READY", layout::INIT_READY)?;
    m.add("K_INVALID_INDEX", layout::EMPTY_INDEX)?;
    m.add("SLOT_FMT", "<Q I 4x")?;
    m.add("SLOT_SIZE", layout::SLOT_SIZE)?;
    m.add("SLOT_SIZE_OFFSET", 8usize)?;
    Ok(())
}
