//! Queue traits: the four feature switches a `QueueTraits` (sub)class
//! carries, validated and frozen into a snapshot when a queue is built.

use pyo3::exceptions::{PyAttributeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyBool;
use slick_queue::Options;

use crate::args::type_name;

/// The trait attributes, in the order the peers list them.
pub(crate) const TRAIT_NAMES: [&str; 4] =
    ["enable_read_last", "enable_reset_check", "enable_loss_detection", "enable_cpu_relax"];

/// The traits a queue was built with: a read-only snapshot, taken when the
/// queue was constructed (later changes to the traits class do not affect it).
#[pyclass(module = "slick_queue_py", name = "QueueTraitsSnapshot", frozen, eq, hash, skip_from_py_object)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TraitsSnapshot {
    /// Whether the queue maintains the last published index (``read_last()``).
    #[pyo3(get)]
    pub enable_read_last: bool,
    /// Whether reads detect a concurrent ``reset()`` and rewind.
    #[pyo3(get)]
    pub enable_reset_check: bool,
    /// Whether ``loss_count()`` counts records skipped by lapped readers.
    #[pyo3(get)]
    pub enable_loss_detection: bool,
    /// Whether contended compare-and-swap loops issue a spin-loop hint.
    #[pyo3(get)]
    pub enable_cpu_relax: bool,
}

impl Default for TraitsSnapshot {
    fn default() -> Self {
        TraitsSnapshot {
            enable_read_last: true,
            enable_reset_check: false,
            enable_loss_detection: true,
            enable_cpu_relax: true,
        }
    }
}

impl TraitsSnapshot {
    /// Reads and validates the four attributes of a traits class (or
    /// instance): each must exist and be exactly a `bool`.
    pub(crate) fn from_object(traits: &Bound<'_, PyAny>) -> PyResult<TraitsSnapshot> {
        let mut values = [false; 4];
        for (slot, name) in values.iter_mut().zip(TRAIT_NAMES) {
            if !traits.hasattr(name)? {
                let shown = traits
                    .getattr("__name__")
                    .and_then(|n| n.str().map(|s| s.to_string()))
                    .or_else(|_| traits.repr().map(|r| r.to_string()))
                    .unwrap_or_else(|_| "?".into());
                return Err(PyTypeError::new_err(format!(
                    "traits type '{shown}' is missing required attribute '{name}'; derive it from QueueTraits"
                )));
            }
            let value = traits.getattr(name)?;
            let Ok(b) = value.cast::<PyBool>() else {
                return Err(PyTypeError::new_err(format!(
                    "traits attribute '{name}' must be a bool (True or False), got {}",
                    type_name(&value)
                )));
            };
            *slot = b.is_true();
        }
        Ok(TraitsSnapshot {
            enable_read_last: values[0],
            enable_reset_check: values[1],
            enable_loss_detection: values[2],
            enable_cpu_relax: values[3],
        })
    }

    /// The core options these traits select.
    pub(crate) fn options(&self) -> Options {
        Options::new()
            .read_last(self.enable_read_last)
            .reset_check(self.enable_reset_check)
            .loss_detection(self.enable_loss_detection)
            .cpu_relax(self.enable_cpu_relax)
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

#[pymethods]
impl TraitsSnapshot {
    fn __repr__(&self) -> String {
        format!(
            "QueueTraitsSnapshot(enable_read_last={}, enable_reset_check={}, enable_loss_detection={}, enable_cpu_relax={})",
            py_bool(self.enable_read_last),
            py_bool(self.enable_reset_check),
            py_bool(self.enable_loss_detection),
            py_bool(self.enable_cpu_relax)
        )
    }

    /// Refuses every assignment: ``AttributeError`` saying the snapshot is
    /// read-only (slick-queue-py 2.3.0's words).
    fn __setattr__(&self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let _ = value;
        Err(PyAttributeError::new_err(format!(
            "traits are read-only after construction; build a new queue to change '{name}'"
        )))
    }

    /// Refuses every deletion, like ``__setattr__``.
    fn __delattr__(&self, name: &str) -> PyResult<()> {
        Err(PyAttributeError::new_err(format!(
            "traits are read-only after construction; build a new queue to change '{name}'"
        )))
    }
}

/// Checks a traits type the way ``SlickQueue`` does: each of
/// ``enable_read_last``, ``enable_reset_check``, ``enable_loss_detection`` and
/// ``enable_cpu_relax`` must be present and be a ``bool``.
///
/// Raises ``TypeError`` naming the first missing or non-bool attribute.
#[pyfunction]
pub(crate) fn validate_traits(traits: &Bound<'_, PyAny>) -> PyResult<()> {
    TraitsSnapshot::from_object(traits).map(|_| ())
}
