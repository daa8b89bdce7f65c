//! A shared mapping of a whole shared-memory object: the platform part of
//! [`super::Region`].

use std::ptr::NonNull;

use crate::layout::{ShmHeader, Slot};
use crate::sync::AtomicU64;

/// A read-write shared mapping of a whole shared-memory object.
pub(crate) struct Mapping {
    pub(super) ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; all access through it is atomic
// (see `Region`), and unmapping happens once, in `Drop`.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes (the object's length, `len > 0`) of `fd` read-write,
    /// shared.
    pub fn map(fd: std::os::fd::BorrowedFd<'_>, len: usize) -> std::io::Result<Mapping> {
        use rustix::mm::{MapFlags, ProtFlags};
        if len == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
        }
        // SAFETY: a fresh mapping chosen by the kernel (null hint) cannot
        // overlap any Rust object; the result is owned by the returned value
        // and unmapped exactly once in `Drop`.
        let ptr = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, fd, 0)?
        };
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::Other))?;
        Ok(Mapping { ptr, len })
    }

    /// Length of the mapped object in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes that may be accessed: the object's length rounded up to whole
    /// 4 KiB pages (the kernel maps whole pages; 4 KiB divides every page
    /// size). Only the last data word of an array whose length is not a
    /// multiple of 8 ever reaches past `len()`, and only the bytes before
    /// `len()` of it are used.
    pub fn accessible_len(&self) -> usize {
        self.len.div_ceil(4096).saturating_mul(4096)
    }

    /// The segment header, if the mapping is long enough to hold one.
    pub fn header(&self) -> Option<&ShmHeader> {
        if self.len < crate::layout::HEADER_SIZE {
            return None;
        }
        // SAFETY: the mapping holds at least 64 bytes and is page-aligned;
        // `ShmHeader` is 64 bytes of atomics with alignment 8.
        Some(unsafe { &*self.ptr.as_ptr().cast::<ShmHeader>() })
    }

    /// The control slot `i` of a segment with `slot_count` slots, if the
    /// mapping covers it (used while initializing, before a `Region` exists).
    pub fn slot(&self, i: usize) -> Option<&Slot> {
        let end = crate::layout::HEADER_SIZE.checked_add(i.checked_add(1)?.checked_mul(crate::layout::SLOT_SIZE)?)?;
        if end > self.len {
            return None;
        }
        // SAFETY: slot `i` ends within the mapping (checked above) and is
        // 8-aligned (64 + 16 * i from a page-aligned base).
        Some(unsafe { &*self.ptr.as_ptr().add(crate::layout::HEADER_SIZE).cast::<Slot>().add(i) })
    }

    /// The 8-byte word at offset 0 (a shared work-stealing cursor object).
    pub fn word0(&self) -> Option<&AtomicU64> {
        if self.len < 8 {
            return None;
        }
        // SAFETY: 8 bytes at the page-aligned start of the mapping.
        Some(unsafe { &*self.ptr.as_ptr().cast::<AtomicU64>() })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe the mapping made in `map`, unmapped
        // only here; no reference into it outlives `self` (all accessors
        // borrow `&self`). A failure leaves the mapping in place, which is a
        // leak, not unsoundness.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
