//! Interop with the real PyPI peer, `slick-queue-py==2.3.0`, across
//! processes: its interpreter comes from `SLICK_PEER_PYTHON` (set by
//! `scripts/env.sh`, so `./scripts/test` and CI always run these tests;
//! `scripts/setup` creates that virtualenv). Set but missing, the tests fail.
//! Unset (a plain `cargo test` on a fresh clone, which has no peer), every
//! test here returns early and the binary says so once on stderr.
//!
//! Linux only: the peer runs here on Linux (interop on Windows and macOS is
//! for a real machine of each; see docs/DESIGN.md, Platforms).
#![cfg(target_os = "linux")]
// Miri: every test here maps shared memory (system calls Miri does not
// emulate); the Miri stage (scripts/test.d/35-miri.sh) runs the in-process
// tests of this crate.
#![cfg(not(miri))]

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use slick_queue::{ByteQueue, Error, Options, SharedCursor};
use testkit::ShmGuard;

/// Whether `SLICK_PEER_PYTHON` is set; if not, says once why these tests
/// are skipped.
fn peer_enabled() -> bool {
    testkit::peer_enabled("the interop tests")
}

fn peer(role: &str, name: &str, args: &[&str]) -> Command {
    testkit::peer_command(role, name, args)
}

fn example(name: &str, args: &[&str]) -> Command {
    let mut c = Command::new(testkit::example(name));
    c.args(args);
    c
}

fn run(mut c: Command) -> Output {
    c.output().expect("run child")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_ok(o: &Output, what: &str) -> String {
    let out = stdout(o);
    assert!(o.status.success(), "{what} failed ({}):\n{out}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    out
}

/// Starts a command with piped stdout; returns it to be waited on later.
fn start(mut c: Command) -> std::process::Child {
    c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

fn summary_ok(out: &str, received: u64) {
    let last = out.lines().last().unwrap_or("");
    assert!(last.starts_with(&format!("received={received} lost=0 bad=0 reordered=0")), "{out}");
    assert!(last.ends_with(" ok"), "{out}");
}

#[test]
fn rust_producer_to_python_consumer() {
    if !peer_enabled() {
        return;
    }
    let g = ShmGuard::new("r2p");
    let _q = ByteQueue::create_or_open(&g.name, 8192, 32, &Options::new()).unwrap();
    let consumer = start(peer("consume", &g.name, &["--es", "32", "--count", "5000"]));
    let p = run(example("produce", &[&g.name, "5000", "32", "--open-only", "--id", "3"]));
    assert_ok(&p, "rust producer");
    let c = consumer.wait_with_output().unwrap();
    summary_ok(&assert_ok(&c, "python consumer"), 5000);
}

#[test]
fn python_producer_to_rust_consumer() {
    if !peer_enabled() {
        return;
    }
    let g = ShmGuard::new("p2r");
    let _q = ByteQueue::create_or_open(&g.name, 8192, 32, &Options::new()).unwrap();
    let consumer = start(example("consume", &[&g.name, "5000", "32", "--quiet"]));
    let p = run(peer("produce", &g.name, &["--es", "32", "--count", "5000", "--id", "1"]));
    assert_ok(&p, "python producer");
    let c = consumer.wait_with_output().unwrap();
    summary_ok(&assert_ok(&c, "rust consumer"), 5000);
}

#[test]
fn python_creates_rust_attaches() {
    if !peer_enabled() {
        return;
    }
    let g = ShmGuard::new("pcreate");
    let p = run(peer("produce", &g.name, &["--es", "24", "--count", "100", "--size", "128", "--id", "9"]));
    assert_ok(&p, "python producer");
    let c = run(example("consume", &[&g.name, "100", "24", "--quiet", "--read-last"]));
    let out = assert_ok(&c, "rust consumer");
    assert!(out.contains("last index=99 producer=9 seq=99"), "{out}");
    summary_ok(&out, 100);
}

#[test]
fn rust_and_python_producers_one_rust_consumer() {
    if !peer_enabled() {
        return;
    }
    let g = ShmGuard::new("mixed");
    let _q = ByteQueue::create_or_open(&g.name, 1 << 14, 32, &Options::new()).unwrap();
    let consumer = start(example("consume", &[&g.name, "4000", "32", "--producers", "2", "--quiet"]));
    let py = start(peer("produce", &g.name, &["--es", "32", "--count", "4000", "--id", "1"]));
    let rs = run(example("produce", &[&g.name, "4000", "32", "--open-only", "--id", "0", "--pace-us", "20"]));
    assert_ok(&rs, "rust producer");
    assert_ok(&py.wait_with_output().unwrap(), "python producer");
    let out = assert_ok(&consumer.wait_with_output().unwrap(), "rust consumer");
    summary_ok(&out, 8000);
    assert!(out.contains("producers_seen=2"), "{out}");
}

#[test]
fn work_stealing_with_one_consumer_of_each_library() {
    if !peer_enabled() {
        return;
    }
    let mut g = ShmGuard::new("steal");
    let cursor_name = g.also("cur");
    const N: u64 = 6000;
    let q = ByteQueue::create_or_open(&g.name, 1 << 14, 32, &Options::new()).unwrap();
    let _cursor = SharedCursor::create_or_open(&cursor_name, &Options::new()).unwrap();
    let dump = std::env::temp_dir().join(format!("{}.dump", g.name));
    let dump_s = dump.to_string_lossy().into_owned();
    let py = start(peer("steal", &g.name, &["--es", "32", "--cursor", &cursor_name, "--timeout", "2"]));
    let rs = start(example(
        "consume",
        &[&g.name, "0", "32", "--shared-cursor", &cursor_name, "--idle-timeout", "2", "--dump", &dump_s, "--quiet"],
    ));
    std::thread::sleep(Duration::from_millis(300)); // both consumers attached
    let mut rec = vec![0u8; 32];
    for seq in 0..N {
        fill(&mut rec, 5, seq);
        q.push(&rec).unwrap();
        if seq % 64 == 0 {
            std::thread::sleep(Duration::from_micros(200)); // let both of them win some claims
        }
    }
    let py_out = assert_ok(&py.wait_with_output().unwrap(), "python stealer");
    assert_ok(&rs.wait_with_output().unwrap(), "rust stealer");
    let rs_out = std::fs::read_to_string(&dump).unwrap();
    let _ = std::fs::remove_file(&dump);
    let mut seen = BTreeSet::new();
    let mut counts = [0u64; 2];
    for (k, line) in py_out.lines().map(|l| l.trim_start_matches("claimed ")).chain(rs_out.lines()).enumerate() {
        let mut it = line.split(' ');
        let (id, seq): (u64, u64) = (it.next().unwrap().parse().unwrap(), it.next().unwrap().parse().unwrap());
        assert_eq!(id, 5, "{line}");
        assert!(seen.insert(seq), "record {seq} delivered twice");
        counts[usize::from(k >= py_out.lines().count())] += 1;
    }
    assert_eq!(seen.len() as u64, N, "every record delivered once (python {}, rust {})", counts[0], counts[1]);
    assert!(counts[0] > 0 && counts[1] > 0, "both consumers took part: {counts:?}");
}

#[test]
fn read_last_across_libraries() {
    if !peer_enabled() {
        return;
    }
    let g = ShmGuard::new("rlast");
    assert_ok(&run(example("produce", &[&g.name, "300", "16", "--size", "64", "--id", "2"])), "rust producer");
    let out = assert_ok(&run(peer("read_last", &g.name, &["--es", "16"])), "python read_last");
    assert_eq!(out.trim(), "last size=1 id=2 seq=299", "300 records wrapped a 64-slot ring several times");

    let g2 = ShmGuard::new("rlast2");
    assert_ok(&run(peer("produce", &g2.name, &["--es", "16", "--count", "77", "--size", "32", "--id", "4"])), "py");
    let q = ByteQueue::open(&g2.name, 16, &Options::new()).unwrap();
    let r = q.read_last().unwrap().expect("a last record");
    let bytes = r.to_vec();
    assert_eq!(r.index(), 76);
    assert_eq!(u64::from_le_bytes(bytes[..8].try_into().unwrap()), 76);
    assert_eq!(u32::from_le_bytes(bytes[8..12].try_into().unwrap()), 4);
}

#[test]
fn python_items_per_slot_16_read_by_rust() {
    if !peer_enabled() {
        return;
    }
    let g = ShmGuard::new("ips16");
    let args =
        ["--es", "8", "--count", "40", "--size", "1024", "--ips", "16", "--record-len", "5", "--vary", "--id", "0"];
    assert_ok(&run(peer("produce", &g.name, &args)), "python producer");
    let q = ByteQueue::open(&g.name, 8, &Options::new()).unwrap();
    assert_eq!((q.items_per_slot(), q.slot_count()), (16, 64));
    let mut c = 0;
    for seq in 0..40u64 {
        let r = q.read(&mut c).expect("record");
        assert_eq!((r.index(), r.len()), (seq * 16, 1 + (seq % 5) as usize), "every record starts a new slot");
        let b = r.to_vec();
        assert_eq!(u64::from_le_bytes(b[..8].try_into().unwrap()), seq);
        let payload_start = if b.len() >= 12 { 12 } else { 8 }; // bytes 8..12 hold the producer id (0)
        assert!(b.iter().enumerate().skip(payload_start).all(|(k, &x)| x == (seq as u8).wrapping_add(k as u8)));
        assert!(b.len() < 12 || b[8..12] == [0; 4]);
    }
    assert!(q.read(&mut c).is_none());
    // and the other way: Rust writes into the Python-made segment, Python reads
    let g2 = ShmGuard::new("ips16b");
    let _q = ByteQueue::create_or_open(&g2.name, 256, 32, &Options::new().items_per_slot(16)).unwrap();
    assert_ok(&run(example("produce", &[&g2.name, "12", "32", "--open-only", "--record-len", "3"])), "rust");
    let out = assert_ok(&run(peer("consume", &g2.name, &["--es", "32", "--count", "12"])), "python consumer");
    summary_ok(&out, 12);
}

#[test]
fn feature_mismatch_is_an_error_both_ways() {
    if !peer_enabled() {
        return;
    }
    // Python creates without read_last (SLQ0); Rust with read_last refuses.
    let g = ShmGuard::new("featpy");
    assert_ok(&run(peer("produce", &g.name, &["--es", "8", "--count", "1", "--size", "16", "--no-read-last"])), "py");
    let e = ByteQueue::open(&g.name, 8, &Options::new()).unwrap_err();
    assert!(matches!(e, Error::FeatureMismatch { feature: "read_last", segment: false, ours: true }), "{e:?}");
    assert!(ByteQueue::open(&g.name, 8, &Options::new().read_last(false)).is_ok());

    // Rust creates without read_last; Python with the default traits refuses.
    let g2 = ShmGuard::new("featrs");
    let _q = ByteQueue::create_or_open(&g2.name, 16, 8, &Options::new().read_last(false)).unwrap();
    let o = run(peer("open", &g2.name, &["--es", "8"]));
    assert_eq!(o.status.code(), Some(3));
    let out = stdout(&o);
    assert!(out.starts_with("error=RuntimeError: Shared memory feature mismatch"), "{out}");
    let o = run(peer("open", &g2.name, &["--es", "8", "--no-read-last"]));
    assert_eq!(stdout(&o).trim(), "opened size=16 ips=1 es=8");

    // And a geometry mismatch from Python's side.
    let o = run(peer("open", &g2.name, &["--es", "16", "--no-read-last"]));
    assert!(stdout(&o).contains("element_size mismatch"), "{}", stdout(&o));
}

/// The record format of the examples (see examples/common/mod.rs).
fn fill(bytes: &mut [u8], id: u32, seq: u64) {
    for (k, b) in bytes.iter_mut().enumerate() {
        *b = (seq as u8).wrapping_add(k as u8);
    }
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    bytes[8..12].copy_from_slice(&id.to_le_bytes());
}
