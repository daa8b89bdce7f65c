//! Create-or-open and open-only against every kind of segment they can meet:
//! matching ones, mismatched ones, foreign, newer, truncated, half-initialised.
//! Each mismatch is a typed error that says what differs; nothing crashes.
//!
//! Linux only: the segments are crafted by writing /dev/shm files. What a
//! Windows mapping must do alike is in `platform.rs` and the `processes` test binary.
#![cfg(target_os = "linux")]
// Miri: every test here maps shared memory (system calls Miri does not
// emulate); the Miri stage (scripts/test.d/35-miri.sh) runs the in-process
// tests of this crate.
#![cfg(not(miri))]

use std::time::{Duration, Instant};

use slick_queue::{ByteQueue, Error, Options, Queue, SharedCursor};
use testkit::{header, segment, ShmGuard};

fn quick() -> Options {
    Options::new().init_timeout(Duration::from_millis(200))
}

fn write_segment(g: &ShmGuard, bytes: &[u8]) {
    std::fs::write(g.path(), bytes).unwrap();
}

#[test]
fn open_missing_is_not_found() {
    let g = ShmGuard::new("missing");
    let e = ByteQueue::open(&g.name, 8, &Options::new()).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains(&g.name), "{e}");
    assert!(matches!(SharedCursor::open(&g.name), Err(Error::NotFound { .. })));
    assert!(!slick_queue::remove(&g.name).unwrap());
}

#[test]
fn open_adopts_capacity_and_items_per_slot() {
    let g = ShmGuard::new("adopt");
    let a = ByteQueue::create_or_open(&g.name, 64, 16, &Options::new().items_per_slot(4)).unwrap();
    let b = ByteQueue::open(&g.name, 16, &Options::new()).unwrap();
    assert_eq!((b.capacity(), b.items_per_slot(), b.slot_count()), (64, 4, 16));
    assert!(a.is_creator() && !b.is_creator());
    let c = ByteQueue::open_any(&g.name, &Options::new()).unwrap();
    assert_eq!(c.element_size(), 16);
    let d = ByteQueue::create_or_open(&g.name, 64, 16, &Options::new().items_per_slot(4)).unwrap();
    assert!(!d.is_creator());
    assert_eq!(a.name(), Some(format!("/{}", g.name).as_str()));
    // A leading slash names the same object.
    let e = ByteQueue::open(&format!("/{}", g.name), 16, &Options::new()).unwrap();
    a.push(b"shared").unwrap();
    let mut cur = 0;
    assert_eq!(&e.read(&mut cur).unwrap().to_vec()[..6], b"shared");
}

#[test]
fn geometry_mismatches_say_what_differs() {
    let g = ShmGuard::new("mismatch");
    let _q = ByteQueue::create_or_open(&g.name, 64, 16, &Options::new()).unwrap();
    let check = |r: Result<ByteQueue, Error>, field: &str, expected: u64, found: u64| {
        let e = r.unwrap_err();
        match &e {
            Error::Mismatch { name, field: f, expected: x, found: y } => {
                assert_eq!((*f, *x, *y), (field, expected, found), "{e}");
                assert_eq!(name, &format!("/{}", g.name), "{e:?}");
            }
            other => panic!("expected a {field} mismatch, got {other:?}"),
        }
        assert!(e.to_string().contains(field));
        // The message names the queue, so a program attaching several can tell which.
        assert!(e.to_string().contains(&format!("\"/{}\"", g.name)), "{e}");
    };
    check(ByteQueue::open(&g.name, 32, &Options::new()), "element_size", 32, 16);
    check(ByteQueue::create_or_open(&g.name, 128, 16, &Options::new()), "size", 128, 64);
    check(ByteQueue::create_or_open(&g.name, 64, 8, &Options::new()), "element_size", 8, 16);
    check(ByteQueue::create_or_open(&g.name, 64, 16, &Options::new().items_per_slot(2)), "items_per_slot", 2, 1);
    check(ByteQueue::open(&g.name, 16, &Options::new().items_per_slot(8)), "items_per_slot", 8, 1);
    assert!(matches!(Queue::<u32>::open(&g.name, &Options::new()), Err(Error::Mismatch { field: "element_size", .. })));
}

#[test]
fn read_last_setting_must_agree_both_ways() {
    let g = ShmGuard::new("feat");
    let _q = ByteQueue::create_or_open(&g.name, 8, 8, &Options::new().read_last(false)).unwrap();
    let e = ByteQueue::open(&g.name, 8, &Options::new()).unwrap_err();
    assert!(matches!(e, Error::FeatureMismatch { feature: "read_last", segment: false, ours: true }), "{e:?}");
    assert!(e.to_string().contains("read_last=false"), "{e}");
    assert!(ByteQueue::open(&g.name, 8, &Options::new().read_last(false)).is_ok());

    let g2 = ShmGuard::new("feat2");
    let _q = ByteQueue::create_or_open(&g2.name, 8, 8, &Options::new()).unwrap();
    let e = ByteQueue::create_or_open(&g2.name, 8, 8, &Options::new().read_last(false)).unwrap_err();
    assert!(matches!(e, Error::FeatureMismatch { segment: true, ours: false, .. }), "{e:?}");
}

#[test]
fn segment_without_marker_is_refused() {
    let g = ShmGuard::new("nomarker");
    let mut seg = segment(8, 8, 1, true);
    seg[24..28].copy_from_slice(&0u32.to_le_bytes());
    write_segment(&g, &seg);
    let e = ByteQueue::open(&g.name, 8, &quick()).unwrap_err();
    assert!(matches!(e, Error::NoMarker { found: 0 }), "{e:?}");
    assert!(e.is_incompatible_segment());
    // create-or-open must not reinitialize a ready segment either
    let e = ByteQueue::create_or_open(&g.name, 8, 8, &quick()).unwrap_err();
    assert!(matches!(e, Error::NoMarker { .. }), "{e:?}");
}

#[test]
fn unknown_feature_bits_are_refused() {
    for bits in [0x4u32, 0x8, 0xC] {
        let g = ShmGuard::new("newer");
        let mut seg = segment(8, 8, 1, true);
        seg[24..28].copy_from_slice(&(0x534C_5131 | bits).to_le_bytes());
        write_segment(&g, &seg);
        let e = ByteQueue::open(&g.name, 8, &quick()).unwrap_err();
        assert!(matches!(e, Error::UnknownFeatures { unknown, .. } if unknown == bits), "{e:?}");
        assert!(e.to_string().contains("newer peer"), "{e}");
    }
}

#[test]
fn items_per_slot_bit_must_agree_with_the_field() {
    let g = ShmGuard::new("ipsbit");
    let mut seg = segment(8, 8, 4, true);
    seg[24..28].copy_from_slice(&0x534C_5131u32.to_le_bytes()); // bit 1 missing
    write_segment(&g, &seg);
    assert!(matches!(ByteQueue::open(&g.name, 8, &quick()), Err(Error::Corrupt { .. })));
}

#[test]
fn legacy_zero_items_per_slot_reads_as_one() {
    let g = ShmGuard::new("ips0");
    let mut seg = segment(8, 8, 1, true);
    seg[28..32].copy_from_slice(&0u32.to_le_bytes());
    write_segment(&g, &seg);
    let q = ByteQueue::open(&g.name, 8, &quick()).unwrap();
    assert_eq!(q.items_per_slot(), 1);
}

#[test]
fn invalid_header_geometry_is_corrupt() {
    for (size, es, ips) in [(12u32, 8u32, 1u32), (0, 8, 1), (8, 0, 1), (8, 8, 16), (8, 8, 3)] {
        let g = ShmGuard::new("badgeo");
        let magic = 0x534C_5131 | if ips > 1 { 2 } else { 0 };
        let mut seg = header(size, es, magic, ips, 3);
        seg.resize(4096, 0);
        write_segment(&g, &seg);
        let e = ByteQueue::open_any(&g.name, &quick()).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{size} {es} {ips}: {e:?}");
    }
}

#[test]
fn truncated_segments_are_errors() {
    // A header that claims more than the object holds.
    let g = ShmGuard::new("trunc");
    let seg = segment(1024, 64, 1, true);
    write_segment(&g, &seg[..200]);
    let e = ByteQueue::open(&g.name, 64, &quick()).unwrap_err();
    assert!(matches!(e, Error::Truncated { len: 200, .. }), "{e:?}");
    let e = ByteQueue::create_or_open(&g.name, 1024, 64, &quick()).unwrap_err();
    assert!(matches!(e, Error::Truncated { len: 200, .. }), "{e:?}");

    // Shorter than a header: waits for a creator until the deadline, then fails.
    let g2 = ShmGuard::new("trunc2");
    write_segment(&g2, &[0u8; 10]);
    let t = Instant::now();
    let e = ByteQueue::open(&g2.name, 8, &quick()).unwrap_err();
    assert!(matches!(e, Error::Truncated { len: 10, needed: 64, .. }), "{e:?}");
    assert!(t.elapsed() >= Duration::from_millis(150));

    // Zero length (a creator that died before sizing it).
    let g3 = ShmGuard::new("trunc3");
    write_segment(&g3, &[]);
    assert!(matches!(ByteQueue::open(&g3.name, 8, &quick()), Err(Error::Truncated { len: 0, .. })));
    assert!(matches!(SharedCursor::open(&g3.name), Err(Error::Truncated { len: 0, .. })));
    // Create-or-open, after waiting the init timeout, replaces the abandoned
    // object (as it re-initializes one whose creator died at init_state 0).
    let q = ByteQueue::create_or_open(&g3.name, 8, 8, &quick()).unwrap();
    assert!(q.is_creator());
    assert_eq!(std::fs::metadata(g3.path()).unwrap().len(), 64 + 8 * 16 + 8 * 8);
}

#[test]
fn stuck_initialisation_times_out_and_removal_recovers() {
    let g = ShmGuard::new("stuck");
    let mut seg = segment(8, 8, 1, true);
    seg[48..52].copy_from_slice(&2u32.to_le_bytes()); // initializing, forever
    write_segment(&g, &seg);
    let e = ByteQueue::open(&g.name, 8, &quick()).unwrap_err();
    assert!(matches!(e, Error::InitTimeout { state: 2, .. }), "{e:?}");
    assert!(e.to_string().contains("remove the name"), "{e}");
    let e = ByteQueue::create_or_open(&g.name, 8, 8, &quick()).unwrap_err();
    assert!(matches!(e, Error::InitTimeout { .. }), "{e:?}");
    assert!(slick_queue::remove(&g.name).unwrap());
    let q = ByteQueue::create_or_open(&g.name, 8, 8, &quick()).unwrap();
    assert!(q.is_creator());
}

#[test]
fn garbage_init_state_is_corrupt_not_a_wait() {
    let g = ShmGuard::new("state9");
    let mut seg = segment(8, 8, 1, true);
    seg[48..52].copy_from_slice(&9u32.to_le_bytes());
    write_segment(&g, &seg);
    let t = Instant::now();
    assert!(matches!(ByteQueue::open(&g.name, 8, &Options::new()), Err(Error::Corrupt { .. })));
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn uninitialised_object_of_the_right_size_is_initialised_by_create_or_open() {
    // A zeroed object (a creator that sized it, then died before its CAS):
    // the next create-or-open wins the CAS and initializes it.
    let g = ShmGuard::new("zeroed");
    write_segment(&g, &vec![0u8; 64 + 16 * 8 + 8 * 8]);
    assert!(matches!(ByteQueue::open(&g.name, 8, &quick()), Err(Error::InitTimeout { state: 0, .. })));
    let q = ByteQueue::create_or_open(&g.name, 8, 8, &quick()).unwrap();
    assert!(q.is_creator());
    // ...but not if it is too short for our geometry: then we wait for a
    // creator that will never come.
    let g2 = ShmGuard::new("zeroed2");
    write_segment(&g2, &[0u8; 100]);
    assert!(matches!(ByteQueue::create_or_open(&g2.name, 8, 8, &quick()), Err(Error::InitTimeout { .. })));
}

#[test]
fn bad_names_are_rejected_before_any_system_call() {
    let long = "n".repeat(256);
    for bad in ["", "/", "a/b", "nul\0", "..", long.as_str()] {
        let e = ByteQueue::create_or_open(bad, 8, 8, &Options::new()).unwrap_err();
        assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e:?}");
        assert!(matches!(slick_queue::remove(bad), Err(Error::InvalidName { .. })));
        assert!(matches!(SharedCursor::create_or_open(bad, &Options::new()), Err(Error::InvalidName { .. })));
    }
    assert!(matches!(
        ByteQueue::create_or_open("ok_name_but_bad_size", 12, 8, &Options::new()),
        Err(Error::InvalidCapacity { .. })
    ));
    assert!(!std::path::Path::new("/dev/shm/ok_name_but_bad_size").exists());
}

#[test]
fn shared_cursor_object() {
    let mut g = ShmGuard::new("cursor");
    let name = g.also("c");
    let a = SharedCursor::create_or_open(&name, &Options::new()).unwrap();
    assert!(a.is_creator());
    assert_eq!(a.load(std::sync::atomic::Ordering::Acquire), 0);
    a.store(41, std::sync::atomic::Ordering::Release);
    let b = SharedCursor::open(&name).unwrap();
    assert_eq!(b.fetch_add(1, std::sync::atomic::Ordering::AcqRel), 41);
    assert_eq!(a.load(std::sync::atomic::Ordering::Acquire), 42);
    let len = std::fs::metadata(format!("/dev/shm/{name}")).unwrap().len();
    assert_eq!(len, 8, "an 8-byte object, as a Python SharedMemory(size=8) would be");
    assert!(SharedCursor::remove(&name).unwrap());
}
