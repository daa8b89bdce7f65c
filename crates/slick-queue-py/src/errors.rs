//! How a core [`slick_queue::Error`] becomes a Python exception.
//!
//! The contract (`docs/spec/PYTHON_API.md`): bad arguments and geometry mismatches are
//! `ValueError`, a missing segment is `FileNotFoundError`, a segment that is
//! foreign, corrupt, newer or built with other features is `RuntimeError`,
//! and so is a record too large for the queue. Every message says what to
//! change, in Python terms (`size=`, `traits`, `SlickQueue.remove(...)`).

use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyPermissionError, PyRuntimeError, PyValueError};
use pyo3::PyErr;
use slick_queue::Error;

/// The errno values the exceptions carry (Linux and macOS agree on these).
mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const ENOSPC: i32 = 28;
    #[cfg(target_os = "linux")]
    pub const ELOOP: i32 = 40;
    #[cfg(not(target_os = "linux"))]
    pub const ELOOP: i32 = 62;
}

/// `True` / `False`, as Python spells them.
fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// Converts a core error into the Python exception the contract names.
/// `name` is the queue's name as the user gave it (for messages), if any.
pub(crate) fn to_pyerr(err: Error, name: Option<&str>) -> PyErr {
    let shown = name.map(|n| n.strip_prefix('/').unwrap_or(n)).unwrap_or("");
    match err {
        Error::InvalidCapacity { size } => {
            PyValueError::new_err(format!("size must be a power of two (1, 2, 4, ... 2**31), got {size}"))
        }
        Error::InvalidElementSize { element_size } => {
            PyValueError::new_err(format!("element_size must be between 1 and 4294967295 bytes, got {element_size}"))
        }
        // slick-queue-py 2.3.0's words first (its tests check them), then ours.
        Error::InvalidItemsPerSlot { items_per_slot, size } if items_per_slot.is_power_of_two() => {
            PyValueError::new_err(format!(
                "items_per_slot {items_per_slot} > queue size {size}: items_per_slot must be a power of two \
                 no larger than size ({size})"
            ))
        }
        Error::InvalidItemsPerSlot { items_per_slot, size } => PyValueError::new_err(format!(
            "items_per_slot must be a power of two no larger than size ({size}), got {items_per_slot}"
        )),
        e @ Error::GeometryTooLarge { .. } => PyValueError::new_err(format!("{e}; use a smaller size or element_size")),
        Error::ZeroElements => PyValueError::new_err(
            "required size must be > 0: n must be at least 1, a record holds at least one element (got n=0)",
        ),
        Error::TooManyElements { n, size } => PyRuntimeError::new_err(format!(
            "a record of {n} elements does not fit in a queue of size {size}; use n <= size or a larger queue"
        )),
        e @ Error::OutOfRange { .. } => PyValueError::new_err(e.to_string()),
        Error::ReadLastDisabled => PyRuntimeError::new_err(
            "read_last() requires traits.enable_read_last=True; this queue was built with \
             enable_read_last=False, so nothing maintains the last published index",
        ),
        Error::InvalidName { name, reason } => {
            PyValueError::new_err(format!("invalid shared-memory queue name {name:?}: {reason}"))
        }
        Error::NotFound { name: posix } => {
            let bare = posix.strip_prefix('/').unwrap_or(&posix).to_owned();
            PyFileNotFoundError::new_err(format!(
                "no shared-memory queue named '{bare}' exists (looked for /dev/shm/{bare}); \
                 pass size= and element_size= to create it, or start its creator first"
            ))
        }
        Error::PermissionDenied { name: posix, source } => PyPermissionError::new_err(format!(
            "permission denied for shared-memory object {posix}: {source}; it belongs to another \
             user or was created with a restrictive mode"
        )),
        Error::Os { op, name: posix, source } => {
            let msg = format!("{op} failed for shared-memory object {posix}: {source}");
            match source.raw_os_error() {
                Some(errno) => PyOSError::new_err((errno, msg)),
                None => PyOSError::new_err(msg),
            }
        }
        Error::Mismatch { field, expected, found, .. } => {
            let hint = match field {
                "size" => format!(
                    "pass size={found}, or omit size= to open the queue with its own size; \
                     to start fresh, call SlickQueue.remove('{shown}') first"
                ),
                "element_size" => {
                    format!("pass element_size={found}: every process of a queue must use the same element size")
                }
                "items_per_slot" => {
                    format!("pass items_per_slot={found}, or omit items_per_slot= to adopt the segment's value")
                }
                _ => format!("pass {field}={found}"),
            };
            PyValueError::new_err(format!(
                "{field} mismatch: the shared-memory queue '{shown}' has {field}={found} but this \
                 queue asked for {field}={expected}; {hint}"
            ))
        }
        Error::FeatureMismatch { feature, segment, ours } => PyRuntimeError::new_err(format!(
            "shared memory feature mismatch: the queue '{shown}' was created with enable_{feature}={} but \
             this queue has enable_{feature}={}; every process of a queue must agree: pass traits with \
             enable_{feature}={}",
            py_bool(segment),
            py_bool(ours),
            py_bool(segment)
        )),
        // slick-queue-py 2.3.0's words first (its tests check them), then ours.
        e @ Error::NoMarker { .. } => PyRuntimeError::new_err(format!(
            "Shared memory does not carry a slick-queue layout marker; segments created before v1.4.0 \
             carry no marker and are not supported. Cannot use the shared-memory queue '{shown}': {e}"
        )),
        e @ Error::UnknownFeatures { .. } => PyRuntimeError::new_err(format!(
            "Shared memory was created with unknown layout features. Cannot use the shared-memory queue \
             '{shown}': {e}"
        )),
        e @ (Error::Corrupt { .. } | Error::Truncated { .. } | Error::InitTimeout { .. }) => {
            PyRuntimeError::new_err(format!("cannot use the shared-memory queue '{shown}': {e}"))
        }
        e @ Error::NoSpace { .. } => {
            PyOSError::new_err((libc_errno::ENOSPC, format!("cannot create the shared-memory queue '{shown}': {e}")))
        }
        e @ Error::Unbacked { .. } => {
            PyOSError::new_err((libc_errno::ENOSPC, format!("cannot use the shared-memory queue '{shown}': {e}")))
        }
        e @ Error::NotRegularFile { kind, .. } => {
            let msg = format!("cannot use the shared-memory queue '{shown}': {e}");
            if kind == "a symbolic link" {
                PyOSError::new_err((libc_errno::ELOOP, msg))
            } else {
                PyOSError::new_err(msg)
            }
        }
        e @ Error::ForeignOwner { .. } => PyPermissionError::new_err((
            libc_errno::EPERM,
            format!("{e}; pass allow_foreign_owner=True to SlickQueue(...) if sharing with that user is intended"),
        )),
        e @ Error::InvalidMode { .. } => PyValueError::new_err(e.to_string()),
        e @ Error::NotShared => PyRuntimeError::new_err(e.to_string()),
        Error::ProducerClaimed { .. } => PyRuntimeError::new_err(format!(
            "the shared-memory queue '{shown}' already has an exclusive producer (another SlickQueue \
             with exclusive_producer=True holds its producer lock); close it first, or open this one \
             without exclusive_producer"
        )),
        e => PyRuntimeError::new_err(e.to_string()),
    }
}
