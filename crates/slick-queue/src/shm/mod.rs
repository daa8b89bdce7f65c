//! Shared-memory objects by name: the common interface the rest of the crate
//! uses (create / open / remove / length / owner and mode / read), name
//! validation, and the platform's implementation in a submodule:
//!
//! * `unix.rs` — POSIX `shm_open` objects (Linux and macOS), through `rustix`;
//! * `windows.rs` — named file mappings (`CreateFileMappingW` /
//!   `OpenFileMappingW`, backed by the paging file).
//!
//! Mapping an object is [`crate::region::Mapping`]'s job; on Windows the few
//! system calls that need `unsafe` are there too (`region/mapping.rs`).
//! Everything platform-specific below the queue lives in these two places.

#[cfg(unix)]
pub(crate) mod unix;
#[cfg(unix)]
use unix as imp;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as imp;

pub(crate) use imp::{lock_producer, open_ro, open_rw, read_at, unlink, unlink_if_empty, Object, ProducerLock};

use crate::error::{Error, Result};

/// The longest name the platform accepts, in bytes, without the leading `/`.
#[cfg(target_os = "macos")]
pub const MAX_NAME_LEN: usize = 30; // PSHMNAMLEN is 31 including the slash
/// The longest name the platform accepts, in bytes, without the leading `/`.
#[cfg(not(target_os = "macos"))]
pub const MAX_NAME_LEN: usize = 255; // NAME_MAX of the /dev/shm file; the C++ peer's limit on Windows

/// Whether `remove` deletes anything on this platform. On Windows a named
/// mapping lives exactly as long as some process holds a handle or a view
/// of it: there is no name to unlink, and `remove` is a successful no-op.
pub const CAN_UNLINK: bool = cfg!(unix);

/// A validated shared-memory name, stored with its single leading `/`.
///
/// One leading `/` is accepted and not doubled, as both peers do. On
/// Linux and macOS the object is `shm_open`ed as `/<name>`; on Windows the
/// mapping is named `<name>` as-is (what the Python peer passes to
/// `CreateFileMapping` after stripping a leading `/`, and what the C++ peer
/// passes), optionally prefixed with `Local\` or `Global\`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShmName(String);

impl ShmName {
    /// Validates a queue name. One leading `/` is accepted and not doubled (as
    /// both peers do); the rest must be non-empty, contain no `/` and no NUL,
    /// not be `.` or `..`, and fit the platform's limit. On Windows a
    /// backslash may only end a `Local\` or `Global\` namespace prefix.
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
            windows_name_problem(bare)
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

    /// The name the operating system sees: `/<name>` on Linux and macOS,
    /// `<name>` (with its optional `Local\`/`Global\` prefix) on Windows.
    pub fn os_name(&self) -> &str {
        if cfg!(windows) {
            self.bare()
        } else {
            self.as_posix()
        }
    }
}

impl std::fmt::Display for ShmName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.os_name())
    }
}

/// Windows kernel object names may not contain a backslash except after a
/// namespace prefix (`Local\`, `Global\`); a prefix needs a name after it.
/// Checked on every platform only where it matters: on Linux and macOS a
/// backslash is an ordinary byte of a POSIX name, as for the peers there.
fn windows_name_problem(bare: &str) -> Option<&'static str> {
    if !cfg!(windows) {
        return None;
    }
    let rest = ["Local\\", "Global\\"]
        .iter()
        .find_map(|p| bare.get(..p.len()).filter(|head| head.eq_ignore_ascii_case(p)).map(|_| &bare[p.len()..]))
        .unwrap_or(bare);
    if rest.is_empty() {
        Some("a 'Local\\' or 'Global\\' prefix needs a name after it")
    } else if rest.contains('\\') {
        Some("on Windows a name may contain '\\' only after a 'Local' or 'Global' prefix")
    } else {
        None
    }
}

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
        let Some(fd) = unix::create_exclusive(name, mode)? else {
            return Ok(None);
        };
        crate::attach::failpoint("attach-created");
        if let Err(e) = unix::allocate(&fd, len, name) {
            let _ = unix::unlink(name);
            return Err(e);
        }
        crate::attach::failpoint("attach-sized");
        Ok(Some(fd))
    }
    #[cfg(windows)]
    {
        let _ = mode;
        windows::create_exclusive(name, len)
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

    #[test]
    fn the_os_name_is_the_platforms() {
        let n = ShmName::new("/q1").unwrap();
        if cfg!(windows) {
            assert_eq!(n.os_name(), "q1");
            assert_eq!(n.to_string(), "q1");
        } else {
            assert_eq!(n.os_name(), "/q1");
            assert_eq!(n.to_string(), "/q1");
        }
    }

    #[test]
    fn windows_namespace_prefixes() {
        let prefixed = ["Local\\q1", "Global\\q1", "local\\q1", "/Local\\q1"];
        let bad = ["Local\\", "Global\\", "a\\b", "Local\\a\\b", "Session\\1\\q"];
        for n in prefixed {
            assert!(ShmName::new(n).is_ok(), "{n:?} refused");
        }
        for n in bad {
            // On Linux and macOS a backslash is an ordinary byte, as for the peers.
            assert_eq!(ShmName::new(n).is_err(), cfg!(windows), "{n:?}");
        }
        if cfg!(windows) {
            assert_eq!(ShmName::new("/Local\\q1").unwrap().os_name(), "Local\\q1");
        }
    }
}
