//! The bytes of a segment, read straight from /dev/shm, against
//! `docs/spec/WIRE_FORMAT.md`: header offsets, magic, slot initialisation, data offset,
//! and what reserve/publish write.
//!
//! Linux only: it reads the bytes through /dev/shm.
#![cfg(target_os = "linux")]
// Miri: every test here maps shared memory (system calls Miri does not
// emulate); the Miri stage (scripts/test.d/35-miri.sh) runs the in-process
// tests of this crate.
#![cfg(not(miri))]

use std::os::unix::fs::PermissionsExt;

use slick_queue::{ByteQueue, Options, Queue};
use testkit::{u32_at, u64_at, ShmGuard};

#[test]
fn a_created_segment_has_the_documented_bytes() {
    let g = ShmGuard::new("wire");
    let q = ByteQueue::create_or_open(&g.name, 8, 24, &Options::new()).unwrap();
    assert!(q.is_creator());
    let b = std::fs::read(g.path()).unwrap();
    // length: 64 header + 8 slots * 16 + 8 elements * 24
    assert_eq!(b.len(), 64 + 128 + 192);
    assert_eq!(u64_at(&b, 0), 0, "reserved");
    assert_eq!(u32_at(&b, 8), 8, "size");
    assert_eq!(u32_at(&b, 12), 24, "element_size");
    assert_eq!(u64_at(&b, 16), u64::MAX, "last_published: none");
    assert_eq!(&b[24..28], b"1QLS", "magic 0x534C5131, little-endian");
    assert_eq!(u32_at(&b, 24), 0x534C_5131);
    assert_eq!(u32_at(&b, 28), 1, "items_per_slot");
    assert!(b[32..48].iter().all(|&x| x == 0), "padding");
    assert_eq!(u32_at(&b, 48), 3, "init_state ready");
    assert!(b[52..64].iter().all(|&x| x == 0), "padding");
    for s in 0..8 {
        let o = 64 + 16 * s;
        assert_eq!(u64_at(&b, o), u64::MAX, "slot {s} data_index");
        assert_eq!(u32_at(&b, o + 8), 1, "slot {s} size");
        assert_eq!(u32_at(&b, o + 12), 0, "slot {s} padding");
    }
    assert!(b[192..].iter().all(|&x| x == 0), "data");

    // reserve(2) + publish: reserved word, slot 0, last_published, data at 192.
    let i = q.reserve(2).unwrap();
    q.write(i, &[0xAB; 48]).unwrap();
    q.publish(i, 2).unwrap();
    q.push(&[0xCD; 24]).unwrap();
    let b = std::fs::read(g.path()).unwrap();
    assert_eq!(u64_at(&b, 0), (3 << 16) | 1, "index 3, last reservation size 1");
    assert_eq!((u64_at(&b, 64), u32_at(&b, 72)), (0, 2), "slot 0: data_index 0, size 2");
    assert_eq!((u64_at(&b, 64 + 32), u32_at(&b, 64 + 40)), (2, 1), "slot 2: data_index 2, size 1");
    assert_eq!(u64_at(&b, 16), 2, "last_published");
    assert!(b[192..240].iter().all(|&x| x == 0xAB));
    assert!(b[240..264].iter().all(|&x| x == 0xCD));

    // A multi-element reservation records n in the low 16 bits.
    q.reserve(3).unwrap();
    let b = std::fs::read(g.path()).unwrap();
    assert_eq!(u64_at(&b, 0), (6 << 16) | 3);
}

#[test]
fn wrap_marker_bytes() {
    let g = ShmGuard::new("wirewrap");
    let q = Queue::<u64>::create_or_open(&g.name, 8, &Options::new()).unwrap();
    q.push_slice(&[1; 6]).unwrap();
    let i = q.reserve(3).unwrap();
    assert_eq!(i, 8);
    let b = std::fs::read(g.path()).unwrap();
    // The slot of the old position 6 points at the new index 8, size 3.
    assert_eq!((u64_at(&b, 64 + 6 * 16), u32_at(&b, 64 + 6 * 16 + 8)), (8, 3));
    assert_eq!(u64_at(&b, 0) >> 16, 11);
}

#[test]
fn items_per_slot_layout_and_marker() {
    let g = ShmGuard::new("wireips");
    // 16 elements of 64 bytes, 16 per slot: one slot, 64 + 16 = 80 rounded up
    // to the lowest set bit of 64.
    let _q = ByteQueue::create_or_open(&g.name, 16, 64, &Options::new().items_per_slot(16)).unwrap();
    let b = std::fs::read(g.path()).unwrap();
    assert_eq!(u32_at(&b, 24), 0x534C_5133, "SLQ3: read_last + items_per_slot");
    assert_eq!(u32_at(&b, 28), 16);
    assert_eq!((u64_at(&b, 64), u32_at(&b, 72)), (u64::MAX, 1));
    assert_eq!(b.len(), 128 + 16 * 64, "data at offset 128");

    let g2 = ShmGuard::new("wireips2");
    // element 24 (lowest bit 8): 64 + 2 * 16 = 96 needs no padding.
    let q = ByteQueue::create_or_open(&g2.name, 8, 24, &Options::new().items_per_slot(4).read_last(false)).unwrap();
    q.push(b"x").unwrap();
    let b = std::fs::read(g2.path()).unwrap();
    assert_eq!(u32_at(&b, 24), 0x534C_5132, "SLQ2: no read_last");
    assert_eq!(b.len(), 96 + 8 * 24);
    assert_eq!(b[96], b'x');
    assert_eq!(u64_at(&b, 0), (4 << 16) | 1, "need(1) = 4 elements");
    assert_eq!(u64_at(&b, 16), u64::MAX, "last_published untouched without read_last");
}

#[test]
fn created_segments_get_the_requested_mode() {
    let g = ShmGuard::new("wiremode");
    let _q = Queue::<u64>::create_or_open(&g.name, 4, &Options::new()).unwrap();
    let mode = std::fs::metadata(g.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, slick_queue::DEFAULT_MODE);
    let g2 = ShmGuard::new("wiremode2");
    let _q = Queue::<u64>::create_or_open(&g2.name, 4, &Options::new().mode(0o664)).unwrap();
    let mode = std::fs::metadata(g2.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o664, "applied exactly, whatever the umask");
}

#[test]
fn nothing_is_unlinked_implicitly() {
    let g = ShmGuard::new("wirekeep");
    {
        let q = Queue::<u64>::create_or_open(&g.name, 4, &Options::new()).unwrap();
        q.push(5).unwrap();
    }
    assert!(g.path().exists(), "dropping the creator keeps the segment");
    let q = Queue::<u64>::open(&g.name, &Options::new()).unwrap();
    assert!(!q.is_creator());
    let mut c = 0;
    assert_eq!(q.read(&mut c).unwrap().value(), 5);
    assert!(q.remove_shm().unwrap());
    assert!(!g.path().exists());
    assert!(!q.remove_shm().unwrap(), "a second removal finds nothing");
    // The mapping outlives the name.
    q.push(6).unwrap();
    assert_eq!(q.read(&mut c).unwrap().value(), 6);
}
