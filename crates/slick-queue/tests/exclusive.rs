//! The exclusive producer (`Options::exclusive_producer`): the same bytes on
//! the wire as the default producer, and a second exclusive producer of a
//! segment refused, in this process and in another one.
//!
//! Linux only: the tests compare the objects' bytes in /dev/shm, and the
//! producer lock is a `flock` (Windows refuses the option as unsupported,
//! see `shm/windows.rs`).
#![cfg(target_os = "linux")]

use std::process::Command;

use slick_queue::{ByteQueue, Error, Options, Queue};
use testkit::ShmGuard;

fn excl() -> Options {
    Options::new().exclusive_producer(true)
}

/// Pushes the same records (single elements, multi-element records, wraps)
/// through `q`.
fn produce(q: &Queue<u64>) {
    for v in 0..40u64 {
        match v % 4 {
            0 => {
                q.push_slice(&[v, v + 1, v + 2]).unwrap();
            }
            _ => {
                q.push(v).unwrap();
            }
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "maps shared memory, which Miri does not emulate")]
fn exclusive_producer_writes_the_same_segment_bytes() {
    let a = ShmGuard::new("excl_a");
    let b = ShmGuard::new("excl_b");
    let qa = Queue::<u64>::create_or_open(&a.name, 16, &Options::new()).unwrap();
    let qb = Queue::<u64>::create_or_open(&b.name, 16, &excl()).unwrap();
    produce(&qa);
    produce(&qb);
    let bytes_a = std::fs::read(a.path()).unwrap();
    let bytes_b = std::fs::read(b.path()).unwrap();
    assert_eq!(bytes_a.len(), bytes_b.len());
    assert!(bytes_a == bytes_b, "the exclusive producer left different bytes in the segment");

    // A default reader of the exclusive producer's segment sees every
    // record still in the ring, and read_last names the last one.
    let reader = Queue::<u64>::open(&b.name, &Options::new()).unwrap();
    let last = reader.read_last().unwrap().expect("a last record");
    assert_eq!(last.to_vec(), vec![39]);
    // From 0 the reader was lapped: it skips to the records still there
    // (counting the loss) and ends with the last four.
    let mut c = 0;
    let got: Vec<u64> = std::iter::from_fn(|| reader.read(&mut c).map(|r| r.value())).collect();
    assert!(got.ends_with(&[36, 37, 38, 39]), "{got:?}");
    assert!(reader.loss_count() > 0);
}

#[test]
#[cfg_attr(miri, ignore = "maps shared memory, which Miri does not emulate")]
fn a_second_exclusive_producer_is_refused_until_the_first_closes() {
    let g = ShmGuard::new("excl_refuse");
    let first = ByteQueue::create_or_open(&g.name, 64, 8, &excl()).unwrap();
    let second = ByteQueue::open(&g.name, 8, &excl());
    match second {
        Err(Error::ProducerClaimed { name }) => assert!(name.contains(&g.name), "{name}"),
        other => panic!("expected ProducerClaimed, got {other:?}"),
    }
    // create_or_open is refused too.
    assert!(matches!(ByteQueue::create_or_open(&g.name, 64, 8, &excl()), Err(Error::ProducerClaimed { .. })));
    // Readers (and handles without the option) still attach.
    let reader = ByteQueue::open(&g.name, 8, &Options::new()).unwrap();
    first.push(&7u64.to_le_bytes()).unwrap();
    let mut c = 0;
    assert_eq!(reader.read(&mut c).unwrap().to_vec(), 7u64.to_le_bytes());
    // Closing the first producer releases the claim. (A process spawned by
    // another test of this binary at that moment holds a copy of every
    // descriptor until its exec closes it, the lock's included: allow for
    // that window.)
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let again = loop {
        match ByteQueue::open(&g.name, 8, &excl()) {
            Err(Error::ProducerClaimed { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            other => break other.unwrap(),
        }
    };
    assert_eq!(again.push(&8u64.to_le_bytes()).unwrap(), 1);
}

/// The child half of the next test: runs in a process of its own (this test
/// binary re-executed with `SLICK_EXCL_CHILD` naming the segment) and
/// reports whether its exclusive open was refused.
#[test]
fn child_tries_to_claim() {
    let Ok(name) = std::env::var("SLICK_EXCL_CHILD") else {
        println!("skipped: only runs as the child of a_second_process_is_refused");
        return;
    };
    match ByteQueue::open(&name, 8, &excl()) {
        Err(Error::ProducerClaimed { .. }) => println!("CHILD: refused"),
        Ok(_) => println!("CHILD: claimed"),
        Err(e) => println!("CHILD: error {e}"),
    }
}

#[test]
#[cfg_attr(miri, ignore = "maps shared memory, which Miri does not emulate")]
fn a_second_process_is_refused() {
    let g = ShmGuard::new("excl_proc");
    let run_child = || {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_tries_to_claim", "--nocapture", "--test-threads=1"])
            .env("SLICK_EXCL_CHILD", &g.name)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "child failed: {stdout}");
        stdout
    };
    let first = ByteQueue::create_or_open(&g.name, 64, 8, &excl()).unwrap();
    let out = run_child();
    assert!(out.contains("CHILD: refused"), "{out}");
    drop(first);
    let out = run_child();
    assert!(out.contains("CHILD: claimed"), "{out}");
}

/// One exclusive producer thread, one reader thread: every record arrives,
/// in order, across many laps of a small ring (the reader keeps up through
/// a credit counter, so nothing is lapped).
#[test]
fn exclusive_producer_spsc_threads() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    const N: u64 = if cfg!(miri) { 200 } else { 200_000 };
    let q = Arc::new(Queue::<u64>::with_options(64, &excl()).unwrap());
    let consumed = Arc::new(AtomicU64::new(0));
    let p = {
        let (q, consumed) = (q.clone(), consumed.clone());
        std::thread::spawn(move || {
            for v in 0..N {
                while v - consumed.load(Ordering::Acquire) >= 32 {
                    std::thread::yield_now();
                }
                if v % 5 == 0 {
                    q.push_slice(&[v, !v]).unwrap();
                } else {
                    q.push(v).unwrap();
                }
            }
        })
    };
    let mut c = 0;
    let mut next = 0;
    while next < N {
        match q.read(&mut c) {
            Some(r) => {
                let vals = r.to_vec();
                assert_eq!(vals[0], next);
                if next % 5 == 0 {
                    assert_eq!(vals, vec![next, !next]);
                }
                assert!(!r.is_overwritten());
                next += 1;
                consumed.store(next, Ordering::Release);
            }
            None => std::thread::yield_now(),
        }
    }
    p.join().unwrap();
    assert_eq!(q.loss_count(), 0);
    assert_eq!(q.read_last().unwrap().map(|r| r.value()), Some(N - 1));
}
