//! The Python extension module `slick_queue_py._native`: PyO3 bindings of the
//! `slick-queue` core, re-exported by the `slick_queue_py` and `atomic_ops`
//! Python modules (see `python/` at the repository root).
//!
//! The binding is thin: queue logic lives in the core crate; this crate only
//! converts arguments and errors, releases the GIL around waits, and lends
//! Python zero-copy views of queue memory (kept alive by the views).

use pyo3::prelude::*;

mod args;
mod batch;
mod checked;
mod compat;
mod cursor;
mod errors;
mod memory;
mod pybuf;
mod queue;
mod traits;

/// Whether this platform runs the queue lock-free, and a description.
///
/// Returns ``(supported, message)``. The queue needs lock-free 64-bit atomics
/// on a 64-bit target; shared memory additionally needs POSIX ``shm_open``
/// (Linux, macOS) or Windows named file mappings.
#[pyfunction]
fn check_platform_support() -> (bool, String) {
    let os = std::env::consts::OS;
    let arch = std::env::consts::ARCH;
    if !cfg!(target_pointer_width = "64") {
        return (false, format!("64-bit platform required for atomic operations ({os} {arch})"));
    }
    if !cfg!(target_has_atomic = "64") {
        return (false, format!("{os} {arch} has no lock-free 64-bit atomic operations"));
    }
    let shm = if cfg!(unix) {
        "POSIX shared memory"
    } else if cfg!(windows) {
        "Windows named shared memory"
    } else {
        "local memory only (no shared memory on this platform)"
    };
    (
        true,
        format!(
            "{os} {arch} with lock-free 64-bit atomic operations ({shm}; Rust core slick-queue {})",
            env!("CARGO_PKG_VERSION")
        ),
    )
}

#[pymodule(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<queue::SlickQueue>()?;
    m.add_class::<cursor::AtomicCursor>()?;
    m.add_class::<traits::TraitsSnapshot>()?;
    m.add_function(wrap_pyfunction!(traits::validate_traits, m)?)?;
    m.add_function(wrap_pyfunction!(check_platform_support, m)?)?;
    m.add_function(wrap_pyfunction!(compat::_set_default_api, m)?)?;
    m.add_function(wrap_pyfunction!(compat::_default_api, m)?)?;
    compat::add_layout_constants(m)?;
    Ok(())
}
