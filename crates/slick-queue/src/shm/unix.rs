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

/// The flags every `shm_open` of this crate adds to the access mode. On
/// Linux the object is a file in `/dev/shm`, a world-writable directory:
/// `O_NOFOLLOW` refuses a symbolic link planted there (glibc's `shm_open`
/// adds it, rustix's does not), `O_NONBLOCK` keeps a FIFO planted under a
/// queue's name from blocking the open, and `O_CLOEXEC` keeps the
/// descriptor out of child processes. Whatever was opened is then checked
/// with `fstat` ([`check_regular`]).
fn hardened(flags: shm::OFlags) -> shm::OFlags {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::OFlags as F;
        flags | shm::OFlags::from_bits_retain((F::NOFOLLOW | F::NONBLOCK | F::CLOEXEC).bits())
    }
    #[cfg(not(target_os = "linux"))]
    {
        flags
    }
}

/// `shm_open` with [`hardened`] flags; a symbolic link (`ELOOP` under
/// `O_NOFOLLOW`) becomes [`Error::NotRegularFile`].
fn sys_open(name: &ShmName, flags: shm::OFlags, mode: Mode) -> std::result::Result<OwnedFd, Error> {
    match shm::open(sys_name(name), hardened(flags), mode) {
        Ok(fd) => Ok(fd),
        Err(Errno::LOOP) if cfg!(target_os = "linux") => {
            Err(Error::NotRegularFile { name: name.0.clone(), kind: "a symbolic link" })
        }
        Err(e) => Err(os_error("shm_open", name, e)),
    }
}

/// Refuses anything `fstat` does not call a regular file (a FIFO, a device,
/// a socket or a directory planted under a queue's name).
fn check_regular(fd: &OwnedFd, name: &ShmName) -> Result<rustix::fs::Stat> {
    let st = stat(fd, name)?;
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::FileType;
        let kind = match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => None,
            FileType::Directory => Some("a directory"),
            FileType::Symlink => Some("a symbolic link"),
            FileType::Fifo => Some("a FIFO"),
            FileType::Socket => Some("a socket"),
            FileType::CharacterDevice => Some("a character device"),
            FileType::BlockDevice => Some("a block device"),
            FileType::Unknown => Some("not a regular file"),
        };
        if let Some(kind) = kind {
            return Err(Error::NotRegularFile { name: name.0.clone(), kind });
        }
    }
    Ok(st)
}

/// Refuses an object owned by another user unless `allow` says otherwise:
/// anyone may create a name in `/dev/shm` first, so an object of the same
/// name owned by someone else may be a squatter waiting for our data.
fn check_owner(st: &rustix::fs::Stat, name: &ShmName, allow: bool) -> Result<()> {
    let ours = rustix::process::geteuid().as_raw();
    if allow || st.st_uid == ours {
        Ok(())
    } else {
        Err(Error::ForeignOwner { name: name.0.clone(), owner: st.st_uid, ours })
    }
}

/// Refuses creation modes with more than permission bits in them.
pub(crate) fn check_mode(mode: u32) -> Result<()> {
    if mode & !0o777 == 0 {
        Ok(())
    } else {
        Err(Error::InvalidMode { mode })
    }
}

/// Creates the object exclusively with exactly `mode` (the umask is undone with
/// `fchmod`). `Ok(None)` when it already exists.
pub(crate) fn create_exclusive(name: &ShmName, mode: u32) -> Result<Option<OwnedFd>> {
    check_mode(mode)?;
    let flags = shm::OFlags::CREATE | shm::OFlags::EXCL | shm::OFlags::RDWR;
    match sys_open(name, flags, perm(mode)) {
        Ok(fd) => {
            if let Err(e) = rustix::fs::fchmod(&fd, perm(mode)) {
                let _ = shm::unlink(sys_name(name));
                return Err(os_error("fchmod", name, e));
            }
            Ok(Some(fd))
        }
        Err(Error::Os { source, .. }) if source.raw_os_error() == Some(Errno::EXIST.raw_os_error()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens an existing object read-write: a regular file owned by this user
/// (or by anyone, with `allow_foreign_owner`).
pub(crate) fn open_rw(name: &ShmName, allow_foreign_owner: bool) -> Result<OwnedFd> {
    let fd = sys_open(name, shm::OFlags::RDWR, Mode::empty())?;
    let st = check_regular(&fd, name)?;
    check_owner(&st, name, allow_foreign_owner)?;
    Ok(fd)
}

/// Opens an existing object read-only (inspection tools): a regular file,
/// whoever owns it.
pub(crate) fn open_ro(name: &ShmName) -> Result<OwnedFd> {
    let fd = sys_open(name, shm::OFlags::RDONLY, Mode::empty())?;
    check_regular(&fd, name)?;
    Ok(fd)
}

/// The object's length, mode and owner.
pub(crate) fn stat(fd: impl AsFd, name: &ShmName) -> Result<rustix::fs::Stat> {
    rustix::fs::fstat(fd).map_err(|e| os_error("fstat", name, e))
}

/// The object's length in bytes.
pub(crate) fn len(fd: impl AsFd, name: &ShmName) -> Result<u64> {
    Ok(u64::try_from(stat(fd, name)?.st_size).unwrap_or(0))
}

/// Sizes an object this process just created and reserves its memory.
///
/// `ftruncate` alone makes a sparse object: the pages are found (or not)
/// only when first touched, and a full `/dev/shm` then kills the toucher
/// with SIGBUS. `fallocate` reserves them now, so no room is an error here,
/// [`Error::NoSpace`]. Where the file system cannot reserve space
/// (`EOPNOTSUPP`), the object is sized with `ftruncate` as before.
pub(crate) fn allocate(fd: impl AsFd, len: u64, name: &ShmName) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        match rustix::fs::fallocate(&fd, rustix::fs::FallocateFlags::empty(), 0, len) {
            Ok(()) => return Ok(()),
            Err(Errno::NOSPC) => {
                return Err(Error::NoSpace { name: name.0.clone(), needed: len, source: Errno::NOSPC.into() })
            }
            Err(Errno::OPNOTSUPP | Errno::NOSYS) => {}
            Err(e) => return Err(os_error("fallocate", name, e)),
        }
    }
    match rustix::fs::ftruncate(&fd, len) {
        Ok(()) => Ok(()),
        Err(Errno::NOSPC) => Err(Error::NoSpace { name: name.0.clone(), needed: len, source: Errno::NOSPC.into() }),
        Err(e) => Err(os_error("ftruncate", name, e)),
    }
}

/// Makes sure every page of the first `len` bytes of an object someone
/// else sized is backed by memory, so that touching it cannot raise
/// SIGBUS.
///
/// The C++ and original Python peers size a segment with `ftruncate` alone:
/// its pages are found only when first touched (reading included), and on
/// a full `/dev/shm` the toucher dies of SIGBUS. For an object opened
/// read-write the missing pages are reserved now with `fallocate`
/// (`KEEP_SIZE`: the length never changes; existing bytes are untouched,
/// holes read as the zeros they read as before); no room is
/// [`Error::Unbacked`] and the kernel takes back what the call allocated. A
/// read-only opener may not allocate: it checks that the file system has
/// room for the missing pages (a check, not a reservation: another process
/// can still take the room before the pages are touched). Called only once
/// the object is known to be a queue of the geometry the caller accepted,
/// so a large foreign object under the name never makes us allocate.
/// Where the file system cannot reserve (`EOPNOTSUPP`) nothing is done, as
/// at create. Not on macOS, which has no `fallocate`.
pub(crate) fn reserve_backing(fd: impl AsFd, len: u64, name: &ShmName, read_only: bool) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        let st = stat(&fd, name)?;
        let len = len.min(u64::try_from(st.st_size).unwrap_or(0));
        let have = u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512);
        if have >= len {
            return Ok(());
        }
        let missing = len - have;
        let unbacked = |source: std::io::Error| Error::Unbacked { name: name.0.clone(), missing, source };
        if !read_only {
            let flags = rustix::fs::FallocateFlags::KEEP_SIZE;
            return match rustix::fs::fallocate(&fd, flags, 0, len) {
                Ok(()) | Err(Errno::OPNOTSUPP | Errno::NOSYS) => Ok(()),
                Err(Errno::NOSPC) => Err(unbacked(Errno::NOSPC.into())),
                Err(e) => Err(os_error("fallocate", name, e)),
            };
        }
        let vfs = rustix::fs::fstatvfs(&fd).map_err(|e| os_error("fstatvfs", name, e))?;
        if vfs.f_bavail.saturating_mul(vfs.f_frsize) < missing {
            return Err(unbacked(Errno::NOSPC.into()));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (fd, len, name, read_only);
    Ok(())
}

/// The exclusive producer lock of a segment (see [`lock_producer`]).
pub(crate) type ProducerLock = OwnedFd;

/// Takes the exclusive producer lock of a segment: a non-blocking exclusive
/// `flock` on a duplicate of its descriptor (the same open file
/// description), returned so that the caller keeps it open as long as it
/// produces; closing it (or the process dying) releases the lock. The lock
/// lives in the kernel, outside the segment's bytes, so the wire layout is
/// untouched; peers that do not take it (C++, the original Python package)
/// are not stopped by it.
pub(crate) fn lock_producer(fd: &OwnedFd, name: &ShmName) -> Result<ProducerLock> {
    let lock = fd.try_clone().map_err(|source| Error::Os { op: "dup", name: name.to_string(), source })?;
    match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(lock),
        Err(Errno::WOULDBLOCK) => Err(Error::ProducerClaimed { name: name.to_string() }),
        Err(e) => Err(os_error("flock", name, e)),
    }
}

/// `shm_unlink` deletes a name (see `super::CAN_UNLINK`).
pub(crate) const CAN_UNLINK: bool = true;

/// Unlinks the name: `Ok(true)` if removed, `Ok(false)` if there was none.
pub(crate) fn unlink(name: &ShmName) -> Result<bool> {
    match shm::unlink(sys_name(name)) {
        Ok(()) => Ok(true),
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(os_error("shm_unlink", name, e)),
    }
}

/// Unlinks the doorbell object of `queue`, if there is one and it carries
/// the doorbell's identification word (an unrelated object that merely has
/// the name is left alone). Best effort: a doorbell that is gone or cannot be
/// unlinked only costs the next attacher a fresh or a shared one.
pub(crate) fn remove_doorbell(queue: &ShmName) {
    use crate::doorbell::{doorbell_name, DOORBELL_MAGIC, DOORBELL_MAGIC_OFFSET};
    let Ok(bell) = ShmName::new(&doorbell_name(queue.bare())) else { return };
    let Ok(fd) = open_ro(&bell) else { return };
    let mut magic = [0u8; 8];
    if matches!(read_at(&fd, &mut magic, DOORBELL_MAGIC_OFFSET, &bell), Ok(8))
        && u64::from_ne_bytes(magic) == DOORBELL_MAGIC
    {
        let _ = unlink(&bell);
    }
}

/// Unlinks the name if it still names an empty (0-byte) regular file: an
/// object whose creator died before sizing it. Anything else under the name
/// (a sized object, a newer one) is left alone. The check and the unlink
/// are two steps; a creator that sizes the object between them loses it,
/// which is why only a caller that waited the whole init timeout for the
/// object to be sized calls this.
pub(crate) fn unlink_if_empty(name: &ShmName) -> Result<()> {
    let fd = match sys_open(name, shm::OFlags::RDONLY, Mode::empty()) {
        Ok(fd) => fd,
        Err(Error::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = check_regular(&fd, name)?;
    if st.st_size == 0 {
        unlink(name)?;
    }
    Ok(())
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
