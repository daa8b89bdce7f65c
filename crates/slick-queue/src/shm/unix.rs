//! POSIX shared-memory objects by name (Linux and macOS): create/open/unlink,
//! length and mode. Safe wrappers over `shm_open(3)` and friends (through
//! `rustix`); mapping the object is [`crate::region::Mapping`]'s job.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::Mode;
use rustix::io::Errno;
use rustix::shm;

use super::{ObjectInfo, ShmName};
use crate::error::{Error, Result};

/// An open shared-memory object.
pub(crate) type Object = OwnedFd;

/// Length, permission bits and owner, from `fstat`.
pub(crate) fn info(fd: impl AsFd, name: &ShmName) -> Result<ObjectInfo> {
    let st = stat(fd, name)?;
    // `st_mode` is a u32 on Linux, a u16 on macOS.
    #[allow(clippy::useless_conversion)]
    let mode = u32::from(st.st_mode) & 0o7777;
    Ok(ObjectInfo { len: u64::try_from(st.st_size).unwrap_or(0), mode: Some(mode), uid: Some(st.st_uid) })
}

/// The permission bits of `mode` (`mode_t` is 16 bits on macOS, 32 on
/// Linux; the bits kept fit both).
fn perm(mode: u32) -> Mode {
    Mode::from_bits_truncate((mode & 0o7777) as rustix::fs::RawMode)
}

/// The name handed to rustix. On Linux, rustix's own `shm_open` counts the
/// leading '/' against NAME_MAX (255) and so refuses 255-byte names that
/// glibc, and with it the C++ and Python peers, accept; given without the
/// slash, the same object (`/dev/shm/<name>`) is opened.
fn sys_name(name: &ShmName) -> &str {
    if cfg!(target_os = "linux") {
        name.bare()
    } else {
        name.as_posix()
    }
}

fn os_error(op: &'static str, name: &ShmName, e: Errno) -> Error {
    let source = std::io::Error::from(e);
    match e {
        Errno::NOENT => Error::NotFound { name: name.to_string() },
        Errno::ACCESS | Errno::PERM => Error::PermissionDenied { name: name.to_string(), source },
        Errno::NAMETOOLONG => {
            Error::InvalidName { name: name.to_string(), reason: "the platform says the name is too long" }
        }
        _ => Error::Os { op, name: name.to_string(), source },
    }
}

/// Creates the object exclusively with exactly `mode` (the umask is undone with
/// `fchmod`). `Ok(None)` when it already exists.
pub(crate) fn create_exclusive(name: &ShmName, mode: u32) -> Result<Option<OwnedFd>> {
    let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR;
    match shm::open(sys_name(name), flags, perm(mode)) {
        Ok(fd) => {
            if let Err(e) = rustix::fs::fchmod(&fd, perm(mode)) {
                let _ = shm::unlink(sys_name(name));
                return Err(os_error("fchmod", name, e));
            }
            Ok(Some(fd))
        }
        Err(Errno::EXIST) => Ok(None),
        Err(e) => Err(os_error("shm_open", name, e)),
    }
}

/// Opens an existing object read-write.
pub(crate) fn open_rw(name: &ShmName) -> Result<OwnedFd> {
    shm::open(sys_name(name), shm::OFlags::RDWR, Mode::empty()).map_err(|e| os_error("shm_open", name, e))
}

/// Opens an existing object read-only (inspection tools).
pub(crate) fn open_ro(name: &ShmName) -> Result<OwnedFd> {
    shm::open(sys_name(name), shm::OFlags::RDONLY, Mode::empty()).map_err(|e| os_error("shm_open", name, e))
}

/// The object's length, mode and owner.
pub(crate) fn stat(fd: impl AsFd, name: &ShmName) -> Result<rustix::fs::Stat> {
    rustix::fs::fstat(fd).map_err(|e| os_error("fstat", name, e))
}

/// The object's length in bytes.
pub(crate) fn len(fd: impl AsFd, name: &ShmName) -> Result<u64> {
    Ok(u64::try_from(stat(fd, name)?.st_size).unwrap_or(0))
}

/// Sets the object's length (only ever on an object this process created).
pub(crate) fn set_len(fd: impl AsFd, len: u64, name: &ShmName) -> Result<()> {
    rustix::fs::ftruncate(fd, len).map_err(|e| os_error("ftruncate", name, e))
}

/// Unlinks the name: `Ok(true)` if removed, `Ok(false)` if there was none.
pub(crate) fn unlink(name: &ShmName) -> Result<bool> {
    match shm::unlink(sys_name(name)) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(os_error("shm_unlink", name, e)),
    }
}

/// Reads up to `buf.len()` bytes at `offset` without mapping the object.
#[cfg(not(target_os = "macos"))]
pub(crate) fn read_at(fd: impl AsFd, buf: &mut [u8], offset: u64, name: &ShmName) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match rustix::io::pread(&fd, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(os_error("pread", name, e)),
        }
    }
    Ok(done)
}

/// Reads up to `buf.len()` bytes at `offset`. macOS shared-memory objects
/// cannot be read with `read`/`pread`, only mapped: this maps the object
/// read-only for the copy. (An object there can be sized only once, so it
/// cannot shrink under the mapping.)
#[cfg(target_os = "macos")]
pub(crate) fn read_at(fd: impl AsFd, buf: &mut [u8], offset: u64, name: &ShmName) -> Result<usize> {
    let len = len(&fd, name)?;
    let len = usize::try_from(len)
        .map_err(|_| Error::Corrupt { reason: format!("{name} is larger than the address space") })?;
    if len == 0 {
        return Ok(0);
    }
    let view = crate::region::ReadView::map(fd.as_fd(), len).map_err(|source| Error::Os {
        op: "mmap",
        name: name.to_string(),
        source,
    })?;
    Ok(view.read_at(offset, buf))
}
