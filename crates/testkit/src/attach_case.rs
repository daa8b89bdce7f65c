//! One attach-path fuzz case: build a shared-memory object from arbitrary
//! bytes, attach to it (create-or-open or open-only) and read from it.
//!
//! Shared, byte for byte, by three users:
//! * `fuzz/fuzz_targets/attach.rs` (cargo-fuzz / libFuzzer), through this crate;
//! * the core's `tests/attach_fuzz.rs`: a proptest over random inputs and the replay of
//!   the checked-in corpus `fuzz/corpus/attach/`;
//! * nothing else: it uses only the public API and `std`.
//!
//! The input is decoded into a [`Case`] (never fails: missing bytes read as
//! zero). Running it must end either in a typed error from the attach, or in
//! an attached queue whose every read, copy and write stays inside the
//! segment. The oracle for "inside the segment": each record a read returns
//! lies in `[1, capacity - position]` elements, and the bytes its copy
//! returns are exactly the object's bytes at `data_offset + position *
//! element_size`, read back from the file, which must hold them. Any
//! violation panics (that is what the fuzzer looks for).

// Test support: the fields and variants of the decoded case are named after
// the attach parameters and operations they hold (see the enums' docs).
#![allow(missing_docs)]

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use slick_queue::{ByteQueue, Error, Options};

/// Objects larger than this are not made (the fuzzer stays fast).
pub const MAX_OBJECT: u64 = 1 << 20;
/// Operations run on an attached queue, at most.
pub const MAX_OPS: usize = 48;
/// Record bytes one case copies and compares at most (see `exercise`).
pub const COPY_BUDGET: u64 = 16 << 20;

/// How the attach is requested.
#[derive(Clone, Debug)]
pub enum Request {
    /// `ByteQueue::open(name, element_size)`.
    Open { element_size: u32 },
    /// `ByteQueue::open_any(name)`.
    OpenAny,
    /// `ByteQueue::create_or_open(name, size, element_size)`.
    CreateOrOpen { size: u32, element_size: u32 },
}

/// One operation on an attached queue.
#[derive(Clone, Debug)]
pub enum Op {
    Read { cursor: u64, times: u8 },
    ReadShared { cursor: u64, times: u8 },
    ReadLast,
    Push { len: u16 },
    ReservePublish { n: u32 },
    ReadTimeoutZero { cursor: u64 },
    InitialIndex,
    CopyFromOffset { cursor: u64, offset: u32 },
}

/// A decoded fuzz case.
#[derive(Clone, Debug)]
pub struct Case {
    pub header: [u8; 64],
    pub len: u64,
    pub slots: Vec<(u32, u64, u32)>,
    pub data_fill: u8,
    pub request: Request,
    pub items_per_slot: Option<u32>,
    pub read_last: bool,
    pub reset_check: bool,
    pub loss_detection: bool,
    pub timeout: Duration,
    pub ops: Vec<Op>,
}

/// What a case ended in (for statistics; every variant is a pass).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The attach failed with a typed error.
    Refused,
    /// The attach succeeded; this many records were read and checked.
    Attached { records: u32 },
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// A capacity: mostly interesting values, sometimes raw.
    fn size(&mut self) -> u32 {
        const S: [u32; 14] = [0, 1, 2, 3, 4, 8, 12, 16, 64, 1024, 1 << 20, 1 << 31, u32::MAX, 5];
        let b = self.u8();
        if b < 200 {
            S[usize::from(b) % S.len()]
        } else {
            self.u32()
        }
    }
    fn element_size(&mut self) -> u32 {
        const E: [u32; 14] = [0, 1, 2, 3, 7, 8, 16, 24, 64, 4096, 1 << 20, 1 << 31, u32::MAX, 12];
        let b = self.u8();
        if b < 200 {
            E[usize::from(b) % E.len()]
        } else {
            self.u32()
        }
    }
    fn items_per_slot(&mut self) -> u32 {
        const I: [u32; 10] = [0, 1, 2, 4, 8, 16, 3, 1 << 31, u32::MAX, 64];
        let b = self.u8();
        if b < 200 {
            I[usize::from(b) % I.len()]
        } else {
            self.u32()
        }
    }
}

fn put_u32(h: &mut [u8], off: usize, v: u32) {
    h[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(h: &mut [u8], off: usize, v: u64) {
    h[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(h: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([h[off], h[off + 1], h[off + 2], h[off + 3]])
}

/// The length the header's geometry says the object needs, computed without
/// trusting anything (`None` when it is not a valid geometry).
pub fn claimed_len(header: &[u8; 64]) -> Option<u64> {
    let size = get_u32(header, 8);
    let es = get_u32(header, 12);
    let ips = match get_u32(header, 28) {
        0 => 1,
        v => v,
    };
    slick_queue::Geometry::new(size, es, ips).ok().map(|g| g.segment_len() as u64)
}

impl Case {
    /// Decodes a case from arbitrary bytes (total: any input is a case).
    pub fn decode(data: &[u8]) -> Case {
        let mut inp = Input(data);
        let flags = inp.u8();
        let mut header = [0u8; 64];
        for b in header.iter_mut() {
            *b = inp.u8();
        }
        if flags & 0x80 != 0 {
            // A plausible header: real fields from the interesting tables.
            let size = inp.size();
            let es = inp.element_size();
            let ips = inp.items_per_slot();
            put_u32(&mut header, 8, size);
            put_u32(&mut header, 12, es);
            put_u32(&mut header, 28, ips);
            let m = inp.u8();
            let magic = if m < 240 {
                let ips_bit = if ips > 1 { 2 } else { 0 };
                0x534C_5130 | u32::from(m & 1) | ips_bit | if m & 0x40 != 0 { u32::from(m & 0xC) } else { 0 }
            } else {
                0x534C_5130 | u32::from(m & 0xF)
            };
            put_u32(&mut header, 24, magic);
            let st = inp.u8();
            put_u32(&mut header, 48, if st < 250 { [3, 3, 3, 1, 2, 0][usize::from(st) % 6] } else { u32::from(st) });
            let r = inp.u8();
            let reserved = match r % 4 {
                0 => 0,
                1 => u64::from(inp.u16()) << 16,
                2 => u64::MAX,
                _ => inp.u64(),
            };
            put_u64(&mut header, 0, reserved);
            let lp = match inp.u8() % 4 {
                0 => u64::MAX,
                1 => u64::from(inp.u16()),
                _ => inp.u64(),
            };
            put_u64(&mut header, 16, lp);
        }
        let claimed = claimed_len(&header).unwrap_or(4096);
        let delta = u64::from(inp.u16());
        let len = match inp.u8() % 6 {
            0 | 1 => claimed,
            2 => claimed.saturating_sub(delta % 64 + 1),
            3 => delta % 200,
            4 => claimed.saturating_add(delta),
            _ => u64::from(inp.u32()),
        }
        .min(MAX_OBJECT);
        let slot_writes = usize::from(inp.u8() % 33);
        let size = get_u32(&header, 8);
        let mut slots = Vec::with_capacity(slot_writes);
        for _ in 0..slot_writes {
            let slot = u32::from(inp.u16());
            let kind = inp.u8();
            let data_index = match kind % 5 {
                // A plausible record index for this slot, some laps ahead.
                0 | 1 => u64::from(inp.u8()).wrapping_mul(u64::from(size)).wrapping_add(u64::from(slot)),
                2 => u64::MAX,
                3 => u64::from(inp.u16()),
                _ => inp.u64(),
            };
            let n = match (kind >> 3) % 6 {
                0 => 1,
                1 => 0,
                2 => size,
                3 => size.wrapping_add(1),
                4 => u32::MAX,
                _ => inp.u32(),
            };
            slots.push((slot, data_index, n));
        }
        let data_fill = inp.u8();
        let request = match flags & 3 {
            0 => Request::Open { element_size: if inp.u8() < 192 { get_u32(&header, 12) } else { inp.element_size() } },
            1 => Request::OpenAny,
            _ => {
                if inp.u8() < 160 {
                    Request::CreateOrOpen { size: get_u32(&header, 8), element_size: get_u32(&header, 12) }
                } else {
                    Request::CreateOrOpen { size: inp.size(), element_size: inp.element_size() }
                }
            }
        };
        let items_per_slot = if flags & 0x40 != 0 {
            Some(if inp.u8() < 128 { get_u32(&header, 28).max(1) } else { inp.items_per_slot() })
        } else {
            None
        };
        let read_last = if inp.u8() < 220 { get_u32(&header, 24) & 1 != 0 } else { flags & 4 != 0 };
        let timeout = Duration::from_millis(if flags & 0x20 != 0 { 10 } else { 0 });
        let mut ops = Vec::new();
        while !inp.is_empty() && ops.len() < MAX_OPS {
            let k = inp.u8();
            let cursor = match k >> 4 {
                0..=5 => 0,
                6..=8 => u64::from(inp.u16()),
                9 | 10 => u64::MAX - u64::from(inp.u8()),
                _ => inp.u64(),
            };
            ops.push(match k % 8 {
                0 => Op::Read { cursor, times: inp.u8() % 16 + 1 },
                1 => Op::ReadShared { cursor, times: inp.u8() % 16 + 1 },
                2 => Op::ReadLast,
                3 => Op::Push { len: inp.u16() % 4096 },
                4 => Op::ReservePublish { n: inp.size() },
                5 => Op::ReadTimeoutZero { cursor },
                6 => Op::InitialIndex,
                _ => Op::CopyFromOffset { cursor, offset: inp.u32() },
            });
        }
        Case {
            header,
            len,
            slots,
            data_fill,
            request,
            items_per_slot,
            read_last,
            reset_check: flags & 8 != 0,
            loss_detection: flags & 0x10 != 0,
            timeout,
            ops,
        }
    }

    /// The object's bytes: the header, then the slot writes (where the object
    /// is long enough), the rest filled with `data_fill`.
    pub fn image(&self) -> Vec<u8> {
        let mut b = vec![self.data_fill; self.len as usize];
        let h = b.len().min(64);
        b[..h].copy_from_slice(&self.header[..h]);
        for &(slot, d, n) in &self.slots {
            let off = 64 + 16 * slot as usize;
            if off + 16 <= b.len() {
                put_u64(&mut b, off, d);
                put_u32(&mut b, off + 8, n);
            }
        }
        b
    }

    fn options(&self) -> Options {
        let mut o = Options::new()
            .read_last(self.read_last)
            .reset_check(self.reset_check)
            .loss_detection(self.loss_detection)
            .init_timeout(self.timeout);
        if let Some(ips) = self.items_per_slot {
            o = o.items_per_slot(ips);
        }
        o
    }

    /// Writes the object `/dev/shm/<name>`, attaches, runs the operations
    /// with every check, and removes the object again.
    pub fn run(&self, name: &str) -> Outcome {
        let path = format!("/dev/shm/{name}");
        let _ = std::fs::remove_file(&path);
        {
            let mut f = std::fs::File::create(&path).expect("create the object");
            f.write_all(&self.image()).expect("write the object");
        }
        let result = self.attach(name);
        let outcome = match result {
            Err(e) => {
                check_error(&e);
                Outcome::Refused
            }
            Ok(q) => Outcome::Attached { records: exercise(&q, &path, &self.ops, self.reset_check) },
        };
        let _ = std::fs::remove_file(&path);
        // and the doorbell object an attach creates beside the queue
        let _ = std::fs::remove_file(format!("/dev/shm/{}", slick_queue::doorbell_name(name)));
        outcome
    }

    fn attach(&self, name: &str) -> Result<ByteQueue, Error> {
        let o = self.options();
        match self.request {
            Request::Open { element_size } => ByteQueue::open(name, element_size, &o),
            Request::OpenAny => ByteQueue::open_any(name, &o),
            Request::CreateOrOpen { size, element_size } => {
                // create_or_open may really create the queue (it replaces a
                // 0-byte object whose creator died): the harness keeps what
                // it asks for within MAX_OBJECT, as the objects it writes,
                // so one case never allocates gigabytes. A larger request
                // only opens what is there.
                let ips = self.items_per_slot.unwrap_or(1);
                let fits = slick_queue::Geometry::new(size, element_size, ips)
                    .is_ok_and(|g| g.segment_len() as u64 <= MAX_OBJECT);
                if fits {
                    ByteQueue::create_or_open(name, size, element_size, &o)
                } else {
                    ByteQueue::open(name, element_size, &o)
                }
            }
        }
    }
}

/// Every attach error must render a message (and an OS error must not be a
/// bounds problem in disguise).
fn check_error(e: &Error) {
    let msg = e.to_string();
    assert!(!msg.is_empty());
    if let Error::Os { op, .. } = e {
        // mmap of a real, non-empty object never fails here; anything else
        // is a bug in how we sized or validated it.
        panic!("unexpected OS error from {op}: {msg}");
    }
}

/// Runs the operations and checks every record; returns the number of
/// records checked.
fn exercise(q: &ByteQueue, path: &str, ops: &[Op], reset_check: bool) -> u32 {
    let file = std::fs::File::open(path).expect("reopen the object");
    let g = q.geometry();
    let cap = u64::from(q.capacity());
    let es = q.element_size() as usize;
    let data_offset = g.data_offset() as u64;
    let mapped = q.mapped_len().expect("a shared queue") as u64;
    assert!(mapped >= g.segment_len() as u64, "mapped {mapped} < needed {}", g.segment_len());
    assert_eq!(file.metadata().expect("fstat").len(), mapped);
    let mut checked = 0u32;
    // Bytes copied and compared so far: a case stops exercising after
    // COPY_BUDGET (48 operations of up to 16 reads of records of up to 1 MiB
    // would otherwise take minutes under the fuzzer's instrumentation; every
    // record read before that is still checked in full).
    let copied = std::cell::Cell::new(0u64);
    let check = |index: u64, len: usize, bytes: &[u8]| {
        copied.set(copied.get() + bytes.len() as u64);
        let pos = index & (cap - 1);
        assert!(len >= 1, "empty record");
        assert!(pos + len as u64 <= cap, "record at {pos} of {len} elements runs past capacity {cap}");
        assert_eq!(bytes.len(), len * es);
        let start = data_offset + pos * es as u64;
        let end = start + bytes.len() as u64;
        assert!(end <= mapped, "record bytes {start}..{end} outside the {mapped}-byte object");
        let mut want = vec![0u8; bytes.len()];
        file.read_exact_at(&mut want, start).expect("the object holds the record");
        assert!(want == bytes, "copy of record {index} differs from the object's bytes at {start}");
    };
    for op in ops {
        if copied.get() > COPY_BUDGET {
            break;
        }
        match *op {
            Op::Read { cursor, times } => {
                let mut c = cursor;
                for _ in 0..times {
                    let Some(r) = q.read(&mut c) else { break };
                    check(r.index(), r.len(), &r.to_vec());
                    let _ = r.is_overwritten();
                    checked += 1;
                }
            }
            Op::ReadShared { cursor, times } => {
                let shared = AtomicU64::new(cursor);
                for _ in 0..times {
                    let Some(r) = q.read_shared(&shared) else { break };
                    check(r.index(), r.len(), &r.to_vec());
                    checked += 1;
                }
            }
            Op::ReadLast => match q.read_last() {
                Ok(Some(r)) => {
                    check(r.index(), r.len(), &r.to_vec());
                    checked += 1;
                }
                Ok(None) => {}
                Err(e) => assert!(matches!(e, Error::ReadLastDisabled), "{e:?}"),
            },
            Op::Push { len } => {
                let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
                match q.push(&bytes) {
                    Ok(index) => {
                        let mut c = index;
                        // Our own record is readable at its index, unless a
                        // hostile reservation word wrapped the 48-bit index
                        // and reset_check rewinds the cursor.
                        match q.read(&mut c) {
                            Some(r) => {
                                let v = r.to_vec();
                                check(r.index(), r.len(), &v);
                                if r.index() == index {
                                    assert_eq!(&v[..bytes.len()], &bytes[..]);
                                }
                                checked += 1;
                            }
                            None => assert!(reset_check, "our own record at {index} is not readable"),
                        }
                    }
                    Err(e) => assert!(matches!(e, Error::TooManyElements { .. }), "{e:?}"),
                }
            }
            Op::ReservePublish { n } => match q.reserve(n) {
                Ok(index) => {
                    assert!((index & (cap - 1)) + u64::from(n) <= cap);
                    q.publish(index, n).expect("publish what was reserved");
                }
                Err(e) => assert!(matches!(e, Error::ZeroElements | Error::TooManyElements { .. }), "{e:?}"),
            },
            Op::ReadTimeoutZero { cursor } => {
                let mut c = cursor;
                if let Some(r) = q.read_timeout(&mut c, Duration::ZERO) {
                    check(r.index(), r.len(), &r.to_vec());
                    checked += 1;
                }
            }
            Op::InitialIndex => {
                let _ = q.initial_reading_index();
                let _ = (q.loss_count(), q.corrupt_count());
            }
            Op::CopyFromOffset { cursor, offset } => {
                let mut c = cursor;
                if let Some(r) = q.read(&mut c) {
                    let whole = r.to_vec();
                    check(r.index(), r.len(), &whole);
                    let mut buf = vec![0u8; whole.len() + 8];
                    let off = offset as usize % (whole.len() + 9);
                    let n = r.copy_from_offset(off, &mut buf);
                    assert_eq!(n, whole.len().saturating_sub(off));
                    assert_eq!(&buf[..n], &whole[off.min(whole.len())..]);
                    checked += 1;
                }
            }
        }
    }
    checked
}
