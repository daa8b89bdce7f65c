//! Named file mappings on Windows (`CreateFileMappingW` / `OpenFileMappingW`,
//! backed by the paging file), with the semantics the peers have there:
//!
//! * the name is used as-is (after the optional leading `/` is dropped), so
//!   `q1` here is the mapping `q1` that the Python peer's
//!   `SharedMemory(name="q1")` and the C++ peer's `shared_memory("q1", ...)`
//!   open; `Local\` and `Global\` prefixes pass through;
//! * a mapping lives while any process holds a handle or a view of it:
//!   there is nothing to unlink, so [`unlink`] succeeds without doing
//!   anything (as the C++ `shared_memory::remove` and the Python
//!   `SlickQueue.remove` do on Windows);
//! * its size is rounded up to whole pages, so openers take the geometry
//!   from the header, never from the size;
//! * the default security descriptor applies: the creating user's.
//!
//! The system calls themselves (`unsafe` FFI) are in `region/mapping.rs`.

use std::io;

use super::{ObjectInfo, ShmName};
use crate::error::{Error, Result};
use crate::region::win::{Section, SectionError};

/// An open named mapping.
pub(crate) type Object = Section;

/// The name as a NUL-terminated UTF-16 string.
fn wide(name: &ShmName) -> Vec<u16> {
    name.os_name().encode_utf16().chain(std::iter::once(0)).collect()
}

// Win32 error codes (winerror.h) this module tells apart.
const ERROR_FILE_NOT_FOUND: i32 = 2;
const ERROR_PATH_NOT_FOUND: i32 = 3;
const ERROR_ACCESS_DENIED: i32 = 5;
const ERROR_INVALID_HANDLE: i32 = 6;
const ERROR_INVALID_NAME: i32 = 123;
const ERROR_BAD_PATHNAME: i32 = 161;

fn os_error(op: &'static str, name: &ShmName, source: io::Error) -> Error {
    match source.raw_os_error() {
        Some(ERROR_FILE_NOT_FOUND) => Error::NotFound { name: name.to_string() },
        Some(ERROR_ACCESS_DENIED) => Error::PermissionDenied { name: name.to_string(), source },
        // A name that is some other kind of kernel object (an event, a
        // mutex) is reported by CreateFileMapping as an invalid handle.
        Some(ERROR_INVALID_HANDLE) => Error::InvalidName {
            name: name.to_string(),
            reason: "the name belongs to another kind of kernel object (not a file mapping)",
        },
        Some(ERROR_PATH_NOT_FOUND | ERROR_INVALID_NAME | ERROR_BAD_PATHNAME) => Error::InvalidName {
            name: name.to_string(),
            reason: "Windows refuses the name (an unknown namespace prefix?)",
        },
        _ => Error::Os { op, name: name.to_string(), source },
    }
}

/// Creates the mapping exclusively, `len` bytes long (Windows rounds it up
/// to whole pages). `Ok(None)` when a mapping of that name exists.
pub(crate) fn create_exclusive(name: &ShmName, len: u64) -> Result<Option<Object>> {
    match Section::create(&wide(name), len) {
        Ok(s) => Ok(Some(s)),
        Err(SectionError::Exists) => Ok(None),
        Err(SectionError::Os(e)) => Err(os_error("CreateFileMappingW", name, e)),
    }
}

/// Opens an existing mapping read-write. Windows mappings have an access
/// control list instead of an owner id: what the ACL lets this user open is
/// opened, so `_allow_foreign_owner` has nothing to refuse here.
pub(crate) fn open_rw(name: &ShmName, _allow_foreign_owner: bool) -> Result<Object> {
    Section::open(&wide(name), true).map_err(|e| os_error("OpenFileMappingW", name, e))
}

/// Opens an existing mapping read-only (inspection tools).
pub(crate) fn open_ro(name: &ShmName) -> Result<Object> {
    Section::open(&wide(name), false).map_err(|e| os_error("OpenFileMappingW", name, e))
}

/// The mapping's size in bytes: a whole number of pages (what a view of all
/// of it spans; the peers measure it the same way, with `VirtualQuery`).
pub(crate) fn len(object: &Object, name: &ShmName) -> Result<u64> {
    object.len().map(|n| n as u64).map_err(|e| os_error("VirtualQuery", name, e))
}

/// The size; a Windows mapping has an access-control list rather than a
/// mode and an owner id.
pub(crate) fn info(object: &Object, name: &ShmName) -> Result<ObjectInfo> {
    Ok(ObjectInfo { len: len(object, name)?, mode: None, uid: None })
}

/// The exclusive producer lock of a segment: none can be taken on Windows
/// yet (see [`lock_producer`]).
pub(crate) enum ProducerLock {}

/// Windows has no `flock` on a named mapping: the exclusive producer's
/// claim cannot be checked there, so asking for it is an error rather than
/// an unchecked promise.
pub(crate) fn lock_producer(_object: &Object, _name: &ShmName) -> Result<ProducerLock> {
    Err(Error::Unsupported)
}

/// A named mapping has no name to unlink (see `super::CAN_UNLINK`).
pub(crate) const CAN_UNLINK: bool = false;

/// Nothing to unlink on Windows (see the module comment): always `Ok(true)`,
/// like the peers' `remove` there. The mapping disappears when the last
/// process holding it closes it.
pub(crate) fn unlink(_name: &ShmName) -> Result<bool> {
    Ok(true)
}

/// Windows has no doorbell object (waits poll) and nothing to unlink.
pub(crate) fn remove_doorbell(_queue: &ShmName) {}

/// A 0-byte named mapping cannot exist (the paging file backs only sized
/// ones), so there is never an abandoned empty object to remove.
pub(crate) fn unlink_if_empty(_name: &ShmName) -> Result<()> {
    Ok(())
}

/// Reads up to `buf.len()` bytes at `offset` through a read-only view.
pub(crate) fn read_at(object: &Object, buf: &mut [u8], offset: u64, name: &ShmName) -> Result<usize> {
    object.read_at(offset, buf).map_err(|e| os_error("MapViewOfFile", name, e))
}
