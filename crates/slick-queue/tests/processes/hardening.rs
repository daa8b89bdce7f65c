//! Hardening across real processes: dead producers, creators and consumers
//! (killed with SIGKILL), a hostile peer scribbling over a live segment,
//! permissions and creation modes, and a checksummed soak with lapping.
//!
//! Same harness as the rest of `processes.rs`: the test binary re-executes
//! itself with `SQ_ROLE=<role>`; the roles of this file are in [`run_role`].

use std::collections::{BTreeSet, HashMap};
use std::io::Write as _;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use slick_queue::{ByteQueue, ByteRecord, Error, Options, SharedCursor};

use super::common::ShmGuard;
use super::{ensure, finish, spawn, spawn_env, Kid, ES};

pub fn trials() -> Vec<Trial> {
    vec![
        Trial::test("dead_producer_hole_is_skipped_after_one_lap", dead_producer_hole_is_skipped_after_one_lap),
        Trial::test("dead_producer_hole_multi_element_records", dead_producer_hole_multi_element_records),
        needs_failpoints(Trial::test("dead_creator_after_claiming_init_state", dead_creator_after_claiming_init_state)),
        needs_failpoints(Trial::test("dead_creator_before_sizing_the_object", dead_creator_before_sizing_the_object)),
        needs_failpoints(Trial::test("dead_creator_after_sizing_the_object", dead_creator_after_sizing_the_object)),
        Trial::test("dead_consumer_holding_a_shared_cursor", dead_consumer_holding_a_shared_cursor),
        Trial::test("hostile_peer_cannot_crash_readers", hostile_peer_cannot_crash_readers),
        Trial::test("permission_denied_is_an_error_not_a_crash", permission_denied_is_an_error_not_a_crash),
        Trial::test("created_mode_is_exact_whatever_the_umask", created_mode_is_exact_whatever_the_umask),
        Trial::test("soak_with_checksums_and_lapping", soak_with_checksums_and_lapping),
    ]
}

/// The dead-creator tests stop a child inside the library's attach code with
/// a failpoint, which only a build with the `failpoints` feature has. In the
/// repository the crate's self dev-dependency turns it on; `cargo package`
/// drops that dev-dependency, so in a packaged copy these tests are marked
/// ignored (they cannot stop the child where they must).
fn needs_failpoints(trial: Trial) -> Trial {
    trial.with_ignored_flag(!cfg!(feature = "failpoints"))
}

// ---------------------------------------------------------------- roles

/// The roles of this file; `None` when `role` is not one of them.
pub fn run_role(role: &str, a: &[String]) -> Option<i32> {
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    let result: Result<(), Error> = match role {
        // reserve_hang NAME N: reserve N elements, say where, never publish.
        "reserve_hang" => ByteQueue::open(arg(0), ES, &Options::new()).map(|q| {
            let index = q.reserve(num(1) as u32).expect("reserve");
            say(&format!("reserved {index}"));
            hang();
        }),
        // create NAME SIZE: create-or-open (a failpoint may stop it inside).
        "create" => ByteQueue::create_or_open(arg(0), num(1) as u32, ES, &Options::new()).map(|q| {
            say(&format!("returned created={}", q.is_creator()));
        }),
        // steal_hold NAME CURSOR K: claim K records, then claim one more and
        // hold it (never finish processing it) until killed.
        "steal_hold" => ByteQueue::open(arg(0), ES, &Options::new()).and_then(|q| {
            let cursor = SharedCursor::open(arg(1))?;
            let mut rec = [0u8; 16];
            for i in 0..=num(2) {
                let Some(r) = q.read_shared_timeout(&cursor, Duration::from_secs(60)) else {
                    say("starved");
                    return Ok(());
                };
                r.copy_to(&mut rec);
                let seq = u64::from_le_bytes(rec[..8].try_into().unwrap_or_default());
                say(&format!("{} {seq}", if i == num(2) { "holding" } else { "claimed" }));
            }
            hang();
        }),
        // steal_until NAME CURSOR END: claim until the cursor reaches END.
        "steal_until" => ByteQueue::open(arg(0), ES, &Options::new()).and_then(|q| {
            let cursor = SharedCursor::open(arg(1))?;
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut rec = [0u8; 16];
            say("ready");
            while cursor.load(Ordering::Acquire) < num(2) && Instant::now() < deadline {
                if let Some(r) = q.read_shared_timeout(&cursor, Duration::from_millis(20)) {
                    r.copy_to(&mut rec);
                    say(&format!("claimed {}", u64::from_le_bytes(rec[..8].try_into().unwrap_or_default())));
                }
            }
            Ok(())
        }),
        "vandal" => vandal(arg(0), arg(1), num(2)),
        "hostile_reader" => hostile_reader(arg(0), arg(1)),
        // as_nobody NAME...: drop root to nobody, try each name, report.
        "as_nobody" => {
            drop_privileges();
            // Permission checks with the opt-in to other users' objects
            // (`default=`: what a plain open says).
            let foreign = Options::new().allow_foreign_owner(true);
            for name in a {
                let default = ByteQueue::open(name, ES, &Options::new()).err();
                let default_create = ByteQueue::create_or_open(name, 64, ES, &Options::new()).err();
                let default_cursor = SharedCursor::open(name).err();
                let open = ByteQueue::open(name, ES, &foreign).err();
                let create = ByteQueue::create_or_open(name, 64, ES, &foreign).err();
                let cursor = SharedCursor::open_with(name, &foreign).err();
                let remove = slick_queue::remove(name).err();
                let inspect = slick_queue::inspect::segment_info(name).err();
                say(&format!(
                    "{name} default={}/{}/{} open={} create={} cursor={} remove={} inspect={}",
                    kind(default.as_ref()),
                    kind(default_create.as_ref()),
                    kind(default_cursor.as_ref()),
                    kind(open.as_ref()),
                    kind(create.as_ref()),
                    kind(cursor.as_ref()),
                    kind(remove.as_ref()),
                    kind(inspect.as_ref())
                ));
            }
            Ok(())
        }
        // create_umask NAME MODE UMASK [cursor]: create with MODE under UMASK.
        "create_umask" => {
            let mode = u32::from_str_radix(arg(1), 8).unwrap_or(0);
            let mask = u32::from_str_radix(arg(2), 8).unwrap_or(0);
            rustix::process::umask(rustix::fs::Mode::from_bits_truncate(mask));
            let opts = if mode == 0 { Options::new() } else { Options::new().mode(mode) };
            if arg(3) == "cursor" {
                SharedCursor::create_or_open(arg(0), &opts).map(|_| say("created"))
            } else {
                ByteQueue::create_or_open(arg(0), 8, ES, &opts).map(|_| say("created"))
            }
        }
        "soak_produce" => soak_produce(arg(0), num(1), num(2)),
        "soak_consume" => soak_consume(arg(0), arg(1), arg(2), arg(3)),
        _ => return None,
    };
    Some(match result {
        Ok(()) => 0,
        Err(e) => {
            say(&format!("error={e}"));
            3
        }
    })
}

/// Prints a line and flushes it (the parent waits for some of them).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Stops here until killed (gives up after 10 minutes, in case the test
/// that should kill us died itself).
fn hang() -> ! {
    std::thread::sleep(Duration::from_secs(600));
    std::process::exit(4)
}

fn kind(e: Option<&Error>) -> &'static str {
    match e {
        None => "ok",
        Some(Error::PermissionDenied { .. }) => "PermissionDenied",
        Some(Error::ForeignOwner { .. }) => "ForeignOwner",
        Some(Error::NotFound { .. }) => "NotFound",
        Some(Error::InitTimeout { .. }) => "InitTimeout",
        Some(Error::Truncated { .. }) => "Truncated",
        Some(Error::Os { .. }) => "Os",
        Some(_) => "other",
    }
}

/// root -> nobody/nogroup with no supplementary groups (this process is
/// single-threaded here, so the per-thread Linux calls cover all of it).
fn drop_privileges() {
    use rustix::process::{Gid, Uid};
    let id = |file: &str, who: &str| -> u32 {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    let mut f = l.split(':');
                    (f.next() == Some(who)).then(|| f.nth(1).and_then(|v| v.parse().ok())).flatten()
                })
            })
            .unwrap_or(65534)
    };
    let (uid, gid) = (id("/etc/passwd", "nobody"), id("/etc/group", "nogroup"));
    rustix::thread::set_thread_groups(&[]).expect("setgroups");
    let gid = Gid::from_raw(gid);
    rustix::thread::set_thread_res_gid(gid, gid, gid).expect("setresgid");
    let uid = Uid::from_raw(uid);
    rustix::thread::set_thread_res_uid(uid, uid, uid).expect("setresuid");
    assert!(!rustix::process::geteuid().is_root());
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

// ------------------------------------------------------------ soak roles

/// Soak records: K elements of 16 bytes, `[id][seq][index][filler 16][checksum]`.
const SOAK_K: u32 = 3;
const SOAK_CAP: u32 = 1024;

fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn soak_record(id: u64, seq: u64, index: u64) -> [u8; 48] {
    let mut b = [0u8; 48];
    b[0..8].copy_from_slice(&id.to_le_bytes());
    b[8..16].copy_from_slice(&seq.to_le_bytes());
    b[16..24].copy_from_slice(&index.to_le_bytes());
    b[24..32].copy_from_slice(&mix(id ^ (seq << 8)).to_le_bytes());
    b[32..40].copy_from_slice(&mix(seq ^ (index << 3)).to_le_bytes());
    let sum = checksum(&b[..40]);
    b[40..48].copy_from_slice(&sum.to_le_bytes());
    b
}

fn checksum(bytes: &[u8]) -> u64 {
    bytes.chunks(8).fold(0x5EED, |h, w| mix(h ^ u64::from_le_bytes(w.try_into().unwrap_or_default())))
}

/// soak_produce NAME ID MILLIS: publishes K-element records for MILLIS ms.
fn soak_produce(name: &str, id: u64, millis: u64) -> Result<(), Error> {
    let q = ByteQueue::open(name, ES, &Options::new())?;
    let end = Instant::now() + Duration::from_millis(millis);
    let mut seq = 0u64;
    while Instant::now() < end {
        for _ in 0..64 {
            let index = q.reserve(SOAK_K)?;
            q.write(index, &soak_record(id, seq, index))?;
            q.publish(index, SOAK_K)?;
            seq += 1;
        }
        std::thread::yield_now();
    }
    say(&format!("produced id={id} records={seq} overrun={}", q.overrun_count()));
    Ok(())
}

/// soak_consume NAME MAILBOX CURSOR|- OUT: a broadcast consumer (private
/// cursor from 0) or, with a cursor name, a work-stealing one. Stops when
/// the mailbox holds the final write index + 1 and its cursor reached it.
/// Checks every record it accepts (`is_overwritten()` false): checksum,
/// stored index, per-producer order. A work-stealing consumer writes the
/// index of every record it claimed to OUT.
fn soak_consume(name: &str, mailbox: &str, cursor_name: &str, out: &str) -> Result<(), Error> {
    let q = ByteQueue::open(name, ES, &Options::new())?;
    let mailbox = SharedCursor::open(mailbox)?;
    let shared = if cursor_name == "-" { None } else { Some(SharedCursor::open(cursor_name)?) };
    let mut private = 0u64;
    let mut claimed: Vec<u8> = Vec::new();
    let (mut accepted, mut overwritten, mut bad, mut stale) = (0u64, 0u64, 0u64, 0u64);
    let mut next_seq: HashMap<u64, u64> = HashMap::new();
    let mut buf = [0u8; 48];
    let deadline = Instant::now() + Duration::from_secs(600);
    say("ready");
    loop {
        let rec = match &shared {
            Some(c) => q.read_shared(c),
            None => q.read(&mut private),
        };
        let Some(r) = rec else {
            let end = mailbox.load(Ordering::Acquire);
            let at = shared.as_ref().map_or(private, |c| c.load(Ordering::Acquire));
            if (end != 0 && at >= end - 1) || Instant::now() > deadline {
                break;
            }
            std::thread::yield_now();
            continue;
        };
        let n = r.copy_to(&mut buf);
        if shared.is_some() {
            claimed.extend_from_slice(&r.index().to_le_bytes());
        }
        if r.is_overwritten() {
            overwritten += 1;
            continue;
        }
        accepted += 1;
        let word = |i: usize| u64::from_le_bytes(buf[8 * i..8 * i + 8].try_into().unwrap_or_default());
        let (id, seq, index) = (word(0), word(1), word(2));
        let whole = n == 48 && r.len() == SOAK_K as usize && checksum(&buf[..40]) == word(5);
        if whole
            && index < r.index()
            && (r.index() - index) % u64::from(SOAK_CAP) == 0
            && soak_record(id, seq, index) == buf
        {
            // The residual window of DESIGN.md "Failure modes": a producer of
            // an older lap, preempted between its lap check and its stores,
            // landed its whole record on this newer one between our copy
            // and its own publish. Counted apart; any other damage fails.
            stale += 1;
            continue;
        }
        let next = next_seq.entry(id).or_insert(0);
        if !whole || index != r.index() || seq < *next {
            bad += 1;
            if bad < 5 {
                let hex = |b: &[u8]| -> Vec<String> {
                    b.chunks(8)
                        .map(|w| format!("{:016x}", u64::from_le_bytes(w.try_into().unwrap_or_default())))
                        .collect()
                };
                say(&format!(
                    "bad record at {} ({}): len {} id {id} seq {seq} (next {next}) index {index}, write index now {}: \
                     got {:?} want {:?}",
                    r.index(),
                    if shared.is_some() { "shared" } else { "private" },
                    r.len(),
                    q.initial_reading_index(),
                    hex(&buf),
                    hex(&soak_record(id, seq, index))
                ));
            }
        }
        *next = seq + 1;
    }
    if shared.is_some() {
        std::fs::write(out, &claimed).expect("write claimed indices");
    }
    say(&format!(
        "accepted={accepted} overwritten={overwritten} loss={} corrupt={} bad={bad} stale={stale} producers={}",
        q.loss_count(),
        q.corrupt_count(),
        next_seq.len()
    ));
    Ok(())
}

// ---------------------------------------------------------------- tests

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T, Failed> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: not within {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// One 16-byte record `[seq][7]` of the dead-process tests.
fn rec16(seq: u64) -> [u8; 16] {
    let mut rec = [0u8; 16];
    rec[..8].copy_from_slice(&seq.to_le_bytes());
    rec[8..].copy_from_slice(&7u64.to_le_bytes());
    rec
}

fn seq_of(r: &ByteRecord<'_>) -> u64 {
    let mut b = [0u8; 8];
    r.copy_to(&mut b);
    u64::from_le_bytes(b)
}

/// A producer process reserves k elements and is SIGKILLed before it
/// publishes them. Readers (a private cursor, a shared cursor) stall at the
/// hole while the ring fills; the record that laps the hole's position lets
/// them skip it, with exactly one lap (capacity elements) counted as lost:
/// the hole and the records published after it that were overwritten while
/// they waited. Every record is then read or counted.
fn dead_producer_hole(cap: u32, k: u32) -> Result<(), Failed> {
    let g = ShmGuard::new(&format!("hole{k}"));
    let q = ByteQueue::create_or_open(&g.name, cap, ES, &Options::new().items_per_slot(1))?;
    let reader = ByteQueue::open(&g.name, ES, &Options::new())?;
    let stealer = ByteQueue::open(&g.name, ES, &Options::new())?;
    let push = |seq: u64| -> Result<u64, Error> {
        let i = q.reserve(k)?;
        q.write(i, &rec16(seq))?;
        q.publish(i, k)?;
        Ok(i)
    };
    ensure(push(0)? == 0, "first record at 0")?;
    let mut kid = spawn("reserve_hang", &[&g.name, &k.to_string()]);
    let line = kid.wait_line("reserved ", Duration::from_secs(30))?;
    ensure(line == format!("reserved {k}"), line.clone())?;
    kid.sigkill()?;

    let mut cursor = 0u64;
    let shared = std::sync::atomic::AtomicU64::new(0);
    ensure(reader.read(&mut cursor).map(|r| seq_of(&r)) == Some(0), "record 0")?;
    ensure(stealer.read_shared(&shared).map(|r| seq_of(&r)) == Some(0), "record 0 (shared)")?;
    let hole = u64::from(k);
    // Records 1.. fill the rest of the ring after the hole (the last one
    // overwrites record 0): they are published, but a reader cannot pass the
    // hole, so it sees nothing.
    let per_lap = u64::from(cap / k);
    for seq in 1..per_lap {
        let i = push(seq)?;
        ensure(i == (seq + 1) * u64::from(k), format!("record {seq} at {i}"))?;
        ensure(reader.read(&mut cursor).is_none() && cursor == hole, format!("reader stalls at the hole ({cursor})"))?;
        ensure(stealer.read_shared(&shared).is_none(), "shared reader stalls at the hole")?;
    }
    ensure(reader.loss_count() == 0 && stealer.loss_count() == 0, "nothing counted yet")?;
    // The record that lands on the hole's position, one lap later.
    let lap = push(per_lap)?;
    ensure(lap == hole + u64::from(cap), format!("lapping record at {lap}"))?;
    let r = reader.read(&mut cursor).ok_or("the reader skips the hole")?;
    ensure((r.index(), seq_of(&r)) == (lap, per_lap), format!("got {} {}", r.index(), seq_of(&r)))?;
    ensure(reader.loss_count() == u64::from(cap), format!("loss {} != one lap {cap}", reader.loss_count()))?;
    let r = stealer.read_shared(&shared).ok_or("the shared reader skips the hole")?;
    ensure(
        r.index() == lap && stealer.loss_count() == u64::from(cap),
        format!("shared loss {}", stealer.loss_count()),
    )?;
    // Accounting: records read (0 and the lapping one) plus lost elements
    // cover every element reserved up to the reader's cursor.
    ensure(cursor == lap + u64::from(k), format!("cursor {cursor}"))?;
    ensure(2 * u64::from(k) + reader.loss_count() == cursor, "read + lost == reserved")?;
    // From here on, reading is normal again.
    let next = push(per_lap + 1)?;
    ensure(reader.read(&mut cursor).map(|r| r.index()) == Some(next), "reads go on")?;
    ensure(reader.loss_count() == u64::from(cap), "no further loss")?;
    // read_last never cared about the hole.
    ensure(reader.read_last()?.map(|r| r.index()) == Some(next), "read_last sees the newest record")?;
    Ok(())
}

fn dead_producer_hole_is_skipped_after_one_lap() -> Result<(), Failed> {
    dead_producer_hole(16, 1)
}

fn dead_producer_hole_multi_element_records() -> Result<(), Failed> {
    dead_producer_hole(32, 4)
}

fn init_state(g: &ShmGuard) -> Option<u32> {
    let b = std::fs::read(g.path()).ok()?;
    (b.len() >= 64).then(|| super::common::u32_at(&b, 48))
}

/// A creator stopped by the `attach-claimed` failpoint (the library's own
/// code, right after its CAS of init_state 0 -> 2) and SIGKILLed there:
/// attachers time out with an error that names the state and the remedy;
/// removing the name recovers.
fn dead_creator_after_claiming_init_state() -> Result<(), Failed> {
    let g = ShmGuard::new("deadinit");
    let mut kid = spawn_env("create", &[&g.name, "64"], &[("SLICK_QUEUE_FAILPOINT", "attach-claimed")]);
    wait_for("init_state 2", Duration::from_secs(30), || (init_state(&g) == Some(2)).then_some(()))?;
    let lines = kid.sigkill()?;
    ensure(lines.is_empty(), format!("the creator returned: {lines:?}"))?;
    let b = std::fs::read(g.path())?;
    ensure(super::common::u32_at(&b, 24) == 0, "it died before writing the header")?;
    let quick = Options::new().init_timeout(Duration::from_millis(300));
    for e in [ByteQueue::open(&g.name, ES, &quick).err(), ByteQueue::create_or_open(&g.name, 64, ES, &quick).err()] {
        let e = e.ok_or("attached to a half-initialised segment")?;
        ensure(matches!(e, Error::InitTimeout { state: 2, .. }), format!("{e:?}"))?;
        ensure(e.to_string().contains("remove the name and create it again"), e.to_string())?;
    }
    ensure(slick_queue::remove(&g.name)?, "removed")?;
    let q = ByteQueue::create_or_open(&g.name, 64, ES, &quick)?;
    ensure(q.is_creator(), "a fresh creator")?;
    q.push(&rec16(1))?;
    let mut c = 0;
    ensure(ByteQueue::open(&g.name, ES, &quick)?.read(&mut c).map(|r| seq_of(&r)) == Some(1), "usable")?;
    Ok(())
}

/// A creator killed right after `shm_open(O_CREAT|O_EXCL)`, before
/// `ftruncate`: the object is empty; openers wait for it to be sized until
/// their deadline and fail with `Truncated`; nobody else truncates it;
/// removing the name recovers.
fn dead_creator_before_sizing_the_object() -> Result<(), Failed> {
    let g = ShmGuard::new("deadsize");
    let mut kid = spawn_env("create", &[&g.name, "64"], &[("SLICK_QUEUE_FAILPOINT", "attach-created")]);
    wait_for("the object", Duration::from_secs(30), || g.path().exists().then_some(()))?;
    kid.sigkill()?;
    let quick = Options::new().init_timeout(Duration::from_millis(200));
    let e = ByteQueue::open(&g.name, ES, &quick).err().ok_or("attached to an empty object")?;
    ensure(matches!(e, Error::Truncated { len: 0, needed: 64, .. }), format!("{e:?}"))?;
    ensure(std::fs::metadata(g.path())?.len() == 0, "still empty: an opener never sizes an object")?;
    // Create-or-open waits the init timeout for the object to be sized,
    // then treats it as abandoned: it replaces it and creates the queue.
    let started = Instant::now();
    let q = ByteQueue::create_or_open(&g.name, 64, ES, &quick)?;
    ensure(q.is_creator(), "create_or_open did not recreate the abandoned object")?;
    ensure(started.elapsed() >= Duration::from_millis(200), "replaced before the init timeout")?;
    q.push(&[7u8; 16])?;
    let other = ByteQueue::open(&g.name, ES, &quick)?;
    let mut c = 0;
    ensure(other.read(&mut c).is_some(), "the new queue is the one under the name")?;
    Ok(())
}

/// A creator killed after sizing the object, before its init_state CAS:
/// an open-only attacher times out (state 0), but the next create-or-open
/// wins the CAS and initializes the zeroed object itself: no removal needed.
fn dead_creator_after_sizing_the_object() -> Result<(), Failed> {
    let g = ShmGuard::new("deadsized");
    let mut kid = spawn_env("create", &[&g.name, "64"], &[("SLICK_QUEUE_FAILPOINT", "attach-sized")]);
    let want = slick_queue::Geometry::new(64, ES, 1)?.segment_len() as u64;
    wait_for("the sized object", Duration::from_secs(30), || {
        (std::fs::metadata(g.path()).map(|m| m.len()).ok() == Some(want)).then_some(())
    })?;
    kid.sigkill()?;
    let quick = Options::new().init_timeout(Duration::from_millis(200));
    let e = ByteQueue::open(&g.name, ES, &quick).err().ok_or("opened an uninitialised object")?;
    ensure(matches!(e, Error::InitTimeout { state: 0, .. }), format!("{e:?}"))?;
    let q = ByteQueue::create_or_open(&g.name, 64, ES, &quick)?;
    ensure(q.is_creator(), "the next create-or-open initializes it")?;
    ensure(ByteQueue::open(&g.name, ES, &quick).is_ok(), "and it opens")?;
    Ok(())
}

/// A work-stealing consumer process claims records through the shared
/// cursor object, then is SIGKILLed while holding one it claimed (between
/// the claim and finishing its work). The others carry on and claim every
/// other record exactly once; only the records the dead one claimed are
/// gone (the cursor has no owner to wait for, so nothing stalls).
fn dead_consumer_holding_a_shared_cursor() -> Result<(), Failed> {
    let mut g = ShmGuard::new("deadsteal");
    let cursor_name = g.also("cursor");
    const N: u64 = 3000;
    let q = ByteQueue::create_or_open(&g.name, 1 << 13, ES, &Options::new())?;
    let cursor = SharedCursor::create_or_open(&cursor_name, &Options::new())?;
    let end = N.to_string();
    let mut others: Vec<Kid> = (0..2).map(|_| spawn("steal_until", &[&g.name, &cursor_name, &end])).collect();
    for k in &mut others {
        k.wait_line("ready", Duration::from_secs(30))?;
    }
    let mut holder = spawn("steal_hold", &[&g.name, &cursor_name, "3"]);
    let mut seq = 0u64;
    let mut held = None;
    // Publish in small batches until the holder reports the record it holds.
    while held.is_none() && seq < N / 2 {
        for _ in 0..5 {
            q.push(&rec16(seq))?;
            seq += 1;
        }
        if let Ok(line) = holder.wait_line("holding ", Duration::from_millis(50)) {
            held = Some(line);
        }
    }
    let held = match held {
        Some(h) => h,
        None => holder.wait_line("holding ", Duration::from_secs(60))?,
    };
    let holder_lines = holder.sigkill()?;
    for s in seq..N {
        q.push(&rec16(s))?;
    }
    let mut seen = BTreeSet::new();
    let mut dead_claims = 0;
    for l in holder_lines.iter() {
        let s: u64 = l.rsplit(' ').next().and_then(|v| v.parse().ok()).ok_or("bad line")?;
        ensure(seen.insert(s), format!("record {s} claimed twice"))?;
        dead_claims += 1;
    }
    ensure(dead_claims == 4 && holder_lines.last() == Some(&held), format!("holder said {holder_lines:?}"))?;
    for k in others {
        let (code, lines) = finish(k, Duration::from_secs(120))?;
        ensure(code == 0, format!("consumer failed: {:?}", lines.last()))?;
        for l in lines.iter().filter(|l| l.starts_with("claimed ")) {
            let s: u64 = l[8..].parse().map_err(|_| "bad line")?;
            ensure(seen.insert(s), format!("record {s} claimed twice"))?;
        }
    }
    ensure(seen.len() as u64 == N, format!("{} of {N} records claimed", seen.len()))?;
    ensure(cursor.load(Ordering::Acquire) == N, "the cursor reached the end")?;
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

/// Objects the current user may not open give `PermissionDenied`, never a
/// crash. As root (CI), a child drops to nobody:nogroup and tries root's
/// objects of mode 0600 (the default), 0644 and 0666. As a normal user,
/// an object of mode 0000 of our own stands in (root would bypass it).
fn permission_denied_is_an_error_not_a_crash() -> Result<(), Failed> {
    let mut g = ShmGuard::new("perm");
    if !rustix::process::geteuid().is_root() {
        let _q = ByteQueue::create_or_open(&g.name, 64, ES, &Options::new().mode(0))?;
        let e = ByteQueue::open(&g.name, ES, &Options::new()).err().ok_or("opened a mode 0000 object")?;
        ensure(matches!(e, Error::PermissionDenied { .. }), format!("{e:?}"))?;
        ensure(e.to_string().contains("permission denied"), e.to_string())?;
        return Ok(());
    }
    let names: Vec<String> = ["600", "644", "666"].iter().map(|m| g.also(m)).collect();
    let _queues = names
        .iter()
        .zip([0o600, 0o644, 0o666])
        .map(|(n, mode)| ByteQueue::create_or_open(n, 64, ES, &Options::new().mode(mode)))
        .collect::<Result<Vec<_>, _>>()?;
    let args: Vec<&str> = names.iter().map(String::as_str).collect();
    let (code, lines) = finish(spawn("as_nobody", &args), Duration::from_secs(60))?;
    ensure(code == 0 && lines.len() == 3, format!("{code} {lines:?}"))?;
    let denied = "default=PermissionDenied/PermissionDenied/PermissionDenied \
                  open=PermissionDenied create=PermissionDenied cursor=PermissionDenied";
    // /dev/shm is sticky: nobody may not unlink root's objects.
    ensure(lines[0] == format!("{} {denied} remove=PermissionDenied inspect=PermissionDenied", names[0]), &lines[0])?;
    ensure(lines[1] == format!("{} {denied} remove=PermissionDenied inspect=ok", names[1]), &lines[1])?;
    // 0666 (the C++ peer's default without a umask): the OS lets anyone in,
    // but another user's object is refused (ForeignOwner: it may be a
    // squatter's) unless the caller opts in with allow_foreign_owner.
    ensure(
        lines[2]
            == format!(
                "{} default=ForeignOwner/ForeignOwner/ForeignOwner open=ok create=ok cursor=ok \
                 remove=PermissionDenied inspect=ok",
                names[2]
            ),
        &lines[2],
    )?;
    for n in &names {
        ensure(std::path::Path::new(&format!("/dev/shm/{n}")).exists(), "nothing was removed")?;
    }
    Ok(())
}

/// The mode of a created queue or cursor object is exactly what the
/// options say (default 0600), whatever the creating process's umask;
/// checked with fstat on the object.
fn created_mode_is_exact_whatever_the_umask() -> Result<(), Failed> {
    let mut g = ShmGuard::new("umask");
    for (i, (mode, umask, what)) in [
        ("0", "077", "queue"),
        ("0", "000", "queue"),
        ("666", "022", "queue"),
        ("640", "027", "queue"),
        ("604", "777", "queue"),
        ("0", "022", "cursor"),
        ("660", "077", "cursor"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = g.also(&i.to_string());
        let (code, lines) = finish(spawn("create_umask", &[&name, mode, umask, what]), Duration::from_secs(30))?;
        ensure(code == 0 && lines == ["created"], format!("{code} {lines:?}"))?;
        let file = std::fs::File::open(format!("/dev/shm/{name}"))?;
        let got = file.metadata()?.permissions().mode() & 0o7777;
        let want = if mode == "0" { slick_queue::DEFAULT_MODE } else { u32::from_str_radix(mode, 8)? };
        ensure(got == want, format!("{what} mode {mode} under umask {umask}: got {got:o}, want {want:o}"))?;
    }
    Ok(())
}

/// Several producer processes and consumer processes of both kinds on a
/// queue small enough to be lapped, with checksummed records of a fixed
/// length K = 3 elements in a ring of 1024 (341 records a lap, 1 unused
/// position, so wrap markers are exercised too). `SLICK_SOAK_SECS` sets
/// how long producers run (default 4 s).
///
/// * Every record a consumer accepts (`is_overwritten()` false) has a valid
///   checksum, the index it was published at, and comes after the previous
///   record of its producer.
/// * Nothing is lost silently: with fixed-length records every lap holds the
///   same 341 records and a reader's loss is whole laps, so for each
///   broadcast consumer `accepted + overwritten + loss / 1024 * 341` is the
///   number of records published, exactly; for the work-stealing consumers
///   the same sum over all of them, and no record is claimed twice.
fn soak_with_checksums_and_lapping() -> Result<(), Failed> {
    let secs: u64 = std::env::var("SLICK_SOAK_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(4);
    let mut total_stale = 0u64;
    let mut g = ShmGuard::new("soak");
    let cursor_name = g.also("cursor");
    let mailbox_name = g.also("mailbox");
    let dir = std::env::temp_dir().join(format!("sq_soak_{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let q = ByteQueue::create_or_open(&g.name, SOAK_CAP, ES, &Options::new())?;
    let mailbox = SharedCursor::create_or_open(&mailbox_name, &Options::new())?;
    let _cursor = SharedCursor::create_or_open(&cursor_name, &Options::new())?;
    let outs: Vec<String> = (0..2).map(|i| dir.join(format!("steal{i}")).display().to_string()).collect();
    let mut consumers: Vec<(Kid, bool)> = Vec::new();
    for _ in 0..2 {
        consumers.push((spawn("soak_consume", &[&g.name, &mailbox_name, "-", "-"]), false));
    }
    for out in &outs {
        consumers.push((spawn("soak_consume", &[&g.name, &mailbox_name, &cursor_name, out]), true));
    }
    for (k, _) in &mut consumers {
        k.wait_line("ready", Duration::from_secs(30))?;
    }
    let millis = (secs * 1000).to_string();
    let producers: Vec<Kid> = (0..3).map(|id| spawn("soak_produce", &[&g.name, &id.to_string(), &millis])).collect();
    let (mut published, mut overruns) = (0u64, 0u64);
    for p in producers {
        let (code, lines) = finish(p, Duration::from_secs(secs + 120))?;
        ensure(code == 0, format!("producer failed: {lines:?}"))?;
        let line = lines.last().cloned().unwrap_or_default();
        let field = |k: &str| line.split(' ').find_map(|kv| kv.strip_prefix(k)).and_then(|v| v.parse::<u64>().ok());
        published += field("records=").ok_or("no count")?;
        overruns += field("overrun=").ok_or("no overrun count")?;
    }
    let end = q.initial_reading_index();
    mailbox.store(end + 1, Ordering::Release);
    let per_lap = u64::from(SOAK_CAP / SOAK_K);
    let (mut steal_sum, mut steal_loss, mut total_loss, mut total_over) = (0u64, 0u64, 0u64, 0u64);
    let mut reports = Vec::new();
    for (k, steals) in consumers {
        let (code, lines) = finish(k, Duration::from_secs(secs * 4 + 180))?;
        ensure(code == 0, format!("consumer failed: {lines:?}"))?;
        let line = lines.last().cloned().unwrap_or_default();
        let field = |k: &str| -> u64 {
            line.split(' ').find_map(|kv| kv.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap_or(u64::MAX)
        };
        let (acc, over, loss) = (field("accepted="), field("overwritten="), field("loss="));
        ensure(field("corrupt=") == 0, format!("corrupt records: {lines:?}"))?;
        // Any damage other than the documented stale-writer window (counted
        // as stale= by the consumer, see DESIGN.md "Failure modes") fails.
        ensure(field("bad=") == 0, format!("bad records: {lines:?}"))?;
        total_stale += field("stale=");
        ensure(loss % u64::from(SOAK_CAP) == 0, format!("loss is not whole laps: {line}"))?;
        total_loss += loss;
        total_over += over;
        if steals {
            steal_sum += acc + over;
            steal_loss += loss;
        } else {
            ensure(acc > 0, format!("a broadcast consumer accepted nothing: {line}"))?;
            let accounted = acc + over + loss / u64::from(SOAK_CAP) * per_lap;
            ensure(accounted == published, format!("broadcast: {accounted} accounted of {published}: {line}"))?;
        }
        reports.push(line);
    }
    let accounted = steal_sum + steal_loss / u64::from(SOAK_CAP) * per_lap;
    ensure(accounted == published, format!("work stealing: {accounted} accounted of {published}: {reports:?}"))?;
    let mut claimed = BTreeSet::new();
    for out in &outs {
        for w in std::fs::read(out)?.chunks(8) {
            let index = u64::from_le_bytes(w.try_into()?);
            ensure(claimed.insert(index), format!("record {index} claimed twice"))?;
        }
    }
    ensure(claimed.len() as u64 == steal_sum, "claimed indices match the counts")?;
    ensure(total_loss + total_over > 0, format!("the queue was never lapped: {reports:?}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "soak: {published} records in {secs}s (end index {end}), {overruns} dropped by lapped producers; \
         consumers {reports:?}"
    );
    if total_stale > 0 {
        eprintln!(
            "soak: {total_stale} accepted records held a whole older-lap record (the documented stale-writer window)"
        );
    }
    Ok(())
}
