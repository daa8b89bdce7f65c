//! The platform-independent half of the object interface: create (exclusive,
//! sized), measure, map. The platform's half is `unix.rs` / `windows.rs`.

use super::{imp, Object, ShmName};
use crate::error::{Error, Result};

/// Length, permission bits and owner of an object, as far as the platform
/// has them (a Windows mapping has an access-control list, not a mode and
/// an owner id).
pub(crate) struct ObjectInfo {
    pub len: u64,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
}

/// Creates the object exclusively, `len` bytes long, with exactly `mode`
/// where the platform has modes (on Windows the creating user's default
/// security applies). `Ok(None)` when it already exists.
///
/// On Linux and macOS the object is created, then sized once with
/// `ftruncate` (macOS allows only one); an opener that finds it still
/// shorter than a header waits for the creator (see `attach`). On Windows
/// creation and size are one call.
pub(crate) fn create(name: &ShmName, mode: u32, len: u64) -> Result<Option<Object>> {
    #[cfg(unix)]
    {
        let Some(fd) = super::unix::create_exclusive(name, mode)? else {
            return Ok(None);
        };
        crate::attach::failpoint("attach-created");
        if let Err(e) = super::unix::allocate(&fd, len, name) {
            let _ = super::unix::unlink(name);
            return Err(e);
        }
        crate::attach::failpoint("attach-sized");
        Ok(Some(fd))
    }
    #[cfg(windows)]
    {
        let _ = mode;
        super::windows::create_exclusive(name, len)
    }
}

/// The object's length in bytes (on Windows: the mapping's size, rounded up
/// to whole pages).
pub(crate) fn len(object: &Object, name: &ShmName) -> Result<u64> {
    imp::len(object, name)
}

/// Length, mode and owner (see [`ObjectInfo`]).
pub(crate) fn info(object: &Object, name: &ShmName) -> Result<ObjectInfo> {
    imp::info(object, name)
}

/// Maps the first `len` bytes of the object read-write, shared. The mapping
/// takes the object over: on Linux and macOS the descriptor is closed (the
/// mapping stays), on Windows the handle stays open with the view.
pub(crate) fn map(object: Object, len: usize, name: &ShmName) -> Result<crate::region::Mapping> {
    crate::region::Mapping::map(object, len).map_err(|source| Error::Os { op: "map", name: name.to_string(), source })
}

/// Maps the whole object copy-on-write: a view whose writes never reach the
/// object (for read-only commands on a queue the user may only read).
pub(crate) fn map_private(object: Object, len: usize, name: &ShmName) -> Result<crate::region::Mapping> {
    crate::region::Mapping::map_private(object, len).map_err(|source| Error::Os {
        op: "map",
        name: name.to_string(),
        source,
    })
}

/// Makes sure the first `len` bytes of an object someone else sized are
/// backed by memory (see `unix::reserve_backing`): the missing pages are
/// reserved (read-write) or the room for them checked (`read_only`), so
/// touching them cannot raise SIGBUS; no room is [`Error::Unbacked`].
/// Nothing to do on Windows, whose mappings are backed when created.
pub(crate) fn reserve_backing(object: &Object, len: u64, name: &ShmName, read_only: bool) -> Result<()> {
    #[cfg(unix)]
    return super::unix::reserve_backing(object, len, name, read_only);
    #[cfg(windows)]
    {
        let _ = (object, len, name, read_only);
        Ok(())
    }
}

/// A second descriptor of an object, kept past its mapping (which closes
/// the first) so that its memory can be reserved once the segment is known
/// to be a valid queue: [`BackingCheck::reserve`]. Linux only; elsewhere
/// there is nothing to reserve and it holds nothing.
pub(crate) struct BackingCheck(#[cfg(target_os = "linux")] Object);

/// Keeps a [`BackingCheck`] for `object` (a close-on-exec duplicate).
pub(crate) fn backing_check(object: &Object, name: &ShmName) -> Result<BackingCheck> {
    #[cfg(target_os = "linux")]
    return rustix::io::fcntl_dupfd_cloexec(object, 0)
        .map(BackingCheck)
        .map_err(|e| Error::Os { op: "dup", name: name.to_string(), source: e.into() });
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (object, name);
        Ok(BackingCheck())
    }
}

impl BackingCheck {
    /// [`reserve_backing`] for the first `len` bytes.
    pub(crate) fn reserve(&self, len: u64, name: &ShmName, read_only: bool) -> Result<()> {
        #[cfg(target_os = "linux")]
        return reserve_backing(&self.0, len, name, read_only);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (len, name, read_only);
            Ok(())
        }
    }
}
