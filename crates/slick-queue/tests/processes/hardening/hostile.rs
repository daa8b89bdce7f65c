//! A hostile peer: a process scribbling over a live segment and its shared
//! cursor while readers in other processes read it.

use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use slick_queue::{ByteQueue, ByteRecord, Error, Options, SharedCursor};
use testkit::ShmGuard;

use super::{rec16, say, seq_of};
use crate::{ensure, finish, spawn, Kid, ES};

pub(super) fn trials() -> Vec<Trial> {
    vec![Trial::test("hostile_peer_cannot_crash_readers", hostile_peer_cannot_crash_readers)]
}

/// The roles of this file; `None` when `role` is not one of them.
pub(super) fn run_role(role: &str, a: &[String]) -> Option<Result<(), Error>> {
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    Some(match role {
        "vandal" => vandal(arg(0), arg(1), num(2)),
        "hostile_reader" => hostile_reader(arg(0), arg(1)),
        _ => return None,
    })
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// vandal NAME CURSOR SEED: writes garbage into the live segment (through
/// the file, as any process with write access can) and into the shared
/// cursor object, interleaved with honest pushes, until killed.
fn vandal(name: &str, cursor_name: &str, seed: u64) -> Result<(), Error> {
    let q = ByteQueue::open(name, ES, &Options::new())?;
    let file = std::fs::OpenOptions::new().read(true).write(true).open(format!("/dev/shm/{name}")).expect("open");
    let cursor = std::fs::OpenOptions::new().write(true).open(format!("/dev/shm/{cursor_name}")).expect("open");
    let cap = u64::from(q.capacity());
    let ips = u64::from(q.items_per_slot());
    let slots = u64::from(q.slot_count());
    let data_offset = q.geometry().data_offset() as u64;
    let data_len = cap * u64::from(q.element_size());
    let mut rng = Rng(seed | 1);
    let pick_size = |rng: &mut Rng| -> u32 {
        match rng.below(6) {
            0 => 0,
            1 => 1,
            2 => cap as u32,
            3 => cap as u32 + 1,
            4 => u32::MAX,
            _ => rng.next() as u32,
        }
    };
    let put = |off: u64, bytes: &[u8]| {
        let _ = file.write_all_at(bytes, off);
    };
    for round in 0u64.. {
        let slot = rng.below(slots);
        let slot_off = 64 + 16 * slot;
        let lap = rng.below(1 << 16);
        match rng.below(11) {
            0 => put(0, &(if rng.below(2) == 0 { rng.next() } else { rng.below(1 << 20) << 16 }).to_le_bytes()),
            1 => put(16, &(if rng.below(2) == 0 { rng.next() } else { lap * cap + slot * ips }).to_le_bytes()),
            // A plausible lapping record with a hostile size.
            2 | 3 => {
                put(slot_off + 8, &pick_size(&mut rng).to_le_bytes());
                put(slot_off, &(lap * cap + slot * ips).to_le_bytes());
            }
            4 => {
                put(slot_off + 8, &(rng.next() as u32).to_le_bytes());
                put(slot_off, &rng.next().to_le_bytes());
            }
            // A torn record: some bytes of the data array.
            5 => {
                let at = rng.below(data_len);
                let n = rng.below(64).min(data_len - at) as usize;
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                put(data_offset + at, &bytes);
            }
            6 => {
                let _ = q.push(&rng.next().to_le_bytes());
            }
            7 => put(slot_off, &u64::MAX.to_le_bytes()),
            // The header's geometry and state (attached readers never look again).
            8 => put(8 + 4 * rng.below(2), &(rng.next() as u32).to_le_bytes()),
            // A wrap marker from some lap, anywhere.
            9 => {
                put(slot_off + 8, &pick_size(&mut rng).to_le_bytes());
                put(slot_off, &(lap * cap).to_le_bytes());
            }
            _ => {
                let _ = cursor.write_all_at(&(if rng.below(2) == 0 { rng.next() } else { lap * cap }).to_le_bytes(), 0);
            }
        }
        if round == 1000 {
            say("vandal started");
        }
    }
    Ok(())
}

/// Checks what a record handle says about itself against the ring.
fn check_record(r: &ByteRecord<'_>, cap: u64, es: usize) -> Result<(), String> {
    let (pos, len) = (r.index() & (cap - 1), r.len());
    if r.is_empty() || len == 0 || pos + len as u64 > cap {
        return Err(format!("record {} of {} elements runs past capacity {cap}", r.index(), r.len()));
    }
    let v = r.to_vec();
    if v.len() != r.len() * es || r.byte_len() != v.len() {
        return Err(format!("copy of {} bytes for {} elements", v.len(), r.len()));
    }
    let mut tail = vec![0u8; 8];
    let n = r.copy_from_offset(v.len().saturating_sub(3), &mut tail);
    if n != v.len().min(3) {
        return Err(format!("copy_from_offset returned {n}"));
    }
    let _ = r.is_overwritten();
    Ok(())
}

/// hostile_reader NAME CURSOR: reads with a private cursor, the shared
/// cursor and read_last while a vandal writes garbage, checking every
/// record handle, until it has both counted a loss and a corrupt record and
/// done at least 20000 operations (or 90 s passed). Reports the counters.
fn hostile_reader(name: &str, cursor_name: &str) -> Result<(), Error> {
    let q = ByteQueue::open(name, ES, &Options::new())?;
    let shared = SharedCursor::open(cursor_name)?;
    let cap = u64::from(q.capacity());
    let es = q.element_size() as usize;
    say("attached");
    let deadline = Instant::now() + Duration::from_secs(90);
    let (mut ops, mut records, mut last_records) = (0u64, 0u64, 0u64);
    let mut cursor = 0u64;
    while (ops < 20_000 || q.loss_count() == 0 || q.corrupt_count() == 0) && Instant::now() < deadline {
        ops += 1;
        let result = match ops % 4 {
            0 | 1 => q.read(&mut cursor).map(|r| check_record(&r, cap, es)),
            2 => q.read_shared(&shared).map(|r| check_record(&r, cap, es)),
            _ => match q.read_last() {
                Ok(Some(r)) => {
                    last_records += 1;
                    Some(check_record(&r, cap, es))
                }
                Ok(None) => None,
                Err(e) => Some(Err(format!("read_last: {e}"))),
            },
        };
        match result {
            Some(Ok(())) => records += 1,
            Some(Err(why)) => {
                say(&format!("violation {why}"));
                std::process::exit(5);
            }
            None => {}
        }
        if ops % 64 == 0 {
            std::thread::yield_now();
        }
        if ops % 512 == 0 {
            // Garbage may have sent the private cursor far away: come back.
            cursor = q.initial_reading_index().wrapping_sub(cap);
        }
    }
    say(&format!(
        "ops={ops} records={records} read_last={last_records} loss={} corrupt={}",
        q.loss_count(),
        q.corrupt_count()
    ));
    Ok(())
}

/// A vandal process scribbles over a live segment (header words, control
/// slots with plausible and absurd indices and sizes, torn data, the shared
/// cursor object) while two reader processes read it with private cursors,
/// the shared cursor and read_last. The readers check every record handle
/// they get, never crash, and report both lapping losses and corrupt sizes
/// through loss_count() and corrupt_count(). Afterwards the vandal is
/// SIGKILLed, and a reset() makes the queue usable again.
fn hostile_peer_cannot_crash_readers() -> Result<(), Failed> {
    let mut g = ShmGuard::new("hostile");
    let cursor_name = g.also("cursor");
    let q = ByteQueue::create_or_open(&g.name, 64, ES, &Options::new())?;
    let _cursor = SharedCursor::create_or_open(&cursor_name, &Options::new())?;
    for seq in 0..40 {
        q.push(&rec16(seq))?;
    }
    let mut readers: Vec<Kid> = (0..2).map(|_| spawn("hostile_reader", &[&g.name, &cursor_name])).collect();
    for r in &mut readers {
        r.wait_line("attached", Duration::from_secs(30))?;
    }
    let seed = std::process::id().to_string();
    let mut vandal = spawn("vandal", &[&g.name, &cursor_name, &seed]);
    vandal.wait_line("vandal started", Duration::from_secs(30))?;
    let mut reports = Vec::new();
    for r in readers {
        let (code, lines) = finish(r, Duration::from_secs(180))?;
        ensure(code == 0, format!("reader failed ({code}): {lines:?}"))?;
        reports.push(lines.last().cloned().unwrap_or_default());
    }
    vandal.sigkill()?;
    for line in &reports {
        let field = |k: &str| -> u64 {
            line.split(' ').find_map(|kv| kv.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        ensure(field("ops=") >= 20_000 && field("records=") > 0, line.clone())?;
        ensure(field("loss=") > 0 && field("corrupt=") > 0, format!("counters not reported: {line}"))?;
    }
    eprintln!("hostile readers: {reports:?}");
    // The garbage stays until someone resets the queue; then it works again.
    q.reset();
    let mut c = q.initial_reading_index();
    ensure(c == 0, "reset rewinds")?;
    q.push(&rec16(99))?;
    ensure(q.read(&mut c).map(|r| seq_of(&r)) == Some(99), "usable after reset")?;
    Ok(())
}
