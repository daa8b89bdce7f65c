//! The attach path against arbitrary (hostile or corrupt) objects: the same
//! case function the libFuzzer target `fuzz/fuzz_targets/attach.rs` runs, fed by
//! proptest and by the checked-in corpus `fuzz/corpus/attach/`.
//!
//! A case writes a real `/dev/shm` object from arbitrary header bytes, control
//! slot contents and length, attaches (open, open_any or create-or-open, with
//! an init timeout of 0 or 10 ms) and reads (read, read_shared, read_last,
//! copies, pushes). It passes when the attach fails with a typed error, or
//! when every record read lies inside the ring and its copy equals the
//! object's bytes at that place (see `crates/testkit/src/attach_case.rs`).
//!
//! Linux only: cases are written as /dev/shm files.
#![cfg(target_os = "linux")]
// Miri: every test here maps shared memory (system calls Miri does not
// emulate); the Miri stage (scripts/test.d/35-miri.sh) runs the in-process
// tests of this crate.
#![cfg(not(miri))]

use std::path::PathBuf;

use proptest::prelude::*;
use slick_queue::{ByteQueue, Error, Options};
use testkit::attach_case::{Case, Outcome};
use testkit::ShmGuard;

/// The checked-in corpus `fuzz/corpus/attach/` of the repository. `None` in
/// a packaged copy of this crate (`cargo package`), which has no repository
/// around it; in the repository the corpus must be there.
fn corpus_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = root.join("fuzz/corpus/attach");
    if !corpus.exists() && !root.join("fuzz/Cargo.toml").exists() {
        return None;
    }
    Some(corpus)
}

/// Every file of the corpus, through the fuzz target's function.
#[test]
fn corpus_replays_cleanly() {
    let Some(corpus) = corpus_dir() else {
        eprintln!("skipped: the fuzz corpus lives in the repository, not in the packaged crate");
        return;
    };
    let g = ShmGuard::new("corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus)
        .expect("the corpus directory fuzz/corpus/attach exists")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus is unexpectedly small: {} files", files.len());
    let (mut refused, mut attached, mut records) = (0, 0, 0u64);
    for f in &files {
        let data = std::fs::read(f).expect("read corpus file");
        match Case::decode(&data).run(&g.name) {
            Outcome::Refused => refused += 1,
            Outcome::Attached { records: n } => {
                attached += 1;
                records += u64::from(n);
            }
        }
    }
    // The corpus is only useful if it reaches both sides of the attach.
    assert!(refused > 0 && attached > 0, "refused {refused}, attached {attached}");
    assert!(records > 0, "no corpus case read a record");
    eprintln!("corpus: {} cases, {refused} refused, {attached} attached, {records} records checked", files.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary bytes, decoded like the fuzzer does.
    #[test]
    fn arbitrary_objects_end_in_errors_or_bounded_reads(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let g = ShmGuard::new("prop");
        Case::decode(&data).run(&g.name);
    }

    /// A valid segment with garbage in its control slots and header words
    /// (the case decoder's "plausible header" path, forced on).
    #[test]
    fn valid_geometry_with_garbage_slots(
        size_log in 0u32..8,
        es in prop::sample::select(vec![1u32, 3, 8, 16, 24]),
        ips_log in 0u32..3,
        reserved in any::<u64>(),
        last in any::<u64>(),
        slots in prop::collection::vec((0u32..300, any::<u64>(), any::<u32>()), 0..40),
        plausible in prop::collection::vec((0u32..300, 0u64..8, 0u32..300), 0..40),
        cursors in prop::collection::vec(any::<u64>(), 1..8),
        open_any in any::<bool>(),
    ) {
        let size = 1u32 << size_log;
        let ips = 1u32 << ips_log.min(size_log);
        let g = ShmGuard::new("propslots");
        let mut seg = testkit::segment(size, es, ips, true);
        seg[0..8].copy_from_slice(&reserved.to_le_bytes());
        seg[16..24].copy_from_slice(&last.to_le_bytes());
        let slot_count = size / ips;
        let writes = slots.iter().copied().chain(
            plausible.iter().map(|&(s, lap, n)| (s, lap * u64::from(size) + u64::from((s % slot_count) * ips), n)),
        );
        for (s, d, n) in writes {
            let off = 64 + 16 * (s % slot_count) as usize;
            seg[off..off + 8].copy_from_slice(&d.to_le_bytes());
            seg[off + 8..off + 12].copy_from_slice(&n.to_le_bytes());
        }
        std::fs::write(g.path(), &seg).unwrap();
        let opts = Options::new().init_timeout(std::time::Duration::ZERO);
        let q = if open_any {
            ByteQueue::open_any(&g.name, &opts).unwrap()
        } else {
            ByteQueue::create_or_open(&g.name, size, es, &opts.items_per_slot(ips)).unwrap()
        };
        let data_offset = q.geometry().data_offset();
        for &c0 in &cursors {
            let mut c = c0;
            for _ in 0..(2 * size) {
                let Some(r) = q.read(&mut c) else { break };
                let (pos, len) = ((r.index() & u64::from(size - 1)) as usize, r.len());
                prop_assert!(len >= 1 && pos + len <= size as usize);
                let v = r.to_vec();
                let at = data_offset + pos * es as usize;
                prop_assert_eq!(&v[..], &seg[at..at + v.len()]);
            }
            let shared = std::sync::atomic::AtomicU64::new(c0);
            for _ in 0..(2 * size) {
                let Some(r) = q.read_shared(&shared) else { break };
                let (pos, len) = ((r.index() & u64::from(size - 1)) as usize, r.len());
                prop_assert!(len >= 1 && pos + len <= size as usize);
            }
        }
        if let Some(r) = q.read_last().unwrap() {
            let pos = (r.index() & u64::from(size - 1)) as usize;
            prop_assert!(pos + r.len() <= size as usize);
            prop_assert_eq!(r.to_vec().len(), r.len() * es as usize);
        }
    }
}

/// The malformed objects the hardening review listed, one by one, each a typed error.
#[test]
fn named_malformed_objects_are_typed_errors() {
    let quick = Options::new().init_timeout(std::time::Duration::from_millis(20));
    type Expect = fn(&Error) -> bool;
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("shorter than the header", vec![0xFF; 63], |e| matches!(e, Error::Truncated { len: 63, needed: 64, .. })),
        ("empty object", vec![], |e| matches!(e, Error::Truncated { len: 0, .. })),
        ("shorter than the geometry", testkit::segment(64, 8, 1, true)[..64 + 16 * 64].to_vec(), |e| {
            matches!(e, Error::Truncated { .. })
        }),
        ("capacity 0", testkit::header(0, 8, 0x534C_5131, 1, 3), |e| matches!(e, Error::Corrupt { .. })),
        ("capacity not a power of two", testkit::header(24, 8, 0x534C_5131, 1, 3), |e| {
            matches!(e, Error::Corrupt { .. })
        }),
        ("element size 0", testkit::header(8, 0, 0x534C_5131, 1, 3), |e| matches!(e, Error::Corrupt { .. })),
        ("items_per_slot above capacity", testkit::header(8, 8, 0x534C_5133, 16, 3), |e| {
            matches!(e, Error::Corrupt { .. })
        }),
        ("items_per_slot not a power of two", testkit::header(8, 8, 0x534C_5133, 6, 3), |e| {
            matches!(e, Error::Corrupt { .. })
        }),
        // 2^31 elements of 2^32-1 bytes: the length overflows 64-bit
        // arithmetic on the way; checked, never wrapped.
        ("segment length overflows", testkit::header(1 << 31, u32::MAX, 0x534C_5131, 1, 3), |e| {
            matches!(e, Error::Corrupt { .. })
        }),
        // Representable but absurd: 2^31 * 2^31 bytes (2^62): a valid
        // geometry the 4 KiB object cannot hold; nothing that size is mapped.
        (
            "absurd size",
            testkit::header(1 << 31, 1 << 31, 0x534C_5131, 1, 3),
            |e| matches!(e, Error::Truncated { len: 4096, needed, .. } if *needed > 1 << 62),
        ),
        // Valid geometry of 2^31 x 8 bytes that the 4 KiB object cannot hold.
        ("huge but valid geometry", testkit::header(1 << 31, 8, 0x534C_5131, 1, 3), |e| {
            matches!(e, Error::Truncated { .. })
        }),
        ("legacy state with zero geometry", testkit::header(0, 0, 0x534C_5131, 1, 1), |e| {
            matches!(e, Error::InitTimeout { state: 1, .. })
        }),
    ];
    for (what, mut bytes, ok) in cases {
        if bytes.len() == 64 {
            bytes.resize(4096, 0);
        }
        let g = ShmGuard::new("named");
        std::fs::write(g.path(), &bytes).unwrap();
        let e = ByteQueue::open_any(&g.name, &quick).expect_err(what);
        assert!(ok(&e), "{what}: unexpected error {e:?}");
        assert!(!e.to_string().is_empty());
    }
}
