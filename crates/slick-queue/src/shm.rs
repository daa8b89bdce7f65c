//! POSIX shared-memory objects by name: name validation, create/open/unlink,
//! length and mode. Safe wrappers over `shm_open(3)` and friends (through
//! `rustix`); mapping the object is [`crate::region::Mapping`]'s job.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::Mode;
use rustix::io::Errno;
use rustix::shm;

use crate::error::{Error, Result};

/// The longest name the platform accepts, in bytes, without the leading `/`.
#[cfg(target_os = "macos")]
pub const MAX_NAME_LEN: usize = 30; // PSHMNAMLEN is 31 including the slash
/// The longest name the platform accepts, in bytes, without the leading `/`.
#[cfg(not(target_os = "macos"))]
pub const MAX_NAME_LEN: usize = 255; // NAME_MAX of the /dev/shm file

/// A validated POSIX shared-memory name, stored with its single leading `/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShmName(String);

impl ShmName {
    /// Validates a queue name. One leading `/` is accepted and not doubled (as
    /// both peers do); the rest must be non-empty, contain no `/` and no NUL,
    /// not be `.` or `..`, and fit the platform's limit.
    pub fn new(name: &str) -> Result<ShmName> {
        let bare = name.strip_prefix('/').unwrap_or(name);
        let reason = if bare.is_empty() {
            Some("the name is empty")
        } else if bare.contains('/') {
            Some("a name may not contain '/' after its optional leading '/'")
        } else if bare.contains('\0') {
            Some("a name may not contain a NUL byte")
        } else if bare == "." || bare == ".." {
            Some("'.' and '..' are not object names")
        } else if bare.len() > MAX_NAME_LEN {
            Some(if cfg!(target_os = "macos") {
                "the name is longer than macOS allows (31 bytes including the leading '/')"
            } else {
                "the name is longer than 255 bytes"
            })
        } else {
            None
        };
        match reason {
            Some(reason) => Err(Error::InvalidName { name: name.to_owned(), reason }),
            None => Ok(ShmName(format!("/{bare}"))),
        }
    }

    /// The POSIX name, with its leading `/` (what `shm_open` and the C++ peer use).
    pub fn as_posix(&self) -> &str {
        &self.0
    }

    /// The name without the leading `/` (what the Python peer calls `name`).
    pub fn bare(&self) -> &str {
        &self.0[1..]
    }
}

impl std::fmt::Display for ShmName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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
        Errno::NOENT => Error::NotFound { name: name.0.clone() },
        Errno::ACCESS | Errno::PERM => Error::PermissionDenied { name: name.0.clone(), source },
        Errno::NAMETOOLONG => {
            Error::InvalidName { name: name.0.clone(), reason: "the platform says the name is too long" }
        }
        _ => Error::Os { op, name: name.0.clone(), source },
    }
}

/// Creates the object exclusively with exactly `mode` (the umask is undone with
/// `fchmod`). `Ok(None)` when it already exists.
pub(crate) fn create_exclusive(name: &ShmName, mode: u32) -> Result<Option<OwnedFd>> {
    let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR;
    match shm::open(sys_name(name), flags, Mode::from_bits_truncate(mode)) {
        Ok(fd) => {
            if let Err(e) = rustix::fs::fchmod(&fd, Mode::from_bits_truncate(mode)) {
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

/// Takes the exclusive producer lock of a segment: a non-blocking exclusive
/// `flock` on a duplicate of its descriptor (the same open file
/// description), returned so that the caller keeps it open as long as it
/// produces; closing it (or the process dying) releases the lock. The lock
/// lives in the kernel, outside the segment's bytes, so the wire layout is
/// untouched; peers that do not take it (C++, the original Python package)
/// are not stopped by it.
pub(crate) fn lock_producer(fd: &OwnedFd, name: &ShmName) -> Result<OwnedFd> {
    let lock = fd.try_clone().map_err(|source| Error::Os { op: "dup", name: name.0.clone(), source })?;
    match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(lock),
        Err(Errno::WOULDBLOCK) => Err(Error::ProducerClaimed { name: name.to_string() }),
        Err(e) => Err(os_error("flock", name, e)),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert_eq!(ShmName::new("q1").unwrap().as_posix(), "/q1");
        assert_eq!(ShmName::new("/q1").unwrap().as_posix(), "/q1");
        assert_eq!(ShmName::new("/q1").unwrap().bare(), "q1");
        for bad in ["", "/", "//q", "a/b", "/a/b", "a\0b", ".", "/.."] {
            assert!(matches!(ShmName::new(bad), Err(Error::InvalidName { .. })), "{bad:?} accepted");
        }
        let long = "x".repeat(MAX_NAME_LEN);
        assert!(ShmName::new(&long).is_ok());
        let longer = "x".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(ShmName::new(&longer), Err(Error::InvalidName { .. })));
        assert!(ShmName::new(&format!("/{long}")).is_ok());
    }
}
