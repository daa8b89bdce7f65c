//! The soak: producer and consumer processes of both kinds on a small
//! ring for seconds, with checksummed records and lapping.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use libtest_mimic::{Failed, Trial};
use slick_queue::{ByteQueue, Error, Options, SharedCursor};
use testkit::ShmGuard;

use super::say;
use crate::{ensure, finish, spawn, Kid, ES};

pub(super) fn trials() -> Vec<Trial> {
    vec![Trial::test("soak_with_checksums_and_lapping", soak_with_checksums_and_lapping)]
}

/// The roles of this file; `None` when `role` is not one of them.
pub(super) fn run_role(role: &str, a: &[String]) -> Option<Result<(), Error>> {
    let arg = |i: usize| a.get(i).map(String::as_str).unwrap_or("");
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    Some(match role {
        "soak_produce" => soak_produce(arg(0), num(1), num(2)),
        "soak_consume" => soak_consume(arg(0), arg(1), arg(2), arg(3)),
        _ => return None,
    })
}

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
