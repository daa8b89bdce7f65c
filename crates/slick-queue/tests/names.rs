//! Queue names at the edges: the longest name the platform
//! allows works end to end, with or without its leading '/'; one byte more,
//! and every malformed name, is `Error::InvalidName` with a reason, before
//! any object is made.
//!
//! Linux only: it checks the object in /dev/shm (name rules per platform are
//! unit-tested in `src/shm/mod.rs`).
#![cfg(target_os = "linux")]
// Miri: every test here maps shared memory (system calls Miri does not
// emulate); the Miri stage (scripts/test.d/35-miri.sh) runs the in-process
// tests of this crate.
#![cfg(not(miri))]

use slick_queue::{ByteQueue, Error, Options, SharedCursor};
use testkit::ShmGuard;

/// A 255-byte name (NAME_MAX on Linux, what glibc's shm_open and so the C++
/// and Python peers accept), unique to this test and removed by the guard.
fn longest(g: &mut ShmGuard) -> String {
    let n = 255 - g.name.len() - 1;
    let name = g.also(&"L".repeat(n));
    assert_eq!(name.len(), 255);
    name
}

#[test]
fn a_255_byte_name_works_with_and_without_the_slash() {
    let mut g = ShmGuard::new("long");
    let name = longest(&mut g);
    let q = ByteQueue::create_or_open(&name, 8, 8, &Options::new()).expect("create a 255-byte name");
    assert!(q.is_creator());
    assert!(std::path::Path::new("/dev/shm").join(&name).exists());
    q.push(b"longname").unwrap();
    let slashed = format!("/{name}");
    let r = ByteQueue::open(&slashed, 8, &Options::new()).expect("open it as /<255 bytes>");
    let mut c = 0;
    assert_eq!(r.read(&mut c).unwrap().to_vec(), b"longname");
    assert_eq!(r.name(), Some(slashed.as_str()));
    let info = slick_queue::inspect::segment_info(&slashed).expect("inspect it");
    assert_eq!(info.header.map(|h| h.size), Some(8));
    assert!(slick_queue::remove(&slashed).unwrap());
    assert!(!slick_queue::remove(&name).unwrap());

    let cursor = SharedCursor::create_or_open(&slashed, &Options::new()).expect("a 255-byte cursor name");
    assert!(cursor.is_creator());
    assert!(SharedCursor::remove(&name).unwrap());
}

#[test]
fn malformed_names_are_invalid_name_errors_with_reasons() {
    let long = "n".repeat(256);
    let slashed_long = format!("/{long}");
    for (bad, reason) in [
        ("", "empty"),
        ("/", "empty"),
        ("//q", "'/'"),
        ("a/b", "'/'"),
        ("/a/b", "'/'"),
        ("a\0b", "NUL"),
        (".", "'.'"),
        ("/..", "'.'"),
        (long.as_str(), "255"),
        (slashed_long.as_str(), "255"),
    ] {
        for e in [
            ByteQueue::create_or_open(bad, 8, 8, &Options::new()).unwrap_err(),
            ByteQueue::open(bad, 8, &Options::new()).unwrap_err(),
            SharedCursor::create_or_open(bad, &Options::new()).unwrap_err(),
            slick_queue::remove(bad).unwrap_err(),
            slick_queue::inspect::segment_info(bad).unwrap_err(),
        ] {
            assert!(matches!(e, Error::InvalidName { .. }), "{bad:?}: {e:?}");
            let msg = e.to_string();
            assert!(msg.contains("invalid shared-memory name") && msg.contains(reason), "{bad:?}: {msg}");
        }
    }
}
