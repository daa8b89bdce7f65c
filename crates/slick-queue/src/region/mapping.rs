//! A shared mapping of a whole shared-memory object: the platform part of
//! [`super::Region`], and `Region::shared`, a region over one. `mmap`/`munmap` on Linux and macOS; on Windows
//! `MapViewOfFile`/`UnmapViewOfFile`, plus the handful of Win32 calls on a
//! named mapping's handle (create, open, measure, close) that are `unsafe`
//! FFI and so live here rather than in `shm/windows.rs`.

use std::ptr::NonNull;

use super::{Backing, Region};
use crate::layout::{Geometry, ShmHeader, Slot};
use crate::sync::AtomicU64;

impl Region {
    /// A region over a mapped segment, if the mapping is long enough for the
    /// geometry; otherwise the mapping is handed back.
    pub fn shared(mapping: Mapping, geometry: &Geometry) -> Result<Region, Mapping> {
        let data_offset = geometry.data_offset();
        let words = geometry.data_len().div_ceil(8);
        if mapping.len() < geometry.segment_len()
            || data_offset % 8 != 0
            || data_offset + 8 * words > mapping.accessible_len()
        {
            return Err(mapping);
        }
        let base = mapping.ptr;
        // SAFETY: the mapping is at least `segment_len()` bytes long (checked
        // above), and `segment_len() = data_offset() + data_len()` with
        // `data_offset() >= HEADER_SIZE + SLOT_SIZE * slot_count`, so the
        // header, the control array and the data array lie inside it; the
        // data words (rounded up to whole words) lie inside its accessible
        // pages (checked above). The base is page-aligned and `data_offset` a
        // multiple of 8 (checked), so every atomic is naturally aligned.
        let (reserved, last_published, slots, data) = unsafe {
            let b = base.as_ptr();
            (
                NonNull::new_unchecked(b.add(crate::layout::offset::RESERVED).cast::<AtomicU64>()),
                NonNull::new_unchecked(b.add(crate::layout::offset::LAST_PUBLISHED).cast::<AtomicU64>()),
                NonNull::new_unchecked(b.add(crate::layout::offset::CONTROL).cast::<Slot>()),
                NonNull::slice_from_raw_parts(NonNull::new_unchecked(b.add(data_offset).cast::<AtomicU64>()), words),
            )
        };
        Ok(Region {
            reserved,
            last_published,
            slots,
            slot_mask: geometry.slot_count() as usize - 1,
            data,
            data_len: geometry.data_len(),
            backing: Backing::Mapped(mapping),
        })
    }
}

/// A read-write shared mapping of a whole shared-memory object.
pub(crate) struct Mapping {
    pub(super) ptr: NonNull<u8>,
    len: usize,
    /// On Windows the mapping's handle stays open as long as the view, as
    /// the peers keep theirs: the named mapping (and its name) lives while
    /// any process holds a handle to it.
    #[cfg(windows)]
    _section: win::Section,
}

// SAFETY: the mapping is plain shared memory; all access through it is atomic
// (see `Region`), and unmapping happens once, in `Drop`.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes (the object's length, `len > 0`) of `fd` read-write,
    /// shared. The descriptor is closed afterwards: the mapping stays.
    #[cfg(unix)]
    pub fn map(fd: std::os::fd::OwnedFd, len: usize) -> std::io::Result<Mapping> {
        use rustix::mm::{MapFlags, ProtFlags};
        if len == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
        }
        // SAFETY: a fresh mapping chosen by the kernel (null hint) cannot
        // overlap any Rust object; the result is owned by the returned value
        // and unmapped exactly once in `Drop`.
        let ptr = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, &fd, 0)?
        };
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::Other))?;
        Ok(Mapping { ptr, len })
    }

    /// Maps `len` bytes of `fd` (which may be open read-only) copy-on-write
    /// (`MAP_PRIVATE`): reads see the object, including what other
    /// processes write to it later (on Linux, until this process writes to
    /// the same page); writes through this mapping go to private copies of
    /// the pages and never reach the object. For read-only views of a queue
    /// the user may only read.
    #[cfg(unix)]
    pub fn map_private(fd: std::os::fd::OwnedFd, len: usize) -> std::io::Result<Mapping> {
        use rustix::mm::{MapFlags, ProtFlags};
        if len == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
        }
        // SAFETY: as in `map`: a fresh mapping chosen by the kernel (null
        // hint) overlaps no Rust object and is unmapped once in `Drop`. It
        // is readable and writable like a shared one (writes are private),
        // so every access the rest of the crate makes through it is valid.
        let ptr = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::PRIVATE, &fd, 0)?
        };
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::Other))?;
        Ok(Mapping { ptr, len })
    }

    /// Maps the first `len` bytes (`0 < len <=` the section's size) of a
    /// named mapping read-write.
    #[cfg(windows)]
    pub fn map(section: win::Section, len: usize) -> std::io::Result<Mapping> {
        Self::map_with(section, win::View::ReadWrite, len)
    }

    /// Maps the first `len` bytes of a named mapping (whose handle may be
    /// read-only) copy-on-write (`FILE_MAP_COPY`): writes through it go to
    /// private pages and never reach the mapping.
    #[cfg(windows)]
    pub fn map_private(section: win::Section, len: usize) -> std::io::Result<Mapping> {
        Self::map_with(section, win::View::Copy, len)
    }

    #[cfg(windows)]
    fn map_with(section: win::Section, view: win::View, len: usize) -> std::io::Result<Mapping> {
        if len == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
        }
        // MapViewOfFile refuses a `len` past the end of the section.
        let ptr = section.map_view(view, len)?;
        Ok(Mapping { ptr, len, _section: section })
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

    /// The 8-byte word at `offset` (a multiple of 8), if the mapping holds
    /// it (the doorbell object's identification word).
    #[cfg(target_os = "linux")]
    pub fn word_at(&self, offset: usize) -> Option<&AtomicU64> {
        if offset % 8 != 0 || offset.checked_add(8)? > self.len {
            return None;
        }
        // SAFETY: the 8 bytes at `offset` lie inside the mapping (checked
        // above) and are 8-aligned (page-aligned base, offset a multiple of
        // 8); shared memory is only ever accessed through atomics.
        Some(unsafe { &*self.ptr.as_ptr().add(offset).cast::<AtomicU64>() })
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
        #[cfg(unix)]
        // SAFETY: `ptr`/`len` describe the mapping made in `map`, unmapped
        // only here; no reference into it outlives `self` (all accessors
        // borrow `&self`). A failure leaves the mapping in place, which is a
        // leak, not unsoundness.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
        #[cfg(windows)]
        win::unmap_view(self.ptr);
    }
}

/// A read-only view of a whole object, for copying bytes out of it
/// (inspection on platforms where an object cannot be `pread`: Windows,
/// macOS). Bytes are read with relaxed atomic byte loads, so a copy that
/// races a writer is stale or torn, never a data race.
#[cfg(any(windows, target_os = "macos"))]
pub(crate) struct ReadView {
    ptr: NonNull<u8>,
    len: usize,
}

#[cfg(any(windows, target_os = "macos"))]
impl ReadView {
    /// Maps `len` bytes (`len > 0`, the object's length) of `fd` read-only.
    #[cfg(unix)]
    pub fn map(fd: std::os::fd::BorrowedFd<'_>, len: usize) -> std::io::Result<ReadView> {
        use rustix::mm::{MapFlags, ProtFlags};
        if len == 0 {
            return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
        }
        // SAFETY: as in `Mapping::map`: a fresh kernel-chosen mapping, owned
        // by the returned value and unmapped once in `Drop`.
        let ptr = unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ, MapFlags::SHARED, fd, 0)? };
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::Other))?;
        Ok(ReadView { ptr, len })
    }

    /// Copies up to `buf.len()` bytes at `offset` (short at the end of the
    /// view); returns the number copied.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> usize {
        let Some(avail) = usize::try_from(offset).ok().and_then(|o| self.len.checked_sub(o)) else {
            return 0;
        };
        let n = buf.len().min(avail);
        let start = self.len - avail;
        // SAFETY: `start + n <= len` bytes lie inside the view, which lives
        // as long as `self`; `AtomicU8` has the size and alignment of `u8`,
        // and the bytes are only ever loaded (the view is read-only).
        let src = unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr().add(start).cast::<std::sync::atomic::AtomicU8>(), n)
        };
        for (d, s) in buf[..n].iter_mut().zip(src) {
            *d = s.load(std::sync::atomic::Ordering::Relaxed);
        }
        n
    }
}

#[cfg(any(windows, target_os = "macos"))]
impl Drop for ReadView {
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: `ptr`/`len` describe the mapping made in `map`, unmapped
        // only here; `read_at` borrows `&self`, so nothing outlives it.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
        #[cfg(windows)]
        win::unmap_view(self.ptr);
    }
}

/// The Win32 side of a named mapping: the handle, its creation and
/// opening, its size, views of it.
#[cfg(windows)]
pub(crate) mod win {
    use std::io;
    use std::ptr::NonNull;

    use windows_sys::Win32::Foundation::{
        CloseHandle, GetLastError, ERROR_ALREADY_EXISTS, HANDLE, INVALID_HANDLE_VALUE,
    };
    use windows_sys::Win32::System::Memory::{
        CreateFileMappingW, MapViewOfFile, OpenFileMappingW, UnmapViewOfFile, VirtualQuery, FILE_MAP_COPY,
        FILE_MAP_READ, FILE_MAP_WRITE, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS, PAGE_READWRITE,
    };

    use super::ReadView;

    /// An owned handle to a named file mapping (a "section"), closed on drop.
    pub(crate) struct Section(HANDLE);

    // SAFETY: a kernel handle is a process-wide value usable from any thread;
    // `Section` only ever passes it to thread-safe Win32 calls.
    unsafe impl Send for Section {}
    // SAFETY: as above; no method mutates `self`.
    unsafe impl Sync for Section {}

    /// The access of a view.
    #[derive(Clone, Copy)]
    pub(crate) enum View {
        /// Read-only.
        Read,
        /// Read-write, shared with every other view.
        ReadWrite,
        /// Copy-on-write: writes stay private to the view.
        Copy,
    }

    /// Why `Section::create` made nothing.
    pub(crate) enum SectionError {
        /// A mapping of that name exists already.
        Exists,
        /// The system call failed.
        Os(io::Error),
    }

    impl Section {
        /// `CreateFileMappingW` on the paging file, `len` bytes, read-write,
        /// with default security, under the NUL-terminated UTF-16 `name`.
        /// [`SectionError::Exists`] if the name is already a mapping (the
        /// handle to it is closed again: creation is exclusive).
        pub fn create(name: &[u16], len: u64) -> Result<Section, SectionError> {
            if name.last() != Some(&0) {
                return Err(SectionError::Os(io::Error::from(io::ErrorKind::InvalidInput)));
            }
            // SAFETY: `name` is NUL-terminated (checked) and outlives the
            // call; a null security-attributes pointer means the default
            // security descriptor; no memory is handed to the kernel.
            let (h, err) = unsafe {
                let h = CreateFileMappingW(
                    INVALID_HANDLE_VALUE,
                    std::ptr::null(),
                    PAGE_READWRITE,
                    (len >> 32) as u32,
                    len as u32,
                    name.as_ptr(),
                );
                (h, GetLastError())
            };
            if h.is_null() {
                return Err(SectionError::Os(io::Error::from_raw_os_error(err as i32)));
            }
            let section = Section(h);
            if err == ERROR_ALREADY_EXISTS {
                drop(section);
                return Err(SectionError::Exists);
            }
            Ok(section)
        }

        /// `OpenFileMappingW` for reading, and writing if `write`.
        pub fn open(name: &[u16], write: bool) -> io::Result<Section> {
            if name.last() != Some(&0) {
                return Err(io::Error::from(io::ErrorKind::InvalidInput));
            }
            let access = if write { FILE_MAP_READ | FILE_MAP_WRITE } else { FILE_MAP_READ };
            // SAFETY: `name` is NUL-terminated (checked) and outlives the call.
            let h = unsafe { OpenFileMappingW(access, 0, name.as_ptr()) };
            if h.is_null() {
                return Err(io::Error::last_os_error());
            }
            Ok(Section(h))
        }

        /// Maps `len` bytes of the section (0: all of it) from offset 0;
        /// the caller owns the view and unmaps it with [`unmap_view`].
        pub(super) fn map_view(&self, view: View, len: usize) -> io::Result<NonNull<u8>> {
            let access = match view {
                View::Read => FILE_MAP_READ,
                View::ReadWrite => FILE_MAP_READ | FILE_MAP_WRITE,
                View::Copy => FILE_MAP_COPY,
            };
            // SAFETY: `self.0` is an open section handle; a view at a
            // system-chosen address cannot overlap any Rust object.
            let view = unsafe { MapViewOfFile(self.0, access, 0, 0, len) };
            NonNull::new(view.Value.cast::<u8>()).ok_or_else(io::Error::last_os_error)
        }

        /// The section's size: what a view of all of it spans, a whole
        /// number of pages (measured as the peers do, with `VirtualQuery`).
        pub fn len(&self) -> io::Result<usize> {
            Ok(self.view()?.len)
        }

        /// A read-only view of the whole section.
        fn view(&self) -> io::Result<ReadView> {
            let ptr = self.map_view(View::Read, 0)?;
            let mut info = std::mem::MaybeUninit::<MEMORY_BASIC_INFORMATION>::zeroed();
            let size = std::mem::size_of::<MEMORY_BASIC_INFORMATION>();
            // SAFETY: `info` is writable and `size` bytes long; `ptr` is the
            // base of the view just mapped.
            let n = unsafe { VirtualQuery(ptr.as_ptr().cast(), info.as_mut_ptr(), size) };
            if n == 0 {
                let e = io::Error::last_os_error();
                unmap_view(ptr);
                return Err(e);
            }
            // SAFETY: `VirtualQuery` filled the structure (it returned its size).
            let len = unsafe { info.assume_init() }.RegionSize;
            Ok(ReadView { ptr, len })
        }

        /// Copies up to `buf.len()` bytes at `offset` through a read-only view.
        pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            Ok(self.view()?.read_at(offset, buf))
        }
    }

    impl Drop for Section {
        fn drop(&mut self) {
            // SAFETY: `self.0` is an open handle owned by `self`, closed only
            // here. A failure leaks the handle, nothing worse.
            let _ = unsafe { CloseHandle(self.0) };
        }
    }

    /// Unmaps a view made by `Section::map_view`.
    pub(super) fn unmap_view(ptr: NonNull<u8>) {
        // SAFETY: `ptr` is the base of a view made by `map_view` and owned by
        // the caller (a `Mapping` or `ReadView` being dropped), unmapped only
        // once; no reference into it outlives that owner.
        let _ = unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: ptr.as_ptr().cast() }) };
    }
}
