//! The wire format as data: offsets, the layout marker, the header and slot
//! structs, and the geometry arithmetic of a segment.
//!
//! Everything here is a transcription of `docs/spec/WIRE_FORMAT.md` (sections 2 and 3),
//! the contract shared with the C++ `slick::SlickQueue` and the Python
//! `slick-queue-py` peers. This module holds no `unsafe` and does no I/O; the
//! struct layouts are asserted at compile time, and every size computed from
//! header values a peer may have written is computed with overflow checks.

use crate::error::Error;
use crate::sync::{AtomicU32, AtomicU64};

/// Size of the segment header in bytes.
pub const HEADER_SIZE: usize = 64;
/// Size of one control slot in bytes.
pub const SLOT_SIZE: usize = 16;
/// `data_index` of an empty slot, and `last_published` when nothing was published.
pub const EMPTY_INDEX: u64 = u64::MAX;

/// Byte offsets of the header fields (`docs/spec/WIRE_FORMAT.md` section 2.1).
pub mod offset {
    /// `reserved` (atomic u64): `index << 16 | (n & 0xFFFF)`.
    pub const RESERVED: usize = 0;
    /// `size` (u32): capacity in elements.
    pub const SIZE: usize = 8;
    /// `element_size` (u32): bytes per element.
    pub const ELEMENT_SIZE: usize = 12;
    /// `last_published` (atomic u64).
    pub const LAST_PUBLISHED: usize = 16;
    /// `magic` (u32): the layout marker with its feature nibble.
    pub const MAGIC: usize = 24;
    /// `items_per_slot` (u32): 0 reads as 1.
    pub const ITEMS_PER_SLOT: usize = 28;
    /// `init_state` (atomic u32).
    pub const INIT_STATE: usize = 48;
    /// First control slot.
    pub const CONTROL: usize = super::HEADER_SIZE;
}

/// The marker bytes `S`, `L`, `Q`, `0` as a little-endian u32, feature nibble clear.
pub const MAGIC_BASE: u32 = 0x534C_5130;
/// The bits of the marker that must equal [`MAGIC_BASE`].
pub const MAGIC_MARKER_MASK: u32 = 0xFFFF_FFF0;
/// Feature bit 0: the creator maintains `last_published` (trait `read_last`).
pub const FEATURE_READ_LAST: u32 = 0x1;
/// Feature bit 1: `items_per_slot != 1`.
pub const FEATURE_ITEMS_PER_SLOT: u32 = 0x2;
/// Feature bits this implementation understands.
pub const KNOWN_FEATURES: u32 = FEATURE_READ_LAST | FEATURE_ITEMS_PER_SLOT;

/// `init_state`: nobody has claimed the segment yet.
pub const INIT_UNINITIALIZED: u32 = 0;
/// `init_state`: made by a peer that predates the handshake.
pub const INIT_LEGACY: u32 = 1;
/// `init_state`: a creator is writing the header and slots.
pub const INIT_INITIALIZING: u32 = 2;
/// `init_state`: the segment is ready.
pub const INIT_READY: u32 = 3;

/// The marker a creator writes for the given features.
pub const fn magic_for(read_last: bool, items_per_slot: u32) -> u32 {
    let mut magic = MAGIC_BASE;
    if read_last {
        magic |= FEATURE_READ_LAST;
    }
    if items_per_slot != 1 {
        magic |= FEATURE_ITEMS_PER_SLOT;
    }
    magic
}

/// Packs the reservation word: a 48-bit element index and the low 16 bits of
/// the last reservation's size.
#[inline]
pub const fn pack_reserved(index: u64, n: u32) -> u64 {
    ((index & 0xFFFF_FFFF_FFFF) << 16) | (n as u64 & 0xFFFF)
}

/// The next free element index held in a reservation word.
#[inline]
pub const fn reserved_index(word: u64) -> u64 {
    word >> 16
}

/// The size of the last reservation held in a reservation word (low 16 bits).
#[inline]
pub const fn reserved_size(word: u64) -> u32 {
    (word & 0xFFFF) as u32
}

/// One control slot (`docs/spec/WIRE_FORMAT.md` section 2.2). 16 bytes, 8-aligned.
#[repr(C)]
pub(crate) struct Slot {
    /// Element index of the record published here, [`EMPTY_INDEX`] when empty.
    pub data_index: AtomicU64,
    /// Number of elements in that record.
    pub size: AtomicU32,
    _pad: AtomicU32,
}

impl Slot {
    /// A fresh slot: empty, size 1 (what every peer writes on init and reset).
    #[cfg_attr(not(loom), allow(dead_code))]
    pub fn new() -> Slot {
        Slot { data_index: AtomicU64::new(EMPTY_INDEX), size: AtomicU32::new(1), _pad: AtomicU32::new(0) }
    }
}

/// The 64-byte segment header (`docs/spec/WIRE_FORMAT.md` section 2.1). Every field is an
/// atomic because any peer process may write any of them at any time.
#[repr(C)]
#[cfg_attr(loom, allow(dead_code))]
pub(crate) struct ShmHeader {
    pub reserved: AtomicU64,
    pub size: AtomicU32,
    pub element_size: AtomicU32,
    pub last_published: AtomicU64,
    pub magic: AtomicU32,
    pub items_per_slot: AtomicU32,
    pub pad0: [AtomicU32; 4],
    pub init_state: AtomicU32,
    pub pad1: [AtomicU32; 3],
}

#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<Slot>() == SLOT_SIZE);
    assert!(align_of::<Slot>() == 8);
    assert!(offset_of!(Slot, data_index) == 0);
    assert!(offset_of!(Slot, size) == 8);
    assert!(size_of::<ShmHeader>() == HEADER_SIZE);
    assert!(offset_of!(ShmHeader, reserved) == offset::RESERVED);
    assert!(offset_of!(ShmHeader, size) == offset::SIZE);
    assert!(offset_of!(ShmHeader, element_size) == offset::ELEMENT_SIZE);
    assert!(offset_of!(ShmHeader, last_published) == offset::LAST_PUBLISHED);
    assert!(offset_of!(ShmHeader, magic) == offset::MAGIC);
    assert!(offset_of!(ShmHeader, items_per_slot) == offset::ITEMS_PER_SLOT);
    assert!(offset_of!(ShmHeader, init_state) == offset::INIT_STATE);
};

/// The shape of a queue: capacity, element size and items per control slot,
/// validated so that every derived size fits in `usize` without overflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Geometry {
    size: u32,
    element_size: u32,
    items_per_slot: u32,
}

impl Geometry {
    /// Validates a geometry: `size` a power of two, `element_size >= 1`,
    /// `items_per_slot` a power of two no larger than `size`, and the whole
    /// segment length representable (and below `isize::MAX`).
    pub fn new(size: u32, element_size: u32, items_per_slot: u32) -> Result<Geometry, Error> {
        if !size.is_power_of_two() {
            return Err(Error::InvalidCapacity { size: u64::from(size) });
        }
        if element_size == 0 {
            return Err(Error::InvalidElementSize { element_size: 0 });
        }
        if !items_per_slot.is_power_of_two() || items_per_slot > size {
            return Err(Error::InvalidItemsPerSlot { items_per_slot, size });
        }
        let g = Geometry { size, element_size, items_per_slot };
        // Reject geometries whose byte sizes overflow; after this every
        // accessor below is infallible.
        match g.checked_segment_len() {
            Some(len) if len <= isize::MAX as u64 && usize::try_from(len).is_ok() => Ok(g),
            _ => Err(Error::GeometryTooLarge { size, element_size, items_per_slot }),
        }
    }

    /// Capacity in elements (a power of two).
    pub const fn size(&self) -> u32 {
        self.size
    }

    /// Bytes per element.
    pub const fn element_size(&self) -> u32 {
        self.element_size
    }

    /// Elements per control slot (a power of two, `<= size`).
    pub const fn items_per_slot(&self) -> u32 {
        self.items_per_slot
    }

    /// Number of control slots: `size / items_per_slot`.
    pub const fn slot_count(&self) -> u32 {
        self.size / self.items_per_slot
    }

    fn checked_data_offset(&self) -> Option<u64> {
        let end = (HEADER_SIZE as u64).checked_add(SLOT_SIZE as u64 * u64::from(self.slot_count()))?;
        if self.items_per_slot == 1 {
            return Some(end);
        }
        // Round up to the lowest set bit of element_size (a power of two that
        // divides every C++ alignof(T) a peer could have used).
        let align = u64::from(self.element_size & self.element_size.wrapping_neg());
        Some(end.checked_add(align - 1)? & !(align - 1))
    }

    fn checked_segment_len(&self) -> Option<u64> {
        let data = u64::from(self.size).checked_mul(u64::from(self.element_size))?;
        self.checked_data_offset()?.checked_add(data)
    }

    /// Byte offset of the data array from the start of the segment.
    pub fn data_offset(&self) -> usize {
        // Validated in `new`.
        self.checked_data_offset().unwrap_or(u64::MAX) as usize
    }

    /// Bytes in the data array: `size * element_size`.
    pub fn data_len(&self) -> usize {
        self.size as usize * self.element_size as usize
    }

    /// The minimum length of a shared-memory object holding this geometry.
    pub fn segment_len(&self) -> usize {
        self.data_offset() + self.data_len()
    }
}

/// A decoded copy of the 64 header bytes, for inspection tools. Decoding never
/// fails; [`HeaderSnapshot::validate`] says whether the header describes a
/// queue this library would open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderSnapshot {
    /// The reservation word at offset 0.
    pub reserved: u64,
    /// `size` at offset 8.
    pub size: u32,
    /// `element_size` at offset 12.
    pub element_size: u32,
    /// `last_published` at offset 16.
    pub last_published: u64,
    /// `magic` at offset 24.
    pub magic: u32,
    /// `items_per_slot` at offset 28, as stored (0 means 1).
    pub items_per_slot_raw: u32,
    /// `init_state` at offset 48.
    pub init_state: u32,
}

impl HeaderSnapshot {
    /// Decodes the first 64 bytes of a segment (little-endian).
    pub fn from_bytes(bytes: &[u8; HEADER_SIZE]) -> HeaderSnapshot {
        let u32_at = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        let u64_at = |o: usize| u64::from(u32_at(o)) | (u64::from(u32_at(o + 4)) << 32);
        HeaderSnapshot {
            reserved: u64_at(offset::RESERVED),
            size: u32_at(offset::SIZE),
            element_size: u32_at(offset::ELEMENT_SIZE),
            last_published: u64_at(offset::LAST_PUBLISHED),
            magic: u32_at(offset::MAGIC),
            items_per_slot_raw: u32_at(offset::ITEMS_PER_SLOT),
            init_state: u32_at(offset::INIT_STATE),
        }
    }

    /// `items_per_slot` with the legacy 0 read as 1.
    pub fn items_per_slot(&self) -> u32 {
        effective_items_per_slot(self.items_per_slot_raw)
    }

    /// Whether the magic carries the `SLQ` marker.
    pub fn has_marker(&self) -> bool {
        self.magic & MAGIC_MARKER_MASK == MAGIC_BASE
    }

    /// The feature nibble of the marker.
    pub fn features(&self) -> u32 {
        self.magic & !MAGIC_MARKER_MASK
    }

    /// The next free element index (`reserved >> 16`).
    pub fn write_index(&self) -> u64 {
        reserved_index(self.reserved)
    }

    /// Checks the marker and geometry the way an open-only attach would
    /// (without the `read_last` agreement, which depends on the caller).
    pub fn validate(&self) -> Result<Geometry, Error> {
        check_marker(self.magic, None, self.items_per_slot_raw)?;
        Geometry::new(self.size, self.element_size, self.items_per_slot())
            .map_err(|e| Error::Corrupt { reason: format!("header geometry is invalid: {e}") })
    }
}

/// `items_per_slot` as stored, with 0 (segments older than the field) read as 1.
pub const fn effective_items_per_slot(raw: u32) -> u32 {
    if raw == 0 {
        1
    } else {
        raw
    }
}

/// Validates a segment's marker (`docs/spec/WIRE_FORMAT.md` section 2.1): the `SLQ`
/// prefix, no unknown feature bits, the items_per_slot bit agreeing with the
/// field, and, when `want_read_last` is given, the read_last bit agreeing with
/// this handle's setting.
pub fn check_marker(magic: u32, want_read_last: Option<bool>, items_per_slot_raw: u32) -> Result<(), Error> {
    if magic & MAGIC_MARKER_MASK != MAGIC_BASE {
        return Err(Error::NoMarker { found: magic });
    }
    let features = magic & !MAGIC_MARKER_MASK;
    if features & !KNOWN_FEATURES != 0 {
        return Err(Error::UnknownFeatures { magic, unknown: features & !KNOWN_FEATURES });
    }
    let ips = effective_items_per_slot(items_per_slot_raw);
    if (features & FEATURE_ITEMS_PER_SLOT != 0) != (ips != 1) {
        return Err(Error::Corrupt {
            reason: format!("layout marker {magic:#010X} disagrees with its items_per_slot field ({ips})"),
        });
    }
    if let Some(ours) = want_read_last {
        let theirs = features & FEATURE_READ_LAST != 0;
        if theirs != ours {
            return Err(Error::FeatureMismatch { feature: "read_last", segment: theirs, ours });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_layout_has_no_padding() {
        let g = Geometry::new(1024, 8, 1).unwrap();
        assert_eq!(g.slot_count(), 1024);
        assert_eq!(g.data_offset(), 64 + 16 * 1024);
        assert_eq!(g.segment_len(), 64 + 16 * 1024 + 8 * 1024);
    }

    #[test]
    fn items_per_slot_pads_to_lowest_set_bit_of_element_size() {
        // one slot: 64 + 16 = 80, element_size 64 -> 128
        let g = Geometry::new(16, 64, 16).unwrap();
        assert_eq!(g.slot_count(), 1);
        assert_eq!(g.data_offset(), 128);
        // element_size 24 -> lowest bit 8: 80 stays 80
        let g = Geometry::new(16, 24, 16).unwrap();
        assert_eq!(g.data_offset(), 80);
        // element_size 3 -> lowest bit 1
        let g = Geometry::new(64, 3, 4).unwrap();
        assert_eq!(g.data_offset(), 64 + 16 * 16);
        // element_size 256, 4 slots: 128 -> 256
        let g = Geometry::new(16, 256, 4).unwrap();
        assert_eq!(g.data_offset(), 256);
    }

    #[test]
    fn geometry_rejects_bad_values() {
        assert!(matches!(Geometry::new(0, 8, 1), Err(Error::InvalidCapacity { .. })));
        assert!(matches!(Geometry::new(3, 8, 1), Err(Error::InvalidCapacity { .. })));
        assert!(matches!(Geometry::new(4, 0, 1), Err(Error::InvalidElementSize { .. })));
        assert!(matches!(Geometry::new(4, 8, 8), Err(Error::InvalidItemsPerSlot { .. })));
        assert!(matches!(Geometry::new(4, 8, 3), Err(Error::InvalidItemsPerSlot { .. })));
        assert!(matches!(Geometry::new(4, 8, 0), Err(Error::InvalidItemsPerSlot { .. })));
        assert!(matches!(Geometry::new(1 << 31, u32::MAX, 1), Err(Error::GeometryTooLarge { .. })));
    }

    #[test]
    fn magic_values_match_the_spec() {
        assert_eq!(magic_for(true, 1), 0x534C_5131);
        assert_eq!(magic_for(false, 1), 0x534C_5130);
        assert_eq!(magic_for(true, 4), 0x534C_5133);
        assert_eq!(magic_for(false, 4), 0x534C_5132);
        assert_eq!(&magic_for(true, 1).to_le_bytes(), b"1QLS");
        assert_eq!(&MAGIC_BASE.to_be_bytes(), b"SLQ0");
    }

    #[test]
    fn marker_checks() {
        assert!(check_marker(0x534C_5131, Some(true), 0).is_ok());
        assert!(check_marker(0x534C_5131, Some(true), 1).is_ok());
        assert!(matches!(check_marker(0, Some(true), 0), Err(Error::NoMarker { .. })));
        assert!(matches!(check_marker(0x534C_5135, Some(true), 0), Err(Error::UnknownFeatures { .. })));
        assert!(matches!(check_marker(0x534C_5139, None, 0), Err(Error::UnknownFeatures { .. })));
        assert!(matches!(
            check_marker(0x534C_5130, Some(true), 0),
            Err(Error::FeatureMismatch { feature: "read_last", segment: false, ours: true })
        ));
        assert!(matches!(check_marker(0x534C_5133, Some(true), 1), Err(Error::Corrupt { .. })));
        assert!(matches!(check_marker(0x534C_5131, Some(true), 4), Err(Error::Corrupt { .. })));
        assert!(check_marker(0x534C_5133, Some(true), 4).is_ok());
    }

    #[test]
    fn reserved_word_packing() {
        let w = pack_reserved(0x1234_5678_9ABC, 0x1_0005);
        assert_eq!(reserved_index(w), 0x1234_5678_9ABC);
        assert_eq!(reserved_size(w), 5);
        // indices beyond 48 bits are truncated, as the C++ peer does
        assert_eq!(reserved_index(pack_reserved(1 << 48, 1)), 0);
    }

    #[test]
    fn header_snapshot_decodes_little_endian() {
        let mut b = [0u8; HEADER_SIZE];
        b[0..8].copy_from_slice(&pack_reserved(7, 1).to_le_bytes());
        b[8..12].copy_from_slice(&64u32.to_le_bytes());
        b[12..16].copy_from_slice(&32u32.to_le_bytes());
        b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        b[24..28].copy_from_slice(b"1QLS");
        b[48..52].copy_from_slice(&3u32.to_le_bytes());
        let h = HeaderSnapshot::from_bytes(&b);
        assert_eq!(h.write_index(), 7);
        assert_eq!((h.size, h.element_size, h.items_per_slot()), (64, 32, 1));
        assert_eq!(h.magic, 0x534C_5131);
        assert!(h.has_marker());
        assert_eq!(h.init_state, INIT_READY);
        assert_eq!(h.validate().unwrap(), Geometry::new(64, 32, 1).unwrap());
    }
}
