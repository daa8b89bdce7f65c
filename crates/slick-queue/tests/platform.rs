//! What every platform with shared memory must do alike — and the documented
//! differences, asserted where they apply: the name the system sees, what
//! `remove` does, the mapped size (rounded up to pages on Windows), mode and
//! owner. Runs on Linux natively and on Windows (under Wine here); written
//! against the public API only, so it needs no /dev/shm.
#![cfg(not(loom))]
// Miri: every test here maps shared memory (system calls Miri does not
// emulate); the Miri stage (scripts/test.d/35-miri.sh) runs the in-process
// tests of this crate.
#![cfg(not(miri))]

use std::sync::atomic::Ordering;
use std::time::Duration;

use slick_queue::inspect::segment_info;
use slick_queue::{ByteQueue, Error, Options, Queue, SharedCursor, REMOVE_UNLINKS};
use testkit::ShmGuard;

/// The name the system knows the object by.
fn os_name(name: &str) -> String {
    if cfg!(windows) {
        name.to_owned()
    } else {
        format!("/{name}")
    }
}

#[test]
fn open_missing_is_not_found() {
    let g = ShmGuard::new("pmissing");
    let e = ByteQueue::open(&g.name, 8, &Options::new()).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    assert!(e.to_string().contains(&g.name), "{e}");
    assert!(matches!(SharedCursor::open(&g.name), Err(Error::NotFound { .. })));
    assert!(matches!(segment_info(&g.name), Err(Error::NotFound { .. })));
    // Nothing to remove: `false` where names are unlinked, the peers' `true`
    // no-op on Windows.
    assert_eq!(slick_queue::remove(&g.name).unwrap(), !REMOVE_UNLINKS);
}

#[test]
fn geometry_comes_from_the_header_not_the_mapping_size() {
    let g = ShmGuard::new("pgeom");
    // 64 header + 64 slots * 16 + 64 elements * 24 = 2624 bytes: not a page.
    let a = ByteQueue::create_or_open(&g.name, 64, 24, &Options::new()).unwrap();
    assert!(a.is_creator());
    let mapped = a.mapped_len().unwrap();
    if cfg!(target_os = "linux") {
        assert_eq!(mapped, 2624);
    } else {
        // Windows rounds a mapping up to whole pages (macOS may too).
        assert!(mapped >= 2624, "{mapped}");
        assert!(!cfg!(windows) || mapped % 4096 == 0, "{mapped}");
    }
    let b = ByteQueue::open_any(&g.name, &Options::new()).unwrap();
    assert!(!b.is_creator());
    assert_eq!((b.capacity(), b.element_size(), b.items_per_slot()), (64, 24, 1));
    assert_eq!(a.name(), Some(os_name(&g.name).as_str()));
    // A leading slash names the same object, as for both peers.
    let c = Queue::<[u8; 24]>::open(&format!("/{}", g.name), &Options::new()).unwrap();
    a.push(&[7u8; 24]).unwrap();
    let mut cur = 0;
    assert_eq!(c.read(&mut cur).unwrap().value(), [7u8; 24]);
    // A disagreeing creator is told what differs.
    match ByteQueue::create_or_open(&g.name, 128, 24, &Options::new()) {
        Err(Error::Mismatch { field, expected, found, .. }) => assert_eq!((field, expected, found), ("size", 128, 64)),
        other => panic!("expected a size mismatch, got {other:?}"),
    }
}

#[test]
fn remove_unlinks_on_posix_and_is_a_no_op_on_windows() {
    let g = ShmGuard::new("premove");
    let a = ByteQueue::create_or_open(&g.name, 16, 8, &Options::new()).unwrap();
    a.push(&1u64.to_le_bytes()).unwrap();
    assert!(slick_queue::remove(&g.name).unwrap());
    let reopened = ByteQueue::open(&g.name, 8, &Options::new());
    if REMOVE_UNLINKS {
        // The name is gone; `a` keeps its (now anonymous) segment.
        assert!(matches!(reopened, Err(Error::NotFound { .. })), "{reopened:?}");
        assert_eq!(a.capacity(), 16);
    } else {
        // Windows: nothing was removed; the mapping lives while `a` holds it ...
        let b = reopened.unwrap();
        let mut cur = 0;
        assert_eq!(b.read(&mut cur).unwrap().to_vec(), 1u64.to_le_bytes());
        drop(b);
        drop(a);
        // ... and goes with its last holder.
        let e = ByteQueue::open(&g.name, 8, &Options::new()).unwrap_err();
        assert!(matches!(e, Error::NotFound { .. }), "{e:?}");
    }
}

#[test]
fn shared_cursor_object() {
    let mut g = ShmGuard::new("pcursor");
    let name = g.also("c");
    let a = SharedCursor::create_or_open(&name, &Options::new()).unwrap();
    assert!(a.is_creator());
    assert_eq!(a.name(), os_name(&name));
    assert_eq!(a.load(Ordering::Acquire), 0);
    a.store(41, Ordering::Release);
    let b = SharedCursor::open(&name).unwrap();
    assert!(!b.is_creator());
    assert_eq!(b.fetch_add(1, Ordering::AcqRel), 41);
    assert_eq!(a.load(Ordering::Acquire), 42);
    let info = segment_info(&name).unwrap();
    if cfg!(windows) {
        assert_eq!(info.len, 4096, "an 8-byte mapping is one page on Windows");
    } else if cfg!(target_os = "linux") {
        assert_eq!(info.len, 8, "an 8-byte object, as a Python SharedMemory(size=8) would be");
    } else {
        assert!(info.len >= 8);
    }
}

#[test]
fn inspection_reads_the_header_without_joining() {
    let g = ShmGuard::new("pinspect");
    let q = ByteQueue::create_or_open(&g.name, 32, 16, &Options::new().mode(0o640)).unwrap();
    q.push(&[1u8; 16]).unwrap();
    let info = segment_info(&g.name).unwrap();
    assert_eq!(info.name, os_name(&g.name));
    assert_eq!(info.len, q.mapped_len().unwrap() as u64);
    let h = info.header.expect("a header");
    assert_eq!((h.size, h.element_size, h.init_state, h.write_index()), (32, 16, 3, 1));
    if cfg!(windows) {
        // An access-control list, not a mode and an owner id.
        assert_eq!((info.mode, info.uid), (None, None));
    } else {
        assert_eq!(info.mode, Some(0o640));
        assert!(info.uid.is_some());
    }
    let mut b = [0u8; 8];
    assert_eq!(slick_queue::inspect::read_bytes(&g.name, 8, &mut b).unwrap(), 8);
    assert_eq!(u32::from_le_bytes([b[0], b[1], b[2], b[3]]), 32);
}

#[test]
fn read_wait_wakes_on_a_push_through_another_handle() {
    let g = ShmGuard::new("pwait");
    let q = ByteQueue::create_or_open(&g.name, 64, 8, &Options::new()).unwrap();
    let name = g.name.clone();
    let producer = std::thread::spawn(move || {
        let p = ByteQueue::open(&name, 8, &Options::new()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        p.push(&9u64.to_le_bytes()).unwrap();
    });
    let mut cur = 0;
    let rec = q.read_timeout(&mut cur, Duration::from_secs(20)).expect("the record");
    assert_eq!(rec.to_vec(), 9u64.to_le_bytes());
    producer.join().unwrap();
}

#[cfg(windows)]
#[test]
fn windows_names_are_used_as_is_with_optional_namespace_prefixes() {
    let g = ShmGuard::new("pns");
    let local = format!("Local\\{}", g.name);
    // A process outside a service session creates unprefixed names in its
    // session's Local namespace: both spellings are one mapping.
    let a = ByteQueue::create_or_open(&g.name, 16, 8, &Options::new()).unwrap();
    let b = ByteQueue::open(&local, 8, &Options::new()).unwrap();
    assert_eq!(b.name(), Some(local.as_str()));
    a.push(&5u64.to_le_bytes()).unwrap();
    let mut cur = 0;
    assert_eq!(b.read(&mut cur).unwrap().to_vec(), 5u64.to_le_bytes());
    // A backslash anywhere else is refused before any system call.
    let e = ByteQueue::open(&format!("a\\{}", g.name), 8, &Options::new()).unwrap_err();
    assert!(matches!(e, Error::InvalidName { .. }), "{e:?}");
}
