//! [`ShmName`]: a validated shared-memory name, and the platform's rules
//! for one.

use crate::error::{Error, Result};

/// The longest name the platform accepts, in bytes, without the leading `/`.
#[cfg(target_os = "macos")]
pub const MAX_NAME_LEN: usize = 30; // PSHMNAMLEN is 31 including the slash
/// The longest name the platform accepts, in bytes, without the leading `/`.
#[cfg(not(target_os = "macos"))]
pub const MAX_NAME_LEN: usize = 255; // NAME_MAX of the /dev/shm file; the C++ peer's limit on Windows

/// A validated shared-memory name, stored with its single leading `/`.
///
/// One leading `/` is accepted and not doubled, as both peers do. On
/// Linux and macOS the object is `shm_open`ed as `/<name>`; on Windows the
/// mapping is named `<name>` as-is (what the Python peer passes to
/// `CreateFileMapping` after stripping a leading `/`, and what the C++ peer
/// passes), optionally prefixed with `Local\` or `Global\`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShmName(pub(super) String);

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
